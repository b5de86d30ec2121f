//! HTTP to Loki: what [`crate::sources::http::HttpClient`] does (timeout, jittered backoff on
//! connection failures, timeouts and 502/503/504, a cap on the body, auth and TLS from
//! [`Auth`]) plus what Loki needs beyond it: the tenant header `X-Scope-OrgID` on every request
//! and websocket handshake, and HTTP 429 retried after the server's `Retry-After` (seconds) when
//! it gives one, else after the backoff. `HttpClient` returns neither extra headers nor response
//! headers, hence this small client beside it.
//!
//! Secrets are read once, sent as sensitive headers and never logged; errors name the URL
//! without its query string or credentials.

use crate::sources::http::{redact, Auth, FetchError, Fetched, HttpSettings};
use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;

/// The header that names the tenant in a multi-tenant Loki.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";
/// Longest `Retry-After` honoured; a longer one waits for the next cycle instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The client of one Loki source.
#[derive(Debug, Clone)]
pub struct LokiClient {
    client: reqwest::Client,
    settings: HttpSettings,
    tenant: Option<String>,
    bearer: Option<String>,
    basic: Option<(String, String)>,
}

/// One attempt's failure: a transport error, or a 429 with the wait the server asked for.
#[derive(Debug)]
enum Attempt {
    Failed(FetchError),
    RateLimited(Option<Duration>, Fetched),
}

impl LokiClient {
    pub fn new(settings: HttpSettings, tenant: Option<String>) -> Result<LokiClient, FetchError> {
        let setup = FetchError::Setup;
        let auth: &Auth = &settings.auth;
        let bearer = auth.bearer_token.as_ref().map(|t| t.read("bearer_token")).transpose().map_err(setup)?;
        let basic = match &auth.basic_user {
            Some(user) => {
                let password = auth.basic_password.as_ref().map(|p| p.read("basic_password")).transpose();
                Some((user.clone(), password.map_err(setup)?.unwrap_or_default()))
            }
            None => None,
        };
        if let Some(t) = &tenant {
            HeaderValue::from_str(t)
                .map_err(|_| setup(format!("tenant `{t}` holds characters a header cannot carry")))?;
        }
        let builder = crate::sources::http::client_builder(&settings)?;
        let client = builder.build().map_err(|e| setup(e.to_string()))?;
        Ok(LokiClient { client, settings, tenant, bearer, basic })
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The tenant and auth headers of a request (or a websocket handshake).
    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut request = match &self.tenant {
            Some(t) => request.header(TENANT_HEADER, t),
            None => request,
        };
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        request
    }

    /// The headers a websocket handshake to `url` carries (tenant, auth), sensitive ones marked.
    pub fn handshake_headers(&self, url: &str) -> Result<HeaderMap, FetchError> {
        // reqwest builds the Authorization value (base64 for basic auth) and marks it sensitive.
        let http_url = url.replacen("ws", "http", 1);
        let request = self
            .authorize(self.client.get(&http_url))
            .build()
            .map_err(|e| FetchError::Other { url: redact(&http_url), message: e.to_string() })?;
        Ok(request.headers().clone())
    }

    /// GET with retries: connection failures, timeouts and 502/503/504 after the backoff; 429
    /// after `Retry-After` (capped) or the backoff. A 429 still there after the retries is
    /// returned as the answer (the caller backs off until its next cycle).
    pub async fn get(&self, url: &str, query: &[(&str, String)]) -> Result<Fetched, FetchError> {
        let s = &self.settings;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(s.backoff_min_ms))
            .with_max_delay(Duration::from_millis(s.backoff_max_ms))
            .with_max_times(s.retries)
            .with_jitter();
        let shown = redact(url);
        let attempt = || async { self.once(url, query).await };
        let result = attempt
            .retry(backoff)
            .when(|e| match e {
                Attempt::Failed(f) => retryable(f),
                Attempt::RateLimited(wait, _) => wait.is_none_or(|w| w <= MAX_RETRY_AFTER),
            })
            .adjust(|e, backoff| match e {
                Attempt::RateLimited(Some(wait), _) => Some(*wait),
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
            Ok(f) => Ok(f),
            Err(Attempt::RateLimited(_, fetched)) => Ok(fetched),
            Err(Attempt::Failed(FetchError::Unavailable { url, status, detail, .. })) => {
                Err(FetchError::Unavailable { url, status, attempts: s.retries + 1, detail })
            }
            Err(Attempt::Failed(e)) => Err(e),
        }
    }

    async fn once(&self, url: &str, query: &[(&str, String)]) -> Result<Fetched, Attempt> {
        let shown = redact(url);
        let ms = self.settings.timeout_ms;
        let classify = |e: reqwest::Error| {
            let e = e.without_url();
            let message = crate::sources::http::source_chain(&e);
            Attempt::Failed(if e.is_timeout() {
                FetchError::Timeout { url: shown.clone(), ms }
            } else if e.is_connect() {
                FetchError::Connect { url: shown.clone(), message }
            } else if e.is_request() && !e.is_builder() {
                FetchError::Closed { url: shown.clone(), message }
            } else {
                FetchError::Other { url: shown.clone(), message }
            })
        };
        let mut response = self.authorize(self.client.get(url).query(query)).send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let limit = self.settings.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Attempt::Failed(FetchError::TooLarge { url: shown, limit }));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(Attempt::Failed(FetchError::TooLarge { url: shown, limit }));
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            429 => Err(Attempt::RateLimited(retry_after, Fetched { status, body })),
            502..=504 => {
                let text: String = String::from_utf8_lossy(&body[..body.len().min(120)])
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                let detail = if text.is_empty() { String::new() } else { format!(": {text}") };
                Err(Attempt::Failed(FetchError::Unavailable { url: shown, status, attempts: 1, detail }))
            }
            _ => Ok(Fetched { status, body }),
        }
    }
}

fn retryable(e: &FetchError) -> bool {
    matches!(
        e,
        FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Unavailable { .. }
            | FetchError::Closed { .. }
    )
}
