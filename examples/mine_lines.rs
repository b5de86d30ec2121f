//! Mines the lines of a text file with the template miner and prints the throughput.
//!
//! `cargo run --release --example mine_lines -- FILE [PASSES]`
//!
//! Every line of FILE (one log message per line) goes through one [`TemplateMiner`] with the
//! default configuration, PASSES times over (default 1), as one stream. Prints the lines, the
//! templates held at the end, the seconds spent mining (reading the file is not counted) and lines
//! per second, as `key=value` pairs on one line. `benches/miner_vs_drain3.sh` runs it beside the
//! drain3 package on the same file.

use faultline::engine::logs::{MinerConfig, TemplateMiner};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: mine_lines FILE [PASSES]");
        return ExitCode::from(2);
    };
    let passes: usize = match args.get(1).map(|p| p.parse()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("PASSES must be a positive whole number");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut miner = TemplateMiner::new(MinerConfig::default());
    let start = Instant::now();
    for _ in 0..passes {
        for line in &lines {
            miner.add(line);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let total = lines.len() * passes;
    println!(
        "miner=faultline lines={total} templates={} seconds={seconds:.4} lines_per_second={:.0}",
        miner.len(),
        total as f64 / seconds.max(1e-9)
    );
    ExitCode::SUCCESS
}
