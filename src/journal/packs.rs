//! Metric observations journaled in packs: one row per source per batch instead of one row per
//! sample.
//!
//! A live agent journals a pull at a time ([`Journal::append_batch`]), and at 4,000 series every
//! 15 s nearly every observation is one metric sample. One row each cost about 8 µs of CPU per
//! observation, half of it in SQLite (a B-tree insert in the table and one in its time index),
//! wrote about 600 bytes to disk per observation (the WAL, then the checkpoint: 14 GB a day),
//! and made retention delete 24 M rows a day one by one. A pack holds a batch's metric
//! observations of one source in one row: the source once, times as integers, as
//!
//! ```json
//! [[id, at_ms, "entity", "metric", [[t_ms, value], ...]], ...]
//! ```
//!
//! Packs share the observations' id sequence, so every observation keeps its own id (events
//! name the one that caused them, snapshots the last one fed, and readers get ids in append
//! order, row or pack alike). `at` is the newest data time in the pack: retention drops a
//! pack once all of it is older than the cut. Single observations (runbooks, silences, the demo
//! fed one at a time) and every other kind stay one row each.

use super::{sqlite_err, Journal, JournalError};
use crate::model::{EntityId, Observation, ObservationKind, Timestamp};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::path::Path;

/// One observation in a pack: id, data time, entity, metric, samples (times in ms).
type Entry = (i64, i64, EntityId, String, Vec<(i64, f64)>);
/// The same, borrowed, for encoding.
type EntryRef<'a> = (i64, i64, &'a EntityId, &'a str, Vec<(i64, f64)>);

/// A pack read back: its first id, source and entries.
pub(super) struct PackRow {
    pub first: i64,
    pub source: String,
    pub body: String,
}

/// The metric observations of `observations` (with their ids), as a pack's body. `None` when
/// one is not a metric.
pub(super) fn encode(observations: &[(i64, &Observation)]) -> Option<String> {
    let mut entries: Vec<EntryRef<'_>> = Vec::with_capacity(observations.len());
    for &(id, o) in observations {
        let ObservationKind::Metric { entity, metric, samples } = &o.kind else { return None };
        entries.push((id, o.at.millis(), entity, metric, samples.iter().map(|(t, v)| (t.millis(), *v)).collect()));
    }
    serde_json::to_string(&entries).ok()
}

impl PackRow {
    /// The pack's observations with their ids, in id order.
    pub fn decode(&self, path: &Path) -> Result<Vec<(i64, Observation)>, JournalError> {
        let entries: Vec<Entry> = serde_json::from_str(&self.body).map_err(|source| {
            JournalError::ObservationUnreadable { path: path.to_path_buf(), id: self.first, source }
        })?;
        Ok(entries
            .into_iter()
            .map(|(id, at, entity, metric, samples)| {
                let samples = samples.into_iter().map(|(t, v)| (Timestamp(t), v)).collect();
                let kind = ObservationKind::Metric { entity, metric, samples };
                (id, Observation { at: Timestamp(at), source: self.source.clone(), kind })
            })
            .collect())
    }
}

/// The id of the last observation ever appended, row or pack (0: none), also when pruned.
pub(super) fn last_observation_id_in(conn: &Connection, path: &Path) -> Result<i64, JournalError> {
    conn.query_row(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'observations'), 0), \
                    COALESCE((SELECT MAX(last) FROM metric_packs), 0))",
        [],
        |r| r.get(0),
    )
    .map_err(sqlite_err(path, "reading the last observation id"))
}

impl Journal {
    /// Whether the file has the packs table (a viewer of a journal older than schema 8 reads
    /// it as it is).
    pub(super) fn has_packs(&self) -> Result<bool, JournalError> {
        self.conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metric_packs')")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(sqlite_err(&self.path, "looking for the metric packs table"))
    }

    /// The packs holding observations with an id above `id`, in id order.
    pub(super) fn packs_after(&self, id: i64) -> Result<Vec<PackRow>, JournalError> {
        let action = format!("reading metric packs after observation id {id}");
        // Packs of several sources in one batch interleave their ids: by `last`, not `first`.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT first, source, body FROM metric_packs WHERE last > ?1 ORDER BY first")
            .map_err(sqlite_err(&self.path, &action))?;
        let rows = stmt
            .query_map([id], |r| Ok(PackRow { first: r.get(0)?, source: r.get(1)?, body: r.get(2)? }))
            .map_err(sqlite_err(&self.path, &action))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err(&self.path, &action))
    }

    /// The packs whose id span holds `id` (packs of several sources in one batch interleave,
    /// so more than one may).
    pub(super) fn packs_spanning(&self, id: i64) -> Result<Vec<PackRow>, JournalError> {
        let action = format!("finding the metric pack of observation {id}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT first, source, body FROM metric_packs WHERE first <= ?1 AND last >= ?1 ORDER BY first",
            )
            .map_err(sqlite_err(&self.path, &action))?;
        let rows = stmt
            .query_map([id], |r| Ok(PackRow { first: r.get(0)?, source: r.get(1)?, body: r.get(2)? }))
            .map_err(sqlite_err(&self.path, &action))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err(&self.path, &action))
    }

    /// `rows` (observation rows, in id order) merged with the packed observations above `id`.
    pub(super) fn with_packs_after(
        &self,
        id: i64,
        rows: Vec<(i64, Observation)>,
    ) -> Result<Vec<(i64, Observation)>, JournalError> {
        let packs = self.packs_after(id)?;
        if packs.is_empty() {
            return Ok(rows);
        }
        let mut packed = Vec::new();
        for p in &packs {
            packed.extend(p.decode(&self.path)?.into_iter().filter(|(i, _)| *i > id));
        }
        // Packs of several sources interleave their ids.
        packed.sort_by_key(|(i, _)| *i);
        Ok(merge(rows, packed))
    }

    /// The packed observations among `ids` (those not found as rows), by id.
    pub(super) fn packed(&self, ids: &[i64]) -> Result<BTreeMap<i64, Observation>, JournalError> {
        let mut out = BTreeMap::new();
        // Packs decoded so far, by first id: a problem's observations sit in a few of them.
        let mut decoded: BTreeMap<i64, Vec<(i64, Observation)>> = BTreeMap::new();
        for &id in ids {
            for p in self.packs_spanning(id)? {
                let entries = match decoded.entry(p.first) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(p.decode(&self.path)?),
                };
                if let Ok(k) = entries.binary_search_by_key(&id, |(i, _)| *i) {
                    out.insert(id, entries[k].1.clone());
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Two id-ordered lists as one.
pub(super) fn merge(a: Vec<(i64, Observation)>, b: Vec<(i64, Observation)>) -> Vec<(i64, Observation)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 < y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

/// Records that ids up to `last` are taken (packs share the rows' AUTOINCREMENT sequence, so
/// an id is never given twice, also after its pack was pruned).
pub(super) fn take_ids(tx: &rusqlite::Transaction<'_>, path: &Path, last: i64) -> Result<(), JournalError> {
    tx.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'observations', ?1 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'observations')",
        [last],
    )
    .and_then(|_| tx.execute("UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'observations' AND seq < ?1", [last]))
    .map(drop)
    .map_err(sqlite_err(path, &format!("recording observation ids up to {last} as taken")))
}

/// Inserts a pack (its entries' ids run from `first` to `last`).
pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    (first, last, at): (i64, i64, i64),
    source: &str,
    body: &str,
) -> Result<(), JournalError> {
    tx.prepare_cached("INSERT INTO metric_packs (first, last, at, source, body) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![first, last, at, source, body]))
        .map(drop)
        .map_err(|e| sqlite_err(path, &format!("inserting a pack of metric observations {first}..={last}"))(e))
}
