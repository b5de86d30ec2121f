//! Damaged journals: what `faultline journal check` reports and what `faultline journal salvage`
//! keeps.
//!
//! A journal is one SQLite file. Bytes flipped by a failing disk, or a copy cut short, damage some
//! of its pages; SQLite then refuses every query that walks through them ("database disk image is
//! malformed"), and faultline's own reads refuse a row that does not parse. Either way the whole
//! journal would be refused, though most of it is still there. So here each table is read in key
//! order, in batches; when a batch fails, the keys after the last row read are looked up one by
//! one (a lookup by key walks only the pages on its own path, so it gets past a damaged page
//! beside it), up to the largest key SQLite can still find. Every row that is read is checked the
//! way the journal checks it (an event must parse and agree with its own columns, an observation
//! must parse), and kept or listed as lost with the reason.
//!
//! Events carry their own seq, and seqs are dense (1, 2, 3…): a seq that was not read is a lost
//! event, and is named. When SQLite cannot read a table at all (its root page or the schema is
//! damaged), the file's bytes are searched for event bodies as a last resort: an event is stored
//! as its JSON text, which parses on its own when it sits whole in one page, and is kept only when
//! its seq was not read otherwise. Observations have no such key in their text, so they are only
//! taken from SQLite.
//!
//! Engine snapshots are kept too, each only when its checksums (body, and what the sources resume
//! from) still match, and only when a resume from it is consistent with what was salvaged: the
//! events up to its seq and every event and observation after it are there. A months-old
//! journal has pruned most of its observations, so without its snapshots a salvaged copy could
//! only be replayed from a fresh engine, which gives other events than the journal holds. The
//! last id each table handed out is kept as well, so ids are never reused after a salvage (an
//! event's observation, a snapshot's tail, the request audit trail stay unambiguous).
//!
//! Salvage writes a new journal (never the damaged file): the same schema, every kept row with its
//! original seq or id, so viewers, replay and export read it like any journal. An agent resumes
//! on it from the newest kept snapshot plus the observations after it (or, with none, by replaying
//! every kept observation), checks that this gives the kept events, and refuses with the first seq
//! that differs otherwise. The history's stored summaries are derived data and not copied: the
//! salvaged journal says it has none, and the agent's next catch-up folds them again.

use super::snapshots::checksum;
use super::{decode_event, sqlite_err, Journal, JournalError};
use crate::model::{Observation, ProblemEvent};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Rows read per query while scanning a table.
const BATCH: i64 = 512;

/// What a scan of a damaged (or sound) journal found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub path: PathBuf,
    /// SQLite's `PRAGMA integrity_check` lines (`["ok"]` for a sound file), at most 20, or why it
    /// could not run.
    pub integrity: Vec<String>,
    /// Readable events in seq order.
    pub events: Vec<(ProblemEvent, Option<i64>, String)>,
    /// Readable observations in id order: (id, observation, stored body).
    pub observations: Vec<(i64, Observation, String)>,
    /// Readable request rows, as stored.
    pub requests: Vec<RequestRow>,
    /// Readable meta rows.
    pub meta: Vec<(String, String)>,
    /// What could not be read, in the order found.
    pub lost: Vec<Lost>,
    /// The events among `events` that came from searching the file's bytes.
    pub events_from_bytes: usize,
    /// The largest event seq SQLite or the file's bytes know of (0 when none).
    pub max_seq_known: u64,
    /// Engine snapshots whose checksums match and that a resume can continue from consistently
    /// with the rest of the findings, in id order.
    pub snapshots: Vec<StoredSnapshot>,
    /// The last id each AUTOINCREMENT table handed out (`sqlite_sequence`), where readable.
    pub sequences: Vec<(String, i64)>,
    /// The largest observation id known: SQLite's largest, the last handed out, or the largest
    /// read (0 when none). Observation ids after the oldest snapshot's are dense, retention never
    /// prunes them.
    pub max_observation_known: i64,
}

/// One engine snapshot row as stored (see `snapshots.rs`), its checksums checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSnapshot {
    pub id: i64,
    /// The last event seq the engine had emitted.
    pub seq: i64,
    /// The id of the last observation the engine had been fed.
    pub observation: i64,
    /// The engine's data time in ms (`None` before its first observation).
    pub at: Option<i64>,
    pub format: i64,
    pub body: Vec<u8>,
    pub checksum: String,
    /// Wall time of the write in ms.
    pub written_at: i64,
    /// What the sources resume from, with its checksum (`None` in rows from before schema 7).
    pub sources: Option<(Vec<u8>, String)>,
}

/// One request row as stored (see `requests.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub asked_at: i64,
    pub who: String,
    pub kind: String,
    pub body: String,
    pub state: String,
    pub outcome: Option<String>,
    pub handled_at: Option<i64>,
}

/// Something that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    /// `events`, `observations`, `metric packs`, `requests`, `snapshots`, `meta` or `file`.
    pub table: &'static str,
    /// The keys concerned, e.g. "seq 250" or "ids 5,001..=5,030".
    pub keys: String,
    pub why: String,
}

impl Findings {
    /// True when nothing was lost and SQLite found nothing wrong.
    pub fn is_sound(&self) -> bool {
        self.lost.is_empty() && self.integrity == ["ok"]
    }

    /// The seqs of the events that were lost (read nowhere), from 1 to the largest seq known.
    pub fn lost_seqs(&self) -> Vec<u64> {
        let kept: BTreeSet<u64> = self.events.iter().map(|(e, _, _)| e.seq).collect();
        let max = self.max_seq_known.max(kept.last().copied().unwrap_or(0));
        (1..=max).filter(|s| !kept.contains(s)).collect()
    }

    /// A report for people: what is sound, what was lost and where.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let name = self.path.display();
        if self.is_sound() {
            let _ = writeln!(
                out,
                "journal {name}: sound (SQLite integrity check ok; {} events, {} observations, {} requests, {} snapshots, all readable)",
                self.events.len(),
                self.observations.len(),
                self.requests.len(),
                self.snapshots.len()
            );
            return out;
        }
        let _ = writeln!(out, "journal {name}: damaged");
        if self.integrity != ["ok"] {
            let _ = writeln!(out, "  SQLite integrity check: {}", self.integrity.first().map_or("", String::as_str));
            for line in self.integrity.iter().skip(1).take(4) {
                let _ = writeln!(out, "    {line}");
            }
            if self.integrity.len() > 5 {
                let _ = writeln!(out, "    ({} findings shown of {})", 5, self.integrity.len());
            }
        }
        let seqs = self.events.iter().map(|(e, _, _)| e.seq);
        let _ = writeln!(
            out,
            "  events: {} readable{}{}",
            self.events.len(),
            span(seqs.clone().min(), seqs.max(), "seq"),
            if self.events_from_bytes > 0 {
                format!(" ({} of them found in the file's bytes, outside SQLite)", self.events_from_bytes)
            } else {
                String::new()
            }
        );
        let lost_seqs = self.lost_seqs();
        if !lost_seqs.is_empty() {
            let _ = writeln!(out, "    lost: {} events, {}", lost_seqs.len(), ranges(&lost_seqs, "seq"));
        }
        let ids = self.observations.iter().map(|(id, _, _)| *id);
        let _ = writeln!(
            out,
            "  observations: {} readable{}",
            self.observations.len(),
            span(ids.clone().min(), ids.max(), "id")
        );
        let _ = writeln!(out, "  requests: {} readable", self.requests.len());
        let _ = writeln!(out, "  snapshots: {}", self.snapshots_line());
        for lost in &self.lost {
            let _ = writeln!(out, "  lost from {}: {}: {}", lost.table, lost.keys, lost.why);
        }
        out
    }

    /// The snapshots kept and where a resume of the salvaged journal starts.
    fn snapshots_line(&self) -> String {
        let ids: Vec<String> = self.snapshots.iter().map(|s| s.id.to_string()).collect();
        match self.snapshots.last() {
            None => "none kept: a salvaged copy resumes only by replaying every kept observation".to_string(),
            Some(newest) => format!(
                "{} kept (id {}): an agent can resume a salvaged copy from snapshot {} (seq {}) and the observations \
                 after id {}",
                self.snapshots.len(),
                ids.join(", "),
                newest.id,
                newest.seq,
                newest.observation
            ),
        }
    }
}

fn span<T: std::fmt::Display + PartialEq>(first: Option<T>, last: Option<T>, key: &str) -> String {
    match (first, last) {
        (Some(a), Some(b)) if a == b => format!(" ({key} {a})"),
        (Some(a), Some(b)) => format!(" ({key} {a}..={b})"),
        _ => String::new(),
    }
}

/// "seq 3, 7..=9, 12" for sorted keys (at most 12 ranges shown).
fn ranges(keys: &[u64], key: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < keys.len() {
        let start = keys[i];
        let mut end = start;
        while i + 1 < keys.len() && keys[i + 1] == end + 1 {
            i += 1;
            end = keys[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}..={end}") });
        i += 1;
    }
    let more = parts.len().saturating_sub(12);
    parts.truncate(12);
    let mut text = format!("{key} {}", parts.join(", "));
    if more > 0 {
        let _ = write!(text, " and {more} more ranges");
    }
    text
}

/// Reads everything readable from the journal at `path` (read-only; the file is not changed).
pub fn scan(path: &Path) -> Result<Findings, JournalError> {
    if let Err(e) = std::fs::metadata(path) {
        if e.kind() == std::io::ErrorKind::NotFound {
            return Err(JournalError::NotFound { path: path.to_path_buf() });
        }
    }
    let mut f = Findings { path: path.to_path_buf(), ..Findings::default() };
    // A file cut short is read through a copy padded back to the size its header gives: SQLite
    // refuses the whole of a file shorter than its header says, but reads the pages that are there
    // once the missing ones exist (as zeros, which read as damaged pages).
    let padded = padded_copy(path, &mut f.lost).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        action: "copying the cut-short file to read it".into(),
        source,
    })?;
    let read_from = padded.as_ref().map_or(path, |p| p.path());
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(read_from, flags).map_err(sqlite_err(path, "opening the file read-only"))?;
    f.integrity = integrity(&conn);
    scan_events(&conn, &mut f);
    scan_observations(&conn, &mut f);
    scan_requests(&conn, &mut f);
    scan_meta(&conn, &mut f);
    scan_sequences(&conn, &mut f);
    scan_snapshots(&conn, &mut f);
    if f.lost.iter().any(|l| l.table == "events") || f.events.is_empty() {
        events_from_bytes(path, &mut f);
    }
    f.events.sort_by_key(|(e, _, _)| e.seq);
    leave_out_inconsistent_snapshots(&mut f);
    Ok(f)
}

/// A temporary copy of `path` padded with zeros to the size its SQLite header gives, when the file
/// is shorter than that (recorded as lost); `None` when it is not cut short.
fn padded_copy(path: &Path, lost: &mut Vec<Lost>) -> std::io::Result<Option<TempCopy>> {
    let bytes = std::fs::read(path)?;
    if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
        return Ok(None);
    }
    let page_size = match u32::from(u16::from_be_bytes([bytes[16], bytes[17]])) {
        1 => 65_536,
        n => n as usize,
    };
    let pages = u32::from_be_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]) as usize;
    let expected = page_size.saturating_mul(pages);
    if page_size < 512 || bytes.len() >= expected {
        return Ok(None);
    }
    lost.push(Lost {
        table: "file",
        keys: format!("bytes {}..{}", bytes.len(), expected),
        why: format!(
            "the file is cut short: {} of the {} bytes its header gives ({} of {} pages)",
            bytes.len(),
            expected,
            bytes.len() / page_size,
            pages
        ),
    });
    let copy = TempCopy::new(path)?;
    let mut padded = bytes;
    padded.resize(expected, 0);
    std::fs::write(copy.path(), padded)?;
    Ok(Some(copy))
}

/// A file in the temporary directory, removed when dropped.
struct TempCopy(PathBuf);

impl TempCopy {
    fn new(original: &Path) -> std::io::Result<TempCopy> {
        let name = original.file_name().map_or_else(|| "journal".into(), |n| n.to_string_lossy().into_owned());
        // Unique per process and per copy: two salvages in one process never share a file.
        static COPIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("faultline-salvage-{}-{n}-{name}", std::process::id()));
        Ok(TempCopy(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        // A read-only connection to a WAL-mode file leaves its `-wal` and `-shm` beside it when it
        // closes (it may not checkpoint): they go with the copy.
        for sidecar in ["-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(sidecar);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn integrity(conn: &Connection) -> Vec<String> {
    let run = || -> rusqlite::Result<Vec<String>> {
        let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        // SQLite may put several findings in one row, a line each.
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.iter().flat_map(|r| r.lines()).map(str::to_string).collect())
    };
    run().unwrap_or_else(|e| vec![format!("could not run: {e}")])
}

/// Scans `table` by its integer key: `read(conn, from, limit)` reads rows with key >= from in key
/// order (stopping at the first error, returning the rows read before it), `lookup(conn, key)`
/// reads one row. Returns what `visit` was given, and records unreachable key ranges as lost.
// The table's name and key, its two readers, the visitor and the lost list: one scan's parts.
#[allow(clippy::too_many_arguments)]
fn scan_keys<R>(
    conn: &Connection,
    table: &'static str,
    key_name: &str,
    max_key: Option<i64>,
    read: impl Fn(&Connection, i64, i64) -> (Vec<(i64, R)>, Option<rusqlite::Error>),
    lookup: impl Fn(&Connection, i64) -> rusqlite::Result<Option<R>>,
    mut visit: impl FnMut(i64, R),
    lost: &mut Vec<Lost>,
) {
    let mut next = i64::MIN;
    loop {
        let (rows, error) = read(conn, next, BATCH);
        let got = rows.len() as i64;
        for (key, row) in rows {
            next = key.saturating_add(1);
            visit(key, row);
        }
        let Some(error) = error else {
            if got < BATCH {
                return;
            }
            continue;
        };
        // A damaged page lies ahead: look keys up one by one until one reads again, then (past
        // PROBES keys) jump ahead in growing steps, reading from there in key order. The largest
        // key SQLite still finds bounds the search; a damaged page can make it wrong, so it is a
        // bound, never a loop count.
        let start = if next == i64::MIN { 1 } else { next };
        let bound = max_key.unwrap_or(i64::MAX);
        let mut resumed = lookup_from(conn, start, bound, &lookup);
        if resumed.is_none() {
            let mut step = PROBES;
            let mut k = start.saturating_add(PROBES);
            while k <= bound && k < i64::MAX {
                let (rows, error) = read(conn, k, 1);
                if let Some(first) = rows.into_iter().next() {
                    resumed = Some(first);
                    break;
                }
                if error.is_none() {
                    break; // nothing beyond k
                }
                k = k.saturating_add(step);
                step = step.saturating_mul(2);
            }
        }
        let keys = match (&resumed, max_key) {
            (Some((k, _)), _) if *k > start => format!("{key_name}s {start}..={} unreachable", k - 1),
            (Some(_), _) => String::new(),
            (None, Some(max)) if max >= start => format!("{key_name}s {start}..={max} unreachable"),
            (None, _) if next == i64::MIN => "every row".to_string(),
            (None, _) => format!("{key_name}s after {}", start - 1),
        };
        if !keys.is_empty() {
            lost.push(Lost { table, keys, why: error.to_string() });
        }
        match resumed {
            Some((k, row)) => {
                visit(k, row);
                next = k + 1;
            }
            None => return,
        }
    }
}

/// Keys looked up one by one past a damaged page before jumping ahead.
const PROBES: i64 = 4096;

/// The first key in `start..=bound` (at most [`PROBES`] of them) whose row reads.
fn lookup_from<R>(
    conn: &Connection,
    start: i64,
    bound: i64,
    lookup: &impl Fn(&Connection, i64) -> rusqlite::Result<Option<R>>,
) -> Option<(i64, R)> {
    let end = bound.min(start.saturating_add(PROBES - 1));
    (start..=end).find_map(|k| lookup(conn, k).ok().flatten().map(|row| (k, row)))
}

fn max_key(conn: &Connection, table: &str, key: &str) -> Option<i64> {
    conn.query_row(&format!("SELECT max({key}) FROM {table}"), [], |r| r.get::<_, Option<i64>>(0)).ok().flatten()
}

type EventRowRaw = (i64, Vec<u8>, Option<i64>);

/// A stored text column as bytes: flipped bytes may leave it invalid UTF-8, which is a damaged row
/// (reported with its key), not an unreadable page.
fn text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(r.get_ref(i)?.as_bytes().map(<[u8]>::to_vec).unwrap_or_default())
}

fn utf8(body: Vec<u8>) -> Result<String, String> {
    String::from_utf8(body).map_err(|e| format!("the stored text is not UTF-8 ({e}): bytes were changed"))
}

fn scan_events(conn: &Connection, f: &mut Findings) {
    let path = f.path.clone();
    let max = max_key(conn, "problem_events", "seq");
    f.max_seq_known = max.and_then(|m| u64::try_from(m).ok()).unwrap_or(0);
    let read = |c: &Connection, from: i64, limit: i64| {
        batch(
            c,
            "SELECT seq, problem, body, observation FROM problem_events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            from,
            limit,
            |r| Ok((r.get::<_, i64>(0)?, (r.get::<_, i64>(1)?, text(r, 2)?, r.get::<_, Option<i64>>(3)?))),
        )
    };
    let lookup = |c: &Connection, k: i64| {
        c.query_row("SELECT problem, body, observation FROM problem_events WHERE seq = ?1", [k], |r| {
            Ok((r.get::<_, i64>(0)?, text(r, 1)?, r.get::<_, Option<i64>>(2)?))
        })
        .optional()
    };
    let mut events = Vec::new();
    let mut lost = Vec::new();
    scan_keys(
        conn,
        "events",
        "seq",
        max,
        read,
        lookup,
        |seq, (problem, body, observation): EventRowRaw| {
            let decoded = utf8(body).and_then(|body| match decode_event(&path, seq, problem, &body) {
                Ok(e) => Ok((e, body)),
                Err(e) => Err(e.to_string()),
            });
            match decoded {
                Ok((e, body)) => events.push((e, observation, body)),
                Err(why) => lost.push(Lost { table: "events", keys: format!("seq {seq}"), why }),
            }
        },
        &mut f.lost,
    );
    f.events = events;
    f.lost.extend(lost);
}

fn scan_observations(conn: &Connection, f: &mut Findings) {
    let max = max_key(conn, "observations", "id");
    f.max_observation_known = max.unwrap_or(0);
    let read = |c: &Connection, from: i64, limit: i64| {
        batch(c, "SELECT id, body FROM observations WHERE id >= ?1 ORDER BY id LIMIT ?2", from, limit, |r| {
            Ok((r.get::<_, i64>(0)?, text(r, 1)?))
        })
    };
    let lookup = |c: &Connection, k: i64| {
        c.query_row("SELECT body FROM observations WHERE id = ?1", [k], |r| text(r, 0)).optional()
    };
    let mut observations = Vec::new();
    let mut lost = Vec::new();
    scan_keys(
        conn,
        "observations",
        "id",
        max,
        read,
        lookup,
        |id, body: Vec<u8>| {
            let parsed = utf8(body).and_then(|body| match serde_json::from_str::<Observation>(&body) {
                Ok(o) => Ok((o, body)),
                Err(e) => Err(format!("does not parse: {e}")),
            });
            match parsed {
                Ok((o, body)) => observations.push((id, o, body)),
                Err(why) => lost.push(Lost { table: "observations", keys: format!("id {id}"), why }),
            }
        },
        &mut f.lost,
    );
    if has_table(conn, "metric_packs") {
        scan_packs(conn, f, &mut observations, &mut lost);
    }
    f.observations = observations;
    f.lost.extend(lost);
}

/// The metric packs' observations (see `packs.rs`), each as its own row's body, merged into
/// `observations` by id: a salvaged journal stores them as rows.
fn scan_packs(
    conn: &Connection,
    f: &mut Findings,
    observations: &mut Vec<(i64, Observation, String)>,
    lost: &mut Vec<Lost>,
) {
    let max = max_key(conn, "metric_packs", "first");
    f.max_observation_known = f.max_observation_known.max(max_key(conn, "metric_packs", "last").unwrap_or(0));
    let read = |c: &Connection, from: i64, limit: i64| {
        batch(
            c,
            "SELECT first, source, body, last FROM metric_packs WHERE first >= ?1 ORDER BY first LIMIT ?2",
            from,
            limit,
            |r| Ok((r.get::<_, i64>(0)?, (text(r, 1)?, text(r, 2)?, r.get::<_, i64>(3)?))),
        )
    };
    let lookup = |c: &Connection, k: i64| {
        c.query_row("SELECT source, body, last FROM metric_packs WHERE first = ?1", [k], |r| {
            Ok((text(r, 0)?, text(r, 1)?, r.get::<_, i64>(2)?))
        })
        .optional()
    };
    let path = f.path.clone();
    let mut packed = Vec::new();
    scan_keys(
        conn,
        "metric packs",
        "first id",
        max,
        read,
        lookup,
        |first, (source, body, last): (Vec<u8>, Vec<u8>, i64)| {
            let decoded =
                utf8(source).and_then(|source| utf8(body).map(|body| super::packs::PackRow { first, source, body }));
            let entries = decoded
                .and_then(|p| p.decode(&path).map_err(|e| e.to_string()))
                .and_then(|entries| ids_as_written(first, last, entries));
            match entries {
                Ok(entries) => {
                    for (id, o) in entries {
                        match serde_json::to_string(&o) {
                            Ok(body) => packed.push((id, o, body)),
                            Err(e) => {
                                lost.push(Lost { table: "observations", keys: format!("id {id}"), why: e.to_string() })
                            }
                        }
                    }
                }
                Err(why) => lost.push(Lost { table: "metric packs", keys: format!("the pack from id {first}"), why }),
            }
        },
        &mut f.lost,
    );
    if !packed.is_empty() {
        observations.extend(packed);
        observations.sort_by_key(|(id, _, _)| *id);
    }
    // An id found twice (a row and a pack, or two packs) means a damaged id that still
    // parsed: which copy is right cannot be told, so neither is kept.
    let mut twice: Vec<i64> = observations.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| w[0].0).collect();
    twice.dedup();
    if !twice.is_empty() {
        observations.retain(|(id, _, _)| twice.binary_search(id).is_err());
        for id in twice {
            lost.push(Lost {
                table: "observations",
                keys: format!("id {id}"),
                why: "stored twice (a damaged id that still reads): neither copy kept".into(),
            });
        }
    }
}

/// A pack's entries as the journal wrote them: ids rising from `first` to at most `last`
/// (packs of one batch interleave, so not every id between is theirs). Anything else is a
/// damaged body that still parses.
fn ids_as_written(first: i64, last: i64, entries: Vec<(i64, Observation)>) -> Result<Vec<(i64, Observation)>, String> {
    let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
    let rising = ids.windows(2).all(|w| w[0] < w[1]);
    if ids.first() != Some(&first) || ids.last().is_some_and(|&l| l > last) || !rising {
        return Err(format!("its observation ids do not run from {first} to at most {last} in order (damaged)"));
    }
    Ok(entries)
}

/// Whether the file's schema names `table` (false too when the schema cannot be read: that is
/// reported by the events' scan).
fn has_table(conn: &Connection, table: &str) -> bool {
    let exists = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |_| Ok(()))
        .optional();
    matches!(exists, Ok(Some(())))
}

fn scan_requests(conn: &Connection, f: &mut Findings) {
    if !has_table(conn, "requests") {
        return; // a journal from before requests existed
    }
    let max = max_key(conn, "requests", "id");
    let cols = "id, asked_at, who, kind, body, state, outcome, handled_at";
    let row = |r: &rusqlite::Row<'_>| {
        Ok(RequestRow {
            id: r.get(0)?,
            asked_at: r.get(1)?,
            who: r.get(2)?,
            kind: r.get(3)?,
            body: r.get(4)?,
            state: r.get(5)?,
            outcome: r.get(6)?,
            handled_at: r.get(7)?,
        })
    };
    let read = |c: &Connection, from: i64, limit: i64| {
        batch(c, &format!("SELECT {cols} FROM requests WHERE id >= ?1 ORDER BY id LIMIT ?2"), from, limit, |r| {
            row(r).map(|q| (q.id, q))
        })
    };
    let lookup = |c: &Connection, k: i64| {
        c.query_row(&format!("SELECT {cols} FROM requests WHERE id = ?1"), [k], row).optional()
    };
    let mut requests = Vec::new();
    scan_keys(conn, "requests", "id", max, read, lookup, |_, q| requests.push(q), &mut f.lost);
    f.requests = requests;
}

fn scan_meta(conn: &Connection, f: &mut Findings) {
    let read = || -> rusqlite::Result<Vec<(String, String)>> {
        let mut stmt = conn.prepare("SELECT key, value FROM meta ORDER BY key")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    match read() {
        Ok(meta) => f.meta = meta,
        Err(e) => f.lost.push(Lost { table: "meta", keys: "all keys".into(), why: e.to_string() }),
    }
}

/// The last ids handed out. Unreadable, they are left to the ids the salvage writes (a
/// snapshot the rest then cannot vouch for is left out, see [`leave_out_inconsistent_snapshots`]).
fn scan_sequences(conn: &Connection, f: &mut Findings) {
    let read = || -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = conn.prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    f.sequences = read().unwrap_or_default();
    let handed_out = f.sequences.iter().find(|(name, _)| name == "observations").map_or(0, |(_, seq)| *seq);
    let read_max = f.observations.last().map_or(0, |(id, _, _)| *id);
    f.max_observation_known = f.max_observation_known.max(handed_out).max(read_max);
}

/// Columns of a snapshot row, in the order [`snapshot_row`] reads them.
const SNAPSHOT_COLUMNS: &str = "id, seq, observation, at, format, body, checksum, written_at";

type SnapshotRowRaw = (StoredSnapshot, Option<Vec<u8>>, Option<Vec<u8>>);

/// A snapshot row with its raw checksum text and sources (checked by [`checked_snapshot`]).
fn snapshot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, SnapshotRowRaw)> {
    let id = r.get(0)?;
    let snapshot = StoredSnapshot {
        id,
        seq: r.get(1)?,
        observation: r.get(2)?,
        at: r.get(3)?,
        format: r.get(4)?,
        body: text(r, 5)?,
        checksum: String::new(),
        written_at: r.get(7)?,
        sources: None,
    };
    let sum = String::from_utf8_lossy(&text(r, 6)?).into_owned();
    Ok((id, (StoredSnapshot { checksum: sum, ..snapshot }, text_or_null(r, 8)?, text_or_null(r, 9)?)))
}

/// A nullable text or blob column as bytes (another type reads as no bytes: a damaged row).
fn text_or_null(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(match r.get_ref(i)? {
        rusqlite::types::ValueRef::Null => None,
        v => Some(v.as_bytes().map(<[u8]>::to_vec).unwrap_or_default()),
    })
}

/// The snapshot when its body (and its sources, when stored) match their checksums, else why not.
fn checked_snapshot((mut s, sources, sources_checksum): SnapshotRowRaw) -> Result<StoredSnapshot, String> {
    let found = checksum(&s.body);
    if found != s.checksum {
        return Err(format!("damaged: its body's checksum is {found}, the row says {}", s.checksum));
    }
    s.sources = match (sources, sources_checksum) {
        (None, None) => None,
        (Some(bytes), Some(expected)) => {
            let expected = String::from_utf8_lossy(&expected).into_owned();
            let found = checksum(&bytes);
            if found != expected {
                return Err(format!(
                    "damaged: the checksum of what the sources resume from is {found}, the row says {expected}"
                ));
            }
            Some((bytes, expected))
        }
        (Some(_), None) => return Err("damaged: what the sources resume from has no checksum".into()),
        (None, Some(_)) => return Err("damaged: a checksum for what the sources resume from, but no sources".into()),
    };
    Ok(s)
}

fn scan_snapshots(conn: &Connection, f: &mut Findings) {
    if !has_table(conn, "snapshots") {
        return; // a journal from before snapshots existed
    }
    // Rows from before schema 7 have no sources columns.
    let sources = if conn.prepare("SELECT sources, sources_checksum FROM snapshots LIMIT 0").is_ok() {
        "sources, sources_checksum"
    } else {
        "NULL, NULL"
    };
    let max = max_key(conn, "snapshots", "id");
    let read = |c: &Connection, from: i64, limit: i64| {
        batch(
            c,
            &format!("SELECT {SNAPSHOT_COLUMNS}, {sources} FROM snapshots WHERE id >= ?1 ORDER BY id LIMIT ?2"),
            from,
            limit,
            snapshot_row,
        )
    };
    let lookup = |c: &Connection, k: i64| {
        c.query_row(&format!("SELECT {SNAPSHOT_COLUMNS}, {sources} FROM snapshots WHERE id = ?1"), [k], |r| {
            snapshot_row(r).map(|(_, row)| row)
        })
        .optional()
    };
    let mut snapshots = Vec::new();
    let mut lost = Vec::new();
    scan_keys(
        conn,
        "snapshots",
        "id",
        max,
        read,
        lookup,
        |id, row: SnapshotRowRaw| {
            let seq = row.0.seq;
            match checked_snapshot(row) {
                Ok(s) => snapshots.push(s),
                Err(why) => lost.push(Lost { table: "snapshots", keys: format!("id {id} (seq {seq})"), why }),
            }
        },
        &mut f.lost,
    );
    f.snapshots = snapshots;
    f.lost.extend(lost);
}

/// Leaves out (as lost, with why) each snapshot a resume could not continue from consistently
/// with what was salvaged: one beyond the last salvaged event or observation, or one after which
/// an event or observation was lost (the engine would replay what the copy lacks, or lack what
/// it holds). Event seqs are dense, and so are observation ids after the oldest snapshot.
fn leave_out_inconsistent_snapshots(f: &mut Findings) {
    let last_seq = f.events.last().map_or(0, |(e, _, _)| e.seq);
    let lost_seqs = f.lost_seqs();
    let observation_ids: BTreeSet<i64> = f.observations.iter().map(|(id, _, _)| *id).collect();
    let last_observation = f.max_observation_known;
    let snapshots = std::mem::take(&mut f.snapshots);
    for s in snapshots {
        let seq = u64::try_from(s.seq).unwrap_or(u64::MAX);
        let after = s.observation.saturating_add(1);
        let kept_after = observation_ids.range(after..).count() as i64;
        let missing_after = last_observation.saturating_sub(s.observation).saturating_sub(kept_after);
        let first_missing = || (after..=last_observation).find(|id| !observation_ids.contains(id)).unwrap_or(after);
        let why = if seq > last_seq {
            Some(format!(
                "left out: it was taken at seq {seq}, beyond the last salvaged event (seq {last_seq}); a resume from it \
                 would skip the lost events"
            ))
        } else if let Some(first) = lost_seqs.iter().find(|&&lost| lost > seq) {
            Some(format!(
                "left out: events after it were lost (from seq {first}); a resume from it would give events the copy lacks"
            ))
        } else if s.observation > last_observation {
            Some(format!(
                "left out: it follows observation id {}, beyond the last salvaged observation (id {last_observation})",
                s.observation
            ))
        } else if missing_after > 0 {
            Some(format!(
                "left out: {missing_after} observations after it were lost (from id {}); a resume from it would \
                 replay without them",
                first_missing()
            ))
        } else {
            None
        };
        match why {
            Some(why) => f.lost.push(Lost { table: "snapshots", keys: format!("id {} (seq {seq})", s.id), why }),
            None => f.snapshots.push(s),
        }
    }
}

/// Runs a keyed batch query, keeping the rows read before an error.
fn batch<R>(
    conn: &Connection,
    sql: &str,
    from: i64,
    limit: i64,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<(i64, R)>,
) -> (Vec<(i64, R)>, Option<rusqlite::Error>) {
    let mut out = Vec::new();
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        Err(e) => return (out, Some(e)),
    };
    let mut rows = match stmt.query(params![from, limit]) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match rows.next() {
            Ok(Some(r)) => match map(r) {
                Ok(v) => out.push(v),
                Err(e) => return (out, Some(e)),
            },
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The last resort for events: searches the file's bytes for event JSON (`{"seq":`) and keeps each
/// one that parses whole and whose seq was not read through SQLite.
fn events_from_bytes(path: &Path, f: &mut Findings) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let have: BTreeSet<u64> = f.events.iter().map(|(e, _, _)| e.seq).collect();
    let needle = br#"{"seq":"#;
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(pos) = find(&bytes[i..], needle) {
        let at = i + pos;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<ProblemEvent>();
        if let Some(Ok(e)) = stream.next() {
            let len = stream.byte_offset();
            if !have.contains(&e.seq)
                && !found.iter().any(|(x, _, _): &(ProblemEvent, Option<i64>, String)| x.seq == e.seq)
            {
                let body = String::from_utf8_lossy(&bytes[at..at + len]).into_owned();
                found.push((e, None, body));
            }
            i = at + len;
        } else {
            i = at + needle.len();
        }
    }
    f.events_from_bytes = found.len();
    f.max_seq_known = f.max_seq_known.max(found.iter().map(|(e, _, _)| e.seq).max().unwrap_or(0));
    f.events.extend(found);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes what [`scan`] found in `from` into a new journal at `to` (which must not exist) and
/// returns the findings.
pub fn salvage(from: &Path, to: &Path) -> Result<Findings, JournalError> {
    if to.exists() {
        return Err(JournalError::SalvageTargetExists { path: to.to_path_buf() });
    }
    let findings = scan(from)?;
    let mut journal = Journal::open_as(to, "faultline journal salvage")?;
    let path = to.to_path_buf();
    let tx = journal.conn.transaction().map_err(sqlite_err(&path, "starting the salvage transaction"))?;
    {
        let mut insert = tx
            .prepare("INSERT INTO observations (id, at, body) VALUES (?1, ?2, ?3)")
            .map_err(sqlite_err(&path, "preparing the observation insert"))?;
        for (id, o, body) in &findings.observations {
            insert
                .execute(params![id, o.at.millis(), body])
                .map_err(sqlite_err(&path, &format!("writing observation id {id}")))?;
        }
        let mut insert = tx
            .prepare("INSERT INTO problem_events (seq, problem, at, kind, body, observation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .map_err(sqlite_err(&path, "preparing the event insert"))?;
        for (e, observation, _) in &findings.events {
            // Re-encoded through the journal's own encoder: the same checks as any append.
            let row = journal_row(&path, e)?;
            insert
                .execute(params![row.0, row.1, row.2, row.3, row.4, observation])
                .map_err(sqlite_err(&path, &format!("writing event seq {}", e.seq)))?;
        }
        let mut insert = tx
            .prepare(
                "INSERT INTO requests (id, asked_at, who, kind, body, state, outcome, handled_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sqlite_err(&path, "preparing the request insert"))?;
        for q in &findings.requests {
            insert
                .execute(params![q.id, q.asked_at, q.who, q.kind, q.body, q.state, q.outcome, q.handled_at])
                .map_err(sqlite_err(&path, &format!("writing request id {}", q.id)))?;
        }
        let mut insert = tx
            .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .map_err(sqlite_err(&path, "preparing the meta insert"))?;
        // The stored summaries are not copied, so nor is what says how far they reach.
        for (k, v) in findings.meta.iter().filter(|(k, _)| !DERIVED_META.contains(&k.as_str())) {
            insert.execute(params![k, v]).map_err(sqlite_err(&path, &format!("writing meta {k}")))?;
        }
        write_snapshots(&tx, &path, &findings.snapshots)?;
        write_sequences(&tx, &path, &findings)?;
    }
    tx.commit().map_err(sqlite_err(&path, "committing the salvaged rows"))?;
    Ok(findings)
}

/// Meta keys of the history's stored summaries (see `summaries.rs`), derived data salvage does
/// not copy: without them the salvaged journal has no store, and the next catch-up folds one.
const DERIVED_META: [&str; 2] = ["summaries_seq", "summaries_format"];

fn write_snapshots(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    snapshots: &[StoredSnapshot],
) -> Result<(), JournalError> {
    let mut insert = tx
        .prepare(
            "INSERT INTO snapshots (id, seq, observation, at, format, body, checksum, written_at, sources, \
             sources_checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sqlite_err(path, "preparing the snapshot insert"))?;
    for s in snapshots {
        let (sources, sources_checksum) = s.sources.clone().unzip();
        insert
            .execute(params![
                s.id,
                s.seq,
                s.observation,
                s.at,
                s.format,
                s.body,
                s.checksum,
                s.written_at,
                sources,
                sources_checksum
            ])
            .map_err(sqlite_err(path, &format!("writing snapshot id {}", s.id)))?;
    }
    Ok(())
}

/// Tables whose last handed-out id the salvaged journal keeps, so none is handed out twice.
const SEQUENCED: [&str; 3] = ["observations", "requests", "snapshots"];

/// Brings each table's last handed-out id up to the damaged journal's (the rows written above
/// set it to the largest id kept, which is less when the last rows were pruned or lost).
fn write_sequences(tx: &rusqlite::Transaction<'_>, path: &Path, findings: &Findings) -> Result<(), JournalError> {
    for table in SEQUENCED {
        let stored = findings.sequences.iter().find(|(name, _)| name == table).map_or(0, |(_, seq)| *seq);
        let last = if table == "observations" { stored.max(findings.max_observation_known) } else { stored };
        if last <= 0 {
            continue;
        }
        let action = format!("keeping the last {table} id ({last})");
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, 0 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
            [table],
        )
        .map_err(sqlite_err(path, &action))?;
        tx.execute("UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2", params![table, last])
            .map_err(sqlite_err(path, &action))?;
    }
    Ok(())
}

/// (seq, problem, at, kind, body) of an event, as `append` would store it.
fn journal_row(path: &Path, e: &ProblemEvent) -> Result<(i64, i64, i64, String, String), JournalError> {
    let body = serde_json::to_string(e).map_err(|source| JournalError::EventNotStorable {
        path: path.to_path_buf(),
        seq: e.seq,
        source,
    })?;
    let kind = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("event").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default();
    let int = |what: &'static str, v: u64| {
        i64::try_from(v).map_err(|_| JournalError::OutOfRange { path: path.to_path_buf(), what, value: v })
    };
    Ok((int("event seq", e.seq)?, int("problem id", e.problem.0)?, e.at.millis(), kind, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_copy_takes_the_sidecars_sqlite_left_beside_it() {
        let copy = TempCopy::new(Path::new("/somewhere/cut.sqlite")).unwrap();
        let conn = Connection::open(copy.path()).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        drop(conn);
        // What a read-only connection to a WAL-mode file leaves when it closes, as `scan`'s does.
        let ro = Connection::open_with_flags(copy.path(), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let n: i64 = ro.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
        drop(ro);
        let sidecar = |s: &str| {
            let mut p = copy.path().as_os_str().to_owned();
            p.push(s);
            PathBuf::from(p)
        };
        let (wal, shm) = (sidecar("-wal"), sidecar("-shm"));
        assert!(wal.exists() || shm.exists(), "the read-only connection left no sidecar to clean");
        let main = copy.path().to_path_buf();
        drop(copy);
        assert!(!main.exists() && !wal.exists() && !shm.exists(), "{main:?} or a sidecar is left");
    }
}
