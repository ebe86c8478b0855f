//! The backplane's counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Live counters of a [`RedisBackplane`](crate::RedisBackplane), shared
/// with it: take this handle before giving the backplane to the hub, and
/// read it with [`snapshot`](Self::snapshot) whenever you like.
///
/// ```
/// let backplane = ssekit_redis::RedisBackplane::new("redis://127.0.0.1:6379")?;
/// let stats = backplane.stats();
/// let _hub = ssekit::hub::Hub::builder().backplane(backplane);
/// assert_eq!(stats.snapshot().published, 0);
/// # Ok::<(), ssekit_redis::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RedisStats(pub(crate) Arc<Counters>);

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_errors: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) connection_errors: AtomicU64,
    pub(crate) gaps: AtomicU64,
    pub(crate) watched: AtomicUsize,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

impl RedisStats {
    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        Snapshot {
            published: c.published.load(Relaxed),
            publish_errors: c.publish_errors.load(Relaxed),
            delivered: c.delivered.load(Relaxed),
            malformed: c.malformed.load(Relaxed),
            reconnects: c.reconnects.load(Relaxed),
            connection_errors: c.connection_errors.load(Relaxed),
            gaps: c.gaps.load(Relaxed),
            watched: c.watched.load(Relaxed),
        }
    }
}

/// A [`RedisStats`] reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Events appended to a stream (`XADD` answered with an id).
    pub published: u64,
    /// Publishes that failed and were reported to the caller.
    pub publish_errors: u64,
    /// Stream entries the reader handed to the hub.
    pub delivered: u64,
    /// Stream entries the reader skipped because they were not written by
    /// a backplane (no `event` field, or an id that is not `ms-seq`).
    pub malformed: u64,
    /// Times the reader got its connection back after losing it.
    pub reconnects: u64,
    /// Times the reader's connection failed or could not be made.
    pub connection_errors: u64,
    /// Gap notices sent: a stream no longer held entries the reader had
    /// not read yet.
    pub gaps: u64,
    /// Topics being read now.
    pub watched: usize,
}
