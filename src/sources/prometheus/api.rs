//! The Prometheus HTTP API, decoded: responses of `query_range`, `query` (KPIs), `alerts`,
//! `rules` and `targets` turned into observations. Anything that speaks this API (Thanos, Mimir, VictoriaMetrics) decodes the
//! same. The transport (timeouts, retries, size cap, incremental ranges) lives beside it; this
//! part is pure so every malformed or partial response can be tested without a server.
//!
//! A response is judged by its body first: Prometheus answers errors with JSON
//! (`{"status":"error","errorType":"bad_data","error":"..."}`) and a non-2xx status, so the
//! message it gives is what we report, with the URL.

use super::{KpiConfig, TrafficQuery};
use crate::model::{AlertState, EntityId, Observation, ObservationKind, Relation, Severity, Timestamp};
use crate::sources::mapping::Mapping;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
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
    /// The first such series' label set, `{job="x", foo="bar"}`, to say which rule is missing.
    pub unmapped_example: Option<String>,
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
                if out.unmapped_example.is_none() {
                    let labels: Vec<String> = s.metric.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    out.unmapped_example = Some(format!("{{{}}}", labels.join(", ")));
                }
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

/// `null` read as the type's default (Go encodes empty maps and lists as `null` in places).
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `data` of `/api/v1/rules?type=alert`: the alerting rules by group.
#[derive(Debug, Deserialize)]
pub struct RulesData {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RuleGroup {
    pub name: String,
    #[serde(default)]
    pub file: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: Vec<Rule>,
}

/// One rule of a group. Recording rules (`type: recording`) have no alerts and are skipped.
#[derive(Debug, Deserialize)]
pub struct Rule {
    pub name: String,
    /// `alerting` or `recording`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub query: String,
    /// The rule's `for`, in seconds.
    #[serde(default)]
    pub duration: f64,
    /// The rule's own labels (added to each of its alerts).
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// Its pending and firing alerts, as of its last evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub alerts: Vec<PromAlert>,
    /// `ok`, `err` (the last evaluation failed: see `lastError`) or `unknown` (not evaluated yet).
    #[serde(default)]
    pub health: String,
    #[serde(rename = "lastError", default)]
    pub last_error: String,
}

/// A rule by group and name (rule names repeat across groups).
pub type RuleRef = (String, String);

/// How a rule's last evaluation went.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleHealth {
    /// Evaluated: its alert list is current.
    Ok,
    /// The evaluation failed with this error: its alerts are as of the last good evaluation.
    Failed(String),
    /// Not evaluated yet (e.g. just after a restart).
    Unknown,
}

/// A rule's health and own labels.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleStatus {
    pub health: RuleHealth,
    pub labels: BTreeMap<String, String>,
}

/// A firing alert as an observation, with the rule it came from where known.
#[derive(Debug, Clone, PartialEq)]
pub struct FiringAlert {
    pub rule: Option<RuleRef>,
    pub fingerprint: String,
    pub observation: Observation,
}

/// What `/api/v1/rules` says in one cycle.
#[derive(Debug, Default, PartialEq)]
pub struct RulesView {
    /// Firing alerts whose labels map to an entity, in response order.
    pub firing: Vec<FiringAlert>,
    /// Firing alerts whose labels map to no entity (skipped, counted).
    pub unmapped: usize,
    /// Every alerting rule's health, by group and name.
    pub rules: BTreeMap<RuleRef, RuleStatus>,
}

impl RulesView {
    /// Whether an alert that fired before and is not firing now has stopped for sure: its rule
    /// was evaluated fine (so its alert list is current), or no longer exists. A rule that
    /// failed or was not evaluated yet still lists its old alerts, so there absence says nothing.
    pub fn stopped(&self, alert: &FiringAlert) -> bool {
        let ok = |s: &RuleStatus| s.health == RuleHealth::Ok;
        match &alert.rule {
            Some(rule) => self.rules.get(rule).is_none_or(ok),
            // Seen only through /api/v1/alerts: judge by the rules of that name.
            None => {
                let name = match &alert.observation.kind {
                    ObservationKind::Alert { name, .. } => name.as_str(),
                    _ => "",
                };
                self.rules.iter().filter(|((_, n), _)| n == name).all(|(_, s)| ok(s))
            }
        }
    }
}

/// The alerting rules' firing alerts (pending ones are not yet alerts) as observations at `now`,
/// and every alerting rule's health.
pub fn decode_rules(data: &RulesData, now: Timestamp, mapping: &Mapping, source: &str) -> RulesView {
    let mut view = RulesView::default();
    for group in &data.groups {
        for rule in group.rules.iter().filter(|r| r.kind == "alerting") {
            let key: RuleRef = (group.name.clone(), rule.name.clone());
            let health = match rule.health.as_str() {
                "ok" => RuleHealth::Ok,
                "err" => RuleHealth::Failed(rule.last_error.clone()),
                _ => RuleHealth::Unknown,
            };
            view.rules.insert(key.clone(), RuleStatus { health, labels: rule.labels.clone() });
            for a in rule.alerts.iter().filter(|a| a.state == "firing") {
                let Some((entity, _)) = mapping.entity(&a.labels) else {
                    view.unmapped += 1;
                    continue;
                };
                view.firing.push(FiringAlert {
                    rule: Some(key.clone()),
                    fingerprint: fingerprint(&a.labels),
                    observation: alert_observation(entity, &a.labels, &a.annotations, AlertState::Firing, now, source),
                });
            }
        }
    }
    view
}

/// Alert name of the observation that reports a rule whose evaluation fails.
pub const RULE_FAILING: &str = "RuleEvaluationFailing";

/// A rule whose evaluation fails is a blind spot: its alert cannot fire. Reported as an alert
/// `RuleEvaluationFailing` (warning; named `RuleEvaluationFailing <group>/<rule>`) with the error
/// as its summary, on the entity the rule's own labels map to, else on the Prometheus server
/// itself (`service:<source name>`).
pub fn rule_failure(
    rule: &RuleRef,
    status: &RuleStatus,
    state: AlertState,
    now: Timestamp,
    mapping: &Mapping,
    source: &str,
) -> Observation {
    let entity =
        mapping.entity(&status.labels).map(|(e, _)| e).unwrap_or_else(|| EntityId::new(format!("service:{source}")));
    let labels: BTreeMap<String, String> = [
        ("alertname", RULE_FAILING),
        ("prometheus", source),
        ("rule_group", rule.0.as_str()),
        ("rule_name", rule.1.as_str()),
        ("severity", "warning"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let error = match &status.health {
        RuleHealth::Failed(e) if !e.is_empty() => e.as_str(),
        _ => "no error given",
    };
    let summary = format!("rule {}/{}: evaluation error: {error}", rule.0, rule.1);
    let annotations = BTreeMap::from([("summary".to_string(), summary)]);
    let mut o = alert_observation(entity, &labels, &annotations, state, now, source);
    // Signals keep the name, not the summary: name the rule there, so the problem says which.
    if let ObservationKind::Alert { name, .. } = &mut o.kind {
        *name = format!("{RULE_FAILING} {}/{}", rule.0, rule.1);
    }
    o
}

/// The same alert observation, resolved at `at`.
pub fn resolved(observation: &Observation, at: Timestamp) -> Observation {
    let mut o = observation.clone();
    o.at = at;
    if let ObservationKind::Alert { state, .. } = &mut o.kind {
        *state = AlertState::Resolved;
    }
    o
}

/// One series of an instant query: its labels and its value (`None` when NaN or infinite).
pub type InstantValue = (BTreeMap<String, String>, Option<f64>);

/// The values of an instant query: one per series with its labels (a scalar has none).
pub fn instant_values(data: &QueryData) -> Result<Vec<InstantValue>, String> {
    match data {
        QueryData::Vector(samples) => Ok(samples.iter().map(|s| (s.metric.clone(), s.value.finite())).collect()),
        QueryData::Scalar(v) => Ok(vec![(BTreeMap::new(), v.finite())]),
        QueryData::Matrix(_) => Err("the query gives a range vector, not an instant vector".into()),
        QueryData::String(_) => Err("the query gives a string, not a number".into()),
    }
}

/// What a KPI's three evaluations became.
#[derive(Debug, Default, PartialEq)]
pub struct KpiDecoded {
    pub observations: Vec<Observation>,
    /// Series whose labels map to no entity (skipped, counted).
    pub unmapped_series: usize,
    /// What could not be used, one line each (the rest is kept).
    pub problems: Vec<String>,
}

/// A KPI from the same query evaluated now, a day earlier and a week earlier, as KPI
/// observations at `at`. The series of the three are matched by their labels (or, with a fixed
/// `entity`, each must be a single series); a series missing then is `None`, not 0.
pub fn decode_kpi(
    kpi: &KpiConfig,
    now: &QueryData,
    yesterday: &QueryData,
    last_week: &QueryData,
    at: Timestamp,
    mapping: &Mapping,
    source: &str,
) -> Result<KpiDecoded, String> {
    let (now, yesterday, last_week) = (instant_values(now)?, instant_values(yesterday)?, instant_values(last_week)?);
    let mut out = KpiDecoded::default();
    let observation = |entity: EntityId, value: f64, yesterday: Option<f64>, last_week: Option<f64>| Observation {
        at,
        source: source.to_string(),
        kind: ObservationKind::Kpi {
            entity,
            name: kpi.name.clone(),
            value,
            yesterday,
            last_week,
            higher_is_better: kpi.higher_is_better,
            unit: kpi.unit.clone().unwrap_or_default(),
        },
    };
    if let Some(entity) = &kpi.entity {
        let single = |values: &[InstantValue], when: &str| match values {
            [] => Ok(None),
            [(_, v)] => Ok(*v),
            more => Err(format!(
                "{when}: {} series for the one entity {entity}; aggregate the query to one series (e.g. `sum(...)`)",
                more.len()
            )),
        };
        let value = single(&now, "now")?;
        let (y, w) = (single(&yesterday, "a day earlier")?, single(&last_week, "a week earlier")?);
        if let Some(value) = value {
            out.observations.push(observation(EntityId::new(entity.clone()), value, y, w));
        }
        return Ok(out);
    }
    let then = |values: &[InstantValue], labels: &BTreeMap<String, String>| {
        values.iter().find(|(l, _)| l == labels).and_then(|(_, v)| *v)
    };
    let mut by_entity: BTreeMap<EntityId, Vec<&InstantValue>> = BTreeMap::new();
    for series in &now {
        match mapping.entity(&series.0) {
            Some((entity, _)) => by_entity.entry(entity).or_default().push(series),
            None => out.unmapped_series += 1,
        }
    }
    for (entity, series) in by_entity {
        let [(labels, value)] = series[..] else {
            out.problems.push(format!(
                "{} series map to {entity}; aggregate the query by the entity's labels (e.g. `sum by (service) (...)`)",
                series.len()
            ));
            continue;
        };
        let Some(value) = *value else { continue };
        out.observations.push(observation(entity, value, then(&yesterday, labels), then(&last_week, labels)));
    }
    Ok(out)
}

/// `data` of `/api/v1/targets`.
/// What a traffic query's range gave.
#[derive(Debug, Default, PartialEq)]
pub struct TrafficDecoded {
    pub observations: Vec<Observation>,
    /// Series no mapping rule turned into an entity (skipped, counted).
    pub unmapped_series: usize,
    /// Entities given more than one series (skipped: which one is the entity's is unknown).
    pub problems: Vec<String>,
}

/// A traffic query's matrix as one `Traffic` observation per entity, at its last sample.
pub fn decode_traffic(q: &TrafficQuery, series: &[RangeSeries], mapping: &Mapping, source: &str) -> TrafficDecoded {
    let mut out = TrafficDecoded::default();
    let mut by_entity: BTreeMap<EntityId, Vec<&RangeSeries>> = BTreeMap::new();
    for s in series {
        let entity = match &q.entity {
            Some(e) => Some(EntityId::new(e.clone())),
            None => mapping.entity(&s.metric).map(|(e, _)| e),
        };
        match entity {
            Some(e) => by_entity.entry(e).or_default().push(s),
            None => out.unmapped_series += 1,
        }
    }
    for (entity, series) in by_entity {
        let [s] = series[..] else {
            let how =
                if q.entity.is_some() { "`sum(...)`" } else { "the entity's labels, e.g. `sum by (service) (...)`" };
            out.problems.push(format!("{} series for {entity}; aggregate the query by {how}", series.len()));
            continue;
        };
        let samples: Vec<(Timestamp, f64)> = s.values.iter().filter_map(|v| v.finite().map(|x| (v.at(), x))).collect();
        let Some(&(last, _)) = samples.last() else { continue };
        out.observations.push(Observation {
            at: last,
            source: source.to_string(),
            kind: ObservationKind::Traffic { entity, role: q.role, samples },
        });
    }
    out
}

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
    fn a_real_rules_response_gives_firing_alerts_and_rule_health() {
        let data: RulesData = decode("http://p/api/v1/rules", 200, &reference("rules.json")).unwrap();
        let view = decode_rules(&data, NOW, &Mapping::default(), "prom");
        // Only the firing alert: the pending one (`for: 1h`) is not an alert yet.
        assert_eq!(view.unmapped, 0);
        assert_eq!(view.firing.len(), 1, "{:#?}", view.firing);
        let f = &view.firing[0];
        assert_eq!(f.rule, Some(("checkout".to_string(), "CheckoutErrorsHigh".to_string())));
        match &f.observation.kind {
            ObservationKind::Alert { entity, name, fingerprint, state, severity, summary, .. } => {
                assert_eq!((entity.as_str(), name.as_str()), ("service:checkout", "CheckoutErrorsHigh"));
                assert_eq!((*state, *severity), (AlertState::Firing, Severity::Major));
                assert_eq!(summary, "checkout error ratio is 0.12");
                assert_eq!(fingerprint, &f.fingerprint);
            }
            other => panic!("{other:?}"),
        }
        let health: Vec<(&str, &str, &RuleHealth)> =
            view.rules.iter().map(|((g, n), s)| (g.as_str(), n.as_str(), &s.health)).collect();
        assert_eq!(health.len(), 5);
        assert!(health.contains(&("checkout", "CheckoutDown", &RuleHealth::Ok)));
        assert!(health.contains(&("checkout", "CheckoutSlowBurn", &RuleHealth::Ok)));
        let failed: Vec<(&str, &str)> =
            health.iter().filter(|(_, _, h)| matches!(h, RuleHealth::Failed(_))).map(|(g, n, _)| (*g, *n)).collect();
        assert_eq!(failed, [("broken", "BadRegex"), ("broken", "PaymentsLatencyRatio")]);

        // The failing rules as alerts: on the entity the rule's labels name, else on the server.
        let key = ("broken".to_string(), "PaymentsLatencyRatio".to_string());
        let o = rule_failure(&key, &view.rules[&key], AlertState::Firing, NOW, &Mapping::default(), "prom");
        let ObservationKind::Alert { entity, name, summary, severity, labels, .. } = &o.kind else { panic!() };
        assert_eq!(
            (entity.as_str(), name.as_str(), *severity),
            ("service:payments", "RuleEvaluationFailing broken/PaymentsLatencyRatio", Severity::Warning)
        );
        assert!(
            summary.starts_with("rule broken/PaymentsLatencyRatio: evaluation error: found duplicate series"),
            "{summary}"
        );
        assert_eq!((labels["alertname"].as_str(), labels["rule_group"].as_str()), (RULE_FAILING, "broken"));
        let key = ("broken".to_string(), "BadRegex".to_string());
        let o = rule_failure(&key, &view.rules[&key], AlertState::Firing, NOW, &Mapping::default(), "prom");
        let ObservationKind::Alert { entity, summary, .. } = &o.kind else { panic!() };
        assert_eq!(entity.as_str(), "service:prom");
        assert_eq!(summary, "rule broken/BadRegex: evaluation error: invalid regular expression in label_replace(): (");
    }

    #[test]
    fn an_alert_has_stopped_only_when_its_rule_was_evaluated_or_is_gone() {
        let data: RulesData = decode("http://p/api/v1/rules", 200, &reference("rules.json")).unwrap();
        let view = decode_rules(&data, NOW, &Mapping::default(), "prom");
        let alert = |group: &str, name: &str, known: bool| {
            let labels = BTreeMap::from([("alertname".to_string(), name.to_string())]);
            let observation =
                alert_observation(EntityId::new("service:x"), &labels, &BTreeMap::new(), AlertState::Firing, NOW, "p");
            FiringAlert {
                rule: known.then(|| (group.to_string(), name.to_string())),
                fingerprint: fingerprint(&labels),
                observation,
            }
        };
        assert!(view.stopped(&alert("checkout", "CheckoutDown", true)));
        assert!(!view.stopped(&alert("broken", "BadRegex", true)), "its rule failed: no news");
        assert!(view.stopped(&alert("old", "Removed", true)), "its rule is gone");
        assert!(view.stopped(&alert("", "CheckoutDown", false)));
        assert!(!view.stopped(&alert("", "PaymentsLatencyRatio", false)));
        let resolved = resolved(&alert("checkout", "CheckoutDown", true).observation, Timestamp(5));
        assert!(matches!(resolved.kind, ObservationKind::Alert { state: AlertState::Resolved, .. }));
        assert_eq!(resolved.at, Timestamp(5));
    }

    fn kpi(entity: Option<&str>) -> KpiConfig {
        KpiConfig {
            name: "orders".into(),
            query: "x".into(),
            entity: entity.map(str::to_string),
            unit: None,
            higher_is_better: true,
        }
    }

    fn kpi_values(d: &KpiDecoded) -> Vec<(&str, f64, Option<f64>, Option<f64>)> {
        d.observations
            .iter()
            .map(|o| match &o.kind {
                ObservationKind::Kpi { entity, value, yesterday, last_week, .. } => {
                    (entity.as_str(), *value, *yesterday, *last_week)
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_real_instant_vector_gives_kpis_matched_by_labels() {
        let now: QueryData = decode("http://p/api/v1/query", 200, &reference("kpi_query.json")).unwrap();
        let day: QueryData = decode(
            "u",
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"service":"payments"},"value":[1794913600,"0.004"]},
                {"metric":{"service":"checkout"},"value":[1794913600,"660"]}]}}"#,
        )
        .unwrap();
        let week: QueryData = decode(
            "u",
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"service":"checkout"},"value":[1794395200,"NaN"]}]}}"#,
        )
        .unwrap();
        let m = Mapping::default();
        let d = decode_kpi(&kpi(None), &now, &day, &week, NOW, &m, "prom").unwrap();
        assert_eq!(
            kpi_values(&d),
            [("service:checkout", 412.0, Some(660.0), None), ("service:payments", 0.031, Some(0.004), None)]
        );
        assert!(d.problems.is_empty() && d.unmapped_series == 0);

        // A fixed entity takes exactly one series.
        let e = decode_kpi(&kpi(Some("service:shop")), &now, &day, &week, NOW, &m, "prom").unwrap_err();
        assert!(e.starts_with("now: 2 series for the one entity service:shop; aggregate"), "{e}");
        let scalar: QueryData =
            decode("u", 200, br#"{"status":"success","data":{"resultType":"scalar","result":[1,"7"]}}"#).unwrap();
        let empty: QueryData =
            decode("u", 200, br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).unwrap();
        let d = decode_kpi(&kpi(Some("service:shop")), &scalar, &empty, &scalar, NOW, &m, "prom").unwrap();
        assert_eq!(kpi_values(&d), [("service:shop", 7.0, None, Some(7.0))]);

        // Two series on one entity: reported, not guessed.
        let two: QueryData = decode(
            "u",
            200,
            br#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"service":"a","code":"200"},"value":[1,"1"]},
                {"metric":{"service":"a","code":"500"},"value":[1,"2"]}]}}"#,
        )
        .unwrap();
        let d = decode_kpi(&kpi(None), &two, &empty, &empty, NOW, &m, "prom").unwrap();
        assert!(d.observations.is_empty());
        assert_eq!(
            d.problems,
            ["2 series map to service:a; aggregate the query by the entity's labels (e.g. `sum by (service) (...)`)"]
        );
        let matrix: QueryData =
            decode("u", 200, br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#).unwrap();
        assert!(decode_kpi(&kpi(None), &matrix, &empty, &empty, NOW, &m, "prom").is_err());
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
