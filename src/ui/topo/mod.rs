//! The topology view's state and keys: a layered diagram of a problem's entities and the hops
//! around them (or of the whole estate), as of the replay cursor. The layout is computed in
//! [`crate::ui::update`] only when what it shows changes: the topology's facts, the hops, a
//! group opened, or the health, root-cause marks or focus the problems give its entities (a
//! batch of events that leaves them as they were lays nothing out again). Every frame copies a
//! window of it (see `views::topology_view`).

pub mod canvas;
pub mod layout;
pub mod sample;

use super::app::App;
use super::keymap::{Command, Scope};
use crate::model::{EntityId, ProblemId, ProblemSet};
use layout::{Diagram, GroupKey, Health, Mark, NodeKey, Scene, LAYER_ROWS};
use std::collections::{BTreeMap, BTreeSet};

/// Hops shown when the view opens.
pub const DEFAULT_HOPS: u32 = 1;
/// The widest neighbourhood `+` reaches.
pub const MAX_HOPS: u32 = 8;

/// What the diagram is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A problem's entities (its signals', its impact's and its root cause's) and their hops.
    Problem(ProblemId),
    /// Every entity the topology knows.
    Estate,
}

/// One signal on an entity, for the node's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSignal {
    pub problem: ProblemId,
    pub name: String,
    pub kind: &'static str,
    pub count: u64,
    pub active: bool,
}

/// What the layout was computed from, with the marks and focus kept beside it; a new one means
/// a new layout.
#[derive(Debug, Clone, PartialEq)]
struct LayoutKey {
    /// Topology facts applied in the topology shown (`None`: no topology).
    applied: Option<u64>,
    hops: u32,
}

/// The topology view on screen.
#[derive(Debug, Clone)]
pub struct TopoView {
    pub subject: Subject,
    pub hops: u32,
    /// The selected node, kept by key so it stays put when the layout is recomputed.
    pub selected: Option<NodeKey>,
    /// Top-left cell of the canvas shown, `(x, y)`.
    pub scroll: (usize, usize),
    /// The selected node's signals and relations show below the diagram.
    pub panel: bool,
    /// Collapsed sibling groups the user opened.
    pub expanded: BTreeSet<GroupKey>,
    pub diagram: Diagram,
    /// Signals of the entities in the diagram, as of the cursor.
    pub signals: BTreeMap<EntityId, Vec<NodeSignal>>,
    /// The subject's entities (empty for the estate): what the hops are counted from.
    pub focus: Vec<EntityId>,
    /// Health and root-cause marks the layout was drawn with.
    marks: BTreeMap<EntityId, Mark>,
    /// The replay's position and length the marks were taken at.
    problems_key: Option<(usize, usize)>,
    key: Option<LayoutKey>,
    /// Layouts computed since the view opened (for tests of the cache).
    pub layouts: u64,
}

impl TopoView {
    fn new(subject: Subject) -> TopoView {
        TopoView {
            subject,
            hops: DEFAULT_HOPS,
            selected: None,
            scroll: (0, 0),
            panel: false,
            expanded: BTreeSet::new(),
            diagram: layout::layout(&Scene {
                topology: &Default::default(),
                focus: Some(&[]),
                hops: 0,
                marks: &BTreeMap::new(),
                expanded: &BTreeSet::new(),
            }),
            signals: BTreeMap::new(),
            focus: Vec::new(),
            marks: BTreeMap::new(),
            problems_key: None,
            key: None,
            layouts: 0,
        }
    }

    /// The selected node's index in the diagram.
    pub fn selected_index(&self) -> Option<usize> {
        self.selected.as_ref().and_then(|k| self.diagram.find(k))
    }
}

/// Rows the body has at a terminal height (between title and status lines).
fn body_rows(height: u16) -> usize {
    usize::from(height.saturating_sub(2))
}

/// Rows of the node panel at a terminal height, when it shows.
pub fn panel_rows(height: u16) -> usize {
    (body_rows(height) / 3).clamp(4, 10)
}

/// Rows of canvas on screen: the body less the header line and the panel.
pub fn canvas_rows(topo: &TopoView, height: u16) -> usize {
    let panel = if topo.panel { panel_rows(height) } else { 0 };
    body_rows(height).saturating_sub(1 + panel)
}

/// What the problems as of the cursor say about the entities of a subject.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// Health and root cause, by entity.
    pub marks: BTreeMap<EntityId, Mark>,
    /// Signals, by entity.
    pub signals: BTreeMap<EntityId, Vec<NodeSignal>>,
    /// The subject's entities (empty for the estate).
    pub focus: Vec<EntityId>,
}

/// The marks (health, root cause), signals and focus of a subject from the problems as of the
/// cursor. Health counts every open problem, so trouble elsewhere in the picture shows too.
pub fn marks(set: &ProblemSet, subject: Subject) -> Marks {
    let mut marks: BTreeMap<EntityId, Mark> = BTreeMap::new();
    let mut signals: BTreeMap<EntityId, Vec<NodeSignal>> = BTreeMap::new();
    let mut worsen = |id: &EntityId, health: Health| {
        let m = marks.entry(id.clone()).or_default();
        m.health = m.health.max(health);
    };
    for p in set.visible() {
        let shown = subject == Subject::Problem(p.id);
        for s in p.signals.values() {
            if p.is_open() || shown {
                signals.entry(s.entity.clone()).or_default().push(NodeSignal {
                    problem: p.id,
                    name: s.name.clone(),
                    kind: s.kind.as_str(),
                    count: s.count,
                    active: s.active && p.is_open(),
                });
            }
            if p.is_open() && s.active {
                worsen(&s.entity, Health::Failing);
            }
        }
        if p.is_open() {
            for id in &p.impact.affected {
                worsen(id, Health::Affected);
            }
        }
    }
    let mut focus: BTreeSet<EntityId> = BTreeSet::new();
    for p in set.visible() {
        let top = p.root_causes.first().map(|c| &c.entity);
        match subject {
            Subject::Problem(id) if id == p.id => {
                focus.extend(p.impact.affected.iter().cloned());
                focus.extend(p.signals.values().map(|s| s.entity.clone()));
                focus.extend(top.cloned());
            }
            Subject::Estate if p.is_open() => {}
            _ => continue,
        }
        if let Some(root) = top {
            marks.entry(root.clone()).or_default().root = true;
        }
    }
    Marks { marks, signals, focus: focus.into_iter().collect() }
}

impl App {
    /// Opens the topology of the problem actions act on (the one in the detail, or the one
    /// selected in the list); a notice when there is none.
    pub fn open_topology(&mut self) {
        match self.target_problem().map(|p| p.id) {
            Some(id) => self.open_topology_of(id),
            None => self.notice = Some("no problem selected".to_string()),
        }
    }

    /// Opens the topology of problem `id` (`:topology` in the palette).
    pub fn open_topology_of(&mut self, id: ProblemId) {
        self.open_topology_subject(Subject::Problem(id));
    }

    /// Opens the whole estate's topology (`:topology all`).
    pub fn open_topology_all(&mut self) {
        self.open_topology_subject(Subject::Estate);
    }

    fn open_topology_subject(&mut self, subject: Subject) {
        self.help = false;
        self.topo = Some(TopoView::new(subject));
        self.refresh_topology();
        self.refresh_topology_view();
    }

    /// Where keys are looked up: the topology view's own keys win while it shows with nothing
    /// over it.
    pub(crate) fn key_scope(&self) -> Scope {
        if self.topo.is_some() && !self.help && self.proposal.is_none() && self.chooser.is_none() {
            Scope::Topology
        } else {
            Scope::Global
        }
    }

    /// A command while the topology view shows: true when it was the view's (replay keys are
    /// not: the diagram follows the cursor they move).
    pub(crate) fn topology_command(&mut self, command: Command) -> bool {
        let Some(topo) = self.topo.as_mut() else { return false };
        let count = topo.diagram.nodes.len();
        let at = topo.selected_index();
        let page = (canvas_rows(topo, self.size.1) / LAYER_ROWS).max(1);
        let select = |topo: &mut TopoView, index: Option<usize>| {
            if let Some(i) = index {
                topo.selected = Some(topo.diagram.nodes[i].key.clone());
            }
        };
        match command {
            Command::NodeLeft | Command::NodeRight => {
                let right = command == Command::NodeRight;
                let to = at.and_then(|i| {
                    let j = if right { i.checked_add(1) } else { i.checked_sub(1) }?;
                    topo.diagram.nodes.get(j).filter(|n| n.row == topo.diagram.nodes[i].row).map(|_| j)
                });
                select(topo, to);
            }
            Command::Up | Command::Down | Command::PageUp | Command::PageDown => {
                let up = matches!(command, Command::Up | Command::PageUp);
                let steps = if matches!(command, Command::PageUp | Command::PageDown) { page } else { 1 };
                let mut to = at;
                for _ in 0..steps {
                    to = to.and_then(|i| vertical(&topo.diagram, i, up)).or(to);
                }
                select(topo, to);
            }
            Command::Top => select(topo, (count > 0).then_some(0)),
            Command::Bottom => select(topo, count.checked_sub(1)),
            Command::Open => {
                if let Some(node) = at.map(|i| &topo.diagram.nodes[i]) {
                    if let NodeKey::Group(key) = &node.key {
                        let first = node.members.first().cloned();
                        topo.expanded.insert(key.clone());
                        topo.selected = first.map(NodeKey::Entity);
                        topo.key = None;
                    } else {
                        topo.panel = !topo.panel;
                    }
                }
            }
            Command::Back if topo.panel => topo.panel = false,
            Command::Back => self.topo = None,
            Command::WidenHops | Command::NarrowHops => {
                if topo.subject == Subject::Estate {
                    self.notice = Some("the whole estate shows: hops do not apply".to_string());
                } else {
                    topo.hops = if command == Command::WidenHops {
                        (topo.hops + 1).min(MAX_HOPS)
                    } else {
                        topo.hops.saturating_sub(1)
                    };
                }
            }
            Command::Help => {
                self.help = true;
                self.help_scroll = 0;
            }
            Command::Topology => {}
            Command::Silence | Command::Runbooks | Command::Output | Command::CancelRun => {
                self.notice = Some("topology view: Esc back to the problem to act on it".to_string());
            }
            _ => return false,
        }
        true
    }

    /// Recomputes the layout when what it was computed from moved, keeps the selection on a
    /// node and the selected node on screen. Called by `update` after every action.
    pub(crate) fn refresh_topology_view(&mut self) {
        let Some(topo) = self.topo.as_mut() else { return };
        let set = self.replay.set();
        let problems_key = (self.replay.position(), self.replay.len());
        if topo.problems_key != Some(problems_key) {
            let Marks { marks, signals, focus } = marks(set, topo.subject);
            if marks != topo.marks || focus != topo.focus {
                topo.marks = marks;
                topo.focus = focus;
                topo.key = None;
            }
            topo.signals = signals;
            topo.problems_key = Some(problems_key);
        }
        let key = LayoutKey { applied: self.topology_now.as_ref().map(|now| now.applied), hops: topo.hops };
        if topo.key.as_ref() != Some(&key) {
            let empty = crate::engine::topology::Topology::new();
            let topology = self.topology_now.as_ref().map_or(&empty, |now| &now.topology);
            let focus = match topo.subject {
                Subject::Problem(_) => Some(topo.focus.as_slice()),
                Subject::Estate => None,
            };
            topo.diagram = layout::layout(&Scene {
                topology,
                focus,
                hops: topo.hops,
                marks: &topo.marks,
                expanded: &topo.expanded,
            });
            topo.key = Some(key);
            topo.layouts += 1;
        }
        let fresh = topo.selected_index().is_none();
        if fresh {
            // First the root cause, then anything failing, then the first node.
            let d = &topo.diagram;
            let pick = d
                .nodes
                .iter()
                .position(|n| n.mark.root)
                .or_else(|| d.nodes.iter().position(|n| n.mark.health == Health::Failing))
                .or_else(|| (!d.nodes.is_empty()).then_some(0));
            topo.selected = pick.map(|i| d.nodes[i].key.clone());
        }
        let (vw, vh) = (usize::from(self.size.0), canvas_rows(topo, self.size.1));
        let d = &topo.diagram;
        let (mut sx, mut sy) = topo.scroll;
        if let Some(n) = topo.selected_index().map(|i| &d.nodes[i]) {
            let (left, right) = (n.x.saturating_sub(2), n.x + d.box_width + 2);
            let (top, bottom) = (n.y.saturating_sub(1), n.y + 4);
            // A node picked for the user (on opening, or after its node vanished) that is off
            // screen: of the windows that show it, the one that shows the most of the trouble
            // (failing and affected nodes), nearest to centring it. A node the user moves to
            // scrolls the least that shows it.
            let trouble = || d.nodes.iter().filter(|m| m.mark.health != Health::Healthy);
            if left < sx || right > sx + vw {
                sx = if fresh {
                    let spans: Vec<_> = trouble().map(|m| (m.x.saturating_sub(2), m.x + d.box_width + 2)).collect();
                    best_window((left, right), vw, &spans)
                } else if left < sx {
                    left
                } else {
                    right.saturating_sub(vw)
                };
            }
            if top < sy || bottom > sy + vh {
                sy = if fresh {
                    let spans: Vec<_> = trouble().map(|m| (m.y.saturating_sub(1), m.y + 4)).collect();
                    best_window((top, bottom), vh, &spans)
                } else if top < sy {
                    top
                } else {
                    bottom.saturating_sub(vh)
                };
            }
        }
        topo.scroll = (sx.min(d.width.saturating_sub(vw)), sy.min(d.height.saturating_sub(vh)));
    }
}

/// The start of a window of `view` cells on one axis that shows `must` (start, end) whole and as
/// many of `spans` whole as it can, the nearest to centring `must` among those; `must` alone when
/// it is wider than the view. Candidates are the windows that start or end at a span's edge, so
/// the cost is the square of the spans given (the troubled nodes, a few).
fn best_window(must: (usize, usize), view: usize, spans: &[(usize, usize)]) -> usize {
    let (lo, hi) = (must.1.saturating_sub(view), must.0);
    if lo >= hi {
        return must.0;
    }
    let centred = ((must.0 + must.1) / 2).saturating_sub(view / 2).clamp(lo, hi);
    let shown = |start: usize| spans.iter().filter(|&&(a, b)| a >= start && b <= start + view).count();
    let candidates = spans.iter().flat_map(|&(a, b)| [a, b.saturating_sub(view)]).map(|c| c.clamp(lo, hi));
    std::iter::once(centred)
        .chain(candidates)
        .max_by_key(|&c| (shown(c), std::cmp::Reverse(c.abs_diff(centred)), std::cmp::Reverse(c)))
        .unwrap_or(centred)
}

/// The index of the node whose box is drawn under screen cell `(column, row)`: the canvas
/// starts below the title line and the view's header line, scrolled by `topo.scroll`.
pub fn node_at(topo: &TopoView, height: u16, column: u16, row: u16) -> Option<usize> {
    const CANVAS_TOP: u16 = 2;
    if row < CANVAS_TOP || usize::from(row - CANVAS_TOP) >= canvas_rows(topo, height) {
        return None;
    }
    let (x, y) = (topo.scroll.0 + usize::from(column), topo.scroll.1 + usize::from(row - CANVAS_TOP));
    let d = &topo.diagram;
    d.nodes.iter().position(|n| (n.x..n.x + d.box_width).contains(&x) && (n.y..n.y + 3).contains(&y))
}

/// The node in the row above (`up`) or below node `i` nearest to it across.
fn vertical(d: &Diagram, i: usize, up: bool) -> Option<usize> {
    let node = &d.nodes[i];
    let row = if up { node.row.checked_sub(1)? } else { node.row + 1 };
    d.nodes.iter().enumerate().filter(|(_, n)| n.row == row).min_by_key(|(_, n)| n.x.abs_diff(node.x)).map(|(j, _)| j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picked_node_off_screen_opens_with_the_most_trouble_in_view() {
        // Must show 100..120 in a 50-cell view: windows 70..100 all do.
        assert_eq!(best_window((100, 120), 50, &[]), 85, "nothing else to show: centred");
        // Trouble at 60..75 cannot show beside it (a window starting at 60 misses 120).
        assert_eq!(best_window((100, 120), 50, &[(60, 75)]), 85, "cannot show both: centred");
        // Trouble at 75..90 shows in windows starting 70..75: the nearest the centre, 75.
        assert_eq!(best_window((100, 120), 50, &[(75, 90)]), 75);
        // One each side (75..90 from 70..75, 130..140 from 90..100): a tie, the nearer centre.
        assert_eq!(best_window((100, 120), 50, &[(75, 90), (130, 140)]), 90);
        // Two troubled spans on the right beat one on the left.
        assert_eq!(best_window((100, 120), 50, &[(72, 80), (125, 130), (140, 150)]), 100);
        // A node wider than the view: its start.
        assert_eq!(best_window((100, 200), 50, &[(0, 10)]), 100);
    }
    use crate::model::{EventKind, Impact, ProblemEvent, Severity, Timestamp};
    use crate::ui::{render, update, Action, Feed, UiOptions};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    const T0: Timestamp = Timestamp(1_793_588_400_000);

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn event(seq: u64, kind: EventKind) -> Feed {
        Feed::Events(vec![ProblemEvent { seq, problem: ProblemId(1), at: T0.plus_ms(60_000), kind }])
    }

    fn screen(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
        terminal.draw(|frame| render(app, frame)).unwrap();
        let buffer = terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        buffer.content().chunks(width).map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n").collect()
    }

    #[test]
    fn topology_all_from_the_palette_shows_the_estate_before_any_problem() {
        let mut app = App::new(UiOptions { title: "live: prod".to_string(), ..UiOptions::default() });
        update(&mut app, Feed::Observations(sample::estate(3, 2, 2, T0)).into());
        assert!(app.problems().problems.is_empty());
        update(&mut app, key(KeyCode::Char(':')));
        for c in crate::ui::palette::TOPOLOGY_ALL.chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        let best = app.palette.as_ref().and_then(|p| p.results.first()).map(|e| e.target.clone());
        assert_eq!(best, Some(crate::ui::palette::Target::EstateTopology));
        update(&mut app, key(KeyCode::Enter));
        let topo = app.topo.as_ref().expect("the topology view opened");
        assert_eq!(topo.subject, Subject::Estate);
        // 3 services with 2 pods each, 2 hosts, the database and its host.
        assert_eq!(topo.diagram.entities, 3 * 3 + 2 + 2);
        let text = screen(&app);
        assert!(text.contains("estate topology") && text.contains("service:svc-00"), "{text}");
        assert!(!text.contains("no topology known"), "{text}");
    }

    #[test]
    fn the_layout_is_redone_only_when_what_it_shows_changes() {
        let mut app = App::new(UiOptions::default());
        update(&mut app, Feed::Observations(sample::estate(3, 2, 2, T0)).into());
        update(&mut app, event(1, EventKind::Opened { title: "t".to_string(), severity: Severity::Major }).into());
        app.open_topology_all();
        let layouts = |app: &App| app.topo.as_ref().map_or(0, |t| t.layouts);
        assert_eq!(layouts(&app), 1);
        // Events that change no mark, frames, keys that only move the selection: no layout.
        update(&mut app, event(2, EventKind::Acknowledged { by: "alice".to_string() }).into());
        update(&mut app, Action::Command(Command::NodeRight));
        update(&mut app, Action::Clock { unix_ms: T0.0 + 120_000 });
        screen(&app);
        assert_eq!(layouts(&app), 1);
        // A mark changes (an entity is affected): laid out again, with the mark drawn.
        let impact = Impact { affected: vec![EntityId::new("service:svc-01")], ..Impact::default() };
        update(&mut app, event(3, EventKind::ImpactUpdated { impact }).into());
        assert_eq!(layouts(&app), 2);
        let topo = app.topo.as_ref().unwrap();
        let node = topo.diagram.find_entity(&EntityId::new("service:svc-01")).map(|i| &topo.diagram.nodes[i]);
        assert_eq!(node.map(|n| n.mark.health), Some(Health::Affected));
        // Observations without topology facts: nothing; a new entity: laid out again.
        update(&mut app, Feed::Observations(Vec::new()).into());
        assert_eq!(layouts(&app), 2);
        update(&mut app, Feed::Observations(sample::estate(4, 2, 2, T0.plus_ms(90_000))).into());
        assert_eq!(layouts(&app), 3);
        assert_eq!(app.topo.as_ref().unwrap().diagram.entities, 4 * 3 + 2 + 2);
    }

    #[test]
    fn a_click_selects_a_node_and_a_second_click_opens_its_panel() {
        let mut app = App::new(UiOptions::default());
        update(&mut app, Action::Resize { width: 120, height: 30 });
        update(&mut app, Feed::Observations(sample::estate(3, 2, 2, T0)).into());
        app.open_topology_all();
        let topo = app.topo.as_ref().unwrap();
        let (sx, sy) = topo.scroll;
        let target = topo
            .diagram
            .nodes
            .iter()
            .position(|n| {
                n.row == 0
                    && Some(&n.key) != topo.selected.as_ref()
                    && n.y + 1 >= sy
                    && n.x >= sx
                    && n.x + 20 < sx + 120
            })
            .expect("another node on screen");
        let n = &topo.diagram.nodes[target];
        let (column, row) = ((n.x - sx + 3) as u16, (n.y + 1 - sy + 2) as u16);
        let key = n.key.clone();
        assert_eq!(node_at(topo, 30, column, row), Some(target));
        assert_eq!(node_at(topo, 30, column, 1), None, "the header line is no node");
        update(&mut app, Action::Click { column, row });
        let topo = app.topo.as_ref().unwrap();
        assert_eq!(topo.selected.as_ref(), Some(&key));
        assert!(!topo.panel);
        update(&mut app, Action::Click { column, row });
        assert!(app.topo.as_ref().unwrap().panel, "a click on the selected node opens its panel");
        // The wheel moves the selection a row of boxes.
        let row_of = |app: &App| app.topo.as_ref().and_then(|t| t.selected_index().map(|i| t.diagram.nodes[i].row));
        let before = row_of(&app);
        update(&mut app, Action::Wheel { column, row, down: true });
        assert_eq!(row_of(&app), before.map(|r| r + 1));
    }
}
