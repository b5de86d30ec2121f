//! Correlation: which problem a signal belongs to.
//!
//! A signal joins an open problem when it is close in time (the problem saw activity within the
//! correlation window) and close in the topology: the signal's entity and one of the problem's
//! entities share a dependency within `hops` edges (each entity's dependency closure includes
//! itself, so "A depends on B" and "A and B both depend on C" both count). A signal that matches
//! several open problems shows they are one: they merge into the oldest.

use super::topology::Topology;
use crate::model::{Candidate, ChangeRecord, EntityId, Impact, ProblemId, Severity, SignalKey, Timestamp};
use petgraph::stable_graph::NodeIndex;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Where a problem stands in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Open,
    Resolved { at: Timestamp },
    Merged { into: ProblemId },
}

/// The engine's working state of one problem. The UI never sees this: it folds the events.
#[derive(Debug, Clone)]
pub struct ProblemState {
    pub id: ProblemId,
    pub phase: Phase,
    pub signals: BTreeSet<SignalKey>,
    /// Affected entities and how many of the problem's signals sit on each.
    pub entities: BTreeMap<EntityId, u32>,
    /// Earliest first-seen time of its signals.
    pub onset: Timestamp,
    /// Data time of the last attach, repeat or update.
    pub last_activity: Timestamp,
    /// When every signal is clear: the time the last one cleared.
    pub all_clear_since: Option<Timestamp>,
    pub severity: Severity,
    /// What was last emitted, so only changes become events.
    pub ranking: Vec<Candidate>,
    pub foundational: Option<ChangeRecord>,
    pub impact: Impact,
    /// Union of the dependency closures of its entities, and the topology generation it was
    /// computed at.
    closure: HashSet<NodeIndex>,
    closure_generation: Option<u64>,
}

impl ProblemState {
    pub fn new(id: ProblemId, at: Timestamp, severity: Severity) -> ProblemState {
        ProblemState {
            id,
            phase: Phase::Open,
            signals: BTreeSet::new(),
            entities: BTreeMap::new(),
            onset: at,
            last_activity: at,
            all_clear_since: None,
            severity,
            ranking: Vec::new(),
            foundational: None,
            impact: Impact::default(),
            closure: HashSet::new(),
            closure_generation: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Adds a signal on `entity`; keeps the closure current when the topology has not changed.
    pub fn add_signal(&mut self, key: SignalKey, entity: &EntityId, topology: &mut Topology, hops: u32) {
        if !self.signals.insert(key) {
            return;
        }
        *self.entities.entry(entity.clone()).or_insert(0) += 1;
        if self.closure_generation == Some(topology.generation()) {
            if let Some(n) = topology.node(entity) {
                self.closure.extend(topology.closure(n, hops).iter().copied());
            }
        }
    }

    /// True when `entity`'s dependency closure meets this problem's.
    pub fn near(&mut self, entity: &EntityId, topology: &mut Topology, hops: u32) -> bool {
        self.refresh_closure(topology, hops);
        match topology.node(entity) {
            Some(n) => topology.closure(n, hops).iter().any(|m| self.closure.contains(m)),
            None => false,
        }
    }

    fn refresh_closure(&mut self, topology: &mut Topology, hops: u32) {
        if self.closure_generation == Some(topology.generation()) {
            return;
        }
        self.closure.clear();
        for e in self.entities.keys() {
            if let Some(n) = topology.node(e) {
                self.closure.extend(topology.closure(n, hops).iter().copied());
            }
        }
        self.closure_generation = Some(topology.generation());
    }
}

/// All problems the engine knows, by id. Ids count up from 1.
#[derive(Debug, Default)]
pub struct Problems {
    by_id: BTreeMap<ProblemId, ProblemState>,
    next: u64,
    /// Open problems whose signals are all clear, by the time they resolve.
    deadlines: BTreeSet<(Timestamp, ProblemId)>,
    /// The same, by problem, so a cancel removes exactly its entry.
    deadline_of: BTreeMap<ProblemId, Timestamp>,
}

impl Problems {
    pub fn get(&self, id: ProblemId) -> Option<&ProblemState> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: ProblemId) -> Option<&mut ProblemState> {
        self.by_id.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProblemState> {
        self.by_id.values()
    }

    /// Creates a problem and returns its id.
    pub fn open(&mut self, at: Timestamp, severity: Severity) -> ProblemId {
        self.next += 1;
        let id = ProblemId(self.next);
        self.by_id.insert(id, ProblemState::new(id, at, severity));
        id
    }

    /// Open problems active within `window_ms` before `at` whose topology meets `entity`'s,
    /// oldest first.
    pub fn matching(
        &mut self,
        entity: &EntityId,
        at: Timestamp,
        window_ms: i64,
        topology: &mut Topology,
        hops: u32,
    ) -> Vec<ProblemId> {
        let mut out = Vec::new();
        for p in self.by_id.values_mut() {
            if p.is_open() && at.since(p.last_activity) <= window_ms && p.near(entity, topology, hops) {
                out.push(p.id);
            }
        }
        out
    }

    /// Schedules (or cancels, with `None`) the resolution of `id`.
    pub fn set_deadline(&mut self, id: ProblemId, deadline: Option<Timestamp>) {
        if let Some(old) = self.deadline_of.remove(&id) {
            self.deadlines.remove(&(old, id));
        }
        if let Some(t) = deadline {
            self.deadlines.insert((t, id));
            self.deadline_of.insert(id, t);
        }
    }

    /// Removes and returns the problems whose resolution time is at or before `now`, earliest
    /// first.
    pub fn due(&mut self, now: Timestamp) -> Vec<(Timestamp, ProblemId)> {
        let mut out = Vec::new();
        while let Some(first) = self.deadlines.first().copied() {
            if first.0 > now {
                break;
            }
            self.deadlines.pop_first();
            self.deadline_of.remove(&first.1);
            out.push(first);
        }
        out
    }
}
