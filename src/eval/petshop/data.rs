//! Reading a PetShop scenario folder: `graph.csv` (the call graph as an adjacency matrix),
//! `noissue/metrics.csv` (the normal period) and `train|test/issue_N/{metrics.csv,target.json}`.
//!
//! The metrics CSVs are pandas' three-level column layout: the header rows name the
//! microservice, the metric (`latency`, `requests`, `availability`) and the statistic
//! (`Average`, `p50`...`p99`, `Sum`) of each column; an optional fourth row names the index
//! (`unix_timestamp`); then one row per 5-minute step, the Unix time in seconds first. An empty
//! cell (or `nan`) is a missing value: the service saw no request in that step.

use super::PetshopError;
use crate::model::Timestamp;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The call graph: `graph.csv` has one row and one column per node; a non-zero cell at
/// (row `a`, column `b`) means `a` calls `b` (the authors build their causal graph by reversing
/// these edges: the callee's trouble causes the caller's).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallGraph {
    /// Node names, sorted.
    pub nodes: Vec<String>,
    /// `(caller, callee)` pairs, sorted.
    pub calls: Vec<(String, String)>,
}

/// What one metrics column holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesName {
    /// The microservice (a node of the call graph).
    pub node: String,
    /// `latency` (seconds), `requests` (count) or `availability` (percent).
    pub metric: String,
    /// `Average`, `p50`, `p90`, `p95`, `p99` or `Sum`.
    pub statistic: String,
}

impl SeriesName {
    /// The metric name faultline's engine sees: `latency_average`, `requests_sum`...
    pub fn engine_metric(&self) -> String {
        format!("{}_{}", self.metric, self.statistic).to_lowercase()
    }
}

/// One metrics CSV: columns, then rows in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricTable {
    pub columns: Vec<SeriesName>,
    /// Each row's time and one value per column (`None`: missing).
    pub rows: Vec<(Timestamp, Vec<Option<f64>>)>,
}

impl MetricTable {
    /// Time of the first row.
    pub fn start(&self) -> Option<Timestamp> {
        self.rows.first().map(|r| r.0)
    }

    /// Time of the last row.
    pub fn end(&self) -> Option<Timestamp> {
        self.rows.last().map(|r| r.0)
    }

    /// The nodes that have at least one column.
    pub fn nodes(&self) -> BTreeSet<&str> {
        self.columns.iter().map(|c| c.node.as_str()).collect()
    }
}

/// `target.json`: the SLO violation to explain and its true root cause.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IssueTarget {
    pub target: TargetSeries,
    pub root_cause: RootCause,
}

/// The violated series: `node`'s `metric` under the statistic `agg`, around `timestamp`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TargetSeries {
    pub node: String,
    pub metric: String,
    pub agg: String,
    /// Unix time, seconds.
    pub timestamp: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RootCause {
    pub node: String,
    /// The root-cause metric; `null` throughout the published data (only the node is scored).
    pub metric: Option<String>,
}

/// One injected issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// `train` or `test`.
    pub split: String,
    /// The folder name, `issue_N`.
    pub name: String,
    pub metrics: MetricTable,
    pub target: IssueTarget,
}

/// One scenario folder (e.g. `low_traffic`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The folder's name.
    pub name: String,
    pub graph: CallGraph,
    pub normal: MetricTable,
    /// Train issues then test issues, each by issue number.
    pub issues: Vec<Issue>,
}

/// The splits of a scenario, in report order.
pub const SPLITS: [&str; 2] = ["train", "test"];

impl Scenario {
    /// Reads a scenario folder.
    pub fn load(dir: &Path) -> Result<Scenario, PetshopError> {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "petshop".into());
        let graph_path = dir.join("graph.csv");
        let graph = parse_graph(&graph_path, &read(&graph_path)?)?;
        let normal_path = dir.join("noissue").join("metrics.csv");
        let normal = parse_metrics(&normal_path, &read(&normal_path)?)?;
        let mut issues = Vec::new();
        for split in SPLITS {
            let split_dir = dir.join(split);
            if !split_dir.is_dir() {
                continue;
            }
            for (_, issue_dir) in issue_dirs(&split_dir)? {
                let metrics_path = issue_dir.join("metrics.csv");
                let metrics = parse_metrics(&metrics_path, &read(&metrics_path)?)?;
                let target_path = issue_dir.join("target.json");
                let target = parse_target(&target_path, &read(&target_path)?)?;
                let name = issue_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                issues.push(Issue { split: split.to_string(), name, metrics, target });
            }
        }
        if issues.is_empty() {
            return Err(PetshopError::Layout {
                path: dir.to_path_buf(),
                message: "no issue found (expected train/issue_N/ or test/issue_N/ folders)".into(),
            });
        }
        Ok(Scenario { name, graph, normal, issues })
    }

    /// Every node the scenario knows: the call graph's and the metrics' (sorted).
    pub fn nodes(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.graph.nodes.iter().cloned().collect();
        all.extend(self.normal.nodes().into_iter().map(str::to_string));
        for i in &self.issues {
            all.extend(i.metrics.nodes().into_iter().map(str::to_string));
        }
        all
    }
}

/// True when `dir` looks like one scenario (it has a `graph.csv`).
pub fn is_scenario(dir: &Path) -> bool {
    dir.join("graph.csv").is_file()
}

fn read(path: &Path) -> Result<String, PetshopError> {
    std::fs::read_to_string(path).map_err(|source| PetshopError::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })
}

/// `issue_N` folders of a split, by N.
fn issue_dirs(split_dir: &Path) -> Result<Vec<(u64, PathBuf)>, PetshopError> {
    let io = |source| PetshopError::Io { path: split_dir.to_path_buf(), action: "list", source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(split_dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name.strip_prefix("issue_").and_then(|n| n.parse::<u64>().ok()) else { continue };
        if entry.path().is_dir() {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Splits one CSV line into fields; double-quoted fields may hold commas and `""`.
pub(crate) fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Lines with their 1-based numbers, without line ends; blank lines are skipped.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r'))).filter(|(_, l)| !l.trim().is_empty())
}

/// A cell: `None` when empty or `nan`, else a finite number.
fn parse_value(cell: &str) -> Result<Option<f64>, String> {
    let cell = cell.trim();
    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
        return Ok(None);
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(format!("`{cell}` is not a finite number")),
        Err(_) => Err(format!("`{cell}` is not a number")),
    }
}

/// Parses a metrics CSV (three header rows; see the module doc).
pub fn parse_metrics(path: &Path, text: &str) -> Result<MetricTable, PetshopError> {
    let err = |line: usize, message: String| PetshopError::Csv { path: path.to_path_buf(), line, message };
    let mut it = lines(text);
    let mut header: Vec<(usize, Vec<String>)> = Vec::new();
    for expected in ["microservice", "metric", "statistic"] {
        let Some((n, line)) = it.next() else {
            return Err(err(header.last().map_or(1, |h| h.0 + 1), format!("missing the `{expected}` header row")));
        };
        let fields = split_fields(line);
        let width = header.first().map_or(fields.len(), |h| h.1.len());
        if fields.len() != width {
            return Err(err(n, format!("{} fields, the first header row has {width}", fields.len())));
        }
        header.push((n, fields));
    }
    let width = header[0].1.len();
    if width < 2 {
        return Err(err(header[0].0, "no metric column".into()));
    }
    let mut columns = Vec::with_capacity(width - 1);
    let mut seen = BTreeMap::new();
    for col in 1..width {
        let name = SeriesName {
            node: header[0].1[col].trim().to_string(),
            metric: header[1].1[col].trim().to_string(),
            statistic: header[2].1[col].trim().to_string(),
        };
        for (row, part) in header.iter().zip([&name.node, &name.metric, &name.statistic]) {
            if part.is_empty() {
                return Err(err(row.0, format!("column {}: empty header cell", col + 1)));
            }
        }
        if let Some(first) = seen.insert(name.clone(), col + 1) {
            return Err(err(
                header[0].0,
                format!("column {}: {}/{}/{} repeats column {first}", col + 1, name.node, name.metric, name.statistic),
            ));
        }
        columns.push(name);
    }
    let mut rows: Vec<(Timestamp, Vec<Option<f64>>)> = Vec::new();
    for (n, line) in it {
        let fields = split_fields(line);
        let first = fields[0].trim();
        // pandas writes the index name on a row of its own under the header.
        if rows.is_empty() && fields[1..].iter().all(|f| f.trim().is_empty()) && first.parse::<f64>().is_err() {
            continue;
        }
        if fields.len() != width {
            return Err(err(n, format!("{} fields, the header has {width}", fields.len())));
        }
        let seconds = match parse_value(first) {
            Ok(Some(s)) => s,
            Ok(None) => return Err(err(n, "column 1: missing Unix timestamp".into())),
            Err(e) => return Err(err(n, format!("column 1 (Unix timestamp): {e}"))),
        };
        let at = Timestamp((seconds * 1000.0).round() as i64);
        if let Some((last, _)) = rows.last() {
            if at <= *last {
                return Err(err(n, format!("column 1: time {seconds} is not after the previous row's")));
            }
        }
        let mut values = Vec::with_capacity(width - 1);
        for (col, cell) in fields.iter().enumerate().skip(1) {
            let c = &columns[col - 1];
            let v = parse_value(cell)
                .map_err(|e| err(n, format!("column {} ({}/{}/{}): {e}", col + 1, c.node, c.metric, c.statistic)))?;
            values.push(v);
        }
        rows.push((at, values));
    }
    if rows.is_empty() {
        return Err(err(header[2].0 + 1, "no data row".into()));
    }
    Ok(MetricTable { columns, rows })
}

/// Parses `graph.csv`: a header of node names (first cell empty), then one row per node.
pub fn parse_graph(path: &Path, text: &str) -> Result<CallGraph, PetshopError> {
    let err = |line: usize, message: String| PetshopError::Csv { path: path.to_path_buf(), line, message };
    let mut it = lines(text);
    let Some((header_line, header)) = it.next() else { return Err(err(1, "empty file".into())) };
    let columns: Vec<String> = split_fields(header).into_iter().skip(1).map(|s| s.trim().to_string()).collect();
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for (i, c) in columns.iter().enumerate() {
        if c.is_empty() || !nodes.insert(c.clone()) {
            return Err(err(header_line, format!("column {}: empty or repeated node name `{c}`", i + 2)));
        }
    }
    let mut calls = BTreeSet::new();
    let mut rows_seen = BTreeSet::new();
    for (n, line) in it {
        let fields = split_fields(line);
        let caller = fields[0].trim().to_string();
        if fields.len() != columns.len() + 1 {
            return Err(err(n, format!("{} fields, the header has {}", fields.len(), columns.len() + 1)));
        }
        if !nodes.contains(&caller) {
            return Err(err(n, format!("column 1: row node `{caller}` is not among the header's columns")));
        }
        if !rows_seen.insert(caller.clone()) {
            return Err(err(n, format!("column 1: node `{caller}` has a second row")));
        }
        for (col, cell) in fields.iter().enumerate().skip(1) {
            let callee = &columns[col - 1];
            let w = parse_value(cell).map_err(|e| err(n, format!("column {} (`{callee}`): {e}", col + 1)))?;
            if w.is_some_and(|w| w != 0.0) && *callee != caller {
                calls.insert((caller.clone(), callee.clone()));
            }
        }
    }
    Ok(CallGraph { nodes: nodes.into_iter().collect(), calls: calls.into_iter().collect() })
}

/// Parses `target.json`; errors name the JSON path, line and column.
pub fn parse_target(path: &Path, text: &str) -> Result<IssueTarget, PetshopError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    // serde_json's message ends with the line and column.
    serde_path_to_error::deserialize(de).map_err(|e| PetshopError::Json {
        path: path.to_path_buf(),
        message: format!("at `{}`: {}", e.path(), e.inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
microservice,PetSite,PetSite,\"db,1\"
metric,latency,availability,latency
statistic,Average,Average,p99
unix_timestamp,,,
1681855320.0,0.09,100.0,
1681855620.0,,99.5,0.3
1681855920.0,0.12,nan,0.25
";

    #[test]
    fn three_header_rows_index_row_and_missing_values() {
        let t = parse_metrics(Path::new("m.csv"), METRICS).unwrap();
        let names: Vec<String> = t.columns.iter().map(|c| format!("{}/{}", c.node, c.engine_metric())).collect();
        assert_eq!(names, ["PetSite/latency_average", "PetSite/availability_average", "db,1/latency_p99"]);
        assert_eq!(t.rows.len(), 3);
        assert_eq!(t.start(), Some(Timestamp(1_681_855_320_000)));
        assert_eq!(t.rows[0].1, vec![Some(0.09), Some(100.0), None]);
        assert_eq!(t.rows[1].1, vec![None, Some(99.5), Some(0.3)]);
        assert_eq!(t.rows[2].1, vec![Some(0.12), None, Some(0.25)]);
        // The index-name row is optional.
        let without = METRICS.replace("unix_timestamp,,,\n", "");
        assert_eq!(parse_metrics(Path::new("m.csv"), &without).unwrap(), t);
    }

    #[test]
    fn metric_errors_name_file_line_and_column() {
        let e = |text: &str| parse_metrics(Path::new("d/m.csv"), text).unwrap_err().to_string();
        let bad = METRICS.replace("0.3\n", "fast\n");
        assert_eq!(e(&bad), "d/m.csv:6: column 4 (db,1/latency/p99): `fast` is not a number");
        let short = METRICS.replace("99.5,0.3", "99.5");
        assert_eq!(e(&short), "d/m.csv:6: 3 fields, the header has 4");
        let back = METRICS.replace("1681855920.0", "1681855000.0");
        assert!(e(&back).starts_with("d/m.csv:7: column 1: time"), "{}", e(&back));
        assert_eq!(e("microservice,a\nmetric,latency\n"), "d/m.csv:3: missing the `statistic` header row");
        let dup = METRICS.replace("availability,latency", "latency,latency");
        assert!(e(&dup).contains("repeats column 2"), "{}", e(&dup));
    }

    #[test]
    fn graph_rows_call_columns() {
        let text = ",a,b,c\na,0.0,1.0,1.0\nb,0.0,0.0,1.0\nc,0.0,0.0,0.0\n";
        let g = parse_graph(Path::new("g.csv"), text).unwrap();
        assert_eq!(g.nodes, ["a", "b", "c"]);
        let calls: Vec<(&str, &str)> = g.calls.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(calls, [("a", "b"), ("a", "c"), ("b", "c")]);
        let e = parse_graph(Path::new("g.csv"), ",a,b\na,0,x\n").unwrap_err().to_string();
        assert_eq!(e, "g.csv:2: column 3 (`b`): `x` is not a number");
        let e = parse_graph(Path::new("g.csv"), ",a,b\nz,0,0\n").unwrap_err().to_string();
        assert_eq!(e, "g.csv:2: column 1: row node `z` is not among the header's columns");
    }

    #[test]
    fn target_json_and_its_errors() {
        let text = r#"{"target": {"node": "PetSite", "metric": "latency", "agg": "Average", "timestamp": 1681857605},
            "root_cause": {"node": "petInfo", "metric": null}, "metadata": {}}"#;
        let t = parse_target(Path::new("t.json"), text).unwrap();
        assert_eq!((t.target.node.as_str(), t.target.metric.as_str()), ("PetSite", "latency"));
        assert_eq!(t.root_cause.node, "petInfo");
        let e = parse_target(Path::new("t.json"), &text.replace("\"petInfo\"", "7")).unwrap_err().to_string();
        assert!(e.starts_with("t.json: at `root_cause.node`: invalid type: integer `7`"), "{e}");
        assert!(e.contains("line 2 column"), "{e}");
    }
}
