//! A live clock over Server-Sent Events with nothing but hyper and the
//! ssekit core: what every framework adapter does, written out by hand.
//!
//! `GET /` is a page whose `EventSource` shows the ticks; `GET /events` is
//! the stream. It resumes after the browser's `Last-Event-ID`, sends
//! heartbeats when idle, and ends every open stream when the server shuts
//! down, so that the graceful shutdown finishes at once.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{Method, Request, Response, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use ssekit::shutdown::Farewell;
use ssekit::{Event, EventError, LastEventId, Shutdown, SseStream};
use tokio::net::TcpListener;

const PAGE: &str = include_str!("page.html");

/// How often the clock ticks. `?interval_ms=` overrides it.
const TICK: Duration = Duration::from_secs(1);

/// Serves the clock on `listener` until `signal` completes, then shuts down
/// gracefully: every open stream ends with a farewell, and the connections
/// close.
///
/// # Errors
///
/// When accepting a connection fails for good.
pub async fn serve(listener: TcpListener, signal: impl Future<Output = ()>) -> std::io::Result<()> {
    let shutdown = Shutdown::new();
    let graceful = GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut signal => break,
        };
        // Each event goes out as soon as it is written, not after Nagle's
        // delay; a browser that vanished or never reads is let go within a
        // minute.
        ssekit::tcp::tune(&socket)?;
        let shutdown = shutdown.clone();
        let service = hyper::service::service_fn(move |request| {
            let shutdown = shutdown.clone();
            async move { Ok::<_, Infallible>(route(&request, &shutdown)) }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(socket), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    shutdown.trigger_with(
        Farewell::new()
            .retry(Duration::from_secs(1))
            .jitter(Duration::from_secs(2)),
    );
    graceful.shutdown().await;
    Ok(())
}

fn tick(n: u64) -> Result<Event, EventError> {
    Ok(Event::default()
        .id_u64(n)
        .event("tick")?
        .data(format!("tick {n}")))
}

type Body = BoxBody<Bytes, Infallible>;

fn route(request: &Request<Incoming>, shutdown: &Shutdown) -> Response<Body> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from_static(PAGE.as_bytes())).boxed())
            .unwrap_or_default(),
        (&Method::GET, "/events") => clock(request, shutdown),
        _ => Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found\n")).boxed())
            .unwrap_or_default(),
    }
}

fn clock(request: &Request<Incoming>, shutdown: &Shutdown) -> Response<Body> {
    let last = LastEventId::from_request_parts(request.headers(), request.uri());
    // Ids are tick numbers, so a reconnecting browser picks up after the
    // last tick it saw.
    let first = last
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(1, |n| n.saturating_add(1));
    let interval = request
        .uri()
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("interval_ms="))
        })
        .and_then(|ms| ms.parse().ok())
        .map_or(TICK, Duration::from_millis);
    let ticks = stream::unfold(first, move |n| async move {
        if n > first {
            tokio::time::sleep(interval).await;
        }
        Some((tick(n), n.saturating_add(1)))
    });
    let body = SseStream::new(ticks).with_shutdown(shutdown);
    let body = StreamBody::new(body.map(|bytes| Ok::<_, Infallible>(Frame::data(bytes))));
    ssekit::head::response(BodyExt::boxed(body))
}
