//! Log template mining scored on loghub's structured samples (grouping and parsing accuracy).
//!
//! Input: a folder of systems, each a folder holding one `*_structured.csv` with at least the
//! columns `LineId`, `Content`, `EventId` and `EventTemplate` (loghub's 2k samples; a folder
//! holding such a file itself is one system). The miner of [`crate::engine::logs`] runs over
//! `Content` in file order with its default configuration, the same for every system.
//!
//! - **Grouping accuracy (GA)**, as loghub's evaluator computes it (Zhu et al., ICSE-SEIP 2019,
//!   who call it parsing accuracy): a line is correct when the lines of its predicted template are
//!   exactly the lines of its ground-truth event. A template that merges two events, or an event
//!   split over two templates, makes all their lines wrong.
//! - **Parsing accuracy (PA)**, as loghub-2.0 computes it (Jiang et al., ISSTA 2024): a line is
//!   correct when its predicted template equals its `EventTemplate`. The template compared is the
//!   one its cluster has after the whole file (as Drain's benchmark writes it). Both sides are
//!   compared after one normalisation only: runs of whitespace become one space and the ends are
//!   trimmed (the miner tokenises on whitespace, so it cannot reproduce double spaces).
//!
//! Lines whose `EventId` is empty are left out of both, as loghub's evaluator does. The averages
//! are plain means over the systems.

use crate::engine::logs::{MinerConfig, TemplateId, TemplateMiner};
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// GA of Drain on loghub 2k as published by Zhu et al. (ICSE-SEIP 2019), for comparison.
const DRAIN_GA: [(&str, f64); 8] = [
    ("HDFS", 0.998),
    ("Hadoop", 0.948),
    ("BGL", 0.963),
    ("Linux", 0.690),
    ("HealthApp", 0.780),
    ("OpenSSH", 0.788),
    ("Proxifier", 0.527),
    ("Apache", 1.000),
];

/// The order of loghub's tables; other systems follow by name.
const LOGHUB_ORDER: [&str; 16] = [
    "HDFS",
    "Hadoop",
    "Spark",
    "Zookeeper",
    "OpenStack",
    "BGL",
    "HPC",
    "Thunderbird",
    "Windows",
    "Linux",
    "Mac",
    "Android",
    "HealthApp",
    "Apache",
    "OpenSSH",
    "Proxifier",
];

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum LoghubError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Csv { path: PathBuf, line: usize, message: String },
    #[error("{path}: no `{column}` column (the header has: {header})")]
    MissingColumn { path: PathBuf, column: &'static str, header: String },
    #[error("no loghub system under {dir}: expected folders each holding a `*_structured.csv`")]
    NoSystems { dir: PathBuf },
    #[error("no system `{name}` under {dir} (there are: {found})")]
    UnknownSystem { name: String, dir: PathBuf, found: String },
    #[error("{dir} holds more than one `*_structured.csv` ({files}); keep one")]
    Ambiguous { dir: PathBuf, files: String },
}

/// The scores of one system.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemScore {
    /// The folder name, e.g. `HDFS`.
    pub system: String,
    /// Lines scored (those with a ground-truth event).
    pub lines: usize,
    /// Ground-truth events among them.
    pub truth_templates: usize,
    /// Templates the miner made of them.
    pub found_templates: usize,
    /// In [0, 1].
    pub grouping_accuracy: f64,
    /// In [0, 1].
    pub parsing_accuracy: f64,
}

impl SystemScore {
    /// Drain's published GA on this system, if there is one.
    pub fn drain_ga(&self) -> Option<f64> {
        DRAIN_GA.iter().find(|(s, _)| *s == self.system).map(|(_, ga)| *ga)
    }
}

/// Scores of every system evaluated, in loghub's order.
#[derive(Debug, Clone, PartialEq)]
pub struct LoghubReport {
    pub systems: Vec<SystemScore>,
}

impl LoghubReport {
    /// Mean GA over the systems (0 when there are none).
    pub fn average_grouping_accuracy(&self) -> f64 {
        mean(self.systems.iter().map(|s| s.grouping_accuracy))
    }

    /// Mean PA over the systems (0 when there are none).
    pub fn average_parsing_accuracy(&self) -> f64 {
        mean(self.systems.iter().map(|s| s.parsing_accuracy))
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

impl fmt::Display for LoghubReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "loghub: template mining, one configuration for every system")?;
        writeln!(f, "{:<12} {:>6} {:>11} {:>7} {:>7} {:>9}", "system", "lines", "templates", "GA", "PA", "Drain GA")?;
        for s in &self.systems {
            let templates = format!("{}/{}", s.found_templates, s.truth_templates);
            let drain = s.drain_ga().map_or_else(|| "-".to_string(), |ga| format!("{ga:.3}"));
            writeln!(
                f,
                "{:<12} {:>6} {:>11} {:>7.3} {:>7.3} {:>9}",
                s.system, s.lines, templates, s.grouping_accuracy, s.parsing_accuracy, drain
            )?;
        }
        let drain: Vec<f64> = self.systems.iter().filter_map(SystemScore::drain_ga).collect();
        let drain = if drain.len() == self.systems.len() && !drain.is_empty() {
            format!("{:.3}", mean(drain.into_iter()))
        } else {
            "-".to_string()
        };
        writeln!(
            f,
            "{:<12} {:>6} {:>11} {:>7.3} {:>7.3} {:>9}",
            "average",
            "",
            "",
            self.average_grouping_accuracy(),
            self.average_parsing_accuracy(),
            drain
        )?;
        write!(
            f,
            "templates: found/truth. GA: lines whose template holds exactly the lines of their event. \
             PA: lines whose template equals the truth (whitespace runs as one space). Drain GA: Zhu et \
             al. 2019, tuned per system."
        )
    }
}

/// Evaluates every system under `dir` (or those named in `systems`), writing each line's
/// template to `write_assignments/<system>_assignments.csv` when asked.
pub fn evaluate(
    dir: &Path,
    systems: Option<&[String]>,
    write_assignments: Option<&Path>,
) -> Result<LoghubReport, LoghubError> {
    evaluate_with(dir, systems, write_assignments, &MinerConfig::default())
}

/// [`evaluate`] with another miner configuration (to see how the scores depend on it).
pub fn evaluate_with(
    dir: &Path,
    systems: Option<&[String]>,
    write_assignments: Option<&Path>,
    config: &MinerConfig,
) -> Result<LoghubReport, LoghubError> {
    let found = select(dir, systems)?;
    if let Some(out) = write_assignments {
        fs::create_dir_all(out).map_err(|source| LoghubError::Write { path: out.to_path_buf(), source })?;
    }
    let mut scores = Vec::new();
    for (system, file) in &found {
        let lines = read_structured(file)?;
        let mined = mine(&lines, config);
        if let Some(out) = write_assignments {
            let path = out.join(format!("{system}_assignments.csv"));
            write_assignments_csv(&path, &lines, &mined)?;
        }
        scores.push(score(system, &lines, &mined));
    }
    Ok(LoghubReport { systems: scores })
}

/// The `Content` column of each system under `dir` (or those named), in loghub's order: the
/// lines the evaluation mines, for benchmarks.
pub fn system_contents(dir: &Path, systems: Option<&[String]>) -> Result<Vec<(String, Vec<String>)>, LoghubError> {
    let mut out = Vec::new();
    for (system, file) in select(dir, systems)? {
        let lines = read_structured(&file)?.into_iter().map(|l| l.content).collect();
        out.push((system, lines));
    }
    Ok(out)
}

/// The systems under `dir`, or those of them named in `systems` (any case), in loghub's order.
fn select(dir: &Path, systems: Option<&[String]>) -> Result<Vec<(String, PathBuf)>, LoghubError> {
    let found = discover(dir)?;
    let Some(names) = systems else { return Ok(found) };
    let mut chosen: Vec<(String, PathBuf)> = Vec::new();
    for name in names {
        let exact = found.iter().find(|(s, _)| s == name);
        match exact.or_else(|| found.iter().find(|(s, _)| s.eq_ignore_ascii_case(name))) {
            Some(system) if !chosen.contains(system) => chosen.push(system.clone()),
            Some(_) => {}
            None => {
                let list = found.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", ");
                return Err(LoghubError::UnknownSystem { name: name.clone(), dir: dir.to_path_buf(), found: list });
            }
        }
    }
    Ok(chosen)
}

/// Systems under `dir` as (name, structured CSV), in loghub's order.
fn discover(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoghubError> {
    let read = |d: &Path| -> Result<Vec<PathBuf>, LoghubError> {
        let entries = fs::read_dir(d).map_err(|source| LoghubError::Read { path: d.to_path_buf(), source })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| LoghubError::Read { path: d.to_path_buf(), source })?;
            paths.push(entry.path());
        }
        paths.sort();
        Ok(paths)
    };
    let structured_in = |d: &Path| -> Result<Option<PathBuf>, LoghubError> {
        let files: Vec<PathBuf> = read(d)?
            .into_iter()
            .filter(|p| {
                p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_structured.csv"))
            })
            .collect();
        match files.len() {
            0 => Ok(None),
            1 => Ok(files.into_iter().next()),
            _ => {
                let names = files.iter().filter_map(|p| p.file_name()?.to_str()).collect::<Vec<_>>().join(", ");
                Err(LoghubError::Ambiguous { dir: d.to_path_buf(), files: names })
            }
        }
    };
    let name_of = |d: &Path| d.file_name().and_then(|n| n.to_str()).unwrap_or("logs").to_string();

    let mut systems = Vec::new();
    if let Some(file) = structured_in(dir)? {
        systems.push((name_of(dir), file));
    } else {
        for sub in read(dir)?.into_iter().filter(|p| p.is_dir()) {
            if let Some(file) = structured_in(&sub)? {
                systems.push((name_of(&sub), file));
            }
        }
    }
    if systems.is_empty() {
        return Err(LoghubError::NoSystems { dir: dir.to_path_buf() });
    }
    let rank = |name: &str| LOGHUB_ORDER.iter().position(|s| *s == name).unwrap_or(LOGHUB_ORDER.len());
    systems.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then_with(|| a.0.cmp(&b.0)));
    Ok(systems)
}

/// One line of a structured CSV.
#[derive(Debug, Clone, PartialEq)]
struct Labelled {
    line_id: String,
    content: String,
    event_id: String,
    event_template: String,
}

fn read_structured(path: &Path) -> Result<Vec<Labelled>, LoghubError> {
    let text = fs::read_to_string(path).map_err(|source| LoghubError::Read { path: path.to_path_buf(), source })?;
    let records =
        parse_csv(&text).map_err(|(line, message)| LoghubError::Csv { path: path.to_path_buf(), line, message })?;
    let mut records = records.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(LoghubError::Csv { path: path.to_path_buf(), line: 1, message: "empty file".into() });
    };
    let column = |name: &'static str| {
        header.iter().position(|h| h == name).ok_or_else(|| LoghubError::MissingColumn {
            path: path.to_path_buf(),
            column: name,
            header: header.join(","),
        })
    };
    let (id, content, event, template) =
        (column("LineId")?, column("Content")?, column("EventId")?, column("EventTemplate")?);
    let mut lines = Vec::new();
    for (line, mut record) in records {
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != header.len() {
            let message = format!("{} fields where the header has {}", record.len(), header.len());
            return Err(LoghubError::Csv { path: path.to_path_buf(), line, message });
        }
        lines.push(Labelled {
            line_id: std::mem::take(&mut record[id]),
            content: std::mem::take(&mut record[content]),
            event_id: std::mem::take(&mut record[event]),
            event_template: std::mem::take(&mut record[template]),
        });
    }
    Ok(lines)
}

/// A CSV record: the (1-based) line it starts on, and its fields.
type Record = (usize, Vec<String>);

/// RFC 4180 records. Quoted fields may hold commas, line breaks and doubled quotes; a byte-order
/// mark is skipped. Errors carry the line and what is wrong.
fn parse_csv(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                let quote_line = line;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                        None => return Err((quote_line, "a quoted field is not closed".into())),
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(_) => return Err((line, "text after the closing quote of a field".into())),
                }
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push((record_line, std::mem::take(&mut record)));
                line += 1;
                record_line = line;
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !field.is_empty() || !record.is_empty() || !at_field_start {
        record.push(field);
        records.push((record_line, record));
    }
    Ok(records)
}

/// Each line's template id, and every id's final template.
struct Mined {
    ids: Vec<TemplateId>,
    templates: HashMap<TemplateId, String>,
}

fn mine(lines: &[Labelled], config: &MinerConfig) -> Mined {
    let mut miner = TemplateMiner::new(config.clone());
    let ids: Vec<TemplateId> = lines.iter().map(|l| miner.add(&l.content).id).collect();
    let templates = miner.templates().into_iter().map(|t| (t.id, t.template.to_string())).collect();
    Mined { ids, templates }
}

fn normalise(template: &str) -> String {
    template.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn score(system: &str, lines: &[Labelled], mined: &Mined) -> SystemScore {
    let scored: Vec<(usize, &Labelled)> = lines.iter().enumerate().filter(|(_, l)| !l.event_id.is_empty()).collect();
    let predicted: Vec<TemplateId> = scored.iter().map(|(i, _)| mined.ids[*i]).collect();
    let truth: Vec<&str> = scored.iter().map(|(_, l)| l.event_id.as_str()).collect();
    let grouping_accuracy = grouping_accuracy(&predicted, &truth);
    let correct = scored
        .iter()
        .filter(|(i, l)| {
            let found = mined.templates.get(&mined.ids[*i]).map(String::as_str).unwrap_or_default();
            normalise(found) == normalise(&l.event_template)
        })
        .count();
    let parsing_accuracy = if scored.is_empty() { 0.0 } else { correct as f64 / scored.len() as f64 };
    let distinct = |v: &mut Vec<String>| {
        v.sort();
        v.dedup();
        v.len()
    };
    SystemScore {
        system: system.to_string(),
        lines: scored.len(),
        truth_templates: distinct(&mut truth.iter().map(|s| s.to_string()).collect()),
        found_templates: distinct(&mut predicted.iter().map(|s| s.to_string()).collect()),
        grouping_accuracy,
        parsing_accuracy,
    }
}

/// loghub's grouping accuracy: the share of lines whose predicted group holds exactly the lines
/// of their true group. `predicted[i]` and `truth[i]` label line `i`.
pub fn grouping_accuracy<P: Eq + std::hash::Hash, T: Eq + std::hash::Hash>(predicted: &[P], truth: &[T]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    // Per predicted group: its size, and the one true group all its lines share (None if mixed).
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let correct: usize = groups
        .values()
        .filter(|(size, t, pure)| *pure && t.is_some_and(|t| truth_size.get(t) == Some(size)))
        .map(|(size, _, _)| size)
        .sum();
    correct as f64 / truth.len() as f64
}

fn write_assignments_csv(path: &Path, lines: &[Labelled], mined: &Mined) -> Result<(), LoghubError> {
    let mut out = String::from("LineId,cluster,template\n");
    for (line, id) in lines.iter().zip(&mined.ids) {
        let template = mined.templates.get(id).map(String::as_str).unwrap_or_default();
        out.push_str(&csv_field(&line.line_id));
        out.push(',');
        out.push_str(&id.to_string());
        out.push(',');
        out.push_str(&csv_field(template));
        out.push('\n');
    }
    fs::write(path, out).map_err(|source| LoghubError::Write { path: path.to_path_buf(), source })
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_accuracy_counts_lines_of_exactly_matched_groups() {
        // Perfect: names differ, partitions equal.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 3], &["a", "a", "b", "c"]), 1.0);
        // A template merging two events makes all their lines wrong; `c` stays right.
        assert_eq!(grouping_accuracy(&[1, 1, 1, 3], &["a", "a", "b", "c"]), 0.25);
        // An event split over two templates: all its lines wrong.
        assert_eq!(grouping_accuracy(&[1, 2, 3, 4], &["a", "a", "b", "c"]), 0.5);
        // Merging and splitting at once.
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2], &["a", "b", "b", "c"]), 0.0);
        assert_eq!(grouping_accuracy::<u8, &str>(&[], &[]), 0.0);
    }

    #[test]
    fn csv_quoting_commas_quotes_and_line_breaks() {
        let text = "\u{feff}a,b,c\r\n1,\"x, \"\"y\"\"\",z\n2,\"multi\nline\",\n3,,\"\"\n";
        let records = parse_csv(text).expect("parses");
        let fields: Vec<Vec<&str>> = records.iter().map(|(_, r)| r.iter().map(String::as_str).collect()).collect();
        assert_eq!(fields[0], ["a", "b", "c"]);
        assert_eq!(fields[1], ["1", "x, \"y\"", "z"]);
        assert_eq!(fields[2], ["2", "multi\nline", ""]);
        assert_eq!(fields[3], ["3", "", ""]);
        assert_eq!(records.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [1, 2, 3, 5]);
        assert_eq!(parse_csv("a,\"open\n"), Err((1, "a quoted field is not closed".to_string())));
        assert!(parse_csv("a,\"x\"y\n").is_err());
        // No final line break.
        assert_eq!(parse_csv("a,b").expect("parses")[0].1, ["a", "b"]);
    }

    fn write_system(root: &Path, system: &str, csv: &str) {
        let dir = root.join(system);
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join(format!("{system}_2k.log_structured.csv")), csv).expect("write");
    }

    #[test]
    fn evaluates_systems_and_writes_assignments() {
        let root = tempfile::tempdir().expect("tempdir");
        let csv = "LineId,Level,Content,EventId,EventTemplate\n\
                   1,INFO,Invalid user bob from 1.2.3.4,E1,Invalid user <*> from <*>\n\
                   2,INFO,Invalid user alice from 1.2.3.5,E1,Invalid user <*> from <*>\n\
                   3,INFO,\"Accepted password for bob, port 22\",E2,\"Accepted password for <*>, port <*>\"\n\
                   4,INFO,session  closed for user bob,E3,session  closed for user bob\n\
                   5,INFO,noise,,\n";
        write_system(root.path(), "Tiny", csv);
        write_system(root.path(), "HDFS", csv);
        let out = root.path().join("out");
        let report = evaluate(root.path(), None, Some(&out)).expect("evaluates");
        let names: Vec<&str> = report.systems.iter().map(|s| s.system.as_str()).collect();
        assert_eq!(names, ["HDFS", "Tiny"], "loghub's order first");
        let tiny = &report.systems[1];
        assert_eq!((tiny.lines, tiny.truth_templates, tiny.found_templates), (4, 3, 3));
        assert_eq!(tiny.grouping_accuracy, 1.0);
        // Line 3: masking keeps "bob," (a word), so the template is not the truth's.
        assert_eq!(tiny.parsing_accuracy, 0.75);
        let table = report.to_string();
        assert!(table.contains("HDFS") && table.contains("0.998") && table.contains("average"), "{table}");

        let written = fs::read_to_string(out.join("Tiny_assignments.csv")).expect("assignments");
        let rows = parse_csv(&written).expect("parses");
        assert_eq!(rows[0].1, ["LineId", "cluster", "template"]);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[1].1[1], rows[2].1[1]);
        assert_eq!(rows[1].1[2], "Invalid user <*> from <*>");
        assert_eq!(rows[3].1[2], "Accepted password for bob, port <*>");

        let only = evaluate(root.path(), Some(&["tiny".to_string()]), None).expect("evaluates");
        assert_eq!(only.systems.len(), 1);
        let err = evaluate(root.path(), Some(&["Nope".to_string()]), None).expect_err("unknown");
        assert!(err.to_string().contains("HDFS, Tiny"), "{err}");
    }

    #[test]
    fn bad_input_says_where() {
        let root = tempfile::tempdir().expect("tempdir");
        write_system(root.path(), "A", "LineId,Content,EventId\n1,x,E1\n");
        let err = evaluate(root.path(), None, None).expect_err("no template column");
        assert!(err.to_string().contains("no `EventTemplate` column"), "{err}");
        write_system(root.path(), "A", "LineId,Content,EventId,EventTemplate\n1,x,E1\n");
        let err = evaluate(root.path(), None, None).expect_err("short row");
        assert!(err.to_string().contains("line 2: 3 fields where the header has 4"), "{err}");
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(matches!(evaluate(empty.path(), None, None), Err(LoghubError::NoSystems { .. })));
    }

    /// The real loghub samples, when the shared data is beside the repository.
    #[test]
    fn real_loghub_samples_parse_and_score() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/loghub");
        if !dir.is_dir() {
            eprintln!("skipped: no {}", dir.display());
            return;
        }
        let report = evaluate(&dir, None, None).expect("evaluates");
        for s in &report.systems {
            assert_eq!(s.lines, 2000, "{}", s.system);
        }
        println!("{report}");
        // The bar: above Drain's published average on these systems (0.837).
        if report.systems.len() == DRAIN_GA.len() {
            assert!(report.average_grouping_accuracy() > 0.837, "{report}");
        }
    }
}
