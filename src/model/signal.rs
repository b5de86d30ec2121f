//! Signals: deduplicated alerts, anomalies and log bursts.

use super::entity::EntityId;
use super::observation::Severity;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The dedup key: repeats of the same key increment one signal's counter.
/// `alert:<fingerprint>`, `anomaly:<entity>:<metric>`, `log:<entity>:<template id>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalKey(pub String);

impl fmt::Display for SignalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Alert,
    Anomaly,
    LogBurst,
}

impl SignalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Alert => "alert",
            SignalKind::Anomaly => "anomaly",
            SignalKind::LogBurst => "log burst",
        }
    }
}

/// The expected range a value broke, for explaining an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The expected value (robust centre of recent history).
    pub expected: f64,
    /// Lower and upper edge of the normal band.
    pub lower: f64,
    pub upper: f64,
}

/// Why the smart filter ranked a signal down. A marked signal is kept and shown, never dropped,
/// but it never opens, joins or merges an incident problem: it goes to the background problem
/// (see `engine::correlate`), and root-cause ranking leaves it out where other signals exist.
/// A flapping mark is lifted when the signal fires without a break for a whole flap window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum Mark {
    /// It keeps firing and clearing: `activations` times within the engine's flap window
    /// (learned from its own history in the signal table).
    Flapping { activations: u32 },
    /// Its entity's criticality is `low`.
    LowCriticality,
}

impl Mark {
    /// A short marker for lists and tables.
    pub fn label(self) -> &'static str {
        match self {
            Mark::Flapping { .. } => "flapping",
            Mark::LowCriticality => "low-crit",
        }
    }
}

/// A deduplicated signal as the engine and views see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub key: SignalKey,
    pub kind: SignalKind,
    pub entity: EntityId,
    /// Alert name, metric name or log template.
    pub name: String,
    pub severity: Severity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// How many raw alerts / anomalous samples / log lines were folded into this signal.
    pub count: u64,
    /// Still firing / still anomalous.
    pub active: bool,
    /// Anomaly strength in [0, 1] (alerts: 1 for critical down to 0.25 for info).
    pub score: f64,
    /// The last value seen, where the signal is a metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The baseline the value broke, where the signal is an anomaly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// An alert's label set as last reported (empty for anomalies and log bursts): what a
    /// silence must match.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Set when the smart filter ranked the signal down, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
}
