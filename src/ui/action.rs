//! Everything that can change the UI's state: data from the engine side, commands from keys, and
//! the terminal changing size. Both channels end up here, so `update` is the only writer.

use super::keymap::Command;
use super::Feed;
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

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
    /// The left mouse button pressed on a cell (0-based column and row of the screen).
    Click { column: u16, row: u16 },
    /// The mouse wheel turned over a cell; `down` scrolls toward the end.
    Wheel { column: u16, row: u16, down: bool },
}

impl Action {
    /// The action a mouse event means: a left click or a wheel turn; `None` for the rest
    /// (moves, drags, releases, other buttons). The one place mouse events are read.
    pub fn from_mouse(event: &MouseEvent) -> Option<Action> {
        let (column, row) = (event.column, event.row);
        match event.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click { column, row }),
            MouseEventKind::ScrollDown => Some(Action::Wheel { column, row, down: true }),
            MouseEventKind::ScrollUp => Some(Action::Wheel { column, row, down: false }),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn mouse(kind: MouseEventKind) -> MouseEvent {
        MouseEvent { kind, column: 7, row: 3, modifiers: KeyModifiers::NONE }
    }

    #[test]
    fn clicks_and_wheel_turns_become_actions_and_the_rest_is_dropped() {
        let left = MouseEventKind::Down(MouseButton::Left);
        assert_eq!(Action::from_mouse(&mouse(left)), Some(Action::Click { column: 7, row: 3 }));
        let down = Action::from_mouse(&mouse(MouseEventKind::ScrollDown));
        assert_eq!(down, Some(Action::Wheel { column: 7, row: 3, down: true }));
        let up = Action::from_mouse(&mouse(MouseEventKind::ScrollUp));
        assert_eq!(up, Some(Action::Wheel { column: 7, row: 3, down: false }));
        for kind in [
            MouseEventKind::Down(MouseButton::Right),
            MouseEventKind::Up(MouseButton::Left),
            MouseEventKind::Drag(MouseButton::Left),
            MouseEventKind::Moved,
        ] {
            assert_eq!(Action::from_mouse(&mouse(kind)), None, "{kind:?}");
        }
    }
}
