//! The journal's schema and its migrations.
//!
//! The schema version lives in the file (`PRAGMA user_version`), the file is marked as a faultline
//! journal (`PRAGMA application_id`), and migrations are code: `MIGRATIONS[i]` takes a file from
//! version `i` to `i + 1`. All pending steps run in one transaction, so a crash mid-migration
//! leaves the file at its old version.

use super::error::JournalError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// Marks an SQLite file as a faultline journal: the bytes "FLTJ".
pub(super) const APPLICATION_ID: i32 = 0x464C_544A;

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Schema steps in order; never edit a step once released, append a new one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- One row per ProblemEvent. `at` is data time in ms since the epoch, `kind` the serde tag
    -- (e.g. 'opened'), `body` the whole event as JSON. `observation` is the id of the observation
    -- that caused the event (NULL when none), kept without a foreign key because observations
    -- are pruned by retention while events are kept.
    CREATE TABLE problem_events (
        seq         INTEGER PRIMARY KEY,
        problem     INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        body        TEXT NOT NULL,
        observation INTEGER
    );
    CREATE INDEX problem_events_by_problem ON problem_events (problem, seq);

    -- Append-only: the fold of events is the truth, so rewriting history is refused.
    CREATE TRIGGER problem_events_no_update BEFORE UPDATE ON problem_events
    BEGIN
        SELECT RAISE(ABORT, 'problem_events is append-only: UPDATE refused');
    END;
    CREATE TRIGGER problem_events_no_delete BEFORE DELETE ON problem_events
    BEGIN
        SELECT RAISE(ABORT, 'problem_events is append-only: DELETE refused');
    END;

    -- The observations that fed the engine, bounded by retention. AUTOINCREMENT so an id is
    -- never reused after pruning, which keeps problem_events.observation unambiguous.
    CREATE TABLE observations (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        at   INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX observations_by_at ON observations (at);
    ",
    // Version 2. `INSERT OR REPLACE` (or `REPLACE`) deletes the row it conflicts with without
    // firing delete triggers (unless recursive_triggers is on), so it could rewrite an event
    // past `problem_events_no_delete`: refuse any insert of a seq that is already there.
    "
    CREATE TRIGGER problem_events_no_replace BEFORE INSERT ON problem_events
    WHEN EXISTS (SELECT 1 FROM problem_events WHERE seq = NEW.seq)
    BEGIN
        SELECT RAISE(ABORT, 'problem_events is append-only: replacing an event refused');
    END;
    ",
    // Version 3. Requests from viewers to the agent (see `requests.rs`): `asked_at` and
    // `handled_at` are wall time in ms, `who` is user@host, `body` the request as JSON. An audit
    // trail: a row is never deleted, what was asked never changes, and a handled row is final.
    "
    CREATE TABLE requests (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        asked_at   INTEGER NOT NULL,
        who        TEXT NOT NULL,
        kind       TEXT NOT NULL,
        body       TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'running', 'done', 'failed', 'refused')),
        outcome    TEXT,
        handled_at INTEGER
    );
    CREATE INDEX requests_by_state ON requests (state, id);
    CREATE TRIGGER requests_no_delete BEFORE DELETE ON requests
    BEGIN
        SELECT RAISE(ABORT, 'requests is an audit trail: DELETE refused');
    END;
    CREATE TRIGGER requests_final BEFORE UPDATE ON requests
    WHEN OLD.state NOT IN ('pending', 'running')
      OR NEW.id IS NOT OLD.id OR NEW.asked_at IS NOT OLD.asked_at OR NEW.who IS NOT OLD.who
      OR NEW.kind IS NOT OLD.kind OR NEW.body IS NOT OLD.body
    BEGIN
        SELECT RAISE(ABORT, 'requests is an audit trail: a handled request or what was asked cannot change');
    END;
    ",
    // Version 4. The history (`src/history/`): the handover report reads the problems alive in a
    // period (by data time) and their lifecycle events (by kind) without scanning every event.
    // Older journals opened read-only lack these and are simply scanned. IF NOT EXISTS: a file
    // rebuilt by hand to look older (as the migration tests do) may still hold them.
    "
    CREATE INDEX IF NOT EXISTS problem_events_by_at ON problem_events (at);
    CREATE INDEX IF NOT EXISTS problem_events_by_kind ON problem_events (kind, at);
    ",
    // Version 5. Engine snapshots (see `Journal::write_snapshot_streamed`): `seq` is the last event seq the
    // engine had emitted, `observation` the id of the last observation it was fed (0: none),
    // `at` its data time in ms (NULL before any), `format` the snapshot format, `body` the
    // snapshot's JSON and `checksum` the SHA-256 of the body (hex): a row whose body does not
    // match is skipped for the one before. Only the newest few are kept.
    "
    CREATE TABLE snapshots (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        seq         INTEGER NOT NULL,
        observation INTEGER NOT NULL,
        at          INTEGER,
        format      INTEGER NOT NULL,
        body        BLOB NOT NULL,
        checksum    TEXT NOT NULL,
        written_at  INTEGER NOT NULL
    );
    ",
    // Version 6. The history's tables. Source health as the agent saw it (see `source_health.rs`):
    // one row per change of a source's health, `at` the time of the pull in ms, `healthy` 1 or 0,
    // `reason` why it was stale: what the handover report reads for "sources that were stale
    // and for how long". IF NOT EXISTS as in version 4.
    "
    CREATE TABLE IF NOT EXISTS source_health (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        source  TEXT NOT NULL,
        at      INTEGER NOT NULL,
        healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),
        reason  TEXT
    );
    CREATE INDEX IF NOT EXISTS source_health_by_source ON source_health (source, id);
    CREATE INDEX IF NOT EXISTS source_health_by_at ON source_health (at);

    -- Each problem's history summary (see `summaries.rs`), the fold of its events up to the
    -- seq in meta `summaries_seq`: derived data the agent keeps up, so a report or a search
    -- over months reads a row per problem instead of every event. `opened_at`, `closed_at`
    -- (resolved or merged; NULL while open) and `last_at` (its last event) are data times in
    -- ms, `body` the summary as JSON.
    CREATE TABLE IF NOT EXISTS problem_summaries (
        problem   INTEGER PRIMARY KEY,
        opened_at INTEGER NOT NULL,
        closed_at INTEGER,
        last_at   INTEGER NOT NULL,
        body      TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS problem_summaries_by_closed ON problem_summaries (closed_at);
    CREATE INDEX IF NOT EXISTS problem_summaries_by_last ON problem_summaries (last_at);
    ",
    // Version 7. What the sources need to resume (see `sources::resume`), stored with each
    // engine snapshot: a JSON array of observations in `sources`, with its own SHA-256 in
    // `sources_checksum`. NULL in rows written before: a resume from such a row reads every
    // retained observation back, as it did.
    "
    ALTER TABLE snapshots ADD COLUMN sources BLOB;
    ALTER TABLE snapshots ADD COLUMN sources_checksum TEXT;
    ",
    // Version 8. Metric observations in packs (see `packs.rs`): one row per source per batch,
    // `first` and `last` the ids of its first and last observation (the ids rows use too),
    // `at` its newest data time in ms, `body` a JSON array of [id, at, entity, metric,
    // [[t, value], ...]]. IF NOT EXISTS as in version 4.
    "
    CREATE TABLE IF NOT EXISTS metric_packs (
        first  INTEGER PRIMARY KEY,
        last   INTEGER NOT NULL,
        at     INTEGER NOT NULL,
        source TEXT NOT NULL,
        body   TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS metric_packs_by_at ON metric_packs (at);
    CREATE INDEX IF NOT EXISTS metric_packs_by_last ON metric_packs (last);
    ",
    // Version 9. The snapshots table rebuilt with `body` as its LAST column, rows and ids kept.
    // A snapshot's body is written in place into a `zeroblob(n)` (see
    // `Journal::write_snapshot_streamed`), and SQLite leaves a zeroblob unmaterialised only when
    // nothing follows it in the record: with `checksum` and the rest after it, every insert
    // allocated the whole body in zeros and again as the record (measured: +31 MB of peak for a
    // 16 MB snapshot, the agent's peak memory growing with its snapshot).
    "
    CREATE TABLE snapshots_v9 (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        seq              INTEGER NOT NULL,
        observation      INTEGER NOT NULL,
        at               INTEGER,
        format           INTEGER NOT NULL,
        checksum         TEXT NOT NULL,
        written_at       INTEGER NOT NULL,
        sources          BLOB,
        sources_checksum TEXT,
        body             BLOB NOT NULL
    );
    INSERT INTO snapshots_v9 (id, seq, observation, at, format, checksum, written_at, sources, sources_checksum, body)
        SELECT id, seq, observation, at, format, checksum, written_at, sources, sources_checksum, body FROM snapshots;
    UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'))
        WHERE name = 'snapshots_v9';
    DROP TABLE snapshots;
    ALTER TABLE snapshots_v9 RENAME TO snapshots;
    ",
    // Version 10. Problems compacted out of `problem_events` (see `compact.rs`): how many events
    // they had, their first and last seq, the bundle that holds them, and when (wall clock, ms).
    // Their summary stays in `problem_summaries`.
    "
    CREATE TABLE IF NOT EXISTS compacted (
        problem   INTEGER PRIMARY KEY,
        events    INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq  INTEGER NOT NULL,
        bundle    TEXT NOT NULL,
        at        INTEGER NOT NULL
    );
    ",
];

/// What an SQLite file holds, read from its header before anything is written to it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FileIdentity {
    pub application_id: i32,
    pub user_version: i64,
    /// Tables, indexes, triggers and views in the file.
    pub objects: u32,
}

/// Where a file stands relative to this code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SchemaState {
    /// An empty database: the writer may create the schema.
    Fresh,
    /// A faultline journal at this version (never newer than [`SCHEMA_VERSION`]).
    Journal(u32),
}

use super::sqlite_err;

/// Reads the file's identity (no writes).
pub(super) fn identity(conn: &Connection, path: &Path) -> Result<FileIdentity, JournalError> {
    let action = "reading the file header (is it an SQLite database?)";
    let application_id: i32 =
        conn.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(sqlite_err(path, action))?;
    let user_version: i64 =
        conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sqlite_err(path, action))?;
    let objects: u32 =
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(sqlite_err(path, action))?;
    Ok(FileIdentity { application_id, user_version, objects })
}

/// Decides whether the file is ours and at which version; refuses foreign and newer files.
pub(super) fn classify(id: FileIdentity, path: &Path) -> Result<SchemaState, JournalError> {
    let not_ours = || JournalError::NotAJournal {
        path: path.to_path_buf(),
        application_id: id.application_id,
        user_version: u32::try_from(id.user_version).unwrap_or(u32::MAX),
        tables: id.objects,
    };
    if id.objects == 0 && id.user_version == 0 && (id.application_id == 0 || id.application_id == APPLICATION_ID) {
        return Ok(SchemaState::Fresh);
    }
    if id.application_id != APPLICATION_ID {
        return Err(not_ours());
    }
    let found = match u32::try_from(id.user_version) {
        Ok(v) if v >= 1 => v,
        _ => return Err(not_ours()),
    };
    if found > SCHEMA_VERSION {
        return Err(JournalError::NewerSchema { path: path.to_path_buf(), found, supported: SCHEMA_VERSION });
    }
    Ok(SchemaState::Journal(found))
}

/// Brings the file to [`SCHEMA_VERSION`] in one immediate transaction and returns the version
/// it had before. The identity is read again inside the transaction because another writer may
/// have migrated the file between our first look and taking the write lock.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<u32, JournalError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_err(path, "taking the write lock to migrate the schema"))?;
    let before = match classify(identity(&tx, path)?, path)? {
        SchemaState::Fresh => 0,
        SchemaState::Journal(v) => v,
    };
    if before == SCHEMA_VERSION {
        // Nothing to do; dropping the transaction rolls back the (empty) write lock.
        return Ok(before);
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(before as usize) {
        tx.execute_batch(step)
            .map_err(sqlite_err(path, &format!("migrating the schema from version {i} to {}", i + 1)))?;
    }
    let writer = concat!("faultline ", env!("CARGO_PKG_VERSION"));
    if before == 0 {
        tx.execute("INSERT INTO meta (key, value) VALUES ('created_by', ?1)", [writer])
            .map_err(sqlite_err(path, "recording who created the journal"))?;
    }
    tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_migrated_by', ?1)", [writer])
        .map_err(sqlite_err(path, "recording who migrated the journal"))?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sqlite_err(path, "marking the file as a faultline journal"))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(sqlite_err(path, "recording the schema version"))?;
    tx.commit().map_err(sqlite_err(path, &format!("committing the migration to schema version {SCHEMA_VERSION}")))?;
    Ok(before)
}
