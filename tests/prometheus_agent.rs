//! `faultline agent --once` against a real Prometheus (Debian package, started by tests/support)
//! holding a backfilled history of a small topology whose database host saturates, with its
//! alert rules firing: one problem, root cause the database host, *calls* edges learned from the
//! service-graph metric. And a Prometheus that is not there: a clear stale report, no panic.

mod support;

use faultline::journal::Journal;
use faultline::model::{ObservationKind, RelationKind};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::*;

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[[sources.prometheus]]
name = "prom"
url = "{url}"
step = "15s"
lookback = "40m"
timeout = "2s"
retries = 1
{TOPOLOGY_QUERIES}"#
    );
    write_config(dir, &text)
}

#[test]
fn agent_once_finds_the_saturated_database_host_with_calls_from_the_service_graph() {
    let prom = topology_prometheus();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    let (out, _) = agent_once(dir.path(), &config(dir.path(), &prom.url), Some(&journal));

    let source = &out["sources"][0];
    assert_eq!(source["healthy"], true, "{source}");
    assert!(source["bytes"].as_u64().unwrap() > 1000);
    let problems = out["problems"].as_array().unwrap();
    let with_db = |p: &&Value| p["signals"].as_object().unwrap().values().any(|s| s["entity"] == "host:db-1");
    let storm: Vec<&Value> = problems.iter().filter(with_db).collect();
    assert_eq!(storm.len(), 1, "{problems:#?}");
    let p = storm[0];
    let top = &p["root_causes"][0];
    assert_eq!(top["entity"], "host:db-1", "{:#}", p["root_causes"]);
    let entities: Vec<&str> =
        p["signals"].as_object().unwrap().values().map(|s| s["entity"].as_str().unwrap()).collect();
    for e in ["service:frontend", "service:checkout", "service:catalog", "service:orders-db"] {
        assert!(entities.contains(&e), "{e} in the problem: {entities:?}");
    }
    // The alert rule's firing alert is one of the root's signals.
    assert!(top["signals"].as_array().unwrap().iter().any(|k| k.as_str().unwrap().starts_with("alert:")));
    // The evidence walks calls edges down to the host.
    let hops: Vec<(String, String, String)> = top["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|path| path.as_array().unwrap().iter())
        .map(|h| {
            (
                h["from"].as_str().unwrap().into(),
                h["relation"].as_str().unwrap().into(),
                h["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(hops.contains(&("service:frontend".into(), "calls".into(), "service:checkout".into())), "{hops:?}");
    assert!(hops.contains(&("service:orders-db".into(), "runs_on".into(), "host:db-1".into())), "{hops:?}");

    // Every calls edge the engine saw came from the service-graph series, learned from `prom`.
    let j = Journal::open_read_only(&journal).unwrap();
    let calls: Vec<(String, String, String)> = j
        .observations()
        .unwrap()
        .into_iter()
        .filter_map(|o| match o.kind {
            ObservationKind::Relation { relation } if relation.kind == RelationKind::Calls => {
                Some((relation.from.0, relation.to.0, relation.learned_from))
            }
            _ => None,
        })
        .collect();
    let mut expected: Vec<(String, String, String)> = TOPOLOGY_CALLS
        .iter()
        .map(|(c, s, _)| (format!("service:{c}"), format!("service:{s}"), "prom".to_string()))
        .collect();
    expected.sort();
    let mut got = calls.clone();
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn a_prometheus_that_is_not_there_is_reported_stale_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let (out, _) = agent_once(dir.path(), &config(dir.path(), &url), Some(&dir.path().join("j.sqlite")));
    let source = &out["sources"][0];
    assert_eq!(source["healthy"], false);
    let problems: Vec<&str> = source["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(problems.iter().any(|p| p.contains("cannot connect") && p.contains(&url)), "{problems:?}");
    assert!(out["problems"].as_array().unwrap().is_empty());
}

#[test]
fn alertmanager_alerts_fold_with_prometheus_alerts_and_a_proposed_silence_is_created() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts { alertmanager_url: Some(am.url.clone()), ..topology_opts() });
    let am_alerts = format!("{}/api/v2/alerts", am.url);
    wait_until("HostCpuSaturated in Alertmanager", Duration::from_secs(40), || {
        http_get(&am_alerts).1.contains("HostCpuSaturated")
    });
    let listed: Value = serde_json::from_str(&http_get(&am_alerts).1).unwrap();
    let am_fp = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "HostCpuSaturated")
        .map(|a| a["fingerprint"].as_str().unwrap().to_string())
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &prom.url);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("\n[[sources.alertmanager]]\nname = \"am\"\nurl = \"{}\"\n", am.url));
    std::fs::write(&path, text).unwrap();
    let (out, _) = agent_once(dir.path(), &path, Some(&dir.path().join("j.sqlite")));
    assert!(out["sources"].as_array().unwrap().iter().all(|s| s["healthy"] == true), "{:#}", out["sources"]);

    // One signal for the alert seen through both sources, keyed by Alertmanager's fingerprint.
    let problems = out["problems"].as_array().unwrap();
    let cpu: Vec<&Value> = problems
        .iter()
        .flat_map(|p| p["signals"].as_object().unwrap().values())
        .filter(|s| s["name"] == "HostCpuSaturated")
        .collect();
    assert_eq!(cpu.len(), 1, "{cpu:#?}");
    assert_eq!(cpu[0]["key"], format!("alert:{am_fp}"));
    assert_eq!(cpu[0]["count"], 2, "pulled once from Prometheus and once from Alertmanager");

    // A silence proposed for the problem's alerts is created in Alertmanager.
    use faultline::sources::alertmanager::{silences_for, AlertmanagerConfig, AlertmanagerSource};
    let alerts: Vec<Value> =
        serde_json::from_str::<Value>(&http_get(&am_alerts).1).unwrap().as_array().unwrap().clone();
    let labels: Vec<std::collections::BTreeMap<String, String>> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "HostCpuSaturated")
        .map(|a| serde_json::from_value(a["labels"].clone()).unwrap())
        .collect();
    let silences =
        silences_for(&labels, faultline::model::Timestamp::wall_clock(), 3_600_000, "oncall@bastion", "P-0001");
    assert_eq!(silences.len(), 1);
    let cfg: AlertmanagerConfig = toml::from_str(&format!("url = \"{}\"", am.url)).unwrap();
    let source = AlertmanagerSource::new(cfg, Default::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = rt.block_on(source.silencer().create_silence(&silences[0])).unwrap();
    let listed: Value = serde_json::from_str(&http_get(&format!("{}/api/v2/silences", am.url)).1).unwrap();
    let created = listed.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).expect("the silence is listed");
    assert_eq!(created["createdBy"], "oncall@bastion");
    assert_eq!(created["comment"], "P-0001");
    assert_eq!(created["status"]["state"], "active");
    let matchers = created["matchers"].as_array().unwrap();
    assert!(matchers
        .iter()
        .any(|m| m["name"] == "alertname" && m["value"] == "HostCpuSaturated" && m["isRegex"] == false));
}
