//! Runbooks against real faults, end to end: a real Prometheus scraping real node exporters, an
//! Alertmanager, and `faultline --config F` (agent and UI in one process) in tmux at 80x24.
//!
//! (a) A size-limited tmpfs is filled until the disk-full forecast fires; the clean-up runbook,
//!     started from its key in the UI and confirmed by typing the host's name, frees it; the
//!     problem resolves.
//! (b) A node exporter is killed; the target-down problem opens; the restart runbook, started from
//!     its key, brings it back; the problem resolves.
//! (c) A runbook whose fix does not help (it restarts nothing) checks, finds the problem still
//!     there and escalates to a notification received by a local webhook server.
//!
//! Every run is journaled with its audit (who, plan, output, exit status, outcome) and shows in
//! the markdown post-mortem. Needs root (mount) for (a), tmux and the Prometheus packages
//! (`.ci/run` installs them).

mod support;

use faultline::journal::Journal;
use faultline::model::{EventKind, Outcome, ProblemEvent, RunRecord, StepStatus};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::tmux::Tmux;
use support::*;

/// How long a whole fault-and-fix cycle may take on 2 busy cores.
const CYCLE: Duration = Duration::from_secs(120);

/// A tmpfs of `mib` MiB mounted at `path`, unmounted on drop (lazily, so a file still open by a
/// dying process cannot keep it).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, mib: u32) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755"), "faultline-chaos"])
            .arg(path)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mounting a {mib} MiB tmpfs at {} failed (this test needs root or CAP_SYS_ADMIN): {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { path: path.to_path_buf() }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A local HTTP server that records every request's path and body and answers 200.
struct Webhook {
    url: String,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

impl Webhook {
    fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
                let mut length = 0usize;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':') {
                        if k.trim().eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                store.lock().unwrap().push((path, String::from_utf8_lossy(&body).into_owned()));
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        Webhook { url, received }
    }

    fn received(&self) -> Vec<(String, String)> {
        self.received.lock().unwrap().clone()
    }
}

/// A node exporter started detached by a script (as a supervisor would), so a runbook can start
/// it again with the same script after it was killed.
struct Worker {
    port: u16,
    script: PathBuf,
    pidfile: PathBuf,
}

impl Worker {
    fn new(dir: &Path) -> Worker {
        let port = free_port();
        let script = dir.join("start-worker");
        let pidfile = dir.join("worker.pid");
        let log = dir.join("worker.log");
        // A fixture script of the test, not a command line built from alert text: the runbook
        // runs it as argv[0] with no arguments.
        let text = format!(
            "#!/bin/sh\nsetsid -f sh -c 'echo $$ > {pid}; exec prometheus-node-exporter \
             --web.listen-address=127.0.0.1:{port} --collector.disable-defaults --collector.loadavg' \
             >>{log} 2>&1 </dev/null\necho \"worker started on port {port}\"\n",
            pid = pidfile.display(),
            log = log.display(),
        );
        std::fs::write(&script, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Worker { port, script, pidfile }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&self) {
        let _ = std::fs::remove_file(&self.pidfile);
        let status = Command::new(&self.script).status().unwrap();
        assert!(status.success());
        self.wait_up();
    }

    fn wait_up(&self) {
        wait_until("the worker's /metrics", Duration::from_secs(20), || {
            http_request("GET", &format!("{}/metrics", self.url()), None).is_ok_and(|(s, _)| s == 200)
        });
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pidfile).ok()?.trim().parse().ok()
    }

    fn kill(&self) {
        let pid = self.pid().expect("the worker's pid file");
        let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        assert!(status.success());
        // The pid may be reused once it is gone: never signal it again.
        let _ = std::fs::remove_file(&self.pidfile);
        wait_until("the worker to be gone", Duration::from_secs(10), || {
            http_request("GET", &format!("{}/metrics", self.url()), None).is_err()
        });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// The config of a live session: Prometheus (with `queries` TOML appended to its source),
/// Alertmanager, fast resolution, the runbooks and run locks in `dir`.
fn config(dir: &Path, prom: &Server, am: &Server, queries: &str, engine: &str) -> PathBuf {
    let path = dir.join("faultline.toml");
    let text = format!(
        r#"
[journal]
path = "{dir}/journal.sqlite"

[engine]
resolve_after = "3s"
{engine}

[runbooks]
dir = "{dir}/runbooks"
lock_dir = "{dir}/locks"

[[sources.prometheus]]
name = "prom"
url = "{prom}"
interval = "1s"
step = "1s"
lookback = "30s"
timeout = "2s"
retries = 0
{queries}

[[sources.alertmanager]]
name = "am"
url = "{am}"
interval = "1s"
"#,
        dir = dir.display(),
        prom = prom.url,
        am = am.url,
    );
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir_all(dir.join("runbooks")).unwrap();
    path
}

fn runbook(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join("runbooks").join(format!("{name}.toml")), text).unwrap();
}

fn start_live(t: &Tmux, config: &Path) {
    let line = format!(
        "{} --config {} --log-file {}",
        env!("CARGO_BIN_EXE_faultline"),
        config.display(),
        t.path("faultline.log").display()
    );
    t.keys(&[&line, "Enter"]);
}

fn events(journal: &Path) -> Vec<ProblemEvent> {
    match Journal::open_read_only(journal) {
        Ok(j) => j.events_after(0).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The first finished run of `runbook`, once journaled.
fn finished(journal: &Path, runbook: &str) -> Option<(ProblemEvent, RunRecord)> {
    events(journal).into_iter().find_map(|e| match &e.kind {
        EventKind::RunbookFinished { record } if record.runbook == runbook => {
            let r = (**record).clone();
            Some((e, r))
        }
        _ => None,
    })
}

fn resolved_after(journal: &Path, problem: faultline::model::ProblemId, after: faultline::model::Timestamp) -> bool {
    events(journal).iter().any(|e| e.problem == problem && e.at >= after && matches!(e.kind, EventKind::Resolved))
}

/// `faultline export P --journal J --format markdown` while the agent may still run.
fn postmortem(journal: &Path, problem: &str, dir: &Path) -> String {
    let out_path = dir.join(format!("{problem}.md"));
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["export", problem, "--journal"])
        .arg(journal)
        .args(["--format", "markdown", "-o"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "export: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(out_path).unwrap()
}

/// Confirms the plan on screen with `key`. Keys waiting when a plan opens are dropped as typed
/// ahead, before the plan is drawn, so a key sent once it shows counts; the wait and the second
/// press (only if the plan, whose title names it, is still on screen) are kept as a margin.
fn confirm(t: &Tmux, key: &str, title: &str) {
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&[key]);
    let sent = std::time::Instant::now();
    while t.screen().contains(title) {
        if sent.elapsed() > Duration::from_secs(3) {
            t.keys(&[key]);
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for the run of `runbook` to be journaled as finished; on timeout, fails with the screen
/// and the end of the log.
fn wait_run(t: &Tmux, journal: &Path, runbook: &str) {
    let waiting = std::time::Instant::now();
    while finished(journal, runbook).is_none() {
        let log = std::fs::read_to_string(t.path("faultline.log")).unwrap_or_default();
        assert!(
            waiting.elapsed() < CYCLE,
            "the run of {runbook} did not finish; screen:\n{}\nlog tail:\n{}",
            t.screen(),
            &log[log.len().saturating_sub(3000)..]
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `faultline replay J --headless [--at T]`: the problems' timelines as of `at`.
fn replay_timeline(journal: &Path, at: Option<faultline::model::Timestamp>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.arg("replay").arg(journal).arg("--headless");
    if let Some(at) = at {
        cmd.args(["--at", &at.to_rfc3339()]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "replay: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The run is in the replay from its start, and not before it.
fn assert_replayed(journal: &Path, r: &RunRecord) {
    let start = format!("runbook {} started by", r.runbook);
    let all = replay_timeline(journal, None);
    assert!(all.contains(&start), "{all}");
    assert!(all.contains(&format!("runbook {} by", r.runbook)), "the finish line: {all}");
    // As of just before the journaled start (data time, as every event's time is).
    let start_at = events(journal)
        .iter()
        .find(|e| matches!(&e.kind, EventKind::RunbookStarted { runbook, .. } if *runbook == r.runbook))
        .map(|e| e.at)
        .expect("the start is journaled");
    let before = replay_timeline(journal, Some(start_at.plus_ms(-1)));
    assert!(!before.contains(&start), "{before}");
}

/// Checks the audit fields every run must carry.
fn assert_audited(r: &RunRecord, runbook: &str) {
    assert_eq!(r.runbook, runbook);
    let (user, host) = r.operator.split_once('@').expect("operator is user@host");
    assert!(!user.is_empty() && user != "unknown" && !host.is_empty(), "{}", r.operator);
    assert!(r.plan[0].starts_with(&format!("runbook {runbook} (")), "{:?}", r.plan);
    assert!(r.finished_at >= r.started_at);
    assert!(!r.steps.is_empty());
}

#[test]
fn a_filling_disk_is_freed_by_the_cleanup_runbook_started_from_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    let tmpfs = Tmpfs::mount(&scratch, 16);
    let node = node_exporter();
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts { scrape_configs_yaml: scrape_job("node", &node.url), ..Default::default() });
    let mount = tmpfs.path.display().to_string();
    let query = format!(
        "[[sources.prometheus.queries]]\nname = \"filesystem_free_ratio\"\nquery = 'min by (instance) \
         (node_filesystem_avail_bytes{{mountpoint=\"{mount}\"}} / node_filesystem_size_bytes{{mountpoint=\"{mount}\"}})'\n"
    );
    // Warn when the trend reaches a quarter free (within the default two hours).
    let limits = "[[engine.detect.limits]]\nmetric = \"filesystem_free_ratio\"\nlimit = 0.25\nhorizon = \"2h\"\n";
    let t = Tmux::start("chaos-disk");
    let config = config(t.path("").as_path(), &prom, &am, &query, limits);
    runbook(
        t.path("").as_path(),
        "free-scratch",
        &format!(
            r#"name = "free-scratch"
key = "D"
description = "Delete the runaway job's fill files on the scratch file system"

[match]
signal_name = "filesystem_free_ratio*"
entity_kind = "host"

[[steps]]
kind = "run"
argv = ["df", "-h", "--", "{mount}"]
timeout = "10s"

[[steps]]
kind = "run"
argv = ["find", "{mount}", "-xdev", "-type", "f", "-name", "fill-*", "-print", "-delete"]
timeout = "30s"
destructive = true

[[steps]]
kind = "check"
after = "30s"
"#
        ),
    );
    start_live(&t, &config);
    t.wait_for("the live console pulling", |s| s.contains("LIVE") && s.contains("prom ✓"));
    std::thread::sleep(Duration::from_secs(3));

    // A runaway job writes 1 MiB every 700 ms until 13 of the 16 MiB are used, then keeps the
    // disk there (well under a quarter free).
    for i in 0..13 {
        std::fs::write(scratch.join(format!("fill-{i:02}")), vec![0u8; 1 << 20]).unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    let journal = t.path("journal.sqlite");
    let opened = std::time::Instant::now();
    while !t.screen().contains("P-0001") {
        if opened.elapsed() > CYCLE {
            let samples: Vec<String> = Journal::open_read_only(&journal)
                .and_then(|j| j.observations())
                .unwrap_or_default()
                .iter()
                .filter_map(|o| match &o.kind {
                    faultline::model::ObservationKind::Metric { entity, metric, samples } => {
                        Some(format!("{entity} {metric} {samples:?}"))
                    }
                    _ => None,
                })
                .collect();
            let log = std::fs::read_to_string(t.path("faultline.log")).unwrap_or_default();
            panic!(
                "no problem from the filling disk; samples: {samples:#?}\nlog tail: {}\nscreen:\n{}",
                &log[log.len().saturating_sub(3000)..],
                t.screen()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let list = t.screen();
    t.keys(&["Enter"]);
    let detail = t.wait_for("the runbook offered in the detail", |s| s.contains("free-scratch"));
    assert!(detail.contains("filesystem_free_ratio") || list.contains("filesystem_free_ratio"), "{detail}");

    t.keys(&["D"]);
    let plan = t.wait_for("the plan", |s| s.contains("fill-*") && s.contains("DESTRUCTIVE"));
    assert!(plan.contains(&mount) || plan.contains("find"), "{plan}");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 13, "nothing runs before confirmation");
    // A destructive plan needs the host's name typed; Enter alone does nothing.
    t.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 13, "Enter without the name runs nothing");
    // The name to type is the one the overlay asks for (the host entity's name).
    let ask = t.screen();
    let name = ask
        .lines()
        .find_map(|l| l.split_once(" type ").and_then(|(_, rest)| rest.split_once(" to confirm:")).map(|(n, _)| n))
        .unwrap_or_else(|| panic!("the overlay asks for the entity's name:\n{ask}"))
        .to_string();
    assert!(name.contains("127.0.0.1"), "{name}");
    t.keys(&["-l", &name]);
    confirm(&t, "Enter", "run free-scratch on");

    wait_run(&t, &journal, "free-scratch");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "the fill files are gone");
    let (event, record) = finished(&journal, "free-scratch").unwrap();
    assert_audited(&record, "free-scratch");
    assert_eq!(record.steps[1].status, StepStatus::Succeeded, "{record:#?}");
    assert!(record.steps[1].output.contains("fill-00"), "find -print lists what it deleted: {record:#?}");
    assert!(record.steps[0].output.contains("faultline-chaos"), "df shows the tmpfs: {record:#?}");
    wait_until("the problem to resolve", CYCLE, || resolved_after(&journal, event.problem, record.started_at));

    let started = events(&journal)
        .into_iter()
        .find(|e| matches!(&e.kind, EventKind::RunbookStarted { runbook, .. } if runbook == "free-scratch"))
        .expect("the start is journaled");
    let EventKind::RunbookStarted { plan, by, .. } = &started.kind else { unreachable!() };
    assert_eq!(plan, &record.plan, "the journaled plan is the plan that ran");
    assert_eq!(by, &record.operator);

    assert_replayed(&journal, &record);
    let md = postmortem(&journal, &event.problem.to_string(), dir.path());
    assert!(md.contains("**Runbook free-scratch at"), "{md}");
    assert!(md.contains("fill-*"), "the plan is in the post-mortem: {md}");
    assert!(md.contains("the problem resolved"), "{md}");
    assert!(!md.contains("did not resolve"), "{md}");
    t.keys(&["q"]);
}

#[test]
fn a_killed_exporter_is_restarted_by_the_restart_runbook() {
    let t = Tmux::start("chaos-restart");
    let worker = Worker::new(t.path("").as_path());
    worker.start();
    let am = alertmanager();
    let prom =
        prometheus(PrometheusOpts { scrape_configs_yaml: scrape_job("worker", &worker.url()), ..Default::default() });
    let config = config(t.path("").as_path(), &prom, &am, "", "");
    runbook(
        t.path("").as_path(),
        "restart-worker",
        &format!(
            r#"name = "restart-worker"
key = "R"
description = "Start the worker's exporter again"

[match]
signal_name = "TargetDown"

[[steps]]
kind = "run"
argv = ["{script}"]
timeout = "20s"

[[steps]]
kind = "check"
after = "15s"
"#,
            script = worker.script.display()
        ),
    );
    start_live(&t, &config);
    t.wait_for("the live console", |s| s.contains("LIVE") && s.contains("prom"));
    std::thread::sleep(Duration::from_secs(3));
    worker.kill();
    t.wait_for("the target-down problem", |s| s.contains("P-0001") && s.contains("TargetDown"));
    t.keys(&["Enter"]);
    t.wait_for("the runbook offered in the detail", |s| s.contains("restart-worker"));
    t.keys(&["R"]);
    t.wait_for("the plan", |s| s.contains("start-worker") && s.contains("restart-worker"));
    assert!(worker.pid().is_none() || http_request("GET", &format!("{}/metrics", worker.url()), None).is_err());
    confirm(&t, "y", "run restart-worker on");

    let journal = t.path("journal.sqlite");
    wait_run(&t, &journal, "restart-worker");
    worker.wait_up();
    let (event, record) = finished(&journal, "restart-worker").unwrap();
    assert_audited(&record, "restart-worker");
    assert_eq!(record.steps[0].exit_code, Some(0), "{record:#?}");
    assert!(record.steps[0].output.contains("worker started"), "{record:#?}");
    assert_eq!(record.outcome, Outcome::Mitigated, "{record:#?}");
    wait_until("the problem to resolve", CYCLE, || resolved_after(&journal, event.problem, record.started_at));
    assert_replayed(&journal, &record);
    let md = postmortem(&journal, &event.problem.to_string(), t.path("").as_path());
    assert!(md.contains("**Runbook restart-worker at"), "{md}");
    assert!(md.contains("mitigated"), "{md}");
    t.keys(&["q"]);
}

#[test]
fn a_fix_that_does_not_help_escalates_to_a_notification() {
    let t = Tmux::start("chaos-escalate");
    let worker = Worker::new(t.path("").as_path());
    worker.start();
    let hook = Webhook::start();
    let am = alertmanager();
    let prom =
        prometheus(PrometheusOpts { scrape_configs_yaml: scrape_job("worker", &worker.url()), ..Default::default() });
    let config = config(t.path("").as_path(), &prom, &am, "", "");
    // The "fix" restarts nothing: the problem stays, the check says so, the escalation notifies.
    runbook(
        t.path("").as_path(),
        "reload-worker",
        r#"name = "reload-worker"
key = "W"
description = "Reload the worker's configuration (does not restart it)"

[match]
signal_name = "TargetDown"

[[steps]]
kind = "run"
argv = ["echo", "reloading {entity.name}"]
timeout = "10s"

[[steps]]
kind = "check"
after = "4s"

[[steps]]
kind = "escalate"
to = "notify-team"
after = "6s"
"#,
    );
    runbook(
        t.path("").as_path(),
        "notify-team",
        &format!(
            r#"name = "notify-team"
description = "Tell the team's channel that the automatic fix did not help"

[[steps]]
kind = "http"
shape = "slack"
url = "{url}/hooks/team"
text = "{{problem.id}} on {{entity.name}} is still not mitigated after reload-worker ({{operator}})"
"#,
            url = hook.url
        ),
    );
    start_live(&t, &config);
    t.wait_for("the live console", |s| s.contains("LIVE") && s.contains("prom"));
    std::thread::sleep(Duration::from_secs(3));
    worker.kill();
    t.wait_for("the target-down problem", |s| s.contains("P-0001") && s.contains("TargetDown"));
    t.keys(&["Enter"]);
    t.wait_for("the runbook offered in the detail", |s| s.contains("reload-worker"));
    t.keys(&["W"]);
    t.wait_for("the plan with its escalation", |s| s.contains("escalate to notify-team"));
    confirm(&t, "y", "run reload-worker on");

    let journal = t.path("journal.sqlite");
    wait_run(&t, &journal, "reload-worker");
    let (event, record) = finished(&journal, "reload-worker").unwrap();
    assert_audited(&record, "reload-worker");
    assert_eq!(record.outcome, Outcome::Escalated, "{record:#?}");
    assert!(record.steps.iter().any(|s| s.status == StepStatus::NotMitigated), "{record:#?}");
    let next = record.escalation.as_deref().expect("the escalation's record");
    assert_eq!(next.runbook, "notify-team");
    assert_eq!(next.steps[0].http_status, Some(200), "{next:#?}");

    let received = hook.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let (path, body) = &received[0];
    assert_eq!(path, "/hooks/team");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("{} on ", event.problem)), "{text}");
    assert!(text.contains("127.0.0.1 is still not mitigated after reload-worker ("), "{text}");

    assert_replayed(&journal, &record);
    let md = postmortem(&journal, &event.problem.to_string(), t.path("").as_path());
    assert!(md.contains("**Runbook reload-worker at"), "{md}");
    assert!(md.contains("**Runbook notify-team at"), "the escalation's audit follows: {md}");
    assert!(md.contains("escalated: notify-team succeeded"), "{md}");
    t.keys(&["q"]);
    drop(worker);
}
