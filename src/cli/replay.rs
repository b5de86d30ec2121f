//! `faultline replay FILE`: a journal or an incident bundle, shown with the replay cursor, or
//! printed as JSON (`--headless`, optionally `--at TIME`).

use super::print_problems;
use anyhow::Result;
use faultline::journal::Journal;
use faultline::model::ProblemSet;
use faultline::ui::{self, Feed, UiOptions};
use std::path::{Path, PathBuf};

pub struct Options<'a> {
    pub headless: bool,
    /// `--at`: RFC 3339, or HH:MM[:SS] on the journal's first day.
    pub at: Option<&'a str>,
    pub log_path: PathBuf,
}

pub fn run(file: &Path, opts: Options<'_>) -> Result<()> {
    let journal = Journal::open_read_only(file)?;
    let events = journal.events_after(0)?;
    if opts.headless {
        if opts.at.is_some() {
            anyhow::bail!("--at is not built yet");
        }
        return print_problems(&ProblemSet::fold(&events), None);
    }
    let observations = journal.observations()?;
    open_ui(events, observations, format!("replay: {}", file.display()), opts.log_path)
}

/// The UI on a finished stream: its events, then its observations (the events first so the UI
/// knows which series an anomaly was raised on and keeps their whole history for the metric
/// context; of other series it keeps only the last minutes), opened live at the end.
fn open_ui(
    events: Vec<faultline::model::ProblemEvent>,
    observations: Vec<faultline::model::Observation>,
    title: String,
    log_path: PathBuf,
) -> Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let n = events.len();
    let _ = tx.send(Feed::Events(events));
    let _ = tx.send(Feed::Observations(observations));
    let _ = tx.send(Feed::Finished { summary: format!("replayed {n} events from {title}") });
    let opts = UiOptions {
        title,
        readonly: true,
        log_path: Some(log_path),
        operator: faultline::runbook::operator(),
        silence: None,
    };
    ui::run(rx, None, opts)
}
