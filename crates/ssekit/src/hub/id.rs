//! The ids the hub gives events.

use std::fmt;
use std::str::FromStr;

/// The longest [`EventId`] as text: two 20-digit numbers and the dash.
pub(crate) const MAX_TEXT: usize = 41;

/// The id of an event published through a [`Hub`](super::Hub): two numbers,
/// written `major-minor`, ordered by `major` and then `minor`.
///
/// It has the shape of a Redis stream entry id on purpose. With the Redis
/// backplane it *is* the entry id (milliseconds of Redis's clock, then a
/// sequence), so a client may resume on any instance. The in-process hub
/// writes the time it was built, in milliseconds, then a sequence: an id
/// from before a restart is never mistaken for one after it.
///
/// ```
/// use ssekit::hub::EventId;
///
/// let id: EventId = "1700000000000-7".parse()?;
/// assert_eq!((id.major(), id.minor()), (1_700_000_000_000, 7));
/// assert_eq!(id.to_string(), "1700000000000-7");
/// assert!(id < EventId::new(1_700_000_000_000, 8));
/// assert!("7".parse::<EventId>().is_err());
/// # Ok::<(), ssekit::hub::InvalidEventId>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    major: u64,
    minor: u64,
}

impl EventId {
    /// The id `major-minor`.
    #[must_use]
    pub const fn new(major: u64, minor: u64) -> Self {
        Self { major, minor }
    }

    /// The part before the dash: a time in milliseconds.
    #[must_use]
    pub const fn major(self) -> u64 {
        self.major
    }

    /// The part after the dash: a sequence.
    #[must_use]
    pub const fn minor(self) -> u64 {
        self.minor
    }

    /// The id's text, `major-minor`, written into `buf` without allocating.
    pub(crate) fn text(self, buf: &mut [u8; MAX_TEXT]) -> &[u8] {
        let (mut major, mut minor) = (itoa::Buffer::new(), itoa::Buffer::new());
        let major = major.format(self.major).as_bytes();
        let minor = minor.format(self.minor).as_bytes();
        let (head, tail) = buf.split_at_mut(major.len());
        head.copy_from_slice(major);
        tail[0] = b'-';
        tail[1..=minor.len()].copy_from_slice(minor);
        &buf[..=major.len() + minor.len()]
    }

    /// The id as an `id:` line, written without allocating.
    pub(crate) fn write_line(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(self.text(&mut [0; MAX_TEXT]));
        out.push(b'\n');
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.major, self.minor)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// Text that is not an [`EventId`]: not two decimal numbers joined by a
/// dash, or a number past `u64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEventId(());

impl fmt::Display for InvalidEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a hub event id: expected two decimal numbers joined by '-'")
    }
}

impl std::error::Error for InvalidEventId {}

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidEventId(()));
            }
            part.parse::<u64>().map_err(|_| InvalidEventId(()))
        };
        let (major, minor) = text.split_once('-').ok_or(InvalidEventId(()))?;
        Ok(Self::new(number(major)?, number(minor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_what_it_writes() {
        for text in [
            "",
            "-",
            "1-",
            "-1",
            "1-2-3",
            "+1-2",
            "1-+2",
            " 1-2",
            "a-1",
            "18446744073709551616-0",
        ] {
            assert!(text.parse::<EventId>().is_err(), "{text:?}");
        }
        let max = EventId::new(u64::MAX, u64::MAX);
        assert_eq!(max.to_string().parse::<EventId>(), Ok(max));
        let mut line = Vec::new();
        max.write_line(&mut line);
        assert_eq!(line, format!("id: {max}\n").into_bytes());
        let mut line = Vec::new();
        EventId::new(0, 10).write_line(&mut line);
        assert_eq!(line, b"id: 0-10\n");
    }
}
