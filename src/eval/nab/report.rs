//! What a NAB evaluation measured, and its text table.

use super::corpus::{Profile, Repairs};
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

/// One category (a sub-folder of the data folder) under one profile. Both figures are
/// normalised by the category's own null and perfect scores, as NAB's per-category tables are.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryProfileScore {
    /// The profile's name.
    pub profile: String,
    /// Raw score of NAB's null detector on this category's files alone.
    pub null: f64,
    /// `tpWeight * windows` of this category.
    pub perfect: f64,
    /// Raw score of the category at the threshold chosen on all files.
    pub global_raw: f64,
    pub global_normalized: Option<f64>,
    /// The threshold chosen on every file outside this category ([`NEVER_FIRES`] when there is none).
    pub held_out_threshold: f64,
    /// Raw score of the category at `held_out_threshold`.
    pub held_out_raw: f64,
    pub held_out_normalized: Option<f64>,
}

/// One category's figures: all-files threshold and leave-one-category-out.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryScore {
    /// The sub-folder, e.g. `realKnownCause` (`.` for files at the top of the data folder).
    pub category: String,
    pub files: usize,
    pub windows: usize,
    /// One entry per profile, in the corpus's profile order.
    pub profiles: Vec<CategoryProfileScore>,
}

impl CategoryScore {
    /// The figures under the profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&CategoryProfileScore> {
        self.profiles.iter().find(|p| p.profile == name)
    }
}

/// Leave-one-category-out over the whole corpus for profile number `p`: each category scored at
/// the threshold chosen on the others, summed, normalised by the summed category nulls and
/// perfects. `None` with no window.
pub fn held_out_overall(categories: &[CategoryScore], p: usize) -> Option<f64> {
    let parts: Vec<&CategoryProfileScore> = categories.iter().filter_map(|c| c.profiles.get(p)).collect();
    let (raw, null, perfect) =
        parts.iter().fold((0.0, 0.0, 0.0), |(r, n, q), c| (r + c.held_out_raw, n + c.null, q + c.perfect));
    let span = perfect - null;
    (span > 0.0).then(|| 100.0 * (raw - null) / span)
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
    /// Per category, sorted by name: all-files and leave-one-category-out figures.
    pub categories: Vec<CategoryScore>,
    /// What was odd in the data and how it was handled, for the files with anything, in corpus order.
    pub repairs: Vec<(String, Repairs)>,
}

impl NabReport {
    /// The score under the profile named `name`.
    pub fn profile(&self, name: &str) -> Option<&ProfileScore> {
        self.profiles.iter().find(|p| p.profile.name == name)
    }
}

/// `never` for [`NEVER_FIRES`], else four decimals (the exact value is in the profile table
/// when it is the global one).
fn short_threshold(t: f64) -> String {
    if t == NEVER_FIRES {
        "never".to_string()
    } else {
        format!("{t:.4}")
    }
}

fn score_text(s: Option<f64>) -> String {
    s.map_or("n/a".to_string(), |s| format!("{s:.2}"))
}

impl NabReport {
    /// Per category: the score at the all-files threshold and the leave-one-category-out score.
    fn fmt_categories(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.categories.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "per category: `all` at the all-files threshold; `held out` at the threshold chosen on the other \
             categories (leave-one-category-out); each normalised by the category's own null and perfect"
        )?;
        let cw = self.categories.iter().map(|c| c.category.len()).max().unwrap_or(8).max(8);
        let mut names = format!("{:<cw$} {:>5} {:>7}", "category", "files", "windows");
        let mut columns = format!("{:<cw$} {:>5} {:>7}", "", "", "");
        for p in &self.profiles {
            names.push_str(&format!(" | {:<26}", p.profile.name));
            columns.push_str(&format!(" | {:>7} {:>8} {:>9}", "all", "held out", "threshold"));
        }
        writeln!(f, "{}", names.trim_end())?;
        writeln!(f, "{}", columns.trim_end())?;
        for c in &self.categories {
            write!(f, "{:<cw$} {:>5} {:>7}", c.category, c.files, c.windows)?;
            for p in &c.profiles {
                write!(
                    f,
                    " | {:>7} {:>8} {:>9}",
                    score_text(p.global_normalized),
                    score_text(p.held_out_normalized),
                    short_threshold(p.held_out_threshold)
                )?;
            }
            writeln!(f)?;
        }
        write!(f, "{:<cw$} {:>5} {:>7}", "all held out", self.files.len(), self.windows)?;
        for (i, p) in self.profiles.iter().enumerate() {
            write!(
                f,
                " | {:>7} {:>8} {:>9}",
                score_text(p.normalized),
                score_text(held_out_overall(&self.categories, i)),
                ""
            )?;
        }
        writeln!(f)?;
        writeln!(f)
    }

    /// What was odd in the data, per file: counts and the first few file:line examples.
    fn fmt_repairs(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let repaired: usize = self.repairs.iter().map(|(_, r)| r.repaired()).sum();
        let files = self.repairs.iter().filter(|(_, r)| r.repaired() > 0).count();
        let notes: usize = self
            .repairs
            .iter()
            .map(|(_, r)| r.kinds().iter().filter(|k| !k.kind.is_repair()).map(|k| k.count).sum::<usize>())
            .sum();
        if repaired == 0 {
            write!(f, "repaired: nothing")?;
        } else {
            write!(f, "repaired: {repaired} in {files} files")?;
        }
        writeln!(f, "; noted: {notes} (every row is kept and scored; line 1 is the header)")?;
        for (name, repairs) in &self.repairs {
            writeln!(f, "{name}")?;
            for k in repairs.kinds() {
                // Each example line names its kind, so one grep finds them all.
                for (n, (line, detail)) in k.examples.iter().enumerate() {
                    let count = if n == 0 { k.count.to_string() } else { String::new() };
                    writeln!(f, "  {:<20} {count:>6}  {name}:{line}: {detail}", k.kind.label())?;
                }
            }
        }
        writeln!(f)
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
        self.fmt_categories(f)?;
        self.fmt_repairs(f)?;
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
