//! Reading a NAB corpus: `timestamp,value` CSVs under a data folder, the windows JSON
//! (`{"category/file.csv": [["start", "end"], ...]}`) and the cost profiles JSON
//! (`{"standard": {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0, ...}}}`).

use super::NabError;
use crate::model::Timestamp;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// NAB's probation period: this fraction of each file's rows, capped at this fraction of 5000
/// rows (750), is never scored (`getProbationPeriod` in NAB's `nab/util.py`).
pub const PROBATION_PERCENT: f64 = 0.15;

/// The weights of one NAB profile (`CostMatrix`); NAB ignores `tnWeight`, and so does this.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostMatrix {
    /// Worth of a window found at its first row.
    pub tp_weight: f64,
    /// Cost of one detected row far from any window.
    pub fp_weight: f64,
    /// Cost of one window with no detection.
    pub fn_weight: f64,
}

/// A named scoring profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub costs: CostMatrix,
}

impl Profile {
    /// NAB v1.1's three profiles (its `config/profiles.json`): standard, reward_low_FP_rate,
    /// reward_low_FN_rate.
    pub fn nab_defaults() -> Vec<Profile> {
        let p = |name: &str, tp_weight, fp_weight, fn_weight| Profile {
            name: name.to_string(),
            costs: CostMatrix { tp_weight, fp_weight, fn_weight },
        };
        vec![
            p("standard", 1.0, 0.11, 1.0),
            p("reward_low_FP_rate", 1.0, 0.22, 1.0),
            p("reward_low_FN_rate", 1.0, 0.11, 2.0),
        ]
    }
}

/// Where the profiles came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfilesSource {
    File(PathBuf),
    /// NAB v1.1's own profiles, built in.
    NabDefaults,
    /// Given by the caller ([`NabCorpus::new`]).
    Given,
}

impl fmt::Display for ProfilesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfilesSource::File(p) => write!(f, "{}", p.display()),
            ProfilesSource::NabDefaults => f.write_str("NAB v1.1 defaults"),
            ProfilesSource::Given => f.write_str("given"),
        }
    }
}

/// One labelled anomaly window, inclusive at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NabWindow {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Index of the row at `start`.
    pub first_row: usize,
    /// Index of the row at `end`.
    pub last_row: usize,
}

impl NabWindow {
    /// Rows in the window.
    pub fn width(&self) -> usize {
        self.last_row - self.first_row + 1
    }
}

/// One data file: the rows the detector sees (one per data line, in file order, on a clock that
/// never goes back, every value finite), where each came from, its windows and what was repaired.
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    name: String,
    rows: Vec<(Timestamp, f64)>,
    /// Per row: its 1-based line in the file (the header is line 1).
    lines: Vec<usize>,
    /// Per row: the time the file gives it (the repaired time where the file's is unreadable).
    file_times: Vec<Timestamp>,
    windows: Vec<NabWindow>,
    repairs: Repairs,
}

/// A data row as read, before repair.
#[derive(Debug, Clone)]
pub(super) struct RawRow {
    /// 1-based line in the file.
    pub line: usize,
    /// `Err` holds the unreadable text.
    pub time: Result<Timestamp, String>,
    /// `Err` holds why the value is unusable (empty, not a number).
    pub value: Result<f64, String>,
}

/// What was odd in a data file. Repairs change what the detector sees; notes change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RepairKind {
    /// A time more than [`CLOCK_STEP_INTERVALS`] usual intervals earlier than the row before
    /// (a DST change, an NTP jump): this row is put one usual interval after the previous one
    /// and every later row is shifted by the same amount.
    ClockStep,
    /// A time earlier than the row before by a few intervals at most (rows out of order): the
    /// detector sees it at the previous row's time; later rows are not moved.
    OutOfOrder,
    /// An unreadable or missing timestamp: the detector sees the row at the previous row's time.
    BadTime,
    /// An empty, non-numeric, NaN or infinite value: the detector is fed the last good value.
    BadValue,
    /// A blank line: not a row (as pandas reads it), skipped.
    BlankLine,
    /// A window limit that is not the time of exactly one row: the window covers the rows whose
    /// times fall inside it, as NAB's labels do.
    WindowSnapped,
    /// A window with no row inside it (outside the file or between two rows): not scored.
    WindowEmpty,
    /// Note: the same time as the row before; kept and scored.
    RepeatedTime,
    /// Note: more than [`GAP_INTERVALS`] usual intervals after the row before; kept as is.
    Gap,
}

/// A backwards step larger than this many usual intervals re-bases the clock ([`RepairKind::ClockStep`]).
pub const CLOCK_STEP_INTERVALS: i64 = 3;
/// A forward step larger than this many usual intervals is noted as a [`RepairKind::Gap`].
pub const GAP_INTERVALS: i64 = 10;
/// Examples kept per kind of repair.
pub const REPAIR_EXAMPLES: usize = 3;

impl RepairKind {
    /// True for kinds that change what the detector sees or what is scored.
    pub fn is_repair(self) -> bool {
        !matches!(self, RepairKind::RepeatedTime | RepairKind::Gap)
    }

    /// A few words for the report.
    pub fn label(self) -> &'static str {
        match self {
            RepairKind::ClockStep => "clock stepped back",
            RepairKind::OutOfOrder => "row out of order",
            RepairKind::BadTime => "bad timestamp",
            RepairKind::BadValue => "bad value",
            RepairKind::BlankLine => "blank line",
            RepairKind::WindowSnapped => "window snapped",
            RepairKind::WindowEmpty => "window empty",
            RepairKind::RepeatedTime => "repeated time (note)",
            RepairKind::Gap => "gap (note)",
        }
    }
}

/// How often one kind of oddity occurred in a file, with its first few examples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairCount {
    pub kind: RepairKind,
    pub count: usize,
    /// (1-based line, what was seen and done), the first [`REPAIR_EXAMPLES`] in file order.
    pub examples: Vec<(usize, String)>,
}

/// Everything odd in one data file, by kind (in [`RepairKind`] order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repairs {
    kinds: Vec<RepairCount>,
}

impl Repairs {
    pub(super) fn note(&mut self, kind: RepairKind, line: usize, detail: impl FnOnce() -> String) {
        let at = self.kinds.partition_point(|k| k.kind < kind);
        if self.kinds.get(at).is_none_or(|k| k.kind != kind) {
            self.kinds.insert(at, RepairCount { kind, count: 0, examples: Vec::new() });
        }
        let entry = &mut self.kinds[at];
        entry.count += 1;
        if entry.examples.len() < REPAIR_EXAMPLES {
            entry.examples.push((line, detail()));
        }
    }

    /// Per kind, in [`RepairKind`] order.
    pub fn kinds(&self) -> &[RepairCount] {
        &self.kinds
    }

    /// How many of `kind`.
    pub fn count(&self, kind: RepairKind) -> usize {
        self.kinds.iter().find(|k| k.kind == kind).map_or(0, |k| k.count)
    }

    /// Number of repairs (notes left out).
    pub fn repaired(&self) -> usize {
        self.kinds.iter().filter(|k| k.kind.is_repair()).map(|k| k.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// `1h 5m`, `30s`, `250ms`: a duration in milliseconds for the repair notes.
fn duration_text(ms: i64) -> String {
    let ms = ms.unsigned_abs();
    if !ms.is_multiple_of(1000) || ms == 0 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    let parts = [(s / 86_400, "d"), (s / 3600 % 24, "h"), (s / 60 % 60, "m"), (s % 60, "s")];
    let text: Vec<String> = parts.iter().filter(|(n, _)| *n > 0).map(|(n, u)| format!("{n}{u}")).collect();
    text.join(" ")
}

/// The median of the positive steps between consecutive readable times, in milliseconds (0 when
/// there is none): the file's usual sampling interval.
fn usual_interval(rows: &[RawRow]) -> i64 {
    let times: Vec<i64> = rows.iter().filter_map(|r| r.time.as_ref().ok().map(|t| t.millis())).collect();
    let mut steps: Vec<i64> = times.windows(2).map(|p| p[1] - p[0]).filter(|&d| d > 0).collect();
    if steps.is_empty() {
        return 0;
    }
    steps.sort_unstable();
    steps[steps.len() / 2]
}

/// The detector's rows and each row's file time.
type Repaired = (Vec<(Timestamp, f64)>, Vec<Timestamp>);

/// The detector's view of `raw` (see [`RepairKind`] for each rule), with each row's file time.
fn repair_rows(raw: &[RawRow], repairs: &mut Repairs) -> Result<Repaired, String> {
    let Some(first_time) = raw.iter().find_map(|r| r.time.as_ref().ok().copied()) else {
        return Err("no row has a readable timestamp".to_string());
    };
    // Rows before the first good value get the first good value: no invented level change.
    let mut last_value =
        raw.iter().find_map(|r| r.value.as_ref().ok().copied().filter(|v| v.is_finite())).unwrap_or(0.0);
    let usual = usual_interval(raw);
    let mut offset = 0i64;
    let mut previous: Option<(Timestamp, Timestamp)> = None; // (file time, detector time)
    let mut rows = Vec::with_capacity(raw.len());
    let mut file_times = Vec::with_capacity(raw.len());
    for r in raw {
        let (file_time, at) = match (&r.time, previous) {
            (Err(text), prev) => {
                let at = prev.map_or(first_time, |p| p.1);
                repairs.note(RepairKind::BadTime, r.line, || {
                    format!("`{text}` is not a time; scored at {}", format_nab_time(at))
                });
                (at, at)
            }
            (&Ok(t), None) => (t, t.plus_ms(offset)),
            (&Ok(t), Some((prev_file, prev_at))) => {
                let wanted = t.plus_ms(offset);
                let back = prev_at.millis() - wanted.millis();
                if back > CLOCK_STEP_INTERVALS * usual.max(0) && back > 0 {
                    let at = prev_at.plus_ms(usual);
                    offset += at.millis() - wanted.millis();
                    repairs.note(RepairKind::ClockStep, r.line, || {
                        format!(
                            "{} is {} before the row before; clock re-based: this and later rows +{}",
                            format_nab_time(t),
                            duration_text(back),
                            duration_text(at.millis() - wanted.millis())
                        )
                    });
                    (t, at)
                } else if back > 0 {
                    repairs.note(RepairKind::OutOfOrder, r.line, || {
                        format!(
                            "{} is {} before the row before; seen at {}",
                            format_nab_time(t),
                            duration_text(back),
                            format_nab_time(prev_at)
                        )
                    });
                    (t, prev_at)
                } else {
                    if t == prev_file {
                        repairs.note(RepairKind::RepeatedTime, r.line, || format!("{} again", format_nab_time(t)));
                    } else if usual > 0 && -back > GAP_INTERVALS * usual {
                        repairs.note(RepairKind::Gap, r.line, || {
                            format!(
                                "{} after the row before (usual step {})",
                                duration_text(-back),
                                duration_text(usual)
                            )
                        });
                    }
                    (t, wanted)
                }
            }
        };
        // A bad value feeds the last good one rather than being left out: the detector's
        // contract is one observation per row (NAB scores every row), the detector is out of
        // this module's reach, and a repeated value is what a dashboard shows for a missed
        // scrape: no invented spike or level change, so the row scores as "nothing new".
        let value = match &r.value {
            Ok(v) if v.is_finite() => {
                last_value = *v;
                *v
            }
            bad => {
                let why = match bad {
                    Ok(v) => format!("`{v}` is not finite"),
                    Err(e) => e.clone(),
                };
                repairs.note(RepairKind::BadValue, r.line, || format!("{why}; fed the last good value {last_value}"));
                last_value
            }
        };
        previous = Some((file_time, at));
        rows.push((at, value));
        file_times.push(file_time);
    }
    Ok((rows, file_times))
}

impl NabFile {
    /// A file named `name` (its key in the windows JSON, `category/file.csv`) with `rows` (row
    /// `i` is line `i + 2` of the file) and `windows` given as (start, end) times, in order and not
    /// overlapping. Rows are repaired as [`RepairKind`] says (never dropped); a window covers the
    /// rows whose times fall inside it. The error (no rows, windows out of order) says what is
    /// wrong, without the file's name.
    pub fn new(name: &str, rows: Vec<(Timestamp, f64)>, windows: &[(Timestamp, Timestamp)]) -> Result<NabFile, String> {
        let raw = rows.into_iter().enumerate().map(|(i, (t, v))| RawRow { line: i + 2, time: Ok(t), value: Ok(v) });
        NabFile::from_raw(name, raw.collect(), windows, Repairs::default())
    }

    pub(super) fn from_raw(
        name: &str,
        raw: Vec<RawRow>,
        windows: &[(Timestamp, Timestamp)],
        mut repairs: Repairs,
    ) -> Result<NabFile, String> {
        if raw.is_empty() {
            return Err("no data rows".to_string());
        }
        let (rows, file_times) = repair_rows(&raw, &mut repairs)?;
        let lines: Vec<usize> = raw.iter().map(|r| r.line).collect();
        let mut out: Vec<NabWindow> = Vec::with_capacity(windows.len());
        for (n, &(start, end)) in windows.iter().enumerate() {
            let n = n + 1;
            if end < start {
                return Err(format!("window {n} ends before it starts"));
            }
            if n > 1 && start <= windows[n - 2].1 {
                return Err(format!(
                    "window {n} starts before window {} ends (windows must be in order, apart)",
                    n - 1
                ));
            }
            // The first row (in file order, after the previous window) at or after `start`, up
            // to the row before the next one later than `end`: contiguous, even when the file's
            // own clock goes back.
            let from = out.last().map_or(0, |w| w.last_row + 1);
            let first = (from..file_times.len()).find(|&i| file_times[i] >= start).filter(|&i| file_times[i] <= end);
            let Some(first_row) = first else {
                let line = lines.get(from).copied().unwrap_or(1);
                repairs.note(RepairKind::WindowEmpty, line, || {
                    format!(
                        "window {n} ({} to {}) holds no row of the file; not scored",
                        format_nab_time(start),
                        format_nab_time(end)
                    )
                });
                continue;
            };
            let last_row =
                (first_row..file_times.len()).find(|&i| file_times[i] > end).map_or(file_times.len() - 1, |i| i - 1);
            let exact =
                |i: usize, t: Timestamp| file_times[i] == t && file_times.iter().filter(|&&x| x == t).count() == 1;
            if !exact(first_row, start) || !exact(last_row, end) {
                repairs.note(RepairKind::WindowSnapped, lines[first_row], || {
                    format!(
                        "window {n} ({} to {}) is not on single rows: lines {} to {}",
                        format_nab_time(start),
                        format_nab_time(end),
                        lines[first_row],
                        lines[last_row]
                    )
                });
            }
            out.push(NabWindow { start, end, first_row, last_row });
        }
        Ok(NabFile { name: name.to_string(), rows, lines, file_times, windows: out, repairs })
    }

    /// The file's key in the windows JSON, e.g. `realAdExchange/exchange-2_cpc_results.csv`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// (time, value) per row as the detector sees them: file order, time never going back,
    /// values finite (see [`RepairKind`]).
    pub fn rows(&self) -> &[(Timestamp, f64)] {
        &self.rows
    }

    /// Per row, the 1-based line of the file it came from.
    pub fn lines(&self) -> &[usize] {
        &self.lines
    }

    /// Per row, the time written in the file (where readable; else the time the detector saw).
    pub fn file_times(&self) -> &[Timestamp] {
        &self.file_times
    }

    pub fn windows(&self) -> &[NabWindow] {
        &self.windows
    }

    /// What was odd in the file and how it was handled.
    pub fn repairs(&self) -> &Repairs {
        &self.repairs
    }

    /// True when row `row` lies inside a window (the `label` column of NAB's results files).
    pub fn in_window(&self, row: usize) -> bool {
        self.windows.iter().any(|w| (w.first_row..=w.last_row).contains(&row))
    }
}

/// The files under evaluation (those named in the windows JSON, sorted by name), the profiles
/// and the probation fraction.
#[derive(Debug, Clone)]
pub struct NabCorpus {
    files: Vec<NabFile>,
    profiles: Vec<Profile>,
    profiles_source: ProfilesSource,
    probation_percent: f64,
    unlabelled: Vec<String>,
}

impl NabCorpus {
    /// A corpus of `files` (kept in the given order) scored under `profiles`, with NAB's 15%
    /// probation.
    pub fn new(files: Vec<NabFile>, profiles: Vec<Profile>) -> NabCorpus {
        NabCorpus {
            files,
            profiles,
            profiles_source: ProfilesSource::Given,
            probation_percent: PROBATION_PERCENT,
            unlabelled: Vec::new(),
        }
    }

    /// The same corpus with another probation fraction (NAB's own tests use 0 for clarity).
    pub fn with_probation_percent(mut self, fraction: f64) -> NabCorpus {
        self.probation_percent = fraction;
        self
    }

    /// Reads the corpus the way NAB's runner does: every file named in `windows_file` is read
    /// from `data_dir/<name>`; its window limits must be timestamps of the file. CSV files under
    /// `data_dir` that the windows file does not name are not scored (listed in
    /// [`NabCorpus::unlabelled`]). Profiles come from `profiles_file`, else from a
    /// `profiles.json` beside the windows file, else NAB v1.1's built-in profiles.
    pub fn load(data_dir: &Path, windows_file: &Path, profiles_file: Option<&Path>) -> Result<NabCorpus, NabError> {
        let windows_text = read(windows_file, "cannot read windows file")?;
        let windows: BTreeMap<String, Vec<(String, String)>> = parse_json(windows_file, &windows_text)?;
        let json_err = |message: String| NabError::Json { path: windows_file.to_path_buf(), message };
        let mut files = Vec::with_capacity(windows.len());
        for (key, limits) in &windows {
            if !is_plain_relative(key) {
                return Err(json_err(format!("`{key}`: a file name must be a relative path inside the data folder")));
            }
            let mut times = Vec::with_capacity(limits.len());
            for (n, (start, end)) in limits.iter().enumerate() {
                let parse = |s: &str, which: &str| {
                    parse_nab_time(s).map_err(|e| json_err(format!("`{key}` window {}: {which}: {e}", n + 1)))
                };
                times.push((parse(start, "start")?, parse(end, "end")?));
            }
            let data_path = data_dir.join(key);
            let mut repairs = Repairs::default();
            let rows = read_data_csv(&data_path, &mut repairs)?;
            let file = NabFile::from_raw(key, rows, &times, repairs)
                .map_err(|e| json_err(format!("`{key}` (data {}): {e}", data_path.display())))?;
            files.push(file);
        }
        if files.is_empty() {
            return Err(json_err("names no data file".to_string()));
        }
        let named: BTreeSet<&str> = windows.keys().map(String::as_str).collect();
        let mut unlabelled = Vec::new();
        collect_csvs(data_dir, data_dir, &mut unlabelled)?;
        unlabelled.retain(|name| !named.contains(name.as_str()));
        unlabelled.sort();

        let beside = windows_file.parent().map(|p| p.join("profiles.json"));
        let (profiles, profiles_source) = match (profiles_file, beside) {
            (Some(p), _) => (read_profiles(p)?, ProfilesSource::File(p.to_path_buf())),
            (None, Some(p)) if p.is_file() => (read_profiles(&p)?, ProfilesSource::File(p)),
            _ => (Profile::nab_defaults(), ProfilesSource::NabDefaults),
        };
        Ok(NabCorpus { files, profiles, profiles_source, probation_percent: PROBATION_PERCENT, unlabelled })
    }

    pub fn files(&self) -> &[NabFile] {
        &self.files
    }

    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    pub fn profiles_source(&self) -> &ProfilesSource {
        &self.profiles_source
    }

    pub fn probation_percent(&self) -> f64 {
        self.probation_percent
    }

    /// CSV files under the data folder that the windows file does not name (not scored).
    pub fn unlabelled(&self) -> &[String] {
        &self.unlabelled
    }

    /// Index of the first scored row of a file of `rows` rows: `min(floor(0.15 * rows), 750)`,
    /// computed in floating point exactly as NAB's `getProbationPeriod`.
    pub fn probation_rows(&self, rows: usize) -> usize {
        let p = self.probation_percent;
        let limit = (p * rows as f64).floor().min(p * 5000.0);
        // NAB scores row i when `i >= limit`; `limit` may be fractional for odd fractions.
        limit.max(0.0).ceil() as usize
    }

    /// Number of windows in all files.
    pub fn window_count(&self) -> usize {
        self.files.iter().map(|f| f.windows.len()).sum()
    }

    /// Number of rows in all files.
    pub fn row_count(&self) -> usize {
        self.files.iter().map(|f| f.rows.len()).sum()
    }
}

/// Parses a NAB time, `YYYY-MM-DD HH:MM:SS` with optional fractional seconds (UTC), to
/// milliseconds (finer digits are dropped).
pub(crate) fn parse_nab_time(s: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    let looks_right = s.len() >= 19 && s.as_bytes().get(10).is_some_and(|&b| b == b' ' || b == b'T');
    match Timestamp::parse_rfc3339(s) {
        Ok(t) if looks_right => Ok(t),
        _ => Err(format!("`{s}` is not a time like `2014-04-10 07:15:00`")),
    }
}

/// Writes a time as NAB's files do: `YYYY-MM-DD HH:MM:SS`, with `.mmm` when not a whole second.
pub(crate) fn format_nab_time(t: Timestamp) -> String {
    if !t.is_rfc3339_range() {
        return t.millis().to_string();
    }
    let s = t.to_rfc3339(); // 2014-04-01T00:00:00.000Z
    let (date, time) = (&s[..10], &s[11..19]);
    let ms = &s[20..23];
    if ms == "000" {
        format!("{date} {time}")
    } else {
        format!("{date} {time}.{ms}")
    }
}

fn read(path: &Path, action: &'static str) -> Result<String, NabError> {
    std::fs::read_to_string(path).map_err(|source| NabError::Io { path: path.to_path_buf(), action, source })
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, NabError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { format!(" at `{at}`") };
        NabError::Json {
            path: path.to_path_buf(),
            message: format!("line {} column {}{at}: {inner}", inner.line(), inner.column()),
        }
    })
}

/// True for `a/b.csv`-like paths: relative, no `..`, no root or prefix.
fn is_plain_relative(key: &str) -> bool {
    let path = Path::new(key);
    !key.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Reads a `timestamp,value` CSV (more columns are allowed and ignored). Only an unreadable
/// file or header is an error; odd rows are kept for [`repair_rows`], blank lines noted.
fn read_data_csv(path: &Path, repairs: &mut Repairs) -> Result<Vec<RawRow>, NabError> {
    let text = read(path, "cannot read data file")?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let err = |line: usize, message: String| NabError::Csv { path: path.to_path_buf(), line, message };
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(t_col), Some(v_col)) = (column("timestamp"), column("value")) else {
        return Err(err(1, format!("the header must name `timestamp` and `value` columns, found `{header}`")));
    };
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            repairs.note(RepairKind::BlankLine, line_no, || "skipped".to_string());
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let field =
            |col: usize, name: &str| fields.get(col).map(|f| f.trim()).ok_or_else(|| format!("no `{name}` field"));
        let time = field(t_col, "timestamp").and_then(|t| parse_nab_time(t).map_err(|_| t.to_string()));
        let value = field(v_col, "value").and_then(|raw| match raw.parse::<f64>() {
            Ok(v) => Ok(v),
            Err(_) if raw.is_empty() => Err("empty value".to_string()),
            Err(_) => Err(format!("`{raw}` is not a number")),
        });
        rows.push(RawRow { line: line_no, time, value });
    }
    if rows.is_empty() {
        return Err(err(1, "no data rows".to_string()));
    }
    Ok(rows)
}

/// Relative names (with `/`) of the `.csv` files under `dir`.
fn collect_csvs(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), NabError> {
    let io = |source| NabError::Io { path: dir.to_path_buf(), action: "cannot list data folder", source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        // file_type does not follow symbolic links: no loop through a link to a parent.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_csvs(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "csv") {
            if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> =
                    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct ProfileEntry {
    #[serde(rename = "CostMatrix")]
    cost_matrix: CostMatrixEntry,
}

#[derive(Deserialize)]
struct CostMatrixEntry {
    #[serde(rename = "tpWeight")]
    tp_weight: f64,
    #[serde(rename = "fpWeight")]
    fp_weight: f64,
    #[serde(rename = "fnWeight")]
    fn_weight: f64,
}

/// Reads NAB's profiles JSON. Profiles are ordered `standard` first, then by name.
fn read_profiles(path: &Path) -> Result<Vec<Profile>, NabError> {
    let text = read(path, "cannot read profiles file")?;
    let entries: BTreeMap<String, ProfileEntry> = parse_json(path, &text)?;
    let mut profiles = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let c = entry.cost_matrix;
        for (field, w) in [("tpWeight", c.tp_weight), ("fpWeight", c.fp_weight), ("fnWeight", c.fn_weight)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(NabError::Json {
                    path: path.to_path_buf(),
                    message: format!("`{name}.CostMatrix.{field}` is {w}; weights are finite and not negative"),
                });
            }
        }
        let costs = CostMatrix { tp_weight: c.tp_weight, fp_weight: c.fp_weight, fn_weight: c.fn_weight };
        profiles.push(Profile { name, costs });
    }
    if profiles.is_empty() {
        return Err(NabError::Json { path: path.to_path_buf(), message: "names no profile".to_string() });
    }
    profiles.sort_by(|a, b| (a.name != "standard", &a.name).cmp(&(b.name != "standard", &b.name)));
    Ok(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nab_times_parse_and_print() {
        let t = parse_nab_time("2014-04-10 07:15:00").unwrap();
        assert_eq!(t, parse_nab_time("2014-04-10 07:15:00.000000").unwrap());
        assert_eq!(t, Timestamp::parse_rfc3339("2014-04-10T07:15:00Z").unwrap());
        assert_eq!(format_nab_time(t), "2014-04-10 07:15:00");
        assert_eq!(format_nab_time(t.plus_ms(250)), "2014-04-10 07:15:00.250");
        assert!(parse_nab_time("2014-04-10").unwrap_err().contains("2014-04-10"));
        assert!(parse_nab_time("yesterday").is_err());
    }

    #[test]
    fn probation_is_nabs() {
        let c = NabCorpus::new(Vec::new(), Profile::nab_defaults());
        assert_eq!(c.probation_rows(4032), 604); // floor(604.8)
        assert_eq!(c.probation_rows(1624), 243); // floor(243.6)
        assert_eq!(c.probation_rows(20), 3);
        assert_eq!(c.probation_rows(22695), 750); // capped at 0.15 * 5000
        assert_eq!(c.with_probation_percent(0.0).probation_rows(100), 0);
    }

    fn t(s: i64) -> Timestamp {
        Timestamp(s * 1000)
    }

    /// Ten rows, one a second, values 0..10.
    fn rows() -> Vec<(Timestamp, f64)> {
        (0..10).map(|i| (t(i), i as f64)).collect()
    }

    fn times(f: &NabFile) -> Vec<i64> {
        f.rows().iter().map(|r| r.0.millis() / 1000).collect()
    }

    #[test]
    fn windows_out_of_order_are_refused() {
        assert!(NabFile::new("a.csv", rows(), &[(t(2), t(4)), (t(6), t(6))]).is_ok());
        let e = NabFile::new("a.csv", rows(), &[(t(2), t(4)), (t(4), t(6))]).unwrap_err();
        assert!(e.contains("window 2 starts before window 1 ends"), "{e}");
        let e = NabFile::new("a.csv", rows(), &[(t(5), t(4))]).unwrap_err();
        assert!(e.contains("window 1 ends before it starts"), "{e}");
        assert!(NabFile::new("a.csv", Vec::new(), &[]).unwrap_err().contains("no data rows"));
        assert!(!is_plain_relative("../x.csv") && !is_plain_relative("/x.csv") && is_plain_relative("a/b.csv"));
    }

    #[test]
    fn windows_between_rows_or_outside_are_snapped_or_dropped() {
        let f = NabFile::new("a.csv", rows(), &[(t(2), t(4))]).unwrap();
        assert!(f.repairs().is_empty());
        // 2.5 s to 4 s covers rows 3 and 4 (lines 5 and 6), as NAB's labels would.
        let f = NabFile::new("a.csv", rows(), &[(Timestamp(2500), t(4))]).unwrap();
        assert_eq!((f.windows()[0].first_row, f.windows()[0].last_row), (3, 4));
        assert_eq!(f.repairs().count(RepairKind::WindowSnapped), 1);
        assert!(f.repairs().kinds()[0].examples[0].1.contains("lines 5 to 6"), "{:?}", f.repairs());
        // Between two rows, and after the last row: no row, not scored.
        let f = NabFile::new("a.csv", rows(), &[(Timestamp(2200), Timestamp(2800)), (t(20), t(30))]).unwrap();
        assert!(f.windows().is_empty());
        assert_eq!(f.repairs().count(RepairKind::WindowEmpty), 2);
        // Starting before the file: from its first row.
        let f = NabFile::new("a.csv", rows(), &[(t(-5), t(1))]).unwrap();
        assert_eq!((f.windows()[0].first_row, f.windows()[0].last_row), (0, 1));
        // A limit on a repeated time covers every row at it.
        let mut repeat = rows();
        repeat[3].0 = t(2);
        let f = NabFile::new("a.csv", repeat, &[(t(2), t(6))]).unwrap();
        assert_eq!((f.windows()[0].first_row, f.windows()[0].last_row), (2, 6));
        assert_eq!(f.repairs().count(RepairKind::WindowSnapped), 1);
        assert_eq!(f.repairs().count(RepairKind::RepeatedTime), 1);
    }

    #[test]
    fn a_clock_step_back_rebases_the_rest() {
        // Row 5 (line 7) is an hour early, and so is every later row: the detector sees row 5
        // one usual interval after row 4 and the rest follow it; the file's times are kept.
        let mut r = rows();
        for row in r.iter_mut().skip(5) {
            row.0 = row.0.plus_ms(-3_600_000);
        }
        let f = NabFile::new("a.csv", r.clone(), &[]).unwrap();
        assert_eq!(times(&f), vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(f.file_times()[5], r[5].0);
        assert_eq!(f.rows().len(), 10);
        assert_eq!((f.repairs().count(RepairKind::ClockStep), f.repairs().repaired()), (1, 1));
        let (line, detail) = &f.repairs().kinds()[0].examples[0];
        assert_eq!(*line, 7);
        assert!(detail.contains("59m 59s before the row before") && detail.contains("later rows +1h"), "{detail}");
        assert!(detail.contains("re-based"), "{detail}");
    }

    #[test]
    fn rows_out_of_order_are_held_at_the_previous_time() {
        let mut r = rows();
        r.swap(4, 5);
        let f = NabFile::new("a.csv", r, &[]).unwrap();
        // Row 5 (time 4) is seen at time 5; later rows are not moved.
        assert_eq!(times(&f), vec![0, 1, 2, 3, 5, 5, 6, 7, 8, 9]);
        assert_eq!(f.rows()[5].1, 4.0);
        assert_eq!(f.repairs().count(RepairKind::OutOfOrder), 1);
        assert_eq!(f.repairs().count(RepairKind::ClockStep), 0);
        assert_eq!(f.repairs().kinds()[0].examples[0].0, 7);
    }

    #[test]
    fn bad_values_get_the_last_good_value_and_are_counted() {
        let mut r = rows();
        r[3].1 = f64::NAN;
        r[4].1 = f64::INFINITY;
        let f = NabFile::new("a.csv", r, &[]).unwrap();
        let values: Vec<f64> = f.rows().iter().map(|r| r.1).collect();
        assert_eq!(values, vec![0.0, 1.0, 2.0, 2.0, 2.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(f.repairs().count(RepairKind::BadValue), 2);
        let examples = &f.repairs().kinds()[0].examples;
        assert_eq!((examples[0].0, examples[1].0), (5, 6));
        assert!(examples[0].1.contains("`NaN` is not finite; fed the last good value 2"), "{examples:?}");
    }

    #[test]
    fn examples_are_capped_counts_are_not() {
        let r: Vec<_> = (0..10).map(|i| (t(0), i as f64)).collect();
        let f = NabFile::new("a.csv", r, &[]).unwrap();
        let k = &f.repairs().kinds()[0];
        assert_eq!((k.kind, k.count, k.examples.len()), (RepairKind::RepeatedTime, 9, REPAIR_EXAMPLES));
        assert_eq!(f.repairs().repaired(), 0);
        assert_eq!(duration_text(3_660_000), "1h 1m");
        assert_eq!(duration_text(250), "250ms");
    }
}
