//! The example on a real port: the page, the stream's head and events,
//! resume after a Last-Event-ID, and a graceful shutdown with a stream open.

use std::time::Duration;

use ssekit_test_support::{
    Client, PATIENCE, Reader, SECOND, TestServer, assert_sse_head, body_bytes, event, last_retry,
};
use tokio::net::TcpListener;

async fn start() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    TestServer::spawn(addr, |signal| example_hyper::serve(listener, signal))
}

#[tokio::test]
async fn serves_the_page() {
    let server = start().await;
    let response = Client::h1(server.addr).await.get_once("/", &[]).await;
    assert_eq!(response.status(), 200);
    let page = body_bytes(response).await;
    assert!(
        std::str::from_utf8(&page)
            .unwrap()
            .contains("new EventSource(\"/events\")")
    );
}

#[tokio::test]
async fn streams_ticks_and_resumes_after_the_last_event_id() {
    let server = start().await;
    let response = Client::h1(server.addr)
        .await
        .get_once(
            "/events?interval_ms=10",
            &[("accept", b"text/event-stream"), ("last-event-id", b"41")],
        )
        .await;
    assert_sse_head(&response);
    assert_eq!(
        response.headers()["cache-control"],
        "no-cache, no-transform"
    );
    let mut reader = Reader::new(response);
    assert_eq!(
        reader.events(3, PATIENCE).await,
        [
            event("tick", "42", "tick 42"),
            event("tick", "43", "tick 43"),
            event("tick", "44", "tick 44"),
        ]
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly_and_promptly() {
    let mut server = start().await;
    let mut readers = Vec::new();
    for _ in 0..20 {
        let response = Client::h1(server.addr).await.get_once("/events", &[]).await;
        let mut reader = Reader::new(response);
        assert_eq!(reader.events(1, PATIENCE).await[0].event_type, "tick");
        readers.push(reader);
    }
    let started = tokio::time::Instant::now();
    assert!(server.trigger(), "the server stopped before the signal");
    for mut reader in readers {
        // A clean end: the body finishes (a reset would be an error here).
        let items = reader.items_to_end(SECOND).await;
        let retry = last_retry(&items).expect("a retry hint before the end");
        assert!((Duration::from_secs(1)..=Duration::from_secs(3)).contains(&retry));
    }
    assert!(
        server.finished_within(SECOND).await,
        "the server did not finish its graceful shutdown within 1 s"
    );
    assert!(started.elapsed() < SECOND);
}
