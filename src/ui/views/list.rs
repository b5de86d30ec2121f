//! The problem list: one row per listed problem, in the chosen order (worst first by default),
//! narrowed by the `/` filter. Only the rows on screen are built: the order is kept as ids in
//! the App (see `ui::filter`), so a frame costs the same with 3 problems or 10,000.

use super::{fit, severity_label, silenced_label, status_label, text_width, thousands, App};
use crate::model::{Problem, ProblemId, ProblemSet};
use crate::ui::filter::{is_background, list_headline};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState};
use ratatui::Frame;

/// Marks the selected row in text as well as in style, so it shows without colour.
const SELECTION_MARK: &str = "› ";

/// A column of the list; the low-value ones go first when the terminal is narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Id,
    Status,
    Severity,
    Headline,
    Signals,
    Raw,
    Opened,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Id => "ID",
            Column::Status => "STATUS",
            Column::Severity => "SEVERITY",
            Column::Headline => "HEADLINE",
            Column::Signals => "SIG",
            Column::Raw => "RAW",
            Column::Opened => "OPENED",
        }
    }

    /// Fixed width in cells (`id` wide enough for the largest id); `None` for the headline,
    /// which takes what is left.
    fn width(self, id: u16) -> Option<u16> {
        match self {
            Column::Id => Some(id),
            Column::Status => Some(10),
            Column::Severity => Some(10),
            Column::Headline => None,
            Column::Signals => Some(4),
            Column::Raw => Some(7),
            Column::Opened => Some(8),
        }
    }

    fn right_aligned(self) -> bool {
        matches!(self, Column::Signals | Column::Raw)
    }
}

/// The columns that fit a width: raw counts go below 90 cells, the opening time below 72, the
/// signal count below 60; id, status, severity and headline always stay.
fn columns(width: u16) -> Vec<Column> {
    let mut columns = vec![Column::Id, Column::Status, Column::Severity, Column::Headline];
    if width >= 60 {
        columns.push(Column::Signals);
    }
    if width >= 90 {
        columns.push(Column::Raw);
    }
    if width >= 72 {
        columns.push(Column::Opened);
    }
    columns
}

fn cell_text(problem: &Problem, column: Column) -> String {
    match column {
        Column::Id => problem.id.to_string(),
        Column::Status => status_label(&problem.status),
        Column::Severity => severity_label(problem.severity).to_string(),
        Column::Headline => list_headline(problem).into_owned(),
        Column::Signals => problem.signals.len().to_string(),
        Column::Raw => thousands(problem.raw_count()),
        Column::Opened => problem.opened_at.clock(),
    }
}

fn aligned(text: String, column: Column) -> Line<'static> {
    let line = Line::from(text);
    if column.right_aligned() {
        line.right_aligned()
    } else {
        line
    }
}

/// Cells the id column needs: `P-0001` up to the largest id in the set, never cut (P-10000
/// must not read as P-1000).
fn id_width(set: &ProblemSet) -> u16 {
    let last = set.problems.keys().next_back().copied().unwrap_or(ProblemId(0));
    (last.to_string().chars().count() as u16).max(6)
}

/// The list's part of the title line: how many are listed (of how many, when filtered).
pub fn title(app: &App) -> String {
    let shown = app.list_ids().len();
    let count =
        if app.list.active() { format!("{shown} of {}", app.list.counts(app.problems()).0) } else { shown.to_string() };
    format!("problems ({count})")
}

/// The filter line above the table: the query (with a cursor while it is typed) and the count.
fn filter_line(app: &App, width: usize) -> Line<'static> {
    let theme = &app.theme;
    let shown = app.list_ids().len();
    let all = app.list.counts(app.problems()).0;
    let cursor = if app.list.editing { "▏" } else { "" };
    let hint = if app.list.editing { "  Enter keep · Esc clear" } else { "  Esc clears" };
    let lead = format!(" / {}{cursor}", app.list.query);
    let count = format!("  {shown} of {all}");
    let room = width.saturating_sub(text_width(&count));
    let mut spans = vec![Span::styled(fit(&lead, room), theme.ui.header), Span::raw(count)];
    if text_width(&lead) + text_width(hint) + text_width(&format!("  {shown} of {all}")) <= width {
        spans.push(Span::styled(hint, theme.ui.muted));
    }
    Line::from(spans)
}

/// Where the list's parts go in `area`: the filter bar (when a filter shows), the table (header
/// row, then problem rows), and the index of the first problem row shown. Computed from the App
/// alone, so a mouse click finds the row drawn under it.
fn window(app: &App, area: Rect) -> (Option<Rect>, Rect, usize) {
    let mut table = area;
    let mut bar = None;
    if (app.list.editing || app.list.active()) && area.height > 1 {
        bar = Some(Rect { height: 1, ..area });
        table = Rect { y: area.y + 1, height: area.height - 1, ..area };
    }
    // The window keeps the selected row on screen, as the table's own offset would.
    let rows_on_screen = usize::from(table.height.saturating_sub(1)).max(1);
    let offset = app.selected_index().map_or(0, |i| (i + 1).saturating_sub(rows_on_screen));
    (bar, table, offset)
}

/// The list index of the problem drawn on screen row `row` (the list fills the screen's body).
pub fn row_at(app: &App, row: u16) -> Option<usize> {
    let (w, h) = app.size;
    let body = Rect::new(0, 1, w, h.saturating_sub(super::CHROME_ROWS));
    let (_, table, offset) = window(app, body);
    let first = table.y + 1;
    if row < first || row >= table.y + table.height {
        return None;
    }
    let index = offset + usize::from(row - first);
    (index < app.list_ids().len()).then_some(index)
}

/// Draws the list into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let (bar, area, offset) = window(app, area);
    if let Some(bar) = bar {
        frame.render_widget(Paragraph::new(filter_line(app, usize::from(area.width))), bar);
    }
    let set = app.problems();
    let id_w = id_width(set);
    let columns = columns(area.width);
    let fixed: u16 = columns.iter().filter_map(|c| c.width(id_w)).sum();
    let gaps = columns.len().saturating_sub(1) as u16;
    let mark = SELECTION_MARK.chars().count() as u16;
    let headline_width = usize::from(area.width.saturating_sub(fixed + gaps + mark));

    // The header says the order after HEADLINE, the column with room to spare.
    let title = |c: Column| match c {
        Column::Headline => format!("HEADLINE · by {}", app.list.sort.label()),
        _ => c.title().to_string(),
    };
    let header = Row::new(columns.iter().map(|c| Cell::from(aligned(title(*c), *c)))).style(theme.ui.header);
    // Only the rows on screen are looked up and built. The window is rebuilt from the App each
    // frame (render never writes the App).
    let ids = app.list_ids();
    let selected = app.selected_index();
    let rows_on_screen = usize::from(area.height.saturating_sub(1)).max(1);
    let window = &ids[offset.min(ids.len())..(offset + rows_on_screen).min(ids.len())];
    let problems: Vec<&Problem> = window.iter().filter_map(|id| set.problems.get(id)).collect();
    let rows: Vec<Row> = problems
        .iter()
        .map(|p| {
            Row::new(columns.iter().map(|&c| {
                let text = cell_text(p, c);
                match c {
                    // The smart filter's background problem is marked as such, and muted.
                    Column::Headline if is_background(p) => Cell::from(Line::from(vec![Span::styled(
                        fit(&format!("◌ {text}"), headline_width),
                        theme.ui.muted,
                    )])),
                    // A silenced problem says so before its headline, where narrow screens keep it.
                    Column::Headline => match silenced_label(p, set.as_of) {
                        Some(label) => {
                            let rest = headline_width.saturating_sub(text_width(&label) + 1);
                            Cell::from(Line::from(vec![
                                Span::styled(fit(&label, headline_width), theme.ui.silenced),
                                Span::raw(if rest > 0 { format!(" {}", fit(&text, rest)) } else { String::new() }),
                            ]))
                        }
                        None => Cell::from(fit(&text, headline_width)),
                    },
                    Column::Status => Cell::from(Span::styled(text, theme.status(&p.status))),
                    Column::Severity => Cell::from(Span::styled(text, theme.severity(p.severity))),
                    Column::Opened => Cell::from(Span::styled(text, theme.ui.muted)),
                    _ => Cell::from(aligned(text, c)),
                }
            }))
        })
        .collect();
    let widths: Vec<Constraint> =
        columns.iter().map(|c| c.width(id_w).map_or(Constraint::Fill(1), Constraint::Length)).collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.ui.selection)
        .highlight_symbol(SELECTION_MARK)
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(selected.map(|i| i - offset)).with_offset(0);
    frame.render_stateful_widget(table, area, &mut state);

    if ids.is_empty() && area.height > 2 {
        let text = if app.list.active() {
            "no problem matches the filter (Esc clears it)"
        } else if app.finished.is_some() || app.feed_closed {
            "no problems: nothing broke in this data"
        } else {
            "no problems yet: waiting for data"
        };
        let hint = Rect { y: area.y + 2, height: 1, ..area };
        frame.render_widget(Paragraph::new(Span::styled(format!("  {text}"), theme.ui.muted)), hint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_drop_low_value_columns() {
        assert_eq!(columns(120).len(), 7);
        assert!(!columns(80).contains(&Column::Raw));
        assert!(columns(80).contains(&Column::Opened));
        let narrow = columns(50);
        assert_eq!(narrow, vec![Column::Id, Column::Status, Column::Severity, Column::Headline]);
    }
}
