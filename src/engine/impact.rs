//! Impact: what a problem touches. The affected entities and signal counts, and the business
//! KPIs of the affected entities and of the entities that depend on them, against yesterday and
//! last week; and the traffic it touches (requests/s, errors/s, users) against before onset.
//!
//! Traffic is summed where it enters the affected part of the topology: over the entities that
//! measure a role and are affected or depend on an affected entity (within `hops`), leaving out
//! those that another such entity depends on. A request to the frontend that fails because the
//! checkout behind it fails is one failed request, not two; so when both measure errors, the
//! frontend's count (the callers whose calls the affected entities serve) is the one summed, and
//! when only the checkout measures them, the checkout's is. The frontend's whole rate counts,
//! including requests that never reach the checkout: an upper bound, said as such in the README.
//!
//! KPI values move every cycle. So that the journal does not fill with noise, a new impact is
//! worth an event only when it differs in something other than KPI values, or when a KPI's
//! value or one of its deviations moved by at least `kpi_step` since the last event
//! ([`worth_an_event`]).

use super::snapshot::codec::{exact_f64, exact_f64_opt, pairs};
use super::topology::Topology;
use crate::model::{EntityId, EntityKind, Impact, KpiImpact, Signal, Timestamp, TrafficImpact, TrafficRole};
use petgraph::Direction;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long traffic readings are kept, in ms of data time: long enough to find the readings
/// before onset of an entity that joins a problem late.
const TRAFFIC_HISTORY_MS: i64 = 3_600_000;
/// Readings kept per series at most (a bound on memory whatever the step).
const TRAFFIC_READINGS: usize = 256;
/// The readings averaged for "before onset": those in this many ms before it.
pub const TRAFFIC_BASELINE_MS: i64 = 300_000;

/// Recent traffic readings, by entity and role, oldest first (finite values only).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficTable {
    #[serde(with = "pairs")]
    series: BTreeMap<(EntityId, TrafficRole), VecDeque<(Timestamp, f64)>>,
}

impl TrafficTable {
    /// Adds readings newer than the newest kept (a re-sent range is not counted twice) and
    /// forgets those older than the history kept.
    pub fn record(&mut self, entity: &EntityId, role: TrafficRole, samples: &[(Timestamp, f64)]) {
        let q = self.series.entry((entity.clone(), role)).or_default();
        for &(at, v) in samples {
            if v.is_finite() && q.back().is_none_or(|(last, _)| at > *last) {
                q.push_back((at, v));
            }
        }
        let newest = q.back().map(|(t, _)| *t).unwrap_or_default();
        while q.len() > TRAFFIC_READINGS || q.front().is_some_and(|(t, _)| newest.since(*t) > TRAFFIC_HISTORY_MS) {
            q.pop_front();
        }
    }

    /// Forgets the readings of every entity and role whose newest is at or before `cutoff`.
    pub fn retire(&mut self, cutoff: Timestamp) {
        self.series.retain(|_, q| q.back().is_some_and(|(t, _)| *t > cutoff));
    }

    /// Entities with readings kept (once per role), in id order.
    pub fn entities(&self) -> impl Iterator<Item = &EntityId> {
        self.series.keys().map(|(e, _)| e)
    }

    /// The latest reading.
    pub fn latest(&self, entity: &EntityId, role: TrafficRole) -> Option<f64> {
        self.series.get(&(entity.clone(), role)).and_then(|q| q.back()).map(|(_, v)| *v)
    }

    /// The mean of the readings in the [`TRAFFIC_BASELINE_MS`] before `onset` (not at it).
    pub fn before(&self, entity: &EntityId, role: TrafficRole, onset: Timestamp) -> Option<f64> {
        let q = self.series.get(&(entity.clone(), role))?;
        let from = onset.plus_ms(-TRAFFIC_BASELINE_MS);
        let window: Vec<f64> = q.iter().filter(|(t, _)| *t >= from && *t < onset).map(|(_, v)| *v).collect();
        (!window.is_empty()).then(|| window.iter().sum::<f64>() / window.len() as f64)
    }

    /// Entities with readings of `role`, in id order.
    fn measuring(&self, role: TrafficRole) -> impl Iterator<Item = &EntityId> {
        self.series.keys().filter(move |(_, r)| *r == role).map(|(e, _)| e)
    }
}

/// The readings before onset a problem has taken, by entity and role: taken once, the first
/// time the entity counts, so the comparison keeps its reference however long the problem lasts.
pub type TrafficBaselines = BTreeMap<(EntityId, TrafficRole), f64>;

/// The latest reading of one KPI, as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiReading {
    #[serde(with = "exact_f64")]
    pub value: f64,
    #[serde(with = "exact_f64_opt")]
    pub yesterday: Option<f64>,
    #[serde(with = "exact_f64_opt")]
    pub last_week: Option<f64>,
    pub higher_is_better: bool,
    pub unit: String,
}

/// The latest reading of every KPI, by entity and KPI name.
pub type KpiTable = BTreeMap<(EntityId, String), KpiReading>;

/// The impact of a problem whose signals are `signals`. KPIs count when their entity is
/// affected or depends (calls, runs on) on an affected entity within `hops` edges; a KPI is
/// worse when every comparison it has moved the bad way by at least `step` (a fraction).
pub fn assess(signals: &[&Signal], topology: &Topology, kpis: &KpiTable, hops: u32, step: f64) -> Impact {
    let affected: BTreeSet<&EntityId> = signals.iter().map(|s| &s.entity).collect();
    let services = affected
        .iter()
        .filter(|id| matches!(topology.kind_of(id), EntityKind::Service | EntityKind::Application))
        .count();
    Impact {
        kpis: relevant_kpis(&affected, topology, kpis, hops, step),
        affected: affected.into_iter().cloned().collect(),
        services,
        active_signals: signals.iter().filter(|s| s.active).count(),
        signals: signals.len(),
        traffic: Vec::new(),
    }
}

/// The traffic each role's measuring entities show where it enters the affected part of the
/// topology (see the module doc), with the comparison to before `onset`. Baselines missing
/// from `baselines` are taken from `table` and kept there.
pub fn traffic(
    signals: &[&Signal],
    topology: &Topology,
    table: &TrafficTable,
    hops: u32,
    onset: Timestamp,
    baselines: &mut TrafficBaselines,
) -> Vec<TrafficImpact> {
    let affected: BTreeSet<&EntityId> = signals.iter().map(|s| &s.entity).collect();
    let mut out = Vec::new();
    for role in [TrafficRole::Requests, TrafficRole::Errors, TrafficRole::Users] {
        let measured: BTreeSet<&EntityId> =
            table.measuring(role).filter(|e| depends_on_affected(e, &affected, topology, hops)).collect();
        if measured.is_empty() {
            continue;
        }
        // What each measuring entity reaches among the others along its dependencies.
        let reach: BTreeMap<&EntityId, BTreeSet<&EntityId>> = measured
            .iter()
            .map(|e| {
                let reached = topology
                    .node(e)
                    .map(|n| {
                        topology
                            .walk(n, hops, Direction::Outgoing, None)
                            .iter()
                            .map(|(m, _)| topology.id_of(*m))
                            .filter(|m| *m != *e && measured.contains(m))
                            .collect()
                    })
                    .unwrap_or_default();
                (*e, reached)
            })
            .collect();
        // Served by another measuring entity that it does not serve in turn (a call cycle
        // counts both).
        let upstream = |e: &EntityId| reach.iter().any(|(d, r)| r.contains(e) && !reach[e].contains(*d));
        let counted: Vec<&EntityId> = measured.iter().copied().filter(|e| !upstream(e)).collect();
        let (mut value, mut before, mut now_compared, mut had_before) = (0.0, 0.0, 0.0, false);
        for e in &counted {
            let Some(now) = table.latest(e, role) else { continue };
            value += now;
            let key = ((*e).clone(), role);
            let reference = match baselines.get(&key) {
                Some(b) => Some(*b),
                None => table.before(e, role, onset).inspect(|b| {
                    baselines.insert(key, *b);
                }),
            };
            if let Some(b) = reference {
                before += b;
                now_compared += now;
                had_before = true;
            }
        }
        out.push(TrafficImpact {
            role,
            value,
            before: had_before.then_some(before),
            vs_before: if had_before { deviation(now_compared, Some(before)) } else { None },
            entities: counted.into_iter().cloned().collect(),
        });
    }
    out
}

fn relevant_kpis(
    affected: &BTreeSet<&EntityId>,
    topology: &Topology,
    kpis: &KpiTable,
    hops: u32,
    step: f64,
) -> Vec<KpiImpact> {
    let mut out = Vec::new();
    // One walk per KPI entity (the table is sorted by entity, so its KPIs are adjacent).
    let mut last: Option<(&EntityId, bool)> = None;
    for ((entity, name), reading) in kpis {
        let relevant = match last {
            Some((e, r)) if e == entity => r,
            _ => {
                let r = depends_on_affected(entity, affected, topology, hops);
                last = Some((entity, r));
                r
            }
        };
        if relevant {
            out.push(kpi_impact(entity, name, reading, step));
        }
    }
    out
}

/// `entity` is affected, or reaches an affected entity along its dependencies within `hops`.
fn depends_on_affected(entity: &EntityId, affected: &BTreeSet<&EntityId>, topology: &Topology, hops: u32) -> bool {
    if affected.contains(entity) {
        return true;
    }
    let Some(n) = topology.node(entity) else { return false };
    topology.walk(n, hops, Direction::Outgoing, None).iter().any(|(m, _)| affected.contains(topology.id_of(*m)))
}

/// A KPI reading with its deviations and verdict.
pub fn kpi_impact(entity: &EntityId, name: &str, r: &KpiReading, step: f64) -> KpiImpact {
    let vs_yesterday = deviation(r.value, r.yesterday);
    let vs_last_week = deviation(r.value, r.last_week);
    let comparisons: Vec<f64> = [vs_yesterday, vs_last_week].into_iter().flatten().collect();
    let bad = |d: f64| if r.higher_is_better { d <= -step } else { d >= step };
    KpiImpact {
        entity: entity.clone(),
        name: name.to_string(),
        unit: r.unit.clone(),
        value: r.value,
        yesterday: r.yesterday,
        last_week: r.last_week,
        vs_yesterday,
        vs_last_week,
        higher_is_better: r.higher_is_better,
        // Both comparisons, where there are both: a Monday below Sunday but like last Monday
        // is the week's rhythm, not an impact.
        worse: !comparisons.is_empty() && comparisons.into_iter().all(bad),
    }
}

/// `(value - reference) / |reference|`; `None` without a reference or when it is 0 (no
/// fraction of nothing).
pub fn deviation(value: f64, reference: Option<f64>) -> Option<f64> {
    reference.filter(|r| *r != 0.0 && r.is_finite()).map(|r| (value - r) / r.abs())
}

/// Whether `new` should replace `old` (the impact last emitted) with an event: anything but the
/// KPI values changed, a KPI came or went, a comparison appeared or vanished, or a KPI's value
/// (relative to the old one) or a deviation moved by at least `step`.
pub fn worth_an_event(old: &Impact, new: &Impact, step: f64) -> bool {
    if (&old.affected, old.services, old.active_signals, old.signals)
        != (&new.affected, new.services, new.active_signals, new.signals)
        || old.kpis.len() != new.kpis.len()
        || old.traffic.len() != new.traffic.len()
    {
        return true;
    }
    let traffic_moved = old.traffic.iter().zip(&new.traffic).any(|(a, b)| {
        (a.role, &a.entities) != (b.role, &b.entities)
            || relative_move(a.value, b.value) >= step
            // The reference is fixed once taken, so the deviation moves with the value; a
            // reference that appears, or grows as entities get theirs, is news.
            || match (a.before, b.before) {
                (Some(x), Some(y)) => relative_move(x, y) >= step,
                (None, None) => false,
                _ => true,
            }
    });
    if traffic_moved {
        return true;
    }
    old.kpis.iter().zip(&new.kpis).any(|(a, b)| {
        let moved = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() >= step,
            (None, None) => false,
            _ => true,
        };
        let value_moved = if a.value == 0.0 { b.value != 0.0 } else { ((b.value - a.value) / a.value).abs() >= step };
        (&a.entity, &a.name, &a.unit, a.higher_is_better) != (&b.entity, &b.name, &b.unit, b.higher_is_better)
            || value_moved
            || moved(a.vs_yesterday, b.vs_yesterday)
            || moved(a.vs_last_week, b.vs_last_week)
            || a.yesterday.is_some() != b.yesterday.is_some()
            || a.last_week.is_some() != b.last_week.is_some()
    })
}

/// `|new - old| / |old|`; any move from 0 is a whole step (infinite).
fn relative_move(old: f64, new: f64) -> f64 {
    if old == 0.0 {
        if new == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        ((new - old) / old).abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(value: f64, yesterday: Option<f64>, last_week: Option<f64>, higher_is_better: bool) -> KpiReading {
        KpiReading { value, yesterday, last_week, higher_is_better, unit: String::new() }
    }

    #[test]
    fn deviations_are_signed_fractions_and_missing_references_are_none() {
        assert_eq!(deviation(62.0, Some(100.0)), Some(-0.38));
        assert_eq!(deviation(1.5, Some(-1.0)), Some(2.5));
        assert_eq!(deviation(5.0, None), None);
        assert_eq!(deviation(5.0, Some(0.0)), None);
    }

    #[test]
    fn worse_means_every_comparison_moved_the_bad_way() {
        let e = EntityId::new("service:checkout");
        let k = |r: KpiReading| kpi_impact(&e, "orders", &r, 0.05);
        assert!(k(reading(62.0, Some(100.0), Some(95.0), true)).worse);
        // Below yesterday but like last week: the weekly rhythm, not worse.
        assert!(!k(reading(62.0, Some(100.0), Some(63.0), true)).worse);
        // Only one comparison: it decides.
        assert!(k(reading(62.0, None, Some(100.0), true)).worse);
        // No comparison at all: nothing to call worse.
        assert!(!k(reading(62.0, None, None, true)).worse);
        // Lower is better: a rise of the error ratio is worse, a drop is not.
        assert!(k(reading(0.08, Some(0.02), Some(0.03), false)).worse);
        assert!(!k(reading(0.01, Some(0.02), Some(0.03), false)).worse);
        // Within the step is noise.
        assert!(!k(reading(97.0, Some(100.0), Some(100.0), true)).worse);
    }

    #[test]
    fn only_material_kpi_moves_are_worth_an_event() {
        let e = EntityId::new("service:checkout");
        let impact = |r: KpiReading| Impact { kpis: vec![kpi_impact(&e, "orders", &r, 0.05)], ..Impact::default() };
        let base = impact(reading(400.0, Some(600.0), Some(620.0), true));
        assert!(!worth_an_event(&base, &impact(reading(404.0, Some(600.0), Some(620.0), true)), 0.05));
        assert!(worth_an_event(&base, &impact(reading(360.0, Some(600.0), Some(620.0), true)), 0.05));
        // Yesterday's reference moved enough to move the deviation by 5 points.
        assert!(worth_an_event(&base, &impact(reading(400.0, Some(540.0), Some(620.0), true)), 0.05));
        assert!(worth_an_event(&base, &impact(reading(400.0, None, Some(620.0), true)), 0.05));
        assert!(worth_an_event(&base, &Impact::default(), 0.05));
        assert!(!worth_an_event(&Impact::default(), &Impact::default(), 0.05));
    }
}
