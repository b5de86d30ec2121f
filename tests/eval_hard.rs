//! The hard fault scenarios (`fixtures/scenarios/hard`): root cause under chronic noise and
//! overlapping incidents.

#[path = "../examples/make_fault_scenarios.rs"]
#[allow(dead_code)]
mod make_fault_scenarios;

use faultline::engine::EngineConfig;
use faultline::eval::scenarios::play;
use faultline::sources::fixture;
use std::path::Path;

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
