//! Following one query live: `/loki/api/v1/tail` over a websocket, in a thread of its own,
//! handing lines to the source through a bounded buffer the source drains each cycle.
//!
//! Each (re)connection first fills the gap with `query_range` from the last line received + 1
//! ns to now, then opens the tail at `start=<last ns + 1>` (Loki replays its history from there;
//! the source's per-stream filter drops what was read twice). Loki closes a tail with 1011
//! after `max_tail_duration` or past its concurrent-tail limit; a close, an error or a refused
//! handshake reconnects after a backoff (doubling from the client's minimum to its maximum,
//! reset by a good frame). A frame that is not JSON is noted (naming the source and the query)
//! and skipped; the connection is kept. Entries Loki says it dropped (`dropped_entries`) are
//! counted. If the engine falls behind, the oldest lines are dropped and counted.
//!
//! A thread and blocking tungstenite rather than a tokio task: reading a websocket from tokio
//! needs the `futures` traits, which the crate does not depend on. The gap fill runs on the
//! runtime that started the tail.

use super::api::{self, Entry};
use super::range::{self, Lines, RangeAsk};
use crate::sources::http::HttpClient;
use std::collections::{BTreeMap, VecDeque};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

/// How long a read waits before looking whether the tail should stop.
const POLL: Duration = Duration::from_millis(200);
/// Where Debian and friends keep the system's trusted CAs (for `wss://`).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What one tail follows.
#[derive(Debug, Clone)]
pub struct TailSpec {
    pub source: String,
    /// `http(s)://host:port[/prefix]`, no trailing slash.
    pub base_url: String,
    pub query: String,
    pub limit: usize,
    /// Where the first read starts, in nanoseconds.
    pub start_ns: i64,
    pub max_pages: usize,
    /// Lines held for the source at most.
    pub buffer: usize,
    pub ca_file: Option<PathBuf>,
}

/// What the tail gathered since the source last drained it.
#[derive(Debug, Default)]
struct Gathered {
    lines: VecDeque<(Arc<BTreeMap<String, String>>, Entry)>,
    dropped_here: u64,
    dropped_by_loki: u64,
    bad_frames: u64,
    first_bad_frame: Option<String>,
    reconnects: u64,
    requests: usize,
    bytes: usize,
    /// Why the tail is not connected now, if it is not.
    trouble: Option<String>,
}

/// What [`Tail::drain`] hands the source.
#[derive(Debug, Default)]
pub struct Drained {
    pub lines: Vec<Lines>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    pub requests: usize,
    pub bytes: usize,
}

/// A running tail; stops when dropped.
pub struct Tail {
    spec: TailSpec,
    gathered: Arc<Mutex<Gathered>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Tail {
    /// Starts the thread (call from within a tokio runtime: the gap fill runs on it).
    pub fn start(spec: TailSpec, client: HttpClient) -> Tail {
        let gathered = Arc::new(Mutex::new(Gathered::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Handle::try_current().ok();
        let follower = Follower { spec: spec.clone(), client, gathered: gathered.clone(), stop: stop.clone(), runtime };
        let name = format!("loki-tail-{}", spec.source);
        if let Err(e) = std::thread::Builder::new().name(name).spawn(move || follower.run()) {
            lock(&gathered).trouble = Some(format!("tail `{}`: cannot start its thread: {e}", spec.query));
        }
        Tail { spec, gathered, stop }
    }

    /// Takes what arrived since the last call, with the notes and problems it gave.
    pub fn drain(&self) -> Drained {
        let mut g = lock(&self.gathered);
        let q = &self.spec.query;
        let mut d = Drained { requests: g.requests, bytes: g.bytes, ..Drained::default() };
        // Consecutive lines of one stream travel together.
        for (labels, entry) in g.lines.drain(..) {
            match d.lines.last_mut() {
                Some((l, entries)) if Arc::ptr_eq(l, &labels) => entries.push(entry),
                _ => d.lines.push((labels, vec![entry])),
            }
        }
        if g.dropped_here > 0 {
            d.notes.push(format!(
                "tail `{q}`: the engine fell behind; the {} oldest lines were dropped (buffer of {})",
                g.dropped_here, self.spec.buffer
            ));
        }
        if g.dropped_by_loki > 0 {
            d.notes.push(format!("tail `{q}`: Loki dropped {} entries (dropped_entries)", g.dropped_by_loki));
        }
        if let Some(first) = &g.first_bad_frame {
            d.notes
                .push(format!("source `{}`, tail `{q}`: {} frame(s) skipped: {first}", self.spec.source, g.bad_frames));
        }
        if g.reconnects > 0 {
            d.notes.push(format!("tail `{q}`: reconnected {} time(s), resuming after the last line", g.reconnects));
        }
        d.problems.extend(g.trouble.clone());
        let trouble = g.trouble.take();
        *g = Gathered { trouble, ..Gathered::default() };
        d
    }
}

fn lock(m: &Mutex<Gathered>) -> std::sync::MutexGuard<'_, Gathered> {
    // A poisoned buffer still holds good lines: the panicking thread only pushed whole entries.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// The thread's side.
struct Follower {
    spec: TailSpec,
    client: HttpClient,
    gathered: Arc<Mutex<Gathered>>,
    stop: Arc<AtomicBool>,
    runtime: Option<tokio::runtime::Handle>,
}

/// Why a connection ended.
enum Ended {
    /// Closed by Loki (code and reason) or the connection dropped.
    Closed(String),
    Stopped,
}

impl Follower {
    fn run(self) {
        let mut next_ns = self.spec.start_ns;
        let settings = self.client.settings().clone();
        let mut wait = Duration::from_millis(settings.backoff_min_ms);
        let max_wait = Duration::from_millis(settings.backoff_max_ms.max(settings.backoff_min_ms));
        let mut first = true;
        while !self.stopped() {
            if !first {
                self.sleep(wait);
                wait = (wait * 2).min(max_wait);
                lock(&self.gathered).reconnects += 1;
            }
            first = false;
            match self.fill_gap(next_ns) {
                Ok(n) => next_ns = n,
                Err(e) => {
                    lock(&self.gathered).trouble = Some(e);
                    continue;
                }
            }
            match self.follow(&mut next_ns, &mut wait, settings.backoff_min_ms) {
                Ok(Ended::Stopped) => return,
                Ok(Ended::Closed(why)) => {
                    tracing::info!(source = %self.spec.source, query = %self.spec.query, %why, "tail closed; resuming");
                }
                Err(e) => {
                    tracing::warn!(source = %self.spec.source, query = %self.spec.query, error = %e, "tail failed");
                    lock(&self.gathered).trouble = Some(e);
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn sleep(&self, d: Duration) {
        let until = std::time::Instant::now() + d;
        while !self.stopped() && std::time::Instant::now() < until {
            std::thread::sleep(POLL.min(until.saturating_duration_since(std::time::Instant::now())));
        }
    }

    /// Reads `[from, now)` with `query_range` into the buffer; returns where the tail starts.
    fn fill_gap(&self, from: i64) -> Result<i64, String> {
        let Some(rt) = &self.runtime else { return Ok(from) };
        let url = format!("{}/loki/api/v1/query_range", self.spec.base_url);
        let mut from = from;
        loop {
            let ask = RangeAsk {
                url: &url,
                query: &self.spec.query,
                start_ns: from,
                end_ns: wall_ns(),
                limit: self.spec.limit,
                step_ms: 60_000,
                max_pages: self.spec.max_pages,
            };
            let read = rt.block_on(range::read_range(&self.client, &ask));
            {
                let mut g = lock(&self.gathered);
                g.requests += read.requests;
                g.bytes += read.bytes;
            }
            let mut entries: Vec<(Arc<BTreeMap<String, String>>, Entry)> = Vec::new();
            for (labels, es) in read.streams {
                entries.extend(es.into_iter().map(|e| (labels.clone(), e)));
            }
            entries.sort_by_key(|(_, e)| e.ns);
            self.push(entries);
            if let Some(newest) = read.newest_ns {
                from = from.max(newest + 1);
            }
            if let Some(e) = read.error {
                return Err(format!("tail `{}`: filling the gap: {e}", self.spec.query));
            }
            match read.more_from {
                Some(more) if !self.stopped() => from = from.max(more),
                _ => return Ok(from),
            }
        }
    }

    fn push(&self, entries: Vec<(Arc<BTreeMap<String, String>>, Entry)>) {
        if entries.is_empty() {
            return;
        }
        let mut g = lock(&self.gathered);
        for item in entries {
            g.lines.push_back(item);
            if g.lines.len() > self.spec.buffer {
                g.lines.pop_front();
                g.dropped_here += 1;
            }
        }
    }

    /// The tail URL from `start_ns`.
    fn url(&self, start_ns: i64) -> Result<String, String> {
        let base = if let Some(rest) = self.spec.base_url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.spec.base_url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(format!("`{}` is not an http(s) URL", self.spec.base_url));
        };
        let mut url = reqwest::Url::parse(&format!("{base}/loki/api/v1/tail")).map_err(|e| e.to_string())?;
        url.query_pairs_mut()
            .append_pair("query", &self.spec.query)
            .append_pair("start", &start_ns.to_string())
            .append_pair("limit", &self.spec.limit.to_string())
            .append_pair("delay_for", "0");
        Ok(url.to_string())
    }

    /// One connection: frames into the buffer until it ends.
    fn follow(&self, next_ns: &mut i64, wait: &mut Duration, min_wait_ms: u64) -> Result<Ended, String> {
        let q = &self.spec.query;
        let url = self.url(*next_ns)?;
        let shown = crate::sources::http::redact(&url.replacen("ws", "http", 1));
        let fail = |what: String| format!("tail `{q}`: {shown}: {what}");
        let mut request = url.as_str().into_client_request().map_err(|e| fail(e.to_string()))?;
        for (name, value) in self.client.default_headers() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let host = request.uri().host().unwrap_or_default().trim_matches(['[', ']']).to_string();
        let port = request.uri().port_u16().unwrap_or(if url.starts_with("wss") { 443 } else { 80 });
        let timeout = Duration::from_millis(self.client.settings().timeout_ms);
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve: {e}")))?
            .next()
            .ok_or_else(|| fail("no address".into()))?;
        let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| fail(format!("cannot connect: {e}")))?;
        let _ = tcp.set_read_timeout(Some(timeout));
        let handle = tcp.try_clone().map_err(|e| fail(e.to_string()))?;
        let connector = if url.starts_with("wss") {
            Some(tungstenite::Connector::Rustls(Arc::new(self.tls_config().map_err(fail)?)))
        } else {
            Some(tungstenite::Connector::Plain)
        };
        let (mut ws, _) = tungstenite::client_tls_with_config(request, tcp, None, connector).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)) => {
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                fail(format!("Loki refused the tail (HTTP {}): {}", response.status().as_u16(), body.trim()))
            }
            other => fail(format!("websocket handshake failed: {other}")),
        })?;
        let _ = handle.set_read_timeout(Some(POLL));
        lock(&self.gathered).trouble = None;
        loop {
            if self.stopped() {
                let _ = ws.close(None);
                return Ok(Ended::Stopped);
            }
            match ws.read() {
                Ok(Message::Text(text)) => {
                    *wait = Duration::from_millis(min_wait_ms);
                    self.frame(text.as_str(), next_ns);
                }
                Ok(Message::Close(frame)) => {
                    let why = frame
                        .map_or("no close frame".to_string(), |f| format!("code {}: {}", u16::from(f.code), f.reason));
                    return Ok(Ended::Closed(why));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(Ended::Closed("connection closed".into()))
                }
                Err(e) => return Err(fail(format!("connection lost: {e}"))),
            }
        }
    }

    /// One text frame: its lines into the buffer, or a note when it is not a frame.
    fn frame(&self, text: &str, next_ns: &mut i64) {
        let frame = match api::decode_frame(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(source = %self.spec.source, query = %self.spec.query, error = %e, "bad tail frame");
                let mut g = lock(&self.gathered);
                g.bad_frames += 1;
                g.first_bad_frame.get_or_insert(e);
                return;
            }
        };
        let mut entries = Vec::new();
        for s in frame.streams {
            let labels = Arc::new(s.stream);
            for e in s.values {
                *next_ns = (*next_ns).max(e.ns + 1);
                entries.push((labels.clone(), e));
            }
        }
        entries.sort_by_key(|(_, e)| e.ns);
        self.push(entries);
        if !frame.dropped_entries.is_empty() {
            lock(&self.gathered).dropped_by_loki += frame.dropped_entries.len() as u64;
        }
    }

    /// TLS for `wss://`: the system's CAs and `ca_file`.
    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let mut roots = rustls::RootCertStore::empty();
        let mut files = vec![PathBuf::from(SYSTEM_CA_BUNDLE)];
        files.extend(self.spec.ca_file.clone());
        for f in files {
            let Ok(pem) = std::fs::read(&f) else { continue };
            let certs = CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok);
            roots.add_parsable_certificates(certs);
        }
        if roots.is_empty() {
            return Err("no trusted CA certificates for wss:// (set auth.ca_file)".into());
        }
        Ok(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth())
    }
}
