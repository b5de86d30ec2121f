//! Resuming from a journal: the same engine state, or a clear refusal.

use super::*;
use crate::model::Timestamp;
use crate::sources::fixture;
use std::collections::BTreeMap;
use std::path::Path;

fn scenario() -> Vec<Observation> {
    let text = include_str!("../../fixtures/scenarios/db-cpu-saturation.jsonl");
    fixture::parse(text, Path::new("db-cpu-saturation.jsonl")).unwrap().observations
}

#[test]
fn a_resumed_agent_goes_on_exactly_as_one_that_never_stopped() {
    let observations = scenario();
    let (first, rest) = observations.split_at(observations.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");

    // One agent sees everything.
    let mut whole = Agent::new(EngineConfig::default(), None);
    let mut expected = Vec::new();
    for o in &observations {
        whole.feed(o, &mut expected).unwrap();
    }

    // Another stops half way; a third resumes from its journal and sees the rest.
    let mut before = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    let mut got = Vec::new();
    for o in first {
        before.feed(o, &mut got).unwrap();
    }
    drop(before);
    let resumed = Agent::resume(EngineConfig::default(), Journal::open(&path).unwrap()).unwrap();
    assert_eq!(resumed.events, got, "the journal's events are handed back");
    // No snapshot: every observation is read back, and the sources get their compact set.
    assert_eq!(resumed.read_back, first.len());
    assert_eq!(resumed.observations, crate::sources::resume::ResumeSet::of(first).observations());
    let mut agent = resumed.agent;
    assert_eq!(agent.observations(), first.len() as u64);
    for o in rest {
        agent.feed(o, &mut got).unwrap();
    }
    assert_eq!(got, expected, "resuming changed the events");
    let journal = Journal::open_read_only(&path).unwrap();
    assert_eq!(journal.events_after(0).unwrap(), expected);
}

#[test]
fn a_journal_written_with_another_engine_config_is_refused_with_the_seq_it_diverges_at() {
    let observations = scenario();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    let mut events = Vec::new();
    for o in &observations[..observations.len() / 2] {
        agent.feed(o, &mut events).unwrap();
    }
    drop(agent);
    let mut other = EngineConfig::default();
    other.detect.threshold *= 10.0;
    let err = match Agent::resume(other, Journal::open(&path).unwrap()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("resumed with another config"),
    };
    assert!(err.starts_with(&format!("journal {}: replaying its", path.display())), "{err}");
    assert!(err.contains("gives other events from seq "), "{err}");
    assert!(err.contains("another [engine] config"), "{err}");
}

/// A server that answers every request with an empty Alertmanager alert list after `delay`,
/// counting how many requests it holds at once. Returns its URL and the peak.
fn slow_alertmanager(delay: std::time::Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&peak);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let (now, peak) = (Arc::clone(&now), Arc::clone(&peak));
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(held, Ordering::SeqCst);
                std::thread::sleep(delay);
                now.fetch_sub(1, Ordering::SeqCst);
                let _ = write!(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]");
            });
        }
    });
    (url, seen)
}

#[test]
fn at_most_max_concurrent_sources_pull_at_once() {
    use crate::config::Config;
    use runtime::Runtime;
    use std::sync::atomic::Ordering;
    let (url, peak) = slow_alertmanager(std::time::Duration::from_millis(300));
    let mut text = String::from("[sources]\nmax_concurrent = 2\n");
    for i in 0..5 {
        text.push_str(&format!("[[sources.alertmanager]]\nname = \"am{i}\"\nurl = \"{url}\"\nretries = 0\n"));
    }
    let config = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (mut rt, _) = Runtime::new(&config, None).unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    tokio.block_on(rt.cycle(Timestamp::wall_clock())).unwrap();
    assert_eq!(peak.load(Ordering::SeqCst), 2, "five sources, two at a time");
    let names: Vec<&str> = rt.statuses().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["am0", "am1", "am2", "am3", "am4"]);
    assert!(rt.statuses().iter().all(|s| s.healthy && s.cycles == 1), "{:?}", rt.statuses());
}

/// An Alertmanager stand-in whose `GET /api/v2/alerts` is held until `release` is set, while
/// `POST /api/v2/silences` answers at once.
fn held_alertmanager() -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let release = Arc::new(AtomicBool::new(false));
    let held = Arc::clone(&release);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let held = Arc::clone(&held);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = if head.starts_with("POST /api/v2/silences") {
                    r#"{"silenceID":"s-1"}"#
                } else {
                    while !held.load(Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    "[]"
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    (url, release)
}

#[test]
fn a_silence_is_carried_out_while_a_source_is_still_being_waited_for() {
    use crate::config::Config;
    use crate::sources::alertmanager::SilencePlan;
    use crate::ui::{Feed, Request};
    use runtime::Runtime;
    use std::sync::atomic::Ordering;
    let (url, release) = held_alertmanager();
    let text = format!("[[sources.alertmanager]]\nname = \"am\"\nurl = \"{url}\"\ntimeout = \"30s\"\nretries = 0\n");
    let config = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (rt, _) = Runtime::new(&config, None).unwrap();
    let plan = SilencePlan {
        problem: crate::model::ProblemId(1),
        target: rt.silence_target().unwrap().clone(),
        label_sets: vec![BTreeMap::from([("alertname".to_string(), "HostDown".to_string())])],
        created_by: "oncall@bastion".into(),
        comment: "P-0001".into(),
    };
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (feed_tx, mut feed_rx) = tokio::sync::mpsc::unbounded_channel();
    let (req_tx, req_rx) = tokio::sync::mpsc::unbounded_channel();
    let agent = tokio.spawn(rt.run(Some(feed_tx), Some(req_rx), std::future::pending()));
    req_tx.send(Request::Silence(plan)).unwrap();
    // The first pull is held at the server; the silence's answer comes back all the same.
    let notice = tokio.block_on(async {
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(20), feed_rx.recv()).await {
                Ok(Some(Feed::Notice(text))) => return text,
                Ok(Some(_)) => continue,
                other => panic!("no notice: {other:?}"),
            }
        }
    });
    assert_eq!(notice.split(" until ").next(), Some("P-0001: 1 silence(s) created in am"), "{notice}");
    assert!(!release.load(Ordering::SeqCst), "answered while the pull was still held");
    release.store(true, Ordering::SeqCst);
    // The next feed message `pick` takes, skipping others (20 s at most).
    let mut next = |what: &str, pick: &dyn Fn(Feed) -> Option<_>| {
        tokio.block_on(async {
            loop {
                match tokio::time::timeout(std::time::Duration::from_secs(20), feed_rx.recv()).await {
                    Ok(Some(feed)) => match pick(feed) {
                        Some(found) => return found,
                        None => continue,
                    },
                    other => panic!("no {what}: {other:?}"),
                }
            }
        })
    };
    let health = next("source health", &|f| match f {
        Feed::Source { name, health } => Some((name, Some(health), crate::model::Timestamp(0))),
        _ => None,
    });
    assert_eq!(health.0, "am");
    assert_eq!(health.1, Some(crate::ui::SourceHealth::Ok));
    // The pull went fine and found no alert at all: the UI hears how far the data is complete,
    // so a quiet Alertmanager does not show as lagging.
    let started = crate::model::Timestamp::wall_clock();
    let pulled = next("good pull reported", &|f| match f {
        Feed::Pulled { name, covered } => Some((name, None, covered)),
        _ => None,
    });
    let pulled = (pulled.0, pulled.2);
    assert_eq!(pulled.0, "am");
    assert!(pulled.1 <= started && started.since(pulled.1) < 60_000, "covered up to the pull: {:?}", pulled.1);
    drop(req_tx);
    tokio.block_on(agent).unwrap().unwrap();
}
