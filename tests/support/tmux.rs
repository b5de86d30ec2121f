//! A real pseudo-terminal for end-to-end UI tests: tmux on its own socket, driven with
//! `send-keys` and read back with `capture-pane`. Needs `tmux` (`.ci/run` installs it).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server on its own socket, killed on drop.
pub struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    pub fn start(name: &str) -> Tmux {
        let socket = format!("faultline-e2e-{name}-{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let t = Tmux { socket, dir };
        // A plain shell at 80x24, the size the UI must work in.
        t.tmux(&["new-session", "-d", "-x", "80", "-y", "24", "sh"]);
        // Type only once the shell has printed its prompt, so the command line is echoed after it.
        t.wait_for("the shell prompt", |s| !s.trim().is_empty());
        t
    }

    pub fn tmux(&self, args: &[&str]) -> String {
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

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until the screen satisfies `ok`, or fails with the last screen.
    ///
    /// A capture can land while a frame is being drawn, with some rows new and others not yet
    /// (a legend that names what the body will show, say): the screen is returned only when a
    /// second capture a moment later satisfies `ok` too, and it is that second one, so what a
    /// test asserts next is a whole frame.
    pub fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if ok(&s) {
                std::thread::sleep(Duration::from_millis(100));
                let again = self.screen();
                if ok(&again) {
                    return again;
                }
                continue;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `faultline demo --speed SPEED` (its log in this server's directory) at the prompt.
    pub fn start_demo(&self, speed: &str) {
        let line = format!(
            "{} demo --speed {speed} --log-file {}",
            env!("CARGO_BIN_EXE_faultline"),
            self.path("faultline.log").display()
        );
        self.keys(&[&line, "Enter"]);
    }

    /// Walks the problem list's selection (`›`) with `j`/`k` to the row holding `row`, starting
    /// from the `list` screen, and waits until it is selected.
    pub fn select_problem(&self, list: &str, row: &str) {
        let rows: Vec<&str> = list.lines().filter(|l| l.contains("P-0")).collect();
        let target =
            rows.iter().position(|l| l.contains(row)).unwrap_or_else(|| panic!("{row} is not listed:\n{list}"));
        let selected = rows.iter().position(|l| l.trim_start().starts_with('›')).expect("a row is selected");
        let key = if target >= selected { "j" } else { "k" };
        for _ in 0..target.abs_diff(selected) {
            self.keys(&[key]);
        }
        self.wait_for(&format!("{row} to be selected"), |s| s.lines().any(|l| l.contains('›') && l.contains(row)));
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The pid of the faultline process running under the pane's shell.
    pub fn faultline_pid(&self) -> u32 {
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
