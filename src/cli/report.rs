//! `faultline report --journal FILE --since 12h`: the on-call handover report of a period (see
//! `history::handover`), on a journal or a bundle. The period ends at the file's newest data
//! time unless `--until` says otherwise.

use anyhow::{bail, Result};
use faultline::history::handover::{Format, Handover, Period};
use faultline::history::load::Source;
use faultline::model::{time::parse_duration_ms, Timestamp};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Headings and lists, for a ticket or a wiki page.
    Markdown,
    /// Short plain lines that fit a chat message.
    Text,
}

pub fn run(journal: &Path, since: &str, until: Option<&str>, format: ReportFormat) -> Result<()> {
    let length = parse_duration_ms(since).map_err(|e| anyhow::anyhow!("--since {e}"))?;
    if length <= 0 {
        bail!("--since {since}: the period must be longer than zero");
    }
    let source = Source::open(journal)?;
    let until = match until {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| anyhow::anyhow!("--until {e}"))?,
        None => source.newest()?,
    };
    let period = Period { from: until.plus_ms(-length), until };
    let summaries = source.summaries_in(period)?;
    let stale = source.stale(period)?;
    let report = Handover::new(summaries.values(), period, &journal.display().to_string(), stale);
    let format = match format {
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Text => Format::Text,
    };
    super::print_text(&report.render(format))
}
