//! The detail's timeline pane: the problem's events (repeats are only counted, not listed), the
//! replay cursor on one of them, marked `▶` and highlighted; events after the cursor dimmed.

use super::{fit, App};
use crate::model::{EventKind, Outcome, ProblemId, ProblemStatus, Severity, Timestamp};
use crate::ui::theme::Theme;
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
    /// Data time of the event.
    pub at: Timestamp,
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
        // A run: who started it, and how it ended, with a symbol so it reads without colour.
        EventKind::RunbookStarted { .. } => format!("⚙ {}", kind.describe()),
        EventKind::RunbookFinished { record } => {
            format!("{} {}", outcome_symbol(record.final_outcome()), kind.describe())
        }
        // Everything else, including kinds added later, by its own description.
        other => other.describe(),
    }
}

/// How a run ended, as a symbol: `✓` it worked, `✗` it did not, `⊘` cancelled, `↪` escalated.
pub fn outcome_symbol(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded | Outcome::Mitigated => "✓",
        Outcome::Failed | Outcome::NotMitigated => "✗",
        Outcome::Cancelled => "⊘",
        Outcome::Escalated => "↪",
    }
}

/// The colour of how a run ended: what worked as a resolution, what failed as critical.
pub fn outcome_style(outcome: Outcome, theme: &Theme) -> Style {
    match outcome {
        Outcome::Succeeded | Outcome::Mitigated => theme.status(&ProblemStatus::Resolved),
        Outcome::Failed | Outcome::NotMitigated => theme.severity(Severity::Critical),
        Outcome::Cancelled | Outcome::Escalated => Style::new(),
    }
}

/// A past entry's style: a run's end in its outcome's colour, anything else plain.
fn run_style(kind: &EventKind, theme: &Theme) -> Style {
    match kind {
        EventKind::RunbookFinished { record } => outcome_style(record.final_outcome(), theme),
        _ => Style::new(),
    }
}

/// The problem's timeline entries and the index of the one the cursor is on, if any.
pub fn entries(app: &App, id: ProblemId) -> (Vec<Entry>, Option<usize>) {
    let (shown, cursor) = listed(app, id);
    (texts(app, &shown, cursor, 0..shown.len()), cursor)
}

/// Positions of the problem's listed events (all but repeats) and the index of the cursor's:
/// the last of them folded in.
fn listed(app: &App, id: ProblemId) -> (Vec<usize>, Option<usize>) {
    let events = app.replay.events();
    let shown: Vec<usize> = app
        .replay
        .positions_of(id)
        .iter()
        .copied()
        .filter(|&p| !matches!(events[p].kind, EventKind::SignalRepeated { .. }))
        .collect();
    let folded = shown.partition_point(|&p| p < app.replay.position());
    (shown, folded.checked_sub(1))
}

/// The entries `range` of `shown`, their texts written only for those (a ranking change
/// looks back for the top it replaced).
fn texts(app: &App, shown: &[usize], cursor: Option<usize>, range: std::ops::Range<usize>) -> Vec<Entry> {
    let events = app.replay.events();
    let top_of = |p: usize| match &events[p].kind {
        EventKind::RootCauseRanked { candidates } => Some(candidates.first().map(|c| c.summary.as_str())),
        _ => None,
    };
    // The top of the last ranking before the range (`None` also when that ranking was empty).
    let mut top: Option<&str> = shown[..range.start].iter().rev().find_map(|&p| top_of(p)).flatten();
    let mut out = Vec::with_capacity(range.len());
    for i in range {
        let p = shown[i];
        let place = match cursor {
            Some(c) if i == c => Place::Cursor,
            Some(c) if i < c => Place::Past,
            _ => Place::Future,
        };
        out.push(Entry { position: p, at: events[p].at, text: text(&events[p].kind, top), place });
        if let Some(new_top) = top_of(p) {
            top = new_top;
        }
    }
    out
}

/// Draws the pane (a header line, then the entries around the cursor) into `area`.
pub fn render(app: &App, id: ProblemId, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let (shown, cursor) = listed(app, id);
    let width = usize::from(area.width);
    let rows = usize::from(area.height).saturating_sub(1);
    let at = cursor.map_or_else(|| "before its first event".to_string(), |i| format!("{} of {}", i + 1, shown.len()));
    let keys = "[ ] event · { } ranking · L live";
    let mut lines = vec![Line::from(vec![
        Span::styled("TIMELINE", theme.ui.section),
        Span::styled(fit(&format!("  ▶ {at} · {keys}"), width.saturating_sub(8)), theme.ui.muted),
    ])];
    // The cursor's entry sits in the upper part so what comes next is in view too.
    let anchor = cursor.unwrap_or(0);
    let start = anchor.saturating_sub(rows.saturating_sub(1) / 2).min(shown.len().saturating_sub(rows));
    let end = (start + rows).min(shown.len());
    let events = app.replay.events();
    for e in texts(app, &shown, cursor, start..end) {
        let (marker, style) = match e.place {
            Place::Cursor => ("▶ ", theme.ui.selection.add_modifier(Modifier::BOLD)),
            Place::Past => ("  ", run_style(&events[e.position].kind, theme)),
            Place::Future => ("· ", theme.ui.muted),
        };
        let text = format!("{marker}{}  {}", e.at.clock(), e.text);
        lines.push(Line::from(Span::styled(fit(&text, width), style)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
