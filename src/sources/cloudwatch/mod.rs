//! The AWS CloudWatch source: configured metrics pulled with `GetMetricData` (incremental: each
//! cycle asks from the last sample seen, aligned to the period; at most 500 queries a call,
//! `NextToken` paging), alarms from `DescribeAlarms` (ALARM fires, OK resolves, INSUFFICIENT_DATA
//! is a note), and EC2 instances from `DescribeInstances` as hosts, with their tags as labels
//! and the *runs on* edge from their Auto Scaling group's service. Requests are SigV4-signed
//! by hand ([`sigv4`]) with credentials from the usual chain ([`credentials`]).
//!
//! Entities: a metric's `entity` template over its dimensions when given; else `InstanceId`
//! names `host:<id>`, `AutoScalingGroupName` names `service:<asg>`, and other dimensions go
//! through the `[mapping]` rules as labels.
//!
//! Throttling is waited out, never a failure (see [`client`]); each cycle's cost (calls per
//! action, metrics per `GetMetricData` call) is a status note, as AWS bills by it.

pub mod api;
pub mod client;
pub mod credentials;
pub mod sigv4;

use super::mapping::{Mapping, Template};
use super::prometheus::Pull;
use crate::config::HumanDuration;
use crate::model::{
    AlertState, Entity, EntityId, EntityKind, Observation, ObservationKind, Relation, RelationKind, Severity, Timestamp,
};
use client::{AwsClient, CallError, Service, Settings};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// GetMetricData takes at most this many queries a call.
pub const MAX_QUERIES_PER_CALL: usize = 500;
/// Pages read per call kind and cycle, so a runaway `NextToken` cannot loop forever.
const MAX_PAGES: usize = 100;

/// The commercial, China and GovCloud regions (an unknown one is a config error unless an
/// `endpoint` is given).
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// One `[[sources.cloudwatch]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchConfig {
    #[serde(default = "default_name")]
    pub name: String,
    /// e.g. `eu-west-1`.
    pub region: String,
    /// One URL for every AWS API this source calls (CloudWatch, EC2, STS), e.g. a VPC endpoint
    /// or a local emulator; default `https://monitoring.{region}.amazonaws.com` and its kin.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The shared-file profile (else `AWS_PROFILE`, else `default`).
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// How far back the first cycle (and one after a long outage) looks.
    #[serde(default = "default_lookback")]
    pub lookback: HumanDuration,
    #[serde(default = "super::http::default_timeout")]
    pub timeout: HumanDuration,
    #[serde(default = "super::http::default_retries")]
    pub retries: usize,
    #[serde(default = "super::http::default_max_response")]
    pub max_response_bytes: usize,
    /// First wait after AWS throttles; it doubles while throttling goes on (to 64 times this).
    #[serde(default = "default_throttle_backoff")]
    pub throttle_backoff: HumanDuration,
    #[serde(default)]
    pub metrics: Vec<MetricConfig>,
    /// Pull `DescribeAlarms` each cycle.
    #[serde(default = "yes")]
    pub alarms: bool,
    /// Pull EC2 `DescribeInstances` each cycle (hosts, tags, Auto Scaling groups).
    #[serde(default = "yes")]
    pub instances: bool,
}

/// One `[[sources.cloudwatch.metrics]]` table: a metric stat, or a metric-math `expression`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    /// The metric name the engine sees; default `metric`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    #[serde(default = "default_stat")]
    pub stat: String,
    #[serde(default = "default_period")]
    pub period: HumanDuration,
    /// e.g. `host:{InstanceId}`; over an expression's results, `{label}` is each result's label.
    #[serde(default)]
    pub entity: Option<Template>,
    /// e.g. `SEARCH('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', 'Average')`.
    #[serde(default)]
    pub expression: Option<String>,
}

impl MetricConfig {
    /// The metric name observations carry.
    pub fn series_name(&self) -> &str {
        self.name.as_deref().or(self.metric.as_deref()).unwrap_or("expression")
    }
}

fn default_name() -> String {
    "cloudwatch".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(60_000)
}
fn default_lookback() -> HumanDuration {
    HumanDuration::from_millis(3_600_000)
}
fn default_throttle_backoff() -> HumanDuration {
    HumanDuration::from_millis(1_000)
}
fn default_stat() -> String {
    "Average".into()
}
fn default_period() -> HumanDuration {
    HumanDuration::from_millis(60_000)
}
fn yes() -> bool {
    true
}

impl CloudWatchConfig {
    /// What is wrong with this table: (key under `sources.cloudwatch[i]`, why).
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.endpoint.is_none() && !REGIONS.contains(&self.region.as_str()) {
            return Err((
                "region".into(),
                format!("`{}` is not an AWS region (e.g. `us-east-1`; give `endpoint` for another)", self.region),
            ));
        }
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) || reqwest::Url::parse(e).is_err() {
                return Err(("endpoint".into(), format!("`{e}` is not an http(s) URL")));
            }
        }
        for (j, m) in self.metrics.iter().enumerate() {
            let key = |k: &str| format!("metrics[{j}].{k}");
            match (&m.expression, &m.namespace, &m.metric) {
                (Some(_), None, None) if m.name.is_none() => {
                    return Err((key("name"), "an expression needs a `name` for its series".into()))
                }
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                (Some(_), _, _) => {
                    return Err((
                        key("expression"),
                        "give either `expression` or `namespace` + `metric`, not both".into(),
                    ))
                }
                (None, None, _) => return Err((key("namespace"), "missing (or give an `expression`)".into())),
                (None, _, None) => return Err((key("metric"), "missing (or give an `expression`)".into())),
            }
            let p = m.period.millis();
            if !(p == 1000 || p == 5000 || p == 10_000 || p == 30_000 || (p > 0 && p % 60_000 == 0)) {
                return Err((key("period"), format!("{} is not 1s, 5s, 10s, 30s or a multiple of 60s", m.period)));
            }
            if m.stat.trim().is_empty() {
                return Err((key("stat"), "must not be empty (e.g. `Average`, `p99`)".into()));
            }
        }
        Ok(())
    }

    fn service(&self, prefix: &str, signing_name: &'static str) -> Service {
        let url = match &self.endpoint {
            Some(e) => e.clone(),
            None if self.region.starts_with("cn-") => format!("https://{prefix}.{}.amazonaws.com.cn/", self.region),
            None => format!("https://{prefix}.{}.amazonaws.com/", self.region),
        };
        Service { url, signing_name }
    }
}

/// The state of one CloudWatch source between cycles.
pub struct CloudWatchSource {
    config: CloudWatchConfig,
    mapping: Mapping,
    client: AwsClient,
    monitoring: Service,
    ec2: Service,
    /// Newest sample delivered, per (entity, series name).
    last_sample: BTreeMap<(EntityId, String), Timestamp>,
    /// Newest sample delivered by each metric query (by series name): where its next call starts.
    pulled_until: BTreeMap<String, Timestamp>,
    known_entities: BTreeMap<EntityId, Entity>,
    known_relations: BTreeSet<Relation>,
    /// Alarms reported firing and not yet resolved, by ARN.
    firing: BTreeMap<String, Observation>,
}

impl CloudWatchSource {
    pub fn new(config: CloudWatchConfig, mapping: Mapping) -> Result<CloudWatchSource, super::http::FetchError> {
        Self::with_environment(config, mapping, credentials::Environment::from_process())
    }

    /// As [`new`](Self::new), with the credentials looked up in `env` instead of the process's.
    pub fn with_environment(
        config: CloudWatchConfig,
        mapping: Mapping,
        env: credentials::Environment,
    ) -> Result<CloudWatchSource, super::http::FetchError> {
        let sts = config.service("sts", "sts").url;
        let provider = credentials::Provider::new(config.profile.clone(), env, sts);
        let settings = Settings {
            timeout_ms: config.timeout.millis().max(1) as u64,
            retries: config.retries,
            max_body_bytes: config.max_response_bytes,
            throttle_min_ms: config.throttle_backoff.millis().max(1) as u64,
        };
        let client = AwsClient::new(config.region.clone(), provider, settings)?;
        Ok(CloudWatchSource {
            monitoring: config.service("monitoring", "monitoring"),
            ec2: config.service("ec2", "ec2"),
            config,
            mapping,
            client,
            last_sample: BTreeMap::new(),
            pulled_until: BTreeMap::new(),
            known_entities: BTreeMap::new(),
            known_relations: BTreeSet::new(),
            firing: BTreeMap::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The throttling backoff (for tests and the status).
    pub fn backoff(&self) -> &client::Backoff {
        &self.client.backoff
    }

    /// One cycle at wall time `now`: instances first (the topology), then metrics, then alarms.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let mut pull = Pull::default();
        if let Some(resume) = self.client.backoff.resume_at {
            if now < resume {
                pull.notes.push(format!(
                    "throttled by AWS: backing off until {} ({} ms); nothing asked this cycle",
                    resume,
                    resume.since(now)
                ));
                return pull;
            }
            self.client.backoff.resume_at = None;
        }
        self.client.calls.clear();
        self.client.bytes = 0;
        // Once per cycle: without credentials no call can go, and one message says why.
        if let Err(e) = self.client.credentials(now).await {
            pull.problems.push(format!("source `{}`: {e}", self.config.name));
            return pull;
        }
        let mut topology = Vec::new();
        let mut data = Vec::new();
        let mut throttled = false;
        let fail = |e: CallError, pull: &mut Pull, throttled: &mut bool| match e {
            CallError::Throttled { .. } => {
                *throttled = true;
                pull.notes.push(format!("{e}; the data resumes from the last sample"));
            }
            e => pull.problems.push(e.to_string()),
        };
        if self.config.instances {
            match self.instances(now).await {
                Ok(obs) => topology.extend(obs),
                Err(e) => fail(e, &mut pull, &mut throttled),
            }
        }
        let mut per_call = Vec::new();
        if !throttled && !self.config.metrics.is_empty() {
            if let Err(e) = self.metrics(now, &mut data, &mut topology, &mut pull, &mut per_call).await {
                fail(e, &mut pull, &mut throttled);
            }
        }
        if !throttled && self.config.alarms {
            match self.alarms(now, &mut pull.notes).await {
                Ok(obs) => {
                    self.note_entities(&obs, &mut topology);
                    data.extend(obs);
                }
                Err(e) => fail(e, &mut pull, &mut throttled),
            }
        }
        pull.notes.push(self.cost_note(&per_call));
        pull.bytes = self.client.bytes;
        data.sort_by_key(|o| o.at);
        pull.observations = topology;
        pull.observations.extend(data);
        pull
    }

    /// `cost: 3 API calls (DescribeAlarms 1, DescribeInstances 1, GetMetricData 1); 4 metrics per GetMetricData call`.
    fn cost_note(&self, per_call: &[usize]) -> String {
        let total: usize = self.client.calls.values().sum();
        let each: Vec<String> = self.client.calls.iter().map(|(a, n)| format!("{a} {n}")).collect();
        let mut note = format!("cost: {total} API calls this cycle ({})", each.join(", "));
        if !per_call.is_empty() {
            let sizes: Vec<String> = per_call.iter().map(usize::to_string).collect();
            note.push_str(&format!("; metrics per GetMetricData call: {}", sizes.join(", ")));
        }
        if self.client.backoff.throttled > 0 {
            note.push_str(&format!("; throttled {} times so far", self.client.backoff.throttled));
        }
        note
    }

    /// Every configured metric's new samples: queries grouped by where they start, 500 a call.
    async fn metrics(
        &mut self,
        now: Timestamp,
        data: &mut Vec<Observation>,
        topology: &mut Vec<Observation>,
        pull: &mut Pull,
        per_call: &mut Vec<usize>,
    ) -> Result<(), CallError> {
        let mut groups: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
        for (i, m) in self.config.metrics.iter().enumerate() {
            let period = m.period.millis().max(1000);
            let end = now.millis() - now.millis().rem_euclid(period);
            let earliest = end - self.config.lookback.millis();
            let from = self.pulled_until.get(m.series_name()).map(|t| t.millis() + period).unwrap_or(earliest);
            let start = from.max(earliest);
            let start = start - start.rem_euclid(period);
            if start < end {
                groups.entry((start, end)).or_default().push(i);
            }
        }
        for ((start, end), members) in groups {
            for chunk in members.chunks(MAX_QUERIES_PER_CALL) {
                per_call.push(chunk.len());
                let results = self.get_metric_data(chunk, Timestamp(start), Timestamp(end)).await?;
                for (i, (labels, samples)) in results {
                    self.metric_observations(i, labels, samples, data, topology, pull);
                }
            }
        }
        Ok(())
    }

    /// One batch, every page: per query index, each result's (label, samples).
    async fn get_metric_data(
        &mut self,
        members: &[usize],
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<(usize, (String, Vec<(Timestamp, f64)>))>, CallError> {
        let queries: Vec<(String, api::Query)> = members
            .iter()
            .map(|&i| {
                let m = &self.config.metrics[i];
                let period_s = m.period.millis() / 1000;
                let q = match &m.expression {
                    Some(expression) => api::Query::Expression { expression, period_s },
                    None => api::Query::Stat {
                        namespace: m.namespace.as_deref().unwrap_or_default(),
                        metric: m.metric.as_deref().unwrap_or_default(),
                        dimensions: &m.dimensions,
                        stat: &m.stat,
                        period_s,
                    },
                };
                (format!("m{i}"), q)
            })
            .collect();
        let (from, to) = (start.to_rfc3339(), end.to_rfc3339());
        // Results of one id may be split over pages, and an expression gives many per id.
        let mut by_key: BTreeMap<(usize, String), Vec<(Timestamp, f64)>> = BTreeMap::new();
        let mut token: Option<String> = None;
        let url = super::http::redact(&self.monitoring.url);
        for _ in 0..MAX_PAGES {
            let params = api::get_metric_data(&queries, &from, &to, token.as_deref());
            let monitoring = self.monitoring.clone();
            let body = self.client.call(&monitoring, &params).await?;
            let r: api::GetMetricDataResponse =
                api::decode("GetMetricData", &url, &body).map_err(|e| bad_answer("GetMetricData", &url, e))?;
            for res in r.result.results.member {
                let Some(i) = res.id.strip_prefix('m').and_then(|n| n.parse::<usize>().ok()) else { continue };
                let samples = by_key.entry((i, res.label.clone())).or_default();
                for (t, v) in res.timestamps.member.iter().zip(res.values.member) {
                    if let Ok(t) = Timestamp::parse_rfc3339(t) {
                        samples.push((t, v));
                    }
                }
            }
            token = r.result.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(by_key.into_iter().map(|((i, label), s)| (i, (label, s))).collect())
    }

    /// The observations of one result of the i-th metric query.
    fn metric_observations(
        &mut self,
        i: usize,
        label: String,
        mut samples: Vec<(Timestamp, f64)>,
        data: &mut Vec<Observation>,
        topology: &mut Vec<Observation>,
        pull: &mut Pull,
    ) {
        let m = &self.config.metrics[i];
        let series = m.series_name().to_string();
        let mut labels = m.dimensions.clone();
        if m.expression.is_some() {
            labels.insert("label".into(), label.clone());
        }
        let entity = match &m.entity {
            Some(t) => t.render(&labels).map(|id| (EntityId(id.clone()), crate::engine::topology::kind_from_id(&id))),
            None => entity_of(&labels, &self.mapping),
        };
        let Some((entity, kind)) = entity else {
            pull.notes.push(format!("metric `{series}` ({label}): dimensions {labels:?} give no entity; skipped"));
            return;
        };
        samples.sort_by_key(|s| s.0);
        let key = (entity.clone(), series.clone());
        let seen = self.last_sample.get(&key).copied();
        let before = samples.len();
        samples.retain(|(t, v)| v.is_finite() && seen.is_none_or(|s| *t > s));
        let non_finite = before - samples.len();
        if non_finite > 0 && seen.is_none() {
            pull.notes.push(format!("metric `{series}`: {non_finite} NaN/Inf samples skipped"));
        }
        let Some(&(last, _)) = samples.last() else { return };
        self.last_sample.insert(key, last);
        let until = self.pulled_until.entry(series.clone()).or_insert(last);
        *until = (*until).max(last);
        let at = samples[0].0;
        self.entity(Entity::new(entity.clone(), kind), at, topology);
        data.push(Observation {
            at: last,
            source: self.config.name.clone(),
            kind: ObservationKind::Metric { entity, metric: series, samples },
        });
    }

    /// Alarms, every page: ALARM fires (each cycle, as the engine counts repeats), OK and gone
    /// resolve what fired, INSUFFICIENT_DATA is a note.
    async fn alarms(&mut self, now: Timestamp, notes: &mut Vec<String>) -> Result<Vec<Observation>, CallError> {
        let url = super::http::redact(&self.monitoring.url);
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let monitoring = self.monitoring.clone();
            let body = self.client.call(&monitoring, &api::describe_alarms(token.as_deref())).await?;
            let r: api::DescribeAlarmsResponse =
                api::decode("DescribeAlarms", &url, &body).map_err(|e| bad_answer("DescribeAlarms", &url, e))?;
            alarms.extend(r.result.alarms.member);
            token = r.result.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        alarms.sort_by(|a, b| a.arn.cmp(&b.arn));
        let mut out = Vec::new();
        let mut insufficient = Vec::new();
        let mut listed = BTreeSet::new();
        for a in &alarms {
            listed.insert(a.arn.clone());
            match a.state.as_str() {
                "ALARM" => {
                    let obs = self.alarm_observation(a, now);
                    self.firing.insert(a.arn.clone(), obs.clone());
                    out.push(obs);
                }
                "INSUFFICIENT_DATA" => insufficient.push(a.name.clone()),
                _ => {}
            }
            if a.state != "ALARM" {
                if let Some(obs) = self.firing.remove(&a.arn) {
                    out.push(resolved(obs, now));
                }
            }
        }
        // A deleted alarm fires no more.
        let gone: Vec<String> = self.firing.keys().filter(|arn| !listed.contains(*arn)).cloned().collect();
        for arn in gone {
            if let Some(obs) = self.firing.remove(&arn) {
                out.push(resolved(obs, now));
            }
        }
        if !insufficient.is_empty() {
            notes.push(format!(
                "{} alarm(s) in INSUFFICIENT_DATA (neither firing nor resolved): {}",
                insufficient.len(),
                insufficient.join(", ")
            ));
        }
        Ok(out)
    }

    fn alarm_observation(&self, a: &api::MetricAlarm, now: Timestamp) -> Observation {
        let dims: BTreeMap<String, String> =
            a.dimensions.member.iter().map(|d| (d.name.clone(), d.value.clone())).collect();
        let entity = entity_of(&dims, &self.mapping)
            .map(|(id, _)| id)
            .unwrap_or_else(|| EntityId(format!("cloud:alarm/{}", a.name)));
        let mut labels = dims;
        labels.insert("alarm".into(), a.name.clone());
        if !a.namespace.is_empty() {
            labels.insert("namespace".into(), a.namespace.clone());
        }
        if !a.metric.is_empty() {
            labels.insert("metric".into(), a.metric.clone());
        }
        Observation {
            at: now,
            source: self.config.name.clone(),
            kind: ObservationKind::Alert {
                entity,
                name: a.name.clone(),
                fingerprint: a.arn.clone(),
                state: AlertState::Firing,
                severity: Severity::Major,
                labels,
                summary: a.reason.clone(),
            },
        }
    }

    /// EC2 instances as hosts (tags as labels), each Auto Scaling group's service running on
    /// its instances; terminated or vanished instances leave the topology.
    async fn instances(&mut self, now: Timestamp) -> Result<Vec<Observation>, CallError> {
        let url = super::http::redact(&self.ec2.url);
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let ec2 = self.ec2.clone();
            let body = self.client.call(&ec2, &api::describe_instances(token.as_deref())).await?;
            let r: api::DescribeInstancesResponse =
                api::decode("DescribeInstances", &url, &body).map_err(|e| bad_answer("DescribeInstances", &url, e))?;
            instances.extend(r.reservations.item.into_iter().flat_map(|r| r.instances.item));
            token = r.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        let mut out = Vec::new();
        let mut present = BTreeSet::new();
        let mut relations = BTreeSet::new();
        for i in &instances {
            let state = i.state.as_ref().map(|s| s.name.as_str()).unwrap_or("");
            if matches!(state, "terminated" | "shutting-down") {
                continue;
            }
            let host = host_entity(i);
            present.insert(host.id.clone());
            if let Some(asg) = i.tags.item.iter().find(|t| t.key == "aws:autoscaling:groupName") {
                let service = EntityId(format!("service:{}", asg.value));
                self.entity(Entity::new(service.clone(), EntityKind::Service), now, &mut out);
                relations.insert(Relation {
                    from: service,
                    kind: RelationKind::RunsOn,
                    to: host.id.clone(),
                    learned_from: self.config.name.clone(),
                });
            }
            self.entity(host, now, &mut out);
        }
        for r in &relations {
            if self.known_relations.insert(r.clone()) {
                out.push(self.observation(now, ObservationKind::Relation { relation: r.clone() }));
            }
        }
        // What this source learned from EC2 and no longer sees.
        let gone: Vec<Relation> = self
            .known_relations
            .iter()
            .filter(|r| !relations.contains(*r) && r.to.as_str().starts_with("host:i-"))
            .cloned()
            .collect();
        for relation in gone {
            self.known_relations.remove(&relation);
            out.push(self.observation(now, ObservationKind::RelationGone { relation }));
        }
        let vanished: Vec<EntityId> = self
            .known_entities
            .iter()
            .filter(|(id, e)| e.labels.contains_key("aws_instance_type") && !present.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for entity in vanished {
            self.known_entities.remove(&entity);
            out.push(self.observation(now, ObservationKind::EntityGone { entity, learned_from: String::new() }));
        }
        Ok(out)
    }

    fn observation(&self, at: Timestamp, kind: ObservationKind) -> Observation {
        Observation { at, source: self.config.name.clone(), kind }
    }

    /// Announces an entity seen for the first time, or whose description changed.
    fn entity(&mut self, entity: Entity, at: Timestamp, out: &mut Vec<Observation>) {
        if self.known_entities.get(&entity.id).is_some_and(|known| known == &entity || entity.labels.is_empty()) {
            return;
        }
        self.known_entities.insert(entity.id.clone(), entity.clone());
        out.push(self.observation(at, ObservationKind::Entity { entity }));
    }

    fn note_entities(&mut self, obs: &[Observation], out: &mut Vec<Observation>) {
        for o in obs {
            if let ObservationKind::Alert { entity, .. } = &o.kind {
                let kind = crate::engine::topology::kind_from_id(entity.as_str());
                self.entity(Entity::new(entity.clone(), kind), o.at, out);
            }
        }
    }

    /// What [`restore`](Self::restore) sets, for the tests that a resume set restores the same.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        format!(
            "{:?}",
            (&self.last_sample, &self.pulled_until, &self.known_entities, &self.known_relations, &self.firing)
        )
    }

    /// Picks up from this source's journaled observations: each series resumes after its
    /// newest sample, alarms that were firing can still resolve, known topology is not
    /// announced again.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        for obs in observations {
            match &obs.kind {
                ObservationKind::Metric { entity, metric, samples } => {
                    if let Some(&(last, _)) = samples.last() {
                        let seen = self.last_sample.entry((entity.clone(), metric.clone())).or_insert(last);
                        *seen = (*seen).max(last);
                        let until = self.pulled_until.entry(metric.clone()).or_insert(last);
                        *until = (*until).max(last);
                    }
                }
                ObservationKind::Entity { entity } => {
                    self.known_entities.insert(entity.id.clone(), entity.clone());
                }
                ObservationKind::EntityGone { entity, .. } => {
                    self.known_entities.remove(entity);
                }
                ObservationKind::Relation { relation } => {
                    self.known_relations.insert(relation.clone());
                }
                ObservationKind::RelationGone { relation } => {
                    self.known_relations.remove(relation);
                }
                ObservationKind::Alert { fingerprint, state, .. } => match state {
                    AlertState::Firing => {
                        self.firing.insert(fingerprint.clone(), obs.clone());
                    }
                    AlertState::Resolved => {
                        self.firing.remove(fingerprint);
                    }
                },
                _ => {}
            }
        }
    }
}

fn bad_answer(action: &str, url: &str, message: String) -> CallError {
    let start = message.strip_prefix(&format!("{action} {url}: ")).unwrap_or(&message).to_string();
    CallError::Http { action: action.into(), url: url.into(), status: 200, start }
}

/// The entity dimensions name: `InstanceId` a host, `AutoScalingGroupName` a service, else the
/// `[mapping]` rules over the dimensions as labels.
pub fn entity_of(dims: &BTreeMap<String, String>, mapping: &Mapping) -> Option<(EntityId, EntityKind)> {
    if let Some(id) = dims.get("InstanceId").filter(|v| !v.is_empty()) {
        return Some((EntityId(format!("host:{id}")), EntityKind::Host));
    }
    if let Some(asg) = dims.get("AutoScalingGroupName").filter(|v| !v.is_empty()) {
        return Some((EntityId(format!("service:{asg}")), EntityKind::Service));
    }
    mapping.entity(dims)
}

/// An EC2 instance as a host: named by its `Name` tag, tags as labels beside its type, zone,
/// state and private address.
fn host_entity(i: &api::Instance) -> Entity {
    let mut e = Entity::new(EntityId(format!("host:{}", i.id)), EntityKind::Host);
    for t in &i.tags.item {
        e.labels.insert(t.key.clone(), t.value.clone());
    }
    e.name = e.labels.get("Name").cloned().unwrap_or_default();
    e.labels.insert("aws_instance_type".into(), i.instance_type.clone());
    if let Some(p) = &i.placement {
        e.labels.insert("aws_availability_zone".into(), p.availability_zone.clone());
    }
    if let Some(s) = &i.state {
        e.labels.insert("aws_state".into(), s.name.clone());
    }
    if let Some(ip) = &i.private_ip {
        e.labels.insert("aws_private_ip".into(), ip.clone());
    }
    e
}

fn resolved(mut obs: Observation, now: Timestamp) -> Observation {
    obs.at = now;
    if let ObservationKind::Alert { state, .. } = &mut obs.kind {
        *state = AlertState::Resolved;
    }
    obs
}

#[cfg(test)]
mod tests;
