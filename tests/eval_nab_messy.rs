//! `faultline eval anomalies` on a messy copy of `../shared/data/nab` (skipped, with a message,
//! when absent): every file gets a one-hour clock step back, rows out of order, repeated rows,
//! blank, non-numeric, NaN and infinite values and a blank line; one file starts inside its first
//! window. The binary must exit 0, score every file and list the repairs with file:line.

use faultline::model::Timestamp;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn nab_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nab");
    if dir.join("combined_windows.json").exists() {
        Some(dir)
    } else {
        eprintln!("skipped: no NAB data at {} (see shared/data/README.md)", dir.display());
        None
    }
}

fn parse(t: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{}Z", t.trim().replace(' ', "T"))).unwrap()
}

fn format(t: Timestamp) -> String {
    t.to_rfc3339()[..19].replace('T', " ")
}

/// Where the messy copy of one file has its planted oddities (1-based lines of the new file).
struct Planted {
    step_line: usize,
    /// How far the stepped row's time is behind the row before it, in milliseconds (0 on hourly
    /// data: a one-hour step back there lands on the previous row's time).
    step_back: i64,
    /// The first planted bad value: its line and what the report says of it.
    first_bad_value: (usize, &'static str),
}

/// Writes a messy copy of `text` (a NAB CSV) and says where the clock step and first blank
/// value are. `skip` leading rows are dropped (to start inside a window).
fn mess_up(text: &str, skip: usize) -> (String, Planted) {
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<(Timestamp, String)> = lines
        .skip(skip)
        .map(|l| {
            let (t, v) = l.split_once(',').unwrap();
            (parse(t), v.to_string())
        })
        .collect();
    let n = rows.len();
    // The clock steps back an hour at 20% of the file and stays there (as after a DST change);
    // rows are disordered only after 40%, so the step is the file's first backwards step.
    let step_at = n / 5;
    let mut rows: Vec<(Timestamp, String)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (t, v))| (if i >= step_at { t.plus_ms(-3_600_000) } else { t }, v))
        .collect();
    let mut i = n * 2 / 5;
    while i + 1 < n {
        rows.swap(i, i + 1);
        i += 97;
    }
    let mut out = format!("{header}\n");
    let mut line = 1;
    let mut planted = Planted { step_line: 0, step_back: 0, first_bad_value: (0, "") };
    for (i, (t, v)) in rows.iter().enumerate() {
        let (value, said) = match i % 301 {
            _ if i < step_at + 5 => (v.clone(), ""),
            7 => (String::new(), "empty value"),
            50 => ("n/a".to_string(), "`n/a` is not a number"),
            90 => ("NaN".to_string(), "`NaN` is not finite"),
            130 => ("inf".to_string(), "`inf` is not finite"),
            _ => (v.clone(), ""),
        };
        line += 1;
        out.push_str(&format!("{},{value}\n", format(*t)));
        if i == step_at {
            planted.step_line = line;
            planted.step_back = rows[i - 1].0.since(*t);
        }
        if !said.is_empty() && planted.first_bad_value.0 == 0 {
            planted.first_bad_value = (line, said);
        }
        if i % 211 == 100 {
            line += 1;
            out.push_str(&format!("{},{v}\n", format(*t)));
        }
        if i == n / 2 {
            line += 1;
            out.push('\n');
        }
    }
    (out, planted)
}

#[test]
fn a_messy_copy_of_nab_is_scored_and_its_repairs_listed() {
    let Some(nab) = nab_dir() else { return };
    let windows_file = nab.join("combined_windows.json");
    let windows: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(&std::fs::read_to_string(&windows_file).unwrap()).unwrap();
    let copy = tempfile::tempdir().unwrap();
    // The first file with a window well after its start begins halfway into that window.
    let mid_window = windows.iter().find(|(_, w)| !w.is_empty()).map(|(k, _)| k.clone()).unwrap();
    let mut planted = BTreeMap::new();
    for (key, limits) in &windows {
        let text = std::fs::read_to_string(nab.join("data").join(key)).unwrap();
        let skip = if *key == mid_window {
            let (start, end) = (parse(&limits[0].0), parse(&limits[0].1));
            let middle = start.plus_ms(end.since(start) / 2);
            text.lines().skip(1).take_while(|l| parse(l.split(',').next().unwrap()) < middle).count()
        } else {
            0
        };
        let (messy, p) = mess_up(&text, skip);
        let path = copy.path().join("data").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, messy).unwrap();
        planted.insert(key.clone(), p);
    }
    let log = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["eval", "anomalies"])
        .arg(copy.path().join("data"))
        .arg("--windows")
        .arg(&windows_file)
        .arg("--log-file")
        .arg(log.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("NAB v1.1 scoring: {} files", windows.len())), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("standard ")), "{stdout}");
    let (_, repairs) = stdout.split_once("\nrepaired: ").expect("a repaired section");
    assert!(!repairs.starts_with("nothing"), "{repairs}");
    for (key, p) in &planted {
        // Scored: its row in the per-file table.
        assert!(stdout.lines().any(|l| l.starts_with(&format!("{key} "))), "{key} not scored:\n{stdout}");
        // Listed where the clock stepped back, and where the first value was bad.
        let step = format!("{key}:{}: ", p.step_line);
        let step_line = repairs.lines().find(|l| l.contains(&step)).unwrap_or_else(|| panic!("{step}:\n{repairs}"));
        if p.step_back == 0 {
            assert!(step_line.contains("repeated time"), "{step_line}");
        } else {
            let rebased = step_line.contains("clock stepped back") && step_line.contains("re-based");
            assert!(rebased || step_line.contains("row out of order"), "{step_line}");
        }
        let bad = format!("{key}:{}: {}; fed the last good value", p.first_bad_value.0, p.first_bad_value.1);
        assert!(repairs.contains(&bad), "{bad}:\n{repairs}");
    }
    for kind in ["row out of order", "bad value", "blank line", "repeated time (note)"] {
        assert!(repairs.contains(kind), "{kind}:\n{repairs}");
    }
    // The file cut inside its first window: that window starts at the file's first row (line 2).
    let snapped = format!("{mid_window}:2: window 1 (");
    assert!(repairs.lines().any(|l| l.contains("window snapped") && l.contains(&snapped)), "{snapped}:\n{repairs}");
}
