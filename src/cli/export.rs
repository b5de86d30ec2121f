//! `faultline export P-0003 --journal FILE`: an incident bundle or a post-mortem draft.

use anyhow::{bail, Context, Result};
use faultline::bundle;
use faultline::journal::Journal;
use faultline::model::ProblemId;
use faultline::report::postmortem::{self, Provenance};
use std::io::Write as _;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One SQLite file that `faultline replay` plays anywhere.
    Bundle,
    /// A post-mortem draft.
    Markdown,
}

pub fn run(
    problem: &str,
    journal_path: &Path,
    output: Option<&Path>,
    format: Format,
    config: Option<&Path>,
) -> Result<()> {
    let id: ProblemId = problem.parse().map_err(anyhow::Error::msg)?;
    if let Some(out) = output {
        if same_file(out, journal_path) {
            bail!("{}: the output would overwrite the journal; give another -o FILE", out.display());
        }
    }
    if format == Format::Bundle && output.is_none() {
        bail!("a bundle is a file: give -o FILE (e.g. -o {id}.faultline)");
    }
    let engine = super::engine_config(config)?;
    let journal = Journal::open_read_only(journal_path)?;
    let events = journal.events_after(0)?;
    let source = journal_path.display().to_string();
    match format {
        Format::Markdown => {
            let provenance = Provenance {
                source: source.clone(),
                generator: concat!("faultline ", env!("CARGO_PKG_VERSION")).into(),
            };
            let Some(text) = postmortem::draft(&events, id, &provenance) else {
                let set = faultline::model::ProblemSet::fold(&events);
                bail!("{source}: no problem {id} in it ({})", bundle::known_problems(&set));
            };
            match output {
                Some(out) => write_file(out, text.as_bytes()),
                None => super::print_text(&text),
            }
        }
        Format::Bundle => {
            let out = output.context("a bundle needs -o FILE")?;
            let started = std::time::Instant::now();
            let b = bundle::export_journal(&journal, id, engine, &source, &faultline::runbook::operator())?;
            b.write(out)?;
            let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "{}: {id} ({}), {} observations and {} events from {} to {}, {} KiB, in {:.1} s",
                out.display(),
                b.meta.title,
                b.meta.observations,
                b.meta.events,
                b.meta.window_start,
                b.meta.window_end,
                size / 1024,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes beside the target and renames into place: a failure leaves nothing half-written.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    let tmp = path.with_file_name(name);
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes).with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all().with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("moving {} into place", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
