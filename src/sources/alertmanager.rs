//! The Alertmanager API v2, decoded: `/api/v2/alerts` into alert observations (Alertmanager's
//! fingerprint is the dedup key), and silences proposed for a problem's alerts. Pure: the
//! transport lives beside it.
//!
//! `/api/v2/alerts` lists the alerts Alertmanager holds now; a resolved alert simply stops being
//! listed (or is listed with an `endsAt` in the past). [`AlertTracker`] turns those snapshots
//! into firing and resolved observations.

use super::http::{redact, Auth, FetchError, HttpClient, HttpSettings};
use super::mapping::Mapping;
use super::prometheus::api::severity_of;
use super::prometheus::Pull;
use crate::config::HumanDuration;
use crate::model::{AlertState, Observation, ObservationKind, Timestamp};
/// The silence types live in the action layer ([`crate::runbook::silence`]); this source only sends them.
pub use crate::runbook::silence::{matcher_strings, silences_for, Matcher, Silence, SilencePlan, SilenceTarget};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// One alert as `/api/v2/alerts` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct AmAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub fingerprint: String,
    #[serde(rename = "startsAt")]
    pub starts_at: Timestamp,
    #[serde(rename = "endsAt", default)]
    pub ends_at: Option<Timestamp>,
    pub status: AmStatus,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AmStatus {
    /// `active`, `suppressed` (silenced or inhibited) or `unprocessed`.
    pub state: String,
    #[serde(rename = "silencedBy", default)]
    pub silenced_by: Vec<String>,
}

/// Decodes the body of `/api/v2/alerts` (a JSON array), naming the URL on error.
pub fn decode_alerts(url: &str, status: u16, body: &[u8]) -> Result<Vec<AmAlert>, String> {
    if !(200..300).contains(&status) {
        let start = String::from_utf8_lossy(&body[..body.len().min(120)]).replace('\n', " ");
        return Err(format!("{url}: HTTP {status}: {start}"));
    }
    serde_json::from_slice(body).map_err(|e| format!("{url}: not an Alertmanager alert list: {e}"))
}

/// Remembers which fingerprints were firing, so a vanished alert becomes a resolved observation.
#[derive(Debug, Default)]
pub struct AlertTracker {
    firing: BTreeMap<String, Observation>,
}

impl AlertTracker {
    /// Rebuilds what was firing from the alert observations a tracker produced before.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        for obs in observations {
            if let ObservationKind::Alert { fingerprint, state, .. } = &obs.kind {
                match state {
                    AlertState::Firing => self.firing.insert(fingerprint.clone(), obs.clone()),
                    AlertState::Resolved => self.firing.remove(fingerprint),
                };
            }
        }
    }

    /// Observations for one snapshot taken at `now`: every firing alert (repeats count on the
    /// engine's signal), and a resolve for each alert that was firing and is gone or has ended.
    /// Returns the observations and how many alerts mapped to no entity.
    pub fn update(
        &mut self,
        alerts: &[AmAlert],
        now: Timestamp,
        mapping: &Mapping,
        source: &str,
    ) -> (Vec<Observation>, usize) {
        let mut out = Vec::new();
        let mut unmapped = 0;
        let mut seen = BTreeSet::new();
        let mut sorted: Vec<&AmAlert> = alerts.iter().collect();
        sorted.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        for a in sorted {
            let ended = a.ends_at.is_some_and(|e| e <= now);
            if ended || a.status.state == "unprocessed" {
                continue;
            }
            let Some((entity, _)) = mapping.entity(&a.labels) else {
                unmapped += 1;
                continue;
            };
            seen.insert(a.fingerprint.clone());
            let obs = Observation {
                at: now,
                source: source.to_string(),
                kind: ObservationKind::Alert {
                    entity,
                    name: a.labels.get("alertname").cloned().unwrap_or_else(|| "unnamed alert".into()),
                    fingerprint: a.fingerprint.clone(),
                    state: AlertState::Firing,
                    severity: severity_of(&a.labels),
                    labels: a.labels.clone(),
                    summary: a.annotations.get("summary").cloned().unwrap_or_default(),
                },
            };
            self.firing.insert(a.fingerprint.clone(), obs.clone());
            out.push(obs);
        }
        let gone: Vec<String> = self.firing.keys().filter(|f| !seen.contains(*f)).cloned().collect();
        for f in gone {
            if let Some(mut obs) = self.firing.remove(&f) {
                obs.at = now;
                if let ObservationKind::Alert { state, .. } = &mut obs.kind {
                    *state = AlertState::Resolved;
                }
                out.push(obs);
            }
        }
        (out, unmapped)
    }
}

/// One `[[sources.alertmanager]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    #[serde(default = "default_name")]
    pub name: String,
    /// Base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    #[serde(default = "super::http::default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default = "super::http::default_retries")]
    pub retries: usize,
    #[serde(default = "super::http::default_max_response")]
    pub max_response_bytes: usize,
    #[serde(default)]
    pub auth: Auth,
    /// How long a silence created from the UI lasts.
    #[serde(default = "default_silence_duration")]
    pub silence_duration: HumanDuration,
}

fn default_name() -> String {
    "alertmanager".into()
}
fn default_silence_duration() -> HumanDuration {
    HumanDuration::from_millis(2 * 3_600_000)
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(15_000)
}

/// The state of one Alertmanager source between cycles.
pub struct AlertmanagerSource {
    config: AlertmanagerConfig,
    mapping: Mapping,
    client: HttpClient,
    tracker: AlertTracker,
}

impl AlertmanagerSource {
    pub fn new(config: AlertmanagerConfig, mapping: Mapping) -> Result<AlertmanagerSource, FetchError> {
        let settings =
            HttpSettings::for_source(config.timeout.millis(), config.retries, config.max_response_bytes, &config.auth);
        let client = HttpClient::new(settings)?;
        Ok(AlertmanagerSource { config, mapping, client, tracker: AlertTracker::default() })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// One cycle at wall time `now`. On failure nothing is resolved: the tracker keeps what was
    /// firing until Alertmanager answers again.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let mut pull = Pull::default();
        let url = self.endpoint("/api/v2/alerts");
        match self.client.get(&url, &[]).await {
            Err(e) => pull.problems.push(e.to_string()),
            Ok(r) => {
                pull.bytes += r.body.len();
                match decode_alerts(&redact(&url), r.status, &r.body) {
                    Err(e) => pull.problems.push(e),
                    Ok(alerts) => {
                        let (obs, unmapped) = self.tracker.update(&alerts, now, &self.mapping, &self.config.name);
                        if unmapped > 0 {
                            let note = format!("{unmapped} alert(s) match no [mapping] rule; skipped");
                            pull.notes.push(note);
                        }
                        pull.observations = obs;
                    }
                }
            }
        }
        pull
    }

    /// What [`restore`](Self::restore) sets, for the tests that a resume set restores the same.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        format!("{:?}", self.tracker)
    }

    /// Takes back the alerts this source reported firing and not yet resolved.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        self.tracker.restore(observations);
    }

    /// Where silences from the UI go, for the plan.
    pub fn silence_target(&self) -> SilenceTarget {
        SilenceTarget {
            via: self.config.name.clone(),
            url: redact(&self.endpoint("/api/v2/silences")),
            duration_ms: self.config.silence_duration.millis(),
        }
    }

    /// A handle that creates silences without waiting for a pull in progress.
    pub fn silencer(&self) -> Silencer {
        Silencer { client: self.client.clone(), url: self.endpoint("/api/v2/silences") }
    }
}

/// Creates silences in one Alertmanager (shares the source's HTTP client and its settings).
#[derive(Clone)]
pub struct Silencer {
    client: HttpClient,
    url: String,
}

impl Silencer {
    /// Creates `silence` and returns Alertmanager's id for it.
    pub async fn create_silence(&self, silence: &Silence) -> Result<String, String> {
        let url = &self.url;
        let r = self.client.post_json(url, silence).await.map_err(|e| e.to_string())?;
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "silenceID")]
            silence_id: String,
        }
        if !(200..300).contains(&r.status) {
            let body = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).into_owned();
            return Err(format!("{}: HTTP {}: {}", redact(url), r.status, body.trim()));
        }
        serde_json::from_slice::<Created>(&r.body)
            .map(|c| c.silence_id)
            .map_err(|e| format!("{}: not a silence id answer: {e}", redact(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Vec<u8> {
        let path = format!("{}/fixtures/prometheus/recorded/sample_am_alerts.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn snapshots_become_firing_then_resolved_observations() {
        let url = "http://am/api/v2/alerts";
        let alerts = decode_alerts(url, 200, &reference()).unwrap();
        assert_eq!(alerts.len(), 2);
        let m = Mapping::default();
        let mut t = AlertTracker::default();
        let now = Timestamp::parse_rfc3339("2026-11-23T05:05:00Z").unwrap();
        let (obs, unmapped) = t.update(&alerts, now, &m, "alertmanager");
        assert_eq!(unmapped, 0);
        let fps: Vec<(&str, &str, AlertState)> = obs
            .iter()
            .map(|o| match &o.kind {
                ObservationKind::Alert { fingerprint, entity, state, .. } => {
                    (fingerprint.as_str(), entity.as_str(), *state)
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            fps,
            [
                ("436e00aab1536845", "host:db-1", AlertState::Firing),
                ("9105d826eadc0cd5", "host:127.0.0.1", AlertState::Firing)
            ]
        );
        // One alert vanishes: it resolves; the other repeats.
        let later = now.plus_ms(60_000);
        let (obs, _) = t.update(&alerts[..1], later, &m, "alertmanager");
        assert_eq!(obs.len(), 2);
        assert!(
            matches!(&obs[1].kind, ObservationKind::Alert { state: AlertState::Resolved, fingerprint, .. } if fingerprint == "9105d826eadc0cd5")
        );
        // Past its endsAt, the first one resolves too.
        let (obs, _) = t.update(&alerts[..1], Timestamp::parse_rfc3339("2026-11-23T06:00:00Z").unwrap(), &m, "am");
        assert_eq!(obs.len(), 1);
        assert!(matches!(&obs[0].kind, ObservationKind::Alert { state: AlertState::Resolved, .. }));
    }

    #[test]
    fn bad_bodies_name_the_url() {
        let e = decode_alerts("http://am/api/v2/alerts", 200, b"[{\"labels\":").unwrap_err();
        assert!(e.starts_with("http://am/api/v2/alerts: not an Alertmanager alert list"), "{e}");
        let e = decode_alerts("http://am/api/v2/alerts", 503, b"overloaded").unwrap_err();
        assert_eq!(e, "http://am/api/v2/alerts: HTTP 503: overloaded");
    }

    #[test]
    fn silences_match_each_alert_exactly_and_never_use_regexes() {
        let a: BTreeMap<String, String> =
            [("alertname", "HighLatency"), ("service", "checkout.*")].map(|(k, v)| (k.into(), v.into())).into();
        let b: BTreeMap<String, String> =
            [("alertname", "Down"), ("instance", "db-1")].map(|(k, v)| (k.into(), v.into())).into();
        let s = silences_for([&a, &b, &a], Timestamp(0), 3_600_000, "alice@bastion", "P-0003");
        assert_eq!(s.len(), 2, "one per distinct label set");
        assert!(s.iter().flat_map(|s| &s.matchers).all(|m| !m.is_regex && m.is_equal));
        let json = serde_json::to_value(&s[1]).unwrap();
        assert_eq!(json["matchers"][1]["value"], "checkout.*", "label text stays a literal value");
        assert_eq!(json["endsAt"], "1970-01-01T01:00:00.000Z");
        assert_eq!(json["createdBy"], "alice@bastion");
        assert_eq!(json["comment"], "P-0003");
    }
}
