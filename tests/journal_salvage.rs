//! A damaged journal is not a lost history (issue 16, point 4): journals cut short at several
//! points and with flipped bytes give back every event whose stored bytes survived, invent or
//! alter none, and say what was lost; `faultline journal check` and `salvage` say so on the command
//! line, and a damaged journal refused elsewhere names the commands to run.

use faultline::journal::salvage;
use faultline::journal::Journal;
use faultline::model::ProblemEvent;
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
