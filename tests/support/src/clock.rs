//! The contract of the clock examples (hyper, actix-web, warp): the same
//! app on each framework, so the same checks, written once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{Client, PATIENCE, Reader, SECOND, TestServer, assert_sse_head, event, last_retry};

/// `/events` has the event-stream head, is not compressed even when the
/// client takes gzip, and resumes after `Last-Event-ID: 41` with tick 42.
pub async fn resumes_after_the_last_event_id(addr: SocketAddr) {
    let response = Client::h1(addr)
        .await
        .get_once(
            "/events?interval_ms=10",
            &[
                ("accept", b"text/event-stream"),
                ("accept-encoding", b"gzip"),
                ("last-event-id", b"41"),
            ],
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

/// Opens `count` streams and reads the first tick of each.
pub async fn open_streams(addr: SocketAddr, count: usize) -> Vec<Reader> {
    let mut readers = Vec::with_capacity(count);
    for _ in 0..count {
        let response = Client::h1(addr)
            .await
            .get_once("/events", &[("accept", b"text/event-stream")])
            .await;
        let mut reader = Reader::new(response);
        assert_eq!(reader.events(1, PATIENCE).await[0].event_type, "tick");
        readers.push(reader);
    }
    readers
}

/// Starts the server's graceful shutdown with `readers`' streams open:
/// each must end cleanly (a reset would be an error) after a `retry:` hint
/// of 1 to 3 s, and the server must finish, all within 1 s.
pub async fn shut_down_with_open_streams(server: &mut TestServer, readers: Vec<Reader>) {
    let started = tokio::time::Instant::now();
    assert!(server.trigger(), "the server stopped before the signal");
    for mut reader in readers {
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
