//! The detector's series ids by entity and metric name: one map keyed by the pair.
//!
//! Every metric observation looks its series up. A map by entity holding a map by metric name
//! hashed and compared twice per observation (about a fifth of the engine's time); one map keyed
//! by the pair hashes both names once and compares them once. The lookup borrows the
//! observation's names as they are (no key is built), through [`SeriesKey`]: the pair stored
//! and the pair asked for hash and compare alike.

use super::FastMap;
use crate::model::EntityId;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// A series' names as stored: its entity and its metric.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeriesName {
    entity: EntityId,
    metric: String,
}

/// An entity and a metric name, stored ([`SeriesName`]) or borrowed for a lookup (`(&str, &str)`).
trait SeriesKey {
    fn entity(&self) -> &str;
    fn metric(&self) -> &str;
}

impl SeriesKey for SeriesName {
    fn entity(&self) -> &str {
        &self.entity.0
    }
    fn metric(&self) -> &str {
        &self.metric
    }
}

impl SeriesKey for (&str, &str) {
    fn entity(&self) -> &str {
        self.0
    }
    fn metric(&self) -> &str {
        self.1
    }
}

impl<'a> Borrow<dyn SeriesKey + 'a> for SeriesName {
    fn borrow(&self) -> &(dyn SeriesKey + 'a) {
        self
    }
}

/// The pair's hash, the same whichever way it is held (as `Borrow` requires).
fn hash_pair<H: Hasher>(key: &dyn SeriesKey, state: &mut H) {
    key.entity().hash(state);
    key.metric().hash(state);
}

impl Hash for dyn SeriesKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_pair(self, state);
    }
}

impl Hash for SeriesName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_pair(self, state);
    }
}

impl PartialEq for dyn SeriesKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.entity() == other.entity() && self.metric() == other.metric()
    }
}

impl Eq for dyn SeriesKey + '_ {}

/// Series ids by entity and metric name.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesIds {
    ids: FastMap<SeriesName, u64>,
}

impl SeriesIds {
    /// The id of series `metric` of `entity`, if it has one.
    pub(crate) fn get(&self, entity: &EntityId, metric: &str) -> Option<u64> {
        self.ids.get(&(entity.0.as_str(), metric) as &dyn SeriesKey).copied()
    }

    /// Gives series `metric` of `entity` the id `id`; `false` if it had one (kept).
    pub(crate) fn insert(&mut self, entity: &EntityId, metric: &str, id: u64) -> bool {
        use std::collections::hash_map::Entry;
        match self.ids.entry(SeriesName { entity: entity.clone(), metric: metric.to_string() }) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(id);
                true
            }
        }
    }

    /// Number of series with an id.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every series' entity, metric and id, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&EntityId, &str, u64)> {
        self.ids.iter().map(|(name, &id)| (&name.entity, name.metric.as_str(), id))
    }

    /// The entities with a series (one per series: repeated).
    pub(crate) fn entities(&self) -> impl Iterator<Item = &EntityId> {
        self.ids.keys().map(|name| &name.entity)
    }

    /// Keeps the series for which `keep(entity, metric, id)` holds.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&EntityId, &str, u64) -> bool) {
        self.ids.retain(|name, id| keep(&name.entity, &name.metric, *id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_found_by_its_entity_and_metric_and_by_nothing_else() {
        let mut ids = SeriesIds::default();
        let (a, ab) = (EntityId::new("a"), EntityId::new("ab"));
        assert!(ids.insert(&a, "bc", 0));
        assert!(ids.insert(&ab, "c", 1), "the same letters split elsewhere are another series");
        assert!(ids.insert(&a, "c", 2));
        assert!(!ids.insert(&a, "bc", 9), "an id is never replaced");
        assert_eq!((ids.get(&a, "bc"), ids.get(&ab, "c"), ids.get(&a, "c")), (Some(0), Some(1), Some(2)));
        assert_eq!((ids.get(&ab, "bc"), ids.get(&EntityId::new("abc"), "")), (None, None));
        assert_eq!(ids.len(), 3);
        ids.retain(|e, m, _| !(e == &a && m == "bc"));
        assert_eq!((ids.get(&a, "bc"), ids.get(&a, "c")), (None, Some(2)));
        let mut all: Vec<_> = ids.iter().collect();
        all.sort_unstable();
        assert_eq!(all, vec![(&a, "c", 2), (&ab, "c", 1)]);
        assert_eq!(ids.entities().filter(|e| **e == a).count(), 1);
    }
}
