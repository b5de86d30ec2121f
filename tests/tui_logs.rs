//! Logs in the console: the detail's LOGS block and the `v` log pane, on the demo scenario played
//! through the real engine (its raw log lines mined by the scenario reader as a log source would),
//! drawn on ratatui's TestBackend; and once end to end, the real binary in tmux (needs `tmux`).

use crossterm::event::KeyCode;
use faultline::sources::fixture;
use faultline::ui::views::detail;
use faultline::ui::{App, UiOptions, View};
use ratatui::style::Modifier;
use std::path::Path;

mod support;

#[path = "tui/screen.rs"]
mod screen;
use screen::{demo_app, draw, key, rows, screen, type_text};

use screen::DEMO_SCENARIO as SCENARIO;

/// The demo with the detail of the problem whose root cause is the demo's expected one open.
fn storm_detail(width: u16, height: u16) -> App {
    let mut app = demo_app(width, height);
    let expect = fixture::load(Path::new(SCENARIO)).unwrap().header.expect.unwrap();
    let id = app
        .problems()
        .problems
        .values()
        .find(|p| p.root_causes.first().is_some_and(|c| c.entity == expect.root_cause))
        .map(|p| p.id)
        .expect("the storm's problem");
    app.view = View::Detail(id);
    app
}

#[test]
fn the_detail_lists_the_top_templates_with_a_sample_line_each() {
    let app = storm_detail(120, 40);
    let problem = app.detail_problem().unwrap();
    let lines: Vec<String> = detail::all_lines(&app, problem, 120).iter().map(|l| l.to_string()).collect();
    let logs = lines.iter().position(|l| l.starts_with("LOGS")).unwrap_or_else(|| panic!("{}", lines.join("\n")));
    assert!(lines[logs].contains("v: log lines around onset"), "{}", lines[logs]);
    let signals = lines.iter().position(|l| l.starts_with("SIGNALS")).unwrap();
    assert!(signals < logs, "the root cause and signals come first");
    let block = &lines[logs + 1..];
    // The top template is the orders-db timeout, with its count and a raw line of it below.
    let first = &block[0];
    assert!(
        first.contains("ERROR timeout after <*>") && first.contains("waiting for orders-db"),
        "{}",
        block.join("\n")
    );
    assert!(first.contains("major"), "{first}");
    let count: u64 = first.split('×').next().unwrap().trim().replace(',', "").parse().expect("a count first");
    assert!(count >= 5, "{first}");
    assert!(block[1].contains("ERROR timeout after") && block[1].contains("waiting for orders-db"), "{}", block[1]);
    // Counts go down the list; at most five templates, the rest summed up.
    let counts: Vec<u64> = block
        .iter()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.contains('×'))
        .map(|l| l.split('×').next().unwrap().trim().replace(',', "").parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(counts.len() <= 5, "{counts:?}");
}

#[test]
fn the_log_pane_opens_at_onset_searches_and_steps_between_matches() {
    let mut app = storm_detail(120, 30);
    key(&mut app, KeyCode::Char('v'));
    assert!(app.log_pane.is_some(), "{}", screen(&app));
    let text = screen(&app);
    assert!(text.lines().nth(1).is_some_and(|l| l.starts_with("LOGS")), "{text}");
    assert!(text.contains("/ search · n/N next/previous match · Esc back"), "{text}");
    // It opens around onset: the first line shown is shortly before the problem opened.
    let lines = app.log_pane_lines();
    let top = app.log_pane_top(&lines);
    let opened = app.detail_problem().unwrap().opened_at;
    assert!(lines[top].1.at <= opened && lines[top + 3].1.at >= opened, "top {top}");

    key(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "hikaripool");
    assert!(screen(&app).contains("/hikaripool▏"), "{}", screen(&app));
    key(&mut app, KeyCode::Enter);
    let first = app.log_pane.as_ref().and_then(|p| p.current).expect("a current match");
    assert!(app.log_pane_lines()[first].1.line.contains("HikariPool"));
    let buffer = draw(&app);
    let shown = rows(&buffer);
    let y = shown.iter().position(|r| r.starts_with('▶')).expect("the current match is marked");
    assert!(shown[y].contains("HikariPool"), "{}", shown[y]);
    // The match itself is drawn in the selection style (reversed: visible without colour).
    let x = shown[y].chars().collect::<Vec<_>>().windows(10).position(|w| w.iter().collect::<String>() == "HikariPool");
    let cell = &buffer[(x.expect("the match on the row") as u16, y as u16)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");
    assert!(shown[0].contains("matches"), "{}", shown[0]);

    // n goes to a later match, N back to the first.
    key(&mut app, KeyCode::Char('n'));
    let second = app.log_pane.as_ref().and_then(|p| p.current).unwrap();
    assert!(second > first);
    assert!(app.log_pane_lines()[second].1.line.contains("HikariPool"));
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(app.log_pane.as_ref().and_then(|p| p.current), Some(first));
    // `n` in the pane is the search's, not the plan's cancel; Esc closes back to the detail.
    key(&mut app, KeyCode::Esc);
    assert!(app.log_pane.is_none());
    assert!(matches!(app.view, View::Detail(_)));
}

#[test]
fn lines_are_coloured_by_level_from_the_theme() {
    let mut app = storm_detail(120, 30);
    key(&mut app, KeyCode::Char('v'));
    let buffer = draw(&app);
    let shown = rows(&buffer);
    let style_at = |needle: &str| {
        let y = shown.iter().position(|r| r.contains(needle))?;
        let x = shown[y]
            .chars()
            .collect::<Vec<_>>()
            .windows(needle.len())
            .position(|w| w.iter().collect::<String>() == needle)?;
        Some(Some(buffer[(x as u16, y as u16)].fg))
    };
    assert_eq!(style_at("ERROR timeout"), Some(app.theme.log.error.fg), "{}", shown.join("\n"));
    assert_ne!(app.theme.log.error.fg, app.theme.log.info.fg);
    if let Some(fg) = style_at("INFO ") {
        assert_eq!(fg, app.theme.log.info.fg);
    }
    if let Some(fg) = style_at("WARN HikariPool") {
        assert_eq!(fg, app.theme.log.warn.fg);
    }
}

#[test]
fn the_pane_shows_no_line_after_the_replay_cursor() {
    let mut app = storm_detail(120, 30);
    key(&mut app, KeyCode::Char('v'));
    let live = app.log_pane_lines().len();
    // Step the cursor back through the problem's events: the pane keeps only lines up to it.
    for _ in 0..30 {
        key(&mut app, KeyCode::Char('['));
    }
    let as_of = app.problems().as_of;
    let lines = app.log_pane_lines();
    assert!(lines.len() < live, "{} of {live}", lines.len());
    assert!(lines.iter().all(|(_, l)| l.at <= as_of));
    assert!(app.log_pane.is_some(), "replay keys leave the pane open");
}

#[test]
fn no_logs_says_so_instead_of_opening_an_empty_pane() {
    let mut app = App::new(UiOptions::default());
    key(&mut app, KeyCode::Char('v'));
    assert!(app.log_pane.is_none());
    assert_eq!(app.notice.as_deref(), Some("no problem selected"));
}

/// The demo in a real terminal: open the storm problem, open its logs with `v`, search a word,
/// and see the current match marked and drawn in reverse video (the selection style).
#[test]
fn e2e_demo_log_pane_search_highlights_the_match() {
    let t = support::tmux::Tmux::start("logs");
    t.start_demo("1500");
    let list = t.wait_for("the scenario to finish", |s| s.contains("finished") && s.contains("host:db-1"));
    t.select_problem(&list, "host:db-1");
    t.keys(&["Enter"]);
    t.wait_for("the detail view", |s| s.contains("ROOT CAUSE"));
    t.keys(&["v"]);
    t.wait_for("the log pane", |s| s.lines().nth(1).is_some_and(|l| l.starts_with("LOGS")) && s.contains("Esc back"));
    t.keys(&["/"]);
    for c in "timeout".chars() {
        t.keys(&[&c.to_string()]);
    }
    t.wait_for("the search line", |s| s.contains("/timeout▏"));
    t.keys(&["Enter"]);
    t.wait_for("the current match", |s| s.lines().any(|l| l.starts_with('▶') && l.contains("timeout")));
    // With escapes: the word on the marked line is drawn in reverse video.
    let escaped = t.tmux(&["capture-pane", "-p", "-e", "-t", "0"]);
    let marked = escaped.lines().find(|l| l.contains('▶')).expect("the marked line");
    let at = marked.find("timeout").expect("the word on the marked line");
    let before = &marked[..at];
    let sgr_start = before.rfind(|c: char| c != '\x1b' && !c.is_ascii_digit() && c != ';' && c != '[' && c != 'm');
    let sgr = &before[sgr_start.map_or(0, |i| i + 1)..];
    assert!(sgr.split(['[', ';', 'm']).any(|p| p == "7"), "no reverse video before the match: {sgr:?} in {marked:?}");
    t.keys(&["Escape"]);
    t.wait_for("the detail again", |s| s.contains("ROOT CAUSE"));
    t.keys(&["q"]);
}
