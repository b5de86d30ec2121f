//! Root-cause ranking measured on the PetShop RCA dataset (Hardt et al., CLeaR 2024): top-1 and
//! top-3 recall of the true root-cause node, per scenario, split and target metric.
//!
//! The evaluation goes through faultline's own engine, so it measures what an operator would
//! see. For each issue a fresh [`Engine`] with the default configuration is fed, in data-time
//! order:
//! 1. the topology: every node as an entity and every call-graph edge as a *calls* relation
//!    (row node calls column node; see [`data::CallGraph`]);
//! 2. the normal period, sample by sample (one metric observation per non-missing cell, every
//!    column: latency, requests and availability under each statistic), so the detector learns
//!    its baselines. The normal period was recorded months after the issues, so its times are
//!    moved to end [`warmup_gap_ms`] before the issue's first row;
//! 3. the issue's rows, the same way.
//!
//! The events are folded into problems ([`ProblemSet::fold`]) and the problem that holds the
//! target node's signals is chosen ([`ProblemMatch`]); when the target shows nothing, a problem
//! whose trouble can have come up to it along the calls, as the fault tree would walk, not merely
//! the loudest or oldest one below it. Its root-cause candidates, best first,
//! open the ranking. The engine ranks only anomalous entities whose dependencies are healthy,
//! so the rest of the nodes follow by a documented, deterministic fallback ([`Source`]): the
//! problem's other affected entities, then entities with signals in other problems, both by their
//! strongest signal; then the remaining nodes by call-graph distance from the target. Recall is
//! reported for the full ranking and, separately, for the engine's own candidates alone.

mod data;
mod report;

pub use data::{
    is_scenario, parse_graph, parse_metrics, parse_target, CallGraph, Issue, IssueTarget, MetricTable, RootCause,
    Scenario, SeriesName, TargetSeries, SPLITS,
};
pub use report::{baseline, rank_of, recall_at, PetshopReport, RecallRow};

use crate::engine::rca::is_trouble;
use crate::engine::{Engine, EngineConfig};
use crate::model::{
    Entity, EntityId, EntityKind, Observation, ObservationKind, Problem, ProblemId, ProblemSet, ProblemStatus,
    Relation, RelationKind, Signal, Timestamp,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What went wrong reading a PetShop folder or writing the rankings. Each names the file and,
/// where the text allows, the line (1-based) and column, or the JSON path.
#[derive(Debug, thiserror::Error)]
pub enum PetshopError {
    #[error("{}: {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A CSV is malformed: `line` is 1-based; the message names the column.
    #[error("{}:{line}: {message}", .path.display())]
    Csv { path: PathBuf, line: usize, message: String },
    /// `target.json` is malformed.
    #[error("{}: {message}", .path.display())]
    Json { path: PathBuf, message: String },
    /// The folder is not laid out as a PetShop scenario.
    #[error("{}: {message}", .path.display())]
    Layout { path: PathBuf, message: String },
}

/// Where a node's place in a ranking comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A root-cause candidate of the chosen problem, in the engine's order.
    Engine,
    /// Another affected entity of the chosen problem, by its strongest signal (score, then
    /// earliest first seen, then name).
    Problem,
    /// An entity with a signal in the issue period in another problem, ordered the same way.
    Signals,
    /// Any other node, by call-graph distance from the target: first what the target reaches
    /// along *calls* edges (nearest first), then by undirected distance, then the unreachable;
    /// ties by name.
    Topology,
}

/// How the problem that stands for the issue was chosen: the first rule that finds one wins;
/// among several problems, the one with most trouble (see [`is_trouble`]: a latency that went down is
/// no sign of the issue) seen in the issue period, then the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemMatch {
    /// It holds an anomaly on the target series itself (e.g. `PetSite` `latency_average`).
    TargetSeries,
    /// It holds an anomaly on the target node's target metric under another statistic.
    TargetMetric,
    /// It holds a signal of another metric on the target node.
    TargetNode,
    /// No signal on the target node: a problem with trouble (see [`is_trouble`]) on what the
    /// target calls, reached the way the fault tree walks: on through a callee only if it is in
    /// trouble itself (see `trouble_reach`).
    Downstream,
    /// The engine raised nothing in the issue period on the target or below it.
    None,
}

impl ProblemMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemMatch::TargetSeries => "target series",
            ProblemMatch::TargetMetric => "target metric",
            ProblemMatch::TargetNode => "target node",
            ProblemMatch::Downstream => "downstream",
            ProblemMatch::None => "none",
        }
    }
}

/// One node in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedNode {
    pub node: String,
    pub source: Source,
    /// The engine's candidate score, or the strongest signal's anomaly score (both in [0, 1]);
    /// `None` for topology fallback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The outcome of one issue: the full ranking of all nodes and where the root cause landed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueRanking {
    pub scenario: String,
    pub split: String,
    pub issue: String,
    pub target_node: String,
    pub target_metric: String,
    pub target_statistic: String,
    pub root_cause: String,
    /// 1-based place of the root cause in `ranking` (`None`: not a known node).
    pub rank: Option<usize>,
    /// 1-based place among the engine's own candidates (`None`: not among them).
    pub engine_rank: Option<usize>,
    pub problem: Option<ProblemId>,
    pub problem_match: ProblemMatch,
    /// How many candidates the engine ranked.
    pub engine_candidates: usize,
    /// The root cause's signals in the issue period (metric names, sorted): empty when the
    /// detector never fired on it.
    pub root_cause_signals: Vec<String>,
    pub ranking: Vec<RankedNode>,
}

/// How long before the issue's first row the (moved) normal period ends, in milliseconds: longer
/// than the correlation and reopen windows plus the resolve delay, so no problem of the warm-up
/// joins the issue's on time alone (only through a signal still active at its end).
pub fn warmup_gap_ms(config: &EngineConfig) -> i64 {
    config.correlation_window_ms.max(config.reopen_window_ms) + config.resolve_after_ms + 5 * 60_000
}

/// Which metrics columns the engine is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricSelection {
    /// Every column: latency, requests and availability under every statistic (what a deployed
    /// agent would see). The default.
    #[default]
    All,
    /// Latency and availability (symptoms of trouble), not requests (load, which flows from
    /// caller to callee, against the direction in which trouble propagates).
    Symptoms,
    /// Only the target's metric under the target's statistic on every node: the input the
    /// authors' baselines get.
    Target,
}

impl MetricSelection {
    fn keeps(self, column: &SeriesName, target: &TargetSeries) -> bool {
        match self {
            MetricSelection::All => true,
            MetricSelection::Symptoms => column.metric != "requests",
            MetricSelection::Target => column.metric == target.metric && column.statistic == target.agg,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricSelection::All => "all metrics",
            MetricSelection::Symptoms => "latency and availability",
            MetricSelection::Target => "the target metric only",
        }
    }
}

/// How the evaluation runs: the engine configuration and what it is fed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PetshopOptions {
    pub engine: EngineConfig,
    pub metrics: MetricSelection,
}

/// Runs the whole evaluation on `dir` (one scenario folder with `graph.csv`, or a folder of
/// them) with the default options: the default engine configuration fed every metric. Writes
/// one JSON line per issue with its full ranking to `write_rankings` when given.
pub fn evaluate(dir: &Path, write_rankings: Option<&Path>) -> Result<PetshopReport, PetshopError> {
    evaluate_with(dir, write_rankings, &PetshopOptions::default())
}

/// [`evaluate`] with other options (for ablations; the CLI uses the defaults).
pub fn evaluate_with(
    dir: &Path,
    write_rankings: Option<&Path>,
    options: &PetshopOptions,
) -> Result<PetshopReport, PetshopError> {
    let scenarios = load_scenarios(dir)?;
    let mut issues = Vec::new();
    for s in &scenarios {
        issues.extend(rank_scenario(s, options));
    }
    if let Some(path) = write_rankings {
        write_rankings_file(path, &issues)?;
    }
    Ok(PetshopReport::new(issues, options.metrics))
}

/// The scenario at `dir`, or every scenario folder directly under it (by name).
pub fn load_scenarios(dir: &Path) -> Result<Vec<Scenario>, PetshopError> {
    if is_scenario(dir) {
        return Ok(vec![Scenario::load(dir)?]);
    }
    let io = |source| PetshopError::Io { path: dir.to_path_buf(), action: "list", source };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() && is_scenario(&path) {
            dirs.push(path);
        }
    }
    dirs.sort();
    if dirs.is_empty() {
        return Err(PetshopError::Layout {
            path: dir.to_path_buf(),
            message: "neither a PetShop scenario (no graph.csv) nor a folder of scenarios".into(),
        });
    }
    dirs.iter().map(|d| Scenario::load(d)).collect()
}

/// Ranks every issue of a scenario (issues spread over the available cores), in issue order.
pub fn rank_scenario(scenario: &Scenario, options: &PetshopOptions) -> Vec<IssueRanking> {
    let issues = &scenario.issues;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, issues.len().max(1));
    let mut out: Vec<Option<IssueRanking>> = vec![None; issues.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    issues
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, issue)| (i, rank_issue(scenario, issue, options)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter().flatten().collect()
}

/// Replays one issue through a fresh engine and ranks every node of the scenario.
pub fn rank_issue(scenario: &Scenario, issue: &Issue, options: &PetshopOptions) -> IssueRanking {
    let problems = replay(scenario, issue, options);
    let issue_start = issue.metrics.start().unwrap_or_default();
    let target = &issue.target.target;
    let (problem, problem_match) = choose_problem(&problems, scenario, target, issue_start);

    let mut ranking: Vec<RankedNode> = Vec::new();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut place = |ranking: &mut Vec<RankedNode>, node: &str, source: Source, score: Option<f64>| {
        if placed.insert(node.to_string()) {
            ranking.push(RankedNode { node: node.to_string(), source, score });
        }
    };
    let mut engine_candidates = 0;
    if let Some(p) = problem {
        for c in &p.root_causes {
            place(&mut ranking, c.entity.as_str(), Source::Engine, Some(c.score));
        }
        engine_candidates = ranking.len();
        for (node, score) in by_strongest_signal(p.signals.values()) {
            place(&mut ranking, &node, Source::Problem, Some(score));
        }
    }
    let elsewhere = problems
        .problems
        .values()
        .filter(|q| Some(q.id) != problem.map(|p| p.id))
        .flat_map(|q| q.signals.values())
        .filter(|s| s.last_seen >= issue_start);
    for (node, score) in by_strongest_signal(elsewhere) {
        place(&mut ranking, &node, Source::Signals, Some(score));
    }
    for node in by_distance(&scenario.graph, &scenario.nodes(), &target.node) {
        place(&mut ranking, &node, Source::Topology, None);
    }

    let truth = &issue.target.root_cause.node;
    let engine_nodes: Vec<&str> = ranking[..engine_candidates].iter().map(|r| r.node.as_str()).collect();
    let all_nodes: Vec<&str> = ranking.iter().map(|r| r.node.as_str()).collect();
    let root_cause_signals: Vec<String> = problems
        .problems
        .values()
        .flat_map(|q| q.signals.values())
        .filter(|s| s.entity.as_str() == truth && s.last_seen >= issue_start)
        .map(|s| s.name.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    IssueRanking {
        scenario: scenario.name.clone(),
        split: issue.split.clone(),
        issue: issue.name.clone(),
        target_node: target.node.clone(),
        target_metric: target.metric.clone(),
        target_statistic: target.agg.clone(),
        root_cause: truth.clone(),
        rank: rank_of(&all_nodes, truth),
        engine_rank: rank_of(&engine_nodes, truth),
        problem: problem.map(|p| p.id),
        problem_match,
        engine_candidates,
        root_cause_signals,
        ranking,
    }
}

/// Feeds the topology, the (moved) normal period and the issue into a fresh engine; returns the
/// folded problems.
pub fn replay(scenario: &Scenario, issue: &Issue, options: &PetshopOptions) -> ProblemSet {
    let config = &options.engine;
    let mut engine = Engine::new(config.clone());
    let mut events = Vec::new();
    let issue_start = issue.metrics.start().unwrap_or_default();
    let normal_end = scenario.normal.end().unwrap_or(issue_start);
    let offset = issue_start.since(normal_end) - warmup_gap_ms(config);
    let first = scenario.normal.start().map_or(issue_start, |t| t.plus_ms(offset));
    let observe = |engine: &mut Engine, events: &mut Vec<_>, at: Timestamp, kind: ObservationKind| {
        engine.observe(&Observation { at, source: "petshop".into(), kind }, events);
    };

    for node in scenario.nodes() {
        let entity = Entity {
            id: EntityId::new(node.as_str()),
            kind: entity_kind(&node),
            name: String::new(),
            labels: BTreeMap::new(),
            criticality: Default::default(),
            learned_from: String::new(),
        };
        observe(&mut engine, &mut events, first, ObservationKind::Entity { entity });
    }
    for (caller, callee) in &scenario.graph.calls {
        let relation = Relation {
            from: EntityId::new(caller.as_str()),
            kind: RelationKind::Calls,
            to: EntityId::new(callee.as_str()),
            learned_from: "petshop graph.csv".into(),
        };
        observe(&mut engine, &mut events, first, ObservationKind::Relation { relation });
    }
    for (table, shift) in [(&scenario.normal, offset), (&issue.metrics, 0)] {
        // Columns by name, so both files feed their series in one order whatever their layout.
        let target = &issue.target.target;
        let mut order: Vec<usize> =
            (0..table.columns.len()).filter(|c| options.metrics.keeps(&table.columns[*c], target)).collect();
        order.sort_by(|a, b| table.columns[*a].cmp(&table.columns[*b]));
        let metrics: Vec<String> = table.columns.iter().map(SeriesName::engine_metric).collect();
        for (at, values) in &table.rows {
            let at = at.plus_ms(shift);
            for &c in &order {
                let Some(v) = values[c] else { continue };
                let kind = ObservationKind::Metric {
                    entity: EntityId::new(table.columns[c].node.as_str()),
                    metric: metrics[c].clone(),
                    samples: vec![(at, v)],
                };
                observe(&mut engine, &mut events, at, kind);
            }
        }
    }
    ProblemSet::fold(&events)
}

/// A rough entity kind from the AWS resource type in a PetShop node name (for display only:
/// the root-cause walk does not look at kinds).
fn entity_kind(node: &str) -> EntityKind {
    if node.contains("DynamoDB") || node.contains("Database::SQL") || node.starts_with("PGSQL") {
        EntityKind::Database
    } else if node.contains("SQS::Queue") {
        EntityKind::Queue
    } else if node.ends_with("_remote") {
        EntityKind::External
    } else if node.contains("ECS::Container") {
        EntityKind::Container
    } else {
        EntityKind::Service
    }
}

/// The problem standing for the issue, by the rules of [`ProblemMatch`].
fn choose_problem<'a>(
    problems: &'a ProblemSet,
    scenario: &Scenario,
    target: &TargetSeries,
    issue_start: Timestamp,
) -> (Option<&'a Problem>, ProblemMatch) {
    let series = SeriesName { node: target.node.clone(), metric: target.metric.clone(), statistic: target.agg.clone() };
    let target_series = series.engine_metric();
    let metric_prefix = format!("{}_", target.metric.to_lowercase());
    let in_trouble: BTreeSet<&str> = problems
        .problems
        .values()
        .flat_map(|p| p.signals.values())
        .filter(|s| s.last_seen >= issue_start && is_trouble(s))
        .map(|s| s.entity.as_str())
        .collect();
    let downstream = trouble_reach(&scenario.graph, &target.node, &in_trouble);
    let live: Vec<&Problem> =
        problems.problems.values().filter(|p| !matches!(p.status, ProblemStatus::Merged(_))).collect();
    let in_issue = |p: &Problem| p.signals.values().filter(|s| s.last_seen >= issue_start && is_trouble(s)).count();
    let holds = |rule: ProblemMatch, s: &Signal| match rule {
        ProblemMatch::TargetSeries => s.entity.as_str() == target.node && s.name == target_series,
        ProblemMatch::TargetMetric => s.entity.as_str() == target.node && s.name.starts_with(&metric_prefix),
        ProblemMatch::TargetNode => s.entity.as_str() == target.node,
        ProblemMatch::Downstream => downstream.contains(s.entity.as_str()) && is_trouble(s),
        ProblemMatch::None => false,
    };
    let rules =
        [ProblemMatch::TargetSeries, ProblemMatch::TargetMetric, ProblemMatch::TargetNode, ProblemMatch::Downstream];
    for rule in rules {
        let best = live
            .iter()
            .filter(|p| p.signals.values().any(|s| s.last_seen >= issue_start && holds(rule, s)))
            .max_by(|a, b| in_issue(a).cmp(&in_issue(b)).then(b.id.cmp(&a.id)));
        if let Some(p) = best {
            return (Some(p), rule);
        }
    }
    (None, ProblemMatch::None)
}

/// Entities of `signals` with their strongest score, strongest first (then earliest first seen,
/// then name).
fn by_strongest_signal<'a>(signals: impl Iterator<Item = &'a Signal>) -> Vec<(String, f64)> {
    let mut best: BTreeMap<&str, (f64, Timestamp)> = BTreeMap::new();
    for s in signals {
        let e = best.entry(s.entity.as_str()).or_insert((s.score, s.first_seen));
        e.0 = e.0.max(s.score);
        e.1 = e.1.min(s.first_seen);
    }
    let mut v: Vec<(&str, (f64, Timestamp))> = best.into_iter().collect();
    v.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)).then(a.0.cmp(b.0)));
    v.into_iter().map(|(n, (score, _))| (n.to_string(), score)).collect()
}

/// What `target` calls, transitively, along which trouble can have come up to it: on through a
/// callee only if it is in trouble in the issue period (`in_trouble`), as the fault tree walks
/// (`rca::trouble_walk`). A problem below a healthy service did not reach the target through
/// it: with no signal on the target, the issue's problem is one whose trouble can have reached
/// it, whatever other trouble (a database slow all along behind a healthy service, a callee's
/// traffic that the target itself sends) happens to be louder or older in the same minutes.
fn trouble_reach(graph: &CallGraph, target: &str, in_trouble: &BTreeSet<&str>) -> BTreeSet<String> {
    let callees = |n: &str| graph.calls.iter().filter(|(a, _)| a == n).map(|(_, b)| b.as_str()).collect();
    bfs(target, |n| if n == target || in_trouble.contains(n) { callees(n) } else { Vec::new() })
        .into_keys()
        .filter(|n| n != target)
        .collect()
}

/// Hops from `start` to every node it reaches along *calls* edges (caller to callee).
fn reach(graph: &CallGraph, start: &str) -> BTreeMap<String, usize> {
    bfs(start, |n| graph.calls.iter().filter(|(a, _)| a == n).map(|(_, b)| b.as_str()).collect())
}

fn bfs<'a>(start: &'a str, next: impl Fn(&str) -> Vec<&'a str>) -> BTreeMap<String, usize> {
    let mut dist = BTreeMap::from([(start.to_string(), 0)]);
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        let d = dist[n];
        for m in next(n) {
            if !dist.contains_key(m) {
                dist.insert(m.to_string(), d + 1);
                queue.push_back(m);
            }
        }
    }
    dist
}

/// All `nodes` ordered as in [`Source::Topology`].
fn by_distance(graph: &CallGraph, nodes: &BTreeSet<String>, target: &str) -> Vec<String> {
    let down = reach(graph, target);
    let any = bfs(target, |n| {
        graph
            .calls
            .iter()
            .filter_map(|(a, b)| {
                if a == n {
                    Some(b.as_str())
                } else if b == n {
                    Some(a.as_str())
                } else {
                    None
                }
            })
            .collect()
    });
    let mut v: Vec<(u8, usize, &String)> = nodes
        .iter()
        .map(|n| match (down.get(n), any.get(n)) {
            (Some(d), _) => (0, *d, n),
            (None, Some(d)) => (1, *d, n),
            (None, None) => (2, 0, n),
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, _, n)| n.clone()).collect()
}

/// One JSON object per line, in issue order.
fn write_rankings_file(path: &Path, issues: &[IssueRanking]) -> Result<(), PetshopError> {
    let io = |source| PetshopError::Io { path: path.to_path_buf(), action: "write", source };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for issue in issues {
        let line = serde_json::to_string(issue).map_err(|e| io(std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> CallGraph {
        let mut nodes: BTreeSet<String> = BTreeSet::new();
        for (a, b) in edges {
            nodes.insert(a.to_string());
            nodes.insert(b.to_string());
        }
        CallGraph {
            nodes: nodes.into_iter().collect(),
            calls: edges.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
        }
    }

    #[test]
    fn trouble_reaches_the_target_only_through_callees_in_trouble() {
        let g = graph(&[("site", "pay"), ("pay", "db"), ("site", "list"), ("list", "search"), ("search", "s3")]);
        // `pay` is healthy: the database's trouble did not come up through it. `list` is in
        // trouble, `search` is not: `s3` is out of reach, `search` itself in it.
        let trouble = BTreeSet::from(["db", "list", "s3"]);
        let reached = trouble_reach(&g, "site", &trouble);
        assert_eq!(reached, BTreeSet::from(["list".to_string(), "pay".to_string(), "search".to_string()]));
        // Everything in trouble: everything the target calls.
        let all = BTreeSet::from(["pay", "db", "list", "search", "s3"]);
        assert_eq!(trouble_reach(&g, "site", &all).len(), 5);
    }

    #[test]
    fn topology_fallback_puts_what_the_target_calls_first() {
        let g = graph(&[("site", "search"), ("search", "db"), ("client", "search"), ("lonely", "other")]);
        let mut nodes: BTreeSet<String> = g.nodes.iter().cloned().collect();
        nodes.insert("unknown".into());
        let order = by_distance(&g, &nodes, "site");
        assert_eq!(order, ["site", "search", "db", "client", "lonely", "other", "unknown"]);
    }
}
