//! A plan: a runbook filled in for one problem, exactly as it will run. The UI shows
//! [`Plan::lines`] verbatim and, once confirmed, hands the same plan to the executor; nothing is
//! filled in again between showing and running. Secrets are in the plan (it must run) but every
//! shown form of it is redacted.

use super::context::ProblemContext;
use super::file::{Runbook, RunbookSet, Step, DEFAULT_HTTP_TIMEOUT_MS, DEFAULT_RUN_TIMEOUT_MS};
use super::secrets::{self, Redactor};
use super::template::{shell_quote, Template};
use super::webhook::{self, HttpRequest};
use super::RunbookError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default length of a silence step.
const DEFAULT_SILENCE_MS: i64 = 2 * 3_600_000;

/// A runbook filled in for one problem.
#[derive(Clone)]
pub struct Plan {
    /// The runbook's name.
    pub runbook: String,
    /// Its file.
    pub file: PathBuf,
    /// `P-0007`.
    pub problem: String,
    /// The entity it acts on (also half of the lock's key).
    pub entity: String,
    /// The entity's name: what confirming a destructive plan asks to type.
    pub entity_name: String,
    /// `user@host` of who asked for the plan.
    pub operator: String,
    pub steps: Vec<PlannedStep>,
    redactor: Redactor,
}

/// One step, filled in. `{:?}` shows no values (they may hold secrets): use [`Plan::lines`].
#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// 0-based position in the runbook.
    pub index: usize,
    pub action: Action,
    pub destructive: bool,
}

/// What a step does, every value final.
#[derive(Clone)]
pub enum Action {
    /// Run `argv[0]` (resolved to a path at plan time) with the rest as its arguments.
    Run {
        argv: Vec<String>,
        program: PathBuf,
        env: Vec<(String, String)>,
        cwd: Option<PathBuf>,
        timeout: Duration,
    },
    Http {
        request: HttpRequest,
        timeout: Duration,
    },
    /// One silence of exact-match matchers, created through the agent's Alertmanager.
    Silence {
        matchers: Vec<(String, String)>,
        duration: Duration,
        comment: String,
    },
    /// Wait `after`, then ask whether the problem is mitigated.
    Check {
        after: Duration,
    },
    /// When not mitigated `after` the run started, run `to`.
    Escalate {
        after: Duration,
        to: Box<Plan>,
    },
}

impl std::fmt::Debug for Action {
    /// The kind only: values may hold secrets, and only [`Plan::lines`] knows how to mask them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Run { .. } => "Run { .. }",
            Action::Http { .. } => "Http { .. }",
            Action::Silence { .. } => "Silence { .. }",
            Action::Check { .. } => "Check { .. }",
            Action::Escalate { .. } => "Escalate { .. }",
        })
    }
}

impl std::fmt::Debug for Plan {
    /// The redacted lines: a plan's secrets never reach logs through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan").field("lines", &self.lines()).finish()
    }
}

fn ms(d: Option<crate::config::HumanDuration>, default: i64) -> Duration {
    Duration::from_millis(u64::try_from(d.map_or(default, |d| d.millis())).unwrap_or(0))
}

impl Plan {
    /// Fills runbook `name` of `set` for the problem `ctx` describes, with its escalation targets.
    /// A field the problem lacks, a secret that cannot be read or a program that is not there
    /// is an error naming the runbook's file, line and key: nothing runs.
    pub fn build(set: &RunbookSet, name: &str, ctx: &ProblemContext, operator: &str) -> Result<Plan, RunbookError> {
        let rb = set.get(name).ok_or_else(|| RunbookError::NotFound {
            name: name.to_string(),
            known: set.iter().map(|r| r.name.clone()).collect(),
        })?;
        Plan::for_runbook(set, rb, ctx, operator)
    }

    fn for_runbook(set: &RunbookSet, rb: &Runbook, ctx: &ProblemContext, operator: &str) -> Result<Plan, RunbookError> {
        let secret_values = secrets::resolve(&rb.secrets).map_err(|(key, m)| rb.error_at(key, m))?;
        let mut redactor = Redactor::new(secret_values.values());
        let problem_err = |key: String, field: String| {
            let m = format!("{} has no `{{{field}}}` (needed to fill this runbook for it)", ctx.problem_id);
            rb.error_at(key, m)
        };
        let value = |f: &str| -> Option<String> {
            if let Some(s) = f.strip_prefix("secret.") {
                secret_values.get(s).cloned()
            } else if f == "operator" {
                Some(operator.to_string())
            } else {
                ctx.field(f)
            }
        };
        let mut fill = |key: &str, text: &str| -> Result<String, (String, String)> {
            let t = Template::parse(text).map_err(|m| (key.to_string(), m))?;
            t.render(value).map_err(|field| (key.to_string(), field))
        };
        let mut steps = Vec::new();
        for (index, step) in rb.steps.iter().enumerate() {
            let key = |rest: &str| format!("steps[{index}].{rest}");
            let action = match step {
                Step::Run(r) => {
                    let mut argv = Vec::new();
                    for (i, a) in r.argv.iter().enumerate() {
                        argv.push(fill(&key(&format!("argv[{i}]")), a).map_err(|(k, f)| problem_err(k, f))?);
                    }
                    let program = find_program(&argv[0], r.cwd.as_deref().map(Path::new))
                        .map_err(|m| rb.error_at(key("argv[0]"), redactor.redact(&m)))?;
                    let mut env = Vec::new();
                    for (n, v) in &r.env {
                        env.push((n.clone(), fill(&key(&format!("env.{n}")), v).map_err(|(k, f)| problem_err(k, f))?));
                    }
                    let cwd = match &r.cwd {
                        Some(c) => Some(PathBuf::from(fill(&key("cwd"), c).map_err(|(k, f)| problem_err(k, f))?)),
                        None => None,
                    };
                    Action::Run { argv, program, env, cwd, timeout: ms(r.timeout, DEFAULT_RUN_TIMEOUT_MS) }
                }
                Step::Http(h) => {
                    let request = webhook::request(h, index, &mut fill).map_err(|(k, f)| problem_err(k, f))?;
                    Action::Http { request, timeout: ms(h.timeout, DEFAULT_HTTP_TIMEOUT_MS) }
                }
                Step::Silence(s) => {
                    let mut matchers: Vec<(String, String)> = ctx
                        .root_cause
                        .as_ref()
                        .map(|c| c.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    matchers.sort();
                    let comment = match &s.comment {
                        Some(c) => fill(&key("comment"), c).map_err(|(k, f)| problem_err(k, f))?,
                        None => format!("faultline {} ({})", ctx.problem_id, rb.name),
                    };
                    Action::Silence { matchers, duration: ms(s.duration, DEFAULT_SILENCE_MS), comment }
                }
                Step::Check(c) => Action::Check { after: ms(Some(c.after), 0) },
                Step::Escalate(e) => {
                    let target = set.get(&e.to).ok_or_else(|| {
                        rb.error_at(key("to"), format!("escalates to `{}`, which is not loaded", e.to))
                    })?;
                    let to = Plan::for_runbook(set, target, ctx, operator)?;
                    redactor.merge(&to.redactor);
                    Action::Escalate { after: ms(e.after, 0), to: Box::new(to) }
                }
            };
            steps.push(PlannedStep { index, action, destructive: step.destructive() });
        }
        Ok(Plan {
            runbook: rb.name.clone(),
            file: rb.path.clone(),
            problem: ctx.problem_id.clone(),
            entity: ctx.entity_id.clone(),
            entity_name: ctx.entity_name.clone(),
            operator: operator.to_string(),
            steps,
            redactor,
        })
    }

    /// What masks this plan's secrets (its own and its escalation targets').
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// True when a step (or an escalation target's) is destructive: confirming needs the entity's
    /// name typed (or `--yes`).
    pub fn is_destructive(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.destructive || matches!(&s.action, Action::Escalate { to, .. } if to.is_destructive()))
    }

    /// The plan as shown before confirmation: every value as it will run, argv quoted as a shell
    /// would need it (display only), secrets masked.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "runbook {} ({}) for {} on {}, by {}",
            self.runbook,
            self.file.display(),
            self.problem,
            self.entity,
            self.operator
        )];
        self.push_steps("", &mut out);
        out.into_iter().map(|l| self.redactor.redact(&l)).collect()
    }

    fn push_steps(&self, indent: &str, out: &mut Vec<String>) {
        for s in &self.steps {
            let n = format!("{indent}{}.", s.index + 1);
            let d = if s.destructive { " [DESTRUCTIVE]" } else { "" };
            match &s.action {
                Action::Run { argv, env, cwd, timeout, .. } => {
                    let shown: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
                    out.push(format!("{n} run{d}: {}  (timeout {})", shown.join(" "), human(*timeout)));
                    for (k, v) in env {
                        out.push(format!("{indent}     env {k}={}", shell_quote(v)));
                    }
                    if let Some(c) = cwd {
                        out.push(format!("{indent}     cwd {}", shell_quote(&c.to_string_lossy())));
                    }
                }
                Action::Http { request, timeout } => {
                    out.push(format!(
                        "{n} http {}{d}: {} {}  (timeout {})",
                        request.shape.as_str(),
                        request.method,
                        request.url,
                        human(*timeout)
                    ));
                    for (k, v) in &request.headers {
                        out.push(format!("{indent}     {k}: {}", v.escape_debug()));
                    }
                    if !request.body.is_null() {
                        out.push(format!("{indent}     {}", request.body));
                    }
                }
                Action::Silence { matchers, duration, comment } => {
                    let m: Vec<String> = matchers.iter().map(|(k, v)| format!("{k}={}", shell_quote(v))).collect();
                    out.push(format!(
                        "{n} silence: {} for {}, comment {} (through the agent's Alertmanager)",
                        if m.is_empty() { "(no alert labels)".to_string() } else { m.join(" ") },
                        human(*duration),
                        shell_quote(comment)
                    ));
                }
                Action::Check { after } => out.push(format!(
                    "{n} check after {}: is {} mitigated? (yes ends the run)",
                    human(*after),
                    self.problem
                )),
                Action::Escalate { after, to } => {
                    out.push(format!(
                        "{n} escalate to {} when not mitigated {} after the start:",
                        to.runbook,
                        human(*after)
                    ));
                    to.push_steps(&format!("{indent}   "), out);
                }
            }
        }
    }

    /// Every value a shown line may hold is redacted with this.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

/// `1m 30s`.
pub(crate) fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// The program `argv[0]` names: a path (relative to `cwd` when given) must exist and be
/// executable; a bare name is looked up in `$PATH`.
fn find_program(name: &str, cwd: Option<&Path>) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if name.is_empty() {
        return Err("the program is empty".into());
    }
    if name.contains('/') {
        let p = match cwd {
            Some(c) if !name.starts_with('/') => c.join(name),
            _ => PathBuf::from(name),
        };
        return if executable(&p) { Ok(p) } else { Err(format!("program `{name}` not found or not executable")) };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| executable(p))
        .ok_or_else(|| format!("program `{name}` not found in $PATH"))
}
