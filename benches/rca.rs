//! Root-cause latency on synthetic topologies of 1k, 10k and 100k entities, storm on 1% of them.
//!
//! The topology (built deterministically, xorshift-seeded): a tenth of the entities are hosts, a
//! tenth databases (each running on a host), the rest services in six layers, each service
//! running on its own container on a host and calling two or three services of the next layer
//! (the last layer calls databases). The storm: one host saturates; the databases on it slow
//! down, and so do their callers, layer by layer up the call graph, until 1% of the entities have
//! a signal (the root breaks first, each layer a minute later). Measured: one call of
//! `rca::rank` over the storm's signals, the walk the engine runs each time such a problem
//! changes. Before timing, the bench checks the root host is ranked first. Run with
//! `cargo bench --bench rca`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faultline::engine::rca;
use faultline::engine::topology::Topology;
use faultline::model::{
    Baseline, EntityId, Relation, RelationKind, Severity, Signal, SignalKey, SignalKind, Timestamp,
};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Service layers between the front ends and the databases.
const LAYERS: usize = 6;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Storm {
    topology: Topology,
    signals: Vec<Signal>,
    root: EntityId,
    entities: usize,
}

fn relate(t: &mut Topology, from: &str, kind: RelationKind, to: &str) {
    t.relate(&Relation { from: EntityId::new(from), kind, to: EntityId::new(to), learned_from: String::new() });
}

/// A topology of about `n` entities and a storm on 1% of them.
fn storm(n: usize) -> Storm {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ n as u64);
    let mut t = Topology::new();
    let hosts = n / 10;
    let databases = n / 10;
    // Each service brings its container: two entities per service.
    let services = (n - hosts - databases) / 2;
    let per_layer = services / LAYERS;
    let host = |i: usize| format!("host:h{i}");
    let db = |i: usize| format!("database:d{i}");
    let svc = |layer: usize, i: usize| format!("service:l{layer}-s{i}");
    for d in 0..databases {
        relate(&mut t, &db(d), RelationKind::RunsOn, &host(rng.below(hosts)));
    }
    for layer in 0..LAYERS {
        for i in 0..per_layer {
            let name = svc(layer, i);
            let container = format!("container:l{layer}-c{i}");
            relate(&mut t, &name, RelationKind::RunsOn, &container);
            relate(&mut t, &container, RelationKind::RunsOn, &host(rng.below(hosts)));
            for _ in 0..2 + rng.below(2) {
                let callee =
                    if layer + 1 == LAYERS { db(rng.below(databases)) } else { svc(layer + 1, rng.below(per_layer)) };
                relate(&mut t, &name, RelationKind::Calls, &callee);
            }
        }
    }

    // The storm: the busiest database host, then everything that calls into it, breadth first.
    let mut on_host: HashMap<String, Vec<String>> = HashMap::new();
    for d in 0..databases {
        let n = t.node(&EntityId::new(db(d))).expect("database in topology");
        for (kind, m) in t.dependencies(n) {
            if kind == RelationKind::RunsOn {
                on_host.entry(t.id_of(m).0.clone()).or_default().push(db(d));
            }
        }
    }
    let (root, dbs) = on_host.into_iter().max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(&a.0))).expect("a host");
    let budget = (n / 100).max(2);
    let mut affected: Vec<(String, u32)> = vec![(root.clone(), 0)];
    let mut seen: BTreeSet<String> = BTreeSet::from([root.clone()]);
    let mut queue: VecDeque<(String, u32)> = dbs.into_iter().map(|d| (d, 1)).collect();
    while let Some((id, depth)) = queue.pop_front() {
        if affected.len() >= budget {
            break;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        affected.push((id.clone(), depth));
        let node = t.node(&EntityId::new(id.as_str())).expect("affected entity in topology");
        for (kind, caller) in t.dependents(node) {
            if kind == RelationKind::Calls {
                queue.push_back((t.id_of(caller).0.clone(), depth + 1));
            }
        }
    }
    let start = Timestamp(1_700_000_000_000);
    let signals = affected
        .iter()
        .map(|(id, depth)| {
            let (metric, expected, value) = if id.starts_with("host:") {
                ("cpu_utilisation", 0.35, 0.99)
            } else {
                ("latency_seconds", 0.05, 0.05 * (4.0 + *depth as f64))
            };
            let at = start.plus_ms(i64::from(*depth) * 60_000);
            Signal {
                key: SignalKey(format!("anomaly:{id}:{metric}")),
                kind: SignalKind::Anomaly,
                entity: EntityId::new(id.as_str()),
                name: metric.to_string(),
                severity: Severity::Major,
                first_seen: at,
                last_seen: at,
                count: 1,
                active: true,
                score: 0.95 - 0.05 * f64::from(*depth).min(10.0),
                value: Some(value),
                baseline: Some(Baseline { expected, lower: expected * 0.5, upper: expected * 1.5 }),
                labels: Default::default(),
                mark: None,
            }
        })
        .collect();
    Storm { entities: t.len(), topology: t, signals, root: EntityId::new(root) }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("rca_rank");
    group.sample_size(20);
    for n in [1_000, 10_000, 100_000] {
        let s = storm(n);
        let refs: Vec<&Signal> = s.signals.iter().collect();
        let ranking = rca::rank(&refs, &s.topology, 6, 20);
        let top = ranking.first().map(|c| c.entity.clone());
        assert_eq!(top.as_ref(), Some(&s.root), "the saturated host must be ranked first at {n} entities");
        println!(
            "rca: {} entities, {} signals (one per affected entity); top candidate {} explains {} of {}",
            s.entities,
            s.signals.len(),
            s.root,
            ranking[0].explains,
            ranking[0].affected
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &refs, |b, refs| {
            b.iter(|| rca::rank(refs, &s.topology, 6, 20).len())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
