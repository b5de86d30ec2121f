//! A local Loki for tests: no Grafana Loki can be installed here (FACTS.md), so this answers
//! `/loki/api/v1/query_range` and `/loki/api/v1/tail` in exactly the documented shapes from the
//! lines a test stores in it. HTTP/1.1 by hand over std `TcpListener`, the websocket with
//! tungstenite's `accept_hdr`, one thread per connection.
//!
//! What it implements of LogQL: a stream selector `{k="v", k!="v", k=~"a|b", k=~".+"}` (other
//! regexes are refused), whose syntax errors answer 400 with Loki's plain-text message
//! (`parse error at line 1, col N: syntax error: ...`), and one metric query,
//! `count_over_time({selector}[<secs>s])`, answered as a matrix. Values alternate between
//! 2-tuples and Loki 3's 3-tuples. Faults are scripted: answers served before the real ones
//! (429 with `Retry-After`, 503, ...), a tail that closes with 1011 after some frames, a frame
//! that is not JSON, `dropped_entries`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, handshake::server, protocol::frame::coding::CloseCode, Message};

pub type Labels = BTreeMap<String, String>;

/// A label set from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One stored line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub ns: i64,
    pub labels: Labels,
    pub text: String,
}

/// An answer served instead of the real one.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What the fake holds and how it misbehaves.
#[derive(Debug, Default)]
pub struct State {
    pub lines: Vec<Line>,
    /// Served, in order, to the next `query_range` requests.
    pub script: VecDeque<Scripted>,
    /// Every request: path and query string, as received.
    pub requests: Vec<String>,
    /// `X-Scope-OrgID` of every request (None when absent).
    pub tenants: Vec<Option<String>>,
    /// Tail connections: the `start` each asked for.
    pub tail_starts: Vec<i64>,
    /// The first tail connection closes with 1011 after this many frames.
    pub tail_close_after: Option<usize>,
    /// Send one frame that is not JSON after the first frame of each connection.
    pub tail_bad_frame: bool,
    /// Report this many dropped entries in one frame.
    pub tail_dropped: usize,
    /// Lines per tail frame.
    pub frame_lines: usize,
    /// Lines in each tail frame sent, by connection.
    pub tail_frames: Vec<Vec<usize>>,
}

/// The running fake; threads end with the test process.
pub struct FakeLoki {
    pub url: String,
    pub state: Arc<(Mutex<State>, Condvar)>,
}

impl FakeLoki {
    pub fn start() -> FakeLoki {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake Loki");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new((Mutex::new(State { frame_lines: 5, ..State::default() }), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeLoki { url, state }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.0.lock().unwrap();
        let out = f(&mut s);
        self.state.1.notify_all();
        out
    }

    /// Stores lines (tails see them too); kept in time order, as Loki reads them.
    pub fn push(&self, lines: impl IntoIterator<Item = Line>) {
        self.with(|s| {
            s.lines.extend(lines);
            s.lines.sort_by_key(|l| l.ns);
        });
    }
}

fn serve(mut stream: TcpStream, state: &Arc<(Mutex<State>, Condvar)>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = vec![0u8; 8192];
    // Peek the head: a websocket handshake is left for tungstenite to read.
    let n = loop {
        let n = match stream.peek(&mut head) {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        if head[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == head.len() {
            break n;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let text = String::from_utf8_lossy(&head[..n]).to_string();
    let target = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let tenant = text.lines().find_map(|l| {
        l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("x-scope-orgid")).map(|(_, v)| v.trim().to_string())
    });
    {
        let mut s = state.0.lock().unwrap();
        s.requests.push(target.clone());
        s.tenants.push(tenant);
    }
    if target.starts_with("/loki/api/v1/tail") {
        return tail(stream, state);
    }
    let end = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(n);
    let mut sink = vec![0u8; end];
    let _ = stream.read_exact(&mut sink);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params = parse_query(query);
    let answer = if path == "/loki/api/v1/query_range" {
        let scripted = state.0.lock().unwrap().script.pop_front();
        scripted.unwrap_or_else(|| query_range(&params, &state.0.lock().unwrap()))
    } else {
        Scripted { status: 404, headers: vec![], body: "404 page not found\n".into() }
    };
    let mut out =
        format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", answer.status, answer.body.len());
    let json = answer.body.starts_with('{');
    out.push_str(if json {
        "Content-Type: application/json\r\n"
    } else {
        "Content-Type: text/plain; charset=utf-8\r\n"
    });
    for (k, v) in &answer.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&answer.body);
    let _ = stream.write_all(out.as_bytes());
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.unwrap_or(b'%'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stream selector's matchers: (label, op, value).
type Matchers = Vec<(String, String, String)>;

/// Parses `{k="v", ...}`; the error is Loki's message with the 1-based column.
pub fn parse_selector(q: &str) -> Result<Matchers, String> {
    let err = |col: usize, what: &str| format!("parse error at line 1, col {col}: syntax error: {what}");
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    skip(&mut i);
    if chars.get(i) != Some(&'{') {
        return Err(err(i + 1, "unexpected IDENTIFIER, expecting { or a function"));
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        skip(&mut i);
        if chars.get(i) == Some(&'}') {
            i += 1;
            break;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i == start {
            return Err(err(i + 1, "unexpected character, expecting IDENTIFIER"));
        }
        let name: String = chars[start..i].iter().collect();
        skip(&mut i);
        let op = ["=~", "!=", "="].iter().find(|op| chars[i..].iter().take(op.len()).collect::<String>() == **op);
        let Some(op) = op else { return Err(err(i + 1, "unexpected character, expecting = or != or =~")) };
        i += op.len();
        skip(&mut i);
        if chars.get(i) != Some(&'"') {
            return Err(err(i + 1, "unexpected end of input, expecting STRING"));
        }
        let close = chars[i + 1..].iter().position(|c| *c == '"').ok_or_else(|| err(i + 1, "unterminated string"))?;
        let value: String = chars[i + 1..i + 1 + close].iter().collect();
        i += close + 2;
        out.push((name, op.to_string(), value));
        skip(&mut i);
        match chars.get(i) {
            Some(',') => i += 1,
            Some('}') => {}
            _ => return Err(err(i + 1, "unexpected end of input, expecting , or }")),
        }
    }
    skip(&mut i);
    if i < chars.len() {
        return Err(err(i + 1, "unexpected characters after the selector"));
    }
    Ok(out)
}

fn matches(m: &Matchers, l: &Labels) -> bool {
    m.iter().all(|(k, op, v)| {
        let have = l.get(k).map(String::as_str).unwrap_or("");
        match op.as_str() {
            "=" => have == v,
            "!=" => have != v,
            _ => match v.as_str() {
                ".+" => !have.is_empty(),
                ".*" => true,
                alts => alts.split('|').any(|a| a == have),
            },
        }
    })
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn labels_json(l: &Labels) -> String {
    serde_json::to_string(l).unwrap()
}

/// `streams` JSON of lines (in the given order), grouped by stream.
fn streams_json(lines: &[&Line]) -> String {
    let mut by: BTreeMap<&Labels, Vec<&Line>> = BTreeMap::new();
    for l in lines {
        by.entry(&l.labels).or_default().push(l);
    }
    let streams: Vec<String> = by
        .iter()
        .map(|(labels, ls)| {
            let values: Vec<String> = ls
                .iter()
                .map(|l| {
                    if l.ns % 2 == 0 {
                        format!("[\"{}\",{}]", l.ns, json_str(&l.text))
                    } else {
                        format!("[\"{}\",{},{{\"structuredMetadata\":{{}},\"parsed\":{{}}}}]", l.ns, json_str(&l.text))
                    }
                })
                .collect();
            format!("{{\"stream\":{},\"values\":[{}]}}", labels_json(labels), values.join(","))
        })
        .collect();
    streams.join(",")
}

fn query_range(p: &BTreeMap<String, String>, s: &State) -> Scripted {
    let ok = |body: String| Scripted { status: 200, headers: vec![], body };
    let bad = |msg: String| Scripted { status: 400, headers: vec![], body: format!("{msg}\n") };
    let q = p.get("query").cloned().unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (num("start"), num("end")) else {
        return bad("invalid start or end".into());
    };
    let limit = num("limit").unwrap_or(100) as usize;
    if let Some(rest) = q.strip_prefix("count_over_time(") {
        let Some((sel, range)) = rest.trim_end_matches(')').rsplit_once('[') else {
            return bad("parse error at line 1, col 16: syntax error: expecting a range".into());
        };
        let matchers = match parse_selector(sel) {
            Ok(m) => m,
            Err(e) => return bad(e),
        };
        let window = range.trim_end_matches(']').trim_end_matches('s').parse::<i64>().unwrap_or(60) * 1_000_000_000;
        let step = p.get("step").and_then(|v| v.trim_end_matches('s').parse::<f64>().ok()).unwrap_or(60.0);
        let step_ns = (step * 1e9) as i64;
        let mut by: BTreeMap<&Labels, Vec<String>> = BTreeMap::new();
        let mut t = start;
        while t <= end {
            for l in s.lines.iter().filter(|l| matches(&matchers, &l.labels)) {
                by.entry(&l.labels).or_default();
            }
            for (labels, values) in by.iter_mut() {
                let n = s.lines.iter().filter(|l| &&l.labels == labels && l.ns > t - window && l.ns <= t).count();
                if n > 0 {
                    values.push(format!("[{},\"{n}\"]", t as f64 / 1e9));
                }
            }
            t += step_ns;
        }
        let result: Vec<String> = by
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, v)| format!("{{\"metric\":{},\"values\":[{}]}}", labels_json(l), v.join(",")))
            .collect();
        return ok(format!(
            "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{}]}}}}",
            result.join(",")
        ));
    }
    let matchers = match parse_selector(&q) {
        Ok(m) => m,
        Err(e) => return bad(e),
    };
    let first = s.lines.partition_point(|l| l.ns < start);
    let hits: Vec<&Line> = s.lines[first..]
        .iter()
        .take_while(|l| l.ns < end)
        .filter(|l| matches(&matchers, &l.labels))
        .take(limit)
        .collect();
    ok(format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"streams\",\"result\":[{}],\"stats\":{{\"summary\":{{\"totalLinesProcessed\":{}}}}}}}}}",
        streams_json(&hits),
        hits.len()
    ))
}

// The handshake callback's error type is tungstenite's (an HTTP response), not ours to shrink.
#[allow(clippy::result_large_err)]
fn tail(stream: TcpStream, state: &Arc<(Mutex<State>, Condvar)>) {
    let mut uri = String::new();
    let callback = |req: &server::Request, resp: server::Response| {
        uri = req.uri().to_string();
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, callback) else { return };
    let params = parse_query(uri.split_once('?').map(|(_, q)| q).unwrap_or(""));
    let q = params.get("query").cloned().unwrap_or_default();
    let Ok(matchers) = parse_selector(&q) else {
        let _ = ws.close(None);
        return;
    };
    let mut next = params.get("start").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let (first_connection, close_after, bad_frame) = {
        let mut s = state.0.lock().unwrap();
        s.tail_starts.push(next);
        s.tail_frames.push(Vec::new());
        (s.tail_starts.len() == 1, s.tail_close_after, s.tail_bad_frame)
    };
    let mut frames = 0usize;
    loop {
        let (batch, dropped) = {
            let (lock, cvar) = &**state;
            let mut s = lock.lock().unwrap();
            loop {
                let mut new: Vec<Line> =
                    s.lines.iter().filter(|l| l.ns >= next && matches(&matchers, &l.labels)).cloned().collect();
                if !new.is_empty() {
                    new.sort();
                    new.truncate(s.frame_lines.max(1));
                    let dropped = std::mem::take(&mut s.tail_dropped);
                    break (new, dropped);
                }
                let (guard, _) = cvar.wait_timeout(s, Duration::from_millis(200)).unwrap();
                s = guard;
            }
        };
        next = batch.iter().map(|l| l.ns).max().unwrap_or(next) + 1;
        let refs: Vec<&Line> = batch.iter().collect();
        let dropped_json = if dropped > 0 {
            let d: Vec<String> = (0..dropped)
                .map(|i| {
                    format!(
                        "{{\"labels\":{},\"timestamp\":\"{}\"}}",
                        labels_json(&batch[0].labels),
                        batch[0].ns - 1 - i as i64
                    )
                })
                .collect();
            format!(",\"dropped_entries\":[{}]", d.join(","))
        } else {
            String::new()
        };
        let frame = format!("{{\"streams\":[{}]{dropped_json}}}", streams_json(&refs));
        if ws.send(Message::text(frame)).is_err() {
            return;
        }
        frames += 1;
        if let Some(sent) = state.0.lock().unwrap().tail_frames.last_mut() {
            sent.push(batch.len());
        }
        if bad_frame
            && first_connection
            && frames == 1
            && ws.send(Message::text("<html>502 Bad Gateway</html>")).is_err()
        {
            return;
        }
        if first_connection && close_after == Some(frames) {
            let close = tungstenite::protocol::CloseFrame {
                code: CloseCode::Error,
                reason: "max tail duration reached".into(),
            };
            let _ = ws.close(Some(close));
            let _ = ws.flush();
            return;
        }
    }
}
