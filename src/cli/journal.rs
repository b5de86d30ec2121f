//! `faultline journal check|salvage`: a damaged journal is not a lost history.
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
