//! The terminal UI: problem list, problem detail (with the runbooks that match it and the live
//! output of a run), status line, generated help, and the plan overlay that shows a request (a
//! silence, a runbook run, cancelling one) in full before it is sent. Actions go through the
//! runbook layer's types ([`crate::runbook`]); the UI never talks to a data source.
//!
//! Elm-style: one [`App`] state, an [`Action`] enum, [`update`] and [`render`] kept apart. Data
//! from the engine side ([`Feed`]) and key presses both become actions; the screen is drawn only
//! when an action changed something. [`run`] owns the terminal and always gives it back.

pub mod action;
pub mod app;
pub mod filter;
pub mod freshness;
pub mod keymap;
pub mod logs;
pub mod metrics;
pub mod palette;
pub mod proposal;
pub mod runs;
pub mod settings;
mod terminal;
pub mod theme;
pub mod topo;
pub mod views;

pub use action::Action;
pub use app::{update, App, Chooser, Proposal, TypedName, View};
pub use keymap::{Command, Keymap};
pub use settings::SettingsError;
pub use terminal::set_mouse_capture;
pub use theme::{ColorMode, Theme, ThemeChoice};
pub use views::render;

use crossterm::event::{self, Event};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How long to wait for a key before looking at the feed again.
const POLL: Duration = Duration::from_millis(50);
/// Feed messages taken per loop turn, so a flood of events cannot starve the keyboard.
const FEED_BATCH: usize = 256;
/// How often a live session's lags are brought up to the wall clock.
const CLOCK_EVERY: Duration = Duration::from_secs(1);
/// Terminal events taken per loop turn.
const INPUT_BATCH: usize = 64;

/// What the engine side sends to the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// Problem events in `seq` order.
    Events(Vec<crate::model::ProblemEvent>),
    /// A data source's health changed.
    Source { name: String, health: SourceHealth },
    /// A data source's pull went fine: its data is complete up to `covered` (wall time, Unix
    /// ms), even when the pull brought nothing new (an Alertmanager with no alerts). Its lag is
    /// measured from here, not only from its newest observation.
    Pulled { name: String, covered: crate::model::Timestamp },
    /// No more data will come, e.g. "scenario finished: 13,482 observations".
    Finished { summary: String },
    /// A one-line answer to something the user asked for, e.g. "P-0003: 2 silences created".
    Notice(String),
    /// Observations the engine was fed, in feed order: what the metric context and the topology
    /// as of the replay cursor are drawn from. The UI keeps only what it draws, bounded.
    Observations(Vec<crate::model::Observation>),
    /// Live output of a runbook run on a problem (redacted), in the order it was produced.
    RunOutput { problem: crate::model::ProblemId, lines: Vec<crate::runbook::OutputLine> },
}

/// What the UI asks the engine side to do: the action layer's request type.
pub use crate::runbook::Request;

/// How a data source is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceHealth {
    Ok,
    /// Working, but some data was skipped (NaN samples, series no mapping rule knows).
    Noted {
        note: String,
    },
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
    pub silence: Option<crate::runbook::SilenceTarget>,
    /// The runbooks the detail offers for a problem (empty when none are configured).
    pub runbooks: Runbooks,
    /// The theme and colour mode asked for.
    pub appearance: Appearance,
}

/// How the UI is asked to look, on the command line or in the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appearance {
    /// The theme asked for (`--theme`, else `[ui] theme`); `None` is the default theme.
    pub theme: Option<ThemeChoice>,
    /// The colour mode asked for (`--colors`); `None` decides from the environment.
    pub colors: Option<ColorMode>,
}

/// The keymap and theme for `appearance`, read with the user's files in `config_dir`, and what
/// was wrong with any of them. A file that cannot be used is left out (its defaults apply) and
/// the other files still count, so this never fails: the UI shows the problems, `faultline config
/// check` refuses them.
pub fn load_style(config_dir: Option<&Path>, appearance: &Appearance) -> (Keymap, Theme, Vec<SettingsError>) {
    let (keymap, keymap_problem) = Keymap::load_or_builtin(config_dir.map(|d| d.join("keymap.toml")).as_deref());
    let mode = appearance.colors.unwrap_or_else(ColorMode::detect);
    let (theme, mut problems) = Theme::load_or_fallback(appearance.theme.as_ref(), config_dir, mode);
    problems.extend(keymap_problem);
    (keymap, theme, problems)
}

/// The status-line notice for settings files that were left out: every problem, then what was
/// done about it.
pub(crate) fn settings_notice(problems: &[SettingsError]) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let list = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    Some(format!("{list} (defaults used for that file)"))
}

/// The loaded runbooks, shared; equal when they are the same load.
#[derive(Debug, Clone, Default)]
pub struct Runbooks(pub std::sync::Arc<crate::runbook::RunbookSet>);

impl PartialEq for Runbooks {
    fn eq(&self, other: &Runbooks) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Runbooks {}

/// The user's faultline config directory (Linux: `~/.config/faultline`), if there is a home.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "faultline").map(|d| d.config_dir().to_path_buf())
}

/// Runs the UI on the calling thread until the user quits (q / Ctrl-C) or a signal arrives.
/// Confirmed requests (silences, runbook runs and cancels) go to `requests`; without it nothing
/// can be asked for.
///
/// The keymap and theme are read from the config directory first; a file that cannot be used is
/// logged, left out (its defaults apply) and named in the status line of the first frame.
/// Nothing is printed while the UI is up.
pub fn run(
    mut feed: UnboundedReceiver<Feed>,
    requests: Option<UnboundedSender<Request>>,
    opts: UiOptions,
) -> anyhow::Result<()> {
    let mut app = crate::startup::styled_app(opts);
    let requests = requests.as_ref();

    let mut session = terminal::Session::enter()?;
    let size = session.terminal.size()?;
    step(&mut app, Action::Resize { width: size.width, height: size.height }, requests);
    let mut dirty = true;
    let mut feed_open = true;
    // Wall-clock time of the last play tick; only the event loop reads the clock.
    let mut last_tick = std::time::Instant::now();
    let mut last_clock = last_tick - CLOCK_EVERY;
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
                        step(&mut app, Action::Feed(message), requests);
                        dirty = true;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        feed_open = false;
                        if app.finished.is_none() {
                            tracing::warn!("the engine side closed the feed without finishing");
                        }
                        step(&mut app, Action::FeedClosed, requests);
                        dirty = true;
                        break;
                    }
                }
            }
        }
        let now = std::time::Instant::now();
        if app.playing {
            let elapsed_ms = u64::try_from(now.duration_since(last_tick).as_millis()).unwrap_or(u64::MAX);
            step(&mut app, Action::Tick { elapsed_ms }, requests);
            dirty = true;
        }
        last_tick = now;
        // Live sessions measure each source's lag against the wall clock (see `freshness`).
        if now.duration_since(last_clock) >= CLOCK_EVERY && freshness::follows_clock(&app.opts.title) {
            step(&mut app, Action::Clock { unix_ms: freshness::unix_ms() }, requests);
            last_clock = now;
            dirty = true;
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
                    let depth = app.overlay_depth();
                    step(&mut app, Action::Key(key), requests);
                    dirty = true;
                    if app.overlay_depth() > depth {
                        // A plan (or the chooser) just opened: drop the keys typed ahead (or
                        // pasted), already waiting while it was not on screen, so none of them
                        // picks, types the confirmation of, or confirms a plan never seen; then
                        // show it before anything else is read. In this order a key pressed
                        // once the plan shows is never taken for one typed ahead, however late
                        // this process gets to run after drawing (under load it was, and a
                        // confirmation was lost).
                        discard_typeahead(&mut app, requests, waiting_event)?;
                        if app.should_quit {
                            return Ok(());
                        }
                        session.terminal.draw(|frame| render(&app, frame))?;
                        dirty = false;
                        break;
                    }
                }
                Event::Resize(width, height) => {
                    step(&mut app, Action::Resize { width, height }, requests);
                    dirty = true;
                }
                Event::Mouse(mouse) => {
                    if let Some(action) = Action::from_mouse(&mouse) {
                        step(&mut app, action, requests);
                        dirty = true;
                    }
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

/// The terminal event already waiting, if any (never waits).
fn waiting_event() -> anyhow::Result<Option<Event>> {
    Ok(if event::poll(Duration::ZERO)? { Some(event::read()?) } else { None })
}

/// Reads (with `next`) and drops the key presses already waiting, keeping only quitting and
/// resizes. While a plan's input line shows only Ctrl-c quits: a `q` typed ahead was meant as
/// text. Returns whether a resize means the screen must be drawn again.
fn discard_typeahead(
    app: &mut App,
    requests: Option<&UnboundedSender<Request>>,
    mut next: impl FnMut() -> anyhow::Result<Option<Event>>,
) -> anyhow::Result<bool> {
    let mut dirty = false;
    let mut dropped = 0;
    for _ in 0..INPUT_BATCH {
        let Some(event) = next()? else { break };
        let quits = |key: &event::KeyEvent| {
            keymap::is_ctrl_c(key) || (!app.typing() && app.keymap.command_for(key) == Some(Command::Quit))
        };
        match event {
            Event::Key(key) if quits(&key) => {
                step(app, Action::Command(Command::Quit), requests);
                break;
            }
            Event::Key(_) => dropped += 1,
            Event::Resize(width, height) => {
                step(app, Action::Resize { width, height }, requests);
                dirty = true;
            }
            _ => {}
        }
    }
    if dropped > 0 {
        tracing::info!(dropped, "keys typed before the plan was shown were dropped");
    }
    Ok(dirty)
}

/// Applies one action, then hands what the user confirmed to the engine side. A request that
/// cannot be handed over comes back as a notice, so the user is never left thinking it ran.
fn step(app: &mut App, action: Action, requests: Option<&UnboundedSender<Request>>) {
    update(app, action);
    for request in std::mem::take(&mut app.outbox) {
        let what = request.describe();
        let failure = match requests {
            None => Some(format!("{what} not sent: this session has no engine side to send it to")),
            Some(tx) => tx.send(request).err().map(|_| format!("{what} not sent: the engine side has stopped")),
        };
        if let Some(text) = failure {
            tracing::warn!("{text}");
            update(app, Action::Feed(Feed::Notice(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProblemId;
    use crate::runbook::{SilencePlan, SilenceTarget};

    fn request() -> Request {
        Request::Silence(SilencePlan {
            problem: ProblemId(7),
            target: SilenceTarget { via: "am".into(), url: "http://am/api/v2/silences".into(), duration_ms: 60_000 },
            label_sets: vec![[("alertname".to_string(), "HostDown".to_string())].into_iter().collect()],
            created_by: "alice@bastion-1".into(),
            comment: "P-0007".into(),
        })
    }

    /// The terminal events of `keys`, as `discard_typeahead` reads them.
    fn waiting(events: Vec<Event>) -> impl FnMut() -> anyhow::Result<Option<Event>> {
        let mut events = events.into_iter();
        move || Ok(events.next())
    }

    fn char_key(c: char) -> Event {
        Event::Key(event::KeyEvent::new(event::KeyCode::Char(c), event::KeyModifiers::NONE))
    }

    #[test]
    fn a_bad_settings_file_is_left_out_and_named_in_the_first_notice() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keymap.toml"), "[up]\nkeys = [\"j\"]\n").unwrap();
        std::fs::write(dir.path().join("theme.toml"), "[severity]\ninfo = { fg = \"magenta\" }\n").unwrap();
        let light = ThemeChoice { name: "light".into(), origin: "--theme".into(), key: String::new() };
        let appearance = Appearance { theme: Some(light), colors: Some(ColorMode::TrueColor) };
        let (keymap, theme, problems) = load_style(Some(dir.path()), &appearance);
        assert_eq!(keymap, Keymap::builtin(), "the bad keymap is left out whole");
        assert_eq!(theme.severity.info.fg, Some(ratatui::style::Color::Magenta), "the good theme.toml applies");
        assert_eq!(theme.ui.status_bar.bg, Some(ratatui::style::Color::Rgb(0xe4, 0xe4, 0xe4)), "over the light theme");
        let keymap_file = dir.path().join("keymap.toml").display().to_string();
        let notice = settings_notice(&problems).unwrap();
        assert!(
            notice.starts_with(&format!("{keymap_file}:2: `up.keys[0]`: `j` is already bound to `down`")),
            "{notice}"
        );
        assert!(notice.ends_with("(defaults used for that file)"), "{notice}");
        assert_eq!(settings_notice(&[]), None);
    }

    #[test]
    fn keys_typed_before_a_destructive_plan_was_drawn_never_count() {
        let mut app = App::new(UiOptions::default());
        let run = Request::Run(crate::runbook::RunRequest {
            runbook: "wipe".into(),
            problem: ProblemId(7),
            operator: "alice@bastion-1".into(),
            shown: vec!["runbook wipe".into()],
        });
        let typed = TypedName { expected: "db-1".into(), text: String::new() };
        app.proposal = Some(Proposal { destructive: true, typed: Some(typed), ..Proposal::new(run) });
        // The name and Enter typed ahead, and a `q` that is text while a name is typed.
        let mut ahead: Vec<Event> = "db-1".chars().map(char_key).collect();
        ahead.push(Event::Key(event::KeyEvent::new(event::KeyCode::Enter, event::KeyModifiers::NONE)));
        ahead.push(char_key('q'));
        ahead.push(Event::Resize(100, 30));
        let dirty = discard_typeahead(&mut app, None, waiting(ahead)).unwrap();
        assert!(dirty, "a resize is kept");
        assert_eq!(app.size, (100, 30));
        assert!(!app.should_quit);
        assert!(app.outbox.is_empty());
        assert_eq!(app.proposal.as_ref().and_then(|p| p.typed.as_ref()).map(|t| t.text.as_str()), Some(""));
        // Ctrl-c still quits.
        let ctrl_c = Event::Key(event::KeyEvent::new(event::KeyCode::Char('c'), event::KeyModifiers::CONTROL));
        discard_typeahead(&mut app, None, waiting(vec![char_key('x'), ctrl_c])).unwrap();
        assert!(app.should_quit);

        // Without an input line, a `q` typed ahead quits as before.
        let mut app = App::new(UiOptions::default());
        app.proposal = Some(Proposal::new(request()));
        discard_typeahead(&mut app, None, waiting(vec![char_key('y'), char_key('q')])).unwrap();
        assert!(app.should_quit && app.outbox.is_empty());
    }

    #[test]
    fn confirmed_requests_go_to_the_engine_side_or_come_back_as_a_notice() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut app = App::new(UiOptions::default());
        let resize = || Action::Resize { width: 80, height: 24 };

        app.outbox.push(request());
        step(&mut app, resize(), Some(&tx));
        assert!(app.outbox.is_empty());
        assert_eq!(rx.try_recv(), Ok(request()));
        assert_eq!(app.notice, None);

        app.outbox.push(request());
        step(&mut app, resize(), None);
        assert!(app.outbox.is_empty());
        let notice = app.notice.take().unwrap_or_default();
        assert!(notice.starts_with("silence of P-0007 via am not sent: this session has no engine side"), "{notice}");

        drop(rx);
        app.outbox.push(request());
        step(&mut app, resize(), Some(&tx));
        assert_eq!(app.notice.as_deref(), Some("silence of P-0007 via am not sent: the engine side has stopped"));
    }
}
