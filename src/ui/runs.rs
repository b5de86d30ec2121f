//! Runbook runs as the UI knows them: each run's state from the problem's events (a
//! `RunbookStarted` without its `RunbookFinished` is running, so a viewer attached to an agent's
//! journal knows as well as the agent's own console), and the live output the engine side
//! streams ([`super::Feed::RunOutput`]), kept per (problem, runbook) and bounded.

use crate::model::replay::Replay;
use crate::model::{EventKind, ProblemId, RunRecord, Timestamp};
use crate::runbook::OutputLine;
use std::collections::{BTreeMap, VecDeque};

/// Output lines kept per run; older ones are dropped (and counted).
pub const MAX_LINES: usize = 1_000;
/// Runs whose output is kept; the one written to longest ago goes first.
pub const MAX_RUNS: usize = 8;
/// Characters kept of one output line.
const MAX_LINE_CHARS: usize = 2_000;

/// One run of a runbook on a problem, as its events tell it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run<'a> {
    pub runbook: &'a str,
    /// `user@host (from ADDR)`, or the agent for auto-remediation.
    pub by: &'a str,
    pub started_at: Timestamp,
    /// Started by the agent's auto-remediation policy.
    pub auto: bool,
    /// The audit, once the run ended (of the run that covers this one, for an escalation).
    pub record: Option<&'a RunRecord>,
}

impl Run<'_> {
    pub fn is_running(&self) -> bool {
        self.record.is_none()
    }
}

/// The runbooks of a record's escalation chain, the record's own first.
fn chain(record: &RunRecord) -> Vec<&str> {
    let mut names = vec![record.runbook.as_str()];
    let mut at = record;
    while let Some(next) = &at.escalation {
        names.push(next.runbook.as_str());
        at = next;
    }
    names
}

/// The runs of problem `id` among the events folded in at the replay cursor, oldest first. A
/// `RunbookFinished` ends the latest unfinished run of each runbook of its escalation chain; one
/// with no `RunbookStarted` before it is a run of its own.
pub fn runs(replay: &Replay, id: ProblemId) -> Vec<Run<'_>> {
    let events = replay.events();
    let mut out: Vec<Run> = Vec::new();
    for &p in replay.positions_of(id).iter().take_while(|p| **p < replay.position()) {
        match &events[p].kind {
            EventKind::RunbookStarted { runbook, by, auto, .. } => {
                out.push(Run { runbook, by, started_at: events[p].at, auto: *auto, record: None });
            }
            EventKind::RunbookFinished { record } => {
                let mut ended = false;
                for name in chain(record) {
                    if let Some(run) = out.iter_mut().rev().find(|r| r.is_running() && r.runbook == name) {
                        run.record = Some(record);
                        ended = true;
                    }
                }
                if !ended {
                    out.push(Run {
                        runbook: &record.runbook,
                        by: &record.operator,
                        started_at: record.started_at,
                        auto: record.auto,
                        record: Some(record),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The live output of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The newest lines, at most [`MAX_LINES`].
    pub lines: VecDeque<OutputLine>,
    /// Lines dropped from the front to keep the bound.
    pub dropped: u64,
    /// When it was last written to, in writes: what decides which run's output goes first.
    touched: u64,
    /// Its run ended: the next line belongs to a new run of the same runbook.
    ended: bool,
}

/// The live output of recent runs, per (problem, runbook), bounded in lines and in runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutputs {
    runs: BTreeMap<(ProblemId, String), Output>,
    writes: u64,
}

impl RunOutputs {
    /// Adds lines streamed for `problem`, each to its own runbook's output.
    pub fn push(&mut self, problem: ProblemId, lines: Vec<OutputLine>) {
        for mut line in lines {
            self.writes += 1;
            if line.text.chars().count() > MAX_LINE_CHARS {
                line.text = line.text.chars().take(MAX_LINE_CHARS).chain(['…']).collect();
            }
            let key = (problem, line.runbook.clone());
            if !self.runs.contains_key(&key) && self.runs.len() >= MAX_RUNS {
                let oldest = self.runs.iter().min_by_key(|(_, o)| o.touched).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.runs.remove(&oldest);
                }
            }
            let output = self.runs.entry(key).or_default();
            if output.ended {
                *output = Output::default();
            }
            output.touched = self.writes;
            output.lines.push_back(line);
            if output.lines.len() > MAX_LINES {
                output.lines.pop_front();
                output.dropped += 1;
            }
        }
    }

    /// A run of `runbook` on `problem` ended: its output stays until a new run writes.
    pub fn ended(&mut self, problem: ProblemId, runbook: &str) {
        if let Some(output) = self.runs.get_mut(&(problem, runbook.to_string())) {
            output.ended = true;
        }
    }

    /// Marks the runs that `events` end.
    pub fn note_events(&mut self, events: &[crate::model::ProblemEvent]) {
        for e in events {
            if let EventKind::RunbookFinished { record } = &e.kind {
                for name in chain(record) {
                    self.ended(e.problem, name);
                }
            }
        }
    }

    /// The output kept of `runbook`'s latest run on `problem`.
    pub fn get(&self, problem: ProblemId, runbook: &str) -> Option<&Output> {
        self.runs.get(&(problem, runbook.to_string()))
    }

    /// Runs with output kept.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::Stream;

    fn line(runbook: &str, text: String) -> OutputLine {
        OutputLine { runbook: runbook.to_string(), step: 0, stream: Stream::Stdout, text }
    }

    #[test]
    fn output_is_bounded_per_run_and_in_runs() {
        let mut outputs = RunOutputs::default();
        let p = ProblemId(1);
        outputs.push(p, (0..MAX_LINES + 5).map(|i| line("a", format!("line {i}"))).collect());
        let a = outputs.get(p, "a").unwrap();
        assert_eq!((a.lines.len(), a.dropped), (MAX_LINES, 5));
        assert_eq!(a.lines.front().map(|l| l.text.as_str()), Some("line 5"));
        for i in 0..MAX_RUNS {
            outputs.push(ProblemId(10 + i as u64), vec![line("b", "x".to_string())]);
        }
        assert_eq!(outputs.len(), MAX_RUNS);
        assert!(outputs.get(p, "a").is_none(), "the run written to longest ago went first");
        outputs.push(p, vec![line("a", "y".repeat(MAX_LINE_CHARS + 10))]);
        assert_eq!(outputs.get(p, "a").unwrap().lines[0].text.chars().count(), MAX_LINE_CHARS + 1);
    }

    fn record(runbook: &str, escalation: Option<RunRecord>) -> RunRecord {
        RunRecord {
            runbook: runbook.to_string(),
            file: format!("{runbook}.toml").into(),
            problem: "P-0001".to_string(),
            entity: "host:db-1".to_string(),
            operator: "alice@b1".to_string(),
            started_at: Timestamp(0),
            finished_at: Timestamp(60_000),
            plan: vec![],
            steps: vec![],
            outcome: if escalation.is_some() {
                crate::model::Outcome::Escalated
            } else {
                crate::model::Outcome::Failed
            },
            auto: false,
            escalation: escalation.map(Box::new),
        }
    }

    #[test]
    fn a_finished_record_ends_the_runs_of_its_escalation_chain() {
        let p = ProblemId(1);
        let started = |runbook: &str| EventKind::RunbookStarted {
            runbook: runbook.to_string(),
            by: "alice@b1".to_string(),
            plan: vec![],
            auto: false,
        };
        let kinds = vec![
            EventKind::Opened { title: "t".to_string(), severity: crate::model::Severity::Major },
            started("restart"),
            started("rollback"),
            started("other"),
            EventKind::RunbookFinished { record: Box::new(record("restart", Some(record("rollback", None)))) },
            // An end with no start seen (a journal cut short): a run of its own.
            EventKind::RunbookFinished { record: Box::new(record("page", None)) },
        ];
        let events = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| crate::model::ProblemEvent {
                seq: i as u64 + 1,
                problem: p,
                at: Timestamp(i as i64),
                kind,
            })
            .collect();
        let replay = Replay::from_events(events);
        let runs = runs(&replay, p);
        let state: Vec<(&str, bool)> = runs.iter().map(|r| (r.runbook, r.is_running())).collect();
        assert_eq!(state, vec![("restart", false), ("rollback", false), ("other", true), ("page", false)]);
        assert_eq!(runs[1].record.map(|r| r.final_outcome()), Some(crate::model::Outcome::Failed));
    }

    #[test]
    fn a_new_run_after_the_end_starts_a_fresh_output() {
        let mut outputs = RunOutputs::default();
        let p = ProblemId(1);
        outputs.push(p, vec![line("a", "first run".to_string())]);
        outputs.ended(p, "a");
        assert_eq!(outputs.get(p, "a").unwrap().lines.len(), 1, "kept after the end");
        outputs.push(p, vec![line("a", "second run".to_string())]);
        let a = outputs.get(p, "a").unwrap();
        assert_eq!(a.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), vec!["second run"]);
    }
}
