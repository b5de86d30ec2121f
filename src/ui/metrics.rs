//! The metric samples the detail's chart may draw, kept bounded: live agents run for weeks.
//!
//! A series some anomaly signal was raised on ("pinned") keeps up to [`PINNED_SAMPLES`] samples;
//! any other series keeps only its last [`RECENT_MS`] of data time (at most [`RECENT_SAMPLES`]),
//! which is what its chart needs before the first breach should an anomaly come later.

use crate::model::{EntityId, EventKind, Observation, ObservationKind, ProblemEvent, SignalKind, Timestamp};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Samples kept of a pinned series (at a 15 s step, about 3.5 days).
pub const PINNED_SAMPLES: usize = 20_000;
/// Data time kept of a series no anomaly was raised on, in milliseconds (30 minutes).
pub const RECENT_MS: i64 = 30 * 60_000;
/// Samples kept at most of a series no anomaly was raised on.
pub const RECENT_SAMPLES: usize = 512;

/// One series: an entity's metric.
pub type SeriesKey = (EntityId, String);

/// Bounded metric history by series.
#[derive(Debug, Clone, Default)]
pub struct MetricHistory {
    series: BTreeMap<SeriesKey, VecDeque<(Timestamp, f64)>>,
    pinned: BTreeSet<SeriesKey>,
}

impl MetricHistory {
    /// Keeps the metric samples of these observations (live samples and history alike).
    pub fn observe(&mut self, observations: &[Observation]) {
        for o in observations {
            let (entity, metric, samples) = match &o.kind {
                ObservationKind::Metric { entity, metric, samples }
                | ObservationKind::History { entity, metric, samples } => (entity, metric, samples),
                _ => continue,
            };
            let key = (entity.clone(), metric.clone());
            let pinned = self.pinned.contains(&key);
            let series = self.series.entry(key).or_default();
            for &(t, v) in samples {
                // Samples come in time order per series; an older or repeated one is dropped.
                if series.back().is_some_and(|&(last, _)| t <= last) || !v.is_finite() {
                    continue;
                }
                series.push_back((t, v));
            }
            trim(series, pinned);
        }
    }

    /// Pins the series of the anomaly signals in these events, so they keep their history.
    pub fn pin(&mut self, events: &[ProblemEvent]) {
        for e in events {
            if let EventKind::SignalAttached { signal } | EventKind::SignalUpdated { signal } = &e.kind {
                if signal.kind == SignalKind::Anomaly {
                    self.pinned.insert((signal.entity.clone(), signal.name.clone()));
                }
            }
        }
    }

    /// The samples of one series with `from <= t <= to`, in time order.
    pub fn window(&self, entity: &EntityId, metric: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, f64)> {
        let Some(series) = self.series.get(&(entity.clone(), metric.to_string())) else { return Vec::new() };
        let start = series.partition_point(|&(t, _)| t < from);
        series.range(start..).take_while(|&&(t, _)| t <= to).copied().collect()
    }

    /// Samples held over all series.
    pub fn samples(&self) -> usize {
        self.series.values().map(VecDeque::len).sum()
    }
}

fn trim(series: &mut VecDeque<(Timestamp, f64)>, pinned: bool) {
    if pinned {
        while series.len() > PINNED_SAMPLES {
            series.pop_front();
        }
        return;
    }
    let Some(&(newest, _)) = series.back() else { return };
    while series.len() > RECENT_SAMPLES || series.front().is_some_and(|&(t, _)| newest.since(t) > RECENT_MS) {
        series.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(entity: &str, at_s: i64, n: i64) -> Observation {
        Observation {
            at: Timestamp(at_s * 1000),
            source: String::new(),
            kind: ObservationKind::Metric {
                entity: EntityId(entity.to_string()),
                metric: "cpu".to_string(),
                samples: (0..n).map(|i| (Timestamp((at_s + i * 15) * 1000), i as f64)).collect(),
            },
        }
    }

    #[test]
    fn unpinned_series_keep_only_recent_data_and_pinned_ones_keep_more() {
        let mut m = MetricHistory::default();
        m.pinned.insert((EntityId("host:a".into()), "cpu".into()));
        // Four hours at a 15 s step for two series.
        m.observe(&[metric("host:a", 0, 960), metric("host:b", 0, 960)]);
        let a = m.window(&EntityId("host:a".into()), "cpu", Timestamp(0), Timestamp(i64::MAX));
        let b = m.window(&EntityId("host:b".into()), "cpu", Timestamp(0), Timestamp(i64::MAX));
        assert_eq!(a.len(), 960);
        assert_eq!(b.len(), 121, "30 minutes at 15 s, both ends included");
        assert_eq!(m.samples(), 960 + 121);
        // A window stops at its end: nothing after `to`.
        let w = m.window(&EntityId("host:a".into()), "cpu", Timestamp(0), Timestamp(150_000));
        assert_eq!(w.last().map(|s| s.0), Some(Timestamp(150_000)));
    }
}
