//! A tower layer that makes any `text/event-stream` response
//! production-safe.
//!
//! [`SseLayer`] wraps a tower service that answers with `http::Response<B>`
//! (an axum `Router`, a hyper service, any tower stack). On a response whose
//! content type is `text/event-stream` it:
//!
//! - applies the [head rules](ssekit::head): `Cache-Control: no-cache,
//!   no-transform`, `X-Accel-Buffering: no`, `Content-Encoding: identity`, no
//!   `Content-Length`, and nothing connection-specific on HTTP/2;
//! - keeps compression off the stream: tower-http's `CompressionLayer` (and
//!   any middleware that respects `Content-Encoding`) leaves a response that
//!   already has one alone, whatever its predicate says. Put `SseLayer`
//!   *inside* the compression layer, that is, add it to the router first:
//!   `Router::new()...layer(SseLayer::new()).layer(CompressionLayer::new())`;
//! - sends a heartbeat after an idle interval, only between events, even in
//!   bodies that ssekit did not make (axum's own `Sse`, a hand-written
//!   stream): it follows the blank lines that end events in the bytes;
//! - tells the handler when the client is gone: [`ssekit::disconnect::current`]
//!   (or the axum adapter's `Disconnect` extractor) gives a handle inside any
//!   request the layer serves;
//! - ends every open stream cleanly when its [`Shutdown`](ssekit::Shutdown)
//!   handle is triggered, so `axum::serve(..).with_graceful_shutdown(..)`
//!   finishes instead of waiting forever on open streams (axum #2673);
//! - counts streams, events, bytes, heartbeats and disconnects by reason
//!   ([`SseLayer::stats`]), and logs each stream's end through `tracing`.
//!
//! Every other response passes through untouched, for the cost of one
//! header look-up. A body is never polled again after its end, so a
//! compression layer that does (tower-http 0.7 does) cannot make an unfused
//! stream panic.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get, response::sse::{Event, Sse}};
//! use futures_util::stream;
//! use ssekit_tower::SseLayer;
//!
//! let sse = SseLayer::new().heartbeat(Duration::from_secs(15));
//! let shutdown = sse.shutdown_handle();
//! let app: Router = Router::new()
//!     // axum's own Sse: the layer adds the heartbeats, headers and shutdown.
//!     .route("/events", get(|| async {
//!         Sse::new(stream::iter([Ok::<_, std::convert::Infallible>(Event::default().data("hi"))]))
//!     }))
//!     .layer(sse);
//! // axum::serve(listener, app.into_make_service())
//! //     .with_graceful_shutdown(shutdown.trigger_after(ctrl_c(), Farewell::new()))
//! # let _ = (app, shutdown);
//! ```
//!
//! # Why a layer
//!
//! The behaviour that keeps an event stream alive in production (headers
//! for proxies, heartbeats, knowing the client left, ending on shutdown) is
//! the same for every handler, so it belongs around the handlers rather than
//! in each of them. Streams made with ssekit's own adapters carry a
//! [`Handoff`](ssekit::Handoff) in their response extensions; the layer hands
//! its duties over through it instead of wrapping the body a second time, so
//! nothing runs twice.
//!
//! # Feature flags
//!
//! None: the crate has no optional features. It needs `ssekit` with its
//! default `tokio` feature, for the heartbeat and shutdown timers.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod body;
mod future;
mod layer;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::SseLayer;
pub use service::SseService;
