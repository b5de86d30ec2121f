//! The agent's core loop, without the sources: observations go through the engine, every step
//! is journaled (when a journal is open) and the events are handed on to whoever shows them.
//! `faultline demo`, `faultline agent` and the tests all drive this one type.

use crate::engine::{Engine, EngineConfig};
use crate::journal::{Journal, JournalError};
use crate::model::{Observation, ProblemEvent};

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
