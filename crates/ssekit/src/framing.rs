//! Event boundaries in a byte stream that someone else framed.
//!
//! A layer that wraps a body it did not make (axum's own `Sse`, a
//! hand-written stream) may only add a heartbeat, or end the stream, where
//! one event block has ended and the next has not begun: after a blank line,
//! whichever of CR, LF or CRLF ends its lines. [`Boundaries`] follows the
//! bytes, chunk by chunk, and says whether the stream stands there now.
//!
//! ```
//! use ssekit::framing::Boundaries;
//!
//! let mut boundaries = Boundaries::new();
//! assert!(boundaries.at_boundary());
//! assert_eq!(boundaries.scan(b"data: a\r\n"), 0);
//! assert!(!boundaries.at_boundary()); // inside an event
//! assert_eq!(boundaries.scan(b"\r\ndata: b\n\ndata: c\r\r"), 3);
//! assert!(boundaries.at_boundary());
//! ```

/// Follows a byte stream's event boundaries. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundaries {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A block just ended (or the stream just began).
    Boundary,
    /// As `Boundary`, after a CR that an LF may still complete.
    BoundaryAfterCr,
    /// A non-empty line just ended.
    LineStart,
    /// As `LineStart`, after a CR that an LF may still complete.
    LineStartAfterCr,
    /// Inside a line.
    InLine,
}

impl Default for Boundaries {
    fn default() -> Self {
        Self::new()
    }
}

impl Boundaries {
    /// At the start of a stream, which is a boundary.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: State::Boundary,
        }
    }

    /// Whether the bytes so far end on a boundary: a heartbeat or a
    /// farewell written now cannot land inside an event.
    ///
    /// Right after a CR that ended a blank line, an LF may still follow to
    /// complete a CRLF; writing there is safe too, since that LF then only
    /// adds a blank line, which dispatches nothing.
    #[must_use]
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Boundary | State::BoundaryAfterCr)
    }

    /// Follows `bytes`; returns how many blocks they ended.
    pub fn scan(&mut self, bytes: &[u8]) -> u64 {
        let mut ended = 0;
        let mut next = 0;
        for at in memchr::memchr2_iter(b'\r', b'\n', bytes) {
            if at > next {
                self.state = State::InLine;
            }
            let cr = bytes[at] == b'\r';
            self.state = match (self.state, cr) {
                (State::InLine | State::LineStartAfterCr, false) => State::LineStart,
                (State::InLine, true) => State::LineStartAfterCr,
                (State::LineStart, _) | (State::LineStartAfterCr, true) => {
                    ended += 1;
                    if cr {
                        State::BoundaryAfterCr
                    } else {
                        State::Boundary
                    }
                }
                (State::Boundary | State::BoundaryAfterCr, false) => State::Boundary,
                (State::Boundary | State::BoundaryAfterCr, true) => State::BoundaryAfterCr,
            };
            next = at + 1;
        }
        if bytes.len() > next {
            self.state = State::InLine;
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(chunks: &[&[u8]]) -> (u64, bool) {
        let mut boundaries = Boundaries::new();
        let ended = chunks.iter().map(|chunk| boundaries.scan(chunk)).sum();
        (ended, boundaries.at_boundary())
    }

    #[test]
    fn every_line_ending_ends_a_block() {
        assert_eq!(blocks(&[b"data: a\n\n"]), (1, true));
        assert_eq!(blocks(&[b"data: a\r\r"]), (1, true));
        assert_eq!(blocks(&[b"data: a\r\n\r\n"]), (1, true));
        assert_eq!(blocks(&[b"data: a\n\r\n"]), (1, true));
        assert_eq!(blocks(&[b"data: a\r\n\r"]), (1, true));
    }

    #[test]
    fn a_crlf_is_one_line_end_even_across_chunks() {
        assert_eq!(blocks(&[b"data: a\r", b"\n"]), (0, false));
        assert_eq!(blocks(&[b"data: a\r", b"\n", b"\r", b"\n"]), (1, true));
    }

    #[test]
    fn extra_blank_lines_end_nothing_more() {
        assert_eq!(blocks(&[b"\n\n\r\n:\n\n\n"]), (1, true));
    }

    #[test]
    fn a_partial_event_is_not_a_boundary() {
        assert_eq!(blocks(&[b"data: a\n\ndata: b"]), (1, false));
        assert_eq!(blocks(&[b"data: a\n\ndata: b\n"]), (1, false));
        assert_eq!(blocks(&[b"data: a\n\ndata: b\n", b"id: 2"]), (1, false));
    }

    #[test]
    fn matches_the_decoder_on_where_events_end() {
        let stream = b"data: 1\r\n\r\n: c\n\nid: 2\rdata: 2\r\rdata: 3\n\r\n";
        for cut in 0..=stream.len() {
            let (ended, at) = blocks(&[&stream[..cut], &stream[cut..]]);
            assert_eq!((ended, at), (4, true), "cut at {cut}");
        }
    }
}
