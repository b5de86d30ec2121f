//! One UI frame on ratatui's TestBackend: 10,000 problems at 80x24 and 200x50 against the
//! 3-problem demo, plus what keeps the list's order current at that size (a new event, a filter
//! keystroke, opening the palette, a palette keystroke). The 10,000 problems are 10,000 unrelated alerts played
//! through the engine into the App, as issue 14 measured them. Run with
//! `cargo bench --bench ui_frame`; target: a frame under 5 ms.

use criterion::{criterion_group, criterion_main, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use faultline::engine::{Engine, EngineConfig};
use faultline::model::{
    AlertState, EntityId, EventKind, Observation, ObservationKind, ProblemEvent, Severity, Timestamp,
};
use faultline::sources::fixture;
use faultline::ui::{render, update, Action, App, Feed, UiOptions};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::hint::black_box;
use std::path::Path;

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/db-cpu-saturation.jsonl");
/// 2026-11-02T03:00:00Z in milliseconds.
const T0: i64 = 1_793_588_400_000;

fn app(title: &str, events: Vec<ProblemEvent>, observations: Vec<Observation>) -> App {
    let mut app = App::new(UiOptions { title: title.to_string(), ..UiOptions::default() });
    update(&mut app, Feed::Events(events).into());
    update(&mut app, Feed::Observations(observations).into());
    app
}

fn play(observations: &[Observation]) -> Vec<ProblemEvent> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in observations {
        engine.observe(o, &mut events);
    }
    events
}

/// `n` unrelated alerts: each its own name on its own host, a minute apart.
fn alerts(n: usize) -> Vec<Observation> {
    (0..n)
        .map(|i| Observation {
            at: Timestamp(T0 + i as i64 * 60_000),
            source: "alertmanager".to_string(),
            kind: ObservationKind::Alert {
                entity: EntityId::new(format!("host:h-{i}")),
                name: format!("Alert{i}"),
                fingerprint: format!("fp-{i}"),
                state: AlertState::Firing,
                severity: Severity::Warning,
                labels: Default::default(),
                summary: String::new(),
            },
        })
        .collect()
}

fn frame_bench(c: &mut Criterion, name: &str, app: &mut App, (w, h): (u16, u16)) {
    update(app, Action::Resize { width: w, height: h });
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    c.bench_function(name, |b| b.iter(|| terminal.draw(|frame| render(black_box(app), frame)).unwrap().area.width));
}

/// Opens an input line with `opener` (`/` filter, `:` palette), types `h`, then times typing
/// one more character and taking it back (two keystrokes per iteration).
fn keystrokes(c: &mut Criterion, name: &str, app: &mut App, opener: char) {
    let key = |code| Action::Key(KeyEvent::new(code, KeyModifiers::NONE));
    update(app, key(KeyCode::Char(opener)));
    update(app, key(KeyCode::Char('h')));
    c.bench_function(name, |b| {
        b.iter(|| {
            update(app, key(KeyCode::Char('9')));
            update(app, key(KeyCode::Backspace));
        })
    });
}

fn benches(c: &mut Criterion) {
    let scenario = fixture::load(Path::new(SCENARIO)).unwrap();
    let mut demo = app("demo: db-cpu-saturation", play(&scenario.observations), scenario.observations);
    let observations = alerts(10_000);
    let events = play(&observations);
    let mut many = app("demo: 10,000 alerts", events.clone(), observations);
    eprintln!("demo: {} problems; many: {} problems", demo.visible().len(), many.visible().len());
    assert!(many.visible().len() >= 10_000, "the alerts must stay unrelated");

    frame_bench(c, "frame demo 80x24", &mut demo, (80, 24));
    frame_bench(c, "frame demo 200x50", &mut demo, (200, 50));
    frame_bench(c, "frame 10k problems 80x24", &mut many, (80, 24));
    frame_bench(c, "frame 10k problems 200x50", &mut many, (200, 50));
    // Selection in the middle of the list: the window is not at the top.
    for _ in 0..5_000 {
        update(&mut many, Action::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE)));
    }
    frame_bench(c, "frame 10k problems 80x24, row 5000 selected", &mut many, (80, 24));

    // What keeps the order current: one more event (the list is re-sorted once, in update).
    let last = events.last().cloned().unwrap();
    let mut seq = last.seq;
    c.bench_function("update: one event with 10k problems", |b| {
        b.iter(|| {
            seq += 1;
            let e = ProblemEvent { seq, kind: EventKind::Acknowledged { by: "bench".to_string() }, ..last.clone() };
            update(&mut many, Feed::Events(vec![e]).into());
        })
    });
    keystrokes(c, "update: a filter keystroke with 10k problems", &mut many, '/');
    c.bench_function("update: open the palette with 10k problems", |b| {
        update(&mut many, Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        b.iter(|| {
            update(&mut many, Action::Key(KeyEvent::new(KeyCode::Char(':'), KeyModifiers::NONE)));
            update(&mut many, Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        })
    });
    keystrokes(c, "update: a palette keystroke with 10k problems", &mut many, ':');
    // After a change to the problems the palette's index is brought up to date on opening:
    // only the changed problem's entry is made again.
    c.bench_function("update: one event, then open the palette, with 10k problems", |b| {
        update(&mut many, Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        b.iter(|| {
            seq += 1;
            let e = ProblemEvent { seq, kind: EventKind::Acknowledged { by: "bench".to_string() }, ..last.clone() };
            update(&mut many, Feed::Events(vec![e]).into());
            update(&mut many, Action::Key(KeyEvent::new(KeyCode::Char(':'), KeyModifiers::NONE)));
            update(&mut many, Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        })
    });
}

criterion_group! {
    name = ui;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(ui);
