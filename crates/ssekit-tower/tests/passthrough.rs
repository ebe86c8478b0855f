//! Responses that are not event streams pass through `SseLayer` unchanged:
//! the same head (but `date`) and the same body as without the layer.

use ssekit_test_support as common;

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use futures_util::stream;
use http::{HeaderMap, StatusCode, Version, header};
use ssekit_tower::SseLayer;

use common::{Client, TestServer, body_bytes};

fn routes() -> Router {
    Router::new()
        .route(
            "/json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"ok":true,"n":42}"#,
                )
            }),
        )
        .route("/text", get(|| async { "plain text, with a length" }))
        .route(
            "/custom",
            get(|| async {
                (
                    StatusCode::CREATED,
                    [
                        (header::CACHE_CONTROL, "max-age=60"),
                        (header::CONTENT_ENCODING, "identity"),
                    ],
                    "made",
                )
            }),
        )
        .route(
            "/streamed",
            get(|| async {
                Body::from_stream(stream::iter(["a", "b", "c"].map(Ok::<_, Infallible>)))
            }),
        )
}

/// The status, the headers but `date`, and the body of `GET path`.
async fn fetch(
    server: &TestServer,
    path: &str,
    version: Version,
) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let mut client = Client::connect(server.addr, version).await;
    let response = client.get(path).await;
    let status = response.status();
    let mut headers = response.headers().clone();
    assert!(headers.remove(header::DATE).is_some());
    (status, headers, body_bytes(response).await)
}

async fn check(version: Version) {
    let plain = TestServer::start(routes()).await;
    let layered = TestServer::start(routes().layer(SseLayer::new())).await;
    for path in ["/json", "/text", "/custom", "/streamed", "/missing"] {
        let without = fetch(&plain, path, version).await;
        let with = fetch(&layered, path, version).await;
        assert_eq!(with, without, "{path}");
        assert!(!with.1.contains_key("x-accel-buffering"), "{path}");
    }
    let (status, headers, body) = fetch(&layered, "/json", version).await;
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CONTENT_LENGTH], "18");
    assert_eq!(body, r#"{"ok":true,"n":42}"#);
    let (_, headers, body) = fetch(&layered, "/text", version).await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CONTENT_LENGTH], "25");
    assert_eq!(body, "plain text, with a length");
}

#[tokio::test]
async fn non_sse_responses_pass_through_unchanged_over_http1() {
    check(Version::HTTP_11).await;
}

#[tokio::test]
async fn non_sse_responses_pass_through_unchanged_over_http2() {
    check(Version::HTTP_2).await;
}
