//! The replay cursor on long journals: one step back and forward on 100,000 events, and opening
//! a 1,000,000-event journal to its first frame.
//!
//! The events are the demo scenario's (`fixtures/scenarios/db-cpu-saturation.jsonl`, played
//! through the engine: 1,545 events of three problems) repeated with seqs, problem ids and data
//! times moved on, so each copy is a fresh set of problems later in time. Measured:
//! - `step/back+forward`: one `Replay::step_back` then one `step_forward` (two cursor steps) at
//!   the end and in the middle of 100,000 events;
//! - `step/detail [ then ]`: the `[` and `]` keys in the detail of a problem (its previous and
//!   next timeline entry, over the other problems' events between them), through `update`;
//! - `first frame`: `Journal::open_read_only` + `events_after(0)` + the fold into the App (a
//!   `Replay` at the end) + one render at 80x24 into a `TestBackend`, on 1,000,000 events
//!   written once into a temporary journal with `faultline::journal::Journal`.
//!
//! Run with `cargo bench --bench replay`; `FAULTLINE_BENCH_FIRST_FRAME_EVENTS=200000` for a
//! shorter first-frame run. Also printed: the process's resident memory before and after the
//! 1,000,000 events are folded, to see what the undo records cost.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::engine::Engine;
use faultline::journal::Journal;
use faultline::model::replay::Replay;
use faultline::model::{EventKind, ProblemEvent, ProblemId};
use faultline::ui::{render, update, Action, App, Command, Feed, UiOptions};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::Path;
use std::time::{Duration, Instant};

/// The demo's events, played through the engine.
fn demo_events() -> Vec<ProblemEvent> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let scenario = faultline::sources::fixture::load(&path).expect("the demo scenario loads");
    let mut engine = Engine::new(Default::default());
    let mut events = Vec::new();
    for o in &scenario.observations {
        engine.observe(o, &mut events);
    }
    events
}

/// `n` events: copies of the demo's, each with its seqs, problem ids and times moved on.
fn events(n: usize) -> Vec<ProblemEvent> {
    let demo = demo_events();
    let seqs = demo.last().map_or(0, |e| e.seq);
    let ids = demo.iter().map(|e| e.problem.0).max().unwrap_or(0);
    let span = demo.last().map_or(0, |e| e.at.millis()) - demo.first().map_or(0, |e| e.at.millis()) + 60_000;
    let moved = |id: ProblemId, copy: u64| ProblemId(id.0 + copy * ids);
    let mut out = Vec::with_capacity(n);
    for copy in 0.. {
        for e in &demo {
            if out.len() == n {
                return out;
            }
            let mut e = e.clone();
            e.seq += copy * seqs;
            e.problem = moved(e.problem, copy);
            e.at = e.at.plus_ms(span * copy as i64);
            match &mut e.kind {
                EventKind::MergedInto { into } => *into = moved(*into, copy),
                EventKind::Absorbed { from } => *from = moved(*from, copy),
                EventKind::SignalDetached { to, .. } => *to = moved(*to, copy),
                _ => {}
            }
            out.push(e);
        }
    }
    out
}

/// Resident memory of this process, in MiB (Linux), for the printed figures.
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn render_once(app: &App) -> usize {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
    terminal.draw(|frame| render(app, frame)).expect("a frame");
    terminal.backend().buffer().content.len()
}

fn steps(c: &mut Criterion) {
    let events = events(100_000);
    let mut group = c.benchmark_group("step");
    let mut replay = Replay::from_events(events.clone());
    group.bench_function("back+forward at the end of 100k events", |b| {
        b.iter(|| {
            replay.step_back();
            replay.step_forward();
        })
    });
    replay.seek(events.len() / 2);
    group.bench_function("back+forward in the middle of 100k events", |b| {
        b.iter(|| {
            replay.step_back();
            replay.step_forward();
        })
    });

    // The detail of the last copy's storm problem, cursor in the middle of its timeline.
    let mut app = App::new(UiOptions { title: "replay: bench".into(), ..UiOptions::default() });
    update(&mut app, Action::Resize { width: 80, height: 24 });
    update(&mut app, Action::Feed(Feed::Events(events.clone())));
    let storm =
        app.problems().problems.values().max_by_key(|p| (p.timeline.len(), p.id)).map(|p| p.id).expect("problems");
    app.view = faultline::ui::View::Detail(storm);
    for _ in 0..50 {
        update(&mut app, Action::Command(Command::StepBack));
    }
    group.bench_function("detail [ then ] (100k events)", |b| {
        b.iter(|| {
            update(&mut app, Action::Command(Command::StepBack));
            update(&mut app, Action::Command(Command::StepForward));
        })
    });
    group.bench_function("render the detail at 80x24 (100k events)", |b| b.iter(|| render_once(&app)));
    group.finish();
}

fn first_frame(c: &mut Criterion) {
    let n: usize =
        std::env::var("FAULTLINE_BENCH_FIRST_FRAME_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("journal.db");
    let events = events(n);
    let started = Instant::now();
    {
        let mut journal = Journal::open(&path).expect("a new journal");
        for batch in events.chunks(10_000) {
            journal.append(None, batch).expect("appending events");
        }
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "first frame: wrote {n} events into {} ({:.0} MiB) in {:.1} s",
        path.display(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    let before = rss_mib();
    let replay = Replay::from_events(events);
    eprintln!(
        "memory: {n} events and their undo records in a Replay at the end: {:.0} MiB resident more than before the fold",
        rss_mib() - before
    );
    drop(replay);

    // One run's parts, for where the time goes (criterion below measures the whole).
    let t = Instant::now();
    let journal = Journal::open_read_only(&path).expect("the journal opens");
    let read = journal.events_after(0).expect("events read");
    let t_read = t.elapsed();
    let t = Instant::now();
    let mut app = App::new(UiOptions { title: "replay: bench".into(), ..UiOptions::default() });
    update(&mut app, Action::Resize { width: 80, height: 24 });
    update(&mut app, Action::Feed(Feed::Events(read)));
    let t_fold = t.elapsed();
    let t = Instant::now();
    render_once(&app);
    eprintln!(
        "first frame parts: read {:.2} s, fold {:.2} s, render {:.1} ms",
        t_read.as_secs_f64(),
        t_fold.as_secs_f64(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    drop(app);

    let mut group = c.benchmark_group("first frame");
    group.sample_size(10).warm_up_time(Duration::from_millis(100)).measurement_time(Duration::from_secs(1));
    group.bench_function(format!("open a {n}-event journal to its first frame (80x24)"), |b| {
        b.iter(|| {
            let journal = Journal::open_read_only(&path).expect("the journal opens");
            let events = journal.events_after(0).expect("events read");
            let mut app = App::new(UiOptions { title: "replay: bench".into(), ..UiOptions::default() });
            update(&mut app, Action::Resize { width: 80, height: 24 });
            update(&mut app, Action::Feed(Feed::Events(events)));
            render_once(&app)
        })
    });
    group.finish();
}

criterion_group!(benches, steps, first_frame);
criterion_main!(benches);
