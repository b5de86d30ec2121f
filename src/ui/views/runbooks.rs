//! The problem's runbooks: the compact block in the detail (one line per matching runbook with
//! its key, name, description and a destructive marker) and the chooser the `runbooks` key opens,
//! from which every matching runbook can be picked, a keyless one or one whose key a command takes.

use super::{fit, pad, text_width, App};
use crate::model::{Problem, Severity};
use crate::runbook::Runbook;
use crate::ui::keymap::Command;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

/// Runbooks listed in the detail before the rest are counted (`… and 2 more`).
pub const MAX_LISTED: usize = 3;
/// Widest the chooser gets, in cells.
const MAX_WIDTH: u16 = 78;
/// The destructive marker: a symbol and a word, so it reads without colour.
const DESTRUCTIVE: &str = "⚠ DESTRUCTIVE";

/// The first key of a command, as the user bound it.
fn first_key(app: &App, command: Command) -> String {
    app.keymap.binding(command).and_then(|b| b.keys.first()).map_or_else(|| "(unbound)".to_string(), |k| k.to_string())
}

/// One runbook on one line of `width` cells: key, name, description, marker. `name_w` aligns
/// the names of a list.
fn row(app: &App, rb: &Runbook, name_w: usize, width: usize, lead: &str) -> Line<'static> {
    let theme = &app.theme;
    let (key, taken) = match (rb.key, app.key_taken_by(rb)) {
        (Some(k), None) => (k.to_string(), None),
        (Some(k), Some(command)) => ("·".to_string(), Some(format!("key {k} is `{}`'s", command.name()))),
        (None, _) => ("·".to_string(), None),
    };
    let destructive = app.opts.runbooks.0.is_destructive(&rb.name);
    let mut spans = vec![
        Span::raw(lead.to_string()),
        Span::styled(key, theme.ui.help_key),
        Span::raw("  "),
        Span::styled(pad(&rb.name, name_w), Style::new().add_modifier(Modifier::BOLD)),
    ];
    let used = text_width(lead) + 1 + 2 + name_w;
    let marker = if destructive { format!("  {DESTRUCTIVE}") } else { String::new() };
    let note = taken.map_or_else(String::new, |t| format!("  ({t})"));
    let room = width.saturating_sub(used + text_width(&marker) + text_width(&note) + 2);
    if !rb.description.is_empty() && room >= 8 {
        spans.push(Span::raw("  "));
        spans.push(Span::raw(fit(&rb.description, room)));
    }
    if !note.is_empty() {
        spans.push(Span::styled(note, theme.ui.muted));
    }
    if destructive {
        spans.push(Span::styled(marker, theme.severity(Severity::Major)));
    }
    Line::from(spans)
}

/// Width of the name column for `runbooks`, capped so descriptions keep some room.
fn name_width(runbooks: &[&Runbook]) -> usize {
    runbooks.iter().map(|rb| text_width(&rb.name)).max().unwrap_or(0).min(24)
}

/// The detail's RUNBOOKS block for `problem` at `width` cells; empty when none matches.
pub fn lines(app: &App, problem: &Problem, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let matching = app.matching_runbooks(problem);
    if matching.is_empty() {
        return Vec::new();
    }
    let n = matching.len();
    let mut note = format!("  {n} for this problem · {} choose", first_key(app, Command::Runbooks));
    if app.opts.readonly {
        note.push_str(" · read-only: plans only");
    }
    let mut out = vec![Line::from(vec![
        Span::styled("RUNBOOKS", theme.ui.section),
        Span::styled(fit(&note, width.saturating_sub(8)), theme.ui.muted),
    ])];
    let name_w = name_width(&matching);
    for rb in matching.iter().take(MAX_LISTED) {
        out.push(row(app, rb, name_w, width, "  "));
    }
    if n > MAX_LISTED {
        let text = format!("  … and {} more: {} lists them all", n - MAX_LISTED, first_key(app, Command::Runbooks));
        out.push(Line::styled(text, theme.ui.muted));
    }
    out
}

/// Draws the chooser centred in `area`: the matching runbooks, the selected one marked `›`.
pub fn render_chooser(app: &App, frame: &mut Frame, area: Rect) {
    let Some(chooser) = &app.chooser else { return };
    let width = area.width.saturating_sub(2).min(MAX_WIDTH);
    if width < 12 || area.height < 5 {
        return;
    }
    let theme = &app.theme;
    let set = &app.opts.runbooks.0;
    let runbooks: Vec<&Runbook> = chooser.runbooks.iter().filter_map(|n| set.get(n)).collect();
    let name_w = name_width(&runbooks);
    let inner = usize::from(width - 2);
    // Rows for the list: borders, a blank line and the keys line take four.
    let rows = usize::from(area.height.saturating_sub(4)).max(1);
    let top = chooser.selected.saturating_sub(rows - 1);
    let mut lines: Vec<Line> = Vec::new();
    for (i, rb) in runbooks.iter().enumerate().skip(top).take(rows) {
        let selected = i == chooser.selected;
        let mut line = row(app, rb, name_w, inner, if selected { "› " } else { "  " });
        if selected {
            line = line.style(theme.ui.selection);
        }
        lines.push(line);
    }
    lines.push(Line::default());
    let keys = format!(
        " key or {} runs its plan · {}/{} move · {} close",
        first_key(app, Command::Open),
        first_key(app, Command::Down),
        first_key(app, Command::Up),
        first_key(app, Command::Back)
    );
    lines.push(Line::styled(fit(&keys, inner), theme.ui.muted));
    let height = (lines.len() as u16).saturating_add(2).min(area.height);
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let title = format!(" runbooks for {} ", chooser.problem);
    let block = Block::bordered().title(title).border_style(theme.ui.help_border);
    super::clear_under(frame, area, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
