//! Scenario files: recorded or generated observations, replayed as a source.
//!
//! A scenario is a JSON Lines file (`*.jsonl`). Blank lines and lines whose first non-blank
//! character is `#` are comments. The first other line is the header,
//! `{"faultline_scenario": 1, "name": "...", "description": "...", "expect": {...}}`; every
//! following line is one [`Observation`] in the model's JSON form, in non-decreasing `at` order.
//!
//! Every error names the file, the line (1-based), where known the column, and the field path
//! (`samples[2][1]`), so a broken hand-edited scenario can be fixed from the message alone.
//! Observation lines are read through one plain struct per observation type rather than through
//! the model's flattened, tagged enum: serde buffers flattened and tagged content, which loses
//! both the field path and the column of an error.
//!
//! A `"type": "log"` line carries one raw log line (`{"at", "source", "entity", "line"}`, an
//! optional `level` overriding the one the text declares). It is no observation itself: the
//! lines of each source go through one [`LogPatterns`] (the template miner and interval counts
//! the log sources use), and the reader yields what that reports (pattern counts, then sampled
//! lines, stamped with the end of their interval) in time order among the other observations.
//! So the miner runs in the demo, the fault scenarios and the evaluations as it does live.

use crate::engine::logs::{LogPatternConfig, LogPatterns};
use crate::model::{
    AlertState, ChangeKind, Entity, EntityId, LogLine, Observation, ObservationKind, Relation, Severity, Timestamp,
    TrafficRole,
};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The only scenario format version this build reads and writes.
pub const SCENARIO_VERSION: u64 = 1;

/// The observation `type` tags a scenario line may carry.
pub const OBSERVATION_TYPES: [&str; 13] = [
    "metric",
    "alert",
    "log_pattern",
    "log",
    "log_lines",
    "change",
    "entity",
    "relation",
    "relation_gone",
    "entity_gone",
    "tick",
    "kpi",
    "traffic",
];

/// The first line of a scenario: what it is and, optionally, what the engine should make of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioHeader {
    /// Format version; must be [`SCENARIO_VERSION`].
    pub faultline_scenario: u64,
    /// Short name, e.g. `db-cpu-saturation`.
    pub name: String,
    /// What happens in the scenario, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What the engine is expected to conclude; tests read it so they stay data-driven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectation>,
    /// Ground truth for grouping and root-cause evaluation (`faultline eval scenarios`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<Truth>,
}

impl ScenarioHeader {
    /// A version-1 header with no description and no expectation.
    pub fn new(name: impl Into<String>) -> ScenarioHeader {
        ScenarioHeader {
            faultline_scenario: SCENARIO_VERSION,
            name: name.into(),
            description: String::new(),
            expect: None,
            truth: None,
        }
    }
}

/// What the engine should conclude from a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// How many problems the storm's signals must end up in (1: the storm is one problem).
    pub problems_with_storm: usize,
    /// Entities whose signals inside `storm_from..=storm_to` form the storm.
    pub storm_entities: Vec<EntityId>,
    /// Start of the storm window (data time).
    pub storm_from: Timestamp,
    /// End of the storm window (data time).
    pub storm_to: Timestamp,
    /// The expected top root-cause entity.
    pub root_cause: EntityId,
    /// A substring of the root cause's signal name (metric or alert), e.g. `cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause_signal: Option<String>,
    /// The entity carrying the expected foundational change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundational_entity: Option<EntityId>,
    /// The kind of the expected foundational change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundational_change: Option<ChangeKind>,
    /// Entities whose signals must not be attached to the storm's problem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noise_entities: Vec<EntityId>,
}

/// The label of a signal that belongs to no incident, in [`Truth::signals`].
pub const NOISE: &str = "noise";

/// What really happened in a scenario: the incidents, and which incident each signal key belongs
/// to. Signal keys are the engine's dedup keys (`alert:<fingerprint>`, `anomaly:<entity>:<metric>`,
/// `forecast:<entity>:<metric>`, `log:<entity>:<template id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    /// The incidents, each with its own id.
    pub incidents: Vec<IncidentTruth>,
    /// Signal key → incident id, or [`NOISE`] for signals that belong to no incident (chronic
    /// flapping, unrelated blips). A signal the engine raises that is not listed counts as noise.
    pub signals: BTreeMap<String, String>,
}

/// One incident of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentTruth {
    /// Short id, unique in the scenario, e.g. `cpu`; never [`NOISE`].
    pub id: String,
    /// The entity at fault.
    pub root_cause: EntityId,
    /// The entity carrying the change that started it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundational_entity: Option<EntityId>,
    /// The kind of that change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foundational_change: Option<ChangeKind>,
}

/// A whole scenario in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub header: ScenarioHeader,
    /// In file order, which is non-decreasing data time.
    pub observations: Vec<Observation>,
}

/// Why a scenario could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be opened or read.
    #[error("{}: cannot read scenario: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file holds nothing but blank and comment lines.
    #[error(
        "{}: empty scenario: no header line (expected {{\"faultline_scenario\": 1, \"name\": \"...\"}} \
         as the first line that is not blank or a `#` comment)",
        .path.display()
    )]
    Empty { path: PathBuf },
    /// One line is wrong; `line` is 1-based, `column` (1-based, in bytes) where known.
    #[error("{}: {problem}", Location { path, line: *line, column: *column })]
    Line { path: PathBuf, line: usize, column: Option<usize>, problem: LineProblem },
}

impl ScenarioError {
    /// The 1-based line the error is on, if it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            ScenarioError::Line { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// What is wrong with one line of a scenario.
#[derive(Debug)]
pub enum LineProblem {
    /// The line is not valid JSON.
    NotJson { message: String },
    /// The line is JSON but a field is missing, unknown, of the wrong type or has a bad value.
    /// `field` is the path to it (`samples[2][1]`, `entity.kind`), `None` for the line itself.
    Field { field: Option<String>, message: String },
    /// An observation without a `type`.
    MissingType,
    /// An observation whose `type` is not one of [`OBSERVATION_TYPES`].
    UnknownType { found: String },
    /// The first line is not a header.
    MissingHeader,
    /// The header names a format version this build does not read.
    UnsupportedVersion { found: u64 },
    /// An observation is earlier than the one before it.
    TimeBackwards { at: Timestamp, previous: Timestamp, previous_line: usize },
    /// The line could not be read (not UTF-8, I/O error).
    Unreadable { source: io::Error },
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::NotJson { message } => write!(f, "not JSON: {message}"),
            LineProblem::Field { field: Some(field), message } => write!(f, "field `{field}`: {message}"),
            LineProblem::Field { field: None, message } => f.write_str(message),
            LineProblem::MissingType => {
                write!(f, "missing field `type` (one of: {})", OBSERVATION_TYPES.join(", "))
            }
            LineProblem::UnknownType { found } => write!(
                f,
                "field `type`: unknown observation type `{found}` (expected one of: {})",
                OBSERVATION_TYPES.join(", ")
            ),
            LineProblem::MissingHeader => write!(
                f,
                "missing header: the first line must be {{\"faultline_scenario\": {SCENARIO_VERSION}, \
                 \"name\": \"...\"}} (field `faultline_scenario` not found)"
            ),
            LineProblem::UnsupportedVersion { found } => write!(
                f,
                "field `faultline_scenario`: unsupported scenario version {found} \
                 (this faultline reads version {SCENARIO_VERSION})"
            ),
            LineProblem::TimeBackwards { at, previous, previous_line } => write!(
                f,
                "field `at`: time goes backwards: {at} is earlier than {previous} on line {previous_line} \
                 (observations must be in non-decreasing data time)"
            ),
            LineProblem::Unreadable { source } => write!(f, "cannot read line: {source}"),
        }
    }
}

/// `path:line[:column]`.
struct Location<'a> {
    path: &'a Path,
    line: usize,
    column: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// Reads a whole scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let reader = ScenarioReader::open(path)?;
    collect(reader)
}

/// Reads a scenario from text; `origin` is the path used in error messages.
pub fn parse(text: &str, origin: &Path) -> Result<Scenario, ScenarioError> {
    let reader = ScenarioReader::new(text.as_bytes(), origin)?;
    collect(reader)
}

fn collect<R: BufRead>(mut reader: ScenarioReader<R>) -> Result<Scenario, ScenarioError> {
    let mut observations = Vec::new();
    for observation in reader.by_ref() {
        observations.push(observation?);
    }
    Ok(Scenario { header: reader.header, observations })
}

/// One raw log line of a scenario (a `"type": "log"` line): mined when the scenario is read.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLog {
    /// When it was logged (data time).
    pub at: Timestamp,
    /// The log source; each source's lines go through their own miner.
    pub source: String,
    pub entity: EntityId,
    /// The line as logged.
    pub line: String,
    /// Overrides the level the line declares (`info`, `warning`, `major`, `critical`).
    pub level: Option<Severity>,
}

impl RawLog {
    /// A line of `entity` from `source` at `at`, its level read from its text.
    pub fn new(at: Timestamp, source: impl Into<String>, entity: EntityId, line: impl Into<String>) -> RawLog {
        RawLog { at, source: source.into(), entity, line: line.into(), level: None }
    }
}

impl Serialize for RawLog {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The field order of the other observation lines: at, source, type, then the fields.
        #[derive(Serialize)]
        struct Line<'a> {
            at: Timestamp,
            #[serde(skip_serializing_if = "str::is_empty")]
            source: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            entity: &'a EntityId,
            line: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            level: Option<Severity>,
        }
        Line {
            at: self.at,
            source: &self.source,
            kind: "log",
            entity: &self.entity,
            line: &self.line,
            level: self.level,
        }
        .serialize(serializer)
    }
}

/// Writes a scenario: the header line, then one line per observation. The output reads back with
/// [`parse`] when the observations are in non-decreasing time and every sample value is finite;
/// a non-finite sample (which JSON cannot hold) is refused with [`io::ErrorKind::InvalidInput`].
pub fn write<'a, W: Write>(
    header: &ScenarioHeader,
    observations: impl IntoIterator<Item = &'a Observation>,
    writer: W,
) -> io::Result<()> {
    write_with_logs(header, observations, &[], writer)
}

/// [`write`] with raw log lines merged in by time (at equal times, observations first). Both
/// must be in non-decreasing time.
pub fn write_with_logs<'a, W: Write>(
    header: &ScenarioHeader,
    observations: impl IntoIterator<Item = &'a Observation>,
    logs: &[RawLog],
    mut writer: W,
) -> io::Result<()> {
    serde_json::to_writer(&mut writer, header)?;
    writer.write_all(b"\n")?;
    let mut logs = logs.iter().peekable();
    for observation in observations {
        while let Some(log) = logs.next_if(|l| l.at < observation.at) {
            serde_json::to_writer(&mut writer, log)?;
            writer.write_all(b"\n")?;
        }
        if let ObservationKind::Metric { entity, metric, samples } = &observation.kind {
            if let Some((at, value)) = samples.iter().find(|(_, v)| !v.is_finite()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("metric {metric} of {entity}: sample at {at} is {value}, which JSON cannot hold"),
                ));
            }
        }
        serde_json::to_writer(&mut writer, observation)?;
        writer.write_all(b"\n")?;
    }
    for log in logs {
        serde_json::to_writer(&mut writer, log)?;
        writer.write_all(b"\n")?;
    }
    writer.flush()
}

/// Streams the observations of a scenario, checking each line as it is read.
///
/// The header is read when the reader is made. Iteration yields observations in file order and
/// stops after the first error.
pub struct ScenarioReader<R> {
    reader: R,
    origin: PathBuf,
    header: ScenarioHeader,
    /// 1-based number of the last line read.
    line: usize,
    buf: String,
    /// Time and line of the last observation or log line, for the order check.
    last: Option<(Timestamp, usize)>,
    done: bool,
    /// One miner per log source, by source name.
    logs: BTreeMap<String, LogPatterns>,
    /// Read or mined, not yet yielded, in time order.
    pending: VecDeque<Observation>,
}

/// One line of a scenario after the header.
enum Item {
    Observation(Observation),
    Log(RawLog),
}

impl ScenarioReader<BufReader<File>> {
    /// Opens a scenario file and reads its header.
    pub fn open(path: &Path) -> Result<Self, ScenarioError> {
        let file = File::open(path).map_err(|source| ScenarioError::Io { path: path.to_path_buf(), source })?;
        ScenarioReader::new(BufReader::new(file), path)
    }
}

impl<R: BufRead> ScenarioReader<R> {
    /// Reads the header from `reader`; `origin` is the path used in error messages.
    pub fn new(reader: R, origin: &Path) -> Result<Self, ScenarioError> {
        let mut this = ScenarioReader {
            reader,
            origin: origin.to_path_buf(),
            header: ScenarioHeader::new(""),
            line: 0,
            buf: String::new(),
            last: None,
            done: false,
            logs: BTreeMap::new(),
            pending: VecDeque::new(),
        };
        if !this.next_content_line()? {
            return Err(ScenarioError::Empty { path: this.origin });
        }
        this.header = this.parse_header()?;
        Ok(this)
    }

    /// The scenario's header.
    pub fn header(&self) -> &ScenarioHeader {
        &self.header
    }

    /// Reads lines until one that is neither blank nor a comment; `false` at the end of input.
    fn next_content_line(&mut self) -> Result<bool, ScenarioError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self
                .reader
                .read_line(&mut self.buf)
                .map_err(|source| self.error(None, LineProblem::Unreadable { source }))?;
            if n == 0 {
                return Ok(false);
            }
            let trimmed = self.buf.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let content_len = self.buf.trim_end_matches(['\n', '\r']).len();
            self.buf.truncate(content_len);
            return Ok(true);
        }
    }

    fn error(&self, column: Option<usize>, problem: LineProblem) -> ScenarioError {
        ScenarioError::Line { path: self.origin.clone(), line: self.line, column, problem }
    }

    fn parse_header(&self) -> Result<ScenarioHeader, ScenarioError> {
        #[derive(Deserialize)]
        #[serde(expecting = "a JSON object (the scenario header)")]
        struct Probe {
            #[serde(default)]
            faultline_scenario: Option<u64>,
        }
        let probe: Probe = self.deserialize_line()?;
        match probe.faultline_scenario {
            None => return Err(self.error(Some(1), LineProblem::MissingHeader)),
            Some(SCENARIO_VERSION) => {}
            Some(found) => {
                let column = value_column(&self.buf, "faultline_scenario");
                return Err(self.error(column, LineProblem::UnsupportedVersion { found }));
            }
        }
        let header: ScenarioHeader = self.deserialize_line()?;
        if let Some(truth) = &header.truth {
            self.check_truth(truth)?;
        }
        if let Some(expect) = &header.expect {
            if expect.storm_to < expect.storm_from {
                return Err(self.error(
                    value_column(&self.buf, "storm_to"),
                    LineProblem::Field {
                        field: Some("expect.storm_to".into()),
                        message: format!("{} is earlier than storm_from {}", expect.storm_to, expect.storm_from),
                    },
                ));
            }
        }
        Ok(header)
    }

    /// Incident ids are unique and not `noise`; every signal names an incident or `noise`.
    fn check_truth(&self, truth: &Truth) -> Result<(), ScenarioError> {
        let column = value_column(&self.buf, "truth");
        let mut ids = std::collections::BTreeSet::new();
        for (i, incident) in truth.incidents.iter().enumerate() {
            if incident.id == NOISE || !ids.insert(incident.id.as_str()) {
                let message = format!("incident id `{}` is `{NOISE}` or used twice", incident.id);
                let field = Some(format!("truth.incidents[{i}].id"));
                return Err(self.error(column, LineProblem::Field { field, message }));
            }
        }
        for (key, label) in &truth.signals {
            if label != NOISE && !ids.contains(label.as_str()) {
                let known: Vec<&str> = ids.iter().copied().collect();
                let message = format!("`{label}` is not an incident id ({}) nor `{NOISE}`", known.join(", "));
                let field = Some(format!("truth.signals.{key}"));
                return Err(self.error(column, LineProblem::Field { field, message }));
            }
        }
        Ok(())
    }

    /// Deserializes the current line, turning serde's error into one with line, column and path.
    fn deserialize_line<T: DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        // serde's derived structs also accept arrays (fields by position); a line is an object.
        let indent = self.buf.len() - self.buf.trim_start().len();
        if self.buf[indent..].starts_with('[') {
            let message = "expected a JSON object, found an array".to_string();
            return Err(self.error(Some(indent + 1), LineProblem::Field { field: None, message }));
        }
        let mut de = serde_json::Deserializer::from_str(&self.buf);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            self.json_error((path != ".").then_some(path), e.into_inner())
        })?;
        // Trailing characters after the object.
        de.end().map_err(|e| self.json_error(None, e))?;
        Ok(value)
    }

    fn json_error(&self, field: Option<String>, e: serde_json::Error) -> ScenarioError {
        let column = (e.column() > 0).then_some(e.column());
        let message = json_message(&e);
        let problem = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => LineProblem::NotJson { message },
            _ => LineProblem::Field { field, message },
        };
        self.error(column, problem)
    }

    fn parse_item(&self) -> Result<Item, ScenarioError> {
        #[derive(Deserialize)]
        #[serde(expecting = "a JSON object (one observation)")]
        struct Tag {
            #[serde(rename = "type", default)]
            kind: Option<String>,
        }
        let tag: Tag = self.deserialize_line()?;
        let Some(kind) = tag.kind else {
            return Err(self.error(None, LineProblem::MissingType));
        };
        if kind == "log" {
            let log = self.deserialize_line::<LogLineRaw>()?.into_raw();
            self.check_time(log.at)?;
            return Ok(Item::Log(log));
        }
        let observation = match kind.as_str() {
            "metric" => self.deserialize_line::<MetricLine>()?.into_observation(),
            "alert" => self.deserialize_line::<AlertLine>()?.into_observation(),
            "log_pattern" => self.deserialize_line::<LogPatternLine>()?.into_observation(),
            "log_lines" => self.deserialize_line::<LogLinesLine>()?.into_observation(),
            "change" => self.deserialize_line::<ChangeLine>()?.into_observation(),
            "entity" => self.deserialize_line::<EntityLine>()?.into_observation(),
            "relation" => self.deserialize_line::<RelationLine>()?.into_observation(),
            "relation_gone" => self.deserialize_line::<RelationLine>()?.into_gone(),
            "entity_gone" => self.deserialize_line::<EntityGoneLine>()?.into_observation(),
            "tick" => self.deserialize_line::<TickLine>()?.into_observation(),
            "kpi" => self.deserialize_line::<KpiLine>()?.into_observation(),
            "traffic" => self.deserialize_line::<TrafficLine>()?.into_observation(),
            other => {
                let column = value_column(&self.buf, "type");
                return Err(self.error(column, LineProblem::UnknownType { found: other.to_string() }));
            }
        };
        self.check(&observation)?;
        Ok(Item::Observation(observation))
    }

    /// Checks what serde cannot: sample order and finiteness, and time order across lines.
    fn check(&self, observation: &Observation) -> Result<(), ScenarioError> {
        if let ObservationKind::Metric { samples, .. } | ObservationKind::Traffic { samples, .. } = &observation.kind {
            let column = value_column(&self.buf, "samples");
            if samples.is_empty() {
                let problem = LineProblem::Field { field: Some("samples".into()), message: "no samples".into() };
                return Err(self.error(column, problem));
            }
            for (i, (at, value)) in samples.iter().enumerate() {
                if !value.is_finite() {
                    let problem = LineProblem::Field {
                        field: Some(format!("samples[{i}][1]")),
                        message: format!("sample value {value} is not a finite number"),
                    };
                    return Err(self.error(column, problem));
                }
                if let Some((previous, _)) = i.checked_sub(1).and_then(|j| samples.get(j)) {
                    if at < previous {
                        let problem = LineProblem::Field {
                            field: Some(format!("samples[{i}][0]")),
                            message: format!(
                                "samples out of order: {at} is earlier than the sample before it ({previous})"
                            ),
                        };
                        return Err(self.error(column, problem));
                    }
                }
            }
        }
        self.check_time(observation.at)
    }

    fn check_time(&self, at: Timestamp) -> Result<(), ScenarioError> {
        if let Some((previous, previous_line)) = self.last {
            if at < previous {
                let problem = LineProblem::TimeBackwards { at, previous, previous_line };
                return Err(self.error(value_column(&self.buf, "at"), problem));
            }
        }
        Ok(())
    }

    /// Queues a line: first what every miner reports for intervals ended by its time (so mined
    /// observations keep time order across sources), then the observation, or the log line's
    /// own miner's output.
    fn take(&mut self, item: Item) {
        let at = match &item {
            Item::Observation(o) => o.at,
            Item::Log(l) => l.at,
        };
        self.last = Some((at, self.line));
        let mut mined = Vec::new();
        for (source, patterns) in &mut self.logs {
            patterns.advance_observed(at, source, &mut mined);
        }
        match item {
            Item::Observation(o) => {
                self.queue_mined(mined);
                self.pending.push_back(o);
            }
            Item::Log(log) => {
                let patterns = self
                    .logs
                    .entry(log.source.clone())
                    .or_insert_with(|| LogPatterns::new(LogPatternConfig::default()));
                patterns.line_observed(&log.entity, &log.line, log.level, log.at, &log.source, &mut mined);
                self.queue_mined(mined);
            }
        }
    }

    /// End of input: every miner reports its last interval.
    fn flush_logs(&mut self) {
        let mut mined = Vec::new();
        for (source, patterns) in &mut self.logs {
            patterns.flush_observed(source, &mut mined);
        }
        self.queue_mined(mined);
    }

    /// Each source's output is in time order; sources merge by time (stable: source order).
    fn queue_mined(&mut self, mut mined: Vec<Observation>) {
        mined.sort_by_key(|o| o.at);
        self.pending.extend(mined);
    }
}

impl<R: BufRead> Iterator for ScenarioReader<R> {
    type Item = Result<Observation, ScenarioError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(observation) = self.pending.pop_front() {
                return Some(Ok(observation));
            }
            if self.done {
                return None;
            }
            match self.next_content_line().and_then(|more| more.then(|| self.parse_item()).transpose()) {
                Ok(Some(item)) => self.take(item),
                Ok(None) => {
                    self.done = true;
                    self.flush_logs();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// serde_json's message without its ` at line L column C` suffix (we print our own location).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).map(str::to_string).unwrap_or(text)
}

/// Best-effort 1-based column of the value of `"key":` in a JSON line, for errors serde cannot
/// place (checks made after parsing).
fn value_column(line: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let key_at = line.find(&quoted)?;
    let rest = &line[key_at + quoted.len()..];
    let colon = rest.find(':')?;
    let after_colon = &rest[colon + 1..];
    let value_offset = after_colon.len() - after_colon.trim_start().len();
    Some(key_at + quoted.len() + colon + 1 + value_offset + 1)
}

// One plain struct per observation type (see the module doc for why). Building the model's
// variant from each with a struct literal makes a field added to the model a compile error here.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    metric: String,
    samples: Vec<(Timestamp, f64)>,
}

impl MetricLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::Metric { entity: self.entity, metric: self.metric, samples: self.samples };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    role: TrafficRole,
    samples: Vec<(Timestamp, f64)>,
}

impl TrafficLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::Traffic { entity: self.entity, role: self.role, samples: self.samples };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    name: String,
    fingerprint: String,
    state: AlertState,
    #[serde(default)]
    severity: Severity,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    summary: String,
}

impl AlertLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::Alert {
            entity: self.entity,
            name: self.name,
            fingerprint: self.fingerprint,
            state: self.state,
            severity: self.severity,
            labels: self.labels,
            summary: self.summary,
        };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogPatternLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    template_id: String,
    template: String,
    #[serde(default)]
    level: Severity,
    count: u64,
    #[serde(default)]
    new_template: bool,
}

impl LogPatternLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::LogPattern {
            entity: self.entity,
            template_id: self.template_id,
            template: self.template,
            level: self.level,
            count: self.count,
            new_template: self.new_template,
        };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLineRaw {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    line: String,
    #[serde(default)]
    level: Option<Severity>,
}

impl LogLineRaw {
    fn into_raw(self) -> RawLog {
        RawLog { at: self.at, source: self.source, entity: self.entity, line: self.line, level: self.level }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogLinesLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    lines: Vec<LogLine>,
}

impl LogLinesLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::LogLines { entity: self.entity, lines: self.lines };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    change: ChangeKind,
    description: String,
}

impl ChangeLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::Change { entity: self.entity, change: self.change, description: self.description };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: Entity,
}

impl EntityLine {
    fn into_observation(self) -> Observation {
        Observation { at: self.at, source: self.source, kind: ObservationKind::Entity { entity: self.entity } }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    relation: Relation,
}

impl RelationLine {
    fn into_observation(self) -> Observation {
        Observation { at: self.at, source: self.source, kind: ObservationKind::Relation { relation: self.relation } }
    }

    fn into_gone(self) -> Observation {
        Observation {
            at: self.at,
            source: self.source,
            kind: ObservationKind::RelationGone { relation: self.relation },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityGoneLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    #[serde(default)]
    learned_from: String,
}

impl EntityGoneLine {
    fn into_observation(self) -> Observation {
        Observation {
            at: self.at,
            source: self.source,
            kind: ObservationKind::EntityGone { entity: self.entity, learned_from: self.learned_from },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TickLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
}

impl TickLine {
    fn into_observation(self) -> Observation {
        Observation { at: self.at, source: self.source, kind: ObservationKind::Tick }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KpiLine {
    at: Timestamp,
    #[serde(default)]
    source: String,
    #[serde(rename = "type")]
    _type: IgnoredAny,
    entity: EntityId,
    name: String,
    value: f64,
    #[serde(default)]
    yesterday: Option<f64>,
    #[serde(default)]
    last_week: Option<f64>,
    #[serde(default = "rising_is_good")]
    higher_is_better: bool,
    #[serde(default)]
    unit: String,
}

fn rising_is_good() -> bool {
    true
}

impl KpiLine {
    fn into_observation(self) -> Observation {
        let kind = ObservationKind::Kpi {
            entity: self.entity,
            name: self.name,
            value: self.value,
            yesterday: self.yesterday,
            last_week: self.last_week,
            higher_is_better: self.higher_is_better,
            unit: self.unit,
        };
        Observation { at: self.at, source: self.source, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Criticality, EntityKind, RelationKind};

    fn t(ms: i64) -> Timestamp {
        Timestamp(1_772_445_600_000 + ms)
    }

    fn every_kind() -> Vec<Observation> {
        let e = EntityId::new("host:db-1");
        let obs = |at, kind| Observation { at: t(at), source: "fixture".into(), kind };
        vec![
            obs(
                0,
                ObservationKind::Entity {
                    entity: Entity {
                        id: e.clone(),
                        kind: EntityKind::Host,
                        name: "db-1".into(),
                        labels: BTreeMap::from([("az".into(), "a".into())]),
                        criticality: Criticality::High,
                        learned_from: String::new(),
                    },
                },
            ),
            obs(
                0,
                ObservationKind::Relation {
                    relation: Relation {
                        from: EntityId::new("process:postgres"),
                        kind: RelationKind::RunsOn,
                        to: e.clone(),
                        learned_from: "static".into(),
                    },
                },
            ),
            obs(
                1,
                ObservationKind::Metric {
                    entity: e.clone(),
                    metric: "cpu_utilisation".into(),
                    samples: vec![(t(0), 0.5), (t(1), 0.25)],
                },
            ),
            obs(
                2,
                ObservationKind::Alert {
                    entity: e.clone(),
                    name: "HostCpuSaturation".into(),
                    fingerprint: "abc".into(),
                    state: AlertState::Firing,
                    severity: Severity::Critical,
                    labels: BTreeMap::from([("job".into(), "node".into())]),
                    summary: "CPU saturated".into(),
                },
            ),
            obs(
                3,
                ObservationKind::LogPattern {
                    entity: e.clone(),
                    template_id: "t1".into(),
                    template: "timeout after <*> ms".into(),
                    level: Severity::Major,
                    count: 7,
                    new_template: false,
                },
            ),
            obs(
                3,
                ObservationKind::LogLines {
                    entity: e.clone(),
                    lines: vec![LogLine {
                        at: t(2),
                        level: Severity::Major,
                        template_id: "t1".into(),
                        line: "timeout after 12 ms".into(),
                    }],
                },
            ),
            obs(4, ObservationKind::Change { entity: e.clone(), change: ChangeKind::Restart, description: "r".into() }),
            obs(5, ObservationKind::EntityGone { entity: e, learned_from: String::new() }),
            Observation { at: t(6), source: String::new(), kind: ObservationKind::Tick },
            obs(
                7,
                ObservationKind::Kpi {
                    entity: EntityId::new("service:checkout"),
                    name: "orders_per_min".into(),
                    value: 412.0,
                    yesterday: Some(660.5),
                    last_week: None,
                    higher_is_better: true,
                    unit: "orders/min".into(),
                },
            ),
            obs(
                8,
                ObservationKind::Kpi {
                    entity: EntityId::new("service:checkout"),
                    name: "error_ratio".into(),
                    value: 0.031,
                    yesterday: None,
                    last_week: Some(0.004),
                    higher_is_better: false,
                    unit: String::new(),
                },
            ),
            obs(
                9,
                ObservationKind::Traffic {
                    entity: EntityId::new("service:checkout"),
                    role: TrafficRole::Errors,
                    samples: vec![(t(8), 0.5), (t(9), 12.0)],
                },
            ),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_write_and_parse() {
        let observations = every_kind();
        let mut header = ScenarioHeader::new("round-trip");
        header.expect = Some(Expectation {
            problems_with_storm: 1,
            storm_entities: vec![EntityId::new("host:db-1")],
            storm_from: t(0),
            storm_to: t(10),
            root_cause: EntityId::new("host:db-1"),
            root_cause_signal: Some("cpu".into()),
            foundational_entity: None,
            foundational_change: Some(ChangeKind::Deployment),
            noise_entities: vec![],
        });
        let mut out = Vec::new();
        write(&header, &observations, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let scenario = parse(&text, Path::new("rt.jsonl")).unwrap();
        assert_eq!(scenario.header, header);
        assert_eq!(scenario.observations, observations);
    }

    /// The per-type line structs must accept exactly what the model's own deserializer accepts.
    #[test]
    fn line_structs_agree_with_the_model() {
        let mut out = Vec::new();
        write(&ScenarioHeader::new("x"), &every_kind(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines().skip(1) {
            let via_model: Observation = serde_json::from_str(line).unwrap();
            let via_reader = parse(&format!("{{\"faultline_scenario\":1,\"name\":\"x\"}}\n{line}"), Path::new("x"))
                .unwrap()
                .observations;
            assert_eq!(vec![via_model], via_reader);
        }
    }

    #[test]
    fn raw_log_lines_are_mined_per_source_into_counts_and_samples_in_time_order() {
        let head = ScenarioHeader::new("logs");
        let e = EntityId::new("service:api");
        let mut logs: Vec<RawLog> = (0..6)
            .map(|i| RawLog::new(t(i * 1_000), "loki", e.clone(), format!("ERROR timeout after {i}0 ms")))
            .chain([RawLog {
                level: Some(Severity::Warning),
                ..RawLog::new(t(2_500), "syslog", e.clone(), "fan slow")
            }])
            .collect();
        logs.sort_by_key(|l| l.at);
        let observations = vec![
            Observation { at: t(0), source: String::new(), kind: ObservationKind::Tick },
            Observation { at: t(200_000), source: String::new(), kind: ObservationKind::Tick },
        ];
        let mut out = Vec::new();
        write_with_logs(&head, &observations, &logs, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"{"at":"2026-03-02T10:00:01.000Z","source":"loki","type":"log","entity":"service:api","line":"ERROR timeout after 10 ms"}"#), "{text}");
        assert!(text.contains(r#""line":"fan slow","level":"warning"}"#), "{text}");

        let scenario = parse(&text, Path::new("logs.jsonl")).unwrap();
        let seen: Vec<(&str, &str)> = scenario
            .observations
            .iter()
            .map(|o| {
                let kind = match &o.kind {
                    ObservationKind::LogPattern { .. } => "count",
                    ObservationKind::LogLines { .. } => "lines",
                    ObservationKind::Tick => "tick",
                    _ => "other",
                };
                (o.source.as_str(), kind)
            })
            .collect();
        // Both sources' intervals end before the second tick, each source with its own miner.
        assert_eq!(
            seen,
            [
                ("", "tick"),
                ("loki", "count"),
                ("loki", "lines"),
                ("syslog", "count"),
                ("syslog", "lines"),
                ("", "tick")
            ]
        );
        assert!(scenario.observations.windows(2).all(|w| w[0].at <= w[1].at));
        let ObservationKind::LogPattern { count, level, template, .. } = &scenario.observations[1].kind else {
            panic!()
        };
        assert_eq!((*count, *level, template.as_str()), (6, Severity::Major, "ERROR timeout after <*>"));
        let ObservationKind::LogPattern { level, .. } = &scenario.observations[3].kind else { panic!() };
        assert_eq!(*level, Severity::Warning, "the line's level field wins");

        // At the end of the file the last intervals are reported.
        let tail =
            "{\"faultline_scenario\":1,\"name\":\"x\"}\n{\"at\":5,\"type\":\"log\",\"entity\":\"h\",\"line\":\"x\"}\n";
        let obs = parse(tail, Path::new("t.jsonl")).unwrap().observations;
        assert_eq!(obs.len(), 2, "{obs:?}");
        assert_eq!(obs[0].at, Timestamp(60_000));
    }

    #[test]
    fn bad_log_lines_name_the_field() {
        let head = "{\"faultline_scenario\":1,\"name\":\"x\"}\n";
        let e = parse(&format!("{head}{{\"at\":5,\"type\":\"log\",\"entity\":\"h\"}}\n"), Path::new("l.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("l.jsonl:2:") && e.contains("missing field `line`"), "{e}");
        let text = format!(
            "{head}{{\"at\":9,\"type\":\"tick\"}}\n{{\"at\":5,\"type\":\"log\",\"entity\":\"h\",\"line\":\"x\"}}\n"
        );
        let e = parse(&text, Path::new("l.jsonl")).unwrap_err().to_string();
        assert!(e.contains("l.jsonl:3:") && e.contains("time goes backwards"), "{e}");
        let text = format!("{head}{{\"at\":5,\"type\":\"log\",\"entity\":\"h\",\"line\":\"x\",\"level\":\"loud\"}}\n");
        let e = parse(&text, Path::new("l.jsonl")).unwrap_err().to_string();
        assert!(e.contains("field `level`"), "{e}");
    }

    #[test]
    fn a_kpi_line_defaults_to_higher_is_better_like_the_model() {
        let line = r#"{"at":5,"type":"kpi","entity":"service:checkout","name":"orders","value":412.5}"#;
        let via_model: Observation = serde_json::from_str(line).unwrap();
        let via_reader = parse(&format!("{{\"faultline_scenario\":1,\"name\":\"x\"}}\n{line}"), Path::new("k"))
            .unwrap()
            .observations;
        assert_eq!(vec![via_model.clone()], via_reader);
        let ObservationKind::Kpi { higher_is_better, yesterday, last_week, .. } = via_model.kind else { panic!() };
        assert!(higher_is_better);
        assert_eq!((yesterday, last_week), (None, None));
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_skipped() {
        let text = "# a comment\r\n\r\n  # indented comment\n{\"faultline_scenario\":1,\"name\":\"x\"}\r\n\n\
                    {\"at\":5,\"type\":\"tick\"}\r\n";
        let scenario = parse(text, Path::new("c.jsonl")).unwrap();
        assert_eq!(scenario.header.name, "x");
        assert_eq!(scenario.observations.len(), 1);
        assert_eq!(scenario.observations[0].at, Timestamp(5));
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let origin = Path::new("fixtures/x.jsonl");
        let text = "{\"faultline_scenario\":1,\"name\":\"x\"}\n\
            {\"at\":0,\"type\":\"metric\",\"entity\":\"host:a\",\"metric\":\"m\",\"samples\":[[0,1.0],[1,2.0],[2,\"x\"]]}\n";
        let e = parse(text, origin).unwrap_err().to_string();
        assert!(e.starts_with("fixtures/x.jsonl:2:"), "{e}");
        assert!(e.contains("field `samples[2][1]`: invalid type: string \"x\", expected f64"), "{e}");

        let e = parse("{\"faultline_scenario\":1,\"name\":\"x\"}\n{\"at\":0,\"type\":\"tick\"", origin).unwrap_err();
        assert!(matches!(e, ScenarioError::Line { line: 2, problem: LineProblem::NotJson { .. }, .. }), "{e}");

        let e = parse("{\"faultline_scenario\":1,\"name\":\"x\"} x\n", origin).unwrap_err();
        assert!(matches!(e, ScenarioError::Line { line: 1, problem: LineProblem::NotJson { .. }, .. }), "{e}");

        let e = parse("{\"faultline_scenario\":1,\"name\":\"x\"}\n{\"at\":0}\n", origin).unwrap_err();
        assert!(matches!(e, ScenarioError::Line { problem: LineProblem::MissingType, .. }), "{e}");

        let e = parse("{\"faultline_scenario\":1,\"name\":\"x\"}\n[1]\n", origin).unwrap_err().to_string();
        assert!(e.contains("x.jsonl:2:1: expected a JSON object, found an array"), "{e}");
        let e = parse("{\"faultline_scenario\":1,\"name\":\"x\"}\n5\n", origin).unwrap_err().to_string();
        assert!(e.contains("expected a JSON object (one observation)"), "{e}");

        let e = parse("# only comments\n\n", origin).unwrap_err();
        assert!(matches!(e, ScenarioError::Empty { .. }), "{e}");

        let e = parse("{\"at\":0,\"type\":\"tick\"}\n", origin).unwrap_err();
        assert!(matches!(e, ScenarioError::Line { line: 1, problem: LineProblem::MissingHeader, .. }), "{e}");
    }

    #[test]
    fn samples_must_be_ordered_and_present() {
        let origin = Path::new("s.jsonl");
        let head = "{\"faultline_scenario\":1,\"name\":\"x\"}\n";
        let line = |samples: &str| {
            format!("{head}{{\"at\":0,\"type\":\"metric\",\"entity\":\"h\",\"metric\":\"m\",\"samples\":{samples}}}\n")
        };
        let e = parse(&line("[[5,1.0],[4,1.0]]"), origin).unwrap_err().to_string();
        assert!(e.contains("samples[1][0]") && e.contains("out of order"), "{e}");
        let e = parse(&line("[]"), origin).unwrap_err().to_string();
        assert!(e.contains("field `samples`: no samples"), "{e}");
        let e = parse(&line("[[5,null]]"), origin).unwrap_err().to_string();
        assert!(e.contains("samples[0][1]"), "{e}");
    }

    #[test]
    fn write_refuses_non_finite_samples() {
        let obs = Observation {
            at: t(0),
            source: String::new(),
            kind: ObservationKind::Metric {
                entity: EntityId::new("h"),
                metric: "m".into(),
                samples: vec![(t(0), f64::NAN)],
            },
        };
        let e = write(&ScenarioHeader::new("x"), [&obs], Vec::new()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn value_column_points_at_the_value() {
        let line = r#"{"at": "2026", "type":"x"}"#;
        assert_eq!(value_column(line, "at"), Some(8));
        assert_eq!(value_column(line, "type"), Some(23));
        assert_eq!(value_column(line, "nope"), None);
    }
}
