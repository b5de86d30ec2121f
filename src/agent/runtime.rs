//! The live agent: the configured sources pulled on their own schedules, at most
//! `sources.max_concurrent` at a time, what they saw fed to the engine in configuration order,
//! each source's health kept for the status bar, and the UI's confirmed requests (silences)
//! carried out and journaled. `faultline agent`, the live UI and the tests all run this.
//!
//! Requests also come from viewers in other processes, queued in the journal's `requests`
//! table ([`crate::journal::RequestQueue`]): polled every [`REQUEST_POLL`], carried out by the
//! same code, their outcome written back to the row and journaled as events like any other.
//!
//! A source that fails keeps what it already contributed: the engine's state is never rolled
//! back, the source is reported stale with the reason, and the next cycle asks again.

use super::requests;
use super::{Agent, ResumeError};
use crate::config::Config;
use crate::journal::{Journal, JournalError, QueuedRequest, RequestState, REQUEST_MAX_AGE_MS};
use crate::model::{EventKind, Observation, ObservationKind, ProblemEvent, ProblemSet, SilenceRecord, Timestamp};
use crate::sources::alertmanager::{matcher_strings, AlertmanagerSource, SilencePlan, SilenceTarget, Silencer};
use crate::sources::http::FetchError;
use crate::sources::prometheus::{Health, PrometheusSource, Pull};
use crate::sources::Source;
use crate::ui::{Feed, Request, SourceHealth};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
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
}

impl Runtime {
    /// The sources of `config` around an agent that goes on from `journal` when it holds
    /// events or observations (see [`Agent::resume`]). Returns the runtime and the journal's events.
    pub fn new(config: &Config, journal: Option<Journal>) -> Result<(Runtime, Vec<ProblemEvent>), RuntimeError> {
        let mut sources = Vec::new();
        let mut silencers = BTreeMap::new();
        let mut silence_target = None;
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
        let (mut agent, events, observations) = match journal {
            // Observations without events (a topology, quiet metrics) are resumed too, so the
            // engine and the sources go on from them.
            Some(j) if j.last_seq()? > 0 || j.has_observations()? => {
                let r = Agent::resume(config.engine(), j)?;
                (r.agent, r.events, r.observations)
            }
            j => (Agent::new(config.engine(), j), Vec::new(), Vec::new()),
        };
        for (source, _) in &mut sources {
            source.restore(&observations);
        }
        if let Some(j) = agent.journal_mut() {
            if !j.is_read_only() {
                // Viewers have no configuration: they learn here where their silences would go.
                let target = silence_target.as_ref().map(requests::encode_target);
                j.set_meta(requests::SILENCE_TARGET_KEY, target.as_deref())?;
                let outcome = "failed: the agent stopped while carrying it out; it may or may not have \
                               happened (check Alertmanager)";
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
        let runtime = Runtime {
            agent,
            problems: ProblemSet::fold(&events),
            slots,
            max_concurrent: config.sources.max_concurrent.max(1),
            silencers,
            silence_target,
            readonly: false,
        };
        if !events.is_empty() {
            tracing::info!(events = events.len(), observations = observations.len(), "resumed from the journal");
        }
        Ok((runtime, events))
    }

    /// Refuse every request that changes something elsewhere (`--readonly`).
    pub fn set_readonly(&mut self, readonly: bool) {
        self.readonly = readonly;
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
        let results = self.fetch(&all, now).await;
        self.apply(results, now)
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
            for obs in &pull.observations {
                self.agent.feed(obs, &mut events)?;
            }
            for e in &events[start..] {
                self.problems.apply(e);
            }
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
        for e in &events {
            self.problems.apply(e);
        }
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
                            return Ok(());
                        }
                        Some(request) => self.serve(request, &send).await?,
                    },
                    _ = queue_tick.tick(), if has_queue => self.serve_queued(&send).await?,
                    _ = &mut stop => {
                        tracing::info!("stopping");
                        return Ok(());
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
            let after = Instant::now();
            for (&i, old) in due.iter().zip(before) {
                let slot = &mut self.slots[i];
                slot.next_due = after + slot.interval;
                let health = slot.status.health();
                if health != old || slot.status.cycles == 1 {
                    send(Feed::Source { name: slot.status.name.clone(), health });
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
            other @ (Request::Run(_) | Request::Cancel(_)) => {
                send(Feed::Notice(format!("{}: not carried out (runbooks are not served yet)", other.describe())))
            }
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
            let (state, outcome) = self.carry_out_queued(&r, send).await?;
            tracing::info!(id = r.id, who = %r.who, kind = %r.kind, state = state.as_str(), %outcome, "request");
            if let Some(j) = self.agent.journal_mut() {
                j.set_request_state(r.id, state, Some(&outcome))?;
            }
            send(Feed::Notice(outcome));
        }
        Ok(())
    }

    async fn carry_out_queued(
        &mut self,
        r: &QueuedRequest,
        send: &impl Fn(Feed),
    ) -> Result<(RequestState, String), JournalError> {
        let age_ms = Timestamp::wall_clock().since(r.asked_at);
        if age_ms > REQUEST_MAX_AGE_MS {
            return Ok((
                RequestState::Refused,
                format!(
                    "{} request {} by {} refused as stale: asked {} s ago, more than {} min: not carried out",
                    r.kind,
                    r.id,
                    r.who,
                    age_ms / 1000,
                    REQUEST_MAX_AGE_MS / 60_000
                ),
            ));
        }
        let request = match requests::decode(&r.kind, &r.body, &r.who) {
            Ok(request) => request,
            Err(e) => return Ok((RequestState::Refused, format!("request {} by {} refused: {e}", r.id, r.who))),
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
                Ok((state, format!("{notice} (asked by {})", r.who)))
            }
            other @ (Request::Run(_) | Request::Cancel(_)) => Ok((
                RequestState::Refused,
                format!("{}: not carried out (runbooks are not served yet) (asked by {})", other.describe(), r.who),
            )),
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
