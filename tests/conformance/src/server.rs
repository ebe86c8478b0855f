//! What every adapter's server does the same way: the announcement, the
//! termination signals, the compression predicate and the bound on a
//! graceful shutdown.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tower_http::compression::predicate::Predicate;

/// How long a graceful shutdown may wait for connections to finish once
/// the streams were told to end; the process exits 0 after it either way,
/// well within the contract's 5 s.
pub(crate) const DRAIN_LIMIT: Duration = Duration::from_secs(4);

/// `GET /browser`: the page (`text/html`) through which the browser suite
/// drives a real `EventSource` on the server's own origin.
pub(crate) const BROWSER_PAGE: &str = include_str!("browser.html");

/// Prints the one line that says the server accepts connections.
pub(crate) fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on http://{addr}")?;
    out.flush()
}

/// Resolves on the first SIGTERM or SIGINT. The handlers are installed
/// when this is called (inside a tokio runtime), so call it before
/// [`announce`]: a signal sent as soon as the line is read is not missed.
pub(crate) fn termination() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// tower-http's compression predicate that says yes to every response, so
/// that only the SSE head rules keep event streams uncompressed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Always;

impl Predicate for Always {
    fn should_compress<B>(&self, _: &http::Response<B>) -> bool
    where
        B: http_body::Body,
    {
        true
    }
}
