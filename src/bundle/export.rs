//! Cutting one problem's bundle out of a journal's events and observations.

use super::{Bundle, BundleError, BundleMeta, BUNDLE_FORMAT};
use crate::engine::topology::history::{TopologyHistory, DEFAULT_MAX_CHANGES};
use crate::engine::{Engine, EngineConfig};
use crate::model::{EventKind, Observation, ObservationKind, ProblemEvent, ProblemId, ProblemSet, ProblemStatus};
use std::collections::BTreeSet;

/// Builds the bundle of `problem` from a journal's `events` and `observations` (both whole, in
/// the order stored). The journal is replayed through a fresh engine with `config`: the events
/// must come out exactly as recorded, or the bundle could not be re-derived and is refused.
/// `source` names the journal in messages and in the bundle; `exported_by` is `user@host`.
pub fn export(
    events: &[ProblemEvent],
    observations: &[Observation],
    problem: ProblemId,
    config: EngineConfig,
    source: &str,
    exported_by: &str,
) -> Result<Bundle, BundleError> {
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

    let mut engine = Engine::new(config.clone());
    let mut produced: Vec<ProblemEvent> = Vec::with_capacity(events.len());
    let mut start: Option<(usize, usize, crate::engine::EngineSnapshot)> = None;
    let mut stop = observations.len();
    let diverged =
        |seq: u64| BundleError::Diverged { source_file: source.to_string(), observations: observations.len(), seq };
    for (i, o) in observations.iter().enumerate() {
        if start.is_none() && o.at >= window_start {
            start = Some((i, produced.len(), engine.snapshot()));
        }
        let reached_end = produced.last().is_some_and(|e| e.seq >= last_of_problem);
        if start.is_some() && reached_end && o.at > end {
            stop = i;
            break;
        }
        let before = produced.len();
        engine.observe(o, &mut produced);
        // Check as we go: the first event that differs is where the configuration parts ways.
        if let Some(k) = (before..produced.len()).find(|&k| events.get(k) != Some(&produced[k])) {
            return Err(diverged(produced[k].seq));
        }
    }
    let Some((first_obs, first_event, snapshot)) = start else {
        // No observation at or after the window's start: the problem's own were pruned.
        return Err(diverged(events.first().map_or(0, |e| e.seq)));
    };
    if !produced.iter().any(|e| e.seq == last_of_problem) {
        return Err(diverged(events.get(produced.len()).map_or(last_of_problem, |e| e.seq)));
    }

    let snapshot_seq = first_event.checked_sub(1).map_or(0, |k| produced[k].seq);
    // Context for the views: the earlier events of every problem that was open when the window
    // started or that the window touches (a merge needs the absorbed problem's history).
    let window = &produced[first_event..];
    let earlier = ProblemSet::fold(&produced[..first_event]);
    let mut relevant: BTreeSet<ProblemId> = window.iter().map(|e| e.problem).collect();
    relevant.extend(earlier.problems.values().filter(|q| q.is_open()).map(|q| q.id));
    for e in window {
        if let EventKind::MergedInto { into } = &e.kind {
            relevant.insert(*into);
        }
    }
    let mut bundle_events: Vec<ProblemEvent> =
        produced[..first_event].iter().filter(|e| relevant.contains(&e.problem)).cloned().collect();
    bundle_events.extend_from_slice(window);

    let topology = TopologyHistory::from_observations(&observations[..first_obs], DEFAULT_MAX_CHANGES)
        .as_of(window_start)
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

/// "it has P-0001 to P-0005" (or "it has no problems"): for messages about a missing problem.
pub fn known_problems(set: &ProblemSet) -> String {
    match (set.problems.keys().next(), set.problems.keys().next_back()) {
        (Some(a), Some(b)) if a == b => format!("it has only {a}"),
        (Some(a), Some(b)) => format!("it has {a} to {b}"),
        _ => "it has no problems".to_string(),
    }
}
