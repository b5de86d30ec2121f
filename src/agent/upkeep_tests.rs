//! Keeping a journal bounded: resume from a snapshot plus the tail, the fall back past a damaged
//! snapshot, retention that never prunes what a resume replays, and observations that say
//! nothing new left out of the journal without changing a replay.

use super::*;
use crate::model::{AlertState, ProblemSet, Severity};
use crate::sources::fixture;
use std::path::Path;

fn scenario() -> Vec<Observation> {
    let text = include_str!("../../fixtures/scenarios/db-cpu-saturation.jsonl");
    fixture::parse(text, Path::new("db-cpu-saturation.jsonl")).unwrap().observations
}

const MIN: i64 = 60_000;

fn upkeep(every_ms: i64, retention_ms: Option<i64>) -> Upkeep {
    Upkeep { snapshot_every_ms: Some(every_ms), retention_ms, skip_quiet: true }
}

/// Every observation through one agent without a journal: its events and final state.
fn uninterrupted(observations: &[Observation]) -> (Vec<ProblemEvent>, String) {
    let mut whole = Agent::new(EngineConfig::default(), None);
    let mut events = Vec::new();
    for o in observations {
        whole.feed(o, &mut events).unwrap();
    }
    (events, whole.engine().snapshot().to_json().unwrap())
}

/// `observations[..k]` through a journaling agent with `upkeep`, dropped without a clean stop.
fn killed_after(path: &Path, observations: &[Observation], k: usize, upkeep: Upkeep) -> Vec<ProblemEvent> {
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(path).unwrap()));
    agent.set_upkeep(upkeep);
    let mut events = Vec::new();
    for o in &observations[..k] {
        agent.feed(o, &mut events).unwrap();
    }
    events
}

/// What a resume of `path` handed back, then the whole event list (journal + `rest`) and the
/// final state once `rest` is fed.
struct Finished {
    journaled: Vec<ProblemEvent>,
    from_snapshot: Option<SnapshotMeta>,
    events: Vec<ProblemEvent>,
    state: String,
}

fn resume_and_finish(path: &Path, rest: &[Observation], upkeep: Upkeep) -> Finished {
    let resumed = Agent::resume(EngineConfig::default(), Journal::open(path).unwrap()).unwrap();
    let Resumed { mut agent, events: journaled, from_snapshot, .. } = resumed;
    agent.set_upkeep(upkeep);
    let mut events = journaled.clone();
    for o in rest {
        agent.feed(o, &mut events).unwrap();
    }
    let state = agent.engine().snapshot().to_json().unwrap();
    Finished { journaled, from_snapshot, events, state }
}

#[test]
fn a_resume_from_a_snapshot_and_the_tail_gives_the_events_and_state_of_a_run_without_a_stop() {
    let observations = scenario();
    let (expected, expected_state) = uninterrupted(&observations);
    for k in [observations.len() / 3, observations.len() / 2, observations.len() - 7] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let before = killed_after(&path, &observations, k, upkeep(5 * MIN, None));
        let snapshots = Journal::open_read_only(&path).unwrap().snapshots().unwrap();
        assert_eq!(snapshots.len(), crate::journal::KEEP_SNAPSHOTS, "split at {k}: {snapshots:?}");
        let f = resume_and_finish(&path, &observations[k..], upkeep(5 * MIN, None));
        assert_eq!(f.journaled, before, "split at {k}: the journal's events are handed back");
        let used = f.from_snapshot.expect("resumed from a snapshot");
        assert_eq!(used.id, snapshots[0].id, "split at {k}: the newest snapshot");
        assert!(used.seq > 0 && used.observation > 0, "{used:?}");
        assert!(f.events == expected, "split at {k}: the events differ from a run without a stop");
        assert!(f.state == expected_state, "split at {k}: the final state differs");
    }
}

#[test]
fn a_damaged_newest_snapshot_is_skipped_for_the_one_before() {
    let observations = scenario();
    let (expected, _) = uninterrupted(&observations);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let k = observations.len() / 2;
    killed_after(&path, &observations, k, upkeep(5 * MIN, None));
    let snapshots = Journal::open_read_only(&path).unwrap().snapshots().unwrap();
    // Flip the body of the newest one under the journal's feet (a damaged disk).
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE snapshots SET body = CAST('{}' AS BLOB) WHERE id = ?1", [snapshots[0].id]).unwrap();
    drop(conn);
    let f = resume_and_finish(&path, &observations[k..], upkeep(5 * MIN, None));
    assert_eq!(f.from_snapshot.map(|m| m.id), Some(snapshots[1].id));
    assert!(f.events == expected, "the events differ from a run without a stop");
}

#[test]
fn retention_prunes_only_what_the_kept_snapshots_cover_and_a_resume_still_works() {
    let observations = scenario();
    let (expected, expected_state) = uninterrupted(&observations);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let k = observations.len() * 4 / 5;
    // Retention of one minute: everything older than a minute may go, unless a resume needs it.
    killed_after(&path, &observations, k, upkeep(5 * MIN, Some(MIN)));
    let journal = Journal::open_read_only(&path).unwrap();
    let snapshots = journal.snapshots().unwrap();
    let oldest = snapshots.last().unwrap();
    let kept = journal.observations_after(0).unwrap();
    assert!(kept.len() < k / 2, "pruned: {} of {k} kept", kept.len());
    assert!(kept.first().unwrap().0 <= oldest.observation + 1, "nothing after the oldest snapshot pruned: {oldest:?}");
    assert_eq!(kept.last().unwrap().0, journal.last_observation_id().unwrap());
    drop(journal);
    let f = resume_and_finish(&path, &observations[k..], upkeep(5 * MIN, Some(MIN)));
    assert!(f.events == expected, "the events differ from a run without a stop");
    assert!(f.state == expected_state, "the final state differs");
}

/// The scenario with what a healthy estate says every cycle: each target's `TargetDown`
/// resolved, a tick, and a quiet log count, at the time of the observation before.
fn with_chatter(observations: &[Observation]) -> Vec<Observation> {
    let mut out = Vec::new();
    for (i, o) in observations.iter().enumerate() {
        out.push(o.clone());
        let entity = o.kind.entity().cloned().unwrap_or_else(|| crate::model::EntityId::new("host:db-1"));
        let at = o.at;
        out.push(Observation {
            at,
            source: "prometheus".into(),
            kind: ObservationKind::Alert {
                entity: entity.clone(),
                name: "TargetDown".into(),
                fingerprint: format!("target-{}", i % 13),
                state: AlertState::Resolved,
                severity: Severity::Critical,
                labels: BTreeMap::new(),
                summary: String::new(),
            },
        });
        out.push(Observation { at, source: "prometheus".into(), kind: ObservationKind::Tick });
        out.push(Observation {
            at,
            source: "loki".into(),
            kind: ObservationKind::LogPattern {
                entity,
                template_id: "t-info".into(),
                template: "request served in <*> ms".into(),
                level: Severity::Info,
                count: 40,
                new_template: false,
            },
        });
    }
    out
}

#[test]
fn observations_that_say_nothing_new_are_not_journaled_and_a_replay_without_them_is_the_same() {
    let observations = with_chatter(&scenario());
    let (expected, expected_state) = uninterrupted(&observations);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(Upkeep { skip_quiet: true, ..Upkeep::default() });
    let mut events = Vec::new();
    for o in &observations {
        agent.feed(o, &mut events).unwrap();
    }
    assert!(events == expected, "skipping changed the live events");
    let skipped = agent.unjournaled();
    assert!(skipped as usize > observations.len() * 2 / 3, "{skipped} of {} skipped", observations.len());
    drop(agent);
    let journal = Journal::open_read_only(&path).unwrap();
    assert_eq!(journal.observations().unwrap().len() as u64, observations.len() as u64 - skipped);
    // A full replay of the shorter journal: the same events and the same state.
    let resumed = Agent::resume(EngineConfig::default(), journal).unwrap();
    assert!(resumed.from_snapshot.is_none());
    assert!(resumed.events == expected, "the journal's events differ");
    assert!(resumed.agent.engine().snapshot().to_json().unwrap() == expected_state, "the replayed state differs");
}

#[test]
fn an_observation_the_engine_calls_quiet_changes_neither_events_nor_state() {
    // Checked one observation at a time over the first part of the scenario with chatter.
    let observations = with_chatter(&scenario());
    let mut engine = Engine::new(EngineConfig::default());
    let mut quiet = 0;
    for o in observations.iter().take(1600) {
        let mut out = Vec::new();
        if engine.says_something(o) {
            engine.observe(o, &mut out);
            continue;
        }
        let before = engine.snapshot().to_json().unwrap();
        engine.observe(o, &mut out);
        assert!(out.is_empty(), "a quiet observation made events: {o:?}");
        assert!(engine.snapshot().to_json().unwrap() == before, "a quiet observation changed the state: {o:?}");
        quiet += 1;
    }
    assert!(quiet > 1000, "{quiet} quiet of 1600");
}

#[test]
fn a_clean_stop_writes_a_snapshot_so_a_resume_replays_nothing() {
    let observations = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    let mut events = Vec::new();
    for o in &observations[..500] {
        agent.feed(o, &mut events).unwrap();
    }
    let written = agent.write_snapshot().unwrap().expect("a snapshot");
    assert!(written.bytes > 1000);
    drop(agent);
    let journal = Journal::open_read_only(&path).unwrap();
    let meta = journal.snapshots().unwrap()[0].clone();
    assert_eq!(meta.observation, journal.last_observation_id().unwrap());
    assert_eq!(meta.seq, journal.last_seq().unwrap());
    let resumed = Agent::resume(EngineConfig::default(), journal).unwrap();
    assert_eq!(resumed.from_snapshot, Some(meta));
}

/// `observations` through a journaling agent with `upkeep`, in batches of `n` (`None`: one
/// `feed` each). Returns the live events, how many were left out, and the journal's events and
/// observations (with their ids).
fn journaled(path: &Path, observations: &[Observation], n: Option<usize>) -> JournaledRun {
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(path).unwrap()));
    agent.set_upkeep(upkeep(5 * MIN, None));
    let mut live = Vec::new();
    match n {
        Some(n) => {
            for chunk in observations.chunks(n) {
                let journaled = agent.feed_batch(chunk, &mut live).unwrap();
                assert!(journaled <= chunk.len());
            }
        }
        None => {
            for o in observations {
                agent.feed(o, &mut live).unwrap();
            }
        }
    }
    let unjournaled = agent.unjournaled();
    drop(agent);
    let journal = Journal::open_read_only(path).unwrap();
    JournaledRun {
        live,
        unjournaled,
        events: journal.events_after(0).unwrap(),
        observations: journal.observations_after(0).unwrap(),
    }
}

#[derive(Debug, PartialEq)]
struct JournaledRun {
    live: Vec<ProblemEvent>,
    unjournaled: u64,
    events: Vec<ProblemEvent>,
    observations: Vec<(i64, Observation)>,
}

#[test]
fn feeding_in_batches_journals_exactly_what_feeding_one_by_one_does() {
    let observations = with_chatter(&scenario());
    let dir = tempfile::tempdir().unwrap();
    let one_by_one = journaled(&dir.path().join("single.db"), &observations, None);
    assert!(one_by_one.unjournaled > 0 && !one_by_one.events.is_empty(), "a scenario with quiet steps and events");
    assert!(one_by_one.live == one_by_one.events, "the live events are the journal's");
    // Batch sizes that split the scenario's steps differently, the whole scenario in one too.
    for n in [1, 7, 500, observations.len()] {
        let path = dir.path().join(format!("batch-{n}.db"));
        let batched = journaled(&path, &observations, Some(n));
        assert!(batched == one_by_one, "batches of {n}: another journal than one by one");
        // And it resumes to the same place.
        let resumed = Agent::resume(EngineConfig::default(), Journal::open(&path).unwrap()).unwrap();
        assert!(resumed.events == one_by_one.events, "batches of {n}: the resumed events differ");
    }
}

#[test]
fn a_resume_reads_back_only_what_follows_the_snapshot_and_the_sources_get_what_retention_pruned() {
    let observations = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let k = observations.len() * 4 / 5;
    // Every observation an uninterrupted agent would have journaled, for the set it makes.
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(upkeep(5 * MIN, Some(MIN)));
    let mut events = Vec::new();
    for o in &observations[..k] {
        agent.feed(o, &mut events).unwrap();
    }
    let expected_set = agent.resume_set.observations();
    drop(agent);
    let journal = Journal::open_read_only(&path).unwrap();
    let newest = journal.snapshots().unwrap()[0].clone();
    let after: Vec<i64> =
        journal.observations_after(newest.observation).unwrap().into_iter().map(|(id, _)| id).collect();
    let retained = journal.observations_after(0).unwrap().len();
    drop(journal);
    let resumed = Agent::resume(EngineConfig::default(), Journal::open(&path).unwrap()).unwrap();
    assert_eq!(resumed.from_snapshot.map(|m| m.id), Some(newest.id));
    assert_eq!(resumed.read_back, after.len(), "only the tail is read back ({retained} retained)");
    assert!(after.len() < retained, "the test needs observations before the snapshot: {} of {retained}", after.len());
    // Alerts that fired before the retention window are still there for the sources to resolve.
    assert_eq!(resumed.observations, expected_set);
    assert!(expected_set.iter().any(|o| matches!(o.kind, ObservationKind::Alert { .. })), "{expected_set:?}");
}

/// Compaction: once the history store covers them and a bundle holds every one of their
/// events, old closed problems leave the journal; a problem without a bundle, or closed too
/// recently, stays; the summaries stay (also through a store rebuild); the journal still
/// resumes to the same state.
#[test]
fn old_closed_problems_whose_bundle_holds_their_events_are_compacted_and_the_rest_stays() {
    let obs = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let archive = dir.path().join("archive");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(upkeep(2 * MIN, None));
    let mut events = Vec::new();
    for o in &obs {
        agent.feed(o, &mut events).unwrap();
    }
    crate::history::store::catch_up(agent.journal_mut().unwrap()).unwrap();
    let reader = Journal::open_read_only(&path).unwrap();
    let report =
        crate::bundle::archive::archive(&reader, &archive, None, &EngineConfig::default(), "j", "t@h").unwrap();
    let set = ProblemSet::fold(&events);
    let closed: Vec<ProblemId> = set.problems.values().filter(|p| !p.is_open()).map(|p| p.id).collect();
    assert!(closed.len() >= 2 && report.written.len() == closed.len(), "{}", report.describe());
    // The newest closed problem's bundle goes missing: it must stay.
    let newest_close = closed.iter().map(|id| set.problems[id].updated_at).max().unwrap();
    let kept_back = *closed.iter().find(|id| set.problems[id].updated_at == newest_close).unwrap();
    std::fs::remove_file(crate::bundle::archive::archived_path(&archive, kept_back)).unwrap();

    agent.set_compaction(Some(Compaction { after_ms: 1, archive_dir: archive.clone() }));
    agent.write_snapshot().unwrap();
    let journal = agent.journal().unwrap();
    let compacted: Vec<ProblemId> = journal.compacted().unwrap().iter().map(|c| c.problem).collect();
    let expected: Vec<ProblemId> = closed.iter().copied().filter(|id| *id != kept_back).collect();
    assert_eq!(compacted, expected);
    for c in journal.compacted().unwrap() {
        assert!(journal.events_of(c.problem).unwrap().is_empty());
        assert_eq!(c.events, events.iter().filter(|e| e.problem == c.problem).count());
        assert!(c.bundle.ends_with(&format!("{}.faultline", c.problem)));
    }
    assert!(!journal.events_of(kept_back).unwrap().is_empty(), "{kept_back} stays");
    // The seqs compacted out are no damage.
    let findings = crate::journal::salvage::scan(&path).unwrap();
    assert!(findings.is_sound(), "{}", findings.report());
    // The summaries stay, also when the store is rebuilt.
    let rows = |j: &Journal| j.stored_summaries(&compacted).unwrap().len();
    assert_eq!(rows(journal), compacted.len());
    agent.journal_mut().unwrap().store_summaries(crate::history::store::FORMAT, 0, &[], true).unwrap();
    assert_eq!(rows(agent.journal().unwrap()), compacted.len());
    let state = agent.engine().snapshot().to_json().unwrap();
    drop(agent);

    // The journal resumes from its newest snapshot to the same state.
    let resumed = Agent::resume(EngineConfig::default(), Journal::open(&path).unwrap()).unwrap();
    assert!(resumed.agent.engine().snapshot().to_json().unwrap() == state);
    let left: Vec<ProblemEvent> = events.iter().filter(|e| !compacted.contains(&e.problem)).cloned().collect();
    assert_eq!(Journal::open_read_only(&path).unwrap().events_after(0).unwrap(), left);

    // Archived again, but closed more recently than the cut-off: it stays.
    let mut agent = resumed.agent;
    let reader = Journal::open_read_only(&path).unwrap();
    let report =
        crate::bundle::archive::archive(&reader, &archive, None, &EngineConfig::default(), "j", "t@h").unwrap();
    assert_eq!(report.written.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![kept_back]);
    let now = agent.engine().data_time().unwrap();
    agent.set_compaction(Some(Compaction { after_ms: now.since(newest_close) + 1, archive_dir: archive }));
    agent.write_snapshot().unwrap();
    assert_eq!(agent.journal().unwrap().compacted().unwrap().len(), compacted.len());
    assert!(!agent.journal().unwrap().events_of(kept_back).unwrap().is_empty());
}
