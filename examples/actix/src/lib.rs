//! A live clock over Server-Sent Events on actix-web, with `ssekit-actix`.
//!
//! `GET /` is a page whose `EventSource` shows the ticks; `GET /events` is
//! the stream. It resumes after the browser's `Last-Event-ID`, sends
//! heartbeats when idle, logs each browser that leaves and why, and ends
//! every open stream when the server shuts down, so that the graceful
//! shutdown finishes at once.
//!
//! Compression is on for the whole app: `middleware::Compress` gzips the
//! page and leaves the stream alone, which says `Content-Encoding:
//! identity`.

use std::future::Future;
use std::time::Duration;

use actix_web::middleware::Compress;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::{Stream, stream};
use ssekit_actix::{
    Disconnect, DisconnectReason, Event, EventError, Farewell, LastEventId, Sse, SseConfig,
};
use tokio::sync::mpsc::UnboundedSender;

const PAGE: &str = include_str!("page.html");

/// How often the clock ticks. `?interval_ms=` overrides it.
const TICK: Duration = Duration::from_secs(1);

/// Serves the clock on `listener` until `signal` completes, then shuts down
/// gracefully: every open stream ends with a farewell, then the server
/// stops.
///
/// Each browser that leaves is logged, with the reason; `departures`, if
/// given, is told too (the tests listen there).
///
/// # Errors
///
/// When the server cannot start on `listener`, or fails for good.
pub async fn serve(
    listener: std::net::TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
    departures: Option<UnboundedSender<DisconnectReason>>,
) -> std::io::Result<()> {
    // One config for every worker's app, so that one shutdown handle ends
    // all their streams. Heartbeats every 15 s of silence.
    let sse = SseConfig::new();
    let shutdown = sse.shutdown_handle();
    let departures = web::Data::new(Departures(departures));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(sse.clone())
            .app_data(departures.clone())
            // Gzips the page; the stream says `Content-Encoding: identity`,
            // so it goes out as it is written.
            .wrap(Compress::default())
            .route("/", web::get().to(page))
            .route("/events", web::get().to(clock))
    })
    // A browser that closes its connection is noticed at once, not at the
    // next heartbeat that fails to be written.
    .h1_allow_half_closed(false)
    // `stop_on` handles the signal, so that the streams end before the stop.
    .disable_signals()
    // Each event goes out as soon as it is written, not after Nagle's delay;
    // a browser that vanished or never reads is let go within a minute.
    .listen(ssekit_actix::tuned(listener))?
    .run();
    let farewell = Farewell::new()
        .retry(Duration::from_secs(1))
        .jitter(Duration::from_secs(2));
    tokio::spawn(ssekit_actix::stop_on(
        signal,
        server.handle(),
        shutdown,
        farewell,
    ));
    server.await
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE)
}

async fn clock(
    request: HttpRequest,
    last: Option<LastEventId>,
    disconnect: Disconnect,
    departures: web::Data<Departures>,
) -> Sse<impl Stream<Item = Result<Event, EventError>>> {
    match &last {
        Some(id) => println!("a browser connected, resuming after tick {id}"),
        None => println!("a browser connected"),
    }
    let departures = departures.into_inner();
    disconnect.on_disconnect(move |reason| departures.report(reason));
    // Ids are tick numbers, so a reconnecting browser picks up after the
    // last tick it saw.
    let first = last
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(1, |n| n.saturating_add(1));
    let interval = request
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("interval_ms="))
        .and_then(|ms| ms.parse().ok())
        .map_or(TICK, Duration::from_millis);
    Sse::new(stream::unfold(first, move |n| async move {
        if n > first {
            tokio::time::sleep(interval).await;
        }
        Some((tick(n), n.saturating_add(1)))
    }))
}

fn tick(n: u64) -> Result<Event, EventError> {
    Ok(Event::default()
        .id_u64(n)
        .event("tick")?
        .data(format!("tick {n}")))
}

/// Where the browsers that leave are reported: the log, and the channel
/// if there is one.
struct Departures(Option<UnboundedSender<DisconnectReason>>);

impl Departures {
    fn report(&self, reason: &DisconnectReason) {
        println!("a browser left: {reason}");
        if let Some(departures) = &self.0 {
            // Nobody listening any more is no error.
            let _ = departures.send(reason.clone());
        }
    }
}
