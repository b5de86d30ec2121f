//! Unit tests of the journal: what `append` stores and refuses, what readers see, and how the
//! file is protected (schema version, foreign files, append-only triggers). The kill -9 test is
//! `tests/journal_crash.rs`.

use super::*;
use crate::model::{
    AlertState, Baseline, Candidate, ChangeKind, ChangeRecord, Criticality, Entity, EntityId, EntityKind, EventKind,
    Hop, Impact, Mark, ObservationKind, ProblemSet, ProblemStatus, Relation, RelationKind, Severity, Signal, SignalKey,
    SignalKind,
};
use std::collections::BTreeMap;

/// Data time of the tests: 2026-11-02T03:00:00Z.
const T0: i64 = 1_793_588_400_000;

fn temp_journal() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faultline.journal");
    (dir, path)
}

fn signal(key: &str, score: f64) -> Signal {
    Signal {
        key: SignalKey(key.to_string()),
        kind: SignalKind::Anomaly,
        entity: EntityId::new("host:db-1"),
        name: "cpu_utilisation".to_string(),
        severity: Severity::Major,
        first_seen: Timestamp(T0),
        last_seen: Timestamp(T0 + 30_000),
        count: 7,
        active: true,
        score,
        value: Some(0.97),
        baseline: Some(Baseline { expected: 0.31, lower: 0.12, upper: 0.5 }),
        labels: Default::default(),
        mark: None,
    }
}

fn candidate(i: usize) -> Candidate {
    let entity = EntityId::new(format!("host:db-{i}"));
    Candidate {
        entity: entity.clone(),
        entity_kind: EntityKind::Host,
        score: 1.0 / (i as f64 + 3.0),
        summary: format!("cpu_utilisation anomaly on {entity} (0.97, expected 0.31)"),
        signals: vec![SignalKey(format!("anomaly:{entity}:cpu_utilisation"))],
        strength: 0.1 * i as f64 + 0.05,
        first_breach: Timestamp(T0 - 60_000),
        explains: 3 + i,
        affected: 12,
        evidence: vec![vec![
            Hop {
                from: EntityId::new("service:checkout"),
                relation: RelationKind::Calls,
                to: EntityId::new("db:main"),
            },
            Hop { from: EntityId::new("db:main"), relation: RelationKind::RunsOn, to: entity },
        ]],
        broke: vec![],
    }
}

/// An impact with every field away from its default, built without a struct literal so the
/// test does not depend on the exact field list.
fn impact() -> Impact {
    let mut impact = Impact::default();
    impact.affected.extend([EntityId::new("db:main"), EntityId::new("service:checkout")]);
    impact.services += 1;
    impact.active_signals += 2;
    impact.signals += 3;
    impact
}

fn event(seq: u64, problem: u64, kind: EventKind) -> ProblemEvent {
    ProblemEvent { seq, problem: ProblemId(problem), at: Timestamp(T0 + seq as i64 * 1000), kind }
}

fn opened(seq: u64, problem: u64) -> ProblemEvent {
    event(seq, problem, EventKind::Opened { title: format!("problem {problem}"), severity: Severity::Major })
}

fn metric(at: i64, samples: &[f64]) -> Observation {
    Observation {
        at: Timestamp(at),
        source: "prometheus".to_string(),
        kind: ObservationKind::Metric {
            entity: EntityId::new("host:db-1"),
            metric: "cpu_utilisation".to_string(),
            samples: samples.iter().enumerate().map(|(i, v)| (Timestamp(at - 15_000 * i as i64), *v)).collect(),
        },
    }
}

/// One event of every `EventKind` variant, seqs `first..first + 13`, all on problem 1 after
/// the `Opened`.
fn every_kind(first: u64) -> Vec<ProblemEvent> {
    let kinds = vec![
        EventKind::Opened { title: "checkout latency — p99 > 2s".to_string(), severity: Severity::Warning },
        EventKind::SignalAttached { signal: signal("anomaly:host:db-1:cpu_utilisation", 0.1 + 0.2) },
        EventKind::SignalRepeated {
            key: SignalKey("anomaly:host:db-1:cpu_utilisation".to_string()),
            count: u64::MAX,
            last_seen: Timestamp(T0 + 45_000),
        },
        EventKind::SignalUpdated {
            signal: Signal { active: false, value: None, baseline: None, ..signal("alert:f00d", 1e-300) },
        },
        EventKind::SeverityChanged { severity: Severity::Critical },
        EventKind::RootCauseRanked { candidates: (0..3).map(candidate).collect() },
        EventKind::FoundationalCauseLinked {
            change: ChangeRecord {
                at: Timestamp(T0 - 300_000),
                entity: EntityId::new("service:checkout"),
                change: ChangeKind::Deployment,
                description: "deploy v2.3.1 \"hotfix\"\n(rollback pending)".to_string(),
                reason: "on the root cause's stack, 5m 0s before onset".to_string(),
            },
        },
        EventKind::ImpactUpdated { impact: impact() },
        EventKind::MergedInto { into: ProblemId(2) },
        EventKind::Absorbed { from: ProblemId(3) },
        EventKind::Acknowledged { by: "oncall@example.com".to_string() },
        EventKind::Resolved,
        EventKind::Reopened,
    ];
    kinds.into_iter().enumerate().map(|(i, kind)| event(first + i as u64, 1, kind)).collect()
}

/// Every observation kind, at `T0 + i`.
fn every_observation_kind() -> Vec<Observation> {
    let host = EntityId::new("host:db-1");
    let kinds = vec![
        ObservationKind::Metric {
            entity: host.clone(),
            metric: "cpu_utilisation".to_string(),
            samples: vec![(Timestamp(T0), 0.97), (Timestamp(T0 + 15_000), -1.5e-7), (Timestamp(T0 + 30_000), 3.0)],
        },
        ObservationKind::Alert {
            entity: host.clone(),
            name: "HighCpu".to_string(),
            fingerprint: "9f2c".to_string(),
            state: AlertState::Firing,
            severity: Severity::Critical,
            labels: BTreeMap::from([("team".to_string(), "db".to_string())]),
            summary: "CPU above 95% for 5m".to_string(),
        },
        ObservationKind::LogPattern {
            entity: host.clone(),
            template_id: "t17".to_string(),
            template: "connection refused to <*>".to_string(),
            level: Severity::Warning,
            count: 42,
            new_template: true,
        },
        ObservationKind::Change {
            entity: EntityId::new("service:checkout"),
            change: ChangeKind::ConfigChange,
            description: "pool size 10 -> 2".to_string(),
        },
        ObservationKind::Entity {
            entity: Entity {
                id: host.clone(),
                kind: EntityKind::Host,
                name: "db-1".to_string(),
                labels: BTreeMap::from([("zone".to_string(), "eu-west-1a".to_string())]),
                criticality: Criticality::High,
                learned_from: String::new(),
            },
        },
        ObservationKind::Relation {
            relation: Relation {
                from: EntityId::new("db:main"),
                kind: RelationKind::RunsOn,
                to: host.clone(),
                learned_from: "static".to_string(),
            },
        },
        ObservationKind::EntityGone { entity: host, learned_from: String::new() },
        ObservationKind::Tick,
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| Observation { at: Timestamp(T0 + i as i64), source: "fixture".to_string(), kind })
        .collect()
}

fn observation_count(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM observations", [], |r| r.get(0)).unwrap()
}

#[test]
fn append_then_read_back() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    assert!(!j.is_read_only());
    assert_eq!(j.path(), path);
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(j.last_seq().unwrap(), 0);
    assert_eq!(j.events_after(0).unwrap(), Vec::new());
    assert_eq!(j.observations().unwrap(), Vec::new());
    // Nothing to store is a no-op.
    j.append(None, &[]).unwrap();

    let o1 = metric(T0, &[0.97, 0.95]);
    let o2 = metric(T0 + 60_000, &[0.5]);
    let o3 = metric(T0 + 120_000, &[0.1]);
    let batch1 = vec![opened(1, 1), event(2, 1, EventKind::SignalAttached { signal: signal("a", 0.9) })];
    let batch2 = vec![opened(3, 2), event(4, 1, EventKind::SeverityChanged { severity: Severity::Critical })];
    let batch3 = vec![event(5, 2, EventKind::Acknowledged { by: "ana".to_string() })];
    j.append(Some(&o1), &batch1).unwrap();
    assert_eq!(j.last_seq().unwrap(), 2);
    j.append(Some(&o2), &batch2).unwrap();
    j.append(Some(&o3), &[]).unwrap(); // an observation that produced nothing
    j.append(None, &batch3).unwrap(); // events without an observation (e.g. a timer)
    assert_eq!(j.last_seq().unwrap(), 5);

    let all: Vec<ProblemEvent> = [batch1.clone(), batch2.clone(), batch3.clone()].concat();
    assert_eq!(j.events_after(0).unwrap(), all);
    assert_eq!(j.events_after(2).unwrap(), all[2..]);
    assert_eq!(j.events_after(5).unwrap(), Vec::new());
    assert_eq!(j.events_after(u64::MAX).unwrap(), Vec::new());
    assert_eq!(j.events_of(ProblemId(1)).unwrap(), vec![all[0].clone(), all[1].clone(), all[3].clone()]);
    assert_eq!(j.events_of(ProblemId(2)).unwrap(), vec![all[2].clone(), all[4].clone()]);
    assert_eq!(j.events_of(ProblemId(3)).unwrap(), Vec::new());
    assert_eq!(j.events_of(ProblemId(u64::MAX)).unwrap(), Vec::new());

    assert_eq!(j.observations().unwrap(), vec![o1.clone(), o2.clone(), o3]);
    // Problem 1 was fed by o1 and o2; problem 2 by o2 only (its acknowledgement had none).
    assert_eq!(j.observations_of(ProblemId(1)).unwrap(), vec![o1, o2.clone()]);
    assert_eq!(j.observations_of(ProblemId(2)).unwrap(), vec![o2]);
    assert_eq!(j.observations_of(ProblemId(3)).unwrap(), Vec::new());

    let set = ProblemSet::fold(&j.events_after(0).unwrap());
    assert_eq!(set.last_seq, 5);
    assert_eq!(set.problems[&ProblemId(1)].severity, Severity::Critical);
    assert_eq!(set.problems[&ProblemId(2)].acknowledged_by.as_deref(), Some("ana"));
    assert_eq!(j.integrity_check().unwrap(), vec!["ok".to_string()]);
}

#[test]
fn every_event_kind_round_trips_exactly() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let events = every_kind(1);
    let observations = every_observation_kind();
    let (first, rest) = observations.split_first().unwrap();
    j.append(Some(first), &events).unwrap();
    for o in rest {
        j.append(Some(o), &[]).unwrap();
    }
    drop(j);
    // Read back through a fresh viewer, so nothing can come from a cache of the writer.
    let v = Journal::open_read_only(&path).unwrap();
    assert_eq!(v.events_after(0).unwrap(), events);
    assert_eq!(v.observations().unwrap(), observations);
    // The `kind` column is the serde tag of the body.
    let conn = Connection::open(&path).unwrap();
    let kinds: Vec<String> = conn
        .prepare("SELECT kind FROM problem_events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = [
        "opened",
        "signal_attached",
        "signal_repeated",
        "signal_updated",
        "severity_changed",
        "root_cause_ranked",
        "foundational_cause_linked",
        "impact_updated",
        "merged_into",
        "absorbed",
        "acknowledged",
        "resolved",
        "reopened",
    ];
    assert_eq!(kinds, expected);
}

/// A signal moved between problems (`signal_detached`, then `signal_attached` on the other):
/// stored under its own tag, read back equal, and folded out of the problem it left.
#[test]
fn a_detached_signal_round_trips_and_leaves_its_problem() {
    let (_dir, path) = temp_journal();
    let key = SignalKey("alert:host:db-1/DiskFull".to_string());
    let flapping = Signal { key: key.clone(), mark: Some(Mark::Flapping { activations: 3 }), ..signal("x", 0.6) };
    let events = vec![
        opened(1, 1),
        event(2, 1, EventKind::SignalAttached { signal: flapping.clone() }),
        opened(3, 2),
        event(4, 1, EventKind::SignalDetached { key: key.clone(), to: ProblemId(2) }),
        event(5, 2, EventKind::SignalAttached { signal: Signal { mark: None, ..flapping } }),
    ];
    Journal::open(&path).unwrap().append(None, &events).unwrap();
    let v = Journal::open_read_only(&path).unwrap();
    assert_eq!(v.events_after(0).unwrap(), events);
    let conn = Connection::open(&path).unwrap();
    let (kind, body): (String, String) = conn
        .query_row("SELECT kind, body FROM problem_events WHERE seq = 4", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(kind, "signal_detached");
    assert!(body.contains(r#""key":"alert:host:db-1/DiskFull","to":2"#), "{body}");
    let set = ProblemSet::fold(&v.events_after(0).unwrap());
    let left = &set.problems[&ProblemId(1)];
    assert!(left.signals.is_empty());
    assert_eq!(left.timeline.last().unwrap().text, "alert:host:db-1/DiskFull moved to P-0002");
    assert_eq!(set.problems[&ProblemId(2)].signals[&key].mark, None);
}

/// Scores and samples are arbitrary f64: each must come back bit for bit, since a viewer's fold
/// must equal the agent's.
#[test]
fn floats_round_trip_bit_for_bit() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    // xorshift64*: a fixed pseudo-random stream of finite f64 bit patterns.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || loop {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let f = f64::from_bits(state.wrapping_mul(0x2545_F491_4F6C_DD1D));
        if f.is_finite() {
            return f;
        }
    };
    let mut events = vec![opened(1, 1)];
    let mut samples = Vec::new();
    for seq in 2..=200 {
        let (a, b, c) = (next(), next(), next());
        samples.push(a);
        let mut s = signal(&format!("k{seq}"), a);
        s.value = Some(b);
        s.baseline = Some(Baseline { expected: c, lower: b, upper: a });
        events.push(event(seq, 1, EventKind::SignalUpdated { signal: s }));
    }
    // Values that are easy to get wrong as decimal text.
    samples.extend([
        0.1 + 0.2,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        -0.0,
        1.0 / 3.0,
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
    ]);
    let o = metric(T0, &samples);
    j.append(Some(&o), &events).unwrap();
    let back = j.events_after(0).unwrap();
    assert_eq!(back, events);
    let back_o = j.observations().unwrap();
    assert_eq!(back_o, vec![o.clone()]);
    // Bit for bit, so -0.0 stays -0.0.
    let ObservationKind::Metric { samples: back_samples, .. } = &back_o[0].kind else { panic!("not a metric") };
    let bits = |v: &[(Timestamp, f64)]| v.iter().map(|(_, f)| f.to_bits()).collect::<Vec<_>>();
    let ObservationKind::Metric { samples: sent, .. } = &o.kind else { unreachable!() };
    assert_eq!(bits(back_samples), bits(sent));
}

#[test]
fn seq_must_strictly_increase_and_a_refused_batch_writes_nothing() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let o = metric(T0, &[0.5]);

    // Seq 0 never follows the empty journal's last seq 0.
    let e = j.append(Some(&o), &[opened(0, 1)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 0, previous: 0, .. }), "{e:?}");

    j.append(Some(&o), &[opened(1, 1), opened(2, 2), opened(3, 3)]).unwrap();
    assert_eq!(observation_count(&path), 1);

    // Within the batch: a repeat, then a step back; both after valid events.
    let e = j.append(Some(&o), &[opened(4, 4), opened(5, 5), opened(5, 6)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 5, previous: 5, .. }), "{e:?}");
    let e = j.append(Some(&o), &[opened(4, 4), opened(6, 5), opened(5, 6)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 5, previous: 6, .. }), "{e:?}");
    // Against the file: equal to, then below the last seq.
    let e = j.append(Some(&o), &[opened(3, 4), opened(4, 5)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 3, previous: 3, .. }), "{e:?}");
    let e = j.append(None, &[opened(1, 4)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 1, previous: 3, .. }), "{e:?}");
    assert!(e.to_string().contains("nothing of this batch was written"), "{e}");
    // Beyond SQLite's integer range.
    let e = j.append(Some(&o), &[opened(4, 4), opened(u64::MAX, 5)]).unwrap_err();
    assert!(matches!(e, JournalError::OutOfRange { value: u64::MAX, .. }), "{e:?}");

    assert_eq!(j.last_seq().unwrap(), 3);
    assert_eq!(j.events_after(0).unwrap(), vec![opened(1, 1), opened(2, 2), opened(3, 3)]);
    assert_eq!(observation_count(&path), 1);

    // The journal is still usable and continues where it was.
    j.append(Some(&o), &[opened(4, 4)]).unwrap();
    assert_eq!(j.last_seq().unwrap(), 4);
    assert_eq!(observation_count(&path), 2);
}

/// Many steps in one transaction: seqs checked across the steps and against the file, a bad
/// value in the last step refuses the whole batch, and a stored batch reads back like the same
/// steps appended one by one (each event linked to its own step's observation).
#[test]
fn a_batch_of_steps_is_stored_whole_or_not_at_all() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let (o1, o2, o3) = (metric(T0, &[0.5]), metric(T0 + 1000, &[0.6]), metric(T0 + 2000, &[0.7]));
    let (first, second) = (vec![opened(1, 1)], vec![opened(2, 2), opened(3, 2)]);
    let step = |observation, events| Step { observation, events };

    // Nothing at all is a no-op; seqs must increase across steps, not only within one.
    j.append_batch(&[]).unwrap();
    j.append_batch(&[step(None, &[])]).unwrap();
    let back = [opened(1, 3)];
    let e = j.append_batch(&[step(Some(&o1), &second), step(Some(&o2), &back)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 1, previous: 3, .. }), "{e:?}");
    // A NaN in the batch's last observation: nothing of the earlier steps is written either.
    let bad = metric(T0 + 3000, &[f64::NAN]);
    let e = j.append_batch(&[step(Some(&o1), &first), step(Some(&o2), &second), step(Some(&bad), &[])]).unwrap_err();
    assert!(matches!(e, JournalError::ObservationNotStorable { .. }), "{e:?}");
    assert_eq!((j.last_seq().unwrap(), observation_count(&path)), (0, 0));

    j.append_batch(&[step(Some(&o1), &first), step(Some(&o2), &[]), step(Some(&o3), &second)]).unwrap();
    assert_eq!(j.events_after(0).unwrap(), [first.clone(), second.clone()].concat());
    assert_eq!(j.observations().unwrap(), vec![o1.clone(), o2.clone(), o3.clone()]);
    assert_eq!(j.observations_of(ProblemId(1)).unwrap(), vec![o1.clone()]);
    assert_eq!(j.observations_of(ProblemId(2)).unwrap(), vec![o3.clone()]);
    // Against the file, inside the transaction: the next batch must go on after seq 3.
    let e = j.append_batch(&[step(None, &second)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 2, previous: 3, .. }), "{e:?}");
    assert_eq!(j.integrity_check().unwrap(), vec!["ok".to_string()]);
}

/// Another connection holding the write lock longer than the busy timeout (a viewer queueing
/// a request, descheduled on a loaded machine) makes the writer wait, not fail: the append goes
/// through once the lock is free, and nothing is lost. (Before, the agent stopped with "database
/// is locked" after 5 s and its events unwritten: seen under load in `tests/attach.rs`.)
#[test]
fn an_append_waits_out_a_write_lock_held_longer_than_the_busy_timeout() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    j.append(Some(&metric(T0, &[0.5])), &[opened(1, 1)]).unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let held = BUSY_TIMEOUT + std::time::Duration::from_millis(1500);
    let holder = std::thread::spawn(move || {
        std::thread::sleep(held);
        other.execute_batch("COMMIT").unwrap();
    });
    let started = std::time::Instant::now();
    j.append(Some(&metric(T0 + 60_000, &[0.6])), &[event(2, 1, EventKind::Acknowledged { by: "ana".into() })]).unwrap();
    assert!(started.elapsed() >= BUSY_TIMEOUT, "it did wait for the lock: {:?}", started.elapsed());
    holder.join().unwrap();
    assert_eq!(j.last_seq().unwrap(), 2);
    assert_eq!(observation_count(&path), 2);
}

/// One writer per journal, in one process too: a second `open` is refused while the first
/// journal is alive, naming the holder; once it is dropped the next writer continues from the
/// file's seq, checked inside its write transaction.
#[test]
fn a_second_writer_is_refused_until_the_first_is_dropped() {
    let (_dir, path) = temp_journal();
    let mut a = Journal::open_as(&path, "faultline agent").unwrap();
    a.append(None, &[opened(1, 1), opened(2, 2)]).unwrap();
    let e = Journal::open(&path).unwrap_err();
    let JournalError::Held { holder: Some(h), .. } = &e else { panic!("{e:?}") };
    assert_eq!((h.pid, h.command.as_str()), (std::process::id(), "faultline agent"));
    assert_eq!(Some(h), a.holder());
    let text = e.to_string();
    assert!(
        text.contains(&format!("is being written by faultline agent pid {} on {} since ", h.pid, h.host)),
        "{text}"
    );
    assert!(text.contains(&h.since.to_string()), "{text}");
    assert_eq!(Journal::writer_of(&path).unwrap().as_ref(), Some(h));
    // Viewers are not writers: they open while the writer holds the journal.
    assert_eq!(Journal::open_read_only(&path).unwrap().last_seq().unwrap(), 2);

    drop(a);
    assert_eq!(Journal::writer_of(&path).unwrap(), None);
    let mut b = Journal::open(&path).unwrap();
    let e = b.append(None, &[opened(2, 3)]).unwrap_err();
    assert!(matches!(e, JournalError::SeqNotIncreasing { seq: 2, previous: 2, .. }), "{e:?}");
    b.append(None, &[opened(3, 3)]).unwrap();
    assert_eq!(b.last_seq().unwrap(), 3);
}

#[test]
fn non_finite_numbers_are_refused_and_nothing_written() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    j.append(Some(&metric(T0, &[0.5])), &[opened(1, 1)]).unwrap();
    let good = vec![opened(2, 2), event(3, 2, EventKind::SignalAttached { signal: signal("a", 0.5) })];

    // NaN in a metric sample, with valid events in the same batch.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let o = metric(T0 + 1000, &[0.5, bad]);
        let e = j.append(Some(&o), &good).unwrap_err();
        assert!(matches!(e, JournalError::ObservationNotStorable { at, .. } if at == o.at), "{e:?}");
    }
    // NaN as a Signal score in the second event of a batch, with a valid observation.
    let o = metric(T0 + 2000, &[0.5]);
    for bad in [f64::NAN, f64::INFINITY] {
        let batch = vec![opened(2, 2), event(3, 2, EventKind::SignalAttached { signal: signal("a", bad) })];
        let e = j.append(Some(&o), &batch).unwrap_err();
        assert!(matches!(e, JournalError::EventNotStorable { seq: 3, .. }), "{e:?}");
        assert!(e.to_string().contains("nothing of this batch was written"), "{e}");
    }
    // NaN deep inside a large event: a candidate's score.
    let mut candidates: Vec<Candidate> = (0..5).map(candidate).collect();
    candidates[4].strength = f64::NAN;
    let e = j.append(Some(&o), &[event(2, 1, EventKind::RootCauseRanked { candidates })]).unwrap_err();
    assert!(matches!(e, JournalError::EventNotStorable { seq: 2, .. }), "{e:?}");

    assert_eq!(j.last_seq().unwrap(), 1);
    assert_eq!(j.events_after(0).unwrap(), vec![opened(1, 1)]);
    assert_eq!(j.observations().unwrap(), vec![metric(T0, &[0.5])]);
    assert_eq!(observation_count(&path), 1);

    // The same batch with finite numbers goes in.
    j.append(Some(&o), &good).unwrap();
    assert_eq!(j.last_seq().unwrap(), 3);
}

/// `Signal::value` is an `Option<f64>`: a NaN there would be written as `null` and read back as
/// `None`, a different event than the agent folded. It must be refused like any other NaN.
#[test]
fn nan_in_an_optional_number_is_refused_not_turned_into_none() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let mut s = signal("a", 0.5);
    s.value = Some(f64::NAN);
    let e = j.append(None, &[event(1, 1, EventKind::SignalAttached { signal: s })]).unwrap_err();
    assert!(matches!(e, JournalError::EventNotStorable { seq: 1, .. }), "{e:?}");
    assert_eq!(j.last_seq().unwrap(), 0);
}

#[test]
fn update_and_delete_of_events_are_refused_by_triggers() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let events = vec![opened(1, 1), event(2, 1, EventKind::Resolved)];
    j.append(Some(&metric(T0, &[0.5])), &events).unwrap();

    let raw = Connection::open(&path).unwrap();
    for sql in [
        "UPDATE problem_events SET kind = 'reopened' WHERE seq = 2",
        "UPDATE problem_events SET body = '{}'",
        "DELETE FROM problem_events WHERE seq = 1",
        "DELETE FROM problem_events",
        // An upsert that would rewrite an event goes through the UPDATE trigger.
        "INSERT INTO problem_events (seq, problem, at, kind, body) VALUES (1, 1, 0, 'x', '{}') \
         ON CONFLICT (seq) DO UPDATE SET body = excluded.body",
        // REPLACE deletes the conflicting row without firing delete triggers.
        "INSERT OR REPLACE INTO problem_events (seq, problem, at, kind, body) VALUES (1, 1, 0, 'x', '{}')",
        "REPLACE INTO problem_events (seq, problem, at, kind, body) VALUES (2, 1, 0, 'x', '{}')",
        "INSERT OR IGNORE INTO problem_events (seq, problem, at, kind, body) VALUES (2, 1, 0, 'x', '{}')",
    ] {
        let e = raw.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("problem_events is append-only"), "{sql}: {e}");
    }
    // Observations are not append-only: retention deletes them.
    assert_eq!(raw.execute("DELETE FROM observations", []).unwrap(), 1);
    drop(raw);
    assert_eq!(j.events_after(0).unwrap(), events);
    assert_eq!(j.integrity_check().unwrap(), vec!["ok".to_string()]);
}

/// Rows that do not parse (an edited file) are errors naming the seq, not silently skipped.
#[test]
fn edited_rows_are_reported_with_their_seq() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    j.append(None, &[opened(1, 1)]).unwrap();
    let raw = Connection::open(&path).unwrap();
    raw.execute("INSERT INTO problem_events (seq, problem, at, kind, body) VALUES (2, 1, 0, 'opened', 'garbage')", [])
        .unwrap();
    let e = j.events_after(0).unwrap_err();
    assert!(matches!(e, JournalError::EventUnreadable { seq: 2, .. }), "{e:?}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    // Parses, but its JSON disagrees with its columns.
    let body = serde_json::to_string(&opened(4, 1)).unwrap();
    raw.execute("INSERT INTO problem_events (seq, problem, at, kind, body) VALUES (3, 1, 0, 'opened', ?1)", [&body])
        .unwrap();
    let e = j.events_after(2).unwrap_err();
    assert!(matches!(e, JournalError::EventMismatch { seq: 3, .. }), "{e:?}");
    raw.execute("INSERT INTO observations (at, body) VALUES (0, 'garbage')", []).unwrap();
    let e = j.observations().unwrap_err();
    assert!(matches!(e, JournalError::ObservationUnreadable { id: 1, .. }), "{e:?}");
}

/// Sets `user_version` on a journal through a raw connection.
fn set_user_version(path: &Path, v: u32) {
    let raw = Connection::open(path).unwrap();
    raw.pragma_update(None, "user_version", v).unwrap();
}

#[test]
fn a_newer_journal_is_refused_and_left_untouched() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    j.append(None, &[opened(1, 1)]).unwrap();
    drop(j);
    let newer = SCHEMA_VERSION + 1;
    set_user_version(&path, newer);
    let before = std::fs::read(&path).unwrap();

    let e = Journal::open(&path).unwrap_err();
    assert!(
        matches!(e, JournalError::NewerSchema { found, supported, .. }
            if found == newer && supported == SCHEMA_VERSION),
        "{e:?}"
    );
    assert!(e.to_string().contains("never downgraded"), "{e}");
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(e, JournalError::NewerSchema { .. }), "{e:?}");

    assert_eq!(std::fs::read(&path).unwrap(), before);
    let raw = Connection::open(&path).unwrap();
    let v: u32 = raw.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, newer);
    let n: i64 = raw.query_row("SELECT count(*) FROM problem_events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

/// A journal written before the `problem_events_no_replace` trigger (schema version 1): a viewer
/// reads it as it is (without migrating it); a writer migrates it in place, keeping its rows.
#[test]
fn a_version_1_journal_is_migrated_and_keeps_its_events() {
    let (_dir, path) = temp_journal();
    let events = every_kind(1);
    {
        let mut j = Journal::open(&path).unwrap();
        j.append(Some(&metric(T0, &[0.5])), &events).unwrap();
    }
    let raw = Connection::open(&path).unwrap();
    // What a version 1 file looks like: without the steps that came after it.
    raw.execute_batch(
        "DROP TRIGGER problem_events_no_replace; DROP TABLE requests; DROP TABLE snapshots; \
         DROP TABLE source_health; DROP TABLE problem_summaries; PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(raw);

    let viewer = Journal::open_read_only(&path).unwrap();
    assert_eq!(viewer.schema_version().unwrap(), 1, "a viewer never migrates");
    // The history's tables are missing: no health known, no summaries stored.
    assert_eq!(viewer.source_health_between(Timestamp(0), Timestamp(i64::MAX)).unwrap(), None);
    assert_eq!(viewer.summaries_covered(1).unwrap(), 0);
    assert_eq!(viewer.events_after(0).unwrap(), events);
    assert!(viewer.snapshots().unwrap().is_empty(), "an older file has no snapshots table: none");
    assert_eq!(viewer.observations().unwrap(), vec![metric(T0, &[0.5])]);
    drop(viewer);
    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(j.events_after(0).unwrap(), events);
    assert_eq!(j.observations().unwrap(), vec![metric(T0, &[0.5])]);
    j.append(None, &[opened(14, 2)]).unwrap();
    assert_eq!(Journal::open_read_only(&path).unwrap().last_seq().unwrap(), 14);
    let raw = Connection::open(&path).unwrap();
    let e = raw.execute("REPLACE INTO problem_events (seq, problem, at, kind, body) VALUES (1, 1, 0, 'x', '{}')", []);
    assert!(e.unwrap_err().to_string().contains("append-only"));
}

/// Creates an SQLite file of another application: a `customers` table, its own application_id,
/// the default rollback journal.
fn foreign_file(path: &Path, application_id: i32) {
    let raw = Connection::open(path).unwrap();
    raw.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ana');",
    )
    .unwrap();
    raw.pragma_update(None, "application_id", application_id).unwrap();
}

#[test]
fn a_foreign_sqlite_file_is_refused_and_not_modified() {
    for application_id in [0x1234_5678, 0, schema::APPLICATION_ID] {
        let (_dir, path) = temp_journal();
        foreign_file(&path, application_id);
        let before = std::fs::read(&path).unwrap();

        let e = Journal::open(&path).unwrap_err();
        assert!(
            matches!(e, JournalError::NotAJournal { application_id: a, tables: 1, .. } if a == application_id),
            "{e:?}"
        );
        assert!(e.to_string().contains("refusing to modify it"), "{e}");
        let e = Journal::open_read_only(&path).unwrap_err();
        assert!(matches!(e, JournalError::NotAJournal { .. }), "{e:?}");

        assert_eq!(std::fs::read(&path).unwrap(), before, "application_id {application_id:#x}");
        assert!(!path.with_extension("journal-wal").exists());
        let raw = Connection::open(&path).unwrap();
        let mode: String = raw.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete");
        let ours: i64 = raw
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'problem_events', 'observations') \
                 OR name LIKE 'problem_events%' OR name LIKE 'observations%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ours, 0);
        let names: Vec<String> = raw
            .prepare("SELECT name FROM customers")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(names, ["ana"]);
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_not_modified() {
    let (_dir, path) = temp_journal();
    let text = b"# not a database\nkey = \"value\"\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let e = Journal::open(&path).unwrap_err();
    assert!(matches!(e, JournalError::Sqlite { .. }), "{e:?}");
    assert!(Journal::open_read_only(&path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), text);
}

#[test]
fn an_empty_file_becomes_a_journal() {
    let (_dir, path) = temp_journal();
    std::fs::write(&path, b"").unwrap();
    // A viewer cannot make a journal of it...
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(e, JournalError::NotAJournal { tables: 0, .. }), "{e:?}");
    // ...the writer does.
    let mut j = Journal::open(&path).unwrap();
    j.append(None, &[opened(1, 1)]).unwrap();
    assert_eq!(Journal::open_read_only(&path).unwrap().last_seq().unwrap(), 1);
}

#[test]
fn read_only_open_of_a_missing_file_is_not_found_and_creates_nothing() {
    let (dir, path) = temp_journal();
    let e = Journal::open_read_only(&path).unwrap_err();
    assert!(matches!(&e, JournalError::NotFound { path: p } if *p == path), "{e:?}");
    assert!(e.to_string().contains("faultline agent"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn writes_through_a_read_only_journal_are_refused() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    w.append(Some(&metric(T0, &[0.5])), &[opened(1, 1)]).unwrap();
    let mut v = Journal::open_read_only(&path).unwrap();
    assert!(v.is_read_only());
    assert_eq!(v.schema_version().unwrap(), SCHEMA_VERSION);
    let e = v.append(Some(&metric(T0, &[0.5])), &[opened(2, 2)]).unwrap_err();
    assert!(matches!(e, JournalError::ReadOnly { action: "append", .. }), "{e:?}");
    let e = v.prune_observations_before(Timestamp(i64::MAX)).unwrap_err();
    assert!(matches!(e, JournalError::ReadOnly { .. }), "{e:?}");
    assert_eq!(w.last_seq().unwrap(), 1);
    assert_eq!(w.observations().unwrap().len(), 1);
}

#[test]
fn a_viewer_sees_the_writers_commits_while_the_writer_stays_open() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    let raw = Connection::open(&path).unwrap();
    let mode: String = raw.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    drop(raw);

    let v = Journal::open_read_only(&path).unwrap();
    assert_eq!(v.last_seq().unwrap(), 0);
    let mut seen = Vec::new();
    let mut set = ProblemSet::default();
    for step in 0..20u64 {
        let batch: Vec<ProblemEvent> = (1..=3).map(|i| opened(step * 3 + i, step * 3 + i)).collect();
        w.append(Some(&metric(T0 + step as i64, &[0.5])), &batch).unwrap();
        // A viewer polls with the last seq it folded.
        let new = v.events_after(set.last_seq).unwrap();
        assert_eq!(new, batch, "step {step}");
        for e in &new {
            set.apply(e);
        }
        seen.extend(new);
        assert_eq!(v.last_seq().unwrap(), (step + 1) * 3);
    }
    assert_eq!(seen, w.events_after(0).unwrap());
    assert_eq!(set.problems.len(), 60);
    assert_eq!(v.observations().unwrap().len(), 20);
    // A second viewer opened now sees everything at once.
    assert_eq!(Journal::open_read_only(&path).unwrap().events_after(0).unwrap(), seen);
}

/// A viewer reading in one thread while the writer appends in another never sees part of a
/// batch: each read is one statement, so one snapshot.
#[test]
fn a_viewer_never_sees_part_of_a_batch() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    const BATCHES: u64 = 300;
    const SIZE: u64 = 4;
    let viewer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let v = Journal::open_read_only(&path).unwrap();
            let mut last = 0;
            let mut reads = 0;
            while last < BATCHES * SIZE {
                let new = v.events_after(last).unwrap();
                if let Some(e) = new.last() {
                    assert_eq!(e.seq % SIZE, 0, "read ended inside a batch at seq {}", e.seq);
                }
                for e in &new {
                    assert_eq!(e.seq, last + 1);
                    last = e.seq;
                }
                reads += 1;
                std::thread::yield_now();
            }
            reads
        })
    };
    for b in 0..BATCHES {
        let batch: Vec<ProblemEvent> = (1..=SIZE)
            .map(|i| {
                event(
                    b * SIZE + i,
                    b + 1,
                    EventKind::RootCauseRanked { candidates: (0..i as usize).map(candidate).collect() },
                )
            })
            .collect();
        w.append(None, &batch).unwrap();
    }
    assert!(viewer.join().unwrap() > 0);
}

#[test]
fn prune_deletes_only_older_observations_and_never_events() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let o: Vec<Observation> = (0..4).map(|i| metric(T0 + i * 60_000, &[i as f64])).collect();
    j.append(Some(&o[0]), &[opened(1, 1)]).unwrap();
    j.append(Some(&o[1]), &[event(2, 1, EventKind::SeverityChanged { severity: Severity::Critical })]).unwrap();
    j.append(Some(&o[2]), &[opened(3, 2)]).unwrap();
    j.append(Some(&o[3]), &[event(4, 1, EventKind::Resolved)]).unwrap();
    let events = j.events_after(0).unwrap();

    // Strictly before: the observation at exactly the cut is kept.
    assert_eq!(j.prune_observations_before(o[1].at).unwrap(), 1);
    assert_eq!(j.observations().unwrap(), o[1..]);
    assert_eq!(j.observations_of(ProblemId(1)).unwrap(), vec![o[1].clone(), o[3].clone()]);
    assert_eq!(j.prune_observations_before(o[1].at).unwrap(), 0);
    assert_eq!(j.events_after(0).unwrap(), events);

    // Everything, including the newest: events stay.
    assert_eq!(j.prune_observations_before(Timestamp(i64::MAX)).unwrap(), 3);
    assert_eq!(j.observations().unwrap(), Vec::new());
    assert_eq!(j.observations_of(ProblemId(1)).unwrap(), Vec::new());
    assert_eq!(j.events_after(0).unwrap(), events);
    assert_eq!(j.last_seq().unwrap(), 4);

    // A new observation does not reuse a pruned id, so old events do not link to it.
    let o5 = metric(T0 + 300_000, &[5.0]);
    j.append(Some(&o5), &[opened(5, 3)]).unwrap();
    assert_eq!(j.observations_of(ProblemId(3)).unwrap(), vec![o5.clone()]);
    assert_eq!(j.observations_of(ProblemId(1)).unwrap(), Vec::new());
    assert_eq!(j.observations_of(ProblemId(2)).unwrap(), Vec::new());
    assert_eq!(j.observations().unwrap(), vec![o5]);
    assert_eq!(j.integrity_check().unwrap(), vec!["ok".to_string()]);
}

#[test]
fn reopening_keeps_everything_and_continues_the_seq() {
    let (_dir, path) = temp_journal();
    let events = every_kind(1);
    {
        let mut j = Journal::open(&path).unwrap();
        j.append(Some(&metric(T0, &[0.5])), &events[..5]).unwrap();
        j.append(None, &events[5..]).unwrap();
    }
    for round in 0..3u64 {
        let mut j = Journal::open(&path).unwrap();
        let last = 13 + round;
        assert_eq!(j.last_seq().unwrap(), last);
        assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(j.integrity_check().unwrap(), vec!["ok".to_string()]);
        assert_eq!(j.events_after(0).unwrap()[..13], events);
        let e = j.append(None, &[opened(last, 9)]).unwrap_err();
        assert!(matches!(e, JournalError::SeqNotIncreasing { .. }), "{e:?}");
        j.append(None, &[event(last + 1, 1, EventKind::Acknowledged { by: format!("round {round}") })]).unwrap();
    }
    let j = Journal::open_read_only(&path).unwrap();
    assert_eq!(j.last_seq().unwrap(), 16);
    let set = ProblemSet::fold(&j.events_after(0).unwrap());
    let p = &set.problems[&ProblemId(1)];
    assert_eq!(p.status, ProblemStatus::Open); // merged, resolved, then reopened
    assert_eq!(p.acknowledged_by.as_deref(), Some("round 2"));
    assert_eq!(p.root_causes.len(), 3);
    // Who created the journal is recorded once.
    let raw = Connection::open(&path).unwrap();
    let by: String = raw.query_row("SELECT value FROM meta WHERE key = 'created_by'", [], |r| r.get(0)).unwrap();
    assert!(by.starts_with("faultline "), "{by}");
}

// ---- Followers, the writer hold and the request queue. ----

#[test]
fn a_follower_reads_only_what_was_committed_since_its_last_poll() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    w.append(Some(&metric(T0, &[0.5])), &[opened(1, 1)]).unwrap();
    let v = Journal::open_read_only(&path).unwrap();
    let first = v.tail(0, 0).unwrap();
    assert_eq!(first.observations, vec![(1, metric(T0, &[0.5]))]);
    assert_eq!(first.events, vec![opened(1, 1)]);
    assert!(v.tail(1, 1).unwrap().observations.is_empty() && v.tail(1, 1).unwrap().events.is_empty());

    w.append(Some(&metric(T0 + 1000, &[0.6])), &[]).unwrap();
    w.append(Some(&metric(T0 + 2000, &[0.7])), &[opened(2, 2), opened(3, 3)]).unwrap();
    let next = v.tail(1, 1).unwrap();
    assert_eq!(next.observations.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(next.events, vec![opened(2, 2), opened(3, 3)]);
    // Ids keep growing across pruning, so a follower's cursor never skips a new observation.
    w.prune_observations_before(Timestamp(T0 + 10_000)).unwrap();
    w.append(Some(&metric(T0 + 20_000, &[0.8])), &[]).unwrap();
    assert_eq!(v.observations_after(3).unwrap().iter().map(|(id, _)| *id).collect::<Vec<_>>(), [4]);
}

#[test]
fn a_hold_left_in_the_lock_file_by_a_dead_process_does_not_block() {
    let (_dir, path) = temp_journal();
    // What a kill -9 leaves: the lock file with its content, and no lock on it.
    let stale = r#"{"pid":999999,"host":"bastion-1","since":"2026-12-06T01:02:03Z","command":"faultline agent"}"#;
    std::fs::write(lock::lock_path(&path), stale).unwrap();
    assert_eq!(Journal::writer_of(&path).unwrap(), None);
    let j = Journal::open_as(&path, "faultline agent").unwrap();
    let h = Journal::writer_of(&path).unwrap().unwrap();
    assert_eq!(Some(&h), j.holder());
    assert_eq!(h.pid, std::process::id());
    drop(j);
    assert_eq!(Journal::writer_of(&path).unwrap(), None, "dropping the journal releases the hold");
    assert!(!lock::lock_path(&path).exists(), "a writer that ends normally leaves no lock file");
}

#[test]
fn meta_values_are_published_by_the_writer_for_viewers() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    w.set_meta("agent.silence_target", Some("{}")).unwrap();
    let v = Journal::open_read_only(&path).unwrap();
    assert_eq!(v.meta("agent.silence_target").unwrap().as_deref(), Some("{}"));
    w.set_meta("agent.silence_target", None).unwrap();
    assert_eq!(v.meta("agent.silence_target").unwrap(), None);
    assert!(matches!(
        Journal::open_read_only(&path).unwrap().set_meta("x", Some("y")),
        Err(JournalError::ReadOnly { .. })
    ));
}

#[test]
fn queued_requests_go_pending_running_final_and_stay_there() {
    let (_dir, path) = temp_journal();
    let mut w = Journal::open(&path).unwrap();
    // A viewer queues while the writer holds the journal: the queue takes no hold.
    let q = RequestQueue::open(&path).unwrap();
    let a = q.submit("alice@bastion-1", "silence", "{\"a\":1}").unwrap();
    let b = q.submit("bob@bastion-1", "silence", "{\"b\":2}").unwrap();
    assert_eq!(Journal::writer_of(&path).unwrap().map(|h| h.pid), Some(std::process::id()));
    let pending = w.pending_requests().unwrap();
    assert_eq!(
        pending.iter().map(|r| (r.id, r.who.as_str())).collect::<Vec<_>>(),
        [(a, "alice@bastion-1"), (b, "bob@bastion-1")]
    );
    assert_eq!(pending[0].state, RequestState::Pending);
    assert!((Timestamp::wall_clock().since(pending[0].asked_at)).abs() < 60_000);

    // Final only from running; running only from pending.
    assert!(!w.set_request_state(a, RequestState::Done, Some("x")).unwrap());
    assert!(w.set_request_state(a, RequestState::Running, None).unwrap());
    assert!(!w.set_request_state(a, RequestState::Running, None).unwrap());
    assert_eq!(w.pending_requests().unwrap().len(), 1);
    assert!(w.set_request_state(a, RequestState::Done, Some("1 silence created")).unwrap());
    let r = q.get(a).unwrap().unwrap();
    assert_eq!((r.state, r.outcome.as_deref()), (RequestState::Done, Some("1 silence created")));
    assert!(!w.set_request_state(a, RequestState::Failed, Some("y")).unwrap());
    assert_eq!(w.request(a).unwrap().unwrap().state, RequestState::Done);
    assert_eq!(q.get(99).unwrap(), None);

    // A viewer's own connection cannot rewrite the trail either.
    let raw = Connection::open(&path).unwrap();
    let e = raw.execute("UPDATE requests SET outcome = 'nothing happened' WHERE id = ?1", [a]).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");
    let e = raw.execute("UPDATE requests SET who = 'mallory' WHERE id = ?1", [b]).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");
    let e = raw.execute("DELETE FROM requests WHERE id = ?1", [b]).unwrap_err();
    assert!(e.to_string().contains("audit trail"), "{e}");

    // Read-only journals handle nothing.
    let mut v = Journal::open_read_only(&path).unwrap();
    assert!(matches!(v.set_request_state(b, RequestState::Running, None), Err(JournalError::ReadOnly { .. })));
}

#[test]
fn a_request_queue_needs_an_existing_journal_of_this_version() {
    let (_dir, path) = temp_journal();
    assert!(matches!(RequestQueue::open(&path), Err(JournalError::NotFound { .. })));
    assert!(!path.exists(), "a queue never creates a journal");
    drop(Journal::open(&path).unwrap());
    set_user_version(&path, SCHEMA_VERSION + 1);
    assert!(matches!(RequestQueue::open(&path), Err(JournalError::NewerSchema { .. })));
}

/// Writers that come and go (each removing the lock file as it ends) never overlap: a writer
/// that locked a file the previous one had just removed notices and starts over.
#[test]
fn writers_coming_and_going_never_hold_at_the_same_time() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (_dir, path) = temp_journal();
    let active = std::sync::Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (path, active) = (path.clone(), std::sync::Arc::clone(&active));
            std::thread::spawn(move || {
                let mut held = 0;
                for _ in 0..150 {
                    match lock::take(&path, "test") {
                        Ok(hold) => {
                            assert_eq!(active.fetch_add(1, Ordering::SeqCst), 0, "two writers at once");
                            std::thread::sleep(std::time::Duration::from_micros(50));
                            active.fetch_sub(1, Ordering::SeqCst);
                            drop(hold);
                            held += 1;
                        }
                        Err(JournalError::Held { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                held
            })
        })
        .collect();
    let held: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(held > 150, "{held} holds taken");
}

/// Metric observations of `source` (several samples each, out of order now and then), an
/// alert between them, and an observation of another source: what a batch of pulls holds.
fn mixed_batch(at: i64) -> Vec<Observation> {
    let mut out = Vec::new();
    for i in 0..6 {
        let mut m = metric(at + i * 1000, &[0.1 * i as f64, 0.5]);
        if i % 2 == 1 {
            m.source = "cloudwatch".into();
        }
        out.push(m);
        if i == 2 {
            out.push(Observation {
                at: Timestamp(at + 2500),
                source: "am".into(),
                kind: ObservationKind::Alert {
                    entity: EntityId::new("host:db-1"),
                    name: "HostDown".into(),
                    fingerprint: "f1".into(),
                    state: AlertState::Firing,
                    severity: Severity::Critical,
                    labels: Default::default(),
                    summary: String::new(),
                },
            });
        }
    }
    out
}

#[test]
fn metric_observations_of_a_batch_are_packed_and_read_back_with_their_ids_like_rows() {
    let (_dir, packed_path) = temp_journal();
    let (_dir2, rows_path) = temp_journal();
    let mut packed = Journal::open(&packed_path).unwrap();
    let mut rows = Journal::open(&rows_path).unwrap();
    let mut all = Vec::new();
    let mut seq = 0;
    for round in 0..3 {
        let batch = mixed_batch(T0 + round * 60_000);
        // An event on the third metric of each batch, and one on the alert.
        let events: Vec<Vec<ProblemEvent>> = batch
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i == 2 || i == 3 {
                    seq += 1;
                    vec![if seq == 1 { opened(seq, 1) } else { event(seq, 1, EventKind::Resolved) }]
                } else {
                    Vec::new()
                }
            })
            .collect();
        let steps: Vec<Step<'_>> =
            batch.iter().zip(&events).map(|(o, e)| Step { observation: Some(o), events: e }).collect();
        packed.append_batch(&steps).unwrap();
        for s in &steps {
            rows.append(s.observation, s.events).unwrap();
        }
        // A single observation between batches is a row, with the next id.
        let single = metric(T0 + round * 60_000 + 30_000, &[0.9]);
        packed.append(Some(&single), &[]).unwrap();
        rows.append(Some(&single), &[]).unwrap();
        all.extend(batch);
        all.push(single);
    }
    let packs: i64 = packed.conn.query_row("SELECT count(*) FROM metric_packs", [], |r| r.get(0)).unwrap();
    assert_eq!(packs, 6, "one pack per source per batch");
    let stored_rows: i64 = packed.conn.query_row("SELECT count(*) FROM observations", [], |r| r.get(0)).unwrap();
    assert_eq!(stored_rows, 6, "the alerts and the single observations are rows");

    assert_eq!(packed.observations().unwrap(), all);
    assert_eq!(packed.last_observation_id().unwrap(), all.len() as i64);
    for after in 0..=all.len() as i64 {
        assert_eq!(packed.observations_after(after).unwrap(), rows.observations_after(after).unwrap(), "after {after}");
    }
    assert_eq!(packed.observations_of(ProblemId(1)).unwrap(), rows.observations_of(ProblemId(1)).unwrap());
    assert_eq!(packed.observations_of(ProblemId(1)).unwrap().len(), 6);
    let sorted = |mut v: Vec<(String, Timestamp)>| {
        v.sort();
        v.dedup();
        v
    };
    let (from, until) = (Timestamp(T0 - 60_000), Timestamp(T0 + 600_000));
    let senders =
        |v: Vec<(String, Timestamp)>| v.into_iter().map(|(s, _)| s).collect::<std::collections::BTreeSet<_>>();
    assert_eq!(senders(packed.data_times(from, until).unwrap()), senders(rows.data_times(from, until).unwrap()));
    assert!(!sorted(packed.data_times(from, until).unwrap()).is_empty());
    assert_eq!(packed.newest_data_time().unwrap(), rows.newest_data_time().unwrap());
    assert!(packed.has_observations().unwrap());
}

#[test]
fn retention_drops_a_pack_only_once_all_of_it_is_older_and_covered() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let batch = mixed_batch(T0);
    let steps: Vec<Step<'_>> = batch.iter().map(|o| Step { observation: Some(o), events: &[] }).collect();
    j.append_batch(&steps).unwrap();
    let newest = batch.iter().map(|o| o.at.millis()).max().unwrap();
    let last = j.last_observation_id().unwrap();
    // A cut inside a pack's time span keeps it whole (the prometheus pack's newest sample is
    // 1 s before the cloudwatch one's).
    j.prune_observations_covered(Timestamp(newest - 1000), last).unwrap();
    let left: i64 = j.conn.query_row("SELECT count(*) FROM metric_packs", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 2);
    // Covered in time but not by the snapshot: kept.
    j.prune_observations_covered(Timestamp(newest + 1), 3).unwrap();
    let left: i64 = j.conn.query_row("SELECT count(*) FROM metric_packs", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 2);
    j.prune_observations_covered(Timestamp(newest + 1), last).unwrap();
    assert!(j.observations().unwrap().is_empty());
    assert_eq!(j.last_observation_id().unwrap(), last, "ids go on after pruning");
    let next = metric(T0 + 100_000, &[0.2]);
    j.append(Some(&next), &[]).unwrap();
    assert_eq!(j.observations_after(0).unwrap(), vec![(last + 1, next)]);
}

#[test]
fn a_batch_with_a_non_finite_packed_sample_is_refused_whole() {
    let (_dir, path) = temp_journal();
    let mut j = Journal::open(&path).unwrap();
    let mut batch = mixed_batch(T0);
    batch.push(metric(T0 + 9000, &[f64::NAN]));
    let steps: Vec<Step<'_>> = batch.iter().map(|o| Step { observation: Some(o), events: &[] }).collect();
    let err = j.append_batch(&steps).unwrap_err().to_string();
    assert!(err.contains("not a finite number"), "{err}");
    assert!(j.observations().unwrap().is_empty());
}

/// A version-8 journal (snapshot bodies in the middle of their rows) is rebuilt with the body
/// last, keeping its snapshots, their ids and the id sequence: a zeroblob is written in place
/// without being allocated only when it ends the record (see schema version 9).
#[test]
fn a_version_8_journal_gets_snapshot_bodies_last_and_keeps_its_snapshots() {
    let (_dir, path) = temp_journal();
    let bodies: [&[u8]; 3] = [b"{\"a\":1}", b"{\"b\":2}", b"{\"c\":3}"];
    {
        let mut j = Journal::open(&path).unwrap();
        for (k, body) in bodies.iter().enumerate() {
            let row = SnapshotRow {
                seq: k as u64,
                observation: 0,
                at: Some(Timestamp(k as i64)),
                format: 3,
                body,
                sources: Some(&b"[]"[..]),
            };
            j.write_snapshot(row).unwrap();
        }
    }
    let columns = |raw: &Connection| -> Vec<String> {
        let mut stmt = raw.prepare("SELECT name FROM pragma_table_info('snapshots') ORDER BY cid").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let raw = Connection::open(&path).unwrap();
    assert_eq!(columns(&raw).last().map(String::as_str), Some("body"));
    // What a version 8 file looks like: the body between `format` and `checksum`.
    raw.execute_batch(
        "CREATE TABLE old (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, observation INTEGER NOT NULL, \
         at INTEGER, format INTEGER NOT NULL, body BLOB NOT NULL, checksum TEXT NOT NULL, written_at INTEGER NOT NULL, \
         sources BLOB, sources_checksum TEXT);
         INSERT INTO old SELECT id, seq, observation, at, format, body, checksum, written_at, sources, sources_checksum
           FROM snapshots;
         UPDATE sqlite_sequence SET seq = 9 WHERE name = 'old';
         DROP TABLE snapshots; ALTER TABLE old RENAME TO snapshots; PRAGMA user_version = 8;",
    )
    .unwrap();
    assert_eq!(columns(&raw)[5], "body");
    drop(raw);

    let mut j = Journal::open(&path).unwrap();
    assert_eq!(j.schema_version().unwrap(), SCHEMA_VERSION);
    let kept = j.snapshots().unwrap();
    assert_eq!(kept.iter().map(|m| m.id).collect::<Vec<_>>(), vec![3, 2], "the newest two, ids kept");
    assert_eq!(j.read_snapshot(3).unwrap().unwrap(), bodies[2]);
    assert_eq!(j.read_snapshot(2).unwrap().unwrap(), bodies[1]);
    assert_eq!(j.read_snapshot_sources(3).unwrap().unwrap().as_deref(), Some(&b"[]"[..]));
    let raw = Connection::open(&path).unwrap();
    assert_eq!(columns(&raw).last().map(String::as_str), Some("body"));
    drop(raw);
    let row = SnapshotRow { seq: 9, observation: 0, at: Some(Timestamp(9)), format: 3, body: b"{}", sources: None };
    assert_eq!(j.write_snapshot(row).unwrap(), 10, "ids go on after the highest ever handed out");
}
