//! Correlation: which problem a signal belongs to, by the Moogsoft "cookbook" factors in one rule.
//!
//! A signal joins an open problem when all of these hold:
//! - **time**: the problem saw activity within the correlation window;
//! - **priority**: the signal is not marked by the smart filter (chronic flapping, low-criticality
//!   entity: [`crate::model::Mark`]); marked signals never open or merge incident problems and go
//!   to the one background problem instead, so they stay visible without polluting a storm. Two
//!   exceptions keep the filter from hiding a cause: a low-criticality signal *below* an open
//!   incident (one of its entities depends on the signal's, within `hops`) joins it, since it may
//!   be what broke the important entities (a legacy queue under checkout); and a flapping signal
//!   that fires without a break for a whole flap window (the disk that was almost full every
//!   night is now full) loses its mark and moves out of the background like a fresh signal;
//! - **topology**, graded, with **type** deciding the weak grade:
//!   - *direct*: the signal's entity depends on one of the problem's entities within `hops` edges
//!     (it is upstream of the trouble: a caller, or what runs on it), or one of them depends on it
//!     (it is below the trouble: a callee, the host) — trouble travels along dependencies;
//!   - *sibling*: the two share a direct dependency (both call the same database, both run on the
//!     same host) *and* the problem already holds a signal alike in kind (same signal kind and
//!     name: `HighLatency`, `latency_p99_ms`, the same log template): siblings showing the same
//!     symptom point at their common dependency; siblings with unrelated symptoms stay apart.
//!
//! - **cause before effect** (issue 13): a signal only *below* a problem (the problem's entities
//!   depend on it, it depends on none of them) could join only as the problem's cause, so it
//!   joins only if some trouble above it in the problem started no earlier than its own (within
//!   the slack of [`crate::engine::rca::Timing`]). A sharp new anomaly on a dependency that was
//!   healthy while an older problem went on opens its own problem instead of vanishing into it;
//!   and a problem whose trouble began a whole correlation window ago and whose active trouble
//!   is all recurrences (nothing, or signals back after clearing: kept open by recurring
//!   spikes, even while one of them is on) takes no new signal: the new one is news, and opens
//!   its own. Likewise a signal *above* a problem (it depends on the problem's entities) could
//!   join only as an effect, so it joins only while some trouble below it in the problem goes
//!   on or was last seen within that trouble's own detection lag (how long its end can have
//!   gone unseen): an effect follows its cause promptly, and a spike that cleared ten minutes
//!   ago explains nothing that starts now.
//!   (Preferring recent problems over old ones when a signal matches both was tried and
//!   dropped: in PetShop the first signal of an issue joins an old problem alone, and the rest
//!   then split from it.)
//!
//! Only unmarked signals anchor a problem's position in the topology. A signal that matches several
//! open problems and may be a cause of one of them (it lies below its trouble) shows they are
//! one: they merge into the oldest. A signal that is only a common *effect* (above each, below
//! none: the edge service slowed by two unrelated faults) merges nothing: it joins the one whose
//! trouble below it began last, no later than its own (an effect follows its cause promptly).
//! Two open problems whose top root-cause candidate is the same entity merge too (see
//! `Engine::reassess`).

use super::snapshot::codec::pairs;
use super::snapshot::model::{vec_candidate, ImpactDef};
use super::topology::Topology;
use crate::model::{Candidate, ChangeRecord, EntityId, Impact, ProblemId, Severity, SignalKey, SignalKind, Timestamp};
use petgraph::stable_graph::NodeIndex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Where a problem stands in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Open,
    Resolved { at: Timestamp },
    Merged { into: ProblemId },
}

/// The engine's working state of one problem. The UI never sees this: it folds the events.
///
/// In a snapshot, the topology caches (closure, siblings, anchors) are left out: they are
/// recomputed from `entities` on first use, as after any topology change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemState {
    pub id: ProblemId,
    /// Changed only through [`Problems::set_phase`], which keeps the indexes of open and closed
    /// problems.
    phase: Phase,
    pub signals: BTreeSet<SignalKey>,
    /// Entities of its unmarked signals (the anchors of its place in the topology) and how many
    /// of those signals sit on each.
    pub entities: BTreeMap<EntityId, u32>,
    /// Kinds and names of its unmarked signals, with counts: the "type" factor.
    #[serde(with = "pairs")]
    pub kinds: BTreeMap<(SignalKind, String), u32>,
    /// The background problem of marked signals: never matched by unmarked ones.
    pub background: bool,
    /// Earliest first-seen time of its signals.
    pub onset: Timestamp,
    /// Data time of the last attach, repeat or update.
    pub last_activity: Timestamp,
    /// When every signal is clear: the time the last one cleared.
    pub all_clear_since: Option<Timestamp>,
    pub severity: Severity,
    /// What was last emitted, so only changes become events.
    #[serde(with = "vec_candidate")]
    pub ranking: Vec<Candidate>,
    pub foundational: Option<ChangeRecord>,
    #[serde(with = "ImpactDef")]
    pub impact: Impact,
    /// Union of the dependency closures (`hops` edges) of its entities, the union of their direct
    /// dependencies (one edge), their nodes, and the topology generation these were computed at.
    #[serde(skip)]
    closure: HashSet<NodeIndex>,
    #[serde(skip)]
    siblings: HashSet<NodeIndex>,
    #[serde(skip)]
    anchors: HashSet<NodeIndex>,
    #[serde(skip)]
    closure_generation: Option<u64>,
}

/// How close a signal's entity is to a problem in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proximity {
    Far,
    /// Shares a direct dependency with one of the problem's entities.
    Sibling,
    /// Depends on one of them, or one of them depends on it, within the hops.
    Direct,
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
            kinds: BTreeMap::new(),
            background: false,
            closure: HashSet::new(),
            siblings: HashSet::new(),
            anchors: HashSet::new(),
            closure_generation: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When it stopped counting: the time it resolved, or for a merged problem the time of the
    /// merge (its `last_activity`, set then); `None` while open.
    fn closed_at(&self) -> Option<Timestamp> {
        match self.phase {
            Phase::Open => None,
            Phase::Resolved { at } => Some(at),
            Phase::Merged { .. } => Some(self.last_activity),
        }
    }

    /// Adds a signal; an unmarked one (`anchor`) also anchors the problem on its entity and kind.
    pub fn add_signal(&mut self, key: SignalKey, anchor: Option<(&EntityId, SignalKind, &str)>) {
        if !self.signals.insert(key) {
            return;
        }
        if let Some((entity, kind, name)) = anchor {
            self.anchor(entity, kind, name);
        }
    }

    /// A signal of the problem anchors it on its entity and kind: it was added unmarked, or its
    /// mark was lifted (see [`ProblemState::unanchor`] for the reverse).
    pub fn anchor(&mut self, entity: &EntityId, kind: SignalKind, name: &str) {
        *self.entities.entry(entity.clone()).or_insert(0) += 1;
        *self.kinds.entry((kind, name.to_string())).or_insert(0) += 1;
        self.closure_generation = None;
    }

    /// A signal of the problem was marked: it no longer anchors the problem.
    pub fn unanchor(&mut self, entity: &EntityId, kind: SignalKind, name: &str) {
        if let Some(n) = self.entities.get_mut(entity) {
            *n -= 1;
            if *n == 0 {
                self.entities.remove(entity);
            }
            self.closure_generation = None;
        }
        let k = (kind, name.to_string());
        if let Some(n) = self.kinds.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.kinds.remove(&k);
            }
        }
    }

    /// Whether the problem holds an unmarked signal of this kind and name.
    pub fn alike(&self, kind: SignalKind, name: &str) -> bool {
        self.kinds.contains_key(&(kind, name.to_string()))
    }

    /// True when one of this problem's entities depends on `entity` within the hops: it lies
    /// below the trouble, where a cause would be.
    pub fn below(&mut self, entity: &EntityId, topology: &mut Topology, hops: u32) -> bool {
        self.refresh_closure(topology, hops);
        topology.node(entity).is_some_and(|n| self.closure.contains(&n))
    }

    /// True when `entity` is one of this problem's entities or depends on one within the hops:
    /// trouble there can be an effect of this problem's, whenever it starts.
    pub fn above(&mut self, entity: &EntityId, topology: &mut Topology, hops: u32) -> bool {
        self.refresh_closure(topology, hops);
        let Some(n) = topology.node(entity) else { return false };
        self.anchors.contains(&n) || topology.closure(n, hops).iter().any(|m| self.anchors.contains(m))
    }

    /// How close `entity` is to this problem's entities (see the module doc).
    pub fn proximity(&mut self, entity: &EntityId, topology: &mut Topology, hops: u32) -> Proximity {
        self.refresh_closure(topology, hops);
        let Some(n) = topology.node(entity) else { return Proximity::Far };
        if self.closure.contains(&n) || topology.closure(n, hops).iter().any(|m| self.anchors.contains(m)) {
            return Proximity::Direct;
        }
        if topology.closure(n, 1).iter().skip(1).any(|m| self.siblings.contains(m)) {
            return Proximity::Sibling;
        }
        Proximity::Far
    }

    fn refresh_closure(&mut self, topology: &mut Topology, hops: u32) {
        if self.closure_generation == Some(topology.generation()) {
            return;
        }
        self.closure.clear();
        self.siblings.clear();
        self.anchors.clear();
        for e in self.entities.keys() {
            if let Some(n) = topology.node(e) {
                self.anchors.insert(n);
                self.closure.extend(topology.closure(n, hops).iter().copied());
                // The closure starts with the node itself: its direct dependencies follow.
                self.siblings.extend(topology.closure(n, 1).iter().skip(1).copied());
            }
        }
        self.closure_generation = Some(topology.generation());
    }
}

/// The problems the engine keeps, by id. Ids count up from 1.
///
/// Memory does not grow with the number of problems ever opened: open ones are indexed so that
/// no per-observation path walks the others, and a problem resolved (or merged away) longer ago
/// than the engine's forget age is dropped by [`Problems::forget_closed`] (the journal keeps its
/// events; views fold those, never this). The indexes are derived from the phases and rebuilt
/// when a snapshot is read, so a snapshot holds the problems only.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(from = "WrittenProblems")]
pub struct Problems {
    by_id: BTreeMap<ProblemId, ProblemState>,
    next: u64,
    /// Open problems whose signals are all clear, by the time they resolve.
    deadlines: BTreeSet<(Timestamp, ProblemId)>,
    /// The same, by problem, so a cancel removes exactly its entry.
    deadline_of: BTreeMap<ProblemId, Timestamp>,
    /// Ids of the open problems, oldest first.
    #[serde(skip)]
    open: BTreeSet<ProblemId>,
    /// Resolved and merged problems by the time they closed (see [`ProblemState::closed_at`]).
    #[serde(skip)]
    closed: BTreeSet<(Timestamp, ProblemId)>,
}

/// [`Problems`] as a snapshot writes it: without the indexes, which are derived.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenProblems {
    by_id: BTreeMap<ProblemId, ProblemState>,
    next: u64,
    deadlines: BTreeSet<(Timestamp, ProblemId)>,
    deadline_of: BTreeMap<ProblemId, Timestamp>,
}

impl From<WrittenProblems> for Problems {
    fn from(w: WrittenProblems) -> Problems {
        let open = w.by_id.values().filter(|p| p.is_open()).map(|p| p.id).collect();
        let closed = w.by_id.values().filter_map(|p| p.closed_at().map(|t| (t, p.id))).collect();
        Problems { by_id: w.by_id, next: w.next, deadlines: w.deadlines, deadline_of: w.deadline_of, open, closed }
    }
}

impl Problems {
    pub fn get(&self, id: ProblemId) -> Option<&ProblemState> {
        self.by_id.get(&id)
    }

    /// The problem's state, to change anything but its phase (see [`Problems::set_phase`]).
    pub fn get_mut(&mut self, id: ProblemId) -> Option<&mut ProblemState> {
        self.by_id.get_mut(&id)
    }

    /// Problems kept (open, and closed within the forget age).
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every problem kept, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &ProblemState> {
        self.by_id.values()
    }

    /// The open problems, oldest first, without walking the closed ones.
    pub fn open_problems(&self) -> impl Iterator<Item = &ProblemState> {
        self.open.iter().filter_map(|id| self.by_id.get(id))
    }

    /// How many problems are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Whether `id` was ever opened (kept or forgotten since).
    pub fn issued(&self, id: ProblemId) -> bool {
        (1..=self.next).contains(&id.0)
    }

    /// Moves problem `id` to `phase` at data time `at`, keeping the indexes. A merged problem's
    /// `last_activity` becomes the time of the merge (when it is forgotten from).
    pub fn set_phase(&mut self, id: ProblemId, phase: Phase, at: Timestamp) {
        let Some(p) = self.by_id.get_mut(&id) else { return };
        if let Some(t) = p.closed_at() {
            self.closed.remove(&(t, id));
        }
        if matches!(phase, Phase::Merged { .. }) {
            p.last_activity = p.last_activity.max(at);
        }
        p.phase = phase;
        match p.closed_at() {
            None => {
                self.open.insert(id);
            }
            Some(t) => {
                self.open.remove(&id);
                self.closed.insert((t, id));
            }
        }
    }

    /// Drops the problems that closed (resolved, or merged away) at or before `cutoff`, and
    /// returns their ids, oldest close first.
    pub fn forget_closed(&mut self, cutoff: Timestamp) -> Vec<ProblemId> {
        let mut gone = Vec::new();
        while let Some(&(t, id)) = self.closed.first() {
            if t > cutoff {
                break;
            }
            self.closed.pop_first();
            self.by_id.remove(&id);
            gone.push(id);
        }
        gone
    }

    /// Creates a problem and returns its id.
    pub fn open(&mut self, at: Timestamp, severity: Severity) -> ProblemId {
        self.next += 1;
        let id = ProblemId(self.next);
        self.by_id.insert(id, ProblemState::new(id, at, severity));
        self.open.insert(id);
        id
    }

    /// Open incident problems the signal joins by the cookbook rule (see the module doc), oldest
    /// first. `kind` and `name` are the signal's, for the type factor.
    #[allow(clippy::too_many_arguments)]
    pub fn matching(
        &mut self,
        entity: &EntityId,
        kind: SignalKind,
        name: &str,
        at: Timestamp,
        window_ms: i64,
        topology: &mut Topology,
        hops: u32,
    ) -> Vec<ProblemId> {
        self.active_incidents(at, window_ms, |p| match p.proximity(entity, topology, hops) {
            Proximity::Direct => true,
            Proximity::Sibling => kind == SignalKind::LogBurst && p.alike(kind, name),
            Proximity::Far => false,
        })
    }

    /// Open incident (not background) problems active within `window_ms` before `at` for which
    /// `test` holds, oldest first.
    fn active_incidents(
        &mut self,
        at: Timestamp,
        window_ms: i64,
        mut test: impl FnMut(&mut ProblemState) -> bool,
    ) -> Vec<ProblemId> {
        let mut out = Vec::new();
        for id in &self.open {
            let Some(p) = self.by_id.get_mut(id) else { continue };
            if !p.background && at.since(p.last_activity) <= window_ms && test(p) {
                out.push(p.id);
            }
        }
        out
    }

    /// Open incident problems active within the window with `entity` below their trouble (see
    /// [`ProblemState::below`]), oldest first: where a low-criticality signal may still join.
    pub fn below(
        &mut self,
        entity: &EntityId,
        at: Timestamp,
        window_ms: i64,
        topology: &mut Topology,
        hops: u32,
    ) -> Vec<ProblemId> {
        self.active_incidents(at, window_ms, |p| p.below(entity, topology, hops))
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

#[cfg(test)]
mod tests {
    use crate::engine::tests::Feed;
    use crate::model::{AlertState, Criticality, EntityId, EntityKind, Mark, ProblemSet, RelationKind, Severity};

    const MIN: i64 = 60_000;

    fn shop() -> Feed {
        use RelationKind::*;
        let mut f = Feed::new();
        f.relate("service:web", Calls, "service:api");
        f.relate("service:web", Calls, "service:search");
        f.relate("service:api", Calls, "database:db");
        f.relate("service:search", Calls, "database:db");
        f.relate("service:api", RunsOn, "host:a");
        f.relate("service:search", RunsOn, "host:b");
        f
    }

    #[test]
    fn dependents_and_dependencies_join_siblings_only_with_the_same_symptom() {
        let mut f = shop();
        f.alert(0, "service:api", "HighErrorRate", AlertState::Firing);
        // The host below it joins: direct.
        f.alert(MIN, "host:a", "HostCpuSaturation", AlertState::Firing);
        // A sibling of api (both call db) with an unrelated alert stays apart...
        f.alert(2 * MIN, "service:search", "IndexStale", AlertState::Firing);
        assert_eq!(
            f.groups(),
            [
                vec!["alert:host:a/HostCpuSaturation", "alert:service:api/HighErrorRate"],
                vec!["alert:service:search/IndexStale"],
            ]
        );
        // ...and stays apart when web, which calls both, fails: a common effect, web's errors
        // join the trouble below them that began last (search's) and merge nothing...
        f.alert(3 * MIN, "service:web", "HighErrorRate", AlertState::Firing);
        assert_eq!(
            f.groups(),
            [
                vec!["alert:host:a/HostCpuSaturation", "alert:service:api/HighErrorRate"],
                vec!["alert:service:search/IndexStale", "alert:service:web/HighErrorRate"],
            ]
        );
        // ...until the database both call slows down: a common cause, it merges them.
        f.alert(4 * MIN, "database:db", "SlowQueries", AlertState::Firing);
        assert_eq!(f.groups().len(), 1);
        assert_eq!(f.groups()[0].len(), 5);

        // ...while siblings logging the same template about their common dependency group.
        let mut f = shop();
        f.log(0, "service:api", "timeout waiting for db");
        f.log(MIN, "service:search", "timeout waiting for db");
        assert_eq!(
            f.groups(),
            [vec!["log:service:api:timeout waiting for db", "log:service:search:timeout waiting for db"]]
        );
    }

    #[test]
    fn a_signal_after_the_correlation_window_opens_its_own_problem_unless_it_shares_the_root() {
        // Far apart in time on unrelated entities: two problems.
        let mut f = shop();
        f.alert(0, "service:api", "HighErrorRate", AlertState::Firing);
        f.alert(40 * MIN, "host:b", "HostCpuSaturation", AlertState::Firing);
        assert_eq!(f.groups().len(), 2);

        // The same entity long after the problem's last activity: a new problem first, whose top
        // root candidate is that of the open one, so the two merge (the younger into the older).
        let mut f = shop();
        f.alert(0, "host:a", "HostCpuSaturation", AlertState::Firing);
        f.alert(40 * MIN, "host:a", "HostMemoryPressure", AlertState::Firing);
        assert_eq!(f.groups(), [vec!["alert:host:a/HostCpuSaturation", "alert:host:a/HostMemoryPressure"]]);
        let merged = f.events.iter().filter(|e| matches!(e.kind, crate::model::EventKind::MergedInto { .. }));
        assert_eq!(merged.count(), 1);
    }

    #[test]
    fn flapping_signals_are_learned_marked_and_kept_out_of_incidents() {
        let mut f = shop();
        // host:a flaps: firing 2 minutes out of every 6.
        for i in 0..6 {
            f.alert(i * 6 * MIN, "host:a", "ClockSkew", AlertState::Firing);
            f.alert(i * 6 * MIN + 2 * MIN, "host:a", "ClockSkew", AlertState::Resolved);
        }
        // Then a real incident on the same host, while the alert flaps on.
        f.alert(37 * MIN, "host:a", "HostCpuSaturation", AlertState::Firing);
        f.alert(37 * MIN, "host:a", "ClockSkew", AlertState::Firing);
        f.alert(38 * MIN, "service:api", "HighLatency", AlertState::Firing);
        let set = ProblemSet::fold(&f.events);
        let visible = set.visible();
        assert_eq!(visible.len(), 2, "{:?}", f.groups());
        let skew = visible.iter().find(|p| p.signals.values().any(|s| s.name == "ClockSkew")).unwrap();
        let signal = skew.signals.values().find(|s| s.name == "ClockSkew").unwrap();
        assert_eq!(signal.mark, Some(Mark::Flapping { activations: 3 }), "marked at its third activation");
        assert_eq!(skew.severity, Severity::Info, "the background problem is low priority");
        assert_eq!(skew.signals.len(), 1);
        let incident = visible.iter().find(|p| p.id != skew.id).unwrap();
        assert_eq!(incident.signals.len(), 2);
        assert!(incident.signals.values().all(|s| s.mark.is_none()));
        assert_eq!(incident.root_causes[0].entity, EntityId::new("host:a"));
    }

    #[test]
    fn a_flapper_that_stays_firing_for_a_flap_window_leaves_the_background_for_the_incident() {
        use crate::model::{EventKind, ProblemStatus, SignalKey};
        let key = SignalKey("alert:host:a/DiskFull".to_string());
        let mut f = shop();
        // The disk of host:a fills every night and is cleaned up: it flaps, and at its third
        // firing (minute 12) it is marked and goes to the background.
        for i in 0..2 {
            f.alert(i * 6 * MIN, "host:a", "DiskFull", AlertState::Firing);
            f.alert(i * 6 * MIN + 2 * MIN, "host:a", "DiskFull", AlertState::Resolved);
        }
        // Then it stays full: firing on every poll from minute 12 on. api (on host:a) and web
        // (calling api) start failing at minutes 20 and 21 and open an incident of their own,
        // since the marked disk alert anchors none.
        let disk = |f: &Feed| {
            let set = ProblemSet::fold(&f.events);
            let p = set.visible().into_iter().find(|p| p.signals.contains_key(&key)).cloned();
            p.expect("the disk signal is in a visible problem")
        };
        let mut background = None;
        for m in 12..=80 {
            f.alert(m * MIN, "host:a", "DiskFull", AlertState::Firing);
            if m >= 20 {
                f.alert(m * MIN, "service:api", "HighErrorRate", AlertState::Firing);
            }
            if m >= 21 {
                f.alert(m * MIN, "service:web", "HighErrorRate", AlertState::Firing);
            }
            let p = disk(&f);
            let mark = p.signals[&key].mark;
            if m < 72 {
                // Less than a flap window since it last started firing: still flapping.
                assert_eq!(mark, Some(Mark::Flapping { activations: 3 }), "minute {m}");
                assert_eq!(p.severity, Severity::Info, "minute {m}: in the background");
                background = Some(p.id);
            } else {
                assert_eq!(mark, None, "minute {m}: a whole flap window without a break");
                assert_ne!(Some(p.id), background, "minute {m}");
            }
        }
        let background = background.unwrap();
        let set = ProblemSet::fold(&f.events);
        let visible = set.visible();
        assert_eq!(visible.len(), 2, "{:?}", f.groups());
        let incident = visible.iter().find(|p| p.id != background).unwrap();
        assert_eq!(
            incident.signals.keys().map(|k| k.0.as_str()).collect::<Vec<_>>(),
            ["alert:host:a/DiskFull", "alert:service:api/HighErrorRate", "alert:service:web/HighErrorRate"]
        );
        assert_eq!(incident.root_causes[0].entity, EntityId::new("host:a"), "the full disk explains the errors");
        assert_eq!(incident.severity, Severity::Warning);
        // The move is in both timelines, at minute 72: detached from the background, attached to
        // the incident; the background, now empty, resolves as usual.
        let moved: Vec<_> = f.events.iter().filter(|e| matches!(e.kind, EventKind::SignalDetached { .. })).collect();
        assert_eq!(moved.len(), 1);
        assert_eq!((moved[0].problem, moved[0].at.0), (background, 72 * MIN));
        assert_eq!(moved[0].kind, EventKind::SignalDetached { key: key.clone(), to: incident.id });
        let bg = &set.problems[&background];
        assert!(bg.signals.is_empty());
        assert!(bg.timeline.iter().any(|t| t.text == format!("alert:host:a/DiskFull moved to {}", incident.id)));
        assert!(incident
            .timeline
            .iter()
            .any(|t| t.at.0 == 72 * MIN && t.text.starts_with("alert DiskFull on host:a attached")));
        assert_eq!(bg.status, ProblemStatus::Resolved, "resolved 5 minutes after it was left empty");
        assert_eq!(bg.resolved_at.map(|t| t.0), Some(77 * MIN));

        // It can be marked again, after flap_activations (3) more firings: not at the second.
        for (i, m) in [84, 88, 92].into_iter().enumerate() {
            f.alert((m - 2) * MIN, "host:a", "DiskFull", AlertState::Resolved);
            f.alert(m * MIN, "host:a", "DiskFull", AlertState::Firing);
            let mark = disk(&f).signals[&key].mark;
            let expected = (i == 2).then_some(Mark::Flapping { activations: 3 });
            assert_eq!(mark, expected, "minute {m}");
        }
        // Marked again inside the incident, it stays there but is no root-cause evidence...
        let p = disk(&f);
        assert_eq!(p.id, incident.id);
        assert_eq!(p.root_causes[0].entity, EntityId::new("service:api"));
        // ...until it has fired for a whole window without a break again: it anchors the
        // incident once more, in place (no second move), and is its root again.
        for m in 93..=152 {
            for (e, n) in [("host:a", "DiskFull"), ("service:api", "HighErrorRate"), ("service:web", "HighErrorRate")] {
                f.alert(m * MIN, e, n, AlertState::Firing);
            }
        }
        let p = disk(&f);
        assert_eq!((p.id, p.signals[&key].mark), (incident.id, None));
        assert_eq!(p.root_causes[0].entity, EntityId::new("host:a"));
        assert_eq!(f.events.iter().filter(|e| matches!(e.kind, EventKind::SignalDetached { .. })).count(), 1);
    }

    #[test]
    fn a_flapper_that_keeps_flapping_stays_marked_in_the_background() {
        use crate::model::{EventKind, SignalKey};
        let key = SignalKey("alert:host:a/DiskFull".to_string());
        let mut f = shop();
        // Marked at its third firing (minute 12)...
        for i in 0..2 {
            f.alert(i * 6 * MIN, "host:a", "DiskFull", AlertState::Firing);
            f.alert(i * 6 * MIN + 2 * MIN, "host:a", "DiskFull", AlertState::Resolved);
        }
        // ...then long runs, polled every minute for 59 minutes and cleared half a minute later:
        // never a whole flap window without a break, for five hours.
        let mut at = 12 * MIN;
        for _ in 0..5 {
            for m in 0..60 {
                f.alert(at + m * MIN, "host:a", "DiskFull", AlertState::Firing);
            }
            f.alert(at + 59 * MIN + MIN / 2, "host:a", "DiskFull", AlertState::Resolved);
            at += 60 * MIN;
        }
        assert!(!f.events.iter().any(|e| matches!(e.kind, EventKind::SignalDetached { .. })));
        let set = ProblemSet::fold(&f.events);
        let visible = set.visible();
        assert_eq!(visible.len(), 1, "{:?}", f.groups());
        assert_eq!(visible[0].severity, Severity::Info);
        let signal = &visible[0].signals[&key];
        assert_eq!(signal.mark, Some(Mark::Flapping { activations: 3 }));
        // The same with short flaps that last much longer than the window in all.
        let mut f = shop();
        for i in 0..30 {
            f.alert(i * 6 * MIN, "host:a", "DiskFull", AlertState::Firing);
            f.alert(i * 6 * MIN + MIN, "host:a", "DiskFull", AlertState::Firing);
            f.alert(i * 6 * MIN + 2 * MIN, "host:a", "DiskFull", AlertState::Resolved);
        }
        assert!(!f.events.iter().any(|e| matches!(e.kind, EventKind::SignalDetached { .. })));
        let set = ProblemSet::fold(&f.events);
        let signal = &set.visible()[0].signals[&key];
        assert!(matches!(signal.mark, Some(Mark::Flapping { .. })));
    }

    #[test]
    fn a_low_criticality_cause_below_an_incident_joins_it_and_can_be_its_root() {
        let mut f = shop();
        f.entity("queue:legacy", EntityKind::Queue, Criticality::Low);
        f.relate("service:api", RelationKind::Calls, "queue:legacy");
        f.alert(MIN, "service:api", "HighErrorRate", AlertState::Firing);
        f.alert(2 * MIN, "queue:legacy", "QueueStuck", AlertState::Firing);
        let set = ProblemSet::fold(&f.events);
        let visible = set.visible();
        assert_eq!(visible.len(), 1, "{:?}", f.groups());
        let incident = visible[0];
        let queue = &incident.signals.values().find(|s| s.entity.as_str() == "queue:legacy").unwrap();
        assert_eq!(queue.mark, Some(Mark::LowCriticality), "still marked");
        assert_eq!(incident.root_causes[0].entity.as_str(), "queue:legacy");
        // Alone, the same signal opens no incident: it waits in the background.
        let mut g = shop();
        g.entity("queue:legacy", EntityKind::Queue, Criticality::Low);
        g.relate("service:api", RelationKind::Calls, "queue:legacy");
        g.alert(MIN, "queue:legacy", "QueueStuck", AlertState::Firing);
        let set = ProblemSet::fold(&g.events);
        assert_eq!(set.visible().len(), 1);
        assert_eq!(set.visible()[0].severity, Severity::Info);
    }

    #[test]
    fn low_criticality_signals_go_to_the_background_never_to_an_incident() {
        let mut f = shop();
        f.entity("service:report", EntityKind::Service, Criticality::Low);
        f.relate("service:report", RelationKind::Calls, "service:api");
        f.alert(0, "service:report", "JobSlow", AlertState::Firing);
        f.alert(MIN, "service:api", "HighErrorRate", AlertState::Firing);
        // A caller of api, so close enough to join, but low criticality: it does not.
        f.alert(2 * MIN, "service:report", "JobFailed", AlertState::Firing);
        let set = ProblemSet::fold(&f.events);
        let visible = set.visible();
        assert_eq!(visible.len(), 2);
        let background = visible.iter().find(|p| p.severity == Severity::Info).expect("a background problem");
        assert_eq!(background.signals.len(), 2);
        assert!(background.signals.values().all(|s| s.mark == Some(Mark::LowCriticality)));
        let incident = visible.iter().find(|p| p.id != background.id).unwrap();
        assert_eq!(incident.signals.len(), 1);
    }
}
