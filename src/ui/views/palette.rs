//! The `:` palette overlay: the query line, then the matches best first, each with its kind.

use super::{fit, text_width, App};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

/// Width of the kind column (`problem`, `command`...).
const KIND_WIDTH: usize = 8;

/// Draws the palette over the top of `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(palette) = &app.palette else { return };
    let theme = &app.theme;
    let width = area.width.saturating_sub(4).min(100);
    if width < 20 || area.height < 5 {
        return;
    }
    let list_rows = usize::from(area.height.saturating_sub(6)).clamp(1, 15);
    let shown = palette.results.len().min(list_rows);
    let height = (shown.max(1) + 3) as u16;
    let rect = Rect { x: area.x + (area.width - width) / 2, y: area.y + 1, width, height };
    let inner = usize::from(width.saturating_sub(2));

    let mut lines = vec![Line::from(vec![
        Span::styled(": ", theme.ui.header),
        Span::raw(fit(&palette.query, inner.saturating_sub(3))),
        Span::raw("▏"),
    ])];
    // Scroll so the selected match stays in view.
    let top = (palette.selected + 1).saturating_sub(shown);
    for (i, entry) in palette.results.iter().enumerate().skip(top).take(shown) {
        let picked = i == palette.selected;
        let mark = if picked { "› " } else { "  " };
        let kind = format!("{:<KIND_WIDTH$} ", entry.target.kind());
        let room = inner.saturating_sub(2 + KIND_WIDTH + 1);
        let text = fit(&entry.text, room);
        let mut spans = vec![Span::raw(mark), Span::styled(kind, theme.ui.muted), Span::raw(text.clone())];
        let left = room.saturating_sub(text_width(&text) + 2);
        if !entry.note.is_empty() && left > 4 {
            spans.push(Span::styled(format!("  {}", fit(&entry.note, left)), theme.ui.muted));
        }
        let line = Line::from(spans);
        lines.push(if picked { line.style(theme.ui.selection) } else { line });
    }
    if palette.results.is_empty() {
        lines.push(Line::styled("  no match", theme.ui.muted));
    }
    let title = format!(" {} of {} · Enter go · Esc close ", palette.results.len(), palette.len());
    let block = Block::default().borders(Borders::ALL).title(fit(&title, inner));
    super::clear_under(frame, area, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
