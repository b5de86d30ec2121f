//! End to end: the real binary in a real pseudo-terminal (tmux), driven by keys and read back
//! from the screen. Start the demo, open the storm problem, see its root cause, quit, and check
//! the terminal is back in its normal mode; and the same restoration when SIGTERM or SIGHUP
//! (an SSH drop) ends the UI.
//!
//! Needs `tmux` (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server on its own socket, killed on drop.
struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start(name: &str) -> Tmux {
        let socket = format!("faultline-e2e-{name}-{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let t = Tmux { socket, dir };
        // A plain shell at 80x24, the size the UI must work in.
        t.tmux(&["new-session", "-d", "-x", "80", "-y", "24", "sh"]);
        // Type only once the shell has printed its prompt, so the command line is echoed after it.
        t.wait_for("the shell prompt", |s| !s.trim().is_empty());
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap_or_else(|e| panic!("running tmux (install it: apt-get install tmux): {e}"));
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until the screen satisfies `ok`, or fails with the last screen.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs the demo from the shell, then records the terminal mode and prints a marker.
    fn run_demo(&self, speed: &str) -> (PathBuf, String) {
        let stty = self.path("stty.txt");
        let marker = format!("DONE-{}", std::process::id());
        let line = format!(
            // `$((N))` so the typed line never contains the marker itself, however it wraps.
            "{} demo --speed {speed} --log-file {}; stty -a > {}; echo DONE-$(({}))",
            env!("CARGO_BIN_EXE_faultline"),
            self.path("faultline.log").display(),
            stty.display(),
            std::process::id()
        );
        self.keys(&[&line, "Enter"]);
        (stty, marker)
    }

    /// The pid of the faultline process running under the pane's shell.
    fn faultline_pid(&self) -> u32 {
        let shell: u32 = self.tmux(&["display-message", "-p", "-t", "0", "#{pane_pid}"]).trim().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
                // "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
                let Some((head, rest)) = stat.rsplit_once(')') else { continue };
                let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
                if head.ends_with("(faultline") && ppid == Some(shell) {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "faultline did not start under the shell {shell}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
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
    let (stty, marker) = t.run_demo("1500");
    let list = t.wait_for("the scenario to finish", |s| s.contains("finished") && s.contains("host:db-1"));
    assert!(list.contains("faultline"), "{list}");

    // Walk the selection down to the storm problem's row.
    let rows: Vec<&str> = list.lines().filter(|l| l.contains("P-0")).collect();
    let target = rows.iter().position(|l| l.contains("host:db-1")).expect("the storm problem is listed");
    let selected = rows.iter().position(|l| l.trim_start().starts_with('›')).expect("a row is selected");
    let key = if target >= selected { "j" } else { "k" };
    for _ in 0..target.abs_diff(selected) {
        t.keys(&[key]);
    }
    t.wait_for("the storm row to be selected", |s| s.lines().any(|l| l.contains('›') && l.contains("host:db-1")));
    t.keys(&["Enter"]);
    let detail = t.wait_for("the detail view", |s| s.contains("ROOT CAUSE") && s.contains("FOUNDATIONAL CAUSE"));
    let root = detail.lines().skip_while(|l| !l.contains("ROOT CAUSE")).nth(1).unwrap_or_default();
    assert!(root.contains("#1") && root.contains("host:db-1"), "top root cause line: {root}\n{detail}");
    assert!(detail.contains("deployment on database:orders"), "{detail}");
    assert!(detail.contains("─runs on→ host:db-1"), "the evidence chain reaches the host:\n{detail}");

    // Help is generated from the keymap and closes again.
    t.keys(&["?"]);
    t.wait_for("the help overlay", |s| s.contains("quit") && s.contains("Enter"));
    t.keys(&["Escape"]);
    t.wait_for("the help to close", |s| s.contains("ROOT CAUSE"));

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
        let (stty, marker) = t.run_demo("10");
        t.wait_for("the UI", |s| s.contains("faultline") && s.contains("DEMO"));
        let pid = t.faultline_pid();
        let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
        assert!(status.success());
        t.wait_for("the shell to come back", |s| marker_shown(s, &marker));
        assert_restored(&stty);
    }
}
