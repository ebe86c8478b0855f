//! A spinner with a message on stderr while the CLI waits, only when stderr
//! is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const TICK: Duration = Duration::from_millis(100);

/// The spinner line. Everything written to stdout goes through
/// [`suspend`](Self::suspend), which erases the line first, so the two never
/// mix on one terminal.
#[derive(Debug)]
pub(crate) struct Progress {
    line: Option<Arc<Mutex<Line>>>,
    ticker: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Line {
    message: Option<String>,
    frame: usize,
    drawn: bool,
}

impl Line {
    fn erase(&mut self) {
        if self.drawn {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
            self.drawn = false;
        }
    }

    fn draw(&mut self) {
        let Some(message) = &self.message else {
            return;
        };
        self.frame = (self.frame + 1) % FRAMES.len();
        let mut stderr = std::io::stderr().lock();
        // Dimmed, and cut to one line so the carriage return can erase it.
        let message: String = message.chars().take(100).collect();
        let _ = write!(
            stderr,
            "\r\x1b[2K\x1b[2m{} {message}\x1b[0m",
            FRAMES[self.frame]
        );
        let _ = stderr.flush();
        self.drawn = true;
    }
}

impl Progress {
    /// No spinner at all (not a terminal, or a library caller).
    pub(crate) fn hidden() -> Self {
        Self {
            line: None,
            ticker: None,
        }
    }

    /// A spinner on stderr when it is a terminal, else hidden. Must be called
    /// inside a tokio runtime.
    pub(crate) fn on_stderr() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let line = Arc::new(Mutex::new(Line::default()));
        let ticking = Arc::clone(&line);
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                lock(&ticking).draw();
            }
        });
        Self {
            line: Some(line),
            ticker: Some(ticker),
        }
    }

    /// Shows `message` beside the spinner.
    pub(crate) fn set(&self, message: impl Into<String>) {
        if let Some(line) = &self.line {
            lock(line).message = Some(message.into());
        }
    }

    /// Hides the spinner until the next [`set`](Self::set).
    pub(crate) fn clear(&self) {
        if let Some(line) = &self.line {
            let mut line = lock(line);
            line.erase();
            line.message = None;
        }
    }

    /// Runs `write` with the spinner line erased; it comes back at the next
    /// tick.
    pub(crate) fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        match &self.line {
            Some(line) => {
                let mut line = lock(line);
                line.erase();
                write()
            }
            None => write(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        self.clear();
    }
}

fn lock(line: &Mutex<Line>) -> std::sync::MutexGuard<'_, Line> {
    line.lock().unwrap_or_else(PoisonError::into_inner)
}
