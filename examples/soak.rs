//! Soak: simulated weeks of a realistic estate fed through the agent into a journal on disk, to
//! see that memory, per-observation cost, journal size and resume time stay flat over time.
//!
//! `cargo run --release --example soak -- [DAYS] [--entities N] [--series N] [--step-s S]
//! [--snapshot-every-min M] [--retention-h H] [--journal PATH]`
//!
//! The estate (deterministic, splitmix64 with a fixed seed): a quarter of the entities are hosts,
//! the rest services running on them and calling two others; the series are spread over the
//! entities (latency, errors, requests, CPU, ...) with daily and weekly seasons and noise. Each
//! day brings a few incidents (a service's series jump for 20-60 minutes, its callers' latency
//! follows), deployments (one right before each incident), chronic flapping alerts on a few hosts,
//! and every cycle a `TargetDown` resolved for every healthy host (what a live Prometheus says;
//! the agent journals none of those).
//!
//! It drives [`Agent`] + [`Journal`] directly with the live agent's upkeep (snapshots, retention,
//! quiet observations left out): the runtime needs live sources, which would measure the network
//! rather than the agent. Per simulated day it prints the observations fed, the mean cost per
//! observation (engine + journal + snapshots, ns), the journal's size on disk, the process's
//! VmRSS and VmHWM, and the last snapshot's size and time; at the end, the time to resume an
//! agent from the journal.

use faultline::agent::{Agent, Upkeep};
use faultline::engine::EngineConfig;
use faultline::journal::Journal;
use faultline::model::{
    AlertState, ChangeKind, Entity, EntityId, EntityKind, Observation, ObservationKind, Relation, RelationKind,
    Severity, Timestamp,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[allow(dead_code)] // each generator uses a part of it
#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// Monday 2026-01-05 00:00 UTC: the first simulated day.
const T0: i64 = 1_767_571_200_000;
const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;
const METRICS: [&str; 6] =
    ["latency_p99_ms", "error_rate", "requests_per_s", "cpu_utilisation", "memory_bytes", "queue_depth"];

struct Options {
    days: u32,
    entities: usize,
    series: usize,
    step_ms: i64,
    snapshot_every_ms: i64,
    retention_ms: i64,
    journal: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        days: 30,
        entities: 1000,
        series: 4000,
        step_ms: 15_000,
        snapshot_every_ms: 60 * MIN,
        retention_ms: DAY,
        journal: std::env::temp_dir().join("faultline-soak.journal"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| v.parse::<u64>().map_err(|e| format!("{name} `{v}`: {e}"));
        match a.as_str() {
            "--entities" => o.entities = number(&a, value(&a)?)? as usize,
            "--series" => o.series = number(&a, value(&a)?)? as usize,
            "--step-s" => o.step_ms = number(&a, value(&a)?)? as i64 * 1000,
            "--snapshot-every-min" => o.snapshot_every_ms = number(&a, value(&a)?)? as i64 * MIN,
            "--retention-h" => o.retention_ms = number(&a, value(&a)?)? as i64 * 60 * MIN,
            "--journal" => o.journal = PathBuf::from(value(&a)?),
            days => o.days = number("DAYS", days.to_string())? as u32,
        }
    }
    if o.entities < 8 || o.series == 0 || o.step_ms <= 0 {
        return Err("need at least 8 entities, one series and a positive step".into());
    }
    Ok(o)
}

/// One series: where, what, and its normal shape.
struct Series {
    entity: usize,
    metric: &'static str,
    base: f64,
    phase: f64,
}

/// A service in trouble from `start` for `len` ms.
struct Incident {
    service: usize,
    start: i64,
    len: i64,
}

struct Estate {
    ids: Vec<EntityId>,
    hosts: usize,
    series: Vec<Series>,
    /// Services calling each service (for the cascade of an incident).
    callers: Vec<Vec<usize>>,
    flappers: Vec<usize>,
}

impl Estate {
    fn new(o: &Options, rng: &mut Rng) -> Estate {
        let hosts = o.entities / 4;
        let ids: Vec<EntityId> =
            (0..o.entities)
                .map(|i| {
                    if i < hosts {
                        EntityId::new(format!("host:h-{i}"))
                    } else {
                        EntityId::new(format!("service:s-{i}"))
                    }
                })
                .collect();
        let services = o.entities - hosts;
        let mut callers = vec![Vec::new(); o.entities];
        for s in hosts..o.entities {
            for callee in Estate::callees(s, hosts, services) {
                callers[callee].push(s);
            }
        }
        let series = (0..o.series)
            .map(|k| Series {
                entity: k % o.entities,
                metric: METRICS[(k / o.entities) % METRICS.len()],
                base: rng.range(10.0, 1000.0),
                phase: rng.range(0.0, std::f64::consts::TAU),
            })
            .collect();
        let flappers = (0..5.min(hosts)).map(|_| rng.int(0, hosts as u64 - 1) as usize).collect();
        Estate { ids, hosts, series, callers, flappers }
    }

    fn callees(s: usize, hosts: usize, services: usize) -> [usize; 2] {
        let j = s - hosts;
        [hosts + (j + 1) % services, hosts + (j * 7 + 3) % services]
    }

    /// The topology, once at the start.
    fn topology(&self, at: Timestamp) -> Vec<Observation> {
        let mut out = Vec::new();
        for (i, id) in self.ids.iter().enumerate() {
            let kind = if i < self.hosts { EntityKind::Host } else { EntityKind::Service };
            out.push(obs(at, "topology", ObservationKind::Entity { entity: Entity::new(id.clone(), kind) }));
        }
        let services = self.ids.len() - self.hosts;
        for s in self.hosts..self.ids.len() {
            let mut relation = |kind, to: usize| {
                let relation =
                    Relation { from: self.ids[s].clone(), kind, to: self.ids[to].clone(), learned_from: String::new() };
                out.push(obs(at, "topology", ObservationKind::Relation { relation }));
            };
            relation(RelationKind::RunsOn, s % self.hosts);
            for callee in Estate::callees(s, self.hosts, services) {
                relation(RelationKind::Calls, callee);
            }
        }
        out
    }

    /// Everything the sources say at `t`.
    fn cycle(&self, t: i64, incidents: &[Incident], rng: &mut Rng, out: &mut Vec<Observation>) {
        let at = Timestamp(t);
        let day = (t - T0) as f64 / DAY as f64;
        let season = |phase: f64| {
            1.0 + 0.3 * (std::f64::consts::TAU * day + phase).sin() + 0.08 * (std::f64::consts::TAU * day / 7.0).sin()
        };
        let mut factor: BTreeMap<usize, f64> = BTreeMap::new();
        for i in incidents.iter().filter(|i| (i.start..i.start + i.len).contains(&t)) {
            factor.insert(i.service, 4.0);
            for &c in &self.callers[i.service] {
                factor.entry(c).or_insert(2.0);
            }
        }
        for s in &self.series {
            let f = factor.get(&s.entity).copied().unwrap_or(1.0);
            let v = s.base * season(s.phase) * f * (1.0 + 0.03 * rng.normal());
            let kind = ObservationKind::Metric {
                entity: self.ids[s.entity].clone(),
                metric: s.metric.to_string(),
                samples: vec![(at, v)],
            };
            out.push(obs(at, "prometheus", kind));
        }
        for h in 0..self.hosts {
            out.push(alert(&self.ids[h], "TargetDown", &format!("up-{h}"), AlertState::Resolved, at));
        }
        // Chronic flapping: fires for a minute every half hour.
        let minute = (t - T0) / MIN;
        for &h in &self.flappers {
            let state = if minute % 30 == 0 { AlertState::Firing } else { AlertState::Resolved };
            if minute % 30 <= 1 {
                out.push(alert(&self.ids[h], "HostNtpDrift", &format!("ntp-{h}"), state, at));
            }
        }
    }
}

fn obs(at: Timestamp, source: &str, kind: ObservationKind) -> Observation {
    Observation { at, source: source.into(), kind }
}

fn alert(entity: &EntityId, name: &str, fingerprint: &str, state: AlertState, at: Timestamp) -> Observation {
    let kind = ObservationKind::Alert {
        entity: entity.clone(),
        name: name.into(),
        fingerprint: fingerprint.into(),
        state,
        severity: Severity::Warning,
        labels: BTreeMap::new(),
        summary: String::new(),
    };
    obs(at, "prometheus", kind)
}

/// A day's incidents (3 to 5) and their deployments (one 5 minutes before each, plus a few
/// harmless ones), as observations at their times.
fn plan_day(day_start: i64, e: &Estate, rng: &mut Rng) -> (Vec<Incident>, Vec<Observation>) {
    let services = e.ids.len() - e.hosts;
    let mut incidents = Vec::new();
    let mut changes = Vec::new();
    let deploy = |service: usize, t: i64, changes: &mut Vec<Observation>| {
        let kind = ObservationKind::Change {
            entity: e.ids[service].clone(),
            change: ChangeKind::Deployment,
            description: format!("deploy {} at {t}", e.ids[service]),
        };
        changes.push(obs(Timestamp(t), "changes", kind));
    };
    for _ in 0..rng.int(3, 5) {
        let service = e.hosts + rng.int(0, services as u64 - 1) as usize;
        let start = day_start + rng.int(1, 23 * 60) as i64 * MIN;
        incidents.push(Incident { service, start, len: rng.int(20, 60) as i64 * MIN });
        deploy(service, start - 5 * MIN, &mut changes);
    }
    for _ in 0..rng.int(2, 6) {
        let service = e.hosts + rng.int(0, services as u64 - 1) as usize;
        deploy(service, day_start + rng.int(1, 23 * 60) as i64 * MIN, &mut changes);
    }
    changes.sort_by_key(|o| o.at);
    (incidents, changes)
}

/// `(VmRSS, VmHWM)` of this process in kB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The journal's bytes on disk, its WAL included.
fn journal_bytes(path: &Path) -> u64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path.to_path_buf()) + size(PathBuf::from(wal))
}

fn main() -> anyhow::Result<()> {
    let o = options().map_err(anyhow::Error::msg)?;
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let mut p = o.journal.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let mut rng = Rng(0x50A4);
    let estate = Estate::new(&o, &mut rng);
    let config = EngineConfig::default();
    let mut agent = Agent::new(config.clone(), Some(Journal::open(&o.journal)?));
    agent.set_upkeep(Upkeep {
        snapshot_every_ms: Some(o.snapshot_every_ms),
        retention_ms: Some(o.retention_ms),
        skip_quiet: true,
    });
    println!(
        "soak: {} days, {} entities, {} series every {} s, snapshot every {} min, retention {} h, journal {}",
        o.days,
        o.entities,
        o.series,
        o.step_ms / 1000,
        o.snapshot_every_ms / MIN,
        o.retention_ms / (60 * MIN),
        o.journal.display()
    );
    println!("day  observations  ns/obs  unjournaled  events  journal_MB  rss_MB  hwm_MB  snapshot_MB  snapshot_ms");
    let mut events = Vec::new();
    for o_ in estate.topology(Timestamp(T0)) {
        agent.feed(&o_, &mut events)?;
    }
    let mut batch = Vec::new();
    for day in 0..o.days {
        let day_start = T0 + day as i64 * DAY;
        let (incidents, mut changes) = plan_day(day_start, &estate, &mut rng);
        changes.reverse();
        let (mut fed, mut made, skipped_before) = (0u64, 0usize, agent.unjournaled());
        let mut busy = Duration::ZERO;
        let mut t = day_start;
        while t < day_start + DAY {
            batch.clear();
            while changes.last().is_some_and(|c| c.at.0 <= t) {
                batch.extend(changes.pop());
            }
            estate.cycle(t, &incidents, &mut rng, &mut batch);
            let started = Instant::now();
            for ob in &batch {
                agent.feed(ob, &mut events)?;
            }
            busy += started.elapsed();
            fed += batch.len() as u64;
            made += events.len();
            events.clear();
            t += o.step_ms;
        }
        let (rss, hwm) = memory();
        let snap = agent.last_snapshot();
        println!(
            "{:>3}  {:>12}  {:>6}  {:>11}  {:>6}  {:>10.1}  {:>6.1}  {:>6.1}  {:>11.2}  {:>11}",
            day + 1,
            fed,
            busy.as_nanos() / u128::from(fed.max(1)),
            agent.unjournaled() - skipped_before,
            made,
            journal_bytes(&o.journal) as f64 / 1e6,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            snap.map_or(0.0, |s| s.bytes as f64 / 1e6),
            snap.map_or(0, |s| s.took.as_millis()),
        );
    }
    // A clean stop, then a restart from the journal.
    let last = agent.write_snapshot()?;
    drop(agent);
    let started = Instant::now();
    let resumed = Agent::resume(config, Journal::open(&o.journal)?)?;
    let took = started.elapsed();
    println!(
        "resume: {:.2} s from snapshot {:?} ({:.1} MB), {} events in the journal, {} observations retained; \
         final journal {:.1} MB",
        took.as_secs_f64(),
        resumed.from_snapshot.as_ref().map(|m| m.id),
        last.map_or(0.0, |s| s.bytes as f64 / 1e6),
        resumed.events.len(),
        resumed.observations.len(),
        journal_bytes(&o.journal) as f64 / 1e6
    );
    Ok(())
}
