//! `faultline replay FILE`: a journal or an incident bundle, shown with the replay cursor, or
//! printed as JSON (`--headless`, optionally `--at TIME`).

use super::print_json;
use anyhow::{bail, Result};
use faultline::bundle::{self, Bundle, FileKind, Rederived};
use faultline::journal::Journal;
use faultline::model::{Observation, Problem, ProblemEvent, ProblemSet, Timestamp};
use faultline::ui::{self, Feed, UiOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub struct Options<'a> {
    pub headless: bool,
    /// `--at`: RFC 3339, or HH:MM[:SS] on the journal's first day.
    pub at: Option<&'a str>,
    pub log_path: PathBuf,
    /// `--theme` and `--colors`.
    pub appearance: faultline::ui::Appearance,
}

pub fn run(file: &Path, opts: Options<'_>) -> Result<()> {
    if bundle::file_kind(file)? == FileKind::Bundle {
        return run_bundle(file, opts);
    }
    let journal = Journal::open_read_only(file)?;
    let events = journal.events_after(0)?;
    if opts.headless {
        let set = match opts.at {
            None => ProblemSet::fold(&events),
            Some(text) => {
                let observations = journal.observations()?;
                let span = span(&observations, &events);
                let at = resolve_at(text, span, file)?;
                fold_until(&events, at)
            }
        };
        return print_set(&set, None);
    }
    let observations = journal.observations()?;
    open_ui(events, observations, None, format!("replay: {}", file.display()), opts.log_path, opts.appearance)
}

fn run_bundle(file: &Path, opts: Options<'_>) -> Result<()> {
    let bundle = Bundle::read(file)?;
    let rederived = bundle.rederive()?;
    if opts.headless {
        // Said on stderr as well, so a script reading the JSON still shows a person the verdict.
        eprintln!("{}: {}", file.display(), rederived.describe());
        let set = match opts.at {
            None => bundle.problems(),
            Some(text) => {
                let span = span(&bundle.observations, &bundle.events);
                fold_until(&bundle.events, resolve_at(text, span, file)?)
            }
        };
        return print_set(&set, Some((&bundle, &rederived)));
    }
    let mut observations = bundle.topology.clone();
    observations.extend(bundle.observations.iter().cloned());
    let notice = format!("{}: {}", bundle.meta.problem, rederived.describe());
    let title = format!("bundle: {} from {}", bundle.meta.problem, file.display());
    open_ui(bundle.events, observations, Some(notice), title, opts.log_path, opts.appearance)
}

/// The problems as they stood after the last event at or before `at`.
fn fold_until(events: &[ProblemEvent], at: Timestamp) -> ProblemSet {
    let mut set = ProblemSet::fold(events.iter().take_while(|e| e.at <= at));
    set.as_of = at;
    set
}

/// First and last data time of a journal or bundle (observations, else events).
fn span(observations: &[Observation], events: &[ProblemEvent]) -> Option<(Timestamp, Timestamp)> {
    let times = observations.iter().map(|o| o.at).chain(events.iter().map(|e| e.at));
    times.fold(None, |acc, t| match acc {
        None => Some((t, t)),
        Some((a, b)) => Some((a.min(t), b.max(t))),
    })
}

/// `--at`: RFC 3339, or `HH:MM[:SS]` on the first day of the data (UTC); inside the data's span.
fn resolve_at(text: &str, span: Option<(Timestamp, Timestamp)>, file: &Path) -> Result<Timestamp> {
    let Some((first, last)) = span else {
        bail!("{}: --at {text}: the file holds no data to stand at", file.display());
    };
    let at = match Timestamp::parse_rfc3339(text) {
        Ok(t) => t,
        Err(rfc) => {
            let Some(of_day) = clock_ms(text) else {
                bail!("--at {text}: not a time: give RFC 3339 (2026-03-02T10:30:00Z) or HH:MM[:SS] ({rfc})");
            };
            const DAY: i64 = 86_400_000;
            Timestamp(first.millis().div_euclid(DAY) * DAY + of_day)
        }
    };
    if at < first || at > last {
        bail!(
            "{}: --at {text} ({}) is outside the data, which runs from {} to {}",
            file.display(),
            at.to_rfc3339(),
            first.to_rfc3339(),
            last.to_rfc3339()
        );
    }
    Ok(at)
}

/// Milliseconds into the day of `HH:MM` or `HH:MM:SS`.
fn clock_ms(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<i64>().ok());
    let (h, m, s) = (n(0)?, n(1)?, n(2)?);
    (h < 24 && m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000)
}

/// The problems (newest first) as JSON; for a bundle, with what it is and whether it re-derived.
fn print_set(set: &ProblemSet, bundle: Option<(&Bundle, &Rederived)>) -> Result<()> {
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        bundle: Option<&'a bundle::BundleMeta>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rederived: Option<&'a Rederived>,
        events: u64,
        as_of: Timestamp,
        problems: Vec<&'a Problem>,
    }
    let out = Output {
        bundle: bundle.map(|(b, _)| &b.meta),
        rederived: bundle.map(|(_, r)| r),
        events: set.last_seq,
        as_of: set.as_of,
        problems: set.visible(),
    };
    print_json(&out)
}

/// The UI on a finished stream: its events, then its observations (the events first so the UI
/// knows which series an anomaly was raised on and keeps their whole history for the metric
/// context; of other series it keeps only the last minutes), opened live at the end.
fn open_ui(
    events: Vec<ProblemEvent>,
    observations: Vec<Observation>,
    notice: Option<String>,
    title: String,
    log_path: PathBuf,
    appearance: faultline::ui::Appearance,
) -> Result<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let n = events.len();
    let _ = tx.send(Feed::Events(events));
    let _ = tx.send(Feed::Observations(observations));
    let _ = tx.send(Feed::Finished { summary: format!("replayed {n} events from {title}") });
    if let Some(text) = notice {
        let _ = tx.send(Feed::Notice(text));
    }
    let opts = UiOptions {
        title,
        readonly: true,
        log_path: Some(log_path),
        operator: faultline::runbook::operator(),
        silence: None,
        runbooks: Default::default(),
        appearance,
    };
    ui::run(rx, None, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_takes_rfc3339_or_a_clock_time_on_the_first_day() {
        let day = Timestamp::parse_rfc3339("2026-03-02T10:00:00Z").unwrap();
        let end = Timestamp::parse_rfc3339("2026-03-02T11:20:00Z").unwrap();
        let f = Path::new("j.sqlite");
        let t = |s: &str| resolve_at(s, Some((day, end)), f).map(|t| t.to_rfc3339()).map_err(|e| e.to_string());
        assert_eq!(t("10:30"), Ok("2026-03-02T10:30:00.000Z".into()));
        assert_eq!(t("10:30:15"), Ok("2026-03-02T10:30:15.000Z".into()));
        assert_eq!(t("2026-03-02T11:00:00Z"), Ok("2026-03-02T11:00:00.000Z".into()));
        let before = t("09:59").unwrap_err();
        assert!(before.contains("outside the data, which runs from 2026-03-02T10:00:00.000Z"), "{before}");
        assert!(t("25:00").unwrap_err().contains("not a time"));
        assert!(t("10:3").unwrap_err().contains("not a time"));
        assert!(resolve_at("10:30", None, f).unwrap_err().to_string().contains("no data"));
    }
}
