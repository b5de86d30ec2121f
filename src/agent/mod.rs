//! The agent's core loop, without the sources: observations go through the engine, every step
//! is journaled (when a journal is open) and the events are handed on to whoever shows them.
//! `faultline demo`, `faultline agent` and the tests all drive this one type; [`runtime`] adds
//! the live sources around it.

pub mod remediate;
pub mod requests;
pub mod runtime;

use crate::engine::{Engine, EngineConfig, EngineSnapshot, SNAPSHOT_VERSION};
use crate::journal::{BodyProbe, Journal, JournalError, Pins, SnapshotMeta, Step, StreamedRow};
use crate::model::{
    Entity, EntityId, Observation, ObservationKind, Problem, ProblemEvent, ProblemId, RunRecord, Timestamp,
};
use crate::runbook::{Plan, ProblemContext};
use crate::sources::resume::ResumeSet;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An agent picked up from its journal, see [`Agent::resume`].
pub struct Resumed {
    pub agent: Agent,
    /// The journal's events, in seq order.
    pub events: Vec<ProblemEvent>,
    /// What the sources pick up from, in the order it was fed: the snapshot's
    /// [`ResumeSet`] plus the observations journaled after the snapshot, compacted the same
    /// way (or, from a journal without a stored set, every retained observation).
    pub observations: Vec<Observation>,
    /// Observations read back from the journal to resume (those after the snapshot, or every
    /// retained one without a stored set).
    pub read_back: usize,
    /// The snapshot the engine was restored from (`None`: every observation was replayed).
    pub from_snapshot: Option<SnapshotMeta>,
}

/// How an agent keeps its journal bounded over months: snapshots of the engine, retention of
/// observations, and observations that say nothing new left out. Off (all `None`/false) for
/// [`Agent::new`]; the live agent sets it from `[journal]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Upkeep {
    /// Write an engine snapshot every this many ms of data time.
    pub snapshot_every_ms: Option<i64>,
    /// After each snapshot, prune observations older than this (ms of data time) that the
    /// oldest kept snapshot already covers.
    pub retention_ms: Option<i64>,
    /// Do not journal an observation the engine says changes nothing
    /// ([`Engine::says_something`]).
    pub skip_quiet: bool,
}

/// Compaction of old closed problems out of the journal (see `journal::compact`): after a
/// snapshot, at most once an hour of data time, the events of each problem closed more than
/// `after_ms` ago whose bundle `faultline journal archive` wrote into `archive_dir` are deleted
/// from the journal. A problem is taken only when: it is closed and had no event since
/// `after_ms` (data time); its summary is stored (the history keeps it); no kept snapshot is
/// older than its last event (a resume never replays it); and its bundle reads back with every
/// one of its events. Anything else leaves it as it is, for a later run.
#[derive(Debug, Clone, PartialEq)]
pub struct Compaction {
    pub after_ms: i64,
    pub archive_dir: std::path::PathBuf,
}

/// Problems compacted per run at most (a run is bounded; the rest wait an hour). Problems
/// without a bundle are passed over, so they never hold back the ones after them.
const COMPACT_PER_RUN: usize = 200;

/// One snapshot written to the journal: how big and how long it took (JSON and the insert).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotWritten {
    pub id: i64,
    pub seq: u64,
    pub bytes: usize,
    pub took: Duration,
    /// Observations pruned by retention right after it.
    pub pruned: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(
        "journal {}: replaying its {observations} observations gives other events from seq {seq} on: it was \
         written with another [engine] config or faultline version, or its observations were pruned. Use the \
         config it was written with, or give a new journal file",
        path.display()
    )]
    Diverged { path: PathBuf, observations: usize, seq: u64 },
}

/// The entities `problem` names (its root-cause candidates' and its signals'), sorted, once
/// each: what a runbook context needs to know of the topology.
pub fn named_entities(problem: &Problem) -> Vec<EntityId> {
    let mut ids: Vec<EntityId> = problem
        .root_causes
        .iter()
        .map(|c| c.entity.clone())
        .chain(problem.signals.values().map(|s| s.entity.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The engine plus its journal.
pub struct Agent {
    engine: Engine,
    journal: Option<Journal>,
    observations: u64,
    events: u64,
    upkeep: Upkeep,
    /// Data time of the last snapshot written or resumed from.
    snapshot_at: Option<Timestamp>,
    last_snapshot: Option<SnapshotWritten>,
    /// Observations not journaled because they said nothing new.
    unjournaled: u64,
    /// What the sources need to resume, kept with what is journaled and stored with each
    /// snapshot (empty without a journal).
    resume_set: ResumeSet,
    compaction: Option<Compaction>,
    /// Data time of the last compaction run.
    compacted_at: Option<Timestamp>,
}

impl Agent {
    /// An agent that journals into `journal` when given. The journal must be new or hold no
    /// events yet: the engine's seqs start at 1.
    pub fn new(config: EngineConfig, journal: Option<Journal>) -> Agent {
        Agent::around(Engine::new(config), journal)
    }

    fn around(engine: Engine, journal: Option<Journal>) -> Agent {
        Agent {
            engine,
            journal,
            observations: 0,
            events: 0,
            upkeep: Upkeep::default(),
            snapshot_at: None,
            last_snapshot: None,
            unjournaled: 0,
            resume_set: ResumeSet::new(),
            compaction: None,
            compacted_at: None,
        }
    }

    /// An agent that goes on where the journal left off. The engine's state is the fold of the
    /// observations it saw: it is restored from the newest sound engine snapshot in the journal
    /// (a damaged one, one of another format or `[engine]` config is skipped for the one before)
    /// and the observations journaled after it are played through it, or, with no usable
    /// snapshot, every observation through a fresh engine. The events that gives must be
    /// exactly the journal's events after the snapshot (determinism), or the journal was
    /// written with another `[engine]` config or version and is refused.
    ///
    /// Only the observations after the snapshot are read back: the sources resume from the
    /// [`ResumeSet`] stored with it, noted further with those. A snapshot written before
    /// journals kept that set, or none at all, means reading every retained observation.
    ///
    /// Returns the agent, the journal's events (for the views) and what the sources pick up
    /// from.
    pub fn resume(config: EngineConfig, journal: Journal) -> Result<Resumed, ResumeError> {
        let recorded = journal.events_after(0)?;
        let mut start = None;
        for meta in journal.snapshots()? {
            match restore_from(&journal, &meta, &config)? {
                Ok(restored) => {
                    start = Some((meta, restored));
                    break;
                }
                Err(why) => tracing::warn!(snapshot = meta.id, %why, "engine snapshot not usable; trying an older one"),
            }
        }
        let (mut engine, stored_set, from_snapshot) = match start {
            Some((meta, (engine, set))) => (engine, set, Some(meta)),
            None => (Engine::new(config), None, None),
        };
        let after_observation = from_snapshot.as_ref().map_or(0, |m| m.observation);
        let after_seq = from_snapshot.as_ref().map_or(0, |m| m.seq);
        // With a stored set only what follows the snapshot is read; without, everything
        // retained (the sources need all of it) and the engine replays what follows.
        let retained = journal.observations_after(if stored_set.is_some() { after_observation } else { 0 })?;
        let tail: Vec<&Observation> =
            retained.iter().filter(|(id, _)| *id > after_observation).map(|(_, o)| o).collect();
        let expected = &recorded[recorded.partition_point(|e| e.seq <= after_seq)..];
        let mut replayed = Vec::with_capacity(expected.len());
        for obs in &tail {
            engine.observe(obs, &mut replayed);
        }
        if let Some(i) = (0..expected.len().max(replayed.len())).find(|&i| expected.get(i) != replayed.get(i)) {
            return Err(ResumeError::Diverged {
                path: journal.path().to_path_buf(),
                observations: tail.len(),
                seq: expected.get(i).or(replayed.get(i)).map_or(0, |e| e.seq),
            });
        }
        let mut resume_set = stored_set.unwrap_or_default();
        // With a stored set, what was read back is the tail: noting it brings the set up to
        // date; without, the set is made of everything retained.
        let read_back = retained.len();
        for (_, obs) in &retained {
            resume_set.note(obs);
        }
        let mut agent = Agent::around(engine, Some(journal));
        agent.observations = read_back as u64;
        agent.events = recorded.len() as u64;
        agent.snapshot_at = from_snapshot.as_ref().and_then(|m| m.at);
        let observations = resume_set.observations();
        agent.resume_set = resume_set;
        Ok(Resumed { agent, events: recorded, observations, read_back, from_snapshot })
    }

    /// Sets how the journal is kept bounded (see [`Upkeep`]).
    pub fn set_upkeep(&mut self, upkeep: Upkeep) {
        self.upkeep = upkeep;
    }

    /// The last snapshot this agent wrote.
    pub fn last_snapshot(&self) -> Option<SnapshotWritten> {
        self.last_snapshot
    }

    /// Observations not journaled because they said nothing new.
    pub fn unjournaled(&self) -> u64 {
        self.unjournaled
    }

    /// Writes a snapshot of the engine to the journal now (also on clean shutdown), then prunes
    /// the observations retention lets go and the kept snapshots no longer need. `None` without
    /// a writable journal, or when the snapshot cannot be encoded (logged).
    pub fn write_snapshot(&mut self) -> Result<Option<SnapshotWritten>, JournalError> {
        let Some(journal) = self.journal.as_mut().filter(|j| !j.is_read_only()) else {
            return Ok(None);
        };
        let started = Instant::now();
        // Borrowed, not copied: the state is not held twice while it is written. Two passes
        // over it instead of its JSON text: the first only measures and hashes, the second
        // writes straight into the row, so the text (tens of MB at thousands of series) is
        // never held whole.
        let snapshot = self.engine.snapshot_view();
        let mut probe = BodyProbe::default();
        if let Err(e) = serde_json::to_writer(&mut probe, &snapshot) {
            tracing::error!(error = %e, "engine snapshot not written");
            return Ok(None);
        }
        let (len, sum) = probe.finish();
        let sources = match self.resume_set.to_json() {
            Ok(sources) => sources,
            Err(e) => {
                tracing::error!(error = %e, "engine snapshot not written: the sources' resume set does not encode");
                return Ok(None);
            }
        };
        let at = self.engine.data_time();
        let row = StreamedRow {
            seq: snapshot.last_seq(),
            observation: journal.last_observation_id()?,
            at,
            format: SNAPSHOT_VERSION,
            len,
            checksum: sum,
            sources: Some(sources.as_bytes()),
            // With retention, keep what a bundle of a problem opened within it starts from.
            pins: self.upkeep.retention_ms.zip(at).map(|(keep, now)| Pins {
                since: now.plus_ms(-keep),
                window_ms: self.engine.config().correlation_window_ms,
            }),
        };
        let seq = row.seq;
        let id = journal.write_snapshot_streamed(row, &mut |w| {
            serde_json::to_writer(w, &snapshot).map_err(std::io::Error::other)
        })?;
        let took = started.elapsed();
        let pruned = match (self.upkeep.retention_ms, at) {
            (Some(keep), Some(now)) => match journal.snapshots()?.last() {
                Some(oldest) => journal.prune_observations_covered(now.plus_ms(-keep), oldest.observation)?,
                None => 0,
            },
            _ => 0,
        };
        self.snapshot_at = at;
        // Best effort: a compaction that fails leaves the events where they are, for the next run.
        if let Some(Err(e)) = at.map(|now| self.compact_if_due(now)) {
            tracing::error!(error = %e, "compaction failed; the events stay in the journal");
        }
        let written = SnapshotWritten { id, seq, bytes: len + sources.len(), took, pruned };
        tracing::info!(
            id,
            seq,
            bytes = len + sources.len(),
            took_ms = took.as_millis() as u64,
            pruned,
            "engine snapshot"
        );
        self.last_snapshot = Some(written);
        Ok(Some(written))
    }

    /// Compacts old closed problems out of the journal (see [`Compaction`]).
    pub fn set_compaction(&mut self, compaction: Option<Compaction>) {
        self.compaction = compaction;
    }

    /// A compaction run when one is set and the last was an hour of data time ago or more;
    /// returns the problems compacted.
    fn compact_if_due(&mut self, now: Timestamp) -> Result<Vec<crate::journal::Compacted>, JournalError> {
        const HOUR_MS: i64 = 3_600_000;
        let (Some(c), Some(journal)) = (self.compaction.as_ref(), self.journal.as_mut()) else {
            return Ok(Vec::new());
        };
        if self.compacted_at.is_some_and(|last| now.since(last) < HOUR_MS) || journal.is_read_only() {
            return Ok(Vec::new());
        }
        self.compacted_at = Some(now);
        let covered = journal.summaries_covered(crate::history::store::FORMAT)?;
        let Some(oldest) = journal.snapshots()?.last().map(|m| m.seq) else { return Ok(Vec::new()) };
        let mut done = Vec::new();
        for id in journal.compaction_candidates(now.plus_ms(-c.after_ms))? {
            if done.len() >= COMPACT_PER_RUN {
                break;
            }
            // Cheap first: most problems never archived (from before the archive was set up)
            // cost a lookup, and they do not hold back the ones after them.
            let path = crate::bundle::archive::archived_path(&c.archive_dir, id);
            if !path.is_file() {
                continue;
            }
            let events = journal.events_of(id)?;
            let Some(last) = events.last().map(|e| e.seq) else { continue };
            let closed = crate::model::ProblemSet::fold(&events).problems.get(&id).is_some_and(|p| !p.is_open());
            if !closed || last > covered || last > oldest {
                continue;
            }
            let held = match crate::bundle::Bundle::read(&path) {
                Ok(b) if b.meta.problem == id => {
                    // Every one of its events, as journaled.
                    let held: BTreeMap<u64, &ProblemEvent> = b.events.iter().map(|e| (e.seq, e)).collect();
                    events.iter().all(|e| held.get(&e.seq) == Some(&e))
                }
                _ => false,
            };
            if !held {
                tracing::debug!(problem = %id, bundle = %path.display(), "not compacted: no bundle holds its events yet");
                continue;
            }
            if let Some(done_one) = journal.compact_problem(id, &path.display().to_string())? {
                tracing::info!(problem = %id, events = done_one.events, bundle = %path.display(), "problem compacted");
                done.push(done_one);
            }
        }
        Ok(done)
    }

    /// A snapshot when one is due by [`Upkeep::snapshot_every_ms`] of data time.
    fn snapshot_if_due(&mut self) -> Result<(), JournalError> {
        let (Some(every), Some(now)) = (self.upkeep.snapshot_every_ms, self.engine.data_time()) else {
            return Ok(());
        };
        match self.snapshot_at {
            // Counted from the first observation of a fresh agent.
            None => self.snapshot_at = Some(now),
            Some(last) if now.since(last) >= every => {
                self.write_snapshot()?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// The journal, when this agent writes one.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// The journal, to handle requests queued in it.
    pub fn journal_mut(&mut self) -> Option<&mut Journal> {
        self.journal.as_mut()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Observations fed so far.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Events produced so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// `problem` as a runbook sees it, with what this agent's topology knows of its entities:
    /// the context the agent fills plans from (`None` when the problem names no entity).
    pub fn context(&self, problem: &Problem) -> Option<ProblemContext> {
        let topology = self.engine.topology();
        let entities: BTreeMap<EntityId, Entity> = named_entities(problem)
            .into_iter()
            .filter_map(|id| topology.entity(&id).map(|e| (id, e.clone())))
            .collect();
        ProblemContext::from_problem(problem, &entities)
    }

    /// Journals the start of a run of `plan` on `problem` (by `plan.operator`, with the plan's
    /// lines as shown) at `at` (see [`Agent::run_finished`]), and appends its events to `out`.
    pub fn run_started(
        &mut self,
        problem: ProblemId,
        plan: &Plan,
        auto: bool,
        at: Timestamp,
        out: &mut Vec<ProblemEvent>,
    ) -> Result<(), JournalError> {
        let kind = ObservationKind::RunbookStarted {
            problem,
            runbook: plan.runbook.clone(),
            by: plan.operator.clone(),
            plan: plan.lines(),
            auto,
        };
        self.feed(&Observation { at, source: "runbook".into(), kind }, out).map(drop)
    }

    /// Journals the end of a run on `problem` with its audit at `at`, and appends its events to
    /// `out`. (`at` is the observation's time, which moves the engine's clock: the live agent
    /// gives the wall time, `runbook run` on a journal nobody writes its last data time.)
    pub fn run_finished(
        &mut self,
        problem: ProblemId,
        record: RunRecord,
        at: Timestamp,
        out: &mut Vec<ProblemEvent>,
    ) -> Result<(), JournalError> {
        let kind = ObservationKind::RunbookFinished { problem, record: Box::new(record) };
        self.feed(&Observation { at, source: "runbook".into(), kind }, out).map(drop)
    }

    /// Feeds `batch` (one source's pull) through the engine in order, journals the steps that
    /// say something ([`Upkeep::skip_quiet`], as [`Agent::feed`]) with their events in ONE
    /// transaction, and appends the events to `out`; then writes a snapshot when one is due.
    /// Returns how many observations were journaled. A crash loses the whole batch or nothing;
    /// publish the events only once this returned `Ok`, so none is shown that the journal lacks.
    /// On a journal error the engine has still seen the batch; the error says what was not
    /// stored.
    pub fn feed_batch(&mut self, batch: &[Observation], out: &mut Vec<ProblemEvent>) -> Result<usize, JournalError> {
        let first = out.len();
        // (observation index, where its events start and end in `out`)
        let mut steps: Vec<(usize, usize, usize)> = Vec::with_capacity(batch.len());
        for (i, obs) in batch.iter().enumerate() {
            let quiet = self.upkeep.skip_quiet && !self.engine.says_something(obs);
            let start = out.len();
            self.engine.observe(obs, out);
            // `says_something` promises no event; a broken promise is journaled, never lost.
            if quiet && out.len() == start {
                self.unjournaled += 1;
            } else {
                steps.push((i, start, out.len()));
            }
        }
        self.observations += batch.len() as u64;
        self.events += (out.len() - first) as u64;
        if let Some(j) = self.journal.as_mut() {
            let rows: Vec<Step<'_>> =
                steps.iter().map(|&(i, a, b)| Step { observation: Some(&batch[i]), events: &out[a..b] }).collect();
            j.append_batch(&rows)?;
            for &(i, _, _) in &steps {
                self.resume_set.note(&batch[i]);
            }
            self.snapshot_if_due()?;
        }
        Ok(steps.len())
    }

    /// Feeds one observation, journals it with its events in one transaction, and appends the
    /// events to `out`; writes a snapshot when one is due. Returns whether the observation was
    /// journaled: with [`Upkeep::skip_quiet`], one that changed nothing is not. On a journal
    /// error the engine has still seen the observation; the error says what was not stored.
    pub fn feed(&mut self, obs: &Observation, out: &mut Vec<ProblemEvent>) -> Result<bool, JournalError> {
        let quiet = self.upkeep.skip_quiet && !self.engine.says_something(obs);
        let start = out.len();
        self.engine.observe(obs, out);
        self.observations += 1;
        self.events += (out.len() - start) as u64;
        // `says_something` promises no event; a broken promise is journaled, never lost.
        if quiet && out.len() == start {
            self.unjournaled += 1;
            return Ok(false);
        }
        if let Some(j) = self.journal.as_mut() {
            j.append(Some(obs), &out[start..])?;
            self.resume_set.note(obs);
            self.snapshot_if_due()?;
        }
        Ok(true)
    }
}

/// The engine of snapshot `meta`, with the configuration it carries, or why it cannot be used
/// (`Err` of the outer result: the journal could not be read at all).
pub(crate) fn restore_engine(journal: &Journal, meta: &SnapshotMeta) -> Result<Result<Engine, String>, JournalError> {
    let body = match journal.read_snapshot(meta.id)? {
        Ok(body) => body,
        Err(unusable) => return Ok(Err(unusable.to_string())),
    };
    let text = match std::str::from_utf8(&body) {
        Ok(text) => text,
        Err(e) => return Ok(Err(format!("snapshot {} is not UTF-8: {e}", meta.id))),
    };
    let snapshot = match EngineSnapshot::from_json(text) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("snapshot {}: {e}", meta.id))),
    };
    if snapshot.last_seq() != meta.seq {
        return Ok(Err(format!("snapshot {} says seq {} but its row says {}", meta.id, snapshot.last_seq(), meta.seq)));
    }
    Ok(Engine::restore(snapshot).map_err(|e| format!("snapshot {}: {e}", meta.id)))
}

/// The engine snapshot `meta` restored with the sources' resume set stored beside it (`None`:
/// the row predates it), or why it cannot be used (`Err` of the outer result: the journal could
/// not be read at all).
fn restore_from(
    journal: &Journal,
    meta: &SnapshotMeta,
    config: &EngineConfig,
) -> Result<Result<(Engine, Option<ResumeSet>), String>, JournalError> {
    let engine = match restore_engine(journal, meta)? {
        Ok(engine) if engine.config() != config => {
            return Ok(Err(format!("snapshot {} was taken with another [engine] config", meta.id)))
        }
        Ok(engine) => engine,
        Err(why) => return Ok(Err(why)),
    };
    let set = match journal.read_snapshot_sources(meta.id)? {
        Ok(None) => None,
        Ok(Some(bytes)) => match std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| ResumeSet::from_json(text).map_err(|e| e.to_string()))
        {
            Ok(set) => Some(set),
            Err(e) => return Ok(Err(format!("snapshot {}: the sources' resume set: {e}", meta.id))),
        },
        Err(unusable) => return Ok(Err(unusable.to_string())),
    };
    Ok(Ok((engine, set)))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upkeep_tests;
