//! Anomaly detection, first cut: a causal, per-series robust baseline.
//!
//! Each series keeps an exponentially weighted mean and mean absolute deviation. A sample is
//! anomalous when it lies more than `threshold` deviations from the mean; anomalous samples do
//! not teach the baseline (so a saturation does not become the new normal while it lasts). An
//! anomaly is raised after `min_consecutive` anomalous samples and cleared after `clear_after`
//! normal ones. Seasonality and level shifts come with the detection issue; the interface
//! (samples in, [`Detection`]s out) stays.

use crate::model::{Baseline, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Detector tunables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Samples a series must see before it may be judged.
    pub warmup_samples: u32,
    /// Distance from the mean, in robust standard deviations, that counts as anomalous.
    pub threshold: f64,
    /// Consecutive anomalous samples before an anomaly is raised.
    pub min_consecutive: u32,
    /// Consecutive normal samples before an anomaly is cleared.
    pub clear_after: u32,
    /// Weight of a new sample in the baseline, in (0, 1].
    pub alpha: f64,
    /// Smallest deviation considered, as a fraction of |mean| (flat series are not anomalous on
    /// a rounding error).
    pub min_relative_deviation: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            warmup_samples: 20,
            threshold: 4.0,
            min_consecutive: 2,
            clear_after: 3,
            alpha: 0.05,
            min_relative_deviation: 0.02,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct SeriesState {
    n: u32,
    mean: f64,
    mad: f64,
    anomalous_run: u32,
    normal_run: u32,
    raised: bool,
}

/// What one sample meant for its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detection {
    /// Nothing to report.
    Normal,
    /// The series is (still) anomalous: raise or repeat its anomaly.
    Anomalous { score: f64, value: f64, baseline: Baseline },
    /// The series is back inside its band: clear its anomaly.
    Cleared { value: f64 },
}

/// Per-series detector state, keyed by the caller's series id.
#[derive(Debug, Default)]
pub struct Detector {
    config: DetectConfig,
    series: HashMap<u64, SeriesState>,
}

/// Mean absolute deviation of a normal distribution is σ·sqrt(2/π); this turns it back into σ.
const MAD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;

impl Detector {
    pub fn new(config: DetectConfig) -> Detector {
        Detector { config, series: HashMap::new() }
    }

    /// Number of series with state (each costs about 48 bytes plus its map slot).
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Judges one sample of series `series`. Non-finite values are ignored.
    pub fn sample(&mut self, series: u64, value: f64) -> Detection {
        if !value.is_finite() {
            return Detection::Normal;
        }
        let c = &self.config;
        let s = self.series.entry(series).or_default();
        if s.n < c.warmup_samples {
            learn(s, value, if s.n == 0 { 1.0 } else { (1.0 / f64::from(s.n + 1)).max(c.alpha) });
            return Detection::Normal;
        }
        let sigma = (s.mad * MAD_TO_SIGMA).max(c.min_relative_deviation * s.mean.abs()).max(1e-9);
        let z = (value - s.mean).abs() / sigma;
        if z >= c.threshold {
            s.anomalous_run += 1;
            s.normal_run = 0;
            if s.anomalous_run >= c.min_consecutive {
                s.raised = true;
                let band = c.threshold * sigma;
                return Detection::Anomalous {
                    // 0.63 at the threshold, approaching 1 as the breach grows.
                    score: 1.0 - (-z / c.threshold).exp(),
                    value,
                    baseline: Baseline { expected: s.mean, lower: s.mean - band, upper: s.mean + band },
                };
            }
            return Detection::Normal;
        }
        s.anomalous_run = 0;
        s.normal_run += 1;
        learn(s, value, c.alpha);
        if s.raised && s.normal_run >= c.clear_after {
            s.raised = false;
            return Detection::Cleared { value };
        }
        Detection::Normal
    }
}

/// One anomaly score in [0, 1] per sample of one series, played in order through a fresh
/// detector: causal (a score never depends on later samples). What `faultline eval anomalies`
/// scores; 0 where the detector reports nothing.
pub fn anomaly_scores(samples: &[(Timestamp, f64)], config: &DetectConfig) -> Vec<f64> {
    let mut detector = Detector::new(config.clone());
    samples
        .iter()
        .map(|&(_, value)| match detector.sample(0, value) {
            Detection::Anomalous { score, .. } => score,
            _ => 0.0,
        })
        .collect()
}

fn learn(s: &mut SeriesState, value: f64, w: f64) {
    if s.n == 0 {
        s.mean = value;
        s.mad = 0.0;
    } else {
        let dev = (value - s.mean).abs();
        s.mean += w * (value - s.mean);
        s.mad += w * (dev - s.mad);
    }
    s.n = s.n.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wobble(i: u32) -> f64 {
        // Deterministic noise in [-1, 1].
        ((i.wrapping_mul(2_654_435_761) >> 16) % 2001) as f64 / 1000.0 - 1.0
    }

    #[test]
    fn steady_noise_is_not_anomalous_but_a_saturation_is_then_clears() {
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..200 {
            assert_eq!(d.sample(1, 0.30 + 0.03 * wobble(i)), Detection::Normal, "sample {i}");
        }
        assert_eq!(d.sample(1, 0.97), Detection::Normal, "one sample is not enough");
        match d.sample(1, 0.98) {
            Detection::Anomalous { score, baseline, .. } => {
                assert!(score > 0.9, "{score}");
                assert!((baseline.expected - 0.30).abs() < 0.02);
                assert!(baseline.upper < 0.5);
            }
            other => panic!("expected an anomaly, got {other:?}"),
        }
        // The saturation does not become the baseline while it lasts.
        for _ in 0..50 {
            assert!(matches!(d.sample(1, 0.98), Detection::Anomalous { .. }));
        }
        assert_eq!(d.sample(1, 0.31), Detection::Normal);
        assert_eq!(d.sample(1, 0.30), Detection::Normal);
        assert_eq!(d.sample(1, 0.29), Detection::Cleared { value: 0.29 });
    }

    #[test]
    fn warmup_and_non_finite_samples_are_ignored() {
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..19 {
            assert_eq!(d.sample(7, if i % 2 == 0 { 1.0 } else { 100.0 }), Detection::Normal);
        }
        assert_eq!(d.sample(7, f64::NAN), Detection::Normal);
        assert_eq!(d.sample(7, f64::INFINITY), Detection::Normal);
        assert_eq!(d.series_count(), 1);
    }
}
