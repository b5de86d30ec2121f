//! The journal's crash guarantee, shown with real `kill -9`s: a writer process appends as fast
//! as it can and is killed at different moments; after each kill the file opens cleanly, passes
//! SQLite's integrity check, holds whole batches only with no seq gap, lost at most the batch in
//! flight, and takes the next seq. A read-only viewer polls the file the whole time and never
//! sees an error or part of a batch.
//!
//! One writer per journal across processes: while a writer lives, a second `Journal::open` in
//! the parent is refused naming the writer's pid; once it is killed, the kernel has dropped its
//! hold and the next writer opens at once (a kill -9 leaves no stale hold).
//!
//! The writer is this test binary run again with only [`crash_writer_child`] selected and
//! [`WRITER_ENV`] set; without the variable that test returns at once.

use faultline::journal::{Journal, JournalError};
use faultline::model::{
    Candidate, ChangeKind, ChangeRecord, EntityId, EntityKind, EventKind, Hop, Observation, ObservationKind,
    ProblemEvent, ProblemId, ProblemSet, ProblemStatus, RelationKind, Severity, Signal, SignalKey, SignalKind,
    Timestamp,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set to the journal path in the writer process.
const WRITER_ENV: &str = "FAULTLINE_CRASH_WRITER";
/// The round number (0..=8) the writer stamps on its batches.
const ROUND_ENV: &str = "FAULTLINE_CRASH_ROUND";
/// The round number of the batches the parent appends itself after each recovery.
const PARENT_ROUND: u64 = 9;
/// The most events one `append` of the writer carries.
const MAX_BATCH: u64 = 5;
/// Data time of the first batch.
const T0: i64 = 1_793_588_400_000;

// ---- What the writer appends: batches that can be recognised, checked and regenerated. ----
//
// A batch is identified by its first seq. Each event's data time encodes where it sits:
// `T0 + first * 100 + index * 10 + size`, and its problem id is `first * 10 + round`, so from
// any stored event the whole batch it belongs to can be regenerated and compared.

fn batch_size(first: u64) -> u64 {
    // A fixed scramble of the seq, so sizes vary but are reproducible.
    let h = first.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1 + (h >> 59) % MAX_BATCH
}

/// `(first seq of its batch, index in the batch, batch size)` of a stored event.
fn position(e: &ProblemEvent) -> (u64, u64, u64) {
    let rel = u64::try_from(e.at.0 - T0).expect("event time before T0");
    (rel / 100, rel % 100 / 10, rel % 10)
}

fn candidate(first: u64, i: u64) -> Candidate {
    let entity = EntityId::new(format!("host:node-{}", (first + i) % 97));
    let path = |n: u64| -> Vec<Hop> {
        vec![
            Hop {
                from: EntityId::new(format!("service:frontend-{n}")),
                relation: RelationKind::Calls,
                to: EntityId::new(format!("service:api-{n}")),
            },
            Hop {
                from: EntityId::new(format!("service:api-{n}")),
                relation: RelationKind::RunsOn,
                to: EntityId::new(format!("container:api-{n}-7f9c")),
            },
            Hop {
                from: EntityId::new(format!("container:api-{n}-7f9c")),
                relation: RelationKind::RunsOn,
                to: entity.clone(),
            },
        ]
    };
    Candidate {
        entity: entity.clone(),
        entity_kind: EntityKind::Host,
        score: 1.0 / (i as f64 + 1.7),
        summary: format!("memory_pressure anomaly on {entity} ({:.2}, expected 0.40)", 0.9 - i as f64 / 100.0),
        signals: vec![
            SignalKey(format!("anomaly:{entity}:memory_pressure")),
            SignalKey(format!("log:{entity}:oom-killer")),
        ],
        strength: (i as f64 * 0.37).fract(),
        first_breach: Timestamp(T0 + first as i64 * 100 - 60_000),
        explains: i as usize + 1,
        affected: 40,
        evidence: (0..3).map(path).collect(),
        broke: vec![],
    }
}

/// The observation and events of the batch starting at `first`, written in round `round`.
fn batch(first: u64, round: u64) -> (Observation, Vec<ProblemEvent>) {
    let size = batch_size(first);
    let problem = ProblemId(first * 10 + round);
    let entity = EntityId::new(format!("host:node-{}", first % 97));
    let events = (0..size)
        .map(|index| {
            let at = Timestamp(T0 + (first * 100 + index * 10 + size) as i64);
            let kind = match index {
                0 => EventKind::Opened { title: format!("batch {first} of round {round}"), severity: Severity::Major },
                1 => EventKind::SignalAttached {
                    signal: Signal {
                        key: SignalKey(format!("anomaly:{entity}:memory_pressure")),
                        kind: SignalKind::Anomaly,
                        entity: entity.clone(),
                        name: "memory_pressure".to_string(),
                        severity: Severity::Major,
                        first_seen: at,
                        last_seen: at,
                        count: first,
                        active: true,
                        score: 1.0 / 3.0 + first as f64 * 1e-9,
                        value: Some(0.93),
                        baseline: None,
                        labels: Default::default(),
                        mark: None,
                    },
                },
                // Every third batch ranks many candidates: a transaction of several pages.
                2 => EventKind::RootCauseRanked {
                    candidates: (0..if first.is_multiple_of(3) { 40 } else { 3 })
                        .map(|i| candidate(first, i))
                        .collect(),
                },
                3 => EventKind::FoundationalCauseLinked {
                    change: ChangeRecord {
                        at: Timestamp(T0),
                        entity: entity.clone(),
                        change: ChangeKind::Deployment,
                        description: "x".repeat(3000),
                        reason: "on the root cause's stack, 5m 0s before onset".to_string(),
                    },
                },
                _ => EventKind::Resolved,
            };
            ProblemEvent { seq: first + index, problem, at, kind }
        })
        .collect();
    let observation = Observation {
        at: Timestamp(T0 + (first * 100) as i64),
        source: "crash-test".to_string(),
        kind: ObservationKind::LogPattern {
            entity,
            template_id: format!("batch-{first}"),
            template: "oom-killer: killed process <*>".to_string(),
            level: Severity::Warning,
            count: size,
            new_template: false,
        },
    };
    (observation, events)
}

// ---- The writer process. ----

fn progress_path(journal: &Path) -> PathBuf {
    journal.with_extension("progress")
}

/// Records `committed` (the last seq known committed) and `in_flight` (the last seq of the batch
/// being appended, equal to `committed` between appends). Written to a new file then renamed
/// over the old, so a kill leaves either the old or the new record.
fn write_progress(path: &Path, committed: u64, in_flight: u64) {
    let tmp = path.with_extension("progress-tmp");
    std::fs::write(&tmp, format!("{committed} {in_flight}\n")).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn read_progress(path: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace().map(|s| s.parse::<u64>().unwrap());
    Some((parts.next().unwrap(), parts.next().unwrap()))
}

/// The writer: appends one observation and one batch per `append`, forever (until killed).
#[test]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return; // a normal test run: nothing to do
    };
    let path = PathBuf::from(path);
    let round: u64 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let progress = progress_path(&path);
    let mut journal = Journal::open(&path).unwrap();
    let mut last = journal.last_seq().unwrap();
    // Only a safety net should the parent die without killing us; it is never reached in a run.
    let give_up = Instant::now() + Duration::from_secs(60);
    while Instant::now() < give_up {
        let (observation, events) = batch(last + 1, round);
        let end = last + events.len() as u64;
        write_progress(&progress, last, end);
        journal.append(Some(&observation), &events).unwrap();
        last = end;
        write_progress(&progress, last, last);
    }
}

/// Kills the writer if a failed assertion unwinds past it.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_writer(journal: &Path, round: u64, stderr: &Path) -> Writer {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_writer_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(WRITER_ENV, journal)
        .env(ROUND_ENV, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    Writer(child)
}

// ---- Checks. ----

/// Checks that `events` (read in one statement, starting after seq `after`) is a run of whole
/// batches with consecutive seqs, and returns how many batches it holds.
fn check_whole_batches(after: u64, events: &[ProblemEvent]) -> usize {
    let mut expected = after + 1;
    let mut batches = 0;
    let mut i = 0;
    while i < events.len() {
        let (first, index, size) = position(&events[i]);
        assert_eq!((first, index), (expected, 0), "seq {} does not start a batch", events[i].seq);
        let end = i + size as usize;
        assert!(end <= events.len(), "batch {first} has {} of its {size} events", events.len() - i);
        let round = events[i].problem.0 % 10;
        assert_eq!(events[i..end], batch(first, round).1, "batch {first} differs from what was appended");
        expected += size;
        batches += 1;
        i = end;
    }
    batches
}

/// Everything the journal must satisfy after a kill and recovery; returns its events.
fn check_recovered(journal: &Journal) -> Vec<ProblemEvent> {
    assert_eq!(journal.integrity_check().unwrap(), ["ok"]);
    let events = journal.events_after(0).unwrap();
    let last = journal.last_seq().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.iter().copied().eq(1..=last), "seqs are not exactly 1..={last}");
    let batches = check_whole_batches(0, &events);
    // One observation per append, in order, each with its batch.
    let firsts = events.iter().filter(|e| position(e).1 == 0);
    let expected: Vec<Observation> = firsts.map(|e| batch(e.seq, e.problem.0 % 10).0).collect();
    assert_eq!(journal.observations().unwrap(), expected);
    assert_eq!(expected.len(), batches);
    // The fold: one problem per batch, in the state its batch left it.
    let set = ProblemSet::fold(&events);
    assert_eq!(set.last_seq, last);
    assert_eq!(set.problems.len(), batches);
    for p in set.problems.values() {
        let size = batch_size(p.id.0 / 10);
        assert_eq!(p.signals.len(), usize::from(size >= 2));
        assert_eq!(p.root_causes.is_empty(), size < 3);
        assert_eq!(p.foundational_cause.is_some(), size >= 4);
        assert_eq!(p.status == ProblemStatus::Resolved, size == 5);
    }
    events
}

/// What one kill did.
struct Kill {
    round: u64,
    /// Events the writer had reported committed when killed.
    reported: u64,
    /// The last seq in the file after recovery.
    stored: u64,
    /// Events of the append in flight that are not in the file.
    lost: u64,
    /// Sizes of the file and of the WAL left by the killed writer.
    file_bytes: u64,
    wal_bytes: u64,
}

/// The viewer thread: polls with its own read-only connection until told to stop, checking every
/// read, and returns how many reads it made and everything it saw.
fn viewer(path: PathBuf, stop: Arc<AtomicBool>) -> (usize, Vec<ProblemEvent>, ProblemSet) {
    let journal = Journal::open_read_only(&path).unwrap();
    let mut seen: Vec<ProblemEvent> = Vec::new();
    let mut set = ProblemSet::default();
    let mut reads = 0;
    loop {
        // Read `stop` first, so the read after it sees everything committed before it was set.
        let stopping = stop.load(Ordering::Acquire);
        let after = seen.last().map_or(0, |e| e.seq);
        let new = journal.events_after(after).unwrap_or_else(|e| panic!("viewer read {reads}: {e}"));
        check_whole_batches(after, &new);
        for e in &new {
            set.apply(e);
        }
        seen.extend(new);
        reads += 1;
        if stopping {
            return (reads, seen, set);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Polls until `done`; panics if the writer exits.
fn wait_until(mut done: impl FnMut() -> bool, writer: &mut Writer, stderr: &Path) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        if let Some(status) = writer.0.try_wait().unwrap() {
            panic!("the writer exited ({status}): {}", std::fs::read_to_string(stderr).unwrap_or_default());
        }
        assert!(Instant::now() < give_up, "the writer made no progress in a minute");
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn kill_9_loses_at_most_the_append_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.journal");
    let progress = progress_path(&path);
    let stderr = dir.path().join("writer.stderr");
    // How many more events to wait for before each kill. The first round is killed as soon as
    // the WAL appears: the writer is then migrating the new file (or has just committed it).
    let waits = [0, 1, 40, 400, 3, 900];

    let mut kills = Vec::new();
    let mut poller: Option<Journal> = None;
    let mut viewer_thread = None;
    let stop = Arc::new(AtomicBool::new(false));
    let mut rate = None;
    for (round, &wait) in (0u64..).zip(&waits) {
        let before = poller.as_ref().map_or(0, |j| j.last_seq().unwrap());
        let _ = std::fs::remove_file(&progress);
        let mut writer = spawn_writer(&path, round, &stderr);
        if let Some(j) = &poller {
            let started = Instant::now();
            wait_until(|| j.last_seq().unwrap() >= before + wait, &mut writer, &stderr);
            let elapsed = started.elapsed();
            let appended = j.last_seq().unwrap() - before;
            if appended >= 400 {
                // Includes the writer's start; informative only.
                rate = Some(appended as f64 / elapsed.as_secs_f64());
            }
        } else {
            wait_until(|| path.with_extension("journal-wal").exists(), &mut writer, &stderr);
        }
        // One writer per journal: the parent is refused while the writer lives.
        match Journal::open(&path) {
            Err(JournalError::Held { holder: Some(h), .. }) => assert_eq!(h.pid, writer.0.id(), "round {round}"),
            other => panic!("round {round}: a second writer was not refused: {other:?}"),
        }
        writer.0.kill().unwrap(); // SIGKILL
        let status = writer.0.wait().unwrap();
        assert!(!status.success(), "round {round}: the writer exited by itself ({status})");
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let (file_bytes, wal_bytes) = (size(&path), size(&path.with_extension("journal-wal")));
        let (reported, in_flight) = read_progress(&progress).unwrap_or((before, before));

        // The kernel dropped the killed writer's hold: nothing stale blocks the next writer.
        assert_eq!(Journal::writer_of(&path).unwrap(), None, "round {round}");
        // Recovery: the next writer opens the file.
        let mut journal = Journal::open(&path).unwrap();
        let events = check_recovered(&journal);
        let stored = journal.last_seq().unwrap();
        assert!(in_flight - reported <= MAX_BATCH);
        assert!(
            stored == reported || stored == in_flight,
            "round {round}: {stored} events stored; the writer reported {reported} committed, \
             {in_flight} with its append in flight"
        );
        kills.push(Kill { round, reported, stored, lost: in_flight - stored, file_bytes, wal_bytes });

        // The next append continues at last_seq + 1.
        let (observation, batch) = batch(stored + 1, PARENT_ROUND);
        assert_eq!(batch[0].seq, stored + 1);
        journal.append(Some(&observation), &batch).unwrap();
        assert_eq!(journal.last_seq().unwrap(), stored + batch.len() as u64);
        assert_eq!(journal.events_after(stored).unwrap(), batch);
        assert_eq!(events.len() as u64, stored);
        drop(journal);

        // The viewer starts once an agent has made the file a journal (a viewer refuses a file
        // no agent has created) and polls through all the following kills.
        if poller.is_none() {
            poller = Some(Journal::open_read_only(&path).unwrap());
            let (path, stop) = (path.clone(), Arc::clone(&stop));
            viewer_thread = Some(std::thread::spawn(move || viewer(path, stop)));
        }
    }

    stop.store(true, Ordering::Release);
    let (reads, seen, viewer_set) = viewer_thread.unwrap().join().unwrap();
    let journal = Journal::open(&path).unwrap();
    let all = check_recovered(&journal);
    // The viewer, polling from the first round to the end, saw exactly the final journal and
    // folded it to the same problems: it never saw a batch that a kill later took back (the
    // batch re-appended at that seq would carry another round number).
    assert_eq!(seen, all);
    assert_eq!(viewer_set, ProblemSet::fold(&all));
    for k in &kills {
        eprintln!(
            "round {}: killed with {} events reported committed, {} stored after recovery, {} of the append in \
             flight lost; file {} bytes, WAL {} bytes",
            k.round, k.reported, k.stored, k.lost, k.file_bytes, k.wal_bytes
        );
    }
    eprintln!(
        "viewer: {reads} reads, {} events; final: {} events; writer rate ≈ {:.0} events/s",
        seen.len(),
        all.len(),
        rate.unwrap_or(f64::NAN)
    );
    assert!(kills.iter().all(|k| k.lost <= MAX_BATCH));
    assert!(reads > waits.len());
}
