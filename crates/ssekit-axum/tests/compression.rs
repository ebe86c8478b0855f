//! `ssekit_axum::Sse` behind tower-http's `CompressionLayer`: never
//! compressed, never held back, and never polled past its end.

use ssekit_test_support as common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use futures_util::stream;
use http::{Extensions, HeaderMap, StatusCode, Version, header};
use http_body_util::BodyExt;
use ssekit_axum::{Event, Sse, SseLayer};
use tower_http::compression::CompressionLayer;

use common::{Client, Reader, SECOND, TestServer, assert_sse_head, body_bytes, message};

/// Compresses everything it can, as SCENARIOS.md's conformance server does.
fn always(_: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    true
}

const TICK: Duration = Duration::from_millis(100);

/// `/ticks`: an event every 100 ms whose data is the instant it was
/// produced, in ms since `t0`. `/plain`: a compressible text response.
fn routes(t0: Instant) -> Router {
    Router::new()
        .route(
            "/ticks",
            get(move || async move {
                Sse::new(stream::unfold(1u32, move |id| async move {
                    tokio::time::sleep(TICK).await;
                    let produced = t0.elapsed().as_micros().to_string();
                    let event = Event::default().id(id.to_string()).unwrap().data(produced);
                    Some((event, id + 1))
                }))
            }),
        )
        .route(
            "/plain",
            get(|| async { "hello, compression! ".repeat(50) }),
        )
}

async fn check_uncompressed_and_prompt(app: Router, t0: Instant) {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;

    let asked = Instant::now();
    let response = client
        .get_with("/ticks", &[("accept-encoding", b"gzip, br")])
        .await;
    assert_sse_head(&response);
    let mut reader = Reader::new(response);
    for id in 1..=3 {
        let (event, at) = reader.next_event(SECOND).await;
        assert_eq!(event.last_event_id, id.to_string());
        let produced = Duration::from_micros(event.data.parse().unwrap());
        let late = at.duration_since(t0) - produced;
        assert!(
            late < Duration::from_millis(50),
            "event {id} arrived {late:?} after it was produced"
        );
        if id == 1 {
            // Well before a buffer of five events could have filled.
            assert!(
                at - asked < 4 * TICK,
                "the first event took {:?}",
                at - asked
            );
        }
    }
    drop(reader);

    // The compression layer is active: a plain response is gzipped.
    let mut client = Client::h1(server.addr).await;
    let response = client
        .get_with("/plain", &[("accept-encoding", b"gzip")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let body = body_bytes(response).await;
    assert_eq!(&body[..2], [0x1f, 0x8b], "not a gzip stream");
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

async fn check_unfold_ends_cleanly(app: Router) {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    for _ in 0..2 {
        // The second round trip on the same connection shows that the
        // server's connection task survived the end of the first body.
        let response = client
            .get_with("/three", &[("accept-encoding", b"gzip, br")])
            .await;
        assert_sse_head(&response);
        let mut reader = Reader::new(response);
        reader
            .read_to_end(SECOND)
            .await
            .expect("a clean end of the body");
        assert_eq!(reader.raw, b"data: 0\n\ndata: 1\n\ndata: 2\n\n");
        assert_eq!(
            reader.take_items(),
            [message("0"), message("1"), message("2")]
        );
    }
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_layer_and_default_compression() {
    check_unfold_ends_cleanly(
        unfold_app()
            .layer(SseLayer::new())
            .layer(CompressionLayer::new()),
    )
    .await;
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_layer_and_always_compression() {
    let compression = CompressionLayer::new().compress_when(always);
    check_unfold_ends_cleanly(unfold_app().layer(SseLayer::new()).layer(compression)).await;
}

#[tokio::test]
async fn sse_over_unfold_ends_cleanly_behind_always_compression_without_layer() {
    let compression = CompressionLayer::new().compress_when(always);
    check_unfold_ends_cleanly(unfold_app().layer(compression)).await;
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
