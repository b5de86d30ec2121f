//! Root cause, first cut of the fault tree, and the foundational cause.
//!
//! From each affected entity the walk looks down its dependencies (what it runs on, what it
//! calls) up to `max_depth` hops. An affected entity none of whose dependencies within that depth
//! is affected is a root candidate: its own trouble is not explained by anything below it. Each
//! candidate is scored by how much of the problem it explains (affected entities whose walk
//! reaches it), how early it broke and how strong its evidence is, and keeps the paths that tie
//! the affected entities to it. If dependency cycles leave no such entity, every affected entity
//! competes on the same score.

use super::topology::Topology;
use crate::model::{Candidate, ChangeKind, ChangeRecord, EntityId, Hop, RelationKind, Signal, SignalKind, Timestamp};
use petgraph::stable_graph::NodeIndex;
use petgraph::Direction;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Each reached node with the edge it was reached by (`None` for the start of the walk).
type Parents = HashMap<NodeIndex, Option<(NodeIndex, RelationKind)>>;

/// Weights of the candidate score (they sum to 1).
const W_EXPLAINS: f64 = 0.5;
const W_EARLY: f64 = 0.25;
const W_STRENGTH: f64 = 0.25;
/// Earliness halves about every 3.5 minutes after onset (e-folding time of 5 minutes).
const EARLY_FOLD_MS: f64 = 300_000.0;
/// Candidates kept in a ranking.
const MAX_CANDIDATES: usize = 10;

/// Ranks the root-cause candidates of a problem whose signals are `signals` (any order).
pub fn rank(signals: &[&Signal], topology: &Topology, max_depth: u32, max_paths: usize) -> Vec<Candidate> {
    // Affected entities with their signals, by id (deterministic order).
    let mut affected: BTreeMap<&EntityId, Vec<&Signal>> = BTreeMap::new();
    for s in signals {
        affected.entry(&s.entity).or_default().push(s);
    }
    if affected.is_empty() {
        return Vec::new();
    }
    let onset = signals.iter().map(|s| s.first_seen).min().unwrap_or_default();
    let nodes: BTreeMap<&EntityId, NodeIndex> =
        affected.keys().filter_map(|id| topology.node(id).map(|n| (*id, n))).collect();
    let affected_nodes: HashMap<NodeIndex, &EntityId> = nodes.iter().map(|(id, n)| (*n, *id)).collect();

    // One downward walk per affected entity, with parents for the evidence paths.
    let walks: BTreeMap<&EntityId, Parents> = nodes
        .iter()
        .map(|(id, n)| (*id, topology.walk(*n, max_depth, Direction::Outgoing, None).into_iter().collect()))
        .collect();

    let healthy_below = |id: &EntityId| -> bool {
        match (walks.get(id), nodes.get(id)) {
            (Some(w), Some(n)) => w.keys().all(|m| m == n || !affected_nodes.contains_key(m)),
            // Not in the topology: nothing known below it.
            _ => true,
        }
    };
    let mut roots: Vec<&EntityId> = affected.keys().copied().filter(|id| healthy_below(id)).collect();
    if roots.is_empty() {
        roots = affected.keys().copied().collect();
    }

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
            let strength = strongest.score.clamp(0.0, 1.0);
            let first_breach = own.iter().map(|s| s.first_seen).min().unwrap_or(onset);
            let node = nodes.get(id).copied();
            // Who reaches this candidate going down: the entities it explains, with paths.
            let mut paths: Vec<Vec<Hop>> = Vec::new();
            let mut explains = 1;
            if let Some(target) = node {
                for (other, walk) in &walks {
                    if *other == id || !walk.contains_key(&target) {
                        continue;
                    }
                    explains += 1;
                    paths.push(path_to(walk, target, topology));
                }
            }
            paths.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| path_ids(a).cmp(path_ids(b))));
            paths.truncate(max_paths);
            let early = (-(first_breach.since(onset).max(0) as f64) / EARLY_FOLD_MS).exp();
            let score = W_EXPLAINS * explains as f64 / total as f64 + W_EARLY * early + W_STRENGTH * strength;
            Candidate {
                entity: id.clone(),
                entity_kind: topology.kind_of(id),
                score: round4(score),
                summary: summary(strongest),
                signals: ordered.iter().map(|s| s.key.clone()).collect(),
                strength: round4(strength),
                first_breach,
                explains,
                affected: total,
                evidence: paths,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.first_breach.cmp(&b.first_breach)).then(a.entity.cmp(&b.entity))
    });
    candidates.truncate(MAX_CANDIDATES);
    candidates
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

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A change seen on an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenChange {
    pub at: Timestamp,
    pub change: ChangeKind,
    pub description: String,
}

/// Recent changes per entity, bounded.
#[derive(Debug, Default)]
pub struct ChangeLog {
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

    fn on(&self, entity: &EntityId) -> impl Iterator<Item = &SeenChange> {
        self.by_entity.get(entity).into_iter().flatten()
    }
}

/// Hops of the vertical stack searched for changes, up and down from a candidate.
const STACK_DEPTH: u32 = 4;

/// The foundational cause: the latest change within `window_ms` before `onset` on the best
/// candidate that has one, on the candidate itself or on its vertical stack (what it runs on and
/// what runs on it).
pub fn foundational(
    candidates: &[Candidate],
    onset: Timestamp,
    window_ms: i64,
    topology: &Topology,
    changes: &ChangeLog,
) -> Option<ChangeRecord> {
    for c in candidates {
        let Some(n) = topology.node(&c.entity) else { continue };
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
    use crate::model::{Baseline, Relation, Severity, SignalKey};

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
