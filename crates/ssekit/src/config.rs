use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::stats::Stats;
use crate::{Duties, Shutdown};

/// The settings that an app's event streams share: the heartbeat interval,
/// the shutdown handle that ends them all, and the stats they report to.
///
/// Each adapter takes it in its framework's way (the tower layer holds one,
/// actix-web reads it from `app_data`, warp replies take it), and gives each
/// stream its [`duties`](Self::duties).
///
/// Cloning shares the shutdown handle and the stats. A clone is one
/// pointer, so a handler that captures one (warp's filters, which a server
/// may keep for a whole connection) stays small.
///
/// ```
/// use std::time::Duration;
/// use futures_util::stream;
/// use ssekit::{Event, SseConfig, SseStream};
///
/// let config = SseConfig::new().heartbeat(Duration::from_secs(20));
/// let body = SseStream::new(stream::iter([Event::default().data("x")]))
///     .with_duties(config.duties());
/// assert_eq!(config.stats().snapshot().active, 1);
/// # drop(body);
/// ```
#[derive(Clone)]
pub struct SseConfig {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    heartbeat: Option<Duration>,
    shutdown: Shutdown,
    stats: Arc<Stats>,
}

impl Default for SseConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SseConfig {
    /// Heartbeats every [`DEFAULT_HEARTBEAT`](crate::DEFAULT_HEARTBEAT) of
    /// silence, and a shutdown handle and stats of its own.
    #[must_use]
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                heartbeat: Some(crate::DEFAULT_HEARTBEAT),
                shutdown: Shutdown::new(),
                stats: Arc::new(Stats::default()),
            }),
        }
    }

    /// Sets the heartbeat interval (`None`: off). A stream that chose its
    /// own interval keeps it.
    #[must_use]
    pub fn heartbeat(mut self, interval: impl Into<Option<Duration>>) -> Self {
        Arc::make_mut(&mut self.settings).heartbeat = interval.into();
        self
    }

    /// Uses `shutdown`, shared with other parts of the server, instead of a
    /// handle of its own.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        Arc::make_mut(&mut self.settings).shutdown = shutdown;
        self
    }

    /// The heartbeat interval, if on.
    #[must_use]
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.settings.heartbeat
    }

    /// The handle that ends every stream given these settings.
    #[must_use]
    pub fn shutdown_handle(&self) -> Shutdown {
        self.settings.shutdown.clone()
    }

    /// The streams' counters.
    #[must_use]
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.settings.stats)
    }

    /// What one stream takes on from these settings.
    #[must_use]
    pub fn duties(&self) -> Duties {
        let settings = &*self.settings;
        Duties::new()
            .heartbeat(settings.heartbeat)
            .shutdown(settings.shutdown.clone())
            .stats(Arc::clone(&settings.stats))
    }
}

impl fmt::Debug for SseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseConfig")
            .field("heartbeat", &self.settings.heartbeat)
            .field("shutdown", &self.settings.shutdown)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_is_one_pointer_and_a_changed_clone_keeps_what_it_shares() {
        assert_eq!(
            std::mem::size_of::<SseConfig>(),
            std::mem::size_of::<usize>()
        );
        let config = SseConfig::new();
        let quiet = config.clone().heartbeat(None);
        assert_eq!(config.heartbeat_interval(), Some(crate::DEFAULT_HEARTBEAT));
        assert_eq!(quiet.heartbeat_interval(), None);
        assert!(Arc::ptr_eq(&config.stats(), &quiet.stats()));
    }
}
