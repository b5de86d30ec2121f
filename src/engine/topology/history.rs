//! The topology through time: every structural change (an entity or relation appearing,
//! changing or vanishing) with the data time it was learned, so the graph can be shown as of any
//! moment (the replay scrubber, the topology of a past incident).
//!
//! The history is a function of the observations alone (no detection, no config): the engine
//! builds it as it ingests observations, and [`TopologyHistory::from_observations`] builds the
//! same one from a journal's observations for a replay.
//!
//! Memory is bounded: at most `max_changes` changes are kept one by one; older ones are folded
//! into a base topology, so the moments before the oldest kept change can no longer be shown
//! ([`TopologyHistory::as_of`] says `None`). A kept change costs its
//! `size_of::<(Timestamp, TopologyChange)>()` (see [`CHANGE_INLINE_BYTES`]) plus its strings
//! (ids, name, labels) on the heap; the base costs what the live topology of that moment costs.

use super::Topology;
use crate::model::{Entity, EntityId, Observation, ObservationKind, Relation, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Changes kept one by one when no bound is given: about 20 MB with 60-byte ids.
pub const DEFAULT_MAX_CHANGES: usize = 100_000;

/// Bytes a kept change takes inline, before its strings.
pub const CHANGE_INLINE_BYTES: usize = std::mem::size_of::<(Timestamp, TopologyChange)>();

/// One structural change, as the observation that stated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopologyChange {
    /// An entity appeared, or its description changed.
    Entity(Entity),
    /// A relation was stated.
    Relation(Relation),
    /// A relation was withdrawn (by the voice its `learned_from` names).
    RelationGone(Relation),
    /// An entity vanished (from discovery, or with `learned_from = "static"` from a topology file).
    EntityGone { entity: EntityId, learned_from: String },
}

impl TopologyChange {
    /// The change an observation states, if it is a topology fact.
    pub fn of(kind: &ObservationKind) -> Option<TopologyChange> {
        Some(match kind {
            ObservationKind::Entity { entity } => TopologyChange::Entity(entity.clone()),
            ObservationKind::Relation { relation } => TopologyChange::Relation(relation.clone()),
            ObservationKind::RelationGone { relation } => TopologyChange::RelationGone(relation.clone()),
            ObservationKind::EntityGone { entity, learned_from } => {
                TopologyChange::EntityGone { entity: entity.clone(), learned_from: learned_from.clone() }
            }
            _ => return None,
        })
    }

    /// Applies the change; returns whether the topology changed.
    pub fn apply(&self, topology: &mut Topology) -> bool {
        match self {
            TopologyChange::Entity(e) => topology.upsert(e.clone()),
            TopologyChange::Relation(r) => topology.relate(r),
            TopologyChange::RelationGone(r) => topology.unrelate(r),
            TopologyChange::EntityGone { entity, learned_from } => topology.vanish(entity, learned_from),
        }
    }
}

/// Every structural change of the topology with its data time; see the module doc.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyHistory {
    /// The topology with every forgotten change applied.
    base: Topology,
    /// Data time of the latest forgotten change (`None`: nothing forgotten yet).
    forgotten_until: Option<Timestamp>,
    /// Kept changes, in the order learned; their times never go down.
    changes: VecDeque<(Timestamp, TopologyChange)>,
    max_changes: usize,
    /// Latest data time seen in any observation.
    now: Option<Timestamp>,
}

impl Default for TopologyHistory {
    fn default() -> Self {
        TopologyHistory::new(DEFAULT_MAX_CHANGES)
    }
}

impl TopologyHistory {
    /// An empty history keeping at most `max_changes` changes one by one (at least 1).
    pub fn new(max_changes: usize) -> TopologyHistory {
        TopologyHistory {
            base: Topology::new(),
            forgotten_until: None,
            changes: VecDeque::new(),
            max_changes: max_changes.max(1),
            now: None,
        }
    }

    /// The history the observations give, as the engine builds it live (for a replay).
    pub fn from_observations<'a>(
        observations: impl IntoIterator<Item = &'a Observation>,
        max_changes: usize,
    ) -> TopologyHistory {
        let mut h = TopologyHistory::new(max_changes);
        for obs in observations {
            h.observe(obs);
        }
        h
    }

    /// Takes one observation: data time advances to its time (never back), and a topology
    /// fact is recorded at that time. Sources announce only what is new, so every fact is kept
    /// as stated rather than checked against the graph first.
    pub fn observe(&mut self, obs: &Observation) {
        let now = self.now.map_or(obs.at, |n| n.max(obs.at));
        self.now = Some(now);
        if let Some(change) = TopologyChange::of(&obs.kind) {
            self.changes.push_back((now, change));
            while self.changes.len() > self.max_changes {
                if let Some((at, oldest)) = self.changes.pop_front() {
                    oldest.apply(&mut self.base);
                    self.forgotten_until = Some(at);
                }
            }
        }
    }

    /// The kept changes in the order learned, with their data times.
    pub fn changes(&self) -> impl Iterator<Item = &(Timestamp, TopologyChange)> {
        self.changes.iter()
    }

    /// The kept changes with `from < time <= to`: what a scrubber step passes over.
    pub fn changes_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Iterator<Item = &(Timestamp, TopologyChange)> {
        let start = self.changes.partition_point(|(at, _)| *at <= from);
        let end = self.changes.partition_point(|(at, _)| *at <= to);
        self.changes.range(start..end.max(start))
    }

    /// Changes kept one by one.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The earliest moment [`as_of`](Self::as_of) can still show, when older changes were folded
    /// away.
    pub fn forgotten_until(&self) -> Option<Timestamp> {
        self.forgotten_until
    }

    /// The topology as it was at data time `t` (every change learned at or before `t`), or
    /// `None` when `t` is before the changes this history still keeps. Costs a copy of the base
    /// plus the kept changes up to `t`.
    pub fn as_of(&self, t: Timestamp) -> Option<Topology> {
        if self.forgotten_until.is_some_and(|f| t < f) {
            return None;
        }
        let mut topology = self.base.clone();
        for (_, change) in self.changes.iter().take_while(|(at, _)| *at <= t) {
            change.apply(&mut topology);
        }
        Some(topology)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Criticality, RelationKind, STATIC};

    fn obs(secs: i64, kind: ObservationKind) -> Observation {
        Observation { at: Timestamp(secs * 1000), source: "test".into(), kind }
    }

    fn calls(a: &str, b: &str) -> ObservationKind {
        let relation = Relation {
            from: EntityId::new(a),
            kind: RelationKind::Calls,
            to: EntityId::new(b),
            learned_from: String::new(),
        };
        ObservationKind::Relation { relation }
    }

    fn ids(t: &Topology) -> Vec<String> {
        t.entities().map(|e| e.id.0.clone()).collect()
    }

    fn story() -> Vec<Observation> {
        let mut high = Entity::new(EntityId::new("external:pay"), crate::model::EntityKind::External);
        high.criticality = Criticality::High;
        high.learned_from = STATIC.into();
        let gone_rel = match calls("service:a", "service:b") {
            ObservationKind::Relation { relation } => ObservationKind::RelationGone { relation },
            _ => unreachable!(),
        };
        vec![
            obs(10, calls("service:a", "service:b")),
            obs(20, ObservationKind::Entity { entity: high }),
            obs(25, ObservationKind::Tick),
            obs(30, calls("service:a", "external:pay")),
            obs(40, gone_rel),
            obs(35, ObservationKind::EntityGone { entity: EntityId::new("service:b"), learned_from: String::new() }),
        ]
    }

    #[test]
    fn as_of_shows_what_had_appeared_and_not_yet_vanished() {
        let h = TopologyHistory::from_observations(&story(), DEFAULT_MAX_CHANGES);
        assert_eq!(h.len(), 5);
        assert!(ids(&h.as_of(Timestamp(9_999)).unwrap()).is_empty());
        assert_eq!(ids(&h.as_of(Timestamp(10_000)).unwrap()), vec!["service:a", "service:b"]);
        let t = h.as_of(Timestamp(30_000)).unwrap();
        assert_eq!(ids(&t), vec!["external:pay", "service:a", "service:b"]);
        assert_eq!(t.relations().len(), 2);
        assert_eq!(t.entity(&EntityId::new("external:pay")).unwrap().criticality, Criticality::High);
        // The late observation (35 s after one at 40 s) counts at 40 s: time never goes back.
        let t = h.as_of(Timestamp(40_000)).unwrap();
        assert_eq!(ids(&t), vec!["external:pay", "service:a"]);
        assert_eq!(t.relations().len(), 1);
        let passed: Vec<Timestamp> =
            h.changes_between(Timestamp(10_000), Timestamp(30_000)).map(|(at, _)| *at).collect();
        assert_eq!(passed, vec![Timestamp(20_000), Timestamp(30_000)]);
    }

    #[test]
    fn a_bounded_history_folds_its_oldest_changes_away() {
        let full = TopologyHistory::from_observations(&story(), DEFAULT_MAX_CHANGES);
        let short = TopologyHistory::from_observations(&story(), 2);
        assert_eq!(short.len(), 2);
        assert_eq!(short.forgotten_until(), Some(Timestamp(30_000)));
        assert!(short.as_of(Timestamp(20_000)).is_none(), "folded away");
        for t in [30_000, 40_000, 99_000] {
            let (a, b) = (full.as_of(Timestamp(t)).unwrap(), short.as_of(Timestamp(t)).unwrap());
            assert_eq!((ids(&a), a.relations()), (ids(&b), b.relations()), "as of {t}");
        }
    }
}
