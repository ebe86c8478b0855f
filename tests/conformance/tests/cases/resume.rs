//! Resuming `/events` by `Last-Event-ID` header or `lastEventId` query.

use ssekit::decode::MessageEvent;

use crate::support::{
    Adapter, Failures, PATIENCE, Server, assert_events, assert_sse_head, events_of, fetch, finite,
    h1, numbered, open_h2,
};

async fn expect_events(adapter: Adapter, request: h1::Request, expected: &[MessageEvent]) {
    let context = format!("{} {request:?}", adapter.name());
    let server = Server::start(adapter).await;
    let (items, reader) = finite(&server, request, &context).await;
    assert_events(&reader, &items, expected, &context).await;
}

pub(crate) async fn by_header(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=5").header("Last-Event-ID", "3"),
        &numbered(4, 2),
    )
    .await;
}

pub(crate) async fn by_query(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=5&lastEventId=3"),
        &numbered(4, 2),
    )
    .await;
}

/// The query parameter is only the fallback when the header is absent.
pub(crate) async fn header_wins_over_query(adapter: Adapter) {
    expect_events(
        adapter,
        h1::Request::get("/events?count=5&lastEventId=1").header("Last-Event-ID", "3"),
        &numbered(4, 2),
    )
    .await;
}

/// "A non-numeric one where an endpoint needs a number" counts as absent.
pub(crate) async fn non_numeric_counts_as_absent(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for request in [
        h1::Request::get("/events?count=5").header("Last-Event-ID", "abc"),
        h1::Request::get("/events?count=5").header("Last-Event-ID", "\u{20ac}3".as_bytes()),
        h1::Request::get("/events?count=5&lastEventId=abc"),
    ] {
        let context = format!("{} {request:?}", adapter.name());
        let (items, _) = finite(&server, request, &context).await;
        let got = events_of(&items);
        failures.check(got == numbered(1, 5), || {
            format!("{context}: events {got:?}, expected ids 1..=5")
        });
    }
    failures.assert_none(&format!("{} non-numeric Last-Event-ID", adapter.name()));
}

/// A header that is not UTF-8 counts as absent, so the query parameter is
/// used in its place, and without one the stream starts from the first id.
pub(crate) async fn invalid_header_counts_as_absent(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for (request, expected) in [
        (
            h1::Request::get("/events?count=5").header("Last-Event-ID", b"\xff"),
            numbered(1, 5),
        ),
        (
            h1::Request::get("/events?count=5&lastEventId=2").header("Last-Event-ID", b"3\xff"),
            numbered(3, 3),
        ),
    ] {
        let context = format!("{} {request:?}", adapter.name());
        let (items, _) = finite(&server, request, &context).await;
        let got = events_of(&items);
        failures.check(got == expected, || {
            format!("{context}: events {got:?}, expected {expected:?}")
        });
    }
    failures.assert_none(&format!("{} invalid Last-Event-ID", adapter.name()));
}

/// At or past the last id there is nothing to send: 204, which tells
/// `EventSource` to stop reconnecting.
pub(crate) async fn at_or_past_the_last_id_is_204(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for request in [
        h1::Request::get("/events?count=5").header("Last-Event-ID", "5"),
        h1::Request::get("/events?count=5").header("Last-Event-ID", "9"),
        h1::Request::get("/events?count=5&lastEventId=5"),
        h1::Request::get("/events?start=10&count=2").header("Last-Event-ID", "11"),
    ] {
        let context = format!("{} {request:?}", adapter.name());
        match fetch(&server, &request).await {
            Ok(fetched) => failures.check(
                fetched.head.status == 204 && fetched.body.is_empty(),
                || {
                    format!(
                        "{context}: expected 204 with no body, got {}\nbody {:?}",
                        fetched.head.dump(),
                        fetched.text()
                    )
                },
            ),
            Err(err) => failures.push(format!("{context}: {err}")),
        }
    }
    failures.assert_none(&format!("{} resume at the end", adapter.name()));
}

pub(crate) async fn by_header_h2(adapter: Adapter) {
    let context = format!(
        "{} GET /events?count=5 Last-Event-ID: 3 over h2c",
        adapter.name()
    );
    let server = Server::start(adapter).await;
    let (_client, mut reader) =
        open_h2(&server, "/events?count=5", &[("last-event-id", b"3")]).await;
    assert_sse_head(reader.head(), &context);
    let items = reader
        .read_to_end(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_events(&reader, &items, &numbered(4, 2), &context).await;
}
