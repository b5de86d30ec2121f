//! The detector's series ids by entity and metric name, found by guessing the next series first.
//!
//! Every metric observation looks its series up. Sources deliver their series in the same order
//! scrape after scrape (a replay too), so the series asked for after series X is almost always
//! the one asked for after X last time: each series keeps the one that followed it, and that
//! guess is compared (lengths, then bytes) before anything is hashed. Hashing both names and
//! probing a map keyed by them was about a tenth of the engine's time, most of it waiting on
//! memory the detector's states had pushed out of the caches; the series are kept side by side
//! in the order they first reported, so a right guess reads the next entry of a stream.
//!
//! A wrong guess falls back to an index by the pair's 64-bit hash (entity and metric hashed
//! apart, so "a"+"bc" and "ab"+"c" differ); series whose pairs share a hash are chained, so a
//! collision costs a compare, never a wrong id.

use super::FastMap;
use crate::model::EntityId;
use std::cell::Cell;
use std::hash::BuildHasher;

/// No series (end of a chain, no guess yet).
const NONE: u32 = u32::MAX;

/// A series: its names, its id, and the series that followed it last time.
#[derive(Debug, Clone)]
struct Series {
    entity: EntityId,
    metric: String,
    id: u64,
    /// The slot of the series looked up right after this one last time (`NONE`: none yet).
    next: Cell<u32>,
    /// The next slot whose pair has the same hash (`NONE`: the last).
    chain: u32,
}

impl Series {
    fn is(&self, entity: &str, metric: &str) -> bool {
        self.entity.0 == entity && self.metric == metric
    }
}

/// Series ids by entity and metric name.
#[derive(Debug, Clone)]
pub(crate) struct SeriesIds {
    /// The series in the order they were given ids (compacted when some are retired).
    slots: Vec<Series>,
    /// The first slot of each pair hash.
    index: FastMap<u64, u32>,
    hasher: foldhash::fast::RandomState,
    /// The slot found last (`NONE`: none yet).
    last: Cell<u32>,
    /// Tests: every pair hashes alike, to exercise the chains.
    #[cfg(test)]
    collide: bool,
}

impl Default for SeriesIds {
    fn default() -> SeriesIds {
        SeriesIds {
            slots: Vec::new(),
            index: FastMap::default(),
            hasher: foldhash::fast::RandomState::default(),
            last: Cell::new(NONE),
            #[cfg(test)]
            collide: false,
        }
    }
}

impl SeriesIds {
    fn hash(&self, entity: &str, metric: &str) -> u64 {
        #[cfg(test)]
        if self.collide {
            return 0;
        }
        self.hasher.hash_one((entity, metric))
    }

    /// The slot of series `metric` of `entity`, by the index.
    fn find(&self, entity: &str, metric: &str) -> Option<u32> {
        let mut slot = *self.index.get(&self.hash(entity, metric))?;
        loop {
            let series = self.slots.get(slot as usize)?;
            if series.is(entity, metric) {
                return Some(slot);
            }
            slot = series.chain;
        }
    }

    /// Remembers `slot` as the series after the one found last, and as the one found last.
    fn follow(&self, slot: u32) {
        if let Some(previous) = self.slots.get(self.last.get() as usize) {
            previous.next.set(slot);
        }
        self.last.set(slot);
    }

    /// The id of series `metric` of `entity`, if it has one.
    pub(crate) fn get(&self, entity: &EntityId, metric: &str) -> Option<u64> {
        let (entity, last) = (entity.as_str(), self.last.get());
        let guess = self.slots.get(last as usize).map_or(NONE, |s| s.next.get());
        if let Some(series) = self.slots.get(guess as usize).filter(|s| s.is(entity, metric)) {
            self.last.set(guess);
            return Some(series.id);
        }
        let slot = self.find(entity, metric)?;
        self.follow(slot);
        self.slots.get(slot as usize).map(|s| s.id)
    }

    /// Gives series `metric` of `entity` the id `id`; `false` if it had one (kept).
    pub(crate) fn insert(&mut self, entity: &EntityId, metric: &str, id: u64) -> bool {
        if self.find(entity.as_str(), metric).is_some() {
            return false;
        }
        let slot = self.slots.len() as u32;
        let chain = self.index.insert(self.hash(entity.as_str(), metric), slot).unwrap_or(NONE);
        let next = Cell::new(NONE);
        self.slots.push(Series { entity: entity.clone(), metric: metric.to_string(), id, next, chain });
        self.follow(slot);
        true
    }

    /// Number of series with an id.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Every series' entity, metric and id, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&EntityId, &str, u64)> {
        self.slots.iter().map(|s| (&s.entity, s.metric.as_str(), s.id))
    }

    /// The entities with a series (one per series: repeated).
    pub(crate) fn entities(&self) -> impl Iterator<Item = &EntityId> {
        self.slots.iter().map(|s| &s.entity)
    }

    /// Keeps the series for which `keep(entity, metric, id)` holds. The others' slots close up
    /// (the kept keep their order) and the guesses start over.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&EntityId, &str, u64) -> bool) {
        let before = self.slots.len();
        self.slots.retain(|s| keep(&s.entity, &s.metric, s.id));
        if self.slots.len() == before {
            return;
        }
        self.index.clear();
        self.last.set(NONE);
        for slot in 0..self.slots.len() {
            let hash = self.hash(self.slots[slot].entity.as_str(), &self.slots[slot].metric);
            let chain = self.index.insert(hash, slot as u32).unwrap_or(NONE);
            let series = &mut self.slots[slot];
            series.chain = chain;
            series.next.set(NONE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found_alike(collide: bool) {
        let mut ids = SeriesIds { collide, ..SeriesIds::default() };
        let (a, ab) = (EntityId::new("a"), EntityId::new("ab"));
        assert!(ids.insert(&a, "bc", 0));
        assert!(ids.insert(&ab, "c", 1), "the same letters split elsewhere are another series");
        assert!(ids.insert(&a, "c", 2));
        assert!(!ids.insert(&a, "bc", 9), "an id is never replaced");
        assert_eq!((ids.get(&a, "bc"), ids.get(&ab, "c"), ids.get(&a, "c")), (Some(0), Some(1), Some(2)));
        assert_eq!((ids.get(&ab, "bc"), ids.get(&EntityId::new("abc"), "")), (None, None));
        assert_eq!(ids.len(), 3);
        ids.retain(|e, m, _| !(e == &a && m == "bc"));
        assert_eq!((ids.get(&a, "bc"), ids.get(&a, "c"), ids.get(&ab, "c")), (None, Some(2), Some(1)));
        let mut all: Vec<_> = ids.iter().collect();
        all.sort_unstable();
        assert_eq!(all, vec![(&a, "c", 2), (&ab, "c", 1)]);
        assert_eq!(ids.entities().filter(|e| **e == a).count(), 1);
        assert!(ids.insert(&a, "bc", 3), "a retired series comes back with a new id");
        assert_eq!((ids.get(&a, "bc"), ids.get(&ab, "c"), ids.get(&a, "c")), (Some(3), Some(1), Some(2)));
    }

    #[test]
    fn a_series_is_found_by_its_entity_and_metric_and_by_nothing_else() {
        found_alike(false);
    }

    #[test]
    fn pairs_that_share_a_hash_are_told_apart() {
        found_alike(true);
    }

    #[test]
    fn the_series_that_followed_last_time_is_guessed_and_a_wrong_guess_costs_nothing_else() {
        let mut ids = SeriesIds::default();
        let hosts: Vec<EntityId> = (0..5).map(|h| EntityId::new(format!("host:h-{h}"))).collect();
        for (id, host) in hosts.iter().enumerate() {
            assert!(ids.insert(host, "cpu", id as u64));
        }
        let guessed = |ids: &SeriesIds, slot: usize| ids.slots[slot].next.get();
        assert_eq!((guessed(&ids, 0), guessed(&ids, 3), guessed(&ids, 4)), (1, 4, NONE));
        // A round in another order: every answer is right, and the guesses follow the new order.
        for h in [4, 2, 0, 3, 1] {
            assert_eq!(ids.get(&hosts[h], "cpu"), Some(h as u64));
        }
        assert_eq!((guessed(&ids, 4), guessed(&ids, 2), guessed(&ids, 0), guessed(&ids, 3)), (2, 0, 3, 1));
        assert_eq!(ids.get(&hosts[1], "mem"), None, "the guess is the same entity, another metric");
        assert_eq!(ids.get(&hosts[4], "cpu"), Some(4));
        assert_eq!(ids.get(&hosts[2], "cpu"), Some(2), "guessed");
        assert_eq!(ids.last.get(), 2);
    }
}
