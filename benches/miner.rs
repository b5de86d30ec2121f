//! Template miner throughput, in lines per second.
//!
//! The lines: the `Content` of the loghub 2k samples under `../shared/data/loghub` (16,000 lines
//! of eight systems, one stream), or, where that folder is missing, 16,000 synthetic lines of
//! eight shapes. Measured: masking alone, and the whole miner (masking, tree, templates) from
//! empty over all the lines. Run with `cargo bench --bench miner`; criterion reports lines/s as
//! elements/s. `benches/miner_vs_drain3.sh` compares the miner with the drain3 package.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faultline::engine::logs::{Masker, MinerConfig, TemplateMiner};
use faultline::eval::loghub;
use std::path::Path;

/// The `Content` of the loghub samples, all systems in one stream.
fn loghub_lines() -> Option<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/loghub");
    let systems = loghub::system_contents(&root, None).ok()?;
    Some(systems.into_iter().flat_map(|(_, lines)| lines).collect())
}

/// Synthetic lines when the data is not there: a few dozen shapes with varying values.
fn synthetic_lines() -> Vec<String> {
    let shapes = [
        "Received block blk_{n} of size {m} from /10.{a}.{b}.{c}",
        "PacketResponder {a} for block blk_-{n} terminating",
        "Failed password for invalid user user{a} from 10.{a}.{b}.{c} port {m} ssh2",
        "connection from 10.{a}.{b}.{c} () at Fri Jun {a} 07:07:{b} 2005",
        "jk2_init() Found child {m} in scoreboard slot {a}",
        "{a} ddr error(s) detected and corrected on rank 0, symbol {b} over {m} seconds",
        "session opened for user u{a} by (uid={b})",
        "proxy.example.com:{m} close, {n} bytes ({a}.{b} KB) sent, {m} bytes received, lifetime 00:{b}",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..16_000)
        .map(|i| {
            shapes[i % shapes.len()]
                .replace("{n}", &(next() % 10_000_000_000).to_string())
                .replace("{m}", &(next() % 65_536).to_string())
                .replace("{a}", &(next() % 256).to_string())
                .replace("{b}", &(next() % 60).to_string())
                .replace("{c}", &(next() % 256).to_string())
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (lines, source) = match loghub_lines() {
        Some(lines) => (lines, "loghub"),
        None => (synthetic_lines(), "synthetic"),
    };
    let mut group = c.benchmark_group("miner");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20);
    group.bench_function(format!("mask_{source}_{}_lines", lines.len()), |b| {
        let mut masker = Masker::default();
        b.iter(|| lines.iter().map(|line| masker.mask_line(line).len()).sum::<usize>())
    });
    group.bench_function(format!("mine_{source}_{}_lines", lines.len()), |b| {
        b.iter(|| {
            let mut miner = TemplateMiner::new(MinerConfig::default());
            for line in &lines {
                miner.add(line);
            }
            miner.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
