//! Server-Sent Events for actix-web, done right.
//!
//! actix-web does not run tower, so this adapter drives the ssekit stream
//! machine through actix's own [`MessageBody`] and [`Responder`]. A user
//! gets what an axum user gets from `ssekit-axum`: the same bytes on the
//! wire, heartbeats, the disconnect notification, graceful shutdown,
//! `Last-Event-ID` and a stream that compression leaves alone.
//!
//! - [`Sse`]: a responder for a stream of [`Event`]s (or `Result`s of them).
//! - [`SseConfig`]: the app-wide heartbeat, shutdown handle and stats,
//!   registered with `App::app_data`.
//! - [`LastEventId`] and [`Disconnect`]: extractors.
//! - [`StopReconnecting`]: the 204 that tells `EventSource` to stop.
//! - [`stop_on`]: a graceful stop that ends the streams first.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use actix_web::{App, HttpServer, get};
//! use futures_core::Stream;
//! use ssekit_actix::{Disconnect, Event, Farewell, LastEventId, Sse, SseConfig};
//!
//! #[get("/events")]
//! async fn events(last: Option<LastEventId>, disconnect: Disconnect) -> Sse<impl Stream<Item = Event>> {
//!     let from = last.and_then(|id| id.parse::<u64>().ok()).map_or(1, |n| n + 1);
//!     disconnect.on_disconnect(|reason| println!("client left: {reason}"));
//!     Sse::new(futures_util::stream::iter(from..from + 3).map(|n| {
//!         Event::default().id_u64(n).data(format!("event {n}"))
//!     }))
//! }
//! # use futures_util::StreamExt;
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let sse = SseConfig::new().heartbeat(Duration::from_secs(15));
//!     let shutdown = sse.shutdown_handle();
//!     let server = HttpServer::new(move || App::new().app_data(sse.clone()).service(events))
//!         // Notices a client that closed its socket at once, not at the
//!         // next failed write.
//!         .h1_allow_half_closed(false)
//!         // Our own signal handling, so the streams end before the stop.
//!         .disable_signals()
//!         // TCP_NODELAY, and a user timeout that lets a vanished or
//!         // never-reading client go within a minute.
//!         .listen(ssekit_actix::tuned(std::net::TcpListener::bind(("127.0.0.1", 3000))?))?
//!         .run();
//!     let stop = ssekit_actix::stop_on(tokio::signal::ctrl_c(), server.handle(), shutdown, Farewell::new());
//!     actix_web::rt::spawn(stop);
//!     server.await
//! }
//! ```
//!
//! # One config for all workers
//!
//! `HttpServer::new` calls its closure once per worker thread. Make the
//! [`SseConfig`] outside it and clone it in, as above: one made inside would
//! give each worker a shutdown handle of its own, and triggering yours
//! would end none of their streams.
//!
//! # A client that stops reading
//!
//! A stream whose client has stopped reading is not polled while its
//! socket's send buffer is full, so it cannot see the shutdown, and
//! `ServerHandle::stop(true)` waits for it until `shutdown_timeout` (30 s by
//! default) runs out. Set `HttpServer::shutdown_timeout` to the grace you
//! want. [`on_connect`] sets a `TCP_USER_TIMEOUT` (Linux), with which the
//! kernel closes such a connection within a minute, shutdown or not.
//!
//! # Noticing that a client left
//!
//! By default actix-http notices a closed connection only when a write to
//! it fails, which for an idle stream is the next heartbeat, and often a
//! further one, since the first write after a close may still succeed.
//! `HttpServer::h1_allow_half_closed(false)` makes the HTTP/1 dispatcher end
//! the connection as soon as it reads the client's end of stream, so the
//! [`Disconnect`] fires within milliseconds of a clean close. The cost: a
//! client that half-closes its sending side after its request (browsers and
//! common HTTP clients do not) has its connection ended too. A peer that
//! vanishes without closing (a dropped network) is noticed when a
//! heartbeat's write fails, so keep heartbeats on.
//!
//! # Compression
//!
//! Every stream carries `Content-Encoding: identity`, which
//! `middleware::Compress` takes as already encoded, so `App::wrap(Compress)`
//! leaves event streams alone and compresses everything else.
//!
//! # Feature flags
//!
//! None: the crate has no optional features. It builds on actix-web 4
//! with default features off; enable `macros`, `compress-*` and the rest on
//! actix-web itself, as your app needs.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError};
use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;
use ssekit::disconnect::Notifier;
use ssekit::{Duties, SseStream, head};

/// The app-wide settings for event streams (heartbeat, shutdown, stats).
/// Register them with `App::app_data`; streams of an app without them get
/// their own 15 s heartbeat and no shared shutdown.
pub use ssekit::SseConfig;
pub use ssekit::shutdown::Farewell;
pub use ssekit::{DisconnectReason, Encoded, Event, EventError, IntoEvent, Shutdown};

ssekit::sse_response! {
    /// An event-stream response: a stream of [`Event`]s (or `Result`s of
    /// them) run by the ssekit stream machine. It takes the app's
    /// [`SseConfig`] from `app_data` and the handler's [`Disconnect`].
    pub struct Sse;
}

impl<S> Responder for Sse<S>
where
    S: Stream + 'static,
    S::Item: IntoEvent,
{
    type Body = SseBody<S>;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse<SseBody<S>> {
        let notifier = request
            .extensions_mut()
            .remove::<PendingNotifier>()
            .map(|p| p.0);
        let duties = request
            .app_data::<SseConfig>()
            .map_or_else(Duties::new, SseConfig::duties);
        let stream = self.into_stream().with_duties(duties.notifier(notifier));
        let mut response = HttpResponse::with_body(StatusCode::OK, SseBody { stream });
        for (name, value) in head::HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        response
    }
}

pin_project! {
    /// The body of an [`Sse`] response.
    pub struct SseBody<S> {
        #[pin]
        stream: SseStream<S>,
    }
}

impl<S> MessageBody for SseBody<S>
where
    S: Stream,
    S::Item: IntoEvent,
{
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        self.project()
            .stream
            .poll_next(cx)
            .map(|frame| frame.map(Ok))
    }
}

impl<S> fmt::Debug for SseBody<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SseBody").field(&self.stream).finish()
    }
}

/// The `Last-Event-ID` of a reconnecting client: the header's raw bytes as
/// UTF-8, or else the `lastEventId` query parameter. A value that is not
/// UTF-8 or holds CR, LF or NUL counts as absent.
///
/// Take it as `Option<LastEventId>`; a bare `LastEventId` refuses a request
/// without one with 400.
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

impl FromRequest for LastEventId {
    type Error = MissingLastEventId;
    type Future = Ready<Result<Self, MissingLastEventId>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = request
            .headers()
            .get(ssekit::LastEventId::HEADER)
            .map(HeaderValue::as_bytes);
        ready(
            ssekit::LastEventId::from_parts(header, Some(request.query_string()))
                .map(Self)
                .ok_or(MissingLastEventId),
        )
    }
}

/// The refusal of a bare [`LastEventId`] when the request has none: 400.
#[derive(Debug, Clone, Copy)]
pub struct MissingLastEventId;

impl fmt::Display for MissingLastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "this endpoint needs a Last-Event-ID header or a lastEventId query parameter \
             (UTF-8, without CR, LF or NUL); take Option<LastEventId> to make it optional",
        )
    }
}

impl ResponseError for MissingLastEventId {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

/// The notifier of the request's [`Disconnect`], waiting for the
/// [`Sse`] responder to tie it to the body.
struct PendingNotifier(Notifier);

/// Learns when the request's event stream is over, and why: the client
/// went away, the stream ended, the server shut down, or the stream failed.
///
/// The handler's [`Sse`] response picks it up; it fires once that stream
/// is over (for a handler that answers something else, when the request is
/// dropped).
#[derive(Debug, Clone)]
pub struct Disconnect(pub ssekit::Disconnect);

impl Deref for Disconnect {
    type Target = ssekit::Disconnect;

    fn deref(&self) -> &ssekit::Disconnect {
        &self.0
    }
}

impl FromRequest for Disconnect {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mut extensions = request.extensions_mut();
        let disconnect = match extensions.get::<PendingNotifier>() {
            Some(pending) => pending.0.disconnect(),
            None => {
                let (notifier, disconnect) = ssekit::disconnect::pair();
                extensions.insert(PendingNotifier(notifier));
                disconnect
            }
        };
        ready(Ok(Self(disconnect)))
    }
}

/// The answer that tells `EventSource` to stop reconnecting: 204 No
/// Content.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopReconnecting;

impl Responder for StopReconnecting {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        // actix-web is on http 0.2, the core on http 1: same number.
        HttpResponse::new(
            StatusCode::from_u16(head::STOP_STATUS.as_u16()).unwrap_or(StatusCode::NO_CONTENT),
        )
    }
}

/// The listener tuned for event streams, for `HttpServer::listen`: every
/// connection it accepts inherits `TCP_NODELAY`, so each event leaves at
/// once, and on Linux a `TCP_USER_TIMEOUT`, so a client that vanished or
/// never reads is let go within a minute
/// ([`ssekit::tcp::tuned_listener`]). Nothing is done per connection,
/// where [`on_connect`] (for servers that `bind` an address) gives each
/// connection a callback and an extensions map.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind(("127.0.0.1", 3000))?;
/// HttpServer::new(App::new)
///     .listen(ssekit_actix::tuned(listener))?
///     .run()
///     .await
/// # }
/// ```
#[must_use]
pub fn tuned(listener: std::net::TcpListener) -> std::net::TcpListener {
    ssekit::tcp::tuned_listener(listener)
}

/// For `HttpServer::on_connect`: tunes each plain TCP connection for event
/// streams with [`ssekit::tcp::tune`]: `TCP_NODELAY`, so each event leaves
/// at once (it replaces `HttpServer::tcp_nodelay(true)`), and on Linux a
/// `TCP_USER_TIMEOUT`, so a client that vanished or never reads is let go
/// within a minute. Connections of other kinds (TLS) are left as they are.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
///
/// # async fn run() -> std::io::Result<()> {
/// HttpServer::new(App::new)
///     .on_connect(ssekit_actix::on_connect)
///     .bind(("127.0.0.1", 3000))?
///     .run()
///     .await
/// # }
/// ```
pub fn on_connect(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    // A connection that cannot take an option still works, without it.
    let _ = ssekit::tcp::tune(stream);
}

/// Waits for `signal`, ends every stream of `shutdown` (after `farewell`),
/// then stops the server gracefully. With the streams ended first, the
/// graceful stop finishes at once instead of waiting out
/// `shutdown_timeout` and then dropping the connections.
///
/// Run the server with `HttpServer::disable_signals()` and spawn this.
pub async fn stop_on<F: Future>(
    signal: F,
    server: ServerHandle,
    shutdown: Shutdown,
    farewell: Farewell,
) {
    shutdown.trigger_after(signal, farewell).await;
    server.stop(true).await;
}
