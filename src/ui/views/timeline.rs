//! The detail's timeline pane: the problem's events (repeats are only counted, not listed), the
//! replay cursor on one of them, marked `▶` and highlighted; events after the cursor dimmed.

use super::{fit, App};
use crate::model::{EventKind, ProblemEvent, ProblemId};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Where an entry stands against the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Past,
    /// The entry the cursor is on (the last one folded in).
    Cursor,
    /// After the cursor: not yet happened at the cursor's data time.
    Future,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Index of the event in the replay's events.
    pub position: usize,
    pub event: ProblemEvent,
    pub text: String,
    pub place: Place,
}

/// What a timeline line says about an event; a ranking change names the old and the new top.
fn text(kind: &EventKind, previous_top: Option<&str>) -> String {
    match kind {
        EventKind::RootCauseRanked { candidates } => match (previous_top, candidates.first()) {
            (None, Some(c)) => format!("ranked: {} ({:.2})", c.summary, c.score),
            (Some(old), Some(c)) if old == c.summary => {
                format!("ranking: {} now explains {}/{}", c.summary, c.explains, c.affected)
            }
            (Some(old), Some(c)) => format!("ranking: {old} → {} ({:.2})", c.summary, c.score),
            (_, None) => "ranking cleared".to_string(),
        },
        // Everything else, including kinds added later (runbook runs), by its own description.
        other => other.describe(),
    }
}

/// The problem's timeline entries and the index of the one the cursor is on, if any.
pub fn entries(app: &App, id: ProblemId) -> (Vec<Entry>, Option<usize>) {
    let events = app.replay.events();
    let position = app.replay.position();
    let mut out = Vec::new();
    let mut top: Option<String> = None;
    for &p in app.replay.positions_of(id) {
        let e = &events[p];
        if matches!(e.kind, EventKind::SignalRepeated { .. }) {
            continue;
        }
        let place = if p < position { Place::Past } else { Place::Future };
        out.push(Entry { position: p, event: e.clone(), text: text(&e.kind, top.as_deref()), place });
        if let EventKind::RootCauseRanked { candidates } = &e.kind {
            top = candidates.first().map(|c| c.summary.clone());
        }
    }
    let cursor = out.iter().rposition(|e| e.place == Place::Past);
    if let Some(i) = cursor {
        out[i].place = Place::Cursor;
    }
    (out, cursor)
}

/// Draws the pane (a header line, then the entries around the cursor) into `area`.
pub fn render(app: &App, id: ProblemId, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let (entries, cursor) = entries(app, id);
    let width = usize::from(area.width);
    let rows = usize::from(area.height).saturating_sub(1);
    let at = cursor.map_or_else(|| "before its first event".to_string(), |i| format!("{} of {}", i + 1, entries.len()));
    let keys = "[ ] event · { } ranking · L live";
    let mut lines = vec![Line::from(vec![
        Span::styled("TIMELINE", theme.ui.section),
        Span::styled(fit(&format!("  ▶ {at} · {keys}"), width.saturating_sub(8)), theme.ui.muted),
    ])];
    // The cursor's entry sits in the upper part so what comes next is in view too.
    let anchor = cursor.unwrap_or(0);
    let start = anchor.saturating_sub(rows.saturating_sub(1) / 2).min(entries.len().saturating_sub(rows));
    for e in entries.iter().skip(start).take(rows) {
        let (marker, style) = match e.place {
            Place::Cursor => ("▶ ", theme.ui.selection.add_modifier(Modifier::BOLD)),
            Place::Past => ("  ", Style::new()),
            Place::Future => ("· ", theme.ui.muted),
        };
        let text = format!("{marker}{}  {}", e.event.at.clock(), e.text);
        lines.push(Line::from(Span::styled(fit(&text, width), style)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
