//! What a runbook knows about the problem it runs for: the values its `{...}` placeholders name
//! and its match rule looks at. Built from a folded [`Problem`] and the entities the topology
//! knows, or directly (tests, the agent later).

use crate::model::{Entity, EntityId, Problem};
use std::collections::BTreeMap;

/// The problem as a runbook sees it. Every field is plain text so templates fill it verbatim.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProblemContext {
    /// `P-0007`.
    pub problem_id: String,
    /// The problem's headline (top root cause, else its title).
    pub problem_title: String,
    /// `info`, `warning`, `major` or `critical`.
    pub problem_severity: String,
    /// The entity the runbook acts on: the top root-cause candidate (else the first signal's).
    pub entity_id: String,
    /// `host`, `process`, `service`...
    pub entity_kind: String,
    /// Human name (the id when the topology gives none).
    pub entity_name: String,
    /// The entity's labels from the topology, completed by the root-cause signal's labels.
    pub entity_labels: BTreeMap<String, String>,
    /// The root-cause signal, when the problem has one.
    pub root_cause: Option<CauseSignal>,
    /// Kind and name of every signal of the problem, sorted.
    pub signals: Vec<(String, String)>,
}

/// The signal that best explains the problem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CauseSignal {
    /// `alert`, `anomaly` or `log burst`.
    pub kind: String,
    /// Alert name, metric name or log template.
    pub name: String,
    /// Last value seen, where the signal is a metric.
    pub value: Option<f64>,
    /// An alert's labels.
    pub labels: BTreeMap<String, String>,
}

/// The placeholder names a template may use (`{entity.labels.X}`, `{signal.labels.X}` and
/// `{secret.X}` take a name after the prefix), for the help text and load-time checks.
pub const FIELDS: &[&str] = &[
    "problem.id",
    "problem.title",
    "problem.severity",
    "entity.id",
    "entity.kind",
    "entity.name",
    "entity.labels.<name>",
    "signal.kind",
    "signal.name",
    "signal.value",
    "signal.labels.<name>",
    "secret.<name>",
    "operator",
];

/// True when `name` is a placeholder a template may use (whether the problem has it is a plan-time
/// question).
pub fn known_field(name: &str) -> bool {
    let prefixed = ["entity.labels.", "signal.labels.", "secret."]
        .iter()
        .any(|p| name.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
    prefixed || FIELDS.iter().any(|f| !f.contains('<') && *f == name)
}

impl ProblemContext {
    /// The context of `problem`; `entities` are what the topology knows (labels, names). `None`
    /// when the problem names no entity at all (no root cause and no signal).
    pub fn from_problem(problem: &Problem, entities: &BTreeMap<EntityId, Entity>) -> Option<ProblemContext> {
        let top = problem.root_causes.first();
        let cause_signal = top
            .and_then(|c| c.signals.iter().find_map(|k| problem.signals.get(k)))
            .or_else(|| top.and_then(|c| problem.signals.values().find(|s| s.entity == c.entity)))
            .or_else(|| problem.signals.values().next());
        let (entity_id, kind) = match (top, cause_signal) {
            (Some(c), _) => (c.entity.clone(), Some(c.entity_kind)),
            (None, Some(s)) => (s.entity.clone(), None),
            (None, None) => return None,
        };
        let known = entities.get(&entity_id);
        let kind =
            kind.or(known.map(|e| e.kind)).unwrap_or_else(|| crate::engine::topology::kind_from_id(entity_id.as_str()));
        let mut labels = known.map(|e| e.labels.clone()).unwrap_or_default();
        if let Some(s) = cause_signal {
            for (k, v) in &s.labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut signals: Vec<(String, String)> =
            problem.signals.values().map(|s| (s.kind.as_str().to_string(), s.name.clone())).collect();
        signals.sort();
        signals.dedup();
        Some(ProblemContext {
            problem_id: problem.id.to_string(),
            problem_title: problem.headline().to_string(),
            problem_severity: problem.severity.as_str().to_string(),
            entity_name: known.map_or_else(|| entity_id.as_str().to_string(), |e| e.display_name().to_string()),
            entity_id: entity_id.as_str().to_string(),
            entity_kind: kind.as_str().to_string(),
            entity_labels: labels,
            root_cause: cause_signal.map(|s| CauseSignal {
                kind: s.kind.as_str().to_string(),
                name: s.name.clone(),
                value: s.value,
                labels: s.labels.clone(),
            }),
            signals,
        })
    }

    /// The value of placeholder `name` (not secrets: see [`super::secrets`]), or `None` when the
    /// problem lacks it. `operator` is filled by the plan.
    pub fn field(&self, name: &str) -> Option<String> {
        let cause = self.root_cause.as_ref();
        match name {
            "problem.id" => Some(self.problem_id.clone()),
            "problem.title" => Some(self.problem_title.clone()),
            "problem.severity" => Some(self.problem_severity.clone()),
            "entity.id" => Some(self.entity_id.clone()),
            "entity.kind" => Some(self.entity_kind.clone()),
            "entity.name" => Some(self.entity_name.clone()),
            "signal.kind" => cause.map(|c| c.kind.clone()),
            "signal.name" => cause.map(|c| c.name.clone()),
            "signal.value" => cause.and_then(|c| c.value).map(|v| v.to_string()),
            _ => {
                if let Some(label) = name.strip_prefix("entity.labels.") {
                    self.entity_labels.get(label).cloned()
                } else if let Some(label) = name.strip_prefix("signal.labels.") {
                    cause.and_then(|c| c.labels.get(label).cloned())
                } else {
                    None
                }
            }
        }
    }
}
