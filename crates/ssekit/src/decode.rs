//! An incremental, spec-exact Server-Sent Events decoder.
//!
//! [`Decoder`] implements the WHATWG HTML [event stream interpretation]
//! algorithm the way a browser's `EventSource` runs it: bytes in, decoded as
//! UTF-8 with replacement, lines ended by CRLF, LF or CR, one leading BOM
//! stripped, events dispatched on blank lines and an unterminated last event
//! discarded. Chunks may be split anywhere, including inside a CRLF pair, a
//! BOM or a multi-byte UTF-8 sequence.
//!
//! Besides the events it also reports comments and `retry` values, in stream
//! order, and it bounds memory with a per-event size limit that yields a
//! [`DecodeError`] instead of growing without end.
//!
//! ```
//! use ssekit::decode::{Decoder, Item, MessageEvent};
//!
//! let mut decoder = Decoder::new();
//! let mut items = decoder.feed(b": hi\ndata: hel");
//! items.extend(decoder.feed(b"lo\r"));
//! items.extend(decoder.feed(b"\n\r\n"));
//! assert_eq!(
//!     items,
//!     vec![
//!         Ok(Item::Comment("hi".to_owned())),
//!         Ok(Item::Event(MessageEvent {
//!             event_type: "message".to_owned(),
//!             data: "hello".to_owned(),
//!             last_event_id: "".into(),
//!         })),
//!     ]
//! );
//! ```
//!
//! [event stream interpretation]: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation

use std::borrow::Cow;
use std::fmt;
use std::mem;
use std::sync::Arc;
use std::time::Duration;

use memchr::{memchr, memchr2};

/// The default for [`Decoder::with_max_event_size`]: 16 MiB.
const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One thing the decoder found, in stream order.
///
/// ```
/// use std::time::Duration;
/// use ssekit::decode::{decode_all, Item};
///
/// let items = decode_all(b"retry: 1500\n: keep-alive\n").unwrap();
/// assert_eq!(
///     items,
///     vec![
///         Item::Retry(Duration::from_millis(1500)),
///         Item::Comment("keep-alive".to_owned()),
///     ]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A dispatched event, as a browser's `EventSource` delivers it.
    Event(MessageEvent),
    /// A comment line's text (after `:` and one optional leading space).
    Comment(String),
    /// A valid `retry` field: the new reconnection time.
    ///
    /// Reported when the field's line is read, not at the next blank line,
    /// because a browser applies it at once too.
    Retry(Duration),
}

/// An event as `EventSource` delivers it (`MessageEvent.type`, `.data`,
/// `.lastEventId`).
///
/// ```
/// use ssekit::decode::{decode_all, Item, MessageEvent};
///
/// let items = decode_all(b"id: 7\nevent: tick\ndata: a\ndata: b\n\n").unwrap();
/// assert_eq!(
///     items,
///     vec![Item::Event(MessageEvent {
///         event_type: "tick".to_owned(),
///         data: "a\nb".to_owned(),
///         last_event_id: "7".into(),
///     })]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// The event type: the last `event` field's value, or `"message"` when
    /// there was none or it was empty.
    pub event_type: String,
    /// The `data` fields' values joined with line feeds.
    pub data: String,
    /// The last event ID at dispatch. It persists across events until an
    /// `id` field changes it, so it need not come from this event's fields.
    ///
    /// Shared, not copied: every event after one `id` holds the same
    /// string, so a long id followed by many small events costs one id, not
    /// one per event.
    pub last_event_id: Arc<str>,
}

/// An event, or the line being read, outgrew the decoder's size limit.
///
/// The decoder discarded that event (everything up to the next blank line)
/// and went on decoding after it.
///
/// ```
/// use ssekit::decode::{Decoder, Item};
///
/// let mut decoder = Decoder::with_max_event_size(8);
/// let items = decoder.feed(b"data: far too long\n\ndata: ok\n\n");
/// let err = items[0].clone().unwrap_err();
/// assert_eq!(err.limit(), 8);
/// assert!(matches!(&items[1], Ok(Item::Event(e)) if e.data == "ok"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    limit: usize,
}

impl DecodeError {
    /// The limit that was exceeded, in bytes.
    ///
    /// ```
    /// # use ssekit::Decoder;
    /// let mut decoder = Decoder::with_max_event_size(3);
    /// let err = decoder.feed(b"data: 1234").remove(0).unwrap_err();
    /// assert_eq!(err.limit(), 3);
    /// ```
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SSE event exceeds the decoder's limit of {} bytes (pending line plus data buffer); \
             the event was discarded up to the next blank line. If the server legitimately sends \
             events this large, raise the limit with `Decoder::with_max_event_size`",
            self.limit
        )
    }
}

impl std::error::Error for DecodeError {}

/// Where the decoder stands on the stream's optional leading BOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    /// At stream start; this many bytes of the BOM have been seen and held back.
    Pending(usize),
    /// Past the stream start: a BOM now is ordinary content.
    Done,
}

/// Whether the decoder is discarding an oversize event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    No,
    /// Discarding lines until a blank one. `mid_line` tells whether the
    /// current line already has bytes, which rules it out as the blank line.
    Yes {
        mid_line: bool,
    },
}

/// An incremental decoder for `text/event-stream` bodies.
///
/// Feed it the body's chunks as they arrive, split anywhere; it returns
/// every [`Item`] each chunk completes. Decoding never panics and takes time
/// linear in the input: complete lines are parsed straight from the chunk,
/// and only an unterminated last line is copied to be continued later.
///
/// One decoder decodes one HTTP response. To model a browser's reconnection,
/// start a new decoder and seed it with the old one's
/// [`dispatched_last_event_id`](Self::dispatched_last_event_id) through
/// [`set_last_event_id`](Self::set_last_event_id).
///
/// ```
/// use std::time::Duration;
/// use ssekit::decode::{Item, MessageEvent};
/// use ssekit::Decoder;
///
/// let mut decoder = Decoder::new();
/// let mut items = Vec::new();
/// for chunk in [&b"\xEF\xBB"[..], b"\xBFretry: 300\nid: 1\nda", b"ta: x\n\ndata: partial"] {
///     for item in decoder.feed(chunk) {
///         items.push(item?);
///     }
/// }
/// assert_eq!(
///     items,
///     vec![
///         Item::Retry(Duration::from_millis(300)),
///         Item::Event(MessageEvent {
///             event_type: "message".to_owned(),
///             data: "x".to_owned(),
///             last_event_id: "1".into(),
///         }),
///     ]
/// );
/// assert_eq!(decoder.retry(), Some(Duration::from_millis(300)));
/// // The stream ended without a blank line: a browser drops "partial" too.
/// decoder.finish();
/// # Ok::<(), ssekit::decode::DecodeError>(())
/// ```
#[derive(Clone)]
pub struct Decoder {
    max_event_size: usize,
    bom: Bom,
    /// The previous chunk ended in CR, so an LF opening this one belongs to
    /// that line end rather than ending an empty line.
    pending_cr: bool,
    /// The bytes of an unterminated line, kept until a later chunk ends it.
    /// Bytes, not text, so a chunk may split a UTF-8 sequence.
    line: Vec<u8>,
    skip: Skip,
    data: String,
    event_type: String,
    last_event_id: Arc<str>,
    /// The last event ID buffer as of the last dispatch, kept only while an
    /// `id` field has changed the buffer since.
    dispatched_last_event_id: Option<Arc<str>>,
    retry: Option<Duration>,
}

impl fmt::Debug for Decoder {
    // The buffers can be megabytes long; their sizes say enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("max_event_size", &self.max_event_size)
            .field("bom", &self.bom)
            .field("pending_cr", &self.pending_cr)
            .field("pending_line_len", &self.line.len())
            .field("skip", &self.skip)
            .field("data_len", &self.data.len())
            .field("event_type_len", &self.event_type.len())
            .field("last_event_id_len", &self.last_event_id.len())
            .field("retry", &self.retry)
            .finish()
    }
}

impl Default for Decoder {
    /// The same as [`Decoder::new`].
    ///
    /// ```
    /// let decoder = ssekit::Decoder::default();
    /// assert_eq!(decoder.max_event_size(), 16 * 1024 * 1024);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default size limit of 16 MiB.
    ///
    /// ```
    /// let mut decoder = ssekit::Decoder::new();
    /// assert_eq!(decoder.feed(b"data: hi\n\n").len(), 1);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A decoder whose pending line plus data buffer may hold at most
    /// `limit` bytes.
    ///
    /// The limit counts the raw bytes of the line being read (field name
    /// included) plus the data accumulated for the current event. Going past
    /// it yields a [`DecodeError`] and the event is discarded up to the next
    /// blank line; decoding then goes on. Text is decoded with replacement,
    /// and an invalid byte becomes the 3-byte U+FFFD, so the text of an
    /// event made of invalid bytes can reach three times `limit`.
    ///
    /// ```
    /// use ssekit::Decoder;
    ///
    /// let mut decoder = Decoder::with_max_event_size(16);
    /// let items = decoder.feed(b"data: 0123456789\n\ndata: 0123456789abcdef\n\n");
    /// assert!(items[0].is_ok());
    /// assert!(items[1].is_err());
    /// assert_eq!(items.len(), 2);
    /// ```
    #[must_use]
    pub fn with_max_event_size(limit: usize) -> Self {
        Self {
            max_event_size: limit,
            bom: Bom::Pending(0),
            pending_cr: false,
            line: Vec::new(),
            skip: Skip::No,
            data: String::new(),
            event_type: String::new(),
            last_event_id: Arc::from(""),
            dispatched_last_event_id: None,
            retry: None,
        }
    }

    /// The size limit this decoder enforces, in bytes.
    ///
    /// ```
    /// assert_eq!(ssekit::Decoder::with_max_event_size(1024).max_event_size(), 1024);
    /// ```
    #[must_use]
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// Feeds a chunk and returns every item it completes, in stream order.
    ///
    /// An event that outgrows the size limit shows up as an `Err` at its
    /// place in the order, and the items before and after it are still
    /// there: nothing is dropped silently. Use [`feed_into`](Self::feed_into)
    /// to reuse one vector across chunks.
    ///
    /// ```
    /// use ssekit::decode::Item;
    ///
    /// let mut decoder = ssekit::Decoder::new();
    /// assert!(decoder.feed(b"data: a").is_empty());
    /// let items = decoder.feed(b"\n\n");
    /// assert!(matches!(&items[..], [Ok(Item::Event(e))] if e.data == "a"));
    /// ```
    #[must_use = "the decoded items are returned, not kept by the decoder"]
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Item, DecodeError>> {
        let mut out = Vec::new();
        self.feed_into(chunk, &mut out);
        out
    }

    /// Feeds a chunk and appends every item it completes to `out`, in stream
    /// order, an oversize event as an `Err` in its place.
    ///
    /// ```
    /// use ssekit::decode::Item;
    ///
    /// let mut decoder = ssekit::Decoder::with_max_event_size(10);
    /// let mut out = Vec::new();
    /// decoder.feed_into(b": one\ndata: 0123456789\n", &mut out);
    /// decoder.feed_into(b"data: still skipped\n\n: two\n", &mut out);
    /// assert_eq!(out.len(), 3);
    /// assert_eq!(out[0], Ok(Item::Comment("one".to_owned())));
    /// assert!(out[1].is_err());
    /// assert_eq!(out[2], Ok(Item::Comment("two".to_owned())));
    /// ```
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<Result<Item, DecodeError>>) {
        let mut rest = self.strip_bom(chunk);
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        while let Some(eol) = memchr2(b'\r', b'\n', rest) {
            let (line, tail) = rest.split_at(eol);
            let Some((&end, after)) = tail.split_first() else {
                break;
            };
            rest = after;
            if end == b'\r' {
                match rest.split_first() {
                    Some((b'\n', after_lf)) => rest = after_lf,
                    Some(_) => {}
                    // Only the next chunk can tell whether this CR is half of a CRLF.
                    None => self.pending_cr = true,
                }
            }
            self.end_line(line, out);
        }
        self.hold_partial(rest, out);
    }

    /// Ends the stream.
    ///
    /// An event the stream did not end with a blank line is discarded, as a
    /// browser discards it; nothing is emitted. Read
    /// [`dispatched_last_event_id`](Self::dispatched_last_event_id) and
    /// [`retry`](Self::retry) first if a reconnection needs them.
    ///
    /// ```
    /// let mut decoder = ssekit::Decoder::new();
    /// assert!(decoder.feed(b"data: never dispatched\n").is_empty());
    /// decoder.finish();
    /// ```
    pub fn finish(self) {
        drop(self);
    }

    /// The last event ID buffer: the value of the most recent valid `id`
    /// field, even one whose event has not been dispatched yet.
    ///
    /// Dispatching does not reset it; an `id` field with an empty value does.
    ///
    /// ```
    /// let mut decoder = ssekit::Decoder::new();
    /// let _ = decoder.feed(b"id: 5\ndata: a\n\ndata: b\n\n");
    /// assert_eq!(decoder.last_event_id(), "5");
    /// let _ = decoder.feed(b"id\n");
    /// assert_eq!(decoder.last_event_id(), "");
    /// ```
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The spec's "last event ID string" of the event source: the last event
    /// ID buffer as it was at the most recent blank line.
    ///
    /// This is what a browser sends as `Last-Event-ID` when it reconnects.
    /// It differs from [`last_event_id`](Self::last_event_id) between an
    /// `id` field and the blank line that ends its event, and it is also set
    /// by a blank line that dispatches no event (an `id` without `data`).
    ///
    /// ```
    /// let mut decoder = ssekit::Decoder::new();
    /// let _ = decoder.feed(b"id: 1\n\nid: 2\ndata: unfinished\n");
    /// assert_eq!(decoder.last_event_id(), "2");
    /// assert_eq!(decoder.dispatched_last_event_id(), "1");
    /// ```
    #[must_use]
    pub fn dispatched_last_event_id(&self) -> &str {
        self.dispatched_last_event_id
            .as_deref()
            .map_or(&*self.last_event_id, |id| id)
    }

    /// Seeds the last event ID, for a decoder that continues a reconnected
    /// stream.
    ///
    /// Browsers carry the event source's last event ID over into the new
    /// connection: events on it report that ID until the server sends an
    /// `id` field. Call this before feeding the new connection's first chunk.
    ///
    /// ```
    /// let mut decoder = ssekit::Decoder::new();
    /// decoder.set_last_event_id("41");
    /// let items = decoder.feed(b"data: resumed\n\n");
    /// assert!(matches!(
    ///     &items[..],
    ///     [Ok(ssekit::decode::Item::Event(event))] if &*event.last_event_id == "41"
    /// ));
    /// ```
    pub fn set_last_event_id(&mut self, id: impl Into<String>) {
        self.last_event_id = Arc::from(id.into());
        self.dispatched_last_event_id = None;
    }

    /// The reconnection time set by the last valid `retry` field, if any.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut decoder = ssekit::Decoder::new();
    /// let _ = decoder.feed(b"retry: 2000\nretry: 1000x\n");
    /// assert_eq!(decoder.retry(), Some(Duration::from_millis(2000)));
    /// ```
    #[must_use]
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Consumes the stream's leading BOM, however the chunks split it, and
    /// returns the rest of the chunk.
    fn strip_bom<'a>(&mut self, mut chunk: &'a [u8]) -> &'a [u8] {
        while let Bom::Pending(seen) = self.bom {
            let Some((&byte, rest)) = chunk.split_first() else {
                return chunk;
            };
            if BOM.get(seen) == Some(&byte) {
                chunk = rest;
                let seen = seen.saturating_add(1);
                self.bom = if seen >= BOM.len() {
                    Bom::Done
                } else {
                    Bom::Pending(seen)
                };
            } else {
                self.bom = Bom::Done;
                // The held-back bytes were content after all. They are a BOM
                // prefix, so neither CR nor LF: they start the first line.
                self.line
                    .extend_from_slice(BOM.get(..seen).unwrap_or_default());
            }
        }
        chunk
    }

    /// Handles a line end; `tail` is the part of the line in this chunk.
    fn end_line(&mut self, tail: &[u8], out: &mut Vec<Result<Item, DecodeError>>) {
        if let Skip::Yes { mid_line } = self.skip {
            if mid_line || !tail.is_empty() {
                self.skip = Skip::Yes { mid_line: false };
            } else {
                self.skip = Skip::No;
                self.dispatch(out);
            }
            return;
        }
        if self.line.is_empty() {
            if self.exceeds_limit(tail.len()) {
                self.overflow(false, out);
            } else {
                self.process_line(tail, out);
            }
            return;
        }
        if self.exceeds_limit(self.line.len().saturating_add(tail.len())) {
            self.line.clear();
            self.overflow(false, out);
            return;
        }
        let mut line = mem::take(&mut self.line);
        line.extend_from_slice(tail);
        self.process_line(&line, out);
        line.clear();
        // Hand the allocation back for the next partial line.
        self.line = line;
    }

    /// Keeps the start of a line that a later chunk will end.
    fn hold_partial(&mut self, partial: &[u8], out: &mut Vec<Result<Item, DecodeError>>) {
        if partial.is_empty() {
            return;
        }
        if let Skip::Yes { .. } = self.skip {
            self.skip = Skip::Yes { mid_line: true };
            return;
        }
        if self.exceeds_limit(self.line.len().saturating_add(partial.len())) {
            self.line.clear();
            self.overflow(true, out);
            return;
        }
        self.line.extend_from_slice(partial);
    }

    fn exceeds_limit(&self, line_len: usize) -> bool {
        line_len.saturating_add(self.data.len()) > self.max_event_size
    }

    /// Reports an oversize event and discards it up to the next blank line.
    fn overflow(&mut self, mid_line: bool, out: &mut Vec<Result<Item, DecodeError>>) {
        self.data.clear();
        self.event_type.clear();
        self.skip = Skip::Yes { mid_line };
        out.push(Err(DecodeError {
            limit: self.max_event_size,
        }));
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<Result<Item, DecodeError>>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        // Splitting on bytes before decoding is exact: ':' and ' ' are ASCII,
        // never part of a multi-byte sequence, and they end any incomplete
        // sequence before them just as the stream decoder would.
        let (name, value) = match memchr(b':', line) {
            Some(colon) => {
                let (name, rest) = line.split_at(colon);
                let value = rest.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"" => out.push(Ok(Item::Comment(decode(value).into_owned()))),
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            b"data" => {
                self.data.push_str(&decode(value));
                self.data.push('\n');
            }
            b"id" if memchr(0, value).is_none() => {
                let new: Arc<str> = Arc::from(decode(value));
                let old = mem::replace(&mut self.last_event_id, new);
                self.dispatched_last_event_id.get_or_insert(old);
            }
            b"retry" => {
                if let Some(ms) = parse_retry(value) {
                    let retry = Duration::from_millis(ms);
                    self.retry = Some(retry);
                    out.push(Ok(Item::Retry(retry)));
                }
            }
            // Unknown fields, and an `id` containing NULL, are ignored.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Result<Item, DecodeError>>) {
        self.dispatched_last_event_id = None;
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event_type = if self.event_type.is_empty() {
            "message".to_owned()
        } else {
            mem::take(&mut self.event_type)
        };
        out.push(Ok(Item::Event(MessageEvent {
            event_type,
            data: mem::take(&mut self.data),
            last_event_id: Arc::clone(&self.last_event_id),
        })));
    }
}

/// Decodes a whole `text/event-stream` body at once.
///
/// A last event that the body does not end with a blank line is dropped, as
/// a browser drops it. The first oversize event (see
/// [`Decoder::with_max_event_size`]; the limit here is the default 16 MiB)
/// fails the whole call: use a [`Decoder`] to keep the items around it.
///
/// ```
/// use ssekit::decode::{decode_all, Item};
///
/// let items = decode_all(b"data: one\n\ndata: two\r\n\r\ndata: cut off")?;
/// let data: Vec<_> = items
///     .iter()
///     .filter_map(|item| match item {
///         Item::Event(event) => Some(event.data.as_str()),
///         _ => None,
///     })
///     .collect();
/// assert_eq!(data, ["one", "two"]);
/// # Ok::<(), ssekit::decode::DecodeError>(())
/// ```
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Item>, DecodeError> {
    Decoder::new().feed(bytes).into_iter().collect()
}

/// UTF-8 decode with replacement, as the spec's stream decoder does.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A `retry` value: only ASCII digits, at least one. A value too large for
/// `u64` milliseconds is ignored like any other unusable value.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &byte| {
        let digit = match byte {
            b'0'..=b'9' => u64::from(byte - b'0'),
            _ => return None,
        };
        acc.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a 1 MiB id then an 8 KiB chunk of `data\n\n` once
    /// asked for 1.4 GB, one copy of the id per event.
    #[test]
    fn a_long_id_is_shared_by_the_events_after_it() {
        let mut decoder = Decoder::new();
        let mut body = b"id: ".to_vec();
        body.extend(std::iter::repeat_n(b'x', 1 << 20));
        body.push(b'\n');
        assert!(decoder.feed(&body).is_empty());
        let events: Vec<MessageEvent> = decoder
            .feed(&b"data\n\n".repeat(1366))
            .into_iter()
            .map(|item| match item {
                Ok(Item::Event(event)) => event,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(events.len(), 1366);
        assert_eq!(events[0].last_event_id.len(), 1 << 20);
        assert!(
            events
                .iter()
                .all(|event| Arc::ptr_eq(&event.last_event_id, &events[0].last_event_id))
        );
    }

    fn items(decoder: &mut Decoder, chunk: &[u8]) -> Vec<Item> {
        decoder
            .feed(chunk)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("no size error")
    }

    fn event(data: &str) -> Item {
        Item::Event(MessageEvent {
            event_type: "message".to_owned(),
            data: data.to_owned(),
            last_event_id: "".into(),
        })
    }

    #[test]
    fn parse_retry_accepts_only_digits() {
        assert_eq!(parse_retry(b"0"), Some(0));
        assert_eq!(parse_retry(b"02000"), Some(2000));
        assert_eq!(parse_retry(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_retry(b"18446744073709551616"), None);
        assert_eq!(parse_retry(b""), None);
        assert_eq!(parse_retry(b" 5"), None);
        assert_eq!(parse_retry(b"+5"), None);
        assert_eq!(parse_retry(b"5x"), None);
        assert_eq!(parse_retry("５".as_bytes()), None);
    }

    #[test]
    fn bom_prefix_then_other_byte_is_content() {
        let mut decoder = Decoder::new();
        assert!(items(&mut decoder, b"\xEF\xBB").is_empty());
        assert_eq!(decoder.bom, Bom::Pending(2));
        // The held-back bytes turn the field name into "\u{FFFD}data", so the
        // line is an unknown field.
        assert!(items(&mut decoder, b"data: x\n\n").is_empty());
        assert_eq!(decoder.bom, Bom::Done);
    }

    #[test]
    fn empty_chunks_change_nothing() {
        let mut decoder = Decoder::new();
        assert!(items(&mut decoder, b"").is_empty());
        assert_eq!(decoder.bom, Bom::Pending(0));
        assert!(items(&mut decoder, b"data: a\r").is_empty());
        assert!(items(&mut decoder, b"").is_empty());
        assert!(decoder.pending_cr);
        assert_eq!(items(&mut decoder, b"\n\n"), vec![event("a")]);
    }

    #[test]
    fn lone_cr_at_chunk_end_then_other_byte() {
        let mut decoder = Decoder::new();
        assert!(items(&mut decoder, b"data: a\r").is_empty());
        assert_eq!(items(&mut decoder, b"\r"), vec![event("a")]);
    }

    #[test]
    fn limit_counts_pending_line_plus_data() {
        let mut decoder = Decoder::with_max_event_size(12);
        // "data: 12345" is 11 bytes; data buffer becomes "12345\n" (6).
        assert!(items(&mut decoder, b"data: 12345\n").is_empty());
        assert_eq!(decoder.data.len(), 6);
        // 6 + 6 = 12: still within.
        assert!(items(&mut decoder, b"data:1").is_empty());
        let out = decoder.feed(b"2");
        assert_eq!(out, vec![Err(DecodeError { limit: 12 })]);
        assert_eq!(decoder.skip, Skip::Yes { mid_line: true });
        assert!(decoder.data.is_empty() && decoder.line.is_empty());
        // The rest of the oversize line, then a non-blank line, are skipped.
        assert!(decoder.feed(b"3\ndata: no\n").is_empty());
        assert_eq!(decoder.feed(b"\ndata: yes\n\n"), vec![Ok(event("yes"))]);
    }

    #[test]
    fn error_display_names_the_limit_and_the_remedy() {
        let text = DecodeError { limit: 42 }.to_string();
        assert!(text.contains("42 bytes"), "{text}");
        assert!(text.contains("with_max_event_size"), "{text}");
    }

    #[test]
    fn zero_limit_rejects_every_non_blank_line() {
        let mut decoder = Decoder::with_max_event_size(0);
        assert_eq!(decoder.feed(b"\n\n\n"), vec![]);
        assert_eq!(
            decoder.feed(b"\xEFdata: a\n\n:x\n\n"),
            vec![Err(DecodeError { limit: 0 }), Err(DecodeError { limit: 0 })]
        );
    }

    #[test]
    fn debug_shows_sizes_not_contents() {
        let mut decoder = Decoder::new();
        let _ = decoder.feed(b"data: secret\n");
        let debug = format!("{decoder:?}");
        assert!(debug.contains("data_len: 7"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
