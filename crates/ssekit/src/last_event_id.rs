use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// The id of the last event a reconnecting client saw.
///
/// A browser's `EventSource` sends it in the `Last-Event-ID` header when it
/// reconnects. The value is whatever the server put in `id:`, so it may hold
/// any character but CR, LF and NUL, and it is read from the header's raw
/// bytes as UTF-8 (not as the ASCII that `HeaderValue::to_str` insists on).
/// A client that cannot set headers can pass it as the `lastEventId` query
/// parameter instead; the header wins when both are present. A value that is
/// not UTF-8, or that holds CR, LF or NUL, counts as absent.
///
/// ```
/// use ssekit::LastEventId;
///
/// let id = LastEventId::from_header("€42".as_bytes()).unwrap();
/// assert_eq!(id.as_str(), "€42");
/// assert!(LastEventId::from_header(b"\xff").is_none());
///
/// let id = LastEventId::from_query("topic=news&lastEventId=%E2%82%AC42").unwrap();
/// assert_eq!(id, LastEventId::from_header("€42".as_bytes()).unwrap());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LastEventId(String);

/// The query parameter that stands in for the header.
pub(crate) const QUERY_PARAMETER: &str = "lastEventId";

impl LastEventId {
    /// The header's name, as browsers send it.
    pub const HEADER: &'static str = "last-event-id";

    /// Reads a `Last-Event-ID` header value from its raw bytes.
    ///
    /// Returns `None` when the bytes are not UTF-8 or contain CR, LF or NUL.
    ///
    /// ```
    /// # use ssekit::LastEventId;
    /// assert_eq!(LastEventId::from_header(b"17").unwrap().parse::<u64>(), Ok(17));
    /// assert!(LastEventId::from_header(b"1\x002").is_none());
    /// ```
    #[must_use]
    pub fn from_header(raw: &[u8]) -> Option<Self> {
        Self::validate(String::from_utf8(raw.to_vec()).ok()?)
    }

    /// Reads the `lastEventId` parameter from a URL query string (without
    /// the `?`), decoding `+` and percent escapes as a form does.
    ///
    /// Returns `None` when the parameter is absent, or when its decoded bytes
    /// are not UTF-8 or contain CR, LF or NUL.
    ///
    /// ```
    /// # use ssekit::LastEventId;
    /// assert_eq!(LastEventId::from_query("lastEventId=a+b%2Bc").unwrap().as_str(), "a b+c");
    /// assert!(LastEventId::from_query("lastEventId=%FF").is_none());
    /// assert!(LastEventId::from_query("other=1").is_none());
    /// ```
    #[must_use]
    pub fn from_query(query: &str) -> Option<Self> {
        let value = query.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (crate::query::decode(name) == QUERY_PARAMETER.as_bytes()).then_some(value)
        })?;
        Self::validate(String::from_utf8(crate::query::decode(value)).ok()?)
    }

    /// Reads the header, then the query parameter, from a request's parts.
    ///
    /// An invalid header counts as absent, so the query parameter is used in
    /// its place.
    ///
    /// ```
    /// # use ssekit::LastEventId;
    /// let request = http::Request::get("/events?lastEventId=9")
    ///     .header("last-event-id", "10")
    ///     .body(())
    ///     .unwrap();
    /// let id = LastEventId::from_request_parts(request.headers(), request.uri());
    /// assert_eq!(id.unwrap().as_str(), "10");
    /// ```
    #[must_use]
    pub fn from_request_parts(headers: &http::HeaderMap, uri: &http::Uri) -> Option<Self> {
        Self::from_parts(
            headers.get(Self::HEADER).map(http::HeaderValue::as_bytes),
            uri.query(),
        )
    }

    /// Reads the header's raw bytes, then the query string, for frameworks
    /// with header types of their own.
    ///
    /// ```
    /// # use ssekit::LastEventId;
    /// let id = LastEventId::from_parts(Some(b"\xff"), Some("lastEventId=5"));
    /// assert_eq!(id.unwrap().as_str(), "5");
    /// ```
    #[must_use]
    pub fn from_parts(header: Option<&[u8]>, query: Option<&str>) -> Option<Self> {
        header
            .and_then(Self::from_header)
            .or_else(|| query.and_then(Self::from_query))
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }

    /// Parses the id, for servers whose ids are numbers or other typed keys.
    ///
    /// # Errors
    ///
    /// Whatever `T::from_str` returns.
    ///
    /// ```
    /// # use ssekit::LastEventId;
    /// assert!(LastEventId::from_header(b"x").unwrap().parse::<u64>().is_err());
    /// ```
    pub fn parse<T: FromStr>(&self) -> Result<T, T::Err> {
        self.0.parse()
    }

    fn validate(id: String) -> Option<Self> {
        memchr::memchr3(b'\r', b'\n', b'\0', id.as_bytes())
            .is_none()
            .then_some(Self(id))
    }
}

impl Deref for LastEventId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for LastEventId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_without_two_hex_digits_stays() {
        assert_eq!(
            LastEventId::from_query("lastEventId=100%")
                .unwrap()
                .as_str(),
            "100%"
        );
        assert_eq!(
            LastEventId::from_query("lastEventId=%4").unwrap().as_str(),
            "%4"
        );
        assert_eq!(
            LastEventId::from_query("lastEventId=%zz1")
                .unwrap()
                .as_str(),
            "%zz1"
        );
    }

    #[test]
    fn escaped_line_ends_are_refused() {
        assert!(LastEventId::from_query("lastEventId=a%0Ab").is_none());
        assert!(LastEventId::from_query("lastEventId=a%00").is_none());
    }

    #[test]
    fn the_first_parameter_of_that_name_wins_and_names_are_decoded() {
        assert_eq!(
            LastEventId::from_query("last%45ventId=1&lastEventId=2")
                .unwrap()
                .as_str(),
            "1"
        );
        assert_eq!(LastEventId::from_query("lastEventId").unwrap().as_str(), "");
    }

    #[test]
    fn an_invalid_header_falls_back_to_the_query() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            LastEventId::HEADER,
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        let uri: http::Uri = "/e?lastEventId=3".parse().unwrap();
        assert_eq!(
            LastEventId::from_request_parts(&headers, &uri)
                .unwrap()
                .as_str(),
            "3"
        );
    }
}
