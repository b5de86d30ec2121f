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
//! once (rounded up to a chunk).

use super::SeriesState;
use crate::engine::FastMap;
use serde::ser::{Serialize, Serializer};

/// Slots per chunk: 64 states (about 96 kB) are allocated at once, never moved by growth.
const CHUNK: usize = 64;

/// Series states by series id.
#[derive(Debug, Clone, Default)]
pub(super) struct SeriesStates {
    /// Slot of each series.
    index: FastMap<u64, u32>,
    /// The slots, `CHUNK` to a chunk; a free slot holds a retired series' state until reused.
    chunks: Vec<Vec<SeriesState>>,
    /// Slots of retired series, reused first.
    free: Vec<u32>,
}

impl SeriesStates {
    /// Number of series with state.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot of series `series`, if it has state.
    pub(super) fn slot(&self, series: u64) -> Option<u32> {
        self.index.get(&series).copied()
    }

    pub(super) fn at_mut(&mut self, slot: u32) -> &mut SeriesState {
        let slot = slot as usize;
        &mut self.chunks[slot / CHUNK][slot % CHUNK]
    }

    fn at(&self, slot: u32) -> &SeriesState {
        let slot = slot as usize;
        &self.chunks[slot / CHUNK][slot % CHUNK]
    }

    pub(super) fn get(&self, series: u64) -> Option<&SeriesState> {
        self.slot(series).map(|slot| self.at(slot))
    }

    pub(super) fn get_mut(&mut self, series: u64) -> Option<&mut SeriesState> {
        self.slot(series).map(|slot| self.at_mut(slot))
    }

    /// Stores the state of series `series`, which has none yet, in a free slot or a new one.
    pub(super) fn insert(&mut self, series: u64, state: SeriesState) -> &mut SeriesState {
        let slot = match self.free.pop() {
            Some(slot) => {
                *self.at_mut(slot) = state;
                slot
            }
            None => {
                if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let slot = (self.chunks.len() - 1) * CHUNK + self.chunks.last().map_or(0, Vec::len);
                if let Some(chunk) = self.chunks.last_mut() {
                    chunk.push(state);
                }
                slot as u32
            }
        };
        self.index.insert(series, slot);
        self.at_mut(slot)
    }

    /// Forgets series `series`: its slot is free, and the trend and ceiling it held are dropped.
    pub(super) fn remove(&mut self, series: u64) {
        if let Some(slot) = self.index.remove(&series) {
            let state = self.at_mut(slot);
            state.trend = None;
            state.saturation = None;
            self.free.push(slot);
        }
    }

    /// Every series and its state, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &SeriesState)> {
        self.index.iter().map(|(&series, &slot)| (series, self.at(slot)))
    }
}

/// `d.series[&id]`: the state of a series that has one (tests).
impl std::ops::Index<&u64> for SeriesStates {
    type Output = SeriesState;

    fn index(&self, series: &u64) -> &SeriesState {
        self.get(*series).expect("a series with state")
    }
}

/// The states as `[id, state]` pairs in id order: exactly what `sorted_pairs` writes for a map
/// of boxed states (the snapshot format).
impl Serialize for SeriesStates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<(u64, &SeriesState)> = self.iter().collect();
        pairs.sort_unstable_by_key(|(series, _)| *series);
        s.collect_seq(pairs)
    }
}
