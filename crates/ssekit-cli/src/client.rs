//! A small HTTP/1.1 client for event streams: hyper on a TCP connection,
//! with rustls for `https://`, bounded memory and one deadline for the
//! response head.
//!
//! ```
//! use ssekit_cli::client::{Target, parse_header};
//!
//! let target = Target::parse("https://example.com/events?topic=news")?;
//! assert!(target.is_https());
//! assert_eq!((target.host(), target.port(), target.path()), ("example.com", 443, "/events?topic=news"));
//!
//! // Headers are given as on the command line (`-H`), and checked there.
//! let (name, value) = parse_header("Authorization: Bearer abc")?;
//! assert_eq!((name.as_str(), value.to_str().unwrap()), ("authorization", "Bearer abc"));
//! assert!(parse_header("no colon").is_err());
//! assert!(Target::parse("ftp://example.com/").is_err());
//! # Ok::<(), ssekit_cli::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::Error;

/// The most a response head may take, and the most one body read buffers:
/// memory stays bounded whatever the server sends.
const MAX_BUF: usize = 64 * 1024;
/// The most header fields a response may have.
const MAX_HEADERS: usize = 128;
/// How much of a non-SSE body goes into the error message.
const BODY_START: usize = 200;

/// Where to connect: a parsed `http://` or `https://` URL.
///
/// ```
/// use ssekit_cli::client::Target;
///
/// let target = Target::parse("https://example.com/events?topic=a").unwrap();
/// assert!(target.is_https());
/// assert_eq!(target.host(), "example.com");
/// assert_eq!(target.port(), 443);
/// assert_eq!(target.path(), "/events?topic=a");
///
/// let target = Target::parse("http://[::1]:8080").unwrap();
/// assert_eq!((target.host(), target.port(), target.path()), ("::1", 8080, "/"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: String,
    https: bool,
    host: String,
    port: u16,
    /// The `Host` header's value.
    authority: String,
    path: String,
}

impl Target {
    /// Parses an `http://` or `https://` URL.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for anything else, for a URL with credentials in it
    /// (send them with `-H Authorization:` instead) or with a fragment.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|err| Error::Usage(format!("`{url}` is not a URL: {err}")))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(Error::Usage(format!(
                    "`{url}`: give an http:// or https:// URL"
                )));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err(Error::Usage(format!("`{url}` names no host")));
        };
        if authority.as_str().contains('@') {
            return Err(Error::Usage(format!(
                "`{url}` has credentials in it: send them as a header instead, e.g. -H 'Authorization: Basic …'"
            )));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(Error::Usage(format!("`{url}` names no host")));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let path = if path.is_empty() { "/" } else { path };
        Ok(Self {
            url: url.to_owned(),
            https,
            host: host.to_owned(),
            port,
            authority: authority.as_str().to_owned(),
            path: path.to_owned(),
        })
    }

    /// The URL as given.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether it is `https://`.
    #[must_use]
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host, without an IPv6 address's brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, explicit or the scheme's default.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query, at least `/`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Parses a `-H 'Name: value'` argument.
///
/// ```
/// use ssekit_cli::client::parse_header;
///
/// let (name, value) = parse_header("Authorization: Bearer abc").unwrap();
/// assert_eq!(name, "authorization");
/// assert_eq!(value, "Bearer abc");
/// assert!(parse_header("no colon").is_err());
/// assert!(parse_header("X-Bad: a\r\nInjected: b").is_err());
/// ```
///
/// # Errors
///
/// [`Error::Usage`] when there is no colon, or the name or value is not
/// valid in HTTP (a CR, LF or NUL in the value, say).
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(Error::Usage(format!(
            "header `{text}` has no colon: write -H 'Name: value'"
        )));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| Error::Usage(format!("header name `{}` is not valid", name.trim())))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| Error::Usage(format!("the value of header `{name}` is not valid in HTTP")))?;
    Ok((name, value))
}

/// Opens one HTTP/1.1 GET at a time, with a deadline for connecting, the TLS
/// handshake and the response head together.
///
/// ```no_run
/// # async fn run() -> Result<(), ssekit_cli::Error> {
/// use std::time::Duration;
/// use ssekit_cli::client::{Client, Target};
///
/// let client = Client::new(Duration::from_secs(10));
/// let target = Target::parse("http://127.0.0.1:3000/events")?;
/// let mut response = client.get(&target, http::HeaderMap::new()).await?;
/// while let Ok(Some(chunk)) = response.chunk().await {
///     println!("{} bytes", chunk.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    timeout: Duration,
    tls: Result<Arc<ClientConfig>, String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose connection, handshake and response head must all come
    /// within `timeout`. It trusts the web's public roots (Mozilla's list).
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        let roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // ring supports rustls's safe defaults, so this fails only if a
        // future rustls changed them; then https fails with that message
        // instead of the program panicking.
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| {
                let mut config = builder.with_root_certificates(roots).with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(config)
            })
            .map_err(|err| err.to_string());
        Self { timeout, tls }
    }

    /// The deadline for connecting, the handshake and the response head.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `GET` to `target` with `headers` (plus `Host`, and a
    /// `User-Agent` unless given) and returns once the response head is in.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`], [`Error::Tls`], [`Error::Timeout`] or
    /// [`Error::Http`]: whatever kept a response head from arriving.
    pub async fn get(&self, target: &Target, mut headers: HeaderMap) -> Result<Response, Error> {
        let deadline = Instant::now() + self.timeout;
        let timeout = |what| Error::Timeout {
            target: target.host_port(),
            what,
            after: self.timeout,
        };
        let tcp = tokio::time::timeout_at(
            deadline,
            TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| timeout("connection"))?
        .map_err(|source| Error::Connect {
            target: target.host_port(),
            source,
        })?;
        // Small events should not wait on Nagle's algorithm for the request.
        let _ = tcp.set_nodelay(true);

        let authority = HeaderValue::from_str(&target.authority)
            .map_err(|_| Error::Usage(format!("`{}` has an invalid host", target.url)))?;
        headers.insert(header::HOST, authority);
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(
                header::USER_AGENT,
                HeaderValue::from_static(concat!("ssekit/", env!("CARGO_PKG_VERSION"))),
            );
        }
        let mut request = Request::new(Empty::<Bytes>::new());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = target
            .path
            .parse()
            .map_err(|_| Error::Usage(format!("`{}` has an invalid path", target.url)))?;
        *request.headers_mut() = headers;

        if target.https {
            let name = ServerName::try_from(target.host.clone()).map_err(|_| {
                Error::Usage(format!("`{}` is not a valid TLS server name", target.host))
            })?;
            let config = self.tls.as_ref().map_err(|err| Error::Tls {
                target: target.host_port(),
                source: std::io::Error::other(format!("no usable TLS configuration: {err}")),
            })?;
            let tls = tokio::time::timeout_at(
                deadline,
                TlsConnector::from(Arc::clone(config)).connect(name, tcp),
            )
            .await
            .map_err(|_| timeout("TLS handshake"))?
            .map_err(|source| Error::Tls {
                target: target.host_port(),
                source,
            })?;
            exchange(tls, request, target, deadline, self.timeout).await
        } else {
            exchange(tcp, request, target, deadline, self.timeout).await
        }
    }
}

async fn exchange<I>(
    io: I,
    request: Request<Empty<Bytes>>,
    target: &Target,
    deadline: Instant,
    timeout: Duration,
) -> Result<Response, Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http_error = |source: hyper::Error| {
        let hint = if source.is_parse() && !target.https {
            " (is it an https:// port?)"
        } else if source.is_incomplete_message() || source.is_closed() {
            " (the server closed the connection without answering)"
        } else {
            ""
        };
        Error::Http {
            target: target.host_port(),
            source,
            hint,
        }
    };
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_BUF)
        .max_headers(MAX_HEADERS)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
        .await
        .map_err(http_error)?;
    let connection = AbortOnDrop(tokio::spawn(async move {
        // Its error, if any, reaches the body reader too; nothing to add here.
        let _ = connection.await;
    }));
    let response = tokio::time::timeout_at(deadline, sender.send_request(request))
        .await
        .map_err(|_| Error::Timeout {
            target: target.host_port(),
            what: "response head",
            after: timeout,
        })?
        .map_err(http_error)?;
    let (parts, body) = response.into_parts();
    Ok(Response {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
        _connection: connection,
    })
}

/// Aborts the connection task when the response is dropped, so the socket
/// closes at once.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response whose head is in and whose body is read chunk by chunk.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version.
    pub version: Version,
    /// The headers.
    pub headers: HeaderMap,
    body: Incoming,
    _connection: AbortOnDrop,
}

impl Response {
    /// The next piece of the body as it arrives: `None` at a clean end.
    /// Cancel-safe: dropping the future loses nothing.
    ///
    /// # Errors
    ///
    /// A [`BodyError`] when the body ends any other way (the connection
    /// closed mid-body, a malformed chunk).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(err)) => return Err(BodyError(err)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                    // Trailers carry no events.
                }
            }
        }
    }

    /// Whether the response is an event stream: 200 and
    /// `text/event-stream`.
    #[must_use]
    pub fn is_event_stream(&self) -> bool {
        self.status == StatusCode::OK && ssekit::head::is_event_stream_response(&self.headers)
    }

    /// The `Content-Type`, as text.
    #[must_use]
    pub fn content_type(&self) -> Option<String> {
        header_text(&self.headers, &header::CONTENT_TYPE)
    }

    /// The [`Error::NotEventStream`] for this response, with the start of
    /// its body (read for at most half a second) in the message.
    pub async fn into_not_event_stream(mut self) -> Error {
        let mut start = Vec::new();
        let until = Instant::now() + Duration::from_millis(500);
        while start.len() < BODY_START {
            match tokio::time::timeout_at(until, self.chunk()).await {
                Ok(Ok(Some(chunk))) => start.extend_from_slice(&chunk),
                _ => break,
            }
        }
        start.truncate(BODY_START);
        let body_start = crate::style::escape_controls(&String::from_utf8_lossy(&start));
        Error::NotEventStream {
            status: self.status,
            content_type: self.content_type(),
            body_start: body_start.trim().to_owned(),
        }
    }
}

/// A header's values joined with `, `, lossily as text.
pub(crate) fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let values: Vec<_> = headers
        .get_all(name)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The body ended other than cleanly.
#[derive(Debug)]
pub struct BodyError(hyper::Error);

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_incomplete_message() {
            f.write_str("the connection closed before the body ended")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
