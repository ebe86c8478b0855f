//! ANSI colour for a terminal, and nothing for anything else.
//!
//! ```
//! use ssekit_cli::style::{Style, escape_controls};
//!
//! // What a server sends is shown, never obeyed by the terminal.
//! let shown = escape_controls("hi\x1b]0;pwned\x07");
//! assert_eq!(Style::plain().bold(&shown), "hi\\u{1b}]0;pwned\\u{7}");
//! assert_eq!(Style::colored().green("PASS"), "\x1b[32mPASS\x1b[0m");
//! ```

use std::io::IsTerminal;

/// Whether output is coloured, and the few colours the CLI uses.
///
/// Colour is on only for a terminal, and off whenever `NO_COLOR` is set to
/// anything but an empty string (<https://no-color.org>).
///
/// ```
/// use ssekit_cli::style::Style;
///
/// assert_eq!(Style::plain().red("FAIL"), "FAIL");
/// assert_eq!(Style::colored().red("FAIL"), "\x1b[31mFAIL\x1b[0m");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

impl Style {
    /// No colour.
    #[must_use]
    pub fn plain() -> Self {
        Self { color: false }
    }

    /// Always colour.
    #[must_use]
    pub fn colored() -> Self {
        Self { color: true }
    }

    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    #[must_use]
    pub fn for_stdout() -> Self {
        Self {
            color: std::io::stdout().is_terminal() && !no_color(),
        }
    }

    /// Colour when stderr is a terminal and `NO_COLOR` is unset.
    #[must_use]
    pub fn for_stderr() -> Self {
        Self {
            color: std::io::stderr().is_terminal() && !no_color(),
        }
    }

    /// Whether this style colours.
    #[must_use]
    pub fn is_colored(self) -> bool {
        self.color
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Dimmed: heartbeats, reconnects, the less important.
    #[must_use]
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Bold.
    #[must_use]
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Red: failures.
    #[must_use]
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Green: passes.
    #[must_use]
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Yellow: ids, notes.
    #[must_use]
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Cyan: event types.
    #[must_use]
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
}

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// `text` with every control character but line feed and tab escaped, so a
/// server cannot drive the terminal (move the cursor, change the title) with
/// what it sends.
///
/// ```
/// use ssekit_cli::style::escape_controls;
///
/// assert_eq!(escape_controls("a\x1b[2Jb\tc\n"), "a\\u{1b}[2Jb\tc\n");
/// ```
#[must_use]
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
