//! The fault scenarios (`fixtures/scenarios/faults`): the shipped files are what the generator
//! writes, and for each one the engine groups every incident into one problem that holds no noise,
//! with the true root cause ranked first. Plus `faultline eval scenarios` through the binary.

#[path = "../examples/make_fault_scenarios.rs"]
#[allow(dead_code)]
mod make_fault_scenarios;

use faultline::engine::EngineConfig;
use faultline::eval::scenarios::{play, score};
use faultline::model::{ProblemId, ProblemSet};
use faultline::sources::fixture::{self, Scenario, NOISE};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn path(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/faults/{kind}.jsonl"))
}

#[test]
fn the_shipped_fault_scenarios_are_what_the_generator_writes() {
    for kind in make_fault_scenarios::KINDS {
        let generated = make_fault_scenarios::render(kind).unwrap();
        let shipped = std::fs::read(path(kind)).unwrap();
        assert!(
            generated == shipped,
            "fixtures/scenarios/faults/{kind}.jsonl is stale: run `cargo run --example make_fault_scenarios`"
        );
        assert_eq!(make_fault_scenarios::render(kind).unwrap(), generated, "the generator is deterministic");
        // The file reads back, with truth for every incident.
        let scenario = fixture::load(&path(kind)).unwrap();
        let truth = scenario.header.truth.expect("a truth header");
        assert!(!truth.incidents.is_empty());
        for incident in &truth.incidents {
            assert!(truth.signals.values().any(|l| *l == incident.id), "{kind}: no signal of {}", incident.id);
        }
        assert!(truth.signals.values().any(|l| l == NOISE), "{kind}: a storm with noise");
    }
}

/// Plays one scenario and checks its grouping and root causes against the truth.
fn check(kind: &str) {
    let scenario: Scenario = fixture::load(&path(kind)).unwrap();
    let truth = scenario.header.truth.clone().unwrap();
    let (set, raised): (ProblemSet, usize) = play(&scenario.observations, &EngineConfig::default());
    let problems = set.visible();
    // Where every raised signal ended up.
    let mut problem_of: BTreeMap<&str, ProblemId> = BTreeMap::new();
    for p in &problems {
        for key in p.signals.keys() {
            problem_of.insert(key.0.as_str(), p.id);
        }
    }
    assert_eq!(problem_of.len(), raised, "{kind}: every raised signal sits in a problem");
    for incident in &truth.incidents {
        let mine: Vec<&str> = truth
            .signals
            .iter()
            .filter(|(_, l)| **l == incident.id)
            .map(|(k, _)| k.as_str())
            .filter(|k| problem_of.contains_key(k))
            .collect();
        assert!(mine.len() >= 3, "{kind}/{}: only {} of its signals were raised", incident.id, mine.len());
        let homes: BTreeSet<ProblemId> = mine.iter().map(|k| problem_of[k]).collect();
        assert_eq!(homes.len(), 1, "{kind}/{}: its signals are split over {homes:?}", incident.id);
        let home = *homes.first().unwrap();
        let problem = &set.problems[&home];
        // Nothing else in it: no noise, no other incident's signal.
        for key in problem.signals.keys() {
            let label = truth.signals.get(&key.0).map(String::as_str).unwrap_or(NOISE);
            assert_eq!(label, incident.id, "{kind}/{}: {key} ({label}) joined its problem {home}", incident.id);
        }
        let top = problem.root_causes.first().expect("a ranked root cause");
        assert_eq!(top.entity, incident.root_cause, "{kind}/{}: ranking {:?}", incident.id, problem.root_causes);
        // Evidence is the paths from the other affected entities down to the root.
        if top.affected > 1 {
            assert!(!top.evidence.is_empty(), "{kind}/{}: the root cause carries its evidence", incident.id);
        }
        if let Some(entity) = &incident.foundational_entity {
            let f = problem.foundational_cause.as_ref().expect("a foundational cause");
            assert_eq!(&f.entity, entity, "{kind}/{}", incident.id);
            assert_eq!(Some(f.change), incident.foundational_change, "{kind}/{}", incident.id);
        }
    }
    // The marked noise is kept, in view, in the background problem, never silently dropped.
    let marked: Vec<_> = problems.iter().flat_map(|p| p.signals.values()).filter(|s| s.mark.is_some()).collect();
    assert!(!marked.is_empty(), "{kind}: the smart filter marked the chronic and low-criticality noise");
    let s = score(kind, &truth, &set, raised);
    assert!(s.precision() >= 0.95 && s.recall() >= 0.95, "{kind}: precision {} recall {}", s.precision(), s.recall());
    // The storm folds into a few problems: at least 95% of the raw events it brought.
    assert!(s.raw_compression() >= 0.95, "{kind}: compression of raw events {}", s.raw_compression());
}

#[test]
fn cpu_saturation() {
    check("cpu-saturation");
}

#[test]
fn memory_leak() {
    check("memory-leak");
}

#[test]
fn disk_full() {
    check("disk-full");
}

#[test]
fn process_crash() {
    check("process-crash");
}

#[test]
fn bad_deployment() {
    check("bad-deployment");
}

#[test]
fn network_partition() {
    check("network-partition");
}

#[test]
fn eval_scenarios_prints_the_table_and_names_a_scenario_without_truth() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/faults");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["eval", "scenarios"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for kind in make_fault_scenarios::KINDS {
        assert!(text.contains(kind), "{kind} missing from\n{text}");
    }
    assert!(text.contains("compression") && text.lines().any(|l| l.starts_with("total")), "{text}");

    // The demo scenario has expectations but no truth: a clear error naming the file.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["eval", "scenarios"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("db-cpu-saturation.jsonl") && err.contains("truth"), "{err}");
}

#[test]
fn a_truth_label_naming_no_incident_is_an_error_with_its_field() {
    let text =
        "{\"faultline_scenario\":1,\"name\":\"x\",\"truth\":{\"incidents\":[{\"id\":\"a\",\"root_cause\":\"host:a\"}],\
                \"signals\":{\"alert:1\":\"a\",\"alert:2\":\"b\"}}}\n";
    let err = fixture::parse(text, Path::new("x.jsonl")).unwrap_err().to_string();
    assert!(err.starts_with("x.jsonl:1:") && err.contains("truth.signals.alert:2") && err.contains("`b`"), "{err}");
}
