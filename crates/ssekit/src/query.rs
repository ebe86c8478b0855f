//! Query strings, decoded as browsers encode them.
//!
//! `EventSource` cannot set headers, so a page that must resume a stream
//! by hand puts the id in the URL, `?lastEventId=…`, which
//! [`LastEventId::from_query`](crate::LastEventId::from_query) reads with
//! this decoding.
//!
//! ```
//! use ssekit::query::decode;
//!
//! assert_eq!(decode("caf%C3%A9+au+lait"), "café au lait".as_bytes());
//! let last = ssekit::LastEventId::from_query("topic=a&lastEventId=%E2%82%AC42").unwrap();
//! assert_eq!(last.as_str(), "€42");
//! ```

/// Decodes one name or value of a URL query as a form does: `+` is a
/// space and `%XX` is a byte; a `%` that starts no valid escape stays as it
/// is, as the URL standard's `application/x-www-form-urlencoded` parser
/// leaves it. The bytes are returned as they are, so the caller decides
/// what to do with a value that is not UTF-8.
///
/// ```
/// use ssekit::query::decode;
///
/// assert_eq!(decode("a+b%2Bc%0D%0a"), b"a b+c\r\n");
/// assert_eq!(decode("100%"), b"100%");
/// assert_eq!(decode("%E2%82%AC"), "€".as_bytes());
/// assert_eq!(decode("%FF"), [0xFF]);
/// ```
#[must_use]
pub fn decode(text: &str) -> Vec<u8> {
    fn hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = match (byte, bytes.get(at + 1), bytes.get(at + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                at += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                at += 1;
            }
        }
    }
    out
}
