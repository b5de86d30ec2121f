//! Anomaly detection: a streaming, causal baseline per series, with seasons, level shifts,
//! trend-to-limit forecasts and sustained saturation.
//!
//! Every sample is judged against what the series' past (never its future) predicts:
//! - **Three candidate baselines** learn side by side: a flat level, a level plus 24 hour-of-day
//!   offsets, and a level plus 7×24 hour-of-week offsets (Holt-Winters style, UTC hours). A season
//!   is used only after `season_min_cycles` whole cycles, and only while it explains the series
//!   better than no season (its error over the last two cycles is `season_min_gain` lower), so
//!   short or patternless series are judged against the flat level. A bucket whose first sample
//!   looks like a spike waits for a second opinion, and one that keeps disagreeing with the flat
//!   level for three visits starts over.
//! - **Robust statistics**: the scale is an average absolute one-step error; updates are clipped
//!   (Huber) and out-of-band samples teach nothing, so outliers in a series' own history neither
//!   drag its level nor inflate its scale. Each seasonal bucket learns its hour's own scale
//!   beside its offset, and a season judges an hour by no narrower a scale than that hour's,
//!   once it learned from `warmup_samples` samples: a series noisier by day than by night is not
//!   anomalous at the first samples of its busy hours, which the level's scale (following the
//!   last hours) would judge by the night's.
//! - **Level shifts**: out-of-band samples on one side for `shift_after` (and at least
//!   `shift_samples` of them) confirm a shift: the level jumps by their mean error, but no
//!   further than a clipped error beyond the one nearest the old level (a burst that opened the
//!   run is not where the series settled; a season keeps its shape), and the anomaly clears
//!   instead of alarming as long as the new level lasts. A later return to the level before the
//!   shift (the end of a saturation) is a return, not news.
//! - **Trend to a limit** for the metrics named in `limits`, and to each saturation ceiling
//!   (`saturation`, its `forecast` horizon): a resistant line (Tukey's, through
//!   the medians of the outer thirds) over the last [`TREND_SAMPLES`] samples, extrapolated to
//!   the limit: within the horizon, a [`Detection::Forecast`] with the time left ("full in 47m").
//!   Which way the series approaches its limit is fixed when its trend starts (configured, else
//!   from the metric's name, else the side of its first sample): a series back from past its
//!   limit has recovered, it has not "reached" it.
//! - **Sustained saturation** (the USE method) for the metrics named in `saturation`: every
//!   sample at or above the ceiling `at` for `for` (data time) is a [`Detection::Saturated`]
//!   whatever the baseline says (a CPU that often ran at 0.8 has a baseline that finds 1.0
//!   unremarkable; a pinned CPU is news anyway). A sample below starts the wait over; it clears
//!   after `clear_after` samples below.
//!
//! Scores: a sample is as surprising as it is improbable, `S = -log10(p)`, for the least probable
//! of (a) an error this large: under a normal distribution (`2·Q(z)` for `z` robust deviations),
//! or, where the series went this far out of band before, at the rate it did (a series' own
//! outliers are its normal: a spiky series is not anomalous for spiking); (b) the episodes out of
//! band (runs, each counted once) among its latest 16 samples, under a binomial at that rate (at
//! least 1/1000): spikes that bunch up are news where lone spikes are not; (c) the *drift*:
//! the mean of the latest 3 errors (each clipped at the band's edge), at the rate this series'
//! drifts reached that far before where that is higher. A level shift or a stall that stays
//! just inside a band widening with it (each such error teaches the scale) is missed by (a) and
//! (b) sample after sample; three samples leaning the same way are not. The score is
//! `1 - exp(-sqrt(S / S_t))`, with `S_t` that of a lone normal error at `threshold` deviations:
//! 0.63 at the threshold and, in a calm series, about `1 - exp(-z / threshold)`.
//!
//! Beside the band, a scale-free second view, the *record*: how far a sample goes beyond every
//! value its series had (`novelty`, a fraction of the range), once the series has been seen for
//! a day (before, every day's peak hour is a record). A record is news whatever the
//! distribution of the errors (heavy tails and spikes make a band wide; a new extreme is still
//! new), and it says so: [`Record`], [`record_text`] ("new high: 12% above the highest value in
//! 9d"), beside the expected value and band. A sample's score is the higher of the two views.
//!
//! A sample scoring at least 0.63 starts an anomaly; it is raised after `min_consecutive` samples
//! (the first surprising, the rest at least out of band), or at once for a record, a bunch of
//! spikes (the episodes view: several samples agree already) or a score of at least
//! [`AT_ONCE_SCORE`] (near impossible under the series' own history). A drift starts one even
//! on a sample inside the band. It lasts while samples
//! stay out of band, and clears after `clear_after` samples back in band. Its score is the
//! highest of its samples'. [`anomaly_scores`], what the NAB evaluation scores, is exactly this
//! signal: a score when an anomaly is raised or its score goes up, 0 otherwise. An anomaly raised
//! at once on one sample (a record or a near-impossible sample, not a bunch) is *lone*: one
//! sample cannot tell a fault from a blip (a GC pause, a slow scrape), so the engine lets a lone
//! anomaly join a problem but not open one on its own until its series stays out of band for
//! `min_consecutive` samples in a row (the `run` each verdict reports) or something else
//! corroborates it (see `Engine::fire_lone` in [`crate::engine`]).
//!
//! Memory per series, on 64-bit targets (asserted in the tests): [`SERIES_STATE_BYTES`] = 1,912
//! bytes of state (24 + 168 seasonal offsets as `f32` with a seen and a disagree counter and the
//! hour's scale as half an `f32` each: 1,536; three candidate levels with their error
//! statistics: 192; the range: 16; the record of the anomaly under way: 24; the drift's latest
//! errors and rates: 20; the rest: 124), kept side by side with the other series' in chunks of
//! 64, the seasonal buckets apart from the rest, by hour (see `states`), plus its id beside it
//! (16 bytes) and its entry in the detector's index (about 17 bytes at full load); a series
//! whose metric has a limit adds [`TREND_STATE_BYTES`] = 536 (its last 32 samples), one with a
//! ceiling [`SATURATION_STATE_BYTES`] = 40. Every buffer has a fixed size: nothing grows with time or
//! with the number of samples.

use super::rca::{worse_direction, Worse};
use super::snapshot::codec::{array, exact_f64, exact_f64_array, human_duration, sorted_pairs};
use super::FastMap;
use crate::config::HumanDuration;
use crate::model::{Baseline, Timestamp};
use serde::{Deserialize, Serialize};
use states::SeriesStates;
use std::cell::Cell;
use stored::StoredSeries;

mod states;
mod stored;

/// Detector tunables: `[engine.detect]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Samples a series must see before it may be judged.
    pub warmup_samples: u32,
    /// Distance from the expected value, in robust standard deviations, that is out of band; a
    /// lone sample this far out in a calm series scores 0.63, the least score of an anomaly.
    #[serde(with = "exact_f64")]
    pub threshold: f64,
    /// Consecutive anomalous samples before an anomaly is raised.
    pub min_consecutive: u32,
    /// Consecutive samples back in band before an anomaly is cleared.
    pub clear_after: u32,
    /// Weight of a new sample in the level and the scale, in (0, 1].
    #[serde(with = "exact_f64")]
    pub alpha: f64,
    /// Smallest deviation considered, as a fraction of |expected| (flat series are not anomalous
    /// on a rounding error). Not applied while a series has never moved (an availability stuck
    /// at 100 %): there, any move is news, and only the series' resolution is a floor.
    #[serde(with = "exact_f64")]
    pub min_relative_deviation: f64,
    /// Whole cycles (days, weeks) a series must have been seen before its season is used.
    pub season_min_cycles: u32,
    /// Weight of one cycle's samples in a seasonal offset, in (0, 1]: 0.3 remembers about the
    /// last three cycles.
    #[serde(with = "exact_f64")]
    pub season_alpha: f64,
    /// A season is used only if its error is at least this fraction lower than without it, in
    /// [0, 1).
    #[serde(with = "exact_f64")]
    pub season_min_gain: f64,
    /// A level shift is confirmed by out-of-band samples on the same side lasting this long
    /// (data time)...
    #[serde(serialize_with = "human_duration")]
    pub shift_after: HumanDuration,
    /// ...and at least this many of them in a row (1 to [`MAX_SHIFT_SAMPLES`]).
    pub shift_samples: u32,
    /// Trend-to-limit forecasts, by metric name (default: see [`default_limits`]). Configured
    /// limits replace the default list. Every saturation ceiling below is forecast too (see
    /// [`SaturationConfig::forecast`] and [`DetectConfig::forecast_limits`]), unless a limit here
    /// names its metric.
    pub limits: Vec<LimitConfig>,
    /// Sustained saturation, by metric name: a utilisation at or above its ceiling for a while is
    /// news whatever its baseline says (default: see [`default_saturation`]). Configured entries
    /// replace the default list.
    pub saturation: Vec<SaturationConfig>,
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
            season_min_cycles: 2,
            season_alpha: 0.3,
            season_min_gain: 0.2,
            shift_after: HumanDuration::from_millis(HOUR_MS),
            shift_samples: 12,
            limits: default_limits(),
            saturation: default_saturation(),
        }
    }
}

/// The default `[[engine.detect.limits]]` list: `filesystem_free_ratio` reaching 0 within 2 h.
/// The saturation ceilings are forecast beside it ([`DetectConfig::forecast_limits`]).
pub fn default_limits() -> Vec<LimitConfig> {
    vec![LimitConfig {
        metric: "filesystem_free_ratio".to_string(),
        limit: 0.0,
        horizon: HumanDuration::from_millis(2 * HOUR_MS),
        direction: None,
    }]
}

/// How far ahead a utilisation's climb to its ceiling is forecast by default: an hour, so that
/// a daily swing of load (hours from trough to peak) is not a climb to the ceiling.
pub const CEILING_HORIZON_MS: i64 = HOUR_MS;

fn ceiling_horizon() -> HumanDuration {
    HumanDuration::from_millis(CEILING_HORIZON_MS)
}

impl DetectConfig {
    /// Every trend forecast the detector runs: `limits`, then each saturation ceiling with a
    /// `forecast` horizon whose metric no limit names (rising to `at`). A baseline follows a
    /// steady climb (its band widens with the lag), so a leak or a filling disk raises no anomaly
    /// on the way; where it is headed is news before it gets there, and an early signal on the
    /// entity that will saturate places its trouble before the symptoms it causes.
    pub fn forecast_limits(&self) -> Vec<LimitConfig> {
        let ceilings = self
            .saturation
            .iter()
            .filter(|s| s.forecast.millis() > 0 && !self.limits.iter().any(|l| l.metric == s.metric))
            .map(|s| LimitConfig {
                metric: s.metric.clone(),
                limit: s.at,
                horizon: s.forecast,
                direction: Some(Direction::Rising),
            });
        self.limits.iter().cloned().chain(ceilings).collect()
    }
}

/// The default `[[engine.detect.saturation]]` list, for the utilisations the sources and the
/// scenarios name (ratios from 0 to 1): `cpu_utilisation` at 95 % for 1 minute (a host or
/// container pinned at its ceiling: requests queue at once), `memory_utilisation` and
/// `disk_utilisation` at 95 % for 2 minutes (memory and disks fill and drain more slowly, and a
/// short peak of page cache or a flush is not yet a fault).
pub fn default_saturation() -> Vec<SaturationConfig> {
    let entry = |metric: &str, minutes: i64| SaturationConfig {
        metric: metric.to_string(),
        at: 0.95,
        sustained: HumanDuration::from_millis(minutes * 60_000),
        forecast: ceiling_horizon(),
    };
    vec![entry("cpu_utilisation", 1), entry("memory_utilisation", 2), entry("disk_utilisation", 2)]
}

/// `[[engine.detect.limits]]`: warn when a metric's trend reaches `limit` within `horizon`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Metric name, exactly as the sources name it (`filesystem_free_ratio`).
    pub metric: String,
    /// The value the metric must not reach, in the metric's unit (0 for a free ratio).
    #[serde(with = "exact_f64")]
    pub limit: f64,
    /// How far ahead to look.
    #[serde(serialize_with = "human_duration")]
    pub horizon: HumanDuration,
    /// Which way the metric moves toward its limit. Left out: from the metric's name (free,
    /// available, idle fall; utilisation, usage, errors rise: [`worse_direction`]), else from
    /// the side of the limit the series' first sample is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
}

/// The way a metric moves toward its limit: the limit is reached at or below it (`falling`)
/// or at or above it (`rising`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Free space draining to 0: reached at or below the limit.
    Falling,
    /// A utilisation climbing to 1: reached at or above the limit.
    Rising,
}

impl LimitConfig {
    /// The configured direction, else the one the metric's name says, else `None`: the series
    /// then approaches the limit from the side its first sample is on.
    pub fn direction(&self) -> Option<Direction> {
        self.direction.or(match worse_direction(&self.metric) {
            Worse::Down => Some(Direction::Falling),
            Worse::Up => Some(Direction::Rising),
            Worse::Either => None,
        })
    }
}

/// `[[engine.detect.saturation]]`: a series of `metric` that stays at or above `at` for `for`
/// (data time, every sample in that span) is saturated, whatever its baseline says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaturationConfig {
    /// Metric name, exactly as the sources name it (`cpu_utilisation`).
    pub metric: String,
    /// The ceiling, in the metric's unit (0.95 for a utilisation given as a ratio).
    #[serde(with = "exact_f64")]
    pub at: f64,
    /// How long every sample must stay at or above `at`: `for` in the configuration.
    #[serde(rename = "for", serialize_with = "human_duration")]
    pub sustained: HumanDuration,
    /// How far ahead a climb to the ceiling is forecast ("reaches 0.95 in 40m"; default 1 h,
    /// `"0s"`: not forecast). A limit in `[[engine.detect.limits]]` for the same metric replaces
    /// this forecast.
    #[serde(default = "ceiling_horizon", serialize_with = "human_duration")]
    pub forecast: HumanDuration,
}

/// What one sample meant for one judgement of its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detection {
    /// Nothing to report.
    Normal,
    /// The series is (still) anomalous: raise or repeat its anomaly. `baseline` is what was
    /// expected at this time (seasonal where a season is in use) and the band around it;
    /// `record`, the record the anomaly set beyond every value its series had, if it did.
    /// `lone`: raised at once on this one sample, with nothing else on the series agreeing yet
    /// (no second sample out of band, no bunch of spikes): evidence, but possibly a blip (a GC
    /// pause, a slow scrape). The engine lets a lone anomaly join a problem but open one only
    /// when something else corroborates it; the repeats of the same anomaly are not lone.
    /// A drift raised with fewer samples out of band in a row than `min_consecutive` is lone
    /// too. `run`: the samples out of band in a row, this one included (0 for a drift within
    /// the band, 1 after a sample back in band): persistence, what corroborates a lone anomaly
    /// on its own series.
    Anomalous { score: f64, value: f64, baseline: Baseline, record: Option<Record>, lone: bool, run: u32 },
    /// The series' trend reaches its configured `limit` in `eta_ms` milliseconds of data time
    /// (0: already there), within its horizon: raise or repeat the forecast. `score` is 0.5 at
    /// the horizon and 1 at the limit.
    Forecast { score: f64, value: f64, limit: f64, eta_ms: i64 },
    /// The series has stayed at or above its configured ceiling `threshold` for `lasted_ms`
    /// milliseconds of data time, at least the configured `for`: raise or repeat the saturation.
    /// `baseline` is what the series' baseline expected, once it is warm (`None` before).
    Saturated { value: f64, threshold: f64, lasted_ms: i64, baseline: Option<Baseline> },
    /// Back in band (or the forecast is beyond the horizon again, or the series is back below
    /// its ceiling): clear.
    Cleared { value: f64 },
}

/// A new high or low: a sample beyond every value its series had (the record view).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// A new high (else a new low).
    pub high: bool,
    /// The highest (for a new high) or lowest value the series had before.
    #[serde(with = "exact_f64")]
    pub previous: f64,
    /// How long the series had been watched when it set the record, ms of data time.
    pub over_ms: i64,
}

/// The judgements of one sample: its deviation from the baseline, (for a metric with a limit)
/// its trend, and (for a metric with a ceiling) whether it is saturated. `forecast` and
/// `saturation` are [`Detection::Normal`] for series without a limit or a ceiling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub anomaly: Detection,
    pub forecast: Detection,
    pub saturation: Detection,
}

impl Verdict {
    const NORMAL: Verdict =
        Verdict { anomaly: Detection::Normal, forecast: Detection::Normal, saturation: Detection::Normal };
}

/// Which baseline a series is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Season {
    /// A flat (slowly moving) level.
    None,
    /// A level plus an offset per hour of the day (UTC).
    Daily,
    /// A level plus an offset per hour of the week (UTC, Monday 00:00 first).
    Weekly,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
const DAILY_BUCKETS: usize = 24;
const WEEKLY_BUCKETS: usize = 168;
/// A series' seasonal buckets: the daily ones, then the weekly ones.
const SEASON_BUCKETS: usize = DAILY_BUCKETS + WEEKLY_BUCKETS;
/// Upper bound of `shift_samples`.
pub const MAX_SHIFT_SAMPLES: u32 = 1000;
/// Samples the trend line of a metric with a limit is fitted through.
pub const TREND_SAMPLES: usize = 32;
/// Mean absolute deviation of a normal distribution is σ·sqrt(2/π); this turns it back into σ.
const MAD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;
/// Errors are clipped at this many scales before they teach the baseline (Huber).
const CLIP: f64 = 2.5;
/// Errors compared for the model choice are capped at this many times `threshold` scales.
const FIT_CAP: f64 = 5.0;
/// A change of one step of a series' resolution is at most this many scales.
const RESOLUTION_STEPS: f64 = 8.0;
/// The scale is widened by `sqrt(1 + YOUNG_SAMPLES / n)` after n samples.
const YOUNG_SAMPLES: f64 = 10.0;
/// Out-of-band samples in a row (of the flat level) that make a move rather than a spike.
const PERSIST: u32 = 3;
/// Out-of-band levels whose rates are kept: threshold × 1, 2, 4 ... 32.
const LEVELS: usize = 6;
/// Latest samples in which episodes out of band are counted.
const WINDOW: u32 = 16;
/// The 15 samples before the latest.
const WINDOW_MASK: u16 = 0x7fff;
/// Out-of-band rates start as if this many samples had been in band...
const RATE_PRIOR: f32 = 200.0;
/// ...and remember about this many samples.
const RATE_MEMORY: f32 = 4000.0;
/// log10 of the least out-of-band rate episodes are judged with.
const EPISODE_RATE_FLOOR: f64 = -3.0;
/// Latest errors whose mean the drift view judges. Chosen on the 41 NAB files (the README gives
/// the neighbouring settings' scores).
const DRIFT_SAMPLES: usize = 3;
/// Drift levels whose rates are kept: threshold × 1 and × 1.5 (with errors clipped at the
/// threshold, the drift of 3 samples is at most √3 thresholds).
const DRIFT_LEVELS: usize = 2;
/// A record beyond a series' range by this fraction of the range scores 0.63 ([`novelty`]).
/// Chosen on the 41 NAB files: 0.005 to 0.05 all score within 3 points of each other.
const RECORD_SCALE: f64 = 0.01;
/// A record scoring at least this (one `RECORD_SCALE` beyond the range) is surprising.
const RECORD_SURPRISE: f64 = 0.632_120_558_828_557_7;
/// A surprising sample scoring at least this (the engine's `Major` severity) raises its anomaly
/// at once; a lesser one waits for `min_consecutive` samples.
pub const AT_ONCE_SCORE: f64 = 0.9;
/// Cap of `S = -log10(p)`: beyond 1e-300, all samples are equally impossible.
const MAX_SURPRISE: f64 = 300.0;

/// Bytes of state per series (without its map slot and without a trend): see the tests. Its
/// seasonal buckets are kept apart from the rest (see `states`), counted here.
pub const SERIES_STATE_BYTES: usize =
    std::mem::size_of::<SeriesState>() + SEASON_BUCKETS * std::mem::size_of::<Bucket>();
/// Extra bytes for a series whose metric has a configured limit.
pub const TREND_STATE_BYTES: usize = std::mem::size_of::<TrendState>();
/// Extra bytes for a series whose metric has a configured ceiling.
pub const SATURATION_STATE_BYTES: usize = std::mem::size_of::<SaturationState>();

/// One candidate baseline: a level and its error statistics.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Model {
    #[serde(with = "exact_f64")]
    level: f64,
    /// Average clipped absolute one-step error (weight `alpha`): the scale.
    #[serde(with = "exact_f64")]
    err: f64,
    /// Average clipped absolute error over about two cycles of its season (model choice)...
    #[serde(with = "exact_f64")]
    fit: f64,
    /// ...and the flat level's over the same samples.
    #[serde(with = "exact_f64")]
    flat_fit: f64,
    /// Consecutive out-of-band samples (by this model) on one side: + above, − below.
    run: i32,
    /// The error of theirs nearest the level (the smallest on their side): how far the series
    /// went at the least during the run (0: none, as in a snapshot written before it was kept).
    #[serde(default)]
    run_nearest: f32,
    /// Sum of their errors.
    #[serde(with = "exact_f64")]
    run_sum: f64,
    /// When the run began (ms).
    run_since: i64,
    /// The level before the latest shift (NaN: none).
    #[serde(with = "exact_f64")]
    before_shift: f64,
}

/// A series' state but its seasons, laid out in the order a sample reads it (`repr(C)`:
/// declaration order): the scalars, the models and the anomaly's state (six cache lines, read as
/// one stretch). A series' state comes from main memory once per sample: one stretch that the
/// processor prefetches costs less than lines scattered over it. Its seasonal buckets are kept
/// apart, by hour then series ([`SeasonsMut`], `states`): the one bucket of each season a
/// sample reads sits beside the same hour's bucket of the series judged next, instead of a line
/// of its own half a kilobyte into the state (that line, read nowhere else, was the detector's
/// costliest miss). Snapshots write the state and its seasons together ([`WholeSeries`]).
#[derive(Debug, Clone)]
#[repr(C)]
struct SeriesState {
    first_at: i64,
    last_at: i64,
    last_value: f64,
    /// Typical time between samples, ms (a slow average, gaps capped at one hour).
    step_ms: f64,
    /// The smallest change between consecutive samples seen (0: none yet): a deviation of one
    /// step of a series' own resolution is never far out.
    resolution: f64,
    /// The highest and lowest values seen (the range a record is measured against; NaN in a
    /// snapshot written before they were kept: learned again from the next sample).
    range_hi: f64,
    range_lo: f64,
    n: u32,
    rate_n: u32,
    /// Flat, daily, weekly.
    models: [Model; 3],
    /// How often the series went out of band at each level (threshold × 2^k): a slow average
    /// over the samples since the last change of season (`rate_n`).
    exceed_rate: [f32; LEVELS],
    /// Which of the latest 16 samples were out of band at each level (bit 0: the latest).
    exceed_bits: [u16; LEVELS],
    season: Season,
    raised: bool,
    /// The latest errors in robust deviations, signed and clipped at `threshold` (the drift
    /// view; slot `rate_n % DRIFT_SAMPLES` is the latest).
    recent_z: [f32; DRIFT_SAMPLES],
    /// How often their drift reached threshold × 1 and × 1.5: a slow average over the same
    /// samples as `exceed_rate`.
    drift_rate: [f32; DRIFT_LEVELS],
    /// Consecutive anomalous samples (the first surprising, the others out of band).
    anomalous_run: u32,
    /// Consecutive samples in band.
    normal_run: u32,
    /// The highest score of the anomaly under way: its score.
    peak: f64,
    /// The record the anomaly under way set, if it set one (for its explanation).
    record: Option<Record>,
    trend: Option<Box<TrendState>>,
    saturation: Option<Box<SaturationState>>,
}

/// A series' whole state, its seasons beside the rest: what a snapshot writes (as
/// [`StoredSeries`], each season as three arrays, by name) and [`Detector::state`] copies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "StoredSeries", into = "StoredSeries")]
struct WholeSeries {
    state: SeriesState,
    /// The daily season (an offset per hour of the day, with its counters), then the weekly one
    /// (per hour of the week).
    buckets: [Bucket; SEASON_BUCKETS],
}

impl WholeSeries {
    fn new(state: SeriesState) -> WholeSeries {
        WholeSeries { state, buckets: [Bucket::default(); SEASON_BUCKETS] }
    }

    fn daily(&self) -> &[Bucket] {
        &self.buckets[..DAILY_BUCKETS]
    }

    fn weekly(&self) -> &[Bucket] {
        &self.buckets[DAILY_BUCKETS..]
    }

    /// [`SeriesState::judge`] on this copy.
    #[cfg(test)]
    fn judge(&mut self, c: &DetectConfig, at: i64, value: f64) -> Option<Judgement> {
        let seasons = SeasonsMut { buckets: &mut self.buckets, stride: 1, at: 0 };
        self.state.judge(c, seasons, at, value)
    }
}

/// One series' seasonal buckets where they are kept: bucket `b` (the daily ones, then the
/// weekly ones) at `b * stride + at` in `buckets`.
struct SeasonsMut<'a> {
    buckets: &'a mut [Bucket],
    stride: usize,
    at: usize,
}

impl<'a> SeasonsMut<'a> {
    /// Daily bucket `d` and weekly bucket `w`.
    fn pair(self, d: usize, w: usize) -> [&'a mut Bucket; 2] {
        let (daily, weekly) = self.buckets.split_at_mut(DAILY_BUCKETS * self.stride);
        [&mut daily[d * self.stride + self.at], &mut weekly[w * self.stride + self.at]]
    }
}

/// One seasonal bucket: its offset from the level, its counters and its hour's scale side by
/// side (8 bytes, no padding), so that a sample reads one place of each season, not three (the
/// offsets and each counter in arrays of their own were three lines a season). Snapshots keep
/// writing an array per field ([`StoredSeries`]).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Bucket {
    /// The offset, as the bytes of an `f32` (native order): the same bits read back.
    offset: [u8; 4],
    /// Samples the bucket has learned from (saturating).
    seen: u8,
    /// Samples in a row the flat level found normal and the season did not.
    disagree: u8,
    /// The average clipped absolute error of this hour's samples, the top half of an `f32`'s
    /// bits (0: none yet): the season's scale at this hour.
    scale: [u8; 2],
}

impl Bucket {
    fn offset(&self) -> f32 {
        f32::from_ne_bytes(self.offset)
    }

    fn set_offset(&mut self, offset: f32) {
        self.offset = offset.to_ne_bytes();
    }

    /// The hour's scale (0: none yet).
    fn scale(&self) -> f64 {
        f64::from(f32::from_bits(u32::from(u16::from_ne_bytes(self.scale)) << 16))
    }

    /// The hour's scale once it learned from `warmup_samples` samples (capped at the counter's
    /// 255), else 0.
    fn hour_scale(&self, c: &DetectConfig) -> f64 {
        if u32::from(self.seen) >= c.warmup_samples.min(u32::from(u8::MAX)) {
            self.scale()
        } else {
            0.0
        }
    }

    /// Keeps `scale` (>= 0) as the top half of its `f32` bits, rounded to the nearest (a
    /// positive scale never to 0, which means none: 2 significant digits are plenty for a band).
    fn set_scale(&mut self, scale: f64) {
        let bits = (scale as f32).to_bits();
        let half = (bits.saturating_add(0x8000) >> 16) as u16;
        self.scale = half.max(u16::from(scale > 0.0)).to_ne_bytes();
    }
}

/// The last samples of a metric with a limit, and its forecast's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendState {
    #[serde(with = "exact_f64")]
    limit: f64,
    horizon_ms: i64,
    /// The limit is reached at or below it (free space draining), else at or above it: fixed
    /// when the trend starts (see [`LimitConfig::direction`]), never re-read from the window.
    falling: bool,
    #[serde(with = "array")]
    at: [i64; TREND_SAMPLES],
    #[serde(with = "exact_f64_array")]
    value: [f64; TREND_SAMPLES],
    len: u8,
    head: u8,
    raised: bool,
    normal_run: u32,
}

/// A metric with a ceiling: how long the series has been at or above it, and its signal's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaturationState {
    /// The ceiling (the configuration's `at`).
    #[serde(with = "exact_f64")]
    threshold: f64,
    /// How long every sample must stay at or above it (the configuration's `for`), ms.
    for_ms: i64,
    /// When the current run of samples at or above the ceiling began (ms; `None`: below it).
    since: Option<i64>,
    raised: bool,
    /// Consecutive samples below the ceiling since it was raised.
    normal_run: u32,
}

/// A sample's score in [0, 1], or what it is computed from where it is seldom needed.
///
/// A sample in band whose latest samples do not drift (most samples) can neither start nor
/// continue an anomaly: its score counts only if the sample also sets a record (the higher of the
/// two views). Its tail probability and
/// score (an `erfc`, a `log10`, an `exp` and a `sqrt`) were a tenth of the detector's time for
/// nothing; [`Score::value`] computes them, when asked, by the same expressions in the same
/// order as [`SeriesState::surprise`] does for a sample out of band: the same bits.
#[derive(Debug, Clone, Copy)]
enum Score {
    Known(f64),
    /// In band, `z` robust deviations from the baseline (below `threshold`), with no drift
    /// surprising enough to start an anomaly: the score of a lone error this large under a
    /// normal distribution, or of the drift where that is less probable.
    InBand {
        z: f64,
        /// The drift view's log10 probability (0: no drift worth judging).
        drifting: f64,
    },
}

impl Score {
    fn value(self, c: &DetectConfig) -> f64 {
        match self {
            Score::Known(score) => score,
            Score::InBand { z, drifting } => surprise_score(c, log10_tail(z), 0.0, drifting).1,
        }
    }
}

/// The surprise `S = -log10(p)` of the least probable of a lone error (`single`, log10 of its
/// probability), the episodes out of band (`episodes`, likewise) and the drift (`drifting`),
/// and the score it makes.
fn surprise_score(c: &DetectConfig, single: f64, episodes: f64, drifting: f64) -> (f64, f64) {
    let s_threshold = threshold_surprise(c);
    let s = (-single.min(episodes).min(drifting)).clamp(0.0, MAX_SURPRISE);
    (s, 1.0 - (-(s / s_threshold).sqrt()).exp())
}

/// The surprise of a lone normal error at `threshold` deviations (remembered).
fn threshold_surprise(c: &DetectConfig) -> f64 {
    remembered(&THRESHOLD_SURPRISE, [c.threshold, 0.0], || -log10_tail(c.threshold))
}

/// How one sample compares with its series' baseline.
#[derive(Debug, Clone, Copy)]
struct Judgement {
    score: Score,
    /// Scores at least 0.63: may start an anomaly.
    surprising: bool,
    /// Surprising for the episodes out of band among the latest samples alone (spikes bunching
    /// up): several samples agree already.
    bunched: bool,
    /// At least `threshold` robust deviations out: may continue one.
    out_of_band: bool,
    /// The series had seen `warmup_samples` samples: `baseline` means something.
    warm: bool,
    /// How far the sample goes beyond every value the series had, in [0, 1): the scale-free
    /// second view ([`novelty`]); 0 inside the range.
    novelty: f64,
    /// The record this sample set, where it went beyond the series' range.
    record: Option<Record>,
    baseline: Baseline,
}

impl SeriesState {
    fn new(at: i64, value: f64) -> SeriesState {
        let model = Model {
            level: value,
            err: 0.0,
            fit: 0.0,
            flat_fit: 0.0,
            run: 0,
            run_nearest: 0.0,
            run_sum: 0.0,
            run_since: at,
            before_shift: f64::NAN,
        };
        SeriesState {
            n: 1,
            first_at: at,
            last_at: at,
            last_value: value,
            step_ms: 0.0,
            resolution: 0.0,
            range_hi: value,
            range_lo: value,
            models: [model; 3],
            season: Season::None,
            exceed_rate: [0.0; LEVELS],
            rate_n: 0,
            exceed_bits: [0; LEVELS],
            recent_z: [0.0; DRIFT_SAMPLES],
            drift_rate: [0.0; DRIFT_LEVELS],
            anomalous_run: 0,
            normal_run: 0,
            raised: false,
            peak: 0.0,
            record: None,
            trend: None,
            saturation: None,
        }
    }

    /// Judges `value` at `at` (ms) against the baseline, then learns from it. `None` for a
    /// sample not newer than the last one (a repeat, or out of order: ignored).
    fn judge(&mut self, c: &DetectConfig, seasons: SeasonsMut<'_>, at: i64, value: f64) -> Option<Judgement> {
        if at <= self.last_at {
            return None;
        }
        let dt = at - self.last_at;
        self.last_at = at;
        let gap = dt.min(HOUR_MS) as f64;
        self.step_ms = if self.n == 1 { gap } else { self.step_ms + 0.05 * (gap - self.step_ms) };
        let step = (value - self.last_value).abs();
        self.last_value = value;
        let resolution = self.resolution;

        let hour = at.div_euclid(HOUR_MS);
        let d = hour.rem_euclid(DAILY_BUCKETS as i64) as usize;
        // 1970-01-01 was a Thursday: +72 hours puts Monday 00:00 at bucket 0.
        let w = (hour + 72).rem_euclid(WEEKLY_BUCKETS as i64) as usize;
        let [daily, weekly] = seasons.pair(d, w);
        let offsets = [
            0.0,
            if daily.seen > 0 { f64::from(daily.offset()) } else { 0.0 },
            if weekly.seen > 0 { f64::from(weekly.offset()) } else { 0.0 },
        ];
        let floor = |p: f64| {
            (c.min_relative_deviation * p.abs()).max(resolution / RESOLUTION_STEPS).max(1e-9 * p.abs().max(1.0))
        };
        // A scale learned from few samples is uncertain: wider while the series is young.
        let young = (1.0 + YOUNG_SAMPLES / f64::from(self.n)).sqrt();
        // A model that has never seen an error (a series that never moved: an availability
        // stuck at 100 %) has no noise to hide a move in: only its own resolution is a floor.
        let flat_floor = |p: f64| (resolution / RESOLUTION_STEPS).max(1e-9 * p.abs().max(1.0));
        let sigma_of = |err: f64, p: f64| {
            let floor = if err == 0.0 { flat_floor(p) } else { floor(p) };
            (err * MAD_TO_SIGMA * young).max(floor)
        };

        // Back at the level from before a shift (the end of a saturation): that level again.
        for (m, model) in self.models.iter_mut().enumerate() {
            // No shift to return from (NaN: the test below is false): skip its two bands.
            if model.before_shift.is_nan() {
                continue;
            }
            let before = model.before_shift + offsets[m];
            let now = model.level + offsets[m];
            if (value - before).abs() < c.threshold * sigma_of(model.err, before)
                && (value - now).abs() >= c.threshold * sigma_of(model.err, now)
            {
                model.level = model.before_shift;
                model.before_shift = f64::NAN;
                model.run = 0;
                model.run_sum = 0.0;
            }
        }
        let predicted: [f64; 3] = std::array::from_fn(|m| self.models[m].level + offsets[m]);
        let residual: [f64; 3] = std::array::from_fn(|m| value - predicted[m]);
        // A season judges an hour by no narrower a scale than the hour's own, once its bucket
        // learned from as many samples as a series needs before it is judged: the level's error
        // follows the last hours, and would judge a busy hour's first samples by the night's.
        let hourly = [0.0, daily.hour_scale(c), weekly.hour_scale(c)];
        let sigma: [f64; 3] = std::array::from_fn(|m| sigma_of(self.models[m].err.max(hourly[m]), predicted[m]));

        let a = self.season as usize;
        let z = residual[a] / sigma[a];
        let warm = self.n >= c.warmup_samples;
        // A range is known once the series has been seen for as many days as a daily season
        // needs: before, every day's peak hour above the first day's sets a record.
        let known = at - self.first_at >= i64::from(c.season_min_cycles) * DAY_MS;
        // The band at its narrowest, in deviations: a drift within it is a rounding error.
        let narrowest = c.threshold * floor(predicted[a]) / sigma[a];
        // Drifts are judged once the series is known (before, a daily swing the flat level cannot
        // follow drifts every day), and learned from the start.
        let least_drift = if known { narrowest } else { f64::INFINITY };
        let (score, surprising, bunched) =
            if warm { self.surprise(c, z, least_drift) } else { (Score::Known(0.0), false, false) };
        let band = c.threshold * sigma[a];
        let baseline = Baseline { expected: predicted[a], lower: predicted[a] - band, upper: predicted[a] + band };
        // A new extreme within the band at its narrowest (`threshold` floors: a fraction
        // `min_relative_deviation` of the expected level, or the resolution) is too small to
        // matter, however narrow the range it leaves: the band calls such a move a rounding
        // error, and so does the record view.
        let significant = residual[a].abs() >= c.threshold * floor(predicted[a]);
        let novelty = if warm && known && significant { novelty(value, self.range_lo, self.range_hi) } else { 0.0 };
        let record = (novelty > 0.0).then(|| Record {
            high: value > self.range_hi,
            previous: if value > self.range_hi { self.range_hi } else { self.range_lo },
            over_ms: at - self.first_at,
        });
        // NaN (a snapshot from before the range was kept) loses to any number: learned again.
        self.range_hi = self.range_hi.max(value);
        self.range_lo = self.range_lo.min(value);
        let out_of_band = warm && z.abs() >= c.threshold;
        let judgement = Judgement { score, surprising, bunched, out_of_band, warm, novelty, record, baseline };
        // The resolution (the series' quantisation step) is learned from steps into samples in
        // band only: a jump out of a flat series is not its quantisation, and would otherwise
        // hide the rest of the anomaly under a floor of its own size.
        if step > 0.0 && (resolution == 0.0 || step < resolution) && !judgement.out_of_band {
            self.resolution = step;
        }

        // Each model learns from the samples it finds in band. Out of band on one side long
        // enough is a level shift: the level jumps by the mean error (bounded). Seasons shift
        // only once they may be used: while they learn, a swing they do not know yet is their
        // offsets' business, not their level's.
        let elapsed = at - self.first_at;
        let cycles = i64::from(c.season_min_cycles);
        let may_shift = [true, elapsed >= cycles * DAY_MS, elapsed >= cycles * WEEK_MS];
        let mut teach = [false; 3];
        for (m, model) in self.models.iter_mut().enumerate() {
            let zm = residual[m] / sigma[m];
            let side = match (warm && zm.abs() >= c.threshold, zm > 0.0) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => -1,
            };
            if side == 0 {
                model.run = 0;
                model.run_sum = 0.0;
                teach[m] = true;
            } else if model.run.signum() == side {
                model.run += side;
                model.run_sum += residual[m];
                model.run_nearest = nearer(model.run_nearest, residual[m] as f32);
            } else {
                model.run = side;
                model.run_sum = residual[m];
                model.run_nearest = residual[m] as f32;
                model.run_since = at;
            }
            let lasted = at - model.run_since >= c.shift_after.millis();
            if may_shift[m] && lasted && model.run.unsigned_abs() >= c.shift_samples {
                model.before_shift = model.level;
                // The run's mean error, but no further than a clipped error beyond its nearest:
                // a burst that opened the run (a crash, a restart, then the new level) is not
                // where the series settled, and a later climb to the mean would be taken for a
                // return to it.
                let mean = model.run_sum / f64::from(model.run.unsigned_abs());
                let bound = f64::from(model.run_nearest) + f64::from(side) * CLIP * sigma[m];
                model.level += if side > 0 { mean.min(bound) } else { mean.max(bound) };
                model.run = 0;
                model.run_sum = 0.0;
            }
        }
        // A bucket's first sample: one the flat level finds in band, or one of a lasting move
        // (a seasonal swing), never a lone spike.
        let first_ok = teach[0] || self.models[0].run.unsigned_abs() >= PERSIST;
        self.learn(c, value, dt, [daily, weekly], &residual, &sigma, teach, first_ok);
        self.n = self.n.saturating_add(1);
        self.choose_season(c, at);
        Some(judgement)
    }

    #[allow(clippy::too_many_arguments)]
    fn learn(
        &mut self,
        c: &DetectConfig,
        value: f64,
        dt: i64,
        buckets: [&mut Bucket; 2],
        r: &[f64; 3],
        sigma: &[f64; 3],
        teach: [bool; 3],
        first_ok: bool,
    ) {
        let warming = self.n < c.warmup_samples;
        let alpha = if warming { (1.0 / f64::from(self.n + 1)).max(c.alpha) } else { c.alpha };
        for m in (0..3).filter(|&m| teach[m]) {
            let model = &mut self.models[m];
            model.level += alpha * r[m].clamp(-CLIP * sigma[m], CLIP * sigma[m]);
            model.err += alpha * (r[m].abs().min(CLIP * sigma[m]) - model.err);
        }

        // A bucket learns `season_alpha` per cycle, spread over the samples of one visit (an
        // hour), and plain averages over its first samples.
        let per_visit = (HOUR_MS as f64 / self.step_ms.max(1.0)).max(1.0);
        let gamma =
            remembered(&GAMMA, [c.season_alpha, per_visit], || -((1.0 - c.season_alpha).ln() / per_visit).exp_m1());
        // Three visits' worth of samples in a row that the flat level finds in band and the
        // season does not: the bucket learned something wrong (a spike as its first sample, a
        // pattern that changed for good) and starts over.
        let relearn_after = (3.0 * per_visit).min(255.0) as u8;
        for (i, b) in buckets.into_iter().enumerate() {
            let m = i + 1;
            if b.seen > 0 && teach[0] && !teach[m] {
                b.disagree = b.disagree.saturating_add(1);
                if b.disagree >= relearn_after {
                    b.seen = 0;
                    b.disagree = 0;
                }
            } else if teach[m] {
                b.disagree = 0;
            }
            if b.seen == 0 && !first_ok {
                // Maybe a spike: kept as a candidate, learned if the bucket's next sample agrees.
                let candidate = value - self.models[m].level;
                let offset = f64::from(b.offset());
                if b.disagree > 0 && (candidate - offset).abs() < c.threshold * sigma[0] {
                    b.set_offset((offset + (candidate - offset) / 2.0) as f32);
                    b.seen = 2;
                    b.disagree = 0;
                } else {
                    b.set_offset(candidate as f32);
                    b.disagree = 1;
                }
                continue;
            }
            if b.seen > 0 && !teach[m] {
                continue;
            }
            let old = f64::from(b.offset());
            let target = if b.seen == 0 {
                value - self.models[m].level
            } else {
                old + r[m].clamp(-CLIP * sigma[m], CLIP * sigma[m])
            };
            let g = gamma.max(1.0 / f64::from(b.seen.saturating_add(1)));
            b.set_offset((old + g * (target - old)) as f32);
            // The hour's scale learns as its offset does, from the same clipped errors as the
            // level's.
            let error = r[m].abs().min(CLIP * sigma[m]);
            let scale = b.scale();
            b.set_scale(if scale > 0.0 { scale + g * (error - scale) } else { error });
            b.seen = b.seen.saturating_add(1);
        }

        // Model choice: errors over about two cycles, from the end of the first cycle (the one
        // a season learns from), capped alike for every model (an anomaly that every model
        // misses cannot decide, and a wrong model's misses still weigh).
        let cap = FIT_CAP * c.threshold * sigma[self.season as usize];
        for (m, period) in [(1, DAY_MS), (2, WEEK_MS)] {
            if self.last_at - self.first_at < period {
                continue;
            }
            let x = dt as f64 / (2 * period) as f64;
            // 1 - exp(-x), without a call for the small x of one step.
            let wt = if x < 0.01 { x * (1.0 - x / 2.0) } else { -(-x).exp_m1() };
            let model = &mut self.models[m];
            model.fit += wt * (r[m].abs().min(cap) - model.fit);
            model.flat_fit += wt * (r[0].abs().min(cap) - model.flat_fit);
        }
    }

    /// Picks the baseline: a season once seen for `season_min_cycles` cycles and cutting the
    /// error by `season_min_gain`, kept until it does worse than no season. A change resets the
    /// out-of-band rates, which describe the errors of the baseline in use.
    fn choose_season(&mut self, c: &DetectConfig, at: i64) {
        let seen = at - self.first_at;
        let mut best = (Season::None, f64::INFINITY);
        for (season, m, period) in [(Season::Daily, 1, DAY_MS), (Season::Weekly, 2, WEEK_MS)] {
            let model = &self.models[m];
            if seen < i64::from(c.season_min_cycles) * period || model.flat_fit <= 0.0 {
                continue;
            }
            let ratio = model.fit / model.flat_fit;
            let bar = if self.season == season { 1.0 } else { 1.0 - c.season_min_gain };
            if ratio <= bar && ratio < best.1 {
                best = (season, ratio);
            }
        }
        if best.0 != self.season {
            self.season = best.0;
            self.exceed_rate = [0.0; LEVELS];
            self.exceed_bits = [0; LEVELS];
            self.recent_z = [0.0; DRIFT_SAMPLES];
            self.drift_rate = [0.0; DRIFT_LEVELS];
            self.rate_n = 0;
        }
    }

    /// The score of a sample `z` robust deviations from its baseline (signed: + above), whether
    /// it is surprising enough to start an anomaly, and whether several samples agree already
    /// (it may be raised at once); then records how far out of band it went.
    ///
    /// A sample is as surprising as it is improbable (`S = -log10 p`), taking the least
    /// probable of:
    /// - a lone error this large: under a normal distribution (`2·Q(z)`), or, if the series
    ///   went out of band to this level before, at the rate it did (its history's outliers are
    ///   its normal: a spiky series is not anomalous for spiking);
    /// - the episodes out of band (runs, each counted once) among the latest 16 samples, under a
    ///   binomial at that rate (at least 1/1000, as errors are rarely normal): spikes that
    ///   bunch up are news even where lone spikes are not;
    /// - the drift ([`SeriesState::drift`]): the latest samples leaning the same way, each
    ///   perhaps within the band, together as improbable as this series' history says.
    fn surprise(&mut self, c: &DetectConfig, signed_z: f64, least_drift: f64) -> (Score, bool, bool) {
        let z = signed_z.abs();
        // In band (below the first level, so the loop below would stop at once): not bunched,
        // surprising only for a drift, and the score is computed only if asked (see [`Score`]).
        let in_band = z < c.threshold;
        let (mut single, mut episodes) = (0.0, 0.0f64);
        if !in_band {
            let gauss = log10_tail(z);
            single = gauss;
            let mut level = c.threshold;
            for k in 0..LEVELS {
                if z < level {
                    break;
                }
                let rate = f64::from(self.exceed_rate[k]).log10();
                // Levels go up: the highest one reached counts.
                single = gauss.max(rate).min(0.0);
                let bits = ((self.exceed_bits[k] & WINDOW_MASK) << 1) | 1;
                let count = (bits & !(bits >> 1)).count_ones();
                if count >= 2 {
                    let rate = rate.max(log10_tail(level)).clamp(EPISODE_RATE_FLOOR, 0.0);
                    episodes = episodes.min(log10_binomial_tail(WINDOW, count, rate));
                }
                level *= 2.0;
            }
        }
        let (drifting, drift_reached) = self.drift(c, signed_z, least_drift);
        // Recorded after judging: a sample is not compared with itself.
        let w = 1.0 / (self.rate_n as f32 + RATE_PRIOR).min(RATE_MEMORY);
        self.rate_n = self.rate_n.saturating_add(1);
        let mut level = c.threshold;
        for k in 0..LEVELS {
            let out = z >= level;
            self.exceed_bits[k] = (self.exceed_bits[k] << 1) | u16::from(out);
            self.exceed_rate[k] += w * (f32::from(u8::from(out)) - self.exceed_rate[k]);
            level *= 2.0;
        }
        for (rate, reached) in self.drift_rate.iter_mut().zip(drift_reached) {
            *rate += w * (f32::from(u8::from(reached)) - *rate);
        }
        let s_threshold = threshold_surprise(c);
        // A drift starts an anomaly whether or not this sample is out of band; it is raised as
        // any surprise is, when the next sample is out of band or drifting still (one drift
        // alone is often the whole estate moving a little, as after a deployment or a gap).
        let drifted = -drifting >= s_threshold;
        if in_band && !drifted {
            return (Score::InBand { z, drifting }, false, false);
        }
        let single = if in_band { log10_tail(z) } else { single };
        let (s, score) = surprise_score(c, single, episodes, drifting);
        let out = !in_band;
        (Score::Known(score), s >= s_threshold && (out || drifted), -episodes >= s_threshold && out)
    }

    /// The drift view of the sample `signed_z` robust deviations from its baseline: log10 of how
    /// probable the mean error of the latest [`DRIFT_SAMPLES`] samples (this one included) is,
    /// and which drift levels it reached (recorded by the caller after judging).
    ///
    /// A level shift, a stall or a slow climb can stay just inside the band sample after
    /// sample while the band widens with it (each such error teaches the scale), so neither the
    /// lone-error view nor the episodes view ever fires. Their mean does: errors clipped at
    /// `threshold` (a spike beyond the band is the other views' business, and one huge error
    /// cannot make a drift), summed and divided by `√n`, are one normal deviate for errors that
    /// are independent. Errors are rarely that, so as for lone errors, the series' own history
    /// decides: the drift is as probable as the rate at which its drifts reached the same level
    /// before, where that is higher. It counts only on the side this sample leans, with this
    /// sample at least half a threshold out (a drift that is ending is no news), and a mean error
    /// of at least `least` deviations (the band's narrowest: a smaller drift is a rounding error).
    fn drift(&mut self, c: &DetectConfig, signed_z: f64, least: f64) -> (f64, [bool; DRIFT_LEVELS]) {
        let slot = self.rate_n as usize % DRIFT_SAMPLES;
        let latest = signed_z.clamp(-c.threshold, c.threshold) as f32;
        // The errors summed are read before the latest is written, not after: a read of the
        // slots around one just written waits for the write to land (a tenth of `judge`).
        let recent: [f32; DRIFT_SAMPLES] = std::array::from_fn(|i| if i == slot { latest } else { self.recent_z[i] });
        self.recent_z[slot] = latest;
        let mut reached = [false; DRIFT_LEVELS];
        if (self.rate_n as usize) < DRIFT_SAMPLES {
            return (0.0, reached);
        }
        let sum: f64 = recent.iter().map(|&x| f64::from(x)).sum();
        let drift = sum / (DRIFT_SAMPLES as f64).sqrt();
        let leaning = drift * signed_z > 0.0
            && signed_z.abs() >= c.threshold / 2.0
            && (sum / DRIFT_SAMPLES as f64).abs() >= least;
        let mut highest = None;
        for (k, reached) in reached.iter_mut().enumerate() {
            *reached = drift.abs() >= c.threshold * (1.0 + 0.5 * k as f64);
            if *reached {
                // Levels go up: the highest one reached counts.
                highest = Some(k);
            }
        }
        // The tail only for a drift worth judging: most samples have none (throughput).
        let lp = match highest {
            Some(k) if leaning => log10_tail(drift.abs()).max(f64::from(self.drift_rate[k]).log10()).min(0.0),
            _ => 0.0,
        };
        (lp, reached)
    }
}

/// Of two errors on one side of the level, the one nearer it (`a` = 0: none yet, as in a run
/// restored from a snapshot written before the nearest was kept; a run's errors are never 0).
fn nearer(a: f32, b: f32) -> f32 {
    if a == 0.0 || b.abs() < a.abs() {
        b
    } else {
        a
    }
}

fn not_a_number() -> f64 {
    f64::NAN
}

/// How far `value` goes past the range `[lo, hi]` a series had until now, as a score in
/// [0, 1): `1 - exp(-e / RECORD_SCALE)` for an excess `e` in units of the range, 0 inside it
/// (and for a series that never moved, or a range not known).
///
/// A scale-free view beside the baseline band: a record high or low is news whatever the
/// distribution of the errors (heavy tails, spikes, bursts make a band wide; a new extreme is
/// still new), and a level shift or a climb sets a record on its first sample (NAB rewards the
/// earliest detection in a window), then extends it only while it keeps climbing.
fn novelty(value: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range.is_nan() || range <= 0.0 {
        return 0.0;
    }
    let excess = if value > hi { (value - hi) / range } else { (lo - value) / range };
    if excess > 0.0 {
        -(-excess / RECORD_SCALE).exp_m1()
    } else {
        0.0
    }
}

thread_local! {
    /// The last [`SeriesState::learn`] seasonal rate, by `season_alpha` and samples per visit.
    static GAMMA: Cell<([u64; 2], f64)> = const { Cell::new(([u64::MAX; 2], 0.0)) };
    /// The last surprise of an error at the threshold, by threshold.
    static THRESHOLD_SURPRISE: Cell<([u64; 2], f64)> = const { Cell::new(([u64::MAX; 2], 0.0)) };
}

/// `f()`, remembered in `memo` for the last `key` asked: values that depend on the configuration
/// and a series' sampling step only, the same for sample after sample, but each a logarithm and
/// an exponential (per sample they were a tenth of the detector's time). The same bits give the
/// same value, so results are exactly those of calling `f` each time. (`u64::MAX` is a NaN no
/// key has: an empty memo.)
fn remembered(
    memo: &'static std::thread::LocalKey<Cell<([u64; 2], f64)>>,
    key: [f64; 2],
    f: impl FnOnce() -> f64,
) -> f64 {
    let bits = key.map(f64::to_bits);
    memo.with(|m| {
        let (at, value) = m.get();
        if at == bits {
            return value;
        }
        let value = f();
        m.set((bits, value));
        value
    })
}

/// log10 of the two-sided normal tail `2·Q(z)` for `z >= 0`, without underflow.
fn log10_tail(z: f64) -> f64 {
    if z < 5.0 {
        return erfc(z / std::f64::consts::SQRT_2).max(f64::MIN_POSITIVE).log10();
    }
    // Asymptotic series: 2·Q(z) ≈ 2·φ(z)/z · (1 - 1/z² + 3/z⁴).
    let ln = (2.0 / (2.0 * std::f64::consts::PI).sqrt()).ln() - z * z / 2.0 - z.ln()
        + (1.0 - 1.0 / (z * z) + 3.0 / z.powi(4)).ln();
    ln / std::f64::consts::LN_10
}

/// Complementary error function for `x >= 0`: Abramowitz and Stegun 7.1.26 (absolute error
/// below 1.5e-7, ample for scores).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    (poly * (-x * x).exp()).clamp(0.0, 1.0)
}

/// log10 P(X >= k) for X ~ Binomial(n, p), with `lp = log10 p`, for 1 <= k <= n <= 16.
fn log10_binomial_tail(n: u32, k: u32, lp: f64) -> f64 {
    let p = 10f64.powf(lp);
    let lq = (1.0 - p).max(f64::MIN_POSITIVE).log10();
    // log10 C(n, j), built up from C(n, 0) = 1.
    let mut lc = 0.0f64;
    let mut terms = [f64::NEG_INFINITY; 17];
    for j in 0..=n.min(16) {
        if j >= k {
            terms[j as usize] = lc + f64::from(j) * lp + f64::from(n - j) * lq;
        }
        lc += (f64::from(n - j) / f64::from(j + 1)).log10();
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = terms.iter().map(|t| 10f64.powf(t - top)).sum();
    (top + sum.log10()).min(0.0)
}

impl TrendState {
    /// The trend of a series whose first sample is `first`: the limit's direction is the
    /// configured or named one, else the series approaches from the side it starts on.
    fn new(limit: &LimitConfig, first: f64) -> TrendState {
        let falling = match limit.direction() {
            Some(d) => d == Direction::Falling,
            None => first > limit.limit,
        };
        TrendState {
            limit: limit.limit,
            horizon_ms: limit.horizon.millis(),
            falling,
            at: [0; TREND_SAMPLES],
            value: [0.0; TREND_SAMPLES],
            len: 0,
            head: 0,
            raised: false,
            normal_run: 0,
        }
    }

    /// Adds a sample; the time (ms) until the trend reaches the limit if that is within the
    /// horizon (0: the sample is at or past the limit). `ceiling_watched`: the series' ceiling is
    /// also watched for sustained saturation, which then owns a jump past the limit.
    ///
    /// Every sample of a series with a limit passes here (every utilisation with a ceiling), so
    /// the tests that need the least come first: the medians of the times are read off the
    /// window (its times only go up: a sample not newer than the last is never pushed), the
    /// middle third's median is taken only for a line heading for the limit, and the noise
    /// around the line is compared by counting, not sorting. Each is the value or the outcome
    /// of the sorts they replace (see [`median`], [`spread_hides`]): the same forecasts.
    fn push(&mut self, at: i64, value: f64, ceiling_watched: bool) -> Option<i64> {
        let head = usize::from(self.head);
        self.at[head] = at;
        self.value[head] = value;
        self.head = ((head + 1) % TREND_SAMPLES) as u8;
        self.len = (usize::from(self.len) + 1).min(TREND_SAMPLES) as u8;
        let len = usize::from(self.len);
        if len < TREND_SAMPLES / 2 {
            return None;
        }
        // Oldest first.
        let start = (usize::from(self.head) + TREND_SAMPLES - len) % TREND_SAMPLES;
        let mut times = [0i64; TREND_SAMPLES];
        let mut values = [0f64; TREND_SAMPLES];
        for i in 0..len {
            let j = (start + i) % TREND_SAMPLES;
            times[i] = self.at[j];
            values[i] = self.value[j];
        }
        let (times, values) = (&times[..len], &mut values[..len]);
        let third = len / 3;
        let (tl, tr) = (median_time(&times[..third]), median_time(&times[len - third..]));
        if tr <= tl {
            return None;
        }
        let past = |v: f64| (self.falling && v <= self.limit) || (!self.falling && v >= self.limit);
        // Reached: at or past the limit on the side the series approaches it from (fixed for the
        // trend's life: a series that was past the limit and recovered is not "reached"). Where
        // the ceiling is also watched for saturation, only by a series already forecast to get
        // there (a trend that arrives): a jump past it (a spike of a utilisation to 99 %, a CPU
        // pinned at once) is news for the band and the saturation view, not for the trend. A
        // limit nothing else watches (free space at 0, filled in seconds) is news however the
        // series got there.
        if past(value) {
            return (self.raised || !ceiling_watched).then_some(0);
        }
        let (vl, vr) = (median(&values[..third]), median(&values[len - third..]));
        let slope = (vr - vl) / (tr - tl);
        // Moving away from the limit (a recovery, a cleanup): no forecast.
        if (self.falling && slope >= 0.0) || (!self.falling && slope <= 0.0) {
            return None;
        }
        // A trend moves all along: the middle third's median lies well between the outer ones'
        // (a step, or a flat stretch before a jump, leaves it at one end).
        let vm = median(&values[third..len - third]);
        if !(0.2..=0.8).contains(&((vm - vl) / (vr - vl))) {
            return None;
        }
        let line = |t: i64| vr + slope * (t as f64 - tr);
        let eta = (self.limit - line(at)) / slope;
        if !(eta.is_finite() && eta >= 0.0) {
            return None;
        }
        // The move over the window must stand out of the noise around the line.
        for (v, &t) in values.iter_mut().zip(times) {
            *v = (*v - line(t)).abs();
        }
        if spread_hides((vr - vl).abs(), values) {
            return None;
        }
        (eta <= self.horizon_ms as f64).then_some(eta.ceil() as i64)
    }
}

/// Whether a move of `size` is within the noise around a trend line: below 3 σ of the distances
/// `spread` of the samples from the line (σ from their upper median, `spread[len / 2]` once
/// sorted; `spread` is left in any order).
///
/// The median is not needed, only which side of `size` it puts 3 σ on: `3σ(x)` never decreases
/// as `x` grows (rounding is monotonic), so it exceeds `size` at the upper median exactly when
/// it does for at least as many distances as lie from the upper median up, a count. Distances
/// that are not finite (values near `f64::MAX`) are sorted as before.
fn spread_hides(size: f64, spread: &mut [f64]) -> bool {
    let three_sigma = |x: f64| 3.0 * (x * MAD_TO_SIGMA);
    let k = spread.len() / 2;
    if size.is_finite() && spread.iter().all(|x| x.is_finite()) {
        let above = spread.iter().filter(|&&x| size < three_sigma(x)).count();
        return above >= spread.len() - k;
    }
    spread.sort_unstable_by(f64::total_cmp);
    size < three_sigma(spread[k])
}

impl SaturationState {
    fn new(c: &SaturationConfig) -> SaturationState {
        SaturationState { threshold: c.at, for_ms: c.sustained.millis(), since: None, raised: false, normal_run: 0 }
    }

    /// Follows one sample at `at` (ms): raised once every sample for `for_ms` was at or above
    /// the ceiling, repeated while it stays there, cleared after `clear_after` samples in a row
    /// below it. A sample below resets the run.
    fn push(&mut self, at: i64, value: f64, baseline: Option<Baseline>, clear_after: u32) -> Detection {
        if value >= self.threshold {
            let lasted_ms = at - *self.since.get_or_insert(at);
            self.normal_run = 0;
            if self.raised || lasted_ms >= self.for_ms {
                self.raised = true;
                return Detection::Saturated { value, threshold: self.threshold, lasted_ms, baseline };
            }
            return Detection::Normal;
        }
        self.since = None;
        if !self.raised {
            return Detection::Normal;
        }
        self.normal_run += 1;
        if self.normal_run >= clear_after {
            self.raised = false;
            self.normal_run = 0;
            return Detection::Cleared { value };
        }
        Detection::Normal
    }
}

/// A saturation signal's name, e.g. `cpu_utilisation at 100% for 4m (saturated at ≥ 95%,
/// expected 1% ± 2%)`: the value, how long it has been at or above the ceiling, the ceiling,
/// and where the series' baseline is known, what it expected and its band. Ratios (a ceiling of
/// at most 1) as percentages, other units as numbers.
pub fn saturation_text(metric: &str, value: f64, threshold: f64, lasted_ms: i64, baseline: Option<Baseline>) -> String {
    let number = |x: f64| {
        if threshold.abs() <= 1.0 {
            let p = 100.0 * x;
            if (p - p.round()).abs() < 0.05 {
                format!("{p:.0}%")
            } else {
                format!("{p:.1}%")
            }
        } else if x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{x:.0}")
        } else {
            format!("{x:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    let expected = match baseline {
        Some(b) => format!(", expected {} ± {}", number(b.expected), number((b.upper - b.expected).abs())),
        None => String::new(),
    };
    let (value, threshold) = (number(value), number(threshold));
    format!("{metric} at {value} for {} (saturated at ≥ {threshold}{expected})", span_text(lasted_ms))
}

/// What a record anomaly says beside its expected value and band, e.g. `new high: 12% above the
/// highest value in 9d`: which side, how far beyond the previous extreme (a percentage of it
/// where it is not 0 and on the same side of 0, else the difference), and over how much data
/// time the series had been seen.
pub fn record_text(value: f64, record: &Record) -> String {
    let (what, side, extreme) = if record.high { ("high", "above", "highest") } else { ("low", "below", "lowest") };
    let excess = (value - record.previous).abs();
    let by = if record.previous != 0.0 && value.signum() == record.previous.signum() {
        let p = 100.0 * excess / record.previous.abs();
        if p >= 10.0 {
            format!("{p:.0}%")
        } else {
            format!("{p:.1}%")
        }
    } else {
        format!("{excess:.3}").trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!("new {what}: {by} {side} the {extreme} value in {}", span_text(record.over_ms))
}

/// A span of data time for a name: seconds below a minute (`45s`), whole minutes below two
/// hours (`4m`), then hours (`5h`), then days (`3d`).
pub fn span_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The median of some values (not empty), in any order: as sorted by `total_cmp`, the middle
/// one, or halfway between the middle two.
///
/// A trend takes three medians of ten or twelve values per sample, and an insertion sort's
/// every step is a branch the processor cannot guess (a fifth of the detector's time with a
/// third of the series watched for a ceiling). Sorted instead by a fixed network of
/// compare-exchanges ([`sort_10`], [`sort_12`]: minima and maxima, no branch) of their
/// `total_cmp` keys, so the order is exactly the sort's (values the order finds equal have the
/// same bits); other lengths (a window still filling) by counting: the value at place `p` is
/// the highest of those with at most `p` values below them.
fn median(xs: &[f64]) -> f64 {
    let n = xs.len();
    let (lo, hi) = ((n - 1) / 2, n / 2);
    let mut keys = [0i64; TREND_SAMPLES];
    for (k, &x) in keys.iter_mut().zip(xs) {
        *k = order_key(x);
    }
    let (at_lo, at_hi) = match n {
        10 => {
            let k = sort_10(first(&keys));
            (k[lo], k[hi])
        }
        12 => {
            let k = sort_12(first(&keys));
            (k[lo], k[hi])
        }
        _ => {
            let keys = &keys[..n];
            let (mut at_lo, mut at_hi) = (i64::MIN, i64::MIN);
            for &k in keys {
                let below = keys.iter().map(|&o| usize::from(o < k)).sum::<usize>();
                at_lo = at_lo.max(if below <= lo { k } else { i64::MIN });
                at_hi = at_hi.max(if below <= hi { k } else { i64::MIN });
            }
            (at_lo, at_hi)
        }
    };
    let (a, b) = (from_order_key(at_lo), from_order_key(at_hi));
    if n % 2 == 1 {
        a
    } else {
        a + (b - a) / 2.0
    }
}

/// Compare-exchanges written out, one after the other (minima and maxima on registers, no
/// loop): `network!(keys; (i, j), ...)` leaves the lower key at `i`, the higher at `j`.
macro_rules! network {
    ($k:ident; $(($i:literal, $j:literal)),* $(,)?) => {
        $(
            let (x, y) = ($k[$i], $k[$j]);
            $k[$i] = x.min(y);
            $k[$j] = x.max(y);
        )*
    };
}

/// Sorts 10 keys: a network of 29 compare-exchanges (Waksman's), checked on every input of
/// zeros and ones in the tests (which proves it sorts anything).
#[rustfmt::skip]
fn sort_10(mut k: [i64; 10]) -> [i64; 10] {
    network!(k;
        (4, 9), (3, 8), (2, 7), (1, 6), (0, 5), (1, 4), (6, 9), (0, 3), (5, 8), (0, 2),
        (3, 6), (7, 9), (0, 1), (2, 4), (5, 7), (8, 9), (1, 2), (4, 6), (7, 8), (3, 5),
        (2, 5), (6, 8), (1, 3), (4, 7), (2, 3), (6, 7), (3, 4), (5, 6), (4, 5),
    );
    k
}

/// Sorts 12 keys: a network of 39 compare-exchanges, checked as [`sort_10`] is.
#[rustfmt::skip]
fn sort_12(mut k: [i64; 12]) -> [i64; 12] {
    network!(k;
        (0, 8), (1, 7), (2, 6), (3, 11), (4, 10), (5, 9),
        (0, 1), (2, 5), (3, 4), (6, 9), (7, 8), (10, 11),
        (0, 2), (1, 6), (5, 10), (9, 11),
        (0, 3), (1, 2), (4, 6), (5, 7), (8, 11), (9, 10),
        (1, 4), (3, 5), (6, 8), (7, 10),
        (1, 3), (2, 5), (6, 9), (8, 10),
        (2, 3), (4, 5), (6, 7), (8, 9),
        (4, 6), (5, 7),
        (3, 4), (5, 6), (7, 8),
    );
    k
}

/// The first `N` keys.
fn first<const N: usize>(keys: &[i64; TREND_SAMPLES]) -> [i64; N] {
    std::array::from_fn(|i| keys[i])
}

/// `x` as an integer that orders as [`f64::total_cmp`] orders the floats (its very
/// computation): negative floats' bits other than the sign flipped.
fn order_key(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The float of an [`order_key`] (the same flip: the sign bit is kept).
fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ ((((key >> 63) as u64) >> 1) as i64)) as u64)
}

/// The median of some times (not empty), as [`median`] finds it for the same times as `f64`:
/// read off the middle where they are in order, as a trend's window always is (`as f64` keeps
/// that order).
fn median_time(ts: &[i64]) -> f64 {
    if !ts.is_sorted() {
        let mut xs = [0f64; TREND_SAMPLES];
        for (x, &t) in xs.iter_mut().zip(ts) {
            *x = t as f64;
        }
        return median(&xs[..ts.len()]);
    }
    let n = ts.len();
    if n % 2 == 1 {
        ts[n / 2] as f64
    } else {
        let (a, b) = (ts[n / 2 - 1] as f64, ts[n / 2] as f64);
        a + (b - a) / 2.0
    }
}

/// A forecast's time left, for its name: whole minutes below two hours (`47m`), then hours
/// (`5h`), then days (`3d`); `now` at the limit.
pub fn eta_text(eta_ms: i64) -> String {
    let minutes = eta_ms.max(0) / 60_000;
    match minutes {
        _ if eta_ms <= 0 => "now".to_string(),
        0..=119 => format!("{}m", minutes.max(1)),
        120..=2879 => format!("{}h", minutes / 60),
        _ => format!("{}d", minutes / 1440),
    }
}

/// Per-series detector state, keyed by the caller's series id.
#[derive(Debug, Clone, Default)]
pub struct Detector {
    config: DetectConfig,
    series: SeriesStates,
    /// Index into `config.limits` of each series registered with a metric that has one.
    limits: FastMap<u64, usize>,
    /// Index into `config.saturation` of each series registered with a metric that has a ceiling.
    saturations: FastMap<u64, usize>,
}

/// What a [`Detector`] has learned, for an engine snapshot; its configuration is the engine's.
/// Series are written in id order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorState {
    #[serde(with = "sorted_pairs")]
    series: FastMap<u64, Box<WholeSeries>>,
    #[serde(with = "sorted_pairs")]
    limits: FastMap<u64, usize>,
    #[serde(with = "sorted_pairs")]
    saturations: FastMap<u64, usize>,
}

/// [`DetectorState`] borrowed from the detector, for writing a snapshot without copying the
/// series: serializes to exactly the JSON of [`Detector::state`].
#[derive(Serialize)]
pub struct DetectorStateView<'a> {
    series: &'a SeriesStates,
    #[serde(serialize_with = "sorted_pairs::serialize_ref")]
    limits: &'a FastMap<u64, usize>,
    #[serde(serialize_with = "sorted_pairs::serialize_ref")]
    saturations: &'a FastMap<u64, usize>,
}

impl Detector {
    pub fn new(config: DetectConfig) -> Detector {
        Detector {
            config: Self::expanded(config),
            series: SeriesStates::default(),
            limits: FastMap::default(),
            saturations: FastMap::default(),
        }
    }

    /// `config` with every forecast in `limits` ([`DetectConfig::forecast_limits`]): a series'
    /// limit index points into that list.
    fn expanded(mut config: DetectConfig) -> DetectConfig {
        config.limits = config.forecast_limits();
        config
    }

    /// A copy of the learned state (see [`Detector::from_state`]).
    /// What [`Detector::state`] copies, borrowed.
    pub fn state_view(&self) -> DetectorStateView<'_> {
        DetectorStateView { series: &self.series, limits: &self.limits, saturations: &self.saturations }
    }

    pub fn state(&self) -> DetectorState {
        DetectorState {
            series: self.series.iter().map(|(id, s)| (id, Box::new(s))).collect(),
            limits: self.limits.clone(),
            saturations: self.saturations.clone(),
        }
    }

    /// The detector with `config` that had learned `state`. An error says which series names a
    /// limit or a ceiling `config` does not have.
    pub fn from_state(config: DetectConfig, state: DetectorState) -> Result<Detector, String> {
        let config = Self::expanded(config);
        for (what, map, len) in
            [("limit", &state.limits, config.limits.len()), ("ceiling", &state.saturations, config.saturation.len())]
        {
            let mut bad: Vec<(u64, usize)> = map.iter().filter(|(_, i)| **i >= len).map(|(s, i)| (*s, *i)).collect();
            bad.sort_unstable();
            if let Some((series, i)) = bad.first() {
                return Err(format!(
                    "detector series {series} uses {what} {i}, but the configuration has {len} {what}(s)"
                ));
            }
        }
        // In id order, the order the engine's series first reported: laid out as they were.
        let mut restored: Vec<(u64, Box<WholeSeries>)> = state.series.into_iter().collect();
        restored.sort_unstable_by_key(|(id, _)| *id);
        let mut series = SeriesStates::default();
        for (id, s) in restored {
            series.insert(id, *s);
        }
        Ok(Detector { config, series, limits: state.limits, saturations: state.saturations })
    }

    /// Number of series with state (each [`SERIES_STATE_BYTES`] plus its map slot).
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Tells the detector which metric series `series` is, so that its trend is forecast if
    /// `limits` names the metric, and its saturation watched if `saturation` does. Call before
    /// the series' first sample.
    pub fn register(&mut self, series: u64, metric: &str) {
        if let Some(i) = self.config.limits.iter().position(|l| l.metric == metric) {
            self.limits.insert(series, i);
        }
        if let Some(i) = self.config.saturation.iter().position(|l| l.metric == metric) {
            self.saturations.insert(series, i);
        }
    }

    /// Data time (ms) of the latest sample series `series` learned from (`None`: none yet).
    pub fn last_sample(&self, series: u64) -> Option<i64> {
        self.series.get(series).map(|s| s.last_at)
    }

    /// Forgets series `series` entirely (its state and the limit and ceiling it was registered
    /// with): the engine retires a series that stopped reporting, under a new id if it returns.
    pub fn retire(&mut self, series: u64) {
        self.series.remove(series);
        self.limits.remove(&series);
        self.saturations.remove(&series);
    }

    /// The baseline series `series` is judged against now (`None` before its first sample).
    pub fn season(&self, series: u64) -> Option<Season> {
        self.series.get(series).map(|s| s.season)
    }

    /// Learns from past samples of series `series` (oldest first) without reporting anything:
    /// history fetched at start-up, so that levels and seasons need not be learned live.
    pub fn warm(&mut self, series: u64, samples: &[(Timestamp, f64)]) {
        for &(at, value) in samples {
            let watched = (&self.limits, &self.saturations);
            if let Some((_, s)) = judge(&mut self.series, watched, &self.config, series, at, value) {
                let ceiling_watched = s.saturation.is_some();
                if let Some(t) = s.trend.as_deref_mut() {
                    t.push(at.millis(), value, ceiling_watched);
                }
                // A saturation under way when watching starts counts from where history shows it.
                if let Some(t) = s.saturation.as_deref_mut() {
                    t.push(at.millis(), value, None, self.config.clear_after);
                }
            }
        }
        if let Some(s) = self.series.get_mut(series) {
            s.anomalous_run = 0;
            s.normal_run = 0;
            s.raised = false;
            if let Some(t) = s.trend.as_deref_mut() {
                t.raised = false;
                t.normal_run = 0;
            }
            if let Some(t) = s.saturation.as_deref_mut() {
                t.raised = false;
                t.normal_run = 0;
            }
        }
    }

    /// Typical time between series `series`' samples, ms (`None` before its second sample).
    pub fn step_ms(&self, series: u64) -> Option<f64> {
        self.series.get(series).map(|s| s.step_ms).filter(|s| *s > 0.0)
    }

    /// Judges one sample of series `series`, taken at `at`. Non-finite values, and samples not
    /// newer than the series' last one, are ignored (reported as normal).
    pub fn sample(&mut self, series: u64, at: Timestamp, value: f64) -> Verdict {
        let c = &self.config;
        let Some((j, s)) = judge(&mut self.series, (&self.limits, &self.saturations), c, series, at, value) else {
            return Verdict::NORMAL;
        };
        // A record is surprising as such.
        let record = j.novelty >= RECORD_SURPRISE;
        let surprising = j.surprising || record;
        let continuing = (s.raised || s.anomalous_run > 0) && j.out_of_band;
        let anomaly = if surprising || continuing {
            // The higher of the two views (computed here: in band and no record, unused).
            let score = j.score.value(c).max(j.novelty);
            if s.anomalous_run == 0 && !s.raised {
                s.peak = score;
                s.record = None;
            } else {
                s.peak = s.peak.max(score);
            }
            if record {
                s.record = j.record;
            }
            s.anomalous_run += 1;
            s.normal_run = 0;
            // A record (a fact, not a probability), a sample near impossible under the series'
            // own history, and a bunch of spikes (several samples already) need no second one.
            let at_once = record || j.bunched || (j.surprising && j.score.value(c) >= AT_ONCE_SCORE);
            if s.anomalous_run >= c.min_consecutive || at_once {
                // Samples out of band in a row, this one included (bit 0 of the history is this
                // sample; `exceed_bits` is kept from the first warm sample, as an anomaly needs).
                // A band anomaly's run is all out of band; a drift's may be all within the band.
                let out_run = match s.exceed_bits[0].trailing_ones() {
                    16 => u32::MAX, // the whole history kept: at least that
                    n => n,
                };
                let run = s.anomalous_run.min(out_run);
                // Nothing else on the series agrees yet: this sample alone raised it, or a drift
                // did with fewer samples out of band in a row than a band anomaly needs (a small
                // drift is as often the estate moving a little, after a deployment or a gap).
                let drift_only = run < s.anomalous_run && run < c.min_consecutive;
                let lone = !s.raised && (s.anomalous_run == 1 || drift_only) && !j.bunched;
                s.raised = true;
                Detection::Anomalous { score: s.peak, value, baseline: j.baseline, record: s.record, lone, run }
            } else {
                Detection::Normal
            }
        } else {
            s.anomalous_run = 0;
            if !j.out_of_band {
                s.normal_run += 1;
            }
            if s.raised && s.normal_run >= c.clear_after {
                s.raised = false;
                Detection::Cleared { value }
            } else {
                Detection::Normal
            }
        };
        let ceiling_watched = s.saturation.is_some();
        let forecast = match s.trend.as_deref_mut() {
            None => Detection::Normal,
            Some(t) => match t.push(at.millis(), value, ceiling_watched) {
                Some(eta_ms) => {
                    t.raised = true;
                    t.normal_run = 0;
                    let score = 1.0 - 0.5 * (eta_ms as f64 / t.horizon_ms.max(1) as f64).min(1.0);
                    Detection::Forecast { score, value, limit: t.limit, eta_ms }
                }
                None => {
                    t.normal_run += 1;
                    if t.raised && t.normal_run >= c.clear_after {
                        t.raised = false;
                        Detection::Cleared { value }
                    } else {
                        Detection::Normal
                    }
                }
            },
        };
        let saturation = match s.saturation.as_deref_mut() {
            None => Detection::Normal,
            Some(t) => t.push(at.millis(), value, j.warm.then_some(j.baseline), c.clear_after),
        };
        Verdict { anomaly, forecast, saturation }
    }
}

/// Judges a sample of series `series` in `all`, creating its state on its first sample (with a
/// trend and a saturation watch where `watched` maps the series to a limit and a ceiling); the
/// judgement and the series' state, or `None` for an ignored sample.
fn judge<'a>(
    all: &'a mut SeriesStates,
    (limits, saturations): (&FastMap<u64, usize>, &FastMap<u64, usize>),
    c: &DetectConfig,
    series: u64,
    at: Timestamp,
    value: f64,
) -> Option<(Judgement, &'a mut SeriesState)> {
    if !value.is_finite() {
        return None;
    }
    match all.slot(series) {
        Some(slot) => {
            let (s, seasons) = all.at_mut(slot);
            s.judge(c, seasons, at.millis(), value).map(|j| (j, s))
        }
        None => {
            let mut s = SeriesState::new(at.millis(), value);
            if let Some(&i) = limits.get(&series) {
                s.trend = Some(Box::new(TrendState::new(&c.limits[i], value)));
            }
            if let Some(&i) = saturations.get(&series) {
                s.saturation = Some(Box::new(SaturationState::new(&c.saturation[i])));
            }
            let baseline = Baseline { expected: value, lower: value, upper: value };
            let j = Judgement {
                score: Score::Known(0.0),
                surprising: false,
                bunched: false,
                out_of_band: false,
                warm: false,
                novelty: 0.0,
                record: None,
                baseline,
            };
            Some((j, all.insert(series, WholeSeries::new(s))))
        }
    }
}

/// One anomaly score in [0, 1] per sample of one series, played in order through a fresh
/// [`Detector`]: causal (a score never depends on later samples). What `faultline eval anomalies`
/// scores: exactly the engine's signal. A sample scores when the engine raises an anomaly on it
/// (its score) or raises the score of the anomaly under way (the new score: an operator sees one
/// signal whose severity goes up); every other sample scores 0, including those that repeat a
/// raised anomaly and those of a lone surprise that was never raised (`min_consecutive`).
pub fn anomaly_scores(samples: &[(Timestamp, f64)], config: &DetectConfig) -> Vec<f64> {
    let mut detector = Detector::new(config.clone());
    // The score of the anomaly raised now (0: none).
    let mut shown = 0.0f64;
    samples
        .iter()
        .map(|&(at, value)| match detector.sample(0, at, value).anomaly {
            Detection::Anomalous { score, .. } => {
                let news = if score > shown { score } else { 0.0 };
                shown = shown.max(score);
                news
            }
            Detection::Cleared { .. } => {
                shown = 0.0;
                0.0
            }
            _ => 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-02T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_772_409_600_000;
    const MIN: i64 = 60_000;

    fn at(ms: i64) -> Timestamp {
        Timestamp(MONDAY + ms)
    }

    /// Deterministic noise in [-1, 1].
    fn wobble(i: i64) -> f64 {
        ((i.wrapping_mul(2_654_435_761) >> 16) % 2001) as f64 / 1000.0 - 1.0
    }

    fn anomalous(v: &Verdict) -> bool {
        matches!(v.anomaly, Detection::Anomalous { .. })
    }

    #[test]
    fn memory_per_series_is_bounded() {
        // The figures the module documentation states.
        assert_eq!(SERIES_STATE_BYTES, std::mem::size_of::<SeriesState>() + std::mem::size_of::<[Bucket; 192]>());
        if cfg!(target_pointer_width = "64") {
            assert_eq!(SERIES_STATE_BYTES, 1912);
            assert_eq!(TREND_STATE_BYTES, 536);
            assert_eq!(SATURATION_STATE_BYTES, 40);
        }
        // Fixed-size buffers only: a long life changes nothing but numbers.
        let mut d = Detector::new(DetectConfig::default());
        d.register(1, "filesystem_free_ratio");
        d.register(2, "cpu_utilisation");
        for i in 0..50_000 {
            d.sample(1, at(i * MIN), 0.5 + 0.01 * wobble(i));
            d.sample(2, at(i * MIN), if i % 100 < 10 { 0.99 } else { 0.5 });
        }
        let whole = d.series.whole(1).expect("a series");
        assert_eq!((whole.daily().len(), whole.weekly().len()), (24, 168));
        let s = &d.series[&1];
        assert_eq!(s.exceed_bits.len(), LEVELS);
        assert_eq!(s.trend.as_ref().map(|t| t.at.len()), Some(TREND_SAMPLES));
        // A utilisation has a ceiling, and a forecast of its climb to it.
        assert!(s.saturation.is_none() && d.series[&2].trend.is_some());
        assert_eq!(d.series[&2].saturation.as_ref().map(|t| t.since), Some(None));
        assert_eq!(d.series_count(), 2);
    }

    #[test]
    fn steady_noise_is_not_anomalous_but_a_saturation_is_then_clears() {
        let mut d = Detector::new(DetectConfig::default());
        let step = 30_000;
        let mut i = 0;
        let mut next = |d: &mut Detector, v: f64| {
            i += 1;
            d.sample(1, at(i * step), v)
        };
        for k in 0..200 {
            assert_eq!(next(&mut d, 0.30 + 0.03 * wobble(k)).anomaly, Detection::Normal, "sample {k}");
        }
        // Near impossible (a score above 0.9): raised on its first sample.
        match next(&mut d, 0.97).anomaly {
            Detection::Anomalous { score, baseline, .. } => {
                assert!(score > 0.9, "{score}");
                assert!((baseline.expected - 0.30).abs() < 0.02, "{baseline:?}");
                assert!(baseline.upper < 0.5 && baseline.lower > 0.1, "{baseline:?}");
            }
            other => panic!("expected an anomaly, got {other:?}"),
        }
        // The saturation does not become the baseline while it lasts (less than `shift_after`),
        // and the anomaly keeps the score of its strongest sample.
        for _ in 0..50 {
            assert!(matches!(next(&mut d, 0.98).anomaly, Detection::Anomalous { score, .. } if score > 0.9));
        }
        assert_eq!(next(&mut d, 0.31).anomaly, Detection::Normal);
        assert_eq!(next(&mut d, 0.30).anomaly, Detection::Normal);
        assert_eq!(next(&mut d, 0.29).anomaly, Detection::Cleared { value: 0.29 });
        assert_eq!(d.season(1), Some(Season::None));
    }

    #[test]
    fn a_daily_pattern_is_not_an_anomaly_a_break_of_it_is() {
        // Every 5 minutes for 9 days: a smooth daily swing from 20 (03:00 UTC) to 80 (15:00).
        let step = 5 * MIN;
        let value = |i: i64| {
            let hours = (i * step) as f64 / HOUR_MS as f64;
            50.0 - 30.0 * (std::f64::consts::TAU * (hours - 3.0) / 24.0).cos() + 1.5 * wobble(i)
        };
        let mut d = Detector::new(DetectConfig::default());
        let per_day = DAY_MS / step;
        for i in 0..3 * per_day {
            d.sample(1, at(i * step), value(i));
        }
        assert_eq!(d.season(1), Some(Season::Daily), "learned within three days");
        for i in 3 * per_day..8 * per_day {
            let v = d.sample(1, at(i * step), value(i));
            assert!(!anomalous(&v), "day {} {:?}: {v:?}", i / per_day, at(i * step).clock());
        }
        // Day 8: from 13:00 the afternoon peak does not come; the value stays at 50.
        let mut raised = None;
        for i in 8 * per_day..8 * per_day + per_day / 2 + 6 * 12 {
            let t = i * step;
            let hour = (t / HOUR_MS) % 24;
            let v = if hour >= 13 { 50.0 + 1.5 * wobble(i) } else { value(i) };
            let verdict = d.sample(1, at(t), v);
            if let (None, Detection::Anomalous { baseline, .. }) = (raised, verdict.anomaly) {
                raised = Some((hour, baseline));
            }
        }
        let (hour, baseline) = raised.expect("the missing peak is an anomaly");
        assert!((13..15).contains(&hour), "raised at {hour}:00");
        assert!(baseline.expected > 70.0, "the seasonal expectation explains it: {baseline:?}");
    }

    #[test]
    fn a_busy_hour_is_judged_by_its_own_noise_and_the_quiet_night_by_its_own() {
        // Every 5 minutes: 20 ± 1 from 18:00 to 09:00 UTC, 75 ± 8 in the day (a shop's traffic,
        // noisier when busy). The level's scale follows the last hours: at 09:00 it is the
        // night's, and the day's first samples would look far out. The hour's own scale says
        // they are not; the night keeps its narrow band.
        let step = 5 * MIN;
        let per_day = DAY_MS / step;
        let day = |i: i64| (9..18).contains(&((i * step / HOUR_MS) % 24));
        let value = |i: i64| if day(i) { 75.0 + 8.0 * wobble(i) } else { 20.0 + wobble(i) };
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..3 * per_day {
            d.sample(1, at(i * step), value(i));
        }
        assert_eq!(d.season(1), Some(Season::Daily));
        let mut raised = Vec::new();
        for i in 3 * per_day..8 * per_day {
            if anomalous(&d.sample(1, at(i * step), value(i))) {
                raised.push(at(i * step).clock());
            }
        }
        assert_eq!(raised, Vec::<String>::new(), "five ordinary days");
        // Day 8, 03:00: the night's 20 goes to 30 for half an hour, well inside the day's noise.
        let night = 8 * per_day + 3 * 12;
        let raised = (night..night + 6).any(|i| anomalous(&d.sample(1, at(i * step), 30.0 + wobble(i))));
        assert!(raised, "a move the day's noise would hide is news at night");
    }

    #[test]
    fn a_weekly_pattern_is_learned_and_can_be_warmed_from_history() {
        // Hourly: weekdays at 100, weekends at 40. Three weeks of history, then two weeks live.
        let value = |h: i64| {
            let weekend = (h / 24) % 7 >= 5;
            let level = if weekend { 40.0 } else { 100.0 };
            level + 2.0 * wobble(h)
        };
        let history: Vec<(Timestamp, f64)> = (0..21 * 24).map(|h| (at(h * HOUR_MS), value(h))).collect();
        let mut d = Detector::new(DetectConfig::default());
        d.warm(1, &history);
        assert_eq!(d.season(1), Some(Season::Weekly));
        for h in 21 * 24..35 * 24 {
            let v = d.sample(1, at(h * HOUR_MS), value(h));
            assert!(!anomalous(&v), "week {} day {} {h}: {v:?}", h / 168, (h / 24) % 7);
        }
        // A weekday at the weekend level is not.
        let hits = (35 * 24..35 * 24 + 12).filter(|&h| anomalous(&d.sample(1, at(h * HOUR_MS), 40.0))).count();
        assert!(hits >= 10, "{hits}");
    }

    #[test]
    fn seasons_do_not_hurt_short_series() {
        // Forty minutes at 30 s, the demo's shape: judged against a flat level, no false alarm.
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..80 {
            let v = d.sample(1, at(i * 30_000), 250.0 * (1.0 + 0.04 * wobble(i)));
            assert_eq!(v.anomaly, Detection::Normal, "{i}");
        }
        assert_eq!(d.season(1), Some(Season::None));
    }

    #[test]
    fn a_level_shift_is_raised_then_becomes_the_new_normal_and_a_return_is_not_news() {
        let step = 30_000;
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..200 {
            d.sample(1, at(i * step), 100.0 + wobble(i));
        }
        let mut raised_at = None;
        let mut cleared_at = None;
        for i in 200..560 {
            match d.sample(1, at(i * step), 130.0 + wobble(i)).anomaly {
                Detection::Anomalous { baseline, .. } => {
                    raised_at.get_or_insert(i);
                    assert!((baseline.expected - 100.0).abs() < 2.0, "{baseline:?}");
                }
                Detection::Cleared { .. } => cleared_at = Some(i),
                Detection::Normal => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(raised_at, Some(200), "30 deviations out: raised on the first sample of the shift");
        let cleared = cleared_at.expect("the new level became the baseline");
        // `shift_after` is one hour: 120 samples at 30 s, then `clear_after`.
        assert!((320..=330).contains(&cleared), "cleared at {cleared}");
        // Back to the old level: a return, not an anomaly.
        for i in 560..700 {
            let v = d.sample(1, at(i * step), 100.0 + wobble(i));
            assert!(!anomalous(&v), "{i}: {v:?}");
        }
    }

    #[test]
    fn a_shift_opened_by_a_burst_settles_where_the_series_settled() {
        // A database's CPU at 14 %, a burst to 76 % for two samples (a crash, a restart), then a
        // new level at 17 %: the shift is to 17, not to the mean of the hour after the burst
        // began (about 26). Days later the CPU climbs to 27 %: not a "return" to a level the
        // series never had.
        let step = 5 * MIN;
        let mut d = Detector::new(DetectConfig::default());
        let mut i = 0;
        let mut feed = |d: &mut Detector, n: i64, value: f64| {
            for _ in 0..n {
                d.sample(1, at(i * step), value + 0.5 * wobble(i));
                i += 1;
            }
        };
        feed(&mut d, 600, 14.0);
        feed(&mut d, 2, 76.0);
        feed(&mut d, 1200, 17.0);
        let flat = |d: &mut Detector| d.series.get_mut(1).expect("a series").models[0];
        let settled = flat(&mut d);
        assert!((settled.level - 17.0).abs() < 0.5, "shifted to {}", settled.level);
        assert!((settled.before_shift - 14.0).abs() < 0.5, "from {}", settled.before_shift);
        feed(&mut d, 6, 27.0);
        let climbed = flat(&mut d);
        assert!((climbed.level - 17.0).abs() < 0.5, "the climb was taken for a return: {}", climbed.level);
    }

    #[test]
    fn a_filling_disk_is_forecast_with_the_time_left_then_cleared() {
        let mut d = Detector::new(DetectConfig::default());
        d.register(7, "filesystem_free_ratio");
        d.register(8, "cpu_utilisation");
        // An hour of steady free space, every minute: nothing to forecast.
        let mut i = 0;
        while i < 60 {
            let v = d.sample(7, at(i * MIN), 0.50 + 0.002 * wobble(i));
            assert_eq!(v.forecast, Detection::Normal, "{i}");
            assert_eq!(d.sample(8, at(i * MIN), 0.2).forecast, Detection::Normal);
            i += 1;
        }
        // Then it fills at 0.4 percentage points a minute: from 0.50 that is 125 minutes.
        let free = |i: i64| 0.50 - 0.004 * (i - 60) as f64 + 0.001 * wobble(i);
        let mut first = None;
        while i < 60 + 124 {
            if let Detection::Forecast { score, eta_ms, limit, value } = d.sample(7, at(i * MIN), free(i)).forecast {
                assert_eq!(limit, 0.0);
                // The line's estimate of the time left, against the truth: close once the line
                // no longer reaches back into the steady hour.
                let truth = value / 0.004 * MIN as f64;
                let tolerance = if i >= 60 + TREND_SAMPLES as i64 { 0.1 } else { 0.3 };
                assert!(
                    (eta_ms as f64 - truth).abs() < tolerance * truth + 2.0 * MIN as f64,
                    "{i}: {eta_ms} vs {truth}"
                );
                assert!((0.5..=1.0).contains(&score), "{score}");
                first.get_or_insert((i, eta_ms));
            }
            i += 1;
        }
        let (when, eta) = first.expect("the fill is forecast");
        assert!(eta <= 2 * HOUR_MS, "within the horizon: {eta}");
        // 125 minutes to go at the start, beyond the 2 h horizon: forecast once the line through
        // the last 32 minutes sees the fill.
        assert!(when <= 60 + TREND_SAMPLES as i64, "forecast once the window is in the fill: {when}");
        assert_eq!(eta_text(eta), format!("{}m", eta / MIN), "{eta}");
        // Full: score 1, time left 0.
        match d.sample(7, at(i * MIN), -0.001).forecast {
            Detection::Forecast { score, eta_ms: 0, .. } => assert_eq!(score, 1.0),
            other => panic!("{other:?}"),
        }
        i += 1;
        // Cleaned up: the forecast clears.
        let mut cleared = false;
        for k in 0..20 {
            if let Detection::Cleared { .. } = d.sample(7, at((i + k) * MIN), 0.9).forecast {
                cleared = true;
                break;
            }
        }
        assert!(cleared);
        assert_eq!(eta_text(0), "now");
        assert_eq!(eta_text(3 * HOUR_MS), "3h");
        assert_eq!(eta_text(3 * DAY_MS), "3d");
    }

    fn saturated(v: &Verdict) -> Option<i64> {
        match v.saturation {
            Detection::Saturated { lasted_ms, .. } => Some(lasted_ms),
            _ => None,
        }
    }

    #[test]
    fn a_sustained_saturation_is_raised_after_its_for_a_dip_resets_it_and_it_clears() {
        // cpu_utilisation: at or above 0.95 for 1 minute (the default), every 15 s.
        let mut d = Detector::new(DetectConfig::default());
        d.register(1, "cpu_utilisation");
        d.register(2, "latency_ms");
        let step = 15_000;
        let mut i = 0;
        let mut next = |d: &mut Detector, v: f64| {
            i += 1;
            assert_eq!(d.sample(2, at(i * step), v).saturation, Detection::Normal, "no ceiling, no watch");
            d.sample(1, at(i * step), v)
        };
        for k in 0..40 {
            assert_eq!(next(&mut d, 0.3 + 0.02 * wobble(k)).saturation, Detection::Normal);
        }
        // 45 s at the ceiling, a dip to 0.94, then at the ceiling again: the minute starts over.
        for _ in 0..4 {
            assert_eq!(saturated(&next(&mut d, 0.97)), None);
        }
        assert_eq!(next(&mut d, 0.94).saturation, Detection::Normal, "a dip is no clear: nothing was raised");
        for k in 0..4 {
            assert_eq!(saturated(&next(&mut d, 0.95)), None, "{k}: {}s of a minute", 15 * k);
        }
        // The fifth sample of the run: one minute at or above 0.95.
        let v = next(&mut d, 1.0);
        match v.saturation {
            Detection::Saturated { value, threshold, lasted_ms, baseline } => {
                assert_eq!((value, threshold, lasted_ms), (1.0, 0.95, 60_000));
                let b = baseline.expect("a warm series says what its baseline expected");
                assert!((b.expected - 0.3).abs() < 0.05 && b.upper < 0.95, "{b:?}");
            }
            other => panic!("expected a saturation, got {other:?}"),
        }
        // Repeated while it lasts, with the time so far; one sample below does not clear it,
        // and the next one above repeats it.
        assert_eq!(saturated(&next(&mut d, 0.99)), Some(75_000));
        assert_eq!(next(&mut d, 0.5).saturation, Detection::Normal);
        assert_eq!(saturated(&next(&mut d, 0.99)), Some(0), "still raised; the run starts over");
        // Cleared after `clear_after` (3) samples in a row below.
        assert_eq!(next(&mut d, 0.5).saturation, Detection::Normal);
        assert_eq!(next(&mut d, 0.4).saturation, Detection::Normal);
        assert_eq!(next(&mut d, 0.3).saturation, Detection::Cleared { value: 0.3 });
        assert_eq!(next(&mut d, 0.3).saturation, Detection::Normal);
        // A new saturation waits its minute again.
        for _ in 0..4 {
            assert_eq!(saturated(&next(&mut d, 0.99)), None);
        }
        assert_eq!(saturated(&next(&mut d, 0.99)), Some(60_000));
        let b = Baseline { expected: 0.012, lower: -0.008, upper: 0.032 };
        let text = saturation_text("cpu_utilisation", 1.0, 0.95, 240_000, Some(b));
        assert_eq!(text, "cpu_utilisation at 100% for 4m (saturated at ≥ 95%, expected 1.2% ± 2%)");
        let b = Baseline { expected: 30.0, lower: 27.5, upper: 32.5 };
        let text = saturation_text("pool_used", 48.0, 45.5, 30_000, Some(b));
        assert_eq!(text, "pool_used at 48 for 30s (saturated at ≥ 45.5, expected 30 ± 2.5)");
        let text = saturation_text("x", 0.925, 0.9, 3 * HOUR_MS, None);
        assert_eq!(text, "x at 92.5% for 3h (saturated at ≥ 90%)");
    }

    #[test]
    fn a_saturation_is_news_even_where_past_excursions_made_the_baseline_blind_to_it() {
        // The live case: CPU idles at 0.01 with a build every 10 minutes that holds it at 0.7 to
        // 0.9 for 2 minutes (every 15 s for six hours, the last build ending 4 minutes before),
        // then it is pinned at 1.0.
        let mut d = Detector::new(DetectConfig::default());
        d.register(1, "cpu_utilisation");
        let step = 15_000;
        let value = |i: i64| {
            if i % 40 < 8 {
                0.8 + 0.1 * wobble(i)
            } else {
                0.01 + 0.005 * wobble(i)
            }
        };
        let mut i = 0;
        while i < 6 * 240 + 8 {
            let v = d.sample(1, at(i * step), value(i));
            assert_eq!(saturated(&v), None, "{i}: below the ceiling");
            i += 1;
        }
        for _ in 0..16 {
            assert_eq!(d.sample(1, at(i * step), value(i)).saturation, Detection::Normal);
            i += 1;
        }
        let pinned = i;
        let mut raised = None;
        while i < pinned + 12 {
            let v = d.sample(1, at(i * step), 1.0);
            assert!(!anomalous(&v), "{}: the baseline has seen this before: {v:?}", i - pinned);
            if let Detection::Saturated { lasted_ms, baseline, .. } = v.saturation {
                raised.get_or_insert((i - pinned, lasted_ms, baseline));
            }
            i += 1;
        }
        let (k, lasted, baseline) = raised.expect("the saturation is raised");
        assert_eq!((k, lasted), (4, 60_000), "after one minute at 1.0");
        // The band the baseline would judge it by, for the explanation.
        let b = baseline.expect("a baseline");
        assert!(b.expected < 0.1, "{b:?}");
    }

    #[test]
    fn a_limit_reached_then_recovered_clears_at_once_without_a_new_forecast() {
        // Disk space freed: the free ratio went past its limit (0.25) down to 0.1, then a cleanup
        // brings it to 0.9. A limit direction fixed by the metric (free: falling), not re-read
        // from the window, sees the recovery for what it is.
        let limit = LimitConfig {
            metric: "filesystem_free_ratio".into(),
            limit: 0.25,
            horizon: HumanDuration::from_millis(2 * HOUR_MS),
            direction: None,
        };
        assert_eq!(limit.direction(), Some(Direction::Falling));
        let mut d = Detector::new(DetectConfig { limits: vec![limit], ..DetectConfig::default() });
        d.register(7, "filesystem_free_ratio");
        let mut i = 0;
        let mut next = |d: &mut Detector, v: f64| {
            i += 1;
            d.sample(7, at(i * MIN), v).forecast
        };
        for k in 0..40 {
            assert_eq!(next(&mut d, 0.5 + 0.002 * wobble(k)), Detection::Normal);
        }
        let mut forecast = false;
        for k in 1..=40 {
            forecast |= matches!(next(&mut d, 0.5 - 0.01 * k as f64), Detection::Forecast { .. });
        }
        assert!(forecast, "the fill is forecast");
        for _ in 0..10 {
            assert!(matches!(next(&mut d, 0.1), Detection::Forecast { eta_ms: 0, .. }), "past the limit: now");
        }
        // Freed: never "reached" again, cleared on the third sample (clear_after).
        assert_eq!(next(&mut d, 0.9), Detection::Normal);
        assert_eq!(next(&mut d, 0.9), Detection::Normal);
        assert_eq!(next(&mut d, 0.9), Detection::Cleared { value: 0.9 });
        for k in 0..2 * TREND_SAMPLES {
            assert_eq!(next(&mut d, 0.9 - 0.001 * wobble(k as i64).abs()), Detection::Normal, "{k}");
        }
    }

    #[test]
    fn a_limit_jumped_past_is_reached_unless_a_saturation_view_owns_the_ceiling() {
        // A scratch disk filled in seconds, before its trend window was half full: free space at
        // its limit is news however it got there. A CPU pinned at once is the saturation view's
        // news (sustained), not "reaches 0.95 in now".
        for (metric, start, past, reached) in
            [("filesystem_free_ratio", 1.0, 0.0, true), ("cpu_utilisation", 0.1, 1.0, false)]
        {
            let mut d = Detector::new(DetectConfig::default());
            d.register(1, metric);
            let mut seen = None;
            for i in 0..3 * TREND_SAMPLES as i64 {
                let v = if i < 4 { start } else { past };
                if let Detection::Forecast { eta_ms, .. } = d.sample(1, at(i * 1000), v).forecast {
                    seen.get_or_insert((i, eta_ms));
                }
            }
            match seen {
                Some((i, eta_ms)) => {
                    assert!(reached, "{metric}: no forecast expected, got one at sample {i}");
                    assert_eq!(eta_ms, 0, "{metric}: at the limit");
                    assert_eq!(i, TREND_SAMPLES as i64 / 2 - 1, "{metric}: once the window is half full");
                }
                None => assert!(!reached, "{metric}: the limit is reached"),
            }
        }
    }

    #[test]
    fn every_saturation_ceiling_is_forecast_unless_a_limit_names_its_metric_or_it_is_off() {
        let ceiling = |metric: &str, forecast_ms: i64| SaturationConfig {
            metric: metric.into(),
            at: 0.9,
            sustained: HumanDuration::from_millis(MIN),
            forecast: HumanDuration::from_millis(forecast_ms),
        };
        let c = DetectConfig {
            saturation: vec![ceiling("db_pool_utilisation", 30 * MIN), ceiling("cpu_utilisation", 0)],
            ..DetectConfig::default()
        };
        let limits = c.forecast_limits();
        let pool = limits.iter().find(|l| l.metric == "db_pool_utilisation").expect("the pool's ceiling");
        assert_eq!((pool.limit, pool.horizon.millis(), pool.direction), (0.9, 30 * MIN, Some(Direction::Rising)));
        assert!(!limits.iter().any(|l| l.metric == "cpu_utilisation"), "forecast \"0s\": none");
        assert_eq!(limits[0].metric, "filesystem_free_ratio", "the limits come first");
        // The pool climbing from 0.3 toward its ceiling is forecast before it gets there.
        let mut d = Detector::new(c.clone());
        d.register(1, "db_pool_utilisation");
        let first = (0..60).find_map(|i| match d.sample(1, at(i * MIN), 0.3 + 0.01 * i as f64).forecast {
            Detection::Forecast { limit, eta_ms, .. } => Some((i, limit, eta_ms)),
            _ => None,
        });
        let (i, limit, eta_ms) = first.expect("the climb is forecast");
        assert_eq!(limit, 0.9);
        assert!(eta_ms > 0 && 0.3 + 0.01 * (i as f64) < 0.9, "before the ceiling: sample {i}, eta {eta_ms}");
        // A limit for the metric replaces the ceiling's forecast.
        let own = LimitConfig {
            metric: "db_pool_utilisation".into(),
            limit: 0.8,
            horizon: HumanDuration::from_millis(HOUR_MS),
            direction: None,
        };
        let c = DetectConfig { limits: vec![own.clone()], ..c };
        assert_eq!(c.forecast_limits(), vec![own]);
    }

    #[test]
    fn a_limit_direction_is_configured_named_or_taken_from_the_first_sample() {
        let limit = |metric: &str, direction| LimitConfig {
            metric: metric.into(),
            limit: 100.0,
            horizon: HumanDuration::from_millis(2 * HOUR_MS),
            direction,
        };
        assert_eq!(limit("memory_available_bytes", None).direction(), Some(Direction::Falling));
        assert_eq!(limit("db_pool_utilisation", None).direction(), Some(Direction::Rising));
        assert_eq!(limit("active_connections", None).direction(), None);
        assert_eq!(limit("cpu_idle", Some(Direction::Rising)).direction(), Some(Direction::Rising));
        // Unnamed: the side the series starts on. Connections climbing from 20 toward 100 are
        // forecast; a climb from 120 (above the limit: it falls toward it) moves away from it.
        for (start, expect) in [(20.0, true), (120.0, false)] {
            let c = DetectConfig { limits: vec![limit("active_connections", None)], ..DetectConfig::default() };
            let mut d = Detector::new(c);
            d.register(1, "active_connections");
            let mut seen = false;
            for i in 0..60 {
                let v = start + (i as f64 * 1.3).min(79.0) + wobble(i);
                seen |= matches!(d.sample(1, at(i * MIN), v).forecast, Detection::Forecast { .. });
            }
            assert_eq!(seen, expect, "starting at {start}");
        }
    }

    /// The trend's forecast as it was computed before its fast path: every median sorted.
    fn forecast_by_sorting(t: &TrendState, ceiling_watched: bool) -> Option<i64> {
        let len = usize::from(t.len);
        if len < TREND_SAMPLES / 2 {
            return None;
        }
        let start = (usize::from(t.head) + TREND_SAMPLES - len) % TREND_SAMPLES;
        let points: Vec<(i64, f64)> =
            (0..len).map(|i| (t.at[(start + i) % TREND_SAMPLES], t.value[(start + i) % TREND_SAMPLES])).collect();
        let value = points[len - 1].1;
        let median = |mut xs: Vec<f64>| {
            let n = xs.len();
            xs.sort_by(f64::total_cmp);
            if n % 2 == 1 {
                xs[n / 2]
            } else {
                xs[n / 2 - 1] + (xs[n / 2] - xs[n / 2 - 1]) / 2.0
            }
        };
        let medians = |ps: &[(i64, f64)]| {
            (median(ps.iter().map(|p| p.0 as f64).collect()), median(ps.iter().map(|p| p.1).collect()))
        };
        let third = len / 3;
        let (tl, vl) = medians(&points[..third]);
        let (tr, vr) = medians(&points[len - third..]);
        if tr <= tl {
            return None;
        }
        let slope = (vr - vl) / (tr - tl);
        let line = |at: i64| vr + slope * (at as f64 - tr);
        if (t.falling && value <= t.limit) || (!t.falling && value >= t.limit) {
            return (t.raised || !ceiling_watched).then_some(0);
        }
        let (_, vm) = medians(&points[third..len - third]);
        if !(0.2..=0.8).contains(&((vm - vl) / (vr - vl))) {
            return None;
        }
        if (t.falling && slope >= 0.0) || (!t.falling && slope <= 0.0) {
            return None;
        }
        let mut spread: Vec<f64> = points.iter().map(|&(at, v)| (v - line(at)).abs()).collect();
        spread.sort_by(f64::total_cmp);
        let noise = spread[len / 2] * MAD_TO_SIGMA;
        let eta = (t.limit - line(points[len - 1].0)) / slope;
        if !(eta.is_finite() && eta >= 0.0) || (vr - vl).abs() < 3.0 * noise {
            return None;
        }
        (eta <= t.horizon_ms as f64).then_some(eta.ceil() as i64)
    }

    #[test]
    fn the_median_networks_sort_every_input_of_zeros_and_ones() {
        // The 0-1 principle: a network of compare-exchanges that sorts every sequence of zeros
        // and ones sorts every sequence.
        for n in [10, 12] {
            for bits in 0u32..(1 << n) {
                let keys: Vec<i64> = (0..n).map(|i| i64::from((bits >> i) & 1)).collect();
                let sorted = match n {
                    10 => sort_10(keys[..].try_into().unwrap()).to_vec(),
                    _ => sort_12(keys[..].try_into().unwrap()).to_vec(),
                };
                let ones = bits.count_ones() as usize;
                let expected: Vec<i64> = (0..n).map(|p| i64::from(p >= n - ones)).collect();
                assert_eq!(sorted, expected, "{n}: {bits:b}");
            }
        }
    }

    #[test]
    fn a_median_found_by_counting_is_the_sorted_one_to_the_bit() {
        // Ties, both zeros, negatives, infinities and NaNs of either sign, every length a
        // trend's thirds take and more.
        let pool = [
            0.0,
            -0.0,
            1.5,
            -1.5,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN_POSITIVE,
            -7.25,
            1e300,
            3.0,
            0.3,
        ];
        for n in 1..=TREND_SAMPLES {
            for seed in 0..200 {
                let xs: Vec<f64> = (0..n as i64)
                    .map(|i| pool[(wobble(seed * 131 + i) * 1000.0).abs() as usize % pool.len()])
                    .collect();
                let xs: Vec<f64> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| if (seed + i as i64) % 3 == 0 { x * wobble(seed + i as i64) } else { x })
                    .collect();
                let mut sorted = xs.clone();
                sorted.sort_by(f64::total_cmp);
                let expected = if n % 2 == 1 {
                    sorted[n / 2]
                } else {
                    sorted[n / 2 - 1] + (sorted[n / 2] - sorted[n / 2 - 1]) / 2.0
                };
                assert_eq!(median(&xs).to_bits(), expected.to_bits(), "{xs:?}");
            }
        }
    }

    #[test]
    fn the_trend_forecasts_exactly_what_sorting_every_median_did() {
        // Climbs and drains of every steepness and noise, flat and stepped series, repeated
        // values (ties), values near the largest float, and both directions, each pushed
        // sample by sample and compared with the forecast computed by sorting.
        let shapes: [&dyn Fn(i64) -> f64; 8] = [
            &|i| 0.3 + 0.05 * wobble(i),
            &|i| 0.5 + 0.004 * i as f64 + 0.01 * wobble(i),
            &|i| 0.9 - 0.01 * i as f64 + 0.002 * wobble(i),
            &|i| if i % 40 < 20 { 0.2 } else { 0.9 },
            &|i| (0.1 * (i / 7) as f64).min(1.2),
            &|i| ((i * 37) % 11) as f64 / 10.0,
            &|i| f64::MAX / 2.0 * wobble(i),
            &|i| 0.96 + 0.03 * wobble(i) - 0.2 * f64::from(u8::from(i % 90 > 60)),
        ];
        let mut forecasts = 0;
        for (k, shape) in shapes.iter().enumerate() {
            for (limit, falling) in [(1.0, false), (0.95, false), (0.0, true), (0.5, true)] {
                let config = LimitConfig {
                    metric: "m".into(),
                    limit,
                    horizon: HumanDuration::from_millis(2 * HOUR_MS),
                    direction: Some(if falling { Direction::Falling } else { Direction::Rising }),
                };
                let mut t = TrendState::new(&config, shape(0));
                for i in 0..400 {
                    let at = i * MIN + (i % 3) * 1000;
                    let watched = i % 2 == 0;
                    let fast = t.push(at, shape(i), watched);
                    assert_eq!(fast, forecast_by_sorting(&t, watched), "shape {k}, limit {limit}, sample {i}");
                    forecasts += usize::from(fast.is_some());
                    t.raised = fast.is_some() || (t.raised && i % 5 != 0);
                }
            }
        }
        assert!(forecasts > 100, "the shapes make forecasts: {forecasts}");
    }

    #[test]
    fn noise_near_a_limit_is_no_trend() {
        let mut d = Detector::new(DetectConfig::default());
        d.register(7, "filesystem_free_ratio");
        for i in 0..500 {
            let v = d.sample(7, at(i * MIN), 0.06 + 0.02 * wobble(i));
            assert_eq!(v.forecast, Detection::Normal, "{i}");
        }
    }

    #[test]
    fn a_shift_in_a_spiky_series_is_raised_by_its_drift() {
        // Noise of ±10 around 100 with a spike to 160 every 50 samples (so a sample out of band
        // is this series' normal), then the level moves up by 28: about 4.4 robust deviations,
        // so the samples of the shift go in and out of the band (which widens as it learns from
        // those inside), and no one of them is surprising for this series.
        let value = |i: i64| 100.0 + 10.0 * wobble(i) + if i % 50 == 25 { 60.0 } else { 0.0 };
        let run = |drift: bool, by: f64| {
            let mut d = Detector::new(DetectConfig::default());
            for i in 0..3000 {
                d.sample(1, at(i * 5 * MIN), value(i));
            }
            for i in 3000..3012 {
                let v = 100.0 + by + 10.0 * wobble(i);
                let s = &mut d.series.get_mut(1).expect("a series");
                if !drift {
                    // Without the drift view: its rates as if it always drifted.
                    s.drift_rate = [1.0; DRIFT_LEVELS];
                }
                if let Detection::Anomalous { lone, run, .. } = d.sample(1, at(i * 5 * MIN), v).anomaly {
                    return Some((i - 3000, lone, run));
                }
            }
            None
        };
        let (k, lone, out_run) = run(true, 28.0).expect("the shift is raised");
        assert!(k < 4, "within the first samples of the shift: {k}");
        // Raised by the drift: lone (held by the engine until something corroborates it) unless
        // as many samples in a row were out of band as a band anomaly needs.
        assert_eq!(lone, out_run < DetectConfig::default().min_consecutive, "raised at {k} with {out_run} out of band");
        assert_eq!(run(false, 28.0), None, "the lone-error and episode views alone miss it");
    }

    #[test]
    fn a_drift_within_the_band_is_lone_until_the_series_stays_out_of_band() {
        // Three days of noise of ±10 around 100, then the level moves up to 80 % of the band's
        // half-width: every sample of the move is within the band, and the drift view raises it.
        let mut d = Detector::new(DetectConfig::default());
        let mut last = None;
        for i in 0..864 {
            if let Detection::Normal = d.sample(1, at(i * 5 * MIN), 100.0 + 10.0 * wobble(i)).anomaly {
                last = Some(i);
            }
        }
        assert_eq!(last, Some(863), "calm history");
        // The band's half-width now, from a copy of the series (judging changes its state).
        let mut probe = d.series.whole(1).expect("a series");
        let j = probe.judge(&DetectConfig::default(), at(864 * 5 * MIN).millis(), 100.0).expect("a newer sample");
        let band = j.baseline.upper - j.baseline.expected;
        assert!(band > 0.0, "a learned band: {:?}", j.baseline);
        let mut raised = None;
        for i in 864..876 {
            let v = 100.0 + 0.8 * band + 2.0 * wobble(i);
            if let Detection::Anomalous { lone, run, baseline, .. } = d.sample(1, at(i * 5 * MIN), v).anomaly {
                assert!(v < baseline.upper, "within the band: {v} against {baseline:?}");
                raised = Some((lone, run));
                break;
            }
        }
        assert_eq!(raised, Some((true, 0)), "a drift within the band, raised lone with no sample out of band");
        // Then the series goes out of band and stays there: persistence, not lone.
        let mut verdicts = Vec::new();
        for i in 876..880 {
            verdicts.push(d.sample(1, at(i * 5 * MIN), 100.0 + 3.0 * band).anomaly);
        }
        let runs: Vec<(bool, u32)> = verdicts
            .iter()
            .filter_map(|v| match *v {
                Detection::Anomalous { lone, run, .. } => Some((lone, run)),
                _ => None,
            })
            .collect();
        assert_eq!(runs[..2], [(false, 1), (false, 2)], "repeats, then two samples out of band in a row");
    }

    #[test]
    fn a_series_that_always_wanders_is_not_drifting() {
        // Errors that lean the same way for a while, all the time (a smoothed noise the flat
        // level cannot follow): drifts are this series' normal, and its own drift rates say so.
        let mut smooth = 0.0;
        let samples: Vec<(Timestamp, f64)> = (0..6000)
            .map(|i| {
                smooth = 0.8 * smooth + 0.2 * wobble(i);
                (at(i * 5 * MIN), 100.0 + 40.0 * smooth)
            })
            .collect();
        let scores = anomaly_scores(&samples, &DetectConfig::default());
        let raised = scores[1000..].iter().filter(|&&s| s >= 0.632).count();
        assert!(raised <= 2, "{raised} anomalies in 5,000 samples of the series' usual wander");
    }

    #[test]
    fn recurring_spikes_are_this_series_normal_but_a_burst_of_them_is_not() {
        // Near zero, with a spike to 20 every 100 samples (5 minutes apart).
        let mut samples: Vec<(Timestamp, f64)> =
            (0..3000).map(|i| (at(i * 5 * MIN), if i % 100 == 50 { 20.0 } else { 0.01 * wobble(i).abs() })).collect();
        // Then four more within an hour.
        for k in [3010, 3014, 3018, 3022] {
            samples[k % 3000].1 = 0.0;
            samples.push((at(k as i64 * 5 * MIN), 0.0));
        }
        let burst = [3030, 3033, 3036, 3039, 3042];
        let mut all = samples.clone();
        all.truncate(3000);
        for k in 3000..3060 {
            all.push((at(k * 5 * MIN), if burst.contains(&k) { 20.0 } else { 0.01 * wobble(k).abs() }));
        }
        let scores = anomaly_scores(&all, &DetectConfig::default());
        let first = scores[50];
        let late = scores[2950];
        assert!(first > 0.9, "the first spike is news: {first}");
        assert!(late < 0.6, "the thirtieth is not: {late}");
        let bunch = burst.iter().map(|&k| scores[k as usize]).fold(0.0, f64::max);
        assert!(bunch > 0.632, "spikes bunching up are: {bunch}");
    }

    #[test]
    fn scores_are_causal_bounded_and_one_per_sample() {
        let samples: Vec<(Timestamp, f64)> =
            (0..2000).map(|i| (at(i * 5 * MIN), 10.0 + wobble(i) + if i == 1500 { 30.0 } else { 0.0 })).collect();
        let all = anomaly_scores(&samples, &DetectConfig::default());
        assert_eq!(all.len(), samples.len());
        assert!(all.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!(all[..20].iter().all(|&s| s == 0.0), "nothing is judged while warming up");
        assert!(all[1500] > 0.95, "{}", all[1500]);
        let prefix = anomaly_scores(&samples[..1600], &DetectConfig::default());
        assert_eq!(prefix[..], all[..1600]);
    }

    #[test]
    fn warmup_non_finite_repeated_and_late_samples_are_ignored() {
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..19 {
            let v = d.sample(7, at(i * MIN), if i % 2 == 0 { 1.0 } else { 100.0 });
            assert_eq!(v, Verdict::NORMAL);
        }
        assert_eq!(d.sample(7, at(20 * MIN), f64::NAN), Verdict::NORMAL);
        assert_eq!(d.sample(7, at(21 * MIN), f64::INFINITY), Verdict::NORMAL);
        for _ in 0..100 {
            // A repeat of the last time, and a sample from the past, change nothing.
            assert_eq!(d.sample(7, at(18 * MIN), 1e9), Verdict::NORMAL);
            assert_eq!(d.sample(7, at(MIN), -1e9), Verdict::NORMAL);
        }
        assert_eq!(d.series[&7].n, 19);
        assert_eq!(d.series_count(), 1);
    }

    #[test]
    fn a_record_beyond_the_range_is_news_and_an_episode_scores_once_unless_it_worsens() {
        assert_eq!(novelty(5.0, 0.0, 10.0), 0.0);
        assert_eq!(novelty(5.0, 5.0, 5.0), 0.0, "a series that never moved has no range");
        assert!((novelty(10.1, 0.0, 10.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert!(novelty(-0.5, 0.0, 10.0) > 0.99);
        assert_eq!(novelty(11.0, f64::NAN, 10.0), 0.0);
        // Heavy-tailed noise between 0 and 100, then a climb past every value seen.
        let mut samples: Vec<(Timestamp, f64)> =
            (0..2000).map(|i| (at(i * 5 * MIN), 50.0 + 50.0 * wobble(i).powi(3))).collect();
        samples.extend((2000..2010).map(|i| (at(i * 5 * MIN), 104.0 + (i - 2000) as f64)));
        let scores = anomaly_scores(&samples, &DetectConfig::default());
        assert!(scores[2000] > 0.9, "the first record is news: {}", scores[2000]);
        // The climb goes on: each sample higher, but no worse a score than the first: silent.
        assert!(scores[2001..].iter().all(|&s| s == 0.0), "{:?}", &scores[2000..]);
        // The engine raises it on its first sample, says what the record is, and still gives the
        // band it was judged by.
        let mut d = Detector::new(DetectConfig::default());
        let highest = samples[..2000].iter().map(|s| s.1).fold(f64::MIN, f64::max);
        for &(t, v) in &samples[..2000] {
            d.sample(1, t, v);
        }
        match d.sample(1, samples[2000].0, samples[2000].1).anomaly {
            Detection::Anomalous { score, value, baseline, record: Some(r), .. } => {
                assert_eq!((score, value), (scores[2000], 104.0));
                assert!(r.high && r.previous == highest, "{r:?}");
                assert_eq!(r.over_ms, 2000 * 5 * MIN);
                assert!(baseline.lower < baseline.expected && baseline.expected < baseline.upper, "{baseline:?}");
                let by = 100.0 * (104.0 - highest) / highest;
                let text = format!("new high: {by:.1}% above the highest value in 6d");
                assert_eq!(record_text(value, &r), text);
            }
            other => panic!("expected a record anomaly, got {other:?}"),
        }
    }

    #[test]
    fn a_record_needs_the_days_a_season_needs_and_says_how_far_it_went() {
        // Every 5 minutes, a daily swing between 10 and 20 with a spike at noon that is higher
        // each day (20, 22, 24): each day's spike is a record of the days seen so far.
        let c = DetectConfig::default();
        let per_day = DAY_MS / (5 * MIN);
        let value = |i: i64| {
            let phase = (i % per_day) as f64 / per_day as f64;
            let noon = i % per_day == per_day / 2;
            if noon {
                20.0 + 2.0 * (i / per_day) as f64
            } else {
                10.0 + 9.0 * (std::f64::consts::PI * phase).sin() + 0.1 * wobble(i)
            }
        };
        let known = i64::from(c.season_min_cycles) * per_day;
        let mut d = Detector::new(c);
        let mut records = 0;
        for i in 0..known + per_day {
            if let Detection::Anomalous { record: Some(r), .. } = d.sample(1, at(i * 5 * MIN), value(i)).anomaly {
                assert!(i >= known, "{i}: a record before the series was known for two days: {r:?}");
                records += 1;
            }
        }
        assert!(records > 0, "the third day's spike is a record");
        let r = Record { high: false, previous: 20.0, over_ms: 3 * HOUR_MS };
        assert_eq!(record_text(15.0, &r), "new low: 25% below the lowest value in 3h");
        let r = Record { high: true, previous: 0.0, over_ms: 3 * DAY_MS };
        assert_eq!(record_text(0.25, &r), "new high: 0.25 above the highest value in 3d");
        let r = Record { high: true, previous: 200.0, over_ms: 90 * MIN };
        assert_eq!(record_text(203.0, &r), "new high: 1.5% above the highest value in 90m");
    }

    #[test]
    fn a_record_too_small_against_the_level_is_no_news() {
        // A latency of about 44.4 µs that stays within ±2 µs for three days (the PetShop client
        // that set a record 1 µs beyond its highest value, 7.6% above its level).
        let c = DetectConfig::default();
        let level = 44.4e-6;
        let calm = |i: i64| level + 2e-6 * wobble(i);
        let feed = |d: &mut Detector| {
            for i in 0..3 * DAY_MS / (5 * MIN) {
                d.sample(1, at(i * 5 * MIN), calm(i));
            }
        };
        let next = 3 * DAY_MS;
        let mut d = Detector::new(c.clone());
        feed(&mut d);
        let highest = d.series[&1].range_hi;
        let small = level * (1.0 + 0.9 * c.threshold * c.min_relative_deviation);
        assert!(small > highest, "a new high: {small} > {highest}");
        assert_eq!(d.sample(1, at(next), small).anomaly, Detection::Normal, "within the band's narrowest width");
        // Beyond that width, the same kind of new high is a record, raised at once.
        let mut d = Detector::new(c.clone());
        feed(&mut d);
        let large = level * (1.0 + 1.5 * c.threshold * c.min_relative_deviation);
        match d.sample(1, at(next), large).anomaly {
            Detection::Anomalous { record: Some(r), .. } => assert!(r.high && r.previous == highest, "{r:?}"),
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn a_near_impossible_sample_is_raised_at_once_a_merely_surprising_one_waits() {
        let calm = |i: i64| 100.0 + 10.0 * wobble(i);
        // Far out (score above 0.9): raised on its own sample.
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..300 {
            assert_eq!(d.sample(1, at(i * MIN), calm(i)).anomaly, Detection::Normal, "{i}");
        }
        match d.sample(1, at(300 * MIN), 400.0).anomaly {
            Detection::Anomalous { score, lone, .. } => {
                assert!(score >= AT_ONCE_SCORE, "{score}");
                assert!(lone, "nothing else on the series agrees yet");
            }
            other => panic!("expected an anomaly at once, got {other:?}"),
        }
        // A second sample out of band corroborates it: no longer lone.
        match d.sample(1, at(301 * MIN), 400.0).anomaly {
            Detection::Anomalous { lone, .. } => assert!(!lone, "a second sample agrees"),
            other => panic!("expected the anomaly to go on, got {other:?}"),
        }
        // Just out of band (a score between 0.63 and 0.9): not on its own.
        let mut d = Detector::new(DetectConfig::default());
        for i in 0..300 {
            d.sample(1, at(i * MIN), calm(i));
        }
        // The band's half-width over `threshold`, as the detector widens it while young.
        let s = &d.series[&1];
        let sigma = s.models[0].err * MAD_TO_SIGMA * (1.0 + YOUNG_SAMPLES / f64::from(s.n)).sqrt();
        let level = s.models[0].level;
        let v = d.sample(1, at(300 * MIN), level + 4.6 * sigma);
        assert_eq!(v.anomaly, Detection::Normal, "a lone surprise waits for a second sample");
        match d.sample(1, at(301 * MIN), level + 4.6 * sigma).anomaly {
            Detection::Anomalous { score, lone, .. } => {
                assert!((0.632..AT_ONCE_SCORE).contains(&score), "{score}");
                assert!(!lone, "raised on its second sample");
            }
            other => panic!("expected an anomaly on the second sample, got {other:?}"),
        }
    }

    #[test]
    fn the_normal_tail_is_accurate_where_it_matters() {
        // 2·Q(z) at 2, 4, 6 and 10 robust deviations, against reference values.
        for (z, p) in [(2.0, 4.550_026e-2), (4.0, 6.334_248e-5), (6.0, 1.973_175e-9), (10.0, 1.523_971e-23)] {
            let got = 10f64.powf(log10_tail(z));
            assert!((got / p - 1.0).abs() < 0.01, "z {z}: {got} vs {p}");
        }
        // P(X >= 2) for Binomial(16, 0.01).
        let p = 1.0 - 0.99f64.powi(16) - 16.0 * 0.01 * 0.99f64.powi(15);
        assert!((10f64.powf(log10_binomial_tail(16, 2, -2.0)) / p - 1.0).abs() < 1e-9);
    }
}
