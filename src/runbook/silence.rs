//! Silences as actions: what the `s` key and a runbook's `silence` step propose for a problem,
//! shown in full before anything is sent. Alertmanager's v2 wire shapes ([`Silence`],
//! [`Matcher`]) are here too; [`crate::sources::alertmanager::Silencer`] only posts them.

use crate::model::{Problem, ProblemId, SignalKind, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A matcher of a silence, as the v2 API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    #[serde(rename = "isEqual")]
    pub is_equal: bool,
}

/// A silence to create (`POST /api/v2/silences`), shown in full before it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub matchers: Vec<Matcher>,
    #[serde(rename = "startsAt")]
    pub starts_at: Timestamp,
    #[serde(rename = "endsAt")]
    pub ends_at: Timestamp,
    #[serde(rename = "createdBy")]
    pub created_by: String,
    pub comment: String,
}

/// One silence per distinct alert label set, each matching exactly that alert's labels
/// (equality matchers, never regexes built from label text), so nothing beyond the problem's
/// own alerts is silenced. `author` is e.g. `alice@bastion-1`, `comment` names the problem.
pub fn silences_for<'a>(
    alert_labels: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
    starts_at: Timestamp,
    duration_ms: i64,
    author: &str,
    comment: &str,
) -> Vec<Silence> {
    let sets: BTreeSet<&BTreeMap<String, String>> = alert_labels.into_iter().filter(|l| !l.is_empty()).collect();
    sets.into_iter()
        .map(|labels| Silence {
            matchers: labels
                .iter()
                .map(|(k, v)| Matcher { name: k.clone(), value: v.clone(), is_regex: false, is_equal: true })
                .collect(),
            starts_at,
            ends_at: starts_at.plus_ms(duration_ms),
            created_by: author.to_string(),
            comment: comment.to_string(),
        })
        .collect()
}

/// Where and for how long silences go: the first configured Alertmanager source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceTarget {
    /// The source's name, e.g. `alertmanager`.
    pub via: String,
    /// The endpoint silences are posted to (credentials redacted), for the plan.
    pub url: String,
    /// How long a silence lasts, in milliseconds.
    pub duration_ms: i64,
}

/// Silences proposed for one problem, shown in full before anything is sent. The times are
/// set when it runs: a silence starts on confirmation, not when it was proposed.
#[derive(Debug, Clone, PartialEq)]
pub struct SilencePlan {
    pub problem: ProblemId,
    pub target: SilenceTarget,
    /// One label set per alert, each becoming one silence of exact-match matchers.
    pub label_sets: Vec<BTreeMap<String, String>>,
    /// `user@host`.
    pub created_by: String,
    /// The problem id, so a silence in Alertmanager leads back to the problem.
    pub comment: String,
}

impl SilencePlan {
    /// The plan covering `problem`'s firing alerts, or why there is none.
    pub fn for_problem(problem: &Problem, target: &SilenceTarget, created_by: &str) -> Result<SilencePlan, String> {
        let sets: BTreeSet<&BTreeMap<String, String>> = problem
            .signals
            .values()
            .filter(|s| s.kind == SignalKind::Alert && s.active && !s.labels.is_empty())
            .map(|s| &s.labels)
            .collect();
        if sets.is_empty() {
            return Err(format!("{} has no firing alerts to silence", problem.id));
        }
        Ok(SilencePlan {
            problem: problem.id,
            target: target.clone(),
            label_sets: sets.into_iter().cloned().collect(),
            created_by: created_by.to_string(),
            comment: problem.id.to_string(),
        })
    }

    /// The silences to post, starting at `now`.
    pub fn silences(&self, now: Timestamp) -> Vec<Silence> {
        silences_for(&self.label_sets, now, self.target.duration_ms, &self.created_by, &self.comment)
    }

    /// Each silence's matchers as Alertmanager prints them: `alertname="HostDown", instance="db-1:9100"`.
    pub fn matcher_lines(&self) -> Vec<String> {
        self.label_sets.iter().map(|l| matcher_strings(l).join(", ")).collect()
    }
}

/// `name="value"` per label, value escaped as in PromQL string literals.
pub fn matcher_strings(labels: &BTreeMap<String, String>) -> Vec<String> {
    labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect()
}

/// Where a runbook's `silence` step creates its silence: the agent's first Alertmanager. The
/// executor has none outside the agent (`runbook run` on its own), and the step is then skipped.
pub trait SilenceSink: Send + Sync {
    /// The Alertmanager source's name, e.g. `alertmanager`.
    fn via(&self) -> &str;
    /// Creates `silence`; its id, or what the server said.
    fn create<'a>(
        &'a self,
        silence: &'a Silence,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>;
}
