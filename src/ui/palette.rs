//! The `:` command palette: one fuzzy query (nucleo) over the keymap's commands, the problems
//! (id and headline), the entities the UI knows (topology as of the cursor, and every entity a
//! problem names) and the selected problem's runbooks. Enter jumps or runs, Esc closes. While it
//! shows it owns the keyboard (the topmost layer, as yazi routes keys).

use super::app::{App, View};
use super::filter::{list_headline, list_order, Fuzzy, SortOrder};
use super::keymap::{self, Command};
use super::views;
use crate::model::{EntityId, ProblemId};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::BTreeSet;

/// Results kept for the overlay (it shows fewer on a small screen).
pub const MAX_RESULTS: usize = 50;

/// What a palette entry does when picked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// Open the entity's signals in the problem it is in trouble in.
    Entity(EntityId),
    /// Select and open the problem.
    Problem(ProblemId),
    /// Run the command as its key would.
    Command(Command),
    /// Show the runbook's plan for the selected problem, as its key would.
    Runbook(String),
}

impl Target {
    /// The kind word shown before the entry.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Entity(_) => "entity",
            Target::Problem(_) => "problem",
            Target::Command(_) => "command",
            Target::Runbook(_) => "runbook",
        }
    }
}

/// One entry: what it does, the text matched (and shown), and a note shown after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub target: Target,
    pub text: String,
    pub note: String,
}

/// The palette on screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub query: String,
    /// Everything that can be picked, gathered when the palette opened.
    pub candidates: Vec<Entry>,
    /// The candidates matching the query, best first (at most [`MAX_RESULTS`]).
    pub results: Vec<Entry>,
    pub selected: usize,
}

impl Palette {
    /// Re-ranks the candidates for the query: score, then kind (entity, problem, command,
    /// runbook), then text, so equal scores always come out in the same order.
    fn rank(&mut self) {
        self.selected = 0;
        if self.query.trim().is_empty() {
            self.results = self.candidates.iter().take(MAX_RESULTS).cloned().collect();
            return;
        }
        let mut fuzzy = Fuzzy::new(&self.query);
        let mut scored: Vec<(u32, &Entry)> =
            self.candidates.iter().filter_map(|e| fuzzy.score(&e.text).map(|s| (s, e))).collect();
        scored.sort_by(|(sa, a), (sb, b)| {
            sb.cmp(sa).then_with(|| a.target.kind_rank().cmp(&b.target.kind_rank())).then_with(|| a.text.cmp(&b.text))
        });
        self.results = scored.into_iter().take(MAX_RESULTS).map(|(_, e)| e.clone()).collect();
    }
}

impl Target {
    fn kind_rank(&self) -> u8 {
        match self {
            Target::Entity(_) => 0,
            Target::Problem(_) => 1,
            Target::Command(_) => 2,
            Target::Runbook(_) => 3,
        }
    }
}

impl App {
    /// Opens the palette with everything it can reach now.
    pub(crate) fn open_palette(&mut self) {
        let mut palette = Palette { candidates: self.palette_candidates(), ..Palette::default() };
        palette.rank();
        self.palette = Some(palette);
    }

    /// Commands first (as the help lists them), then problems in list order, entities by id,
    /// and the selected problem's runbooks.
    fn palette_candidates(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for b in self.keymap.bindings() {
            // The palette's own key opens nothing new from inside it.
            if b.command == Command::Palette {
                continue;
            }
            out.push(Entry {
                target: Target::Command(b.command),
                text: b.command.name().to_string(),
                note: format!("{} · {}", b.keys_text(), b.description),
            });
        }
        let set = self.problems();
        for id in self.list_ids().iter() {
            if let Some(p) = set.problems.get(id) {
                out.push(Entry {
                    target: Target::Problem(*id),
                    text: format!("{id} {}", list_headline(p)),
                    note: String::new(),
                });
            }
        }
        let mut entities: BTreeSet<EntityId> = set
            .problems
            .values()
            .flat_map(|p| {
                p.signals.values().map(|s| s.entity.clone()).chain(p.root_causes.iter().map(|c| c.entity.clone()))
            })
            .collect();
        let mut names = std::collections::BTreeMap::new();
        if !self.topology.is_empty() {
            if let Some(topology) = self.topology_at(set.as_of) {
                for e in topology.entities() {
                    entities.insert(e.id.clone());
                    if !e.name.is_empty() && e.name != e.id.as_str() {
                        names.insert(e.id.clone(), e.name.clone());
                    }
                }
            }
        }
        for id in entities {
            let text = match names.get(&id) {
                Some(name) => format!("{id} {name}"),
                None => id.to_string(),
            };
            out.push(Entry { target: Target::Entity(id), text, note: String::new() });
        }
        if let Some(problem) = self.target_problem() {
            for rb in self.matching_runbooks(problem) {
                let note = rb
                    .key
                    .map(|k| format!("key {k} · on {}", problem.id))
                    .unwrap_or_else(|| format!("on {}", problem.id));
                out.push(Entry { target: Target::Runbook(rb.name.clone()), text: rb.name.clone(), note });
            }
        }
        out
    }

    /// A key while the palette shows: text edits the query, Up/Down move, Enter picks, Esc closes.
    pub(crate) fn palette_key(&mut self, event: &KeyEvent) {
        let Some(palette) = self.palette.as_mut() else { return };
        if let Some(c) = keymap::typed_char(event) {
            palette.query.push(c);
            palette.rank();
            return;
        }
        let last = palette.results.len().saturating_sub(1);
        match event.code {
            KeyCode::Backspace => {
                palette.query.pop();
                palette.rank();
            }
            KeyCode::Down | KeyCode::Tab => palette.selected = (palette.selected + 1).min(last),
            KeyCode::Up | KeyCode::BackTab => palette.selected = palette.selected.saturating_sub(1),
            KeyCode::Esc => self.palette = None,
            KeyCode::Enter => {
                let picked = palette.results.get(palette.selected).map(|e| e.target.clone());
                self.palette = None;
                if let Some(target) = picked {
                    self.notice = None;
                    self.palette_pick(target);
                }
            }
            _ => {}
        }
    }

    fn palette_pick(&mut self, target: Target) {
        match target {
            Target::Command(command) => self.command(command),
            Target::Problem(id) => self.open_problem(id, 0),
            Target::Entity(entity) => self.open_entity_signals(&entity),
            Target::Runbook(name) => self.propose_run(&name),
        }
    }

    /// Selects a problem and opens its detail at `scroll` (clamped), showing it in the list even
    /// when the filter hid it.
    pub(crate) fn open_problem(&mut self, id: ProblemId, scroll: usize) {
        if !self.list_ids().contains(&id) {
            self.list.query.clear();
            self.refresh_list();
        }
        self.selected = Some(id);
        self.view = View::Detail(id);
        self.help = false;
        self.detail_scroll = 0;
        self.refresh_topology();
        self.detail_scroll = scroll.min(self.max_detail_scroll());
    }

    /// Opens the problem the entity is in trouble in, scrolled to its signals: the first open
    /// incident (worst first) with a signal on it, else any problem with one, else one whose
    /// root cause it is.
    pub(crate) fn open_entity_signals(&mut self, entity: &EntityId) {
        let set = self.problems();
        let order = list_order(set, "", SortOrder::Severity);
        let has_signal =
            |id: &ProblemId| set.problems.get(id).is_some_and(|p| p.signals.values().any(|s| &s.entity == entity));
        let is_cause =
            |id: &ProblemId| set.problems.get(id).is_some_and(|p| p.root_causes.iter().any(|c| &c.entity == entity));
        let open = |id: &ProblemId| set.problems.get(id).is_some_and(|p| p.is_open());
        let found = order
            .iter()
            .find(|id| open(id) && has_signal(id))
            .or_else(|| order.iter().find(|id| has_signal(id)))
            .or_else(|| order.iter().find(|id| is_cause(id)))
            .copied();
        let Some(id) = found else {
            self.notice = Some(format!("{entity} is in no problem (as of the cursor)"));
            return;
        };
        self.open_problem(id, 0);
        let lines = match self.detail_problem() {
            Some(p) => views::detail::all_lines(self, p, self.size.0),
            None => Vec::new(),
        };
        let at = lines.iter().position(|l| l.to_string().starts_with("SIGNALS")).unwrap_or(0);
        self.detail_scroll = at.min(self.max_detail_scroll());
        self.notice = Some(format!("{entity}: signals in {id}"));
    }
}
