use super::*;
use crate::model::{AlertState, ChangeKind, Entity, EntityKind, Relation, RelationKind, Severity};
use crate::sources::Source;
use std::path::Path;

/// Every kind of source, each under its own name, built as the runtime builds them.
fn sources() -> Vec<Source> {
    let config = crate::config::Config::parse(
        "[[sources.prometheus]]\nname = \"prom\"\nurl = \"http://127.0.0.1:9\"\nchanges = []\n\
         [[sources.alertmanager]]\nname = \"am\"\nurl = \"http://127.0.0.1:9\"\n\
         [[sources.topology]]\nname = \"topo\"\npath = \"/nonexistent/topology.toml\"\n\
         [[sources.change_feed]]\nname = \"feed\"\npath = \"/nonexistent/changes.jsonl\"\n\
         [[sources.cloudwatch]]\nname = \"cw\"\nregion = \"eu-west-1\"\n\
         [[sources.loki]]\nname = \"logs\"\nurl = \"http://127.0.0.1:9\"\n[[sources.loki.queries]]\nquery = '{app=\"a\"}'\n",
        Path::new("resume-test.toml"),
    )
    .unwrap();
    let s = &config.sources;
    let m = &config.mapping;
    vec![
        Source::Prometheus(Box::new(
            crate::sources::prometheus::PrometheusSource::new(s.prometheus[0].clone(), m.clone()).unwrap(),
        )),
        Source::Alertmanager(Box::new(
            crate::sources::alertmanager::AlertmanagerSource::new(s.alertmanager[0].clone(), m.clone()).unwrap(),
        )),
        Source::Topology(Box::new(crate::sources::topology_file::TopologyFileSource::new(s.topology[0].clone()))),
        Source::ChangeFeed(Box::new(crate::sources::change_feed::ChangeFeedSource::new(s.change_feed[0].clone()))),
        Source::CloudWatch(Box::new(
            crate::sources::cloudwatch::CloudWatchSource::new(s.cloudwatch[0].clone(), m.clone()).unwrap(),
        )),
        Source::Loki(Box::new(crate::sources::loki::LokiSource::new(s.loki[0].clone(), m.clone()).unwrap())),
    ]
}

/// splitmix64: the streams are random but the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A stream of every kind of observation from every source (and some from none), with few
/// enough entities, metrics and fingerprints that keys repeat, alerts resolve and fire again,
/// entities vanish and come back, and samples arrive out of order now and then.
fn stream(seed: u64, n: usize) -> Vec<Observation> {
    let mut rng = Rng(seed);
    let names = ["prom", "am", "topo", "feed", "cw", "logs", "runbook"];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = Timestamp(1_000_000 + i as i64 * 1000);
        let entity = EntityId::new(format!("host:h{}", rng.below(4)));
        let other = EntityId::new(format!("service:s{}", rng.below(3)));
        let source = names[rng.below(names.len() as u64) as usize].to_string();
        let relation = Relation {
            from: other.clone(),
            to: entity.clone(),
            kind: RelationKind::RunsOn,
            learned_from: String::new(),
        };
        let kind = match rng.below(12) {
            0 | 1 => {
                let t = at.millis() - rng.below(4) as i64 * 30_000;
                let samples = (0..rng.below(3)).map(|k| (Timestamp(t + k as i64 * 15_000), 0.5)).collect();
                ObservationKind::Metric { entity, metric: format!("m{}", rng.below(3)), samples }
            }
            2 => ObservationKind::History {
                entity,
                metric: format!("m{}", rng.below(3)),
                samples: vec![(Timestamp(at.millis() - 60_000), 1.0)],
            },
            3 => ObservationKind::Entity {
                entity: Entity {
                    id: entity,
                    kind: EntityKind::Host,
                    name: format!("v{}", rng.below(3)),
                    labels: Default::default(),
                    criticality: Default::default(),
                    learned_from: String::new(),
                },
            },
            4 => ObservationKind::EntityGone { entity, learned_from: String::new() },
            5 => ObservationKind::Relation { relation },
            6 => ObservationKind::RelationGone { relation },
            7 | 8 => ObservationKind::Alert {
                entity,
                name: "HostDown".into(),
                fingerprint: format!("fp{}", rng.below(4)),
                state: if rng.below(2) == 0 { AlertState::Firing } else { AlertState::Resolved },
                severity: Severity::default(),
                labels: Default::default(),
                summary: format!("summary {}", rng.below(3)),
            },
            9 => ObservationKind::Change {
                entity,
                change: if rng.below(2) == 0 { ChangeKind::Deployment } else { ChangeKind::Restart },
                description: format!("v{}", rng.below(2)),
            },
            10 => ObservationKind::LogPattern {
                entity,
                template_id: "t1".into(),
                template: "timeout after <*>".into(),
                level: Severity::default(),
                count: rng.below(9),
                new_template: false,
            },
            _ => ObservationKind::Tick,
        };
        // Now and then an observation stamped earlier than the one before (a late pull).
        let at = if rng.below(10) == 0 { Timestamp(at.millis() - 5_000) } else { at };
        out.push(Observation { at, source, kind });
    }
    out
}

fn restored(observations: &[Observation]) -> Vec<String> {
    let mut sources = sources();
    for s in &mut sources {
        s.restore(observations);
    }
    sources.iter().map(Source::restored_state).collect()
}

#[test]
fn every_source_restores_from_the_set_what_it_restores_from_every_observation() {
    for seed in 1..=20 {
        let all = stream(seed, 600);
        let set = ResumeSet::of(&all);
        assert!(set.len() < all.len() / 2, "seed {seed}: {} kept of {}", set.len(), all.len());
        let (from_all, from_set) = (restored(&all), restored(&set.observations()));
        for (i, (a, b)) in from_all.iter().zip(&from_set).enumerate() {
            assert_eq!(a, b, "seed {seed}, source {i}");
        }
    }
}

#[test]
fn a_stored_set_noted_further_equals_one_noted_straight_through() {
    // What a resume does: the snapshot's set read back, then the observations after it.
    let all = stream(7, 900);
    let (before, after) = all.split_at(400);
    let mut resumed = ResumeSet::from_json(&ResumeSet::of(before).to_json().unwrap()).unwrap();
    for obs in after {
        resumed.note(obs);
    }
    assert_eq!(resumed.observations(), ResumeSet::of(&all).observations());
}

#[test]
fn the_set_grows_with_the_estate_not_with_time() {
    let day = stream(3, 5_000);
    let week: Vec<Observation> = (0..7).flat_map(|_| day.iter().cloned()).collect();
    // Changes are kept one per distinct change, so a stream that repeats the same ones does
    // not grow either.
    assert_eq!(ResumeSet::of(&week).len(), ResumeSet::of(&day).len());
}

#[test]
fn a_long_firing_alert_stays_resolvable_and_a_resolved_one_is_dropped() {
    let alert = |fp: &str, state| Observation {
        at: Timestamp(1),
        source: "am".into(),
        kind: ObservationKind::Alert {
            entity: EntityId::new("host:a"),
            name: "Down".into(),
            fingerprint: fp.into(),
            state,
            severity: Severity::default(),
            labels: Default::default(),
            summary: String::new(),
        },
    };
    let mut set = ResumeSet::of(&[alert("old", AlertState::Firing), alert("gone", AlertState::Firing)]);
    for i in 0..10_000 {
        set.note(&Observation {
            at: Timestamp(i),
            source: "prom".into(),
            kind: ObservationKind::Metric {
                entity: EntityId::new("host:a"),
                metric: "cpu".into(),
                samples: vec![(Timestamp(i), 0.1)],
            },
        });
    }
    set.note(&alert("gone", AlertState::Resolved));
    let kept = set.observations();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(matches!(&kept[0].kind, ObservationKind::Alert { fingerprint, .. } if fingerprint == "old"));
    assert!(matches!(&kept[1].kind, ObservationKind::Metric { samples, .. } if samples == &[(Timestamp(9_999), 0.1)]));
}
