//! Socket options for connections that carry event streams.
//!
//! Two things a long-lived stream needs from its TCP connection. Set them
//! on the listening socket ([`tuned_listener`]; `ssekit_actix::tuned` and
//! `ssekit_warp::tuned` do that), whose accepted connections inherit them
//! on Linux, or on each accepted connection ([`tune`]; `ssekit_axum::tuned`
//! and `ssekit_actix::on_connect` do that):
//!
//! - **`TCP_NODELAY`**: an event leaves when it is written, not after
//!   Nagle's algorithm waited for more.
//! - **`TCP_USER_TIMEOUT`** (Linux): a connection whose peer acknowledges
//!   nothing for [`DEFAULT_USER_TIMEOUT`] is closed by the kernel. That
//!   reclaims a client that vanished without a FIN (otherwise noticed only
//!   after about 15 minutes of retransmissions) and a client that keeps its
//!   connection open but never reads: its window stays shut, the server's
//!   buffers fill, the stream is never polled again, and without this it
//!   would hold its connection and its hub subscription for as long as it
//!   likes. Linux counts the time its send buffer could not move for a
//!   shut window, so a client that stays backed up for the whole timeout
//!   is cut too: by then it is far past any hub lag limit, and its
//!   `EventSource` reconnects and resumes by `Last-Event-ID`. A client that
//!   catches up now and then, however slow, is not affected (both are
//!   tested in `tests/tcp.rs`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
//! let (accepted, _) = listener.accept().await?;
//! ssekit::tcp::tune(&accepted)?;
//! assert!(accepted.nodelay()?);
//! # drop(client); Ok(()) }
//! ```

use std::io;
#[cfg(unix)]
use std::os::fd::AsFd as AsSocket;
#[cfg(windows)]
use std::os::windows::io::AsSocket;
use std::time::Duration;

use socket2::SockRef;

/// How long a peer may leave sent data unacknowledged before the kernel
/// closes the connection: four heartbeats at the default interval, so a
/// live client on a poor link is never cut, and a dead or stalled one does
/// not outlive a minute.
pub const DEFAULT_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// Sets `TCP_NODELAY`, and on Linux `TCP_USER_TIMEOUT` to
/// [`DEFAULT_USER_TIMEOUT`], on a connected socket (anything with a file
/// descriptor, or on Windows a socket handle).
///
/// # Errors
///
/// When the system refuses an option; the connection still works, without
/// what that option gives.
pub fn tune(socket: &impl AsSocket) -> io::Result<()> {
    tune_with(socket, DEFAULT_USER_TIMEOUT)
}

/// As [`tune`], with `user_timeout` instead of the default (Linux only;
/// elsewhere only `TCP_NODELAY` is set).
///
/// # Errors
///
/// As [`tune`].
pub fn tune_with(socket: &impl AsSocket, user_timeout: Duration) -> io::Result<()> {
    let socket = SockRef::from(socket);
    socket.set_tcp_nodelay(true)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(Some(user_timeout))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = user_timeout;
    Ok(())
}

/// Sets the options of [`tune`] on a listening socket and hands it back.
/// Linux copies both to every connection the listener accepts (a test
/// checks it), so nothing is done per connection. Where a system does not
/// copy an option, [`tune`] each accepted connection instead.
///
/// A refusal is logged, not returned: the server works without the
/// options, so it is no reason not to start.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
/// let listener = ssekit::tcp::tuned_listener(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
/// let client = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (accepted, _) = listener.accept().await?;
/// # #[cfg(target_os = "linux")]
/// assert!(accepted.nodelay()?);
/// # drop(client); Ok(()) }
/// ```
pub fn tuned_listener<L: AsSocket>(listener: L) -> L {
    if let Err(err) = tune(&listener) {
        tracing::warn!(%err, "could not tune the listener (TCP_NODELAY, TCP_USER_TIMEOUT)");
    }
    listener
}
