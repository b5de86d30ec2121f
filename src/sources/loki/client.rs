//! HTTP to Loki: the shared [`HttpClient`] (timeout, jittered backoff on connection failures,
//! timeouts and 502/503/504, a cap on the body, auth and TLS from its settings) with what Loki
//! needs beyond the defaults: the tenant header `X-Scope-OrgID` on every request and websocket
//! handshake, and HTTP 429 retried after the server's `Retry-After` (seconds) when it gives one,
//! else after the backoff.

use crate::sources::http::{FetchError, HttpClient, HttpSettings};
use reqwest::header::HeaderValue;

/// The header that names the tenant in a multi-tenant Loki.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// The client of one Loki source; the tenant, when given, goes on every request.
pub fn loki_client(mut settings: HttpSettings, tenant: Option<String>) -> Result<HttpClient, FetchError> {
    if let Some(t) = tenant {
        HeaderValue::from_str(&t)
            .map_err(|_| FetchError::Setup(format!("tenant `{t}` holds characters a header cannot carry")))?;
        settings.headers.push((TENANT_HEADER.to_string(), t));
    }
    settings.retry_rate_limited = true;
    HttpClient::new(settings)
}
