//! Faults end to end through the agent runtime: a real Prometheus (Debian package, started by
//! tests/support) holding the backfilled topology history, pulled by `Runtime` while it is
//! stopped and restarted, and while a fault-injecting proxy (tests/support/proxy.rs) in front of
//! it answers 500 and 503, hangs, truncates, sends 50 MB, NaN/±Inf samples and series no mapping
//! rule knows. For each: no panic, a status that says what went wrong (or, for data the source
//! skips, a healthy cycle whose skipped data never reaches the engine), the problem found before
//! kept as it was, and the next good cycle back to healthy. Last, the same stop/restart through
//! the `faultline agent` binary, and its journal resumed by `agent --once`.

mod support;

use faultline::agent::runtime::{Runtime, SourceStatus};
use faultline::config::Config;
use faultline::journal::Journal;
use faultline::model::{
    EventKind, Observation, ObservationKind, ProblemEvent, ProblemId, ProblemSet, SignalKey, Timestamp,
};
use faultline::ui::SourceHealth;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::proxy::{Fault, Proxy, ProxyStats};
use support::*;

/// The sources' `step`: each cycle below moves data time on by whole steps, so every cycle asks
/// `query_range` for new points.
const STEP_MS: i64 = 15_000;
/// `max_response_bytes` of the source: far above a real answer here (tens of kB), far below 50 MB.
const CAP: usize = 8 * 1024 * 1024;
/// The "50 MB response".
const HUGE: usize = 50_000_000;
/// Requests in one cycle: the four queries, `/api/v1/alerts`, `/api/v1/rules`, `/api/v1/targets`.
const REQUESTS_PER_CYCLE: usize = 7;
const QUERIES: [&str; 4] =
    ["cpu_utilisation", "latency_p99_seconds", "service_info", "traces_service_graph_request_total"];

/// The source config: the topology's four queries, a 1 s timeout, no retries (so a fault costs
/// one attempt per request), the cap above.
fn config_text(url: &str, interval: &str) -> String {
    format!(
        r#"
[[sources.prometheus]]
name = "prom"
url = "{url}"
interval = "{interval}"
step = "15s"
lookback = "40m"
timeout = "1s"
retries = 0
max_response_bytes = {CAP}
# Only the four queries below: the requests of a cycle are counted.
changes = []
{TOPOLOGY_QUERIES}"#
    )
}

fn runtime(url: &str, journal: &Path) -> Runtime {
    let config = Config::parse(&config_text(url, "30s"), Path::new("test.toml")).unwrap();
    let (rt, replayed) = Runtime::new(&config, Some(Journal::open(journal).unwrap())).unwrap();
    assert!(replayed.is_empty(), "a new journal");
    rt
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The one source's status.
fn status(rt: &Runtime) -> SourceStatus {
    let all = rt.statuses();
    assert_eq!(all.len(), 1);
    all[0].clone()
}

/// The range end a cycle at `t` asks for (the source aligns to the step).
fn aligned(t: Timestamp) -> Timestamp {
    Timestamp(t.millis() - t.millis().rem_euclid(STEP_MS))
}

/// The database storm's problem as it matters here: which one, what it blames, what it holds.
#[derive(Debug, Clone, PartialEq)]
struct Storm {
    id: ProblemId,
    root: String,
    signals: BTreeSet<SignalKey>,
}

/// The one visible problem with a signal on `host:db-1` (panics when there are none or two).
fn storm(set: &ProblemSet) -> Storm {
    let with_db: Vec<_> =
        set.visible().into_iter().filter(|p| p.signals.values().any(|s| s.entity.as_str() == "host:db-1")).collect();
    let listed: Vec<(ProblemId, &str)> = set.visible().iter().map(|p| (p.id, p.headline())).collect();
    assert_eq!(with_db.len(), 1, "exactly one problem for the database storm: {listed:#?}");
    let p = with_db[0];
    Storm {
        id: p.id,
        root: p.root_causes.first().map(|c| c.entity.as_str().to_string()).unwrap_or_default(),
        signals: p.signals.keys().cloned().collect(),
    }
}

fn opened(events: &[ProblemEvent]) -> Vec<ProblemId> {
    events.iter().filter(|e| matches!(e.kind, EventKind::Opened { .. })).map(|e| e.problem).collect()
}

fn journal_observations(path: &Path) -> Vec<Observation> {
    Journal::open_read_only(path).unwrap().observations().unwrap()
}

/// The samples of `host:db-1`'s `cpu_utilisation` among `observations`.
fn db_cpu_samples(observations: &[Observation]) -> Vec<(Timestamp, f64)> {
    observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Metric { entity, metric, samples }
                if entity.as_str() == "host:db-1" && metric == "cpu_utilisation" =>
            {
                Some(samples.clone())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

/// One source through good → fault → good, in a fresh runtime with its own journal.
struct Run {
    t0: Timestamp,
    t1: Timestamp,
    t2: Timestamp,
    before: ProblemSet,
    storm: Storm,
    fault_events: Vec<ProblemEvent>,
    faulted: SourceStatus,
    after_fault: ProblemSet,
    /// Observations journaled by the fault cycle.
    fault_observations: Vec<Observation>,
    /// What the proxy did during the fault cycle.
    stats: ProxyStats,
    recovery_events: Vec<ProblemEvent>,
    recovered: SourceStatus,
    after_recovery: ProblemSet,
    recovery_observations: Vec<Observation>,
}

fn run_through(tokio: &tokio::runtime::Runtime, proxy: &Proxy, dir: &Path, name: &str, fault: Fault) -> Run {
    let journal = dir.join(format!("{name}.sqlite"));
    let mut rt = runtime(&proxy.url, &journal);

    proxy.set(Fault::PassThrough);
    let t0 = Timestamp::wall_clock();
    let first = tokio.block_on(rt.cycle(t0)).unwrap();
    let good = status(&rt);
    assert!(good.healthy, "{name}: the good cycle: {good:#?}");
    let before = rt.problems().clone();
    let storm = storm(&before);
    assert_eq!(storm.root, "host:db-1", "{name}: the good cycle's root cause");
    assert!(!opened(&first).is_empty());
    let seen = journal_observations(&journal).len();

    // Four steps on, so a cycle that gets through asks for four new points per series.
    proxy.set(fault);
    let t1 = t0.plus_ms(4 * STEP_MS);
    let fault_events = tokio.block_on(rt.cycle(t1)).unwrap();
    let stats = proxy.stats();
    let faulted = status(&rt);
    let after_fault = rt.problems().clone();
    let fault_observations = journal_observations(&journal).split_off(seen);
    let seen = seen + fault_observations.len();
    eprintln!(
        "{name}: healthy={} elapsed_ms={} health={:?} problems={:#?}",
        faulted.healthy,
        faulted.elapsed_ms,
        faulted.health(),
        faulted.problems
    );

    proxy.set(Fault::PassThrough);
    let t2 = t1.plus_ms(STEP_MS);
    let recovery_events = tokio.block_on(rt.cycle(t2)).unwrap();
    let recovered = status(&rt);
    let after_recovery = rt.problems().clone();
    let recovery_observations = journal_observations(&journal).split_off(seen);
    Run {
        t0,
        t1,
        t2,
        before,
        storm,
        fault_events,
        faulted,
        after_fault,
        fault_observations,
        stats,
        recovery_events,
        recovered,
        after_recovery,
        recovery_observations,
    }
}

/// The problem found before the fault is still the one problem of the storm, blaming the same
/// host, with at least the signals it had; nothing was opened again.
fn assert_problem_kept(name: &str, r: &Run, after: &ProblemSet, events: &[ProblemEvent]) {
    let now = storm(after);
    assert_eq!(now.id, r.storm.id, "{name}: the same problem");
    assert_eq!(now.root, r.storm.root, "{name}: the same root cause");
    assert!(
        now.signals.is_superset(&r.storm.signals),
        "{name}: signals lost: {:?}",
        r.storm.signals.difference(&now.signals)
    );
    assert_eq!(opened(events), Vec::<ProblemId>::new(), "{name}: no problem opened again");
}

/// The next good cycle is healthy again and keeps the problem.
fn assert_recovered(name: &str, r: &Run) {
    let s = &r.recovered;
    assert!(s.healthy, "{name}: recovery: {s:#?}");
    assert!(s.problems.is_empty(), "{name}: {:?}", s.problems);
    assert_eq!(s.health(), SourceHealth::Ok);
    assert_eq!(s.stale_since, None, "{name}");
    assert_eq!(s.last_ok, Some(r.t2), "{name}");
    assert_problem_kept(name, r, &r.after_recovery, &r.recovery_events);
}

/// A transport fault: every request of the cycle failed, each line names the proxy's URL and
/// `needles`; the status bar says since when; nothing reached the engine; the next good cycle
/// asks again for the whole range the failed one missed. Returns the status-bar text.
fn assert_stale_then_recovered(name: &str, r: &Run, url: &str, needles: &[&str]) -> String {
    assert_eq!(r.stats.requests, REQUESTS_PER_CYCLE, "{name}: every request met the fault: {:#?}", r.stats.paths);
    let s = &r.faulted;
    assert!(!s.healthy, "{name}: {s:#?}");
    assert_eq!(s.problems.len(), REQUESTS_PER_CYCLE, "{name}: one line per failed request: {:#?}", s.problems);
    for line in &s.problems {
        assert!(line.contains(url), "{name}: names the URL: {line}");
        for needle in needles {
            assert!(line.contains(needle), "{name}: says `{needle}`: {line}");
        }
    }
    for (q, line) in QUERIES.iter().zip(&s.problems) {
        assert!(line.starts_with(&format!("query `{q}`: {url}/api/v1/query_range: ")), "{name}: {line}");
    }
    assert!(s.problems[4].starts_with(&format!("{url}/api/v1/alerts: ")), "{name}: {}", s.problems[4]);
    assert!(s.problems[5].starts_with(&format!("{url}/api/v1/rules")), "{name}: {}", s.problems[5]);
    assert!(s.problems[6].starts_with(&format!("{url}/api/v1/targets: ")), "{name}: {}", s.problems[6]);
    assert_eq!(s.stale_since, Some(r.t1), "{name}");
    assert_eq!(s.last_ok, Some(r.t0), "{name}");
    assert_eq!(s.observations, 0, "{name}");
    let SourceHealth::Stale { reason } = s.health() else { panic!("{name}: stale, not {:?}", s.health()) };
    assert_eq!(reason, format!("since {}: {} (and 6 more)", r.t1.clock(), s.problems[0]), "{name}");

    // No lost problem state: nothing reached the engine, so the problems are exactly as before.
    assert!(r.fault_events.is_empty(), "{name}: {:#?}", r.fault_events);
    assert!(r.fault_observations.is_empty(), "{name}: {:#?}", r.fault_observations);
    assert_eq!(r.after_fault, r.before, "{name}: the problems are untouched by the failed cycle");

    assert_recovered(name, r);
    // The failed cycle's range was not lost: the next one asked for it again.
    let times: Vec<Timestamp> = db_cpu_samples(&r.recovery_observations).iter().map(|&(t, _)| t).collect();
    let expected: Vec<Timestamp> = (1..=5).map(|k| aligned(r.t0).plus_ms(k * STEP_MS)).collect();
    assert_eq!(times, expected, "{name}: the recovery pulls the missed range");
    assert_eq!(aligned(r.t2), *expected.last().unwrap());
    reason
}

#[test]
fn prometheus_stopped_mid_run_goes_stale_keeps_the_problem_and_recovers_after_a_restart() {
    let mut prom = topology_prometheus();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let tokio = tokio();
    let mut rt = runtime(&prom.url, &journal);

    // Cycle 1: the storm is found.
    let t1 = Timestamp::wall_clock();
    let events = tokio.block_on(rt.cycle(t1)).unwrap();
    let s = status(&rt);
    assert!(s.healthy, "{s:#?}");
    assert_eq!((s.last_ok, s.stale_since, s.cycles), (Some(t1), None, 1));
    let before = rt.problems().clone();
    let found = storm(&before);
    assert_eq!(found.root, "host:db-1");
    assert_eq!(opened(&events), vec![found.id]);
    let seen = journal_observations(&journal).len();

    // Cycle 2: Prometheus is gone. Between cycles the agent waits for the next one, and the
    // connection tasks of its HTTP client run meanwhile: do the same, so the client sees the
    // dead server close its kept-alive connection (without that, the retry of a closed connection below would be what is tested).
    prom.stop();
    tokio.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    let t2 = t1.plus_ms(STEP_MS);
    let events = tokio.block_on(rt.cycle(t2)).unwrap();
    let s = status(&rt);
    eprintln!("stopped: health={:?} problems={:#?}", s.health(), s.problems);
    assert!(!s.healthy);
    assert_eq!(s.problems.len(), REQUESTS_PER_CYCLE, "{:#?}", s.problems);
    for line in &s.problems {
        assert!(line.contains(&prom.url) && line.contains("cannot connect"), "{line}");
        assert!(line.contains("Connection refused"), "the OS's reason is kept: {line}");
    }
    assert_eq!((s.stale_since, s.last_ok, s.observations), (Some(t2), Some(t1), 0));
    let SourceHealth::Stale { reason } = s.health() else { panic!("stale: {:?}", s.health()) };
    assert!(reason.starts_with(&format!("since {}: query `cpu_utilisation`: {}", t2.clock(), prom.url)), "{reason}");
    assert!(reason.contains("cannot connect") && reason.ends_with("(and 6 more)"), "{reason}");
    assert!(events.is_empty(), "{events:#?}");
    assert_eq!(rt.problems(), &before, "no lost problem state");

    // Cycle 3, still down: stale since the first failed cycle, not the latest.
    let t3 = t2.plus_ms(STEP_MS);
    let events = tokio.block_on(rt.cycle(t3)).unwrap();
    let s = status(&rt);
    assert_eq!((s.healthy, s.stale_since, s.last_ok, s.cycles), (false, Some(t2), Some(t1), 3));
    let SourceHealth::Stale { reason } = s.health() else { panic!("stale: {:?}", s.health()) };
    assert!(reason.starts_with(&format!("since {}: ", t2.clock())), "{reason}");
    assert!(events.is_empty());
    assert_eq!(rt.problems(), &before);
    assert_eq!(journal_observations(&journal).len(), seen, "nothing journaled while down");

    // Cycle 4: back on the same port with the same data.
    prom.restart();
    let t4 = t3.plus_ms(STEP_MS);
    let events = tokio.block_on(rt.cycle(t4)).unwrap();
    let s = status(&rt);
    assert!(s.healthy, "{s:#?}");
    assert_eq!((s.stale_since, s.last_ok, s.health()), (None, Some(t4), SourceHealth::Ok));
    assert!(s.observations > 0);
    let now = storm(rt.problems());
    assert_eq!((now.id, &now.root), (found.id, &found.root), "the same problem, the same root cause");
    assert!(now.signals.is_superset(&found.signals));
    assert_eq!(opened(&events), Vec::<ProblemId>::new(), "nothing opened twice");
    assert_eq!(rt.problems().problems.len(), before.problems.len(), "no new problem");

    // The missed range was asked for again, and known entities were not announced again.
    let all = journal_observations(&journal);
    let times: Vec<Timestamp> = db_cpu_samples(&all[seen..]).iter().map(|&(t, _)| t).collect();
    assert_eq!(times, (1..=3).map(|k| aligned(t1).plus_ms(k * STEP_MS)).collect::<Vec<_>>());
    let db_entities = all
        .iter()
        .filter(|o| matches!(&o.kind, ObservationKind::Entity { entity } if entity.id.as_str() == "host:db-1"))
        .count();
    assert_eq!(db_entities, 1, "host:db-1 announced once");

    // What the history reads: the health changes (healthy, stale with why, healthy again), one
    // row each, and the problem's summary kept up with its events.
    drop(rt);
    let j = Journal::open_read_only(&journal).unwrap();
    let changes = j.source_health_between(t1, t4).unwrap().expect("the agent records source health");
    let states: Vec<(Timestamp, bool)> = changes.iter().map(|c| (c.at, c.stale.is_none())).collect();
    assert_eq!(states, vec![(t1, true), (t2, false), (t4, true)], "{changes:#?}");
    assert!(changes[1].stale.as_deref().is_some_and(|why| why.contains("cannot connect")), "{changes:#?}");
    let summaries = faultline::history::store::read(&j, t1, t4).unwrap().expect("the agent keeps the store");
    assert!(summaries.contains_key(&found.id), "{:?}", summaries.keys());
}

#[test]
fn a_request_on_a_connection_the_stopped_server_closed_is_retried() {
    let mut prom = prometheus(PrometheusOpts::default());
    let text = format!(
        "[[sources.prometheus]]\nname = \"prom\"\nurl = \"{}\"\ntimeout = \"1s\"\nretries = 1\ntargets = false\nrules = false\nchanges = []\n",
        prom.url
    );
    let config = Config::parse(&text, Path::new("test.toml")).unwrap();
    let (mut rt, _) = Runtime::new(&config, None).unwrap();
    let tokio = tokio();
    let t1 = Timestamp::wall_clock();
    tokio.block_on(rt.cycle(t1)).unwrap();
    assert!(status(&rt).healthy, "{:#?}", status(&rt));
    // Stopped right after a cycle, before the client's connection task saw the close (or
    // during a cycle, between two requests).
    prom.stop();
    tokio.block_on(rt.cycle(t1.plus_ms(STEP_MS))).unwrap();
    let s = status(&rt);
    eprintln!("stopped right after a cycle: {:#?}", s.problems);
    assert_eq!(s.problems.len(), 1);
    assert!(s.problems[0].contains("cannot connect"), "retried on a new connection: {}", s.problems[0]);
}

#[test]
fn stale_reasons_name_the_url_without_its_query_string() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let config = Config::parse(&config_text(&url, "30s"), Path::new("test.toml")).unwrap();
    let (mut rt, _) = Runtime::new(&config, None).unwrap();
    tokio().block_on(rt.cycle(Timestamp::wall_clock())).unwrap();
    let s = status(&rt);
    assert_eq!(s.problems.len(), REQUESTS_PER_CYCLE);
    for line in &s.problems {
        assert!(line.contains("cannot connect"), "{line}");
        assert!(!line.contains("?query=") && !line.contains("start="), "{line}");
    }
}

#[test]
fn transport_faults_from_a_proxy_are_reported_stale_and_keep_the_problem() {
    let prom = topology_prometheus();
    let proxy = Proxy::start(&prom.url);
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio();
    let url = proxy.url.as_str();
    let mut seen = Vec::new();
    let mut check = |name: &str, fault: Fault, needles: &[&str]| {
        let r = run_through(&tokio, &proxy, dir.path(), name, fault);
        let reason = assert_stale_then_recovered(name, &r, url, needles);
        seen.push((name.to_string(), reason, r.faulted.elapsed_ms, r.stats.bodies.clone()));
        r
    };

    check(
        "http-500",
        Fault::Error { status: 500, error_type: "internal", message: "injected: storage is on fire" },
        &["HTTP 500: Prometheus says internal: injected: storage is on fire"],
    );
    // 503 is retried as a transient failure, and Prometheus' reason is kept.
    check(
        "http-503",
        Fault::Error { status: 503, error_type: "timeout", message: "query timed out in expression evaluation" },
        &["HTTP 503 after 1 attempt: timeout: query timed out in expression evaluation"],
    );
    check("hang", Fault::Hang, &["no answer within 1000 ms"]);
    check(
        "truncated-body",
        Fault::TruncatedBody,
        &[
            "HTTP 200: the response is not a Prometheus API answer (EOF while parsing",
            "body starts `{\"status\":\"success\"",
        ],
    );
    check("truncated-connection", Fault::TruncatedConnection, &["error decoding response body"]);
    let cap = format!("the response is larger than the cap of {CAP} bytes; refused");
    let r = check("50MB-content-length", Fault::HugeWithLength(HUGE), &[&cap]);
    // Refused on the announced length: the proxy's writes stop once the client hangs up (what
    // it managed to write fits in the sockets' buffers).
    assert!(r.stats.bodies.iter().all(|&n| n < HUGE), "{:?}", r.stats.bodies);
    let r = check("50MB-chunked", Fault::HugeChunked(HUGE), &[&cap]);
    // Without a length only counting stops it: each body was read up to the cap, not to the end.
    assert!(r.stats.bodies.iter().all(|&n| n > CAP && n < HUGE), "{:?}", r.stats.bodies);
    assert_eq!(r.faulted.bytes, 0, "a refused body is not counted as read");

    for (name, reason, ms, bodies) in &seen {
        eprintln!("{name}: {ms} ms, body bytes sent per request {bodies:?}: {reason}");
    }
}

#[test]
fn a_503_from_prometheus_reports_its_reason() {
    // No Prometheus needed: the proxy answers every request itself.
    let proxy = Proxy::start("http://127.0.0.1:9");
    proxy.set(Fault::Error { status: 503, error_type: "timeout", message: "query timed out in expression evaluation" });
    let dir = tempfile::tempdir().unwrap();
    let mut rt = runtime(&proxy.url, &dir.path().join("j.sqlite"));
    tokio().block_on(rt.cycle(Timestamp::wall_clock())).unwrap();
    let s = status(&rt);
    assert!(!s.healthy);
    for line in &s.problems {
        assert!(line.contains("HTTP 503") && line.contains("query timed out in expression evaluation"), "{line}");
        assert!(!line.contains("1 attempts"), "{line}");
    }
}

#[test]
fn non_finite_samples_and_unknown_label_sets_are_skipped_in_a_healthy_cycle() {
    let prom = topology_prometheus();
    let proxy = Proxy::start(&prom.url);
    let dir = tempfile::tempdir().unwrap();
    let tokio = tokio();

    // NaN, +Inf and -Inf in every other sample of every series.
    let name = "nan-inf";
    let r = run_through(&tokio, &proxy, dir.path(), name, Fault::NonFinite);
    assert_eq!(r.stats.requests, REQUESTS_PER_CYCLE);
    assert!(r.stats.non_finite_sent > 0 && r.stats.samples_sent > r.stats.non_finite_sent, "{:?}", r.stats);
    let s = &r.faulted;
    assert!(s.healthy, "NaN and ±Inf are values Prometheus really returns, not a failure: {s:#?}");
    assert_eq!((s.stale_since, s.last_ok), (None, Some(r.t1)));
    // Every finite sample reached the engine, no NaN or infinity did.
    let samples: Vec<f64> = r
        .fault_observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Metric { samples, .. } => Some(samples.iter().map(|&(_, v)| v)),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(samples.iter().all(|v| v.is_finite()), "{samples:?}");
    // Four points per series, the 1st and 3rd replaced: each entity's metric keeps two. (The
    // service-graph series give relations, not metrics.)
    let metrics: Vec<usize> = r
        .fault_observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Metric { samples, .. } => Some(samples.len()),
            _ => None,
        })
        .collect();
    let entity_series = 2 + 2 * TOPOLOGY_SERVICES.len(); // cpu of two hosts; latency and info per service
    assert_eq!(metrics, vec![2; entity_series]);
    assert_eq!(r.stats.samples_sent, 4 * (entity_series + TOPOLOGY_CALLS.len()), "{:?}", r.stats);
    assert_eq!(r.stats.non_finite_sent, r.stats.samples_sent / 2);
    // db-1's CPU keeps the 2nd and 4th point.
    let times: Vec<Timestamp> = db_cpu_samples(&r.fault_observations).iter().map(|&(t, _)| t).collect();
    assert_eq!(times, [2, 4].map(|k| aligned(r.t0).plus_ms(k * STEP_MS)));
    // Healthy, but saying what it skipped: one note per query, counting exactly what was sent
    // (series that only give relations carry no samples to count).
    let skipped: usize = s.notes.iter().map(|n| leading_count(n, "NaN/Inf samples skipped")).sum();
    assert_eq!(skipped, 2 * entity_series, "{:#?}", s.notes);
    assert!(s.notes.contains(&"query `cpu_utilisation`: 4 NaN/Inf samples skipped".to_string()), "{:#?}", s.notes);
    assert!(matches!(s.health(), SourceHealth::Noted { note } if note.starts_with("query `")), "{:?}", s.health());
    assert_problem_kept(name, &r, &r.after_fault, &r.fault_events);
    assert_recovered(name, &r);
    eprintln!("{name}: status problems {:?}, notes {:?}, proxy {:?}", s.problems, s.notes, r.stats);

    // Every query_range series labelled `{__name__="mystery_total", foo="bar"}`.
    let name = "unknown-labels";
    let r = run_through(&tokio, &proxy, dir.path(), name, Fault::UnknownLabels);
    assert!(r.stats.series_relabelled > 0, "{:?}", r.stats);
    let s = &r.faulted;
    assert!(s.healthy, "{s:#?}");
    assert_eq!((s.stale_since, s.last_ok), (None, Some(r.t1)));
    // The series became nothing: no metric, and no entity or relation invented from `foo`.
    assert!(!r.fault_observations.is_empty(), "the alerts still came through");
    assert_eq!(s.observations, r.fault_observations.len());
    let kinds: BTreeSet<&str> = r
        .fault_observations
        .iter()
        .map(|o| match &o.kind {
            ObservationKind::Alert { .. } => "alert",
            ObservationKind::Metric { .. } => "metric",
            ObservationKind::Entity { .. } => "entity",
            ObservationKind::Relation { .. } => "relation",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, BTreeSet::from(["alert"]));
    // Each query says how many series no rule maps, and shows one, so the missing rule is clear.
    let unmapped: usize = s.notes.iter().map(|n| leading_count(n, "series match no [mapping] rule")).sum();
    assert_eq!(unmapped, r.stats.series_relabelled, "{:#?}", s.notes);
    for q in QUERIES {
        let note = s.notes.iter().find(|n| n.starts_with(&format!("query `{q}`: "))).expect("a note per query");
        assert!(note.ends_with(r#"e.g. {__name__="mystery_total", foo="bar"}; skipped"#), "{note}");
    }
    assert_problem_kept(name, &r, &r.after_fault, &r.fault_events);
    assert_recovered(name, &r);
    eprintln!("{name}: status problems {:?}, notes {:?}, proxy {:?}", s.problems, s.notes, r.stats);
}

/// `N` of a note `query `x`: N <what>…`, 0 for other notes.
fn leading_count(note: &str, what: &str) -> usize {
    note.split_once("`: ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .filter(|(_, rest)| rest.starts_with(what))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

/// Kills the agent if the test fails before it is stopped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The journal's events, if it already holds a journal.
fn journal_events(path: &Path) -> Vec<ProblemEvent> {
    Journal::open_read_only(path).and_then(|j| j.events_after(0)).unwrap_or_default()
}

/// Index of the last log line from the runtime with this message (`pulled`, `stale`).
fn last_line(log: &str, message: &str) -> Option<usize> {
    let needle = format!("faultline::agent::runtime: {message} ");
    log.lines().collect::<Vec<_>>().iter().rposition(|l| l.contains(&needle))
}

#[test]
fn the_agent_binary_rides_out_a_prometheus_restart_and_resumes_its_journal() {
    let mut prom = topology_prometheus();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("faultline.toml");
    std::fs::write(&config, config_text(&prom.url, "1s")).unwrap();
    let journal = dir.path().join("journal.sqlite");
    let log = dir.path().join("agent.log");
    let bin = env!("CARGO_BIN_EXE_faultline");
    let stderr = std::fs::File::create(dir.path().join("agent.stderr")).unwrap();
    let mut agent = Agent(
        Command::new(bin)
            .args(["agent", "--config"])
            .arg(&config)
            .arg("--journal")
            .arg(&journal)
            .arg("--log-file")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let wait = Duration::from_secs(30);
    wait_until("the storm's problem in the journal", wait, || {
        journal_events(&journal).iter().any(|e| matches!(e.kind, EventKind::Opened { .. }))
            && last_line(&read(&log), "pulled").is_some()
    });
    let found = storm(&ProblemSet::fold(&journal_events(&journal)));

    prom.stop();
    let seq_at_stop = journal_events(&journal).last().map_or(0, |e| e.seq);
    wait_until("a stale line in the log", wait, || last_line(&read(&log), "stale").is_some());
    prom.restart();
    wait_until("pulled again after the stale line", wait, || {
        let text = read(&log);
        matches!((last_line(&text, "stale"), last_line(&text, "pulled")), (Some(s), Some(p)) if p > s)
    });

    let pid = agent.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = agent.0.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < wait, "the agent did not stop on SIGTERM; log:\n{}", read(&log));
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = read(&log);
    assert!(exit.success(), "{exit}; stderr: {}; log:\n{text}", read(&dir.path().join("agent.stderr")));
    assert!(text.contains("SIGTERM"), "{text}");

    // The log: pulled, then stale naming the URL and the refused connection, then pulled again.
    let lines: Vec<&str> = text.lines().collect();
    let first_stale = lines.iter().position(|l| l.contains("faultline::agent::runtime: stale ")).unwrap();
    assert!(lines[..first_stale].iter().any(|l| l.contains("faultline::agent::runtime: pulled ")), "{text}");
    let stale = lines[first_stale];
    assert!(stale.contains(&prom.url) && stale.contains("cannot connect"), "{stale}");
    assert!(last_line(&text, "pulled").unwrap() > last_line(&text, "stale").unwrap(), "{text}");
    eprintln!("binary log, first stale line: {stale}");

    // The journal: one problem for the storm, none opened after Prometheus went away.
    let events = journal_events(&journal);
    let set = ProblemSet::fold(&events);
    let kept = storm(&set);
    assert_eq!((kept.id, &kept.root), (found.id, &"host:db-1".to_string()));
    let late: Vec<&ProblemEvent> =
        events.iter().filter(|e| e.seq > seq_at_stop && matches!(e.kind, EventKind::Opened { .. })).collect();
    assert!(late.is_empty(), "opened after the restart: {late:#?}");

    // `agent --once` on the same journal resumes it: the same problem, the same id.
    let log2 = dir.path().join("once.log");
    let out = Command::new(bin)
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .arg("--journal")
        .arg(&journal)
        .arg("--log-file")
        .arg(&log2)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let once: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(once["sources"][0]["healthy"], true, "{:#}", once["sources"]);
    assert!(once["events"].as_u64().unwrap() >= set.last_seq, "goes on from the journal's seq");
    let with_db: Vec<&Value> = once["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["signals"].as_object().unwrap().values().any(|s| s["entity"] == "host:db-1"))
        .collect();
    assert_eq!(with_db.len(), 1, "{:#}", once["problems"]);
    assert_eq!(with_db[0]["id"], found.id.0, "the resumed problem keeps its id");
    assert!(read(&log2).contains("resumed from the journal"), "{}", read(&log2));
}
