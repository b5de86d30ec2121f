//! Business KPIs against yesterday and last week, end to end: a real Prometheus (Debian package,
//! started by tests/support) holds eight days of backfilled KPI history at five-minute
//! resolution in which today is worse than yesterday and last week; an alert rule fires on the
//! checkout service and another rule fails to evaluate. `faultline agent --once` must put the
//! checkout's KPIs, with exactly the backfilled values of now, a day and a week earlier, into
//! the impact of the checkout problem (and not the unrelated search service's), and report the
//! failing rule.

mod support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::*;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
/// Seconds between backfilled samples.
const RESOLUTION: i64 = 300;

/// Alert rules: one fires on the checkout's error ratio, one can never be evaluated.
const RULES: &str = r#"groups:
  - name: checkout
    rules:
      - alert: CheckoutErrorsHigh
        expr: checkout_error_ratio > 0.02
        labels:
          severity: major
        annotations:
          summary: "checkout error ratio is {{ $value }}"
  - name: broken
    rules:
      - alert: BadRegex
        expr: label_replace(vector(1), "a", "$1", "b", "(")
        labels:
          severity: warning
"#;

/// Orders per minute of a service at `t` (seconds), as the backfill writes it: a daily wave,
/// a little more each day of the week, and a drop to 62% in the last hour before `last`.
fn orders(service: &str, t: i64, last: i64) -> String {
    let base = if service == "checkout" { 600.0 } else { 90.0 };
    let wave = 1.0 + 0.2 * (std::f64::consts::TAU * t.rem_euclid(DAY) as f64 / DAY as f64).sin();
    let weekday = 1.0 + 0.01 * (t.div_euclid(DAY).rem_euclid(7)) as f64;
    let drop = if service == "checkout" && t > last - 3600 { 0.62 } else { 1.0 };
    format!("{:.1}", base * wave * weekday * drop)
}

/// The checkout's error ratio at `t`: about 0.4% normally, 3.1% in the last hour.
fn error_ratio(t: i64, last: i64) -> String {
    if t > last - 3600 {
        "0.031".to_string()
    } else {
        format!("{:.4}", 0.004 + 0.0005 * (t / RESOLUTION).rem_euclid(3) as f64)
    }
}

/// OpenMetrics backfill: eight days (and a little) up to `last`, every [`RESOLUTION`] seconds.
fn history(last: i64) -> String {
    let times: Vec<i64> = (0..=(8 * DAY + 3600) / RESOLUTION).rev().map(|k| last - k * RESOLUTION).collect();
    let mut out = String::new();
    out.push_str("# HELP orders_per_min Orders placed per minute.\n# TYPE orders_per_min gauge\n");
    for service in ["checkout", "search"] {
        for t in &times {
            out.push_str(&format!("orders_per_min{{service=\"{service}\"}} {} {t}\n", orders(service, *t, last)));
        }
    }
    out.push_str("# HELP checkout_error_ratio Failed checkouts / all.\n# TYPE checkout_error_ratio gauge\n");
    for t in &times {
        out.push_str(&format!("checkout_error_ratio{{service=\"checkout\"}} {} {t}\n", error_ratio(*t, last)));
    }
    out.push_str("# EOF\n");
    out
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[[sources.prometheus]]
name = "prom"
url = "{url}"
timeout = "5s"
retries = 1
targets = false
max_concurrent_requests = 3

[[sources.prometheus.kpis]]
name = "orders_per_min"
query = "orders_per_min"
unit = "orders/min"

[[sources.prometheus.kpis]]
name = "error_ratio"
query = "max(checkout_error_ratio)"
entity = "service:checkout"
higher_is_better = false
"#
    );
    write_config(dir, &text)
}

fn number(text: String) -> f64 {
    text.parse().unwrap()
}

#[test]
fn agent_once_shows_the_checkout_kpis_against_yesterday_and_last_week() {
    // The newest sample is on the minute: the agent evaluates at its own step-aligned time a
    // few seconds later, which still reads this sample (and the ones exactly 1d and 7d older).
    let now = now_secs();
    let last = now - now.rem_euclid(60);
    let prom = prometheus(PrometheusOpts {
        backfill_openmetrics: Some(history(last)),
        rules_yaml: Some(RULES.to_string()),
        ..Default::default()
    });
    wait_until("CheckoutErrorsHigh firing and BadRegex failing", Duration::from_secs(30), || {
        let rules = http_get(&format!("{}/api/v1/rules", prom.url)).1;
        rules.contains(r#""state":"firing""#) && rules.contains(r#""health":"err""#)
    });
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = agent_once(dir.path(), &config(dir.path(), &prom.url), None);
    assert!(
        (now_secs() - last) < 290,
        "the agent ran too late for the newest sample to be within Prometheus's 5m lookback"
    );

    let source = &out["sources"][0];
    assert_eq!(source["healthy"], true, "a failing rule is not a failing source: {source}");
    let problems = out["problems"].as_array().unwrap();
    let on = |entity: &str| {
        problems
            .iter()
            .filter(|p| p["signals"].as_object().unwrap().values().any(|s| s["entity"] == entity))
            .collect::<Vec<_>>()
    };
    let checkout = on("service:checkout");
    assert_eq!(checkout.len(), 1, "{problems:#?}");
    let signals: Vec<&Value> = checkout[0]["signals"].as_object().unwrap().values().collect();
    assert_eq!(signals.len(), 1, "the alert seen through /alerts and /rules is one signal: {signals:#?}");
    assert_eq!(signals[0]["name"], "CheckoutErrorsHigh");
    assert_eq!(signals[0]["count"], 1, "reported once in the cycle");

    // The checkout's two KPIs, with exactly the backfilled values; search's KPI is not there.
    let kpis = checkout[0]["impact"]["kpis"].as_array().unwrap();
    let found: Vec<(&str, &str)> =
        kpis.iter().map(|k| (k["entity"].as_str().unwrap(), k["name"].as_str().unwrap())).collect();
    assert_eq!(found, [("service:checkout", "error_ratio"), ("service:checkout", "orders_per_min")]);
    let (errors, orders_kpi) = (&kpis[0], &kpis[1]);
    assert_eq!(orders_kpi["value"].as_f64().unwrap(), number(orders("checkout", last, last)));
    assert_eq!(orders_kpi["yesterday"].as_f64().unwrap(), number(orders("checkout", last - DAY, last)));
    assert_eq!(orders_kpi["last_week"].as_f64().unwrap(), number(orders("checkout", last - WEEK, last)));
    assert_eq!(orders_kpi["unit"], "orders/min");
    assert_eq!(orders_kpi["worse"], true, "{orders_kpi}");
    let expected = number(orders("checkout", last, last)) / number(orders("checkout", last - DAY, last)) - 1.0;
    assert!((orders_kpi["vs_yesterday"].as_f64().unwrap() - expected).abs() < 1e-12, "{orders_kpi}");
    assert!(orders_kpi["vs_yesterday"].as_f64().unwrap() < -0.3, "{orders_kpi}");

    assert_eq!(errors["value"].as_f64().unwrap(), number(error_ratio(last, last)));
    assert_eq!(errors["yesterday"].as_f64().unwrap(), number(error_ratio(last - DAY, last)));
    assert_eq!(errors["last_week"].as_f64().unwrap(), number(error_ratio(last - WEEK, last)));
    assert_eq!(errors["higher_is_better"], false);
    assert_eq!(errors["worse"], true, "a rise of the error ratio is worse: {errors}");

    // The rule that cannot be evaluated is reported as a blind spot on the server itself.
    let failing = on("service:prom");
    assert_eq!(failing.len(), 1, "{problems:#?}");
    let signal = failing[0]["signals"].as_object().unwrap().values().next().unwrap();
    assert_eq!(signal["name"], "RuleEvaluationFailing broken/BadRegex");
    assert!(on("service:search").is_empty());
}
