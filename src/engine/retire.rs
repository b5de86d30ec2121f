//! Bounded memory: what the engine forgets and retires as data time goes on, so that its state
//! does not grow with history (issue 16). Both run in the sweep, once per
//! [`super::SWEEP_EVERY_MS`] of data time, and emit no event: the journal keeps every event of
//! what is dropped here, and views fold those, never the engine's state.
//!
//! - **Forget** ([`super::EngineConfig::forget_resolved_after_ms`]): a problem resolved, or
//!   merged into another, that long ago is dropped with its traffic baselines. Of an old problem
//!   the engine needs nothing: it could reopen only within the reopen window (the forget age is
//!   never shorter); the all-clear rule and the cause-before-effect rule look at open problems
//!   only; the smart filter learns from the signals' own activations, not from problems. An
//!   operator's action on a forgotten problem is still recorded, on that problem's id.
//! - **Retire** ([`super::EngineConfig::retire_after_ms`]): a signal clear and unseen that long
//!   (log-pattern signals included) is dropped, unless an incident the engine still keeps holds
//!   it (the background problem lets its stale ones go); a metric series with no sample that long
//!   and no signal raised loses its detector state; traffic readings and changes of an entity
//!   that long quiet go; and an entity only signals named (no discovery or file description, no
//!   relations) leaves the live graph once nothing names it. Whatever comes back starts fresh,
//!   as if new. Discovery's entities stay until discovery says they are gone: they carry the
//!   relations correlation depends on. The topology history for replay is bounded apart (its
//!   `max_changes`).

use super::Engine;
use crate::model::{EntityId, SignalKey, Timestamp};
use std::collections::HashSet;

impl Engine {
    /// Drops the problems closed longer than the forget age ago.
    pub(super) fn forget(&mut self) {
        let age = self.config.forget_resolved_after_ms.max(self.config.reopen_window_ms);
        for id in self.problems.forget_closed(self.now.plus_ms(-age)) {
            self.traffic_before.remove(&id);
            if self.background == Some(id) {
                self.background = None;
            }
        }
    }

    /// Retires the signals, series, readings, changes and bare entities not seen within the
    /// retire age (see the module doc).
    pub(super) fn retire(&mut self) {
        let c = &self.config;
        let age = c.retire_after_ms.max(c.flap_window_ms).max(c.reopen_window_ms).max(c.correlation_window_ms);
        let cutoff = self.now.plus_ms(-age);
        self.retire_signals(cutoff);
        self.retire_series(cutoff);
        self.traffic.retire(cutoff);
        self.changes.retire(cutoff);
        self.retire_entities();
    }

    fn retire_signals(&mut self, cutoff: Timestamp) {
        let problems = &self.problems;
        let gone = self
            .signals
            .retire(cutoff, |e| e.problem.and_then(|p| problems.get(p)).is_some_and(|state| !state.background));
        for (key, problem) in gone {
            if let Some(state) = problem.and_then(|p| self.problems.get_mut(p)) {
                state.signals.remove(&key);
            }
        }
    }

    /// Drops the detector state of series silent since `cutoff` whose signals are all clear
    /// (a raised one must be able to clear when its series reports again).
    fn retire_series(&mut self, cutoff: Timestamp) {
        let (signals, detector) = (&self.signals, &mut self.detector);
        self.series.retain(|entity, metric, id| {
            let quiet = detector.last_sample(id).is_none_or(|t| t <= cutoff.0);
            if !quiet {
                return true;
            }
            let keys = [
                SignalKey(format!("anomaly:{entity}:{metric}")),
                SignalKey(format!("forecast:{entity}:{metric}")),
                super::rca::saturation_key(entity, metric),
            ];
            if keys.iter().any(|k| signals.get(k).is_some_and(|e| e.signal.active)) {
                return true;
            }
            detector.retire(id);
            false
        });
    }

    /// Takes bare entities that nothing names any more out of the live graph.
    fn retire_entities(&mut self) {
        // Only an entity without relations can go, and most have some: when none is without,
        // nothing else is looked at (the names below were a twelfth of the engine bench).
        let mut unrelated: Vec<&EntityId> = self.topology.unrelated().collect();
        if unrelated.is_empty() {
            return;
        }
        // In id order, as ever: the graph hands the freed node slots to new entities in turn.
        unrelated.sort_unstable();
        // A hash set: the sweep may visit every entity, and ordered string comparisons of all of
        // them were a tenth of the engine bench.
        let mut named: HashSet<&EntityId, foldhash::fast::RandomState> =
            self.signals.entries().map(|e| &e.signal.entity).collect();
        named.extend(self.series.entities());
        named.extend(self.traffic.entities());
        named.extend(self.kpis.keys().map(|(e, _)| e));
        named.extend(self.changes.entities());
        named.extend(self.problems.iter().flat_map(|p| p.entities.keys()));
        let idle: Vec<EntityId> = unrelated.into_iter().filter(|id| !named.contains(id)).cloned().collect();
        for id in idle {
            self.topology.retire_bare(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::tests::Feed;
    use crate::engine::{Engine, EngineConfig, EngineSnapshot};
    use crate::model::{
        AlertState, EntityId, EventKind, Observation, ObservationKind, ProblemEvent, ProblemId, ProblemSet,
        RelationKind, Severity, SignalKey, Timestamp,
    };

    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;

    fn obs(at: i64, kind: ObservationKind) -> Observation {
        Observation { at: Timestamp(at), source: "test".into(), kind }
    }

    fn alert(at: i64, entity: &str, name: &str, fingerprint: &str, state: AlertState) -> Observation {
        let kind = ObservationKind::Alert {
            entity: EntityId::new(entity),
            name: name.into(),
            fingerprint: fingerprint.into(),
            state,
            severity: Severity::Warning,
            labels: Default::default(),
            summary: String::new(),
        };
        obs(at, kind)
    }

    fn metric(at: i64, entity: &str, metric: &str, value: f64) -> Observation {
        let kind = ObservationKind::Metric {
            entity: EntityId::new(entity),
            metric: metric.into(),
            samples: vec![(Timestamp(at), value)],
        };
        obs(at, kind)
    }

    /// `days` of churn, in data-time order: every 30 minutes a short-lived pod (a new entity)
    /// reports its CPU for 20 minutes and fails (an alert firing 10 minutes): a new problem that
    /// resolves. Every 6 hours a new error template bursts on a long-lived service, and once a
    /// day the same host alert fires for an hour, on a fixed topology.
    fn churn(days: i64) -> Vec<Observation> {
        let mut out = Vec::new();
        for (from, to) in [("service:web", "service:api"), ("service:api", "database:db")] {
            let relation = crate::model::Relation {
                from: EntityId::new(from),
                kind: RelationKind::Calls,
                to: EntityId::new(to),
                learned_from: "test".into(),
            };
            out.push(obs(0, ObservationKind::Relation { relation }));
        }
        for k in 0..days * 48 {
            let t = k * 30 * MIN;
            let pod = format!("pod:job-{k}");
            for m in 0..20 {
                out.push(metric(t + m * MIN, &pod, "cpu", 0.3 + 0.01 * (m % 3) as f64));
                if m == 5 || m == 10 {
                    out.push(alert(t + m * MIN, &pod, "JobFailed", &format!("{pod}/JobFailed"), AlertState::Firing));
                }
                if m == 15 {
                    out.push(alert(t + m * MIN, &pod, "JobFailed", &format!("{pod}/JobFailed"), AlertState::Resolved));
                }
                if k % 12 == 0 && m == 1 {
                    let template = format!("error #{k} talking to db");
                    let kind = ObservationKind::LogPattern {
                        entity: EntityId::new("service:api"),
                        template_id: format!("t{k}"),
                        template,
                        level: Severity::Major,
                        count: 20,
                        new_template: false,
                    };
                    out.push(obs(t + m * MIN, kind));
                }
                if k % 48 == 3 && m == 2 {
                    out.push(alert(t + m * MIN, "host:a", "DiskFull", "host:a/DiskFull", AlertState::Firing));
                }
                if k % 48 == 5 && m == 2 {
                    out.push(alert(t + m * MIN, "host:a", "DiskFull", "host:a/DiskFull", AlertState::Resolved));
                }
            }
        }
        out.sort_by_key(|o| o.at);
        out
    }

    /// Short ages so a test of a few simulated days reaches the steady state.
    fn short() -> EngineConfig {
        EngineConfig { forget_resolved_after_ms: 6 * HOUR, retire_after_ms: 2 * DAY, ..EngineConfig::default() }
    }

    /// What the engine holds: problems, signals, detector series, series ids, entities.
    fn held(e: &Engine) -> [usize; 5] {
        let ids = e.series.len();
        [e.problems.len(), e.signals.len(), e.detector.series_count(), ids, e.topology.len()]
    }

    #[test]
    fn problems_signals_series_and_entities_stay_bounded_over_weeks_of_churn() {
        let days = 14;
        let mut engine = Engine::new(short());
        let mut events = Vec::new();
        // What the engine holds at the end of each day.
        let mut daily = Vec::new();
        let input = churn(days);
        let mut next_day = DAY;
        for o in &input {
            if o.at.0 >= next_day {
                daily.push(held(&engine));
                next_day += DAY;
            }
            engine.observe(o, &mut events);
        }
        daily.push(held(&engine));
        // Every pod failure opened a problem, and every one is in the events the views fold.
        let opened = events.iter().filter(|e| matches!(e.kind, EventKind::Opened { .. })).count();
        assert!(opened >= (days * 48) as usize, "{opened}");
        let set = ProblemSet::fold(&events);
        assert_eq!(set.problems.len(), opened, "the events still tell every problem");
        assert_eq!(set.problems.values().filter(|p| p.resolved_at.is_some()).count() + 1, opened);
        // The engine keeps only the last 6 hours of them (12 pods, the daily disk alert's and
        // the log bursts' problems, with one sweep period of slack): not the 670 ever opened.
        let [problems, signals, series, ids, entities] = *daily.last().unwrap();
        assert!(problems <= 16, "{daily:?}");
        // Signals, series and pods: those seen within the retire age (2 days, 96 pods) plus
        // the fixed ones.
        assert!(signals <= 96 + 8 + 10, "{daily:?}");
        assert!(series <= 96 + 2 && ids == series, "{daily:?}");
        assert!(entities <= 96 + 4 + 2, "{daily:?}");
        // Flat from day 3 on: the second week holds what the first did.
        for day in 3..daily.len() {
            for (what, (now, then)) in daily[day].iter().zip(daily[3].iter()).enumerate() {
                assert!(now.abs_diff(*then) <= 2, "day {day}, count {what}: {daily:?}");
            }
        }
        assert_eq!(engine.problems.open_count(), engine.problems.iter().filter(|p| p.is_open()).count());
    }

    #[test]
    fn a_snapshot_taken_between_sweeps_restores_the_same_future() {
        let input = churn(6);
        let mut whole = Engine::new(short());
        let mut expected = Vec::new();
        for o in &input {
            whole.observe(o, &mut expected);
        }
        // Stopped mid-period on day 4, with problems forgotten and series retired before.
        let k = input.partition_point(|o| o.at.0 < 4 * DAY + 37 * MIN);
        let mut first = Engine::new(short());
        let mut events = Vec::new();
        for o in &input[..k] {
            first.observe(o, &mut events);
        }
        let text = first.snapshot().to_json().unwrap();
        let mut restored = Engine::restore(EngineSnapshot::from_json(&text).unwrap()).unwrap();
        for o in &input[k..] {
            restored.observe(o, &mut events);
        }
        let bytes = |v: &[ProblemEvent]| serde_json::to_string(v).unwrap();
        assert!(bytes(&events) == bytes(&expected), "the same events after the restore");
        assert!(restored.snapshot().to_json().unwrap() == whole.snapshot().to_json().unwrap());
    }

    #[test]
    fn a_series_and_a_signal_silent_past_the_retire_age_are_retired_and_start_fresh() {
        let run = |retire_after_ms: i64| {
            let config = EngineConfig { retire_after_ms, ..EngineConfig::default() };
            let mut f = Feed { engine: Engine::new(config), events: Vec::new() };
            for m in 0..180 {
                let o = metric(m * MIN, "host:a", "latency", 100.0 + (m % 5) as f64);
                f.engine.observe(&o, &mut f.events);
            }
            f.alert(10 * MIN, "host:a", "Slow", AlertState::Firing);
            f.alert(20 * MIN, "host:a", "Slow", AlertState::Resolved);
            // Two days of nothing but time passing.
            for h in 3..51 {
                f.push(h * HOUR, ObservationKind::Tick);
            }
            f
        };
        let key = SignalKey("alert:host:a/Slow".into());
        let host = EntityId::new("host:a");

        // Retired after a day: no detector state, no series id, no signal, no entity.
        let mut f = run(DAY);
        assert!(f.engine.series.is_empty());
        assert_eq!(f.engine.detector.series_count(), 0);
        assert!(f.engine.signals.get(&key).is_none());
        assert!(f.engine.topology.entity(&host).is_none());
        assert_eq!(f.engine.problems.len(), 0, "its problem resolved two days ago: forgotten");
        // Back: a new series (new id, warming up from its first sample) and a new signal.
        let back = 51 * HOUR;
        f.engine.observe(&metric(back, "host:a", "latency", 100.0), &mut f.events);
        assert_eq!(f.engine.series.get(&host, "latency"), Some(1), "a new id: the old one (0) is not reused");
        assert_eq!(f.engine.detector.last_sample(1), Some(back));
        assert_eq!(f.engine.detector.last_sample(0), None);
        let attached = |f: &Feed| {
            let found = f.events.iter().rev().find_map(|e| match &e.kind {
                EventKind::SignalAttached { signal } if signal.key == key => Some(signal.clone()),
                _ => None,
            });
            found.expect("the signal attached")
        };
        f.alert(back, "host:a", "Slow", AlertState::Firing);
        let signal = attached(&f);
        assert_eq!((signal.count, signal.first_seen), (1, Timestamp(back)), "raised afresh");
        assert_eq!(f.engine.signals.get(&key).map(|e| e.activations.len()), Some(1));

        // Kept with a longer retire age: the same series and the old signal's history.
        let mut f = run(7 * DAY);
        assert_eq!(f.engine.series.get(&host, "latency"), Some(0));
        f.alert(back, "host:a", "Slow", AlertState::Firing);
        let signal = attached(&f);
        assert_eq!((signal.count, signal.first_seen), (2, Timestamp(10 * MIN)));
    }

    #[test]
    fn an_action_on_a_forgotten_problem_is_still_recorded_on_it() {
        let mut f = Feed::new();
        f.alert(0, "host:a", "Slow", AlertState::Firing);
        f.alert(MIN, "host:a", "Slow", AlertState::Resolved);
        f.push(3 * DAY, ObservationKind::Tick);
        assert!(f.engine.problems.get(ProblemId(1)).is_none(), "forgotten a day after it resolved");
        let silence = |problem| ObservationKind::Silence {
            problem,
            by: "ana@ops".into(),
            via: "am".into(),
            silences: Vec::new(),
            error: None,
        };
        f.push(3 * DAY, silence(ProblemId(1)));
        let last = f.events.last().unwrap();
        assert_eq!(last.problem, ProblemId(1));
        assert!(matches!(last.kind, EventKind::Silenced { .. }));
        // An id never opened is still refused.
        let n = f.events.len();
        f.push(3 * DAY, silence(ProblemId(9)));
        assert_eq!(f.events.len(), n);
    }

    #[test]
    fn the_background_problem_lets_its_stale_signals_go() {
        let config = EngineConfig { retire_after_ms: DAY, ..EngineConfig::default() };
        let mut f = Feed { engine: Engine::new(config), events: Vec::new() };
        // host:old flaps four times and goes quiet: marked, it opens the background problem.
        for i in 0..4 {
            f.alert(i * 6 * MIN, "host:old", "Flaps", AlertState::Firing);
            f.alert(i * 6 * MIN + 2 * MIN, "host:old", "Flaps", AlertState::Resolved);
        }
        // host:busy flaps every 4 minutes for two days: marked, it joins the background problem
        // and keeps it open (never clear for the 5 minutes that resolve it).
        for i in 0..2 * 24 * 15 {
            let t = 30 * MIN + i * 4 * MIN;
            f.alert(t, "host:busy", "Flaps", AlertState::Firing);
            f.alert(t + 2 * MIN, "host:busy", "Flaps", AlertState::Resolved);
        }
        let background = f.engine.background.expect("a background problem");
        assert_eq!(background, ProblemId(1));
        let state = f.engine.problems.get(background).expect("kept while open");
        assert!(state.is_open() && state.background);
        let keys: Vec<&str> = state.signals.iter().map(|k| k.0.as_str()).collect();
        assert_eq!(keys, ["alert:host:busy/Flaps"], "host:old's signal retired");
        assert!(f.engine.signals.get(&SignalKey("alert:host:old/Flaps".into())).is_none());
        // The events still show it in the background problem.
        let set = ProblemSet::fold(&f.events);
        assert!(set.problems[&background].signals.contains_key(&SignalKey("alert:host:old/Flaps".into())));
    }
}
