//! The bottom line: mode, data time, problem counts, source health, end of data, and the help key.

use super::{text_width, App};
use crate::ui::keymap::Command;
use crate::ui::SourceHealth;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// What kind of session this is, from the title's first word (`demo: …`, `replay: …`).
pub fn mode_label(title: &str) -> &'static str {
    let first = title.split([':', ' ']).next().unwrap_or("").to_ascii_lowercase();
    match first.as_str() {
        "demo" => "DEMO",
        "replay" => "REPLAY",
        _ => "LIVE",
    }
}

/// A source's health as symbol and word (and why, when it is not ok).
pub fn health_label(health: &SourceHealth) -> String {
    match health {
        SourceHealth::Ok => "✓ ok".to_string(),
        SourceHealth::Stale { reason } => format!("! stale: {reason}"),
        SourceHealth::Down { reason } => format!("✗ down: {reason}"),
    }
}

/// Draws the status line into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let sep = || Span::raw(" │ ");
    let mut left = vec![Span::styled(format!(" {} ", mode_label(&app.opts.title)), theme.ui.mode)];
    if app.opts.readonly {
        left.push(Span::raw(" "));
        left.push(Span::styled(" READONLY ", theme.ui.mode));
    }
    let as_of = if app.problems.last_seq == 0 { "--:--:--".to_string() } else { app.problems.as_of.clock() };
    left.push(Span::raw(format!(" data {as_of}")));
    let visible = app.visible();
    let open = visible.iter().filter(|p| p.is_open()).count();
    left.push(sep());
    left.push(Span::raw(format!("{open} open · {} resolved", visible.len() - open)));
    // Before the sources: when the line is cut, the end of the data matters more.
    if app.finished.is_some() {
        left.push(sep());
        left.push(Span::raw("■ finished"));
    } else if app.feed_closed {
        left.push(sep());
        left.push(Span::styled("✗ feed closed", theme.health.down));
    }
    for (i, (name, health)) in app.sources.iter().enumerate() {
        left.push(if i == 0 { sep() } else { Span::raw(" · ") });
        left.push(Span::raw(format!("{name} ")));
        left.push(Span::styled(health_label(health), theme.health(health)));
    }

    let help_key = app.keymap.binding(Command::Help).and_then(|b| b.keys.first()).map(|k| k.to_string());
    let right = help_key.map(|k| format!(" {k} help ")).unwrap_or_default();
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(text_width(&right) as u16)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(cut(left, usize::from(left_area.width)))).style(theme.ui.status_bar),
        left_area,
    );
    frame.render_widget(Paragraph::new(right).style(theme.ui.status_bar), right_area);
}

/// The spans cut to `width` cells, the last one ending in `…` when something was left out.
fn cut(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = span.width();
        if used + w <= width {
            used += w;
            out.push(span);
            continue;
        }
        let room = width.saturating_sub(used);
        if room > 0 {
            out.push(Span::styled(super::fit(&span.content, room), span.style));
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_comes_from_the_title() {
        assert_eq!(mode_label("demo: db-cpu-saturation"), "DEMO");
        assert_eq!(mode_label("replay: incident.bundle"), "REPLAY");
        assert_eq!(mode_label("prod-eu-1"), "LIVE");
    }

    #[test]
    fn cut_marks_what_was_left_out() {
        let spans = vec![Span::raw("abc "), Span::raw("defgh")];
        let text: String = cut(spans, 6).iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "abc d…");
    }
}
