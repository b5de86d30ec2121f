//! The engine: observations in, problem events out. No clock, no I/O, no randomness.

pub mod dedup;
pub mod detect;
pub mod topology;

/// Tunables of the engine pipe (all durations in milliseconds of data time).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EngineConfig {}

/// The deterministic pipe: detect → dedup → correlate → rca → impact.
pub struct Engine {}

impl Engine {
    pub fn new(_config: EngineConfig) -> Engine {
        Engine {}
    }
    /// Feeds one observation; appends the resulting events to `out`.
    pub fn observe(&mut self, _obs: &crate::model::Observation, _out: &mut Vec<crate::model::ProblemEvent>) {}
}
