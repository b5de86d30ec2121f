use super::*;
use crate::engine::{Engine, EngineConfig};
use crate::sources::fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scenarios/db-cpu-saturation.jsonl");

/// The demo played through a fresh engine: (observations, events).
fn demo() -> (Vec<Observation>, Vec<ProblemEvent>) {
    let scenario = fixture::load(Path::new(DEMO)).expect("the demo scenario");
    let mut engine = Engine::new(EngineConfig::default());
    let mut events = Vec::new();
    for o in &scenario.observations {
        engine.observe(o, &mut events);
    }
    (scenario.observations, events)
}

#[test]
fn every_demo_problem_exports_writes_reads_back_and_re_derives_exactly() {
    let (observations, events) = demo();
    let set = ProblemSet::fold(&events);
    assert!(set.problems.len() >= 3);
    let dir = tempfile::tempdir().unwrap();
    for (&id, p) in &set.problems {
        let bundle = export(&events, &observations, id, EngineConfig::default(), "demo", "tester@host").unwrap();
        // The window: one correlation window before onset to the end, and nothing of the problem missing.
        assert_eq!(bundle.meta.window_start, p.opened_at.plus_ms(-EngineConfig::default().correlation_window_ms));
        assert!(bundle.observations.first().is_some_and(|o| o.at >= bundle.meta.window_start));
        assert_eq!(bundle.problems().problems.get(&id), Some(p), "{id} as the bundle folds it");
        if !p.is_open() {
            assert!(bundle.observations.len() < observations.len(), "{id}: the bundle holds a window, not everything");
        }

        let path = dir.path().join(format!("{id}.faultline"));
        bundle.write(&path).unwrap();
        assert_eq!(file_kind(&path).unwrap(), FileKind::Bundle);
        assert!(!temp_path(&path).exists());
        let read = Bundle::read(&path).unwrap();
        assert_eq!(read.meta, bundle.meta);
        assert_eq!(read.events, bundle.events);
        assert_eq!(read.observations, bundle.observations);
        assert_eq!(read.topology, bundle.topology);
        let verdict = read.rederive().unwrap();
        assert!(verdict.matches(), "{id}: {}", verdict.describe());
        assert_eq!(verdict.recorded, read.window_events().len());
    }
}

#[test]
fn a_journal_written_with_another_configuration_is_refused_at_the_event_where_it_parts() {
    let (observations, events) = demo();
    // Problems resolve a minute after their signals clear instead of five.
    let other = EngineConfig { resolve_after_ms: 60_000, ..EngineConfig::default() };
    let Err(err) = export(&events, &observations, ProblemId(3), other, "demo.sqlite", "t@h") else {
        panic!("a journal written with another configuration must be refused");
    };
    match &err {
        BundleError::Diverged { seq, .. } => assert!(*seq > 0),
        other => panic!("expected Diverged, got {other}"),
    }
    assert!(err.to_string().contains("export with --config"), "{err}");
    let Err(err) = export(&events, &observations, ProblemId(9), EngineConfig::default(), "demo.sqlite", "t@h") else {
        panic!("P-0009 does not exist");
    };
    assert_eq!(err.to_string(), "demo.sqlite: no problem P-0009 in it (it has P-0001 to P-0003)");
}

#[test]
fn file_kinds_are_told_apart_by_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.sqlite");
    crate::journal::Journal::open(&journal).unwrap();
    assert_eq!(file_kind(&journal).unwrap(), FileKind::Journal);
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert_eq!(file_kind(&text).unwrap(), FileKind::Other);
    let err = Bundle::read(&journal).unwrap_err().to_string();
    assert!(err.contains("it is a journal"), "{err}");
    assert!(file_kind(&dir.path().join("missing")).is_err());
}
