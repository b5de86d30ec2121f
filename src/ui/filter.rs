//! The problem list's order and filter: `/` narrows the list by a fuzzy query over each
//! problem's headline, entities and status, `S` cycles the sort order. The list's order is kept
//! as ids and recomputed in `update` only when the problems, the query or the order change, so
//! drawing a frame never sorts or filters the whole set (10,000 problems stay smooth). A
//! keystroke only re-matches: the sorted order and each problem's match text (as nucleo reads
//! it) are kept between keystrokes, the text rebuilt only for a problem whose last event changed.

use super::views::status_label;
use crate::model::{Problem, ProblemId, ProblemSet, ProblemStatus, TrafficRole};
use nucleo::pattern::{CaseMatching, Normalization, Pattern};
use nucleo::{Config, Matcher, Utf32Str, Utf32String};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// How the list is ordered; `S` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Open first, then worst severity, then newest (the list's order since turn 1).
    #[default]
    Severity,
    /// Most recently opened first, open or not.
    Newest,
    /// Open first, then what the problem touches: users, errors, services, entities.
    Impact,
}

impl SortOrder {
    /// The next order in the cycle.
    pub fn next(self) -> SortOrder {
        match self {
            SortOrder::Severity => SortOrder::Newest,
            SortOrder::Newest => SortOrder::Impact,
            SortOrder::Impact => SortOrder::Severity,
        }
    }

    /// The word the list's title shows.
    pub fn label(self) -> &'static str {
        match self {
            SortOrder::Severity => "severity",
            SortOrder::Newest => "newest",
            SortOrder::Impact => "impact",
        }
    }
}

/// A fuzzy query compiled once and scored against many texts (nucleo's matcher).
pub struct Fuzzy {
    pattern: Pattern,
    matcher: Matcher,
    buf: Vec<char>,
}

impl Fuzzy {
    /// A query: whitespace separates words that must all match; case is ignored.
    pub fn new(query: &str) -> Fuzzy {
        Fuzzy {
            pattern: Pattern::parse(query, CaseMatching::Ignore, Normalization::Smart),
            matcher: Matcher::new(Config::DEFAULT),
            buf: Vec::new(),
        }
    }

    /// The match score of `text` (higher is better), `None` when it does not match.
    pub fn score(&mut self, text: &str) -> Option<u32> {
        self.pattern.score(Utf32Str::new(text, &mut self.buf), &mut self.matcher)
    }

    /// The match score of a text already in nucleo's form (no conversion per call).
    pub fn score_utf32(&mut self, text: &Utf32String) -> Option<u32> {
        self.pattern.score(text.slice(..), &mut self.matcher)
    }
}

/// Each problem's filter text ([`haystack`]) in nucleo's form, kept between keystrokes and
/// rebuilt only for a problem whose last event (`last_seq`) changed since it was made.
#[derive(Debug, Clone, Default)]
pub struct MatchTexts {
    by_id: HashMap<ProblemId, (u64, Utf32String)>,
}

impl MatchTexts {
    /// The problem's match text, made now if it is new or its problem changed.
    pub fn get(&mut self, problem: &Problem) -> &Utf32String {
        let entry = self.by_id.entry(problem.id).or_insert_with(|| (problem.last_seq, haystack(problem).into()));
        if entry.0 != problem.last_seq {
            *entry = (problem.last_seq, haystack(problem).into());
        }
        &entry.1
    }
}

/// Whether a problem is the smart filter's background problem: every signal it holds carries a
/// smart-filter mark. The engine's opening title says so too, which is all an emptied one has.
pub fn is_background(problem: &Problem) -> bool {
    if problem.signals.is_empty() {
        return problem.title.starts_with("background:");
    }
    problem.signals.values().all(|s| s.mark.is_some())
}

/// What the list calls a problem: the background problem by what it holds, any other by its
/// headline (top root cause, else its title).
pub fn list_headline(problem: &Problem) -> Cow<'_, str> {
    if !is_background(problem) {
        return Cow::Borrowed(problem.headline());
    }
    let n = problem.signals.len();
    let s = if n == 1 { "" } else { "s" };
    Cow::Owned(format!("background: {n} flapping or low-criticality signal{s}"))
}

/// The text the filter matches a problem against: its id, headline, title, entities and status.
pub fn haystack(problem: &Problem) -> String {
    let mut text = format!("{} {} {}", problem.id, list_headline(problem), status_label(&problem.status));
    if problem.title != problem.headline() {
        text.push(' ');
        text.push_str(&problem.title);
    }
    let entities: BTreeSet<&str> = problem
        .signals
        .values()
        .map(|s| s.entity.as_str())
        .chain(problem.root_causes.iter().map(|c| c.entity.as_str()))
        .collect();
    for e in entities {
        text.push(' ');
        text.push_str(e);
    }
    text
}

/// The list: problems not merged away, in `sort` order, those matching `query` (all when empty).
pub fn list_order(set: &ProblemSet, query: &str, sort: SortOrder) -> Vec<ProblemId> {
    let sorted = sorted_ids(set, sort);
    if query.trim().is_empty() {
        return sorted;
    }
    filtered(set, &sorted, query, &mut MatchTexts::default())
}

/// The ids of `sorted` whose problem matches `query`, in the same order.
fn filtered(set: &ProblemSet, sorted: &[ProblemId], query: &str, texts: &mut MatchTexts) -> Vec<ProblemId> {
    let mut fuzzy = Fuzzy::new(query);
    sorted
        .iter()
        .filter(|id| set.problems.get(id).is_some_and(|p| fuzzy.score_utf32(texts.get(p)).is_some()))
        .copied()
        .collect()
}

/// Whether `query` can only match a subset of what the list `before` matched, the problems and
/// the order being the same (`sorted`): it extends the old query at the end, and neither uses
/// nucleo's syntax that can widen a match when it grows (`!` negation, `^` `$` anchors, `'`
/// exact, `\` escapes). A fuzzy match of the longer pattern is then a match of the shorter one
/// (each atom's characters in order; an uppercase letter only makes it case-sensitive).
fn narrows(before: &Key, query: &str, sorted: (u64, usize, SortOrder)) -> bool {
    let special = |q: &str| q.contains(['!', '^', '$', '\'', '\\']);
    (before.last_seq, before.problems, before.sort) == sorted
        && !before.query.trim().is_empty()
        && query.starts_with(&before.query)
        && !special(query)
}

/// Problems not merged away, in `sort` order.
fn sorted_ids(set: &ProblemSet, sort: SortOrder) -> Vec<ProblemId> {
    let mut problems: Vec<&Problem> =
        set.problems.values().filter(|p| !matches!(p.status, ProblemStatus::Merged(_))).collect();
    match sort {
        SortOrder::Severity => problems.sort_by(|a, b| {
            (b.is_open(), b.severity, b.opened_at, b.id).cmp(&(a.is_open(), a.severity, a.opened_at, a.id))
        }),
        SortOrder::Newest => problems.sort_by_key(|p| std::cmp::Reverse((p.opened_at, p.id))),
        SortOrder::Impact => {
            let mut keyed: Vec<(ImpactKey, &Problem)> = problems.into_iter().map(|p| (impact_key(p), p)).collect();
            keyed.sort_by(|(ka, a), (kb, b)| kb.cmp(ka).then_with(|| b.id.cmp(&a.id)));
            problems = keyed.into_iter().map(|(_, p)| p).collect();
        }
    }
    problems.into_iter().map(|p| p.id).collect()
}

/// Open first, then users, errors/s (in thousandths), services, entities, severity.
type ImpactKey = (bool, u64, u64, usize, usize, crate::model::Severity);

fn impact_key(p: &Problem) -> ImpactKey {
    let traffic = |role: TrafficRole| {
        p.impact.traffic.iter().find(|t| t.role == role).map_or(0, |t| (t.value.max(0.0) * 1000.0) as u64)
    };
    (
        p.is_open(),
        traffic(TrafficRole::Users),
        traffic(TrafficRole::Errors),
        p.impact.services,
        p.impact.affected.len(),
        p.severity,
    )
}

/// What the list's order was computed from: the fold's position, the query and the order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    last_seq: u64,
    problems: usize,
    query: String,
    sort: SortOrder,
}

/// The list's filter, order and the cached result.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// The filter query (empty: no filter).
    pub query: String,
    /// The `/` input line has the keyboard: characters type into the query.
    pub editing: bool,
    pub sort: SortOrder,
    order: Vec<ProblemId>,
    /// Problems not merged away, and of those the open ones, whatever the filter.
    counts: (usize, usize),
    key: Option<Key>,
    /// The unfiltered order, and what it was sorted from (last seq, problems, order): a
    /// keystroke in the filter re-matches it without sorting again.
    sorted: Vec<ProblemId>,
    sorted_key: Option<(u64, usize, SortOrder)>,
    /// Each problem's match text, kept between keystrokes.
    texts: MatchTexts,
}

impl ListFilter {
    fn key_for(&self, set: &ProblemSet) -> Key {
        Key { last_seq: set.last_seq, problems: set.problems.len(), query: self.query.clone(), sort: self.sort }
    }

    fn fresh(&self, set: &ProblemSet) -> bool {
        self.key.as_ref().is_some_and(|k| {
            k.last_seq == set.last_seq
                && k.problems == set.problems.len()
                && k.query == self.query
                && k.sort == self.sort
        })
    }

    /// Recomputes the order when the problems, the query or the sort changed since last time.
    pub fn refresh(&mut self, set: &ProblemSet) {
        if self.fresh(set) {
            return;
        }
        let sorted_key = (set.last_seq, set.problems.len(), self.sort);
        if self.sorted_key != Some(sorted_key) {
            self.sorted = sorted_ids(set, self.sort);
            let open = self.sorted.iter().filter(|id| set.problems.get(id).is_some_and(|p| p.is_open())).count();
            self.counts = (self.sorted.len(), open);
            self.sorted_key = Some(sorted_key);
        }
        self.order = if self.query.trim().is_empty() {
            self.sorted.clone()
        } else if self.key.as_ref().is_some_and(|k| narrows(k, &self.query, sorted_key)) {
            // A character typed at the end only narrows: re-match what matched before.
            filtered(set, &self.order, &self.query, &mut self.texts)
        } else {
            filtered(set, &self.sorted, &self.query, &mut self.texts)
        };
        self.key = Some(self.key_for(set));
    }

    /// The list's ids in order: the cached ones, or (when the state moved on without a
    /// refresh, as in a test that edits the App directly) computed afresh.
    pub fn ids<'a>(&'a self, set: &ProblemSet) -> Cow<'a, [ProblemId]> {
        if self.fresh(set) {
            Cow::Borrowed(&self.order)
        } else {
            Cow::Owned(list_order(set, &self.query, self.sort))
        }
    }

    /// Problems in the list without the filter, and how many of them are open.
    pub fn counts(&self, set: &ProblemSet) -> (usize, usize) {
        if self.fresh(set) {
            return self.counts;
        }
        let listed: Vec<&Problem> =
            set.problems.values().filter(|p| !matches!(p.status, ProblemStatus::Merged(_))).collect();
        (listed.len(), listed.iter().filter(|p| p.is_open()).count())
    }

    /// Whether a filter narrows the list.
    pub fn active(&self) -> bool {
        !self.query.trim().is_empty()
    }
}

impl super::App {
    /// The list's ids in order (filtered and sorted).
    pub fn list_ids(&self) -> Cow<'_, [ProblemId]> {
        self.list.ids(self.replay.set())
    }

    /// Brings the cached list order up to date with the problems, query and order.
    pub(crate) fn refresh_list(&mut self) {
        self.list.refresh(self.replay.set());
    }

    /// Recomputes the list after the query or order changed, keeping the selection when it is
    /// still listed, else the first row.
    fn relist(&mut self) {
        self.refresh_list();
        let ids = self.list_ids();
        let keep = self.selected.filter(|id| ids.contains(id));
        self.selected = keep.or_else(|| ids.first().copied());
    }

    /// `/`: the input line takes the keyboard; the query keeps what it had.
    pub(crate) fn start_filter(&mut self) {
        self.list.editing = true;
    }

    /// `S`: the next sort order.
    pub(crate) fn cycle_sort(&mut self) {
        self.list.sort = self.list.sort.next();
        self.relist();
    }

    /// Esc on the list: drops the filter. False when there was none.
    pub(crate) fn clear_filter(&mut self) -> bool {
        if !self.list.active() && !self.list.editing {
            return false;
        }
        self.list.query.clear();
        self.list.editing = false;
        self.relist();
        true
    }

    /// A key while the `/` input line has the keyboard: text edits the query (the list narrows
    /// as it is typed), Enter keeps the filter, Esc clears it. False for keys it leaves to the
    /// keymap (arrows still move the selection).
    pub(crate) fn filter_key(&mut self, event: &crossterm::event::KeyEvent) -> bool {
        use crossterm::event::KeyCode;
        if let Some(c) = super::keymap::typed_char(event) {
            self.list.query.push(c);
            self.relist();
            return true;
        }
        match event.code {
            KeyCode::Backspace => {
                self.list.query.pop();
                self.relist();
            }
            KeyCode::Enter => self.list.editing = false,
            KeyCode::Esc => {
                self.clear_filter();
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{EventKind, ProblemEvent, ProblemId, Severity, Timestamp};
    use crate::ui::{update, Action, App, Feed, UiOptions};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn opened(seq: u64, id: u64, title: &str) -> ProblemEvent {
        let kind = EventKind::Opened { title: title.to_string(), severity: Severity::Major };
        ProblemEvent { seq, problem: ProblemId(id), at: Timestamp(seq as i64 * 1000), kind }
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            update(app, Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
        }
    }

    #[test]
    fn typing_on_narrows_from_the_last_matches_and_gives_what_a_fresh_match_gives() {
        let mut app = App::new(UiOptions::default());
        let titles = ["disk full on db-1", "db-10 lag", "kafka lag on db-2", "DB-1 down", "cpu on web-1", "d b 1"];
        let events = (0..60u64).map(|i| opened(i + 1, i + 1, &format!("{} #{i}", titles[i as usize % titles.len()])));
        update(&mut app, Feed::Events(events.collect()).into());
        let fresh = |app: &App| super::list_order(app.replay.set(), &app.list.query, app.list.sort);
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE)));
        // Narrowing, then keys that must not narrow from the last matches: a backspace, a
        // negation that grows, an uppercase letter (case-sensitive from then on), an anchor.
        let mut matched = Vec::new();
        for keys in ["db-1", "\u{8}\u{8}2", " !lag", "\u{8}\u{8}\u{8}\u{8}\u{8}D", "B$"] {
            for c in keys.chars() {
                let code = if c == '\u{8}' { KeyCode::Backspace } else { KeyCode::Char(c) };
                update(&mut app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
                assert_eq!(app.list_ids().as_ref(), fresh(&app).as_slice(), "after {:?}", app.list.query);
                matched.push(app.list_ids().len());
            }
        }
        assert_eq!(app.list.query, "db2DB$");
        // The sequence both narrowed and widened (not a vacuous check on empty lists).
        assert!(matched.iter().any(|&n| n > 0 && n < 60) && matched.windows(2).any(|w| w[1] > w[0]), "{matched:?}");
    }

    #[test]
    fn the_kept_match_texts_follow_problems_that_arrive_or_change() {
        let mut app = App::new(UiOptions::default());
        update(&mut app, Feed::Events(vec![opened(1, 1, "disk full on db-1"), opened(2, 2, "kafka lag")]).into());
        typed(&mut app, "/kafka");
        assert_eq!(app.list_ids().as_ref(), &[ProblemId(2)]);
        // A problem arriving while the filter stays: matched with the kept texts and the new one.
        update(&mut app, Feed::Events(vec![opened(3, 3, "kafka broker down")]).into());
        assert_eq!(app.list_ids().as_ref(), &[ProblemId(3), ProblemId(2)]);
        // A problem that changed (merged away) leaves the list; one that changed its status is
        // matched on its new text.
        let merged = ProblemEvent { kind: EventKind::MergedInto { into: ProblemId(3) }, ..opened(4, 2, "") };
        update(&mut app, Feed::Events(vec![merged]).into());
        assert_eq!(app.list_ids().as_ref(), &[ProblemId(3)]);
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
        let resolved = ProblemEvent { kind: EventKind::Resolved, ..opened(5, 1, "") };
        update(&mut app, Feed::Events(vec![resolved]).into());
        typed(&mut app, "/resolved");
        assert_eq!(app.list_ids().as_ref(), &[ProblemId(1)]);
    }
}
