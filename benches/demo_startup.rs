//! `faultline demo` from start to its first frame, without a terminal: the built-in scenario's
//! header read (its 10,130 observations stream in the player as they are played), the engine
//! built, the keymap and theme loaded, and the first frame drawn into ratatui's `TestBackend`,
//! through the same calls the binary makes (`faultline::startup`). Not measured: the process
//! start, the log file, entering the alternate screen. Run with `cargo bench --bench
//! demo_startup`; target: under 100 ms. Also timed: reading the whole scenario (what
//! `--headless` does first, and what start-up cost before it streamed).

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::agent::Agent;
use faultline::engine::EngineConfig;
use faultline::startup::{demo_scenario, first_frame, styled_app, Demo, DemoScenario};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::hint::black_box;

/// Everything before the first frame, then the frame; returns the engine and the scenario, ready
/// to play.
fn demo_to_first_frame(width: u16, height: u16) -> (Agent, DemoScenario) {
    let scenario = demo_scenario(None).expect("the built-in scenario parses");
    let Demo { agent, scenario, opts } =
        Demo::new(scenario, EngineConfig::default(), None, false, None, Default::default());
    let mut app = styled_app(opts);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    first_frame(&mut app, &mut terminal).expect("the first frame draws");
    black_box(&app);
    (agent, scenario)
}

fn bench(c: &mut Criterion) {
    let played = demo_to_first_frame(80, 24).1.observations.map(|o| o.expect("the built-in scenario parses"));
    assert!(played.count() > 10_000, "the first frame came before the scenario was read, and all of it follows");
    c.bench_function("demo: start to first frame, 80x24", |b| b.iter(|| demo_to_first_frame(80, 24)));
    c.bench_function("demo: read the built-in scenario", |b| {
        b.iter(|| demo_scenario(None).and_then(|s| s.collect()).map(|s| s.observations.len()))
    });
    c.bench_function("demo: keymap, theme and App", |b| {
        b.iter(|| styled_app(faultline::ui::UiOptions::default()).size)
    });
}

criterion_group! {
    name = startup;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(startup);
