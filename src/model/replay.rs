//! The replay cursor: every event received, and the problems as they stood after the first
//! `position` of them. Live is the cursor at the end, following new events.
//!
//! Stepping forward is one [`ProblemSet::apply`], the live code path (DESIGN §2). Stepping back
//! undoes one event from an undo record taken when it was applied: an event changes only its own
//! problem (a merge or absorb too: each side gets its own event), and only the fields its kind
//! writes, so the record holds just their previous values. One step either way costs the same
//! whatever the journal's length, and nothing is ever refolded from the start; memory is one small
//! record per event before the cursor (see `benches/replay.rs` for both figures).

use super::event::{Candidate, ChangeRecord, EventKind, Impact, ProblemEvent, ProblemId};
use super::observation::Severity;
use super::problem::{Problem, ProblemSet, ProblemStatus};
use super::signal::Signal;
use super::time::Timestamp;
use std::collections::BTreeMap;

/// The events received and the problems as of a cursor position among them.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Every event received, strictly increasing `seq`.
    events: Vec<ProblemEvent>,
    /// Positions in `events` of each problem's events.
    by_problem: BTreeMap<ProblemId, Vec<usize>>,
    /// Positions in `events` of the root-cause ranking changes.
    rankings: Vec<usize>,
    /// The fold of `events[..undo.len()]`.
    set: ProblemSet,
    /// One record per event folded in (so its length is the cursor position).
    undo: Vec<Undo>,
    /// The cursor follows new events.
    live: bool,
}

impl Default for Replay {
    /// An empty replay, live.
    fn default() -> Replay {
        Replay::new()
    }
}

/// What undoes one event: the set's position before it and its problem's previous fields.
#[derive(Debug, Clone)]
struct Undo {
    set_last_seq: u64,
    set_as_of: Timestamp,
    change: Change,
}

#[derive(Debug, Clone)]
enum Change {
    /// The event named a problem the set did not hold: nothing changed but the position.
    Nothing,
    /// An `Opened` event put a new problem in (replacing this one, if the id was taken).
    Opened { previous: Option<Box<Problem>> },
    /// The event changed its problem's fields.
    Problem { last_seq: u64, updated_at: Timestamp, timeline_len: usize, field: Field },
}

/// The previous value of the field an event's kind writes.
#[derive(Debug, Clone)]
enum Field {
    Unchanged,
    /// A signal's entry (attached, updated, detached), by the event's key.
    Signal(Option<Box<Signal>>),
    /// A repeat: only the counter and last-seen time move.
    Repeated {
        count: u64,
        last_seen: Timestamp,
    },
    Severity(Severity),
    RootCauses(Vec<Candidate>),
    Foundational(Option<Box<ChangeRecord>>),
    Impact(Box<Impact>),
    Status(ProblemStatus),
    Absorbed(usize),
    Acknowledged(Option<String>),
    Silenced(Option<Timestamp>),
    Resolution(ProblemStatus, Option<Timestamp>),
    /// A kind this file does not know yet: the whole problem before it (correct, if heavier).
    #[allow(dead_code)]
    Whole(Box<Problem>),
}

impl Replay {
    /// An empty replay, live.
    pub fn new() -> Replay {
        Replay {
            events: Vec::new(),
            by_problem: BTreeMap::new(),
            rankings: Vec::new(),
            set: ProblemSet::default(),
            undo: Vec::new(),
            live: true,
        }
    }

    /// A replay of these events with the cursor at the end, live.
    pub fn from_events(events: Vec<ProblemEvent>) -> Replay {
        let mut replay = Replay::new();
        replay.extend(events);
        replay
    }

    /// Takes new events (in `seq` order; a seq at or below the last one received is dropped, so a
    /// viewer may re-read an overlapping range). While live the cursor moves to the new end.
    pub fn extend(&mut self, events: impl IntoIterator<Item = ProblemEvent>) {
        for e in events {
            if self.events.last().is_some_and(|last| e.seq <= last.seq) {
                continue;
            }
            let at = self.events.len();
            self.by_problem.entry(e.problem).or_default().push(at);
            if matches!(e.kind, EventKind::RootCauseRanked { .. }) {
                self.rankings.push(at);
            }
            self.events.push(e);
        }
        if self.live {
            self.seek(self.events.len());
            self.live = true;
        }
    }

    /// The problems as of the cursor.
    pub fn set(&self) -> &ProblemSet {
        &self.set
    }

    /// Every event received, in `seq` order.
    pub fn events(&self) -> &[ProblemEvent] {
        &self.events
    }

    /// How many events were received.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// No event was received yet.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The cursor: how many events are folded in (0 = before the first, `len()` = all).
    pub fn position(&self) -> usize {
        self.undo.len()
    }

    /// The cursor follows new events.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The last event folded in, if any: the one the cursor is on.
    pub fn current(&self) -> Option<&ProblemEvent> {
        self.position().checked_sub(1).and_then(|i| self.events.get(i))
    }

    /// Data time of the cursor: the time of the last event folded in, `None` before the first.
    pub fn at(&self) -> Option<Timestamp> {
        self.current().map(|e| e.at)
    }

    /// Positions (indexes into [`Replay::events`]) of one problem's events, in order.
    pub fn positions_of(&self, problem: ProblemId) -> &[usize] {
        self.by_problem.get(&problem).map_or(&[], Vec::as_slice)
    }

    /// Positions of the root-cause ranking changes, in order.
    pub fn ranking_positions(&self) -> &[usize] {
        &self.rankings
    }

    /// Leaves live mode without moving: the cursor stays where it is as new events arrive.
    pub fn pause(&mut self) {
        self.live = false;
    }

    /// Back to live: the cursor at the end, following new events.
    pub fn go_live(&mut self) {
        self.seek(self.events.len());
        self.live = true;
    }

    /// Folds in the next event; false at the end. Leaves live mode.
    pub fn step_forward(&mut self) -> bool {
        self.live = false;
        let Some(e) = self.events.get(self.undo.len()) else { return false };
        let undo = record(&self.set, e);
        self.set.apply(e);
        self.undo.push(undo);
        true
    }

    /// Takes the last event folded in back out; false at the start. Leaves live mode.
    pub fn step_back(&mut self) -> bool {
        self.live = false;
        let Some(undo) = self.undo.pop() else { return false };
        let e = &self.events[self.undo.len()];
        restore(&mut self.set, e, undo);
        true
    }

    /// Moves the cursor to `position` (clamped to `len()`), one step at a time. Leaves live mode.
    pub fn seek(&mut self, position: usize) {
        let position = position.min(self.events.len());
        while self.position() < position && self.step_forward() {}
        while self.position() > position && self.step_back() {}
        self.live = false;
    }

    /// The position just after the last event before the cursor that `keep` accepts among
    /// `positions` (sorted), i.e. where the cursor goes to stand on it; `None` when there is none.
    pub fn previous_in(&self, positions: &[usize]) -> Option<usize> {
        // The event the cursor stands on is position()-1; the previous one is before it.
        let on = self.position().checked_sub(1)?;
        let i = positions.partition_point(|&p| p < on);
        i.checked_sub(1).map(|i| positions[i] + 1)
    }

    /// The position just after the first event after the cursor among `positions` (sorted).
    pub fn next_in(&self, positions: &[usize]) -> Option<usize> {
        let i = positions.partition_point(|&p| p < self.position());
        positions.get(i).map(|p| p + 1)
    }
}

/// The undo record of `e` against the set before it is applied.
fn record(set: &ProblemSet, e: &ProblemEvent) -> Undo {
    let change = match (&e.kind, set.problems.get(&e.problem)) {
        (EventKind::Opened { .. }, previous) => Change::Opened { previous: previous.cloned().map(Box::new) },
        (_, None) => Change::Nothing,
        (kind, Some(p)) => Change::Problem {
            last_seq: p.last_seq,
            updated_at: p.updated_at,
            timeline_len: p.timeline.len(),
            field: field(kind, p),
        },
    };
    Undo { set_last_seq: set.last_seq, set_as_of: set.as_of, change }
}

/// The previous value of what `kind` writes in `p` (see `Problem::apply`).
fn field(kind: &EventKind, p: &Problem) -> Field {
    #[allow(unreachable_patterns)]
    match kind {
        EventKind::Opened { .. } => Field::Unchanged,
        EventKind::SignalAttached { signal } | EventKind::SignalUpdated { signal } => {
            Field::Signal(p.signals.get(&signal.key).cloned().map(Box::new))
        }
        EventKind::SignalRepeated { key, .. } => match p.signals.get(key) {
            Some(s) => Field::Repeated { count: s.count, last_seen: s.last_seen },
            None => Field::Unchanged,
        },
        EventKind::SignalDetached { key, .. } => Field::Signal(p.signals.get(key).cloned().map(Box::new)),
        EventKind::SeverityChanged { .. } => Field::Severity(p.severity),
        EventKind::RootCauseRanked { .. } => Field::RootCauses(p.root_causes.clone()),
        EventKind::FoundationalCauseLinked { .. } => Field::Foundational(p.foundational_cause.clone().map(Box::new)),
        EventKind::ImpactUpdated { .. } => Field::Impact(Box::new(p.impact.clone())),
        EventKind::MergedInto { .. } => Field::Status(p.status),
        EventKind::Absorbed { .. } => Field::Absorbed(p.absorbed.len()),
        EventKind::Acknowledged { .. } => Field::Acknowledged(p.acknowledged_by.clone()),
        EventKind::Silenced { .. } => Field::Silenced(p.silenced_until),
        EventKind::Resolved | EventKind::Reopened => Field::Resolution(p.status, p.resolved_at),
        EventKind::RunbookStarted { .. } | EventKind::RunbookFinished { .. } => Field::Unchanged,
        // A kind added after this file: keep the whole problem rather than guess.
        _ => Field::Whole(Box::new(p.clone())),
    }
}

/// Takes `e` back out of `set` with its undo record.
fn restore(set: &mut ProblemSet, e: &ProblemEvent, undo: Undo) {
    set.last_seq = undo.set_last_seq;
    set.as_of = undo.set_as_of;
    match undo.change {
        Change::Nothing => {}
        Change::Opened { previous: None } => {
            set.problems.remove(&e.problem);
        }
        Change::Opened { previous: Some(p) } => {
            set.problems.insert(e.problem, *p);
        }
        Change::Problem { last_seq, updated_at, timeline_len, field } => {
            let Some(p) = set.problems.get_mut(&e.problem) else { return };
            if let Field::Whole(previous) = field {
                *p = *previous;
                return;
            }
            p.last_seq = last_seq;
            p.updated_at = updated_at;
            p.timeline.truncate(timeline_len);
            restore_field(p, &e.kind, field);
        }
    }
}

fn restore_field(p: &mut Problem, kind: &EventKind, field: Field) {
    match (field, kind) {
        (Field::Signal(previous), EventKind::SignalAttached { signal } | EventKind::SignalUpdated { signal }) => {
            put_signal(p, &signal.key, previous)
        }
        (Field::Signal(previous), EventKind::SignalDetached { key, .. }) => put_signal(p, key, previous),
        (Field::Repeated { count, last_seen }, EventKind::SignalRepeated { key, .. }) => {
            if let Some(s) = p.signals.get_mut(key) {
                s.count = count;
                s.last_seen = last_seen;
            }
        }
        (Field::Severity(severity), _) => p.severity = severity,
        (Field::RootCauses(candidates), _) => p.root_causes = candidates,
        (Field::Foundational(change), _) => p.foundational_cause = change.map(|c| *c),
        (Field::Impact(impact), _) => p.impact = *impact,
        (Field::Status(status), _) => p.status = status,
        (Field::Absorbed(len), _) => p.absorbed.truncate(len),
        (Field::Acknowledged(by), _) => p.acknowledged_by = by,
        (Field::Silenced(until), _) => p.silenced_until = until,
        (Field::Resolution(status, resolved_at), _) => {
            p.status = status;
            p.resolved_at = resolved_at;
        }
        (Field::Whole(previous), _) => *p = *previous,
        // A record always matches its own event's kind; anything else changed nothing.
        (Field::Unchanged | Field::Signal(_) | Field::Repeated { .. }, _) => {}
    }
}

fn put_signal(p: &mut Problem, key: &super::signal::SignalKey, previous: Option<Box<Signal>>) {
    match previous {
        Some(s) => {
            p.signals.insert(key.clone(), *s);
        }
        None => {
            p.signals.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    /// The demo scenario's events, played through the engine.
    fn demo_events() -> Vec<ProblemEvent> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios/db-cpu-saturation.jsonl");
        let scenario = crate::sources::fixture::load(&path).expect("the demo scenario loads");
        let mut engine = Engine::new(Default::default());
        let mut events = Vec::new();
        for o in &scenario.observations {
            engine.observe(o, &mut events);
        }
        events
    }

    /// A small deterministic generator (xorshift), so the random walk is the same every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn expected(events: &[ProblemEvent], position: usize) -> ProblemSet {
        match position.checked_sub(1) {
            None => ProblemSet::default(),
            Some(i) => ProblemSet::as_of_seq(events, events[i].seq),
        }
    }

    #[test]
    fn every_position_stepping_back_equals_the_fold_to_it() {
        let events = demo_events();
        assert!(events.len() > 100, "the demo has {} events", events.len());
        let mut replay = Replay::from_events(events.clone());
        assert!(replay.is_live());
        assert_eq!(replay.position(), events.len());
        assert_eq!(replay.set(), &ProblemSet::fold(&events));
        for position in (0..events.len()).rev() {
            assert!(replay.step_back());
            assert_eq!(replay.position(), position);
            assert_eq!(replay.set(), &expected(&events, position), "at position {position}");
        }
        assert!(!replay.step_back());
        for position in 1..=events.len() {
            assert!(replay.step_forward());
            assert_eq!(replay.set(), &expected(&events, position), "at position {position}");
        }
        assert!(!replay.step_forward());
        assert!(!replay.is_live());
    }

    #[test]
    fn random_back_forward_and_seek_orders_equal_the_fold() {
        let events = demo_events();
        let mut replay = Replay::from_events(events.clone());
        let mut rng = Rng(0x5eed_f00d_cafe_d00d);
        for round in 0..3000 {
            match rng.below(4) {
                0 => {
                    replay.step_back();
                }
                1 => {
                    replay.step_forward();
                }
                2 => replay.seek(rng.below(events.len() + 1)),
                _ => {
                    let jump = rng.below(40);
                    let to = if rng.below(2) == 0 {
                        replay.position().saturating_sub(jump)
                    } else {
                        replay.position() + jump
                    };
                    replay.seek(to);
                }
            }
            let position = replay.position();
            assert_eq!(replay.set(), &expected(&events, position), "round {round}, position {position}");
        }
    }

    fn signal(key: &str, count: u64, active: bool) -> Signal {
        Signal {
            key: crate::model::SignalKey(key.to_string()),
            kind: crate::model::SignalKind::Alert,
            entity: crate::model::EntityId::new("host:a"),
            name: key.to_string(),
            severity: Severity::Major,
            first_seen: Timestamp(1_000),
            last_seen: Timestamp(1_000 * count as i64),
            count,
            active,
            score: 0.5,
            value: None,
            baseline: None,
            labels: Default::default(),
            mark: None,
        }
    }

    /// Every kind of event, including those the demo never makes (silences, acknowledgements,
    /// merges, detaches, reopening, an event for a problem that does not exist, a re-opened id).
    fn every_kind() -> Vec<ProblemEvent> {
        use crate::model::{ChangeKind, SignalKey, SilenceRecord};
        let (p1, p2, p9) = (ProblemId(1), ProblemId(2), ProblemId(9));
        let silence = |end: i64| SilenceRecord {
            id: format!("s-{end}"),
            matchers: vec!["alertname=\"x\"".to_string()],
            starts_at: Timestamp(0),
            ends_at: Timestamp(end),
        };
        let kinds = vec![
            (p1, EventKind::Opened { title: "one".into(), severity: Severity::Warning }),
            (p1, EventKind::SignalAttached { signal: signal("a", 1, true) }),
            (p1, EventKind::SignalRepeated { key: SignalKey("a".into()), count: 5, last_seen: Timestamp(9_000) }),
            (p1, EventKind::SignalRepeated { key: SignalKey("missing".into()), count: 2, last_seen: Timestamp(9) }),
            (p1, EventKind::SignalUpdated { signal: signal("a", 6, false) }),
            (p2, EventKind::Opened { title: "two".into(), severity: Severity::Info }),
            (p2, EventKind::SignalAttached { signal: signal("b", 1, true) }),
            (p1, EventKind::SeverityChanged { severity: Severity::Critical }),
            (p1, EventKind::RootCauseRanked { candidates: vec![] }),
            (
                p1,
                EventKind::FoundationalCauseLinked {
                    change: ChangeRecord {
                        at: Timestamp(1),
                        entity: crate::model::EntityId::new("host:a"),
                        change: ChangeKind::Deployment,
                        description: "v2".into(),
                        reason: "before onset".into(),
                    },
                },
            ),
            (p1, EventKind::ImpactUpdated { impact: Impact { signals: 1, active_signals: 1, ..Impact::default() } }),
            (p1, EventKind::Acknowledged { by: "alice@bastion".into() }),
            (
                p1,
                EventKind::Silenced { by: "alice".into(), via: "am".into(), silences: vec![silence(50)], error: None },
            ),
            (
                p1,
                EventKind::Silenced { by: "bob".into(), via: "am".into(), silences: vec![], error: Some("503".into()) },
            ),
            (p1, EventKind::Silenced { by: "bob".into(), via: "am".into(), silences: vec![silence(90)], error: None }),
            (p2, EventKind::SignalDetached { key: SignalKey("b".into()), to: p1 }),
            (p1, EventKind::SignalAttached { signal: signal("b", 1, true) }),
            (p2, EventKind::MergedInto { into: p1 }),
            (p1, EventKind::Absorbed { from: p2 }),
            (p9, EventKind::SeverityChanged { severity: Severity::Critical }),
            (p1, EventKind::Resolved),
            (p1, EventKind::Reopened),
            (p1, EventKind::Resolved),
            (p2, EventKind::Opened { title: "two again".into(), severity: Severity::Major }),
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, (problem, kind))| ProblemEvent {
                seq: 10 + 3 * i as u64,
                problem,
                at: Timestamp(i as i64 * 1_000),
                kind,
            })
            .collect()
    }

    #[test]
    fn every_kind_of_event_steps_back_to_the_fold_before_it() {
        let events = every_kind();
        let mut replay = Replay::from_events(events.clone());
        for position in (0..events.len()).rev() {
            replay.step_back();
            assert_eq!(replay.set(), &expected(&events, position), "back to position {position}");
        }
        for position in 1..=events.len() {
            replay.step_forward();
            assert_eq!(replay.set(), &expected(&events, position), "forward to position {position}");
        }
    }

    #[test]
    fn live_follows_new_events_and_a_paused_cursor_stays() {
        let events = demo_events();
        let (first, rest) = events.split_at(events.len() / 2);
        let mut replay = Replay::new();
        replay.extend(first.to_vec());
        assert_eq!(replay.position(), first.len());
        replay.step_back();
        replay.extend(rest.to_vec());
        assert!(!replay.is_live());
        assert_eq!(replay.position(), first.len() - 1);
        // A re-read of an overlapping range is dropped.
        replay.extend(events[..10].to_vec());
        assert_eq!(replay.len(), events.len());
        replay.go_live();
        assert!(replay.is_live());
        assert_eq!(replay.set(), &ProblemSet::fold(&events));
    }

    #[test]
    fn previous_and_next_ranking_change_positions() {
        let events = demo_events();
        let mut replay = Replay::from_events(events.clone());
        let rankings = replay.ranking_positions().to_vec();
        assert!(rankings.len() >= 2, "the demo ranks more than once");
        // From the end the previous ranking change is the last one, unless the cursor stands on it.
        let last = *rankings.last().unwrap();
        let expected = if replay.position() == last + 1 { rankings[rankings.len() - 2] + 1 } else { last + 1 };
        assert_eq!(replay.previous_in(&rankings), Some(expected));
        replay.seek(rankings[0] + 1);
        assert!(matches!(replay.current().map(|e| &e.kind), Some(EventKind::RootCauseRanked { .. })));
        assert_eq!(replay.previous_in(&rankings), None);
        assert_eq!(replay.next_in(&rankings), Some(rankings[1] + 1));
    }
}
