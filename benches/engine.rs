//! Engine throughput and memory on a synthetic storm: 100,000 observations over 5,000 entities.
//!
//! The topology: 500 hosts; 500 databases, each on its own process on a host; 1,750 services,
//! each on its own container on a host, each calling a database and a later service. Metrics:
//! host CPU and service latency every round (2,250 series). From round 24 the CPU of 1% of the
//! hosts saturates, the services on them slow down and alerts fire every round on the hosts and
//! services involved. Run with `cargo bench --bench engine`; it prints the peak heap and what
//! the engine concluded, then criterion's observations/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faultline::engine::{Engine, EngineConfig};
use faultline::model::{
    AlertState, EntityId, Observation, ObservationKind, ProblemSet, Relation, RelationKind, Severity, Timestamp,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const OBSERVATIONS: usize = 100_000;
const HOSTS: usize = 500;
const DATABASES: usize = 500;
const SERVICES: usize = 1_750;
const STORM_ROUND: i64 = 24;
const ROUND_MS: i64 = 30_000;

/// splitmix64: a tiny deterministic generator for noise.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn storm() -> Vec<Observation> {
    let mut out = Vec::with_capacity(OBSERVATIONS);
    let t0 = 1_772_445_600_000; // 2026-03-02T10:00:00Z
    let rel = |from: String, kind, to: String| Observation {
        at: Timestamp(t0),
        source: "bench".into(),
        kind: ObservationKind::Relation {
            relation: Relation { from: EntityId(from), kind, to: EntityId(to), learned_from: "bench".into() },
        },
    };
    for d in 0..DATABASES {
        out.push(rel(format!("database:db-{d}"), RelationKind::RunsOn, format!("process:pg-{d}")));
        out.push(rel(format!("process:pg-{d}"), RelationKind::RunsOn, format!("host:h-{}", d % HOSTS)));
    }
    for s in 0..SERVICES {
        out.push(rel(format!("service:s-{s}"), RelationKind::RunsOn, format!("container:c-{s}")));
        out.push(rel(format!("container:c-{s}"), RelationKind::RunsOn, format!("host:h-{}", (s * 7) % HOSTS)));
        out.push(rel(format!("service:s-{s}"), RelationKind::Calls, format!("database:db-{}", s % DATABASES)));
        let callee = s + 1 + (s * 13) % 50;
        if callee < SERVICES {
            out.push(rel(format!("service:s-{s}"), RelationKind::Calls, format!("service:s-{callee}")));
        }
    }
    let stormy_host = |h: usize| h % 100 == 42; // 1% of the hosts
    let mut rng = Rng(7);
    let mut round = 0i64;
    while out.len() < OBSERVATIONS {
        let at = Timestamp(t0 + round * ROUND_MS);
        let storming = round >= STORM_ROUND;
        let metric = |entity: String, metric: &str, v: f64| Observation {
            at,
            source: "bench".into(),
            kind: ObservationKind::Metric { entity: EntityId(entity), metric: metric.into(), samples: vec![(at, v)] },
        };
        for h in 0..HOSTS {
            let v = if storming && stormy_host(h) { 0.97 } else { 0.3 + 0.05 * rng.next() };
            out.push(metric(format!("host:h-{h}"), "cpu_utilisation", v));
        }
        for s in 0..SERVICES {
            let slow = storming && stormy_host((s * 7) % HOSTS);
            let v = if slow { 900.0 } else { 120.0 + 20.0 * rng.next() };
            out.push(metric(format!("service:s-{s}"), "latency_p99_ms", v));
            if slow {
                out.push(Observation {
                    at,
                    source: "bench".into(),
                    kind: ObservationKind::Alert {
                        entity: EntityId(format!("service:s-{s}")),
                        name: "HighLatency".into(),
                        fingerprint: format!("lat-{s}"),
                        state: AlertState::Firing,
                        severity: Severity::Warning,
                        labels: Default::default(),
                        summary: String::new(),
                    },
                });
            }
        }
        round += 1;
    }
    out.truncate(OBSERVATIONS);
    out
}

fn play(observations: &[Observation]) -> Vec<faultline::model::ProblemEvent> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in observations {
        engine.observe(o, &mut events);
    }
    events
}

fn bench(c: &mut Criterion) {
    let observations = storm();
    // One measured run for memory and a look at the result.
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let started = Instant::now();
    let events = play(&observations);
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let set = ProblemSet::fold(&events);
    let storm_problems: Vec<_> = set.visible().into_iter().filter(|p| p.signals.len() > 1).collect();
    eprintln!(
        "storm: {} observations, {} events, {} problems ({} with more than one signal); one run {:.1} ms \
         ({:.0} obs/s); peak heap of the engine and its events {:.1} MiB",
        observations.len(),
        events.len(),
        set.visible().len(),
        storm_problems.len(),
        elapsed.as_secs_f64() * 1e3,
        observations.len() as f64 / elapsed.as_secs_f64(),
        peak as f64 / (1024.0 * 1024.0)
    );
    for p in storm_problems.iter().take(3) {
        eprintln!("  {} {} signals, root cause: {}", p.id, p.signals.len(), p.headline());
    }

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(observations.len() as u64));
    group.sample_size(10);
    group.bench_function("storm_100k_obs_5k_entities", |b| b.iter(|| play(&observations)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
