//! The terminal UI driven through its actions and drawn on ratatui's TestBackend: what an on-call
//! engineer sees at 80x24 and 120x40.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use faultline::model::{
    Baseline, Candidate, ChangeKind, ChangeRecord, EntityId, EntityKind, EventKind, Hop, Impact, KpiImpact,
    Observation, ObservationKind, ProblemEvent, ProblemId, Relation, RelationKind, Severity, Signal, SignalEvidence,
    SignalKey, SignalKind, SilenceRecord, Timestamp,
};
use faultline::runbook::silence::matcher_strings;
use faultline::runbook::{SilencePlan, SilenceTarget};
use faultline::ui::app::{NO_ALERTMANAGER_NOTICE, READONLY_NOTICE, REPLAY_SILENCE_NOTICE};
use faultline::ui::theme::xterm256;
use faultline::ui::views::detail;
use faultline::ui::{
    update, Action, App, ColorMode, Command, Feed, Keymap, Proposal, Request, SourceHealth, Theme, UiOptions, View,
};
use ratatui::style::{Color, Modifier};
use ratatui::text::Line;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[path = "tui/screen.rs"]
mod screen;
use screen::{draw, rows, screen};

/// 2026-11-02T03:00:00Z in milliseconds.
const T0: i64 = 1_793_588_400_000;
const EVIDENCE_PATH: &str = "service:checkout ─calls→ database:orders ─runs on→ process:postgres ─runs on→ host:db-1";

fn at(minutes: i64) -> Timestamp {
    Timestamp(T0 + minutes * 60_000)
}

fn id(s: &str) -> EntityId {
    EntityId::new(s)
}

#[allow(clippy::too_many_arguments)]
fn signal(key: &str, kind: SignalKind, entity: &str, name: &str, count: u64, active: bool, score: f64) -> Signal {
    Signal {
        key: SignalKey(key.to_string()),
        kind,
        entity: id(entity),
        name: name.to_string(),
        severity: Severity::Critical,
        first_seen: at(0),
        last_seen: at(9),
        count,
        active,
        score,
        value: None,
        baseline: None,
        labels: Default::default(),
        mark: None,
    }
}

fn hop(from: &str, relation: RelationKind, to: &str) -> Hop {
    Hop { from: id(from), relation, to: id(to) }
}

/// Two problems: P-0001 open and fully explained (signals, ranked root cause with a 3-hop
/// evidence path, a deployment as foundational cause, impact), P-0002 resolved.
fn events() -> Vec<ProblemEvent> {
    let p1 = ProblemId(1);
    let p2 = ProblemId(2);
    let top = Candidate {
        entity: id("host:db-1"),
        entity_kind: EntityKind::Host,
        score: 0.92,
        summary: "cpu_utilisation anomaly on host:db-1 (0.97, expected 0.31)".to_string(),
        signals: vec![SignalKey("anomaly:host:db-1:cpu_utilisation".to_string())],
        strength: 0.97,
        first_breach: at(0),
        explains: 4,
        affected: 5,
        evidence: vec![
            vec![
                hop("service:checkout", RelationKind::Calls, "database:orders"),
                hop("database:orders", RelationKind::RunsOn, "process:postgres"),
                hop("process:postgres", RelationKind::RunsOn, "host:db-1"),
            ],
            vec![hop("service:frontend", RelationKind::Calls, "host:db-1")],
        ],
        broke: vec![],
    };
    let second = Candidate {
        entity: id("database:orders"),
        entity_kind: EntityKind::Database,
        score: 0.41,
        summary: "slow queries on database:orders".to_string(),
        signals: vec![],
        strength: 0.6,
        first_breach: at(1),
        explains: 2,
        affected: 5,
        evidence: vec![],
        broke: vec![],
    };
    let kinds = vec![
        (p1, 0, EventKind::Opened { title: "checkout latency high".to_string(), severity: Severity::Critical }),
        (
            p1,
            0,
            EventKind::SignalAttached {
                signal: signal(
                    "alert:abc",
                    SignalKind::Alert,
                    "service:checkout",
                    "CheckoutLatencyHigh",
                    12,
                    true,
                    1.0,
                ),
            },
        ),
        (
            p1,
            1,
            EventKind::SignalAttached {
                signal: signal(
                    "anomaly:host:db-1:cpu_utilisation",
                    SignalKind::Anomaly,
                    "host:db-1",
                    "cpu_utilisation",
                    340,
                    true,
                    0.97,
                ),
            },
        ),
        (
            p1,
            2,
            EventKind::SignalAttached {
                signal: signal(
                    "log:database:orders:t7",
                    SignalKind::LogBurst,
                    "database:orders",
                    "canceling statement due to timeout",
                    1234,
                    false,
                    0.6,
                ),
            },
        ),
        (p1, 3, EventKind::RootCauseRanked { candidates: vec![top, second] }),
        (
            p1,
            3,
            EventKind::FoundationalCauseLinked {
                change: ChangeRecord {
                    at: at(-5),
                    entity: id("process:postgres"),
                    change: ChangeKind::Deployment,
                    description: "postgres 16.2 rolled out with work_mem 4GB".to_string(),
                    reason: "on the root cause's stack, 5m 0s before onset".to_string(),
                },
            },
        ),
        (
            p1,
            4,
            EventKind::ImpactUpdated {
                impact: Impact {
                    affected: vec![
                        id("database:orders"),
                        id("host:db-1"),
                        id("process:postgres"),
                        id("service:checkout"),
                        id("service:frontend"),
                    ],
                    services: 2,
                    active_signals: 2,
                    signals: 3,
                    ..Impact::default()
                },
            },
        ),
        (p2, 5, EventKind::Opened { title: "disk filling on host:logs-1".to_string(), severity: Severity::Warning }),
        (
            p2,
            5,
            EventKind::SignalAttached {
                signal: signal("alert:def", SignalKind::Alert, "host:logs-1", "DiskWillFillIn4Hours", 3, false, 0.5),
            },
        ),
        (p2, 20, EventKind::Resolved),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, (problem, minute, kind))| ProblemEvent { seq: i as u64 + 1, problem, at: at(minute), kind })
        .collect()
}

fn options() -> UiOptions {
    UiOptions {
        title: "demo: db-cpu-saturation".to_string(),
        readonly: false,
        log_path: Some(PathBuf::from("/var/log/faultline/ui.log")),
        ..UiOptions::default()
    }
}

/// An app sized `width`x`height` that has received both problems.
fn app_with_problems(width: u16, height: u16) -> App {
    let mut app = App::new(options());
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Events(events()).into());
    app
}

/// Presses a key through the keymap, as the event loop does.
fn press(app: &mut App, code: KeyCode) {
    let modifiers = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase() || c == '?') {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    let command = app.keymap.command_for(&KeyEvent::new(code, modifiers));
    let command = command.unwrap_or_else(|| panic!("{code:?} is not bound"));
    update(app, Action::Command(command));
}

/// Text with every run of whitespace made one space, to find phrases across wrapped lines.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn list_shows_both_problems_at_80x24_and_120x40() {
    for (w, h) in [(80, 24), (120, 40)] {
        let app = app_with_problems(w, h);
        let lines = rows(&draw(&app));
        let text = lines.join("\n");
        let row1 =
            lines.iter().find(|l| l.contains("P-0001")).unwrap_or_else(|| panic!("no P-0001 at {w}x{h}:\n{text}"));
        assert!(row1.contains("● OPEN"), "{row1}");
        assert!(row1.contains("◆ CRITICAL"), "{row1}");
        // The headline is the top root cause once one is ranked.
        assert!(row1.contains("cpu_utilisation anomaly on"), "{row1}");
        assert!(row1.contains("03:00:00"), "{row1}");
        let row2 = lines.iter().find(|l| l.contains("P-0002")).unwrap_or_else(|| panic!("no P-0002:\n{text}"));
        assert!(row2.contains("✓ RESOLVED"), "{row2}");
        assert!(row2.contains("△ WARNING"), "{row2}");
        assert!(row2.contains("disk filling on host:logs-1"), "{row2}");
        // Open problems come first.
        assert!(text.find("P-0001") < text.find("P-0002"));
        assert!(text.contains("HEADLINE"));
        assert_eq!(lines.len(), usize::from(h));
    }
}

#[test]
fn narrow_list_keeps_ids_status_and_truncates_headlines() {
    let app = app_with_problems(80, 24);
    let lines = rows(&draw(&app));
    let row1 = lines.iter().find(|l| l.contains("P-0001")).unwrap();
    // 80 columns: the raw count column is dropped, the long headline is cut with an ellipsis.
    assert!(!lines.iter().any(|l| l.contains("RAW")), "{lines:#?}");
    assert!(row1.contains('…'), "{row1}");
    let wide = rows(&draw(&app_with_problems(120, 40)));
    assert!(wide.iter().any(|l| l.contains("RAW")));
    let wide_row1 = wide.iter().find(|l| l.contains("P-0001")).unwrap();
    assert!(wide_row1.contains("1,586"), "{wide_row1}");
    assert!(wide_row1.contains("(0.97, expected 0.31)"), "{wide_row1}");
}

#[test]
fn j_and_k_move_the_selection_and_g_jumps() {
    let mut app = app_with_problems(80, 24);
    assert_eq!(app.selected, Some(ProblemId(1)));
    let marked = |app: &App| rows(&draw(app)).into_iter().find(|l| l.starts_with("› ")).unwrap_or_default();
    assert!(marked(&app).contains("P-0001"));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected, Some(ProblemId(2)));
    assert!(marked(&app).contains("P-0002"), "{}", marked(&app));
    // At the bottom, down stays put.
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected, Some(ProblemId(2)));
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.selected, Some(ProblemId(1)));
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.selected, Some(ProblemId(2)));
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.selected, Some(ProblemId(1)));
}

#[test]
fn selection_stays_on_its_problem_as_new_ones_arrive() {
    let mut app = app_with_problems(80, 24);
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.selected, Some(ProblemId(2)));
    let newer = ProblemEvent {
        seq: 100,
        problem: ProblemId(3),
        at: at(30),
        kind: EventKind::Opened { title: "queue backlog on queue:payments".to_string(), severity: Severity::Major },
    };
    update(&mut app, Feed::Events(vec![newer]).into());
    // P-0003 sorts above P-0002 (open before resolved), but the selection follows P-0002.
    assert_eq!(app.visible().iter().map(|p| p.id.0).collect::<Vec<_>>(), vec![1, 3, 2]);
    assert_eq!(app.selected, Some(ProblemId(2)));
    assert_eq!(app.selected_index(), Some(2));
}

#[test]
fn enter_opens_the_detail_and_esc_returns() {
    // 44 rows: on a tall terminal the SIMILAR block says "nothing similar" (two more rows).
    let mut app = app_with_problems(120, 44);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Detail(ProblemId(1)));
    let text = screen(&app);
    for expected in [
        "P-0001",
        "● OPEN",
        "ROOT CAUSE",
        "#1  0.92  cpu_utilisation anomaly on host:db-1 (0.97, expected 0.31)",
        "host:db-1 (host) · strength 0.97 · explains 4/5 affected · first breach 03:00:00",
        "evidence (2 paths, longest first):",
        EVIDENCE_PATH,
        "#2  0.41  slow queries on database:orders",
        "FOUNDATIONAL CAUSE",
        "deployment on process:postgres at 2026-11-02 02:55:00",
        "postgres 16.2 rolled out with work_mem 4GB",
        "why: on the root cause's stack, 5m 0s before onset",
        "IMPACT",
        "affected (5): database:orders, host:db-1, process:postgres, service:checkout, service:frontend",
        "services 2 · signals 2 active / 3 all · raw events 1,586",
        "SIGNALS",
        "opened as: checkout latency high",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Signal counts, with the active ones first and the cleared log burst last.
    let lines = rows(&draw(&app));
    let signal_rows: Vec<&String> = lines.iter().filter(|l| l.trim_end().ends_with("03:09:00")).collect();
    assert_eq!(signal_rows.len(), 3, "{text}");
    assert!(signal_rows[0].contains("CheckoutLatencyHigh") && signal_rows[0].contains("12"), "{}", signal_rows[0]);
    assert!(signal_rows[1].contains("cpu_utilisation") && signal_rows[1].contains("340"), "{}", signal_rows[1]);
    assert!(signal_rows[2].contains("log burst") && signal_rows[2].contains("1,234"), "{}", signal_rows[2]);
    assert!(signal_rows[2].contains("cleared"));

    press(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::List);
    let text = screen(&app);
    assert!(text.contains("HEADLINE") && text.contains("P-0002"), "{text}");
}

#[test]
fn detail_at_80x24_wraps_and_scrolls() {
    let mut app = app_with_problems(80, 24);
    press(&mut app, KeyCode::Enter);
    let first = screen(&app);
    assert!(first.contains("P-0001") && first.contains("ROOT CAUSE"), "{first}");
    // Every line of the detail fits 80 cells; the evidence chain wraps between hops, not inside one.
    let problem = app.detail_problem().unwrap();
    let all = detail::lines(problem, app.problems().as_of, &app.theme, 80);
    // The timeline pane (5 rows) stays under the scrolling lines.
    let rows = detail::body_rows(&app);
    assert_eq!(rows, 22 - 5);
    assert!(first.contains("TIMELINE") && first.contains("▶"), "{first}");
    assert!(all.len() > rows, "the detail should need scrolling at 80x24");
    for line in &all {
        assert!(line.width() <= 80, "too wide: {line}");
    }
    let joined: Vec<String> = all.iter().map(|l| l.to_string()).collect();
    assert!(squeezed(&joined.join("\n")).contains(EVIDENCE_PATH), "{joined:#?}");
    assert!(joined.iter().any(|l| l.trim_start().starts_with("─runs on→ ")), "{joined:#?}");

    press(&mut app, KeyCode::Char('G'));
    assert_eq!(app.detail_scroll, all.len() - rows);
    let last = screen(&app);
    assert!(last.contains("SIGNALS") && last.contains("TIMELINE"), "{last}");
    assert!(last.contains("03:20:00") || last.contains("foundational cause"), "{last}");
    assert!(!last.contains("ROOT CAUSE"), "{last}");
    // Scrolling past the end does nothing; PageUp and g come back.
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.detail_scroll, all.len() - rows);
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.detail_scroll, (all.len() - rows).saturating_sub(rows));
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.detail_scroll, 0);
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.detail_scroll, 1);
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(app.detail_scroll, 0);
}

/// A KPI as the engine reports it.
fn kpi(entity: &str, name: &str, unit: &str, value: f64, yesterday: Option<f64>, last_week: Option<f64>) -> KpiImpact {
    let d = |r: Option<f64>| r.map(|r| (value - r) / r);
    let worse = [d(yesterday), d(last_week)].iter().flatten().all(|d| *d <= -0.05) && yesterday.is_some();
    KpiImpact {
        entity: id(entity),
        name: name.to_string(),
        unit: unit.to_string(),
        value,
        yesterday,
        last_week,
        vs_yesterday: d(yesterday),
        vs_last_week: d(last_week),
        higher_is_better: true,
        worse,
    }
}

/// Problem 1's impact replaced by `impact`, its detail opened: the detail's lines at 80 columns,
/// each checked to fit.
fn detail_after_impact(app: &mut App, impact: Impact) -> Vec<String> {
    let update_impact =
        ProblemEvent { seq: 50, problem: ProblemId(1), at: at(10), kind: EventKind::ImpactUpdated { impact } };
    update(app, Feed::Events(vec![update_impact]).into());
    press(app, KeyCode::Enter);
    let problem = app.detail_problem().unwrap();
    let lines: Vec<String> =
        detail::lines(problem, app.problems().as_of, &app.theme, 80).iter().map(|l| l.to_string()).collect();
    for line in &lines {
        assert!(line.chars().count() <= 80, "too wide: {line}");
    }
    lines
}

#[test]
fn detail_shows_kpis_against_yesterday_and_last_week_within_80_columns() {
    let mut app = app_with_problems(80, 24);
    let mut impact = app.visible().iter().find(|p| p.id == ProblemId(1)).unwrap().impact.clone();
    impact.kpis = vec![
        kpi("service:checkout", "orders", "orders/min", 412.0, Some(664.5), Some(633.8)),
        kpi("service:frontend", "checkout_conversion_rate", "", 0.0312, None, Some(0.0311)),
    ];
    let lines = detail_after_impact(&mut app, impact);
    let text = squeezed(&lines.join("\n"));
    for expected in [
        "KPIs (2, 1 worse) against yesterday and last week:",
        "▼ worse orders 412 orders/min (-38% vs yesterday, -35% vs last week) on service:checkout",
        "✓ ok checkout_conversion_rate 0.0312 (no data yesterday, +0.3% vs last week) on service:frontend",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{}", lines.join("\n"));
    }
    // Scrolled to the impact section, the screen shows the worse KPI's verdict as a word.
    let row = lines.iter().position(|l| l.contains("KPIs (2")).unwrap();
    for _ in 0..row {
        press(&mut app, KeyCode::Char('j'));
    }
    let screen = screen(&app);
    assert!(screen.contains("▼ worse") && screen.contains("412 orders/min"), "{screen}");
}

#[test]
fn detail_shows_the_traffic_touched_against_before_onset_within_80_columns() {
    use faultline::model::{TrafficImpact, TrafficRole};
    let mut app = app_with_problems(80, 24);
    let mut impact = app.visible().iter().find(|p| p.id == ProblemId(1)).unwrap().impact.clone();
    impact.traffic = vec![
        TrafficImpact {
            role: TrafficRole::Requests,
            value: 120.0,
            before: Some(118.0),
            vs_before: Some(2.0 / 118.0),
            entities: vec![id("service:edge")],
        },
        TrafficImpact {
            role: TrafficRole::Errors,
            value: 12.0,
            before: Some(0.5),
            vs_before: Some(23.0),
            entities: vec![id("service:checkout"), id("service:search")],
        },
        TrafficImpact {
            role: TrafficRole::Users,
            value: 900.0,
            before: None,
            vs_before: None,
            entities: vec![id("service:edge")],
        },
    ];
    let lines = detail_after_impact(&mut app, impact);
    let problem = app.detail_problem().unwrap();
    let text = squeezed(&lines.join("\n"));
    for expected in [
        "requests 120 req/s (+2% vs before onset) at service:edge",
        "errors 12 err/s (+2300% vs before onset) at service:checkout, service:search",
        "users 900 users at service:edge",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{}", lines.join("\n"));
    }
    // The timeline's line for the update says the same in short.
    assert!(problem.timeline.iter().any(|e| e.text.contains("12 err/s (+2300% vs before onset)")));
}

#[test]
fn help_overlay_lists_every_binding_and_the_log_file() {
    // 52 rows: with the log pane's three commands and the history's two the help no longer fits
    // in 40.
    for (w, h) in [(80, 24), (120, 52)] {
        let mut app = app_with_problems(w, h);
        press(&mut app, KeyCode::Char('?'));
        assert!(app.help);
        // At 80x24 the help is longer than the screen: the scrolling keys scroll it to its end,
        // and its last row says how, and how to get out.
        let mut text = screen(&app);
        let scrolls = app.max_help_scroll() > 0;
        assert_eq!(scrolls, h == 24, "{text}");
        if scrolls {
            assert!(text.contains("j/k scroll · lines 1-21 of") && text.contains("q quits, any other key closes"));
            for _ in 0..app.max_help_scroll() {
                press(&mut app, KeyCode::Char('j'));
                text.push_str(&screen(&app));
            }
            assert!(app.help, "scrolling keys scroll a long help");
            assert_eq!(app.help_scroll, app.max_help_scroll());
        }
        for binding in app.keymap.bindings() {
            assert!(text.contains(&binding.keys_text()), "keys {:?} missing:\n{text}", binding.keys_text());
            assert!(squeezed(&text).contains(&binding.description), "{:?} missing:\n{text}", binding.description);
        }
        assert!(text.contains("Ctrl-c"), "{text}");
        assert!(text.contains("/var/log/faultline/ui.log"), "{text}");
        assert!(text.contains("runbook keys come from the runbook files"), "{text}");
        // Any other key closes it (when it fits, the scrolling keys too).
        let closing = if scrolls { KeyCode::Esc } else { KeyCode::Char('j') };
        press(&mut app, closing);
        assert!(!app.help);
        assert_eq!(app.selected, Some(ProblemId(1)), "the closing key does not also move");
        assert_eq!(app.view, View::List, "nor go back");
    }
}

#[test]
fn status_line_shows_mode_time_counts_health_and_finish() {
    let mut app = app_with_problems(150, 40);
    let feed = [
        Feed::Source { name: "prometheus".to_string(), health: SourceHealth::Ok },
        Feed::Source { name: "loki".to_string(), health: SourceHealth::Stale { reason: "timeout".to_string() } },
        Feed::Source { name: "alertmanager".to_string(), health: SourceHealth::Down { reason: "refused".to_string() } },
        Feed::Finished { summary: "scenario finished: 13,482 observations".to_string() },
    ];
    for f in feed {
        update(&mut app, f.into());
    }
    let lines = rows(&draw(&app));
    let status = lines.last().unwrap();
    for expected in [
        " DEMO ",
        "data 03:20:00",
        "1 open · 1 resolved │ ■ finished │ alertmanager ✗ down: refused · loki ! stale: timeout · prometheus ✓ ok",
        "? help",
    ] {
        assert!(status.contains(expected), "missing {expected:?} in {status:?}");
    }
    assert!(lines[0].contains("scenario finished: 13,482 observations"), "{}", lines[0]);

    // At 80 columns the line is cut, but the mode, the data time, the end of data and the help key
    // stay; the sources that do not fit are counted, marked by the worst of them (one is down).
    update(&mut app, Action::Resize { width: 80, height: 24 });
    let status = rows(&draw(&app)).pop().unwrap();
    assert!(status.starts_with(" DEMO ") && status.contains("data 03:20:00"), "{status:?}");
    assert!(status.contains("■ finished │ +3 ✗"), "{status:?}");
    assert!(status.trim_end().ends_with("? help"), "{status:?}");

    let mut readonly = App::new(UiOptions { readonly: true, title: "prod-eu-1".to_string(), ..UiOptions::default() });
    update(&mut readonly, Action::Resize { width: 80, height: 24 });
    let status = rows(&draw(&readonly)).pop().unwrap();
    assert!(status.contains(" LIVE ") && status.contains("READONLY"), "{status:?}");
    assert!(status.contains("data --:--:--"), "{status:?}");
    assert!(screen(&readonly).contains("waiting for data"));
}

#[test]
fn closed_feed_and_quit_are_visible_in_state() {
    let mut app = app_with_problems(80, 24);
    update(&mut app, Action::FeedClosed);
    assert!(rows(&draw(&app)).pop().unwrap().contains("feed closed"));
    press(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit);
    let mut app = app_with_problems(80, 24);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.keymap.command_for(&ctrl_c), Some(Command::Quit));
    update(&mut app, Action::Command(Command::Quit));
    assert!(app.should_quit);
}

#[test]
fn no_color_render_has_no_colours_but_keeps_the_selection_visible() {
    let mut app = App::with_style(options(), Keymap::builtin(), Theme::builtin(ColorMode::NoColor));
    update(&mut app, Action::Resize { width: 80, height: 24 });
    update(&mut app, Feed::Events(events()).into());
    update(
        &mut app,
        Feed::Source { name: "loki".to_string(), health: SourceHealth::Down { reason: "x".into() } }.into(),
    );
    let mut screens = vec![("list", draw(&app))];
    press(&mut app, KeyCode::Enter);
    screens.push(("detail", draw(&app)));
    press(&mut app, KeyCode::Char('?'));
    screens.push(("help", draw(&app)));
    for (name, buffer) in &screens {
        for cell in buffer.content() {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{name}: coloured cell {cell:?}");
        }
    }
    let list = &screens[0].1;
    let selected_row = rows(list).iter().position(|l| l.starts_with("› P-0001")).unwrap() as u16;
    assert!(list[(10, selected_row)].modifier.contains(Modifier::REVERSED));

    // The same screen in true colour does carry colour, so the check above means something.
    let coloured = draw(&app_with_problems(80, 24));
    assert!(coloured.content().iter().any(|c| matches!(c.fg, Color::Rgb(..))));
}

#[test]
fn hex_colours_map_to_the_nearest_xterm_256_index() {
    // Hand-computed: cube levels 0,95,135,175,215,255 → 16 + 36r + 6g + b; greys 232 + (v-8)/10.
    assert_eq!(xterm256(0xff, 0x00, 0x00), 196);
    assert_eq!(xterm256(0x00, 0x00, 0x00), 16);
    assert_eq!(xterm256(0xff, 0xff, 0xff), 231);
    assert_eq!(xterm256(0x80, 0x80, 0x80), 244);
    assert_eq!(xterm256(0x5f, 0xaf, 0xff), 75);
    assert_eq!(xterm256(0xff, 0x87, 0x00), 208);
    assert_eq!(xterm256(0x30, 0x30, 0x30), 236);

    assert_eq!(ColorMode::from_env(None, Some("xterm-256color")), ColorMode::Indexed256);
    let mut app = App::with_style(options(), Keymap::builtin(), Theme::builtin(ColorMode::Indexed256));
    update(&mut app, Feed::Events(events()).into());
    let buffer = draw(&app);
    assert!(buffer.content().iter().all(|c| !matches!(c.fg, Color::Rgb(..)) && !matches!(c.bg, Color::Rgb(..))));
    // The critical severity (#ff5f5f) is drawn as index 203.
    assert!(buffer.content().iter().any(|c| c.fg == Color::Indexed(203)));
}

#[test]
fn bad_keymap_toml_names_the_file_and_the_key() {
    let err = Keymap::from_toml(Some(("[down]\nkeys = [\"j\", \"Ctrl-Foo\"]\n", "keymap.toml"))).unwrap_err();
    assert_eq!(err.key, "down.keys[1]");
    let message = err.to_string();
    assert!(message.starts_with("keymap.toml:2: `down.keys[1]`:"), "{message}");
    assert!(message.contains("Ctrl-Foo"), "{message}");

    let err = Keymap::from_toml(Some(("[open]\nkeys = [\"o\"]\ndescriptoin = \"x\"\n", "keymap.toml"))).unwrap_err();
    assert!(err.key.starts_with("open"), "{err}");
    assert!(err.message.contains("descriptoin"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keymap.toml");
    std::fs::write(&path, "[quit]\nkeys = 5\n").unwrap();
    let err = Keymap::load(Some(&path)).unwrap_err();
    assert_eq!(err.file, path.display().to_string());
    assert_eq!(err.key, "quit.keys");

    std::fs::write(&path, "[help]\nkeys = [\"F1\", \"?\"]\n").unwrap();
    let keymap = Keymap::load(Some(&path)).unwrap();
    assert_eq!(keymap.user_file(), Some(path.as_path()));
    assert_eq!(keymap.binding(Command::Help).unwrap().keys_text(), "F1, ?");
}

// ---- The silence flow: `s` shows the plan, `y` sends exactly it, `n`/Esc sends nothing. ----

const AM_URL: &str = "http://alertmanager:9093/api/v2/silences";
const OPERATOR: &str = "alice@bastion-1";

fn silence_target() -> SilenceTarget {
    SilenceTarget { via: "am".to_string(), url: AM_URL.to_string(), duration_ms: 2 * 3_600_000 }
}

fn silence_options() -> UiOptions {
    UiOptions { operator: OPERATOR.to_string(), silence: Some(silence_target()), ..options() }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn alert(key: &str, name: &str, pairs: &[(&str, &str)]) -> Signal {
    let mut s = signal(key, SignalKind::Alert, "service:checkout", name, 4, true, 1.0);
    s.labels = labels(pairs);
    s
}

/// The two problems, where P-0001 has two firing alerts that carry their label sets (and
/// `extra` more, to make a plan longer than the screen).
fn alert_events(extra: usize) -> Vec<ProblemEvent> {
    let mut events = events();
    let mut kinds = vec![
        EventKind::SignalUpdated {
            signal: alert(
                "alert:abc",
                "CheckoutLatencyHigh",
                &[("alertname", "CheckoutLatencyHigh"), ("service", "checkout"), ("severity", "critical")],
            ),
        },
        EventKind::SignalAttached {
            signal: alert(
                "alert:ghi",
                "CheckoutErrorsHigh",
                &[("alertname", "CheckoutErrorsHigh"), ("job", "checkout"), ("severity", "major")],
            ),
        },
    ];
    for i in 0..extra {
        let pod = format!("checkout-{i:02}");
        let key = format!("alert:pod{i}");
        let pairs = [("alertname", "PodCrashLooping"), ("pod", pod.as_str())];
        kinds.push(EventKind::SignalAttached { signal: alert(&key, "PodCrashLooping", &pairs) });
    }
    let seq = events.len() as u64;
    events.extend(kinds.into_iter().enumerate().map(|(i, kind)| ProblemEvent {
        seq: seq + i as u64 + 1,
        problem: ProblemId(1),
        at: at(21),
        kind,
    }));
    events
}

fn silence_app(opts: UiOptions, width: u16, height: u16, extra: usize) -> App {
    let mut app = App::new(opts);
    update(&mut app, Action::Resize { width, height });
    update(&mut app, Feed::Events(alert_events(extra)).into());
    app
}

/// The plan the UI should propose for P-0001, built the way the engine side expects it.
fn expected_plan(app: &App) -> SilencePlan {
    SilencePlan::for_problem(&app.problems().problems[&ProblemId(1)], &silence_target(), OPERATOR).unwrap()
}

fn status_line(app: &App) -> String {
    rows(&draw(app)).pop().unwrap()
}

#[test]
fn s_shows_the_silence_plan_in_full_at_80x24() {
    let mut app = silence_app(silence_options(), 80, 24, 0);
    press(&mut app, KeyCode::Char('s'));
    let plan = expected_plan(&app);
    assert_eq!(app.proposal, Some(Proposal::new(Request::Silence(plan.clone()))));
    assert!(app.outbox.is_empty(), "nothing is sent before confirmation");

    let lines = rows(&draw(&app));
    let text = lines.join("\n");
    assert!(text.contains("silence P-0001?"), "{text}");
    // One POST per silence, one silence per alert, every matcher of each shown.
    assert_eq!(text.matches(&format!("POST {AM_URL}")).count(), 2, "{text}");
    assert_eq!(plan.matcher_lines().len(), 2);
    // Inside the box, with its borders taken out (a long matcher line breaks between matchers).
    let inside = squeezed(&text.replace('│', " "));
    for matchers in plan.matcher_lines() {
        assert!(inside.contains(&matchers), "missing matchers {matchers:?}:\n{text}");
    }
    assert!(text.contains(r#"alertname="CheckoutErrorsHigh", job="checkout", severity="major""#), "{text}");
    for expected in [
        "duration   2h, starting when you confirm",
        &format!("createdBy  {OPERATOR}"),
        "comment    P-0001",
        "exact match",
        "y confirm · n/Esc cancel",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    assert!(inside.contains("Nothing is sent until you confirm."), "{text}");
    // The whole plan fits: no scroll hint.
    assert!(!text.contains("scroll"), "{text}");

    // Other keys do nothing while the plan shows.
    for key in [KeyCode::Char('j'), KeyCode::Enter, KeyCode::Char('s'), KeyCode::Char('?')] {
        press(&mut app, key);
    }
    assert_eq!(app.view, View::List);
    assert_eq!(app.selected, Some(ProblemId(1)));
    assert!(!app.help);
    assert_eq!(app.proposal.as_ref().map(|p| &p.request), Some(&Request::Silence(plan)));
}

#[test]
fn y_sends_exactly_the_plan_shown_and_n_or_esc_send_nothing() {
    let mut app = silence_app(silence_options(), 80, 24, 0);
    press(&mut app, KeyCode::Char('s'));
    let shown = app.proposal.clone().unwrap().request;
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(app.outbox, vec![shown]);
    assert_eq!(app.outbox, vec![Request::Silence(expected_plan(&app))]);
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some("silencing P-0001 via am…"));
    let status = status_line(&app);
    assert!(status.contains("silencing P-0001 via am…") && status.contains("data 03:21:00"), "{status:?}");
    assert!(!screen(&app).contains("POST"), "the overlay is closed");
    // A second `y` with no plan on screen sends nothing more.
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(app.outbox.len(), 1);

    // The engine side's answer replaces the notice and shows whole at 80 columns.
    let answer = "P-0001: 2 silences created in am until 05:21:00";
    update(&mut app, Feed::Notice(answer.to_string()).into());
    assert!(status_line(&app).contains(answer), "{:?}", status_line(&app));

    for cancel in [KeyCode::Char('n'), KeyCode::Esc] {
        let mut app = silence_app(silence_options(), 80, 24, 0);
        press(&mut app, KeyCode::Enter);
        // From the detail view too; cancelling stays in it.
        press(&mut app, KeyCode::Char('s'));
        assert!(app.proposal.is_some(), "{cancel:?}");
        press(&mut app, cancel);
        assert_eq!(app.proposal, None);
        assert!(app.outbox.is_empty());
        assert_eq!(app.view, View::Detail(ProblemId(1)));
        assert_eq!(app.notice.as_deref(), Some("silence cancelled"));
        assert!(status_line(&app).contains("silence cancelled"));
        press(&mut app, KeyCode::Char('y'));
        assert!(app.outbox.is_empty(), "confirm after cancel sends nothing");
    }
}

#[test]
fn a_long_plan_scrolls_and_keeps_its_keys_in_view() {
    let mut app = silence_app(silence_options(), 80, 24, 30);
    press(&mut app, KeyCode::Char('s'));
    let plan = expected_plan(&app);
    assert_eq!(plan.label_sets.len(), 32);
    let first = rows(&draw(&app));
    let text = first.join("\n");
    assert!(text.contains("y confirm · n/Esc cancel") && text.contains("j/k scroll · lines 1-20 of"), "{text}");
    assert!(text.contains(&format!("createdBy  {OPERATOR}")), "the author is seen before the list:\n{text}");
    for line in &first {
        assert!(Line::from(line.as_str()).width() <= 80);
    }
    // Scrolling reaches every silence; the keys line never leaves.
    let mut seen = String::new();
    for _ in 0..app.max_plan_scroll() {
        seen.push_str(&screen(&app));
        press(&mut app, KeyCode::Char('j'));
    }
    seen.push_str(&screen(&app));
    // Lines break between matchers; each one is shown whole.
    for matcher in plan.label_sets.iter().flat_map(matcher_strings) {
        assert!(seen.contains(&matcher), "never shown: {matcher:?}");
    }
    let last = screen(&app);
    assert!(last.contains(r#"pod="checkout-29""#) && last.contains("y confirm"), "{last}");
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.proposal.as_ref().unwrap().scroll, app.max_plan_scroll());
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.proposal.as_ref().unwrap().scroll, 0);
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(app.outbox, vec![Request::Silence(plan)]);
}

#[test]
fn readonly_never_opens_a_plan_and_never_sends() {
    let opts = UiOptions { readonly: true, ..silence_options() };
    let mut app = silence_app(opts, 80, 24, 0);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some(READONLY_NOTICE));
    let status = status_line(&app);
    assert!(status.contains("READONLY") && status.contains(READONLY_NOTICE), "{status:?}");
    press(&mut app, KeyCode::Char('y'));
    assert!(app.outbox.is_empty());

    // Even a plan that got on screen some other way is not sent in read-only mode.
    app.proposal = Some(Proposal::new(Request::Silence(expected_plan(&app))));
    press(&mut app, KeyCode::Char('y'));
    assert!(app.outbox.is_empty());
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some(READONLY_NOTICE));
}

#[test]
fn without_an_alertmanager_or_firing_alerts_s_says_why() {
    let mut app = silence_app(UiOptions { operator: OPERATOR.to_string(), ..options() }, 80, 24, 0);
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some(NO_ALERTMANAGER_NOTICE));
    // The notice is long: it takes the room of the help key and the data time rather than be cut.
    let status = status_line(&app);
    assert!(status.contains(NO_ALERTMANAGER_NOTICE) && status.starts_with(" DEMO "), "{status:?}");
    // Esc in the list puts the notice away; the line is as before.
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.notice, None);
    let status = status_line(&app);
    assert!(status.contains("data 03:21:00") && status.trim_end().ends_with("? help"), "{status:?}");

    // Off live, nothing is proposed: the alerts to silence are those firing now.
    let mut app = silence_app(silence_options(), 80, 24, 0);
    press(&mut app, KeyCode::Char('['));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some(REPLAY_SILENCE_NOTICE));
    press(&mut app, KeyCode::Char('L'));
    press(&mut app, KeyCode::Char('s'));
    assert!(app.proposal.is_some(), "live again: {:?}", app.notice);

    // P-0002 is resolved: its alert no longer fires.
    let mut app = silence_app(silence_options(), 80, 24, 0);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some("P-0002 has no firing alerts to silence"));
    assert!(status_line(&app).contains("P-0002 has no firing alerts to silence"));
    // The original two problems: P-0001's alert carries no labels, so there is nothing to match.
    let mut app = App::new(silence_options());
    update(&mut app, Feed::Events(events()).into());
    press(&mut app, KeyCode::Char('s'));
    assert_eq!(app.notice.as_deref(), Some("P-0001 has no firing alerts to silence"));
    // And with no problem at all.
    let mut empty = App::new(silence_options());
    press(&mut empty, KeyCode::Char('s'));
    assert_eq!(empty.notice.as_deref(), Some("no problem selected"));
    assert!(empty.outbox.is_empty() && empty.proposal.is_none());

    // A terminal too small for the box shows no plan, so none can be confirmed unseen.
    let mut tiny = silence_app(silence_options(), 12, 4, 0);
    press(&mut tiny, KeyCode::Char('s'));
    assert_eq!(tiny.proposal, None);
    assert_eq!(tiny.notice.as_deref(), Some("the terminal is too small to show the plan"));
    let mut shrunk = silence_app(silence_options(), 80, 24, 0);
    press(&mut shrunk, KeyCode::Char('s'));
    update(&mut shrunk, Action::Resize { width: 10, height: 24 });
    press(&mut shrunk, KeyCode::Char('y'));
    assert!(shrunk.outbox.is_empty() && shrunk.proposal.is_none());
}

#[test]
fn a_silence_shows_in_the_timeline_and_marks_the_problem_until_it_ends() {
    let mut app = silence_app(silence_options(), 80, 24, 0);
    let next = app.problems().last_seq + 1;
    let silenced = ProblemEvent {
        seq: next,
        problem: ProblemId(1),
        at: at(22),
        kind: EventKind::Silenced {
            by: OPERATOR.to_string(),
            via: "am".to_string(),
            silences: vec![SilenceRecord {
                id: "5f1c".to_string(),
                matchers: vec![r#"alertname="CheckoutLatencyHigh""#.to_string()],
                starts_at: at(22),
                ends_at: at(142),
            }],
            error: None,
        },
    };
    update(&mut app, Feed::Events(vec![silenced.clone()]).into());
    let row = rows(&draw(&app)).into_iter().find(|l| l.contains("P-0001")).unwrap();
    assert!(row.contains("⊘ silenced until 05:22"), "{row}");
    assert!(!rows(&draw(&app)).iter().any(|l| l.contains("P-0002") && l.contains("silenced")));

    press(&mut app, KeyCode::Enter);
    let top = screen(&app);
    assert!(top.lines().nth(1).unwrap().contains("P-0001  ● OPEN  ◆ CRITICAL  ⊘ silenced until 05:22"), "{top}");
    press(&mut app, KeyCode::Char('G'));
    let bottom = squeezed(&screen(&app));
    assert!(bottom.contains("03:22:00 silenced by alice@bastion-1 via am until 2026-11-02T05:22:00"), "{bottom}");

    // Without colour the marker still reads: it is a symbol and words.
    let mut plain = App::with_style(silence_options(), Keymap::builtin(), Theme::builtin(ColorMode::NoColor));
    update(&mut plain, Feed::Events(alert_events(0)).into());
    update(&mut plain, Feed::Events(vec![silenced]).into());
    let buffer = draw(&plain);
    assert!(rows(&buffer).join("\n").contains("⊘ silenced until 05:22"));
    assert!(buffer.content().iter().all(|c| (c.fg, c.bg) == (Color::Reset, Color::Reset)));

    // Once the data time passes the end, the marker goes; the timeline keeps the record.
    let later = ProblemEvent { seq: next + 1, problem: ProblemId(1), at: at(150), kind: EventKind::Resolved };
    update(&mut app, Feed::Events(vec![later]).into());
    let text = screen(&app);
    assert!(!text.contains("⊘ silenced"), "{text}");
    press(&mut app, KeyCode::Esc);
    assert!(!screen(&app).contains("⊘ silenced"));
}

#[test]
fn help_lists_the_silence_keys_and_the_plan_follows_a_user_keymap() {
    let mut app = silence_app(silence_options(), 80, 24, 0);
    press(&mut app, KeyCode::Char('?'));
    let text = screen(&app);
    for (command, keys) in [(Command::Silence, "s"), (Command::Confirm, "y"), (Command::Cancel, "n")] {
        let binding = app.keymap.binding(command).unwrap();
        assert_eq!(binding.keys_text(), keys);
        let line = text.lines().find(|l| l.contains(&binding.description)).unwrap_or_else(|| panic!("{text}"));
        assert!(line.trim_start_matches([' ', '│']).starts_with(keys), "{line}");
    }
    assert!(text.contains("cancel a plan"), "Esc's description says it cancels:\n{text}");

    let keymap = Keymap::from_toml(Some(("[confirm]\nkeys = [\"Y\"]\n[cancel]\nkeys = [\"N\"]\n", "k.toml"))).unwrap();
    let mut app = App::with_style(silence_options(), keymap, Theme::builtin(ColorMode::TrueColor));
    update(&mut app, Feed::Events(alert_events(0)).into());
    press(&mut app, KeyCode::Char('s'));
    assert!(screen(&app).contains("Y confirm · N/Esc cancel"), "{}", screen(&app));
    press(&mut app, KeyCode::Char('Y'));
    assert_eq!(app.outbox.len(), 1);
}

/// The demo storm through the real engine, its root cause in the detail view at 80 columns: the
/// view names the signals the root broke with their baselines, and the edges that tie the
/// affected entities to it, so the ranking can be checked by reading the screen.
#[test]
fn the_demo_root_cause_is_explained_on_screen_by_its_signals_baselines_and_edges() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let scenario = faultline::sources::fixture::load(&path).expect("the demo scenario loads");
    let expect = scenario.header.expect.clone().expect("the demo states its root cause");
    let (set, _) = faultline::eval::scenarios::play(&scenario.observations, &Default::default());
    let problem = set
        .problems
        .values()
        .find(|p| p.root_causes.first().is_some_and(|c| c.entity == expect.root_cause))
        .expect("a problem with the demo's root cause");
    let top = &problem.root_causes[0];
    let theme = Theme::builtin(ColorMode::NoColor);
    let lines: Vec<String> =
        detail::lines(problem, problem.updated_at, &theme, 80).iter().map(|l| l.to_string()).collect();
    let text = squeezed(&lines.join("\n"));
    let shown = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in:\n{}", lines.join("\n"));

    // The signals: each anomaly with its value against the expected value and band.
    assert!(!top.broke.is_empty());
    shown("because:");
    let because = lines.iter().position(|l| l.contains("because:")).unwrap();
    for b in top.broke.iter().take(4) {
        let at = because
            + lines[because..]
                .iter()
                // A long name wraps: its start is on the item's first line.
                .position(|l| l.contains(&b.name.chars().take(24).collect::<String>()))
                .unwrap_or_else(|| panic!("{} not shown", b.name));
        if let Some(base) = b.baseline {
            assert!(b.value.is_some_and(|v| v > base.upper || v < base.lower), "{b:?} did not break its band");
            let item = squeezed(&lines[at..(at + 2).min(lines.len())].join(" "));
            assert!(item.contains("expected") && item.contains("(band "), "{item}");
        }
    }
    // The edges: the longest evidence path, hop by hop, as `from ─verb→ to`.
    let longest = top.evidence.iter().max_by_key(|p| p.len()).expect("an evidence path");
    assert!(!longest.is_empty());
    let hops: Vec<String> = longest.iter().map(|h| format!("─{}→ {}", h.relation.verb(), h.to)).collect();
    shown(&format!("{} {}", longest[0].from, hops.join(" ")));
    assert_eq!(longest.last().unwrap().to, top.entity, "the path ends at the root cause");
}

/// The timeline pane's line with the cursor marker.
fn cursor_line(text: &str) -> String {
    text.lines().find(|l| l.starts_with('▶')).unwrap_or_default().to_string()
}

/// `[` / `]` / `{` / `}` / `L` in the detail: the timeline pane's cursor moves over the problem's
/// events, the detail shows the problem as of the cursor, the status line says REPLAY and the
/// cursor's time until `L` brings it back to live.
#[test]
fn timeline_pane_and_the_detail_follow_the_replay_cursor() {
    let mut app = app_with_problems(80, 24);
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Detail(ProblemId(1)));
    let live = screen(&app);
    assert!(live.contains("TIMELINE  ▶ 7 of 7"), "{live}");
    assert!(cursor_line(&live).contains("03:04:00  impact: 5 affected entities"), "{live}");
    assert!(!status_line(&app).contains("REPLAY"), "{}", status_line(&app));

    // One event back: on the foundational cause; the impact is after the cursor (dimmed, `·`).
    press(&mut app, KeyCode::Char('['));
    let text = screen(&app);
    assert!(cursor_line(&text).starts_with("▶ 03:03:00  foundational cause: deployment on process:postgres"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("· 03:04:00  impact:")), "{text}");
    let problem = app.detail_problem().unwrap();
    assert!(problem.impact.affected.is_empty(), "the impact is not folded in at the cursor");
    let all: Vec<String> =
        detail::lines(problem, app.problems().as_of, &app.theme, 80).iter().map(|l| l.to_string()).collect();
    assert!(all.iter().any(|l| l.contains("not assessed yet")), "{all:#?}");
    let status = status_line(&app);
    assert!(status.contains(" REPLAY 03:03:00 ⏸ 1x "), "{status}");
    assert!(!status.contains("data 03:20:00"), "{status}");
    let cursor_row = rows(&draw(&app)).iter().position(|l| l.starts_with('▶')).unwrap() as u16;
    let cell = &draw(&app)[(2, cursor_row)];
    assert!(cell.modifier.contains(Modifier::BOLD), "the cursor's entry is highlighted too: {cell:?}");

    // The only ranking is in effect: there is none earlier.
    press(&mut app, KeyCode::Char('{'));
    assert_eq!(app.notice.as_deref(), Some("no earlier ranking of P-0001"));
    // Back before the ranking: not ranked yet; `}` goes to the ranking.
    for _ in 0..3 {
        press(&mut app, KeyCode::Char('['));
    }
    let text = screen(&app);
    assert!(cursor_line(&text).contains("03:01:00  anomaly cpu_utilisation on host:db-1 attached (x340)"), "{text}");
    assert!(text.contains("not ranked yet"), "{text}");
    press(&mut app, KeyCode::Char('}'));
    let text = screen(&app);
    assert!(cursor_line(&text).contains("ranked: cpu_utilisation anomaly on host:db-1"), "{text}");
    assert!(text.contains("#1  0.92  cpu_utilisation anomaly on host:db-1"), "{text}");
    assert!(status_line(&app).contains("REPLAY 03:03:00"), "{}", status_line(&app));

    // To the end of P-0001's events, then live.
    for _ in 0..3 {
        press(&mut app, KeyCode::Char(']'));
    }
    assert_eq!(app.notice.as_deref(), Some("last event of P-0001"));
    assert!(status_line(&app).contains("REPLAY 03:04:00"), "P-0002's later events are not folded in");
    press(&mut app, KeyCode::Char('L'));
    let status = status_line(&app);
    assert!(!status.contains("REPLAY") && status.contains("data 03:20:00"), "{status}");
    assert!(app.replay.is_live());
}

/// In the list `[` / `]` step over all events, and the list follows; Space plays in data time at
/// 1x, 10x or 60x with ticks from the event loop; it stops at the end.
#[test]
fn list_steps_all_events_and_play_moves_the_cursor_in_data_time() {
    let mut app = app_with_problems(80, 24);
    for _ in 0..7 {
        press(&mut app, KeyCode::Char('['));
    }
    // Three events folded in: P-0002 has not opened yet.
    assert_eq!(app.replay.position(), 3);
    let text = screen(&app);
    assert!(text.contains("P-0001") && !text.contains("P-0002"), "{text}");
    assert!(status_line(&app).contains("REPLAY 03:01:00 ⏸ 1x"), "{}", status_line(&app));

    press(&mut app, KeyCode::Char(' '));
    assert!(app.playing);
    for (key, speed) in [('+', 10), ('+', 60), ('+', 60), ('-', 10)] {
        press(&mut app, KeyCode::Char(key));
        assert_eq!(app.play_speed(), speed);
    }
    assert!(status_line(&app).contains("REPLAY 03:01:00 ▶ 10x"), "{}", status_line(&app));
    // 18 s of wall time at 10x is 3 minutes of data: from 03:01 to 03:04, the impact's time;
    // 6 s more reach 03:05, when P-0002 opens.
    update(&mut app, Action::Tick { elapsed_ms: 18_000 });
    assert_eq!(app.replay.current().map(|e| e.seq), Some(7), "the impact at 03:04:00 is the last event by 03:04:00");
    assert!(!screen(&app).contains("P-0002"));
    update(&mut app, Action::Tick { elapsed_ms: 6_000 });
    assert!(screen(&app).contains("P-0002"), "03:05:00 reached P-0002's opening");
    // Far past the end: it stops there, paused, and says so.
    update(&mut app, Action::Tick { elapsed_ms: 600_000 });
    assert!(!app.playing);
    assert_eq!(app.replay.position(), app.replay.len());
    assert!(app.notice.as_deref().unwrap_or_default().contains("end of the data"), "{:?}", app.notice);
    // Ticks while paused change nothing.
    update(&mut app, Action::Tick { elapsed_ms: 600_000 });
    assert!(status_line(&app).contains("REPLAY 03:20:00 ⏸ 10x"), "{}", status_line(&app));
}

/// A problem whose top root cause broke `cpu_utilisation` on host:db-1 (expected 0.3, band
/// 0.2–0.4) from 03:10, with events at 03:10 (opened, attached, ranked), 03:15 and 03:25.
fn chart_events() -> Vec<ProblemEvent> {
    let p = ProblemId(1);
    let mut cpu =
        signal("anomaly:host:db-1:cpu_utilisation", SignalKind::Anomaly, "host:db-1", "cpu_utilisation", 1, true, 0.9);
    cpu.first_seen = at(10);
    cpu.value = Some(0.9);
    cpu.baseline = Some(Baseline { expected: 0.3, lower: 0.2, upper: 0.4 });
    let top = Candidate {
        entity: id("host:db-1"),
        entity_kind: EntityKind::Host,
        score: 0.9,
        summary: "cpu_utilisation anomaly on host:db-1 (0.90, expected 0.30)".to_string(),
        signals: vec![cpu.key.clone()],
        strength: 0.9,
        first_breach: at(10),
        explains: 1,
        affected: 1,
        evidence: vec![],
        broke: vec![SignalEvidence::of(&cpu)],
    };
    let kinds = vec![
        (10, EventKind::Opened { title: "cpu on host:db-1".to_string(), severity: Severity::Major }),
        (10, EventKind::SignalAttached { signal: cpu }),
        (10, EventKind::RootCauseRanked { candidates: vec![top] }),
        (15, EventKind::SeverityChanged { severity: Severity::Critical }),
        (25, EventKind::Resolved),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, (minute, kind))| ProblemEvent { seq: i as u64 + 1, problem: p, at: at(minute), kind })
        .collect()
}

/// Every 30 s from 02:40 to 03:30: 0.3 before 03:10, 0.9 from then, and 5.0 after 03:20.
fn chart_observations() -> Vec<Observation> {
    let samples: Vec<(Timestamp, f64)> = (0..=100)
        .map(|i| {
            let t = Timestamp(at(-20).millis() + i * 30_000);
            let v = if t < at(10) {
                0.3
            } else if t <= at(20) {
                0.9
            } else {
                5.0
            };
            (t, v)
        })
        .collect();
    vec![Observation {
        at: at(30),
        source: "prometheus".to_string(),
        kind: ObservationKind::Metric { entity: id("host:db-1"), metric: "cpu_utilisation".to_string(), samples },
    }]
}

/// The rows of the chart pane: from its `METRIC` title to the timeline.
fn chart_rows(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("METRIC")).expect("a METRIC pane");
    let end = lines.iter().position(|l| l.starts_with("TIMELINE")).expect("a TIMELINE pane");
    lines[start..end].iter().map(|l| l.to_string()).collect()
}

/// The metric context: the broken series and its band, from 15 minutes before the first breach
/// to the cursor, never a sample after the cursor; no observations, no chart.
#[test]
fn chart_draws_the_broken_series_and_band_up_to_the_cursor_only() {
    let mut app = App::new(options());
    update(&mut app, Action::Resize { width: 120, height: 40 });
    update(&mut app, Feed::Events(chart_events()).into());
    press(&mut app, KeyCode::Enter);
    assert!(!screen(&app).contains("METRIC"), "no samples, no chart");

    update(&mut app, Feed::Observations(chart_observations()).into());
    // Back to the severity change at 03:15.
    press(&mut app, KeyCode::Char('['));
    assert_eq!(app.replay.at(), Some(at(15)));
    let text = screen(&app);
    let chart = chart_rows(&text);
    let joined = chart.join("\n");
    assert!(chart[0].contains("cpu_utilisation on host:db-1") && chart[0].contains("band 0.20–0.40"), "{joined}");
    let braille = joined.chars().filter(|c| ('\u{2801}'..='\u{28ff}').contains(c)).count();
    assert!(braille > 20, "the series is drawn in braille:\n{joined}");
    assert!(joined.contains('•'), "the band is drawn in dots:\n{joined}");
    // The time axis runs from 15 minutes before the breach (02:55) to the cursor (03:15).
    let axis = chart.last().unwrap();
    assert!(axis.trim_start().starts_with("02:55:00") && axis.trim_end().ends_with("03:15:00"), "{axis:?}");
    // The value axis tops out at the highest value up to the cursor (0.9): the 5.0 after 03:20 is not there.
    assert!(chart.iter().any(|l| l.starts_with("0.90 ")), "{joined}");
    assert!(!chart.iter().any(|l| l.starts_with('5')), "{joined}");

    // At 03:25 the samples after 03:20 are in view.
    press(&mut app, KeyCode::Char(']'));
    assert_eq!(app.replay.at(), Some(at(25)));
    let chart = chart_rows(&screen(&app));
    assert!(chart.iter().any(|l| l.starts_with("5 ")), "{}", chart.join("\n"));
    assert!(chart.last().unwrap().trim_end().ends_with("03:25:00"));

    // At 80x24 the chart keeps a few rows and the root cause stays in view.
    update(&mut app, Action::Resize { width: 80, height: 24 });
    let text = screen(&app);
    assert!(text.contains("ROOT CAUSE") && text.contains("#1") && text.contains("METRIC"), "{text}");
    assert_eq!(chart_rows(&text).len(), 6);

    // Live at 80x24 the first screen stays with the root cause and what follows it; the chart
    // comes back on a taller terminal.
    press(&mut app, KeyCode::Char('L'));
    assert!(app.replay.is_live());
    let text = screen(&app);
    assert!(text.contains("ROOT CAUSE") && !text.contains("METRIC"), "{text}");
    update(&mut app, Action::Resize { width: 80, height: 34 });
    assert!(screen(&app).contains("METRIC"));
}

/// The topology section of the detail follows the cursor: a relation learned at 03:12 is not
/// there at 03:10 and is at 03:15; an entity is marked by whether it had an active signal then.
#[test]
fn topology_in_the_detail_is_as_of_the_cursor() {
    let p = ProblemId(1);
    let mut api = signal("alert:api", SignalKind::Alert, "service:api", "ApiErrors", 1, true, 1.0);
    api.first_seen = at(10);
    let mut cleared = api.clone();
    cleared.active = false;
    let impact = Impact { affected: vec![id("host:db-1"), id("service:api")], ..Impact::default() };
    let kinds = vec![
        (10, EventKind::Opened { title: "api errors".to_string(), severity: Severity::Major }),
        (10, EventKind::SignalAttached { signal: api }),
        (10, EventKind::ImpactUpdated { impact }),
        (15, EventKind::SignalUpdated { signal: cleared }),
    ];
    let events: Vec<ProblemEvent> = kinds
        .into_iter()
        .enumerate()
        .map(|(i, (minute, kind))| ProblemEvent { seq: i as u64 + 1, problem: p, at: at(minute), kind })
        .collect();
    let relation = |minute: i64| Observation {
        at: at(minute),
        source: "fixture".to_string(),
        kind: ObservationKind::Relation {
            relation: Relation {
                from: id("service:api"),
                kind: RelationKind::RunsOn,
                to: id("host:db-1"),
                learned_from: String::new(),
            },
        },
    };
    let mut app = App::new(options());
    update(&mut app, Action::Resize { width: 100, height: 50 });
    update(&mut app, Feed::Events(events).into());
    update(&mut app, Feed::Observations(vec![relation(12)]).into());
    press(&mut app, KeyCode::Enter);

    let live = screen(&app);
    assert!(live.contains("TOPOLOGY  as of 03:15:00 · 2 entities, 1 relations"), "{live}");
    assert!(live.contains("service:api ─runs on→ host:db-1"), "{live}");
    assert!(live.contains("○ service:api (service)  no active signal"), "cleared at 03:15: {live}");

    press(&mut app, KeyCode::Char('['));
    assert_eq!(app.replay.at(), Some(at(10)));
    let before = screen(&app);
    assert!(before.contains("TOPOLOGY  as of 03:10:00 · 2 entities, 0 relations"), "{before}");
    assert!(!before.contains("─runs on→"), "{before}");
    assert!(before.contains("● service:api (service)  active signal"), "{before}");
    assert!(before.contains("○ host:db-1 (host)  no active signal"), "{before}");
}
