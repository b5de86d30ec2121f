//! A post-mortem draft in Markdown, written from one problem's events: summary, impact,
//! detection, root cause with its evidence, foundational cause, response, timeline, and the
//! questions the engine cannot answer. Every fact in it is something the engine recorded; what
//! needs a human is asked, never guessed.
//!
//! Deterministic: the same events give the same text (no wall clock, no map iteration order),
//! so a draft can be kept as a reviewed snapshot.

use super::{number, percent, thousands};
use crate::model::{
    Candidate, EventKind, Hop, Problem, ProblemEvent, ProblemId, ProblemSet, ProblemStatus, RunRecord, Signal,
    Timestamp,
};
use std::fmt::Write as _;

/// Where the events came from and who wrote the draft, for its header line.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The journal or bundle the events were read from, as shown.
    pub source: String,
    /// `faultline <version>`.
    pub generator: String,
}

/// The draft for `problem`, folded from `events` (a journal's or a bundle's, in seq order). The
/// events of other problems matter too: a problem that absorbed another shows it. `None` when the
/// events never open `problem`.
pub fn draft(events: &[ProblemEvent], problem: ProblemId, provenance: &Provenance) -> Option<String> {
    let set = ProblemSet::fold(events);
    let p = set.problems.get(&problem)?;
    let own: Vec<&ProblemEvent> = events.iter().filter(|e| e.problem == problem).collect();
    let mut md = String::new();
    header(&mut md, p, &own, provenance);
    summary(&mut md, p, &own, set.as_of);
    impact(&mut md, p);
    detection(&mut md, p, &own);
    root_cause(&mut md, p);
    foundational_cause(&mut md, p);
    response(&mut md, &own);
    timeline(&mut md, p);
    questions(&mut md, p, &own);
    Some(md)
}

fn header(md: &mut String, p: &Problem, own: &[&ProblemEvent], provenance: &Provenance) {
    let _ = writeln!(md, "# Post-mortem draft: {} {}", p.id, escape(p.headline()));
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "_Drafted by {} from `{}` ({} events of {}). Facts are what the engine recorded; the questions at the end are \
         for the people who were there._",
        provenance.generator,
        provenance.source,
        own.len(),
        p.id
    );
}

fn summary(md: &mut String, p: &Problem, own: &[&ProblemEvent], as_of: Timestamp) {
    section(md, "Summary");
    let status = match p.status {
        ProblemStatus::Open => format!("open (as of {})", date_time(as_of)),
        ProblemStatus::Resolved => "resolved".to_string(),
        ProblemStatus::Merged(into) => format!("merged into {into}"),
    };
    let end = p.resolved_at.or(merged_at(own));
    let entities = p.impact.affected.len();
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Problem | {} |", p.id);
    let _ = writeln!(md, "| Status | {status} |");
    let _ = writeln!(md, "| Severity | {} |", p.severity);
    let _ = writeln!(md, "| Opened | {} |", date_time(p.opened_at));
    match end {
        Some(t) => {
            let _ = writeln!(md, "| Ended | {} (after {}) |", date_time(t), duration(t.since(p.opened_at)));
        }
        None => {
            let _ = writeln!(md, "| Ended | not yet ({} so far) |", duration(as_of.since(p.opened_at)));
        }
    }
    let root = p.root_causes.first().map_or("not ranked".to_string(), |c| escape(&c.summary));
    let _ = writeln!(md, "| Root cause | {root} |");
    let foundational = p.foundational_cause.as_ref().map_or("none linked".to_string(), |c| {
        escape(&format!("{} on {} at {}: {}", c.change.as_str(), c.entity, date_time(c.at), c.description))
    });
    let _ = writeln!(md, "| Foundational cause | {foundational} |");
    let _ = writeln!(
        md,
        "| Signals | {} ({} raw events) on {entities} entities, {} of them services |",
        p.signals.len(),
        thousands(p.raw_count()),
        p.impact.services
    );
    if !p.absorbed.is_empty() {
        let ids: Vec<String> = p.absorbed.iter().map(ProblemId::to_string).collect();
        let _ = writeln!(md, "| Absorbed | {} |", ids.join(", "));
    }
    let _ = writeln!(md);
    let how_long = match end {
        Some(t) => format!("From {} to {} ({})", date_time(p.opened_at), clock(t), duration(t.since(p.opened_at))),
        None => format!("Since {}", date_time(p.opened_at)),
    };
    let _ = write!(md, "{how_long}, {} signals on {entities} entities were grouped into {}.", p.signals.len(), p.id);
    if let Some(c) = p.root_causes.first() {
        let _ = write!(
            md,
            " The engine named {} as the root cause (score {:.2}; it accounts for {} of the {} entities in trouble)",
            code(c.entity.as_str()),
            c.score,
            c.explains,
            c.affected
        );
        match &p.foundational_cause {
            Some(f) => {
                let _ = write!(
                    md,
                    " and linked the {} on {} as the foundational cause.",
                    f.change.as_str(),
                    code(f.entity.as_str())
                );
            }
            None => md.push('.'),
        }
    }
    md.push('\n');
}

fn impact(md: &mut String, p: &Problem) {
    section(md, "Impact");
    let i = &p.impact;
    let affected: Vec<String> = i.affected.iter().map(|e| code(e.as_str())).collect();
    let _ = writeln!(
        md,
        "- Affected entities ({}, {} services): {}",
        i.affected.len(),
        i.services,
        if affected.is_empty() { "none recorded".to_string() } else { affected.join(", ") }
    );
    let _ = writeln!(md, "- Signals at the last update: {} active of {}", i.active_signals, i.signals);
    for t in &i.traffic {
        let _ = writeln!(
            md,
            "- Traffic touched, {}: {} (summed over {})",
            t.role.as_str(),
            t.describe(),
            list(&t.entities)
        );
    }
    if i.traffic.is_empty() {
        let _ = writeln!(md, "- Traffic touched: no request, error or user readings for the affected entities");
    }
    if i.kpis.is_empty() {
        let _ = writeln!(md, "- Business KPIs: none configured for the affected entities or those that depend on them");
        return;
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "| KPI | entity | value | yesterday | vs yesterday | last week | vs last week | verdict |");
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---|");
    for k in &i.kpis {
        let unit = if k.unit.is_empty() { String::new() } else { format!(" {}", k.unit) };
        let _ = writeln!(
            md,
            "| {} | {} | {}{unit} | {} | {} | {} | {} | {} |",
            escape(&k.name),
            code(k.entity.as_str()),
            number(k.value),
            k.yesterday.map_or("no data".into(), number),
            k.vs_yesterday.map_or("–".into(), percent),
            k.last_week.map_or("no data".into(), number),
            k.vs_last_week.map_or("–".into(), percent),
            if k.worse { "worse" } else { "not worse" }
        );
    }
}

fn detection(md: &mut String, p: &Problem, own: &[&ProblemEvent]) {
    section(md, "Detection");
    let mut attached: Vec<&Signal> = Vec::new();
    for e in own {
        if let EventKind::SignalAttached { signal } = &e.kind {
            if !attached.iter().any(|s| s.key == signal.key) {
                attached.push(signal);
            }
        }
    }
    attached.sort_by(|a, b| (a.first_seen, &a.key).cmp(&(b.first_seen, &b.key)));
    match attached.first() {
        Some(first) => {
            let lead = p.opened_at.since(first.first_seen);
            let when = if lead > 0 { format!(", {} before the problem opened", duration(lead)) } else { String::new() };
            let _ = writeln!(md, "- First signal: {} at {}{when}", describe_signal(first), date_time(first.first_seen));
        }
        None => {
            let _ = writeln!(md, "- First signal: none recorded");
        }
    }
    let _ = writeln!(md, "- Problem opened: {} as \"{}\"", date_time(p.opened_at), escape(&p.title));
    let rankings: Vec<&ProblemEvent> =
        own.iter().copied().filter(|e| matches!(e.kind, EventKind::RootCauseRanked { .. })).collect();
    if let Some(first) = rankings.first() {
        let _ = writeln!(
            md,
            "- First root-cause ranking: {} ({} after opening); the ranking changed {} times in all",
            clock(first.at),
            duration(first.at.since(p.opened_at)),
            rankings.len()
        );
    }
    if attached.is_empty() {
        return;
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "| first seen | signal | entity | count |");
    let _ = writeln!(md, "|---|---|---|---:|");
    const SHOWN: usize = 12;
    for s in attached.iter().take(SHOWN) {
        let count = p.signals.get(&s.key).map_or(s.count, |now| now.count);
        let _ = writeln!(
            md,
            "| {} | {} {} | {} | {} |",
            clock(s.first_seen),
            s.kind.as_str(),
            escape(&s.name),
            code(s.entity.as_str()),
            thousands(count)
        );
    }
    if attached.len() > SHOWN {
        let _ = writeln!(md, "\n{} more signals joined later (see the timeline).", attached.len() - SHOWN);
    }
}

fn root_cause(md: &mut String, p: &Problem) {
    section(md, "Root cause");
    let Some(top) = p.root_causes.first() else {
        let _ = writeln!(md, "The engine ranked no root cause: no entity in trouble had healthy dependencies.");
        return;
    };
    candidate(md, top);
    if p.root_causes.len() > 1 {
        let _ = writeln!(md, "\nOther candidates, in rank order:\n");
        for c in p.root_causes.iter().skip(1).take(4) {
            let _ = writeln!(
                md,
                "- {} (score {:.2}, accounts for {} of {})",
                escape(&c.summary),
                c.score,
                c.explains,
                c.affected
            );
        }
    }
}

fn candidate(md: &mut String, c: &Candidate) {
    let _ = writeln!(md, "**{}** on {} ({}).\n", escape(&c.summary), code(c.entity.as_str()), c.entity_kind.as_str());
    let _ = writeln!(
        md,
        "- Score {:.2}: it accounts for {} of the {} entities in trouble; first breach {}; strongest anomaly {:.2}",
        c.score,
        c.explains,
        c.affected,
        date_time(c.first_breach),
        c.strength
    );
    for b in &c.broke {
        let seen = b.value.map_or(String::new(), |v| format!(" at {}", number(v)));
        let band = b.baseline.map_or(String::new(), |base| {
            format!(", expected {} (band {} to {})", number(base.expected), number(base.lower), number(base.upper))
        });
        let _ = writeln!(
            md,
            "- Broke: {} {}{seen}{band}, first seen {}",
            b.kind.as_str(),
            escape(&b.name),
            clock(b.first_seen)
        );
    }
    if !c.evidence.is_empty() {
        let _ = writeln!(md, "- Evidence (how the entities in trouble depend on it):");
        for path in c.evidence.iter().take(5) {
            let _ = writeln!(md, "  - {}", chain(path));
        }
        if c.evidence.len() > 5 {
            let _ = writeln!(md, "  - and {} more paths", c.evidence.len() - 5);
        }
    }
}

fn foundational_cause(md: &mut String, p: &Problem) {
    section(md, "Foundational cause");
    match &p.foundational_cause {
        Some(c) => {
            let _ = writeln!(
                md,
                "{} on {} at {}: {}.\n\nLinked because: {}.",
                capitalised(c.change.as_str()),
                code(c.entity.as_str()),
                date_time(c.at),
                escape(&c.description),
                escape(&c.reason)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "None linked: no deployment, config change, restart or scale event was seen on the root cause or what it \
                 runs on shortly before onset."
            );
        }
    }
}

fn response(md: &mut String, own: &[&ProblemEvent]) {
    section(md, "Response");
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let mut started = std::collections::BTreeMap::new();
    for e in own {
        let row = match &e.kind {
            EventKind::Silenced { by, via, silences, error: None } => {
                let until =
                    silences.iter().map(|s| s.ends_at).max().map_or(String::new(), |t| format!(" until {}", clock(t)));
                let ids: Vec<&str> = silences.iter().map(|s| s.id.as_str()).collect();
                (
                    by.clone(),
                    format!("silence via {via}"),
                    format!("{} created{until}: {}", silences.len(), ids.join(", ")),
                )
            }
            EventKind::Silenced { by, via, error: Some(error), .. } => {
                (by.clone(), format!("silence via {via}"), format!("FAILED: {error}"))
            }
            EventKind::Acknowledged { by } => (by.clone(), "acknowledged".to_string(), "–".to_string()),
            EventKind::RunbookStarted { runbook, by, plan, auto } => {
                started.insert(runbook.clone(), e.at);
                (
                    by.clone(),
                    format!("runbook {runbook}{}", if *auto { " (auto-remediation)" } else { "" }),
                    format!("started: {} plan line(s), below", plan.len()),
                )
            }
            EventKind::RunbookFinished { record } => {
                // From the start: the fix may work before the run's last check ends it.
                let from = started.get(&record.runbook).copied().unwrap_or(e.at);
                runs.push((from, record.as_ref()));
                let mut outcome = record.final_outcome().as_str().to_string();
                let chain = escalation_chain(record);
                if !chain.is_empty() {
                    outcome.push_str(&format!(" (escalated: {chain})"));
                }
                match resolved_after(own, from) {
                    Some(ms) => outcome.push_str(&format!("; the problem resolved {} after it started", minutes(ms))),
                    None => outcome.push_str("; the problem did not resolve afterwards"),
                }
                (record.operator.clone(), format!("runbook {} finished", record.runbook), outcome)
            }
            _ => continue,
        };
        rows.push((e.at, row));
    }
    if rows.is_empty() {
        let _ = writeln!(md, "No action (silence, acknowledgement, runbook) was taken from faultline.");
        return;
    }
    let _ = writeln!(md, "| time | who | action | outcome |");
    let _ = writeln!(md, "|---|---|---|---|");
    for (at, (who, action, outcome)) in rows {
        let _ = writeln!(md, "| {} | {} | {} | {} |", clock(at), escape(&who), escape(&action), escape(&outcome));
    }
    for (at, record) in runs {
        run_audit(md, at, record);
    }
}

/// Lines of output kept per step in the post-mortem (the journal keeps up to 64 KiB).
const OUTPUT_LINES: usize = 8;

/// One run's audit: the plan exactly as it ran, then each step's status and the end of its output.
fn run_audit(md: &mut String, at: Timestamp, r: &RunRecord) {
    let _ = writeln!(
        md,
        "\n**Runbook {} at {}** by {}{}: {}",
        escape(&r.runbook),
        clock(at),
        escape(&r.operator),
        if r.auto { " (auto-remediation)" } else { "" },
        r.outcome.as_str()
    );
    let _ = writeln!(md, "\n```text");
    for line in &r.plan {
        let _ = writeln!(md, "{}", fence_safe(line));
    }
    let _ = writeln!(md, "```\n");
    for s in &r.steps {
        let mut status = s.status.as_str().to_string();
        if let Some(code) = s.exit_code {
            status.push_str(&format!(", exit {code}"));
        }
        if let Some(sig) = s.signal {
            status.push_str(&format!(", signal {sig}"));
        }
        if let Some(h) = s.http_status {
            status.push_str(&format!(", HTTP {h}"));
        }
        let _ = writeln!(md, "- step {} {}: {status}. {}", s.index + 1, s.kind, escape(&s.detail));
        let lines: Vec<&str> = s.output.lines().collect();
        if !lines.is_empty() {
            let from = lines.len().saturating_sub(OUTPUT_LINES);
            let _ = writeln!(md, "\n  ```text");
            if from > 0 {
                let _ = writeln!(md, "  ({from} earlier line(s) in the journal)");
            }
            for l in &lines[from..] {
                let _ = writeln!(md, "  {}", fence_safe(l));
            }
            let _ = writeln!(md, "  ```");
        }
    }
    if let Some(next) = &r.escalation {
        run_audit(md, next.started_at, next);
    }
}

/// Output and plan text inside a code fence cannot close it.
fn fence_safe(text: &str) -> String {
    text.replace("```", "`\u{200b}``")
}

/// `restart-unit NOT mitigated → page-oncall succeeded`, empty without an escalation.
fn escalation_chain(r: &RunRecord) -> String {
    let mut parts = Vec::new();
    let mut next = r.escalation.as_deref();
    while let Some(n) = next {
        parts.push(format!("{} {}", n.runbook, n.outcome.as_str()));
        next = n.escalation.as_deref();
    }
    parts.join(" → ")
}

/// How long after `at` the problem resolved (its first `Resolved` at or after `at`).
fn resolved_after(own: &[&ProblemEvent], at: Timestamp) -> Option<i64> {
    own.iter().find(|e| e.at >= at && matches!(e.kind, EventKind::Resolved)).map(|e| e.at.since(at))
}

fn minutes(ms: i64) -> String {
    if ms < 60_000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{} min", ms / 60_000)
    }
}

fn timeline(md: &mut String, p: &Problem) {
    section(md, "Timeline");
    let _ = writeln!(md, "All times UTC, data time. Repeats of a signal are counted, not listed.\n");
    let _ = writeln!(md, "| time | seq | event |");
    let _ = writeln!(md, "|---|---:|---|");
    for t in &p.timeline {
        let _ = writeln!(md, "| {} | {} | {} |", clock(t.at), t.seq, escape(&t.text));
    }
}

fn questions(md: &mut String, p: &Problem, own: &[&ProblemEvent]) {
    section(md, "Open questions");
    let mut q: Vec<String> = Vec::new();
    if let (Some(c), Some(f)) = (p.root_causes.first(), &p.foundational_cause) {
        q.push(format!(
            "How did the {} on {} lead to {}? The engine links them by time and topology only.",
            f.change.as_str(),
            code(f.entity.as_str()),
            escape(&c.summary)
        ));
    }
    if let (Some(c), None) = (p.root_causes.first(), &p.foundational_cause) {
        q.push(format!(
            "What changed on {} or below it before {}? No change was recorded there.",
            code(c.entity.as_str()),
            clock(c.first_breach)
        ));
    }
    let tops: Vec<&str> = own
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RootCauseRanked { candidates } => candidates.first().map(|c| c.entity.as_str()),
            _ => None,
        })
        .collect();
    let mut distinct: Vec<&str> = Vec::new();
    for t in &tops {
        if distinct.last() != Some(t) {
            distinct.push(t);
        }
    }
    if distinct.len() > 1 {
        q.push(format!(
            "The top root cause moved {} times ({}). Does the last one match what the responders found?",
            distinct.len() - 1,
            distinct.iter().map(|e| code(e)).collect::<Vec<_>>().join(" → ")
        ));
    } else if !p.root_causes.is_empty() {
        q.push("Does the root cause match what the responders found?".to_string());
    }
    let reopened = own.iter().filter(|e| matches!(e.kind, EventKind::Reopened)).count();
    if reopened > 0 {
        q.push(format!("It resolved and reopened {reopened} times: was it mitigated, or did it come back?"));
    }
    let acted = own.iter().any(|e| {
        matches!(e.kind, EventKind::Silenced { .. } | EventKind::Acknowledged { .. } | EventKind::RunbookStarted { .. })
    });
    if !acted {
        q.push("How was it mitigated? No action was recorded in faultline.".to_string());
    }
    q.push("Did users or customers report it before the problem opened, and through which channel?".to_string());
    q.push("What would have detected it earlier or prevented it? (action items, owners, due dates)".to_string());
    for (i, text) in q.iter().enumerate() {
        let _ = writeln!(md, "{}. {text}", i + 1);
    }
}

/// When the problem was merged away, if it was.
fn merged_at(own: &[&ProblemEvent]) -> Option<Timestamp> {
    own.iter().rev().find(|e| matches!(e.kind, EventKind::MergedInto { .. })).map(|e| e.at)
}

fn section(md: &mut String, title: &str) {
    let _ = writeln!(md, "\n## {title}\n");
}

fn describe_signal(s: &Signal) -> String {
    format!("{} {} on {}", s.kind.as_str(), escape(&s.name), code(s.entity.as_str()))
}

fn chain(path: &[Hop]) -> String {
    let mut text = String::new();
    for (i, hop) in path.iter().enumerate() {
        if i == 0 {
            text.push_str(&code(hop.from.as_str()));
        }
        let _ = write!(text, " {} {}", hop.relation.verb(), code(hop.to.as_str()));
    }
    text
}

fn list(ids: &[crate::model::EntityId]) -> String {
    ids.iter().map(|e| code(e.as_str())).collect::<Vec<_>>().join(", ")
}

/// `2026-03-02 10:25:30 UTC`.
fn date_time(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(0..10), s.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => s,
    }
}

fn clock(t: Timestamp) -> String {
    t.clock()
}

/// Whole seconds, as `49m 20s`.
fn duration(ms: i64) -> String {
    let secs = u64::try_from(ms.max(0) / 1000).unwrap_or(0);
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

/// Text from alerts and logs inside a table or paragraph: pipes would break the table, newlines
/// the row, and `<` could start HTML.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace('<', "&lt;").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> ProblemEvent {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
    }

    /// A problem with KPIs, a silence that worked, one that failed, and an acknowledgement.
    fn responded() -> Vec<ProblemEvent> {
        let t = |m: u32| format!("2026-03-02T10:{m:02}:00Z");
        vec![
            event(&format!(
                r#"{{"seq":1,"problem":1,"at":"{}","event":"opened","title":"HostDown on host:a","severity":"critical"}}"#,
                t(0)
            )),
            event(&format!(
                r#"{{"seq":2,"problem":1,"at":"{}","event":"impact_updated","impact":{{"affected":["host:a","service:shop"],"services":1,"active_signals":1,"signals":1,
                "kpis":[{{"entity":"service:shop","name":"orders|min","unit":"orders/min","value":62.0,"yesterday":100.0,"vs_yesterday":-0.38,"higher_is_better":true,"worse":true}}]}}}}"#,
                t(1)
            )),
            event(&format!(
                r#"{{"seq":3,"problem":1,"at":"{}","event":"silenced","by":"alice@bastion-1","via":"am","silences":[{{"id":"s-1","matchers":["alertname=HostDown"],"starts_at":"{}","ends_at":"2026-03-02T12:02:00Z"}}]}}"#,
                t(2),
                t(2)
            )),
            event(&format!(
                r#"{{"seq":4,"problem":1,"at":"{}","event":"silenced","by":"bob@bastion-2","via":"am","error":"HTTP 400: bad matcher"}}"#,
                t(3)
            )),
            event(&format!(r#"{{"seq":5,"problem":1,"at":"{}","event":"acknowledged","by":"carol@bastion-1"}}"#, t(4))),
            event(&format!(r#"{{"seq":6,"problem":1,"at":"{}","event":"resolved"}}"#, t(9))),
        ]
    }

    #[test]
    fn kpis_and_every_response_are_in_the_draft() {
        let provenance = Provenance { source: "j.sqlite".into(), generator: "faultline test".into() };
        let md = draft(&responded(), ProblemId(1), &provenance).expect("P-0001 is in the events");
        assert!(
            md.contains("| orders\\|min | `service:shop` | 62 orders/min | 100 | -38% | no data | – | worse |"),
            "{md}"
        );
        assert!(md.contains("| 10:02:00 | alice@bastion-1 | silence via am | 1 created until 12:02:00: s-1 |"), "{md}");
        assert!(md.contains("| 10:03:00 | bob@bastion-2 | silence via am | FAILED: HTTP 400: bad matcher |"), "{md}");
        assert!(md.contains("| 10:04:00 | carol@bastion-1 | acknowledged | – |"), "{md}");
        assert!(md.contains("| Ended | 2026-03-02 10:09:00 UTC (after 9m) |"), "{md}");
        assert!(md.contains("The engine ranked no root cause"), "{md}");
        assert!(!md.contains("No action was recorded"), "{md}");
        assert_eq!(draft(&responded(), ProblemId(2), &provenance), None);
    }

    #[test]
    fn table_text_cannot_break_the_table() {
        assert_eq!(escape("a|b\nc<script>"), "a\\|b c&lt;script>");
        assert_eq!(thousands(4_406), "4,406");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(duration(2_960_000), "49m 20s");
        assert_eq!(code("a`b"), "`a'b`");
    }
}
