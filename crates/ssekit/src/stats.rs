//! Counters for event streams, shared by every stream that reports to them.
//!
//! The stream machine and the tower layer report to the same [`Stats`], so
//! one set of figures covers a whole server whichever way its streams were
//! made. Counting is one relaxed atomic add per frame, not per event.
//!
//! ```
//! use std::sync::Arc;
//! use futures_util::{StreamExt, stream};
//! use ssekit::{Event, SseStream, stats::Stats};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let stats = Arc::new(Stats::default());
//! let body = SseStream::new(stream::iter([Event::default().data("a"), Event::default().data("b")]))
//!     .with_stats(&stats);
//! assert_eq!(stats.snapshot().active, 1);
//! let _frames: Vec<_> = body.collect().await;
//! let seen = stats.snapshot();
//! assert_eq!((seen.active, seen.events, seen.stream_ended), (0, 2, 1));
//! # });
//! ```

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::DisconnectReason;

/// Live counters. Share them with `Arc`; read them with
/// [`snapshot`](Self::snapshot).
#[derive(Debug, Default)]
pub struct Stats {
    active: AtomicU64,
    opened: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    heartbeats: AtomicU64,
    client_gone: AtomicU64,
    stream_ended: AtomicU64,
    shutdown: AtomicU64,
    errors: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Streams open now.
    pub active: u64,
    /// Streams opened in all.
    pub opened: u64,
    /// Events sent (whole event blocks, heartbeats not included).
    pub events: u64,
    /// Bytes sent, heartbeats included.
    pub bytes: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// Streams whose client went away.
    pub client_gone: u64,
    /// Streams whose source ended.
    pub stream_ended: u64,
    /// Streams ended by a shutdown.
    pub shutdown: u64,
    /// Streams whose source failed.
    pub errors: u64,
}

impl Stats {
    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            active: self.active.load(Relaxed),
            opened: self.opened.load(Relaxed),
            events: self.events.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            heartbeats: self.heartbeats.load(Relaxed),
            client_gone: self.client_gone.load(Relaxed),
            stream_ended: self.stream_ended.load(Relaxed),
            shutdown: self.shutdown.load(Relaxed),
            errors: self.errors.load(Relaxed),
        }
    }

    /// Records a stream that opened. Pair it with one [`closed`](Self::closed).
    pub fn opened(&self) {
        self.opened.fetch_add(1, Relaxed);
        self.active.fetch_add(1, Relaxed);
    }

    /// Records a frame of `events` events in `bytes` bytes.
    pub fn sent(&self, events: u64, bytes: usize) {
        if events > 0 {
            self.events.fetch_add(events, Relaxed);
        }
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// Records a heartbeat of `bytes` bytes.
    pub fn heartbeat(&self, bytes: usize) {
        self.heartbeats.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// Records a stream that closed, and why.
    pub fn closed(&self, reason: &DisconnectReason) {
        self.active.fetch_sub(1, Relaxed);
        let counter = match reason {
            DisconnectReason::ClientGone => &self.client_gone,
            DisconnectReason::StreamEnded => &self.stream_ended,
            DisconnectReason::Shutdown => &self.shutdown,
            DisconnectReason::Error(_) => &self.errors,
        };
        counter.fetch_add(1, Relaxed);
    }
}
