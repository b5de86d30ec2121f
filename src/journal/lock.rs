//! One writer per journal: the writer's hold on a sidecar `<journal>.lock` file.
//!
//! The hold is a kernel lock (`flock`, through [`std::fs::File::try_lock`]) on the lock file,
//! taken before the journal itself is touched. The kernel drops it when the process ends, however
//! it ends (even `kill -9`), so a killed agent never blocks a restart: the lock file may stay
//! behind, but nobody holds it. The file's content says who holds it (pid, host, since, command),
//! for the message a second writer gets and for viewers' status bar; it is written after the lock
//! is taken and only read while someone holds it, so a stale content is never taken for a holder.
//!
//! A writer that ends normally removes the lock file (while still holding it), so a demo journal
//! or a bundle leaves nothing beside it. A writer that wins the lock checks that the path still
//! names the file it locked; if the previous holder removed it meanwhile, it starts over on the
//! new file, so two writers can never hold locks on two different files of the same path.

use super::error::JournalError;
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Permission bits for files faultline creates beside a journal (the journal itself and its
/// lock file), before the umask: owner and group read and write, so the members of the journal
/// directory's group can read it and queue requests. The umask narrows it (0022 gives 0644).
pub const SHARED_FILE_MODE: u32 = 0o660;

/// How long a writer retries a hold that is taken before refusing: a viewer probing the lock
/// holds it shared for microseconds, which must not make a starting agent fail.
const TAKE_RETRY: Duration = Duration::from_millis(300);

/// Who holds a journal's writer hold, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holding process's id, on `host`.
    pub pid: u32,
    /// The hostname of the machine the holder runs on.
    pub host: String,
    /// Wall time the hold was taken.
    pub since: Timestamp,
    /// What holds it, e.g. `faultline agent`.
    pub command: String,
}

impl Holder {
    /// This process, holding since now, as `command`.
    fn this_process(command: &str) -> Holder {
        Holder { pid: std::process::id(), host: hostname(), since: Timestamp::wall_clock(), command: command.into() }
    }
}

impl std::fmt::Display for Holder {
    /// `faultline agent pid 4242 on bastion-1 since 2026-12-06T01:02:03.000Z`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} pid {} on {} since {}", self.command, self.pid, self.host, self.since)
    }
}

/// The writer's hold on a journal; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct WriterHold {
    /// Kept open: the kernel lock lives as long as this open file description.
    file: File,
    path: PathBuf,
    holder: Holder,
}

impl Drop for WriterHold {
    /// Removes the lock file while still holding it (only if the path still names it).
    fn drop(&mut self) {
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// True when `path` names the open `file` (same device and inode).
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

impl WriterHold {
    /// Who we are, as written in the lock file.
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

/// The lock file of the journal at `journal`: the same path with `.lock` appended.
pub fn lock_path(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Takes the exclusive writer hold on `journal` for `command`, or says who has it.
pub(super) fn take(journal: &Path, command: &str) -> Result<WriterHold, JournalError> {
    let path = lock_path(journal);
    let io = |action: &str| {
        let path = path.clone();
        let action = action.to_string();
        move |source| JournalError::LockFile { path, action, source }
    };
    let deadline = std::time::Instant::now() + TAKE_RETRY;
    let mut file = loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(SHARED_FILE_MODE)
            .open(&path)
            .map_err(io("opening"))?;
        match file.try_lock() {
            // The previous holder may have removed the file between our open and our lock.
            Ok(()) if same_file(&file, &path) => break file,
            Ok(()) => continue,
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(JournalError::Held {
                    path: journal.to_path_buf(),
                    lock: path.clone(),
                    holder: read_holder(&mut file).ok(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io("locking")(e)),
        }
    };
    let holder = Holder::this_process(command);
    let text = serde_json::to_string(&holder).map_err(|e| io("encoding the holder")(std::io::Error::other(e)))?;
    file.set_len(0).map_err(io("truncating"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("rewinding"))?;
    file.write_all(format!("{text}\n").as_bytes()).map_err(io("writing who holds it to"))?;
    Ok(WriterHold { file, path, holder })
}

/// Who holds the writer hold on `journal` now, or `None` when nobody does (no agent is writing
/// it: never started, stopped or killed). Takes the lock shared for an instant to find out.
pub fn holder(journal: &Path) -> Result<Option<Holder>, JournalError> {
    let path = lock_path(journal);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(JournalError::LockFile { path, action: "opening".into(), source }),
    };
    match file.try_lock_shared() {
        Ok(()) => {
            // Nobody writes; let go at once so a starting agent is not held up.
            let _ = file.unlock();
            Ok(None)
        }
        Err(TryLockError::WouldBlock) => match read_holder(&mut file) {
            Ok(h) => Ok(Some(h)),
            // Held, but its content is being written right now (or unreadable): still held.
            Err(_) => Ok(Some(Holder {
                pid: 0,
                host: "?".into(),
                since: Timestamp::wall_clock(),
                command: "an unknown process".into(),
            })),
        },
        Err(TryLockError::Error(source)) => {
            Err(JournalError::LockFile { path, action: "probing the lock of".into(), source })
        }
    }
}

fn read_holder(file: &mut File) -> Result<Holder, String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    file.read_to_string(&mut text).map_err(|e| e.to_string())?;
    serde_json::from_str(text.trim()).map_err(|e| e.to_string())
}

/// The kernel's hostname (`localhost` when it cannot be read).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
