//! Soak: simulated weeks of a realistic estate fed through the agent into a journal on disk, to
//! see that memory, per-observation cost, journal size and resume time stay flat over time.
//!
//! `cargo run --release --example soak -- [DAYS] [--entities N] [--series N] [--step-s S]
//! [--snapshot-every-min M] [--retention-h H] [--journal PATH] [--explain] [--phases]
//! [--resume-only [--drop-newest-snapshot]]`; `touch
//! <journal>.stop` ends a run after the current day (with its resume figure).
//!
//! The estate (deterministic, splitmix64 with a fixed seed) is meant to look like production,
//! calm most of the time: a quarter of the entities are hosts (CPU, memory, network, disk), the
//! rest services running on them and calling two others (p99 latency, error ratio, request
//! rate, queue depth), each series in its own unit and range with a daily and a weekly season,
//! noise of a few per cent and a rare lone spike. Each day brings 3 to 5 incidents (a service's
//! latency, errors and queue jump for 20-60 minutes with an alert firing, its callers' latency
//! and errors follow, its host's CPU climbs; a deployment on it 5 minutes before), a few
//! harmless deployments, chronic flapping alerts on three hosts, and every cycle a `TargetDown`
//! resolved for every healthy host (what a live Prometheus says; the agent journals none).
//!
//! It drives [`Agent`] + [`Journal`] directly with the live agent's upkeep (snapshots, retention,
//! quiet observations left out) and, like the live runtime, one [`Agent::feed_batch`] (one
//! transaction) per scrape cycle: the runtime itself needs live sources, which would measure
//! the network rather than the agent. Per simulated day it prints the observations fed, the
//! cost per observation (engine + journal + snapshots) as this thread's CPU time and as wall
//! time (the machine is shared: wall time swings with the load, CPU time much less), what was
//! journaled, the events, the incidents planned and the problems opened, the journal's size on
//! disk (now and its peak, sampled every 10 minutes of data), VmRSS and VmHWM, and the last
//! snapshot's size and time; then the events of the day by kind (with `--explain`, also which
//! signals they were about). At the end, the time to resume from the journal.
//!
//! `--resume-only` feeds nothing: it times a resume of the journal a run left (e.g. again on a
//! quieter machine), and a clean stop and resume after it. The resume lines give wall and CPU
//! time (the machine is shared). With `--drop-newest-snapshot` it first deletes the newest
//! snapshot (the one the run's clean stop wrote), so the resume is the one after a kill: from
//! the last hourly snapshot, with the tail since it to read back and replay.
//!
//! `--phases` says where the peak comes from: it resets the peak (`/proc/self/clear_refs`)
//! before each batch and prints, under each day, the highest peak over the day's batches that
//! wrote a snapshot and over the others (`hwm_MB` is then the highest of both).

use faultline::agent::{Agent, Upkeep};
use faultline::engine::EngineConfig;
use faultline::journal::Journal;
use faultline::model::{
    AlertState, ChangeKind, Entity, EntityId, EntityKind, EventKind, Observation, ObservationKind, ProblemEvent,
    Relation, RelationKind, Severity, Timestamp,
};
use std::collections::{BTreeMap, HashMap};
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
/// What a host and a service expose, four series each at full scale (4,000 over 1,000).
const HOST_METRICS: [(&str, Shape); 4] = [
    ("cpu_utilisation", Shape::Load),
    ("memory_bytes", Shape::Bytes),
    ("network_receive_bytes_per_s", Shape::Traffic),
    ("disk_utilisation", Shape::Capacity),
];
const SERVICE_METRICS: [(&str, Shape); 4] = [
    ("latency_p99_ms", Shape::Latency),
    ("error_rate", Shape::ErrorRatio),
    ("requests_per_s", Shape::Traffic),
    ("queue_depth", Shape::Queue),
];
/// A lone spike (a GC pause, a slow scrape) on one sample in this many: production noise has
/// tails that a Gaussian lacks, and one sample out of band is not an incident.
const SPIKE_ONE_IN: u64 = 20_000;
/// Hosts whose NTP alert flaps all day (fires for a minute every half hour).
const FLAPPERS: usize = 3;

struct Options {
    days: u32,
    entities: usize,
    series: usize,
    step_ms: i64,
    snapshot_every_ms: i64,
    retention_ms: i64,
    journal: PathBuf,
    explain: bool,
    phases: bool,
    resume_only: bool,
    drop_newest_snapshot: bool,
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
        explain: false,
        phases: false,
        resume_only: false,
        drop_newest_snapshot: false,
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
            "--explain" => o.explain = true,
            "--phases" => o.phases = true,
            "--resume-only" => o.resume_only = true,
            "--drop-newest-snapshot" => o.drop_newest_snapshot = true,
            days => o.days = number("DAYS", days.to_string())? as u32,
        }
    }
    if o.entities < 8 || o.series == 0 || o.step_ms <= 0 {
        return Err("need at least 8 entities, one series and a positive step".into());
    }
    Ok(o)
}

/// How a metric behaves: its unit and range, how it follows the daily traffic, its noise, and
/// what an incident does to it.
#[derive(Clone, Copy)]
enum Shape {
    /// A rate (requests/s, bytes/s): follows traffic, 4 % noise; drops by 40 % at the root of
    /// an incident (failing requests are not served).
    Traffic,
    /// p99 latency in ms: rises a little with traffic, 6 % noise; x3 at the root, x1.6 for its
    /// callers.
    Latency,
    /// Failed requests / all, about 0.1-1 % with 30 % noise; +8 points at the root, +2 for its
    /// callers.
    ErrorRatio,
    /// CPU as a ratio: follows traffic, 5 % noise; +0.35 on the host of an incident's root.
    Load,
    /// A filling ratio (disk): flat, 1 % noise.
    Capacity,
    /// Resident bytes: flat, 1 % noise.
    Bytes,
    /// Items waiting: follows traffic with Poisson-like noise; x6 at the root.
    Queue,
}

/// What an incident does to an entity at a given moment.
#[derive(Clone, Copy, PartialEq)]
enum Effect {
    Calm,
    Root,
    Caller,
    Host,
}

impl Shape {
    /// A typical level for one series of this shape.
    fn base(self, rng: &mut Rng) -> f64 {
        match self {
            Shape::Traffic => rng.range(20.0, 2000.0),
            Shape::Latency => rng.range(20.0, 400.0),
            Shape::ErrorRatio => rng.range(0.001, 0.01),
            Shape::Load => rng.range(0.15, 0.55),
            Shape::Capacity => rng.range(0.1, 0.6),
            Shape::Bytes => rng.range(2e8, 8e9),
            Shape::Queue => rng.range(2.0, 40.0),
        }
    }

    /// One sample: `traffic` is the seasonal factor (about 0.6 to 1.4) at this moment.
    fn sample(self, base: f64, traffic: f64, effect: Effect, rng: &mut Rng) -> f64 {
        let n = rng.normal();
        let v = match self {
            Shape::Traffic => base * traffic * (1.0 + 0.04 * n) * if effect == Effect::Root { 0.6 } else { 1.0 },
            Shape::Latency => {
                let trouble = match effect {
                    Effect::Root => 3.0,
                    Effect::Caller => 1.6,
                    _ => 1.0,
                };
                base * (1.0 + 0.2 * (traffic - 1.0)) * (1.0 + 0.06 * n) * trouble
            }
            Shape::ErrorRatio => {
                let trouble = match effect {
                    Effect::Root => 0.08,
                    Effect::Caller => 0.02,
                    _ => 0.0,
                };
                (base * (1.0 + 0.3 * n)).max(0.0) + trouble
            }
            Shape::Load => {
                let trouble = if effect == Effect::Host { 0.35 } else { 0.0 };
                (base * traffic * (1.0 + 0.05 * n) + trouble).clamp(0.0, 0.99)
            }
            Shape::Capacity => base * (1.0 + 0.01 * n),
            Shape::Bytes => base * (1.0 + 0.01 * n),
            Shape::Queue => {
                let level = base * traffic * if effect == Effect::Root { 6.0 } else { 1.0 };
                (level + level.sqrt() * n).max(0.0)
            }
        };
        if rng.int(1, SPIKE_ONE_IN) == 1 {
            match self {
                Shape::Load | Shape::Capacity => (v * 1.5).min(0.99),
                Shape::ErrorRatio => v + 0.01,
                _ => v * 2.5,
            }
        } else {
            v
        }
    }
}

/// One series: where, what, and its normal shape.
struct Series {
    entity: usize,
    metric: &'static str,
    shape: Shape,
    base: f64,
    /// Offset of its daily season (radians): most of the estate serves one region.
    phase: f64,
}

/// A service in trouble from `start` for `len` ms.
struct Incident {
    service: usize,
    start: i64,
    len: i64,
}

impl Incident {
    fn covers(&self, t: i64) -> bool {
        (self.start..self.start + self.len).contains(&t)
    }
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
            .map(|k| {
                let entity = k % o.entities;
                let metrics = if entity < hosts { &HOST_METRICS } else { &SERVICE_METRICS };
                let (metric, shape) = metrics[(k / o.entities) % metrics.len()];
                Series { entity, metric, shape, base: shape.base(rng), phase: rng.range(-0.3, 0.3) }
            })
            .collect();
        let flappers = (0..FLAPPERS.min(hosts)).map(|_| rng.int(0, hosts as u64 - 1) as usize).collect();
        Estate { ids, hosts, series, callers, flappers }
    }

    fn callees(s: usize, hosts: usize, services: usize) -> [usize; 2] {
        let j = s - hosts;
        [hosts + (j + 1) % services, hosts + (j * 7 + 3) % services]
    }

    fn host_of(&self, service: usize) -> usize {
        service % self.hosts
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
            relation(RelationKind::RunsOn, self.host_of(s));
            for callee in Estate::callees(s, self.hosts, services) {
                relation(RelationKind::Calls, callee);
            }
        }
        out
    }

    /// Everything the sources say at `t`.
    fn cycle(&self, t: i64, step_ms: i64, incidents: &[Incident], rng: &mut Rng, out: &mut Vec<Observation>) {
        let at = Timestamp(t);
        let day = (t - T0) as f64 / DAY as f64;
        let traffic = |phase: f64| {
            1.0 + 0.3 * (std::f64::consts::TAU * day + phase).sin() + 0.08 * (std::f64::consts::TAU * day / 7.0).sin()
        };
        let mut effect: BTreeMap<usize, Effect> = BTreeMap::new();
        for i in incidents.iter().filter(|i| i.covers(t)) {
            effect.insert(i.service, Effect::Root);
            effect.entry(self.host_of(i.service)).or_insert(Effect::Host);
            for &c in &self.callers[i.service] {
                effect.entry(c).or_insert(Effect::Caller);
            }
        }
        for s in &self.series {
            let e = effect.get(&s.entity).copied().unwrap_or(Effect::Calm);
            let kind = ObservationKind::Metric {
                entity: self.ids[s.entity].clone(),
                metric: s.metric.to_string(),
                samples: vec![(at, s.shape.sample(s.base, traffic(s.phase), e, rng))],
            };
            out.push(obs(at, "prometheus", kind));
        }
        for h in 0..self.hosts {
            out.push(alert(&self.ids[h], "TargetDown", &format!("up-{h}"), AlertState::Resolved, at));
        }
        // The root's alert, re-reported every cycle while it fires, resolved on the next one.
        for i in incidents {
            let end = i.start + i.len;
            let state = match t {
                _ if i.covers(t) => AlertState::Firing,
                _ if (end..end + step_ms).contains(&t) => AlertState::Resolved,
                _ => continue,
            };
            out.push(alert(&self.ids[i.service], "HighErrorRate", &format!("err-{}", i.service), state, at));
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
        let start = day_start + rng.int(10, 23 * 60) as i64 * MIN;
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

/// Resets this process's VmHWM to its current RSS (Linux `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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

/// CPU time this thread has used (user + system), which the other builds on a shared machine
/// do not inflate the way they inflate wall time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The journal's bytes on disk, its WAL included.
fn journal_bytes(path: &Path) -> u64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    size(path.to_path_buf()) + size(PathBuf::from(wal))
}

/// A day's events, counted by kind, and (for `--explain`) by the signal they concern.
#[derive(Default)]
struct Tally {
    kinds: BTreeMap<String, usize>,
    signals: BTreeMap<String, usize>,
    /// Signal key → "kind name" as last attached, to name the repeats.
    names: HashMap<String, String>,
}

impl Tally {
    fn count(&mut self, events: &[ProblemEvent]) {
        for e in events {
            let kind = serde_json::to_value(&e.kind)
                .ok()
                .and_then(|v| v.get("event").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_else(|| "?".into());
            *self.kinds.entry(kind.clone()).or_default() += 1;
            let about = match &e.kind {
                EventKind::SignalAttached { signal } => {
                    let name = format!("{} {}", signal.kind.as_str(), signal.name);
                    self.names.insert(signal.key.0.clone(), name.clone());
                    Some(name)
                }
                EventKind::SignalRepeated { key, .. } => {
                    Some(self.names.get(&key.0).cloned().unwrap_or_else(|| key.0.clone()))
                }
                EventKind::SignalUpdated { signal } => Some(format!("{} {}", signal.kind.as_str(), signal.name)),
                EventKind::Opened { title, .. } => {
                    Some(format!("opened: {}", title.split(" on ").next().unwrap_or(title)))
                }
                _ => None,
            };
            if let Some(about) = about {
                *self.signals.entry(format!("{kind}: {about}")).or_default() += 1;
            }
        }
    }

    fn opened(&self) -> usize {
        self.kinds.get("opened").copied().unwrap_or(0)
    }

    fn print(&mut self, explain: bool) {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
        println!("     events by kind: {}", kinds.join(" "));
        if explain {
            let mut top: Vec<(&String, &usize)> = self.signals.iter().collect();
            top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (what, n) in top.into_iter().take(12) {
                println!("       {n:>7}  {what}");
            }
        }
        self.kinds.clear();
        self.signals.clear();
    }
}

fn main() -> anyhow::Result<()> {
    let o = options().map_err(anyhow::Error::msg)?;
    let config = EngineConfig::default();
    if o.resume_only {
        if o.drop_newest_snapshot {
            let conn = rusqlite::Connection::open(&o.journal)?;
            conn.execute("DELETE FROM snapshots WHERE id = (SELECT max(id) FROM snapshots)", [])?;
        }
        return resume_then_clean_stop(&o.journal, &config, "of the journal as left", None);
    }
    for suffix in ["", "-wal", "-shm", ".lock", ".stop"] {
        let mut p = o.journal.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let mut rng = Rng(0x50A4);
    let estate = Estate::new(&o, &mut rng);
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
    println!(
        "day  observations  cpu_ns/obs  wall_ns/obs  journaled  events  incidents  opened  journal_MB  peak_journal_MB  rss_MB  \
         hwm_MB  snapshot_MB  snapshot_ms"
    );
    let mut events = Vec::new();
    agent.feed_batch(&estate.topology(Timestamp(T0)), &mut events)?;
    events.clear();
    let mut batch = Vec::new();
    let mut tally = Tally::default();
    let mut peak_journal = 0u64;
    for day in 0..o.days {
        let day_start = T0 + day as i64 * DAY;
        let (incidents, mut changes) = plan_day(day_start, &estate, &mut rng);
        changes.reverse();
        let (mut fed, skipped_before) = (0u64, agent.unjournaled());
        let (mut cpu, mut wall) = (Duration::ZERO, Duration::ZERO);
        let (mut peak_snapshot_batch, mut peak_other_batch) = (0u64, 0u64);
        let mut t = day_start;
        while t < day_start + DAY {
            batch.clear();
            while changes.last().is_some_and(|c| c.at.0 <= t) {
                batch.extend(changes.pop());
            }
            estate.cycle(t, o.step_ms, &incidents, &mut rng, &mut batch);
            let snapshots_before = agent.last_snapshot().map(|s| s.id);
            if o.phases {
                reset_peak();
            }
            let (cpu_before, started) = (thread_cpu(), Instant::now());
            agent.feed_batch(&batch, &mut events)?;
            wall += started.elapsed();
            cpu += thread_cpu().saturating_sub(cpu_before);
            if o.phases {
                let peak = memory().1;
                if agent.last_snapshot().map(|s| s.id) != snapshots_before {
                    peak_snapshot_batch = peak_snapshot_batch.max(peak);
                } else {
                    peak_other_batch = peak_other_batch.max(peak);
                }
            }
            fed += batch.len() as u64;
            tally.count(&events);
            events.clear();
            t += o.step_ms;
            if (t - day_start) % (10 * MIN) == 0 {
                peak_journal = peak_journal.max(journal_bytes(&o.journal));
            }
        }
        let (rss, mut hwm) = memory();
        if o.phases {
            hwm = peak_snapshot_batch.max(peak_other_batch);
        }
        let snap = agent.last_snapshot();
        let unjournaled = agent.unjournaled() - skipped_before;
        let journal = journal_bytes(&o.journal);
        peak_journal = peak_journal.max(journal);
        println!(
            "{:>3}  {:>12}  {:>10}  {:>11}  {:>9}  {:>6}  {:>9}  {:>6}  {:>10.1}  {:>15.1}  {:>6.1}  {:>6.1}  {:>11.2}  {:>11}",
            day + 1,
            fed,
            cpu.as_nanos() / u128::from(fed.max(1)),
            wall.as_nanos() / u128::from(fed.max(1)),
            fed - unjournaled,
            tally.kinds.values().sum::<usize>(),
            incidents.len(),
            tally.opened(),
            journal as f64 / 1e6,
            peak_journal as f64 / 1e6,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            snap.map_or(0.0, |s| s.bytes as f64 / 1e6),
            snap.map_or(0, |s| s.took.as_millis()),
        );
        if o.phases {
            println!(
                "     peak over batches that wrote a snapshot {:.1} MB, over the others {:.1} MB",
                peak_snapshot_batch as f64 / 1024.0,
                peak_other_batch as f64 / 1024.0
            );
        }
        tally.print(o.explain);
        // `touch <journal>.stop` ends the run after this day, with the resume figure.
        let mut stop = o.journal.as_os_str().to_owned();
        stop.push(".stop");
        if Path::new(&stop).exists() {
            println!("stopped after day {} by {}", day + 1, Path::new(&stop).display());
            break;
        }
    }
    // A restart as after a kill -9 just before the next snapshot was due (the whole tail since
    // the last one to read back and replay), then a clean stop and a restart from it.
    let last = agent.last_snapshot();
    drop(agent);
    resume_then_clean_stop(&o.journal, &config, "after a kill", last)?;
    println!(
        "final journal {:.1} MB, peak {:.1} MB",
        journal_bytes(&o.journal) as f64 / 1e6,
        peak_journal as f64 / 1e6
    );
    Ok(())
}

/// A resume of `journal` (reported as `how`), then a clean stop (a snapshot) and a resume
/// from it.
fn resume_then_clean_stop(
    journal: &Path,
    config: &EngineConfig,
    how: &str,
    last: Option<faultline::agent::SnapshotWritten>,
) -> anyhow::Result<()> {
    let (resumed, took) = resume(journal, config)?;
    report_resume(how, &resumed, took, last);
    let mut agent = resumed.agent;
    let last = agent.write_snapshot()?;
    drop(agent);
    let (resumed, took) = resume(journal, config)?;
    report_resume("after a clean stop", &resumed, took, last);
    Ok(())
}

/// A resume of `journal`: the agent and (wall, thread CPU) time.
fn resume(journal: &Path, config: &EngineConfig) -> anyhow::Result<(faultline::agent::Resumed, (Duration, Duration))> {
    let (started, cpu) = (Instant::now(), thread_cpu());
    let resumed = Agent::resume(config.clone(), Journal::open(journal)?)?;
    Ok((resumed, (started.elapsed(), thread_cpu().saturating_sub(cpu))))
}

fn report_resume(
    how: &str,
    resumed: &faultline::agent::Resumed,
    (took, cpu): (Duration, Duration),
    last: Option<faultline::agent::SnapshotWritten>,
) {
    println!(
        "resume {how}: {:.2} s ({:.2} s CPU) from snapshot {:?} ({:.1} MB), {} events in the journal, {} observations \
         read back, {} kept for the sources",
        took.as_secs_f64(),
        cpu.as_secs_f64(),
        resumed.from_snapshot.as_ref().map(|m| m.id),
        last.map_or(0.0, |s| s.bytes as f64 / 1e6),
        resumed.events.len(),
        resumed.read_back,
        resumed.observations.len(),
    );
}
