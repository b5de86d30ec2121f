//! End to end: the real binary in tmux draws the theme it is asked for. `faultline demo --theme
//! light` puts the light theme's title and status bar colours on screen (read back as SGR escape
//! codes with `capture-pane -e`) and the dark default does not; `--colors 16` and a 16-colour
//! TERM draw with ANSI colours only; a bad keymap file neither stops the UI nor loses a good
//! theme file beside it, and the status line names the file, line and key.
//!
//! Needs `tmux` (`.ci/run` installs it).

mod support;

use std::path::Path;
use support::tmux::Tmux;

/// The light theme's status bar background (#e4e4e4) and title background (#d0d0d0).
const LIGHT_STATUS_BG: &str = "48;2;228;228;228";
const LIGHT_TITLE_BG: &str = "48;2;208;208;208";
/// The dark theme's status bar background (#262626).
const DARK_STATUS_BG: &str = "48;2;38;38;38";

/// Types `env faultline demo ARGS; echo MARKER` into the pane's shell, with `xdg` as the config
/// home (so the user's real files never count). Returns the marker the shell prints on exit.
fn start_demo(t: &Tmux, xdg: &Path, env: &str, args: &str) -> String {
    let line = format!(
        "XDG_CONFIG_HOME={} {env} {} demo --speed 600 --log-file {} {args}; echo DONE-$(({}))",
        xdg.display(),
        env!("CARGO_BIN_EXE_faultline"),
        t.path("faultline.log").display(),
        std::process::id()
    );
    t.keys(&[&line, "Enter"]);
    format!("DONE-{}", std::process::id())
}

/// The screen with its colours as SGR escape codes.
fn styled_screen(t: &Tmux) -> String {
    t.tmux(&["capture-pane", "-e", "-p", "-t", "0"])
}

/// Waits for the UI's status line, then returns the styled screen.
fn wait_for_ui(t: &Tmux) -> String {
    t.wait_for("the UI's status line", |s| s.contains("? help") && s.contains("faultline"));
    styled_screen(t)
}

/// Quits with `q` and waits for the shell's marker.
fn quit(t: &Tmux, marker: &str) {
    t.keys(&["q"]);
    t.wait_for("faultline to exit", |s| s.lines().any(|l| l.trim_end().ends_with(marker)));
}

/// The numbers of every SGR sequence on `screen`, e.g. `["1", "38;5;0"]`.
fn sgr_codes(screen: &str) -> Vec<String> {
    screen.split("\x1b[").skip(1).filter_map(|rest| rest.split_once('m').map(|(codes, _)| codes.to_string())).collect()
}

/// True when the screen uses only the 16 ANSI colours: no RGB, no palette index above 15.
fn only_ansi16(screen: &str) -> bool {
    sgr_codes(screen).iter().all(|codes| {
        let parts: Vec<&str> = codes.split(';').collect();
        parts.windows(3).all(|w| match (w[0], w[1]) {
            ("38" | "48", "2") => false,
            ("38" | "48", "5") => w[2].parse::<u8>().is_ok_and(|i| i < 16),
            _ => true,
        })
    })
}

#[test]
fn demo_theme_light_draws_its_colours_and_the_dark_default_does_not() {
    let t = Tmux::start("theme-light");
    let xdg = tempfile::tempdir().unwrap();

    let marker = start_demo(&t, xdg.path(), "COLORTERM=truecolor", "--theme light");
    let light = wait_for_ui(&t);
    assert!(light.contains(LIGHT_STATUS_BG), "light status bar colour missing:\n{light}");
    assert!(light.contains(LIGHT_TITLE_BG), "light title colour missing:\n{light}");
    assert!(!light.contains(DARK_STATUS_BG), "dark status bar colour in the light theme:\n{light}");
    quit(&t, &marker);

    t.keys(&["clear", "Enter"]);
    let marker = start_demo(&t, xdg.path(), "COLORTERM=truecolor", "");
    let dark = wait_for_ui(&t);
    assert!(dark.contains(DARK_STATUS_BG), "dark status bar colour missing:\n{dark}");
    assert!(
        !dark.contains(LIGHT_STATUS_BG) && !dark.contains(LIGHT_TITLE_BG),
        "light colours in the dark run:\n{dark}"
    );
    quit(&t, &marker);
}

#[test]
fn sixteen_colours_from_the_flag_or_from_term() {
    let t = Tmux::start("theme-16");
    let xdg = tempfile::tempdir().unwrap();

    // The flag wins over COLORTERM.
    let marker = start_demo(&t, xdg.path(), "COLORTERM=truecolor", "--theme light --colors 16");
    let screen = wait_for_ui(&t);
    assert!(only_ansi16(&screen), "colours beyond the 16 ANSI ones:\n{screen}");
    // The light status bar (#e4e4e4) is bright white (15), its text (#262626) black (0).
    assert!(screen.contains("38;5;0m\x1b[48;5;15m"), "the light status bar in 16 colours:\n{screen}");
    quit(&t, &marker);

    // A 16-colour TERM with no COLORTERM decides by itself.
    t.keys(&["clear", "Enter"]);
    let marker = start_demo(&t, xdg.path(), "TERM=linux COLORTERM=", "");
    let screen = wait_for_ui(&t);
    assert!(only_ansi16(&screen), "TERM=linux drew colours beyond the 16 ANSI ones:\n{screen}");
    assert!(!screen.contains(DARK_STATUS_BG), "{screen}");
    quit(&t, &marker);
}

#[test]
fn a_bad_keymap_leaves_the_ui_up_with_the_defaults_a_notice_and_the_good_theme_file() {
    let t = Tmux::start("theme-bad-keymap");
    // Wide enough for the whole notice on the status line.
    t.tmux(&["resize-window", "-t", "0", "-x", "200", "-y", "24"]);
    let xdg = tempfile::tempdir().unwrap();
    let dir = xdg.path().join("faultline");
    std::fs::create_dir_all(&dir).unwrap();
    let keymap = dir.join("keymap.toml");
    std::fs::write(&keymap, "# mine\n[down]\nkeys = [\"j\", \"s\"]\n").unwrap();
    // A good theme file beside it still applies: a status bar colour no built-in theme has.
    std::fs::write(dir.join("theme.toml"), "[ui]\nstatus_bar = { fg = \"#ffffff\", bg = \"#5f0087\" }\n").unwrap();

    let marker = start_demo(&t, xdg.path(), "COLORTERM=truecolor", "");
    let notice = format!("{}:3: `down.keys[1]`: `s` is already bound to `silence`", keymap.display());
    t.wait_for("the notice naming the bad keymap", |s| s.contains(&notice));
    let screen = styled_screen(&t);
    assert!(screen.contains("48;2;95;0;135"), "the good theme.toml was not applied:\n{screen}");
    let log = std::fs::read_to_string(t.path("faultline.log")).unwrap();
    assert!(log.contains("WARN") && log.contains(&notice), "the problem is logged:\n{log}");
    // The built-in keymap works: `q` quits.
    quit(&t, &marker);
}
