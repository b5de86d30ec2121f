//! The handover report overlay (`R`): the text report of the 12 hours of data up to the cursor,
//! the same words `faultline report --format text` prints, in a box that scrolls.

use super::{wrap_words, App};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

/// Widest the box gets, in cells.
const MAX_WIDTH: u16 = 100;

/// Report lines shown at a terminal height (the box's borders and its footer take three).
pub(crate) fn body_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(4))
}

/// Draws the overlay over `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some((text, scroll)) = &app.report else { return };
    let width = area.width.saturating_sub(2).min(MAX_WIDTH);
    if width < 20 || area.height < 6 {
        return;
    }
    let inner = usize::from(width.saturating_sub(2));
    let rows = body_rows(area.height);
    // Long lines wrap under a two-space indent, as in the text report's detail lines.
    let mut lines: Vec<Line<'static>> = Vec::new();
    for (n, line) in text.iter().enumerate().skip(*scroll) {
        if lines.len() >= rows {
            break;
        }
        let _ = n;
        for (i, part) in wrap_words(line, inner).into_iter().enumerate() {
            let lead = if i == 0 { "" } else { "    " };
            lines.push(Line::from(Span::raw(format!("{lead}{part}"))));
        }
    }
    lines.truncate(rows);
    let end = (*scroll + rows).min(text.len());
    lines.push(Line::styled(
        format!(" lines {}-{end} of {} · j/k scroll · any other key closes", scroll + 1, text.len()),
        app.theme.ui.muted,
    ));
    let height = (lines.len() as u16 + 2).min(area.height);
    let x = area.x + (area.width.saturating_sub(width)) / 2;
    let y = area.y + (area.height.saturating_sub(height)) / 2;
    let boxed = Rect::new(x, y, width, height);
    frame.render_widget(Clear, boxed);
    let block = Block::bordered().title(" handover report ").border_style(app.theme.ui.muted);
    frame.render_widget(Paragraph::new(lines).block(block), boxed);
}
