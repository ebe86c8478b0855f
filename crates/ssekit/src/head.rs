//! The response head of an event stream, as data that every adapter applies.
//!
//! These are the rules that keep a stream flowing through browsers, caches,
//! proxies and compression middleware:
//!
//! - status 200 and `Content-Type: text/event-stream`;
//! - `Cache-Control: no-cache, no-transform`, so that neither a cache nor a
//!   transforming proxy holds the stream back;
//! - `X-Accel-Buffering: no`, so that nginx passes each event on at once
//!   instead of filling its proxy buffer first;
//! - `Content-Encoding: identity`, which compression middleware (tower-http's
//!   `CompressionLayer`, actix-web's `Compress`) takes as "already encoded"
//!   and leaves alone, however its predicate is set;
//! - no `Content-Length`: the stream has no end that is known in advance;
//! - over HTTP/2 and HTTP/3, none of the connection-specific headers that
//!   those protocols forbid (RFC 9113, section 8.2.2).
//!
//! A server answers [`STOP_STATUS`] (204 No Content) when the client should
//! stop reconnecting: `EventSource` closes for good on any status but 200.
//!
//! ```
//! use http::{HeaderMap, Version};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-length", "10".parse().unwrap());
//! headers.insert("connection", "keep-alive".parse().unwrap());
//! ssekit::head::apply(&mut headers, Version::HTTP_2);
//! assert_eq!(headers["content-type"], "text/event-stream");
//! assert_eq!(headers["x-accel-buffering"], "no");
//! assert!(!headers.contains_key("content-length"));
//! assert!(!headers.contains_key("connection"));
//! ```

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

/// The media type of an event stream.
pub const CONTENT_TYPE: &str = "text/event-stream";

/// The `Cache-Control` value set on every stream.
pub const CACHE_CONTROL: &str = "no-cache, no-transform";

/// The headers every event stream carries, as `(name, value)` pairs with
/// lower-case names. An existing `Cache-Control` that already says
/// `no-cache` or `no-store` is kept; an existing `Content-Encoding` is kept
/// (see [`is_encoded`]).
pub const HEADERS: [(&str, &str); 4] = [
    ("content-type", CONTENT_TYPE),
    ("cache-control", CACHE_CONTROL),
    ("x-accel-buffering", "no"),
    ("content-encoding", "identity"),
];

/// Headers removed from every event stream.
pub const REMOVE: [&str; 1] = ["content-length"];

/// Headers that HTTP/2 and HTTP/3 forbid, removed on those versions.
pub const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// The status that tells `EventSource` to stop reconnecting.
pub const STOP_STATUS: StatusCode = StatusCode::NO_CONTENT;

/// Whether a `Content-Type` value names an event stream, ignoring case and
/// parameters (`text/event-stream; charset=utf-8` is one).
///
/// ```
/// use ssekit::head::is_event_stream;
///
/// assert!(is_event_stream(b"Text/Event-Stream; charset=utf-8"));
/// assert!(!is_event_stream(b"text/event-streams"));
/// ```
#[must_use]
pub fn is_event_stream(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(CONTENT_TYPE.as_bytes())
}

/// Whether the response is an event stream, by its `Content-Type`.
#[must_use]
pub fn is_event_stream_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| is_event_stream(value.as_bytes()))
}

/// Whether the body was already encoded by something (a compression layer
/// placed inside the SSE layer): a `Content-Encoding` other than `identity`.
///
/// Such a body is passed on untouched, since rewriting its bytes would
/// corrupt it.
#[must_use]
pub fn is_encoded(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|value| {
            !value
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"identity")
        })
}

/// Applies the head rules to an event stream's headers, for the given HTTP
/// version. Idempotent: applying them twice changes nothing more.
pub fn apply(headers: &mut HeaderMap, version: Version) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    let caches_already_refused = headers.get_all(header::CACHE_CONTROL).iter().any(|value| {
        let value = value.as_bytes().to_ascii_lowercase();
        memchr::memmem::find(&value, b"no-cache").is_some()
            || memchr::memmem::find(&value, b"no-store").is_some()
    });
    if !caches_already_refused {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
    }
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    if !headers.contains_key(header::CONTENT_ENCODING) {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    headers.remove(header::CONTENT_LENGTH);
    if version >= Version::HTTP_2 {
        for name in CONNECTION_SPECIFIC {
            headers.remove(name);
        }
    }
}

/// A complete head for a new event stream: status 200 and the headers of
/// [`apply`], for HTTP/1.1 (a server strips nothing further for HTTP/2,
/// since none of the connection-specific headers are set).
///
/// ```
/// let response = ssekit::head::response(());
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["cache-control"], "no-cache, no-transform");
/// ```
pub fn response<B>(body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    apply(response.headers_mut(), Version::HTTP_11);
    response
}

/// The 204 answer that tells `EventSource` to stop reconnecting.
///
/// ```
/// let response = ssekit::head::stop(());
/// assert_eq!(response.status(), 204);
/// ```
pub fn stop<B>(body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() = STOP_STATUS;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_no_store_cache_control_is_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, No-Store"),
        );
        apply(&mut headers, Version::HTTP_11);
        assert_eq!(headers[header::CACHE_CONTROL], "private, No-Store");
    }

    #[test]
    fn a_permissive_cache_control_is_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        apply(&mut headers, Version::HTTP_11);
        assert_eq!(headers[header::CACHE_CONTROL], CACHE_CONTROL);
    }

    #[test]
    fn an_existing_encoding_is_kept_and_reported() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        apply(&mut headers, Version::HTTP_11);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert!(is_encoded(&headers));
    }

    #[test]
    fn connection_headers_stay_on_http1() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        apply(&mut headers, Version::HTTP_11);
        assert!(headers.contains_key(header::CONNECTION));
    }
}
