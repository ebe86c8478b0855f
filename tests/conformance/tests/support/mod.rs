//! What every case shares: the server process, the raw HTTP/1.1 client, the
//! h2c client, the SSE views of a response, and the echo table (which the
//! browser suite shares too).

pub(crate) mod echo_table;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod server;

#[cfg(test)]
mod selftest;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ssekit::Decoder;
use ssekit::decode::{Item, MessageEvent};
use tokio::time::Instant;

pub(crate) use server::{Adapter, Server};

/// How long any single request may take to produce its head, or a finite
/// body to end, before the case fails instead of hanging.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// The protocol a response came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Proto {
    #[default]
    Http1,
    Http2,
}

/// A response head: status and headers, names in lower case, values as the
/// raw bytes received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Head {
    pub(crate) proto: Proto,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// The first value of a header.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_slice())
    }

    /// Every value of a header, in order.
    pub(crate) fn get_all(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, value)| value.as_slice())
            .collect()
    }

    /// The media type without parameters, in lower case.
    pub(crate) fn essence(&self) -> Option<String> {
        let value = String::from_utf8_lossy(self.get("content-type")?).into_owned();
        Some(
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
        )
    }

    /// The head as text, for failure messages.
    pub(crate) fn dump(&self) -> String {
        let mut out = format!("{:?} {}\n", self.proto, self.status);
        for (name, value) in &self.headers {
            let _ = writeln!(out, "  {name}: {}", String::from_utf8_lossy(value));
        }
        out
    }
}

/// The headers that HTTP/2 forbids (RFC 9113, section 8.2.2).
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Every way `head` breaks the common rules for an SSE response
/// (SCENARIOS.md, "Common rules for every SSE response").
pub(crate) fn sse_head_violations(head: &Head) -> Vec<String> {
    let mut out = Vec::new();
    if head.status != 200 {
        out.push(format!("status is {}, not 200", head.status));
    }
    match head.get_all("content-type").as_slice() {
        [_] if head.essence().as_deref() == Some("text/event-stream") => {}
        values => out.push(format!(
            "content-type is {:?}, not one text/event-stream",
            lossy_all(values)
        )),
    }
    let cache_control = head.get_all("cache-control");
    let no_cache = cache_control.iter().any(|value| {
        String::from_utf8_lossy(value).split(',').any(|directive| {
            directive
                .split('=')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("no-cache")
        })
    });
    if !no_cache {
        out.push(format!(
            "cache-control {:?} has no no-cache directive",
            lossy_all(&cache_control)
        ));
    }
    match head.get_all("x-accel-buffering").as_slice() {
        [value] if value.eq_ignore_ascii_case(b"no") => {}
        values => out.push(format!(
            "x-accel-buffering is {:?}, not one `no`",
            lossy_all(values)
        )),
    }
    if head.get("content-length").is_some() {
        out.push(format!(
            "content-length is present: {:?}",
            lossy_all(&head.get_all("content-length"))
        ));
    }
    let encodings = head.get_all("content-encoding");
    if encodings
        .iter()
        .any(|value| !value.eq_ignore_ascii_case(b"identity"))
    {
        out.push(format!(
            "content-encoding is {:?} (the request asked for gzip, br; only identity is allowed)",
            lossy_all(&encodings)
        ));
    }
    match head.proto {
        Proto::Http1 => {
            // A stream has no length known in advance; on HTTP/1.1 that means
            // chunked framing, whose terminator is how a clean end shows
            // (SCENARIOS.md, "Shutdown").
            let chunked = head
                .get_all("transfer-encoding")
                .iter()
                .any(|value| value.eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                out.push("HTTP/1.1 body is not chunked".to_owned());
            }
        }
        Proto::Http2 => {
            for name in CONNECTION_SPECIFIC {
                if head.get(name).is_some() {
                    out.push(format!("connection-specific header {name} on HTTP/2"));
                }
            }
        }
    }
    out
}

/// Panics, listing every violation, if `head` breaks a common rule.
pub(crate) fn assert_sse_head(head: &Head, context: &str) {
    let violations = sse_head_violations(head);
    assert!(
        violations.is_empty(),
        "{context}: the SSE response head breaks the common rules:\n  - {}\nhead:\n{}",
        violations.join("\n  - "),
        head.dump()
    );
}

fn lossy_all(values: &[&[u8]]) -> Vec<String> {
    values
        .iter()
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .collect()
}

/// A piece of a response body and when it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    pub(crate) at: Instant,
}

/// A response whose body is read piece by piece: HTTP/1.1 or HTTP/2.
pub(crate) trait BodySource {
    /// The next piece of the body; `None` at a clean end, an error for any
    /// other end.
    async fn next_chunk(&mut self) -> Result<Option<Chunk>, String>;
    fn head(&self) -> &Head;
    /// When the head arrived.
    fn head_at(&self) -> Instant;
}

/// Reads a finite body to its end, at most `within`.
pub(crate) async fn read_body<B: BodySource>(
    body: &mut B,
    within: Duration,
) -> Result<Vec<Chunk>, String> {
    let deadline = Instant::now() + within;
    let mut chunks = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, body.next_chunk()).await {
            Err(_) => {
                return Err(format!(
                    "the body did not end within {within:?}; got {:?}",
                    String::from_utf8_lossy(&concat(&chunks))
                ));
            }
            Ok(Err(err)) => return Err(err),
            Ok(Ok(None)) => return Ok(chunks),
            Ok(Ok(Some(chunk))) => chunks.push(chunk),
        }
    }
}

pub(crate) fn concat(chunks: &[Chunk]) -> Vec<u8> {
    chunks
        .iter()
        .flat_map(|chunk| chunk.data.iter().copied())
        .collect()
}

/// The body with its `Content-Encoding` undone (responses other than event
/// streams may well be compressed: every request accepts gzip and br).
pub(crate) fn decompress(head: &Head, body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = body.to_vec();
    if out.is_empty() {
        // An empty body stays empty whatever its coding says.
        return Ok(out);
    }
    for coding in head.get_all("content-encoding").iter().rev() {
        let coding = String::from_utf8_lossy(coding).trim().to_ascii_lowercase();
        let mut decoded = Vec::new();
        let result = match coding.as_str() {
            "identity" | "" => continue,
            "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&out[..]).read_to_end(&mut decoded),
            "deflate" => flate2::read::ZlibDecoder::new(&out[..]).read_to_end(&mut decoded),
            "br" => {
                brotli_decompressor::Decompressor::new(&out[..], 4096).read_to_end(&mut decoded)
            }
            other => return Err(format!("unexpected content-encoding {other}")),
        };
        result.map_err(|err| format!("cannot undo content-encoding {coding}: {err}"))?;
        out = decoded;
    }
    Ok(out)
}

/// A finished, finite response.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) head: Head,
    /// The body with any content coding undone.
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends a request over HTTP/1.1 and reads the whole response.
pub(crate) async fn fetch(server: &Server, request: &h1::Request) -> Result<Fetched, String> {
    let mut response = tokio::time::timeout(PATIENCE, request.send(server.addr))
        .await
        .map_err(|_| format!("no response head within {PATIENCE:?}"))??;
    let chunks = read_body(&mut response, PATIENCE).await?;
    let body = decompress(&response.head, &concat(&chunks))?;
    Ok(Fetched {
        head: response.head,
        body,
    })
}

/// GET `target` over HTTP/1.1 and read the whole response.
pub(crate) async fn get(server: &Server, target: &str) -> Fetched {
    fetch(server, &h1::Request::get(target))
        .await
        .unwrap_or_else(|err| panic!("GET {target}: {err}"))
}

/// Opens an event stream over HTTP/1.1 (with `Accept: text/event-stream`,
/// as a browser sends) and returns it once its head is in.
pub(crate) async fn open(server: &Server, request: h1::Request) -> SseReader<h1::Response> {
    let request = request.header("Accept", "text/event-stream");
    let response = tokio::time::timeout(PATIENCE, request.send(server.addr))
        .await
        .unwrap_or_else(|_| panic!("no response head within {PATIENCE:?} for {request:?}"))
        .unwrap_or_else(|err| panic!("{request:?}: {err}"));
    SseReader::new(response)
}

/// An item decoded from a stream and the arrival time of the bytes that
/// completed it.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    pub(crate) item: Item,
    pub(crate) at: Instant,
}

/// Decodes a response body with ssekit's `Decoder` as its pieces arrive.
#[derive(Debug)]
pub(crate) struct SseReader<B> {
    pub(crate) body: B,
    decoder: Decoder,
    queue: VecDeque<Timed>,
    pub(crate) chunks: Vec<Chunk>,
    ended: bool,
}

impl<B: BodySource> SseReader<B> {
    pub(crate) fn new(body: B) -> Self {
        Self {
            body,
            decoder: Decoder::new(),
            queue: VecDeque::new(),
            chunks: Vec::new(),
            ended: false,
        }
    }

    pub(crate) fn head(&self) -> &Head {
        self.body.head()
    }

    /// The next decoded item, waiting at most `within`; `None` once the body
    /// has ended cleanly.
    pub(crate) async fn next(&mut self, within: Duration) -> Result<Option<Timed>, String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(timed) = self.queue.pop_front() {
                return Ok(Some(timed));
            }
            if self.ended {
                return Ok(None);
            }
            let chunk = match tokio::time::timeout_at(deadline, self.body.next_chunk()).await {
                Err(_) => {
                    return Err(format!(
                        "nothing decodable within {within:?}; body so far: {:?}",
                        self.raw_text()
                    ));
                }
                Ok(Err(err)) => {
                    return Err(format!("{err}; body so far: {:?}", self.raw_text()));
                }
                Ok(Ok(None)) => {
                    self.ended = true;
                    continue;
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            for item in self.decoder.feed(&chunk.data) {
                let item = item.map_err(|err| format!("decode error: {err}"))?;
                self.queue.push_back(Timed { item, at: chunk.at });
            }
            self.chunks.push(chunk);
        }
    }

    /// Every item up to the body's clean end, which must come within `within`.
    pub(crate) async fn read_to_end(&mut self, within: Duration) -> Result<Vec<Timed>, String> {
        let deadline = Instant::now() + within;
        let mut items = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(timed) => items.push(timed),
                None => return Ok(items),
            }
        }
    }

    /// The next event, skipping comments and `retry`, at most `within`.
    pub(crate) async fn next_event(
        &mut self,
        within: Duration,
    ) -> Result<(MessageEvent, Instant), String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await? {
                Some(Timed {
                    item: Item::Event(event),
                    at,
                }) => return Ok((event, at)),
                Some(_) => {}
                None => return Err(format!("the body ended; body: {:?}", self.raw_text())),
            }
        }
    }

    /// The body bytes received so far.
    pub(crate) fn raw(&self) -> Vec<u8> {
        concat(&self.chunks)
    }

    pub(crate) fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw()).into_owned()
    }

    /// The spec's "last event ID string" after what was decoded so far.
    pub(crate) fn dispatched_last_event_id(&self) -> &str {
        self.decoder.dispatched_last_event_id()
    }
}

/// The events among `items`.
pub(crate) fn events_of(items: &[Timed]) -> Vec<MessageEvent> {
    items
        .iter()
        .filter_map(|timed| match &timed.item {
            Item::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

/// An event as `EventSource` dispatches it.
pub(crate) fn event(event_type: &str, data: &str, last_event_id: &str) -> MessageEvent {
    MessageEvent {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: last_event_id.into(),
    }
}

/// What eventsource-stream makes of the same pieces: its events as
/// `(type, data, id)`, and the `retry` values it attached to them.
pub(crate) async fn decode_with_eventsource_stream(
    chunks: &[Chunk],
) -> Result<(Vec<MessageEvent>, Vec<Duration>), String> {
    use eventsource_stream::Eventsource as _;
    use futures_util::StreamExt as _;

    let pieces: Vec<Result<Vec<u8>, std::convert::Infallible>> =
        chunks.iter().map(|chunk| Ok(chunk.data.clone())).collect();
    let results: Vec<_> = futures_util::stream::iter(pieces)
        .eventsource()
        .collect()
        .await;
    let mut events = Vec::new();
    let mut retries = Vec::new();
    for result in results {
        let event = result.map_err(|err| format!("eventsource-stream: {err:?}"))?;
        retries.extend(event.retry);
        events.push(MessageEvent {
            event_type: event.event,
            data: event.data,
            last_event_id: event.id.into(),
        });
    }
    Ok((events, retries))
}

/// The lines of a body, split at CRLF, CR and LF, grouped into blocks at
/// blank lines. A last block without its blank line is returned too, and
/// the flag says so.
pub(crate) fn blocks(body: &[u8]) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut blocks = Vec::new();
    let mut block: Vec<Vec<u8>> = Vec::new();
    let mut line = Vec::new();
    let mut bytes = body.iter().copied().peekable();
    let mut ended_line = false;
    while let Some(byte) = bytes.next() {
        if byte == b'\r' || byte == b'\n' {
            if byte == b'\r' && bytes.peek() == Some(&b'\n') {
                bytes.next();
            }
            if line.is_empty() {
                if !block.is_empty() {
                    blocks.push(std::mem::take(&mut block));
                }
            } else {
                block.push(std::mem::take(&mut line));
            }
            ended_line = true;
        } else {
            line.push(byte);
            ended_line = false;
        }
    }
    let unfinished = !block.is_empty() || !ended_line && !line.is_empty();
    if !line.is_empty() {
        block.push(line);
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    (blocks, unfinished)
}

/// Percent-encodes every byte but the URL's unreserved characters, so the
/// server's decoder cannot read anything else into it (`+`, `&`, `%`, `#`).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A query string from `(name, value)` pairs, each value percent-encoded.
pub(crate) fn query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `text` holds `word` as a whole word (`_` counts as a letter, so
/// `interval_ms` is one word).
pub(crate) fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|token| token.eq_ignore_ascii_case(word))
}

/// A token no other test uses.
pub(crate) fn unique_token(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Milliseconds, for messages.
pub(crate) fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

/// Collects failures so that one check failing hides none of the others.
#[derive(Debug, Default)]
pub(crate) struct Failures(Vec<String>);

impl Failures {
    pub(crate) fn push(&mut self, failure: impl Into<String>) {
        self.0.push(failure.into());
    }

    pub(crate) fn check(&mut self, ok: bool, failure: impl FnOnce() -> String) {
        if !ok {
            self.0.push(failure());
        }
    }

    /// Panics with every failure, if there was any.
    pub(crate) fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} failure(s):\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

/// Reads a finite HTTP/1.1 event stream to its end: checks the common head
/// rules and the clean chunked terminator, and returns the decoded items.
pub(crate) async fn finite(
    server: &Server,
    request: h1::Request,
    context: &str,
) -> (Vec<Timed>, SseReader<h1::Response>) {
    let mut reader = open(server, request).await;
    assert_sse_head(reader.head(), context);
    let items = reader
        .read_to_end(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    let end = reader.body.end.clone();
    assert!(
        end.as_ref().is_some_and(h1::End::is_clean_chunked),
        "{context}: the body did not end with a clean `0\\r\\n\\r\\n`: {end:?}"
    );
    (items, reader)
}

/// Checks that a finite stream's events, decoded by ssekit's `Decoder` and
/// by eventsource-stream from the same pieces, are exactly `expected`.
pub(crate) async fn assert_events<B: BodySource>(
    reader: &SseReader<B>,
    items: &[Timed],
    expected: &[MessageEvent],
    context: &str,
) {
    let ours = events_of(items);
    assert_eq!(
        ours,
        expected,
        "{context}: events decoded by ssekit; body {:?}",
        reader.raw_text()
    );
    let (theirs, _) = decode_with_eventsource_stream(&reader.chunks)
        .await
        .unwrap_or_else(|err| panic!("{context}: {err}"));
    assert_eq!(
        theirs, expected,
        "{context}: events decoded by eventsource-stream"
    );
}

/// Opens an event stream over h2c; the client must outlive the reader.
pub(crate) async fn open_h2(
    server: &Server,
    target: &str,
    headers: &[(&str, &[u8])],
) -> (h2::Client, SseReader<h2::Response>) {
    let mut client = h2::Client::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("GET {target} over h2c: {err}"));
    let mut all = vec![("accept", &b"text/event-stream"[..])];
    all.extend_from_slice(headers);
    let response = tokio::time::timeout(PATIENCE, client.get(target, &all))
        .await
        .unwrap_or_else(|_| panic!("GET {target} over h2c: no response head within {PATIENCE:?}"))
        .unwrap_or_else(|err| panic!("GET {target} over h2c: {err}"));
    (client, SseReader::new(response))
}

/// `count` events numbered from `first`, as /events sends them unpadded.
pub(crate) fn numbered(first: u64, count: u64) -> Vec<MessageEvent> {
    (first..first + count)
        .map(|id| event("message", &format!("event {id}"), &id.to_string()))
        .collect()
}

/// The pieces (HTTP/1.1 chunks, HTTP/2 DATA frames) that do not end between
/// two blocks: an event or heartbeat whose end was held back for later.
pub(crate) fn pieces_ending_inside_a_block(chunks: &[Chunk]) -> Vec<String> {
    let mut boundaries = ssekit::framing::Boundaries::new();
    let mut out = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        boundaries.scan(&chunk.data);
        if !boundaries.at_boundary() {
            out.push(format!(
                "piece #{index} ends inside a block: {:?}",
                String::from_utf8_lossy(&chunk.data)
            ));
        }
    }
    out
}
