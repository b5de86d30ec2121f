//! One run per (runbook, entity) across processes: a kernel lock (`flock` through
//! [`std::fs::File::try_lock`]) on `<dir>/<hash>.lock`, whose content says who holds it. The
//! kernel drops the lock when the holder ends, however it ends, so a killed run never blocks the
//! next one; the file may stay behind, but nobody holds it.

use super::RunbookError;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Who holds a run lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub runbook: String,
    pub entity: String,
    /// `user@host` who started the run.
    pub operator: String,
    pub pid: u32,
    /// Wall time the run started (RFC 3339).
    pub since: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {}) since {}", self.operator, self.pid, self.since)
    }
}

/// A held run lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file's path for (runbook, entity) under `dir`.
    pub fn path_for(dir: &Path, runbook: &str, entity: &str) -> PathBuf {
        dir.join(format!("{:016x}.lock", fnv1a(format!("{runbook}\0{entity}").as_bytes())))
    }

    /// Takes the lock, or says who holds it.
    pub fn acquire(dir: &Path, runbook: &str, entity: &str, operator: &str) -> Result<RunLock, RunbookError> {
        let io = |what: &str, p: &Path, e: std::io::Error| RunbookError::Io(format!("{what} {}: {e}", p.display()));
        std::fs::create_dir_all(dir).map_err(|e| io("creating lock directory", dir, e))?;
        let path = RunLock::path_for(dir, runbook, entity);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("opening lock", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str::<LockHolder>(&text)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "another process (starting)".to_string());
                return Err(RunbookError::Locked { runbook: runbook.into(), entity: entity.into(), holder });
            }
            Err(TryLockError::Error(e)) => return Err(io("locking", &path, e)),
        }
        let holder = LockHolder {
            runbook: runbook.into(),
            entity: entity.into(),
            operator: operator.into(),
            pid: std::process::id(),
            since: crate::model::Timestamp::wall_clock().to_rfc3339(),
        };
        let text = serde_json::to_string(&holder).map_err(|e| RunbookError::Io(e.to_string()))?;
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(|e| io("writing lock", &path, e))?;
        Ok(RunLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// FNV-1a 64: a stable hash (same in every process and version) for the lock's file name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// `$XDG_STATE_HOME/faultline/locks` (or the platform's state/data directory).
pub fn default_lock_dir() -> PathBuf {
    if let Some(s) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(s).join("faultline").join("locks");
    }
    directories::ProjectDirs::from("", "", "faultline")
        .map(|d| d.state_dir().unwrap_or_else(|| d.data_local_dir()).join("locks"))
        .unwrap_or_else(|| std::env::temp_dir().join("faultline-locks"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_hold_is_refused_naming_the_holder_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "restart", "host:a", "alice@h").unwrap();
        let e = RunLock::acquire(dir.path(), "restart", "host:a", "bob@h").unwrap_err().to_string();
        assert!(e.contains("restart") && e.contains("host:a") && e.contains("alice@h"), "{e}");
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        // Another entity or runbook is another lock.
        let _other = RunLock::acquire(dir.path(), "restart", "host:b", "bob@h").unwrap();
        drop(first);
        RunLock::acquire(dir.path(), "restart", "host:a", "bob@h").unwrap();
    }
}
