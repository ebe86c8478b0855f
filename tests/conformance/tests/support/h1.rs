//! A raw HTTP/1.1 client: requests are written byte for byte as given (so a
//! header may hold any bytes), and the response head and body framing are
//! parsed here, keeping the chunked framing and each chunk's arrival time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{BodySource, Chunk, Head, Proto};

/// The longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A request, written exactly as built. Every request carries
/// `Host` and `Accept-Encoding: gzip, br`.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: &'static str,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    pub(crate) fn get(target: impl Into<String>) -> Self {
        Self {
            method: "GET",
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn post(target: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST",
            target: target.into(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A header; the value's bytes go on the wire unchanged.
    pub(crate) fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.target.len() + self.body.len());
        out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", self.method, self.target).as_bytes());
        out.extend_from_slice(format!("Host: {addr}\r\n").as_bytes());
        out.extend_from_slice(b"Accept-Encoding: gzip, br\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Connects, sends the request and reads the response head.
    pub(crate) async fn send(&self, addr: SocketAddr) -> Result<Response, String> {
        let sent_at = Instant::now();
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|err| format!("connect to {addr}: {err}"))?;
        stream.set_nodelay(true).ok();
        let mut response = Response {
            head: Head::default(),
            sent_at,
            head_at: sent_at,
            stream,
            buf: Vec::new(),
            framing: Framing::Empty,
            end: None,
            last_read_at: sent_at,
        };
        response
            .stream
            .write_all(&self.to_bytes(addr))
            .await
            .map_err(|err| format!("write request {}: {err}", self.target))?;
        response.read_head(self.method == "HEAD").await?;
        Ok(response)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked,
    Length(u64),
    UntilClose,
    Empty,
}

/// How a response body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// The framing's proper end: for chunked bodies, `terminator` holds the
    /// raw bytes of the last chunk and trailer section.
    Clean { at: Instant, terminator: Vec<u8> },
    /// The connection closed before the body's end.
    Truncated { at: Instant },
    /// A read failed (a reset).
    Failed { at: Instant, error: String },
    /// The framing could not be parsed.
    Malformed { at: Instant, error: String },
}

impl End {
    pub(crate) fn at(&self) -> Instant {
        match self {
            Self::Clean { at, .. }
            | Self::Truncated { at }
            | Self::Failed { at, .. }
            | Self::Malformed { at, .. } => *at,
        }
    }

    /// Whether this is a chunked body's exact `0\r\n\r\n`.
    pub(crate) fn is_clean_chunked(&self) -> bool {
        matches!(self, Self::Clean { terminator, .. } if terminator == b"0\r\n\r\n")
    }
}

/// A response on its own connection, its body read on demand.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) head: Head,
    /// When the request was about to be sent.
    pub(crate) sent_at: Instant,
    /// When the read that completed the head returned.
    pub(crate) head_at: Instant,
    stream: TcpStream,
    buf: Vec<u8>,
    framing: Framing,
    pub(crate) end: Option<End>,
    last_read_at: Instant,
}

impl Response {
    /// Reads once more from the socket; cancel-safe.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let mut tmp = vec![0u8; 64 * 1024];
        let n = self.stream.read(&mut tmp).await?;
        self.last_read_at = Instant::now();
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    async fn read_head(&mut self, head_request: bool) -> Result<(), String> {
        let end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("response head over {MAX_HEAD} bytes"));
            }
            match self.fill().await {
                Ok(0) => {
                    return Err(format!(
                        "connection closed before the response head ended; got {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ));
                }
                Ok(_) => {}
                Err(err) => return Err(format!("read response head: {err}")),
            }
        };
        self.head_at = self.last_read_at;
        let raw: Vec<u8> = self.buf.drain(..end + 4).collect();
        let mut lines = raw[..end]
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let status_line = lines.next().unwrap_or_default();
        let status_line = String::from_utf8_lossy(status_line);
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if version != "HTTP/1.1" {
            return Err(format!("status line {status_line:?} is not HTTP/1.1"));
        }
        let status = parts
            .next()
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut headers = Vec::new();
        for line in lines {
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| format!("bad header line {:?}", String::from_utf8_lossy(line)))?;
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            let value = line[colon + 1..].trim_ascii().to_vec();
            headers.push((name, value));
        }
        self.head = Head {
            proto: Proto::Http1,
            status,
            headers,
        };
        if (100..200).contains(&status) {
            return Err(format!("unexpected interim response {status}"));
        }
        let chunked = self
            .head
            .get_all("transfer-encoding")
            .iter()
            .any(|value| value.eq_ignore_ascii_case(b"chunked"));
        self.framing = if head_request || status == 204 || status == 304 {
            Framing::Empty
        } else if chunked {
            Framing::Chunked
        } else if let Some(length) = self.head.get("content-length") {
            let length = std::str::from_utf8(length)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| {
                    format!("bad content-length {:?}", String::from_utf8_lossy(length))
                })?;
            Framing::Length(length)
        } else {
            Framing::UntilClose
        };
        Ok(())
    }

    fn finish(&mut self, end: End) -> Result<Option<Chunk>, String> {
        let result = match &end {
            End::Clean { .. } => Ok(None),
            other => Err(format!("body did not end cleanly: {other:?}")),
        };
        self.end = Some(end);
        result
    }

    /// Parses one complete unit of the body from the buffer, if there is one.
    fn parse(&mut self) -> Option<Result<Option<Chunk>, String>> {
        let at = self.last_read_at;
        match self.framing {
            Framing::Empty => Some(self.finish(End::Clean {
                at,
                terminator: Vec::new(),
            })),
            Framing::Length(0) => Some(self.finish(End::Clean {
                at,
                terminator: Vec::new(),
            })),
            Framing::Length(rest) => {
                if self.buf.is_empty() {
                    return None;
                }
                let take =
                    usize::try_from(rest).map_or(self.buf.len(), |rest| rest.min(self.buf.len()));
                self.framing = Framing::Length(rest - u64::try_from(take).unwrap_or(rest));
                let data: Vec<u8> = self.buf.drain(..take).collect();
                Some(Ok(Some(Chunk { data, at })))
            }
            Framing::UntilClose => {
                if self.buf.is_empty() {
                    return None;
                }
                let data = std::mem::take(&mut self.buf);
                Some(Ok(Some(Chunk { data, at })))
            }
            Framing::Chunked => {
                let line_end = find(&self.buf, b"\r\n")?;
                let line = &self.buf[..line_end];
                let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
                let Some(size) = std::str::from_utf8(size_text)
                    .ok()
                    .and_then(|text| usize::from_str_radix(text.trim_ascii(), 16).ok())
                else {
                    let error = format!("bad chunk size line {:?}", String::from_utf8_lossy(line));
                    return Some(self.finish(End::Malformed { at, error }));
                };
                let start = line_end + 2;
                if size == 0 {
                    // The last chunk, then trailers (normally none), then CRLF.
                    let rest = &self.buf[start..];
                    let trailer_end = if rest.starts_with(b"\r\n") {
                        2
                    } else {
                        find(rest, b"\r\n\r\n")? + 4
                    };
                    let terminator: Vec<u8> = self.buf.drain(..start + trailer_end).collect();
                    return Some(self.finish(End::Clean { at, terminator }));
                }
                if self.buf.len() < start + size + 2 {
                    return None;
                }
                if &self.buf[start + size..start + size + 2] != b"\r\n" {
                    let error = format!("chunk of {size} bytes not followed by CRLF");
                    return Some(self.finish(End::Malformed { at, error }));
                }
                let data = self.buf[start..start + size].to_vec();
                self.buf.drain(..start + size + 2);
                Some(Ok(Some(Chunk { data, at })))
            }
        }
    }

    /// The next chunk of the body (for a chunked body, exactly one HTTP
    /// chunk); `None` at a clean end, an error for any other end.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Chunk>, String> {
        if let Some(end) = &self.end {
            return match end {
                End::Clean { .. } => Ok(None),
                other => Err(format!("body did not end cleanly: {other:?}")),
            };
        }
        loop {
            if let Some(result) = self.parse() {
                return result;
            }
            match self.fill().await {
                Ok(0) => {
                    let at = self.last_read_at;
                    let end = if self.framing == Framing::UntilClose {
                        End::Clean {
                            at,
                            terminator: Vec::new(),
                        }
                    } else {
                        End::Truncated { at }
                    };
                    return self.finish(end);
                }
                Ok(_) => {}
                Err(err) => {
                    let at = Instant::now();
                    return self.finish(End::Failed {
                        at,
                        error: err.to_string(),
                    });
                }
            }
        }
    }

    /// Waits `for_` and returns whatever bytes arrived meanwhile (unparsed),
    /// or `None` when the connection closed.
    pub(crate) async fn stray_bytes(&mut self, for_: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + for_;
        while let Ok(read) = tokio::time::timeout_at(deadline, self.fill()).await {
            if !matches!(read, Ok(1..)) {
                return None;
            }
        }
        Some(std::mem::take(&mut self.buf))
    }
}

impl Response {
    /// Half-closes the connection (a FIN from the client) and keeps
    /// reading: what a client does that has nothing more to send.
    // Only the hostile-client suite half-closes; the wire suite compiles
    // this file too.
    #[allow(dead_code)]
    pub(crate) async fn shutdown_write(&mut self) -> std::io::Result<()> {
        self.stream.shutdown().await
    }
}

impl BodySource for Response {
    async fn next_chunk(&mut self) -> Result<Option<Chunk>, String> {
        Response::next_chunk(self).await
    }

    fn head(&self) -> &Head {
        &self.head
    }

    fn head_at(&self) -> Instant {
        self.head_at
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
