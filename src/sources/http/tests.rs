//! The transport against a scripted local server: retries, timeouts, the size cap, auth headers.

use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// What the scripted server does with the n-th request.
#[derive(Clone)]
enum Reply {
    Status(u16, &'static str),
    /// Send headers and `n` body bytes without a length (chunked).
    Chunked(usize),
    /// Say the body is this long (and send nothing).
    Claims(usize),
    /// Accept, then say nothing for this long.
    Silent(u64),
}

/// Serves `script` (the last entry repeats) and records each request's head.
fn serve(script: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let reply = script.get(i).or(script.last()).cloned().unwrap();
            let log = log.clone();
            // One thread per connection, so a silent reply does not hold up the next attempt.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                log.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = match reply {
                    Reply::Status(code, body) => write!(
                        conn,
                        "HTTP/1.1 {code} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Reply::Chunked(n) => {
                        let _ =
                            write!(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
                        let chunk = vec![b'x'; 64 * 1024];
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(chunk.len());
                            if write!(conn, "{k:x}\r\n")
                                .and_then(|_| conn.write_all(&chunk[..k]))
                                .and_then(|_| write!(conn, "\r\n"))
                                .is_err()
                            {
                                break;
                            }
                            left -= k;
                        }
                        write!(conn, "0\r\n\r\n")
                    }
                    Reply::Claims(n) => {
                        write!(conn, "HTTP/1.1 200 OK\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n")
                    }
                    Reply::Silent(ms) => {
                        std::thread::sleep(Duration::from_millis(ms));
                        Ok(())
                    }
                };
            });
        }
    });
    (url, seen)
}

fn fast() -> HttpSettings {
    HttpSettings { timeout_ms: 300, retries: 2, backoff_min_ms: 5, backoff_max_ms: 20, ..HttpSettings::default() }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn a_503_is_retried_then_the_answer_comes_through() {
    let (url, seen) = serve(vec![Reply::Status(503, "busy"), Reply::Status(502, ""), Reply::Status(200, "{\"ok\":1}")]);
    let c = HttpClient::new(fast()).unwrap();
    let got = rt().block_on(c.get(&url, &[("query", "up".to_string())])).unwrap();
    assert_eq!(got, Fetched { status: 200, body: b"{\"ok\":1}".to_vec(), retry_after: None });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].starts_with("GET /api?query=up HTTP/1.1"), "{}", seen[0]);
}

#[test]
fn a_backend_that_stays_unavailable_fails_after_every_attempt_and_4xx_is_not_retried() {
    let (url, seen) = serve(vec![Reply::Status(503, "busy")]);
    let c = HttpClient::new(fast()).unwrap();
    let e = rt().block_on(c.get(&url, &[])).unwrap_err();
    assert_eq!(e, FetchError::Unavailable { url: url.clone(), status: 503, attempts: 3, detail: ": busy".into() });
    assert_eq!(e.to_string(), format!("{url}: HTTP 503 after 3 attempts: busy"));
    assert_eq!(seen.lock().unwrap().len(), 3);

    let (url, seen) = serve(vec![Reply::Status(400, "{\"status\":\"error\"}")]);
    let got = rt().block_on(c.get(&url, &[])).unwrap();
    assert_eq!(got.status, 400, "an API error comes back with its body, not retried");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn a_silent_server_times_out_and_a_closed_port_cannot_connect() {
    let (url, seen) = serve(vec![Reply::Silent(2_000)]);
    let c = HttpClient::new(HttpSettings { retries: 1, ..fast() }).unwrap();
    let e = rt().block_on(c.get(&url, &[])).unwrap_err();
    assert_eq!(e, FetchError::Timeout { url, ms: 300 });
    assert_eq!(seen.lock().unwrap().len(), 2, "timeouts are retried");

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = rt().block_on(c.get(&format!("http://127.0.0.1:{port}/x"), &[])).unwrap_err();
    assert!(matches!(&e, FetchError::Connect { url, .. } if url.ends_with(&format!(":{port}/x"))), "{e}");
}

#[test]
fn bodies_over_the_cap_are_refused_whether_announced_or_streamed() {
    let c = HttpClient::new(HttpSettings { max_body_bytes: 1024 * 1024, ..fast() }).unwrap();
    let (url, _) = serve(vec![Reply::Claims(50 * 1024 * 1024)]);
    assert_eq!(rt().block_on(c.get(&url, &[])).unwrap_err(), FetchError::TooLarge { url, limit: 1024 * 1024 });
    let (url, _) = serve(vec![Reply::Chunked(3 * 1024 * 1024)]);
    assert_eq!(rt().block_on(c.get(&url, &[])).unwrap_err(), FetchError::TooLarge { url, limit: 1024 * 1024 });
    let (url, _) = serve(vec![Reply::Chunked(512 * 1024)]);
    assert_eq!(rt().block_on(c.get(&url, &[])).unwrap().body.len(), 512 * 1024);
}

#[test]
fn secrets_are_sent_but_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let settings = HttpSettings {
        auth: Auth { bearer_token: Some(Secret { file: Some(token), env: None }), ..Auth::default() },
        ..fast()
    };
    let (url, seen) = serve(vec![Reply::Status(200, "{}")]);
    let c = HttpClient::new(settings).unwrap();
    rt().block_on(c.get(&url, &[])).unwrap();
    let head = seen.lock().unwrap()[0].to_ascii_lowercase();
    assert!(head.contains("authorization: bearer s3cret-token\r\n"), "{head}");
    assert!(!format!("{c:?}").contains("s3cret"), "the client's Debug hides the token");

    let missing = Secret { file: None, env: Some("FAULTLINE_TEST_SURELY_UNSET".into()) };
    let e = HttpClient::new(HttpSettings {
        auth: Auth { basic_user: Some("u".into()), basic_password: Some(missing), ..Auth::default() },
        ..fast()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "setting up the HTTP client: basic_password: environment variable FAULTLINE_TEST_SURELY_UNSET is not set"
    );
    assert_eq!(
        redact("https://user:pw@prom.example:9090/api/v1/query?query=secret"),
        "https://prom.example:9090/api/v1/query"
    );
    assert_eq!(base64("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    assert_eq!(base64("ab"), "YWI=");
}

#[test]
fn extra_headers_go_on_every_request_and_a_429_is_retried_only_when_asked() {
    let script = || vec![Reply::Status(429, "slow down"), Reply::Status(200, "{}")];
    let (url, seen) = serve(script());
    let plain = HttpClient::new(fast()).unwrap();
    assert_eq!(rt().block_on(plain.get(&url, &[])).unwrap().status, 429, "returned at once by default");
    assert_eq!(seen.lock().unwrap().len(), 1);

    let (url, seen) = serve(script());
    let settings =
        HttpSettings { headers: vec![("X-Scope-OrgID".into(), "team-a".into())], retry_rate_limited: true, ..fast() };
    let c = HttpClient::new(settings).unwrap();
    assert_eq!(rt().block_on(c.get(&url, &[])).unwrap().status, 200);
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 2, "the 429 was retried once");
    assert!(heads.iter().all(|h| h.to_ascii_lowercase().contains("x-scope-orgid: team-a\r\n")), "{heads:?}");
    assert_eq!(c.default_headers().get("x-scope-orgid").map(|v| v.as_bytes()), Some(&b"team-a"[..]));

    let bad = HttpSettings { headers: vec![("X-Scope-OrgID".into(), "a\nb".into())], ..fast() };
    assert_eq!(
        HttpClient::new(bad).unwrap_err().to_string(),
        "setting up the HTTP client: header `X-Scope-OrgID`: its value holds characters a header cannot carry"
    );
}

#[test]
fn post_once_sends_one_attempt_and_returns_a_503_as_the_answer() {
    let (url, seen) = serve(vec![Reply::Status(503, "<Error><Code>Throttling</Code></Error>"), Reply::Status(200, "")]);
    let c = HttpClient::new(fast()).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20260101T120000Z"));
    let got = rt().block_on(c.post_once(&url, headers, b"Action=DescribeAlarms".to_vec())).unwrap();
    assert_eq!((got.status, got.body.as_slice()), (503, &b"<Error><Code>Throttling</Code></Error>"[..]));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "no retry: the caller owns its retry policy");
    assert!(heads[0].starts_with("POST /api "), "{}", heads[0]);
    assert!(heads[0].to_ascii_lowercase().contains("x-amz-date: 20260101t120000z\r\n"), "{}", heads[0]);
}
