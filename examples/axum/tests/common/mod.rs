//! What both of the example's test files do: read the stream as a browser
//! would, and post messages.

use std::net::SocketAddr;

use bytes::Bytes;
use http::Method;
use ssekit::hub::EventId;
use ssekit_test_support::{Client, Reader, body_bytes};

/// Reads `GET /events` with `headers` as a browser's `EventSource` would.
pub(crate) async fn events(addr: SocketAddr, headers: &[(&str, &[u8])]) -> Reader {
    Reader::new(Client::h1(addr).await.get_once("/events", headers).await)
}

/// Posts `text` to `/publish`: the status and the body.
pub(crate) async fn publish(
    addr: SocketAddr,
    text: impl Into<Bytes>,
) -> (http::StatusCode, String) {
    let response = Client::h1(addr)
        .await
        .send_once(
            Method::POST,
            "/publish",
            &[("content-type", b"text/plain; charset=utf-8")],
            text.into(),
        )
        .await;
    let status = response.status();
    let body = body_bytes(response).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Publishes `text` and returns its id.
pub(crate) async fn published(addr: SocketAddr, text: &str) -> String {
    let (status, id) = publish(addr, text.to_owned()).await;
    assert_eq!(status, 200, "{id}");
    assert!(id.parse::<EventId>().is_ok(), "not a hub id: {id}");
    id
}
