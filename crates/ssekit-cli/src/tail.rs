//! `ssekit tail`: follow an event stream the way a browser's `EventSource`
//! does, and print what arrives.
//!
//! Like `EventSource` it sends `Accept: text/event-stream` and
//! `Cache-Control: no-cache`; when the stream ends it waits the reconnection
//! time (3 s, or what the last `retry:` said) and reconnects with
//! `Last-Event-ID` set to the last event ID it saw; a 204 tells it to stop;
//! any other status or content type ends it with an error.
//!
//! Unlike `EventSource`, a failure of the *first* connection ends it at once
//! (a wrong URL should not be retried forever), and `--max-reconnects`
//! bounds the reconnections.
//!
//! ```
//! # use std::time::Duration;
//! # use tokio::io::AsyncWriteExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ssekit_cli::Error> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # tokio::spawn(async move {
//! #     let (mut socket, _) = listener.accept().await.unwrap();
//! #     let mut request = [0u8; 1024];
//! #     let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut request).await;
//! #     socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nid: 1\ndata: hello\n\n").await.unwrap();
//! # });
//! use ssekit_cli::client::Target;
//! use ssekit_cli::tail::{self, Format, Outcome, TailOptions};
//!
//! let mut options = TailOptions::new(Target::parse(&format!("http://{addr}/events"))?);
//! options.format = Format::Json;
//! options.count = Some(1);
//! let mut out = Vec::new();
//! let outcome = tail::run(&options, &mut out).await?;
//! assert_eq!(outcome, Outcome::CountReached);
//! let out = String::from_utf8(out).unwrap();
//! assert!(out.contains(r#"{"kind":"event","type":"message","id":"1","data":"hello"}"#), "{out}");
//! # Ok(()) }
//! ```

use std::io::Write;
use std::time::Duration;

use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use ssekit::Decoder;
use ssekit::decode::{Item, MessageEvent};
use ssekit::framing::Boundaries;

use crate::Error;
use crate::client::{Client, Target};
use crate::coding::Coding;
use crate::duration::show;
use crate::progress::Progress;
use crate::style::{Style, escape_controls};

/// The least time between two connections, whatever `retry:` says.
const MIN_RECONNECT: Duration = Duration::from_millis(50);

/// The reconnection time before any `retry:`: what browsers use.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(3);

/// The decoder's default limit on one event, in bytes.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// How `tail` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One readable line per event (data lines indented below it);
    /// comments, `retry:` and reconnects dimmed.
    Human(Style),
    /// One JSON object per line: `{"kind":"event","type":…,"id":…,"data":…}`,
    /// and `kind` `comment`, `retry`, `open`, `reconnect`, `error`.
    Json,
    /// The body's bytes as they arrive. With `escape`, control characters
    /// and bytes that are not UTF-8 are shown as escapes (for a terminal);
    /// without, the bytes are written as they are. Reconnects go to stderr.
    Raw {
        /// Escape what would drive a terminal.
        escape: bool,
    },
}

/// What `tail` does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TailOptions {
    /// The stream's URL.
    pub target: Target,
    /// Extra request headers (`-H`); they replace the defaults of the same
    /// name.
    pub headers: HeaderMap,
    /// The `Last-Event-ID` of the first connection.
    pub last_event_id: Option<String>,
    /// How to print.
    pub format: Format,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Reconnect at most this many times; `None`: without end.
    pub max_reconnects: Option<u64>,
    /// The deadline for connecting and the response head, each connection.
    pub timeout: Duration,
    /// The reconnection time until the server sends `retry:`.
    pub retry: Duration,
    /// The decoder's limit on one event, in bytes.
    pub max_event_size: usize,
}

impl TailOptions {
    /// Defaults: readable uncoloured output, no count, endless
    /// reconnection, a 10 s timeout, a 3 s reconnection time, 16 MiB events.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            target,
            headers: HeaderMap::new(),
            last_event_id: None,
            format: Format::Human(Style::plain()),
            count: None,
            max_reconnects: None,
            timeout: Duration::from_secs(10),
            retry: DEFAULT_RETRY,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }
}

/// How a `tail` that did not fail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `count` events were printed.
    CountReached,
    /// The server answered 204 No Content: stop reconnecting.
    Stopped,
    /// The stream ended cleanly and no reconnection was left.
    Ended,
}

/// Follows the stream, printing to `out`, until an [`Outcome`] or an error.
///
/// # Errors
///
/// [`Error::Connect`], [`Error::Tls`], [`Error::Timeout`], [`Error::Http`]
/// for the first connection (or the last reconnection allowed),
/// [`Error::NotEventStream`], [`Error::Cut`] when the last stream broke, and
/// [`Error::Output`] when `out` fails.
pub async fn run(options: &TailOptions, out: &mut dyn Write) -> Result<Outcome, Error> {
    run_with(options, out, &Progress::hidden()).await
}

/// How one connection ended.
enum End {
    /// No response: the error.
    Failed(Error),
    /// The body ended; `cut` says why if not cleanly at an event boundary.
    Body { cut: Option<String> },
}

pub(crate) async fn run_with(
    options: &TailOptions,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<Outcome, Error> {
    let mut printer = Printer {
        format: options.format,
        out,
        progress,
    };
    let client = Client::new(options.timeout);
    let mut last_event_id = options.last_event_id.clone().unwrap_or_default();
    let mut retry = options.retry;
    let mut events = 0u64;
    let mut reconnects = 0u64;
    let mut connected = false;
    if options.count == Some(0) {
        return Ok(Outcome::CountReached);
    }
    loop {
        progress.set(format!("connecting to {}", options.target));
        let headers = match request_headers(&options.headers, &last_event_id) {
            Ok(headers) => headers,
            // The server's own id, which a header cannot carry: a stream
            // problem, not a usage error; go on without it.
            Err(_) if connected => {
                printer.note(
                    &format!(
                        "the last event id {last_event_id:?} cannot be sent as a header (control character): reconnecting without it"
                    ),
                    &[
                        ("kind", json!("error")),
                        (
                            "message",
                            json!("the last event id cannot be sent as a header: reconnecting without it"),
                        ),
                        ("last_event_id", json!(last_event_id)),
                    ],
                )?;
                request_headers(&options.headers, "")?
            }
            Err(err) => return Err(err),
        };
        let end = match client.get(&options.target, headers).await {
            Err(err) if !connected => return Err(err),
            Err(err) => End::Failed(err),
            Ok(response) if response.status == StatusCode::NO_CONTENT => {
                printer.note(
                    "the server answered 204 No Content: stop reconnecting",
                    &[("kind", json!("open")), ("status", json!(204))],
                )?;
                return Ok(Outcome::Stopped);
            }
            Ok(response) if !response.is_event_stream() => {
                return Err(response.into_not_event_stream().await);
            }
            Ok(mut response) => {
                connected = true;
                let mut coding = Coding::from_headers(&response.headers);
                let status = response.status.as_u16();
                printer.note(
                    &format!("connected: {status}{}", resumed(&last_event_id)),
                    &[
                        ("kind", json!("open")),
                        ("status", json!(status)),
                        ("last_event_id", json!(last_event_id)),
                    ],
                )?;
                if let Coding::Unsupported(name) = &coding {
                    return Err(Error::Usage(format!(
                        "the stream is encoded with {name}, which tail cannot decode (ask the server for an uncompressed stream)"
                    )));
                }
                progress.set(format!("waiting for events from {}", options.target));
                let mut decoder = Decoder::with_max_event_size(options.max_event_size);
                decoder.set_last_event_id(last_event_id.clone());
                let mut boundaries = Boundaries::new();
                let mut items = Vec::new();
                let cut = loop {
                    let chunk = match response.chunk().await {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) if boundaries.at_boundary() => break None,
                        Ok(None) => {
                            break Some(
                                "the stream ended inside an event, which was lost".to_owned(),
                            );
                        }
                        Err(err) if boundaries.at_boundary() => {
                            break Some(format!("the connection was lost: {err}"));
                        }
                        Err(err) => {
                            break Some(format!(
                                "the stream was cut mid-event ({err}); the partial event was lost"
                            ));
                        }
                    };
                    let mut decoded = Ok(());
                    let result = coding.decode(&chunk, |bytes| {
                        if decoded.is_err() {
                            return;
                        }
                        boundaries.scan(bytes);
                        decoded = printer.raw(bytes);
                        decoder.feed_into(bytes, &mut items);
                    });
                    decoded?;
                    if let Err(err) = result {
                        break Some(err);
                    }
                    for item in items.drain(..) {
                        match item {
                            Ok(Item::Event(event)) => {
                                printer.event(&event)?;
                                events += 1;
                                if options.count.is_some_and(|count| events >= count) {
                                    return Ok(Outcome::CountReached);
                                }
                            }
                            Ok(Item::Comment(text)) => printer.comment(&text)?,
                            Ok(Item::Retry(after)) => {
                                retry = after;
                                printer.retry(after)?;
                            }
                            Ok(_) => {}
                            Err(err) => printer.note(
                                &format!("an event was dropped: {err}"),
                                &[
                                    ("kind", json!("error")),
                                    ("message", json!(err.to_string())),
                                ],
                            )?,
                        }
                    }
                };
                // What a browser sends when it reconnects.
                last_event_id = decoder.dispatched_last_event_id().to_owned();
                End::Body { cut }
            }
        };
        if options.max_reconnects.is_some_and(|max| reconnects >= max) {
            return match end {
                End::Failed(err) => Err(err),
                End::Body { cut: None } => Ok(Outcome::Ended),
                End::Body { cut: Some(why) } => Err(Error::Cut(why)),
            };
        }
        reconnects += 1;
        let why = match &end {
            End::Failed(err) => format!("reconnecting failed: {err}"),
            End::Body { cut: None } => "the stream ended".to_owned(),
            End::Body { cut: Some(why) } => why.clone(),
        };
        printer.note(
            &format!(
                "{why}; reconnecting in {}{}",
                show(retry),
                resumed(&last_event_id)
            ),
            &[
                ("kind", json!("reconnect")),
                ("reason", json!(why)),
                ("after_ms", json!(millis(retry))),
                ("last_event_id", json!(last_event_id)),
            ],
        )?;
        progress.set(format!("reconnecting in {}", show(retry)));
        // `retry: 0` from a server that closes at once must not spin.
        tokio::time::sleep(retry.max(MIN_RECONNECT)).await;
    }
}

fn resumed(last_event_id: &str) -> String {
    if last_event_id.is_empty() {
        String::new()
    } else {
        format!(" with Last-Event-ID {:?}", escape_controls(last_event_id))
    }
}

/// The headers `EventSource` sends, then the user's, then `Last-Event-ID`.
fn request_headers(extra: &HeaderMap, last_event_id: &str) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Any compression only holds events back; a gzip stream is still
    // decoded if a server sends one anyway.
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    for name in extra.keys() {
        headers.remove(name);
    }
    for (name, value) in extra {
        headers.append(name, value.clone());
    }
    if !last_event_id.is_empty() {
        // Raw UTF-8, as a browser sends it; only control characters fail.
        let value = HeaderValue::from_bytes(last_event_id.as_bytes()).map_err(|_| {
            Error::Usage(format!(
                "Last-Event-ID {last_event_id:?} cannot be sent as a header (it has a control character)"
            ))
        })?;
        headers.insert(HeaderName::from_static("last-event-id"), value);
    }
    Ok(headers)
}

/// Writes what arrives in the chosen format, with the spinner out of the way.
struct Printer<'a> {
    format: Format,
    out: &'a mut dyn Write,
    progress: &'a Progress,
}

impl Printer<'_> {
    fn write(&mut self, text: &str) -> Result<(), Error> {
        let out = &mut *self.out;
        self.progress
            .suspend(|| out.write_all(text.as_bytes()).and_then(|()| out.flush()))
            .map_err(Error::Output)
    }

    fn json(&mut self, fields: &[(&str, Value)]) -> Result<(), Error> {
        self.write(&format!("{}\n", json_line(fields)))
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self.format {
            Format::Raw { escape: false } => {
                let out = &mut *self.out;
                self.progress
                    .suspend(|| out.write_all(bytes).and_then(|()| out.flush()))
                    .map_err(Error::Output)
            }
            Format::Raw { escape: true } => self.write(&escape_bytes(bytes)),
            Format::Human(_) | Format::Json => Ok(()),
        }
    }

    fn event(&mut self, event: &MessageEvent) -> Result<(), Error> {
        match self.format {
            Format::Human(style) => {
                let mut line = style.cyan(&escape_controls(&event.event_type));
                if !event.last_event_id.is_empty() {
                    line.push(' ');
                    line.push_str(
                        &style.yellow(&format!("id={}", escape_controls(&event.last_event_id))),
                    );
                }
                let mut data = escape_controls(&event.data).replace('\n', "\n  ");
                if data.is_empty() {
                    data = style.dim("(empty data)");
                }
                self.write(&format!("{line}  {data}\n"))
            }
            Format::Json => self.json(&[
                ("kind", json!("event")),
                ("type", json!(event.event_type)),
                ("id", json!(&*event.last_event_id)),
                ("data", json!(event.data)),
            ]),
            Format::Raw { .. } => Ok(()),
        }
    }

    fn comment(&mut self, text: &str) -> Result<(), Error> {
        match self.format {
            Format::Human(style) => {
                let shown = if text.is_empty() {
                    ": (heartbeat)".to_owned()
                } else {
                    format!(": {}", escape_controls(text).replace('\n', " "))
                };
                self.write(&format!("{}\n", style.dim(&shown)))
            }
            Format::Json => self.json(&[("kind", json!("comment")), ("text", json!(text))]),
            Format::Raw { .. } => Ok(()),
        }
    }

    fn retry(&mut self, after: Duration) -> Result<(), Error> {
        match self.format {
            Format::Human(style) => self.write(&format!(
                "{}\n",
                style.dim(&format!("retry: {}", show(after)))
            )),
            Format::Json => self.json(&[("kind", json!("retry")), ("ms", json!(millis(after)))]),
            Format::Raw { .. } => Ok(()),
        }
    }

    /// A line about the connection: dimmed, a JSON object, or (raw) on
    /// stderr so that stdout keeps only the body's bytes.
    fn note(&mut self, text: &str, fields: &[(&str, Value)]) -> Result<(), Error> {
        match self.format {
            Format::Human(style) => self.write(&format!("{}\n", style.dim(&format!("-- {text}")))),
            Format::Json => self.json(fields),
            Format::Raw { .. } => {
                let style = Style::for_stderr();
                self.progress.suspend(|| {
                    eprintln!("{}", style.dim(&format!("-- {text}")));
                });
                Ok(())
            }
        }
    }
}

/// One JSON object with its keys in the given order (`kind` first reads
/// best), whatever order `serde_json`'s map keeps.
pub(crate) fn json_line(fields: &[(&str, Value)]) -> String {
    let mut line = String::from("{");
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        line.push_str(&Value::from(*key).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    }
    line.push('}');
    line
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Bytes for a terminal: text as it is, line feeds kept, CR shown as `\r`
/// before them, other control bytes and bytes that are not UTF-8 as `\xNN`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push('\n'),
                '\r' => out.push_str("\\r"),
                '\t' => out.push('\t'),
                c if c.is_control() => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_bytes_shows_what_a_terminal_would_hide() {
        assert_eq!(
            escape_bytes(b"data: a\r\n\x1b[1m\xFF\n"),
            "data: a\\r\n\\u{1b}[1m\\xFF\n"
        );
    }

    #[test]
    fn user_headers_replace_the_defaults() {
        let mut extra = HeaderMap::new();
        extra.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        let headers = request_headers(&extra, "7").unwrap();
        assert_eq!(headers.get_all(header::ACCEPT).iter().count(), 1);
        assert_eq!(headers[header::ACCEPT], "*/*");
        assert_eq!(headers["last-event-id"], "7");
        assert!(request_headers(&extra, "a\nb").is_err());
    }
}
