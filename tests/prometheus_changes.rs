//! Changes and traffic from a real Prometheus scraping a real Pushgateway (Debian packages,
//! started by tests/support), through `faultline agent --once`: a pod's restart counter rises, a
//! scrape target's process start time moves forward, a deployment scales (its generation
//! bumping with it); then the pod's error rate climbs and an alert rule fires on it. The agent
//! must report each change at the time it happened on the right entity (with the default change
//! rules), link the restart as the problem's foundational cause, and put the pod's requests/s,
//! errors/s and users into the problem's impact with errors compared to before onset.

mod support;

use faultline::journal::Journal;
use faultline::model::{ChangeKind, ObservationKind, Timestamp};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::*;

const RULES: &str = r#"groups:
  - name: cart
    rules:
      - alert: CartErrors
        expr: http_errors_per_second > 1
        labels:
          severity: major
"#;

fn now_ms() -> i64 {
    Timestamp::wall_clock().millis()
}

/// Replaces a Pushgateway group with `body` (text exposition format).
fn push(pgw: &Server, group: &str, body: &str) {
    let (status, answer) = http_request("PUT", &format!("{}/metrics/{group}", pgw.url), Some(("text/plain", body)))
        .expect("pushing to the Pushgateway");
    assert!((200..300).contains(&status), "push {group}: HTTP {status}: {answer}");
}

fn ksm(restarts: u32, replicas: u32, generation: u32) -> String {
    format!(
        "kube_pod_container_status_restarts_total{{namespace=\"shop\",pod=\"cart-7d9\",container=\"cart\"}} {restarts}\n\
         kube_deployment_spec_replicas{{namespace=\"shop\",deployment=\"cart\"}} {replicas}\n\
         kube_deployment_status_observed_generation{{namespace=\"shop\",deployment=\"cart\"}} {generation}\n"
    )
}

/// The Pushgateway's own process exports the same metric as a gauge: the type must match.
fn start_time(secs: f64) -> String {
    format!("# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {secs:.3}\n")
}

fn cart(errors: f64) -> String {
    format!(
        "http_requests_per_second{{namespace=\"shop\",pod=\"cart-7d9\"}} 50\n\
         http_errors_per_second{{namespace=\"shop\",pod=\"cart-7d9\"}} {errors}\n\
         active_users{{namespace=\"shop\",pod=\"cart-7d9\"}} 300\n"
    )
}

fn query(prom: &Server, promql: &str) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}/api/v1/query?query={}", prom.url, urlencode(promql)));
    assert_eq!(status, 200, "{promql}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Waits until Prometheus has scraped `promql`'s series with value `value` at least twice.
fn wait_scraped(prom: &Server, promql: &str, value: &str) {
    let q = format!("count_over_time(({promql} == {value})[1m:1s]) >= 2");
    wait_until(&format!("{promql} == {value} scraped"), Duration::from_secs(20), || !query(prom, &q).is_empty());
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[[sources.prometheus]]
name = "prom"
url = "{url}"
step = "1s"
lookback = "2m"
timeout = "5s"
retries = 1
targets = false

[[sources.prometheus.traffic]]
role = "requests"
query = "http_requests_per_second"

[[sources.prometheus.traffic]]
role = "errors"
query = "http_errors_per_second"

[[sources.prometheus.traffic]]
role = "users"
query = "active_users"
"#
    );
    write_config(dir, &text)
}

#[test]
fn restarts_and_scaling_from_metrics_are_changes_and_the_restart_is_the_foundational_cause() {
    let pgw = pushgateway();
    let target = pgw.url.trim_start_matches("http://").to_string();
    let jobs = format!(
        "- job_name: pushgateway\n  honor_labels: true\n  scrape_interval: 1s\n  static_configs:\n    - targets: ['{target}']\n"
    );
    let prom =
        prometheus(PrometheusOpts { scrape_configs_yaml: jobs, rules_yaml: Some(RULES.into()), ..Default::default() });

    // Before: 3 restarts, 3 replicas at generation 7, a target started an hour ago, few errors.
    let old_start = now_secs() - 3600;
    push(&pgw, "job/kube-state-metrics", &ksm(3, 3, 7));
    push(&pgw, "job/checkout/instance/10.0.0.5:8080", &start_time(old_start as f64));
    push(&pgw, "job/cart", &cart(0.2));
    wait_scraped(&prom, "kube_pod_container_status_restarts_total", "3");
    wait_scraped(&prom, "http_errors_per_second", "0.2");

    // The changes: the container restarts, the checkout process restarts, the deployment scales.
    let restarted_ms = now_ms();
    let started = restarted_ms as f64 / 1000.0;
    push(&pgw, "job/kube-state-metrics", &ksm(4, 5, 8));
    push(&pgw, "job/checkout/instance/10.0.0.5:8080", &start_time(started));
    wait_scraped(&prom, "kube_pod_container_status_restarts_total", "4");

    // Then the pod fails: its errors climb and the alert fires.
    push(&pgw, "job/cart", &cart(8.0));
    wait_until("CartErrors firing", Duration::from_secs(20), || {
        http_get(&format!("{}/api/v1/alerts", prom.url)).1.contains(r#""state":"firing""#)
    });
    // On the agent's 1 s grid too (it reads up to the last whole second).
    wait_scraped(&prom, "http_errors_per_second", "8");

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (out, _) = agent_once(dir.path(), &config(dir.path(), &prom.url), Some(&journal));
    assert_eq!(out["sources"][0]["healthy"], true, "{}", out["sources"][0]);

    // Each change once, on its entity, at its time.
    let observations = Journal::open_read_only(&journal).unwrap().observations().unwrap();
    let changes: Vec<(String, ChangeKind, i64, String)> = observations
        .iter()
        .filter_map(|o| match &o.kind {
            ObservationKind::Change { entity, change, description } => {
                Some((entity.0.clone(), *change, o.at.millis(), description.clone()))
            }
            _ => None,
        })
        .collect();
    let kinds: Vec<(&str, ChangeKind)> = changes.iter().map(|(e, k, _, _)| (e.as_str(), *k)).collect();
    assert_eq!(
        kinds,
        [
            ("service:checkout", ChangeKind::Restart),
            ("pod:shop/cart-7d9", ChangeKind::Restart),
            ("service:cart", ChangeKind::Scale)
        ],
        "the generation bump that came with the scale is no deployment of its own: {changes:#?}"
    );
    // The target's restart is dated when its process started, to the millisecond.
    assert_eq!(changes[0].2, restarted_ms, "{changes:#?}");
    // The counter's and the replicas' moves at the first 1 s step that read them.
    for (entity, _, at, _) in &changes[1..] {
        assert!((restarted_ms - 1000..=restarted_ms + 4000).contains(at), "{entity} at {at}, pushed at {restarted_ms}");
    }
    assert!(changes[1].3.ends_with("rose 3 → 4") && changes[1].3.contains(r#"container="cart""#), "{}", changes[1].3);
    assert!(changes[2].3.ends_with("3 → 5"), "{}", changes[2].3);

    // One problem on the pod, its foundational cause the restart.
    let problems = out["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    let signal = p["signals"].as_object().unwrap().values().next().unwrap();
    assert_eq!((signal["name"].as_str(), signal["entity"].as_str()), (Some("CartErrors"), Some("pod:shop/cart-7d9")));
    let cause = &p["foundational_cause"];
    assert_eq!(
        (cause["change"].as_str(), cause["entity"].as_str()),
        (Some("restart"), Some("pod:shop/cart-7d9")),
        "{p:#}"
    );
    assert_eq!(Timestamp::parse_rfc3339(cause["at"].as_str().unwrap()).unwrap().millis(), changes[1].2);
    assert!(cause["reason"].as_str().unwrap().starts_with("restart on the root cause itself, "), "{cause}");

    // The impact: the pod's traffic, errors against their mean in the five minutes before onset
    // as Prometheus gives them on the same 1 s grid.
    let traffic = p["impact"]["traffic"].as_array().unwrap();
    let roles: Vec<(&str, f64)> =
        traffic.iter().map(|t| (t["role"].as_str().unwrap(), t["value"].as_f64().unwrap())).collect();
    assert_eq!(roles, [("requests", 50.0), ("errors", 8.0), ("users", 300.0)]);
    for t in traffic {
        assert_eq!(t["entities"], serde_json::json!(["pod:shop/cart-7d9"]));
    }
    let onset = Timestamp::parse_rfc3339(signal["first_seen"].as_str().unwrap()).unwrap().millis();
    let (from, to) = ((onset - 300_000).div_euclid(1000), (onset - 1).div_euclid(1000));
    let (status, body) = http_get(&format!(
        "{}/api/v1/query_range?query=http_errors_per_second&start={from}&end={to}&step=1s",
        prom.url
    ));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let values: Vec<f64> = v["data"]["result"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[0].as_f64().unwrap() * 1000.0 >= (onset - 300_000) as f64)
        .map(|s| s[1].as_str().unwrap().parse().unwrap())
        .collect();
    let expected = values.iter().sum::<f64>() / values.len() as f64;
    let errors = &traffic[1];
    let before = errors["before"].as_f64().unwrap();
    assert!((before - expected).abs() < 1e-9, "before {before}, Prometheus's samples give {expected}: {errors}");
    assert!(before < 8.0 && errors["vs_before"].as_f64().unwrap() > 0.0, "{errors}");
}
