//! Runbook files (TOML), one runbook per file, and the set of runbooks of a directory. Errors name
//! the file, line, column and dotted key, like the config file's. Example:
//!
//! ```toml
//! name = "restart-unit"
//! key = "r"
//! description = "Restart the crashed systemd unit"
//!
//! [match]
//! signal_kind = "alert"          # root cause: alert, anomaly or log_burst
//! signal_name = "TargetDown*"    # root cause signal name, `*` globs
//! entity_kind = "process"
//! labels = { job = "api" }       # equalities on the entity's labels
//! signals = ["TargetDown"]       # each must match one of the problem's signal names
//!
//! [secrets]
//! slack = { env = "SLACK_WEBHOOK_URL" }
//!
//! [[steps]]
//! kind = "run"
//! argv = ["systemctl", "restart", "{entity.labels.unit}"]
//! destructive = true
//! timeout = "30s"
//!
//! [[steps]]
//! kind = "check"
//! after = "2m"
//!
//! [[steps]]
//! kind = "escalate"
//! to = "rollback-release"
//! after = "10m"
//! ```

use super::template::Template;
use super::RunbookError;
use crate::config::{ConfigError, HumanDuration};
use crate::model::EntityKind;
use crate::sources::http::Secret;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default timeout of a `run` step (milliseconds).
pub const DEFAULT_RUN_TIMEOUT_MS: i64 = 60_000;
/// Default timeout of an `http` step (milliseconds).
pub const DEFAULT_HTTP_TIMEOUT_MS: i64 = 10_000;

/// A runbook as loaded from its file.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// Unique among the loaded runbooks; what `escalate.to` and `runbook run NAME` name.
    pub name: String,
    /// The key that starts it from the problem detail in the UI.
    pub key: Option<char>,
    pub description: String,
    pub rule: MatchRule,
    pub steps: Vec<Step>,
    pub secrets: BTreeMap<String, Secret>,
    /// The file it came from.
    pub path: PathBuf,
    /// The file's text, to place plan-time errors at their line.
    text: Arc<str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a runbook: name, key, description, [match], [secrets], [[steps]]")]
struct RunbookDoc {
    name: String,
    #[serde(default)]
    key: Option<char>,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "match")]
    rule: MatchRule,
    #[serde(default)]
    secrets: BTreeMap<String, Secret>,
    steps: Vec<Step>,
}

/// Which problems a runbook is for. Every condition given must hold; an empty rule matches all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    /// Kind of the root-cause signal: `alert`, `anomaly` or `log_burst`.
    #[serde(default)]
    pub signal_kind: Option<String>,
    /// Name of the root-cause signal (`*` matches any run of characters).
    #[serde(default)]
    pub signal_name: Option<String>,
    /// Kind of the entity the runbook acts on.
    #[serde(default)]
    pub entity_kind: Option<EntityKind>,
    /// Label equalities on that entity.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Each glob must match the name of one of the problem's signals.
    #[serde(default)]
    pub signals: Vec<String>,
}

/// One step. `kind` selects the variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    Run(RunStep),
    Http(Box<HttpStep>),
    Silence(SilenceStep),
    Check(CheckStep),
    Escalate(EscalateStep),
}

/// Run a program: `argv[0]` with the other elements as its arguments; never through a shell.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStep {
    /// Program and arguments; each element is one template filled into exactly one argument.
    pub argv: Vec<String>,
    /// Extra environment variables (values are templates).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Killed (with its whole process group) after this long; default 60 s.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Changes something that cannot simply be taken back: confirmation needs the entity's name.
    #[serde(default)]
    pub destructive: bool,
    /// Working directory (a template).
    #[serde(default)]
    pub cwd: Option<String>,
}

/// The built-in webhook shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpShape {
    /// Slack incoming webhook: `text` and a section block.
    Slack,
    /// PagerDuty Events API v2 (`/v2/enqueue`).
    Pagerduty,
    /// Jira REST create issue (`/rest/api/{2|3}/issue`).
    Jira,
    /// Ansible AWX / Tower job template launch.
    Awx,
    /// Rundeck job run.
    Rundeck,
    /// Any method, URL, headers and JSON body.
    Generic,
}

impl HttpShape {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpShape::Slack => "slack",
            HttpShape::Pagerduty => "pagerduty",
            HttpShape::Jira => "jira",
            HttpShape::Awx => "awx",
            HttpShape::Rundeck => "rundeck",
            HttpShape::Generic => "generic",
        }
    }
}

/// An HTTP call in one of the built-in shapes. Every string is a template. Which fields a shape
/// needs is checked at load time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub shape: HttpShape,
    /// Slack/generic: the full URL; Jira, AWX, Rundeck: the server's base URL; PagerDuty: the
    /// events endpoint (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default)]
    pub url: Option<String>,
    /// Generic: the method (default POST).
    #[serde(default)]
    pub method: Option<String>,
    /// Extra headers (authentication for Jira and AWX goes here, e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Generic: the JSON body; strings in it are templates.
    #[serde(default)]
    pub body: Option<toml::Value>,
    /// Slack: the message.
    #[serde(default)]
    pub text: Option<String>,
    /// PagerDuty: the integration's routing key (usually `{secret.NAME}`).
    #[serde(default)]
    pub routing_key: Option<String>,
    /// PagerDuty: `trigger` (default), `acknowledge` or `resolve`.
    #[serde(default)]
    pub event_action: Option<String>,
    /// PagerDuty: default `faultline-{problem.id}`.
    #[serde(default)]
    pub dedup_key: Option<String>,
    /// PagerDuty and Jira: the one-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// PagerDuty: default `{entity.id}`.
    #[serde(default)]
    pub source: Option<String>,
    /// PagerDuty: `critical`, `error`, `warning` or `info`; default from the problem's severity.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub component: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    /// PagerDuty: `payload.custom_details`.
    #[serde(default)]
    pub custom_details: BTreeMap<String, String>,
    /// Jira: the project key.
    #[serde(default)]
    pub project: Option<String>,
    /// Jira: the issue type name (default `Task`).
    #[serde(default)]
    pub issue_type: Option<String>,
    /// Jira: the issue's description.
    #[serde(default)]
    pub description: Option<String>,
    /// Jira: REST API 2 (default; plain-text description) or 3 (Atlassian Document Format);
    /// Rundeck: API version (default 41).
    #[serde(default)]
    pub api_version: Option<u32>,
    /// AWX: the job template id.
    #[serde(default)]
    pub template_id: Option<String>,
    /// AWX: `extra_vars`.
    #[serde(default)]
    pub extra_vars: BTreeMap<String, String>,
    /// Rundeck: the job id.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Rundeck: the job's options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Rundeck: the API token (`X-Rundeck-Auth-Token`), usually `{secret.NAME}`.
    #[serde(default)]
    pub token: Option<String>,
    /// Default 10 s.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    #[serde(default)]
    pub destructive: bool,
}

/// An Alertmanager silence for the problem's firing alerts (exact-match matchers), created by
/// the agent through its first Alertmanager; skipped, with the reason, where none is known.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceStep {
    /// How long the silence lasts (default 2h).
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Wait, then ask whether the problem is mitigated; a mitigated problem ends the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckStep {
    pub after: HumanDuration,
}

/// Run another runbook when the problem is still not mitigated `after` the run started.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateStep {
    pub to: String,
    #[serde(default)]
    pub after: Option<HumanDuration>,
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Run(_) => "run",
            Step::Http(_) => "http",
            Step::Silence(_) => "silence",
            Step::Check(_) => "check",
            Step::Escalate(_) => "escalate",
        }
    }

    /// Every template of the step with its dotted key (`steps[0].argv[2]`).
    pub fn templates(&self, index: usize) -> Vec<(String, String)> {
        let k = |rest: &str| format!("steps[{index}].{rest}");
        let mut out = Vec::new();
        match self {
            Step::Run(r) => {
                out.extend(r.argv.iter().enumerate().map(|(i, a)| (k(&format!("argv[{i}]")), a.clone())));
                out.extend(r.env.iter().map(|(n, v)| (k(&format!("env.{n}")), v.clone())));
                out.extend(r.cwd.iter().map(|c| (k("cwd"), c.clone())));
            }
            Step::Http(h) => {
                let singles = [
                    ("url", &h.url),
                    ("method", &h.method),
                    ("text", &h.text),
                    ("routing_key", &h.routing_key),
                    ("event_action", &h.event_action),
                    ("dedup_key", &h.dedup_key),
                    ("summary", &h.summary),
                    ("source", &h.source),
                    ("severity", &h.severity),
                    ("component", &h.component),
                    ("group", &h.group),
                    ("class", &h.class),
                    ("project", &h.project),
                    ("issue_type", &h.issue_type),
                    ("description", &h.description),
                    ("template_id", &h.template_id),
                    ("job_id", &h.job_id),
                    ("token", &h.token),
                ];
                out.extend(singles.iter().filter_map(|(n, v)| v.as_ref().map(|v| (k(n), v.clone()))));
                for (map, name) in [
                    (&h.headers, "headers"),
                    (&h.custom_details, "custom_details"),
                    (&h.extra_vars, "extra_vars"),
                    (&h.options, "options"),
                ] {
                    out.extend(map.iter().map(|(n, v)| (k(&format!("{name}.{n}")), v.clone())));
                }
                if let Some(body) = &h.body {
                    toml_strings(body, &k("body"), &mut out);
                }
            }
            Step::Silence(s) => out.extend(s.comment.iter().map(|c| (k("comment"), c.clone()))),
            Step::Check(_) | Step::Escalate(_) => {}
        }
        out
    }

    /// Whether the step changes something that cannot simply be taken back.
    pub fn destructive(&self) -> bool {
        match self {
            Step::Run(r) => r.destructive,
            Step::Http(h) => h.destructive,
            _ => false,
        }
    }
}

fn toml_strings(v: &toml::Value, key: &str, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::String(s) => out.push((key.to_string(), s.clone())),
        toml::Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| toml_strings(v, &format!("{key}[{i}]"), out)),
        toml::Value::Table(t) => t.iter().for_each(|(n, v)| toml_strings(v, &format!("{key}.{n}"), out)),
        _ => {}
    }
}

impl Runbook {
    /// Reads and checks one runbook file.
    pub fn load(path: &Path) -> Result<Runbook, RunbookError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Ok(Runbook::parse(&text, path)?)
    }

    /// Parses and checks runbook `text` read from `origin` (used in messages).
    pub fn parse(text: &str, origin: &Path) -> Result<Runbook, ConfigError> {
        let doc: RunbookDoc = crate::config::parse_toml(text, origin).map_err(|e| place(e, text, origin))?;
        let err = |key: String, message: String| crate::config::key_error(text, origin, key, message);
        if doc.name.trim().is_empty() || doc.name.contains(char::is_whitespace) {
            return Err(err("name".into(), format!("`{}`: a runbook name is one word, e.g. `restart-unit`", doc.name)));
        }
        if doc.steps.is_empty() {
            return Err(err("steps".into(), "a runbook needs at least one [[steps]]".into()));
        }
        for (i, step) in doc.steps.iter().enumerate() {
            check_step(step, i, &doc).map_err(|(key, message)| err(key, message))?;
        }
        Ok(Runbook {
            name: doc.name,
            key: doc.key,
            description: doc.description,
            rule: doc.rule,
            steps: doc.steps,
            secrets: doc.secrets,
            path: origin.to_path_buf(),
            text: text.into(),
        })
    }

    /// An error about dotted `key` of this runbook's file, placed at its line.
    pub fn error_at(&self, key: String, message: String) -> ConfigError {
        crate::config::key_error(&self.text, &self.path, key, message)
    }

    /// The runbooks this one escalates to, in step order.
    pub fn escalates_to(&self) -> impl Iterator<Item = (usize, &str)> {
        self.steps.iter().enumerate().filter_map(|(i, s)| match s {
            Step::Escalate(e) => Some((i, e.to.as_str())),
            _ => None,
        })
    }

    /// Whether the runbook is for the problem `ctx` describes.
    pub fn matches(&self, ctx: &super::ProblemContext) -> bool {
        let r = &self.rule;
        let cause = ctx.root_cause.as_ref();
        let norm = |s: &str| s.replace('_', " ");
        r.signal_kind.as_ref().is_none_or(|k| cause.is_some_and(|c| norm(&c.kind) == norm(k)))
            && r.signal_name.as_ref().is_none_or(|g| cause.is_some_and(|c| glob(g, &c.name)))
            && r.entity_kind.is_none_or(|k| k.as_str() == ctx.entity_kind)
            && r.labels.iter().all(|(k, v)| ctx.entity_labels.get(k) == Some(v))
            && r.signals.iter().all(|g| ctx.signals.iter().any(|(_, name)| glob(g, name)))
    }
}

/// serde errors inside `[[steps]]` may lose their position (the step's kind is read first):
/// place them at their key's line; an unknown `kind` is called what it is.
fn place(e: ConfigError, text: &str, origin: &Path) -> ConfigError {
    let ConfigError::Key { path, line, column, key, message } = e else { return e };
    let is_step = |k: &str| k.starts_with("steps[") && (!k.contains('.') || k.ends_with(".kind"));
    let (key, message) = if message.starts_with("unknown variant") && is_step(&key) {
        let key = if key.ends_with(".kind") { key } else { format!("{key}.kind") };
        (key, format!("unknown step kind: {message}"))
    } else {
        (key, message)
    };
    match line {
        Some(_) => ConfigError::Key { path, line, column, key, message },
        None => crate::config::key_error(text, origin, key, message),
    }
}

fn check_step(step: &Step, i: usize, doc: &RunbookDoc) -> Result<(), (String, String)> {
    let k = |rest: &str| format!("steps[{i}].{rest}");
    for (key, text) in step.templates(i) {
        let t = Template::parse(&text).map_err(|m| (key.clone(), m))?;
        for f in t.fields() {
            if let Some(name) = f.strip_prefix("secret.") {
                if !doc.secrets.contains_key(name) {
                    return Err((key, format!("`{{{f}}}`: no secret `{name}` in [secrets]")));
                }
            }
        }
    }
    let positive = |d: &Option<HumanDuration>, key: &str| match d {
        Some(d) if d.millis() <= 0 => Err((k(key), "must be longer than 0s".to_string())),
        _ => Ok(()),
    };
    match step {
        Step::Run(r) => {
            if r.argv.first().is_none_or(|p| p.trim().is_empty()) {
                return Err((k("argv"), "`argv` needs a program: argv = [\"program\", \"arg\", ...]".into()));
            }
            positive(&r.timeout, "timeout")?;
        }
        Step::Http(h) => {
            let need: &[(&str, bool)] = match h.shape {
                HttpShape::Slack => &[("url", h.url.is_some()), ("text", h.text.is_some())],
                HttpShape::Pagerduty => &[("routing_key", h.routing_key.is_some()), ("summary", h.summary.is_some())],
                HttpShape::Jira => {
                    &[("url", h.url.is_some()), ("project", h.project.is_some()), ("summary", h.summary.is_some())]
                }
                HttpShape::Awx => &[("url", h.url.is_some()), ("template_id", h.template_id.is_some())],
                HttpShape::Rundeck => {
                    &[("url", h.url.is_some()), ("job_id", h.job_id.is_some()), ("token", h.token.is_some())]
                }
                HttpShape::Generic => &[("url", h.url.is_some())],
            };
            if let Some((field, _)) = need.iter().find(|(_, given)| !given) {
                return Err((k(field), format!("a `{}` http step needs `{field}`", h.shape.as_str())));
            }
            if let (HttpShape::Jira, Some(v)) = (h.shape, h.api_version) {
                if v != 2 && v != 3 {
                    return Err((k("api_version"), format!("Jira REST API version {v}: use 2 or 3")));
                }
            }
            positive(&h.timeout, "timeout")?;
        }
        Step::Silence(s) => positive(&s.duration, "duration")?,
        Step::Check(_) => {}
        Step::Escalate(e) => {
            if e.to == doc.name {
                return Err((k("to"), format!("escalation cycle: `{}` escalates to itself", doc.name)));
            }
        }
    }
    Ok(())
}

/// `*` matches any run of characters (also none); everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for p in middle {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The runbooks of a directory (or of named files), with unique names and escalation chains that
/// end (checked when the set is built).
#[derive(Debug, Clone, Default)]
pub struct RunbookSet {
    runbooks: BTreeMap<String, Runbook>,
}

impl RunbookSet {
    /// Every `*.toml` file in `dir`, in name order.
    pub fn load_dir(dir: &Path) -> Result<RunbookSet, RunbookError> {
        RunbookSet::from_runbooks(toml_files(dir)?.iter().map(|p| Runbook::load(p)).collect::<Result<Vec<_>, _>>()?)
    }

    /// A set of loaded runbooks: names must be unique, escalation targets exist, chains end.
    pub fn from_runbooks(list: Vec<Runbook>) -> Result<RunbookSet, RunbookError> {
        let mut runbooks = BTreeMap::new();
        for rb in list {
            if let Some(other) = runbooks.get(&rb.name) {
                let other: &Runbook = other;
                let message = format!("runbook `{}` is also defined in {}", rb.name, other.path.display());
                return Err(rb.error_at("name".into(), message).into());
            }
            runbooks.insert(rb.name.clone(), rb);
        }
        let set = RunbookSet { runbooks };
        set.check_escalations()?;
        Ok(set)
    }

    fn check_escalations(&self) -> Result<(), RunbookError> {
        for rb in self.runbooks.values() {
            for (i, to) in rb.escalates_to() {
                if !self.runbooks.contains_key(to) {
                    let known: Vec<&str> = self.runbooks.keys().map(String::as_str).collect();
                    let message = format!("escalates to `{to}`, which is not loaded (loaded: {})", known.join(", "));
                    return Err(rb.error_at(format!("steps[{i}].to"), message).into());
                }
            }
        }
        // Depth-first from every runbook; a runbook met again on the current path closes a cycle.
        for start in self.runbooks.keys() {
            let mut path: Vec<(&str, usize)> = Vec::new();
            self.walk(start, &mut path, &mut BTreeSet::new())?;
        }
        Ok(())
    }

    fn walk<'a>(
        &'a self,
        name: &'a str,
        path: &mut Vec<(&'a str, usize)>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), RunbookError> {
        let Some(rb) = self.runbooks.get(name) else { return Ok(()) };
        for (i, to) in rb.escalates_to() {
            path.push((name, i));
            if let Some(at) = path.iter().position(|(n, _)| *n == to) {
                let chain: Vec<&str> = path[at..].iter().map(|(n, _)| *n).chain([to]).collect();
                let message = format!("escalation cycle: {}", chain.join(" → "));
                return Err(rb.error_at(format!("steps[{i}].to"), message).into());
            }
            if !done.contains(to) {
                self.walk(to, path, done)?;
            }
            path.pop();
        }
        done.insert(name);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Runbook> {
        self.runbooks.get(name)
    }

    /// All runbooks, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Runbook> {
        self.runbooks.values()
    }

    /// Whether runbook `name` has a destructive step, itself or in a runbook it escalates to: what
    /// its plan's [`super::Plan::is_destructive`] will say, known without filling the plan in.
    pub fn is_destructive(&self, name: &str) -> bool {
        // Escalation chains end (checked when the set is built), so this recursion does too.
        self.get(name).is_some_and(|rb| {
            rb.steps.iter().any(Step::destructive) || rb.escalates_to().any(|(_, to)| self.is_destructive(to))
        })
    }

    /// The runbooks for the problem `ctx` describes, by name.
    pub fn matching<'a>(&'a self, ctx: &'a super::ProblemContext) -> impl Iterator<Item = &'a Runbook> {
        self.runbooks.values().filter(|rb| rb.matches(ctx))
    }
}

/// The `*.toml` files of `dir`, sorted.
pub fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, RunbookError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|source| RunbookError::File(ConfigError::Io { path: dir.to_path_buf(), source }))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// `runbooks/` in the user's config directory (e.g. `~/.config/faultline/runbooks`).
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "faultline").map(|d| d.config_dir().join("runbooks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Runbook, ConfigError> {
        Runbook::parse(text, Path::new("rb.toml"))
    }

    const OK: &str = "name = \"a\"\nkey = \"a\"\n[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n";

    #[test]
    fn globs() {
        assert!(glob("Disk*", "DiskSpaceLow"));
        assert!(glob("*Low", "DiskSpaceLow"));
        assert!(glob("D*S*w", "DiskSpaceLow"));
        assert!(glob("*", ""));
        assert!(!glob("Disk", "DiskSpaceLow"));
        assert!(!glob("a*a", "a"));
    }

    #[test]
    fn a_good_file_loads() {
        let rb = parse(OK).unwrap();
        assert_eq!((rb.name.as_str(), rb.key, rb.steps.len()), ("a", Some('a'), 1));
    }

    #[test]
    fn unknown_step_kind_names_line_and_key() {
        let e = parse(
            "name = \"a\"\n[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n[[steps]]\nkind = \"shell\"\nline = \"x\"\n",
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("rb.toml:6:"), "{s}");
        assert!(s.contains("steps[1].kind") && s.contains("unknown step kind") && s.contains("shell"), "{s}");
    }

    #[test]
    fn empty_argv_unknown_field_and_undeclared_secret_are_refused() {
        let e = parse("name = \"a\"\n[[steps]]\nkind = \"run\"\nargv = []\n").unwrap_err().to_string();
        assert!(e.starts_with("rb.toml:4:") && e.contains("steps[0].argv") && e.contains("needs a program"), "{e}");
        let e = parse("name = \"a\"\n[[steps]]\nkind = \"run\"\nargv = [\"x\", \"{entity.lables.unit}\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("steps[0].argv[1]") && e.contains("unknown placeholder"), "{e}");
        let e = parse("name = \"a\"\n[[steps]]\nkind = \"run\"\nargv = [\"x\"]\nenv = { T = \"{secret.tok}\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rb.toml:5:") && e.contains("steps[0].env.T") && e.contains("no secret `tok`"), "{e}");
        let e =
            parse("name = \"a\"\n[[steps]]\nkind = \"run\"\nargv = [\"x\"]\nshell = true\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `shell`"), "{e}");
    }

    #[test]
    fn http_shapes_need_their_fields() {
        let e = parse(
            "name = \"a\"\n[[steps]]\nkind = \"http\"\nshape = \"rundeck\"\nurl = \"http://x\"\njob_id = \"1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("steps[0].token") && e.contains("needs `token`"), "{e}");
    }

    #[test]
    fn match_rules_need_every_condition() {
        let ctx = crate::runbook::ProblemContext {
            entity_kind: "process".into(),
            entity_labels: [("job".to_string(), "api".to_string())].into(),
            root_cause: Some(crate::runbook::CauseSignal {
                kind: "log burst".into(),
                name: "TargetDown".into(),
                ..Default::default()
            }),
            signals: vec![("alert".into(), "HighLatency".into()), ("log burst".into(), "TargetDown".into())],
            ..Default::default()
        };
        let m = |rule: &str| {
            parse(&format!("name = \"a\"\n[match]\n{rule}\n[[steps]]\nkind = \"check\"\nafter = \"1s\"\n"))
                .unwrap()
                .matches(&ctx)
        };
        assert!(m(""));
        assert!(m("signal_kind = \"log_burst\"\nsignal_name = \"Target*\"\nentity_kind = \"process\""));
        assert!(m("labels = { job = \"api\" }\nsignals = [\"High*\", \"TargetDown\"]"));
        assert!(!m("signal_kind = \"alert\""));
        assert!(!m("signal_name = \"Disk*\""));
        assert!(!m("entity_kind = \"host\""));
        assert!(!m("labels = { job = \"web\" }"));
        assert!(!m("labels = { team = \"api\" }"));
        assert!(!m("signals = [\"High*\", \"Disk*\"]"));
    }

    fn rb(name: &str, to: &[&str]) -> Runbook {
        let mut text = format!("name = \"{name}\"\n[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n");
        for t in to {
            text.push_str(&format!("[[steps]]\nkind = \"escalate\"\nto = \"{t}\"\n"));
        }
        Runbook::parse(&text, Path::new(&format!("{name}.toml"))).unwrap()
    }

    #[test]
    fn escalation_cycles_are_errors_chains_are_not() {
        let ok =
            RunbookSet::from_runbooks(vec![rb("restart", &["rollback"]), rb("rollback", &["page"]), rb("page", &[])]);
        assert!(ok.is_ok());
        let e =
            RunbookSet::from_runbooks(vec![rb("a", &["b"]), rb("b", &["c"]), rb("c", &["a"])]).unwrap_err().to_string();
        assert!(e.contains("escalation cycle: a → b → c → a"), "{e}");
        assert!(e.contains("steps[1].to"), "{e}");
        let mut wipe = rb("wipe", &[]);
        if let Step::Run(r) = &mut wipe.steps[0] {
            r.destructive = true;
        }
        let set = RunbookSet::from_runbooks(vec![rb("restart", &["wipe"]), wipe, rb("page", &[])]).unwrap();
        assert!(set.is_destructive("restart"), "through its escalation");
        assert!(set.is_destructive("wipe") && !set.is_destructive("page") && !set.is_destructive("none"));
        let e = RunbookSet::from_runbooks(vec![rb("a", &["zz"])]).unwrap_err().to_string();
        assert!(e.contains("escalates to `zz`, which is not loaded"), "{e}");
        let e = Runbook::parse("name = \"s\"\n[[steps]]\nkind = \"escalate\"\nto = \"s\"\n", Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("escalates to itself"), "{e}");
    }
}
