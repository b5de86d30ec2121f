//! Which sources were stale in a period, and for how long: the handover report's "Sources".
//!
//! Two bases, the better one the file has:
//! - **Health facts** (`source_health` in the journal, written by the agent on every change of
//!   a source's health): the status bar's own verdict, with why. Not fooled by a quiet source,
//!   a slow poll interval or observation retention.
//! - **Data gaps** (journals without health facts, bundles, the UI's own feed): a metric source
//!   that sent nothing for over [`STALE_GAP_MS`] is taken as stale. Only metric observations
//!   count: they are always journaled (the agent leaves out only observations the engine calls
//!   quiet, and a metric sample never is), while alerts and log patterns come when something
//!   happens, so their silence says nothing. Wrong for a source polled less often than
//!   [`STALE_GAP_MS`]; the report names its basis so the reader knows which it is.

use super::handover::Period;
use crate::journal::HealthChange;
use crate::model::Timestamp;
use std::collections::BTreeSet;

/// A source whose data stopped for longer than this is reported as stale (milliseconds): the
/// same bar as the status line's lag (`ui::freshness::STALE_LAG_MS`).
pub const STALE_GAP_MS: i64 = 60_000;

/// What the stretches were built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Basis {
    /// The agent's recorded health changes.
    Health,
    /// Gaps over [`STALE_GAP_MS`] in each source's metric data.
    #[default]
    DataGaps,
}

/// A stretch in which a source was stale (or, by data gaps, sent no data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleStretch {
    pub source: String,
    /// Its start (by data gaps: its last data before the gap), never before the period.
    pub from: Timestamp,
    /// Its end (healthy again, or its first data after the gap; else the period's end).
    pub until: Timestamp,
    /// Why, when the agent recorded it.
    pub reason: Option<String>,
}

/// The stale stretches of a period and what they rest on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Staleness {
    pub basis: Basis,
    /// Every source the basis knows of in the period (health facts only; empty by data gaps).
    pub sources: BTreeSet<String>,
    pub stretches: Vec<StaleStretch>,
}

impl Staleness {
    /// By data gaps: the stretches longer than [`STALE_GAP_MS`] without data of each source,
    /// from the data times of its metric observations (`(source, data time)`, any order); a
    /// source silent up to the period's end is stale until the end.
    pub fn from_gaps(mut seen: Vec<(String, Timestamp)>, period: Period) -> Staleness {
        seen.sort();
        let mut stretches = Vec::new();
        let mut i = 0;
        while i < seen.len() {
            let source = seen[i].0.clone();
            let mut last = seen[i].1;
            i += 1;
            while i < seen.len() && seen[i].0 == source {
                let t = seen[i].1;
                if t.since(last) > STALE_GAP_MS {
                    stretches.push(StaleStretch { source: source.clone(), from: last, until: t, reason: None });
                }
                last = t;
                i += 1;
            }
            if period.until.since(last) > STALE_GAP_MS {
                stretches.push(StaleStretch { source, from: last, until: period.until, reason: None });
            }
        }
        Staleness { basis: Basis::DataGaps, sources: BTreeSet::new(), stretches }
    }

    /// By health facts: `changes` ordered by source then time, each source's state when the
    /// period began first (as [`crate::journal::Journal::source_health_between`] reads them). A
    /// stretch runs from the change to stale until the change back to healthy, clipped to the
    /// period; a source still stale at its end is stale until the end.
    pub fn from_health(changes: &[HealthChange], period: Period) -> Staleness {
        let mut stretches = Vec::new();
        let mut sources = BTreeSet::new();
        let mut open: Option<&HealthChange> = None;
        let close = |start: &HealthChange, until: Timestamp, out: &mut Vec<StaleStretch>| {
            let from = start.at.max(period.from);
            if until > from {
                out.push(StaleStretch { source: start.source.clone(), from, until, reason: start.stale.clone() });
            }
        };
        let changes: Vec<&HealthChange> = changes.iter().filter(|c| c.at <= period.until).collect();
        for (i, &c) in changes.iter().enumerate() {
            sources.insert(c.source.clone());
            match (&c.stale, open) {
                (Some(_), None) => open = Some(c),
                (None, Some(start)) => {
                    close(start, c.at, &mut stretches);
                    open = None;
                }
                _ => {}
            }
            let last_of_source = changes.get(i + 1).is_none_or(|n| n.source != c.source);
            if last_of_source {
                if let Some(start) = open.take() {
                    close(start, period.until, &mut stretches);
                }
            }
        }
        Staleness { basis: Basis::Health, sources, stretches }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> Timestamp {
        Timestamp(min * 60_000)
    }

    fn minutes(s: &Staleness) -> Vec<(&str, i64, i64)> {
        s.stretches.iter().map(|s| (s.source.as_str(), s.from.millis() / 60_000, s.until.millis() / 60_000)).collect()
    }

    #[test]
    fn gaps_over_a_minute_are_stale_stretches() {
        let seen = vec![
            ("prom".to_string(), t(0)),
            ("am".to_string(), t(0)),
            ("prom".to_string(), t(1)),
            ("prom".to_string(), t(5)),
            ("prom".to_string(), t(10)),
            ("am".to_string(), t(10)),
        ];
        let stale = Staleness::from_gaps(seen, Period { from: t(0), until: t(10) });
        assert_eq!(minutes(&stale), vec![("am", 0, 10), ("prom", 1, 5), ("prom", 5, 10)]);
        assert_eq!(stale.basis, Basis::DataGaps);
    }

    #[test]
    fn health_facts_give_stretches_from_stale_to_healthy_clipped_to_the_period() {
        let change = |source: &str, min: i64, stale: Option<&str>| HealthChange {
            source: source.to_string(),
            at: t(min),
            stale: stale.map(str::to_string),
        };
        let changes = vec![
            // Stale since before the period, healthy at 20, stale again until the end.
            change("am", -30, Some("connection refused")),
            change("am", 20, None),
            change("am", 50, Some("timed out")),
            // Healthy before the period, one outage inside it.
            change("prom", -5, None),
            change("prom", 30, Some("HTTP 503")),
            change("prom", 35, None),
            // Healthy throughout: known, never stale.
            change("loki", -90, None),
        ];
        let stale = Staleness::from_health(&changes, Period { from: t(0), until: t(60) });
        assert_eq!(minutes(&stale), vec![("am", 0, 20), ("am", 50, 60), ("prom", 30, 35)]);
        assert_eq!(stale.stretches[0].reason.as_deref(), Some("connection refused"));
        assert_eq!(stale.sources.iter().map(String::as_str).collect::<Vec<_>>(), vec!["am", "loki", "prom"]);
        assert_eq!(stale.basis, Basis::Health);
    }
}
