use std::fmt;

/// A field that an [`Event`](crate::Event) refused.
///
/// Fields that would end their line early (and so inject other fields into
/// the stream) are refused rather than silently rewritten: the caller decides
/// what to do with them.
///
/// ```
/// use ssekit::Event;
///
/// let err = Event::default().id("a\nb").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "SSE `id` must not contain a line feed (byte 1): it would end the field and inject the rest into the stream"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ErrorKind {
    ForbiddenChar {
        field: &'static str,
        what: &'static str,
        at: usize,
    },
    #[cfg(feature = "serde")]
    Json(String),
}

impl EventError {
    pub(crate) fn forbidden(field: &'static str, byte: u8, at: usize) -> Self {
        let what = match byte {
            b'\r' => "a carriage return",
            b'\n' => "a line feed",
            _ => "a NUL character",
        };
        Self {
            kind: ErrorKind::ForbiddenChar { field, what, at },
        }
    }

    #[cfg(feature = "serde")]
    pub(crate) fn json(err: &serde_json::Error) -> Self {
        Self {
            kind: ErrorKind::Json(err.to_string()),
        }
    }

    /// The name of the field that was refused: `"id"`, `"event"` or `"data"`.
    ///
    /// ```
    /// # use ssekit::Event;
    /// assert_eq!(Event::default().event("a\rb").unwrap_err().field(), "event");
    /// ```
    #[must_use]
    pub fn field(&self) -> &'static str {
        match &self.kind {
            ErrorKind::ForbiddenChar { field, .. } => field,
            #[cfg(feature = "serde")]
            ErrorKind::Json(_) => "data",
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::ForbiddenChar { field, what, at } if *what == "a NUL character" => write!(
                f,
                "SSE `{field}` must not contain {what} (byte {at}): browsers drop such an id"
            ),
            ErrorKind::ForbiddenChar { field, what, at } => write!(
                f,
                "SSE `{field}` must not contain {what} (byte {at}): it would end the field and inject the rest into the stream"
            ),
            #[cfg(feature = "serde")]
            ErrorKind::Json(err) => write!(f, "SSE `data` could not be serialised as JSON: {err}"),
        }
    }
}

impl std::error::Error for EventError {}
