//! Colours and styles: `themes/default.toml` built in, overridable by the user's `theme.toml`, and
//! resolved for what the terminal can show (true colour, xterm-256, or no colour under NO_COLOR).

use super::settings::{self, SettingsError};
use super::SourceHealth;
use crate::model::{ProblemStatus, Severity};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;
use std::str::FromStr;

/// The built-in theme.
pub const BUILTIN_THEME: &str = include_str!("../../themes/default.toml");
const BUILTIN_NAME: &str = "themes/default.toml (built in)";

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// 24-bit colour: `#rrggbb` as it is.
    TrueColor,
    /// xterm-256: `#rrggbb` becomes the nearest palette index.
    Indexed256,
    /// NO_COLOR: no foreground or background colours at all, modifiers only.
    NoColor,
}

impl ColorMode {
    /// The decision from the values of `NO_COLOR` and `COLORTERM` (`None` when unset).
    /// NO_COLOR counts only when non-empty, as <https://no-color.org> says.
    pub fn from_env(no_color: Option<&str>, colorterm: Option<&str>) -> ColorMode {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorMode::NoColor;
        }
        match colorterm.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "truecolor" || v == "24bit" => ColorMode::TrueColor,
            _ => ColorMode::Indexed256,
        }
    }

    /// The decision for this process's environment.
    pub fn detect() -> ColorMode {
        let no_color = std::env::var("NO_COLOR").ok();
        let colorterm = std::env::var("COLORTERM").ok();
        ColorMode::from_env(no_color.as_deref(), colorterm.as_deref())
    }

    fn color(self, color: Color) -> Option<Color> {
        match (self, color) {
            (ColorMode::NoColor, _) => None,
            (ColorMode::Indexed256, Color::Rgb(r, g, b)) => Some(Color::Indexed(xterm256(r, g, b))),
            (_, c) => Some(c),
        }
    }
}

/// The xterm-256 palette index nearest to an RGB colour: the 6x6x6 cube (16..=231) or the grey
/// ramp (232..=255), whichever is closer in RGB distance. Indexes 0..=15 are left out because
/// terminals redefine them.
pub fn xterm256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let nearest_level =
        |v: u8| (0..LEVELS.len()).min_by_key(|&i| (i32::from(LEVELS[i]) - i32::from(v)).abs()).unwrap_or(0);
    let dist = |a: (u8, u8, u8)| {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2);
        d(a.0, r) + d(a.1, g) + d(a.2, b)
    };
    let (ri, gi, bi) = (nearest_level(r), nearest_level(g), nearest_level(b));
    let cube = (LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let cube_index = 16 + 36 * ri + 6 * gi + bi;
    // Grey ramp levels are 8, 18, ..., 238.
    let mean = (u32::from(r) + u32::from(g) + u32::from(b)) / 3;
    let grey_step = (mean.saturating_sub(3) / 10).min(23) as u8;
    let grey = 8 + 10 * grey_step;
    if dist((grey, grey, grey)) < dist(cube) {
        232 + grey_step
    } else {
        cube_index as u8
    }
}

/// One style as written in the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// Styles per severity.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityStyles<S> {
    pub critical: S,
    pub major: S,
    pub warning: S,
    pub info: S,
}

/// Styles per problem status.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusStyles<S> {
    pub open: S,
    pub resolved: S,
    pub merged: S,
}

/// Styles per source health.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthStyles<S> {
    pub ok: S,
    pub stale: S,
    pub down: S,
}

/// Styles of the UI's furniture.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameStyles<S> {
    pub title: S,
    pub header: S,
    pub selection: S,
    pub section: S,
    pub entity: S,
    pub muted: S,
    pub status_bar: S,
    pub mode: S,
    pub help_border: S,
    pub help_key: S,
    pub notice: S,
    pub silenced: S,
}

/// Styles of log lines by the level they declare (the log pane, the detail's LOGS block).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStyles<S> {
    /// Error and critical lines.
    pub error: S,
    pub warn: S,
    pub info: S,
    pub debug: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    severity: SeverityStyles<StyleSpec>,
    status: StatusStyles<StyleSpec>,
    health: HealthStyles<StyleSpec>,
    ui: FrameStyles<StyleSpec>,
    log: LogStyles<StyleSpec>,
}

/// The resolved theme: every style ready for ratatui in the terminal's colour mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub mode: ColorMode,
    pub severity: SeverityStyles<Style>,
    pub status: StatusStyles<Style>,
    pub health: HealthStyles<Style>,
    pub ui: FrameStyles<Style>,
    pub log: LogStyles<Style>,
}

impl Theme {
    /// The built-in theme (themes/default.toml, checked by a unit test).
    pub fn builtin(mode: ColorMode) -> Theme {
        match Theme::from_toml(None, mode) {
            Ok(theme) => theme,
            // Unreachable while the built-in file passes its test; plain text is still usable.
            Err(_) => Theme::plain(mode),
        }
    }

    /// The built-in theme with `user` laid over it: `(text, file name for errors)`.
    pub fn from_toml(user: Option<(&str, &str)>, mode: ColorMode) -> Result<Theme, SettingsError> {
        Theme::build(&settings::layered_text(BUILTIN_THEME, BUILTIN_NAME, user)?, mode)
    }

    /// The built-in theme with the user's file laid over it, if that file exists.
    pub fn load(user_file: Option<&Path>, mode: ColorMode) -> Result<Theme, SettingsError> {
        Theme::build(&settings::layered_file(BUILTIN_THEME, BUILTIN_NAME, user_file)?, mode)
    }

    fn build(layered: &settings::Layered, mode: ColorMode) -> Result<Theme, SettingsError> {
        let file: ThemeFile = settings::deserialize(layered)?;
        let style = |section: &str, name: &str, spec: &StyleSpec| {
            resolve(spec, mode).map_err(|(field, message)| SettingsError {
                file: layered.file.clone(),
                key: format!("{section}.{name}.{field}"),
                message,
            })
        };
        let s = &file.severity;
        let severity = SeverityStyles {
            critical: style("severity", "critical", &s.critical)?,
            major: style("severity", "major", &s.major)?,
            warning: style("severity", "warning", &s.warning)?,
            info: style("severity", "info", &s.info)?,
        };
        let s = &file.status;
        let status = StatusStyles {
            open: style("status", "open", &s.open)?,
            resolved: style("status", "resolved", &s.resolved)?,
            merged: style("status", "merged", &s.merged)?,
        };
        let s = &file.health;
        let health = HealthStyles {
            ok: style("health", "ok", &s.ok)?,
            stale: style("health", "stale", &s.stale)?,
            down: style("health", "down", &s.down)?,
        };
        let s = &file.ui;
        let ui = FrameStyles {
            title: style("ui", "title", &s.title)?,
            header: style("ui", "header", &s.header)?,
            selection: style("ui", "selection", &s.selection)?,
            section: style("ui", "section", &s.section)?,
            entity: style("ui", "entity", &s.entity)?,
            muted: style("ui", "muted", &s.muted)?,
            status_bar: style("ui", "status_bar", &s.status_bar)?,
            mode: style("ui", "mode", &s.mode)?,
            help_border: style("ui", "help_border", &s.help_border)?,
            help_key: style("ui", "help_key", &s.help_key)?,
            notice: style("ui", "notice", &s.notice)?,
            silenced: style("ui", "silenced", &s.silenced)?,
        };
        let s = &file.log;
        let log = LogStyles {
            error: style("log", "error", &s.error)?,
            warn: style("log", "warn", &s.warn)?,
            info: style("log", "info", &s.info)?,
            debug: style("log", "debug", &s.debug)?,
        };
        Ok(Theme { mode, severity, status, health, ui, log })
    }

    /// No styles but the ones that keep the selection and headings visible.
    fn plain(mode: ColorMode) -> Theme {
        let none = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            mode,
            severity: SeverityStyles { critical: bold, major: bold, warning: none, info: none },
            status: StatusStyles { open: bold, resolved: none, merged: none },
            health: HealthStyles { ok: none, stale: bold, down: bold },
            ui: FrameStyles {
                title: bold,
                header: bold,
                selection: Style::new().add_modifier(Modifier::REVERSED),
                section: bold,
                entity: none,
                muted: none,
                status_bar: none,
                mode: Style::new().add_modifier(Modifier::REVERSED),
                help_border: none,
                help_key: bold,
                notice: bold,
                silenced: none,
            },
            log: LogStyles { error: bold, warn: none, info: none, debug: none },
        }
    }

    /// The style of a severity.
    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Critical => self.severity.critical,
            Severity::Major => self.severity.major,
            Severity::Warning => self.severity.warning,
            Severity::Info => self.severity.info,
        }
    }

    /// The style of a problem status.
    pub fn status(&self, status: &ProblemStatus) -> Style {
        match status {
            ProblemStatus::Open => self.status.open,
            ProblemStatus::Resolved => self.status.resolved,
            ProblemStatus::Merged(_) => self.status.merged,
        }
    }

    /// The style of a source's health.
    pub fn health(&self, health: &SourceHealth) -> Style {
        match health {
            SourceHealth::Ok | SourceHealth::Noted { .. } => self.health.ok,
            SourceHealth::Stale { .. } => self.health.stale,
            SourceHealth::Down { .. } => self.health.down,
        }
    }
}

/// A style from its spec; the error names the field (`fg`, `bg`, `modifiers`) and what is wrong.
fn resolve(spec: &StyleSpec, mode: ColorMode) -> Result<Style, (&'static str, String)> {
    let mut style = Style::new();
    if let Some(fg) = &spec.fg {
        if let Some(c) = mode.color(parse_color(fg).map_err(|m| ("fg", m))?) {
            style = style.fg(c);
        }
    }
    if let Some(bg) = &spec.bg {
        if let Some(c) = mode.color(parse_color(bg).map_err(|m| ("bg", m))?) {
            style = style.bg(c);
        }
    }
    for name in &spec.modifiers {
        style = style.add_modifier(parse_modifier(name).map_err(|m| ("modifiers", m))?);
    }
    Ok(style)
}

/// `#rrggbb`, an ANSI colour name or an xterm-256 index.
fn parse_color(text: &str) -> Result<Color, String> {
    Color::from_str(text.trim()).map_err(|_| {
        format!("`{text}` is not a colour: use \"#rrggbb\", an ANSI name such as \"red\" or \"light_blue\", or 0..255")
    })
}

fn parse_modifier(text: &str) -> Result<Modifier, String> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" | "underline" => Modifier::UNDERLINED,
        "reversed" | "reverse" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        _ => {
            return Err(format!(
                "`{text}` is not a modifier: use bold, dim, italic, underlined, reversed or crossed_out"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_mode_follows_the_environment() {
        assert_eq!(ColorMode::from_env(Some("1"), Some("truecolor")), ColorMode::NoColor);
        assert_eq!(ColorMode::from_env(Some(""), Some("truecolor")), ColorMode::TrueColor);
        assert_eq!(ColorMode::from_env(None, Some("24bit")), ColorMode::TrueColor);
        assert_eq!(ColorMode::from_env(None, Some("TrueColor")), ColorMode::TrueColor);
        assert_eq!(ColorMode::from_env(None, None), ColorMode::Indexed256);
        assert_eq!(ColorMode::from_env(None, Some("yes")), ColorMode::Indexed256);
    }

    #[test]
    fn builtin_theme_resolves_in_every_mode() {
        for mode in [ColorMode::TrueColor, ColorMode::Indexed256, ColorMode::NoColor] {
            let theme = Theme::from_toml(None, mode).unwrap();
            assert_eq!(theme, Theme::builtin(mode));
        }
        let theme = Theme::builtin(ColorMode::TrueColor);
        assert_eq!(theme.severity.critical.fg, Some(Color::Rgb(0xff, 0x5f, 0x5f)));
        let theme = Theme::builtin(ColorMode::Indexed256);
        assert_eq!(theme.severity.critical.fg, Some(Color::Indexed(203)));
    }

    #[test]
    fn no_color_keeps_modifiers_only() {
        let theme = Theme::builtin(ColorMode::NoColor);
        assert_eq!(theme.ui.selection.fg, None);
        assert_eq!(theme.ui.title.bg, None);
        assert!(theme.ui.selection.add_modifier.contains(Modifier::REVERSED));
        assert!(theme.severity.critical.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn user_theme_overrides_one_entry() {
        let theme =
            Theme::from_toml(Some(("[severity]\ncritical = { fg = \"magenta\" }\n", "t.toml")), ColorMode::TrueColor)
                .unwrap();
        assert_eq!(theme.severity.critical.fg, Some(Color::Magenta));
        // The rest of the entry (bold) and of the file stay as built in.
        assert!(theme.severity.critical.add_modifier.contains(Modifier::BOLD));
        assert_eq!(theme.severity.info.fg, Some(Color::Rgb(0x5f, 0xaf, 0xff)));
    }

    #[test]
    fn bad_theme_entries_name_the_key() {
        let err = Theme::from_toml(Some(("[ui]\nentity = { fg = \"#12345\" }\n", "t.toml")), ColorMode::TrueColor)
            .unwrap_err();
        assert_eq!(err.key, "ui.entity.fg");
        assert!(err.to_string().contains("#12345"), "{err}");
        let err = Theme::from_toml(Some(("[ui.entity]\nfgg = \"red\"\n", "t.toml")), ColorMode::TrueColor).unwrap_err();
        assert!(err.key.starts_with("ui.entity"), "{err}");
        assert!(err.message.contains("fgg"), "{err}");
    }
}
