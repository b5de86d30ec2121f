//! An agent killed with `kill -9` while it writes engine snapshots and prunes its journal
//! resumes with the same problems: a writer process feeds the demo scenario (with operator
//! silences in it) through an [`Agent`] with a journal, writing a snapshot and pruning every
//! few observations, and is killed at random moments, many of them inside a snapshot or a
//! prune; each restart resumes from the journal (snapshot + tail) and goes on where the journal
//! ends. Once it finishes, the journal's events are exactly those of a run that was never
//! stopped: the same problem ids, the same silences, nothing lost or doubled. A second run feeds
//! the scenario in batches ([`Agent::feed_batch`], one transaction each, as the live runtime
//! does per pull) and is killed inside batch writes: a batch is stored whole or not at all.
//! A batch is written in a millisecond or so, too short for a timer in another process to hit
//! reliably on a loaded machine, so in that run the writer kills itself: a second thread sends
//! SIGKILL to its own process a scrambled few microseconds after a chosen batch starts.
//!
//! The writer is this test binary run again with only [`uptime_writer_child`] selected and
//! [`WRITER_ENV`] set; without the variable that test returns at once. It drives `Agent` and
//! `Journal` directly (the agent runtime needs live sources) and writes its snapshots itself,
//! every [`SNAPSHOT_EVERY`] observations, so it can say on stderr when one starts and ends.

use faultline::agent::{Agent, Upkeep};
use faultline::engine::EngineConfig;
use faultline::journal::Journal;
use faultline::model::{EventKind, Observation, ObservationKind, ProblemEvent, ProblemId, ProblemSet};
use faultline::sources::fixture;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set to the journal path in the writer process.
const WRITER_ENV: &str = "FAULTLINE_UPTIME_WRITER";
/// Observations between two snapshots the writer takes.
const SNAPSHOT_EVERY: usize = 40;
/// Retention of the writer: one minute of data time, so nearly every snapshot prunes.
const RETENTION_MS: i64 = 60_000;
/// What the writer prints before and after each snapshot (with its prune).
const SNAPSHOT_START: &str = "snapshot-start";
const SNAPSHOT_END: &str = "snapshot-end";
/// Set to a batch size: the writer feeds that many observations per [`Agent::feed_batch`].
const BATCH_ENV: &str = "FAULTLINE_UPTIME_BATCH";
/// What the writer prints once it is open (and resumed) and starts feeding: the kill timer
/// starts there, so a slow start on a loaded machine does not eat every kill.
const FEEDING: &str = "feeding";
/// What the writer prints before and after each batch.
const BATCH_START: &str = "batch-start";
const BATCH_END: &str = "batch-end";
/// Set to `K:US` in the batch run: SIGKILL the writer `US` microseconds after batch `K` of
/// this run starts.
const SELF_KILL_ENV: &str = "FAULTLINE_UPTIME_SELF_KILL";

/// The demo scenario with three operator silences on its problems, in the middle of it.
fn scenario() -> Vec<Observation> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let mut obs = fixture::load(&path).unwrap().observations;
    for (n, at) in [(1u64, 0.55), (2, 0.7), (1, 0.85)] {
        let i = (obs.len() as f64 * at) as usize;
        let silence = Observation {
            at: obs[i].at,
            source: "operator".into(),
            kind: ObservationKind::Silence {
                problem: ProblemId(n),
                by: format!("oncall-{n}@laptop"),
                via: "alertmanager".into(),
                silences: Vec::new(),
                error: None,
            },
        };
        obs.insert(i + 1, silence);
    }
    obs
}

fn upkeep() -> Upkeep {
    Upkeep { snapshot_every_ms: None, retention_ms: Some(RETENTION_MS), skip_quiet: true }
}

#[test]
fn uptime_writer_child() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return; // a normal test run: nothing to do
    };
    let path = Path::new(&path);
    let obs = scenario();
    let journal = Journal::open(path).unwrap();
    let fresh = journal.last_seq().unwrap() == 0 && !journal.has_observations().unwrap();
    let (mut agent, next) = if fresh {
        (Agent::new(EngineConfig::default(), Some(journal)), 0)
    } else {
        let resumed = Agent::resume(EngineConfig::default(), journal).unwrap();
        // Go on after the last journaled observation (never pruned: it is the newest). The
        // quiet ones after it that were not journaled change nothing when fed again.
        let last = resumed.observations.last().expect("the newest observation is kept").clone();
        let at: Vec<usize> = (0..obs.len()).filter(|&i| obs[i] == last).collect();
        assert_eq!(at.len(), 1, "the last journaled observation is in the scenario once: {last:?}");
        (resumed.agent, at[0] + 1)
    };
    agent.set_upkeep(upkeep());
    let mut events = Vec::new();
    let stderr = std::io::stderr();
    writeln!(stderr.lock(), "{FEEDING}").unwrap();
    let snapshot = |agent: &mut Agent| {
        writeln!(stderr.lock(), "{SNAPSHOT_START}").unwrap();
        agent.write_snapshot().unwrap();
        writeln!(stderr.lock(), "{SNAPSHOT_END}").unwrap();
    };
    match std::env::var(BATCH_ENV).ok().and_then(|n| n.parse::<usize>().ok()) {
        // As a live agent does with each pull: a batch per transaction.
        Some(n) => {
            let self_kill = std::env::var(SELF_KILL_ENV).ok().map(|v| {
                let (k, us) = v.split_once(':').expect("K:US");
                (k.parse::<usize>().unwrap(), self_killer(us.parse().unwrap()))
            });
            for (k, chunk) in obs[next..].chunks(n).enumerate() {
                writeln!(stderr.lock(), "{BATCH_START}").unwrap();
                if let Some((_, pull)) = self_kill.as_ref().filter(|(at, _)| *at == k) {
                    pull.send(()).unwrap();
                }
                agent.feed_batch(chunk, &mut events).unwrap();
                writeln!(stderr.lock(), "{BATCH_END}").unwrap();
                if (k + 1) * n % SNAPSHOT_EVERY < n {
                    snapshot(&mut agent);
                }
            }
        }
        None => {
            for (i, o) in obs.iter().enumerate().skip(next) {
                agent.feed(o, &mut events).unwrap();
                if i % SNAPSHOT_EVERY == 0 {
                    snapshot(&mut agent);
                }
            }
        }
    }
    agent.write_snapshot().unwrap();
    writeln!(stderr.lock(), "done").unwrap();
}

/// A thread that, once told, waits `us` microseconds and sends SIGKILL to this process (no
/// destructor, no rollback: what `kill -9` from outside does).
fn self_killer(us: u64) -> std::sync::mpsc::Sender<()> {
    let (pull, trigger) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if trigger.recv().is_ok() {
            std::thread::sleep(Duration::from_micros(us));
            // SAFETY: kill(2) on our own pid; it has no memory effects in this process.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    });
    pull
}

/// How a writer run ends early.
#[derive(Clone, Copy)]
enum Kill {
    /// Not at all: it runs to the end.
    Never,
    /// SIGKILL from this process, this long past the moment it starts feeding.
    After(Duration),
    /// SIGKILL from itself, `us` microseconds after batch `batch` of the run starts.
    InBatch { batch: usize, us: u64 },
}

/// Runs the writer on `journal` and kills it as `kill` says (if it is still running). Returns
/// its stderr and whether it finished by itself.
fn run_writer(journal: &Path, kill: Kill, dir: &Path, batch: Option<usize>) -> (String, bool) {
    let log = dir.join("writer.stderr");
    let mut command = Command::new(std::env::current_exe().unwrap());
    if let Some(n) = batch {
        command.env(BATCH_ENV, n.to_string());
    }
    if let Kill::InBatch { batch, us } = kill {
        command.env(SELF_KILL_ENV, format!("{batch}:{us}"));
    }
    let mut child = command
        .args(["uptime_writer_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, journal)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    if let Kill::After(after) = kill {
        let fed = std::time::Instant::now() + Duration::from_secs(120);
        while std::time::Instant::now() < fed
            && child.try_wait().unwrap().is_none()
            && !std::fs::read_to_string(&log).unwrap_or_default().contains(FEEDING)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(after);
        // SIGKILL: no destructor, no rollback but SQLite's own on the next open.
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let finished = status.success() && text.contains("done");
    assert!(finished || !matches!(kill, Kill::Never), "the writer failed without being killed ({status}):\n{text}");
    (text, finished)
}

/// The last `start`/`end` marker the writer printed: `true` when it was killed between them.
fn killed_inside(stderr: &str, start: &str, end: &str) -> bool {
    stderr.lines().rev().find(|l| *l == start || *l == end) == Some(start)
}

#[test]
fn an_agent_killed_during_snapshots_and_pruning_resumes_with_the_same_problems_and_silences() {
    killed_and_resumed(None, SNAPSHOT_START, SNAPSHOT_END);
}

#[test]
fn an_agent_killed_during_batch_writes_resumes_with_the_same_problems_and_silences() {
    killed_and_resumed(Some(16), BATCH_START, BATCH_END);
}

/// Kills the writer (feeding one by one, or `batch` at a time) at scrambled moments until at
/// least one kill landed between the markers `start` and `end`; then its journal must hold
/// exactly the events of a run never stopped. One by one, the kills come from this process on a
/// timer; in batches, the writer kills itself a scrambled few microseconds into a scrambled
/// batch (see the module's doc).
fn killed_and_resumed(batch: Option<usize>, start: &str, end: &str) {
    let obs = scenario();
    let mut expected = Vec::new();
    let mut whole = Agent::new(EngineConfig::default(), None);
    for o in &obs {
        whole.feed(o, &mut expected).unwrap();
    }
    let silenced: Vec<&ProblemEvent> =
        expected.iter().filter(|e| matches!(e.kind, EventKind::Silenced { .. })).collect();
    assert_eq!(silenced.len(), 3, "the silences land on problems the scenario has");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    // A fixed scramble of kill times so the test is reproducible but lands all over the run.
    let mut kills = 0;
    let mut inside = 0;
    let mut finished = false;
    for round in 0u64..40 {
        let scramble = round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let kill = match batch {
            None => Kill::After(Duration::from_millis(300 + (scramble >> 54) % 1200)),
            Some(_) => Kill::InBatch { batch: 1 + (scramble >> 56) as usize % 60, us: (scramble >> 20) % 2500 },
        };
        let (stderr, done) = run_writer(&path, kill, dir.path(), batch);
        if done {
            finished = true;
            break;
        }
        kills += 1;
        inside += usize::from(killed_inside(&stderr, start, end));
        if std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
            continue; // killed before it created the journal's schema
        }
        let journal = Journal::open_read_only(&path).unwrap();
        assert_eq!(journal.integrity_check().unwrap(), vec!["ok".to_string()], "after kill {kills}");
        if inside >= 3 && kills >= 8 {
            break;
        }
    }
    if !finished {
        run_writer(&path, Kill::Never, dir.path(), batch);
    }
    assert!(kills >= 3, "the writer was killed {kills} times");
    assert!(inside >= 1, "no kill landed between {start} and {end} in {kills} kills");

    let journal = Journal::open_read_only(&path).unwrap();
    let got = journal.events_after(0).unwrap();
    let to_json = |e: &[ProblemEvent]| e.iter().map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>();
    assert!(to_json(&got) == to_json(&expected), "the journal's events differ from a run never stopped");
    let (a, b) = (ProblemSet::fold(&got), ProblemSet::fold(&expected));
    assert_eq!(a.problems.keys().collect::<Vec<_>>(), b.problems.keys().collect::<Vec<_>>());
    // Retention did its work: far fewer observations than fed are kept, and a snapshot is there.
    let kept = journal.observations().unwrap().len();
    assert!(kept < obs.len() / 2, "{kept} of {} observations kept", obs.len());
    assert!(!journal.snapshots().unwrap().is_empty());
    eprintln!("{kills} kills, {inside} between {start} and {end}; {kept} observations kept of {}", obs.len());
}
