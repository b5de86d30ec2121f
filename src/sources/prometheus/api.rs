//! The Prometheus HTTP API, decoded: responses of `query_range`, `alerts` and `targets` turned
//! into observations. Anything that speaks this API (Thanos, Mimir, VictoriaMetrics) decodes the
//! same. The transport (timeouts, retries, size cap, incremental ranges) lives beside it; this
//! part is pure so every malformed or partial response can be tested without a server.
//!
//! A response is judged by its body first: Prometheus answers errors with JSON
//! (`{"status":"error","errorType":"bad_data","error":"..."}`) and a non-2xx status, so the
//! message it gives is what we report, with the URL.

use crate::model::{AlertState, EntityId, Observation, ObservationKind, Relation, Severity, Timestamp};
use crate::sources::mapping::Mapping;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Why a Prometheus response could not be used. Every variant names the URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// Prometheus said no (`status: error`), e.g. a bad PromQL expression.
    #[error("{url}: HTTP {status}: Prometheus says {error_type}: {message}")]
    Refused { url: String, status: u16, error_type: String, message: String },
    /// The body is not the JSON the API documents (truncated, HTML from a proxy, ...).
    #[error("{url}: HTTP {status}: the response is not a Prometheus API answer ({problem}); body starts `{start}`")]
    Malformed { url: String, status: u16, problem: String, start: String },
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType", default)]
    error_type: String,
    #[serde(default)]
    error: String,
}

/// Decodes an API response body, whatever its HTTP status.
pub fn decode<T: DeserializeOwned>(url: &str, status: u16, body: &[u8]) -> Result<T, ApiError> {
    let malformed = |problem: String| ApiError::Malformed {
        url: url.to_string(),
        status,
        problem,
        start: String::from_utf8_lossy(&body[..body.len().min(80)]).replace('\n', " "),
    };
    let envelope: Envelope<T> = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    match (envelope.status.as_str(), envelope.data) {
        ("success", Some(data)) if (200..300).contains(&status) => Ok(data),
        ("success", None) => Err(malformed("`status` is success but `data` is missing".into())),
        ("success", Some(_)) => Err(malformed("`status` is success but the HTTP status is not 2xx".into())),
        ("error", _) => Err(ApiError::Refused {
            url: url.to_string(),
            status,
            error_type: envelope.error_type,
            message: envelope.error,
        }),
        (other, _) => Err(malformed(format!("unknown `status` `{other}`"))),
    }
}

/// `data` of a range query.
#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    Matrix(Vec<RangeSeries>),
    Vector(Vec<InstantSample>),
    Scalar(SampleValue),
    String(SampleValue),
}

#[derive(Debug, Deserialize)]
pub struct RangeSeries {
    pub metric: BTreeMap<String, String>,
    #[serde(default)]
    pub values: Vec<SampleValue>,
}

#[derive(Debug, Deserialize)]
pub struct InstantSample {
    pub metric: BTreeMap<String, String>,
    pub value: SampleValue,
}

/// `[<unix seconds, fractional>, "<value as text>"]`; the value is text so NaN and ±Inf survive.
#[derive(Debug, Clone, Deserialize)]
pub struct SampleValue(pub f64, pub String);

impl SampleValue {
    pub fn at(&self) -> Timestamp {
        Timestamp((self.0 * 1000.0).round() as i64)
    }

    /// The value, when it is a finite number (`NaN`, `+Inf` and `-Inf` are not).
    pub fn finite(&self) -> Option<f64> {
        self.1.parse::<f64>().ok().filter(|v| v.is_finite())
    }
}

/// What a range query's series became.
#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    pub observations: Vec<Observation>,
    /// Relations seen on the series' label sets (deduplicated, sorted).
    pub relations: Vec<Relation>,
    /// Series whose labels no mapping rule turned into an entity or a relation (skipped, counted).
    pub unmapped_series: usize,
    /// Samples that were NaN or infinite (skipped, counted).
    pub non_finite_samples: usize,
}

/// Turns a range query's matrix into one metric observation per series (named `metric`, the
/// configured query's name), plus the relations its labels show.
pub fn decode_matrix(series: &[RangeSeries], metric: &str, mapping: &Mapping, source: &str) -> Decoded {
    let mut out = Decoded::default();
    for s in series {
        let name = s.metric.get("__name__").map(String::as_str).unwrap_or(metric);
        let relations = mapping.relations(name, &s.metric, source);
        let Some((entity, _)) = mapping.entity(&s.metric) else {
            // A service-graph series gives relations, not an entity's metric.
            if relations.is_empty() {
                out.unmapped_series += 1;
            }
            out.relations.extend(relations);
            continue;
        };
        out.relations.extend(relations);
        let mut samples = Vec::with_capacity(s.values.len());
        for v in &s.values {
            match v.finite() {
                Some(x) => samples.push((v.at(), x)),
                None => out.non_finite_samples += 1,
            }
        }
        let Some(last) = samples.last().map(|(t, _)| *t) else { continue };
        out.observations.push(Observation {
            at: last,
            source: source.to_string(),
            kind: ObservationKind::Metric { entity, metric: metric.to_string(), samples },
        });
    }
    out.relations.sort();
    out.relations.dedup();
    out
}

/// `data` of `/api/v1/alerts`.
#[derive(Debug, Deserialize)]
pub struct AlertsData {
    pub alerts: Vec<PromAlert>,
}

#[derive(Debug, Deserialize)]
pub struct PromAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
    #[serde(rename = "activeAt", default)]
    pub active_at: Option<String>,
}

/// Severity from the conventional `severity` label (`critical`, `major`/`error`/`high`,
/// `warning`/`warn`/`medium`, anything else info).
pub fn severity_of(labels: &BTreeMap<String, String>) -> Severity {
    match labels.get("severity").map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("critical" | "page" | "emergency") => Severity::Critical,
        Some("major" | "error" | "high") => Severity::Major,
        Some("warning" | "warn" | "medium") => Severity::Warning,
        _ => Severity::Info,
    }
}

/// The fingerprint of a label set as Prometheus and Alertmanager compute it (FNV-1a 64 over the
/// sorted names and values, each followed by the byte 0xff), so an alert pulled from Prometheus
/// and the same alert pulled from Alertmanager fold into one signal (when no external labels
/// were added on the way).
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Firing alerts (pending ones are not yet alerts) as observations at `now` (data time of the
/// pull). Alerts whose labels map to no entity are counted, not dropped silently.
pub fn decode_alerts(data: &AlertsData, now: Timestamp, mapping: &Mapping, source: &str) -> (Vec<Observation>, usize) {
    let mut out = Vec::new();
    let mut unmapped = 0;
    for a in data.alerts.iter().filter(|a| a.state == "firing") {
        let Some((entity, _)) = mapping.entity(&a.labels) else {
            unmapped += 1;
            continue;
        };
        out.push(alert_observation(entity, &a.labels, &a.annotations, AlertState::Firing, now, source));
    }
    (out, unmapped)
}

fn alert_observation(
    entity: EntityId,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    state: AlertState,
    at: Timestamp,
    source: &str,
) -> Observation {
    Observation {
        at,
        source: source.to_string(),
        kind: ObservationKind::Alert {
            entity,
            name: labels.get("alertname").cloned().unwrap_or_else(|| "unnamed alert".into()),
            fingerprint: fingerprint(labels),
            state,
            severity: severity_of(labels),
            labels: labels.clone(),
            summary: annotations.get("summary").cloned().unwrap_or_default(),
        },
    }
}

/// `data` of `/api/v1/targets`.
#[derive(Debug, Deserialize)]
pub struct TargetsData {
    #[serde(rename = "activeTargets")]
    pub active_targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
pub struct Target {
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "scrapeUrl", default)]
    pub scrape_url: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    #[serde(rename = "lastError", default)]
    pub last_error: String,
}

/// Target health as alert observations: a target that is down fires `TargetDown` on its
/// entity (critical), one that is up resolves it. Unknown health (not scraped yet) says nothing.
pub fn decode_targets(data: &TargetsData, now: Timestamp, mapping: &Mapping, source: &str) -> Vec<Observation> {
    let mut out = Vec::new();
    for t in &data.active_targets {
        let state = match t.health.as_str() {
            "down" => AlertState::Firing,
            "up" => AlertState::Resolved,
            _ => continue,
        };
        let Some((entity, _)) = mapping.entity(&t.labels) else { continue };
        let mut labels = t.labels.clone();
        labels.insert("alertname".into(), "TargetDown".into());
        labels.insert("severity".into(), "critical".into());
        let mut annotations = BTreeMap::new();
        let summary = match t.last_error.as_str() {
            "" => format!("scrape target {} is down", t.scrape_url),
            e => format!("scrape target {} is down: {e}", t.scrape_url),
        };
        annotations.insert("summary".to_string(), summary);
        out.push(alert_observation(entity, &labels, &annotations, state, now, source));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/prometheus/recorded/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const NOW: Timestamp = Timestamp(1_795_000_000_000);

    #[test]
    fn real_alerts_and_targets_responses_decode_into_observations() {
        let m = Mapping::default();
        let alerts: AlertsData = decode("http://p/api/v1/alerts", 200, &reference("sample_alerts.json")).unwrap();
        let (obs, unmapped) = decode_alerts(&alerts, NOW, &m, "prometheus");
        // Watchdog carries no entity label: counted as unmapped, not invented.
        assert_eq!(unmapped, 1);
        let names: Vec<(&str, &str, Severity)> = obs
            .iter()
            .map(|o| match &o.kind {
                ObservationKind::Alert { entity, name, severity, .. } => (entity.as_str(), name.as_str(), *severity),
                _ => unreachable!(),
            })
            .collect();
        assert!(names.contains(&("host:127.0.0.1", "TargetDown", Severity::Critical)), "{names:?}");
        assert!(names.contains(&("host:db-1", "BatchJobFailing", Severity::Warning)), "{names:?}");

        let targets: TargetsData = decode("http://p/api/v1/targets", 200, &reference("sample_targets.json")).unwrap();
        let obs = decode_targets(&targets, NOW, &m, "prometheus");
        let down: Vec<_> =
            obs.iter().filter(|o| matches!(o.kind, ObservationKind::Alert { state: AlertState::Firing, .. })).collect();
        assert_eq!(down.len(), 1, "{obs:#?}");
        match &down[0].kind {
            ObservationKind::Alert { entity, summary, .. } => {
                assert_eq!(entity.as_str(), "host:127.0.0.1");
                assert!(summary.contains("127.0.0.1:19999"), "{summary}");
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_matrix_becomes_metric_observations_skipping_non_finite_and_unmapped() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"node_cpu_utilisation","instance":"db-1:9100"},
             "values":[[1795000000,"0.31"],[1795000015.5,"NaN"],[1795000030,"+Inf"],[1795000045,"0.97"]]},
            {"metric":{"code":"500"},"values":[[1795000000,"1"]]},
            {"metric":{"__name__":"traces_service_graph_request_total","client":"frontend","server":"checkout"},
             "values":[[1795000000,"10"]]}]}}"#;
        let data: QueryData = decode("http://p/api/v1/query_range", 200, body).unwrap();
        let QueryData::Matrix(series) = data else { panic!("a matrix") };
        let d = decode_matrix(&series, "cpu", &Mapping::default(), "prometheus");
        assert_eq!(d.unmapped_series, 1);
        assert_eq!(d.non_finite_samples, 2);
        assert_eq!(d.relations.len(), 1);
        assert_eq!(d.relations[0].from.as_str(), "service:frontend");
        let ObservationKind::Metric { entity, samples, .. } = &d.observations[0].kind else { panic!() };
        assert_eq!(entity.as_str(), "host:db-1");
        assert_eq!(samples, &vec![(Timestamp(1_795_000_000_000), 0.31), (Timestamp(1_795_000_045_000), 0.97)]);
        assert_eq!(d.observations[0].at, Timestamp(1_795_000_045_000));
    }

    #[test]
    fn errors_and_malformed_bodies_name_the_url_and_what_is_wrong() {
        let url = "http://p:9090/api/v1/query_range";
        let e = decode::<QueryData>(
            url,
            400,
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), format!("{url}: HTTP 400: Prometheus says bad_data: parse error at char 5"));
        let truncated = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}"#;
        let e = decode::<QueryData>(url, 200, truncated).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{url}: HTTP 200: the response is not a Prometheus API answer")), "{e}");
        assert!(e.contains("EOF"), "{e}");
        let e = decode::<QueryData>(url, 502, b"<html>Bad Gateway</html>").unwrap_err().to_string();
        assert!(e.contains("HTTP 502") && e.contains("<html>Bad Gateway"), "{e}");
        let e = decode::<QueryData>(url, 200, br#"{"status":"success"}"#).unwrap_err().to_string();
        assert!(e.contains("`data` is missing"), "{e}");
    }

    #[test]
    fn fingerprints_are_stable_and_depend_on_every_label() {
        let a: BTreeMap<String, String> =
            [("alertname", "X"), ("instance", "a")].map(|(k, v)| (k.into(), v.into())).into();
        let mut b = a.clone();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        b.insert("instance".into(), "b".into());
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
        // The same as Alertmanager's own fingerprint of this alert (recorded response).
        let am: BTreeMap<String, String> = [
            ("alertname", "BatchJobFailing"),
            ("instance", "db-1"),
            ("job", "nightly_backup"),
            ("lab", "incident-console"),
            ("severity", "warning"),
        ]
        .map(|(k, v)| (k.into(), v.into()))
        .into();
        assert_eq!(fingerprint(&am), "436e00aab1536845");
    }
}
