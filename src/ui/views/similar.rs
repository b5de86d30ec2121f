//! The detail's SIMILAR block: the earlier problems most like this one (best first), each with
//! when it was, how long it lasted and what resolved it, and why it matched. Computed in
//! `update` from the session's history (`crate::history::live`); this only draws it. On a short
//! screen it shows the best one: it is the first block to give way.

use super::{wrap_words, App};
use crate::model::ProblemId;
use ratatui::text::{Line, Span};

/// Below this many terminal rows only the best match is shown.
const FULL_HEIGHT: u16 = 30;

/// The block's lines for `problem` at `width` cells; empty before the history has an answer.
pub fn lines(app: &App, problem: ProblemId, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let Some(block) = app.similar.as_ref().filter(|b| b.problem == problem) else { return Vec::new() };
    // "Nothing similar" is worth rows only on a tall terminal: at 80x24 the root cause, its
    // evidence and the foundational cause come first.
    if block.rows.is_empty() && app.size.1 < FULL_HEIGHT {
        return Vec::new();
    }
    let key = app.keymap.binding(crate::ui::Command::OpenSimilar).and_then(|b| b.keys.first()).map(|k| k.to_string());
    let note = match (&key, block.rows.is_empty()) {
        (_, true) => None,
        (Some(k), false) => Some(format!("  {k}: open in replay")),
        (None, false) => None,
    };
    let mut out = vec![Line::from(
        [Some(Span::styled("SIMILAR".to_string(), theme.ui.section)), note.map(|n| Span::styled(n, theme.ui.muted))]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    )];
    if block.rows.is_empty() {
        out.push(Line::styled("  nothing similar in the history so far", theme.ui.muted));
        return out;
    }
    let shown = if app.size.1 < FULL_HEIGHT { 1 } else { block.rows.len() };
    for row in block.rows.iter().take(shown) {
        let head = format!("{} {:.2} {}", row.id, row.score, row.headline);
        for (i, part) in wrap_words(&head, width.saturating_sub(2)).into_iter().enumerate() {
            out.push(Line::raw(format!("{}{part}", if i == 0 { "  " } else { "    " })));
        }
        for part in wrap_words(&row.outcome, width.saturating_sub(4)) {
            out.push(Line::raw(format!("    {part}")));
        }
        let why = format!("why: {}", row.matched.join("; "));
        for part in wrap_words(&why, width.saturating_sub(4)) {
            out.push(Line::styled(format!("    {part}"), theme.ui.muted));
        }
    }
    if shown < block.rows.len() {
        out.push(Line::styled(format!("  {} more on a taller screen", block.rows.len() - shown), theme.ui.muted));
    }
    out
}
