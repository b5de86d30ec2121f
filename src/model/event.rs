//! Problem events: the only output of the engine. A problem is the fold of its events.

use super::entity::{EntityId, EntityKind, RelationKind};
use super::observation::{ChangeKind, Severity, TrafficRole};
use super::signal::{Baseline, Signal, SignalKey, SignalKind};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Problem ids count up from 1 in the order problems open; shown as `P-0001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProblemId(pub u64);

impl fmt::Display for ProblemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P-{:04}", self.0)
    }
}

impl std::str::FromStr for ProblemId {
    type Err = String;

    /// `P-0003`, `p-3` or `3`; ids start at 1.
    fn from_str(s: &str) -> Result<ProblemId, String> {
        let t = s.trim();
        let digits = t.strip_prefix("P-").or_else(|| t.strip_prefix("p-")).unwrap_or(t);
        match digits.parse::<u64>() {
            Ok(n) if n > 0 => Ok(ProblemId(n)),
            _ => Err(format!("`{s}` is not a problem id (e.g. P-0003)")),
        }
    }
}

/// One step of what happened to one problem. `seq` is global and strictly increasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemEvent {
    pub seq: u64,
    pub problem: ProblemId,
    /// Data time of the observation that caused the event.
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Opened {
        title: String,
        severity: Severity,
    },
    /// A signal joined the problem (with its dedup count at that moment).
    SignalAttached {
        signal: Signal,
    },
    /// A repeat of a signal already attached: only the counter and last-seen time move.
    SignalRepeated {
        key: SignalKey,
        count: u64,
        last_seen: Timestamp,
    },
    /// A signal's state changed (cleared, re-activated, severity or score moved).
    SignalUpdated {
        signal: Signal,
    },
    /// A signal left this problem for problem `to` (where it follows as `SignalAttached`): a
    /// flapping signal that stopped flapping and stays firing leaves the background problem.
    SignalDetached {
        key: SignalKey,
        to: ProblemId,
    },
    SeverityChanged {
        severity: Severity,
    },
    /// The ranking of root-cause candidates changed; best first, each with its evidence.
    RootCauseRanked {
        candidates: Vec<Candidate>,
    },
    /// A change shortly before onset on the root cause or its stack.
    FoundationalCauseLinked {
        change: ChangeRecord,
    },
    ImpactUpdated {
        impact: Impact,
    },
    /// This problem turned out to be part of another one; its signals moved there.
    MergedInto {
        into: ProblemId,
    },
    /// Another problem was merged into this one (its signals follow as `SignalAttached`).
    Absorbed {
        from: ProblemId,
    },
    Acknowledged {
        by: String,
    },
    /// An operator silenced the problem's alerts (or the attempt failed: `error` says why).
    Silenced {
        by: String,
        via: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        silences: Vec<SilenceRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A runbook run started: who, the exact plan.
    RunbookStarted {
        runbook: String,
        by: String,
        plan: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auto: bool,
    },
    /// A runbook run ended, with its audit.
    RunbookFinished {
        record: Box<super::run::RunRecord>,
    },
    Resolved,
    Reopened,
}

impl EventKind {
    /// A one-line description for timelines.
    pub fn describe(&self) -> String {
        match self {
            EventKind::Opened { title, severity } => format!("opened ({severity}): {title}"),
            EventKind::SignalAttached { signal } => {
                format!("{} {} on {} attached (x{})", signal.kind.as_str(), signal.name, signal.entity, signal.count)
            }
            EventKind::SignalRepeated { key, count, .. } => format!("{key} repeated (x{count})"),
            EventKind::SignalUpdated { signal } => format!(
                "{} {} on {} {}",
                signal.kind.as_str(),
                signal.name,
                signal.entity,
                if signal.active { "active" } else { "cleared" }
            ),
            EventKind::SignalDetached { key, to } => format!("{key} moved to {to}"),
            EventKind::SeverityChanged { severity } => format!("severity now {severity}"),
            EventKind::RootCauseRanked { candidates } => match candidates.first() {
                Some(c) => format!("root cause ranked: {} (score {:.2})", c.summary, c.score),
                None => "root cause ranking cleared".to_string(),
            },
            EventKind::FoundationalCauseLinked { change } => {
                format!("foundational cause: {} on {}: {}", change.change.as_str(), change.entity, change.description)
            }
            EventKind::ImpactUpdated { impact } => {
                let mut text = format!(
                    "impact: {} affected entities, {} of {} signals active",
                    impact.affected.len(),
                    impact.active_signals,
                    impact.signals
                );
                for t in &impact.traffic {
                    text.push_str(&format!(", {}", t.describe()));
                }
                if !impact.kpis.is_empty() {
                    let worse = impact.kpis.iter().filter(|k| k.worse).count();
                    text.push_str(&format!(", {} KPIs ({worse} worse)", impact.kpis.len()));
                }
                text
            }
            EventKind::MergedInto { into } => format!("merged into {into}"),
            EventKind::Absorbed { from } => format!("absorbed {from}"),
            EventKind::Acknowledged { by } => format!("acknowledged by {by}"),
            EventKind::Silenced { by, via, silences, error: None } => {
                let until = silences.iter().map(|s| s.ends_at).max().unwrap_or_default();
                let ids: Vec<&str> = silences.iter().map(|s| s.id.as_str()).collect();
                format!("silenced by {by} via {via} until {until}: {} silence(s) {}", silences.len(), ids.join(", "))
            }
            EventKind::Silenced { by, via, error: Some(error), .. } => {
                format!("silence by {by} via {via} FAILED: {error}")
            }
            EventKind::RunbookStarted { runbook, by, plan, auto } => format!(
                "runbook {runbook} started by {by}{}: {} step(s)",
                if *auto { " (auto-remediation)" } else { "" },
                plan.iter().filter(|l| l.starts_with(char::is_numeric)).count().max(1)
            ),
            EventKind::RunbookFinished { record } => record.summary(),
            EventKind::Resolved => "resolved".to_string(),
            EventKind::Reopened => "reopened".to_string(),
        }
    }
}

/// One hop of an evidence chain: `from` depends on `to` through `relation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub from: EntityId,
    pub relation: RelationKind,
    pub to: EntityId,
}

/// A root-cause candidate with the evidence that put it where it is in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub entity: EntityId,
    pub entity_kind: EntityKind,
    /// Combined rank score in [0, 1].
    pub score: f64,
    /// One line: what is wrong where, e.g. "cpu_utilisation anomaly on host:db-1 (0.97, expected 0.31)".
    pub summary: String,
    /// The candidate's own signals, strongest first.
    pub signals: Vec<SignalKey>,
    /// Strongest anomaly score among its signals, in [0, 1].
    pub strength: f64,
    /// When the candidate's first signal started.
    pub first_breach: Timestamp,
    /// How many entities in trouble (itself included) depend on it through entities in trouble
    /// and have all their trouble accounted for by it (see `engine::rca`).
    pub explains: usize,
    /// Of how many entities in trouble in the problem.
    pub affected: usize,
    /// Paths from affected entities down to the candidate (shortest first, at most a few dozen).
    pub evidence: Vec<Vec<Hop>>,
    /// The candidate's own signals as evidence (same order as `signals`): what each saw and the
    /// baseline it broke. Empty in rankings recorded before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broke: Vec<SignalEvidence>,
}

/// One signal of a root-cause candidate, as evidence: what was seen against what was expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalEvidence {
    pub key: SignalKey,
    pub kind: SignalKind,
    /// Metric, alert name or log template.
    pub name: String,
    /// When the signal first fired.
    pub first_seen: Timestamp,
    /// Anomaly strength in [0, 1].
    pub score: f64,
    /// The last value seen (metrics only), in the metric's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The baseline that value broke: expected value and band (anomalies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

impl SignalEvidence {
    pub fn of(s: &Signal) -> SignalEvidence {
        SignalEvidence {
            key: s.key.clone(),
            kind: s.kind,
            name: s.name.clone(),
            first_seen: s.first_seen,
            score: s.score,
            value: s.value,
            baseline: s.baseline,
        }
    }
}

/// One silence created in Alertmanager for a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRecord {
    /// Alertmanager's silence id.
    pub id: String,
    /// The matchers as Alertmanager shows them, e.g. `alertname="HostCpuSaturated"`.
    pub matchers: Vec<String>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

/// A change observation linked as a foundational cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub at: Timestamp,
    pub entity: EntityId,
    pub change: ChangeKind,
    pub description: String,
    /// Why it was linked, e.g. "on the root cause's stack, 5m 0s before onset".
    pub reason: String,
}

/// What the problem touches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Impact {
    /// Entities with an active or past signal in the problem, sorted.
    pub affected: Vec<EntityId>,
    /// Of those, how many are services or applications (what users see).
    pub services: usize,
    /// Active signals / all signals. (Raw event counts move with every repeat and live in the
    /// signals: see `Problem::raw_count`.)
    pub active_signals: usize,
    pub signals: usize,
    /// Business KPIs of the affected entities and of the entities that depend on them, against
    /// yesterday and last week; sorted by entity, then name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<KpiImpact>,
    /// Affected requests/s, errors/s and users (one entry per role that has readings), with
    /// the comparison to before onset; sorted by role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficImpact>,
}

/// The traffic of one role a problem touches: the sum over the entities that measure it where
/// it enters the affected part of the topology (see `engine::impact`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficImpact {
    pub role: TrafficRole,
    /// Sum of the latest readings (per second for requests and errors, a count for users).
    pub value: f64,
    /// Sum of the same entities' mean readings in the minutes before onset, over those that
    /// had readings then; `None` when none had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<f64>,
    /// `(now - before) / |before|` over the entities that have both (+2.5: three and a half
    /// times as many); `None` without a reading before onset or when it was 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_before: Option<f64>,
    /// The entities summed, sorted.
    pub entities: Vec<EntityId>,
}

impl TrafficImpact {
    /// `120 req/s (+250% vs before onset)`.
    pub fn describe(&self) -> String {
        let value = if self.value.abs() >= 100.0 || self.value.fract() == 0.0 {
            format!("{:.0}", self.value)
        } else {
            format!("{:.2}", self.value)
        };
        let against = match (self.vs_before, self.before) {
            (Some(d), _) => format!(" ({:+.0}% vs before onset)", d * 100.0),
            (None, Some(b)) => format!(" ({b:.2} before onset)"),
            (None, None) => String::new(),
        };
        format!("{value} {}{against}", self.role.unit())
    }
}

/// One business KPI as the impact shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiImpact {
    pub entity: EntityId,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yesterday: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_week: Option<f64>,
    /// `(value - yesterday) / |yesterday|` (-0.38: 38 % below yesterday); `None` without a
    /// value yesterday or when it was 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_yesterday: Option<f64>,
    /// The same against last week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_last_week: Option<f64>,
    pub higher_is_better: bool,
    /// Every comparison there is moved the bad way by at least the engine's `kpi_step`.
    pub worse: bool,
}
