//! One query's new range read with `query_range`, page by page: `direction=forward` from
//! `start` to `end` (nanoseconds), `limit` lines a page. A page that comes back full asks again
//! from its newest line's time (not past it: other lines may share that nanosecond; the
//! per-stream de-duplication drops the ones already read). At most `max_pages` pages a cycle;
//! the rest is read next cycle from where this one stopped.

use super::api::{self, Entry, LokiError, QueryData};
use crate::sources::http::{redact, FetchError, HttpClient};
use crate::sources::prometheus::api::RangeSeries;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Lines of one stream read from one answer.
pub type Lines = (Arc<BTreeMap<String, String>>, Vec<Entry>);

/// What reading a range gave.
#[derive(Debug, Default)]
pub struct RangeRead {
    /// Lines per stream, in the order read (forward: oldest first within a stream).
    pub streams: Vec<Lines>,
    /// A metric query's series.
    pub matrix: Vec<RangeSeries>,
    /// Newest line time read, in nanoseconds.
    pub newest_ns: Option<i64>,
    /// Where the next read starts when `max_pages` stopped this one.
    pub more_from: Option<i64>,
    pub requests: usize,
    pub bytes: usize,
    /// Why the read stopped early (what was read before is kept).
    pub error: Option<String>,
    /// The error is Loki's rate limit (HTTP 429 after the retries): a wait, not a failure.
    pub rate_limited: bool,
}

/// How one query is asked.
#[derive(Debug, Clone)]
pub struct RangeAsk<'a> {
    pub url: &'a str,
    pub query: &'a str,
    pub start_ns: i64,
    pub end_ns: i64,
    pub limit: usize,
    /// Step of a metric query, in milliseconds.
    pub step_ms: i64,
    pub max_pages: usize,
}

/// Reads `ask`'s range, paging while pages come back full.
pub async fn read_range(client: &HttpClient, ask: &RangeAsk<'_>) -> RangeRead {
    let mut read = RangeRead::default();
    let mut start = ask.start_ns;
    let shown = redact(ask.url);
    for page in 0..ask.max_pages.max(1) {
        let params = vec![
            ("query", ask.query.to_string()),
            ("start", start.to_string()),
            ("end", ask.end_ns.to_string()),
            ("limit", ask.limit.to_string()),
            ("direction", "forward".to_string()),
            ("step", format!("{}s", ask.step_ms as f64 / 1000.0)),
        ];
        read.requests += 1;
        let fetched = match client.get(ask.url, &params).await {
            Ok(f) => f,
            Err(e) => {
                read.error = Some(fetch_problem(ask.query, &e));
                return read;
            }
        };
        read.bytes += fetched.body.len();
        match api::decode_query(ask.query, &shown, fetched.status, &fetched.body) {
            Ok(QueryData::Matrix(series)) => {
                read.matrix = series;
                return read;
            }
            Ok(QueryData::Streams(streams)) => {
                let lines: usize = streams.iter().map(|s| s.values.len()).sum();
                let newest = streams.iter().filter_map(|s| s.values.iter().map(|e| e.ns).max()).max();
                read.newest_ns = read.newest_ns.max(newest);
                read.streams.extend(
                    streams.into_iter().filter(|s| !s.values.is_empty()).map(|s| (Arc::new(s.stream), s.values)),
                );
                let Some(newest) = newest.filter(|_| lines >= ask.limit) else { return read };
                // A full page: more may follow. More than `limit` lines in one nanosecond would
                // ask the same page forever, so then step past it.
                start = if newest > start { newest } else { newest + 1 };
                if page + 1 == ask.max_pages.max(1) {
                    read.more_from = Some(start);
                }
            }
            Err(e) => {
                read.error = Some(e.to_string());
                read.rate_limited = matches!(e, LokiError::RateLimited { .. });
                return read;
            }
        }
    }
    read
}

/// A failed request, naming the query.
pub fn fetch_problem(query: &str, e: &FetchError) -> String {
    format!("query `{query}`: {e}")
}
