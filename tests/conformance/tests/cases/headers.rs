//! "Common rules for every SSE response": the head of every stream endpoint,
//! over HTTP/1.1 and HTTP/2, with a request that accepts gzip and br. The
//! body is decoded too, to see that it really is uncompressed.

use std::time::Duration;

use ssekit::decode::{Item, MessageEvent};

use crate::support::{
    Adapter, BodySource, PATIENCE, Server, SseReader, assert_sse_head, event, events_of, h1, h2,
    open,
};

/// What the body of each endpoint must start with.
enum Body {
    /// A finite stream with exactly these events.
    Events(Vec<MessageEvent>),
    /// A heartbeat comes first.
    Heartbeat,
    /// This event comes first.
    FirstEvent(MessageEvent),
}

fn endpoint(name: &str) -> (&'static str, Body) {
    match name {
        "events" => (
            "/events?count=3",
            Body::Events(vec![
                event("message", "event 1", "1"),
                event("message", "event 2", "2"),
                event("message", "event 3", "3"),
            ]),
        ),
        "idle" => ("/idle?hb_ms=100", Body::Heartbeat),
        "ticks" => (
            "/ticks?interval_ms=50",
            Body::FirstEvent(event("message", "tick 1", "1")),
        ),
        "echo" => (
            "/echo?data=hi&id=1",
            Body::Events(vec![event("message", "hi", "1")]),
        ),
        "last-event-id" => (
            "/last-event-id",
            Body::Events(vec![event("message", "hello", "\u{2026}")]),
        ),
        other => unreachable!("no endpoint {other}"),
    }
}

async fn check_body<B: BodySource>(reader: &mut SseReader<B>, body: Body, context: &str) {
    match body {
        Body::Events(expected) => {
            let items = reader
                .read_to_end(PATIENCE)
                .await
                .unwrap_or_else(|err| panic!("{context}: {err}"));
            assert_eq!(
                events_of(&items),
                expected,
                "{context}: decoded events; body {:?}",
                reader.raw_text()
            );
        }
        Body::Heartbeat => {
            let first = reader
                .next(Duration::from_secs(2))
                .await
                .unwrap_or_else(|err| panic!("{context}: {err}"));
            assert!(
                matches!(&first, Some(timed) if matches!(timed.item, Item::Comment(_))),
                "{context}: first item is {first:?}, not a heartbeat comment; body {:?}",
                reader.raw_text()
            );
        }
        Body::FirstEvent(expected) => {
            let (first, _) = reader
                .next_event(Duration::from_secs(2))
                .await
                .unwrap_or_else(|err| panic!("{context}: {err}"));
            assert_eq!(first, expected, "{context}: first event");
        }
    }
}

async fn over_http1(adapter: Adapter, name: &str) {
    let (target, body) = endpoint(name);
    let context = format!("{} GET {target} over HTTP/1.1", adapter.name());
    let server = Server::start(adapter).await;
    let mut reader = open(&server, h1::Request::get(target)).await;
    assert_sse_head(reader.head(), &context);
    let finite = matches!(body, Body::Events(_));
    check_body(&mut reader, body, &context).await;
    if finite {
        let end = reader.body.end.clone();
        assert!(
            end.as_ref().is_some_and(h1::End::is_clean_chunked),
            "{context}: the body did not end with a clean `0\\r\\n\\r\\n`: {end:?}"
        );
    }
}

async fn over_http2(adapter: Adapter, name: &str) {
    let (target, body) = endpoint(name);
    let context = format!("{} GET {target} over HTTP/2 (h2c)", adapter.name());
    let server = Server::start(adapter).await;
    let mut client = h2::Client::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let response = tokio::time::timeout(
        PATIENCE,
        client.get(target, &[("accept", b"text/event-stream")]),
    )
    .await
    .unwrap_or_else(|_| panic!("{context}: no response head within {PATIENCE:?}"))
    .unwrap_or_else(|err| panic!("{context}: {err}"));
    let mut reader = SseReader::new(response);
    assert_sse_head(reader.head(), &context);
    check_body(&mut reader, body, &context).await;
}

pub(crate) async fn events(adapter: Adapter) {
    over_http1(adapter, "events").await;
}

pub(crate) async fn idle(adapter: Adapter) {
    over_http1(adapter, "idle").await;
}

pub(crate) async fn ticks(adapter: Adapter) {
    over_http1(adapter, "ticks").await;
}

pub(crate) async fn echo(adapter: Adapter) {
    over_http1(adapter, "echo").await;
}

pub(crate) async fn last_event_id(adapter: Adapter) {
    over_http1(adapter, "last-event-id").await;
}

pub(crate) async fn events_h2(adapter: Adapter) {
    over_http2(adapter, "events").await;
}

pub(crate) async fn idle_h2(adapter: Adapter) {
    over_http2(adapter, "idle").await;
}

pub(crate) async fn ticks_h2(adapter: Adapter) {
    over_http2(adapter, "ticks").await;
}

pub(crate) async fn echo_h2(adapter: Adapter) {
    over_http2(adapter, "echo").await;
}

pub(crate) async fn last_event_id_h2(adapter: Adapter) {
    over_http2(adapter, "last-event-id").await;
}
