//! Pull-cycle figures of the Prometheus source: the real `faultline agent` against a real
//! Prometheus (Debian package, started by tests/support) holding 1,000 backfilled series
//! (250 hosts × 4 node gauges, `job="node"`, one hour at 15 s resolution ending now).
//!
//! - `agent --once` (a): the first cycle, catching up the whole 1 h lookback at 15 s steps;
//!   latency and bytes from its JSON report, several runs.
//! - the looping agent (b), `interval = 1s`, `step = 1s`, `lookback = 4m` (the same 241 points per
//!   series as (a) in its first cycle), for 10 more cycles that each ask only for the seconds since
//!   the last: latency and bytes from its `pulled` log lines, peak and current RSS from
//!   `/proc/PID/status` before SIGTERM.
//!
//! Both journal every observation, as the agent does in service; (a) is also run without a journal
//! to separate the journal's share. Run with `cargo bench --bench pull` (about 15 s once built).
//! A plain `main`, not criterion: each figure is one end-to-end process run, not a closure to
//! repeat. Without `--bench` (as under `cargo test --all-targets`) it only says so and exits.

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{now_secs, prometheus, PrometheusOpts, Server};

const HOSTS: usize = 250;
/// (metric, query name): four gauges a node exporter setup would record per host.
const METRICS: [(&str, &str); 4] = [
    ("node_cpu_utilisation", "cpu_utilisation"),
    ("node_memory_utilisation", "memory_utilisation"),
    ("node_load1", "load1"),
    ("node_filesystem_free_ratio", "filesystem_free_ratio"),
];
const HISTORY_SECS: i64 = 3_600;
const RESOLUTION_SECS: i64 = 15;
const ONCE_RUNS: usize = 5;
/// Incremental cycles of the looping agent after its first (catch-up) cycle.
const LOOP_CYCLES: usize = 10;

fn main() {
    // cargo bench passes `--bench`; cargo test --all-targets runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("pull: skipped (run `cargo bench --bench pull`)");
        return;
    }
    let end = now_secs();
    let started = Instant::now();
    let history = openmetrics(end);
    let generated = started.elapsed();
    let history_bytes = history.len();
    let started = Instant::now();
    let prom = prometheus(PrometheusOpts { backfill_openmetrics: Some(history), ..Default::default() });
    let backfilled = started.elapsed();
    println!(
        "setup: {} series × {} samples ({:.1} MiB OpenMetrics, generated in {:.2} s); promtool backfill + \
         Prometheus ready in {:.1} s",
        HOSTS * METRICS.len(),
        HISTORY_SECS / RESOLUTION_SECS + 1,
        mib(history_bytes as u64),
        generated.as_secs_f64(),
        backfilled.as_secs_f64()
    );

    let once: Vec<Cycle> = (0..ONCE_RUNS).map(|_| agent_once(&prom, true)).collect();
    let unjournaled: Vec<Cycle> = (0..ONCE_RUNS).map(|_| agent_once(&prom, false)).collect();
    for (i, c) in once.iter().enumerate() {
        println!(
            "once run {}: {} ms in the source, {} ms process, {} observations, {:.2} MiB",
            i + 1,
            c.elapsed_ms,
            c.wall_ms,
            c.observations,
            mib(c.bytes)
        );
    }
    let looping = agent_loop(&prom);
    for (i, c) in looping.cycles.iter().enumerate() {
        println!("loop cycle {i}: {} ms, {} observations, {} bytes", c.elapsed_ms, c.observations, c.bytes);
    }

    let mut table = String::from("\n| what | figure |\n| --- | --- |\n");
    let row = |table: &mut String, what: &str, figure: String| {
        let _ = writeln!(table, "| {what} | {figure} |");
    };
    let series = HOSTS * METRICS.len();
    let ms = |v: Vec<u64>| format!("{} ms min, {} ms median", min(&v), median(&v));
    row(
        &mut table,
        &format!("first cycle, {series} series × 1 h at 15 s (`--once`, {ONCE_RUNS} runs)"),
        ms(once.iter().map(|c| c.elapsed_ms).collect()),
    );
    row(
        &mut table,
        "… whole `--once` process (start, pull, journal, print)",
        ms(once.iter().map(|c| c.wall_ms).collect()),
    );
    row(
        &mut table,
        "… the same without a journal (HTTP, decoding, engine)",
        ms(unjournaled.iter().map(|c| c.elapsed_ms).collect()),
    );
    row(&mut table, "… bytes read", format!("{:.1} MiB", mib(once[0].bytes)));
    row(&mut table, "… observations", once[0].observations.to_string());
    let first = &looping.cycles[0];
    row(
        &mut table,
        &format!("looping agent: first cycle, {series} series × 4 m at 1 s"),
        format!("{} ms, {:.1} MiB, {} observations", first.elapsed_ms, mib(first.bytes), first.observations),
    );
    let steady = &looping.cycles[1..];
    row(
        &mut table,
        &format!("looping agent: incremental cycle ({} cycles, 1 s apart)", steady.len()),
        format!(
            "{} (max {} ms)",
            ms(steady.iter().map(|c| c.elapsed_ms).collect()),
            steady.iter().map(|c| c.elapsed_ms).max().unwrap_or(0)
        ),
    );
    let bytes: Vec<u64> = steady.iter().map(|c| c.bytes).collect();
    let observations: Vec<u64> = steady.iter().map(|c| c.observations).collect();
    row(
        &mut table,
        "… per incremental cycle",
        format!("{:.0} KiB median, {} observations median", median(&bytes) as f64 / 1024.0, median(&observations)),
    );
    row(&mut table, "looping agent: peak RSS (VmHWM)", format!("{:.1} MiB", mib(looping.peak_rss_kib * 1024)));
    row(
        &mut table,
        &format!("looping agent: RSS after {} cycles (VmRSS)", looping.cycles.len()),
        format!("{:.1} MiB", mib(looping.rss_kib * 1024)),
    );
    println!("{table}");
}

/// One source's figures for one cycle.
struct Cycle {
    /// Pull and feed (engine and journal), as the agent measures it.
    elapsed_ms: u64,
    /// Spawn to exit of the whole `--once` process (0 for the looping agent).
    wall_ms: u64,
    observations: u64,
    bytes: u64,
}

struct Loop {
    cycles: Vec<Cycle>,
    peak_rss_kib: u64,
    rss_kib: u64,
}

/// The backfill: every series one sample per [`RESOLUTION_SECS`] over [`HISTORY_SECS`], the last
/// exactly at `end`, values wandering around a per-host level.
fn openmetrics(end: i64) -> String {
    let steps = HISTORY_SECS / RESOLUTION_SECS;
    let mut out = String::with_capacity(HOSTS * METRICS.len() * (steps as usize + 1) * 72);
    for (m, (metric, _)) in METRICS.iter().enumerate() {
        let _ = writeln!(out, "# HELP {metric} Synthetic node gauge for the pull benchmark.\n# TYPE {metric} gauge");
        for h in 0..HOSTS {
            let id = (m * HOSTS + h) as u64;
            let level = noise(id, u64::MAX);
            let labels = format!("{metric}{{job=\"node\",instance=\"host-{h:03}:9100\"}}");
            for k in 0..=steps {
                let j = noise(id, k as u64);
                let value = match m {
                    0 => 0.15 + 0.4 * level + 0.05 * j,
                    1 => 0.35 + 0.4 * level + 0.01 * j,
                    2 => 4.0 * level + 0.5 * j,
                    _ => 0.9 - 0.6 * level - 0.0001 * k as f64,
                };
                let _ = writeln!(out, "{labels} {value:.4} {}", end - (steps - k) * RESOLUTION_SECS);
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Deterministic value in [0, 1) for (series, step): splitmix64.
fn noise(series: u64, step: u64) -> f64 {
    let mut z = series.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(step).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn config(dir: &Path, url: &str, interval: &str, step: &str, lookback: &str) -> PathBuf {
    let mut text = format!(
        "[[sources.prometheus]]\nname = \"prom\"\nurl = \"{url}\"\ninterval = \"{interval}\"\nstep = \"{step}\"\n\
         lookback = \"{lookback}\"\n"
    );
    for (metric, name) in METRICS {
        let _ = write!(text, "\n[[sources.prometheus.queries]]\nname = \"{name}\"\nquery = \"{metric}\"\n");
    }
    let path = dir.join("faultline.toml");
    std::fs::write(&path, text).expect("writing the config");
    path
}

fn agent_once(prom: &Server, journal: bool) -> Cycle {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = config(dir.path(), &prom.url, "30s", "15s", "1h");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_faultline"));
    agent.args(["agent", "--once", "--config"]).arg(&config).arg("--log-file").arg(dir.path().join("faultline.log"));
    if journal {
        agent.arg("--journal").arg(dir.path().join("journal.sqlite"));
    }
    let started = Instant::now();
    let out = agent.output().expect("running faultline agent --once");
    let wall_ms = started.elapsed().as_millis() as u64;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent --once failed: {stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    let source = &json["sources"][0];
    assert_eq!(source["healthy"], true, "{source}");
    let field = |k: &str| source[k].as_u64().unwrap_or_else(|| panic!("`{k}` in {source}"));
    let cycle =
        Cycle { elapsed_ms: field("elapsed_ms"), wall_ms, observations: field("observations"), bytes: field("bytes") };
    // Every series came back: one metric observation each, besides entities and relations.
    assert!(cycle.observations as usize > HOSTS * METRICS.len(), "{source}");
    cycle
}

fn agent_loop(prom: &Server) -> Loop {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = config(dir.path(), &prom.url, "1s", "1s", "4m");
    let log = dir.path().join("faultline.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["agent", "--config"])
        .arg(&config)
        .arg("--journal")
        .arg(dir.path().join("journal.sqlite"))
        .arg("--log-file")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting faultline agent");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let cycles = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains(" WARN "), "the agent warned:\n{text}");
        let cycles = pulled(&text);
        if cycles.len() > LOOP_CYCLES {
            break cycles;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the agent exited ({status}):\n{text}");
        }
        assert!(Instant::now() < deadline, "{} cycles after 60 s:\n{text}", cycles.len());
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc/PID/status");
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{key} in /proc/{pid}/status"))
    };
    let (peak_rss_kib, rss_kib) = (kib("VmHWM:"), kib("VmRSS:"));
    let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("running kill");
    assert!(killed.success(), "kill -TERM {pid}");
    let out = child.wait_with_output().expect("waiting for the agent");
    assert!(out.status.success(), "the agent after SIGTERM: {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    Loop { cycles: cycles.into_iter().take(LOOP_CYCLES + 1).collect(), peak_rss_kib, rss_kib }
}

/// The `pulled` lines of an agent log (tracing fmt: `... INFO faultline::cli: pulled source="prom"
/// observations=N bytes=N elapsed_ms=N`).
fn pulled(log: &str) -> Vec<Cycle> {
    log.lines()
        .filter_map(|line| {
            let (_, fields) = line.split_once(": pulled ")?;
            let field = |key: &str| {
                fields.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse::<u64>().ok())
            };
            Some(Cycle {
                elapsed_ms: field("elapsed_ms")?,
                wall_ms: 0,
                observations: field("observations")?,
                bytes: field("bytes")?,
            })
        })
        .collect()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn min(v: &[u64]) -> u64 {
    v.iter().copied().min().unwrap_or(0)
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}
