//! Engine snapshots: an engine stopped at any observation, written as JSON, read back and
//! restored goes on producing byte-identical events to one that never stopped; and its state
//! is then byte-identical too.

use faultline::config::HumanDuration;
use faultline::engine::detect::{Direction, LimitConfig, SaturationConfig};
use faultline::engine::{Engine, EngineConfig, EngineSnapshot, SnapshotError, SNAPSHOT_VERSION};
use faultline::model::{Observation, ProblemEvent};
use faultline::sources::fixture;
use std::path::{Path, PathBuf};

fn scenario(rel: &str) -> Vec<Observation> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    fixture::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).observations
}

fn demo() -> Vec<Observation> {
    scenario("fixtures/scenarios/db-cpu-saturation.jsonl")
}

fn fault_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/faults");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    v.sort();
    assert!(v.len() >= 6, "{v:?}");
    v
}

/// Each event as the journal writes it.
fn json(events: &[ProblemEvent]) -> Vec<String> {
    events.iter().map(|e| serde_json::to_string(e).unwrap()).collect()
}

fn feed(engine: &mut Engine, obs: &[Observation], out: &mut Vec<ProblemEvent>) {
    for o in obs {
        engine.observe(o, out);
    }
}

/// Snapshot -> JSON text -> parsed -> restored, the way a bundle or a resume does it. The
/// borrowed view the agent writes from must give the same bytes as the copied snapshot.
fn through_json(engine: &Engine) -> (Engine, String) {
    let text = serde_json::to_string(&engine.snapshot()).unwrap();
    let view = serde_json::to_string(&engine.snapshot_view()).unwrap();
    assert!(view == text, "the snapshot view writes other bytes than the snapshot");
    let parsed: EngineSnapshot = serde_json::from_str(&text).unwrap();
    (Engine::restore(parsed).unwrap(), text)
}

/// Engine B fed everything without a stop: its events.
fn uninterrupted(obs: &[Observation], config: &EngineConfig) -> Vec<String> {
    let mut b = Engine::new(config.clone());
    let mut events = Vec::new();
    feed(&mut b, obs, &mut events);
    json(&events)
}

/// Engine A fed `obs[..k]`, stopped and restored through JSON, fed `obs[k..]`: its events.
fn split_at(obs: &[Observation], k: usize, config: &EngineConfig) -> Vec<String> {
    let mut a = Engine::new(config.clone());
    let mut events = Vec::new();
    feed(&mut a, &obs[..k], &mut events);
    let (mut a, _) = through_json(&a);
    feed(&mut a, &obs[k..], &mut events);
    json(&events)
}

/// Feeds `obs` to an engine that is stopped and restored through JSON at every split point,
/// beside one that never stops. At each stop: the restored engine's snapshot is the JSON it was
/// restored from, and equals the never-stopped engine's. At the end: the same events, byte for
/// byte, and the same state. Returns the number of events.
fn check_stops(name: &str, obs: &[Observation], splits: &[usize]) -> usize {
    let config = EngineConfig::default();
    let mut a = Engine::new(config.clone());
    let mut b = Engine::new(config);
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let mut at = 0;
    for &k in splits {
        feed(&mut a, &obs[at..k], &mut ea);
        feed(&mut b, &obs[at..k], &mut eb);
        at = k;
        let (restored, text) = through_json(&a);
        let again = restored.snapshot().to_json().unwrap();
        assert!(again == text, "{name}: the snapshot right after a restore at {k} is not the one restored from");
        let reference = b.snapshot().to_json().unwrap();
        assert!(text == reference, "{name}: after a restore the state differs at {k}");
        a = restored;
    }
    feed(&mut a, &obs[at..], &mut ea);
    feed(&mut b, &obs[at..], &mut eb);
    let (ja, jb) = (json(&ea), json(&eb));
    assert_eq!(ja.len(), jb.len(), "{name}: event count");
    for (i, (x, y)) in ja.iter().zip(&jb).enumerate() {
        assert!(x == y, "{name}: event {i} differs after stops at {splits:?}:\n restored: {x}\n straight: {y}");
    }
    let (sa, sb) = (a.snapshot().to_json().unwrap(), b.snapshot().to_json().unwrap());
    assert!(sa == sb, "{name}: final state differs");
    ja.len()
}

#[test]
fn the_demo_stopped_at_every_97th_observation_gives_the_same_events_and_state() {
    let obs = demo();
    let n = obs.len();
    let mut splits: Vec<usize> = (0..=n).step_by(97).collect();
    splits.extend([1, n - 1, n]);
    splits.sort_unstable();
    splits.dedup();
    assert!(splits.len() > 100);
    let events = check_stops("demo", &obs, &splits);
    assert!(events > 50, "the demo makes events: {events}");
}

#[test]
fn the_demo_split_once_gives_the_events_of_a_run_without_a_stop() {
    let obs = demo();
    let config = EngineConfig::default();
    let whole = uninterrupted(&obs, &config);
    // The first, the last and two in the middle of the incident.
    for k in [0, obs.len() / 3, obs.len() / 2, obs.len()] {
        let split = split_at(&obs, k, &config);
        assert_eq!(split.len(), whole.len(), "split at {k}");
        for (i, (x, y)) in split.iter().zip(&whole).enumerate() {
            assert!(x == y, "split at {k}: event {i} differs:\n split: {x}\n whole: {y}");
        }
    }
}

#[test]
fn every_fault_scenario_stopped_a_few_times_gives_the_same_events_and_state() {
    for path in fault_scenarios() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let obs = fixture::load(&path).unwrap().observations;
        let n = obs.len();
        let splits = [0, n / 5, n / 3, n / 2, 2 * n / 3, 9 * n / 10, n];
        let events = check_stops(&name, &obs, &splits);
        assert!(events > 0, "{name} makes events");
        // And one stop, fed from there in one go.
        let config = EngineConfig::default();
        assert!(split_at(&obs, n / 2, &config) == uninterrupted(&obs, &config), "{name}: split at {}", n / 2);
    }
}

#[test]
fn a_snapshot_restored_twice_gives_the_same_result_twice() {
    let obs = demo();
    let k = obs.len() / 2;
    let mut a = Engine::new(EngineConfig::default());
    let mut before = Vec::new();
    feed(&mut a, &obs[..k], &mut before);
    let text = a.snapshot().to_json().unwrap();
    let run = || {
        let mut e = Engine::restore(EngineSnapshot::from_json(&text).unwrap()).unwrap();
        let mut out = Vec::new();
        feed(&mut e, &obs[k..], &mut out);
        (json(&out), e.snapshot().to_json().unwrap())
    };
    let (first, second) = (run(), run());
    assert!(!first.0.is_empty(), "events after the stop");
    assert!(first == second);
    // Taking a snapshot changes nothing in the engine it is taken of.
    assert!(a.snapshot().to_json().unwrap() == text);
}

#[test]
fn a_snapshot_says_what_wrote_it_and_keeps_non_finite_floats() {
    let obs = demo();
    let fresh = Engine::new(EngineConfig::default()).snapshot().to_json().unwrap();
    // Data time before the first observation is i64::MIN ms, written as an integer.
    assert!(fresh.contains("\"now\":-9223372036854775808"), "{}", &fresh[..300.min(fresh.len())]);
    let head = format!("{{\"format\":{SNAPSHOT_VERSION},\"faultline\":\"{}\",\"config\":{{", env!("CARGO_PKG_VERSION"));
    assert!(fresh.starts_with(&head), "{}", &fresh[..200.min(fresh.len())]);

    let mut e = Engine::new(EngineConfig::default());
    feed(&mut e, &obs, &mut Vec::new());
    let text = e.snapshot().to_json().unwrap();
    // Detector models with no shift yet hold NaN as "the level before the shift".
    assert!(text.contains("\"before_shift\":\"NaN\""), "NaN is written as text");
    let back = EngineSnapshot::from_json(&text).unwrap();
    assert_eq!(back.config, EngineConfig::default());
    assert_eq!(back.last_seq(), e.stats().last_seq);
    assert_eq!(back.data_time(), obs.iter().map(|o| o.at).max());
    assert_eq!(EngineSnapshot::from_json(&fresh).unwrap().data_time(), None);
    assert!(back.to_json().unwrap() == text, "a read snapshot writes the same bytes");
    let restored = Engine::restore(back).unwrap();
    assert_eq!(restored.stats(), e.stats());
    assert_eq!(restored.topology().relations(), e.topology().relations());
}

#[test]
fn the_configuration_round_trips_bit_for_bit() {
    let mut c = EngineConfig { kpi_step: f64::NAN, correlation_window_ms: 7 * 60_000, ..Default::default() };
    c.detect.threshold = f64::INFINITY;
    c.detect.alpha = -0.0;
    c.detect.min_relative_deviation = 0.1 + 0.2;
    c.detect.limits[0].limit = f64::NEG_INFINITY;
    c.detect.shift_after = HumanDuration::from_millis(5_400_500);
    c.detect.limits.push(LimitConfig {
        metric: "disk_free_bytes".into(),
        limit: 1e9,
        horizon: HumanDuration::from_millis(45 * 86_400_000 + 1),
        direction: Some(Direction::Rising),
    });
    c.detect.saturation[1].at = 0.1 + 0.7;
    c.detect.saturation.push(SaturationConfig {
        metric: "db_pool_utilisation".into(),
        at: f64::MIN_POSITIVE,
        sustained: HumanDuration::from_millis(90_001),
        forecast: HumanDuration::from_millis(0),
    });
    let text = serde_json::to_string(&c).unwrap();
    let back: EngineConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    assert_eq!(back.kpi_step.to_bits(), f64::NAN.to_bits());
    assert_eq!(back.detect.threshold, f64::INFINITY);
    assert_eq!(back.detect.alpha.to_bits(), (-0.0f64).to_bits());
    assert_eq!(back.detect.min_relative_deviation.to_bits(), (0.1f64 + 0.2).to_bits());
    assert_eq!(back.detect.limits[0].limit, f64::NEG_INFINITY);
    assert_eq!(back.detect.shift_after.millis(), 5_400_500);
    assert_eq!(back.detect.limits[1], c.detect.limits[1]);
    assert_eq!(back.detect.limits[0].direction, None, "left out: from the name");
    assert_eq!(back.detect.saturation, c.detect.saturation);
    assert_eq!(back.detect.saturation[1].at.to_bits(), (0.1f64 + 0.7).to_bits());
    assert!(text.contains("\"for\":\"1m 30s 1ms\""), "written as the configuration spells it: {text}");
    // Everything else is equal (NaN aside, which equals nothing).
    let finite = |c: &EngineConfig| EngineConfig { kpi_step: 0.05, ..c.clone() };
    assert_eq!(finite(&back), finite(&c));
    // Fields left out take their defaults; unknown ones are refused by name.
    let sparse: EngineConfig = serde_json::from_str(r#"{"topology_hops":2,"detect":{"threshold":5}}"#).unwrap();
    assert_eq!((sparse.topology_hops, sparse.detect.threshold), (2, 5.0));
    assert_eq!(sparse.resolve_after_ms, EngineConfig::default().resolve_after_ms);
    let e = serde_json::from_str::<EngineConfig>(r#"{"topology_hop":2}"#).unwrap_err().to_string();
    assert!(e.contains("topology_hop"), "{e}");
    // A restored engine runs with the snapshot's configuration.
    let engine = Engine::restore(Engine::new(c.clone()).snapshot()).unwrap();
    assert_eq!(engine.config().correlation_window_ms, 7 * 60_000);
}

#[test]
fn another_format_version_is_refused_naming_both_versions() {
    let text = Engine::new(EngineConfig::default()).snapshot().to_json().unwrap();
    let ours = format!("\"format\":{SNAPSHOT_VERSION},");
    let newer = text.replacen(&ours, "\"format\":99,", 1);
    assert_ne!(newer, text);
    // Read as it is (same shape), then refused on restore.
    let parsed: EngineSnapshot = serde_json::from_str(&newer).unwrap();
    let e = Engine::restore(parsed).err().expect("refused");
    assert!(matches!(e, SnapshotError::Version { found: 99, expected: SNAPSHOT_VERSION, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("format 99") && msg.contains(&format!("format {SNAPSHOT_VERSION}")), "{msg}");
    assert!(msg.contains(env!("CARGO_PKG_VERSION")), "{msg}");
    // A format-1 snapshot (before saturation watches and fixed limit directions) is refused
    // by its version, though its shape no longer parses.
    let old = text.replacen(&ours, "\"format\":1,", 1).replace(",\"saturations\":[]", "");
    assert!(!old.contains("saturations"));
    match EngineSnapshot::from_json(&old) {
        Err(SnapshotError::Version { found: 1, expected: SNAPSHOT_VERSION, .. }) => {}
        other => panic!("expected a version error, got {other:?}"),
    }
    // A newer format of another shape is refused by its version, not by a parse error.
    let other = r#"{"format":1000,"faultline":"9.1.0","engine":{"shards":[]}}"#;
    match EngineSnapshot::from_json(other) {
        Err(SnapshotError::Version { found: 1000, written_by, .. }) => assert_eq!(written_by, "9.1.0"),
        other => panic!("expected a version error, got {other:?}"),
    }
}

#[test]
fn a_broken_snapshot_says_where() {
    let obs = demo();
    let mut e = Engine::new(EngineConfig::default());
    feed(&mut e, &obs[..2000], &mut Vec::new());
    let text = e.snapshot().to_json().unwrap();
    // Truncated.
    match EngineSnapshot::from_json(&text[..text.len() / 2]) {
        Err(SnapshotError::Parse { line, column, .. }) => assert!(line == 1 && column > 0),
        other => panic!("expected a parse error, got {other:?}"),
    }
    // A wrong value deep inside: the error names the key path.
    let bad = text.replacen("\"next_series\":", "\"next_series\":\"x\",\"_\":", 1);
    match EngineSnapshot::from_json(&bad) {
        Err(SnapshotError::Parse { path, .. }) => assert_eq!(path, "state.next_series"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    // Trailing garbage.
    assert!(matches!(EngineSnapshot::from_json(&format!("{text} x")), Err(SnapshotError::Parse { .. })));
}

/// A story that uses every kind of observation: topology from discovery and from a file (and
/// both withdrawing), history, metrics with a saturation (a baseline anomaly, and a CPU pinned
/// at its ceiling twice: a saturation signal) and a disk filling up (forecast), a flapping alert
/// on a low-criticality service (background problem), alerts that resolve and fire again
/// (reopen), log bursts and a new error template, deployments, silences (one for an unknown
/// problem), traffic, KPIs (one NaN reading and one infinite comparison), and ticks.
fn every_kind() -> Vec<Observation> {
    use faultline::model::{
        AlertState, ChangeKind, Criticality, Entity, EntityId, EntityKind, ObservationKind as K, ProblemId, Relation,
        RelationKind::*, Severity, SilenceRecord, Timestamp, TrafficRole, STATIC,
    };
    const MIN: i64 = 60_000;
    const T0: i64 = 1_793_577_600_000; // 2026-11-02T00:00:00Z
    let id = |s: &str| EntityId::new(s);
    let mut obs: Vec<Observation> = Vec::new();
    let mut push = |m: i64, kind: K| obs.push(Observation { at: Timestamp(T0 + m * MIN), source: "test".into(), kind });
    let rel = |a: &str, kind, b: &str, from: &str| Relation { from: id(a), kind, to: id(b), learned_from: from.into() };
    for (a, k, b) in [
        ("service:edge", Calls, "service:frontend"),
        ("service:frontend", Calls, "service:checkout"),
        ("service:checkout", Calls, "database:orders"),
        ("database:orders", RunsOn, "host:db-1"),
        ("service:checkout", RunsOn, "container:c1"),
        ("container:c1", RunsOn, "host:app-1"),
        ("service:batch", RunsOn, "host:app-1"),
    ] {
        push(0, K::Relation { relation: rel(a, k, b, "") });
    }
    let low = Entity { criticality: Criticality::Low, ..Entity::new(id("service:batch"), EntityKind::Service) };
    push(0, K::Entity { entity: low });
    let pay = Entity {
        criticality: Criticality::High,
        learned_from: STATIC.into(),
        ..Entity::new(id("external:pay"), EntityKind::External)
    };
    push(0, K::Entity { entity: pay });
    push(0, K::Relation { relation: rel("service:checkout", Calls, "external:pay", STATIC) });
    let wobble = |i: i64| ((i.wrapping_mul(2_654_435_761) >> 16) % 2001) as f64 / 1000.0 - 1.0;
    let history = (0..300).map(|h| (Timestamp(T0 - (300 - h) * 10 * MIN), 0.3 + 0.02 * wobble(h))).collect();
    push(0, K::History { entity: id("host:db-1"), metric: "cpu".into(), samples: history });
    let alert = |entity: &str, name: &str, state| K::Alert {
        entity: id(entity),
        name: name.into(),
        fingerprint: format!("{entity}/{name}"),
        state,
        severity: Severity::Major,
        labels: [("alertname".to_string(), name.to_string())].into(),
        summary: String::new(),
    };
    for m in 1..=260 {
        let cpu = if (60..100).contains(&m) || (110..118).contains(&m) { 0.97 } else { 0.3 };
        let samples = vec![(Timestamp(T0 + m * MIN), cpu + 0.02 * wobble(m))];
        push(m, K::Metric { entity: id("host:db-1"), metric: "cpu".into(), samples });
        let latency = if (68..104).contains(&m) { 900.0 } else { 120.0 } + 5.0 * wobble(m + 7);
        let samples = vec![(Timestamp(T0 + m * MIN), latency)];
        push(m, K::Metric { entity: id("service:checkout"), metric: "latency_p99_ms".into(), samples });
        let free = match m {
            ..=100 => 0.5 + 0.001 * wobble(m),
            101..=160 => 0.5 - (m - 100) as f64 * 0.008,
            _ => 0.8,
        };
        let samples = vec![(Timestamp(T0 + m * MIN), free)];
        push(m, K::Metric { entity: id("host:app-1"), metric: "filesystem_free_ratio".into(), samples });
        // Pinned at its ceiling twice: a saturation raised, cleared, raised again.
        let cpu = if (90..100).contains(&m) || (104..110).contains(&m) { 0.99 } else { 0.4 + 0.02 * wobble(m + 3) };
        let samples = vec![(Timestamp(T0 + m * MIN), cpu)];
        push(m, K::Metric { entity: id("host:app-1"), metric: "cpu_utilisation".into(), samples });
        if m % 10 == 0 && m <= 150 {
            push(m, alert("service:batch", "BatchLate", AlertState::Firing));
        }
        if m % 10 == 3 && m <= 150 {
            push(m, alert("service:batch", "BatchLate", AlertState::Resolved));
        }
        if m % 5 == 0 {
            let samples: Vec<(Timestamp, f64)> = (0..5)
                .map(|i| (Timestamp(T0 + (m - 4 + i) * MIN), if (65..105).contains(&m) { 80.0 } else { 120.0 }))
                .collect();
            push(m, K::Traffic { entity: id("service:edge"), role: TrafficRole::Requests, samples });
            let errors = if (65..105).contains(&m) { 9.0 } else { 0.2 };
            let samples = vec![(Timestamp(T0 + m * MIN), errors)];
            push(m, K::Traffic { entity: id("service:checkout"), role: TrafficRole::Errors, samples });
            let value = if m == 95 {
                f64::NAN
            } else if (65..105).contains(&m) {
                40.0
            } else {
                100.0
            };
            push(
                m,
                K::Kpi {
                    entity: id("service:frontend"),
                    name: "orders_per_min".into(),
                    value,
                    yesterday: Some(100.0),
                    last_week: if m >= 200 { Some(f64::INFINITY) } else { Some(98.0) },
                    higher_is_better: true,
                    unit: "orders/min".into(),
                },
            );
        }
    }
    push(55, K::Change { entity: id("database:orders"), change: ChangeKind::Deployment, description: "v2".into() });
    push(62, alert("host:db-1", "HostCpuSaturated", AlertState::Firing));
    push(72, alert("service:frontend", "HighLatency", AlertState::Firing));
    for m in [75, 80, 85] {
        let kind = K::LogPattern {
            entity: id("service:checkout"),
            template_id: "t1".into(),
            template: "timeout talking to <*>".into(),
            level: Severity::Major,
            count: 25,
            new_template: false,
        };
        push(m, kind);
    }
    let kind = K::LogPattern {
        entity: id("service:edge"),
        template_id: "t9".into(),
        template: "panic in <*>".into(),
        level: Severity::Critical,
        count: 1,
        new_template: true,
    };
    push(90, kind);
    let silence = SilenceRecord {
        id: "abc".into(),
        matchers: vec!["alertname=\"HostCpuSaturated\"".into()],
        starts_at: Timestamp(T0 + 86 * MIN),
        ends_at: Timestamp(T0 + 146 * MIN),
    };
    let silenced = |p| K::Silence {
        problem: ProblemId(p),
        by: "alice@bastion".into(),
        via: "am".into(),
        silences: vec![silence.clone()],
        error: None,
    };
    push(86, silenced(1));
    push(87, silenced(99));
    push(102, alert("host:db-1", "HostCpuSaturated", AlertState::Resolved));
    push(104, alert("service:frontend", "HighLatency", AlertState::Resolved));
    push(112, alert("host:db-1", "HostCpuSaturated", AlertState::Firing));
    push(118, alert("host:db-1", "HostCpuSaturated", AlertState::Resolved));
    push(120, K::Change { entity: id("container:c1"), change: ChangeKind::Restart, description: "OOM".into() });
    push(130, K::RelationGone { relation: rel("service:batch", RunsOn, "host:app-1", "") });
    push(140, K::EntityGone { entity: id("service:batch"), learned_from: String::new() });
    push(150, K::EntityGone { entity: id("external:pay"), learned_from: STATIC.into() });
    push(300, K::Tick);
    push(400, K::Tick);
    obs.sort_by_key(|o| o.at);
    obs
}

#[test]
fn a_story_with_every_kind_of_observation_stopped_at_every_observation_gives_the_same_events_and_state() {
    let obs = every_kind();
    let n = obs.len();
    let splits: Vec<usize> = (0..=n).collect();
    let events = check_stops("every kind", &obs, &splits);
    // The story reaches what it is meant to exercise.
    let mut e = Engine::new(EngineConfig::default());
    let mut out = Vec::new();
    feed(&mut e, &obs, &mut out);
    let all = json(&out).join("\n");
    let mut kinds: Vec<&str> = all.split("\"event\":\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    kinds.sort_unstable();
    kinds.dedup();
    eprintln!("{events} events of kinds {kinds:?}");
    for kind in
        ["opened", "signal_attached", "impact_updated", "foundational_cause_linked", "silenced", "resolved", "reopened"]
    {
        assert!(kinds.contains(&kind), "no {kind} event in {kinds:?}");
    }
    assert!(all.contains("background"), "a background problem");
    assert!(all.contains("reaches 0 in"), "a forecast");
    assert!(all.contains("cpu_utilisation at 99% for 1m (saturated at ≥ 95%, expected 4"), "a saturation");
    // Mid-incident, the state holds KPIs (one NaN), traffic and traffic baselines.
    let mut e = Engine::new(EngineConfig::default());
    let mid = obs.iter().position(|o| o.at.0 >= obs[0].at.0 + 97 * 60_000).unwrap();
    feed(&mut e, &obs[..mid], &mut Vec::new());
    let text = e.snapshot().to_json().unwrap();
    for part in [
        "\"value\":\"NaN\"",
        "orders_per_min",
        "\"traffic_before\":[[",
        "\"errors\"",
        "\"saturations\":[[",
        "\"falling\":true",
        "\"since\":",
    ] {
        assert!(text.contains(part), "no {part} in the snapshot");
    }
}
