//! Entities (what can break) and the relations between them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A stable entity id such as `host:db-1` or `service:checkout`. Ids are compared as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(pub String);

impl EntityId {
    pub fn new(s: impl Into<String>) -> Self {
        EntityId(s.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an entity is; the vertical stack runs application → service → process/container → host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Application,
    Service,
    Process,
    Container,
    Pod,
    Host,
    Database,
    Queue,
    CloudResource,
    External,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Application => "application",
            EntityKind::Service => "service",
            EntityKind::Process => "process",
            EntityKind::Container => "container",
            EntityKind::Pod => "pod",
            EntityKind::Host => "host",
            EntityKind::Database => "database",
            EntityKind::Queue => "queue",
            EntityKind::CloudResource => "cloud_resource",
            EntityKind::External => "external",
        }
    }
}

/// How much an entity matters to the business; low-criticality entities are ranked down later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    #[default]
    Normal,
    High,
}

/// Something that can break: a host, a container, a service, a database...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    pub id: EntityId,
    pub kind: EntityKind,
    /// Human name; defaults to the id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub criticality: Criticality,
    /// Where the description was learned: empty for discovery (the observation's source says
    /// which), [`STATIC`] for a topology file. A `static` description is laid over what discovery
    /// says rather than replacing it (see [`Topology::upsert`](crate::engine::topology::Topology::upsert)).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub learned_from: String,
}

/// `learned_from` of what an operator's topology file declares.
pub const STATIC: &str = "static";

impl Entity {
    /// A bare entity of `kind`: no name, no labels, normal criticality, learned from discovery.
    pub fn new(id: EntityId, kind: EntityKind) -> Entity {
        Entity {
            id,
            kind,
            name: String::new(),
            labels: BTreeMap::new(),
            criticality: Criticality::Normal,
            learned_from: String::new(),
        }
    }

    /// True when an operator's topology file declared it.
    pub fn is_static(&self) -> bool {
        self.learned_from == STATIC
    }

    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            self.id.as_str()
        } else {
            &self.name
        }
    }
}

/// The two kinds of dependency faultline reasons over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// `from` runs on `to` (vertical stack: service runs on container runs on host).
    RunsOn,
    /// `from` calls `to` (horizontal dependency).
    Calls,
}

impl RelationKind {
    pub fn verb(self) -> &'static str {
        match self {
            RelationKind::RunsOn => "runs on",
            RelationKind::Calls => "calls",
        }
    }
}

/// A directed relation: `from` depends on `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    pub from: EntityId,
    pub kind: RelationKind,
    pub to: EntityId,
    /// Where the relation was learned (a source name, `static`, `fixture`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub learned_from: String,
}

impl Relation {
    /// True when an operator's topology file declared it.
    pub fn is_static(&self) -> bool {
        self.learned_from == STATIC
    }
}
