//! Anomaly detection throughput: samples judged per second, over many series with realistic
//! timestamps.
//!
//! 5,000 series scraped every 5 minutes: a third with a daily swing, a third flat and noisy, a
//! third mostly idle with spikes, 1% of them filling a disk (a limit forecast), and a saturation
//! on 1% of the series in the measured hour. A second detector watches the flat third and the
//! saturating 1% as `cpu_utilisation` (a ceiling at 95% for 1 minute: a saturation signal). The detector is first warmed with three days of
//! history, so that seasons are in use; criterion then measures the next hour (12 rounds, 60,000
//! samples, in time order as the engine feeds them) on a fresh copy of the warmed detector each
//! time (and, in the `_drop_excluded` cases, hands it back so that criterion drops it outside the
//! timing: the engine never drops its detector, so those are the steady state). A second measure plays one NAB-sized series (14 days at 5 minutes, 4,032 samples) through
//! `anomaly_scores`, warm-up and season learning included. Run with `cargo bench --bench detect`;
//! it prints the heap per series, then criterion's samples/s.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use faultline::engine::detect::{anomaly_scores, DetectConfig, Detection, Detector, SERIES_STATE_BYTES};
use faultline::model::Timestamp;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const SERIES: u64 = 5_000;
const STEP_MS: i64 = 300_000;
const ROUNDS_PER_DAY: i64 = 288;
const WARM_DAYS: i64 = 3;
const MEASURED_ROUNDS: i64 = 12;
/// 2026-03-02T00:00:00Z.
const START: i64 = 1_772_409_600_000;

/// splitmix64: deterministic noise in [0, 1).
fn noise(series: u64, round: i64) -> f64 {
    let mut z = series.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (round as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The value of series `s` in scrape round `round` (0: the start of the history).
fn value(s: u64, round: i64) -> f64 {
    let hours = (round * STEP_MS) as f64 / 3_600_000.0;
    let measured = round >= WARM_DAYS * ROUNDS_PER_DAY;
    if s.is_multiple_of(100) {
        // A disk filling from 60% free to full 90 minutes into the measured hour.
        let full = (WARM_DAYS * ROUNDS_PER_DAY + 18) as f64;
        return (0.6 * (1.0 - round as f64 / full) + 0.002 * noise(s, round)).max(0.0);
    }
    if s % 100 == 1 && measured {
        return 0.97 + 0.02 * noise(s, round);
    }
    match s % 3 {
        0 => 50.0 - 30.0 * (std::f64::consts::TAU * (hours - 3.0) / 24.0).cos() + 3.0 * noise(s, round),
        1 => 0.3 + 0.05 * noise(s, round),
        _ => {
            if noise(s, round) > 0.98 {
                20.0
            } else {
                0.1 * noise(s + 1, round)
            }
        }
    }
}

fn round_samples(round: i64) -> impl Iterator<Item = (u64, Timestamp, f64)> {
    let at = Timestamp(START + round * STEP_MS);
    (0..SERIES).map(move |s| (s, at, value(s, round)))
}

fn warmed(ceilings: bool) -> Detector {
    let mut d = Detector::new(DetectConfig::default());
    for s in (0..SERIES).filter(|s| s % 100 == 0) {
        d.register(s, "filesystem_free_ratio");
    }
    for s in (0..SERIES).filter(|s| ceilings && s % 100 != 0 && (s % 3 == 1 || s % 100 == 1)) {
        d.register(s, "cpu_utilisation");
    }
    for round in 0..WARM_DAYS * ROUNDS_PER_DAY {
        for (s, at, v) in round_samples(round) {
            d.sample(s, at, v);
        }
    }
    d
}

/// The measured hour: every sample of 12 rounds, in time order.
fn hour() -> Vec<(u64, Timestamp, f64)> {
    let first = WARM_DAYS * ROUNDS_PER_DAY;
    (first..first + MEASURED_ROUNDS).flat_map(round_samples).collect()
}

fn play(mut d: Detector, samples: &[(u64, Timestamp, f64)]) -> (usize, usize, usize) {
    judge_all(&mut d, samples)
}

/// [`play`], handing the detector back: criterion drops a routine's output after the timing
/// (`iter_batched`), so the measure is the steady state the engine runs in, where the detector
/// is never dropped (a drop frees 5,000 states and their chunks, inside `play`'s timing).
fn play_kept(mut d: Detector, samples: &[(u64, Timestamp, f64)]) -> (Detector, (usize, usize, usize)) {
    let counts = judge_all(&mut d, samples);
    (d, counts)
}

fn judge_all(d: &mut Detector, samples: &[(u64, Timestamp, f64)]) -> (usize, usize, usize) {
    let (mut anomalies, mut forecasts, mut saturations) = (0, 0, 0);
    for &(s, at, v) in samples {
        let verdict = d.sample(s, at, v);
        anomalies += usize::from(matches!(verdict.anomaly, Detection::Anomalous { .. }));
        forecasts += usize::from(matches!(verdict.forecast, Detection::Forecast { .. }));
        saturations += usize::from(matches!(verdict.saturation, Detection::Saturated { .. }));
    }
    (anomalies, forecasts, saturations)
}

fn bench(c: &mut Criterion) {
    let before = LIVE.load(Ordering::Relaxed);
    let detector = warmed(false);
    let heap = LIVE.load(Ordering::Relaxed) - before;
    let samples = hour();
    let (anomalies, forecasts, _) = play(detector.clone(), &samples);
    eprintln!(
        "detect: {} series warmed with {} samples each; heap {:.2} MiB ({} bytes a series, {} of them state); \
         the measured hour: {} samples, {} anomalous, {} forecasts",
        detector.series_count(),
        WARM_DAYS * ROUNDS_PER_DAY,
        heap as f64 / (1024.0 * 1024.0),
        heap / detector.series_count(),
        SERIES_STATE_BYTES,
        samples.len(),
        anomalies,
        forecasts,
    );

    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.sample_size(20);
    group.bench_function("5k_series_one_hour_at_5m_warmed", |b| {
        b.iter_batched(|| detector.clone(), |d| play(d, &samples), BatchSize::LargeInput)
    });
    group.bench_function("5k_series_one_hour_at_5m_warmed_drop_excluded", |b| {
        b.iter_batched(|| detector.clone(), |d| play_kept(d, &samples), BatchSize::LargeInput)
    });
    let watched = warmed(true);
    let (anomalies, _, saturations) = play(watched.clone(), &samples);
    eprintln!("detect, a third of the series with a ceiling: {anomalies} anomalous, {saturations} saturated");
    assert!(saturations > 0, "the saturating series are saturated");
    group.bench_function("5k_series_one_hour_at_5m_warmed_a_third_with_ceilings", |b| {
        b.iter_batched(|| watched.clone(), |d| play(d, &samples), BatchSize::LargeInput)
    });
    group.bench_function("5k_series_one_hour_at_5m_warmed_a_third_with_ceilings_drop_excluded", |b| {
        b.iter_batched(|| watched.clone(), |d| play_kept(d, &samples), BatchSize::LargeInput)
    });
    group.finish();

    let nab_like: Vec<(Timestamp, f64)> =
        (0..4032).map(|round| (Timestamp(START + round * STEP_MS), value(3, round))).collect();
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(nab_like.len() as u64));
    group.bench_function("anomaly_scores_one_series_14_days_at_5m", |b| {
        b.iter(|| anomaly_scores(&nab_like, &DetectConfig::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
