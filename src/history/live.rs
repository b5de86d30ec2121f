//! The history as a UI keeps it: summaries folded from the events it receives, an index of the
//! problems that resolved, and each metric source's gaps, all updated as data arrives (no I/O),
//! so the detail's SIMILAR block and the report overlay are computed in `update`, never drawn
//! from the journal. The UI already holds every event of its journal for the replay cursor, so
//! this is the same history the CLI reads, without a second reader or channel.

use super::handover::{Format, Handover, Period};
use super::similar::{outcome_line, Index};
use super::staleness::{StaleStretch, Staleness, STALE_GAP_MS};
use super::summary::{fold_into, IncidentSummary};
use crate::journal::HealthChange;
use crate::model::{EventKind, Observation, ObservationKind, Problem, ProblemEvent, ProblemId, Timestamp};
use std::collections::BTreeMap;

/// How far back the UI's report looks from the cursor (milliseconds).
pub const REPORT_PERIOD_MS: i64 = 12 * 3_600_000;

/// One similar past problem as the detail shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarRow {
    pub id: ProblemId,
    pub score: f64,
    pub headline: String,
    /// When, how long, what resolved it.
    pub outcome: String,
    pub matched: Vec<String>,
}

/// The similar block of one problem, with what it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarBlock {
    pub problem: ProblemId,
    /// Changes when the problem's ranking, signals or cause change, or the index grows.
    pub key: (ProblemId, Option<String>, usize, bool, usize),
    pub rows: Vec<SimilarRow>,
}

#[derive(Debug, Clone, Default)]
pub struct LiveHistory {
    summaries: BTreeMap<ProblemId, IncidentSummary>,
    index: Index,
    last_metric: BTreeMap<String, Timestamp>,
    stale: Vec<StaleStretch>,
    /// Each source's health changes as the feed reported them (a live agent reports them; a
    /// demo or a recording does not): when there are any, the report rests on them, as
    /// `faultline report` rests on the journal's rows, not on gaps in the data.
    health: BTreeMap<String, Vec<HealthChange>>,
}

impl LiveHistory {
    /// Folds events in; a problem enters the index when it resolves.
    pub fn events(&mut self, events: &[ProblemEvent]) {
        for e in events {
            fold_into(&mut self.summaries, e);
            if matches!(e.kind, EventKind::Resolved) {
                if let Some(s) = self.summaries.get(&e.problem) {
                    self.index.push(s.clone());
                }
            }
        }
    }

    /// Notes a source's health as the feed reported it at data time `at`: healthy (`None`) or
    /// stale with why; only changes are kept.
    pub fn source_health(&mut self, source: &str, stale: Option<&str>, at: Timestamp) {
        let stale = stale.map(str::to_string);
        let changes = self.health.entry(source.to_string()).or_default();
        if changes.last().is_none_or(|c| c.stale.is_some() != stale.is_some()) {
            changes.push(HealthChange { source: source.to_string(), at, stale });
        }
    }

    /// Notes when each source sent metric data, keeping its gaps over [`STALE_GAP_MS`].
    pub fn observations(&mut self, observations: &[Observation]) {
        for o in observations.iter().filter(|o| matches!(o.kind, ObservationKind::Metric { .. })) {
            let name = if o.source.is_empty() { "data" } else { o.source.as_str() };
            match self.last_metric.get_mut(name) {
                Some(last) => {
                    if o.at.since(*last) > STALE_GAP_MS {
                        self.stale.push(StaleStretch {
                            source: name.to_string(),
                            from: *last,
                            until: o.at,
                            reason: None,
                        });
                    }
                    *last = (*last).max(o.at);
                }
                None => {
                    self.last_metric.insert(name.to_string(), o.at);
                }
            }
        }
    }

    /// The similar block of `problem` as it stands, unless `current` is already it.
    pub fn similar(&self, problem: &Problem, current: Option<&SimilarBlock>, limit: usize) -> Option<SimilarBlock> {
        let query = IncidentSummary::of_problem(problem);
        let key = (
            problem.id,
            query.root.as_ref().map(|r| r.summary.clone()),
            query.signals.len(),
            query.foundational.is_some(),
            self.index.len(),
        );
        if current.is_some_and(|c| c.key == key) {
            return None;
        }
        let rows = self
            .index
            .similar(&query, limit)
            .into_iter()
            .map(|m| {
                let s = &self.index.summaries()[m.index];
                SimilarRow {
                    id: m.id,
                    score: m.score,
                    headline: s.headline().to_string(),
                    outcome: outcome_line(s),
                    matched: m.matched,
                }
            })
            .collect();
        Some(SimilarBlock { problem: problem.id, key, rows })
    }

    /// The handover report of the [`REPORT_PERIOD_MS`] up to `until`, as text lines.
    pub fn report(&self, until: Timestamp, source: &str) -> Vec<String> {
        let period = Period { from: until.plus_ms(-REPORT_PERIOD_MS), until };
        let alive = self.summaries.values().filter(|s| s.opened_at <= until);
        let stale = self.staleness(period);
        Handover::new(alive, period, source, stale).render(Format::Text).lines().map(str::to_string).collect()
    }

    /// The stale sources of `period`: from the health the feed reported, when it reported any,
    /// else from the gaps in each source's metric data.
    fn staleness(&self, period: Period) -> Staleness {
        if !self.health.is_empty() {
            let changes: Vec<HealthChange> = self.health.values().flatten().cloned().collect();
            return Staleness::from_health(&changes, period);
        }
        let mut stale: Vec<StaleStretch> =
            self.stale.iter().filter(|s| s.until >= period.from && s.from <= period.until).cloned().collect();
        for (source, last) in &self.last_metric {
            if period.until.since(*last) > STALE_GAP_MS {
                stale.push(StaleStretch { source: source.clone(), from: *last, until: period.until, reason: None });
            }
        }
        Staleness { stretches: stale, ..Staleness::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntityId;

    fn metric(source: &str, at: Timestamp) -> Observation {
        let kind =
            ObservationKind::Metric { entity: EntityId::new("host:a"), metric: "cpu".into(), samples: vec![(at, 0.5)] };
        Observation { at, source: source.to_string(), kind }
    }

    #[test]
    fn reported_health_decides_the_stale_sources_not_gaps_in_data() {
        let t = |min: i64| Timestamp(1_767_571_200_000 + min * 60_000);
        let mut h = LiveHistory::default();
        // A source polled every 5 minutes: its data has gaps over a minute, but it was healthy.
        h.observations(&(0..12).map(|k| metric("prom", t(k * 5))).collect::<Vec<_>>());
        let by_gaps = h.report(t(60), "live").join("\n");
        assert!(by_gaps.contains("prom") && by_gaps.contains("stale"), "{by_gaps}");
        // What the agent reported: healthy, stale for ten minutes with why, healthy again.
        h.source_health("prom", None, t(0));
        h.source_health("prom", Some("cannot connect"), t(20));
        h.source_health("prom", Some("cannot connect (and 2 more)"), t(25));
        h.source_health("prom", None, t(30));
        let by_health = h.report(t(60), "live").join("\n");
        assert!(by_health.contains("stale 1 time(s), 10m in all"), "{by_health}");
        assert!(by_health.contains("cannot connect"), "{by_health}");
    }
}
