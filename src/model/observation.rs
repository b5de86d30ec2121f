//! Observations: what a source saw, stamped with the time the data carries.

use super::entity::{Entity, EntityId, Relation};
use super::event::{ProblemId, SilenceRecord};
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How bad a signal or problem is. Ordered: `Info < Warning < Major < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

/// A change that may be the foundational cause of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Deployment,
    ConfigChange,
    Restart,
    Scale,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deployment => "deployment",
            ChangeKind::ConfigChange => "config change",
            ChangeKind::Restart => "restart",
            ChangeKind::Scale => "scale event",
        }
    }
}

/// What an impact reading measures: the traffic a problem touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficRole {
    /// Requests served, per second.
    Requests,
    /// Failed requests, per second.
    Errors,
    /// Users (active sessions, distinct users): a count.
    Users,
}

impl TrafficRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficRole::Requests => "requests",
            TrafficRole::Errors => "errors",
            TrafficRole::Users => "users",
        }
    }

    /// The unit a reading is in, as shown.
    pub fn unit(self) -> &'static str {
        match self {
            TrafficRole::Requests => "req/s",
            TrafficRole::Errors => "err/s",
            TrafficRole::Users => "users",
        }
    }
}

/// One thing a source saw. `at` is data time.
/// (No `deny_unknown_fields` here: serde cannot combine it with the flattened `kind`; each
/// variant of [`ObservationKind`] denies unknown fields itself.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub at: Timestamp,
    /// The source that produced it (`prometheus`, `alertmanager`, `fixture`...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(flatten)]
    pub kind: ObservationKind,
}

/// What was seen. Tagged by `"type"` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ObservationKind {
    /// Samples of one series of one entity: `(data time, value)` pairs in time order.
    Metric {
        entity: EntityId,
        /// Metric name, e.g. `cpu_utilisation`; the series key within the entity.
        metric: String,
        samples: Vec<(Timestamp, f64)>,
    },
    /// An alert's state from an alerting system. The fingerprint is the dedup key.
    Alert {
        entity: EntityId,
        name: String,
        fingerprint: String,
        state: AlertState,
        #[serde(default)]
        severity: Severity,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        labels: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        summary: String,
    },
    /// Count of one log template seen for an entity since the last report.
    LogPattern {
        entity: EntityId,
        template_id: String,
        template: String,
        #[serde(default)]
        level: Severity,
        count: u64,
        /// The template was first seen in this interval: a pattern never logged before.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        new_template: bool,
    },
    /// A bounded sample of one entity's raw log lines from one counting interval (stamped with
    /// its end), beside that interval's [`LogPattern`](ObservationKind::LogPattern) counts: the
    /// first line of each template, then error and warning lines. What an operator reads in the
    /// console; the engine takes it as a data-time advance only. The full stream stays in the
    /// log backend.
    LogLines {
        entity: EntityId,
        /// In data-time order.
        lines: Vec<LogLine>,
    },
    /// A deployment, config change, restart or scale event.
    Change { entity: EntityId, change: ChangeKind, description: String },
    /// An entity appeared (or its description changed).
    Entity { entity: Entity },
    /// A relation was learned.
    Relation { relation: Relation },
    /// A relation is no longer there (its `learned_from` says whose word is withdrawn: a
    /// topology file's, or discovery's).
    RelationGone { relation: Relation },
    /// An entity vanished. `learned_from` is [`STATIC`](super::entity::STATIC) when a topology
    /// file no longer declares it, which withdraws only the file's word (discovery may still see it).
    EntityGone {
        entity: EntityId,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        learned_from: String,
    },
    /// Nothing happened, but data time advanced (quiet periods).
    Tick,
    /// An operator silenced a problem's alerts in Alertmanager, or tried to and failed. Fed
    /// through the engine like any observation, so it is journaled and replays to the same
    /// timeline entry.
    Silence {
        problem: ProblemId,
        /// Who, as `user@host`.
        by: String,
        /// The Alertmanager source it went through.
        via: String,
        /// The silences created (none when it failed).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        silences: Vec<SilenceRecord>,
        /// Why it failed, with the server's answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A runbook run started on a problem (after its plan was shown and confirmed, or by the
    /// agent's auto-remediation). Fed through the engine so it is journaled and replays.
    RunbookStarted {
        problem: ProblemId,
        runbook: String,
        /// `user@host (from ADDR)`, or the agent for auto-remediation.
        by: String,
        /// The plan exactly as shown and run (secrets masked).
        plan: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auto: bool,
    },
    /// A runbook run ended: the full audit (steps, capped output, exit statuses, outcome).
    RunbookFinished { problem: ProblemId, record: Box<super::run::RunRecord> },
    /// Past samples of one series, for its baseline to learn from before the series is judged
    /// live (history fetched at start-up). Learned, never judged: no anomaly comes of it.
    History { entity: EntityId, metric: String, samples: Vec<(Timestamp, f64)> },
    /// A business KPI of an entity now, and the same expression evaluated a day and a week
    /// earlier (`None` where there was no data then), for the impact's comparison.
    Kpi {
        entity: EntityId,
        /// KPI name, e.g. `checkout_orders_per_min`; the key within the entity.
        name: String,
        value: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        yesterday: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_week: Option<f64>,
        /// True when a rise is good (orders), false when a rise is bad (error ratio).
        #[serde(default = "rising_is_good")]
        higher_is_better: bool,
        /// Unit shown beside the value, e.g. `orders/min`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        unit: String,
    },
    /// Readings of an entity's traffic (requests/s, errors/s or users) over time, for a
    /// problem's impact: the engine keeps the latest and what it was before onset.
    Traffic {
        entity: EntityId,
        role: TrafficRole,
        /// `(data time, value)` pairs in time order.
        samples: Vec<(Timestamp, f64)>,
    },
}

/// One raw log line kept as a sample (see [`ObservationKind::LogLines`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    /// When the line was logged (data time).
    pub at: Timestamp,
    /// The level the line declared ([`Severity::Info`] when none).
    #[serde(default)]
    pub level: Severity,
    /// The template the miner put it in (its id, as in [`ObservationKind::LogPattern`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template_id: String,
    /// The line as logged (cut to the miner's `max_line_bytes`).
    pub line: String,
}

/// Default of [`ObservationKind::Kpi`]'s `higher_is_better`: most business KPIs count good things.
fn rising_is_good() -> bool {
    true
}

impl ObservationKind {
    /// The entity this observation concerns, if any.
    pub fn entity(&self) -> Option<&EntityId> {
        match self {
            ObservationKind::Metric { entity, .. }
            | ObservationKind::Alert { entity, .. }
            | ObservationKind::LogPattern { entity, .. }
            | ObservationKind::LogLines { entity, .. }
            | ObservationKind::Change { entity, .. }
            | ObservationKind::EntityGone { entity, .. } => Some(entity),
            ObservationKind::Entity { entity } => Some(&entity.id),
            ObservationKind::Relation { relation } | ObservationKind::RelationGone { relation } => Some(&relation.from),
            ObservationKind::Tick
            | ObservationKind::Silence { .. }
            | ObservationKind::RunbookStarted { .. }
            | ObservationKind::RunbookFinished { .. } => None,
            ObservationKind::Kpi { entity, .. }
            | ObservationKind::History { entity, .. }
            | ObservationKind::Traffic { entity, .. } => Some(entity),
        }
    }
}
