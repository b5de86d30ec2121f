//! Requests from viewers to the agent, queued in the journal's `requests` table.
//!
//! A viewer (`faultline replay FILE --follow`, or `faultline` attached to a running agent) does
//! not write the journal's history; when its user confirms an action, it inserts one row here
//! through a [`RequestQueue`], a small write connection that does not take the writer hold.
//! The agent (the one writer) polls [`Journal::pending_requests`], marks a request `running`
//! before it acts, carries it out through the same code as its own UI's requests and marks it
//! `done`, `failed` or `refused` with a one-line outcome ([`Journal::set_request_state`]). The
//! outcome reaches the viewers as the usual journaled events, and as the row they poll.
//!
//! Rows are an audit trail: who asked what, when, and what came of it. Triggers refuse deleting
//! a row, and changing one that is already handled or changing what was asked.

use super::{sqlite_err, Journal, JournalError, BUSY_TIMEOUT, SCHEMA_VERSION};
use crate::model::Timestamp;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// A request older than this (milliseconds, wall time) when the agent first sees it is refused
/// as stale, not carried out: what someone confirmed minutes ago may no longer make sense (the
/// agent was down, the problem moved on).
pub const REQUEST_MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Queued, not seen by the agent yet.
    Pending,
    /// The agent is carrying it out. Left over after a crash: then it may or may not have happened.
    Running,
    /// Carried out.
    Done,
    /// Carried out, and what it asked for failed (the outcome says why).
    Failed,
    /// Not carried out: stale, unreadable, or refused by the agent (e.g. `--readonly`).
    Refused,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Running => "running",
            RequestState::Done => "done",
            RequestState::Failed => "failed",
            RequestState::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<RequestState> {
        Some(match s {
            "pending" => RequestState::Pending,
            "running" => RequestState::Running,
            "done" => RequestState::Done,
            "failed" => RequestState::Failed,
            "refused" => RequestState::Refused,
            _ => return None,
        })
    }

    /// True once the agent is finished with it.
    pub fn is_final(self) -> bool {
        matches!(self, RequestState::Done | RequestState::Failed | RequestState::Refused)
    }
}

/// One row of the `requests` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRequest {
    pub id: i64,
    /// Wall time the viewer queued it.
    pub asked_at: Timestamp,
    /// `user@host` of who asked, as the viewer says: whoever may write the journal file (its
    /// group) is trusted to say who they are.
    pub who: String,
    /// What is asked, e.g. `silence`.
    pub kind: String,
    /// The request itself as JSON; its shape depends on `kind`.
    pub body: String,
    pub state: RequestState,
    /// One line on what came of it, once handled.
    pub outcome: Option<String>,
}

const COLUMNS: &str = "id, asked_at, who, kind, body, state, outcome";

/// A viewer's write connection to a journal: it only queues requests and reads their state.
/// It takes no writer hold and never touches the journal's events or observations.
#[derive(Debug)]
pub struct RequestQueue {
    conn: Connection,
    path: PathBuf,
}

impl RequestQueue {
    /// Opens the existing journal at `path` to queue requests. Refuses a missing file and a
    /// schema version other than this code's (only the agent migrates).
    pub fn open(path: &Path) -> Result<RequestQueue, JournalError> {
        // The read-only open does every check (exists, ours, this version) without writing.
        drop(Journal::open_read_only(path)?);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(sqlite_err(path, "opening the file to queue requests"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_err(path, "setting the busy timeout"))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite_err(path, "reading the schema version"))?;
        if version != i64::from(SCHEMA_VERSION) {
            return Err(JournalError::OlderSchema {
                path: path.to_path_buf(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: SCHEMA_VERSION,
            });
        }
        Ok(RequestQueue { conn, path: path.to_path_buf() })
    }

    /// Queues one request and returns its id. `who` is `user@host`, `kind` e.g. `silence`,
    /// `body` the request as JSON.
    pub fn submit(&self, who: &str, kind: &str, body: &str) -> Result<i64, JournalError> {
        let action = format!("queuing a {kind} request (is the journal writable by this user? see its group)");
        self.conn
            .execute(
                "INSERT INTO requests (asked_at, who, kind, body, state) VALUES (?1, ?2, ?3, ?4, 'pending')",
                params![Timestamp::wall_clock().millis(), who, kind, body],
            )
            .map_err(sqlite_err(&self.path, &action))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The request with this id, as it stands now.
    pub fn get(&self, id: i64) -> Result<Option<QueuedRequest>, JournalError> {
        request_by_id(&self.conn, &self.path, id)
    }
}

impl Journal {
    /// The requests no agent has looked at yet, oldest first (the agent polls this).
    pub fn pending_requests(&self) -> Result<Vec<QueuedRequest>, JournalError> {
        let path = &self.path;
        let action = "reading the pending requests";
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE state = 'pending' ORDER BY id"))
            .map_err(sqlite_err(path, action))?;
        let rows = stmt.query_map([], raw_row).map_err(sqlite_err(path, action))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode(path, row.map_err(sqlite_err(path, action))?)?);
        }
        Ok(out)
    }

    /// The request with this id, as it stands now.
    pub fn request(&self, id: i64) -> Result<Option<QueuedRequest>, JournalError> {
        request_by_id(&self.conn, &self.path, id)
    }

    /// Moves a request on: `pending` to `running` (the agent takes it), or `running` to a final
    /// state with its outcome. Returns false when the request was not in the expected state
    /// (nothing changed).
    pub fn set_request_state(
        &mut self,
        id: i64,
        state: RequestState,
        outcome: Option<&str>,
    ) -> Result<bool, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "handling a request" });
        }
        let from = if state.is_final() { RequestState::Running } else { RequestState::Pending };
        let n = self
            .conn
            .execute(
                "UPDATE requests SET state = ?2, outcome = ?3, handled_at = ?4 WHERE id = ?1 AND state = ?5",
                params![id, state.as_str(), outcome, Timestamp::wall_clock().millis(), from.as_str()],
            )
            .map_err(sqlite_err(&self.path, &format!("marking request {id} {}", state.as_str())))?;
        Ok(n == 1)
    }

    /// Marks every request left `running` (by an agent that died while carrying it out) as
    /// failed with `outcome`, and returns them. Only the writer calls this, so no live agent
    /// is carrying them out.
    pub fn abandon_running_requests(&mut self, outcome: &str) -> Result<Vec<QueuedRequest>, JournalError> {
        if self.read_only {
            return Err(JournalError::ReadOnly { path: self.path.clone(), action: "handling a request" });
        }
        let path = self.path.clone();
        let action = "reading the requests left running";
        let running = {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT {COLUMNS} FROM requests WHERE state = 'running' ORDER BY id"))
                .map_err(sqlite_err(&path, action))?;
            let rows = stmt.query_map([], raw_row).map_err(sqlite_err(&path, action))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode(&path, row.map_err(sqlite_err(&path, action))?)?);
            }
            out
        };
        for r in &running {
            self.set_request_state(r.id, RequestState::Failed, Some(outcome))?;
        }
        Ok(running)
    }
}

type RawRow = (i64, i64, String, String, String, String, Option<String>);

fn raw_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn decode(path: &Path, (id, asked_at, who, kind, body, state, outcome): RawRow) -> Result<QueuedRequest, JournalError> {
    let state = RequestState::parse(&state).ok_or_else(|| JournalError::RequestUnreadable {
        path: path.to_path_buf(),
        id,
        detail: format!("unknown state `{state}`"),
    })?;
    Ok(QueuedRequest { id, asked_at: Timestamp(asked_at), who, kind, body, state, outcome })
}

fn request_by_id(conn: &Connection, path: &Path, id: i64) -> Result<Option<QueuedRequest>, JournalError> {
    let action = format!("reading request {id}");
    let row = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], raw_row).optional())
        .map_err(sqlite_err(path, &action))?;
    row.map(|r| decode(path, r)).transpose()
}
