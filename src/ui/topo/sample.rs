//! A generated estate for the topology view's tests and benchmark: services that call each other
//! in a chain, each running on many pods spread over a few hosts, and one database.

use crate::model::{Entity, EntityId, EntityKind, Observation, ObservationKind, Relation, RelationKind, Timestamp};

/// Topology observations (all at `at`) of `services` services with `pods` pods each, spread over
/// `hosts` hosts, every service calling the next and the last one calling `database:main`, which
/// runs on `host:db`. Entities: `services * (pods + 1) + hosts + 2`.
pub fn estate(services: usize, pods: usize, hosts: usize, at: Timestamp) -> Vec<Observation> {
    let mut out = Vec::new();
    let entity = |id: String, kind| Observation {
        at,
        source: "sample".to_string(),
        kind: ObservationKind::Entity { entity: Entity::new(EntityId::new(id), kind) },
    };
    let relation = |from: String, kind, to: String| Observation {
        at,
        source: "sample".to_string(),
        kind: ObservationKind::Relation {
            relation: Relation { from: EntityId::new(from), kind, to: EntityId::new(to), learned_from: String::new() },
        },
    };
    for h in 0..hosts {
        out.push(entity(format!("host:node-{h:02}"), EntityKind::Host));
    }
    out.push(entity("host:db".to_string(), EntityKind::Host));
    out.push(entity("database:main".to_string(), EntityKind::Database));
    out.push(relation("database:main".to_string(), RelationKind::RunsOn, "host:db".to_string()));
    for s in 0..services {
        let service = format!("service:svc-{s:02}");
        out.push(entity(service.clone(), EntityKind::Service));
        for p in 0..pods {
            let pod = format!("pod:svc-{s:02}-{p:02}");
            out.push(entity(pod.clone(), EntityKind::Pod));
            out.push(relation(service.clone(), RelationKind::RunsOn, pod.clone()));
            out.push(relation(pod, RelationKind::RunsOn, format!("host:node-{:02}", (s + p) % hosts.max(1))));
        }
        let next = if s + 1 < services { format!("service:svc-{:02}", s + 1) } else { "database:main".to_string() };
        out.push(relation(service, RelationKind::Calls, next));
    }
    out
}
