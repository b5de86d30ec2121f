//! From log lines to [`ObservationKind::LogPattern`] observations: lines are mined and counted per
//! (entity, template, level) over fixed intervals of data time; each interval that saw lines is
//! reported once it ends, stamped with its end.
//!
//! Intervals are aligned to multiples of `interval_ms` from the epoch, so the same lines always
//! fall in the same intervals. A line whose time is before the current interval (late data) is
//! counted in the current one. The engine turns an error-level count of `log_burst_min` or more
//! into a log-burst signal; a template created during the interval is reported with `new` set.
//!
//! Beside the counts, each interval reports a bounded sample of the raw lines per entity
//! ([`SampledLines`], [`ObservationKind::LogLines`]): the first line of each template seen in the
//! interval, then error and warning lines, at most `sample_lines` per entity, in time order. The
//! journal keeps those for the console to show; the full stream stays in the log backend. The
//! `*_observed` methods report both as observations, in time order; [`LogPatterns::line`],
//! [`LogPatterns::advance`] and [`LogPatterns::flush`] report the counts alone.

use super::{detect_level, MinerConfig, Parsed, TemplateChange, TemplateId, TemplateMiner};
use crate::model::{EntityId, LogLine, Observation, ObservationKind, Severity, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tunables of the log pattern counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogPatternConfig {
    pub miner: MinerConfig,
    /// Length of a counting interval, in milliseconds of data time.
    pub interval_ms: i64,
    /// Raw lines kept per entity per interval (0: none). 20 a minute covers a few templates'
    /// first lines and a burst's errors while a day of one chatty entity stays under 30 000
    /// lines in the journal.
    pub sample_lines: usize,
}

impl Default for LogPatternConfig {
    fn default() -> Self {
        LogPatternConfig { miner: MinerConfig::default(), interval_ms: 60_000, sample_lines: 20 }
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

/// The raw lines kept of one entity in one interval.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SampledLines {
    /// End of the interval.
    pub at: Timestamp,
    pub entity: EntityId,
    /// In data-time order.
    pub lines: Vec<LogLine>,
}

impl SampledLines {
    /// The observation the journal keeps and the console shows.
    fn to_observation(&self, source: &str) -> Observation {
        Observation {
            at: self.at,
            source: source.to_string(),
            kind: ObservationKind::LogLines { entity: self.entity.clone(), lines: self.lines.clone() },
        }
    }
}

/// What ended intervals report: the counts, then the sampled lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct LogReport {
    /// Sorted by end of interval, entity, template id, level.
    pub counts: Vec<PatternCount>,
    /// Sorted by end of interval, entity.
    pub samples: Vec<SampledLines>,
}

impl LogReport {
    /// Both as observations in time order, the counts of an interval before its samples.
    fn into_observations(self, source: &str, out: &mut Vec<Observation>) {
        let mut samples = self.samples.into_iter().peekable();
        for count in &self.counts {
            while let Some(s) = samples.next_if(|s| s.at < count.at) {
                out.push(s.to_observation(source));
            }
            out.push(count.to_observation(source));
        }
        out.extend(samples.map(|s| s.to_observation(source)));
    }
}

/// The sample of one entity's lines in the current interval: the first line of each template
/// and the error and warning lines, each list bounded by `sample_lines`.
#[derive(Debug, Default)]
struct Sample {
    firsts: Vec<LogLine>,
    templates: std::collections::BTreeSet<TemplateId>,
    alarming: Vec<LogLine>,
}

impl Sample {
    fn keep(&mut self, id: TemplateId, line: LogLine, cap: usize) {
        if !self.templates.contains(&id) {
            if self.firsts.len() < cap {
                self.templates.insert(id);
                self.firsts.push(line);
            }
        } else if line.level >= Severity::Warning && self.alarming.len() < cap {
            self.alarming.push(line);
        }
    }

    /// Firsts, then alarming lines, up to `cap`, in time order (stable: arrival order at ties).
    fn into_lines(self, cap: usize) -> Vec<LogLine> {
        let mut lines = self.firsts;
        let room = cap.saturating_sub(lines.len());
        lines.extend(self.alarming.into_iter().take(room));
        lines.sort_by_key(|l| l.at);
        lines
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
    sample_lines: usize,
    /// End of the current interval (exclusive); `None` before the first line.
    interval_end: Option<Timestamp>,
    tallies: BTreeMap<EntityId, BTreeMap<(TemplateId, Severity), Tally>>,
    samples: BTreeMap<EntityId, Sample>,
}

impl LogPatterns {
    pub fn new(config: LogPatternConfig) -> LogPatterns {
        LogPatterns {
            miner: TemplateMiner::new(config.miner),
            interval_ms: config.interval_ms.max(1),
            sample_lines: config.sample_lines,
            interval_end: None,
            tallies: BTreeMap::new(),
            samples: BTreeMap::new(),
        }
    }

    pub fn miner(&self) -> &TemplateMiner {
        &self.miner
    }

    /// Counts one line of `entity` seen at `at`. Intervals that ended at or before `at` are
    /// reported to `out` first (counts only; see [`LogPatterns::line_sampled`]).
    pub fn line(&mut self, entity: &EntityId, line: &str, at: Timestamp, out: &mut Vec<PatternCount>) -> Parsed {
        counts_only(out, |report| self.line_report(entity, line, None, at, report))
    }

    /// Data time reached `at` (a quiet period, a tick): reports the interval if it has ended.
    pub fn advance(&mut self, at: Timestamp, out: &mut Vec<PatternCount>) {
        counts_only(out, |report| self.advance_report(at, report))
    }

    /// Reports the current interval now, as if it had ended (shutdown, end of a replay).
    pub fn flush(&mut self, out: &mut Vec<PatternCount>) {
        counts_only(out, |report| self.flush_report(report))
    }

    /// [`LogPatterns::line`] reporting ended intervals as observations of `source`: each
    /// interval's [`ObservationKind::LogPattern`] counts, then its [`ObservationKind::LogLines`]
    /// samples. `level` overrides the level the line declares (a backend or a scenario that
    /// labels levels itself); `None` detects it from the text.
    pub fn line_observed(
        &mut self,
        entity: &EntityId,
        line: &str,
        level: Option<Severity>,
        at: Timestamp,
        source: &str,
        out: &mut Vec<Observation>,
    ) -> Parsed {
        let mut report = LogReport::default();
        let parsed = self.line_report(entity, line, level, at, &mut report);
        report.into_observations(source, out);
        parsed
    }

    /// [`LogPatterns::advance`] reporting counts and samples as observations of `source`.
    pub fn advance_observed(&mut self, at: Timestamp, source: &str, out: &mut Vec<Observation>) {
        let mut report = LogReport::default();
        self.advance_report(at, &mut report);
        report.into_observations(source, out);
    }

    /// [`LogPatterns::flush`] reporting counts and samples as observations of `source`.
    pub fn flush_observed(&mut self, source: &str, out: &mut Vec<Observation>) {
        let mut report = LogReport::default();
        self.flush_report(&mut report);
        report.into_observations(source, out);
    }

    fn line_report(
        &mut self,
        entity: &EntityId,
        line: &str,
        level: Option<Severity>,
        at: Timestamp,
        out: &mut LogReport,
    ) -> Parsed {
        self.advance_report(at, out);
        if self.interval_end.is_none() {
            self.interval_end = Some(self.end_of_interval(at));
        }
        // Credentials never reach the miner's templates or the kept samples (both are journaled).
        let scrubbed = super::scrub(line);
        let line: &str = &scrubbed;
        let parsed = self.miner.add(line);
        let level = level.or_else(|| detect_level(line)).unwrap_or(Severity::Info);
        if !self.tallies.contains_key(entity) {
            self.tallies.insert(entity.clone(), BTreeMap::new());
        }
        if let Some(by_template) = self.tallies.get_mut(entity) {
            let tally = by_template.entry((parsed.id, level)).or_insert_with(|| Tally {
                count: 0,
                new: false,
                template: self.miner.template(parsed.id).unwrap_or_default().to_string(),
            });
            tally.count += 1;
            tally.new |= parsed.change == TemplateChange::Created;
        }
        if self.sample_lines > 0 {
            let kept = LogLine { at, level, template_id: parsed.id.to_string(), line: self.cut(line).to_string() };
            if !self.samples.contains_key(entity) {
                self.samples.insert(entity.clone(), Sample::default());
            }
            if let Some(sample) = self.samples.get_mut(entity) {
                sample.keep(parsed.id, kept, self.sample_lines);
            }
        }
        parsed
    }

    fn advance_report(&mut self, at: Timestamp, out: &mut LogReport) {
        if let Some(end) = self.interval_end {
            if at >= end {
                self.report(end, out);
                self.interval_end = Some(self.end_of_interval(at));
            }
        }
    }

    fn flush_report(&mut self, out: &mut LogReport) {
        if let Some(end) = self.interval_end.take() {
            self.report(end, out);
        }
    }

    /// The line as kept: at most the miner's `max_line_bytes`, cut at a character boundary.
    fn cut<'a>(&self, line: &'a str) -> &'a str {
        super::cut(line, self.miner.config().max_line_bytes)
    }

    fn end_of_interval(&self, at: Timestamp) -> Timestamp {
        let start = at.millis().div_euclid(self.interval_ms).saturating_mul(self.interval_ms);
        Timestamp(start.saturating_add(self.interval_ms))
    }

    /// Counts sorted by entity, then template id, then level; samples by entity.
    fn report(&mut self, end: Timestamp, out: &mut LogReport) {
        for (entity, sample) in std::mem::take(&mut self.samples) {
            let lines = sample.into_lines(self.sample_lines);
            if !lines.is_empty() {
                out.samples.push(SampledLines { at: end, entity, lines });
            }
        }
        for (entity, by_template) in std::mem::take(&mut self.tallies) {
            for ((template_id, level), tally) in by_template {
                let template = self.miner.template(template_id).map(str::to_string).unwrap_or(tally.template);
                out.counts.push(PatternCount {
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

/// Runs a sampled call with `out` as its counts, dropping the samples.
fn counts_only<T>(out: &mut Vec<PatternCount>, f: impl FnOnce(&mut LogReport) -> T) -> T {
    let mut report = LogReport { counts: std::mem::take(out), samples: Vec::new() };
    let result = f(&mut report);
    *out = report.counts;
    result
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
    fn each_interval_samples_first_lines_of_templates_then_errors_and_warnings() {
        let config = LogPatternConfig { sample_lines: 4, ..LogPatternConfig::default() };
        let mut p = LogPatterns::new(config);
        let (api, db) = (EntityId::new("service:api"), EntityId::new("database:db"));
        let mut out = Vec::new();
        for i in 0..5 {
            p.line_observed(&api, &format!("GET /items/{i} 200"), None, Timestamp(i * 100), "loki", &mut out);
        }
        for i in 0..5 {
            let line = format!("ERROR timeout after {i} ms");
            p.line_observed(&api, &line, None, Timestamp(1_000 + i * 100), "loki", &mut out);
        }
        p.line_observed(&api, "disk usage 91%", Some(Severity::Warning), Timestamp(2_000), "loki", &mut out);
        p.line_observed(&db, "checkpoint complete", None, Timestamp(3_000), "loki", &mut out);
        assert!(out.is_empty(), "nothing before the interval ends");
        p.advance_observed(Timestamp(60_000), "loki", &mut out);

        // Counts first (as `advance` reports them), then one sample per entity (in entity
        // order), all stamped with the interval's end.
        let kinds: Vec<&str> = out
            .iter()
            .map(|o| match &o.kind {
                ObservationKind::LogPattern { .. } => "count",
                ObservationKind::LogLines { .. } => "lines",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["count", "count", "count", "count", "lines", "lines"]);
        assert!(out.iter().all(|o| o.at == Timestamp(60_000) && o.source == "loki"));
        let ObservationKind::LogLines { entity, lines } = &out[5].kind else { panic!() };
        assert_eq!(entity, &api);
        // Three templates' first lines (request, timeout, disk), then one more error up to 4.
        let texts: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
        assert_eq!(
            texts,
            ["GET /items/0 200", "ERROR timeout after 0 ms", "ERROR timeout after 1 ms", "disk usage 91%"]
        );
        assert_eq!(lines[1].level, Severity::Major);
        assert_eq!(lines[3].level, Severity::Warning, "the given level wins over the text's");
        assert_eq!(lines[1].template_id, lines[2].template_id);
        // The counts beside them agree with the plain `advance`.
        let timeouts = out.iter().find_map(|o| match &o.kind {
            ObservationKind::LogPattern { count, template_id, .. } if *template_id == lines[1].template_id => {
                Some(*count)
            }
            _ => None,
        });
        assert_eq!(timeouts, Some(5));
    }

    #[test]
    fn samples_are_off_with_zero_lines_and_long_lines_are_cut() {
        let mut p = LogPatterns::new(LogPatternConfig { sample_lines: 0, ..LogPatternConfig::default() });
        let e = EntityId::new("host:a");
        let mut out = Vec::new();
        p.line_observed(&e, "disk full", None, Timestamp(0), "loki", &mut out);
        p.flush_observed("loki", &mut out);
        assert!(out.iter().all(|o| matches!(o.kind, ObservationKind::LogPattern { .. })), "{out:?}");

        let mut config = LogPatternConfig::default();
        config.miner.max_line_bytes = 8;
        let mut p = LogPatterns::new(config);
        let mut out = Vec::new();
        p.line_observed(&e, "éééééééé long", None, Timestamp(0), "loki", &mut out);
        p.flush_observed("loki", &mut out);
        let Some(ObservationKind::LogLines { lines, .. }) = out.last().map(|o| &o.kind) else { panic!("{out:?}") };
        assert_eq!(lines[0].line, "éééé");
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
