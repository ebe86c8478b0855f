//! A live feed over Server-Sent Events, with axum and `ssekit-axum`.
//!
//! `GET /` is a page whose `EventSource` shows the feed, `POST /publish` adds
//! a message to it, and `GET /events` is the stream:
//!
//! - it first replays the recent messages the browser has not seen, after its
//!   `Last-Event-ID` (ids are sequence numbers), with a `notice` event when
//!   some of them are too old to replay;
//! - then it sends each new message live, from a broadcast channel, and a
//!   `tick` event with the server's time every few seconds;
//! - a stream that falls too far behind the channel is ended rather than left
//!   to skip messages: the browser reconnects and resumes from its
//!   `Last-Event-ID`, out of the replay buffer.
//!
//! [`SseLayer`] around the router sends the heartbeats, sets the headers that
//! keep proxies from buffering, keeps tower-http's compression off the
//! stream, tells each handler when its browser leaves, and ends every open
//! stream on shutdown, so that the graceful shutdown finishes at once.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use futures_util::{Stream, StreamExt, stream};
use ssekit_axum::{
    Disconnect, Encoded, Event, EventError, Farewell, LastEventId, Shutdown, Sse, SseLayer,
};
use tokio::net::TcpListener;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::MissedTickBehavior;
use tower_http::compression::CompressionLayer;

const PAGE: &str = include_str!("page.html");

/// The largest message `POST /publish` takes, in bytes; a larger one gets
/// 413.
pub const MAX_MESSAGE: usize = 4 * 1024;

/// How the feed is sized and paced.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How many recent messages are kept to replay to a browser that
    /// reconnects. Keep it larger than `lag`, so that a stream ended for
    /// falling behind finds what it missed here.
    pub replay: usize,
    /// How many messages a stream may fall behind the live channel before it
    /// is ended (the broadcast channel's capacity).
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

/// The application and the handle that ends its event streams: trigger it
/// when the server's graceful shutdown starts (see [`serve`]).
pub fn app(config: Config) -> (Router, Shutdown) {
    let sse = SseLayer::new().heartbeat(Duration::from_secs(15));
    let shutdown = sse.shutdown_handle();
    let router = Router::new()
        .route("/", get(page))
        .route("/events", get(events))
        .route(
            "/publish",
            post(publish).layer(DefaultBodyLimit::max(MAX_MESSAGE)),
        )
        .with_state(Feed::new(config))
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
    config: Config,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, shutdown) = app(config);
    let farewell = Farewell::new()
        .retry(Duration::from_secs(1))
        .jitter(Duration::from_secs(2));
    // Each event leaves as soon as it is written, not after Nagle's delay.
    axum::serve(ssekit_axum::tcp_nodelay(listener), app)
        .with_graceful_shutdown(shutdown.trigger_after(signal, farewell))
        .await
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn events(
    State(feed): State<Feed>,
    last: Option<LastEventId>,
    disconnect: Disconnect,
) -> Sse<impl Stream<Item = Result<Encoded, BoxError>>> {
    match &last {
        Some(id) => println!("a browser connected, resuming after message {id}"),
        None => println!("a browser connected"),
    }
    disconnect.on_disconnect(|reason| println!("a browser left: {reason}"));
    // A short reconnection delay: a stream ended for falling behind comes
    // back quickly. (On shutdown the farewell's hint replaces it.)
    Sse::new(feed.stream(last.as_deref())).retry(Duration::from_secs(1))
}

async fn publish(
    State(feed): State<Feed>,
    // Over `MAX_MESSAGE` bytes: 413; not UTF-8: 400 (axum's rejections).
    text: String,
) -> Result<String, (StatusCode, &'static str)> {
    if text.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "the message is empty\n"));
    }
    let id = feed.publish(&text).map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the message could not be encoded\n",
        )
    })?;
    Ok(id.to_string())
}

type BoxError = Box<dyn Error + Send + Sync>;

/// The shared state: the replay buffer and the live channel.
#[derive(Clone)]
struct Feed {
    shared: Arc<Shared>,
    tick: Duration,
}

struct Shared {
    history: Mutex<History>,
    live: broadcast::Sender<Encoded>,
}

/// The last messages, each encoded once and shared by every stream.
struct History {
    last_id: u64,
    recent: VecDeque<(u64, Encoded)>,
    capacity: usize,
}

impl Feed {
    fn new(config: Config) -> Self {
        let (live, _) = broadcast::channel(config.lag.max(1));
        Self {
            shared: Arc::new(Shared {
                history: Mutex::new(History {
                    last_id: 0,
                    recent: VecDeque::with_capacity(config.replay),
                    capacity: config.replay,
                }),
                live,
            }),
            tick: config.tick.max(Duration::from_millis(1)),
        }
    }

    fn history(&self) -> MutexGuard<'_, History> {
        self.shared
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `text` with the next id and sends it to every open stream.
    fn publish(&self, text: &str) -> Result<u64, EventError> {
        let mut history = self.history();
        let id = history.last_id + 1;
        // No `event:` field: `message` is the type a browser gives an event
        // without one.
        let event = Event::default().id(id.to_string())?.data(text).encode();
        history.last_id = id;
        history.recent.push_back((id, event.clone()));
        while history.recent.len() > history.capacity {
            history.recent.pop_front();
        }
        // Sent under the lock that `stream` subscribes under, so that each
        // stream gets each message exactly once: in its replay or live. With
        // no stream open there is nobody to tell, which is no error.
        let _ = self.shared.live.send(event);
        Ok(id)
    }

    /// A browser's stream: a notice if it missed messages, the messages
    /// after `last` that it has not seen, then live messages and ticks.
    fn stream(
        &self,
        last: Option<&ssekit::LastEventId>,
    ) -> impl Stream<Item = Result<Encoded, BoxError>> + use<> {
        let history = self.history();
        let live = self.shared.live.subscribe();
        let first_kept = history
            .recent
            .front()
            .map_or(history.last_id + 1, |(id, _)| *id);
        let (after, notice) = match last.and_then(|id| id.parse::<u64>().ok()) {
            // A new visitor (or an id that is not one of ours): everything
            // the buffer holds.
            None => (0, None),
            // An id from before the server restarted: its history is gone.
            Some(seen) if seen > history.last_id => (
                0,
                Some(
                    "The feed restarted since you were last here: this is what it has now.".into(),
                ),
            ),
            Some(seen) if seen.saturating_add(1) < first_kept => {
                (seen, Some(missed(first_kept - seen - 1)))
            }
            Some(seen) => (seen, None),
        };
        let replay: Vec<Encoded> = history
            .recent
            .iter()
            .filter(|(id, _)| *id > after)
            .map(|(_, event)| event.clone())
            .collect();
        drop(history);
        stream::iter(notice.map(notice_event))
            .chain(stream::iter(replay).map(Ok))
            .chain(live_events(live, self.tick))
    }
}

fn missed(count: u64) -> String {
    if count == 1 {
        "1 message was missed: it is too old to replay.".to_owned()
    } else {
        format!("{count} messages were missed: they are too old to replay.")
    }
}

fn notice_event(text: String) -> Result<Encoded, BoxError> {
    Ok(Event::default().event("notice")?.data(text).encode())
}

/// Live messages, and a tick every `every` (the first one at once).
fn live_events(
    receiver: broadcast::Receiver<Encoded>,
    every: Duration,
) -> impl Stream<Item = Result<Encoded, BoxError>> {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    stream::unfold(Some((receiver, ticks)), |state| async move {
        let (mut receiver, mut ticks) = state?;
        let item = tokio::select! {
            // Messages first: a tick can wait.
            biased;
            message = receiver.recv() => match message {
                Ok(event) => Ok(event),
                // The channel dropped messages this stream had not read yet.
                // Skipping them would lose them silently, so the stream ends
                // here (the error goes to the disconnect notification, the
                // response ends cleanly): the browser reconnects and resumes
                // from its Last-Event-ID, out of the replay buffer.
                Err(RecvError::Lagged(skipped)) => {
                    return Some((Err(Lagged(skipped).into()), None));
                }
                Err(RecvError::Closed) => return None,
            },
            _ = ticks.tick() => tick(),
        };
        Some((item, Some((receiver, ticks))))
    })
}

/// The server's time. No id: a tick must not move the browser's
/// `Last-Event-ID` off the last message it saw.
fn tick() -> Result<Encoded, BoxError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let day = secs % 86_400;
    let time = format!("{:02}:{:02}:{:02} UTC", day / 3600, day / 60 % 60, day % 60);
    Ok(Event::default().event("tick")?.data(time).encode())
}

/// Why a stream that fell behind the live channel was ended.
#[derive(Debug)]
struct Lagged(u64);

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fell {} messages behind; the browser resumes from its Last-Event-ID",
            self.0
        )
    }
}

impl Error for Lagged {}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use ssekit::decode::{Item, decode_all};

    use super::*;

    fn feed(replay: usize, lag: usize) -> Feed {
        Feed::new(Config {
            replay,
            lag,
            tick: Duration::from_secs(3600),
        })
    }

    fn id(id: &str) -> ssekit::LastEventId {
        ssekit::LastEventId::from_header(id.as_bytes()).unwrap()
    }

    /// Each event's type, id and data.
    fn decode(event: &Encoded) -> (String, String, String) {
        let items = decode_all(event).unwrap();
        let [Item::Event(event)] = &items[..] else {
            panic!("not one event: {items:?}");
        };
        (
            event.event_type.clone(),
            event.last_event_id.clone(),
            event.data.clone(),
        )
    }

    fn message(id: u64, data: &str) -> (String, String, String) {
        ("message".into(), id.to_string(), data.into())
    }

    /// The first `count` items, which must be ready now.
    async fn take(
        stream: &mut (impl Stream<Item = Result<Encoded, BoxError>> + Unpin),
        count: usize,
    ) -> Vec<(String, String, String)> {
        let mut got = Vec::new();
        for _ in 0..count {
            got.push(decode(&stream.next().await.unwrap().unwrap()));
        }
        got
    }

    #[tokio::test]
    async fn a_stream_that_falls_behind_ends_and_resumes_from_the_buffer() {
        let feed = feed(16, 2);
        feed.publish("one").unwrap();
        let mut stream = pin!(feed.stream(None));
        assert_eq!(take(&mut stream, 1).await, [message(1, "one")]);
        for n in 2..=6 {
            feed.publish(&format!("message {n}")).unwrap();
        }
        let err = stream.next().await.unwrap().unwrap_err();
        assert!(err.to_string().contains("behind"), "{err}");
        assert!(stream.next().await.is_none());

        // The browser comes back after the last message it saw.
        let mut stream = pin!(feed.stream(Some(&id("1"))));
        let expected: Vec<_> = (2..=6)
            .map(|n| message(n, &format!("message {n}")))
            .collect();
        assert_eq!(take(&mut stream, 5).await, expected);
    }

    #[tokio::test]
    async fn messages_older_than_the_buffer_are_reported_missed() {
        let feed = feed(4, 2);
        for n in 1..=10 {
            feed.publish(&n.to_string()).unwrap();
        }
        let mut stream = pin!(feed.stream(Some(&id("2"))));
        let got = take(&mut stream, 5).await;
        assert_eq!(got[0].0, "notice");
        assert_eq!(
            got[0].2,
            "4 messages were missed: they are too old to replay."
        );
        assert_eq!(got[1..], [7, 8, 9, 10].map(|n| message(n, &n.to_string())));
    }

    #[tokio::test]
    async fn a_new_visitor_gets_the_buffer_and_a_stale_id_a_notice() {
        let feed = feed(4, 2);
        for n in 1..=6 {
            feed.publish(&n.to_string()).unwrap();
        }
        let mut stream = pin!(feed.stream(None));
        assert_eq!(
            take(&mut stream, 4).await,
            [3, 4, 5, 6].map(|n| message(n, &n.to_string()))
        );
        // The first tick comes at once, with no id.
        assert_eq!(take(&mut stream, 1).await[0].1, "");

        let mut stream = pin!(feed.stream(Some(&id("99"))));
        let got = take(&mut stream, 5).await;
        assert_eq!(got[0].0, "notice");
        assert_eq!(got[1..], [3, 4, 5, 6].map(|n| message(n, &n.to_string())));
    }
}
