//! Heartbeats that `SseLayer` adds to event streams it did not make, only
//! ever between events.

use ssekit_test_support as common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::stream;
use http::{Response, header};
use ssekit::decode::{Item, MessageEvent};
use ssekit_tower::SseLayer;

use common::{Client, Reader, TestServer, heartbeat};

const INTERVAL: Duration = Duration::from_millis(100);

#[tokio::test]
async fn axum_sse_without_keep_alive_gets_the_layers_heartbeats() {
    let app = Router::new()
        .route(
            "/idle",
            get(|| async { Sse::new(stream::pending::<Result<Event, Infallible>>()) }),
        )
        .layer(SseLayer::new().heartbeat(INTERVAL));
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/idle").await;
    let mut previous = Instant::now();
    let mut reader = Reader::new(response);
    for n in 0..4 {
        let (item, at) = reader.next_item(Duration::from_millis(500)).await;
        assert_eq!(item, heartbeat());
        let gap = at - previous;
        assert!(
            gap >= Duration::from_millis(90) && gap < Duration::from_millis(180),
            "heartbeat {n} came {gap:?} after the previous frame (or the head)"
        );
        previous = at;
    }
    assert_eq!(reader.raw, b":\n\n".repeat(4));
}

#[tokio::test]
async fn heartbeats_never_land_inside_an_event_of_a_hand_written_body() {
    // "data: a\n" opens an event that only "data: b\n\n", 350 ms later,
    // ends: three heartbeat intervals inside one event.
    let app = Router::new()
        .route(
            "/split",
            get(|| async {
                let chunks = stream::unfold(0u8, |step| async move {
                    match step {
                        0 => Some((Ok::<_, Infallible>("data: a\n"), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(350)).await;
                            Some((Ok("data: b\n\n"), 2))
                        }
                        _ => std::future::pending().await,
                    }
                });
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/event-stream")
                    .body(Body::from_stream(chunks))
                    .unwrap()
            }),
        )
        .layer(SseLayer::new().heartbeat(INTERVAL));
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/split").await;
    let head_at = Instant::now();
    let mut reader = Reader::new(response);

    let (event, event_at) = reader.next_item(Duration::from_secs(1)).await;
    assert_eq!(
        event,
        Item::Event(MessageEvent {
            event_type: "message".to_owned(),
            data: "a\nb".to_owned(),
            last_event_id: "".into(),
        })
    );
    assert!(event_at - head_at >= Duration::from_millis(340));
    // Then heartbeats, one interval after the event and one more after that.
    for _ in 0..2 {
        let (item, at) = reader.next_item(Duration::from_millis(500)).await;
        assert_eq!(item, heartbeat());
        assert!(
            at - event_at >= Duration::from_millis(90),
            "a heartbeat {:?} after the event",
            at - event_at
        );
    }
    // Byte for byte: no comment between the two halves of the event.
    assert_eq!(reader.raw, b"data: a\ndata: b\n\n:\n\n:\n\n");
}

#[tokio::test]
async fn layer_with_heartbeats_off_leaves_axums_keep_alive_alone() {
    // A layer with heartbeats off leaves axum's keep-alive as the only one.
    let app = Router::new()
        .route(
            "/idle",
            get(|| async {
                Sse::new(stream::pending::<Result<Event, Infallible>>()).keep_alive(
                    axum::response::sse::KeepAlive::new()
                        .interval(Duration::from_millis(250))
                        .text("ka"),
                )
            }),
        )
        .layer(SseLayer::new().heartbeat(None));
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/idle").await;
    let head_at = Instant::now();
    let mut reader = Reader::new(response);
    let items = reader
        .items_until(head_at + Duration::from_millis(600))
        .await;
    let items: Vec<Item> = items.into_iter().map(|(item, _)| item).collect();
    assert_eq!(
        items,
        [
            Item::Comment("ka".to_owned()),
            Item::Comment("ka".to_owned())
        ]
    );
}
