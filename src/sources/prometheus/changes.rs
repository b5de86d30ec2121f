//! Changes read from metrics: a restart counter that rises, a scrape target whose process start
//! time moves forward or whose `up` goes 0 → 1, a deployment's replicas or generation that
//! change. Each configured rule is a range query pulled like the watched queries; consecutive
//! readings of each series are compared (across cycles too), and a move the rule looks for
//! becomes a `Change` observation on the series' entity, for the engine to link as a problem's
//! foundational cause.
//!
//! One event often shows in several metrics: a restarted target moves its start time and its
//! `up`; scaling a deployment bumps its generation as well as its replicas. So a change of the
//! same kind on the same entity within [`fold_ms`] of one already reported is left out, and a
//! deployment (generation) change that comes with a scale of the same entity is the scale.

use super::api::RangeSeries;
use crate::model::{ChangeKind, EntityId, Observation, ObservationKind, Timestamp};
use crate::sources::mapping::{Mapping, Template};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// One `[[sources.prometheus.changes]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRule {
    /// PromQL giving the series to compare, usually a metric name.
    pub query: String,
    /// What a move is: `restart`, `scale`, `deployment` or `config_change`.
    pub change: ChangeKind,
    /// Which move counts.
    pub when: ChangeWhen,
    /// The entity a change belongs to, as a label template (e.g. `service:{job}`); without it,
    /// the series' labels go through the `[mapping]` rules.
    #[serde(default)]
    pub entity: Option<Template>,
}

/// Which move of a series is a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeWhen {
    /// The value rises (a counter; a drop is a reset, not a change).
    Increase,
    /// The value, a start time in Unix seconds, moves forward by more than a second; the change
    /// is dated at the new start time.
    StartTime,
    /// The value goes from 0 to 1 (`up`: the target came back).
    Up,
    /// The value changes either way (replicas, a generation).
    Change,
}

/// The rules an SRE expects on a Kubernetes cluster with kube-state-metrics and on any scraped
/// target: container restarts, target restarts, deployment scaling and rollouts.
pub fn default_rules() -> Vec<ChangeRule> {
    let rule = |query: &str, change, when, entity: Option<&str>| ChangeRule {
        query: query.into(),
        change,
        when,
        entity: entity.map(|t| Template::parse(t).unwrap_or_else(|e| panic!("built-in change template: {e}"))),
    };
    vec![
        // Labels namespace, pod, container: the default mapping makes it the pod.
        rule("kube_pod_container_status_restarts_total", ChangeKind::Restart, ChangeWhen::Increase, None),
        // Every scraped process exports it; the target's service is its job.
        rule("process_start_time_seconds", ChangeKind::Restart, ChangeWhen::StartTime, Some("service:{job}")),
        rule("up", ChangeKind::Restart, ChangeWhen::Up, Some("service:{job}")),
        rule("kube_deployment_spec_replicas", ChangeKind::Scale, ChangeWhen::Change, Some("service:{deployment}")),
        rule(
            "kube_deployment_status_observed_generation",
            ChangeKind::Deployment,
            ChangeWhen::Change,
            Some("service:{deployment}"),
        ),
    ]
}

/// Changes of one kind on one entity this close together are one change, in ms: two steps
/// (a move seen one step late in another metric), at least a minute (a scrape interval).
pub fn fold_ms(step_ms: i64) -> i64 {
    (2 * step_ms).max(60_000)
}

/// Readings compared between cycles, and the changes already reported.
#[derive(Debug, Default)]
pub struct ChangeTracker {
    /// The last reading of each series, by rule and label set.
    last: BTreeMap<(usize, BTreeMap<String, String>), (Timestamp, f64)>,
    /// Changes reported (this run or journaled), for folding and so a re-read range repeats none.
    reported: BTreeSet<(EntityId, ChangeKind, Timestamp)>,
}

/// What one rule's range gave.
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub observations: Vec<Observation>,
    /// Series no template or mapping rule turned into an entity (skipped, counted).
    pub unmapped_series: usize,
}

impl ChangeTracker {
    /// A change already journaled: not reported again, and changes near it fold into it.
    pub fn remember(&mut self, entity: &EntityId, change: ChangeKind, at: Timestamp) {
        self.reported.insert((entity.clone(), change, at));
    }

    /// The moves of rule `index`'s series in a new range (readings at or before the last one
    /// compared are skipped, so overlapping ranges are safe).
    pub fn compare(
        &mut self,
        index: usize,
        rule: &ChangeRule,
        series: &[RangeSeries],
        mapping: &Mapping,
        source: &str,
    ) -> Found {
        let mut out = Found::default();
        for s in series {
            let entity = match &rule.entity {
                Some(t) => t.render(&s.metric).map(EntityId::new),
                None => mapping.entity(&s.metric).map(|(e, _)| e),
            };
            let Some(entity) = entity else {
                out.unmapped_series += 1;
                continue;
            };
            let key = (index, s.metric.clone());
            let mut last = self.last.get(&key).copied();
            for v in &s.values {
                let (at, Some(value)) = (v.at(), v.finite()) else { continue };
                if last.is_some_and(|(t, _)| at <= t) {
                    continue;
                }
                if let Some((_, previous)) = last {
                    if let Some((when, what)) = moved(rule.when, previous, value, at) {
                        let description = format!("{} {what}", series_name(&rule.query, &s.metric));
                        out.observations.push(Observation {
                            at: when,
                            source: source.to_string(),
                            kind: ObservationKind::Change { entity: entity.clone(), change: rule.change, description },
                        });
                    }
                }
                last = Some((at, value));
            }
            if let Some(l) = last {
                self.last.insert(key, l);
            }
        }
        out
    }

    /// The changes of a cycle (all rules) in time order, folded (see the module doc) against
    /// each other and those reported before. Readings and reports older than `forget_before`
    /// are forgotten (series gone that long are gone).
    pub fn fold(&mut self, mut found: Vec<Observation>, fold_ms: i64, forget_before: Timestamp) -> Vec<Observation> {
        found.sort_by_key(|o| o.at);
        // Scales first at each time, so the generation bump that comes with them folds in.
        let mut out = Vec::new();
        let scales: Vec<(EntityId, Timestamp)> = found
            .iter()
            .filter_map(|o| match &o.kind {
                ObservationKind::Change { entity, change: ChangeKind::Scale, .. } => Some((entity.clone(), o.at)),
                _ => None,
            })
            .collect();
        for o in found {
            let ObservationKind::Change { entity, change, .. } = &o.kind else { continue };
            let near = |kind: ChangeKind| {
                let from = (entity.clone(), kind, o.at.plus_ms(-fold_ms));
                let to = (entity.clone(), kind, o.at.plus_ms(fold_ms));
                self.reported.range(from..=to).next().is_some()
            };
            let with_scale = *change == ChangeKind::Deployment
                && (near(ChangeKind::Scale)
                    || scales.iter().any(|(e, t)| e == entity && t.since(o.at).abs() <= fold_ms));
            if near(*change) || with_scale {
                continue;
            }
            self.reported.insert((entity.clone(), *change, o.at));
            out.push(o);
        }
        self.reported.retain(|(_, _, t)| *t >= forget_before);
        self.last.retain(|_, (t, _)| *t >= forget_before);
        out
    }
}

/// Whether `previous` → `value` (read at `now`) is a change under `when`: its time and
/// what moved.
fn moved(when: ChangeWhen, previous: f64, value: f64, now: Timestamp) -> Option<(Timestamp, String)> {
    match when {
        ChangeWhen::Increase if value > previous => Some((now, format!("rose {previous} → {value}"))),
        ChangeWhen::Change if value != previous => Some((now, format!("{previous} → {value}"))),
        ChangeWhen::Up if previous == 0.0 && value == 1.0 => Some((now, "came back up (0 → 1)".to_string())),
        ChangeWhen::StartTime if value > previous + 1.0 => {
            // The process says when it started (after its previous start, by the test above).
            // It may be before `then`: a step's reading is the last scrape before it, and a
            // series can be missing for a while. Only a start after the reading that shows it
            // is a clock that disagrees: then the reading's time.
            let started = Timestamp((value * 1000.0).round() as i64);
            let at = if started <= now { started } else { now };
            Some((at, format!("moved forward: the process started at {}", started.to_rfc3339())))
        }
        _ => None,
    }
}

/// `name{label="value", ...}` with the non-empty labels, for descriptions.
fn series_name(query: &str, labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map(String::as_str).unwrap_or(query);
    let shown: Vec<String> =
        labels.iter().filter(|(k, v)| *k != "__name__" && !v.is_empty()).map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::prometheus::api::SampleValue;

    fn series(labels: &[(&str, &str)], values: &[(i64, f64)]) -> RangeSeries {
        RangeSeries {
            metric: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            values: values.iter().map(|(t, v)| SampleValue(*t as f64, v.to_string())).collect(),
        }
    }

    fn changes(obs: &[Observation]) -> Vec<(i64, &str, ChangeKind)> {
        obs.iter()
            .map(|o| match &o.kind {
                ObservationKind::Change { entity, change, .. } => (o.at.millis() / 1000, entity.as_str(), *change),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_rising_restart_counter_is_a_restart_on_the_pod_across_cycles_and_a_reset_is_not() {
        let rules = default_rules();
        let (m, mut t) = (Mapping::default(), ChangeTracker::default());
        let pod = [("namespace", "shop"), ("pod", "cart-1"), ("container", "cart"), ("job", "ksm")];
        let first = t.compare(0, &rules[0], &[series(&pod, &[(100, 3.0), (115, 3.0), (130, 4.0)])], &m, "p");
        assert_eq!(changes(&first.observations), [(130, "pod:shop/cart-1", ChangeKind::Restart)]);
        let ObservationKind::Change { description, .. } = &first.observations[0].kind else { panic!() };
        assert_eq!(
            description,
            r#"kube_pod_container_status_restarts_total{container="cart", job="ksm", namespace="shop", pod="cart-1"} rose 3 → 4"#
        );
        // The next cycle compares with the last reading of this one; a repeated reading is skipped.
        let next = t.compare(0, &rules[0], &[series(&pod, &[(130, 4.0), (145, 5.0), (160, 0.0)])], &m, "p");
        assert_eq!(changes(&next.observations), [(145, "pod:shop/cart-1", ChangeKind::Restart)]);
        let none = t.compare(0, &rules[0], &[series(&[("code", "1")], &[(1, 1.0), (2, 2.0)])], &m, "p");
        assert_eq!((none.observations.len(), none.unmapped_series), (0, 1));
    }

    #[test]
    fn a_start_time_moving_forward_is_dated_at_the_start_and_folds_with_up() {
        let rules = default_rules();
        let (m, mut t) = (Mapping::default(), ChangeTracker::default());
        let target = [("job", "checkout"), ("instance", "10.0.0.5:8080")];
        let start = t.compare(1, &rules[1], &[series(&target, &[(100, 50.0), (115, 50.0), (130, 122.0)])], &m, "p");
        assert_eq!(changes(&start.observations), [(122, "service:checkout", ChangeKind::Restart)]);
        let up = t.compare(2, &rules[2], &[series(&target, &[(100, 1.0), (115, 0.0), (130, 1.0)])], &m, "p");
        assert_eq!(changes(&up.observations), [(130, "service:checkout", ChangeKind::Restart)]);
        let mut all = start.observations;
        all.extend(up.observations);
        let folded = t.fold(all, fold_ms(15_000), Timestamp(0));
        assert_eq!(changes(&folded), [(122, "service:checkout", ChangeKind::Restart)]);
        // Reported once: the same change read again (a re-read range) is not reported twice.
        let again = t.compare(1, &rules[1], &[series(&target, &[(400, 122.0), (415, 405.0)])], &m, "p");
        let again = t.fold(again.observations, 60_000, Timestamp(0));
        assert_eq!(changes(&again), [(405, "service:checkout", ChangeKind::Restart)]);
        let ObservationKind::Change { description, .. } = &again[0].kind else { panic!() };
        assert!(description.ends_with("the process started at 1970-01-01T00:06:45.000Z"), "{description}");
        t.remember(&EntityId::new("service:checkout"), ChangeKind::Restart, Timestamp(405_000));
        let repeated = t.compare(1, &rules[1], &[series(&target, &[(500, 405.0), (515, 510.0)])], &m, "p");
        assert_eq!(repeated.observations.len(), 1);
        let o = repeated.observations[0].clone();
        assert_eq!(
            changes(&t.fold(vec![o.clone(), again[0].clone()], 60_000, Timestamp(0))),
            [(510, "service:checkout", ChangeKind::Restart)]
        );
        // Small jitter of a start time is not a restart.
        assert_eq!(moved(ChangeWhen::StartTime, 50.0, 50.4, Timestamp(1)), None);
    }

    #[test]
    fn a_scale_swallows_the_generation_bump_that_comes_with_it() {
        let rules = default_rules();
        let (m, mut t) = (Mapping::default(), ChangeTracker::default());
        let d = [("namespace", "shop"), ("deployment", "cart")];
        let replicas = t.compare(3, &rules[3], &[series(&d, &[(100, 3.0), (115, 5.0), (130, 5.0)])], &m, "p");
        let generation =
            t.compare(4, &rules[4], &[series(&d, &[(100, 7.0), (115, 7.0), (130, 8.0), (400, 9.0)])], &m, "p");
        let mut all = replicas.observations;
        all.extend(generation.observations);
        let folded = t.fold(all, fold_ms(15_000), Timestamp(0));
        assert_eq!(
            changes(&folded),
            [(115, "service:cart", ChangeKind::Scale), (400, "service:cart", ChangeKind::Deployment)]
        );
        let ObservationKind::Change { description, .. } = &folded[0].kind else { panic!() };
        assert!(description.ends_with("3 → 5"), "{description}");
    }
}
