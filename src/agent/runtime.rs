//! The live agent: the configured sources pulled on their own schedules, at most
//! `sources.max_concurrent` at a time, what they saw fed to the engine in configuration order,
//! each source's health kept for the status bar, and the UI's confirmed requests (silences,
//! runbook runs and cancels) carried out and journaled. `faultline agent`, the live UI and the
//! tests all run this.
//!
//! Requests also come from viewers in other processes, queued in the journal's `requests`
//! table ([`crate::journal::RequestQueue`]): polled every [`REQUEST_POLL`], carried out by the
//! same code, their outcome written back to the row and journaled as events like any other.
//!
//! A runbook run is checked against the agent's own state first (read-only, the problem open,
//! the runbook loaded and matching, the plan filled in here equal line for line to the plan
//! the user confirmed, the run lock free): refused, nothing runs and nothing is journaled but
//! the notice. Else its start is journaled and it runs in its own task, so pulls and other
//! requests go on; its output streams to the UI in batches ([`Feed::RunOutput`]) and its
//! end comes back to the loop, which journals the record. A queued run's row stays `running`
//! for as long as the run lasts (the queue loop does not wait for it) and gets `done` (the
//! run succeeded or mitigated the problem) or `failed` (failed, cancelled, not mitigated) with
//! the run's summary when it ends. `check` steps ask the agent's live problems ([`LiveProbe`]).
//! Auto-remediation ([`super::remediate`]) starts runs by itself after the events of a pull.
//!
//! A source that fails keeps what it already contributed: the engine's state is never rolled
//! back, the source is reported stale with the reason, and the next cycle asks again.

use super::remediate::{self, Remediation};
use super::requests;
use super::{Agent, ResumeError, Upkeep};
use crate::config::{Config, RunbooksSection};
use crate::journal::{Journal, JournalError, QueuedRequest, RequestState, REQUEST_MAX_AGE_MS};
use crate::model::{
    EventKind, Observation, ObservationKind, Outcome, ProblemEvent, ProblemId, ProblemSet, ProblemStatus, RunRecord,
    SilenceRecord, Timestamp,
};
use crate::runbook::silence::{Silence, SilenceSink};
use crate::runbook::LiveProbe;
use crate::runbook::{
    CancelRequest, CancelToken, Executor, OutputLine, Plan, RunLock, RunRequest, RunbookError, RunbookSet, Stream,
};
use crate::sources::alertmanager::{matcher_strings, AlertmanagerSource, SilencePlan, SilenceTarget, Silencer};
use crate::sources::http::FetchError;
use crate::sources::prometheus::{Health, PrometheusSource, Pull};
use crate::sources::Source;
use crate::ui::{Feed, Request, SourceHealth};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// How a source is doing: what `agent --once` prints and the status bar shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatus {
    pub name: String,
    /// The last cycle had no failed request.
    pub healthy: bool,
    /// What went wrong in the last cycle, one line per failed request.
    pub problems: Vec<String>,
    /// Data the last cycle skipped while the source was fine (NaN samples, unmapped series).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Wall time of the first failed cycle of the failures going on now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<Timestamp>,
    /// Wall time of the last cycle without failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<Timestamp>,
    /// Observations of the last cycle.
    pub observations: usize,
    /// Response bytes read in the last cycle.
    pub bytes: usize,
    /// Wall time the last cycle took, in milliseconds.
    pub elapsed_ms: u64,
    /// Cycles pulled so far.
    pub cycles: u64,
    /// Observations of the last cycle not journaled because they said nothing new (a healthy
    /// target's `TargetDown` resolved again).
    #[serde(skip_serializing_if = "is_zero")]
    pub unjournaled: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SourceStatus {
    fn new(name: &str) -> SourceStatus {
        SourceStatus {
            name: name.to_string(),
            healthy: true,
            problems: Vec::new(),
            notes: Vec::new(),
            stale_since: None,
            last_ok: None,
            observations: 0,
            bytes: 0,
            elapsed_ms: 0,
            cycles: 0,
            unjournaled: 0,
        }
    }

    /// For the status bar: ok, or stale with when it started and why.
    pub fn health(&self) -> SourceHealth {
        if self.healthy {
            return match self.notes.first() {
                None => SourceHealth::Ok,
                Some(first) if self.notes.len() == 1 => SourceHealth::Noted { note: first.clone() },
                Some(first) => SourceHealth::Noted { note: format!("{first} (and {} more)", self.notes.len() - 1) },
            };
        }
        let first = self.problems.first().map_or("no answer", String::as_str);
        let more = match self.problems.len() {
            0 | 1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        let since = self.stale_since.map(|t| format!("since {}: ", t.clock())).unwrap_or_default();
        SourceHealth::Stale { reason: format!("{since}{first}{more}") }
    }

    fn record(&mut self, pull: &Pull, now: Timestamp, elapsed: Duration) {
        self.cycles += 1;
        self.observations = pull.observations.len();
        self.bytes = pull.bytes;
        self.elapsed_ms = elapsed.as_millis() as u64;
        self.problems = pull.problems.clone();
        if pull.notes != self.notes && !pull.notes.is_empty() {
            // Once per change, not every cycle: the same skipped data comes back each time.
            tracing::warn!(source = %self.name, notes = ?pull.notes, "data skipped");
        }
        self.notes = pull.notes.clone();
        self.healthy = pull.health() == Health::Ok;
        if self.healthy {
            self.last_ok = Some(now);
            self.stale_since = None;
        } else {
            self.stale_since = self.stale_since.or(Some(now));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("source `{name}`: {source}")]
    Source { name: String, source: FetchError },
    #[error(transparent)]
    Resume(#[from] ResumeError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A runbook file is wrong (names file, line and key).
    #[error("runbooks: {0}")]
    Runbooks(#[from] RunbookError),
    /// A `[[runbooks.auto]]` policy names a runbook that is not loaded.
    #[error("runbooks.auto[{index}].runbook: no runbook `{runbook}` in {dir} (loaded: {known})")]
    Policy { index: usize, runbook: String, dir: String, known: String },
}

/// Most output lines of a run handed to the UI per batch; more within one batch interval are
/// counted, not sent (the run's record keeps its output, capped).
const OUTPUT_BATCH_LINES: usize = 200;

/// How long a run's output is gathered before it goes to the UI.
const OUTPUT_BATCH_EVERY: Duration = Duration::from_millis(100);

/// How long past the kill grace a stopping agent waits for its cancelled runs to end and be
/// journaled (the live UI gives the agent 5 s in all to stop).
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The runbooks of `[runbooks] dir`; a directory that is not there means none.
pub fn load_runbooks(section: &RunbooksSection) -> Result<RunbookSet, RunbookError> {
    match section.dir() {
        Some(dir) if dir.is_dir() => RunbookSet::load_dir(&dir),
        _ => Ok(RunbookSet::default()),
    }
}

/// How often the agent looks for requests queued by viewers in the journal.
pub const REQUEST_POLL: Duration = Duration::from_millis(250);

/// Each pulled source's outcome and how long it took, by slot index.
type Fetched = BTreeMap<usize, (Pull, Duration)>;

struct Slot {
    /// Behind a lock so a pull can run in its own task and the source survives a panic there.
    source: Arc<Mutex<Source>>,
    interval: Duration,
    next_due: Instant,
    status: SourceStatus,
}

/// A run in progress.
struct Running {
    cancel: CancelToken,
    /// The queued request it carries out: its row gets the outcome when the run ends.
    row: Option<i64>,
}

/// What a run's task hands back when the run is over.
struct RunEnded {
    problem: ProblemId,
    record: RunRecord,
}

/// The engine, its journal and the live sources.
pub struct Runtime {
    agent: Agent,
    problems: ProblemSet,
    slots: Vec<Slot>,
    max_concurrent: usize,
    /// Where silences can go, by Alertmanager source name.
    silencers: BTreeMap<String, Silencer>,
    silence_target: Option<SilenceTarget>,
    readonly: bool,
    runbooks: Arc<RunbookSet>,
    executor: Executor,
    /// What `check` steps ask: the problems as this agent folds them, kept up to date.
    probe: LiveProbe,
    /// Runs in progress, by (problem, runbook).
    runs: BTreeMap<(ProblemId, String), Running>,
    ended_tx: UnboundedSender<RunEnded>,
    ended_rx: Option<UnboundedReceiver<RunEnded>>,
    remediation: Remediation,
    /// Problems whose root-cause ranking changed since auto-remediation last looked.
    ranked: BTreeSet<ProblemId>,
    /// Where runs stream their output (set by [`Runtime::run`]).
    feed: Option<UnboundedSender<Feed>>,
}

/// The agent's first Alertmanager, where runbook `silence` steps create their silence.
struct AlertmanagerSilences {
    via: String,
    silencer: Silencer,
}

impl SilenceSink for AlertmanagerSilences {
    fn via(&self) -> &str {
        &self.via
    }

    fn create<'a>(&'a self, silence: &'a Silence) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(self.silencer.create_silence(silence))
    }
}

impl Runtime {
    /// The sources of `config` around an agent that goes on from `journal` when it holds
    /// events or observations (see [`Agent::resume`]). Returns the runtime and the journal's events.
    pub fn new(config: &Config, journal: Option<Journal>) -> Result<(Runtime, Vec<ProblemEvent>), RuntimeError> {
        let mut sources = Vec::new();
        let mut silencers = BTreeMap::new();
        let mut silence_target = None;
        let mut step_silences: Option<Arc<dyn SilenceSink>> = None;
        for p in &config.sources.prometheus {
            let source = PrometheusSource::new(p.clone(), config.mapping.clone())
                .map_err(|source| RuntimeError::Source { name: p.name.clone(), source })?;
            sources.push((Source::Prometheus(Box::new(source)), p.interval.millis()));
        }
        for a in &config.sources.alertmanager {
            let source = AlertmanagerSource::new(a.clone(), config.mapping.clone())
                .map_err(|source| RuntimeError::Source { name: a.name.clone(), source })?;
            silencers.insert(a.name.clone(), source.silencer());
            silence_target.get_or_insert_with(|| source.silence_target());
            step_silences.get_or_insert_with(|| {
                Arc::new(AlertmanagerSilences { via: a.name.clone(), silencer: source.silencer() })
            });
            sources.push((Source::Alertmanager(Box::new(source)), a.interval.millis()));
        }
        for t in &config.sources.topology {
            let source = crate::sources::topology_file::TopologyFileSource::new(t.clone());
            sources.push((Source::Topology(Box::new(source)), t.interval.millis()));
        }
        for c in &config.sources.change_feed {
            let source = crate::sources::change_feed::ChangeFeedSource::new(c.clone());
            sources.push((Source::ChangeFeed(Box::new(source)), c.interval.millis()));
        }
        for c in &config.sources.cloudwatch {
            let source = crate::sources::cloudwatch::CloudWatchSource::new(c.clone(), config.mapping.clone())
                .map_err(|source| RuntimeError::Source { name: c.name.clone(), source })?;
            sources.push((Source::CloudWatch(Box::new(source)), c.interval.millis()));
        }
        for l in &config.sources.loki {
            let source = crate::sources::loki::LokiSource::new(l.clone(), config.mapping.clone())
                .map_err(|source| RuntimeError::Source { name: l.name.clone(), source })?;
            sources.push((Source::Loki(Box::new(source)), l.interval.millis()));
        }
        let (mut agent, events, observations) = match journal {
            // Observations without events (a topology, quiet metrics) are resumed too, so the
            // engine and the sources go on from them.
            Some(j) if j.last_seq()? > 0 || j.has_observations()? || !j.snapshots()?.is_empty() => {
                let r = Agent::resume(config.engine(), j)?;
                (r.agent, r.events, r.observations)
            }
            j => (Agent::new(config.engine(), j), Vec::new(), Vec::new()),
        };
        agent.set_upkeep(Upkeep {
            snapshot_every_ms: Some(config.journal.snapshot_every.millis()),
            retention_ms: Some(config.journal.retention.millis()),
            skip_quiet: true,
        });
        agent.set_compaction(
            config
                .journal
                .compact_after
                .zip(config.journal.archive.clone())
                .map(|(after, dir)| crate::agent::Compaction { after_ms: after.millis(), archive_dir: dir }),
        );
        for (source, _) in &mut sources {
            source.restore(&observations);
        }
        if let Some(j) = agent.journal_mut() {
            if !j.is_read_only() {
                // Viewers have no configuration: they learn here where their silences would go.
                let target = silence_target.as_ref().map(requests::encode_target);
                j.set_meta(requests::SILENCE_TARGET_KEY, target.as_deref())?;
                let outcome = "failed: the agent stopped while carrying it out; it may or may not have \
                               happened (check the problem's timeline and the system it acted on)";
                for r in j.abandon_running_requests(outcome)? {
                    tracing::warn!(id = r.id, who = %r.who, kind = %r.kind, "request left running by a stopped agent");
                }
            }
        }
        let now = Instant::now();
        let slots = sources
            .into_iter()
            .map(|(source, interval_ms)| Slot {
                status: SourceStatus::new(source.name()),
                source: Arc::new(Mutex::new(source)),
                interval: Duration::from_millis(interval_ms.max(1000) as u64),
                next_due: now,
            })
            .collect();
        let runbooks = load_runbooks(&config.runbooks)?;
        let mut remediation = Remediation::new(&config.runbooks.auto);
        for (index, policy) in config.runbooks.auto.iter().enumerate() {
            if runbooks.get(&policy.runbook).is_none() {
                return Err(RuntimeError::Policy {
                    index,
                    runbook: policy.runbook.clone(),
                    dir: config
                        .runbooks
                        .dir()
                        .map_or_else(|| "(no runbook directory)".into(), |d| d.display().to_string()),
                    known: runbooks.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let problems = ProblemSet::fold(&events);
        let probe = LiveProbe::new();
        for p in problems.problems.values() {
            probe.update(p);
        }
        for e in &events {
            if let EventKind::RunbookStarted { runbook, auto: true, .. } = &e.kind {
                remediation.remember(e.problem, runbook, e.at);
            }
        }
        let mut executor = Executor::new(config.runbooks.lock_dir(), Arc::new(probe.clone()));
        executor.silences = step_silences;
        let (ended_tx, ended_rx) = tokio::sync::mpsc::unbounded_channel();
        let runtime = Runtime {
            agent,
            problems,
            slots,
            max_concurrent: config.sources.max_concurrent.max(1),
            silencers,
            silence_target,
            readonly: false,
            runbooks: Arc::new(runbooks),
            executor,
            probe,
            runs: BTreeMap::new(),
            ended_tx,
            ended_rx: Some(ended_rx),
            remediation,
            ranked: BTreeSet::new(),
            feed: None,
        };
        if !events.is_empty() {
            tracing::info!(events = events.len(), observations = observations.len(), "resumed from the journal");
        }
        Ok((runtime, events))
    }

    /// Refuse every request that changes something elsewhere (`--readonly`): silences, runs,
    /// auto-remediation.
    pub fn set_readonly(&mut self, readonly: bool) {
        self.readonly = readonly;
        self.executor.readonly = readonly;
        self.remediation.set_readonly(readonly);
    }

    /// The loaded runbooks (what the UI offers).
    pub fn runbooks(&self) -> Arc<RunbookSet> {
        Arc::clone(&self.runbooks)
    }

    /// Between SIGTERM and SIGKILL of a run's process group (tests shorten it).
    pub fn set_kill_grace(&mut self, grace: Duration) {
        self.executor.kill_grace = grace;
    }

    /// Feeds one observation as if a source had seen it (journaled, folded, offered to
    /// auto-remediation at the next turn of [`Runtime::run`]) and returns its events.
    pub fn observe(&mut self, obs: &Observation) -> Result<Vec<ProblemEvent>, JournalError> {
        let mut events = Vec::new();
        self.agent.feed(obs, &mut events)?;
        self.note_events(&events);
        Ok(events)
    }

    /// Folds events into the problems, the live probe and the problems auto-remediation looks at.
    fn note_events(&mut self, events: &[ProblemEvent]) {
        let mut touched = BTreeSet::new();
        for e in events {
            self.problems.apply(e);
            touched.insert(e.problem);
            if matches!(e.kind, EventKind::RootCauseRanked { .. }) {
                self.ranked.insert(e.problem);
            }
        }
        for id in touched {
            if let Some(p) = self.problems.problems.get(&id) {
                self.probe.update(p);
            }
        }
    }

    /// Where the UI's silences go: the first configured Alertmanager.
    pub fn silence_target(&self) -> Option<&SilenceTarget> {
        self.silence_target.as_ref()
    }

    /// The problems as the events so far fold.
    pub fn problems(&self) -> &ProblemSet {
        &self.problems
    }

    /// Each source's status, in configuration order.
    pub fn statuses(&self) -> Vec<&SourceStatus> {
        self.slots.iter().map(|s| &s.status).collect()
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Pulls every source once, whether due or not, and returns the events.
    pub async fn cycle(&mut self, now: Timestamp) -> Result<Vec<ProblemEvent>, JournalError> {
        let all: Vec<usize> = (0..self.slots.len()).collect();
        let before: Vec<SourceHealth> = self.slots.iter().map(|s| s.status.health()).collect();
        let results = self.fetch(&all, now).await;
        let events = self.apply(results, now)?;
        self.keep_history(&all, &before, now)?;
        Ok(events)
    }

    /// Pulls the sources `which`, at most `max_concurrent` at a time. The future holds no borrow
    /// of the runtime, so requests can be served while a slow source is being waited for.
    fn fetch(&self, which: &[usize], now: Timestamp) -> impl Future<Output = Fetched> + 'static {
        let gate = Arc::new(Semaphore::new(self.max_concurrent));
        let mut tasks = JoinSet::new();
        let mut index_of = BTreeMap::new();
        for &i in which {
            let source = Arc::clone(&self.slots[i].source);
            let gate = Arc::clone(&gate);
            let handle = tasks.spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = gate.acquire_owned().await;
                let started = Instant::now();
                let pull = source.lock().await.pull(now).await;
                (pull, started.elapsed())
            });
            index_of.insert(handle.id(), i);
        }
        let names: BTreeMap<usize, String> = which.iter().map(|&i| (i, self.slots[i].status.name.clone())).collect();
        async move {
            let mut results = BTreeMap::new();
            while let Some(joined) = tasks.join_next_with_id().await {
                match joined {
                    Ok((id, result)) => {
                        if let Some(&i) = index_of.get(&id) {
                            results.insert(i, result);
                        }
                    }
                    Err(e) => {
                        let Some(&i) = index_of.get(&e.id()) else { continue };
                        let what = if e.is_panic() { panic_text(e.into_panic()) } else { "cancelled".into() };
                        tracing::error!(source = %names[&i], %what, "source task failed");
                        let pull = Pull {
                            problems: vec![format!("the pull panicked ({what}); see the log")],
                            ..Pull::default()
                        };
                        results.insert(i, (pull, Duration::ZERO));
                    }
                }
            }
            results
        }
    }

    /// Feeds what each source saw to the engine in configuration order, so the result does
    /// not depend on who answered first, and records each source's status.
    fn apply(&mut self, results: Fetched, now: Timestamp) -> Result<Vec<ProblemEvent>, JournalError> {
        let mut events = Vec::new();
        for (i, (pull, elapsed)) in results {
            let slot = &mut self.slots[i];
            slot.status.record(&pull, now, elapsed);
            let status = &slot.status;
            if status.healthy {
                tracing::info!(
                    source = %status.name,
                    observations = status.observations,
                    bytes = status.bytes,
                    elapsed_ms = status.elapsed_ms,
                    "pulled"
                );
            } else {
                tracing::warn!(source = %status.name, problems = ?status.problems, elapsed_ms = status.elapsed_ms, "stale");
            }
            let start = events.len();
            // One transaction per pull; its events are folded and published only once stored.
            let journaled = self.agent.feed_batch(&pull.observations, &mut events)?;
            self.slots[i].status.unjournaled = pull.observations.len() - journaled;
            let new = events.split_off(start);
            self.note_events(&new);
            events.extend(new);
        }
        Ok(events)
    }

    /// Carries out a confirmed silence plan: creates each silence in Alertmanager (stopping at
    /// the first refusal) and records the outcome, success or failure with the server's answer,
    /// in the problem's timeline. Returns the events and a one-line notice for the user.
    pub async fn silence(&mut self, plan: SilencePlan) -> Result<(Vec<ProblemEvent>, String), JournalError> {
        if self.readonly {
            return Ok((Vec::new(), "read-only (--readonly): silence refused".into()));
        }
        let Some(silencer) = self.silencers.get(&plan.target.via) else {
            return Ok((Vec::new(), format!("no Alertmanager source named `{}`: silence not sent", plan.target.via)));
        };
        let now = Timestamp::wall_clock();
        let silences = plan.silences(now);
        let mut created = Vec::new();
        let mut error = None;
        for s in &silences {
            match silencer.create_silence(s).await {
                Ok(id) => created.push(SilenceRecord {
                    id,
                    matchers: s
                        .matchers
                        .iter()
                        .flat_map(|m| matcher_strings(&BTreeMap::from([(m.name.clone(), m.value.clone())])))
                        .collect(),
                    starts_at: s.starts_at,
                    ends_at: s.ends_at,
                }),
                Err(e) => {
                    error = Some(format!("{e} ({} of {} created before it)", created.len(), silences.len()));
                    break;
                }
            }
        }
        let notice = match &error {
            None => {
                let until = created.iter().map(|s| s.ends_at).max().unwrap_or(now);
                format!(
                    "{}: {} silence(s) created in {} until {}",
                    plan.problem,
                    created.len(),
                    plan.target.via,
                    until.clock()
                )
            }
            Some(e) => format!("{}: silence FAILED: {e}", plan.problem),
        };
        tracing::info!(problem = %plan.problem, by = %plan.created_by, created = created.len(), error = ?error, "silence");
        let obs = Observation {
            at: now,
            source: "operator".into(),
            kind: ObservationKind::Silence {
                problem: plan.problem,
                by: plan.created_by.clone(),
                via: plan.target.via.clone(),
                silences: created,
                error,
            },
        };
        let mut events = Vec::new();
        self.agent.feed(&obs, &mut events)?;
        self.note_events(&events);
        Ok((events, notice))
    }

    /// Runs until `stop` completes or the UI side goes away (`requests` closed): each source
    /// is pulled when due, events and health changes go to `feed`, requests are carried out.
    pub async fn run(
        mut self,
        feed: Option<UnboundedSender<Feed>>,
        mut requests: Option<UnboundedReceiver<Request>>,
        stop: impl Future<Output = ()>,
    ) -> Result<(), JournalError> {
        tokio::pin!(stop);
        self.feed = feed.clone();
        let Some(mut ended) = self.ended_rx.take() else {
            tracing::error!("the runtime was already run once");
            return Ok(());
        };
        let mut queue_tick = tokio::time::interval(REQUEST_POLL);
        queue_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let has_queue = self.agent.journal().is_some_and(|j| !j.is_read_only());
        let has_feed = feed.is_some();
        let send = |message: Feed| {
            if let Some(f) = &feed {
                let _ = f.send(message);
            }
        };
        loop {
            self.start_auto_runs(&send)?;
            let now = Instant::now();
            let due: Vec<usize> = (0..self.slots.len()).filter(|&i| self.slots[i].next_due <= now).collect();
            let before: Vec<SourceHealth> = due.iter().map(|&i| self.slots[i].status.health()).collect();
            let at = Timestamp::wall_clock();
            // Pull what is due, or wait for the next source to be due. Requests are served
            // meanwhile: a source that hangs until its timeout must not hold up a silence.
            let fetch = (!due.is_empty()).then(|| self.fetch(&due, at));
            let wake = self.slots.iter().map(|s| s.next_due).min().unwrap_or_else(|| now + Duration::from_secs(30));
            let work = async move {
                match fetch {
                    Some(fetch) => Some(fetch.await),
                    None => {
                        tokio::time::sleep_until(wake.into()).await;
                        None
                    }
                }
            };
            tokio::pin!(work);
            let results = loop {
                tokio::select! {
                    results = &mut work => break results,
                    request = next_request(&mut requests) => match request {
                        None => {
                            tracing::info!("the UI is gone; stopping");
                            return self.stop(&mut ended, &send).await;
                        }
                        Some(request) => self.serve(request, &send).await?,
                    },
                    _ = queue_tick.tick(), if has_queue => self.serve_queued(&send).await?,
                    Some(run) = ended.recv() => self.finish_run(run, &send)?,
                    _ = &mut stop => {
                        tracing::info!("stopping");
                        return self.stop(&mut ended, &send).await;
                    }
                }
            };
            let Some(results) = results else { continue };
            // What the views draw the metric context and the topology from (a UI is attached).
            let observations: Vec<Observation> = if has_feed {
                results.values().flat_map(|(pull, _)| pull.observations.iter().cloned()).collect()
            } else {
                Vec::new()
            };
            let events = self.apply(results, at)?;
            self.keep_history(&due, &before, at)?;
            let after = Instant::now();
            for (&i, old) in due.iter().zip(before) {
                let slot = &mut self.slots[i];
                slot.next_due = after + slot.interval;
                let health = slot.status.health();
                if health != old || slot.status.cycles == 1 {
                    send(Feed::Source { name: slot.status.name.clone(), health });
                }
                // Every good pull, new data or not: a quiet source is not a lagging one.
                if let Some(covered) = slot.status.last_ok.filter(|_| slot.status.healthy) {
                    send(Feed::Pulled { name: slot.status.name.clone(), covered });
                }
            }
            if !events.is_empty() {
                send(Feed::Events(events));
            }
            // After the events, so the series of a new anomaly are already kept in full.
            if !observations.is_empty() {
                send(Feed::Observations(observations));
            }
        }
    }

    /// What the history reads besides the events (`faultline report`, `similar`): each source's
    /// health when it changes (or on its first pull), and the per-problem summaries brought up to
    /// the events just journaled, one chunk a cycle at the most.
    fn keep_history(&mut self, due: &[usize], before: &[SourceHealth], at: Timestamp) -> Result<(), JournalError> {
        let changed: Vec<(String, Option<String>)> = due
            .iter()
            .map(|&i| &self.slots[i].status)
            .zip(before)
            .filter(|(status, old)| status.health() != **old || status.cycles == 1)
            .map(|(status, _)| (status.name.clone(), (!status.healthy).then(|| status.problems.join("; "))))
            .collect();
        let Some(j) = self.agent.journal_mut().filter(|j| !j.is_read_only()) else { return Ok(()) };
        for (name, stale) in changed {
            j.record_source_health(&name, at, stale.as_deref())?;
        }
        crate::history::store::catch_up_at_most(j, 1)?;
        Ok(())
    }

    /// Carries out one request and tells the UI the outcome.
    async fn serve(&mut self, request: Request, send: &impl Fn(Feed)) -> Result<(), JournalError> {
        match request {
            Request::Silence(plan) => {
                let (events, notice) = self.silence(plan).await?;
                if !events.is_empty() {
                    send(Feed::Events(events));
                }
                send(Feed::Notice(notice));
            }
            Request::Run(request) => {
                let notice = self.start_requested(request, None, send)?.unwrap_or_else(|refused| refused);
                send(Feed::Notice(notice));
            }
            Request::Cancel(request) => send(Feed::Notice(self.cancel(&request).1)),
        }
        Ok(())
    }

    /// Carries out the requests viewers queued in the journal, oldest first: each is marked
    /// `running` before anything is done (so a crash cannot run it twice), refused when older
    /// than [`REQUEST_MAX_AGE_MS`] or unreadable, else served like the UI's own requests; its
    /// row then gets the outcome, which is also the notice.
    pub async fn serve_queued(&mut self, send: &impl Fn(Feed)) -> Result<(), JournalError> {
        let pending = match self.agent.journal() {
            Some(j) => j.pending_requests()?,
            None => return Ok(()),
        };
        for r in pending {
            let Some(j) = self.agent.journal_mut() else { break };
            if !j.set_request_state(r.id, RequestState::Running, None)? {
                continue;
            }
            // A run that started keeps its row `running` until it ends (see `finish_run`).
            let Some((state, outcome)) = self.carry_out_queued(&r, send).await? else { continue };
            tracing::info!(id = r.id, who = %r.who, kind = %r.kind, state = state.as_str(), %outcome, "request");
            if let Some(j) = self.agent.journal_mut() {
                j.set_request_state(r.id, state, Some(&outcome))?;
            }
            send(Feed::Notice(outcome));
        }
        Ok(())
    }

    /// The row's final state and outcome, or `None` when a run started (the row is finished
    /// when the run ends).
    async fn carry_out_queued(
        &mut self,
        r: &QueuedRequest,
        send: &impl Fn(Feed),
    ) -> Result<Option<(RequestState, String)>, JournalError> {
        let age_ms = Timestamp::wall_clock().since(r.asked_at);
        if age_ms > REQUEST_MAX_AGE_MS {
            return Ok(Some((
                RequestState::Refused,
                format!(
                    "{} request {} by {} refused as stale: asked {} s ago, more than {} min: not carried out",
                    r.kind,
                    r.id,
                    r.who,
                    age_ms / 1000,
                    REQUEST_MAX_AGE_MS / 60_000
                ),
            )));
        }
        let request = match requests::decode(&r.kind, &r.body, &r.who) {
            Ok(request) => request,
            Err(e) => return Ok(Some((RequestState::Refused, format!("request {} by {} refused: {e}", r.id, r.who)))),
        };
        match request {
            Request::Silence(plan) => {
                let (events, notice) = self.silence(plan).await?;
                // No event: refused before anything was sent (read-only agent, unknown target).
                let state = if events.is_empty() {
                    RequestState::Refused
                } else if events.iter().any(|e| matches!(&e.kind, EventKind::Silenced { error: Some(_), .. })) {
                    RequestState::Failed
                } else {
                    RequestState::Done
                };
                if !events.is_empty() {
                    send(Feed::Events(events));
                }
                Ok(Some((state, format!("{notice} (asked by {})", r.who))))
            }
            Request::Run(request) => match self.start_requested(request, Some(r.id), send)? {
                Ok(started) => {
                    tracing::info!(id = r.id, who = %r.who, "queued run started; its row is finished when it ends");
                    send(Feed::Notice(format!("{started} (asked by {})", r.who)));
                    Ok(None)
                }
                Err(refused) => Ok(Some((RequestState::Refused, format!("{refused} (asked by {})", r.who)))),
            },
            Request::Cancel(request) => {
                let (found, notice) = self.cancel(&request);
                let state = if found { RequestState::Done } else { RequestState::Refused };
                Ok(Some((state, format!("{notice} (asked by {})", r.who))))
            }
        }
    }

    /// Checks a run request against the agent's own state and starts it: the notice, or why it
    /// was refused (nothing ran).
    fn start_requested(
        &mut self,
        request: RunRequest,
        row: Option<i64>,
        send: &impl Fn(Feed),
    ) -> Result<Result<String, String>, JournalError> {
        let plan = match self.plan_for(&request) {
            Ok(plan) => plan,
            Err(why) => {
                let refused = format!(
                    "runbook {} on {} by {} refused: {why}; nothing ran",
                    request.runbook, request.problem, request.operator
                );
                tracing::warn!(%refused, "runbook request");
                return Ok(Err(refused));
            }
        };
        self.launch(request.problem, plan, false, row, send)
    }

    /// The plan the agent fills in for `request` from its own state, exactly as confirmed, or why not.
    fn plan_for(&self, request: &RunRequest) -> Result<Plan, String> {
        if self.readonly {
            return Err("read-only (--readonly)".into());
        }
        let id = request.problem;
        let problem =
            self.problems.problems.get(&id).ok_or_else(|| format!("{id} is not a problem this agent knows"))?;
        match problem.status {
            ProblemStatus::Open => {}
            ProblemStatus::Resolved => return Err(format!("{id} is resolved")),
            ProblemStatus::Merged(into) => return Err(format!("{id} was merged into {into}; ask again on {into}")),
        }
        if self.runs.contains_key(&(id, request.runbook.clone())) {
            return Err(format!("runbook {} is already running on {id} in this agent", request.runbook));
        }
        let runbook = self.runbooks.get(&request.runbook).ok_or_else(|| {
            let known: Vec<&str> = self.runbooks.iter().map(|r| r.name.as_str()).collect();
            format!("no runbook `{}` in this agent (loaded: {})", request.runbook, known.join(", "))
        })?;
        let ctx = self.agent.context(problem).ok_or_else(|| format!("{id} names no entity to act on"))?;
        if !runbook.matches(&ctx) {
            return Err(format!("runbook {} does not match {id} on {}", request.runbook, ctx.entity_id));
        }
        let plan = Plan::build(&self.runbooks, &request.runbook, &ctx, &request.operator).map_err(|e| e.to_string())?;
        let lines = plan.lines();
        if lines != request.shown {
            return Err(plan_changed(&request.shown, &lines));
        }
        Ok(plan)
    }

    /// Takes the run lock, journals the start and runs `plan` in its own task. The notice, or
    /// why it did not start (the lock's holder; nothing ran, nothing journaled).
    fn launch(
        &mut self,
        problem: ProblemId,
        plan: Plan,
        auto: bool,
        row: Option<i64>,
        send: &impl Fn(Feed),
    ) -> Result<Result<String, String>, JournalError> {
        let what = format!("runbook {} on {problem} by {}", plan.runbook, plan.operator);
        let lock = match self.executor.acquire(&plan) {
            Ok(lock) => lock,
            Err(e) => return Ok(Err(format!("{what} refused: {e}; nothing ran"))),
        };
        let mut events = Vec::new();
        self.agent.run_started(problem, &plan, auto, Timestamp::wall_clock(), &mut events)?;
        self.note_events(&events);
        if !events.is_empty() {
            send(Feed::Events(events));
        }
        let cancel = CancelToken::new();
        self.runs.insert((problem, plan.runbook.clone()), Running { cancel: cancel.clone(), row });
        tracing::info!(%problem, runbook = %plan.runbook, by = %plan.operator, auto, "runbook started");
        tokio::spawn(run_task(
            self.executor.clone(),
            problem,
            plan,
            lock,
            cancel,
            auto,
            self.feed.clone(),
            self.ended_tx.clone(),
        ));
        Ok(Ok(format!("{what} started")))
    }

    /// Journals a run's end, finishes its queued row, and says how it went.
    fn finish_run(&mut self, ended: RunEnded, send: &impl Fn(Feed)) -> Result<(), JournalError> {
        let RunEnded { problem, record } = ended;
        let running = self.runs.remove(&(problem, record.runbook.clone()));
        let summary = format!("{problem}: {}", record.summary());
        let succeeded = matches!(record.final_outcome(), Outcome::Succeeded | Outcome::Mitigated);
        tracing::info!(%summary, "runbook finished");
        let mut events = Vec::new();
        self.agent.run_finished(problem, record, Timestamp::wall_clock(), &mut events)?;
        self.note_events(&events);
        if !events.is_empty() {
            send(Feed::Events(events));
        }
        if let (Some(row), Some(j)) = (running.and_then(|r| r.row), self.agent.journal_mut()) {
            let state = if succeeded { RequestState::Done } else { RequestState::Failed };
            j.set_request_state(row, state, Some(&summary))?;
        }
        send(Feed::Notice(summary));
        Ok(())
    }

    /// Cancels the run of `request.runbook` on its problem (or on a problem merged into it).
    /// Whether one was running, and the notice.
    fn cancel(&self, request: &CancelRequest) -> (bool, String) {
        let running = self.runs.iter().find(|((problem, runbook), _)| {
            *runbook == request.runbook && (*problem == request.problem || self.survivor(*problem) == request.problem)
        });
        match running {
            Some(((problem, runbook), run)) => {
                run.cancel.cancel();
                tracing::info!(%problem, %runbook, by = %request.by, "runbook cancel");
                (true, format!("runbook {runbook} on {problem}: cancelled by {}", request.by))
            }
            None => (
                false,
                format!("no run of runbook {} on {} in progress: nothing cancelled", request.runbook, request.problem),
            ),
        }
    }

    /// The problem `id` lives on in (itself unless merged).
    fn survivor(&self, id: ProblemId) -> ProblemId {
        let mut at = id;
        for _ in 0..=self.problems.problems.len() {
            match self.problems.problems.get(&at).map(|p| p.status) {
                Some(ProblemStatus::Merged(into)) => at = into,
                _ => break,
            }
        }
        at
    }

    /// Offers the problems whose ranking changed to the auto-remediation policies.
    fn start_auto_runs(&mut self, send: &impl Fn(Feed)) -> Result<(), JournalError> {
        let ranked = std::mem::take(&mut self.ranked);
        if !self.remediation.is_on() {
            return Ok(());
        }
        for id in ranked {
            let Some(problem) = self.problems.problems.get(&id) else { continue };
            let ctx = self.agent.context(problem);
            let decided = self.remediation.decide(problem, ctx.as_ref(), &self.runbooks, Timestamp::wall_clock());
            let (Some(auto), Some(ctx)) = (decided, ctx) else { continue };
            let operator = remediate::auto_operator();
            let notice = match Plan::build(&self.runbooks, &auto.runbook, &ctx, &operator) {
                Ok(plan) => self.launch(id, plan, true, None, send)?.unwrap_or_else(|refused| refused),
                Err(e) => format!("auto-remediation of {id} with runbook {}: not started: {e}", auto.runbook),
            };
            tracing::info!(%notice, "auto-remediation");
            send(Feed::Notice(notice));
        }
        Ok(())
    }

    /// A clean stop: the runs in progress cancelled and journaled, then a snapshot of the
    /// engine, so the next start replays nothing.
    async fn stop(
        &mut self,
        ended: &mut UnboundedReceiver<RunEnded>,
        send: &impl Fn(Feed),
    ) -> Result<(), JournalError> {
        self.stop_runs(ended, send).await?;
        self.agent.write_snapshot().map(drop)
    }

    /// Cancels every run in progress and journals each end (waiting at most [`STOP_GRACE`]
    /// past the kill grace).
    async fn stop_runs(
        &mut self,
        ended: &mut UnboundedReceiver<RunEnded>,
        send: &impl Fn(Feed),
    ) -> Result<(), JournalError> {
        if self.runs.is_empty() {
            return Ok(());
        }
        tracing::info!(runs = self.runs.len(), "stopping: cancelling the runs in progress");
        for run in self.runs.values() {
            run.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + self.executor.kill_grace + STOP_GRACE;
        while !self.runs.is_empty() {
            match tokio::time::timeout_at(deadline, ended.recv()).await {
                Ok(Some(run)) => self.finish_run(run, send)?,
                _ => {
                    tracing::warn!(runs = self.runs.len(), "runs did not end in time; not journaled as finished");
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Says which line of the plan differs from what was shown.
pub fn plan_changed(shown: &[String], now: &[String]) -> String {
    let i = (0..shown.len().max(now.len())).find(|&i| shown.get(i) != now.get(i)).unwrap_or(0);
    let n = i + 1;
    match (shown.get(i), now.get(i)) {
        (Some(was), Some(is)) => format!("the plan changed since it was shown: line {n} was `{was}`, is now `{is}`"),
        (Some(was), None) => format!("the plan changed since it was shown: line {n} `{was}` is no longer in it"),
        (None, Some(is)) => format!("the plan changed since it was shown: line {n} `{is}` was not shown"),
        (None, None) => "the plan changed since it was shown".into(),
    }
}

/// One run, in its own task: the executor's output batched to the UI, the record handed back.
#[allow(clippy::too_many_arguments)]
async fn run_task(
    executor: Executor,
    problem: ProblemId,
    plan: Plan,
    lock: RunLock,
    cancel: CancelToken,
    auto: bool,
    feed: Option<UnboundedSender<Feed>>,
    ended: UnboundedSender<RunEnded>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = tokio::spawn(forward_output(problem, rx, feed));
    let shown = plan.lines();
    let (runbook, file, entity, operator) =
        (plan.runbook.clone(), plan.file.clone(), plan.entity.clone(), plan.operator.clone());
    let started = Timestamp::wall_clock();
    // In a task of its own, so a panic in a step still ends the run with a record.
    let run = tokio::spawn(async move { executor.run_holding(&plan, lock, &tx, &cancel).await });
    let mut record = match run.await {
        Ok(record) => record,
        Err(e) => {
            tracing::error!(%problem, %runbook, error = %e, "runbook task failed");
            RunRecord {
                runbook: runbook.clone(),
                file,
                problem: problem.to_string(),
                entity,
                operator,
                started_at: started,
                finished_at: Timestamp::wall_clock(),
                plan: shown,
                steps: Vec::new(),
                outcome: Outcome::Failed,
                auto,
                escalation: None,
            }
        }
    };
    record.auto = auto;
    let _ = forward.await;
    let _ = ended.send(RunEnded { problem, record });
}

/// Hands a run's output lines to the UI as [`Feed::RunOutput`], at most [`OUTPUT_BATCH_LINES`]
/// per [`OUTPUT_BATCH_EVERY`]; the rest of a burst is counted in a note.
async fn forward_output(
    problem: ProblemId,
    mut lines: UnboundedReceiver<OutputLine>,
    feed: Option<UnboundedSender<Feed>>,
) {
    while let Some(first) = lines.recv().await {
        let mut batch = vec![first];
        let mut dropped = 0usize;
        let mut open = true;
        let deadline = tokio::time::sleep(OUTPUT_BATCH_EVERY);
        tokio::pin!(deadline);
        while open {
            tokio::select! {
                line = lines.recv() => match line {
                    Some(l) if batch.len() < OUTPUT_BATCH_LINES => batch.push(l),
                    Some(_) => dropped += 1,
                    None => open = false,
                },
                _ = &mut deadline => break,
            }
        }
        if dropped > 0 {
            let last = &batch[batch.len() - 1];
            let note = OutputLine {
                runbook: last.runbook.clone(),
                step: last.step,
                stream: Stream::Note,
                text: format!("… {dropped} lines not shown here (the run's record keeps its output)"),
            };
            batch.push(note);
        }
        if let Some(f) = &feed {
            let _ = f.send(Feed::RunOutput { problem, lines: batch });
        }
        if !open {
            return;
        }
    }
}

/// The next request, `None` once the sender is gone; never ready without a channel.
async fn next_request(requests: &mut Option<UnboundedReceiver<Request>>) -> Option<Request> {
    match requests {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or("no message", |s| s).to_string(),
    }
}
