//! `ssekit::Decoder` against the spec's reference model, however the input
//! is chunked.
//!
//! Input layout: one header byte `h`, then `h & 7` chunk lengths, then (if
//! `h & 8`) one length byte `n` and `n` bytes of a carried-over last event
//! ID, then the stream itself. `h >> 4`, when not zero, sets a small size
//! limit (`16 * (h >> 4)` bytes) for a second, limited decoder.
//!
//! Checked for every input:
//! - the decoder reports exactly the model's items (events, comments,
//!   retries) and ends in the model's state (last event ID buffer, last
//!   event ID string, reconnection time);
//! - fed whole, fed in the chunks the input picks, and fed one byte at a
//!   time with empty chunks in between, it gives the same items and state;
//! - a limited decoder also gives the same items however the input is
//!   chunked; when it reports no error it agrees with the unlimited one, and
//!   what it reports stays within its limit (three times it for text, since
//!   each invalid byte the limit counts decodes to a 3-byte U+FFFD).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit::Decoder;
use ssekit::decode::{DecodeError, Item};
use ssekit_fuzz::{chunks, interpret};

type Out = Vec<Result<Item, DecodeError>>;

struct Case<'a> {
    lengths: &'a [u8],
    seed_id: Option<String>,
    limit: Option<usize>,
    stream: &'a [u8],
}

fn parse(data: &[u8]) -> Option<Case<'_>> {
    let (&header, rest) = data.split_first()?;
    let (lengths, mut rest) = rest.split_at_checked(usize::from(header & 7))?;
    let mut seed_id = None;
    if header & 8 != 0 {
        let (&n, tail) = rest.split_first()?;
        let (id, tail) = tail.split_at_checked(usize::from(n))?;
        seed_id = Some(String::from_utf8_lossy(id).into_owned());
        rest = tail;
    }
    let limit = match header >> 4 {
        0 => None,
        n => Some(16 * usize::from(n)),
    };
    Some(Case {
        lengths,
        seed_id,
        limit,
        stream: rest,
    })
}

fn decoder(case: &Case<'_>, limit: Option<usize>) -> Decoder {
    let mut decoder = limit.map_or_else(Decoder::new, Decoder::with_max_event_size);
    if let Some(id) = &case.seed_id {
        decoder.set_last_event_id(id.as_str());
    }
    decoder
}

/// What a decoder exposes of its state once the stream is over.
fn state(decoder: &Decoder) -> (String, String, Option<std::time::Duration>) {
    (
        decoder.last_event_id().to_owned(),
        decoder.dispatched_last_event_id().to_owned(),
        decoder.retry(),
    )
}

/// Feeds the stream whole, in the input's chunks and byte by byte, asserts
/// they agree, and returns the items and the whole-fed decoder.
fn feed_every_way(case: &Case<'_>, limit: Option<usize>) -> (Out, Decoder) {
    let mut whole = decoder(case, limit);
    let expected = whole.feed(case.stream);

    let mut chunked = decoder(case, limit);
    let mut got = Vec::new();
    for chunk in chunks(case.stream, case.lengths) {
        chunked.feed_into(chunk, &mut got);
    }
    assert_eq!(
        got,
        expected,
        "chunked {:?}",
        chunks(case.stream, case.lengths)
    );
    assert_eq!(state(&chunked), state(&whole), "state after chunks");

    let mut bytewise = decoder(case, limit);
    let mut got = Vec::new();
    for byte in case.stream {
        bytewise.feed_into(&[], &mut got);
        bytewise.feed_into(std::slice::from_ref(byte), &mut got);
    }
    bytewise.feed_into(&[], &mut got);
    assert_eq!(got, expected, "byte at a time");
    assert_eq!(state(&bytewise), state(&whole), "state byte at a time");

    (expected, whole)
}

fuzz_target!(|data: &[u8]| {
    let Some(case) = parse(data) else {
        return;
    };

    let (out, decoder) = feed_every_way(&case, None);
    let seed = case.seed_id.as_deref().unwrap_or("");
    let (expected, spec) = interpret(case.stream, seed);
    let expected: Out = expected.into_iter().map(Ok).collect();
    assert_eq!(out, expected, "decoder vs the spec's model");
    assert_eq!(decoder.last_event_id(), spec.last_event_id_buffer);
    assert_eq!(
        decoder.dispatched_last_event_id(),
        spec.last_event_id_string
    );
    assert_eq!(decoder.retry(), spec.reconnection_time);
    decoder.finish();

    let Some(limit) = case.limit else {
        return;
    };
    let (limited, _) = feed_every_way(&case, Some(limit));
    if limited.iter().all(Result::is_ok) {
        assert_eq!(limited, out, "a limit that never fired changed the items");
    }
    for item in &limited {
        match item {
            Err(err) => assert_eq!(err.limit(), limit),
            Ok(Item::Event(event)) => {
                assert!(event.data.len() <= 3 * limit, "data over the limit");
                assert!(event.event_type.len() <= 3 * limit, "type over the limit");
            }
            Ok(Item::Comment(text)) => assert!(text.len() <= 3 * limit, "comment over the limit"),
            Ok(_) => {}
        }
    }
});
