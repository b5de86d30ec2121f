//! Root cause: the fault tree, and the foundational cause.
//!
//! Only *trouble* counts: a signal whose metric moved the bad way for its kind (see
//! [`worse_direction`]: a latency going down or an availability going up is no trouble), an
//! alert, a log burst, a forecast or a saturation (see [`is_saturation`]). From each entity in
//! trouble the walk looks down its dependencies (what it runs on, what it calls) up to
//! `max_depth` hops, along which trouble can have travelled (see [`trouble_walk`]: not on
//! through a healthy service). An entity is a root candidate when some of its trouble is
//! *accounted for* by nothing below it (see [`accounts_for`]): anything in trouble down the
//! vertical stack accounts for everything; along *calls* trouble propagates up in kind (slow
//! makes slow, failing makes failing or slow), and on the same quantity only a deviation at least
//! half as large accounts for it (a database 2 ms slower does not explain a service 500 ms
//! slower). Traffic comes from the callers, so a traffic change alone makes no candidate. Each
//! candidate is scored by how much of the problem it explains (entities in trouble above it whose
//! trouble it accounts for), then how early it broke and how strong its evidence is, and keeps its
//! evidence chain: its signals with the baselines they broke, and the paths that tie the affected
//! entities to it. If dependency cycles leave no candidate, every entity in trouble competes on
//! the same score.
//!
//! **Timing** (issue 13): trouble below can only account for trouble above that it *preceded* and
//! that was *news* at the time. A dependency accounts for a dependent's signal only if its own
//! trouble started no later than that signal (within [`Timing::slack_ms`], the detection lag of a
//! scrape or an alert's `for`; a log burst, read as it is written, gets [`LOG_SLACK_MS`]) and was
//! still going when it started. A candidate that was in
//! trouble a whole [`Timing::window_ms`] (the correlation window) before the first trouble above it
//! began, with nothing new on it since, is *chronic*: as anomalous before the issue as during it,
//! so not its cause. It accounts for nothing above it, gets no earliness credit, and its summary
//! says why. An issue is thus judged against the period just before it, whatever the noise level:
//! the same notion lets correlation refuse a late dependency as the cause of an older problem
//! (see [`Timing::precedes`] and `correlate`). An effect does not outlast its cause for long:
//! once a dependency's trouble is over (the episode of it the accounting signal belongs to: its
//! signals overlapping, or following each other within their detection lag), it accounts for a
//! dependent's trouble only if that did not go on after it longer than the dependency's trouble
//! lasted, or than its end may have been seen late (its detection lag; see
//! [`Timing::outlasts`]), so
//! a short blip below, which high traffic makes everywhere, does not explain a long outage
//! above that merely began just after it. Nor does such a blip win on breaking first: earliness
//! is evidence of having caused what came after, so a candidate that explains nothing but
//! itself while trouble above it goes unexplained by it gets no earliness credit.

use super::snapshot::codec::sorted_pairs;
use super::topology::Topology;
use crate::model::{
    Candidate, ChangeKind, ChangeRecord, EntityId, Hop, RelationKind, Signal, SignalEvidence, SignalKey, SignalKind,
    Timestamp,
};
use petgraph::stable_graph::NodeIndex;
use petgraph::Direction;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Each reached node with the edge it was reached by (`None` for the start of the walk).
type Parents = HashMap<NodeIndex, Option<(NodeIndex, RelationKind)>>;

/// The candidate score is the share of the problem's entities in trouble it explains, times
/// `W_BASE + W_EARLY · earliness + W_STRENGTH · strength` (the weights sum to 1).
const W_BASE: f64 = 0.5;
const W_EARLY: f64 = 0.25;
const W_STRENGTH: f64 = 0.25;
/// Earliness halves about every 3.5 minutes after onset (e-folding time of 5 minutes).
const EARLY_FOLD_MS: f64 = 300_000.0;
/// Anomalous samples that confirm an anomaly (the detector's default `min_consecutive`).
const CONFIRMED_SAMPLES: u64 = 2;
/// Weight of an unconfirmed anomaly's score in a candidate's strength (see [`confirmed`]).
const UNCONFIRMED_WEIGHT: f64 = 0.5;
/// Candidates kept in a ranking.
const MAX_CANDIDATES: usize = 10;
/// Along *calls*, a dependency's deviation on a quantity must be at least this fraction of the
/// dependent's deviation on the same quantity to account for it.
const ACCOUNT_FRACTION: f64 = 0.5;

/// When trouble counts as a cause, in data time (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How much later than its effect a cause may be seen: sources see the same moment a scrape
    /// or an alert's `for` apart.
    pub slack_ms: i64,
    /// Trouble that began this long before what it would explain, with nothing new since, is
    /// chronic: the engine's correlation window, its one notion of "close in time".
    pub window_ms: i64,
}

/// Default [`Timing::slack_ms`]: five minutes, the period of the slowest usual metric source
/// (CloudWatch's basic monitoring) and a common alert `for`.
pub const CAUSE_SLACK_MS: i64 = 5 * 60_000;

/// How late a log burst may be seen after what it caused: lines are counted as they are written,
/// in the log source's steps (the Loki source's default `step` is one minute). A source counting
/// in longer steps delays bursts by more than this; the engine does not yet learn it per source.
pub const LOG_SLACK_MS: i64 = 60_000;

impl Default for Timing {
    fn default() -> Self {
        Timing { slack_ms: CAUSE_SLACK_MS, window_ms: 15 * 60_000 }
    }
}

impl Timing {
    /// True when trouble that started at `cause` can have caused trouble that started at `effect`.
    pub fn precedes(&self, cause: Timestamp, effect: Timestamp) -> bool {
        cause.since(effect) <= self.slack_ms
    }

    /// [`Timing::precedes`] for a cause of kind `kind`, allowed only its own detection lag: a
    /// cause can be *seen* after its effect only by as long as it takes to see it (the effect's
    /// own lag can only shorten that).
    /// `lag` is the cause's own detection lag where it is known (see [`RunStart::lag`]).
    pub fn precedes_as(&self, kind: SignalKind, lag: Option<i64>, cause: Timestamp, effect: Timestamp) -> bool {
        cause.since(effect) <= self.lag_or_slack(kind, lag)
    }

    /// How late trouble of kind `kind` can have been seen: its own detection `lag` where known
    /// (see [`RunStart::lag`]), else the kind's slack.
    pub fn lag_or_slack(&self, kind: SignalKind, lag: Option<i64>) -> i64 {
        lag.unwrap_or_else(|| self.slack_for(kind))
    }

    /// How late a cause of kind `kind` may be seen after its effect began when its own lag is
    /// not known: the slack for alerts (their `for`) and anomalies (samples in a row),
    /// [`LOG_SLACK_MS`] at most for log bursts.
    pub fn slack_for(&self, kind: SignalKind) -> i64 {
        match kind {
            SignalKind::LogBurst => self.slack_ms.min(LOG_SLACK_MS),
            SignalKind::Alert | SignalKind::Anomaly => self.slack_ms,
        }
    }

    /// True when trouble running since `since` was old news at `at`.
    pub fn chronic_at(&self, since: Timestamp, at: Timestamp) -> bool {
        at.since(since) > self.window_ms
    }

    /// True when trouble last seen at `effect_end` went on too long after a cause's episode
    /// `(from, to, still going, lag)` to be its effect: the cause is over, and the effect
    /// outlasted it by longer than the cause lasted (and than `lag`, how late the cause's end
    /// may have been seen: its own detection lag where known, else its kind's slack). A dependent recovers a while after
    /// its dependency does (queues drain, caches warm, a restarted container takes its load
    /// back), about as long as the trouble lasted; a 3-minute blip below does not explain half
    /// an hour of trouble above it.
    pub fn outlasts(&self, effect_end: Timestamp, (from, to, going, lag): (Timestamp, Timestamp, bool, i64)) -> bool {
        !going && effect_end.since(to) > to.since(from).max(lag)
    }
}

/// When each signal's current run of trouble started (its last activation): by default its first
/// sighting.
pub trait RunStart {
    fn since(&self, s: &Signal) -> Timestamp;

    /// How late `s` can have been first seen after its trouble began, where its source knows
    /// (an anomaly: the samples it took to raise it); `None`: its kind's slack.
    fn lag(&self, _s: &Signal) -> Option<i64> {
        None
    }
}

/// Every signal's run counted from its first sighting.
pub struct FirstSeen;

impl RunStart for FirstSeen {
    fn since(&self, s: &Signal) -> Timestamp {
        s.first_seen
    }
}

/// Which way a metric moves when something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Higher is worse: latency, errors, utilisation, queue depth.
    Up,
    /// Lower is worse: availability, success, free space, throughput.
    Down,
    /// Unknown: either way is trouble.
    Either,
}

/// Name parts (split at anything not a letter or digit, case-insensitive) that say lower is
/// worse, checked first: `memory_available_bytes`, `cpu_idle`, `filesystem_free_ratio`.
#[rustfmt::skip]
const DOWN_FIRST: &[&str] = &[
    "availability", "available", "free", "idle", "success", "successful", "successes", "apdex", "uptime", "hit",
    "hits",
];
/// Name parts that say higher is worse.
#[rustfmt::skip]
const UP: &[&str] = &[
    "latency", "duration", "time", "seconds", "ms", "error", "errors", "fail", "failed", "failure", "failures",
    "timeout", "timeouts", "5xx", "cpu", "memory", "utilisation", "utilization", "saturation", "load", "pressure",
    "queue", "depth", "lag", "wait", "backlog", "retries", "restarts", "dropped", "rejected", "throttled", "miss",
    "misses", "evictions", "oom",
];
/// Name parts that say lower is worse, checked last (`failed_requests` is an error count).
const DOWN: &[&str] = &["throughput", "requests", "request", "rps", "qps", "tps", "transactions", "sessions"];

/// A metric name's parts, lower-cased: split at anything not an ASCII letter or digit.
fn name_parts(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).map(str::to_ascii_lowercase).collect()
}

/// Which way `metric` (a metric name as the sources give it) gets worse, by the naming
/// conventions of Prometheus and the clouds: the one place that decides what counts as trouble.
pub fn worse_direction(metric: &str) -> Worse {
    let parts = name_parts(metric);
    let has = |list: &[&str]| parts.iter().any(|p| list.contains(&p.as_str()));
    if has(DOWN_FIRST) {
        Worse::Down
    } else if has(UP) {
        Worse::Up
    } else if has(DOWN) {
        Worse::Down
    } else {
        Worse::Either
    }
}

/// The key of the saturation signal of `metric` on `entity` (see [`is_saturation`]).
pub fn saturation_key(entity: &EntityId, metric: &str) -> SignalKey {
    SignalKey(format!("{SATURATION}{entity}:{metric}"))
}

/// Key prefix of saturation signals: anomalies of their own key, beside the baseline's
/// (`anomaly:`) and the trend's (`forecast:`).
const SATURATION: &str = "saturation:";

/// True for a sustained-saturation signal: a utilisation that stayed at or above its configured
/// ceiling (`[[engine.detect.saturation]]`). It is trouble whatever its baseline says, a
/// resource's trouble (it accounts for anything its dependents show, as the fault tree's "CPU
/// saturation on one host"), and with score 1 it is its entity's strongest evidence.
pub fn is_saturation(s: &Signal) -> bool {
    s.kind == SignalKind::Anomaly && s.key.0.starts_with(SATURATION)
}

/// A signal is trouble unless it is an anomaly that moved the harmless way for its metric. A
/// saturation always is: a series that shifted up to its ceiling expects to be there.
pub fn is_trouble(s: &Signal) -> bool {
    if is_saturation(s) {
        return true;
    }
    match (s.value, s.baseline) {
        (Some(v), Some(b)) => match worse_direction(&s.name) {
            Worse::Up => v > b.expected,
            Worse::Down => v < b.expected,
            Worse::Either => true,
        },
        _ => true,
    }
}

/// Ranks the root-cause candidates of a problem whose signals are `signals` (any order), each
/// signal's trouble counted from its first sighting, with the default [`Timing`].
pub fn rank(signals: &[&Signal], topology: &Topology, max_depth: u32, max_paths: usize) -> Vec<Candidate> {
    rank_timed(signals, &FirstSeen, Timing::default(), topology, max_depth, max_paths)
}

/// [`rank`] with each signal's current run start from `runs` and the given [`Timing`].
pub fn rank_timed<'s>(
    signals: &[&'s Signal],
    runs: &dyn RunStart,
    timing: Timing,
    topology: &Topology,
    max_depth: u32,
    max_paths: usize,
) -> Vec<Candidate> {
    // Entities in trouble with their trouble signals, by id (deterministic order). A problem of
    // harmless moves only (a traffic surge) is ranked on all its signals.
    let mut affected: BTreeMap<&EntityId, Vec<&Signal>> = BTreeMap::new();
    for s in signals.iter().filter(|s| is_trouble(s)) {
        affected.entry(&s.entity).or_default().push(s);
    }
    if affected.is_empty() {
        for s in signals {
            affected.entry(&s.entity).or_default().push(s);
        }
    }
    if affected.is_empty() {
        return Vec::new();
    }
    let nodes: BTreeMap<&EntityId, NodeIndex> =
        affected.keys().filter_map(|id| topology.node(id).map(|n| (*id, n))).collect();
    let affected_nodes: HashMap<NodeIndex, &EntityId> = nodes.iter().map(|(id, n)| (*n, *id)).collect();

    // One downward walk per affected entity, with parents for the evidence paths.
    let walks: BTreeMap<&EntityId, Parents> =
        nodes.iter().map(|(id, n)| (*id, trouble_walk(topology, *n, max_depth, &affected_nodes))).collect();

    // When each entity's current trouble began, and which entities were old news when the
    // trouble above them began (chronic: see the module doc).
    let first_run = |id: &EntityId| affected[id].iter().map(|s| runs.since(s)).min().unwrap_or_default();
    // The issue each entity would explain begins with the first trouble above it that it
    // preceded; its signals already running a whole window before that are stale there.
    let issue_onset: BTreeMap<&EntityId, Timestamp> = nodes
        .iter()
        .filter_map(|(id, n)| {
            let own = first_run(id);
            let above = walks
                .iter()
                .filter(|(other, w)| *other != id && w.contains_key(n))
                .flat_map(|(other, _)| affected[*other].iter().map(|s| runs.since(s)))
                .filter(|t| timing.precedes(own, *t))
                .min()?;
            Some((*id, above))
        })
        .collect();
    let stale = |d: &Signal| issue_onset.get(&d.entity).is_some_and(|a| timing.chronic_at(runs.since(d), *a));
    // Chronic entities, with how long before the issue their trouble began: nothing of theirs
    // that preceded the issue was news at its onset.
    let chronic: BTreeMap<&EntityId, i64> = issue_onset
        .iter()
        .filter_map(|(id, a)| {
            let mut before = affected[*id].iter().filter(|s| timing.precedes(runs.since(s), *a)).peekable();
            (before.peek().is_some() && before.all(|s| stale(s))).then(|| (*id, a.since(first_run(id))))
        })
        .collect();
    // Each entity's trouble as episodes: its signals by the start of their current runs, one
    // joining the episode before while it starts no later than that episode's last sighting plus
    // the detection lag (how late that end, or this start, may have been seen; each kind's slack
    // where not known). An episode runs from its first start to its last sighting, is going
    // while any of its signals is, and keeps its longest lag. A container's leak, its forecast,
    // its OOM kill and its restart alerts overlap: one episode. A service's latency spikes that
    // ended at 09:33 and an error blip of its at 09:51 are two: the blip keeps nothing going
    // that the spikes explained.
    let mut episode: HashMap<&SignalKey, (Timestamp, Timestamp, bool, i64)> = HashMap::new();
    for own in affected.values() {
        let mut by_start: Vec<&Signal> = own.to_vec();
        by_start.sort_by_key(|s| (runs.since(s), &s.key));
        let mut members: Vec<&SignalKey> = Vec::new();
        let mut current: Option<(Timestamp, Timestamp, bool, i64)> = None;
        for s in by_start {
            let (start, lag) = (runs.since(s), timing.lag_or_slack(s.kind, runs.lag(s)));
            match &mut current {
                Some(e) if e.2 || start <= e.1.plus_ms(e.3.max(lag)) => {
                    (e.1, e.2, e.3) = (e.1.max(s.last_seen), e.2 || s.active, e.3.max(lag));
                }
                _ => {
                    if let Some(e) = current.replace((start, s.last_seen, s.active, lag)) {
                        episode.extend(members.drain(..).map(|k| (k, e)));
                    }
                }
            }
            members.push(&s.key);
        }
        if let Some(e) = current {
            episode.extend(members.drain(..).map(|k| (k, e)));
        }
    }
    // Trouble of `d` that can account for `o`: not stale, first seen before `o`'s current run
    // began (within the slack) and still going then; and, once the episode of `d`'s entity's
    // trouble that `d` belongs to is over, `o` went on after it no longer than it lasted (see
    // `outlasts`).
    let in_time = |d: &Signal, o: &Signal| {
        let (start, effect) = (d.first_seen, runs.since(o));
        !stale(d)
            && timing.precedes_as(d.kind, runs.lag(d), start, effect)
            && (d.active || effect.since(d.last_seen) <= timing.slack_ms)
            && !episode.get(&d.key).is_some_and(|e| timing.outlasts(o.last_seen, *e))
    };
    let timely =
        |dep: &[&'s Signal], o: &Signal| -> Vec<&'s Signal> { dep.iter().copied().filter(|d| in_time(d, o)).collect() };
    // Earliness counts from the first sighting of trouble that was news.
    let onset = affected
        .iter()
        .filter(|(id, _)| !chronic.contains_key(*id))
        .flat_map(|(_, v)| v.iter().map(|s| s.first_seen))
        .min()
        .or_else(|| affected.values().flatten().map(|s| s.first_seen).min())
        .unwrap_or_default();

    // Some of its trouble is accounted for by nothing below it.
    let unexplained = |id: &EntityId| -> bool {
        let (Some(w), Some(n)) = (walks.get(id), nodes.get(id)) else {
            // Not in the topology: nothing known below it.
            return true;
        };
        let below: Vec<(&[&Signal], bool)> = w
            .keys()
            .filter(|m| *m != n)
            .filter_map(|m| affected_nodes.get(m).map(|dep| (affected[*dep].as_slice(), calls_only(w, *m))))
            .collect();
        // Traffic comes from the callers: a change of it is no evidence of an entity's own fault.
        affected[id]
            .iter()
            .filter(|o| family(o) != Some(Family::Traffic))
            .any(|o| !below.iter().any(|(dep, by_calls)| accounts_for(&timely(dep, o), o, &affected[id], *by_calls)))
    };
    let mut roots: Vec<&EntityId> = affected.keys().copied().filter(|id| unexplained(id)).collect();
    if roots.is_empty() {
        roots = affected.keys().copied().collect();
    }

    // Everything below an entity within the depth, whatever is in trouble (walked on demand,
    // once per entity).
    let mut below_of: HashMap<NodeIndex, HashSet<NodeIndex>> = HashMap::new();

    let total = affected.len();
    let mut candidates: Vec<Candidate> = roots
        .into_iter()
        .map(|id| {
            let own = &affected[id];
            let mut ordered: Vec<&Signal> = own.clone();
            ordered.sort_by(|a, b| {
                b.score.total_cmp(&a.score).then(a.first_seen.cmp(&b.first_seen)).then(a.key.cmp(&b.key))
            });
            let strongest = ordered[0];
            let strength = ordered.iter().map(|s| confirmed(s)).fold(0.0f64, f64::max).clamp(0.0, 1.0);
            let first_breach = own.iter().map(|s| s.first_seen).min().unwrap_or(onset);
            let node = nodes.get(id).copied();
            // Who reaches this candidate going down and whose trouble it accounts for: the
            // entities it explains, with paths.
            let mut paths: Vec<Vec<Hop>> = Vec::new();
            let mut explains = 1;
            let mut passed_over = false;
            if let Some(target) = node {
                for (other, walk) in &walks {
                    if *other == id {
                        continue;
                    }
                    if !walk.contains_key(&target) {
                        // Below it, but through calls to entities not in trouble: its trouble
                        // cannot have travelled up there, so it accounts for none of that.
                        passed_over = passed_over
                            || nodes.get(other).is_some_and(|n| {
                                let below = below_of.entry(*n).or_insert_with(|| {
                                    let walk = topology.walk(*n, max_depth, Direction::Outgoing, None);
                                    walk.into_iter().map(|(m, _)| m).collect()
                                });
                                below.contains(&target)
                            });
                        continue;
                    }
                    // It explains an entity when it accounts for all of that entity's trouble
                    // (traffic aside, which comes from above).
                    let by_calls = calls_only(walk, target);
                    let mut troubles =
                        affected[*other].iter().filter(|o| family(o) != Some(Family::Traffic)).peekable();
                    if troubles.peek().is_none()
                        || !troubles.all(|o| accounts_for(&timely(own, o), o, &affected[*other], by_calls))
                    {
                        passed_over = true;
                        continue;
                    }
                    explains += 1;
                    paths.push(path_to(walk, target, topology));
                }
            }
            paths.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| path_ids(a).cmp(path_ids(b))));
            paths.truncate(max_paths);
            let lead = chronic.get(id).copied();
            let early = match lead {
                // Old news: no credit for having broken first.
                Some(_) => 0.0,
                // Breaking first is evidence of having caused what came after. A candidate that
                // explains nothing while trouble above it (within the depth, whether the walk
                // reached it or stopped at a healthy callee between) goes unaccounted for by it
                // caused none of what came after: no credit (a pod's CPU blip just before its
                // service's own, longer fault, or its caller's, is not that fault's cause).
                None if explains == 1 && passed_over => 0.0,
                None => (-(first_breach.since(onset).max(0) as f64) / EARLY_FOLD_MS).exp(),
            };
            // What it explains comes first; earliness and strength order candidates that explain
            // about as much (a lone anomaly that explains nothing else does not outrank the one
            // that explains the storm by breaking a minute earlier).
            let share = explains as f64 / total as f64;
            let score = share * (W_BASE + W_EARLY * early + W_STRENGTH * strength);
            Candidate {
                entity: id.clone(),
                entity_kind: topology.kind_of(id),
                score: round4(score),
                summary: match lead {
                    Some(ms) => format!(
                        "{}; as anomalous before onset ({} before the trouble above it)",
                        summary(strongest),
                        minutes(ms)
                    ),
                    None => summary(strongest),
                },
                signals: ordered.iter().map(|s| s.key.clone()).collect(),
                strength: round4(strength),
                first_breach,
                explains,
                affected: total,
                evidence: paths,
                broke: ordered.iter().map(|s| SignalEvidence::of(s)).collect(),
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.first_breach.cmp(&b.first_breach)).then(a.entity.cmp(&b.entity))
    });
    candidates.truncate(MAX_CANDIDATES);
    candidates
}

/// A signal's score as evidence of a root cause: an anomaly seen on one sample only (raised at
/// once, as a record or a near-impossible value, and never seen again) counts half, as a
/// sustained anomaly needs a second sample to be raised: one surprising sample is not yet
/// as strong evidence as trouble that lasted.
fn confirmed(s: &Signal) -> f64 {
    if s.kind == SignalKind::Anomaly && s.count < CONFIRMED_SAMPLES {
        s.score * UNCONFIRMED_WEIGHT
    } else {
        s.score
    }
}

/// The walk down from `start` (what it runs on and calls, `max_depth` hops at most) along which
/// trouble can have travelled up to it: on from an entity reached over *calls* only if it is in
/// trouble itself (a healthy service in between shows the trouble did not pass through it), on
/// from one reached over *runs on* always (a process or container often has no signals of its
/// own). Each reached node once, with the edge it was reached by; neighbours visited by id.
fn trouble_walk(
    topology: &Topology,
    start: NodeIndex,
    max_depth: u32,
    affected: &HashMap<NodeIndex, &EntityId>,
) -> Parents {
    let mut parents: Parents = HashMap::from([(start, None)]);
    let mut queue = VecDeque::from([(start, 0u32)]);
    while let Some((n, depth)) = queue.pop_front() {
        if depth >= max_depth {
            continue;
        }
        for (relation, m) in topology.dependencies(n) {
            if parents.contains_key(&m) {
                continue;
            }
            parents.insert(m, Some((n, relation)));
            if relation == RelationKind::RunsOn || affected.contains_key(&m) {
                queue.push_back((m, depth + 1));
            }
        }
    }
    parents
}

/// True when the walk reached `target` over *calls* edges only.
fn calls_only(walk: &Parents, target: NodeIndex) -> bool {
    let mut at = target;
    while let Some(Some((parent, relation))) = walk.get(&at) {
        if *relation != RelationKind::Calls {
            return false;
        }
        at = *parent;
    }
    true
}

/// How far a signal's value is from its baseline's expected value (metric anomalies only).
fn deviation(s: &Signal) -> Option<f64> {
    match (s.value, s.baseline) {
        (Some(v), Some(b)) => Some((v - b.expected).abs()),
        _ => None,
    }
}

/// What a metric measures, for telling which trouble below can account for which above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Time taken: slowness propagates up the calls.
    Latency,
    /// Failures, and availability or success as their complement.
    Errors,
    /// Requests and throughput.
    Traffic,
    /// Resources (CPU, memory, queues) and anything unknown.
    Other,
}

/// Name parts of each family, checked in this order.
#[rustfmt::skip]
const FAMILIES: &[(Family, &[&str])] = &[
    (Family::Errors, &[
        "error", "errors", "fail", "failed", "failure", "failures", "availability", "success", "successful",
        "successes", "5xx", "apdex", "uptime",
    ]),
    (Family::Latency, &["latency", "duration", "time", "seconds", "ms", "timeout", "timeouts"]),
    (Family::Traffic, &["requests", "request", "throughput", "rps", "qps", "tps", "transactions", "sessions"]),
];

/// The family of a metric signal (`None` for alerts, log bursts and forecasts; a saturation is
/// a resource's).
fn family(s: &Signal) -> Option<Family> {
    if is_saturation(s) {
        return Some(Family::Other);
    }
    deviation(s)?;
    let parts = name_parts(&s.name);
    let found = FAMILIES.iter().find(|(_, names)| parts.iter().any(|p| names.contains(&p.as_str())));
    Some(found.map_or(Family::Other, |(f, _)| *f))
}

/// Name parts that say which statistic of a quantity a series is, not what it measures.
const STATISTICS: &[&str] = &["average", "avg", "mean", "median", "min", "max", "sum", "count", "total", "quantile"];

/// What a metric measures, without its statistic: `latency_p99` and `latency_average` are both
/// `latency`, in the same unit, so their deviations compare.
fn quantity(name: &str) -> String {
    let is_stat = |p: &str| {
        STATISTICS.contains(&p) || (p.len() > 1 && p.starts_with('p') && p[1..].bytes().all(|b| b.is_ascii_digit()))
    };
    name_parts(name).into_iter().filter(|p| !is_stat(p)).collect::<Vec<_>>().join("_")
}

/// True when the trouble of a dependency (its trouble signals `dep`) can account for one trouble
/// signal `own` of a dependent whose trouble signals are `own_all`. Down the vertical stack
/// (`by_calls` false: one name may mean another scale there, such as a process's and its host's
/// CPU) any trouble below counts. Along *calls*, trouble propagates up in kind: a slow dependency
/// makes its callers slow, a failing one makes them fail. So a latency or error signal is
/// accounted for by trouble of the same [`Family`] below, and, on the same quantity (see
/// [`quantity`]), only by a deviation at least [`ACCOUNT_FRACTION`] of the dependent's (latencies
/// add up along calls: a database 2 ms slower does not explain a service 500 ms slower). The
/// dependent's deviation is its signal's, at most the median over the quantity's statistics in
/// trouble ([`quantity_deviation`]): one tail statistic far beyond the others (at low traffic,
/// one slow request is the p99) does not make the dependent too slow for a dependency that
/// moved as much as its other statistics did. Resource trouble, alerts and log bursts below
/// account for anything, and any trouble below accounts for resource, traffic or unknown
/// trouble, as the fault tree always had it.
fn accounts_for(dep: &[&Signal], own: &Signal, own_all: &[&Signal], by_calls: bool) -> bool {
    if !by_calls {
        return !dep.is_empty();
    }
    let fo = family(own);
    let q = quantity(&own.name);
    // How far the dependent moved on this quantity: this statistic's deviation, but no more
    // than the quantity's median over its statistics in trouble.
    let size = deviation(own).unwrap_or(0.0).min(quantity_deviation(own_all, &q));
    dep.iter().any(|d| match (fo, family(d)) {
        (Some(Family::Traffic), _) | (_, Some(Family::Traffic)) => false,
        (None | Some(Family::Other), _) | (_, None | Some(Family::Other)) => true,
        (Some(a), Some(b)) => {
            (a == b || (a, b) == (Family::Latency, Family::Errors))
                && (quantity(&d.name) != q || deviation(d).unwrap_or(0.0) >= ACCOUNT_FRACTION * size)
        }
    })
}

/// How far an entity moved on one quantity: the median deviation of its metric signals on that
/// quantity (`latency_average`, `latency_p50`, `latency_p99` are all `latency`), 0 if none.
/// The statistics of a quantity move together when the quantity moves; the median is not
/// swayed by one of them alone.
fn quantity_deviation(signals: &[&Signal], q: &str) -> f64 {
    let mut d: Vec<f64> = signals.iter().filter(|s| quantity(&s.name) == q).filter_map(|s| deviation(s)).collect();
    d.sort_by(f64::total_cmp);
    match d.len() {
        0 => 0.0,
        n if n % 2 == 1 => d[n / 2],
        n => (d[n / 2 - 1] + d[n / 2]) / 2.0,
    }
}

/// Sort key for evidence paths of equal length: the entity ids along them.
fn path_ids(path: &[Hop]) -> impl Iterator<Item = &str> {
    path.iter().map(|h| h.from.as_str())
}

/// The path from a walk's start down to `target`, as hops from dependent to dependency.
fn path_to(walk: &Parents, target: NodeIndex, topology: &Topology) -> Vec<Hop> {
    let mut hops = Vec::new();
    let mut at = target;
    while let Some(Some((parent, relation))) = walk.get(&at) {
        hops.push(Hop { from: topology.id_of(*parent).clone(), relation: *relation, to: topology.id_of(at).clone() });
        at = *parent;
    }
    hops.reverse();
    hops
}

/// One line saying what is wrong where.
pub fn summary(s: &Signal) -> String {
    match s.kind {
        // Its name says it all: "cpu_utilisation at 100% for 1m (saturated at ≥ 95%, expected
        // 1% ± 2%)".
        SignalKind::Anomaly if is_saturation(s) => format!("{} on {}", s.name, s.entity),
        SignalKind::Anomaly => match (s.value, s.baseline) {
            (Some(v), Some(b)) => {
                format!("{} anomaly on {} ({}, expected {})", s.name, s.entity, short(v), short(b.expected))
            }
            _ => format!("{} anomaly on {}", s.name, s.entity),
        },
        SignalKind::Alert => format!("{} on {}", s.name, s.entity),
        SignalKind::LogBurst => format!("error log burst on {}: {}", s.entity, s.name),
    }
}

/// A number with about three significant digits, for summaries.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A lead in whole minutes, for summaries: "27m".
fn minutes(ms: i64) -> String {
    format!("{}m", ms / 60_000)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A change seen on an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeenChange {
    pub at: Timestamp,
    pub change: ChangeKind,
    pub description: String,
}

/// Recent changes per entity, bounded. Written in entity order.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLog {
    #[serde(with = "sorted_pairs")]
    by_entity: HashMap<EntityId, VecDeque<SeenChange>>,
}

/// Changes kept per entity; older ones fall off.
const CHANGES_PER_ENTITY: usize = 32;

impl ChangeLog {
    pub fn record(&mut self, entity: &EntityId, change: SeenChange) {
        let q = self.by_entity.entry(entity.clone()).or_default();
        if q.len() == CHANGES_PER_ENTITY {
            q.pop_front();
        }
        q.push_back(change);
    }

    /// Forgets the changes of every entity whose latest change is at or before `cutoff`.
    pub fn retire(&mut self, cutoff: Timestamp) {
        self.by_entity.retain(|_, q| q.back().is_some_and(|c| c.at > cutoff));
    }

    /// Entities with changes kept, in no particular order.
    pub fn entities(&self) -> impl Iterator<Item = &EntityId> {
        self.by_entity.keys()
    }

    fn on(&self, entity: &EntityId) -> impl Iterator<Item = &SeenChange> {
        self.by_entity.get(entity).into_iter().flatten()
    }
}

/// Hops of the vertical stack searched for changes, up and down from a candidate.
const STACK_DEPTH: u32 = 4;

/// The foundational cause: the latest change within `window_ms` before onset on the best
/// candidate that has one, on the candidate itself or on its vertical stack (what it runs on and
/// what runs on it). Onset is the candidate's own first breach, or the problem's `onset` if later:
/// a fault that broke inside an older, longer problem is judged by when it broke.
pub fn foundational(
    candidates: &[Candidate],
    onset: Timestamp,
    window_ms: i64,
    topology: &Topology,
    changes: &ChangeLog,
) -> Option<ChangeRecord> {
    for c in candidates {
        let Some(n) = topology.node(&c.entity) else { continue };
        let onset = onset.max(c.first_breach);
        // (entity, how it relates to the candidate), the candidate first.
        let mut stack: Vec<(EntityId, String)> = vec![(c.entity.clone(), "on the root cause itself".to_string())];
        for dir in [Direction::Outgoing, Direction::Incoming] {
            let walk = topology.walk(n, STACK_DEPTH, dir, Some(RelationKind::RunsOn));
            let parents: Parents = walk.iter().copied().collect();
            for (m, _) in walk.iter().skip(1) {
                let chain = stack_chain(&parents, *m, dir, topology);
                stack.push((topology.id_of(*m).clone(), format!("on the root cause's stack ({chain})")));
            }
        }
        let mut best: Option<(&SeenChange, &EntityId, &str)> = None;
        for (entity, relation) in &stack {
            for ch in changes.on(entity) {
                let before = onset.since(ch.at);
                if !(0..=window_ms).contains(&before) {
                    continue;
                }
                // Latest wins; on a tie the earlier entry in `stack` (the candidate first) wins.
                if best.is_none_or(|(b, _, _)| ch.at > b.at) {
                    best = Some((ch, entity, relation));
                }
            }
        }
        if let Some((ch, entity, relation)) = best {
            let before = humantime::format_duration(std::time::Duration::from_secs((onset.since(ch.at) / 1000) as u64));
            return Some(ChangeRecord {
                at: ch.at,
                entity: entity.clone(),
                change: ch.change,
                description: ch.description.clone(),
                reason: format!("{} {relation}, {before} before onset", ch.change.as_str()),
            });
        }
    }
    None
}

/// The *runs on* chain between a stack member and the candidate, e.g.
/// `database:orders runs on process:postgres runs on host:db-1`.
fn stack_chain(parents: &Parents, member: NodeIndex, dir: Direction, topology: &Topology) -> String {
    let mut ids = vec![topology.id_of(member).as_str()];
    let mut at = member;
    while let Some(Some((p, _))) = parents.get(&at) {
        ids.push(topology.id_of(*p).as_str());
        at = *p;
    }
    // `ids` runs member → candidate; written as dependent "runs on" dependency.
    if dir == Direction::Outgoing {
        ids.reverse();
    }
    ids.join(" runs on ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Baseline, Relation, Severity};

    fn topo(edges: &[(&str, RelationKind, &str)]) -> Topology {
        let mut t = Topology::new();
        for (a, k, b) in edges {
            t.relate(&Relation {
                from: EntityId::new(*a),
                kind: *k,
                to: EntityId::new(*b),
                learned_from: String::new(),
            });
        }
        t
    }

    fn sig(entity: &str, name: &str, kind: SignalKind, score: f64, first: i64) -> Signal {
        Signal {
            key: SignalKey(format!("{}:{entity}:{name}", kind.as_str())),
            kind,
            entity: EntityId::new(entity),
            name: name.to_string(),
            severity: Severity::Major,
            first_seen: Timestamp(first),
            last_seen: Timestamp(first),
            count: 1,
            active: true,
            score,
            value: Some(0.97),
            baseline: Some(Baseline { expected: 0.3, lower: 0.2, upper: 0.4 }),
            labels: Default::default(),
            mark: None,
        }
    }

    #[test]
    fn the_lowest_affected_entity_with_healthy_dependencies_ranks_first_with_its_paths() {
        use RelationKind::*;
        let t = topo(&[
            ("service:frontend", Calls, "service:checkout"),
            ("service:checkout", Calls, "database:orders"),
            ("service:catalog", Calls, "database:orders"),
            ("database:orders", RunsOn, "host:db-1"),
            ("service:checkout", RunsOn, "host:app-1"),
        ]);
        let s = [
            sig("service:frontend", "error_rate", SignalKind::Anomaly, 0.9, 120_000),
            sig("service:checkout", "latency", SignalKind::Anomaly, 0.95, 60_000),
            sig("service:catalog", "latency", SignalKind::Anomaly, 0.95, 60_000),
            sig("database:orders", "query_latency", SignalKind::Anomaly, 0.9, 30_000),
            sig("host:db-1", "cpu_utilisation", SignalKind::Anomaly, 0.99, 0),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        assert_eq!(c.len(), 1, "only host:db-1 has healthy dependencies: {c:?}");
        assert_eq!(c[0].entity, EntityId::new("host:db-1"));
        assert_eq!((c[0].explains, c[0].affected), (5, 5));
        assert_eq!(c[0].summary, "cpu_utilisation anomaly on host:db-1 (0.97, expected 0.30)");
        // The longest path runs frontend → checkout → orders → db-1.
        let longest = c[0].evidence.last().unwrap();
        let ids: Vec<&str> = longest.iter().map(|h| h.from.as_str()).collect();
        assert_eq!(ids, ["service:frontend", "service:checkout", "database:orders"]);
        assert_eq!(longest[2].relation, RunsOn);
        assert_eq!(c[0].evidence.len(), 4);
    }

    #[test]
    fn two_independent_roots_are_ranked_by_what_they_explain_then_time() {
        use RelationKind::*;
        let t = topo(&[("service:a", Calls, "database:x"), ("service:b", Calls, "database:x")]);
        let s = [
            sig("service:a", "latency", SignalKind::Anomaly, 0.8, 0),
            sig("service:b", "latency", SignalKind::Anomaly, 0.8, 0),
            sig("database:x", "latency", SignalKind::Anomaly, 0.8, 0),
            sig("host:z", "cpu", SignalKind::Anomaly, 0.8, 0),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let ids: Vec<&str> = c.iter().map(|c| c.entity.as_str()).collect();
        assert_eq!(ids, ["database:x", "host:z"]);
        assert!(c[0].score > c[1].score);
    }

    #[test]
    fn one_surprising_sample_is_weaker_evidence_than_trouble_that_lasted() {
        use RelationKind::*;
        // Two independent roots that explain as much: database:x broke a minute earlier, on one
        // sample never seen again (raised at once); database:y lasted three samples.
        let t = topo(&[("service:a", Calls, "database:x"), ("service:b", Calls, "database:y")]);
        let mut lasted = sig("database:y", "cpu", SignalKind::Anomaly, 1.0, 60_000);
        lasted.count = 3;
        let mut a = sig("service:a", "cpu", SignalKind::Anomaly, 1.0, 60_000);
        a.count = 3;
        let mut b = sig("service:b", "cpu", SignalKind::Anomaly, 1.0, 60_000);
        b.count = 3;
        let s = [a, b, sig("database:x", "cpu", SignalKind::Anomaly, 1.0, 0), lasted];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let ids: Vec<&str> = c.iter().map(|c| c.entity.as_str()).collect();
        assert_eq!(ids, ["database:y", "database:x"], "{c:?}");
        assert_eq!((c[0].explains, c[1].explains), (2, 2));
        assert_eq!((c[0].strength, c[1].strength), (1.0, 0.5));
        assert!(c[1].first_breach < c[0].first_breach);
    }

    fn metric_sig(entity: &str, name: &str, first: i64, value: f64, expected: f64) -> Signal {
        let mut s = sig(entity, name, SignalKind::Anomaly, 0.95, first);
        s.value = Some(value);
        let half = (expected.abs() * 0.2).max(1e-3);
        s.baseline = Some(Baseline { expected, lower: expected - half, upper: expected + half });
        s
    }

    #[test]
    fn which_way_is_worse_comes_from_the_metric_name() {
        use Worse::*;
        for (name, worse) in [
            ("latency_p99_ms", Up),
            ("http_request_duration_seconds", Up),
            ("error_rate", Up),
            ("failed_requests_total", Up),
            ("cpu_utilisation", Up),
            ("queue_depth", Up),
            ("availability_average", Down),
            ("filesystem_free_ratio", Down),
            ("memory_available_bytes", Down),
            ("requests_sum", Down),
            ("transactions_per_second", Down),
            ("active_connections", Either),
        ] {
            assert_eq!(worse_direction(name), worse, "{name}");
        }
        let faster = metric_sig("service:a", "latency_average", 0, 0.05, 0.2);
        let slower = metric_sig("service:a", "latency_average", 0, 0.5, 0.2);
        assert!(!is_trouble(&faster) && is_trouble(&slower));
        assert!(is_trouble(&sig("service:a", "HighLatency", SignalKind::Alert, 0.5, 0)));
    }

    #[test]
    fn a_dependency_slightly_off_on_the_same_quantity_does_not_explain_a_large_breach() {
        use RelationKind::*;
        let t = topo(&[("service:site", Calls, "service:pay"), ("service:pay", Calls, "database:adoptions")]);
        // The database is 2 ms slower (p99, and it broke first); the service 470 ms slower on
        // average, which makes the site slower too.
        let s = [
            metric_sig("database:adoptions", "latency_p99", 0, 0.0056, 0.0038),
            metric_sig("service:pay", "latency_average", 300_000, 0.658, 0.185),
            metric_sig("service:site", "latency_average", 300_000, 0.4, 0.089),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let ids: Vec<&str> = c.iter().map(|c| c.entity.as_str()).collect();
        assert_eq!(ids, ["service:pay", "database:adoptions"]);
        assert_eq!((c[0].explains, c[1].explains), (2, 1));
        assert_eq!(
            c[0].evidence,
            vec![vec![Hop { from: EntityId::new("service:site"), relation: Calls, to: EntityId::new("service:pay") }]]
        );
        // A database 300 ms slower does account for it: it is the one root.
        let s = [
            metric_sig("database:adoptions", "latency_p99", 0, 0.3, 0.0038),
            metric_sig("service:pay", "latency_average", 300_000, 0.658, 0.185),
            metric_sig("service:site", "latency_average", 300_000, 0.4, 0.089),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].entity.as_str(), c[0].explains), ("database:adoptions", 3));
        // Down the vertical stack any trouble accounts: the host under the database.
        let t = topo(&[("database:adoptions", RunsOn, "host:db-1")]);
        let s = [
            metric_sig("database:adoptions", "latency_p99", 0, 0.0056, 0.0038),
            sig("host:db-1", "cpu", SignalKind::Anomaly, 0.9, 0),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].entity, EntityId::new("host:db-1"));
    }

    #[test]
    fn one_tail_statistic_far_beyond_the_rest_does_not_hide_the_dependency_that_moved_as_much() {
        use RelationKind::*;
        let t = topo(&[("service:gateway", Calls, "service:lambda"), ("service:lambda", Calls, "function:updater")]);
        // The function got about 250 ms slower on every statistic it reports in trouble; the
        // lambda wrapping it as much, and its p99 (one slow request at low traffic) 1.6 s.
        let slower = |entity: &str, p99: Option<f64>| {
            let mut v = vec![
                metric_sig(entity, "latency_average", 0, 0.23, 0.05),
                metric_sig(entity, "latency_p50", 0, 0.30, 0.05),
                metric_sig(entity, "latency_p90", 0, 0.37, 0.08),
            ];
            v.extend(p99.map(|x| metric_sig(entity, "latency_p99", 0, x, 0.15)));
            v
        };
        let mut s = slower("function:updater", None);
        s.extend(slower("service:lambda", Some(1.78)));
        s.extend(slower("service:gateway", Some(1.78)));
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].entity.as_str(), c[0].explains), ("function:updater", 3));
        // A lambda slower on most statistics than the function explains stays a root of its
        // own: the median, not the one statistic, is what the function must match half of.
        let mut s = slower("function:updater", None);
        s.extend([
            metric_sig("service:lambda", "latency_average", 0, 1.9, 0.05),
            metric_sig("service:lambda", "latency_p50", 0, 1.7, 0.05),
            metric_sig("service:lambda", "latency_p90", 0, 0.37, 0.08),
        ]);
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let mut roots: Vec<(&str, usize)> = c.iter().map(|c| (c.entity.as_str(), c.explains)).collect();
        roots.sort();
        assert_eq!(roots, [("function:updater", 1), ("service:lambda", 1)], "{c:?}");
        assert!((quantity_deviation(&refs[3..], "latency") - 1.65).abs() < 1e-9);
    }

    #[test]
    fn harmless_moves_traffic_and_healthy_services_in_between_make_no_root() {
        use RelationKind::*;
        let t = topo(&[
            ("service:site", Calls, "service:pay"),
            ("service:pay", Calls, "service:gateway"),
            ("service:gateway", Calls, "database:pets"),
            ("service:pay", Calls, "queue:jobs"),
        ]);
        let s = [
            // Failing payments: the site fails and slows down.
            metric_sig("service:pay", "availability_average", 300_000, 86.0, 100.0),
            metric_sig("service:site", "availability_average", 300_000, 97.0, 100.0),
            metric_sig("service:site", "latency_p99", 300_000, 1.0, 0.4),
            // Fewer calls reach the queue (traffic comes from above: no root)...
            metric_sig("queue:jobs", "requests_sum", 300_000, 77.0, 95.0),
            // ...the queue got faster (no trouble)...
            metric_sig("queue:jobs", "latency_average", 0, 0.001, 0.01),
            // ...and a slow database behind a healthy gateway explains nothing above it.
            metric_sig("database:pets", "latency_average", 0, 0.9, 0.3),
        ];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let ids: Vec<&str> = c.iter().map(|c| c.entity.as_str()).collect();
        assert_eq!(ids, ["service:pay", "database:pets"]);
        assert_eq!((c[0].explains, c[0].affected), (2, 4));
        assert_eq!(c[0].signals, [SignalKey("anomaly:service:pay:availability_average".into())]);
        // The evidence keeps the signal with the baseline it broke.
        let b = &c[0].broke[0];
        assert_eq!((b.name.as_str(), b.value), ("availability_average", Some(86.0)));
        assert_eq!(b.baseline.map(|b| b.expected), Some(100.0));
    }

    #[test]
    fn trouble_below_explains_trouble_above_only_if_it_was_news_before_it() {
        use RelationKind::*;
        let t = topo(&[("service:site", Calls, "service:pay"), ("service:pay", Calls, "database:x")]);
        const MIN: i64 = 60_000;
        let alert = |e: &str, first: i64| sig(e, "Alert", SignalKind::Alert, 0.85, first);
        let ranked = |s: &[Signal]| {
            let refs: Vec<&Signal> = s.iter().collect();
            rank(&refs, &t, 6, 20).into_iter().map(|c| (c.entity.0, c.explains)).collect::<Vec<_>>()
        };
        let ids = |v: &[(&str, usize)]| v.iter().map(|(e, n)| (e.to_string(), *n)).collect::<Vec<_>>();
        // Broke first, or within the slack after: the one root.
        let s = [alert("database:x", 0), alert("service:pay", MIN), alert("service:site", 2 * MIN)];
        assert_eq!(ranked(&s), ids(&[("database:x", 3)]));
        let s = [alert("database:x", 4 * MIN), alert("service:pay", 0), alert("service:site", MIN)];
        assert_eq!(ranked(&s), ids(&[("database:x", 3)]));
        // Broke well after: it cannot have caused what was already broken.
        let s = [alert("database:x", 9 * MIN), alert("service:pay", 0), alert("service:site", MIN)];
        assert_eq!(ranked(&s), ids(&[("service:pay", 2), ("database:x", 1)]));
        // Already over when pay broke: no cause either.
        let mut over = alert("database:x", 0);
        (over.active, over.last_seen) = (false, Timestamp(2 * MIN));
        let s = [over, alert("service:pay", 10 * MIN), alert("service:site", 11 * MIN)];
        assert_eq!(ranked(&s), ids(&[("service:pay", 2), ("database:x", 1)]));
        // In trouble a whole window before (chronic): explains nothing, no credit for being first.
        let s = [alert("database:x", 0), alert("service:pay", 20 * MIN), alert("service:site", 21 * MIN)];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        assert_eq!(c[0].entity.as_str(), "service:pay");
        assert_eq!(c[1].entity.as_str(), "database:x");
        assert!(
            c[1].summary.ends_with("as anomalous before onset (20m before the trouble above it)"),
            "{}",
            c[1].summary
        );
        // ...unless something new happened on it at onset (the disk was filling, now it is full).
        let s = [
            alert("database:x", 0),
            sig("database:x", "DiskFull", SignalKind::Alert, 1.0, 19 * MIN),
            alert("service:pay", 20 * MIN),
            alert("service:site", 21 * MIN),
        ];
        assert_eq!(ranked(&s), ids(&[("database:x", 3)]));
    }

    /// A log burst is read as it is written: seen 4 minutes after the trouble above it began, it
    /// cannot be what caused it (an alert or an anomaly seen that late can: their `for` and
    /// samples in a row delay them); seen within a minute, it can.
    #[test]
    fn a_log_burst_seen_minutes_after_the_trouble_above_it_is_not_its_cause() {
        use RelationKind::*;
        let t = topo(&[("service:site", Calls, "service:pay"), ("service:pay", Calls, "database:x")]);
        const MIN: i64 = 60_000;
        let alert = |e: &str, first: i64| sig(e, "Alert", SignalKind::Alert, 0.85, first);
        let burst = |first: i64| sig("database:x", "could not serialize access", SignalKind::LogBurst, 0.85, first);
        let ranked = |s: &[Signal]| {
            let refs: Vec<&Signal> = s.iter().collect();
            rank(&refs, &t, 6, 20).into_iter().map(|c| (c.entity.0, c.explains)).collect::<Vec<_>>()
        };
        let ids = |v: &[(&str, usize)]| v.iter().map(|(e, n)| (e.to_string(), *n)).collect::<Vec<_>>();
        let s = [burst(4 * MIN), alert("service:pay", 0), alert("service:site", MIN)];
        assert_eq!(ranked(&s), ids(&[("service:pay", 2), ("database:x", 1)]));
        let s = [alert("database:x", 4 * MIN), alert("service:pay", 0), alert("service:site", MIN)];
        assert_eq!(ranked(&s), ids(&[("database:x", 3)]));
        let s = [burst(MIN), alert("service:pay", 0), alert("service:site", MIN)];
        assert_eq!(ranked(&s), ids(&[("database:x", 3)]));
    }

    /// A 4-minute blip on a container that ended as its service's half-hour outage began
    /// explains none of it; trouble below that lasted about as long as the trouble above (or is
    /// still going) does, and a dependent recovering a while after it still counts as its effect.
    #[test]
    fn a_short_blip_below_does_not_explain_trouble_above_that_outlasts_it_by_far() {
        use RelationKind::*;
        let t = topo(&[("service:site", Calls, "service:shop"), ("service:shop", RunsOn, "container:shop-1")]);
        const MIN: i64 = 60_000;
        let episode = |e: &str, name: &str, from: i64, to: i64, active: bool| {
            let mut s = sig(e, name, SignalKind::Anomaly, 1.0, from * MIN);
            (s.last_seen, s.active, s.count) = (Timestamp(to * MIN), active, ((to - from) as u64).max(1) + 1);
            s
        };
        let ranked = |s: &[Signal]| {
            let refs: Vec<&Signal> = s.iter().collect();
            rank(&refs, &t, 6, 20).into_iter().map(|c| (c.entity.0, c.explains)).collect::<Vec<_>>()
        };
        let ids = |v: &[(&str, usize)]| v.iter().map(|(e, n)| (e.to_string(), *n)).collect::<Vec<_>>();
        let above = |end: i64| {
            [
                episode("service:shop", "latency_p99_ms", 3, end, false),
                episode("service:site", "latency_p99_ms", 3, end, false),
            ]
        };
        // The blip (0-4 min) and 30 minutes of trouble above that began within it.
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 4, false)];
        s.extend(above(33));
        assert_eq!(ranked(&s), ids(&[("service:shop", 2), ("container:shop-1", 1)]));
        // Trouble below for 25 minutes, the service recovering 8 minutes after it: its effect.
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 25, false)];
        s.extend(above(33));
        assert_eq!(ranked(&s), ids(&[("container:shop-1", 3)]));
        // Still going, however short so far: its effect.
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 4, true)];
        s.extend(above(33));
        assert_eq!(ranked(&s), ids(&[("container:shop-1", 3)]));
        // Within the slack after a blip: its effect (a scrape or an alert's `for` apart).
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 2, false)];
        s.extend(above(6));
        assert_eq!(ranked(&s), ids(&[("container:shop-1", 3)]));
        // A later trouble of the container's, 18 minutes after the blip and still going, keeps
        // nothing going that the blip explained: a separate episode (it used to make the whole
        // container's trouble "still going"). One that follows within the slack continues it.
        let mut s = vec![
            episode("container:shop-1", "cpu_utilisation", 0, 4, false),
            episode("container:shop-1", "memory_utilisation", 22, 33, true),
        ];
        s.extend(above(33));
        assert_eq!(ranked(&s), ids(&[("service:shop", 2), ("container:shop-1", 1)]));
        let mut s = vec![
            episode("container:shop-1", "cpu_utilisation", 0, 4, false),
            episode("container:shop-1", "memory_utilisation", 8, 33, true),
        ];
        s.extend(above(33));
        assert_eq!(ranked(&s), ids(&[("container:shop-1", 3)]));
        // The same blip raised from a series scraped every minute, in two samples: its end was
        // seen at most 2 minutes late, not 5, so trouble going on 4 minutes after it (longer
        // than the blip lasted) is not its effect; 2 minutes after it still is.
        struct Lag;
        impl RunStart for Lag {
            fn since(&self, s: &Signal) -> Timestamp {
                s.first_seen
            }
            fn lag(&self, _: &Signal) -> Option<i64> {
                Some(2 * MIN)
            }
        }
        let lagged = |s: &[Signal]| {
            let refs: Vec<&Signal> = s.iter().collect();
            let ranking = rank_timed(&refs, &Lag, Timing::default(), &t, 6, 20);
            ranking.into_iter().map(|c| (c.entity.0, c.explains)).collect::<Vec<_>>()
        };
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 2, false)];
        s.extend(above(6));
        assert_eq!(lagged(&s), ids(&[("service:shop", 2), ("container:shop-1", 1)]));
        let mut s = vec![episode("container:shop-1", "cpu_utilisation", 0, 2, false)];
        s.extend(above(4));
        assert_eq!(lagged(&s), ids(&[("container:shop-1", 3)]));
    }

    /// A pod's CPU blip that ended minutes before its service's own, longer fault (errors for
    /// 15 minutes, which the blip does not account for: they outlast it by far) broke first, but
    /// caused nothing: it gets no credit for breaking first, and the service's fault ranks
    /// first. Without the service's trouble above it, the blip is the only candidate. The same
    /// holds for a fault of the caller above a healthy service.
    #[test]
    fn a_blip_below_trouble_it_does_not_explain_gets_no_credit_for_breaking_first() {
        use RelationKind::*;
        let t = topo(&[("service:site", Calls, "service:shop"), ("service:shop", RunsOn, "container:shop-1")]);
        const MIN: i64 = 60_000;
        let episode = |e: &str, name: &str, from: i64, to: i64| {
            let mut s = sig(e, name, SignalKind::Anomaly, 1.0, from * MIN);
            (s.last_seen, s.active, s.count) = (Timestamp(to * MIN), false, ((to - from) as u64).max(1) + 1);
            s
        };
        let blip = episode("container:shop-1", "cpu_utilisation", 0, 2);
        let fault = episode("service:shop", "error_rate", 5, 20);
        let ranking = rank(&[&blip, &fault], &t, 6, 20);
        let order: Vec<(&str, usize)> = ranking.iter().map(|c| (c.entity.as_str(), c.explains)).collect();
        assert_eq!(order, [("service:shop", 1), ("container:shop-1", 1)]);
        let ranking = rank(&[&blip], &t, 6, 20);
        assert_eq!(ranking[0].entity.as_str(), "container:shop-1");
        // The same with the trouble on the caller and the service between healthy: the walk
        // down from the site stops at the healthy shop, and the blip is still passed over.
        let fault = episode("service:site", "error_rate", 5, 20);
        let ranking = rank(&[&blip, &fault], &t, 6, 20);
        let order: Vec<(&str, usize)> = ranking.iter().map(|c| (c.entity.as_str(), c.explains)).collect();
        assert_eq!(order, [("service:site", 1), ("container:shop-1", 1)]);
    }

    #[test]
    fn foundational_cause_is_the_latest_change_on_the_stack_before_onset() {
        use RelationKind::*;
        let t = topo(&[
            ("database:orders", RunsOn, "process:postgres"),
            ("process:postgres", RunsOn, "host:db-1"),
            ("service:frontend", RunsOn, "host:web-1"),
        ]);
        let mut log = ChangeLog::default();
        let ch =
            |at: i64, d: &str| SeenChange { at: Timestamp(at), change: ChangeKind::Deployment, description: d.into() };
        log.record(&EntityId::new("database:orders"), ch(1_000, "too early"));
        log.record(&EntityId::new("database:orders"), ch(3_000_000, "v2.15"));
        log.record(&EntityId::new("host:web-1"), ch(3_200_000, "decoy, not on the stack"));
        log.record(&EntityId::new("host:db-1"), ch(3_400_000, "after onset"));
        let s = [sig("host:db-1", "cpu_utilisation", SignalKind::Anomaly, 0.99, 3_300_000)];
        let refs: Vec<&Signal> = s.iter().collect();
        let c = rank(&refs, &t, 6, 20);
        let f = foundational(&c, Timestamp(3_300_000), 1_800_000, &t, &log).expect("linked");
        assert_eq!(f.entity, EntityId::new("database:orders"));
        assert_eq!(f.description, "v2.15");
        assert_eq!(
            f.reason,
            "deployment on the root cause's stack (database:orders runs on process:postgres runs on host:db-1), \
             5m before onset"
        );
        assert_eq!(foundational(&c, Timestamp(3_300_000), 60_000, &t, &log), None);
    }
}
