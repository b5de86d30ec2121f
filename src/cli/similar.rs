//! `faultline similar P-0042 --journal FILE [--bundle B ...]`: the earlier problems most like
//! one problem, each with why it matched, when it was, how long it lasted, what resolved it, and
//! the command that replays it.

use anyhow::{bail, Result};
use faultline::history::load::Source;
use faultline::history::similar::{merge_sources, outcome_line};
use faultline::history::Index;
use faultline::model::ProblemId;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub fn run(problem: &str, journal: &Path, bundles: &[PathBuf], limit: usize) -> Result<()> {
    let id: ProblemId = problem.parse().map_err(anyhow::Error::msg)?;
    let source = Source::open(journal)?;
    let own = source.summaries(None)?;
    let Some(query) = own.get(&id).cloned() else {
        let known: Vec<String> = own.keys().take(5).map(ProblemId::to_string).collect();
        let more = if own.len() > 5 { format!(" and {} more", own.len() - 5) } else { String::new() };
        bail!("{}: no problem {id} in it (it holds {}{more})", journal.display(), list_or_none(&known));
    };
    let mut imported = Vec::new();
    for b in bundles {
        imported.push((b.display().to_string(), Source::open(b)?.summaries(None)?));
    }
    let index = Index::new(merge_sources(own, imported));
    let found = index.similar(&query, limit);
    super::print_text(&render(&query, &index, &found, journal))
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "no problems".to_string()
    } else {
        ids.join(", ")
    }
}

fn render(
    query: &faultline::history::IncidentSummary,
    index: &Index,
    found: &[faultline::history::Match],
    journal: &Path,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} ({}): {}", query.id, query.severity, query.headline());
    if found.is_empty() {
        let _ = writeln!(
            out,
            "Nothing similar: no earlier problem of the {} searched shares enough with {} (root cause, signals, log \
             templates, foundational cause, services).",
            index.len().saturating_sub(1),
            query.id
        );
        return out;
    }
    let _ = writeln!(out, "Similar earlier problems ({} of {} searched):", found.len(), index.len().saturating_sub(1));
    for (n, m) in found.iter().enumerate() {
        let s = &index.summaries()[m.index];
        let from = if s.origin.is_empty() { String::new() } else { format!(" (bundle {})", s.origin) };
        let _ = writeln!(out, "\n{}. {}{from}, score {:.2}: {}", n + 1, s.id, m.score, s.headline());
        let _ = writeln!(out, "   {}", outcome_line(s));
        let _ = writeln!(out, "   matched: {}", m.matched.join("; "));
        let file = if s.origin.is_empty() { journal.display().to_string() } else { s.origin.clone() };
        let _ = writeln!(out, "   replay: faultline replay {file} --headless --at {}", s.opened_at.to_rfc3339());
    }
    out
}
