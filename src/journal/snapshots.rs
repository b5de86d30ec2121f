//! Engine snapshots in the journal, so that an agent resumes from the newest snapshot plus the
//! observations after it instead of replaying its whole history (and so that observations
//! older than a snapshot can be pruned).
//!
//! A snapshot row is written in one transaction with the seq of the last event the engine had
//! emitted, the id of the last observation it was fed and a SHA-256 of its body; the same
//! transaction deletes all but the newest [`KEEP_SNAPSHOTS`] and those [`Pins`] keep (so that a
//! recent problem can still be exported as a bundle from the state before its window). A crash
//! while writing leaves the
//! previous rows as they were (the transaction rolls back); a row whose body no longer matches
//! its checksum (a damaged disk, an edited file) is reported unusable by [`Journal::read_snapshot`]
//! and the reader takes the one before.

use super::{sqlite_err, Journal, JournalError};
use crate::model::Timestamp;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

/// Snapshots kept in a journal: the newest, and one to fall back on.
pub const KEEP_SNAPSHOTS: usize = 2;

/// What a snapshot row says about itself (its body is read with [`Journal::read_snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Row id: grows with every snapshot written.
    pub id: i64,
    /// The last event seq the engine had emitted (0: none).
    pub seq: u64,
    /// The id of the last journaled observation the engine had been fed (0: none).
    pub observation: i64,
    /// The engine's data time (`None` before its first observation).
    pub at: Option<Timestamp>,
    /// The snapshot format ([`crate::engine::SNAPSHOT_VERSION`] of the writer).
    pub format: u32,
    /// Size of the body in bytes.
    pub bytes: usize,
}

/// A snapshot to store whole: its place in the journal and its body (the engine snapshot's JSON).
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRow<'a> {
    pub seq: u64,
    pub observation: i64,
    pub at: Option<Timestamp>,
    pub format: u32,
    pub body: &'a [u8],
    /// What the sources need to resume from here (a [`ResumeSet`](crate::sources::resume::ResumeSet)'s JSON).
    pub sources: Option<&'a [u8]>,
}

/// Why a stored snapshot cannot be used (the reader falls back to an older one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotUnusable {
    #[error("journal {path}: snapshot {id} is gone (pruned since it was listed)")]
    Gone { path: String, id: i64 },
    #[error(
        "journal {path}: snapshot {id} (seq {seq}) is damaged: its body's checksum is {found}, the row says {expected}"
    )]
    Checksum { path: String, id: i64, seq: u64, expected: String, found: String },
}

/// The SHA-256 of `body`, in hex.
pub fn checksum(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// A writer that keeps only the length and SHA-256 of what goes through it: a first pass over
/// a snapshot body, so the body can then be streamed into its row without ever being held whole
/// ([`Journal::write_snapshot_streamed`]).
#[derive(Default)]
pub struct BodyProbe {
    len: usize,
    hash: Sha256,
}

impl BodyProbe {
    /// The length and checksum (hex) of what was written.
    pub fn finish(self) -> (usize, String) {
        (self.len, hex::encode(self.hash.finalize()))
    }
}

impl std::io::Write for BodyProbe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hash.update(buf);
        self.len += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A snapshot whose body is written by a function (see [`Journal::write_snapshot_streamed`]):
/// its place, and the length and checksum the body will have.
#[derive(Debug, Clone)]
pub struct StreamedRow<'a> {
    pub seq: u64,
    pub observation: i64,
    pub at: Option<Timestamp>,
    pub format: u32,
    pub len: usize,
    pub checksum: String,
    pub sources: Option<&'a [u8]>,
    /// Older snapshots to keep beside the newest [`KEEP_SNAPSHOTS`] (`None`: none).
    pub pins: Option<Pins>,
}

/// Which older snapshots a journal keeps: for every problem opened at or after `since`, the
/// newest snapshot taken at least `window_ms` before its onset, the state a bundle of that
/// problem starts from (`bundle::export_journal`). The agent pins for the problems opened within
/// its retention, so that whatever the journal still has observations of can be exported. The
/// observations after the oldest snapshot kept are kept with it (retention prunes only what the
/// oldest snapshot covers): a pin holds them back by at most a window and a snapshot interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pins {
    pub since: Timestamp,
    pub window_ms: i64,
}

impl Journal {
    /// Stores a snapshot held whole in memory (what the tests write; the agent streams its
    /// own with [`Journal::write_snapshot_streamed`]). Returns the new row's id.
    #[cfg(test)]
    pub fn write_snapshot(&mut self, row: SnapshotRow<'_>) -> Result<i64, JournalError> {
        let streamed = StreamedRow {
            seq: row.seq,
            observation: row.observation,
            at: row.at,
            format: row.format,
            len: row.body.len(),
            checksum: checksum(row.body),
            sources: row.sources,
            pins: None,
        };
        self.write_snapshot_streamed(streamed, &mut |w| w.write_all(row.body))
    }

    /// Stores a snapshot and deletes all but the newest [`KEEP_SNAPSHOTS`], in one transaction,
    /// with the body written by `body` straight into the row
    /// (SQLite's incremental blob I/O), never held whole in memory: a snapshot of thousands of
    /// series is tens of MB, and holding it (plus SQLite's own copies of a bound blob) added about
    /// 2.9x its size to the agent's peak memory at each snapshot. `body` must write exactly `row.len` bytes with
    /// checksum `row.checksum` (a [`BodyProbe`] pass gives both), or nothing is stored.
    pub fn write_snapshot_streamed(
        &mut self,
        row: StreamedRow<'_>,
        body: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<i64, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "writing a snapshot" });
        }
        let path = &self.path;
        let seq = self.to_sql_int("snapshot seq", row.seq)?;
        let len = i64::try_from(row.len).map_err(|_| JournalError::OutOfRange {
            path: path.clone(),
            what: "snapshot size",
            value: row.len as u64,
        })?;
        let sources_sum = row.sources.map(checksum);
        let action = format!("writing the engine snapshot at seq {}", row.seq);
        let tx =
            self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_err(path, &action))?;
        tx.execute(
            "INSERT INTO snapshots (seq, observation, at, format, body, checksum, written_at, sources, sources_checksum) \
             VALUES (?1, ?2, ?3, ?4, zeroblob(?5), ?6, ?7, ?8, ?9)",
            params![
                seq,
                row.observation,
                row.at.map(|t| t.millis()),
                row.format,
                len,
                row.checksum,
                Timestamp::wall_clock().millis(),
                row.sources,
                sources_sum
            ],
        )
        .map_err(sqlite_err(path, &action))?;
        let id = tx.last_insert_rowid();
        {
            let blob = tx.blob_open("main", "snapshots", "body", id, false).map_err(sqlite_err(path, &action))?;
            let mut out = Checked { blob, probe: BodyProbe::default() };
            let written = {
                let mut buffered = std::io::BufWriter::with_capacity(1 << 16, &mut out);
                body(&mut buffered).and_then(|()| std::io::Write::flush(&mut buffered))
            };
            let (got, sum) = std::mem::take(&mut out.probe).finish();
            let wrong = match written {
                Err(e) => Some(format!("writing its body failed: {e}")),
                Ok(()) if got != row.len || sum != row.checksum => Some(format!(
                    "its body came out as {got} bytes with checksum {sum}, not the {} bytes with checksum {} announced",
                    row.len, row.checksum
                )),
                Ok(()) => None,
            };
            if let Some(detail) = wrong {
                // Dropping the transaction rolls the row back.
                return Err(JournalError::SnapshotNotWritten { path: path.clone(), seq: row.seq, detail });
            }
        }
        // A snapshot's data time never goes back, so the newest before a time has the highest
        // id. Pinned: per recent problem, the newest from before its window; for the next
        // problem to open, the newest from a window before this one and all after it (they
        // become that one as time goes on).
        let (since, window, now) = match (row.pins, row.at) {
            (Some(p), Some(at)) => (p.since.millis(), p.window_ms, at.millis()),
            _ => (i64::MAX, 0, i64::MIN),
        };
        tx.execute(
            "DELETE FROM snapshots WHERE id NOT IN (SELECT id FROM snapshots ORDER BY id DESC LIMIT ?1) \
             AND id NOT IN (SELECT (SELECT s.id FROM snapshots s WHERE s.at <= e.at - ?3 ORDER BY s.id DESC LIMIT 1) \
                            FROM problem_events e WHERE e.kind = 'opened' AND e.at >= ?2) \
             AND id IS NOT (SELECT id FROM snapshots WHERE at <= ?4 - ?3 ORDER BY id DESC LIMIT 1) \
             AND (?5 = 0 OR at IS NULL OR at <= ?4 - ?3)",
            params![KEEP_SNAPSHOTS as i64, since, window, now, row.pins.is_some() && row.at.is_some()],
        )
        .map_err(sqlite_err(path, "deleting the older snapshots"))?;
        tx.commit().map_err(sqlite_err(path, &action))?;
        Ok(id)
    }

    /// The stored snapshots, newest first (their bodies unread and unchecked).
    pub fn snapshots(&self) -> Result<Vec<SnapshotMeta>, JournalError> {
        // A viewer reads an older file as it is: without the table there are none. (Asked of
        // the file rather than its version number, which a merge of migrations may renumber.)
        let has_table: bool = self
            .conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots')",
                [],
                |r| r.get(0),
            )
            .map_err(sqlite_err(&self.path, "looking for the snapshots table"))?;
        if !has_table {
            return Ok(Vec::new());
        }
        let path = &self.path;
        let action = "listing the engine snapshots";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, seq, observation, at, format, length(body) FROM snapshots ORDER BY id DESC")
            .map_err(sqlite_err(path, action))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .map_err(sqlite_err(path, action))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, seq, observation, at, format, bytes) = row.map_err(sqlite_err(path, action))?;
            let seq = u64::try_from(seq).map_err(|_| JournalError::EventMismatch {
                path: path.clone(),
                seq: 0,
                detail: format!("snapshot {id} names a negative seq ({seq})"),
            })?;
            let bytes = usize::try_from(bytes).unwrap_or(0);
            out.push(SnapshotMeta { id, seq, observation, at: at.map(Timestamp), format, bytes });
        }
        Ok(out)
    }

    /// The body of snapshot `id`, checked against its checksum: `Ok(Err(..))` when the row is
    /// gone or damaged (take an older one), `Err` when the journal cannot be read at all.
    pub fn read_snapshot(&self, id: i64) -> Result<Result<Vec<u8>, SnapshotUnusable>, JournalError> {
        let path = &self.path;
        let row = self
            .conn
            .query_row("SELECT seq, body, checksum FROM snapshots WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?))
            })
            .optional()
            .map_err(sqlite_err(path, &format!("reading engine snapshot {id}")))?;
        let shown = path.display().to_string();
        let Some((seq, body, expected)) = row else {
            return Ok(Err(SnapshotUnusable::Gone { path: shown, id }));
        };
        let found = checksum(&body);
        if found != expected {
            let seq = u64::try_from(seq).unwrap_or(0);
            return Ok(Err(SnapshotUnusable::Checksum { path: shown, id, seq, expected, found }));
        }
        Ok(Ok(body))
    }

    /// What the sources need to resume from snapshot `id`, checked against its checksum:
    /// `Ok(Ok(None))` for a row written before the journal kept it (read the retained
    /// observations instead), `Ok(Err(..))` when the row is gone or damaged.
    pub fn read_snapshot_sources(&self, id: i64) -> Result<Result<Option<Vec<u8>>, SnapshotUnusable>, JournalError> {
        let path = &self.path;
        let row = self
            .conn
            .query_row("SELECT seq, sources, sources_checksum FROM snapshots WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?, r.get::<_, Option<String>>(2)?))
            })
            .optional()
            .map_err(sqlite_err(path, &format!("reading what the sources resume from in snapshot {id}")))?;
        let shown = path.display().to_string();
        let Some((seq, sources, expected)) = row else {
            return Ok(Err(SnapshotUnusable::Gone { path: shown, id }));
        };
        let Some(sources) = sources else { return Ok(Ok(None)) };
        let expected = expected.unwrap_or_default();
        let found = checksum(&sources);
        if found != expected {
            let seq = u64::try_from(seq).unwrap_or(0);
            return Ok(Err(SnapshotUnusable::Checksum { path: shown, id, seq, expected, found }));
        }
        Ok(Ok(Some(sources)))
    }

    /// The id of the last observation ever appended (0: none), also when it has been pruned.
    pub fn last_observation_id(&self) -> Result<i64, JournalError> {
        if self.has_packs()? {
            return super::packs::last_observation_id_in(&self.conn, &self.path);
        }
        self.conn
            .query_row("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'observations'), 0)", [], |r| {
                r.get(0)
            })
            .map_err(sqlite_err(&self.path, "reading the last observation id"))
    }

    /// Retention that agrees with the snapshots: deletes the observations with a data time
    /// before `t` AND an id of at most `up_to` (the observation the oldest kept snapshot was
    /// taken after: what follows it is what a resume replays). Returns how many rows were deleted
    /// (observation rows and metric packs).
    pub fn prune_observations_covered(&mut self, t: Timestamp, up_to: i64) -> Result<usize, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "pruning observations" });
        }
        let err = |source| JournalError::Sqlite {
            path: self.path.clone(),
            action: format!("pruning observations before {} up to id {up_to}", t.millis()),
            source,
        };
        let rows = self
            .conn
            .execute("DELETE FROM observations WHERE at < ?1 AND id <= ?2", params![t.millis(), up_to])
            .map_err(err)?;
        // A pack goes when all of it is older than `t` and covered.
        let packs = self
            .conn
            .execute("DELETE FROM metric_packs WHERE at < ?1 AND last <= ?2", params![t.millis(), up_to])
            .map_err(|source| JournalError::Sqlite {
                path: self.path.clone(),
                action: format!("pruning metric packs before {} up to id {up_to}", t.millis()),
                source,
            })?;
        Ok(rows + packs)
    }
}

/// The blob being written, checked as it goes (a blob cannot grow: a longer body is an error
/// from SQLite, a shorter or different one is caught by the probe).
struct Checked<'a> {
    blob: rusqlite::blob::Blob<'a>,
    probe: BodyProbe,
}

impl std::io::Write for Checked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.blob.write(buf)?;
        self.probe.write_all(&buf[..n])?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.blob.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Observation, ObservationKind};

    fn tick(at: i64) -> Observation {
        Observation { at: Timestamp(at), source: "test".into(), kind: ObservationKind::Tick }
    }

    fn row(seq: u64, observation: i64, body: &[u8]) -> SnapshotRow<'_> {
        SnapshotRow { seq, observation, at: Some(Timestamp(observation * 1000)), format: 2, body, sources: None }
    }

    #[test]
    fn only_the_newest_snapshots_are_kept_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        assert!(j.snapshots().unwrap().is_empty());
        let ids: Vec<i64> = (1..=3).map(|i| j.write_snapshot(row(i, i as i64, b"{\"x\":1}")).unwrap()).collect();
        let kept = j.snapshots().unwrap();
        assert_eq!(kept.len(), KEEP_SNAPSHOTS);
        assert_eq!(kept.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
        assert_eq!((kept[0].seq, kept[0].observation, kept[0].at, kept[0].bytes), (3, 3, Some(Timestamp(3000)), 7));
        assert_eq!(j.read_snapshot(ids[2]).unwrap().unwrap(), b"{\"x\":1}");
        assert!(matches!(j.read_snapshot(ids[0]).unwrap(), Err(SnapshotUnusable::Gone { .. })));
    }

    #[test]
    fn pins_keep_a_snapshot_from_before_each_recent_problems_window_and_no_more() {
        use crate::model::{EventKind, ProblemEvent, ProblemId, Severity};
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        let (window, keep) = (3_000, 20_000);
        let onsets = [10_500i64, 25_500, 27_000, 27_200];
        let mut seq = 0;
        for k in 1..=60i64 {
            let at = k * 1000;
            for (i, &t) in onsets.iter().enumerate() {
                if t > at - 1000 && t <= at {
                    seq += 1;
                    let kind = EventKind::Opened { title: format!("p{i}"), severity: Severity::Warning };
                    j.append(None, &[ProblemEvent { seq, problem: ProblemId(i as u64 + 1), at: Timestamp(t), kind }])
                        .unwrap();
                }
            }
            let body = format!("{{\"k\":{k}}}");
            let row = StreamedRow {
                seq,
                observation: 0,
                at: Some(Timestamp(at)),
                format: 3,
                len: body.len(),
                checksum: checksum(body.as_bytes()),
                sources: None,
                // The last one does not pin: only the newest two stay.
                pins: (k < 60).then_some(Pins { since: Timestamp(at - keep), window_ms: window }),
            };
            j.write_snapshot_streamed(row, &mut |w| w.write_all(body.as_bytes())).unwrap();
            let kept: Vec<i64> = j.snapshots().unwrap().iter().filter_map(|m| m.at).map(|t| t.millis()).collect();
            if k == 60 {
                assert_eq!(kept, vec![60_000, 59_000]);
                continue;
            }
            // Every problem opened within `keep` has a snapshot from before its window, and so
            // will the next one to open (at `at` at the earliest).
            let recent: Vec<i64> = onsets.iter().copied().filter(|&t| t <= at && t >= at - keep).collect();
            // (Once there was a snapshot that old: the first is at 1 s.)
            for t in recent.iter().copied().chain([at]).filter(|&t| t - window >= 1000) {
                assert!(kept.iter().any(|&s| s <= t - window), "snapshot {at}: none before {t} - {window}: {kept:?}");
            }
            // And no more: those of the last window (three here), the newest before it, one per
            // recent problem.
            assert!(kept.len() <= 4 + recent.len(), "snapshot {at}: {kept:?} for {recent:?}");
            assert_eq!(kept[..2.min(k as usize)], [at, at - 1000][..2.min(k as usize)]);
        }
    }

    #[test]
    fn a_streamed_body_is_stored_as_announced_and_one_that_differs_is_not_stored_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        // Larger than SQLite's page and the writer's buffer, so it goes through in pieces.
        let body: Vec<u8> = (0..300_000u32).flat_map(|i| format!("{},", i % 977).into_bytes()).collect();
        let mut probe = BodyProbe::default();
        std::io::Write::write_all(&mut probe, &body).unwrap();
        let (len, sum) = probe.finish();
        assert_eq!((len, sum.as_str()), (body.len(), checksum(&body).as_str()));
        let streamed = |sum: &str, len: usize| StreamedRow {
            seq: 7,
            observation: 3,
            at: Some(Timestamp(3000)),
            format: 3,
            len,
            checksum: sum.to_string(),
            sources: Some(&b"[]"[..]),
            pins: None,
        };
        let id = j
            .write_snapshot_streamed(streamed(&sum, len), &mut |w| body.chunks(10_007).try_for_each(|c| w.write_all(c)))
            .unwrap();
        assert_eq!(j.read_snapshot(id).unwrap().unwrap(), body);
        assert_eq!(j.read_snapshot_sources(id).unwrap().unwrap().as_deref(), Some(&b"[]"[..]));

        // A second pass that writes other bytes of the same length, one that writes less, and
        // one that would write more: refused, and the journal keeps only the first snapshot.
        let mut other = body.clone();
        other[5] ^= 1;
        let e = j.write_snapshot_streamed(streamed(&sum, len), &mut |w| w.write_all(&other)).unwrap_err();
        assert!(e.to_string().contains("not written") && e.to_string().contains("checksum"), "{e}");
        let e = j.write_snapshot_streamed(streamed(&sum, len), &mut |w| w.write_all(&body[..10])).unwrap_err();
        assert!(e.to_string().contains("10 bytes"), "{e}");
        let mut longer = body.clone();
        longer.push(b'x');
        assert!(j.write_snapshot_streamed(streamed(&sum, len), &mut |w| w.write_all(&longer)).is_err());
        assert_eq!(j.snapshots().unwrap().iter().map(|m| m.id).collect::<Vec<_>>(), vec![id]);
    }

    #[test]
    fn a_damaged_snapshot_is_reported_unusable_with_both_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        let id = j.write_snapshot(row(4, 9, b"{\"state\":1}")).unwrap();
        j.conn.execute("UPDATE snapshots SET body = ?1 WHERE id = ?2", params![&b"{\"state\":2}"[..], id]).unwrap();
        let e = j.read_snapshot(id).unwrap().unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, SnapshotUnusable::Checksum { seq: 4, .. }), "{text}");
        assert!(text.contains(&checksum(b"{\"state\":1}")) && text.contains(&checksum(b"{\"state\":2}")), "{text}");
    }

    #[test]
    fn pruning_keeps_what_follows_the_snapshot_and_ids_survive_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        assert_eq!(j.last_observation_id().unwrap(), 0);
        for at in 1..=10 {
            j.append(Some(&tick(at * 1000)), &[]).unwrap();
        }
        // Everything is older than the cut, but only ids up to 4 are covered by a snapshot.
        assert_eq!(j.prune_observations_covered(Timestamp(100_000), 4).unwrap(), 4);
        let left: Vec<i64> = j.observations_after(0).unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(left, (5..=10).collect::<Vec<_>>());
        // Old enough is the other condition.
        assert_eq!(j.prune_observations_covered(Timestamp(7_000), 10).unwrap(), 2);
        assert_eq!(j.prune_observations_covered(Timestamp(100_000), 10).unwrap(), 4);
        assert_eq!(j.last_observation_id().unwrap(), 10, "the id sequence outlives its rows");
    }
}
