//! Drawing the whole UI on ratatui's TestBackend and reading it back as text, and pressing keys
//! as the terminal gives them, for the `tui_*` tests (included with `#[path]`, so it is not a
//! test crate of its own).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use faultline::engine::{Engine, EngineConfig};
use faultline::sources::fixture;
use faultline::ui::{render, update, Action, App, Feed, UiOptions};
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

/// A key press as the terminal gives it to the event loop (Shift with capitals).
#[allow(dead_code)] // Not every test that draws also types.
pub fn key(app: &mut App, code: KeyCode) {
    let modifiers = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    update(app, Action::Key(KeyEvent::new(code, modifiers)));
}

/// Each character of `text` as a key press.
#[allow(dead_code)]
pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The demo's scenario file.
#[allow(dead_code)]
pub const DEMO_SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/db-cpu-saturation.jsonl");

/// The demo scenario played through the engine into an App of `width`×`height` cells, as
/// `faultline demo` does.
#[allow(dead_code)]
pub fn demo_app(width: u16, height: u16) -> App {
    let scenario = fixture::load(std::path::Path::new(DEMO_SCENARIO)).unwrap();
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in &scenario.observations {
        engine.observe(o, &mut events);
    }
    let mut app = App::new(UiOptions { title: "demo: db-cpu-saturation".into(), ..UiOptions::default() });
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Events(events).into());
    update(&mut app, Feed::Observations(scenario.observations).into());
    app
}
