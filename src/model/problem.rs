//! The problem as a fold of its events. Live view, replay and export all use this one fold.

use super::event::{Candidate, ChangeRecord, EventKind, Impact, ProblemEvent, ProblemId};
use super::observation::Severity;
use super::signal::{Signal, SignalKey};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "into")]
pub enum ProblemStatus {
    Open,
    Resolved,
    Merged(ProblemId),
}

/// One line of a problem's timeline (repeats are not listed, only counted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub text: String,
}

/// A problem as of some point in its event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub id: ProblemId,
    /// The title given when it opened; see [`Problem::headline`] for what to show.
    pub title: String,
    pub status: ProblemStatus,
    pub severity: Severity,
    pub opened_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub signals: BTreeMap<SignalKey, Signal>,
    /// Root-cause candidates, best first.
    pub root_causes: Vec<Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundational_cause: Option<ChangeRecord>,
    pub impact: Impact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Until when its alerts are silenced (the latest end of the silences created for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_until: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absorbed: Vec<ProblemId>,
    pub timeline: Vec<TimelineEntry>,
    /// Sequence number of the last event folded in.
    pub last_seq: u64,
}

impl Problem {
    fn opened(e: &ProblemEvent, title: &str, severity: Severity) -> Problem {
        Problem {
            id: e.problem,
            title: title.to_string(),
            status: ProblemStatus::Open,
            severity,
            opened_at: e.at,
            resolved_at: None,
            updated_at: e.at,
            signals: BTreeMap::new(),
            root_causes: Vec::new(),
            foundational_cause: None,
            impact: Impact::default(),
            acknowledged_by: None,
            silenced_until: None,
            absorbed: Vec::new(),
            timeline: Vec::new(),
            last_seq: e.seq,
        }
    }

    /// What to call the problem now: its top root cause once known, else its opening title.
    pub fn headline(&self) -> &str {
        self.root_causes.first().map(|c| c.summary.as_str()).unwrap_or(&self.title)
    }

    pub fn is_open(&self) -> bool {
        self.status == ProblemStatus::Open
    }

    /// Total raw events folded into this problem's signals.
    pub fn raw_count(&self) -> u64 {
        self.signals.values().map(|s| s.count).sum()
    }

    /// Folds one event into the problem.
    pub fn apply(&mut self, e: &ProblemEvent) {
        self.last_seq = e.seq;
        self.updated_at = e.at;
        match &e.kind {
            EventKind::Opened { .. } => {}
            EventKind::SignalAttached { signal } | EventKind::SignalUpdated { signal } => {
                self.signals.insert(signal.key.clone(), signal.clone());
            }
            EventKind::SignalRepeated { key, count, last_seen } => {
                if let Some(s) = self.signals.get_mut(key) {
                    s.count = *count;
                    s.last_seen = *last_seen;
                }
            }
            EventKind::SignalDetached { key, .. } => {
                self.signals.remove(key);
            }
            EventKind::SeverityChanged { severity } => self.severity = *severity,
            EventKind::RootCauseRanked { candidates } => self.root_causes = candidates.clone(),
            EventKind::FoundationalCauseLinked { change } => self.foundational_cause = Some(change.clone()),
            EventKind::ImpactUpdated { impact } => self.impact = impact.clone(),
            EventKind::MergedInto { into } => self.status = ProblemStatus::Merged(*into),
            EventKind::Absorbed { from } => self.absorbed.push(*from),
            EventKind::Acknowledged { by } => self.acknowledged_by = Some(by.clone()),
            EventKind::Silenced { silences, error: None, .. } => {
                let until = silences.iter().map(|s| s.ends_at).max();
                self.silenced_until = self.silenced_until.max(until);
            }
            EventKind::Silenced { .. } => {}
            // Timeline only: the audit is in the event.
            EventKind::RunbookStarted { .. } | EventKind::RunbookFinished { .. } => {}
            EventKind::Resolved => {
                self.status = ProblemStatus::Resolved;
                self.resolved_at = Some(e.at);
            }
            EventKind::Reopened => {
                self.status = ProblemStatus::Open;
                self.resolved_at = None;
            }
        }
        if !matches!(e.kind, EventKind::SignalRepeated { .. }) {
            self.timeline.push(TimelineEntry { seq: e.seq, at: e.at, text: e.kind.describe() });
        }
    }
}

/// All problems, folded from an event stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProblemSet {
    pub problems: BTreeMap<ProblemId, Problem>,
    /// Sequence number of the last event folded in (0 when empty).
    pub last_seq: u64,
    /// Data time of the last event folded in.
    pub as_of: Timestamp,
}

impl ProblemSet {
    /// Folds one event. Events must come in `seq` order; a repeated or older seq is ignored, so
    /// a viewer may re-read an overlapping range of the journal safely.
    pub fn apply(&mut self, e: &ProblemEvent) {
        if e.seq <= self.last_seq && self.last_seq != 0 {
            return;
        }
        self.last_seq = e.seq;
        self.as_of = e.at;
        match &e.kind {
            EventKind::Opened { title, severity } => {
                let mut p = Problem::opened(e, title, *severity);
                p.apply(e);
                self.problems.insert(e.problem, p);
            }
            _ => {
                if let Some(p) = self.problems.get_mut(&e.problem) {
                    p.apply(e);
                }
            }
        }
    }

    /// Folds a whole stream.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a ProblemEvent>) -> ProblemSet {
        let mut set = ProblemSet::default();
        for e in events {
            set.apply(e);
        }
        set
    }

    /// The problems as they stood after the event with sequence number `seq`.
    pub fn as_of_seq<'a>(events: impl IntoIterator<Item = &'a ProblemEvent>, seq: u64) -> ProblemSet {
        Self::fold(events.into_iter().take_while(|e| e.seq <= seq))
    }

    /// Problems that are not merged away, newest first (the order of the problem list).
    pub fn visible(&self) -> Vec<&Problem> {
        let mut v: Vec<&Problem> =
            self.problems.values().filter(|p| !matches!(p.status, ProblemStatus::Merged(_))).collect();
        v.sort_by(|a, b| {
            (b.is_open(), b.severity, b.opened_at, b.id).cmp(&(a.is_open(), a.severity, a.opened_at, a.id))
        });
        v
    }
}
