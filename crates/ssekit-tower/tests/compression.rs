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
use std::io::Read as _;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::stream;
use http::{Extensions, HeaderMap, StatusCode, Version, header};
use ssekit_tower::SseLayer;
use tower_http::compression::CompressionLayer;

use common::{Client, Reader, SECOND, TestServer, assert_sse_head, body_bytes, message};

/// Compresses everything it can, as SCENARIOS.md's conformance server does.
fn always(_: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    true
}

const TICK: Duration = Duration::from_millis(100);

/// `/ticks`: axum's `Sse`, an event every 100 ms whose data is the instant
/// it was produced, in µs since `t0`. `/plain`: a compressible text.
fn routes(t0: Instant) -> Router {
    Router::new()
        .route(
            "/ticks",
            get(move || async move {
                Sse::new(stream::unfold(1u32, move |id| async move {
                    tokio::time::sleep(TICK).await;
                    let produced = t0.elapsed().as_micros().to_string();
                    let event = Event::default().id(id.to_string()).data(produced);
                    Some((Ok::<_, Infallible>(event), id + 1))
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
    assert_eq!(
        gunzip(&body_bytes(response).await),
        "hello, compression! ".repeat(50)
    );
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
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

async fn check_unfold_sse_ends_cleanly(app: Router) {
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
