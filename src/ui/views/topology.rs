//! The detail's topology section: the problem's entities and the relations among them as the
//! topology stood at the replay cursor's data time, each entity marked by whether it had an active
//! signal in the problem at that moment.

use super::{pack, App};
use crate::model::{EntityId, Problem, Timestamp};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use std::collections::BTreeSet;

/// Entities listed before the rest are summed up in one line.
const MAX_ENTITIES: usize = 12;
/// Relations listed before the rest are summed up in one line.
const MAX_RELATIONS: usize = 12;

/// The section's lines at `width` cells, as of data time `at`; empty when the UI has no
/// topology facts (no observations received) or none as old as `at`.
pub fn lines(app: &App, problem: &Problem, at: Timestamp, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    if app.topology.is_empty() {
        return Vec::new();
    }
    let Some(topology) = app.topology_at(at) else { return Vec::new() };
    let active: BTreeSet<&EntityId> = problem.signals.values().filter(|s| s.active).map(|s| &s.entity).collect();
    let mut entities: BTreeSet<&EntityId> = problem.impact.affected.iter().collect();
    entities.extend(problem.signals.values().map(|s| &s.entity));
    let relations: Vec<_> =
        topology.relations().into_iter().filter(|r| entities.contains(&r.from) && entities.contains(&r.to)).collect();
    let mut out = vec![Line::from(vec![
        Span::styled("TOPOLOGY", theme.ui.section),
        Span::styled(
            format!("  as of {} · {} entities, {} relations", at.clock(), entities.len(), relations.len()),
            theme.ui.muted,
        ),
    ])];
    // Active first, so the ones in trouble at the cursor lead.
    let mut ordered: Vec<&EntityId> = entities.iter().copied().collect();
    ordered.sort_by_key(|e| (!active.contains(e), *e));
    for e in ordered.iter().take(MAX_ENTITIES) {
        let known = topology.entity(e).is_some();
        let (marker, state, style) = if active.contains(e) {
            ("●", "active signal", Style::new().add_modifier(Modifier::BOLD))
        } else {
            ("○", "no active signal", theme.ui.muted)
        };
        let mut spans = vec![
            Span::raw(format!("  {marker} ")),
            Span::styled(e.to_string(), theme.ui.entity),
            Span::styled(format!(" ({})", topology.kind_of(e).as_str()), theme.ui.muted),
            Span::styled(format!("  {state}"), style),
        ];
        if !known {
            spans.push(Span::styled("  (not in the topology yet)", theme.ui.muted));
        }
        out.push(Line::from(spans));
    }
    if ordered.len() > MAX_ENTITIES {
        out.push(Line::styled(format!("  … {} more entities", ordered.len() - MAX_ENTITIES), theme.ui.muted));
    }
    for r in relations.iter().take(MAX_RELATIONS) {
        let pieces = vec![
            vec![Span::styled(r.from.to_string(), theme.ui.entity)],
            vec![
                Span::styled(format!("─{}→ ", r.kind.verb()), theme.ui.muted),
                Span::styled(r.to.to_string(), theme.ui.entity),
            ],
        ];
        out.extend(pack(vec![Span::raw("    ")], pieces, " ", 6, width));
    }
    if relations.len() > MAX_RELATIONS {
        out.push(Line::styled(format!("    … {} more relations", relations.len() - MAX_RELATIONS), theme.ui.muted));
    }
    out
}
