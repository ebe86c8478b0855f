//! Heartbeats of `ssekit_axum::Sse`: when they come, and that the layer and
//! the stream never run two timers for one response.

use ssekit_test_support as common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use futures_util::stream;
use ssekit_axum::{Event, Sse, SseLayer};

use common::{Client, Reader, TestServer, heartbeat};

const INTERVAL: Duration = Duration::from_millis(100);

/// A stream that never sends an event, with its own heartbeat interval when
/// `own` is given.
fn idle(own: Option<Duration>) -> Router {
    Router::new().route(
        "/idle",
        get(move || async move {
            let sse = Sse::new(stream::pending::<Event>());
            match own {
                Some(interval) => sse.heartbeat(interval),
                None => sse,
            }
        }),
    )
}

/// Opens `/idle` and counts the heartbeats that arrive within `window` of
/// the head; nothing but heartbeats may arrive.
async fn heartbeats_within(app: Router, window: Duration) -> usize {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/idle").await;
    let head_at = Instant::now();
    let mut reader = Reader::new(response);
    let items = reader.items_until(head_at + window).await;
    for (item, _) in &items {
        assert_eq!(*item, heartbeat());
    }
    items.len()
}

#[tokio::test]
async fn first_heartbeat_comes_one_interval_after_the_head_then_every_interval() {
    let server = TestServer::start(idle(Some(INTERVAL))).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/idle").await;
    let head_at = Instant::now();
    let mut reader = Reader::new(response);
    let mut previous = head_at;
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
async fn layer_and_sse_with_the_same_interval_run_one_heartbeat_timer() {
    // Heartbeats at 100, 200, 300, 400 and 500 ms; two timers would send
    // about ten.
    let app = idle(Some(INTERVAL)).layer(SseLayer::new().heartbeat(INTERVAL));
    assert_eq!(heartbeats_within(app, Duration::from_millis(550)).await, 5);
}

#[tokio::test]
async fn sse_without_its_own_interval_takes_the_layers() {
    // The stream's default (15 s) gives way to the layer's 100 ms.
    let app = idle(None).layer(SseLayer::new().heartbeat(INTERVAL));
    assert_eq!(heartbeats_within(app, Duration::from_millis(550)).await, 5);
}

#[tokio::test]
async fn sse_that_chose_its_interval_keeps_it_under_the_layer() {
    // 250 ms chosen by the stream: heartbeats at 250 and 500 ms, none of
    // the layer's 100 ms ones.
    let app = idle(Some(Duration::from_millis(250))).layer(SseLayer::new().heartbeat(INTERVAL));
    assert_eq!(heartbeats_within(app, Duration::from_millis(550)).await, 2);
}

#[tokio::test]
async fn layer_without_heartbeat_and_sse_default_send_none() {
    // The layer turns heartbeats off for streams that did not choose.
    let app = idle(None).layer(SseLayer::new().heartbeat(None));
    assert_eq!(heartbeats_within(app, Duration::from_millis(350)).await, 0);
}
