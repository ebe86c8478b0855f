//! The query parameters of every endpoint, parsed once for all adapters:
//! percent-decoding, UTF-8, numbers and the limits of SCENARIOS.md.
//!
//! Each adapter hands over the raw query string (without the `?`); what
//! comes back is either a typed set of parameters or a [`BadRequest`] whose
//! message names the parameter, which the adapter answers with 400
//! `text/plain`.

use std::fmt;
use std::time::Duration;

use ssekit::EventError;

/// The most bytes `size` may ask an event's data to be padded to: 1 MiB.
pub(crate) const MAX_SIZE: u64 = 1 << 20;

/// The most events `count` may ask for: 10^9.
pub(crate) const MAX_COUNT: u64 = 1_000_000_000;

/// The longest interval any `*_ms` parameter may ask for: an hour.
pub(crate) const MAX_INTERVAL_MS: u64 = 60 * 60 * 1000;

/// The heartbeat interval when `hb_ms` is absent: 15 s.
pub(crate) const DEFAULT_HEARTBEAT_MS: u64 = 15_000;

/// A request the server refuses with 400 `text/plain`; the message is the
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest(pub(crate) String);

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRequest {}

impl From<EventError> for BadRequest {
    /// A field the event builder refused: the error's own message.
    fn from(err: EventError) -> Self {
        Self(err.to_string())
    }
}

/// A query string split into decoded names and still-unchecked values.
///
/// Values are checked (UTF-8, numbers, limits) only when an endpoint asks
/// for them, so a parameter the endpoint does not use never fails the
/// request. When a name comes more than once, the first one counts.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, Vec<u8>)>,
}

impl Query {
    /// Splits `raw` (the query string without `?`; `None` when the URL has
    /// none).
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    String::from_utf8_lossy(&ssekit::query::decode(name)).into_owned(),
                    ssekit::query::decode(value),
                )
            })
            .collect();
        Self { pairs }
    }

    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
    }

    /// The decoded value of `name`, if present.
    ///
    /// # Errors
    ///
    /// When the decoded bytes are not UTF-8.
    pub(crate) fn text(&self, name: &str) -> Result<Option<String>, BadRequest> {
        self.raw(name)
            .map(|bytes| {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    BadRequest(format!(
                        "query parameter `{name}`: the percent-decoded value is not UTF-8"
                    ))
                })
            })
            .transpose()
    }

    /// The value of `name` as a whole number from `min` to `max`, if
    /// present.
    ///
    /// # Errors
    ///
    /// When it is not such a number (digits only: no sign, no spaces).
    pub(crate) fn number(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, BadRequest> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        let out_of_range = || {
            BadRequest(format!(
                "query parameter `{name}`: expected a whole number from {min} to {max}, got {text:?}"
            ))
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range());
        }
        let n: u64 = text.parse().map_err(|_| out_of_range())?;
        if (min..=max).contains(&n) {
            Ok(Some(n))
        } else {
            Err(out_of_range())
        }
    }

    /// The value of `name` as milliseconds from `min_ms` to an hour, if
    /// present.
    ///
    /// # Errors
    ///
    /// As [`number`](Self::number).
    pub(crate) fn millis(&self, name: &str, min_ms: u64) -> Result<Option<Duration>, BadRequest> {
        Ok(self
            .number(name, min_ms, MAX_INTERVAL_MS)?
            .map(Duration::from_millis))
    }

    /// The value of `name`, which the endpoint cannot do without.
    ///
    /// # Errors
    ///
    /// When it is absent or not UTF-8.
    pub(crate) fn required_text(&self, name: &str) -> Result<String, BadRequest> {
        self.text(name)?
            .ok_or_else(|| BadRequest(format!("query parameter `{name}` is required")))
    }
}

/// What every event stream takes from the query: `hb_ms` and `retry_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamParams {
    /// The heartbeat interval: `hb_ms`, 15 s when absent.
    pub(crate) heartbeat: Duration,
    /// The `retry:` hint to start the stream with: `retry_ms`, when present.
    pub(crate) retry: Option<Duration>,
}

impl StreamParams {
    fn parse(query: &Query) -> Result<Self, BadRequest> {
        Ok(Self {
            // A zero interval would be a heartbeat flood: at least 1 ms.
            heartbeat: query
                .millis("hb_ms", 1)?
                .unwrap_or(Duration::from_millis(DEFAULT_HEARTBEAT_MS)),
            retry: query.millis("retry_ms", 0)?,
        })
    }
}

/// `GET /events?count=N&start=K&size=S&interval_ms=T&close_after=M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventsParams {
    /// The first id, K (default 1).
    pub(crate) start: u64,
    /// One past the last id: K + N (default N = 10).
    pub(crate) end: u64,
    /// The data's length in bytes, padded with `.` (none when absent).
    pub(crate) size: Option<usize>,
    /// The pause between events (default none).
    pub(crate) interval: Duration,
    /// How many events this response sends at most, M.
    pub(crate) close_after: Option<u64>,
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl EventsParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// A parameter that does not parse or is over its limit.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        let query = Query::parse(raw);
        let count = query.number("count", 0, MAX_COUNT)?.unwrap_or(10);
        let start = query.number("start", 0, u64::MAX)?.unwrap_or(1);
        let end = start.checked_add(count).ok_or_else(|| {
            BadRequest(format!(
                "query parameter `start`: {start} plus `count` {count} is past the largest id"
            ))
        })?;
        let size = query
            .number("size", 0, MAX_SIZE)?
            .map(|size| usize::try_from(size).unwrap_or(usize::MAX));
        Ok(Self {
            start,
            end,
            size,
            interval: query.millis("interval_ms", 0)?.unwrap_or_default(),
            close_after: query.number("close_after", 0, u64::MAX)?,
            stream: StreamParams::parse(&query)?,
        })
    }
}

/// `GET /echo?data=&event=&id=&retry_ms=&comment=`: each field as given,
/// percent-decoded, not yet checked by the event builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EchoParams {
    /// `data`: `Some("")` is empty data, `None` no data field.
    pub(crate) data: Option<String>,
    /// `event`.
    pub(crate) event: Option<String>,
    /// `id`.
    pub(crate) id: Option<String>,
    /// `comment`.
    pub(crate) comment: Option<String>,
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl EchoParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// A value that is not UTF-8, or a `hb_ms` or `retry_ms` that does not
    /// parse.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        let query = Query::parse(raw);
        Ok(Self {
            data: query.text("data")?,
            event: query.text("event")?,
            id: query.text("id")?,
            comment: query.text("comment")?,
            stream: StreamParams::parse(&query)?,
        })
    }
}

/// `GET /idle?hb_ms=H` (and any stream that takes only the common
/// parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdleParams {
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl IdleParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// A `hb_ms` or `retry_ms` that does not parse.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        Ok(Self {
            stream: StreamParams::parse(&Query::parse(raw))?,
        })
    }
}

/// `GET /ticks?interval_ms=T&hb_ms=H`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TicksParams {
    /// Between ticks: `interval_ms`, at least 1 ms (default 1 s).
    pub(crate) interval: Duration,
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl TicksParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// A parameter that does not parse or is out of range (a zero interval
    /// would be an endless flood).
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        let query = Query::parse(raw);
        Ok(Self {
            interval: query
                .millis("interval_ms", 1)?
                .unwrap_or(Duration::from_secs(1)),
            stream: StreamParams::parse(&query)?,
        })
    }
}

/// `GET /last-event-id?id=X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LastEventIdParams {
    /// The id to send when the request has no Last-Event-ID (default `…`).
    pub(crate) id: String,
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl LastEventIdParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// A parameter that does not parse.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        let query = Query::parse(raw);
        Ok(Self {
            id: query.text("id")?.unwrap_or_else(|| "\u{2026}".to_owned()),
            stream: StreamParams::parse(&query)?,
        })
    }
}

/// `/hub/subscribe?topic=T` and `/hub/publish?topic=T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HubParams {
    /// The topic.
    pub(crate) topic: String,
}

impl HubParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// When `topic` is missing or not UTF-8.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        Ok(Self {
            topic: Query::parse(raw).required_text("topic")?,
        })
    }
}

/// `GET /probe?token=X&hb_ms=H`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeParams {
    /// The token the stream is registered under.
    pub(crate) token: String,
    /// `hb_ms` and `retry_ms`.
    pub(crate) stream: StreamParams,
}

impl ProbeParams {
    /// Parses the query string.
    ///
    /// # Errors
    ///
    /// No `token`, or a parameter that does not parse.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, BadRequest> {
        let query = Query::parse(raw);
        Ok(Self {
            token: query.required_text("token")?,
            stream: StreamParams::parse(&query)?,
        })
    }
}

/// `GET /probe/status?token=X`: the token.
///
/// # Errors
///
/// No `token`, or one that is not UTF-8.
pub(crate) fn probe_status_token(raw: Option<&str>) -> Result<String, BadRequest> {
    Query::parse(raw).required_text("token")
}

/// `GET /status/<code>`: the status to answer, 200 to 599.
///
/// # Errors
///
/// When `code` is not such a number (1xx is no final answer).
pub(crate) fn status_code(code: &str) -> Result<u16, BadRequest> {
    Some(code)
        .filter(|code| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (200..=599).contains(code))
        .ok_or_else(|| {
            BadRequest(format!(
                "path parameter `code`: expected a status from 200 to 599, got {code:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_but_empty_is_not_absent() {
        let query = Query::parse(Some("data=&id"));
        assert_eq!(query.text("data").unwrap().as_deref(), Some(""));
        assert_eq!(query.text("id").unwrap().as_deref(), Some(""));
        assert_eq!(query.text("event").unwrap(), None);
    }

    #[test]
    fn not_utf8_names_the_parameter() {
        let err = Query::parse(Some("data=%FF")).text("data").unwrap_err();
        assert!(err.0.contains("`data`"), "{err}");
        // An unused parameter never fails the request.
        assert!(EventsParams::parse(Some("lastEventId=%FF")).is_ok());
    }

    #[test]
    fn limits() {
        assert!(EventsParams::parse(Some("size=1048576")).is_ok());
        assert!(
            EventsParams::parse(Some("size=1048577"))
                .unwrap_err()
                .0
                .contains("`size`")
        );
        assert!(EventsParams::parse(Some("count=1000000000")).is_ok());
        assert!(
            EventsParams::parse(Some("count=1000000001"))
                .unwrap_err()
                .0
                .contains("`count`")
        );
        assert!(
            EventsParams::parse(Some("interval_ms=3600001"))
                .unwrap_err()
                .0
                .contains("`interval_ms`")
        );
        assert!(
            EventsParams::parse(Some("count=abc"))
                .unwrap_err()
                .0
                .contains("`count`")
        );
        assert!(EventsParams::parse(Some("count=-1")).is_err());
        assert!(EventsParams::parse(Some("count=+1")).is_err());
        assert!(EventsParams::parse(Some("count=")).is_err());
        assert!(
            IdleParams::parse(Some("hb_ms=x"))
                .unwrap_err()
                .0
                .contains("`hb_ms`")
        );
        assert!(IdleParams::parse(Some("hb_ms=0")).is_err());
        assert!(TicksParams::parse(Some("interval_ms=0")).is_err());
        assert!(EventsParams::parse(Some("start=18446744073709551615&count=2")).is_err());
    }

    #[test]
    fn defaults() {
        let events = EventsParams::parse(None).unwrap();
        assert_eq!((events.start, events.end, events.size), (1, 11, None));
        assert_eq!(events.stream.heartbeat, Duration::from_secs(15));
        assert_eq!(LastEventIdParams::parse(None).unwrap().id, "…");
        assert_eq!(
            TicksParams::parse(None).unwrap().interval,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn status_codes() {
        assert_eq!(status_code("204"), Ok(204));
        assert!(status_code("100").is_err());
        assert!(status_code("+204").is_err());
        assert!(status_code("x").is_err());
    }
}
