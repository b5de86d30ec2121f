//! Drawing: the screen's layout and the words and symbols every view shares. Views read the state
//! and draw; none of them changes anything.

pub mod chart;
pub mod detail;
pub mod help;
pub mod list;
pub mod logs;
pub mod output;
pub mod palette;
pub mod plan;
pub mod report;
pub mod runbooks;
pub mod similar;
pub mod status;
pub mod timeline;
pub mod topology;
pub mod topology_view;

use super::app::{App, View};
use crate::model::{Problem, ProblemStatus, Severity, Timestamp};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Rows above and below the body: the title line and the status line.
const CHROME_ROWS: u16 = 2;

/// Problem rows the list shows at a terminal height (the list has a header row).
pub(crate) fn list_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(CHROME_ROWS + 1))
}

/// Rows of the detail view (its lines and panes) at a terminal height.
pub(crate) fn detail_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(CHROME_ROWS))
}

/// Draws the whole screen from the state.
pub fn render(app: &App, frame: &mut Frame) {
    let [title, body, status_line] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(frame.area());
    render_title(app, frame, title);
    if let Some(pane) = &app.log_pane {
        logs::render(app, pane, frame, body);
    } else if let Some(topo) = &app.topo {
        topology_view::render(app, topo, frame, body);
    } else {
        match app.view {
            View::List => list::render(app, frame, body),
            View::Detail(_) => detail::render(app, frame, body),
            View::Output(id) => output::render(app, id, frame, body),
        }
    }
    status::render(app, frame, status_line);
    if app.chooser.is_some() {
        runbooks::render_chooser(app, frame, frame.area());
    }
    if app.proposal.is_some() {
        plan::render(app, frame, frame.area());
    }
    if app.palette.is_some() {
        palette::render(app, frame, frame.area());
    }
    if app.report.is_some() {
        report::render(app, frame, frame.area());
    }
    if app.help {
        help::render(app, frame, frame.area());
    }
}

/// Clears the rows an overlay box takes across the whole of `area`, not just the box: what is
/// left of the view beside a box (a `›`, the end of a time) would read as part of it.
pub(crate) fn clear_under(frame: &mut Frame, area: Rect, rect: Rect) {
    let band = Rect { x: area.x, y: rect.y, width: area.width, height: rect.height };
    frame.render_widget(ratatui::widgets::Clear, band.intersection(area));
}

/// The first line: what this is and what it shows.
fn render_title(app: &App, frame: &mut Frame, area: Rect) {
    let what = match app.view {
        _ if app.log_pane.is_some() => app.log_pane.as_ref().map(|p| logs::title(app, p)).unwrap_or_default(),
        _ if app.topo.is_some() => app.topo.as_ref().map(|t| topology_view::title(app, t)).unwrap_or_default(),
        View::List => list::title(app),
        View::Detail(id) => {
            let screen = frame.area();
            let total = app.detail_problem().map_or(0, |p| detail::all_lines(app, p, screen.width).len());
            let rows = detail::body_rows(app);
            let top = detail::first_line(app.detail_scroll, total, rows);
            let bottom = (top + rows).min(total);
            format!("{id} · lines {}-{bottom} of {total}", (top + 1).min(total))
        }
        View::Output(id) => {
            let total = output::lines(app, id, frame.area().width).len();
            let rows = detail_rows(frame.area().height);
            let top = output::first_line(app, total, rows);
            let bottom = (top + rows).min(total);
            let follow = if app.output_scroll.is_none() { " · follows" } else { "" };
            format!("{id} · output · lines {}-{bottom} of {total}{follow}", (top + 1).min(total))
        }
    };
    let mut text = format!(" faultline · {} · {what}", app.opts.title);
    if let Some(summary) = &app.finished {
        text.push_str(" · ");
        text.push_str(summary);
    }
    let line = Line::from(fit(&text, usize::from(area.width)));
    frame.render_widget(Paragraph::new(line).style(app.theme.ui.title), area);
}

/// A problem status as symbol and word, so it reads without colour.
pub fn status_label(status: &ProblemStatus) -> String {
    match status {
        ProblemStatus::Open => "● OPEN".to_string(),
        ProblemStatus::Resolved => "✓ RESOLVED".to_string(),
        ProblemStatus::Merged(_) => "↪ MERGED".to_string(),
    }
}

/// A severity as symbol and word, so it reads without colour.
pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "◆ CRITICAL",
        Severity::Major => "▲ MAJOR",
        Severity::Warning => "△ WARNING",
        Severity::Info => "○ INFO",
    }
}

/// `⊘ silenced until 05:13` while the problem's alerts are silenced at data time `as_of` (with
/// the date when the silence ends on another day); `None` when they are not.
pub fn silenced_label(problem: &Problem, as_of: Timestamp) -> Option<String> {
    let until = problem.silenced_until.filter(|until| *until > as_of)?;
    let (day, now_day) = (until.to_rfc3339(), as_of.to_rfc3339());
    let clock = until.clock();
    let hh_mm = clock.get(..5).unwrap_or(&clock);
    match (day.get(..10), now_day.get(..10)) {
        (Some(d), Some(n)) if d != n => Some(format!("⊘ silenced until {d} {hh_mm}")),
        _ => Some(format!("⊘ silenced until {hh_mm}")),
    }
}

/// Display width of a text in terminal cells.
pub(crate) fn text_width(text: &str) -> usize {
    Span::raw(text).width()
}

/// The text cut to `width` cells, with `…` where it was cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    if text_width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut buf));
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The text padded with spaces (or cut) to exactly `width` cells.
pub(crate) fn pad(text: &str, width: usize) -> String {
    let cut = fit(text, width);
    let w = text_width(&cut);
    format!("{cut}{}", " ".repeat(width.saturating_sub(w)))
}

/// A count with thousands separators: `13,482` (one helper for the UI and the reports).
pub use crate::report::thousands;

/// Words wrapped to `width` cells; a word longer than a line is cut with `…`.
pub(crate) fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = fit(word, width);
        if line.is_empty() {
            line = word;
        } else if text_width(&line) + 1 + text_width(&word) <= width {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(std::mem::take(&mut line));
            line = word;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lays out pieces of styled text on lines of `width` cells, joined by `separator`, breaking only
/// between pieces. The first line starts with `lead`; the following ones are indented to `indent`
/// cells. A piece wider than a line starts a line of its own and wraps at its spaces onto
/// indented lines (a word wider than a line is cut with `…`): never clipped unmarked by the
/// terminal.
pub(crate) fn pack(
    lead: Vec<Span<'static>>,
    pieces: Vec<Vec<Span<'static>>>,
    separator: &str,
    indent: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let spans_width = |spans: &[Span<'static>]| spans.iter().map(Span::width).sum::<usize>();
    let mut lines = Vec::new();
    let mut current = lead;
    let mut used = spans_width(&current);
    let mut empty = true;
    // A list separator (`, `) stays at the end of a broken line, so room is kept for it; a spaced
    // one (` · `) goes.
    let trailing = if separator.starts_with(' ') { "" } else { separator.trim_end() };
    for piece in pieces {
        let w = spans_width(&piece);
        let needed = if empty { w } else { text_width(separator) + w };
        if !empty && used + needed + text_width(trailing) > width {
            if !trailing.is_empty() {
                current.push(Span::raw(trailing.to_string()));
            }
            lines.push(Line::from(std::mem::take(&mut current)));
            current.push(Span::raw(" ".repeat(indent)));
            used = indent;
            empty = true;
        }
        if !empty {
            current.push(Span::raw(separator.to_string()));
            used += text_width(separator);
        }
        if used + w > width {
            used = wrap_piece(piece, &mut current, &mut lines, (used, empty), indent, width);
        } else {
            used += w;
            current.extend(piece);
        }
        empty = false;
    }
    lines.push(Line::from(current));
    lines
}

/// Adds `piece` word by word to `current` (which has `used` cells, `fresh` when nothing but its
/// lead or indent), moving to a new line indented to `indent` when a word does not fit; returns
/// the cells used on the last line.
fn wrap_piece(
    piece: Vec<Span<'static>>,
    current: &mut Vec<Span<'static>>,
    lines: &mut Vec<Line<'static>>,
    (mut used, mut fresh): (usize, bool),
    indent: usize,
    width: usize,
) -> usize {
    for span in piece {
        let style = span.style;
        for word in span.content.split_inclusive(' ') {
            let mut word = word.to_string();
            let w = text_width(word.trim_end());
            if used + w > width && !fresh {
                if let Some(last) = current.last_mut() {
                    last.content = last.content.trim_end().to_string().into();
                }
                lines.push(Line::from(std::mem::take(current)));
                current.push(Span::raw(" ".repeat(indent)));
                used = indent;
                fresh = true;
            }
            if fresh {
                word = word.trim_start().to_string();
                if word.is_empty() {
                    continue;
                }
            }
            if used + text_width(word.trim_end()) > width {
                word = fit(&word, width.saturating_sub(used));
            }
            used += text_width(&word);
            current.push(Span::styled(word, style));
            fresh = false;
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("checkout latency", 8), "checkou…");
        assert_eq!(fit("short", 8), "short");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(pad("ab", 4), "ab  ");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(13_482), "13,482");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn wrap_and_pack_respect_the_width() {
        assert_eq!(wrap_words("one two three four", 9), vec!["one two", "three", "four"]);
        let pieces = ["aaaa", "bbbb", "cccc"].iter().map(|s| vec![Span::raw(s.to_string())]).collect();
        let lines = pack(vec![Span::raw("> ")], pieces, " ", 2, 11);
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["> aaaa bbbb", "  cccc"]);
        let pieces = ["aaaa", "bbbb", "cccc"].iter().map(|s| vec![Span::raw(s.to_string())]).collect();
        let text: Vec<String> = pack(Vec::new(), pieces, ", ", 0, 12).iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["aaaa, bbbb,", "cccc"]);
        // A piece wider than a line wraps at its spaces; a word wider than a line is cut.
        let pieces = ["aa", "bb cc dd ee", "ff"].iter().map(|s| vec![Span::raw(s.to_string())]).collect();
        let text: Vec<String> = pack(vec![Span::raw("> ")], pieces, " ", 2, 8).iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["> aa", "  bb cc", "  dd ee", "  ff"]);
        let pieces = ["aa", "bbbbbbbbbbbbbbbb", "cc"].iter().map(|s| vec![Span::raw(s.to_string())]).collect();
        let text: Vec<String> = pack(vec![Span::raw("> ")], pieces, " ", 2, 10).iter().map(|l| l.to_string()).collect();
        assert_eq!(text, vec!["> aa", "  bbbbbbb…", "  cc"]);
    }
}
