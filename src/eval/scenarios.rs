//! `faultline eval scenarios DIR`: storm compression, pairwise grouping precision and recall, and
//! root-cause hits on scenario files that carry ground truth (`truth` in the header).
//!
//! Each scenario is played through the real engine (default configuration) and the resulting
//! events are folded into problems, exactly as the UI shows them. Then, over the signals the
//! engine raised:
//! - **compression** is `1 − problems / signals` (every visible problem counts, the background one
//!   of marked signals included); `raw` is the alerts, anomalous samples and log lines folded into
//!   those signals, for the event-level compression (`raw_compression`, `1 − problems / raw`);
//! - **pairwise grouping** looks at every pair of signals: a pair is *together* when both sit in
//!   the same problem and *truly together* when both belong to the same incident. Precision is
//!   truly-together among together pairs, recall is together among truly-together pairs. Noise
//!   signals (labelled `noise`, or raised but not listed in the truth) belong to no incident: a
//!   noise signal in a problem with an incident signal is a wrong pair; a pair of two noise signals
//!   is not counted at all, since noise has no grouping to get right or wrong. A signal the engine
//!   raised but never put in a problem counts as a problem of its own;
//! - **root cause**: each incident's problem is the one holding most of its signals (the lowest id
//!   on a tie); top-1 / top-3 say whether the incident's root-cause entity is first / among the
//!   first three candidates of that problem;
//! - **foundational cause**: the problem's linked change is on the truth's entity and of its kind,
//!   or, when the truth has none, the problem links none.

use crate::engine::{Engine, EngineConfig};
use crate::model::{Problem, ProblemId, ProblemSet, SignalKey};
use crate::sources::fixture::{self, ScenarioError, Truth, NOISE};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioEvalError {
    #[error("{}: cannot list scenarios: {source}", .path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no `*.jsonl` scenario files", .path.display())]
    Empty { path: PathBuf },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{}: the header has no `truth` (incidents and signal labels) to evaluate against", .path.display())]
    NoTruth { path: PathBuf },
}

/// How one incident came out.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentScore {
    pub id: String,
    /// Its signals the engine raised.
    pub signals: usize,
    /// Problems its signals ended up in.
    pub problems: usize,
    /// The problem holding most of its signals.
    pub problem: Option<ProblemId>,
    /// 1-based place of the true root cause in that problem's ranking.
    pub root_rank: Option<usize>,
    /// The problem's top candidate.
    pub top: Option<String>,
    /// Foundational cause as the truth says (a linked change that matches, or none when none).
    pub foundational_ok: bool,
}

/// What one scenario gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioScore {
    pub name: String,
    /// Signals the engine raised.
    pub signals: usize,
    /// Of which noise (labelled `noise` or not listed).
    pub noise: usize,
    /// Raised signals the truth does not list (counted as noise).
    pub unlisted: usize,
    /// Alerts, anomalous samples and log lines folded into the signals.
    pub raw: u64,
    /// Visible problems (merged ones excluded).
    pub problems: usize,
    /// Signals in no problem.
    pub unattached: usize,
    pub true_pairs: u64,
    pub together_pairs: u64,
    pub correct_pairs: u64,
    pub incidents: Vec<IncidentScore>,
}

impl ScenarioScore {
    pub fn compression(&self) -> f64 {
        if self.signals == 0 {
            return 0.0;
        }
        1.0 - (self.problems + self.unattached) as f64 / self.signals as f64
    }

    /// Compression of the raw events that came in (alerts, anomalous samples, log lines):
    /// `1 − problems / raw`, the event-to-incident figure alert correlation tools report.
    pub fn raw_compression(&self) -> f64 {
        if self.raw == 0 {
            return 0.0;
        }
        1.0 - (self.problems + self.unattached) as f64 / self.raw as f64
    }

    pub fn precision(&self) -> f64 {
        ratio(self.correct_pairs, self.together_pairs)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.correct_pairs, self.true_pairs)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Every scenario's score, in file-name order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenariosReport {
    pub scenarios: Vec<ScenarioScore>,
}

/// Evaluates every `*.jsonl` file in `dir` (or the one file `dir` names).
pub fn evaluate(dir: &Path) -> Result<ScenariosReport, ScenarioEvalError> {
    let files = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        let entries = std::fs::read_dir(dir).map_err(|source| ScenarioEvalError::Dir { path: dir.into(), source })?;
        let mut files = Vec::new();
        for e in entries {
            let path = e.map_err(|source| ScenarioEvalError::Dir { path: dir.into(), source })?.path();
            if path.extension().is_some_and(|x| x == "jsonl") {
                files.push(path);
            }
        }
        files.sort();
        files
    };
    if files.is_empty() {
        return Err(ScenarioEvalError::Empty { path: dir.into() });
    }
    let mut scenarios = Vec::new();
    for path in files {
        let scenario = fixture::load(&path)?;
        let Some(truth) = &scenario.header.truth else {
            return Err(ScenarioEvalError::NoTruth { path });
        };
        let set = play(&scenario.observations, &EngineConfig::default());
        scenarios.push(score(&scenario.header.name, truth, &set.0, set.1));
    }
    Ok(ScenariosReport { scenarios })
}

/// Plays observations through a fresh engine: the folded problems and the number of signals the
/// engine raised.
pub fn play(observations: &[crate::model::Observation], config: &EngineConfig) -> (ProblemSet, usize) {
    let mut engine = Engine::new(config.clone());
    let mut events = Vec::new();
    for o in observations {
        engine.observe(o, &mut events);
    }
    (ProblemSet::fold(&events), engine.stats().signals)
}

/// Scores one scenario's problems against its truth; `raised` is how many signals the engine
/// raised (some may be in no problem).
pub fn score(name: &str, truth: &Truth, set: &ProblemSet, raised: usize) -> ScenarioScore {
    let problems: Vec<&Problem> = set.visible();
    // Signal → (problem, incident or None for noise).
    let mut placed: BTreeMap<&SignalKey, (ProblemId, Option<&str>)> = BTreeMap::new();
    let mut raw = 0;
    for p in &problems {
        for (key, s) in &p.signals {
            raw += s.count;
            let label = truth.signals.get(&key.0).map(String::as_str).filter(|l| *l != NOISE);
            placed.insert(key, (p.id, label));
        }
    }
    let unlisted = placed.keys().filter(|k| !truth.signals.contains_key(&k.0)).count();
    let noise = placed.values().filter(|(_, l)| l.is_none()).count();
    let (mut true_pairs, mut together, mut correct) = (0u64, 0u64, 0u64);
    let items: Vec<(ProblemId, Option<&str>)> = placed.values().copied().collect();
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            if a.1.is_none() && b.1.is_none() {
                continue;
            }
            let same_incident = a.1.is_some() && a.1 == b.1;
            let same_problem = a.0 == b.0;
            true_pairs += same_incident as u64;
            together += same_problem as u64;
            correct += (same_incident && same_problem) as u64;
        }
    }
    let mut incidents = Vec::new();
    for incident in &truth.incidents {
        let mut by_problem: BTreeMap<ProblemId, usize> = BTreeMap::new();
        for (p, label) in placed.values() {
            if *label == Some(incident.id.as_str()) {
                *by_problem.entry(*p).or_default() += 1;
            }
        }
        let signals = by_problem.values().sum();
        // Most signals; on a tie the lowest id (max_by_key keeps the last maximum, so reverse).
        let problem = by_problem.iter().rev().max_by_key(|(_, n)| **n).map(|(p, _)| *p);
        let held = problem.and_then(|id| set.problems.get(&id));
        let root_rank =
            held.and_then(|p| p.root_causes.iter().position(|c| c.entity == incident.root_cause)).map(|i| i + 1);
        let top = held.and_then(|p| p.root_causes.first()).map(|c| c.entity.to_string());
        let linked = held.and_then(|p| p.foundational_cause.as_ref());
        let foundational_ok = match (&incident.foundational_entity, linked) {
            (Some(e), Some(c)) => c.entity == *e && incident.foundational_change.is_none_or(|k| k == c.change),
            (None, None) => true,
            _ => false,
        };
        incidents.push(IncidentScore {
            id: incident.id.clone(),
            signals,
            problems: by_problem.len(),
            problem,
            root_rank,
            top,
            foundational_ok,
        });
    }
    ScenarioScore {
        name: name.to_string(),
        signals: raised.max(placed.len()),
        noise,
        unlisted,
        raw,
        problems: problems.len(),
        unattached: raised.saturating_sub(placed.len()),
        true_pairs,
        together_pairs: together,
        correct_pairs: correct,
        incidents,
    }
}

impl ScenariosReport {
    /// Totals over all scenarios: pairs and counts summed, so larger storms weigh more.
    pub fn total(&self) -> ScenarioScore {
        let mut t = ScenarioScore {
            name: "total".into(),
            signals: 0,
            noise: 0,
            unlisted: 0,
            raw: 0,
            problems: 0,
            unattached: 0,
            true_pairs: 0,
            together_pairs: 0,
            correct_pairs: 0,
            incidents: Vec::new(),
        };
        for s in &self.scenarios {
            t.signals += s.signals;
            t.noise += s.noise;
            t.unlisted += s.unlisted;
            t.raw += s.raw;
            t.problems += s.problems;
            t.unattached += s.unattached;
            t.true_pairs += s.true_pairs;
            t.together_pairs += s.together_pairs;
            t.correct_pairs += s.correct_pairs;
            t.incidents.extend(s.incidents.iter().cloned());
        }
        t
    }
}

impl fmt::Display for ScenariosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>7} {:>5} {:>7} {:>8} {:>11} {:>8} {:>9} {:>6} {:>8} {:>8} {:>6}",
            "scenario",
            "signals",
            "noise",
            "raw",
            "problems",
            "compression",
            "of raw",
            "precision",
            "recall",
            "rc top-1",
            "rc top-3",
            "found."
        )?;
        let total = self.total();
        for s in self.scenarios.iter().chain([&total]) {
            let n = s.incidents.len();
            let top1 = s.incidents.iter().filter(|i| i.root_rank == Some(1)).count();
            let top3 = s.incidents.iter().filter(|i| i.root_rank.is_some_and(|r| r <= 3)).count();
            let found = s.incidents.iter().filter(|i| i.foundational_ok).count();
            writeln!(
                f,
                "{:<20} {:>7} {:>5} {:>7} {:>8} {:>10.1}% {:>7.1}% {:>9.3} {:>6.3} {:>8} {:>8} {:>6}",
                s.name,
                s.signals,
                s.noise,
                s.raw,
                s.problems + s.unattached,
                100.0 * s.compression(),
                100.0 * s.raw_compression(),
                s.precision(),
                s.recall(),
                format!("{top1}/{n}"),
                format!("{top3}/{n}"),
                format!("{found}/{n}"),
            )?;
        }
        writeln!(f)?;
        writeln!(f, "incidents (problem holding most of its signals; rank of the true root cause there):")?;
        for s in &self.scenarios {
            for i in &s.incidents {
                writeln!(
                    f,
                    "  {:<18} {:<10} {:>3} signals in {} problem(s), problem {}, root rank {}, top {}, foundational {}",
                    s.name,
                    i.id,
                    i.signals,
                    i.problems,
                    i.problem.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                    i.root_rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                    i.top.as_deref().unwrap_or("-"),
                    if i.foundational_ok { "ok" } else { "wrong" },
                )?;
            }
        }
        Ok(())
    }
}
