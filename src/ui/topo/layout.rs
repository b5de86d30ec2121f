//! The topology diagram's layout: which entities it shows, where each one sits, and the lines
//! between them, drawn once onto a character grid that every frame only copies a window of.
//!
//! Layered as Sugiyama does, but on two axes, since the two relations mean two directions: rows
//! by the vertical stack (longest path over *runs on* from the kind's own level: hosts at the
//! bottom, what runs on them above), order in a row by *calls* (caller left of callee), then
//! barycenter sweeps to pull each node over or under what it is related to, then columns placed
//! left to right. Deterministic: every step sorts by entity id before it decides.

use super::canvas::{Canvas, Cell, Tag};
use crate::engine::topology::{kind_from_id, Topology};
use crate::model::{EntityId, EntityKind, RelationKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A node's health as of the replay cursor, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Health {
    /// No open problem touches it.
    #[default]
    Healthy,
    /// In an open problem's impact, with no active signal of its own.
    Affected,
    /// An active signal of its own in an open problem.
    Failing,
}

impl Health {
    /// The symbol drawn with the colour, so health reads without colour.
    pub fn symbol(self) -> char {
        match self {
            Health::Healthy => '✓',
            Health::Affected => '▲',
            Health::Failing => '●',
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Affected => "affected",
            Health::Failing => "failing",
        }
    }
}

/// What the problems say about one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub health: Health,
    /// The top-ranked root cause of a problem shown.
    pub root: bool,
}

/// Siblings collapsed into one node: same kind, tied to the same entity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    pub kind: EntityKind,
    pub anchor: Option<EntityId>,
}

/// What a node of the diagram stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKey {
    Entity(EntityId),
    /// `n` more siblings than are shown.
    Group(GroupKey),
}

/// A placed node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub key: NodeKey,
    pub kind: EntityKind,
    pub mark: Mark,
    /// The text in its box: the entity id, or `12 more pods`.
    pub label: String,
    /// For a group: the entities it stands for, by id.
    pub members: Vec<EntityId>,
    /// Row of the layer, 0 at the top.
    pub row: usize,
    /// Column within the grid of boxes.
    pub col: usize,
    /// Top-left corner of its box on the canvas, in cells.
    pub x: usize,
    pub y: usize,
}

/// What to lay out.
pub struct Scene<'a> {
    pub topology: &'a Topology,
    /// The entities the diagram is about; `None` for the whole estate.
    pub focus: Option<&'a [EntityId]>,
    /// Hops around the focus, over both relations in both directions.
    pub hops: u32,
    pub marks: &'a BTreeMap<EntityId, Mark>,
    /// Groups the user opened: their members are all shown.
    pub expanded: &'a BTreeSet<GroupKey>,
}

/// The laid-out diagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    /// Sorted by `(row, col)`.
    pub nodes: Vec<Node>,
    /// Relations between nodes: `(from, kind, to)` as indexes into `nodes`, sorted.
    pub edges: Vec<(usize, RelationKind, usize)>,
    /// Entities in the neighbourhood (before siblings were collapsed).
    pub entities: usize,
    /// Canvas size in cells.
    pub width: usize,
    pub height: usize,
    /// `width * height` cells, row by row.
    pub cells: Vec<Cell>,
    /// Width of every box, in cells.
    pub box_width: usize,
}

/// Rows of one layer: a channel for calls above the boxes, the 3-row boxes, a channel for
/// runs-on lines below them.
pub const LAYER_ROWS: usize = 5;
/// Cells between two columns of boxes (calls arrows and vertical lines run there).
const GAP: usize = 4;
/// Siblings shown before the rest are collapsed into one `N more` node.
const SHOWN_SIBLINGS: usize = 3;
/// A group collapses only when it has more members than this.
const COLLAPSE_ABOVE: usize = 5;
const MIN_BOX: usize = 16;
const MAX_BOX: usize = 26;

impl Diagram {
    /// The cell at `(x, y)`, if on the canvas.
    pub fn cell(&self, x: usize, y: usize) -> Option<Cell> {
        (x < self.width && y < self.height).then(|| self.cells[y * self.width + x])
    }

    /// The index of the node with this key.
    pub fn find(&self, key: &NodeKey) -> Option<usize> {
        self.nodes.iter().position(|n| &n.key == key)
    }

    /// The node a group member or an entity is drawn as.
    pub fn find_entity(&self, id: &EntityId) -> Option<usize> {
        self.find(&NodeKey::Entity(id.clone())).or_else(|| self.nodes.iter().position(|n| n.members.contains(id)))
    }

    /// Rows of boxes (layers).
    pub fn rows(&self) -> usize {
        self.nodes.iter().map(|n| n.row + 1).max().unwrap_or(0)
    }
}

/// The level of a kind in the vertical stack, 0 at the bottom.
fn kind_level(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Host | EntityKind::CloudResource => 0,
        EntityKind::Process | EntityKind::Container | EntityKind::Pod => 1,
        EntityKind::Service | EntityKind::Database | EntityKind::Queue | EntityKind::External => 2,
        EntityKind::Application => 3,
    }
}

fn plural(kind: EntityKind) -> String {
    match kind {
        EntityKind::Process => "processes".to_string(),
        EntityKind::CloudResource => "cloud resources".to_string(),
        EntityKind::Queue => "queues".to_string(),
        k => format!("{}s", k.as_str()),
    }
}

/// The entities of the scene: the focus and everything within `hops` of it.
fn neighbourhood(scene: &Scene) -> BTreeSet<EntityId> {
    let topo = scene.topology;
    let Some(focus) = scene.focus else {
        return topo.entities().map(|e| e.id.clone()).collect();
    };
    let mut seen: BTreeSet<EntityId> = focus.iter().cloned().collect();
    let mut queue: VecDeque<(EntityId, u32)> = focus.iter().map(|id| (id.clone(), 0)).collect();
    while let Some((id, d)) = queue.pop_front() {
        if d >= scene.hops {
            continue;
        }
        let Some(n) = topo.node(&id) else { continue };
        for (_, m) in topo.dependencies(n).into_iter().chain(topo.dependents(n)) {
            let next = topo.id_of(m);
            if seen.insert(next.clone()) {
                queue.push_back((next.clone(), d + 1));
            }
        }
    }
    seen
}

/// Lays out the scene.
pub fn layout(scene: &Scene) -> Diagram {
    let topo = scene.topology;
    let ids = neighbourhood(scene);
    let kind_of = |id: &EntityId| topo.entity(id).map_or_else(|| kind_from_id(id.as_str()), |e| e.kind);
    let mark_of = |id: &EntityId| scene.marks.get(id).copied().unwrap_or_default();
    // Relations among the entities shown, by id.
    let mut relations: Vec<(EntityId, RelationKind, EntityId)> = Vec::new();
    for id in &ids {
        let Some(n) = topo.node(id) else { continue };
        for (kind, m) in topo.dependencies(n) {
            let to = topo.id_of(m);
            if ids.contains(to) {
                relations.push((id.clone(), kind, to.clone()));
            }
        }
    }

    // Siblings: same kind, tied to the same entity (what runs on them, else what they run on).
    let mut anchor: BTreeMap<&EntityId, &EntityId> = BTreeMap::new();
    for (from, kind, to) in &relations {
        if *kind == RelationKind::RunsOn {
            anchor.entry(to).and_modify(|a| *a = (*a).min(from)).or_insert(from);
        }
    }
    for (from, kind, to) in &relations {
        if *kind == RelationKind::RunsOn && !anchor.contains_key(from) {
            anchor.insert(from, to);
        }
    }
    let mut groups: BTreeMap<GroupKey, Vec<&EntityId>> = BTreeMap::new();
    for id in &ids {
        let key = GroupKey { kind: kind_of(id), anchor: anchor.get(id).map(|a| (*a).clone()) };
        groups.entry(key).or_default().push(id);
    }
    let focus: BTreeSet<&EntityId> = scene.focus.map(|f| f.iter().collect()).unwrap_or_default();
    let mut node_of: BTreeMap<&EntityId, usize> = BTreeMap::new();
    let mut nodes: Vec<Node> = Vec::new();
    let new_node = |key: NodeKey, kind, mark, label: String, members| Node {
        key,
        kind,
        mark,
        label,
        members,
        row: 0,
        col: 0,
        x: 0,
        y: 0,
    };
    for (key, members) in &groups {
        let collapse = members.len() > COLLAPSE_ABOVE && !scene.expanded.contains(key);
        let mut hidden: Vec<&EntityId> = Vec::new();
        let mut shown = 0;
        for id in members {
            let mark = mark_of(id);
            let keep = !collapse || mark != Mark::default() || focus.contains(id) || shown < SHOWN_SIBLINGS;
            if keep {
                shown += 1;
                node_of.insert(id, nodes.len());
                nodes.push(new_node(NodeKey::Entity((*id).clone()), key.kind, mark, id.to_string(), Vec::new()));
            } else {
                hidden.push(id);
            }
        }
        if hidden.len() == 1 {
            let id = hidden[0];
            node_of.insert(id, nodes.len());
            nodes.push(new_node(NodeKey::Entity(id.clone()), key.kind, mark_of(id), id.to_string(), Vec::new()));
        } else if !hidden.is_empty() {
            let label = format!("{} more {}", hidden.len(), plural(key.kind));
            for id in &hidden {
                node_of.insert(id, nodes.len());
            }
            let members = hidden.iter().map(|id| (*id).clone()).collect();
            nodes.push(new_node(NodeKey::Group(key.clone()), key.kind, Mark::default(), label, members));
        }
    }
    let mut edges: BTreeSet<(usize, RelationKind, usize)> = BTreeSet::new();
    for (from, kind, to) in &relations {
        let (a, b) = (node_of[from], node_of[to]);
        if a != b {
            edges.insert((a, *kind, b));
        }
    }

    let rows = rank(&nodes, &edges);
    let order = order_rows(&nodes, &edges, &rows);
    let cols = place(&order, &edges, nodes.len());
    let mut index_of = vec![0usize; nodes.len()];
    let mut placed: Vec<Node> = Vec::with_capacity(nodes.len());
    for (r, row) in order.iter().enumerate() {
        for &n in row {
            index_of[n] = placed.len();
            let mut node = nodes[n].clone();
            node.row = r;
            node.col = cols[n];
            placed.push(node);
        }
    }
    // Rows in order and columns rising within a row: `placed` is sorted by (row, col) already.
    let mut edges: Vec<(usize, RelationKind, usize)> =
        edges.iter().map(|&(a, k, b)| (index_of[a], k, index_of[b])).collect();
    edges.sort();
    draw(placed, edges, ids.len())
}

/// The row of every node, 0 at the top: the kind's level raised by longest path over *runs on*
/// (what runs on something sits above it), empty levels dropped.
fn rank(nodes: &[Node], edges: &BTreeSet<(usize, RelationKind, usize)>) -> Vec<usize> {
    let base: Vec<usize> = nodes.iter().map(|n| kind_level(n.kind)).collect();
    // What runs on something sits at least one level above it.
    let up: Vec<(usize, usize)> =
        edges.iter().filter(|e| e.1 == RelationKind::RunsOn).map(|&(a, _, b)| (b, a)).collect();
    let level = longest_path(base, &up);
    let used: BTreeSet<usize> = level.iter().copied().collect();
    let top_down: Vec<usize> = used.into_iter().rev().collect();
    level.iter().map(|l| top_down.iter().position(|u| u == l).unwrap_or(0)).collect()
}

/// Longest paths from `base` over `edges` (`(a, b)`: `b` at least one more than `a`), in
/// O(nodes + edges): Kahn's order, and where a cycle stops it, the lowest index left is taken
/// next as if nothing led to it (so a cycle costs one edge of its length, never a loop).
fn longest_path(mut value: Vec<usize>, edges: &[(usize, usize)]) -> Vec<usize> {
    let n = value.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges {
        out[a].push(b);
        indegree[b] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut done = vec![false; n];
    let mut left = n;
    while left > 0 {
        let next = match ready.pop_first() {
            Some(i) => i,
            None => match (0..n).find(|i| !done[*i]) {
                Some(i) => i,
                None => break,
            },
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        left -= 1;
        for &m in &out[next] {
            if done[m] {
                continue;
            }
            value[m] = value[m].max(value[next] + 1);
            indegree[m] -= 1;
            if indegree[m] == 0 {
                ready.insert(m);
            }
        }
    }
    value
}

/// The nodes of each row in their left-to-right order.
fn order_rows(nodes: &[Node], edges: &BTreeSet<(usize, RelationKind, usize)>, rows: &[usize]) -> Vec<Vec<usize>> {
    let count = rows.iter().map(|r| r + 1).max().unwrap_or(0);
    // Calls depth within a row: a callee right of its caller.
    let calls: Vec<(usize, usize)> = edges
        .iter()
        .filter(|&&(a, kind, b)| kind == RelationKind::Calls && rows[a] == rows[b])
        .map(|&(a, _, b)| (a, b))
        .collect();
    let depth = longest_path(vec![0; nodes.len()], &calls);
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (n, r) in rows.iter().enumerate() {
        order[*r].push(n);
    }
    for row in &mut order {
        row.sort_by(|a, b| (depth[*a], &nodes[*a].key).cmp(&(depth[*b], &nodes[*b].key)));
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for &(a, _, b) in edges {
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    // Barycenter sweeps: down, up, down.
    let sweeps: Vec<(usize, bool)> = (1..count)
        .map(|r| (r, true))
        .chain((0..count.saturating_sub(1)).rev().map(|r| (r, false)))
        .chain((1..count).map(|r| (r, true)))
        .collect();
    let mut pos = vec![0f64; nodes.len()];
    let set_pos = |order: &Vec<Vec<usize>>, pos: &mut Vec<f64>| {
        for row in order {
            let len = row.len().max(1) as f64;
            for (i, n) in row.iter().enumerate() {
                pos[*n] = (i as f64 + 0.5) / len;
            }
        }
    };
    set_pos(&order, &mut pos);
    for (r, down) in sweeps {
        let other = if down { r - 1 } else { r + 1 };
        let mut keyed: Vec<(usize, f64, f64, usize)> = order[r]
            .iter()
            .map(|&n| {
                let near: Vec<f64> = neighbours[n].iter().filter(|m| rows[**m] == other).map(|m| pos[*m]).collect();
                let bary = if near.is_empty() { pos[n] } else { near.iter().sum::<f64>() / near.len() as f64 };
                (depth[n], bary, pos[n], n)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2)));
        order[r] = keyed.into_iter().map(|k| k.3).collect();
        let len = order[r].len().max(1) as f64;
        for (i, n) in order[r].iter().enumerate() {
            pos[*n] = (i as f64 + 0.5) / len;
        }
    }
    order
}

/// Columns: each row left to right, a node at the mean column of its neighbours in the row above
/// (so what runs on something sits over it) but never on or left of the node before it.
fn place(order: &[Vec<usize>], edges: &BTreeSet<(usize, RelationKind, usize)>, len: usize) -> Vec<usize> {
    let mut row_of = vec![0usize; len];
    for (r, row) in order.iter().enumerate() {
        for n in row {
            row_of[*n] = r;
        }
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); len];
    for &(a, _, b) in edges {
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    let mut col = vec![0usize; len];
    // Down: under the row above; then up: over the row below (so a service sits over its pods).
    let passes =
        (0..order.len()).map(|r| (r, true)).chain((0..order.len().saturating_sub(1)).rev().map(|r| (r, false)));
    for (r, down) in passes {
        let mut next = 0usize;
        for &n in &order[r] {
            let near: Vec<usize> = neighbours[n]
                .iter()
                .filter(|m| if down { row_of[**m] + 1 == r } else { row_of[**m] == r + 1 })
                .map(|m| col[*m])
                .collect();
            let want = if near.is_empty() { col[n] } else { near.iter().sum::<usize>() / near.len() };
            col[n] = want.max(next);
            next = col[n] + 1;
        }
    }
    col
}

/// Draws boxes and lines onto the canvas.
fn draw(mut nodes: Vec<Node>, edges: Vec<(usize, RelationKind, usize)>, entities: usize) -> Diagram {
    let label_w = nodes.iter().map(|n| n.label.chars().count()).max().unwrap_or(0);
    // Border, symbol, space, label, space, border.
    let w = (label_w + 5).clamp(MIN_BOX, MAX_BOX);
    let cols = nodes.iter().map(|n| n.col + 1).max().unwrap_or(0);
    let rows = nodes.iter().map(|n| n.row + 1).max().unwrap_or(0);
    let width = GAP + cols * (w + GAP);
    let height = rows * LAYER_ROWS;
    for n in &mut nodes {
        n.x = GAP + n.col * (w + GAP);
        n.y = n.row * LAYER_ROWS + 1;
    }
    let mut canvas = Canvas::new(width, height);
    // Lines first, so boxes drawn after them turn the meeting points into junctions.
    for &(a, kind, b) in &edges {
        let (u, v) = (&nodes[a], &nodes[b]);
        let right_gap = u.x + w + GAP / 2;
        match kind {
            RelationKind::Calls => {
                let mid = u.y + 1;
                if u.row == v.row && v.col == u.col + 1 {
                    // Next to each other: a straight arrow between the boxes.
                    canvas.path(&[(u.x + w - 1, mid), (v.x - 1, mid)], Tag::Edge);
                    canvas.text(v.x - 1, mid, "▶", Tag::Edge);
                } else {
                    // Out of the caller's top right, along the channel above the callee's row,
                    // down into its top left: a call never reads as one between neighbours.
                    let (out_x, in_x) = (u.x + w - 3, v.x + 2);
                    let channel = v.y - 1;
                    let mut points = vec![(out_x, u.y), (out_x, u.y - 1)];
                    if u.row != v.row {
                        points.extend([(right_gap, u.y - 1), (right_gap, channel)]);
                    }
                    points.push((in_x, channel));
                    canvas.path(&points, Tag::Edge);
                    canvas.text(in_x, channel, "▼", Tag::Edge);
                }
            }
            RelationKind::RunsOn => {
                let (cu, cv) = (u.x + w / 2, v.x + w / 2);
                let below = u.y + 3;
                if v.row == u.row + 1 {
                    canvas.path(&[(cu, u.y + 2), (cu, below), (cv, below), (cv, v.y)], Tag::Edge);
                } else {
                    let channel = v.y - 1;
                    canvas.path(
                        &[
                            (cu, u.y + 2),
                            (cu, below),
                            (right_gap, below),
                            (right_gap, channel),
                            (cv, channel),
                            (cv, v.y),
                        ],
                        Tag::Edge,
                    );
                }
            }
        }
    }
    for n in &nodes {
        let tag = match (&n.key, n.mark.root) {
            (NodeKey::Group(_), _) => Tag::Group,
            (_, true) => Tag::Root,
            _ => Tag::Node(n.mark.health),
        };
        canvas.rect(n.x, n.y, w, 3, tag, n.mark.root);
        if n.mark.root {
            canvas.text(n.x + 2, n.y, "◆ root cause", tag);
        }
        let symbol = match n.key {
            NodeKey::Group(_) => '+',
            NodeKey::Entity(_) => n.mark.health.symbol(),
        };
        let label = crate::ui::views::fit(&n.label, w - 5);
        canvas.text(n.x + 2, n.y + 1, &format!("{symbol} {label}"), tag);
    }
    Diagram { nodes, edges, entities, width, height, cells: canvas.finish(), box_width: w }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::topology::TopologyHistory;
    use crate::model::Timestamp;

    fn estate(services: usize, pods: usize, hosts: usize) -> Topology {
        let obs = crate::ui::topo::sample::estate(services, pods, hosts, Timestamp(0));
        TopologyHistory::from_observations(&obs, 100_000).as_of(Timestamp(0)).unwrap()
    }

    #[test]
    fn calls_run_left_to_right_and_the_stack_bottom_up() {
        let topology = estate(12, 3, 2);
        let d = layout(&Scene {
            topology: &topology,
            focus: None,
            hops: 0,
            marks: &BTreeMap::new(),
            expanded: &BTreeSet::new(),
        });
        let top: Vec<&str> = d.nodes.iter().filter(|n| n.row == 0).map(|n| n.label.as_str()).collect();
        let mut sorted: Vec<&str> = top[..12].to_vec();
        sorted.sort();
        assert_eq!(top[..12], sorted, "services in call order, then the database they end at");
        assert_eq!(top.last(), Some(&"database:main"));
        let row = |label: &str| d.nodes.iter().find(|n| n.label == label).map(|n| n.row);
        assert!(row("service:svc-00") < row("pod:svc-00-00"));
        assert!(row("pod:svc-00-00") < row("host:node-00"));
    }
}
