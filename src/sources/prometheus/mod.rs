//! The Prometheus source: configured PromQL queries pulled with `query_range` incrementally
//! (each cycle asks only for the range since the last one), business KPIs evaluated now, a day
//! and a week earlier, firing alerts from `/api/v1/alerts` and `/api/v1/rules`, rule health, and
//! target health from `/api/v1/targets`, all turned into observations through the entity
//! mapping. Works the same against anything that speaks the Prometheus HTTP API (Thanos,
//! Mimir, VictoriaMetrics).
//!
//! What `/api/v1/rules` adds over `/api/v1/alerts`: each alert comes with its rule and the
//! rule's health. So an alert that stops firing can be reported resolved (its rule was
//! evaluated fine and no longer lists it, or the rule is gone), which `/api/v1/alerts` alone
//! cannot tell apart from a rule that failed to evaluate or was not evaluated yet; and a rule
//! whose evaluation fails is a blind spot, reported as a `RuleEvaluationFailing` alert. An
//! alert seen through both endpoints is reported once per cycle.
//!
//! The requests of a cycle run concurrently, at most `max_concurrent_requests` at a time, and
//! their answers are used in a fixed order (queries, KPIs, alerts and rules, targets), so the
//! same answers always give the same observations.
//!
//! A failed cycle changes nothing that was already observed (the engine keeps the last good
//! data); the source reports itself stale with the reason and the next cycle asks again for
//! the whole range it missed (bounded by `lookback`).

pub mod api;
pub mod changes;

use super::http::{Auth, FetchError, Fetched, HttpClient, HttpSettings};
use super::mapping::Mapping;
use crate::config::HumanDuration;
use crate::model::{AlertState, Entity, EntityId, Observation, ObservationKind, Relation, Timestamp, TrafficRole};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Prometheus refuses more points than this per series in one `query_range`.
const MAX_POINTS: i64 = 11_000;
const DAY_MS: i64 = 86_400_000;

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
    /// History fetched once per query at start-up, before `lookback`, for the detector's
    /// baselines and seasons to learn from without judging it (`0s`: none). Two weeks lets the
    /// hour-of-week profile apply from the first live sample.
    #[serde(default = "no_warmup")]
    pub warmup: HumanDuration,
    /// Resolution of the warm-up history (coarse: it only teaches hourly profiles).
    #[serde(default = "default_warmup_step")]
    pub warmup_step: HumanDuration,
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
    /// Pull `/api/v1/rules?type=alert`: alerts that stop firing are reported resolved, and a
    /// rule whose evaluation fails is reported as a `RuleEvaluationFailing` alert.
    #[serde(default = "yes")]
    pub rules: bool,
    /// Pull `/api/v1/targets` (a target going down is an observation too).
    #[serde(default = "yes")]
    pub targets: bool,
    /// Requests of one cycle in flight at once (at least 1).
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    #[serde(default)]
    pub auth: Auth,
    /// The series to watch; each query's result series become metrics named `name`.
    #[serde(default)]
    pub queries: Vec<QueryConfig>,
    /// Business KPIs, compared with yesterday and last week in a problem's impact.
    #[serde(default)]
    pub kpis: Vec<KpiConfig>,
    /// Changes read from metrics (restarts, scaling, rollouts), candidates for a problem's
    /// foundational cause. Left out: restarts from kube-state-metrics and from every scrape
    /// target, deployment scaling and rollouts (see `changes::default_rules`); `changes = []`:
    /// none.
    #[serde(default = "changes::default_rules")]
    pub changes: Vec<changes::ChangeRule>,
    /// The traffic a problem touches: requests/s, errors/s and users, one query per role and
    /// measuring point.
    #[serde(default)]
    pub traffic: Vec<TrafficQuery>,
}

/// One `[[sources.prometheus.traffic]]` table: a query whose series are an entity's traffic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficQuery {
    /// `requests` (per second), `errors` (per second) or `users` (a count).
    pub role: TrafficRole,
    /// PromQL, one series per entity, e.g. `sum by (service) (rate(http_requests_total[1m]))`.
    pub query: String,
    /// The entity every value belongs to (the query must then give one series); without it,
    /// each series' labels go through the entity mapping.
    #[serde(default)]
    pub entity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryConfig {
    /// The metric name the engine sees, e.g. `cpu_utilisation`.
    pub name: String,
    /// PromQL.
    pub query: String,
}

/// One `[[sources.prometheus.kpis]]` table: a business KPI.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiConfig {
    /// The KPI's name, e.g. `checkout_orders_per_min`.
    pub name: String,
    /// PromQL giving an instant vector (or a scalar), e.g. `sum by (service) (rate(orders_total[5m])) * 60`.
    pub query: String,
    /// The entity every value belongs to, e.g. `service:checkout` (the query must then give one
    /// series); without it, each series' labels go through the entity mapping.
    #[serde(default)]
    pub entity: Option<String>,
    /// Shown beside the value, e.g. `orders/min`.
    #[serde(default)]
    pub unit: Option<String>,
    /// True when a rise is good (orders), false when a rise is bad (error ratio).
    #[serde(default = "yes")]
    pub higher_is_better: bool,
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
fn no_warmup() -> HumanDuration {
    HumanDuration::from_millis(0)
}
fn default_warmup_step() -> HumanDuration {
    HumanDuration::from_millis(300_000)
}
fn yes() -> bool {
    true
}
fn default_max_concurrent_requests() -> usize {
    4
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
    /// One line per failed request (the cycle goes on without it; the source is stale).
    pub problems: Vec<String>,
    /// One line per kind of data skipped while the source is fine (NaN samples, series no
    /// mapping rule knows): shown, but not a failure.
    pub notes: Vec<String>,
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
    /// Queries whose warm-up history was asked for (or that resumed from a journal).
    warmed: BTreeSet<String>,
    /// Alerts reported firing and not yet resolved, by fingerprint.
    firing: BTreeMap<String, api::FiringAlert>,
    /// Rules reported failing and not yet recovered, with their last status.
    failing_rules: BTreeMap<api::RuleRef, api::RuleStatus>,
    /// End of the range already pulled, per change rule and per traffic query.
    changes_until: BTreeMap<usize, Timestamp>,
    traffic_until: BTreeMap<usize, Timestamp>,
    /// Readings compared for changes, and the changes reported.
    tracker: changes::ChangeTracker,
}

/// What a request of the cycle is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The n-th configured query's new range.
    Range(usize),
    /// The n-th query's history before `lookback`, once, for warming.
    Warm(usize),
    /// The n-th KPI, evaluated `days` days before the cycle's end (0, 1 or 7).
    Kpi(usize, i64),
    /// The n-th change rule's new range.
    Changes(usize),
    /// The n-th traffic query's new range.
    Traffic(usize),
    Alerts,
    Rules,
    Targets,
}

/// A KPI's answer for one evaluation time, by days before the cycle's end.
type KpiAnswer = (i64, Result<api::QueryData, String>);

/// One GET of the cycle.
struct Request {
    purpose: Purpose,
    url: String,
    params: Vec<(&'static str, String)>,
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
            warmed: BTreeSet::new(),
            firing: BTreeMap::new(),
            failing_rules: BTreeMap::new(),
            changes_until: BTreeMap::new(),
            traffic_until: BTreeMap::new(),
            tracker: changes::ChangeTracker::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.url.trim_end_matches('/'))
    }

    /// The requests of a cycle ending at `end`, in the order their answers are used.
    fn plan(&self, end: Timestamp, step: i64) -> Vec<Request> {
        let mut plan = Vec::new();
        let (warmup, lookback) = (self.config.warmup.millis(), self.config.lookback.millis());
        let warm_step = self.config.warmup_step.millis().max(1000);
        for (i, q) in self.config.queries.iter().enumerate() {
            if warmup > lookback && !self.warmed.contains(&q.name) && !self.pulled_until.contains_key(&q.name) {
                // On the warm-up grid, ending before the live range starts.
                let last = end.plus_ms(-lookback - 1);
                let last = Timestamp(last.millis() - last.millis().rem_euclid(warm_step));
                let first = end.plus_ms(-warmup).max(last.plus_ms(-(MAX_POINTS - 1) * warm_step));
                let params = vec![
                    ("query", q.query.clone()),
                    ("start", secs(first)),
                    ("end", secs(last)),
                    ("step", format!("{}s", warm_step as f64 / 1000.0)),
                ];
                plan.push(Request { purpose: Purpose::Warm(i), url: self.endpoint("/api/v1/query_range"), params });
            }
        }
        let range = |query: &str, until: Option<&Timestamp>| {
            let earliest = end.plus_ms(-self.config.lookback.millis());
            let start = until.map(|t| t.plus_ms(step)).unwrap_or(earliest).max(earliest);
            // Stay under the points limit: the newest range that fits.
            let start = start.max(end.plus_ms(-(MAX_POINTS - 1) * step));
            (start <= end).then(|| {
                vec![
                    ("query", query.to_string()),
                    ("start", secs(start)),
                    ("end", secs(end)),
                    ("step", format!("{}s", step as f64 / 1000.0)),
                ]
            })
        };
        let url = self.endpoint("/api/v1/query_range");
        for (i, q) in self.config.queries.iter().enumerate() {
            if let Some(params) = range(&q.query, self.pulled_until.get(&q.name)) {
                plan.push(Request { purpose: Purpose::Range(i), url: url.clone(), params });
            }
        }
        for (i, c) in self.config.changes.iter().enumerate() {
            if let Some(params) = range(&c.query, self.changes_until.get(&i)) {
                plan.push(Request { purpose: Purpose::Changes(i), url: url.clone(), params });
            }
        }
        for (i, t) in self.config.traffic.iter().enumerate() {
            if let Some(params) = range(&t.query, self.traffic_until.get(&i)) {
                plan.push(Request { purpose: Purpose::Traffic(i), url: url.clone(), params });
            }
        }
        for (i, k) in self.config.kpis.iter().enumerate() {
            // `offset 1d` cannot be appended to an expression: PromQL attaches `offset` to each
            // selector (`sum(rate(x[5m])) offset 1d` does not parse), so it would have to be
            // written into every selector of the user's query. Evaluating the whole expression
            // at `time = end - 1d` is the same for an instant query: every selector in it then
            // reads the data of a day earlier, exactly as if each carried `offset 1d`, whatever
            // the expression (functions, aggregations, binary operators, subqueries). Only
            // `time()`, `timestamp()` and selectors pinned with `@ <unix time>` see the shift
            // differently; none of them makes sense in a KPI.
            for days in [0, 1, 7] {
                let params = vec![("query", k.query.clone()), ("time", secs(end.plus_ms(-days * DAY_MS)))];
                plan.push(Request { purpose: Purpose::Kpi(i, days), url: self.endpoint("/api/v1/query"), params });
            }
        }
        if self.config.alerts {
            plan.push(Request { purpose: Purpose::Alerts, url: self.endpoint("/api/v1/alerts"), params: vec![] });
        }
        if self.config.rules {
            let params = vec![("type", "alert".to_string())];
            plan.push(Request { purpose: Purpose::Rules, url: self.endpoint("/api/v1/rules"), params });
        }
        if self.config.targets {
            plan.push(Request { purpose: Purpose::Targets, url: self.endpoint("/api/v1/targets"), params: vec![] });
        }
        plan
    }

    /// Runs the requests, at most `max_concurrent_requests` at a time (queued in plan order);
    /// the answers come back in plan order whatever order they arrive in.
    async fn fetch_all(&self, plan: &[Request]) -> Vec<Result<Fetched, FetchError>> {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.config.max_concurrent_requests.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, r) in plan.iter().enumerate() {
            let (client, permits, url, params) =
                (self.client.clone(), permits.clone(), r.url.clone(), r.params.clone());
            tasks.spawn(async move {
                // The semaphore is never closed: this only waits for a free place.
                let _permit = permits.acquire_owned().await;
                (i, client.get(&url, &params).await)
            });
        }
        let mut answers: Vec<Option<Result<Fetched, FetchError>>> = plan.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            // A task that panicked leaves its slot empty; it is reported below.
            if let Ok((i, answer)) = joined {
                answers[i] = Some(answer);
            }
        }
        answers
            .into_iter()
            .zip(plan)
            .map(|(answer, r)| {
                answer.unwrap_or_else(|| {
                    let url = super::http::redact(&r.url);
                    Err(FetchError::Other { url, message: "the request task failed without an answer".into() })
                })
            })
            .collect()
    }

    /// One cycle at wall time `now`: every query's new range, the KPIs, then alerts, rules and
    /// targets. Failures are collected in [`Pull::problems`]; what succeeded is kept.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let mut pull = Pull::default();
        let mut topology = Vec::new();
        let mut data = Vec::new();
        let step = self.config.step.millis().max(1000);
        // Align to the step so consecutive cycles ask for the same grid.
        let end = Timestamp(now.millis() - now.millis().rem_euclid(step));
        let plan = self.plan(end, step);
        let answers = self.fetch_all(&plan).await;

        let mut kpi_answers: BTreeMap<usize, Vec<KpiAnswer>> = BTreeMap::new();
        let mut found_changes = Vec::new();
        let mut history = Vec::new();
        let (mut alerts, mut rules, mut targets) = (None, None, None);
        for (r, answer) in plan.iter().zip(answers) {
            let shown = super::http::redact(&r.url);
            match r.purpose {
                Purpose::Range(i) => {
                    let q = &self.config.queries[i];
                    match Self::query_data(&shown, answer, &mut pull) {
                        Ok(api::QueryData::Matrix(series)) => {
                            let d = api::decode_matrix(&series, &q.name, &self.mapping, &self.config.name);
                            // Skipped data is no failure (NaN is a value Prometheus returns, e.g.
                            // 0/0), but the user must be able to see it: notes, not problems.
                            if d.unmapped_series > 0 {
                                pull.notes.push(format!(
                                    "query `{}`: {} series match no [mapping] rule, e.g. {}; skipped",
                                    q.name,
                                    d.unmapped_series,
                                    d.unmapped_example.as_deref().unwrap_or("{}")
                                ));
                            }
                            if d.non_finite_samples > 0 {
                                pull.notes.push(format!(
                                    "query `{}`: {} NaN/Inf samples skipped",
                                    q.name, d.non_finite_samples
                                ));
                            }
                            let name = q.name.clone();
                            self.note_topology(&series, &d.relations, &mut topology);
                            data.extend(d.observations);
                            self.pulled_until.insert(name, end);
                        }
                        Ok(_) => pull.problems.push(format!("query `{}`: {shown}: not a range vector", q.name)),
                        Err(e) => pull.problems.push(format!("query `{}`: {e}", q.name)),
                    }
                }
                Purpose::Warm(i) => {
                    let q = &self.config.queries[i];
                    // Asked once: a failure is noted and the series learns live instead.
                    self.warmed.insert(q.name.clone());
                    match Self::query_data(&shown, answer, &mut pull) {
                        Ok(api::QueryData::Matrix(series)) => {
                            let d = api::decode_matrix(&series, &q.name, &self.mapping, &self.config.name);
                            self.note_topology(&series, &d.relations, &mut topology);
                            history.extend(d.observations.into_iter().filter_map(|o| match o.kind {
                                ObservationKind::Metric { entity, metric, samples } => Some(Observation {
                                    at: o.at,
                                    source: o.source,
                                    kind: ObservationKind::History { entity, metric, samples },
                                }),
                                _ => None,
                            }));
                        }
                        Ok(_) => pull.notes.push(format!("query `{}`: warm-up history: not a range vector", q.name)),
                        Err(e) => pull.notes.push(format!("query `{}`: warm-up history not read: {e}", q.name)),
                    }
                }
                Purpose::Changes(i) => {
                    let rule = &self.config.changes[i];
                    match Self::query_data(&shown, answer, &mut pull) {
                        Ok(api::QueryData::Matrix(series)) => {
                            let found = self.tracker.compare(i, rule, &series, &self.mapping, &self.config.name);
                            if found.unmapped_series > 0 {
                                pull.notes.push(format!(
                                    "changes `{}`: {} series give no entity; skipped",
                                    rule.query, found.unmapped_series
                                ));
                            }
                            found_changes.extend(found.observations);
                            self.changes_until.insert(i, end);
                        }
                        Ok(_) => pull.problems.push(format!("changes `{}`: {shown}: not a range vector", rule.query)),
                        Err(e) => pull.problems.push(format!("changes `{}`: {e}", rule.query)),
                    }
                }
                Purpose::Traffic(i) => {
                    let q = &self.config.traffic[i];
                    let what = format!("traffic `{}` ({})", q.query, q.role.as_str());
                    match Self::query_data(&shown, answer, &mut pull) {
                        Ok(api::QueryData::Matrix(series)) => {
                            let d = api::decode_traffic(q, &series, &self.mapping, &self.config.name);
                            if d.unmapped_series > 0 {
                                pull.notes.push(format!(
                                    "{what}: {} series match no [mapping] rule; skipped",
                                    d.unmapped_series
                                ));
                            }
                            pull.problems.extend(d.problems.into_iter().map(|p| format!("{what}: {p}")));
                            self.note_entities(d.observations.iter(), &mut topology);
                            data.extend(d.observations);
                            self.traffic_until.insert(i, end);
                        }
                        Ok(_) => pull.problems.push(format!("{what}: {shown}: not a range vector")),
                        Err(e) => pull.problems.push(format!("{what}: {e}")),
                    }
                }
                Purpose::Kpi(i, days) => {
                    let decoded = Self::query_data(&shown, answer, &mut pull);
                    kpi_answers.entry(i).or_default().push((days, decoded));
                }
                Purpose::Alerts => alerts = Self::decoded::<api::AlertsData>(&shown, answer, &mut pull),
                Purpose::Rules => rules = Self::decoded::<api::RulesData>(&shown, answer, &mut pull),
                Purpose::Targets => targets = Self::decoded::<api::TargetsData>(&shown, answer, &mut pull),
            }
        }
        let fold = changes::fold_ms(step);
        let forget = end.plus_ms(-self.config.lookback.millis() - fold);
        let obs = self.tracker.fold(found_changes, fold, forget);
        self.note_entities(obs.iter(), &mut topology);
        data.extend(obs);
        for (i, answers) in kpi_answers {
            let obs = self.kpi_observations(i, answers, end, &mut pull);
            self.note_entities(obs.iter(), &mut topology);
            data.extend(obs);
        }
        let obs = self.alert_observations(alerts, rules, now, &mut pull.notes);
        self.note_entities(obs.iter(), &mut topology);
        data.extend(obs);
        if let Some(targets) = targets {
            let obs = api::decode_targets(&targets, now, &self.mapping, &self.config.name);
            self.note_entities(obs.iter(), &mut topology);
            data.extend(obs);
        }
        // Data in time order (stable: ties keep query order), after the topology.
        data.sort_by_key(|o| o.at);
        // Topology, then history to learn from, then the live data to judge.
        pull.observations = topology;
        pull.observations.extend(history);
        pull.observations.extend(data);
        pull
    }

    /// A query's answer decoded (its size counted in `pull`), or why not.
    fn query_data(shown: &str, answer: Result<Fetched, FetchError>, pull: &mut Pull) -> Result<api::QueryData, String> {
        let fetched = answer.map_err(|e| e.to_string())?;
        pull.bytes += fetched.body.len();
        api::decode::<api::QueryData>(shown, fetched.status, &fetched.body).map_err(|e| e.to_string())
    }

    /// An answer decoded, or its failure noted in `pull`.
    fn decoded<T: serde::de::DeserializeOwned>(
        shown: &str,
        answer: Result<Fetched, FetchError>,
        pull: &mut Pull,
    ) -> Option<T> {
        match answer {
            Err(e) => {
                pull.problems.push(e.to_string());
                None
            }
            Ok(r) => {
                pull.bytes += r.body.len();
                api::decode::<T>(shown, r.status, &r.body).map_err(|e| pull.problems.push(e.to_string())).ok()
            }
        }
    }

    /// The i-th KPI's observations from its three answers (now, a day and a week earlier). Any
    /// failed answer skips the KPI for this cycle: a missing comparison must mean "no data
    /// then", never "could not ask".
    fn kpi_observations(&self, i: usize, answers: Vec<KpiAnswer>, end: Timestamp, pull: &mut Pull) -> Vec<Observation> {
        let kpi = &self.config.kpis[i];
        let mut by_days = BTreeMap::new();
        for (days, answer) in answers {
            match answer {
                Ok(data) => {
                    by_days.insert(days, data);
                }
                Err(e) => {
                    pull.problems.push(format!("kpi `{}`: {e}", kpi.name));
                    return Vec::new();
                }
            }
        }
        let (Some(now), Some(yesterday), Some(last_week)) = (by_days.get(&0), by_days.get(&1), by_days.get(&7)) else {
            return Vec::new();
        };
        match api::decode_kpi(kpi, now, yesterday, last_week, end, &self.mapping, &self.config.name) {
            Ok(d) => {
                if d.unmapped_series > 0 {
                    pull.notes.push(format!(
                        "kpi `{}`: {} series match no [mapping] rule; skipped",
                        kpi.name, d.unmapped_series
                    ));
                }
                pull.problems.extend(d.problems.into_iter().map(|p| format!("kpi `{}`: {p}", kpi.name)));
                d.observations
            }
            Err(e) => {
                pull.problems.push(format!("kpi `{}`: {e}", kpi.name));
                Vec::new()
            }
        }
    }

    /// Firing alerts from both endpoints, once each (rules first: they know the rule); alerts
    /// that stopped firing, resolved; and rules whose evaluation fails, or recovered.
    fn alert_observations(
        &mut self,
        alerts: Option<api::AlertsData>,
        rules: Option<api::RulesData>,
        now: Timestamp,
        notes: &mut Vec<String>,
    ) -> Vec<Observation> {
        let source = self.config.name.clone();
        let view = rules.map(|r| api::decode_rules(&r, now, &self.mapping, &source));
        let mut current: Vec<api::FiringAlert> = Vec::new();
        let mut seen = BTreeSet::new();
        if let Some(view) = &view {
            current.extend(view.firing.iter().filter(|f| seen.insert(f.fingerprint.clone())).cloned());
        }
        if let Some(alerts) = &alerts {
            let (obs, unmapped) = api::decode_alerts(alerts, now, &self.mapping, &source);
            if unmapped > 0 {
                notes.push(format!("alerts: {unmapped} firing alert(s) match no [mapping] rule; skipped"));
            }
            for o in obs {
                let fingerprint = match &o.kind {
                    ObservationKind::Alert { fingerprint, .. } => fingerprint.clone(),
                    _ => continue,
                };
                if seen.insert(fingerprint.clone()) {
                    current.push(api::FiringAlert { rule: None, fingerprint, observation: o });
                }
            }
        }
        let mut out: Vec<Observation> = current.iter().map(|f| f.observation.clone()).collect();

        // Absence is news only where the rules say the alert list is current; without a rules
        // answer this cycle, every alert stays as it was.
        for (fingerprint, alert) in std::mem::take(&mut self.firing) {
            if seen.contains(&fingerprint) {
                continue;
            }
            if view.as_ref().is_some_and(|v| v.stopped(&alert)) {
                out.push(api::resolved(&alert.observation, now));
            } else {
                self.firing.insert(fingerprint, alert);
            }
        }
        for alert in current {
            self.firing.insert(alert.fingerprint.clone(), alert);
        }

        let Some(view) = view else { return out };
        for (rule, status) in &view.rules {
            match &status.health {
                api::RuleHealth::Failed(error) => {
                    if !self.failing_rules.contains_key(rule) {
                        tracing::warn!(source = %source, group = %rule.0, rule = %rule.1, %error, "rule evaluation fails");
                    }
                    out.push(api::rule_failure(rule, status, AlertState::Firing, now, &self.mapping, &source));
                    self.failing_rules.insert(rule.clone(), status.clone());
                }
                api::RuleHealth::Ok => {
                    if let Some(old) = self.failing_rules.remove(rule) {
                        out.push(api::rule_failure(rule, &old, AlertState::Resolved, now, &self.mapping, &source));
                    }
                }
                api::RuleHealth::Unknown => {}
            }
        }
        // A failing rule that is gone from the configuration fails no more.
        let gone: Vec<api::RuleRef> =
            self.failing_rules.keys().filter(|r| !view.rules.contains_key(*r)).cloned().collect();
        for rule in gone {
            if let Some(old) = self.failing_rules.remove(&rule) {
                out.push(api::rule_failure(&rule, &old, AlertState::Resolved, now, &self.mapping, &source));
            }
        }
        out
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
            if let ObservationKind::Alert { entity, .. }
            | ObservationKind::Kpi { entity, .. }
            | ObservationKind::Change { entity, .. }
            | ObservationKind::Traffic { entity, .. } = &o.kind
            {
                let kind = crate::engine::topology::kind_from_id(entity.as_str());
                self.entity(entity.clone(), kind, o.at, out);
            }
        }
    }

    /// What [`restore`](Self::restore) sets, for the tests that a resume set restores the same.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        format!(
            "{:?}",
            (
                &self.pulled_until,
                &self.known_entities,
                &self.known_relations,
                &self.warmed,
                &self.firing,
                &self.tracker
            )
        )
    }

    /// Picks up from this source's journaled observations: each query resumes after the last
    /// sample it delivered (the metric name is the query's name), and known entities and
    /// relations are not announced again.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        for obs in observations {
            match &obs.kind {
                ObservationKind::History { metric, .. } => {
                    self.warmed.insert(metric.clone());
                }
                ObservationKind::Metric { metric, samples, .. } => {
                    if let Some(&(last, _)) = samples.last() {
                        let until = self.pulled_until.entry(metric.clone()).or_insert(last);
                        *until = (*until).max(last);
                    }
                }
                ObservationKind::Entity { entity } => {
                    self.known_entities.insert(entity.id.clone());
                }
                ObservationKind::Change { entity, change, .. } => self.tracker.remember(entity, *change, obs.at),
                ObservationKind::Relation { relation } => {
                    self.known_relations.insert(relation.clone());
                }
                // Withdrawn (this source never withdraws, but what is gone is not known).
                ObservationKind::EntityGone { entity, .. } => {
                    self.known_entities.remove(entity);
                }
                ObservationKind::RelationGone { relation } => {
                    self.known_relations.remove(relation);
                }
                // Alerts it reported firing, so they can still resolve. Rule failures are
                // tracked with their rule's status, which the journal does not hold: a rule
                // still failing is reported again on the next cycle.
                ObservationKind::Alert { fingerprint, state, labels, .. }
                    if labels.get("alertname").map(String::as_str) != Some(api::RULE_FAILING) =>
                {
                    match state {
                        AlertState::Firing => {
                            let alert = api::FiringAlert {
                                rule: None,
                                fingerprint: fingerprint.clone(),
                                observation: obs.clone(),
                            };
                            self.firing.insert(fingerprint.clone(), alert);
                        }
                        AlertState::Resolved => {
                            self.firing.remove(fingerprint);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn entity(&mut self, id: EntityId, kind: crate::model::EntityKind, at: Timestamp, out: &mut Vec<Observation>) {
        if self.known_entities.insert(id.clone()) {
            let entity = Entity::new(id, kind);
            out.push(Observation { at, source: self.config.name.clone(), kind: ObservationKind::Entity { entity } });
        }
    }
}

/// Seconds since the epoch as Prometheus takes them (`1795000000.5`).
fn secs(t: Timestamp) -> String {
    format!("{}.{:03}", t.millis().div_euclid(1000), t.millis().rem_euclid(1000))
}

#[cfg(test)]
mod tests;
