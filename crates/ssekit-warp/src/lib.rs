//! Server-Sent Events for warp, done right.
//!
//! - [`Sse`]: a reply for a stream of [`Event`]s (or `Result`s of them),
//!   driven by the ssekit stream machine: heartbeats, coalesced writes, a
//!   disconnect notification and graceful shutdown.
//! - [`last_event_id`]: a filter for the reconnecting browser's
//!   `Last-Event-ID`, read from the header's raw bytes as UTF-8 (not
//!   `FromStr` on ASCII, which fails on any other character), then from the
//!   `lastEventId` query parameter.
//! - [`disconnect`]: a filter for the disconnect handle, under
//!   [`SseLayer`](https://docs.rs/ssekit-tower).
//! - [`stop_reconnecting`]: the 204 that tells `EventSource` to stop.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use futures_util::{StreamExt, stream};
//! use ssekit_warp::{Event, LastEventId, Sse, SseConfig};
//! use warp::Filter;
//!
//! let config = SseConfig::new().heartbeat(Duration::from_secs(15));
//! let shutdown = config.shutdown_handle();
//! let events = warp::path("events")
//!     .and(ssekit_warp::last_event_id())
//!     .map(move |last: Option<LastEventId>| {
//!         let from = last.and_then(|id| id.parse::<u64>().ok()).map_or(1, |n| n + 1);
//!         Sse::new(stream::iter(from..from + 3).map(|n| {
//!             Event::default().id_u64(n).data(format!("event {n}"))
//!         }))
//!         .with_config(&config)
//!     });
//! // warp::serve(events).incoming(ssekit_warp::tuned(listener))
//! //     .graceful(shutdown.trigger_after(ctrl_c(), Farewell::new()))
//! //     .run().await;
//! # let _ = (events, shutdown);
//! ```
//!
//! # Behind `SseLayer`
//!
//! Served as a tower service (`warp::service(routes)` inside
//! `ssekit_tower::SseLayer`), an [`Sse`] reply hands its heartbeat, shutdown
//! and disconnect duties to the layer, exactly as the axum adapter does, and
//! the [`disconnect`] filter works in every route. The wire is the same
//! either way.
//!
//! # `TCP_NODELAY` and a user timeout
//!
//! `warp::serve(routes).bind(addr)` sets no socket options, so a small
//! event can wait for Nagle's algorithm, and a client that vanished or never
//! reads holds its connection as long as the kernel's retransmissions last.
//! Bind the listener yourself and serve it through [`tuned`]:
//! `warp::serve(routes).incoming(ssekit_warp::tuned(listener))`. Its
//! connections inherit `TCP_NODELAY` and, on Linux, a `TCP_USER_TIMEOUT` of
//! a minute. (Serving `warp::service(routes)` with hyper-util, call
//! `ssekit::tcp::tune(&socket)` on each accepted socket instead, as the
//! conformance server does: `tests/conformance/src/warp_app.rs`.)
//!
//! # A client that stops reading
//!
//! A stream whose client has stopped reading is not polled while its
//! socket's send buffer is full, so it cannot see the shutdown, and a
//! graceful shutdown would wait for that connection until the kernel gives
//! up on it (within a minute with `ssekit::tcp::tune`). Bound the wait
//! with [`Shutdown::bounded`].
//!
//! # Compression
//!
//! `warp::compression::gzip()` (with warp's `compression` feature;
//! `warp::filters::compression::gzip()` with `compression-gzip` alone)
//! compresses and buffers whatever it wraps, event streams included, so a
//! client sees nothing until a buffer fills. It also ignores the request's
//! `Accept-Encoding`, so add that check (and `Vary: accept-encoding`)
//! yourself. Wrap only the routes that are not event streams:
//!
//! ```
//! use warp::Filter;
//! # let events = warp::path("events").map(warp::reply);
//! let api = warp::path("api").map(|| "compressed").with(warp::compression::gzip());
//! let routes = api.or(events); // the events route is not compressed
//! # let _ = routes;
//! ```
//!
//! Or serve through tower and use tower-http's `CompressionLayer`, which
//! leaves alone a response with `Content-Encoding: identity`, as every
//! stream has.
//!
//! # Feature flags
//!
//! None: the crate has no optional features. It builds on warp 0.4 with
//! default features off; enable `server` (for `warp::serve`) and
//! `compression` on warp itself, as your app needs.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::convert::Infallible;
use std::fmt;

use futures_util::{Stream, StreamExt};
use ssekit::head;
use sync_wrapper::SyncStream;
use warp::http::{HeaderValue, Version};
use warp::reject::Reject;
use warp::{Filter, Rejection, Reply};

pub use ssekit::shutdown::Farewell;
pub use ssekit::{
    Disconnect, DisconnectReason, Encoded, Event, EventError, IntoEvent, LastEventId, Shutdown,
    SseConfig,
};

ssekit::sse_response! {
    /// An event-stream reply: a stream of [`Event`]s (or `Result`s of them)
    /// run by the ssekit stream machine. Behind `SseLayer` it hands its
    /// heartbeat, shutdown and disconnect duties to the layer.
    pub struct Sse;
}

impl<S> Reply for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    fn into_response(self) -> warp::reply::Response {
        let mut stream = self.into_stream();
        let handoff = stream.handoff();
        // warp wants a `Sync` stream; the wrapper gives that without asking
        // it of the application's stream, since a body is only ever polled
        // through `&mut`.
        let body = SyncStream::new(stream.map(Ok::<_, Infallible>));
        let mut response = warp::reply::stream(body).into_response();
        head::apply(response.headers_mut(), Version::HTTP_11);
        response.extensions_mut().insert(handoff);
        response
    }
}

/// The listener tuned for event streams, for `warp::serve(..).incoming`:
/// every connection it accepts inherits `TCP_NODELAY`, so each event
/// leaves at once, and on Linux a `TCP_USER_TIMEOUT`, so a client that
/// vanished or never reads is let go within a minute
/// ([`ssekit::tcp::tuned_listener`]).
///
/// ```no_run
/// use warp::Filter;
///
/// # async fn run() -> std::io::Result<()> {
/// let routes = warp::path("events").map(|| "…");
/// let listener = tokio::net::TcpListener::bind(("127.0.0.1", 3000)).await?;
/// warp::serve(routes).incoming(ssekit_warp::tuned(listener)).run().await;
/// # Ok(()) }
/// ```
#[must_use]
pub fn tuned(listener: tokio::net::TcpListener) -> tokio::net::TcpListener {
    ssekit::tcp::tuned_listener(listener)
}

/// Extracts the reconnecting client's `Last-Event-ID`: the header's raw
/// bytes as UTF-8, or else the `lastEventId` query parameter; `None` when
/// absent, or not UTF-8, or holding CR, LF or NUL. Never rejects.
///
/// ```
/// use warp::Filter;
///
/// let route = ssekit_warp::last_event_id()
///     .map(|last: Option<ssekit_warp::LastEventId>| format!("{last:?}"));
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let reply = warp::test::request()
///     .header("last-event-id", "€42")
///     .reply(&route)
///     .await;
/// assert_eq!(reply.body(), "Some(\"€42\")");
/// # });
/// ```
pub fn last_event_id() -> impl Filter<Extract = (Option<LastEventId>,), Error = Infallible> + Clone
{
    let header = warp::header::value(LastEventId::HEADER)
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    header
        .and(query)
        .map(|header: Option<HeaderValue>, query: Option<String>| {
            LastEventId::from_parts(header.as_ref().map(HeaderValue::as_bytes), query.as_deref())
        })
}

/// Extracts the request's disconnect handle: it learns when the request's
/// event stream is over, and why.
///
/// Needs the routes to be served behind `ssekit_tower::SseLayer`;
/// elsewhere it rejects with [`SseLayerMissing`] (use [`Sse::disconnect`]
/// instead).
pub fn disconnect() -> impl Filter<Extract = (Disconnect,), Error = Rejection> + Clone {
    warp::any().and_then(|| async {
        ssekit::disconnect::current().ok_or_else(|| warp::reject::custom(SseLayerMissing))
    })
}

/// The rejection of [`disconnect`] outside `SseLayer`.
#[derive(Debug, Clone, Copy)]
pub struct SseLayerMissing;

impl fmt::Display for SseLayerMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the ssekit_warp::disconnect filter needs the routes served behind \
             ssekit_tower::SseLayer; without it, use Sse::disconnect()",
        )
    }
}

impl Reject for SseLayerMissing {}

/// The reply that tells `EventSource` to stop reconnecting: 204 No Content.
///
/// ```
/// use warp::Reply;
/// assert_eq!(ssekit_warp::stop_reconnecting().into_response().status(), 204);
/// ```
pub fn stop_reconnecting() -> impl Reply {
    warp::reply::with_status(warp::reply(), head::STOP_STATUS)
}
