//! Change feeds: a JSON Lines file of deployments, config changes, restarts and scale events
//! that an operator or a CI pipeline appends to, one change a line:
//!
//! ```text
//! {"at": "2026-11-02T03:00:00Z", "entity": "service:checkout", "change": "deployment",
//!  "description": "checkout v2.3.1", "by": "ci/pipeline-812"}
//! ```
//!
//! (one line each; `at` is RFC 3339 or epoch milliseconds; `change` is `deployment`,
//! `config_change`, `restart` or `scale`; `by` is optional and joins the description.) Blank
//! lines and lines starting with `#` are skipped. Each pull reads only what was appended since
//! the last one (complete lines only: a line still being written waits for its newline). A
//! file that got shorter or was replaced (rotated) is read from its start. A bad line is
//! reported with file:line:column and skipped; the lines around it are kept.

use super::prometheus::Pull;
use crate::config::HumanDuration;
use crate::model::{ChangeKind, EntityId, Observation, ObservationKind, Timestamp};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Most bytes read in one pull; the rest waits for the next one.
const MAX_READ_BYTES: u64 = 8 << 20;
/// Bad lines remembered for the status line (the most recent ones).
const MAX_BAD_LINES: usize = 20;

/// `[[sources.change_feed]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeFeedConfig {
    /// Source name (observations carry it; the journal is searched by it).
    #[serde(default = "default_name")]
    pub name: String,
    /// The JSON Lines file; a relative path is relative to the config file's directory.
    pub path: PathBuf,
    /// How often the file is looked at for new lines.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
}

fn default_name() -> String {
    "changes".into()
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_millis(5_000)
}

/// One line of the feed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeLine {
    at: Timestamp,
    entity: EntityId,
    change: ChangeKind,
    description: String,
    #[serde(default)]
    by: Option<String>,
}

/// The state of one change feed between cycles.
pub struct ChangeFeedSource {
    config: ChangeFeedConfig,
    /// Bytes of the file consumed (up to the end of the last complete line).
    offset: u64,
    /// Lines consumed, for error messages.
    line: usize,
    /// Device and inode of the file read, to notice a rotation.
    identity: Option<(u64, u64)>,
    /// The most recent bad lines, `file:line:column: message`.
    bad: Vec<String>,
    /// Changes the journal already holds (after a restart): not announced again.
    journaled: BTreeSet<(Timestamp, EntityId, ChangeKind, String)>,
}

impl ChangeFeedSource {
    pub fn new(config: ChangeFeedConfig) -> ChangeFeedSource {
        ChangeFeedSource { config, offset: 0, line: 0, identity: None, bad: Vec::new(), journaled: BTreeSet::new() }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Bytes of the file consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What [`restore`](Self::restore) sets, for the tests that a resume set restores the same.
    #[cfg(test)]
    pub(crate) fn restored_state(&self) -> String {
        format!("{:?}", &self.journaled)
    }

    /// Remembers the changes this source announced before (its journaled observations): the
    /// feed is read from its start again, and lines the journal holds are not announced twice.
    pub fn restore<'a>(&mut self, observations: impl Iterator<Item = &'a Observation>) {
        for obs in observations {
            if let ObservationKind::Change { entity, change, description } = &obs.kind {
                self.journaled.insert((obs.at, entity.clone(), *change, description.clone()));
            }
        }
    }

    /// Reads the lines appended since the last pull. `_now` is unused: changes carry their time.
    pub async fn pull(&mut self, _now: Timestamp) -> Pull {
        let path = self.config.path.clone();
        let mut pull = Pull::default();
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                pull.problems.push(format!("{}: cannot open change feed: {e}", path.display()));
                return pull;
            }
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                pull.problems.push(format!("{}: cannot read change feed: {e}", path.display()));
                return pull;
            }
        };
        let identity = identity(&meta);
        if (self.identity.is_some() && identity != self.identity) || meta.len() < self.offset {
            tracing::info!(source = %self.config.name, path = %path.display(), "change feed rotated or truncated: reading it from the start");
            self.offset = 0;
            self.line = 0;
            self.bad.clear();
        }
        self.identity = identity;
        let mut buf = Vec::new();
        let read = file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&mut file).take(MAX_READ_BYTES).read_to_end(&mut buf));
        if let Err(e) = read {
            pull.problems.push(format!("{}: cannot read change feed: {e}", path.display()));
            return pull;
        }
        pull.bytes = buf.len();
        // Complete lines only: the writer may be half-way through the last one.
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut rest = &buf[..complete];
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line += 1;
            self.read_line(&rest[..end], &mut pull.observations);
            rest = &rest[end + 1..];
        }
        self.offset += complete as u64;
        if (buf.len() as u64) < MAX_READ_BYTES {
            // The whole file has been read once since the restart: what follows is new.
            self.journaled.clear();
        }
        pull.notes = self.bad.clone();
        pull
    }

    fn read_line(&mut self, raw: &[u8], out: &mut Vec<Observation>) {
        let path = self.config.path.display();
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.trim_end_matches('\r'),
            Err(e) => return self.bad(format!("{path}:{}: not UTF-8 text: {e}", self.line)),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return;
        }
        let line: ChangeLine = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => return self.bad(format!("{path}:{}:{}: {e}", self.line, e.column())),
        };
        if line.entity.as_str().trim().is_empty() {
            return self.bad(format!("{path}:{}: entity: must not be empty", self.line));
        }
        let description = match line.by.as_deref().map(str::trim) {
            Some(by) if !by.is_empty() => format!("{} (by {by})", line.description),
            _ => line.description,
        };
        if self.journaled.contains(&(line.at, line.entity.clone(), line.change, description.clone())) {
            return;
        }
        out.push(Observation {
            at: line.at,
            source: self.config.name.clone(),
            kind: ObservationKind::Change { entity: line.entity, change: line.change, description },
        });
    }

    fn bad(&mut self, message: String) {
        tracing::warn!(source = %self.config.name, %message, "bad change feed line skipped");
        if self.bad.len() == MAX_BAD_LINES {
            self.bad.remove(0);
        }
        self.bad.push(format!("{message} (line skipped)"));
    }
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}
