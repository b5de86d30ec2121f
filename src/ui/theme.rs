//! Colours and styles. Three themes are built in (`dark`, the default, `light` and
//! `high-contrast`, from `themes/`); `--theme` or `[ui] theme` picks one by name, by path, or from
//! `themes/NAME.toml` in the user's config directory, and the user's `theme.toml` is laid over
//! whichever was chosen. Styles are resolved for what the terminal can show: true colour,
//! xterm-256, the 16 ANSI colours, or no colour under NO_COLOR.
//!
//! A theme file that cannot be used never stops the UI: [`Theme::load_or_fallback`] drops the bad
//! file, keeps the others, and returns what was wrong so it can be shown and logged.

use super::settings::{self, Layer, SettingsError};
use super::SourceHealth;
use crate::model::{ProblemStatus, Severity};
use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The built-in default theme (`dark`).
pub const BUILTIN_THEME: &str = include_str!("../../themes/dark.toml");
const BUILTIN_NAME: &str = "themes/dark.toml (built in)";
/// The theme used when none is chosen.
pub const DEFAULT_THEME: &str = "dark";
/// The built-in themes by name, the default first.
pub const BUILTIN_THEMES: [(&str, &str); 3] = [
    (DEFAULT_THEME, BUILTIN_THEME),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];
/// Earlier name of `dark`, still accepted.
const DEFAULT_ALIAS: &str = "default";

/// What the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    /// 24-bit colour: `#rrggbb` as it is.
    TrueColor,
    /// xterm-256: `#rrggbb` becomes the nearest palette index.
    Indexed256,
    /// The 16 ANSI colours (the Linux console, vt100, plain `xterm`/`screen`): `#rrggbb` becomes
    /// the nearest of them by hue and lightness, see [`ansi16`].
    Ansi16,
    /// NO_COLOR: no foreground or background colours at all, modifiers only.
    NoColor,
}

impl ColorMode {
    /// The decision from the values of `NO_COLOR` and `COLORTERM` (`None` when unset), when
    /// nothing is known of `TERM`. NO_COLOR counts only when non-empty, as <https://no-color.org>
    /// says.
    pub fn from_env(no_color: Option<&str>, colorterm: Option<&str>) -> ColorMode {
        ColorMode::from_terminal(no_color, colorterm, None)
    }

    /// The decision from `NO_COLOR`, `COLORTERM` and `TERM`, as terminal programs make it:
    /// NO_COLOR wins; COLORTERM `truecolor`/`24bit` (or a `-direct` TERM) means true colour; a TERM
    /// naming `256color` means xterm-256; `dumb` means none; any other TERM (`linux`, `vt100`,
    /// `xterm`, `screen`...) promises only the 16 ANSI colours. An unset TERM says nothing, and
    /// xterm-256 is what nearly every terminal emulator shows.
    pub fn from_terminal(no_color: Option<&str>, colorterm: Option<&str>, term: Option<&str>) -> ColorMode {
        if no_color.is_some_and(|v| !v.is_empty()) {
            return ColorMode::NoColor;
        }
        if let Some(v) = colorterm.map(|v| v.trim().to_ascii_lowercase()) {
            if v == "truecolor" || v == "24bit" {
                return ColorMode::TrueColor;
            }
        }
        match term.map(|t| t.trim().to_ascii_lowercase()) {
            None => ColorMode::Indexed256,
            Some(t) if t.is_empty() => ColorMode::Indexed256,
            Some(t) if t == "dumb" => ColorMode::NoColor,
            Some(t) if t.ends_with("-direct") => ColorMode::TrueColor,
            Some(t) if t.contains("256color") => ColorMode::Indexed256,
            Some(_) => ColorMode::Ansi16,
        }
    }

    /// The decision for this process's environment.
    pub fn detect() -> ColorMode {
        let var = |name: &str| std::env::var(name).ok();
        ColorMode::from_terminal(var("NO_COLOR").as_deref(), var("COLORTERM").as_deref(), var("TERM").as_deref())
    }

    /// The names `--colors` takes, in the order of [`ColorMode::name`].
    pub const NAMES: [&'static str; 4] = ["truecolor", "256", "16", "none"];

    /// The mode's name as `--colors` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ColorMode::TrueColor => "truecolor",
            ColorMode::Indexed256 => "256",
            ColorMode::Ansi16 => "16",
            ColorMode::NoColor => "none",
        }
    }

    fn color(self, color: Color) -> Option<Color> {
        match (self, color) {
            (ColorMode::NoColor, _) => None,
            (ColorMode::Indexed256, Color::Rgb(r, g, b)) => Some(Color::Indexed(xterm256(r, g, b))),
            (ColorMode::Ansi16, Color::Rgb(r, g, b)) => Some(ansi16(r, g, b)),
            (ColorMode::Ansi16, Color::Indexed(i)) => Some(indexed_to_ansi16(i)),
            (_, c) => Some(c),
        }
    }
}

impl FromStr for ColorMode {
    type Err = String;

    /// `truecolor` (or `24bit`), `256`, `16`, `none`.
    fn from_str(text: &str) -> Result<ColorMode, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "truecolor" | "24bit" => Ok(ColorMode::TrueColor),
            "256" => Ok(ColorMode::Indexed256),
            "16" => Ok(ColorMode::Ansi16),
            "none" => Ok(ColorMode::NoColor),
            _ => Err(format!("`{text}` is not a colour mode: use one of {}", ColorMode::NAMES.join(", "))),
        }
    }
}

/// A theme asked for by name or path, and where the request came from (`--theme`, or the
/// config file's `[ui] theme`), to name in errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeChoice {
    /// A theme name or a path to a `.toml` file.
    pub name: String,
    /// Where the name was given: `--theme`, or the config file's path.
    pub origin: String,
    /// The key that gave it in `origin` (`ui.theme`); empty for a flag.
    pub key: String,
}

/// Where a theme name leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeSource {
    /// One of [`BUILTIN_THEMES`], by its canonical name.
    Builtin(&'static str),
    /// A theme file: a path given as the name, or `themes/NAME.toml` in the config directory.
    File(PathBuf),
}

/// Resolves a theme name: a path when it ends in `.toml` or holds a `/`; else the user's
/// `themes/NAME.toml` in `config_dir` (so a user can restyle a built-in name); else a built-in
/// theme (`default` is `dark`). The error lists every name there is.
pub fn find_theme(name: &str, config_dir: Option<&Path>) -> Result<ThemeSource, String> {
    let name = name.trim();
    if name.ends_with(".toml") || name.contains('/') {
        let path = PathBuf::from(name);
        return if path.is_file() {
            Ok(ThemeSource::File(path))
        } else {
            Err(format!("theme file `{name}` does not exist"))
        };
    }
    let user_dir = config_dir.map(|d| d.join("themes"));
    if let Some(path) = user_dir.as_ref().map(|d| d.join(format!("{name}.toml"))).filter(|p| p.is_file()) {
        return Ok(ThemeSource::File(path));
    }
    let canonical = if name == DEFAULT_ALIAS { DEFAULT_THEME } else { name };
    if let Some((builtin, _)) = BUILTIN_THEMES.iter().find(|(n, _)| *n == canonical) {
        return Ok(ThemeSource::Builtin(builtin));
    }
    let mut names: Vec<String> = BUILTIN_THEMES.iter().map(|(n, _)| n.to_string()).collect();
    names[0].push_str(" (the default)");
    if let Some(dir) = &user_dir {
        let mut own = user_themes(dir);
        if !own.is_empty() {
            own.sort();
            names.push(format!("from {}: {}", dir.display(), own.join(", ")));
        }
    }
    Err(format!("unknown theme `{name}`; the themes are {}, or give a path to a .toml file", names.join(", ")))
}

/// The names of the `*.toml` files in the user's themes directory.
fn user_themes(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
        .collect()
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

/// The nearest of the 16 ANSI colours to an RGB colour. Nearest by hue and lightness rather than
/// RGB distance, which sends pastel colours to grey and loses their meaning: greys (little
/// chroma) become black, dark grey, grey or white by lightness; other colours take the ANSI hue
/// of their sector, bright when light. Orange has no ANSI colour and becomes (dark) yellow, the
/// brown of the VGA palette, so it stays apart from both red and a bright yellow.
pub fn ansi16(r: u8, g: u8, b: u8) -> Color {
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let chroma = max - min;
    let lightness = (u16::from(max) + u16::from(min)) / 2;
    if chroma < 0x30 {
        return match lightness {
            0..0x40 => Color::Black,
            0x40..0x9c => Color::DarkGray,
            0x9c..0xd8 => Color::Gray,
            _ => Color::White,
        };
    }
    let bright = max >= 0xf0 || lightness >= 0x90;
    let pick = |normal: Color, light: Color| if bright { light } else { normal };
    match hue(r, g, b) {
        h if !(20.0..330.0).contains(&h) => pick(Color::Red, Color::LightRed),
        h if h < 45.0 => Color::Yellow,
        h if h < 75.0 => pick(Color::Yellow, Color::LightYellow),
        h if h < 160.0 => pick(Color::Green, Color::LightGreen),
        h if h < 200.0 => pick(Color::Cyan, Color::LightCyan),
        h if h < 270.0 => pick(Color::Blue, Color::LightBlue),
        _ => pick(Color::Magenta, Color::LightMagenta),
    }
}

/// The hue of an RGB colour in degrees, 0 to 360 (0 for greys).
fn hue(r: u8, g: u8, b: u8) -> f32 {
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let chroma = max - min;
    if chroma == 0.0 {
        return 0.0;
    }
    let h = if max == r {
        ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        (b - r) / chroma + 2.0
    } else {
        (r - g) / chroma + 4.0
    };
    h * 60.0
}

/// An xterm-256 index in 16 colours: 0..=15 are the ANSI colours themselves; the cube and the
/// grey ramp go through their RGB values.
fn indexed_to_ansi16(index: u8) -> Color {
    const ANSI: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match index {
        0..=15 => ANSI[usize::from(index)],
        16..=231 => {
            let i = index - 16;
            ansi16(LEVELS[usize::from(i / 36)], LEVELS[usize::from(i / 6 % 6)], LEVELS[usize::from(i % 6)])
        }
        _ => {
            let grey = 8 + 10 * (index - 232);
            ansi16(grey, grey, grey)
        }
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
    /// The built-in default theme (themes/dark.toml, checked by a unit test).
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

    /// The chosen theme (the default when `None`) with the user's `theme.toml` from `config_dir`
    /// laid over it, every file checked: the errors of all the files that cannot be used.
    /// For `faultline config check`.
    pub fn load_choice(
        choice: Option<&ThemeChoice>,
        config_dir: Option<&Path>,
        mode: ColorMode,
    ) -> Result<Theme, Vec<SettingsError>> {
        let (theme, problems) = Theme::load_or_fallback(choice, config_dir, mode);
        if problems.is_empty() {
            Ok(theme)
        } else {
            Err(problems)
        }
    }

    /// As [`Theme::load_choice`], but a file that cannot be used is left out (an unknown or bad
    /// chosen theme falls back to the default, a bad `theme.toml` to the chosen theme as it is)
    /// and what was wrong is returned beside the theme: the UI always starts.
    pub fn load_or_fallback(
        choice: Option<&ThemeChoice>,
        config_dir: Option<&Path>,
        mode: ColorMode,
    ) -> (Theme, Vec<SettingsError>) {
        let mut problems = Vec::new();
        let mut over = Vec::new();
        if let Some(choice) = choice {
            match chosen_layer(choice, config_dir) {
                Ok(layer) => over.extend(layer),
                Err(e) => problems.push(e),
            }
        }
        if let Some(dir) = config_dir {
            match Layer::read(&dir.join("theme.toml")) {
                Ok(layer) => over.extend(layer),
                Err(e) => problems.push(e),
            }
        }
        loop {
            let base = Layer::text(BUILTIN_THEME, BUILTIN_NAME);
            match settings::layered(base, over.clone()).and_then(|layered| Theme::build(&layered, mode)) {
                Ok(theme) => return (theme, problems),
                Err(e) => {
                    // Leave out the file the error blames and try again with the others.
                    let blamed = over.iter().position(|l| l.name == e.file);
                    problems.push(e);
                    match blamed {
                        Some(i) => {
                            over.remove(i);
                        }
                        None => return (Theme::plain(mode), problems),
                    }
                }
            }
        }
    }

    fn build(layered: &settings::Layered, mode: ColorMode) -> Result<Theme, SettingsError> {
        let file: ThemeFile = settings::deserialize(layered)?;
        let style = |section: &str, name: &str, spec: &StyleSpec| {
            resolve(spec, mode).map_err(|(field, message)| layered.error(format!("{section}.{name}.{field}"), message))
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

/// The layer a theme choice adds over the default: none for the default itself.
fn chosen_layer(choice: &ThemeChoice, config_dir: Option<&Path>) -> Result<Option<Layer>, SettingsError> {
    let wrong =
        |message: String| SettingsError { file: choice.origin.clone(), line: None, key: choice.key.clone(), message };
    match find_theme(&choice.name, config_dir).map_err(wrong)? {
        ThemeSource::Builtin(name) if name == DEFAULT_THEME => Ok(None),
        ThemeSource::Builtin(name) => {
            let text = BUILTIN_THEMES.iter().find(|(n, _)| *n == name).map_or(BUILTIN_THEME, |(_, t)| t);
            Ok(Some(Layer::text(text, &format!("themes/{name}.toml (built in)"))))
        }
        ThemeSource::File(path) => match Layer::read(&path)? {
            Some(layer) => Ok(Some(layer)),
            None => Err(wrong(format!("theme file `{}` does not exist", path.display()))),
        },
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

    const MODES: [ColorMode; 4] = [ColorMode::TrueColor, ColorMode::Indexed256, ColorMode::Ansi16, ColorMode::NoColor];

    fn choice(name: &str) -> ThemeChoice {
        ThemeChoice { name: name.to_string(), origin: "--theme".to_string(), key: String::new() }
    }

    #[test]
    fn colour_mode_follows_term_as_terminals_do() {
        let term = |t: &str| ColorMode::from_terminal(None, None, Some(t));
        assert_eq!(term("xterm-256color"), ColorMode::Indexed256);
        assert_eq!(term("screen-256color"), ColorMode::Indexed256);
        assert_eq!(term("tmux-256color"), ColorMode::Indexed256);
        assert_eq!(term("xterm-direct"), ColorMode::TrueColor);
        for t in ["linux", "vt100", "xterm", "screen", "rxvt", "ansi", "xterm-color"] {
            assert_eq!(term(t), ColorMode::Ansi16, "TERM={t}");
        }
        assert_eq!(term("dumb"), ColorMode::NoColor);
        assert_eq!(term(""), ColorMode::Indexed256);
        // COLORTERM outranks TERM (tmux and ssh keep TERM=screen), NO_COLOR outranks both.
        assert_eq!(ColorMode::from_terminal(None, Some("truecolor"), Some("screen")), ColorMode::TrueColor);
        assert_eq!(ColorMode::from_terminal(Some("1"), Some("truecolor"), Some("xterm-direct")), ColorMode::NoColor);
    }

    #[test]
    fn colour_mode_names_round_trip() {
        for mode in MODES {
            assert_eq!(mode.name().parse::<ColorMode>(), Ok(mode));
        }
        assert_eq!("24bit".parse::<ColorMode>(), Ok(ColorMode::TrueColor));
        let err = "88".parse::<ColorMode>().unwrap_err();
        assert!(err.contains("`88`") && err.contains("truecolor, 256, 16, none"), "{err}");
    }

    #[test]
    fn rgb_maps_to_the_ansi_colour_of_its_hue() {
        assert_eq!(ansi16(0xff, 0x5f, 0x5f), Color::LightRed);
        assert_eq!(ansi16(0xd7, 0x00, 0x00), Color::Red);
        assert_eq!(ansi16(0xff, 0x87, 0x00), Color::Yellow, "orange is the (brown) dark yellow");
        assert_eq!(ansi16(0xff, 0xd7, 0x5f), Color::LightYellow);
        assert_eq!(ansi16(0x5f, 0xd7, 0x5f), Color::LightGreen);
        assert_eq!(ansi16(0x00, 0x87, 0x00), Color::Green);
        assert_eq!(ansi16(0x00, 0xff, 0xff), Color::LightCyan);
        assert_eq!(ansi16(0x00, 0x5f, 0xd7), Color::Blue);
        assert_eq!(ansi16(0x5f, 0xaf, 0xff), Color::LightBlue);
        assert_eq!(ansi16(0x5f, 0x00, 0xaf), Color::Magenta);
        assert_eq!(ansi16(0xff, 0x87, 0xff), Color::LightMagenta);
        // Greys by lightness.
        assert_eq!(ansi16(0x26, 0x26, 0x26), Color::Black);
        assert_eq!(ansi16(0x8a, 0x8a, 0x8a), Color::DarkGray);
        assert_eq!(ansi16(0xd0, 0xd0, 0xd0), Color::Gray);
        assert_eq!(ansi16(0xe4, 0xe4, 0xe4), Color::White);
        // xterm-256 indexes go through their RGB values; 0..=15 are the ANSI colours already.
        assert_eq!(indexed_to_ansi16(9), Color::LightRed);
        assert_eq!(indexed_to_ansi16(203), Color::LightRed);
        assert_eq!(indexed_to_ansi16(235), Color::Black);
        let theme = Theme::from_toml(Some(("[ui]\nentity = { fg = \"75\" }\n", "t.toml")), ColorMode::Ansi16).unwrap();
        assert_eq!(theme.ui.entity.fg, Some(Color::LightBlue));
    }

    /// In 16 colours every built-in theme keeps its severities apart (by colour or modifier), the
    /// selection visible, and text readable on its own background.
    #[test]
    fn builtin_themes_stay_distinguishable_in_16_colours() {
        for (name, _) in BUILTIN_THEMES {
            let theme = Theme::load_choice(Some(&choice(name)), None, ColorMode::Ansi16).unwrap();
            let s = &theme.severity;
            let severities = [s.critical, s.major, s.warning, s.info];
            for (i, a) in severities.iter().enumerate() {
                for b in &severities[i + 1..] {
                    assert_ne!(a, b, "theme {name}: two severities look the same in 16 colours");
                }
                assert!(a.fg.is_some(), "theme {name}: a severity without colour");
            }
            let selection = theme.ui.selection;
            assert!(
                selection.add_modifier.contains(Modifier::REVERSED) || selection.bg.is_some(),
                "theme {name}: the selection does not stand out"
            );
            let u = &theme.ui;
            for (entry, style) in
                [("title", u.title), ("status_bar", u.status_bar), ("mode", u.mode), ("notice", u.notice)]
            {
                if let (Some(fg), Some(bg)) = (style.fg, style.bg) {
                    assert_ne!(fg, bg, "theme {name}: ui.{entry} text on its own colour");
                }
            }
            for style in severities.iter().chain([&u.title, &u.status_bar, &u.selection]) {
                for c in [style.fg, style.bg].into_iter().flatten() {
                    assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(_)), "theme {name}: {c:?} in 16 colours");
                }
            }
        }
    }

    #[test]
    fn theme_names_resolve() {
        assert_eq!(find_theme("dark", None), Ok(ThemeSource::Builtin("dark")));
        assert_eq!(find_theme("default", None), Ok(ThemeSource::Builtin("dark")));
        assert_eq!(find_theme("light", None), Ok(ThemeSource::Builtin("light")));
        assert_eq!(find_theme(" high-contrast ", None), Ok(ThemeSource::Builtin("high-contrast")));
        let err = find_theme("solarized", None).unwrap_err();
        assert!(err.contains("unknown theme `solarized`"), "{err}");
        assert!(err.contains("dark (the default), light, high-contrast"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        let mine = dir.path().join("themes/solarized.toml");
        std::fs::write(&mine, "[ui]\nentity = { fg = \"cyan\" }\n").unwrap();
        // The user's themes directory: its own names, and it may restyle a built-in name.
        assert_eq!(find_theme("solarized", Some(dir.path())), Ok(ThemeSource::File(mine.clone())));
        let light = dir.path().join("themes/light.toml");
        std::fs::write(&light, "").unwrap();
        assert_eq!(find_theme("light", Some(dir.path())), Ok(ThemeSource::File(light)));
        let err = find_theme("nord", Some(dir.path())).unwrap_err();
        assert!(err.contains(": light, solarized"), "the user's themes are listed: {err}");
        // A path, as it is.
        let path = mine.display().to_string();
        assert_eq!(find_theme(&path, None), Ok(ThemeSource::File(mine)));
        let err = find_theme("/nowhere/x.toml", None).unwrap_err();
        assert!(err.contains("`/nowhere/x.toml` does not exist"), "{err}");
    }

    #[test]
    fn chosen_theme_then_the_users_theme_toml() {
        let dir = tempfile::tempdir().unwrap();
        let light = Theme::load_choice(Some(&choice("light")), Some(dir.path()), ColorMode::TrueColor).unwrap();
        assert_eq!(light.ui.status_bar.bg, Some(Color::Rgb(0xe4, 0xe4, 0xe4)));
        assert_ne!(light, Theme::builtin(ColorMode::TrueColor));
        let dark = Theme::load_choice(Some(&choice("default")), Some(dir.path()), ColorMode::TrueColor).unwrap();
        assert_eq!(dark, Theme::builtin(ColorMode::TrueColor));
        assert_eq!(Theme::load_choice(None, None, ColorMode::TrueColor).unwrap(), dark);

        std::fs::write(dir.path().join("theme.toml"), "[severity]\ninfo = { fg = \"magenta\" }\n").unwrap();
        let theme = Theme::load_choice(Some(&choice("light")), Some(dir.path()), ColorMode::TrueColor).unwrap();
        assert_eq!(theme.severity.info.fg, Some(Color::Magenta));
        assert_eq!(theme.ui.status_bar, light.ui.status_bar);

        // A sparse theme file is laid over the default.
        let sparse = dir.path().join("sparse.toml");
        std::fs::write(&sparse, "[ui]\nmuted = { fg = \"gray\" }\n").unwrap();
        let theme =
            Theme::load_choice(Some(&choice(&sparse.display().to_string())), None, ColorMode::TrueColor).unwrap();
        assert_eq!(theme.ui.muted.fg, Some(Color::Gray));
        assert_eq!(theme.ui.status_bar, dark.ui.status_bar);
    }

    #[test]
    fn a_bad_file_is_left_out_and_the_others_still_apply() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("theme.toml");
        std::fs::write(&user, "[severity]\ninfo = { fg = \"magenta\" }\n\n[ui]\ntitle = { fg = \"#12345\" }\n")
            .unwrap();
        let light = Theme::load_choice(Some(&choice("light")), None, ColorMode::TrueColor).unwrap();
        let (theme, problems) = Theme::load_or_fallback(Some(&choice("light")), Some(dir.path()), ColorMode::TrueColor);
        assert_eq!(theme, light, "the bad theme.toml is left out whole, the chosen theme stays");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].file, user.display().to_string());
        assert_eq!((problems[0].line, problems[0].key.as_str()), (Some(5), "ui.title.fg"));
        assert!(Theme::load_choice(Some(&choice("light")), Some(dir.path()), ColorMode::TrueColor).is_err());

        // An unknown theme name falls back to the default; a good theme.toml still applies.
        std::fs::write(&user, "[severity]\ninfo = { fg = \"magenta\" }\n").unwrap();
        let (theme, problems) = Theme::load_or_fallback(Some(&choice("sepia")), Some(dir.path()), ColorMode::TrueColor);
        assert_eq!(theme.severity.info.fg, Some(Color::Magenta));
        assert_eq!(theme.ui.status_bar, Theme::builtin(ColorMode::TrueColor).ui.status_bar);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().starts_with("--theme: unknown theme `sepia`"), "{}", problems[0]);

        // A bad chosen theme file and a bad theme.toml: both named, the default drawn.
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[ui]\ntitle = { fg = \"red\", blink = true }\n").unwrap();
        std::fs::write(&user, "[health\n").unwrap();
        let (theme, problems) =
            Theme::load_or_fallback(Some(&choice(&bad.display().to_string())), Some(dir.path()), ColorMode::NoColor);
        assert_eq!(theme, Theme::builtin(ColorMode::NoColor));
        let files: Vec<_> = problems.iter().map(|p| (p.file.clone(), p.line, p.key.clone())).collect();
        assert_eq!(
            files,
            [
                (user.display().to_string(), Some(1), String::new()),
                (bad.display().to_string(), Some(2), "ui.title.blink".into())
            ]
        );
    }

    #[test]
    fn builtin_theme_resolves_in_every_mode() {
        for mode in MODES {
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
        assert_eq!(err.line, Some(2));
        let err = Theme::from_toml(Some(("[ui.entity]\nfgg = \"red\"\n", "t.toml")), ColorMode::TrueColor).unwrap_err();
        assert_eq!((err.key.as_str(), err.line), ("ui.entity.fgg", Some(2)));
        assert!(err.message.contains("fgg"), "{err}");
        assert!(err.to_string().starts_with("t.toml:2: `ui.entity.fgg`: unknown field"), "{err}");
    }
}
