//! `faultline eval …` from the command line: each benchmark runs on the real data under
//! `../shared/data` (skipped, with a message, where it is missing) and bad paths are named.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(sub: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(sub);
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("skipped: no data at {} (see shared/data/README.md)", dir.display());
        None
    }
}

/// CSV files under `dir`, in its category folders.
fn csv_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += csv_files(&path);
        } else if path.extension().is_some_and(|e| e == "csv") {
            n += 1;
        }
    }
    n
}

fn faultline(args: &[&str]) -> (bool, String, String) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).arg("--log-file").arg(log.path()).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn eval_anomalies_scores_the_nab_files_and_writes_results() {
    let Some(nab) = data("nab") else { return };
    let out_dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = faultline(&[
        "eval",
        "anomalies",
        "--format",
        "nab",
        nab.join("data").to_str().unwrap(),
        "--windows",
        nab.join("combined_windows.json").to_str().unwrap(),
        "--write-results",
        out_dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    for profile in ["standard", "reward_low_FP_rate", "reward_low_FN_rate"] {
        assert!(stdout.lines().any(|l| l.starts_with(profile)), "{profile} row:\n{stdout}");
    }
    // One results file per data file, however many shared/data holds (17 once, 41 now).
    let files = csv_files(&nab.join("data"));
    assert!(files > 0);
    assert!(stdout.contains(&format!("wrote {files} results files")), "{files} data files:\n{stdout}");
    assert!(stdout.contains(&format!("NAB v1.1 scoring: {files} files")), "{stdout}");
    // The clean data needs no repair (its repeated times and gaps are notes, not repairs).
    assert!(stdout.contains("\nrepaired: nothing; noted: "), "{stdout}");
    assert!(!stdout.contains("clock stepped back") && !stdout.contains("bad value"), "{stdout}");
    // Leave-one-category-out: one row per category folder, and the whole corpus held out.
    let mut categories: Vec<String> = std::fs::read_dir(nab.join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    categories.sort();
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("per category"))
        .skip(3)
        .take_while(|l| !l.starts_with("all held out"))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(table, categories, "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("all held out")), "{stdout}");
}

#[test]
fn eval_logs_and_rca_run_on_the_real_data() {
    if let Some(loghub) = data("loghub") {
        let (ok, stdout, stderr) = faultline(&["eval", "logs", "--format", "loghub", loghub.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        assert!(stdout.lines().any(|l| l.starts_with("average")), "{stdout}");
    }
    if let Some(petshop) = data("petshop/low_traffic") {
        let (ok, stdout, stderr) = faultline(&["eval", "rca", "--format", "petshop", petshop.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("low_traffic    all    latency"), "{stdout}");
    }
}

#[test]
fn a_missing_windows_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let (ok, _, stderr) =
        faultline(&["eval", "anomalies", dir.path().to_str().unwrap(), "--windows", missing.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
}
