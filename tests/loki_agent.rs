//! A bad deployment seen through two backends by `faultline agent --once`: a REAL Prometheus
//! (Debian package, backfilled) holds the checkout service's p99 latency, which rises nine
//! minutes before now, and its deployment's `kube_deployment_status_observed_generation`,
//! which moved two minutes before that; the local Loki (`tests/support/loki.rs`) holds the
//! checkout logs, where errors burst from the same moment. One problem must hold both the log
//! burst and the latency anomaly, with the deployment as its foundational cause.

mod support;

use serde_json::Value;
use std::path::Path;
use support::loki::{labels, FakeLoki, Line};
use support::*;

const STEP: i64 = 15;
const MINUTES: i64 = 30;

/// OpenMetrics history ending at `end` (seconds): latency ×15 from `end - 540`, the deployment's
/// generation 7 → 8 at `end - 660`.
fn history(end: i64) -> String {
    let mut out = String::from("# TYPE service_latency_p99_seconds gauge\n");
    let steps = MINUTES * 60 / STEP;
    let time = |k: i64| end - (steps - k) * STEP;
    for k in 0..=steps {
        let t = time(k);
        let wobble = 0.9 + 0.2 * ((k * 37 % 11) as f64 / 10.0);
        let v = if t >= end - 540 { 1.2 } else { 0.08 } * wobble;
        out.push_str(&format!("service_latency_p99_seconds{{service=\"checkout\",instance=\"app-1\"}} {v:.4} {t}\n"));
    }
    out.push_str("# TYPE kube_deployment_status_observed_generation gauge\n");
    for k in 0..=steps {
        let t = time(k);
        let generation = if t >= end - 660 { 8 } else { 7 };
        out.push_str(&format!(
            "kube_deployment_status_observed_generation{{namespace=\"shop\",deployment=\"checkout\"}} {generation} {t}\n"
        ));
    }
    out.push_str("# EOF\n");
    out
}

/// Checkout logs: a request line every 20 s for 30 minutes, and from `end - 540` twenty
/// errors a minute from the payment provider.
fn logs(end: i64) -> Vec<Line> {
    let stream = labels(&[("service", "checkout"), ("namespace", "shop")]);
    let mut out = Vec::new();
    let mut t = (end - MINUTES * 60) * 1000;
    let mut i = 0;
    while t < end * 1000 {
        let text = format!("GET /cart/{i} 200 in {}ms", 20 + i % 30);
        out.push(Line { ns: t * 1_000_000, labels: stream.clone(), text });
        if t >= (end - 540) * 1000 {
            for j in 0..7 {
                let text = format!("ERROR payment provider returned 502 for order {}", i * 10 + j);
                out.push(Line { ns: (t + 1 + j) * 1_000_000, labels: stream.clone(), text });
            }
        }
        t += 20_000;
        i += 1;
    }
    out
}

fn config(dir: &Path, prom: &str, loki: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[[sources.prometheus]]
name = "prom"
url = "{prom}"
step = "15s"
lookback = "40m"
timeout = "5s"
retries = 1
alerts = false
rules = false
targets = false

[[sources.prometheus.queries]]
name = "latency_p99_seconds"
query = "service_latency_p99_seconds"

[[sources.loki]]
name = "logs"
url = "{loki}"
lookback = "40m"
timeout = "5s"

[[sources.loki.queries]]
query = '{{service="checkout"}}'
"#
    );
    write_config(dir, &text)
}

#[test]
fn a_deployment_s_error_burst_and_latency_rise_are_one_problem_caused_by_the_deployment() {
    let end = now_secs();
    let prom = prometheus(PrometheusOpts { backfill_openmetrics: Some(history(end)), ..Default::default() });
    let loki = FakeLoki::start();
    loki.push(logs(end));

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (out, stderr) = agent_once(dir.path(), &config(dir.path(), &prom.url, &loki.url), Some(&journal));
    for s in out["sources"].as_array().unwrap() {
        assert_eq!(s["healthy"], true, "{s}\n{stderr}");
    }
    let logs_status = out["sources"].as_array().unwrap().iter().find(|s| s["name"] == "logs").unwrap();
    assert!(logs_status["notes"].to_string().contains("cycle: "), "{logs_status}");

    let problems = out["problems"].as_array().unwrap();
    let kinds = |p: &Value| -> Vec<(String, String)> {
        p["signals"]
            .as_object()
            .unwrap()
            .values()
            .map(|s| (s["kind"].as_str().unwrap().to_string(), s["entity"].as_str().unwrap().to_string()))
            .collect()
    };
    let with_burst: Vec<&Value> = problems.iter().filter(|p| kinds(p).iter().any(|(k, _)| k == "log_burst")).collect();
    assert_eq!(with_burst.len(), 1, "{problems:#?}");
    let p = with_burst[0];
    let k = kinds(p);
    assert!(k.contains(&("log_burst".into(), "service:checkout".into())), "{k:?}");
    assert!(k.contains(&("anomaly".into(), "service:checkout".into())), "{k:?}");
    let latency = p["signals"].as_object().unwrap().values().find(|s| s["kind"] == "anomaly").unwrap();
    assert_eq!(latency["name"], "latency_p99_seconds");
    let burst = p["signals"].as_object().unwrap().values().find(|s| s["kind"] == "log_burst").unwrap();
    assert!(burst["name"].as_str().unwrap().contains("payment provider returned"), "{burst}");

    let cause = &p["foundational_cause"];
    assert_eq!(
        (cause["change"].as_str(), cause["entity"].as_str()),
        (Some("deployment"), Some("service:checkout")),
        "{p:#}"
    );
}
