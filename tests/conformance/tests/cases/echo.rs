//! `GET /echo`: one event built from tricky fields, decoded the way a
//! browser's `EventSource` would see it.
//!
//! Each row gives the query fields and, worked out by hand from the WHATWG
//! event stream interpretation algorithm, what a browser sees: the `retry`
//! it applies, the comments (which it ignores, but which must not break
//! anything), the one event it dispatches (type, data with every line end
//! as LF, `lastEventId`) or none, and the last event ID it would send on
//! reconnection. The body is decoded, piece by piece as it arrived, by
//! ssekit's `Decoder` and by eventsource-stream; both must see exactly that.
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

use crate::support::{
    Adapter, BodySource, Failures, PATIENCE, Server, SseReader, decode_with_eventsource_stream,
    event, h1, open_h2, query, sse_head_violations,
};

/// Rows whose request target is longer than this are not sent over h2c:
/// hyper's HTTP/2 server takes header lists of at most 16 KiB by default.
const H2_MAX_TARGET: usize = 8 * 1024;

/// One request to `/echo` and what a browser must see.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    params: Vec<(&'static str, String)>,
    retry: Option<u64>,
    comments: Vec<String>,
    event: Option<MessageEvent>,
    /// The event source's last event ID string after the body.
    last_id: String,
}

fn row(name: &str) -> Row {
    Row {
        name: name.to_owned(),
        params: Vec::new(),
        retry: None,
        comments: Vec::new(),
        event: None,
        last_id: String::new(),
    }
}

impl Row {
    fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_owned()));
        self
    }

    /// The browser dispatches this event.
    fn sees(mut self, event_type: &str, data: &str, last_id: &str) -> Self {
        self.event = Some(event(event_type, data, last_id));
        self.last_id = last_id.to_owned();
        self
    }

    /// The browser dispatches nothing, but ends with this last event ID.
    fn sees_nothing(mut self, last_id: &str) -> Self {
        self.event = None;
        self.last_id = last_id.to_owned();
        self
    }

    fn sees_retry(mut self, ms: u64) -> Self {
        self.retry = Some(ms);
        self
    }

    fn sees_comments(mut self, comments: &[&str]) -> Self {
        self.comments = comments.iter().map(|&c| c.to_owned()).collect();
        self
    }

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

/// A row with only `data`, which the browser sees as `seen`.
fn data(name: &str, value: &str, seen: &str) -> Row {
    row(name).param("data", value).sees("message", seen, "")
}

fn data_line_end_rows() -> Vec<Row> {
    vec![
        data("LF", "a\nb", "a\nb"),
        data("CR", "a\rb", "a\nb"),
        data("CRLF", "a\r\nb", "a\nb"),
        data("LFCR", "a\n\rb", "a\n\nb"),
        data("CR CRLF", "a\r\r\nb", "a\n\nb"),
        data("trailing LF", "a\n", "a\n"),
        data("trailing CR", "a\r", "a\n"),
        data("trailing CRLF", "a\r\n", "a\n"),
        data("trailing LFCR", "a\n\r", "a\n\n"),
        data("leading LF", "\na", "\na"),
        data("leading CR", "\ra", "\na"),
        data("leading CRLF", "\r\na", "\na"),
        data("only LF", "\n", "\n"),
        data("only CR", "\r", "\n"),
        data("only CRLF", "\r\n", "\n"),
        data("only LFCR", "\n\r", "\n\n"),
        data("only CR CR", "\r\r", "\n\n"),
        data("only LF LF LF", "\n\n\n", "\n\n\n"),
        data("blank lines inside", "a\n\n\nb", "a\n\n\nb"),
        data(
            "every mix",
            "1\r2\n3\r\n4\n\r5\r\r\n6\r\n\r\n7",
            "1\n2\n3\n4\n\n5\n\n6\n\n7",
        ),
    ]
}

fn data_text_rows() -> Vec<Row> {
    vec![
        data("plain", "hello", "hello"),
        data("leading spaces", "  two spaces", "  two spaces"),
        data("one space", " ", " "),
        data("leading space on every line", " a\n b\r c", " a\n b\n c"),
        data("trailing spaces", "x  ", "x  "),
        data("leading tab", "\tx", "\tx"),
        data("colons", "a:b: c", "a:b: c"),
        data("leading colon", ": not a comment", ": not a comment"),
        data(
            "looks like fields",
            "id: 666\nevent: forged",
            "id: 666\nevent: forged",
        ),
        data(
            "blank line then fields",
            "x\n\nid: 666\nevent: forged\ndata: forged\n\n",
            "x\n\nid: 666\nevent: forged\ndata: forged\n\n",
        ),
        row("empty data is dispatched")
            .param("data", "")
            .sees("message", "", ""),
        row("data absent, id given")
            .param("id", "7")
            .sees_nothing("7"),
        row("data absent, event given")
            .param("event", "update")
            .sees_nothing(""),
        row("no fields at all").sees_nothing(""),
        data("non-ASCII", "€ 日本語 🎉 ünï", "€ 日本語 🎉 ünï"),
        data("leading U+FEFF", "\u{FEFF}x", "\u{FEFF}x"),
        data("only U+FEFF", "\u{FEFF}", "\u{FEFF}"),
        data("NUL", "a\0b", "a\0b"),
        data(
            "not SSE line ends (U+2028, NEL, VT, FF)",
            "a\u{2028}b\u{85}c\u{b}d\u{c}e",
            "a\u{2028}b\u{85}c\u{b}d\u{c}e",
        ),
        data(
            "URL metacharacters",
            "1+1=2 & 50% #x?y/z",
            "1+1=2 & 50% #x?y/z",
        ),
        data("U+FFFD", "\u{FFFD}", "\u{FFFD}"),
    ]
}

/// "64 KiB of data", as near as a request target can carry it: the `http`
/// crate (under hyper and actix-web alike) refuses a URI over 65,534 bytes,
/// so each row's target stays just under that, percent-encoding included.
fn data_large_rows() -> Vec<Row> {
    let one_line = "x".repeat(65_000);
    let lf_lines = format!("{}\n", "y".repeat(1000)).repeat(63);
    let crlf_lines = format!("{}\r\n", "z".repeat(1000)).repeat(62);
    let crlf_seen = format!("{}\n", "z".repeat(1000)).repeat(62);
    let multibyte = "é€🎉".repeat(2000);
    vec![
        data("65,000 bytes on one line", &one_line, &one_line),
        data("63 KB in LF lines", &lf_lines, &lf_lines),
        data("62 KB in CRLF lines", &crlf_lines, &crlf_seen),
        data("18 KB of multi-byte characters", &multibyte, &multibyte),
    ]
}

fn id_rows() -> Vec<Row> {
    let long = "i".repeat(200);
    vec![
        row("numeric id")
            .param("id", "42")
            .param("data", "x")
            .sees("message", "x", "42"),
        row("non-ASCII id")
            .param("id", "€42")
            .param("data", "x")
            .sees("message", "x", "€42"),
        row("CJK id")
            .param("id", "日本")
            .param("data", "x")
            .sees("message", "x", "日本"),
        row("id with spaces")
            .param("id", " a b ")
            .param("data", "x")
            .sees("message", "x", " a b "),
        row("id with colon")
            .param("id", "a:b")
            .param("data", "x")
            .sees("message", "x", "a:b"),
        row("empty id")
            .param("id", "")
            .param("data", "x")
            .sees("message", "x", ""),
        row("id with U+FEFF")
            .param("id", "\u{FEFF}1")
            .param("data", "x")
            .sees("message", "x", "\u{FEFF}1"),
        row("200-byte id")
            .param("id", &long)
            .param("data", "x")
            .sees("message", "x", &long),
        row("id only")
            .param("id", "only-id")
            .sees_nothing("only-id"),
        row("non-ASCII id only").param("id", "€").sees_nothing("€"),
    ]
}

fn event_name_rows() -> Vec<Row> {
    let long = "e".repeat(200);
    vec![
        row("named")
            .param("event", "update")
            .param("data", "x")
            .sees("update", "x", ""),
        row("empty name means message")
            .param("event", "")
            .param("data", "x")
            .sees("message", "x", ""),
        row("non-ASCII name")
            .param("event", "ünïcødé €")
            .param("data", "x")
            .sees("ünïcødé €", "x", ""),
        row("name with colon")
            .param("event", "a:b")
            .param("data", "x")
            .sees("a:b", "x", ""),
        row("name with colon and space")
            .param("event", "a: b")
            .param("data", "x")
            .sees("a: b", "x", ""),
        row("name with leading space")
            .param("event", " lead")
            .param("data", "x")
            .sees(" lead", "x", ""),
        row("name with NUL")
            .param("event", "a\0b")
            .param("data", "x")
            .sees("a\0b", "x", ""),
        row("name `data`")
            .param("event", "data")
            .param("data", "x")
            .sees("data", "x", ""),
        row("200-byte name")
            .param("event", &long)
            .param("data", "x")
            .sees(&long, "x", ""),
        row("name, id and multi-line data")
            .param("event", "upd")
            .param("id", "9")
            .param("data", "l1\r\nl2")
            .sees("upd", "l1\nl2", "9"),
    ]
}

fn retry_and_comment_rows() -> Vec<Row> {
    vec![
        row("retry")
            .param("retry_ms", "1234")
            .param("data", "x")
            .sees_retry(1234)
            .sees("message", "x", ""),
        row("retry 0")
            .param("retry_ms", "0")
            .param("data", "x")
            .sees_retry(0)
            .sees("message", "x", ""),
        row("retry of an hour")
            .param("retry_ms", "3600000")
            .param("data", "x")
            .sees_retry(3_600_000)
            .sees("message", "x", ""),
        row("retry only")
            .param("retry_ms", "500")
            .sees_retry(500)
            .sees_nothing(""),
        row("comment")
            .param("comment", "hello")
            .param("data", "x")
            .sees_comments(&["hello"])
            .sees("message", "x", ""),
        row("empty comment")
            .param("comment", "")
            .param("data", "x")
            .sees_comments(&[""])
            .sees("message", "x", ""),
        row("comment with LF")
            .param("comment", "a\nb")
            .param("data", "x")
            .sees_comments(&["a", "b"])
            .sees("message", "x", ""),
        row("comment with CRLF and CR")
            .param("comment", "a\r\nb\rc")
            .param("data", "x")
            .sees_comments(&["a", "b", "c"])
            .sees("message", "x", ""),
        row("comment with a blank line")
            .param("comment", "a\n\nb")
            .param("data", "x")
            .sees_comments(&["a", "", "b"])
            .sees("message", "x", ""),
        row("comment forging an event")
            .param("comment", "x\n\ndata: forged\n\n")
            .param("data", "real")
            .sees_comments(&["x", "", "data: forged", "", ""])
            .sees("message", "real", ""),
        row("comment only")
            .param("comment", "just this")
            .sees_comments(&["just this"])
            .sees_nothing(""),
        row("every field")
            .param("retry_ms", "500")
            .param("comment", "c")
            .param("event", "upd")
            .param("id", "9")
            .param("data", "d1\nd2")
            .sees_retry(500)
            .sees_comments(&["c"])
            .sees("upd", "d1\nd2", "9"),
    ]
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
/// that disagrees here is a mistake in the table, not in a server.
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
