//! Everything that can change the UI's state: data from the engine side, commands from keys, and
//! the terminal changing size. Both channels end up here, so `update` is the only writer.

use super::keymap::Command;
use super::Feed;

/// One change to apply with [`super::update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Problem events, source health or the end of the data, from the engine side.
    Feed(Feed),
    /// The engine side went away (its sender was dropped) without saying it had finished.
    FeedClosed,
    /// A key press, already resolved through the keymap.
    Command(Command),
    /// A key press as the terminal gave it: typed into a plan's input line when one shows,
    /// else resolved through the keymap, else a runbook's own key (the built-in wins).
    Key(crossterm::event::KeyEvent),
    /// The terminal's size, in cells.
    Resize { width: u16, height: u16 },
    /// Wall-clock time passed since the last tick, in milliseconds: moves a playing replay
    /// cursor by that much data time times the play speed. The event loop sends it only while
    /// playing, so `update` itself never reads a clock.
    Tick { elapsed_ms: u64 },
    /// The wall clock, in Unix milliseconds, sent by the event loop about once a second: what a
    /// live session measures each source's lag against (`update` itself never reads a clock).
    Clock { unix_ms: i64 },
}

impl From<Feed> for Action {
    fn from(feed: Feed) -> Action {
        Action::Feed(feed)
    }
}

impl From<Command> for Action {
    fn from(command: Command) -> Action {
        Action::Command(command)
    }
}
