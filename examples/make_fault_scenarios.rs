//! Writes the fault scenarios `fixtures/scenarios/faults/<kind>.jsonl`, deterministically.
//!
//! `cargo run --example make_fault_scenarios [DIR [SEED]]`: another SEED (default 0) draws other
//! shops and stories of the same six kinds, to check that results do not hang on the shipped ones.
//!
//! `cargo run --example make_fault_scenarios -- --hard [DIR [SEED]]` writes the hard set instead
//! (`fixtures/scenarios/hard/<kind>-<seed>.jsonl`, seeds 0 to 2 without SEED): root cause under
//! chronic noise and overlapping incidents, see [`HARD_KINDS`] and the functions below them.
//!
//! Six storms with noise, each on its own generated shop (sizes and wiring drawn from a seed per
//! scenario, so nothing is shaped for one file): CPU saturation on a host, a memory leak in a
//! container (slow rise, OOM kill, restart), a full disk (trend to the limit, then write errors),
//! a crashed process (gone; its callers fail), a bad deployment (a change, then an error burst on
//! the service and its callers) and a network partition between two services (the caller times
//! out, the callee stays healthy). The fault propagates up the stack and along the calls as real
//! sources would report it: alerts re-sent every minute while firing, anomalous metrics, log
//! bursts. The noise: chronic flapping alerts on hosts, short blips on low-criticality services,
//! and in some scenarios a second, unrelated incident at the same time.
//!
//! Logs are raw lines (`"type": "log"`), mined when a scenario is read as they are live: request
//! logs of every service all along (info) and, for each log symptom of the story, error lines of
//! one template with its variable parts (durations, ids, paths, addresses) drawn afresh each time.
//! Their signal keys in the truth carry the template ids the miner gives them: the generator runs
//! the same miner over the same lines in the same order to learn them. The lines' texts and times
//! come from a random stream of their own, so the rest of a story draws what it drew before.
//!
//! Every scenario's header carries the ground truth (`truth`): the incidents with their root cause
//! and foundational change, and the incident (or `noise`) of every signal key the story raises.
//! Randomness is splitmix64 with fixed seeds and only additions and multiplications touch the
//! values, so the output is byte-identical everywhere. `tests/eval_scenarios.rs` includes this file
//! and checks that [`render`] reproduces the shipped fixtures.

use faultline::engine::detect::{default_saturation, DetectConfig};
use faultline::engine::logs::{LogPatternConfig, LogPatterns};
use faultline::model::{
    AlertState, ChangeKind, Criticality, Entity, EntityId, EntityKind, Observation, ObservationKind, Relation,
    RelationKind, Severity, Timestamp,
};
use faultline::sources::fixture::{self, IncidentTruth, RawLog, ScenarioHeader, Truth, NOISE};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

#[allow(dead_code)] // each generator uses a part of it
#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Where the scenarios go without an argument.
pub const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/faults");

/// The scenario kinds, in file-name form.
pub const KINDS: [&str; 6] =
    ["cpu-saturation", "memory-leak", "disk-full", "process-crash", "bad-deployment", "network-partition"];

/// 2026-04-06T09:00:00Z in milliseconds since the epoch.
const T0: i64 = 1_775_466_000_000;
const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
/// Scrape interval of every metric.
const STEP: i64 = MIN;
/// Length of every scenario.
const END: i64 = 75 * MIN;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--hard") {
        let dir = std::env::args_os().nth(2).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(HARD_DIR));
        let seeds: Vec<u64> = match std::env::args().nth(3) {
            Some(s) => vec![s.parse().map_err(|e| format!("SEED `{s}`: {e}"))?],
            None => HARD_SEEDS.to_vec(),
        };
        return write_hard(&dir, &seeds);
    }
    let dir = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
    let seed: u64 = match std::env::args().nth(2) {
        Some(s) => s.parse().map_err(|e| format!("SEED `{s}`: {e}"))?,
        None => 0,
    };
    std::fs::create_dir_all(&dir)?;
    for kind in KINDS {
        let bytes = render_seeded(kind, seed)?;
        let path = dir.join(format!("{kind}.jsonl"));
        std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let (header, observations, logs) = scenario_seeded(kind, seed);
        let truth = header.truth.as_ref().map(|t| t.signals.len()).unwrap_or(0);
        eprintln!(
            "wrote {} ({} bytes): {} observations, {} log lines, {truth} labelled signals",
            path.display(),
            bytes.len(),
            observations.len(),
            logs.len()
        );
    }
    Ok(())
}

/// One scenario file's bytes: two comment lines, the header, the observations.
pub fn render(kind: &str) -> std::io::Result<Vec<u8>> {
    render_seeded(kind, 0)
}

/// [`render`] with another seed (0: the shipped files).
pub fn render_seeded(kind: &str, seed: u64) -> std::io::Result<Vec<u8>> {
    let (header, observations, logs) = scenario_seeded(kind, seed);
    let mut out = format!(
        "# faultline fault scenario: {kind}\n\
         # Generated by `cargo run --example make_fault_scenarios`: change the generator, not this file.\n"
    )
    .into_bytes();
    fixture::write_with_logs(&header, &observations, &logs, &mut out)?;
    Ok(out)
}

/// The header (with its ground truth), the observations and the raw log lines, each in time order.
pub fn scenario(kind: &str) -> (ScenarioHeader, Vec<Observation>, Vec<RawLog>) {
    scenario_seeded(kind, 0)
}

/// [`scenario`] with another seed (0: the shipped files).
pub fn scenario_seeded(kind: &str, seed: u64) -> (ScenarioHeader, Vec<Observation>, Vec<RawLog>) {
    let index = KINDS.iter().position(|k| *k == kind).expect("a known scenario kind") as u64;
    let mut s = Story::new(kind, 0x5ce7_a210_0000 + index * 0x1_0001 + seed.wrapping_mul(0x9e37_79b9));
    match kind {
        "cpu-saturation" => cpu_saturation(&mut s),
        "memory-leak" => memory_leak(&mut s),
        "disk-full" => disk_full(&mut s),
        "process-crash" => process_crash(&mut s),
        "bad-deployment" => bad_deployment(&mut s),
        _ => network_partition(&mut s),
    }
    s.noise();
    s.finish()
}

// ---------------------------------------------------------------------------------------------
// Randomness

// ---------------------------------------------------------------------------------------------
// The story of one scenario

/// How a series departs from its baseline during an effect.
#[derive(Clone, Copy)]
enum Shape {
    /// Baseline times this factor, with the usual noise.
    Times(f64),
    /// Uniform in this range (a saturated resource, an error rate).
    Between(f64, f64),
    /// A straight line from the first to the second value over the effect (a leak, a filling disk).
    Ramp(f64, f64),
    /// No samples at all (the process is gone).
    Gone,
}

struct Effect {
    entity: String,
    metric: &'static str,
    from: i64,
    to: i64,
    shape: Shape,
}

struct Series {
    entity: String,
    metric: &'static str,
    base: f64,
    noise: f64,
    decimals: i32,
    ar: f64,
}

/// A shop, the fault, the noise, and the truth being written down as they are made.
struct Story {
    kind: String,
    rng: Rng,
    description: Vec<String>,
    entities: Vec<Entity>,
    relations: Vec<Relation>,
    series: Vec<Series>,
    effects: Vec<Effect>,
    events: Vec<Observation>,
    /// Raw log lines, with the incident (or [`NOISE`]) their signal belongs to.
    logs: Vec<(RawLog, String)>,
    /// The random stream of log texts and times, apart so the story's own draws stay put.
    log_rng: Rng,
    incidents: Vec<IncidentTruth>,
    truth: BTreeMap<String, String>,
    /// Services by tier.
    edge: Vec<String>,
    mid: Vec<String>,
    low: Vec<String>,
    databases: Vec<String>,
    /// Containers (or processes) of each service, and the host of each.
    runtimes: BTreeMap<String, Vec<String>>,
    host_of: BTreeMap<String, String>,
    app_hosts: Vec<String>,
    /// Entities that belong to an incident, so noise and second incidents stay apart.
    busy: BTreeSet<String>,
}

const MID_POOL: [&str; 14] = [
    "checkout",
    "catalog",
    "cart",
    "payments",
    "search",
    "inventory",
    "shipping",
    "pricing",
    "recommendations",
    "accounts",
    "reviews",
    "auth",
    "promotions",
    "media",
];
const LOW_POOL: [&str; 4] = ["reporting", "notifier", "export", "audit-archiver"];
const DB_POOL: [&str; 3] = ["orders", "users", "catalog-db"];

fn at(offset_ms: i64) -> Timestamp {
    Timestamp(T0 + offset_ms)
}

fn id(s: &str) -> EntityId {
    EntityId::new(s)
}

/// FNV-1a over the sorted labels: a stable stand-in for Alertmanager's fingerprint.
fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl Story {
    fn new(kind: &str, seed: u64) -> Story {
        let mut s = Story {
            kind: kind.to_string(),
            rng: Rng(seed),
            description: Vec::new(),
            entities: Vec::new(),
            relations: Vec::new(),
            series: Vec::new(),
            effects: Vec::new(),
            events: Vec::new(),
            logs: Vec::new(),
            log_rng: Rng(seed ^ 0x1065_11e5_0000_0001),
            incidents: Vec::new(),
            truth: BTreeMap::new(),
            edge: Vec::new(),
            mid: Vec::new(),
            low: Vec::new(),
            databases: Vec::new(),
            runtimes: BTreeMap::new(),
            host_of: BTreeMap::new(),
            app_hosts: Vec::new(),
            busy: BTreeSet::new(),
        };
        s.shop();
        s
    }

    fn entity(&mut self, id_: &str, kind: EntityKind, criticality: Criticality) {
        let name = id_.split_once(':').map(|(_, n)| n).unwrap_or(id_).to_string();
        self.entities.push(Entity { name, criticality, ..Entity::new(id(id_), kind) });
    }

    fn relate(&mut self, from: &str, kind: RelationKind, to: &str) {
        let learned_from = if kind == RelationKind::Calls { "service-graph" } else { "kubernetes" };
        self.relations.push(Relation { from: id(from), kind, to: id(to), learned_from: learned_from.into() });
    }

    fn series(&mut self, entity: &str, metric: &'static str, base: f64, noise: f64, decimals: i32) {
        self.series.push(Series { entity: entity.into(), metric, base, noise, decimals, ar: 0.0 });
    }

    /// A generated shop: edge services, mid-tier services calling each other, databases and a
    /// queue on their own hosts, low-criticality batch services; sizes drawn from the seed.
    fn shop(&mut self) {
        let n_hosts = self.rng.int(4, 8);
        for i in 1..=n_hosts {
            let h = format!("host:node-{i}");
            self.entity(&h, EntityKind::Host, Criticality::Normal);
            let base = self.rng.range(0.25, 0.5);

            self.series(&h, "cpu_utilisation", base, 0.05, 4);
            self.app_hosts.push(h);
        }
        for h in ["host:mq-1", "host:batch-1"] {
            self.entity(h, EntityKind::Host, Criticality::Normal);
            self.series(h, "cpu_utilisation", 0.3, 0.05, 4);
        }
        let n_edge = self.rng.int(1, 2) as usize;
        self.edge = ["frontend", "api-gateway"][..n_edge].iter().map(|s| format!("service:{s}")).collect();
        let n_mid = self.rng.int(7, 12) as usize;
        let start = self.rng.int(0, (MID_POOL.len() - 1) as u64) as usize;
        self.mid = (0..n_mid).map(|i| format!("service:{}", MID_POOL[(start + i) % MID_POOL.len()])).collect();
        let n_low = self.rng.int(2, 3) as usize;
        self.low = LOW_POOL[..n_low].iter().map(|s| format!("service:{s}")).collect();
        let n_db = self.rng.int(1, 2) as usize;
        self.databases = DB_POOL[..n_db].iter().map(|s| format!("database:{s}")).collect();

        let services: Vec<(String, Criticality)> = self
            .edge
            .iter()
            .map(|s| (s.clone(), Criticality::High))
            .chain(self.mid.iter().map(|s| (s.clone(), Criticality::Normal)))
            .chain(self.low.iter().map(|s| (s.clone(), Criticality::Low)))
            .collect();
        for (svc, crit) in &services {
            self.entity(svc, EntityKind::Service, *crit);
            let name = svc.trim_start_matches("service:").to_string();
            let latency = self.rng.range(40.0, 400.0);
            let rate = self.rng.range(20.0, 400.0);
            self.series(svc, "latency_p99_ms", latency, 0.04, 1);
            let base = self.rng.range(0.001, 0.004);

            self.series(svc, "error_rate", base, 0.10, 5);
            self.series(svc, "request_rate", rate, 0.03, 2);
            let replicas = if *crit == Criticality::Low { 1 } else { self.rng.int(1, 2) };
            for r in 1..=replicas {
                let c = format!("container:{name}-{r}");
                let host = if *crit == Criticality::Low {
                    "host:batch-1".to_string()
                } else {
                    let hosts = self.app_hosts.clone();
                    self.rng.pick(&hosts).clone()
                };
                self.entity(&c, EntityKind::Container, *crit);
                let base = self.rng.range(0.35, 0.6);

                self.series(&c, "memory_utilisation", base, 0.01, 4);
                self.relate(svc, RelationKind::RunsOn, &c);
                self.relate(&c, RelationKind::RunsOn, &host);
                self.runtimes.entry(svc.clone()).or_default().push(c.clone());
                self.host_of.insert(c, host);
            }
        }
        for (i, db) in self.databases.clone().iter().enumerate() {
            let name = db.trim_start_matches("database:");
            let process = format!("process:postgres-{name}");
            let host = format!("host:db-{}", i + 1);
            self.entity(&host, EntityKind::Host, Criticality::High);
            self.entity(&process, EntityKind::Process, Criticality::High);
            self.entity(db, EntityKind::Database, Criticality::High);
            self.relate(db, RelationKind::RunsOn, &process);
            self.relate(&process, RelationKind::RunsOn, &host);
            let base = self.rng.range(0.2, 0.4);

            self.series(&host, "cpu_utilisation", base, 0.05, 4);
            let base = self.rng.range(0.3, 0.45);

            self.series(&host, "filesystem_free_ratio", base, 0.002, 4);
            let base = self.rng.range(5.0, 20.0);

            self.series(db, "query_latency_ms", base, 0.05, 2);
            self.host_of.insert(process, host);
        }
        self.entity("queue:events", EntityKind::Queue, Criticality::Normal);
        self.entity("process:rabbitmq", EntityKind::Process, Criticality::Normal);
        self.relate("queue:events", RelationKind::RunsOn, "process:rabbitmq");
        self.relate("process:rabbitmq", RelationKind::RunsOn, "host:mq-1");
        self.series("queue:events", "queue_depth", 150.0, 0.08, 0);

        // Calls: every edge service calls a few mid services; mid services call later ones, a
        // database and sometimes the queue; low-criticality services read the queue.
        let mid = self.mid.clone();
        for e in self.edge.clone() {
            let mut called = 0;
            for m in &mid {
                if self.rng.chance(0.45) {
                    self.relate(&e, RelationKind::Calls, m);
                    called += 1;
                }
            }
            if called == 0 {
                self.relate(&e, RelationKind::Calls, &mid[0]);
            }
        }
        for (i, m) in mid.iter().enumerate() {
            for later in &mid[i + 1..] {
                if self.rng.chance(0.18) {
                    self.relate(m, RelationKind::Calls, later);
                }
            }
            if self.rng.chance(0.6) {
                let dbs = self.databases.clone();
                let db = self.rng.pick(&dbs).clone();
                self.relate(m, RelationKind::Calls, &db);
            }
            if self.rng.chance(0.3) {
                self.relate(m, RelationKind::Calls, "queue:events");
            }
        }
        for l in self.low.clone() {
            self.relate(&l, RelationKind::Calls, "queue:events");
        }
    }

    /// Callers of `entity` (what calls it), sorted.
    fn callers(&self, entity: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::Calls && r.to.as_str() == entity)
            .map(|r| r.from.0.clone())
            .collect();
        v.sort();
        v
    }

    /// What runs on `entity`, sorted.
    fn riders(&self, entity: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::RunsOn && r.to.as_str() == entity)
            .map(|r| r.from.0.clone())
            .collect();
        v.sort();
        v
    }

    /// Everything whose trouble `root` explains: up the stack and along the calls, breadth first,
    /// with the hop count; low-criticality services are left out (they only read the queue).
    fn blast(&self, root: &str, max_hops: u32) -> Vec<(String, u32)> {
        let mut seen = BTreeSet::from([root.to_string()]);
        let mut out = vec![(root.to_string(), 0)];
        let mut queue = VecDeque::from([(root.to_string(), 0u32)]);
        while let Some((e, d)) = queue.pop_front() {
            if d >= max_hops {
                continue;
            }
            for next in self.riders(&e).into_iter().chain(self.callers(&e)) {
                if self.low.contains(&next) || !seen.insert(next.clone()) {
                    continue;
                }
                out.push((next.clone(), d + 1));
                queue.push_back((next, d + 1));
            }
        }
        out
    }

    fn label(&mut self, key: String, incident: &str) {
        self.truth.insert(key, incident.to_string());
    }

    fn effect(&mut self, entity: &str, metric: &'static str, from: i64, to: i64, shape: Shape, incident: &str) {
        self.effects.push(Effect { entity: entity.into(), metric, from, to, shape });
        // A series that goes silent belongs to the incident too: whatever the detector makes of
        // the gap and the cold values after it is the incident's doing.
        self.label(format!("anomaly:{entity}:{metric}"), incident);
        // A utilisation the detector watches for saturation may raise that signal too, and the
        // forecast of its climb to the ceiling (as may any metric with a limit).
        if default_saturation().iter().any(|s| s.metric == metric) {
            self.label(format!("saturation:{entity}:{metric}"), incident);
        }
        if DetectConfig::default().forecast_limits().iter().any(|l| l.metric == metric) {
            self.label(format!("forecast:{entity}:{metric}"), incident);
        }
    }

    /// An alert re-sent every minute from `from` to `to`, resolved a minute later.
    #[allow(clippy::too_many_arguments)]
    fn alert(
        &mut self,
        entity: &str,
        name: &str,
        severity: Severity,
        summary: &str,
        from: i64,
        to: i64,
        incident: &str,
    ) {
        self.alert_on(entity, "", name, severity, summary, from, to, incident)
    }

    /// [`Story::alert`] with a `pod` label (empty: none).
    #[allow(clippy::too_many_arguments)]
    fn alert_on(
        &mut self,
        entity: &str,
        pod: &str,
        name: &str,
        severity: Severity,
        summary: &str,
        from: i64,
        to: i64,
        incident: &str,
    ) {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        labels.insert("alertname".into(), name.into());
        labels.insert("entity".into(), entity.into());
        if !pod.is_empty() {
            labels.insert("pod".into(), pod.trim_start_matches("container:").into());
        }
        labels.insert("severity".into(), severity.as_str().into());
        let fp = fingerprint(&labels);
        let obs = |t: i64, state| Observation {
            at: at(t),
            source: "alertmanager".into(),
            kind: ObservationKind::Alert {
                entity: id(entity),
                name: name.into(),
                fingerprint: fp.clone(),
                state,
                severity,
                labels: labels.clone(),
                summary: summary.into(),
            },
        };
        let mut t = from;
        while t <= to {
            self.events.push(obs(t, AlertState::Firing));
            t += MIN;
        }
        self.events.push(obs(to + MIN, AlertState::Resolved));
        self.label(format!("alert:{fp}"), incident);
    }

    /// Error-level lines of one template (`<*>` marks its variable parts), from `from` to `to`:
    /// every minute a burst of 6 to 40 lines. Whether the template is new is the miner's to say
    /// (`_new_template` was the story's word for it when counts were written directly).
    fn logs(&mut self, entity: &str, template: &str, from: i64, to: i64, _new_template: bool, incident: &str) {
        let mut t = from;
        while t <= to {
            let count = self.rng.int(6, 40);
            for _ in 0..count {
                let at_ = t + self.log_rng.int(0, 59_999) as i64;
                let text = format!("ERROR {} trace_id={:016x}", self.fill(template), self.log_rng.next_u64());
                self.logs.push((RawLog::new(at(at_), "loki", id(entity), text), incident.to_string()));
            }
            t += MIN;
        }
    }

    /// A template's text with each `<*>` replaced by a value of the kind its context asks for.
    fn fill(&mut self, template: &str) -> String {
        let parts: Vec<&str> = template.split("<*>").collect();
        let mut out = String::new();
        for (i, part) in parts.iter().enumerate() {
            out.push_str(part);
            if i + 1 == parts.len() {
                break;
            }
            let before = part.trim_end();
            let r = &mut self.log_rng;
            let value = if before.ends_with("after") || before.ends_with("exceeds") {
                r.int(1_000, 30_000).to_string()
            } else if before.ends_with("file") {
                format!("base/16384/{}", r.int(2_600, 99_999))
            } else if before.ends_with(" at") || before.ends_with(" ip") || before.ends_with(" sp") {
                format!("{:012x}", r.next_u64() >> 16)
            } else if before.ends_with(" in") {
                r.pick(&["OrderHandler", "CartHandler", "QuoteHandler", "StockHandler"]).to_string()
            } else {
                format!("Request@{:08x}", r.next_u64() >> 32)
            };
            out.push_str(&value);
        }
        out
    }

    /// Request logs of every service all along: one or two info lines a minute.
    fn background_logs(&mut self) {
        let services: Vec<String> =
            self.entities.iter().filter(|e| e.kind == EntityKind::Service).map(|e| e.id.0.clone()).collect();
        let mut minute = 0;
        while minute * MIN < END {
            for svc in &services {
                let name = svc.trim_start_matches("service:");
                for _ in 0..self.log_rng.int(1, 2) {
                    let r = &mut self.log_rng;
                    let t = minute * MIN + r.int(0, 59_999) as i64;
                    let method = *r.pick(&["GET", "GET", "POST", "PUT"]);
                    let text = format!(
                        "INFO {method} /api/{name}/{} {} {}ms trace_id={:016x}",
                        r.int(1_000, 99_999),
                        if r.chance(0.97) { 200 } else { 404 },
                        r.int(3, 120),
                        r.next_u64()
                    );
                    self.logs.push((RawLog::new(at(t), "loki", id(svc), text), NOISE.to_string()));
                }
            }
            minute += 1;
        }
    }

    /// The log lines in time order, after labelling the signal of each error template with its
    /// incident: the miner the scenario reader runs, over the same lines in the same order,
    /// gives the template ids the engine's signal keys carry.
    fn mined_logs(&mut self) -> Vec<RawLog> {
        self.background_logs();
        let mut logs = std::mem::take(&mut self.logs);
        logs.sort_by_key(|(l, _)| l.at);
        let mut miners: BTreeMap<String, LogPatterns> = BTreeMap::new();
        let mut reported = Vec::new();
        for (line, incident) in &logs {
            let miner =
                miners.entry(line.source.clone()).or_insert_with(|| LogPatterns::new(LogPatternConfig::default()));
            let parsed = miner.line(&line.entity, &line.line, line.at, &mut reported);
            if incident != NOISE {
                self.label(format!("log:{}:{}", line.entity, parsed.id), incident);
            }
        }
        logs.into_iter().map(|(l, _)| l).collect()
    }

    fn change(&mut self, t: i64, source: &str, entity: &str, change: ChangeKind, description: &str) {
        self.events.push(Observation {
            at: at(t),
            source: source.into(),
            kind: ObservationKind::Change { entity: id(entity), change, description: description.into() },
        });
    }

    fn incident(&mut self, name: &str, root: &str, foundational: Option<(&str, ChangeKind)>) {
        self.incidents.push(IncidentTruth {
            id: name.into(),
            root_cause: id(root),
            foundational_entity: foundational.map(|(e, _)| id(e)),
            foundational_change: foundational.map(|(_, c)| c),
        });
    }

    /// Services (and callers) in trouble because of something below them, from `onset`: each
    /// reacts one hop later than the one it depends on, with slower responses, more errors,
    /// alerts and a log template naming what it waits for.
    fn ripple(&mut self, incident: &str, root: &str, skip: &[String], onset: i64, end: i64, errors: bool) {
        let blast = self.blast(root, 5);
        for (e, hops) in blast {
            self.busy.insert(e.clone());
            if skip.contains(&e) || !e.starts_with("service:") {
                continue;
            }
            let from = onset + hops as i64 * 30 * SEC;
            let to = end + self.rng.int(0, 2) as i64 * 30 * SEC;
            let slow = self.rng.range(3.0, 6.0);
            self.effect(&e, "latency_p99_ms", from, to, Shape::Times(slow), incident);
            let name = e.trim_start_matches("service:").to_string();
            // Alert rules are per pod, as most Kubernetes rule sets write them.
            let pods = self.runtimes.get(&e).cloned().unwrap_or_default();
            if errors || hops >= 2 {
                let lo = self.rng.range(0.03, 0.08);
                self.effect(&e, "error_rate", from + MIN, to, Shape::Between(lo, lo * 1.6), incident);
                for pod in &pods {
                    let summary = format!("More than 2% of {name} requests fail on {pod}");
                    self.alert_on(&e, pod, "HighErrorRate", Severity::Major, &summary, from + 2 * MIN, to, incident);
                }
            }
            for pod in &pods {
                let summary = format!("p99 latency of {name} above its SLO for 1m on {pod}");
                self.alert_on(&e, pod, "HighLatency", Severity::Warning, &summary, from + MIN, to, incident);
            }
            // What the service waits for: the first dependency on the path to the root.
            let dep = self.waits_for(&e, root);
            let template = format!("request to {dep} failed after <*> ms: deadline exceeded");
            self.logs(&e, &template, from + 30 * SEC, to, false, incident);
        }
    }

    /// The dependency of `e` through which `root`'s trouble reaches it (for log texts).
    fn waits_for(&self, e: &str, root: &str) -> String {
        let deps: Vec<&Relation> = self.relations.iter().filter(|r| r.from.as_str() == e).collect();
        for r in &deps {
            if self.blast(root, 5).iter().any(|(x, _)| x == r.to.as_str()) {
                return r.to.as_str().split_once(':').map(|(_, n)| n.to_string()).unwrap_or_default();
            }
        }
        root.to_string()
    }

    /// Onset and end of the main incident, drawn per scenario.
    fn window(&mut self) -> (i64, i64) {
        let onset = self.rng.int(24, 34) as i64 * MIN;
        let length = self.rng.int(20, 28) as i64 * MIN;
        (onset, (onset + length).min(END - 8 * MIN))
    }

    /// A mid service whose blast radius is disjoint from every incident so far, for a second,
    /// unrelated incident; `None` when the shop has none.
    fn independent_service(&mut self) -> Option<String> {
        let candidates: Vec<String> = self
            .mid
            .iter()
            .filter(|m| {
                let blast = self.blast(m, 5);
                blast.iter().all(|(e, _)| !self.busy.contains(e))
                    && self.relations.iter().all(|r| {
                        !(r.from.as_str() == m.as_str() && self.busy.contains(r.to.as_str())
                            || r.to.as_str() == m.as_str() && self.busy.contains(r.from.as_str()))
                    })
            })
            .cloned()
            .collect();
        (!candidates.is_empty()).then(|| self.rng.pick(&candidates).clone())
    }

    /// A second incident: a bad config push on an unrelated service, with its error burst.
    fn second_incident(&mut self) {
        let Some(svc) = self.independent_service() else {
            self.description.push("(no service independent of the main incident for a second one)".into());
            return;
        };
        let onset = self.rng.int(30, 40) as i64 * MIN;
        let end = onset + self.rng.int(10, 16) as i64 * MIN;
        let name = svc.trim_start_matches("service:").to_string();
        self.change(
            onset - 2 * MIN,
            "consul",
            &svc,
            ChangeKind::ConfigChange,
            &format!("{name}: feature flag bulk_mode on"),
        );
        self.incident("second", &svc, Some((&svc, ChangeKind::ConfigChange)));
        let template = format!("{name}: bulk request rejected: payload exceeds <*> bytes");
        self.logs(&svc, &template, onset, end, true, "second");
        self.effect(&svc, "error_rate", onset, end, Shape::Between(0.06, 0.1), "second");
        let summary = format!("More than 2% of {name} requests fail");
        self.alert(&svc, "HighErrorRate", Severity::Major, &summary, onset + MIN, end, "second");
        self.ripple("second", &svc, std::slice::from_ref(&svc), onset + MIN, end, true);
        self.description.push(format!(
            "A second, unrelated incident: a config change on {svc} at T0+{}m, errors until T0+{}m.",
            (onset - 2 * MIN) / MIN,
            end / MIN
        ));
    }

    /// Chronic flapping alerts on hosts and short blips on low-criticality services.
    fn noise(&mut self) {
        let flapping = self.rng.int(1, 2);
        let mut hosts = self.app_hosts.clone();
        hosts.push("host:mq-1".into());
        for (i, (name, summary)) in
            [("HostSwapping", "swap in use above 10%"), ("ClockSkew", "NTP offset above 50 ms")].iter().enumerate()
        {
            if i as u64 >= flapping {
                break;
            }
            let host = self.rng.pick(&hosts).clone();
            let period = self.rng.int(6, 10) as i64 * MIN;
            let firing = self.rng.int(2, 3) as i64 * MIN;
            let mut start = self.rng.int(1, 4) as i64 * MIN;
            while start + firing + MIN <= END {
                self.alert(&host, name, Severity::Warning, summary, start, start + firing - MIN, NOISE);
                start += period;
            }
            self.description.push(format!("Noise: {name} flaps on {host} all along."));
        }
        for l in self.low.clone() {
            for _ in 0..self.rng.int(1, 2) {
                let from = self.rng.int(8, 60) as i64 * MIN;
                let to = from + self.rng.int(2, 4) as i64 * MIN;
                let name = l.trim_start_matches("service:").to_string();
                self.effect(&l, "latency_p99_ms", from, to, Shape::Times(4.0), NOISE);
                let summary = format!("{name} job slower than usual");
                self.alert(&l, "JobSlow", Severity::Warning, &summary, from + MIN, to, NOISE);
            }
            self.description.push(format!("Noise: blips on the low-criticality {l}."));
        }
    }

    fn finish(mut self) -> (ScenarioHeader, Vec<Observation>, Vec<RawLog>) {
        let logs = self.mined_logs();
        let mut observations = Vec::new();
        for e in &self.entities {
            observations.push(Observation {
                at: at(0),
                source: "topology".into(),
                kind: ObservationKind::Entity { entity: e.clone() },
            });
        }
        for r in &self.relations {
            observations.push(Observation {
                at: at(0),
                source: "topology".into(),
                kind: ObservationKind::Relation { relation: r.clone() },
            });
        }
        let mut t = 0;
        while t <= END {
            for s in &mut self.series {
                s.ar = 0.6 * s.ar + 0.8 * s.noise * self.rng.normal();
                let effect = self
                    .effects
                    .iter()
                    .find(|e| e.entity == s.entity && e.metric == s.metric && t >= e.from && t <= e.to);
                let value = match effect.map(|e| (e.shape, e.from, e.to)) {
                    None => s.base * (1.0 + s.ar),
                    Some((Shape::Times(f), _, _)) => s.base * f * (1.0 + s.ar),
                    Some((Shape::Between(lo, hi), _, _)) => self.rng.range(lo, hi),
                    Some((Shape::Ramp(a, b), from, to)) => {
                        let x = (t - from) as f64 / (to - from).max(1) as f64;
                        (a + (b - a) * x) * (1.0 + s.ar / 4.0)
                    }
                    Some((Shape::Gone, _, _)) => continue,
                };
                let value =
                    if s.metric.ends_with("utilisation") || s.metric.ends_with("ratio") || s.metric == "error_rate" {
                        value.clamp(0.0, 1.0)
                    } else {
                        value.max(0.0)
                    };
                let scale = 10f64.powi(s.decimals);
                observations.push(Observation {
                    at: at(t),
                    source: "prometheus".into(),
                    kind: ObservationKind::Metric {
                        entity: id(&s.entity),
                        metric: s.metric.into(),
                        samples: vec![(at(t), (value * scale).round() / scale)],
                    },
                });
            }
            t += STEP;
        }
        observations.extend(self.events);
        // Stable: at equal times, topology first, then metrics, then events in push order.
        observations.sort_by_key(|o| o.at);
        let mut header = ScenarioHeader::new(self.kind.clone());
        header.description = self.description.join(" ");
        header.truth = Some(Truth { incidents: self.incidents, signals: self.truth });
        (header, observations, logs)
    }
}

// ---------------------------------------------------------------------------------------------
// The six faults

fn cpu_saturation(s: &mut Story) {
    let (onset, end) = s.window();
    // The busiest application host: the one most containers run on.
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for h in s.host_of.values() {
        *load.entry(h.clone()).or_default() += 1;
    }
    let host = s
        .app_hosts
        .iter()
        .max_by_key(|h| (load.get(*h).copied().unwrap_or(0), std::cmp::Reverse((*h).clone())))
        .cloned()
        .unwrap_or_default();
    let batch = s.rng.int(3, 9);
    s.change(
        onset - batch as i64 * MIN,
        "cron",
        &host,
        ChangeKind::ConfigChange,
        "cron: nightly re-index moved to 09:00 on this host",
    );
    s.incident("cpu", &host, Some((&host, ChangeKind::ConfigChange)));
    s.effect(&host, "cpu_utilisation", onset, end, Shape::Between(0.95, 0.995), "cpu");
    s.alert(&host, "HostCpuSaturation", Severity::Critical, "CPU above 90% for 1m", onset + MIN, end, "cpu");
    for c in s.riders(&host) {
        s.busy.insert(c.clone());
    }
    s.ripple("cpu", &host, &[], onset + 30 * SEC, end, false);
    s.description.push(format!(
        "CPU saturation: a re-index job moved onto {host} at T0+{}m saturates its CPU from T0+{}m to T0+{}m; \
         the services running there slow down and their callers fail.",
        (onset - batch as i64 * MIN) / MIN,
        onset / MIN,
        end / MIN
    ));
    s.second_incident();
}

fn memory_leak(s: &mut Story) {
    let (onset, end) = s.window();
    let mid = s.mid.clone();
    let svc = s.rng.pick(&mid[..mid.len() / 2 + 1]).clone();
    let container = s.runtimes[&svc][0].clone();
    let name = svc.trim_start_matches("service:").to_string();
    // The leak starts with a rollout well before it shows; memory climbs to the limit, the
    // container is OOM-killed and restarted, and climbs again.
    let deploy = onset - s.rng.int(12, 20) as i64 * MIN;
    let minor = s.rng.int(2, 9);
    s.change(deploy, "argocd", &container, ChangeKind::Deployment, &format!("{name} image v5.{minor} rolled out"));
    s.incident("leak", &container, Some((&container, ChangeKind::Deployment)));
    let oom = onset + (end - onset) / 2;
    s.effect(&container, "memory_utilisation", deploy, oom, Shape::Ramp(0.5, 0.99), "leak");
    s.effect(&container, "memory_utilisation", oom + 30 * SEC, end, Shape::Ramp(0.55, 0.9), "leak");
    s.alert(
        &container,
        "ContainerMemoryNearLimit",
        Severity::Warning,
        "memory above 90% of the limit",
        oom - 5 * MIN,
        oom,
        "leak",
    );
    s.alert(
        &container,
        "ContainerOOMKilled",
        Severity::Critical,
        "container OOM-killed and restarted",
        oom,
        oom + 4 * MIN,
        "leak",
    );
    s.change(oom + 30 * SEC, "kubernetes", &container, ChangeKind::Restart, "restarted after OOMKilled (exit 137)");
    s.logs(&container, "java.lang.OutOfMemoryError: Java heap space", oom - 2 * MIN, oom, true, "leak");
    s.busy.insert(container.clone());
    // GC pauses slow the service from the onset; it fails hard around the OOM kill.
    s.ripple("leak", &svc, &[], onset, end, true);
    s.description.push(format!(
        "Memory leak: {name} v5 rolled out on {container} at T0+{}m leaks; memory climbs, GC pauses slow {svc} and \
         its callers from T0+{}m, the container is OOM-killed at T0+{}m and restarts, still leaking.",
        deploy / MIN,
        onset / MIN,
        oom / MIN
    ));
    if s.rng.chance(0.5) {
        s.second_incident();
    }
}

fn disk_full(s: &mut Story) {
    let (onset, end) = s.window();
    let db = s.databases[0].clone();
    let host = "host:db-1".to_string();
    let process = s.riders(&host)[0].clone();
    // The disk drains from the start of the story and runs out at onset.
    let filling = 6 * MIN;
    s.incident("disk", &host, None);
    s.effect(&host, "filesystem_free_ratio", filling, onset, Shape::Ramp(0.3, 0.0), "disk");
    s.effect(&host, "filesystem_free_ratio", onset, end, Shape::Between(0.0, 0.002), "disk");
    s.label(format!("forecast:{host}:filesystem_free_ratio"), "disk");
    s.alert(
        &host,
        "DiskWillFillIn4Hours",
        Severity::Warning,
        "/var/lib/postgresql fills up within 4 h",
        filling + 10 * MIN,
        onset,
        "disk",
    );
    s.alert(&host, "DiskFull", Severity::Critical, "/var/lib/postgresql has no space left", onset, end, "disk");
    s.logs(&process, "could not extend file <*>: No space left on device", onset, end, true, "disk");
    s.effect(&db, "query_latency_ms", onset, end, Shape::Times(4.0), "disk");
    let name = db.trim_start_matches("database:").to_string();
    s.alert(
        &db,
        "PostgresWriteFailures",
        Severity::Critical,
        &format!("writes to {name} fail"),
        onset + MIN,
        end,
        "disk",
    );
    s.busy.insert(process.clone());
    s.ripple("disk", &db, std::slice::from_ref(&db), onset + 30 * SEC, end, true);
    s.description.push(format!(
        "Full disk: {host}'s data volume drains from T0+6m and is full at T0+{}m; postgres cannot extend files, \
         {db} writes fail until T0+{}m and its callers fail.",
        onset / MIN,
        end / MIN
    ));
}

fn process_crash(s: &mut Story) {
    let (onset, end) = s.window();
    // A legacy daemon: the service runs as a plain process on an application host.
    let mid = s.mid.clone();
    let callers_of = |s: &Story, m: &String| s.callers(m).len();
    let svc =
        mid.iter().max_by_key(|m| (callers_of(s, m), std::cmp::Reverse((*m).clone()))).cloned().unwrap_or_default();
    let name = svc.trim_start_matches("service:").to_string();
    let process = format!("process:{name}d");
    let host = s.host_of[&s.runtimes[&svc][0]].clone();
    s.entity(&process, EntityKind::Process, Criticality::Normal);
    s.relate(&process, RelationKind::RunsOn, &host);
    // The service's containers are replaced by the process in this shop.
    let containers = s.runtimes.remove(&svc).unwrap_or_default();
    s.relations.retain(|r| !(r.from.as_str() == svc && r.kind == RelationKind::RunsOn));
    s.relations.retain(|r| !containers.iter().any(|c| r.from.as_str() == c));
    s.entities.retain(|e| !containers.iter().any(|c| e.id.as_str() == c));
    s.series.retain(|x| !containers.contains(&x.entity));
    s.relate(&svc, RelationKind::RunsOn, &process);
    s.series(&process, "memory_utilisation", 0.42, 0.01, 4);
    s.incident("crash", &process, None);
    s.effect(&process, "memory_utilisation", onset, end, Shape::Gone, "crash");
    s.effect(&svc, "latency_p99_ms", onset, end, Shape::Gone, "crash");
    s.effect(&svc, "error_rate", onset, end, Shape::Gone, "crash");
    s.effect(&svc, "request_rate", onset, end, Shape::Gone, "crash");
    s.alert(
        &process,
        "ProcessNotRunning",
        Severity::Critical,
        &format!("{name}d is not running"),
        onset + MIN,
        end,
        "crash",
    );
    s.alert(&svc, "TargetDown", Severity::Major, &format!("{name} scrape target down"), onset + MIN, end, "crash");
    s.logs(&process, "segfault at <*> ip <*> sp <*> error 4 in libc.so.6", onset, onset, true, "crash");
    s.busy.insert(process.clone());
    let callers: Vec<String> = s.callers(&svc);
    for c in &callers {
        let template = format!("dial tcp <*>: connect: connection refused ({name})");
        s.logs(c, &template, onset + 30 * SEC, end, true, "crash");
    }
    s.ripple("crash", &svc, std::slice::from_ref(&svc), onset + 30 * SEC, end, true);
    s.change(end - 30 * SEC, "systemd", &process, ChangeKind::Restart, &format!("{name}d restarted by the operator"));
    s.description.push(format!(
        "Crashed process: {process} (serving {svc}, on {host}) segfaults at T0+{}m and stays down until T0+{}m; \
         its metrics stop, its callers get connection refused and fail.",
        onset / MIN,
        end / MIN
    ));
    s.second_incident();
}

fn bad_deployment(s: &mut Story) {
    let (onset, end) = s.window();
    let mid = s.mid.clone();
    let svc = s.rng.pick(&mid).clone();
    let name = svc.trim_start_matches("service:").to_string();
    let version = format!("v{}.{}.0", s.rng.int(2, 9), s.rng.int(0, 30));
    s.change(onset - MIN, "argocd", &svc, ChangeKind::Deployment, &format!("{name} {version} rolled out"));
    s.incident("deploy", &svc, Some((&svc, ChangeKind::Deployment)));
    s.logs(&svc, "NullPointerException in <*>.handle(<*>)", onset, end, true, "deploy");
    s.effect(&svc, "error_rate", onset, end, Shape::Between(0.2, 0.35), "deploy");
    s.alert(
        &svc,
        "HighErrorRate",
        Severity::Critical,
        &format!("More than 2% of {name} requests fail"),
        onset + MIN,
        end,
        "deploy",
    );
    s.ripple("deploy", &svc, std::slice::from_ref(&svc), onset + 30 * SEC, end, true);
    s.change(end, "argocd", &svc, ChangeKind::Deployment, &format!("{name} rolled back"));
    s.description.push(format!(
        "Bad deployment: {name} {version} at T0+{}m throws on every request until the rollback at T0+{}m; \
         its callers fail with it.",
        (onset - MIN) / MIN,
        end / MIN
    ));
    s.second_incident();
}

fn network_partition(s: &mut Story) {
    let (onset, end) = s.window();
    // A call between two mid services, or from an edge service to a mid one.
    let calls: Vec<(String, String)> = s
        .relations
        .iter()
        .filter(|r| r.kind == RelationKind::Calls && r.to.as_str().starts_with("service:"))
        .map(|r| (r.from.0.clone(), r.to.0.clone()))
        .collect();
    // Prefer a caller that has callers of its own: a partition deep in the call graph.
    let deep: Vec<(String, String)> = calls.iter().filter(|(a, _)| !s.callers(a).is_empty()).cloned().collect();
    let calls = if deep.is_empty() { calls } else { deep };
    let (caller, callee) = s.rng.pick(&calls).clone();
    let cname = caller.trim_start_matches("service:").to_string();
    let ename = callee.trim_start_matches("service:").to_string();
    s.change(
        onset - 2 * MIN,
        "kubectl",
        &caller,
        ChangeKind::ConfigChange,
        &format!("NetworkPolicy {cname}-egress updated"),
    );
    // The caller is where the fault shows and where the change was made; the callee is healthy.
    s.incident("partition", &caller, Some((&caller, ChangeKind::ConfigChange)));
    s.busy.insert(callee.clone());
    let template = format!("call to {ename} timed out after <*> ms (connect timeout)");
    s.logs(&caller, &template, onset, end, true, "partition");
    s.effect(&caller, "error_rate", onset + 30 * SEC, end, Shape::Between(0.1, 0.2), "partition");
    s.effect(&caller, "latency_p99_ms", onset, end, Shape::Times(8.0), "partition");
    s.alert(
        &caller,
        "UpstreamTimeouts",
        Severity::Major,
        &format!("{cname} times out calling {ename}"),
        onset + MIN,
        end,
        "partition",
    );
    s.ripple("partition", &caller, std::slice::from_ref(&caller), onset + 30 * SEC, end, true);
    s.description.push(format!(
        "Network partition: a NetworkPolicy change at T0+{}m cuts {caller} off from {callee} until T0+{}m; the \
         caller times out and its callers fail, {callee} itself stays healthy.",
        (onset - 2 * MIN) / MIN,
        end / MIN
    ));
    if s.rng.chance(0.5) {
        s.second_incident();
    }
}

// ---------------------------------------------------------------------------------------------
// The hard set: root cause under chronic noise and overlapping incidents (issue 13, point 4)

/// Where the hard scenarios go without an argument.
pub const HARD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/hard");

/// The hard scenario kinds, in file-name form.
pub const HARD_KINDS: [&str; 5] =
    ["overlapping-faults", "chronic-neighbour", "high-traffic-noise", "log-only-fault", "fault-sequence"];

/// Seeds of the shipped hard set: each kind on three shops.
pub const HARD_SEEDS: [u64; 3] = [0, 1, 2];

/// Writes every hard kind for `seeds` into `dir`, as `<kind>-<seed>.jsonl`.
pub fn write_hard(dir: &std::path::Path, seeds: &[u64]) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    for seed in seeds {
        for kind in HARD_KINDS {
            let bytes = render_hard(kind, *seed)?;
            let path = dir.join(format!("{kind}-{seed}.jsonl"));
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
        }
    }
    Ok(())
}

/// One hard scenario file's bytes.
pub fn render_hard(kind: &str, seed: u64) -> std::io::Result<Vec<u8>> {
    let (header, observations, logs) = hard_scenario(kind, seed);
    let mut out = format!(
        "# faultline hard fault scenario: {kind}, seed {seed}\n\
         # Generated by `cargo run --example make_fault_scenarios -- --hard`: change the generator, not this file.\n"
    )
    .into_bytes();
    fixture::write_with_logs(&header, &observations, &logs, &mut out)?;
    Ok(out)
}

/// The header (with its ground truth), the observations and the raw log lines of one hard scenario.
pub fn hard_scenario(kind: &str, seed: u64) -> (ScenarioHeader, Vec<Observation>, Vec<RawLog>) {
    let index = HARD_KINDS.iter().position(|k| *k == kind).expect("a known hard scenario kind") as u64;
    let name = format!("{kind}-{seed}");
    let mut s = Story::new(&name, 0x4a2d_c0de_0000 + index * 0x1_0001 + seed.wrapping_mul(0x9e37_79b9));
    match kind {
        "overlapping-faults" => overlapping_faults(&mut s),
        "chronic-neighbour" => chronic_neighbour(&mut s),
        "high-traffic-noise" => high_traffic_noise(&mut s),
        "fault-sequence" => fault_sequence(&mut s),
        _ => log_only_fault(&mut s),
    }
    s.noise();
    s.finish()
}

impl Story {
    /// A mid service outside `exclude` whose blast radius shares nothing with the incidents so
    /// far; else the one sharing least (the shared entities are then left to the first incident).
    fn free_service(&mut self, exclude: &BTreeSet<String>) -> Option<(String, Vec<String>)> {
        let mut best: Option<(usize, String, Vec<String>)> = None;
        let mid = self.mid.clone();
        let mut candidates = Vec::new();
        for m in mid.iter().filter(|m| !exclude.contains(*m) && !self.busy.contains(*m)) {
            let shared: Vec<String> =
                self.blast(m, 5).into_iter().map(|(e, _)| e).filter(|e| self.busy.contains(e)).collect();
            if shared.is_empty() {
                candidates.push(m.clone());
            } else if best.as_ref().is_none_or(|(n, _, _)| shared.len() < *n) {
                best = Some((shared.len(), m.clone(), shared));
            }
        }
        if !candidates.is_empty() {
            return Some((self.rng.pick(&candidates).clone(), Vec::new()));
        }
        best.map(|(_, m, shared)| (m, shared))
    }

    /// A container's CPU series at a fraction of a percent, as an idle pod's is.
    fn pod_cpu(&mut self, container: &str) {
        let base = self.rng.range(0.003, 0.006);
        self.series(container, "cpu_utilisation", base, 0.1, 4);
    }

    /// A sharp CPU anomaly on one pod of `svc` (82% against 0.4%), slowing the service and its
    /// callers: the fault of the microservice benchmark's "CPU hog".
    fn pod_cpu_hog(&mut self, incident: &str, svc: &str, skip: &[String], onset: i64, end: i64) -> String {
        let container = self.runtimes[svc][0].clone();
        self.pod_cpu(&container);
        self.incident(incident, &container, None);
        self.effect(&container, "cpu_utilisation", onset, end, Shape::Between(0.8, 0.86), incident);
        self.busy.insert(container.clone());
        self.ripple(incident, &container, skip, onset + 30 * SEC, end, false);
        container
    }

    /// A bad deployment of `svc`: a change a minute before, an error burst, errors up the calls.
    fn deployment_fault(&mut self, incident: &str, svc: &str, skip: &[String], onset: i64, end: i64) {
        let name = svc.trim_start_matches("service:").to_string();
        let version = format!("v{}.{}.1", self.rng.int(2, 9), self.rng.int(0, 30));
        self.change(onset - MIN, "argocd", svc, ChangeKind::Deployment, &format!("{name} {version} rolled out"));
        self.incident(incident, svc, Some((svc, ChangeKind::Deployment)));
        let burst = ("IllegalStateException in <*>.serialize(<*>)", (0.15, 0.3));
        self.errors_up_the_calls(incident, svc, burst, skip, onset, end);
    }

    /// An exception thrown in `svc`'s code (no change behind it): an error-log burst of a new
    /// template, its error rate up, errors up the calls.
    fn exception_fault(&mut self, incident: &str, svc: &str, skip: &[String], onset: i64, end: i64) {
        let name = svc.trim_start_matches("service:").to_string();
        self.incident(incident, svc, None);
        let template = format!("{name}: NullPointerException in <*>.process(<*>)");
        self.errors_up_the_calls(incident, svc, (&template, (0.1, 0.25)), skip, onset, end);
    }

    /// What failing code does to `svc` from `onset` to `end`: error lines of `template`, its
    /// error rate within `rate`, a critical alert, and errors rippling up the calls.
    fn errors_up_the_calls(
        &mut self,
        incident: &str,
        svc: &str,
        (template, (lo, hi)): (&str, (f64, f64)),
        skip: &[String],
        onset: i64,
        end: i64,
    ) {
        let name = svc.trim_start_matches("service:").to_string();
        self.logs(svc, template, onset, end, true, incident);
        self.effect(svc, "error_rate", onset, end, Shape::Between(lo, hi), incident);
        let summary = format!("More than 2% of {name} requests fail");
        self.alert(svc, "HighErrorRate", Severity::Critical, &summary, onset + MIN, end, incident);
        let mut skip = skip.to_vec();
        skip.push(svc.to_string());
        self.ripple(incident, svc, &skip, onset + 30 * SEC, end, true);
    }

    /// A network delay on `svc` (netem on its pods): its own latency many times its usual, its
    /// callers slower after it; no errors, no logs of its own.
    fn delay_fault(&mut self, incident: &str, svc: &str, skip: &[String], onset: i64, end: i64) {
        let name = svc.trim_start_matches("service:").to_string();
        self.incident(incident, svc, None);
        let factor = self.rng.range(8.0, 14.0);
        self.effect(svc, "latency_p99_ms", onset, end, Shape::Times(factor), incident);
        for pod in self.runtimes.get(svc).cloned().unwrap_or_default() {
            let summary = format!("p99 latency of {name} above its SLO for 1m on {pod}");
            self.alert_on(svc, &pod, "HighLatency", Severity::Warning, &summary, onset + MIN, end, incident);
        }
        let mut skip = skip.to_vec();
        skip.push(svc.to_string());
        self.ripple(incident, svc, &skip, onset + 30 * SEC, end, false);
    }

    /// A wrong return value from `svc`: it answers fast and without errors of its own, but logs
    /// what it got wrong (a warning-level template), and its callers fail on the replies: their
    /// error rates, alerts and error logs naming it. Nothing slows down.
    fn wrong_return_fault(&mut self, incident: &str, svc: &str, skip: &[String], onset: i64, end: i64) {
        let name = svc.trim_start_matches("service:").to_string();
        self.incident(incident, svc, None);
        let template = format!("{name}: inconsistent state for <*>, returning default");
        self.logs(svc, &template, onset, end, true, incident);
        self.busy.insert(svc.to_string());
        for caller in self.callers(svc) {
            if skip.contains(&caller) || self.low.contains(&caller) || !caller.starts_with("service:") {
                continue;
            }
            self.busy.insert(caller.clone());
            let from = onset + 30 * SEC;
            let to = end + self.rng.int(0, 2) as i64 * 30 * SEC;
            let lo = self.rng.range(0.05, 0.12);
            self.effect(&caller, "error_rate", from, to, Shape::Between(lo, lo * 1.6), incident);
            let caller_name = caller.trim_start_matches("service:").to_string();
            for pod in self.runtimes.get(&caller).cloned().unwrap_or_default() {
                let summary = format!("More than 2% of {caller_name} requests fail on {pod}");
                self.alert_on(&caller, &pod, "HighErrorRate", Severity::Major, &summary, from + MIN, to, incident);
            }
            let template = format!("unexpected reply from {name}: cannot map <*>");
            self.logs(&caller, &template, from, to, false, incident);
        }
    }

    /// Short latency spikes on `entity`'s `metric` every `period` (jittered) from `from` to the
    /// end, each with its alert: noise that keeps whatever it joins busy.
    #[allow(clippy::too_many_arguments)]
    fn spikes(&mut self, entity: &str, metric: &'static str, alert: &str, from: i64, period: i64, factor: f64) {
        let mut t = from;
        while t + 3 * MIN <= END {
            let length = self.rng.int(1, 2) as i64 * MIN;
            self.effect(entity, metric, t, t + length, Shape::Times(factor), NOISE);
            let summary = format!("{metric} of {entity} above its SLO");
            self.alert(entity, alert, Severity::Warning, &summary, t + MIN, t + length, NOISE);
            t += period + self.rng.int(0, 4) as i64 * MIN;
        }
    }
}

/// Two or three faults minutes apart on different parts of the shop, while recurring latency
/// spikes on a database and its callers keep a long-lived problem open from the start.
fn overlapping_faults(s: &mut Story) {
    let db = s.databases[0].clone();
    let mut spikers = vec![db.clone()];
    spikers.extend(s.callers(&db).into_iter().filter(|c| s.mid.contains(c)).take(3));
    // Staggered so that some entity spikes every few minutes; each one rarely enough (about
    // twice an hour) that no single signal flaps.
    for (i, e) in spikers.clone().iter().enumerate() {
        let from = 3 * MIN + i as i64 * 6 * MIN + s.rng.int(0, 3) as i64 * MIN;
        let metric = if e.starts_with("database:") { "query_latency_ms" } else { "latency_p99_ms" };
        s.spikes(e, metric, "LatencySpike", from, 31 * MIN, 4.0);
    }
    let exclude: BTreeSet<String> = spikers.iter().cloned().collect();
    for e in &spikers {
        s.busy.insert(e.clone());
    }
    s.description
        .push(format!("Recurring latency spikes on {} from T0+3m to the end keep a problem open.", spikers.join(", ")));
    let first = s.rng.int(30, 36) as i64 * MIN;
    let Some((svc, shared)) = s.free_service(&exclude) else { return };
    let end = first + s.rng.int(16, 22) as i64 * MIN;
    let pod = s.pod_cpu_hog("cpu-hog", &svc, &shared, first, end);
    s.description.push(format!("A CPU hog on {pod} ({svc}) from T0+{}m to T0+{}m.", first / MIN, end / MIN));
    let second = first + s.rng.int(3, 7) as i64 * MIN;
    let Some((svc, shared)) = s.free_service(&exclude) else { return };
    let end = second + s.rng.int(14, 20) as i64 * MIN;
    s.deployment_fault("deploy", &svc, &shared, second, end);
    s.description.push(format!("A bad deployment of {svc} at T0+{}m, errors to T0+{}m.", second / MIN, end / MIN));
    if s.rng.chance(0.5) {
        let third = second + s.rng.int(3, 6) as i64 * MIN;
        if let Some((svc, shared)) = s.free_service(&exclude) {
            let end = (third + s.rng.int(12, 16) as i64 * MIN).min(END - 4 * MIN);
            let pod = s.pod_cpu_hog("cpu-hog-2", &svc, &shared, third, end);
            s.description.push(format!(
                "A second CPU hog on {pod} ({svc}) from T0+{}m to T0+{}m.",
                third / MIN,
                end / MIN
            ));
        }
    }
}

/// A chronic noisy neighbour: a database slow and alerting from before the fault to after it
/// (its callers as healthy as ever before the fault), beside a bad deployment of one of them.
fn chronic_neighbour(s: &mut Story) {
    let db = s.databases[s.rng.int(0, s.databases.len() as u64 - 1) as usize].clone();
    let name = db.trim_start_matches("database:").to_string();
    s.effect(&db, "query_latency_ms", 2 * MIN, END, Shape::Times(2.5), NOISE);
    s.alert(&db, "PostgresSlowQueries", Severity::Warning, &format!("slow queries on {name}"), 3 * MIN, END, NOISE);
    s.logs(&db, "canceling statement due to statement timeout", 3 * MIN, END, false, NOISE);
    s.busy.insert(db.clone());
    s.description.push(format!("Chronic: {db} is slow, alerting and logging timeouts from T0+2m to the end."));
    // The fault: preferably a service that calls the chronic database, so the database sits
    // below it and is the tempting explanation.
    let callers: Vec<String> = s.callers(&db).into_iter().filter(|c| s.mid.contains(c)).collect();
    let svc = if callers.is_empty() {
        let mid = s.mid.clone();
        s.rng.pick(&mid).clone()
    } else {
        s.rng.pick(&callers).clone()
    };
    let (onset, end) = s.window();
    s.deployment_fault("deploy", &svc, &[], onset, end);
    s.description.push(format!("A bad deployment of {svc} at T0+{}m, errors to T0+{}m.", onset / MIN, end / MIN));
}

/// High traffic: most services and pods have short anomalies all along (dozens of would-be
/// problems in the normal period), then one pod's CPU hog.
fn high_traffic_noise(s: &mut Story) {
    let (onset, end) = s.window();
    let mid = s.mid.clone();
    let svc = s.rng.pick(&mid).clone();
    let pod = s.pod_cpu_hog("cpu-hog", &svc, &[], onset, end);
    s.description.push(format!("A CPU hog on {pod} ({svc}) from T0+{}m to T0+{}m.", onset / MIN, end / MIN));
    // Every other service and every other pod: two to four short anomalies each, at random.
    let services: Vec<String> = s.edge.iter().chain(s.mid.iter()).filter(|e| !s.busy.contains(*e)).cloned().collect();
    for e in &services {
        for _ in 0..s.rng.int(2, 4) {
            let from = s.rng.int(3, 70) as i64 * MIN;
            let metric = if s.rng.chance(0.6) { "latency_p99_ms" } else { "error_rate" };
            let shape = if metric == "error_rate" { Shape::Between(0.02, 0.05) } else { Shape::Times(3.5) };
            let to = from + s.rng.int(1, 2) as i64 * MIN;
            s.effect(e, metric, from, to, shape, NOISE);
        }
    }
    let pods: Vec<String> = s.runtimes.values().flatten().filter(|c| **c != pod).cloned().collect();
    for c in &pods {
        s.pod_cpu(c);
        for _ in 0..s.rng.int(1, 3) {
            let from = s.rng.int(3, 70) as i64 * MIN;
            s.effect(c, "cpu_utilisation", from, from + MIN, Shape::Between(0.2, 0.45), NOISE);
        }
    }
    s.description.push(format!(
        "High traffic: {} services and {} pods spike for a minute or two, two to four times each, all along.",
        services.len(),
        pods.len()
    ));
}

/// A bad night, as the microservice benchmark's fault injection makes one: four faults of its
/// four kinds (a pod's CPU contention, an exception, a network delay, a wrong return value), in
/// a drawn order, one after another a few minutes apart on different services, while latency
/// spikes recur on two or three services and pods' CPU blips now and then all along.
fn fault_sequence(s: &mut Story) {
    let mid = s.mid.clone();
    let n_spikers = s.rng.int(2, 3) as usize;
    let mut spikers: Vec<String> = Vec::new();
    while spikers.len() < n_spikers.min(mid.len() / 3) {
        let m = s.rng.pick(&mid).clone();
        if !spikers.contains(&m) {
            spikers.push(m);
        }
    }
    for (i, e) in spikers.clone().iter().enumerate() {
        let from = 3 * MIN + i as i64 * 7 * MIN + s.rng.int(0, 3) as i64 * MIN;
        let period = s.rng.int(18, 30) as i64 * MIN;
        s.spikes(e, "latency_p99_ms", "LatencySpike", from, period, 3.5);
        s.busy.insert(e.clone());
    }
    if !spikers.is_empty() {
        s.description.push(format!("Recurring latency spikes on {} all along.", spikers.join(", ")));
    }
    let exclude: BTreeSet<String> = spikers.iter().cloned().collect();
    let mut kinds = vec!["cpu-hog", "exception", "delay", "wrong-return"];
    let mut order = Vec::new();
    while !kinds.is_empty() {
        let i = s.rng.int(0, kinds.len() as u64 - 1) as usize;
        order.push(kinds.remove(i));
    }
    let mut t = s.rng.int(22, 26) as i64 * MIN;
    for kind in order {
        let end = (t + s.rng.int(5, 9) as i64 * MIN).min(END - 4 * MIN);
        if end < t + 3 * MIN {
            break;
        }
        let Some((svc, shared)) = s.free_service(&exclude) else { break };
        let what = match kind {
            "cpu-hog" => {
                let pod = s.pod_cpu_hog(kind, &svc, &shared, t, end);
                format!("CPU contention on {pod} ({svc})")
            }
            "exception" => {
                s.exception_fault(kind, &svc, &shared, t, end);
                format!("Exceptions in {svc}")
            }
            "delay" => {
                s.delay_fault(kind, &svc, &shared, t, end);
                format!("A network delay on {svc}")
            }
            _ => {
                s.wrong_return_fault(kind, &svc, &shared, t, end);
                format!("Wrong return values from {svc}")
            }
        };
        s.description.push(format!("{what} from T0+{}m to T0+{}m.", t / MIN, end / MIN));
        t = end + s.rng.int(2, 5) as i64 * MIN;
    }
    // Pods blip now and then, as they do under load.
    let pods: Vec<String> = s.runtimes.values().flatten().filter(|c| !s.busy.contains(*c)).cloned().collect();
    for c in &pods {
        s.pod_cpu(c);
        if s.rng.chance(0.5) {
            let from = s.rng.int(3, 70) as i64 * MIN;
            s.effect(c, "cpu_utilisation", from, from + MIN, Shape::Between(0.2, 0.45), NOISE);
        }
    }
}

/// A fault whose only signal is an error-log burst, on a service below an open incident.
fn log_only_fault(s: &mut Story) {
    let (onset, end) = s.window();
    let mid = s.mid.clone();
    let svc = s.rng.pick(&mid[..mid.len() / 2 + 1]).clone();
    s.deployment_fault("deploy", &svc, &[], onset, end);
    s.description.push(format!("A bad deployment of {svc} at T0+{}m, errors to T0+{}m.", onset / MIN, end / MIN));
    // A service the incident's entities call (below the trouble) but not in its blast radius.
    let below: Vec<String> = s
        .relations
        .iter()
        .filter(|r| r.kind == RelationKind::Calls && s.busy.contains(r.from.as_str()))
        .map(|r| r.to.0.clone())
        .filter(|e| s.mid.contains(e) && !s.busy.contains(e))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let quiet = if below.is_empty() {
        let free: Vec<String> = mid.iter().filter(|m| !s.busy.contains(*m)).cloned().collect();
        if free.is_empty() {
            return;
        }
        s.rng.pick(&free).clone()
    } else {
        s.rng.pick(&below).clone()
    };
    let from = onset + s.rng.int(4, 9) as i64 * MIN;
    let to = from + s.rng.int(6, 10) as i64 * MIN;
    let name = quiet.trim_start_matches("service:").to_string();
    s.incident("log-only", &quiet, None);
    let template = format!("{name}: signature verification failed for upstream token <*>");
    s.logs(&quiet, &template, from, to, true, "log-only");
    s.busy.insert(quiet.clone());
    s.description.push(format!(
        "A second fault on {quiet} from T0+{}m to T0+{}m shows only as an error-log burst.",
        from / MIN,
        to / MIN
    ));
}
