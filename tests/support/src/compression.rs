//! For the tests of event streams behind tower-http's `CompressionLayer`:
//! an app of a timed event stream and a compressible text, the checks that
//! the stream is neither compressed nor held back nor polled past its end,
//! a predicate that compresses everything, and gunzip.

use std::io::Read as _;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{MethodRouter, get};
use futures_util::stream::{self, Stream};
use http::{Extensions, HeaderMap, StatusCode, Version, header};

use crate::{Client, Reader, SECOND, TestServer, assert_sse_head, body_bytes, message};

/// How often [`ticks`] yields.
pub const TICK: Duration = Duration::from_millis(100);

/// A compression predicate (for `CompressionLayer::compress_when`) that
/// compresses everything it can, as SCENARIOS.md's conformance server does.
pub fn always(_: StatusCode, _: Version, _: &HeaderMap, _: &Extensions) -> bool {
    true
}

/// What `/plain` answers: a compressible text.
pub fn plain_text() -> String {
    "hello, compression! ".repeat(50)
}

/// Every [`TICK`], the next id (from 1) and the instant it was produced, in
/// µs since `t0`: what `/ticks` turns into events.
pub fn ticks(t0: Instant) -> impl Stream<Item = (u32, String)> {
    stream::unfold(1u32, move |id| async move {
        tokio::time::sleep(TICK).await;
        let produced = t0.elapsed().as_micros().to_string();
        Some(((id, produced), id + 1))
    })
}

/// `/ticks`, served by `route` (an event stream of [`ticks`], each id as
/// its `id` and each instant as its data), and `/plain`, [`plain_text`]: the
/// app that [`check_uncompressed_and_prompt`] checks.
pub fn ticks_and_plain(route: MethodRouter) -> Router {
    Router::new()
        .route("/ticks", route)
        .route("/plain", get(|| async { plain_text() }))
}

/// Serves `app` (see [`ticks_and_plain`]) and checks that `/ticks` is an
/// uncompressed event stream though the client accepts gzip and br, that
/// each of its first three events arrives within 50 ms of being produced
/// (the first within four ticks of the request), and that `/plain` is
/// gzipped: the compression layer is active.
pub async fn check_uncompressed_and_prompt(app: Router, t0: Instant) {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;

    let asked = Instant::now();
    let response = client
        .get_with("/ticks", &[("accept-encoding", b"gzip, br")])
        .await;
    assert_sse_head(&response);
    let mut reader = Reader::new(response);
    for id in 1..=3 {
        let (event, at) = reader.next_event(SECOND).await;
        assert_eq!(&*event.last_event_id, id.to_string());
        let produced = Duration::from_micros(event.data.parse().unwrap());
        let late = at.duration_since(t0) - produced;
        assert!(
            late < Duration::from_millis(50),
            "event {id} arrived {late:?} after it was produced"
        );
        if id == 1 {
            // Well before a buffer of five events could have filled.
            assert!(
                at - asked < 4 * TICK,
                "the first event took {:?}",
                at - asked
            );
        }
    }
    drop(reader);

    // The compression layer is active: a plain response is gzipped.
    let mut client = Client::h1(server.addr).await;
    let response = client
        .get_with("/plain", &[("accept-encoding", b"gzip")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let body = body_bytes(response).await;
    assert_eq!(&body[..2], [0x1f, 0x8b], "not a gzip stream");
    assert_eq!(gunzip(&body), plain_text());
}

/// Serves `app`, whose `/three` is an event stream of the data `0`, `1` and
/// `2` (over an unfused `unfold`, say), and checks twice on one connection
/// that it comes uncompressed and exact, to a clean end, though the client
/// accepts gzip and br. The second round trip shows that the server's
/// connection task survived the end of the first body.
pub async fn check_unfold_sse_ends_cleanly(app: Router) {
    let server = TestServer::start(app).await;
    let mut client = Client::h1(server.addr).await;
    for _ in 0..2 {
        let response = client
            .get_with("/three", &[("accept-encoding", b"gzip, br")])
            .await;
        assert_sse_head(&response);
        let mut reader = Reader::new(response);
        reader
            .read_to_end(SECOND)
            .await
            .expect("a clean end of the body");
        assert_eq!(reader.raw, b"data: 0\n\ndata: 1\n\ndata: 2\n\n");
        assert_eq!(
            reader.take_items(),
            [message("0"), message("1"), message("2")]
        );
    }
}

/// `bytes` gunzipped, as text; panics unless they are a gzip stream of
/// UTF-8.
pub fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}
