//! The audit of a runbook run, as journaled in the problem's timeline
//! ([`super::EventKind::RunbookFinished`]): who, when, the exact plan, each step's status and
//! output (capped), and how it ended. Produced by [`crate::runbook::Executor`].

use super::Timestamp;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Output kept per step in the record (bytes); the live stream itself is not capped.
pub const OUTPUT_CAP_BYTES: usize = 64 * 1024;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
    /// The executor's own notes (step started, killed, verdicts).
    Note,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    /// Not executed, with the reason in the detail (a silence step without an Alertmanager).
    Skipped,
    /// A check or escalation found the problem mitigated.
    Mitigated,
    /// A check found it still there.
    NotMitigated,
    /// An escalation ran its target.
    Escalated,
}

/// The audit of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    /// `run`, `http`, `silence`, `check`, `escalate`.
    pub kind: String,
    pub status: StepStatus,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// A process's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// An HTTP step's response status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Output (stdout and stderr interleaved as read, redacted), at most [`OUTPUT_CAP_BYTES`].
    pub output: String,
    /// True when output past the cap was dropped from the record.
    #[serde(default)]
    pub truncated: bool,
    /// What happened, one line (error, verdict).
    pub detail: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step ran and succeeded (no check said otherwise).
    Succeeded,
    /// A step failed or timed out; the run stopped there.
    Failed,
    Cancelled,
    /// A check found the problem mitigated.
    Mitigated,
    /// The last check found it still there, and nothing was left to escalate to.
    NotMitigated,
    /// It escalated; see the escalation's own record.
    Escalated,
}

/// The audit of one run: who, when, the exact plan, each step's output and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub runbook: String,
    pub file: PathBuf,
    pub problem: String,
    pub entity: String,
    /// `user@host (from ADDR)`.
    pub operator: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// The plan as shown (redacted).
    pub plan: Vec<String>,
    pub steps: Vec<StepRecord>,
    pub outcome: Outcome,
    /// Started by the agent's auto-remediation policy, not by a person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
    /// The run of the runbook this one escalated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Box<RunRecord>>,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "FAILED",
            Outcome::Cancelled => "cancelled",
            Outcome::Mitigated => "mitigated",
            Outcome::NotMitigated => "NOT mitigated",
            Outcome::Escalated => "escalated",
        }
    }
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "ok",
            StepStatus::Failed => "FAILED",
            StepStatus::TimedOut => "TIMED OUT",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Skipped => "skipped",
            StepStatus::Mitigated => "mitigated",
            StepStatus::NotMitigated => "not mitigated",
            StepStatus::Escalated => "escalated",
        }
    }
}

impl RunRecord {
    /// The outcome at the end of the escalation chain (`Escalated` says only that it went on).
    pub fn final_outcome(&self) -> Outcome {
        match &self.escalation {
            Some(next) if self.outcome == Outcome::Escalated => next.final_outcome(),
            _ => self.outcome,
        }
    }

    /// One line for timelines: `runbook restart-unit by alice@b1 FAILED in 12s: step 1 run: exit status 3`.
    pub fn summary(&self) -> String {
        let secs = self.finished_at.since(self.started_at).max(0) / 1000;
        let mut text = format!("runbook {} by {} {} in {secs}s", self.runbook, self.operator, self.outcome.as_str());
        if let Some(last) = self.steps.last() {
            text.push_str(&format!(": step {} {}: {}", last.index + 1, last.kind, last.detail));
        }
        let mut next = self.escalation.as_deref();
        while let Some(r) = next {
            text.push_str(&format!(" → {} {}", r.runbook, r.outcome.as_str()));
            next = r.escalation.as_deref();
        }
        text
    }
}
