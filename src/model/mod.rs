//! The shared vocabulary of DESIGN section 2: entities, observations, signals, problem events and
//! the problem as the fold of its events. Everything here is plain data with serde.

pub mod entity;
pub mod event;
pub mod observation;
pub mod problem;
pub mod replay;
pub mod run;
pub mod signal;
pub mod time;

pub use entity::{Criticality, Entity, EntityId, EntityKind, Relation, RelationKind, STATIC};
pub use event::{
    Candidate, ChangeRecord, EventKind, Hop, Impact, KpiImpact, ProblemEvent, ProblemId, SignalEvidence, SilenceRecord,
    TrafficImpact,
};
pub use observation::{AlertState, ChangeKind, LogLine, Observation, ObservationKind, Severity, TrafficRole};
pub use problem::{Problem, ProblemSet, ProblemStatus, TimelineEntry};
pub use run::{Outcome, RunRecord, StepRecord, StepStatus};
pub use signal::{Baseline, Mark, Signal, SignalKey, SignalKind};
pub use time::Timestamp;
