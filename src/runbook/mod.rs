//! Runbooks: remediation from the keyboard (DESIGN section 7), one action layer for every action.
//!
//! The flow: [`RunbookSet`] loads TOML runbook files ([`file`]); [`ProblemContext`] is the problem
//! as a runbook sees it; [`Plan::build`] fills a runbook in for one problem, exactly as it will
//! run ([`Plan::lines`] is what the UI and CLI show); [`Executor::run`] runs that same plan,
//! streaming [`OutputLine`]s, and ends with a [`RunRecord`]. Programs run as an argv, never
//! through a shell; secrets are masked in everything shown or kept; `--readonly` refuses it all.
//!
//! [`operator`] says who is at the keyboard: the author of every action.

pub mod context;
pub mod execute;
pub mod file;
pub mod lock;
pub mod plan;
pub mod probe;
pub mod request;
pub mod secrets;
pub mod silence;
pub mod template;
pub mod webhook;

pub use context::{CauseSignal, ProblemContext};
pub use execute::{CancelToken, Executor, Outcome, OutputLine, RunRecord, StepRecord, StepStatus, Stream};
pub use file::{HttpShape, MatchRule, Runbook, RunbookSet, Step};
pub use lock::{default_lock_dir, RunLock};
pub use plan::{Action, Plan, PlannedStep};
pub use probe::{JournalProbe, LiveProbe, Probe, ProblemProbe};
pub use request::{CancelRequest, Request, RunRequest};
pub use silence::{SilencePlan, SilenceTarget};

/// What can stop a runbook from being planned or run.
#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    /// A runbook file is wrong, or a plan cannot be filled: names file, line and key.
    #[error(transparent)]
    File(#[from] crate::config::ConfigError),
    #[error("no runbook `{name}` (loaded: {})", .known.join(", "))]
    NotFound { name: String, known: Vec<String> },
    /// Another process runs this runbook on this entity.
    #[error("runbook `{runbook}` is already running on {entity}: held by {holder}")]
    Locked { runbook: String, entity: String, holder: String },
    /// `--readonly`.
    #[error("read-only mode: runbook `{0}` was not run (--readonly refuses every action)")]
    Readonly(String),
    #[error("{0}")]
    Io(String),
}

/// `user@host` of whoever runs faultline: the author of silences and runbook runs. The user is
/// `$USER` (or `$LOGNAME`), else the name of the process's uid (`getpwuid_r`), else `uid<N>`:
/// never "unknown". The host is the kernel's hostname; over SSH (`$SSH_CONNECTION`) the client
/// address is added, as in `alice@bastion-1 (from 10.0.0.5)`.
pub fn operator() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(user_of_uid);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    match std::env::var("SSH_CONNECTION").ok().and_then(|c| c.split_whitespace().next().map(str::to_string)) {
        Some(from) => format!("{user}@{host} (from {from})"),
        None => format!("{user}@{host}"),
    }
}

/// The login name of the process's real uid, from the password database; `uid<N>` when it has
/// no entry (a container running as an unnamed uid).
fn user_of_uid() -> String {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    name_of_uid(uid).unwrap_or_else(|| format!("uid{uid}"))
}

fn name_of_uid(uid: libc::uid_t) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd and result are plain out-parameters; buf outlives their use, and the
        // name is copied out before buf is dropped.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }.to_string_lossy().into_owned();
        return Some(name).filter(|n| !n.is_empty());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uid_has_a_name_or_a_number() {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let who = super::user_of_uid();
        assert!(!who.is_empty() && who != "unknown", "{who}");
        let root = super::name_of_uid(0);
        assert_eq!(root.as_deref(), Some("root"));
        if uid == 0 {
            assert_eq!(who, "root");
        }
    }

    #[test]
    fn the_operator_is_user_at_host() {
        let who = super::operator();
        let (user, host) = who.split_once('@').expect("user@host");
        assert!(!user.is_empty() && !host.is_empty(), "{who}");
    }
}
