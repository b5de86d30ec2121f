//! What a NAB evaluation measured, and its text table.

use super::corpus::Profile;
use super::scoring::NEVER_FIRES;
use std::fmt;

/// Rows after the probation period by outcome, counted as in NAB's score files: a detected row
/// inside a window is a true positive (every one of them, not only the first), an undetected
/// one a false negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
}

impl RowCounts {
    pub(super) fn add(&mut self, other: &RowCounts) {
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.false_negatives += other.false_negatives;
        self.true_negatives += other.true_negatives;
    }

    /// All scored rows.
    pub fn total(&self) -> usize {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }
}

/// One file under one profile at the profile's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    /// The file's key, `category/file.csv`.
    pub file: String,
    /// NAB's raw score of the file (TP worth + FP costs + FN costs; unbounded).
    pub raw: f64,
    pub counts: RowCounts,
    /// Windows labelled in the file.
    pub windows: usize,
    /// Windows with at least one row after the probation period (the ones that count).
    pub windows_scored: usize,
    /// Windows with at least one detection.
    pub windows_found: usize,
}

/// One profile: the threshold chosen jointly for all files and what it scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileScore {
    pub profile: Profile,
    /// A row is detected when its anomaly score is `>=` this; [`NEVER_FIRES`] (1.1) when firing
    /// nowhere scored best.
    pub threshold: f64,
    /// Sum of the files' raw scores.
    pub raw: f64,
    /// Raw score of NAB's null detector (constant score) under this profile.
    pub null: f64,
    /// `tpWeight * windows`: every window found at its first row, no false positive.
    pub perfect: f64,
    /// `100 * (raw - null) / (perfect - null)`: 0 for the null detector, 100 for the perfect one;
    /// `None` when the corpus has no window to find.
    pub normalized: Option<f64>,
    pub counts: RowCounts,
    pub windows: usize,
    pub windows_scored: usize,
    pub windows_found: usize,
    /// Per file, in corpus order.
    pub files: Vec<FileScore>,
}

/// The evaluation of one detector on one corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct NabReport {
    /// File keys in corpus order (the order of `scores` and of every profile's `files`).
    pub files: Vec<String>,
    pub windows: usize,
    pub rows: usize,
    pub probation_percent: f64,
    /// Where the profiles came from (a path, or NAB's defaults).
    pub profiles_source: String,
    /// Data files with no entry in the windows file, not scored.
    pub unlabelled: Vec<String>,
    /// One entry per profile, in the corpus's profile order (`standard` first).
    pub profiles: Vec<ProfileScore>,
    /// The detector's anomaly scores, one `Vec` per file (for [`super::write_results`]).
    pub scores: Vec<Vec<f64>>,
}

impl NabReport {
    /// The score under the profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&ProfileScore> {
        self.profiles.iter().find(|p| p.profile.name == name)
    }
}

/// `never` for [`NEVER_FIRES`]; six decimals when they say it exactly, else every digit (a
/// threshold of 0.999999999999 must not read as 1).
fn threshold_text(t: f64) -> String {
    let short = format!("{t:.6}");
    if t == NEVER_FIRES {
        "never".to_string()
    } else if short.parse::<f64>() == Ok(t) {
        short
    } else {
        format!("{t}")
    }
}

impl fmt::Display for NabReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "NAB v1.1 scoring: {} files, {} windows, {} rows; probation {}% of each file (at most {} rows); profiles: {}",
            self.files.len(),
            self.windows,
            self.rows,
            self.probation_percent * 100.0,
            (self.probation_percent * 5000.0).round(),
            self.profiles_source
        )?;
        if !self.unlabelled.is_empty() {
            writeln!(f, "not scored (no windows entry): {}", self.unlabelled.join(", "))?;
        }
        writeln!(f)?;
        let thresholds: Vec<String> = self.profiles.iter().map(|p| threshold_text(p.threshold)).collect();
        let tw = thresholds.iter().map(String::len).max().unwrap_or(0).max(9);
        let nw = self.profiles.iter().map(|p| p.profile.name.len()).max().unwrap_or(0).max(7);
        writeln!(
            f,
            "{:<nw$} {:>tw$} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8}",
            "profile", "threshold", "score", "raw", "null", "perfect", "found", "FP rows"
        )?;
        for (p, threshold) in self.profiles.iter().zip(&thresholds) {
            let score = p.normalized.map_or("n/a".to_string(), |s| format!("{s:.2}"));
            writeln!(
                f,
                "{:<nw$} {:>tw$} {:>7} {:>9.3} {:>9.3} {:>8.3} {:>8} {:>8}",
                p.profile.name,
                threshold,
                score,
                p.raw,
                p.null,
                p.perfect,
                format!("{}/{}", p.windows_found, p.windows),
                p.counts.false_positives
            )?;
        }
        if self.profiles.iter().any(|p| p.threshold == NEVER_FIRES) {
            writeln!(f, "(threshold `never`: no threshold scored better than never firing, NAB's null detector)")?;
        }
        writeln!(f, "(score: 0 = null detector, 100 = every window found at its start and no false positive)")?;
        writeln!(f)?;
        // Per file: raw score, windows found and false-positive rows under each profile.
        let width = self.files.iter().map(String::len).max().unwrap_or(4).max(4);
        let mut names = format!("{:<width$} {:>7}", "file", "windows");
        let mut columns = format!("{:<width$} {:>7}", "", "");
        for p in &self.profiles {
            names.push_str(&format!(" | {:<22}", p.profile.name));
            columns.push_str(&format!(" | {:>8} {:>5} {:>7}", "raw", "found", "FP rows"));
        }
        writeln!(f, "{}", names.trim_end())?;
        writeln!(f, "{}", columns.trim_end())?;
        for (i, name) in self.files.iter().enumerate() {
            let windows = self.profiles.first().map_or(0, |p| p.files[i].windows);
            write!(f, "{name:<width$} {windows:>7}")?;
            for p in &self.profiles {
                let s = &p.files[i];
                write!(f, " | {:>8.3} {:>5} {:>7}", s.raw, s.windows_found, s.counts.false_positives)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
