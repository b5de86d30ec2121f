//! Live mode end to end against a real Alertmanager and Prometheus (Debian packages, started by
//! tests/support): `faultline --config F` runs the agent and the UI in one process. A firing
//! alert becomes a problem; `s` shows the silence plan, `y` creates it, and the silence is then
//! listed by Alertmanager's `/api/v2/silences` and recorded in the problem's timeline (and
//! journal). The status bar shows each source's health, and a stopped Prometheus as stale.
//! With `--readonly` the same keys create nothing.
//!
//! Needs tmux and the Prometheus packages (`.ci/run` installs them).

mod support;

use faultline::journal::Journal;
use faultline::model::EventKind;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::tmux::Tmux;
use support::*;

fn start_live(t: &Tmux, config: &Path, extra: &str) {
    let line = format!(
        "{} --config {} --log-file {} {extra}",
        env!("CARGO_BIN_EXE_faultline"),
        config.display(),
        t.path("faultline.log").display()
    );
    t.keys(&[&line, "Enter"]);
}

fn silences(am: &Server) -> Vec<Value> {
    let (status, body) = http_get(&format!("{}/api/v2/silences", am.url));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().clone()
}

#[test]
fn a_silence_confirmed_in_the_ui_exists_in_alertmanager_and_in_the_timeline() {
    let am = alertmanager();
    let mut prom = prometheus(PrometheusOpts::default());
    fire_alert(&am);
    let t = Tmux::start("live");
    let config = live_config(t.path("").as_path(), &prom, &am);
    start_live(&t, &config, "");

    let list = t.wait_for("the alert's problem and healthy sources", |s| {
        s.contains("P-0001") && s.contains("prom") && s.contains("am") && !s.contains("stale")
    });
    assert!(list.contains("LIVE"), "{list}");

    t.keys(&["s"]);
    let plan = t.wait_for("the silence plan", |s| s.contains("/api/v2/silences") && s.contains("y confirm"));
    assert!(plan.contains(r#"alertname="HostCpuSaturated""#), "{plan}");
    assert!(plan.contains(r#"instance="db-1:9100""#), "{plan}");
    assert!(plan.contains("P-0001"), "{plan}");
    assert!(silences(&am).is_empty(), "nothing is sent before confirmation");

    t.keys(&["y"]);
    t.wait_for("the notice", |s| s.contains("silence(s) created"));
    let listed = silences(&am);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let s = &listed[0];
    assert_eq!(s["comment"], "P-0001");
    assert_eq!(s["status"]["state"], "active");
    let by = s["createdBy"].as_str().unwrap();
    assert!(by.contains('@'), "createdBy is user@host: {by}");
    let matchers: Vec<(String, String, bool)> = s["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().into(), m["value"].as_str().unwrap().into(), m["isRegex"] == true))
        .collect();
    assert_eq!(
        matchers,
        [
            ("alertname".to_string(), "HostCpuSaturated".to_string(), false),
            ("instance".to_string(), "db-1:9100".to_string(), false),
            ("severity".to_string(), "critical".to_string(), false),
        ]
    );
    // About two hours, as configured.
    let starts = faultline::model::Timestamp::parse_rfc3339(s["startsAt"].as_str().unwrap()).unwrap();
    let ends = faultline::model::Timestamp::parse_rfc3339(s["endsAt"].as_str().unwrap()).unwrap();
    assert!((ends.since(starts) - 7_200_000).abs() < 5_000, "{s:#}");

    // The source going away shows in the status bar as stale, with the reason (once the
    // notice has been read: any key puts it away).
    prom.stop();
    t.keys(&["j"]);
    t.wait_for("prom stale in the status bar", |s| s.contains("stale"));
    t.keys(&["q"]);
    t.wait_for("the shell to come back", |s| !s.contains("LIVE"));

    // The outcome is in the journal, as a timeline event of the problem.
    let journal = Journal::open_read_only(&t.path("journal.sqlite")).unwrap();
    let silenced: Vec<_> = journal
        .events_after(0)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Silenced { by, via, silences, error } => Some((e.problem, by, via, silences, error)),
            _ => None,
        })
        .collect();
    assert_eq!(silenced.len(), 1, "{silenced:#?}");
    let (problem, who, via, records, error) = &silenced[0];
    assert_eq!(problem.to_string(), "P-0001");
    assert_eq!((who.as_str(), via.as_str(), error), (by, "am", &None));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].id, s["id"].as_str().unwrap());
}

#[test]
fn readonly_refuses_to_silence() {
    let am = alertmanager();
    let prom = prometheus(PrometheusOpts::default());
    fire_alert(&am);
    let t = Tmux::start("live-ro");
    let config = live_config(t.path("").as_path(), &prom, &am);
    start_live(&t, &config, "--readonly");
    t.wait_for("the alert's problem", |s| s.contains("P-0001") && s.contains("READONLY"));
    t.keys(&["s"]);
    t.wait_for("the read-only notice", |s| s.contains("read-only"));
    t.keys(&["y"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(silences(&am).is_empty());
    t.keys(&["q"]);
}

#[test]
fn a_silence_alertmanager_refuses_is_recorded_as_failed_with_its_answer() {
    use faultline::agent::runtime::Runtime;
    use faultline::config::Config;
    use faultline::sources::alertmanager::SilencePlan;
    let mut am = alertmanager();
    fire_alert(&am);
    let text =
        format!("[[sources.alertmanager]]\nname = \"am\"\nurl = \"{}\"\ntimeout = \"1s\"\nretries = 0\n", am.url);
    let config = Config::parse(&text, Path::new("live.toml")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut runtime, _) = Runtime::new(&config, None).unwrap();
    rt.block_on(runtime.cycle(faultline::model::Timestamp::wall_clock())).unwrap();
    let problem = runtime.problems().visible()[0].clone();
    let target = runtime.silence_target().unwrap().clone();
    let plan = SilencePlan::for_problem(&problem, &target, "oncall@bastion").unwrap();

    am.stop();
    let (events, notice) = rt.block_on(runtime.silence(plan)).unwrap();
    assert!(notice.starts_with("P-0001: silence FAILED: "), "{notice}");
    assert!(notice.contains("/api/v2/silences"), "the notice names the URL: {notice}");
    match &events[..] {
        [e] => match &e.kind {
            EventKind::Silenced { silences, error: Some(error), .. } => {
                assert!(silences.is_empty());
                assert!(error.contains("(0 of 1 created before it)"), "{error}");
            }
            other => panic!("not a failed silence: {other:?}"),
        },
        other => panic!("one event expected: {other:?}"),
    }
    let p = &runtime.problems().problems[&problem.id];
    assert_eq!(p.silenced_until, None, "a failed silence silences nothing");
    assert!(p.timeline.last().unwrap().text.contains("FAILED"));
}
