//! The plan overlay: what a confirmed request will do, drawn from the very value that is sent, so
//! what the user confirms is what runs. Long plans scroll; the keys to confirm or cancel stay in
//! the box's last row.

use super::{text_width, wrap_words, App};
use crate::config::HumanDuration;
use crate::sources::alertmanager::{matcher_strings, SilencePlan};
use crate::ui::keymap::Command;
use crate::ui::theme::Theme;
use crate::ui::Request;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// Widest the box gets, in cells.
const MAX_WIDTH: u16 = 78;
/// Rows of the box that are not the plan's body: two borders, a blank line and the keys line.
const FRAME_ROWS: u16 = 4;
/// Width of the labels of the plan's fields (`createdBy` and the rest).
const LABEL_WIDTH: usize = 11;

fn box_width(screen_width: u16) -> u16 {
    screen_width.saturating_sub(2).min(MAX_WIDTH)
}

/// Whether a terminal of `size` cells (width, height) can show the box at all; a plan that
/// cannot be seen cannot be confirmed.
pub(crate) fn fits(size: (u16, u16)) -> bool {
    box_width(size.0) >= 12 && size.1 > FRAME_ROWS
}

/// Body lines the box shows at a terminal height.
pub(crate) fn body_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(FRAME_ROWS))
}

/// How far the body scrolls at a terminal size (width, height) before its last line is at the
/// bottom of the box.
pub(crate) fn max_scroll(request: &Request, theme: &Theme, size: (u16, u16)) -> usize {
    let width = usize::from(box_width(size.0).saturating_sub(2));
    lines(request, theme, width).len().saturating_sub(body_rows(size.1))
}

/// The plan's body for an inner width of `width` cells (a cell is kept free on each side).
pub fn lines(request: &Request, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let width = width.saturating_sub(1).max(20);
    match request {
        Request::Silence(plan) => silence_lines(plan, theme, width),
        Request::Run(r) => r.shown.iter().map(|l| Line::from(l.clone())).collect(),
        Request::Cancel(c) => vec![Line::from(format!("Cancel runbook {} on {}.", c.runbook, c.problem))],
    }
}

fn silence_lines(plan: &SilencePlan, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let n = plan.label_sets.len();
    let intro = format!(
        "Silence the {n} firing alert{} of {} in Alertmanager `{}`. Nothing is sent until you confirm.",
        if n == 1 { "" } else { "s" },
        plan.problem,
        plan.target.via
    );
    for line in wrap_words(&intro, width - 1) {
        out.push(Line::raw(format!(" {line}")));
    }
    out.push(Line::default());
    let duration = HumanDuration::from_millis(plan.target.duration_ms);
    field("duration", &format!("{duration}, starting when you confirm"), width, &mut out);
    field("createdBy", &plan.created_by, width, &mut out);
    field("comment", &plan.comment, width, &mut out);
    out.push(Line::default());
    let what = if n == 1 { "1 silence".to_string() } else { format!("{n} silences, one per alert") };
    out.push(Line::styled(format!(" {what}; every matcher is an exact match (=, no regex):"), theme.ui.muted));
    let number_w = n.to_string().len();
    let indent = 1 + number_w + 2;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    for (i, labels) in plan.label_sets.iter().enumerate() {
        let lead = format!(" {:>number_w$}. ", i + 1);
        for (j, chunk) in
            exact_lines(&[format!("POST {}", plan.target.url)], "", width - indent).into_iter().enumerate()
        {
            let lead = if j == 0 { lead.clone() } else { " ".repeat(indent) };
            out.push(Line::from(vec![Span::raw(lead), Span::styled(chunk, bold)]));
        }
        for chunk in exact_lines(&matcher_strings(labels), ", ", width - indent) {
            out.push(Line::from(vec![Span::raw(" ".repeat(indent)), Span::styled(chunk, theme.ui.entity)]));
        }
    }
    out
}

/// A label and its value, the value broken exactly (never cut) under itself.
fn field(label: &str, value: &str, width: usize, out: &mut Vec<Line<'static>>) {
    let indent = 1 + LABEL_WIDTH;
    for (i, chunk) in exact_lines(&[value.to_string()], "", width - indent).into_iter().enumerate() {
        let lead = if i == 0 { format!(" {label:<LABEL_WIDTH$}") } else { " ".repeat(indent) };
        out.push(Line::from(vec![Span::raw(lead), Span::raw(chunk)]));
    }
}

/// `pieces` joined by `separator` on lines of at most `width` cells, breaking between pieces
/// where it can and inside a piece only when it is wider than a line. Nothing is left out: this
/// is what will be sent.
fn exact_lines(pieces: &[String], separator: &str, width: usize) -> Vec<String> {
    let width = width.max(4);
    // The separator's trailing space is dropped where a line breaks.
    let sep_end = separator.trim_end();
    let mut lines = Vec::new();
    let mut line = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let last = i + 1 == pieces.len();
        let piece = if last { piece.clone() } else { format!("{piece}{sep_end}") };
        let gap = if line.is_empty() { "" } else { &separator[sep_end.len()..] };
        if text_width(&line) + text_width(gap) + text_width(&piece) <= width {
            line.push_str(gap);
            line.push_str(&piece);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // Wider than a line: break it by characters.
        let mut buf = [0u8; 4];
        for c in piece.chars() {
            let w = text_width(c.encode_utf8(&mut buf));
            if text_width(&line) + w > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The first keys of commands, as the user bound them: `n/Esc`.
fn keys(app: &App, commands: &[Command]) -> String {
    let keys: Vec<String> = commands
        .iter()
        .filter_map(|c| app.keymap.binding(*c))
        .filter_map(|b| b.keys.first().map(|k| k.to_string()))
        .collect();
    if keys.is_empty() {
        "(unbound)".to_string()
    } else {
        keys.join("/")
    }
}

/// Draws the overlay of the proposal on screen, centred in `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(proposal) = &app.proposal else { return };
    if !fits((area.width, area.height)) {
        return;
    }
    let width = box_width(area.width);
    let theme = &app.theme;
    let lines = lines(&proposal.request, theme, usize::from(width - 2));
    let rows = body_rows(area.height);
    let top = proposal.scroll.min(lines.len().saturating_sub(rows));
    let total = lines.len();
    let mut body: Vec<Line> = lines.into_iter().skip(top).take(rows).collect();
    let shown = body.len();

    let mut footer = vec![
        Span::raw(" "),
        Span::styled(keys(app, &[Command::Confirm]), theme.ui.help_key),
        Span::raw(" confirm · "),
        Span::styled(keys(app, &[Command::Cancel, Command::Back]), theme.ui.help_key),
        Span::raw(" cancel"),
    ];
    if shown < total {
        footer.push(Span::styled(
            format!(
                "   {} scroll · lines {}-{} of {total}",
                keys(app, &[Command::Down, Command::Up]),
                top + 1,
                top + shown
            ),
            theme.ui.muted,
        ));
    }
    body.push(Line::default());
    body.push(Line::from(footer));

    let height = (shown as u16).saturating_add(FRAME_ROWS).min(area.height);
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let title = match &proposal.request {
        Request::Silence(plan) => format!(" silence {}? ", plan.problem),
        Request::Run(r) => format!(" run {} on {}? ", r.runbook, r.problem),
        Request::Cancel(c) => format!(" cancel {} on {}? ", c.runbook, c.problem),
    };
    let block = Block::bordered().title(title).border_style(theme.ui.help_border);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(body).block(block), rect);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lines_break_between_pieces_and_never_drop_text() {
        let pieces: Vec<String> = ["a=\"1\"", "bb=\"22\"", "c=\"333\""].iter().map(|s| s.to_string()).collect();
        assert_eq!(exact_lines(&pieces, ", ", 80), vec!["a=\"1\", bb=\"22\", c=\"333\""]);
        assert_eq!(exact_lines(&pieces, ", ", 16), vec!["a=\"1\", bb=\"22\",", "c=\"333\""]);
        let long = vec!["x".repeat(10)];
        assert_eq!(exact_lines(&long, "", 4), vec!["xxxx", "xxxx", "xx"]);
        assert_eq!(exact_lines(&[], ", ", 4), vec![""]);
    }
}
