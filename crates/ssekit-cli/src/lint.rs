//! Framing that browsers and other clients may decode differently.
//!
//! The events themselves come from `ssekit::Decoder`; this only looks at
//! the lines around them for what the spec allows or ignores but that makes
//! a stream fragile: lone CR line ends, unknown (injected) field names,
//! bytes that are not UTF-8, an `id` with NUL, a `retry` that is not a
//! number. Memory is bounded: it keeps a few bytes of the current line,
//! never the line itself.

/// How many bytes of a field name or value are kept to judge it. Known
/// field names are at most 5 bytes; 64 leaves room to quote an unknown one.
const KEEP: usize = 64;

/// Where a fault was first seen and how often.
#[derive(Debug, Default, Clone)]
struct Seen {
    count: u64,
    first_line: u64,
    first_offset: u64,
    /// A quote of the first one (a field name or value), escaped.
    quote: String,
}

impl Seen {
    fn note(&mut self, line: u64, offset: u64, quote: impl FnOnce() -> String) {
        if self.count == 0 {
            self.first_line = line;
            self.first_offset = offset;
            self.quote = quote();
        }
        self.count += 1;
    }
}

/// Follows a decoded body (after any content coding) byte by byte.
#[derive(Debug)]
pub(crate) struct FramingLint {
    offset: u64,
    /// 1-based number of the current line.
    line: u64,
    pending_cr: bool,
    line_len: u64,
    name: Vec<u8>,
    in_value: bool,
    value: Vec<u8>,
    value_has_nul: bool,
    /// UTF-8: continuation bytes still expected, and the range the next
    /// one must fall in (which rules out overlong forms and surrogates).
    utf8_need: u8,
    utf8_lo: u8,
    utf8_hi: u8,
    /// The first byte of the sequence being read, and where it was.
    utf8_lead: (u8, u64, u64),
    lone_cr: Seen,
    unknown_field: Seen,
    bad_utf8: Seen,
    id_nul: Seen,
    bad_retry: Seen,
}

impl FramingLint {
    pub(crate) fn new() -> Self {
        Self {
            offset: 0,
            line: 1,
            pending_cr: false,
            line_len: 0,
            name: Vec::new(),
            in_value: false,
            value: Vec::new(),
            value_has_nul: false,
            utf8_need: 0,
            utf8_lo: 0x80,
            utf8_hi: 0xBF,
            utf8_lead: (0, 0, 0),
            lone_cr: Seen::default(),
            unknown_field: Seen::default(),
            bad_utf8: Seen::default(),
            id_nul: Seen::default(),
            bad_retry: Seen::default(),
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.byte(byte);
            self.offset += 1;
        }
    }

    /// Ends the stream; a trailing CR counts as a lone one.
    pub(crate) fn finish(&mut self) {
        if self.pending_cr {
            self.pending_cr = false;
            self.lone_cr
                .note(self.line.saturating_sub(1), self.offset, String::new);
        }
        if self.utf8_need > 0 {
            self.utf8_need = 0;
            self.note_bad_utf8();
        }
    }

    fn byte(&mut self, byte: u8) {
        if self.pending_cr {
            self.pending_cr = false;
            if byte == b'\n' {
                return;
            }
            self.lone_cr
                .note(self.line.saturating_sub(1), self.offset, String::new);
        }
        self.utf8(byte);
        match byte {
            b'\r' => {
                self.end_line();
                self.pending_cr = true;
            }
            b'\n' => self.end_line(),
            _ => {
                self.line_len += 1;
                if self.in_value {
                    self.value_has_nul |= byte == 0;
                    if self.value.len() < KEEP {
                        self.value.push(byte);
                    }
                } else if byte == b':' {
                    self.in_value = true;
                } else if self.name.len() < KEEP {
                    self.name.push(byte);
                }
            }
        }
    }

    fn utf8(&mut self, byte: u8) {
        if self.utf8_need > 0 {
            if (self.utf8_lo..=self.utf8_hi).contains(&byte) {
                self.utf8_need -= 1;
                self.utf8_lo = 0x80;
                self.utf8_hi = 0xBF;
                return;
            }
            self.utf8_need = 0;
            self.utf8_lo = 0x80;
            self.utf8_hi = 0xBF;
            self.note_bad_utf8();
            // The byte that broke the sequence starts afresh.
        }
        self.utf8_lead = (byte, self.line, self.offset);
        match byte {
            0x00..=0x7F => {}
            0xC2..=0xDF => self.utf8_need = 1,
            0xE0 => (self.utf8_need, self.utf8_lo) = (2, 0xA0),
            0xED => (self.utf8_need, self.utf8_hi) = (2, 0x9F),
            0xE1..=0xEF => self.utf8_need = 2,
            0xF0 => (self.utf8_need, self.utf8_lo) = (3, 0x90),
            0xF4 => (self.utf8_need, self.utf8_hi) = (3, 0x8F),
            0xF1..=0xF3 => self.utf8_need = 3,
            _ => self.note_bad_utf8(),
        }
    }

    /// The sequence that started at `utf8_lead` is not UTF-8.
    fn note_bad_utf8(&mut self) {
        let (byte, line, offset) = self.utf8_lead;
        self.bad_utf8.note(line, offset, || format!("0x{byte:02X}"));
    }

    fn end_line(&mut self) {
        if self.line_len > 0 {
            let mut name = &self.name[..];
            if self.line == 1 {
                name = name.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(name);
            }
            let value = self.value.strip_prefix(b" ").unwrap_or(&self.value);
            let (line, offset) = (self.line, self.offset);
            match name {
                // A comment, or a known field.
                b"" | b"data" | b"event" => {}
                b"id" if self.value_has_nul => self.id_nul.note(line, offset, String::new),
                b"id" => {}
                b"retry" => {
                    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                        self.bad_retry.note(line, offset, || quote(value));
                    }
                }
                _ => self.unknown_field.note(line, offset, || quote(name)),
            }
        }
        self.line += 1;
        self.line_len = 0;
        self.name.clear();
        self.value.clear();
        self.in_value = false;
        self.value_has_nul = false;
    }

    /// Every fault found, one sentence each; empty when the framing is clean.
    pub(crate) fn faults(&self) -> Vec<String> {
        let mut out = Vec::new();
        let seen = &self.lone_cr;
        if seen.count > 0 {
            out.push(format!(
                "{} line(s) end in a lone CR (first: line {}): browsers accept it, but clients that split lines on LF read different events",
                seen.count, seen.first_line
            ));
        }
        let seen = &self.unknown_field;
        if seen.count > 0 {
            out.push(format!(
                "unknown field `{}` on line {} ({} such line(s)): browsers ignore it; a line break left unescaped in a value injects lines like this",
                seen.quote, seen.first_line, seen.count
            ));
        }
        let seen = &self.bad_utf8;
        if seen.count > 0 {
            out.push(format!(
                "bytes that are not UTF-8 ({} place(s), first {} at byte {} on line {}): browsers decode them as U+FFFD",
                seen.count, seen.quote, seen.first_offset, seen.first_line
            ));
        }
        let seen = &self.id_nul;
        if seen.count > 0 {
            out.push(format!(
                "`id` with a NUL on line {} ({} such line(s)): browsers ignore the field",
                seen.first_line, seen.count
            ));
        }
        let seen = &self.bad_retry;
        if seen.count > 0 {
            out.push(format!(
                "`retry` value `{}` on line {} is not a number of milliseconds ({} such line(s)): browsers ignore it",
                seen.quote, seen.first_line, seen.count
            ));
        }
        out
    }
}

fn quote(bytes: &[u8]) -> String {
    crate::style::escape_controls(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(chunks: &[&[u8]]) -> Vec<String> {
        let mut lint = FramingLint::new();
        for chunk in chunks {
            lint.feed(chunk);
        }
        lint.finish();
        lint.faults()
    }

    #[test]
    fn clean_streams_have_no_faults() {
        let body: &[u8] =
            "\u{FEFF}retry: 10\r\n: hi\r\nid: 1\nevent: e\ndata: caf\u{e9} \u{1F600}\n\ndata\n\n"
                .as_bytes();
        assert_eq!(faults(&[body]), Vec::<String>::new());
        // Split anywhere, including inside a CRLF and a character.
        for at in 0..body.len() {
            assert_eq!(
                faults(&[&body[..at], &body[at..]]),
                Vec::<String>::new(),
                "split at {at}"
            );
        }
    }

    #[test]
    fn each_fault_is_named() {
        let found = faults(&[
            b"data: a\rdata: b\r\r",
            b"data: x\ninjected\n\n",
            b"data: caf\xE9\n\n",
            b"id: 1\0\nretry: 1s\n\n",
        ]);
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(
            found[0].contains("3 line(s) end in a lone CR (first: line 1)"),
            "{}",
            found[0]
        );
        assert!(
            found[1].contains("unknown field `injected` on line 5"),
            "{}",
            found[1]
        );
        assert!(
            found[2].contains("0xE9") && found[2].contains("line 7"),
            "{}",
            found[2]
        );
        assert!(found[3].contains("NUL on line 9"), "{}", found[3]);
        assert!(found[4].contains("`1s` on line 10"), "{}", found[4]);
    }

    #[test]
    fn overlong_and_surrogate_forms_are_not_utf8() {
        for bad in [
            &b"data: \xC0\xAF\n\n"[..],
            b"data: \xED\xA0\x80\n\n",
            b"data: \xE2\x82\n\n",
            b"data: \xE2",
        ] {
            let found = faults(&[bad]);
            assert!(
                found.iter().any(|f| f.contains("not UTF-8")),
                "{bad:?}: {found:?}"
            );
        }
    }
}
