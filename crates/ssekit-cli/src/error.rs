//! What can go wrong, and the exit code each failure ends the program with.

use std::fmt;
use std::io;
use std::time::Duration;

use http::StatusCode;

/// The exit codes of the `ssekit` binary.
///
/// | code | meaning |
/// |---|---|
/// | 0 | success: `check` passed every check; `tail` reached `--count`, was told to stop (204), or the stream ended cleanly with no reconnection left |
/// | 1 | `check` ran and at least one check failed |
/// | 2 | usage: a bad argument, URL or header |
/// | 3 | no HTTP response: the host is unreachable, refused the connection, or gave no response head in time |
/// | 4 | TLS: the handshake failed (not a TLS port, an untrusted certificate, a name mismatch) |
/// | 5 | `tail`: the response is not an event stream (a status other than 200 and 204, or another content type) |
/// | 6 | `tail`: the stream broke: it was cut mid-event, or the connection was lost mid-body, with no reconnection left |
/// | 7 | the output could not be written (other than a closed pipe, which ends quietly) |
///
/// ```
/// use ssekit_cli::exit;
///
/// assert_eq!(exit::CHECK_FAILED, 1);
/// assert_eq!(exit::TLS, 4);
/// ```
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// `check` ran and at least one check failed.
    pub const CHECK_FAILED: u8 = 1;
    /// A bad argument, URL or header.
    pub const USAGE: u8 = 2;
    /// No HTTP response: unreachable, refused, or no response head in time.
    pub const CONNECT: u8 = 3;
    /// The TLS handshake failed.
    pub const TLS: u8 = 4;
    /// The response is not an event stream.
    pub const NOT_SSE: u8 = 5;
    /// The stream was cut mid-event, or the connection lost mid-body.
    pub const CUT: u8 = 6;
    /// The output could not be written.
    pub const OUTPUT: u8 = 7;
}

/// A failure that ends a command, with the exit code it maps to.
///
/// Every message says what went wrong and, where there is one, what to do.
///
/// ```
/// use ssekit_cli::{Error, exit};
///
/// let err = ssekit_cli::client::Target::parse("ftp://example.com/").unwrap_err();
/// assert_eq!(err.exit_code(), exit::USAGE);
/// assert!(err.to_string().contains("http:// or https://"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A bad argument, URL or header.
    Usage(String),
    /// The TCP connection could not be made (DNS, refused, unreachable).
    Connect {
        /// `host:port` as given.
        target: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// Connecting, the TLS handshake or the response head took too long.
    Timeout {
        /// `host:port` as given.
        target: String,
        /// What was being waited for.
        what: &'static str,
        /// The limit (`--timeout`).
        after: Duration,
    },
    /// The TLS handshake failed.
    Tls {
        /// `host:port` as given.
        target: String,
        /// What rustls said.
        source: io::Error,
    },
    /// The connection was made but no valid HTTP response head came back.
    Http {
        /// `host:port` as given.
        target: String,
        /// What hyper said.
        source: hyper::Error,
        /// A hint at the likely cause.
        hint: &'static str,
    },
    /// The response is not an event stream.
    NotEventStream {
        /// Its status.
        status: StatusCode,
        /// Its `Content-Type`, if any.
        content_type: Option<String>,
        /// The start of its body, for the message.
        body_start: String,
    },
    /// The stream broke: cut mid-event, or the connection lost mid-body.
    Cut(String),
    /// Writing the output failed.
    Output(io::Error),
}

impl Error {
    /// The process exit code for this failure; see [`exit`].
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Connect { .. } | Self::Timeout { .. } | Self::Http { .. } => exit::CONNECT,
            Self::Tls { .. } => exit::TLS,
            Self::NotEventStream { .. } => exit::NOT_SSE,
            Self::Cut(_) => exit::CUT,
            Self::Output(_) => exit::OUTPUT,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => f.write_str(message),
            Self::Connect { target, source } => write!(
                f,
                "cannot connect to {target}: {source} (is the server running, and the host and port right?)"
            ),
            Self::Timeout {
                target,
                what,
                after,
            } => write!(
                f,
                "{target}: no {what} within {} (raise --timeout if the server is just slow)",
                crate::duration::show(*after)
            ),
            Self::Tls { target, source } => write!(
                f,
                "TLS handshake with {target} failed: {source} (does the port speak TLS? use http:// for a plain one)"
            ),
            Self::Http {
                target,
                source,
                hint,
            } => write!(f, "{target}: no valid HTTP response: {source}{hint}"),
            Self::NotEventStream {
                status,
                content_type,
                body_start,
            } => {
                write!(f, "not an event stream: the server answered {status}")?;
                match content_type {
                    Some(content_type) => write!(f, " with Content-Type {content_type:?}")?,
                    None => f.write_str(" with no Content-Type")?,
                }
                if status.is_redirection() {
                    f.write_str(" (ssekit follows no redirects: use the URL it points to)")?;
                } else if *status == StatusCode::OK {
                    f.write_str(" (an event stream is `text/event-stream`)")?;
                }
                if !body_start.is_empty() {
                    write!(f, "; the body starts {body_start:?}")?;
                }
                Ok(())
            }
            Self::Cut(message) => f.write_str(message),
            Self::Output(source) => write!(f, "cannot write the output: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source, .. } | Self::Tls { source, .. } | Self::Output(source) => {
                Some(source)
            }
            Self::Http { source, .. } => Some(source),
            _ => None,
        }
    }
}
