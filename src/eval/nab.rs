//! Anomaly detection scored with the rules of the Numenta Anomaly Benchmark (NAB) v1.1.
//!
//! The data flow: [`NabCorpus::load`] reads `timestamp,value` CSVs, the windows JSON and the cost
//! profiles, repairing what real data gets wrong rather than refusing it ([`RepairKind`]: a clock
//! stepping back, rows out of order, unreadable times or values, windows between rows or outside
//! the file; every row is kept, so every row is scored); [`detect`] runs a detector (one anomaly score in [0, 1] per row, causal) over every
//! file; [`score`] applies NAB's rules and sweeps one threshold over all files per profile;
//! [`write_results`] writes the scores in NAB's own results layout.
//!
//! The rules are NAB's `nab/sweeper.py`, `nab/optimizer.py`, `nab/scorer.py` and
//! `Runner.normalize` in `nab/runner.py` (v1.1), replicated rather than approximated:
//! - the first `min(floor(0.15 * rows), 750)` rows of each file are a probation period: nothing
//!   there is scored, and a window with no row after it counts neither as found nor as missed;
//! - a detected row inside a window scores `S(p) * tpWeight / S(-1)` with `S(p) = 2 / (1 + e^(5p)) - 1`
//!   (the scaled sigmoid) and `p = -(end - row + 1) / width`; a window keeps the best (so the
//!   first) of its detections, one found at the window's first row is worth exactly `tpWeight`;
//! - a window with no detection costs `fnWeight`;
//! - a detected row outside every window costs `S(p) * fpWeight` with `p = (row - end) / (width - 1)`
//!   measured from the end of the closest preceding window (`S = -1` past 3 widths), or the full
//!   `fpWeight` when no window precedes it;
//! - per profile, one threshold (detected: `score >= threshold`) is chosen for all files at once, the
//!   one maximising the summed raw score (ties: the highest threshold; 1.1 means "never fires");
//! - normalised score = `100 * (raw - null) / (perfect - null)`, where `null` is the raw score of
//!   NAB's null detector (a constant score, through the same sweep: on real data, never firing,
//!   `-fnWeight` per window) and `perfect = tpWeight * windows`.
//!
//! Beside the all-files figures, each category (sub-folder of the data folder) is scored at the
//! all-files threshold and, leave-one-category-out, at the threshold chosen on every other
//! category; both normalised by the category's own null and perfect scores
//! ([`CategoryScore`]). The gap between the two is how much the threshold is fitted to the data.

mod corpus;
mod report;
mod results;
mod scoring;
mod windowed_gaussian;

pub use corpus::{
    CostMatrix, NabCorpus, NabFile, NabWindow, Profile, ProfilesSource, RepairCount, RepairKind, Repairs,
    CLOCK_STEP_INTERVALS, GAP_INTERVALS, PROBATION_PERCENT, REPAIR_EXAMPLES,
};
pub use report::{
    held_out_overall, CategoryProfileScore, CategoryScore, FileScore, NabReport, ProfileScore, RowCounts,
};
pub use results::write_results;
pub use scoring::{category_of, scaled_sigmoid, score_at_threshold, NEVER_FIRES};
pub use windowed_gaussian::windowed_gaussian;

use crate::model::Timestamp;
use std::path::PathBuf;

/// What went wrong loading, scoring or writing a NAB evaluation. Each names the file and, where
/// the text allows, the line (1-based), the column or JSON path, or the window.
#[derive(Debug, thiserror::Error)]
pub enum NabError {
    /// A file or folder could not be read or written.
    #[error("{}: {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A data CSV is malformed: `line` is 1-based (the header is line 1).
    #[error("{}:{line}: {message}", .path.display())]
    Csv { path: PathBuf, line: usize, message: String },
    /// The windows or profiles JSON is malformed or does not fit the data.
    #[error("{}: {message}", .path.display())]
    Json { path: PathBuf, message: String },
    /// The detector under test broke its contract (one finite score in [0, 1] per row).
    #[error("detector output for `{file}`: {message}")]
    Detector { file: String, message: String },
    /// A value given by the caller is unusable (e.g. a detector name for the results folder).
    #[error("{0}")]
    Invalid(String),
}

/// Runs `detector` over every file of the corpus (one call per file, files spread over the
/// available cores) and returns its anomaly scores, one `Vec` per file in corpus order.
pub fn detect(corpus: &NabCorpus, detector: impl Fn(&[(Timestamp, f64)]) -> Vec<f64> + Sync) -> Vec<Vec<f64>> {
    let files = corpus.files();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, files.len().max(1));
    let detector = &detector;
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); files.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    files
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, f)| (i, detector(f.rows())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panicking detector is a bug in the detector: let it surface as one.
            for (i, scores) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[i] = scores;
            }
        }
    });
    out
}

/// Scores a detector's anomaly scores (one `Vec` per corpus file, one score per row) under every
/// profile of the corpus: best threshold, raw and normalised score, counts, per-file details.
pub fn score(corpus: &NabCorpus, scores: Vec<Vec<f64>>) -> Result<NabReport, NabError> {
    scoring::check_scores(corpus, &scores)?;
    Ok(scoring::report(corpus, scores))
}

/// [`detect`] then [`score`]: the whole evaluation of one detector.
pub fn evaluate(
    corpus: &NabCorpus,
    detector: impl Fn(&[(Timestamp, f64)]) -> Vec<f64> + Sync,
) -> Result<NabReport, NabError> {
    score(corpus, detect(corpus, detector))
}
