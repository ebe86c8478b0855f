//! The end of event streams that `SseLayer` did not make: disconnect
//! notifications through `ssekit::disconnect::current()`, and shutdown,
//! which waits for the event boundary (up to the grace).

use ssekit_test_support as common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_util::{StreamExt, stream};
use http::{Response, header};
use ssekit::shutdown::Farewell;
use ssekit_tower::SseLayer;
use tokio::sync::oneshot;

use common::{Client, Next, Reader, SECOND, TestServer, body_bytes, message};

/// Where a handler leaves the sender that its disconnect callback fires.
type Slot = Arc<Mutex<Option<oneshot::Sender<(&'static str, Instant)>>>>;

fn slot() -> (Slot, oneshot::Receiver<(&'static str, Instant)>) {
    let (tx, rx) = oneshot::channel();
    (Arc::new(Mutex::new(Some(tx))), rx)
}

/// Takes the request's disconnect handle, which only the layer provides.
fn record(slot: &Slot) {
    let disconnect = ssekit::disconnect::current().expect("SseLayer scopes every request");
    let tx = slot.lock().unwrap().take().expect("one request per slot");
    disconnect.on_disconnect(move |reason| {
        let _ = tx.send((reason.as_str(), Instant::now()));
    });
}

fn axum_event(data: &str) -> Result<Event, Infallible> {
    Ok(Event::default().data(data))
}

fn app(slot: Slot, layer: SseLayer) -> Router {
    Router::new()
        .route(
            "/idle",
            get(|State(slot): State<Slot>| async move {
                record(&slot);
                Sse::new(stream::iter([axum_event("first")]).chain(stream::pending()))
            }),
        )
        .route(
            "/two",
            get(|State(slot): State<Slot>| async move {
                record(&slot);
                Sse::new(stream::iter([axum_event("a"), axum_event("b")]))
            }),
        )
        .route(
            "/plain",
            get(|State(slot): State<Slot>| async move {
                record(&slot);
                "not an event stream"
            }),
        )
        .route(
            "/failing",
            get(|State(slot): State<Slot>| async move {
                record(&slot);
                // The error comes a little later, so that the head and the
                // first event are on the wire before it.
                let chunks = stream::unfold(0u8, |step| async move {
                    match step {
                        0 => Some((Ok("data: a\n\n"), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Some((Err(std::io::Error::other("source broke")), 2))
                        }
                        _ => None,
                    }
                });
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/event-stream")
                    .body(Body::from_stream(chunks))
                    .unwrap()
            }),
        )
        .with_state(slot)
        .layer(layer)
}

async fn fired(
    rx: oneshot::Receiver<(&'static str, Instant)>,
    limit: Duration,
) -> (&'static str, Instant) {
    tokio::time::timeout(limit, rx)
        .await
        .expect("no disconnect notification in time")
        .expect("the notification was dropped unsent")
}

#[tokio::test]
async fn axum_sse_handler_learns_client_gone_within_one_heartbeat() {
    let (slot, rx) = slot();
    let server = TestServer::start(app(
        slot,
        SseLayer::new().heartbeat(Duration::from_millis(200)),
    ))
    .await;
    let mut client = Client::h1(server.addr).await;
    let mut reader = Reader::new(client.get("/idle").await);
    assert_eq!(reader.next_item(SECOND).await.0, message("first"));
    drop(reader);
    drop(client);
    let closed_at = Instant::now();
    let (reason, at) = fired(rx, Duration::from_millis(400)).await;
    assert_eq!(reason, "client_gone");
    assert!(at - closed_at < Duration::from_millis(400));
}

#[tokio::test]
async fn axum_sse_handler_learns_the_stream_ended() {
    let (slot, rx) = slot();
    let server = TestServer::start(app(slot, SseLayer::new())).await;
    let mut client = Client::h1(server.addr).await;
    assert_eq!(
        body_bytes(client.get("/two").await).await,
        "data: a\n\ndata: b\n\n"
    );
    assert_eq!(fired(rx, SECOND).await.0, "stream_ended");
}

// Fails: see the report. A non-SSE body that says it is complete
// (`is_end_stream`) is dropped by hyper without being polled to `None`, so
// the layer's notifier reports `client_gone` for a delivered response.
#[tokio::test]
async fn non_sse_handler_learns_the_response_ended() {
    let (slot, rx) = slot();
    let server = TestServer::start(app(slot, SseLayer::new())).await;
    let mut client = Client::h1(server.addr).await;
    assert_eq!(
        body_bytes(client.get("/plain").await).await,
        "not an event stream"
    );
    assert_eq!(fired(rx, SECOND).await.0, "stream_ended");
}

#[tokio::test]
async fn empty_non_sse_response_reports_the_response_ended() {
    // Fails, like the test above: an empty body is complete before its
    // first poll, so hyper never polls it.
    let (slot, rx) = slot();
    let app = Router::new()
        .route(
            "/empty",
            get(|State(slot): State<Slot>| async move {
                record(&slot);
                http::StatusCode::NO_CONTENT
            }),
        )
        .with_state(slot)
        .layer(SseLayer::new());
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let response = client.get("/empty").await;
    assert_eq!(response.status(), 204);
    assert!(body_bytes(response).await.is_empty());
    assert_eq!(fired(rx, SECOND).await.0, "stream_ended");
}

#[tokio::test]
async fn failing_hand_written_body_is_reported_as_an_error() {
    let (slot, rx) = slot();
    let layer = SseLayer::new();
    let stats = layer.stats();
    let server = TestServer::start(app(slot, layer)).await;
    let mut client = Client::h1(server.addr).await;
    let mut reader = Reader::new(client.get("/failing").await);
    assert!(matches!(reader.read_to_end(SECOND).await, Err(error) if error.starts_with("Error")));
    assert_eq!(reader.raw, b"data: a\n\n");
    assert_eq!(fired(rx, SECOND).await.0, "error");
    let seen = stats.snapshot();
    assert_eq!(
        (seen.opened, seen.active, seen.events, seen.errors),
        (1, 0, 1, 1),
        "{seen:?}"
    );
}

#[tokio::test]
async fn disconnect_current_is_none_without_the_layer() {
    let app = Router::new().route(
        "/",
        get(|| async { ssekit::disconnect::current().map_or("none", |_| "some") }),
    );
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    assert_eq!(body_bytes(client.get("/").await).await, "none");
}

/// A hand-written event stream: `first`, then `rest` after `pause`, then
/// nothing ever again.
fn split_body(first: &'static str, pause: Duration, rest: &'static str) -> Response<Body> {
    let chunks = stream::unfold(0u8, move |step| async move {
        match step {
            0 => Some((Ok::<_, Infallible>(first), 1)),
            1 => {
                tokio::time::sleep(pause).await;
                Some((Ok(rest), 2))
            }
            _ => std::future::pending().await,
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(chunks))
        .unwrap()
}

#[tokio::test]
async fn shutdown_waits_for_the_event_boundary_then_sends_the_farewell() {
    let layer = SseLayer::new();
    let shutdown = layer.shutdown_handle();
    let app = Router::new()
        .route(
            "/split",
            get(|| async { split_body("data: a\n", Duration::from_millis(200), "data: b\n\n") }),
        )
        .layer(layer);
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let mut reader = Reader::new(client.get("/split").await);
    assert!(matches!(reader.next_chunk(SECOND).await, Next::Data(data) if data == "data: a\n"));
    let triggered_at = Instant::now();
    shutdown.trigger_with(Farewell::new().retry(Duration::from_millis(500)));
    reader.read_to_end(SECOND).await.expect("a clean end");
    let ended_after = triggered_at.elapsed();
    assert_eq!(reader.raw, b"data: a\ndata: b\n\nretry: 500\n\n");
    assert!(
        ended_after >= Duration::from_millis(100),
        "ended {ended_after:?} after the trigger"
    );
    assert_eq!(shutdown.open_streams(), 0);
}

#[tokio::test]
async fn shutdown_grace_ends_a_body_stuck_inside_an_event_without_farewell() {
    let layer = SseLayer::new().shutdown_grace(Duration::from_millis(100));
    let shutdown = layer.shutdown_handle();
    let stats = layer.stats();
    let app = Router::new()
        .route(
            "/stuck",
            get(|| async { split_body("data: a\n", Duration::from_secs(3600), "data: b\n\n") }),
        )
        .layer(layer);
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    let mut reader = Reader::new(client.get("/stuck").await);
    assert!(matches!(reader.next_chunk(SECOND).await, Next::Data(_)));
    let triggered_at = Instant::now();
    shutdown.trigger_with(Farewell::new().retry(Duration::from_millis(500)));
    reader.read_to_end(SECOND).await.expect("a clean end");
    let ended_after = triggered_at.elapsed();
    assert!(
        ended_after >= Duration::from_millis(90) && ended_after < Duration::from_millis(400),
        "ended {ended_after:?} after the trigger, with a 100 ms grace"
    );
    // The unfinished event is cut where it stands; no farewell inside it.
    assert_eq!(reader.raw, b"data: a\n");
    let seen = stats.snapshot();
    assert_eq!(
        (seen.opened, seen.active, seen.shutdown),
        (1, 0, 1),
        "{seen:?}"
    );
}
