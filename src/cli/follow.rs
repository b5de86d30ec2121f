//! `faultline replay FILE --follow`, and `faultline` when an agent already writes the configured
//! journal: a viewer on a journal a running agent writes.
//!
//! The viewer reads through its own read-only connection (WAL: it never blocks the agent) on a
//! follower thread that polls every [`POLL`]: the observations and events committed since its
//! last poll, in one short read transaction, handed to the UI as `Feed::Observations` then
//! `Feed::Events`. The status bar's `journal` source says whether an agent holds the journal
//! (stale once the writer's hold is gone: the agent stopped).
//!
//! A silence or runbook run confirmed in the viewer is queued at once (by a forwarder thread) in the journal's
//! `requests` table with who asked (`user@host`), through a small write connection that takes
//! no writer hold and is opened only when the first request is sent; the agent carries
//! it out and its outcome comes back as journaled events and as the request's row, which the
//! follower watches to show the outcome as a notice. `--readonly` viewers queue nothing. Who
//! asked is what the viewer says: anyone who may write the journal file (its group) is trusted.

use anyhow::{Context, Result};
use faultline::agent::requests::{self, SILENCE_TARGET_KEY};
use faultline::journal::{Holder, Journal, RequestQueue, REQUEST_MAX_AGE_MS};
use faultline::ui::{self, Feed, Request, SourceHealth, UiOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How often the follower reads the journal: new events are on screen within about this long
/// after their commit (plus one UI frame).
pub const POLL: Duration = Duration::from_millis(200);

/// How often the follower asks whether an agent still holds the journal.
const HOLDER_CHECK: Duration = Duration::from_secs(1);

/// The status bar's name for the followed journal.
const SOURCE_NAME: &str = "journal";

pub struct Options {
    pub readonly: bool,
    pub log_path: PathBuf,
    /// Runbook directory (`--runbooks`, or the config's); default: `runbooks/` in the config
    /// directory. The viewer shows their plans; the agent checks each line before it runs one.
    pub runbooks: Option<PathBuf>,
    /// `--theme` and `--colors` (or the config's `[ui] theme`).
    pub appearance: ui::Appearance,
}

/// `faultline replay FILE --follow`.
pub fn run(file: &Path, opts: Options) -> Result<()> {
    follow(file, opts, format!("follow: {}", file.display()))
}

/// `faultline --config F` when `holder` already writes the configured journal: attach to it as a
/// viewer instead of starting a second agent.
pub fn attach(journal: &Path, opts: Options, holder: Option<&Holder>) -> Result<()> {
    let by = holder.map_or_else(|| "a running agent".to_string(), |h| format!("agent pid {} on {}", h.pid, h.host));
    tracing::info!(journal = %journal.display(), %by, "an agent writes the journal: attaching as a viewer");
    follow(journal, opts, format!("attached: {} ({by})", journal.display()))
}

/// Where the follower is in the journal.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    observation: i64,
    seq: u64,
}

fn follow(file: &Path, opts: Options, title: String) -> Result<()> {
    let journal = Journal::open_read_only(file)?;
    let section = faultline::config::RunbooksSection { dir: opts.runbooks.clone(), ..Default::default() };
    let runbooks = faultline::agent::runtime::load_runbooks(&section)?;
    let silence = if opts.readonly { None } else { published_silence_target(&journal) };
    let (feed_tx, feed_rx) = tokio::sync::mpsc::unbounded_channel();
    let (req_tx, req_rx) = if opts.readonly {
        (None, None)
    } else {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    };
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    // Requests are queued the moment they are confirmed, on their own thread, and the follower
    // is told their ids so it can report the agent's answers.
    let (queued_tx, queued_rx) = std::sync::mpsc::channel::<i64>();
    let forwarder = match req_rx {
        Some(rx) => {
            let (path, feed) = (file.to_path_buf(), feed_tx.clone());
            let forward = move || forward_requests(rx, &path, &feed, &queued_tx);
            Some(
                std::thread::Builder::new()
                    .name("request-forwarder".into())
                    .spawn(forward)
                    .context("starting the request forwarder thread")?,
            )
        }
        None => None,
    };
    let mut follower = Follower {
        journal,
        path: file.to_path_buf(),
        feed: feed_tx,
        queued: queued_rx,
        waiting: BTreeSet::new(),
        cursor: Cursor::default(),
        holder: None,
        holder_checked: None,
    };
    // The journal so far, before the UI starts, so its first frame already shows it.
    follower.poll().with_context(|| format!("reading {}", file.display()))?;
    follower.check_holder(true);
    let thread = std::thread::Builder::new()
        .name("journal-follower".into())
        .spawn(move || follower.run(stop_rx))
        .context("starting the journal follower thread")?;
    let opts = UiOptions {
        title,
        readonly: opts.readonly,
        log_path: Some(opts.log_path),
        operator: faultline::runbook::operator(),
        silence,
        runbooks: ui::Runbooks(std::sync::Arc::new(runbooks)),
        appearance: opts.appearance,
    };
    let ui_result = ui::run(feed_rx, req_tx, opts);
    // The UI dropped its request sender: the forwarder ends after the request in hand, if any.
    drop(stop_tx);
    if thread.join().is_err() {
        tracing::error!("the journal follower panicked");
    }
    if forwarder.map(std::thread::JoinHandle::join).is_some_and(|r| r.is_err()) {
        tracing::error!("the request forwarder panicked");
    }
    ui_result
}

/// Queues each request the user confirms, with who asked, until the UI is gone; says in a
/// notice where it went and hands its id to the follower (which reports the agent's answer).
fn forward_requests(
    mut requests: UnboundedReceiver<Request>,
    path: &Path,
    feed: &UnboundedSender<Feed>,
    queued: &Sender<i64>,
) {
    // Opened on the first request: a viewer that asks nothing never opens the file for writing.
    let mut queue: Option<RequestQueue> = None;
    while let Some(request) = requests.blocking_recv() {
        let (kind, body, who) = requests::encode(&request);
        let submitted = match &queue {
            Some(q) => q.submit(&who, kind, &body),
            None => RequestQueue::open(path).and_then(|q| q.submit(&who, kind, &body).inspect(|_| queue = Some(q))),
        };
        let notice = match submitted {
            Ok(id) => {
                let _ = queued.send(id);
                match Journal::writer_of(path).ok().flatten() {
                    Some(h) => format!("{kind} request {id} sent to the agent (pid {} on {}) as {who}", h.pid, h.host),
                    None => format!(
                        "{kind} request {id} queued as {who}, but no agent writes this journal: it is refused \
                         if none picks it up within {} min",
                        REQUEST_MAX_AGE_MS / 60_000
                    ),
                }
            }
            Err(e) => format!("{kind} request NOT sent: {e}"),
        };
        tracing::info!(%notice, "request");
        let _ = feed.send(Feed::Notice(notice));
    }
}

/// Where the agent sends silences, as it published in the journal; `None` (with a log line)
/// when it has no Alertmanager or wrote something unreadable.
fn published_silence_target(journal: &Journal) -> Option<faultline::sources::alertmanager::SilenceTarget> {
    match journal.meta(SILENCE_TARGET_KEY) {
        Ok(Some(text)) => {
            requests::decode_target(&text).map_err(|e| tracing::warn!(journal = %journal.path().display(), "{e}")).ok()
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}

struct Follower {
    journal: Journal,
    path: PathBuf,
    feed: UnboundedSender<Feed>,
    /// Ids of the requests the forwarder queued.
    queued: Receiver<i64>,
    /// Requests this viewer queued whose outcome has not come back yet.
    waiting: BTreeSet<i64>,
    cursor: Cursor,
    /// Whether an agent held the journal at the last check, and who.
    holder: Option<Option<Holder>>,
    holder_checked: Option<Instant>,
}

impl Follower {
    /// Polls until `stop` is dropped (the UI ended) or the UI's feed is gone.
    fn run(mut self, stop: Receiver<()>) {
        loop {
            match stop.recv_timeout(POLL) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            if let Err(e) = self.poll() {
                // A busy or briefly unreadable file: say so and try again next time.
                tracing::warn!("following {}: {e:#}", self.path.display());
                self.send(Feed::Source {
                    name: SOURCE_NAME.into(),
                    health: SourceHealth::Stale { reason: format!("{e:#}") },
                });
                self.holder = None;
            }
            self.check_holder(false);
            self.report_outcomes();
            if self.feed.is_closed() {
                return;
            }
        }
    }

    fn send(&self, message: Feed) {
        let _ = self.feed.send(message);
    }

    /// What was committed since the last poll: observations first (the metric context must know
    /// them when the events arrive), then events.
    fn poll(&mut self) -> Result<()> {
        let tail = self.journal.tail(self.cursor.observation, self.cursor.seq)?;
        if let Some((id, _)) = tail.observations.last() {
            self.cursor.observation = *id;
            self.send(Feed::Observations(tail.observations.into_iter().map(|(_, o)| o).collect()));
        }
        if let Some(e) = tail.events.last() {
            self.cursor.seq = e.seq;
            self.send(Feed::Events(tail.events));
        }
        Ok(())
    }

    /// Tells the status bar when the writer's hold appears or goes (checked every
    /// [`HOLDER_CHECK`], or now when `force`).
    fn check_holder(&mut self, force: bool) {
        if !force && self.holder_checked.is_some_and(|t| t.elapsed() < HOLDER_CHECK) {
            return;
        }
        self.holder_checked = Some(Instant::now());
        let now = match Journal::writer_of(&self.path) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("{e}");
                return;
            }
        };
        if self.holder.as_ref() == Some(&now) {
            return;
        }
        let health = match &now {
            Some(_) => SourceHealth::Ok,
            None => SourceHealth::Stale {
                reason: format!(
                    "no agent writes it (seen {}); following what it has",
                    faultline::model::Timestamp::wall_clock().clock()
                ),
            },
        };
        tracing::info!(holder = ?now, "journal writer");
        self.send(Feed::Source { name: SOURCE_NAME.into(), health });
        self.holder = Some(now);
    }

    /// Shows the agent's answer to each request this viewer queued, once it is in.
    fn report_outcomes(&mut self) {
        self.waiting.extend(self.queued.try_iter());
        let ids: Vec<i64> = self.waiting.iter().copied().collect();
        for id in ids {
            match self.journal.request(id) {
                Ok(Some(r)) if r.state.is_final() => {
                    self.waiting.remove(&id);
                    let outcome = r.outcome.unwrap_or_else(|| r.state.as_str().to_string());
                    self.send(Feed::Notice(outcome));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }
}
