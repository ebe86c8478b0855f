//! `GET /echo`: one event built from tricky fields, decoded the way a
//! browser's `EventSource` would see it.
//!
//! The rows are the echo table shared with the browser suite
//! (`support/echo_table.rs`): the query fields and, worked out by hand from
//! the WHATWG event stream interpretation algorithm, the `retry` a browser
//! applies, the comments, the one event it dispatches or none, and the last
//! event ID it would send on reconnection. The body is decoded, piece by
//! piece as it arrived, by ssekit's `Decoder` and by eventsource-stream;
//! both must see exactly that.
//!
//! Where eventsource-stream cannot show something, only ssekit's view is
//! asserted:
//! - it hides comments;
//! - it reports `retry` only on a dispatched event whose block holds the
//!   `retry:` line, so a `retry:` in a block of its own (or with no data)
//!   is lost to it: the retries it does report must match, no more;
//! - it exposes no "last event ID" for a block that dispatches nothing (an
//!   `id` without `data`).
//!
//! Its one known divergence from the spec on input like ours, a panic on a
//! leading BOM in the first piece (it slices one byte off a three-byte
//! character), cannot happen here: every echo body starts with a field name.

use std::time::Duration;

use ssekit::decode::{Item, MessageEvent};
use ssekit::framing::Boundaries;

use crate::support::echo_table::{
    Row, data_large_rows, data_line_end_rows, data_moderate_rows, data_text_rows, event_name_rows,
    id_rows, retry_and_comment_rows,
};
use crate::support::{
    Adapter, BodySource, Failures, PATIENCE, Server, SseReader, decode_with_eventsource_stream, h1,
    open_h2, query, sse_head_violations,
};

/// Rows whose request target is longer than this are not sent over h2c:
/// hyper's HTTP/2 server takes header lists of at most 16 KiB by default.
const H2_MAX_TARGET: usize = 8 * 1024;

/// The wire suite's view of a row: its request and the decoder's items.
impl Row {
    fn target(&self) -> String {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        format!("/echo?{}", query(&params))
    }

    /// ssekit's `Decoder` items, in order: retry, comments, event.
    fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        items.extend(self.retry.map(|ms| Item::Retry(Duration::from_millis(ms))));
        items.extend(self.comments.iter().cloned().map(Item::Comment));
        items.extend(self.event.clone().map(Item::Event));
        items
    }
}

/// Checks one response against its row; returns every mismatch.
async fn check<B: BodySource>(row: &Row, reader: &mut SseReader<B>, context: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let violations = sse_head_violations(reader.head());
    if !violations.is_empty() {
        failures.push(format!(
            "{context}: head: {violations:?}\n{}",
            reader.head().dump()
        ));
        return failures;
    }
    let items = match reader.read_to_end(PATIENCE).await {
        Ok(items) => items,
        Err(err) => {
            failures.push(format!("{context}: {err}"));
            return failures;
        }
    };
    let body = reader.raw_text();
    let ours: Vec<Item> = items.into_iter().map(|timed| timed.item).collect();
    if ours != row.items() {
        failures.push(format!(
            "{context}: ssekit's Decoder saw\n    {ours:?}\n  expected\n    {:?}\n  body {body:?}",
            row.items()
        ));
    }
    if reader.dispatched_last_event_id() != row.last_id {
        failures.push(format!(
            "{context}: last event ID after the body is {:?}, expected {:?}; body {body:?}",
            reader.dispatched_last_event_id(),
            row.last_id
        ));
    }
    let mut boundaries = Boundaries::new();
    boundaries.scan(&reader.raw());
    if !boundaries.at_boundary() {
        failures.push(format!("{context}: the body ends inside a block: {body:?}"));
    }
    match decode_with_eventsource_stream(&reader.chunks).await {
        Ok((theirs, retries)) => {
            let expected: Vec<MessageEvent> = row.event.iter().cloned().collect();
            if theirs != expected {
                failures.push(format!(
                    "{context}: eventsource-stream saw {theirs:?}, expected {expected:?}; body {body:?}"
                ));
            }
            let expected_retry = row.retry.map(Duration::from_millis);
            if retries.iter().any(|retry| Some(*retry) != expected_retry) {
                failures.push(format!(
                    "{context}: eventsource-stream saw retries {retries:?}, expected {expected_retry:?}"
                ));
            }
        }
        Err(err) => failures.push(format!("{context}: {err}; body {body:?}")),
    }
    failures
}

async fn run_http1(adapter: Adapter, rows: Vec<Row>, group: &str) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    for row in rows {
        let target = row.target();
        let shown = if target.len() > 200 {
            format!("{}…", &target[..200])
        } else {
            target.clone()
        };
        let context = format!("row {:?} (GET {shown})", row.name);
        let request = h1::Request::get(target.clone()).header("Accept", "text/event-stream");
        let mut response = match tokio::time::timeout(PATIENCE, request.send(server.addr)).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                failures.push(format!("{context}: {err}"));
                continue;
            }
            Err(_) => {
                failures.push(format!("{context}: no response head within {PATIENCE:?}"));
                continue;
            }
        };
        if response.head.status != 200 {
            let chunks = crate::support::read_body(&mut response, PATIENCE)
                .await
                .unwrap_or_default();
            let body = crate::support::decompress(&response.head, &crate::support::concat(&chunks))
                .unwrap_or_default();
            failures.push(format!(
                "{context}: status {}, body {:?}",
                response.head.status,
                String::from_utf8_lossy(&body)
            ));
            continue;
        }
        let mut reader = SseReader::new(response);
        for failure in check(&row, &mut reader, &context).await {
            failures.push(failure);
        }
        let end = reader.body.end.clone();
        failures.check(end.as_ref().is_some_and(h1::End::is_clean_chunked), || {
            format!("{context}: the body did not end with a clean `0\\r\\n\\r\\n`: {end:?}")
        });
    }
    failures.assert_none(&format!("{} /echo {group} over HTTP/1.1", adapter.name()));
}

pub(crate) async fn data_line_ends(adapter: Adapter) {
    run_http1(adapter, data_line_end_rows(), "data line ends").await;
}

pub(crate) async fn data_text(adapter: Adapter) {
    run_http1(adapter, data_text_rows(), "data text").await;
}

pub(crate) async fn data_large(adapter: Adapter) {
    run_http1(adapter, data_large_rows(), "large data").await;
}

pub(crate) async fn ids(adapter: Adapter) {
    run_http1(adapter, id_rows(), "ids").await;
}

pub(crate) async fn event_names(adapter: Adapter) {
    run_http1(adapter, event_name_rows(), "event names").await;
}

pub(crate) async fn retry_and_comments(adapter: Adapter) {
    run_http1(adapter, retry_and_comment_rows(), "retry and comments").await;
}

/// Every row short enough for hyper's default h2 header limit, over h2c.
pub(crate) async fn every_short_row_h2(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut failures = Failures::default();
    let rows = [
        data_line_end_rows(),
        data_text_rows(),
        data_large_rows(),
        id_rows(),
        event_name_rows(),
        retry_and_comment_rows(),
    ]
    .concat();
    for row in rows
        .into_iter()
        .filter(|row| row.target().len() <= H2_MAX_TARGET)
    {
        let target = row.target();
        let context = format!("row {:?} (GET {target} over h2c)", row.name);
        let (_client, mut reader) = open_h2(&server, &target, &[]).await;
        if reader.head().status != 200 {
            failures.push(format!("{context}: status {}", reader.head().status));
            continue;
        }
        for failure in check(&row, &mut reader, &context).await {
            failures.push(failure);
        }
    }
    failures.assert_none(&format!("{} /echo over h2c", adapter.name()));
}

/// The rows must hold what they claim: the expected view is derived by hand,
/// so check it against ssekit's own builder and decoder too, offline. A row
/// that disagrees here is a mistake in the table, not in a server. The
/// browser suite's moderately large rows are checked here too.
#[test]
fn rows_agree_with_the_builder_and_decoder() {
    for row in data_large_rows() {
        assert!(
            row.target().len() <= 65_534,
            "row {:?} is too long for a URI",
            row.name
        );
    }
    let rows = [
        data_line_end_rows(),
        data_text_rows(),
        data_large_rows(),
        data_moderate_rows(),
        id_rows(),
        event_name_rows(),
        retry_and_comment_rows(),
    ]
    .concat();
    for row in rows {
        let mut wire = Vec::new();
        let get = |name: &str| {
            row.params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(ms) = get("retry_ms") {
            let ms: u64 = ms.parse().unwrap();
            wire.extend_from_slice(
                &ssekit::Event::default()
                    .retry(Duration::from_millis(ms))
                    .encode(),
            );
        }
        if let Some(comment) = get("comment") {
            wire.extend_from_slice(&ssekit::Event::default().comment(comment).encode());
        }
        let mut built = ssekit::Event::default();
        if let Some(event) = get("event") {
            built = built.event(event).unwrap();
        }
        if let Some(id) = get("id") {
            built = built.id(id).unwrap();
        }
        if let Some(data) = get("data") {
            built = built.data(data);
        }
        wire.extend_from_slice(&built.encode());
        let mut decoder = ssekit::Decoder::new();
        let items: Vec<Item> = decoder
            .feed(&wire)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(items, row.items(), "row {:?}", row.name);
        assert_eq!(
            decoder.dispatched_last_event_id(),
            row.last_id,
            "row {:?}",
            row.name
        );
        // eventsource-stream, fed the same bytes in small pieces (it parses
        // the open line again on every piece, so not too small for 64 KiB).
        let chunks: Vec<crate::support::Chunk> = wire
            .chunks((wire.len() / 64).max(7))
            .map(|piece| crate::support::Chunk {
                data: piece.to_vec(),
                at: tokio::time::Instant::now(),
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let (theirs, _) = runtime
            .block_on(decode_with_eventsource_stream(&chunks))
            .unwrap();
        let expected: Vec<MessageEvent> = row.event.iter().cloned().collect();
        assert_eq!(
            theirs, expected,
            "row {:?} with eventsource-stream",
            row.name
        );
    }
}
