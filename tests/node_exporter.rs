//! `faultline agent --once` against a Prometheus scraping a real node exporter, a Pushgateway and
//! itself live (Debian packages, started by tests/support): with nothing but the default mapping,
//! the scrape targets' `instance` becomes the host entity, their `job`s become services, and each
//! service *runs on* that host.

mod support;

use faultline::journal::Journal;
use faultline::model::{EntityKind, ObservationKind, RelationKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use support::*;

/// The scrape jobs, as Prometheus labels their series with `job`.
const JOBS: [&str; 3] = ["node", "prometheus", "pushgateway"];

/// Real node-exporter metrics as an operator would watch them, each reduced to one series per
/// target so the labels left are the target labels (`job`, `instance`).
const QUERIES: [(&str, &str); 4] = [
    ("cpu_utilisation", r#"1 - avg by (job, instance) (rate(node_cpu_seconds_total{mode="idle"}[5s]))"#),
    ("load1", "node_load1"),
    (
        "filesystem_free_ratio",
        "min by (job, instance) (node_filesystem_avail_bytes / (node_filesystem_size_bytes > 0))",
    ),
    ("up", "up"),
];

fn query(prom: &Server, promql: &str) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}/api/v1/query?query={}", prom.url, urlencode(promql)));
    assert_eq!(status, 200, "{promql}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("faultline.toml");
    // A 15 s lookback at 1 s steps gives each node metric fewer samples than the detector's
    // warm-up (20), so a live machine's load cannot raise an anomaly and the problem list is
    // deterministic. (`up` gets more, its three targets sharing the host's key, but is flat.)
    let mut text = format!(
        "[[sources.prometheus]]\nname = \"node\"\nurl = \"{url}\"\nstep = \"1s\"\nlookback = \"15s\"\n\
         timeout = \"5s\"\nretries = 1\n"
    );
    for (name, promql) in QUERIES {
        text.push_str(&format!("\n[[sources.prometheus.queries]]\nname = \"{name}\"\nquery = '{promql}'\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn node_exporter_scraped_live_gives_the_host_its_services_and_their_runs_on_stack() {
    let node = node_exporter();
    let pushgateway = pushgateway();
    let mut jobs = scrape_job("node", &node.url);
    jobs.push_str(&scrape_job("pushgateway", &pushgateway.url));
    let prom = prometheus(PrometheusOpts { scrape_configs_yaml: jobs, ..Default::default() });
    // Prometheus scrapes itself on a port known only once it runs: add that job to the end of
    // its config (the `scrape_configs` list) and reload (`--web.enable-lifecycle`).
    let config_yaml = prom.dir().join("prometheus.yml");
    let mut yml = std::fs::read_to_string(&config_yaml).unwrap();
    for line in scrape_job("prometheus", &prom.url).lines() {
        yml.push_str(&format!("  {line}\n"));
    }
    std::fs::write(&config_yaml, yml).unwrap();
    let (status, body) = http_post(&format!("{}/-/reload", prom.url), "text/plain", "");
    assert_eq!(status, 200, "reload: {body}");

    // A few scrapes of every target, and enough of node exporter's CPU counters for a rate.
    wait_until("three scrapes of every target", Duration::from_secs(30), || {
        let counts = query(&prom, "count_over_time(up[1m]) >= 3");
        counts.len() == JOBS.len()
    });
    wait_until("a CPU rate from node exporter", Duration::from_secs(30), || !query(&prom, QUERIES[0].1).is_empty());
    let has_filesystems = !query(&prom, "node_filesystem_size_bytes > 0").is_empty();

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (out, _) = agent_once(dir.path(), &config(dir.path(), &prom.url), Some(&journal));
    let source = &out["sources"][0];
    assert_eq!(source["name"], "node");
    assert_eq!(source["healthy"], true, "{source}");
    assert!(source["observations"].as_u64().unwrap() > 0, "{source}");
    assert!(source["bytes"].as_u64().unwrap() > 0, "{source}");
    assert_eq!(out["problems"], Value::Array(vec![]), "a healthy stack is no incident");

    let observations = Journal::open_read_only(&journal).unwrap().observations().unwrap();
    let mut entities = BTreeMap::new();
    let mut relations = BTreeSet::new();
    let mut metrics: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for o in observations {
        assert_eq!(o.source, "node");
        match o.kind {
            ObservationKind::Entity { entity } => {
                entities.insert(entity.id.0, entity.kind);
            }
            ObservationKind::Relation { relation } => {
                assert_eq!(relation.learned_from, "node");
                relations.insert((relation.from.0, relation.kind, relation.to.0));
            }
            ObservationKind::Metric { entity, metric, samples } => {
                metrics.entry((entity.0, metric)).or_default().extend(samples.iter().map(|(_, v)| *v));
            }
            _ => {}
        }
    }

    // The host, from `instance` without its port; every job a service on it, and nothing else.
    let host = "host:127.0.0.1";
    let mut expected_entities = BTreeMap::from([(host.to_string(), EntityKind::Host)]);
    let mut expected_relations = BTreeSet::new();
    for job in JOBS {
        expected_entities.insert(format!("service:{job}"), EntityKind::Service);
        expected_relations.insert((format!("service:{job}"), RelationKind::RunsOn, host.to_string()));
    }
    assert_eq!(entities, expected_entities);
    assert_eq!(relations, expected_relations);

    // The metrics land on the host (the instance rule comes before the job rule), with values
    // that make sense for a live machine.
    let values = |metric: &str| metrics.get(&(host.to_string(), metric.to_string())).cloned().unwrap_or_default();
    let cpu = values("cpu_utilisation");
    assert!(!cpu.is_empty(), "{:?}", metrics.keys());
    // rate() extrapolates to the window's edges, so an idle CPU may read a little below 0.
    assert!(cpu.iter().all(|v| (-0.1..=1.1).contains(v)), "{cpu:?}");
    let load = values("load1");
    assert!(!load.is_empty() && load.iter().all(|v| *v >= 0.0), "{load:?}");
    let up = values("up");
    assert!(!up.is_empty() && up.iter().all(|v| *v == 1.0), "{up:?}");
    // Containers may mount nothing node exporter reports (it skips overlay, tmpfs, ...).
    if has_filesystems {
        let free = values("filesystem_free_ratio");
        assert!(!free.is_empty() && free.iter().all(|v| (0.0..=1.0).contains(v)), "{free:?}");
    }
}
