//! What the fuzz targets share: a reference model of the WHATWG event
//! stream interpretation, and a way to cut one input into chunks.
//!
//! The model is transcribed from the HTML standard's "Interpreting an event
//! stream" section step by step, as plainly as possible and on purpose
//! unlike `ssekit::Decoder`: it decodes the whole stream to text first,
//! splits it into lines by characters, and only then interprets them. It
//! knows nothing of chunks or size limits.

use std::time::Duration;

use ssekit::decode::{Item, MessageEvent};

/// The state the spec keeps between lines, plus what `ssekit::Decoder`
/// exposes of it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SpecState {
    /// The spec's "last event ID buffer" (`Decoder::last_event_id`).
    pub last_event_id_buffer: String,
    /// The event source's "last event ID string", set at each blank line
    /// (`Decoder::dispatched_last_event_id`).
    pub last_event_id_string: String,
    /// The event stream's reconnection time, once a `retry` field set it.
    pub reconnection_time: Option<Duration>,
    data_buffer: String,
    event_type_buffer: String,
}

/// Interprets a whole stream the spec's way; `seed_id` is the last event
/// ID a reconnecting browser carries over (empty on a first connection).
///
/// Returns the items `ssekit::Decoder` should report, in order, and the
/// state at the end of the stream.
#[must_use]
pub fn interpret(stream: &[u8], seed_id: &str) -> (Vec<Item>, SpecState) {
    let mut state = SpecState {
        last_event_id_buffer: seed_id.to_owned(),
        last_event_id_string: seed_id.to_owned(),
        ..SpecState::default()
    };
    let mut out = Vec::new();
    for line in lines(&utf8_decode(stream)) {
        process_line(&mut state, &line, &mut out);
    }
    // "Once the end of the file is reached, any pending data must be
    // discarded": the unterminated last line never reached `lines`, and
    // the buffers of an event without its blank line are dropped here.
    (out, state)
}

/// The Encoding standard's "UTF-8 decode": one leading BOM is removed, and
/// every maximal invalid subpart becomes U+FFFD (which is what
/// `String::from_utf8_lossy` does too).
fn utf8_decode(stream: &[u8]) -> String {
    let bytes = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    String::from_utf8_lossy(bytes).into_owned()
}

/// `end-of-line = ( cr lf / cr / lf )`. Only terminated lines are returned.
fn lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            lines.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    lines
}

fn process_line(state: &mut SpecState, line: &str, out: &mut Vec<Item>) {
    // "If the line is empty (a blank line): Dispatch the event."
    if line.is_empty() {
        dispatch(state, out);
        return;
    }
    // "If the line starts with a U+003A COLON character (:): Ignore the
    // line." ssekit reports its text as a comment, after the colon and one
    // optional space, and so does the model.
    if let Some(comment) = line.strip_prefix(':') {
        out.push(Item::Comment(
            comment.strip_prefix(' ').unwrap_or(comment).to_owned(),
        ));
        return;
    }
    // "If the line contains a U+003A COLON character": field before the
    // first colon, value after it, one leading space removed. "Otherwise":
    // the whole line is the field name and the value is empty.
    let (field, value) = match line.find(':') {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
        }
        None => (line, ""),
    };
    process_field(state, field, value, out);
}

fn process_field(state: &mut SpecState, field: &str, value: &str, out: &mut Vec<Item>) {
    match field {
        "event" => state.event_type_buffer = value.to_owned(),
        "data" => {
            state.data_buffer.push_str(value);
            state.data_buffer.push('\n');
        }
        // "If the field value does not contain U+0000 NULL, then set the
        // last event ID buffer to the field value. Otherwise, ignore the
        // field."
        "id" if !value.contains('\u{0}') => state.last_event_id_buffer = value.to_owned(),
        // "If the field value consists of only ASCII digits, then interpret
        // the field value as an integer in base ten, and set the event
        // stream's reconnection time to that integer. Otherwise, ignore the
        // field." An empty value holds no integer, and browsers ignore it.
        // ssekit ignores a value of 2^64 ms or more (585 million years), a
        // limit of its own that the model states here.
        "retry" if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) => {
            if let Some(ms) = decimal_u64(value) {
                let time = Duration::from_millis(ms);
                state.reconnection_time = Some(time);
                out.push(Item::Retry(time));
            }
        }
        // "Otherwise: The field is ignored." So is an `id` with NULL and a
        // `retry` that is not all digits.
        _ => {}
    }
}

/// A string of ASCII digits as a `u64`, or `None` if it is too large:
/// compared digit by digit against `u64::MAX`, not parsed with overflow
/// checks, to stay unlike the decoder's parser.
fn decimal_u64(digits: &str) -> Option<u64> {
    let significant = digits.trim_start_matches('0');
    let max = u64::MAX.to_string();
    let fits = significant.len() < max.len()
        || (significant.len() == max.len() && significant <= max.as_str());
    if !fits {
        return None;
    }
    Some(
        significant
            .bytes()
            .fold(0, |n, digit| n * 10 + u64::from(digit - b'0')),
    )
}

fn dispatch(state: &mut SpecState, out: &mut Vec<Item>) {
    // 1. "Set the last event ID string of the event source to the value of
    //    the last event ID buffer."
    state.last_event_id_string = state.last_event_id_buffer.clone();
    // 2. "If the data buffer is an empty string, set the data buffer and the
    //    event type buffer to the empty string and return."
    if state.data_buffer.is_empty() {
        state.event_type_buffer.clear();
        return;
    }
    // 3. "If the data buffer's last character is a U+000A LINE FEED (LF)
    //    character, then remove the last character from the data buffer."
    if state.data_buffer.ends_with('\n') {
        state.data_buffer.pop();
    }
    // 4.–6. Type "message" unless the event type buffer holds another
    //    value; lastEventId is the last event ID string.
    let event_type = if state.event_type_buffer.is_empty() {
        "message".to_owned()
    } else {
        state.event_type_buffer.clone()
    };
    out.push(Item::Event(MessageEvent {
        event_type,
        data: state.data_buffer.clone(),
        last_event_id: state.last_event_id_string.as_str().into(),
    }));
    // 7. "Set the data buffer and the event type buffer to the empty string."
    state.data_buffer.clear();
    state.event_type_buffer.clear();
}

/// Cuts `input` into consecutive chunks whose lengths come from `lengths`,
/// used in turn and taken modulo what is left plus one, so a length may be
/// zero (an empty chunk). Without lengths the input is one chunk. At most
/// `input.len() * 2 + 8` chunks, so it always ends.
#[must_use]
pub fn chunks<'a>(input: &'a [u8], lengths: &[u8]) -> Vec<&'a [u8]> {
    if lengths.is_empty() {
        return vec![input];
    }
    let mut out = Vec::new();
    let mut rest = input;
    let bound = input.len() * 2 + 8;
    for &length in lengths.iter().cycle().take(bound) {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(usize::from(length) % (rest.len() + 1));
        out.push(chunk);
        rest = tail;
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, data: &str, id: &str) -> Item {
        Item::Event(MessageEvent {
            event_type: event_type.to_owned(),
            data: data.to_owned(),
            last_event_id: id.into(),
        })
    }

    #[test]
    fn the_model_reads_the_specs_examples() {
        // The HTML standard's own examples in "Event stream format".
        let (items, _) = interpret(b"data: YHOO\ndata: +2\ndata: 10\n\n", "");
        assert_eq!(items, [event("message", "YHOO\n+2\n10", "")]);
        let (items, state) = interpret(
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
            "",
        );
        assert_eq!(
            items,
            [
                Item::Comment("test stream".to_owned()),
                event("message", "first event", "1"),
                event("message", "second event", ""),
            ]
        );
        assert_eq!(state.last_event_id_string, "");
        let (items, _) = interpret(b"data\n\ndata\ndata\n\ndata:", "");
        assert_eq!(
            items,
            [event("message", "", ""), event("message", "\n", "")]
        );
    }

    #[test]
    fn bom_line_ends_retry_and_id_rules() {
        let (items, state) = interpret(
            b"\xEF\xBB\xBFretry: 7\rretry: 1x\r\nid: a\0\nid: \xFF\r\rdata\n\n",
            "s",
        );
        assert_eq!(
            items,
            [
                Item::Retry(Duration::from_millis(7)),
                event("message", "", "\u{FFFD}")
            ]
        );
        assert_eq!(state.reconnection_time, Some(Duration::from_millis(7)));
        assert_eq!(decimal_u64("018446744073709551615"), Some(u64::MAX));
        assert_eq!(decimal_u64("18446744073709551616"), None);
        assert_eq!(decimal_u64("000"), Some(0));
    }

    #[test]
    fn chunks_cover_the_input_in_order() {
        let input = b"0123456789";
        for lengths in [&[][..], &[0], &[3], &[0, 1, 255], &[4, 4, 4, 4]] {
            assert_eq!(chunks(input, lengths).concat(), input);
        }
        assert_eq!(
            chunks(input, &[3]),
            [&b"012"[..], b"345", b"678", b"9", b""]
        );
    }
}
