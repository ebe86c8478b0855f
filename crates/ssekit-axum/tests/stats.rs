//! `SseLayer::stats()`: streams of both kinds (ssekit's own and axum's)
//! opened and closed under one layer are counted, by how they ended.

use ssekit_test_support as common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::sse as axum_sse;
use axum::routing::get;
use futures_util::stream;
use ssekit_axum::{Event, Sse, SseLayer};

use common::{Client, Reader, SECOND, TestServer, body_bytes, heartbeat};

fn axum_event(data: &str) -> Result<axum_sse::Event, Infallible> {
    Ok(axum_sse::Event::default().data(data))
}

#[tokio::test]
async fn stats_count_what_happened_to_streams_under_the_layer() {
    let layer = SseLayer::new().heartbeat(Duration::from_millis(100));
    let stats = layer.stats();
    let app = Router::new()
        .route(
            "/ssekit-three",
            get(|| async {
                let events = ["1", "2", "3"].map(|data| Event::default().data(data));
                Sse::new(stream::iter(events)).retry(Duration::from_secs(1))
            }),
        )
        .route(
            "/axum-two",
            get(|| async { axum_sse::Sse::new(stream::iter([axum_event("a"), axum_event("b")])) }),
        )
        .route(
            "/ssekit-idle",
            get(|| async { Sse::new(stream::pending::<Event>()) }),
        )
        .route(
            "/axum-idle",
            get(|| async {
                axum_sse::Sse::new(stream::pending::<Result<axum_sse::Event, Infallible>>())
            }),
        )
        .route("/plain", get(|| async { "not an event stream" }))
        .layer(layer);
    let server = TestServer::start(app).await;
    let mut received = 0;

    // Two streams that end by themselves.
    let mut client = Client::h1(server.addr).await;
    let body = body_bytes(client.get("/ssekit-three").await).await;
    assert_eq!(body, "retry: 1000\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n");
    received += body.len();
    let body = body_bytes(client.get("/axum-two").await).await;
    assert_eq!(body, "data: a\n\ndata: b\n\n");
    received += body.len();
    // Not an event stream: not counted.
    assert_eq!(
        body_bytes(client.get("/plain").await).await,
        "not an event stream"
    );

    // Two idle streams, whose clients leave after one heartbeat each.
    // Both are opened first, so both get their first heartbeat at about
    // 100 ms and are closed well before their second at 200 ms.
    let mut idle = Vec::new();
    for path in ["/ssekit-idle", "/axum-idle"] {
        let mut client = Client::h1(server.addr).await;
        let reader = Reader::new(client.get(path).await);
        idle.push((client, reader));
    }
    for (_, reader) in &mut idle {
        assert_eq!(reader.next_item(SECOND).await.0, heartbeat());
    }
    let seen = stats.snapshot();
    assert_eq!((seen.opened, seen.active), (4, 2), "{seen:?}");
    for (client, reader) in idle {
        received += reader.raw.len();
        drop((reader, client));
    }

    let deadline = Instant::now() + SECOND;
    while stats.snapshot().active > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = stats.snapshot();
    assert_eq!(seen.opened, 4, "{seen:?}");
    assert_eq!(seen.active, 0, "{seen:?}");
    assert_eq!(seen.events, 5, "{seen:?}");
    assert_eq!(seen.heartbeats, 2, "{seen:?}");
    assert_eq!(seen.bytes, received as u64, "{seen:?}");
    assert_eq!(seen.stream_ended, 2, "{seen:?}");
    assert_eq!(seen.client_gone, 2, "{seen:?}");
    assert_eq!(seen.shutdown, 0, "{seen:?}");
    assert_eq!(seen.errors, 0, "{seen:?}");
}
