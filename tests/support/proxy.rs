//! A fault-injecting HTTP proxy for end-to-end tests of the sources: it forwards each request to
//! a real server, or answers it the way a broken server or network would (see [`Fault`]). The
//! fault can be switched while the proxy runs, so one test can go good → fault → good.
//!
//! std only: one thread per connection, one request per connection (every answer says
//! `Connection: close`, so the client never reuses a connection the proxy is about to drop).
//! Upstream requests go through [`super::http_request`] (HTTP/1.0, whole body read).

use super::http_request;
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How long a [`Fault::Hang`] keeps a connection open at most when the client does not give up.
const HANG_AT_MOST: Duration = Duration::from_secs(30);

/// What the proxy does with the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward the request and return the real answer.
    PassThrough,
    /// Answer every request with this status and a Prometheus-style error body
    /// (`{"status":"error","errorType":…,"error":…}`).
    Error { status: u16, error_type: &'static str, message: &'static str },
    /// Read the request, then answer nothing until the client hangs up.
    Hang,
    /// The real answer cut in half, sent with a `Content-Length` of the half actually sent: the
    /// transport sees a complete response, the decoder sees JSON that stops mid-way (what a
    /// buffering proxy or a server that crashed while serialising produces).
    TruncatedBody,
    /// The real answer's full `Content-Length`, then only the first half of the body and the
    /// connection closed: the transport itself sees the body end early (a connection dropped
    /// mid-response).
    TruncatedConnection,
    /// A well-formed matrix answer of at least this many bytes, announced by `Content-Length`.
    HugeWithLength(usize),
    /// The same body sent chunked, without a length, so only counting the bytes read stops it.
    HugeChunked(usize),
    /// `query_range` answers: every other sample value (the 1st, 3rd, …) replaced by `NaN`,
    /// `+Inf` and `-Inf` in turn. Other paths pass through.
    NonFinite,
    /// `query_range` answers: every series' label set replaced by
    /// `{__name__="mystery_total", foo="bar"}`, which no mapping rule knows. Other paths pass through.
    UnknownLabels,
}

/// What the proxy did since the fault was last set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyStats {
    /// Requests answered (or left hanging).
    pub requests: usize,
    /// Paths requested (with the query string), in order.
    pub paths: Vec<String>,
    /// [`Fault::NonFinite`]: samples sent in rewritten answers, and how many of them were NaN/±Inf.
    pub samples_sent: usize,
    pub non_finite_sent: usize,
    /// [`Fault::UnknownLabels`]: series whose labels were replaced.
    pub series_relabelled: usize,
    /// Body bytes written to the client, per request in the order they finished (a client that
    /// hangs up early stops the writing).
    pub bodies: Vec<usize>,
}

/// A running proxy on `127.0.0.1`; stops accepting when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    upstream: String,
    fault: Arc<Mutex<Fault>>,
    stats: Arc<Mutex<ProxyStats>>,
    closed: Arc<AtomicBool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not take the test's view of the proxy with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`), passing everything through.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy to 127.0.0.1:0");
        let addr = listener.local_addr().expect("the proxy's address");
        let proxy = Proxy {
            url: format!("http://{addr}"),
            upstream: upstream.trim_end_matches('/').to_string(),
            fault: Arc::new(Mutex::new(Fault::PassThrough)),
            stats: Arc::new(Mutex::new(ProxyStats::default())),
            closed: Arc::new(AtomicBool::new(false)),
        };
        let (upstream, fault, stats, closed) =
            (proxy.upstream.clone(), proxy.fault.clone(), proxy.stats.clone(), proxy.closed.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (upstream, fault, stats) = (upstream.clone(), lock(&fault).clone(), stats.clone());
                thread::spawn(move || serve(conn, &upstream, &fault, &stats));
            }
        });
        proxy
    }

    /// Switches what the next requests get, and resets the stats.
    pub fn set(&self, fault: Fault) {
        *lock(&self.fault) = fault;
        *lock(&self.stats) = ProxyStats::default();
    }

    /// What the proxy did since the fault was last set.
    pub fn stats(&self) -> ProxyStats {
        lock(&self.stats).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Reads one request head; returns the request target (path and query).
fn read_request(conn: &mut TcpStream) -> Option<String> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.lines().next()?.split_whitespace().nth(1).map(str::to_string)
}

fn serve(mut conn: TcpStream, upstream: &str, fault: &Fault, stats: &Mutex<ProxyStats>) {
    let Some(path) = read_request(&mut conn) else { return };
    {
        let mut s = lock(stats);
        s.requests += 1;
        s.paths.push(path.clone());
    }
    let forward = || match http_request("GET", &format!("{upstream}{path}"), None) {
        Ok(answer) => answer,
        Err(e) => (502, format!("proxy: upstream {upstream}: {e}")),
    };
    let sent = match fault {
        Fault::PassThrough => {
            let (status, body) = forward();
            respond(&mut conn, status, body.as_bytes(), body.len())
        }
        Fault::Error { status, error_type, message } => {
            let body = serde_json::json!({"status": "error", "errorType": error_type, "error": message}).to_string();
            respond(&mut conn, *status, body.as_bytes(), body.len())
        }
        Fault::Hang => {
            hang(&mut conn);
            0
        }
        Fault::TruncatedBody => {
            let (status, body) = forward();
            let half = &body.as_bytes()[..body.len() / 2];
            respond(&mut conn, status, half, half.len())
        }
        Fault::TruncatedConnection => {
            let (status, body) = forward();
            respond(&mut conn, status, &body.as_bytes()[..body.len() / 2], body.len())
        }
        Fault::HugeWithLength(bytes) => huge(&mut conn, *bytes, false),
        Fault::HugeChunked(bytes) => huge(&mut conn, *bytes, true),
        Fault::NonFinite | Fault::UnknownLabels if path.starts_with("/api/v1/query_range") => {
            let (status, body) = forward();
            let body = rewrite(&body, fault, stats);
            respond(&mut conn, status, body.as_bytes(), body.len())
        }
        Fault::NonFinite | Fault::UnknownLabels => {
            let (status, body) = forward();
            respond(&mut conn, status, body.as_bytes(), body.len())
        }
    };
    lock(stats).bodies.push(sent);
    let _ = conn.shutdown(Shutdown::Write);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Sends a response with `Content-Length: length` (which may differ from `body.len()`) and
/// returns the body bytes written.
fn respond(conn: &mut TcpStream, status: u16, body: &[u8], length: usize) -> usize {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        reason(status)
    );
    if conn.write_all(head.as_bytes()).and_then(|()| conn.write_all(body)).is_ok() {
        body.len()
    } else {
        0
    }
}

/// Keeps the connection open without answering until the client closes it.
fn hang(conn: &mut TcpStream) {
    let started = Instant::now();
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 512];
    while started.elapsed() < HANG_AT_MOST {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// A matrix answer of at least `bytes` bytes in the real shape, streamed until done or until the
/// client stops reading. Returns the body bytes written.
fn huge(conn: &mut TcpStream, bytes: usize, chunked: bool) -> usize {
    let first = br#"{"status":"success","data":{"resultType":"matrix","result":["#;
    let series = br#"{"metric":{"__name__":"padding","instance":"db-1:9100"},"values":[[1795000000,"0.5"]]}"#;
    let last = b"]}}";
    let unit = [&series[..], b","].concat();
    let count = bytes.saturating_sub(first.len() + series.len() + last.len()).div_ceil(unit.len());
    let total = first.len() + count * unit.len() + series.len() + last.len();
    let framing = if chunked { "Transfer-Encoding: chunked".to_string() } else { format!("Content-Length: {total}") };
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\nConnection: close\r\n\r\n");
    if conn.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut send = |data: &[u8]| -> bool {
        if chunked {
            let framed = [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat();
            conn.write_all(&framed).is_ok()
        } else {
            conn.write_all(data).is_ok()
        }
    };
    let batch_units = 64 * 1024 / unit.len();
    let batch = unit.repeat(batch_units);
    let mut sent = 0;
    if !send(first) {
        return sent;
    }
    sent += first.len();
    let mut left = count;
    while left > 0 {
        let n = left.min(batch_units);
        if !send(&batch[..n * unit.len()]) {
            return sent;
        }
        sent += n * unit.len();
        left -= n;
    }
    if !send(&[&series[..], last].concat()) {
        return sent;
    }
    sent += series.len() + last.len();
    if chunked {
        let _ = conn.write_all(b"0\r\n\r\n");
    }
    sent
}

/// Applies a data fault to a `query_range` answer (left as is when it is not a matrix).
fn rewrite(body: &str, fault: &Fault, stats: &Mutex<ProxyStats>) -> String {
    let Ok(mut answer) = serde_json::from_str::<Value>(body) else { return body.to_string() };
    let Some(result) = answer.pointer_mut("/data/result").and_then(Value::as_array_mut) else {
        return body.to_string();
    };
    let mut s = lock(stats);
    for series in result {
        match fault {
            Fault::NonFinite => {
                let Some(values) = series.get_mut("values").and_then(Value::as_array_mut) else { continue };
                for (i, v) in values.iter_mut().enumerate() {
                    s.samples_sent += 1;
                    if i % 2 == 0 {
                        v[1] = Value::from(["NaN", "+Inf", "-Inf"][s.non_finite_sent % 3]);
                        s.non_finite_sent += 1;
                    }
                }
            }
            Fault::UnknownLabels => {
                series["metric"] = serde_json::json!({"__name__": "mystery_total", "foo": "bar"});
                s.series_relabelled += 1;
            }
            _ => {}
        }
    }
    answer.to_string()
}
