//! Deduplication: repeated alerts, anomalous samples and log bursts on one key become one
//! [`Signal`] with a counter.

use super::snapshot::model::SignalDef;
use crate::model::{Baseline, EntityId, ProblemId, Severity, Signal, SignalKey, SignalKind, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What an input did to its signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A key never seen before.
    Raised,
    /// The signal was active and saw one more occurrence.
    Repeated,
    /// The signal was cleared and fires again.
    Reactivated,
    /// The signal stopped firing.
    Cleared,
    /// Nothing changed (a resolve for a signal that was not active).
    None,
}

/// One occurrence fed to dedup.
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    pub key: SignalKey,
    pub kind: SignalKind,
    pub entity: &'a EntityId,
    pub name: &'a str,
    pub severity: Severity,
    pub at: Timestamp,
    /// How many raw events this occurrence stands for (log lines; 1 otherwise).
    pub count: u64,
    pub score: f64,
    pub value: Option<f64>,
    pub baseline: Option<Baseline>,
    /// The alert's labels (alerts only).
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// How late this sighting can be after the trouble it reports began, where the source knows
    /// (an anomaly: its series' samples it took to raise; see [`Entry::lag_ms`]).
    pub lag_ms: Option<i64>,
}

/// A signal and the problem it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(with = "SignalDef")]
    pub signal: Signal,
    pub problem: Option<ProblemId>,
    /// When it was raised or re-fired after clearing, oldest first, at most
    /// [`MAX_ACTIVATIONS`] kept: the history the flapping filter learns from.
    pub activations: VecDeque<Timestamp>,
    /// How late its first sighting can have been after its trouble began, where that is known:
    /// an anomaly raised after `run` samples of a series sampled every `step` was seen at most
    /// `run × step` late; a saturation, its `for` and a step late. `None`: its kind's slack
    /// ([`super::rca::Timing::slack_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<i64>,
}

/// Activations kept per signal; more than any sensible `flap_activations`.
pub const MAX_ACTIVATIONS: usize = 16;

impl Entry {
    /// Activations within `window_ms` before (and at) `at`.
    pub fn activations_within(&self, at: Timestamp, window_ms: i64) -> u32 {
        self.activations.iter().filter(|t| at.since(**t) <= window_ms).count() as u32
    }

    fn activated(&mut self, at: Timestamp) {
        if self.activations.len() == MAX_ACTIVATIONS {
            self.activations.pop_front();
        }
        self.activations.push_back(at);
    }
}

/// All signals by key.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalTable {
    entries: BTreeMap<SignalKey, Entry>,
    /// Active log-burst signals, by last time seen, for clearing them after a quiet period.
    active_logs: BTreeSet<(Timestamp, SignalKey)>,
}

impl SignalTable {
    pub fn get(&self, key: &SignalKey) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn get_mut(&mut self, key: &SignalKey) -> Option<&mut Entry> {
        self.entries.get_mut(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Folds one firing occurrence into its signal.
    pub fn fire(&mut self, o: Occurrence<'_>) -> Change {
        let change = match self.entries.get_mut(&o.key) {
            None => {
                let signal = Signal {
                    key: o.key.clone(),
                    kind: o.kind,
                    entity: o.entity.clone(),
                    name: o.name.to_string(),
                    severity: o.severity,
                    first_seen: o.at,
                    last_seen: o.at,
                    count: o.count,
                    active: true,
                    score: o.score,
                    value: o.value,
                    baseline: o.baseline,
                    labels: o.labels.cloned().unwrap_or_default(),
                    mark: None,
                };
                let activations = VecDeque::from([o.at]);
                self.entries.insert(o.key.clone(), Entry { signal, problem: None, activations, lag_ms: o.lag_ms });
                Change::Raised
            }
            Some(e) => {
                let s = &mut e.signal;
                if s.kind == SignalKind::LogBurst && s.active {
                    self.active_logs.remove(&(s.last_seen, s.key.clone()));
                }
                s.count = s.count.saturating_add(o.count);
                s.last_seen = s.last_seen.max(o.at);
                s.value = o.value.or(s.value);
                if o.baseline.is_some() {
                    s.baseline = o.baseline;
                }
                // The latest label set wins (quietly: a label change alone is no event).
                if let Some(labels) = o.labels.filter(|l| !l.is_empty()) {
                    if *labels != s.labels {
                        s.labels = labels.clone();
                    }
                }
                let stronger = o.score > s.score || o.severity > s.severity;
                s.score = s.score.max(o.score);
                s.severity = s.severity.max(o.severity);
                if s.active {
                    if stronger {
                        Change::Reactivated
                    } else {
                        Change::Repeated
                    }
                } else {
                    s.active = true;
                    e.activated(o.at);
                    Change::Reactivated
                }
            }
        };
        if let Some(e) = self.entries.get(&o.key) {
            if e.signal.kind == SignalKind::LogBurst {
                self.active_logs.insert((e.signal.last_seen, o.key.clone()));
            }
        }
        change
    }

    /// Marks a signal as no longer firing.
    pub fn clear(&mut self, key: &SignalKey, at: Timestamp) -> Change {
        match self.entries.get_mut(key) {
            Some(e) if e.signal.active => {
                if e.signal.kind == SignalKind::LogBurst {
                    // Indexed by the last-seen time it had while active.
                    self.active_logs.remove(&(e.signal.last_seen, key.clone()));
                }
                e.signal.active = false;
                e.signal.last_seen = e.signal.last_seen.max(at);
                Change::Cleared
            }
            _ => Change::None,
        }
    }

    /// Drops the signals that are clear and were last seen at or before `cutoff`, unless `keep`
    /// says otherwise; returns each dropped key with the problem it was in. A dropped signal
    /// that fires again is raised afresh: new first-seen time, count and activation history.
    pub fn retire(
        &mut self,
        cutoff: Timestamp,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> Vec<(SignalKey, Option<ProblemId>)> {
        let mut gone = Vec::new();
        self.entries.retain(|key, e| {
            let stale = !e.signal.active && e.signal.last_seen <= cutoff && !keep(e);
            if stale {
                gone.push((key.clone(), e.problem));
            }
            !stale
        });
        gone
    }

    /// The active signals in no problem: the lone anomalies the engine holds back (every other
    /// active signal is placed in a problem when it fires).
    pub fn unplaced(&self) -> BTreeSet<SignalKey> {
        self.entries.values().filter(|e| e.signal.active && e.problem.is_none()).map(|e| e.signal.key.clone()).collect()
    }

    /// Every signal, in key order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Signal `key`'s detection lag, where known (see [`Entry::lag_ms`]).
    pub fn lag_of(&self, key: &SignalKey) -> Option<i64> {
        self.entries.get(key).and_then(|e| e.lag_ms)
    }

    /// Log-burst signals last seen before `cutoff`: they have gone quiet and should clear.
    pub fn quiet_logs(&self, cutoff: Timestamp) -> Vec<SignalKey> {
        self.active_logs.range(..(cutoff, SignalKey(String::new()))).map(|(_, k)| k.clone()).collect()
    }
}

impl super::rca::RunStart for SignalTable {
    /// Its last activation: when its current (or last) run of firing began.
    fn since(&self, s: &Signal) -> Timestamp {
        self.entries.get(&s.key).and_then(|e| e.activations.back().copied()).unwrap_or(s.first_seen)
    }

    fn lag(&self, s: &Signal) -> Option<i64> {
        self.lag_of(&s.key)
    }
}

/// Score of an alert by its severity (alerts carry no strength of their own).
pub fn alert_score(s: Severity) -> f64 {
    match s {
        Severity::Critical => 1.0,
        Severity::Major => 0.85,
        Severity::Warning => 0.6,
        Severity::Info => 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(e: &EntityId, at: i64) -> Occurrence<'_> {
        Occurrence {
            key: SignalKey("alert:abc".into()),
            kind: SignalKind::Alert,
            entity: e,
            name: "HighLatency",
            severity: Severity::Warning,
            at: Timestamp(at),
            count: 1,
            score: 0.6,
            value: None,
            baseline: None,
            labels: None,
            lag_ms: None,
        }
    }

    #[test]
    fn repeats_count_on_one_signal() {
        let e = EntityId::new("service:a");
        let mut t = SignalTable::default();
        assert_eq!(t.fire(occ(&e, 1)), Change::Raised);
        for i in 2..=40 {
            assert_eq!(t.fire(occ(&e, i)), Change::Repeated);
        }
        let k = SignalKey("alert:abc".into());
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(&k).unwrap().signal.count, 40);
        assert_eq!(t.get(&k).unwrap().signal.last_seen, Timestamp(40));
        assert_eq!(t.clear(&k, Timestamp(41)), Change::Cleared);
        assert_eq!(t.clear(&k, Timestamp(42)), Change::None);
        assert_eq!(t.fire(occ(&e, 43)), Change::Reactivated);
        assert_eq!(t.get(&k).unwrap().signal.first_seen, Timestamp(1));
        // Raised at 1, re-fired at 43: two activations; repeats are not activations.
        assert_eq!(t.get(&k).unwrap().activations_within(Timestamp(43), 100), 2);
        assert_eq!(t.get(&k).unwrap().activations_within(Timestamp(43), 10), 1);
    }

    #[test]
    fn activation_history_is_bounded() {
        let e = EntityId::new("host:a");
        let mut t = SignalTable::default();
        let k = SignalKey("alert:abc".into());
        for i in 0..100 {
            t.fire(occ(&e, 2 * i));
            t.clear(&k, Timestamp(2 * i + 1));
        }
        assert_eq!(t.get(&k).unwrap().activations.len(), MAX_ACTIVATIONS);
        assert_eq!(t.get(&k).unwrap().activations.back(), Some(&Timestamp(198)));
    }
}
