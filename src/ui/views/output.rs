//! A runbook run's output: the pane in the detail (the run's state and its newest lines) while a
//! run goes or shortly after it ended, and the full-screen view that scrolls through all of it.
//! Lines are the live stream when this session received it, else the audit record's output (a
//! viewer attached to an agent's journal sees that once the run ends). Step notes are muted,
//! stderr is in the warning colour.

use super::plan::break_exact;
use super::{fit, text_width, timeline, App};
use crate::model::{Problem, ProblemId, RunRecord, Severity, StepStatus};
use crate::runbook::Stream;
use crate::ui::keymap::Command;
use crate::ui::runs::{self, Run};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// How long after its end (data time, milliseconds) a run keeps its pane in the detail.
pub const RECENT_MS: i64 = 15 * 60_000;

/// The run the detail's pane shows: the problem's latest, while it runs and for [`RECENT_MS`]
/// after it ended, as of the cursor.
pub fn pane_run(app: &App, id: ProblemId) -> Option<Run<'_>> {
    let run = runs::runs(&app.replay, id).pop()?;
    match run.record {
        None => Some(run),
        Some(r) => (app.problems().as_of.since(r.finished_at) <= RECENT_MS).then_some(run),
    }
}

/// The outcome as symbol and word (at the end of an escalation chain), with its style.
fn outcome_label(app: &App, record: &RunRecord) -> (String, Style) {
    let outcome = record.final_outcome();
    let mut text = format!("{} {}", timeline::outcome_symbol(outcome), outcome.as_str());
    if record.escalation.is_some() {
        let last = std::iter::successors(Some(record), |r| r.escalation.as_deref()).last().unwrap_or(record);
        text = format!("↪ escalated to {}: {text}", last.runbook);
    }
    (text, timeline::outcome_style(outcome, &app.theme))
}

/// The run's state in words: `⟳ running since 03:21:00 by alice@b1` or `✓ mitigated at 03:25:00
/// in 12s, by alice@b1`.
pub fn state(app: &App, run: &Run) -> Vec<Span<'static>> {
    let by = if run.auto { format!("by {} (auto-remediation)", run.by) } else { format!("by {}", run.by) };
    match run.record {
        None => vec![Span::styled(
            format!("⟳ running since {} {by}", run.started_at.clock()),
            app.theme.severity(Severity::Warning).add_modifier(Modifier::BOLD),
        )],
        Some(record) => {
            let (text, style) = outcome_label(app, record);
            let secs = record.finished_at.since(record.started_at).max(0) / 1000;
            vec![
                Span::styled(text, style.add_modifier(Modifier::BOLD)),
                Span::raw(format!(" at {} in {secs}s, {by}", record.finished_at.clock())),
            ]
        }
    }
}

/// The run's output lines, oldest first, and how many earlier ones were dropped: the live
/// stream when this session has it, else the record's (each step's note, then its output).
fn output(app: &App, id: ProblemId, run: &Run) -> (Vec<(Stream, String)>, u64) {
    if let Some(live) = app.outputs.get(id, run.runbook).filter(|o| !o.lines.is_empty()) {
        return (live.lines.iter().map(|l| (l.stream, l.text.clone())).collect(), live.dropped);
    }
    let mut out = Vec::new();
    let mut at = run.record;
    while let Some(record) = at {
        for step in &record.steps {
            let status = step.status.as_str();
            let detail = if step.detail.is_empty() { String::new() } else { format!(": {}", step.detail) };
            out.push((
                Stream::Note,
                format!("{} step {} {} {status}{detail}", record.runbook, step.index + 1, step.kind),
            ));
            out.extend(step.output.lines().map(|l| (Stream::Stdout, l.to_string())));
            if step.truncated {
                out.push((Stream::Note, "(output past the record's cap was not kept)".to_string()));
            }
            if step.status == StepStatus::Escalated {
                out.push((Stream::Note, "escalated:".to_string()));
            }
        }
        at = record.escalation.as_deref();
    }
    (out, 0)
}

fn styled(app: &App, stream: Stream, text: String) -> Span<'static> {
    match stream {
        Stream::Note => Span::styled(text, app.theme.ui.muted),
        Stream::Stderr => Span::styled(text, app.theme.severity(Severity::Warning)),
        Stream::Stdout => Span::raw(text),
    }
}

/// A marker before each line, so the streams read apart without colour too.
fn lead(stream: Stream) -> &'static str {
    match stream {
        Stream::Note => "· ",
        Stream::Stderr => "! ",
        Stream::Stdout => "  ",
    }
}

/// The first keys of commands, as bound.
fn key(app: &App, command: Command) -> String {
    app.keymap.binding(command).and_then(|b| b.keys.first()).map_or_else(String::new, |k| k.to_string())
}

/// Rows of the detail's pane for a detail area of `height` rows.
pub fn pane_rows(height: u16) -> u16 {
    match height {
        0..16 => 0,
        16..30 => 4,
        _ => (height / 4).min(10),
    }
}

/// Draws the detail's pane for `run` of problem `problem` into `area`.
pub fn render_pane(app: &App, problem: &Problem, run: &Run, frame: &mut Frame, area: Rect) {
    let width = usize::from(area.width);
    let mut header = vec![Span::styled(format!("RUN {} ", run.runbook), app.theme.ui.section)];
    header.extend(state(app, run));
    let mut hint = format!(" · {} output", key(app, Command::Output));
    if run.is_running() {
        hint.push_str(&format!(" · {} cancel", key(app, Command::CancelRun)));
    }
    header.push(Span::styled(hint, app.theme.ui.muted));
    let mut lines = vec![Line::from(super::status::cut(header, width))];
    let (output, _) = output(app, problem.id, run);
    let rows = usize::from(area.height).saturating_sub(1);
    if output.is_empty() {
        let text = if run.is_running() {
            "  no output received here yet (it streams to the console that started the run)"
        } else {
            "  no output"
        };
        lines.push(Line::styled(fit(text, width), app.theme.ui.muted));
    }
    for (stream, text) in output.into_iter().rev().take(rows).rev() {
        let text = fit(&format!("{}{text}", lead(stream)), width);
        lines.push(Line::from(styled(app, stream, text)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The full-screen output of problem `id`'s latest run at `width` cells: a header with the
/// run's state, then every line kept, broken (never cut) to the width.
pub fn lines(app: &App, id: ProblemId, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width).max(20);
    let Some(run) = runs::runs(&app.replay, id).pop() else {
        return vec![Line::styled(format!("  no runbook has run on {id} (as of the cursor)"), app.theme.ui.muted)];
    };
    let mut header = vec![Span::styled(format!("RUN {} on {id} ", run.runbook), app.theme.ui.section)];
    header.extend(state(app, &run));
    let mut out = vec![Line::from(header)];
    let (output, dropped) = output(app, id, &run);
    if dropped > 0 {
        out.push(Line::styled(format!("  ({dropped} earlier lines dropped: the newest are kept)"), app.theme.ui.muted));
    }
    if output.is_empty() {
        out.push(Line::styled("  no output yet", app.theme.ui.muted));
    }
    for (stream, text) in output {
        let lead = lead(stream);
        for (i, chunk) in break_exact(&text, width - text_width(lead), width - 4).into_iter().enumerate() {
            let lead = if i == 0 { lead.to_string() } else { "    ".to_string() };
            out.push(Line::from(vec![Span::raw(lead), styled(app, stream, chunk)]));
        }
    }
    out
}

/// The first line the full-screen view shows: where the user scrolled, or the end (following).
pub fn first_line(app: &App, total: usize, rows: usize) -> usize {
    let max = total.saturating_sub(rows);
    app.output_scroll.unwrap_or(max).min(max)
}

/// Draws the full-screen output of problem `id` into `area`.
pub fn render(app: &App, id: ProblemId, frame: &mut Frame, area: Rect) {
    let lines = lines(app, id, area.width);
    let rows = usize::from(area.height);
    let top = first_line(app, lines.len(), rows);
    let shown: Vec<Line> = lines.into_iter().skip(top).take(rows).collect();
    frame.render_widget(Paragraph::new(shown), area);
}
