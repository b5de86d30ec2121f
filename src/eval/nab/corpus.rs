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

/// One data file: its rows in time order and its windows in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct NabFile {
    name: String,
    rows: Vec<(Timestamp, f64)>,
    windows: Vec<NabWindow>,
}

impl NabFile {
    /// A file named `name` (its key in the windows JSON, `category/file.csv`) with `rows`
    /// (times never going back, finite values; NAB's own data repeats a time now and then) and
    /// `windows` given as (start, end) times, each of which must be the time of exactly one row
    /// (as NAB's labeller requires), in order and not overlapping. The error says what is wrong,
    /// without the file's name.
    pub fn new(name: &str, rows: Vec<(Timestamp, f64)>, windows: &[(Timestamp, Timestamp)]) -> Result<NabFile, String> {
        if rows.is_empty() {
            return Err("no data rows".to_string());
        }
        for (i, pair) in rows.windows(2).enumerate() {
            if pair[1].0 < pair[0].0 {
                return Err(format!("row {} is earlier than row {} (NAB data is in time order)", i + 2, i + 1));
            }
        }
        if let Some(i) = rows.iter().position(|r| !r.1.is_finite()) {
            return Err(format!("row {} has a value that is not a finite number", i + 1));
        }
        let index_of = |n: usize, which: &str, t: Timestamp| {
            let first = rows.partition_point(|r| r.0 < t);
            match rows[first..].partition_point(|r| r.0 <= t) {
                1 => Ok(first),
                0 => Err(format!("window {n} {which} at {}, which is not the time of any row", format_nab_time(t))),
                k => Err(format!(
                    "window {n} {which} at {}, the time of {k} rows; a window limit must be the time of exactly one",
                    format_nab_time(t)
                )),
            }
        };
        let mut out: Vec<NabWindow> = Vec::with_capacity(windows.len());
        for (n, &(start, end)) in windows.iter().enumerate() {
            let n = n + 1;
            let first_row = index_of(n, "starts", start)?;
            let last_row = index_of(n, "ends", end)?;
            if last_row < first_row {
                return Err(format!("window {n} ends before it starts"));
            }
            if let Some(prev) = out.last() {
                if first_row <= prev.last_row {
                    return Err(format!(
                        "window {n} starts before window {} ends (windows must be in order, apart)",
                        n - 1
                    ));
                }
            }
            out.push(NabWindow { start, end, first_row, last_row });
        }
        Ok(NabFile { name: name.to_string(), rows, windows: out })
    }

    /// The file's key in the windows JSON, e.g. `realAdExchange/exchange-2_cpc_results.csv`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// (time, value) per row, in time order.
    pub fn rows(&self) -> &[(Timestamp, f64)] {
        &self.rows
    }

    pub fn windows(&self) -> &[NabWindow] {
        &self.windows
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
            let rows = read_data_csv(&data_path)?;
            let file = NabFile::new(key, rows, &times)
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

/// Reads a `timestamp,value` CSV (more columns are allowed and ignored).
fn read_data_csv(path: &Path) -> Result<Vec<(Timestamp, f64)>, NabError> {
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
    let mut rows: Vec<(Timestamp, f64)> = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let field = |col: usize, name: &str| {
            fields.get(col).map(|f| f.trim()).ok_or_else(|| err(line_no, format!("no `{name}` field")))
        };
        let t = parse_nab_time(field(t_col, "timestamp")?).map_err(|e| err(line_no, format!("timestamp: {e}")))?;
        let raw = field(v_col, "value")?;
        let v: f64 = raw.parse().map_err(|_| err(line_no, format!("value: `{raw}` is not a number")))?;
        if !v.is_finite() {
            return Err(err(line_no, format!("value: `{raw}` is not a finite number")));
        }
        if let Some(&(prev, _)) = rows.last() {
            if t < prev {
                return Err(err(
                    line_no,
                    format!(
                        "timestamp {} is earlier than the row before ({}); NAB data is in time order",
                        format_nab_time(t),
                        format_nab_time(prev)
                    ),
                ));
            }
        }
        rows.push((t, v));
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

    #[test]
    fn file_checks_say_what() {
        let t = |s: i64| Timestamp(s * 1000);
        let rows: Vec<_> = (0..10).map(|i| (t(i), 0.0)).collect();
        assert!(NabFile::new("a.csv", rows.clone(), &[(t(2), t(4)), (t(6), t(6))]).is_ok());
        let e = NabFile::new("a.csv", rows.clone(), &[(t(2), t(4)), (t(4), t(6))]).unwrap_err();
        assert!(e.contains("window 2 starts before window 1 ends"), "{e}");
        let e = NabFile::new("a.csv", rows.clone(), &[(t(5), t(4))]).unwrap_err();
        assert!(e.contains("window 1 ends before it starts"), "{e}");
        let e = NabFile::new("a.csv", rows.clone(), &[(Timestamp(2500), t(4))]).unwrap_err();
        assert!(e.contains("window 1 starts at 1970-01-01 00:00:02.500"), "{e}");
        let mut bad = rows.clone();
        bad[3].0 = t(1);
        assert!(NabFile::new("a.csv", bad, &[]).unwrap_err().contains("row 4 is earlier than row 3"));
        // A repeated time is NAB data (exchange-2_cpc_results.csv has one), but not as a window limit.
        let mut repeat = rows.clone();
        repeat[3].0 = t(2);
        assert!(NabFile::new("a.csv", repeat.clone(), &[(t(4), t(6))]).is_ok());
        let e = NabFile::new("a.csv", repeat, &[(t(2), t(6))]).unwrap_err();
        assert!(e.contains("window 1 starts at 1970-01-01 00:00:02, the time of 2 rows"), "{e}");
        assert!(!is_plain_relative("../x.csv") && !is_plain_relative("/x.csv") && is_plain_relative("a/b.csv"));
    }
}
