//! A series' state as snapshots write it: every field by name, each season as arrays (its
//! offsets, how many samples each bucket learned from, and the disagreements, the format
//! snapshots have always had; then each bucket's scale, added later). The detector keeps a
//! bucket's fields side by side instead ([`Bucket`]), and its seasons apart from the rest of its
//! state ([`WholeSeries`]).

use super::{
    not_a_number, Bucket, Model, Record, SaturationState, Season, SeriesState, TrendState, WholeSeries, DAILY_BUCKETS,
    DRIFT_LEVELS, DRIFT_SAMPLES, LEVELS, WEEKLY_BUCKETS,
};
use crate::engine::snapshot::codec::{array, exact_f32_array, exact_f64};
use serde::{Deserialize, Serialize};

/// [`WholeSeries`] in a snapshot (see the fields of [`SeriesState`]).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredSeries {
    first_at: i64,
    last_at: i64,
    #[serde(with = "exact_f64")]
    last_value: f64,
    /// Typical time between samples, ms (a slow average, gaps capped at one hour).
    #[serde(with = "exact_f64")]
    step_ms: f64,
    /// The smallest change between consecutive samples seen (0: none yet): a deviation of one
    /// step of a series' own resolution is never far out.
    #[serde(with = "exact_f64")]
    resolution: f64,
    /// The highest and lowest values seen (the range a record is measured against; NaN in a
    /// snapshot written before they were kept: learned again from the next sample).
    #[serde(with = "exact_f64", default = "not_a_number")]
    range_hi: f64,
    #[serde(with = "exact_f64", default = "not_a_number")]
    range_lo: f64,
    n: u32,
    rate_n: u32,
    /// Flat, daily, weekly.
    models: [Model; 3],
    /// How often the series went out of band at each level (threshold × 2^k): a slow average
    /// over the samples since the last change of season (`rate_n`).
    #[serde(with = "exact_f32_array")]
    exceed_rate: [f32; LEVELS],
    /// Which of the latest 16 samples were out of band at each level (bit 0: the latest).
    exceed_bits: [u16; LEVELS],
    season: Season,
    raised: bool,
    /// The latest errors in robust deviations, signed and clipped at `threshold` (the drift
    /// view; slot `rate_n % DRIFT_SAMPLES` is the latest).
    #[serde(with = "exact_f32_array", default)]
    recent_z: [f32; DRIFT_SAMPLES],
    /// How often their drift reached threshold × 1 and × 1.5: a slow average over the same
    /// samples as `exceed_rate`.
    #[serde(with = "exact_f32_array", default)]
    drift_rate: [f32; DRIFT_LEVELS],
    /// Consecutive anomalous samples (the first surprising, the others out of band).
    anomalous_run: u32,
    /// Consecutive samples in band.
    normal_run: u32,
    /// The highest score of the anomaly under way: its score.
    #[serde(with = "exact_f64")]
    peak: f64,
    /// The record the anomaly under way set, if it set one (for its explanation).
    #[serde(default)]
    record: Option<Record>,
    trend: Option<Box<TrendState>>,
    saturation: Option<Box<SaturationState>>,
    #[serde(with = "exact_f32_array")]
    daily: [f32; DAILY_BUCKETS],
    /// Samples each seasonal bucket has learned from (saturating).
    daily_seen: [u8; DAILY_BUCKETS],
    /// Samples in a row (per bucket) the flat level found normal and the season did not.
    daily_disagree: [u8; DAILY_BUCKETS],
    #[serde(with = "exact_f32_array")]
    weekly: [f32; WEEKLY_BUCKETS],
    #[serde(with = "array")]
    weekly_seen: [u8; WEEKLY_BUCKETS],
    #[serde(with = "array")]
    weekly_disagree: [u8; WEEKLY_BUCKETS],
    /// Each bucket's scale, the top half of an `f32`'s bits (0: none, as in a snapshot written
    /// before they were kept: learned again).
    #[serde(with = "array", default = "no_daily_scales")]
    daily_scale: [u16; DAILY_BUCKETS],
    #[serde(with = "array", default = "no_weekly_scales")]
    weekly_scale: [u16; WEEKLY_BUCKETS],
}

fn no_daily_scales() -> [u16; DAILY_BUCKETS] {
    [0; DAILY_BUCKETS]
}

fn no_weekly_scales() -> [u16; WEEKLY_BUCKETS] {
    [0; WEEKLY_BUCKETS]
}

impl From<WholeSeries> for StoredSeries {
    fn from(whole: WholeSeries) -> StoredSeries {
        let daily: [Bucket; DAILY_BUCKETS] = std::array::from_fn(|i| whole.daily()[i]);
        let weekly: [Bucket; WEEKLY_BUCKETS] = std::array::from_fn(|i| whole.weekly()[i]);
        let SeriesState {
            first_at,
            last_at,
            last_value,
            step_ms,
            resolution,
            range_hi,
            range_lo,
            n,
            rate_n,
            models,
            exceed_rate,
            exceed_bits,
            season,
            raised,
            recent_z,
            drift_rate,
            anomalous_run,
            normal_run,
            peak,
            record,
            trend,
            saturation,
        } = whole.state;
        StoredSeries {
            first_at,
            last_at,
            last_value,
            step_ms,
            resolution,
            range_hi,
            range_lo,
            n,
            rate_n,
            models,
            exceed_rate,
            exceed_bits,
            season,
            raised,
            recent_z,
            drift_rate,
            anomalous_run,
            normal_run,
            peak,
            record,
            trend,
            saturation,
            daily: daily.map(|b| b.offset()),
            daily_seen: daily.map(|b| b.seen),
            daily_disagree: daily.map(|b| b.disagree),
            weekly: weekly.map(|b| b.offset()),
            weekly_seen: weekly.map(|b| b.seen),
            weekly_disagree: weekly.map(|b| b.disagree),
            daily_scale: daily.map(|b| u16::from_ne_bytes(b.scale)),
            weekly_scale: weekly.map(|b| u16::from_ne_bytes(b.scale)),
        }
    }
}

impl From<StoredSeries> for WholeSeries {
    fn from(s: StoredSeries) -> WholeSeries {
        let bucket = |offset: f32, seen: u8, disagree: u8, scale: u16| {
            let mut b = Bucket { offset: [0; 4], seen, disagree, scale: scale.to_ne_bytes() };
            b.set_offset(offset);
            b
        };
        let buckets = std::array::from_fn(|i| match i.checked_sub(DAILY_BUCKETS) {
            None => bucket(s.daily[i], s.daily_seen[i], s.daily_disagree[i], s.daily_scale[i]),
            Some(i) => bucket(s.weekly[i], s.weekly_seen[i], s.weekly_disagree[i], s.weekly_scale[i]),
        });
        let state = SeriesState {
            first_at: s.first_at,
            last_at: s.last_at,
            last_value: s.last_value,
            step_ms: s.step_ms,
            resolution: s.resolution,
            range_hi: s.range_hi,
            range_lo: s.range_lo,
            n: s.n,
            rate_n: s.rate_n,
            models: s.models,
            exceed_rate: s.exceed_rate,
            exceed_bits: s.exceed_bits,
            season: s.season,
            raised: s.raised,
            recent_z: s.recent_z,
            drift_rate: s.drift_rate,
            anomalous_run: s.anomalous_run,
            normal_run: s.normal_run,
            peak: s.peak,
            record: s.record,
            trend: s.trend,
            saturation: s.saturation,
        };
        WholeSeries { state, buckets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detect::{DetectConfig, Detector};
    use crate::model::Timestamp;

    /// A series with both seasons learning: a daily swing over nine days at 5 minutes.
    fn learned() -> WholeSeries {
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..9 * 288 {
            let hour = (i / 12 % 24) as f64;
            d.sample(1, Timestamp(1_772_409_600_000 + i * 300_000), 50.0 + 20.0 * (hour / 4.0).sin());
        }
        d.series.whole(1).expect("a series")
    }

    #[test]
    fn a_state_is_written_with_the_fields_and_arrays_snapshots_always_had() {
        let state = learned();
        let json = serde_json::to_string(&state).unwrap();
        let keys = [
            "first_at",
            "last_at",
            "last_value",
            "step_ms",
            "resolution",
            "range_hi",
            "range_lo",
            "n",
            "rate_n",
            "models",
            "exceed_rate",
            "exceed_bits",
            "season",
            "raised",
            "recent_z",
            "drift_rate",
            "anomalous_run",
            "normal_run",
            "peak",
            "record",
            "trend",
            "saturation",
            "daily",
            "daily_seen",
            "daily_disagree",
            "weekly",
            "weekly_seen",
            "weekly_disagree",
            "daily_scale",
            "weekly_scale",
        ];
        let at: Vec<usize> = keys.iter().map(|k| json.find(&format!("\"{k}\":")).expect(k)).collect();
        assert!(at.is_sorted(), "the fields in their historical order: {json}");
        let stored = StoredSeries::from(state.clone());
        for (buckets, offsets, seen, disagree, scale) in [
            (
                state.daily(),
                &stored.daily[..],
                &stored.daily_seen[..],
                &stored.daily_disagree[..],
                &stored.daily_scale[..],
            ),
            (
                state.weekly(),
                &stored.weekly[..],
                &stored.weekly_seen[..],
                &stored.weekly_disagree[..],
                &stored.weekly_scale[..],
            ),
        ] {
            for (i, b) in buckets.iter().enumerate() {
                assert_eq!(
                    (b.offset().to_bits(), b.seen, b.disagree, u16::from_ne_bytes(b.scale)),
                    (offsets[i].to_bits(), seen[i], disagree[i], scale[i])
                );
            }
        }
        assert!(
            state.daily().iter().all(|b| b.seen > 0 && b.scale() > 0.0) && state.weekly().iter().any(|b| b.seen > 0),
            "seasons learned"
        );
        let back: WholeSeries = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json, "read back bit for bit");
    }
}
