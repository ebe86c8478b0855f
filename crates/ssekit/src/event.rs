use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::EventError;

/// Room left after the first field, so that the short fields which usually
/// follow it (`id`, `event`, `retry`) and the closing blank line fit without
/// a second allocation.
const HEADROOM: usize = 64;

/// One server-sent event, built field by field and encoded as it is built.
///
/// Every field is written to the event's buffer the moment it is set, in the
/// order the builder calls come, so [`Event::encode`] only appends the closing
/// blank line and hands the buffer over: one allocation for a typical event,
/// and no copy.
///
/// - [`data`](Event::data) accepts any string. It is split on CR, LF and CRLF
///   into `data:` lines, each written as `data: ` with the space, so that a
///   leading space survives and every line end reaches the browser as LF.
///   Empty data is still an event: the browser dispatches it.
/// - [`id`](Event::id) refuses CR, LF and NUL; [`event`](Event::event) refuses
///   CR and LF. Either would end the field early and let the rest of the
///   value forge fields of its own, so they are errors, never rewrites.
/// - Calling a setter twice writes the field twice. For `data` that appends
///   lines (the browser joins them with LF); for `id`, `event` and `retry` the
///   browser keeps the last one.
///
/// ```
/// use std::time::Duration;
/// use ssekit::Event;
///
/// let event = Event::default()
///     .id("7")?
///     .retry(Duration::from_secs(3))
///     .data("first line\r\nsecond line");
/// assert_eq!(
///     &event.encode()[..],
///     b"id: 7\nretry: 3000\ndata: first line\ndata: second line\n\n"
/// );
/// # Ok::<(), ssekit::EventError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Event {
    buf: BytesMut,
}

impl Event {
    /// Adds `data`, one `data:` line for each line of it.
    ///
    /// Any string is valid: CR, LF and CRLF each end a line, and the browser
    /// sees each as LF. A trailing line end is kept (as an empty last line).
    ///
    /// ```
    /// # use ssekit::Event;
    /// assert_eq!(&Event::default().data("").encode()[..], b"data: \n\n");
    /// assert_eq!(&Event::default().data(" a\rb\n").encode()[..], b"data:  a\ndata: b\ndata: \n\n");
    /// ```
    #[must_use]
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        self.put_lines(b"data: ", data.as_ref().as_bytes());
        self
    }

    /// Sets the event type (`event:`), which `EventSource` dispatches under
    /// that name instead of `message`.
    ///
    /// # Errors
    ///
    /// If `event` contains CR or LF.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().event("update")?.data("{}");
    /// assert_eq!(&event.encode()[..], b"event: update\ndata: {}\n\n");
    /// assert!(Event::default().event("a\r\nb").is_err());
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    pub fn event(mut self, event: impl AsRef<str>) -> Result<Self, EventError> {
        let event = event.as_ref().as_bytes();
        if let Some(at) = memchr::memchr2(b'\r', b'\n', event) {
            return Err(EventError::forbidden("event", event[at], at));
        }
        self.put_field(b"event: ", event);
        Ok(self)
    }

    /// Sets the event id (`id:`), which the browser sends back in
    /// `Last-Event-ID` when it reconnects. An empty id clears it.
    ///
    /// # Errors
    ///
    /// If `id` contains CR, LF or NUL (a browser ignores an id with NUL).
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().id("€42")?;
    /// assert_eq!(&event.encode()[..], "id: €42\n\n".as_bytes());
    /// assert!(Event::default().id("a\0b").is_err());
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    pub fn id(mut self, id: impl AsRef<str>) -> Result<Self, EventError> {
        let id = id.as_ref().as_bytes();
        if let Some(at) = memchr::memchr3(b'\r', b'\n', b'\0', id) {
            return Err(EventError::forbidden("id", id[at], at));
        }
        self.put_field(b"id: ", id);
        Ok(self)
    }

    /// Sets the browser's reconnection delay (`retry:`), written in whole
    /// milliseconds.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use ssekit::Event;
    /// let event = Event::default().retry(Duration::from_millis(1500));
    /// assert_eq!(&event.encode()[..], b"retry: 1500\n\n");
    /// ```
    #[must_use]
    pub fn retry(mut self, retry: Duration) -> Self {
        use fmt::Write as _;
        self.reserve(b"retry: ".len() + 40);
        self.buf.put_slice(b"retry: ");
        // Writing an integer into a BytesMut cannot fail.
        let _ = write!(self.buf, "{}", retry.as_millis());
        self.buf.put_u8(b'\n');
        self
    }

    /// Adds a comment: one `:` line for each line of `comment`. Browsers
    /// ignore comments; proxies and people reading the stream see them.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().comment("two\nlines");
    /// assert_eq!(&event.encode()[..], b": two\n: lines\n\n");
    /// ```
    #[must_use]
    pub fn comment(mut self, comment: impl AsRef<str>) -> Self {
        self.put_lines(b": ", comment.as_ref().as_bytes());
        self
    }

    /// Adds `value` serialised as JSON as the event's data.
    ///
    /// Compact JSON has no line ends, so this is one `data:` line written
    /// straight into the event, without an intermediate string.
    ///
    /// # Errors
    ///
    /// If `value` cannot be serialised (a map with non-string keys, a failing
    /// `Serialize` implementation). The event is left as it was.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().json_data(&serde_json::json!({"n": 1}))?;
    /// assert_eq!(&event.encode()[..], b"data: {\"n\":1}\n\n");
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn json_data<T: serde::Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, EventError> {
        let start = self.buf.len();
        self.reserve(HEADROOM);
        self.buf.put_slice(b"data: ");
        let body = self.buf.len();
        if let Err(err) = serde_json::to_writer((&mut self.buf).writer(), value) {
            self.buf.truncate(start);
            return Err(EventError::json(&err));
        }
        // A hand-written `Serialize` (or a `RawValue`) may emit line ends as
        // JSON whitespace; those must still become separate `data:` lines.
        if memchr::memchr2(b'\r', b'\n', &self.buf[body..]).is_some() {
            let json = self.buf.split_off(body);
            self.buf.truncate(start);
            self.put_lines(b"data: ", &json);
        } else {
            self.buf.put_u8(b'\n');
        }
        Ok(self)
    }

    /// Finishes the event: appends the blank line that ends it and returns
    /// the bytes, ready to be written to any number of connections.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let encoded = Event::default().data("hi").encode();
    /// let for_another_client = encoded.clone(); // shares the bytes, no copy
    /// assert_eq!(&for_another_client[..], b"data: hi\n\n");
    /// ```
    #[must_use]
    pub fn encode(mut self) -> Encoded {
        self.reserve(1);
        self.buf.put_u8(b'\n');
        Encoded(self.buf.freeze())
    }

    fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.buf.reserve(additional.saturating_add(HEADROOM));
        }
    }

    fn put_field(&mut self, name: &[u8], value: &[u8]) {
        self.reserve(name.len() + value.len() + 1);
        self.buf.put_slice(name);
        self.buf.put_slice(value);
        self.buf.put_u8(b'\n');
    }

    /// Writes `text` as one `prefix` line per line, treating CR, LF and CRLF
    /// alike as line ends.
    fn put_lines(&mut self, prefix: &[u8], text: &[u8]) {
        let Some(first_break) = memchr::memchr2(b'\r', b'\n', text) else {
            self.put_field(prefix, text);
            return;
        };
        // An upper bound (a CRLF counts as two lines), so the loop below
        // never grows the buffer.
        let breaks = 1 + memchr::memchr2_iter(b'\r', b'\n', &text[first_break + 1..]).count();
        self.reserve(text.len() + (breaks + 1) * (prefix.len() + 1));
        let mut rest = text;
        while let Some(at) = memchr::memchr2(b'\r', b'\n', rest) {
            self.buf.put_slice(prefix);
            self.buf.put_slice(&rest[..at]);
            self.buf.put_u8(b'\n');
            let crlf = rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n');
            rest = &rest[at + 1 + usize::from(crlf)..];
        }
        self.buf.put_slice(prefix);
        self.buf.put_slice(rest);
        self.buf.put_u8(b'\n');
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("wire", &String::from_utf8_lossy(&self.buf))
            .finish()
    }
}

/// A finished event: the exact bytes that go on the wire, a complete block
/// ending in a blank line.
///
/// Cloning shares the bytes, so one encoded event serves any number of
/// connections without being encoded again. It dereferences to `[u8]`.
///
/// ```
/// use bytes::Bytes;
/// use ssekit::{Encoded, Event};
///
/// let encoded: Encoded = Event::default().data("x").into();
/// let bytes: Bytes = encoded.into_bytes();
/// assert_eq!(bytes, "data: x\n\n");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Encoded(Bytes);

impl Encoded {
    /// The wire bytes, as a cheaply cloned [`Bytes`].
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The wire bytes.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Encoded {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Encoded {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Event> for Encoded {
    fn from(event: Event) -> Self {
        event.encode()
    }
}

impl From<Encoded> for Bytes {
    fn from(encoded: Encoded) -> Self {
        encoded.0
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Encoded")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(event: Event) -> String {
        String::from_utf8(event.encode().to_vec()).unwrap()
    }

    #[test]
    fn a_typical_event_is_one_allocation() {
        let event = Event::default().data("x".repeat(200)).id("1").unwrap();
        let capacity = event.buf.capacity();
        let encoded = event.encode();
        // Had the buffer grown on `id` or on the closing line, its capacity
        // would have been replaced by a larger, doubled one.
        assert!(
            capacity < 2 * encoded.len(),
            "{capacity} for {}",
            encoded.len()
        );
    }

    #[test]
    fn line_ends_of_every_kind_split_data() {
        assert_eq!(
            wire(Event::default().data("a\rb\nc\r\nd\n\re")),
            "data: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n"
        );
    }

    #[test]
    fn a_crlf_is_one_line_end_but_lf_cr_is_two() {
        assert_eq!(wire(Event::default().data("\r\n")), "data: \ndata: \n\n");
        assert_eq!(
            wire(Event::default().data("\n\r")),
            "data: \ndata: \ndata: \n\n"
        );
    }

    #[test]
    fn data_twice_appends_lines() {
        assert_eq!(
            wire(Event::default().data("a").data("b")),
            "data: a\ndata: b\n\n"
        );
    }

    #[test]
    fn an_empty_event_is_a_blank_line() {
        assert_eq!(wire(Event::default()), "\n");
    }
}
