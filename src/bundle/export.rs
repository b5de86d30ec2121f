//! Cutting one problem's bundle out of a journal's events and observations.

use super::{Bundle, BundleError, BundleMeta, BUNDLE_FORMAT};
use crate::engine::{Engine, EngineConfig};
use crate::journal::Journal;
use crate::model::{EventKind, Observation, ObservationKind, ProblemEvent, ProblemId, ProblemSet, ProblemStatus};
use std::collections::BTreeSet;

/// Builds the bundle of `problem` from a journal's `events` and `observations` (both whole, in
/// the order stored). The journal is replayed through a fresh engine with `config`: the events
/// must come out exactly as recorded, or the bundle could not be re-derived and is refused.
/// `source` names the journal in messages and in the bundle; `exported_by` is `user@host`.
/// A journal whose oldest observations retention pruned is exported from one of its snapshots
/// instead: [`export_journal`].
pub fn export(
    events: &[ProblemEvent],
    observations: &[Observation],
    problem: ProblemId,
    config: EngineConfig,
    source: &str,
    exported_by: &str,
) -> Result<Bundle, BundleError> {
    export_from(Engine::new(config), events, observations, &BTreeSet::new(), problem, source, exported_by)
}

/// [`export`] from `engine` as a journal's snapshot restored it: `events` are all the
/// journal's events (those up to the engine's last seq are context, the rest must be re-derived)
/// and `observations` those journaled after the snapshot. The snapshot must be from before the
/// problem's window, or the bundle could not start where it should ([`BundleError::Pruned`]).
/// The events of `compacted` problems are no longer in the journal (see `journal::compact`):
/// the replay gives them again, and they are taken as re-derived rather than compared.
pub fn export_from(
    mut engine: Engine,
    events: &[ProblemEvent],
    observations: &[Observation],
    compacted: &BTreeSet<ProblemId>,
    problem: ProblemId,
    source: &str,
    exported_by: &str,
) -> Result<Bundle, BundleError> {
    let config = engine.config().clone();
    let set = ProblemSet::fold(events);
    let Some(p) = set.problems.get(&problem) else {
        return Err(BundleError::NoSuchProblem {
            source_file: source.to_string(),
            problem,
            known: known_problems(&set),
        });
    };
    let last_of_problem = p.last_seq;
    let onset = p.opened_at;
    let last_data = observations.iter().map(|o| o.at).max().unwrap_or(set.as_of);
    let end = match p.status {
        ProblemStatus::Resolved => p.resolved_at.unwrap_or(p.updated_at),
        ProblemStatus::Merged(_) => p.updated_at,
        ProblemStatus::Open => last_data.max(p.updated_at),
    };
    let window_start = onset.plus_ms(-config.correlation_window_ms);
    if let Some(from) = engine.data_time().filter(|&t| t > window_start) {
        return Err(BundleError::Pruned { source_file: source.to_string(), problem, window_start, from: Some(from) });
    }
    // The events up to the engine's last seq are history; the rest the observations re-derive.
    let engine_seq_at_start = engine.last_seq();
    let (earlier, events) = events.split_at(events.partition_point(|e| e.seq <= engine_seq_at_start));

    let mut produced: Vec<ProblemEvent> = Vec::with_capacity(events.len());
    let mut start: Option<(usize, usize, crate::engine::EngineSnapshot, Option<crate::engine::topology::Topology>)> =
        None;
    let mut stop = observations.len();
    let diverged =
        |seq: u64| BundleError::Diverged { source_file: source.to_string(), observations: observations.len(), seq };
    // The next journaled event a produced one must equal.
    let mut next = 0;
    for (i, o) in observations.iter().enumerate() {
        if start.is_none() && o.at >= window_start {
            // The topology as of the window's start, from what the engine saw up to here.
            let topology = engine.topology_history().as_of(window_start);
            start = Some((i, produced.len(), engine.snapshot(), topology));
        }
        let reached_end = produced.last().is_some_and(|e| e.seq >= last_of_problem);
        if start.is_some() && reached_end && o.at > end {
            stop = i;
            break;
        }
        let before = produced.len();
        engine.observe(o, &mut produced);
        // Check as we go: the first event that differs is where the configuration parts ways.
        for e in produced[before..].iter().filter(|e| !compacted.contains(&e.problem)) {
            if events.get(next) != Some(e) {
                return Err(diverged(e.seq));
            }
            next += 1;
        }
    }
    let Some((first_obs, first_event, snapshot, topology)) = start else {
        // No observation at or after the window's start: the problem's own were pruned.
        return Err(diverged(events.first().map_or(0, |e| e.seq)));
    };
    if !produced.iter().any(|e| e.seq == last_of_problem) {
        return Err(diverged(events.get(next).map_or(last_of_problem, |e| e.seq)));
    }

    let snapshot_seq = first_event.checked_sub(1).map_or(engine_seq_at_start, |k| produced[k].seq);
    // Context for the views: the earlier events of every problem that was open when the window
    // started or that the window touches (a merge needs the absorbed problem's history).
    let window = &produced[first_event..];
    let before: Vec<&ProblemEvent> = earlier.iter().chain(&produced[..first_event]).collect();
    let earlier = ProblemSet::fold(before.iter().copied());
    let mut relevant: BTreeSet<ProblemId> = window.iter().map(|e| e.problem).collect();
    relevant.extend(earlier.problems.values().filter(|q| q.is_open()).map(|q| q.id));
    for e in window {
        if let EventKind::MergedInto { into } = &e.kind {
            relevant.insert(*into);
        }
    }
    let mut bundle_events: Vec<ProblemEvent> =
        before.iter().filter(|e| relevant.contains(&e.problem)).map(|e| (*e).clone()).collect();
    bundle_events.extend_from_slice(window);

    let topology = topology
        .map(|t| {
            let mut facts: Vec<Observation> = t
                .entities()
                .map(|e| Observation {
                    at: window_start,
                    source: "bundle".into(),
                    kind: ObservationKind::Entity { entity: e.clone() },
                })
                .collect();
            facts.extend(t.relations().into_iter().map(|r| Observation {
                at: window_start,
                source: "bundle".into(),
                kind: ObservationKind::Relation { relation: r },
            }));
            facts
        })
        .unwrap_or_default();

    let observations = observations[first_obs..stop].to_vec();
    let meta = BundleMeta {
        format: BUNDLE_FORMAT,
        faultline: concat!("faultline ", env!("CARGO_PKG_VERSION")).to_string(),
        problem,
        title: p.headline().to_string(),
        onset,
        window_start,
        window_end: end,
        source: source.to_string(),
        exported_by: exported_by.to_string(),
        engine: config,
        snapshot_seq,
        observations: observations.len(),
        events: bundle_events.len(),
    };
    Ok(Bundle { meta, snapshot, topology, observations, events: bundle_events })
}

/// Builds the bundle of `problem` from `journal`. While the journal still holds every
/// observation from its first (nothing pruned), it is replayed from the start with `config`, as
/// [`export`] does. Once retention pruned the oldest, the replay starts from the newest engine
/// snapshot taken before the problem's window whose following observations are all still there
/// (with the configuration the snapshot carries: the agent's); without one the problem can no
/// longer be exported ([`BundleError::Pruned`]).
pub fn export_journal(
    journal: &Journal,
    problem: ProblemId,
    config: EngineConfig,
    source: &str,
    exported_by: &str,
) -> Result<Bundle, BundleError> {
    Loaded::read(journal)?.export(journal, problem, config, source, exported_by)
}

/// A journal's events and observations, read once for several exports.
pub struct Loaded {
    events: Vec<ProblemEvent>,
    /// With their ids.
    observations: Vec<(i64, Observation)>,
    /// Problems whose events were compacted out of the journal.
    compacted: BTreeSet<ProblemId>,
}

impl Loaded {
    pub fn read(journal: &Journal) -> Result<Loaded, BundleError> {
        Ok(Loaded {
            events: journal.events_after(0)?,
            observations: journal.observations_after(0)?,
            compacted: journal.compacted()?.into_iter().map(|c| c.problem).collect(),
        })
    }

    /// The problems the journal's events fold into.
    pub fn problems(&self) -> ProblemSet {
        ProblemSet::fold(&self.events)
    }

    /// [`export_journal`] of `problem` from what was read of `journal`.
    pub fn export(
        &self,
        journal: &Journal,
        problem: ProblemId,
        config: EngineConfig,
        source: &str,
        exported_by: &str,
    ) -> Result<Bundle, BundleError> {
        let (events, observations) = (&self.events, &self.observations);
        let first_id = observations.first().map_or(1, |(id, _)| *id);
        let feed = |after: i64| -> Vec<Observation> {
            observations.iter().filter(|(id, _)| *id > after).map(|(_, o)| o.clone()).collect()
        };
        if first_id <= 1 {
            let engine = Engine::new(config);
            return export_from(engine, events, &feed(0), &self.compacted, problem, source, exported_by);
        }
        let set = ProblemSet::fold(events);
        let Some(p) = set.problems.get(&problem) else {
            return Err(BundleError::NoSuchProblem {
                source_file: source.to_string(),
                problem,
                known: known_problems(&set),
            });
        };
        let mut oldest_usable = None;
        // Newest first: the shortest replay.
        for meta in journal.snapshots()? {
            // Every observation after it must still be there.
            if meta.observation < first_id - 1 {
                break;
            }
            // Taken after the onset: after the window too, whatever the configuration (not
            // worth restoring; the newest are most of them).
            if meta.at.is_some_and(|at| at > p.opened_at) {
                oldest_usable = meta.at;
                continue;
            }
            let engine = match crate::agent::restore_engine(journal, &meta)? {
                Ok(engine) => engine,
                Err(why) => {
                    tracing::warn!(snapshot = meta.id, %why, "snapshot not usable for an export");
                    continue;
                }
            };
            let window_start = p.opened_at.plus_ms(-engine.config().correlation_window_ms);
            if meta.at.is_some_and(|at| at > window_start) {
                oldest_usable = meta.at;
                continue;
            }
            let observations = feed(meta.observation);
            return export_from(engine, events, &observations, &self.compacted, problem, source, exported_by);
        }
        Err(BundleError::Pruned {
            source_file: source.to_string(),
            problem,
            window_start: p.opened_at.plus_ms(-config.correlation_window_ms),
            from: oldest_usable,
        })
    }
}

/// "it has P-0001 to P-0005" (or "it has no problems"): for messages about a missing problem.
pub fn known_problems(set: &ProblemSet) -> String {
    match (set.problems.keys().next(), set.problems.keys().next_back()) {
        (Some(a), Some(b)) if a == b => format!("it has only {a}"),
        (Some(a), Some(b)) => format!("it has {a} to {b}"),
        _ => "it has no problems".to_string(),
    }
}
