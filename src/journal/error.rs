//! What can go wrong with a journal. Every error names the journal file, and the seq (or
//! observation id) where one is involved, so a message read in a log is enough to find the row.

use super::lock::Holder;
use crate::model::Timestamp;
use std::path::PathBuf;

/// An error opening, reading or writing a journal file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused something; `action` says what we were doing.
    #[error("journal {}: {action}: {source}{}", .path.display(), damage_hint(.path, .source))]
    Sqlite {
        path: PathBuf,
        action: String,
        #[source]
        source: rusqlite::Error,
    },

    /// A read-only open of a file that does not exist (viewers never create a journal).
    #[error(
        "journal {} does not exist: a viewer only opens a journal an agent has created \
         (start `faultline agent` first or check the path)",
        .path.display()
    )]
    NotFound { path: PathBuf },

    /// The file is an SQLite database that belongs to something else; we refuse to touch it.
    #[error(
        "journal {} is not a faultline journal (SQLite application_id {application_id:#010x}, \
         user_version {user_version}, {tables} schema objects); refusing to modify it",
        .path.display()
    )]
    NotAJournal { path: PathBuf, application_id: i32, user_version: u32, tables: u32 },

    /// The file was written by a newer faultline. We never downgrade a journal.
    #[error(
        "journal {} has schema version {found}, newer than the version this faultline knows \
         ({supported}); upgrade faultline to read it (journals are never downgraded)",
        .path.display()
    )]
    NewerSchema { path: PathBuf, found: u32, supported: u32 },

    /// A read-only viewer found a journal an older faultline wrote; only a writer migrates.
    #[error(
        "journal {} has schema version {found}, older than the version this faultline reads \
         ({supported}); open it once with `faultline agent` to migrate it",
        .path.display()
    )]
    OlderSchema { path: PathBuf, found: u32, supported: u32 },

    /// SQLite would not switch the file to write-ahead logging (needed for concurrent viewers).
    #[error(
        "journal {}: journal_mode is `{mode}` but WAL is required so viewers can read while the \
         agent writes (is the file on a filesystem without shared-memory support, such as NFS?)",
        .path.display()
    )]
    WalUnavailable { path: PathBuf, mode: String },

    /// A write was attempted through a journal opened with [`super::Journal::open_read_only`].
    #[error("journal {} is open read-only; {action} needs the writer (`Journal::open`)", .path.display())]
    ReadOnly { path: PathBuf, action: &'static str },

    /// `append` was given an event whose seq does not follow the journal's last seq (or the
    /// previous event of the same batch).
    #[error(
        "journal {}: event seq {seq} is not greater than the previous seq {previous}; \
         the engine's seq must strictly increase (nothing of this batch was written)",
        .path.display()
    )]
    SeqNotIncreasing { path: PathBuf, seq: u64, previous: u64 },

    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("journal {}: {what} {value} is beyond SQLite's integer range (at most 2^63 - 1)", .path.display())]
    OutOfRange { path: PathBuf, what: &'static str, value: u64 },

    /// An event would be written as JSON that does not read back (NaN or infinite numbers
    /// become `null`); refused so the journal never holds a row no viewer can parse.
    #[error(
        "journal {}: event seq {seq} cannot be stored as JSON that reads back ({source}); \
         non-finite numbers (NaN, infinity) are the usual cause (nothing of this batch was written)",
        .path.display()
    )]
    EventNotStorable {
        path: PathBuf,
        seq: u64,
        #[source]
        source: serde_json::Error,
    },

    /// Same as [`JournalError::EventNotStorable`], for the batch's observation.
    #[error(
        "journal {}: observation at {at} cannot be stored as JSON that reads back ({source}); \
         non-finite numbers (NaN, infinity) are the usual cause (nothing of this batch was written)",
        .path.display()
    )]
    ObservationNotStorable {
        path: PathBuf,
        at: Timestamp,
        #[source]
        source: serde_json::Error,
    },

    /// A stored event row does not parse as a `ProblemEvent`.
    #[error("journal {}: event row seq {seq} does not parse: {source}{}", .path.display(), salvage_hint(.path))]
    EventUnreadable {
        path: PathBuf,
        seq: u64,
        #[source]
        source: serde_json::Error,
    },

    /// A stored event row parses but disagrees with its own columns (the file was edited).
    #[error("journal {}: event row seq {seq}: {detail}", .path.display())]
    EventMismatch { path: PathBuf, seq: u64, detail: String },

    /// An engine snapshot's body did not come out as announced (nothing was stored).
    #[error("journal {}: engine snapshot at seq {seq} not written: {detail}", .path.display())]
    SnapshotNotWritten { path: PathBuf, seq: u64, detail: String },

    /// A stored observation row does not parse as an `Observation`.
    #[error("journal {}: observation row id {id} does not parse: {source}{}", .path.display(), salvage_hint(.path))]
    ObservationUnreadable {
        path: PathBuf,
        id: i64,
        #[source]
        source: serde_json::Error,
    },

    /// Another process holds the journal's writer hold: one writer per journal.
    #[error(
        "journal {} is being written by {}; only one writer per journal: stop it first, or watch \
         it with `faultline replay {} --follow`",
        .path.display(),
        .holder.as_ref().map_or_else(|| format!("another process (its lock file {} does not say who)", .lock.display()), |h| h.to_string()),
        .path.display()
    )]
    Held { path: PathBuf, lock: PathBuf, holder: Option<Holder> },

    /// The writer's lock file could not be opened, locked or written.
    #[error("journal lock file {}: {action}: {source}", .path.display())]
    LockFile {
        path: PathBuf,
        action: String,
        #[source]
        source: std::io::Error,
    },

    /// A file operation beside SQLite failed.
    #[error("journal {}: {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: String,
        #[source]
        source: std::io::Error,
    },

    /// `faultline journal salvage` writes a new file and never replaces one.
    #[error("{} already exists: salvage writes a new journal and never overwrites a file; give another -o path", .path.display())]
    SalvageTargetExists { path: PathBuf },

    /// A request row in the journal does not parse (see [`super::requests`]).
    #[error("journal {}: request id {id}: {detail}", .path.display())]
    RequestUnreadable { path: PathBuf, id: i64, detail: String },
}

/// What to run about a damaged journal, appended to the messages that find damage.
fn salvage_hint(path: &std::path::Path) -> String {
    format!(
        " (the journal is damaged: `faultline journal check {0}` says what and where, \
         `faultline journal salvage {0} -o NEW` keeps every readable row in a new journal)",
        path.display()
    )
}

/// [`salvage_hint`] when SQLite says the file is damaged (malformed, or not a database at all).
fn damage_hint(path: &std::path::Path, source: &rusqlite::Error) -> String {
    use rusqlite::{Error, ErrorCode};
    let damaged = matches!(source.sqlite_error_code(), Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
        // A stored text that is not UTF-8, or a NULL where the schema has NOT NULL: flipped bytes.
        || matches!(source, Error::Utf8Error(..) | Error::FromSqlConversionFailure(..) | Error::InvalidColumnType(..));
    if damaged {
        salvage_hint(path)
    } else {
        String::new()
    }
}
