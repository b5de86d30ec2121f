//! The Loki source against a local Loki that answers in the documented shapes
//! (`tests/support/loki.rs`; no Grafana Loki can be installed here): paged `query_range` reads
//! counted once, a metric query's matrix, 429 and 5xx retried, a refused query named, and a
//! tail that Loki closes mid-stream resumed without losing or repeating a line.

mod support;

use faultline::model::{ObservationKind, Severity, Timestamp};
use faultline::sources::loki::{LokiConfig, LokiSource};
use faultline::sources::mapping::Mapping;
use faultline::sources::prometheus::Pull;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::loki::{labels, FakeLoki, Line, Scripted};

const NS: i64 = 1_000_000;

fn source(fake: &FakeLoki, extra: &str) -> LokiSource {
    let text =
        format!("name = \"logs\"\nurl = \"{}\"\ntenant = \"team-a\"\ntimeout = \"2s\"\nretries = 2\n{extra}", fake.url);
    let config: LokiConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    LokiSource::new(config, Mapping::default()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Pattern counts of a pull by (entity, level).
fn counts(pull: &Pull, into: &mut BTreeMap<(String, Severity), u64>) {
    for o in &pull.observations {
        if let ObservationKind::LogPattern { entity, level, count, .. } = &o.kind {
            *into.entry((entity.0.clone(), *level)).or_default() += count;
        }
    }
}

/// `n` lines of the checkout service (every 10th an error), web (its `level` label says error;
/// the lines say nothing) and one unmapped stream, from `from_ms`, every 500 ms; every 7th
/// line of checkout shares its nanosecond with the line before (page boundaries fall on ties).
fn canned(from_ms: i64, n: i64) -> Vec<Line> {
    let mut out = Vec::new();
    for i in 0..n {
        let mut ns = (from_ms + i * 500) * NS;
        if i % 7 == 0 && i > 0 {
            ns = (from_ms + (i - 1) * 500) * NS;
        }
        let text = if i % 10 == 0 {
            format!("level=error msg=\"payment failed\" order={i} took={}ms", i % 40)
        } else {
            format!("level=info msg=\"order placed\" order={i} took={}ms", i % 40)
        };
        out.push(Line { ns, labels: labels(&[("service", "checkout")]), text });
        out.push(Line {
            ns: ns + 1,
            labels: labels(&[("service", "web"), ("level", "error")]),
            text: format!("upstream reset after {i} bytes"),
        });
        out.push(Line {
            ns: ns + 2,
            labels: labels(&[("filename", "/var/log/batch.log")]),
            text: format!("batch {i} done"),
        });
    }
    out
}

#[test]
fn paged_query_range_lines_are_mined_once_per_entity_and_level() {
    let fake = FakeLoki::start();
    let now = Timestamp::wall_clock().millis();
    fake.push(canned(now - 600_000, 100));
    let mut src = source(&fake, "limit = 7\nmax_pages = 100\nlookback = \"15m\"\n[[queries]]\nquery = '{service=~\".+\"}'\n[[queries]]\nquery = '{filename=~\".+\"}'\n");
    let rt = runtime();
    let pull = rt.block_on(src.pull(Timestamp(now)));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    let mut seen = BTreeMap::new();
    counts(&pull, &mut seen);
    let expected: BTreeMap<(String, Severity), u64> = [
        (("service:checkout".to_string(), Severity::Info), 90),
        (("service:checkout".to_string(), Severity::Major), 10),
        (("service:web".to_string(), Severity::Major), 100),
    ]
    .into();
    assert_eq!(seen, expected);
    // Entities are announced before their counts.
    assert!(matches!(pull.observations[0].kind, ObservationKind::Entity { .. }));
    let notes = pull.notes.join("\n");
    assert!(
        notes.contains("100 lines of streams that match no [mapping] rule, e.g. {filename=\"/var/log/batch.log\"}"),
        "{notes}"
    );
    // 300 lines in pages of 7: page boundaries re-read the lines of their last nanosecond.
    let requests = fake.with(|s| s.requests.len());
    assert!(requests > 300 / 7, "{requests} requests");
    assert!(notes.contains(&format!("cycle: {requests} requests, ")), "{notes}");
    let repeated: u64 = notes
        .split("lines read (")
        .nth(1)
        .and_then(|t| t.split(" new, ").nth(1))
        .and_then(|t| t.split(' ').next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(repeated > 0, "the page boundaries overlap: {notes}");
    assert!(fake.with(|s| s.tenants.iter().all(|t| t.as_deref() == Some("team-a"))));
    let first = fake.with(|s| s.requests[0].clone());
    assert!(first.contains("direction=forward") && first.contains("limit=7"), "{first}");

    // The next cycle reads only what is new: 20 more lines of each stream.
    fake.push(canned(now + 1_000, 20).into_iter().map(|mut l| {
        l.text = format!("late {}", l.text);
        l
    }));
    let pull = rt.block_on(src.pull(Timestamp(now + 200_000)));
    let mut more = BTreeMap::new();
    counts(&pull, &mut more);
    assert_eq!(more.values().sum::<u64>(), 40, "{more:?}");
    assert!(pull.notes.iter().any(|n| n.contains("20 lines of streams that match no")), "{:?}", pull.notes);
}

#[test]
fn a_metric_query_answers_a_matrix_of_metric_observations() {
    let fake = FakeLoki::start();
    let now = Timestamp::wall_clock().millis();
    fake.push(canned(now - 300_000, 100));
    let mut src = source(
        &fake,
        "step = \"60s\"\nlookback = \"10m\"\n[[queries]]\nquery = 'count_over_time({service=\"checkout\"}[60s])'\nname = \"checkout_lines\"\n",
    );
    let pull = runtime().block_on(src.pull(Timestamp(now)));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    let metrics: Vec<(&str, &str, f64)> = pull
        .observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Metric { entity, metric, samples } => {
                Some((entity.as_str(), metric.as_str(), samples.iter().map(|s| s.1).sum()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(metrics.len(), 1, "{:?}", pull.observations);
    assert_eq!((metrics[0].0, metrics[0].1), ("service:checkout", "checkout_lines"));
    // Each line falls in exactly one 60 s window of the grid.
    assert_eq!(metrics[0].2, 100.0);
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_then_succeed() {
    let fake = FakeLoki::start();
    let now = Timestamp::wall_clock().millis();
    fake.push(canned(now - 300_000, 10));
    fake.with(|s| {
        s.script.push_back(Scripted {
            status: 429,
            headers: vec![("Retry-After".into(), "1".into())],
            body: "too many outstanding requests".into(),
        });
        s.script.push_back(Scripted { status: 503, headers: vec![], body: "ingester not ready".into() });
    });
    let mut src = source(&fake, "[[queries]]\nquery = '{service=\"checkout\"}'\n");
    let pull = runtime().block_on(src.pull(Timestamp(now)));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    let mut seen = BTreeMap::new();
    counts(&pull, &mut seen);
    assert_eq!(seen.values().sum::<u64>(), 10);
    assert_eq!(fake.with(|s| s.requests.len()), 3);

    // Still limited after every retry: a note, the range is asked again next cycle, nothing lost.
    fake.with(|s| {
        for _ in 0..3 {
            s.script.push_back(Scripted { status: 429, headers: vec![], body: "per-tenant limit".into() });
        }
    });
    fake.push(canned(now + 1_000, 5));
    let rt = runtime();
    let pull = rt.block_on(src.pull(Timestamp(now + 60_000)));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    assert!(
        pull.notes.iter().any(|n| n.contains("rate-limits the source (HTTP 429): per-tenant limit")),
        "{:?}",
        pull.notes
    );
    let pull = rt.block_on(src.pull(Timestamp(now + 120_000)));
    let mut seen = BTreeMap::new();
    counts(&pull, &mut seen);
    assert_eq!(seen.values().sum::<u64>(), 5, "{:?}", pull.notes);

    // A Retry-After longer than a cycle is read and respected: no retry now, asked next cycle.
    let before = fake.with(|s| s.requests.len());
    fake.with(|s| {
        s.script.push_back(Scripted {
            status: 429,
            headers: vec![("Retry-After".into(), "120".into())],
            body: "slow down".into(),
        })
    });
    let pull = rt.block_on(src.pull(Timestamp(now + 180_000)));
    assert_eq!(fake.with(|s| s.requests.len()) - before, 1);
    assert!(pull.problems.is_empty() && pull.notes.iter().any(|n| n.contains("HTTP 429): slow down")), "{pull:?}");
}

#[test]
fn a_query_loki_refuses_is_reported_with_the_source_and_the_query() {
    let fake = FakeLoki::start();
    let mut src = source(&fake, "[[queries]]\nquery = '{app=}'\n");
    let pull = runtime().block_on(src.pull(Timestamp::wall_clock()));
    assert_eq!(
        pull.problems,
        ["source `logs`: query `{app=}`: Loki refused it (HTTP 400): parse error at line 1, col 6: syntax error: \
          unexpected end of input, expecting STRING"]
    );
    assert_eq!(fake.with(|s| s.requests.len()), 1, "a refusal is not retried");
}

#[test]
fn a_tail_closed_mid_stream_resumes_without_losing_or_repeating_a_line() {
    let fake = FakeLoki::start();
    let now = Timestamp::wall_clock().millis();
    // History before the tail starts: filled by query_range.
    let history = canned(now - 60_000, 10);
    fake.push(history.clone());
    fake.with(|s| {
        s.tail_close_after = Some(3);
        s.tail_bad_frame = true;
        s.tail_dropped = 2;
    });
    let mut src = source(
        &fake,
        "tail = true\ncount_interval = \"1s\"\nlookback = \"5m\"\nlimit = 50\n[[queries]]\nquery = '{service=~\".+\"}'\n",
    );
    let rt = runtime();
    let mut seen = BTreeMap::new();
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let mut pull_now = |src: &mut LokiSource, seen: &mut BTreeMap<_, _>| {
        let p = rt.block_on(src.pull(Timestamp(Timestamp::wall_clock().millis() + 5_000)));
        counts(&p, seen);
        notes.extend(p.notes);
        problems.extend(p.problems);
    };
    pull_now(&mut src, &mut seen);
    // Live lines, in batches, while the tail is closed once and comes back.
    let mut sent = history.len() as u64;
    // Live lines arrive in time order (each batch after the one before).
    let live_from = Timestamp::wall_clock().millis();
    for batch in 0..10 {
        let lines: Vec<Line> = canned(live_from + batch * 2_000, 4)
            .into_iter()
            .map(|mut l| {
                l.text = format!("{} live batch {batch}", l.text);
                l
            })
            .collect();
        sent += lines.len() as u64;
        fake.push(lines);
        std::thread::sleep(Duration::from_millis(150));
        pull_now(&mut src, &mut seen);
    }
    let mapped = sent / 3 * 2;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.values().sum::<u64>() < mapped && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        pull_now(&mut src, &mut seen);
    }
    // And nothing more trickles in afterwards.
    std::thread::sleep(Duration::from_millis(500));
    pull_now(&mut src, &mut seen);
    let by_entity = |e: &str| seen.iter().filter(|((x, _), _)| x == e).map(|(_, n)| n).sum::<u64>();
    let frames = fake.with(|s| s.tail_frames.clone());
    assert_eq!(by_entity("service:checkout"), sent / 3, "{seen:?}\n{frames:?}\n{notes:#?}");
    assert_eq!(by_entity("service:web"), sent / 3, "{seen:?}");

    let starts = fake.with(|s| s.tail_starts.clone());
    assert!(starts.len() >= 2, "the tail reconnected: {starts:?}");
    assert!(starts[1] > starts[0], "resumed after the last line: {starts:?}");
    let notes = notes.join("\n");
    assert!(notes.contains("reconnected"), "{notes}");
    assert!(
        notes.contains("source `logs`, tail `{service=~\".+\"}`: 1 frame(s) skipped: a tail frame is not JSON"),
        "{notes}"
    );
    assert!(notes.contains("Loki dropped 2 entries"), "{notes}");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn loki_config_is_read_and_bad_values_are_named_with_their_place() {
    use faultline::config::Config;
    let origin = std::path::Path::new("faultline.toml");
    let good = "[[sources.loki]]\nurl = \"http://loki:3100\"\ntenant = \"team-a\"\ntail = true\n\
                [[sources.loki.queries]]\nquery = '{app=~\".+\"}'\nlimit = 1000\n";
    let c = Config::parse(good, origin).unwrap();
    let l = &c.sources.loki[0];
    assert_eq!(
        (l.name.as_str(), l.tenant.as_deref(), l.tail, l.queries[0].limit),
        ("loki", Some("team-a"), true, Some(1000))
    );
    assert_eq!((l.interval.millis(), l.lookback.millis(), l.limit), (15_000, 3_600_000, 5_000));

    let e = Config::parse("[[sources.loki]]\nurl = \"http://l\"\ntial = true\n", origin).unwrap_err().to_string();
    assert!(e.starts_with("faultline.toml:3:1: sources.loki") && e.contains("unknown field `tial`"), "{e}");
    let metric =
        "[[sources.loki]]\nurl = \"http://l\"\ntail = true\n[[sources.loki.queries]]\nquery = 'rate({a=\"b\"}[1m])'\n";
    let e = Config::parse(metric, origin).unwrap_err().to_string();
    assert!(e.contains("sources.loki[0].queries[0].query: `rate({a=\"b\"}[1m])` is a metric query; a tail follows log queries only"), "{e}");
    let e = Config::parse("[[sources.loki]]\nurl = \"http://l\"\nlimit = 0\n", origin).unwrap_err().to_string();
    assert!(e.contains("sources.loki[0].limit: 0 is out of range"), "{e}");
    let twice = "[[sources.loki]]\nurl = \"http://a\"\n[[sources.loki]]\nurl = \"http://b\"\n";
    let e = Config::parse(twice, origin).unwrap_err().to_string();
    assert!(e.contains("sources.loki[1].name: `loki` names another source already"), "{e}");
}
