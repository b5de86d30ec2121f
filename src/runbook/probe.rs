//! Is the problem still there? What `check` and `escalate` steps ask after a fix, through the
//! [`ProblemProbe`] trait: the CLI asks the journal, the agent (later) its own engine.

use crate::model::{ProblemId, ProblemSet};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// The problem's state as a probe sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// Still open (not resolved, not merged away).
    pub open: bool,
    /// Its signals still firing / anomalous.
    pub active_signals: usize,
    /// One line on the impact now, e.g. `3 entities affected, 2 services`.
    pub impact: String,
}

impl Probe {
    /// Mitigated: resolved, or nothing of it is active any more.
    pub fn mitigated(&self) -> bool {
        !self.open || self.active_signals == 0
    }
}

/// Asks about a problem by id (`P-0007`).
pub trait ProblemProbe: Send + Sync {
    fn probe<'a>(&'a self, problem: &'a str) -> Pin<Box<dyn Future<Output = Result<Probe, String>> + Send + 'a>>;
}

/// Reads the journal afresh on every question (an agent keeps writing it).
#[derive(Debug, Clone)]
pub struct JournalProbe {
    pub path: PathBuf,
}

impl ProblemProbe for JournalProbe {
    fn probe<'a>(&'a self, problem: &'a str) -> Pin<Box<dyn Future<Output = Result<Probe, String>> + Send + 'a>> {
        Box::pin(async move {
            let path = self.path.clone();
            let id: ProblemId = problem.parse()?;
            tokio::task::spawn_blocking(move || {
                let journal = crate::journal::Journal::open_read_only(&path).map_err(|e| e.to_string())?;
                let events = journal.events_after(0).map_err(|e| e.to_string())?;
                let set = ProblemSet::fold(&events);
                let p = set.problems.get(&id).ok_or_else(|| format!("{id} is not in {}", path.display()))?;
                Ok(Probe {
                    open: p.is_open(),
                    active_signals: p.signals.values().filter(|s| s.active).count(),
                    impact: format!("{} entities affected, {} services", p.impact.affected.len(), p.impact.services),
                })
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}
