//! Compaction: the events of old closed problems leave the journal once a bundle holds them
//! (issue 16: "problem events are kept, and old resolved problems can be archived to bundles
//! and compacted out after a configurable age"), so that a journal of years holds the events of
//! recent problems and a summary row of every other.
//!
//! Events are append-only (triggers refuse UPDATE and DELETE): compacting is the one exception,
//! done in one transaction that drops the DELETE trigger, deletes the problem's events, puts the
//! trigger back and records the problem in `compacted` (how many events, their seqs, the
//! bundle). A crash leaves either all of that or none of it.
//!
//! What may be compacted is the caller's to decide ([`crate::agent::Agent`] checks that the
//! problem is closed, that its summary is stored, that no kept snapshot precedes its last event
//! and that the bundle reads back with all of its events); the journal only offers the
//! candidates and does the deletion.

use super::{sqlite_err, Journal, JournalError};
use crate::model::{ProblemId, Timestamp};
use rusqlite::{params, TransactionBehavior};

/// One problem compacted out of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    pub problem: ProblemId,
    pub events: usize,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Where its events are: the bundle's path as the agent wrote it down.
    pub bundle: String,
}

const NO_DELETE_TRIGGER: &str = "CREATE TRIGGER problem_events_no_delete BEFORE DELETE ON problem_events
    BEGIN
        SELECT RAISE(ABORT, 'problem_events is append-only: DELETE refused');
    END;";

impl Journal {
    /// Problems with a stored summary that closed and had their last event before `before`
    /// (data time), not compacted yet, oldest first: what compaction may look at.
    pub fn compaction_candidates(&self, before: Timestamp) -> Result<Vec<ProblemId>, JournalError> {
        if !self.has_table("compacted")? {
            return Ok(Vec::new());
        }
        let action = "listing the problems compaction may take";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT problem FROM problem_summaries WHERE closed_at IS NOT NULL AND closed_at < ?1 \
                 AND last_at < ?1 AND problem NOT IN (SELECT problem FROM compacted) ORDER BY closed_at, problem",
            )
            .map_err(sqlite_err(&self.path, action))?;
        let ids = stmt
            .query_map([before.millis()], |r| r.get::<_, i64>(0))
            .map_err(sqlite_err(&self.path, action))?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(sqlite_err(&self.path, action))?;
        Ok(ids.into_iter().filter_map(|id| u64::try_from(id).ok()).map(ProblemId).collect())
    }

    /// Deletes the events of `problem` and records it as compacted into `bundle`, in one
    /// transaction. Returns what was recorded (`None`: it had no events).
    pub fn compact_problem(&mut self, problem: ProblemId, bundle: &str) -> Result<Option<Compacted>, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "compacting a problem's events" });
        }
        let path = &self.path;
        let action = format!("compacting the events of {problem}");
        let id = i64::try_from(problem.0).map_err(|_| JournalError::OutOfRange {
            path: path.clone(),
            what: "problem id",
            value: problem.0,
        })?;
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_err(path, &action))?;
        let (events, first, last): (i64, Option<i64>, Option<i64>) = tx
            .query_row("SELECT count(*), min(seq), max(seq) FROM problem_events WHERE problem = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(sqlite_err(path, &action))?;
        let (Some(first), Some(last)) = (first, last) else { return Ok(None) };
        tx.execute_batch("DROP TRIGGER problem_events_no_delete;").map_err(sqlite_err(path, &action))?;
        tx.execute("DELETE FROM problem_events WHERE problem = ?1", [id]).map_err(sqlite_err(path, &action))?;
        tx.execute_batch(NO_DELETE_TRIGGER).map_err(sqlite_err(path, &action))?;
        tx.execute(
            "INSERT INTO compacted (problem, events, first_seq, last_seq, bundle, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, events, first, last, bundle, Timestamp::wall_clock().millis()],
        )
        .map_err(sqlite_err(path, &action))?;
        tx.commit().map_err(sqlite_err(path, &action))?;
        Ok(Some(Compacted {
            problem,
            events: events as usize,
            first_seq: first as u64,
            last_seq: last as u64,
            bundle: bundle.to_string(),
        }))
    }

    /// The problems compacted out of this journal, by id.
    pub fn compacted(&self) -> Result<Vec<Compacted>, JournalError> {
        if !self.has_table("compacted")? {
            return Ok(Vec::new());
        }
        let action = "listing the compacted problems";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT problem, events, first_seq, last_seq, bundle FROM compacted ORDER BY problem")
            .map_err(sqlite_err(&self.path, action))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Compacted {
                    problem: ProblemId(r.get::<_, i64>(0)? as u64),
                    events: r.get::<_, i64>(1)? as usize,
                    first_seq: r.get::<_, i64>(2)? as u64,
                    last_seq: r.get::<_, i64>(3)? as u64,
                    bundle: r.get(4)?,
                })
            })
            .map_err(sqlite_err(&self.path, action))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sqlite_err(&self.path, action));
        rows
    }
}
