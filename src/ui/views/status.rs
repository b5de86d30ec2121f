//! The bottom line: mode, data time (or, off live, `REPLAY`, the cursor's data time, ▶/⏸ and the
//! play speed), the last notice, problem counts, source health, end of data, and the help key.
//! When it does not fit, a notice wins over everything but the mode markers.

use super::{text_width, App};
use crate::ui::freshness;
use crate::ui::keymap::Command;
use crate::ui::SourceHealth;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// What kind of session this is, from the title's first word (`demo: …`, `replay: …`).
pub fn mode_label(title: &str) -> &'static str {
    let first = title.split([':', ' ']).next().unwrap_or("").to_ascii_lowercase();
    match first.as_str() {
        "demo" => "DEMO",
        // A recorded journal or bundle; `REPLAY` is for the cursor being off live.
        "replay" | "bundle" => "RECORDED",
        // A viewer on a journal an agent writes: live data, but this process runs no agent.
        "follow" | "attached" => "FOLLOW",
        _ => "LIVE",
    }
}

/// A source's health as symbol and word (and why, when it is not ok).
pub fn health_label(health: &SourceHealth) -> String {
    match health {
        SourceHealth::Ok => "✓ ok".to_string(),
        SourceHealth::Noted { note } => format!("✓ ok, but {note}"),
        SourceHealth::Stale { reason } => format!("! stale: {reason}"),
        SourceHealth::Down { reason } => format!("✗ down: {reason}"),
    }
}

/// ` data 03:45:12`: the newest data time, of problem events or observations, whichever is newer
/// (a quiet estate keeps sending samples: its data time keeps moving).
fn data_time(app: &App) -> Vec<Span<'static>> {
    let set = app.problems();
    let events = (set.last_seq > 0).then_some(set.as_of);
    let newest = match (events, app.freshness.newest) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let clock = newest.map_or_else(|| "--:--:--".to_string(), |t| t.clock());
    vec![Span::raw(format!(" data {clock}"))]
}

/// Each source, its health and its lag behind now (`prom ✓ 2s`, `am 1m`, `loki ! stale:
/// timeout (5m)`): a source that sent data shows its lag, shortened; one that only reported its
/// health shows that, as before. Lag alone marks a source (`!`, stale style) only against the
/// wall clock: in a demo or a recording "now" is the newest data of any source, and a source
/// that sends on change (alerts) lags it without being stale.
///
/// Worst first (down, then stale or behind, then the rest, each by name): when the line is too
/// short for all of them, the ones cut are healthy, and a `+N` says how many.
fn sources(app: &App) -> Vec<(u8, Vec<Span<'static>>)> {
    let theme = &app.theme;
    // Sources that report their health first (as before lags were shown), then data-only ones.
    let names: std::collections::BTreeSet<(bool, &String)> = app
        .sources
        .keys()
        .map(|n| (false, n))
        .chain(
            app.freshness
                .sources
                .keys()
                .chain(app.freshness.pulls.keys())
                .filter(|n| !app.sources.contains_key(*n))
                .map(|n| (true, n)),
        )
        .collect();
    let mut out: Vec<(u8, Vec<Span<'static>>)> = Vec::new();
    for (_, name) in names {
        let health = app.sources.get(name);
        let rank = match health {
            Some(SourceHealth::Down { .. }) => 0,
            Some(SourceHealth::Stale { .. }) => 1,
            _ => 2,
        };
        let Some(lag) = app.freshness.lag_ms(name) else {
            if let Some(health) = health {
                out.push((
                    rank,
                    vec![Span::raw(format!("{name} ")), Span::styled(health_label(health), theme.health(health))],
                ));
            }
            continue;
        };
        let lag_text = freshness::lag_text(lag);
        let short = freshness::short_name(name);
        let behind = app.freshness.clock.is_some() && lag > freshness::STALE_LAG_MS;
        let rank = if behind { rank.min(1) } else { rank };
        out.push((
            rank,
            match health {
                Some(h @ (SourceHealth::Stale { .. } | SourceHealth::Down { .. })) => {
                    vec![
                        Span::raw(format!("{short} ")),
                        Span::styled(format!("{} ({lag_text})", health_label(h)), theme.health(h)),
                    ]
                }
                _ if behind => vec![Span::styled(format!("{short} ! {lag_text}"), theme.health.stale)],
                Some(h @ (SourceHealth::Ok | SourceHealth::Noted { .. })) => {
                    vec![Span::raw(format!("{short} ")), Span::styled(format!("✓ {lag_text}"), theme.health(h))]
                }
                None => vec![Span::raw(format!("{short} {lag_text}"))],
            },
        ));
    }
    // Stable: within a rank, the order above.
    out.sort_by_key(|(rank, _)| *rank);
    out
}

/// Appends as many of `sources` (rank, spans; worst first) as fit in `room` cells after `used`,
/// each after a separator, and `+N` for those left out, so a healthy source is never cut in half
/// or dropped unsaid; a stale or down one that does not fit whole is cut with `…` if its name and
/// a few cells of why fit.
///
/// `mark` gives the `+N` its marker and style from the worst rank left out (`+2 ✗` in the down
/// style when a down source is among them).
fn push_sources(
    rest: &mut Vec<Span<'static>>,
    sources: Vec<(u8, Vec<Span<'static>>)>,
    (used, room): (usize, usize),
    mark: impl Fn(u8) -> (&'static str, Style),
) {
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    let total = sources.len();
    let ranks: Vec<u8> = sources.iter().map(|(rank, _)| *rank).collect();
    let mut used = used;
    let mut shown = 0;
    for (rank, spans) in sources {
        let left_out = total - shown - 1;
        // " │ " or " · " before it, and room kept for " · +N ✗" after it while some remain.
        let reserve = if left_out > 0 { 6 + left_out.to_string().len() } else { 0 };
        if used + 3 + width(&spans) + reserve > room {
            // The worst source is the one that matters: cut rather than counted, if it gets a
            // few cells of its own.
            let avail = room.saturating_sub(used + 3 + reserve);
            let name = spans.first().map_or(0, Span::width);
            if shown == 0 && rank < 2 && avail >= name + 4 {
                rest.push(Span::raw(" │ "));
                rest.extend(cut(spans, avail));
                shown = 1;
            }
            break;
        }
        rest.push(if shown == 0 { Span::raw(" │ ") } else { Span::raw(" · ") });
        used += 3 + width(&spans);
        rest.extend(spans);
        shown += 1;
    }
    if shown < total {
        rest.push(if shown == 0 { Span::raw(" │ ") } else { Span::raw(" · ") });
        let worst = ranks[shown..].iter().copied().min().unwrap_or(2);
        let (symbol, style) = mark(worst);
        rest.push(Span::styled(format!("+{}{symbol}", total - shown), style));
    }
}

/// Cells the counts need after a notice to be worth showing at all.
const MIN_REST: usize = 12;

/// Draws the status line into `area`.
pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let sep = || Span::raw(" │ ");
    let mut marks = vec![Span::styled(format!(" {} ", mode_label(&app.opts.title)), theme.ui.mode)];
    if app.opts.readonly {
        marks.push(Span::raw(" "));
        marks.push(Span::styled(" READONLY ", theme.ui.mode));
    }
    let replaying = !app.replay.is_live();
    if replaying {
        let at = app.replay.at().map_or_else(|| "--:--:--".to_string(), |t| t.clock());
        let play = if app.playing { "▶" } else { "⏸" };
        marks.push(Span::raw(" "));
        marks.push(Span::styled(format!(" REPLAY {at} {play} {}x ", app.play_speed()), theme.ui.mode));
    }
    // Off live the cursor's time is in the REPLAY mark.
    let data_time = if replaying { Vec::new() } else { data_time(app) };
    let notice = app.notice.as_ref().map(|text| [sep(), Span::styled(text.clone(), theme.ui.notice)]);

    let (listed, open) = app.list.counts(app.problems());
    let mut rest = vec![sep(), Span::raw(format!("{open} open · {} resolved", listed - open))];
    // Before the sources: when the line is cut, the end of the data matters more.
    if app.finished.is_some() {
        rest.push(sep());
        rest.push(Span::raw("■ finished"));
    } else if app.feed_closed {
        rest.push(sep());
        rest.push(Span::styled("✗ feed closed", theme.health.down));
    }

    let help_key = app.keymap.binding(Command::Help).and_then(|b| b.keys.first()).map(|k| k.to_string());
    let mut right = help_key.map(|k| format!(" {k} help ")).unwrap_or_default();
    // A notice is what just happened: to keep it whole, the help key and then the data time
    // give up their room. Counts and sources come after it and are cut first anyway.
    let mut show_time = true;
    if let Some(notice) = &notice {
        let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
        let need = width(&marks) + width(notice);
        let room = usize::from(area.width);
        let time_width = width(&data_time);
        if need + time_width + text_width(&right) > room {
            right.clear();
        }
        if need + time_width > room {
            show_time = false;
        }
    }
    let mut left = marks;
    if show_time {
        left.extend(data_time);
    }
    let room_after = usize::from(area.width).saturating_sub(text_width(&right));
    if let Some(notice) = notice {
        left.extend(notice);
        // After a notice, a few cells of counts would only read as the notice being cut.
        let used: usize = left.iter().map(Span::width).sum();
        if used + MIN_REST > room_after {
            rest.clear();
        }
    }
    if !rest.is_empty() {
        let used = left.iter().chain(&rest).map(Span::width).sum();
        let mark = |rank| match rank {
            0 => (" ✗", theme.health.down),
            1 => (" !", theme.health.stale),
            _ => ("", Style::default()),
        };
        push_sources(&mut rest, sources(app), (used, room_after), mark);
    }
    left.extend(rest);

    let [left_area, right_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(text_width(&right) as u16)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(cut(left, usize::from(left_area.width)))).style(theme.ui.status_bar),
        left_area,
    );
    frame.render_widget(Paragraph::new(right).style(theme.ui.status_bar), right_area);
}

/// The spans cut to `width` cells, the last one ending in `…` when something was left out.
pub(crate) fn cut(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = span.width();
        if used + w <= width {
            used += w;
            out.push(span);
            continue;
        }
        let room = width.saturating_sub(used);
        if room > 0 {
            out.push(Span::styled(super::fit(&span.content, room), span.style));
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_comes_from_the_title() {
        assert_eq!(mode_label("demo: db-cpu-saturation"), "DEMO");
        assert_eq!(mode_label("replay: incident.bundle"), "RECORDED");
        assert_eq!(mode_label("prod-eu-1"), "LIVE");
    }

    #[test]
    fn sources_that_do_not_fit_are_counted_not_cut() {
        let plain = |rank| (if rank < 2 { " !" } else { "" }, Style::default());
        let source = |name: &str| (2, vec![Span::raw(format!("{name} ")), Span::raw("✓ 2s")]);
        let all = || vec![source("prom"), source("loki"), source("am")];
        let text = |room| {
            let mut rest = Vec::new();
            push_sources(&mut rest, all(), (0, room), plain);
            rest.iter().map(|s| s.content.to_string()).collect::<String>()
        };
        assert_eq!(text(80), " │ prom ✓ 2s · loki ✓ 2s · am ✓ 2s");
        assert_eq!(text(32), " │ prom ✓ 2s · loki ✓ 2s · +1");
        assert_eq!(text(30), " │ prom ✓ 2s · +2");
        assert_eq!(text(5), " │ +3");
        // The first (worst) source is cut rather than counted when it gets a few cells; the count
        // of those left out carries the worst one's mark.
        let text = |sources: Vec<_>, room| {
            let mut rest = Vec::new();
            push_sources(&mut rest, sources, (0, room), plain);
            rest.iter().map(|s| s.content.to_string()).collect::<String>()
        };
        let down = |name: &str| (0, vec![Span::raw(format!("{name} ")), Span::raw("✗ down: connection refused")]);
        assert_eq!(text(vec![down("am"), source("prom")], 27), " │ am ✗ down: conne… · +1");
        assert_eq!(text(vec![down("am"), down("loki")], 27), " │ am ✗ down: conne… · +1 !");
        assert_eq!(text(vec![down("alertmanager"), down("loki")], 16), " │ +2 !");
    }

    #[test]
    fn cut_marks_what_was_left_out() {
        let spans = vec![Span::raw("abc "), Span::raw("defgh")];
        let text: String = cut(spans, 6).iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "abc d…");
    }
}
