//! A server that gets event streams right: ssekit-axum behind `SseLayer`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, StreamExt};
use ssekit_axum::{Event, LastEventId, Sse, SseLayer, StopReconnecting};
use ssekit_test_support::TestServer;

/// How often the layer sends a heartbeat on an idle stream.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(200);

/// A connection the server saw: when, and with which Last-Event-ID.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) last_event_id: Option<String>,
}

pub(crate) struct Good {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    _server: TestServer,
}

impl Good {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

type Seens = Arc<Mutex<Vec<Seen>>>;

fn next_id(last: Option<&LastEventId>) -> u64 {
    last.and_then(|id| id.parse::<u64>().ok())
        .map_or(1, |n| n + 1)
}

/// Every 50 ms an event with the next id, from after the Last-Event-ID.
async fn ticks(last: Option<LastEventId>) -> Response {
    let from = next_id(last.as_ref());
    Sse::new(stream::iter(from..).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Event::default()
            .id(n.to_string())
            .unwrap()
            .data(format!("tick {n}"))
    }))
    .into_response()
}

/// Heartbeats only.
async fn idle() -> Response {
    Sse::new(stream::pending::<Event>()).into_response()
}

/// `retry: <ms>`, then two events after the Last-Event-ID, then the end;
/// every connection is recorded.
async fn counter(
    State(seen): State<Seens>,
    Path(retry_ms): Path<u64>,
    last: Option<LastEventId>,
) -> Response {
    seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        last_event_id: last.as_ref().map(|id| id.as_str().to_owned()),
    });
    let from = next_id(last.as_ref());
    Sse::new(stream::iter(from..from + 2).map(|n| {
        Event::default()
            .id(n.to_string())
            .unwrap()
            .data(format!("count {n}"))
    }))
    .retry(Duration::from_millis(retry_ms))
    .into_response()
}

/// A typed event whose data has two lines and a terminal escape sequence.
async fn odd() -> Response {
    Sse::new(stream::iter([Event::default()
        .event("greeting")
        .unwrap()
        .id("x7")
        .unwrap()
        .data("line one\nline two \u{1b}[2J")]))
    .into_response()
}

pub(crate) async fn start() -> Good {
    let seen: Seens = Arc::default();
    let app = Router::new()
        .route("/ticks", get(ticks))
        .route("/idle", get(idle))
        .route("/counter/{retry_ms}", get(counter))
        .route("/odd", get(odd))
        .route("/stop", get(|| async { StopReconnecting }))
        .with_state(Arc::clone(&seen))
        .layer(SseLayer::new().heartbeat(HEARTBEAT));
    let server = TestServer::start(app).await;
    Good {
        addr: server.addr,
        seen,
        _server: server,
    }
}
