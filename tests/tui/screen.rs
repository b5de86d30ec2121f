//! Drawing the whole UI on ratatui's TestBackend and reading it back as text, for the `tui_*`
//! tests (included with `#[path]`, so it is not a test crate of its own).

use faultline::ui::{render, App};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

/// The screen as drawn at the app's size.
pub fn draw(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|frame| render(app, frame)).unwrap();
    terminal.backend().buffer().clone()
}

/// The rows of a drawn screen, one string a row.
pub fn rows(buffer: &Buffer) -> Vec<String> {
    let area = buffer.area;
    (0..area.height).map(|y| (0..area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>()).collect()
}

/// The screen as one text.
pub fn screen(app: &App) -> String {
    rows(&draw(app)).join("\n")
}
