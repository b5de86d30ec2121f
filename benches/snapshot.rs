//! Engine snapshot size and speed: the demo at its end, and a large state (10,000 series fed
//! four hours of samples, over a topology of 5,000 entities, with a storm of alerts).
//!
//! Run with `cargo bench --bench snapshot`. For each state it prints the snapshot's size in
//! bytes and the median of 5 runs of: `Engine::snapshot` + `to_json` (write), and `from_json` +
//! `Engine::restore` (read). A plain main: the figures are single operations of 10 ms to
//! seconds, where criterion's sampling adds nothing.

use faultline::engine::{Engine, EngineConfig, EngineSnapshot};
use faultline::model::{
    AlertState, EntityId, Observation, ObservationKind, Relation, RelationKind, Severity, Timestamp,
};
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn measure(name: &str, engine: &Engine, observations: usize) {
    let mut write = Vec::new();
    let mut read = Vec::new();
    let mut text = String::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        text = engine.snapshot().to_json().expect("snapshot");
        write.push(t.elapsed());
        let t = Instant::now();
        let restored = Engine::restore(EngineSnapshot::from_json(&text).expect("parse")).expect("restore");
        read.push(t.elapsed());
        assert_eq!(restored.stats(), engine.stats());
    }
    let stats = engine.stats();
    println!(
        "{name}: {observations} observations, {} entities, {} series, {} signals, {} problems, {} events",
        stats.entities, stats.series, stats.signals, stats.problems, stats.last_seq
    );
    println!(
        "  snapshot {} bytes ({:.1} MB); snapshot + to_json {:.1} ms; from_json + restore {:.1} ms (median of {RUNS})",
        text.len(),
        text.len() as f64 / 1e6,
        median(write).as_secs_f64() * 1e3,
        median(read).as_secs_f64() * 1e3,
    );
}

fn demo() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let scenario = faultline::sources::fixture::load(&path).expect("the demo scenario");
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in &scenario.observations {
        engine.observe(o, &mut events);
    }
    measure("demo at its end", &engine, scenario.observations.len());
}

/// Deterministic noise in [-1, 1].
fn wobble(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// 2,500 hosts with a service each (the service runs on its host and calls the next one's):
/// 5,000 entities. Four metrics per host (10,000 series), a sample a minute for four hours.
/// In the last hour the CPU of 1 % of the hosts saturates and alerts fire on them.
fn large() {
    const HOSTS: u64 = 2_500;
    const MINUTES: i64 = 240;
    const T0: i64 = 1_793_577_600_000;
    let at = |m: i64| Timestamp(T0 + m * 60_000);
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    let mut n = 0usize;
    let mut feed = |engine: &mut Engine, o: Observation| {
        engine.observe(&o, &mut events);
        n += 1;
    };
    for h in 0..HOSTS {
        for (kind, to) in [
            (RelationKind::RunsOn, format!("host:h{h}")),
            (RelationKind::Calls, format!("service:s{}", (h + 1) % HOSTS)),
        ] {
            let relation = Relation {
                from: EntityId::new(format!("service:s{h}")),
                kind,
                to: EntityId::new(to),
                learned_from: String::new(),
            };
            feed(
                &mut engine,
                Observation { at: at(0), source: "bench".into(), kind: ObservationKind::Relation { relation } },
            );
        }
    }
    let metrics = ["cpu", "memory", "disk_io", "net_rx"];
    for m in 0..MINUTES {
        for h in 0..HOSTS {
            let saturated = m >= 180 && h % 100 == 0;
            for (i, metric) in metrics.iter().enumerate() {
                let key = (h * 4 + i as u64) * 1_000 + m as u64;
                let v = if saturated && i == 0 { 0.97 } else { 0.4 + 0.05 * wobble(key) };
                let kind = ObservationKind::Metric {
                    entity: EntityId::new(format!("host:h{h}")),
                    metric: metric.to_string(),
                    samples: vec![(at(m), v)],
                };
                feed(&mut engine, Observation { at: at(m), source: "bench".into(), kind });
            }
            if saturated && m % 5 == 0 {
                let kind = ObservationKind::Alert {
                    entity: EntityId::new(format!("host:h{h}")),
                    name: "HostCpuSaturated".into(),
                    fingerprint: format!("h{h}/cpu"),
                    state: AlertState::Firing,
                    severity: Severity::Major,
                    labels: Default::default(),
                    summary: String::new(),
                };
                feed(&mut engine, Observation { at: at(m), source: "bench".into(), kind });
            }
        }
    }
    measure("large state", &engine, n);
}

fn main() {
    // cargo bench passes `--bench`; cargo test --all-targets runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("snapshot: skipped (run `cargo bench --bench snapshot`)");
        return;
    }
    demo();
    large();
}
