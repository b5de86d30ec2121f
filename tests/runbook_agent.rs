//! The agent runs runbooks: a `Runtime` with runbooks written into a temporary directory, a
//! problem opened by a plain alert, and requests sent the way the UI (its channel) and viewers
//! (the journal's request queue) send them. Real processes and a real local webhook server; the
//! executor is never mocked. The `silence` step and `faultline runbook run` queued to a running
//! `faultline agent` use a real Alertmanager (tests/support).

mod support;

use faultline::agent::requests;
use faultline::agent::runtime::Runtime;
use faultline::config::Config;
use faultline::journal::{Journal, RequestQueue, RequestState};
use faultline::model::{
    AlertState, EntityId, EventKind, Observation, ObservationKind, Outcome, ProblemEvent, ProblemId, ProblemSet,
    RunRecord, Severity, StepStatus, Timestamp,
};
use faultline::runbook::{CancelRequest, Plan, Request, RunRequest};
use faultline::ui::Feed;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

const OPERATOR: &str = "alice@bastion-1 (from 10.0.0.5)";

/// How long any one thing may take on 2 busy cores.
const PATIENCE: Duration = Duration::from_secs(30);

struct Setup {
    dir: tempfile::TempDir,
    config: Config,
}

impl Setup {
    /// Runbooks `(name, text)` under `<dir>/runbooks`, locks under `<dir>/locks`; `extra` is
    /// appended to the config (auto-remediation policies, engine settings).
    fn new(runbooks: &[(&str, &str)], extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let rb = dir.path().join("runbooks");
        std::fs::create_dir(&rb).unwrap();
        for (name, text) in runbooks {
            std::fs::write(rb.join(format!("{name}.toml")), text).unwrap();
        }
        let text = format!(
            "[runbooks]\ndir = \"{}\"\nlock_dir = \"{}\"\n{extra}",
            rb.display(),
            dir.path().join("locks").display()
        );
        let config = Config::parse(&text, &dir.path().join("faultline.toml")).unwrap();
        Setup { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn journal(&self) -> PathBuf {
        self.path("journal.sqlite")
    }

    /// A runtime on a fresh journal with one open problem (P-0001: `HostDown` on host:web-1).
    fn runtime(&self) -> Runtime {
        let journal = Journal::open(&self.journal()).unwrap();
        let (mut rt, _) = Runtime::new(&self.config, Some(journal)).unwrap();
        rt.set_kill_grace(Duration::from_millis(300));
        rt.observe(&alert("host:web-1", "HostDown", AlertState::Firing, Timestamp::wall_clock())).unwrap();
        assert!(rt.problems().problems[&ProblemId(1)].is_open());
        rt
    }

    fn events(&self) -> Vec<ProblemEvent> {
        Journal::open_read_only(&self.journal()).unwrap().events_after(0).unwrap()
    }
}

fn alert(entity: &str, name: &str, state: AlertState, at: Timestamp) -> Observation {
    let labels = BTreeMap::from([
        ("alertname".to_string(), name.to_string()),
        ("instance".to_string(), entity.trim_start_matches("host:").to_string()),
    ]);
    Observation {
        at,
        source: "alertmanager".into(),
        kind: ObservationKind::Alert {
            entity: EntityId::new(entity),
            name: name.into(),
            fingerprint: format!("fp-{entity}-{name}"),
            state,
            severity: Severity::Critical,
            labels,
            summary: String::new(),
        },
    }
}

/// The plan the UI would show for `runbook` on `problem`, as a confirmed request.
fn request(rt: &Runtime, runbook: &str, problem: u64) -> RunRequest {
    let p = &rt.problems().problems[&ProblemId(problem)];
    let ctx = rt.agent().context(p).unwrap();
    let plan = Plan::build(&rt.runbooks(), runbook, &ctx, OPERATOR).unwrap();
    RunRequest { runbook: runbook.into(), problem: ProblemId(problem), operator: OPERATOR.into(), shown: plan.lines() }
}

/// The runtime running on its own tokio runtime, with the UI's two channels.
struct Running {
    tokio: tokio::runtime::Runtime,
    requests: Option<UnboundedSender<Request>>,
    feed: UnboundedReceiver<Feed>,
    agent: Option<tokio::task::JoinHandle<Result<(), faultline::journal::JournalError>>>,
    /// Everything the feed said so far.
    seen: Vec<Feed>,
}

impl Running {
    fn start(rt: Runtime) -> Running {
        let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (feed_tx, feed) = tokio::sync::mpsc::unbounded_channel();
        let (req_tx, req_rx) = tokio::sync::mpsc::unbounded_channel();
        let agent = tokio.spawn(rt.run(Some(feed_tx), Some(req_rx), std::future::pending()));
        Running { tokio, requests: Some(req_tx), feed, agent: Some(agent), seen: Vec::new() }
    }

    fn send(&self, r: Request) {
        self.requests.as_ref().unwrap().send(r).unwrap();
    }

    /// Waits for a notice `wanted` accepts and returns it.
    fn notice(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let feed = &mut self.feed;
            let got = self.tokio.block_on(async { tokio::time::timeout_at(deadline, feed.recv()).await });
            match got {
                Ok(Some(f)) => {
                    self.seen.push(f.clone());
                    if let Feed::Notice(text) = f {
                        if wanted(&text) {
                            return text;
                        }
                    }
                }
                other => panic!("no notice {what}: {other:?}; seen {:#?}", self.seen),
            }
        }
    }

    /// The UI goes away: the agent stops (cancelling what still runs).
    fn stop(mut self) {
        drop(self.requests.take());
        let agent = self.agent.take().unwrap();
        self.tokio.block_on(agent).unwrap().unwrap();
    }
}

fn started(events: &[ProblemEvent]) -> Vec<&ProblemEvent> {
    events.iter().filter(|e| matches!(e.kind, EventKind::RunbookStarted { .. })).collect()
}

fn records(events: &[ProblemEvent]) -> Vec<RunRecord> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RunbookFinished { record } => Some((**record).clone()),
            _ => None,
        })
        .collect()
}

fn sh(script: &str) -> String {
    format!("argv = [\"/bin/sh\", \"-c\", {script:?}, \"sh\", \"{{entity.id}}\"]")
}

#[test]
fn a_run_request_is_journaled_with_its_audit_and_streams_its_output() {
    let greet = format!(
        "name = \"greet\"\n[match]\nsignal_name = \"HostDown\"\n[[steps]]\nkind = \"run\"\n{}\ntimeout = \"10s\"\n",
        sh("echo hello $1; echo careful >&2; exit 0")
    );
    let s = Setup::new(&[("greet", &greet)], "");
    let rt = s.runtime();
    let req = request(&rt, "greet", 1);
    let mut run = Running::start(rt);
    run.send(Request::Run(req.clone()));
    let begun = run.notice("of the start", |n| n.contains("started"));
    assert_eq!(begun, format!("runbook greet on P-0001 by {OPERATOR} started"));
    let done = run.notice("of the end", |n| n.starts_with("P-0001: runbook greet"));
    assert!(done.contains(&format!("by {OPERATOR} succeeded")), "{done}");

    // The output reached the UI while it ran, as RunOutput of the problem.
    let lines: Vec<String> = run
        .seen
        .iter()
        .filter_map(|f| match f {
            Feed::RunOutput { problem, lines } if *problem == ProblemId(1) => Some(lines.clone()),
            _ => None,
        })
        .flatten()
        .map(|l| l.text)
        .collect();
    assert!(lines.contains(&"hello host:web-1".to_string()), "{lines:?}");
    assert!(lines.contains(&"careful".to_string()), "{lines:?}");
    // And the events, as they were journaled.
    let fed: Vec<ProblemEvent> = run
        .seen
        .iter()
        .filter_map(|f| match f {
            Feed::Events(e) => Some(e.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    run.stop();

    let events = s.events();
    let start = started(&events);
    assert_eq!(start.len(), 1);
    let EventKind::RunbookStarted { runbook, by, plan, auto } = &start[0].kind else { unreachable!() };
    assert_eq!((runbook.as_str(), by.as_str(), plan, *auto), ("greet", OPERATOR, &req.shown, false));
    let r = &records(&events)[0];
    assert_eq!(r.operator, OPERATOR);
    assert_eq!(r.plan, req.shown, "the plan that ran is the plan shown");
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(r.steps[0].exit_code, Some(0));
    assert!(r.steps[0].output.contains("hello host:web-1\n"), "{:?}", r.steps[0].output);
    assert!(!r.auto);
    for e in
        events.iter().filter(|e| matches!(e.kind, EventKind::RunbookStarted { .. } | EventKind::RunbookFinished { .. }))
    {
        assert!(fed.contains(e), "journaled but not sent to the UI: {e:?}");
    }
    // The problem's timeline shows both.
    let set = ProblemSet::fold(&events);
    let timeline: Vec<&str> = set.problems[&ProblemId(1)].timeline.iter().map(|t| t.text.as_str()).collect();
    assert!(timeline.iter().any(|t| t.starts_with(&format!("runbook greet started by {OPERATOR}"))), "{timeline:?}");
    assert!(timeline.iter().any(|t| t.starts_with(&format!("runbook greet by {OPERATOR} succeeded"))), "{timeline:?}");
}

#[test]
fn a_changed_plan_read_only_and_a_resolved_or_unknown_problem_are_refused_and_nothing_runs() {
    let s = Setup::new(&[], "[engine]\nresolve_after = \"1s\"\n");
    let marker = s.path("ran");
    let mark = format!(
        "name = \"mark\"\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{}\", \"{}/{{entity.id}}.ran\"]\n",
        marker.display(),
        s.dir.path().display()
    );
    std::fs::write(s.path("runbooks/mark.toml"), mark).unwrap();

    // The plan the agent fills in differs from what was shown: it says which line.
    let rt = s.runtime();
    let mut changed = request(&rt, "mark", 1);
    changed.shown[1] = changed.shown[1].replace("host:web-1.ran", "host:web-2.ran");
    let want = format!("line 2 was `{}`, is now `{}`", changed.shown[1], request(&rt, "mark", 1).shown[1]);
    let unknown = RunRequest { problem: ProblemId(9), ..request(&rt, "mark", 1) };
    let mut run = Running::start(rt);
    run.send(Request::Run(changed));
    let n = run.notice("of the changed plan", |n| n.contains("refused"));
    assert!(n.contains("the plan changed since it was shown") && n.contains(&want), "{n}");
    assert!(n.ends_with("nothing ran"), "{n}");
    run.send(Request::Run(unknown));
    let n = run.notice("of the unknown problem", |n| n.contains("refused"));
    assert!(n.contains("P-0009 is not a problem this agent knows"), "{n}");
    run.stop();

    // Read-only.
    std::fs::remove_file(s.journal()).unwrap();
    let mut rt = s.runtime();
    rt.set_readonly(true);
    let req = request(&rt, "mark", 1);
    let mut run = Running::start(rt);
    run.send(Request::Run(req));
    let n = run.notice("of read-only", |n| n.contains("refused"));
    assert!(n.contains("refused: read-only (--readonly); nothing ran"), "{n}");
    run.stop();

    // Resolved: the alert cleared and stayed clear past `resolve_after`.
    std::fs::remove_file(s.journal()).unwrap();
    let mut rt = s.runtime();
    let req = request(&rt, "mark", 1);
    let t = Timestamp::wall_clock();
    rt.observe(&alert("host:web-1", "HostDown", AlertState::Resolved, t)).unwrap();
    rt.observe(&Observation { at: t.plus_ms(5_000), source: "test".into(), kind: ObservationKind::Tick }).unwrap();
    assert!(!rt.problems().problems[&ProblemId(1)].is_open());
    let mut run = Running::start(rt);
    run.send(Request::Run(req));
    let n = run.notice("of the resolved problem", |n| n.contains("refused"));
    assert!(n.contains("P-0001 is resolved"), "{n}");
    run.stop();

    assert!(!marker.exists(), "a refused run ran");
    assert!(started(&s.events()).is_empty(), "a refused run was journaled as started");
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purpose: it runs nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
}

fn wait_for_file(p: &Path) -> String {
    for _ in 0..3000 {
        if let Ok(text) = std::fs::read_to_string(p) {
            if text.ends_with('\n') {
                return text;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} never appeared", p.display());
}

#[test]
fn cancel_ends_a_long_step_and_its_whole_process_group() {
    let s = Setup::new(&[], "");
    let pids = s.path("pids");
    let long = format!(
        "name = \"long\"\n[[steps]]\nkind = \"run\"\n{}\ntimeout = \"60s\"\n",
        sh(&format!("sleep 30 & echo $$ $! > {}; wait", pids.display()))
    );
    std::fs::write(s.path("runbooks/long.toml"), long).unwrap();
    let rt = s.runtime();
    let req = request(&rt, "long", 1);
    let mut run = Running::start(rt);
    let cancel = |problem| CancelRequest { runbook: "long".into(), problem: ProblemId(problem), by: "bob@b2".into() };
    run.send(Request::Cancel(cancel(1)));
    let n = run.notice("of nothing to cancel", |n| n.contains("cancel"));
    assert_eq!(n, "no run of runbook long on P-0001 in progress: nothing cancelled");

    run.send(Request::Run(req));
    let text = wait_for_file(&pids);
    let group: Vec<i32> = text.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(group.iter().all(|p| alive(*p)), "{group:?}");
    run.send(Request::Cancel(cancel(1)));
    let n = run.notice("of the cancel", |n| n.contains("cancelled by"));
    assert_eq!(n, "runbook long on P-0001: cancelled by bob@b2");
    let done = run.notice("of the end", |n| n.starts_with("P-0001: runbook long"));
    assert!(done.contains("cancelled"), "{done}");
    run.stop();
    for p in &group {
        assert!(!alive(*p), "pid {p} of the cancelled step's group is still running");
    }
    let r = &records(&s.events())[0];
    assert_eq!(r.outcome, Outcome::Cancelled);
    assert_eq!(r.steps[0].status, StepStatus::Cancelled);
    assert!(r.steps[0].detail.contains("process group killed"), "{}", r.steps[0].detail);
}

/// Each request's path and body, as a local server received them.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A local HTTP server recording each request's path and body, answering 200.
fn webhook() -> (String, Received) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            store.lock().unwrap().push((path, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, got)
}

#[test]
fn a_fix_that_does_not_help_escalates_to_a_webhook_and_the_record_holds_the_chain() {
    let (url, got) = webhook();
    let fix = "name = \"fix\"\n[match]\nsignal_name = \"HostDown\"\n[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n\
               [[steps]]\nkind = \"check\"\nafter = \"200ms\"\n[[steps]]\nkind = \"escalate\"\nto = \"notify\"\nafter = \"300ms\"\n";
    let notify = format!(
        "name = \"notify\"\n[[steps]]\nkind = \"http\"\nshape = \"slack\"\nurl = \"{url}/hooks/team\"\n\
         text = \"{{problem.id}} on {{entity.id}} still down after {{operator}}'s fix\"\n"
    );
    let s = Setup::new(&[("fix", fix), ("notify", &notify)], "");
    let rt = s.runtime();
    let req = request(&rt, "fix", 1);
    assert!(req.shown.iter().any(|l| l.contains("escalate to notify")), "{:?}", req.shown);
    let mut run = Running::start(rt);
    run.send(Request::Run(req));
    let done = run.notice("of the end", |n| n.starts_with("P-0001: runbook fix"));
    assert!(done.contains("escalated") && done.contains("→ notify succeeded"), "{done}");
    run.stop();

    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].0, "/hooks/team");
    let body: serde_json::Value = serde_json::from_str(&received[0].1).unwrap();
    assert_eq!(body["text"], format!("P-0001 on host:web-1 still down after {OPERATOR}'s fix"));

    let r = &records(&s.events())[0];
    assert_eq!(r.outcome, Outcome::Escalated);
    // The live probe answered from the agent's own problem: open, its alert still firing.
    assert_eq!(r.steps[1].status, StepStatus::NotMitigated);
    assert!(r.steps[1].detail.starts_with("P-0001 not mitigated: open, 1 active signals"), "{}", r.steps[1].detail);
    let next = r.escalation.as_deref().expect("the escalation's record");
    assert_eq!((next.runbook.as_str(), next.outcome), ("notify", Outcome::Succeeded));
    assert_eq!(next.steps[0].http_status, Some(200));
    assert_eq!(r.final_outcome(), Outcome::Succeeded);
}

/// Two problems on two hosts, and a policy for `auto-fix` (which marks the problem it ran on).
fn auto_setup(policy: bool) -> (Setup, Runtime) {
    let s = Setup::new(
        &[],
        if policy { "[[runbooks.auto]]\nrunbook = \"auto-fix\"\nmin_score = 0.5\nmax_per_hour = 1\n" } else { "" },
    );
    let fix = format!(
        "name = \"auto-fix\"\n[[steps]]\nkind = \"run\"\nargv = [\"touch\", \"{}/auto-{{problem.id}}\"]\n",
        s.dir.path().display()
    );
    std::fs::write(s.path("runbooks/auto-fix.toml"), fix).unwrap();
    let mut rt = s.runtime();
    rt.observe(&alert("host:db-7", "DiskFull", AlertState::Firing, Timestamp::wall_clock())).unwrap();
    assert_eq!(rt.problems().visible().len(), 2, "{:#?}", rt.problems().visible());
    (s, rt)
}

/// Sends a manual run of `auto-fix` on P-0002 and waits for its answer: by then the agent's
/// loop has turned past the events fed before it started.
fn after_one_turn(run: &mut Running, req: RunRequest) -> String {
    run.send(Request::Run(req));
    run.notice("of the manual run", |n| n.contains(OPERATOR) && (n.contains("refused") || n.starts_with("P-0002")))
}

#[test]
fn auto_remediation_runs_once_per_problem_within_its_hourly_limit_and_never_when_off_or_read_only() {
    // With the policy: P-0001 is remediated; P-0002 would be too, but one run per hour is used up.
    let (s, rt) = auto_setup(true);
    let mut run = Running::start(rt);
    let n = run.notice("of the auto run", |n| n.starts_with("P-0001: runbook auto-fix"));
    assert!(n.contains("(auto-remediation) succeeded"), "{n}");
    run.stop();
    assert!(s.path("auto-P-0001").exists());
    assert!(!s.path("auto-P-0002").exists(), "the hourly limit let a second run through");
    let events = s.events();
    let start = started(&events);
    assert_eq!(start.len(), 1);
    let EventKind::RunbookStarted { by, auto, .. } = &start[0].kind else { unreachable!() };
    assert!(*auto && by.starts_with("faultline-agent@") && by.ends_with(" (auto-remediation)"), "{by}");
    let r = &records(&events)[0];
    assert!(r.auto && r.operator == *by);

    // Without a policy nothing runs by itself.
    let (s, rt) = auto_setup(false);
    let req = request(&rt, "auto-fix", 2);
    let mut run = Running::start(rt);
    after_one_turn(&mut run, req);
    run.stop();
    assert!(!s.path("auto-P-0001").exists());
    assert_eq!(started(&s.events()).len(), 1, "only the manual run");

    // Read-only: neither the policy nor the manual request runs anything.
    let (s, mut rt) = auto_setup(true);
    rt.set_readonly(true);
    let req = request(&rt, "auto-fix", 2);
    let mut run = Running::start(rt);
    let n = after_one_turn(&mut run, req);
    assert!(n.contains("read-only"), "{n}");
    run.stop();
    assert!(!s.path("auto-P-0001").exists() && !s.path("auto-P-0002").exists());
    assert!(started(&s.events()).is_empty());
}

#[test]
fn a_queued_viewer_run_is_carried_out_and_its_row_gets_the_outcome() {
    let s = Setup::new(&[], "");
    let slow = format!(
        "name = \"slow\"\n[[steps]]\nkind = \"run\"\n{}\ntimeout = \"20s\"\n",
        sh(&format!("while [ ! -e {} ]; do sleep 0.02; done; echo released", s.path("release").display()))
    );
    std::fs::write(s.path("runbooks/slow.toml"), slow).unwrap();
    let rt = s.runtime();
    let good = request(&rt, "slow", 1);
    let twice = good.clone();
    let queue = RequestQueue::open(&s.journal()).unwrap();
    let submit = |r: RunRequest| {
        let (kind, body, who) = requests::encode(&Request::Run(r));
        queue.submit(&who, kind, &body).unwrap()
    };
    let (good_id, twice_id) = (submit(good), submit(twice));
    let mut run = Running::start(rt);
    run.notice("of the queued run's start", |n| n.contains("started (asked by"));
    // The run goes on; the queue loop does not wait for it: the next row is answered meanwhile.
    let n = run.notice("of the refused row", |n| n.contains("refused"));
    assert!(n.contains("refused: runbook slow is already running on P-0001 in this agent; nothing ran"), "{n}");
    assert_eq!(queue.get(twice_id).unwrap().unwrap().state, RequestState::Refused);
    assert_eq!(queue.get(good_id).unwrap().unwrap().state, RequestState::Running, "running while the run lasts");
    std::fs::write(s.path("release"), "").unwrap();
    let n = run.notice("of the end", |n| n.starts_with("P-0001: runbook slow"));
    run.stop();
    let row = queue.get(good_id).unwrap().unwrap();
    assert_eq!(row.state, RequestState::Done);
    assert_eq!(row.outcome.as_deref(), Some(n.as_str()));
    assert!(n.contains(&format!("by {OPERATOR} succeeded")), "{n}");
    let r = &records(&s.events())[0];
    assert_eq!(r.steps[0].output, "released\n");
}

#[test]
fn a_silence_step_creates_an_exact_match_silence_in_the_agents_alertmanager() {
    let am = support::alertmanager();
    let extra = format!("[[sources.alertmanager]]\nname = \"am\"\nurl = \"{}\"\ninterval = \"1h\"\n", am.url);
    let quiet = "name = \"quiet\"\n[[steps]]\nkind = \"silence\"\nduration = \"30m\"\n";
    let s = Setup::new(&[("quiet", quiet)], &extra);
    let rt = s.runtime();
    let req = request(&rt, "quiet", 1);
    assert!(
        req.shown[1].starts_with("1. silence: alertname=HostDown instance=web-1 for 30m"),
        "the plan names the exact matchers: {:?}",
        req.shown
    );
    // The same plan outside an agent (no Alertmanager known): skipped, saying why.
    let p = &rt.problems().problems[&ProblemId(1)];
    let plan = Plan::build(&rt.runbooks(), "quiet", &rt.agent().context(p).unwrap(), OPERATOR).unwrap();
    let probe = std::sync::Arc::new(faultline::runbook::JournalProbe { path: s.journal() });
    let alone = faultline::runbook::Executor::new(s.path("other-locks"), probe);
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let r = tokio.block_on(alone.run(&plan, &tx, &faultline::runbook::CancelToken::new())).unwrap();
    assert_eq!(r.steps[0].status, StepStatus::Skipped);
    assert!(r.steps[0].detail.starts_with("no Alertmanager known here"), "{}", r.steps[0].detail);

    let mut run = Running::start(rt);
    run.send(Request::Run(req));
    let done = run.notice("of the end", |n| n.starts_with("P-0001: runbook quiet"));
    run.stop();
    let r = &records(&s.events())[0];
    assert_eq!(r.steps[0].status, StepStatus::Succeeded, "{done}");
    let (status, body) = support::http_get(&format!("{}/api/v2/silences", am.url));
    assert_eq!(status, 200, "{body}");
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let id = listed[0]["id"].as_str().unwrap();
    assert!(r.steps[0].detail.starts_with(&format!("silence {id} created in am until ")), "{}", r.steps[0].detail);
    assert_eq!(listed[0]["createdBy"], OPERATOR);
    let matchers: Vec<(String, String, bool, bool)> = listed[0]["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["value"].as_str().unwrap().into(),
                m["isRegex"] == true,
                m["isEqual"] == true,
            )
        })
        .collect();
    assert_eq!(
        matchers,
        [("alertname".into(), "HostDown".into(), false, true), ("instance".into(), "web-1".into(), false, true)]
    );
}

#[test]
fn runbook_run_queues_for_the_running_agent_and_prints_the_record_it_journaled() {
    let am = support::alertmanager();
    support::fire_alert(&am);
    let s = Setup::new(&[], "");
    let marker = s.dir.path().join("ran");
    std::fs::write(
        s.path("runbooks/mark.toml"),
        format!(
            "name = \"mark\"\n[[steps]]\nkind = \"run\"\nargv = [\"/bin/sh\", \"-c\", \"echo $1 > {}\", \"sh\", \"{{entity.id}}\"]\ndestructive = true\n",
            marker.display()
        ),
    )
    .unwrap();
    let config = s.path("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[journal]\npath = \"{}\"\n[runbooks]\nlock_dir = \"{}\"\n[[sources.alertmanager]]\nname = \"am\"\nurl = \"{}\"\ninterval = \"1s\"\n",
            s.journal().display(),
            s.path("locks").display(),
            am.url
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_faultline");
    let mut agent = std::process::Command::new(bin)
        .args(["agent", "--config"])
        .arg(&config)
        .arg("--runbooks")
        .arg(s.path("runbooks"))
        .arg("--log-file")
        .arg(s.path("agent.log"))
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    support::wait_until("the alert's problem in the journal", PATIENCE, || {
        Journal::open_read_only(&s.journal()).is_ok_and(|j| j.events_of(ProblemId(1)).is_ok_and(|e| !e.is_empty()))
    });
    let out = std::process::Command::new(bin)
        .args(["runbook", "run", "mark", "--problem", "P-0001", "--yes", "--journal"])
        .arg(s.journal())
        .arg("--dir")
        .arg(s.path("runbooks"))
        .arg("--log-file")
        .arg(s.path("cli.log"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // SIGTERM: the agent stops as it does for systemd.
    unsafe {
        libc::kill(agent.id() as i32, libc::SIGTERM);
    }
    let stopped = agent.wait().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("faultline agent pid ") && err.contains("runbook request 1 queued as "), "{err}");
    assert!(err.contains("request 1 done: P-0001: runbook mark by "), "{err}");
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["outcome"], "succeeded");
    assert_eq!(record["entity"], "host:db-1");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "host:db-1\n", "the agent ran it");
    assert!(stopped.success(), "{stopped:?}");
    let events = s.events();
    assert_eq!(started(&events).len(), 1);
    assert_eq!(serde_json::to_value(&records(&events)[0]).unwrap(), record);
    let row = Journal::open_read_only(&s.journal()).unwrap().request(1).unwrap().unwrap();
    assert_eq!(row.state, RequestState::Done);
}
