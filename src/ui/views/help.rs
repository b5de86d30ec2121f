//! The `?` overlay, generated from the keymap so it cannot disagree with what the keys do, and
//! from the loaded runbooks for their own keys. When it is longer than the screen it scrolls.

use super::{pad, text_width, wrap_words, App};
use crate::ui::keymap::Command;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

/// Widest the box gets, in cells, so lines stay easy to read on wide screens.
const MAX_WIDTH: u16 = 78;

/// The overlay's lines for an inner width of `width` cells.
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let bindings = app.keymap.bindings();
    let key_w = bindings.iter().map(|b| text_width(&b.keys_text())).max().unwrap_or(0);
    let desc_w = width.saturating_sub(key_w + 3).max(10);
    let mut out = Vec::new();
    for b in bindings {
        key_lines(app, &b.keys_text(), &b.description, key_w, desc_w, &mut out);
    }
    out.push(Line::default());
    runbook_keys(app, key_w, desc_w, &mut out);
    out.push(Line::default());
    let log = match &app.opts.log_path {
        Some(path) => path.display().to_string(),
        None => "none (logging is off)".to_string(),
    };
    labelled("log file: ", &log, width, &mut out);
    if let Some(path) = app.keymap.user_file() {
        labelled("keymap: ", &path.display().to_string(), width, &mut out);
    }
    out.push(Line::styled(" any other key closes this help", theme.ui.muted));
    out
}

/// Keys in their column, then what they do wrapped beside them.
fn key_lines(app: &App, keys: &str, text: &str, key_w: usize, desc_w: usize, out: &mut Vec<Line<'static>>) {
    for (i, line) in wrap_words(text, desc_w).into_iter().enumerate() {
        let keys = if i == 0 { keys } else { "" };
        out.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(pad(keys, key_w), app.theme.ui.help_key),
            Span::raw("  "),
            Span::raw(line),
        ]));
    }
}

/// The loaded runbooks' keys, one line each (a key a command takes is said to be taken, the
/// runbook is then reached with `runbooks`); runbooks without a key are counted.
fn runbook_keys(app: &App, key_w: usize, desc_w: usize, out: &mut Vec<Line<'static>>) {
    let theme = &app.theme;
    let set = &app.opts.runbooks.0;
    let chooser = app.keymap.binding(Command::Runbooks).and_then(|b| b.keys.first()).map(|k| k.to_string());
    let chooser = chooser.unwrap_or_else(|| "the runbooks command".to_string());
    if set.iter().next().is_none() {
        out.push(Line::styled(" runbook keys come from the runbook files; none are loaded", theme.ui.muted));
        return;
    }
    out.push(Line::styled(" runbook keys come from the runbook files:", theme.ui.muted));
    let mut keyless = 0;
    for rb in set.iter() {
        let Some(key) = rb.key else {
            keyless += 1;
            continue;
        };
        let mut text = format!("runbook {}", rb.name);
        if !rb.description.is_empty() {
            text.push_str(&format!(": {}", rb.description));
        }
        if let Some(command) = app.key_taken_by(rb) {
            text.push_str(&format!(" (key taken by `{}`: use {chooser})", command.name()));
        }
        key_lines(app, &key.to_string(), &text, key_w, desc_w, out);
    }
    if keyless > 0 {
        let text = format!(" {keyless} runbook{} without a key: use {chooser}", if keyless == 1 { "" } else { "s" });
        out.push(Line::styled(text, theme.ui.muted));
    }
}

/// A label and a value that may be a long path: the value is broken by characters, not words,
/// so the file name at its end is never cut off.
fn labelled(label: &str, value: &str, width: usize, out: &mut Vec<Line<'static>>) {
    let room = width.saturating_sub(1 + label.len()).max(8);
    let chars: Vec<char> = value.chars().collect();
    for (i, chunk) in chars.chunks(room).enumerate() {
        let lead = if i == 0 { format!(" {label}") } else { " ".repeat(1 + label.len()) };
        out.push(Line::from(vec![Span::raw(lead), Span::raw(chunk.iter().collect::<String>())]));
    }
}

fn box_width(screen_width: u16) -> u16 {
    screen_width.saturating_sub(2).min(MAX_WIDTH)
}

/// Help lines a scrolling overlay shows at a terminal height (its last row says how to scroll).
pub(crate) fn body_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(3))
}

/// The lines to show at a terminal size, and whether they are more than fit (then they scroll).
fn shown_lines(app: &App, size: (u16, u16)) -> (Vec<Line<'static>>, bool) {
    let width = box_width(size.0);
    let mut lines = lines(app, usize::from(width.saturating_sub(2)));
    let room = usize::from(size.1.saturating_sub(2));
    if lines.len() <= room {
        return (lines, false);
    }
    // The closing hint moves into the scrolling footer.
    lines.pop();
    (lines, true)
}

/// How far the help scrolls at a terminal size; 0 when it fits.
pub(crate) fn max_scroll(app: &App, size: (u16, u16)) -> usize {
    match shown_lines(app, size) {
        (lines, true) => lines.len().saturating_sub(body_rows(size.1)),
        (_, false) => 0,
    }
}

/// Draws the overlay centred in `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let width = box_width(area.width);
    if width < 12 || area.height < 4 {
        return;
    }
    let (mut lines, scrolls) = shown_lines(app, (area.width, area.height));
    if scrolls {
        let rows = body_rows(area.height);
        let total = lines.len();
        let top = app.help_scroll.min(total.saturating_sub(rows));
        lines = lines.into_iter().skip(top).take(rows).collect();
        let keys = |c: Command| app.keymap.binding(c).and_then(|b| b.keys.first()).map(|k| k.to_string());
        let scroll = [keys(Command::Down), keys(Command::Up)].into_iter().flatten().collect::<Vec<_>>().join("/");
        let quit = keys(Command::Quit).unwrap_or_else(|| "Ctrl-c".to_string());
        lines.push(Line::styled(
            format!(
                " {scroll} scroll · lines {}-{} of {total} · {quit} quits, any other key closes",
                top + 1,
                top + lines.len()
            ),
            app.theme.ui.muted,
        ));
    }
    let height = (lines.len() as u16).saturating_add(2).min(area.height);
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let block = Block::bordered().title(" keys ").border_style(app.theme.ui.help_border);
    super::clear_under(frame, area, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
