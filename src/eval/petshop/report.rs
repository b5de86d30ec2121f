//! Top-k recall over the issues' rankings, and the text table beside the authors' baseline.

use super::{IssueRanking, MetricSelection, ProblemMatch, Source};
use std::collections::BTreeSet;
use std::fmt;

/// 1-based place of `truth` in `ranking`, best first.
pub fn rank_of(ranking: &[&str], truth: &str) -> Option<usize> {
    ranking.iter().position(|n| *n == truth).map(|i| i + 1)
}

/// Top-`k` recall: the fraction of `ranks` (1-based, `None`: not ranked) at or above `k`;
/// `None` when there is no issue.
pub fn recall_at(ranks: &[Option<usize>], k: usize) -> Option<f64> {
    if ranks.is_empty() {
        return None;
    }
    let hits = ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count();
    Some(hits as f64 / ranks.len() as f64)
}

/// The authors' ranked-correlation baseline (top-1, top-3) for a scenario and target metric,
/// over its train and test issues together (Hardt et al., CLeaR 2024; low traffic only here).
pub fn baseline(scenario: &str, metric: &str) -> Option<(f64, f64)> {
    match (scenario, metric) {
        ("low_traffic", "availability") => Some((0.75, 0.92)),
        ("low_traffic", "latency") => Some((0.43, 0.57)),
        _ => None,
    }
}

/// Recall of one group of issues. `split` and `metric` are `all` for the union.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallRow {
    pub scenario: String,
    pub split: String,
    pub metric: String,
    pub issues: usize,
    /// Recall of the full ranking (engine candidates, then the fallback).
    pub top1: f64,
    pub top3: f64,
    /// Recall of the engine's own candidates alone.
    pub engine_top1: f64,
    pub engine_top3: f64,
    /// The authors' baseline for the same issues, where published.
    pub baseline: Option<(f64, f64)>,
}

/// What the evaluation measured: every issue's ranking and the recall table.
#[derive(Debug, Clone, PartialEq)]
pub struct PetshopReport {
    /// In scenario, split and issue order.
    pub issues: Vec<IssueRanking>,
    /// Per scenario: each split then `all`, each with each metric then `all`.
    pub rows: Vec<RecallRow>,
    /// What the engine was fed.
    pub metrics: MetricSelection,
}

impl PetshopReport {
    pub fn new(issues: Vec<IssueRanking>, metrics: MetricSelection) -> PetshopReport {
        let mut rows = Vec::new();
        let scenarios: Vec<&str> =
            issues.iter().map(|i| i.scenario.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
        for scenario in scenarios {
            let of: Vec<&IssueRanking> = issues.iter().filter(|i| i.scenario == scenario).collect();
            let mut splits: Vec<&str> =
                super::SPLITS.iter().copied().filter(|s| of.iter().any(|i| i.split == *s)).collect();
            splits.push("all");
            let mut metrics: Vec<&str> =
                of.iter().map(|i| i.target_metric.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
            metrics.push("all");
            for split in &splits {
                for metric in &metrics {
                    let group: Vec<&&IssueRanking> = of
                        .iter()
                        .filter(|i| {
                            (*split == "all" || i.split == *split) && (*metric == "all" || i.target_metric == *metric)
                        })
                        .collect();
                    if group.is_empty() {
                        continue;
                    }
                    let ranks: Vec<Option<usize>> = group.iter().map(|i| i.rank).collect();
                    let engine: Vec<Option<usize>> = group.iter().map(|i| i.engine_rank).collect();
                    rows.push(RecallRow {
                        scenario: scenario.to_string(),
                        split: split.to_string(),
                        metric: metric.to_string(),
                        issues: group.len(),
                        top1: recall_at(&ranks, 1).unwrap_or(0.0),
                        top3: recall_at(&ranks, 3).unwrap_or(0.0),
                        engine_top1: recall_at(&engine, 1).unwrap_or(0.0),
                        engine_top3: recall_at(&engine, 3).unwrap_or(0.0),
                        baseline: if *split == "all" { baseline(scenario, metric) } else { None },
                    });
                }
            }
        }
        PetshopReport { issues, rows, metrics }
    }

    /// The recall row of a scenario, split (or `all`) and metric (or `all`).
    pub fn row(&self, scenario: &str, split: &str, metric: &str) -> Option<&RecallRow> {
        self.rows.iter().find(|r| r.scenario == scenario && r.split == split && r.metric == metric)
    }
}

fn two(x: f64) -> String {
    format!("{x:.2}")
}

impl fmt::Display for PetshopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "PetShop root-cause ranking, faultline engine (default configuration) fed {}",
            self.metrics.as_str()
        )?;
        writeln!(
            f,
            "recall of the true root-cause node: full ranking of every node (engine candidates, then fallback); \
             engine = its own candidates alone"
        )?;
        writeln!(f, "baseline = the authors' ranked correlation (Hardt et al., CLeaR 2024), train and test together")?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<14} {:<6} {:<13} {:>6}  {:>6} {:>6}  {:>7} {:>7}  {:>9} {:>9}",
            "scenario", "split", "metric", "issues", "top-1", "top-3", "engine1", "engine3", "base top1", "base top3"
        )?;
        for r in &self.rows {
            let (b1, b3) = r.baseline.map_or(("-".to_string(), "-".to_string()), |(a, b)| (two(a), two(b)));
            writeln!(
                f,
                "{:<14} {:<6} {:<13} {:>6}  {:>6} {:>6}  {:>7} {:>7}  {:>9} {:>9}",
                r.scenario,
                r.split,
                r.metric,
                r.issues,
                two(r.top1),
                two(r.top3),
                two(r.engine_top1),
                two(r.engine_top3),
                b1,
                b3
            )?;
        }
        writeln!(f)?;
        writeln!(f, "per issue: rank of the root cause (engine's own rank), problem chosen and why, top 3")?;
        for i in &self.issues {
            let rank = i.rank.map_or("-".to_string(), |r| r.to_string());
            let engine = i.engine_rank.map_or("-".to_string(), |r| r.to_string());
            let problem = i.problem.map_or("no problem".to_string(), |p| p.to_string());
            let top: Vec<String> = i
                .ranking
                .iter()
                .take(3)
                .map(|r| {
                    let tag = match r.source {
                        Source::Engine => "",
                        Source::Problem => " (problem)",
                        Source::Signals => " (signals)",
                        Source::Topology => " (topology)",
                    };
                    format!("{}{tag}", r.node)
                })
                .collect();
            let why = match i.problem_match {
                ProblemMatch::None => String::new(),
                m => format!(" by {}", m.as_str()),
            };
            writeln!(
                f,
                "  {}/{}/{:<8} {:<12} root {:<42} rank {:>2} ({:>2} of {:>2})  {problem}{why}",
                i.scenario, i.split, i.issue, i.target_metric, i.root_cause, rank, engine, i.engine_candidates
            )?;
            let signals =
                if i.root_cause_signals.is_empty() { "none".to_string() } else { i.root_cause_signals.join(", ") };
            writeln!(f, "      top 3: {}; root-cause signals: {signals}", top.join(" | "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_recall_on_hand_made_rankings() {
        let a = ["db", "search", "site"];
        assert_eq!(rank_of(&a, "db"), Some(1));
        assert_eq!(rank_of(&a, "site"), Some(3));
        assert_eq!(rank_of(&a, "queue"), None);
        // Ranks 1, 2, 4, unranked.
        let ranks = [Some(1), Some(2), Some(4), None];
        assert_eq!(recall_at(&ranks, 1), Some(0.25));
        assert_eq!(recall_at(&ranks, 3), Some(0.5));
        assert_eq!(recall_at(&ranks, 4), Some(0.75));
        assert_eq!(recall_at(&[], 3), None);
    }

    fn issue(split: &str, metric: &str, rank: Option<usize>, engine_rank: Option<usize>) -> IssueRanking {
        IssueRanking {
            scenario: "low_traffic".into(),
            split: split.into(),
            issue: "issue_0".into(),
            target_node: "PetSite".into(),
            target_metric: metric.into(),
            target_statistic: "Average".into(),
            root_cause: "db".into(),
            rank,
            engine_rank,
            problem: None,
            problem_match: ProblemMatch::None,
            engine_candidates: 0,
            root_cause_signals: Vec::new(),
            ranking: Vec::new(),
        }
    }

    #[test]
    fn rows_group_by_split_and_metric_with_the_baseline_on_the_union() {
        let report = PetshopReport::new(
            vec![
                issue("train", "latency", Some(1), Some(1)),
                issue("test", "latency", Some(3), None),
                issue("test", "availability", Some(2), Some(2)),
                issue("test", "availability", None, None),
            ],
            MetricSelection::All,
        );
        let r = report.row("low_traffic", "all", "latency").unwrap();
        assert_eq!((r.issues, r.top1, r.top3, r.engine_top1, r.engine_top3), (2, 0.5, 1.0, 0.5, 0.5));
        assert_eq!(r.baseline, Some((0.43, 0.57)));
        let r = report.row("low_traffic", "test", "availability").unwrap();
        assert_eq!((r.issues, r.top1, r.top3, r.baseline), (2, 0.0, 0.5, None));
        let r = report.row("low_traffic", "all", "all").unwrap();
        assert_eq!((r.issues, r.top3), (4, 0.75));
        assert!(report.row("low_traffic", "train", "availability").is_none());
        let text = report.to_string();
        assert!(text.contains("low_traffic    all    latency            2    0.50   1.00"), "{text}");
    }
}
