//! The engine: observations in, problem events out. No clock, no I/O, no randomness.

pub mod correlate;
pub mod dedup;
pub mod detect;
pub mod impact;
pub mod logs;
pub mod rca;
mod retire;
mod series;
pub mod snapshot;
pub mod topology;

use crate::model::{
    AlertState, Criticality, EntityId, EventKind, Mark, Observation, ObservationKind, ProblemEvent, ProblemId,
    Severity, Signal, SignalKey, SignalKind, Timestamp,
};
use correlate::{Phase, Problems};
use dedup::{alert_score, Change, Occurrence, SignalTable};
use detect::{DetectConfig, Detection, Detector};
use rca::{ChangeLog, SeenChange};
use serde::{Deserialize, Serialize};
use series::SeriesIds;
pub use snapshot::{EngineSnapshot, EngineSnapshotView, SnapshotError, SNAPSHOT_VERSION};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use topology::{Topology, TopologyHistory};

/// A hash map for the engine's per-observation lookups by name (series ids, the topology's
/// index): foldhash instead of std's SipHash, randomly seeded per map as std's is. Nothing may
/// depend on its iteration order (snapshots sort).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Tunables of the engine pipe. All durations are milliseconds of data time.
///
/// Serialized (in engine snapshots and incident bundles) with the field names below; a field
/// left out takes its default, an unknown one is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// A KPI's value or deviation must move by at least this fraction (0.05: five percentage
    /// points) for a new impact event; it is also the least deviation that makes a KPI worse.
    #[serde(with = "snapshot::codec::exact_f64")]
    pub kpi_step: f64,
    /// A signal raised or re-fired this many times within `flap_window_ms` is chronic flapping
    /// and marked (smart filter).
    pub flap_activations: u32,
    pub flap_window_ms: i64,
    /// A problem resolved (or merged into another) this long ago is dropped from the engine's
    /// memory; the journal keeps its events, and views fold those. Taken as at least
    /// `reopen_window_ms`, so a forgotten problem is one that could not reopen anyway.
    pub forget_resolved_after_ms: i64,
    /// Series, signals and entities not seen this long are retired: their state is dropped, and
    /// one that comes back starts fresh, like a new one (see [`Engine::retire`]). Taken as at
    /// least the flap, reopen and correlation windows.
    pub retire_after_ms: i64,
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
            kpi_step: 0.05,
            flap_activations: 3,
            flap_window_ms: 60 * MIN,
            forget_resolved_after_ms: 24 * 60 * MIN,
            retire_after_ms: 7 * 24 * 60 * MIN,
        }
    }
}

/// The deterministic pipe: detect → dedup → correlate → rca → impact.
///
/// Feed observations in data-time order with [`Engine::observe`]; every call appends the events
/// it caused. The same observations in the same order always give the same events, byte for byte.
pub struct Engine {
    config: EngineConfig,
    topology: Topology,
    /// Every structural change of the topology with its data time (the facts only: entities
    /// that signals name before any fact describes them are not in it).
    history: TopologyHistory,
    detector: Detector,
    /// Detector series ids by entity and metric name.
    series: SeriesIds,
    next_series: u64,
    signals: SignalTable,
    problems: Problems,
    changes: ChangeLog,
    /// The latest reading of every KPI.
    kpis: impact::KpiTable,
    /// Recent traffic readings (requests, errors, users) of every entity that has them.
    traffic: impact::TrafficTable,
    /// Each problem's traffic readings before onset, taken once per entity and role.
    traffic_before: HashMap<ProblemId, impact::TrafficBaselines>,
    /// Last event seq handed out (0: none yet).
    seq: u64,
    /// Latest data time seen.
    now: Timestamp,
    /// The background problem of marked signals, while it can still take them.
    background: Option<ProblemId>,
    /// Problems whose signal set or signal states changed during the current observation.
    touched: BTreeSet<ProblemId>,
    /// A KPI reading arrived during the current observation: every open problem's impact is
    /// looked at again (only the impact: KPIs say nothing about causes).
    touched_kpis: bool,
    /// Open problems whose traffic may have moved during the current observation.
    impact_due: BTreeSet<ProblemId>,
    /// Lone anomalies held back (see [`Engine::fire_lone`]): active signals in no problem. Not
    /// in snapshots: restored from the signals, as no other active signal is in no problem.
    held: BTreeSet<SignalKey>,
}

/// How long a forecast must last before it may open a problem on its own (data time, ms); before,
/// it joins what it is near, and a signal on its entity or a neighbour corroborates it, as for a
/// lone anomaly ([`Engine::fire_lone`]). A forecast whose limit is this close or nearer is not
/// held.
pub const FORECAST_LASTS_MS: i64 = 10 * 60_000;

/// How often, in data time, the engine forgets old problems and retires what vanished: on the
/// first observation of each such period (so a restored engine sweeps when the original did).
pub const SWEEP_EVERY_MS: i64 = 10 * 60_000;

/// Whether data time moving from `before` to `now` enters a new sweep period (never on the first
/// observation).
fn sweep_due(before: Timestamp, now: Timestamp) -> bool {
    // Most observations share their predecessor's data time: no division for them.
    before != now
        && before != Timestamp(i64::MIN)
        && before.0.div_euclid(SWEEP_EVERY_MS) != now.0.div_euclid(SWEEP_EVERY_MS)
}

/// Counters for benchmarks and the status bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineStats {
    /// Entities in the live topology.
    pub entities: usize,
    /// Metric series with detector state (retired ones not counted).
    pub series: usize,
    /// Signals kept (retired ones not counted).
    pub signals: usize,
    /// Problems kept: the open ones and those closed within the forget age, not every problem
    /// ever opened (the events count those).
    pub problems: usize,
    pub last_seq: u64,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        Engine {
            detector: Detector::new(config.detect.clone()),
            config,
            topology: Topology::new(),
            history: TopologyHistory::default(),
            series: SeriesIds::default(),
            next_series: 0,
            signals: SignalTable::default(),
            problems: Problems::default(),
            changes: ChangeLog::default(),
            kpis: impact::KpiTable::new(),
            traffic: impact::TrafficTable::default(),
            traffic_before: HashMap::new(),
            seq: 0,
            now: Timestamp(i64::MIN),
            background: None,
            touched: BTreeSet::new(),
            touched_kpis: false,
            impact_due: BTreeSet::new(),
            held: BTreeSet::new(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The topology through time, for showing it as of any moment.
    pub fn topology_history(&self) -> &TopologyHistory {
        &self.history
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            entities: self.topology.len(),
            series: self.detector.series_count(),
            signals: self.signals.len(),
            problems: self.problems.len(),
            last_seq: self.seq,
        }
    }

    /// False when feeding `obs` now would change nothing at all: no event and no state, so a
    /// journal may leave it out and a replay without it gives the same events and the same
    /// snapshot. Conservative: only an observation that does not move the data time and is a
    /// `Tick`, a resolve of an alert that is not firing, or a log count that makes no burst
    /// (the healthy scrape target resolving its `TargetDown` every cycle is the common case).
    pub fn says_something(&self, obs: &Observation) -> bool {
        if obs.at > self.now || !self.touched.is_empty() || self.touched_kpis || !self.impact_due.is_empty() {
            return true;
        }
        match &obs.kind {
            ObservationKind::Tick => false,
            ObservationKind::Alert { fingerprint, state: AlertState::Resolved, .. } => {
                self.signals.get(&SignalKey(format!("alert:{fingerprint}"))).is_some_and(|e| e.signal.active)
            }
            ObservationKind::LogPattern { level, count, new_template, .. } => {
                *level >= Severity::Major && (*count >= self.config.log_burst_min || *new_template)
            }
            _ => true,
        }
    }

    /// Feeds one observation; appends the resulting events to `out`.
    pub fn observe(&mut self, obs: &Observation, out: &mut Vec<ProblemEvent>) {
        let before = self.now;
        self.now = self.now.max(obs.at);
        self.history.observe(obs);
        self.advance_time(out);
        if sweep_due(before, self.now) {
            self.forget();
            self.retire();
        }
        match &obs.kind {
            ObservationKind::Entity { .. }
            | ObservationKind::Relation { .. }
            | ObservationKind::RelationGone { .. }
            | ObservationKind::EntityGone { .. } => {
                self.topology.learn(&obs.kind);
            }
            ObservationKind::Change { entity, change, description } => {
                self.topology.ensure(entity);
                self.changes
                    .record(entity, SeenChange { at: obs.at, change: *change, description: description.clone() });
                // A change can arrive after the problem it caused opened (a restart counter is
                // read a cycle later; a process start time dates back): every open problem that
                // started within the window after it is looked at again.
                let window = self.config.foundational_window_ms;
                let due: Vec<ProblemId> = self
                    .problems
                    .open_problems()
                    .filter(|s| (0..=window).contains(&s.onset.since(obs.at)))
                    .map(|s| s.id)
                    .collect();
                self.touched.extend(due);
            }
            ObservationKind::Metric { entity, metric, samples } => {
                let id = self.series_id(entity, metric);
                // Formatted only when a sample is news: most samples are not.
                let anomaly_key = || SignalKey(format!("anomaly:{entity}:{metric}"));
                let forecast_key = || SignalKey(format!("forecast:{entity}:{metric}"));
                for (at, value) in samples {
                    let verdict = self.detector.sample(id, *at, *value);
                    match verdict.anomaly {
                        Detection::Anomalous { score, value, baseline, lone, run, .. } => {
                            let key = anomaly_key();
                            let severity = if score >= 0.9 { Severity::Major } else { Severity::Warning };
                            let occurrence = Occurrence {
                                key: key.clone(),
                                kind: SignalKind::Anomaly,
                                entity,
                                name: metric,
                                severity,
                                at: *at,
                                count: 1,
                                score,
                                value: Some(value),
                                baseline: Some(baseline),
                                labels: None,
                                // Raised after `run` samples out of band: its trouble began
                                // less than `run` steps before.
                                lag_ms: self.detector.step_ms(id).map(|step| (step * f64::from(run)).ceil() as i64),
                            };
                            // A held lone anomaly stays held until its series stays out of
                            // band as long as a band anomaly needs to be raised at all: an
                            // out-of-band sample after one back in band is a second blip.
                            let persists = run >= self.config.detect.min_consecutive;
                            if lone || (!persists && self.held.contains(&key)) {
                                self.fire_lone(occurrence, out);
                            } else {
                                self.fire(occurrence, out);
                            }
                        }
                        Detection::Cleared { .. } => self.clear(&anomaly_key(), *at, out),
                        _ => {}
                    }
                    match verdict.forecast {
                        Detection::Forecast { score, value, limit, eta_ms } => {
                            // Named by the limit and the time left when first raised ("reaches 0
                            // in 47m"); repeats keep the name and update the value.
                            let name = format!("{metric} reaches {limit} in {}", detect::eta_text(eta_ms));
                            let severity = if score >= 0.9 { Severity::Major } else { Severity::Warning };
                            let key = forecast_key();
                            let lasted = self.forecast_lasted(&key, *at);
                            let occurrence = Occurrence {
                                key,
                                kind: SignalKind::Anomaly,
                                entity,
                                name: &name,
                                severity,
                                at: *at,
                                count: 1,
                                score,
                                value: Some(value),
                                baseline: None,
                                labels: None,
                                lag_ms: None,
                            };
                            // Where a series is headed, not trouble yet: held like a lone
                            // anomaly until something corroborates it or it lasts. Unless the
                            // limit comes first: a disk full in 3 minutes (or already at its
                            // limit) cannot wait out a 10-minute hold.
                            if lasted || eta_ms <= FORECAST_LASTS_MS {
                                self.fire(occurrence, out);
                            } else {
                                self.fire_lone(occurrence, out);
                            }
                        }
                        Detection::Cleared { .. } => self.clear(&forecast_key(), *at, out),
                        _ => {}
                    }
                    match verdict.saturation {
                        // A utilisation pinned at its ceiling: news whatever the baseline says.
                        // Its own key, so that it is raised and cleared apart from the baseline's
                        // anomaly on the same series (which a past excursion or a level shift
                        // can silence); named by what it saw when raised ("at 100% for 1m
                        // (saturated at ≥ 95%, expected 1% ± 2%)"), repeats update the value.
                        // Score 1: a fact, not a probability.
                        Detection::Saturated { value, threshold, lasted_ms, baseline } => {
                            let name = detect::saturation_text(metric, value, threshold, lasted_ms, baseline);
                            let occurrence = Occurrence {
                                key: rca::saturation_key(entity, metric),
                                kind: SignalKind::Anomaly,
                                entity,
                                name: &name,
                                severity: Severity::Major,
                                at: *at,
                                count: 1,
                                score: 1.0,
                                value: Some(value),
                                baseline,
                                labels: None,
                                // At the ceiling for its `for` when raised, reached within a step
                                // before that.
                                lag_ms: self.detector.step_ms(id).map(|step| lasted_ms + step.ceil() as i64),
                            };
                            self.fire(occurrence, out);
                        }
                        Detection::Cleared { .. } => self.clear(&rca::saturation_key(entity, metric), *at, out),
                        _ => {}
                    }
                }
            }
            ObservationKind::Alert { entity, name, fingerprint, state, severity, labels, .. } => {
                let key = SignalKey(format!("alert:{fingerprint}"));
                match state {
                    AlertState::Firing => {
                        let occurrence = Occurrence {
                            key,
                            kind: SignalKind::Alert,
                            entity,
                            name,
                            severity: *severity,
                            at: obs.at,
                            count: 1,
                            score: alert_score(*severity),
                            value: None,
                            baseline: None,
                            labels: Some(labels),
                            lag_ms: None,
                        };
                        self.fire(occurrence, out);
                    }
                    AlertState::Resolved => self.clear(&key, obs.at, out),
                }
            }
            ObservationKind::LogPattern { entity, template_id, template, level, count, new_template } => {
                // A burst of errors, or an error pattern never logged before, even once.
                if *level >= Severity::Major && (*count >= self.config.log_burst_min || *new_template) {
                    let occurrence = Occurrence {
                        key: SignalKey(format!("log:{entity}:{template_id}")),
                        kind: SignalKind::LogBurst,
                        entity,
                        name: template,
                        severity: *level,
                        at: obs.at,
                        count: *count,
                        score: alert_score(*level),
                        value: None,
                        baseline: None,
                        labels: None,
                        lag_ms: None,
                    };
                    self.fire(occurrence, out);
                }
            }
            ObservationKind::Traffic { entity, role, samples } => {
                self.topology.ensure(entity);
                self.traffic.record(entity, *role, samples);
                // Only the problems it can count for: those whose entities it reaches along its
                // dependencies (one walk, not one per problem).
                let hops = self.config.topology_hops;
                let reach: BTreeSet<&EntityId> = match self.topology.node(entity) {
                    Some(n) => self
                        .topology
                        .walk(n, hops, petgraph::Direction::Outgoing, None)
                        .iter()
                        .map(|(m, _)| self.topology.id_of(*m))
                        .collect(),
                    None => BTreeSet::new(),
                };
                let due = self
                    .problems
                    .open_problems()
                    .filter(|s| s.entities.keys().any(|e| reach.contains(e)))
                    .map(|s| s.id);
                self.impact_due.extend(due);
            }
            // Samples of raw lines are for people; their counts came as `LogPattern`.
            ObservationKind::Tick | ObservationKind::LogLines { .. } => {}
            ObservationKind::History { entity, metric, samples } => {
                let id = self.series_id(entity, metric);
                self.detector.warm(id, samples);
            }
            ObservationKind::Silence { problem, by, via, silences, error } => {
                // A problem merged since the operator looked at it: the silence belongs to the
                // problem it lives on in.
                match self.surviving(*problem) {
                    Some(id) => {
                        let kind = EventKind::Silenced {
                            by: by.clone(),
                            via: via.clone(),
                            silences: silences.clone(),
                            error: error.clone(),
                        };
                        self.emit(out, id, obs.at, kind);
                    }
                    None => tracing::warn!(%problem, "silence for a problem the engine does not know; not recorded"),
                }
            }
            ObservationKind::RunbookStarted { problem, runbook, by, plan, auto } => match self.surviving(*problem) {
                Some(id) => {
                    let kind = EventKind::RunbookStarted {
                        runbook: runbook.clone(),
                        by: by.clone(),
                        plan: plan.clone(),
                        auto: *auto,
                    };
                    self.emit(out, id, obs.at, kind);
                }
                None => {
                    tracing::warn!(%problem, %runbook, "runbook run of a problem the engine does not know; not recorded")
                }
            },
            ObservationKind::RunbookFinished { problem, record } => match self.surviving(*problem) {
                Some(id) => self.emit(out, id, obs.at, EventKind::RunbookFinished { record: record.clone() }),
                None => {
                    tracing::warn!(%problem, runbook = %record.runbook, "runbook record of a problem the engine does not know; not recorded")
                }
            },
            ObservationKind::Kpi { entity, name, value, yesterday, last_week, higher_is_better, unit } => {
                self.topology.ensure(entity);
                let reading = impact::KpiReading {
                    value: *value,
                    yesterday: *yesterday,
                    last_week: *last_week,
                    higher_is_better: *higher_is_better,
                    unit: unit.clone(),
                };
                self.kpis.insert((entity.clone(), name.clone()), reading);
                self.touched_kpis = true;
            }
        }
        self.reassess(obs.at, out);
    }

    /// The problem `id` lives on in: itself, or the problem it was merged into (transitively).
    /// A problem forgotten since (see [`retire`]) lives on in itself, as far as the engine can
    /// tell; `None` only for an id never opened.
    fn surviving(&self, mut id: ProblemId) -> Option<ProblemId> {
        // Merges only go to older problems, so the chain is finite; the bound is a guard.
        for _ in 0..=self.problems.len() {
            match self.problems.get(id).map(|p| p.phase()) {
                Some(Phase::Merged { into }) => id = into,
                Some(_) => return Some(id),
                None => return self.problems.issued(id).then_some(id),
            }
        }
        None
    }

    /// When trouble counts as a cause: the one notion of "before" and "chronic" that the fault
    /// tree and correlation share (see [`rca::Timing`]).
    fn timing(&self) -> rca::Timing {
        rca::Timing { slack_ms: rca::CAUSE_SLACK_MS, window_ms: self.config.correlation_window_ms }
    }

    fn series_id(&mut self, entity: &EntityId, metric: &str) -> u64 {
        if let Some(id) = self.series.get(entity, metric) {
            return id;
        }
        let id = self.next_series;
        self.next_series += 1;
        self.detector.register(id, metric);
        self.series.insert(entity, metric, id);
        id
    }

    fn emit(&mut self, out: &mut Vec<ProblemEvent>, problem: ProblemId, at: Timestamp, kind: EventKind) {
        self.seq += 1;
        out.push(ProblemEvent { seq: self.seq, problem, at, kind });
    }

    /// Time moved on: quiet log bursts clear, and problems clear long enough resolve.
    fn advance_time(&mut self, out: &mut Vec<ProblemEvent>) {
        let cutoff = self.now.plus_ms(-self.config.log_quiet_ms);
        for key in self.signals.quiet_logs(cutoff) {
            let at = self.signals.get(&key).map(|e| e.signal.last_seen.plus_ms(self.config.log_quiet_ms));
            self.clear(&key, at.unwrap_or(self.now), out);
        }
        let due = self.problems.due(self.now);
        for (at, id) in due {
            if self.problems.get(id).is_some_and(|p| p.is_open() && p.all_clear_since.is_some()) {
                self.problems.set_phase(id, Phase::Resolved { at }, at);
                self.emit(out, id, at, EventKind::Resolved);
            }
        }
    }

    /// A signal fired: dedup counts it, then it is placed in its problem ([`Engine::place`]).
    fn fire(&mut self, o: Occurrence<'_>, out: &mut Vec<ProblemEvent>) {
        let key = o.key.clone();
        let at = o.at;
        let change = self.signals.fire(o);
        self.place(key, change, at, out);
    }

    /// A *lone* anomaly: raised at once on one sample, nothing else on its series agreeing yet
    /// ([`Detection::Anomalous`]). One sample cannot tell a fault from a blip (a GC pause, a slow
    /// scrape), and a blip must not page anyone, so it may go where the signal would go anyway
    /// but not open a problem on its own. It is placed like any signal when something
    /// corroborates it (see [`Engine::corroborated`]); else it is recorded as a signal but held:
    /// no event. A held signal is placed as soon as its series stays out of band for
    /// `min_consecutive` samples in a row (what a band anomaly needs to be raised at all), or a
    /// signal that is not held itself fires on its entity or a direct neighbour
    /// ([`Engine::release_near`]). Two blips are still blips: a held signal does not corroborate
    /// another. A blip that nothing corroborates clears quietly.
    fn fire_lone(&mut self, o: Occurrence<'_>, out: &mut Vec<ProblemEvent>) {
        let key = o.key.clone();
        let at = o.at;
        let change = self.signals.fire(o);
        // The smart filter first: a marked signal never opens an incident, it is placed in the
        // background like any.
        self.mark(&key, at, out);
        if self.corroborated(&key, at) {
            self.place(key, change, at, out);
        } else {
            self.held.insert(key);
        }
    }

    /// Whether forecast `key` has been raised without a break for [`FORECAST_LASTS_MS`] at `at`:
    /// a climb seen that long is news on its own (a few samples of noise can tilt the trend
    /// line of a fast-scraped series; they do not hold it for ten minutes).
    fn forecast_lasted(&self, key: &SignalKey, at: Timestamp) -> bool {
        self.signals
            .get(key)
            .filter(|e| e.signal.active)
            .and_then(|e| e.activations.back())
            .is_some_and(|since| at.since(*since) >= FORECAST_LASTS_MS)
    }

    /// Whether lone signal `key` has company: it is marked (it goes to the background problem),
    /// its problem is open, or the cookbook rule would have it join an open problem (it opens
    /// none).
    fn corroborated(&mut self, key: &SignalKey, at: Timestamp) -> bool {
        let Some(entry) = self.signals.get(key) else { return true };
        if entry.signal.mark.is_some()
            || entry.problem.is_some_and(|p| self.problems.get(p).is_some_and(|s| s.is_open()))
        {
            return true;
        }
        let s = &entry.signal;
        let (entity, kind, name, since) = (s.entity.clone(), s.kind, s.name.clone(), s.first_seen);
        let window = self.config.correlation_window_ms;
        let hops = self.config.topology_hops;
        let mut matches = self.problems.matching(&entity, kind, &name, at, window, &mut self.topology, hops);
        let lag = self.signals.lag_of(key);
        matches.retain(|p| self.may_join(*p, &entity, (kind, lag), since));
        !matches.is_empty()
    }

    /// The held signals on `entity` or a direct neighbour (a call or a *runs on* edge either
    /// way), oldest first.
    fn held_near(&self, entity: &EntityId) -> Vec<SignalKey> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let mut near: BTreeSet<&EntityId> = BTreeSet::from([entity]);
        if let Some(n) = self.topology.node(entity) {
            let edges = self.topology.dependencies(n).into_iter().chain(self.topology.dependents(n));
            near.extend(edges.map(|(_, m)| self.topology.id_of(m)));
        }
        let mut found: Vec<(Timestamp, SignalKey)> = self
            .held
            .iter()
            .filter_map(|k| self.signals.get(k))
            .filter(|e| near.contains(&e.signal.entity))
            .map(|e| (e.signal.first_seen, e.signal.key.clone()))
            .collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect()
    }

    /// A signal fired on `entity` and was placed: the held signals near it are corroborated, and
    /// placed too (oldest first), where the cookbook rule puts them: with it, as a rule.
    fn release_near(&mut self, entity: &EntityId, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        for key in self.held_near(entity) {
            self.held.remove(&key);
            if let Some(signal) = self.signals.get(&key).map(|e| e.signal.clone()) {
                let onset = signal.first_seen;
                self.correlate(signal, onset, None, at, out);
            }
        }
    }

    /// Places signal `key`, just fired with `change`, in its problem, then (unless the smart
    /// filter marked it) the held signals it corroborates: after it, so that they join it.
    fn place(&mut self, key: SignalKey, change: Change, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        self.held.remove(&key);
        self.place_one(key.clone(), change, at, out);
        if let Some(entry) = self.signals.get(&key).filter(|e| e.signal.mark.is_none()) {
            let entity = entry.signal.entity.clone();
            self.release_near(&entity, at, out);
        }
    }

    /// Places signal `key`, just fired with `change`, in its problem: its open one, its resolved
    /// one again, or those the cookbook rule finds ([`Engine::correlate`]).
    fn place_one(&mut self, key: SignalKey, change: Change, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        let solid_since = self.unmark_if_solid(&key, at);
        self.mark(&key, at, out);
        let Some(entry) = self.signals.get(&key) else { return };
        let signal = entry.signal.clone();
        let current = entry.problem;
        if let Some(since) = solid_since {
            self.rehome(signal, since, current, at, out);
            return;
        }
        match (change, current) {
            (Change::Repeated, Some(p)) if self.problems.get(p).is_some_and(|s| s.is_open()) => {
                if let Some(state) = self.problems.get_mut(p) {
                    state.last_activity = state.last_activity.max(at);
                }
                let kind = EventKind::SignalRepeated { key, count: signal.count, last_seen: signal.last_seen };
                self.emit(out, p, at, kind);
            }
            (_, Some(p)) if self.problems.get(p).is_some_and(|s| s.is_open()) => {
                self.on_signal_changed(p, &signal, at);
                self.emit(out, p, at, EventKind::SignalUpdated { signal });
            }
            // A marked signal does not reopen its old problem: it goes to the background one.
            (_, Some(p))
                if signal.mark.is_none()
                    && self.problems.get(p).is_some_and(
                        |s| matches!(s.phase(), Phase::Resolved { at: r } if at.since(r) <= self.config.reopen_window_ms),
                    ) =>
            {
                self.problems.set_phase(p, Phase::Open, at);
                self.emit(out, p, at, EventKind::Reopened);
                self.on_signal_changed(p, &signal, at);
                self.emit(out, p, at, EventKind::SignalUpdated { signal });
            }
            _ => {
                let onset = signal.first_seen;
                self.correlate(signal, onset, None, at, out)
            }
        }
    }

    /// The other half of the flapping filter: a flapping signal that has fired without a break
    /// for a whole flap window (no clear since its last activation) is no longer flapping but
    /// failing. Its mark is lifted and its activation history forgotten (all but the start of its
    /// current run, which is a flap window old and so never counts), so it must fire
    /// `flap_activations` more times to be marked again. Returns when its current run of firing
    /// started. A signal on a low-criticality entity keeps its mark: it would stay in the
    /// background anyway.
    fn unmark_if_solid(&mut self, key: &SignalKey, at: Timestamp) -> Option<Timestamp> {
        let entry = self.signals.get(key)?;
        if !matches!(entry.signal.mark, Some(Mark::Flapping { .. })) || !entry.signal.active {
            return None;
        }
        let since = *entry.activations.back()?;
        if at.since(since) < self.config.flap_window_ms
            || self.topology.entity(&entry.signal.entity).is_some_and(|e| e.criticality == Criticality::Low)
        {
            return None;
        }
        let entry = self.signals.get_mut(key)?;
        entry.signal.mark = None;
        // Only the start of the current run is kept: it is a flap window old, so the next marking
        // needs `flap_activations` new firings, and the fault tree still sees when the run began.
        entry.activations.clear();
        entry.activations.push_back(since);
        Some(since)
    }

    /// A signal whose flapping mark was just lifted, firing since `since`, is placed as a fresh
    /// signal: out of the background problem into an incident by the cookbook rule, or a new one
    /// (onset `since`: the chronic history before is not this incident). Already in an incident
    /// (it was marked there), it anchors that incident again and stays.
    fn rehome(
        &mut self,
        signal: Signal,
        since: Timestamp,
        current: Option<ProblemId>,
        at: Timestamp,
        out: &mut Vec<ProblemEvent>,
    ) {
        let open = current.and_then(|p| self.problems.get(p)).filter(|s| s.is_open()).map(|s| (s.id, s.background));
        match open {
            Some((p, false)) => {
                if let Some(state) = self.problems.get_mut(p) {
                    state.anchor(&signal.entity, signal.kind, &signal.name);
                }
                self.on_signal_changed(p, &signal, at);
                self.emit(out, p, at, EventKind::SignalUpdated { signal });
            }
            Some((p, true)) => self.correlate(signal, since, Some(p), at, out),
            None => self.correlate(signal, since, None, at, out),
        }
    }

    /// The smart filter: marks the signal `key` when it flaps (activations within the flap
    /// window, from its own history) or sits on a low-criticality entity. A low-criticality mark
    /// is sticky for the signal's life; a flapping mark is lifted when the signal turns into a
    /// sustained failure (see [`Engine::unmark_if_solid`]). A newly marked signal stops anchoring
    /// the problem it is in; a problem left with no unmarked signal was noise all along and joins
    /// the background problem.
    fn mark(&mut self, key: &SignalKey, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        let Some(entry) = self.signals.get(key) else { return };
        if entry.signal.mark.is_some() {
            return;
        }
        let activations = entry.activations_within(at, self.config.flap_window_ms);
        let low = self.topology.entity(&entry.signal.entity).is_some_and(|e| e.criticality == Criticality::Low);
        let mark = if activations >= self.config.flap_activations {
            Mark::Flapping { activations }
        } else if low {
            Mark::LowCriticality
        } else {
            return;
        };
        let problem = entry.problem;
        let Some(entry) = self.signals.get_mut(key) else { return };
        entry.signal.mark = Some(mark);
        let (entity, kind, name) = (entry.signal.entity.clone(), entry.signal.kind, entry.signal.name.clone());
        let Some(p) = problem else { return };
        let Some(state) = self.problems.get_mut(p) else { return };
        state.unanchor(&entity, kind, &name);
        if state.entities.is_empty() && !state.background && self.takes_signals(p, at) {
            self.retire_to_background(p, at, out);
        }
    }

    /// Whether problem `p` can still take signals at `at`: open, or resolved within the reopen
    /// window.
    fn takes_signals(&self, p: ProblemId, at: Timestamp) -> bool {
        match self.problems.get(p).map(|s| s.phase()) {
            Some(Phase::Open) => true,
            Some(Phase::Resolved { at: r }) => at.since(r) <= self.config.reopen_window_ms,
            _ => false,
        }
    }

    /// Problem `p` holds only marked signals: it becomes the background problem, or the current
    /// background problem and it merge (the younger into the older, as every merge goes).
    fn retire_to_background(&mut self, p: ProblemId, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        let into = match self.background.filter(|b| *b != p && self.takes_signals(*b, at)) {
            None => p,
            Some(b) => {
                let (from, into) = if b < p { (p, b) } else { (b, p) };
                if self.problems.get(into).is_some_and(|s| !s.is_open()) {
                    self.problems.set_phase(into, Phase::Open, at);
                    self.emit(out, into, at, EventKind::Reopened);
                }
                self.merge(from, into, at, out);
                into
            }
        };
        if let Some(state) = self.problems.get_mut(into) {
            state.background = true;
        }
        self.background = Some(into);
        self.touched.insert(into);
    }

    fn clear(&mut self, key: &SignalKey, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        if self.signals.clear(key, at) != Change::Cleared {
            return;
        }
        // A held blip that nothing corroborated expires quietly.
        self.held.remove(key);
        let Some(entry) = self.signals.get(key) else { return };
        let signal = entry.signal.clone();
        if let Some(p) = entry.problem {
            if self.problems.get(p).is_some_and(|s| s.is_open()) {
                self.on_signal_changed(p, &signal, at);
                self.emit(out, p, at, EventKind::SignalUpdated { signal });
            }
        }
    }

    /// Bookkeeping after a signal of open problem `p` changed state.
    fn on_signal_changed(&mut self, p: ProblemId, signal: &Signal, at: Timestamp) {
        self.touched.insert(p);
        let Some(state) = self.problems.get_mut(p) else { return };
        state.last_activity = state.last_activity.max(at);
        if signal.active {
            state.all_clear_since = None;
            self.problems.set_deadline(p, None);
            return;
        }
        let signals = &self.signals;
        let all_clear = state.signals.iter().all(|k| signals.get(k).is_none_or(|e| !e.signal.active));
        if all_clear {
            state.all_clear_since = Some(at);
            self.problems.set_deadline(p, Some(at.plus_ms(self.config.resolve_after_ms)));
        }
    }

    /// A new (or newly re-fired) signal without an open problem: join the problems the cookbook
    /// rule matches (see [`correlate`]), merging them if there are several, or open a new one. A
    /// marked signal goes to the background problem instead.
    ///
    /// `onset` is when the signal's trouble started for the problem it joins (its first-seen
    /// time, or the start of its current run after a lifted mark). `from` is the background
    /// problem an unmarked signal leaves: it is detached from there first.
    fn correlate(
        &mut self,
        signal: Signal,
        onset: Timestamp,
        from: Option<ProblemId>,
        at: Timestamp,
        out: &mut Vec<ProblemEvent>,
    ) {
        self.topology.ensure(&signal.entity);
        let lag = self.signals.lag_of(&signal.key);
        if let Some(mark) = signal.mark {
            // A low-criticality signal below an incident may be its cause: it joins (marked).
            let below = match mark {
                Mark::LowCriticality => self.problems.below(
                    &signal.entity,
                    at,
                    self.config.correlation_window_ms,
                    &mut self.topology,
                    self.config.topology_hops,
                ),
                Mark::Flapping { .. } => Vec::new(),
            };
            let below: Vec<ProblemId> = below
                .into_iter()
                .filter(|p| self.may_join(*p, &signal.entity, (signal.kind, lag), signal.first_seen))
                .collect();
            let target = match below.first() {
                Some(p) => *p,
                None => self.background_problem(at, out),
            };
            self.attach(target, signal, at, out);
            return;
        }
        let hops = self.config.topology_hops;
        let mut matches = self.problems.matching(
            &signal.entity,
            signal.kind,
            &signal.name,
            at,
            self.config.correlation_window_ms,
            &mut self.topology,
            hops,
        );
        matches.retain(|p| self.may_join(*p, &signal.entity, (signal.kind, lag), onset));
        // A signal on an entity that one of them already holds trouble on belongs there: it is
        // near the others, but that is no reason to merge them (an old problem kept busy by
        // its own recurring trouble would swallow a new incident next to it). Only a signal new
        // to all of them bridges them.
        if let Some(home) =
            matches.iter().position(|p| self.problems.get(*p).is_some_and(|s| s.entities.contains_key(&signal.entity)))
        {
            matches = vec![matches[home]];
        }
        if matches.len() > 1 {
            matches = self.bridged(matches, &signal.entity, onset);
        }
        let target = match matches.first() {
            Some(p) => *p,
            None => {
                let id = self.problems.open(onset, signal.severity);
                let title = rca::summary(&signal);
                self.emit(out, id, at, EventKind::Opened { title, severity: signal.severity });
                id
            }
        };
        if let Some(from) = from {
            self.detach(from, &signal.key, target, at, out);
        }
        self.attach_since(target, signal, onset, at, out);
        for other in matches.iter().skip(1) {
            self.merge(*other, target, at, out);
        }
    }

    /// Cause before effect (see [`correlate`]): a signal on `entity` whose trouble started at
    /// `since` may join open problem `p` when it is trouble `p`'s can have caused, or trouble
    /// that can have caused `p`'s. Trouble it can have caused: `entity` is above `p`'s trouble,
    /// and that trouble is still going or was last seen within its own detection lag (an effect
    /// follows its cause promptly; a spike that cleared ten minutes ago explains nothing that
    /// starts now: see [`Engine::follows_trouble`]). Trouble that can have caused `p`'s: the
    /// trouble of some entity of `p` depending on it began no earlier than `since` (within the
    /// slack). Trouble on one of `p`'s own entities always may join. Never a problem whose
    /// trouble began a whole correlation window before and whose active trouble now is all
    /// recurrences (or nothing): what keeps it open is recurring, and the new signal is news.
    fn may_join(
        &mut self,
        p: ProblemId,
        entity: &EntityId,
        (kind, lag): (SignalKind, Option<i64>),
        since: Timestamp,
    ) -> bool {
        let hops = self.config.topology_hops;
        let timing = self.timing();
        if self.kept_open_by_recurrences(p, since) {
            return false;
        }
        let Some(state) = self.problems.get_mut(p) else { return false };
        let below = state.below(entity, &mut self.topology, hops);
        let above = state.above(entity, &mut self.topology, hops);
        // Trouble on one of its own entities belongs to it; siblings and far entities are judged
        // by the cookbook rule alone.
        if state.entities.contains_key(entity) || !(below || above) {
            return true;
        }
        if above && self.follows_trouble(p, entity, since) {
            return true;
        }
        if !below {
            return false;
        }
        let Some(state) = self.problems.get_mut(p) else { return false };
        let Some(target) = self.topology.node(entity) else { return true };
        // When the trouble of each of its entities began.
        let mut began: BTreeMap<&EntityId, Timestamp> = BTreeMap::new();
        for s in state.signals.iter().filter_map(|k| self.signals.get(k)).map(|e| &e.signal) {
            if s.mark.is_none() {
                let t = rca::RunStart::since(&self.signals, s);
                began.entry(&s.entity).and_modify(|b| *b = (*b).min(t)).or_insert(t);
            }
        }
        began.into_iter().any(|(x, t)| {
            timing.precedes_as(kind, lag, since, t)
                && self.topology.node(x).is_some_and(|n| self.topology.closure(n, hops).contains(&target))
        })
    }

    /// True when trouble on `entity` starting at `since` can be an effect of problem `p`'s:
    /// some unmarked signal of `p` on an entity it depends on (within the hops) is still going,
    /// or was last seen no longer before `since` than its own detection lag (how long its end
    /// can have gone unseen: see [`rca::RunStart::lag`]; its kind's slack where not known). The
    /// new trouble's own lag is not added, though its first sighting may be that late: tried, it
    /// let a CPU hog join a problem through a spike last seen 4 minutes before the hog began, on
    /// series scraped every minute (a generated bad night, seed 11).
    fn follows_trouble(&mut self, p: ProblemId, entity: &EntityId, since: Timestamp) -> bool {
        let timing = self.timing();
        let Some(n) = self.topology.node(entity) else { return true };
        let Some(state) = self.problems.get(p) else { return false };
        let signals = &self.signals;
        let recent: Vec<_> = state
            .signals
            .iter()
            .filter_map(|k| signals.get(k))
            .map(|e| &e.signal)
            .filter(|s| {
                let lag = timing.lag_or_slack(s.kind, signals.lag_of(&s.key));
                s.mark.is_none() && (s.active || since.since(s.last_seen) <= lag)
            })
            .filter_map(|s| self.topology.node(&s.entity))
            .collect();
        let closure = self.topology.closure(n, self.config.topology_hops);
        recent.iter().any(|m| closure.contains(m))
    }

    /// Which of the problems a new signal on `entity` (trouble since `since`) matches it shows to
    /// be one. A signal that may be a cause of some of them (it lies below their trouble) bridges
    /// them all, as it always did. A common *effect* only (it lies above each, below none) does
    /// not: the edge service slowed by each of two faults of a bad night makes them no more one
    /// incident than two patients sharing a doctor. It joins the problem whose trouble below it
    /// began last, no later than its own (an effect follows its cause promptly; on a tie, the
    /// oldest problem), and merges nothing. (Merging anyway when the trouble below began
    /// together, within the slack, as a hint of a common cause not seen yet, was tried: on the
    /// generated bad nights, 82 of 108 roots first instead of 85, and 143 of 155 instead of 145
    /// on the other hard kinds; noise starts together with faults too often.) A log burst alike
    /// to two or more problems' through dependencies it shares with them (the sibling rule) is
    /// a sign of a cause they have in common, and bridges them too.
    fn bridged(&mut self, matches: Vec<ProblemId>, entity: &EntityId, since: Timestamp) -> Vec<ProblemId> {
        let hops = self.config.topology_hops;
        let mut siblings = 0;
        for p in &matches {
            let Some(state) = self.problems.get_mut(*p) else { continue };
            if state.below(entity, &mut self.topology, hops) {
                return matches;
            }
            if state.proximity(entity, &mut self.topology, hops) == correlate::Proximity::Sibling {
                siblings += 1;
            }
        }
        if siblings >= 2 {
            return matches;
        }
        let Some(node) = self.topology.node(entity) else { return matches };
        let under: HashSet<petgraph::stable_graph::NodeIndex> =
            self.topology.closure(node, hops).iter().copied().collect();
        let timing = self.timing();
        // The latest start of trouble below `entity` that can have caused its own (began before
        // `since`, or after by no more than its detection lag), in problem `p`.
        let latest = |p: ProblemId| -> Option<Timestamp> {
            let state = self.problems.get(p)?;
            state
                .signals
                .iter()
                .filter_map(|k| self.signals.get(k))
                .map(|e| &e.signal)
                .filter(|s| s.mark.is_none() && s.entity != *entity)
                .filter(|s| self.topology.node(&s.entity).is_some_and(|n| under.contains(&n)))
                .map(|s| (rca::RunStart::since(&self.signals, s), s.kind, self.signals.lag_of(&s.key)))
                .filter(|(t, kind, lag)| timing.precedes_as(*kind, *lag, *t, since))
                .map(|(t, _, _)| t)
                .max()
        };
        let newest = matches.iter().copied().max_by_key(|p| (latest(*p), std::cmp::Reverse(*p)));
        newest.into_iter().collect()
    }

    /// An old problem (a correlation window past its onset at `at`) whose trouble now is all
    /// recurrences (nothing, or signals back after clearing: recurring spikes) is kept open by
    /// them alone: a new fault now is not part of it, even while one of its spikes is on.
    fn kept_open_by_recurrences(&self, p: ProblemId, at: Timestamp) -> bool {
        let Some(state) = self.problems.get(p) else { return false };
        if !self.timing().chronic_at(state.onset, at) {
            return false;
        }
        let signals = &self.signals;
        state
            .signals
            .iter()
            .filter_map(|k| signals.get(k))
            .map(|e| &e.signal)
            .filter(|s| s.active && s.mark.is_none())
            .all(|s| rca::RunStart::since(signals, s) > s.first_seen)
    }

    /// The background problem for marked signals: the current one if open, reopened if it
    /// resolved within the reopen window, else a new one (severity info).
    fn background_problem(&mut self, at: Timestamp, out: &mut Vec<ProblemEvent>) -> ProblemId {
        if let Some(id) = self.background {
            match self.problems.get(id).map(|s| s.phase()) {
                Some(Phase::Open) => return id,
                Some(Phase::Resolved { at: r }) if at.since(r) <= self.config.reopen_window_ms => {
                    self.problems.set_phase(id, Phase::Open, at);
                    self.emit(out, id, at, EventKind::Reopened);
                    return id;
                }
                _ => {}
            }
        }
        let id = self.problems.open(at, Severity::Info);
        if let Some(state) = self.problems.get_mut(id) {
            state.background = true;
        }
        let title = "background: flapping and low-criticality signals".to_string();
        self.emit(out, id, at, EventKind::Opened { title, severity: Severity::Info });
        self.background = Some(id);
        id
    }

    fn attach(&mut self, p: ProblemId, signal: Signal, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        let onset = signal.first_seen;
        self.attach_since(p, signal, onset, at, out);
    }

    /// [`Engine::attach`] with the signal's trouble counted from `onset` for the problem's onset.
    fn attach_since(
        &mut self,
        p: ProblemId,
        signal: Signal,
        onset: Timestamp,
        at: Timestamp,
        out: &mut Vec<ProblemEvent>,
    ) {
        if let Some(entry) = self.signals.get_mut(&signal.key) {
            entry.problem = Some(p);
        }
        if let Some(state) = self.problems.get_mut(p) {
            let anchor = signal.mark.is_none().then_some((&signal.entity, signal.kind, signal.name.as_str()));
            state.add_signal(signal.key.clone(), anchor);
            state.onset = state.onset.min(onset);
        }
        self.on_signal_changed(p, &signal, at);
        self.emit(out, p, at, EventKind::SignalAttached { signal });
    }

    /// Takes signal `key` out of open problem `p`; it goes on to problem `to`. The signal does not
    /// anchor `p` (it was marked there). When what is left is all clear, `p` resolves as usual.
    fn detach(&mut self, p: ProblemId, key: &SignalKey, to: ProblemId, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        let Some(state) = self.problems.get_mut(p) else { return };
        if !state.signals.remove(key) {
            return;
        }
        state.last_activity = state.last_activity.max(at);
        let signals = &self.signals;
        let newly_clear = state.all_clear_since.is_none()
            && state.signals.iter().all(|k| signals.get(k).is_none_or(|e| !e.signal.active));
        if newly_clear {
            state.all_clear_since = Some(at);
            self.problems.set_deadline(p, Some(at.plus_ms(self.config.resolve_after_ms)));
        }
        self.touched.insert(p);
        self.emit(out, p, at, EventKind::SignalDetached { key: key.clone(), to });
    }

    /// Moves every signal of `from` into `into`.
    fn merge(&mut self, from: ProblemId, into: ProblemId, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        self.problems.set_phase(from, Phase::Merged { into }, at);
        let Some(state) = self.problems.get_mut(from) else { return };
        self.traffic_before.remove(&from);
        let keys: Vec<SignalKey> = std::mem::take(&mut state.signals).into_iter().collect();
        state.entities.clear();
        state.kinds.clear();
        self.problems.set_deadline(from, None);
        self.touched.remove(&from);
        self.emit(out, from, at, EventKind::MergedInto { into });
        self.emit(out, into, at, EventKind::Absorbed { from });
        for key in keys {
            if let Some(signal) = self.signals.get(&key).map(|e| e.signal.clone()) {
                self.attach(into, signal, at, out);
            }
        }
    }

    /// Re-ranks root causes, links the foundational cause and updates impact and severity of
    /// the problems touched by this observation, emitting only what changed.
    ///
    /// Then problems that turn out to share their root merge: two open incident problems whose
    /// top root-cause candidate is the same entity become one (the younger into the older), and
    /// the survivor is reassessed; unless the older one is kept open by recurrences alone, which
    /// takes no new signal (see [`Engine::may_join`]).
    fn reassess(&mut self, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        if std::mem::take(&mut self.touched_kpis) {
            let open = self.problems.open_problems().map(|s| s.id).collect();
            self.reassess_impacts(open, at, out);
        }
        if !self.impact_due.is_empty() {
            let due = std::mem::take(&mut self.impact_due);
            self.reassess_impacts(due, at, out);
        }
        // Each round merges at least one problem away, so the rounds are bounded.
        while !self.touched.is_empty() {
            let touched: Vec<ProblemId> = self.touched.iter().copied().collect();
            self.reassess_touched(at, out);
            let mut merged = false;
            for p in touched {
                let Some(state) = self.problems.get(p).filter(|s| s.is_open() && !s.background) else { continue };
                let Some(root) = state.ranking.first().map(|c| c.entity.clone()) else { continue };
                let twin = self
                    .problems
                    .open_problems()
                    .find(|q| q.id != p && !q.background && q.ranking.first().is_some_and(|c| c.entity == root))
                    .map(|q| q.id);
                if let Some(q) = twin {
                    let (from, into) = if q < p { (p, q) } else { (q, p) };
                    // A merge brings signals in as correlation does: not into a problem kept
                    // open by recurrences alone (see `may_join`).
                    if self.kept_open_by_recurrences(into, at) {
                        continue;
                    }
                    self.merge(from, into, at, out);
                    merged = true;
                }
            }
            if !merged {
                break;
            }
        }
    }

    fn reassess_touched(&mut self, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        for p in std::mem::take(&mut self.touched) {
            let Some(state) = self.problems.get(p) else { continue };
            if !state.is_open() {
                continue;
            }
            let signals: Vec<&Signal> =
                state.signals.iter().filter_map(|k| self.signals.get(k).map(|e| &e.signal)).collect();
            // Flapping signals are ranked down: they are no root-cause evidence while others exist.
            // A low-criticality signal in an incident joined it from below: it may be the cause.
            let unmarked: Vec<&Signal> =
                signals.iter().copied().filter(|s| !matches!(s.mark, Some(Mark::Flapping { .. }))).collect();
            let evidence = if unmarked.is_empty() { &signals } else { &unmarked };
            let ranking = rca::rank_timed(
                evidence,
                &self.signals,
                self.timing(),
                &self.topology,
                self.config.rca_max_depth,
                self.config.max_evidence_paths,
            );
            let foundational = rca::foundational(
                &ranking,
                state.onset,
                self.config.foundational_window_ms,
                &self.topology,
                &self.changes,
            );
            let baselines = self.traffic_before.entry(p).or_default();
            let impact =
                impact_of(&self.config, &self.topology, &self.kpis, &self.traffic, &signals, state.onset, baselines);
            let severity = if state.background {
                Severity::Info
            } else {
                signals.iter().map(|s| s.severity).max().unwrap_or_default().max(state.severity)
            };

            let mut events = Vec::new();
            if severity != state.severity {
                events.push(EventKind::SeverityChanged { severity });
            }
            if ranking != state.ranking {
                events.push(EventKind::RootCauseRanked { candidates: ranking.clone() });
            }
            if let Some(change) = &foundational {
                if state.foundational.as_ref() != Some(change) {
                    events.push(EventKind::FoundationalCauseLinked { change: change.clone() });
                }
            }
            let impact_changed = impact::worth_an_event(&state.impact, &impact, self.config.kpi_step);
            if impact_changed {
                events.push(EventKind::ImpactUpdated { impact: impact.clone() });
            }
            if let Some(state) = self.problems.get_mut(p) {
                state.severity = severity;
                state.ranking = ranking;
                if foundational.is_some() {
                    state.foundational = foundational;
                }
                // The impact kept is the one last emitted, so slow KPI drift adds up to a step.
                if impact_changed {
                    state.impact = impact;
                }
            }
            for kind in events {
                self.emit(out, p, at, kind);
            }
        }
    }

    /// After a KPI or traffic reading: the impact of the open problems `due` (in id order),
    /// emitted where it changed by at least a step.
    fn reassess_impacts(&mut self, due: BTreeSet<ProblemId>, at: Timestamp, out: &mut Vec<ProblemEvent>) {
        for p in due {
            // Problems whose signals changed get their whole reassessment right after this.
            if self.touched.contains(&p) {
                continue;
            }
            let Some(state) = self.problems.get(p).filter(|s| s.is_open()) else { continue };
            let signals: Vec<&Signal> =
                state.signals.iter().filter_map(|k| self.signals.get(k).map(|e| &e.signal)).collect();
            let baselines = self.traffic_before.entry(p).or_default();
            let impact =
                impact_of(&self.config, &self.topology, &self.kpis, &self.traffic, &signals, state.onset, baselines);
            if !impact::worth_an_event(&state.impact, &impact, self.config.kpi_step) {
                continue;
            }
            if let Some(state) = self.problems.get_mut(p) {
                state.impact = impact.clone();
            }
            self.emit(out, p, at, EventKind::ImpactUpdated { impact });
        }
    }
}

/// A problem's impact: its signals' entities, the KPIs and the traffic around them.
fn impact_of(
    config: &EngineConfig,
    topology: &Topology,
    kpis: &impact::KpiTable,
    traffic: &impact::TrafficTable,
    signals: &[&Signal],
    onset: Timestamp,
    baselines: &mut impact::TrafficBaselines,
) -> crate::model::Impact {
    let mut out = impact::assess(signals, topology, kpis, config.topology_hops, config.kpi_step);
    out.traffic = impact::traffic(signals, topology, traffic, config.topology_hops, onset, baselines);
    out
}

#[cfg(test)]
mod tests;
