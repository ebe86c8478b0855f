//! Undoing a `Content-Encoding` an event stream should not have had, so that
//! a compressed stream can still be followed and checked.

use std::io::Write;

use flate2::write::GzDecoder;
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

/// How much compressed input is inflated at a time. Deflate expands at
/// most about a thousandfold, so one step yields at most about a megabyte,
/// which is handed on before the next step: a small "gzip bomb" cannot
/// make the output of one chunk grow without bound.
const STEP: usize = 1024;

/// The body's content coding.
pub(crate) enum Coding {
    Identity,
    Gzip(Box<GzDecoder<Vec<u8>>>),
    /// A coding this tool cannot undo: its name.
    Unsupported(String),
}

impl std::fmt::Debug for Coding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Identity => f.write_str("Identity"),
            Self::Gzip(_) => f.write_str("Gzip"),
            Self::Unsupported(name) => write!(f, "Unsupported({name:?})"),
        }
    }
}

impl Coding {
    /// The coding named by the response's `Content-Encoding` (the last one
    /// applied; more than one coding at once is taken as unsupported).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let codings: Vec<String> = headers
            .get_all(CONTENT_ENCODING)
            .iter()
            .flat_map(|value| {
                String::from_utf8_lossy(value.as_bytes())
                    .split(',')
                    .map(|coding| coding.trim().to_ascii_lowercase())
                    .filter(|coding| !coding.is_empty() && coding != "identity")
                    .collect::<Vec<_>>()
            })
            .collect();
        match codings.as_slice() {
            [] => Self::Identity,
            [one] if one == "gzip" || one == "x-gzip" => {
                Self::Gzip(Box::new(GzDecoder::new(Vec::new())))
            }
            _ => Self::Unsupported(codings.join(", ")),
        }
    }

    /// Whether the body's bytes can be read as an event stream.
    pub(crate) fn is_readable(&self) -> bool {
        !matches!(self, Self::Unsupported(_))
    }

    /// Decodes `raw` and hands the result to `out`, in pieces of bounded
    /// size. An unsupported coding hands on nothing.
    ///
    /// # Errors
    ///
    /// The decoder's message, when the data is not valid for its coding.
    pub(crate) fn decode(&mut self, raw: &[u8], mut out: impl FnMut(&[u8])) -> Result<(), String> {
        match self {
            Self::Identity => {
                out(raw);
                Ok(())
            }
            Self::Gzip(decoder) => {
                for step in raw.chunks(STEP) {
                    decoder
                        .write_all(step)
                        .and_then(|()| decoder.flush())
                        .map_err(|err| format!("the gzip body does not decode: {err}"))?;
                    let inflated = decoder.get_mut();
                    if !inflated.is_empty() {
                        out(inflated);
                        inflated.clear();
                    }
                }
                Ok(())
            }
            Self::Unsupported(_) => Ok(()),
        }
    }
}
