//! Property tests: whatever the fields, a browser-exact decoder gets back
//! what the application put in, however the bytes are chunked.

use proptest::prelude::*;
use ssekit::decode::{Item, MessageEvent};
use ssekit::{Decoder, Event};

/// What a browser delivers for `data`: every line end becomes LF.
fn browser_view(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// Strings rich in the characters that matter here.
fn tricky() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("\r".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just(" ".to_owned()),
            Just(":".to_owned()),
            Just("\0".to_owned()),
            Just("\u{feff}".to_owned()),
            Just("data: ".to_owned()),
            Just("id:".to_owned()),
            "[a-z]{1,3}",
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// Multi-line text long enough for the vector search, with lines both
/// shorter and longer than the encoder's estimate of a line's length, each
/// ended by LF, CR or CRLF.
fn many_lines() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            "[a-z :]{0,80}",
            prop_oneof![Just("\n"), Just("\r"), Just("\r\n")],
        ),
        0..64,
    )
    .prop_map(|lines| lines.into_iter().map(|(line, end)| line + end).collect())
}

fn events_of(items: Vec<Result<Item, ssekit::decode::DecodeError>>) -> Vec<MessageEvent> {
    items
        .into_iter()
        .map(|item| item.expect("no decode error"))
        .filter_map(|item| match item {
            Item::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn data_comes_back_as_a_browser_sees_it(data in tricky()) {
        let encoded = Event::default().data(&data).encode();
        let events = events_of(Decoder::new().feed(&encoded));
        prop_assert_eq!(events, vec![MessageEvent {
            event_type: "message".to_owned(),
            data: browser_view(&data),
            last_event_id: "".into(),
        }]);
    }

    #[test]
    fn many_lines_are_one_data_line_each(data in many_lines(), tail in "[a-z]{0,40}") {
        let data = data + &tail;
        let expected: String = browser_view(&data)
            .split('\n')
            .map(|line| format!("data: {line}\n"))
            .collect();
        let encoded = Event::default().data(&data).encode();
        prop_assert_eq!(String::from_utf8_lossy(&encoded), expected + "\n");
        let events = events_of(Decoder::new().feed(&encoded));
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(&events[0].data, &browser_view(&data));
    }

    #[test]
    fn every_field_round_trips_or_is_refused(
        data in tricky(),
        event_type in tricky(),
        id in tricky(),
        comment in tricky(),
    ) {
        let built = Event::default()
            .comment(&comment)
            .event(&event_type)
            .and_then(|event| event.id(&id))
            .map(|event| event.data(&data));
        let id_allowed = !id.contains(['\r', '\n', '\0']);
        let event_allowed = !event_type.contains(['\r', '\n']);
        match built {
            Err(err) => {
                prop_assert!(!(id_allowed && event_allowed), "refused a valid field: {}", err);
                let field = if event_allowed { "id" } else { "event" };
                prop_assert_eq!(err.field(), field);
            }
            Ok(event) => {
                prop_assert!(id_allowed && event_allowed);
                let encoded = event.encode();
                let mut decoder = Decoder::new();
                let items: Vec<Item> =
                    decoder.feed(&encoded).into_iter().map(Result::unwrap).collect();
                let comments: Vec<&Item> =
                    items.iter().filter(|i| matches!(i, Item::Comment(_))).collect();
                prop_assert_eq!(comments.len(), browser_view(&comment).split('\n').count());
                let expected_type = if event_type.is_empty() { "message".to_owned() } else { event_type };
                prop_assert_eq!(events_of(items.into_iter().map(Ok).collect()), vec![MessageEvent {
                    event_type: expected_type,
                    data: browser_view(&data),
                    last_event_id: id.clone().into(),
                }]);
                prop_assert_eq!(decoder.last_event_id(), id.as_str());
            }
        }
    }

    #[test]
    fn a_numeric_id_is_the_same_bytes_as_its_text(
        id in any::<u64>(),
        before in "[a-z]{0,60}",
        data in tricky(),
    ) {
        // `before` fills the inline fields by varying amounts, so the id lands
        // inline, across the spill, and after it.
        let by_number = Event::default().comment(&before).id_u64(id).data(&data);
        let by_text = Event::default().comment(&before).id(id.to_string()).unwrap().data(&data);
        prop_assert_eq!(by_number.encode(), by_text.encode());
    }

    #[test]
    fn any_chunking_decodes_like_one_chunk(
        datas in prop::collection::vec(tricky(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut stream = Vec::new();
        for (n, data) in datas.iter().enumerate() {
            let event = Event::default().id(n.to_string()).unwrap().data(data);
            stream.extend_from_slice(&event.encode());
            stream.extend_from_slice(b":\n\n");
        }
        let whole = Decoder::new().feed(&stream);

        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut decoder = Decoder::new();
        let mut chunked = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([stream.len()]) {
            chunked.extend(decoder.feed(&stream[start..cut]));
            start = cut;
        }
        prop_assert_eq!(&chunked, &whole);
        let events = events_of(whole);
        prop_assert_eq!(events.len(), datas.len());
        for (n, (event, data)) in events.iter().zip(&datas).enumerate() {
            prop_assert_eq!(&event.data, &browser_view(data));
            prop_assert_eq!(&*event.last_event_id, n.to_string());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_chunking_changes_nothing(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cut in any::<prop::sample::Index>(),
    ) {
        let whole = Decoder::new().feed(&bytes);
        let cut = cut.index(bytes.len() + 1);
        let mut decoder = Decoder::new();
        let mut chunked = decoder.feed(&bytes[..cut]);
        chunked.extend(decoder.feed(&bytes[cut..]));
        prop_assert_eq!(chunked, whole);
    }
}
