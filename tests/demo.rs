//! The shipped demo scenario through the real binary: `faultline demo --headless` must find
//! exactly what the scenario's header expects, play byte-identically twice, and its journal must
//! replay to the same problems. Bad input ends with a clear message and exit status 1, never a
//! panic.

use faultline::model::{EntityId, Problem, ProblemSet, ProblemStatus, Timestamp};
use faultline::sources::fixture;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/db-cpu-saturation.jsonl");

fn faultline(args: &[&str], dir: &Path) -> Output {
    let log = dir.join("faultline.log");
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .arg("--log-file")
        .arg(&log)
        .output()
        .expect("running the faultline binary")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "faultline failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

#[derive(Deserialize)]
struct Headless {
    scenario: Option<String>,
    observations: Option<u64>,
    events: u64,
    as_of: Timestamp,
    problems: Vec<Problem>,
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn the_demo_storm_is_one_problem_with_the_expected_root_and_foundational_cause() {
    let expect = fixture::load(Path::new(SCENARIO)).unwrap().header.expect.expect("the demo scenario has expectations");
    let dir = tempfile::tempdir().unwrap();
    let out = ok(faultline(&["demo", "--headless"], dir.path()));
    let result: Headless = serde_json::from_slice(&out.stdout).expect("headless output is JSON");
    assert_eq!(result.scenario.as_deref(), Some("db-cpu-saturation"));
    assert!(result.observations.unwrap() > 10_000);

    // Every storm signal (on a storm entity, inside the storm window) sits in the same problem.
    let storm_entities: BTreeSet<&EntityId> = expect.storm_entities.iter().collect();
    let in_storm = |p: &&Problem| {
        p.signals.values().any(|s| {
            storm_entities.contains(&s.entity) && s.first_seen >= expect.storm_from && s.first_seen <= expect.storm_to
        })
    };
    let storm: Vec<&Problem> = result.problems.iter().filter(in_storm).collect();
    assert_eq!(storm.len(), expect.problems_with_storm, "problems holding storm signals: {}", ids(&storm));
    let problem = storm[0];

    // Raw alerts, anomalous samples and log lines were folded into few signals.
    let raw = problem.raw_count();
    assert!(raw >= 200, "the storm folds {raw} raw events");
    assert!(problem.signals.len() * 5 < raw as usize, "{} signals for {raw} raw events", problem.signals.len());

    let top = problem.root_causes.first().expect("a root cause is ranked");
    assert_eq!(top.entity, expect.root_cause, "ranking: {:?}", problem.root_causes);
    if let Some(needle) = &expect.root_cause_signal {
        assert!(top.summary.to_lowercase().contains(&needle.to_lowercase()), "root cause summary: {}", top.summary);
    }
    assert_eq!(top.explains, top.affected, "the root explains every affected entity");
    assert!(!top.evidence.is_empty(), "the root cause carries its evidence chain");

    let f = problem.foundational_cause.as_ref().expect("a foundational cause is linked");
    assert_eq!(Some(&f.entity), expect.foundational_entity.as_ref());
    assert_eq!(Some(f.change), expect.foundational_change);

    // The noise (flapping disk, unrelated spikes and deployments) stays out of the storm.
    for s in problem.signals.values() {
        assert!(!expect.noise_entities.contains(&s.entity), "noise signal {} joined the storm", s.key);
    }
    // ...and the flapping disk alert is a problem of its own.
    let disk = result.problems.iter().filter(|p| p.signals.values().any(|s| s.name == "DiskSpaceLow")).count();
    assert_eq!(disk, 1);
    // The storm is over by the end of the scenario.
    assert_eq!(problem.status, ProblemStatus::Resolved);
}

fn ids(problems: &[&Problem]) -> String {
    problems.iter().map(|p| format!("{} ({})", p.id, p.headline())).collect::<Vec<_>>().join(", ")
}

#[test]
fn playing_the_scenario_twice_gives_byte_identical_event_logs_and_the_journal_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = |n: u32| -> (Vec<u8>, PathBuf, Vec<u8>) {
        let events = dir.path().join(format!("events-{n}.jsonl"));
        let journal = dir.path().join(format!("journal-{n}.sqlite"));
        let out = ok(faultline(
            &["demo", "--headless", "--scenario", SCENARIO, "--events-out", p(&events), "--journal", p(&journal)],
            dir.path(),
        ));
        (std::fs::read(&events).unwrap(), journal, out.stdout)
    };
    let (a, journal_a, stdout_a) = run(1);
    let (b, journal_b, stdout_b) = run(2);
    assert!(a.len() > 10_000, "the event log has {} bytes", a.len());
    assert!(a == b, "the two event logs differ");
    assert_eq!(stdout_a, stdout_b);

    // Both journals hold exactly the events of the event log.
    let logged: Vec<faultline::model::ProblemEvent> =
        a.split(|c| *c == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    for journal in [&journal_a, &journal_b] {
        let j = faultline::journal::Journal::open_read_only(journal).unwrap();
        assert_eq!(j.events_after(0).unwrap(), logged);
        assert_eq!(j.integrity_check().unwrap(), ["ok"]);
    }

    // `faultline replay --headless` folds the journal into the same problems the demo printed.
    let replayed: Headless =
        serde_json::from_slice(&ok(faultline(&["replay", "--headless", p(&journal_a)], dir.path())).stdout)
            .expect("replay output is JSON");
    let played: Headless = serde_json::from_slice(&stdout_a).unwrap();
    assert_eq!(replayed.events, logged.len() as u64);
    assert_eq!(replayed.as_of, played.as_of);
    assert_eq!(replayed.problems, played.problems);
    assert_eq!(ProblemSet::fold(&logged).visible().len(), played.problems.len());
}

#[test]
fn bad_input_on_the_command_line_is_a_clear_error_and_exit_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad_scenario = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad_scenario,
        "{\"faultline_scenario\": 1, \"name\": \"bad\"}\n\
         {\"at\": \"2026-03-02T10:00:00Z\", \"type\": \"metric\", \"entity\": \"host:a\", \"metric\": \"cpu\", \
         \"samples\": [[\"2026-03-02T10:00:00Z\", \"high\"]]}\n",
    )
    .unwrap();
    let bad_config = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad/unknown-key.toml");
    let not_a_journal = dir.path().join("notes.txt");
    std::fs::write(&not_a_journal, "not an SQLite file").unwrap();
    // A config whose topology file has a bad value: the check names that file, line and key.
    let topology_config = dir.path().join("with-topology.toml");
    std::fs::write(&topology_config, "[[sources.topology]]\npath = \"topology.toml\"\n").unwrap();
    let topology = dir.path().join("topology.toml");
    std::fs::write(&topology, "[[entity]]\nid = \"queue:legacy\"\ncriticality = \"urgent\"\n").unwrap();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["config", "check", p(&topology_config)], format!("{}:3:15: entity[0].criticality", topology.display())),
        (vec!["demo", "--headless", "--scenario", p(&bad_scenario)], format!("{}:2:", bad_scenario.display())),
        (vec!["demo", "--headless", "--scenario", "/nonexistent/x.jsonl"], "/nonexistent/x.jsonl".into()),
        (vec!["config", "check", bad_config.to_str().unwrap()], format!("{}:", bad_config.display())),
        (vec!["demo", "--headless", "--config", bad_config.to_str().unwrap()], format!("{}:", bad_config.display())),
        (vec!["replay", "--headless", p(&not_a_journal)], not_a_journal.display().to_string()),
        (vec!["demo", "--headless", "--speed", "0"], "--speed".into()),
    ];
    for (args, wanted) in cases {
        let out = faultline(&args, dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("faultline: error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(&wanted), "{args:?}: `{stderr}` should name `{wanted}`");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout on error");
    }
    // The good example config passes the check.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/faultline.example.toml");
    let out = ok(faultline(&["config", "check", example.to_str().unwrap()], dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok"));
}

/// `faultline replay FILE --topology-at TIME` shows the graph as it was at that moment, rebuilt
/// from the journal: before a service vanished it is there with its edge, after it is gone.
#[test]
fn replay_shows_the_topology_as_of_any_moment() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("vanish.jsonl");
    let lines = [
        r#"{"faultline_scenario":1,"name":"vanish"}"#,
        r#"{"at":"2026-03-02T10:00:00Z","type":"entity","entity":{"id":"service:shop","kind":"service","criticality":"high"}}"#,
        r#"{"at":"2026-03-02T10:00:00Z","type":"relation","relation":{"from":"service:shop","kind":"calls","to":"service:legacy"}}"#,
        r#"{"at":"2026-03-02T10:10:00Z","type":"entity_gone","entity":"service:legacy"}"#,
        r#"{"at":"2026-03-02T10:20:00Z","type":"tick"}"#,
    ];
    std::fs::write(&scenario, lines.join("\n") + "\n").unwrap();
    let journal = dir.path().join("j.sqlite");
    ok(faultline(&["demo", "--headless", "--scenario", p(&scenario), "--journal", p(&journal)], dir.path()));
    let at = |time: &str| -> String {
        String::from_utf8(ok(faultline(&["replay", p(&journal), "--topology-at", time], dir.path())).stdout).unwrap()
    };
    let before = at("2026-03-02T10:05:00Z");
    assert!(before.contains(": 2 entities, 1 relations"), "{before}");
    assert!(before.contains("service:shop (service, high criticality)"), "{before}");
    assert!(before.contains("service:shop calls service:legacy"), "{before}");
    let after = at("2026-03-02T10:15:00Z");
    assert!(after.contains(": 1 entities, 0 relations") && !after.contains("service:legacy"), "{after}");
    assert!(at("2026-03-02T09:00:00Z").contains(": 0 entities, 0 relations"));
    // A time that is no time is a clear error.
    let bad = faultline(&["replay", p(&journal), "--topology-at", "yesterday"], dir.path());
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`yesterday` is not an RFC 3339 time"));
}
