//! The response head of `ssekit_axum::Sse`, over HTTP/1.1 and HTTP/2
//! cleartext (prior knowledge), with and without `SseLayer`.

use ssekit_test_support as common;

use axum::Router;
use axum::routing::get;
use futures_util::{StreamExt, stream};
use http::Version;
use ssekit_axum::{Event, Sse, SseLayer};

use common::{Client, Reader, SECOND, TestServer, assert_sse_head, message};

fn app(layer: bool) -> Router {
    let router = Router::new().route(
        "/events",
        get(|| async {
            Sse::new(stream::iter([Event::default().data("hi")]).chain(stream::pending()))
        }),
    );
    if layer {
        router.layer(SseLayer::new())
    } else {
        router
    }
}

async fn check(app: Router, version: Version) {
    let server = TestServer::start(app).await;
    let mut client = Client::connect(server.addr, version).await;
    let response = client.get("/events").await;
    assert_eq!(response.version(), version);
    assert_sse_head(&response);
    let mut reader = Reader::new(response);
    assert_eq!(reader.next_item(SECOND).await.0, message("hi"));
}

#[tokio::test]
async fn sse_without_layer_has_the_sse_head_over_http1() {
    check(app(false), Version::HTTP_11).await;
}

#[tokio::test]
async fn sse_without_layer_has_the_sse_head_over_http2() {
    check(app(false), Version::HTTP_2).await;
}

#[tokio::test]
async fn sse_with_layer_has_the_sse_head_over_http1() {
    check(app(true), Version::HTTP_11).await;
}

#[tokio::test]
async fn sse_with_layer_has_the_sse_head_over_http2() {
    check(app(true), Version::HTTP_2).await;
}
