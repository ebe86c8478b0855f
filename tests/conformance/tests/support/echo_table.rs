//! The `/echo` table, shared by the wire suite (`cases/echo.rs`) and the
//! browser suite (`browser/cases.rs`): one event built from tricky fields
//! per row, and what a reader that follows the spec sees of it.
//!
//! Each row gives the query fields and, worked out by hand from the WHATWG
//! event stream interpretation algorithm, all that such a reader takes from
//! the body: the `retry` it applies, the comments (which a browser ignores,
//! but which must not break anything), the one event it dispatches (type,
//! data with every line end as LF, `lastEventId`) or none, and the last
//! event ID it would send on reconnection. Each suite derives what it can
//! check: the wire suite all of it, with two decoders; the browser suite
//! the dispatched event, or that there is none, which is all `EventSource`
//! exposes.
//!
//! Every row runs in both suites except the large ones, which come in two
//! sizes: [`data_large_rows`] (near 64 KB) for the wire suite only and
//! [`data_moderate_rows`] (about 16 KB) for the browser suite only. The wire
//! suite's offline self-check holds the rows of both to ssekit's own builder
//! and decoder.

use ssekit::decode::MessageEvent;

/// One request to `/echo` and what a reader must see.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) retry: Option<u64>,
    pub(crate) comments: Vec<String>,
    /// The one event dispatched, or none.
    pub(crate) event: Option<MessageEvent>,
    /// The event source's last event ID string after the body.
    pub(crate) last_id: String,
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

    /// The reader dispatches this event.
    fn sees(mut self, event_type: &str, data: &str, last_id: &str) -> Self {
        self.event = Some(MessageEvent {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            last_event_id: last_id.into(),
        });
        self.last_id = last_id.to_owned();
        self
    }

    /// The reader dispatches nothing, but ends with this last event ID.
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
}

/// A row with only `data`, which the reader sees as `seen`.
fn data(name: &str, value: &str, seen: &str) -> Row {
    row(name).param("data", value).sees("message", seen, "")
}

/// Line ends inside data. Both suites.
pub(crate) fn data_line_end_rows() -> Vec<Row> {
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

/// The text of data, and blocks without data. Both suites.
pub(crate) fn data_text_rows() -> Vec<Row> {
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
        // No data field: nothing is dispatched.
        row("data absent, id given")
            .param("id", "7")
            .sees_nothing("7"),
        row("data absent, event given")
            .param("event", "update")
            .sees_nothing(""),
        row("no fields at all").sees_nothing(""),
        data("non-ASCII", "€ 日本語 🎉 ünï", "€ 日本語 🎉 ünï"),
        // A U+FEFF is stripped only at the very start of the stream, and
        // this one is inside a `data:` line.
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

/// Wire suite only: "64 KiB of data", as near as a request target can
/// carry it: the `http` crate (under hyper and actix-web alike) refuses a
/// URI over 65,534 bytes, so each row's target stays just under that,
/// percent-encoding included.
pub(crate) fn data_large_rows() -> Vec<Row> {
    large_rows(65, 63, 62, 2000)
}

/// Browser suite only: large data, moderately. A page could send the wire
/// suite's 64 KB rows too, but they only test the same path at a size where
/// a failure message is hard to read.
pub(crate) fn data_moderate_rows() -> Vec<Row> {
    large_rows(16, 16, 16, 1000)
}

/// Four rows of large data: `one_line` thousand bytes on one line,
/// `lf_lines` and `crlf_lines` lines of a thousand bytes each, and `é€🎉`
/// (nine bytes) `multibyte` times.
fn large_rows(one_line: usize, lf_lines: usize, crlf_lines: usize, multibyte: usize) -> Vec<Row> {
    let one_line_data = "x".repeat(one_line * 1000);
    let lf_data = format!("{}\n", "y".repeat(1000)).repeat(lf_lines);
    let crlf_data = format!("{}\r\n", "z".repeat(1000)).repeat(crlf_lines);
    let crlf_seen = format!("{}\n", "z".repeat(1000)).repeat(crlf_lines);
    let multibyte_data = "é€🎉".repeat(multibyte);
    vec![
        data(
            &format!("{one_line},000 bytes on one line"),
            &one_line_data,
            &one_line_data,
        ),
        data(&format!("{lf_lines} KB in LF lines"), &lf_data, &lf_data),
        data(
            &format!("{crlf_lines} KB in CRLF lines"),
            &crlf_data,
            &crlf_seen,
        ),
        data(
            &format!(
                "{} KB of multi-byte characters",
                multibyte_data.len() / 1000
            ),
            &multibyte_data,
            &multibyte_data,
        ),
    ]
}

/// Ids. Both suites.
pub(crate) fn id_rows() -> Vec<Row> {
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

/// Event types. Both suites (the browser listens for each type with
/// `addEventListener`, and for `message` with `onmessage`).
pub(crate) fn event_name_rows() -> Vec<Row> {
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

/// `retry:` and comments: the event gets through, nothing is forged. Both
/// suites.
pub(crate) fn retry_and_comment_rows() -> Vec<Row> {
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
        row("comment forging an event, no data")
            .param("comment", "x\n\nevent: upd\ndata: forged\n\n")
            .sees_comments(&["x", "", "event: upd", "data: forged", "", ""])
            .sees_nothing(""),
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
