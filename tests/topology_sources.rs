//! Topology files and change feeds end to end through the agent runtime, on real files in a
//! temporary directory: what they announce reaches the engine's topology and its history, an
//! edited topology file announces only the differences, a broken one keeps the last good topology
//! and says where it is broken, a change feed is read incrementally (partial lines wait, bad lines
//! are skipped and reported with file:line, a rotated or truncated file starts over), a resumed
//! agent announces nothing twice, and the history rebuilt from the journal equals the live one.
//! Last, a topology file over a real Prometheus (Debian package, started by tests/support): the
//! file's criticality lands on the host Prometheus discovered, without replacing what discovery said.

mod support;

use faultline::agent::runtime::{Runtime, SourceStatus};
use faultline::config::Config;
use faultline::engine::topology::{Topology, TopologyHistory};
use faultline::journal::Journal;
use faultline::model::{Criticality, EntityId, EntityKind, Observation, ObservationKind, Timestamp};
use std::fs;
use std::io::Write;
use std::path::Path;
use support::*;

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

const TOPOLOGY: &str = r#"
[[entity]]
id = "external:stripe"
kind = "external"
name = "Stripe payments"
criticality = "high"
labels = { team = "payments" }

[[entity]]
id = "service:checkout"
criticality = "high"

[[relation]]
from = "service:checkout"
kind = "calls"
to = "external:stripe"
"#;

const CONFIG: &str = r#"
[journal]
path = "journal.sqlite"

[[sources.topology]]
path = "topology.toml"
interval = "1s"

[[sources.change_feed]]
path = "changes.jsonl"
interval = "1s"
"#;

fn change_line(secs: i64, entity: &str, change: &str, description: &str) -> String {
    format!(
        "{{\"at\": \"{}\", \"entity\": \"{entity}\", \"change\": \"{change}\", \"description\": \"{description}\", \"by\": \"ci\"}}\n",
        rfc3339(secs)
    )
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new().append(true).create(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn status<'a>(rt: &'a Runtime, name: &str) -> &'a SourceStatus {
    rt.statuses().into_iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no source {name}"))
}

fn ids(t: &Topology) -> Vec<String> {
    t.entities().map(|e| e.id.0.clone()).collect()
}

fn edges(t: &Topology) -> Vec<String> {
    t.relations().iter().map(|r| format!("{} {} {}", r.from, r.kind.verb(), r.to)).collect()
}

/// The observations the journal holds from source `name`.
fn journaled(journal: &Path, name: &str) -> Vec<Observation> {
    let j = Journal::open_read_only(journal).unwrap();
    j.observations().unwrap().into_iter().filter(|o| o.source == name).collect()
}

fn changes(journal: &Path) -> Vec<String> {
    journaled(journal, "changes")
        .into_iter()
        .filter_map(|o| match o.kind {
            ObservationKind::Change { entity, change, description } => {
                Some(format!("{entity} {} {description}", change.as_str()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn topology_file_and_change_feed_through_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (topo, feed, journal) =
        (dir.path().join("topology.toml"), dir.path().join("changes.jsonl"), dir.path().join("journal.sqlite"));
    let config_path = dir.path().join("faultline.toml");
    fs::write(&config_path, CONFIG).unwrap();
    fs::write(&topo, TOPOLOGY).unwrap();
    let base = 1_800_000_000;
    let feed_text = change_line(base, "service:checkout", "deployment", "checkout v2.3.1")
        + "{\"at\": \"2027-01-15T08:00:00Z\", \"entity\": \"service:checkout\", \"change\": \"redeploy\", \"description\": \"x\"}\n"
        + "\n# a comment\n"
        + &change_line(base + 60, "host:db-1", "restart", "kernel update");
    fs::write(&feed, &feed_text).unwrap();
    let config = Config::load(&config_path).unwrap();
    let rt = tokio();
    let (mut agent, _) = Runtime::new(&config, Some(Journal::open(&journal).unwrap())).unwrap();
    let t = |s: i64| Timestamp(s * 1000);

    // First cycle: the file's topology and the feed's good lines.
    rt.block_on(agent.cycle(t(base + 100))).unwrap();
    let top = agent.agent().engine().topology();
    assert_eq!(ids(top), vec!["external:stripe", "host:db-1", "service:checkout"]);
    assert_eq!(edges(top), vec!["service:checkout calls external:stripe"]);
    let stripe = top.entity(&EntityId::new("external:stripe")).unwrap();
    assert_eq!(
        (stripe.kind, stripe.criticality, stripe.name.as_str()),
        (EntityKind::External, Criticality::High, "Stripe payments")
    );
    assert_eq!(top.entity(&EntityId::new("service:checkout")).unwrap().criticality, Criticality::High);
    let s = status(&agent, "topology");
    assert!(s.healthy && s.observations == 3, "{s:?}");
    let s = status(&agent, "changes").clone();
    assert!(s.healthy, "a bad line is skipped, not a failure: {s:?}");
    assert_eq!(s.notes.len(), 1, "{s:?}");
    assert!(s.notes[0].starts_with(&format!("{}:2:", feed.display())), "file:line of the bad line: {s:?}");
    assert!(s.notes[0].contains("unknown variant `redeploy`"), "{s:?}");
    assert_eq!(
        changes(&journal),
        vec!["service:checkout deployment checkout v2.3.1 (by ci)", "host:db-1 restart kernel update (by ci)"]
    );

    // Nothing new: nothing announced.
    rt.block_on(agent.cycle(t(base + 110))).unwrap();
    assert_eq!((status(&agent, "topology").observations, status(&agent, "changes").observations), (0, 0));

    // Edited file: Stripe goes (and its relation), a legacy queue comes; only differences travel.
    let edited = "[[entity]]\nid = \"service:checkout\"\ncriticality = \"high\"\n\
                  [[entity]]\nid = \"legacy-mq\"\nkind = \"queue\"\ncriticality = \"low\"\n\
                  [[relation]]\nfrom = \"service:checkout\"\nkind = \"calls\"\nto = \"legacy-mq\"\n";
    fs::write(&topo, edited).unwrap();
    // A line being written (no newline yet) waits; the complete one before it is read.
    append(&feed, &change_line(base + 200, "service:checkout", "config_change", "pool size 50"));
    append(&feed, "{\"at\": 1800000300000, \"entity\": \"service:checkout\", \"change\": \"scale\"");
    rt.block_on(agent.cycle(t(base + 300))).unwrap();
    let top = agent.agent().engine().topology();
    assert_eq!(ids(top), vec!["host:db-1", "legacy-mq", "service:checkout"]);
    assert_eq!(edges(top), vec!["service:checkout calls legacy-mq"]);
    assert_eq!(top.entity(&EntityId::new("legacy-mq")).unwrap().kind, EntityKind::Queue);
    let kinds: Vec<&str> = journaled(&journal, "topology")
        .iter()
        .skip(3)
        .map(|o| match &o.kind {
            ObservationKind::Entity { .. } => "entity",
            ObservationKind::Relation { .. } => "relation",
            ObservationKind::RelationGone { .. } => "relation_gone",
            ObservationKind::EntityGone { .. } => "entity_gone",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["entity", "relation", "relation_gone", "entity_gone"], "only the differences");
    assert_eq!(changes(&journal).len(), 3);
    append(&feed, ", \"description\": \"replicas 3 -> 6\"}\n");
    rt.block_on(agent.cycle(t(base + 310))).unwrap();
    assert_eq!(changes(&journal).last().unwrap(), "service:checkout scale event replicas 3 -> 6");

    // A broken file: stale with file, line, key; the last good topology stays.
    fs::write(&topo, edited.replace("criticality = \"low\"", "criticality = \"lowish\"")).unwrap();
    rt.block_on(agent.cycle(t(base + 400))).unwrap();
    let s = status(&agent, "topology").clone();
    assert!(!s.healthy, "{s:?}");
    assert!(
        s.problems[0].starts_with(&format!("{}:7:15: entity[1].criticality: unknown variant `lowish`", topo.display())),
        "{s:?}"
    );
    assert!(s.problems[0].contains("last good topology stays in use"), "{s:?}");
    assert_eq!(ids(agent.agent().engine().topology()), vec!["host:db-1", "legacy-mq", "service:checkout"]);
    rt.block_on(agent.cycle(t(base + 410))).unwrap();
    assert!(!status(&agent, "topology").healthy, "stays stale until fixed");
    fs::remove_file(&topo).unwrap();
    rt.block_on(agent.cycle(t(base + 420))).unwrap();
    let s = status(&agent, "topology").clone();
    assert!(!s.healthy && s.problems[0].contains("cannot read topology file"), "{s:?}");
    assert_eq!(ids(agent.agent().engine().topology()).len(), 3, "a missing file keeps the last good topology");
    fs::write(&topo, edited).unwrap();
    rt.block_on(agent.cycle(t(base + 430))).unwrap();
    let s = status(&agent, "topology");
    assert!(s.healthy && s.observations == 0, "the same topology as before it broke: nothing to announce: {s:?}");

    // Rotation: the feed is moved away and a new one started; truncation: emptied and rewritten.
    fs::rename(&feed, dir.path().join("changes.jsonl.1")).unwrap();
    fs::write(&feed, change_line(base + 500, "service:checkout", "deployment", "checkout v2.3.2")).unwrap();
    rt.block_on(agent.cycle(t(base + 510))).unwrap();
    assert_eq!(changes(&journal).last().unwrap(), "service:checkout deployment checkout v2.3.2 (by ci)");
    assert!(status(&agent, "changes").notes.is_empty(), "the old file's bad line is forgotten");
    fs::write(&feed, change_line(base + 600, "host:db-1", "restart", "oom")).unwrap();
    rt.block_on(agent.cycle(t(base + 610))).unwrap();
    assert_eq!(changes(&journal).last().unwrap(), "host:db-1 restart oom (by ci)");
    assert_eq!(changes(&journal).len(), 6);

    // The history the engine built equals the one rebuilt from the journal, at every change.
    let live = agent.agent().engine().topology_history().clone();
    let all = Journal::open_read_only(&journal).unwrap().observations().unwrap();
    let replayed = TopologyHistory::from_observations(&all, faultline::engine::topology::history::DEFAULT_MAX_CHANGES);
    let a: Vec<_> = live.changes().collect();
    let b: Vec<_> = replayed.changes().collect();
    assert_eq!(a, b);
    assert_eq!(a.len(), 7);
    for (at, _) in &a {
        let (x, y) = (live.as_of(*at).unwrap(), replayed.as_of(*at).unwrap());
        assert_eq!((ids(&x), edges(&x)), (ids(&y), edges(&y)));
    }
    let before_edit = live.as_of(t(base + 299)).unwrap();
    assert_eq!(edges(&before_edit), vec!["service:checkout calls external:stripe"]);
    assert_eq!(edges(&live.as_of(t(base + 300)).unwrap()), vec!["service:checkout calls legacy-mq"]);
    assert!(live.as_of(t(base + 99)).unwrap().is_empty());

    // A restarted agent resumes from the journal and announces nothing twice.
    drop(agent);
    let (mut agent, _) = Runtime::new(&config, Some(Journal::open(&journal).unwrap())).unwrap();
    rt.block_on(agent.cycle(t(base + 700))).unwrap();
    assert_eq!((status(&agent, "topology").observations, status(&agent, "changes").observations), (0, 0));
    assert_eq!(changes(&journal).len(), 6);
    assert_eq!(ids(agent.agent().engine().topology()), vec!["host:db-1", "legacy-mq", "service:checkout"]);
    append(&feed, &change_line(base + 800, "legacy-mq", "restart", "after resume"));
    rt.block_on(agent.cycle(t(base + 810))).unwrap();
    assert_eq!(changes(&journal).len(), 7);
}

#[test]
fn a_topology_file_adds_criticality_to_what_prometheus_discovers() {
    let prom = topology_prometheus();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("topology.toml"),
        "[[entity]]\nid = \"host:db-1\"\ncriticality = \"high\"\nlabels = { team = \"storage\" }\n\
         [[entity]]\nid = \"external:stripe\"\nkind = \"external\"\n\
         [[relation]]\nfrom = \"service:checkout\"\nkind = \"calls\"\nto = \"external:stripe\"\n",
    )
    .unwrap();
    let text = format!(
        "[[sources.topology]]\npath = \"topology.toml\"\n\
         [[sources.prometheus]]\nname = \"prom\"\nurl = \"{}\"\nstep = \"15s\"\nlookback = \"40m\"\n\
         [[sources.prometheus.queries]]\nname = \"cpu_utilisation\"\nquery = \"node_cpu_utilisation\"\n\
         [[sources.prometheus.queries]]\nname = \"service_info\"\nquery = \"service_info\"\n\
         [[sources.prometheus.queries]]\nname = \"traces_service_graph_request_total\"\n\
         query = \"traces_service_graph_request_total\"\n",
        prom.url
    );
    let config = Config::parse(&text, &dir.path().join("faultline.toml")).unwrap();
    let rt = tokio();
    let (mut agent, _) = Runtime::new(&config, None).unwrap();
    // Prometheus is configured after the file here, so it announces host:db-1 after the file
    // gave it its criticality: discovery must not wipe it.
    for _ in 0..2 {
        rt.block_on(agent.cycle(Timestamp::wall_clock())).unwrap();
        for s in agent.statuses() {
            assert!(s.healthy, "{s:?}");
        }
        let top = agent.agent().engine().topology();
        let db = top.entity(&EntityId::new("host:db-1")).unwrap_or_else(|| panic!("no host:db-1 in {:?}", ids(top)));
        assert_eq!((db.kind, db.criticality), (EntityKind::Host, Criticality::High), "{db:?}");
        assert_eq!(db.labels.get("team").map(String::as_str), Some("storage"));
        let e = edges(top);
        assert!(e.contains(&"service:checkout calls external:stripe".to_string()), "{e:?}");
        assert!(
            e.iter().any(|x| x.starts_with("service:checkout calls service:orders-db")),
            "discovered edges stay: {e:?}"
        );
    }
    let from_prom = agent
        .agent()
        .engine()
        .topology_history()
        .changes()
        .filter(|(_, c)| matches!(c, faultline::engine::topology::TopologyChange::Entity(e) if e.id.as_str() == "host:db-1"))
        .count();
    assert_eq!(from_prom, 2, "the file and Prometheus both described host:db-1");
}
