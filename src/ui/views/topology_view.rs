//! The topology view: a header line (what, hops, legend), a window of the laid-out diagram, and,
//! after Enter, the selected node's signals and relations. Drawing copies the window cell by cell
//! from the cached canvas, so a frame costs the screen's size, not the topology's.

use super::{fit, pack, App};
use crate::model::EntityId;
use crate::ui::keymap::Command;
use crate::ui::topo::canvas::Tag;
use crate::ui::topo::layout::{Health, NodeKey};
use crate::ui::topo::{canvas_rows, panel_rows, Subject, TopoView};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

/// The title line's text: what the diagram is of and the rows on screen (the cursor's time is
/// in the status line).
pub fn title(app: &App, topo: &TopoView) -> String {
    let what = match topo.subject {
        Subject::Problem(id) => format!("{id} topology"),
        Subject::Estate => "estate topology".to_string(),
    };
    let rows = canvas_rows(topo, app.size.1);
    let total = topo.diagram.height;
    let top = topo.scroll.1.min(total);
    format!("{what} · rows {}-{} of {total}", (top + 1).min(total), (top + rows).min(total))
}

fn first_key(app: &App, command: Command) -> String {
    app.keymap.binding(command).and_then(|b| b.keys.first()).map_or_else(|| "?".to_string(), |k| k.to_string())
}

fn tag_style(app: &App, tag: Tag) -> Style {
    let t = &app.theme;
    match tag {
        Tag::Blank => Style::default(),
        Tag::Edge | Tag::Group => t.ui.muted,
        Tag::Node(Health::Healthy) => t.health.ok,
        Tag::Node(Health::Affected) => t.health.stale,
        Tag::Node(Health::Failing) => t.health.down,
        Tag::Root => t.severity.critical,
    }
}

/// Draws the view into `area` (the body between the title and status lines).
pub fn render(app: &App, topo: &TopoView, frame: &mut Frame, area: Rect) {
    let panel = if topo.panel { panel_rows(app.size.1) as u16 } else { 0 };
    let [header, body, bottom] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(panel)]).areas(area);
    frame.render_widget(Paragraph::new(header_line(app, topo, usize::from(header.width))), header);
    let d = &topo.diagram;
    if d.nodes.is_empty() {
        let why = match topo.subject {
            Subject::Problem(id) => format!("  {id} names no entity as of the cursor"),
            Subject::Estate => "  no topology known as of the cursor".to_string(),
        };
        frame.render_widget(Paragraph::new(Line::styled(why, app.theme.ui.muted)), body);
        return;
    }
    let styles: [Style; 6] = [
        tag_style(app, Tag::Blank),
        tag_style(app, Tag::Edge),
        tag_style(app, Tag::Node(Health::Healthy)),
        tag_style(app, Tag::Node(Health::Affected)),
        tag_style(app, Tag::Node(Health::Failing)),
        tag_style(app, Tag::Root),
    ];
    let style_of = |tag: Tag| match tag {
        Tag::Blank => styles[0],
        Tag::Edge | Tag::Group => styles[1],
        Tag::Node(Health::Healthy) => styles[2],
        Tag::Node(Health::Affected) => styles[3],
        Tag::Node(Health::Failing) => styles[4],
        Tag::Root => styles[5],
    };
    let (sx, sy) = topo.scroll;
    let selected = topo.selected_index().map(|i| &d.nodes[i]);
    let buf = frame.buffer_mut();
    for row in 0..body.height {
        for col in 0..body.width {
            let (x, y) = (sx + usize::from(col), sy + usize::from(row));
            let Some(cell) = d.cell(x, y) else { continue };
            let mut style = style_of(cell.tag);
            // The selected node's text row, inside its borders.
            if selected.is_some_and(|n| y == n.y + 1 && x > n.x && x + 1 < n.x + d.box_width) {
                style = style.patch(app.theme.ui.selection);
            }
            let mut utf8 = [0u8; 4];
            buf[(body.x + col, body.y + row)].set_symbol(cell.ch.encode_utf8(&mut utf8)).set_style(style);
        }
    }
    // More of the diagram to the left or right: an arrow at that edge of the first row.
    if body.width > 2 && body.height > 0 {
        let style = app.theme.ui.section;
        if sx > 0 {
            buf[(body.x, body.y)].set_symbol("◀").set_style(style);
        }
        if sx + usize::from(body.width) < d.width {
            buf[(body.x + body.width - 1, body.y)].set_symbol("▶").set_style(style);
        }
    }
    if panel > 0 {
        if let Some(n) = selected {
            let block = Block::new().borders(Borders::TOP).border_style(app.theme.ui.help_border);
            let inner = block.inner(bottom);
            frame.render_widget(block, bottom);
            frame.render_widget(Paragraph::new(panel_lines(app, topo, n, usize::from(inner.width))), inner);
        }
    }
}

fn header_line(app: &App, topo: &TopoView, width: usize) -> Line<'static> {
    let muted = app.theme.ui.muted;
    let d = &topo.diagram;
    let what = match topo.subject {
        Subject::Problem(_) => {
            let hops = if topo.hops == 1 { "1 hop".to_string() } else { format!("{} hops", topo.hops) };
            format!(
                " {hops} ({}/{}) · {} entities ",
                first_key(app, Command::WidenHops),
                first_key(app, Command::NarrowHops),
                d.entities
            )
        }
        Subject::Estate => format!(" whole estate · {} entities ", d.entities),
    };
    let mut spans = vec![Span::styled(fit(&what, width), app.theme.ui.section)];
    let legend = [
        (Health::Failing.symbol().to_string(), "failing", tag_style(app, Tag::Node(Health::Failing))),
        (Health::Affected.symbol().to_string(), "affected", tag_style(app, Tag::Node(Health::Affected))),
        (Health::Healthy.symbol().to_string(), "healthy", tag_style(app, Tag::Node(Health::Healthy))),
        ("◆".to_string(), "root cause", tag_style(app, Tag::Root)),
    ];
    let mut used = super::text_width(&what);
    for (symbol, word, style) in legend {
        let w = 3 + word.len();
        if used + w > width {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {symbol}"), style));
        spans.push(Span::styled(format!(" {word}"), muted));
    }
    Line::from(spans)
}

/// The panel's lines for node `n`: what it is, its health, its signals and relations.
fn panel_lines(app: &App, topo: &TopoView, n: &crate::ui::topo::layout::Node, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let muted = theme.ui.muted;
    let mut out = Vec::new();
    let id = match &n.key {
        NodeKey::Group(_) => {
            out.push(Line::from(vec![
                Span::styled(format!(" + {}", n.label), muted),
                Span::styled(format!("  {} expands them", first_key(app, Command::Open)), muted),
            ]));
            let pieces = n.members.iter().map(|m| vec![Span::styled(m.to_string(), theme.ui.entity)]).collect();
            out.extend(pack(vec![Span::raw("   ")], pieces, ", ", 3, width));
            return out;
        }
        NodeKey::Entity(id) => id,
    };
    let tag = if n.mark.root { Tag::Root } else { Tag::Node(n.mark.health) };
    let mut head = vec![
        Span::styled(format!(" {} {}", n.mark.health.symbol(), n.mark.health.word()), tag_style(app, tag)),
        Span::raw("  "),
        Span::styled(id.to_string(), theme.ui.entity),
        Span::styled(format!(" ({})", n.kind.as_str()), muted),
    ];
    if n.mark.root {
        head.push(Span::styled("  ◆ root cause", tag_style(app, Tag::Root)));
    }
    out.push(Line::from(head));
    match topo.signals.get(id) {
        Some(signals) if !signals.is_empty() => {
            for s in signals {
                let (mark, state) = if s.active { ("●", "active") } else { ("○", "cleared") };
                out.push(Line::from(vec![
                    Span::raw(format!("   {mark} ")),
                    Span::raw(s.name.clone()),
                    Span::styled(format!(" ({}) ×{} · {state} · {}", s.kind, s.count, s.problem), muted),
                ]));
            }
        }
        _ => out.push(Line::styled("   no signals as of the cursor", muted)),
    }
    out.extend(relation_lines(app, id, width));
    out
}

/// `runs on: … · runs here: … · calls: … · called by: …` from the topology as of the cursor.
fn relation_lines(app: &App, id: &EntityId, width: usize) -> Vec<Line<'static>> {
    let Some(now) = &app.topology_now else { return Vec::new() };
    let topo = &now.topology;
    let Some(node) = topo.node(id) else { return Vec::new() };
    use crate::model::RelationKind::{Calls, RunsOn};
    let names = |list: Vec<(crate::model::RelationKind, petgraph::stable_graph::NodeIndex)>, kind| {
        list.into_iter().filter(|(k, _)| *k == kind).map(|(_, m)| topo.id_of(m).to_string()).collect::<Vec<_>>()
    };
    let groups = [
        ("runs on", names(topo.dependencies(node), RunsOn)),
        ("runs here", names(topo.dependents(node), RunsOn)),
        ("calls", names(topo.dependencies(node), Calls)),
        ("called by", names(topo.dependents(node), Calls)),
    ];
    let pieces: Vec<Vec<Span<'static>>> = groups
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(what, ids)| {
            vec![
                Span::styled(format!("{what}: "), app.theme.ui.muted),
                Span::styled(ids.join(", "), app.theme.ui.entity),
            ]
        })
        .collect();
    if pieces.is_empty() {
        return Vec::new();
    }
    pack(vec![Span::raw("   ")], pieces, " · ", 3, width)
}
