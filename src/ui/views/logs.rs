//! The full-screen log pane: the kept lines of a problem's entities from before its onset up to
//! the replay cursor, one per row (time, entity, line), coloured by the level the line declares;
//! search matches are drawn in the selection style and the current match is marked `▶`, so both
//! read without colour. The bottom row is the `/` search line or the keys' hint.

use super::{fit, pad, text_width, App};
use crate::model::{EntityId, LogLine, Severity};
use crate::ui::keymap::Command;
use crate::ui::logs::{find_ignoring_case, LogPane};
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The widest the entity column gets, in cells.
const ENTITY_MAX: usize = 24;

/// The style of a line by its level: `debug` when an info line declares debug or trace.
pub fn level_style(theme: &Theme, line: &LogLine) -> Style {
    match line.level {
        Severity::Critical | Severity::Major => theme.log.error,
        Severity::Warning => theme.log.warn,
        Severity::Info if declares_debug(&line.line) => theme.log.debug,
        Severity::Info => theme.log.info,
    }
}

/// Whether a line declares debug or trace level (the miner files those under info).
fn declares_debug(line: &str) -> bool {
    ["DEBUG", "TRACE", "level=debug", "level=trace", "[debug]", "[trace]"].iter().any(|w| line.contains(w))
}

/// The title line's part: `P-0003 · logs · lines 4-21 of 240 · 3 matches`.
pub fn title(app: &App, pane: &LogPane) -> String {
    let lines = app.log_pane_lines();
    let top = app.log_pane_top(&lines);
    let bottom = (top + app.log_pane_rows()).min(lines.len());
    let mut text =
        format!("{} · logs · lines {}-{bottom} of {}", pane.problem, (top + 1).min(lines.len()), lines.len());
    if !pane.query.is_empty() {
        let n = lines.iter().filter(|(_, l)| pane.matches(&l.line)).count();
        text.push_str(&format!(" · {n} match{}", if n == 1 { "" } else { "es" }));
    }
    text
}

/// Draws the pane into `area`.
pub fn render(app: &App, pane: &LogPane, frame: &mut Frame, area: Rect) {
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let lines = app.log_pane_lines();
    let width = usize::from(area.width).max(20);
    let entities: std::collections::BTreeSet<&EntityId> = lines.iter().map(|(e, _)| *e).collect();
    let head = format!(
        "  {} entit{} · from {} · up to the cursor",
        entities.len(),
        if entities.len() == 1 { "y" } else { "ies" },
        app.problems().problems.get(&pane.problem).map_or_else(String::new, |p| crate::ui::logs::span_start(p).clock())
    );
    let header_line = Line::from(vec![
        Span::styled("LOGS", app.theme.ui.section),
        Span::styled(fit(&head, width.saturating_sub(4)), app.theme.ui.muted),
    ]);
    frame.render_widget(Paragraph::new(header_line), header);

    if lines.is_empty() {
        let text = "  no kept line of these entities between onset and the cursor";
        frame.render_widget(Paragraph::new(Span::styled(text, app.theme.ui.muted)), body);
    } else {
        let top = app.log_pane_top(&lines);
        let rows = usize::from(body.height);
        let entity_w = entities.iter().map(|e| text_width(e.as_str())).max().unwrap_or(0).min(ENTITY_MAX);
        let shown: Vec<Line> = lines
            .iter()
            .enumerate()
            .skip(top)
            .take(rows)
            .map(|(i, (entity, line))| row(app, pane, i, entity, line, entity_w, width))
            .collect();
        frame.render_widget(Paragraph::new(shown), body);
    }
    frame.render_widget(Paragraph::new(footer_line(app, pane, width)), footer);
}

/// One line: marker, time, entity, then the text with its matches highlighted.
fn row(
    app: &App,
    pane: &LogPane,
    index: usize,
    entity: &EntityId,
    line: &LogLine,
    entity_w: usize,
    width: usize,
) -> Line<'static> {
    let marker = if pane.current == Some(index) { "▶" } else { " " };
    let lead = format!("{marker}{} {} ", line.at.clock(), pad(&fit(entity.as_str(), entity_w), entity_w));
    let room = width.saturating_sub(text_width(&lead));
    let text = fit(&line.line, room);
    let style = level_style(&app.theme, line);
    let mut spans = vec![Span::styled(lead, app.theme.ui.muted)];
    spans.extend(highlighted(&text, &pane.query, style, app.theme.ui.selection));
    Line::from(spans)
}

/// `text` in `style`, with every case-insensitive occurrence of `query` in `hit`.
pub fn highlighted(text: &str, query: &str, style: Style, hit: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(at) = find_ignoring_case(rest, query) {
        if at > 0 {
            spans.push(Span::styled(rest[..at].to_string(), style));
        }
        let end = at + query.len();
        spans.push(Span::styled(rest[at..end].to_string(), hit));
        rest = &rest[end..];
    }
    if !rest.is_empty() || spans.is_empty() {
        spans.push(Span::styled(rest.to_string(), style));
    }
    spans
}

/// The search line while typing, else the search and its match count, else the keys' hint.
fn footer_line(app: &App, pane: &LogPane, width: usize) -> Line<'static> {
    let key = |c| app.keymap.binding(c).and_then(|b| b.keys.first()).map(ToString::to_string).unwrap_or_default();
    if pane.editing {
        return Line::from(vec![Span::styled("/", app.theme.ui.help_key), Span::raw(format!("{}▏", pane.query))]);
    }
    let hint = if pane.query.is_empty() {
        format!(
            "{} search · {}/{} next/previous match · {} back",
            key(Command::Filter),
            key(Command::NextMatch),
            key(Command::PreviousMatch),
            key(Command::Back)
        )
    } else {
        format!(
            "/{} · {}/{} next/previous match · {} back",
            pane.query,
            key(Command::NextMatch),
            key(Command::PreviousMatch),
            key(Command::Back)
        )
    };
    Line::styled(fit(&hint, width), app.theme.ui.muted)
}
