//! Where the detector keeps its series' states: side by side in chunks, in the order the series
//! first reported, behind an index by series id.
//!
//! Why not a box per series in a map: judging a sample is bound by memory, not arithmetic. A
//! series' state (1.5 kB) is read from main memory once per sample, and the first read of it was
//! a quarter of the detector's time. Series report in the same order round after round (a scrape
//! cycle, a replay), so states laid out in that order are read as a stream the processor
//! prefetches; boxes land wherever the allocator puts them, and a copy of the map (a clone, a
//! restored snapshot) scatters them in hash order. A slot left by a retired series is taken by
//! the next new one, so the chunks never hold more slots than the most series ever watched at
//! once (rounded up to a chunk). For the same reason the slot after the one found last is tried
//! before the index: a series' id is kept beside its slot, so a wrong guess costs one compare.
//!
//! A chunk's seasonal buckets are kept beside its states, by bucket then slot: a sample reads
//! one bucket of each season, the one of its hour, and the series of a scrape round share that
//! hour, so the buckets read one after the other lie side by side (10 to a cache line) and are
//! read as a stream too. Inside each state, the bucket of the hour was a line of its own at a
//! different place for every hour, and the costliest miss of a sample.

use super::{Bucket, SeasonsMut, SeriesState, WholeSeries, SEASON_BUCKETS};
use crate::engine::FastMap;
use serde::ser::{Serialize, Serializer};
use std::cell::Cell;

/// Slots per chunk: 64 states (about 96 kB with their seasons) are allocated at once, never
/// moved by growth.
const CHUNK: usize = 64;

/// `CHUNK` slots' states and seasons.
#[derive(Debug, Clone)]
struct Chunk {
    states: Vec<SeriesState>,
    /// Bucket `b` of slot `i` (in the chunk) at `b * CHUNK + i`: `SEASON_BUCKETS * CHUNK` of them.
    buckets: Vec<Bucket>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk { states: Vec::with_capacity(CHUNK), buckets: vec![Bucket::default(); SEASON_BUCKETS * CHUNK] }
    }

    /// A copy of the state and seasons of slot `i` (in the chunk).
    fn whole(&self, i: usize) -> WholeSeries {
        WholeSeries { state: self.states[i].clone(), buckets: std::array::from_fn(|b| self.buckets[b * CHUNK + i]) }
    }

    /// Stores `whole` in slot `i` (in the chunk): the next new one, or one that has a state.
    fn put(&mut self, i: usize, whole: WholeSeries) {
        let WholeSeries { state, buckets } = whole;
        if i == self.states.len() {
            self.states.push(state);
        } else {
            self.states[i] = state;
        }
        for (b, bucket) in buckets.into_iter().enumerate() {
            self.buckets[b * CHUNK + i] = bucket;
        }
    }
}

/// Series states by series id.
#[derive(Debug, Clone)]
pub(super) struct SeriesStates {
    /// Slot of each series.
    index: FastMap<u64, u32>,
    /// The slots, `CHUNK` to a chunk; a free slot holds a retired series' state until reused.
    chunks: Vec<Chunk>,
    /// Slots of retired series, reused first.
    free: Vec<u32>,
    /// The series in each slot (`None`: free).
    ids: Vec<Option<u64>>,
    /// The slot found last (`u32::MAX` at first, so that slot 0 is tried first).
    cursor: Cell<u32>,
}

impl Default for SeriesStates {
    fn default() -> SeriesStates {
        SeriesStates {
            index: FastMap::default(),
            chunks: Vec::new(),
            free: Vec::new(),
            ids: Vec::new(),
            cursor: Cell::new(u32::MAX),
        }
    }
}

impl SeriesStates {
    /// Number of series with state.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of series `series`, if it has state: the one after the slot found last if it
    /// holds `series` (series report in the order of their slots), else the index's.
    pub(super) fn slot(&self, series: u64) -> Option<u32> {
        let next = self.cursor.get().wrapping_add(1);
        let slot = if self.ids.get(next as usize) == Some(&Some(series)) { next } else { *self.index.get(&series)? };
        self.cursor.set(slot);
        Some(slot)
    }

    /// The state in slot `slot` and its seasons.
    pub(super) fn at_mut(&mut self, slot: u32) -> (&mut SeriesState, SeasonsMut<'_>) {
        let (slot, i) = (slot as usize, slot as usize % CHUNK);
        let Chunk { states, buckets } = &mut self.chunks[slot / CHUNK];
        (&mut states[i], SeasonsMut { buckets, stride: CHUNK, at: i })
    }

    fn at(&self, slot: u32) -> &SeriesState {
        let slot = slot as usize;
        &self.chunks[slot / CHUNK].states[slot % CHUNK]
    }

    /// The state of series `series` (its seasons apart).
    pub(super) fn get(&self, series: u64) -> Option<&SeriesState> {
        self.slot(series).map(|slot| self.at(slot))
    }

    pub(super) fn get_mut(&mut self, series: u64) -> Option<&mut SeriesState> {
        self.slot(series).map(|slot| self.at_mut(slot).0)
    }

    /// A copy of the whole state of series `series`, seasons included (tests).
    #[cfg(test)]
    pub(super) fn whole(&self, series: u64) -> Option<WholeSeries> {
        self.slot(series).map(|slot| self.whole_at(slot))
    }

    fn whole_at(&self, slot: u32) -> WholeSeries {
        let slot = slot as usize;
        self.chunks[slot / CHUNK].whole(slot % CHUNK)
    }

    /// Stores the state of series `series`, which has none yet, in a free slot or a new one.
    pub(super) fn insert(&mut self, series: u64, whole: WholeSeries) -> &mut SeriesState {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.ids[slot as usize] = Some(series);
                slot
            }
            None => {
                if self.chunks.last().is_none_or(|c| c.states.len() == CHUNK) {
                    self.chunks.push(Chunk::new());
                    self.ids.reserve_exact(CHUNK);
                }
                self.ids.push(Some(series));
                (self.ids.len() - 1) as u32
            }
        };
        self.chunks[slot as usize / CHUNK].put(slot as usize % CHUNK, whole);
        self.index.insert(series, slot);
        self.cursor.set(slot);
        self.at_mut(slot).0
    }

    /// Forgets series `series`: its slot is free, and the trend and ceiling it held are dropped.
    pub(super) fn remove(&mut self, series: u64) {
        if let Some(slot) = self.index.remove(&series) {
            let (state, _) = self.at_mut(slot);
            state.trend = None;
            state.saturation = None;
            self.ids[slot as usize] = None;
            self.free.push(slot);
        }
    }

    /// Every series and a copy of its whole state, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, WholeSeries)> + '_ {
        self.index.iter().map(|(&series, &slot)| (series, self.whole_at(slot)))
    }
}

/// `d.series[&id]`: the state of a series that has one (tests).
#[cfg(test)]
impl std::ops::Index<&u64> for SeriesStates {
    type Output = SeriesState;

    fn index(&self, series: &u64) -> &SeriesState {
        self.get(*series).expect("a series with state")
    }
}

/// The states as `[id, state]` pairs in id order: exactly what `sorted_pairs` writes for a map
/// of boxed states (the snapshot format). Each whole state is copied as it is written.
impl Serialize for SeriesStates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut slots: Vec<(u64, u32)> = self.index.iter().map(|(&series, &slot)| (series, slot)).collect();
        slots.sort_unstable_by_key(|(series, _)| *series);
        s.collect_seq(slots.into_iter().map(|(series, slot)| (series, self.whole_at(slot))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::detect::{LimitConfig, TrendState};
    use crate::engine::snapshot::codec::sorted_pairs;

    /// A new state whose buckets tell series and bucket apart.
    fn state(at: i64) -> WholeSeries {
        let mut whole = WholeSeries::new(SeriesState::new(at, at as f64));
        for (b, bucket) in whole.buckets.iter_mut().enumerate() {
            bucket.set_offset(at as f32 + b as f32 / 1000.0);
            bucket.seen = (b % 200) as u8 + 1;
            bucket.disagree = (at % 7) as u8;
        }
        whole
    }

    fn buckets(whole: &WholeSeries) -> Vec<(u32, u8, u8)> {
        whole.buckets.iter().map(|b| (b.offset().to_bits(), b.seen, b.disagree)).collect()
    }

    #[test]
    fn a_retired_series_slot_goes_to_the_next_new_series_without_its_trend() {
        let mut states = SeriesStates::default();
        for id in 0..(CHUNK as u64 + 6) {
            states.insert(id, state(id as i64));
        }
        assert_eq!(states.chunks.len(), 2, "a second chunk once the first is full");
        let limit = LimitConfig {
            metric: "filesystem_free_ratio".into(),
            limit: 0.0,
            horizon: crate::config::HumanDuration::from_millis(1),
            direction: None,
        };
        states.get_mut(5).unwrap().trend = Some(Box::new(TrendState::new(&limit, 1.0)));
        let slot = states.slot(5).unwrap();
        states.remove(5);
        assert_eq!(states.slot(4), Some(slot - 1));
        assert_eq!(states.slot(5), None, "the slot after the last found no longer holds it");
        assert!(states.get(5).is_none());
        assert_eq!(states.len(), CHUNK + 5);
        assert!(states.at(slot).trend.is_none(), "a retired series' trend is dropped at once");

        let s = states.insert(1000, state(1000));
        assert_eq!((s.first_at, s.n), (1000, 1));
        assert_eq!(states.slot(1000), Some(slot), "the free slot is taken first");
        assert_eq!((states.slot(4), states.slot(1000), states.slot(6)), (Some(slot - 1), Some(slot), Some(slot + 1)));
        assert_eq!((states.slot(4), states.slot(5)), (Some(slot - 1), None));
        assert_eq!((states.slot(CHUNK as u64 + 5), states.slot(0)), (Some(CHUNK as u32 + 5), Some(0)), "past the end");
        assert_eq!(states.chunks.len(), 2);
        assert_eq!(states[&1000].last_at, 1000);
        assert_eq!(states[&6].last_at, 6, "the others are untouched");
        for id in [1000, 4, 6, 0, CHUNK as u64 + 5] {
            let at = if id == 1000 { 1000 } else { id as i64 };
            assert_eq!(buckets(&states.whole(id).unwrap()), buckets(&state(at)), "the seasons of {id}");
        }
    }

    #[test]
    fn states_serialize_exactly_as_the_map_of_boxes_snapshots_held() {
        let mut states = SeriesStates::default();
        let mut map: FastMap<u64, Box<WholeSeries>> = FastMap::default();
        for id in [7u64, 3, 90, 1, 42] {
            states.insert(id, state(id as i64 * 1000));
            map.insert(id, Box::new(state(id as i64 * 1000)));
        }
        states.remove(90);
        map.remove(&90);
        states.insert(5, state(5));
        map.insert(5, Box::new(state(5)));
        let ours = serde_json::to_string(&states).unwrap();
        let mut theirs = serde_json::Serializer::new(Vec::new());
        sorted_pairs::serialize(&map, &mut theirs).unwrap();
        assert_eq!(ours, String::from_utf8(theirs.into_inner()).unwrap());
        assert!(ours.starts_with("[[1,{"), "{ours}");
    }
}
