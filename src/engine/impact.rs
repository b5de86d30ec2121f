//! Impact, first cut: what a problem touches. Request rates, users and KPI comparisons come with
//! the sources that measure them.

use super::topology::Topology;
use crate::model::{EntityKind, Impact, Signal};
use std::collections::BTreeSet;

/// The impact of a problem whose signals are `signals`.
pub fn assess(signals: &[&Signal], topology: &Topology) -> Impact {
    let affected: BTreeSet<_> = signals.iter().map(|s| &s.entity).collect();
    let services = affected
        .iter()
        .filter(|id| matches!(topology.kind_of(id), EntityKind::Service | EntityKind::Application))
        .count();
    Impact {
        affected: affected.into_iter().cloned().collect(),
        services,
        active_signals: signals.iter().filter(|s| s.active).count(),
        signals: signals.len(),
    }
}
