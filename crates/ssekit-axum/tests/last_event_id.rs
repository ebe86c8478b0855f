//! The `LastEventId` extractor: the header's raw bytes as UTF-8, the
//! `lastEventId` query parameter as the fallback, invalid values as absent.

use ssekit_test_support as common;

use axum::Router;
use axum::routing::get;
use futures_util::stream;
use ssekit_axum::{Event, LastEventId, Sse};

use common::{Client, Reader, SECOND, TestServer, body_bytes, message};

fn app() -> Router {
    Router::new()
        .route(
            "/echo",
            get(|last: Option<LastEventId>| async move {
                let data = last.map_or_else(|| "<none>".to_owned(), |id| id.to_string());
                Sse::new(stream::iter([Event::default().data(data)]))
            }),
        )
        .route(
            "/bare",
            get(|last: LastEventId| async move { last.to_string() }),
        )
}

/// What `/echo` (at `path_and_query`) echoes for these request headers.
async fn echoed(path_and_query: &str, headers: &[(&str, &[u8])]) -> ssekit::decode::Item {
    let server = TestServer::start(app()).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get_with(path_and_query, headers).await;
    assert_eq!(response.status(), 200);
    let mut reader = Reader::new(response);
    reader.read_to_end(SECOND).await.expect("a clean end");
    let mut items = reader.take_items();
    assert_eq!(items.len(), 1, "{items:?}");
    items.remove(0)
}

#[tokio::test]
async fn non_ascii_header_is_read_as_utf8_from_its_raw_bytes() {
    // "€42": E2 82 AC 34 32, sent as obs-text.
    let item = echoed("/echo", &[("last-event-id", "€42".as_bytes())]).await;
    assert_eq!(item, message("€42"));
}

#[tokio::test]
async fn non_ascii_header_over_http2_is_read_as_utf8() {
    let server = TestServer::start(app()).await;
    let mut client = Client::h2(server.addr).await;
    let response = client
        .get_with("/echo", &[("last-event-id", "€42".as_bytes())])
        .await;
    let mut reader = Reader::new(response);
    assert_eq!(reader.next_item(SECOND).await.0, message("€42"));
}

#[tokio::test]
async fn query_parameter_is_the_fallback() {
    assert_eq!(
        echoed("/echo?lastEventId=%E2%82%AC7", &[]).await,
        message("€7")
    );
}

#[tokio::test]
async fn header_wins_over_the_query_parameter() {
    let item = echoed(
        "/echo?lastEventId=1",
        &[("last-event-id", "€42".as_bytes())],
    )
    .await;
    assert_eq!(item, message("€42"));
}

#[tokio::test]
async fn invalid_utf8_header_counts_as_absent_and_the_query_is_used() {
    let item = echoed(
        "/echo?lastEventId=%E2%82%AC7",
        &[("last-event-id", b"\xff")],
    )
    .await;
    assert_eq!(item, message("€7"));
}

#[tokio::test]
async fn invalid_utf8_header_without_query_counts_as_absent() {
    assert_eq!(
        echoed("/echo", &[("last-event-id", b"4\xff2")]).await,
        message("<none>")
    );
}

#[tokio::test]
async fn no_last_event_id_is_none() {
    assert_eq!(echoed("/echo", &[]).await, message("<none>"));
}

#[tokio::test]
async fn bare_extractor_without_an_id_is_a_400_with_a_message() {
    let server = TestServer::start(app()).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/bare").await;
    assert_eq!(response.status(), 400);
    let body = body_bytes(response).await;
    let body = std::str::from_utf8(&body).unwrap();
    assert!(body.contains("Last-Event-ID"), "{body}");
    assert!(body.contains("lastEventId"), "{body}");

    // And with an invalid one, too.
    let response = client
        .get_with("/bare", &[("last-event-id", b"\xff")])
        .await;
    assert_eq!(response.status(), 400);

    // With one, it is given.
    let response = client
        .get_with("/bare", &[("last-event-id", "€42".as_bytes())])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_bytes(response).await, "€42");
}
