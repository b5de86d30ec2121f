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

/// An agent's journal after retention pruned its oldest observations: a fresh replay of what is
/// left cannot give the journaled events, so problems are exported from a snapshot taken before
/// their window; those whose window no snapshot covers any more are refused saying so.
/// The demo through an agent journaling into `dir` with a snapshot every 2 minutes and an
/// hour's retention (so its oldest observations are pruned): (journal path, observations,
/// events).
fn pruned_agent_journal(dir: &Path) -> (PathBuf, Vec<Observation>, Vec<ProblemEvent>) {
    use crate::agent::{Agent, Upkeep};
    use crate::journal::Journal;
    let (observations, events) = demo();
    let path = dir.join("agent.journal");
    let mut agent = Agent::new(EngineConfig::default(), Some(Journal::open(&path).unwrap()));
    agent.set_upkeep(Upkeep { snapshot_every_ms: Some(2 * 60_000), retention_ms: Some(60 * 60_000), skip_quiet: true });
    let mut fed = Vec::new();
    for o in &observations {
        agent.feed(o, &mut fed).unwrap();
    }
    agent.write_snapshot().unwrap();
    assert_eq!(fed, events, "the agent's events are the engine's");
    (path, observations, events)
}

#[test]
fn a_pruned_agent_journal_exports_from_a_snapshot_before_the_window() {
    use crate::journal::Journal;
    let dir = tempfile::tempdir().unwrap();
    let (path, observations, events) = pruned_agent_journal(dir.path());
    let journal = Journal::open_read_only(&path).unwrap();
    let kept = journal.observations_after(0).unwrap();
    assert!(kept.first().is_some_and(|(id, _)| *id > 1), "retention pruned the oldest observations");

    // What export did before: a fresh engine over what is left parts from the journal at once.
    let kept_obs: Vec<Observation> = kept.iter().map(|(_, o)| o.clone()).collect();
    let set = ProblemSet::fold(&events);
    let newest = *set.problems.keys().next_back().unwrap();
    let fresh = export(&events, &kept_obs, newest, EngineConfig::default(), "agent", "tester@host");
    assert!(matches!(fresh, Err(BundleError::Diverged { .. })), "{fresh:?}");

    let (mut exported, mut refused) = (0, 0);
    for (&id, p) in &set.problems {
        match export_journal(&journal, id, EngineConfig::default(), "agent", "tester@host") {
            Ok(bundle) => {
                exported += 1;
                let whole = export(&events, &observations, id, EngineConfig::default(), "demo", "tester@host").unwrap();
                assert_eq!(bundle.meta.window_start, whole.meta.window_start, "{id}");
                assert_eq!(bundle.meta.window_end, whole.meta.window_end, "{id}");
                assert_eq!(bundle.meta.snapshot_seq, whole.meta.snapshot_seq, "{id}");
                assert_eq!(bundle.events, whole.events, "{id}: the same history and window events");
                assert_eq!(bundle.topology, whole.topology, "{id}: the same topology at the window's start");
                assert_eq!(bundle.problems().problems.get(&id), Some(p));
                let verdict = bundle.rederive().unwrap();
                assert!(verdict.matches(), "{id}: {}", verdict.describe());
            }
            Err(BundleError::Pruned { problem, window_start, .. }) => {
                refused += 1;
                assert_eq!(problem, id);
                assert_eq!(window_start, p.opened_at.plus_ms(-EngineConfig::default().correlation_window_ms));
            }
            Err(e) => panic!("{id}: {e}"),
        }
    }
    assert!(exported >= 1 && refused >= 1, "{exported} exported, {refused} refused");
}

/// `journal archive`: the closed problems a pruned journal can still export are written once;
/// the others are named with why; a second run writes nothing new; a file in the way that is
/// not the problem's bundle is written again.
#[test]
fn archiving_writes_each_exportable_closed_problem_once_and_names_the_rest() {
    use crate::journal::Journal;
    let dir = tempfile::tempdir().unwrap();
    let (path, _, events) = pruned_agent_journal(dir.path());
    let journal = Journal::open_read_only(&path).unwrap();
    let out = dir.path().join("archive");
    let config = EngineConfig::default();
    let first = archive::archive(&journal, &out, None, &config, "agent", "tester@host").unwrap();
    let set = ProblemSet::fold(&events);
    let closed = set.problems.values().filter(|p| !p.is_open()).count();
    assert_eq!(first.written.len() + first.failed.len(), closed, "{}", first.describe());
    assert_eq!(first.not_yet.len(), set.problems.len() - closed);
    assert!(!first.written.is_empty() && !first.failed.is_empty(), "{}", first.describe());
    for (id, why) in &first.failed {
        assert!(why.contains("no longer holds"), "{id}: {why}");
    }
    for (id, file) in &first.written {
        assert_eq!(file, &archive::archived_path(&out, *id));
        let bundle = Bundle::read(file).unwrap();
        assert_eq!(bundle.meta.problem, *id);
        assert!(bundle.rederive().unwrap().matches(), "{id}");
    }

    let again = archive::archive(&journal, &out, None, &config, "agent", "tester@host").unwrap();
    assert!(again.written.is_empty(), "{}", again.describe());
    assert_eq!(again.already, first.written.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    let (id, file) = &first.written[0];
    std::fs::write(file, b"not a bundle").unwrap();
    let mended = archive::archive(&journal, &out, None, &config, "agent", "tester@host").unwrap();
    assert_eq!(mended.written.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![*id]);
    assert_eq!(Bundle::read(file).unwrap().meta.problem, *id);

    // Closed after the cut-off: left for a later run.
    let none =
        archive::archive(&journal, &dir.path().join("later"), Some(Timestamp(0)), &config, "agent", "t@h").unwrap();
    assert!(none.written.is_empty() && none.failed.is_empty() && none.not_yet.len() == set.problems.len());
}
