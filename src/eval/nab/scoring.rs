//! NAB's scoring rules (`nab/sweeper.py`), the joint threshold sweep (`nab/optimizer.py`) and the
//! normalisation (`Runner.normalize` in `nab/runner.py`), v1.1. See the module doc of `nab` for
//! the rules in words.

use super::corpus::{CostMatrix, NabCorpus, NabFile, Profile};
use super::report::{CategoryProfileScore, CategoryScore, FileScore, NabReport, ProfileScore, RowCounts};
use super::NabError;
use std::collections::BTreeMap;

/// The threshold NAB's sweep starts from: above every score, so nothing is detected.
pub const NEVER_FIRES: f64 = 1.1;

/// NAB's scaled sigmoid of a relative position: `2 / (1 + e^(5 p)) - 1`, and -1 past 3.
/// -1 is a window's first row (0.98661), 0 just past its last row (0), 1 one width after it.
pub fn scaled_sigmoid(position: f64) -> f64 {
    if position > 3.0 {
        -1.0
    } else {
        2.0 * sigmoid(-5.0 * position) - 1.0
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// What a row is worth when detected, before the profile's weights (NAB's unweighted score).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// In the probation period: not scored.
    Probation,
    /// Inside window `window` (index in the file): `S(-(end - row + 1) / width)`.
    InWindow { window: usize, worth: f64 },
    /// Outside every window: `S((row - end) / (width - 1))` from the closest preceding window,
    /// -1 with none.
    Outside { worth: f64 },
}

/// The role of each row of `file`, walking it as NAB's `calcSweepScore` does.
fn roles(corpus: &NabCorpus, file: &NabFile) -> Vec<Role> {
    let windows = file.windows();
    let probation = corpus.probation_rows(file.rows().len());
    let mut next = 0;
    let mut current: Option<usize> = None;
    let mut previous: Option<usize> = None;
    let mut out = Vec::with_capacity(file.rows().len());
    for row in 0..file.rows().len() {
        if current.is_none() && windows.get(next).is_some_and(|w| w.first_row == row) {
            current = Some(next);
            next += 1;
        }
        let role = match current {
            Some(w) => {
                let win = &windows[w];
                let position = -((win.last_row - row + 1) as f64) / win.width() as f64;
                Role::InWindow { window: w, worth: scaled_sigmoid(position) }
            }
            None => {
                let worth = match previous.map(|w| &windows[w]) {
                    None => -1.0,
                    // NAB divides by zero here; a one-row window is as far as can be.
                    Some(win) if win.width() <= 1 => -1.0,
                    Some(win) => scaled_sigmoid((row - win.last_row) as f64 / (win.width() - 1) as f64),
                };
                Role::Outside { worth }
            }
        };
        out.push(if row < probation { Role::Probation } else { role });
        if let Some(w) = current {
            if windows[w].last_row == row {
                previous = Some(w);
                current = None;
            }
        }
    }
    out
}

/// Weighted worth of a detected row: TP `worth * tpWeight / S(-1)`, FP `worth * fpWeight`.
fn weighted(role: Role, costs: &CostMatrix) -> f64 {
    match role {
        Role::InWindow { worth, .. } => worth * costs.tp_weight / scaled_sigmoid(-1.0),
        Role::Outside { worth } => worth * costs.fp_weight,
        Role::Probation => 0.0,
    }
}

/// The threshold maximising the raw score summed over all files (NAB's optimizer: every
/// distinct score is a candidate, plus [`NEVER_FIRES`]; ties go to the higher threshold).
/// Returns (threshold, raw score).
fn best_threshold(corpus: &NabCorpus, roles: &[Vec<Role>], scores: &[Vec<f64>], costs: &CostMatrix) -> (f64, f64) {
    let all: Vec<usize> = (0..corpus.files().len()).collect();
    best_threshold_of(&all, corpus, roles, scores, costs)
}

/// [`best_threshold`] over the files at indices `subset` only (none: never firing, 0).
fn best_threshold_of(
    subset: &[usize],
    corpus: &NabCorpus,
    roles: &[Vec<Role>],
    scores: &[Vec<f64>],
    costs: &CostMatrix,
) -> (f64, f64) {
    struct Point {
        score: f64,
        worth: f64,
        window: Option<usize>,
    }
    let mut points = Vec::new();
    let mut window_offset = 0;
    for &i in subset {
        let (file, roles, scores) = (&corpus.files()[i], &roles[i], &scores[i]);
        for (&role, &score) in roles.iter().zip(scores) {
            let window = match role {
                Role::Probation => continue,
                Role::InWindow { window, .. } => Some(window_offset + window),
                Role::Outside { .. } => None,
            };
            points.push(Point { score, worth: weighted(role, costs), window });
        }
        window_offset += file.windows().len();
    }
    // Stable, highest score first; scores are finite (checked).
    points.sort_by(|a, b| b.score.total_cmp(&a.score));
    // A window counts (as missed until found) only when some row of it is scored.
    let mut windows: Vec<Option<f64>> = vec![None; window_offset];
    for p in &points {
        if let Some(w) = p.window {
            windows[w] = Some(-costs.fn_weight);
        }
    }
    let total = |windows: &[Option<f64>], fp: f64| fp + windows.iter().flatten().sum::<f64>();
    let mut fp = 0.0;
    let mut threshold = NEVER_FIRES;
    let mut best = (threshold, total(&windows, fp));
    for p in &points {
        if p.score != threshold {
            let s = total(&windows, fp);
            if s > best.1 {
                best = (threshold, s);
            }
            threshold = p.score;
        }
        match p.window {
            Some(w) => windows[w] = windows[w].map(|v| v.max(p.worth)),
            None => fp += p.worth,
        }
    }
    let s = total(&windows, fp);
    if s > best.1 {
        best = (threshold, s);
    }
    best
}

/// One file's raw score and counts when rows scoring `>= threshold` are detections.
fn file_score(file: &NabFile, roles: &[Role], scores: &[f64], costs: &CostMatrix, threshold: f64) -> FileScore {
    let mut windows: Vec<Option<f64>> = vec![None; file.windows().len()];
    let mut found = vec![false; file.windows().len()];
    let mut fp = 0.0;
    let mut counts = RowCounts::default();
    for (&role, &score) in roles.iter().zip(scores) {
        let detected = score >= threshold;
        match role {
            Role::Probation => continue,
            Role::InWindow { window, .. } => {
                let part = windows[window].get_or_insert(-costs.fn_weight);
                if detected {
                    *part = part.max(weighted(role, costs));
                    found[window] = true;
                    counts.true_positives += 1;
                } else {
                    counts.false_negatives += 1;
                }
            }
            Role::Outside { .. } => {
                if detected {
                    fp += weighted(role, costs);
                    counts.false_positives += 1;
                } else {
                    counts.true_negatives += 1;
                }
            }
        }
    }
    FileScore {
        file: file.name().to_string(),
        raw: fp + windows.iter().flatten().sum::<f64>(),
        counts,
        windows: file.windows().len(),
        windows_scored: windows.iter().flatten().count(),
        windows_found: found.iter().filter(|&&f| f).count(),
    }
}

/// Scores every file at `threshold` and adds them up; `null` is filled in by the caller.
fn profile_at(
    corpus: &NabCorpus,
    roles: &[Vec<Role>],
    scores: &[Vec<f64>],
    profile: &Profile,
    threshold: f64,
    null: f64,
) -> ProfileScore {
    let files: Vec<FileScore> = corpus
        .files()
        .iter()
        .zip(roles)
        .zip(scores)
        .map(|((f, r), s)| file_score(f, r, s, &profile.costs, threshold))
        .collect();
    let raw = files.iter().map(|f| f.raw).sum::<f64>();
    let perfect = profile.costs.tp_weight * corpus.window_count() as f64;
    let normalized = normalize(raw, null, perfect);
    let mut counts = RowCounts::default();
    for f in &files {
        counts.add(&f.counts);
    }
    ProfileScore {
        profile: profile.clone(),
        threshold,
        raw,
        null,
        perfect,
        normalized,
        counts,
        windows: files.iter().map(|f| f.windows).sum(),
        windows_scored: files.iter().map(|f| f.windows_scored).sum(),
        windows_found: files.iter().map(|f| f.windows_found).sum(),
        files,
    }
}

/// Raw score of NAB's null detector (a constant 0.5 everywhere) at its own best threshold.
fn null_score(corpus: &NabCorpus, roles: &[Vec<Role>], costs: &CostMatrix) -> f64 {
    let all: Vec<usize> = (0..corpus.files().len()).collect();
    null_score_of(&all, corpus, roles, costs)
}

/// [`null_score`] of the files at indices `subset`, swept over them alone.
fn null_score_of(subset: &[usize], corpus: &NabCorpus, roles: &[Vec<Role>], costs: &CostMatrix) -> f64 {
    let constant: Vec<Vec<f64>> = corpus.files().iter().map(|f| vec![0.5; f.rows().len()]).collect();
    let (threshold, _) = best_threshold_of(subset, corpus, roles, &constant, costs);
    raw_of(subset, corpus, roles, &constant, costs, threshold)
}

/// Summed raw score of the files at indices `subset` at `threshold`.
fn raw_of(
    subset: &[usize],
    corpus: &NabCorpus,
    roles: &[Vec<Role>],
    scores: &[Vec<f64>],
    costs: &CostMatrix,
    threshold: f64,
) -> f64 {
    subset.iter().map(|&i| file_score(&corpus.files()[i], &roles[i], &scores[i], costs, threshold).raw).sum()
}

/// NAB's normalisation, `None` when there is no window to find.
fn normalize(raw: f64, null: f64, perfect: f64) -> Option<f64> {
    let span = perfect - null;
    (span > 0.0).then(|| 100.0 * (raw - null) / span)
}

/// A file's category: its key up to the last `/` (the data folder's sub-folder), `.` at the top.
pub fn category_of(name: &str) -> &str {
    name.rsplit_once('/').map_or(".", |(c, _)| c)
}

/// Per category (sorted by name): its score at the global thresholds and its score when each
/// profile's threshold is chosen on all the other categories, both normalised by the category's
/// own null and perfect scores.
fn categories(corpus: &NabCorpus, roles: &[Vec<Role>], scores: &[Vec<f64>], global: &[f64]) -> Vec<CategoryScore> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in corpus.files().iter().enumerate() {
        groups.entry(category_of(f.name())).or_default().push(i);
    }
    groups
        .iter()
        .map(|(&category, members)| {
            let others: Vec<usize> = (0..corpus.files().len()).filter(|i| !members.contains(i)).collect();
            let windows: usize = members.iter().map(|&i| corpus.files()[i].windows().len()).sum();
            let profiles = corpus
                .profiles()
                .iter()
                .zip(global)
                .map(|(profile, &global_threshold)| {
                    let costs = &profile.costs;
                    let null = null_score_of(members, corpus, roles, costs);
                    let perfect = costs.tp_weight * windows as f64;
                    let global_raw = raw_of(members, corpus, roles, scores, costs, global_threshold);
                    let (held_out_threshold, _) = best_threshold_of(&others, corpus, roles, scores, costs);
                    let held_out_raw = raw_of(members, corpus, roles, scores, costs, held_out_threshold);
                    CategoryProfileScore {
                        profile: profile.name.clone(),
                        null,
                        perfect,
                        global_raw,
                        global_normalized: normalize(global_raw, null, perfect),
                        held_out_threshold,
                        held_out_raw,
                        held_out_normalized: normalize(held_out_raw, null, perfect),
                    }
                })
                .collect();
            CategoryScore { category: category.to_string(), files: members.len(), windows, profiles }
        })
        .collect()
}

fn all_roles(corpus: &NabCorpus) -> Vec<Vec<Role>> {
    corpus.files().iter().map(|f| roles(corpus, f)).collect()
}

/// The full report: per profile, the best joint threshold and the scores at it.
pub(super) fn report(corpus: &NabCorpus, scores: Vec<Vec<f64>>) -> NabReport {
    let roles = all_roles(corpus);
    let profiles: Vec<ProfileScore> = corpus
        .profiles()
        .iter()
        .map(|profile| {
            let null = null_score(corpus, &roles, &profile.costs);
            let (threshold, _) = best_threshold(corpus, &roles, &scores, &profile.costs);
            profile_at(corpus, &roles, &scores, profile, threshold, null)
        })
        .collect();
    let global: Vec<f64> = profiles.iter().map(|p| p.threshold).collect();
    NabReport {
        categories: categories(corpus, &roles, &scores, &global),
        repairs: corpus
            .files()
            .iter()
            .filter(|f| !f.repairs().is_empty())
            .map(|f| (f.name().to_string(), f.repairs().clone()))
            .collect(),
        files: corpus.files().iter().map(|f| f.name().to_string()).collect(),
        windows: corpus.window_count(),
        rows: corpus.row_count(),
        probation_percent: corpus.probation_percent(),
        profiles_source: corpus.profiles_source().to_string(),
        unlabelled: corpus.unlabelled().to_vec(),
        profiles,
        scores,
    }
}

/// Scores `scores` under `profile` at a given threshold instead of the best one (to compare
/// with published per-file figures, which come at NAB's own full-corpus thresholds).
pub fn score_at_threshold(
    corpus: &NabCorpus,
    scores: &[Vec<f64>],
    profile: &Profile,
    threshold: f64,
) -> Result<ProfileScore, NabError> {
    check_scores(corpus, scores)?;
    let roles = all_roles(corpus);
    let null = null_score(corpus, &roles, &profile.costs);
    Ok(profile_at(corpus, &roles, scores, profile, threshold, null))
}

/// The detector's contract: one finite score in [0, 1] per row of every file.
pub(super) fn check_scores(corpus: &NabCorpus, scores: &[Vec<f64>]) -> Result<(), NabError> {
    if scores.len() != corpus.files().len() {
        return Err(NabError::Detector {
            file: "(corpus)".to_string(),
            message: format!("{} score series for {} files", scores.len(), corpus.files().len()),
        });
    }
    for (file, s) in corpus.files().iter().zip(scores) {
        let err = |message: String| NabError::Detector { file: file.name().to_string(), message };
        if s.len() != file.rows().len() {
            return Err(err(format!("{} scores for {} rows", s.len(), file.rows().len())));
        }
        if let Some(i) = s.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(err(format!(
                "row {} (line {}, {}): score {} is not in [0, 1]",
                i + 1,
                file.lines()[i],
                super::corpus::format_nab_time(file.file_times()[i]),
                s[i]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Hand-computed cases. `S(p) = 2 / (1 + e^(5p)) - 1 = -tanh(5p / 2)`; the standard profile
    //! weighs TP 1, FP 0.11, FN 1. `S(-1) = tanh(2.5) = 0.98661429815143`.
    use super::*;
    use crate::eval::nab::NabFile;
    use crate::model::Timestamp;

    const EPS: f64 = 1e-9;

    fn minute(i: usize) -> Timestamp {
        Timestamp(1_400_000_000_000 + i as i64 * 60_000)
    }

    /// A file of `n` rows, one a minute, with windows given as inclusive row ranges.
    fn file(name: &str, n: usize, windows: &[(usize, usize)]) -> NabFile {
        let rows = (0..n).map(|i| (minute(i), i as f64)).collect();
        let windows: Vec<_> = windows.iter().map(|&(a, b)| (minute(a), minute(b))).collect();
        NabFile::new(name, rows, &windows).unwrap()
    }

    fn standard() -> Profile {
        Profile::nab_defaults().remove(0)
    }

    /// Scores of `n` rows: 0 except `hits`.
    fn scores(n: usize, hits: &[(usize, f64)]) -> Vec<f64> {
        let mut s = vec![0.0; n];
        for &(i, v) in hits {
            s[i] = v;
        }
        s
    }

    /// Raw standard score of one file (no probation) with detections at `rows` (threshold 0.5).
    fn raw_one(f: NabFile, rows: &[usize]) -> ProfileScore {
        let n = f.rows().len();
        let corpus = NabCorpus::new(vec![f], vec![standard()]).with_probation_percent(0.0);
        let hits: Vec<_> = rows.iter().map(|&r| (r, 1.0)).collect();
        score_at_threshold(&corpus, &[scores(n, &hits)], &standard(), 0.5).unwrap()
    }

    fn assert_close(got: f64, want: f64) {
        assert!((got - want).abs() < EPS, "got {got}, want {want}");
    }

    #[test]
    fn scaled_sigmoid_is_nabs() {
        assert_close(scaled_sigmoid(-1.0), 0.986_614_298_151_43); // tanh(2.5)
        assert_close(scaled_sigmoid(-0.5), 0.848_283_639_957_51); // tanh(1.25), NAB's doc: 0.84828
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert_close(scaled_sigmoid(1.0), -0.986_614_298_151_43);
        assert_close(scaled_sigmoid(3.0), -0.999_999_388_195_11); // still the curve at 3
        assert_eq!(scaled_sigmoid(3.000_001), -1.0);
    }

    #[test]
    fn detection_at_window_start_is_worth_tp_weight() {
        // Window rows 10..=14 (width 5). Row 10: p = -(14 - 10 + 1) / 5 = -1, S(-1) / S(-1) = 1.
        let s = raw_one(file("a.csv", 20, &[(10, 14)]), &[10]);
        assert_close(s.raw, 1.0);
        assert_eq!((s.windows_found, s.counts.true_positives, s.counts.false_negatives), (1, 1, 4));
    }

    #[test]
    fn detection_at_window_end_is_worth_less() {
        // Row 14: p = -(14 - 14 + 1) / 5 = -0.2; S(-0.2) = tanh(0.5) = 0.46211715726001;
        // / S(-1) = 0.46211715726001 / 0.98661429815143 = 0.46838684390228.
        let s = raw_one(file("a.csv", 20, &[(10, 14)]), &[14]);
        assert_close(s.raw, 0.468_386_843_902_28);
    }

    #[test]
    fn later_detections_in_a_window_count_nothing() {
        // Rows 10 and 14: the window keeps its best (first) detection, 1.0; NAB still counts
        // both rows as true positives.
        let s = raw_one(file("a.csv", 20, &[(10, 14)]), &[10, 14]);
        assert_close(s.raw, 1.0);
        assert_eq!((s.counts.true_positives, s.counts.false_negatives), (2, 3));
    }

    #[test]
    fn false_positive_right_after_a_window() {
        // Row 15, one after the window's end 14: p = (15 - 14) / (5 - 1) = 0.25,
        // S(0.25) = -tanh(0.625) = -0.55459972234938, * 0.11 = -0.06100596945843;
        // plus the missed window, -1: -1.06100596945843.
        let s = raw_one(file("a.csv", 20, &[(10, 14)]), &[15]);
        assert_close(s.raw, -1.061_005_969_458_43);
        assert_eq!((s.counts.false_positives, s.windows_found), (1, 0));
    }

    #[test]
    fn false_positives_far_from_any_window() {
        // Row 3 precedes every window: the full fpWeight, -0.11 (+ the missed window, -1).
        let s = raw_one(file("a.csv", 30, &[(10, 14)]), &[3]);
        assert_close(s.raw, -1.11);
        // Row 27: p = (27 - 14) / 4 = 3.25 > 3: S = -1, again -0.11.
        let s = raw_one(file("a.csv", 30, &[(10, 14)]), &[27]);
        assert_close(s.raw, -1.11);
        // In a file with no window every false positive costs 0.11.
        let s = raw_one(file("a.csv", 30, &[]), &[3, 27]);
        assert_close(s.raw, -0.22);
    }

    #[test]
    fn missed_windows_cost_fn_weight_each() {
        let s = raw_one(file("a.csv", 30, &[(5, 9), (20, 24)]), &[]);
        assert_close(s.raw, -2.0);
        assert_eq!((s.windows_found, s.windows_scored, s.counts.false_negatives), (0, 2, 10));
    }

    #[test]
    fn probation_rows_are_not_scored() {
        // 40 rows: probation floor(0.15 * 40) = 6 rows (0..=5). Window rows 20..=24.
        let one = |rows: &[usize], windows: &[(usize, usize)]| {
            let corpus = NabCorpus::new(vec![file("a.csv", 40, windows)], vec![standard()]);
            let hits: Vec<_> = rows.iter().map(|&r| (r, 1.0)).collect();
            score_at_threshold(&corpus, &[scores(40, &hits)], &standard(), 0.5).unwrap()
        };
        // A detection at row 2 (in probation) is ignored; the same at row 8 costs 0.11.
        assert_close(one(&[2], &[(20, 24)]).raw, -1.0);
        assert_close(one(&[8], &[(20, 24)]).raw, -1.11);
        assert_eq!(one(&[2], &[(20, 24)]).counts.total(), 34);
        // A window straddling the probation end (rows 4..=8): its rows 4 and 5 are not scored; a
        // detection at row 5 alone misses it; one at row 6 scores with the full width:
        // p = -(8 - 6 + 1) / 5 = -0.6, S(-0.6) = tanh(1.5) = 0.90514825364487,
        // / S(-1) = 0.91742868042841.
        assert_close(one(&[5], &[(4, 8)]).raw, -1.0);
        assert_close(one(&[6], &[(4, 8)]).raw, 0.917_428_680_428_41);
        // A window entirely in probation (rows 1..=4) is neither found nor missed ...
        let s = one(&[], &[(1, 4), (20, 24)]);
        assert_close(s.raw, -1.0);
        assert_eq!((s.windows, s.windows_scored), (2, 1));
        // ... but, as in NAB's normalisation, still counts in the perfect score.
        assert_close(s.perfect, 2.0);
    }

    #[test]
    fn one_threshold_is_swept_over_all_files() {
        // File A (10 rows, window 4..=6): 0.9 at row 1 (FP before any window: -0.11), 0.6 at
        // row 4 (window start: +1).
        // File B (10 rows, window 2..=4): 0.9 at row 3 (p = -(4 - 3 + 1) / 3 = -2/3,
        // tanh(5/3) / tanh(2.5) = 0.93110960866758 / 0.98661429815143 = 0.94374226119787),
        // 0.6 at row 7 (p = (7 - 4) / (3 - 1) = 1.5, S = -tanh(3.75) = -0.99889444272615,
        // * 0.11 = -0.10987838869988).
        // Candidate thresholds, joint raw score:
        //   1.1 (never): -1 - 1 = -2
        //   0.9: A -1 - 0.11, B 0.94374226119787: -0.16625773880213
        //   0.6: A 1 - 0.11 = 0.89, B 0.94374226119787 - 0.10987838869988 = 0.83386387249799:
        //        1.72386387249799 (the best)
        //   0.0 (every row): 0.49657648360804
        // B alone would pick 0.9 (0.94374 > 0.83386): the threshold is chosen jointly.
        let a = file("a.csv", 10, &[(4, 6)]);
        let b = file("b.csv", 10, &[(2, 4)]);
        let sa = scores(10, &[(1, 0.9), (4, 0.6)]);
        let sb = scores(10, &[(3, 0.9), (7, 0.6)]);
        let corpus = NabCorpus::new(vec![a, b.clone()], vec![standard()]).with_probation_percent(0.0);
        let roles = all_roles(&corpus);
        let (t, best) = best_threshold(&corpus, &roles, &[sa.clone(), sb.clone()], &standard().costs);
        assert_eq!(t, 0.6);
        assert_close(best, 1.723_863_872_497_99);
        let report = report(&corpus, vec![sa, sb.clone()]);
        let p = &report.profiles[0];
        assert_eq!(p.threshold, 0.6);
        assert_close(p.raw, 1.723_863_872_497_99);
        assert_close(p.files[0].raw, 0.89);
        assert_close(p.files[1].raw, 0.833_863_872_497_99);
        let c = p.counts;
        assert_eq!((c.true_positives, c.false_positives, c.false_negatives, c.true_negatives), (2, 2, 4, 12));
        // Every candidate, as NAB's sweep lists them.
        for (threshold, want) in
            [(1.1, -2.0), (0.9, -0.166_257_738_802_13), (0.6, 1.723_863_872_497_99), (0.0, 0.496_576_483_608_04)]
        {
            assert_close(score_at_threshold(&corpus, &report.scores, &standard(), threshold).unwrap().raw, want);
        }
        let alone = NabCorpus::new(vec![b], vec![standard()]).with_probation_percent(0.0);
        let (t, best) = best_threshold(&alone, &all_roles(&alone), &[sb], &standard().costs);
        assert_eq!(t, 0.9);
        assert_close(best, 0.943_742_261_197_87);
    }

    #[test]
    fn ties_go_to_the_higher_threshold_and_never_firing_is_a_candidate() {
        // No window, nothing but false positives: firing never is best, threshold 1.1.
        let corpus = NabCorpus::new(vec![file("a.csv", 10, &[])], vec![standard()]).with_probation_percent(0.0);
        let report = report(&corpus, vec![scores(10, &[(3, 0.7)])]);
        assert_eq!(report.profiles[0].threshold, NEVER_FIRES);
        assert_eq!(report.profiles[0].raw, 0.0);
        assert_eq!(report.profiles[0].normalized, None); // no window: nothing to normalise by
    }

    #[test]
    fn normalisation_null_is_0_and_perfect_is_100() {
        // Two files of 200 rows (probation: 30 rows), three windows, NAB's three profiles. Firing
        // on every row costs well over 3 here, so NAB's null detector is the one never firing:
        // raw -3 (-6 for low FN, fnWeight 2). Perfect: tpWeight * 3 windows = 3.
        let files = vec![file("a.csv", 200, &[(100, 104)]), file("b.csv", 200, &[(80, 84), (150, 155)])];
        let corpus = NabCorpus::new(files, Profile::nab_defaults());
        let null = evaluate_scores(&corpus, vec![vec![0.0; 200], vec![0.0; 200]]);
        let perfect = evaluate_scores(&corpus, vec![scores(200, &[(100, 1.0)]), scores(200, &[(80, 1.0), (150, 1.0)])]);
        // One window of three found at its start, nothing else: standard raw 1 - 2 = -1,
        // 100 * (-1 + 3) / (3 + 3) = 33.33; low FN raw 1 - 4 = -3, 100 * (-3 + 6) / (3 + 6) = 33.33.
        let third = evaluate_scores(&corpus, vec![scores(200, &[(100, 1.0)]), vec![0.0; 200]]);
        for (i, name) in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"].iter().enumerate() {
            let fn_weight = if i == 2 { 2.0 } else { 1.0 };
            let p = null.profile(name).unwrap();
            assert_close(p.null, -3.0 * fn_weight);
            assert_close(p.perfect, 3.0);
            assert_eq!((p.threshold, p.raw), (NEVER_FIRES, -3.0 * fn_weight));
            assert_eq!(p.normalized, Some(0.0), "{name}");
            let p = perfect.profile(name).unwrap();
            assert_close(p.raw, 3.0);
            assert_eq!(p.normalized, Some(100.0), "{name}");
            assert_eq!(p.threshold, 1.0);
            assert_close(third.profile(name).unwrap().normalized.unwrap(), 100.0 / 3.0);
        }
    }

    #[test]
    fn null_is_nabs_constant_detector_at_its_best_threshold() {
        // A window over rows 0..=8 of 10: a constant score detects every row, finds the window at
        // its start (+1) and pays one FP at row 9 (p = 1 / 8, S = -tanh(0.3125) = -0.30270972933211,
        // * 0.11): 0.96670192977347 beats firing never (-1), so that is NAB's null (and any
        // constant detector scores 0). Never firing scores 100 * (-1 - 0.96670) / (1 - 0.96670)
        // = -5906.35.
        let corpus = NabCorpus::new(vec![file("a.csv", 10, &[(0, 8)])], vec![standard()]).with_probation_percent(0.0);
        let p = &evaluate_scores(&corpus, vec![vec![0.0; 10]]).profiles[0];
        assert_close(p.null, 0.966_701_929_773_47);
        assert_eq!((p.threshold, p.normalized), (0.0, Some(0.0)));
        let never = score_at_threshold(&corpus, &[vec![0.0; 10]], &standard(), NEVER_FIRES).unwrap();
        assert_close(never.raw, -1.0);
        assert_close(never.normalized.unwrap(), -5_906.354_081_163_53);
    }

    #[test]
    fn broken_detector_output_is_refused() {
        let corpus = NabCorpus::new(vec![file("cat/a.csv", 10, &[])], vec![standard()]);
        let e = check_scores(&corpus, &[vec![0.0; 9]]).unwrap_err().to_string();
        assert_eq!(e, "detector output for `cat/a.csv`: 9 scores for 10 rows");
        let e = check_scores(&corpus, &[scores(10, &[(4, f64::NAN)])]).unwrap_err().to_string();
        assert!(e.contains("row 5 (line 6, 2014-05-13 16:57:20): score NaN is not in [0, 1]"), "{e}");
        assert!(check_scores(&corpus, &[scores(10, &[(4, 1.5)])]).is_err());
        assert!(check_scores(&corpus, &[]).unwrap_err().to_string().contains("0 score series for 1 files"));
    }

    #[test]
    fn leave_one_category_out_chooses_the_threshold_on_the_others() {
        // Two categories, one file each, 40 rows, a window at rows 30..=34 (so NAB's null
        // detector never fires: null = -1 per file, perfect = 1). a/x finds its window at 0.9;
        // b/y has a false positive far before its window at 0.8 (-0.11) and finds it at 0.6.
        // All files: 0.6 is best (1 + 1 - 0.11 = 1.89): a 100, b 100 * (0.89 + 1) / 2 = 94.5.
        // a held out: on b alone 0.6 is best (0.89 > -1 never, -1.11 at 0.8): a scores 1, 100.
        // b held out: on a alone 0.9 is best (1): b finds nothing at 0.9, -1, 0.
        let corpus =
            NabCorpus::new(vec![file("a/x.csv", 40, &[(30, 34)]), file("b/y.csv", 40, &[(30, 34)])], vec![standard()])
                .with_probation_percent(0.0);
        let report = evaluate_scores(&corpus, vec![scores(40, &[(30, 0.9)]), scores(40, &[(3, 0.8), (30, 0.6)])]);
        assert_eq!(report.profiles[0].threshold, 0.6);
        let names: Vec<&str> = report.categories.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let (a, b) = (&report.categories[0].profiles[0], &report.categories[1].profiles[0]);
        assert_close(a.null, -1.0);
        assert_close(a.perfect, 1.0);
        assert_close(a.global_normalized.unwrap(), 100.0);
        assert_close(b.global_raw, 0.89);
        assert_close(b.global_normalized.unwrap(), 94.5);
        assert_eq!((a.held_out_threshold, b.held_out_threshold), (0.6, 0.9));
        assert_close(a.held_out_normalized.unwrap(), 100.0);
        assert_close(b.held_out_raw, -1.0);
        assert_close(b.held_out_normalized.unwrap(), 0.0);
        // Over both: raw 1 - 1 = 0 between null -2 and perfect 2.
        assert_close(crate::eval::nab::held_out_overall(&report.categories, 0).unwrap(), 50.0);
        let text = report.to_string();
        assert!(text.contains("all held out"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("b ") && l.contains("94.50     0.00    0.9000")), "{text}");
    }

    #[test]
    fn a_lone_category_has_no_other_to_tune_on() {
        let corpus = NabCorpus::new(vec![file("a/x.csv", 40, &[(30, 34)]), file("top.csv", 40, &[])], vec![standard()])
            .with_probation_percent(0.0);
        let report = evaluate_scores(&corpus, vec![scores(40, &[(30, 0.9)]), vec![0.0; 40]]);
        assert_eq!(category_of("top.csv"), ".");
        let a = &report.categories[1].profiles[0];
        assert_eq!(report.categories[1].category, "a");
        // Tuned on `.` (no window): never firing is best there, so `a` finds nothing.
        assert_eq!(a.held_out_threshold, NEVER_FIRES);
        assert_close(a.held_out_normalized.unwrap(), 0.0);
        assert_close(a.global_normalized.unwrap(), 100.0);
        assert_eq!(report.categories[0].profiles[0].global_normalized, None);
    }

    fn evaluate_scores(corpus: &NabCorpus, scores: Vec<Vec<f64>>) -> NabReport {
        check_scores(corpus, &scores).unwrap();
        report(corpus, scores)
    }
}
