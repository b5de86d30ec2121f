//! End to end in tmux on the demo: `:` then `db-1` then Enter jumps to host:db-1's signals;
//! `/` narrows the problem list as it is typed and Esc clears it.
//!
//! Needs `tmux` (`.ci/run` installs it).

mod support;

use support::tmux::Tmux;

#[test]
fn demo_palette_jumps_to_db_1_signals_and_the_filter_narrows_the_list() {
    let t = Tmux::start("palette");
    t.start_demo("1500");
    t.wait_for("the scenario to finish", |s| s.contains("finished") && s.contains("host:db-1"));

    t.keys(&[":"]);
    t.wait_for("the palette", |s| s.contains("Enter go · Esc close"));
    t.keys(&["db-1"]);
    let palette = t.wait_for("the entity match", |s| s.contains(": db-1") && s.contains("› entity   host:db-1"));
    assert!(palette.contains("problem  P-"), "{palette}");
    t.keys(&["Enter"]);
    let detail = t.wait_for("host:db-1's signals", |s| s.contains("host:db-1: signals in P-"));
    let rows: Vec<&str> = detail.lines().collect();
    let signals = rows.iter().position(|r| r.starts_with("SIGNALS")).unwrap_or_else(|| panic!("{detail}"));
    assert!(rows[signals..].iter().any(|r| r.contains("host:db-1")), "{detail}");

    // Back to the list, then narrow it to the problem on the message queue host.
    t.keys(&["Escape"]);
    t.wait_for("the list", |s| s.contains("problems (3)") && s.contains("HEADLINE · by severity"));
    t.keys(&["/"]);
    t.keys(&["mq"]);
    let narrowed = t.wait_for("the narrowed list", |s| s.contains("problems (1 of 3)") && s.contains("/ mq"));
    let listed: Vec<&str> = narrowed.lines().filter(|l| l.contains("P-0")).collect();
    assert_eq!(listed.len(), 1, "{narrowed}");
    assert!(listed[0].contains("host:mq"), "{narrowed}");
    t.keys(&["Escape"]);
    t.wait_for("the whole list again", |s| {
        s.contains("problems (3)") && s.contains("HEADLINE · by severity") && !s.contains("/ mq")
    });
    t.keys(&["q"]);
}
