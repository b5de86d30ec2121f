//! The `?` overlay, generated from the keymap so it cannot disagree with what the keys do.

use super::{pad, text_width, wrap_words, App};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
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
        for (i, text) in wrap_words(&b.description, desc_w).into_iter().enumerate() {
            let keys = if i == 0 { b.keys_text() } else { String::new() };
            out.push(Line::from(vec![
                Span::raw(" "),
                Span::styled(pad(&keys, key_w), theme.ui.help_key),
                Span::raw("  "),
                Span::raw(text),
            ]));
        }
    }
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

/// Draws the overlay centred in `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let width = area.width.saturating_sub(2).min(MAX_WIDTH);
    if width < 12 || area.height < 4 {
        return;
    }
    let mut lines = lines(app, usize::from(width - 2));
    // In a short terminal the closing hint and the blank line above the files go first, so every
    // binding stays in view (at 80x24 they all fit exactly).
    let room = usize::from(area.height.saturating_sub(2));
    if lines.len() > room {
        lines.pop();
        if let Some(blank) = lines.iter().rposition(|l| l.width() == 0) {
            lines.remove(blank);
        }
    }
    let height = (lines.len() as u16).saturating_add(2).min(area.height);
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let block = Block::bordered().title(" keys ").border_style(app.theme.ui.help_border);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
