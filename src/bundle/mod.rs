//! Incident bundles: one file holding everything needed to replay one problem anywhere, with
//! no data source and no journal (DESIGN section 3).
//!
//! # What a bundle holds
//! - The engine's state one correlation window before the problem's onset (an
//!   [`EngineSnapshot`](crate::engine::EngineSnapshot), with the engine configuration inside),
//!   and every observation the engine was fed from there to the problem's end (resolution, the
//!   merge that ended it, or the journal's end while it is open), in feed order. Other
//!   problems' observations are in it too: the engine saw them, and its events depend on them.
//! - The events those observations caused, as the journal recorded them (all problems), and
//!   the earlier events of the problems that were open at the window's start or appear in it,
//!   so the views show what an on-call engineer saw then.
//! - The topology as of the window's start (entity and relation facts), for the topology as of
//!   any moment of the replay.
//! - Its format version, the faultline version that wrote it, the problem, the window, where it
//!   came from and who exported it.
//!
//! # Re-derivation
//! Opening a bundle restores the engine from the snapshot and feeds it the observations again:
//! the events must come out exactly as recorded (the engine is deterministic). [`Bundle::rederive`]
//! says whether they do and, if not, from which event and what made the recorded ones.
//!
//! # File
//! SQLite (bundled), marked with its own application id ("FLTB") and the format version in
//! `user_version`. Written to a temporary file beside the target and renamed into place, so a
//! failed export leaves nothing behind. A file of a newer format, a foreign file and a truncated
//! one are refused with what is wrong.

pub mod archive;
mod export;
#[cfg(test)]
mod tests;

pub use export::{export, export_from, export_journal, known_problems, Loaded};

use crate::engine::{Engine, EngineConfig, EngineSnapshot};
use crate::model::{Observation, ProblemEvent, ProblemId, ProblemSet, Timestamp};
use rusqlite::{params, Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The bundle format this code writes and reads.
pub const BUNDLE_FORMAT: u32 = 1;
/// Marks an SQLite file as a faultline incident bundle: the bytes "FLTB".
const APPLICATION_ID: i32 = 0x464C_5442;
/// The journal's mark ("FLTJ"), to tell the two apart when a file is opened.
const JOURNAL_APPLICATION_ID: i32 = 0x464C_544A;

/// Who made a bundle, of what, and from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    /// [`BUNDLE_FORMAT`] of the writer.
    pub format: u32,
    /// `faultline <version>` of the writer: the engine that made the recorded events.
    pub faultline: String,
    pub problem: ProblemId,
    /// The problem's headline when exported.
    pub title: String,
    /// When the problem opened (data time).
    pub onset: Timestamp,
    /// One correlation window before onset: where the snapshot was taken.
    pub window_start: Timestamp,
    /// The problem's end: resolution, merge, or the journal's last data time while open.
    pub window_end: Timestamp,
    /// The journal it was exported from, as given.
    pub source: String,
    /// `user@host` of whoever exported it.
    pub exported_by: String,
    /// The engine configuration the events were made (and are re-derived) with.
    pub engine: EngineConfig,
    /// The seq of the last event before the window (0: none): events up to it are context,
    /// the ones after it are what the observations re-derive.
    pub snapshot_seq: u64,
    /// Counts written, checked on reading (a truncated copy must not pass as a shorter incident).
    pub observations: usize,
    pub events: usize,
}

/// One problem's incident, ready to replay.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub meta: BundleMeta,
    /// The engine's state at `meta.window_start`, before the first observation below.
    pub snapshot: EngineSnapshot,
    /// Entity and relation facts of the topology as of the window's start.
    pub topology: Vec<Observation>,
    /// What the engine was fed from the window's start to the problem's end, in feed order.
    pub observations: Vec<Observation>,
    /// In seq order: the earlier events (seq up to `meta.snapshot_seq`) of every problem open at
    /// the window's start or active in it, then the events the observations caused, as recorded.
    pub events: Vec<ProblemEvent>,
}

/// The outcome of feeding a bundle's observations to its restored engine again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rederived {
    /// Events recorded in the bundle.
    pub recorded: usize,
    /// Events the engine gave this time.
    pub rederived: usize,
    /// Where they first differ; `None` when every event matches exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<Mismatch>,
}

/// The first event where the recorded and the re-derived streams differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    pub seq: u64,
    /// What the bundle recorded there (`None`: the recorded stream ended first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<String>,
    /// What the engine gave there this time (`None`: it gave fewer events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rederived: Option<String>,
    /// Which version and configuration made the recorded events, against this one.
    pub made_by: String,
}

impl Rederived {
    pub fn matches(&self) -> bool {
        self.mismatch.is_none()
    }

    /// One line for people: "all 1,204 events re-derived exactly" or where they differ and why.
    pub fn describe(&self) -> String {
        match &self.mismatch {
            None => format!("re-derived from its observations: all {} events match exactly", self.recorded),
            Some(m) => format!(
                "re-derived events differ from seq {}: recorded {}, re-derived {}; {}",
                m.seq,
                m.recorded.as_deref().map_or("nothing".to_string(), |t| format!("\"{t}\"")),
                m.rederived.as_deref().map_or("nothing".to_string(), |t| format!("\"{t}\"")),
                m.made_by
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{source_file}: no problem {problem} in it ({known})")]
    NoSuchProblem { source_file: String, problem: ProblemId, known: String },
    #[error(
        "{source_file}: replaying its {observations} observations with this engine configuration gives other events \
         from seq {seq} on, so the bundle's events could not be re-derived: export with --config set to the \
         configuration the journal was written with (or its observations were pruned)"
    )]
    Diverged { source_file: String, observations: usize, seq: u64 },
    #[error("{}: bundle format {found} is newer than this faultline reads ({supported}): open it with a newer faultline", path.display())]
    NewerFormat { path: PathBuf, found: u32, supported: u32 },
    #[error("{}: not a faultline incident bundle ({detail})", path.display())]
    NotABundle { path: PathBuf, detail: String },
    #[error("{}: the bundle is damaged or incomplete (truncated copy?): {detail}", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("{}: {action}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        action: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: {what}: {source}", path.display())]
    Json {
        path: PathBuf,
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: the engine snapshot cannot be restored: {detail}", path.display())]
    Snapshot { path: PathBuf, detail: String },
    #[error(
        "{source_file}: {problem}'s window starts at {window_start}, but the journal no longer holds the engine's \
         state from then{}: retention pruned the observations before, and no engine snapshot from before the \
         window is kept",
        from.map(|t| format!(" (the oldest it can replay from is {t})")).unwrap_or_default()
    )]
    Pruned { source_file: String, problem: ProblemId, window_start: Timestamp, from: Option<Timestamp> },
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

/// What kind of faultline file this is, read from its SQLite header without opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Journal,
    Bundle,
    /// Anything else (another SQLite file, not SQLite, too short).
    Other,
}

/// Reads the application id at offset 68 of an SQLite header.
pub fn file_kind(path: &Path) -> Result<FileKind, BundleError> {
    let mut header = [0u8; 100];
    let mut file = std::fs::File::open(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        action: "opening".into(),
        source,
    })?;
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(source) => return Err(BundleError::Io { path: path.to_path_buf(), action: "reading".into(), source }),
        }
    }
    let id = if read == header.len() && &header[..16] == b"SQLite format 3\0" {
        i32::from_be_bytes([header[68], header[69], header[70], header[71]])
    } else {
        0
    };
    Ok(match id {
        APPLICATION_ID => FileKind::Bundle,
        JOURNAL_APPLICATION_ID => FileKind::Journal,
        // A live journal's header can still be in its write-ahead log (SQLite has not
        // checkpointed yet): the file says nothing, SQLite reading through the log does.
        _ if wal_of(path).exists() => match application_id_through_wal(path) {
            Some(APPLICATION_ID) => FileKind::Bundle,
            Some(JOURNAL_APPLICATION_ID) => FileKind::Journal,
            _ => FileKind::Other,
        },
        _ => FileKind::Other,
    })
}

/// SQLite's write-ahead log beside `path`.
fn wal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The application id SQLite reads for `path`, its write-ahead log included; `None` when it
/// cannot be opened read-only as a database.
fn application_id_through_wal(path: &Path) -> Option<i32> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row("PRAGMA application_id", [], |row| row.get(0)).ok()
}

const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE observations (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE TABLE events (seq INTEGER PRIMARY KEY, problem INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);
";

impl Bundle {
    /// Writes the bundle to `path` (replacing a file there): into a temporary file beside it
    /// first, renamed into place once complete, so nothing is left behind on failure.
    pub fn write(&self, path: &Path) -> Result<(), BundleError> {
        let tmp = temp_path(path);
        let _ = std::fs::remove_file(&tmp);
        let result = self.write_to(&tmp).and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|source| BundleError::Io {
                path: path.to_path_buf(),
                action: format!("moving the finished bundle from {} into place", tmp.display()),
                source,
            })
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_to(&self, path: &Path) -> Result<(), BundleError> {
        let sql = |action: &str| {
            let path = path.to_path_buf();
            let action = action.to_string();
            move |source| BundleError::Sqlite { path, action, source }
        };
        let json = |what: &str| {
            let path = path.to_path_buf();
            let what = what.to_string();
            move |source| BundleError::Json { path, what, source }
        };
        let mut conn = Connection::open(path).map_err(sql("creating the bundle"))?;
        // One file, no WAL beside it: a bundle is written once and copied around.
        conn.pragma_update(None, "journal_mode", "DELETE").map_err(sql("setting the journal mode"))?;
        let tx = conn.transaction().map_err(sql("starting the write"))?;
        tx.execute_batch(SCHEMA).map_err(sql("creating the tables"))?;
        let meta = [
            ("meta", serde_json::to_string(&self.meta).map_err(json("encoding the header"))?),
            (
                "snapshot",
                self.snapshot
                    .to_json()
                    .map_err(|e| BundleError::Snapshot { path: path.to_path_buf(), detail: e.to_string() })?,
            ),
            ("topology", serde_json::to_string(&self.topology).map_err(json("encoding the topology"))?),
        ];
        for (key, value) in &meta {
            tx.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", params![key, value])
                .map_err(sql(&format!("writing {key}")))?;
        }
        {
            let mut insert = tx
                .prepare("INSERT INTO observations (id, at, body) VALUES (?1, ?2, ?3)")
                .map_err(sql("preparing the observation insert"))?;
            for (i, o) in self.observations.iter().enumerate() {
                let body = serde_json::to_string(o).map_err(json(&format!("encoding observation {}", i + 1)))?;
                insert.execute(params![i as i64 + 1, o.at.millis(), body]).map_err(sql("writing an observation"))?;
            }
            let mut insert = tx
                .prepare("INSERT INTO events (seq, problem, at, body) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sql("preparing the event insert"))?;
            for e in &self.events {
                let body = serde_json::to_string(e).map_err(json(&format!("encoding event seq {}", e.seq)))?;
                let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
                let problem = i64::try_from(e.problem.0).unwrap_or(i64::MAX);
                insert.execute(params![seq, problem, e.at.millis(), body]).map_err(sql("writing an event"))?;
            }
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(sql("marking the file"))?;
        tx.pragma_update(None, "user_version", BUNDLE_FORMAT).map_err(sql("recording the format"))?;
        tx.commit().map_err(sql("committing the bundle"))
    }

    /// Reads a bundle. Refuses a file that is not one, one of a newer format, and a damaged or
    /// truncated one (SQLite's check fails, or fewer rows than its header says).
    pub fn read(path: &Path) -> Result<Bundle, BundleError> {
        match file_kind(path)? {
            FileKind::Bundle => {}
            FileKind::Journal => {
                return Err(BundleError::NotABundle {
                    path: path.to_path_buf(),
                    detail: "it is a journal: `faultline replay` opens it as one".into(),
                })
            }
            FileKind::Other => {
                return Err(BundleError::NotABundle {
                    path: path.to_path_buf(),
                    detail: "no bundle header: not an SQLite file written by `faultline export`, or cut short".into(),
                })
            }
        }
        let damaged = |detail: String| BundleError::Damaged { path: path.to_path_buf(), detail };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| damaged(e.to_string()))?;
        let format: i64 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| damaged(e.to_string()))?;
        let format = u32::try_from(format).map_err(|_| damaged(format!("format version {format}")))?;
        if format > BUNDLE_FORMAT {
            return Err(BundleError::NewerFormat { path: path.to_path_buf(), found: format, supported: BUNDLE_FORMAT });
        }
        if format == 0 {
            return Err(damaged("no format version: the export did not finish".into()));
        }
        let check: String =
            conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(|e| damaged(e.to_string()))?;
        if check != "ok" {
            return Err(damaged(check));
        }
        let meta_value = |key: &str| -> Result<String, BundleError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .map_err(|e| damaged(format!("reading `{key}`: {e}")))
        };
        let parse_err = |what: String| {
            let path = path.to_path_buf();
            move |source| BundleError::Json { path, what, source }
        };
        let meta: BundleMeta = serde_json::from_str(&meta_value("meta")?).map_err(parse_err("the header".into()))?;
        let snapshot = EngineSnapshot::from_json(&meta_value("snapshot")?)
            .map_err(|e| BundleError::Snapshot { path: path.to_path_buf(), detail: e.to_string() })?;
        let topology = serde_json::from_str(&meta_value("topology")?).map_err(parse_err("the topology".into()))?;

        let rows = |sql: &str| -> Result<Vec<(i64, String)>, BundleError> {
            let mut stmt = conn.prepare(sql).map_err(|e| damaged(e.to_string()))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(|e| damaged(e.to_string()))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| damaged(e.to_string()))
        };
        let mut observations = Vec::new();
        for (id, body) in rows("SELECT id, body FROM observations ORDER BY id")? {
            observations.push(serde_json::from_str(&body).map_err(parse_err(format!("observation {id}")))?);
        }
        let mut events: Vec<ProblemEvent> = Vec::new();
        for (seq, body) in rows("SELECT seq, body FROM events ORDER BY seq")? {
            let e: ProblemEvent = serde_json::from_str(&body).map_err(parse_err(format!("event seq {seq}")))?;
            if i64::try_from(e.seq) != Ok(seq) {
                return Err(damaged(format!("the event in row seq {seq} says seq {}", e.seq)));
            }
            events.push(e);
        }
        if observations.len() != meta.observations || events.len() != meta.events {
            return Err(damaged(format!(
                "{} observations and {} events, the header says {} and {}",
                observations.len(),
                events.len(),
                meta.observations,
                meta.events
            )));
        }
        Ok(Bundle { meta, snapshot, topology, observations, events })
    }

    /// The problems as recorded at the end of the bundle.
    pub fn problems(&self) -> ProblemSet {
        ProblemSet::fold(&self.events)
    }

    /// The events the window's observations caused (what [`Bundle::rederive`] checks).
    pub fn window_events(&self) -> &[ProblemEvent] {
        let first = self.events.partition_point(|e| e.seq <= self.meta.snapshot_seq);
        &self.events[first..]
    }

    /// Restores the engine from the snapshot, feeds it the observations again and compares the
    /// events with the recorded ones, exactly.
    pub fn rederive(&self) -> Result<Rederived, BundleError> {
        let mut engine = Engine::restore(self.snapshot.clone())
            .map_err(|e| BundleError::Snapshot { path: PathBuf::from(&self.meta.source), detail: e.to_string() })?;
        let recorded_events = self.window_events();
        let mut out = Vec::with_capacity(recorded_events.len());
        for o in &self.observations {
            engine.observe(o, &mut out);
        }
        let n = recorded_events.len().max(out.len());
        let mismatch = (0..n).find(|&i| recorded_events.get(i) != out.get(i)).map(|i| {
            let recorded = recorded_events.get(i);
            let rederived = out.get(i);
            let seq = recorded.or(rederived).map_or(0, |e| e.seq);
            Mismatch {
                seq,
                recorded: recorded.map(|e| format!("{}: {}", e.problem, e.kind.describe())),
                rederived: rederived.map(|e| format!("{}: {}", e.problem, e.kind.describe())),
                made_by: self.made_by(),
            }
        });
        Ok(Rederived { recorded: recorded_events.len(), rederived: out.len(), mismatch })
    }

    /// Which version and configuration made the recorded events, against this faultline.
    fn made_by(&self) -> String {
        let this = concat!("faultline ", env!("CARGO_PKG_VERSION"));
        if self.meta.faultline != this {
            format!(
                "the recorded events were made by {} and this is {this}: the engine changed between them",
                self.meta.faultline
            )
        } else if self.snapshot.config != self.meta.engine {
            "the engine configuration in the snapshot is not the one the header records: the bundle was edited".into()
        } else {
            format!(
                "the recorded events were made by {this} too, with the bundle's own engine configuration \
                 (correlation window {}s, {} topology hops): the bundle was altered after export",
                self.meta.engine.correlation_window_ms / 1000,
                self.meta.engine.topology_hops
            )
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}
