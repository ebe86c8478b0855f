use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ssekit::stats::Stats;
use ssekit::{Shutdown, SseConfig};
use tower_layer::Layer;

use crate::SseService;

/// How long a stream that is in the middle of an event when shutdown comes
/// may go on to finish it, by default.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Applies the SSE rules to every `text/event-stream` response of the
/// service it wraps. See the [crate docs](crate).
///
/// Cloning shares the shutdown handle and the stats.
#[derive(Clone)]
pub struct SseLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) streams: SseConfig,
    pub(crate) shutdown_grace: Duration,
}

impl Default for SseLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SseLayer {
    /// A layer with heartbeats every 15 s of silence, a shutdown handle and
    /// stats of its own.
    #[must_use]
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                streams: SseConfig::new(),
                shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            }),
        }
    }

    /// Sets the heartbeat interval; `None` turns the layer's heartbeats off.
    /// A stream made by an ssekit adapter that chose its own interval keeps
    /// it.
    #[must_use]
    pub fn heartbeat(mut self, interval: impl Into<Option<Duration>>) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.streams = config.streams.clone().heartbeat(interval);
        self
    }

    /// Uses `shutdown` (shared with other layers or adapters) instead of the
    /// layer's own handle.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        let config = Arc::make_mut(&mut self.config);
        config.streams = config.streams.clone().shutdown(shutdown);
        self
    }

    /// How long a body that ssekit did not make may take, once shutdown is
    /// triggered, to finish the event it is in the middle of (500 ms by
    /// default). Past that it ends where it is; the browser drops the
    /// unfinished event and gets it again when it resumes.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        Arc::make_mut(&mut self.config).shutdown_grace = grace;
        self
    }

    /// The handle that ends every stream the layer serves.
    #[must_use]
    pub fn shutdown_handle(&self) -> Shutdown {
        self.config.streams.shutdown_handle()
    }

    /// The layer's counters.
    ///
    /// ```
    /// let layer = ssekit_tower::SseLayer::new();
    /// assert_eq!(layer.stats().snapshot().active, 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Arc<Stats> {
        self.config.streams.stats()
    }
}

impl<S> Layer<S> for SseLayer {
    type Service = SseService<S>;

    fn layer(&self, inner: S) -> SseService<S> {
        SseService::new(inner, Arc::clone(&self.config))
    }
}

impl fmt::Debug for SseLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseLayer")
            .field("streams", &self.config.streams)
            .field("shutdown_grace", &self.config.shutdown_grace)
            .finish_non_exhaustive()
    }
}
