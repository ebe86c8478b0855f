//! A compression layer placed inside `SseLayer` (the wrong order): the
//! layer finds an event stream that is already compressed. It must pass it
//! on untouched, since a heartbeat written into gzip bytes would corrupt
//! them, and say so through `tracing` once, not once per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::stream;
use ssekit_test_support::compression::{always, gunzip};
use ssekit_test_support::{Client, TestServer, body_bytes};
use ssekit_tower::SseLayer;
use tower_http::compression::CompressionLayer;
use tracing::{Level, Subscriber, span};

/// Counts the warnings logged on this thread.
struct CountWarnings(Arc<AtomicUsize>);

impl Subscriber for CountWarnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

// A current-thread runtime, so the server's tasks log on the thread whose
// subscriber counts them.
#[tokio::test]
async fn a_compressed_stream_passes_through_intact_with_one_warning() {
    let warnings = Arc::new(AtomicUsize::new(0));
    let _counting = tracing::subscriber::set_default(CountWarnings(Arc::clone(&warnings)));
    let app = Router::new()
        .route(
            "/events",
            get(|| async {
                let events = ["a", "b", "c"]
                    .map(|d| Ok::<_, std::convert::Infallible>(Event::default().data(d)));
                Sse::new(stream::iter(events))
            }),
        )
        .layer(CompressionLayer::new().compress_when(always))
        .layer(SseLayer::new().heartbeat(Duration::from_millis(10)));
    let server = TestServer::start(app).await;

    for _ in 0..3 {
        let mut client = Client::h1(server.addr).await;
        let response = client
            .get_with("/events", &[("accept-encoding", b"gzip")])
            .await;
        assert_eq!(response.headers()["content-encoding"], "gzip");
        assert_eq!(
            gunzip(&body_bytes(response).await),
            "data: a\n\ndata: b\n\ndata: c\n\n"
        );
    }
    assert_eq!(warnings.load(Ordering::SeqCst), 1);
}
