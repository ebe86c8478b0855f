//! `GET /events`: ids, data, padding, `close_after`, and `retry_ms`.

use std::time::Duration;

use ssekit::decode::{Item, MessageEvent};

use crate::support::{
    Adapter, Failures, PATIENCE, Server, assert_events, assert_sse_head, event, finite, h1,
    numbered, open, open_h2,
};

async fn expect_events(adapter: Adapter, request: h1::Request, expected: &[MessageEvent]) {
    let context = format!("{} {request:?}", adapter.name());
    let server = Server::start(adapter).await;
    let (items, reader) = finite(&server, request, &context).await;
    assert_events(&reader, &items, expected, &context).await;
}

pub(crate) async fn count_five(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=5"),
        &numbered(1, 5),
    )
    .await;
}

pub(crate) async fn default_count_is_ten(adapter: Adapter) {
    expect_events(adapter, h1::Request::get("/events"), &numbered(1, 10)).await;
}

pub(crate) async fn start_offsets_the_ids(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?start=7&count=3"),
        &numbered(7, 3),
    )
    .await;
}

fn padded(id: u64, size: usize) -> MessageEvent {
    let mut data = format!("event {id}");
    while data.len() < size {
        data.push('.');
    }
    event("message", &data, &id.to_string())
}

pub(crate) async fn size_pads_the_data(adapter: Adapter) {
    let expected: Vec<_> = (1..=3).map(|id| padded(id, 64)).collect();
    expect_events(
        adapter,
        h1::Request::get("/events?count=3&size=64"),
        &expected,
    )
    .await;
}

/// The limit is "over 1 MiB": exactly 1 MiB is served.
pub(crate) async fn size_of_one_mib_is_accepted(adapter: Adapter) {
    let expected: Vec<_> = (1..=2).map(|id| padded(id, 1 << 20)).collect();
    expect_events(
        adapter,
        h1::Request::get("/events?count=2&size=1048576"),
        &expected,
    )
    .await;
}

pub(crate) async fn close_after_ends_early(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=10&close_after=3"),
        &numbered(1, 3),
    )
    .await;
}

/// `close_after` counts the events of this response, not ids.
pub(crate) async fn close_after_counts_from_the_resume_point(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=10&close_after=3").header("Last-Event-ID", "4"),
        &numbered(5, 3),
    )
    .await;
}

/// "Query `retry_ms=R`, where present, makes the stream start with
/// `retry: R`", on every SSE endpoint that takes no `retry_ms` of its own.
pub(crate) async fn retry_ms_starts_every_stream(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for target in [
        "/events?count=2&retry_ms=1500",
        "/idle?hb_ms=100&retry_ms=1500",
        "/ticks?interval_ms=50&retry_ms=1500",
        "/probe?token=retry-check&hb_ms=100&retry_ms=1500",
        "/echo?data=x&retry_ms=1500",
    ] {
        let context = format!("{} GET {target}", adapter.name());
        let mut reader = open(&server, h1::Request::get(target)).await;
        assert_sse_head(reader.head(), &context);
        match reader.next(Duration::from_secs(2)).await {
            Ok(Some(first)) if first.item == Item::Retry(Duration::from_millis(1500)) => {}
            other => failures.push(format!(
                "{context}: first item is {other:?}, not retry 1500 ms"
            )),
        }
        let raw = reader.raw();
        failures.check(
            raw.starts_with(b"retry: 1500\n") || raw.starts_with(b"retry: 1500\r"),
            || format!("{context}: the body does not start with `retry: 1500`: {raw:?}"),
        );
    }
    failures.assert_none(&format!("{} retry_ms", adapter.name()));
}

pub(crate) async fn count_five_h2(adapter: Adapter) {
    let context = format!("{} GET /events?count=5 over h2c", adapter.name());
    let server = Server::start(adapter).await;
    let (_client, mut reader) = open_h2(&server, "/events?count=5", &[]).await;
    assert_sse_head(reader.head(), &context);
    let items = reader
        .read_to_end(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_events(&reader, &items, &numbered(1, 5), &context).await;
}
