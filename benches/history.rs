//! The history's costs: a similar-incident search over 100,000 past problems, and the handover
//! report of a month of a busy journal.
//!
//! - `similar/search 100k`: `Index::similar` (limit 3) for a new problem against an index of
//!   100,000 generated summaries (400 hosts, 60 services, 8 metrics, 40 log templates, a third
//!   after a deployment); the query shares its host and service with about a thousand of them.
//!   Also printed: the time to build that index.
//! - `report/month`: `faultline report --since 30d` as the CLI does it, on a journal of 30 days
//!   at 300 problems a day (9,000 problems, each with 20 signal repeats: about 255,000 events)
//!   and one metric observation a minute from each of 5 sources (216,000 observations): open
//!   the file, read the problems alive in the period, measure staleness, render. First from the
//!   events (`report/month from events`: a journal no agent kept a store in, with each step's
//!   time printed), then as an agent keeps it (`report/month`: the summaries stored, source
//!   health recorded).
//! - `year/…`: 360 days of the same (108,000 problems, about 3 million events, observations
//!   kept 7 days as the default retention does), store built: the report of its last month, of
//!   its last 12 hours and of the whole year, and `faultline similar` end to end (open, read
//!   every summary, index, search). Also printed: the one-time store build, and what the agent
//!   pays per incident to keep the store up. Generating the year takes minutes: run it alone
//!   with `cargo bench --bench history -- year/`.
//!
//! Run with `cargo bench --bench history` (release).

#[path = "../tests/history/generate.rs"]
mod generate;

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::history::handover::{Format, Handover, Period};
use faultline::history::load::Source;
use faultline::history::store;
use faultline::history::summary::fold_into;
use faultline::history::{IncidentSummary, Index};
use faultline::journal::Journal;
use faultline::model::{EntityId, EntityKind, Observation, ObservationKind, Outcome, ProblemId, Severity, Timestamp};
use generate::{History, Incident, Rng, DAY, HOUR, MINUTE, WEEK_START};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

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
    if !wanted("similar/search 100k") {
        return;
    }
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

/// True when criterion was asked for `name` (or for everything): generating a year takes
/// minutes, so only when its benchmarks are wanted.
fn wanted(name: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Appends `days` days of incidents (300 a day from `first_day`), as the agent journals them.
fn write_days(j: &mut Journal, h: &mut History, rng: &mut Rng, first_day: i64, days: i64) -> usize {
    let (hosts, services, templates) = (names("host:h", 400), names("service:s", 60), names("t-", 40));
    let mut written = 0;
    for day in first_day..first_day + days {
        for n in 0..300i64 {
            let at = Timestamp(WEEK_START + day * DAY + n * DAY / 300);
            h.incident(&incident(rng, &hosts, &services, &templates, at));
        }
        j.append(None, &h.events).expect("events append");
        written += h.events.len();
        h.events.clear();
    }
    written
}

/// One metric observation a minute from each of 5 sources over `minutes` from `first`.
fn write_metrics(j: &mut Journal, first: i64, minutes: i64) {
    let hosts = names("host:h", 400);
    for m in 0..minutes {
        for s in 0..5 {
            let at = Timestamp(first + m * MINUTE);
            let o = Observation {
                at,
                source: format!("prometheus-{s}"),
                kind: ObservationKind::Metric {
                    entity: EntityId::new(hosts[(m as usize + s) % hosts.len()]),
                    metric: "up".into(),
                    samples: vec![(at, 1.0)],
                },
            };
            j.append(Some(&o), &[]).expect("observation appends");
        }
    }
}

/// The 5 sources' health as an agent records it: healthy from the start, and one outage of
/// 20 minutes every third day on one of them.
fn write_health(j: &mut Journal, days: i64) {
    for s in 0..5 {
        j.record_source_health(&format!("prometheus-{s}"), Timestamp(WEEK_START), None).expect("health");
    }
    for day in (1..days).step_by(3) {
        let source = format!("prometheus-{}", day % 5);
        let at = WEEK_START + day * DAY + 10 * HOUR;
        j.record_source_health(&source, Timestamp(at), Some("connection refused")).expect("health");
        j.record_source_health(&source, Timestamp(at + 20 * MINUTE), None).expect("health");
    }
}

/// A journal of `days` days of incidents in a new temporary directory, with metric
/// observations over its last `metric_days`; the history (for more incidents) and its events.
fn generated(name: &str, seed: u64, days: i64, metric_days: i64) -> (tempfile::TempDir, PathBuf, History, usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    let mut h = History::new();
    let mut j = Journal::open(&path).expect("the journal opens");
    let events = write_days(&mut j, &mut h, &mut Rng(seed), 0, days);
    write_metrics(&mut j, WEEK_START + (days - metric_days) * DAY, metric_days * 24 * 60);
    (dir, path, h, events)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// `faultline report --since <length>` as the CLI runs it: open, read the period's problems
/// and staleness, render.
fn report_of(path: &std::path::Path, length: i64) -> usize {
    let source = Source::open(path).expect("opens");
    let until = source.newest().expect("has data");
    let period = Period { from: until.plus_ms(-length), until };
    let summaries = source.summaries_in(period).expect("summaries");
    let stale = source.stale(period).expect("stale");
    Handover::new(summaries.values(), period, "journal.sqlite", stale).render(Format::Text).len()
}

/// `faultline similar` as the CLI runs it: open, read every summary, index, search.
fn similar_of(path: &std::path::Path, problem: ProblemId) -> usize {
    let source = Source::open(path).expect("opens");
    let own = source.summaries(None).expect("summaries");
    let query = own[&problem].clone();
    let index = Index::new(own.into_values());
    index.similar(&query, 3).len()
}

fn report(c: &mut Criterion) {
    if !wanted("report/month") {
        return;
    }
    let (_dir, path, _, events) = generated("month.sqlite", 42, 30, 30);
    println!("month journal: {events} events, {} MiB", std::fs::metadata(&path).map_or(0, |m| m.len()) >> 20);

    // Where the time went before the store: each step of the report, from the events.
    let started = Instant::now();
    let source = Source::open(&path).expect("opens");
    let until = source.newest().expect("has data");
    let period = Period { from: until.plus_ms(-30 * DAY), until };
    println!("  open and newest data time: {:.0} ms", ms(started));
    let started = Instant::now();
    let folded = source.folded_in(period).expect("summaries");
    println!("  read and fold the events of {} problems: {:.0} ms", folded.len(), ms(started));
    let started = Instant::now();
    let gaps = source.stale(period).expect("stale");
    println!("  staleness from data gaps ({} stretches): {:.0} ms", gaps.stretches.len(), ms(started));
    let started = Instant::now();
    let text = Handover::new(folded.values(), period, "month.sqlite", gaps).render(Format::Text);
    println!("  render ({} bytes): {:.0} ms", text.len(), ms(started));
    drop(source);
    c.bench_function("report/month from events", |b| b.iter(|| report_of(&path, 30 * DAY)));

    // As the agent keeps it: the store caught up and source health recorded.
    let started = Instant::now();
    {
        let mut j = Journal::open(&path).expect("the journal opens");
        let n = store::catch_up(&mut j).expect("catch up");
        println!("store built from {n} events in {:.0} ms (once, on the first catch-up)", ms(started));
        write_health(&mut j, 30);
    }
    let source = Source::open(&path).expect("opens");
    let started = Instant::now();
    let stored = source.summaries_in(period).expect("summaries");
    println!("  the period's summaries from the store ({}): {:.0} ms", stored.len(), ms(started));
    let started = Instant::now();
    let facts = source.stale(period).expect("stale");
    println!("  staleness from health facts ({} stretches): {:.0} ms", facts.stretches.len(), ms(started));
    drop(source);
    c.bench_function("report/month", |b| b.iter(|| report_of(&path, 30 * DAY)));
}

fn year(c: &mut Criterion) {
    if !wanted("year/") {
        return;
    }
    let days = 360;
    let started = Instant::now();
    // Observations are kept 7 days (the default retention); events and health for ever.
    let (_dir, path, mut h, events) = generated("year.sqlite", 7, days, 7);
    Journal::open(&path).map(|mut j| write_health(&mut j, days)).expect("the journal opens");
    println!(
        "year journal: {events} events, {} MiB, written in {:.0} s",
        std::fs::metadata(&path).map_or(0, |m| m.len()) >> 20,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    {
        let mut j = Journal::open(&path).expect("the journal opens");
        let n = store::catch_up(&mut j).expect("catch up");
        println!(
            "store built from {n} events in {:.1} s (once, on the first catch-up)",
            started.elapsed().as_secs_f64()
        );
        // What the agent pays per cycle: one incident's events, then a catch-up.
        let mut rng = Rng(11);
        let (hosts, services, templates) = (names("host:h", 400), names("service:s", 60), names("t-", 40));
        let started = Instant::now();
        for n in 0..100 {
            let at = Timestamp(WEEK_START + days * DAY + n * MINUTE);
            h.incident(&incident(&mut rng, &hosts, &services, &templates, at));
            j.append(None, &h.events).expect("events append");
            h.events.clear();
            store::catch_up(&mut j).expect("catch up");
        }
        println!("  append one incident and catch up: {:.2} ms each (mean of 100)", ms(started) / 100.0);
    }
    c.bench_function("year/report of the last month", |b| b.iter(|| report_of(&path, 30 * DAY)));
    c.bench_function("year/report of the last 12h", |b| b.iter(|| report_of(&path, 12 * HOUR)));
    c.bench_function("year/report of the whole year", |b| b.iter(|| report_of(&path, (days + 1) * DAY)));
    c.bench_function("year/similar end to end", |b| b.iter(|| similar_of(&path, ProblemId(54_321))));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = search, report, year
}
criterion_main!(benches);
