//! From log lines to [`ObservationKind::LogPattern`] observations: lines are mined and counted per
//! (entity, template, level) over fixed intervals of data time; each interval that saw lines is
//! reported once it ends, stamped with its end.
//!
//! Intervals are aligned to multiples of `interval_ms` from the epoch, so the same lines always
//! fall in the same intervals. A line whose time is before the current interval (late data) is
//! counted in the current one. The engine turns an error-level count of `log_burst_min` or more
//! into a log-burst signal; a template created during the interval is reported with `new` set.

use super::{detect_level, MinerConfig, Parsed, TemplateChange, TemplateId, TemplateMiner};
use crate::model::{EntityId, Observation, ObservationKind, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tunables of the log pattern counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogPatternConfig {
    pub miner: MinerConfig,
    /// Length of a counting interval, in milliseconds of data time.
    pub interval_ms: i64,
}

impl Default for LogPatternConfig {
    fn default() -> Self {
        LogPatternConfig { miner: MinerConfig::default(), interval_ms: 60_000 }
    }
}

/// Lines of one template, level and entity in one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternCount {
    /// End of the interval.
    pub at: Timestamp,
    pub entity: EntityId,
    pub template_id: TemplateId,
    /// The template as it is at the end of the interval.
    pub template: String,
    /// The level the lines declared ([`Severity::Info`] when none).
    pub level: Severity,
    pub count: u64,
    /// The template was created during the interval (a pattern never seen before).
    pub new: bool,
}

impl PatternCount {
    /// The observation the engine takes.
    pub fn to_observation(&self, source: &str) -> Observation {
        Observation {
            at: self.at,
            source: source.to_string(),
            kind: ObservationKind::LogPattern {
                entity: self.entity.clone(),
                template_id: self.template_id.to_string(),
                template: self.template.clone(),
                level: self.level,
                count: self.count,
                new_template: self.new,
            },
        }
    }
}

#[derive(Debug)]
struct Tally {
    count: u64,
    new: bool,
    /// The template when first counted, in case the miner forgets it before the interval ends.
    template: String,
}

/// The miner and the counts of the current interval.
pub struct LogPatterns {
    miner: TemplateMiner,
    interval_ms: i64,
    /// End of the current interval (exclusive); `None` before the first line.
    interval_end: Option<Timestamp>,
    tallies: BTreeMap<EntityId, BTreeMap<(TemplateId, Severity), Tally>>,
}

impl LogPatterns {
    pub fn new(config: LogPatternConfig) -> LogPatterns {
        LogPatterns {
            miner: TemplateMiner::new(config.miner),
            interval_ms: config.interval_ms.max(1),
            interval_end: None,
            tallies: BTreeMap::new(),
        }
    }

    pub fn miner(&self) -> &TemplateMiner {
        &self.miner
    }

    /// Counts one line of `entity` seen at `at`. Intervals that ended at or before `at` are
    /// reported to `out` first.
    pub fn line(&mut self, entity: &EntityId, line: &str, at: Timestamp, out: &mut Vec<PatternCount>) -> Parsed {
        self.advance(at, out);
        if self.interval_end.is_none() {
            self.interval_end = Some(self.end_of_interval(at));
        }
        let parsed = self.miner.add(line);
        let level = detect_level(line).unwrap_or(Severity::Info);
        if !self.tallies.contains_key(entity) {
            self.tallies.insert(entity.clone(), BTreeMap::new());
        }
        let Some(by_template) = self.tallies.get_mut(entity) else { return parsed };
        let tally = by_template.entry((parsed.id, level)).or_insert_with(|| Tally {
            count: 0,
            new: false,
            template: self.miner.template(parsed.id).unwrap_or_default().to_string(),
        });
        tally.count += 1;
        tally.new |= parsed.change == TemplateChange::Created;
        parsed
    }

    /// Data time reached `at` (a quiet period, a tick): reports the interval if it has ended.
    pub fn advance(&mut self, at: Timestamp, out: &mut Vec<PatternCount>) {
        if let Some(end) = self.interval_end {
            if at >= end {
                self.report(end, out);
                self.interval_end = Some(self.end_of_interval(at));
            }
        }
    }

    /// Reports the current interval now, as if it had ended (shutdown, end of a replay).
    pub fn flush(&mut self, out: &mut Vec<PatternCount>) {
        if let Some(end) = self.interval_end.take() {
            self.report(end, out);
        }
    }

    fn end_of_interval(&self, at: Timestamp) -> Timestamp {
        let start = at.millis().div_euclid(self.interval_ms).saturating_mul(self.interval_ms);
        Timestamp(start.saturating_add(self.interval_ms))
    }

    /// Sorted by entity, then template id, then level.
    fn report(&mut self, end: Timestamp, out: &mut Vec<PatternCount>) {
        for (entity, by_template) in std::mem::take(&mut self.tallies) {
            for ((template_id, level), tally) in by_template {
                let template = self.miner.template(template_id).map(str::to_string).unwrap_or(tally.template);
                out.push(PatternCount {
                    at: end,
                    entity: entity.clone(),
                    template_id,
                    template,
                    level,
                    count: tally.count,
                    new: tally.new,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(interval_ms: i64) -> LogPatterns {
        LogPatterns::new(LogPatternConfig { interval_ms, ..LogPatternConfig::default() })
    }

    #[test]
    fn counts_per_entity_template_and_level_are_reported_when_the_interval_ends() {
        let mut p = patterns(60_000);
        let (api, db) = (EntityId::new("service:api"), EntityId::new("database:db"));
        let mut out = Vec::new();
        for i in 0..6 {
            let line = format!("connection to 10.0.0.{i}:5432 refused level=error");
            p.line(&api, &line, Timestamp(1_000 + i), &mut out);
        }
        p.line(&api, "connection to 10.0.0.9:5432 refused level=info", Timestamp(2_000), &mut out);
        p.line(&db, "checkpoint complete: wrote 12 buffers", Timestamp(3_000), &mut out);
        assert!(out.is_empty(), "nothing before the interval ends");
        p.line(&db, "checkpoint complete: wrote 7 buffers", Timestamp(60_000), &mut out);
        let seen: Vec<(&str, Severity, u64, bool)> =
            out.iter().map(|c| (c.entity.as_str(), c.level, c.count, c.new)).collect();
        assert_eq!(out.iter().map(|c| c.at).collect::<Vec<_>>(), vec![Timestamp(60_000); 3]);
        // database before service (entity order); the api's two levels of one template apart.
        assert_eq!(seen[0], ("database:db", Severity::Info, 1, true));
        assert!(seen[1..].contains(&("service:api", Severity::Major, 6, true)));
        assert!(seen[1..].contains(&("service:api", Severity::Info, 1, false)));
        // One template for both levels, reported as it is at the end of the interval.
        let api: Vec<&PatternCount> = out.iter().filter(|c| c.entity.as_str() == "service:api").collect();
        assert_eq!(api[0].template_id, api[1].template_id);
        assert_eq!(api[0].template, "connection to <*>:<*> refused level=<*>");

        // The second interval: the template is known now, so not new.
        out.clear();
        p.flush(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].at, out[0].count, out[0].new), (Timestamp(120_000), 1, false));
    }

    #[test]
    fn error_bursts_become_engine_signals() {
        use crate::engine::{Engine, EngineConfig};
        use crate::model::{EventKind, SignalKind};
        let mut p = patterns(60_000);
        let api = EntityId::new("service:api");
        let mut counts = Vec::new();
        for i in 0..8 {
            p.line(&api, &format!("2026-01-01 ERROR [pool] timeout after {i}ms"), Timestamp(i * 1000), &mut counts);
        }
        p.advance(Timestamp(61_000), &mut counts);
        let mut engine = Engine::new(EngineConfig::default());
        let mut events = Vec::new();
        for c in &counts {
            engine.observe(&c.to_observation("loki"), &mut events);
        }
        let burst = events.iter().find_map(|e| match &e.kind {
            EventKind::SignalAttached { signal } if signal.kind == SignalKind::LogBurst => Some(signal.clone()),
            _ => None,
        });
        let burst = burst.expect("an error burst signal");
        assert_eq!(burst.count, 8);
        assert_eq!(burst.severity, Severity::Major);
        // The template was new in that interval, and the observation says so.
        let obs = counts[0].to_observation("loki");
        assert!(matches!(obs.kind, crate::model::ObservationKind::LogPattern { new_template: true, .. }), "{obs:?}");
    }

    #[test]
    fn quiet_time_closes_the_interval_and_aligns_the_next() {
        let mut p = patterns(10_000);
        let e = EntityId::new("host:a");
        let mut out = Vec::new();
        p.line(&e, "disk full", Timestamp(15_000), &mut out);
        p.advance(Timestamp(19_999), &mut out);
        assert!(out.is_empty());
        p.advance(Timestamp(55_000), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].at, Timestamp(20_000));
        out.clear();
        p.line(&e, "disk full", Timestamp(56_000), &mut out);
        p.flush(&mut out);
        assert_eq!(out[0].at, Timestamp(60_000));
    }
}
