//! End to end: the replay cursor in the real binary, in a real pseudo-terminal (tmux). The demo
//! journal (`faultline demo --headless --journal`) opened with `faultline replay`: open the storm
//! problem (P-0003), step back with `{` to its first root-cause ranking (the detail shows that
//! earlier ranking, not the final one), forward with `]` to its last event (the final ranking),
//! and `L` back to live (REPLAY leaves the status bar).
//!
//! Needs `tmux` (`.ci/run` installs it).

mod support;

use std::process::Command;
use support::tmux::Tmux;

/// The line under `ROOT CAUSE`: the top candidate (`#1`).
fn top_candidate(screen: &str) -> String {
    screen.lines().skip_while(|l| !l.contains("ROOT CAUSE")).nth(1).unwrap_or_default().trim().to_string()
}

fn status_line(screen: &str) -> String {
    screen.lines().last().unwrap_or_default().to_string()
}

#[test]
fn replay_the_storm_back_to_its_first_ranking_forward_to_the_last_and_back_to_live() {
    let t = Tmux::start("replay");
    let journal = t.path("demo.db");
    let bin = env!("CARGO_BIN_EXE_faultline");
    let out = Command::new(bin).args(["demo", "--headless", "--journal"]).arg(&journal).output().unwrap();
    assert!(out.status.success(), "demo --headless: {}", String::from_utf8_lossy(&out.stderr));
    // P-0003 is the storm: its root cause is the saturated database host (it opens on the first
    // samples of the host's and postgres's CPU, and its title names the one that opened it).
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("demo --headless prints JSON");
    let storm = json["problems"].as_array().unwrap().iter().find(|p| p["id"] == 3).expect("P-0003 is in the demo");
    assert_eq!(storm["root_causes"][0]["entity"], "host:db-1", "{storm}");

    let line = format!("{bin} replay {} --log-file {}", journal.display(), t.path("faultline.log").display());
    t.keys(&[&line, "Enter"]);
    let list = t.wait_for("the replayed list", |s| s.contains("replayed") && s.contains("P-0003"));
    assert!(!status_line(&list).contains("REPLAY"), "opens live, at the end: {list}");

    // Select P-0003 and open it.
    t.select_problem(&list, "P-0003");
    t.keys(&["Enter"]);
    let live = t.wait_for("the detail of P-0003", |s| s.contains("ROOT CAUSE") && s.contains("TIMELINE"));
    let final_top = top_candidate(&live);
    assert!(final_top.starts_with("#1") && final_top.contains("host:db-1"), "{final_top}\n{live}");

    // `{` until there is no earlier ranking change: the cursor is on the first ranking.
    for _ in 0..40 {
        t.keys(&["{"]);
        if t.screen().contains("no earlier ranking of P-0003") {
            break;
        }
    }
    let first = t.wait_for("the first ranking", |s| s.contains("no earlier ranking of P-0003"));
    let status = status_line(&first);
    assert!(status.contains("REPLAY 10:25:30"), "the cursor's data time: {status}");
    let first_top = top_candidate(&first);
    assert!(first_top.starts_with("#1"), "{first}");
    assert_ne!(first_top, final_top, "the first ranking differs from the final one:\n{first}");
    let cursor = first.lines().find(|l| l.starts_with('▶')).unwrap_or_default();
    assert!(cursor.contains("ranked:"), "the timeline cursor is on the first ranking: {cursor}\n{first}");

    // `]` to P-0003's last event: the final ranking again, still in replay.
    let last = {
        for _ in 0..30 {
            t.keys(&["]", "]", "]", "]", "]"]);
            if t.screen().contains("last event of P-0003") {
                break;
            }
        }
        t.wait_for("the last event", |s| s.contains("last event of P-0003"))
    };
    assert_eq!(top_candidate(&last), final_top, "{last}");
    assert!(status_line(&last).contains("REPLAY"), "{last}");

    // `L`: live again. The data time is the freshest data: the journal's last observation
    // (11:20:00), after the last problem event (11:18:10).
    t.keys(&["L"]);
    let back = t.wait_for("live", |s| !status_line(s).contains("REPLAY") && s.contains("data 11:20:00"));
    assert_eq!(top_candidate(&back), final_top, "{back}");
    t.keys(&["q"]);
}
