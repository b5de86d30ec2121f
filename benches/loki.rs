//! Lines per second through the Loki source into the engine, and the memory 1,000 streams
//! cost: the local Loki of the tests (`tests/support/loki.rs`, in this process) holds
//! `LINES` lines over `STREAMS` streams (one service each, a few templates, one line in ten an
//! error); one `pull` reads them all (`query_range`, pages of 5,000 lines, JSON decoded,
//! de-duplicated, mined into pattern counts), and the engine takes the counts. Plain main:
//!
//! ```text
//! cargo bench --bench loki
//! ```
//!
//! prints lines/s of the pull and of pull + engine, and VmRSS (from `/proc/self/status`)
//! before the source exists and after its cycles: the difference is the source's state for
//! 1,000 streams (miner, per-stream filter, known entities), plus allocator slack.

#[path = "../tests/support/loki.rs"]
#[allow(dead_code)]
mod fake;

use faultline::engine::{Engine, EngineConfig};
use faultline::model::Timestamp;
use faultline::sources::loki::{LokiConfig, LokiSource};
use faultline::sources::mapping::Mapping;
use std::time::Instant;

const STREAMS: usize = 1_000;
const LINES: usize = 200_000;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let loki = fake::FakeLoki::start();
    let now = Timestamp::wall_clock().millis();
    let from = now - 3_000_000;
    let step_ns = 3_000_000 * 1_000_000 / LINES as i64;
    let lines: Vec<fake::Line> = (0..LINES)
        .map(|i| {
            let s = i % STREAMS;
            let text = match i % 10 {
                0 => format!("level=error msg=\"payment failed\" order={i} provider=p{} code=502", i % 7),
                1..=4 => format!("GET /cart/{i} 200 in {}ms", i % 90),
                5..=7 => format!("level=info msg=\"order placed\" order={i} items={}", i % 9),
                _ => format!("cache miss for key user:{i} after {}us", i % 500),
            };
            let labels = fake::labels(&[("service", &format!("svc-{s}")), ("namespace", "shop")]);
            fake::Line { ns: from * 1_000_000 + i as i64 * step_ns, labels, text }
        })
        .collect();
    loki.push(lines);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let before = rss_kib();
    let text = format!(
        "url = \"{}\"\nlookback = \"1h\"\nlimit = 5000\nmax_pages = 1000\n[[queries]]\nquery = '{{service=~\".+\"}}'\n",
        loki.url
    );
    let config: LokiConfig = toml::from_str(&text).unwrap();
    let mut source = LokiSource::new(config, Mapping::default()).unwrap();
    let started = Instant::now();
    let pull = rt.block_on(source.pull(Timestamp(now)));
    let pulled = started.elapsed();
    assert!(pull.problems.is_empty(), "{:?}", pull.problems);
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in &pull.observations {
        engine.observe(o, &mut events);
    }
    let total = started.elapsed();
    let after = rss_kib();
    println!("{}", pull.notes.last().map(String::as_str).unwrap_or(""));
    println!(
        "loki pull: {LINES} lines over {STREAMS} streams in {:.2} s = {:.0} lines/s; with the engine {:.2} s = {:.0} lines/s; {} observations, {} events",
        pulled.as_secs_f64(),
        LINES as f64 / pulled.as_secs_f64(),
        total.as_secs_f64(),
        LINES as f64 / total.as_secs_f64(),
        pull.observations.len(),
        events.len()
    );
    // A second cycle with nothing new: the steady cost of 1,000 known streams.
    let started = Instant::now();
    let idle = rt.block_on(source.pull(Timestamp(now + 15_000)));
    println!(
        "idle cycle: {:.1} ms; {}",
        started.elapsed().as_secs_f64() * 1000.0,
        idle.notes.last().map(String::as_str).unwrap_or("")
    );
    println!(
        "VmRSS: {before} KiB before the source, {after} KiB after its first cycle and the engine (+{} KiB)",
        after.saturating_sub(before)
    );
}
