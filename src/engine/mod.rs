//! The engine: observations in, problem events out. No clock, no I/O, no randomness.

pub mod dedup;
pub mod detect;
pub mod topology;

use detect::DetectConfig;

/// Tunables of the engine pipe. All durations are milliseconds of data time.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub detect: DetectConfig,
    /// A signal joins an open problem only if the problem saw activity this recently.
    pub correlation_window_ms: i64,
    /// Two entities are close in the topology when their dependency closures of this many hops meet.
    pub topology_hops: u32,
    /// A problem resolves once all its signals have been clear this long.
    pub resolve_after_ms: i64,
    /// A resolved problem whose signals fire again within this time reopens instead of a new one.
    pub reopen_window_ms: i64,
    /// How far down the dependencies the root-cause walk looks, in hops.
    pub rca_max_depth: u32,
    /// How long before onset a change may be the foundational cause.
    pub foundational_window_ms: i64,
    /// Log lines of one error-level template in one report that make a burst.
    pub log_burst_min: u64,
    /// A log burst clears after this long without lines.
    pub log_quiet_ms: i64,
    /// Evidence paths kept per root-cause candidate.
    pub max_evidence_paths: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        const MIN: i64 = 60_000;
        EngineConfig {
            detect: DetectConfig::default(),
            correlation_window_ms: 15 * MIN,
            topology_hops: 3,
            resolve_after_ms: 5 * MIN,
            reopen_window_ms: 30 * MIN,
            rca_max_depth: 6,
            foundational_window_ms: 30 * MIN,
            log_burst_min: 5,
            log_quiet_ms: 5 * MIN,
            max_evidence_paths: 20,
        }
    }
}

/// The deterministic pipe: detect → dedup → correlate → rca → impact.
pub struct Engine {}

impl Engine {
    pub fn new(_config: EngineConfig) -> Engine {
        Engine {}
    }
    /// Feeds one observation; appends the resulting events to `out`.
    pub fn observe(&mut self, _obs: &crate::model::Observation, _out: &mut Vec<crate::model::ProblemEvent>) {}
}
