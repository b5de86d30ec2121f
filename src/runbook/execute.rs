//! Running a confirmed [`Plan`]: steps in order, each `run` step in its own process group with
//! its output streamed line by line; a timeout or a cancel ends the whole group (SIGTERM, then
//! SIGKILL after a grace). A failing step stops the run. The run ends with a [`RunRecord`], the
//! audit of what ran, which the agent and `runbook run` journal.

use super::lock::RunLock;
use super::plan::{human, Action, Plan};
use super::probe::ProblemProbe;
use super::silence::{silences_for, SilenceSink};
use super::webhook::HttpRequest;
use super::RunbookError;
pub use crate::model::run::{Outcome, RunRecord, StepRecord, StepStatus, Stream, OUTPUT_CAP_BYTES};
use crate::model::Timestamp;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{mpsc, watch};

/// Cancels a run: the running step's process group is ended and the run stops.
#[derive(Debug, Clone)]
pub struct CancelToken(Arc<watch::Sender<bool>>);

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken(Arc::new(watch::channel(false).0))
    }
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// One line of live output (redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub runbook: String,
    /// 0-based step index.
    pub step: usize,
    pub stream: Stream,
    pub text: String,
}

/// Runs plans.
#[derive(Clone)]
pub struct Executor {
    /// Where run locks live (see [`super::lock`]).
    pub lock_dir: PathBuf,
    /// Refuse every execution.
    pub readonly: bool,
    /// What `check` and `escalate` steps ask.
    pub probe: Arc<dyn ProblemProbe>,
    /// Between SIGTERM and SIGKILL of a process group.
    pub kill_grace: Duration,
    /// Where `silence` steps create their silence; `None` skips them (no Alertmanager here).
    pub silences: Option<Arc<dyn SilenceSink>>,
}

impl Executor {
    /// An executor with locks under `lock_dir`, a 2 s kill grace, not read-only.
    pub fn new(lock_dir: impl Into<PathBuf>, probe: Arc<dyn ProblemProbe>) -> Executor {
        Executor {
            lock_dir: lock_dir.into(),
            readonly: false,
            probe,
            kill_grace: Duration::from_secs(2),
            silences: None,
        }
    }

    /// Runs `plan` (holding its (runbook, entity) lock), streaming lines into `out`. Refused in
    /// read-only mode or while another process runs the same runbook on the same entity.
    pub fn run<'a>(
        &'a self,
        plan: &'a Plan,
        out: &'a mpsc::UnboundedSender<OutputLine>,
        cancel: &'a CancelToken,
    ) -> Pin<Box<dyn Future<Output = Result<RunRecord, RunbookError>> + Send + 'a>> {
        Box::pin(async move {
            let lock = self.acquire(plan)?;
            Ok(self.run_holding(plan, lock, out, cancel).await)
        })
    }

    /// What must hold before `plan` may run: not read-only, and its (runbook, entity) lock,
    /// which is returned. A caller that records the start of a run before it runs (the agent)
    /// takes this first, so a refused run leaves no trace but the refusal.
    pub fn acquire(&self, plan: &Plan) -> Result<RunLock, RunbookError> {
        if self.readonly {
            return Err(RunbookError::Readonly(plan.runbook.clone()));
        }
        RunLock::acquire(&self.lock_dir, &plan.runbook, &plan.entity, &plan.operator)
    }

    /// Runs `plan` holding `lock` (from [`Executor::acquire`]; released when the run ends).
    pub fn run_holding<'a>(
        &'a self,
        plan: &'a Plan,
        lock: RunLock,
        out: &'a mpsc::UnboundedSender<OutputLine>,
        cancel: &'a CancelToken,
    ) -> Pin<Box<dyn Future<Output = RunRecord> + Send + 'a>> {
        Box::pin(async move {
            let _lock = lock;
            let started = tokio::time::Instant::now();
            let mut record = RunRecord {
                runbook: plan.runbook.clone(),
                file: plan.file.clone(),
                problem: plan.problem.clone(),
                entity: plan.entity.clone(),
                operator: plan.operator.clone(),
                started_at: Timestamp::wall_clock(),
                finished_at: Timestamp::wall_clock(),
                plan: plan.lines(),
                steps: Vec::new(),
                outcome: Outcome::Succeeded,
                auto: false,
                escalation: None,
            };
            let mut last_check: Option<bool> = None;
            for step in &plan.steps {
                let note = |text: String| {
                    let _ = out.send(OutputLine {
                        runbook: plan.runbook.clone(),
                        step: step.index,
                        stream: Stream::Note,
                        text,
                    });
                };
                let mut rec = StepRecord {
                    index: step.index,
                    kind: String::new(),
                    status: StepStatus::Succeeded,
                    started_at: Timestamp::wall_clock(),
                    finished_at: Timestamp::wall_clock(),
                    exit_code: None,
                    signal: None,
                    http_status: None,
                    output: String::new(),
                    truncated: false,
                    detail: String::new(),
                };
                if cancel.is_cancelled() {
                    record.outcome = Outcome::Cancelled;
                    break;
                }
                match &step.action {
                    Action::Run { argv, program, env, cwd, timeout } => {
                        rec.kind = "run".into();
                        note(format!("step {}: run {}", step.index + 1, plan.redact(&argv.join(" "))));
                        self.run_process(
                            plan,
                            step.index,
                            argv,
                            program,
                            env,
                            cwd.as_deref(),
                            *timeout,
                            out,
                            cancel,
                            &mut rec,
                        )
                        .await;
                    }
                    Action::Http { request, timeout } => {
                        rec.kind = "http".into();
                        note(format!("step {}: {} {}", step.index + 1, request.method, plan.redact(&request.url)));
                        self.http(plan, request, *timeout, cancel, &mut rec).await;
                    }
                    Action::Silence { matchers, duration, comment } => {
                        rec.kind = "silence".into();
                        note(format!("step {}: silence {} for {}", step.index + 1, plan.problem, human(*duration)));
                        self.silence(plan, matchers, *duration, comment, cancel, &mut rec).await;
                    }
                    Action::Check { after } => {
                        rec.kind = "check".into();
                        note(format!("step {}: checking {} in {}", step.index + 1, plan.problem, human(*after)));
                        let verdict = self.check(plan, *after, cancel, &mut rec).await;
                        if verdict == Some(false) {
                            last_check = Some(false);
                        }
                    }
                    Action::Escalate { after, to } => {
                        rec.kind = "escalate".into();
                        let wait = after.saturating_sub(started.elapsed());
                        note(format!(
                            "step {}: escalating to {} unless mitigated in {}",
                            step.index + 1,
                            to.runbook,
                            human(wait)
                        ));
                        if self.check(plan, wait, cancel, &mut rec).await == Some(false) {
                            let nested = self.run(to, out, cancel).await;
                            rec.finished_at = Timestamp::wall_clock();
                            match nested {
                                Ok(r) => {
                                    rec.status = StepStatus::Escalated;
                                    rec.detail = format!("escalated to {}: {:?}", to.runbook, r.outcome);
                                    record.escalation = Some(Box::new(r));
                                }
                                Err(e) => {
                                    rec.status = StepStatus::Failed;
                                    rec.detail = plan.redact(&format!("escalation to {} refused: {e}", to.runbook));
                                }
                            }
                        }
                    }
                }
                rec.finished_at = Timestamp::wall_clock();
                note(format!("step {}: {:?} {}", step.index + 1, rec.status, rec.detail).trim_end().to_string());
                let status = rec.status;
                record.steps.push(rec);
                match status {
                    StepStatus::Succeeded | StepStatus::Skipped | StepStatus::NotMitigated => {}
                    StepStatus::Escalated => {
                        record.outcome = Outcome::Escalated;
                        break;
                    }
                    StepStatus::Mitigated => {
                        record.outcome = Outcome::Mitigated;
                        break;
                    }
                    StepStatus::Cancelled => {
                        record.outcome = Outcome::Cancelled;
                        break;
                    }
                    StepStatus::Failed | StepStatus::TimedOut => {
                        record.outcome = Outcome::Failed;
                        break;
                    }
                }
            }
            if record.outcome == Outcome::Succeeded && last_check == Some(false) {
                record.outcome = Outcome::NotMitigated;
            }
            record.finished_at = Timestamp::wall_clock();
            record
        })
    }

    /// Creates one silence of exact-match matchers (the plan's, from the root-cause alert's
    /// labels) through [`Executor::silences`]; skipped where there is none or nothing to match.
    async fn silence(
        &self,
        plan: &Plan,
        matchers: &[(String, String)],
        duration: Duration,
        comment: &str,
        cancel: &CancelToken,
        rec: &mut StepRecord,
    ) {
        let Some(sink) = &self.silences else {
            rec.status = StepStatus::Skipped;
            rec.detail = "no Alertmanager known here (silences are created by the agent): not silenced".into();
            return;
        };
        if matchers.is_empty() {
            rec.status = StepStatus::Skipped;
            rec.detail = format!("{} has no alert labels to silence", plan.problem);
            return;
        }
        let labels: BTreeMap<String, String> = matchers.iter().cloned().collect();
        let length_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        let silences = silences_for([&labels], Timestamp::wall_clock(), length_ms, &plan.operator, comment);
        let Some(silence) = silences.first() else { return };
        let created = tokio::select! {
            r = sink.create(silence) => r,
            _ = cancel.cancelled() => {
                rec.status = StepStatus::Cancelled;
                rec.detail = "cancelled while creating the silence".into();
                return;
            }
        };
        match created {
            Ok(id) => {
                rec.detail = format!("silence {id} created in {} until {}", sink.via(), silence.ends_at.clock());
            }
            Err(e) => {
                rec.status = StepStatus::Failed;
                rec.detail = plan.redact(&format!("silence refused by {}: {e}", sink.via()));
            }
        }
    }

    /// Waits `after` (cancellable), then asks the probe. `Some(true)` mitigated, `Some(false)` not,
    /// `None` when cancelled or the probe failed (the step record says which).
    async fn check(&self, plan: &Plan, after: Duration, cancel: &CancelToken, rec: &mut StepRecord) -> Option<bool> {
        tokio::select! {
            _ = tokio::time::sleep(after) => {}
            _ = cancel.cancelled() => {
                rec.status = StepStatus::Cancelled;
                rec.detail = "cancelled while waiting".into();
                return None;
            }
        }
        match self.probe.probe(&plan.problem).await {
            Ok(p) => {
                let m = p.mitigated();
                rec.status = if m { StepStatus::Mitigated } else { StepStatus::NotMitigated };
                rec.detail = format!(
                    "{} {}: {}, {} active signals, {}",
                    plan.problem,
                    if m { "mitigated" } else { "not mitigated" },
                    if p.open { "open" } else { "resolved" },
                    p.active_signals,
                    p.impact
                );
                Some(m)
            }
            Err(e) => {
                rec.status = StepStatus::Failed;
                rec.detail = plan.redact(&format!("cannot tell whether {} is mitigated: {e}", plan.problem));
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_process(
        &self,
        plan: &Plan,
        step: usize,
        argv: &[String],
        program: &Path,
        env: &[(String, String)],
        cwd: Option<&Path>,
        timeout: Duration,
        out: &mpsc::UnboundedSender<OutputLine>,
        cancel: &CancelToken,
        rec: &mut StepRecord,
    ) {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(c) = cwd {
            cmd.current_dir(c);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                rec.status = StepStatus::Failed;
                rec.detail = plan.redact(&format!("cannot start {}: {e}", program.display()));
                return;
            }
        };
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        // If this future is dropped mid-step (the UI closes), the whole group goes with it.
        let mut guard = GroupGuard(pgid);
        let captured = Arc::new(Mutex::new(Captured::default()));
        let mut readers = tokio::task::JoinSet::new();
        let streams: [(Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>, Stream); 2] = [
            (child.stdout.take().map(|s| Box::new(s) as _), Stream::Stdout),
            (child.stderr.take().map(|s| Box::new(s) as _), Stream::Stderr),
        ];
        for (pipe, stream) in streams {
            let Some(pipe) = pipe else { continue };
            let (captured, out, redactor, runbook) =
                (captured.clone(), out.clone(), plan.redactor().clone(), plan.runbook.clone());
            readers.spawn(async move {
                let mut reader = BufReader::new(pipe);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let line = String::from_utf8_lossy(buf.strip_suffix(b"\n").unwrap_or(&buf));
                            let text = redactor.redact(&line);
                            if let Ok(mut c) = captured.lock() {
                                c.push(&text);
                            }
                            let _ = out.send(OutputLine { runbook: runbook.clone(), step, stream, text });
                        }
                    }
                }
            });
        }
        let ended = tokio::select! {
            s = child.wait() => Ok(s),
            _ = tokio::time::sleep(timeout) => Err(StepStatus::TimedOut),
            _ = cancel.cancelled() => Err(StepStatus::Cancelled),
        };
        let status = match ended {
            Ok(s) => {
                // Exited by itself: what it started on purpose (a daemon) may stay.
                guard.0 = None;
                s
            }
            Err(why) => {
                // The whole group: a grandchild must not outlive its step.
                signal_group(pgid, libc::SIGTERM);
                let waited = tokio::time::timeout(self.kill_grace, child.wait()).await;
                signal_group(pgid, libc::SIGKILL);
                guard.0 = None;
                let s = match waited {
                    Ok(s) => s,
                    Err(_) => child.wait().await,
                };
                rec.status = why;
                rec.detail = match why {
                    StepStatus::TimedOut => format!("timed out after {}; process group killed", human(timeout)),
                    _ => "cancelled; process group killed".to_string(),
                };
                s
            }
        };
        // Output still buffered in the pipes is read; a daemon the step left behind holding them
        // open does not hold the run.
        let _ =
            tokio::time::timeout(Duration::from_millis(500), async { while readers.join_next().await.is_some() {} })
                .await;
        readers.abort_all();
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(s) => {
                rec.exit_code = s.code();
                rec.signal = s.signal();
                if rec.status == StepStatus::Succeeded && !s.success() {
                    rec.status = StepStatus::Failed;
                    rec.detail = match (s.code(), s.signal()) {
                        (Some(c), _) => format!("exit status {c}"),
                        (None, Some(sig)) => format!("killed by signal {sig}"),
                        _ => "failed".into(),
                    };
                } else if rec.status == StepStatus::Succeeded {
                    rec.detail = "exit status 0".into();
                }
            }
            Err(e) => {
                rec.status = StepStatus::Failed;
                rec.detail = format!("waiting for the process: {e}");
            }
        }
        let kept = captured.lock().map(|c| (c.text.clone(), c.truncated));
        if let Ok((text, truncated)) = kept {
            rec.output = text;
            rec.truncated = truncated;
        }
    }

    async fn http(
        &self,
        plan: &Plan,
        request: &HttpRequest,
        timeout: Duration,
        cancel: &CancelToken,
        rec: &mut StepRecord,
    ) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fail = |rec: &mut StepRecord, m: String| {
            rec.status = StepStatus::Failed;
            rec.detail = plan.redact(&m);
        };
        let client = match reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build() {
            Ok(c) => c,
            Err(e) => return fail(rec, format!("HTTP client: {e}")),
        };
        let method = match reqwest::Method::from_bytes(request.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return fail(rec, format!("`{}` is not an HTTP method", request.method)),
        };
        let mut builder = client.request(method, &request.url);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        if !request.body.is_null() {
            match serde_json::to_vec(&request.body) {
                Ok(b) => builder = builder.body(b),
                Err(e) => return fail(rec, format!("body: {e}")),
            }
        }
        let sent = tokio::select! {
            r = builder.send() => r,
            _ = cancel.cancelled() => {
                rec.status = StepStatus::Cancelled;
                rec.detail = "cancelled".into();
                return;
            }
        };
        match sent {
            Ok(resp) => {
                let status = resp.status();
                rec.http_status = Some(status.as_u16());
                let body = resp.bytes().await.unwrap_or_default();
                let mut c = Captured::default();
                c.push(&plan.redact(&String::from_utf8_lossy(&body[..body.len().min(OUTPUT_CAP_BYTES)])));
                rec.output = c.text;
                rec.truncated = body.len() > OUTPUT_CAP_BYTES;
                if status.is_success() {
                    rec.detail = format!("HTTP {status}");
                } else {
                    fail(rec, format!("HTTP {status} from {}", crate::sources::http::redact(&request.url)));
                }
            }
            Err(e) => fail(rec, format!("{} {}: {e}", request.method, crate::sources::http::redact(&request.url))),
        }
    }
}

/// Output kept for the record, capped.
#[derive(Default)]
struct Captured {
    text: String,
    truncated: bool,
}

impl Captured {
    fn push(&mut self, line: &str) {
        if self.text.len() + line.len() + 1 > OUTPUT_CAP_BYTES {
            self.truncated = true;
            return;
        }
        self.text.push_str(line);
        self.text.push('\n');
    }
}

/// Kills the process group when dropped while armed.
struct GroupGuard(Option<i32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, libc::SIGKILL);
    }
}

fn signal_group(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid.filter(|p| *p > 1) {
        // SAFETY: killpg has no memory effects; a group already gone gives ESRCH, ignored.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}
