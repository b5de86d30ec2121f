//! The hard fault scenarios (`fixtures/scenarios/hard`): root cause under chronic noise and
//! overlapping incidents.

#[path = "../examples/make_fault_scenarios.rs"]
#[allow(dead_code)]
mod make_fault_scenarios;

use faultline::engine::EngineConfig;
use faultline::eval::scenarios::play;
use faultline::eval::scenarios::ScenariosReport;
use faultline::sources::fixture;
use std::path::Path;

/// The kind built after the microservice benchmark's bad nights, counted apart.
const SEQUENCE: &str = "fault-sequence";

/// Incidents, roots ranked first and roots in the top 3, over the scenarios whose name passes.
fn tally(report: &ScenariosReport, keep: impl Fn(&str) -> bool) -> (usize, usize, usize) {
    let incidents: Vec<_> = report.scenarios.iter().filter(|s| keep(&s.name)).flat_map(|s| &s.incidents).collect();
    let top1 = incidents.iter().filter(|i| i.root_rank == Some(1)).count();
    let top3 = incidents.iter().filter(|i| i.root_rank.is_some_and(|r| r <= 3)).count();
    (incidents.len(), top1, top3)
}

/// Prints every problem of `HARD` (a file under fixtures/scenarios/hard) with its signals and
/// ranking: `HARD=chronic-neighbour-0 cargo test --test eval_hard dump -- --ignored --nocapture`.
#[test]
#[ignore]
fn dump() {
    let name = std::env::var("HARD").unwrap_or_else(|_| "chronic-neighbour-0".into());
    let path = if name.ends_with(".jsonl") {
        Path::new(&name).to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/hard/{name}.jsonl"))
    };
    let scenario = fixture::load(&path).unwrap();
    let truth = scenario.header.truth.clone().unwrap();
    println!("{}", scenario.header.description);
    for i in &truth.incidents {
        println!("truth {} root {}", i.id, i.root_cause);
    }
    let t0 = scenario.observations[0].at.0;
    let (set, _) = play(&scenario.observations, &EngineConfig::default());
    for p in set.problems.values() {
        println!("\n{} {:?} {} opened +{}m", p.id, p.status, p.title, (p.opened_at.0 - t0) / 60_000);
        for (k, s) in &p.signals {
            let label = truth.signals.get(&k.0).map(String::as_str).unwrap_or("?");
            println!(
                "  {:<60} {:<10} first +{:>2}m last +{:>2}m active {} mark {:?} score {:.2}",
                k.0,
                label,
                (s.first_seen.0 - t0) / 60_000,
                (s.last_seen.0 - t0) / 60_000,
                s.active,
                s.mark,
                s.score
            );
        }
        for c in p.root_causes.iter().take(5) {
            println!(
                "  -> {} score {} explains {}/{} first +{}m: {}",
                c.entity,
                c.score,
                c.explains,
                c.affected,
                (c.first_breach.0 - t0) / 60_000,
                c.summary
            );
        }
    }
}

/// The shipped hard files are what the generator writes, and the engine finds their roots: the
/// figures reached when the timing rules went in (issue 13, point 4), as lower bounds. Before
/// them the same set gave top-1 8/19, top-3 14/19 and left the root of every chronic-neighbour
/// incident unranked.
#[test]
fn the_hard_scenarios_root_causes_are_ranked_first_despite_chronic_noise_and_overlaps() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/hard");
    for seed in make_fault_scenarios::HARD_SEEDS {
        for kind in make_fault_scenarios::HARD_KINDS {
            let shipped = std::fs::read(dir.join(format!("{kind}-{seed}.jsonl"))).unwrap();
            let generated = make_fault_scenarios::render_hard(kind, seed).unwrap();
            assert!(generated == shipped, "hard/{kind}-{seed}.jsonl is stale: run the generator with --hard");
        }
    }
    let report = faultline::eval::scenarios::evaluate(&dir).unwrap();
    let (n, top1, top3) = tally(&report, |name| !name.starts_with(SEQUENCE));
    assert_eq!(n, 19, "{report}");
    // Reached: 18/19 first (the miss: a deployment whose error burst coincides with a spike of
    // the database below it), every root in the top 3. The 17th: a CPU hog is no longer merged
    // into the old problem of recurring spikes by a spike of a database next to it. The 18th: a
    // log burst is allowed a minute of detection lag, not the 5 minutes of alerts and anomalies,
    // so the log-only fault 3 minutes after the trouble above it is news of its own. The 19th:
    // an anomaly is allowed its own series' detection lag (the samples it took to raise it), so
    // a database's spike seen minutes after a deployment's errors above it is not their cause.
    assert!(top1 >= 19, "top-1 {top1}/{n}\n{report}");
    // Overlapping faults: the CPU hog of seed 1 stays its own problem, ranked first.
    let overlapping = report.scenarios.iter().find(|s| s.name == "overlapping-faults-1").expect("scenario");
    let hog = overlapping.incidents.iter().find(|i| i.id == "cpu-hog").expect("incident");
    assert_eq!(hog.root_rank, Some(1), "{report}");
    assert!(top3 >= 19, "top-3 {top3}/{n}\n{report}");
    // The chronic neighbour is never anyone's root.
    for s in report.scenarios.iter().filter(|s| s.name.starts_with("chronic-neighbour")) {
        assert_eq!(s.incidents[0].root_rank, Some(1), "{report}");
    }
}

/// Generalisation: the same kinds drawn on shops and stories never shipped nor read (seeds 15
/// to 17, which no rule was found on), as lower bounds. Top-1 14/18, top-3 17/18 when the
/// outlasting and recurrence rules went in; 16/18 and 17/18 with a log burst's own slack (over
/// seeds 3 to 26: 125/155 and 148/155); 16/18 and 18/18 with an anomaly's own detection lag and
/// no merge into a problem kept open by recurrences (seeds 3 to 26: 143/155 and 153/155; the
/// shipped seeds 0 to 2: 19/19 and 19/19).
#[test]
fn hard_scenarios_on_fresh_seeds_keep_their_roots_near_the_top() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 15..=17 {
        make_fault_scenarios::write_hard(dir.path(), &[seed]).unwrap();
    }
    let report = faultline::eval::scenarios::evaluate(dir.path()).unwrap();
    let (n, top1, top3) = tally(&report, |name| !name.starts_with(SEQUENCE));
    assert_eq!(n, 18, "{report}");
    assert!(top1 >= 16, "top-1 {top1}/{n}\n{report}");
    assert!(top3 >= 18, "top-3 {top3}/{n}\n{report}");
}

/// A bad night (`fault-sequence`): four faults of the microservice benchmark's four kinds (CPU
/// contention, an exception, a network delay, a wrong return value), one after another minutes
/// apart, among recurring spikes and pods' CPU blips. Lower bounds on the shipped seeds 0 to 2
/// and on seeds 15 to 17, which no rule was found on. When the kind was written: shipped 7/12
/// first, 10/12 in the top 3; seeds 15 to 17: 11/12 and 12/12. Since a common effect (the edge
/// service above two faults) no longer merges their problems: 9/12 and 12/12; 12/12 and 12/12.
/// Since a candidate that explains nothing below trouble it does not account for gets no
/// credit for breaking first: 11/12 and 12/12 shipped. Since trouble above a problem joins it
/// only while the trouble below it goes on: 12/12 and 12/12 shipped.
#[test]
fn a_bad_night_of_faults_minutes_apart_keeps_each_root_near_the_top() {
    let shipped =
        faultline::eval::scenarios::evaluate(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/hard"))
            .unwrap();
    let (n, top1, top3) = tally(&shipped, |name| name.starts_with(SEQUENCE));
    assert_eq!(n, 12, "{shipped}");
    assert!(top1 >= 12, "top-1 {top1}/{n}\n{shipped}");
    assert!(top3 >= 12, "top-3 {top3}/{n}\n{shipped}");
    let dir = tempfile::tempdir().unwrap();
    for seed in 15..=17 {
        std::fs::write(
            dir.path().join(format!("{SEQUENCE}-{seed}.jsonl")),
            make_fault_scenarios::render_hard(SEQUENCE, seed).unwrap(),
        )
        .unwrap();
    }
    let fresh = faultline::eval::scenarios::evaluate(dir.path()).unwrap();
    let (n, top1, top3) = tally(&fresh, |_| true);
    assert_eq!(n, 12, "{fresh}");
    assert!(top1 >= 12, "top-1 {top1}/{n}\n{fresh}");
    assert!(top3 >= 12, "top-3 {top3}/{n}\n{fresh}");
}
