//! `faultline journal check|salvage|archive`: a damaged journal is not a lost history, and
//! closed problems outlive the journal's retention as bundles.
//!
//! `check` reads the journal without changing it and says what is damaged and where (exit 1 when
//! anything is); `salvage` writes every readable event, observation, request, meta row and engine
//! snapshot into a new journal and lists what was lost. See `faultline::journal::salvage` for how rows are found.

use anyhow::{bail, Result};
use clap::Subcommand;
use faultline::journal::salvage;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Say whether a journal is sound, and what is damaged and where when it is not (exit 1).
    Check { file: PathBuf },
    /// Copy every readable row of a damaged journal into a new one and list what was lost.
    Salvage {
        file: PathBuf,
        /// The new journal (must not exist).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a bundle of every closed problem not yet archived into a folder (P-0042.faultline),
    /// so incidents stay replayable after retention prunes the journal. Only reads the journal;
    /// run it more often than the retention (a daily timer).
    Archive {
        file: PathBuf,
        /// The archive folder (created if missing; one per journal: files are named by problem id).
        #[arg(short, long)]
        output: PathBuf,
        /// Only problems closed at least this long before the journal's newest data (e.g. "1h").
        #[arg(long, value_name = "DURATION", value_parser = faultline::config::HumanDuration::parse)]
        closed_for: Option<faultline::config::HumanDuration>,
        /// The configuration the journal was written with (for journals replayed from their
        /// start; one an agent pruned carries its own in its snapshots).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn run(command: JournalCommand) -> Result<()> {
    match command {
        JournalCommand::Check { file } => {
            let findings = salvage::scan(&file)?;
            // Written without panicking when stdout is closed early (`| head`).
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", findings.report());
            if findings.is_sound() {
                return Ok(());
            }
            let _ =
                writeln!(out, "To keep what is readable: faultline journal salvage {} -o NEW.sqlite", file.display());
            bail!("journal {} is damaged", file.display())
        }
        JournalCommand::Archive { file, output, closed_for, config } => {
            let engine = super::engine_config(config.as_deref())?;
            let journal = faultline::journal::Journal::open_read_only(&file)?;
            let closed_by = match closed_for {
                Some(d) => journal.newest_data_time()?.map(|t| t.plus_ms(-d.millis())),
                None => None,
            };
            let source = file.display().to_string();
            let report = faultline::bundle::archive::archive(
                &journal,
                &output,
                closed_by,
                &engine,
                &source,
                &faultline::runbook::operator(),
            )?;
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", report.describe());
            Ok(())
        }
        JournalCommand::Salvage { file, output } => {
            let findings = salvage::salvage(&file, &output)?;
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}", findings.report());
            let _ = writeln!(
                out,
                "salvaged into {}: {} events, {} observations, {} requests, {} engine snapshots",
                output.display(),
                findings.events.len(),
                findings.observations.len(),
                findings.requests.len(),
                findings.snapshots.len()
            );
            Ok(())
        }
    }
}
