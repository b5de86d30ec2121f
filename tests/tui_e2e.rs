//! End to end: the real binary in a real pseudo-terminal (tmux), driven by keys and read back
//! from the screen. Start the demo, open the storm problem, see its root cause, ask to silence it
//! (the demo has no Alertmanager, so the status line says why not), quit, and check
//! the terminal is back in its normal mode; and the same restoration when SIGTERM or SIGHUP
//! (an SSH drop) ends the UI.
//!
//! Needs `tmux` (`.ci/run` installs it).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::tmux::Tmux;

/// Runs the demo from the shell, then records the terminal mode and prints a marker.
fn run_demo(t: &Tmux, speed: &str) -> (PathBuf, String) {
    let stty = t.path("stty.txt");
    let marker = format!("DONE-{}", std::process::id());
    let line = format!(
        // `$((N))` so the typed line never contains the marker itself, however it wraps.
        "{} demo --speed {speed} --log-file {}; stty -a > {}; echo DONE-$(({}))",
        env!("CARGO_BIN_EXE_faultline"),
        t.path("faultline.log").display(),
        stty.display(),
        std::process::id()
    );
    t.keys(&[&line, "Enter"]);
    (stty, marker)
}

/// True when the marker the shell echoes after faultline exits is on screen (possibly after a
/// prompt).
fn marker_shown(screen: &str, marker: &str) -> bool {
    screen.lines().any(|l| l.trim_end().ends_with(marker))
}

/// The terminal mode the shell found after faultline exited: line editing and echo back on.
fn assert_restored(stty: &Path) {
    let text = std::fs::read_to_string(stty).expect("stty -a ran after faultline exited");
    let words: Vec<&str> = text.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(words.contains(&flag), "terminal not restored: `{flag}` missing in:\n{text}");
        assert!(!words.contains(&format!("-{flag}").as_str()), "terminal left with -{flag}:\n{text}");
    }
}

#[test]
fn demo_open_the_storm_problem_see_the_root_cause_quit_and_the_terminal_is_restored() {
    let t = Tmux::start("demo");
    let (stty, marker) = run_demo(&t, "1500");
    let list = t.wait_for("the scenario to finish", |s| s.contains("finished") && s.contains("host:db-1"));
    assert!(list.contains("faultline"), "{list}");

    // Walk the selection down to the storm problem's row.
    t.select_problem(&list, "host:db-1");
    t.keys(&["Enter"]);
    let detail = t.wait_for("the detail view", |s| s.contains("ROOT CAUSE") && s.contains("TIMELINE"));
    let root = detail.lines().skip_while(|l| !l.contains("ROOT CAUSE")).nth(1).unwrap_or_default();
    assert!(root.contains("#1") && root.contains("host:db-1"), "top root cause line: {root}\n{detail}");
    assert!(detail.contains("─runs on→ host:db-1"), "the evidence chain reaches the host:\n{detail}");
    // The timeline pane takes the bottom rows: the foundational cause is a few lines down.
    for _ in 0..4 {
        t.keys(&["j"]);
    }
    let detail = t.wait_for("the foundational cause", |s| s.contains("lines 5-21 of"));
    let foundational = detail.lines().skip_while(|l| !l.contains("FOUNDATIONAL CAUSE")).nth(1).unwrap_or_default();
    assert!(foundational.contains("deployment on database:orders"), "{detail}");

    // Help is generated from the keymap and closes again.
    t.keys(&["?"]);
    t.wait_for("the help overlay", |s| s.contains("quit") && s.contains("Enter"));
    t.keys(&["Escape"]);
    t.wait_for("the help to close", |s| s.contains("FOUNDATIONAL CAUSE"));

    // The demo has no Alertmanager: `s` says so in the status line and proposes nothing.
    t.keys(&["s"]);
    let notice = t.wait_for("the silence notice", |s| s.contains("no Alertmanager configured"));
    assert!(notice.contains("[[sources.alertmanager]]") && !notice.contains("POST"), "{notice}");

    t.keys(&["q"]);
    let after = t.wait_for("the shell to come back", |s| marker_shown(s, &marker));
    assert!(!after.contains("ROOT CAUSE"), "the alternate screen was left:\n{after}");
    assert_restored(&stty);
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        let t = Tmux::start(&signal.to_lowercase());
        // Slow enough that the demo is still playing when the signal arrives.
        let (stty, marker) = run_demo(&t, "10");
        t.wait_for("the UI", |s| s.contains("faultline") && s.contains("DEMO"));
        let pid = t.faultline_pid();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
        assert!(status.success());
        t.wait_for("the shell to come back", |s| marker_shown(s, &marker));
        assert_restored(&stty);
    }
}
