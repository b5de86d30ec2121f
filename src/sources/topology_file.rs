//! Topology files: what discovery cannot see (an external payment provider, a legacy queue) and
//! how much each entity matters (criticality), written by an operator in TOML:
//!
//! ```toml
//! [[entity]]
//! id = "external:stripe"
//! kind = "external"            # optional: guessed from the id's prefix when left out
//! name = "Stripe payments"     # optional
//! criticality = "high"         # low, normal (the default) or high
//! labels = { team = "payments" }
//!
//! [[entity]]                   # an entity discovery finds: only its criticality is added
//! id = "service:checkout"
//! criticality = "high"
//!
//! [[relation]]
//! from = "service:checkout"
//! kind = "calls"               # or "runs_on"
//! to = "external:stripe"
//! ```
//!
//! Everything is announced with `learned_from = "static"`, which the topology lays over what
//! discovery says instead of replacing it (see [`crate::engine::topology`]). The file is read again
//! whenever its text changes; only the differences are announced (an entity or relation taken out
//! of the file becomes `EntityGone` / `RelationGone`). A file that cannot be read or is wrong
//! leaves the last good topology in place and the source stale with the error (file, line,
//! column, key) until the file is fixed.

use super::prometheus::Pull;
use crate::config::{ConfigError, HumanDuration};
use crate::engine::topology::kind_from_id;
use crate::model::{
    Criticality, Entity, EntityId, EntityKind, Observation, ObservationKind, Relation, RelationKind, Timestamp, STATIC,
};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `[[sources.topology]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFileConfig {
    /// Source name (observations carry it; the journal is searched by it).
    #[serde(default = "default_name")]
    pub name: String,
    /// The TOML file; a relative path is relative to the config file's directory.
    pub path: PathBuf,
    /// How often the file is looked at for changes.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
}

fn default_name() -> String {
    "topology".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(10_000)
}

/// The file's content.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a topology file with [[entity]] and [[relation]] tables")]
struct TopologyDoc {
    #[serde(default)]
    entity: Vec<EntityBlock>,
    #[serde(default)]
    relation: Vec<RelationBlock>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityBlock {
    id: EntityId,
    kind: Option<EntityKind>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    criticality: Criticality,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelationBlock {
    from: EntityId,
    kind: RelationKind,
    to: EntityId,
}

/// The entities and relations a topology file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticTopology {
    pub entities: BTreeMap<EntityId, Entity>,
    pub relations: BTreeSet<Relation>,
}

impl StaticTopology {
    /// Parses and checks a topology file's text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<StaticTopology, ConfigError> {
        let doc: TopologyDoc = crate::config::parse_toml(text, origin)?;
        let fail = |key: String, message: String| crate::config::key_error(text, origin, key, message);
        let mut out = StaticTopology::default();
        for (i, e) in doc.entity.into_iter().enumerate() {
            check_id(&e.id).map_err(|m| fail(format!("entity[{i}].id"), m))?;
            if out.entities.contains_key(&e.id) {
                return Err(fail(format!("entity[{i}].id"), format!("`{}` is declared twice", e.id)));
            }
            let entity = Entity {
                kind: e.kind.unwrap_or_else(|| kind_from_id(e.id.as_str())),
                id: e.id.clone(),
                name: e.name,
                labels: e.labels,
                criticality: e.criticality,
                learned_from: STATIC.to_string(),
            };
            out.entities.insert(e.id, entity);
        }
        for (i, r) in doc.relation.into_iter().enumerate() {
            check_id(&r.from).map_err(|m| fail(format!("relation[{i}].from"), m))?;
            check_id(&r.to).map_err(|m| fail(format!("relation[{i}].to"), m))?;
            if r.from == r.to {
                return Err(fail(format!("relation[{i}].to"), format!("`{}` cannot depend on itself", r.to)));
            }
            let relation = Relation { from: r.from, kind: r.kind, to: r.to, learned_from: STATIC.to_string() };
            if !out.relations.insert(relation) {
                return Err(fail(format!("relation[{i}]"), "the same relation is declared twice".into()));
            }
        }
        Ok(out)
    }
}

fn check_id(id: &EntityId) -> Result<(), String> {
    let s = id.as_str();
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else if s.trim() != s {
        Err(format!("`{s}` has spaces around it"))
    } else {
        Ok(())
    }
}

/// The state of one topology file source between cycles.
pub struct TopologyFileSource {
    config: TopologyFileConfig,
    /// The text last read (good or bad), so an unchanged file is not parsed again.
    last_text: Option<String>,
    /// Why the current file is not in use (shown every cycle until fixed).
    error: Option<String>,
    /// What has been announced: the last good file.
    announced: StaticTopology,
}

impl TopologyFileSource {
    pub fn new(config: TopologyFileConfig) -> TopologyFileSource {
        TopologyFileSource { config, last_text: None, error: None, announced: StaticTopology::default() }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// What [`restore`](Self::restore) sets, for the tests that a resume set restores the same.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        format!("{:?}", &self.announced)
    }

    /// Picks up what this source announced before (its journaled observations), so only the
    /// differences with the file as it is now are announced.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        let a = &mut self.announced;
        for obs in observations {
            match &obs.kind {
                ObservationKind::Entity { entity } => {
                    a.entities.insert(entity.id.clone(), entity.clone());
                }
                ObservationKind::EntityGone { entity, .. } => {
                    a.entities.remove(entity);
                }
                ObservationKind::Relation { relation } => {
                    a.relations.insert(relation.clone());
                }
                ObservationKind::RelationGone { relation } => {
                    a.relations.remove(relation);
                }
                _ => {}
            }
        }
    }

    /// Reads the file if its text changed and announces the differences, stamped `now`.
    pub async fn pull(&mut self, now: Timestamp) -> Pull {
        let path = &self.config.path;
        let text = match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => return self.fail(format!("{}: not UTF-8 text: {e}", path.display())),
            },
            Err(e) => return self.fail(format!("{}: cannot read topology file: {e}", path.display())),
        };
        let bytes = text.len();
        if self.last_text.as_deref() == Some(text.as_str()) {
            return Pull { problems: self.error.iter().cloned().collect(), bytes, ..Pull::default() };
        }
        let parsed = StaticTopology::parse(&text, path);
        self.last_text = Some(text);
        match parsed {
            Err(e) => {
                self.error = Some(format!("{e} (the last good topology stays in use)"));
                Pull { problems: self.error.iter().cloned().collect(), bytes, ..Pull::default() }
            }
            Ok(new) => {
                self.error = None;
                let observations = self.announce(new, now);
                Pull { observations, bytes, ..Pull::default() }
            }
        }
    }

    fn fail(&mut self, message: String) -> Pull {
        // Read again next time: the file may come back with the same text.
        self.last_text = None;
        self.error = Some(format!("{message} (the last good topology stays in use)"));
        Pull { problems: self.error.iter().cloned().collect(), ..Pull::default() }
    }

    /// The observations that take the announced topology to `new`: entities and relations that
    /// appeared or changed first (so an entity is known before its relations), then relations and
    /// entities that went.
    fn announce(&mut self, new: StaticTopology, now: Timestamp) -> Vec<Observation> {
        let old = std::mem::replace(&mut self.announced, new);
        let new = &self.announced;
        let obs = |kind| Observation { at: now, source: self.config.name.clone(), kind };
        let mut out = Vec::new();
        for (id, e) in &new.entities {
            if old.entities.get(id) != Some(e) {
                out.push(obs(ObservationKind::Entity { entity: e.clone() }));
            }
        }
        for r in new.relations.difference(&old.relations) {
            out.push(obs(ObservationKind::Relation { relation: r.clone() }));
        }
        for r in old.relations.difference(&new.relations) {
            out.push(obs(ObservationKind::RelationGone { relation: r.clone() }));
        }
        for id in old.entities.keys().filter(|id| !new.entities.contains_key(*id)) {
            out.push(obs(ObservationKind::EntityGone { entity: id.clone(), learned_from: STATIC.to_string() }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StaticTopology, String> {
        StaticTopology::parse(text, Path::new("topology.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn blocks_become_static_entities_and_relations() {
        let t = parse(
            "[[entity]]\nid = \"external:stripe\"\nname = \"Stripe\"\ncriticality = \"high\"\nlabels = { team = \"pay\" }\n\
             [[entity]]\nid = \"legacy-mq\"\nkind = \"queue\"\n\
             [[relation]]\nfrom = \"service:checkout\"\nkind = \"calls\"\nto = \"external:stripe\"\n",
        )
        .unwrap();
        let stripe = &t.entities[&EntityId::new("external:stripe")];
        assert_eq!(
            (stripe.kind, stripe.criticality, stripe.name.as_str()),
            (EntityKind::External, Criticality::High, "Stripe")
        );
        assert_eq!(stripe.labels["team"], "pay");
        assert!(stripe.is_static());
        let mq = &t.entities[&EntityId::new("legacy-mq")];
        assert_eq!((mq.kind, mq.criticality), (EntityKind::Queue, Criticality::Normal));
        let r: Vec<_> = t.relations.iter().collect();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].kind, r[0].learned_from.as_str()), (RelationKind::Calls, "static"));
    }

    #[test]
    fn the_example_file_parses() {
        let t = parse(include_str!("../../fixtures/topology/topology.example.toml")).unwrap();
        assert_eq!((t.entities.len(), t.relations.len()), (3, 2));
        assert_eq!(t.entities[&EntityId::new("queue:legacy-billing")].kind, EntityKind::Queue);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse("[[entity]]\nid = \"a\"\ncriticality = \"urgent\"\n").unwrap_err();
        assert!(e.starts_with("topology.toml:3:15: entity[0].criticality: unknown variant `urgent`"), "{e}");
        let e = parse("[[entity]]\nid = \"a\"\n[[entity]]\nid = \"a\"\n").unwrap_err();
        assert_eq!(e, "topology.toml:4:6: entity[1].id: `a` is declared twice");
        let e = parse("[[relation]]\nfrom = \"a\"\nkind = \"uses\"\nto = \"b\"\n").unwrap_err();
        assert!(e.starts_with("topology.toml:3:8: relation[0].kind: unknown variant `uses`"), "{e}");
        let e = parse("[[relation]]\nfrom = \"a\"\nkind = \"calls\"\nto = \"a\"\n").unwrap_err();
        assert_eq!(e, "topology.toml:4:6: relation[0].to: `a` cannot depend on itself");
        let e = parse("[[entity]]\nid = \"a\"\ncritical = \"high\"\n").unwrap_err();
        assert!(e.starts_with("topology.toml:3:1: entity[0]") && e.contains("unknown field `critical`"), "{e}");
        let e = parse("[[entity]\nid = \"a\"\n").unwrap_err();
        assert!(e.starts_with("topology.toml:1:"), "{e}");
        let e = parse("[[entity]]\nid = \"\"\n").unwrap_err();
        assert_eq!(e, "topology.toml:2:6: entity[0].id: must not be empty");
    }
}
