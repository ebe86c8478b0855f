//! Shutdown in the smaller cases: over HTTP/2, without the layer, and for
//! streams opened after the trigger.

use ssekit_test_support as common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::sse as axum_sse;
use axum::routing::get;
use futures_util::{Stream, StreamExt, stream};
use ssekit_axum::{Event, Farewell, Shutdown, Sse, SseLayer};

use common::{Client, Reader, SECOND, TestServer, message};

fn one_then_idle() -> impl Stream<Item = Event> + Send + 'static {
    stream::iter([Event::default().data("first")]).chain(stream::pending())
}

fn axum_one_then_idle() -> impl Stream<Item = Result<axum_sse::Event, Infallible>> + Send + 'static
{
    stream::iter([Ok(axum_sse::Event::default().data("first"))]).chain(stream::pending())
}

fn farewell() -> Farewell {
    Farewell::new()
        .event(Event::default().event("bye").unwrap().data("restarting"))
        .retry(Duration::from_millis(500))
}

const FAREWELL: &[u8] = b"event: bye\ndata: restarting\n\nretry: 500\n\n";

#[tokio::test]
async fn graceful_shutdown_ends_http2_streams_cleanly() {
    let layer = SseLayer::new();
    let shutdown = layer.shutdown_handle();
    let app = Router::new()
        .route("/ssekit", get(|| async { Sse::new(one_then_idle()) }))
        .route(
            "/axum",
            get(|| async { axum_sse::Sse::new(axum_one_then_idle()) }),
        )
        .layer(layer);
    let mut server = TestServer::start_with(app, move |signal| {
        shutdown.trigger_after(signal, farewell())
    })
    .await;

    // Ten streams on one HTTP/2 connection.
    let mut client = Client::h2(server.addr).await;
    let mut readers = Vec::new();
    for n in 0..10 {
        let path = if n % 2 == 0 { "/ssekit" } else { "/axum" };
        let mut reader = Reader::new(client.get(path).await);
        assert_eq!(reader.next_item(SECOND).await.0, message("first"));
        readers.push(reader);
    }
    let triggered_at = Instant::now();
    server.trigger();
    for reader in &mut readers {
        reader.read_to_end(SECOND).await.expect("a clean end");
        assert!(
            reader.raw.ends_with(FAREWELL),
            "{:?}",
            String::from_utf8_lossy(&reader.raw)
        );
    }
    assert!(triggered_at.elapsed() < SECOND);
    assert!(
        server.finished_within(SECOND).await,
        "axum::serve did not finish"
    );
}

#[tokio::test]
async fn sse_with_shutdown_ends_on_the_trigger_without_the_layer() {
    let shutdown = Shutdown::new();
    let handle = shutdown.clone();
    let app = Router::new().route(
        "/ssekit",
        get(move || {
            let shutdown = handle.clone();
            async move { Sse::new(one_then_idle()).with_shutdown(&shutdown) }
        }),
    );
    let mut server = TestServer::start_with(app, move |signal| {
        shutdown.trigger_after(signal, farewell())
    })
    .await;
    let mut client = Client::h1(server.addr).await;
    let mut reader = Reader::new(client.get("/ssekit").await);
    assert_eq!(reader.next_item(SECOND).await.0, message("first"));
    server.trigger();
    reader.read_to_end(SECOND).await.expect("a clean end");
    let mut expected = b"data: first\n\n".to_vec();
    expected.extend_from_slice(FAREWELL);
    assert_eq!(reader.raw, expected);
    assert!(
        server.finished_within(SECOND).await,
        "axum::serve did not finish"
    );
}

#[tokio::test]
async fn streams_opened_after_the_trigger_end_at_once_with_the_farewell() {
    let layer = SseLayer::new();
    let shutdown = layer.shutdown_handle();
    let app = Router::new()
        .route("/ssekit", get(|| async { Sse::new(one_then_idle()) }))
        .route(
            "/axum",
            get(|| async { axum_sse::Sse::new(axum_one_then_idle()) }),
        )
        .layer(layer);
    // The layer's handle is triggered, the server itself goes on.
    shutdown.trigger_with(farewell());
    let server = TestServer::start(app).await;
    for path in ["/ssekit", "/axum"] {
        let mut client = Client::h1(server.addr).await;
        let mut reader = Reader::new(client.get(path).await);
        reader.read_to_end(SECOND).await.expect("a clean end");
        assert_eq!(reader.raw, FAREWELL, "{path}");
    }
    assert_eq!(shutdown.open_streams(), 0);
}
