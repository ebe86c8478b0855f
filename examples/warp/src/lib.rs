//! A live clock over Server-Sent Events on warp, with `ssekit-warp`.
//!
//! `GET /` is a page whose `EventSource` shows the ticks; `GET /events` is
//! the stream. It resumes after the browser's `Last-Event-ID`, sends
//! heartbeats when idle, logs each browser that leaves and why, and ends
//! every open stream when the server shuts down, so that the graceful
//! shutdown finishes at once.
//!
//! The page is gzipped for the browsers that take gzip; the stream never
//! is: warp's `gzip()` compresses and buffers whatever it wraps, events
//! included, so it wraps the page route only.

use std::future::Future;
use std::time::Duration;

use futures_util::{Stream, stream};
use ssekit_warp::{Event, EventError, Farewell, LastEventId, Sse, SseConfig};
use tokio::net::TcpListener;
use warp::{Filter, Rejection, Reply};

const PAGE: &str = include_str!("page.html");

/// How often the clock ticks. `?interval_ms=` overrides it.
const TICK: Duration = Duration::from_secs(1);

/// Serves the clock on `listener` until `signal` completes, then shuts down
/// gracefully: every open stream ends with a farewell, and the connections
/// close.
pub async fn serve(listener: TcpListener, signal: impl Future<Output = ()> + Send + 'static) {
    // Heartbeats every 15 s of silence, and the handle that ends every
    // stream on shutdown.
    let config = SseConfig::new();
    let shutdown = config.shutdown_handle();
    let farewell = Farewell::new()
        .retry(Duration::from_secs(1))
        .jitter(Duration::from_secs(2));
    // Each event goes out as soon as it is written, not after Nagle's delay;
    // a browser that vanished or never reads is let go within a minute.
    warp::serve(routes(&config))
        .incoming(ssekit_warp::tuned(listener))
        .graceful(shutdown.trigger_after(signal, farewell))
        .run()
        .await;
}

/// `GET /`, the page, and `GET /events`, the clock; its streams take on
/// `config`.
fn routes(
    config: &SseConfig,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static {
    // `gzip()` compresses whether the browser asked for it or not, so it
    // only gets the requests that take gzip; the others get the page as it
    // is. (`warp::compression` would need warp's `compression` feature,
    // brotli included: `warp::filters::compression` is the same module.)
    let root = warp::get().and(warp::path::end());
    let page = root
        .and(takes_gzip())
        .map(page)
        .with(warp::filters::compression::gzip())
        .or(root.map(page))
        // A cache must not hand the gzipped page to a client that did not
        // ask for it.
        .with(warp::reply::with::header("vary", "accept-encoding"));
    let config = config.clone();
    let events = warp::get()
        .and(warp::path("events"))
        .and(warp::path::end())
        .and(ssekit_warp::last_event_id())
        .and(interval())
        .map(move |last, interval| clock(last, interval).with_config(&config));
    page.or(events)
}

fn page() -> warp::reply::Html<&'static str> {
    warp::reply::html(PAGE)
}

fn clock(
    last: Option<LastEventId>,
    interval: Duration,
) -> Sse<impl Stream<Item = Result<Event, EventError>>> {
    match &last {
        Some(id) => println!("a browser connected, resuming after tick {id}"),
        None => println!("a browser connected"),
    }
    // Ids are tick numbers, so a reconnecting browser picks up after the
    // last tick it saw.
    let first = last
        .and_then(|id| id.parse::<u64>().ok())
        .map_or(1, |n| n.saturating_add(1));
    let mut sse = Sse::new(stream::unfold(first, move |n| async move {
        if n > first {
            tokio::time::sleep(interval).await;
        }
        Some((tick(n), n.saturating_add(1)))
    }));
    sse.disconnect()
        .on_disconnect(|reason| println!("a browser left: {reason}"));
    sse
}

fn tick(n: u64) -> Result<Event, EventError> {
    Ok(Event::default()
        .id_u64(n)
        .event("tick")?
        .data(format!("tick {n}")))
}

/// The tick interval: `?interval_ms=`, or [`TICK`].
fn interval() -> impl Filter<Extract = (Duration,), Error = std::convert::Infallible> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|query: String| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("interval_ms="))
                .and_then(|ms| ms.parse().ok())
                .map_or(TICK, Duration::from_millis)
        })
}

/// Passes the requests whose `Accept-Encoding` takes gzip.
fn takes_gzip() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::<String>("accept-encoding")
        .and_then(|codings: String| async move {
            let takes = codings.split(',').any(|coding| {
                let mut parts = coding.split(';').map(str::trim);
                parts
                    .next()
                    .is_some_and(|name| name.eq_ignore_ascii_case("gzip"))
                    // `gzip;q=0` refuses it.
                    && parts.all(|param| {
                        param.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) != Some(0.0)
                    })
            });
            if takes { Ok(()) } else { Err(warp::reject()) }
        })
        .untuple_one()
}
