//! The terminal UI: problem list, problem detail, status line and generated help.
//!
//! Elm-style: one [`App`] state, an [`Action`] enum, [`update`] and [`render`] kept apart. Data
//! from the engine side ([`Feed`]) and key presses both become actions; the screen is drawn only
//! when an action changed something. [`run`] owns the terminal and always gives it back.

pub mod action;
pub mod app;
pub mod keymap;
pub mod settings;
mod terminal;
pub mod theme;
pub mod views;

pub use action::Action;
pub use app::{update, App, View};
pub use keymap::{Command, Keymap};
pub use settings::SettingsError;
pub use theme::{ColorMode, Theme};
pub use views::render;

use crossterm::event::{self, Event};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How long to wait for a key before looking at the feed again.
const POLL: Duration = Duration::from_millis(50);
/// Feed messages taken per loop turn, so a flood of events cannot starve the keyboard.
const FEED_BATCH: usize = 256;
/// Terminal events taken per loop turn.
const INPUT_BATCH: usize = 64;

/// What the engine side sends to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// Problem events in `seq` order.
    Events(Vec<crate::model::ProblemEvent>),
    /// A data source's health changed.
    Source { name: String, health: SourceHealth },
    /// No more data will come, e.g. "scenario finished: 13,482 observations".
    Finished { summary: String },
    /// A one-line answer to something the user asked for, e.g. "P-0003: 2 silences created".
    Notice(String),
}

/// What the UI asks the engine side to do. Sent only after the user confirmed a visible plan,
/// and never in read-only mode.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Create these silences in Alertmanager and record the outcome in the problem's timeline.
    Silence(crate::sources::alertmanager::SilencePlan),
}

/// How a data source is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceHealth {
    Ok,
    /// Still reachable, but its data is old; the last good data is kept.
    Stale {
        reason: String,
    },
    /// Not reachable.
    Down {
        reason: String,
    },
}

/// How the UI was started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiOptions {
    /// What is being shown, e.g. "demo: db-cpu-saturation"; its first word sets the mode marker.
    pub title: String,
    /// Runbooks and other actions that change things are off.
    pub readonly: bool,
    /// Where the log goes, shown in the help.
    pub log_path: Option<PathBuf>,
    /// Who is at the keyboard, `user@host`: the author of silences and runbook runs.
    pub operator: String,
    /// Where `s` sends silences; `None` when no Alertmanager is configured (or in a replay).
    pub silence: Option<crate::sources::alertmanager::SilenceTarget>,
}

/// The user's faultline config directory (Linux: `~/.config/faultline`), if there is a home.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "faultline").map(|d| d.config_dir().to_path_buf())
}

/// Runs the UI on the calling thread until the user quits (q / Ctrl-C) or a signal arrives.
/// Confirmed requests (silences) go to `requests`; without it nothing can be asked for.
///
/// The keymap and theme are read from the config directory first; a bad file is returned as an
/// error before the terminal is touched. Nothing is printed while the UI is up.
pub fn run(
    mut feed: UnboundedReceiver<Feed>,
    requests: Option<UnboundedSender<Request>>,
    opts: UiOptions,
) -> anyhow::Result<()> {
    let dir = config_dir();
    let keymap = Keymap::load(dir.as_ref().map(|d| d.join("keymap.toml")).as_deref())?;
    let theme = Theme::load(dir.as_ref().map(|d| d.join("theme.toml")).as_deref(), ColorMode::detect())?;
    let mut app = App::with_style(opts, keymap, theme);
    let _requests = requests; // The silence flow (next change) sends confirmed plans here.

    let mut session = terminal::Session::enter()?;
    let size = session.terminal.size()?;
    update(&mut app, Action::Resize { width: size.width, height: size.height });
    let mut dirty = true;
    let mut feed_open = true;
    loop {
        if session.signalled.load(Ordering::SeqCst) {
            tracing::info!("UI stopped by a signal");
            break;
        }
        if terminal::panicked() {
            anyhow::bail!("a panic stopped the UI (its message is above)");
        }
        let mut taken = 0;
        if feed_open {
            while taken < FEED_BATCH {
                match feed.try_recv() {
                    Ok(message) => {
                        taken += 1;
                        update(&mut app, Action::Feed(message));
                        dirty = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        feed_open = false;
                        if app.finished.is_none() {
                            tracing::warn!("the engine side closed the feed without finishing");
                        }
                        update(&mut app, Action::FeedClosed);
                        dirty = true;
                        break;
                    }
                }
            }
        }
        if dirty {
            session.terminal.draw(|frame| render(&app, frame))?;
            dirty = false;
        }
        // Wait for input briefly (not at all when a full batch says more feed is waiting), then
        // take what else is queued, a bounded number so input cannot keep the loop from the
        // feed and the signal flag.
        let mut timeout = if taken == FEED_BATCH { Duration::ZERO } else { POLL };
        for _ in 0..INPUT_BATCH {
            if !event::poll(timeout)? {
                break;
            }
            timeout = Duration::ZERO;
            match event::read()? {
                Event::Key(key) => {
                    if let Some(command) = app.keymap.command_for(&key) {
                        update(&mut app, Action::Command(command));
                        dirty = true;
                    }
                }
                Event::Resize(width, height) => {
                    update(&mut app, Action::Resize { width, height });
                    dirty = true;
                }
                _ => {}
            }
            if app.should_quit {
                return Ok(());
            }
        }
    }
    Ok(())
}
