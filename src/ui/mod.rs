//! The terminal UI (placeholder until the UI shell lands).
use crate::model::ProblemEvent;
pub enum Feed {
    Events(Vec<ProblemEvent>),
    Source { name: String, health: SourceHealth },
    Finished { summary: String },
}
pub enum SourceHealth {
    Ok,
    Stale { reason: String },
    Down { reason: String },
}
pub struct UiOptions {
    pub title: String,
    pub readonly: bool,
    pub log_path: Option<std::path::PathBuf>,
}
pub fn run(_feed: tokio::sync::mpsc::UnboundedReceiver<Feed>, _opts: UiOptions) -> anyhow::Result<()> {
    anyhow::bail!("the UI is not built yet")
}
