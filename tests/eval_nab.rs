//! `faultline eval anomalies` scored with NAB's rules: loading errors that name file and line,
//! NAB's results layout, and the real NAB data of `../shared/data/nab` (skipped, with a message,
//! when absent): the report is well formed for faultline's detector, NAB's null detector scores
//! 0, and NAB's Windowed Gaussian reproduces NAB's own published per-file scores.

use faultline::engine::detect::{anomaly_scores, DetectConfig};
use faultline::eval::nab::{self, NabCorpus, NabError, NabReport, Profile};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// A small corpus on disk: `data/cat/a.csv` (12 rows, one a minute) and a windows file.
fn small_corpus(dir: &Path, csv_rows: &[&str], windows: &str) -> (PathBuf, PathBuf) {
    let mut csv = String::from("timestamp,value\n");
    for r in csv_rows {
        csv.push_str(r);
        csv.push('\n');
    }
    write(dir, "data/cat/a.csv", &csv);
    let windows = write(dir, "labels/windows.json", windows);
    (dir.join("data"), windows)
}

fn rows(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("2014-04-01 00:{i:02}:00,{}", i as f64 * 0.5)).collect()
}

fn load_err(csv_rows: &[String], windows: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let r: Vec<&str> = csv_rows.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, windows);
    let e = NabCorpus::load(&data, &windows, None).expect_err("the corpus should be refused");
    (dir, e.to_string())
}

fn assert_has(message: &str, part: &str) {
    assert!(message.contains(part), "expected `{message}` to contain `{part}`");
}

const ONE_WINDOW: &str = r#"{"cat/a.csv": [["2014-04-01 00:04:00.000000", "2014-04-01 00:06:00.000000"]]}"#;

#[test]
fn a_small_corpus_loads() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(12);
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, ONE_WINDOW);
    write(dir.path(), "data/cat/unlabelled.csv", "timestamp,value\n2014-04-01 00:00:00,1\n");
    let corpus = NabCorpus::load(&data, &windows, None).unwrap();
    assert_eq!(corpus.files().len(), 1);
    let f = &corpus.files()[0];
    assert_eq!((f.name(), f.rows().len(), f.windows().len()), ("cat/a.csv", 12, 1));
    assert_eq!((f.windows()[0].first_row, f.windows()[0].last_row), (4, 6));
    assert_eq!(corpus.unlabelled(), ["cat/unlabelled.csv"]);
    assert_eq!(corpus.profiles(), Profile::nab_defaults().as_slice());
    assert_eq!(corpus.profiles_source().to_string(), "NAB v1.1 defaults");
    // A profiles.json beside the windows file is used when no file is given.
    write(
        dir.path(),
        "labels/profiles.json",
        r#"{"mine": {"CostMatrix": {"tpWeight": 2, "fpWeight": 0.5, "fnWeight": 3}}}"#,
    );
    let corpus = NabCorpus::load(&data, &windows, None).unwrap();
    assert_eq!(corpus.profiles().len(), 1);
    assert_eq!((corpus.profiles()[0].name.as_str(), corpus.profiles()[0].costs.fn_weight), ("mine", 3.0));
}

fn load_ok(csv_rows: &[String], windows: &str) -> NabCorpus {
    let dir = tempfile::tempdir().unwrap();
    let r: Vec<&str> = csv_rows.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, windows);
    NabCorpus::load(&data, &windows, None).expect("odd rows are repaired, not refused")
}

/// The first example of `kind` in the only file, as (line, detail), and its count.
fn first_repair(corpus: &NabCorpus, kind: nab::RepairKind) -> (usize, usize, String) {
    let f = &corpus.files()[0];
    assert_eq!(f.rows().len(), 12, "every row is kept");
    let k =
        f.repairs().kinds().iter().find(|k| k.kind == kind).unwrap_or_else(|| panic!("{kind:?}: {:?}", f.repairs()));
    (k.count, k.examples[0].0, k.examples[0].1.clone())
}

#[test]
fn odd_csv_rows_are_kept_repaired_and_named_by_line() {
    use nab::RepairKind::*;
    let mut r = rows(12);
    r[2] = "2014-04-01 00:02:00,abc".to_string();
    r[3] = "2014-04-01 00:03:00,".to_string();
    let c = load_ok(&r, ONE_WINDOW);
    assert_eq!(first_repair(&c, BadValue), (2, 4, "`abc` is not a number; fed the last good value 0.5".to_string()));
    assert_eq!(c.files()[0].rows()[3].1, 0.5);

    let mut r = rows(12);
    r[5] = "2014/04/01 00:05:00,1".to_string();
    let c = load_ok(&r, ONE_WINDOW);
    let (n, line, detail) = first_repair(&c, BadTime);
    assert_eq!((n, line), (1, 7));
    assert!(detail.contains("`2014/04/01 00:05:00` is not a time; scored at 2014-04-01 00:04:00"), "{detail}");

    let mut r = rows(12);
    r.swap(7, 8);
    let c = load_ok(&r, ONE_WINDOW);
    let (n, line, detail) = first_repair(&c, OutOfOrder);
    assert_eq!((n, line), (1, 10));
    assert!(detail.contains("2014-04-01 00:07:00 is 1m before the row before"), "{detail}");

    let mut r = rows(12);
    r[9] = "2014-04-01 00:09:00".to_string();
    let c = load_ok(&r, ONE_WINDOW);
    assert_eq!(first_repair(&c, BadValue).1, 11);

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "data/cat/a.csv", "time,v\n2014-04-01 00:00:00,1\n");
    let windows = write(dir.path(), "w.json", ONE_WINDOW);
    let e = NabCorpus::load(&dir.path().join("data"), &windows, None).unwrap_err().to_string();
    assert_has(&e, "cat/a.csv:1: the header must name `timestamp` and `value` columns, found `time,v`");

    // No readable time at all: nothing to place the rows on.
    let r: Vec<String> = (0..3).map(|i| format!("soon,{i}")).collect();
    let (_d, e) = load_err(&r, r#"{"cat/a.csv": []}"#);
    assert_has(&e, "no row has a readable timestamp");
}

#[test]
fn bad_windows_name_file_key_and_window() {
    let r = rows(12);
    let (_d, e) = load_err(&r, r#"{"cat/a.csv": [["2014-04-01 00:06:00", "2014-04-01 00:04:00"]]}"#);
    assert_has(&e, "windows.json: `cat/a.csv` (data ");
    assert_has(&e, "window 1 ends before it starts");

    let (_d, e) = load_err(&r, r#"{"cat/a.csv": [["2014-04-01 00:04:00", "soon"]]}"#);
    assert_has(&e, "windows.json: `cat/a.csv` window 1: end: `soon` is not a time");

    let (_d, e) = load_err(&r, "{\"cat/a.csv\": [\n  [\"2014-04-01 00:04:00\"]\n]}");
    assert_has(&e, "windows.json: line 2 column ");
    assert_has(&e, "at `cat/a.csv[0]`");

    let (_d, e) = load_err(&r, r#"{"cat/missing.csv": []}"#);
    assert_has(&e, "missing.csv: cannot read data file");

    let (_d, e) = load_err(&r, r#"{"../a.csv": []}"#);
    assert_has(&e, "windows.json: `../a.csv`: a file name must be a relative path inside the data folder");
}

#[test]
fn bad_profiles_name_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(12);
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, ONE_WINDOW);
    let bad = write(
        dir.path(),
        "p.json",
        "{\"standard\": {\"CostMatrix\": {\n\"tpWeight\": 1, \"fpWeight\": \"x\", \"fnWeight\": 1}}}",
    );
    let e = NabCorpus::load(&data, &windows, Some(&bad)).unwrap_err().to_string();
    assert_has(&e, "p.json: line 2 column");
    assert_has(&e, "at `standard.CostMatrix.fpWeight`");
    let bad =
        write(dir.path(), "q.json", r#"{"standard": {"CostMatrix": {"tpWeight": 1, "fpWeight": -1, "fnWeight": 1}}}"#);
    let e = NabCorpus::load(&data, &windows, Some(&bad)).unwrap_err().to_string();
    assert_has(&e, "q.json: `standard.CostMatrix.fpWeight` is -1; weights are finite and not negative");
}

#[test]
fn results_are_written_in_nabs_layout() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(12);
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, ONE_WINDOW);
    let corpus = NabCorpus::load(&data, &windows, None).unwrap();
    let report =
        nab::evaluate(&corpus, |s| s.iter().map(|&(_, v)| if v == 2.0 { 1.0 } else { 0.25 }).collect()).unwrap();
    let out = dir.path().join("results");
    let written = nab::write_results(&corpus, &report.scores, &out, "faultline").unwrap();
    assert_eq!(written, vec![out.join("faultline/cat/faultline_a.csv")]);
    let text = std::fs::read_to_string(&written[0]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0], "timestamp,value,anomaly_score,label");
    assert_eq!(lines[1], "2014-04-01 00:00:00,0,0.25,0");
    assert_eq!(lines[5], "2014-04-01 00:04:00,2,1,1");
    assert_eq!(lines[7], "2014-04-01 00:06:00,3,0.25,1");
    assert_eq!(lines[8], "2014-04-01 00:07:00,3.5,0.25,0");
    let e = nab::write_results(&corpus, &report.scores, &out, "my_detector").unwrap_err();
    assert!(matches!(e, NabError::Invalid(_)), "{e}");
}

#[test]
fn results_keep_the_files_own_times_and_every_row() {
    // Rows 8 and 9 swapped and row 10 blank: the detector sees 00:07 at 00:08 and row 10 as
    // 4.0, but the results file gives NAB the file's times, in file order, one line per row.
    let dir = tempfile::tempdir().unwrap();
    let mut r = rows(12);
    r.swap(7, 8);
    r[9] = "2014-04-01 00:09:00,".to_string();
    let r: Vec<&str> = r.iter().map(String::as_str).collect();
    let (data, windows) = small_corpus(dir.path(), &r, ONE_WINDOW);
    let corpus = NabCorpus::load(&data, &windows, None).unwrap();
    let seen: Vec<String> = corpus.files()[0].rows().iter().map(|&(t, v)| format!("{} {v}", t.to_rfc3339())).collect();
    assert_eq!(seen[8], "2014-04-01T00:08:00.000Z 3.5");
    assert_eq!(seen[9], "2014-04-01T00:09:00.000Z 3.5");
    let report = nab::evaluate(&corpus, |s| vec![0.5; s.len()]).unwrap();
    let out = dir.path().join("results");
    let written = nab::write_results(&corpus, &report.scores, &out, "faultline").unwrap();
    let text = std::fs::read_to_string(&written[0]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[8], "2014-04-01 00:08:00,4,0.5,0");
    assert_eq!(lines[9], "2014-04-01 00:07:00,3.5,0.5,0");
    assert_eq!(lines[10], "2014-04-01 00:09:00,3.5,0.5,0");
    assert_eq!(report.repairs.len(), 1);
    let kinds: Vec<_> = report.repairs[0].1.kinds().iter().map(|k| (k.kind, k.count)).collect();
    assert_eq!(kinds, [(nab::RepairKind::OutOfOrder, 1), (nab::RepairKind::BadValue, 1)]);
}

// ---- The real NAB data ----

fn nab_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nab");
    if dir.join("combined_windows.json").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no NAB data at {} (see shared/data/README.md)", dir.display());
        None
    }
}

fn load_real(dir: &Path) -> NabCorpus {
    NabCorpus::load(&dir.join("data"), &dir.join("combined_windows.json"), None).unwrap()
}

/// The report covers every file and window of the corpus, whatever `shared/data` holds (17 files
/// once, 41 now): the counts are derived from the corpus, not written down.
fn check_well_formed(report: &NabReport, corpus: &NabCorpus) {
    let (files, windows) = (corpus.files().len(), corpus.window_count());
    assert!(files >= 17 && windows >= 20, "{files} files, {windows} windows");
    assert_eq!(report.files.len(), files);
    assert_eq!(report.windows, windows);
    assert_eq!(report.profiles.len(), 3);
    let names: Vec<&str> = report.profiles.iter().map(|p| p.profile.name.as_str()).collect();
    assert_eq!(names, ["standard", "reward_low_FN_rate", "reward_low_FP_rate"]);
    // Probation: the first floor(0.15 * rows) rows of every file (at most 750) are left out.
    let scored_rows: usize =
        corpus.files().iter().map(|f| f.rows().len() - corpus.probation_rows(f.rows().len())).sum();
    for p in &report.profiles {
        let score = p.normalized.expect("the corpus has windows");
        assert!((-100.0..=100.0).contains(&score), "{}: {score}", p.profile.name);
        // Never firing is one of the candidates and is NAB's null here, so no score is below 0.
        assert!(score >= -1e-9, "{}: {score}", p.profile.name);
        assert_eq!(p.files.len(), files);
        assert_eq!(p.windows, windows);
        assert!(p.windows_scored > 0 && p.windows_scored <= windows);
        assert!((p.raw - p.files.iter().map(|f| f.raw).sum::<f64>()).abs() < 1e-9);
        assert_eq!(p.perfect, windows as f64 * p.profile.costs.tp_weight);
        assert!(p.null <= 0.0);
        assert_eq!(p.counts.total(), scored_rows);
    }
}

#[test]
fn real_nab_data_faultline_detector() {
    let Some(dir) = nab_dir() else { return };
    let corpus = load_real(&dir);
    let report = nab::evaluate(&corpus, |s| anomaly_scores(s, &DetectConfig::default())).unwrap();
    check_well_formed(&report, &corpus);
    eprintln!("faultline detect::anomaly_scores, DetectConfig::default():\n{report}");
}

/// Issue 13's targets on the 41 files `shared/data/nab` holds: NAB's standard profile at least 70
/// on all files, and every category at least 55 held out (its threshold chosen on the others).
/// What the README reports, kept: a detector change that falls below either fails here.
#[test]
fn real_nab_data_faultline_meets_issue_13s_targets_on_the_41_files() {
    let Some(dir) = nab_dir() else { return };
    let corpus = load_real(&dir);
    if corpus.files().len() != 41 {
        eprintln!("skipped: the targets were set on 41 files, found {}", corpus.files().len());
        return;
    }
    let report = nab::evaluate(&corpus, |s| anomaly_scores(s, &DetectConfig::default())).unwrap();
    let standard = report.profiles.iter().find(|p| p.profile.name == "standard").unwrap();
    let all = standard.normalized.unwrap();
    assert!(all >= 70.0, "standard on all files: {all:.2}\n{report}");
    for c in report.categories.iter().filter(|c| c.windows > 0) {
        let held_out = c.profile("standard").and_then(|p| p.held_out_normalized).unwrap();
        assert!(held_out >= 55.0, "{} held out: {held_out:.2}\n{report}", c.category);
    }
}

#[test]
fn real_nab_data_null_detector_scores_zero() {
    let Some(dir) = nab_dir() else { return };
    let corpus = load_real(&dir);
    let report = nab::evaluate(&corpus, |s| vec![0.5; s.len()]).unwrap();
    check_well_formed(&report, &corpus);
    for p in &report.profiles {
        assert_eq!(p.normalized, Some(0.0), "{}", p.profile.name);
        assert_eq!(p.threshold, nab::NEVER_FIRES);
    }
}

/// NAB's published per-file scores of its Windowed Gaussian detector on the files here, at the
/// thresholds NAB's optimizer chose on the full 58-file corpus (1.0 for all three profiles):
/// numenta/NAB `results/windowedGaussian/windowedGaussian_{standard,reward_low_FP_rate,
/// reward_low_FN_rate}_scores.csv` of v1.1 (their Totals, -24.013 / -67.586 / -67.013, give the
/// scoreboard's 39.6 / 20.9 / 47.4). Columns: file, raw score standard / low FP / low FN, then
/// NAB's row counts TP, TN, FP, FN (the same under the three profiles).
const NAB_WINDOWED_GAUSSIAN: [(&str, [f64; 3], [usize; 4]); 17] = [
    ("artificialNoAnomaly/art_daily_no_noise.csv", [0.0, 0.0, 0.0], [0, 3428, 0, 0]),
    ("artificialNoAnomaly/art_daily_perfect_square_wave.csv", [0.0, 0.0, 0.0], [0, 3428, 0, 0]),
    ("artificialNoAnomaly/art_daily_small_noise.csv", [0.0, 0.0, 0.0], [0, 3428, 0, 0]),
    ("artificialNoAnomaly/art_flatline.csv", [0.0, 0.0, 0.0], [0, 3428, 0, 0]),
    ("artificialNoAnomaly/art_noisy.csv", [0.0, 0.0, 0.0], [0, 3428, 0, 0]),
    ("artificialWithAnomaly/art_daily_flatmiddle.csv", [-1.0, -1.0, -2.0], [0, 3025, 0, 403]),
    ("artificialWithAnomaly/art_daily_jumpsdown.csv", [-1.0, -1.0, -2.0], [0, 3025, 0, 403]),
    ("artificialWithAnomaly/art_daily_jumpsup.csv", [-1.0, -1.0, -2.0], [0, 3025, 0, 403]),
    ("artificialWithAnomaly/art_daily_nojump.csv", [-1.0, -1.0, -2.0], [0, 3025, 0, 403]),
    ("artificialWithAnomaly/art_increase_spike_density.csv", [-1.0, -1.0, -2.0], [0, 3025, 0, 403]),
    (
        "artificialWithAnomaly/art_load_balancer_spikes.csv",
        [-0.692444609523, -2.34244460952, -0.692444609523],
        [18, 3010, 15, 385],
    ),
    ("realAdExchange/exchange-2_cpc_results.csv", [-1.0, -1.0, -2.0], [0, 1218, 0, 163]),
    ("realAdExchange/exchange-2_cpm_results.csv", [-2.0, -2.0, -4.0], [0, 1219, 0, 162]),
    ("realAdExchange/exchange-3_cpc_results.csv", [2.50266326119, 2.39266475507, 2.50266326119], [5, 1154, 1, 148]),
    ("realAdExchange/exchange-3_cpm_results.csv", [0.862098587352, 0.862098587352, 0.862098587352], [1, 1155, 0, 152]),
    (
        "realAdExchange/exchange-4_cpc_results.csv",
        [0.292288463428, -0.147680769569, -0.707711536572],
        [3, 1228, 4, 162],
    ),
    ("realAdExchange/exchange-4_cpm_results.csv", [1.27471036268, 0.944710362685, 0.274710362685], [4, 1230, 3, 160]),
];

/// NAB's results files held 12 significant digits (Python 2's `str` of a float); its scorer read
/// those, so a score of 0.9999999999996 was 1.0 to it.
fn as_nab_wrote_it(x: f64) -> f64 {
    format!("{x:.11e}").parse().unwrap()
}

#[test]
fn real_nab_data_windowed_gaussian_matches_nabs_published_scores() {
    let Some(dir) = nab_dir() else { return };
    let corpus = load_real(&dir);
    let scores: Vec<Vec<f64>> = nab::detect(&corpus, nab::windowed_gaussian)
        .into_iter()
        .map(|s| s.into_iter().map(as_nab_wrote_it).collect())
        .collect();
    let columns = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"];
    for (column, name) in columns.iter().enumerate() {
        let profile = corpus.profiles().iter().find(|p| p.name == *name).unwrap();
        let at = nab::score_at_threshold(&corpus, &scores, profile, 1.0).unwrap();
        // NAB's published figures for the 17 files this test was written on; files added to
        // shared/data since have none here and are only scored.
        for (want_name, raw, [tp, tn, fp, fn_]) in NAB_WINDOWED_GAUSSIAN {
            let file = at.files.iter().find(|f| f.file == want_name).unwrap_or_else(|| panic!("{want_name} scored"));
            assert!(
                (file.raw - raw[column]).abs() < 1e-9,
                "{name} {want_name}: raw {} vs NAB's {}",
                file.raw,
                raw[column]
            );
            let c = file.counts;
            assert_eq!(
                [c.true_positives, c.true_negatives, c.false_positives, c.false_negatives],
                [tp, tn, fp, fn_],
                "{name} {want_name}"
            );
        }
        eprintln!(
            "windowed Gaussian at NAB's threshold 1.0, {name}: raw {:.6}, normalised {:.2}",
            at.raw,
            at.normalized.unwrap()
        );
    }
    // And with the threshold chosen on these files (what `faultline eval` reports).
    let report = nab::score(&corpus, scores).unwrap();
    check_well_formed(&report, &corpus);
    eprintln!("windowed Gaussian, thresholds swept on this corpus:\n{report}");
}
