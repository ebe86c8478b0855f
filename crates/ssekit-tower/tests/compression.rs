//! Event streams behind tower-http's `CompressionLayer` and `SseLayer`:
//! never compressed, never held back, never polled past their end, while
//! other responses are still compressed.
//!
//! The premise of the "polled past its end" tests, as seen with
//! tower-http 0.7.1 and no `SseLayer`: with the default predicate, axum's
//! `Sse` over an unfused `unfold` ends cleanly, since `DefaultPredicate`
//! excludes `text/event-stream` and the uncompressed path does not poll
//! past the end. With a predicate that always compresses, the gzip path
//! polls the body once more after its end: the server's connection task
//! panics ("Unfold must not be polled after it returned
//! `Poll::Ready(None)`") before even the head is flushed, and the client
//! gets `hyper::Error(IncompleteMessage)`. A non-SSE streamed body over an
//! `unfold` fails the same way with the default predicate.

use ssekit_test_support as common;

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::{StreamExt as _, stream};
use http::header;
use ssekit_tower::SseLayer;
use tower_http::compression::CompressionLayer;

use common::compression::{
    always, check_uncompressed_and_prompt, check_unfold_sse_ends_cleanly, gunzip, ticks,
    ticks_and_plain,
};
use common::{Client, TestServer, body_bytes};

/// `/ticks`: axum's `Sse`, an event every 100 ms whose data is the instant
/// it was produced, in µs since `t0`. `/plain`: a compressible text.
fn routes(t0: Instant) -> Router {
    ticks_and_plain(get(move || async move {
        Sse::new(ticks(t0).map(|(id, produced)| {
            Ok::<_, Infallible>(Event::default().id(id.to_string()).data(produced))
        }))
    }))
}

#[tokio::test]
async fn axum_sse_is_not_compressed_and_flows_behind_layer_and_always_compression() {
    let t0 = Instant::now();
    let app = routes(t0)
        .layer(SseLayer::new())
        .layer(CompressionLayer::new().compress_when(always));
    check_uncompressed_and_prompt(app, t0).await;
}

#[tokio::test]
async fn axum_sse_is_not_compressed_and_flows_behind_layer_and_default_compression() {
    let t0 = Instant::now();
    let app = routes(t0)
        .layer(SseLayer::new())
        .layer(CompressionLayer::new());
    check_uncompressed_and_prompt(app, t0).await;
}

/// `/three`: axum's `Sse` over an unfused `unfold`, which panics if it is
/// polled after it returned `None`. `/streamed`: a non-SSE body over one.
fn unfold_app() -> Router {
    Router::new()
        .route(
            "/three",
            get(|| async {
                Sse::new(stream::unfold(0u32, |n| async move {
                    (n < 3).then(|| {
                        (
                            Ok::<_, Infallible>(Event::default().data(n.to_string())),
                            n + 1,
                        )
                    })
                }))
            }),
        )
        .route(
            "/streamed",
            get(|| async {
                Body::from_stream(stream::unfold(0u32, |n| async move {
                    (n < 3).then(|| {
                        (
                            Ok::<_, Infallible>(format!("chunk {n}. ").repeat(20)),
                            n + 1,
                        )
                    })
                }))
            }),
        )
}

#[tokio::test]
async fn axum_sse_over_unfold_ends_cleanly_behind_layer_and_default_compression() {
    check_unfold_sse_ends_cleanly(
        unfold_app()
            .layer(SseLayer::new())
            .layer(CompressionLayer::new()),
    )
    .await;
}

#[tokio::test]
async fn axum_sse_over_unfold_ends_cleanly_behind_layer_and_always_compression() {
    let compression = CompressionLayer::new().compress_when(always);
    check_unfold_sse_ends_cleanly(unfold_app().layer(SseLayer::new()).layer(compression)).await;
}

#[tokio::test]
async fn non_sse_body_over_unfold_is_compressed_whole_behind_layer_and_compression() {
    // Compressed, so the gzip path polls past the end: the layer's guard
    // keeps the unfold from being polled again.
    let server = TestServer::start(
        unfold_app()
            .layer(SseLayer::new())
            .layer(CompressionLayer::new()),
    )
    .await;
    let mut client = Client::h1(server.addr).await;
    for _ in 0..2 {
        let response = client
            .get_with("/streamed", &[("accept-encoding", b"gzip")])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let expected: String = (0..3).map(|n| format!("chunk {n}. ").repeat(20)).collect();
        assert_eq!(gunzip(&body_bytes(response).await), expected);
    }
}
