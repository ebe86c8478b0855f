//! `ssekit::LastEventId` and `ssekit::query::decode` on arbitrary bytes.
//!
//! The input is used as the raw `Last-Event-ID` header value and, decoded
//! lossily as UTF-8, as a URL query string. Checked:
//! - `from_header` accepts exactly the UTF-8 values without CR, LF or NUL,
//!   and an accepted value comes back byte for byte;
//! - `query::decode` matches a plain transcription of the form decoding
//!   (`+` is a space, `%XX` with two hex digits is a byte, anything else
//!   stays), and `from_query` finds the first `lastEventId` parameter;
//! - `from_parts` and `from_request_parts` prefer a valid header and fall
//!   back to the query;
//! - an accepted id, percent-encoded into a query, comes back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ssekit::LastEventId;

/// Form decoding as the URL standard's `application/x-www-form-urlencoded`
/// parser does it, one byte at a time.
fn form_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escape {
            out.push(byte);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    out
}

/// What a valid id is: UTF-8 without CR, LF or NUL.
fn valid_id(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes)
        .ok()
        .filter(|id| !id.contains(['\r', '\n', '\0']))
}

/// The first `lastEventId` parameter's value, decoded and validated.
fn query_model(query: &str) -> Option<String> {
    let value = query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name) == b"lastEventId").then_some(value)
    })?;
    valid_id(&form_decode(value)).map(str::to_owned)
}

fn percent_encode(id: &str) -> String {
    id.bytes().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let from_header = LastEventId::from_header(data);
    assert_eq!(
        from_header.as_ref().map(LastEventId::as_str),
        valid_id(data),
        "header {data:?}"
    );
    if let Some(id) = &from_header {
        assert_eq!(id.as_bytes(), data);
        assert_eq!(id.to_string().as_bytes(), data);
        let _ = id.parse::<u64>();
        let _ = format!("{id:?}");
        let query = format!("x=1&lastEventId={}&lastEventId=other", percent_encode(id));
        assert_eq!(LastEventId::from_query(&query).as_ref(), Some(id));
        assert_eq!(id.clone().into_string().as_bytes(), data);
    }

    let query = String::from_utf8_lossy(data);
    assert_eq!(
        ssekit::query::decode(&query),
        form_decode(&query),
        "decode {query:?}"
    );
    let from_query = LastEventId::from_query(&query);
    assert_eq!(
        from_query.as_ref().map(LastEventId::as_str),
        query_model(&query).as_deref(),
        "query {query:?}"
    );

    let either = from_header.clone().or_else(|| from_query.clone());
    assert_eq!(LastEventId::from_parts(Some(data), Some(&query)), either);
    assert_eq!(LastEventId::from_parts(None, Some(&query)), from_query);
    assert_eq!(LastEventId::from_parts(Some(data), None), from_header);
    assert_eq!(LastEventId::from_parts(None, None), None);

    // The same through `http`'s types, when they accept the bytes.
    if let Ok(value) = http::HeaderValue::from_bytes(data) {
        let mut headers = http::HeaderMap::new();
        headers.insert(LastEventId::HEADER, value);
        let uri = format!("/events?{query}")
            .parse::<http::Uri>()
            .unwrap_or_else(|_| http::Uri::from_static("/events"));
        let from_query = uri.query().and_then(LastEventId::from_query);
        assert_eq!(
            LastEventId::from_request_parts(&headers, &uri),
            from_header.clone().or(from_query)
        );
    }
});
