//! The journal: the engine's problem events and the observations that fed them, in one SQLite
//! file on the local disk.
//!
//! One agent process writes ([`Journal::open`]); any number of viewers in other processes read
//! the same file at the same time ([`Journal::open_read_only`]). That is why the file is in WAL
//! mode: readers see the last committed state and never block the writer, and a busy timeout of
//! [`BUSY_TIMEOUT`] covers the short moments (checkpoints, migrations) when one must wait.
//!
//! One writer per journal: `open` first takes the writer hold, a kernel lock on the sidecar file
//! `<journal>.lock` that says who holds it ([`lock`]); a second writer is refused naming the
//! first (pid, host, since), and a killed writer's hold vanishes with its process. Viewers follow
//! with [`Journal::tail`] and ask [`Journal::writer_of`] whether an agent still writes; actions
//! they confirm are queued in the `requests` table through a [`RequestQueue`], which takes no
//! hold, and carried out by the agent ([`requests`]).
//!
//! # What is stored
//! - `problem_events`: every [`ProblemEvent`], append-only (triggers abort `UPDATE`, `DELETE`
//!   and a `REPLACE` of an existing seq), keyed by its global, strictly increasing `seq`, with
//!   its problem id, data time (ms), serde tag (`kind`) and the event as JSON. A problem is
//!   never stored: it is the fold of its events ([`crate::model::ProblemSet::fold`]), so replay
//!   and the live view read the same rows.
//! - `observations`: the [`Observation`]s that fed the engine, as JSON, bounded by a retention
//!   setting ([`Journal::prune_observations_before`]). Each event row remembers which
//!   observation caused it, so one problem's observations can be exported with it.
//! - `metric_packs`: the metric observations of a batch ([`Journal::append_batch`]), one row per
//!   source per batch, sharing the observations' ids ([`packs`]); readers see them as
//!   observations.
//! - `requests`: viewers' requests to the agent (who, when, what, and what came of it), an
//!   audit trail that triggers keep from being deleted or rewritten once handled.
//! - `snapshots`: the newest [`KEEP_SNAPSHOTS`] engine snapshots with the seq and observation
//!   id they were taken at and a checksum ([`snapshots`]): resume starts from the newest sound
//!   one, and retention never prunes an observation a resume would replay.
//! - `meta`: who created and migrated the file, and what the agent publishes for viewers (where
//!   its silences go).
//! - The schema version in the file; migrations are code (see [`SCHEMA_VERSION`]). A file newer
//!   than this code is refused, never downgraded.
//!
//! # Crash guarantee
//! Each [`Journal::append`] is one transaction: its observation and all its events are stored
//! together or not at all; so is each [`Journal::append_batch`] (one source pull's steps). A
//! crash of the writing process (even `kill -9`) loses at most the transaction in flight, the
//! steps of one `append` or `append_batch`, and never corrupts the file: the next open
//! replays cleanly and accepts the next seq (`tests/journal_crash.rs` shows it). With
//! `synchronous=NORMAL` in WAL mode a power loss or OS crash may additionally roll back the most
//! recent committed transactions (those not yet synced at a checkpoint), still without corruption;
//! that is the usual trade for not syncing on every commit.
//!
//! # Refused writes
//! `append` refuses, before writing anything, an event whose seq does not exceed the journal's
//! last seq (or the previous event of its batch), and any event or observation whose JSON would
//! not read back as itself (NaN or infinite numbers serialize as `null`): a journal never holds a
//! row that a viewer cannot parse or would fold differently. Reading a row that does not parse
//! anyway (an edited file) is an error naming the seq and the file.

mod compact;
mod error;
pub mod lock;
mod packs;
pub mod requests;
pub mod salvage;
mod schema;
mod snapshots;
mod source_health;
mod summaries;
#[cfg(test)]
mod tests;

pub use compact::Compacted;
pub use error::JournalError;
pub use lock::{Holder, WriterHold};
pub use requests::{QueuedRequest, RequestQueue, RequestState, REQUEST_MAX_AGE_MS};
pub use schema::SCHEMA_VERSION;
#[cfg(test)]
pub use snapshots::SnapshotRow;
pub use snapshots::{checksum, BodyProbe, Pins, SnapshotMeta, SnapshotUnusable, StreamedRow, KEEP_SNAPSHOTS};
pub use source_health::HealthChange;
pub use summaries::{StoredHistory, SummaryRow};

use crate::model::{Observation, ObservationKind, ProblemEvent, ProblemId, Timestamp};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits for a lock held by another connection before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long (wall time) the writer keeps trying to take the write lock for an append, each try
/// waiting up to [`BUSY_TIMEOUT`], before the append fails. A viewer queueing a request holds the lock for
/// an instant, but a loaded machine can deschedule it while it does: the agent waits (and says
/// so in its log) rather than stop with its events unwritten.
pub const WRITE_LOCK_PATIENCE: Duration = Duration::from_secs(60);

/// A journal file, opened for writing (the agent) or read-only (viewers).
///
/// Not `Sync`: one thread uses a `Journal` at a time; other threads or processes open their own.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    /// The writer's hold (`None` for viewers); released when the journal is dropped.
    hold: Option<WriterHold>,
}

/// What a viewer reads on each poll: the observations and events committed since its last one.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    /// New observations with their ids, in the order they were appended.
    pub observations: Vec<(i64, Observation)>,
    /// New events, in seq order.
    pub events: Vec<ProblemEvent>,
}

/// One step of the engine to journal: the observation fed in (if any) and the events it gave.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub observation: Option<&'a Observation>,
    pub events: &'a [ProblemEvent],
}

/// One event, encoded and checked, ready to insert.
struct EventRow {
    seq: i64,
    problem: i64,
    at: i64,
    kind: String,
    body: String,
}

/// The serde tag of an encoded event, read back from its JSON so it can never disagree with it.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
}

impl Journal {
    /// Opens the journal at `path` for writing, creating the file if it is missing and migrating
    /// it to [`SCHEMA_VERSION`]. Refuses a file written by a newer faultline and an SQLite file
    /// that is not a faultline journal (before writing anything to it).
    ///
    /// Takes the journal's writer hold first (see [`lock`]): while another process writes the
    /// journal, this fails with [`JournalError::Held`] naming it. The hold is described by this
    /// process's command line; [`Journal::open_as`] names it.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let command = std::env::args()
            .enumerate()
            .map(|(i, a)| {
                if i == 0 {
                    Path::new(&a).file_name().map_or(a.clone(), |f| f.to_string_lossy().into_owned())
                } else {
                    a
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        Journal::open_as(path, &command)
    }

    /// [`Journal::open`], with the hold described as `command` (e.g. `faultline agent`), which
    /// is what a refused second writer and the viewers are told.
    pub fn open_as(path: &Path, command: &str) -> Result<Journal, JournalError> {
        let hold = lock::take(path, command)?;
        // Created here rather than by SQLite so the group may read it and queue requests
        // (SQLite creates 0644; its -wal and -shm files copy the journal's mode).
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(lock::SHARED_FILE_MODE).open(path);
        let mut conn = Connection::open(path).map_err(sqlite_err(path, "opening the file"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_err(path, "setting the busy timeout"))?;
        // Look before touching: a foreign or newer file must not even be switched to WAL.
        schema::classify(schema::identity(&conn, path)?, path)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sqlite_err(path, "switching to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::WalUnavailable { path: path.to_path_buf(), mode });
        }
        // NORMAL in WAL mode: a process crash loses nothing committed; see the module doc.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite_err(path, "setting synchronous=NORMAL"))?;
        schema::migrate(&mut conn, path)?;
        Ok(Journal { conn, path: path.to_path_buf(), read_only: false, hold: Some(hold) })
    }

    /// Opens an existing journal for reading only (viewers, replay, export). Never creates,
    /// migrates or writes the file; refuses a missing file, a foreign SQLite file and a newer
    /// schema. An older schema is read as it is: every version has the events and observations
    /// tables (later steps added triggers and the `requests` table), so a journal from an older
    /// faultline replays and exports without first being migrated by an agent.
    pub fn open_read_only(path: &Path) -> Result<Journal, JournalError> {
        if let Err(e) = std::fs::metadata(path) {
            if e.kind() == std::io::ErrorKind::NotFound {
                return Err(JournalError::NotFound { path: path.to_path_buf() });
            }
            // Other I/O trouble (permissions...) is reported by SQLite below with the path.
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite_err(path, "opening the file read-only"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_err(path, "setting the busy timeout"))?;
        let identity = schema::identity(&conn, path)?;
        match schema::classify(identity, path)? {
            // `classify` refused newer versions.
            schema::SchemaState::Journal(_) => {}
            // An empty database has no journal in it yet; a viewer cannot create one.
            schema::SchemaState::Fresh => {
                return Err(JournalError::NotAJournal {
                    path: path.to_path_buf(),
                    application_id: identity.application_id,
                    user_version: 0,
                    tables: identity.objects,
                })
            }
        }
        Ok(Journal { conn, path: path.to_path_buf(), read_only: true, hold: None })
    }

    /// The journal file's path, as given to `open`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when opened with [`Journal::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Who this writer is, as its lock file says (`None` for a viewer).
    pub fn holder(&self) -> Option<&Holder> {
        self.hold.as_ref().map(WriterHold::holder)
    }

    /// Who holds the writer hold of the journal at `path` now; `None` when no agent writes it.
    pub fn writer_of(path: &Path) -> Result<Option<Holder>, JournalError> {
        lock::holder(path)
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u32, JournalError> {
        let v: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite_err(&self.path, "reading the schema version"))?;
        // `open` refused anything else, so a failure here means the file changed under us.
        u32::try_from(v).map_err(|_| JournalError::NotAJournal {
            path: self.path.clone(),
            application_id: schema::APPLICATION_ID,
            user_version: u32::MAX,
            tables: 0,
        })
    }

    /// Stores one step of the engine in ONE transaction: the observation that was fed in (if
    /// any) and the events it produced (possibly none). Event seqs must strictly increase, the
    /// first one above [`Journal::last_seq`]; otherwise nothing is written.
    pub fn append(&mut self, observation: Option<&Observation>, events: &[ProblemEvent]) -> Result<(), JournalError> {
        self.append_batch(&[Step { observation, events }])
    }

    /// Stores many steps of the engine in ONE transaction, in order (what one source's pull
    /// gives): all of them or none. The same checks as [`Journal::append`] over the whole
    /// batch: seqs strictly increase across its steps, and nothing is written when any value
    /// would not read back as itself. One commit instead of one per step is what lets a journal
    /// keep up with thousands of series (SQLite's cost is mostly the commit, not the insert).
    pub fn append_batch(&mut self, steps: &[Step<'_>]) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "append" });
        }
        let mut events = steps.iter().flat_map(|s| s.events.iter());
        let (first, last) = (events.next(), steps.iter().rev().find_map(|s| s.events.last()));
        let observations = steps.iter().filter(|s| s.observation.is_some()).count();
        if observations == 0 && first.is_none() {
            return Ok(());
        }
        let mut previous = first;
        for e in events {
            if let Some(p) = previous.filter(|p| e.seq <= p.seq) {
                return Err(JournalError::SeqNotIncreasing { path: self.path.clone(), seq: e.seq, previous: p.seq });
            }
            previous = Some(e);
        }
        // Metric observations go into one pack per source when the batch holds several of
        // that source's (see `packs`); the rest are rows.
        let mut metrics_of: HashMap<&str, usize> = HashMap::new();
        for o in steps.iter().filter_map(|s| s.observation) {
            if matches!(o.kind, ObservationKind::Metric { .. }) {
                *metrics_of.entry(o.source.as_str()).or_default() += 1;
            }
        }
        let packed =
            |o: &Observation| matches!(o.kind, ObservationKind::Metric { .. }) && metrics_of[o.source.as_str()] > 1;
        // Encode and check everything before taking the write lock, so the lock is held only
        // for the inserts and a bad value never leaves half a batch behind.
        let rows = steps
            .iter()
            .map(|s| {
                let observation = match s.observation {
                    Some(o) if packed(o) => {
                        self.check_metric(o)?;
                        Some(Stored::Packed(o))
                    }
                    Some(o) => Some(Stored::Row(self.encode_observation(o)?)),
                    None => None,
                };
                let events = s.events.iter().map(|e| self.encode_event(e)).collect::<Result<Vec<_>, _>>()?;
                Ok((observation, events))
            })
            .collect::<Result<Vec<_>, JournalError>>()?;

        let path = &self.path;
        let span = match (first, last, observations) {
            (Some(a), Some(b), _) => format!("events seq {}..={}", a.seq, b.seq),
            (_, _, 1) => "an observation".to_string(),
            (_, _, n) => format!("{n} observations"),
        };
        let started = std::time::Instant::now();
        let mut warned: Option<std::time::Instant> = None;
        let tx = loop {
            let attempt = std::time::Instant::now();
            match self.conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                Ok(tx) => break tx,
                Err(e) if is_busy(&e) && started.elapsed() < WRITE_LOCK_PATIENCE => {
                    // Busy at once (the busy handler did not wait): pause before trying again.
                    if attempt.elapsed() < Duration::from_millis(100) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    // Said once per busy timeout at most.
                    if warned.is_none_or(|w| w.elapsed() >= BUSY_TIMEOUT) {
                        warned = Some(std::time::Instant::now());
                        tracing::warn!(
                            journal = %path.display(),
                            waited_s = started.elapsed().as_secs(),
                            "the journal's write lock is held by another connection; still waiting to append {span}"
                        );
                    }
                }
                Err(e) => return Err(sqlite_err(path, &format!("taking the write lock to append {span}"))(e)),
            }
        };
        if let Some(first) = first {
            // Read inside the transaction: the check and the insert see the same state.
            let previous = last_seq_in(&tx, path)?;
            if first.seq <= previous {
                return Err(JournalError::SeqNotIncreasing { path: path.clone(), seq: first.seq, previous });
            }
        }
        // Rows and packs share one id sequence: ids are given here, in step order.
        let mut next_id = packs::last_observation_id_in(&tx, path)? + 1;
        let mut packs: BTreeMap<&str, Vec<(i64, &Observation)>> = BTreeMap::new();
        {
            let mut insert_observation = tx
                .prepare_cached("INSERT INTO observations (id, at, body) VALUES (?1, ?2, ?3)")
                .map_err(sqlite_err(path, "preparing the observation insert"))?;
            let mut insert_event = tx
                .prepare_cached(
                    "INSERT INTO problem_events (seq, problem, at, kind, body, observation) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sqlite_err(path, "preparing the event insert"))?;
            for (observation, events) in &rows {
                let observation_id = match observation {
                    // The messages are built only on error: this loop runs once per sample.
                    Some(Stored::Row((at, body))) => {
                        insert_observation.execute(params![next_id, at, body]).map_err(|e| {
                            sqlite_err(path, &format!("inserting an observation (data time {at} ms) of {span}"))(e)
                        })?;
                        Some(next_id)
                    }
                    Some(Stored::Packed(o)) => {
                        packs.entry(o.source.as_str()).or_default().push((next_id, o));
                        Some(next_id)
                    }
                    None => None,
                };
                if observation_id.is_some() {
                    next_id += 1;
                }
                for row in events {
                    insert_event
                        .execute(params![row.seq, row.problem, row.at, row.kind, row.body, observation_id])
                        .map_err(|e| sqlite_err(path, &format!("inserting event seq {}", row.seq))(e))?;
                }
            }
        }
        for (source, entries) in &packs {
            let body = packs::encode(entries).ok_or_else(|| JournalError::ObservationNotStorable {
                path: path.clone(),
                at: entries[0].1.at,
                source: serde::de::Error::custom("a pack of metric observations does not encode"),
            })?;
            let ids = (entries[0].0, entries[entries.len() - 1].0);
            let at = entries.iter().map(|(_, o)| o.at.millis()).max().unwrap_or(0);
            packs::insert(&tx, path, (ids.0, ids.1, at), source, &body)?;
        }
        if !packs.is_empty() {
            packs::take_ids(&tx, path, next_id - 1)?;
        }
        tx.commit().map_err(sqlite_err(path, &format!("committing {span}")))
    }

    /// The seq of the last stored event; 0 when there is none.
    pub fn last_seq(&self) -> Result<u64, JournalError> {
        last_seq_in(&self.conn, &self.path)
    }

    /// True when the journal keeps at least one observation (it may hold no event yet: a
    /// topology alone makes none).
    pub fn has_observations(&self) -> Result<bool, JournalError> {
        let rows: bool = self
            .conn
            .query_row("SELECT EXISTS(SELECT 1 FROM observations)", [], |r| r.get(0))
            .map_err(sqlite_err(&self.path, "looking for observations"))?;
        if rows || !self.has_packs()? {
            return Ok(rows);
        }
        self.conn
            .query_row("SELECT EXISTS(SELECT 1 FROM metric_packs)", [], |r| r.get(0))
            .map_err(sqlite_err(&self.path, "looking for metric packs"))
    }

    /// All events with a seq greater than `seq`, in seq order (`events_after(0)` is everything).
    /// Viewers poll with the last seq they folded.
    pub fn events_after(&self, seq: u64) -> Result<Vec<ProblemEvent>, JournalError> {
        // Seqs above i64::MAX cannot be stored, so nothing can follow such a seq.
        let Ok(after) = i64::try_from(seq) else {
            return Ok(Vec::new());
        };
        self.read_events(
            "SELECT seq, problem, body FROM problem_events WHERE seq > ?1 ORDER BY seq",
            [after],
            &format!("reading events after seq {seq}"),
        )
    }

    /// The events of one problem, in seq order.
    pub fn events_of(&self, problem: ProblemId) -> Result<Vec<ProblemEvent>, JournalError> {
        let Ok(id) = i64::try_from(problem.0) else {
            return Ok(Vec::new());
        };
        self.read_events(
            "SELECT seq, problem, body FROM problem_events WHERE problem = ?1 ORDER BY seq",
            [id],
            &format!("reading the events of {problem}"),
        )
    }

    /// The events the history folds ([`crate::history`]): every event but signal repeats (the
    /// bulk of a journal, which change only counters), with a data time up to `until`, in seq
    /// order.
    pub fn history_events(&self, until: Timestamp) -> Result<Vec<ProblemEvent>, JournalError> {
        self.read_events(
            "SELECT seq, problem, body FROM problem_events WHERE at <= ?1 AND kind != 'signal_repeated' ORDER BY seq",
            [until.millis()],
            &format!("reading the history up to {until}"),
        )
    }

    /// [`Journal::history_events`] of only the problems alive between `from` and `until`: those
    /// with an event in the period, and those open when it began (opened or reopened last, before
    /// it). What the handover report of a period reads.
    pub fn history_events_between(&self, from: Timestamp, until: Timestamp) -> Result<Vec<ProblemEvent>, JournalError> {
        self.read_events(
            "WITH alive(problem) AS ( \
               SELECT problem FROM problem_events WHERE at BETWEEN ?1 AND ?2 \
               UNION \
               SELECT problem FROM problem_events \
               WHERE at < ?1 AND kind IN ('opened', 'reopened', 'resolved', 'merged_into') \
               GROUP BY problem \
               HAVING MAX(CASE WHEN kind IN ('opened', 'reopened') THEN seq END) \
                    > COALESCE(MAX(CASE WHEN kind IN ('resolved', 'merged_into') THEN seq END), 0)) \
             SELECT seq, problem, body FROM problem_events \
             WHERE problem IN alive AND at <= ?2 AND kind != 'signal_repeated' ORDER BY seq",
            [from.millis(), until.millis()],
            &format!("reading the problems alive from {from} to {until}"),
        )
    }

    /// The source and data time of every retained metric observation row and metric pack (one
    /// per pull) between `from` and `until`, in no particular order: when each polled source
    /// sent data (what the handover
    /// report measures staleness from; alerts and log patterns come only when something
    /// happens, so their silence says nothing). An empty source reads as `data`.
    pub fn data_times(&self, from: Timestamp, until: Timestamp) -> Result<Vec<(String, Timestamp)>, JournalError> {
        let action = format!("reading when sources sent data from {from} to {until}");
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(NULLIF(json_extract(body, '$.source'), ''), 'data'), at FROM observations \
                 WHERE at BETWEEN ?1 AND ?2 \
                 AND json_extract(body, '$.type') = 'metric'",
            )
            .map_err(sqlite_err(path, &action))?;
        let rows = stmt
            .query_map([from.millis(), until.millis()], |r| Ok((r.get::<_, String>(0)?, Timestamp(r.get(1)?))))
            .map_err(sqlite_err(path, &action))?;
        let mut out = rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err(path, &action))?;
        if self.has_packs()? {
            // A pack is one pull of one source: its newest time says when that source sent.
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT COALESCE(NULLIF(source, ''), 'data'), at FROM metric_packs WHERE at BETWEEN ?1 AND ?2",
                )
                .map_err(sqlite_err(path, &action))?;
            let rows = stmt
                .query_map([from.millis(), until.millis()], |r| Ok((r.get::<_, String>(0)?, Timestamp(r.get(1)?))))
                .map_err(sqlite_err(path, &action))?;
            for row in rows {
                out.push(row.map_err(sqlite_err(path, &action))?);
            }
        }
        Ok(out)
    }

    /// The newest data time in the journal (observations and events); `None` when empty.
    pub fn newest_data_time(&self) -> Result<Option<Timestamp>, JournalError> {
        let packs = if self.has_packs()? { " UNION ALL SELECT MAX(at) FROM metric_packs" } else { "" };
        self.conn
            .query_row(
                &format!(
                    "SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM observations UNION ALL SELECT MAX(at) FROM problem_events{packs})"
                ),
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|t| t.map(Timestamp))
            .map_err(sqlite_err(&self.path, "reading the newest data time"))
    }

    /// All retained observations, in the order they were appended.
    pub fn observations(&self) -> Result<Vec<Observation>, JournalError> {
        Ok(self.observations_after(0)?.into_iter().map(|(_, o)| o).collect())
    }

    /// The observations with an id above `id` and the events with a seq above `seq`, read in
    /// one short read transaction so both come from the same commit (what viewers poll with).
    /// `tail(0, 0)` is everything.
    pub fn tail(&self, after_observation: i64, after_seq: u64) -> Result<Tail, JournalError> {
        // A read transaction only for the two selects: viewers must never hold a snapshot open
        // between polls, or the agent's checkpoints could not finish.
        let tx = self.conn.unchecked_transaction().map_err(sqlite_err(&self.path, "starting a read"))?;
        let observations = self.observations_after(after_observation)?;
        let events = self.events_after(after_seq)?;
        tx.finish().map_err(sqlite_err(&self.path, "ending a read"))?;
        Ok(Tail { observations, events })
    }

    /// The retained observations with an id above `id`, with their ids, in the order they were
    /// appended (ids only grow, also across pruning).
    pub fn observations_after(&self, id: i64) -> Result<Vec<(i64, Observation)>, JournalError> {
        let path = &self.path;
        let action = format!("reading observations after id {id}");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, body FROM observations WHERE id > ?1 ORDER BY id")
            .map_err(sqlite_err(path, &action))?;
        let rows = stmt
            .query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sqlite_err(path, &action))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(sqlite_err(path, &action))?;
            let o = serde_json::from_str(&body).map_err(|source| JournalError::ObservationUnreadable {
                path: path.clone(),
                id,
                source,
            })?;
            out.push((id, o));
        }
        if !self.has_packs()? {
            return Ok(out);
        }
        self.with_packs_after(id, out)
    }

    /// A value the agent publishes for viewers (`meta` table), e.g. where silences go.
    pub fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sqlite_err(&self.path, &format!("reading meta key `{key}`")))
    }

    /// Sets (`Some`) or removes (`None`) a value for viewers in the `meta` table.
    pub fn set_meta(&mut self, key: &str, value: Option<&str>) -> Result<(), JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "setting meta" });
        }
        let action = format!("setting meta key `{key}`");
        match value {
            Some(v) => self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![key, v]),
            None => self.conn.execute("DELETE FROM meta WHERE key = ?1", [key]),
        }
        .map(drop)
        .map_err(sqlite_err(&self.path, &action))
    }

    /// The retained observations that caused events of `problem`, in the order they were
    /// appended (what an incident bundle exports with the problem's events).
    pub fn observations_of(&self, problem: ProblemId) -> Result<Vec<Observation>, JournalError> {
        let Ok(id) = i64::try_from(problem.0) else {
            return Ok(Vec::new());
        };
        let action = format!("reading the observations of {problem}");
        let rows = self.read_observations(
            "SELECT id, body FROM observations WHERE id IN \
             (SELECT observation FROM problem_events WHERE problem = ?1 AND observation IS NOT NULL) \
             ORDER BY id",
            Some(rusqlite::types::Value::Integer(id)),
            &action,
        )?;
        if !self.has_packs()? {
            return Ok(rows.into_iter().map(|(_, o)| o).collect());
        }
        // The rest may be in packs (metric samples that raised or moved a signal).
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT observation FROM problem_events WHERE problem = ?1 AND observation IS NOT NULL \
                 ORDER BY observation",
            )
            .map_err(sqlite_err(&self.path, &action))?;
        let named = stmt
            .query_map([id], |r| r.get::<_, i64>(0))
            .map_err(sqlite_err(&self.path, &action))?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(sqlite_err(&self.path, &action))?;
        let found: std::collections::BTreeSet<i64> = rows.iter().map(|(i, _)| *i).collect();
        let missing: Vec<i64> = named.into_iter().filter(|i| !found.contains(i)).collect();
        let packed = self.packed(&missing)?.into_iter().collect();
        Ok(packs::merge(rows, packed).into_iter().map(|(_, o)| o).collect())
    }

    /// The retained `entity` observations (descriptions) of the entities `ids`, in the order
    /// they were appended. Filtered by SQLite, so a big journal is not decoded whole (what
    /// `runbook run` needs to fill a plan in).
    pub fn entity_observations(&self, ids: &[crate::model::EntityId]) -> Result<Vec<Observation>, JournalError> {
        let wanted = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        self.read_observations(
            "SELECT id, body FROM observations WHERE json_extract(body, '$.type') = 'entity' \
             AND json_extract(body, '$.entity.id') IN (SELECT value FROM json_each(?1)) ORDER BY id",
            Some(rusqlite::types::Value::Text(wanted)),
            "reading the descriptions of a problem's entities",
        )
        .map(|rows| rows.into_iter().map(|(_, o)| o).collect())
    }

    /// Deletes the observations whose data time is before `t` (retention) and returns how many rows
    /// were deleted (observation rows and metric packs). Events are never deleted; their link to a pruned observation just finds
    /// nothing.
    pub fn prune_observations_before(&mut self, t: Timestamp) -> Result<usize, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "pruning observations" });
        }
        // The message is built only on error: formatting `t` is not free and panics for times
        // outside years 1970..=9999 (e.g. `Timestamp(i64::MAX)` to prune everything).
        let err = |source| JournalError::Sqlite {
            path: self.path.clone(),
            action: format!("pruning observations before {t}"),
            source,
        };
        let rows = self.conn.execute("DELETE FROM observations WHERE at < ?1", [t.millis()]).map_err(err)?;
        let packs = self.conn.execute("DELETE FROM metric_packs WHERE at < ?1", [t.millis()]).map_err(|source| {
            JournalError::Sqlite { path: self.path.clone(), action: format!("pruning metric packs before {t}"), source }
        })?;
        Ok(rows + packs)
    }

    /// SQLite's own consistency check: `["ok"]` when the file is sound, else its findings.
    pub fn integrity_check(&self) -> Result<Vec<String>, JournalError> {
        let action = "running the integrity check";
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").map_err(sqlite_err(&self.path, action))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(sqlite_err(&self.path, action))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err(&self.path, action))
    }

    fn encode_event(&self, e: &ProblemEvent) -> Result<EventRow, JournalError> {
        let not_storable = |source| JournalError::EventNotStorable { path: self.path.clone(), seq: e.seq, source };
        let body = serde_json::to_string(e).map_err(not_storable)?;
        // Reading back costs a parse per event; it buys the promise that every row parses, and
        // parses as this very event: a NaN in an `Option<f64>` becomes `null`, read back as `None`.
        if serde_json::from_str::<ProblemEvent>(&body).map_err(not_storable)? != *e {
            return Err(not_storable(serde::de::Error::custom("it reads back as a different event")));
        }
        let kind = serde_json::from_str::<Tag>(&body).map_err(not_storable)?.event.into_owned();
        Ok(EventRow {
            seq: self.to_sql_int("event seq", e.seq)?,
            problem: self.to_sql_int("problem id", e.problem.0)?,
            at: e.at.millis(),
            kind,
            body,
        })
    }

    /// A metric observation that goes into a pack: its samples must be finite (JSON has no
    /// NaN; everything else in it always reads back).
    fn check_metric(&self, o: &Observation) -> Result<(), JournalError> {
        match &o.kind {
            ObservationKind::Metric { samples, .. } if !samples.iter().all(|(_, v)| v.is_finite()) => {
                Err(JournalError::ObservationNotStorable {
                    path: self.path.clone(),
                    at: o.at,
                    source: serde::de::Error::custom("a sample is not a finite number"),
                })
            }
            _ => Ok(()),
        }
    }

    fn encode_observation(&self, o: &Observation) -> Result<(i64, String), JournalError> {
        let not_storable = |source| JournalError::ObservationNotStorable { path: self.path.clone(), at: o.at, source };
        let body = serde_json::to_string(o).map_err(not_storable)?;
        let reads_back = match &o.kind {
            // The bulk of a journal, so spared the parse: a metric's only way not to read back
            // as itself is a number that is not finite (it becomes `null`); its strings and
            // times always do, and finite floats do exactly (serde_json's `float_roundtrip`).
            ObservationKind::Metric { samples, .. } => {
                if !samples.iter().all(|(_, v)| v.is_finite()) {
                    return Err(not_storable(serde::de::Error::custom("a sample is not a finite number")));
                }
                true
            }
            _ => serde_json::from_str::<Observation>(&body).map_err(not_storable)? == *o,
        };
        if !reads_back {
            return Err(not_storable(serde::de::Error::custom("it reads back as a different observation")));
        }
        Ok((o.at.millis(), body))
    }

    fn to_sql_int(&self, what: &'static str, value: u64) -> Result<i64, JournalError> {
        i64::try_from(value).map_err(|_| JournalError::OutOfRange { path: self.path.clone(), what, value })
    }

    fn read_events(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        action: &str,
    ) -> Result<Vec<ProblemEvent>, JournalError> {
        let path = &self.path;
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_err(path, action))?;
        let rows = stmt
            .query_map(params, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
            .map_err(sqlite_err(path, action))?;
        let mut events = Vec::new();
        for row in rows {
            let (seq, problem, body) = row.map_err(sqlite_err(path, action))?;
            events.push(decode_event(path, seq, problem, &body)?);
        }
        Ok(events)
    }

    fn read_observations(
        &self,
        sql: &str,
        param: Option<rusqlite::types::Value>,
        action: &str,
    ) -> Result<Vec<(i64, Observation)>, JournalError> {
        let path = &self.path;
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_err(path, action))?;
        let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?));
        let rows = match param {
            Some(p) => stmt.query_map([p], map),
            None => stmt.query_map([], map),
        }
        .map_err(sqlite_err(path, action))?;
        let mut observations = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(sqlite_err(path, action))?;
            let o = serde_json::from_str(&body).map_err(|source| JournalError::ObservationUnreadable {
                path: path.clone(),
                id,
                source,
            })?;
            observations.push((id, o));
        }
        Ok(observations)
    }
}

/// Parses one event row and checks it against its own columns.
fn decode_event(path: &Path, seq: i64, problem: i64, body: &str) -> Result<ProblemEvent, JournalError> {
    let mismatch = |detail: String| JournalError::EventMismatch {
        path: path.to_path_buf(),
        // A negative seq can only come from an edited file; report it as 0 with the detail.
        seq: u64::try_from(seq).unwrap_or(0),
        detail,
    };
    let row_seq = u64::try_from(seq).map_err(|_| mismatch(format!("negative seq {seq} in the seq column")))?;
    let e: ProblemEvent = serde_json::from_str(body).map_err(|source| JournalError::EventUnreadable {
        path: path.to_path_buf(),
        seq: row_seq,
        source,
    })?;
    if e.seq != row_seq {
        return Err(mismatch(format!("its JSON says seq {}", e.seq)));
    }
    if i64::try_from(e.problem.0) != Ok(problem) {
        return Err(mismatch(format!("problem column says {problem} but its JSON says {}", e.problem.0)));
    }
    Ok(e)
}

/// How one step's observation is stored by [`Journal::append_batch`]: a row (data time and
/// JSON), or an entry of its source's pack.
enum Stored<'a> {
    Row((i64, String)),
    Packed(&'a Observation),
}

fn last_seq_in(conn: &Connection, path: &Path) -> Result<u64, JournalError> {
    let max: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM problem_events", [], |r| r.get(0))
        .map_err(sqlite_err(path, "reading the last seq"))?;
    u64::try_from(max).map_err(|_| JournalError::EventMismatch {
        path: path.to_path_buf(),
        seq: 0,
        detail: format!("the largest seq is negative ({max})"),
    })
}

/// True for SQLite's "database is locked" / "busy" after the busy timeout ran out.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Wraps an SQLite error with the journal path and what we were doing.
fn sqlite_err(path: &Path, action: &str) -> impl FnOnce(rusqlite::Error) -> JournalError {
    let path = path.to_path_buf();
    let action = action.to_string();
    move |source| JournalError::Sqlite { path, action, source }
}
