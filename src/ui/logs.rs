//! The log lines and pattern counts the console may show, kept bounded: live agents run for weeks.
//!
//! Sources send a sample of raw lines per entity and interval ([`ObservationKind::LogLines`]) and
//! the counts per template ([`ObservationKind::LogPattern`]). Per entity the UI keeps the last
//! [`RECENT_LINES`] lines, and up to [`PINNED_LINES`] more that fall in the onset window of a
//! problem's signal on that entity ([`PIN_BEFORE_MS`] before the signal was first seen to
//! [`PIN_AFTER_MS`] after), so the lines around an incident's onset outlive the chatter that
//! follows. Counts are kept per (entity, template) for the last [`COUNT_INTERVALS`] intervals, of at
//! most [`TEMPLATES_PER_ENTITY`] templates per entity (the least recently counted goes first).

use super::app::{scrolled, App, View};
use super::keymap::{Command, Scope};
use crate::model::{
    EntityId, EventKind, LogLine, Observation, ObservationKind, Problem, ProblemEvent, ProblemId, Severity, Timestamp,
};
use crossterm::event::{KeyCode, KeyEvent};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Lines kept per entity outside any onset window.
pub const RECENT_LINES: usize = 1_000;
/// Lines kept per entity inside onset windows.
pub const PINNED_LINES: usize = 5_000;
/// An onset window starts this long before a signal was first seen, in milliseconds.
pub const PIN_BEFORE_MS: i64 = 10 * 60_000;
/// An onset window ends this long after a signal was first seen, in milliseconds.
pub const PIN_AFTER_MS: i64 = 20 * 60_000;
/// Onset windows kept per entity (the oldest goes first).
const WINDOWS_PER_ENTITY: usize = 64;
/// Count intervals kept per template (a day of one-minute intervals).
pub const COUNT_INTERVALS: usize = 1_440;
/// Templates whose counts are kept per entity.
pub const TEMPLATES_PER_ENTITY: usize = 200;

/// One template's counts on one entity.
#[derive(Debug, Clone, Default)]
pub struct TemplateCounts {
    /// The template as last reported.
    pub template: String,
    /// The highest level its lines declared.
    pub level: Severity,
    /// `(end of interval, lines)`, in time order.
    pub counts: VecDeque<(Timestamp, u64)>,
}

impl TemplateCounts {
    /// Lines counted in intervals ending within `from..=to`.
    pub fn between(&self, from: Timestamp, to: Timestamp) -> u64 {
        self.counts.iter().filter(|(at, _)| *at >= from && *at <= to).map(|(_, n)| n).sum()
    }
}

#[derive(Debug, Clone, Default)]
struct EntityLogs {
    recent: VecDeque<LogLine>,
    pinned: VecDeque<LogLine>,
    windows: VecDeque<(Timestamp, Timestamp)>,
    templates: BTreeMap<String, TemplateCounts>,
    /// Template ids by the data time they were last counted, for evicting the stalest.
    counted_at: BTreeMap<String, Timestamp>,
}

impl EntityLogs {
    fn pinned_at(&self, at: Timestamp) -> bool {
        self.windows.iter().any(|(from, to)| at >= *from && at <= *to)
    }

    fn keep(&mut self, line: LogLine) {
        if self.pinned_at(line.at) {
            push_bounded(&mut self.pinned, line, PINNED_LINES);
        } else {
            push_bounded(&mut self.recent, line, RECENT_LINES);
        }
    }

    fn count(&mut self, template_id: &str, template: &str, level: Severity, at: Timestamp, n: u64) {
        if !self.templates.contains_key(template_id) && self.templates.len() >= TEMPLATES_PER_ENTITY {
            let stalest = self.counted_at.iter().min_by_key(|(id, at)| (**at, (*id).clone())).map(|(id, _)| id.clone());
            if let Some(id) = stalest {
                self.templates.remove(&id);
                self.counted_at.remove(&id);
            }
        }
        let counts = self.templates.entry(template_id.to_string()).or_default();
        counts.template = template.to_string();
        counts.level = counts.level.max(level);
        match counts.counts.back_mut() {
            Some((last, total)) if *last == at => *total += n,
            _ => {
                counts.counts.push_back((at, n));
                if counts.counts.len() > COUNT_INTERVALS {
                    counts.counts.pop_front();
                }
            }
        }
        self.counted_at.insert(template_id.to_string(), at);
    }

    /// Pins a window, moving the recent lines it covers to the pinned ones.
    fn pin(&mut self, from: Timestamp, to: Timestamp) {
        if self.windows.iter().any(|w| *w == (from, to)) {
            return;
        }
        if self.windows.len() >= WINDOWS_PER_ENTITY {
            self.windows.pop_front();
        }
        self.windows.push_back((from, to));
        let (moved, kept): (Vec<LogLine>, Vec<LogLine>) =
            self.recent.drain(..).partition(|l| l.at >= from && l.at <= to);
        self.recent = kept.into();
        if moved.is_empty() {
            return;
        }
        let mut pinned: Vec<LogLine> = self.pinned.drain(..).chain(moved).collect();
        pinned.sort_by_key(|l| l.at);
        let excess = pinned.len().saturating_sub(PINNED_LINES);
        self.pinned = pinned.into_iter().skip(excess).collect();
    }
}

fn push_bounded(lines: &mut VecDeque<LogLine>, line: LogLine, max: usize) {
    lines.push_back(line);
    while lines.len() > max {
        lines.pop_front();
    }
}

/// Bounded log lines and counts by entity.
#[derive(Debug, Clone, Default)]
pub struct LogHistory {
    entities: BTreeMap<EntityId, EntityLogs>,
}

impl LogHistory {
    /// Keeps the sampled lines and the counts of these observations.
    pub fn observe(&mut self, observations: &[Observation]) {
        for o in observations {
            match &o.kind {
                ObservationKind::LogLines { entity, lines } => {
                    let logs = self.entities.entry(entity.clone()).or_default();
                    for line in lines {
                        logs.keep(line.clone());
                    }
                }
                ObservationKind::LogPattern { entity, template_id, template, level, count, .. } => {
                    let logs = self.entities.entry(entity.clone()).or_default();
                    logs.count(template_id, template, *level, o.at, *count);
                }
                _ => {}
            }
        }
    }

    /// Pins the onset windows of the signals in these events.
    pub fn pin(&mut self, events: &[ProblemEvent]) {
        for e in events {
            if let EventKind::SignalAttached { signal } = &e.kind {
                let from = signal.first_seen.plus_ms(-PIN_BEFORE_MS);
                let to = signal.first_seen.plus_ms(PIN_AFTER_MS);
                self.entities.entry(signal.entity.clone()).or_default().pin(from, to);
            }
        }
    }

    /// Whether any line or count of `entity` is kept.
    pub fn knows(&self, entity: &EntityId) -> bool {
        self.entities
            .get(entity)
            .is_some_and(|l| !l.recent.is_empty() || !l.pinned.is_empty() || !l.templates.is_empty())
    }

    /// The kept lines of `entities` within `from..=to`, in time order (then entity order).
    pub fn lines<'a>(
        &'a self,
        entities: &[&'a EntityId],
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<(&'a EntityId, &'a LogLine)> {
        let mut out: Vec<(&EntityId, &LogLine)> = Vec::new();
        for id in entities {
            let Some(logs) = self.entities.get(*id) else { continue };
            let within = |l: &&LogLine| l.at >= from && l.at <= to;
            out.extend(logs.pinned.iter().filter(within).map(|l| (*id, l)));
            out.extend(logs.recent.iter().filter(within).map(|l| (*id, l)));
        }
        out.sort_by(|a, b| (a.1.at, a.0).cmp(&(b.1.at, b.0)));
        out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        out
    }

    /// The templates of `entities` by lines counted in intervals ending within `from..=to`,
    /// most first (ties: higher level, then entity and template id), without those with none.
    pub fn top_templates<'a>(
        &'a self,
        entities: &[&'a EntityId],
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<TemplateSummary<'a>> {
        let mut out = Vec::new();
        for id in entities {
            let Some(logs) = self.entities.get(*id) else { continue };
            for (template_id, counts) in &logs.templates {
                let count = counts.between(from, to);
                if count == 0 {
                    continue;
                }
                let sample = logs
                    .pinned
                    .iter()
                    .chain(logs.recent.iter())
                    .filter(|l| l.template_id == *template_id)
                    .min_by_key(|l| (l.at < from || l.at > to, std::cmp::Reverse(l.level), l.at));
                out.push(TemplateSummary {
                    entity: id,
                    template_id,
                    template: &counts.template,
                    level: counts.level,
                    count,
                    sample,
                });
            }
        }
        out.sort_by(|a, b| {
            (std::cmp::Reverse(a.count), std::cmp::Reverse(a.level), a.entity, a.template_id).cmp(&(
                std::cmp::Reverse(b.count),
                std::cmp::Reverse(b.level),
                b.entity,
                b.template_id,
            ))
        });
        out
    }
}

/// One template's lines on one entity over a span, with a line of it to show.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSummary<'a> {
    pub entity: &'a EntityId,
    pub template_id: &'a str,
    pub template: &'a str,
    pub level: Severity,
    pub count: u64,
    /// A kept line of the template: one in the span if any, the most severe, the earliest.
    pub sample: Option<&'a LogLine>,
}

/// The full-screen log pane of one problem: where it is scrolled and what it searches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPane {
    pub problem: ProblemId,
    /// First line shown; `None` until placed at the onset on first draw or key.
    pub scroll: Option<usize>,
    /// The search text (case-insensitive); empty: no search.
    pub query: String,
    /// The `/` input line has the keyboard.
    pub editing: bool,
    /// The line of the current match, which `n`/`N` move from.
    pub current: Option<usize>,
}

impl LogPane {
    pub fn new(problem: ProblemId) -> LogPane {
        LogPane { problem, scroll: None, query: String::new(), editing: false, current: None }
    }

    /// Whether `text` matches the search (never when there is none).
    pub fn matches(&self, text: &str) -> bool {
        !self.query.is_empty() && contains_ignoring_case(text, &self.query)
    }
}

/// Case-insensitive substring search (ASCII case folding: log levels and words).
pub fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    find_ignoring_case(text, needle).is_some()
}

/// Byte offset of the first case-insensitive occurrence of `needle` in `text`.
pub fn find_ignoring_case(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let (t, n) = (text.as_bytes(), needle.as_bytes());
    (0..=t.len().checked_sub(n.len())?).find(|&i| text.is_char_boundary(i) && t[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The index in `matching` (sorted line indexes) that `n` (forward) or `N` goes to from
/// `current`, wrapping around.
pub fn step_match(matching: &[usize], current: Option<usize>, forward: bool) -> Option<usize> {
    let (first, last) = (*matching.first()?, *matching.last()?);
    Some(match (current, forward) {
        (None, true) => first,
        (None, false) => last,
        (Some(c), true) => matching.iter().copied().find(|&m| m > c).unwrap_or(first),
        (Some(c), false) => matching.iter().rev().copied().find(|&m| m < c).unwrap_or(last),
    })
}

/// Lines of context shown above the first line at or after onset when the pane opens.
const ONSET_CONTEXT: usize = 3;

/// The entities whose logs a problem's pane and LOGS block show: its signals' and its root-cause
/// candidates', in id order.
pub fn problem_entities(problem: &Problem) -> Vec<&EntityId> {
    let ids: BTreeSet<&EntityId> =
        problem.signals.values().map(|s| &s.entity).chain(problem.root_causes.iter().map(|c| &c.entity)).collect();
    ids.into_iter().collect()
}

/// The data time a problem's logs are shown from: [`PIN_BEFORE_MS`] before it opened.
pub fn span_start(problem: &Problem) -> Timestamp {
    problem.opened_at.plus_ms(-PIN_BEFORE_MS)
}

impl App {
    /// The lines of the pane's problem, from before its onset up to the replay cursor (none
    /// after it): what the log pane scrolls through.
    pub fn log_pane_lines(&self) -> Vec<(&EntityId, &LogLine)> {
        let Some(pane) = &self.log_pane else { return Vec::new() };
        let Some(problem) = self.problems().problems.get(&pane.problem) else { return Vec::new() };
        self.logs.lines(&problem_entities(problem), span_start(problem), self.problems().as_of)
    }

    /// Rows of lines the pane shows (the body less its header and footer lines).
    pub fn log_pane_rows(&self) -> usize {
        super::views::detail_rows(self.size.1).saturating_sub(2).max(1)
    }

    /// The first line the pane shows: where it was scrolled, else a few lines above the first
    /// line at or after the problem's onset.
    pub fn log_pane_top(&self, lines: &[(&EntityId, &LogLine)]) -> usize {
        let max = lines.len().saturating_sub(self.log_pane_rows());
        let Some(pane) = &self.log_pane else { return 0 };
        let top = pane.scroll.unwrap_or_else(|| {
            let onset = self.problems().problems.get(&pane.problem).map_or(Timestamp(i64::MIN), |p| p.opened_at);
            lines.partition_point(|(_, l)| l.at < onset).saturating_sub(ONSET_CONTEXT)
        });
        top.min(max)
    }

    /// Where keys are looked up: the log pane's own keys win while it shows with nothing over it.
    pub(crate) fn log_scope(&self) -> Option<Scope> {
        let over = self.help || self.proposal.is_some() || self.chooser.is_some() || self.palette.is_some();
        (self.log_pane.is_some() && !over).then_some(Scope::Logs)
    }

    /// `logs`: opens the pane on the target problem (the detail's, or the list's selection).
    pub(crate) fn open_logs(&mut self) {
        let Some(problem) = self.target_problem() else {
            self.notice = Some("no problem selected".to_string());
            return;
        };
        let id = problem.id;
        let entities = problem_entities(problem);
        if !entities.iter().any(|e| self.logs.knows(e)) {
            self.notice = Some(format!("no log lines of {id}'s entities (no log source sent any)"));
            return;
        }
        self.view = View::Detail(id);
        self.topo = None;
        self.log_pane = Some(LogPane::new(id));
    }

    /// A command while the log pane shows: true when it was the pane's (replay keys and the
    /// palette are not: the pane follows the cursor they move).
    pub(crate) fn log_command(&mut self, command: Command) -> bool {
        let lines = self.log_pane_lines();
        let total = lines.len();
        let top = self.log_pane_top(&lines);
        let rows = self.log_pane_rows();
        let matching: Vec<usize> = match &self.log_pane {
            Some(pane) => {
                lines.iter().enumerate().filter(|(_, (_, l))| pane.matches(&l.line)).map(|(i, _)| i).collect()
            }
            None => return false,
        };
        let max = total.saturating_sub(rows);
        let Some(pane) = self.log_pane.as_mut() else { return false };
        if let Some(to) = scrolled(command, top, rows, max) {
            pane.scroll = Some(to);
            return true;
        }
        match command {
            Command::Back | Command::Logs => self.log_pane = None,
            Command::Filter => {
                pane.editing = true;
                pane.query.clear();
                pane.current = None;
            }
            Command::NextMatch | Command::PreviousMatch => {
                let forward = command == Command::NextMatch;
                // From the current match, or from the screen's top when there is none yet.
                let from = pane.current.or_else(|| forward.then(|| top.saturating_sub(1)).or(Some(top)));
                match step_match(&matching, from, forward) {
                    Some(line) => {
                        pane.current = Some(line);
                        pane.scroll = Some(line.saturating_sub(rows / 2).min(max));
                    }
                    None if pane.query.is_empty() => self.notice = Some("no search: press / first".to_string()),
                    None => self.notice = Some(format!("no line matches `{}`", pane.query)),
                }
            }
            Command::Help => self.help = true,
            _ => return false,
        }
        true
    }

    /// A key while the pane's `/` line has the keyboard: text edits the search, Enter keeps it
    /// and jumps to the first match from the screen's top, Esc drops it. False for keys it
    /// leaves to the keymap.
    pub(crate) fn log_search_key(&mut self, event: &KeyEvent) -> bool {
        let Some(pane) = self.log_pane.as_mut().filter(|p| p.editing) else { return false };
        if let Some(c) = super::keymap::typed_char(event) {
            pane.query.push(c);
            return true;
        }
        match event.code {
            KeyCode::Backspace => {
                pane.query.pop();
            }
            KeyCode::Enter => {
                pane.editing = false;
                pane.current = None;
                if !pane.query.is_empty() {
                    self.log_command(Command::NextMatch);
                }
            }
            KeyCode::Esc => {
                pane.editing = false;
                pane.query.clear();
                pane.current = None;
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at: i64, text: &str, template_id: &str) -> LogLine {
        LogLine { at: Timestamp(at), level: Severity::Info, template_id: template_id.into(), line: text.into() }
    }

    fn attached(entity: &EntityId, first_seen: Timestamp) -> ProblemEvent {
        use crate::model::{ProblemId, Signal, SignalKey, SignalKind};
        let signal = Signal {
            key: SignalKey(format!("log:{entity}:t1")),
            kind: SignalKind::LogBurst,
            entity: entity.clone(),
            name: "onset".into(),
            severity: Severity::Major,
            first_seen,
            last_seen: first_seen,
            count: 10,
            active: true,
            score: 0.75,
            value: None,
            baseline: None,
            labels: Default::default(),
            mark: None,
        };
        ProblemEvent { seq: 1, problem: ProblemId(1), at: first_seen, kind: EventKind::SignalAttached { signal } }
    }

    fn lines_obs(entity: &str, lines: Vec<LogLine>) -> Observation {
        let at = lines.last().map_or(Timestamp(0), |l| l.at);
        Observation {
            at,
            source: "loki".into(),
            kind: ObservationKind::LogLines { entity: EntityId::new(entity), lines },
        }
    }

    #[test]
    fn search_is_case_insensitive_and_n_wraps() {
        assert_eq!(find_ignoring_case("ERROR timeout", "timeout"), Some(6));
        assert_eq!(find_ignoring_case("Timeout", "TIMEOUT"), Some(0));
        assert_eq!(find_ignoring_case("é timeout", "timeout"), Some(3));
        assert_eq!(find_ignoring_case("short", "longer needle"), None);
        let m = [2, 5, 9];
        assert_eq!(step_match(&m, None, true), Some(2));
        assert_eq!(step_match(&m, Some(5), true), Some(9));
        assert_eq!(step_match(&m, Some(9), true), Some(2));
        assert_eq!(step_match(&m, Some(2), false), Some(9));
        assert_eq!(step_match(&m, Some(6), false), Some(5));
        assert_eq!(step_match(&[], None, true), None);
    }

    #[test]
    fn recent_lines_are_bounded_and_pinned_windows_keep_the_onset() {
        let mut h = LogHistory::default();
        let e = EntityId::new("service:api");
        // The onset's lines arrive first, then far more chatter than the recent bound.
        h.observe(&[lines_obs("service:api", (0..10).map(|i| line(1_000 + i, "onset", "t1")).collect())]);
        let chatter: Vec<LogLine> =
            (0..(RECENT_LINES as i64 + 500)).map(|i| line(3_600_000 + i, "chatter", "t2")).collect();
        h.observe(&[lines_obs("service:api", chatter)]);
        // Without a pin the onset lines were pushed out...
        assert!(h.lines(&[&e], Timestamp(0), Timestamp(2_000)).is_empty());
        assert_eq!(h.lines(&[&e], Timestamp(0), Timestamp(i64::MAX)).len(), RECENT_LINES);

        // ...with a pin before they arrive, they stay.
        let mut h = LogHistory::default();
        h.pin(&[attached(&e, Timestamp(1_500))]);
        h.observe(&[lines_obs("service:api", (0..10).map(|i| line(1_000 + i, "onset", "t1")).collect())]);
        let chatter: Vec<LogLine> =
            (0..(RECENT_LINES as i64 + 500)).map(|i| line(3_600_000 + i, "chatter", "t2")).collect();
        h.observe(&[lines_obs("service:api", chatter)]);
        assert_eq!(h.lines(&[&e], Timestamp(0), Timestamp(2_000)).len(), 10);
    }
}
