//! The entity graph: *runs on* (vertical stack) and *calls* (horizontal) edges over petgraph.
//!
//! Edges point from the dependent to its dependency (`service -calls-> database`,
//! `container -runs on-> host`), so "what can explain this entity's trouble" is a walk along
//! outgoing edges.
//!
//! Two voices describe the graph: discovery (every source but a topology file) and the
//! operator's topology file (`learned_from = "static"`). They are merged, never overwritten:
//! - An entity's description is discovery's latest one with the file's declaration laid over it:
//!   the file's `name` (when given), its `labels` (added to discovery's, the file winning on a
//!   key both give) and its `criticality` (the file is where criticality comes from). Discovery's
//!   `kind` wins when it is more than the guess from the id's prefix (`host:` → host): discovery
//!   sees what the thing is; otherwise the file's kind counts.
//!   So a file block with only `id` and `criticality` keeps every label discovery learned, and a
//!   discovery source that announces the entity again does not wipe the file's criticality.
//! - A relation stands while either voice states it; each withdraws only its own word
//!   (`RelationGone`, `EntityGone` with the matching `learned_from`).
//! - An entity stands while either voice knows it (or an edge still touches it, for entities
//!   only the file declared).

pub mod history;

pub use history::{TopologyChange, TopologyHistory};

use crate::model::{Entity, EntityId, EntityKind, ObservationKind, Relation, RelationKind, STATIC};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use petgraph::Direction;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// One edge and whose word it stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edge {
    kind: RelationKind,
    /// Stated by a discovery source.
    discovered: bool,
    /// Stated by a topology file.
    declared: bool,
}

/// What a topology file declares about an entity and what discovery says underneath.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    declaration: Entity,
    /// Discovery's description (`None`: only the file knows the entity).
    base: Option<Entity>,
}

/// The live topology. Lookups are by [`EntityId`]; iteration order is always by id.
#[derive(Debug, Default, Clone)]
pub struct Topology {
    graph: StableDiGraph<EntityId, Edge>,
    index: super::FastMap<EntityId, NodeIndex>,
    /// The effective description of every entity (discovery merged with the file).
    entities: BTreeMap<EntityId, Entity>,
    /// Entities a topology file declares.
    declared: BTreeMap<EntityId, Declared>,
    /// Bumped on every structural change, so cached walks know they are stale.
    generation: u64,
    closures: HashMap<(NodeIndex, u32), Vec<NodeIndex>>,
}

/// A [`Topology`] as a snapshot writes it: nodes and edges by entity id, sorted, so neither the
/// graph's indices nor its free slots reach the bytes. Node indices carry no meaning (every walk
/// visits neighbours by id, caches are keyed by index only within one graph), so a graph rebuilt
/// from this behaves as the one written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyState {
    nodes: Vec<EntityId>,
    /// `(from, to, edge)`, sorted by `(from, to, kind)`.
    edges: Vec<(EntityId, EntityId, Edge)>,
    entities: BTreeMap<EntityId, Entity>,
    declared: BTreeMap<EntityId, Declared>,
    generation: u64,
}

impl Serialize for Topology {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut nodes: Vec<EntityId> = self.index.keys().cloned().collect();
        nodes.sort();
        let mut edges: Vec<(EntityId, EntityId, Edge)> = self
            .graph
            .edge_references()
            .map(|e| (self.graph[e.source()].clone(), self.graph[e.target()].clone(), *e.weight()))
            .collect();
        edges.sort_by(|a, b| (&a.0, &a.1, a.2.kind).cmp(&(&b.0, &b.1, b.2.kind)));
        TopologyState {
            nodes,
            edges,
            entities: self.entities.clone(),
            declared: self.declared.clone(),
            generation: self.generation,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Topology {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Topology, D::Error> {
        use serde::de::Error;
        let state = TopologyState::deserialize(d)?;
        let mut t = Topology {
            entities: state.entities,
            declared: state.declared,
            generation: state.generation,
            ..Topology::default()
        };
        for id in state.nodes {
            if t.index.contains_key(&id) {
                return Err(D::Error::custom(format!("topology node `{id}` is listed twice")));
            }
            let n = t.graph.add_node(id.clone());
            t.index.insert(id, n);
        }
        for (from, to, edge) in state.edges {
            let (Some(&a), Some(&b)) = (t.index.get(&from), t.index.get(&to)) else {
                return Err(D::Error::custom(format!(
                    "topology edge `{from}` {} `{to}` names a node that is not listed",
                    edge.kind.verb()
                )));
            };
            if t.graph.edges_connecting(a, b).any(|e| e.weight().kind == edge.kind) {
                return Err(D::Error::custom(format!(
                    "topology edge `{from}` {} `{to}` is listed twice",
                    edge.kind.verb()
                )));
            }
            t.graph.add_edge(a, b, edge);
        }
        Ok(t)
    }
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

/// Discovery's description (or the bare one of an entity a signal named) with a file's
/// declaration laid over it.
fn merged(base: Option<&Entity>, declaration: &Entity) -> Entity {
    let Some(base) = base else { return declaration.clone() };
    let mut e = base.clone();
    // A kind guessed from the id never beats one the file states.
    if base.kind == kind_from_id(base.id.as_str()) {
        e.kind = declaration.kind;
    }
    if !declaration.name.is_empty() {
        e.name = declaration.name.clone();
    }
    e.labels.extend(declaration.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    e.criticality = declaration.criticality;
    e.learned_from = STATIC.to_string();
    e
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

    /// Adds or updates an entity: a discovery source's description replaces discovery's last
    /// one, a topology file's (`learned_from = "static"`) is laid over it (see the module doc).
    /// Returns whether anything changed.
    pub fn upsert(&mut self, entity: Entity) -> bool {
        let known = self.index.contains_key(&entity.id);
        self.ensure(&entity.id);
        let id = entity.id.clone();
        let effective = if entity.is_static() {
            let base = match self.declared.remove(&id) {
                Some(d) => d.base,
                // Known before the file said anything: discovery (or a signal) named it.
                None if known => self.entities.get(&id).cloned(),
                None => None,
            };
            let effective = merged(base.as_ref(), &entity);
            self.declared.insert(id.clone(), Declared { declaration: entity, base });
            effective
        } else if let Some(d) = self.declared.get_mut(&id) {
            let effective = merged(Some(&entity), &d.declaration);
            d.base = Some(entity);
            effective
        } else {
            entity
        };
        let changed = self.entities.get(&id) != Some(&effective);
        self.entities.insert(id, effective);
        changed || !known
    }

    /// The node of `id`, created (with a kind guessed from the id) if the topology has not seen it.
    pub fn ensure(&mut self, id: &EntityId) -> NodeIndex {
        if let Some(n) = self.index.get(id) {
            return *n;
        }
        let n = self.graph.add_node(id.clone());
        self.index.insert(id.clone(), n);
        self.entities.entry(id.clone()).or_insert_with(|| Entity::new(id.clone(), kind_from_id(id.as_str())));
        self.touch();
        n
    }

    /// Adds a relation (idempotent: one edge per `(from, kind, to)`, standing on the word of
    /// discovery, of a topology file, or both). Returns whether anything changed.
    pub fn relate(&mut self, r: &Relation) -> bool {
        let declared = r.is_static();
        // Sources state the same relations scrape after scrape: between known entities, one
        // lookup each and, for an edge that stands already, no allocation.
        if let (Some(&a), Some(&b)) = (self.index.get(&r.from), self.index.get(&r.to)) {
            if a == b {
                return false;
            }
            if let Some(e) = self.graph.edges_connecting(a, b).find(|e| e.weight().kind == r.kind).map(|e| e.id()) {
                let edge = &mut self.graph[e];
                let word = if declared { &mut edge.declared } else { &mut edge.discovered };
                let changed = !*word;
                *word = true;
                return changed;
            }
            self.graph.add_edge(a, b, Edge { kind: r.kind, discovered: !declared, declared });
            self.touch();
            return true;
        }
        // An entity new to the topology: it has no edge yet.
        let a = self.ensure(&r.from);
        let b = self.ensure(&r.to);
        if a != b {
            self.graph.add_edge(a, b, Edge { kind: r.kind, discovered: !declared, declared });
            self.touch();
        }
        true
    }

    /// Applies the topology fact an observation states (nothing for any other kind), borrowing
    /// its names: what [`TopologyChange::of`] then [`TopologyChange::apply`] do, without first
    /// copying the fact. Returns whether the topology changed.
    pub fn learn(&mut self, kind: &ObservationKind) -> bool {
        match kind {
            ObservationKind::Entity { entity } => self.upsert(entity.clone()),
            ObservationKind::Relation { relation } => self.relate(relation),
            ObservationKind::RelationGone { relation } => self.unrelate(relation),
            ObservationKind::EntityGone { entity, learned_from } => self.vanish(entity, learned_from),
            _ => false,
        }
    }

    /// Withdraws one voice's word for a relation (`r.learned_from` says whose); the edge goes
    /// when neither voice states it any more. Returns whether anything changed.
    pub fn unrelate(&mut self, r: &Relation) -> bool {
        let (Some(&a), Some(&b)) = (self.index.get(&r.from), self.index.get(&r.to)) else { return false };
        let Some(e) = self.graph.edges_connecting(a, b).find(|e| e.weight().kind == r.kind).map(|e| e.id()) else {
            return false;
        };
        let edge = &mut self.graph[e];
        let word = if r.is_static() { &mut edge.declared } else { &mut edge.discovered };
        if !*word {
            return false;
        }
        *word = false;
        if !edge.declared && !edge.discovered {
            self.graph.remove_edge(e);
            self.touch();
        }
        true
    }

    /// An entity vanished from discovery (or, with `learned_from = "static"`, from a topology
    /// file). An entity neither voice knows any more goes, with its relations; one the other
    /// voice still knows stays, without the gone voice's relations and description. Returns
    /// whether anything changed.
    pub fn vanish(&mut self, id: &EntityId, learned_from: &str) -> bool {
        let Some(&n) = self.index.get(id) else { return false };
        if learned_from == STATIC {
            let Some(d) = self.declared.remove(id) else { return false };
            self.drop_word(n, true);
            let keep = d.base.or_else(|| {
                // Only the file knew it: it stays bare while discovery's edges still touch it.
                let touched = self.graph.edges_directed(n, Direction::Outgoing).next().is_some()
                    || self.graph.edges_directed(n, Direction::Incoming).next().is_some();
                touched.then(|| Entity::new(id.clone(), kind_from_id(id.as_str())))
            });
            match keep {
                Some(e) => {
                    self.entities.insert(id.clone(), e);
                }
                None => self.remove(id),
            }
            return true;
        }
        match self.declared.get_mut(id) {
            Some(d) => {
                d.base = None;
                let effective = d.declaration.clone();
                self.drop_word(n, false);
                self.entities.insert(id.clone(), effective);
            }
            None => self.remove(id),
        }
        true
    }

    /// Withdraws one voice's word from every edge of `n`, removing edges left with none.
    fn drop_word(&mut self, n: NodeIndex, declared: bool) {
        let edges: Vec<_> = self
            .graph
            .edges_directed(n, Direction::Outgoing)
            .chain(self.graph.edges_directed(n, Direction::Incoming))
            .map(|e| e.id())
            .collect();
        let mut removed = false;
        for e in edges {
            let edge = &mut self.graph[e];
            if declared {
                edge.declared = false;
            } else {
                edge.discovered = false;
            }
            if !edge.declared && !edge.discovered {
                self.graph.remove_edge(e);
                removed = true;
            }
        }
        if removed {
            self.touch();
        }
    }

    /// Drops `id` when it is bare (what [`Topology::ensure`] makes for an entity only signals
    /// named: no description from discovery or a file) and has no relations. The engine retires
    /// such an entity once nothing names it any more; named again, it is made again, the same.
    /// Returns whether it went.
    pub fn retire_bare(&mut self, id: &EntityId) -> bool {
        let Some(&n) = self.index.get(id) else { return false };
        // The cheap test first: most entities have relations.
        let related = self.graph.edges_directed(n, Direction::Outgoing).next().is_some()
            || self.graph.edges_directed(n, Direction::Incoming).next().is_some();
        if related {
            return false;
        }
        let bare = self.entities.get(id).is_some_and(|e| *e == Entity::new(id.clone(), kind_from_id(id.as_str())));
        if !bare || self.declared.contains_key(id) {
            return false;
        }
        self.remove(id);
        true
    }

    /// The entities in the graph with no relation either way: the only ones
    /// [`Topology::retire_bare`] may take. In no particular order.
    pub fn unrelated(&self) -> impl Iterator<Item = &EntityId> {
        self.graph
            .node_indices()
            .filter(|&n| self.graph.neighbors_undirected(n).next().is_none())
            .map(|n| &self.graph[n])
    }

    /// Removes an entity and its relations, whoever stated them.
    pub fn remove(&mut self, id: &EntityId) {
        if let Some(n) = self.index.remove(id) {
            self.graph.remove_node(n);
            self.entities.remove(id);
            self.declared.remove(id);
            self.touch();
        }
    }

    /// Every relation, sorted by `(from, kind, to)`; `learned_from` is `static` for those a
    /// topology file states (whether or not discovery states them too), empty otherwise.
    pub fn relations(&self) -> Vec<Relation> {
        let mut v: Vec<Relation> = self
            .graph
            .edge_references()
            .map(|e| Relation {
                from: self.graph[e.source()].clone(),
                kind: e.weight().kind,
                to: self.graph[e.target()].clone(),
                learned_from: if e.weight().declared { STATIC.to_string() } else { String::new() },
            })
            .collect();
        v.sort();
        v
    }

    /// Direct dependencies of `n` (what it runs on and what it calls), sorted by id.
    pub fn dependencies(&self, n: NodeIndex) -> Vec<(RelationKind, NodeIndex)> {
        let mut v: Vec<(RelationKind, NodeIndex)> =
            self.graph.edges_directed(n, Direction::Outgoing).map(|e| (e.weight().kind, e.target())).collect();
        v.sort_by(|a, b| (&self.graph[a.1], a.0).cmp(&(&self.graph[b.1], b.0)));
        v
    }

    /// Direct dependents of `n` (what runs on it and what calls it), sorted by id.
    pub fn dependents(&self, n: NodeIndex) -> Vec<(RelationKind, NodeIndex)> {
        let mut v: Vec<(RelationKind, NodeIndex)> =
            self.graph.edges_directed(n, Direction::Incoming).map(|e| (e.weight().kind, e.source())).collect();
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

    #[test]
    fn learning_a_fact_borrowed_changes_what_applying_its_copy_changes() {
        use crate::model::Criticality;
        let (calls, runs_on) = (RelationKind::Calls, RelationKind::RunsOn);
        let relation = |r: Relation| ObservationKind::Relation { relation: r };
        let facts = vec![
            relation(rel("service:a", calls, "service:a")), // a new entity related to itself
            relation(rel("service:a", calls, "service:a")), // then known
            relation(rel("service:a", calls, "database:x")), // one end new
            relation(rel("service:a", calls, "database:x")), // the edge stands: nothing changes
            relation(static_rel("service:a", calls, "database:x")), // the file's word too
            relation(rel("service:a", runs_on, "database:x")), // both known, another kind
            relation(rel("host:1", runs_on, "host:2")),     // both ends new
            ObservationKind::Entity { entity: declared("database:x", Criticality::High) },
            ObservationKind::RelationGone { relation: rel("service:a", calls, "database:x") },
            ObservationKind::EntityGone { entity: EntityId::new("host:2"), learned_from: String::new() },
            ObservationKind::Tick,
        ];
        let (mut borrowed, mut copied) = (Topology::new(), Topology::new());
        for fact in &facts {
            let by_copy = TopologyChange::of(fact).is_some_and(|c| c.apply(&mut copied));
            assert_eq!(borrowed.learn(fact), by_copy, "{fact:?}");
            assert_eq!(borrowed.generation(), copied.generation(), "{fact:?}");
        }
        assert_eq!(serde_json::to_string(&borrowed).unwrap(), serde_json::to_string(&copied).unwrap());
        assert_eq!(borrowed.relations().len(), 2, "the file still states a calls x; host:2 went with its edge");
    }

    fn declared(id: &str, criticality: crate::model::Criticality) -> Entity {
        Entity { criticality, learned_from: STATIC.into(), ..Entity::new(EntityId::new(id), kind_from_id(id)) }
    }

    fn static_rel(a: &str, k: RelationKind, b: &str) -> Relation {
        Relation { learned_from: STATIC.into(), ..rel(a, k, b) }
    }

    #[test]
    fn a_file_declaration_is_laid_over_discovery_not_instead_of_it() {
        use crate::model::Criticality;
        let id = EntityId::new("host:db-1");
        let mut found = Entity::new(id.clone(), EntityKind::Host);
        found.labels.insert("instance".into(), "db-1:9100".into());
        found.name = "db-1".into();
        let mut t = Topology::new();
        assert!(t.upsert(found.clone()));
        // A block with only id and criticality keeps what discovery learned.
        let mut decl = declared("host:db-1", Criticality::High);
        decl.labels.insert("team".into(), "storage".into());
        assert!(t.upsert(decl.clone()));
        let e = t.entity(&id).unwrap();
        assert_eq!((e.criticality, e.name.as_str(), e.kind), (Criticality::High, "db-1", EntityKind::Host));
        assert_eq!((e.labels["instance"].as_str(), e.labels["team"].as_str()), ("db-1:9100", "storage"));
        // Discovery announcing the entity again does not wipe the file's word.
        found.labels.insert("job".into(), "node".into());
        assert!(t.upsert(found.clone()));
        let e = t.entity(&id).unwrap();
        assert_eq!((e.criticality, e.labels.len()), (Criticality::High, 3));
        assert!(!t.upsert(found.clone()), "the same description again changes nothing");
        // The file drops it: discovery's description is left.
        assert!(t.vanish(&id, STATIC));
        assert_eq!(t.entity(&id), Some(&found));
        // A kind guessed from the id gives way to the one the file states.
        let mut ext = declared("payments", Criticality::Normal);
        ext.kind = EntityKind::External;
        t.ensure(&EntityId::new("payments"));
        t.upsert(ext);
        assert_eq!(t.kind_of(&EntityId::new("payments")), EntityKind::External);
    }

    #[test]
    fn each_voice_withdraws_only_its_own_word() {
        use crate::model::Criticality;
        let mut t = Topology::new();
        let (a, b) = ("service:a", "external:pay");
        t.upsert(declared(b, Criticality::High));
        t.relate(&static_rel(a, RelationKind::Calls, b));
        t.relate(&rel(a, RelationKind::Calls, b)); // discovery sees the same edge
        let g = t.generation();
        assert!(t.unrelate(&static_rel(a, RelationKind::Calls, b)));
        assert_eq!(t.relations().len(), 1, "discovery still states it");
        assert_eq!(t.generation(), g);
        assert!(!t.unrelate(&static_rel(a, RelationKind::Calls, b)), "withdrawn already");
        assert!(t.unrelate(&rel(a, RelationKind::Calls, b)));
        assert!(t.relations().is_empty());
        assert!(t.generation() > g);
        // An entity only the file knew goes with the file's word...
        assert!(t.vanish(&EntityId::new(b), STATIC));
        assert!(t.entity(&EntityId::new(b)).is_none());
        // ...unless discovery's edges still touch it.
        t.upsert(declared(b, Criticality::High));
        t.relate(&rel(a, RelationKind::Calls, b));
        t.vanish(&EntityId::new(b), STATIC);
        assert_eq!(t.entity(&EntityId::new(b)).map(|e| e.criticality), Some(Criticality::Normal));
        assert_eq!(t.relations().len(), 1);
        // Discovery losing an entity the file declares keeps the file's description and edges.
        t.upsert(declared(a, Criticality::Low));
        t.relate(&static_rel(a, RelationKind::RunsOn, "host:1"));
        t.vanish(&EntityId::new(a), "");
        assert_eq!(t.entity(&EntityId::new(a)).map(|e| e.criticality), Some(Criticality::Low));
        let left: Vec<String> =
            t.relations().iter().map(|r| format!("{} {} {}", r.from, r.kind.verb(), r.to)).collect();
        assert_eq!(left, vec!["service:a runs on host:1"]);
    }
}
