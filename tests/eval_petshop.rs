//! `faultline eval rca --format petshop`: a small scenario written here goes through the whole
//! evaluation (engine replay, problem choice, fallback, rankings file), loading errors name the
//! file, and the real PetShop data of `../shared/data/petshop` (skipped, with a message, when
//! absent) gives a well-formed report: every issue ranks every node, recall lies in [0, 1].

use faultline::eval::petshop::{self, PetshopReport, Source};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Deterministic noise in [-1, 1].
fn wobble(i: u64) -> f64 {
    ((i.wrapping_mul(2_654_435_761) >> 16) % 2001) as f64 / 1000.0 - 1.0
}

/// A three-node scenario: `site` calls `search`, `search` calls `db`. The normal period is
/// 300 rows of noisy latency; the issue makes `db` slow from its third row on, and `site` and
/// `search` with it.
fn small_scenario(dir: &Path) {
    write(dir, "graph.csv", ",site,search,db\nsite,0.0,1.0,0.0\nsearch,0.0,0.0,1.0\ndb,0.0,0.0,0.0\n");
    let header = "microservice,site,search,db\nmetric,latency,latency,latency\nstatistic,Average,Average,Average\n\
                  unix_timestamp,,,\n";
    let mut normal = header.to_string();
    for i in 0..300u64 {
        let t = 1_692_608_400 + 300 * i;
        let (a, b, c) = (wobble(3 * i), wobble(3 * i + 1), wobble(3 * i + 2));
        // A missing cell now and then, as in the real data.
        let db = if i % 17 == 0 { String::new() } else { format!("{}", 0.02 + 0.001 * c) };
        writeln!(normal, "{t}.0,{},{},{db}", 0.09 + 0.003 * a, 0.03 + 0.002 * b).unwrap();
    }
    write(dir, "noissue/metrics.csv", &normal);
    let mut issue = header.to_string();
    for i in 0..5u64 {
        let t = 1_681_855_320 + 300 * i;
        let slow = if i >= 2 { 1.0 } else { 0.0 };
        writeln!(issue, "{t}.0,{},{},{}", 0.09 + 0.5 * slow, 0.03 + 0.45 * slow, 0.02 + 0.4 * slow).unwrap();
    }
    write_issue(dir, &issue, "latency", 1_681_855_800, "db");
}

/// Writes `test/issue_0`: its metrics, and a target naming `site`'s `metric` (Average) broken at
/// `at` (Unix seconds) and the true root cause.
fn write_issue(dir: &Path, metrics: &str, metric: &str, at: u64, root: &str) {
    write(dir, "test/issue_0/metrics.csv", metrics);
    let target = format!(
        r#"{{"target": {{"node": "site", "metric": "{metric}", "agg": "Average", "timestamp": {at}}},
            "root_cause": {{"node": "{root}", "metric": null}}, "metadata": {{}}}}"#
    );
    write(dir, "test/issue_0/target.json", &target);
}

#[test]
fn a_small_scenario_goes_through_the_engine_and_is_ranked() {
    let dir = tempfile::tempdir().unwrap();
    small_scenario(dir.path());
    let rankings = dir.path().join("rankings.jsonl");
    let report = petshop::evaluate(dir.path(), Some(&rankings)).unwrap();
    assert_eq!(report.issues.len(), 1);
    let issue = &report.issues[0];
    let nodes: Vec<&str> = issue.ranking.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(nodes.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["db", "search", "site"]));
    assert_eq!(issue.ranking[0].node, "db", "{report}");
    assert_eq!(issue.ranking[0].source, Source::Engine);
    assert_eq!((issue.rank, issue.engine_rank), (Some(1), Some(1)));
    assert!(issue.problem.is_some());
    assert_eq!(issue.root_cause_signals, ["latency_average"]);
    let row = report.row(&issue.scenario, "all", "latency").unwrap();
    assert_eq!((row.issues, row.top1, row.engine_top1), (1, 1.0, 1.0));

    let text = std::fs::read_to_string(&rankings).unwrap();
    assert_eq!(text.lines().count(), 1);
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["root_cause"], "db");
    assert_eq!(line["rank"], 1);
    assert_eq!(line["ranking"][0]["node"], "db");
    assert_eq!(line["ranking"][0]["source"], "engine");
    assert_eq!(line["ranking"].as_array().unwrap().len(), 3);
}

/// `site` calls `list` and `pay`, `pay` calls `db`. In the issue `db` is slow from its first row
/// on, on two statistics, behind a `pay` that stays healthy; three rows later `list` starts
/// failing, the true cause of the dip in `site`'s availability, which stays inside its normal
/// range (no signal on the target, as in most of PetShop's availability issues).
fn loud_noise_behind_a_healthy_service(dir: &Path) {
    write(
        dir,
        "graph.csv",
        ",site,list,pay,db\nsite,0.0,1.0,1.0,0.0\nlist,0.0,0.0,0.0,0.0\npay,0.0,0.0,0.0,1.0\ndb,0.0,0.0,0.0,0.0\n",
    );
    let header = "microservice,site,list,pay,db,db\nmetric,availability,availability,latency,latency,latency\n\
                  statistic,Average,Average,Average,Average,p99\nunix_timestamp,,,,,\n";
    let mut normal = header.to_string();
    for i in 0..300u64 {
        let t = 1_692_608_400 + 300 * i;
        let (a, b, c, d) = (wobble(4 * i), wobble(4 * i + 1), wobble(4 * i + 2), wobble(4 * i + 3));
        let site = if i % 10 == 0 { 99.0 + 0.5 * a } else { 100.0 };
        writeln!(normal, "{t}.0,{site},100.0,{},{},{}", 0.03 + 0.002 * b, 0.02 + 0.001 * c, 0.05 + 0.003 * d).unwrap();
    }
    write(dir, "noissue/metrics.csv", &normal);
    let mut issue = header.to_string();
    for i in 0..6u64 {
        let t = 1_681_855_320 + 300 * i;
        let (site, list) = if i >= 3 { (99.4, 96.0 + 0.5 * i as f64) } else { (100.0, 100.0) };
        writeln!(issue, "{t}.0,{site},{list},0.03,{},{}", 0.06 + 0.001 * i as f64, 0.2 + 0.01 * i as f64).unwrap();
    }
    write_issue(dir, &issue, "availability", 1_681_856_220, "list");
}

/// With no signal on the target, the issue's problem is one whose trouble can have reached it
/// (through callees in trouble, as the fault tree walks), not the loudest or oldest below it: the
/// slow database behind the healthy `pay` cannot have made `site` fail.
#[test]
fn with_no_signal_on_the_target_the_problem_is_one_whose_trouble_can_reach_it() {
    let dir = tempfile::tempdir().unwrap();
    loud_noise_behind_a_healthy_service(dir.path());
    let report = petshop::evaluate(dir.path(), None).unwrap();
    let issue = &report.issues[0];
    // The premise: the database's problem is there, older and with more signals.
    let (replayed, scenario) = {
        let scenario = petshop::load_scenarios(dir.path()).unwrap().remove(0);
        (petshop::replay(&scenario, &scenario.issues[0], &Default::default()), scenario)
    };
    let problem_of = |node: &str| {
        replayed.problems.values().find(|p| p.signals.values().any(|s| s.entity.as_str() == node)).expect(node)
    };
    let (db, list) = (problem_of("db"), problem_of("list"));
    assert_ne!(db.id, list.id, "{report}");
    assert!(db.opened_at < list.opened_at && db.signals.len() > list.signals.len(), "{db:?}\n{list:?}");
    assert!(!replayed.problems.values().any(|p| p.signals.values().any(|s| s.entity.as_str() == "site")));
    assert_eq!(scenario.issues[0].target.root_cause.node, "list");
    // The choice.
    assert_eq!(issue.problem_match, petshop::ProblemMatch::Downstream);
    assert_eq!(issue.problem, Some(list.id), "{report}");
    assert_eq!((issue.rank, issue.engine_rank), (Some(1), Some(1)), "{report}");
}

#[test]
fn loading_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    small_scenario(dir.path());
    write(dir.path(), "test/issue_0/metrics.csv", "microservice,site\nmetric,latency\nstatistic,Average\n1.0,slow\n");
    let e = petshop::evaluate(dir.path(), None).unwrap_err().to_string();
    assert!(e.ends_with("issue_0/metrics.csv:4: column 2 (site/latency/Average): `slow` is not a number"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    let e = petshop::evaluate(empty.path(), None).unwrap_err().to_string();
    assert!(e.contains("neither a PetShop scenario"), "{e}");
}

fn real_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/petshop");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent (the PetShop dataset lives in the team's shared folder)", dir.display());
        None
    }
}

fn check_well_formed(report: &PetshopReport, nodes: usize) {
    assert!(!report.issues.is_empty());
    for i in &report.issues {
        let names: BTreeSet<&str> = i.ranking.iter().map(|r| r.node.as_str()).collect();
        assert_eq!(names.len(), i.ranking.len(), "{}: a node ranked twice", i.issue);
        assert_eq!(i.ranking.len(), nodes, "{}/{}: every node ranked", i.split, i.issue);
        assert!(i.rank.is_some(), "{}/{}: root cause {} not ranked", i.split, i.issue, i.root_cause);
        assert!(i.engine_rank.is_none_or(|r| r <= i.engine_candidates));
        // The engine's candidates come first.
        assert!(i.ranking.iter().take(i.engine_candidates).all(|r| r.source == Source::Engine));
    }
    for r in &report.rows {
        for x in [r.top1, r.top3, r.engine_top1, r.engine_top3] {
            assert!((0.0..=1.0).contains(&x), "{r:?}");
        }
        assert!(r.top1 <= r.top3 && r.engine_top1 <= r.engine_top3 && r.engine_top3 <= r.top3, "{r:?}");
    }
}

#[test]
fn real_petshop_low_traffic_is_ranked_in_full() {
    let Some(root) = real_data() else { return };
    let dir = root.join("low_traffic");
    let out = tempfile::tempdir().unwrap();
    let rankings = out.path().join("rankings.jsonl");
    let report = petshop::evaluate(&dir, Some(&rankings)).unwrap();
    let scenario = &petshop::load_scenarios(&dir).unwrap()[0];
    check_well_formed(&report, scenario.nodes().len());
    assert_eq!(report.issues.len(), scenario.issues.len());
    let r = report.row("low_traffic", "all", "all").unwrap();
    assert_eq!(r.issues, 26);
    // The root cause of latency issues beats the authors' baseline at rank 1 and within 3, that of
    // availability issues at rank 1 and ties it within 3 (regression guards: see the README).
    let latency = report.row("low_traffic", "all", "latency").unwrap();
    let (base1, base3) = latency.baseline.expect("a published baseline");
    assert!(latency.top1 > base1 && latency.top3 > base3, "{report}");
    let availability = report.row("low_traffic", "all", "availability").unwrap();
    let (base1, base3) = availability.baseline.expect("a published baseline");
    // The published baseline has two decimals: 11 of 12 (0.917) is its 0.92.
    let percent = |x: f64| (x * 100.0).round();
    assert!(availability.top1 > base1 && percent(availability.top3) >= percent(base3), "{report}");
    let text = std::fs::read_to_string(&rankings).unwrap();
    assert_eq!(text.lines().count(), 26);
    // Same input, same ranking.
    let options = petshop::PetshopOptions::default();
    let again = petshop::rank_issue(scenario, &scenario.issues[0], &options);
    assert_eq!(again, report.issues[0]);
    // The dataset's root folder is a folder of scenarios.
    let all = petshop::load_scenarios(&root).unwrap();
    assert!(all.iter().any(|s| s.name == "low_traffic"));
    eprintln!("{report}");
}
