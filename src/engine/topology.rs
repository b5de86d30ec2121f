//! The entity graph: *runs on* (vertical stack) and *calls* (horizontal) edges over petgraph.
//!
//! Edges point from the dependent to its dependency (`service -calls-> database`,
//! `container -runs on-> host`), so "what can explain this entity's trouble" is a walk along
//! outgoing edges.

use crate::model::{Entity, EntityId, EntityKind, Relation, RelationKind};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// The live topology. Lookups are by [`EntityId`]; iteration order is always by id.
#[derive(Debug, Default, Clone)]
pub struct Topology {
    graph: StableDiGraph<EntityId, RelationKind>,
    index: HashMap<EntityId, NodeIndex>,
    entities: BTreeMap<EntityId, Entity>,
    /// Bumped on every structural change, so cached walks know they are stale.
    generation: u64,
    closures: HashMap<(NodeIndex, u32), Vec<NodeIndex>>,
}

/// Guesses an entity's kind from the prefix of its id, for entities that signals name before any
/// topology fact describes them (`host:db-1` → host). Unknown prefixes are services.
pub fn kind_from_id(id: &str) -> EntityKind {
    match id.split(':').next().unwrap_or("") {
        "host" | "node" | "instance" => EntityKind::Host,
        "container" => EntityKind::Container,
        "pod" => EntityKind::Pod,
        "process" => EntityKind::Process,
        "database" | "db" => EntityKind::Database,
        "queue" => EntityKind::Queue,
        "external" => EntityKind::External,
        "app" | "application" => EntityKind::Application,
        "cloud" => EntityKind::CloudResource,
        _ => EntityKind::Service,
    }
}

impl Topology {
    pub fn new() -> Topology {
        Topology::default()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn entity(&self, id: &EntityId) -> Option<&Entity> {
        self.entities.get(id)
    }

    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.entities.values()
    }

    pub fn kind_of(&self, id: &EntityId) -> EntityKind {
        self.entities.get(id).map(|e| e.kind).unwrap_or_else(|| kind_from_id(id.as_str()))
    }

    pub fn node(&self, id: &EntityId) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    pub fn id_of(&self, n: NodeIndex) -> &EntityId {
        &self.graph[n]
    }

    fn touch(&mut self) {
        self.generation += 1;
        self.closures.clear();
    }

    /// Adds or updates an entity.
    pub fn upsert(&mut self, entity: Entity) {
        self.ensure(&entity.id);
        self.entities.insert(entity.id.clone(), entity);
    }

    /// The node of `id`, created (with a kind guessed from the id) if the topology has not seen it.
    pub fn ensure(&mut self, id: &EntityId) -> NodeIndex {
        if let Some(n) = self.index.get(id) {
            return *n;
        }
        let n = self.graph.add_node(id.clone());
        self.index.insert(id.clone(), n);
        self.entities.entry(id.clone()).or_insert_with(|| Entity {
            id: id.clone(),
            kind: kind_from_id(id.as_str()),
            name: String::new(),
            labels: BTreeMap::new(),
            criticality: Default::default(),
        });
        self.touch();
        n
    }

    /// Adds a relation (idempotent: one edge per `(from, kind, to)`).
    pub fn relate(&mut self, r: &Relation) {
        let a = self.ensure(&r.from);
        let b = self.ensure(&r.to);
        let exists = self.graph.edges_connecting(a, b).any(|e| *e.weight() == r.kind);
        if !exists && a != b {
            self.graph.add_edge(a, b, r.kind);
            self.touch();
        }
    }

    /// Removes an entity and its relations.
    pub fn remove(&mut self, id: &EntityId) {
        if let Some(n) = self.index.remove(id) {
            self.graph.remove_node(n);
            self.entities.remove(id);
            self.touch();
        }
    }

    /// Direct dependencies of `n` (what it runs on and what it calls), sorted by id.
    pub fn dependencies(&self, n: NodeIndex) -> Vec<(RelationKind, NodeIndex)> {
        let mut v: Vec<(RelationKind, NodeIndex)> =
            self.graph.edges_directed(n, Direction::Outgoing).map(|e| (*e.weight(), e.target())).collect();
        v.sort_by(|a, b| (&self.graph[a.1], a.0).cmp(&(&self.graph[b.1], b.0)));
        v
    }

    /// Direct dependents of `n` (what runs on it and what calls it), sorted by id.
    pub fn dependents(&self, n: NodeIndex) -> Vec<(RelationKind, NodeIndex)> {
        let mut v: Vec<(RelationKind, NodeIndex)> =
            self.graph.edges_directed(n, Direction::Incoming).map(|e| (*e.weight(), e.source())).collect();
        v.sort_by(|a, b| (&self.graph[a.1], a.0).cmp(&(&self.graph[b.1], b.0)));
        v
    }

    /// `n` and everything it depends on within `hops` edges (breadth first), cached until the
    /// topology changes.
    pub fn closure(&mut self, n: NodeIndex, hops: u32) -> &[NodeIndex] {
        if !self.closures.contains_key(&(n, hops)) {
            let v = self.walk(n, hops, Direction::Outgoing, None).into_iter().map(|(m, _)| m).collect();
            self.closures.insert((n, hops), v);
        }
        &self.closures[&(n, hops)]
    }

    /// Breadth-first walk from `start` along `dir` up to `hops` edges, optionally only over
    /// `only` relations. Returns each reached node once with its parent edge (None for `start`),
    /// in BFS order with neighbours visited by id, so the result is deterministic.
    pub fn walk(
        &self,
        start: NodeIndex,
        hops: u32,
        dir: Direction,
        only: Option<RelationKind>,
    ) -> Vec<(NodeIndex, Option<(NodeIndex, RelationKind)>)> {
        let mut seen: HashSet<NodeIndex> = HashSet::from([start]);
        let mut out = vec![(start, None)];
        let mut queue = VecDeque::from([(start, 0u32)]);
        while let Some((n, d)) = queue.pop_front() {
            if d >= hops {
                continue;
            }
            let next = match dir {
                Direction::Outgoing => self.dependencies(n),
                Direction::Incoming => self.dependents(n),
            };
            for (rel, m) in next {
                if only.is_some_and(|k| k != rel) || !seen.insert(m) {
                    continue;
                }
                out.push((m, Some((n, rel))));
                queue.push_back((m, d + 1));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: &str, k: RelationKind, b: &str) -> Relation {
        Relation { from: EntityId::new(a), kind: k, to: EntityId::new(b), learned_from: String::new() }
    }

    #[test]
    fn closure_follows_dependencies_within_hops() {
        let mut t = Topology::new();
        t.relate(&rel("service:a", RelationKind::Calls, "database:x"));
        t.relate(&rel("database:x", RelationKind::RunsOn, "host:1"));
        t.relate(&rel("service:b", RelationKind::Calls, "service:a"));
        let b = t.node(&EntityId::new("service:b")).unwrap();
        let ids = |t: &mut Topology, h| -> Vec<String> {
            let c = t.closure(b, h).to_vec();
            c.iter().map(|n| t.id_of(*n).0.clone()).collect()
        };
        assert_eq!(ids(&mut t, 1), vec!["service:b", "service:a"]);
        assert_eq!(ids(&mut t, 3), vec!["service:b", "service:a", "database:x", "host:1"]);
        // Relations are idempotent and unknown entities get a kind from their id.
        let g = t.generation();
        t.relate(&rel("service:a", RelationKind::Calls, "database:x"));
        assert_eq!(t.generation(), g);
        assert_eq!(t.kind_of(&EntityId::new("host:1")), EntityKind::Host);
        t.remove(&EntityId::new("service:a"));
        assert_eq!(ids(&mut t, 3), vec!["service:b"]);
    }
}
