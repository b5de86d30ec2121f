//! What the UI (and a viewer attached to an agent) asks the action layer to do. Every request
//! is sent only after the user confirmed a plan that was on screen, and never in read-only mode.
//! The agent carries requests out ([`crate::agent::runtime`]); viewers in other processes queue
//! them in the journal ([`crate::agent::requests`]).

use super::silence::SilencePlan;
use crate::model::ProblemId;

/// One confirmed action.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Create these silences in Alertmanager and record the outcome in the problem's timeline.
    Silence(SilencePlan),
    /// Run a runbook on a problem.
    Run(RunRequest),
    /// Stop a run in progress (its running step's process group is ended).
    Cancel(CancelRequest),
}

/// Run `runbook` on `problem`. The side that runs it fills the plan in again from its own state
/// and refuses when the result differs from `shown`: what runs is exactly what was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    pub runbook: String,
    pub problem: ProblemId,
    /// `user@host (from ADDR)`.
    pub operator: String,
    /// [`super::Plan::lines`] as the user saw them (secrets masked).
    pub shown: Vec<String>,
}

/// Cancel the run of `runbook` on `problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub runbook: String,
    pub problem: ProblemId,
    pub by: String,
}

impl Request {
    /// A few words for notices: `silence of P-0007 via am`, `runbook restart-unit on P-0007`.
    pub fn describe(&self) -> String {
        match self {
            Request::Silence(plan) => format!("silence of {} via {}", plan.problem, plan.target.via),
            Request::Run(r) => format!("runbook {} on {}", r.runbook, r.problem),
            Request::Cancel(c) => format!("cancel of runbook {} on {}", c.runbook, c.problem),
        }
    }
}
