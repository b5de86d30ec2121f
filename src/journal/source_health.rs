//! Source health as the agent saw it, kept in the journal (`source_health`, schema version 6).
//!
//! The status bar's "stale since 10:02: connection refused" used to live only in the agent's
//! memory, so the handover report had to guess staleness from gaps in journaled metric data. A
//! guess that quiet observations (not journaled), retention (prunes observations) and a slow
//! poll interval all fool. This table records the fact instead: one row per change of a source's
//! health (healthy or stale, with why), and one on each source's first cycle after an agent
//! The first pull of a source writes its first row, so a journal that has rows says, for every
//! source it names, what was known from then on. A few rows a day, never one per cycle.
//!
//! Written by the agent through [`Journal::record_source_health`] after each pull (it keeps
//! only changes, so calling it every cycle is fine); read by the history
//! ([`Journal::source_health_between`]).

use super::{sqlite_err, Journal, JournalError};
use crate::model::Timestamp;
use rusqlite::{params, OptionalExtension};

/// One recorded change of a source's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    pub source: String,
    /// When the pull that saw it started (the agent's clock, ms; the data time of a live agent).
    pub at: Timestamp,
    /// `None`: healthy from here on; `Some(why)`: stale from here on.
    pub stale: Option<String>,
}

impl Journal {
    /// Records `source`'s health as of a pull at `at` (`stale`: why it failed, `None` when the
    /// pull was fine), unless it is what the journal already says for that source. Returns
    /// whether a row was written.
    pub fn record_source_health(
        &mut self,
        source: &str,
        at: Timestamp,
        stale: Option<&str>,
    ) -> Result<bool, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "recording source health" });
        }
        let path = &self.path;
        let action = format!("recording the health of source `{source}`");
        let healthy: Option<bool> = self
            .conn
            .prepare_cached("SELECT healthy FROM source_health WHERE source = ?1 ORDER BY id DESC LIMIT 1")
            .and_then(|mut s| s.query_row([source], |r| r.get(0)).optional())
            .map_err(sqlite_err(path, &action))?;
        // Only a change of state is a fact worth a row; a new reason for the same outage is not.
        if healthy == Some(stale.is_none()) {
            return Ok(false);
        }
        self.conn
            .prepare_cached("INSERT INTO source_health (source, at, healthy, reason) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![source, at.millis(), stale.is_none(), stale]))
            .map_err(sqlite_err(path, &action))?;
        Ok(true)
    }

    /// Every recorded health change up to `until`, for the sources that have one in
    /// `from..=until`, plus each source's last change before `from` (its state when the period
    /// began), ordered by source then time. `None` when the journal records no source health at
    /// all (written before schema version 6, or by no live agent): then nothing is known and the
    /// caller must say so or infer.
    pub fn source_health_between(
        &self,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Vec<HealthChange>>, JournalError> {
        let path = &self.path;
        let action = format!("reading source health from {from} to {until}");
        if !self.has_table("source_health")? {
            return Ok(None);
        }
        let any: bool = self
            .conn
            .query_row("SELECT EXISTS(SELECT 1 FROM source_health WHERE at <= ?1)", [until.millis()], |r| r.get(0))
            .map_err(sqlite_err(path, &action))?;
        if !any {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source, at, healthy, reason, id FROM source_health WHERE at BETWEEN ?1 AND ?2 \
                 UNION ALL \
                 SELECT source, at, healthy, reason, MAX(id) FROM source_health WHERE at < ?1 GROUP BY source \
                 ORDER BY 1, 2, 5",
            )
            .map_err(sqlite_err(path, &action))?;
        let rows = stmt
            .query_map([from.millis(), until.millis()], |r| {
                let stale = match r.get::<_, bool>(2)? {
                    true => None,
                    false => Some(r.get::<_, Option<String>>(3)?.unwrap_or_default()),
                };
                Ok(HealthChange { source: r.get(0)?, at: Timestamp(r.get(1)?), stale })
            })
            .map_err(sqlite_err(path, &action))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err(path, &action)).map(Some)
    }
}
