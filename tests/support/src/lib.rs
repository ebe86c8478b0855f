//! Test helpers shared by the layer's, the adapters' and the examples'
//! tests: a real server on a loopback port, HTTP/1.1 and h2c clients, a
//! reader that decodes an event stream as it arrives, and (in
//! [`compression`]) what the tests behind a compression layer share.

pub mod clock;
pub mod compression;
pub mod redis;

/// The resident memory of process `pid`, in bytes (`VmRSS` of
/// `/proc/PID/status`): how the suites, the soak run and the bench measure
/// what a server holds.
///
/// ```
/// let bytes = ssekit_test_support::resident_bytes(std::process::id()).unwrap();
/// assert!(bytes > 0);
/// ```
///
/// # Errors
///
/// If the status file cannot be read (no such process, not Linux), or has
/// no `VmRSS` line.
pub fn resident_bytes(pid: u32) -> std::io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|err| std::io::Error::new(err.kind(), format!("{path}: {err}")))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| std::io::Error::other(format!("no VmRSS in {path}")))
}

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::Router;
use axum::serve::ListenerExt;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ssekit::decode::{Decoder, Item, MessageEvent};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A generous bound for anything that should happen "at once".
pub const SECOND: Duration = Duration::from_secs(1);

/// How long a test waits for what should come soon where the time is not
/// under test: only there so that a broken test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The graceful-shutdown signal handed to [`TestServer::start_with`] and
/// [`TestServer::spawn`]: it resolves when [`TestServer::trigger`] is
/// called.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server in a spawned task, with a graceful-shutdown trigger: an axum
/// [`Router`] on 127.0.0.1:0 ([`start`](Self::start)), or any server future
/// ([`spawn`](Self::spawn)). Dropping it aborts the server.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    trigger: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Serves `app`; its graceful shutdown starts on [`trigger`](Self::trigger).
    pub async fn start(app: Router) -> Self {
        Self::start_with(app, |signal| signal).await
    }

    /// Serves `app` with the graceful-shutdown signal that `make_signal`
    /// builds around the trigger's signal.
    pub async fn start_with<F>(app: Router, make_signal: impl FnOnce(Signal) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = listener.tap_io(|socket: &mut TcpStream| {
            let _ = socket.set_nodelay(true);
        });
        Self::spawn(addr, |signal| {
            axum::serve(listener, app)
                .with_graceful_shutdown(make_signal(signal))
                .into_future()
        })
    }

    /// Spawns the server future that `serve` builds around the
    /// graceful-shutdown signal, for a server already listening on `addr`
    /// (an example's own `serve` function, say).
    pub fn spawn<F>(addr: SocketAddr, serve: impl FnOnce(Signal) -> F) -> Self
    where
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (trigger, triggered) = oneshot::channel::<()>();
        let serve = serve(Box::pin(async move {
            let _ = triggered.await;
        }));
        Self {
            addr,
            trigger: Some(trigger),
            handle: tokio::spawn(serve),
        }
    }

    /// Starts the graceful shutdown. Returns whether the signal got to the
    /// server: `false` if the server had already dropped it (it stopped
    /// early), or on a second call.
    pub fn trigger(&mut self) -> bool {
        self.trigger
            .take()
            .is_some_and(|trigger| trigger.send(()).is_ok())
    }

    /// Whether the serve future finished (successfully) within `limit`.
    pub async fn finished_within(&mut self, limit: Duration) -> bool {
        match tokio::time::timeout(limit, &mut self.handle).await {
            Ok(result) => {
                result
                    .expect("the server task panicked")
                    .expect("the server failed");
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

#[derive(Debug)]
enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One client connection, HTTP/1.1 or h2c with prior knowledge. Its
/// requests carry a `Host` header (HTTP/1.1) or an absolute URI (HTTP/2).
/// Dropping it closes the socket, unless a `*_once` method consumed it.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    sender: Sender,
    /// The connection's task; `None` once let go by a `*_once` method.
    conn: Option<JoinHandle<()>>,
}

impl Client {
    /// An HTTP/1.1 connection.
    pub async fn h1(addr: SocketAddr) -> Self {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (sender, conn) = http1::handshake(io).await.unwrap();
        Self {
            addr,
            sender: Sender::H1(sender),
            conn: Some(tokio::spawn(async move {
                let _ = conn.await;
            })),
        }
    }

    /// An HTTP/2 cleartext connection, with prior knowledge.
    pub async fn h2(addr: SocketAddr) -> Self {
        let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
        Self {
            addr,
            sender: Sender::H2(sender),
            conn: Some(tokio::spawn(async move {
                let _ = conn.await;
            })),
        }
    }

    /// An HTTP/1.1 or an h2c connection.
    pub async fn connect(addr: SocketAddr, version: Version) -> Self {
        if version == Version::HTTP_2 {
            Self::h2(addr).await
        } else {
            Self::h1(addr).await
        }
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Response<Incoming> {
        self.get_with(path, &[]).await
    }

    /// `GET path` with extra headers, each value given as raw bytes.
    pub async fn get_with(&mut self, path: &str, headers: &[(&str, &[u8])]) -> Response<Incoming> {
        self.send(Method::GET, path, headers, Bytes::new()).await
    }

    /// `method path` with extra headers, each value given as raw bytes, and
    /// `body` (an empty one is sent as no body at all).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &[u8])],
        body: Bytes,
    ) -> Response<Incoming> {
        let request = Request::builder().method(method);
        let mut request = match self.sender {
            Sender::H1(_) => request
                .uri(path)
                .header(header::HOST, self.addr.to_string()),
            Sender::H2(_) => request
                .uri(format!("http://{}{path}", self.addr))
                .version(Version::HTTP_2),
        };
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
        }
        let request = request.body(Full::new(body)).unwrap();
        let response = match &mut self.sender {
            Sender::H1(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await
            }
            Sender::H2(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await
            }
        };
        response.unwrap()
    }

    /// [`get_with`](Self::get_with) as the one request of this client,
    /// which it consumes: the connection is left to run, so the response's
    /// body can be read with the client gone. For a request on a connection
    /// of its own: `Client::h1(addr).await.get_once(path, headers)`.
    pub async fn get_once(self, path: &str, headers: &[(&str, &[u8])]) -> Response<Incoming> {
        self.send_once(Method::GET, path, headers, Bytes::new())
            .await
    }

    /// [`send`](Self::send) as the one request of this client, which it
    /// consumes: the connection is left to run, so the response's body can
    /// be read with the client gone (hyper closes it once it has nothing
    /// left to do).
    pub async fn send_once(
        mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &[u8])],
        body: Bytes,
    ) -> Response<Incoming> {
        let response = self.send(method, path, headers, body).await;
        // Dropping the handle detaches the task instead of aborting it.
        drop(self.conn.take());
        response
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(conn) = &self.conn {
            conn.abort();
        }
    }
}

/// What reading one more frame of a body gave.
#[derive(Debug)]
pub enum Next {
    /// A data frame.
    Data(Bytes),
    /// The clean end of the body.
    End,
    /// The body failed: a reset or a broken chunked encoding.
    Error(hyper::Error),
    /// Nothing arrived in time.
    Timeout,
}

/// Reads a response body frame by frame, keeping the raw bytes and decoding
/// them with [`ssekit::Decoder`] as they arrive.
#[derive(Debug)]
pub struct Reader {
    body: Incoming,
    decoder: Decoder,
    /// Every body byte read so far.
    pub raw: Vec<u8>,
    /// Every data frame read so far, with when it arrived.
    pub frames: Vec<(Bytes, Instant)>,
    items: VecDeque<(Item, Instant)>,
}

impl Reader {
    /// Reads `response`'s body.
    pub fn new(response: Response<Incoming>) -> Self {
        Self {
            body: response.into_body(),
            decoder: Decoder::new(),
            raw: Vec::new(),
            frames: Vec::new(),
            items: VecDeque::new(),
        }
    }

    /// The next data frame, the end, an error, or a timeout after `limit`.
    pub async fn next_chunk(&mut self, limit: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Timeout,
                Ok(None) => return Next::End,
                Ok(Some(Err(err))) => return Next::Error(err),
                Ok(Some(Ok(frame))) => frame,
            };
            // Trailers are not expected; skip them if they come.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let now = Instant::now();
            self.raw.extend_from_slice(&data);
            self.frames.push((data.clone(), now));
            for item in self.decoder.feed(&data) {
                self.items
                    .push_back((item.expect("an event over the size limit"), now));
            }
            return Next::Data(data);
        }
    }

    /// The next decoded item (an event, a comment, a `retry`) and when the
    /// bytes that completed it arrived. Panics on a timeout, an end or an
    /// error first.
    pub async fn next_item(&mut self, limit: Duration) -> (Item, Instant) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_chunk(left).await {
                Next::Data(_) => {}
                other => panic!(
                    "expected an item, got {other:?} after {:?}",
                    String::from_utf8_lossy(&self.raw)
                ),
            }
        }
    }

    /// The next dispatched event, skipping comments and `retry` fields.
    pub async fn next_event(&mut self, limit: Duration) -> (MessageEvent, Instant) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let (Item::Event(event), at) = self.next_item(left).await {
                return (event, at);
            }
        }
    }

    /// Every item decoded until `deadline`, which must pass without the
    /// body ending.
    pub async fn items_until(&mut self, deadline: Instant) -> Vec<(Item, Instant)> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_chunk(left).await {
                Next::Data(_) => {}
                Next::Timeout => return self.items.drain(..).collect(),
                other => panic!("the body stopped before the deadline: {other:?}"),
            }
        }
    }

    /// The next `count` dispatched events, skipping comments and `retry`
    /// fields, all within `limit`. Panics on a timeout, an end or an error
    /// first.
    pub async fn events(&mut self, count: usize, limit: Duration) -> Vec<MessageEvent> {
        let deadline = Instant::now() + limit;
        let mut events = Vec::with_capacity(count);
        while events.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            events.push(self.next_event(left).await.0);
        }
        events
    }

    /// Reads to the end: `Ok` on a clean end, `Err` on an error or a
    /// timeout after `limit`.
    pub async fn read_to_end(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_chunk(left).await {
                Next::Data(_) => {}
                Next::End => return Ok(()),
                other => return Err(format!("{other:?}")),
            }
        }
    }

    /// Every item decoded and not yet taken.
    pub fn take_items(&mut self) -> Vec<Item> {
        self.items.drain(..).map(|(item, _)| item).collect()
    }

    /// Reads to the clean end, within `limit`, and returns every item
    /// decoded and not yet taken. Panics on an error (a reset, a broken
    /// chunked encoding) or a timeout first.
    pub async fn items_to_end(&mut self, limit: Duration) -> Vec<Item> {
        if let Err(error) = self.read_to_end(limit).await {
            panic!("the body did not end cleanly within {limit:?}: {error}");
        }
        self.take_items()
    }
}

/// The whole body of a response that must end cleanly within a second.
pub async fn body_bytes(response: Response<Incoming>) -> Bytes {
    tokio::time::timeout(SECOND, response.into_body().collect())
        .await
        .expect("the body did not end within a second")
        .expect("the body failed")
        .to_bytes()
}

/// An event as `EventSource` delivers it, with the default type and no id.
pub fn message(data: &str) -> Item {
    Item::Event(MessageEvent {
        event_type: "message".to_owned(),
        data: data.to_owned(),
        last_event_id: "".into(),
    })
}

/// An event as `EventSource` delivers it: its type, the last event id at
/// that point, and its data.
pub fn event(event_type: &str, last_event_id: &str, data: &str) -> MessageEvent {
    MessageEvent {
        event_type: event_type.to_owned(),
        data: data.to_owned(),
        last_event_id: last_event_id.into(),
    }
}

/// The last `retry` field among `items`, if any.
pub fn last_retry(items: &[Item]) -> Option<Duration> {
    items.iter().rev().find_map(|item| match item {
        Item::Retry(after) => Some(*after),
        _ => None,
    })
}

/// The heartbeat, `:\n\n`, as the decoder reports it.
pub fn heartbeat() -> Item {
    Item::Comment(String::new())
}

/// The response-head rules of every event stream (SCENARIOS.md, "Common
/// rules for every SSE response").
pub fn assert_sse_head(response: &Response<Incoming>) {
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    let cache_control = headers[header::CACHE_CONTROL].to_str().unwrap();
    assert!(
        cache_control.contains("no-cache"),
        "cache-control: {cache_control}"
    );
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(!headers.contains_key(header::CONTENT_LENGTH), "{headers:?}");
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        assert_eq!(encoding, "identity");
    }
    if response.version() == Version::HTTP_2 {
        for name in [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "proxy-connection",
            "upgrade",
        ] {
            assert!(!headers.contains_key(name), "{name} on HTTP/2: {headers:?}");
        }
    }
}
