//! `StopReconnecting`: 204 No Content, with an empty body.

use ssekit_test_support as common;

use axum::Router;
use axum::routing::get;
use http::header;
use ssekit_axum::{SseLayer, StopReconnecting};

use common::{Client, TestServer, body_bytes};

async fn check(app: Router) {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/stop").await;
    assert_eq!(response.status(), 204);
    // Not an event stream: nothing for `EventSource` to parse.
    assert!(!response.headers().contains_key(header::CONTENT_TYPE));
    assert!(body_bytes(response).await.is_empty());
}

#[tokio::test]
async fn stop_reconnecting_is_204_with_an_empty_body() {
    check(Router::new().route("/stop", get(|| async { StopReconnecting }))).await;
}

#[tokio::test]
async fn stop_reconnecting_under_the_layer_is_204_with_an_empty_body() {
    let app = Router::new()
        .route("/stop", get(|| async { StopReconnecting }))
        .layer(SseLayer::new());
    check(app).await;
}
