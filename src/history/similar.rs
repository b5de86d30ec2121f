//! Similar past incidents: which earlier problems resemble this one, and why.
//!
//! Each summary is cut into *features* (its root-cause entity, the kind of what broke there,
//! its signals, log templates, foundational-cause kind and affected services) and an inverted
//! index maps every feature to the summaries that have it. A search looks up the query's
//! features only, accumulates per candidate how many of each it shares, and scores just those
//! candidates: the cost grows with how common the query's features are, not with the history.
//!
//! The score is a weighted sum of feature matches over the most a match can earn, in [0, 1].
//! Set features (signals, templates, services) count by their Jaccard overlap. Every match is
//! named in [`Match::matched`], so the UI and the CLI can say why a past problem is offered.
//! Ties break by recency, then by id; everything iterates in sorted order (determinism).

use super::summary::IncidentSummary;
use crate::model::{ProblemId, Timestamp};
use std::collections::{BTreeMap, HashMap};

/// Weights of the features; their sum is a perfect match.
pub const W_ROOT_ENTITY: f64 = 3.0;
pub const W_ROOT_KIND: f64 = 2.0;
pub const W_SIGNALS: f64 = 2.0;
pub const W_TEMPLATES: f64 = 1.5;
pub const W_FOUNDATIONAL: f64 = 1.5;
pub const W_FOUNDATIONAL_ENTITY: f64 = 0.5;
pub const W_SERVICES: f64 = 1.0;
/// What every query can earn; log templates and the foundational cause add their weights only
/// when the query has them (a problem without logs is not less like its twin for it).
const W_CORE: f64 = W_ROOT_ENTITY + W_ROOT_KIND + W_SIGNALS + W_SERVICES;

/// Below this score a past problem is not called similar (one shared service alone is not).
pub const FLOOR: f64 = 0.2;

/// What a feature is, for its posting list and for the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Slot {
    RootEntity,
    RootKind,
    Signal,
    Template,
    Foundational,
    FoundationalEntity,
    Service,
}

/// A past problem found similar, with the features that matched (strongest first).
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// Index into [`Index::summaries`].
    pub index: usize,
    pub id: ProblemId,
    /// Score in [0, 1].
    pub score: f64,
    /// Plain-words reasons, e.g. "same root-cause entity host:db-1".
    pub matched: Vec<String>,
}

/// The summaries and the inverted index over their features.
#[derive(Debug, Clone, Default)]
pub struct Index {
    summaries: Vec<IncidentSummary>,
    postings: HashMap<(Slot, String), Vec<u32>>,
    /// Per summary, how many signals, templates and services it has (for the Jaccard overlap).
    sizes: Vec<[u32; 3]>,
}

/// Per candidate, what it shares with the query.
#[derive(Debug, Clone, Copy, Default)]
struct Shared {
    root_entity: bool,
    root_kind: u32,
    signals: u32,
    templates: u32,
    foundational: bool,
    foundational_entity: bool,
    services: u32,
}

impl Index {
    /// An index over `summaries`; merged-away problems and the background problem are left out.
    pub fn new(summaries: impl IntoIterator<Item = IncidentSummary>) -> Index {
        let mut index = Index::default();
        for s in summaries {
            index.push(s);
        }
        index
    }

    /// Adds one summary (a problem that opened, or one from a bundle).
    pub fn push(&mut self, s: IncidentSummary) {
        if s.merged_into.is_some() || s.is_background() {
            return;
        }
        let at = self.summaries.len() as u32;
        for key in features(&s) {
            self.postings.entry(key).or_default().push(at);
        }
        self.sizes.push([s.signals.len() as u32, s.templates.len() as u32, s.services.len() as u32]);
        self.summaries.push(s);
    }

    pub fn summaries(&self) -> &[IncidentSummary] {
        &self.summaries
    }

    pub fn len(&self) -> usize {
        self.summaries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }

    /// The position of a problem of the searched journal (empty origin) in the index.
    pub fn position(&self, id: ProblemId) -> Option<usize> {
        self.summaries.iter().position(|s| s.id == id && s.origin.is_empty())
    }

    /// The `limit` past problems most like `query` that opened before it, best first; empty when
    /// none reaches [`FLOOR`]. `query` need not be in the index (a problem still open).
    pub fn similar(&self, query: &IncidentSummary, limit: usize) -> Vec<Match> {
        let mut shared: HashMap<u32, Shared> = HashMap::new();
        for (slot, value) in features(query) {
            let Some(list) = self.postings.get(&(slot, value)) else { continue };
            for &at in list {
                let acc = shared.entry(at).or_default();
                match slot {
                    Slot::RootEntity => acc.root_entity = true,
                    Slot::RootKind => acc.root_kind += 1,
                    Slot::Signal => acc.signals += 1,
                    Slot::Template => acc.templates += 1,
                    Slot::Foundational => acc.foundational = true,
                    Slot::FoundationalEntity => acc.foundational_entity = true,
                    Slot::Service => acc.services += 1,
                }
            }
        }
        let query_sizes = [query.signals.len() as u32, query.templates.len() as u32, query.services.len() as u32];
        let query_kinds = query.root.as_ref().map_or(0, |r| r.broke.len() as u32);
        let mut total = W_CORE;
        if !query.templates.is_empty() {
            total += W_TEMPLATES;
        }
        if query.foundational.is_some() {
            total += W_FOUNDATIONAL + W_FOUNDATIONAL_ENTITY;
        }
        let mut scored: Vec<(f64, Timestamp, ProblemId, u32)> = Vec::new();
        for (&at, acc) in &shared {
            let s = &self.summaries[at as usize];
            let earlier = (s.opened_at, s.id) < (query.opened_at, query.id) || !s.origin.is_empty();
            if !earlier || (s.id == query.id && s.origin == query.origin) {
                continue;
            }
            let kinds = s.root.as_ref().map_or(0, |r| r.broke.len() as u32);
            let score = score(acc, query_sizes, self.sizes[at as usize], query_kinds, kinds) / total;
            if score >= FLOOR {
                scored.push((score, s.opened_at, s.id, at));
            }
        }
        // Score, then the more recent, then the higher id: a total order, whatever the hash order.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)).then(a.3.cmp(&b.3)));
        scored
            .into_iter()
            .take(limit)
            .map(|(score, _, id, at)| Match {
                index: at as usize,
                id,
                score,
                matched: explain(query, &self.summaries[at as usize]),
            })
            .collect()
    }
}

fn jaccard(shared: u32, a: u32, b: u32) -> f64 {
    let union = a + b - shared.min(a + b);
    if union == 0 {
        0.0
    } else {
        f64::from(shared) / f64::from(union)
    }
}

fn score(acc: &Shared, q: [u32; 3], c: [u32; 3], q_kinds: u32, c_kinds: u32) -> f64 {
    let mut sum = 0.0;
    if acc.root_entity {
        sum += W_ROOT_ENTITY;
    }
    sum += W_ROOT_KIND * jaccard(acc.root_kind, q_kinds, c_kinds);
    sum += W_SIGNALS * jaccard(acc.signals, q[0], c[0]);
    sum += W_TEMPLATES * jaccard(acc.templates, q[1], c[1]);
    if acc.foundational {
        sum += W_FOUNDATIONAL;
    }
    if acc.foundational_entity {
        sum += W_FOUNDATIONAL_ENTITY;
    }
    sum += W_SERVICES * jaccard(acc.services, q[2], c[2]);
    sum
}

/// Every feature of a summary, as posting-list keys.
fn features(s: &IncidentSummary) -> Vec<(Slot, String)> {
    let mut out = Vec::new();
    if let Some(r) = &s.root {
        out.push((Slot::RootEntity, r.entity.as_str().to_string()));
        for b in &r.broke {
            out.push((Slot::RootKind, format!("{} {b}", r.entity_kind.as_str())));
        }
    }
    out.extend(s.signals.iter().map(|x| (Slot::Signal, x.clone())));
    out.extend(s.templates.iter().map(|x| (Slot::Template, x.clone())));
    if let Some(f) = &s.foundational {
        out.push((Slot::Foundational, f.change.as_str().to_string()));
        out.push((Slot::FoundationalEntity, format!("{} {}", f.change.as_str(), f.entity)));
    }
    out.extend(s.services.iter().map(|x| (Slot::Service, x.as_str().to_string())));
    out
}

/// The matched features in plain words, strongest first.
pub fn explain(query: &IncidentSummary, past: &IncidentSummary) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(q), Some(p)) = (&query.root, &past.root) {
        if q.entity == p.entity {
            out.push(format!("same root-cause entity {}", p.entity));
        }
        let kinds: Vec<&String> = q.broke.intersection(&p.broke).collect();
        if q.entity_kind == p.entity_kind && !kinds.is_empty() {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            out.push(format!("same root-cause kind: {} on a {}", names.join(", "), p.entity_kind.as_str()));
        }
    }
    let shared = |a: usize, b: usize| format!("{a} of {b}");
    let n = query.signals.intersection(&past.signals).count();
    if n > 0 {
        out.push(format!("{} signals shared", shared(n, query.signals.len().max(past.signals.len()))));
    }
    let n = query.templates.intersection(&past.templates).count();
    if n > 0 {
        out.push(format!("{} log templates shared", shared(n, query.templates.len().max(past.templates.len()))));
    }
    if let (Some(q), Some(p)) = (&query.foundational, &past.foundational) {
        if q.change == p.change {
            let on = if q.entity == p.entity { format!(" on {}", p.entity) } else { String::new() };
            out.push(format!("foundational cause also a {}{on}", p.change.as_str()));
        }
    }
    let services: Vec<&str> = query.services.intersection(&past.services).map(|e| e.as_str()).collect();
    if !services.is_empty() {
        out.push(format!("services affected: {}", services.join(", ")));
    }
    out
}

/// When it was and how it ended, one line: `2026-03-02 10:05 UTC, lasted 35m: rollback-release
/// by alice@b1 (succeeded)`; what was done comes from [`super::handover::actions`].
pub fn outcome_line(s: &IncidentSummary) -> String {
    let when = s.opened_at.to_rfc3339();
    let when = match (when.get(0..10), when.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => when,
    };
    let how_long = match s.duration_ms() {
        Some(ms) => format!("lasted {}", super::handover::duration(ms)),
        None => "not resolved".to_string(),
    };
    format!("{when}, {how_long}: {}", super::handover::actions(s))
}

/// Summaries of several sources merged: the journal's own, then each bundle's (tagged with its
/// path as origin) minus the problems the journal already holds (same id and opening time).
pub fn merge_sources(
    journal: BTreeMap<ProblemId, IncidentSummary>,
    bundles: Vec<(String, BTreeMap<ProblemId, IncidentSummary>)>,
) -> Vec<IncidentSummary> {
    let mut out: Vec<IncidentSummary> = journal.into_values().collect();
    for (origin, set) in bundles {
        for (_, mut s) in set {
            if out.iter().any(|o| o.id == s.id && o.opened_at == s.opened_at) {
                continue;
            }
            s.origin = origin.clone();
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::summary::{Foundational, RootCause};
    use crate::model::{ChangeKind, EntityId, EntityKind, Severity};
    use std::collections::BTreeSet;

    fn summary(id: u64, hour: i64, root: &str, broke: &[&str], signals: &[&str], deploy: bool) -> IncidentSummary {
        IncidentSummary {
            id: ProblemId(id),
            origin: String::new(),
            title: format!("P{id}"),
            severity: Severity::Major,
            opened_at: Timestamp(hour * 3_600_000),
            resolved_at: Some(Timestamp(hour * 3_600_000 + 1_800_000)),
            merged_into: None,
            reopened: 0,
            root: Some(RootCause {
                entity: EntityId::new(root),
                entity_kind: EntityKind::Host,
                summary: format!("{} on {root}", broke.join(", ")),
                broke: broke.iter().map(|s| s.to_string()).collect(),
            }),
            signals: signals.iter().map(|s| s.to_string()).collect(),
            templates: BTreeSet::new(),
            foundational: deploy.then(|| Foundational {
                change: ChangeKind::Deployment,
                entity: EntityId::new("service:api"),
                description: "v2".into(),
            }),
            services: [EntityId::new("service:api")].into_iter().collect(),
            affected: 3,
            runs: Vec::new(),
            silences: Vec::new(),
            acknowledged_by: None,
            flapping: Default::default(),
        }
    }

    #[test]
    fn the_same_incident_scores_highest_and_explains_why() {
        let cpu = ["anomaly cpu_utilisation"];
        let sig = ["anomaly cpu_utilisation on host:db-1", "alert HighLatency on service:api"];
        let index = Index::new([
            summary(1, 10, "host:db-1", &cpu, &sig, true),
            summary(2, 20, "host:db-1", &["anomaly disk_used"], &["anomaly disk_used on host:db-1"], false),
            summary(3, 30, "host:db-1", &cpu, &sig, true),
            summary(4, 35, "host:web-9", &["anomaly memory"], &["anomaly memory on host:web-9"], false),
        ]);
        let query = summary(5, 40, "host:db-1", &cpu, &sig, true);
        let found = index.similar(&query, 10);
        let ids: Vec<u64> = found.iter().map(|m| m.id.0).collect();
        // Equal scores: the more recent first. The disk problem on the same host is below both;
        // the memory problem on another host shares only a service: below the floor.
        assert_eq!(ids, vec![3, 1, 2]);
        assert!((found[0].score - 1.0).abs() < 1e-9, "{}", found[0].score);
        assert!(found[2].score < found[1].score);
        assert_eq!(found[0].matched[0], "same root-cause entity host:db-1");
        assert!(found[0].matched.contains(&"foundational cause also a deployment on service:api".to_string()));
        assert_eq!(found[2].matched[0], "same root-cause entity host:db-1");
        // Only earlier problems are offered.
        assert!(index.similar(&summary(0, 1, "host:db-1", &cpu, &sig, true), 10).is_empty());
    }

    #[test]
    fn nothing_in_common_is_nothing_similar() {
        let index = Index::new([summary(1, 1, "host:a", &["anomaly x"], &["anomaly x on host:a"], false)]);
        let mut lone = summary(2, 2, "queue:q", &["alert Lag"], &["alert Lag on queue:q"], false);
        lone.services.clear();
        assert!(index.similar(&lone, 3).is_empty());
        assert!(jaccard(0, 0, 0) == 0.0 && jaccard(2, 2, 2) == 1.0 && jaccard(1, 2, 3) == 0.25);
    }

    #[test]
    fn merged_and_background_problems_are_not_indexed() {
        let mut merged = summary(1, 1, "host:a", &["anomaly x"], &[], false);
        merged.merged_into = Some(ProblemId(2));
        let mut background = summary(3, 1, "host:a", &["anomaly x"], &[], false);
        background.title = "background: flapping and low-criticality signals".into();
        let index = Index::new([merged, background, summary(4, 1, "host:a", &["anomaly x"], &[], false)]);
        assert_eq!(index.len(), 1);
        assert_eq!(index.position(ProblemId(4)), Some(0));
        assert_eq!(index.position(ProblemId(1)), None);
    }
}
