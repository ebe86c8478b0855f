//! The example on a real port: the page, the stream's head, replay after a
//! Last-Event-ID then live messages, the gap notice, ticks, no compression on the stream, the message
//! size limit, and a graceful shutdown with 20 streams open.

use std::time::Duration;

use example_axum::Config;
use ssekit::decode::MessageEvent;
use ssekit::hub::GAP_EVENT;
use ssekit_test_support::{
    Client, PATIENCE, Reader, SECOND, TestServer, assert_sse_head, body_bytes, event, last_retry,
};
use tokio::net::TcpListener;

mod common;
use common::{events, publish, published};

async fn start() -> TestServer {
    start_with(Config::default()).await
}

async fn start_with(config: Config) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    TestServer::spawn(addr, move |signal| {
        example_axum::serve(listener, config.hub().build(), config.tick, signal)
    })
}

/// The next event that is not a tick: a message or a notice.
async fn news(events: &mut Reader) -> MessageEvent {
    loop {
        let (event, _) = events.next_event(PATIENCE).await;
        if event.event_type != "tick" {
            return event;
        }
    }
}

fn message(id: &str, data: &str) -> MessageEvent {
    event("message", id, data)
}

#[tokio::test]
async fn serves_the_page() {
    let server = start().await;
    let response = Client::h1(server.addr).await.get_once("/", &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = body_bytes(response).await;
    let page = std::str::from_utf8(&page).unwrap();
    assert!(page.contains("new EventSource(\"/events\")"));
    assert!(page.contains("fetch(\"/publish\""));
}

#[tokio::test]
async fn the_stream_has_the_event_stream_head() {
    let server = start().await;
    let response = Client::h1(server.addr)
        .await
        .get_once("/events", &[("accept", b"text/event-stream")])
        .await;
    assert_sse_head(&response);
    assert_eq!(
        response.headers()["cache-control"],
        "no-cache, no-transform"
    );
}

#[tokio::test]
async fn replays_after_the_last_event_id_then_sends_live_messages() {
    let server = start().await;
    let first = published(server.addr, "first").await;
    let second = published(server.addr, "second").await;

    let mut events = events(server.addr, &[("last-event-id", first.as_bytes())]).await;
    assert_eq!(news(&mut events).await, message(&second, "second"));

    // Received after the replay, so the stream is subscribed: this one is
    // live, and nothing else came in between.
    let third = published(server.addr, "third").await;
    assert_eq!(news(&mut events).await, message(&third, "third"));
}

#[tokio::test]
async fn ticks_carry_no_id_so_the_last_event_id_stays_on_the_last_message() {
    let server = start_with(Config {
        tick: Duration::from_millis(20),
        ..Config::default()
    })
    .await;
    let mut events = events(server.addr, &[]).await;
    // The first tick: subscribed.
    assert_eq!(events.next_event(PATIENCE).await.0.event_type, "tick");
    let id = published(server.addr, "hello").await;
    assert_eq!(news(&mut events).await, message(&id, "hello"));
    for _ in 0..2 {
        let (tick, _) = events.next_event(PATIENCE).await;
        assert_eq!(tick.event_type, "tick");
        assert_eq!(&*tick.last_event_id, id);
        assert!(tick.data.ends_with(" UTC"), "{}", tick.data);
    }
}

#[tokio::test]
async fn an_id_too_old_to_replay_gets_the_notice_then_what_is_kept() {
    let server = start_with(Config {
        replay: 3,
        lag: 2,
        ..Config::default()
    })
    .await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(published(server.addr, &n.to_string()).await);
    }
    let mut events = events(server.addr, &[("last-event-id", ids[0].as_bytes())]).await;
    let notice = news(&mut events).await;
    assert_eq!(notice.event_type, GAP_EVENT);
    assert!(notice.data.contains("\"expired\""), "{}", notice.data);
    for n in 3..=5 {
        assert_eq!(
            news(&mut events).await,
            message(&ids[n - 1], &n.to_string())
        );
    }
}

#[tokio::test]
async fn compression_leaves_the_stream_alone() {
    let server = start().await;
    // The compression layer is there: the page is compressed.
    let page = Client::h1(server.addr)
        .await
        .get_once("/", &[("accept-encoding", b"gzip")])
        .await;
    assert_eq!(page.headers()["content-encoding"], "gzip");

    let response = Client::h1(server.addr)
        .await
        .get_once("/events", &[("accept-encoding", b"gzip")])
        .await;
    assert_eq!(response.status(), 200);
    let encoding = response.headers().get("content-encoding");
    assert!(encoding.is_none_or(|e| e == "identity"), "{encoding:?}");
    let mut events = Reader::new(response);
    // The first tick decodes as plain text...
    assert_eq!(events.next_event(PATIENCE).await.0.event_type, "tick");
    // ...and a live message arrives at once, not held in a gzip buffer.
    let id = published(server.addr, "not compressed").await;
    assert_eq!(news(&mut events).await, message(&id, "not compressed"));
}

#[tokio::test]
async fn publish_takes_up_to_4_kib_of_utf_8() {
    let server = start().await;
    let (status, _) = publish(server.addr, "a".repeat(4096)).await;
    assert_eq!(status, 200);
    let (status, _) = publish(server.addr, "a".repeat(4097)).await;
    assert_eq!(status, 413);
    let (status, _) = publish(server.addr, &b"\xff\xfe"[..]).await;
    assert_eq!(status, 400);
    let (status, _) = publish(server.addr, "  ").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn shutdown_ends_20_open_streams_cleanly_within_a_second() {
    let mut server = start().await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut events = events(server.addr, &[]).await;
        // The first tick: the stream is open and running.
        assert_eq!(events.next_event(PATIENCE).await.0.event_type, "tick");
        streams.push(events);
    }

    let started = tokio::time::Instant::now();
    assert!(server.trigger(), "the server stopped before the signal");
    for mut events in streams {
        // A clean end within 1 s (a reset would fail here)...
        let items = events.items_to_end(SECOND).await;
        // ...after the farewell: reconnect in 1 s, plus up to 2 s of jitter.
        let retry = last_retry(&items).expect("a retry hint before the end");
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(3)).contains(&retry),
            "{retry:?}"
        );
    }
    assert!(
        server.finished_within(SECOND).await,
        "the server did not finish its graceful shutdown within 1 s"
    );
    assert!(started.elapsed() < SECOND);
}
