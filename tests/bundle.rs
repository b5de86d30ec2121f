//! Incident bundles, post-mortem drafts and `replay --headless --at` through the real binary,
//! on the demo's journal: a bundle replays to the same problem as the journal it came from and
//! re-derives its events exactly; an altered event is reported with its seq; bad input (a
//! truncated bundle, a newer format, `--at` outside the data, a problem that does not exist)
//! ends with a clear message, exit status 1 and nothing written.

use faultline::model::{Problem, ProblemSet, Timestamp};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The reviewed post-mortem draft of the demo's storm (UPDATE_SNAPSHOTS=1 rewrites it).
const POSTMORTEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/postmortem/demo-P-0003.md");

fn faultline(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .arg("--log-file")
        .arg(dir.join("faultline.log"))
        .output()
        .expect("running the faultline binary")
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "faultline failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

/// Exit status 1, nothing on stdout, and the message on stderr.
fn refused(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected a refusal; stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "a refusal prints nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.starts_with("faultline: error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The demo's journal, written once for all tests of this file.
fn demo_journal() -> &'static Path {
    static JOURNAL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = JOURNAL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.sqlite");
        ok(faultline(&["demo", "--headless", "--journal", s(&path)], dir.path()));
        (dir, path)
    });
    path
}

#[derive(Deserialize)]
struct Headless {
    #[serde(default)]
    rederived: Option<serde_json::Value>,
    as_of: Timestamp,
    problems: Vec<serde_json::Value>,
}

fn headless(out: &Output) -> Headless {
    serde_json::from_slice(&out.stdout).expect("headless output is JSON")
}

fn problem(h: &Headless, id: u64) -> &serde_json::Value {
    h.problems.iter().find(|p| p["id"] == id).unwrap_or_else(|| panic!("P-{id:04} in the output"))
}

/// The demo's storm: the problem whose root cause is host:db-1.
fn storm_id(dir: &Path) -> u64 {
    let out = ok(faultline(&["replay", s(demo_journal()), "--headless"], dir));
    let h = headless(&out);
    let storm =
        h.problems.iter().find(|p| p["root_causes"][0]["entity"] == "host:db-1").expect("the demo has the db-1 storm");
    storm["id"].as_u64().unwrap()
}

fn export_bundle(dir: &Path, id: u64) -> PathBuf {
    let bundle = dir.join("incident.faultline");
    let out = ok(faultline(&["export", &format!("P-{id:04}"), "--journal", s(demo_journal()), "-o", s(&bundle)], dir));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("observations and") && said.contains("events from"), "{said}");
    bundle
}

#[test]
fn a_bundle_replays_to_the_same_problem_and_re_derives_its_events_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let id = storm_id(dir.path());
    assert_eq!(id, 3, "the README and the tmux test call the storm P-0003");
    let bundle = export_bundle(dir.path(), id);

    let from_journal = headless(&ok(faultline(&["replay", s(demo_journal()), "--headless"], dir.path())));
    let out = ok(faultline(&["replay", s(&bundle), "--headless"], dir.path()));
    let from_bundle = headless(&out);
    assert_eq!(problem(&from_bundle, id), problem(&from_journal, id), "the problem as the bundle replays it");

    let verdict = from_bundle.rederived.expect("a bundle's replay says whether it re-derived");
    assert!(verdict.get("mismatch").is_none(), "{verdict}");
    assert!(verdict["recorded"].as_u64().unwrap() > 100, "{verdict}");
    assert_eq!(verdict["recorded"], verdict["rederived"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("all") && said.contains("events match exactly"), "{said}");

    // The topology it needs: as of a moment of the incident, the same as the journal's.
    let at = ["--topology-at", "2026-03-02T10:30:00Z"];
    let from_bundle = ok(faultline(&[&["replay", s(&bundle)][..], &at[..]].concat(), dir.path()));
    let from_journal = ok(faultline(&[&["replay", s(demo_journal())][..], &at[..]].concat(), dir.path()));
    let strip = |o: &Output| String::from_utf8_lossy(&o.stdout).lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&from_bundle), strip(&from_journal));
    assert!(strip(&from_bundle).contains("host:db-1 (host"), "{}", strip(&from_bundle));

    // The bundle is smaller than the journal: the window, not the whole history.
    let (b, j) = (std::fs::metadata(&bundle).unwrap().len(), std::fs::metadata(demo_journal()).unwrap().len());
    assert!(b < j, "bundle {b} bytes, journal {j} bytes");
}

#[test]
fn an_altered_event_in_a_bundle_is_reported_with_its_seq_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let id = storm_id(dir.path());
    let bundle = export_bundle(dir.path(), id);
    // Change the score of one recorded ranking, as a hand edit would.
    let conn = rusqlite::Connection::open(&bundle).unwrap();
    let (seq, body): (i64, String) = conn
        .query_row(
            "SELECT seq, body FROM events WHERE body LIKE '%\"event\":\"root_cause_ranked\"%' AND problem = ?1 \
             ORDER BY seq DESC LIMIT 1",
            [id as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&body).unwrap();
    event["candidates"][0]["summary"] = "edited by hand".into();
    conn.execute("UPDATE events SET body = ?1 WHERE seq = ?2", rusqlite::params![event.to_string(), seq]).unwrap();
    drop(conn);

    let out = ok(faultline(&["replay", s(&bundle), "--headless"], dir.path()));
    let h = headless(&out);
    let verdict = h.rederived.expect("verdict");
    assert_eq!(verdict["mismatch"]["seq"], seq, "{verdict}");
    assert!(verdict["mismatch"]["recorded"].as_str().unwrap().contains("edited by hand"), "{verdict}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("differ from seq {seq}")), "{said}");
    assert!(said.contains("altered after export"), "{said}");
}

#[test]
fn broken_bundles_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = export_bundle(dir.path(), 3);
    let bytes = std::fs::read(&bundle).unwrap();

    let truncated = dir.path().join("truncated.faultline");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = refused(faultline(&["replay", s(&truncated), "--headless"], dir.path()));
    assert!(err.contains("truncated.faultline") && err.contains("damaged or incomplete"), "{err}");

    let stub = dir.path().join("stub.faultline");
    std::fs::write(&stub, &bytes[..50]).unwrap();
    let err = refused(faultline(&["replay", s(&stub), "--headless"], dir.path()));
    assert!(err.contains("stub.faultline"), "{err}");

    let newer = dir.path().join("newer.faultline");
    std::fs::copy(&bundle, &newer).unwrap();
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = refused(faultline(&["replay", s(&newer), "--headless"], dir.path()));
    assert!(err.contains("bundle format 99 is newer than this faultline reads (1)"), "{err}");
}

#[test]
fn export_refuses_a_problem_that_does_not_exist_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("none.faultline");
    let err = refused(faultline(&["export", "P-0042", "--journal", s(demo_journal()), "-o", s(&out_file)], dir.path()));
    assert!(err.contains("no problem P-0042 in it (it has P-0001 to P-0003)"), "{err}");
    assert!(!out_file.exists());
    let md = dir.path().join("none.md");
    let err = refused(faultline(
        &["export", "42", "--journal", s(demo_journal()), "--format", "markdown", "-o", s(&md)],
        dir.path(),
    ));
    assert!(err.contains("no problem P-0042"), "{err}");
    assert!(!md.exists());
    let err = refused(faultline(&["export", "P-x", "--journal", s(demo_journal())], dir.path()));
    assert!(err.contains("`P-x` is not a problem id"), "{err}");
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(entries.iter().all(|n| n == "faultline.log"), "left behind: {entries:?}");
}

#[test]
fn the_post_mortem_draft_of_the_demo_storm_is_the_reviewed_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(faultline(&["export", "P-0003", "--journal", s(demo_journal()), "--format", "markdown"], dir.path()));
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.replace(s(demo_journal()), "<journal>").replace(env!("CARGO_PKG_VERSION"), "<version>");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(Path::new(POSTMORTEM).parent().unwrap()).unwrap();
        std::fs::write(POSTMORTEM, &text).unwrap();
    }
    let reviewed = std::fs::read_to_string(POSTMORTEM).expect("the reviewed draft (UPDATE_SNAPSHOTS=1 writes it)");
    assert_eq!(text, reviewed, "the draft changed: review it and rerun with UPDATE_SNAPSHOTS=1");
    for section in ["## Summary", "## Impact", "## Detection", "## Root cause", "## Foundational cause", "## Response"]
    {
        assert!(text.contains(section), "{section}");
    }
    assert!(text.contains("## Timeline") && text.contains("## Open questions"));
    assert!(text.contains("`host:db-1`") && text.contains("deployment on `database:orders`"));
}

#[test]
fn replay_at_a_time_prints_the_problems_as_they_stood_then() {
    let dir = tempfile::tempdir().unwrap();
    let journal = faultline::journal::Journal::open_read_only(demo_journal()).unwrap();
    let events = journal.events_after(0).unwrap();
    for at in ["10:30", "10:40:00", "2026-03-02T11:00:00Z"] {
        let out = ok(faultline(&["replay", s(demo_journal()), "--headless", "--at", at], dir.path()));
        let h = headless(&out);
        let t = match Timestamp::parse_rfc3339(at) {
            Ok(t) => t,
            Err(_) => Timestamp::parse_rfc3339(&format!("2026-03-02T{at}{}Z", if at.len() == 5 { ":00" } else { "" }))
                .unwrap(),
        };
        assert_eq!(h.as_of, t);
        let expected = ProblemSet::fold(events.iter().take_while(|e| e.at <= t));
        let expected: Vec<&Problem> = expected.visible();
        let got: Vec<Problem> = h.problems.iter().map(|p| serde_json::from_value(p.clone()).unwrap()).collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "as of {at}");
    }
    // At 10:30 the storm had opened but not resolved; at the end it is resolved.
    let early = headless(&ok(faultline(&["replay", s(demo_journal()), "--headless", "--at", "10:30"], dir.path())));
    assert_eq!(problem(&early, 3)["status"]["state"], "open");

    let err = refused(faultline(&["replay", s(demo_journal()), "--headless", "--at", "09:00"], dir.path()));
    assert!(err.contains("--at 09:00 (2026-03-02T09:00:00.000Z) is outside the data, which runs from"), "{err}");
    let err = refused(faultline(&["replay", s(demo_journal()), "--headless", "--at", "half past ten"], dir.path()));
    assert!(err.contains("not a time"), "{err}");
}
