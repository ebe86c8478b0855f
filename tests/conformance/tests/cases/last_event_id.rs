//! `GET /last-event-id`: the adapter's Last-Event-ID extractor, read from
//! the header's raw bytes as UTF-8, with the `lastEventId` query parameter
//! as the fallback.

use std::time::Duration;

use ssekit::decode::{Item, MessageEvent};

use crate::support::{
    Adapter, PATIENCE, Server, assert_events, assert_sse_head, event, events_of, finite, h1,
    open_h2,
};

/// Without a Last-Event-ID: `retry: 50` then the event with id `id`.
fn first_visit(id: &str) -> Vec<Item> {
    vec![
        Item::Retry(Duration::from_millis(50)),
        Item::Event(event("message", "hello", id)),
    ]
}

async fn first_visit_case(adapter: Adapter, request: h1::Request, id: &str) {
    let context = format!("{} {request:?}", adapter.name());
    let server = Server::start(adapter).await;
    let (items, reader) = finite(&server, request, &context).await;
    let got: Vec<Item> = items.iter().map(|timed| timed.item.clone()).collect();
    assert_eq!(
        got,
        first_visit(id),
        "{context}: body {:?}",
        reader.raw_text()
    );
    let expected = [event("message", "hello", id)];
    assert_events(&reader, &items, &expected, &context).await;
}

/// With a Last-Event-ID: one event whose data is the id as decoded.
async fn echoed_case(adapter: Adapter, request: h1::Request, expected_data: &str) {
    let context = format!("{} {request:?}", adapter.name());
    let server = Server::start(adapter).await;
    let (items, reader) = finite(&server, request, &context).await;
    let events = events_of(&items);
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        data,
        [expected_data],
        "{context}: expected one event with data {expected_data:?}; body {:?}",
        reader.raw_text()
    );
    let expected: Vec<MessageEvent> = events.clone();
    assert_events(&reader, &items, &expected, &context).await;
}

pub(crate) async fn without_header(adapter: Adapter) {
    first_visit_case(adapter, h1::Request::get("/last-event-id"), "\u{2026}").await;
}

pub(crate) async fn id_parameter_sets_the_id(adapter: Adapter) {
    first_visit_case(
        adapter,
        h1::Request::get("/last-event-id?id=%E2%82%AC%20x"),
        "\u{20ac} x",
    )
    .await;
}

pub(crate) async fn raw_utf8_header(adapter: Adapter) {
    echoed_case(
        adapter,
        h1::Request::get("/last-event-id").header("Last-Event-ID", "\u{20ac}42".as_bytes()),
        "\u{20ac}42",
    )
    .await;
}

pub(crate) async fn query_fallback(adapter: Adapter) {
    echoed_case(
        adapter,
        h1::Request::get("/last-event-id?lastEventId=%E2%82%AC7"),
        "\u{20ac}7",
    )
    .await;
}

pub(crate) async fn invalid_utf8_header_counts_as_absent(adapter: Adapter) {
    first_visit_case(
        adapter,
        h1::Request::get("/last-event-id").header("Last-Event-ID", b"\xff"),
        "\u{2026}",
    )
    .await;
}

pub(crate) async fn invalid_header_falls_back_to_query(adapter: Adapter) {
    echoed_case(
        adapter,
        h1::Request::get("/last-event-id?lastEventId=q").header("Last-Event-ID", b"caf\xe9"),
        "q",
    )
    .await;
}

pub(crate) async fn header_wins_over_query(adapter: Adapter) {
    echoed_case(
        adapter,
        h1::Request::get("/last-event-id?lastEventId=q")
            .header("Last-Event-ID", "h\u{e9}".as_bytes()),
        "h\u{e9}",
    )
    .await;
}

pub(crate) async fn raw_utf8_header_h2(adapter: Adapter) {
    let context = format!(
        "{} GET /last-event-id Last-Event-ID: €42 over h2c",
        adapter.name()
    );
    let server = Server::start(adapter).await;
    let (_client, mut reader) = open_h2(
        &server,
        "/last-event-id",
        &[("last-event-id", "\u{20ac}42".as_bytes())],
    )
    .await;
    assert_sse_head(reader.head(), &context);
    let items = reader
        .read_to_end(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let events = events_of(&items);
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(
        data,
        ["\u{20ac}42"],
        "{context}: body {:?}",
        reader.raw_text()
    );
}
