//! A server that gets event streams wrong on purpose, built on plain axum
//! with no ssekit: each path has one fault, and `/all` has them all.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Response, header};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::stream::{self, Stream, StreamExt};
use ssekit_test_support::TestServer;

/// How long `/buffered` and `/all` hold their first events back.
pub(crate) const HOLD: Duration = Duration::from_millis(300);

/// Framing faults: lone CRs, a field injected by an unescaped line break,
/// a byte that is not UTF-8.
const BAD_FRAMING: &[u8] = b"data: a\rdata: b\r\rdata: x\ninjected\n\ndata: caf\xE9\n\n";

type Chunk = Result<Bytes, std::io::Error>;

/// 200 with the given headers and body.
fn respond(headers: &[(&str, &str)], body: Body) -> Response<Body> {
    let mut response = Response::builder().status(200);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(body).unwrap()
}

/// The head a stream should have.
const GOOD_HEAD: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

fn stream_body(chunks: impl Stream<Item = Chunk> + Send + 'static) -> Body {
    Body::from_stream(chunks)
}

fn after(delay: Duration, bytes: Vec<u8>) -> impl Stream<Item = Chunk> {
    stream::once(async move {
        tokio::time::sleep(delay).await;
        Ok(Bytes::from(bytes))
    })
}

fn heartbeats(every: Duration) -> impl Stream<Item = Chunk> {
    stream::repeat(()).then(move |()| async move {
        tokio::time::sleep(every).await;
        Ok(Bytes::from_static(b":\n\n"))
    })
}

fn numbered(headers: &HeaderMap) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .map_or(1, |n| n + 1)
}

/// gzip, flushed after each piece so that it still streams.
fn gzip(pieces: impl Stream<Item = Vec<u8>> + Send + 'static) -> impl Stream<Item = Chunk> {
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    pieces.scan(encoder, |encoder, piece| {
        encoder.write_all(&piece).unwrap();
        encoder.flush().unwrap();
        std::future::ready(Some(Ok(Bytes::from(std::mem::take(encoder.get_mut())))))
    })
}

/// One event, then silence: no heartbeat.
async fn no_heartbeat() -> Response<Body> {
    let body =
        stream::once(async { Ok(Bytes::from_static(b"data: hello\n\n")) }).chain(stream::pending());
    respond(&GOOD_HEAD, stream_body(body))
}

/// Every 100 ms an event with the next id, gzipped although asked for
/// nothing else; it resumes properly.
async fn gzipped(headers: HeaderMap) -> Response<Body> {
    let from = numbered(&headers);
    let pieces = stream::iter(from..).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        format!("id: {n}\ndata: tick {n}\n\n").into_bytes()
    });
    let mut head = GOOD_HEAD.to_vec();
    head.push(("content-encoding", "gzip"));
    respond(&head, stream_body(gzip(pieces)))
}

/// Three events held back, then sent in one piece; heartbeats after.
async fn buffered() -> Response<Body> {
    let held = b"data: one\n\ndata: two\n\ndata: three\n\n".to_vec();
    let body = after(HOLD, held).chain(heartbeats(Duration::from_millis(150)));
    respond(&GOOD_HEAD, stream_body(body))
}

/// The framing faults, then a last event with no blank line after it.
async fn bad_framing() -> Response<Body> {
    let mut bytes = BAD_FRAMING.to_vec();
    bytes.extend_from_slice(b"data: never dispatched\n");
    // A stream body, so that no Content-Length is set: only framing is wrong.
    respond(
        &GOOD_HEAD,
        stream_body(stream::once(async { Ok(Bytes::from(bytes)) })),
    )
}

/// Only a content type, and a Content-Length.
async fn bare() -> Response<Body> {
    let body = b"data: hello\n\n";
    respond(
        &[
            ("content-type", "text/event-stream"),
            ("content-length", &body.len().to_string()),
        ],
        Body::from(&body[..]),
    )
}

/// Ids from 1 on every connection, whatever the Last-Event-ID.
async fn forgets() -> Response<Body> {
    let body = stream::iter(1u64..).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(Bytes::from(format!("id: {n}\ndata: tick {n}\n\n")))
    });
    respond(&GOOD_HEAD, stream_body(body))
}

/// Every fault at once: no cache or buffering headers, gzip, events held
/// back and released together, bad framing, ids it forgets on resuming,
/// and no heartbeat after.
async fn all() -> Response<Body> {
    let mut held = b"id: 1\ndata: one\n\nid: 2\ndata: two\n\n".to_vec();
    held.extend_from_slice(BAD_FRAMING);
    let pieces = stream::once(async move {
        tokio::time::sleep(HOLD).await;
        held
    })
    .chain(stream::pending());
    respond(
        &[
            ("content-type", "text/event-stream"),
            ("content-encoding", "gzip"),
        ],
        stream_body(gzip(pieces)),
    )
}

/// One event, then half of one, then the connection is cut.
async fn cut() -> Response<Body> {
    let body = stream::once(async { Ok(Bytes::from_static(b"id: 1\ndata: one\n\ndata: par")) })
        .chain(stream::once(async {
            // Long enough for the head and the first piece to be written.
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(std::io::Error::other("cut on purpose"))
        }));
    respond(&GOOD_HEAD, stream_body(body))
}

/// One event, then half of one, then a clean end.
async fn unfinished() -> Response<Body> {
    respond(&GOOD_HEAD, Body::from("id: 1\ndata: one\n\ndata: par"))
}

async fn html() -> Response<Body> {
    respond(
        &[(header::CONTENT_TYPE.as_str(), "text/html; charset=utf-8")],
        Body::from("<!doctype html><title>not a stream</title>"),
    )
}

pub(crate) struct Broken {
    pub(crate) addr: SocketAddr,
    _server: TestServer,
}

impl Broken {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub(crate) async fn start() -> Broken {
    let app: Router = Router::new()
        .route("/no-heartbeat", get(no_heartbeat))
        .route("/gzip", get(gzipped))
        .route("/buffered", get(buffered))
        .route("/bad-framing", get(bad_framing))
        .route("/bare", get(bare))
        .route("/forgets", get(forgets))
        .route("/all", get(all))
        .route("/cut", get(cut))
        .route("/unfinished", get(unfinished))
        .route("/html", get(html));
    let server = TestServer::start(app).await;
    Broken {
        addr: server.addr,
        _server: server,
    }
}
