//! Is the problem still there? What `check` and `escalate` steps ask after a fix, through the
//! [`ProblemProbe`] trait: the CLI asks the journal ([`JournalProbe`]), the agent its own live
//! problems ([`LiveProbe`]).

use crate::model::{Problem, ProblemId, ProblemSet, ProblemStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

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
    /// What `problem` looks like now.
    pub fn of(problem: &Problem) -> Probe {
        Probe {
            open: problem.is_open(),
            active_signals: problem.signals.values().filter(|s| s.active).count(),
            impact: format!(
                "{} entities affected, {} services",
                problem.impact.affected.len(),
                problem.impact.services
            ),
        }
    }

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
                Ok(Probe::of(p))
            })
            .await
            .map_err(|e| e.to_string())?
        })
    }
}

/// The agent's own problems as they are now, shared with its runs: the agent updates it after
/// every batch of events ([`LiveProbe::update`]), a run's `check` step reads it. A problem merged
/// into another is answered for the one it lives on in.
#[derive(Debug, Clone, Default)]
pub struct LiveProbe {
    problems: Arc<Mutex<BTreeMap<ProblemId, (ProblemStatus, Probe)>>>,
}

impl LiveProbe {
    pub fn new() -> LiveProbe {
        LiveProbe::default()
    }

    /// Records `problem` as it stands now.
    pub fn update(&self, problem: &Problem) {
        if let Ok(mut map) = self.problems.lock() {
            map.insert(problem.id, (problem.status, Probe::of(problem)));
        }
    }

    /// The state of `id`, or of the problem it was merged into (followed to the end).
    pub fn now(&self, id: ProblemId) -> Result<Probe, String> {
        let map = self.problems.lock().map_err(|_| "the agent's problem state is unreadable".to_string())?;
        let mut at = id;
        // A merge chain is at most as long as there are problems; the bound also ends a cycle.
        for _ in 0..=map.len() {
            match map.get(&at) {
                None => return Err(format!("{at} is not a problem this agent knows")),
                Some((ProblemStatus::Merged(into), _)) => at = *into,
                Some((_, probe)) => return Ok(probe.clone()),
            }
        }
        Err(format!("{id}: merge chain does not end"))
    }
}

impl ProblemProbe for LiveProbe {
    fn probe<'a>(&'a self, problem: &'a str) -> Pin<Box<dyn Future<Output = Result<Probe, String>> + Send + 'a>> {
        Box::pin(async move { self.now(problem.parse()?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, ProblemEvent, Severity, Timestamp};

    #[test]
    fn the_live_probe_answers_for_the_problem_a_merged_one_lives_on_in() {
        let e = |seq, problem, kind| ProblemEvent { seq, problem: ProblemId(problem), at: Timestamp(seq as i64), kind };
        let opened = || EventKind::Opened { title: "t".into(), severity: Severity::Major };
        let events = [
            e(1, 1, opened()),
            e(2, 2, opened()),
            e(3, 2, EventKind::MergedInto { into: ProblemId(1) }),
            e(4, 1, EventKind::Resolved),
        ];
        let set = ProblemSet::fold(&events);
        let probe = LiveProbe::new();
        for p in set.problems.values() {
            probe.update(p);
        }
        let survivor = probe.now(ProblemId(1)).unwrap();
        assert!(!survivor.open && survivor.mitigated());
        assert_eq!(probe.now(ProblemId(2)), Ok(survivor), "asked about the merged one, answered for P-0001");
        assert_eq!(probe.now(ProblemId(7)), Err("P-0007 is not a problem this agent knows".into()));
    }
}
