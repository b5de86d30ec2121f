//! Runbooks from the keyboard, driven through the UI's actions and drawn on ratatui's
//! TestBackend at 80x24: the matching runbooks in the detail, their keys (a built-in key is never
//! taken), the chooser, the plan overlay (destructive plans need the entity's name typed;
//! read-only and off-live never run), cancelling, and the live output pane.

use crossterm::event::KeyCode;
use faultline::model::{
    Candidate, EntityId, EntityKind, EventKind, Outcome, ProblemEvent, ProblemId, RunRecord, Severity, Signal,
    SignalKey, SignalKind, StepRecord, StepStatus, Timestamp,
};
use faultline::runbook::{CancelRequest, OutputLine, Plan, RunRequest, Runbook, RunbookSet, Stream};
use faultline::ui::app::{DRY_RUN_NOTICE, REPLAY_RUN_NOTICE, RUN_READONLY_NOTICE};
use faultline::ui::runs::MAX_LINES;
use faultline::ui::{update, Action, App, Feed, Request, Runbooks, UiOptions, View};
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::text::Line;
use std::path::Path;
use std::sync::Arc;

#[path = "tui/screen.rs"]
mod screen;
use screen::{draw, key, rows, screen, type_text};

/// 2026-11-02T03:00:00Z in milliseconds.
const T0: i64 = 1_793_588_400_000;
const OPERATOR: &str = "alice@bastion-1";
const ENTITY: &str = "host:db-1";

fn at(minutes: i64) -> Timestamp {
    Timestamp(T0 + minutes * 60_000)
}

/// The runbooks of these tests: four match P-0001 (a host), one does not; `jkey`'s key is
/// `down`'s, `notify` has none, `wipe` is destructive.
fn runbook_set() -> RunbookSet {
    let files = [
        (
            "restart",
            "name = \"restart\"\nkey = \"r\"\ndescription = \"Restart the database host's service\"\n\
             [match]\nentity_kind = \"host\"\n\
             [[steps]]\nkind = \"run\"\nargv = [\"/bin/echo\", \"restart\", \"{entity.id}\", \"{problem.id}\"]\n",
        ),
        (
            "wipe",
            "name = \"wipe\"\nkey = \"w\"\ndescription = \"Wipe the scratch disk\"\n\
             [match]\nentity_kind = \"host\"\n\
             [[steps]]\nkind = \"run\"\nargv = [\"/bin/true\", \"{entity.id}\"]\ndestructive = true\n",
        ),
        (
            "jkey",
            "name = \"jkey\"\nkey = \"j\"\ndescription = \"A runbook whose key the keymap uses\"\n\
             [[steps]]\nkind = \"run\"\nargv = [\"/bin/true\"]\n",
        ),
        ("notify", "name = \"notify\"\ndescription = \"Tell the team\"\n[[steps]]\nkind = \"run\"\nargv = [\"/bin/echo\", \"{problem.title}\"]\n"),
        (
            "dbonly",
            "name = \"dbonly\"\nkey = \"z\"\n[match]\nentity_kind = \"database\"\n\
             [[steps]]\nkind = \"run\"\nargv = [\"/bin/true\"]\n",
        ),
        (
            "needs-unit",
            "name = \"needs-unit\"\nkey = \"u\"\n[match]\nentity_kind = \"database\"\n\
             [[steps]]\nkind = \"run\"\nargv = [\"/bin/echo\", \"{entity.labels.unit}\"]\n",
        ),
    ];
    let list = files
        .iter()
        .map(|(name, text)| Runbook::parse(text, Path::new(&format!("/etc/faultline/runbooks/{name}.toml"))).unwrap())
        .collect();
    RunbookSet::from_runbooks(list).unwrap()
}

fn options(readonly: bool) -> UiOptions {
    UiOptions {
        title: "live: prod".to_string(),
        readonly,
        operator: OPERATOR.to_string(),
        runbooks: Runbooks(Arc::new(runbook_set())),
        ..UiOptions::default()
    }
}

fn event(seq: u64, minute: i64, kind: EventKind) -> ProblemEvent {
    ProblemEvent { seq, problem: ProblemId(1), at: at(minute), kind }
}

/// P-0001: cpu on host:db-1, ranked as the root cause.
fn events() -> Vec<ProblemEvent> {
    let cpu = Signal {
        key: SignalKey("alert:cpu".to_string()),
        kind: SignalKind::Alert,
        entity: EntityId::new(ENTITY),
        name: "HostCpuHigh".to_string(),
        severity: Severity::Critical,
        first_seen: at(0),
        last_seen: at(2),
        count: 3,
        active: true,
        score: 1.0,
        value: None,
        baseline: None,
        labels: [("alertname".to_string(), "HostCpuHigh".to_string())].into(),
        mark: None,
    };
    let top = Candidate {
        entity: EntityId::new(ENTITY),
        entity_kind: EntityKind::Host,
        score: 0.9,
        summary: "HostCpuHigh on host:db-1".to_string(),
        signals: vec![cpu.key.clone()],
        strength: 0.9,
        first_breach: at(0),
        explains: 1,
        affected: 1,
        evidence: vec![],
        broke: vec![],
    };
    vec![
        event(1, 0, EventKind::Opened { title: "cpu on db-1".to_string(), severity: Severity::Critical }),
        event(2, 0, EventKind::SignalAttached { signal: cpu }),
        event(3, 1, EventKind::RootCauseRanked { candidates: vec![top] }),
    ]
}

/// An app at 80x24 with P-0001 open in the detail.
fn app(readonly: bool) -> App {
    let mut app = App::new(options(readonly));
    update(&mut app, Action::Resize { width: 80, height: 24 });
    update(&mut app, Feed::Events(events()).into());
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Detail(ProblemId(1)));
    app
}

/// The text inside the overlay's borders, row by row.
fn inside_box(text: &str) -> String {
    let inner = |l: &str| {
        let (first, last) = (l.find('│')?, l.rfind('│')?);
        (first < last).then(|| l[first + '│'.len_utf8()..last].to_string())
    };
    text.lines().filter_map(inner).collect::<Vec<_>>().join("\n")
}

fn squeezed(text: &str) -> String {
    text.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The plan the UI should show for runbook `name` on P-0001, built as the engine side will.
fn plan(app: &App, name: &str) -> Plan {
    let problem = &app.problems().problems[&ProblemId(1)];
    let ctx = app.runbook_context(problem).unwrap();
    Plan::build(&app.opts.runbooks.0, name, &ctx, OPERATOR).unwrap()
}

fn run_request(app: &App, name: &str) -> Request {
    Request::Run(RunRequest {
        runbook: name.to_string(),
        problem: ProblemId(1),
        operator: OPERATOR.to_string(),
        shown: plan(app, name).lines(),
    })
}

#[test]
fn the_detail_lists_the_matching_runbooks_with_their_keys_at_80x24() {
    let app = app(false);
    let lines = rows(&draw(&app));
    let text = lines.join("\n");
    for line in &lines {
        assert!(Line::from(line.as_str()).width() <= 80);
    }
    assert!(text.contains("RUNBOOKS  4 for this problem · x choose"), "{text}");
    // By name, three of four, then the count; the one for databases is not offered.
    let block: Vec<&str> =
        lines.iter().map(String::as_str).skip_while(|l| !l.starts_with("RUNBOOKS")).take(5).collect();
    assert!(block[1].starts_with("  ·  jkey") && block[1].contains("(key j is `down`'s)"), "{block:#?}");
    assert!(block[2].starts_with("  ·  notify   Tell the team"), "{block:#?}");
    assert!(block[3].starts_with("  r  restart  Restart the database host's service"), "{block:#?}");
    assert!(block[4].starts_with("  … and 1 more: x lists them all"), "{block:#?}");
    assert!(!text.contains("dbonly") && !text.contains("needs-unit"), "{text}");
    // The root cause still shows on the first screen.
    assert!(text.contains("ROOT CAUSE") && text.contains("HostCpuHigh on host:db-1"), "{text}");

    // On a taller screen the destructive marker of the fourth shows in the chooser.
    let mut app = app;
    key(&mut app, KeyCode::Char('x'));
    let text = screen(&app);
    assert!(text.contains("runbooks for P-0001"), "{text}");
    let wipe = text.lines().find(|l| l.contains("wipe")).unwrap_or_else(|| panic!("{text}"));
    assert!(wipe.contains("w  wipe") && wipe.contains("Wipe the scratch disk") && wipe.contains("⚠ DESTRUCTIVE"));
}

#[test]
fn a_runbook_key_opens_its_plan_and_confirming_sends_exactly_the_plan_shown() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('r'));
    let expected = run_request(&app, "restart");
    let proposal = app.proposal.clone().expect("the plan shows");
    assert_eq!(proposal.request, expected);
    assert!(!proposal.destructive && proposal.typed.is_none());
    assert!(app.outbox.is_empty(), "nothing is sent before confirmation");

    let text = screen(&app);
    assert!(text.contains("run restart on P-0001?"), "{text}");
    assert!(text.contains("Restart the database host's service"), "{text}");
    assert!(text.contains("y/Enter confirm · n/Esc dry run, close"), "{text}");
    let inside = squeezed(&inside_box(&text));
    for line in plan(&app, "restart").lines() {
        assert!(inside.contains(&squeezed(&line)), "plan line {line:?} not shown:\n{text}");
    }
    assert!(text.contains("/bin/echo restart host:db-1 P-0001"), "{text}");

    // Keys that are not the overlay's do nothing while it shows.
    for code in [KeyCode::Char('s'), KeyCode::Char('x'), KeyCode::Char('w')] {
        key(&mut app, code);
    }
    assert_eq!(app.proposal.as_ref().map(|p| &p.request), Some(&expected));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.outbox, vec![expected.clone()]);
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some("runbook restart on P-0001…"));

    // `y` confirms too; the list's selection is a target as well as the detail.
    let mut app = self::app(false);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::List);
    key(&mut app, KeyCode::Char('r'));
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(app.outbox, vec![expected]);
}

#[test]
fn a_built_in_key_is_not_stolen_and_the_chooser_reaches_every_runbook() {
    let mut app = app(false);
    // `j` is `down`: it scrolls the detail, it does not run `jkey`.
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.detail_scroll, 1);
    // A runbook that does not match the problem is not run by its key.
    key(&mut app, KeyCode::Char('z'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some("runbook dbonly (key z) is not for P-0001"));

    // The chooser: every matching runbook, by name; j/k move, Enter picks.
    key(&mut app, KeyCode::Char('x'));
    let chooser = app.chooser.clone().expect("the chooser shows");
    assert_eq!(chooser.runbooks, vec!["jkey", "notify", "restart", "wipe"]);
    assert!(screen(&app).contains("› ·  jkey"), "{}", screen(&app));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.chooser.as_ref().map(|c| c.selected), Some(1));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.chooser, None);
    assert_eq!(app.proposal.as_ref().map(|p| p.request.clone()), Some(run_request(&app, "notify")));
    key(&mut app, KeyCode::Esc);
    // The shadowed one is reached from the chooser too; a runbook's key picks it there.
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.proposal.as_ref().map(|p| p.request.clone()), Some(run_request(&app, "jkey")));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.proposal.as_ref().map(|p| p.request.clone()), Some(run_request(&app, "restart")));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Esc);
    assert_eq!((app.chooser.is_none(), app.proposal.is_none()), (true, true));
    assert!(app.outbox.is_empty());

    // The help lists the runbook keys, and says which key a command took.
    key(&mut app, KeyCode::Char('?'));
    let mut text = screen(&app);
    for _ in 0..app.max_help_scroll() {
        key(&mut app, KeyCode::Char('j'));
        text.push_str(&screen(&app));
    }
    let text = squeezed(&text);
    assert!(text.contains("runbook keys come from the runbook files:"), "{text}");
    assert!(text.contains("r runbook restart: Restart the database host's service"), "{text}");
    assert!(
        text.contains("j runbook jkey: A runbook whose key the keymap uses (key taken by `down`: use x)"),
        "{text}"
    );
    assert!(text.contains("1 runbook without a key: use x"), "{text}");
}

#[test]
fn a_destructive_plan_runs_only_once_the_entity_name_is_typed_exactly() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('w'));
    let expected = run_request(&app, "wipe");
    let proposal = app.proposal.clone().unwrap();
    assert!(proposal.destructive);
    assert_eq!(proposal.typed.as_ref().map(|t| t.expected.as_str()), Some(ENTITY));
    let text = screen(&app);
    assert!(text.contains("run wipe on P-0001? DESTRUCTIVE"), "{text}");
    assert!(squeezed(&text).contains("⚠ DESTRUCTIVE: type the entity's name, host:db-1, below to run it."), "{text}");
    assert!(text.contains("type host:db-1 to confirm:") && text.contains("Enter confirm · Esc cancel"), "{text}");
    assert!(text.contains("1. run [DESTRUCTIVE]: /bin/true host:db-1"), "{text}");

    // Enter with nothing typed: refused, and the overlay says so.
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty());
    assert!(app.proposal.is_some());
    assert!(screen(&app).contains("✗ type host:db-1 first: this plan is destructive"), "{}", screen(&app));
    // `y`, `n`, `q` and `j` are text here: they neither confirm, cancel, quit nor scroll.
    type_text(&mut app, "ynqj");
    assert!(!app.should_quit && app.outbox.is_empty() && app.proposal.is_some());
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    // Wrong text: refused.
    type_text(&mut app, "host:db-2");
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty());
    assert_eq!(app.notice.as_deref(), Some("refused: `host:db-2` is not host:db-1; nothing ran"));
    assert!(screen(&app).contains("✗ refused: `host:db-2` is not host:db-1"), "{}", screen(&app));
    // Close but not exact (a space more): refused too.
    key(&mut app, KeyCode::Backspace);
    type_text(&mut app, "1 ");
    key(&mut app, KeyCode::Enter);
    assert!(app.outbox.is_empty());
    key(&mut app, KeyCode::Backspace);
    assert!(screen(&app).contains("type host:db-1 to confirm: host:db-1"), "{}", screen(&app));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.outbox, vec![expected]);
    assert_eq!(app.proposal, None);
}

#[test]
fn read_only_shows_the_plan_but_never_runs_it() {
    let mut app = app(true);
    key(&mut app, KeyCode::Char('r'));
    assert!(app.proposal.is_some(), "the plan can be read");
    let text = screen(&app);
    assert!(text.contains("read-only: this plan cannot run"), "{text}");
    assert!(text.contains("/bin/echo restart host:db-1 P-0001"), "{text}");
    for confirm in [KeyCode::Char('y'), KeyCode::Enter] {
        key(&mut app, KeyCode::Char('r'));
        key(&mut app, confirm);
        assert!(app.outbox.is_empty());
        assert_eq!(app.proposal, None);
        assert_eq!(app.notice.as_deref(), Some(RUN_READONLY_NOTICE));
    }
    // A destructive plan asks for nothing to be typed: it cannot run anyway.
    key(&mut app, KeyCode::Char('w'));
    let proposal = app.proposal.clone().unwrap();
    assert!(proposal.destructive && proposal.typed.is_none());
    type_text(&mut app, "y");
    assert!(app.outbox.is_empty());
    assert_eq!(app.notice.as_deref(), Some(RUN_READONLY_NOTICE));
    // Cancelling is an action too.
    key(&mut app, KeyCode::Char('X'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some(RUN_READONLY_NOTICE));
}

#[test]
fn off_live_runbooks_are_refused_until_back_to_live() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('['));
    assert!(!app.replay.is_live());
    for code in [KeyCode::Char('r'), KeyCode::Char('x'), KeyCode::Char('X')] {
        key(&mut app, code);
        assert_eq!((app.proposal.is_none(), app.chooser.is_none()), (true, true), "{code:?}");
        assert_eq!(app.notice.as_deref(), Some(REPLAY_RUN_NOTICE), "{code:?}");
    }
    key(&mut app, KeyCode::Char('L'));
    key(&mut app, KeyCode::Char('r'));
    assert!(app.proposal.is_some(), "{:?}", app.notice);
}

#[test]
fn esc_or_n_is_a_dry_run_that_sends_nothing() {
    for close in [KeyCode::Esc, KeyCode::Char('n')] {
        let mut app = app(false);
        key(&mut app, KeyCode::Char('r'));
        key(&mut app, close);
        assert_eq!(app.proposal, None);
        assert!(app.outbox.is_empty());
        assert_eq!(app.notice.as_deref(), Some(DRY_RUN_NOTICE));
        assert_eq!(app.view, View::Detail(ProblemId(1)), "closing the plan stays in the detail");
        key(&mut app, KeyCode::Char('y'));
        assert!(app.outbox.is_empty());
    }
}

#[test]
fn a_plan_that_cannot_be_filled_in_names_file_line_and_key() {
    // `needs-unit` matches databases: put a database problem under it.
    let mut app = App::new(options(false));
    update(&mut app, Action::Resize { width: 80, height: 24 });
    let mut events = events();
    if let EventKind::RootCauseRanked { candidates } = &mut events[2].kind {
        candidates[0].entity_kind = EntityKind::Database;
    }
    update(&mut app, Feed::Events(events).into());
    key(&mut app, KeyCode::Char('u'));
    assert_eq!(app.proposal, None);
    let notice = app.notice.clone().unwrap_or_default();
    assert!(
        notice.starts_with("runbook needs-unit cannot run on P-0001: /etc/faultline/runbooks/needs-unit.toml:"),
        "{notice}"
    );
    assert!(notice.contains("steps[0].argv[1]") && notice.contains("{entity.labels.unit}"), "{notice}");
}

fn output(runbook: &str, stream: Stream, text: &str) -> OutputLine {
    OutputLine { runbook: runbook.to_string(), step: 0, stream, text: text.to_string() }
}

fn started(seq: u64) -> ProblemEvent {
    let plan = vec!["runbook restart".to_string(), "1. run: /bin/echo restart".to_string()];
    event(
        seq,
        3,
        EventKind::RunbookStarted { runbook: "restart".to_string(), by: OPERATOR.to_string(), plan, auto: false },
    )
}

fn finished(seq: u64, outcome: Outcome, output: &str) -> ProblemEvent {
    let step = StepRecord {
        index: 0,
        kind: "run".to_string(),
        status: if outcome == Outcome::Failed { StepStatus::Failed } else { StepStatus::Succeeded },
        started_at: at(3),
        finished_at: at(4),
        exit_code: Some(0),
        signal: None,
        http_status: None,
        output: output.to_string(),
        truncated: false,
        detail: "exit status 0".to_string(),
    };
    let record = RunRecord {
        runbook: "restart".to_string(),
        file: "/etc/faultline/runbooks/restart.toml".into(),
        problem: "P-0001".to_string(),
        entity: ENTITY.to_string(),
        operator: OPERATOR.to_string(),
        started_at: at(3),
        finished_at: at(4),
        plan: vec![],
        steps: vec![step],
        outcome,
        auto: false,
        escalation: None,
    };
    event(seq, 4, EventKind::RunbookFinished { record: Box::new(record) })
}

/// The row of the screen that holds `text`.
fn row_of(buffer: &Buffer, text: &str) -> (u16, u16) {
    let lines = rows(buffer);
    let y = lines.iter().position(|l| l.contains(text)).unwrap_or_else(|| panic!("{text:?} not on screen"));
    let x = lines[y].find(text).unwrap_or_default();
    // Columns are cells: one per character here (no wide characters before the text).
    (lines[y][..x].chars().count() as u16, y as u16)
}

#[test]
fn run_output_streams_into_the_pane_and_the_full_screen_view() {
    let mut app = app(false);
    assert!(!screen(&app).contains("RUN restart"), "no run, no pane");
    update(&mut app, Feed::Events(vec![started(4)]).into());
    let lines = vec![
        output("restart", Stream::Note, "step 1 run: /bin/echo restart"),
        output("restart", Stream::Stdout, "restarting db-1"),
        output("restart", Stream::Stderr, "warning: slow stop"),
    ];
    update(&mut app, Feed::RunOutput { problem: ProblemId(1), lines }.into());
    let buffer = draw(&app);
    let text = rows(&buffer).join("\n");
    assert!(text.contains("RUN restart ⟳ running since 03:03:00 by alice@bastion-1 · o output · X cancel"), "{text}");
    assert!(text.contains("· step 1 run: /bin/echo restart"), "{text}");
    assert!(text.contains("  restarting db-1") && text.contains("! warning: slow stop"), "{text}");
    // stderr in the warning colour, step notes muted, stdout plain.
    let warning = app.theme.severity(Severity::Warning).fg;
    let (x, y) = row_of(&buffer, "warning: slow stop");
    assert_eq!(buffer[(x, y)].fg, warning.unwrap_or(Color::Reset));
    let (x, y) = row_of(&buffer, "step 1 run");
    assert_eq!(buffer[(x, y)].fg, app.theme.ui.muted.fg.unwrap_or(Color::Reset));
    // The timeline says who started it.
    assert!(text.contains("⚙ runbook restart started by alice@bastion-1"), "{text}");

    // Only the newest lines are kept.
    let flood: Vec<OutputLine> =
        (0..MAX_LINES + 10).map(|i| output("restart", Stream::Stdout, &format!("line {i}"))).collect();
    update(&mut app, Feed::RunOutput { problem: ProblemId(1), lines: flood }.into());
    let kept = app.outputs.get(ProblemId(1), "restart").unwrap();
    assert_eq!(kept.lines.len(), MAX_LINES);
    assert_eq!(kept.lines.back().map(|l| l.text.as_str()), Some(format!("line {}", MAX_LINES + 9).as_str()));
    assert!(screen(&app).contains(&format!("line {}", MAX_LINES + 9)), "the newest line is in the pane");

    // `o`: full screen, following the end; scrolling up leaves the end, Esc comes back.
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(app.view, View::Output(ProblemId(1)));
    let text = screen(&app);
    assert!(text.contains("P-0001 · output · lines 981-1002 of 1002 · follows"), "{text}");
    assert!(text.contains(&format!("line {}", MAX_LINES + 9)), "{text}");
    key(&mut app, KeyCode::Char('g'));
    let text = screen(&app);
    assert!(text.contains("RUN restart on P-0001") && !text.contains("follows"), "{text}");
    assert!(text.contains("(13 earlier lines dropped: the newest are kept)"), "{text}");
    // While scrolled up, new lines do not move the view; `G` follows the end again.
    update(
        &mut app,
        Feed::RunOutput { problem: ProblemId(1), lines: vec![output("restart", Stream::Stdout, "newest")] }.into(),
    );
    assert!(screen(&app).contains("RUN restart on P-0001"));
    key(&mut app, KeyCode::Char('G'));
    assert!(screen(&app).contains("newest") && screen(&app).contains("follows"), "{}", screen(&app));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Detail(ProblemId(1)));

    // The run ends: the pane says how, the timeline too, in the outcome's colour.
    update(&mut app, Feed::Events(vec![finished(5, Outcome::Succeeded, "restarted\n")]).into());
    let text = screen(&app);
    assert!(text.contains("RUN restart ✓ succeeded at 03:04:00 in 60s, by alice@bastion-1 · o output"), "{text}");
    assert!(!text.contains("X cancel"), "{text}");
    assert!(text.contains("✓ runbook restart by alice@bastion-1 succeeded in 60s"), "{text}");
    // A new run of the same runbook starts a fresh output.
    update(&mut app, Feed::Events(vec![started(6)]).into());
    update(
        &mut app,
        Feed::RunOutput { problem: ProblemId(1), lines: vec![output("restart", Stream::Stdout, "again")] }.into(),
    );
    assert_eq!(app.outputs.get(ProblemId(1), "restart").unwrap().lines.len(), 1);
}

#[test]
fn a_viewer_without_the_stream_knows_the_run_from_its_events() {
    // Attached to a journal: the events, never the live lines.
    let mut app = app(false);
    update(&mut app, Feed::Events(vec![started(4)]).into());
    let text = screen(&app);
    assert!(text.contains("⟳ running since 03:03:00"), "{text}");
    assert!(text.contains("no output received here yet"), "{text}");
    update(&mut app, Feed::Events(vec![finished(5, Outcome::Failed, "boom\n")]).into());
    let text = screen(&app);
    assert!(text.contains("RUN restart ✗ FAILED at 03:04:00"), "{text}");
    assert!(text.contains("· restart step 1 run FAILED: exit status 0") && text.contains("  boom"), "{text}");
    // In replay, before the end, it was running.
    key(&mut app, KeyCode::Char('['));
    assert!(screen(&app).contains("⟳ running since 03:03:00"), "{}", screen(&app));
}

#[test]
fn shift_x_proposes_cancelling_the_running_runbook_and_sends_a_cancel() {
    let mut app = app(false);
    key(&mut app, KeyCode::Char('X'));
    assert_eq!(app.proposal, None);
    assert_eq!(app.notice.as_deref(), Some("no runbook is running on P-0001"));

    update(&mut app, Feed::Events(vec![started(4)]).into());
    key(&mut app, KeyCode::Char('X'));
    let expected = Request::Cancel(CancelRequest {
        runbook: "restart".to_string(),
        problem: ProblemId(1),
        by: OPERATOR.to_string(),
    });
    assert_eq!(app.proposal.as_ref().map(|p| &p.request), Some(&expected));
    let text = screen(&app);
    assert!(text.contains("cancel restart on P-0001?") && text.contains("Cancel runbook restart on P-0001"), "{text}");
    assert!(text.contains("y/Enter confirm · n/Esc keep it running"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert!(app.outbox.is_empty());
    key(&mut app, KeyCode::Char('X'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.outbox, vec![expected]);

    // Once it ended there is nothing to cancel.
    update(&mut app, Feed::Events(vec![finished(5, Outcome::Cancelled, "")]).into());
    key(&mut app, KeyCode::Char('X'));
    assert_eq!(app.notice.as_deref(), Some("no runbook is running on P-0001"));
}

#[test]
fn nothing_under_src_ui_imports_a_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut dirs = vec![root];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            files += 1;
            for needle in ["crate::sources", "faultline::sources", "super::sources", "super::super::sources"] {
                assert!(
                    !text.contains(needle),
                    "{} uses {needle}: the UI acts only through crate::runbook",
                    path.display()
                );
            }
        }
    }
    assert!(files > 10, "{files} files read");
}
