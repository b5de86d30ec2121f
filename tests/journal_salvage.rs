//! A damaged journal is not a lost history (issue 16, point 4): journals cut short at several
//! points and with flipped bytes give back every event whose stored bytes survived, invent or
//! alter none, and say what was lost; `faultline journal check` and `salvage` say so on the command
//! line, and a damaged journal refused elsewhere names the commands to run. A salvaged agent
//! journal keeps its engine snapshots, so it resumes from one even when retention has pruned the
//! observations a replay from scratch would need.

use faultline::agent::{Agent, ResumeError, Resumed, Upkeep};
use faultline::engine::EngineConfig;
use faultline::journal::salvage;
use faultline::journal::Journal;
use faultline::model::{Observation, ProblemEvent, ProblemSet};
use faultline::sources::fixture;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const PAGE: usize = 4096;

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// The demo's journal, written once by the real binary.
fn demo_journal(dir: &Path) -> PathBuf {
    let path = dir.join("demo.sqlite");
    let out = faultline()
        .args(["demo", "--headless", "--journal"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("running faultline demo");
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !dir.join("demo.sqlite-wal").exists() || std::fs::metadata(dir.join("demo.sqlite-wal")).unwrap().len() == 0
    );
    path
}

fn original_events(path: &Path) -> BTreeMap<u64, ProblemEvent> {
    let j = Journal::open_read_only(path).expect("the original journal opens");
    j.events_after(0).expect("the original journal reads").into_iter().map(|e| (e.seq, e)).collect()
}

/// Where each event's stored JSON sits in the file (byte range), for the events stored whole in
/// one place (a body that overflows to another page is not one contiguous run of bytes): every
/// `{"seq":` in the file that parses as the original event of that seq, read once, in order.
fn event_offsets(bytes: &[u8], path: &Path) -> BTreeMap<u64, (usize, usize)> {
    let original = original_events(path);
    let needle = br#"{"seq":"#;
    let mut out = BTreeMap::new();
    let mut i = 0;
    while let Some(pos) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let at = i + pos;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<ProblemEvent>();
        match stream.next() {
            Some(Ok(e)) if original.get(&e.seq) == Some(&e) => {
                let end = at + stream.byte_offset();
                out.insert(e.seq, (at, end));
                i = end;
            }
            _ => i = at + needle.len(),
        }
    }
    out
}

/// Every salvaged event is the original event of that seq; the kept and the reported-lost seqs
/// together are every seq the report knows of.
fn assert_faithful(findings: &salvage::Findings, original: &BTreeMap<u64, ProblemEvent>) {
    for (e, _, _) in &findings.events {
        assert_eq!(Some(e), original.get(&e.seq), "salvage altered or invented event seq {}", e.seq);
    }
    let kept: BTreeSet<u64> = findings.events.iter().map(|(e, _, _)| e.seq).collect();
    assert_eq!(kept.len(), findings.events.len(), "an event was kept twice");
    for seq in findings.lost_seqs() {
        assert!(!kept.contains(&seq));
    }
}

#[test]
fn a_sound_journal_is_reported_sound_and_salvages_to_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_journal(dir.path());
    let findings = salvage::scan(&path).unwrap();
    assert!(findings.is_sound(), "{}", findings.report());
    assert!(findings.report().contains("sound"), "{}", findings.report());

    let out = faultline().args(["journal", "check"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(": sound"));

    let copy = dir.path().join("copy.sqlite");
    salvage::salvage(&path, &copy).unwrap();
    let original = original_events(&path);
    let salvaged = original_events(&copy);
    assert_eq!(original, salvaged);
    let obs = |p: &Path| Journal::open_read_only(p).unwrap().observations().unwrap();
    assert_eq!(obs(&path), obs(&copy));
    // Never over a file.
    let again = salvage::salvage(&path, &copy).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
}

#[test]
fn a_journal_cut_short_gives_back_every_event_stored_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_journal(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let original = original_events(&path);
    let offsets = event_offsets(&bytes, &path);
    assert!(offsets.len() * 10 >= original.len() * 9, "most event bodies are stored in one piece");

    for percent in [30, 50, 75, 90, 99] {
        let cut_at = bytes.len() * percent / 100;
        let cut = dir.path().join(format!("cut{percent}.sqlite"));
        std::fs::write(&cut, &bytes[..cut_at]).unwrap();
        let out = dir.path().join(format!("cut{percent}-salvaged.sqlite"));
        let findings = salvage::salvage(&cut, &out).unwrap();
        assert_faithful(&findings, &original);
        let kept: BTreeSet<u64> = findings.events.iter().map(|(e, _, _)| e.seq).collect();
        // Every event whose stored text lies wholly before the cut comes back.
        let before: Vec<u64> = offsets.iter().filter(|(_, (_, end))| *end <= cut_at).map(|(s, _)| *s).collect();
        let missing: Vec<&u64> = before.iter().filter(|s| !kept.contains(s)).collect();
        assert!(missing.is_empty(), "cut at {percent}%: events stored before the cut not salvaged: {missing:?}");
        assert!(!kept.is_empty());
        // It says what happened.
        let report = findings.report();
        assert!(report.contains("cut short"), "{report}");
        // The salvaged journal is a journal: it replays.
        let replay = faultline().args(["replay", "--headless"]).arg(&out).output().unwrap();
        assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
        let folded: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
        assert_eq!(folded["events"].as_u64(), Some(kept.len() as u64));
    }
}

#[test]
fn flipped_bytes_lose_only_what_sits_on_the_damaged_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_journal(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let original = original_events(&path);
    let offsets = event_offsets(&bytes, &path);

    for seed in [1_u64, 2, 3] {
        // 20 bytes flipped anywhere after the first page (the header page holds the schema; a
        // damaged schema is the cut-short case's last resort).
        let mut damaged = bytes.clone();
        let mut pages_hit = BTreeSet::new();
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = PAGE + (x as usize) % (damaged.len() - PAGE);
            damaged[at] ^= 0xFF;
            pages_hit.insert(at / PAGE);
        }
        let file = dir.path().join(format!("flip{seed}.sqlite"));
        std::fs::write(&file, &damaged).unwrap();

        // The commands say it is damaged and what to do.
        let check = faultline().args(["journal", "check"]).arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&check.stdout);
        if !check.status.success() {
            assert!(text.contains("damaged") && text.contains("journal salvage"), "{text}");
        }

        let out = dir.path().join(format!("flip{seed}-salvaged.sqlite"));
        let findings = salvage::salvage(&file, &out).unwrap();
        assert_faithful(&findings, &original);
        let kept: BTreeSet<u64> = findings.events.iter().map(|(e, _, _)| e.seq).collect();
        // Nothing is lost that was not on a damaged page.
        for (seq, (start, end)) in &offsets {
            let on_damaged_page = (start / PAGE..=(end - 1) / PAGE).any(|p| pages_hit.contains(&p));
            if !on_damaged_page {
                assert!(kept.contains(seq), "seed {seed}: event seq {seq} was on sound pages but not salvaged");
            }
        }
        // And the loss is small: at most the events of the 20 damaged pages.
        assert!(kept.len() * 10 >= original.len() * 9, "seed {seed}: kept {} of {}", kept.len(), original.len());
        for seq in findings.lost_seqs() {
            assert!(findings.report().contains("lost"), "seq {seq} lost but not reported");
        }
    }
}

#[test]
fn a_damaged_journal_refused_elsewhere_names_the_commands_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = demo_journal(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let offsets = event_offsets(&bytes, &path);
    // Flip one byte inside the text of an event in the middle: the row no longer parses.
    let (_, (start, end)) = offsets.iter().nth(offsets.len() / 2).unwrap();
    let mut damaged = bytes.clone();
    damaged[(start + end) / 2] = b'\x01';
    std::fs::write(&path, &damaged).unwrap();

    let replay = faultline().args(["replay", "--headless"]).arg(&path).output().unwrap();
    assert!(!replay.status.success());
    let err = String::from_utf8_lossy(&replay.stderr);
    assert!(err.contains("faultline journal check") && err.contains("faultline journal salvage"), "{err}");

    let check = faultline().args(["journal", "check"]).arg(&path).output().unwrap();
    assert!(!check.status.success());
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("lost: 1 events"), "{text}");
}

const MIN: i64 = 60_000;

fn scenario() -> Vec<Observation> {
    let text = include_str!("../fixtures/scenarios/db-cpu-saturation.jsonl");
    fixture::parse(text, Path::new("db-cpu-saturation.jsonl")).unwrap().observations
}

/// Snapshots every 5 minutes of data time, retention of one minute: what months of uptime look
/// like in a few minutes of scenario (most observations pruned, a few snapshots kept).
fn upkeep() -> Upkeep {
    Upkeep { snapshot_every_ms: Some(5 * MIN), retention_ms: Some(MIN), skip_quiet: true }
}

/// The scenario's first four fifths through a journaling agent at `path`, stopped without a
/// clean shutdown; returns the index of the first observation not fed.
fn pruned_agent_journal(path: &Path, observations: &[Observation]) -> usize {
    let k = observations.len() * 4 / 5;
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(path).unwrap()));
    agent.set_upkeep(upkeep());
    let mut events = Vec::new();
    for o in &observations[..k] {
        agent.feed(o, &mut events).unwrap();
    }
    let journal = agent.journal().unwrap();
    // The newest two, and those a bundle of a problem opened now or within retention starts
    // from (see `journal::Pins`).
    assert!(journal.snapshots().unwrap().len() >= faultline::journal::KEEP_SNAPSHOTS);
    let kept = journal.observations_after(0).unwrap().len();
    assert!(kept < k / 2, "retention pruned most observations: {kept} of {k} kept");
    k
}

/// A temporary directory, the pruned agent journal in it, the scenario and the index of the
/// first observation not fed (see [`pruned_agent_journal`]).
fn pruned() -> (tempfile::TempDir, PathBuf, Vec<Observation>, usize) {
    let observations = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sqlite");
    let k = pruned_agent_journal(&path, &observations);
    (dir, path, observations, k)
}

/// The events of the whole scenario through one agent without a journal or a stop.
fn uninterrupted(observations: &[Observation]) -> Vec<ProblemEvent> {
    let mut agent = Agent::new(EngineConfig::default(), None);
    let mut events = Vec::new();
    for o in observations {
        agent.feed(o, &mut events).unwrap();
    }
    events
}

/// Resumes the journal at `path`, feeds `rest` and returns the resume and every event after it.
fn resume_and_finish(path: &Path, rest: &[Observation]) -> (Resumed, Vec<ProblemEvent>) {
    let mut resumed = Agent::resume(EngineConfig::default(), Journal::open(path).unwrap()).unwrap();
    resumed.agent.set_upkeep(upkeep());
    let mut events = resumed.events.clone();
    for o in rest {
        resumed.agent.feed(o, &mut events).unwrap();
    }
    (resumed, events)
}

/// Every snapshot row's columns, for comparing an original with its salvaged copy.
fn snapshot_rows(path: &Path) -> Vec<Vec<rusqlite::types::Value>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, seq, observation, at, format, body, checksum, written_at, sources, sources_checksum \
             FROM snapshots ORDER BY id",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| (0..10).map(|i| r.get(i)).collect::<rusqlite::Result<Vec<_>>>()).unwrap();
    rows.collect::<rusqlite::Result<Vec<_>>>().unwrap()
}

#[test]
fn a_salvaged_pruned_agent_journal_resumes_from_its_newest_snapshot_with_the_same_events() {
    let (dir, path, observations, k) = pruned();
    // The history's stored summaries say how far they reach; salvage does not copy their rows.
    Journal::open(&path).unwrap().set_meta("summaries_seq", Some("40")).unwrap();
    let findings = salvage::scan(&path).unwrap();
    assert!(findings.is_sound(), "{}", findings.report());
    let stored = Journal::open_read_only(&path).unwrap().snapshots().unwrap().len();
    assert_eq!(findings.snapshots.len(), stored, "{}", findings.report());
    let check = faultline().args(["journal", "check"]).arg(&path).output().unwrap();
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains(&format!("{stored} snapshots")));

    let copy = dir.path().join("salvaged.sqlite");
    salvage::salvage(&path, &copy).unwrap();
    assert_eq!(snapshot_rows(&copy), snapshot_rows(&path), "every snapshot column is kept");
    let original = Journal::open_read_only(&path).unwrap();
    let salvaged = Journal::open_read_only(&copy).unwrap();
    assert_eq!(salvaged.last_observation_id().unwrap(), original.last_observation_id().unwrap());
    assert_eq!(salvaged.meta("summaries_seq").unwrap(), None, "no claim of summaries the copy lacks");
    let newest = original.snapshots().unwrap()[0].clone();
    drop((original, salvaged));

    // The copy resumes from the snapshot, and finishing the scenario on it gives the events of a
    // run without a stop.
    let (resumed, events) = resume_and_finish(&copy, &observations[k..]);
    assert_eq!(resumed.from_snapshot, Some(newest), "resumed from the newest snapshot");
    assert_eq!(resumed.events, original_events(&path).into_values().collect::<Vec<_>>());
    assert!(events == uninterrupted(&observations), "the events differ from a run without a stop");

    // What salvage gave before it kept snapshots: the same rows without them, which a resume
    // refuses (the pruned observations replay to other events).
    let bare = dir.path().join("bare.sqlite");
    salvage::salvage(&path, &bare).unwrap();
    rusqlite::Connection::open(&bare).unwrap().execute("DELETE FROM snapshots", []).unwrap();
    match Agent::resume(EngineConfig::default(), Journal::open(&bare).unwrap()) {
        Err(ResumeError::Diverged { .. }) => {}
        Err(e) => panic!("expected a diverged replay, got {e}"),
        Ok(r) => panic!("a pruned journal without snapshots resumed (from {:?})", r.from_snapshot),
    }
}

#[test]
fn a_damaged_newest_snapshot_is_listed_lost_and_the_older_one_is_kept() {
    let (dir, path, observations, k) = pruned();
    let snapshots = Journal::open_read_only(&path).unwrap().snapshots().unwrap();
    let (newest, older) = (&snapshots[0], &snapshots[1]);
    // One byte of the newest body flipped in place, as a failing disk would.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut body: Vec<u8> =
        conn.query_row("SELECT body FROM snapshots WHERE id = ?1", [newest.id], |r| r.get(0)).unwrap();
    let middle = body.len() / 2;
    body[middle] ^= 0x20;
    conn.execute("UPDATE snapshots SET body = ?1 WHERE id = ?2", rusqlite::params![body, newest.id]).unwrap();
    drop(conn);

    let check = faultline().args(["journal", "check"]).arg(&path).output().unwrap();
    assert!(!check.status.success());
    let text = String::from_utf8_lossy(&check.stdout);
    let named = format!("lost from snapshots: id {} (seq {}): damaged", newest.id, newest.seq);
    assert!(text.contains(&named), "{text}");

    let copy = dir.path().join("salvaged.sqlite");
    let findings = salvage::salvage(&path, &copy).unwrap();
    assert_eq!(findings.lost.len(), 1, "{}", findings.report());
    assert!(findings.lost[0].why.contains("checksum"), "{:?}", findings.lost);
    // The others, oldest first.
    let others: Vec<i64> = snapshots[1..].iter().rev().map(|s| s.id).collect();
    assert_eq!(findings.snapshots.iter().map(|s| s.id).collect::<Vec<_>>(), others);
    let salvaged = Journal::open_read_only(&copy).unwrap().snapshots().unwrap();
    assert_eq!(&salvaged, &snapshots[1..]);

    let (resumed, events) = resume_and_finish(&copy, &observations[k..]);
    assert_eq!(resumed.from_snapshot.as_ref(), Some(older), "resumed from the older snapshot");
    assert!(events == uninterrupted(&observations), "the events differ from a run without a stop");
}

#[test]
fn a_snapshot_the_salvaged_events_or_observations_cannot_follow_is_left_out_and_named() {
    let (dir, path, _, _) = pruned();
    let snapshots = Journal::open_read_only(&path).unwrap().snapshots().unwrap();
    let (newest, older) = (&snapshots[0], &snapshots[1]);
    assert!(older.seq < newest.seq, "{snapshots:?}");

    // The events from the newest snapshot's seq on no longer parse (and their old text is wiped,
    // or the search of the file's bytes would find it): the newest snapshot lies beyond the last
    // salvaged event, and a resume from the older one would give events the copy lacks.
    let events_cut = dir.path().join("events-cut.sqlite");
    std::fs::copy(&path, &events_cut).unwrap();
    let conn = rusqlite::Connection::open(&events_cut).unwrap();
    conn.pragma_update(None, "secure_delete", true).unwrap();
    conn.execute("DROP TRIGGER problem_events_no_update", []).unwrap();
    conn.execute("UPDATE problem_events SET body = '{' WHERE seq >= ?1", [newest.seq as i64]).unwrap();
    drop(conn);
    let findings = salvage::scan(&events_cut).unwrap();
    let report = findings.report();
    let beyond = format!("lost from snapshots: id {} (seq {}): left out", newest.id, newest.seq);
    assert!(report.contains(&beyond) && report.contains("beyond the last salvaged event"), "{report}");
    assert_eq!(findings.events_from_bytes, 0, "{report}");
    let cut = format!(
        "lost from snapshots: id {} (seq {}): left out: events after it were lost (from seq {})",
        older.id, older.seq, newest.seq
    );
    assert!(report.contains(&cut), "{report}");
    assert!(findings.snapshots.is_empty(), "{report}");

    // The observations after the newest snapshot no longer parse: neither snapshot can be
    // followed by the salvaged observations.
    let last = Journal::open_read_only(&path).unwrap().last_observation_id().unwrap();
    assert!(last > newest.observation, "observations follow the newest snapshot");
    let obs_cut = dir.path().join("observations-cut.sqlite");
    std::fs::copy(&path, &obs_cut).unwrap();
    let conn = rusqlite::Connection::open(&obs_cut).unwrap();
    conn.execute("UPDATE observations SET body = '{' WHERE id = ?1", [last]).unwrap();
    drop(conn);
    let copy = dir.path().join("salvaged.sqlite");
    let findings = salvage::salvage(&obs_cut, &copy).unwrap();
    let report = findings.report();
    assert!(findings.snapshots.is_empty(), "{report}");
    for s in &snapshots {
        let named = format!(
            "lost from snapshots: id {} (seq {}): left out: 1 observations after it were lost (from id {last})",
            s.id, s.seq
        );
        assert!(report.contains(&named), "{report}");
    }
    assert!(report.contains("snapshots: none kept"), "{report}");
    assert!(Journal::open_read_only(&copy).unwrap().snapshots().unwrap().is_empty());
    // Its id is not handed out again.
    assert_eq!(Journal::open_read_only(&copy).unwrap().last_observation_id().unwrap(), last);
}

#[test]
fn damaged_sources_lose_their_snapshot_and_a_row_from_before_sources_is_kept_as_it_is() {
    let (dir, path, _, _) = pruned();
    let snapshots = Journal::open_read_only(&path).unwrap().snapshots().unwrap();
    let (newest, older) = (&snapshots[0], &snapshots[1]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The newest one's sources lose a byte; the older one looks as a row written before schema 7.
    conn.execute("UPDATE snapshots SET sources = substr(sources, 2) WHERE id = ?1", [newest.id]).unwrap();
    conn.execute("UPDATE snapshots SET sources = NULL, sources_checksum = NULL WHERE id = ?1", [older.id]).unwrap();
    drop(conn);

    let copy = dir.path().join("salvaged.sqlite");
    let findings = salvage::salvage(&path, &copy).unwrap();
    let report = findings.report();
    let named = format!(
        "lost from snapshots: id {} (seq {}): damaged: the checksum of what the sources",
        newest.id, newest.seq
    );
    assert!(report.contains(&named), "{report}");
    // The others, oldest first; only the older one has no sources.
    assert_eq!(
        findings.snapshots.iter().map(|s| (s.id, s.sources.is_none())).collect::<Vec<_>>(),
        snapshots[1..].iter().rev().map(|s| (s.id, s.id == older.id)).collect::<Vec<_>>()
    );
    let copied = Journal::open_read_only(&copy).unwrap();
    assert_eq!(copied.snapshots().unwrap(), snapshots[1..]);
    assert_eq!(copied.read_snapshot_sources(older.id).unwrap(), Ok(None));
}

#[test]
fn a_cut_short_agent_journal_resumes_from_any_snapshot_salvage_keeps() {
    let (dir, path, _, _) = pruned();
    let bytes = std::fs::read(&path).unwrap();
    let mut resumed_from_snapshot = 0;
    for percent in [50, 75, 90, 95, 99] {
        let cut = dir.path().join(format!("cut{percent}.sqlite"));
        std::fs::write(&cut, &bytes[..bytes.len() * percent / 100]).unwrap();
        let copy = dir.path().join(format!("cut{percent}-salvaged.sqlite"));
        let findings = salvage::salvage(&cut, &copy).unwrap();
        let report = findings.report();
        assert!(report.contains("cut short"), "{report}");
        // Whatever the cut took, a snapshot salvage keeps is one the copy resumes from.
        let Some(newest) = findings.snapshots.last() else { continue };
        let resumed = Agent::resume(EngineConfig::default(), Journal::open(&copy).unwrap())
            .unwrap_or_else(|e| panic!("cut at {percent}%: {e}\n{report}"));
        assert_eq!(resumed.from_snapshot.map(|m| m.id), Some(newest.id), "cut at {percent}%: {report}");
        resumed_from_snapshot += 1;
    }
    // The last pages hold the newest rows: a cut of the last 1% leaves the older snapshot and
    // everything after it, so the check above ran at least once.
    assert!(resumed_from_snapshot > 0, "no cut left a snapshot to resume from");
}

#[test]
fn metric_packs_are_salvaged_as_observations_with_their_ids_and_the_copy_resumes() {
    // A live agent journals a pull at a time, its metric samples in packs.
    let observations = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batched.sqlite");
    let k = observations.len() * 4 / 5;
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(upkeep());
    let mut events = Vec::new();
    for pull in observations[..k].chunks(40) {
        agent.feed_batch(pull, &mut events).unwrap();
    }
    drop(agent);
    let packs: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM metric_packs", [], |r| r.get(0))
        .unwrap();
    assert!(packs > 0, "the batches made packs");
    let original = Journal::open_read_only(&path).unwrap();
    let kept = original.observations_after(0).unwrap();

    let findings = salvage::scan(&path).unwrap();
    assert!(findings.is_sound(), "{}", findings.report());
    let found: Vec<(i64, Observation)> = findings.observations.iter().map(|(id, o, _)| (*id, o.clone())).collect();
    assert_eq!(found, kept, "every observation, packed or not, with its id");

    let copy = dir.path().join("salvaged.sqlite");
    salvage::salvage(&path, &copy).unwrap();
    let salvaged = Journal::open_read_only(&copy).unwrap();
    assert_eq!(salvaged.observations_after(0).unwrap(), kept);
    assert_eq!(salvaged.last_observation_id().unwrap(), original.last_observation_id().unwrap());
    drop((original, salvaged));
    let (resumed, _) = resume_and_finish(&copy, &[]);
    assert!(resumed.from_snapshot.is_some(), "the copy resumes from a snapshot");

    // A damaged pack is named, and the rest is kept.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let first: i64 = conn.query_row("SELECT max(first) FROM metric_packs", [], |r| r.get(0)).unwrap();
    conn.execute("UPDATE metric_packs SET body = '[[1,' WHERE first = ?1", [first]).unwrap();
    drop(conn);
    let findings = salvage::scan(&path).unwrap();
    assert!(
        findings.lost.iter().any(|l| l.table == "metric packs" && l.keys.contains(&first.to_string())),
        "{}",
        findings.report()
    );
    assert!(findings.observations.len() < kept.len() && findings.observations.len() > kept.len() / 2);
}

/// `faultline journal archive`: on an agent journal that kept everything, a bundle of each
/// closed problem that replays, and a second run writes nothing new; on one whose retention
/// pruned the state before a problem's window, that problem is named with why.
#[test]
fn journal_archive_writes_bundles_of_closed_problems_and_names_what_it_cannot_export() {
    let (dir, pruned_path, observations, _) = pruned();
    let path = dir.path().join("whole.sqlite");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(Upkeep { snapshot_every_ms: Some(5 * MIN), retention_ms: None, skip_quiet: true });
    let mut events = Vec::new();
    for o in &observations {
        agent.feed(o, &mut events).unwrap();
    }
    drop(agent);
    let closed = ProblemSet::fold(&events).problems.values().filter(|p| !p.is_open()).count();
    assert!(closed >= 2, "{closed}");
    let out = dir.path().join("archive");
    let run = |journal: &Path, out: &Path| {
        let o = faultline().args(["journal", "archive"]).arg(journal).arg("-o").arg(out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let first = run(&path, &out);
    let written: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), closed, "{first}");
    assert!(first.starts_with(&format!("{closed} bundle(s) written, 0 already archived")), "{first}");
    for file in &written {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("P-") && name.ends_with(".faultline"), "{name}");
        assert!(first.contains(&format!("{}: {}", name.trim_end_matches(".faultline"), file.display())), "{first}");
        let replay = faultline().args(["replay", "--headless"]).arg(file).output().unwrap();
        assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    }
    let again = run(&path, &out);
    assert!(again.starts_with(&format!("0 bundle(s) written, {closed} already archived")), "{again}");

    // (A folder per journal: problem ids are the journal's.)
    let pruned = run(&pruned_path, &dir.path().join("archive-of-pruned"));
    assert!(pruned.contains("not exportable: ") && pruned.contains("no longer holds the engine's state"), "{pruned}");
}
