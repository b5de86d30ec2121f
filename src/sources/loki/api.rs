//! The Loki HTTP API, decoded: `query_range` answers (`streams` for log queries, `matrix` for
//! metric queries, as Prometheus' own) and `tail` websocket frames. Pure, so every shape and
//! every malformed answer is tested without a server.
//!
//! A stream value is `["<ns since the epoch, as a string>", "<line>"]`; Loki 3 may add a third
//! element (`{"structuredMetadata": {...}, "parsed": {...}}`), which is accepted and ignored.
//! Loki answers a query it rejects with HTTP 400 and a plain-text message (`parse error at
//! line 1, col 5: ...`), or with Prometheus' JSON error envelope: both are read.

use crate::sources::prometheus::api::RangeSeries;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// One log line: its time in nanoseconds since the epoch, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub ns: i64,
    pub line: String,
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a value ["<ns>", "<line>"] or ["<ns>", "<line>", {metadata}]"#)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                let ts: std::borrow::Cow<'de, str> =
                    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let ns = parse_ns(&ts).map_err(de::Error::custom)?;
                let line: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                // Loki 3's structured metadata and parsed labels: not used here.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Entry { ns, line })
            }
        }
        d.deserialize_seq(EntryVisitor)
    }
}

/// A timestamp in nanoseconds as Loki writes it (a string of digits).
pub fn parse_ns(text: &str) -> Result<i64, String> {
    text.parse::<i64>().map_err(|_| format!("`{text}` is not a timestamp in nanoseconds"))
}

/// One stream of a `streams` answer or a tail frame.
#[derive(Debug, Clone, Deserialize)]
pub struct Stream {
    pub stream: BTreeMap<String, String>,
    #[serde(default)]
    pub values: Vec<Entry>,
}

/// `data` of `query_range`.
#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    Streams(Vec<Stream>),
    Matrix(Vec<RangeSeries>),
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<QueryData>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

/// Why a Loki answer could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LokiError {
    /// Loki refused the query (HTTP 4xx), e.g. a LogQL syntax error; `message` is Loki's.
    #[error("query `{query}`: Loki refused it (HTTP {status}): {message}")]
    Refused { query: String, status: u16, message: String },
    /// Loki rate-limits us (HTTP 429) still after the retries; asked again next cycle.
    #[error("query `{query}`: Loki rate-limits the source (HTTP 429){message}; asked again next cycle")]
    RateLimited { query: String, message: String },
    /// The body is not the JSON the API documents.
    #[error("query `{query}`: {url}: HTTP {status}: not a Loki API answer ({problem}); body starts `{start}`")]
    Malformed { query: String, url: String, status: u16, problem: String, start: String },
}

/// Decodes a `query_range` answer for `query` from `url` (shown without its query string).
pub fn decode_query(query: &str, url: &str, status: u16, body: &[u8]) -> Result<QueryData, LokiError> {
    let start = || String::from_utf8_lossy(&body[..body.len().min(80)]).replace('\n', " ");
    let malformed = |problem: String| LokiError::Malformed {
        query: query.into(),
        url: url.into(),
        status,
        problem,
        start: start(),
    };
    if status == 429 {
        return Err(LokiError::RateLimited {
            query: query.into(),
            message: error_text(body).map(|m| format!(": {m}")).unwrap_or_default(),
        });
    }
    if (400..500).contains(&status) {
        let message = error_text(body).unwrap_or_else(|| "(no message)".into());
        return Err(LokiError::Refused { query: query.into(), status, message });
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    match (envelope.status.as_str(), envelope.data) {
        ("success", Some(data)) if (200..300).contains(&status) => Ok(data),
        ("success", None) => Err(malformed("`status` is success but `data` is missing".into())),
        ("success", Some(_)) => Err(malformed("`status` is success but the HTTP status is not 2xx".into())),
        ("error", _) => {
            let message = if envelope.error.is_empty() { envelope.message } else { envelope.error };
            Err(LokiError::Refused { query: query.into(), status, message })
        }
        (other, _) => Err(malformed(format!("unknown `status` `{other}`"))),
    }
}

/// The message of an error body: JSON `error`/`message`, else the text on one line (at most
/// 300 characters).
fn error_text(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct JsonError {
        #[serde(default)]
        error: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<JsonError>(body) {
        let m = if e.error.is_empty() { e.message } else { e.error };
        if !m.is_empty() {
            return Some(m);
        }
    }
    let text: String = String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" ");
    let text: String = text.chars().take(300).collect();
    (!text.is_empty()).then_some(text)
}

/// A frame of `/loki/api/v1/tail`; either key may be absent.
#[derive(Debug, Default, Deserialize)]
pub struct TailFrame {
    #[serde(default)]
    pub streams: Vec<Stream>,
    #[serde(default)]
    pub dropped_entries: Vec<DroppedEntry>,
}

/// An entry Loki could not send (the tail fell behind on its side).
#[derive(Debug, Deserialize)]
pub struct DroppedEntry {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub timestamp: String,
}

/// Decodes a tail frame; the error says what is wrong and how the frame starts.
pub fn decode_frame(text: &str) -> Result<TailFrame, String> {
    serde_json::from_str(text).map_err(|e| {
        let start: String = text.chars().take(60).collect();
        format!("a tail frame is not JSON in the documented shape ({e}); it starts `{start}`")
    })
}

/// A label set as LogQL writes it: `{app="api", pod="api-1"}` (sorted, so a stable key).
pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://loki:3100/loki/api/v1/query_range";

    #[test]
    fn streams_with_two_and_three_element_values_decode() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"app":"api","level":"error"},"values":[
                ["1795000000000000001","GET /x 500"],
                ["1795000000000000002","GET /y 200",{"structuredMetadata":{"trace_id":"abc"},"parsed":{"code":"200"}}]]},
            {"stream":{"app":"db"},"values":[]}],
            "stats":{"summary":{"bytesProcessedPerSecond":1}}}}"#;
        let QueryData::Streams(streams) = decode_query("{app=~\".+\"}", URL, 200, body).unwrap() else {
            panic!("streams")
        };
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].stream["level"], "error");
        assert_eq!(
            streams[0].values,
            [
                Entry { ns: 1_795_000_000_000_000_001, line: "GET /x 500".into() },
                Entry { ns: 1_795_000_000_000_000_002, line: "GET /y 200".into() }
            ]
        );
        assert!(streams[1].values.is_empty());
    }

    #[test]
    fn a_metric_query_answers_a_matrix() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"app":"api"},"values":[[1795000000,"12"],[1795000060.5,"3"]]}]}}"#;
        let QueryData::Matrix(series) =
            decode_query("sum by (app) (count_over_time({app=\"api\"}[1m]))", URL, 200, body).unwrap()
        else {
            panic!("matrix")
        };
        assert_eq!(series[0].values.len(), 2);
        assert_eq!(series[0].values[1].finite(), Some(3.0));
    }

    #[test]
    fn bad_timestamps_and_values_are_named() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"app":"api"},"values":[["17950e9","x"]]}]}}"#;
        let e = decode_query("q", URL, 200, body).unwrap_err().to_string();
        assert!(e.contains("`17950e9` is not a timestamp in nanoseconds") && e.contains(URL), "{e}");
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"app":"api"},"values":[["1"]]}]}}"#;
        let e = decode_query("q", URL, 200, body).unwrap_err().to_string();
        assert!(e.contains("invalid length 1"), "{e}");
        assert_eq!(parse_ns("1795000000123456789"), Ok(1_795_000_000_123_456_789));
    }

    #[test]
    fn refusals_in_plain_text_or_json_name_the_query() {
        let q = "{app=\"api\"} |= ";
        let e =
            decode_query(q, URL, 400, b"parse error at line 1, col 5: syntax error: unexpected $end\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "query `{q}`: Loki refused it (HTTP 400): parse error at line 1, col 5: syntax error: unexpected $end"
            )
        );
        let e = decode_query(q, URL, 400, br#"{"status":"error","errorType":"bad_data","error":"invalid query"}"#)
            .unwrap_err();
        assert!(e.to_string().ends_with("(HTTP 400): invalid query"), "{e}");
        let e = decode_query(q, URL, 429, b"too many outstanding requests").unwrap_err();
        assert!(matches!(e, LokiError::RateLimited { .. }));
        assert!(e.to_string().contains("HTTP 429): too many outstanding requests"), "{e}");
        let e = decode_query(q, URL, 200, b"<html>proxy</html>").unwrap_err().to_string();
        assert!(e.contains("not a Loki API answer") && e.contains("<html>proxy"), "{e}");
    }

    #[test]
    fn tail_frames_with_either_key_absent() {
        let f = decode_frame(r#"{"streams":[{"stream":{"app":"a"},"values":[["5","x"]]}]}"#).unwrap();
        assert_eq!((f.streams.len(), f.dropped_entries.len()), (1, 0));
        let f = decode_frame(r#"{"dropped_entries":[{"labels":{"app":"a"},"timestamp":"7"}]}"#).unwrap();
        assert_eq!((f.streams.len(), f.dropped_entries[0].timestamp.as_str()), (0, "7"));
        let e = decode_frame("not json at all").unwrap_err();
        assert!(e.contains("starts `not json at all`"), "{e}");
    }

    #[test]
    fn label_sets_print_sorted() {
        let labels: BTreeMap<String, String> =
            [("pod", "api-1"), ("app", "api")].map(|(k, v)| (k.into(), v.into())).into();
        assert_eq!(label_text(&labels), r#"{app="api", pod="api-1"}"#);
    }
}
