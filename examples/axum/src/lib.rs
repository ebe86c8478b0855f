//! A live feed over Server-Sent Events, with axum, `ssekit-axum` and the
//! ssekit hub.
//!
//! `GET /` is a page whose `EventSource` shows the feed, `POST /publish` adds
//! a message to it, and `GET /events` is the stream:
//!
//! - a browser that reconnects gets the messages it missed, after its
//!   `Last-Event-ID`, from the hub's replay window, then live ones; when
//!   some are too old to replay, the hub says so first with an
//!   `ssekit-gap` event, which the page shows;
//! - a stream that falls too far behind is ended with a short `retry:`
//!   rather than left to skip messages: the browser reconnects and resumes
//!   from the window, losing nothing;
//! - every few seconds a `tick` event carries the server's time.
//!
//! With a Redis backplane under the hub ([`Config::hub`] and
//! `ssekit-redis`), several instances share the feed: that is
//! `cargo run -p example-axum --bin cluster`.
//!
//! [`SseLayer`] around the router sends the heartbeats, sets the headers that
//! keep proxies from buffering, keeps tower-http's compression off the
//! stream, tells each handler when its browser leaves, and ends every open
//! stream on shutdown, so that the graceful shutdown finishes at once.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use futures_util::{Stream, StreamExt, stream};
use ssekit::hub::{Hub, HubBuilder, LagPolicy, Subscription};
use ssekit_axum::{Disconnect, Encoded, Event, Farewell, LastEventId, Shutdown, Sse, SseLayer};
use tokio::net::TcpListener;
use tokio::time::MissedTickBehavior;
use tower_http::compression::CompressionLayer;

const PAGE: &str = include_str!("page.html");

/// The topic every message goes to.
pub const TOPIC: &str = "feed";

/// The largest message `POST /publish` takes, in bytes; a larger one gets
/// 413.
pub const MAX_MESSAGE: usize = 4 * 1024;

/// How the feed is sized and paced.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How many recent messages the hub keeps to replay to a browser that
    /// reconnects.
    pub replay: usize,
    /// How many messages a stream may fall behind before it is ended, to
    /// resume from the replay window. Keep it well under `replay`.
    pub lag: usize,
    /// How often each stream gets a `tick` event.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            replay: 100,
            lag: 32,
            tick: Duration::from_secs(5),
        }
    }
}

impl Config {
    /// The hub for this feed, to build as it is or with a backplane.
    pub fn hub(&self) -> HubBuilder {
        Hub::builder()
            .capacity(self.replay)
            .max_lag(self.lag)
            .lag_policy(LagPolicy::Close)
            .lag_retry(Duration::from_millis(250))
    }
}

/// The application and the handle that ends its event streams: trigger it
/// when the server's graceful shutdown starts (see [`serve`]).
pub fn app(hub: Hub, tick: Duration) -> (Router, Shutdown) {
    let sse = SseLayer::new().heartbeat(Duration::from_secs(15));
    let shutdown = sse.shutdown_handle();
    let router = Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route(
            "/publish",
            post(publish).layer(DefaultBodyLimit::max(MAX_MESSAGE)),
        )
        .with_state(Feed {
            hub,
            tick: tick.max(Duration::from_millis(1)),
        })
        // The SSE layer goes inside the compression layer (it is added
        // first), so that compression sees the stream's
        // `Content-Encoding: identity` and leaves it alone. The page is
        // still compressed.
        .layer(sse)
        .layer(CompressionLayer::new());
    (router, shutdown)
}

/// Serves the feed on `listener` until `signal` completes, then shuts down
/// gracefully: every open stream ends with a `retry:` hint of 1 to 3 s, so
/// that the browsers do not all come back at the same instant, and the
/// server finishes at once.
///
/// # Errors
///
/// When the server fails for good.
pub async fn serve(
    listener: TcpListener,
    hub: Hub,
    tick: Duration,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, shutdown) = app(hub, tick);
    let farewell = Farewell::new()
        .retry(Duration::from_secs(1))
        .jitter(Duration::from_secs(2));
    // Each event leaves as soon as it is written, not after Nagle's delay;
    // a browser that vanished or never reads is let go within a minute.
    // One router serves every connection, instead of a copy each.
    axum::serve(ssekit_axum::tuned(listener), app.into_make_service())
        .with_graceful_shutdown(shutdown.trigger_after(signal, farewell))
        .await
}

/// What the handlers share.
#[derive(Clone)]
struct Feed {
    hub: Hub,
    tick: Duration,
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn events(
    State(feed): State<Feed>,
    last: Option<LastEventId>,
    disconnect: Disconnect,
) -> Result<Sse<impl Stream<Item = Encoded>>, (StatusCode, String)> {
    match &last {
        Some(id) => println!("a browser connected, resuming after message {id}"),
        None => println!("a browser connected"),
    }
    let last = last.as_deref().map(ssekit::LastEventId::as_str);
    // Only a backplane can refuse: the browser retries on its own.
    let subscription = feed
        .hub
        .subscribe(TOPIC, last)
        .await
        .map_err(|err| (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")))?;
    disconnect.on_disconnect(|reason| println!("a browser left: {reason}"));
    Ok(Sse::new(with_ticks(subscription, feed.tick)))
}

async fn publish(
    State(feed): State<Feed>,
    // Over `MAX_MESSAGE` bytes: 413; not UTF-8: 400 (axum's rejections).
    text: String,
) -> Result<String, (StatusCode, String)> {
    if text.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "the message is empty\n".into()));
    }
    // No `event:` field: `message` is the type a browser gives an event
    // without one. The hub gives it its id.
    let id = feed
        .hub
        .publish(TOPIC, Event::default().data(text))
        .await
        .map_err(|err| (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")))?;
    Ok(id.to_string())
}

/// The feed's messages, and a tick every `every` (the first one at once).
/// The subscription ending (closed for lagging) ends the stream.
fn with_ticks(subscription: Subscription, every: Duration) -> impl Stream<Item = Encoded> {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ticks = stream::unfold(ticks, |mut ticks| async move {
        ticks.tick().await;
        Some((tick(), ticks))
    });
    // `None` marks the end of the messages: ticks alone go on forever.
    let messages = subscription.map(Some).chain(stream::once(async { None }));
    stream::select(messages, ticks.map(Some))
        .take_while(|item| std::future::ready(item.is_some()))
        .filter_map(std::future::ready)
}

/// The server's time. No id: a tick must not move the browser's
/// `Last-Event-ID` off the last message it saw.
fn tick() -> Encoded {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let day = secs % 86_400;
    let time = format!("{:02}:{:02}:{:02} UTC", day / 3600, day / 60 % 60, day % 60);
    // "tick" is a valid event type: the fallback is never taken.
    match Event::default().event("tick") {
        Ok(event) => event.data(time).encode(),
        Err(_) => Event::default().comment(time).encode(),
    }
}
