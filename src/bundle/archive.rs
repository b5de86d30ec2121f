//! `faultline journal archive`: every closed problem of a journal as a bundle in a folder, so
//! an incident stays replayable after retention pruned its observations (an agent's journal can
//! export a problem only while it holds the observations from before its window: see
//! `journal::Pins`). Run it more often than the journal's retention (a daily timer): each run
//! writes the bundles not yet there, named `P-0042.faultline`, and says which problems can no
//! longer be exported and why. The journal is only read. One folder per journal: the names
//! are the journal's problem ids.

use super::export::Loaded;
use super::{Bundle, BundleError};
use crate::engine::EngineConfig;
use crate::journal::Journal;
use crate::model::{ProblemId, Timestamp};
use std::path::{Path, PathBuf};

/// What an archive run did, problem by problem.
#[derive(Debug, Default)]
pub struct ArchiveReport {
    /// Bundles written in this run.
    pub written: Vec<(ProblemId, PathBuf)>,
    /// Problems whose bundle was already in the folder.
    pub already: Vec<ProblemId>,
    /// Problems still open, or closed after the cut-off: left for a later run.
    pub not_yet: Vec<ProblemId>,
    /// Problems that can no longer (or cannot) be exported, with why.
    pub failed: Vec<(ProblemId, String)>,
}

impl ArchiveReport {
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} bundle(s) written, {} already archived, {} not closed long enough, {} not exportable\n",
            self.written.len(),
            self.already.len(),
            self.not_yet.len(),
            self.failed.len()
        );
        for (id, path) in &self.written {
            out.push_str(&format!("  {id}: {}\n", path.display()));
        }
        for (id, why) in &self.failed {
            out.push_str(&format!("  {id}: not exportable: {why}\n"));
        }
        out
    }
}

/// The file a problem's bundle is archived in.
pub fn archived_path(dir: &Path, problem: ProblemId) -> PathBuf {
    dir.join(format!("{problem}.faultline"))
}

/// Writes the bundle of every problem of `journal` closed (resolved or merged) at or before
/// `closed_by` (`None`: every closed problem) into `dir`, skipping those whose bundle is
/// already there (a file that does not read as that problem's bundle is written again). A
/// problem that cannot be exported is reported and the others still written.
pub fn archive(
    journal: &Journal,
    dir: &Path,
    closed_by: Option<Timestamp>,
    config: &EngineConfig,
    source: &str,
    exported_by: &str,
) -> Result<ArchiveReport, BundleError> {
    std::fs::create_dir_all(dir).map_err(|source| BundleError::Io {
        path: dir.to_path_buf(),
        action: "creating the archive folder".into(),
        source,
    })?;
    let loaded = Loaded::read(journal)?;
    let mut report = ArchiveReport::default();
    for (id, p) in loaded.problems().problems {
        let closed_at = (!p.is_open()).then(|| p.resolved_at.unwrap_or(p.updated_at));
        if closed_at.is_none_or(|t| closed_by.is_some_and(|by| t > by)) {
            report.not_yet.push(id);
            continue;
        }
        let path = archived_path(dir, id);
        if Bundle::read(&path).is_ok_and(|b| b.meta.problem == id) {
            report.already.push(id);
            continue;
        }
        match loaded.export(journal, id, config.clone(), source, exported_by).and_then(|b| b.write(&path)) {
            Ok(()) => report.written.push((id, path)),
            Err(e) => report.failed.push((id, e.to_string())),
        }
    }
    Ok(report)
}
