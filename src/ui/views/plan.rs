//! The plan overlay: what a confirmed request will do, drawn from the very value that is sent, so
//! what the user confirms is what runs. Long plans scroll; the keys to confirm or cancel stay in
//! the box's last row, and a destructive runbook's input line (type the entity's name) above them.

use super::{text_width, wrap_words, App};
use crate::config::HumanDuration;
use crate::model::Severity;
use crate::runbook::silence::{matcher_strings, SilencePlan};
use crate::ui::keymap::Command;
use crate::ui::theme::Theme;
use crate::ui::{Proposal, Request};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
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

/// Rows of the box that are not the plan's body: [`FRAME_ROWS`], and for a plan that asks for
/// the entity's name, its input line and the line saying why a confirmation was refused.
fn frame_rows(proposal: &Proposal) -> u16 {
    FRAME_ROWS + if proposal.typed.is_some() { 2 } else { 0 }
}

/// Body lines the box shows at a terminal height.
pub(crate) fn body_rows(proposal: &Proposal, height: u16) -> usize {
    usize::from(height.saturating_sub(frame_rows(proposal)))
}

/// How far the body scrolls at a terminal size (width, height) before its last line is at the
/// bottom of the box.
pub(crate) fn max_scroll(proposal: &Proposal, readonly: bool, theme: &Theme, size: (u16, u16)) -> usize {
    let width = usize::from(box_width(size.0).saturating_sub(2));
    lines(proposal, readonly, theme, width).len().saturating_sub(body_rows(proposal, size.1))
}

/// The plan's body for an inner width of `width` cells (a cell is kept free on each side).
pub fn lines(proposal: &Proposal, readonly: bool, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let width = width.saturating_sub(1).max(20);
    match &proposal.request {
        Request::Silence(plan) => silence_lines(plan, theme, width),
        Request::Run(r) => run_lines(proposal, &r.shown, readonly, theme, width),
        Request::Cancel(c) => {
            let text = format!(
                "Cancel runbook {} on {}: its running step's process group is ended and the run stops.",
                c.runbook, c.problem
            );
            wrap_words(&text, width - 1).into_iter().map(|l| Line::raw(format!(" {l}"))).collect()
        }
    }
}

/// A run's body: read-only and destructive warnings, the runbook's description, then the plan's
/// lines verbatim, broken (never cut) where they are wider than the box.
fn run_lines(proposal: &Proposal, shown: &[String], readonly: bool, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let warning = theme.severity(Severity::Major);
    if readonly {
        out.push(Line::styled(" read-only: this plan cannot run", theme.ui.notice));
    }
    if proposal.destructive {
        let text = match &proposal.typed {
            Some(t) => format!("⚠ DESTRUCTIVE: type the entity's name, {}, below to run it.", t.expected),
            None => "⚠ DESTRUCTIVE".to_string(),
        };
        for line in wrap_words(&text, width - 1) {
            out.push(Line::styled(format!(" {line}"), warning));
        }
    }
    for line in wrap_words(&proposal.description, width - 1).into_iter().filter(|l| !l.is_empty()) {
        out.push(Line::raw(format!(" {line}")));
    }
    out.push(Line::styled(" Nothing runs until you confirm; Esc is a dry run.", theme.ui.muted));
    out.push(Line::default());
    let bold = Style::new().add_modifier(Modifier::BOLD);
    for (i, line) in shown.iter().enumerate() {
        let style = if i == 0 {
            bold
        } else if line.contains("[DESTRUCTIVE]") {
            warning
        } else {
            Style::new()
        };
        for (j, chunk) in break_exact(line, width - 1, width - 3).into_iter().enumerate() {
            let lead = if j == 0 { " " } else { "   " };
            out.push(Line::from(vec![Span::raw(lead), Span::styled(chunk, style)]));
        }
    }
    out
}

/// `text` in pieces of at most `first` cells, then `rest` cells, broken after a space where one
/// is (else inside a word): nothing is left out or changed, the plan is shown verbatim.
pub(crate) fn break_exact(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut buf));
        loop {
            let room = if out.is_empty() { first } else { rest }.max(4);
            if line.is_empty() || text_width(&line) + w <= room {
                break;
            }
            // After the last space that follows some text: an indentation is no place to break.
            let indent = line.len() - line.trim_start().len();
            match line[indent..].rfind(' ').map(|i| indent + i + 1) {
                Some(at) if at < line.len() => {
                    let tail = line.split_off(at);
                    out.push(std::mem::replace(&mut line, tail));
                }
                _ => out.push(std::mem::take(&mut line)),
            }
        }
        line.push(c);
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
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
    let readonly = app.opts.readonly;
    let width = box_width(area.width);
    let theme = &app.theme;
    let lines = lines(proposal, readonly, theme, usize::from(width - 2));
    let rows = body_rows(proposal, area.height);
    let top = proposal.scroll.min(lines.len().saturating_sub(rows));
    let total = lines.len();
    let mut body: Vec<Line> = lines.into_iter().skip(top).take(rows).collect();
    let shown = body.len();

    let key = |commands: &[Command]| Span::styled(keys(app, commands), theme.ui.help_key);
    let mut footer = vec![Span::raw(" ")];
    match (&proposal.request, &proposal.typed) {
        (Request::Silence(_), _) => {
            footer.extend([key(&[Command::Confirm]), Span::raw(" confirm · "), key(&[Command::Cancel, Command::Back])]);
            footer.push(Span::raw(" cancel"));
        }
        (_, _) if readonly => {
            footer.push(Span::styled("read-only: this plan cannot run", theme.ui.notice));
            footer.extend([Span::raw(" · "), key(&[Command::Cancel, Command::Back]), Span::raw(" close")]);
        }
        // Characters go into the input line: only Enter and Esc act.
        (_, Some(_)) => {
            footer.extend([
                key(&[Command::Open]),
                Span::raw(" confirm · "),
                key(&[Command::Back]),
                Span::raw(" cancel"),
            ]);
        }
        (request, None) => {
            let close = if matches!(request, Request::Cancel(_)) { " keep it running" } else { " dry run, close" };
            footer.extend([key(&[Command::Confirm, Command::Open]), Span::raw(" confirm · ")]);
            footer.extend([key(&[Command::Cancel, Command::Back]), Span::raw(close)]);
        }
    }
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
    if let Some(typed) = &proposal.typed {
        let inner = usize::from(width - 2);
        let prompt = format!(" type {} to confirm: ", typed.expected);
        // The end of what was typed stays in view.
        let room = inner.saturating_sub(text_width(&prompt) + 2).max(1);
        let chars: Vec<char> = typed.text.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(room)..].iter().collect();
        body.push(Line::from(vec![
            Span::styled(prompt, Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(tail, theme.ui.entity),
            Span::styled("▏", theme.ui.help_key),
        ]));
        let refused = proposal.refused.as_deref().map_or_else(String::new, |r| format!(" ✗ {r}"));
        body.push(Line::styled(refused, theme.ui.notice));
    }
    body.push(Line::from(footer));

    let height = (shown as u16).saturating_add(frame_rows(proposal)).min(area.height);
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let title = match &proposal.request {
        Request::Silence(plan) => format!(" silence {}? ", plan.problem),
        Request::Run(r) if proposal.destructive => format!(" run {} on {}? DESTRUCTIVE ", r.runbook, r.problem),
        Request::Run(r) => format!(" run {} on {}? ", r.runbook, r.problem),
        Request::Cancel(c) => format!(" cancel {} on {}? ", c.runbook, c.problem),
    };
    let block = Block::bordered().title(title).border_style(theme.ui.help_border);
    super::clear_under(frame, area, rect);
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

    #[test]
    fn break_exact_keeps_every_character() {
        assert_eq!(break_exact("abcdefghij", 6, 4), vec!["abcdef", "ghij"]);
        assert_eq!(break_exact("abc", 6, 4), vec!["abc"]);
        assert_eq!(break_exact("", 6, 4), vec![""]);
        assert_eq!(break_exact("ab cd efgh", 6, 6), vec!["ab cd ", "efgh"]);
        assert_eq!(break_exact("   abcdefgh", 6, 6), vec!["   abc", "defgh"]);
        let text = "/bin/echo 'a b' \\$(x)";
        assert_eq!(break_exact(text, 5, 4).concat(), text);
    }
}
