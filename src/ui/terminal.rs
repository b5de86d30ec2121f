//! Taking over the terminal and always giving it back: on a normal exit, on an error, on a panic
//! (from any thread) and on SIGTERM / SIGHUP / SIGINT. Mouse capture (on unless `--no-mouse` or
//! `[ui] mouse = false`) is undone on the same paths: a terminal left capturing the mouse
//! prints escape codes on every click in the shell afterwards.

use crossterm::cursor::{Hide, Show};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The terminal is in raw mode on the alternate screen; restoring is needed.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// A panic restored the terminal while the UI was up; the event loop must stop drawing.
static PANICKED: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();
/// Whether the next session captures the mouse (clicks and the wheel).
static MOUSE_WANTED: AtomicBool = AtomicBool::new(true);
/// The session on screen captures the mouse; restoring must release it.
static MOUSE_CAPTURED: AtomicBool = AtomicBool::new(false);

/// Whether UI sessions started from now on capture the mouse (`--no-mouse` turns it off, so
/// the terminal's own selection and scrollback keep working).
pub fn set_mouse_capture(on: bool) {
    MOUSE_WANTED.store(on, Ordering::SeqCst);
}

/// How long the event loop has to notice a signal before the watchdog ends the process.
const SIGNAL_GRACE: Duration = Duration::from_secs(2);
/// How long the watchdog waits for the terminal to be restored (it can block on a stopped tty).
const RESTORE_GRACE: Duration = Duration::from_millis(500);

/// The UI's hold on the terminal; dropping it restores the terminal.
pub(crate) struct Session {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Set when SIGTERM, SIGHUP or SIGINT arrived; the event loop checks it every turn.
    pub signalled: Arc<AtomicBool>,
    /// Set when the session ends, so the watchdog stands down.
    ended: Arc<AtomicBool>,
    signals: Handle,
    watchdog: Option<JoinHandle<()>>,
}

impl Session {
    /// Starts the signal watchdog and the panic hook, then enters raw mode and the alternate
    /// screen with the cursor hidden.
    pub fn enter() -> io::Result<Session> {
        install_panic_hook();
        PANICKED.store(false, Ordering::SeqCst);
        let signalled = Arc::new(AtomicBool::new(false));
        let ended = Arc::new(AtomicBool::new(false));
        let signals = Signals::new([SIGTERM, SIGHUP, SIGINT])?;
        let handle = signals.handle();
        let watchdog = std::thread::Builder::new().name("faultline-ui-signals".to_string()).spawn({
            let (signalled, ended) = (Arc::clone(&signalled), Arc::clone(&ended));
            move || watch(signals, &signalled, &ended)
        });
        let watchdog = match watchdog {
            Ok(thread) => thread,
            Err(e) => {
                handle.close();
                return Err(e);
            }
        };
        // From here on a failure is undone by the Session's Drop.
        let mut session = Session::start(signalled, ended, handle, watchdog)?;
        session.terminal.hide_cursor()?;
        session.terminal.clear()?;
        Ok(session)
    }

    fn start(
        signalled: Arc<AtomicBool>,
        ended: Arc<AtomicBool>,
        signals: Handle,
        watchdog: JoinHandle<()>,
    ) -> io::Result<Session> {
        let stand_down = |ended: &AtomicBool, signals: &Handle, watchdog: JoinHandle<()>| {
            ended.store(true, Ordering::SeqCst);
            signals.close();
            let _ = watchdog.join();
        };
        if let Err(e) = enable_raw_mode() {
            stand_down(&ended, &signals, watchdog);
            return Err(e);
        }
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| capture_mouse())
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(Session { terminal, signalled, ended, signals, watchdog: Some(watchdog) }),
            Err(e) => {
                restore();
                stand_down(&ended, &signals, watchdog);
                Err(e)
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.ended.store(true, Ordering::SeqCst);
        restore();
        self.signals.close();
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}

/// Raises the flag on the first signal. If the event loop has not ended the session within
/// [`SIGNAL_GRACE`], the process ends here: after an SSH drop crossterm 0.29 can spin forever
/// reading the dead terminal's end of file, so the loop may never look at the flag again. The
/// exit status is the shell's for death by that signal (128 + number), as without the handler.
fn watch(mut signals: Signals, signalled: &AtomicBool, ended: &AtomicBool) {
    // One signal is enough: either the session ends in time or the process does. `None` means
    // the session closed the handle first.
    if let Some(signal) = signals.forever().next() {
        signalled.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + SIGNAL_GRACE;
        while !ended.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if ended.load(Ordering::SeqCst) {
            return;
        }
        tracing::warn!(signal, "the UI did not stop after a signal; ending the process");
        // Restoring writes to the terminal, which may block (a stopped tty): give it a moment.
        let (done, restored) = mpsc::channel();
        std::thread::spawn(move || {
            restore();
            let _ = done.send(());
        });
        let _ = restored.recv_timeout(RESTORE_GRACE);
        std::process::exit(128 + signal);
    }
}

/// Starts capturing the mouse when wanted, noting it so [`restore`] releases it.
fn capture_mouse() -> io::Result<()> {
    if MOUSE_WANTED.load(Ordering::SeqCst) {
        MOUSE_CAPTURED.store(true, Ordering::SeqCst);
        execute!(io::stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// Releases the mouse, leaves the alternate screen and raw mode and shows the cursor, once;
/// later calls do nothing. Errors are ignored: after an SSH drop there is no terminal left to
/// restore.
pub(crate) fn restore() {
    if MOUSE_CAPTURED.swap(false, Ordering::SeqCst) {
        let _ = execute!(io::stdout(), DisableMouseCapture);
    }
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    }
}

/// Whether a panic restored the terminal while the UI was up.
pub(crate) fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Restores the terminal before the panic message is printed (else it lands on the alternate
/// screen and vanishes), then runs the hook that was there before.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                PANICKED.store(true, Ordering::SeqCst);
                restore();
            }
            previous(info);
        }));
    });
}
