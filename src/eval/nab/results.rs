//! Writing a detector's scores in NAB's results layout, so NAB's own scorer can read them:
//! `<dir>/<detector>/<category>/<detector>_<file>.csv` with `timestamp,value,anomaly_score,label`.

use super::corpus::{format_nab_time, NabCorpus};
use super::scoring::check_scores;
use super::NabError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes one results CSV per corpus file and returns their paths (in corpus order). `label` is
/// 1 inside a window. `detector` names the folder and the file prefix; NAB splits result names
/// on `_`, so it may hold only ASCII letters, digits and `-`.
pub fn write_results(
    corpus: &NabCorpus,
    scores: &[Vec<f64>],
    dir: &Path,
    detector: &str,
) -> Result<Vec<PathBuf>, NabError> {
    if detector.is_empty() || !detector.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(NabError::Invalid(format!(
            "detector name `{detector}`: use ASCII letters, digits and `-` only (NAB splits result file names on `_`)"
        )));
    }
    check_scores(corpus, scores)?;
    let mut written = Vec::with_capacity(corpus.files().len());
    for (file, scores) in corpus.files().iter().zip(scores) {
        let key = Path::new(file.name());
        let file_name = key.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut path = dir.join(detector);
        if let Some(category) = key.parent() {
            path.push(category);
        }
        std::fs::create_dir_all(&path).map_err(|source| NabError::Io {
            path: path.clone(),
            action: "cannot create results folder",
            source,
        })?;
        path.push(format!("{detector}_{file_name}"));
        let mut text = String::from("timestamp,value,anomaly_score,label\n");
        // The file's own times (NAB matches windows on them), the values the detector was fed.
        let rows = file.file_times().iter().zip(file.rows()).zip(scores).enumerate();
        for (i, ((&t, &(_, value)), score)) in rows {
            let label = u8::from(file.in_window(i));
            // `{}` writes the shortest text that reads back to the same f64.
            let _ = writeln!(text, "{},{value},{score},{label}", format_nab_time(t));
        }
        std::fs::write(&path, text).map_err(|source| NabError::Io {
            path: path.clone(),
            action: "cannot write results file",
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
