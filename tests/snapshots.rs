//! Reviewed snapshots of every view, at 80x24 and 200x50, in the dark and the high-contrast theme:
//! the real App driven through its actions and drawn on ratatui's TestBackend, written down as
//! its rows and its style runs (`tests/support/styled.rs`), so that a change to a view or a theme
//! shows in review as a diff of `tests/snapshots/VIEW__WxH__THEME.snap`.
//!
//! Nothing here reads the clock or the environment: fixed data times, colours forced to true
//! colour, fixed operator and log path. Update after a reviewed change with
//! `INSTA_UPDATE=always cargo test --test snapshots` (or `cargo insta review`), then read the diff.

use faultline::engine::Engine;
use faultline::model::{
    Baseline, Candidate, ChangeKind, ChangeRecord, Entity, EntityId, EntityKind, EventKind, Hop, Impact, Observation,
    ObservationKind, ProblemEvent, ProblemId, Relation, RelationKind, Severity, Signal, SignalEvidence, SignalKey,
    SignalKind, Timestamp, TrafficImpact, TrafficRole,
};
use faultline::runbook::{OutputLine, Runbook, RunbookSet, SilenceTarget, Stream};
use faultline::ui::topo::sample;
use faultline::ui::{update, Action, App, ColorMode, Command, Feed, Keymap, Runbooks, SourceHealth, Theme, UiOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

// Only drawing and typing are used here.
#[allow(dead_code)]
#[path = "tui/screen.rs"]
mod screen;
#[path = "support/styled.rs"]
mod styled;
use screen::{draw, type_text};

/// 2026-11-02T03:00:00Z in milliseconds.
const T0: i64 = 1_793_588_400_000;
const OPERATOR: &str = "alice@bastion-1";
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];
const THEMES: [&str; 2] = ["dark", "high-contrast"];

fn at(minutes: i64) -> Timestamp {
    Timestamp(T0 + minutes * 60_000)
}

fn id(s: &str) -> EntityId {
    EntityId::new(s)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The theme by name: the built-in (dark) one, or a repo theme file laid over it; true colour
/// whatever the terminal running the tests says.
fn theme(name: &str) -> Theme {
    match name {
        "dark" => Theme::builtin(ColorMode::TrueColor),
        other => {
            let path = root().join(format!("themes/{other}.toml"));
            Theme::load(Some(&path), ColorMode::TrueColor).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
    }
}

// ---- The data every view is drawn from ----

/// A signal first seen at `first` minutes, last seen at 9.
fn signal(kind: SignalKind, entity: &str, name: &str, count: u64, first: i64) -> Signal {
    Signal {
        key: SignalKey(format!("{}:{entity}:{name}", kind.as_str())),
        kind,
        entity: id(entity),
        name: name.to_string(),
        severity: Severity::Critical,
        first_seen: at(first),
        last_seen: at(9),
        count,
        active: true,
        score: 0.9,
        value: None,
        baseline: None,
        labels: Default::default(),
        mark: None,
    }
}

fn with_labels(mut s: Signal, pairs: &[(&str, &str)]) -> Signal {
    s.labels = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    s
}

/// An evidence path from `from` along `hops` (relation, next entity).
fn path(from: &str, hops: &[(RelationKind, &str)]) -> Vec<Hop> {
    let mut at = id(from);
    hops.iter()
        .map(|(relation, to)| {
            let hop = Hop { from: at.clone(), relation: *relation, to: id(to) };
            at = id(to);
            hop
        })
        .collect()
}

/// cpu_utilisation on host:db-1 at 0.97 against an expected 0.31 (band 0.20–0.40).
fn cpu_signal() -> Signal {
    let mut cpu = signal(SignalKind::Anomaly, "host:db-1", "cpu_utilisation", 340, 1);
    cpu.value = Some(0.97);
    cpu.baseline = Some(Baseline { expected: 0.31, lower: 0.2, upper: 0.4 });
    cpu.score = 0.97;
    cpu
}

/// A root-cause candidate that explains only itself, with no evidence.
fn candidate(entity: &str, entity_kind: EntityKind, score: f64, summary: &str) -> Candidate {
    Candidate {
        entity: id(entity),
        entity_kind,
        score,
        summary: summary.to_string(),
        signals: vec![],
        strength: score,
        first_breach: at(2),
        explains: 1,
        affected: 5,
        evidence: vec![],
        broke: vec![],
    }
}

/// Host db-1's CPU as the top cause (a 3-hop evidence path, the anomaly it broke), the orders
/// database second.
fn ranking() -> Vec<Candidate> {
    use RelationKind::{Calls, RunsOn};
    let cpu = cpu_signal();
    let summary = "cpu_utilisation anomaly on host:db-1 (0.97, expected 0.31)";
    let top = Candidate {
        signals: vec![cpu.key.clone()],
        strength: 0.97,
        first_breach: at(1),
        explains: 4,
        evidence: vec![
            path(
                "service:checkout",
                &[(Calls, "database:orders"), (RunsOn, "process:postgres"), (RunsOn, "host:db-1")],
            ),
            path("service:frontend", &[(Calls, "service:checkout")]),
        ],
        broke: vec![SignalEvidence::of(&cpu)],
        ..candidate("host:db-1", EntityKind::Host, 0.92, summary)
    };
    let second = Candidate {
        strength: 0.6,
        explains: 2,
        ..candidate("database:orders", EntityKind::Database, 0.41, "slow queries on database:orders")
    };
    vec![top, second]
}

fn impact() -> Impact {
    let affected = ["database:orders", "host:db-1", "process:postgres", "service:checkout", "service:frontend"];
    Impact {
        affected: affected.iter().map(|e| id(e)).collect(),
        services: 2,
        active_signals: 2,
        signals: 3,
        kpis: vec![],
        traffic: vec![TrafficImpact {
            role: TrafficRole::Errors,
            value: 12.0,
            before: Some(0.5),
            vs_before: Some(23.0),
            entities: vec![id("service:frontend")],
        }],
    }
}

/// Three problems: P-0001 open, critical and fully explained; P-0002 resolved; P-0003 a disk
/// filling on host:batch-1 (what the `free-disk` runbook matches).
fn events() -> Vec<ProblemEvent> {
    let (p1, p2, p3) = (ProblemId(1), ProblemId(2), ProblemId(3));
    let latency = with_labels(
        signal(SignalKind::Alert, "service:checkout", "CheckoutLatencyHigh", 12, 0),
        &[("alertname", "CheckoutLatencyHigh"), ("service", "checkout"), ("severity", "critical")],
    );
    let mut timeouts = signal(SignalKind::LogBurst, "database:orders", "canceling statement due to timeout", 1234, 2);
    timeouts.active = false;
    let disk_full = signal(SignalKind::Alert, "host:logs-1", "DiskWillFillIn4Hours", 3, 5);
    let mut disk_low = with_labels(
        signal(SignalKind::Alert, "host:batch-1", "DiskSpaceLow", 7, 6),
        &[("alertname", "DiskSpaceLow"), ("instance", "batch-1:9100"), ("mountpoint", "/var/lib/batch")],
    );
    disk_low.severity = Severity::Major;
    let deployment = ChangeRecord {
        at: at(-5),
        entity: id("process:postgres"),
        change: ChangeKind::Deployment,
        description: "postgres 16.2 rolled out with work_mem 4GB".to_string(),
        reason: "on the root cause's stack, 5m 0s before onset".to_string(),
    };
    let kinds = vec![
        (p1, 0, EventKind::Opened { title: "checkout latency high".to_string(), severity: Severity::Critical }),
        (p1, 0, EventKind::SignalAttached { signal: latency }),
        (p1, 1, EventKind::SignalAttached { signal: cpu_signal() }),
        (p1, 2, EventKind::SignalAttached { signal: timeouts }),
        (p1, 3, EventKind::RootCauseRanked { candidates: ranking() }),
        (p1, 3, EventKind::FoundationalCauseLinked { change: deployment }),
        (p1, 4, EventKind::ImpactUpdated { impact: impact() }),
        (p2, 5, EventKind::Opened { title: "disk filling on host:logs-1".to_string(), severity: Severity::Warning }),
        (p2, 5, EventKind::SignalAttached { signal: disk_full }),
        (p3, 6, EventKind::Opened { title: "disk space low on host:batch-1".to_string(), severity: Severity::Major }),
        (p3, 6, EventKind::SignalAttached { signal: disk_low }),
        (p2, 8, EventKind::Resolved),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, (problem, minute, kind))| ProblemEvent { seq: i as u64 + 1, problem, at: at(minute), kind })
        .collect()
}

/// The estate around P-0001, and host db-1's CPU every 30 s from 02:45 (0.3, then 0.97 from 03:01).
fn observations() -> Vec<Observation> {
    let fact = |kind| Observation { at: at(-30), source: "topology".to_string(), kind };
    let entity = |name: &str, kind| fact(ObservationKind::Entity { entity: Entity::new(id(name), kind) });
    let relation = |from: &str, kind, to: &str| {
        let relation = Relation { from: id(from), kind, to: id(to), learned_from: String::new() };
        fact(ObservationKind::Relation { relation })
    };
    let mut out = vec![
        entity("service:frontend", EntityKind::Service),
        entity("service:checkout", EntityKind::Service),
        entity("database:orders", EntityKind::Database),
        entity("process:postgres", EntityKind::Process),
        entity("host:db-1", EntityKind::Host),
        relation("service:frontend", RelationKind::Calls, "service:checkout"),
        relation("service:checkout", RelationKind::Calls, "database:orders"),
        relation("database:orders", RelationKind::RunsOn, "process:postgres"),
        relation("process:postgres", RelationKind::RunsOn, "host:db-1"),
    ];
    let samples = (0..=40)
        .map(|i| {
            let t = Timestamp(at(-15).millis() + i * 30_000);
            (t, if t < at(1) { 0.3 } else { 0.97 })
        })
        .collect();
    out.push(Observation {
        at: at(5),
        source: "prometheus".to_string(),
        kind: ObservationKind::Metric { entity: id("host:db-1"), metric: "cpu_utilisation".to_string(), samples },
    });
    out
}

/// The repo's example runbooks, named by their path in the repo (not where it is checked out).
fn runbooks() -> Runbooks {
    let dir = root().join("fixtures/runbooks");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let list = files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let shown = Path::new("fixtures/runbooks").join(path.file_name().expect("a file name"));
            Runbook::parse(&text, &shown).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    Runbooks(Arc::new(RunbookSet::from_runbooks(list).expect("the example runbooks load as a set")))
}

fn options() -> UiOptions {
    UiOptions {
        title: "live: prod-eu-1".to_string(),
        readonly: false,
        log_path: Some(PathBuf::from("/var/log/faultline/ui.log")),
        operator: OPERATOR.to_string(),
        silence: Some(SilenceTarget {
            via: "am".to_string(),
            url: "http://alertmanager:9093/api/v2/silences".to_string(),
            duration_ms: 2 * 3_600_000,
        }),
        runbooks: runbooks(),
        ..UiOptions::default()
    }
}

/// An App in `theme` sized `width`x`height` that has received the problems, the estate and the
/// health of its three sources.
fn app(theme_name: &str, (width, height): (u16, u16)) -> App {
    let mut app = App::with_style(options(), Keymap::builtin(), theme(theme_name));
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Observations(observations()).into());
    update(&mut app, Feed::Events(events()).into());
    for name in ["alertmanager", "loki", "prometheus"] {
        update(&mut app, Feed::Source { name: name.to_string(), health: SourceHealth::Ok }.into());
    }
    app
}

fn command(app: &mut App, command: Command) {
    update(app, Action::Command(command));
}

/// Selects problem `n` in the list.
fn select(app: &mut App, n: u64) {
    command(app, Command::Top);
    while app.selected != Some(ProblemId(n)) {
        let before = app.selected;
        command(app, Command::Down);
        assert_ne!(app.selected, before, "P-{n:04} is not in the list");
    }
}

/// Renders `build` at every size in every theme and checks each against `VIEW__WxH__THEME`.
fn snapshot_each(view: &str, build: impl Fn(&str, (u16, u16)) -> App) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        for size in SIZES {
            for theme in THEMES {
                let app = build(theme, size);
                assert_eq!(app.size, size, "{view}: the app was not drawn at its size");
                let name = format!("{view}__{}x{}__{theme}", size.0, size.1);
                insta::assert_snapshot!(name, styled::styled_text(&draw(&app)));
            }
        }
    });
}

// ---- The views ----

/// The base App after `commands`, then `typed` as key presses.
fn after(commands: &'static [Command], typed: &'static str) -> impl Fn(&str, (u16, u16)) -> App {
    move |theme, size| {
        let mut app = app(theme, size);
        for c in commands {
            command(&mut app, *c);
        }
        type_text(&mut app, typed);
        app
    }
}

#[test]
fn list() {
    snapshot_each("list", app);
}

#[test]
fn list_sorted_by_newest() {
    snapshot_each("sort", after(&[Command::Sort], ""));
}

#[test]
fn filter_being_typed() {
    snapshot_each("filter", after(&[Command::Filter], "disk"));
}

#[test]
fn palette_with_a_query() {
    snapshot_each("palette", after(&[Command::Palette], "db"));
}

#[test]
fn help_overlay() {
    snapshot_each("help", after(&[Command::Help], ""));
}

#[test]
fn stale_and_down_sources() {
    snapshot_each("sources", |theme, size| {
        let mut app = app(theme, size);
        let stale = SourceHealth::Stale { reason: "timeout after 10s".to_string() };
        let down = SourceHealth::Down { reason: "connection refused".to_string() };
        update(&mut app, Feed::Source { name: "loki".to_string(), health: stale }.into());
        update(&mut app, Feed::Source { name: "alertmanager".to_string(), health: down }.into());
        app
    });
}

/// Root cause, evidence, foundational cause, impact, runbooks, timeline; the chart when tall.
#[test]
fn detail() {
    snapshot_each("detail", after(&[Command::Open], ""));
}

#[test]
fn detail_scrolled_to_the_end() {
    snapshot_each("detail_end", after(&[Command::Open, Command::Bottom], ""));
}

/// Two events back in the detail: the status line says REPLAY, the timeline marks the cursor.
#[test]
fn detail_in_replay() {
    snapshot_each("replay", after(&[Command::Open, Command::StepBack, Command::StepBack], ""));
}

#[test]
fn silence_plan() {
    snapshot_each("plan_silence", after(&[Command::Silence], ""));
}

/// On P-0003 (second in the list): the disk problem.
#[test]
fn runbook_chooser() {
    snapshot_each("runbooks", after(&[Command::Down, Command::Runbooks], ""));
}

/// `free-disk` (key `d`) on the disk problem: a destructive plan that asks for the host's name.
#[test]
fn runbook_plan() {
    snapshot_each("plan_runbook", after(&[Command::Down, Command::Open], "d"));
}

/// The disk problem with `free-disk` running and some of its output streamed in.
fn running(theme: &str, size: (u16, u16)) -> App {
    let mut app = app(theme, size);
    select(&mut app, 3);
    command(&mut app, Command::Open);
    let plan = vec!["runbook free-disk".to_string(), "1. run: df -h -- /var/lib/batch".to_string()];
    let started =
        EventKind::RunbookStarted { runbook: "free-disk".to_string(), by: OPERATOR.to_string(), plan, auto: false };
    let event = ProblemEvent { seq: 100, problem: ProblemId(3), at: at(9), kind: started };
    update(&mut app, Feed::Events(vec![event]).into());
    let line = |step, stream, text: &str| OutputLine {
        runbook: "free-disk".to_string(),
        step,
        stream,
        text: text.to_string(),
    };
    let lines = vec![
        line(0, Stream::Note, "step 1 run: df -h -- /var/lib/batch"),
        line(0, Stream::Stdout, "Filesystem      Size  Used Avail Use% Mounted on"),
        line(0, Stream::Stdout, "/dev/nvme1n1    200G  191G  9.0G  96% /var/lib/batch"),
        line(1, Stream::Note, "step 2 run: find /var/lib/batch/tmp -xdev -type f -mmin +1440 -print -delete"),
        line(1, Stream::Stdout, "/var/lib/batch/tmp/export-2026-10-30.csv"),
        line(1, Stream::Stderr, "find: '/var/lib/batch/tmp/locked': Permission denied"),
    ];
    update(&mut app, Feed::RunOutput { problem: ProblemId(3), lines }.into());
    app
}

#[test]
fn run_output_pane_in_the_detail() {
    snapshot_each("run_pane", running);
}

#[test]
fn run_output_full_screen() {
    snapshot_each("run_output", |theme, size| {
        let mut app = running(theme, size);
        command(&mut app, Command::Output);
        app
    });
}

// ---- The demo scenario, played through the engine once ----

/// The demo's observations and the events the engine made of them.
fn demo_data() -> &'static (Vec<Observation>, Vec<ProblemEvent>) {
    static DATA: OnceLock<(Vec<Observation>, Vec<ProblemEvent>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = root().join("fixtures/scenarios/db-cpu-saturation.jsonl");
        let scenario = faultline::sources::fixture::load(&path).expect("the demo scenario loads");
        let mut engine = Engine::new(Default::default());
        let mut events = Vec::new();
        for o in &scenario.observations {
            engine.observe(o, &mut events);
        }
        (scenario.observations, events)
    })
}

/// The demo in an App with its storm problem (the one whose root cause is host:db-1) selected,
/// the cursor on its last root-cause ranking, while the root's signals fire.
fn demo(theme_name: &str, (width, height): (u16, u16)) -> App {
    let (observations, events) = demo_data();
    let opts = UiOptions {
        title: "demo: db-cpu-saturation".to_string(),
        log_path: Some(PathBuf::from("/var/log/faultline/ui.log")),
        operator: OPERATOR.to_string(),
        ..UiOptions::default()
    };
    let mut app = App::with_style(opts, Keymap::builtin(), theme(theme_name));
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Observations(observations.clone()).into());
    update(&mut app, Feed::Events(events.clone()).into());
    let storm = app
        .visible()
        .iter()
        .find(|p| p.root_causes.first().is_some_and(|c| c.entity == id("host:db-1")))
        .map(|p| p.id)
        .expect("a problem with the demo's root cause");
    select(&mut app, storm.0);
    command(&mut app, Command::PreviousRanking);
    app
}

#[test]
fn demo_storm_detail() {
    snapshot_each("demo_detail", |theme, size| {
        let mut app = demo(theme, size);
        command(&mut app, Command::Open);
        app
    });
}

/// `T` on the storm: its stack bottom-up, the root cause marked.
#[test]
fn demo_storm_topology() {
    snapshot_each("demo_topology", |theme, size| {
        let mut app = demo(theme, size);
        command(&mut app, Command::Topology);
        assert!(app.topo.is_some(), "T opened no topology: {:?}", app.notice);
        app
    });
}

/// A generated estate of 200 entities (12 services of 15 pods on 6 hosts, and a database).
#[test]
fn topology_of_200_entities() {
    snapshot_each("topology_200", |theme_name, (width, height)| {
        let mut app = App::with_style(options(), Keymap::builtin(), theme(theme_name));
        update(&mut app, Action::Resize { width, height });
        update(&mut app, Feed::Observations(sample::estate(12, 15, 6, at(0))).into());
        let opened = EventKind::Opened { title: "estate".to_string(), severity: Severity::Info };
        let event = ProblemEvent { seq: 1, problem: ProblemId(1), at: at(1), kind: opened };
        update(&mut app, Feed::Events(vec![event]).into());
        app.open_topology_all();
        assert_eq!(app.topo.as_ref().map(|t| t.diagram.entities), Some(200));
        app
    });
}
