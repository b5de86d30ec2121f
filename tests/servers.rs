//! The Prometheus-stack test servers themselves (tests/support): each starts, answers and stops; a
//! backfilled topology history is queryable and its alert rule fires through to Alertmanager;
//! live scraping, silences and a Prometheus restart on the same data directory work.

mod support;

use serde_json::Value;
use std::net::TcpStream;
use std::time::Duration;
use support::*;

fn json(url: &str) -> Value {
    let (status, body) = http_get(url);
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

fn query(prom: &Server, q: &str) -> Vec<Value> {
    let v = json(&format!("{}/api/v1/query?query={}", prom.url, urlencode(q)));
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn query_range(prom: &Server, q: &str, start: i64, end: i64, step: u32) -> Vec<Value> {
    let url = format!("{}/api/v1/query_range?query={}&start={start}&end={end}&step={step}", prom.url, urlencode(q));
    let v = json(&url);
    v["data"]["result"].as_array().cloned().unwrap_or_else(|| panic!("no result array: {v}"))
}

/// (timestamp, value) pairs of one query_range series.
fn points(series: &Value) -> Vec<(i64, f64)> {
    series["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| (p[0].as_f64().unwrap() as i64, p[1].as_str().unwrap().parse().unwrap()))
        .collect()
}

fn assert_port_free(server: &Server) {
    assert!(
        TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "{} still accepts connections on port {} after stop",
        server.name,
        server.port
    );
}

fn topology_prometheus(end: i64) -> Server {
    prometheus(PrometheusOpts { backfill_openmetrics: Some(topology_history(end, 30)), ..Default::default() })
}

#[test]
fn each_server_starts_is_ready_and_stops() {
    for (mut server, ready) in [
        (prometheus(PrometheusOpts::default()), "/-/ready"),
        (alertmanager(), "/-/ready"),
        (node_exporter(), "/metrics"),
        (pushgateway(), "/-/ready"),
    ] {
        eprintln!("{} ready in {:?}", server.name, server.ready_in);
        assert_eq!(server.url, format!("http://127.0.0.1:{}", server.port));
        let (status, body) = http_get(&format!("{}{ready}", server.url));
        assert_eq!(status, 200, "{} {ready}: {body}", server.name);
        assert!(server.pid().is_some());
        server.stop();
        assert_port_free(&server);
        assert!(server.pid().is_none());
    }
}

#[test]
fn backfilled_history_is_queryable_up_to_its_end() {
    let end = now_secs();
    let prom = topology_prometheus(end);

    let cpu = query_range(&prom, r#"node_cpu_utilisation{instance="db-1"}"#, end - 1800, end, 15);
    assert_eq!(cpu.len(), 1, "{cpu:?}");
    let cpu = points(&cpu[0]);
    assert_eq!(cpu.len(), 121, "30 minutes of 15 s samples, both ends included");
    assert_eq!(cpu.last().unwrap().0, end);
    for &(t, v) in &cpu {
        if t >= end - 600 {
            assert!((0.96..0.98).contains(&v), "db-1 saturated at {t}: {v}");
        } else {
            assert!(v < 0.5, "db-1 normal at {t}: {v}");
        }
    }

    let latency = query_range(&prom, "max by (service) (service_latency_p99_seconds)", end - 1800, end, 15);
    assert_eq!(latency.len(), 4, "{latency:?}");
    for series in &latency {
        let last = points(series).last().unwrap().1;
        assert!(last > 0.5, "{} slow at the end: {last}", series["metric"]["service"]);
    }

    let calls = query_range(&prom, "rate(traces_service_graph_request_total[1m])", end - 1800, end, 60);
    let mut edges: Vec<(String, String)> = calls
        .iter()
        .map(|s| (s["metric"]["client"].as_str().unwrap().into(), s["metric"]["server"].as_str().unwrap().into()))
        .collect();
    edges.sort();
    let expected = [("catalog", "orders-db"), ("checkout", "orders-db"), ("frontend", "checkout")];
    assert_eq!(edges, expected.map(|(c, s)| (c.to_string(), s.to_string())));
    for series in &calls {
        let rate = points(series).last().unwrap().1;
        assert!(rate > 5.0, "request rate of {}: {rate}", series["metric"]);
    }

    let runs_on = query(&prom, "service_info == 1");
    let mut pairs: Vec<String> = runs_on
        .iter()
        .map(|s| format!("{}@{}", s["metric"]["service"].as_str().unwrap(), s["metric"]["instance"].as_str().unwrap()))
        .collect();
    pairs.sort();
    assert_eq!(pairs, ["catalog@app-1", "checkout@app-1", "frontend@app-1", "orders-db@db-1"]);
}

#[test]
fn backfilled_alert_fires_in_prometheus_and_reaches_alertmanager() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts { alertmanager_url: Some(am.url.clone()), ..topology_opts() });

    let firing_db_cpu = |alerts: &Value| {
        alerts.as_array().is_some_and(|a| {
            a.iter().any(|x| x["labels"]["alertname"] == "HostCpuSaturated" && x["labels"]["instance"] == "db-1")
        })
    };
    let started = std::time::Instant::now();
    let prom_alerts = format!("{}/api/v1/alerts", prom.url);
    wait_until("HostCpuSaturated firing in Prometheus", Duration::from_secs(15), || {
        let v = json(&prom_alerts);
        let firing: Vec<Value> =
            v["data"]["alerts"].as_array().unwrap().iter().filter(|a| a["state"] == "firing").cloned().collect();
        firing_db_cpu(&Value::Array(firing))
    });
    eprintln!("HostCpuSaturated firing in Prometheus after {:?}", started.elapsed());
    let latency: Vec<Value> = json(&prom_alerts)["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alertname"] == "ServiceLatencyHigh")
        .cloned()
        .collect();
    assert_eq!(latency.len(), 4, "{latency:?}");

    let am_alerts = format!("{}/api/v2/alerts", am.url);
    wait_until("HostCpuSaturated in Alertmanager", Duration::from_secs(40), || firing_db_cpu(&json(&am_alerts)));
    eprintln!("HostCpuSaturated in Alertmanager after {:?}", started.elapsed());
    let alerts = json(&am_alerts);
    let cpu = alerts.as_array().unwrap().iter().find(|a| a["labels"]["alertname"] == "HostCpuSaturated").unwrap();
    assert_eq!(cpu["status"]["state"], "active", "{cpu}");
    assert_eq!(cpu["labels"]["severity"], "critical");
}

#[test]
fn node_exporter_is_scraped_live() {
    let node = node_exporter();
    let target = format!("127.0.0.1:{}", node.port);
    let prom = prometheus(PrometheusOpts { scrape_configs_yaml: scrape_job("node", &node.url), ..Default::default() });
    wait_until("node_cpu_seconds_total scraped from node exporter", Duration::from_secs(15), || {
        query(&prom, "node_cpu_seconds_total").iter().any(|s| s["metric"]["instance"] == target.as_str())
    });
    let up = query(&prom, r#"up{job="node"}"#);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1");
}

#[test]
fn silence_posted_to_alertmanager_is_listed() {
    let am = alertmanager();
    let now = now_secs();
    let silence = serde_json::json!({
        "matchers": [{"name": "instance", "value": "db-1", "isRegex": false, "isEqual": true}],
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + 3600),
        "createdBy": "faultline-tests",
        "comment": "db-1 maintenance",
    });
    let (status, body) = http_post(&format!("{}/api/v2/silences", am.url), "application/json", &silence.to_string());
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["silenceID"].as_str().expect("silenceID").to_string();

    let listed = json(&format!("{}/api/v2/silences", am.url));
    let found = listed.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).expect("posted silence listed");
    assert_eq!(found["status"]["state"], "active");
    assert_eq!(found["comment"], "db-1 maintenance");
    assert_eq!(found["matchers"][0]["value"], "db-1");
}

#[test]
fn pushgateway_accepts_pushes() {
    let pgw = pushgateway();
    let (status, body) = http_post(
        &format!("{}/metrics/job/batch/instance/db-1", pgw.url),
        "text/plain; version=0.0.4",
        "# TYPE backup_last_success_seconds gauge\nbackup_last_success_seconds 1700000000\n",
    );
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = http_get(&format!("{}/metrics", pgw.url));
    assert!(metrics.contains(r#"backup_last_success_seconds{instance="db-1",job="batch"} 1.7e+09"#), "{metrics}");
}

#[test]
fn prometheus_restart_keeps_backfilled_data() {
    let end = now_secs();
    let mut prom = topology_prometheus(end);
    let db_cpu = r#"node_cpu_utilisation{instance="db-1"}"#;
    let before = query_range(&prom, db_cpu, end - 1800, end, 15);
    assert_eq!(points(&before[0]).len(), 121);

    let port = prom.port;
    prom.stop();
    assert_port_free(&prom);
    let (status, _) = http_request("GET", &format!("{}/-/ready", prom.url), None).map_or((0, String::new()), |r| r);
    assert_eq!(status, 0, "Prometheus answers while stopped");

    prom.restart();
    eprintln!("prometheus restarted in {:?}", prom.ready_in);
    assert_eq!(prom.port, port);
    let after = query_range(&prom, db_cpu, end - 1800, end, 15);
    assert_eq!(before, after, "backfilled data changed across a restart");
}
