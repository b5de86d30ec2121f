//! The model types the engine keeps in its state (signals, rankings, impacts), written in a
//! snapshot with exact floats: their own serde derives are the journal's event format, where a
//! non-finite float becomes `null`. Mirrors by serde's remote derive: a field added to a model
//! type fails to compile here until the snapshot writes it too.

use super::codec::{exact_f64, exact_f64_opt};
use crate::model::{
    Baseline, Candidate, EntityId, EntityKind, Hop, Impact, KpiImpact, Mark, Severity, Signal, SignalEvidence,
    SignalKey, SignalKind, Timestamp, TrafficImpact, TrafficRole,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Serialize, Deserialize)]
#[serde(remote = "Baseline", deny_unknown_fields)]
pub struct BaselineDef {
    #[serde(with = "exact_f64")]
    pub expected: f64,
    #[serde(with = "exact_f64")]
    pub lower: f64,
    #[serde(with = "exact_f64")]
    pub upper: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Signal", deny_unknown_fields)]
pub struct SignalDef {
    pub key: SignalKey,
    pub kind: SignalKind,
    pub entity: EntityId,
    pub name: String,
    pub severity: Severity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub count: u64,
    pub active: bool,
    #[serde(with = "exact_f64")]
    pub score: f64,
    #[serde(with = "exact_f64_opt")]
    pub value: Option<f64>,
    #[serde(with = "opt_baseline")]
    pub baseline: Option<Baseline>,
    pub labels: BTreeMap<String, String>,
    pub mark: Option<Mark>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "SignalEvidence", deny_unknown_fields)]
pub struct SignalEvidenceDef {
    pub key: SignalKey,
    pub kind: SignalKind,
    pub name: String,
    pub first_seen: Timestamp,
    #[serde(with = "exact_f64")]
    pub score: f64,
    #[serde(with = "exact_f64_opt")]
    pub value: Option<f64>,
    #[serde(with = "opt_baseline")]
    pub baseline: Option<Baseline>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Candidate", deny_unknown_fields)]
pub struct CandidateDef {
    pub entity: EntityId,
    pub entity_kind: EntityKind,
    #[serde(with = "exact_f64")]
    pub score: f64,
    pub summary: String,
    pub signals: Vec<SignalKey>,
    #[serde(with = "exact_f64")]
    pub strength: f64,
    pub first_breach: Timestamp,
    pub explains: usize,
    pub affected: usize,
    pub evidence: Vec<Vec<Hop>>,
    #[serde(with = "vec_signal_evidence")]
    pub broke: Vec<SignalEvidence>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "KpiImpact", deny_unknown_fields)]
pub struct KpiImpactDef {
    pub entity: EntityId,
    pub name: String,
    pub unit: String,
    #[serde(with = "exact_f64")]
    pub value: f64,
    #[serde(with = "exact_f64_opt")]
    pub yesterday: Option<f64>,
    #[serde(with = "exact_f64_opt")]
    pub last_week: Option<f64>,
    #[serde(with = "exact_f64_opt")]
    pub vs_yesterday: Option<f64>,
    #[serde(with = "exact_f64_opt")]
    pub vs_last_week: Option<f64>,
    pub higher_is_better: bool,
    pub worse: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "TrafficImpact", deny_unknown_fields)]
pub struct TrafficImpactDef {
    pub role: TrafficRole,
    #[serde(with = "exact_f64")]
    pub value: f64,
    #[serde(with = "exact_f64_opt")]
    pub before: Option<f64>,
    #[serde(with = "exact_f64_opt")]
    pub vs_before: Option<f64>,
    pub entities: Vec<EntityId>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Impact", deny_unknown_fields)]
pub struct ImpactDef {
    pub affected: Vec<EntityId>,
    pub services: usize,
    pub active_signals: usize,
    pub signals: usize,
    #[serde(with = "vec_kpi_impact")]
    pub kpis: Vec<KpiImpact>,
    #[serde(with = "vec_traffic_impact")]
    pub traffic: Vec<TrafficImpact>,
}

/// A `#[serde(with = ...)]` module for an `Option` of a mirrored type.
macro_rules! option_of {
    ($module:ident, $ty:ty, $def:literal) => {
        pub mod $module {
            use super::*;

            #[derive(Serialize)]
            struct Out<'a>(#[serde(with = $def)] &'a $ty);

            #[derive(Deserialize)]
            struct In(#[serde(with = $def)] $ty);

            pub fn serialize<S: Serializer>(v: &Option<$ty>, s: S) -> Result<S::Ok, S::Error> {
                v.as_ref().map(Out).serialize(s)
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<$ty>, D::Error> {
                Option::<In>::deserialize(d).map(|v| v.map(|x| x.0))
            }
        }
    };
}

/// A `#[serde(with = ...)]` module for a `Vec` of a mirrored type.
macro_rules! vec_of {
    ($module:ident, $ty:ty, $def:literal) => {
        pub mod $module {
            use super::*;

            #[derive(Serialize)]
            struct Out<'a>(#[serde(with = $def)] &'a $ty);

            #[derive(Deserialize)]
            struct In(#[serde(with = $def)] $ty);

            pub fn serialize<S: Serializer>(v: &[$ty], s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(v.iter().map(Out))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<$ty>, D::Error> {
                Vec::<In>::deserialize(d).map(|v| v.into_iter().map(|x| x.0).collect())
            }
        }
    };
}

option_of!(opt_baseline, Baseline, "BaselineDef");
vec_of!(vec_signal_evidence, SignalEvidence, "SignalEvidenceDef");
vec_of!(vec_candidate, Candidate, "CandidateDef");
vec_of!(vec_kpi_impact, KpiImpact, "KpiImpactDef");
vec_of!(vec_traffic_impact, TrafficImpact, "TrafficImpactDef");
