//! The heartbeat timer: one per stream, re-armed only when it fires.
//!
//! A heartbeat is a comment block, [`HEARTBEAT`], which every client
//! ignores and which keeps proxies and load balancers from closing an idle
//! connection. It is due after one interval with nothing sent, counted from
//! the stream's start (the response head counts as sent). Sending a frame
//! only records the time; the timer moves when it fires, not on every
//! event, so a busy stream costs no timer work at all.
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

#[cfg(feature = "tokio")]
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The heartbeat's bytes: an empty comment line and the blank line that
/// ends the block.
pub const HEARTBEAT: &[u8] = b":\n\n";

/// One stream's heartbeat timer.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct Heartbeat {
    interval: Option<Duration>,
    last_sent: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

#[cfg(feature = "tokio")]
impl Heartbeat {
    /// A heartbeat every `interval` of silence (`None`: never), counted
    /// from now.
    #[must_use]
    pub fn new(interval: Option<Duration>) -> Self {
        Self {
            interval,
            last_sent: tokio::time::Instant::now(),
            timer: None,
        }
    }

    /// The interval, if heartbeats are on.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The same heartbeat, counted from the same instant, at another
    /// interval. Meant for before the first poll: a timer already armed is
    /// dropped and armed again.
    #[must_use]
    pub fn with_interval(&self, interval: Option<Duration>) -> Self {
        Self {
            interval,
            last_sent: self.last_sent,
            timer: None,
        }
    }

    /// Records that something was sent now, which puts the next heartbeat
    /// one interval away.
    pub fn sent(&mut self) {
        if self.interval.is_some() {
            self.last_sent = tokio::time::Instant::now();
        }
    }

    /// Ready when a heartbeat is due; the caller then sends [`HEARTBEAT`].
    /// Being ready counts as sending one.
    ///
    /// The timer is re-armed only when it fires: if something was sent since
    /// it was armed, it is moved to one interval after that instead of being
    /// reset on every frame.
    pub fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        use std::future::Future as _;

        let Some(interval) = self.interval else {
            return Poll::Pending;
        };
        let timer = match &mut self.timer {
            Some(timer) => timer,
            None => {
                // Polled outside a tokio runtime (an unusual executor), a
                // timer would panic; such a stream goes without heartbeats.
                if tokio::runtime::Handle::try_current().is_err() {
                    tracing::warn!("no tokio runtime: SSE heartbeats are off for this stream");
                    self.interval = None;
                    return Poll::Pending;
                }
                self.timer.insert(Box::pin(tokio::time::sleep_until(
                    self.last_sent + interval,
                )))
            }
        };
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = self.last_sent + interval;
            if due <= timer.deadline() {
                let now = tokio::time::Instant::now();
                self.last_sent = now;
                timer.as_mut().reset(now + interval);
                return Poll::Ready(());
            }
            timer.as_mut().reset(due);
        }
    }
}

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
