//! Key bindings: `themes/keymap.toml` built in, overridable by the user's `keymap.toml`. The `?`
//! help is generated from the same bindings, so it cannot disagree with what the keys do.

use super::settings::{self, SettingsError};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The built-in keymap.
pub const BUILTIN_KEYMAP: &str = include_str!("../../themes/keymap.toml");
const BUILTIN_NAME: &str = "themes/keymap.toml (built in)";

/// What a key can ask the UI to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    Open,
    Back,
    /// Propose a silence for the problem's firing alerts (shows the plan; nothing is sent yet).
    Silence,
    /// Run the plan on screen.
    Confirm,
    /// Close the plan on screen without running it.
    Cancel,
    /// Choose among the selected problem's matching runbooks (a picked one shows its plan).
    Runbooks,
    /// The selected problem's runbook output, full screen.
    Output,
    /// Propose cancelling the selected problem's running runbook (a one-line plan to confirm).
    CancelRun,
    /// Replay: one event back (of the problem in the detail; of all events in the list).
    StepBack,
    /// Replay: one event forward.
    StepForward,
    /// Replay: to the previous root-cause ranking change.
    PreviousRanking,
    /// Replay: to the next root-cause ranking change.
    NextRanking,
    /// Replay: play or pause (data time runs at the play speed).
    Play,
    /// Replay: the next faster play speed.
    Faster,
    /// Replay: the next slower play speed.
    Slower,
    /// Replay: back to live, the cursor following new data.
    Live,
    /// The `:` command palette: fuzzy search over commands, problems, entities and runbooks.
    Palette,
    /// The `/` filter on the problem list.
    Filter,
    /// Cycle the problem list's order: severity, newest, impact.
    Sort,
    /// The selected problem's topology (a layered diagram; `:topology all` shows the estate).
    Topology,
    /// Topology view: the node to the left (scoped: shadows a global key in that view only).
    NodeLeft,
    /// Topology view: the node to the right.
    NodeRight,
    /// Topology view: one hop more around the problem's entities.
    WidenHops,
    /// Topology view: one hop less.
    NarrowHops,
    /// The log lines of the problem's entities around onset, full screen.
    Logs,
    /// Log pane: the next search match (scoped).
    NextMatch,
    /// Log pane: the previous search match (scoped).
    PreviousMatch,
    /// The handover report of the last 12 hours of data, in a scrollable overlay.
    Report,
    /// Open the next similar past problem of the detail in replay (the cursor at its end).
    OpenSimilar,
    Help,
    Quit,
}

impl Command {
    /// Every command, in the order the help lists them.
    pub const ALL: [Command; 37] = [
        Command::Down,
        Command::Up,
        Command::Top,
        Command::Bottom,
        Command::PageDown,
        Command::PageUp,
        Command::Open,
        Command::Back,
        Command::Silence,
        Command::Confirm,
        Command::Cancel,
        Command::Runbooks,
        Command::Output,
        Command::CancelRun,
        Command::StepBack,
        Command::StepForward,
        Command::PreviousRanking,
        Command::NextRanking,
        Command::Play,
        Command::Faster,
        Command::Slower,
        Command::Live,
        Command::Palette,
        Command::Filter,
        Command::Sort,
        Command::Topology,
        Command::NodeLeft,
        Command::NodeRight,
        Command::WidenHops,
        Command::NarrowHops,
        Command::Logs,
        Command::NextMatch,
        Command::PreviousMatch,
        Command::Report,
        Command::OpenSimilar,
        Command::Help,
        Command::Quit,
    ];

    /// The command's table name in keymap.toml.
    pub fn name(self) -> &'static str {
        match self {
            Command::Down => "down",
            Command::Up => "up",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::PageDown => "page_down",
            Command::PageUp => "page_up",
            Command::Open => "open",
            Command::Back => "back",
            Command::Silence => "silence",
            Command::Confirm => "confirm",
            Command::Cancel => "cancel",
            Command::Runbooks => "runbooks",
            Command::Output => "output",
            Command::CancelRun => "cancel_run",
            Command::StepBack => "step_back",
            Command::StepForward => "step_forward",
            Command::PreviousRanking => "previous_ranking",
            Command::NextRanking => "next_ranking",
            Command::Play => "play",
            Command::Faster => "faster",
            Command::Slower => "slower",
            Command::Live => "live",
            Command::Palette => "palette",
            Command::Filter => "filter",
            Command::Sort => "sort",
            Command::Topology => "topology",
            Command::NodeLeft => "node_left",
            Command::NodeRight => "node_right",
            Command::WidenHops => "widen_hops",
            Command::NarrowHops => "narrow_hops",
            Command::Logs => "logs",
            Command::NextMatch => "next_match",
            Command::PreviousMatch => "previous_match",
            Command::Report => "report",
            Command::OpenSimilar => "open_similar",
            Command::Help => "help",
            Command::Quit => "quit",
        }
    }

    fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Where the command's keys work: a scoped command may share a key with a global one, and
    /// wins in its scope (`+` widens the hops in the topology view, plays faster elsewhere).
    pub fn scope(self) -> Scope {
        match self {
            Command::NodeLeft | Command::NodeRight | Command::WidenHops | Command::NarrowHops => Scope::Topology,
            Command::NextMatch | Command::PreviousMatch => Scope::Logs,
            _ => Scope::Global,
        }
    }
}

/// Where a command's keys work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Everywhere, unless a scoped command takes the key.
    Global,
    /// Only while the topology view shows.
    Topology,
    /// Only while the log pane shows.
    Logs,
}

/// One key as written in keymap.toml: a key code, with or without Ctrl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

/// Ctrl-c quits whatever the keymap says: in raw mode it is the user's way out.
const CTRL_C: Key = Key { code: KeyCode::Char('c'), ctrl: true };

/// Whether a key press is Ctrl-c: the one key that still quits while text is typed into a plan.
pub fn is_ctrl_c(event: &KeyEvent) -> bool {
    CTRL_C.matches(event)
}

/// The character a key press types into a text input: a plain or shifted character, never one
/// held with Ctrl or Alt, never a release.
pub fn typed_char(event: &KeyEvent) -> Option<char> {
    let held = event.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match event.code {
        KeyCode::Char(c) if !held && event.kind != KeyEventKind::Release && !c.is_control() => Some(c),
        _ => None,
    }
}

const NAMED_KEYS: [(&str, KeyCode); 14] = [
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("Tab", KeyCode::Tab),
    ("BackTab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
];

impl Key {
    /// Parses a key name: a single character, a named key (`Enter`, `PageDown`, `F1`...), or
    /// `Ctrl-<char>`. Names are case-insensitive; single characters are not (`g` is not `G`).
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return Ok(Key { code: KeyCode::Char(c), ctrl: false });
        }
        let lower = text.to_ascii_lowercase();
        for prefix in ["ctrl-", "ctrl+", "c-"] {
            if let Some(rest) = lower.strip_prefix(prefix) {
                let mut chars = rest.chars();
                return match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii_graphic() => Ok(Key { code: KeyCode::Char(c), ctrl: true }),
                    _ => Err(format!("`{text}` is not a key: Ctrl- takes one character, as in `Ctrl-d`")),
                };
            }
        }
        let aliases = [("escape", "esc"), ("pgup", "pageup"), ("pgdn", "pagedown"), ("return", "enter")];
        let name = aliases.iter().find(|(alias, _)| *alias == lower).map_or(lower.as_str(), |(_, n)| n);
        if name == "space" {
            return Ok(Key { code: KeyCode::Char(' '), ctrl: false });
        }
        if let Some((_, code)) = NAMED_KEYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Ok(Key { code: *code, ctrl: false });
        }
        if let Some(n) = name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()).filter(|n| (1..=12).contains(n)) {
            return Ok(Key { code: KeyCode::F(n), ctrl: false });
        }
        Err(format!(
            "`{text}` is not a key: use one character, Ctrl-<char>, F1..F12, Space or one of {}",
            NAMED_KEYS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))
    }

    /// Whether a key press from the terminal is this key. Shift is ignored (it is already in the
    /// character: `G`, `?`); Alt never matches.
    pub fn matches(&self, event: &KeyEvent) -> bool {
        if event.kind == KeyEventKind::Release || event.modifiers.contains(KeyModifiers::ALT) {
            return false;
        }
        if self.ctrl != event.modifiers.contains(KeyModifiers::CONTROL) {
            return false;
        }
        match (self.code, event.code) {
            // Terminals report Ctrl-D as 'd' or 'D' depending on Shift; treat them alike.
            (KeyCode::Char(a), KeyCode::Char(b)) if self.ctrl => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            code => match NAMED_KEYS.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => f.write_str(name),
                None => write!(f, "{code:?}"),
            },
        }
    }
}

/// One command with its keys and what the help says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub command: Command,
    pub keys: Vec<Key>,
    pub description: String,
}

impl Binding {
    /// The keys as the help shows them: `j, Down`.
    pub fn keys_text(&self) -> String {
        if self.keys.is_empty() {
            return "(unbound)".to_string();
        }
        self.keys.iter().map(Key::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// All bindings, one per [`Command`], in [`Command::ALL`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
    user_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingSpec {
    keys: Vec<String>,
    description: String,
}

impl Keymap {
    /// The built-in keymap (themes/keymap.toml, checked by a unit test).
    pub fn builtin() -> Keymap {
        match Keymap::from_toml(None) {
            Ok(keymap) => keymap,
            // Unreachable while the built-in file passes its test; an empty keymap still quits on Ctrl-c.
            Err(_) => Keymap { bindings: Vec::new(), user_file: None },
        }
    }

    /// The built-in keymap with `user` laid over it: `(text, file name for errors)`.
    pub fn from_toml(user: Option<(&str, &str)>) -> Result<Keymap, SettingsError> {
        Keymap::build(settings::layered_text(BUILTIN_KEYMAP, BUILTIN_NAME, user)?)
    }

    /// The built-in keymap with the user's file laid over it, if that file exists.
    pub fn load(user_file: Option<&Path>) -> Result<Keymap, SettingsError> {
        Keymap::build(settings::layered_file(BUILTIN_KEYMAP, BUILTIN_NAME, user_file)?)
    }

    /// [`Keymap::load`], falling back to the built-in keymap when the user's file cannot be used:
    /// a bad file never stops the UI, and what was wrong comes back to be shown and logged.
    pub fn load_or_builtin(user_file: Option<&Path>) -> (Keymap, Option<SettingsError>) {
        match Keymap::load(user_file) {
            Ok(keymap) => (keymap, None),
            Err(e) => (Keymap::builtin(), Some(e)),
        }
    }

    fn build(layered: settings::Layered) -> Result<Keymap, SettingsError> {
        let known = || Command::ALL.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
        // Checked before deserializing so a misspelt command reads as one, not as a missing field.
        for name in layered.table.keys() {
            if Command::from_name(name).is_none() {
                return Err(layered.error(name.clone(), format!("unknown command; the commands are {}", known())));
            }
        }
        let specs: BTreeMap<String, BindingSpec> = settings::deserialize(&layered)?;
        let mut bindings = Vec::new();
        // Keys clash only within one scope: a scoped command shadows a global one in its view.
        // Each key remembers its first command and where that was written.
        let mut owner: BTreeMap<(Scope, String), (Command, String)> = BTreeMap::new();
        for command in Command::ALL {
            let Some(spec) = specs.get(command.name()) else {
                return Err(layered.error(command.name().to_string(), "missing from the keymap".to_string()));
            };
            let mut keys = Vec::new();
            for (i, text) in spec.keys.iter().enumerate() {
                let path = format!("{}.keys[{i}]", command.name());
                let key = Key::parse(text).map_err(|m| layered.error(path.clone(), m))?;
                if key == CTRL_C && command != Command::Quit {
                    return Err(layered.error(path, "Ctrl-c always quits; bind another key".to_string()));
                }
                let slot = (command.scope(), key.to_string());
                match owner.get(&slot) {
                    Some((other, other_path)) if *other != command => {
                        return Err(conflict(&layered, key, (command, path), (*other, other_path.clone())))
                    }
                    Some(_) => {}
                    None => {
                        owner.insert(slot, (command, path));
                    }
                }
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            if command == Command::Quit && !keys.contains(&CTRL_C) {
                keys.push(CTRL_C);
            }
            bindings.push(Binding { command, keys, description: spec.description.clone() });
        }
        Ok(Keymap { bindings, user_file: layered.user_file })
    }

    /// The bindings in help order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The binding of one command.
    pub fn binding(&self, command: Command) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.command == command)
    }

    /// The user's keymap file, when one was read.
    pub fn user_file(&self) -> Option<&Path> {
        self.user_file.as_deref()
    }

    /// The built-in command a plain character key runs, if any: a runbook's own key works only
    /// when this is `None` (the built-in wins).
    pub fn command_for_char(&self, c: char) -> Option<Command> {
        self.command_for(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    /// The global command a key press runs, if any (scoped commands are left out).
    pub fn command_for(&self, event: &KeyEvent) -> Option<Command> {
        self.command_in(Scope::Global, event)
    }

    /// The command a key press runs in `scope`: that scope's own binding first, then a global one.
    pub fn command_in(&self, scope: Scope, event: &KeyEvent) -> Option<Command> {
        if CTRL_C.matches(event) {
            return Some(Command::Quit);
        }
        let find = |s: Scope| {
            self.bindings
                .iter()
                .find(|b| b.command.scope() == s && b.keys.iter().any(|k| k.matches(event)))
                .map(|b| b.command)
        };
        if scope != Scope::Global {
            if let Some(command) = find(scope) {
                return Some(command);
            }
        }
        find(Scope::Global)
    }
}

/// One key bound to two commands of one scope. The error points at the binding written last
/// (a user's binding rather than the built-in one it clashes with), naming the other command.
fn conflict(layered: &settings::Layered, key: Key, this: (Command, String), first: (Command, String)) -> SettingsError {
    let (blamed, other) =
        if layered.written_at(&this.1) >= layered.written_at(&first.1) { (this.1, first.0) } else { (first.1, this.0) };
    layered.error(blamed, format!("`{key}` is already bound to `{}`; a key runs one command", other.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn builtin_keymap_binds_every_command() {
        let keymap = Keymap::from_toml(None).unwrap();
        assert_eq!(keymap.bindings().len(), Command::ALL.len());
        for b in keymap.bindings() {
            assert!(!b.keys.is_empty(), "{:?} has no key", b.command);
            assert!(!b.description.is_empty(), "{:?} has no description", b.command);
        }
        assert_eq!(keymap, Keymap::builtin());
    }

    #[test]
    fn vim_and_arrow_keys_resolve() {
        let keymap = Keymap::builtin();
        let none = KeyModifiers::NONE;
        assert_eq!(keymap.command_for(&press(KeyCode::Char('j'), none)), Some(Command::Down));
        assert_eq!(keymap.command_for(&press(KeyCode::Down, none)), Some(Command::Down));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)), Some(Command::Bottom));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('g'), none)), Some(Command::Top));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('?'), KeyModifiers::SHIFT)), Some(Command::Help));
        assert_eq!(keymap.command_for(&press(KeyCode::Enter, none)), Some(Command::Open));
        assert_eq!(keymap.command_for(&press(KeyCode::Esc, none)), Some(Command::Back));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('s'), none)), Some(Command::Silence));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('y'), none)), Some(Command::Confirm));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('n'), none)), Some(Command::Cancel));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('x'), none)), Some(Command::Runbooks));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('o'), none)), Some(Command::Output));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('X'), KeyModifiers::SHIFT)), Some(Command::CancelRun));
        assert_eq!(keymap.command_for_char('r'), None, "free for a runbook's own key");
        assert_eq!(keymap.command_for_char('j'), Some(Command::Down));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Command::Quit));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('c'), none)), None);
        assert_eq!(keymap.command_for(&press(KeyCode::Char('['), none)), Some(Command::StepBack));
        assert_eq!(keymap.command_for(&press(KeyCode::Char(']'), none)), Some(Command::StepForward));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('{'), KeyModifiers::SHIFT)), Some(Command::PreviousRanking));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('}'), KeyModifiers::SHIFT)), Some(Command::NextRanking));
        assert_eq!(keymap.command_for(&press(KeyCode::Char(' '), none)), Some(Command::Play));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('+'), KeyModifiers::SHIFT)), Some(Command::Faster));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('-'), none)), Some(Command::Slower));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('L'), KeyModifiers::SHIFT)), Some(Command::Live));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('j'), KeyModifiers::ALT)), None);
    }

    #[test]
    fn topology_keys_shadow_global_ones_only_in_the_topology_view() {
        let keymap = Keymap::builtin();
        let none = KeyModifiers::NONE;
        let plus = press(KeyCode::Char('+'), KeyModifiers::SHIFT);
        assert_eq!(keymap.command_in(Scope::Topology, &plus), Some(Command::WidenHops));
        assert_eq!(keymap.command_in(Scope::Global, &plus), Some(Command::Faster));
        let minus = press(KeyCode::Char('-'), none);
        assert_eq!(keymap.command_in(Scope::Topology, &minus), Some(Command::NarrowHops));
        assert_eq!(keymap.command_for(&minus), Some(Command::Slower));
        let h = press(KeyCode::Char('h'), none);
        assert_eq!(keymap.command_in(Scope::Topology, &h), Some(Command::NodeLeft));
        assert_eq!(keymap.command_for(&h), Some(Command::Back));
        assert_eq!(keymap.command_in(Scope::Topology, &press(KeyCode::Right, none)), Some(Command::NodeRight));
        // Global keys still work in the view unless shadowed.
        assert_eq!(keymap.command_in(Scope::Topology, &press(KeyCode::Esc, none)), Some(Command::Back));
        assert_eq!(keymap.command_for(&press(KeyCode::Char('T'), KeyModifiers::SHIFT)), Some(Command::Topology));
        // Within one scope a key bound twice is still an error.
        let err = Keymap::from_toml(Some(("[narrow_hops]\nkeys = [\"+\"]\n", "mine.toml"))).unwrap_err();
        assert!(err.message.contains("already bound to `widen_hops`"), "{err}");
    }

    #[test]
    fn key_names_round_trip() {
        for name in ["j", "G", "?", "Enter", "Esc", "PageDown", "Ctrl-d", "F5", "Space"] {
            assert_eq!(Key::parse(name).unwrap().to_string(), name);
        }
        assert_eq!(Key::parse("pgdn").unwrap().code, KeyCode::PageDown);
        assert!(Key::parse("Ctrl-").is_err());
        assert!(Key::parse("F13").is_err());
    }

    #[test]
    fn user_override_keeps_other_defaults_and_ctrl_c() {
        let keymap = Keymap::from_toml(Some(("[quit]\nkeys = [\"Q\"]\n", "mine.toml"))).unwrap();
        let quit = keymap.binding(Command::Quit).unwrap();
        assert_eq!(quit.keys_text(), "Q, Ctrl-c");
        assert_eq!(quit.description, "quit faultline");
        assert_eq!(keymap.binding(Command::Down).unwrap().keys_text(), "j, Down");
    }

    #[test]
    fn conflicts_and_unknown_commands_are_errors() {
        let err = Keymap::from_toml(Some(("[up]\nkeys = [\"j\"]\n", "mine.toml"))).unwrap_err();
        assert_eq!(err.key, "up.keys[0]");
        assert!(err.message.contains("down"), "{err}");
        let err = Keymap::from_toml(Some(("[jump]\nkeys = [\"x\"]\n", "mine.toml"))).unwrap_err();
        assert_eq!(err.key, "jump");
        let err = Keymap::from_toml(Some(("[help]\nkeys = [\"Ctrl-c\"]\n", "mine.toml"))).unwrap_err();
        assert_eq!(err.key, "help.keys[0]");
        // A user key that a built-in command also uses (`s` silences) is a conflict too; moving
        // the built-in one elsewhere resolves it.
        let err = Keymap::from_toml(Some(("[down]\nkeys = [\"j\", \"s\"]\n", "mine.toml"))).unwrap_err();
        assert_eq!((err.file.as_str(), err.line, err.key.as_str()), ("mine.toml", Some(2), "down.keys[1]"));
        assert!(err.message.contains("`s` is already bound to `silence`"), "{err}");
        let keymap = Keymap::from_toml(Some(("[silence]\nkeys = [\"Z\"]\n[down]\nkeys = [\"s\"]\n", "m"))).unwrap();
        assert_eq!(keymap.binding(Command::Down).unwrap().keys_text(), "s");
    }
}
