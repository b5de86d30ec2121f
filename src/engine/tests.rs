//! The whole pipe on small hand-built storms.

use super::*;
use crate::model::{ChangeKind, Entity, EntityKind, ProblemSet, ProblemStatus, Relation, RelationKind};

const MIN: i64 = 60_000;

/// An engine fed by hand, with its events (shared by the engine's test modules).
pub(super) struct Feed {
    pub(super) engine: Engine,
    pub(super) events: Vec<ProblemEvent>,
}

impl Feed {
    pub(super) fn new() -> Feed {
        Feed { engine: Engine::new(EngineConfig::default()), events: Vec::new() }
    }
    pub(super) fn push(&mut self, at: i64, kind: ObservationKind) {
        let obs = Observation { at: Timestamp(at), source: "test".into(), kind };
        self.engine.observe(&obs, &mut self.events);
    }
    pub(super) fn relate(&mut self, from: &str, kind: RelationKind, to: &str) {
        let relation = Relation { from: EntityId::new(from), kind, to: EntityId::new(to), learned_from: "test".into() };
        self.push(0, ObservationKind::Relation { relation });
    }
    pub(super) fn entity(&mut self, id: &str, kind: EntityKind, criticality: crate::model::Criticality) {
        let entity = Entity { criticality, ..Entity::new(EntityId::new(id), kind) };
        self.push(0, ObservationKind::Entity { entity });
    }
    fn metric(&mut self, at: i64, entity: &str, metric: &str, v: f64) {
        let samples = vec![(Timestamp(at), v)];
        self.push(at, ObservationKind::Metric { entity: EntityId::new(entity), metric: metric.into(), samples });
    }
    pub(super) fn alert(&mut self, at: i64, entity: &str, name: &str, state: AlertState) {
        self.push(
            at,
            ObservationKind::Alert {
                entity: EntityId::new(entity),
                name: name.into(),
                fingerprint: format!("{entity}/{name}"),
                state,
                severity: Severity::Warning,
                labels: Default::default(),
                summary: String::new(),
            },
        );
    }
    /// A burst of 20 error lines of `template` on `entity`.
    pub(super) fn log(&mut self, at: i64, entity: &str, template: &str) {
        let kind = ObservationKind::LogPattern {
            entity: EntityId::new(entity),
            template_id: template.into(),
            template: template.into(),
            level: Severity::Major,
            count: 20,
            new_template: false,
        };
        self.push(at, kind);
    }
    fn problems(&self) -> ProblemSet {
        ProblemSet::fold(&self.events)
    }
    /// Visible problems, each as the sorted keys of its signals.
    pub(super) fn groups(&self) -> Vec<Vec<String>> {
        let set = self.problems();
        let mut groups: Vec<Vec<String>> =
            set.visible().iter().map(|p| p.signals.keys().map(|k| k.0.clone()).collect()).collect();
        groups.sort();
        groups
    }
}

/// Deterministic wobble in [-1, 1].
fn wobble(i: i64) -> f64 {
    ((i.wrapping_mul(2_654_435_761) >> 16) % 2001) as f64 / 1000.0 - 1.0
}

/// frontend → checkout → orders (db) runs on db-1; batch-1 is elsewhere. CPU on db-1 saturates
/// at minute 30 after a deployment on the database at minute 25; the services slow down.
fn storm() -> Feed {
    use RelationKind::*;
    let mut f = Feed::new();
    f.push(
        0,
        ObservationKind::Entity {
            entity: Entity {
                id: EntityId::new("host:db-1"),
                kind: EntityKind::Host,
                name: "db-1".into(),
                labels: Default::default(),
                criticality: Default::default(),
                learned_from: String::new(),
            },
        },
    );
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    f.relate("database:orders", RunsOn, "host:db-1");
    f.relate("service:reporting", RunsOn, "host:batch-1");
    for i in 0..160 {
        let t = i * MIN / 2;
        let m = t / MIN;
        let bad = (30..60).contains(&m);
        f.metric(t, "host:db-1", "cpu", if bad { 0.97 } else { 0.3 + 0.02 * wobble(i) });
        f.metric(t, "host:batch-1", "cpu", 0.5 + 0.02 * wobble(i + 7));
        if m == 25 && t % MIN == 0 {
            let change = ChangeKind::Deployment;
            let description = "orders v2".to_string();
            f.push(t, ObservationKind::Change { entity: EntityId::new("database:orders"), change, description });
        }
        if (31..60).contains(&m) && t % MIN == 0 {
            f.alert(t, "service:checkout", "HighLatency", AlertState::Firing);
            f.alert(t, "service:frontend", "HighErrorRate", AlertState::Firing);
            f.alert(t, "database:orders", "SlowQueries", AlertState::Firing);
        }
        if m == 61 && t % MIN == 0 {
            for (e, n) in [("service:checkout", "HighLatency"), ("service:frontend", "HighErrorRate")] {
                f.alert(t, e, n, AlertState::Resolved);
            }
            f.alert(t, "database:orders", "SlowQueries", AlertState::Resolved);
        }
        // Noise: a disk alert flapping on batch-1 every 9 minutes.
        if m % 9 == 0 && t % MIN == 0 {
            f.alert(t, "host:batch-1", "DiskSpaceLow", AlertState::Firing);
        }
        if m % 9 == 3 && t % MIN == 0 {
            f.alert(t, "host:batch-1", "DiskSpaceLow", AlertState::Resolved);
        }
    }
    f
}

#[test]
fn a_storm_becomes_one_problem_with_its_root_and_foundational_cause() {
    let f = storm();
    let set = f.problems();
    let storm: Vec<_> =
        set.problems.values().filter(|p| p.signals.values().any(|s| s.entity.as_str() == "host:db-1")).collect();
    assert_eq!(storm.len(), 1, "{:#?}", set.problems.keys().collect::<Vec<_>>());
    let p = storm[0];
    let entities: BTreeSet<&str> = p.signals.values().map(|s| s.entity.as_str()).collect();
    assert_eq!(entities, BTreeSet::from(["database:orders", "host:db-1", "service:checkout", "service:frontend"]));
    let top = &p.root_causes[0];
    assert_eq!(top.entity.as_str(), "host:db-1");
    assert!(top.summary.starts_with("cpu anomaly on host:db-1"), "{}", top.summary);
    assert_eq!((top.explains, top.affected), (4, 4));
    let f_cause = p.foundational_cause.as_ref().expect("foundational cause linked");
    assert_eq!((f_cause.entity.as_str(), f_cause.change), ("database:orders", ChangeKind::Deployment));
    // The signals cleared at minute 61 (alerts) and ~60 (cpu): resolved five minutes later.
    assert_eq!(p.status, ProblemStatus::Resolved);
    let resolved = p.resolved_at.unwrap().millis();
    assert!((65 * MIN..=67 * MIN).contains(&resolved), "{resolved}");
    // Thirty alert repeats per alert counted on one signal each.
    let checkout = p.signals.values().find(|s| s.name == "HighLatency").unwrap();
    assert_eq!(checkout.count, 29);
    // The disk noise is its own problem, never merged into the storm.
    let disk: Vec<_> = set.problems.values().filter(|p| p.signals.values().any(|s| s.name == "DiskSpaceLow")).collect();
    assert_eq!(disk.len(), 1);
    assert_ne!(disk[0].id, p.id);
}

#[test]
fn same_input_same_events_and_seqs_strictly_increase() {
    let a = serde_json::to_string(&storm().events).unwrap();
    let b = serde_json::to_string(&storm().events).unwrap();
    assert_eq!(a, b);
    let events = storm().events;
    assert!(events.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    assert_eq!(events[0].seq, 1);
}

/// Two problems merge when a signal may be the cause of both: the host both databases run on.
/// (A common effect alone, a caller of both, does not merge them: see
/// `a_common_effect_of_two_faults_joins_the_newest_and_merges_nothing`.)
#[test]
fn two_problems_merge_when_a_signal_ties_them_together() {
    use RelationKind::*;
    let mut f = Feed::new();
    f.relate("service:a", Calls, "database:x");
    f.relate("service:b", Calls, "database:y");
    f.relate("database:x", RunsOn, "host:h");
    f.relate("database:y", RunsOn, "host:h");
    f.alert(MIN, "database:x", "Slow", AlertState::Firing);
    f.alert(MIN, "database:y", "Slow", AlertState::Firing);
    assert_eq!(f.problems().visible().len(), 2);
    f.alert(2 * MIN, "host:h", "Errors", AlertState::Firing);
    let set = f.problems();
    let visible = set.visible();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].signals.len(), 3);
    assert_eq!(visible[0].id, ProblemId(1), "merged into the oldest");
    assert_eq!(set.problems[&ProblemId(2)].status, ProblemStatus::Merged(ProblemId(1)));
}

#[test]
fn a_resolved_problem_reopens_when_its_signal_returns_within_the_window() {
    let mut f = Feed::new();
    f.alert(0, "host:a", "Down", AlertState::Firing);
    f.alert(MIN, "host:a", "Down", AlertState::Resolved);
    f.push(7 * MIN, ObservationKind::Tick);
    assert_eq!(f.problems().problems[&ProblemId(1)].status, ProblemStatus::Resolved);
    f.alert(10 * MIN, "host:a", "Down", AlertState::Firing);
    let set = f.problems();
    assert_eq!(set.problems.len(), 1);
    assert_eq!(set.problems[&ProblemId(1)].status, ProblemStatus::Open);
    // Long after the reopen window, the same alert opens a new problem.
    f.alert(11 * MIN, "host:a", "Down", AlertState::Resolved);
    f.push(60 * MIN, ObservationKind::Tick);
    f.alert(61 * MIN, "host:a", "Down", AlertState::Firing);
    assert_eq!(f.problems().problems.len(), 2);
}

#[test]
fn a_silence_lands_on_the_problem_a_merged_one_lives_on_in_and_failures_are_recorded() {
    use crate::model::SilenceRecord;
    use RelationKind::*;
    let mut f = Feed::new();
    f.relate("database:x", RunsOn, "host:h");
    f.relate("database:y", RunsOn, "host:h");
    f.alert(MIN, "database:x", "Slow", AlertState::Firing);
    f.alert(MIN, "database:y", "Slow", AlertState::Firing);
    f.alert(2 * MIN, "host:h", "Errors", AlertState::Firing);
    let record = SilenceRecord {
        id: "abc".into(),
        matchers: vec!["alertname=\"Slow\"".into()],
        starts_at: Timestamp(3 * MIN),
        ends_at: Timestamp(123 * MIN),
    };
    // The operator silenced P-0002, which has meanwhile merged into P-0001.
    let silence = |silences: Vec<SilenceRecord>, error: Option<String>| ObservationKind::Silence {
        problem: ProblemId(2),
        by: "alice@bastion".into(),
        via: "am".into(),
        silences,
        error,
    };
    f.push(3 * MIN, silence(vec![record.clone()], None));
    f.push(4 * MIN, silence(Vec::new(), Some("http://am/api/v2/silences: HTTP 400: bad matcher".into())));
    // Unknown problems are not invented.
    f.push(
        5 * MIN,
        ObservationKind::Silence {
            problem: ProblemId(99),
            by: "x".into(),
            via: "am".into(),
            silences: vec![],
            error: None,
        },
    );
    let set = f.problems();
    let p = &set.problems[&ProblemId(1)];
    assert_eq!(p.silenced_until, Some(Timestamp(123 * MIN)));
    let texts: Vec<&str> = p.timeline.iter().map(|t| t.text.as_str()).filter(|t| t.contains("silence")).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].starts_with("silenced by alice@bastion via am until "), "{}", texts[0]);
    assert!(texts[0].ends_with("1 silence(s) abc"), "{}", texts[0]);
    assert_eq!(texts[1], "silence by alice@bastion via am FAILED: http://am/api/v2/silences: HTTP 400: bad matcher");
    assert!(f.events.iter().all(|e| e.problem != ProblemId(99)));
}

impl Feed {
    fn kpi(&mut self, at: i64, entity: &str, name: &str, value: f64, yesterday: Option<f64>, last_week: Option<f64>) {
        self.push(
            at,
            ObservationKind::Kpi {
                entity: EntityId::new(entity),
                name: name.into(),
                value,
                yesterday,
                last_week,
                higher_is_better: true,
                unit: String::new(),
            },
        );
    }
    fn impact_updates(&self, p: ProblemId) -> Vec<&crate::model::Impact> {
        self.events
            .iter()
            .filter(|e| e.problem == p)
            .filter_map(|e| match &e.kind {
                EventKind::ImpactUpdated { impact } => Some(impact),
                _ => None,
            })
            .collect()
    }
}

/// edge → frontend → checkout → database:orders (runs on host:db-1); far → edge; search alone.
fn shop() -> Feed {
    shop_with(EngineConfig::default())
}

fn shop_with(config: EngineConfig) -> Feed {
    use RelationKind::*;
    let mut f = Feed { engine: Engine::new(config), events: Vec::new() };
    f.relate("service:far", Calls, "service:edge");
    f.relate("service:edge", Calls, "service:frontend");
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    f.relate("database:orders", RunsOn, "host:db-1");
    f
}

#[test]
fn kpis_of_affected_entities_and_their_dependents_within_hops_join_the_impact() {
    let mut f = shop();
    for e in ["service:far", "service:edge", "service:frontend", "service:checkout", "service:search", "host:db-1"] {
        f.kpi(0, e, "orders", 600.0, Some(610.0), Some(590.0));
    }
    f.alert(MIN, "database:orders", "SlowQueries", AlertState::Firing);
    let impacts = f.impact_updates(ProblemId(1));
    assert_eq!(impacts.len(), 1);
    let entities: Vec<&str> = impacts[0].kpis.iter().map(|k| k.entity.as_str()).collect();
    // Three hops up from the database reach edge; far is four away; db-1 is below, search apart.
    assert_eq!(entities, ["service:checkout", "service:edge", "service:frontend"]);
    assert!(impacts[0].kpis.iter().all(|k| !k.worse));

    // The hops are the engine's: with one, only checkout's direct callers count.
    let mut f = shop_with(EngineConfig { topology_hops: 1, ..EngineConfig::default() });
    for e in ["service:edge", "service:frontend", "service:checkout"] {
        f.kpi(0, e, "orders", 1.0, None, None);
    }
    f.alert(MIN, "service:checkout", "Errors", AlertState::Firing);
    let kpis = &f.impact_updates(ProblemId(1))[0].kpis;
    let entities: Vec<&str> = kpis.iter().map(|k| k.entity.as_str()).collect();
    assert_eq!(entities, ["service:checkout", "service:frontend"]);
}

#[test]
fn kpi_noise_does_not_update_the_impact_but_a_step_does() {
    let mut f = shop();
    f.alert(0, "service:checkout", "Errors", AlertState::Firing);
    let before = f.impact_updates(ProblemId(1)).len();
    // The first reading is news: a KPI joined.
    f.kpi(MIN / 2, "service:checkout", "orders", 600.0, Some(600.0), Some(600.0));
    assert_eq!(f.impact_updates(ProblemId(1)).len(), before + 1);
    // One percent a cycle: quiet until the drift since the last update reaches five points.
    for (i, v) in [594.0, 588.0, 582.0, 576.0].into_iter().enumerate() {
        f.kpi(MIN * (i as i64 + 1), "service:checkout", "orders", v, Some(600.0), Some(600.0));
    }
    assert_eq!(f.impact_updates(ProblemId(1)).len(), before + 1);
    f.kpi(5 * MIN, "service:checkout", "orders", 570.0, Some(600.0), Some(600.0));
    let impacts = f.impact_updates(ProblemId(1));
    assert_eq!(impacts.len(), before + 2);
    let k = &impacts.last().unwrap().kpis[0];
    assert_eq!((k.value, k.vs_yesterday, k.vs_last_week, k.worse), (570.0, Some(-0.05), Some(-0.05), true));
    // A comparison that appears or vanishes is news whatever the size.
    f.kpi(6 * MIN, "service:checkout", "orders", 570.0, None, Some(600.0));
    assert_eq!(f.impact_updates(ProblemId(1)).len(), before + 3);
    // The folded problem shows the last update.
    let set = f.problems();
    let k = &set.problems[&ProblemId(1)].impact.kpis[0];
    assert_eq!((k.yesterday, k.vs_yesterday), (None, None));
}

#[test]
fn a_resolved_problem_keeps_its_last_kpis() {
    let mut f = shop();
    f.kpi(0, "service:checkout", "orders", 600.0, Some(610.0), None);
    f.alert(MIN, "service:checkout", "Errors", AlertState::Firing);
    f.alert(2 * MIN, "service:checkout", "Errors", AlertState::Resolved);
    f.push(10 * MIN, ObservationKind::Tick);
    assert_eq!(f.problems().problems[&ProblemId(1)].status, ProblemStatus::Resolved);
    let n = f.events.len();
    f.kpi(11 * MIN, "service:checkout", "orders", 100.0, Some(610.0), None);
    assert_eq!(f.events.len(), n, "no event for a resolved problem");
    assert_eq!(f.problems().problems[&ProblemId(1)].impact.kpis[0].value, 600.0);
}

#[test]
fn without_kpis_the_impact_serialises_as_before() {
    let mut f = Feed::new();
    f.alert(0, "host:a", "Down", AlertState::Firing);
    let json = serde_json::to_string(&f.impact_updates(ProblemId(1))[0]).unwrap();
    assert!(!json.contains("kpis"), "{json}");
}

#[test]
fn a_filling_disk_is_a_forecast_signal_that_clears_after_the_cleanup() {
    let mut f = Feed::new();
    // Steady for an hour, then filling 0.4 points a minute; cleaned up at minute 150.
    for m in 0..160 {
        let free = match m {
            0..60 => 0.5 + 0.002 * wobble(m),
            60..150 => 0.5 - 0.004 * (m - 60) as f64,
            _ => 0.9,
        };
        f.metric(m * MIN, "host:batch-1", "filesystem_free_ratio", free);
    }
    let set = f.problems();
    let key = SignalKey("forecast:host:batch-1:filesystem_free_ratio".into());
    let p = set.problems.values().find(|p| p.signals.contains_key(&key)).expect("a forecast signal");
    let s = &p.signals[&key];
    assert!(s.name.starts_with("filesystem_free_ratio reaches 0 in "), "{}", s.name);
    assert!((0.5..=1.0).contains(&s.score), "{}", s.score);
    assert!(s.first_seen.millis() < 95 * MIN, "raised early: {:?}", s.first_seen);
    assert!(!s.active, "cleared after the cleanup");
}

#[test]
fn history_warms_the_baseline_and_its_season_without_judging_it() {
    use super::detect::Season;
    const HOUR: i64 = 60 * MIN;
    let daily = |t: i64| 0.5 + 0.3 * (std::f64::consts::TAU * (t % (24 * HOUR)) as f64 / (24 * HOUR) as f64).sin();
    let start = 1_794_873_600_000; // a midnight UTC
    let days = 3;
    let samples: Vec<(Timestamp, f64)> = (0..days * 24 * 12)
        .map(|i| {
            let t = start + i * 5 * MIN;
            (Timestamp(t), daily(t) + 0.01 * wobble(i))
        })
        .collect();
    let live = start + days * 24 * HOUR;
    let entity = EntityId::new("host:a");

    let mut warmed = Feed::new();
    warmed.push(
        live - 5 * MIN,
        ObservationKind::History { entity: entity.clone(), metric: "cpu".into(), samples: samples.clone() },
    );
    assert!(warmed.events.is_empty(), "history is learned, not judged: {:#?}", warmed.events);
    let id = warmed.engine.series.get(&entity, "cpu").expect("a series id");
    assert_eq!(warmed.engine.detector.season(id), Some(Season::Daily));
    // On the pattern: nothing. Off it, twice: an anomaly at once, expected value from the season.
    warmed.metric(live, "host:a", "cpu", daily(live));
    assert!(warmed.events.is_empty(), "{:#?}", warmed.events);
    warmed.metric(live + 5 * MIN, "host:a", "cpu", 3.0);
    warmed.metric(live + 10 * MIN, "host:a", "cpu", 3.0);
    let anomaly = warmed.problems().visible().iter().flat_map(|p| p.signals.values().cloned()).next();
    let anomaly = anomaly.expect("an anomaly after warming");
    let expected = anomaly.baseline.expect("a baseline").expected;
    assert!((expected - daily(live + 5 * MIN)).abs() < 0.1, "expected {expected}");

    // Without the history the same samples are still the detector's warm-up: nothing.
    let mut cold = Feed::new();
    cold.metric(live, "host:a", "cpu", daily(live));
    cold.metric(live + 5 * MIN, "host:a", "cpu", 3.0);
    cold.metric(live + 10 * MIN, "host:a", "cpu", 3.0);
    assert!(cold.events.is_empty(), "{:#?}", cold.events);
}

#[test]
fn an_error_pattern_never_logged_before_is_a_signal_even_once() {
    let line = |new_template: bool, level: Severity| ObservationKind::LogPattern {
        entity: EntityId::new("service:a"),
        template_id: "t1".into(),
        template: "payment provider <*> refused the card token".into(),
        level,
        count: 1,
        new_template,
    };
    // Once, known: below the burst size, nothing. Once, new: a signal. New but only a warning: nothing.
    let mut f = Feed::new();
    f.push(MIN, line(false, Severity::Major));
    assert!(f.events.is_empty(), "{:#?}", f.events);
    f.push(2 * MIN, line(true, Severity::Warning));
    assert!(f.events.is_empty(), "{:#?}", f.events);
    f.push(3 * MIN, line(true, Severity::Major));
    let set = f.problems();
    let signals: Vec<&Signal> = set.visible().iter().flat_map(|p| p.signals.values()).collect();
    assert_eq!(signals.len(), 1, "{signals:#?}");
    assert_eq!(signals[0].key.0, "log:service:a:t1");
    assert_eq!(signals[0].kind, SignalKind::LogBurst);
}

impl Feed {
    fn traffic(&mut self, entity: &str, role: crate::model::TrafficRole, samples: &[(i64, f64)]) {
        let at = samples.last().map(|(t, _)| *t).unwrap_or(0);
        let samples = samples.iter().map(|(t, v)| (Timestamp(*t), *v)).collect();
        self.push(at, ObservationKind::Traffic { entity: EntityId::new(entity), role, samples });
    }
}

/// Readings every minute from minute `from` to `to` (inclusive) of `value`.
fn flat(from: i64, to: i64, value: f64) -> Vec<(i64, f64)> {
    (from..=to).map(|m| (m * MIN, value)).collect()
}

#[test]
fn traffic_is_summed_where_it_enters_the_affected_part_and_compared_with_before_onset() {
    use crate::model::TrafficRole::{self, *};
    let mut f = shop();
    // Requests measured at edge, frontend and checkout: edge is outermost (and far is four
    // hops away, out of reach). Errors only at checkout and frontend; users at edge; search
    // is unrelated.
    f.traffic("service:far", Requests, &flat(0, 9, 1000.0));
    f.traffic("service:edge", Requests, &flat(0, 9, 120.0));
    f.traffic("service:frontend", Requests, &flat(0, 9, 100.0));
    f.traffic("service:checkout", Requests, &flat(0, 9, 40.0));
    f.traffic("service:search", Requests, &flat(0, 9, 55.0));
    f.traffic("service:checkout", Errors, &flat(0, 9, 0.5));
    f.traffic("service:edge", Users, &flat(0, 9, 900.0));
    f.alert(10 * MIN, "database:orders", "SlowQueries", AlertState::Firing);
    let impacts = f.impact_updates(ProblemId(1));
    let t = &impacts.last().unwrap().traffic;
    let view: Vec<(TrafficRole, f64, Option<f64>, Vec<&str>)> =
        t.iter().map(|t| (t.role, t.value, t.before, t.entities.iter().map(|e| e.as_str()).collect())).collect();
    assert_eq!(
        view,
        [
            (Requests, 120.0, Some(120.0), vec!["service:edge"]),
            (Errors, 0.5, Some(0.5), vec!["service:checkout"]),
            (Users, 900.0, Some(900.0), vec!["service:edge"]),
        ]
    );
    assert_eq!(t[0].vs_before, Some(0.0));

    // The errors climb: 0.5/s → 12/s is an update; 12.2/s (under the 5 % step) is not.
    let n = f.impact_updates(ProblemId(1)).len();
    f.traffic("service:checkout", Errors, &[(11 * MIN, 12.0)]);
    let impacts = f.impact_updates(ProblemId(1));
    assert_eq!(impacts.len(), n + 1);
    let errors = &impacts.last().unwrap().traffic[1];
    assert_eq!((errors.value, errors.before, errors.vs_before), (12.0, Some(0.5), Some(23.0)));
    f.traffic("service:checkout", Errors, &[(12 * MIN, 12.2)]);
    assert_eq!(f.impact_updates(ProblemId(1)).len(), n + 1);

    // Later readings do not move the reference: it was taken before onset, once.
    f.traffic("service:checkout", Errors, &flat(13, 30, 12.0));
    let set = f.problems();
    let errors = &set.problems[&ProblemId(1)].impact.traffic[1];
    assert_eq!(errors.before, Some(0.5));
    assert!(set.problems[&ProblemId(1)].timeline.iter().any(|e| e.text.contains("12 err/s (+2300% vs before onset)")));
    // Readings with no reference before onset: a value, no comparison.
    let mut g = shop();
    g.alert(MIN, "service:checkout", "Errors", AlertState::Firing);
    g.traffic("service:checkout", Errors, &[(2 * MIN, 3.0)]);
    let t = &g.impact_updates(ProblemId(1)).last().unwrap().traffic;
    assert_eq!((t[0].value, t[0].before, t[0].vs_before), (3.0, None, None));
}

#[test]
fn a_call_cycle_counts_both_ends_once() {
    use crate::model::TrafficRole::Requests;
    let mut f = Feed::new();
    f.relate("service:a", RelationKind::Calls, "service:b");
    f.relate("service:b", RelationKind::Calls, "service:a");
    f.traffic("service:a", Requests, &flat(0, 2, 10.0));
    f.traffic("service:b", Requests, &flat(0, 2, 5.0));
    f.alert(3 * MIN, "service:b", "Errors", AlertState::Firing);
    let t = &f.impact_updates(ProblemId(1)).last().unwrap().traffic[0];
    assert_eq!((t.value, t.entities.len()), (15.0, 2));
}

#[test]
fn a_change_that_arrives_after_the_problem_opened_is_still_linked() {
    let mut f = shop();
    f.alert(10 * MIN, "service:checkout", "Errors", AlertState::Firing);
    assert!(f.problems().problems[&ProblemId(1)].foundational_cause.is_none());
    // The restart counter is read a cycle later, dated when it moved: before onset.
    let restart = ObservationKind::Change {
        entity: EntityId::new("service:checkout"),
        change: ChangeKind::Restart,
        description: "svc_restarts rose 3 → 4".into(),
    };
    f.push(8 * MIN, restart.clone());
    let linked = f.problems().problems[&ProblemId(1)].foundational_cause.clone().expect("linked");
    assert_eq!((linked.at, linked.change), (Timestamp(8 * MIN), ChangeKind::Restart));
    assert_eq!(linked.reason, "restart on the root cause itself, 2m before onset");
    // One after onset is no cause of it.
    let mut f = shop();
    f.alert(10 * MIN, "service:checkout", "Errors", AlertState::Firing);
    f.push(11 * MIN, restart);
    assert!(f.problems().problems[&ProblemId(1)].foundational_cause.is_none());
}

/// The demo storm (`fixtures/scenarios/db-cpu-saturation.jsonl`) through the engine: the top
/// root cause explains itself with its signals, the baselines they broke, and the edges from every
/// affected service down to it.
#[test]
fn the_demo_root_cause_names_its_signals_their_baselines_and_the_edges_from_the_affected_services() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let scenario = crate::sources::fixture::load(&path).expect("the demo scenario loads");
    let expect = scenario.header.expect.clone().expect("the demo scenario has expectations");
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for obs in &scenario.observations {
        engine.observe(obs, &mut events);
    }
    let set = ProblemSet::fold(&events);
    let problem = set
        .problems
        .values()
        .find(|p| p.root_causes.first().is_some_and(|c| c.entity == expect.root_cause))
        .expect("a problem with the expected root cause");
    let top = &problem.root_causes[0];

    // Its signals, each with the baseline it broke: the value seen lies outside the band.
    assert!(!top.broke.is_empty());
    let keys: Vec<&SignalKey> = top.broke.iter().map(|b| &b.key).collect();
    assert_eq!(keys, top.signals.iter().collect::<Vec<_>>(), "the evidence names the candidate's signals");
    // Baseline anomalies broke their band; a saturation (its own key) says its ceiling.
    let (saturations, anomalies): (Vec<_>, Vec<_>) =
        top.broke.iter().filter(|b| b.kind == SignalKind::Anomaly).partition(|b| b.key.0.starts_with("saturation:"));
    assert!(!anomalies.is_empty(), "{:?}", top.broke);
    for b in &saturations {
        assert!(b.name.contains("(saturated at ≥ 95%, expected ") && b.key.0.contains(top.entity.as_str()), "{b:?}");
        assert!(b.value.is_some_and(|v| v >= 0.95), "{b:?}");
    }
    for b in &anomalies {
        assert!(b.key.0.contains(top.entity.as_str()) && b.key.0.ends_with(&b.name), "{b:?}");
        let (value, baseline) = (b.value.expect("a value"), b.baseline.expect("a baseline"));
        assert!(baseline.lower <= baseline.expected && baseline.expected <= baseline.upper, "{b:?}");
        assert!(value > baseline.upper || value < baseline.lower, "{} = {value} inside its band {baseline:?}", b.name);
    }
    if let Some(needle) = &expect.root_cause_signal {
        assert!(top.broke.iter().any(|b| b.name.to_lowercase().contains(&needle.to_lowercase())), "{:?}", top.broke);
    }

    // The edges: every other affected entity reaches the root by a path of real topology edges
    // from it down to the root.
    let affected: BTreeSet<&EntityId> =
        problem.signals.values().filter(|s| rca::is_trouble(s)).map(|s| &s.entity).collect();
    assert_eq!(top.explains, affected.len());
    let topology = engine.topology();
    let edge = |h: &crate::model::Hop| {
        let (Some(a), Some(b)) = (topology.node(&h.from), topology.node(&h.to)) else { return false };
        topology.dependencies(a).contains(&(h.relation, b))
    };
    let services: Vec<&&EntityId> = affected
        .iter()
        .filter(|e| matches!(topology.kind_of(e), EntityKind::Service | EntityKind::Application))
        .collect();
    assert!(!services.is_empty());
    for entity in affected.iter().filter(|e| **e != &top.entity) {
        let path = top
            .evidence
            .iter()
            .find(|p| p.first().is_some_and(|h| &&h.from == entity))
            .unwrap_or_else(|| panic!("no evidence path from {entity}: {:?}", top.evidence));
        assert_eq!(path.last().map(|h| &h.to), Some(&top.entity), "{path:?}");
        assert!(path.windows(2).all(|w| w[0].to == w[1].from), "a connected path: {path:?}");
        assert!(path.iter().all(edge), "every hop is an edge of the topology: {path:?}");
    }
}

/// The root-cause ranking of a problem, every time it changed: (time, best entity).
fn rankings(events: &[ProblemEvent], p: ProblemId) -> Vec<(i64, Vec<String>)> {
    events
        .iter()
        .filter(|e| e.problem == p)
        .filter_map(|e| match &e.kind {
            EventKind::RootCauseRanked { candidates } => {
                Some((e.at.millis(), candidates.iter().map(|c| c.entity.as_str().to_string()).collect()))
            }
            _ => None,
        })
        .collect()
}

/// The checkout (scraped every 30 s) slows down once the database's series is warm (minute 44
/// when it is read every 2 minutes); the database below it, read every `every` at odd minutes,
/// slows down `late` after it, as does the reporting service calling it. Read every 2 minutes,
/// the database is seen slow a minute after the checkout.
fn a_dependency_seen_later(every: i64, late: i64) -> Feed {
    use RelationKind::*;
    let mut f = Feed::new();
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    f.relate("service:reporting", Calls, "database:orders");
    let broke = (22 * every).max(44 * MIN);
    for i in 0..(broke + 16 * MIN) / (MIN / 2) {
        let t = i * MIN / 2;
        f.metric(t, "service:checkout", "latency_ms", if t >= broke { 900.0 } else { 100.0 + 3.0 * wobble(i) });
        if (t - MIN).rem_euclid(every) == 0 {
            let slow = t >= broke + late;
            f.metric(t, "database:orders", "query_latency_ms", if slow { 850.0 } else { 20.0 + wobble(i + 3) });
        }
        let slow = t >= broke + late;
        f.metric(t, "service:reporting", "latency_ms", if slow { 950.0 } else { 50.0 + wobble(i + 5) });
    }
    f
}

#[test]
fn a_dependency_breaking_later_takes_the_ranking_over_and_the_change_is_an_event() {
    // Read every 2 minutes, the database's trouble may have begun up to 2 minutes before it was
    // seen: seen a minute after the checkout's, it can be its cause.
    let f = a_dependency_seen_later(2 * MIN, 0);
    let set = f.problems();
    let p = set
        .problems
        .values()
        .find(|p| p.signals.values().any(|s| s.entity.as_str() == "service:checkout"))
        .expect("a problem on the checkout");
    let ranked = rankings(&f.events, p.id);
    let first = ranked.first().expect("ranked at least once");
    // The checkout's latency breaks first: it is the only candidate.
    assert_eq!(first.1, ["service:checkout"], "{ranked:?}");
    assert!(first.0 < 45 * MIN, "{ranked:?}");
    // The database, seen a minute later by as much, accounts for the checkout and the
    // reporting service: the ranking changes to it, as an event at the time it was seen.
    let last = ranked.last().unwrap();
    assert_eq!(last.1, ["database:orders"], "{ranked:?}");
    assert!((45 * MIN..46 * MIN).contains(&last.0), "{ranked:?}");
    assert_eq!(p.root_causes[0].entity.as_str(), "database:orders");
    assert_eq!((p.root_causes[0].explains, p.root_causes[0].affected), (3, 3));
}

/// A cause is seen late only by its own detection lag: read every 30 s and raised at its first
/// sample that far out, the database's trouble began less than 30 s before it was seen. Seen
/// 4 minutes after the checkout's, it did not cause it (with the flat 5-minute slack it did, and
/// took the ranking); read every 5 minutes, as cloud monitoring does, 4 minutes late is within
/// its lag, and it does.
#[test]
fn a_cause_may_be_seen_after_its_effect_only_by_its_own_detection_lag() {
    let root_of_the_checkouts_problem = |f: &Feed| {
        let set = f.problems();
        let p = set
            .problems
            .values()
            .find(|p| p.signals.values().any(|s| s.entity.as_str() == "service:checkout"))
            .expect("a problem on the checkout")
            .clone();
        p.root_causes[0].entity.as_str().to_string()
    };
    let fast = a_dependency_seen_later(MIN / 2, 4 * MIN);
    assert_eq!(root_of_the_checkouts_problem(&fast), "service:checkout", "{:?}", fast.groups());
    let lag = |f: &Feed| f.engine.signals.lag_of(&SignalKey("anomaly:database:orders:query_latency_ms".into()));
    assert_eq!(lag(&fast), Some(MIN / 2));
    // Every 5 minutes (at odd minutes: seen a minute after the checkout).
    let slow = a_dependency_seen_later(5 * MIN, 0);
    assert_eq!(lag(&slow), Some(5 * MIN));
    assert_eq!(root_of_the_checkouts_problem(&slow), "database:orders", "{:?}", slow.groups());
}

/// The live case of issue 13: a host's CPU that often ran at 0.7 to 0.9 (builds) is pinned at
/// 1.0. Its baseline finds that unremarkable, the saturation does not: a problem opens with the
/// host as top root cause and the saturation as its evidence; the service on the host that
/// slows down is explained by it.
#[test]
fn a_saturated_host_cpu_opens_a_problem_rooted_at_the_host_whatever_its_baseline_says() {
    let mut f = Feed::new();
    f.relate("service:shop", RelationKind::RunsOn, "host:web-1");
    let step = 15_000;
    let cpu = |i: i64| if i % 40 < 8 { 0.8 + 0.1 * wobble(i) } else { 0.01 + 0.005 * wobble(i) };
    let pinned = 6 * 240 + 24;
    for i in 0..pinned + 20 {
        let v = if i >= pinned { 1.0 } else { cpu(i) };
        f.metric(i * step, "host:web-1", "cpu_utilisation", v);
        // The shop slows down a minute into the saturation.
        let latency = if i >= pinned + 4 { 900.0 } else { 120.0 + 5.0 * wobble(i + 3) };
        f.metric(i * step, "service:shop", "latency_p99_ms", latency);
    }
    let set = f.problems();
    let sat = SignalKey("saturation:host:web-1:cpu_utilisation".into());
    // The first builds were news to the baseline; the pinned CPU is not.
    let baseline_anomaly = SignalKey("anomaly:host:web-1:cpu_utilisation".into());
    for p in set.problems.values() {
        if let Some(s) = p.signals.get(&baseline_anomaly) {
            assert!(s.last_seen < Timestamp(pinned * step), "the baseline saw nothing new: {s:?}");
        }
    }
    let problem =
        set.problems.values().find(|p| p.signals.contains_key(&sat)).expect("the saturation opened a problem");
    assert_eq!(problem.opened_at, Timestamp((pinned + 4) * step), "one minute into the saturation");
    let name = &problem.signals[&sat].name;
    assert!(name.starts_with("cpu_utilisation at 100% for 1m (saturated at ≥ 95%, expected 1"), "{name}");
    assert_eq!(problem.title, format!("{name} on host:web-1"));
    let s = &problem.signals[&sat];
    assert_eq!((s.severity, s.score, s.value), (Severity::Major, 1.0, Some(1.0)));
    assert!(s.baseline.is_some_and(|b| b.expected < 0.1), "with the band it was judged against: {s:?}");
    let top = &problem.root_causes[0];
    assert_eq!(top.entity, EntityId::new("host:web-1"));
    assert_eq!(top.summary, problem.title, "the ranking says what the title says");
    assert_eq!(top.signals, vec![sat.clone()]);
    assert_eq!(top.broke[0].key, sat);
    assert!(
        problem.signals.contains_key(&SignalKey("anomaly:service:shop:latency_p99_ms".into())),
        "the slow shop joined: {:?}",
        problem.signals.keys()
    );
    assert_eq!((top.explains, top.affected), (2, 2), "the host explains the shop on it");
    assert_eq!(problem.root_causes.len(), 1, "{:?}", problem.root_causes);
}

// Issue 13, point 4: root cause under chronic noise and overlapping incidents.

/// A database slow and alerting from the start (its callers healthy all along) is not the cause
/// of a bad deployment of one of them 25 minutes later: the deployed service is the root, the
/// database's candidate says why it is not, and the deployment is linked though the problem
/// (opened by the chronic alert) is older than it.
#[test]
fn a_chronic_dependency_is_not_the_cause_of_what_breaks_above_it() {
    use RelationKind::*;
    let mut f = Feed::new();
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    let change = ObservationKind::Change {
        entity: EntityId::new("service:checkout"),
        change: ChangeKind::Deployment,
        description: "checkout v2.3.1".into(),
    };
    for m in 0..=40 {
        if m == 24 {
            f.push(m * MIN, change.clone());
        }
        f.alert(m * MIN, "database:orders", "PostgresSlowQueries", AlertState::Firing);
        if m >= 25 {
            f.alert(m * MIN, "service:checkout", "HighErrorRate", AlertState::Firing);
            f.alert(m * MIN, "service:frontend", "HighErrorRate", AlertState::Firing);
        }
    }
    let set = f.problems();
    let visible = set.visible();
    assert_eq!(visible.len(), 1, "{:?}", f.groups());
    let p = visible[0];
    let ids: Vec<&str> = p.root_causes.iter().map(|c| c.entity.as_str()).collect();
    assert_eq!(ids, ["service:checkout", "database:orders"]);
    assert_eq!((p.root_causes[0].explains, p.root_causes[0].affected), (2, 3));
    assert_eq!(p.root_causes[1].explains, 1, "the chronic database explains nothing above it");
    assert_eq!(
        p.root_causes[1].summary,
        "PostgresSlowQueries on database:orders; as anomalous before onset (25m before the trouble above it)"
    );
    let f = p.foundational_cause.as_ref().expect("the deployment is linked");
    assert_eq!((f.entity.as_str(), f.change), ("service:checkout", ChangeKind::Deployment));
}

/// The same database breaking only while the deployment's trouble goes on is no cause of it
/// either: a dependency that broke after its dependents (beyond the slack) opens a problem of
/// its own, and is its root there.
#[test]
fn a_dependency_breaking_well_after_a_problem_above_it_opens_its_own() {
    use RelationKind::*;
    let mut f = Feed::new();
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    for m in 0..=30 {
        f.alert(m * MIN, "service:checkout", "HighErrorRate", AlertState::Firing);
        f.alert(m * MIN + MIN / 2, "service:frontend", "HighErrorRate", AlertState::Firing);
        if m >= 8 {
            f.log(m * MIN, "database:orders", "could not serialize access");
        }
    }
    assert_eq!(
        f.groups(),
        [
            vec!["alert:service:checkout/HighErrorRate", "alert:service:frontend/HighErrorRate"],
            vec!["log:database:orders:could not serialize access"],
        ]
    );
    let set = f.problems();
    for p in set.visible() {
        let root = p.root_causes[0].entity.as_str();
        let own = p.signals.values().any(|s| s.entity.as_str() == "database:orders");
        assert_eq!(root, if own { "database:orders" } else { "service:checkout" });
    }
    // Within the slack it is one problem, rooted below: for a log burst, read as it is written,
    // within a minute; 3 minutes late, it is news of its own (an alert or an anomaly 3 minutes
    // late is still within their slack, a scrape or an alert's `for` apart).
    let one_problem = |late: i64| {
        let mut f = Feed::new();
        f.relate("service:frontend", Calls, "service:checkout");
        f.relate("service:checkout", Calls, "database:orders");
        for m in 0..=10 {
            f.alert(m * MIN, "service:checkout", "HighErrorRate", AlertState::Firing);
            if m >= late {
                f.log(m * MIN + MIN / 2, "database:orders", "could not serialize access");
            }
        }
        let set = f.problems();
        let visible = set.visible();
        (visible.len() == 1).then(|| visible[0].root_causes[0].entity.as_str().to_string())
    };
    assert_eq!(one_problem(0).as_deref(), Some("database:orders"));
    assert_eq!(one_problem(3), None);
    let mut f = Feed::new();
    f.relate("service:frontend", Calls, "service:checkout");
    f.relate("service:checkout", Calls, "database:orders");
    for m in 0..=10 {
        f.alert(m * MIN, "service:checkout", "HighErrorRate", AlertState::Firing);
        if m >= 3 {
            f.alert(m * MIN + MIN / 2, "database:orders", "PostgresSerializationFailures", AlertState::Firing);
        }
    }
    let set = f.problems();
    assert_eq!(set.visible().len(), 1, "{:?}", f.groups());
    assert_eq!(set.visible()[0].root_causes[0].entity.as_str(), "database:orders");
}

/// Spikes on web and api, a minute each every three minutes, keep one problem open; sixteen
/// minutes on, after the last spike, the errors of the edge calling web are news: a problem of
/// their own, not the spikes' problem's (which is still open, and would have taken them before).
#[test]
fn a_problem_kept_open_by_recurring_spikes_takes_no_new_fault_between_them() {
    let mut f = Feed::new();
    f.relate("service:edge", RelationKind::Calls, "service:web");
    f.relate("service:web", RelationKind::Calls, "service:api");
    for (i, entity) in ["service:web", "service:api", "service:web", "service:api", "service:web"].iter().enumerate() {
        let t = i as i64 * 3 * MIN;
        let name = format!("LatencySpike{i}");
        f.alert(t, entity, &name, AlertState::Firing);
        f.alert(t + MIN, entity, &name, AlertState::Resolved);
    }
    assert_eq!(f.groups().len(), 1, "one problem of spikes: {:?}", f.groups());
    for m in 16..=22 {
        f.alert(m * MIN, "service:edge", "HighErrorRate", AlertState::Firing);
    }
    let groups = f.groups();
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(groups.contains(&vec!["alert:service:edge/HighErrorRate".to_string()]), "{groups:?}");
}

/// The same, with the spikes re-firing (one signal each on four services, each back once
/// after clearing) and the edge's errors starting *during* one of them: what is active in the old
/// problem then is all recurrence, so the errors are still news and open their own problem.
/// Errors that began while the spikes' problem was young (its first window) join it, as before.
#[test]
fn a_problem_kept_open_by_recurring_spikes_takes_no_new_fault_during_one_of_them() {
    let spikes = |edge_from: i64| {
        let mut events: Vec<(i64, &str, &str, AlertState)> = Vec::new();
        // Four services, each spiking twice (so no spike flaps), one every three minutes.
        let spiking = ["service:web", "service:api", "database:db", "service:cache"];
        for i in 0..8 {
            let t = i * 3 * MIN;
            let entity = spiking[i as usize % 4];
            events.push((t, entity, "LatencySpike", AlertState::Firing));
            events.push((t + 2 * MIN, entity, "LatencySpike", AlertState::Resolved));
        }
        for m in 0..=6 {
            events.push((edge_from + m * MIN + MIN / 2, "service:edge", "HighErrorRate", AlertState::Firing));
        }
        events.sort_by_key(|e| e.0);
        let mut f = Feed::new();
        f.relate("service:edge", RelationKind::Calls, "service:web");
        f.relate("service:web", RelationKind::Calls, "service:api");
        f.relate("service:api", RelationKind::Calls, "database:db");
        f.relate("service:api", RelationKind::Calls, "service:cache");
        for (at, entity, name, state) in events {
            f.alert(at, entity, name, state);
        }
        f
    };
    // Errors from minute 19, inside the spike of 18-20, the problem 19 minutes old.
    // (The cache, below the api, broke after the trouble above it began: a problem of its own
    // by the cause-before-effect rule, as before.)
    let f = spikes(19 * MIN);
    let groups = f.groups();
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert!(groups.contains(&vec!["alert:service:edge/HighErrorRate".to_string()]), "{groups:?}");
    // Errors from minute 7, inside the spike of 6-8, the problem 7 minutes old: one problem.
    let f = spikes(7 * MIN);
    assert_eq!(f.groups().len(), 1, "{:?}", f.groups());
}

/// Two problems whose top candidate is the same entity merge, unless the older one is kept open
/// by recurrences alone: then the younger is news, as a new signal would be. The database's
/// latency spike (and the api's above it) opened a problem at minute 0 that resolved; at minute
/// 20 slow queries on the database open their own; at 21 the spike is back, the old problem
/// reopens with the database on top. Both rank the database first, yet the old one is all
/// recurrence now: they stay apart, as correlation would have kept a new signal apart.
#[test]
fn a_problem_kept_open_by_recurrences_does_not_absorb_a_new_one_sharing_its_top_candidate() {
    let mut f = Feed::new();
    f.relate("service:api", RelationKind::Calls, "database:db");
    f.alert(0, "database:db", "LatencySpike", AlertState::Firing);
    f.alert(2 * MIN, "database:db", "LatencySpike", AlertState::Resolved);
    f.alert(3 * MIN, "service:api", "LatencySpike", AlertState::Firing);
    f.alert(5 * MIN, "service:api", "LatencySpike", AlertState::Resolved);
    for m in 20..=26 {
        f.alert(m * MIN, "database:db", "SlowQueries", AlertState::Firing);
    }
    f.alert(21 * MIN, "database:db", "LatencySpike", AlertState::Firing);
    f.alert(23 * MIN, "database:db", "LatencySpike", AlertState::Resolved);
    let groups = f.groups();
    assert_eq!(
        groups,
        [
            vec!["alert:database:db/LatencySpike", "alert:service:api/LatencySpike"],
            vec!["alert:database:db/SlowQueries"],
        ],
        "{groups:?}"
    );
    let set = f.problems();
    for p in set.visible() {
        assert_eq!(p.root_causes[0].entity.as_str(), "database:db");
    }
}

/// An effect follows its cause promptly. The edge calls the catalog and errors from minute 1,
/// after a catalog latency spike at 0-1: one problem, still open with the edge's errors. The
/// recommendations service, which calls the catalog too, slows down at minute 12: above the
/// catalog, but the catalog's trouble cleared ten minutes before, so it explains nothing that
/// starts now; the slowdown is news and opens its own problem (it used to join, and an older
/// problem kept its ranking over a new fault). Starting at minute 4, 3 minutes after the spike
/// was last seen, within how long an alert's end can go unseen (5 minutes: its `for` is not
/// known), it joins as before.
#[test]
fn trouble_above_a_problem_joins_it_only_while_the_trouble_below_goes_on() {
    let feed = |recs_from: i64| {
        let mut f = Feed::new();
        f.relate("service:edge", RelationKind::Calls, "service:catalog");
        f.relate("service:recs", RelationKind::Calls, "service:catalog");
        f.alert(0, "service:catalog", "HighLatency", AlertState::Firing);
        f.alert(MIN, "service:catalog", "HighLatency", AlertState::Firing);
        f.alert(2 * MIN, "service:catalog", "HighLatency", AlertState::Resolved);
        for m in 1..=20 {
            f.alert(m * MIN + MIN / 2, "service:edge", "HighErrorRate", AlertState::Firing);
            if m >= recs_from {
                f.alert(m * MIN, "service:recs", "HighLatency", AlertState::Firing);
            }
        }
        f.groups()
    };
    assert_eq!(
        feed(12),
        [
            vec!["alert:service:catalog/HighLatency", "alert:service:edge/HighErrorRate"],
            vec!["alert:service:recs/HighLatency"],
        ]
    );
    assert_eq!(
        feed(4),
        [vec![
            "alert:service:catalog/HighLatency",
            "alert:service:edge/HighErrorRate",
            "alert:service:recs/HighLatency"
        ]]
    );
}

/// The same with anomalies: how long after the trouble below was last seen trouble above may
/// still join is that trouble's own detection lag. The catalog's latency is out of band for ten
/// minutes from minute 120; the edge's errors keep the problem open. Read every 30 s, the
/// catalog was last seen slow at 129.5 and its end went unseen 30 s at most: the recommendations
/// service slowing down at 133 is news (the flat 5-minute slack had let it join). Read every
/// 5 minutes, the catalog was last seen slow at 125 and may have stayed so until 130: the same
/// slowdown at 129 joins.
#[test]
fn trouble_above_a_problem_may_join_it_within_the_lag_of_the_trouble_below() {
    let feed = |every: i64, recs_from: i64| {
        let mut f = Feed::new();
        f.relate("service:edge", RelationKind::Calls, "service:catalog");
        f.relate("service:recs", RelationKind::Calls, "service:catalog");
        for i in 0..(140 * MIN) / (MIN / 2) {
            let t = i * MIN / 2;
            if t % every == 0 {
                let slow = (120 * MIN..130 * MIN).contains(&t);
                f.metric(t, "service:catalog", "latency_ms", if slow { 900.0 } else { 100.0 + 3.0 * wobble(i) });
            }
            let slow = t >= recs_from;
            f.metric(t, "service:recs", "latency_ms", if slow { 950.0 } else { 50.0 + wobble(i + 5) });
            if t >= 121 * MIN && t % MIN == 0 {
                f.alert(t, "service:edge", "HighErrorRate", AlertState::Firing);
            }
        }
        f
    };
    let lag = |f: &Feed| f.engine.signals.lag_of(&anomaly("service:catalog", "latency_ms"));
    let fast = feed(MIN / 2, 133 * MIN);
    assert_eq!(lag(&fast), Some(MIN / 2));
    assert_eq!(
        fast.groups(),
        [
            vec!["alert:service:edge/HighErrorRate", "anomaly:service:catalog:latency_ms"],
            vec!["anomaly:service:recs:latency_ms"],
        ]
    );
    let slow = feed(5 * MIN, 129 * MIN);
    assert_eq!(lag(&slow), Some(5 * MIN));
    assert_eq!(
        slow.groups(),
        [vec![
            "alert:service:edge/HighErrorRate",
            "anomaly:service:catalog:latency_ms",
            "anomaly:service:recs:latency_ms"
        ]]
    );
}

/// A common effect does not make two faults one incident. The gateway calls `cart` and
/// `search`. Cart breaks at minute 0 and is still broken at 10 when search breaks; at 11 the
/// gateway slows down: it lies above both problems and below neither, so it bridges nothing.
/// It joins search's problem, the trouble under it that began last (an effect follows its cause
/// promptly), and cart's stays apart. A common cause still bridges: when both break at minute 1
/// (apart: siblings with unlike symptoms) and the database both call slows down at 2, it joins
/// and merges them.
#[test]
fn a_common_effect_of_two_faults_joins_the_newest_and_merges_nothing() {
    let feed = |cart: i64, search: i64, last: (&str, &str, i64)| {
        let mut f = Feed::new();
        f.relate("service:gateway", RelationKind::Calls, "service:cart");
        f.relate("service:gateway", RelationKind::Calls, "service:search");
        f.relate("service:cart", RelationKind::Calls, "database:db");
        f.relate("service:search", RelationKind::Calls, "database:db");
        for m in cart..=14 {
            f.alert(m * MIN, "service:cart", "HighErrorRate", AlertState::Firing);
        }
        for m in search..=14 {
            f.alert(m * MIN, "service:search", "HighLatency", AlertState::Firing);
        }
        f.alert(last.2 * MIN, last.0, last.1, AlertState::Firing);
        f
    };
    let groups = feed(0, 10, ("service:gateway", "HighLatency", 11)).groups();
    assert_eq!(
        groups,
        [
            vec!["alert:service:cart/HighErrorRate"],
            vec!["alert:service:gateway/HighLatency", "alert:service:search/HighLatency"],
        ],
        "{groups:?}"
    );
    let groups = feed(1, 1, ("database:db", "SlowQueries", 2)).groups();
    assert_eq!(
        groups,
        [vec!["alert:database:db/SlowQueries", "alert:service:cart/HighErrorRate", "alert:service:search/HighLatency"]],
        "{groups:?}"
    );
}

/// Three services call one database. Two of them break apart (unlike symptoms: two problems),
/// and each then logs the same timeout talking to it. A third logs the same timeout too: alike
/// to both problems' bursts through the dependency they share, it is a common cause's sign, not
/// a common effect's, and it bridges them (a common effect joins one and merges nothing).
#[test]
fn a_sibling_alike_to_two_problems_bridges_them() {
    let mut f = Feed::new();
    for service in ["service:cart", "service:search", "service:orders"] {
        f.relate(service, RelationKind::Calls, "database:db");
    }
    for m in 0..=14 {
        f.alert(m * MIN, "service:cart", "HighErrorRate", AlertState::Firing);
        f.alert(m * MIN + MIN / 2, "service:search", "HighLatency", AlertState::Firing);
        if m >= 4 {
            f.log(m * MIN, "service:cart", "timeout talking to <*>");
            f.log(m * MIN, "service:search", "timeout talking to <*>");
        }
        if m >= 8 {
            f.log(m * MIN, "service:orders", "timeout talking to <*>");
        }
    }
    let groups = f.groups();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].len(), 5, "{groups:?}");
}

/// A series: entity and metric.
type Series<'a> = (&'a str, &'a str);

/// A calm estate: `service:shop` runs on `host:h1` and calls `service:pay`; each has two series
/// wobbling about 100 (±10) every 30 s for 320 samples, except at the samples `out` names: there
/// the series takes a near-impossible value (400).
fn calm_estate(out: &[(Series, i64)]) -> Feed {
    let mut f = Feed::new();
    f.relate("service:shop", RelationKind::RunsOn, "host:h1");
    f.relate("service:shop", RelationKind::Calls, "service:pay");
    let series = [
        ("service:shop", "latency_p99_ms"),
        ("service:shop", "requests_per_s"),
        ("service:pay", "latency_p99_ms"),
        ("host:h1", "cpu_utilisation_pct"),
    ];
    for i in 0..320 {
        for (k, (entity, metric)) in series.iter().enumerate() {
            let v =
                if out.contains(&((*entity, *metric), i)) { 400.0 } else { 100.0 + 10.0 * wobble(i + 1000 * k as i64) };
            f.metric(i * MIN / 2, entity, metric, v);
        }
    }
    f
}

/// The key of an anomaly signal.
fn anomaly(entity: &str, metric: &str) -> SignalKey {
    SignalKey(format!("anomaly:{entity}:{metric}"))
}

/// A lone near-impossible sample (a GC pause, a slow scrape) is a signal, not a page: it opens
/// no problem, and clears quietly. Two blips are still blips: neither a second series of the
/// entity or of a neighbour blipping at the same time, nor a second blip on the series after a
/// sample back in band, opens one.
#[test]
fn a_lone_near_impossible_sample_is_a_signal_but_opens_no_problem() {
    let shop = ("service:shop", "latency_p99_ms");
    let f = calm_estate(&[(shop, 300)]);
    let entry = f.engine.signals.get(&anomaly(shop.0, shop.1)).expect("the sample raised a signal");
    assert!(entry.signal.score >= detect::AT_ONCE_SCORE, "{:?}", entry.signal);
    assert_eq!(entry.signal.first_seen, Timestamp(300 * MIN / 2));
    assert!(!entry.signal.active, "cleared after the calm samples that followed");
    assert_eq!(entry.problem, None);
    assert!(f.events.is_empty(), "no problem for a blip: {:?}", f.events);
    assert!(f.engine.held.is_empty(), "{:?}", f.engine.held);

    let blips: [&[(Series, i64)]; 4] = [
        &[(shop, 300), (("service:shop", "requests_per_s"), 300)],
        &[(shop, 300), (("host:h1", "cpu_utilisation_pct"), 301)],
        &[(shop, 300), (("service:pay", "latency_p99_ms"), 300)],
        &[(shop, 300), (shop, 302)],
    ];
    for out in blips {
        let f = calm_estate(out);
        assert!(f.events.is_empty(), "{out:?}: no problem for blips: {:?}", f.groups());
        for ((entity, metric), _) in out {
            assert!(f.engine.signals.get(&anomaly(entity, metric)).is_some(), "{out:?}: {entity} {metric} is a signal");
        }
        assert!(f.engine.held.is_empty(), "{:?}", f.engine.held);
    }
}

/// The same sample with company opens a problem with it: its series staying out of band for a
/// second sample in a row, or a signal that is not a blip itself (two samples out of band) on
/// another series of its entity or of a direct neighbour (its host, a service it calls) while
/// it is active. Its trouble starts at the first sample.
#[test]
fn a_lone_sample_corroborated_opens_a_problem() {
    let shop = ("service:shop", "latency_p99_ms");
    fn sustained(series: Series<'static>) -> Vec<(Series<'static>, i64)> {
        vec![(series, 301), (series, 302)]
    }
    let cases: [Vec<(Series, i64)>; 4] = [
        vec![(shop, 300), (shop, 301)],
        [vec![(shop, 300)], sustained(("service:shop", "requests_per_s"))].concat(),
        [vec![(shop, 300)], sustained(("host:h1", "cpu_utilisation_pct"))].concat(),
        [vec![(shop, 300)], sustained(("service:pay", "latency_p99_ms"))].concat(),
    ];
    for out in cases {
        let f = calm_estate(&out);
        let set = f.problems();
        assert_eq!(set.visible().len(), 1, "{out:?}: {:?}", f.groups());
        let p = set.visible()[0];
        let mut expected: Vec<String> = out.iter().map(|((e, m), _)| anomaly(e, m).0).collect();
        expected.sort();
        expected.dedup();
        assert_eq!(f.groups(), vec![expected], "{out:?}");
        let onset = p.signals.values().map(|s| s.first_seen).min();
        assert_eq!(onset, Some(Timestamp(300 * MIN / 2)), "{out:?}");
        assert!(f.engine.held.is_empty(), "{:?}", f.engine.held);
    }
}

/// A held signal survives a snapshot: restored from the signals, it is still placed when a
/// second sample corroborates it, as in the engine that never stopped.
#[test]
fn a_held_signal_is_held_across_a_snapshot() {
    let shop = ("service:shop", "latency_p99_ms");
    let mut whole = calm_estate(&[]);
    let spike = |f: &mut Feed, i: i64| f.metric(i * MIN / 2, shop.0, shop.1, 400.0);
    spike(&mut whole, 320);
    assert_eq!(whole.engine.held, BTreeSet::from([anomaly(shop.0, shop.1)]));
    let text = whole.engine.snapshot().to_json().unwrap();
    let mut restored =
        Feed { engine: Engine::restore(EngineSnapshot::from_json(&text).unwrap()).unwrap(), events: Vec::new() };
    assert_eq!(restored.engine.held, whole.engine.held);
    spike(&mut whole, 321);
    spike(&mut restored, 321);
    assert_eq!(restored.events, whole.events);
    assert_eq!(whole.groups(), vec![vec![anomaly(shop.0, shop.1).0]]);
}

/// A memory leak with a short baseline: the container's memory sits at 52 % for 9 minutes, then
/// climbs 1.5 points a minute to 99 % (an OOM kill at minute 41); its service slows down from
/// minute 26. A baseline follows a steady climb (nothing is out of band on the way), and the
/// memory saturates only at minute 40, 14 minutes after the service broke: alone, that opened
/// a problem of its own for the container (a dependency breaking well after the problem above
/// it) and left the service's problem without a root. The climb to the ceiling is a forecast
/// long before the service slows down: one problem, rooted at the container.
#[test]
fn a_memory_climb_with_a_short_baseline_is_one_problem_rooted_at_the_container() {
    let mut f = Feed::new();
    f.relate("service:frontend", RelationKind::Calls, "service:shop");
    f.relate("service:shop", RelationKind::RunsOn, "container:shop-1");
    let memory = |m: i64| match m {
        ..9 => 0.52 + 0.004 * wobble(m),
        9..=40 => (0.52 + 0.015 * (m - 9) as f64 + 0.003 * wobble(m)).min(0.99),
        _ => 0.55 + 0.002 * wobble(m),
    };
    let onset = 26 * MIN;
    for m in 0..=50 {
        f.metric(m * MIN, "container:shop-1", "memory_utilisation", memory(m));
        let slow = (26..41).contains(&m);
        f.metric(m * MIN, "service:shop", "latency_p99_ms", if slow { 900.0 } else { 120.0 + 5.0 * wobble(m + 7) });
        let frontend = if slow { 1400.0 } else { 300.0 + 8.0 * wobble(m + 11) };
        f.metric(m * MIN, "service:frontend", "latency_p99_ms", frontend);
    }
    let set = f.problems();
    let visible = set.visible();
    assert_eq!(visible.len(), 1, "{:?}", f.groups());
    let p = visible[0];
    let forecast = SignalKey("forecast:container:shop-1:memory_utilisation".into());
    let saturation = SignalKey("saturation:container:shop-1:memory_utilisation".into());
    for key in [&forecast, &saturation, &anomaly("service:shop", "latency_p99_ms")] {
        assert!(p.signals.contains_key(key), "{key:?} in {:?}", p.signals.keys());
    }
    let climb = &p.signals[&forecast];
    assert!(climb.first_seen < Timestamp(onset), "the climb is news before the service slows: {climb:?}");
    assert!(climb.name.starts_with("memory_utilisation reaches 0.95 in "), "{}", climb.name);
    assert_eq!(p.root_causes[0].entity.as_str(), "container:shop-1", "{:?}", p.root_causes);
}

/// One sample of a utilisation at its ceiling (a spike to 99 %) is not the ceiling reached: no
/// forecast, and (a lone blip) no problem.
#[test]
fn one_spike_to_the_ceiling_is_no_forecast_and_no_problem() {
    let mut f = Feed::new();
    f.relate("service:shop", RelationKind::RunsOn, "container:shop-1");
    for m in 0..120 {
        let v = if m == 90 { 0.99 } else { 0.6 + 0.01 * wobble(m) };
        f.metric(m * MIN, "container:shop-1", "memory_utilisation", v);
    }
    let forecast = SignalKey("forecast:container:shop-1:memory_utilisation".into());
    assert!(f.engine.signals.get(&forecast).is_none(), "no forecast signal");
    assert!(f.problems().visible().is_empty(), "{:?}", f.groups());
}

/// A forecast waits 10 minutes for company before it opens a problem alone, unless its limit
/// comes first: a disk filling to 0 in minutes opens one at its first forecast, a slow fill
/// (an hour to go) only once its forecast has lasted 10 minutes. Both disks drain from their
/// first sample, as a new mount does, so no baseline sees anything.
#[test]
fn a_forecast_opens_a_problem_at_once_only_when_its_limit_is_nearer_than_the_hold() {
    const STEP: i64 = 15_000;
    let mut f = Feed::new();
    // From 60 % free, the scratch disk drains 5 points a minute (12 minutes to full) and the
    // data disk 1 point a minute (an hour).
    let free = |k: i64, per_min: f64| {
        let m = (k * STEP) as f64 / MIN as f64;
        (0.6 - per_min * m).max(0.0) + 0.0005 * wobble(k)
    };
    for k in 0..(30 * MIN / STEP) {
        f.metric(k * STEP, "host:scratch", "filesystem_free_ratio", free(k, 0.05));
        f.metric(k * STEP, "host:data", "filesystem_free_ratio", free(k, 0.01));
    }
    let set = f.problems();
    let opened = |entity: &str| {
        let key = SignalKey(format!("forecast:{entity}:filesystem_free_ratio"));
        let signal = f.engine.signals.get(&key).unwrap_or_else(|| panic!("{key:?} raised")).signal.clone();
        let p = set.visible().into_iter().find(|p| p.signals.contains_key(&key));
        (signal, p.map(|p| p.opened_at))
    };
    let (fast, fast_opened) = opened("host:scratch");
    assert!(fast.name.starts_with("filesystem_free_ratio reaches 0 in "), "{}", fast.name);
    assert_eq!(fast_opened, Some(fast.first_seen), "minutes from full: no hold ({})", fast.name);
    let (slow, slow_opened) = opened("host:data");
    let slow_opened = slow_opened.expect("the slow fill opens a problem once it has lasted");
    assert!(slow_opened.since(slow.first_seen) >= FORECAST_LASTS_MS, "{slow:?} opened at {slow_opened:?}");
}
