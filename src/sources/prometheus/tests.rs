//! The source against a scripted local server: the requests of a cycle run concurrently within
//! the bound and their answers are used in a fixed order; KPIs are asked for now, a day and a
//! week earlier; alerts seen through `/api/v1/alerts` and `/api/v1/rules` are reported once and
//! resolved only when the rules say so.

use super::*;
use crate::model::AlertState;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// `(delay in ms, JSON body)` for a request's path and decoded query parameters.
type Script = dyn Fn(&str, &BTreeMap<String, String>) -> (u64, String) + Send + Sync;

/// A request's path and decoded parameters.
type Seen = (String, BTreeMap<String, String>);

struct Scripted {
    url: String,
    /// Most requests answered at the same time.
    most_in_flight: Arc<AtomicUsize>,
    /// Every request's path and parameters, in arrival order.
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn serve(script: Arc<Script>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most_in_flight = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (most, log) = (most_in_flight.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let (script, in_flight, most, log) = (script.clone(), in_flight.clone(), most.clone(), log.clone());
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let params: BTreeMap<String, String> =
                    query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                log.lock().unwrap().push((path.to_string(), params.clone()));
                let (delay, body) = script(path, &params);
                std::thread::sleep(Duration::from_millis(delay));
                in_flight.fetch_sub(1, Ordering::SeqCst);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Scripted { url, most_in_flight, seen }
}

/// Percent-decoding of a query string part (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn success(data: &str) -> String {
    format!(r#"{{"status":"success","data":{data}}}"#)
}

/// A source for `url` with `extra` TOML, and no change rules (unless `extra` brings them): each
/// test here scripts exactly the requests it is about.
fn config(url: &str, extra: &str) -> PrometheusConfig {
    let changes = if extra.contains("[[changes]]") { "" } else { "changes = []\n" };
    toml::from_str(&format!("url = \"{url}\"\ntimeout = \"5s\"\nretries = 0\n{changes}{extra}")).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// 2026-11-17T10:00:00Z, on the 15 s grid.
const NOW: Timestamp = Timestamp(1_794_909_600_000);

#[test]
fn requests_run_concurrently_within_the_bound_and_answers_keep_their_order() {
    // Query n answers after (8 - n) * 30 ms: the first asked is the last to answer.
    let script: Arc<Script> = Arc::new(|path: &str, params: &BTreeMap<String, String>| {
        let body = match path {
            "/api/v1/query_range" => {
                let n: u64 = params["query"].trim_start_matches("q").parse().unwrap();
                let series = format!(r#"{{"metric":{{"instance":"host-{n}"}},"values":[[1794909600,"{n}"]]}}"#);
                return ((8 - n) * 30, success(&format!(r#"{{"resultType":"matrix","result":[{series}]}}"#)));
            }
            "/api/v1/alerts" => success(r#"{"alerts":[]}"#),
            "/api/v1/rules" => success(r#"{"groups":[]}"#),
            "/api/v1/targets" => success(r#"{"activeTargets":[]}"#),
            other => panic!("unexpected {other}"),
        };
        (20, body)
    });
    let queries: String = (0..8).map(|n| format!("[[queries]]\nname = \"m{n}\"\nquery = \"q{n}\"\n")).collect();
    for bound in [1, 2, 4] {
        let server = serve(script.clone());
        let cfg = config(&server.url, &format!("max_concurrent_requests = {bound}\n{queries}"));
        let mut source = PrometheusSource::new(cfg, Mapping::default()).unwrap();
        let pull = rt().block_on(source.pull(NOW));
        assert!(pull.problems.is_empty(), "{:?}", pull.problems);
        assert_eq!(server.seen.lock().unwrap().len(), 11, "8 queries, alerts, rules, targets");
        assert_eq!(server.most_in_flight.load(Ordering::SeqCst), bound, "bound {bound}");
        // The metrics come out in query order, however the answers arrived.
        let metrics: Vec<&str> = pull
            .observations
            .iter()
            .filter_map(|o| match &o.kind {
                ObservationKind::Metric { metric, .. } => Some(metric.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(metrics, ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"], "bound {bound}");
    }
}

/// A KPI observation's entity, name, value, yesterday, last week, higher-is-better and unit.
type KpiRow = (String, String, f64, Option<f64>, Option<f64>, bool, String);

#[test]
fn kpis_are_evaluated_now_a_day_and_a_week_earlier() {
    let end = NOW.millis() / 1000;
    let script: Arc<Script> = Arc::new(move |path: &str, params: &BTreeMap<String, String>| {
        assert_eq!(path, "/api/v1/query");
        let t: f64 = params["time"].parse().unwrap();
        let ago = end - t as i64;
        let vector = |series: &[(&str, &str)]| {
            let result: Vec<String> = series
                .iter()
                .map(|(service, v)| format!(r#"{{"metric":{{"service":"{service}"}},"value":[{t},"{v}"]}}"#))
                .collect();
            success(&format!(r#"{{"resultType":"vector","result":[{}]}}"#, result.join(",")))
        };
        let body = match (params["query"].as_str(), ago) {
            ("orders", 0) => vector(&[("checkout", "412"), ("search", "90")]),
            ("orders", 86_400) => vector(&[("checkout", "660")]),
            // A week ago there was no data at all.
            ("orders", 604_800) => vector(&[]),
            ("errors", 0) => success(&format!(r#"{{"resultType":"scalar","result":[{t},"0.031"]}}"#)),
            ("errors", 86_400) => success(&format!(r#"{{"resultType":"scalar","result":[{t},"0.004"]}}"#)),
            ("errors", 604_800) => success(&format!(r#"{{"resultType":"scalar","result":[{t},"NaN"]}}"#)),
            other => panic!("unexpected {other:?}"),
        };
        (0, body)
    });
    let server = serve(script);
    let cfg = config(
        &server.url,
        "alerts = false\nrules = false\ntargets = false\n\
         [[kpis]]\nname = \"orders_per_min\"\nquery = \"orders\"\nunit = \"orders/min\"\n\
         [[kpis]]\nname = \"error_ratio\"\nquery = \"errors\"\nentity = \"service:checkout\"\nhigher_is_better = false\n",
    );
    let mut source = PrometheusSource::new(cfg, Mapping::default()).unwrap();
    // Seven seconds past the grid: the KPIs are evaluated at the grid point.
    let pull = rt().block_on(source.pull(NOW.plus_ms(7_000)));
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    let mut times: Vec<i64> =
        server.seen.lock().unwrap().iter().map(|(_, p)| p["time"].parse::<f64>().unwrap() as i64).collect();
    times.sort();
    assert_eq!(times, [end - 604_800, end - 604_800, end - 86_400, end - 86_400, end, end]);

    let kpis: Vec<KpiRow> = pull
        .observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Kpi { entity, name, value, yesterday, last_week, higher_is_better, unit } => {
                assert_eq!(o.at, NOW);
                Some((entity.0.clone(), name.clone(), *value, *yesterday, *last_week, *higher_is_better, unit.clone()))
            }
            _ => None,
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        kpis,
        vec![
            (s("service:checkout"), s("orders_per_min"), 412.0, Some(660.0), None, true, s("orders/min")),
            (s("service:search"), s("orders_per_min"), 90.0, None, None, true, s("orders/min")),
            (s("service:checkout"), s("error_ratio"), 0.031, Some(0.004), None, false, String::new()),
        ]
    );
    // The KPIs' entities are announced before their readings.
    let first_kpi = pull.observations.iter().position(|o| matches!(o.kind, ObservationKind::Kpi { .. })).unwrap();
    let entities: Vec<&str> = pull.observations[..first_kpi]
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Entity { entity } => Some(entity.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(entities, ["service:checkout", "service:search"]);
}

#[test]
fn a_failed_comparison_skips_the_kpi_rather_than_reporting_no_data() {
    let script: Arc<Script> = Arc::new(|_: &str, params: &BTreeMap<String, String>| {
        let t: f64 = params["time"].parse().unwrap();
        if (NOW.millis() / 1000 - t as i64) == 86_400 {
            return (0, r#"{"status":"error","errorType":"execution","error":"query timed out"}"#.to_string());
        }
        (
            0,
            success(&format!(
                r#"{{"resultType":"vector","result":[{{"metric":{{"service":"a"}},"value":[{t},"1"]}}]}}"#
            )),
        )
    });
    let server = serve(script);
    let cfg =
        config(&server.url, "alerts = false\nrules = false\ntargets = false\n[[kpis]]\nname = \"k\"\nquery = \"x\"\n");
    let mut source = PrometheusSource::new(cfg, Mapping::default()).unwrap();
    let pull = rt().block_on(source.pull(NOW));
    assert!(!pull.observations.iter().any(|o| matches!(o.kind, ObservationKind::Kpi { .. })));
    assert_eq!(pull.problems.len(), 1, "{:?}", pull.problems);
    assert!(pull.problems[0].starts_with("kpi `k`: ") && pull.problems[0].contains("query timed out"));
}

/// `(alert name, state)` of the alert observations of a pull, in order.
fn alerts(pull: &Pull) -> Vec<(String, AlertState)> {
    pull.observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Alert { name, state, .. } => Some((name.clone(), *state)),
            _ => None,
        })
        .collect()
}

#[test]
fn alerts_are_reported_once_and_resolved_only_when_their_rule_says_so() {
    // Phases: 0 firing (both endpoints), 1 the rule fails (its old alert still listed by
    // /api/v1/alerts, none by the rule), 2 the rule is fine and no longer fires, 3 rules
    // unreachable while another alert fired and then vanished from /api/v1/alerts.
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let alert = r#"{"labels":{"alertname":"CheckoutErrors","service":"checkout","severity":"major"},
        "annotations":{"summary":"errors"},"state":"firing","activeAt":"2026-11-17T09:58:00Z","value":"1"}"#;
    let script: Arc<Script> = Arc::new(move |path: &str, _: &BTreeMap<String, String>| {
        let phase = p.load(Ordering::SeqCst);
        let rule = |health: &str, error: &str, alerts: &str| {
            success(&format!(
                r#"{{"groups":[{{"name":"checkout","file":"r.yml","rules":[{{"name":"CheckoutErrors","type":"alerting",
                "query":"x","duration":0,"labels":{{"service":"checkout","severity":"major"}},"annotations":{{}},
                "alerts":[{alerts}],"health":"{health}","lastError":"{error}"}}]}}]}}"#
            ))
        };
        let body = match (path, phase) {
            ("/api/v1/alerts", 0 | 1) => success(&format!(r#"{{"alerts":[{alert}]}}"#)),
            ("/api/v1/alerts", _) => success(r#"{"alerts":[]}"#),
            ("/api/v1/rules", 0) => rule("ok", "", alert),
            ("/api/v1/rules", 1) => rule("err", "many-to-many matching not allowed", ""),
            ("/api/v1/rules", 2) => rule("ok", "", ""),
            ("/api/v1/rules", _) => return (0, "<html>gateway</html>".to_string()),
            other => panic!("unexpected {other:?}"),
        };
        (0, body)
    });
    let server = serve(script);
    let mut source = PrometheusSource::new(config(&server.url, "targets = false\n"), Mapping::default()).unwrap();
    let rt = rt();
    let pull = |source: &mut PrometheusSource, n: usize| {
        phase.store(n, Ordering::SeqCst);
        rt.block_on(source.pull(NOW.plus_ms(n as i64 * 30_000)))
    };
    use AlertState::*;
    let s = |x: &str| x.to_string();

    let first = pull(&mut source, 0);
    assert_eq!(alerts(&first), [(s("CheckoutErrors"), Firing)], "once, though both endpoints list it");

    let failing = pull(&mut source, 1);
    let rule_failing = s("RuleEvaluationFailing checkout/CheckoutErrors");
    assert_eq!(alerts(&failing), [(s("CheckoutErrors"), Firing), (rule_failing.clone(), Firing)]);
    let summary = failing.observations.iter().find_map(|o| match &o.kind {
        ObservationKind::Alert { name, summary, entity, .. } if *name == rule_failing => {
            Some((entity.0.clone(), summary.clone()))
        }
        _ => None,
    });
    assert_eq!(
        summary,
        Some((
            s("service:checkout"),
            s("rule checkout/CheckoutErrors: evaluation error: many-to-many matching not allowed")
        ))
    );
    // A rule that fails is not a failing source.
    assert!(failing.problems.is_empty(), "{:?}", failing.problems);

    let recovered = pull(&mut source, 2);
    assert_eq!(alerts(&recovered), [(s("CheckoutErrors"), Resolved), (rule_failing, Resolved)]);

    // Nothing fires and nothing more is resolved; without the rules nothing is concluded.
    let blind = pull(&mut source, 3);
    assert_eq!(alerts(&blind), []);
    assert_eq!(blind.problems.len(), 1, "{:?}", blind.problems);
}

#[test]
fn without_a_rules_answer_an_alert_that_vanished_stays_firing() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let script: Arc<Script> = Arc::new(move |path: &str, _: &BTreeMap<String, String>| {
        let body = match (path, p.load(Ordering::SeqCst)) {
            ("/api/v1/alerts", 0) => {
                success(r#"{"alerts":[{"labels":{"alertname":"Down","instance":"db-1:9100"},"state":"firing"}]}"#)
            }
            ("/api/v1/alerts", _) => success(r#"{"alerts":[]}"#),
            ("/api/v1/rules", 1) => r#"{"status":"error","errorType":"timeout","error":"slow"}"#.to_string(),
            ("/api/v1/rules", _) => success(r#"{"groups":[]}"#),
            other => panic!("unexpected {other:?}"),
        };
        (0, body)
    });
    let server = serve(script);
    let mut source = PrometheusSource::new(config(&server.url, "targets = false\n"), Mapping::default()).unwrap();
    let rt = rt();
    assert_eq!(alerts(&rt.block_on(source.pull(NOW))), [("Down".to_string(), AlertState::Firing)]);
    phase.store(1, Ordering::SeqCst);
    let second = rt.block_on(source.pull(NOW.plus_ms(30_000)));
    assert_eq!(alerts(&second), []);
    assert!(second.problems[0].contains("Prometheus says timeout: slow"), "{:?}", second.problems);
    // Once the rules answer again (no rule of that name any more), it is resolved.
    phase.store(2, Ordering::SeqCst);
    let third = rt.block_on(source.pull(NOW.plus_ms(60_000)));
    assert_eq!(alerts(&third), [("Down".to_string(), AlertState::Resolved)]);
}

#[test]
fn restore_resumes_each_query_after_its_last_sample_and_keeps_firing_alerts_resolvable() {
    let mut source = PrometheusSource::new(config("http://127.0.0.1:9", ""), Mapping::default()).unwrap();
    let host = EntityId::new("host:db-1");
    let obs = |source: &str, kind| Observation { at: Timestamp(0), source: source.into(), kind };
    let alert = |fp: &str, state| ObservationKind::Alert {
        entity: host.clone(),
        name: "HostDown".into(),
        fingerprint: fp.into(),
        state,
        severity: Default::default(),
        labels: BTreeMap::from([("alertname".to_string(), "HostDown".to_string())]),
        summary: String::new(),
    };
    let metric = |t: i64| ObservationKind::Metric {
        entity: host.clone(),
        metric: "cpu".into(),
        samples: vec![(Timestamp(t - 15_000), 0.5), (Timestamp(t), 0.6)],
    };
    let journal = [
        obs("prometheus", metric(60_000)),
        obs("prometheus", metric(45_000)),
        obs("prometheus", alert("a", AlertState::Firing)),
        obs("prometheus", alert("b", AlertState::Firing)),
        obs("prometheus", alert("b", AlertState::Resolved)),
        obs(
            "prometheus",
            ObservationKind::Entity {
                entity: Entity {
                    id: host.clone(),
                    kind: crate::model::EntityKind::Host,
                    name: String::new(),
                    labels: BTreeMap::new(),
                    criticality: Default::default(),
                    learned_from: String::new(),
                },
            },
        ),
    ];
    source.restore(journal.iter());
    assert_eq!(source.pulled_until.get("cpu"), Some(&Timestamp(60_000)));
    assert_eq!(source.firing.keys().collect::<Vec<_>>(), ["a"]);
    assert!(source.known_entities.contains(&host));
}

#[test]
fn history_before_the_lookback_is_fetched_once_on_the_warm_up_grid_as_history() {
    let script: Arc<Script> = Arc::new(|path: &str, params: &BTreeMap<String, String>| {
        let body = match path {
            "/api/v1/query_range" => {
                let at: f64 = params["end"].parse().unwrap();
                let series = format!(r#"{{"metric":{{"instance":"db-1:9100"}},"values":[[{at},"0.5"]]}}"#);
                success(&format!(r#"{{"resultType":"matrix","result":[{series}]}}"#))
            }
            other => panic!("unexpected {other}"),
        };
        (0, body)
    });
    let server = serve(script);
    let extra = "alerts = false\nrules = false\ntargets = false\nlookback = \"1h\"\nwarmup = \"14d\"\n\
                 warmup_step = \"5m\"\n[[queries]]\nname = \"cpu\"\nquery = \"node_cpu\"\n";
    let mut source = PrometheusSource::new(config(&server.url, extra), Mapping::default()).unwrap();
    let first = rt().block_on(source.pull(NOW));
    assert!(first.problems.is_empty() && first.notes.is_empty(), "{:?} {:?}", first.problems, first.notes);
    let second = rt().block_on(source.pull(NOW.plus_ms(15_000)));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "warm-up and live range, then the live range only: {seen:#?}");
    // The warm-up: 14 days before the cycle's end up to just before the lookback, 5 m apart,
    // stopping at the points limit.
    let warms: Vec<&BTreeMap<String, String>> = seen.iter().map(|(_, p)| p).filter(|p| p["step"] != "15s").collect();
    assert_eq!(warms.len(), 1, "{seen:#?}");
    let warm = warms[0];
    assert_eq!(warm["step"], "300s");
    let last = NOW.plus_ms(-3_600_000 - 300_000).millis() / 1000;
    assert_eq!(warm["end"], format!("{last}.000"));
    let first_at = (NOW.millis() / 1000 - 14 * 86_400).max(last - 10_999 * 300);
    assert_eq!(warm["start"], format!("{first_at}.000"));
    let kinds = |p: &Pull| -> Vec<&'static str> {
        p.observations
            .iter()
            .map(|o| match &o.kind {
                ObservationKind::History { .. } => "history",
                ObservationKind::Metric { .. } => "metric",
                ObservationKind::Entity { .. } => "entity",
                _ => "other",
            })
            .collect()
    };
    assert_eq!(kinds(&first), ["entity", "history", "metric"]);
    assert_eq!(kinds(&second), ["metric"]);
}
