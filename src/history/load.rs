//! Reading the history from where it is kept: a journal (live, or an agent's, read-only) or an
//! incident bundle. A journal's summaries come from its store ([`store`], schema version 6)
//! when the agent keeps one; else its events are folded, skipping signal repeats (most of its
//! rows) and, for a period, reading only the problems alive in it (by the `at` and `kind`
//! indexes of schema version 4).

use super::handover::Period;
use super::staleness::Staleness;
use super::store;
use super::summary::{summarize, IncidentSummary};
use crate::bundle::{self, Bundle, FileKind};
use crate::journal::Journal;
use crate::model::{ObservationKind, ProblemId, Timestamp};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why the history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    #[error("{}: neither a faultline journal nor an incident bundle", .0.display())]
    Unknown(PathBuf),
    #[error("{}: holds no data, so it has no period to report on", .0.display())]
    Empty(PathBuf),
}

/// One file's history: its problems' events (repeats left out) and when its sources sent data.
pub struct Source {
    pub path: PathBuf,
    kind: Kind,
}

#[allow(clippy::large_enum_variant)] // one per command run, never in a collection
enum Kind {
    Journal(Journal),
    Bundle(Bundle),
}

impl Source {
    /// Opens a journal (read-only) or a bundle, whichever the file is.
    pub fn open(path: &Path) -> Result<Source, HistoryError> {
        let kind = match bundle::file_kind(path)? {
            FileKind::Bundle => Kind::Bundle(Bundle::read(path)?),
            FileKind::Journal => Kind::Journal(Journal::open_read_only(path)?),
            FileKind::Other => return Err(HistoryError::Unknown(path.to_path_buf())),
        };
        Ok(Source { path: path.to_path_buf(), kind })
    }

    /// The newest data time it holds: where a report's period ends unless told otherwise.
    pub fn newest(&self) -> Result<Timestamp, HistoryError> {
        let newest = match &self.kind {
            Kind::Journal(j) => j.newest_data_time()?,
            Kind::Bundle(b) => b.observations.iter().map(|o| o.at).chain(b.events.iter().map(|e| e.at)).max(),
        };
        newest.ok_or_else(|| HistoryError::Empty(self.path.clone()))
    }

    /// Summaries of every problem, folded from the events up to `until` (all: `None`).
    pub fn summaries(&self, until: Option<Timestamp>) -> Result<BTreeMap<ProblemId, IncidentSummary>, HistoryError> {
        let until = until.unwrap_or(Timestamp(i64::MAX));
        Ok(match &self.kind {
            Kind::Journal(j) => match store::read(j, Timestamp(i64::MIN), until)? {
                Some(stored) => stored.into_iter().filter(|(_, s)| s.opened_at <= until).collect(),
                None => summarize(&j.history_events(until)?),
            },
            Kind::Bundle(b) => summarize(b.events.iter().filter(|e| e.at <= until)),
        })
    }

    /// Summaries of the problems alive in `period`, folded from their events up to its end
    /// (possibly with a few more: the report picks). From the journal's stored summaries when
    /// it keeps them ([`store`]), else from its events.
    pub fn summaries_in(&self, period: Period) -> Result<BTreeMap<ProblemId, IncidentSummary>, HistoryError> {
        Ok(match &self.kind {
            Kind::Journal(j) => match store::read(j, period.from, period.until)? {
                Some(stored) => stored,
                None => self.folded_in(period)?,
            },
            Kind::Bundle(b) => summarize(b.events.iter().filter(|e| e.at <= period.until)),
        })
    }

    /// [`Source::summaries_in`] folded from the events, never from the stored summaries: what
    /// the store is checked against.
    pub fn folded_in(&self, period: Period) -> Result<BTreeMap<ProblemId, IncidentSummary>, HistoryError> {
        Ok(match &self.kind {
            Kind::Journal(j) => summarize(&j.history_events_between(period.from, period.until)?),
            Kind::Bundle(b) => summarize(b.events.iter().filter(|e| e.at <= period.until)),
        })
    }

    /// Which sources were stale in `period`: from the health the agent recorded when the
    /// journal has it, else from gaps in metric data (see [`super::staleness`]).
    pub fn stale(&self, period: Period) -> Result<Staleness, HistoryError> {
        Ok(match &self.kind {
            Kind::Journal(j) => match j.source_health_between(period.from, period.until)? {
                Some(changes) => Staleness::from_health(&changes, period),
                None => Staleness::from_gaps(j.data_times(period.from, period.until)?, period),
            },
            Kind::Bundle(b) => Staleness::from_gaps(data_times(&b.observations, period), period),
        })
    }
}

/// When each source sent metric data in `period`, from observations in memory (a bundle's, the
/// UI's); as [`Journal::data_times`], alerts and log patterns say nothing about a feed's health.
pub fn data_times(observations: &[crate::model::Observation], period: Period) -> Vec<(String, Timestamp)> {
    observations
        .iter()
        .filter(|o| o.at >= period.from && o.at <= period.until)
        .filter(|o| matches!(o.kind, ObservationKind::Metric { .. }))
        .map(|o| (if o.source.is_empty() { "data".to_string() } else { o.source.clone() }, o.at))
        .collect()
}
