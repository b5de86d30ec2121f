//! HTTP for the sources: one client per backend with a timeout per request, retries with
//! jittered exponential backoff (backon) on what is worth retrying (connection failures,
//! timeouts, 502/503/504), and a cap on the response size read into memory. Every HTTP source
//! uses it: extra headers (Loki's tenant) come from [`HttpSettings::headers`], HTTP 429 is
//! retried after the server's `Retry-After` where [`HttpSettings::retry_rate_limited`] asks for
//! it, and a caller that signs each attempt itself (CloudWatch's SigV4) sends one attempt at a
//! time through [`HttpClient::post_once`], so timeouts, TLS, the body cap and error naming are
//! the same everywhere.
//!
//! Secrets (bearer tokens, basic-auth passwords) are read from a file or an environment
//! variable named in the config, sent as headers marked sensitive, and never logged: errors and
//! logs name the URL without its query string or credentials.

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Where a secret comes from. Exactly one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// A file holding the secret (trailing newline ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// An environment variable holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

impl Secret {
    /// Reads the secret; the error names where it looked, never the value.
    pub fn read(&self, what: &str) -> Result<String, String> {
        match (&self.file, &self.env) {
            (Some(f), None) => std::fs::read_to_string(f)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("{what}: reading {}: {e}", f.display())),
            (None, Some(v)) => std::env::var(v).map_err(|_| format!("{what}: environment variable {v} is not set")),
            _ => Err(format!("{what}: give exactly one of `file` or `env`")),
        }
    }
}

/// Authentication for one backend.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<Secret>,
    /// Basic auth user; the password comes from `basic_password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_password: Option<Secret>,
    /// PEM file of extra CA certificates to trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// PEM file holding the client certificate and its private key (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_file: Option<PathBuf>,
}

/// Transport settings of one backend. Durations in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub retries: usize,
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// Largest response body read, in bytes.
    pub max_body_bytes: usize,
    pub auth: Auth,
    /// Extra headers on every request, e.g. Loki's tenant `X-Scope-OrgID`.
    pub headers: Vec<(String, String)>,
    /// Retry HTTP 429 after the server's `Retry-After` (at most [`MAX_RETRY_AFTER`]), else after
    /// the backoff; a 429 still there after the retries is returned as the answer. Off: a 429 is
    /// returned at once.
    pub retry_rate_limited: bool,
}

/// Longest `Retry-After` honoured; a longer one is returned to the caller (its next cycle waits).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_ms: 10_000,
            retries: 2,
            backoff_min_ms: 200,
            backoff_max_ms: 5_000,
            max_body_bytes: 32 * 1024 * 1024,
            auth: Auth::default(),
            headers: Vec::new(),
            retry_rate_limited: false,
        }
    }
}

impl HttpSettings {
    /// Settings of a source from its config values (timeout in milliseconds).
    pub fn for_source(timeout_ms: i64, retries: usize, max_body_bytes: usize, auth: &Auth) -> HttpSettings {
        HttpSettings {
            timeout_ms: timeout_ms.max(1) as u64,
            retries,
            max_body_bytes,
            auth: auth.clone(),
            ..HttpSettings::default()
        }
    }
}

/// Config defaults shared by every HTTP source.
pub(crate) fn default_timeout() -> crate::config::HumanDuration {
    crate::config::HumanDuration::from_millis(10_000)
}
pub(crate) fn default_retries() -> usize {
    2
}
pub(crate) fn default_max_response() -> usize {
    32 * 1024 * 1024
}

/// A failed request. Each names the URL (without query or credentials).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: no answer within {ms} ms")]
    Timeout { url: String, ms: u64 },
    #[error("{url}: cannot connect: {message}")]
    Connect { url: String, message: String },
    #[error("{url}: the response is larger than the cap of {limit} bytes; refused")]
    TooLarge { url: String, limit: usize },
    /// 502/503/504, with the server's reason where its body gave one.
    #[error("{url}: HTTP {status} after {}{detail}", attempts_text(*.attempts))]
    Unavailable { url: String, status: u16, attempts: usize, detail: String },
    /// The server closed the connection before answering (e.g. it just stopped); a GET is
    /// retried, as nothing was done.
    #[error("{url}: the server closed the connection before answering: {message}")]
    Closed { url: String, message: String },
    #[error("{url}: {message}")]
    Other { url: String, message: String },
    #[error("setting up the HTTP client: {0}")]
    Setup(String),
}

impl FetchError {
    fn retryable(&self) -> bool {
        matches!(
            self,
            FetchError::Timeout { .. }
                | FetchError::Connect { .. }
                | FetchError::Unavailable { .. }
                | FetchError::Closed { .. }
        )
    }
}

fn attempts_text(n: usize) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// What a 502/503/504 body says: Prometheus' `errorType: error`, else the start of the text.
fn unavailable_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        #[serde(rename = "errorType", default)]
        error_type: String,
        error: String,
    }
    if let Ok(e) = serde_json::from_slice::<ApiError>(body) {
        return match e.error_type.as_str() {
            "" => format!(": {}", e.error),
            kind => format!(": {kind}: {}", e.error),
        };
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// A response: status and the whole body (within the cap).
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
    /// The wait the server's `Retry-After` asked for (whole seconds only).
    pub retry_after: Option<Duration>,
}

/// The HTTP client of one backend.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    /// What every request carries (auth, extra headers), sensitive ones marked.
    headers: HeaderMap,
}

/// One attempt's failure: a transport error, or a 429 to retry after its `Retry-After`.
#[derive(Debug)]
enum Attempt {
    Failed(FetchError),
    RateLimited(Fetched),
}

/// The URL as it may be shown: scheme, host, port and path; no credentials, no query.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// A reqwest client builder with what every HTTP source shares: the source's timeouts, the CA
/// bundle of `ca_file` and the client certificate of `client_cert_file` (headers are the caller's).
pub fn client_builder(settings: &HttpSettings) -> Result<reqwest::ClientBuilder, FetchError> {
    // rustls needs a process-wide crypto provider; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let setup = |e: String| FetchError::Setup(e);
    let auth = &settings.auth;
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_timeout(Duration::from_millis(settings.timeout_ms));
    if let Some(ca) = &auth.ca_file {
        let pem = std::fs::read(ca).map_err(|e| setup(format!("ca_file {}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| setup(format!("ca_file {}: not PEM certificates: {e}", ca.display())))?;
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    if let Some(cert) = &auth.client_cert_file {
        let pem = std::fs::read(cert).map_err(|e| setup(format!("client_cert_file {}: {e}", cert.display())))?;
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            setup(format!("client_cert_file {}: needs a PEM certificate and its key: {e}", cert.display()))
        })?;
        builder = builder.identity(id);
    }
    Ok(builder)
}

impl HttpClient {
    pub fn new(settings: HttpSettings) -> Result<HttpClient, FetchError> {
        let setup = |e: String| FetchError::Setup(e);
        let mut headers = HeaderMap::new();
        let auth = &settings.auth;
        if let Some(token) = &auth.bearer_token {
            let t = token.read("bearer_token").map_err(setup)?;
            let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| setup("bearer_token: the token holds characters a header cannot carry".into()))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        if let Some(user) = &auth.basic_user {
            let password = match &auth.basic_password {
                Some(p) => p.read("basic_password").map_err(setup)?,
                None => String::new(),
            };
            let mut v = HeaderValue::from_str(&format!("Basic {}", base64(&format!("{user}:{password}"))))
                .map_err(|_| setup("basic auth: invalid characters".into()))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        for (name, value) in &settings.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| setup(format!("header `{name}`: not a valid header name")))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| setup(format!("header `{name}`: its value holds characters a header cannot carry")))?;
            headers.insert(n, v);
        }
        let builder = client_builder(&settings)?.default_headers(headers.clone());
        let client = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(HttpClient { client, settings, headers })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The headers every request carries (auth, extra headers), for a websocket handshake.
    pub fn default_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The underlying reqwest client (its timeouts, TLS and default headers), for a caller with
    /// its own protocol on top (e.g. the AWS credential providers).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }

    /// GET with retries. A non-2xx answer other than 502/503/504 is returned as is (the API's
    /// JSON error body says why).
    pub async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<Fetched, FetchError> {
        let attempt = || async { self.once(self.client.get(url).query(query), url, true).await };
        self.with_retries(attempt, url).await
    }

    /// POST a JSON body with retries.
    pub async fn post_json<T: Serialize + ?Sized>(&self, url: &str, body: &T) -> Result<Fetched, FetchError> {
        // Not idempotent: a connection closed mid-request is not retried (the silence may exist).
        let attempt = || async { self.once(self.client.post(url).json(body), url, false).await };
        self.with_retries(attempt, url).await
    }

    /// One POST of `body` with `headers` and no retries, any status returned as is (502/503/504
    /// included): for a caller that signs each attempt and owns its retry policy (SigV4).
    pub async fn post_once(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Result<Fetched, FetchError> {
        self.send(self.client.post(url).headers(headers).body(body), url, false).await
    }

    async fn with_retries<F, Fut>(&self, mut attempt: F, url: &str) -> Result<Fetched, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, FetchError>>,
    {
        let s = &self.settings;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(s.backoff_min_ms))
            .with_max_delay(Duration::from_millis(s.backoff_max_ms))
            .with_max_times(s.retries)
            .with_jitter();
        let shown = redact(url);
        let rate_limited = s.retry_rate_limited;
        let tagged = || {
            let answer = attempt();
            async move {
                match answer.await {
                    Ok(f) if rate_limited && f.status == 429 => Err(Attempt::RateLimited(f)),
                    Ok(f) => Ok(f),
                    Err(e) => Err(Attempt::Failed(e)),
                }
            }
        };
        let result = tagged
            .retry(backoff)
            .when(|e| match e {
                Attempt::Failed(f) => f.retryable(),
                Attempt::RateLimited(f) => f.retry_after.is_none_or(|w| w <= MAX_RETRY_AFTER),
            })
            .adjust(|e, backoff| match e {
                Attempt::RateLimited(Fetched { retry_after: Some(wait), .. }) => Some(*wait),
                _ => backoff,
            })
            .notify(|e, wait| {
                let why = match e {
                    Attempt::Failed(f) => f.to_string(),
                    Attempt::RateLimited(..) => "HTTP 429 (rate limited)".into(),
                };
                tracing::warn!(url = %shown, error = %why, retry_in_ms = wait.as_millis() as u64, "retrying");
            })
            .await;
        match result {
            Ok(f) | Err(Attempt::RateLimited(f)) => Ok(f),
            Err(Attempt::Failed(FetchError::Unavailable { url, status, detail, .. })) => {
                Err(FetchError::Unavailable { url, status, attempts: s.retries + 1, detail })
            }
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    /// One attempt; 502/503/504 become [`FetchError::Unavailable`] (retried).
    async fn once(&self, request: reqwest::RequestBuilder, url: &str, idempotent: bool) -> Result<Fetched, FetchError> {
        let fetched = self.send(request, url, idempotent).await?;
        if matches!(fetched.status, 502..=504) {
            let detail = unavailable_detail(&fetched.body);
            return Err(FetchError::Unavailable { url: redact(url), status: fetched.status, attempts: 1, detail });
        }
        Ok(fetched)
    }

    /// Sends the request and reads the answer within the cap; transport failures named by kind.
    async fn send(&self, request: reqwest::RequestBuilder, url: &str, idempotent: bool) -> Result<Fetched, FetchError> {
        let shown = redact(url);
        let classify = |e: reqwest::Error| {
            // reqwest's text repeats the whole URL, query included; the redacted one leads.
            let e = e.without_url();
            if e.is_timeout() {
                FetchError::Timeout { url: shown.clone(), ms: self.settings.timeout_ms }
            } else if e.is_connect() {
                FetchError::Connect { url: shown.clone(), message: source_chain(&e) }
            } else if e.is_request() && !e.is_builder() && idempotent {
                FetchError::Closed { url: shown.clone(), message: source_chain(&e) }
            } else {
                FetchError::Other { url: shown.clone(), message: source_chain(&e) }
            }
        };
        let mut response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let limit = self.settings.max_body_bytes;
        if matches!(status, 502..=504) {
            // The reason is worth a few KiB at most; the cap still holds.
            let mut body = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() > limit.min(64 * 1024) {
                    break;
                }
            }
            return Ok(Fetched { status, body, retry_after });
        }
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge { url: shown, limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { url: shown, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { status, body, retry_after })
    }
}

/// The error and its causes on one line (reqwest's own message is terse).
pub fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Standard base64 (for basic auth; not worth a crate).
fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
