//! Versioned engine snapshots: the whole state of an [`Engine`] between two observations, as
//! JSON, so that an engine stopped at any observation can be restored elsewhere and go on
//! producing exactly the events it would have produced without the stop.
//!
//! Incident bundles store a snapshot taken one correlation window before a problem's onset plus
//! the observations after it, and re-derive the problem's events from them; agent resume will be
//! snapshot + tail.
//!
//! ```text
//! let snapshot = engine.snapshot();              // between two observe() calls
//! let text = snapshot.to_json()?;                // deterministic bytes
//! let engine = Engine::restore(EngineSnapshot::from_json(&text)?)?;
//! ```
//!
//! What is kept: everything that decides a future event (topology and its history, detector
//! series, signals, problems, changes, KPI and traffic readings, the event sequence, data time);
//! only what the engine still keeps, so a snapshot does not grow with history either. The
//! indexes of open and closed problems are derived and rebuilt on reading.
//! What is not: caches derived from those (topology closures, per-problem closure sets), which
//! are recomputed on first use; graph node indices, which carry no meaning (see
//! `TopologyState` in [`super::topology`]).
//!
//! Read a snapshot from its text (`from_json`, or serde_json's `from_str` / `from_slice` /
//! `from_reader`), not through a `serde_json::Value`: the detector's `f32`s are exact only on
//! serde_json's direct single-precision path.
//!
//! The bytes are deterministic: maps are written in key order, so the same state gives the same
//! JSON, and a snapshot taken right after a restore gives back the JSON restored from. Floats
//! round trip bit for bit, non-finite ones included (see [`codec`]).
//!
//! A snapshot carries its format version ([`SNAPSHOT_VERSION`]), the faultline version that
//! wrote it and the engine configuration. Another format version is refused with both versions
//! named. The same format written by another faultline version is restored; whether its events
//! still match is for the caller to check (an engine change between versions may change them).

pub mod codec;
pub mod model;

use super::correlate::Problems;
use super::dedup::SignalTable;
use super::detect::{Detector, DetectorState, DetectorStateView};
use super::impact::{KpiTable, TrafficTable};
use super::rca::ChangeLog;
use super::series::SeriesIds;
use super::topology::{Topology, TopologyHistory};
use super::{Engine, EngineConfig};
use crate::model::{EntityId, ProblemId, Timestamp, TrafficRole};
use codec::{pairs, ExactF64};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The snapshot format this build writes and reads. Bump it whenever the state written changes
/// shape or meaning.
///
/// 2: detector series carry their saturation watch (`[[engine.detect.saturation]]`) and a
/// trend its limit's direction (fixed when the trend starts; format 1 re-read it from the
/// window); the detector lists which series watch which ceiling. A format-1 snapshot is refused
/// with both versions named: its trends cannot say which way they approach their limit.
///
/// 3: memory is bounded (the engine forgets and retires; see its `retire` module): the
/// configuration has `forget_resolved_after_ms` and `retire_after_ms`, problems closed long ago
/// are no longer in `problems`, retired signals, series and bare entities are gone, and a merged
/// problem's `last_activity` is the time of its merge. A format-2 snapshot is still read (see
/// [`READS_ALSO`]).
pub const SNAPSHOT_VERSION: u32 = 3;

/// Older formats this build still restores. Format 2 is format 3 without what 3 added: its
/// configuration lacks the memory bounds (they take their defaults), its problems are all the
/// engine ever opened (the first sweep forgets the old ones) and a merged problem's
/// `last_activity` may be older than its merge (it is forgotten that much sooner). So an agent
/// upgraded over a journal resumes from its snapshot rather than refusing a journal whose early
/// observations retention has pruned.
pub const READS_ALSO: &[u32] = &[2];

/// The faultline version of this build, as written in snapshots.
pub const FAULTLINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The whole state of an engine between two observations (see the module doc). Made by
/// [`Engine::snapshot`], turned back into an engine by [`Engine::restore`]; written and read as
/// JSON with [`EngineSnapshot::to_json`] and [`EngineSnapshot::from_json`] (or any serde
/// format that can hold the same JSON values).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSnapshot {
    /// Format version: [`SNAPSHOT_VERSION`] of the build that wrote it.
    pub format: u32,
    /// The faultline version that wrote it (`CARGO_PKG_VERSION`).
    pub faultline: String,
    /// The configuration the engine ran with (and the restored one runs with).
    pub config: EngineConfig,
    state: EngineState,
}

/// Why a snapshot cannot be read or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "engine snapshot format {found} (written by faultline {written_by}) cannot be restored by faultline \
         {FAULTLINE_VERSION}, which reads snapshot format {expected}"
    )]
    Version { found: u32, expected: u32, written_by: String },
    #[error("engine snapshot is not valid JSON of format {SNAPSHOT_VERSION} at `{path}` (line {line}, column {column}): {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
    #[error("engine snapshot cannot be written: {0}")]
    Write(String),
    #[error("engine snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

/// One problem's traffic baselines as written: `[[entity, role], value]`, in key order.
type WrittenBaselines = Vec<((EntityId, TrafficRole), ExactF64)>;

/// [`WrittenBaselines`] borrowed from the engine.
type BorrowedBaselines<'a> = Vec<(&'a (EntityId, TrafficRole), ExactF64)>;

/// The engine's fields as a snapshot writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineState {
    /// Last event seq handed out.
    seq: u64,
    /// Latest data time seen (`i64::MIN` ms before the first observation).
    now: Timestamp,
    topology: Topology,
    history: TopologyHistory,
    detector: DetectorState,
    /// Detector series ids: `(entity, metric, id)`, sorted.
    series: Vec<(EntityId, String, u64)>,
    next_series: u64,
    signals: SignalTable,
    problems: Problems,
    changes: ChangeLog,
    #[serde(with = "pairs")]
    kpis: KpiTable,
    traffic: TrafficTable,
    /// Each problem's traffic readings before onset, by problem, then entity and role.
    traffic_before: Vec<(ProblemId, WrittenBaselines)>,
    background: Option<ProblemId>,
    touched: BTreeSet<ProblemId>,
    touched_kpis: bool,
    impact_due: BTreeSet<ProblemId>,
}

/// [`EngineSnapshot`] borrowed from a live engine ([`Engine::snapshot_view`]): serializes to
/// exactly the JSON of [`Engine::snapshot`] without copying the engine's state, so writing a
/// snapshot does not hold the state twice. Field for field the same as `EngineSnapshot` and
/// `EngineState`; `tests/engine_snapshot.rs` checks the bytes at every stop it makes.
#[derive(Serialize)]
pub struct EngineSnapshotView<'a> {
    format: u32,
    faultline: &'static str,
    config: &'a EngineConfig,
    state: EngineStateView<'a>,
}

#[derive(Serialize)]
struct EngineStateView<'a> {
    seq: u64,
    now: Timestamp,
    topology: &'a Topology,
    history: &'a TopologyHistory,
    detector: DetectorStateView<'a>,
    series: Vec<(&'a EntityId, &'a str, u64)>,
    next_series: u64,
    signals: &'a SignalTable,
    problems: &'a Problems,
    changes: &'a ChangeLog,
    #[serde(serialize_with = "pairs::serialize_ref")]
    kpis: &'a KpiTable,
    traffic: &'a TrafficTable,
    traffic_before: Vec<(ProblemId, BorrowedBaselines<'a>)>,
    background: Option<ProblemId>,
    touched: &'a BTreeSet<ProblemId>,
    touched_kpis: bool,
    impact_due: &'a BTreeSet<ProblemId>,
}

impl EngineSnapshotView<'_> {
    /// What [`EngineSnapshot::last_seq`] says of the snapshot this view writes.
    pub fn last_seq(&self) -> u64 {
        self.state.seq
    }
}

/// Only the version fields, read first so that another format is refused by its version rather
/// than by whatever part of it no longer parses.
#[derive(Deserialize)]
struct Header {
    format: u32,
    #[serde(default)]
    faultline: String,
}

impl EngineSnapshot {
    /// The seq of the last event the engine had emitted (0: none): the events a restored engine
    /// emits next are numbered from one more than this.
    pub fn last_seq(&self) -> u64 {
        self.state.seq
    }

    /// The latest data time the engine had seen (`None` before its first observation).
    pub fn data_time(&self) -> Option<Timestamp> {
        (self.state.now != Timestamp(i64::MIN)).then_some(self.state.now)
    }

    /// The snapshot as compact JSON; the same state always gives the same bytes.
    pub fn to_json(&self) -> Result<String, SnapshotError> {
        serde_json::to_string(self).map_err(|e| SnapshotError::Write(e.to_string()))
    }

    /// Reads a snapshot written by [`EngineSnapshot::to_json`]. Another format version is a
    /// [`SnapshotError::Version`]; bad JSON says where (key path, line, column).
    pub fn from_json(text: &str) -> Result<EngineSnapshot, SnapshotError> {
        // One plain parse when all is well; on failure, the version first (another format fails
        // for its version, not for whatever part of it no longer parses), then the key path.
        if let Ok(snapshot) = serde_json::from_str::<EngineSnapshot>(text) {
            check_version(snapshot.format, &snapshot.faultline)?;
            return Ok(snapshot);
        }
        let header: Header = parse(text)?;
        check_version(header.format, &header.faultline)?;
        parse(text)
    }
}

fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, SnapshotError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| SnapshotError::Parse {
        path: e.path().to_string(),
        line: e.inner().line(),
        column: e.inner().column(),
        message: e.inner().to_string(),
    })?;
    // Nothing but white space may follow.
    de.end().map_err(|e| SnapshotError::Parse {
        path: ".".to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    Ok(value)
}

fn check_version(found: u32, written_by: &str) -> Result<(), SnapshotError> {
    if found == SNAPSHOT_VERSION || READS_ALSO.contains(&found) {
        return Ok(());
    }
    let written_by = if written_by.is_empty() { "unknown".to_string() } else { written_by.to_string() };
    Err(SnapshotError::Version { found, expected: SNAPSHOT_VERSION, written_by })
}

impl Engine {
    /// The engine's whole state, borrowed, to write (see [`EngineSnapshotView`]): what
    /// [`Engine::snapshot`] copies, without the copy. Only the series list and the problems'
    /// traffic readings are collected (references, sorted).
    pub fn snapshot_view(&self) -> EngineSnapshotView<'_> {
        let mut series: Vec<(&EntityId, &str, u64)> = self.series.iter().collect();
        series.sort_unstable();
        let mut traffic_before: Vec<(ProblemId, BorrowedBaselines<'_>)> =
            self.traffic_before.iter().map(|(p, b)| (*p, b.iter().map(|(k, v)| (k, ExactF64(*v))).collect())).collect();
        traffic_before.sort_by_key(|(p, _)| *p);
        EngineSnapshotView {
            format: SNAPSHOT_VERSION,
            faultline: FAULTLINE_VERSION,
            config: &self.config,
            state: EngineStateView {
                seq: self.seq,
                now: self.now,
                topology: &self.topology,
                history: &self.history,
                detector: self.detector.state_view(),
                series,
                next_series: self.next_series,
                signals: &self.signals,
                problems: &self.problems,
                changes: &self.changes,
                kpis: &self.kpis,
                traffic: &self.traffic,
                traffic_before,
                background: self.background,
                touched: &self.touched,
                touched_kpis: self.touched_kpis,
                impact_due: &self.impact_due,
            },
        }
    }

    /// The engine's whole state, to restore with [`Engine::restore`]. Take it between two
    /// [`Engine::observe`] calls (it copies the state: memory for a moment doubles).
    pub fn snapshot(&self) -> EngineSnapshot {
        // The owned copy of what the view borrows: one place decides what is written and in
        // which order.
        let v = self.snapshot_view().state;
        EngineSnapshot {
            format: SNAPSHOT_VERSION,
            faultline: FAULTLINE_VERSION.to_string(),
            config: self.config.clone(),
            state: EngineState {
                seq: v.seq,
                now: v.now,
                topology: v.topology.clone(),
                history: v.history.clone(),
                detector: self.detector.state(),
                series: v.series.into_iter().map(|(e, m, id)| (e.clone(), m.to_string(), id)).collect(),
                next_series: v.next_series,
                signals: v.signals.clone(),
                problems: v.problems.clone(),
                changes: v.changes.clone(),
                kpis: v.kpis.clone(),
                traffic: v.traffic.clone(),
                traffic_before: v
                    .traffic_before
                    .into_iter()
                    .map(|(p, b)| (p, b.into_iter().map(|(k, x)| (k.clone(), x)).collect()))
                    .collect(),
                background: v.background,
                touched: v.touched.clone(),
                touched_kpis: v.touched_kpis,
                impact_due: v.impact_due.clone(),
            },
        }
    }

    /// The seq of the last event the engine emitted (0: none).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// The latest data time the engine has seen (`None` before its first observation): what
    /// the agent times its snapshots and retention by.
    pub fn data_time(&self) -> Option<Timestamp> {
        (self.now != Timestamp(i64::MIN)).then_some(self.now)
    }

    /// The engine a snapshot was taken of, with the snapshot's configuration: fed the
    /// observations that followed the snapshot, it produces the events the original produced.
    /// Another format version is a [`SnapshotError::Version`] naming both versions.
    pub fn restore(snapshot: EngineSnapshot) -> Result<Engine, SnapshotError> {
        check_version(snapshot.format, &snapshot.faultline)?;
        let EngineSnapshot { config, state, .. } = snapshot;
        let detector =
            Detector::from_state(config.detect.clone(), state.detector).map_err(SnapshotError::Inconsistent)?;
        let mut series = SeriesIds::default();
        let mut ids = BTreeSet::new();
        for (entity, metric, id) in state.series {
            if id >= state.next_series || !ids.insert(id) {
                return Err(SnapshotError::Inconsistent(format!(
                    "series `{entity}` `{metric}` has id {id}, which is taken or not below next_series {}",
                    state.next_series
                )));
            }
            if !series.insert(&entity, &metric, id) {
                return Err(SnapshotError::Inconsistent(format!("series `{entity}` `{metric}` is listed twice")));
            }
        }
        let mut traffic_before = HashMap::new();
        for (p, baselines) in state.traffic_before {
            let b: BTreeMap<(EntityId, TrafficRole), f64> = baselines.into_iter().map(|(k, v)| (k, v.0)).collect();
            if traffic_before.insert(p, b).is_some() {
                return Err(SnapshotError::Inconsistent(format!("traffic baselines of {p} are listed twice")));
            }
        }
        // Held lone anomalies are the active signals in no problem.
        let held = state.signals.unplaced();
        Ok(Engine {
            config,
            topology: state.topology,
            history: state.history,
            detector,
            series,
            next_series: state.next_series,
            signals: state.signals,
            problems: state.problems,
            changes: state.changes,
            kpis: state.kpis,
            traffic: state.traffic,
            traffic_before,
            seq: state.seq,
            now: state.now,
            background: state.background,
            touched: state.touched,
            touched_kpis: state.touched_kpis,
            impact_due: state.impact_due,
            held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertState, Observation, ObservationKind, Severity};

    #[test]
    fn a_format_2_snapshot_is_restored_with_the_default_memory_bounds() {
        let mut engine = Engine::new(EngineConfig::default());
        let mut events = Vec::new();
        for (at, state) in [(0, AlertState::Firing), (60_000, AlertState::Resolved)] {
            let kind = ObservationKind::Alert {
                entity: EntityId::new("host:a"),
                name: "Slow".into(),
                fingerprint: "a".into(),
                state,
                severity: Severity::Warning,
                labels: Default::default(),
                summary: String::new(),
            };
            engine.observe(&Observation { at: Timestamp(at), source: "t".into(), kind }, &mut events);
        }
        let text = engine.snapshot().to_json().unwrap();
        let bounds = format!(
            ",\"forget_resolved_after_ms\":{},\"retire_after_ms\":{}",
            EngineConfig::default().forget_resolved_after_ms,
            EngineConfig::default().retire_after_ms
        );
        let ours = format!("{{\"format\":{SNAPSHOT_VERSION},");
        let old = text.replacen(&ours, "{\"format\":2,", 1).replacen(&bounds, "", 1);
        assert!(old.starts_with("{\"format\":2,") && !old.contains("retire_after_ms"), "{old}");
        let restored = Engine::restore(EngineSnapshot::from_json(&old).unwrap()).unwrap();
        assert_eq!(restored.config(), &EngineConfig::default());
        assert!(restored.snapshot().to_json().unwrap() == text, "written again as format 3, the same state");
    }
}
