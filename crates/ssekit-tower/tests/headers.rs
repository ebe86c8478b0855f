//! The response head that `SseLayer` gives event streams it did not make
//! (axum's own `Sse`, a hand-written body), over HTTP/1.1 and HTTP/2
//! cleartext (prior knowledge).

use ssekit_test_support as common;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::{StreamExt, stream};
use http::{Response, Version, header};
use ssekit_tower::SseLayer;

use common::{Client, Reader, SECOND, TestServer, assert_sse_head, message};

fn app() -> Router {
    Router::new()
        .route(
            "/axum",
            get(|| async {
                let first = Ok::<_, Infallible>(Event::default().data("hi"));
                Sse::new(stream::iter([first]).chain(stream::pending()))
            }),
        )
        .route(
            "/hand-written",
            get(|| async {
                // A head that breaks every rule: parameters and odd case in
                // the media type, a length, caching allowed, and a
                // connection-specific header.
                let chunks =
                    stream::iter([Ok::<_, Infallible>("data: hi\n\n")]).chain(stream::pending());
                Response::builder()
                    .header(header::CONTENT_TYPE, "Text/Event-Stream; charset=utf-8")
                    .header(header::CONTENT_LENGTH, "1000")
                    .header(header::CACHE_CONTROL, "max-age=60")
                    .header(header::CONNECTION, "keep-alive")
                    .body(Body::from_stream(chunks))
                    .unwrap()
            }),
        )
        .layer(SseLayer::new())
}

async fn check(path: &str, version: Version) {
    let server = TestServer::start(app()).await;
    let mut client = Client::connect(server.addr, version).await;
    let response = client.get(path).await;
    assert_eq!(response.version(), version);
    assert_sse_head(&response);
    let mut reader = Reader::new(response);
    assert_eq!(reader.next_item(SECOND).await.0, message("hi"));
}

#[tokio::test]
async fn axum_sse_behind_layer_has_the_sse_head_over_http1() {
    check("/axum", Version::HTTP_11).await;
}

#[tokio::test]
async fn axum_sse_behind_layer_has_the_sse_head_over_http2() {
    check("/axum", Version::HTTP_2).await;
}

#[tokio::test]
async fn hand_written_stream_behind_layer_has_the_sse_head_over_http1() {
    check("/hand-written", Version::HTTP_11).await;
}

#[tokio::test]
async fn hand_written_stream_behind_layer_has_the_sse_head_over_http2() {
    check("/hand-written", Version::HTTP_2).await;
}
