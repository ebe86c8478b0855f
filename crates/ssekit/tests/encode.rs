//! Byte-exact encoding of every field and every line-ending mix, including
//! each case that a peer gets wrong (`shared/PEERS.md`).

use std::time::Duration;

use ssekit::{Encoded, Event, EventError};

fn wire(event: Event) -> String {
    String::from_utf8(event.encode().to_vec()).unwrap()
}

#[test]
fn data_one_line() {
    assert_eq!(wire(Event::default().data("hello")), "data: hello\n\n");
}

#[test]
fn data_with_lf() {
    assert_eq!(wire(Event::default().data("a\nb")), "data: a\ndata: b\n\n");
}

#[test]
fn data_with_crlf_is_one_line_end_where_axum_writes_an_extra_empty_line() {
    assert_eq!(
        wire(Event::default().data("a\r\nb")),
        "data: a\ndata: b\n\n"
    );
}

#[test]
fn data_with_lone_cr_is_a_line_end_where_actix_web_lab_corrupts_and_warp_cuts() {
    assert_eq!(wire(Event::default().data("a\rb")), "data: a\ndata: b\n\n");
}

#[test]
fn data_with_every_line_end_mixed() {
    assert_eq!(
        wire(Event::default().data("1\r2\n3\r\n4\n\r5\r\r6\n\n7")),
        "data: 1\ndata: 2\ndata: 3\ndata: 4\ndata: \ndata: 5\ndata: \ndata: 6\ndata: \ndata: 7\n\n"
    );
}

#[test]
fn data_ending_in_each_line_end_keeps_it() {
    for end in ["\n", "\r", "\r\n"] {
        assert_eq!(
            wire(Event::default().data(format!("x{end}"))),
            "data: x\ndata: \n\n",
            "{end:?}"
        );
    }
}

#[test]
fn data_starting_with_a_line_end() {
    assert_eq!(wire(Event::default().data("\nx")), "data: \ndata: x\n\n");
}

#[test]
fn a_leading_space_survives_where_warp_loses_it() {
    assert_eq!(wire(Event::default().data(" x")), "data:  x\n\n");
    assert_eq!(
        wire(Event::default().data("  two\n three")),
        "data:   two\ndata:  three\n\n"
    );
}

#[test]
fn empty_data_is_an_event_which_axum_cannot_send() {
    assert_eq!(wire(Event::default().data("")), "data: \n\n");
}

#[test]
fn only_line_ends() {
    assert_eq!(wire(Event::default().data("\n")), "data: \ndata: \n\n");
    assert_eq!(
        wire(Event::default().data("\r\n\r\n")),
        "data: \ndata: \ndata: \n\n"
    );
}

#[test]
fn colons_and_field_lookalikes_in_data_stay_data() {
    assert_eq!(
        wire(Event::default().data("id: 1\nevent: x\n: c")),
        "data: id: 1\ndata: event: x\ndata: : c\n\n"
    );
}

#[test]
fn non_ascii_and_bom_and_nul_in_data_pass_through() {
    assert_eq!(
        wire(Event::default().data("\u{feff}é\0…")),
        "data: \u{feff}é\0…\n\n"
    );
}

#[test]
fn event_type() {
    assert_eq!(
        wire(Event::default().event("update").unwrap().data("x")),
        "event: update\ndata: x\n\n"
    );
}

#[test]
fn empty_event_type() {
    assert_eq!(wire(Event::default().event("").unwrap()), "event: \n\n");
}

#[test]
fn event_type_may_hold_nul_and_non_ascii() {
    assert_eq!(
        wire(Event::default().event("a\0ü").unwrap()),
        "event: a\0ü\n\n"
    );
}

#[test]
fn id_non_ascii_and_empty() {
    assert_eq!(wire(Event::default().id("…").unwrap()), "id: …\n\n");
    assert_eq!(wire(Event::default().id("").unwrap()), "id: \n\n");
    assert_eq!(
        wire(Event::default().id(" spaced ").unwrap()),
        "id:  spaced \n\n"
    );
}

#[test]
fn retry_in_milliseconds_where_async_sse_writes_seconds() {
    assert_eq!(
        wire(Event::default().retry(Duration::from_secs(2))),
        "retry: 2000\n\n"
    );
    assert_eq!(
        wire(Event::default().retry(Duration::from_micros(1999))),
        "retry: 1\n\n"
    );
    assert_eq!(wire(Event::default().retry(Duration::ZERO)), "retry: 0\n\n");
    assert_eq!(
        wire(Event::default().retry(Duration::MAX)),
        format!("retry: {}\n\n", Duration::MAX.as_millis())
    );
}

#[test]
fn comments_one_colon_line_each() {
    assert_eq!(wire(Event::default().comment("hi")), ": hi\n\n");
    assert_eq!(
        wire(Event::default().comment("a\r\nb\rc\n")),
        ": a\n: b\n: c\n: \n\n"
    );
    assert_eq!(wire(Event::default().comment("")), ": \n\n");
}

#[test]
fn every_field_in_call_order() {
    let event = Event::default()
        .comment("note")
        .retry(Duration::from_millis(10))
        .event("e")
        .unwrap()
        .id("1")
        .unwrap()
        .data("d");
    assert_eq!(
        wire(event),
        ": note\nretry: 10\nevent: e\nid: 1\ndata: d\n\n"
    );
}

fn refused(result: Result<Event, EventError>) -> EventError {
    result.expect_err("the field should have been refused")
}

#[test]
fn id_with_cr_lf_or_nul_is_refused_where_axum_panics_and_others_inject() {
    for (id, what, at) in [
        ("1\ndata: forged", "a line feed", 1),
        ("1\rdata: forged", "a carriage return", 1),
        ("12\r\n", "a carriage return", 2),
        ("a\0b", "a NUL character", 1),
    ] {
        let err = refused(Event::default().id(id));
        assert_eq!(err.field(), "id");
        let message = err.to_string();
        assert!(message.contains(what), "{message}");
        assert!(message.contains(&format!("byte {at}")), "{message}");
    }
}

#[test]
fn event_with_cr_or_lf_is_refused() {
    for name in ["a\nb", "a\rb", "\r\n"] {
        assert_eq!(refused(Event::default().event(name)).field(), "event");
    }
}

#[test]
fn a_refused_field_leaves_no_trace_on_the_wire() {
    // The builder is consumed by a refused field, so the half-built event
    // can never reach the wire.
    let event = Event::default().data("kept");
    let result = event.clone().id("bad\n");
    assert!(result.is_err());
    assert_eq!(wire(event), "data: kept\n\n");
}

#[test]
fn encoded_events_share_their_bytes() {
    let encoded: Encoded = Event::default().data("x".repeat(1000)).into();
    let copy = encoded.clone();
    assert_eq!(encoded.as_bytes().as_ptr(), copy.as_bytes().as_ptr());
}

#[test]
fn large_data_is_encoded_whole() {
    let data = "0123456789abcdef".repeat(4096);
    let wire = wire(Event::default().data(&data));
    assert_eq!(wire.len(), data.len() + "data: \n\n".len());
}

#[test]
fn many_lines_of_every_length_are_byte_exact() {
    // Empty lines: far more line ends than the encoder makes room for, so
    // its buffer has to grow.
    let blank = "\n".repeat(1000);
    assert_eq!(
        wire(Event::default().id("1").unwrap().data(&blank)),
        format!("id: 1\n{}\n", "data: \n".repeat(1001))
    );
    // Long lines with every line end, as the SIMD search sees them.
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
    for end in ["\n", "\r", "\r\n"] {
        let data = vec![line; 64].join(end);
        assert_eq!(
            wire(Event::default().id("12345").unwrap().data(&data)),
            format!("id: 12345\n{}\n", format!("data: {line}\n").repeat(64)),
            "{end:?}"
        );
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::*;

    #[test]
    fn json_with_newlines_in_strings_is_one_line() {
        let value = serde_json::json!({"text": "a\nb\r\n", "n": [1, 2]});
        assert_eq!(
            wire(Event::default().json_data(&value).unwrap()),
            "data: {\"n\":[1,2],\"text\":\"a\\nb\\r\\n\"}\n\n"
        );
    }

    #[test]
    fn raw_json_with_line_ends_is_split_into_data_lines() {
        let raw = serde_json::value::RawValue::from_string("{\r\n\"a\": 1\n}".to_owned()).unwrap();
        assert_eq!(
            wire(Event::default().json_data(&raw).unwrap()),
            "data: {\ndata: \"a\": 1\ndata: }\n\n"
        );
    }

    #[test]
    fn a_json_failure_is_an_error_and_leaves_the_event_as_it_was() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        let err = refused(Event::default().data("x").json_data(&map));
        assert_eq!(err.field(), "data");
        assert!(err.to_string().contains("JSON"), "{err}");
    }
}
