//! Auto-remediation: the `[[runbooks.auto]]` policies, off unless configured. After the events
//! of a pull are applied, each open problem whose root-cause ranking changed is offered to the
//! policies in configuration order; the first whose runbook matches the problem, whose minimum
//! score the top candidate reaches and whose hourly budget is not used up starts its runbook as
//! `faultline-agent@HOST (auto-remediation)`. A problem is auto-remediated at most once (by any
//! policy): a runbook that did not help escalates through its own `escalate` steps, not through
//! the policy firing again. Never in `--readonly` (said once in the log).
//!
//! The hourly budget is a sliding hour of the policy's start times on the wall clock
//! ([`RateLimit`], explicit times so it is tested without waiting). A restarted agent learns
//! the starts and the problems already remediated from its journal ([`Remediation::remember`]).

use crate::config::AutoRemediation;
use crate::model::{Problem, ProblemId, Timestamp};
use crate::runbook::{ProblemContext, RunbookSet};
use std::collections::{BTreeSet, VecDeque};

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// At most `max_per_hour` starts in any hour: a sliding window of start times (wall clock, ms).
#[derive(Debug, Clone)]
pub struct RateLimit {
    max_per_hour: u32,
    starts: VecDeque<Timestamp>,
}

impl RateLimit {
    pub fn new(max_per_hour: u32) -> RateLimit {
        RateLimit { max_per_hour, starts: VecDeque::new() }
    }

    /// Whether one more start at `now` stays within the budget.
    pub fn allows(&mut self, now: Timestamp) -> bool {
        while self.starts.front().is_some_and(|t| now.since(*t) >= HOUR_MS) {
            self.starts.pop_front();
        }
        self.starts.len() < self.max_per_hour as usize
    }

    /// Counts a start at `at` (kept in time order).
    pub fn record(&mut self, at: Timestamp) {
        let i = self.starts.partition_point(|t| *t <= at);
        self.starts.insert(i, at);
    }
}

/// The auto-remediation policies with what they already did.
#[derive(Debug, Clone)]
pub struct Remediation {
    policies: Vec<(AutoRemediation, RateLimit)>,
    /// Problems auto-remediated already (by any policy).
    done: BTreeSet<ProblemId>,
    readonly: bool,
    readonly_logged: bool,
}

/// What a policy decided: run `runbook` on `problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRun {
    pub problem: ProblemId,
    pub runbook: String,
}

impl Remediation {
    pub fn new(policies: &[AutoRemediation]) -> Remediation {
        Remediation {
            policies: policies.iter().map(|p| (p.clone(), RateLimit::new(p.max_per_hour))).collect(),
            done: BTreeSet::new(),
            readonly: false,
            readonly_logged: false,
        }
    }

    /// True when at least one policy is configured.
    pub fn is_on(&self) -> bool {
        !self.policies.is_empty()
    }

    pub fn set_readonly(&mut self, readonly: bool) {
        self.readonly = readonly;
    }

    /// An auto-run journaled earlier (a resumed agent): `runbook` started on `problem` at `at`.
    pub fn remember(&mut self, problem: ProblemId, runbook: &str, at: Timestamp) {
        self.done.insert(problem);
        if let Some((_, limit)) = self.policies.iter_mut().find(|(p, _)| p.runbook == runbook) {
            limit.record(at);
        }
    }

    /// The runbook to start on `problem` now (its ranking just changed), counted as started, or
    /// `None`. `ctx` is the problem as runbooks see it (`None` when it names no entity).
    pub fn decide(
        &mut self,
        problem: &Problem,
        ctx: Option<&ProblemContext>,
        runbooks: &RunbookSet,
        now: Timestamp,
    ) -> Option<AutoRun> {
        if self.policies.is_empty() || !problem.is_open() || self.done.contains(&problem.id) {
            return None;
        }
        let ctx = ctx?;
        let score = problem.root_causes.first()?.score;
        let mut chosen = None;
        for (policy, limit) in &mut self.policies {
            let matches = runbooks.get(&policy.runbook).is_some_and(|rb| rb.matches(ctx));
            if !matches || score < policy.min_score {
                continue;
            }
            if self.readonly {
                if !self.readonly_logged {
                    self.readonly_logged = true;
                    tracing::warn!(problem = %problem.id, runbook = %policy.runbook, "read-only (--readonly): auto-remediation is off");
                }
                return None;
            }
            if !limit.allows(now) {
                tracing::warn!(
                    problem = %problem.id,
                    runbook = %policy.runbook,
                    max_per_hour = policy.max_per_hour,
                    "auto-remediation budget used up for this hour: not started"
                );
                continue;
            }
            limit.record(now);
            chosen = Some(AutoRun { problem: problem.id, runbook: policy.runbook.clone() });
            break;
        }
        if chosen.is_some() {
            self.done.insert(problem.id);
        }
        chosen
    }
}

/// Who auto-remediation runs as: `faultline-agent@HOST (auto-remediation)`.
pub fn auto_operator() -> String {
    let me = crate::runbook::operator();
    let host = me.split_once('@').map_or("localhost", |(_, rest)| rest.split(" (from ").next().unwrap_or(rest));
    format!("faultline-agent@{host} (auto-remediation)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Candidate, EntityId, EntityKind, ProblemEvent, ProblemSet};
    use crate::model::{EventKind, Severity};
    use crate::runbook::Runbook;
    use std::path::Path;

    fn t(minutes: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + minutes * 60_000)
    }

    #[test]
    fn the_limit_is_a_sliding_hour_of_start_times() {
        let mut l = RateLimit::new(2);
        assert!(l.allows(t(0)));
        l.record(t(0));
        l.record(t(10));
        assert!(!l.allows(t(30)), "two starts in the last hour");
        assert!(!l.allows(t(59)));
        assert!(l.allows(t(60)), "the first start is an hour old");
        l.record(t(60));
        assert!(!l.allows(t(69)));
        assert!(l.allows(t(70)));
    }

    #[test]
    fn starts_recorded_out_of_order_are_kept_in_order() {
        let mut l = RateLimit::new(1);
        l.record(t(30));
        l.record(t(0));
        assert!(!l.allows(t(61)), "the start at 0:30 still counts");
        assert!(l.allows(t(90)));
    }

    fn problem(id: u64, score: f64, open: bool) -> Problem {
        let at = t(0);
        let mut events = vec![
            ProblemEvent {
                problem: ProblemId(id),
                seq: 1,
                at,
                kind: EventKind::Opened { title: "TargetDown".into(), severity: Severity::Critical },
            },
            ProblemEvent {
                problem: ProblemId(id),
                seq: 2,
                at,
                kind: EventKind::RootCauseRanked {
                    candidates: vec![Candidate {
                        entity: EntityId::new("process:api"),
                        entity_kind: EntityKind::Process,
                        score,
                        summary: "TargetDown on process:api".into(),
                        signals: Vec::new(),
                        strength: score,
                        first_breach: at,
                        explains: 1,
                        affected: 1,
                        evidence: Vec::new(),
                        broke: Vec::new(),
                    }],
                },
            },
        ];
        if !open {
            events.push(ProblemEvent { problem: ProblemId(id), seq: 3, at, kind: EventKind::Resolved });
        }
        ProblemSet::fold(&events).problems.remove(&ProblemId(id)).unwrap()
    }

    fn runbooks() -> RunbookSet {
        let rb = |name: &str, kind: &str| {
            let text = format!(
                "name = \"{name}\"\n[match]\nentity_kind = \"{kind}\"\n[[steps]]\nkind = \"run\"\nargv = [\"true\"]\n"
            );
            Runbook::parse(&text, Path::new(&format!("{name}.toml"))).unwrap()
        };
        RunbookSet::from_runbooks(vec![rb("restart", "process"), rb("reboot", "host")]).unwrap()
    }

    fn ctx() -> ProblemContext {
        ProblemContext { entity_id: "process:api".into(), entity_kind: "process".into(), ..Default::default() }
    }

    fn policy(runbook: &str, min_score: f64, max_per_hour: u32) -> AutoRemediation {
        AutoRemediation { runbook: runbook.into(), min_score, max_per_hour }
    }

    #[test]
    fn without_policies_nothing_runs() {
        let mut r = Remediation::new(&[]);
        assert!(!r.is_on());
        assert_eq!(r.decide(&problem(1, 1.0, true), Some(&ctx()), &runbooks(), t(0)), None);
    }

    #[test]
    fn a_matching_confident_open_problem_runs_once_within_the_hourly_budget() {
        let set = runbooks();
        let mut r = Remediation::new(&[policy("reboot", 0.5, 5), policy("restart", 0.8, 1)]);
        // The host runbook does not match a process; the score must reach the minimum.
        assert_eq!(r.decide(&problem(1, 0.7, true), Some(&ctx()), &set, t(0)), None);
        assert_eq!(r.decide(&problem(1, 0.9, false), Some(&ctx()), &set, t(0)), None, "resolved");
        let run = r.decide(&problem(1, 0.9, true), Some(&ctx()), &set, t(1));
        assert_eq!(run, Some(AutoRun { problem: ProblemId(1), runbook: "restart".into() }));
        assert_eq!(r.decide(&problem(1, 1.0, true), Some(&ctx()), &set, t(2)), None, "once per problem");
        assert_eq!(r.decide(&problem(2, 1.0, true), Some(&ctx()), &set, t(3)), None, "one per hour");
        assert!(r.decide(&problem(2, 1.0, true), Some(&ctx()), &set, t(61)).is_some(), "an hour later");
    }

    #[test]
    fn never_in_readonly_and_remembered_runs_count() {
        let set = runbooks();
        let mut r = Remediation::new(&[policy("restart", 0.5, 1)]);
        r.set_readonly(true);
        assert_eq!(r.decide(&problem(1, 1.0, true), Some(&ctx()), &set, t(0)), None);
        let mut r = Remediation::new(&[policy("restart", 0.5, 1)]);
        r.remember(ProblemId(1), "restart", t(0));
        assert_eq!(r.decide(&problem(1, 1.0, true), Some(&ctx()), &set, t(1)), None, "done before the restart");
        assert_eq!(r.decide(&problem(2, 1.0, true), Some(&ctx()), &set, t(1)), None, "its start counts");
        assert!(r.decide(&problem(2, 1.0, true), Some(&ctx()), &set, t(60)).is_some());
    }

    #[test]
    fn the_auto_operator_names_the_agent() {
        let who = auto_operator();
        assert!(who.starts_with("faultline-agent@") && who.ends_with(" (auto-remediation)"), "{who}");
    }
}
