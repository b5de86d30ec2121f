//! Stored per-problem summaries (`problem_summaries`, schema version 6): the history's index, so
//! a handover report or a similarity search over months reads one small row per problem instead
//! of re-reading and re-folding every event.
//!
//! Derived data, never the truth: a row is the fold of its problem's events up to the seq in
//! `meta` (`summaries_seq`), written by the agent ([`crate::history::store::catch_up`]), and a
//! reader folds the events after that seq on top. Bodies are opaque here (the history's JSON of
//! an `IncidentSummary`, in the format named by `meta`'s `summaries_format`); a format this code
//! does not know reads as no store at all, and the next catch-up rebuilds it.

use super::{sqlite_err, Journal, JournalError};
use crate::model::{ProblemEvent, ProblemId, Timestamp};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use std::collections::BTreeSet;

const SEQ_KEY: &str = "summaries_seq";
const FORMAT_KEY: &str = "summaries_format";

/// One summary to store.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    pub problem: ProblemId,
    pub opened_at: Timestamp,
    /// Resolved or merged as folded so far (`None`: open).
    pub closed_at: Option<Timestamp>,
    /// The data time of its last folded event.
    pub last_at: Timestamp,
    pub body: String,
}

/// What a reader needs to rebuild the summaries of a period from the store, read in one
/// transaction so rows, seq and events agree.
#[derive(Debug, Clone, Default)]
pub struct StoredHistory {
    /// The seq the rows cover.
    pub covered: u64,
    /// Bodies of the stored problems that may be alive in the period, with no event after it.
    pub bodies: Vec<(ProblemId, String)>,
    /// Events (no repeats) up to the period's end of the problems whose stored row already
    /// holds later events: folded again from scratch.
    pub refold: Vec<ProblemEvent>,
    /// Events (no repeats) after `covered` up to the period's end, in seq order, with the
    /// stored bodies of the problems they touch that `bodies` lacks (`extra`).
    pub tail: Vec<ProblemEvent>,
    pub extra: Vec<(ProblemId, String)>,
}

impl Journal {
    /// The seq the stored summaries of `format` cover (0: none stored, an older schema, or
    /// another format).
    pub fn summaries_covered(&self, format: u32) -> Result<u64, JournalError> {
        if !self.has_table("problem_summaries")? {
            return Ok(0);
        }
        let stored_format = self.meta(FORMAT_KEY)?;
        if stored_format.as_deref() != Some(format.to_string().as_str()) {
            return Ok(0);
        }
        let seq = self.meta(SEQ_KEY)?.unwrap_or_default();
        Ok(seq.parse().unwrap_or(0))
    }

    /// Events but signal repeats with a seq above `after`, in seq order, at most `limit` of
    /// them: what a catch-up folds into the store.
    pub fn history_events_after(&self, after: u64, limit: usize) -> Result<Vec<ProblemEvent>, JournalError> {
        let after = self.to_sql_int("summaries seq", after)?;
        self.read_events(
            "SELECT seq, problem, body FROM problem_events WHERE seq > ?1 AND kind != 'signal_repeated' \
             ORDER BY seq LIMIT ?2",
            [after, i64::try_from(limit).unwrap_or(i64::MAX)],
            &format!("reading the events after seq {after} for the stored summaries"),
        )
    }

    /// The stored bodies of `problems` (those with a row), with the data time of their last
    /// folded event.
    pub fn stored_summaries(
        &self,
        problems: &[ProblemId],
    ) -> Result<Vec<(ProblemId, Timestamp, String)>, JournalError> {
        let action = "reading stored summaries";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT last_at, body FROM problem_summaries WHERE problem = ?1")
            .map_err(sqlite_err(&self.path, action))?;
        let mut out = Vec::new();
        for &p in problems {
            let id = self.to_sql_int("problem id", p.0)?;
            let row: Option<(i64, String)> = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(sqlite_err(&self.path, action))?;
            out.extend(row.map(|(at, body)| (p, Timestamp(at), body)));
        }
        Ok(out)
    }

    /// Writes `rows` (replacing theirs) and records that the store covers `covered` in
    /// `format`, in one transaction; `reset` first empties the store (a rebuild).
    pub fn store_summaries(
        &mut self,
        format: u32,
        covered: u64,
        rows: &[SummaryRow],
        reset: bool,
    ) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "storing problem summaries" });
        }
        let covered_sql = self.to_sql_int("summaries seq", covered)?;
        let path = &self.path;
        let action = format!("storing {} problem summaries up to seq {covered}", rows.len());
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_err(path, &action))?;
        if reset {
            // A compacted problem's row cannot be folded again from its events: it stays.
            tx.execute("DELETE FROM problem_summaries WHERE problem NOT IN (SELECT problem FROM compacted)", [])
                .map_err(sqlite_err(path, &action))?;
        }
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO problem_summaries (problem, opened_at, closed_at, last_at, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sqlite_err(path, &action))?;
            for r in rows {
                let id = i64::try_from(r.problem.0).map_err(|_| JournalError::OutOfRange {
                    path: path.clone(),
                    what: "problem id",
                    value: r.problem.0,
                })?;
                insert
                    .execute(params![
                        id,
                        r.opened_at.millis(),
                        r.closed_at.map(|t| t.millis()),
                        r.last_at.millis(),
                        r.body
                    ])
                    .map_err(sqlite_err(path, &action))?;
            }
        }
        for (key, value) in [(FORMAT_KEY, format.to_string()), (SEQ_KEY, covered_sql.to_string())] {
            tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", [key, value.as_str()])
                .map_err(sqlite_err(path, &action))?;
        }
        tx.commit().map_err(sqlite_err(path, &action))
    }

    /// What the store holds for the period `from..=until` (see [`StoredHistory`]); `None` when
    /// nothing is stored in `format`.
    pub fn stored_history(
        &self,
        format: u32,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Option<StoredHistory>, JournalError> {
        let action = format!("reading the stored summaries from {from} to {until}");
        // One read transaction: the agent may store and append between two selects.
        let tx = self.conn.unchecked_transaction().map_err(sqlite_err(&self.path, &action))?;
        let covered = self.summaries_covered(format)?;
        if covered == 0 {
            return Ok(None);
        }
        let covered_sql = self.to_sql_int("summaries seq", covered)?;
        let path = &self.path;
        let mut bodies = Vec::new();
        let mut refold_ids = BTreeSet::new();
        // Open, closed in or after the period, or with events after it: each term by its own
        // index (an OR of them makes SQLite scan every row, 100+ ms over a year).
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT problem, last_at > ?2, CASE WHEN last_at > ?2 THEN NULL ELSE body END \
                     FROM problem_summaries \
                     WHERE problem IN (SELECT problem FROM problem_summaries WHERE closed_at IS NULL \
                                       UNION SELECT problem FROM problem_summaries WHERE closed_at >= ?1 \
                                       UNION SELECT problem FROM problem_summaries WHERE last_at > ?2) \
                       AND opened_at <= ?2 \
                     ORDER BY problem",
                )
                .map_err(sqlite_err(path, &action))?;
            let rows = stmt
                .query_map([from.millis(), until.millis()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?, r.get::<_, Option<String>>(2)?))
                })
                .map_err(sqlite_err(path, &action))?;
            for row in rows {
                let (problem, later, body) = row.map_err(sqlite_err(path, &action))?;
                let problem = ProblemId(problem as u64);
                match (later, body) {
                    (false, Some(body)) => bodies.push((problem, body)),
                    _ => {
                        refold_ids.insert(problem);
                    }
                }
            }
        }
        let mut refold = Vec::new();
        for &p in &refold_ids {
            let id = self.to_sql_int("problem id", p.0)?;
            refold.extend(self.read_events(
                "SELECT seq, problem, body FROM problem_events \
                 WHERE problem = ?1 AND at <= ?2 AND kind != 'signal_repeated' ORDER BY seq",
                [id, until.millis()],
                &action,
            )?);
        }
        refold.sort_by_key(|e| e.seq);
        let tail = self.read_events(
            "SELECT seq, problem, body FROM problem_events \
             WHERE seq > ?1 AND at <= ?2 AND kind != 'signal_repeated' ORDER BY seq",
            [covered_sql, until.millis()],
            &action,
        )?;
        let mut missing: Vec<ProblemId> = tail.iter().map(|e| e.problem).collect();
        missing.sort();
        missing.dedup();
        missing.retain(|p| !refold_ids.contains(p) && bodies.binary_search_by_key(p, |(id, _)| *id).is_err());
        let extra = self.stored_summaries(&missing)?.into_iter().map(|(p, _, body)| (p, body)).collect();
        tx.finish().map_err(sqlite_err(&self.path, &action))?;
        Ok(Some(StoredHistory { covered, bodies, refold, tail, extra }))
    }

    /// True when the file has table `name` (a read-only journal may be of an older schema).
    pub(super) fn has_table(&self, name: &str) -> Result<bool, JournalError> {
        self.conn
            .query_row("SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [name], |r| {
                r.get(0)
            })
            .map_err(sqlite_err(&self.path, &format!("looking for table {name}")))
    }
}
