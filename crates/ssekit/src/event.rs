use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::EventError;
use crate::hub::{EventId, MAX_TEXT};

/// How many bytes of fields other than `data` an event keeps inline; also
/// the room left in front of the data for them, so that `encode` can put
/// them there without moving the data.
const GAP: usize = 48;

/// One server-sent event, built field by field.
///
/// Fields are encoded as they are set. The short ones (`id`, `event`,
/// `retry`, `comment`) are kept inline, and so is one short line of data
/// (up to 55 bytes): such an event costs no allocation until it is encoded,
/// and none at all when the stream machine writes it straight into a frame
/// that already holds other events ([`encode_into`](Event::encode_into)). Longer data is written into one
/// buffer, with room left in front of it for the other fields, so
/// [`Event::encode`] makes no copy of it: one allocation, whatever order the
/// fields are set in (multi-line data is given room by an estimate, trimmed
/// by `encode`).
///
/// - [`data`](Event::data) accepts any string. It is split on CR, LF and CRLF
///   into `data:` lines, each written as `data: ` with the space, so that a
///   leading space survives and every line end reaches the browser as LF.
///   Empty data is still an event: the browser dispatches it.
/// - [`id`](Event::id) refuses CR, LF and NUL; [`event`](Event::event) refuses
///   CR and LF. Either would end the field early and let the rest of the
///   value forge fields of its own, so they are errors, never rewrites.
/// - On the wire the other fields come first, in the order they were set,
///   then the data lines. Calling a setter twice writes the field twice: for
///   `data` that appends lines (the browser joins them with LF); for `id`,
///   `event` and `retry` the browser keeps the last one.
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
#[derive(Clone, Default)]
pub struct Event {
    fields: Fields,
    data: Data,
}

/// How many bytes of encoded data lines an event keeps inline: one line of
/// up to 55 bytes of text (`data: `, the text, LF). With the inline fields
/// that keeps an event within 128 bytes, which the compiler moves with a
/// few instructions instead of a call to `memcpy`.
const INLINE_DATA: usize = 62;

/// The encoded data lines.
#[derive(Clone)]
enum Data {
    /// One short line, or none (`len` 0).
    Inline { buf: [u8; INLINE_DATA], len: u8 },
    /// Empty (no data), or `GAP` bytes of room for the fields followed by
    /// the lines.
    Heap(Vec<u8>),
}

impl Default for Data {
    fn default() -> Self {
        Self::Inline {
            buf: [0; INLINE_DATA],
            len: 0,
        }
    }
}

impl Data {
    /// The encoded lines, without the event's closing blank line.
    #[inline]
    fn lines(&self) -> &[u8] {
        match self {
            Self::Inline { buf, len } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(heap) => heap.get(GAP..).unwrap_or_default(),
        }
    }

    /// Writes `lines` inline, if they are the event's first data, one line,
    /// and fit.
    fn write_inline(&mut self, lines: &Lines<'_>) -> bool {
        let Self::Inline { buf, len } = self else {
            return false;
        };
        let text = lines.text;
        let end = DATA.len() + text.len() + 1;
        if *len != 0 || !lines.one_line {
            return false;
        }
        let (Some(room), Ok(new_len)) = (buf.get_mut(..end), u8::try_from(end)) else {
            return false;
        };
        let (prefix, rest) = room.split_at_mut(DATA.len());
        let (line, line_end) = rest.split_at_mut(text.len());
        prefix.copy_from_slice(DATA);
        line.copy_from_slice(text);
        line_end[0] = b'\n';
        *len = new_len;
        true
    }

    /// Runs `write` on the heap buffer, with room for `additional` more
    /// bytes of lines; lines kept inline move into it first.
    fn with_heap<R>(&mut self, additional: usize, write: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut heap = match std::mem::take(self) {
            Self::Heap(mut heap) if !heap.is_empty() => {
                heap.reserve(additional + 1);
                heap
            }
            taken => {
                let inline = taken.lines();
                // What `encode` will need: the fields' room, the data and
                // the closing blank line (exactly, for one line of data).
                let mut heap = Vec::with_capacity(GAP + inline.len() + additional + 1);
                heap.resize(GAP, 0);
                heap.extend_from_slice(inline);
                heap
            }
        };
        let written = write(&mut heap);
        *self = Self::Heap(heap);
        written
    }
}

/// The encoded lines of the fields other than `data`, in call order.
#[derive(Clone)]
enum Fields {
    Inline { buf: [u8; GAP], len: u8 },
    Spilled(Vec<u8>),
}

impl Default for Fields {
    fn default() -> Self {
        Self::Inline {
            buf: [0; GAP],
            len: 0,
        }
    }
}

impl Fields {
    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { buf, len } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Spilled(vec) => vec,
        }
    }

    /// Appends `name`, `value` and a line end. The name's length is a
    /// constant, so it is copied with a few moves, not a call.
    fn push_line<const N: usize>(&mut self, name: &[u8; N], value: &[u8]) {
        if let Self::Inline { buf, len } = self {
            let start = usize::from(*len);
            let value_at = start + N;
            let end = value_at + value.len() + 1;
            if let (Some(room), Ok(new_len)) = (buf.get_mut(start..end), u8::try_from(end)) {
                let (name_room, rest) = room.split_at_mut(N);
                let (value_room, line_end) = rest.split_at_mut(value.len());
                name_room.copy_from_slice(name);
                value_room.copy_from_slice(value);
                line_end[0] = b'\n';
                *len = new_len;
                return;
            }
            let mut spilled = Vec::with_capacity(end + GAP);
            spilled.extend_from_slice(&buf[..start]);
            *self = Self::Spilled(spilled);
        }
        if let Self::Spilled(vec) = self {
            vec.extend_from_slice(name);
            vec.extend_from_slice(value);
            vec.push(b'\n');
        }
    }

    /// [`push_line`](Self::push_line) for a value that `write` puts at the
    /// front of `M` bytes, returning its length. Where `M` bytes fit, it
    /// writes straight into the inline buffer, and the fields are cut back
    /// to the value: an inline buffer's bytes past its length are never
    /// read.
    fn push_line_with<const N: usize, const M: usize>(
        &mut self,
        name: &[u8; N],
        write: impl Fn(&mut [u8; M]) -> usize,
    ) {
        if let Self::Inline { buf, len: used } = self {
            let start = usize::from(*used);
            if let Some(room) = buf.get_mut(start..start + N + M) {
                let (name_room, value_room) = room.split_at_mut(N);
                if let Ok(value_room) = <&mut [u8; M]>::try_from(value_room) {
                    name_room.copy_from_slice(name);
                    let len = write(value_room);
                    let end = start + N + len + 1;
                    if let (Some(line_end), Ok(new_len)) =
                        (value_room.get_mut(len), u8::try_from(end))
                    {
                        *line_end = b'\n';
                        *used = new_len;
                        return;
                    }
                }
            }
        }
        let mut value = [0; M];
        let len = write(&mut value);
        self.push_line(name, value.get(..len).unwrap_or(&value));
    }

    /// Appends lines already encoded.
    fn push_encoded(&mut self, lines: &[u8]) {
        match self {
            Self::Inline { buf, len } => {
                let start = usize::from(*len);
                let end = start + lines.len();
                if let (Some(room), Ok(new_len)) = (buf.get_mut(start..end), u8::try_from(end)) {
                    room.copy_from_slice(lines);
                    *len = new_len;
                    return;
                }
                let mut spilled = Vec::with_capacity(end + GAP);
                spilled.extend_from_slice(&buf[..start]);
                spilled.extend_from_slice(lines);
                *self = Self::Spilled(spilled);
            }
            Self::Spilled(vec) => vec.extend_from_slice(lines),
        }
    }
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
    #[inline]
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        self.push_data(data.as_ref().as_bytes());
        self
    }

    // The setters are inlined shells around workers that take `&mut self`:
    // an event is up to 128 bytes, and a builder call that is not inlined
    // copies it in and out.
    fn push_data(&mut self, text: &[u8]) {
        let lines = Lines::new(text);
        if !self.data.write_inline(&lines) {
            self.data.with_heap(lines.capacity(DATA), |heap| {
                lines.write(DATA, DATA_SEPARATOR, heap);
            });
        }
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
    #[inline]
    pub fn event(mut self, event: impl AsRef<str>) -> Result<Self, EventError> {
        self.push_field("event", b"event: ", event.as_ref().as_bytes(), false)?;
        Ok(self)
    }

    /// Adds the field `field`, written as `line` (its name, colon and
    /// space), then `value`; refuses a value with a byte that would end it
    /// early (CR, LF, and NUL too when `nul`).
    fn push_field<const N: usize>(
        &mut self,
        field: &'static str,
        line: &[u8; N],
        value: &[u8],
        nul: bool,
    ) -> Result<(), EventError> {
        if let Some(at) = find_break(value, nul) {
            return Err(EventError::forbidden(field, value[at], at));
        }
        self.fields.push_line(line, value);
        Ok(())
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
    #[inline]
    pub fn id(mut self, id: impl AsRef<str>) -> Result<Self, EventError> {
        self.push_field("id", b"id: ", id.as_ref().as_bytes(), true)?;
        Ok(self)
    }

    /// Sets a number as the event id (`id:`), written in decimal.
    ///
    /// The same bytes as `id(n.to_string())`, without the `String` or the
    /// check: digits can never break the line, so this cannot fail. A
    /// counter is the usual id, and this is the cheap way to write one.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().id_u64(42).data("hello");
    /// assert_eq!(&event.encode()[..], b"id: 42\ndata: hello\n\n");
    /// assert_eq!(Event::default().id_u64(7), Event::default().id("7")?);
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn id_u64(mut self, id: u64) -> Self {
        self.push_id_u64(id);
        self
    }

    fn push_id_u64(&mut self, id: u64) {
        self.fields
            .push_line_with(b"id: ", |room: &mut [u8; DECIMAL]| decimal(id, room));
    }

    /// Sets the id the hub gave this event: its text is digits and a dash,
    /// so it needs no check, and no `String` is made for it.
    pub(crate) fn hub_id(mut self, id: EventId) -> Self {
        self.fields.push_line(b"id: ", id.text(&mut [0; MAX_TEXT]));
        self
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
    #[inline]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.push_retry(retry);
        self
    }

    fn push_retry(&mut self, retry: Duration) {
        let mut digits = itoa::Buffer::new();
        let ms = digits.format(retry.as_millis());
        self.fields.push_line(b"retry: ", ms.as_bytes());
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
    #[inline]
    pub fn comment(mut self, comment: impl AsRef<str>) -> Self {
        self.push_comment(comment.as_ref().as_bytes());
        self
    }

    fn push_comment(&mut self, text: &[u8]) {
        let lines = Lines::new(text);
        let mut encoded = Vec::with_capacity(lines.capacity(COMMENT));
        lines.write(COMMENT, COMMENT_SEPARATOR, &mut encoded);
        self.fields.push_encoded(&encoded);
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
        self.data.with_heap(128, |heap| {
            let start = heap.len();
            heap.extend_from_slice(DATA);
            let body = heap.len();
            if let Err(err) = serde_json::to_writer(&mut *heap, value) {
                heap.truncate(if start == GAP { 0 } else { start });
                return Err(EventError::json(&err));
            }
            // A hand-written `Serialize` (or a `RawValue`) may emit line
            // ends as JSON whitespace; those must still become separate
            // `data:` lines.
            if memchr::memchr2(b'\r', b'\n', &heap[body..]).is_some() {
                let json = heap.split_off(body);
                heap.truncate(start);
                Lines::new(&json).write(DATA, DATA_SEPARATOR, heap);
            } else {
                heap.push(b'\n');
            }
            Ok(())
        })?;
        Ok(self)
    }

    /// Finishes the event: the fields, the data lines and the blank line
    /// that ends the event, ready to be written to any number of
    /// connections.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let encoded = Event::default().data("hi").encode();
    /// let for_another_client = encoded.clone(); // shares the bytes, no copy
    /// assert_eq!(&for_another_client[..], b"data: hi\n\n");
    /// ```
    #[must_use]
    pub fn encode(self) -> Encoded {
        let Self { fields, data } = self;
        let fields = fields.as_slice();
        match (GAP.checked_sub(fields.len()), data) {
            (Some(room), Data::Heap(mut data)) if data.len() >= GAP => {
                data[room..GAP].copy_from_slice(fields);
                data.push(b'\n');
                // Multi-line data was given room by an estimate. `Bytes`
                // takes a full `Vec` as it is; one with spare room costs it
                // an allocation.
                data.shrink_to_fit();
                let mut wire = Bytes::from(data);
                wire.advance(room);
                Encoded(wire)
            }
            // Inline data or none, or fields too long for the room in
            // front of the data.
            (_, data) => {
                let data = data.lines();
                let mut wire = Vec::with_capacity(fields.len() + data.len() + 1);
                wire.extend_from_slice(fields);
                wire.extend_from_slice(data);
                wire.push(b'\n');
                Encoded(Bytes::from(wire))
            }
        }
    }

    /// How many bytes [`encode`](Self::encode) makes of the event, the
    /// closing blank line included.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let event = Event::default().id("7")?.data("hi");
    /// assert_eq!(event.encoded_len(), "id: 7\ndata: hi\n\n".len());
    /// assert_eq!(event.encoded_len(), event.encode().len());
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.fields.as_slice().len() + self.data.lines().len() + 1
    }

    /// Appends the encoded event to `buf`: the same bytes as
    /// [`encode`](Self::encode), written where they are needed instead of
    /// into a buffer of their own. For gathering several events into one
    /// write.
    ///
    /// ```
    /// # use ssekit::Event;
    /// let mut buf = bytes::BytesMut::new();
    /// Event::default().data("a").encode_into(&mut buf);
    /// Event::default().id("2")?.data("b").encode_into(&mut buf);
    /// assert_eq!(&buf[..], b"data: a\n\nid: 2\ndata: b\n\n");
    /// # Ok::<(), ssekit::EventError>(())
    /// ```
    #[inline]
    pub fn encode_into(self, buf: &mut BytesMut) {
        self.write_into(buf);
    }

    // Inlined: out of line, the call takes the event's address, and the
    // stream machine then moves every event into memory of its own first
    // (about 70 instructions an event on `/stream`).
    #[inline]
    fn write_into(&self, buf: &mut BytesMut) {
        if let (
            Fields::Inline {
                buf: fields,
                len: fields_len,
            },
            Data::Inline {
                buf: lines,
                len: lines_len,
            },
        ) = (&self.fields, &self.data)
            && buf.capacity() - buf.len() > GAP + INLINE_DATA
        {
            // Whole inline buffers, then cut back to what they hold: a copy
            // of a length known here is a few moves, where one of the
            // length the event holds is a call to `memcpy`, and a small
            // event would make three.
            let start = buf.len();
            let end = start + usize::from(*fields_len);
            buf.extend_from_slice(fields);
            buf.truncate(end);
            let end = end + usize::from(*lines_len);
            buf.extend_from_slice(lines);
            buf.truncate(end);
            buf.extend_from_slice(b"\n");
            return;
        }
        let (fields, lines) = (self.fields.as_slice(), self.data.lines());
        buf.reserve(fields.len() + lines.len() + 1);
        buf.extend_from_slice(fields);
        buf.extend_from_slice(lines);
        buf.put_u8(b'\n');
    }

    /// The wire bytes so far, without the closing blank line.
    fn wire(&self) -> impl Iterator<Item = u8> + '_ {
        self.fields
            .as_slice()
            .iter()
            .chain(self.data.lines())
            .copied()
    }
}

/// Room for the most decimal digits a `u64` has, and a line end.
const DECIMAL: usize = 21;

/// Writes `n`'s decimal digits at the front of `to`, and returns how many.
/// The caller takes them with a copy of a known length: itoa writes from
/// the back, and its digits take a `memcpy` call of the length they have.
#[inline]
fn decimal(mut n: u64, to: &mut [u8; DECIMAL]) -> usize {
    const PAIRS: &[u8; 200] = b"\
        0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    const POWERS: [u64; 20] = {
        let mut powers = [1; 20];
        let mut i = 1;
        while i < 20 {
            powers[i] = powers[i - 1] * 10;
            i += 1;
        }
        powers
    };
    let pair = |n: u64| {
        let at = usize::try_from(n).unwrap_or_default() * 2;
        PAIRS.get(at..at + 2).unwrap_or(b"00")
    };
    // log10(2) is about 1233 / 4096: from the bit length, the digits are
    // `guess` or one more (`u64::ilog10` costs three times this).
    let bits = u64::BITS - (n | 1).leading_zeros();
    let guess = usize::try_from((bits * 1233) >> 12).unwrap_or_default();
    let len = (guess + usize::from(POWERS.get(guess).is_some_and(|&p| n >= p))).max(1);
    let mut end = len;
    while n >= 100 {
        end = end.saturating_sub(2);
        if let Some(digits) = to.get_mut(end..end + 2) {
            digits.copy_from_slice(pair(n % 100));
        }
        n /= 100;
    }
    if n >= 10 {
        if let Some(digits) = to.get_mut(..2) {
            digits.copy_from_slice(pair(n));
        }
    } else {
        to[0] = b'0' + u8::try_from(n).unwrap_or_default();
    }
    len
}

const DATA: &[u8] = b"data: ";
const DATA_SEPARATOR: &[u8; 7] = b"\ndata: ";
const COMMENT: &[u8] = b": ";
const COMMENT_SEPARATOR: &[u8; 3] = b"\n: ";

/// Below this many bytes, a search of our own finds a byte sooner than
/// memchr, whose dispatch and set-up cost more than the search itself
/// there (about 140 instructions for 32 bytes, against about 50 a word at
/// a time, and fewer a block at a time).
const SHORT: usize = 64;

/// The first CR or LF in `text`, or NUL too when `nul`: what ends a field
/// early.
fn find_break(text: &[u8], nul: bool) -> Option<usize> {
    if text.len() >= SHORT {
        return if nul {
            memchr::memchr3(b'\r', b'\n', 0, text)
        } else {
            memchr::memchr2(b'\r', b'\n', text)
        };
    }
    let (blocks, tail) = text.as_chunks::<BLOCK>();
    if blocks.is_empty() {
        return find_break_in_words(text, nul);
    }
    // The last block overlaps the ones before it, so that one more block
    // covers the tail.
    let tail_clean = tail.is_empty()
        || text
            .last_chunk::<BLOCK>()
            .is_some_and(|last| !holds_a_control(last));
    if tail_clean && !blocks.iter().any(holds_a_control) {
        return None;
    }
    find_break_in_words(text, nul)
}

/// Bytes searched at once for a control character.
const BLOCK: usize = 16;

/// Whether `block` holds a byte up to CR (`\x0D`): every byte that ends a
/// field (CR, LF, NUL) is one, and text seldom holds any, so this one test
/// a block passes over most text. A fold without an early exit, so that
/// it compiles to a vector compare.
fn holds_a_control(block: &[u8; BLOCK]) -> bool {
    block.iter().fold(false, |any, &b| any | (b <= b'\r'))
}

/// [`find_break`] eight bytes at a time: for text shorter than a block, and
/// for text in which a block found a control character.
fn find_break_in_words(text: &[u8], nul: bool) -> Option<usize> {
    let mut words = text.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        if let Some(found) = first_break_in(bytes, nul) {
            return Some(at + found);
        }
        at += 8;
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return None;
    }
    // The last eight bytes, overlapping bytes already searched (which hold
    // no break), so one more word covers the tail.
    if let Some(last) = text.len().checked_sub(8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&text[last..]);
        return first_break_in(bytes, nul).map(|found| last + found);
    }
    tail.iter()
        .position(|&b| b == b'\r' || b == b'\n' || (nul && b == 0))
}

/// The index of the first CR or LF (or NUL, when `nul`) in `bytes`, eight at
/// once: a byte equal to the one sought becomes zero under XOR, and
/// `(x - 0x01…) & !x & 0x80…` marks zero bytes. A borrow can mark a byte
/// above a true zero too, never below one, so the lowest mark is exact.
fn first_break_in(bytes: [u8; 8], nul: bool) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let word = u64::from_le_bytes(bytes);
    let mut marks =
        zeros(word ^ (ONES * u64::from(b'\n'))) | zeros(word ^ (ONES * u64::from(b'\r')));
    if nul {
        marks |= zeros(word);
    }
    (marks != 0).then(|| (marks.trailing_zeros() / 8) as usize)
}

/// Text split into lines at CR, LF and CRLF.
struct Lines<'a> {
    text: &'a [u8],
    /// No line end at all: the common case, written with no further
    /// search.
    one_line: bool,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Self {
        let one_line = find_break(text, false).is_none();
        Self { text, one_line }
    }

    /// The bytes of the lines, each written as `prefix`, line, LF: exact
    /// for one line; for several, room for a line end every
    /// `LINE_ESTIMATE` bytes.
    ///
    /// Counting the line ends would take a pass over the text of its own,
    /// which costs more than trimming the spare room afterwards
    /// ([`Event::encode`] does). Text with shorter lines than that makes
    /// the buffer grow once.
    fn capacity(&self, prefix: &[u8]) -> usize {
        let lines = if self.one_line {
            1
        } else {
            self.text.len() / LINE_ESTIMATE + 1
        };
        self.text.len() + lines * (prefix.len() + 1)
    }

    /// Writes the lines, each as `prefix`, line, LF. `separator` is LF
    /// then `prefix`: what stands between two lines, copied in one go (its
    /// length is a constant, so the copy is a few moves, not a call).
    fn write<const N: usize>(&self, prefix: &[u8], separator: &[u8; N], out: &mut Vec<u8>) {
        out.extend_from_slice(prefix);
        let last = if self.one_line {
            0
        } else {
            write_breaks(self.text, separator, out)
        };
        out.extend_from_slice(&self.text[last..]);
        out.push(b'\n');
    }
}

/// Bytes of text per line that [`Lines::capacity`] makes room for.
const LINE_ESTIMATE: usize = 16;

/// Writes every line of `text` but the last, each followed by `separator`;
/// returns where the last line starts.
///
/// On `x86_64` with AVX2, memchr's AVX2 searcher is set up once for the
/// whole text. `memchr::memchr2_iter` would choose it and set it up again
/// for every line: a third of the cost of a short line.
fn write_breaks<const N: usize>(text: &[u8], separator: &[u8; N], out: &mut Vec<u8>) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let Some(breaks) = memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n') {
        return split(text, breaks.iter(text), separator, out);
    }
    write_breaks_portable(text, separator, out)
}

/// [`write_breaks`] with memchr's own choice of searcher.
fn write_breaks_portable<const N: usize>(
    text: &[u8],
    separator: &[u8; N],
    out: &mut Vec<u8>,
) -> usize {
    split(
        text,
        memchr::memchr2_iter(b'\r', b'\n', text),
        separator,
        out,
    )
}

/// Writes the lines of `text` that end at `ends` (the positions of its CRs
/// and LFs, in order), each followed by `separator`; returns where the
/// line after the last end starts.
fn split<const N: usize>(
    text: &[u8],
    ends: impl Iterator<Item = usize>,
    separator: &[u8; N],
    out: &mut Vec<u8>,
) -> usize {
    let mut start = 0;
    for end in ends {
        if end == start && end > 0 && text[end] == b'\n' && text[end - 1] == b'\r' {
            // The LF of a CRLF: its line already ended at the CR.
            start = end + 1;
            continue;
        }
        out.extend_from_slice(&text[start..end]);
        out.extend_from_slice(separator);
        start = end + 1;
    }
    start
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.wire().eq(other.wire())
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire: Vec<u8> = self.wire().collect();
        f.debug_struct("Event")
            .field("wire", &String::from_utf8_lossy(&wire))
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

impl Encoded {
    /// Bytes that are already whole events, such as the hub's frames.
    /// (`hub::Subscription` needs this: keep it.)
    pub(crate) fn from_wire(wire: Bytes) -> Self {
        Self(wire)
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
    fn data_is_allocated_once_exactly_and_never_moved_whatever_the_order() {
        let data = "x".repeat(200);
        for id_first in [true, false] {
            let event = if id_first {
                Event::default().id("12345").unwrap().data(&data)
            } else {
                Event::default().data(&data).id("12345").unwrap()
            };
            let Data::Heap(heap) = &event.data else {
                panic!("200 bytes of data are not inline");
            };
            assert_eq!(heap.capacity(), GAP + "data: \n".len() + 200 + 1);
            let buffer = heap.as_ptr() as usize;
            let encoded = event.encode();
            assert_eq!(
                &encoded[..],
                format!("id: 12345\ndata: {data}\n\n").as_bytes()
            );
            // The wire bytes are the data buffer itself, entered after the
            // unused part of the room in front.
            assert_eq!(
                encoded.as_ptr() as usize,
                buffer + GAP - "id: 12345\n".len()
            );
        }
    }

    #[test]
    fn fields_longer_than_the_room_still_come_first() {
        let long = "i".repeat(100);
        let event = Event::default()
            .data("d")
            .id(&long)
            .unwrap()
            .event("e")
            .unwrap();
        assert_eq!(wire(event), format!("id: {long}\nevent: e\ndata: d\n\n"));
    }

    const SPLIT_CASES: [&str; 11] = [
        "",
        "a",
        "\n",
        "\r",
        "\r\n",
        "a\r\nb\rc\nd",
        "\n\r",
        "x\r\r\n\n",
        "\r\n\r\n\r",
        "a line longer than thirty-two bytes\nand a second one, also long\r\n",
        "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
    ];

    #[test]
    fn capacity_is_exact_for_one_line() {
        for text in ["", "a", "x".repeat(100).as_str()] {
            let mut out = Vec::new();
            let lines = Lines::new(text.as_bytes());
            lines.write(DATA, DATA_SEPARATOR, &mut out);
            assert_eq!(lines.capacity(DATA), out.len(), "{text:?}");
        }
    }

    #[test]
    fn capacity_holds_lines_of_the_estimated_length() {
        let line = "y".repeat(LINE_ESTIMATE - 1);
        let text = vec![line.as_str(); 50].join("\n");
        let mut out = Vec::new();
        let lines = Lines::new(text.as_bytes());
        lines.write(DATA, DATA_SEPARATOR, &mut out);
        assert!(lines.capacity(DATA) >= out.len());
    }

    #[test]
    fn the_portable_split_matches_the_one_in_use() {
        for text in SPLIT_CASES.map(str::as_bytes) {
            let (mut fast, mut portable) = (Vec::new(), Vec::new());
            let fast_last = write_breaks(text, DATA_SEPARATOR, &mut fast);
            let portable_last = write_breaks_portable(text, DATA_SEPARATOR, &mut portable);
            assert_eq!((fast_last, &fast), (portable_last, &portable));
        }
    }

    #[test]
    fn every_line_end_is_one_data_line() {
        for text in SPLIT_CASES {
            let expected: String = text
                .replace("\r\n", "\n")
                .replace('\r', "\n")
                .split('\n')
                .map(|line| format!("data: {line}\n"))
                .collect();
            assert_eq!(
                wire(Event::default().data(text)),
                expected + "\n",
                "{text:?}"
            );
        }
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
    fn decimal_digits_are_those_of_to_string() {
        let powers = (0..20).map(|k| 10u64.pow(k));
        let around = powers.flat_map(|p| [p - 1, p, p + 1, p / 10 * 9, p.saturating_mul(2)]);
        let numbers = (0..=100_000).chain(around).chain([u64::MAX - 1, u64::MAX]);
        for n in numbers {
            let mut room = [b'?'; DECIMAL];
            let len = decimal(n, &mut room);
            assert_eq!(&room[..len], n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_numeric_id_lands_inline_or_after_a_spill_alike() {
        // Fields that leave room for a whole `DECIMAL` after `id: `, and
        // ones that do not, so the id goes through the fallback.
        for before in 0..GAP {
            let comment = "c".repeat(before);
            for id in [0, 7, 42, 12_345, u64::MAX] {
                let by_number = Event::default().comment(&comment).id_u64(id).data("x");
                let by_text = Event::default()
                    .comment(&comment)
                    .id(id.to_string())
                    .unwrap()
                    .data("x");
                assert_eq!(wire(by_number), wire(by_text));
            }
        }
    }

    #[test]
    fn the_word_search_finds_what_a_plain_loop_finds() {
        let plain = |text: &[u8], nul: bool| {
            text.iter()
                .position(|&b| b == b'\r' || b == b'\n' || (nul && b == 0))
        };
        // Every length up to past the memchr threshold, every position of a
        // break, and the bytes around a break that a borrow could mismark.
        for len in 0..=SHORT + 9 {
            for fill in [b'a', 0x01, 0x0b, 0x0e, 0x80, 0xff, 0x09] {
                let text = vec![fill; len];
                assert_eq!(find_break(&text, true), plain(&text, true));
                for at in 0..len {
                    for found in [b'\r', b'\n', 0] {
                        let mut text = text.clone();
                        text[at] = found;
                        if at + 1 < len {
                            text[at + 1] = b'\n';
                        }
                        for nul in [false, true] {
                            assert_eq!(find_break(&text, nul), plain(&text, nul), "{text:?} {nul}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn one_short_line_of_data_stays_inline_until_it_is_encoded() {
        let longest = "x".repeat(INLINE_DATA - "data: \n".len());
        let inline = |event: &Event| matches!(event.data, Data::Inline { .. });
        assert!(size_of::<Event>() <= 128);
        let event = Event::default().data(&longest).id("1").unwrap();
        assert!(inline(&event));
        assert_eq!(event.encoded_len(), event.clone().encode().len());
        assert_eq!(wire(event.clone()), format!("id: 1\ndata: {longest}\n\n"));
        let mut buf = BytesMut::new();
        event.clone().encode_into(&mut buf);
        assert_eq!(&buf[..], format!("id: 1\ndata: {longest}\n\n").as_bytes());

        // Into a buffer with room for both inline buffers whole (copied,
        // then cut back), after what it held, and into one just short of
        // that room (copied as long as they are): the same bytes.
        for spare in [GAP + INLINE_DATA + 1, GAP + INLINE_DATA] {
            for event in [
                event.clone(),
                Event::default().id_u64(7).event("tick").unwrap().data("x"),
                Event::default(),
            ] {
                let mut buf = BytesMut::with_capacity(3 + spare);
                buf.extend_from_slice(b"ab\n");
                let expected = [&buf[..], &event.clone().encode()[..]].concat();
                event.encode_into(&mut buf);
                assert_eq!(&buf[..], &expected[..], "{spare}");
            }
        }

        // One byte more, a second line, or a second call: the heap, with
        // the inline line moved in front of what follows.
        let event = Event::default().data(format!("{longest}x"));
        assert!(!inline(&event));
        let event = Event::default().data("a\nb");
        assert!(!inline(&event));
        let event = Event::default().data("a").data("b").id("2").unwrap();
        assert!(!inline(&event));
        assert_eq!(wire(event), "id: 2\ndata: a\ndata: b\n\n");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_after_inline_data_appends_a_line() {
        let event = Event::default()
            .data("a")
            .json_data(&serde_json::json!(1))
            .unwrap();
        assert_eq!(wire(event), "data: a\ndata: 1\n\n");
    }

    #[test]
    fn an_empty_event_is_a_blank_line() {
        assert_eq!(wire(Event::default()), "\n");
    }
}
