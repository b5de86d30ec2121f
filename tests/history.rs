//! Similar past incidents and the handover report on generated histories written to a real
//! journal, through the library and through the `faultline similar` / `faultline report` CLI.

#[path = "history/generate.rs"]
mod generate;

use faultline::history::handover::{Format, Handover, Period};
use faultline::history::load::Source;
use faultline::history::similar::outcome_line;
use faultline::history::Index;
use faultline::journal::Journal;
use faultline::model::{ProblemId, Timestamp};
use generate::{History, Incident, DAY, HOUR, WEEK_START};
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
    let report = Handover::new(summaries.values(), period, "week.sqlite", Vec::new());
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
