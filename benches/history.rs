//! The history's costs: a similar-incident search over 100,000 past problems, and the handover
//! report of a month of a busy journal.
//!
//! - `similar/search 100k`: `Index::similar` (limit 3) for a new problem against an index of
//!   100,000 generated summaries (400 hosts, 60 services, 8 metrics, 40 log templates, a third
//!   after a deployment); the query shares its host and service with about a thousand of them.
//!   Also printed: the time to build that index.
//! - `report/month`: `faultline report --since 30d` as the CLI does it, on a journal of 30 days
//!   at 300 problems a day (9,000 problems, each with 20 signal repeats: about 300,000 events)
//!   and one metric observation a minute from each of 5 sources (216,000 observations): open
//!   the file, read the problems alive in the period, fold them, measure staleness, render.
//!   Also printed: folding every problem of that journal (what `faultline similar` reads).
//!
//! Run with `cargo bench --bench history` (release).

#[path = "../tests/history/generate.rs"]
mod generate;

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::history::handover::{Format, Handover, Period};
use faultline::history::load::Source;
use faultline::history::summary::fold_into;
use faultline::history::{IncidentSummary, Index};
use faultline::journal::Journal;
use faultline::model::{EntityId, EntityKind, Observation, ObservationKind, Outcome, Severity, Timestamp};
use generate::{History, Incident, DAY, MINUTE, WEEK_START};
use std::collections::BTreeMap;
use std::time::Instant;

/// A small deterministic generator (xorshift), so every run builds the same history.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn names(prefix: &str, n: usize) -> Vec<&'static str> {
    (0..n).map(|i| &*Box::leak(format!("{prefix}{i}").into_boxed_str())).collect()
}

const METRICS: [&str; 8] = [
    "cpu_utilisation",
    "memory_used",
    "disk_used_ratio",
    "latency_p99",
    "error_rate",
    "consumer_lag",
    "gc_pause",
    "iowait",
];

/// A varied incident at `at`.
fn incident(
    rng: &mut Rng,
    hosts: &[&'static str],
    services: &[&'static str],
    templates: &[&'static str],
    at: Timestamp,
) -> Incident {
    let host = hosts[rng.below(hosts.len() as u64) as usize];
    let service = services[rng.below(services.len() as u64) as usize];
    let other = services[rng.below(services.len() as u64) as usize];
    let mut i = Incident::cpu_after_deploy(at);
    i.root = host;
    i.root_kind = EntityKind::Host;
    i.metric = METRICS[rng.below(METRICS.len() as u64) as usize];
    i.alerts = vec![("HighLatency", service)];
    i.templates = vec![templates[rng.below(templates.len() as u64) as usize]];
    i.deploy = (rng.below(3) == 0).then_some(service);
    i.affected = vec![host, service, other];
    i.severity = [Severity::Warning, Severity::Major, Severity::Critical][rng.below(3) as usize];
    i.runbook = (rng.below(2) == 0).then_some(("restart-unit", "alice@bastion-1", Outcome::Succeeded));
    i.minutes = 5 + rng.below(120) as i64;
    i
}

fn search(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (hosts, services, templates) = (names("host:h", 400), names("service:s", 60), names("t-", 40));
    let mut h = History::new();
    let mut summaries: BTreeMap<_, IncidentSummary> = BTreeMap::new();
    for n in 0..100_000i64 {
        let mut i = incident(&mut rng, &hosts, &services, &templates, Timestamp(WEEK_START + n * 5 * MINUTE));
        i.repeats = 0;
        h.incident(&i);
        for e in h.events.drain(..) {
            fold_into(&mut summaries, &e);
        }
    }
    let started = Instant::now();
    let index = Index::new(summaries.into_values());
    println!("index of {} summaries built in {:.0} ms", index.len(), started.elapsed().as_secs_f64() * 1000.0);
    let mut i = incident(&mut rng, &hosts, &services, &templates, Timestamp(WEEK_START + 100_001 * 5 * MINUTE));
    i.repeats = 0;
    let mut q = History::new();
    q.incident(&i);
    let query = faultline::history::summarize(&q.events).into_values().next().expect("the query folds");
    let found = index.similar(&query, 3);
    println!("best match: {:?}", found.first().map(|m| (m.id, m.score, &m.matched)));
    c.bench_function("similar/search 100k", |b| b.iter(|| index.similar(&query, 3)));
}

fn report(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("month.sqlite");
    let mut rng = Rng(42);
    let (hosts, services, templates) = (names("host:h", 400), names("service:s", 60), names("t-", 40));
    {
        let mut j = Journal::open(&path).expect("the journal opens");
        let mut h = History::new();
        for n in 0..30 * 300i64 {
            h.incident(&incident(&mut rng, &hosts, &services, &templates, Timestamp(WEEK_START + n * DAY / 300)));
        }
        j.append(None, &h.events).expect("events append");
        for m in 0..30 * 24 * 60i64 {
            for s in 0..5 {
                let o = Observation {
                    at: Timestamp(WEEK_START + m * MINUTE),
                    source: format!("prometheus-{s}"),
                    kind: ObservationKind::Metric {
                        entity: EntityId::new(hosts[(m as usize + s) % hosts.len()]),
                        metric: "up".into(),
                        samples: vec![(Timestamp(WEEK_START + m * MINUTE), 1.0)],
                    },
                };
                j.append(Some(&o), &[]).expect("observation appends");
            }
        }
        println!(
            "month journal: {} events, {} MiB",
            h.events.len(),
            std::fs::metadata(&path).map_or(0, |m| m.len()) >> 20
        );
    }
    let started = Instant::now();
    let all = Source::open(&path).and_then(|s| s.summaries(None)).expect("summaries");
    println!(
        "every problem of the month folded (what `similar` reads): {} in {:.0} ms",
        all.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    c.bench_function("report/month", |b| {
        b.iter(|| {
            let source = Source::open(&path).expect("opens");
            let until = source.newest().expect("has data");
            let period = Period { from: until.plus_ms(-30 * DAY), until };
            let summaries = source.summaries_in(period).expect("summaries");
            let stale = source.stale(period).expect("stale");
            Handover::new(summaries.values(), period, "month.sqlite", stale).render(Format::Text).len()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = search, report
}
criterion_main!(benches);
