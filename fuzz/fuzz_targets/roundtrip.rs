//! `ssekit::Event` → `encode` → `ssekit::Decoder`, for arbitrary fields.
//!
//! Each input is a list of events, each a list of builder calls with
//! arbitrary strings and durations. Checked:
//! - building and encoding never panic;
//! - `id` refuses exactly the values with CR, LF or NUL and `event` exactly
//!   those with CR or LF, with an error naming the field;
//! - the encoded bytes hold no CR and end with a blank line;
//! - decoding the concatenated events, whole or in the chunks the input
//!   picks, gives exactly the retries, comments and events the calls
//!   describe: each event's type, data (every CR, LF and CRLF seen as LF)
//!   and last event ID, which persists across events as in a browser.

#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use ssekit::Event;
use ssekit::decode::{Item, MessageEvent};
use ssekit_fuzz::chunks;

#[derive(Debug, Arbitrary)]
enum Call {
    Data(String),
    Id(String),
    IdU64(u64),
    Event(String),
    Retry(Duration),
    Comment(String),
    JsonData(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    events: Vec<Vec<Call>>,
    chunk_lengths: Vec<u8>,
}

/// The lines of `text`, split at CR, LF and CRLF, as a browser reads them;
/// a trailing line end leaves an empty last line.
fn lines(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            lines.push(String::new());
        } else if let Some(line) = lines.last_mut() {
            line.push(c);
        }
    }
    lines
}

/// Builds one event from its calls; returns the encoded bytes and appends
/// the items a browser-exact decoder must report for them.
fn build(calls: &[Call], last_id: &mut String, expected: &mut Vec<Item>) -> ssekit::Encoded {
    let mut event = Event::default();
    let mut data_lines: Option<Vec<String>> = None;
    let mut event_type = String::new();
    for call in calls {
        match call {
            Call::Data(text) => {
                event = event.data(text);
                data_lines.get_or_insert_default().extend(lines(text));
            }
            Call::Id(id) => match event.clone().id(id) {
                Ok(with_id) => {
                    assert!(!id.contains(['\r', '\n', '\0']), "id {id:?} accepted");
                    event = with_id;
                    last_id.clone_from(id);
                }
                Err(err) => {
                    assert!(id.contains(['\r', '\n', '\0']), "id {id:?} refused: {err}");
                    assert_eq!(err.field(), "id");
                }
            },
            Call::IdU64(id) => {
                event = event.id_u64(*id);
                *last_id = id.to_string();
            }
            Call::Event(name) => match event.clone().event(name) {
                Ok(with_type) => {
                    assert!(!name.contains(['\r', '\n']), "event {name:?} accepted");
                    event = with_type;
                    event_type.clone_from(name);
                }
                Err(err) => {
                    assert!(name.contains(['\r', '\n']), "event {name:?} refused: {err}");
                    assert_eq!(err.field(), "event");
                }
            },
            Call::Retry(retry) => {
                event = event.retry(*retry);
                // The decoder keeps a u64 of milliseconds; a longer retry
                // is ignored, as any other unusable value.
                if let Ok(ms) = u64::try_from(retry.as_millis()) {
                    expected.push(Item::Retry(Duration::from_millis(ms)));
                }
            }
            Call::Comment(text) => {
                event = event.comment(text);
                expected.extend(lines(text).into_iter().map(Item::Comment));
            }
            Call::JsonData(text) => {
                event = match event.json_data(text) {
                    Ok(with_json) => with_json,
                    Err(err) => panic!("a string must serialise as JSON: {err}"),
                };
                let json = serde_json::to_string(text).unwrap_or_default();
                data_lines.get_or_insert_default().push(json);
            }
        }
    }
    assert_eq!(event.clone(), event);
    let _ = format!("{event:?}");
    if let Some(data_lines) = data_lines {
        expected.push(Item::Event(MessageEvent {
            event_type: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data: data_lines.join("\n"),
            last_event_id: last_id.as_str().into(),
        }));
    }
    // Appended to a frame, with room for the event's inline buffers whole
    // (copied so, then cut back) and with none to spare: its own bytes.
    let mut frames = [BytesMut::new(), BytesMut::with_capacity(512)];
    for frame in &mut frames {
        event.clone().encode_into(frame);
    }
    let encoded = event.encode();
    for frame in frames {
        assert_eq!(&frame[..], &encoded[..], "encode_into differs from encode");
    }
    encoded
}

fuzz_target!(|input: Input| {
    let mut last_id = String::new();
    let mut expected = Vec::new();
    let mut stream = Vec::new();
    for calls in &input.events {
        let encoded = build(calls, &mut last_id, &mut expected);
        assert!(!encoded.contains(&b'\r'), "a CR on the wire: {encoded:?}");
        assert!(
            &encoded[..] == b"\n" || encoded.ends_with(b"\n\n"),
            "not ended by a blank line: {encoded:?}"
        );
        stream.extend_from_slice(&encoded);
    }

    let mut decoder = ssekit::Decoder::new();
    let mut got = Vec::new();
    for chunk in chunks(&stream, &input.chunk_lengths) {
        decoder.feed_into(chunk, &mut got);
    }
    let expected: Vec<_> = expected.into_iter().map(Ok).collect();
    assert_eq!(
        got,
        expected,
        "decoded {:?}",
        String::from_utf8_lossy(&stream)
    );
    assert_eq!(decoder.dispatched_last_event_id(), last_id);
});
