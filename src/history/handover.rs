//! The on-call handover report: what happened in a period, in plain words, for the next person.
//!
//! Problems opened, resolved and still open, by severity; for each one line of root cause and
//! foundational cause, its impact, how long it took to resolve, and what was done and by whom;
//! root causes that came back more than once; flapping signals; and the sources that were stale
//! ([`super::staleness`]).
//! Built from [`IncidentSummary`]s (never from the UI), so the CLI and the UI's overlay print
//! the same text. Deterministic: sorted everywhere, no clock; the period is given.
//!
//! Two renderings: Markdown (headings and lists, for a ticket or a wiki) and text (short lines,
//! no markup, fits a chat message).

use super::staleness::{Basis, StaleStretch, Staleness, STALE_GAP_MS};
use super::summary::IncidentSummary;
use crate::model::{Outcome, Severity, Timestamp};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How the report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Text,
}

/// The period reported on, data time, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Timestamp,
    pub until: Timestamp,
}

/// The report's content, before it is written out.
#[derive(Debug, Clone)]
pub struct Handover<'a> {
    pub period: Period,
    /// The journal or bundle, as shown.
    pub source: String,
    /// Problems alive in the period (not merged away, not the background problem), by severity
    /// (worst first), then opening time, then id.
    pub problems: Vec<&'a IncidentSummary>,
    /// Flapping signals seen in the period, with their activation counts.
    pub flapping: BTreeMap<String, u32>,
    pub stale: Staleness,
}

impl<'a> Handover<'a> {
    /// The report of `period` over `summaries` (folded from events up to the period's end).
    pub fn new(
        summaries: impl IntoIterator<Item = &'a IncidentSummary>,
        period: Period,
        source: &str,
        stale: Staleness,
    ) -> Handover<'a> {
        let mut problems = Vec::new();
        let mut flapping = BTreeMap::new();
        for s in summaries {
            let alive = s.opened_at <= period.until && s.resolved_at.is_none_or(|r| r >= period.from);
            if !alive || s.merged_into.is_some() {
                continue;
            }
            for (name, n) in &s.flapping {
                let e = flapping.entry(name.clone()).or_insert(0);
                *e = (*e).max(*n);
            }
            if !s.is_background() {
                problems.push(s);
            }
        }
        problems.sort_by(|a, b| (b.severity, a.opened_at, a.id).cmp(&(a.severity, b.opened_at, b.id)));
        Handover { period, source: source.to_string(), problems, flapping, stale }
    }

    fn opened(&self) -> impl Iterator<Item = &&'a IncidentSummary> {
        self.problems.iter().filter(|s| s.opened_at >= self.period.from)
    }

    fn resolved(&self) -> Vec<&'a IncidentSummary> {
        self.problems.iter().copied().filter(|s| s.resolved_at.is_some()).collect()
    }

    fn still_open(&self) -> Vec<&'a IncidentSummary> {
        self.problems.iter().copied().filter(|s| s.resolved_at.is_none()).collect()
    }

    /// Root causes (entity and what broke) that came more than once, most often first.
    fn recurring(&self) -> Vec<(String, Vec<&'a IncidentSummary>)> {
        let mut groups: BTreeMap<String, Vec<&'a IncidentSummary>> = BTreeMap::new();
        for s in &self.problems {
            if let Some(r) = &s.root {
                let what: Vec<&str> = r.broke.iter().map(String::as_str).collect();
                let what = if what.is_empty() { "trouble".to_string() } else { what.join(", ") };
                groups.entry(format!("{what} on {}", r.entity)).or_default().push(s);
            }
        }
        let mut out: Vec<_> = groups.into_iter().filter(|(_, v)| v.len() > 1).collect();
        for (_, v) in &mut out {
            v.sort_by_key(|s| (s.opened_at, s.id));
        }
        out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        out
    }

    /// The report, written out.
    pub fn render(&self, format: Format) -> String {
        let w = Writer { format };
        let mut out = String::new();
        let hours = self.period.until.since(self.period.from);
        let title = format!(
            "Handover {} to {} ({})",
            date_time(self.period.from),
            date_time(self.period.until),
            duration(hours)
        );
        w.title(&mut out, &title, &self.source);
        self.counts(&w, &mut out);
        let open = self.still_open();
        w.heading(&mut out, &format!("Still open ({})", open.len()));
        if open.is_empty() {
            w.line(&mut out, "Nothing is open.");
        }
        for s in open {
            self.problem(&w, &mut out, s);
        }
        let resolved = self.resolved();
        w.heading(&mut out, &format!("Resolved ({})", resolved.len()));
        if resolved.is_empty() {
            w.line(&mut out, "Nothing resolved in the period.");
        }
        for s in resolved {
            match self.format_of(&w) {
                Format::Markdown => self.problem(&w, &mut out, s),
                // One line each: what is over matters less to the next person than what is not.
                Format::Text => self.resolved_line(&w, &mut out, s),
            }
        }
        self.patterns(&w, &mut out);
        self.sources(&w, &mut out);
        out
    }

    fn counts(&self, w: &Writer, out: &mut String) {
        let opened = self.opened().count();
        let resolved = self.resolved().len();
        let open = self.still_open().len();
        let carried = self.problems.len() - opened;
        let mut text = format!("{opened} opened, {resolved} resolved, {open} still open");
        if carried > 0 {
            text.push_str(&format!(" ({carried} carried over from before)"));
        }
        text.push('.');
        let mut by = Vec::new();
        for sev in [Severity::Critical, Severity::Major, Severity::Warning, Severity::Info] {
            let all = self.problems.iter().filter(|s| s.severity == sev).count();
            if all > 0 {
                let open = self.problems.iter().filter(|s| s.severity == sev && s.resolved_at.is_none()).count();
                by.push(format!("{sev} {all} ({open} open)"));
            }
        }
        if !by.is_empty() {
            text.push_str(&format!(" By severity: {}.", by.join(", ")));
        }
        w.line(out, &text);
    }

    fn problem(&self, w: &Writer, out: &mut String, s: &IncidentSummary) {
        let state = match s.resolved_at {
            Some(r) => format!("resolved in {}", duration(r.since(s.opened_at))),
            None => format!("open for {}", duration(self.period.until.since(s.opened_at))),
        };
        let head = format!("{} {}, {} at {}, {state}", s.id, s.severity, "opened", date_time(s.opened_at));
        w.item(out, &head, s.headline());
        let root = s.root.as_ref().map_or("root cause: not ranked".to_string(), |r| {
            format!("root cause: {} ({})", w.code(r.entity.as_str()), r.entity_kind.as_str())
        });
        let foundational = s.foundational.as_ref().map_or("no change linked".to_string(), |f| {
            format!("after a {} on {}: {}", f.change.as_str(), w.code(f.entity.as_str()), w.escape(&f.description))
        });
        w.detail(out, &format!("{root}; {foundational}"));
        let services: Vec<String> = s.services.iter().map(|e| w.code(e.as_str())).collect();
        let impact = if services.is_empty() {
            format!("impact: {}, no service", entities(s.affected))
        } else {
            format!("impact: {}; services {}", entities(s.affected), services.join(", "))
        };
        w.detail(out, &impact);
        w.detail(out, &format!("done: {}", actions(s)));
        if s.reopened > 0 {
            w.detail(out, &format!("reopened {} time(s)", s.reopened));
        }
    }

    fn format_of(&self, w: &Writer) -> Format {
        w.format
    }

    fn resolved_line(&self, w: &Writer, out: &mut String, s: &IncidentSummary) {
        let took = s.duration_ms().map_or(String::new(), duration);
        let after = s
            .foundational
            .as_ref()
            .map_or(String::new(), |f| format!("; after a {} on {}", f.change.as_str(), w.code(f.entity.as_str())));
        let when = date_time(s.opened_at);
        let when = when.get(5..).unwrap_or(&when);
        w.bullet(
            out,
            &format!("{} {} {when}, {took}: {}{after}; done: {}", s.id, s.severity, w.escape(s.headline()), actions(s)),
        );
    }

    fn patterns(&self, w: &Writer, out: &mut String) {
        w.heading(out, "Recurring and flapping");
        let recurring = self.recurring();
        if recurring.is_empty() && self.flapping.is_empty() {
            w.line(out, "No root cause came back and no signal flapped.");
            return;
        }
        for (what, list) in recurring {
            let ids: Vec<String> = list.iter().map(|s| s.id.to_string()).collect();
            w.bullet(out, &format!("{} times: {} ({})", list.len(), w.escape(&what), ids.join(", ")));
        }
        for (name, n) in &self.flapping {
            w.bullet(out, &format!("flapping: {} ({n} activations)", w.escape(name)));
        }
    }

    fn sources(&self, w: &Writer, out: &mut String) {
        w.heading(out, "Sources");
        if self.stale.stretches.is_empty() {
            let all = match self.stale.basis {
                Basis::DataGaps => {
                    format!("Every metric source sent data throughout (no gap over {}).", duration(STALE_GAP_MS))
                }
                Basis::Health if self.stale.sources.is_empty() => "No source health recorded in the period.".into(),
                Basis::Health => {
                    let names: Vec<String> = self.stale.sources.iter().map(|s| w.code(s)).collect();
                    format!("Every source was healthy throughout, as the agent saw it: {}.", names.join(", "))
                }
            };
            w.line(out, &all);
            return;
        }
        let mut by: BTreeMap<&str, Vec<&StaleStretch>> = BTreeMap::new();
        for s in &self.stale.stretches {
            by.entry(&s.source).or_default().push(s);
        }
        for (source, list) in by {
            let total: i64 = list.iter().map(|s| s.until.since(s.from)).sum();
            let longest = list.iter().max_by_key(|s| (s.until.since(s.from), std::cmp::Reverse(s.from)));
            let longest = longest.map_or(String::new(), |l| {
                let why = l.reason.as_ref().map_or(String::new(), |r| format!(" ({})", w.escape(r)));
                format!(", longest {} from {}{why}", duration(l.until.since(l.from)), l.from.clock())
            });
            w.bullet(
                out,
                &format!("{} stale {} time(s), {} in all{longest}", w.code(source), list.len(), duration(total)),
            );
        }
    }
}

/// What was done about a problem, in order: runbook runs with their outcome, silences, the
/// acknowledgement; "nothing recorded" when none.
pub fn actions(s: &IncidentSummary) -> String {
    let mut parts: Vec<(Timestamp, String)> = Vec::new();
    for r in &s.runs {
        let who = if r.auto { "auto-remediation".to_string() } else { r.operator.clone() };
        parts.push((r.at, format!("{} by {who} ({})", r.runbook, outcome_word(r.outcome))));
    }
    for x in &s.silences {
        let what = match &x.error {
            Some(e) => format!("silence by {} FAILED: {e}", x.by),
            None => format!("silenced by {}", x.by),
        };
        parts.push((x.at, what));
    }
    parts.sort();
    let mut text: Vec<String> = parts.into_iter().map(|(_, t)| t).collect();
    if let Some(by) = &s.acknowledged_by {
        text.push(format!("acknowledged by {by}"));
    }
    if text.is_empty() {
        "nothing recorded".to_string()
    } else {
        text.join("; ")
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    o.as_str()
}

/// Writes lines in one of the two formats.
struct Writer {
    format: Format,
}

impl Writer {
    fn title(&self, out: &mut String, title: &str, source: &str) {
        match self.format {
            Format::Markdown => {
                let _ = writeln!(out, "# {title}\n\n_From `{source}`; data time, UTC._\n");
            }
            Format::Text => {
                let _ = writeln!(out, "{title}, from {source} (data time, UTC)");
            }
        }
    }

    fn heading(&self, out: &mut String, text: &str) {
        match self.format {
            Format::Markdown => {
                let _ = writeln!(out, "\n## {text}\n");
            }
            Format::Text => {
                let _ = writeln!(out, "\n{text}:");
            }
        }
    }

    fn line(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "{text}");
    }

    fn bullet(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "- {text}");
    }

    /// A problem's first line: what it is, then its headline.
    fn item(&self, out: &mut String, head: &str, headline: &str) {
        match self.format {
            Format::Markdown => {
                let _ = writeln!(out, "- **{head}**: {}", self.escape(headline));
            }
            Format::Text => {
                let _ = writeln!(out, "- {head}: {headline}");
            }
        }
    }

    fn detail(&self, out: &mut String, text: &str) {
        let _ = writeln!(out, "  {text}");
    }

    fn code(&self, s: &str) -> String {
        match self.format {
            Format::Markdown => format!("`{}`", s.replace('`', "'")),
            Format::Text => s.to_string(),
        }
    }

    fn escape(&self, s: &str) -> String {
        match self.format {
            Format::Markdown => s.replace('<', "&lt;").replace(['\n', '\r'], " "),
            Format::Text => s.replace(['\n', '\r'], " "),
        }
    }
}

fn entities(n: usize) -> String {
    if n == 1 {
        "1 entity".to_string()
    } else {
        format!("{n} entities")
    }
}

/// `2026-03-02 10:25`.
fn date_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(0..10), s.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => s,
    }
}

/// The two largest units, short: `7d`, `2h 5m`, `49m 20s`, `8s`.
pub fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let units = [(secs / 86_400, "d"), (secs / 3600 % 24, "h"), (secs / 60 % 60, "m"), (secs % 60, "s")];
    let Some(first) = units.iter().position(|(n, _)| *n > 0) else { return "0s".to_string() };
    units[first..(first + 2).min(units.len())]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_the_two_largest_units() {
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000 + 7_000), "2h 5m");
        assert_eq!(duration(7 * 86_400_000), "7d");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(49 * 60_000 + 20_000), "49m 20s");
    }
}
