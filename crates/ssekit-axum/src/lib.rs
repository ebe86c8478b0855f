//! Server-Sent Events for axum, done right.
//!
//! - [`Sse`]: a responder for a stream of [`Event`]s (or `Result`s of them),
//!   driven by the ssekit stream machine: heartbeats, coalesced writes, a
//!   disconnect notification and graceful shutdown.
//! - [`LastEventId`]: the reconnecting browser's `Last-Event-ID`, read from
//!   the header's raw bytes as UTF-8, then from the `lastEventId` query
//!   parameter. Take it as `Option<LastEventId>`.
//! - [`Disconnect`]: learn when the client is gone, and why.
//! - [`StopReconnecting`]: the 204 that tells `EventSource` to stop.
//! - [`SseLayer`] (from `ssekit-tower`): the router-wide rules, shutdown
//!   and stats, and the same care for bodies that ssekit did not make.
//!
//! # Example
//!
//! ```
//! use std::{convert::Infallible, time::Duration};
//! use axum::{Router, routing::get};
//! use futures_util::stream::{self, Stream};
//! use ssekit_axum::{Disconnect, Event, LastEventId, Sse, SseLayer};
//!
//! async fn events(last: Option<LastEventId>, disconnect: Disconnect) -> Sse<impl Stream<Item = Event>> {
//!     let from = last.and_then(|id| id.parse::<u64>().ok()).map_or(1, |n| n + 1);
//!     disconnect.on_disconnect(|reason| println!("client left: {reason}"));
//!     Sse::new(stream::iter(from..from + 3).map(|n| {
//!         Event::default().id_u64(n).data(format!("event {n}"))
//!     }))
//!     .retry(Duration::from_secs(2))
//! }
//! # use futures_util::StreamExt;
//!
//! let sse = SseLayer::new();
//! let shutdown = sse.shutdown_handle();
//! let app: Router = Router::new().route("/events", get(events)).layer(sse);
//! // let listener = ssekit_axum::tuned(tokio::net::TcpListener::bind(addr).await?);
//! // axum::serve(listener, app.into_make_service())
//! //     .with_graceful_shutdown(shutdown.trigger_after(ctrl_c(), Farewell::new()))
//! //     .await?;
//! # let _ = (app, shutdown);
//! ```
//!
//! # With or without the layer
//!
//! [`Sse`] works on its own: it sets the head rules and runs its own
//! heartbeat, and [`Sse::with_shutdown`] and [`Sse::disconnect`] give it a
//! shutdown handle and a disconnect handle. Under [`SseLayer`] it hands
//! those duties to the layer instead (one heartbeat, one set of
//! headers, the layer's shutdown and stats), and the [`Disconnect`]
//! extractor becomes available to every handler.
//!
//! Put the layer inside any compression layer (add it to the router first),
//! so the compression layer sees `Content-Encoding: identity` and leaves the
//! stream alone.
//!
//! # A client that stops reading
//!
//! A stream whose client has stopped reading is not polled while its
//! socket's send buffer is full, so it cannot see the shutdown; axum's
//! graceful shutdown would wait for that connection forever. Bound the wait
//! with [`Shutdown::bounded`]: `shutdown.bounded(serve.into_future(), grace)`.
//!
//! # `TCP_NODELAY` and a user timeout
//!
//! `axum::serve` leaves Nagle's algorithm on, which can hold a small event
//! back for up to 40 ms while the previous one is unacknowledged, and sets
//! no `TCP_USER_TIMEOUT`, so a client that vanished or never reads holds its
//! connection for as long as the kernel retransmits (about 15 minutes).
//! Wrap the listener in [`tuned`] for both.
//!
//! # One router for every connection
//!
//! `axum::serve(listener, router)` gives every connection its own copy of
//! the router (axum rebuilds it with its state for each one), and an open
//! stream keeps that copy for as long as it lasts. With `SseLayer` every
//! route in it is one box deeper. Serve `router.into_make_service()`
//! instead: it is built once and shared. On the bench's four routes that is
//! 4.2 KB less per idle connection, about a fifth of what one costs
//! (`docs/BENCHMARKS.md`, item 17).
//!
//! # Feature flags
//!
//! None: the crate has no optional features. It builds on axum 0.8 with
//! default features off and turns on only `tokio` and `http1`; enable
//! `http2` and the rest on axum itself, as your app needs.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::convert::Infallible;
use std::fmt;
use std::ops::Deref;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::serve::{ListenerExt, TapIo};
use futures_util::{Stream, StreamExt};
use tokio::net::{TcpListener, TcpStream};

pub use ssekit::shutdown::Farewell;
pub use ssekit::{DisconnectReason, Encoded, Event, EventError, IntoEvent, Shutdown, SseConfig};
pub use ssekit_tower::SseLayer;

ssekit::sse_response! {
    /// An event-stream response: a stream of [`Event`]s (or `Result`s of
    /// them) run by the ssekit stream machine. Under [`SseLayer`] it hands
    /// its heartbeat, shutdown and disconnect duties to the layer.
    ///
    /// ```
    /// use futures_util::stream;
    /// use ssekit_axum::{Event, Sse};
    ///
    /// async fn handler() -> Sse<impl futures_util::Stream<Item = Event>> {
    ///     Sse::new(stream::iter([Event::default().data("hello")]))
    /// }
    /// ```
    pub struct Sse;
}

impl<S> IntoResponse for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: IntoEvent,
{
    fn into_response(self) -> Response {
        let mut stream = self.into_stream();
        let handoff = stream.handoff();
        let body = Body::from_stream(stream.map(Ok::<_, Infallible>));
        let mut response = ssekit::head::response(body);
        response.extensions_mut().insert(handoff);
        response
    }
}

/// The `Last-Event-ID` of a reconnecting client: the header's raw bytes as
/// UTF-8, or else the `lastEventId` query parameter. A value that is not
/// UTF-8 or holds CR, LF or NUL counts as absent.
///
/// Take it as `Option<LastEventId>`; a bare `LastEventId` rejects a request
/// without one with 400.
///
/// ```
/// use ssekit_axum::LastEventId;
///
/// async fn handler(last: Option<LastEventId>) -> String {
///     last.map_or_else(|| "from the start".to_owned(), |id| format!("after {id}"))
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(handler);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LastEventId(pub ssekit::LastEventId);

impl Deref for LastEventId {
    type Target = ssekit::LastEventId;

    fn deref(&self) -> &ssekit::LastEventId {
        &self.0
    }
}

impl fmt::Display for LastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl<St: Send + Sync> OptionalFromRequestParts<St> for LastEventId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Option<Self>, Infallible> {
        Ok(ssekit::LastEventId::from_request_parts(&parts.headers, &parts.uri).map(Self))
    }
}

impl<St: Send + Sync> FromRequestParts<St> for LastEventId {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        ssekit::LastEventId::from_request_parts(&parts.headers, &parts.uri)
            .map(Self)
            .ok_or((
                StatusCode::BAD_REQUEST,
                "this endpoint needs a Last-Event-ID header or a lastEventId query parameter \
                 (UTF-8, without CR, LF or NUL); take Option<LastEventId> to make it optional",
            ))
    }
}

/// Learns when the request's event stream is over, and why: the client
/// went away, the stream ended, the server shut down, or the stream failed.
///
/// Needs [`SseLayer`] on the router; without it the request is refused with
/// 500 and a message saying so (use [`Sse::disconnect`] instead).
///
/// ```
/// use ssekit_axum::{Disconnect, Event, Sse};
///
/// async fn handler(disconnect: Disconnect) -> Sse<impl futures_util::Stream<Item = Event>> {
///     tokio::spawn(async move {
///         let reason = disconnect.wait().await;
///         println!("stream over: {reason}");
///     });
///     Sse::new(futures_util::stream::pending())
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(handler);
/// ```
#[derive(Debug, Clone)]
pub struct Disconnect(pub ssekit::Disconnect);

impl Deref for Disconnect {
    type Target = ssekit::Disconnect;

    fn deref(&self) -> &ssekit::Disconnect {
        &self.0
    }
}

impl<St: Send + Sync> FromRequestParts<St> for Disconnect {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(_: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        ssekit::disconnect::current().map(Self).ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "the Disconnect extractor needs ssekit_axum::SseLayer on the router \
             (`.layer(SseLayer::new())`); without it, use Sse::disconnect()",
        ))
    }
}

/// The answer that tells `EventSource` to stop reconnecting: 204 No
/// Content. Browsers close for good on any status but 200.
///
/// ```
/// use axum::response::IntoResponse;
/// assert_eq!(ssekit_axum::StopReconnecting.into_response().status(), 204);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StopReconnecting;

impl IntoResponse for StopReconnecting {
    fn into_response(self) -> Response {
        ssekit::head::stop(Body::empty())
    }
}

/// The listener with every accepted connection tuned for event streams
/// ([`ssekit::tcp::tune`]): `TCP_NODELAY`, so each event leaves without
/// Nagle's delay, and on Linux a `TCP_USER_TIMEOUT`, so a client that
/// vanished or never reads is let go within a minute.
///
/// ```no_run
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// axum::serve(ssekit_axum::tuned(listener), app.into_make_service()).await
/// # }
/// ```
pub fn tuned(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn tune(stream: &mut TcpStream) {
        // A connection that cannot take an option still works, without it.
        if let Err(err) = ssekit::tcp::tune(stream) {
            tracing::warn!(%err, "could not tune the connection (TCP_NODELAY, TCP_USER_TIMEOUT)");
        }
    }
    listener.tap_io(tune)
}
