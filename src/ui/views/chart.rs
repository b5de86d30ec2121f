//! The detail's metric context: the top root cause's broken series around onset with the band
//! it was expected in, from the samples received, as of the replay cursor (no sample after it).

use super::App;
use crate::model::{Baseline, EntityId, Problem, SignalKind, Timestamp};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

/// Data time shown before the first breach, in milliseconds (15 minutes).
pub const BEFORE_BREACH_MS: i64 = 15 * 60_000;
/// Longest span drawn, in milliseconds (2 hours): a long incident shows its last two hours.
pub const MAX_SPAN_MS: i64 = 2 * 60 * 60_000;

/// What the chart draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub entity: EntityId,
    pub metric: String,
    /// The band the value broke (expected, lower, upper), in the metric's unit.
    pub baseline: Baseline,
    pub first_breach: Timestamp,
    /// Start and end of the time axis; `to` is the cursor's data time.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Samples with `from <= t <= to`, in time order.
    pub points: Vec<(Timestamp, f64)>,
}

/// The chart of a problem as of data time `to`: its top candidate's first broken metric signal
/// with a baseline, and the samples of that series; `None` when there is nothing to draw.
pub fn data(app: &App, problem: &Problem, to: Timestamp) -> Option<ChartData> {
    let top = problem.root_causes.first()?;
    let broke = top.broke.iter().find(|b| b.kind == SignalKind::Anomaly && b.baseline.is_some())?;
    let baseline = broke.baseline?;
    let entity = problem.signals.get(&broke.key).map_or_else(|| top.entity.clone(), |s| s.entity.clone());
    let from = broke.first_seen.plus_ms(-BEFORE_BREACH_MS).max(to.plus_ms(-MAX_SPAN_MS));
    let points = app.metrics.window(&entity, &broke.name, from, to);
    if points.is_empty() {
        return None;
    }
    Some(ChartData { entity, metric: broke.name.clone(), baseline, first_breach: broke.first_seen, from, to, points })
}

/// Rows the pane takes when there is a chart, for a detail area of `height` rows (0: none).
pub fn rows(height: u16) -> u16 {
    match height {
        0..16 => 0,
        16..30 => 6,
        _ => (height / 4).min(12),
    }
}

/// A value for an axis label: about three significant digits.
fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws the chart of `data` into `area`: a title line, then the chart.
pub fn render(app: &App, data: &ChartData, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let [title, plot] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let b = data.baseline;
    let head = Line::from(vec![
        Span::styled("METRIC", theme.ui.section),
        Span::raw(format!("  {} on {}", data.metric, data.entity)),
        Span::styled(
            format!("  ⣿ value · • band {}–{} · breach {}", label(b.lower), label(b.upper), data.first_breach.clock()),
            theme.ui.muted,
        ),
    ]);
    frame.render_widget(Paragraph::new(head), title);

    let x = |t: Timestamp| t.since(data.from) as f64 / 1000.0;
    let span = x(data.to).max(1.0);
    let series: Vec<(f64, f64)> = data.points.iter().map(|&(t, v)| (x(t), v)).collect();
    let lower = [(0.0, b.lower), (span, b.lower)];
    let upper = [(0.0, b.upper), (span, b.upper)];
    let values = data.points.iter().map(|p| p.1).chain([b.lower, b.upper]);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.05).max(f64::EPSILON);
    // The band's two edges as dotted lines, the value over them in braille.
    let chart = Chart::new(vec![
        band(&lower, theme.ui.muted),
        band(&upper, theme.ui.muted),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().add_modifier(Modifier::BOLD))
            .data(&series),
    ])
    .x_axis(Axis::default().bounds([0.0, span]).labels([data.from.clock(), data.to.clock()]).style(theme.ui.muted))
    .y_axis(Axis::default().bounds([lo - pad, hi + pad]).labels([label(lo), label(hi)]).style(theme.ui.muted));
    frame.render_widget(chart, plot);
}

/// One edge of the band: a dotted line.
fn band(points: &[(f64, f64)], style: Style) -> Dataset<'_> {
    Dataset::default().marker(Marker::Dot).graph_type(GraphType::Line).style(style).data(points)
}
