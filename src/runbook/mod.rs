//! Runbooks: remediation from the keyboard (DESIGN section 7). Nothing lives here yet.
//!
//! The contract this module will keep: a runbook is a TOML file with a match rule and steps
//! (run a program as an argv, never a shell line built from alert text; an HTTP call; a silence;
//! wait-and-check; escalate). Pressing its key shows the plan with every value filled in, asks to
//! confirm, then streams the output; every run is journaled as problem events, and `--readonly`
//! refuses all of it.
//!
//! What is here now: [`operator`], who is at the keyboard, the author of every action.

/// `user@host` of whoever runs faultline: the author of silences and runbook runs. The user is
/// `$USER` (or `$LOGNAME`), the host the kernel's hostname; over SSH (`$SSH_CONNECTION`) the
/// client address is added, as in `alice@bastion-1 (from 10.0.0.5)`.
pub fn operator() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into());
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_operator_is_user_at_host() {
        let who = super::operator();
        let (user, host) = who.split_once('@').expect("user@host");
        assert!(!user.is_empty() && !host.is_empty(), "{who}");
    }
}
