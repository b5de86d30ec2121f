//! One past problem in a few hundred bytes: what the similarity search and the handover report
//! need of it, folded from its events once. A year of problems is then a vector of these and an
//! index over them ([`super::similar::Index`]), never a re-read of their events.

use crate::model::{
    ChangeKind, EntityId, EntityKind, EventKind, Mark, Outcome, ProblemEvent, ProblemId, Severity, Signal, SignalKind,
    Timestamp,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The title prefix of the engine's background problem (flapping and low-criticality signals):
/// not an incident, so never offered as a similar one.
pub const BACKGROUND_TITLE: &str = "background:";

/// A past problem, as the history sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentSummary {
    pub id: ProblemId,
    /// Where it was read: empty for the journal searched, else the bundle's path (a bundle's
    /// ids come from another journal and may repeat this one's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub origin: String,
    pub title: String,
    /// The worst severity it reached.
    pub severity: Severity,
    pub opened_at: Timestamp,
    /// The last resolution (`None`: still open, or merged).
    pub resolved_at: Option<Timestamp>,
    /// Merged into another problem (its signals moved there): never offered as similar.
    pub merged_into: Option<ProblemId>,
    /// How many times it reopened.
    pub reopened: u32,
    /// The last ranking's top candidate.
    pub root: Option<RootCause>,
    /// Every signal it held, as `kind name on entity` (stable across occurrences, unlike an
    /// alert's fingerprint), sorted.
    pub signals: BTreeSet<String>,
    /// Log template ids of its log-burst signals, sorted.
    pub templates: BTreeSet<String>,
    pub foundational: Option<Foundational>,
    /// Affected services and applications (the last impact), sorted.
    pub services: BTreeSet<EntityId>,
    /// Affected entities of any kind (the last impact).
    pub affected: usize,
    pub runs: Vec<RunSummary>,
    pub silences: Vec<SilenceSummary>,
    pub acknowledged_by: Option<String>,
    /// Signals the smart filter marked as flapping, with their last activation count.
    pub flapping: BTreeMap<String, u32>,
}

/// What the engine named as the root cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    pub entity: EntityId,
    pub entity_kind: EntityKind,
    /// The one line shown, e.g. "cpu_utilisation anomaly on host:db-1 (0.97, expected 0.31)".
    pub summary: String,
    /// What broke there, as `kind name` without the entity (`anomaly cpu_utilisation`), sorted:
    /// the root cause's *kind* across entities.
    pub broke: BTreeSet<String>,
}

impl RootCause {
    fn of(c: &crate::model::Candidate) -> RootCause {
        RootCause {
            entity: c.entity.clone(),
            entity_kind: c.entity_kind,
            summary: c.summary.clone(),
            broke: c.broke.iter().map(|b| format!("{} {}", b.kind.as_str(), b.name)).collect(),
        }
    }
}

impl Foundational {
    fn of(c: &crate::model::ChangeRecord) -> Foundational {
        Foundational { change: c.change, entity: c.entity.clone(), description: c.description.clone() }
    }
}

/// The change linked as the foundational cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Foundational {
    pub change: ChangeKind,
    pub entity: EntityId,
    pub description: String,
}

/// One runbook run and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub runbook: String,
    pub operator: String,
    pub at: Timestamp,
    /// At the end of its escalation chain.
    pub outcome: Outcome,
    pub auto: bool,
}

/// One silence made (or tried) for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceSummary {
    pub by: String,
    pub at: Timestamp,
    pub until: Option<Timestamp>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

impl IncidentSummary {
    fn opened(e: &ProblemEvent, title: &str, severity: Severity) -> IncidentSummary {
        IncidentSummary { severity, ..IncidentSummary::new(e.problem, e.at, title) }
    }

    fn new(id: ProblemId, opened_at: Timestamp, title: &str) -> IncidentSummary {
        IncidentSummary {
            id,
            origin: String::new(),
            title: title.to_string(),
            severity: Severity::Info,
            opened_at,
            resolved_at: None,
            merged_into: None,
            reopened: 0,
            root: None,
            signals: BTreeSet::new(),
            templates: BTreeSet::new(),
            foundational: None,
            services: BTreeSet::new(),
            affected: 0,
            runs: Vec::new(),
            silences: Vec::new(),
            acknowledged_by: None,
            flapping: BTreeMap::new(),
        }
    }

    /// The summary of a problem as folded so far (the UI's problem at the replay cursor): what
    /// a search needs of it; its runs and silences are not in a `Problem` and stay empty.
    pub fn of_problem(p: &crate::model::Problem) -> IncidentSummary {
        let mut s = IncidentSummary {
            severity: p.severity,
            resolved_at: p.resolved_at,
            root: p.root_causes.first().map(RootCause::of),
            foundational: p.foundational_cause.as_ref().map(Foundational::of),
            affected: p.impact.affected.len(),
            services: p.impact.affected.iter().filter(|e| is_service(e)).cloned().collect(),
            ..IncidentSummary::new(p.id, p.opened_at, &p.title)
        };
        for signal in p.signals.values() {
            s.signal(signal);
        }
        s
    }

    /// True for the engine's background problem of marked signals.
    pub fn is_background(&self) -> bool {
        self.title.starts_with(BACKGROUND_TITLE)
    }

    /// What to call it: the root cause once ranked, else its opening title.
    pub fn headline(&self) -> &str {
        self.root.as_ref().map_or(&self.title, |r| &r.summary)
    }

    /// Milliseconds from opening to resolution (`None` while unresolved).
    pub fn duration_ms(&self) -> Option<i64> {
        self.resolved_at.map(|r| r.since(self.opened_at))
    }

    /// Folds one event of this problem in (events of other problems are ignored).
    pub fn apply(&mut self, e: &ProblemEvent) {
        if e.problem != self.id {
            return;
        }
        match &e.kind {
            EventKind::SignalAttached { signal } | EventKind::SignalUpdated { signal } => self.signal(signal),
            EventKind::SeverityChanged { severity } => self.severity = self.severity.max(*severity),
            EventKind::RootCauseRanked { candidates } => self.root = candidates.first().map(RootCause::of),
            EventKind::FoundationalCauseLinked { change } => self.foundational = Some(Foundational::of(change)),
            EventKind::ImpactUpdated { impact } => {
                self.affected = impact.affected.len();
                self.services = impact.affected.iter().filter(|e| is_service(e)).cloned().collect();
            }
            EventKind::MergedInto { into } => self.merged_into = Some(*into),
            EventKind::Acknowledged { by } => self.acknowledged_by = Some(by.clone()),
            EventKind::Silenced { by, silences, error, .. } => self.silences.push(SilenceSummary {
                by: by.clone(),
                at: e.at,
                until: silences.iter().map(|s| s.ends_at).max(),
                error: error.clone(),
            }),
            EventKind::RunbookFinished { record } => self.runs.push(RunSummary {
                runbook: record.runbook.clone(),
                operator: record.operator.clone(),
                at: record.started_at,
                outcome: record.final_outcome(),
                auto: record.auto,
            }),
            EventKind::Resolved => self.resolved_at = Some(e.at),
            EventKind::Reopened => {
                self.resolved_at = None;
                self.reopened += 1;
            }
            EventKind::Opened { .. }
            | EventKind::SignalRepeated { .. }
            | EventKind::SignalDetached { .. }
            | EventKind::Absorbed { .. }
            | EventKind::RunbookStarted { .. } => {}
        }
    }

    fn signal(&mut self, s: &Signal) {
        let name = signal_name(s);
        if let Some(Mark::Flapping { activations }) = s.mark {
            self.flapping.insert(name.clone(), activations);
        }
        if s.kind == SignalKind::LogBurst {
            // `log:<entity>:<template id>`: the id is what stays the same across occurrences.
            if let Some(id) = s.key.0.rsplit(':').next() {
                self.templates.insert(id.to_string());
            }
        }
        self.signals.insert(name);
    }
}

/// `anomaly cpu_utilisation on host:db-1`: a signal's identity across occurrences.
pub fn signal_name(s: &Signal) -> String {
    format!("{} {} on {}", s.kind.as_str(), s.name, s.entity)
}

/// Services and applications are what users see; entity ids carry their kind as a prefix
/// (`service:checkout`), as the mapping rules write them.
fn is_service(e: &EntityId) -> bool {
    let s = e.as_str();
    s.starts_with("service:") || s.starts_with("application:") || s.starts_with("app:")
}

/// Summaries of every problem the events open, by id, folded in one pass (events in seq order).
pub fn summarize<'a>(events: impl IntoIterator<Item = &'a ProblemEvent>) -> BTreeMap<ProblemId, IncidentSummary> {
    let mut out: BTreeMap<ProblemId, IncidentSummary> = BTreeMap::new();
    for e in events {
        fold_into(&mut out, e);
    }
    out
}

/// Folds one event into the summaries (an `Opened` starts one; other events update theirs).
pub fn fold_into(out: &mut BTreeMap<ProblemId, IncidentSummary>, e: &ProblemEvent) {
    match &e.kind {
        EventKind::Opened { title, severity } => {
            out.insert(e.problem, IncidentSummary::opened(e, title, *severity));
        }
        _ => {
            if let Some(s) = out.get_mut(&e.problem) {
                s.apply(e);
            }
        }
    }
}
