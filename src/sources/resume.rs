//! What the sources need of a journal to pick up where they were, kept as small as the estate.
//!
//! A source resumes by folding the observations it journaled ([`Source::restore`](super::Source::restore)):
//! how far each metric was pulled, which alerts it reported firing (so they can still resolve),
//! which entities and relations it announced, which changes it reported. Reading every retained
//! observation back for that made a resume cost as much as the retention window (1.9 M rows,
//! 8.9 s at 4,000 series every 15 s and 2 h of retention) and lost what retention had pruned (an
//! alert firing for longer than the retention window could never resolve).
//!
//! A [`ResumeSet`] is that fold's input compacted: per key, the newest observation a `restore`
//! reads, with what no `restore` reads left out (a metric keeps only its newest sample, a
//! backfill none). Replayed through `restore` it gives the state every journaled observation
//! would. The agent keeps one up to date with what it journals and stores it with each engine
//! snapshot, so a resume reads the snapshot's set plus the observations after the snapshot,
//! whatever the retention. It grows with series, entities, relations and firing alerts, not
//! with time; only changes (a few a day) accumulate, as the sources' own change memories do.
//!
//! Whatever a source's `restore` starts reading must be kept here too: the equivalence tests
//! below fold random streams both ways for every source.

use crate::model::{AlertState, ChangeKind, EntityId, Observation, ObservationKind, Relation, Timestamp};
use std::collections::BTreeMap;

/// Under which key only the newest observation counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Metric {
        source: String,
        entity: EntityId,
        metric: String,
    },
    History {
        source: String,
        entity: EntityId,
        metric: String,
    },
    Entity {
        source: String,
        entity: EntityId,
    },
    Relation {
        source: String,
        relation: Relation,
    },
    Alert {
        source: String,
        fingerprint: String,
    },
    Change {
        source: String,
        at: Timestamp,
        entity: EntityId,
        change: ChangeKind,
        description: String,
    },
    /// Log pattern counts: a source resumes its queries from the newest.
    LogPattern {
        source: String,
    },
}

/// The newest observation per key of what the sources' `restore` reads (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeSet {
    /// Key → (when it was last noted, the observation as kept).
    entries: BTreeMap<Key, (u64, Observation)>,
    noted: u64,
}

impl ResumeSet {
    pub fn new() -> ResumeSet {
        ResumeSet::default()
    }

    /// The set of these observations, fed in this order.
    pub fn of<'a>(observations: impl IntoIterator<Item = &'a Observation>) -> ResumeSet {
        let mut set = ResumeSet::new();
        for obs in observations {
            set.note(obs);
        }
        set
    }

    /// Takes a journaled observation into account.
    pub fn note(&mut self, obs: &Observation) {
        let source = || obs.source.clone();
        self.noted += 1;
        let order = self.noted;
        match &obs.kind {
            ObservationKind::Metric { entity, metric, samples } => {
                let Some(&newest) = samples.last() else { return };
                let key = Key::Metric { source: source(), entity: entity.clone(), metric: metric.clone() };
                let kept = self.entries.entry(key).or_insert_with(|| {
                    let kind = ObservationKind::Metric {
                        entity: entity.clone(),
                        metric: metric.clone(),
                        samples: vec![newest],
                    };
                    (order, Observation { at: obs.at, source: obs.source.clone(), kind })
                });
                kept.0 = order;
                kept.1.at = obs.at;
                if let ObservationKind::Metric { samples, .. } = &mut kept.1.kind {
                    // A restore takes the newest sample ever pulled, whatever came after it.
                    if samples.first().is_none_or(|&(t, _)| newest.0 > t) {
                        *samples = vec![newest];
                    }
                }
            }
            ObservationKind::History { entity, metric, .. } => {
                let kind =
                    ObservationKind::History { entity: entity.clone(), metric: metric.clone(), samples: Vec::new() };
                let key = Key::History { source: source(), entity: entity.clone(), metric: metric.clone() };
                self.entries.insert(key, (order, Observation { at: obs.at, source: source(), kind }));
            }
            ObservationKind::Entity { entity } => {
                self.entries.insert(Key::Entity { source: source(), entity: entity.id.clone() }, (order, obs.clone()));
            }
            ObservationKind::EntityGone { entity, .. } => {
                self.entries.remove(&Key::Entity { source: source(), entity: entity.clone() });
            }
            ObservationKind::Relation { relation } => {
                self.entries
                    .insert(Key::Relation { source: source(), relation: relation.clone() }, (order, obs.clone()));
            }
            ObservationKind::RelationGone { relation } => {
                self.entries.remove(&Key::Relation { source: source(), relation: relation.clone() });
            }
            ObservationKind::Alert { fingerprint, state, .. } => {
                let key = Key::Alert { source: source(), fingerprint: fingerprint.clone() };
                match state {
                    AlertState::Firing => {
                        self.entries.insert(key, (order, obs.clone()));
                    }
                    AlertState::Resolved => {
                        self.entries.remove(&key);
                    }
                }
            }
            ObservationKind::Change { entity, change, description } => {
                let key = Key::Change {
                    source: source(),
                    at: obs.at,
                    entity: entity.clone(),
                    change: *change,
                    description: description.clone(),
                };
                self.entries.insert(key, (order, obs.clone()));
            }
            ObservationKind::LogPattern { .. } => {
                let key = Key::LogPattern { source: source() };
                if self.entries.get(&key).is_none_or(|(_, kept)| obs.at >= kept.at) {
                    self.entries.insert(key, (order, obs.clone()));
                }
            }
            ObservationKind::LogLines { .. }
            | ObservationKind::Tick
            | ObservationKind::Silence { .. }
            | ObservationKind::RunbookStarted { .. }
            | ObservationKind::RunbookFinished { .. }
            | ObservationKind::Kpi { .. }
            | ObservationKind::Traffic { .. } => {}
        }
    }

    /// The kept observations, in the order they were last noted.
    pub fn observations(&self) -> Vec<Observation> {
        let mut kept: Vec<&(u64, Observation)> = self.entries.values().collect();
        kept.sort_by_key(|(order, _)| *order);
        kept.into_iter().map(|(_, o)| o.clone()).collect()
    }

    /// How many observations are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The set as stored with a snapshot: its observations as a JSON array, in order.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.observations())
    }

    /// A stored set read back (`what` names it in the error).
    pub fn from_json(text: &str) -> Result<ResumeSet, serde_json::Error> {
        let observations: Vec<Observation> = serde_json::from_str(text)?;
        Ok(ResumeSet::of(&observations))
    }
}

#[cfg(test)]
mod tests;
