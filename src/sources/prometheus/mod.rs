//! The Prometheus source: configured PromQL queries pulled with `query_range` incrementally
//! (each cycle asks only for the range since the last one), firing alerts from `/api/v1/alerts`,
//! and target health from `/api/v1/targets`, all turned into observations through the entity
//! mapping. Works the same against anything that speaks the Prometheus HTTP API (Thanos,
//! Mimir, VictoriaMetrics).
//!
//! A failed cycle changes nothing that was already observed (the engine keeps the last good
//! data); the source reports itself stale with the reason and the next cycle asks again for
//! the whole range it missed (bounded by `lookback`).

pub mod api;

use super::http::{Auth, FetchError, HttpClient, HttpSettings};
use super::mapping::Mapping;
use crate::config::HumanDuration;
use crate::model::{Entity, EntityId, Observation, ObservationKind, Relation, Timestamp};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Prometheus refuses more points than this per series in one `query_range`.
const MAX_POINTS: i64 = 11_000;

/// One `[[sources.prometheus]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Shown in the status bar and stamped on observations.
    #[serde(default = "default_name")]
    pub name: String,
    /// Base URL, e.g. `http://prometheus:9090` (a path prefix is kept).
    pub url: String,
    /// Time between pull cycles.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Resolution of range queries.
    #[serde(default = "default_step")]
    pub step: HumanDuration,
    /// How far back the first cycle (and a cycle after a long outage) looks.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
    /// Per-request timeout.
    #[serde(default = "crate::sources::http::default_timeout")]
    pub timeout: HumanDuration,
    /// Retries after a failed request.
    #[serde(default = "crate::sources::http::default_retries")]
    pub retries: usize,
    /// Largest response read, in bytes.
    #[serde(default = "crate::sources::http::default_max_response")]
    pub max_response_bytes: usize,
    /// Pull `/api/v1/alerts` (firing alerts) each cycle.
    #[serde(default = "yes")]
    pub alerts: bool,
    /// Pull `/api/v1/targets` (a target going down is an observation too).
    #[serde(default = "yes")]
    pub targets: bool,
    #[serde(default)]
    pub auth: Auth,
    /// The series to watch; each query's result series become metrics named `name`.
    #[serde(default)]
    pub queries: Vec<QueryConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// The metric name the engine sees, e.g. `cpu_utilisation`.
    pub name: String,
    /// PromQL.
    pub query: String,
}

fn default_name() -> String {
    "prometheus".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(30_000)
}
fn default_step() -> HumanDuration {
    HumanDuration::from_millis(15_000)
}
fn default_lookback() -> HumanDuration {
    HumanDuration::from_millis(3_600_000)
}
fn yes() -> bool {
    true
}

/// How a source is doing, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The last cycle failed (in part); the data shown is from the last good cycle.
    Stale {
        reason: String,
    },
}

/// The outcome of one pull cycle.
#[derive(Debug, Default)]
pub struct Pull {
    /// Topology first (entities, relations), then metrics, alerts and target health, so the
    /// engine knows an entity before its signals arrive.
    pub observations: Vec<Observation>,
    /// One line per failed request or skipped data (the cycle goes on without it).
    pub problems: Vec<String>,
    /// Bytes of response bodies read.
    pub bytes: usize,
}

impl Pull {
    pub fn health(&self) -> Health {
        match self.problems.first() {
            None => Health::Ok,
            Some(first) if self.problems.len() == 1 => Health::Stale { reason: first.clone() },
            Some(first) => Health::Stale { reason: format!("{first} (and {} more)", self.problems.len() - 1) },
        }
    }
}

/// The state of one Prometheus source between cycles.
pub struct PrometheusSource {
    config: PrometheusConfig,
    mapping: Mapping,
    client: HttpClient,
    /// End of the range already pulled, per query.
    pulled_until: BTreeMap<String, Timestamp>,
    known_entities: BTreeSet<EntityId>,
    known_relations: BTreeSet<Relation>,
}

impl PrometheusSource {
    pub fn new(config: PrometheusConfig, mapping: Mapping) -> Result<PrometheusSource, FetchError> {
        let settings =
            HttpSettings::for_source(config.timeout.millis(), config.retries, config.max_response_bytes, &config.auth);
        let client = HttpClient::new(settings)?;
        Ok(PrometheusSource {
            config,
            mapping,
            client,
            pulled_until: BTreeMap::new(),
            known_entities: BTreeSet::new(),
            known_relations: BTreeSet::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// One cycle at wall time `now`: every query's new range, then alerts and targets. Failures
    /// are collected in [`Pull::problems`]; what succeeded is kept.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let mut pull = Pull::default();
        let mut topology = Vec::new();
        let mut data = Vec::new();
        let step = self.config.step.millis().max(1000);
        // Align to the step so consecutive cycles ask for the same grid.
        let end = Timestamp(now.millis() - now.millis().rem_euclid(step));
        let queries = self.config.queries.clone();
        for q in &queries {
            let earliest = end.plus_ms(-self.config.lookback.millis());
            let start = self.pulled_until.get(&q.name).map(|t| t.plus_ms(step)).unwrap_or(earliest).max(earliest);
            if start > end {
                continue;
            }
            // Stay under the points limit: the newest range that fits.
            let start = start.max(end.plus_ms(-(MAX_POINTS - 1) * step));
            let url = self.endpoint("/api/v1/query_range");
            let params = [
                ("query", q.query.clone()),
                ("start", secs(start)),
                ("end", secs(end)),
                ("step", format!("{}s", step as f64 / 1000.0)),
            ];
            let shown = super::http::redact(&url);
            match self.client.get(&url, &params).await {
                Err(e) => pull.problems.push(format!("query `{}`: {e}", q.name)),
                Ok(r) => {
                    pull.bytes += r.body.len();
                    match api::decode::<api::QueryData>(&shown, r.status, &r.body) {
                        Ok(api::QueryData::Matrix(series)) => {
                            let d = api::decode_matrix(&series, &q.name, &self.mapping, &self.config.name);
                            if d.unmapped_series > 0 {
                                tracing::debug!(query = %q.name, unmapped = d.unmapped_series, "series without an entity");
                            }
                            if d.non_finite_samples > 0 {
                                tracing::debug!(query = %q.name, skipped = d.non_finite_samples, "NaN/Inf samples skipped");
                            }
                            self.note_topology(&series, &d.relations, &mut topology);
                            data.extend(d.observations);
                            self.pulled_until.insert(q.name.clone(), end);
                        }
                        Ok(_) => pull.problems.push(format!("query `{}`: {shown}: not a range vector", q.name)),
                        Err(e) => pull.problems.push(format!("query `{}`: {e}", q.name)),
                    }
                }
            }
        }
        if self.config.alerts {
            let url = self.endpoint("/api/v1/alerts");
            if let Some(alerts) = self.fetch::<api::AlertsData>(&url, &mut pull).await {
                let (obs, _unmapped) = api::decode_alerts(&alerts, now, &self.mapping, &self.config.name);
                self.note_entities(obs.iter(), &mut topology);
                data.extend(obs);
            }
        }
        if self.config.targets {
            let url = self.endpoint("/api/v1/targets");
            if let Some(targets) = self.fetch::<api::TargetsData>(&url, &mut pull).await {
                let obs = api::decode_targets(&targets, now, &self.mapping, &self.config.name);
                self.note_entities(obs.iter(), &mut topology);
                data.extend(obs);
            }
        }
        // Data in time order (stable: ties keep query order), after the topology.
        data.sort_by_key(|o| o.at);
        pull.observations = topology;
        pull.observations.extend(data);
        pull
    }

    async fn fetch<T: serde::de::DeserializeOwned>(&self, url: &str, pull: &mut Pull) -> Option<T> {
        let shown = super::http::redact(url);
        match self.client.get(url, &[]).await {
            Err(e) => {
                pull.problems.push(e.to_string());
                None
            }
            Ok(r) => {
                pull.bytes += r.body.len();
                api::decode::<T>(&shown, r.status, &r.body).map_err(|e| pull.problems.push(e.to_string())).ok()
            }
        }
    }

    /// Entity observations for entities seen for the first time, and relation observations
    /// for new relations.
    fn note_topology(&mut self, series: &[api::RangeSeries], relations: &[Relation], out: &mut Vec<Observation>) {
        let at = series.iter().flat_map(|s| s.values.first().map(|v| v.at())).min().unwrap_or_default();
        for s in series {
            if let Some((id, kind)) = self.mapping.entity(&s.metric) {
                self.entity(id, kind, at, out);
            }
        }
        for r in relations {
            for id in [&r.from, &r.to] {
                let kind = crate::engine::topology::kind_from_id(id.as_str());
                self.entity(id.clone(), kind, at, out);
            }
            if self.known_relations.insert(r.clone()) {
                out.push(Observation {
                    at,
                    source: self.config.name.clone(),
                    kind: ObservationKind::Relation { relation: r.clone() },
                });
            }
        }
    }

    fn note_entities<'a>(&mut self, obs: impl Iterator<Item = &'a Observation>, out: &mut Vec<Observation>) {
        for o in obs {
            if let ObservationKind::Alert { entity, .. } = &o.kind {
                let kind = crate::engine::topology::kind_from_id(entity.as_str());
                self.entity(entity.clone(), kind, o.at, out);
            }
        }
    }

    /// Picks up from this source's journaled observations: each query resumes after the last
    /// sample it delivered (the metric name is the query's name), and known entities and
    /// relations are not announced again.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        for obs in observations {
            match &obs.kind {
                ObservationKind::Metric { metric, samples, .. } => {
                    if let Some(&(last, _)) = samples.last() {
                        let until = self.pulled_until.entry(metric.clone()).or_insert(last);
                        *until = (*until).max(last);
                    }
                }
                ObservationKind::Entity { entity } => {
                    self.known_entities.insert(entity.id.clone());
                }
                ObservationKind::Relation { relation } => {
                    self.known_relations.insert(relation.clone());
                }
                _ => {}
            }
        }
    }

    fn entity(&mut self, id: EntityId, kind: crate::model::EntityKind, at: Timestamp, out: &mut Vec<Observation>) {
        if self.known_entities.insert(id.clone()) {
            let entity =
                Entity { id, kind, name: String::new(), labels: BTreeMap::new(), criticality: Default::default() };
            out.push(Observation { at, source: self.config.name.clone(), kind: ObservationKind::Entity { entity } });
        }
    }
}

/// Seconds since the epoch as Prometheus takes them (`1795000000.5`).
fn secs(t: Timestamp) -> String {
    format!("{}.{:03}", t.millis().div_euclid(1000), t.millis().rem_euclid(1000))
}
