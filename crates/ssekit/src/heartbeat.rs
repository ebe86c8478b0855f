//! The heartbeat: one clock per interval, shared by every stream.
//!
//! A heartbeat is a comment block, [`HEARTBEAT`], which every client
//! ignores and which keeps proxies and load balancers from closing an idle
//! connection. It is due after one interval with nothing sent, counted from
//! the stream's start (the response head counts as sent). Sending a frame
//! only records the time.
//!
//! The streams of one tokio runtime that share an interval share one clock:
//! one task that ticks eight times an interval and wakes the streams due at
//! each tick. A stream holds no timer of its own (a tokio `Sleep` is 96
//! bytes on the heap, and an entry in the runtime's timer wheel, for every
//! idle connection), and a heartbeat is at most an eighth of an interval
//! late, never early: never before an interval has passed since the last
//! thing sent. An idle stream's heartbeats fall on the clock's ticks, one
//! interval apart (rounded up to a whole tick, where a tick does not divide
//! the interval). A busy stream costs no clock work at all: it is woken
//! once per interval, sees that it sent something meanwhile, and waits for
//! its new due tick.
//!
//! The stream machine uses it, and so does the tower layer for bodies it
//! did not make; each places heartbeats only between events.
//!
//! ```
//! use std::time::Duration;
//! use ssekit::heartbeat::Heartbeat;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let mut heartbeat = Heartbeat::new(Some(Duration::from_secs(15)));
//! let started = tokio::time::Instant::now();
//! std::future::poll_fn(|cx| heartbeat.poll_due(cx)).await;
//! assert_eq!(started.elapsed(), Duration::from_secs(15));
//! # });
//! ```

#[cfg(not(feature = "tokio"))]
use std::task::{Context, Poll};
#[cfg(not(feature = "tokio"))]
use std::time::Duration;

#[cfg(feature = "tokio")]
pub use clock::Heartbeat;

/// The heartbeat's bytes: an empty comment line and the blank line that
/// ends the block.
pub const HEARTBEAT: &[u8] = b":\n\n";

#[cfg(feature = "tokio")]
mod clock;

/// One stream's heartbeat timer; without the `tokio` feature it never fires.
#[cfg(not(feature = "tokio"))]
#[derive(Debug)]
pub struct Heartbeat;

#[cfg(not(feature = "tokio"))]
impl Heartbeat {
    /// Heartbeats need the `tokio` feature: this one never fires.
    #[must_use]
    pub fn new(interval: Option<Duration>) -> Self {
        if interval.is_some() {
            tracing::debug!("the `tokio` feature is off: SSE heartbeats are off");
        }
        Self
    }

    /// Always `None`: heartbeats are off without the `tokio` feature.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        None
    }

    /// Still never fires.
    #[must_use]
    pub fn with_interval(&self, interval: Option<Duration>) -> Self {
        Self::new(interval)
    }

    /// Does nothing.
    pub fn sent(&mut self) {}

    /// Never ready.
    pub fn poll_due(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}
