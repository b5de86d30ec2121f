//! The `:` palette, the `/` filter, `S` sort, the status line's freshness and the list at scale,
//! driven through `update` and drawn on ratatui's TestBackend: on the demo scenario played
//! through the engine, and on small hand-made problem sets.

use crossterm::event::KeyCode;
use faultline::model::{
    AlertState, EntityId, EventKind, Impact, Mark, Observation, ObservationKind, ProblemEvent, ProblemId, Severity,
    Signal, SignalKey, SignalKind, Timestamp,
};
use faultline::ui::palette::Target;
use faultline::ui::{update, Action, App, Feed, SourceHealth, UiOptions, View};

#[path = "tui/screen.rs"]
mod screen;
use screen::{demo_app, draw, key, rows, screen, type_text};

/// 2026-11-02T03:00:00Z in milliseconds.
const T0: i64 = 1_793_588_400_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(T0 + minutes * 60_000)
}

fn sized(title: &str, width: u16, height: u16) -> App {
    let mut app = App::new(UiOptions { title: title.to_string(), ..UiOptions::default() });
    update(&mut app, Action::Resize { width, height });
    app
}

fn signal(key: &str, entity: &str, mark: Option<Mark>) -> Signal {
    Signal {
        key: SignalKey(key.to_string()),
        kind: SignalKind::Alert,
        entity: EntityId::new(entity),
        name: format!("{key}Alert"),
        severity: Severity::Warning,
        first_seen: at(0),
        last_seen: at(1),
        count: 1,
        active: true,
        score: 0.5,
        value: None,
        baseline: None,
        labels: Default::default(),
        mark,
    }
}

/// Events for one problem: opened at `minute`, with its signals.
fn problem(
    seq: &mut u64,
    id: u64,
    minute: i64,
    title: &str,
    severity: Severity,
    signals: Vec<Signal>,
) -> Vec<ProblemEvent> {
    let mut out = Vec::new();
    let mut push = |kind| {
        *seq += 1;
        out.push(ProblemEvent { problem: ProblemId(id), seq: *seq, at: at(minute), kind });
    };
    push(EventKind::Opened { title: title.to_string(), severity });
    for s in signals {
        push(EventKind::SignalAttached { signal: s });
    }
    out
}

/// Three problems: a critical one on db-1 (oldest), a major one on checkout, and the smart
/// filter's background problem with two marked signals (newest).
fn three() -> Vec<ProblemEvent> {
    let mut seq = 0;
    let mut events = problem(
        &mut seq,
        1,
        0,
        "cpu saturation on host:db-1",
        Severity::Critical,
        vec![signal("cpu", "host:db-1", None)],
    );
    events.extend(problem(
        &mut seq,
        2,
        5,
        "checkout latency high",
        Severity::Major,
        vec![signal("lat", "service:checkout", None), signal("err", "service:checkout", None)],
    ));
    events.extend(problem(
        &mut seq,
        3,
        9,
        "background: flapping and low-criticality signals",
        Severity::Info,
        vec![
            signal("flap", "service:batch", Some(Mark::Flapping { activations: 6 })),
            signal("low", "service:reports", Some(Mark::LowCriticality)),
        ],
    ));
    events
}

fn three_app(width: u16, height: u16) -> App {
    let mut app = sized("demo: hand-made", width, height);
    update(&mut app, Feed::Events(three()).into());
    app
}

fn listed(app: &App) -> Vec<u64> {
    app.visible().iter().map(|p| p.id.0).collect()
}

#[test]
fn palette_on_the_demo_jumps_from_db_1_to_its_signals() {
    let mut app = demo_app(80, 24);
    key(&mut app, KeyCode::Char(':'));
    assert!(app.palette.is_some(), "`:` opens the palette");
    type_text(&mut app, "db-1");
    let palette = app.palette.as_ref().unwrap();
    assert_eq!(palette.results[0].target, Target::Entity(EntityId::new("host:db-1")), "{:#?}", palette.results);
    let text = screen(&app);
    assert!(text.contains(": db-1") && text.contains("entity   host:db-1"), "{text}");

    key(&mut app, KeyCode::Enter);
    assert!(app.palette.is_none());
    let View::Detail(id) = app.view else { panic!("Enter opens a detail, not {:?}", app.view) };
    let problem = &app.problems().problems[&id];
    // The demo has played to its end (the storm resolved): the problem is the one holding it.
    assert!(problem.signals.values().any(|s| s.entity.as_str() == "host:db-1"), "{problem:#?}");
    assert_eq!(app.selected, Some(id));
    let text = screen(&app);
    let shown = rows(&draw(&app));
    let signals =
        shown.iter().position(|r| r.starts_with("SIGNALS")).unwrap_or_else(|| panic!("signals shown:\n{text}"));
    assert!(shown[signals..].iter().any(|r| r.contains("host:db-1")), "{text}");
    assert!(text.contains(&format!("host:db-1: signals in {id}")), "{text}");
}

#[test]
fn palette_ranks_deterministically_opens_problems_runs_commands_and_esc_closes() {
    let mut app = three_app(80, 24);
    // An empty query lists commands first, then problems in list order.
    key(&mut app, KeyCode::Char(':'));
    let first: Vec<Target> = app.palette.as_ref().unwrap().results.iter().take(1).map(|e| e.target.clone()).collect();
    assert_eq!(first, vec![Target::Command(faultline::ui::Command::Down)]);
    type_text(&mut app, "P-0002");
    let results = &app.palette.as_ref().unwrap().results;
    assert_eq!(results[0].target, Target::Problem(ProblemId(2)), "{results:#?}");
    // The same query twice ranks the same.
    let again = results.clone();
    key(&mut app, KeyCode::Backspace);
    type_text(&mut app, "2");
    assert_eq!(app.palette.as_ref().unwrap().results, again);
    key(&mut app, KeyCode::Enter);
    assert_eq!((app.view, app.selected), (View::Detail(ProblemId(2)), Some(ProblemId(2))));

    // A command by name runs as its key does: `silence` says there is no Alertmanager.
    key(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "silence");
    assert_eq!(app.palette.as_ref().unwrap().results[0].target, Target::Command(faultline::ui::Command::Silence));
    key(&mut app, KeyCode::Enter);
    assert!(app.notice.as_deref().unwrap_or_default().contains("no Alertmanager"), "{:?}", app.notice);

    // Esc closes without doing anything; typed letters went to the query, not the keymap.
    key(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "qjk");
    assert!(!app.should_quit);
    key(&mut app, KeyCode::Esc);
    assert!(app.palette.is_none());
    assert_eq!(app.view, View::Detail(ProblemId(2)));
}

#[test]
fn filter_narrows_as_typed_enter_keeps_it_esc_clears_it() {
    let mut app = three_app(80, 24);
    assert_eq!(listed(&app), vec![1, 2, 3]);
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "check");
    assert_eq!(listed(&app), vec![2], "narrowed live by title");
    let text = screen(&app);
    assert!(text.contains("problems (1 of 3)") && text.contains("/ check▏") && text.contains("1 of 3"), "{text}");
    // Entity and status match too.
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    type_text(&mut app, "db-1");
    assert_eq!(listed(&app), vec![1]);
    assert_eq!(app.selected, Some(ProblemId(1)));
    key(&mut app, KeyCode::Enter);
    assert!(!app.list.editing && app.list.query == "db-1", "Enter keeps the filter");
    assert_eq!(app.view, View::List, "and does not open the problem");
    // Typed letters are keys again: `j` moves (within the one listed problem).
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected, Some(ProblemId(1)));
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "zzzz");
    assert!(listed(&app).is_empty());
    assert!(screen(&app).contains("no problem matches the filter"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(listed(&app), vec![1, 2, 3], "Esc clears");
    assert!(!screen(&app).contains(" / "), "{}", screen(&app));
    // Esc on the list clears a kept filter too.
    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "open checkout");
    key(&mut app, KeyCode::Enter);
    assert_eq!(listed(&app), vec![2]);
    key(&mut app, KeyCode::Esc);
    assert_eq!(listed(&app), vec![1, 2, 3]);
}

#[test]
fn sort_cycles_severity_newest_impact_and_the_title_says_which() {
    let mut app = three_app(80, 24);
    assert!(screen(&app).contains("problems (3)") && screen(&app).contains("HEADLINE · by severity"));
    key(&mut app, KeyCode::Char('S'));
    assert_eq!(listed(&app), vec![3, 2, 1]);
    assert!(screen(&app).contains("HEADLINE · by newest"));
    // Impact: open first, then users, errors, services, entities touched. P-0002 touches two
    // services from now on; P-0001 and P-0003 none, so severity decides between them.
    let affected = vec![EntityId::new("service:checkout"), EntityId::new("service:frontend")];
    let impact = Impact { affected, services: 2, ..Impact::default() };
    let e = ProblemEvent { problem: ProblemId(2), seq: 100, at: at(10), kind: EventKind::ImpactUpdated { impact } };
    update(&mut app, Feed::Events(vec![e]).into());
    key(&mut app, KeyCode::Char('S'));
    assert!(screen(&app).contains("HEADLINE · by impact"));
    assert_eq!(listed(&app), vec![2, 1, 3]);
    key(&mut app, KeyCode::Char('S'));
    assert_eq!(listed(&app), vec![1, 2, 3]);
    assert!(screen(&app).contains("HEADLINE · by severity"));
    assert_eq!(app.selected, Some(ProblemId(1)), "the selection stays on its problem");
}

#[test]
fn the_background_problem_is_titled_by_what_it_holds_and_marked() {
    let app = three_app(120, 24);
    let text = screen(&app);
    let row = text.lines().find(|l| l.contains("P-0003")).unwrap();
    assert!(row.contains("◌ background: 2 flapping or low-criticality signals"), "{text}");
    assert!(!text.contains("flapping and low-criticality"), "{text}");
}

fn alert(source: &str, at: Timestamp) -> Observation {
    Observation {
        at,
        source: source.to_string(),
        kind: ObservationKind::Alert {
            entity: EntityId::new("host:db-1"),
            name: "HostDown".to_string(),
            fingerprint: "f".to_string(),
            state: AlertState::Firing,
            severity: Severity::Critical,
            labels: Default::default(),
            summary: String::new(),
        },
    }
}

fn metric(source: &str, last: Timestamp) -> Observation {
    Observation {
        at: at(0),
        source: source.to_string(),
        kind: ObservationKind::Metric {
            entity: EntityId::new("host:db-1"),
            metric: "cpu".to_string(),
            samples: vec![(at(0), 0.5), (last, 0.6)],
        },
    }
}

fn status_line(app: &App) -> String {
    rows(&draw(app)).last().cloned().unwrap_or_default()
}

#[test]
fn status_line_data_time_follows_the_freshest_data_and_shows_each_sources_lag() {
    let mut app = three_app(120, 24);
    assert!(status_line(&app).contains("data 03:09:00"), "{}", status_line(&app));
    // Observations keep flowing after the last problem event: the data time follows them.
    let prom = metric("prometheus", Timestamp(at(25).0 + 30_000));
    update(&mut app, Feed::Observations(vec![prom, alert("alertmanager", at(25)), alert("loki", at(20))]).into());
    let status = status_line(&app);
    assert!(status.contains("data 03:25:30 │ 3 open · 0 resolved │ am 30s · loki 5m · prom 0s"), "{status}");
    // A demo measures lags against its newest data, never the wall clock.
    update(&mut app, Action::Clock { unix_ms: at(60).0 });
    assert!(status_line(&app).contains("prom 0s"), "{}", status_line(&app));
    // Behind other sources is not stale by itself in a demo (alerts come on change); a source
    // whose health says stale says so, with its lag; one whose health is ok shows a tick.
    update(
        &mut app,
        Feed::Source { name: "loki".into(), health: SourceHealth::Stale { reason: "timeout".into() } }.into(),
    );
    update(&mut app, Feed::Source { name: "prometheus".into(), health: SourceHealth::Ok }.into());
    let status = status_line(&app);
    assert!(status.contains("loki ! stale: timeout (5m) · prom ✓ 0s · am 30s"), "{status}");
    // A live session measures against the clock: a feed gone quiet shows its lag, marked.
    let mut live = sized("prod-eu-1", 120, 24);
    update(&mut live, Feed::Observations(vec![alert("alertmanager", at(25))]).into());
    update(&mut live, Action::Clock { unix_ms: at(25).0 + 3_000 });
    assert!(status_line(&live).contains("data 03:25:00 │ 0 open · 0 resolved │ am 3s"), "{}", status_line(&live));
    update(&mut live, Action::Clock { unix_ms: at(30).0 });
    let status = status_line(&live);
    assert!(status.contains("am ! 5m"), "{status}");
}

/// `n` problems, opened a second apart (seq = id).
fn many(n: u64) -> Vec<ProblemEvent> {
    (1..=n)
        .map(|i| ProblemEvent {
            problem: ProblemId(i),
            seq: i,
            at: Timestamp(T0 + i as i64 * 1000),
            kind: EventKind::Opened { title: format!("alert {i} on host:h-{i}"), severity: Severity::Warning },
        })
        .collect()
}

#[test]
fn ten_thousand_problems_list_p_10000_in_full_and_page_smoothly() {
    let mut app = sized("demo: many", 80, 24);
    update(&mut app, Feed::Events(many(10_050)).into());
    key(&mut app, KeyCode::Char('S')); // newest first: P-10050 on top
    let text = screen(&app);
    let first = text.lines().find(|l| l.contains("P-1")).unwrap();
    assert!(first.contains("P-10050 "), "{text}");
    // Walk down to P-10000: its row reads P-10000, never P-1000.
    for _ in 0..50 {
        key(&mut app, KeyCode::Char('j'));
    }
    assert_eq!(app.selected, Some(ProblemId(10_000)));
    let text = screen(&app);
    let row = text.lines().find(|l| l.contains('›')).unwrap();
    assert!(row.contains("P-10000 ") && row.contains("alert 10000"), "{row}");
    // Only the rows on screen are drawn: 21 problem rows at 80x24.
    assert_eq!(text.lines().filter(|l| l.contains("alert ")).count(), 21, "{text}");
    // The bottom of the list is P-0001, drawn at the same id width.
    key(&mut app, KeyCode::Char('G'));
    let text = screen(&app);
    assert!(text.lines().any(|l| l.contains("› P-0001 ")), "{text}");
}
