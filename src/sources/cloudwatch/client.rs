//! Signed calls to AWS query APIs, with the two kinds of waiting AWS asks for kept apart:
//! a transport failure (connection, timeout) is retried a few times like any HTTP source's,
//! while throttling (`Throttling`, `ThrottlingException`, HTTP 429 or 503) grows a backoff that
//! outlives the call: exponential with jitter, carried over cycles, so a throttled source asks
//! less often until AWS answers normally again, and is never reported failed for it.
//!
//! The transport is the shared [`HttpClient`] (timeout, TLS, response cap, errors naming the
//! URL), one attempt at a time through [`HttpClient::post_once`]: SigV4 signs the exact headers
//! and body of each attempt, with the time and credentials of that attempt.

use super::api::{error_of, ApiError};
use super::credentials::{CredentialsError, Provider};
use super::sigv4::{self, form, Keys};
use crate::model::Timestamp;
use crate::sources::http::{redact, FetchError, HttpClient, HttpSettings};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a call gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
    #[error("{action} {}", .error)]
    Fetch { action: String, error: FetchError },
    /// AWS refused the request (bad signature, no permission, bad parameter…).
    #[error("{action} {url}: HTTP {status}: {error}")]
    Api { action: String, url: String, status: u16, error: ApiError },
    /// Still throttled after the retries; the next cycle waits `wait_ms` first.
    #[error("{action} {url}: throttled by AWS ({code}); backing off {wait_ms} ms")]
    Throttled { action: String, url: String, code: String, wait_ms: u64 },
    #[error("{action} {url}: HTTP {status}: {start}")]
    Http { action: String, url: String, status: u16, start: String },
}

/// The throttling backoff of one source, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    min_ms: u64,
    max_ms: u64,
    /// The current delay; 0 while AWS answers normally.
    delay_ms: u64,
    /// Calls wait until then (wall time): set when a cycle ends throttled.
    pub resume_at: Option<Timestamp>,
    /// Throttled answers seen in all (for the status notes).
    pub throttled: u64,
    seed: u64,
}

impl Backoff {
    pub fn new(min_ms: u64) -> Backoff {
        let min_ms = min_ms.max(1);
        Backoff { min_ms, max_ms: min_ms.saturating_mul(64), delay_ms: 0, resume_at: None, throttled: 0, seed: 0 }
    }

    /// Throttled again: the next wait, doubled (at least `min`, at most `max`), with jitter
    /// (between half and all of it) so many agents do not retry in step.
    pub fn grow(&mut self) -> u64 {
        self.throttled += 1;
        self.delay_ms = self.delay_ms.saturating_mul(2).clamp(self.min_ms, self.max_ms);
        let half = self.delay_ms / 2;
        half + self.random() % (self.delay_ms - half + 1)
    }

    /// An answer came: halve the delay, down to none.
    pub fn relax(&mut self) {
        self.delay_ms /= 2;
        if self.delay_ms < self.min_ms {
            self.delay_ms = 0;
        }
    }

    /// The current delay without jitter (0: not backing off).
    pub fn delay_ms(&self) -> u64 {
        self.delay_ms
    }

    fn random(&mut self) -> u64 {
        // splitmix64 over the clock: jitter needs spread, not cryptographic quality.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15 ^ nanos as u64);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One AWS service endpoint: its URL and the name it is signed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub url: String,
    /// `monitoring`, `ec2`.
    pub signing_name: &'static str,
}

/// The signed query-protocol client of one source.
#[derive(Debug)]
pub struct AwsClient {
    http: HttpClient,
    region: String,
    credentials: Provider,
    retries: usize,
    pub backoff: Backoff,
    /// Calls made this cycle, by action (for the cost note).
    pub calls: BTreeMap<String, usize>,
    /// Response bytes read this cycle.
    pub bytes: usize,
}

/// Transport settings of [`AwsClient::new`].
pub struct Settings {
    pub timeout_ms: u64,
    pub retries: usize,
    pub max_body_bytes: usize,
    pub throttle_min_ms: u64,
}

impl AwsClient {
    pub fn new(region: String, credentials: Provider, s: Settings) -> Result<AwsClient, FetchError> {
        // Retries are this client's own (throttling outlives a call); the HTTP client sends once.
        let http = HttpClient::new(HttpSettings {
            timeout_ms: s.timeout_ms,
            retries: 0,
            max_body_bytes: s.max_body_bytes,
            ..HttpSettings::default()
        })?;
        Ok(AwsClient {
            http,
            region,
            credentials,
            retries: s.retries,
            backoff: Backoff::new(s.throttle_min_ms),
            calls: BTreeMap::new(),
            bytes: 0,
        })
    }

    /// Credentials usable now, found (or refreshed) if need be.
    pub async fn credentials(&mut self, now: Timestamp) -> Result<super::credentials::Credentials, CredentialsError> {
        self.credentials.get(self.http.reqwest(), now).await
    }

    /// One call of `params` (holding `Action`) to `service`: the body of its answer.
    pub async fn call(&mut self, service: &Service, params: &[(String, String)]) -> Result<String, CallError> {
        let action = params.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone()).unwrap_or_default();
        let shown = redact(&service.url);
        let mut transport_wait = 200;
        for attempt in 0..=self.retries {
            let now = Timestamp::wall_clock();
            let creds = self.credentials.get(self.http.reqwest(), now).await?;
            *self.calls.entry(action.clone()).or_default() += 1;
            let last = attempt == self.retries;
            match self.once(service, params, &creds.keys, now).await {
                Ok((status, body)) if (200..300).contains(&status) => {
                    self.backoff.relax();
                    return Ok(body);
                }
                Ok((status, body)) => {
                    let error = error_of(&body);
                    let throttled = error.as_ref().is_some_and(ApiError::is_throttling) || matches!(status, 429 | 503);
                    if throttled {
                        let wait_ms = self.backoff.grow();
                        let code = error.map(|e| e.code).unwrap_or_else(|| format!("HTTP {status}"));
                        tracing::warn!(url = %shown, %action, %code, wait_ms, "throttled by AWS");
                        if last {
                            self.backoff.resume_at = Some(Timestamp::wall_clock().plus_ms(wait_ms as i64));
                            return Err(CallError::Throttled { action, url: shown, code, wait_ms });
                        }
                        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
                        continue;
                    }
                    return Err(match error {
                        Some(error) => CallError::Api { action, url: shown, status, error },
                        None => {
                            let start: String = body.chars().take(120).collect();
                            CallError::Http {
                                action,
                                url: shown,
                                status,
                                start: start.split_whitespace().collect::<Vec<_>>().join(" "),
                            }
                        }
                    });
                }
                Err(error) => {
                    let again = matches!(error, FetchError::Timeout { .. } | FetchError::Connect { .. });
                    if !again || last {
                        return Err(CallError::Fetch { action, error });
                    }
                    tracing::warn!(url = %shown, %action, %error, retry_in_ms = transport_wait, "retrying");
                    tokio::time::sleep(Duration::from_millis(transport_wait)).await;
                    transport_wait *= 2;
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    async fn once(
        &mut self,
        service: &Service,
        params: &[(String, String)],
        keys: &Keys,
        now: Timestamp,
    ) -> Result<(u16, String), FetchError> {
        let shown = redact(&service.url);
        let url = reqwest::Url::parse(&service.url)
            .map_err(|e| FetchError::Other { url: shown.clone(), message: format!("not a URL: {e}") })?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(FetchError::Other { url: shown, message: "no host".into() }),
        };
        let body = form(params);
        let amz_date = amz_date(now);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let mut headers =
            vec![("content-type", content_type), ("host", host.as_str()), ("x-amz-date", amz_date.as_str())];
        if let Some(token) = &keys.session_token {
            headers.push(("x-amz-security-token", token.as_str()));
        }
        let scope = sigv4::Scope { region: &self.region, service: service.signing_name, amz_date: &amz_date };
        let path = if url.path().is_empty() { "/" } else { url.path() };
        let request = sigv4::Request { method: "POST", path, query: "", headers: &headers, body: body.as_bytes() };
        let header = |value: &str, what: &str| {
            let mut v = HeaderValue::from_str(value).map_err(|_| FetchError::Other {
                url: shown.clone(),
                message: format!("the {what} cannot go in a header"),
            })?;
            v.set_sensitive(true);
            Ok::<_, FetchError>(v)
        };
        let mut sent = HeaderMap::new();
        sent.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        sent.insert("x-amz-date", header(&amz_date, "date")?);
        sent.insert(AUTHORIZATION, header(&sigv4::authorization(keys, &scope, &request), "access key id")?);
        if let Some(token) = &keys.session_token {
            sent.insert("x-amz-security-token", header(token, "session token")?);
        }
        let fetched = self.http.post_once(url.as_str(), sent, body.into_bytes()).await?;
        self.bytes += fetched.body.len();
        Ok((fetched.status, String::from_utf8_lossy(&fetched.body).into_owned()))
    }
}

/// `20260101T120000Z` (SigV4's `X-Amz-Date`).
pub fn amz_date(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    let s: String = s.get(..19).unwrap_or(&s).chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{s}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_relaxes() {
        let mut b = Backoff::new(100);
        let waits: Vec<u64> = (0..9).map(|_| b.grow()).collect();
        let delays = [100, 200, 400, 800, 1600, 3200, 6400, 6400, 6400];
        for (w, d) in waits.iter().zip(delays) {
            assert!((d / 2..=d).contains(w), "wait {w} for delay {d}: {waits:?}");
        }
        assert_eq!((b.delay_ms(), b.throttled), (6400, 9));
        for _ in 0..6 {
            b.relax();
        }
        assert_eq!(b.delay_ms(), 100);
        b.relax();
        assert_eq!(b.delay_ms(), 0, "below the minimum: not backing off");
    }

    #[test]
    fn amz_date_format() {
        assert_eq!(amz_date(Timestamp::parse_rfc3339("2015-08-30T12:36:00.250Z").unwrap()), "20150830T123600Z");
    }
}
