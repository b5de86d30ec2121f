//! Similar past incidents and the handover report on generated histories written to a real
//! journal, through the library and through the `faultline similar` / `faultline report` CLI.

#[path = "history/generate.rs"]
mod generate;

use faultline::agent::{Agent, Upkeep};
use faultline::engine::EngineConfig;
use faultline::history::handover::{Format, Handover, Period};
use faultline::history::load::Source;
use faultline::history::similar::outcome_line;
use faultline::history::staleness::{Basis, Staleness};
use faultline::history::{store, summarize, IncidentSummary, Index};
use faultline::journal::Journal;
use faultline::model::{EntityId, EventKind, Observation, ObservationKind, ProblemId, Severity, Timestamp};
use generate::{History, Incident, Rng, DAY, HOUR, MINUTE, WEEK_START};
use std::path::{Path, PathBuf};
use std::process::Command;

fn write_journal(dir: &Path, name: &str, h: &History) -> PathBuf {
    let path = dir.join(name);
    let mut j = Journal::open(&path).expect("journal opens");
    j.append(None, &h.events).expect("events append");
    path
}

fn faultline(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .args(["--log-file", &std::env::temp_dir().join("faultline-history-test.log").display().to_string()])
        .output()
        .expect("faultline runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The week's CPU saturations, a fourth one on Sunday, and an index over the journal.
fn recurring() -> (tempfile::TempDir, PathBuf, Vec<ProblemId>, ProblemId, ProblemId) {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, cpu) = History::week();
    let disk = ProblemId(cpu.len() as u64 + 1);
    let latest = h.incident(&Incident::cpu_after_deploy(Timestamp(WEEK_START + 6 * DAY + 10 * HOUR)));
    let path = write_journal(dir.path(), "week.sqlite", &h);
    (dir, path, cpu, latest, disk)
}

#[test]
fn a_recurring_incident_finds_its_earlier_occurrences_first_with_the_runbook_that_resolved_them() {
    let (_dir, path, cpu, latest, _) = recurring();
    let summaries = Source::open(&path).unwrap().summaries(None).unwrap();
    let disk = summaries.values().find(|s| s.title.starts_with("disk_used_ratio")).expect("the disk incident").id;
    let query = summaries[&latest].clone();
    let index = Index::new(summaries.into_values());
    let found = index.similar(&query, 5);
    let ids: Vec<ProblemId> = found.iter().map(|m| m.id).collect();
    // The three earlier occurrences, most recent first (equal scores), then the other trouble
    // on the same host; the queue problems share nothing and are not offered.
    let mut expected: Vec<ProblemId> = cpu.iter().rev().copied().collect();
    expected.push(disk);
    assert_eq!(ids, expected, "{found:#?}");
    assert!(found[2].score > found[3].score, "{found:#?}");
    for m in &found[..3] {
        let s = &index.summaries()[m.index];
        assert!(m.matched.contains(&"same root-cause entity host:db-1".to_string()), "{:?}", m.matched);
        assert!(m.matched.iter().any(|x| x.starts_with("foundational cause also a deployment")), "{:?}", m.matched);
        let line = outcome_line(s);
        assert!(line.contains("lasted 35m: rollback-release by alice@bastion-1 (mitigated)"), "{line}");
    }
    assert!(!found[3].matched.iter().any(|x| x.starts_with("foundational")), "{:?}", found[3].matched);

    // The CLI says the same, with a way to replay each.
    let (ok, out, err) =
        faultline(&["similar", &latest.to_string(), "--journal", &path.display().to_string(), "--limit", "4"]);
    assert!(ok, "{err}");
    let first = out.find(&format!("1. {}", cpu[2])).expect(&out);
    let fourth = out.find(&format!("4. {disk}")).expect(&out);
    assert!(first < fourth, "{out}");
    assert!(out.contains("rollback-release by alice@bastion-1 (mitigated)"), "{out}");
    assert!(out.contains("replay: faultline replay"), "{out}");
}

#[test]
fn a_problem_with_nothing_similar_says_so() {
    let (_dir, path, _, _, _) = recurring();
    let mut h = History::new();
    // Same journal shape, but a lone problem of a kind never seen: an external API timing out.
    let mut lone = Incident::queue_lag(Timestamp(WEEK_START), "external:payments-api");
    lone.alerts = vec![("UpstreamTimeout", "external:payments-api")];
    lone.metric = "timeouts";
    h.incident(&Incident::cpu_after_deploy(Timestamp(WEEK_START - DAY)));
    let id = h.incident(&lone);
    let dir = tempfile::tempdir().unwrap();
    let other = write_journal(dir.path(), "lone.sqlite", &h);
    let (ok, out, err) = faultline(&["similar", &id.to_string(), "--journal", &other.display().to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("Nothing similar: no earlier problem of the 1 searched shares enough with P-0002"), "{out}");

    // An unknown problem is an error naming the file and what it holds.
    let (ok, _, err) = faultline(&["similar", "P-0099", "--journal", &path.display().to_string()]);
    assert!(!ok);
    assert!(err.contains("week.sqlite: no problem P-0099 in it (it holds P-0001, P-0002"), "{err}");
}

#[test]
fn the_report_of_a_period_reads_only_the_problems_alive_in_it() {
    let (_dir, path, cpu, _, _) = recurring();
    let source = Source::open(&path).unwrap();
    // Wednesday 09:00 to 12:00: the CPU saturation of that morning only (the night's queue
    // problem resolved before).
    let from = Timestamp(WEEK_START + 2 * DAY + 9 * HOUR);
    let period = Period { from, until: from.plus_ms(3 * HOUR) };
    let summaries = source.summaries_in(period).unwrap();
    let report = Handover::new(summaries.values(), period, "week.sqlite", Staleness::default());
    let ids: Vec<ProblemId> = report.problems.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![cpu[1]]);
    let text = report.render(Format::Text);
    assert!(text.contains("1 opened, 1 resolved, 0 still open."), "{text}");
    assert!(text.contains("done: rollback-release by alice@bastion-1 (mitigated)"), "{text}");
}

#[test]
fn handover_report_of_a_generated_week() {
    let (h, _) = History::week();
    let dir = tempfile::tempdir().unwrap();
    let path = write_journal(dir.path(), "week.sqlite", &h);
    let journal = path.display().to_string();
    for format in ["text", "markdown"] {
        let (ok, out, err) = faultline(&["report", "--journal", &journal, "--since", "7d", "--format", format]);
        assert!(ok, "{err}");
        let out = out.replace(&journal, "week.sqlite");
        insta::assert_snapshot!(format!("week_{format}"), out);
    }
    // Deterministic: the same file gives the same bytes.
    let once = faultline(&["report", "--journal", &journal, "--since", "7d"]).1;
    assert_eq!(once, faultline(&["report", "--journal", &journal, "--since", "7d"]).1);
}

#[test]
fn handover_report_of_the_demo_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let journal = path.display().to_string();
    let (ok, _, err) = faultline(&["demo", "--headless", "--journal", &journal]);
    assert!(ok, "{err}");
    for format in ["text", "markdown"] {
        let (ok, out, err) = faultline(&["report", "--journal", &journal, "--since", "12h", "--format", format]);
        assert!(ok, "{err}");
        insta::assert_snapshot!(format!("demo_{format}"), out.replace(&journal, "demo.sqlite"));
    }
    let (ok, _, err) = faultline(&["report", "--journal", &journal, "--since", "soon"]);
    assert!(!ok);
    assert!(err.contains("--since `soon` is not a duration"), "{err}");
}

#[test]
fn the_detail_shows_similar_past_problems_and_opens_them_in_replay_and_r_shows_the_report() {
    use faultline::ui::{render, update, Action, App, Command, Feed, UiOptions, View};
    let (mut h, cpu) = History::week();
    let latest = h.incident(&Incident::cpu_after_deploy(Timestamp(WEEK_START + 6 * DAY + 10 * HOUR)));
    let mut app = App::new(UiOptions { title: "replay: week.sqlite".into(), ..Default::default() });
    update(&mut app, Action::Resize { width: 100, height: 40 });
    update(&mut app, Action::Feed(Feed::Events(h.events.clone())));
    app.selected = Some(latest);
    update(&mut app, Action::Command(Command::Open));
    let block = app.similar.clone().expect("the detail has a similar block");
    let ids: Vec<ProblemId> = block.rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, cpu.iter().rev().copied().collect::<Vec<_>>());
    assert!(block.rows[0].outcome.contains("rollback-release by alice@bastion-1 (mitigated)"), "{:?}", block.rows[0]);

    let backend = ratatui::backend::TestBackend::new(100, 40);
    let mut terminal = ratatui::Terminal::new(backend).unwrap();
    terminal.draw(|f| render(&app, f)).unwrap();
    let screen: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
    assert!(screen.contains("SIMILAR"), "{screen}");
    assert!(screen.contains(&format!("{} 1.00", cpu[2])), "{screen}");

    // P opens the most recent occurrence as it ended: the cursor moves back, off live.
    update(&mut app, Action::Command(Command::OpenSimilar));
    assert_eq!(app.view, View::Detail(cpu[2]));
    assert!(!app.replay.is_live());
    assert!(app.problems().problems[&cpu[2]].resolved_at.is_some());
    assert!(!app.problems().problems.contains_key(&latest), "the cursor stands before the latest opened");

    // R: the handover report of the 12 hours up to the cursor, the same words as the CLI's.
    update(&mut app, Action::Command(Command::Report));
    let (lines, _) = app.report.clone().expect("the report shows");
    assert!(lines[0].starts_with("Handover 2026-03-05 22:"), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(&format!("{} critical", cpu[2]))), "{lines:?}");
    update(&mut app, Action::Command(Command::Back));
    assert!(app.report.is_none());
}

/// Three days of varied incidents, journaled out of data-time order as a busy engine does
/// (a long incident resolves after later ones opened): overlapping, some left open, some
/// reopened and resolved again, some merged into the one before, severities raised,
/// acknowledgements.
fn varied() -> History {
    let mut rng = Rng(0xF00D);
    let mut h = History::new();
    let roots = ["host:db-1", "host:web-2", "queue:payments", "database:orders"];
    let mut previous: Option<ProblemId> = None;
    for n in 0..120i64 {
        let at = Timestamp(WEEK_START + n * 36 * MINUTE);
        let mut i = match rng.below(3) {
            0 => Incident::cpu_after_deploy(at),
            1 => Incident::disk_full_same_host(at),
            _ => Incident::queue_lag(at, "queue:payments"),
        };
        i.root = roots[rng.below(roots.len() as u64) as usize];
        // Up to 10 hours: many cross the edge of a 12-hour period.
        i.minutes = 5 + rng.below(600) as i64;
        i.open = rng.below(10) == 0;
        i.repeats = rng.below(4) as usize;
        let id = h.incident(&i);
        let end = at.plus_ms(i.minutes * MINUTE);
        match rng.below(6) {
            0 if !i.open => {
                h.event(id, end.plus_ms(30 * MINUTE), EventKind::Reopened);
                h.event(id, end.plus_ms(90 * MINUTE), EventKind::Resolved);
            }
            1 => h.event(id, at.plus_ms(4 * MINUTE), EventKind::SeverityChanged { severity: Severity::Critical }),
            2 => h.event(id, at.plus_ms(6 * MINUTE), EventKind::Acknowledged { by: "carol@bastion-3".into() }),
            3 => {
                if let Some(into) = previous {
                    h.event(id, at.plus_ms(5 * MINUTE), EventKind::MergedInto { into });
                }
            }
            _ => {}
        }
        previous = Some(id);
    }
    h
}

#[test]
fn the_stored_summaries_give_the_same_reports_as_folding_every_event() {
    let h = varied();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("varied.sqlite");
    let mut j = Journal::open(&path).unwrap();
    // The agent catches up now and then; the last quarter stays after the store's seq.
    let quarter = h.events.len() / 4;
    for (n, chunk) in h.events.chunks(quarter).enumerate() {
        j.append(None, chunk).unwrap();
        if n == 0 || n == 2 {
            assert!(store::catch_up(&mut j).unwrap() > 0);
        }
    }
    let source = Source::open(&path).unwrap();
    let reader = Journal::open_read_only(&path).unwrap();
    assert!(reader.summaries_covered(store::FORMAT).unwrap() < reader.last_seq().unwrap(), "a tail to fold");

    // 12-hour periods ending every 3 hours (their ends cut through open, reopened and merged
    // problems, whose stored rows already hold later events), and the whole span.
    let mut periods: Vec<Period> = (1..=26)
        .map(|n| {
            let until = Timestamp(WEEK_START + n * 3 * HOUR);
            Period { from: until.plus_ms(-12 * HOUR), until }
        })
        .collect();
    let newest = source.newest().unwrap();
    periods.push(Period { from: newest.plus_ms(-7 * DAY), until: newest });
    let mut reported = 0;
    let mut reopened = false;
    for period in &periods {
        assert!(store::read(&reader, period.from, period.until).unwrap().is_some(), "the store is read");
        let stored = source.summaries_in(*period).unwrap();
        let folded = source.folded_in(*period).unwrap();
        for format in [Format::Text, Format::Markdown] {
            let fast = Handover::new(stored.values(), *period, "varied", Staleness::default());
            let full = Handover::new(folded.values(), *period, "varied", Staleness::default());
            let (fast, full) = (fast.render(format), full.render(format));
            assert_eq!(fast, full, "{period:?} {format:?}");
            reopened |= fast.contains("reopened 1 time(s)");
        }
        let alive = |m: &std::collections::BTreeMap<ProblemId, IncidentSummary>| {
            let report = Handover::new(m.values(), *period, "varied", Staleness::default());
            report.problems.into_iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(alive(&stored), alive(&folded), "{period:?}");
        reported += alive(&stored).len();
    }
    assert!(reported > 100, "the periods hold problems: {reported}");
    assert!(reopened, "a reopened problem was reported");

    // Every summary, as `faultline similar` reads them, before and after the last catch-up.
    let every = summarize(&h.events);
    assert_eq!(source.summaries(None).unwrap(), every);
    store::catch_up(&mut j).unwrap();
    assert_eq!(reader.summaries_covered(store::FORMAT).unwrap(), reader.last_seq().unwrap());
    assert_eq!(source.summaries(None).unwrap(), every);
}

fn metric(source: &str, at: Timestamp) -> Observation {
    Observation {
        at,
        source: source.into(),
        kind: ObservationKind::Metric {
            entity: EntityId::new("host:db-1"),
            metric: "up".into(),
            samples: vec![(at, 1.0)],
        },
    }
}

#[test]
fn recorded_source_health_decides_what_was_stale_not_gaps_in_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("health.sqlite");
    let start = Timestamp(WEEK_START);
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(Upkeep { skip_quiet: true, ..Upkeep::default() });
    // A healthy source polled every 5 minutes, and a tick each minute between that moves no
    // time (the engine calls it quiet and the agent does not journal it): 12 hours of it.
    let mut out = Vec::new();
    let (mut metrics, mut skipped) = (0, 0);
    let mut last = start;
    for m in 0..12 * 60 {
        if m % 5 == 0 {
            last = start.plus_ms(m * MINUTE);
            assert!(agent.feed(&metric("prometheus", last), &mut out).unwrap(), "a metric is always journaled");
            metrics += 1;
        }
        let tick = Observation { at: last, source: "engine".into(), kind: ObservationKind::Tick };
        if !agent.feed(&tick, &mut out).unwrap() {
            skipped += 1;
        }
    }
    assert!(skipped > 0, "quiet observations were left out");
    let until = start.plus_ms(12 * HOUR - MINUTE);
    let period = Period { from: start, until };
    let j = agent.journal().unwrap();
    // Skipped quiet observations are never metrics, so the data-gap rule sees every sample.
    assert_eq!(j.data_times(start, until).unwrap().len(), metrics);

    // Without recorded health, the gap rule guesses; a 5-minute poll reads as stale throughout.
    let guessed = Source::open(&path).unwrap().stale(period).unwrap();
    assert_eq!(guessed.basis, Basis::DataGaps);
    assert_eq!(guessed.stretches.len(), 12 * 60 / 5);

    // As the agent records it: healthy from its first pull, one outage of 20 minutes at 10:00.
    let j = agent.journal_mut().unwrap();
    assert!(j.record_source_health("prometheus", start, None).unwrap());
    assert!(!j.record_source_health("prometheus", start.plus_ms(5 * MINUTE), None).unwrap(), "no change, no row");
    let down = start.plus_ms(10 * HOUR);
    assert!(j.record_source_health("prometheus", down, Some("connection refused")).unwrap());
    assert!(!j.record_source_health("prometheus", down.plus_ms(MINUTE), Some("timed out")).unwrap());
    assert!(j.record_source_health("prometheus", down.plus_ms(20 * MINUTE), None).unwrap());
    assert!(j.record_source_health("alertmanager", start, None).unwrap());
    let known = Source::open(&path).unwrap().stale(period).unwrap();
    assert_eq!(known.basis, Basis::Health);
    let got: Vec<(&str, i64, i64, Option<&str>)> = known
        .stretches
        .iter()
        .map(|s| (s.source.as_str(), s.from.since(start) / MINUTE, s.until.since(start) / MINUTE, s.reason.as_deref()))
        .collect();
    assert_eq!(got, vec![("prometheus", 600, 620, Some("connection refused"))]);

    // The CLI says so, with why; a period with no outage names the sources known healthy.
    drop(agent);
    let journal = path.display().to_string();
    let (ok, out, err) = faultline(&["report", "--journal", &journal, "--since", "12h"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("- prometheus stale 1 time(s), 20m in all, longest 20m from 10:00:00 (connection refused)"),
        "{out}"
    );
    let (ok, out, err) = faultline(&["report", "--journal", &journal, "--since", "1h"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Every source was healthy throughout, as the agent saw it: alertmanager, prometheus."),
        "{out}"
    );
}
