//! The agent's core loop, without the sources: observations go through the engine, every step
//! is journaled (when a journal is open) and the events are handed on to whoever shows them.
//! `faultline demo`, `faultline agent` and the tests all drive this one type; [`runtime`] adds
//! the live sources around it.

pub mod remediate;
pub mod requests;
pub mod runtime;

use crate::engine::{Engine, EngineConfig};
use crate::journal::{Journal, JournalError};
use crate::model::{
    Entity, EntityId, Observation, ObservationKind, Problem, ProblemEvent, ProblemId, RunRecord, Timestamp,
};
use crate::runbook::{Plan, ProblemContext};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An agent picked up from its journal, see [`Agent::resume`].
pub struct Resumed {
    pub agent: Agent,
    /// The journal's events, in seq order.
    pub events: Vec<ProblemEvent>,
    /// The journal's observations, in the order they were fed.
    pub observations: Vec<Observation>,
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
}

impl Agent {
    /// An agent that journals into `journal` when given. The journal must be new or hold no
    /// events yet: the engine's seqs start at 1.
    pub fn new(config: EngineConfig, journal: Option<Journal>) -> Agent {
        Agent { engine: Engine::new(config), journal, observations: 0, events: 0 }
    }

    /// An agent that goes on where the journal left off. The engine's state is the fold of the
    /// observations it saw, so the journal's observations are played through a fresh engine;
    /// the events that gives must be exactly the journal's events (determinism), or the
    /// journal was written with another `[engine]` config or version and is refused.
    ///
    /// Returns the agent, the journal's events (for the views) and its observations (for the
    /// sources to pick up where they were).
    pub fn resume(config: EngineConfig, journal: Journal) -> Result<Resumed, ResumeError> {
        let observations = journal.observations()?;
        let recorded = journal.events_after(0)?;
        let mut engine = Engine::new(config);
        let mut replayed = Vec::with_capacity(recorded.len());
        for obs in &observations {
            engine.observe(obs, &mut replayed);
        }
        if let Some(i) = (0..recorded.len().max(replayed.len())).find(|&i| recorded.get(i) != replayed.get(i)) {
            return Err(ResumeError::Diverged {
                path: journal.path().to_path_buf(),
                observations: observations.len(),
                seq: recorded.get(i).or(replayed.get(i)).map_or(0, |e| e.seq),
            });
        }
        let agent = Agent {
            engine,
            journal: Some(journal),
            observations: observations.len() as u64,
            events: recorded.len() as u64,
        };
        Ok(Resumed { agent, events: recorded, observations })
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
        self.feed(&Observation { at, source: "runbook".into(), kind }, out)
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
        self.feed(&Observation { at, source: "runbook".into(), kind }, out)
    }

    /// Feeds one observation, journals it with its events in one transaction, and appends the
    /// events to `out`. On a journal error the engine has still seen the observation; the
    /// error says what was not stored.
    pub fn feed(&mut self, obs: &Observation, out: &mut Vec<ProblemEvent>) -> Result<(), JournalError> {
        let start = out.len();
        self.engine.observe(obs, out);
        self.observations += 1;
        self.events += (out.len() - start) as u64;
        if let Some(j) = self.journal.as_mut() {
            j.append(Some(obs), &out[start..])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
