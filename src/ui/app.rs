//! The UI's state and the only function that changes it.

use super::action::Action;
use super::keymap::{self, Command, Keymap};
use super::metrics::MetricHistory;
use super::runs::RunOutputs;
use super::theme::{ColorMode, Theme};
use super::views;
use super::{Feed, Request, SourceHealth, UiOptions};
use crate::engine::topology::history::TopologyHistory;
use crate::engine::topology::{Topology, TopologyChange};
use crate::model::replay::Replay;
use crate::model::{EventKind, Problem, ProblemEvent, ProblemId, ProblemSet, ProblemStatus, Timestamp};
use crate::runbook::{ProblemContext, Runbook};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use std::collections::BTreeMap;

pub use super::proposal::{Chooser, Proposal, TypedName};

/// The notice when an action is asked for in read-only mode.
pub const READONLY_NOTICE: &str = "read-only (--readonly): silencing is disabled";
/// The notice when `silence` is pressed and there is no Alertmanager to send silences to.
pub const NO_ALERTMANAGER_NOTICE: &str = "no Alertmanager configured: add a [[sources.alertmanager]] to silence";

/// The notice when `silence` is pressed with the replay cursor off live.
pub const REPLAY_SILENCE_NOTICE: &str = "replaying: press L (live) first, silences act on what fires now";

/// The notice when a runbook (or cancelling one) is asked for with the replay cursor off live.
pub const REPLAY_RUN_NOTICE: &str = "replaying: press L (live) first, runbooks act on the problem as it is now";

/// The notice when a runbook plan is confirmed in read-only mode (the plan itself may be read).
pub const RUN_READONLY_NOTICE: &str = "read-only (--readonly): this plan cannot run; nothing ran";

/// What Esc on a runbook plan says: showing a plan is a dry run.
pub const DRY_RUN_NOTICE: &str = "dry run: nothing ran";

/// Which screen is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The problem list.
    List,
    /// One problem's detail.
    Detail(ProblemId),
    /// The output of a problem's latest runbook run, full screen (back: its detail).
    Output(ProblemId),
}

/// Everything the UI shows, and nothing else: rendering reads it, [`update`] writes it.
#[derive(Debug, Clone)]
pub struct App {
    /// How the UI was started (title, read-only, log file).
    pub opts: UiOptions,
    /// Every event received, and the problems as of the replay cursor (live: all of them).
    pub replay: Replay,
    /// Metric samples for the detail's chart, bounded.
    pub metrics: MetricHistory,
    /// Topology facts with their data times, for the topology as of the cursor (bounded by its
    /// own change limit).
    pub topology: TopologyHistory,
    /// Topology facts received so far: with the cursor's data time, the key of `topology_now`.
    pub topology_facts: u64,
    /// The topology as of the cursor, rebuilt in [`update`] only when the cursor's time or the
    /// facts changed, so drawing a frame never rebuilds it (`as_of` replays the history).
    pub topology_now: Option<TopologyNow>,
    /// The replay cursor is playing: each tick moves it on by the elapsed time times the speed.
    pub playing: bool,
    /// Index into [`PLAY_SPEEDS`].
    pub speed: usize,
    /// While playing, the data time the play has reached (it lies between events).
    pub playhead: Option<Timestamp>,
    /// The selected problem in the list, kept by id so it stays put as problems arrive.
    pub selected: Option<ProblemId>,
    /// Health of each data source, by source name (sorted, for a stable status line).
    pub sources: BTreeMap<String, SourceHealth>,
    /// The engine side's closing summary, once it has said it finished.
    pub finished: Option<String>,
    /// The engine side dropped its sender without a `Finished`: the data is no longer moving.
    pub feed_closed: bool,
    /// The last notice, shown in the status line until the next key (or the next notice): the
    /// engine side's answer to a request, or why a key did nothing.
    pub notice: Option<String>,
    /// The plan on screen, waiting for confirm or cancel; while it shows, other keys only scroll it.
    pub proposal: Option<Proposal>,
    /// The runbook chooser on screen (`runbooks`): picking one opens its plan.
    pub chooser: Option<Chooser>,
    /// Live output of recent runbook runs, bounded.
    pub outputs: RunOutputs,
    /// First line of the full-screen output shown at the top; `None` follows the newest line.
    pub output_scroll: Option<usize>,
    /// Confirmed requests not yet handed to the engine side; the event loop empties it after
    /// every update (so `update` stays free of I/O).
    pub outbox: Vec<Request>,
    /// The screen showing.
    pub view: View,
    /// The `?` overlay is showing.
    pub help: bool,
    /// First line of the help shown, when it is longer than the screen.
    pub help_scroll: usize,
    /// First line of the detail shown at the top, in lines.
    pub detail_scroll: usize,
    /// Terminal size in cells (width, height); sizes pages and the detail's wrapping.
    pub size: (u16, u16),
    /// Set by the quit command; the event loop ends on it.
    pub should_quit: bool,
    /// What the keys do; also the source of the help overlay.
    pub keymap: Keymap,
    /// Styles resolved for the terminal's colour mode.
    pub theme: Theme,
    // Palette, filter, sort and freshness (issue 14): see `palette.rs`, `filter.rs`, `freshness.rs`.
    /// The `:` palette on screen.
    pub palette: Option<super::palette::Palette>,
    /// The palette's candidates, kept between openings.
    pub palette_index: super::palette::PaletteIndex,
    /// The list's filter and sort order, with the list order they give (cached).
    pub list: super::filter::ListFilter,
    /// When each source's data was last seen, for the status line's data time and lags.
    pub freshness: super::freshness::Freshness,
    /// The topology view, over whichever view was showing (Esc goes back to it).
    pub topo: Option<super::topo::TopoView>,
    /// Log lines and pattern counts by entity, bounded (see `logs.rs`).
    pub logs: super::logs::LogHistory,
    /// The full-screen log pane over the detail (Esc goes back to it).
    pub log_pane: Option<super::logs::LogPane>,
    // History (issue 17): see `crate::history::live`.
    /// Summaries and the index of resolved problems, folded from the events received.
    pub history: crate::history::live::LiveHistory,
    /// The detail problem's similar past problems, recomputed in `update` when it changes.
    pub similar: Option<crate::history::live::SimilarBlock>,
    /// Which similar problem `open_similar` opens next.
    pub similar_next: usize,
    /// The handover report overlay: its lines and the first one shown.
    pub report: Option<(Vec<String>, usize)>,
}

impl App {
    /// A UI with the built-in keymap and theme in true colour (no environment read, so tests see
    /// the same every time), sized 80x24 until the first resize.
    pub fn new(opts: UiOptions) -> App {
        App::with_style(opts, Keymap::builtin(), Theme::builtin(ColorMode::TrueColor))
    }

    /// A UI with the given keymap and theme.
    pub fn with_style(opts: UiOptions, keymap: Keymap, theme: Theme) -> App {
        App {
            opts,
            replay: Replay::new(),
            metrics: MetricHistory::default(),
            topology: TopologyHistory::default(),
            topology_facts: 0,
            topology_now: None,
            playing: false,
            speed: 0,
            playhead: None,
            selected: None,
            sources: BTreeMap::new(),
            finished: None,
            feed_closed: false,
            notice: None,
            proposal: None,
            chooser: None,
            outputs: RunOutputs::default(),
            output_scroll: None,
            outbox: Vec::new(),
            view: View::List,
            help: false,
            help_scroll: 0,
            detail_scroll: 0,
            size: (80, 24),
            should_quit: false,
            keymap,
            theme,
            palette: None,
            palette_index: Default::default(),
            list: Default::default(),
            freshness: Default::default(),
            topo: None,
            logs: Default::default(),
            log_pane: None,
            history: Default::default(),
            similar: None,
            similar_next: 0,
            report: None,
        }
    }

    /// The problems as of the replay cursor (live: as of the last event received).
    pub fn problems(&self) -> &ProblemSet {
        self.replay.set()
    }

    /// The play speed: data milliseconds per wall-clock millisecond.
    pub fn play_speed(&self) -> u64 {
        PLAY_SPEEDS[self.speed.min(PLAY_SPEEDS.len() - 1)]
    }

    /// The problems of the list, in list order.
    pub fn visible(&self) -> Vec<&Problem> {
        let set = self.problems();
        self.list_ids().iter().filter_map(|id| set.problems.get(id)).collect()
    }

    /// Position of the selected problem in the list.
    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected?;
        self.list_ids().iter().position(|p| *p == id)
    }

    /// The problem the detail view (or its full-screen output) shows, if it is showing one.
    pub fn detail_problem(&self) -> Option<&Problem> {
        match self.view {
            View::Detail(id) | View::Output(id) => self.problems().problems.get(&id),
            View::List => None,
        }
    }

    /// The problem as a runbook sees it, with what the topology as of the cursor knows of its
    /// entities (names, labels); `None` when it names no entity.
    pub fn runbook_context(&self, problem: &Problem) -> Option<ProblemContext> {
        let mut entities = BTreeMap::new();
        if !self.topology.is_empty() {
            if let Some(topology) = self.topology_at(self.problems().as_of) {
                let ids =
                    problem.root_causes.iter().map(|c| &c.entity).chain(problem.signals.values().map(|s| &s.entity));
                for id in ids {
                    if let Some(entity) = topology.entity(id) {
                        entities.insert(id.clone(), entity.clone());
                    }
                }
            }
        }
        ProblemContext::from_problem(problem, &entities)
    }

    /// The loaded runbooks whose match rule fits `problem`, by name.
    pub fn matching_runbooks(&self, problem: &Problem) -> Vec<&Runbook> {
        match self.runbook_context(problem) {
            Some(ctx) => self.opts.runbooks.0.iter().filter(|rb| rb.matches(&ctx)).collect(),
            None => Vec::new(),
        }
    }

    /// The built-in command that takes a runbook's key from it, if one does.
    pub fn key_taken_by(&self, runbook: &Runbook) -> Option<Command> {
        runbook.key.and_then(|c| self.keymap.command_for_char(c))
    }

    /// Whether a plan with a text input is on screen: then character keys type into it.
    pub fn typing(&self) -> bool {
        self.proposal.as_ref().is_some_and(|p| p.typed.is_some())
    }

    /// How high the overlays on screen stack: 0 none, 1 the chooser, 2 a plan. The event loop
    /// drops typed-ahead keys whenever this rises.
    pub fn overlay_depth(&self) -> u8 {
        if self.proposal.is_some() {
            2
        } else if self.chooser.is_some() {
            1
        } else {
            0
        }
    }

    /// How far the detail can scroll before its last line leaves the bottom of its pane.
    pub fn max_detail_scroll(&self) -> usize {
        let Some(problem) = self.detail_problem() else { return 0 };
        let lines = views::detail::all_lines(self, problem, self.size.0).len();
        lines.saturating_sub(views::detail::body_rows(self))
    }

    /// How far the plan overlay can scroll before its last line leaves the box.
    pub fn max_plan_scroll(&self) -> usize {
        let Some(proposal) = &self.proposal else { return 0 };
        views::plan::max_scroll(proposal, self.opts.readonly, &self.theme, self.size)
    }

    /// How far the help can scroll before its last line is in view.
    pub fn max_help_scroll(&self) -> usize {
        views::help::max_scroll(self, self.size)
    }

    /// How far the full-screen output can scroll.
    pub fn max_output_scroll(&self) -> usize {
        let View::Output(id) = self.view else { return 0 };
        let total = views::output::lines(self, id, self.size.0).len();
        total.saturating_sub(views::detail_rows(self.size.1))
    }

    /// The problem actions act on: the one in the detail, or the one selected in the list.
    pub fn target_problem(&self) -> Option<&Problem> {
        match self.view {
            View::Detail(_) | View::Output(_) => self.detail_problem(),
            View::List => self.selected.and_then(|id| self.problems().problems.get(&id)),
        }
    }

    /// A key press: text typed into a plan's input line, a command through the keymap, or else a
    /// runbook's own key.
    fn key(&mut self, event: KeyEvent) {
        if event.kind == KeyEventKind::Release {
            return;
        }
        if keymap::is_ctrl_c(&event) {
            self.should_quit = true;
            return;
        }
        if self.palette.is_some() {
            self.palette_key(&event);
            return;
        }
        if self.list.editing && self.filter_key(&event) {
            return;
        }
        if self.typing() && self.type_key(&event) {
            return;
        }
        if self.log_scope().is_some() && self.log_search_key(&event) {
            return;
        }
        match self.keymap.command_in(self.log_scope().unwrap_or_else(|| self.key_scope()), &event) {
            Some(command) => self.command(command),
            None => {
                if self.report.is_some() {
                    self.report = None;
                } else if let Some(c) = keymap::typed_char(&event) {
                    self.runbook_key(c);
                } else if self.help {
                    self.help = false;
                }
            }
        }
    }

    /// Text keys while a plan's input line shows: characters and Backspace edit it. False for a
    /// key that is not text (Enter, Esc, arrows go on to the keymap).
    fn type_key(&mut self, event: &KeyEvent) -> bool {
        let Some(typed) = self.proposal.as_mut().and_then(|p| {
            p.refused = None;
            p.typed.as_mut()
        }) else {
            return false;
        };
        if let Some(c) = keymap::typed_char(event) {
            typed.text.push(c);
            return true;
        }
        if event.code == KeyCode::Backspace {
            typed.text.pop();
            return true;
        }
        false
    }

    fn fold(&mut self, events: Vec<ProblemEvent>) {
        self.history.events(&events);
        let old_index = self.selected_index();
        self.metrics.pin(&events);
        self.logs.pin(&events);
        self.outputs.note_events(&events);
        self.replay.extend(events);
        self.reselect(old_index);
        self.detail_scroll = self.detail_scroll.min(self.max_detail_scroll());
    }

    /// Moves the replay cursor to `position` (it leaves live mode), keeping the selection.
    fn seek(&mut self, position: usize) {
        let old_index = self.selected_index();
        self.replay.seek(position);
        self.reselect(old_index);
        self.detail_scroll = self.detail_scroll.min(self.max_detail_scroll());
    }

    /// The replay keys; false for any other command.
    fn replay_command(&mut self, command: Command) -> bool {
        let shown = match self.view {
            View::Detail(id) | View::Output(id) => Some(id),
            View::List => None,
        };
        let what = shown.map_or_else(|| "the data".to_string(), |id| id.to_string());
        match command {
            Command::StepBack | Command::StepForward => {
                let back = command == Command::StepBack;
                self.playing = false;
                let target = match shown {
                    // The problem's timeline entries: its events but repeats (only counted).
                    Some(id) => {
                        let positions = self.replay.positions_of(id);
                        let events = self.replay.events();
                        let entry = |p: &usize| !matches!(events[*p].kind, EventKind::SignalRepeated { .. });
                        step_among(positions, self.replay.position(), back, entry)
                    }
                    None if back => self.replay.position().checked_sub(1).filter(|p| *p > 0),
                    None => Some(self.replay.position() + 1).filter(|p| *p <= self.replay.len()),
                };
                match target {
                    Some(position) => self.seek(position),
                    None if back => self.notice = Some(format!("first event of {what}")),
                    None => self.notice = Some(format!("last event of {what}")),
                }
            }
            Command::PreviousRanking | Command::NextRanking => {
                let back = command == Command::PreviousRanking;
                self.playing = false;
                let events = self.replay.events();
                let ranked = |p: &usize| matches!(events[*p].kind, EventKind::RootCauseRanked { .. });
                let target = match shown {
                    Some(id) => step_among(self.replay.positions_of(id), self.replay.position(), back, ranked),
                    None => step_among(self.replay.ranking_positions(), self.replay.position(), back, ranked),
                };
                match target {
                    Some(position) => self.seek(position),
                    None if back => self.notice = Some(format!("no earlier ranking of {what}")),
                    None => self.notice = Some(format!("no later ranking of {what}")),
                }
            }
            Command::Play => {
                if self.playing {
                    self.playing = false;
                } else if self.replay.position() >= self.replay.len() {
                    self.notice = Some("at the end of the data: step back ([, {) to play from there".to_string());
                } else {
                    self.replay.pause();
                    self.playing = true;
                    self.playhead = self.replay.at().or_else(|| self.replay.events().first().map(|e| e.at));
                }
            }
            Command::Faster => self.speed = (self.speed + 1).min(PLAY_SPEEDS.len() - 1),
            Command::Slower => self.speed = self.speed.saturating_sub(1),
            Command::Live => {
                self.playing = false;
                let old_index = self.selected_index();
                self.replay.go_live();
                self.reselect(old_index);
                self.detail_scroll = self.detail_scroll.min(self.max_detail_scroll());
            }
            _ => return false,
        }
        true
    }

    /// Moves a playing cursor on by `elapsed_ms` of wall-clock time at the play speed.
    fn tick(&mut self, elapsed_ms: u64) {
        if !self.playing {
            return;
        }
        let advance = i64::try_from(elapsed_ms.saturating_mul(self.play_speed())).unwrap_or(i64::MAX);
        let Some(head) = self.playhead.map(|h| h.plus_ms(advance)) else {
            self.playing = false;
            return;
        };
        self.playhead = Some(head);
        let mut to = self.replay.position();
        while self.replay.events().get(to).is_some_and(|e| e.at <= head) {
            to += 1;
        }
        if to != self.replay.position() {
            self.seek(to);
        }
        if self.replay.position() >= self.replay.len() {
            self.playing = false;
            self.playhead = None;
            self.notice = Some("played to the end of the data (L: live)".to_string());
        }
    }

    /// Keeps the selection on the same problem; if it was merged away, follows it into the
    /// problem that absorbed it; otherwise stays at the same place in the list.
    fn reselect(&mut self, old_index: Option<usize>) {
        self.refresh_list();
        let ids = self.list_ids().into_owned();
        let Some(&first) = ids.first() else {
            self.selected = None;
            return;
        };
        match self.selected {
            Some(id) if ids.contains(&id) => {}
            Some(id) => {
                let into = match self.problems().problems.get(&id).map(|p| p.status) {
                    Some(ProblemStatus::Merged(into)) if ids.contains(&into) => Some(into),
                    _ => None,
                };
                let at = old_index.unwrap_or(0).min(ids.len() - 1);
                self.selected = Some(into.unwrap_or(ids[at]));
            }
            None => self.selected = Some(first),
        }
    }

    fn select_index(&mut self, index: usize) {
        let ids = self.list_ids();
        let picked = ids.len().checked_sub(1).map(|last| ids[index.min(last)]);
        if picked.is_some() {
            self.selected = picked;
        }
    }

    pub(crate) fn command(&mut self, command: Command) {
        if command == Command::Quit {
            self.should_quit = true;
            return;
        }
        if self.help {
            // Any other key closes the help: at 3 a.m. nobody should have to find the right one.
            // Only when it is longer than the screen do the scrolling keys scroll it.
            let max = self.max_help_scroll();
            let page = views::help::body_rows(self.size.1).max(1);
            match scrolled(command, self.help_scroll, page, max) {
                Some(to) if max > 0 => self.help_scroll = to,
                _ => self.help = false,
            }
            return;
        }
        if self.report.is_some() {
            self.report_command(command);
            return;
        }
        if self.proposal.is_some() {
            self.proposal_command(command);
            return;
        }
        if self.chooser.is_some() {
            self.chooser_command(command);
            return;
        }
        if self.log_pane.is_some() {
            self.notice = None;
            if self.log_command(command) {
                return;
            }
        }
        if self.topo.is_some() {
            self.notice = None;
            if self.topology_command(command) {
                return;
            }
        }
        if command == Command::Silence {
            self.propose_silence();
            return;
        }
        // A notice has been read once the user moves on (as vim's message line); it must not
        // keep the status line from showing a source going stale.
        self.notice = None;
        match command {
            Command::Runbooks => return self.open_chooser(),
            Command::CancelRun => return self.propose_cancel(),
            Command::Output => return self.open_output(),
            Command::Palette => return self.open_palette(),
            Command::Topology => return self.open_topology(),
            Command::Logs => return self.open_logs(),
            Command::Report => return self.open_report(),
            Command::OpenSimilar => return self.open_similar(),
            _ => {}
        }
        if self.replay_command(command) {
            return;
        }
        match self.view {
            View::List => self.list_command(command),
            View::Detail(_) => self.detail_command(command),
            View::Output(id) => self.output_command(id, command),
        }
    }

    /// The handover report of the 12 hours of data up to the cursor.
    fn open_report(&mut self) {
        let lines = self.history.report(self.problems().as_of, &self.opts.title);
        self.report = Some((lines, 0));
    }

    /// Scrolls the report; any other key closes it (as the help).
    fn report_command(&mut self, command: Command) {
        let Some((lines, scroll)) = &mut self.report else { return };
        let page = views::report::body_rows(self.size.1).max(1);
        let max = lines.len().saturating_sub(page);
        match scrolled(command, *scroll, page, max) {
            Some(to) => *scroll = to,
            None => self.report = None,
        }
    }

    /// Opens the next similar past problem of the detail, with the replay cursor just after its
    /// last event (as it ended). Its events are in this session: the index is folded from them.
    fn open_similar(&mut self) {
        let Some(block) = self.similar.as_ref().filter(|b| matches!(self.view, View::Detail(id) if id == b.problem))
        else {
            self.notice = Some("open a problem's detail first: its SIMILAR block lists what P opens".to_string());
            return;
        };
        if block.rows.is_empty() {
            self.notice = Some(format!("nothing similar to {} in this session's history", block.problem));
            return;
        }
        let row = &block.rows[self.similar_next % block.rows.len()];
        let (from, to) = (block.problem, row.id);
        let Some(&last) = self.replay.positions_of(to).last() else {
            self.notice = Some(format!("{to} is not in this session's events"));
            return;
        };
        self.similar_next += 1;
        self.playing = false;
        self.seek(last + 1);
        self.view = View::Detail(to);
        self.detail_scroll = 0;
        self.notice = Some(format!("{to}, similar to {from}, as it ended (L: back to live)"));
    }

    /// Recomputes the detail problem's similar block when the problem, its ranking, its signals
    /// or the history changed (a search is a few posting-list lookups: cheap, but not per frame).
    pub(crate) fn refresh_similar(&mut self) {
        let View::Detail(id) = self.view else { return };
        let Some(problem) = self.problems().problems.get(&id) else { return };
        let current = self.similar.as_ref().filter(|b| b.problem == id);
        if let Some(block) = self.history.similar(problem, current, 3) {
            if self.similar.as_ref().is_none_or(|b| b.problem != id) {
                self.similar_next = 0;
            }
            self.similar = Some(block);
        }
    }

    fn open_help(&mut self) {
        self.help = true;
        self.help_scroll = 0;
    }

    /// Opens the full-screen output of the target problem's latest run, following its end.
    fn open_output(&mut self) {
        let Some(problem) = self.target_problem() else {
            self.notice = Some("no problem selected".to_string());
            return;
        };
        let id = problem.id;
        if super::runs::runs(&self.replay, id).is_empty() {
            self.notice = Some(format!("no runbook has run on {id} (as of the cursor)"));
            return;
        }
        self.view = View::Output(id);
        self.output_scroll = None;
    }

    fn output_command(&mut self, id: ProblemId, command: Command) {
        let page = views::detail_rows(self.size.1).max(1);
        let max = self.max_output_scroll();
        let at = self.output_scroll.unwrap_or(max).min(max);
        if let Some(to) = scrolled(command, at, page, max) {
            // At the end it follows new lines again.
            self.output_scroll = (to < max).then_some(to);
            return;
        }
        match command {
            Command::Back => {
                self.view = View::Detail(id);
                self.output_scroll = None;
            }
            Command::Help => self.open_help(),
            _ => {}
        }
    }

    fn list_command(&mut self, command: Command) {
        let index = self.selected_index().unwrap_or(0);
        let page = views::list_rows(self.size.1).max(1);
        match command {
            Command::Down => self.select_index(index + 1),
            Command::Up => self.select_index(index.saturating_sub(1)),
            Command::Top => self.select_index(0),
            Command::Bottom => self.select_index(usize::MAX),
            Command::PageDown => self.select_index(index.saturating_add(page)),
            Command::PageUp => self.select_index(index.saturating_sub(page)),
            Command::Open => {
                if let Some(id) = self.selected {
                    self.view = View::Detail(id);
                    self.detail_scroll = 0;
                }
            }
            Command::Help => self.open_help(),
            Command::Filter => self.start_filter(),
            Command::Sort => self.cycle_sort(),
            Command::Back => {
                self.clear_filter();
            }
            _ => {}
        }
    }

    fn detail_command(&mut self, command: Command) {
        let page = views::detail::body_rows(self).max(1);
        let max = self.max_detail_scroll();
        if let Some(to) = scrolled(command, self.detail_scroll, page, max) {
            self.detail_scroll = to;
            return;
        }
        match command {
            Command::Back => {
                self.view = View::List;
                self.detail_scroll = 0;
            }
            Command::Help => self.open_help(),
            _ => {}
        }
    }
}

/// Lines (list rows, detail lines) one notch of the mouse wheel moves.
pub const WHEEL_LINES: usize = 3;

impl App {
    /// A left click: on a list row it selects the problem (on the selected one, opens it), on
    /// a topology node it selects the node (on the selected one, as Enter). A click closes the
    /// help, as any key does; with the palette, a plan or the chooser up it does nothing (they
    /// are answered with keys, so a stray click can never confirm anything).
    fn click(&mut self, column: u16, row: u16) {
        if self.help {
            self.help = false;
            return;
        }
        if self.palette.is_some() || self.overlay_depth() > 0 || self.list.editing {
            return;
        }
        if let Some(topo) = &mut self.topo {
            let Some(i) = super::topo::node_at(topo, self.size.1, column, row) else { return };
            let key = topo.diagram.nodes[i].key.clone();
            if topo.selected.as_ref() == Some(&key) {
                self.command(Command::Open);
            } else {
                topo.selected = Some(key);
            }
            return;
        }
        if self.view != View::List {
            return;
        }
        let Some(index) = views::list::row_at(self, row) else { return };
        if self.selected_index() == Some(index) {
            self.command(Command::Open);
        } else {
            self.notice = None;
            self.select_index(index);
        }
    }

    /// A wheel notch: the list's selection, the detail, the output, the help or the plan move
    /// by [`WHEEL_LINES`], the topology's selection by one row of boxes (the view shows one of
    /// them at a time, so it is the one under the pointer).
    fn wheel(&mut self, down: bool) {
        if self.palette.is_some() || self.list.editing {
            return;
        }
        let command = if down { Command::Down } else { Command::Up };
        let notches = if self.topo.is_some() && !self.help && self.overlay_depth() == 0 { 1 } else { WHEEL_LINES };
        for _ in 0..notches {
            // The help closes on any command it cannot scroll by; the wheel never closes it.
            if self.help && self.max_help_scroll() == 0 {
                return;
            }
            self.command(command);
        }
    }
}

/// Play speeds: data milliseconds per wall-clock millisecond (1x, 10x, 60x data time).
pub const PLAY_SPEEDS: [u64; 3] = [1, 10, 60];

/// Where a step among `positions` (sorted indexes of events, filtered by `keep`) takes a cursor
/// standing at `position` (events before it folded in): to stand on the kept event before the
/// one in effect (back), or on the next kept one after the cursor (forward). `None` when there
/// is none that way; going back never leaves the first kept event.
fn step_among(positions: &[usize], position: usize, back: bool, keep: impl Fn(&usize) -> bool) -> Option<usize> {
    // Kept events at or before the cursor's event, and after it.
    let split = positions.partition_point(|&p| p < position);
    let (before, after) = positions.split_at(split);
    if back {
        let mut kept = before.iter().rev().filter(|p| keep(p));
        kept.next()?;
        kept.next().map(|p| p + 1)
    } else {
        after.iter().find(|p| keep(p)).map(|p| p + 1)
    }
}

/// Where a scrolling command moves `scroll` (a page is `page` lines, the end is `max`), or
/// `None` for a command that does not scroll.
pub(crate) fn scrolled(command: Command, scroll: usize, page: usize, max: usize) -> Option<usize> {
    Some(match command {
        Command::Down => scroll.saturating_add(1).min(max),
        Command::Up => scroll.saturating_sub(1),
        Command::Top => 0,
        Command::Bottom => max,
        Command::PageDown => scroll.saturating_add(page).min(max),
        Command::PageUp => scroll.saturating_sub(page),
        _ => return None,
    })
}

/// The topology as the replay cursor's data time saw it, with what it was built from.
#[derive(Debug, Clone)]
pub struct TopologyNow {
    /// Topology facts applied (received, and at or before the time it is as of): two times with
    /// the same count show the same topology, so moving between them rebuilds nothing.
    pub applied: u64,
    pub topology: Topology,
}

/// Applies one action to the state. The only place the UI's state changes.
pub fn update(app: &mut App, action: Action) {
    apply(app, action);
    app.refresh_topology();
    app.refresh_list();
    app.refresh_topology_view();
    app.refresh_similar();
}

impl App {
    /// Topology facts received at or before data time `at`: the key of the topology as of `at`
    /// (facts arrive in data-time order, so only the few after `at` are counted).
    pub fn facts_applied_at(&self, at: Timestamp) -> u64 {
        let later = self.topology.changes_between(at, Timestamp(i64::MAX)).count() as u64;
        self.topology_facts.saturating_sub(later)
    }

    /// The data time the topology is drawn as of: the cursor's, and live (the topology view
    /// only) the newest data seen, so the estate shows what observations said even before any
    /// problem event exists or after the last one.
    pub fn topology_time(&self) -> Timestamp {
        let at = self.problems().as_of;
        match (self.topo.is_some() && self.replay.is_live(), self.freshness.newest) {
            (true, Some(newest)) => at.max(newest),
            _ => at,
        }
    }

    /// The topology as of `at`: the cached one when it is the same, else rebuilt.
    pub fn topology_at(&self, at: Timestamp) -> Option<std::borrow::Cow<'_, Topology>> {
        match &self.topology_now {
            Some(now) if now.applied == self.facts_applied_at(at) => Some(std::borrow::Cow::Borrowed(&now.topology)),
            _ => self.topology.as_of(at).map(std::borrow::Cow::Owned),
        }
    }

    /// Rebuilds `topology_now` when the detail or the topology view shows and the facts applied
    /// as of their time changed (a cursor move past no topology fact rebuilds nothing).
    pub(crate) fn refresh_topology(&mut self) {
        if !(matches!(self.view, View::Detail(_)) || self.topo.is_some()) || self.topology.is_empty() {
            return;
        }
        let at = self.topology_time();
        let applied = self.facts_applied_at(at);
        if self.topology_now.as_ref().is_some_and(|now| now.applied == applied) {
            return;
        }
        self.topology_now = self.topology.as_of(at).map(|topology| TopologyNow { applied, topology });
    }
}

fn apply(app: &mut App, action: Action) {
    match action {
        Action::Feed(Feed::Events(events)) => app.fold(events),
        Action::Feed(Feed::Source { name, health }) => {
            // The report overlay's stale sources rest on these, as `faultline report` does on
            // the journal's rows; their time is the newest data's.
            if let Some(at) = app.freshness.newest.or(Some(app.problems().as_of)).filter(|t| t.0 > 0) {
                let stale = match &health {
                    SourceHealth::Ok | SourceHealth::Noted { .. } => None,
                    SourceHealth::Stale { reason } | SourceHealth::Down { reason } => Some(reason.as_str()),
                };
                app.history.source_health(&name, stale, at);
            }
            app.sources.insert(name, health);
        }
        Action::Feed(Feed::Pulled { name, covered }) => app.freshness.pulled(name, covered),
        Action::Feed(Feed::Finished { summary }) => app.finished = Some(summary),
        Action::Feed(Feed::Notice(text)) => app.notice = Some(text),
        Action::Feed(Feed::RunOutput { problem, lines }) => app.outputs.push(problem, lines),
        Action::Feed(Feed::Observations(observations)) => {
            app.freshness.observe(&observations);
            app.history.observations(&observations);
            app.metrics.observe(&observations);
            app.logs.observe(&observations);
            for o in &observations {
                if TopologyChange::of(&o.kind).is_some() {
                    app.topology_facts += 1;
                }
                app.topology.observe(o);
            }
        }
        Action::FeedClosed => app.feed_closed = true,
        Action::Tick { elapsed_ms } => app.tick(elapsed_ms),
        Action::Clock { unix_ms } => app.freshness.clock(unix_ms, &app.opts.title),
        Action::Command(command) => app.command(command),
        Action::Click { column, row } => app.click(column, row),
        Action::Wheel { down, .. } => app.wheel(down),
        Action::Key(event) => app.key(event),
        Action::Resize { width, height } => {
            app.size = (width, height);
            app.detail_scroll = app.detail_scroll.min(app.max_detail_scroll());
            app.help_scroll = app.help_scroll.min(app.max_help_scroll());
            let max = app.max_plan_scroll();
            if let Some(proposal) = &mut app.proposal {
                proposal.scroll = proposal.scroll.min(max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    /// An App at 80x24 with `n` problems, P-0001 opened first (the list shows newest last by
    /// severity then time: all equal severity, so the newest first).
    fn app_with(n: u64) -> App {
        let mut app = App::new(UiOptions::default());
        let events = (1..=n)
            .map(|i| ProblemEvent {
                seq: i,
                problem: ProblemId(i),
                at: Timestamp(i as i64 * 1000),
                kind: EventKind::Opened { title: format!("problem {i}"), severity: Severity::Major },
            })
            .collect();
        update(&mut app, Feed::Events(events).into());
        app
    }

    #[test]
    fn a_click_selects_the_row_under_it_and_a_second_click_opens_it() {
        let mut app = app_with(40);
        let ids = app.list_ids().into_owned();
        // Row 0 is the title, row 1 the list's header: row 4 is the third problem.
        update(&mut app, Action::Click { column: 10, row: 4 });
        assert_eq!(app.selected, Some(ids[2]));
        assert_eq!(app.view, View::List);
        update(&mut app, Action::Click { column: 10, row: 4 });
        assert_eq!(app.view, View::Detail(ids[2]), "a click on the selected row opens it");
        // Clicks on the title, the header and the status line select nothing.
        update(&mut app, Action::Command(Command::Back));
        for row in [0, 1, 23] {
            update(&mut app, Action::Click { column: 10, row });
            assert_eq!(app.selected, Some(ids[2]), "row {row}");
        }
        // Scrolled down, the rows on screen are further down the list.
        update(&mut app, Action::Command(Command::Bottom));
        update(&mut app, Action::Click { column: 10, row: 2 });
        assert_eq!(app.selected, Some(ids[40 - 21]), "21 rows on screen, the last selected");
    }

    #[test]
    fn clicks_never_answer_a_plan_or_the_palette_and_close_the_help() {
        let mut app = app_with(5);
        let first = app.selected;
        update(&mut app, Action::Command(Command::Palette));
        update(&mut app, Action::Click { column: 10, row: 4 });
        assert!(app.palette.is_some());
        assert_eq!(app.selected, first);
        app.palette = None;
        update(&mut app, Action::Command(Command::Help));
        update(&mut app, Action::Click { column: 10, row: 4 });
        assert!(!app.help, "a click closes the help");
        assert_eq!(app.selected, first, "and does nothing else");
    }

    #[test]
    fn the_wheel_moves_the_list_selection_and_scrolls_the_detail() {
        let mut app = app_with(40);
        let ids = app.list_ids().into_owned();
        update(&mut app, Action::Wheel { column: 5, row: 5, down: true });
        assert_eq!(app.selected, Some(ids[WHEEL_LINES]));
        update(&mut app, Action::Wheel { column: 5, row: 5, down: false });
        assert_eq!(app.selected, Some(ids[0]));
        update(&mut app, Action::Resize { width: 80, height: 8 });
        update(&mut app, Action::Command(Command::Open));
        let max = app.max_detail_scroll();
        assert!(max > WHEEL_LINES, "the detail is longer than the screen");
        update(&mut app, Action::Wheel { column: 5, row: 5, down: true });
        assert_eq!(app.detail_scroll, WHEEL_LINES);
        update(&mut app, Action::Wheel { column: 5, row: 5, down: false });
        assert_eq!(app.detail_scroll, 0);
    }

    #[test]
    fn a_pull_without_new_data_brings_the_sources_lag_to_zero() {
        let mut app = App::new(UiOptions { title: "live: prod".to_string(), ..UiOptions::default() });
        update(&mut app, Feed::Source { name: "alertmanager".to_string(), health: SourceHealth::Ok }.into());
        update(&mut app, Action::Clock { unix_ms: 600_000 });
        assert_eq!(app.freshness.lag_ms("alertmanager"), None, "no data and no pull: no lag to show");
        update(&mut app, Feed::Pulled { name: "alertmanager".to_string(), covered: Timestamp(598_000) }.into());
        assert_eq!(app.freshness.lag_ms("alertmanager"), Some(2_000));
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 24)).unwrap();
        terminal.draw(|frame| views::render(&app, frame)).unwrap();
        let status: String = terminal.backend().buffer().content()[120 * 23..].iter().map(|c| c.symbol()).collect();
        assert!(status.contains("am ✓ 2s"), "{status}");
        // Pulls stop (the source fails): its lag grows with the clock and it shows stale.
        update(&mut app, Action::Clock { unix_ms: 700_000 });
        terminal.draw(|frame| views::render(&app, frame)).unwrap();
        let status: String = terminal.backend().buffer().content()[120 * 23..].iter().map(|c| c.symbol()).collect();
        assert!(status.contains("am ! 1m"), "{status}");
    }
}
