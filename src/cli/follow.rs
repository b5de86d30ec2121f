//! `faultline replay FILE --follow`: a read-only viewer on a journal an agent is writing.

use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct Options {
    pub readonly: bool,
    pub log_path: PathBuf,
}

pub fn run(file: &Path, opts: Options) -> Result<()> {
    let _ = (opts.readonly, opts.log_path);
    anyhow::bail!("{}: --follow is not built yet", file.display())
}
