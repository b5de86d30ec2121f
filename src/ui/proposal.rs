//! Asking for actions: the plan overlay's state (a silence, a runbook run, cancelling a run) and
//! the runbook chooser, from the key that opens them to the confirmation that queues the request.
//! Every request goes through the action layer's types ([`crate::runbook`]); what is confirmed is
//! the very value the overlay drew.

use super::app::{
    App, DRY_RUN_NOTICE, NO_ALERTMANAGER_NOTICE, READONLY_NOTICE, REPLAY_RUN_NOTICE, REPLAY_SILENCE_NOTICE,
    RUN_READONLY_NOTICE,
};
use super::keymap::Command;
use super::runs;
use super::views;
use super::Request;
use crate::model::ProblemId;
use crate::runbook::{CancelRequest, Plan, RunRequest, SilencePlan};

/// A request shown in full in the plan overlay, waiting for the user to confirm or cancel it.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// Exactly what is sent on confirmation: the overlay draws it from this very value.
    pub request: Request,
    /// First line of the plan's body shown at the top, in lines.
    pub scroll: usize,
    /// A run's runbook description, shown above its plan.
    pub description: String,
    /// A step of the run (or of a runbook it escalates to) is destructive.
    pub destructive: bool,
    /// A destructive run outside read-only mode: the entity's name must be typed first.
    pub typed: Option<TypedName>,
    /// Why the last confirmation was refused; shown in the overlay until the next key.
    pub refused: Option<String>,
}

/// The input line of a destructive plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedName {
    /// The entity's name, as [`Plan::entity_name`] gives it.
    pub expected: String,
    /// What has been typed so far.
    pub text: String,
}

impl Proposal {
    /// A proposal of `request` with nothing more to show or type.
    pub fn new(request: Request) -> Proposal {
        Proposal { request, scroll: 0, description: String::new(), destructive: false, typed: None, refused: None }
    }
}

/// The `runbooks` chooser: the runbooks matching a problem, one of them selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chooser {
    pub problem: ProblemId,
    /// Runbook names, by name.
    pub runbooks: Vec<String>,
    pub selected: usize,
}

impl App {
    /// Opens the plan for silencing the target problem's firing alerts, or says why not.
    pub(crate) fn propose_silence(&mut self) {
        if self.opts.readonly {
            self.notice = Some(READONLY_NOTICE.to_string());
            return;
        }
        let Some(target) = &self.opts.silence else {
            self.notice = Some(NO_ALERTMANAGER_NOTICE.to_string());
            return;
        };
        if self.opts.operator.trim().is_empty() {
            // Alertmanager refuses a silence without an author, and an anonymous one helps nobody.
            self.notice = Some("who you are is unknown (no user@host): cannot author a silence".to_string());
            return;
        }
        if !self.replay.is_live() {
            // The alerts to silence are those firing now, not at the replay cursor.
            self.notice = Some(REPLAY_SILENCE_NOTICE.to_string());
            return;
        }
        let Some(problem) = self.target_problem() else {
            self.notice = Some("no problem selected".to_string());
            return;
        };
        if !views::plan::fits(self.size) {
            self.notice = Some("the terminal is too small to show the plan".to_string());
            return;
        }
        match SilencePlan::for_problem(problem, target, &self.opts.operator) {
            Ok(plan) => self.proposal = Some(Proposal::new(Request::Silence(plan))),
            Err(reason) => self.notice = Some(reason),
        }
    }

    /// The problem a runbook action targets, or `None` having said why there is none now (off
    /// live, no author, too small a screen, no problem selected).
    fn run_target(&mut self) -> Option<ProblemId> {
        let why = if !self.replay.is_live() {
            // A plan is filled from the problem as it is now, not as it was at the cursor.
            REPLAY_RUN_NOTICE
        } else if self.opts.operator.trim().is_empty() {
            "who you are is unknown (no user@host): cannot run a runbook"
        } else if !views::plan::fits(self.size) {
            "the terminal is too small to show the plan"
        } else if let Some(problem) = self.target_problem() {
            return Some(problem.id);
        } else {
            "no problem selected"
        };
        self.notice = Some(why.to_string());
        None
    }

    /// Opens the plan of runbook `name` for the target problem, filled in exactly as it would run,
    /// or says why it cannot be (the plan's error names the runbook's file, line and key).
    pub(crate) fn propose_run(&mut self, name: &str) {
        let Some(id) = self.run_target() else { return };
        let ctx = self.problems().problems.get(&id).and_then(|p| self.runbook_context(p));
        let Some(ctx) = ctx else {
            self.notice = Some(format!("{id} names no entity a runbook could act on"));
            return;
        };
        let set = std::sync::Arc::clone(&self.opts.runbooks.0);
        let plan = match Plan::build(&set, name, &ctx, &self.opts.operator) {
            Ok(plan) => plan,
            Err(e) => {
                self.notice = Some(format!("runbook {name} cannot run on {id}: {e}"));
                return;
            }
        };
        let destructive = plan.is_destructive();
        let typed = (destructive && !self.opts.readonly)
            .then(|| TypedName { expected: plan.entity_name.clone(), text: String::new() });
        let request = Request::Run(RunRequest {
            runbook: plan.runbook.clone(),
            problem: id,
            operator: self.opts.operator.clone(),
            shown: plan.lines(),
        });
        let description = set.get(name).map(|rb| rb.description.clone()).unwrap_or_default();
        self.proposal = Some(Proposal { description, destructive, typed, ..Proposal::new(request) });
    }

    /// Proposes cancelling the target problem's running runbook (the latest, when several run).
    pub(crate) fn propose_cancel(&mut self) {
        if self.opts.readonly {
            self.notice = Some(RUN_READONLY_NOTICE.to_string());
            return;
        }
        let Some(id) = self.run_target() else { return };
        let running = runs::runs(&self.replay, id).into_iter().rev().find(|r| r.is_running()).map(|r| r.runbook);
        let Some(runbook) = running.map(str::to_string) else {
            self.notice = Some(format!("no runbook is running on {id}"));
            return;
        };
        let request = Request::Cancel(CancelRequest { runbook, problem: id, by: self.opts.operator.clone() });
        self.proposal = Some(Proposal::new(request));
    }

    /// A character no command uses: a runbook's own key (or a pick in the chooser).
    pub(crate) fn runbook_key(&mut self, c: char) {
        if self.help {
            self.help = false;
            return;
        }
        if self.proposal.is_some() {
            return;
        }
        if let Some(chooser) = &self.chooser {
            let set = &self.opts.runbooks.0;
            let picked = chooser.runbooks.iter().find(|n| set.get(n).is_some_and(|rb| rb.key == Some(c))).cloned();
            if let Some(name) = picked {
                self.chooser = None;
                self.propose_run(&name);
            }
            return;
        }
        let set = std::sync::Arc::clone(&self.opts.runbooks.0);
        let with_key: Vec<&str> = set.iter().filter(|rb| rb.key == Some(c)).map(|rb| rb.name.as_str()).collect();
        if with_key.is_empty() {
            return;
        }
        self.notice = None;
        let Some(problem) = self.target_problem() else {
            self.notice = Some("no problem selected".to_string());
            return;
        };
        let id = problem.id;
        let matching: Vec<String> = self
            .matching_runbooks(problem)
            .into_iter()
            .filter(|rb| rb.key == Some(c))
            .map(|rb| rb.name.clone())
            .collect();
        match matching.as_slice() {
            [] => self.notice = Some(format!("runbook {} (key {c}) is not for {id}", with_key.join(", "))),
            [one] => self.propose_run(one),
            // Two runbooks share the key: the user picks.
            _ => self.open_chooser_with(id, matching),
        }
    }

    /// Opens the chooser of the target problem's matching runbooks.
    pub(crate) fn open_chooser(&mut self) {
        let Some(id) = self.run_target() else { return };
        let names: Vec<String> = match self.problems().problems.get(&id) {
            Some(problem) => self.matching_runbooks(problem).into_iter().map(|rb| rb.name.clone()).collect(),
            None => Vec::new(),
        };
        if names.is_empty() {
            let loaded = self.opts.runbooks.0.iter().count();
            self.notice = Some(match loaded {
                0 => "no runbooks loaded (runbook files go in the config directory's runbooks/)".to_string(),
                n => format!("none of the {n} runbooks matches {id}"),
            });
            return;
        }
        self.open_chooser_with(id, names);
    }

    fn open_chooser_with(&mut self, problem: ProblemId, runbooks: Vec<String>) {
        self.chooser = Some(Chooser { problem, runbooks, selected: 0 });
    }

    /// Keys while the chooser shows: move, pick (Enter or a runbook's key), or close.
    pub(crate) fn chooser_command(&mut self, command: Command) {
        let Some(chooser) = &mut self.chooser else { return };
        let last = chooser.runbooks.len().saturating_sub(1);
        match command {
            Command::Down => chooser.selected = (chooser.selected + 1).min(last),
            Command::Up => chooser.selected = chooser.selected.saturating_sub(1),
            Command::Top => chooser.selected = 0,
            Command::Bottom => chooser.selected = last,
            Command::Open | Command::Confirm => {
                let name = chooser.runbooks.get(chooser.selected).cloned();
                self.chooser = None;
                if let Some(name) = name {
                    self.propose_run(&name);
                }
            }
            Command::Back | Command::Cancel | Command::Runbooks => self.chooser = None,
            _ => {}
        }
    }

    /// Keys while a plan shows: scroll it, confirm it, or cancel it; nothing else.
    pub(crate) fn proposal_command(&mut self, command: Command) {
        let Some(proposal) = &mut self.proposal else { return };
        proposal.refused = None;
        // Enter confirms a runbook plan (or its cancellation) too; a silence keeps `confirm` only.
        let enter_confirms = !matches!(proposal.request, Request::Silence(_));
        match command {
            Command::Confirm => return self.confirm(),
            Command::Open if enter_confirms => return self.confirm(),
            Command::Cancel | Command::Back => {
                let notice = match &proposal.request {
                    Request::Silence(_) => "silence cancelled".to_string(),
                    Request::Run(_) => DRY_RUN_NOTICE.to_string(),
                    Request::Cancel(c) => format!("not cancelled: {} keeps running", c.runbook),
                };
                self.proposal = None;
                self.notice = Some(notice);
                return;
            }
            _ => {}
        }
        let page = views::plan::body_rows(proposal, self.size.1).max(1);
        let max = self.max_plan_scroll();
        let Some(proposal) = &mut self.proposal else { return };
        proposal.scroll = super::app::scrolled(command, proposal.scroll, page, max).unwrap_or(proposal.scroll);
    }

    /// Queues the plan on screen for the engine side, exactly as shown.
    fn confirm(&mut self) {
        // A destructive plan waits, open, until the entity's name is typed exactly.
        if let Some(proposal) = &mut self.proposal {
            if let Some(typed) = &proposal.typed {
                if typed.text != typed.expected {
                    let why = if typed.text.is_empty() {
                        format!("type {} first: this plan is destructive", typed.expected)
                    } else {
                        format!("refused: `{}` is not {}; nothing ran", typed.text, typed.expected)
                    };
                    proposal.refused = Some(why.clone());
                    self.notice = Some(why);
                    return;
                }
            }
        }
        let Some(proposal) = self.proposal.take() else { return };
        // Checked again here, not only when the plan opened: no path may send in read-only mode.
        if self.opts.readonly {
            let notice = match proposal.request {
                Request::Silence(_) => READONLY_NOTICE,
                _ => RUN_READONLY_NOTICE,
            };
            self.notice = Some(notice.to_string());
            return;
        }
        if !views::plan::fits(self.size) {
            // Shrunk since it opened: what cannot be seen is not sent.
            self.notice = Some("the terminal is too small to show the plan: not sent".to_string());
            return;
        }
        if !self.replay.is_live() && !matches!(proposal.request, Request::Silence(_)) {
            self.notice = Some(REPLAY_RUN_NOTICE.to_string());
            return;
        }
        self.notice = Some(match &proposal.request {
            Request::Silence(plan) => format!("silencing {} via {}…", plan.problem, plan.target.via),
            other => format!("{}…", other.describe()),
        });
        self.outbox.push(proposal.request);
    }
}
