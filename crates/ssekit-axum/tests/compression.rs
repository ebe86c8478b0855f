//! `ssekit_axum::Sse` behind tower-http's `CompressionLayer`: never
//! compressed, never held back, and never polled past its end.

use ssekit_test_support as common;

use std::time::Instant;

use axum::Router;
use axum::routing::get;
use futures_util::{StreamExt as _, stream};
use http_body_util::BodyExt;
use ssekit_axum::{Event, Sse, SseLayer};
use tower_http::compression::CompressionLayer;

use common::compression::{
    always, check_uncompressed_and_prompt, check_unfold_sse_ends_cleanly, ticks, ticks_and_plain,
};
use common::{Client, TestServer};

/// `/ticks`: an event every 100 ms whose data is the instant it was
/// produced, in µs since `t0`. `/plain`: a compressible text response.
fn routes(t0: Instant) -> Router {
    ticks_and_plain(get(move || async move {
        Sse::new(
            ticks(t0)
                .map(|(id, produced)| Event::default().id(id.to_string()).unwrap().data(produced)),
        )
    }))
}

#[tokio::test]
async fn sse_is_not_compressed_and_flows_behind_an_always_compress_layer() {
    let t0 = Instant::now();
    let app = routes(t0)
        .layer(SseLayer::new())
        .layer(CompressionLayer::new().compress_when(always));
    check_uncompressed_and_prompt(app, t0).await;
}

#[tokio::test]
async fn sse_is_not_compressed_and_flows_behind_a_default_compress_layer() {
    let t0 = Instant::now();
    let app = routes(t0)
        .layer(SseLayer::new())
        .layer(CompressionLayer::new());
    check_uncompressed_and_prompt(app, t0).await;
}

#[tokio::test]
async fn sse_without_layer_is_not_compressed_behind_an_always_compress_layer() {
    // `Sse` sets `Content-Encoding: identity` by itself.
    let t0 = Instant::now();
    let app = routes(t0).layer(CompressionLayer::new().compress_when(always));
    check_uncompressed_and_prompt(app, t0).await;
}

/// Three events from an unfused `unfold`, which panics if it is polled
/// after it returned `None`.
fn unfold_app() -> Router {
    Router::new().route(
        "/three",
        get(|| async {
            Sse::new(stream::unfold(0u32, |n| async move {
                (n < 3).then(|| (Event::default().data(n.to_string()), n + 1))
            }))
        }),
    )
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_layer_and_default_compression() {
    check_unfold_sse_ends_cleanly(
        unfold_app()
            .layer(SseLayer::new())
            .layer(CompressionLayer::new()),
    )
    .await;
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_layer_and_always_compression() {
    let compression = CompressionLayer::new().compress_when(always);
    check_unfold_sse_ends_cleanly(unfold_app().layer(SseLayer::new()).layer(compression)).await;
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_always_compression_without_layer() {
    let compression = CompressionLayer::new().compress_when(always);
    check_unfold_sse_ends_cleanly(unfold_app().layer(compression)).await;
}

#[tokio::test]
async fn sse_body_bytes_are_exact_when_read_whole() {
    // The same body, collected in one go, for good measure.
    let server = TestServer::start(unfold_app().layer(SseLayer::new())).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/three").await;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}
