//! The history's index in the journal: one stored [`IncidentSummary`] per problem, kept up by
//! the agent, so a report of a month or a search over a year reads a row per problem instead of
//! re-reading and re-folding every event (see `journal::summaries` for the table).
//!
//! - Writer: [`catch_up`] folds the events journaled since the store's seq into the rows of
//!   their problems, in chunks. The agent calls it after each pull cycle and when it starts
//!   (the first call on an older journal builds the whole store once).
//! - Reader: [`read`] takes the rows of the problems that may be alive in a period, folds the
//!   events after the store's seq on top, and folds from scratch the few problems whose row
//!   already holds events after the period's end. The result equals folding every event up to
//!   the period's end (a test holds the two paths to the same report); a journal with no store
//!   (older, or from no live agent) or an unreadable row reads as `None`, and the caller folds
//!   the events as before.

use super::summary::{fold_into, summarize, IncidentSummary};
use crate::journal::{Journal, JournalError, SummaryRow};
use crate::model::{ProblemId, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

/// The stored JSON's format: bump it when [`IncidentSummary`] changes shape, and the next
/// catch-up rebuilds the store (readers ignore a store of another format meanwhile).
pub const FORMAT: u32 = 1;

/// Events folded per transaction by [`catch_up`] (bounds its memory on a year's backfill).
const CHUNK: usize = 20_000;

/// Brings the stored summaries up to the journal's last event; returns how many events it
/// folded. A store in another format, or with a row that does not read back, is rebuilt.
pub fn catch_up(journal: &mut Journal) -> Result<usize, JournalError> {
    catch_up_at_most(journal, usize::MAX)
}

/// [`catch_up`], folding at most `chunks` chunks of [`CHUNK`] events: what the live agent does
/// each cycle, so a long journal's first backfill is spread over cycles instead of delaying the
/// first pull (readers fold the events after the store, so a store behind is only slower).
pub fn catch_up_at_most(journal: &mut Journal, chunks: usize) -> Result<usize, JournalError> {
    let mut chunks = chunks;
    let mut after = journal.summaries_covered(FORMAT)?;
    if after == 0 {
        journal.store_summaries(FORMAT, 0, &[], true)?;
    }
    let mut folded = 0;
    'chunks: loop {
        if chunks == 0 {
            break;
        }
        chunks -= 1;
        let events = journal.history_events_after(after, CHUNK)?;
        let Some(last) = events.last().map(|e| e.seq) else { break };
        let mut ids: Vec<ProblemId> = events.iter().map(|e| e.problem).collect();
        ids.sort();
        ids.dedup();
        let mut summaries = BTreeMap::new();
        let mut last_at: BTreeMap<ProblemId, Timestamp> = BTreeMap::new();
        for (id, at, body) in journal.stored_summaries(&ids)? {
            match serde_json::from_str::<IncidentSummary>(&body) {
                Ok(s) => {
                    summaries.insert(id, s);
                    last_at.insert(id, at);
                }
                Err(e) => {
                    tracing::warn!(journal = %journal.path().display(), problem = %id, error = %e,
                        "a stored summary does not read back; rebuilding the store");
                    journal.store_summaries(FORMAT, 0, &[], true)?;
                    after = 0;
                    continue 'chunks;
                }
            }
        }
        for e in &events {
            fold_into(&mut summaries, e);
            let t = last_at.entry(e.problem).or_insert(e.at);
            *t = (*t).max(e.at);
        }
        let rows: Vec<SummaryRow> = ids
            .iter()
            .filter_map(|id| summaries.get(id).map(|s| row(s, last_at.get(id).copied().unwrap_or(s.opened_at))))
            .collect();
        journal.store_summaries(FORMAT, last, &rows, false)?;
        folded += events.len();
        after = last;
    }
    Ok(folded)
}

fn row(s: &IncidentSummary, last_at: Timestamp) -> SummaryRow {
    // A merged problem is over for the history (never reported, never offered as similar).
    let closed_at = s.resolved_at.or(s.merged_into.map(|_| last_at));
    let body = serde_json::to_string(s).unwrap_or_else(|e| {
        // Every field is a string, number, set or map of them: this cannot fail.
        unreachable!("an IncidentSummary always serializes: {e}")
    });
    SummaryRow { problem: s.id, opened_at: s.opened_at, closed_at, last_at, body }
}

/// The summaries of the problems that may be alive in `from..=until` (a superset: the report
/// picks), each as folded from its events up to `until`; `None` when the journal has no store
/// to read (the caller folds the events).
pub fn read(
    journal: &Journal,
    from: Timestamp,
    until: Timestamp,
) -> Result<Option<BTreeMap<ProblemId, IncidentSummary>>, JournalError> {
    let Some(stored) = journal.stored_history(FORMAT, from, until)? else { return Ok(None) };
    let mut out = summarize(&stored.refold);
    let refolded: BTreeSet<ProblemId> = out.keys().copied().collect();
    for (id, body) in stored.bodies.iter().chain(&stored.extra) {
        match serde_json::from_str::<IncidentSummary>(body) {
            Ok(s) => {
                out.insert(*id, s);
            }
            Err(e) => {
                tracing::warn!(journal = %journal.path().display(), problem = %id, error = %e,
                    "a stored summary does not read back; folding the events instead");
                return Ok(None);
            }
        }
    }
    for e in stored.tail.iter().filter(|e| !refolded.contains(&e.problem)) {
        fold_into(&mut out, e);
    }
    Ok(Some(out))
}
