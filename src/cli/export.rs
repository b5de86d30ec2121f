//! `faultline export P-0003 --journal FILE`: an incident bundle or a post-mortem draft.

use anyhow::Result;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One SQLite file that `faultline replay` plays anywhere.
    Bundle,
    /// A post-mortem draft.
    Markdown,
}

pub fn run(problem: &str, journal: &Path, output: Option<&Path>, format: Format, config: Option<&Path>) -> Result<()> {
    let _ = (problem, output, format, config);
    anyhow::bail!("{}: export is not built yet", journal.display())
}
