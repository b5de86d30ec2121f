//! The `:` command palette: one fuzzy query (nucleo) over the keymap's commands, the problems
//! (id and headline), the entities the UI knows (topology as of the cursor, and every entity a
//! problem names) and the selected problem's runbooks. Enter jumps or runs, Esc closes. While it
//! shows it owns the keyboard (the topmost layer, as yazi routes keys).

use super::app::{App, View};
use super::filter::{list_headline, list_order, Fuzzy, SortOrder};
use super::keymap::{self, Command};
use super::views;
use crate::model::{EntityId, Problem, ProblemId, Timestamp};
use crossterm::event::{KeyCode, KeyEvent};
use nucleo::Utf32String;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The palette's text of the whole-estate topology command.
pub const TOPOLOGY_ALL: &str = "topology all";

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
    /// Open the whole estate's topology (`:topology all`; no key of its own).
    EstateTopology,
}

impl Target {
    /// The kind word shown before the entry.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Entity(_) => "entity",
            Target::Problem(_) => "problem",
            Target::Command(_) | Target::EstateTopology => "command",
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

/// An entry with its text as nucleo matches it, converted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub entry: Entry,
    text: Utf32String,
}

impl Candidate {
    fn new(entry: Entry) -> Candidate {
        let text = Utf32String::from(entry.text.as_str());
        Candidate { entry, text }
    }
}

/// The palette on screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Palette {
    pub query: String,
    /// Commands, problems and entities, shared with the App's [`PaletteIndex`].
    pub shared: Arc<Vec<Candidate>>,
    /// The selected problem's runbooks, gathered when the palette opened.
    pub runbooks: Vec<Candidate>,
    /// The candidates matching the query, best first (at most [`MAX_RESULTS`]).
    pub results: Vec<Entry>,
    pub selected: usize,
}

impl Palette {
    /// Everything that can be picked, in the order an empty query lists it.
    pub fn candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.shared.iter().chain(&self.runbooks)
    }

    /// How many entries can be picked.
    pub fn len(&self) -> usize {
        self.shared.len() + self.runbooks.len()
    }

    /// Whether nothing can be picked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-ranks the candidates for the query: score, then kind (entity, problem, command,
    /// runbook), then text, so equal scores always come out in the same order.
    fn rank(&mut self) {
        self.selected = 0;
        if self.query.trim().is_empty() {
            self.results = self.candidates().take(MAX_RESULTS).map(|c| c.entry.clone()).collect();
            return;
        }
        let mut fuzzy = Fuzzy::new(&self.query);
        let mut scored: Vec<(u32, &Entry)> =
            self.candidates().filter_map(|c| fuzzy.score_utf32(&c.text).map(|s| (s, &c.entry))).collect();
        let order = |(sa, a): &(u32, &Entry), (sb, b): &(u32, &Entry)| {
            sb.cmp(sa).then_with(|| a.target.kind_rank().cmp(&b.target.kind_rank())).then_with(|| a.text.cmp(&b.text))
        };
        // Only the best MAX_RESULTS are shown: select them before sorting (a one-letter query
        // can match all 10,000 problems).
        if scored.len() > MAX_RESULTS {
            scored.select_nth_unstable_by(MAX_RESULTS - 1, order);
            scored.truncate(MAX_RESULTS);
        }
        scored.sort_by(order);
        self.results = scored.into_iter().map(|(_, e)| e.clone()).collect();
    }
}

/// What the shared candidates were gathered from: the fold's position, the list's query and
/// order, and the topology as of the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexKey {
    last_seq: u64,
    problems: usize,
    query: String,
    sort: SortOrder,
    as_of: Timestamp,
    facts: u64,
}

/// The palette's commands, problems and entities, kept between openings (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct PaletteIndex {
    key: Option<IndexKey>,
    shared: Arc<Vec<Candidate>>,
    /// Each problem's entry, with the `last_seq` it was made at.
    problems: HashMap<ProblemId, (u64, Candidate)>,
}

impl PaletteIndex {
    /// The problem's entry, made now if it is new or changed since.
    fn problem(&mut self, p: &Problem) -> Candidate {
        let make = || {
            let text = format!("{} {}", p.id, list_headline(p));
            (p.last_seq, Candidate::new(Entry { target: Target::Problem(p.id), text, note: String::new() }))
        };
        let entry = self.problems.entry(p.id).or_insert_with(make);
        if entry.0 != p.last_seq {
            *entry = make();
        }
        entry.1.clone()
    }
}

impl Target {
    fn kind_rank(&self) -> u8 {
        match self {
            Target::Entity(_) => 0,
            Target::Problem(_) => 1,
            Target::Command(_) | Target::EstateTopology => 2,
            Target::Runbook(_) => 3,
        }
    }
}

impl App {
    /// Opens the palette with everything it can reach now.
    pub(crate) fn open_palette(&mut self) {
        let mut palette =
            Palette { shared: self.palette_shared(), runbooks: self.palette_runbooks(), ..Palette::default() };
        palette.rank();
        self.palette = Some(palette);
    }

    /// Commands first (as the help lists them), then problems in list order and entities by
    /// id: the index's, brought up to date first if the problems, list or topology moved.
    fn palette_shared(&mut self) -> Arc<Vec<Candidate>> {
        let set = self.problems();
        let key = IndexKey {
            last_seq: set.last_seq,
            problems: set.problems.len(),
            query: self.list.query.clone(),
            sort: self.list.sort,
            as_of: set.as_of,
            facts: self.topology_facts,
        };
        if self.palette_index.key.as_ref() != Some(&key) {
            let mut index = std::mem::take(&mut self.palette_index);
            index.shared = Arc::new(self.gather_shared(&mut index));
            index.key = Some(key);
            self.palette_index = index;
        }
        Arc::clone(&self.palette_index.shared)
    }

    fn gather_shared(&self, index: &mut PaletteIndex) -> Vec<Candidate> {
        let mut out = Vec::new();
        for b in self.keymap.bindings() {
            // The palette's own key opens nothing new from inside it.
            if b.command == Command::Palette {
                continue;
            }
            out.push(Candidate::new(Entry {
                target: Target::Command(b.command),
                text: b.command.name().to_string(),
                note: format!("{} · {}", b.keys_text(), b.description),
            }));
        }
        // No key of its own: the palette is the way to the whole estate.
        out.push(Candidate::new(Entry {
            target: Target::EstateTopology,
            text: TOPOLOGY_ALL.to_string(),
            note: "the whole estate's topology, also before any problem".to_string(),
        }));
        let set = self.problems();
        for id in self.list_ids().iter() {
            if let Some(p) = set.problems.get(id) {
                out.push(index.problem(p));
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
            out.push(Candidate::new(Entry { target: Target::Entity(id), text, note: String::new() }));
        }
        out
    }

    /// The selected problem's runbooks (few; gathered at every opening).
    fn palette_runbooks(&self) -> Vec<Candidate> {
        let Some(problem) = self.target_problem() else { return Vec::new() };
        self.matching_runbooks(problem)
            .into_iter()
            .map(|rb| {
                let note = rb
                    .key
                    .map(|k| format!("key {k} · on {}", problem.id))
                    .unwrap_or_else(|| format!("on {}", problem.id));
                Candidate::new(Entry { target: Target::Runbook(rb.name.clone()), text: rb.name.clone(), note })
            })
            .collect()
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
            Target::EstateTopology => self.open_topology_all(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, ProblemEvent, Severity};
    use crate::ui::{update, Action, Feed, UiOptions};

    fn opened(seq: u64, id: u64, title: &str) -> ProblemEvent {
        let kind = EventKind::Opened { title: title.to_string(), severity: Severity::Major };
        ProblemEvent { seq, problem: ProblemId(id), at: Timestamp(seq as i64 * 1000), kind }
    }

    #[test]
    fn candidates_are_kept_between_openings_and_follow_the_problems() {
        let mut app = App::new(UiOptions::default());
        update(&mut app, Feed::Events(vec![opened(1, 1, "disk full"), opened(2, 2, "kafka lag")]).into());
        update(&mut app, Action::Command(Command::Palette));
        let first = Arc::clone(&app.palette.as_ref().unwrap().shared);
        app.palette = None;
        update(&mut app, Action::Command(Command::Palette));
        assert!(Arc::ptr_eq(&first, &app.palette.as_ref().unwrap().shared), "nothing changed: the same candidates");
        app.palette = None;
        update(&mut app, Feed::Events(vec![opened(3, 3, "zookeeper session expired")]).into());
        update(&mut app, Action::Command(Command::Palette));
        let palette = app.palette.as_mut().unwrap();
        assert!(!Arc::ptr_eq(&first, &palette.shared));
        palette.query = "zookeeper".to_string();
        palette.rank();
        assert_eq!(palette.results.first().map(|e| e.target.clone()), Some(Target::Problem(ProblemId(3))));
        assert_eq!(palette.len(), first.len() + 1);
    }
}
