//! How a UI request travels through the journal's request queue: encoded by a viewer
//! ([`encode`]), decoded by the agent ([`decode`]), which then carries it out exactly as a
//! request from its own UI. Also where silences go ([`SILENCE_TARGET_KEY`]), published by the
//! agent for viewers that have no configuration of their own.

use crate::model::ProblemId;
use crate::runbook::{CancelRequest, Request, RunRequest, SilencePlan, SilenceTarget};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `meta` key under which the agent publishes its silence target (JSON), absent when it has
/// no Alertmanager.
pub const SILENCE_TARGET_KEY: &str = "agent.silence_target";

/// The writer hold's command of `faultline agent`: a writer that serves queued requests.
pub const AGENT_HOLDER: &str = "faultline agent";
/// The writer hold's command of `faultline` (agent and UI in one process): it serves them too.
pub const LIVE_UI_HOLDER: &str = "faultline (live UI)";

/// Whether the journal's writer, by its hold's command, carries out queued requests (a demo
/// or a `runbook run` holding the journal does not).
pub fn serves_requests(holder_command: &str) -> bool {
    holder_command == AGENT_HOLDER || holder_command == LIVE_UI_HOLDER
}

/// The request kind of a silence.
pub const SILENCE: &str = "silence";
/// The request kind of a runbook run.
pub const RUNBOOK: &str = "runbook";
/// The request kind of cancelling a run.
pub const CANCEL: &str = "cancel";

/// A [`RunRequest`] without its author.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    runbook: String,
    problem: ProblemId,
    shown: Vec<String>,
}

/// A [`CancelRequest`] without its author.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    runbook: String,
    problem: ProblemId,
}

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
        Request::Run(r) => {
            let body = RunBody { runbook: r.runbook.clone(), problem: r.problem, shown: r.shown.clone() };
            (RUNBOOK, serde_json::to_string(&body).unwrap_or_default(), r.operator.clone())
        }
        Request::Cancel(c) => {
            let body = CancelBody { runbook: c.runbook.clone(), problem: c.problem };
            (CANCEL, serde_json::to_string(&body).unwrap_or_default(), c.by.clone())
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
        RUNBOOK => {
            let b: RunBody = serde_json::from_str(body).map_err(|e| format!("runbook request body: {e}"))?;
            Ok(Request::Run(RunRequest {
                runbook: b.runbook,
                problem: b.problem,
                operator: who.to_string(),
                shown: b.shown,
            }))
        }
        CANCEL => {
            let b: CancelBody = serde_json::from_str(body).map_err(|e| format!("cancel request body: {e}"))?;
            Ok(Request::Cancel(CancelRequest { runbook: b.runbook, problem: b.problem, by: who.to_string() }))
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
        assert!(decode("reboot", "{}", "a@b").unwrap_err().contains("unknown request kind `reboot`"));
        assert!(decode(RUNBOOK, "{}", "a@b").unwrap_err().starts_with("runbook request body: "));
        assert!(decode(SILENCE, "{\"problem\": 1}", "a@b").unwrap_err().starts_with("silence request body: "));
    }

    #[test]
    fn runs_and_cancels_round_trip_with_who_asked() {
        let run = Request::Run(RunRequest {
            runbook: "restart-unit".into(),
            problem: ProblemId(9),
            operator: "alice@b1 (from 10.0.0.5)".into(),
            shown: vec!["runbook restart-unit (x.toml) for P-0009 on host:a, by alice@b1".into()],
        });
        let (kind, body, who) = encode(&run);
        assert_eq!((kind, who.as_str()), (RUNBOOK, "alice@b1 (from 10.0.0.5)"));
        assert_eq!(decode(kind, &body, &who), Ok(run));
        let cancel = Request::Cancel(CancelRequest {
            runbook: "restart-unit".into(),
            problem: ProblemId(9),
            by: "bob@b2".into(),
        });
        let (kind, body, who) = encode(&cancel);
        assert_eq!(decode(kind, &body, &who), Ok(cancel));
    }

    #[test]
    fn the_silence_target_round_trips() {
        let t = plan().target;
        assert_eq!(decode_target(&encode_target(&t)), Ok(t));
    }
}
