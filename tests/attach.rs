//! Viewers attached to a running agent (issue 11, points 6 and 7), end to end with the real
//! binary, a real Alertmanager and Prometheus (tests/support) and tmux:
//! - two `faultline replay JOURNAL --follow` viewers show a problem the agent opens; the latency
//!   from the event's commit to its appearance on each screen is printed;
//! - a silence confirmed in one viewer is created by the agent in Alertmanager with that
//!   viewer's `user@host` as author, and shows in both viewers' timelines; a `--readonly` viewer
//!   sends nothing;
//! - one writer per journal: a second `faultline agent` is refused with pid, host and since
//!   (exit 1); `faultline --config F` attaches instead of starting a second agent; after
//!   `kill -9` of the agent a new one starts on the journal and resumes it;
//! - queued requests that are stale or unreadable are refused and recorded, not carried out;
//! - the systemd unit in examples/systemd passes `systemd-analyze verify` and names the paths
//!   its example config uses.
//!
//! Needs tmux and the Prometheus packages (`.ci/run` installs them).

mod support;

use faultline::journal::{Journal, RequestQueue, RequestState};
use faultline::model::EventKind;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::tmux::Tmux;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

fn silences(am: &Server) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}/api/v2/silences", am.url));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().clone()
}

/// A `faultline agent` process, killed (`kill -9`) on drop.
struct AgentProcess {
    child: Child,
}

impl AgentProcess {
    fn start(config: &Path, log: &Path) -> AgentProcess {
        AgentProcess::start_with(config, log, &[])
    }

    fn start_with(config: &Path, log: &Path, extra: &[&str]) -> AgentProcess {
        let child = Command::new(BIN)
            .args(extra)
            .args(["agent", "--config"])
            .arg(config)
            .arg("--log-file")
            .arg(log)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log.with_extension("stderr")).expect("the agent's stderr file"))
            .spawn()
            .expect("starting faultline agent");
        AgentProcess { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, and reaps it.
    fn kill9(&mut self) {
        assert!(Command::new("kill").args(["-KILL", &self.pid().to_string()]).status().unwrap().success());
        let _ = self.child.wait();
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the agent `pid` holds the journal and has published itself in it.
fn wait_for_writer(journal: &Path, pid: u32) {
    wait_until("the agent to hold the journal", Duration::from_secs(20), || {
        Journal::writer_of(journal).ok().flatten().is_some_and(|h| h.pid == pid)
            && Journal::open_read_only(journal).is_ok_and(|j| j.meta("agent.silence_target").ok().flatten().is_some())
    });
}

/// A viewer in its own tmux: `[env] faultline replay JOURNAL --follow [extra]`.
fn start_viewer(name: &str, journal: &Path, env: &str, extra: &str) -> Tmux {
    let t = Tmux::start(name);
    let line = format!(
        "{env} {BIN} replay {} --follow --log-file {} {extra}",
        journal.display(),
        t.path("faultline.log").display()
    );
    t.keys(&[line.trim(), "Enter"]);
    t
}

/// The kernel's hostname, as faultline reads it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

#[test]
fn two_followers_show_a_new_problem_and_a_silence_from_one_reaches_alertmanager_with_its_author() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts::default());
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path(), &prom, &am);
    let journal = dir.path().join("journal.sqlite");
    let mut agent = AgentProcess::start(&config, &dir.path().join("agent.log"));
    wait_for_writer(&journal, agent.pid());

    // alice confirms; bob only looks (--readonly).
    let alice = start_viewer("follow-alice", &journal, "USER=alice", "");
    let bob = start_viewer("follow-bob", &journal, "USER=bob", "--readonly");
    for v in [&alice, &bob] {
        let s = v.wait_for("the follower with the agent holding the journal", |s| {
            s.contains("journal ✓ ok") && s.contains("0 open")
        });
        assert!(s.contains("follow:"), "the title says it follows: {s}");
        assert!(s.contains(" FOLLOW ") && !s.contains(" LIVE "), "the mode says this process runs no agent: {s}");
    }

    // The problem opens in the agent; each viewer shows it. Latency: from the moment the test
    // sees the Opened event committed (polling the journal every 2 ms) to the screen showing it.
    fire_alert(&am);
    let reader = Journal::open_read_only(&journal).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let committed = loop {
        if reader.events_after(0).unwrap().iter().any(|e| matches!(e.kind, EventKind::Opened { .. })) {
            break Instant::now();
        }
        assert!(Instant::now() < deadline, "the agent opened no problem");
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut seen = [None, None];
    while seen.iter().any(Option::is_none) {
        for (i, v) in [&alice, &bob].into_iter().enumerate() {
            if seen[i].is_none() && v.screen().contains("P-0001") {
                seen[i] = Some(committed.elapsed());
            }
        }
        assert!(committed.elapsed() < Duration::from_secs(30), "not on both screens: {seen:?}\n{}", alice.screen());
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "attach latency, commit to screen: viewer 1 {} ms, viewer 2 {} ms (follow poll {} ms)",
        seen[0].unwrap().as_millis(),
        seen[1].unwrap().as_millis(),
        200
    );

    // alice silences from her viewer: the agent creates it, authored by her.
    alice.keys(&["s"]);
    let plan = alice.wait_for("the silence plan", |s| s.contains("/api/v2/silences") && s.contains("y confirm"));
    assert!(plan.contains(r#"alertname="HostCpuSaturated""#), "{plan}");
    assert!(silences(&am).is_empty(), "nothing is sent before confirmation");
    alice.keys(&["y"]);
    let confirmed = Instant::now();
    let who = format!("alice@{}", hostname());
    let deadline = confirmed + Duration::from_secs(20);
    while silences(&am).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no silence in Alertmanager 20 s after the viewer confirmed it\n{}\nagent ({:?}) log:\n{}\nstderr:\n{}\nviewer log:\n{}",
            alice.screen(),
            agent.child.try_wait(),
            std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("agent.stderr")).unwrap_or_default(),
            std::fs::read_to_string(alice.path("faultline.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "viewer request, confirmation to silence in Alertmanager: {} ms (agent polls requests every 250 ms)",
        confirmed.elapsed().as_millis()
    );
    let listed = silences(&am);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["createdBy"], who.as_str(), "{listed:#?}");
    assert_eq!(listed[0]["comment"], "P-0001");
    assert_eq!(listed[0]["status"]["state"], "active");
    alice.wait_for("the agent's outcome as a notice", |s| s.contains("silence(s) created") && s.contains("alice@"));

    // The request is on record with who asked and what came of it.
    let queue = RequestQueue::open(&journal).unwrap();
    let r = queue.get(1).unwrap().expect("request 1");
    assert_eq!((r.who.as_str(), r.kind.as_str(), r.state), (who.as_str(), "silence", RequestState::Done));
    assert!(r.outcome.as_deref().unwrap_or("").contains("1 silence(s) created in am"), "{r:?}");

    // Both timelines show it (the event came through the journal).
    for v in [&alice, &bob] {
        v.wait_for("the list with the problem silenced", |s| s.contains("problems (1)") && s.contains("⊘ silenced"));
        v.keys(&["Enter"]);
        v.wait_for("the problem's detail", |s| s.contains("· P-0001 ·"));
        v.keys(&["G"]);
        v.wait_for("the silence in the problem's timeline", |s| s.contains("silenced by alice@"));
    }

    // bob is read-only: his `s` sends nothing.
    // (A key sent right after Escape would read as Alt+key: wait for the list first.)
    bob.keys(&["Escape"]);
    bob.wait_for("the list again", |s| s.contains("problems (1)"));
    bob.keys(&["s"]);
    bob.wait_for("the read-only notice", |s| s.contains("read-only"));
    bob.keys(&["y"]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(silences(&am).len(), 1);
    assert!(queue.get(2).unwrap().is_none(), "a read-only viewer queued a request");

    for v in [&alice, &bob] {
        v.keys(&["q"]);
    }
    drop(agent);
}

#[test]
fn one_writer_per_journal_a_second_agent_is_refused_and_a_killed_one_does_not_block_a_restart() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts::default());
    fire_alert(&am);
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path(), &prom, &am);
    let journal = dir.path().join("journal.sqlite");
    let mut first = AgentProcess::start(&config, &dir.path().join("agent-1.log"));
    wait_for_writer(&journal, first.pid());
    wait_until("the alert's problem in the journal", Duration::from_secs(20), || {
        Journal::open_read_only(&journal).is_ok_and(|j| j.last_seq().unwrap_or(0) > 0)
    });
    let holder = Journal::writer_of(&journal).unwrap().unwrap();
    assert_eq!((holder.command.as_str(), holder.host.as_str()), ("faultline agent", hostname().as_str()));

    // A second agent on the same journal: refused, naming the first, exit 1.
    let out = Command::new(BIN)
        .args(["agent", "--config"])
        .arg(&config)
        .arg("--log-file")
        .arg(dir.path().join("agent-2.log"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "journal {} is being written by faultline agent pid {} on {} since {}",
        journal.display(),
        first.pid(),
        hostname(),
        holder.since
    );
    assert!(stderr.contains(&expected), "expected `{expected}` in: {stderr}");
    assert!(first.is_running(), "the refused agent must not disturb the first");

    // `faultline --config F` attaches to the running agent instead of starting a second one.
    let t = Tmux::start("attach-live");
    let line = format!("{BIN} --config {} --log-file {}", config.display(), t.path("faultline.log").display());
    t.keys(&[&line, "Enter"]);
    let s = t.wait_for("the attached viewer with the problem", |s| s.contains("P-0001") && s.contains("journal ✓ ok"));
    assert!(s.contains("attached:") && s.contains(" FOLLOW "), "{s}");
    assert_eq!(Journal::writer_of(&journal).unwrap().map(|h| h.pid), Some(first.pid()));
    let seq_before = Journal::open_read_only(&journal).unwrap().last_seq().unwrap();

    // kill -9: the kernel drops the hold; the viewer sees the agent gone; a new agent starts
    // on the same journal and resumes it (the same events, then on from there).
    first.kill9();
    assert_eq!(Journal::writer_of(&journal).unwrap(), None);
    t.wait_for("the journal stale in the status bar", |s| s.contains("journal ! stale"));
    let mut second = AgentProcess::start(&config, &dir.path().join("agent-3.log"));
    wait_for_writer(&journal, second.pid());
    wait_until("the new agent to resume the journal", Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("agent-3.log")).is_ok_and(|l| l.contains("resumed from the journal"))
    });
    t.wait_for("the journal ok again", |s| s.contains("journal ✓ ok"));
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        second.is_running(),
        "the new agent stopped: {:?}",
        std::fs::read_to_string(dir.path().join("agent-3.log"))
    );
    let j = Journal::open_read_only(&journal).unwrap();
    assert!(j.last_seq().unwrap() >= seq_before);
    t.keys(&["q"]);
}

/// A config whose Alertmanager is never contacted by these requests.
fn quiet_config(readonly_journal: &Path) -> faultline::config::Config {
    let text = format!(
        "[journal]\npath = \"{}\"\n\n[[sources.alertmanager]]\nname = \"am\"\nurl = \"http://127.0.0.1:9\"\n",
        readonly_journal.display()
    );
    faultline::config::Config::parse(&text, Path::new("quiet.toml")).unwrap()
}

#[test]
fn stale_unreadable_and_refused_requests_are_recorded_and_not_carried_out() {
    use faultline::agent::runtime::Runtime;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let config = quiet_config(&path);
    let (mut runtime, _) = Runtime::new(&config, Some(Journal::open(&path).unwrap())).unwrap();

    let queue = RequestQueue::open(&path).unwrap();
    let body = r#"{"problem":1,"target":{"via":"am","url":"http://127.0.0.1:9/api/v2/silences","duration_ms":60000},"label_sets":[{"alertname":"X"}],"comment":"P-0001"}"#;
    // Ten minutes old, as if the agent had been down since (what was asked cannot be changed
    // later, so it is queued old).
    let raw = rusqlite::Connection::open(&path).unwrap();
    let ten_minutes_ago = faultline::model::Timestamp::wall_clock().millis() - 600_000;
    raw.execute(
        "INSERT INTO requests (asked_at, who, kind, body) VALUES (?1, 'carol@bastion', 'silence', ?2)",
        rusqlite::params![ten_minutes_ago, body],
    )
    .unwrap();
    let stale = raw.last_insert_rowid();
    let e = raw.execute("UPDATE requests SET asked_at = asked_at + 1 WHERE id = ?1", [stale]).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");
    let unknown = queue.submit("carol@bastion", "reboot", "{}").unwrap();
    let bad = queue.submit("carol@bastion", "silence", "{\"problem\": 1}").unwrap();
    runtime.set_readonly(true);
    let readonly = queue.submit("carol@bastion", "silence", body).unwrap();

    let notices = std::sync::Mutex::new(Vec::new());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(runtime.serve_queued(&|f| {
        if let faultline::ui::Feed::Notice(n) = f {
            notices.lock().unwrap().push(n);
        }
    }))
    .unwrap();

    let outcome = |id| queue.get(id).unwrap().unwrap();
    let r = outcome(stale);
    assert_eq!(r.state, RequestState::Refused);
    assert!(r.outcome.as_deref().unwrap().contains("refused as stale: asked 600 s ago"), "{r:?}");
    let r = outcome(unknown);
    assert_eq!(r.state, RequestState::Refused);
    assert!(r.outcome.as_deref().unwrap().contains("unknown request kind `reboot`"), "{r:?}");
    let r = outcome(bad);
    assert_eq!(r.state, RequestState::Refused);
    assert!(r.outcome.as_deref().unwrap().contains("silence request body"), "{r:?}");
    let r = outcome(readonly);
    assert_eq!(r.state, RequestState::Refused);
    assert!(r.outcome.as_deref().unwrap().contains("read-only"), "{r:?}");
    assert_eq!(notices.lock().unwrap().len(), 4);
    // Nothing was journaled as done: no Silenced event.
    let j = Journal::open_read_only(&path).unwrap();
    assert!(j.events_after(0).unwrap().is_empty());
    // The trail cannot be rewritten.
    let e = raw.execute("UPDATE requests SET state = 'done' WHERE id = ?1", [stale]).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");
    let e = raw.execute("DELETE FROM requests", []).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");
}

#[test]
fn an_agent_started_read_only_refuses_what_viewers_queue() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts::default());
    let dir = tempfile::tempdir().unwrap();
    let config = live_config(dir.path(), &prom, &am);
    let journal = dir.path().join("journal.sqlite");
    let agent = AgentProcess::start_with(&config, &dir.path().join("agent.log"), &["--readonly"]);
    wait_for_writer(&journal, agent.pid());
    let queue = RequestQueue::open(&journal).unwrap();
    let target = format!("{}/api/v2/silences", am.url);
    let body = format!(
        r#"{{"problem":1,"target":{{"via":"am","url":"{target}","duration_ms":60000}},"label_sets":[{{"alertname":"X"}}],"comment":"P-0001"}}"#
    );
    let id = queue.submit("dave@bastion", "silence", &body).unwrap();
    wait_until("the request handled", Duration::from_secs(10), || {
        queue.get(id).unwrap().is_some_and(|r| r.state != RequestState::Pending)
    });
    let r = queue.get(id).unwrap().unwrap();
    assert_eq!(r.state, RequestState::Refused, "{r:?}");
    assert!(r.outcome.as_deref().unwrap_or_default().contains("read-only"), "{r:?}");
    assert!(silences(&am).is_empty(), "a read-only agent created a silence");
}

#[test]
fn a_request_left_running_by_a_killed_agent_is_marked_failed_not_run_again() {
    use faultline::agent::runtime::Runtime;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    let config = quiet_config(&path);
    drop(Runtime::new(&config, Some(Journal::open(&path).unwrap())).unwrap());
    let queue = RequestQueue::open(&path).unwrap();
    let id = queue.submit("dave@bastion", "silence", "{}").unwrap();
    // What an agent does before acting, then it dies.
    let mut j = Journal::open(&path).unwrap();
    assert!(j.set_request_state(id, RequestState::Running, None).unwrap());
    drop(j);
    drop(Runtime::new(&config, Some(Journal::open(&path).unwrap())).unwrap());
    let r = queue.get(id).unwrap().unwrap();
    assert_eq!(r.state, RequestState::Failed);
    assert!(r.outcome.unwrap().contains("may or may not have happened"));
}

/// The unit names the state directory its config's journal lives in, and `systemd-analyze
/// verify` accepts it (with ExecStart pointed at this build, since verify checks the binary).
#[test]
fn the_systemd_unit_verifies_and_matches_its_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/systemd");
    let unit = std::fs::read_to_string(root.join("faultline-agent.service")).unwrap();
    let config_text = std::fs::read_to_string(root.join("faultline.toml")).unwrap();
    let config = faultline::config::Config::parse(&config_text, &root.join("faultline.toml")).unwrap();
    let journal = config.journal_path().unwrap();
    assert_eq!(journal, Path::new("/var/lib/faultline/journal.sqlite"));

    let key = |k: &str| -> Vec<String> {
        unit.lines().filter_map(|l| l.trim().strip_prefix(&format!("{k}=")).map(str::to_string)).collect()
    };
    assert_eq!(key("StateDirectory"), ["faultline"], "the journal's directory /var/lib/faultline");
    assert_eq!(key("ConfigurationDirectory"), ["faultline"]);
    let exec = key("ExecStart");
    assert_eq!(exec.len(), 1);
    assert!(exec[0].contains(" agent --config /etc/faultline/faultline.toml"), "{exec:?}");
    for hardening in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "Restart=on-failure",
        "UMask=0007",
    ] {
        assert!(unit.lines().any(|l| l.trim() == hardening), "missing {hardening}");
    }
    assert!(key("RestrictAddressFamilies").iter().any(|v| v.contains("AF_INET")));

    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        println!("systemd-analyze not installed: only the unit's lines were checked");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let exec_start = exec[0].split_whitespace().next().unwrap().to_string();
    let copy = dir.path().join("faultline-agent.service");
    std::fs::write(&copy, unit.replace(&exec_start, BIN)).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify: {text}");
    assert!(!text.contains("faultline-agent.service:"), "verify found something in the unit: {text}");
}

/// Followers polling every 200 ms (as `--follow` does) and followers polling without pause (far
/// harder) never make an append fail, and each ends with exactly the writer's events and
/// observations, folded to the same problems. The writer's time alone and with them is printed
/// (informative: debug build, 2 shared cores, so busy followers also take CPU from the writer).
#[test]
fn followers_polling_without_pause_never_block_the_writer() {
    use faultline::agent::Agent;
    use faultline::model::ProblemSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const OBSERVATIONS: usize = 1500;
    const FOLLOWERS: usize = 4;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenario = faultline::sources::fixture::load(&root.join("fixtures/scenarios/db-cpu-saturation.jsonl")).unwrap();
    let observations = &scenario.observations[..OBSERVATIONS.min(scenario.observations.len())];

    let run = |followers: usize, pause: Duration| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let mut agent = Agent::new(faultline::engine::EngineConfig::default(), Some(Journal::open(&path).unwrap()));
        let stop = Arc::new(AtomicBool::new(false));
        // The followers are open before the clock starts: this measures following, not starting.
        let ready = Arc::new(std::sync::Barrier::new(followers + 1));
        let threads: Vec<_> = (0..followers)
            .map(|_| {
                let (path, stop, ready) = (path.clone(), Arc::clone(&stop), Arc::clone(&ready));
                std::thread::spawn(move || {
                    let j = Journal::open_read_only(&path).unwrap();
                    ready.wait();
                    let (mut obs, mut events, mut polls) = (Vec::new(), Vec::new(), 0u64);
                    let (mut last_obs, mut last_seq) = (0, 0);
                    loop {
                        // Read the flag first: the poll after it has seen everything.
                        let done = stop.load(Ordering::Acquire);
                        let tail = j.tail(last_obs, last_seq).unwrap();
                        polls += 1;
                        if let Some((id, _)) = tail.observations.last() {
                            last_obs = *id;
                        }
                        if let Some(e) = tail.events.last() {
                            last_seq = e.seq;
                        }
                        obs.extend(tail.observations.into_iter().map(|(_, o)| o));
                        events.extend(tail.events);
                        if done {
                            return (obs, events, polls);
                        }
                        std::thread::sleep(pause);
                    }
                })
            })
            .collect();
        ready.wait();
        let started = Instant::now();
        let mut events = Vec::new();
        for o in observations {
            agent.feed(o, &mut events).unwrap();
        }
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Release);
        for t in threads {
            let (obs, seen, polls) = t.join().unwrap();
            assert_eq!(obs, observations, "a follower missed or reordered observations");
            assert_eq!(seen, events, "a follower missed or reordered events");
            assert_eq!(ProblemSet::fold(&seen), ProblemSet::fold(&events));
            assert!(polls > 1);
        }
        (elapsed, events.len())
    };
    let (alone, n) = run(0, Duration::ZERO);
    let (polled, _) = run(FOLLOWERS, Duration::from_millis(200));
    let (busy, _) = run(FOLLOWERS, Duration::ZERO);
    assert!(n > 0, "the scenario's first observations made no event");
    println!(
        "writer: {OBSERVATIONS} appends ({n} events) in {} ms alone, {} ms with {FOLLOWERS} followers polling every \
         200 ms, {} ms with {FOLLOWERS} polling without pause",
        alone.as_millis(),
        polled.as_millis(),
        busy.as_millis()
    );
}
