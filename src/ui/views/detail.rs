//! One problem in full, as of the replay cursor: the runbooks that match it, root cause with its
//! evidence chain, foundational cause, impact and signals, built as lines wrapped to the screen's
//! width so scrolling is by whole lines; below them a runbook run's output (while one goes), the
//! metric context (when there are samples to draw) and the timeline pane with the cursor, which
//! stay in place while the lines scroll.

use super::{
    chart, fit, output, pack, pad, runbooks, severity_label, silenced_label, similar, status_label, text_width,
    thousands, timeline, topology, wrap_words, App,
};
use crate::model::{
    Candidate, EntityId, Hop, KpiImpact, Problem, ProblemStatus, Severity, Signal, Timestamp, TrafficImpact,
};
use crate::report::{number, percent};
use crate::ui::keymap::Command;
use crate::ui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Candidates listed before the rest are summed up in one line.
const MAX_CANDIDATES: usize = 5;
/// Below this width the signals table leaves out the first-seen column.
const FIRST_SEEN_MIN_WIDTH: usize = 72;

/// The first line to show for a scroll offset, so the last screen is full rather than mostly empty.
pub(crate) fn first_line(scroll: usize, total: usize, rows: usize) -> usize {
    scroll.min(total.saturating_sub(rows))
}

/// Rows of the timeline pane for a detail area of `height` rows (a header and the entries).
fn timeline_rows(height: u16) -> u16 {
    match height {
        0..10 => 0,
        10..30 => 5,
        _ => (height / 4).min(12),
    }
}

/// Where the detail's parts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panes {
    /// The scrolling lines.
    pub body: Rect,
    /// A runbook run's output, while one goes on the problem or shortly after it ended.
    pub run: Option<Rect>,
    /// The metric context, if there is one to draw.
    pub chart: Option<Rect>,
    pub timeline: Option<Rect>,
}

/// The detail's panes in `area`.
pub fn panes(app: &App, area: Rect) -> Panes {
    // Live at 80x24 the first screen is for the root cause, its evidence and the foundational
    // cause; the chart joins them on a taller terminal, and whenever the replay cursor is off live.
    let room = area.height >= 30 || !app.replay.is_live();
    let problem = app.detail_problem();
    let chart_rows = match problem {
        Some(p) if room && chart::data(app, p, app.problems().as_of).is_some() => chart::rows(area.height),
        _ => 0,
    };
    let run_rows = match problem {
        Some(p) if output::pane_run(app, p.id).is_some() => output::pane_rows(area.height),
        _ => 0,
    };
    let timeline_rows = timeline_rows(area.height);
    let [body, run, chart, timeline] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(run_rows),
        Constraint::Length(chart_rows),
        Constraint::Length(timeline_rows),
    ])
    .areas(area);
    Panes {
        body,
        run: (run_rows > 0).then_some(run),
        chart: (chart_rows > 0).then_some(chart),
        timeline: (timeline_rows > 0).then_some(timeline),
    }
}

/// Rows of the scrolling part of the detail at the app's terminal size.
pub fn body_rows(app: &App) -> usize {
    let (w, h) = app.size;
    let area = Rect::new(0, 0, w, super::detail_rows(h) as u16);
    usize::from(panes(app, area).body.height)
}

/// Draws the detail of the problem the view names into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(problem) = app.detail_problem() else {
        let text = Span::styled("  this problem is not in the data at the cursor (any more)", app.theme.ui.muted);
        frame.render_widget(Paragraph::new(text), area);
        return;
    };
    let as_of = app.problems().as_of;
    let panes = panes(app, area);
    let lines = all_lines(app, problem, panes.body.width);
    let rows = usize::from(panes.body.height);
    let top = first_line(app.detail_scroll, lines.len(), rows);
    let shown: Vec<Line> = lines.into_iter().skip(top).take(rows).collect();
    frame.render_widget(Paragraph::new(shown), panes.body);
    if let (Some(area), Some(run)) = (panes.run, output::pane_run(app, problem.id)) {
        output::render_pane(app, problem, &run, frame, area);
    }
    if let (Some(area), Some(data)) = (panes.chart, chart::data(app, problem, as_of)) {
        chart::render(app, &data, frame, area);
    }
    if let Some(area) = panes.timeline {
        timeline::render(app, problem.id, frame, area);
    }
}

/// The scrolling lines as drawn: [`lines`] with the matching runbooks after the summary, then
/// the topology as of the cursor when the UI has topology facts.
pub fn all_lines(app: &App, problem: &Problem, width: u16) -> Vec<Line<'static>> {
    let as_of = app.problems().as_of;
    let runbooks = runbooks::lines(app, problem, usize::from(width).max(20));
    let mut out = lines_with(problem, as_of, &app.theme, width, runbooks);
    let logs = logs_block(app, problem, usize::from(width).max(20));
    if !logs.is_empty() {
        out.push(Line::default());
        out.extend(logs);
    }
    // After the root cause (and its evidence), before the foundational cause.
    let similar = similar::lines(app, problem.id, usize::from(width).max(20));
    if !similar.is_empty() {
        let at = out.iter().position(|l| l.spans.first().is_some_and(|s| s.content == "FOUNDATIONAL CAUSE"));
        let at = at.unwrap_or(out.len());
        out.splice(at..at, similar.into_iter().chain([Line::default()]));
    }
    let topology = topology::lines(app, problem, as_of, usize::from(width).max(20));
    if !topology.is_empty() {
        out.push(Line::default());
        out.extend(topology);
    }
    out
}

/// Templates the LOGS block lists before the rest are summed up in one line.
const MAX_TEMPLATES: usize = 5;

/// LOGS: the templates of the problem's entities with the most lines in its span (from before
/// onset to its end, or the cursor), each with a kept line of it, coloured by level; empty when
/// no log source sent anything of those entities. After the signals: the root cause and its
/// evidence come first on an 80x24 screen.
fn logs_block(app: &App, problem: &Problem, width: usize) -> Vec<Line<'static>> {
    use crate::ui::logs::{problem_entities, span_start};
    let entities = problem_entities(problem);
    if !entities.iter().any(|e| app.logs.knows(e)) {
        return Vec::new();
    }
    let as_of = app.problems().as_of;
    let to = problem.resolved_at.map_or(as_of, |r| r.min(as_of));
    let top = app.logs.top_templates(&entities, span_start(problem), to);
    let key = app.keymap.binding(Command::Logs).and_then(|b| b.keys.first()).map(ToString::to_string);
    let note = key.map(|k| format!("{k}: log lines around onset"));
    let mut out = vec![section("LOGS", note, &app.theme)];
    if top.is_empty() {
        out.push(Line::styled("  no lines counted since onset", app.theme.ui.muted));
        return out;
    }
    let count_w = top.iter().take(MAX_TEMPLATES).map(|t| text_width(&thousands(t.count))).max().unwrap_or(1);
    for t in top.iter().take(MAX_TEMPLATES) {
        let lead = format!("  {:>count_w$}× {} ", thousands(t.count), pad(t.level.as_str(), 8));
        let room = width.saturating_sub(text_width(&lead) + text_width(t.entity.as_str()) + 2);
        out.push(Line::from(vec![
            Span::raw(lead),
            entity(t.entity, &app.theme),
            Span::raw(format!("  {}", fit(t.template, room))),
        ]));
        if let Some(sample) = t.sample {
            let lead = format!("    {} ", sample.at.clock());
            let text = fit(&sample.line, width.saturating_sub(text_width(&lead)));
            out.push(Line::from(vec![
                Span::styled(lead, app.theme.ui.muted),
                Span::styled(text, super::logs::level_style(&app.theme, sample)),
            ]));
        }
    }
    if top.len() > MAX_TEMPLATES {
        out.push(Line::styled(format!("  and {} more", top.len() - MAX_TEMPLATES), app.theme.ui.muted));
    }
    out
}

/// The detail as lines of at most `width` cells, as of data time `as_of` (which decides whether a
/// silence is still running).
pub fn lines(problem: &Problem, as_of: Timestamp, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    lines_with(problem, as_of, theme, width, Vec::new())
}

/// [`lines`] with `after_summary` (the runbooks block) between the summary and the root cause:
/// what can be done is seen before scrolling.
fn lines_with(
    problem: &Problem,
    as_of: Timestamp,
    theme: &Theme,
    width: u16,
    after_summary: Vec<Line<'static>>,
) -> Vec<Line<'static>> {
    // Below 20 cells nothing reads well; draw as for 20 and let the terminal clip.
    let width = usize::from(width).max(20);
    let mut out = Vec::new();
    summary(problem, as_of, theme, width, &mut out);
    out.push(Line::default());
    if !after_summary.is_empty() {
        out.extend(after_summary);
        out.push(Line::default());
    }
    root_cause(problem, theme, width, &mut out);
    out.push(Line::default());
    foundational_cause(problem, theme, width, &mut out);
    out.push(Line::default());
    impact(problem, theme, width, &mut out);
    out.push(Line::default());
    signals(problem, theme, width, &mut out);
    out
}

fn section(title: &str, note: Option<String>, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(title.to_string(), theme.ui.section)];
    if let Some(note) = note {
        spans.push(Span::styled(format!("  {note}"), theme.ui.muted));
    }
    Line::from(spans)
}

fn plain(text: String) -> Vec<Span<'static>> {
    vec![Span::raw(text)]
}

fn entity(id: &EntityId, theme: &Theme) -> Span<'static> {
    Span::styled(id.to_string(), theme.ui.entity)
}

/// `2026-11-02 03:00:00`: the date matters when an incident crosses midnight.
fn date_time(t: Timestamp) -> String {
    let iso = t.to_rfc3339();
    format!("{} {}", iso.get(..10).unwrap_or(&iso), t.clock())
}

/// Wrapped text with a first-line prefix and the rest indented under it.
fn wrapped(prefix: &str, text: &str, style: Style, width: usize, out: &mut Vec<Line<'static>>) {
    let indent = text_width(prefix);
    for (i, line) in wrap_words(text, width.saturating_sub(indent)).into_iter().enumerate() {
        let lead = if i == 0 { prefix.to_string() } else { " ".repeat(indent) };
        out.push(Line::from(vec![Span::raw(lead), Span::styled(line, style)]));
    }
}

fn summary(problem: &Problem, as_of: Timestamp, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut pieces = vec![
        vec![Span::styled(problem.id.to_string(), bold)],
        vec![Span::styled(status_label(&problem.status), theme.status(&problem.status))],
        vec![Span::styled(severity_label(problem.severity), theme.severity(problem.severity))],
    ];
    if let Some(label) = silenced_label(problem, as_of) {
        pieces.push(vec![Span::styled(label, theme.ui.silenced)]);
    }
    if let Some(by) = &problem.acknowledged_by {
        pieces.push(plain(format!("acknowledged by {by}")));
    }
    out.extend(pack(Vec::new(), pieces, "  ", 0, width));
    wrapped("", problem.headline(), bold, width, out);
    if problem.headline() != problem.title {
        wrapped("opened as: ", &problem.title, theme.ui.muted, width, out);
    }
    let mut times = vec![plain(format!("opened {} UTC", date_time(problem.opened_at)))];
    match (problem.status, problem.resolved_at) {
        (ProblemStatus::Merged(into), _) => times.push(plain(format!("merged into {into}"))),
        (_, Some(at)) => times.push(plain(format!("resolved {}", at.clock()))),
        (_, None) => times.push(plain("not resolved".to_string())),
    }
    times.push(plain(format!("updated {}", problem.updated_at.clock())));
    out.extend(pack(Vec::new(), times, " · ", 0, width));
    if !problem.absorbed.is_empty() {
        let ids: Vec<String> = problem.absorbed.iter().map(|id| id.to_string()).collect();
        wrapped("absorbed ", &ids.join(", "), Style::new(), width, out);
    }
}

fn root_cause(problem: &Problem, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    let n = problem.root_causes.len();
    let note = (n > 0).then(|| format!("{n} candidate{}", if n == 1 { "" } else { "s" }));
    out.push(section("ROOT CAUSE", note, theme));
    if n == 0 {
        out.push(Line::styled("  not ranked yet", theme.ui.muted));
        return;
    }
    for (rank, candidate) in problem.root_causes.iter().take(MAX_CANDIDATES).enumerate() {
        let prefix = format!("  #{:<2} {:.2}  ", rank + 1, candidate.score);
        let style = if rank == 0 { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
        wrapped(&prefix, &candidate.summary, style, width, out);
        let indent = text_width(&prefix);
        out.extend(pack(vec![Span::raw(" ".repeat(indent))], facts(candidate, theme), " · ", indent, width));
        if rank == 0 {
            broke(candidate, theme, indent, width, out);
            evidence(candidate, theme, indent, width, out);
        }
    }
    if n > MAX_CANDIDATES {
        out.push(Line::styled(format!("  … {} more candidates", n - MAX_CANDIDATES), theme.ui.muted));
    }
}

fn facts(c: &Candidate, theme: &Theme) -> Vec<Vec<Span<'static>>> {
    vec![
        vec![entity(&c.entity, theme), Span::styled(format!(" ({})", c.entity_kind.as_str()), theme.ui.muted)],
        plain(format!("strength {:.2}", c.strength)),
        plain(format!("explains {}/{} affected", c.explains, c.affected)),
        plain(format!("first breach {}", c.first_breach.clock())),
    ]
}

/// Signals shown under the top candidate, strongest first.
const MAX_BROKE: usize = 4;

/// What the top candidate broke, packed on as few lines as fit: each signal with the value seen
/// and the baseline it left (`because: HostCpuSaturation (alert) · cpu_utilisation 0.99, expected
/// 0.35 (band 0.20–0.50)`), so the ranking can be checked against the data.
fn broke(c: &Candidate, theme: &Theme, indent: usize, width: usize, out: &mut Vec<Line<'static>>) {
    if c.broke.is_empty() {
        return;
    }
    let label = match c.broke.len() {
        n if n <= MAX_BROKE => "because: ".to_string(),
        n => format!("because ({MAX_BROKE} of {n}): "),
    };
    let lead = vec![Span::raw(" ".repeat(indent)), Span::styled(label, theme.ui.muted)];
    let pieces = c
        .broke
        .iter()
        .take(MAX_BROKE)
        .map(|b| {
            let detail = match (b.value, b.baseline) {
                (Some(v), Some(base)) => format!(
                    " {}, expected {} (band {}–{})",
                    number(v),
                    number(base.expected),
                    number(base.lower),
                    number(base.upper)
                ),
                (Some(v), None) => format!(" {}", number(v)),
                _ => format!(" ({})", b.kind.as_str()),
            };
            vec![Span::styled(b.name.clone(), Style::new().add_modifier(Modifier::BOLD)), Span::raw(detail)]
        })
        .collect();
    out.extend(pack(lead, pieces, " · ", indent + 2, width));
}

/// Evidence paths shown for the top candidate (each often takes two lines at 80 columns).
const MAX_PATHS: usize = 2;

/// The top candidate's evidence paths, longest first (the longest runs from the entity users
/// see down to the root), each as `a ─calls→ b ─runs on→ c`.
fn evidence(c: &Candidate, theme: &Theme, indent: usize, width: usize, out: &mut Vec<Line<'static>>) {
    let lead = " ".repeat(indent);
    if c.evidence.is_empty() {
        let text = if c.explains <= 1 { "only the root cause itself is affected" } else { "no evidence path recorded" };
        out.push(Line::from(vec![Span::raw(lead), Span::styled(text, theme.ui.muted)]));
        return;
    }
    let mut paths: Vec<&Vec<Hop>> = c.evidence.iter().collect();
    // Stable: among equally long paths the engine's order stands.
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let n = paths.len();
    let label = match n {
        1 => "evidence:".to_string(),
        _ if n <= MAX_PATHS => format!("evidence ({n} paths, longest first):"),
        _ => format!("evidence ({MAX_PATHS} of {n} paths, longest first):"),
    };
    out.push(Line::from(vec![Span::raw(lead), Span::styled(label, theme.ui.muted)]));
    let path_indent = indent + 2;
    for path in paths.into_iter().take(MAX_PATHS) {
        if path.is_empty() {
            let text = vec![entity(&c.entity, theme), Span::raw(" is itself affected")];
            out.extend(pack(vec![Span::raw(" ".repeat(path_indent))], vec![text], " ", path_indent + 2, width));
            continue;
        }
        out.extend(pack(vec![Span::raw(" ".repeat(path_indent))], chain(path, theme), " ", path_indent + 2, width));
    }
}

/// The pieces of an evidence path: the first entity, then one `─verb→ entity` per hop. A gap
/// between hops (a hop that does not start where the last ended) shows as `…`.
fn chain(path: &[Hop], theme: &Theme) -> Vec<Vec<Span<'static>>> {
    let mut pieces = Vec::new();
    let mut at: Option<&EntityId> = None;
    for hop in path {
        match at {
            None => pieces.push(vec![entity(&hop.from, theme)]),
            Some(prev) if *prev != hop.from => pieces.push(vec![Span::raw("… "), entity(&hop.from, theme)]),
            Some(_) => {}
        }
        pieces.push(vec![Span::styled(format!("─{}→ ", hop.relation.verb()), theme.ui.muted), entity(&hop.to, theme)]);
        at = Some(&hop.to);
    }
    pieces
}

fn foundational_cause(problem: &Problem, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    out.push(section("FOUNDATIONAL CAUSE", None, theme));
    let Some(change) = &problem.foundational_cause else {
        out.push(Line::styled("  none linked", theme.ui.muted));
        return;
    };
    let pieces = vec![
        vec![Span::styled(change.change.as_str().to_string(), Style::new().add_modifier(Modifier::BOLD))],
        vec![Span::raw("on "), entity(&change.entity, theme)],
        plain(format!("at {}", date_time(change.at))),
    ];
    out.extend(pack(vec![Span::raw("  ")], pieces, " ", 4, width));
    wrapped("  ", &change.description, Style::new(), width, out);
    wrapped("  why: ", &change.reason, theme.ui.muted, width, out);
}

fn impact(problem: &Problem, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    out.push(section("IMPACT", None, theme));
    let i = &problem.impact;
    if i.affected.is_empty() && i.signals == 0 {
        out.push(Line::styled("  not assessed yet", theme.ui.muted));
        return;
    }
    let lead = vec![Span::raw(format!("  affected ({}): ", i.affected.len()))];
    let pieces = i.affected.iter().map(|e| vec![entity(e, theme)]).collect();
    out.extend(pack(lead, pieces, ", ", 4, width));
    let counts = vec![
        plain(format!("services {}", i.services)),
        plain(format!("signals {} active / {} all", i.active_signals, i.signals)),
        plain(format!("raw events {}", thousands(problem.raw_count()))),
    ];
    out.extend(pack(vec![Span::raw("  ")], counts, " · ", 2, width));
    for t in &i.traffic {
        traffic(t, theme, width, out);
    }
    if i.kpis.is_empty() {
        return;
    }
    let worse = i.kpis.iter().filter(|k| k.worse).count();
    out.push(Line::from(format!("  KPIs ({}, {worse} worse) against yesterday and last week:", i.kpis.len())));
    for k in &i.kpis {
        kpi(k, theme, width, out);
    }
}

/// One role's traffic: `  errors   12 err/s (+2300% vs before onset) at service:checkout`.
fn traffic(t: &TrafficImpact, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    let lead = vec![
        Span::raw("  "),
        Span::styled(pad(t.role.as_str(), VERDICT_WIDTH), Style::new().add_modifier(Modifier::BOLD)),
    ];
    let mut pieces = vec![plain(t.describe())];
    let mut at = vec![Span::raw("at ")];
    for (n, e) in t.entities.iter().enumerate() {
        if n > 0 {
            at.push(Span::raw(", "));
        }
        at.push(entity(e, theme));
    }
    pieces.push(at);
    out.extend(pack(lead, pieces, " ", 2 + VERDICT_WIDTH, width));
}

/// Width of the verdict column of a KPI line.
const VERDICT_WIDTH: usize = 9;

/// One KPI: `▼ worse   checkout_orders_per_min 412 orders/min (-38% vs yesterday, -35% vs last
/// week) on service:checkout`, broken between pieces to fit. The verdict is a word with a
/// symbol, so it reads without colour.
fn kpi(k: &KpiImpact, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    let (verdict, style) = if k.worse {
        ("▼ worse", theme.severity(Severity::Major))
    } else if k.vs_yesterday.is_none() && k.vs_last_week.is_none() {
        ("? no past", theme.ui.muted)
    } else {
        ("✓ ok", Style::new())
    };
    let lead = vec![Span::raw("    "), Span::styled(pad(verdict, VERDICT_WIDTH), style)];
    let value = match k.unit.as_str() {
        "" => number(k.value),
        unit => format!("{} {unit}", number(k.value)),
    };
    let against = |d: Option<f64>, reference: Option<f64>, when: &str| match (d, reference) {
        (Some(d), _) => format!("{} vs {when}", percent(d)),
        (None, Some(r)) => format!("{} {when}", number(r)),
        (None, None) => format!("no data {when}"),
    };
    let pieces = vec![
        vec![Span::styled(k.name.clone(), Style::new().add_modifier(Modifier::BOLD))],
        plain(value),
        plain(format!(
            "({}, {})",
            against(k.vs_yesterday, k.yesterday, "yesterday"),
            against(k.vs_last_week, k.last_week, "last week")
        )),
        vec![Span::raw("on "), entity(&k.entity, theme)],
    ];
    out.extend(pack(lead, pieces, " ", 4 + VERDICT_WIDTH, width));
}

/// Signals strongest and most active first: active before cleared, then by score, then by count.
fn ranked_signals(problem: &Problem) -> Vec<&Signal> {
    let mut signals: Vec<&Signal> = problem.signals.values().collect();
    signals.sort_by(|a, b| {
        b.active
            .cmp(&a.active)
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| b.count.cmp(&a.count))
            .then_with(|| a.key.cmp(&b.key))
    });
    signals
}

fn signals(problem: &Problem, theme: &Theme, width: usize, out: &mut Vec<Line<'static>>) {
    let signals = ranked_signals(problem);
    let active = signals.iter().filter(|s| s.active).count();
    let note = format!("{} ({active} active) · {} raw", signals.len(), thousands(problem.raw_count()));
    out.push(section("SIGNALS", Some(note), theme));
    if signals.is_empty() {
        out.push(Line::styled("  none attached", theme.ui.muted));
        return;
    }
    let show_first = width >= FIRST_SEEN_MIN_WIDTH;
    let kind_w = 9;
    let count_w = signals.iter().map(|s| text_width(&thousands(s.count))).max().unwrap_or(0).max(5);
    let state_w = 7;
    let time_w = 8;
    let fixed = 2 + kind_w + count_w + state_w + time_w + if show_first { time_w + 1 } else { 0 } + 5;
    let flexible = width.saturating_sub(fixed).max(8);
    let name_need = signals.iter().map(|s| text_width(&s.name)).max().unwrap_or(0).max(4);
    let entity_need = signals.iter().map(|s| text_width(s.entity.as_str())).max().unwrap_or(0).max(6);
    let mut entity_w = entity_need.min(flexible / 2);
    let mut name_w = flexible - entity_w;
    if name_w > name_need {
        entity_w += name_w - name_need;
        name_w = name_need;
    }

    let mut header = format!(
        "  {} {} {} {:>count_w$} {}",
        pad("KIND", kind_w),
        pad("NAME", name_w),
        pad("ENTITY", entity_w),
        "COUNT",
        pad("STATE", state_w)
    );
    if show_first {
        header.push_str(&format!(" {}", pad("FIRST", time_w)));
    }
    header.push_str(&format!(" {}", pad("LAST", time_w)));
    out.push(Line::styled(header.trim_end().to_string(), theme.ui.header));

    for s in signals {
        let (state, state_style) =
            if s.active { ("active", theme.severity(s.severity)) } else { ("cleared", theme.ui.muted) };
        let mut spans = vec![
            Span::raw(format!("  {} {} ", pad(s.kind.as_str(), kind_w), pad(&s.name, name_w))),
            Span::styled(pad(s.entity.as_str(), entity_w), theme.ui.entity),
            Span::raw(format!(" {:>count_w$} ", fit(&thousands(s.count), count_w))),
            Span::styled(pad(state, state_w), state_style),
        ];
        if show_first {
            spans.push(Span::styled(format!(" {}", s.first_seen.clock()), theme.ui.muted));
        }
        spans.push(Span::styled(format!(" {}", s.last_seen.clock()), theme.ui.muted));
        // The smart filter's marker: ranked down, kept in view.
        if let Some(mark) = s.mark {
            spans.push(Span::styled(format!(" ~{}", mark.label()), theme.ui.muted));
        }
        out.push(Line::from(spans));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpi_numbers_and_percentages_are_short() {
        assert_eq!(number(412.0), "412");
        assert_eq!(number(412.4), "412");
        assert_eq!(number(7.1234), "7.12");
        assert_eq!(number(0.03127), "0.0313");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(percent(-0.38), "-38%");
        assert_eq!(percent(0.042), "+4.2%");
        assert_eq!(percent(1.5), "+150%");
    }
}
