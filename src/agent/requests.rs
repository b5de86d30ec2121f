//! How a UI request travels through the journal's request queue: encoded by a viewer
//! ([`encode`]), decoded by the agent ([`decode`]), which then carries it out exactly as a
//! request from its own UI. Also where silences go ([`SILENCE_TARGET_KEY`]), published by the
//! agent for viewers that have no configuration of their own.

use crate::model::ProblemId;
use crate::sources::alertmanager::{SilencePlan, SilenceTarget};
use crate::ui::Request;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `meta` key under which the agent publishes its silence target (JSON), absent when it has
/// no Alertmanager.
pub const SILENCE_TARGET_KEY: &str = "agent.silence_target";

/// The request kind of a silence.
pub const SILENCE: &str = "silence";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    via: String,
    url: String,
    duration_ms: i64,
}

/// A [`SilencePlan`] without its author: who asked is its own column, set by the queue.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SilenceBody {
    problem: ProblemId,
    target: TargetBody,
    label_sets: Vec<BTreeMap<String, String>>,
    comment: String,
}

fn target_body(t: &SilenceTarget) -> TargetBody {
    TargetBody { via: t.via.clone(), url: t.url.clone(), duration_ms: t.duration_ms }
}

/// The silence target as JSON, for [`SILENCE_TARGET_KEY`].
pub fn encode_target(t: &SilenceTarget) -> String {
    // Strings and integers only: serializing cannot fail.
    serde_json::to_string(&target_body(t)).unwrap_or_default()
}

/// Reads what [`encode_target`] wrote.
pub fn decode_target(text: &str) -> Result<SilenceTarget, String> {
    let t: TargetBody = serde_json::from_str(text).map_err(|e| format!("silence target `{text}`: {e}"))?;
    Ok(SilenceTarget { via: t.via, url: t.url, duration_ms: t.duration_ms })
}

/// `(kind, body)` of a request for the queue, and who asked (the plan's author).
pub fn encode(request: &Request) -> (&'static str, String, String) {
    match request {
        Request::Silence(plan) => {
            let body = SilenceBody {
                problem: plan.problem,
                target: target_body(&plan.target),
                label_sets: plan.label_sets.clone(),
                comment: plan.comment.clone(),
            };
            (SILENCE, serde_json::to_string(&body).unwrap_or_default(), plan.created_by.clone())
        }
    }
}

/// The request a queued row asks for, authored by `who`; an error says why it cannot be read
/// (an unknown kind from a newer viewer, a malformed body).
pub fn decode(kind: &str, body: &str, who: &str) -> Result<Request, String> {
    match kind {
        SILENCE => {
            let b: SilenceBody = serde_json::from_str(body).map_err(|e| format!("silence request body: {e}"))?;
            Ok(Request::Silence(SilencePlan {
                problem: b.problem,
                target: SilenceTarget { via: b.target.via, url: b.target.url, duration_ms: b.target.duration_ms },
                label_sets: b.label_sets,
                created_by: who.to_string(),
                comment: b.comment,
            }))
        }
        other => Err(format!("unknown request kind `{other}` (written by a newer faultline?)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SilencePlan {
        SilencePlan {
            problem: ProblemId(3),
            target: SilenceTarget { via: "am".into(), url: "http://am/api/v2/silences".into(), duration_ms: 7_200_000 },
            label_sets: vec![BTreeMap::from([("alertname".to_string(), "HostCpuSaturated".to_string())])],
            created_by: "alice@bastion-1".into(),
            comment: "P-0003".into(),
        }
    }

    #[test]
    fn a_silence_round_trips_with_who_asked() {
        let (kind, body, who) = encode(&Request::Silence(plan()));
        assert_eq!((kind, who.as_str()), (SILENCE, "alice@bastion-1"));
        assert_eq!(decode(kind, &body, &who), Ok(Request::Silence(plan())));
        // The author is the queue's `who`, never something inside the body.
        let Ok(Request::Silence(p)) = decode(kind, &body, "bob@bastion-2") else { panic!() };
        assert_eq!(p.created_by, "bob@bastion-2");
    }

    #[test]
    fn unknown_kinds_and_bad_bodies_are_errors_naming_them() {
        assert!(decode("runbook", "{}", "a@b").unwrap_err().contains("unknown request kind `runbook`"));
        assert!(decode(SILENCE, "{\"problem\": 1}", "a@b").unwrap_err().starts_with("silence request body: "));
    }

    #[test]
    fn the_silence_target_round_trips() {
        let t = plan().target;
        assert_eq!(decode_target(&encode_target(&t)), Ok(t));
    }
}
