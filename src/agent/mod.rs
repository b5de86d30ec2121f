//! The agent's core loop, without the sources: observations go through the engine, every step
//! is journaled (when a journal is open) and the events are handed on to whoever shows them.
//! `faultline demo`, `faultline agent` and the tests all drive this one type; [`runtime`] adds
//! the live sources around it.

pub mod remediate;
pub mod requests;
pub mod runtime;

use crate::engine::{Engine, EngineConfig, EngineSnapshot, SNAPSHOT_VERSION};
use crate::journal::{Journal, JournalError, SnapshotMeta, SnapshotRow, Step};
use crate::model::{
    Entity, EntityId, Observation, ObservationKind, Problem, ProblemEvent, ProblemId, RunRecord, Timestamp,
};
use crate::runbook::{Plan, ProblemContext};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An agent picked up from its journal, see [`Agent::resume`].
pub struct Resumed {
    pub agent: Agent,
    /// The journal's events, in seq order.
    pub events: Vec<ProblemEvent>,
    /// The journal's retained observations, in the order they were fed (what the sources pick
    /// up from; older ones may have been pruned by retention).
    pub observations: Vec<Observation>,
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
    /// Returns the agent, the journal's events (for the views) and its retained observations
    /// (for the sources to pick up where they were).
    pub fn resume(config: EngineConfig, journal: Journal) -> Result<Resumed, ResumeError> {
        let retained = journal.observations_after(0)?;
        let recorded = journal.events_after(0)?;
        let mut start = None;
        for meta in journal.snapshots()? {
            match restore_from(&journal, &meta, &config)? {
                Ok(engine) => {
                    start = Some((meta, engine));
                    break;
                }
                Err(why) => tracing::warn!(snapshot = meta.id, %why, "engine snapshot not usable; trying an older one"),
            }
        }
        let (mut engine, from_snapshot) = match start {
            Some((meta, engine)) => (engine, Some(meta)),
            None => (Engine::new(config), None),
        };
        let after_observation = from_snapshot.as_ref().map_or(0, |m| m.observation);
        let after_seq = from_snapshot.as_ref().map_or(0, |m| m.seq);
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
        let mut agent = Agent::around(engine, Some(journal));
        agent.observations = retained.len() as u64;
        agent.events = recorded.len() as u64;
        agent.snapshot_at = from_snapshot.as_ref().and_then(|m| m.at);
        let observations = retained.into_iter().map(|(_, o)| o).collect();
        Ok(Resumed { agent, events: recorded, observations, from_snapshot })
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
        let snapshot = self.engine.snapshot();
        let body = match snapshot.to_json() {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "engine snapshot not written");
                return Ok(None);
            }
        };
        let at = self.engine.data_time();
        let row = SnapshotRow {
            seq: snapshot.last_seq(),
            observation: journal.last_observation_id()?,
            at,
            format: SNAPSHOT_VERSION,
            body: body.as_bytes(),
        };
        let id = journal.write_snapshot(row)?;
        let took = started.elapsed();
        let pruned = match (self.upkeep.retention_ms, at) {
            (Some(keep), Some(now)) => match journal.snapshots()?.last() {
                Some(oldest) => journal.prune_observations_covered(now.plus_ms(-keep), oldest.observation)?,
                None => 0,
            },
            _ => 0,
        };
        self.snapshot_at = at;
        let written = SnapshotWritten { id, seq: row.seq, bytes: body.len(), took, pruned };
        tracing::info!(
            id,
            seq = row.seq,
            bytes = body.len(),
            took_ms = took.as_millis() as u64,
            pruned,
            "engine snapshot"
        );
        self.last_snapshot = Some(written);
        Ok(Some(written))
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
            self.snapshot_if_due()?;
        }
        Ok(true)
    }
}

/// The engine snapshot `meta` restored, or why it cannot be used (`Err` of the outer result:
/// the journal could not be read at all).
fn restore_from(
    journal: &Journal,
    meta: &SnapshotMeta,
    config: &EngineConfig,
) -> Result<Result<Engine, String>, JournalError> {
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
    if snapshot.config != *config {
        return Ok(Err(format!("snapshot {} was taken with another [engine] config", meta.id)));
    }
    if snapshot.last_seq() != meta.seq {
        return Ok(Err(format!("snapshot {} says seq {} but its row says {}", meta.id, snapshot.last_seq(), meta.seq)));
    }
    Ok(Engine::restore(snapshot).map_err(|e| format!("snapshot {}: {e}", meta.id)))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod upkeep_tests;
