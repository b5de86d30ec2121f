//! Resuming from a journal: the same engine state, or a clear refusal.

use super::*;
use crate::sources::fixture;
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
    assert_eq!(resumed.observations.len(), first.len());
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
