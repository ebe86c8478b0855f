//! Fan-out with replay: publish an event once, reach every subscriber of
//! its topic, and let a reconnecting client resume without a gap.
//!
//! A [`Hub`] keeps, per topic, a bounded window of encoded events. Every
//! subscriber reads that one window through a cursor: an event is encoded
//! once, and its bytes are shared by every subscriber, with no copy and no
//! channel per subscriber. A subscriber that wakes up takes everything
//! ready at once, as one frame for one write.
//!
//! - **Ids.** [`Hub::publish`] gives each event an [`EventId`] and writes
//!   it as the event's `id:`, so a browser's `EventSource` sends it back as
//!   `Last-Event-ID` when it reconnects.
//! - **Resume.** [`Hub::subscribe`] with that id replays what followed it,
//!   then goes live, with no gap and no duplicate at the seam.
//! - **Gaps are told, never silent.** When the id has left the window, or
//!   was never seen, the subscriber first gets one [`GAP_EVENT`] event,
//!   which a browser dispatches (see below).
//! - **Slow subscribers.** A subscriber that falls more than
//!   [`max_lag`](HubBuilder::max_lag) events behind is handled by its
//!   [`LagPolicy`]. Memory stays bounded by the window whatever a client
//!   does.
//! - **Several instances.** A [`Backplane`] carries events between server
//!   instances: `ssekit-redis` implements one with Redis Streams.
//!
//! # The gap notice
//!
//! An event of type `ssekit-gap` (no `id:`, so the browser's last event id
//! stays put) whose data is a JSON object:
//!
//! | `reason` | when | what follows it |
//! |---|---|---|
//! | `"expired"` | the `Last-Event-ID` is older than anything retained | every retained event after it, then live events |
//! | `"unknown"` | the `Last-Event-ID` was never seen by this hub (another deployment, a typo, a forged id) | live events |
//! | `"lagged"` | with [`LagPolicy::Skip`], the subscriber fell too far behind | live events; `skipped` says how many it missed |
//! | `"backplane"` | the backplane could not deliver some events (say Redis trimmed them while this instance was cut off) | the events it could deliver |
//!
//! `last_event_id` (for `expired` and `unknown`) is the id the client sent.
//!
//! ```js
//! source.addEventListener("ssekit-gap", (e) => {
//!   const gap = JSON.parse(e.data); // {"reason":"expired","last_event_id":"…"}
//!   reloadEverything();
//! });
//! ```
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use ssekit::Event;
//! use ssekit::hub::Hub;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new();
//! let mut live = hub.subscribe("news", None).await?;
//!
//! let first = hub.publish("news", Event::default().data("one")).await?;
//! hub.publish("news", Event::default().data("two")).await?;
//!
//! // Both were ready: they come as one frame, sharing the hub's bytes.
//! let frame = live.next().await.unwrap();
//! let events = ssekit::decode::decode_all(&frame)?;
//! assert_eq!(events.len(), 2);
//!
//! // A client that reconnects with the first id gets the second again.
//! let mut resumed = hub.subscribe("news", Some(&first.to_string())).await?;
//! let frame = resumed.next().await.unwrap();
//! assert!(std::str::from_utf8(&frame)?.ends_with("data: two\n\n"));
//! # Ok(()) }
//! ```
//!
//! In a handler, the subscription is the stream an adapter's `Sse` takes:
//! `Sse::new(hub.subscribe(&topic, last_event_id.as_deref()).await?)`.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::Event;

mod backplane;
mod id;
mod subscription;
mod window;

pub use backplane::{Backplane, BackplaneError, BoxFuture, History, Inbox, Retention};
pub(crate) use id::MAX_TEXT;
pub use id::{EventId, InvalidEventId};
pub use subscription::Subscription;

use window::Topic;

/// A backplane's [`watch`](Backplane::watch) in flight.
type Arming = BoxFuture<Result<(), BackplaneError>>;

/// The type of the in-band event that tells a subscriber events may be
/// missing; see [the module docs](self#the-gap-notice).
pub const GAP_EVENT: &str = "ssekit-gap";

/// Events a topic keeps for replay unless told otherwise.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The `retry:` a subscriber closed for lagging gets unless told otherwise:
/// soon enough to resume before the window moves on.
pub const DEFAULT_LAG_RETRY: Duration = Duration::from_millis(500);

/// What happens to a subscriber that falls more than
/// [`max_lag`](HubBuilder::max_lag) events behind the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LagPolicy {
    /// End its stream with a `retry:` hint. Its browser reconnects with the
    /// last id it got and resumes from the window, losing nothing that is
    /// still retained. The default.
    #[default]
    Close,
    /// Jump it to the newest event and tell it with a `"lagged"`
    /// [gap notice](self#the-gap-notice): it stays connected, and misses
    /// what it skipped.
    Skip,
}

/// How a [`Hub`] is set up. From [`Hub::builder`].
///
/// ```
/// use std::time::Duration;
/// use ssekit::hub::{Hub, LagPolicy};
///
/// let hub = Hub::builder()
///     .capacity(256)
///     .max_age(Duration::from_secs(300))
///     .lag_policy(LagPolicy::Skip)
///     .build();
/// assert_eq!(hub.stats().subscribers, 0);
/// ```
#[derive(Debug)]
#[must_use]
pub struct HubBuilder {
    config: Config,
    max_lag: Option<usize>,
    backplane: Option<Arc<dyn Backplane>>,
}

#[derive(Debug, Clone)]
struct Config {
    capacity: usize,
    max_age: Option<Duration>,
    max_lag: usize,
    lag_policy: LagPolicy,
    lag_retry: Duration,
    max_frame: usize,
}

impl Default for HubBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                capacity: DEFAULT_CAPACITY,
                max_age: None,
                max_lag: DEFAULT_CAPACITY / 2,
                lag_policy: LagPolicy::default(),
                lag_retry: DEFAULT_LAG_RETRY,
                max_frame: crate::DEFAULT_MAX_FRAME,
            },
            max_lag: None,
            backplane: None,
        }
    }
}

impl HubBuilder {
    /// How many events each topic keeps for replay (at least 1; default
    /// [`DEFAULT_CAPACITY`]).
    pub fn capacity(mut self, events: usize) -> Self {
        self.config.capacity = events.max(1);
        self
    }

    /// Also forget events older than this.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.config.max_age = Some(age);
        self
    }

    /// How many events a live subscriber may fall behind the newest before
    /// its [`LagPolicy`] applies. Default: half the capacity, so a client
    /// closed for lagging still finds its last id in the window when it
    /// comes back. At most the capacity.
    pub fn max_lag(mut self, events: usize) -> Self {
        self.max_lag = Some(events.max(1));
        self
    }

    /// What to do with a subscriber that lags; default [`LagPolicy::Close`].
    pub fn lag_policy(mut self, policy: LagPolicy) -> Self {
        self.config.lag_policy = policy;
        self
    }

    /// The `retry:` sent to a subscriber closed for lagging; default
    /// [`DEFAULT_LAG_RETRY`].
    pub fn lag_retry(mut self, retry: Duration) -> Self {
        self.config.lag_retry = retry;
        self
    }

    /// The most bytes a subscriber takes from the window in one frame;
    /// default [`DEFAULT_MAX_FRAME`](crate::DEFAULT_MAX_FRAME).
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.config.max_frame = bytes.max(1);
        self
    }

    /// Carries events between instances through `backplane` instead of
    /// keeping them in this process only.
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = Some(Arc::new(backplane));
        self
    }

    /// The hub. With a backplane, this attaches to it, which starts its
    /// reader (on the current tokio runtime, for `ssekit-redis`).
    #[must_use]
    pub fn build(self) -> Hub {
        let Self {
            mut config,
            max_lag,
            backplane,
        } = self;
        config.max_lag = max_lag
            .unwrap_or(config.capacity / 2)
            .clamp(1, config.capacity);
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        let shared = Arc::new(Shared {
            config,
            topics: RwLock::new(HashMap::new()),
            epoch,
            sequence: AtomicU64::new(0),
            counters: Counters::default(),
            backplane,
        });
        if let Some(backplane) = &shared.backplane {
            backplane.attach(Inbox(Arc::downgrade(&shared)));
        }
        Hub { shared }
    }
}

/// Topics of events with replay; cheap to clone, one per application.
/// See [the module docs](self).
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.shared.config)
            .field("backplane", &self.shared.backplane)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Hub {
    /// An in-process hub with the defaults: [`DEFAULT_CAPACITY`] events per
    /// topic, [`LagPolicy::Close`].
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A hub set up by hand.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// Publishes `event` to every subscriber of `topic`, and returns the id
    /// it was given. The hub writes that id as the event's `id:`, after any
    /// the event had, so it is the one a browser keeps.
    ///
    /// In process, it publishes at the call: subscribers have the event
    /// before the future is first polled, and the future is ready at once
    /// with the id. With a backplane, the call hands the event to the
    /// backplane, and the future resolves once the backplane has stored it
    /// (await it: a backplane may send nothing until then); subscribers
    /// here get it when the backplane delivers it back, as every instance
    /// does.
    ///
    /// # Errors
    ///
    /// [`PublishError::Backplane`] when the backplane refused the event or
    /// could not be reached: it was not published, and nobody got it. When
    /// the backplane did not answer in time, the event may have been stored
    /// all the same; a publisher that retries may publish it twice.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ssekit::hub::PublishError> {
    /// let hub = ssekit::hub::Hub::new();
    /// let one = hub.publish("scores", ssekit::Event::default().data("1-0")).await?;
    /// let two = hub.publish("scores", ssekit::Event::default().data("2-0")).await?;
    /// assert!(one < two);
    /// assert_eq!(hub.stats().published, 2);
    /// # Ok(()) }
    /// ```
    pub fn publish(
        &self,
        topic: &str,
        event: Event,
    ) -> impl Future<Output = Result<EventId, PublishError>> + Send + use<> {
        // Plain `fn`, publishing at the call: an `async fn` would carry the
        // event and the topic in its future, and a server that keeps one
        // future slot per connection (hyper under warp) pays for the
        // largest route future on every connection.
        match &self.shared.backplane {
            None => Publishing::Done(std::future::ready(self.shared.publish_here(topic, event))),
            Some(backplane) => Publishing::Storing {
                stored: backplane.publish(topic, event.encode().into_bytes()),
                shared: Arc::clone(&self.shared),
            },
        }
    }

    /// Subscribes to `topic`. With the `Last-Event-ID` a client sent, it
    /// first replays what followed that id (or sends the
    /// [gap notice](self#the-gap-notice)), then goes live.
    ///
    /// It joins the topic at the call: from then on it counts in
    /// [`subscribers`](Self::subscribers), until the future (or the
    /// subscription it resolves to) is dropped, and events published after
    /// the call are its to deliver, even before the future is first polled.
    /// A future held unpolled while more than `max_lag` events go by is
    /// lagging when it starts, and is handled by the [`LagPolicy`].
    ///
    /// # Errors
    ///
    /// [`SubscribeError`] when the backplane could not start delivering the
    /// topic or read its history. In process it never fails.
    pub fn subscribe<'a>(
        &self,
        topic: &str,
        last_event_id: Option<&'a str>,
    ) -> impl Future<Output = Result<Subscription, SubscribeError>> + Send + use<'a> {
        Subscription::start(Arc::clone(&self.shared), topic, last_event_id)
    }

    /// Open subscriptions to `topic`.
    #[must_use]
    pub fn subscribers(&self, topic: &str) -> usize {
        self.shared
            .topic(topic)
            .map_or(0, |topic| topic.lock().subscribers)
    }

    /// The counters, all topics together.
    #[must_use]
    pub fn stats(&self) -> HubStats {
        let counters = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HubStats {
            topics: self.shared.topics().len(),
            subscribers: counters.subscribers.load(Ordering::Relaxed),
            published: load(&counters.published),
            publish_errors: load(&counters.publish_errors),
            delivered: load(&counters.delivered),
            replayed: load(&counters.replayed),
            lagged: load(&counters.lagged),
            closed_for_lag: load(&counters.closed_for_lag),
        }
    }
}

/// A snapshot of a [`Hub`]'s counters, from [`Hub::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Topics that have subscribers or retained events.
    pub topics: usize,
    /// Open subscriptions.
    pub subscribers: usize,
    /// Events that entered this hub's windows: published here, or, with a
    /// backplane, delivered by it.
    pub published: u64,
    /// Publishes the backplane refused.
    pub publish_errors: u64,
    /// Events handed to subscribers, counting each subscriber once.
    pub delivered: u64,
    /// Of those, the events that were replayed after a `Last-Event-ID`.
    pub replayed: u64,
    /// Times a subscriber fell too far behind (or its next event left the
    /// window before it was sent).
    pub lagged: u64,
    /// Of those, the subscribers closed for it ([`LagPolicy::Close`]).
    pub closed_for_lag: u64,
}

/// [`Hub::publish`]'s future: the outcome of a publish done at the call,
/// or a backplane's store under way.
enum Publishing {
    Done(std::future::Ready<Result<EventId, PublishError>>),
    Storing {
        stored: BoxFuture<Result<EventId, BackplaneError>>,
        shared: Arc<Shared>,
    },
}

impl Future for Publishing {
    type Output = Result<EventId, PublishError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Done(outcome) => Pin::new(outcome).poll(cx),
            Self::Storing { stored, shared } => {
                let published = ready!(stored.as_mut().poll(cx));
                if published.is_err() {
                    shared
                        .counters
                        .publish_errors
                        .fetch_add(1, Ordering::Relaxed);
                }
                Poll::Ready(published.map_err(PublishError::Backplane))
            }
        }
    }
}

/// [`Hub::publish`] failed: the event was not published.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PublishError {
    /// The backplane refused it or could not be reached (or, on a timeout,
    /// did not say whether it took it).
    Backplane(BackplaneError),
}

impl From<BackplaneError> for PublishError {
    fn from(err: BackplaneError) -> Self {
        Self::Backplane(err)
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backplane(err) => write!(f, "the backplane did not take the event: {err}"),
        }
    }
}

impl std::error::Error for PublishError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backplane(err) => Some(err),
        }
    }
}

/// [`Hub::subscribe`] failed: the backplane could not start delivering the
/// topic, or could not read its history.
#[derive(Debug, Clone)]
pub struct SubscribeError(BackplaneError);

impl fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not subscribe through the backplane: {}", self.0)
    }
}

impl std::error::Error for SubscribeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<BackplaneError> for SubscribeError {
    fn from(err: BackplaneError) -> Self {
        Self(err)
    }
}

#[derive(Debug, Default)]
struct Counters {
    subscribers: AtomicUsize,
    published: AtomicU64,
    publish_errors: AtomicU64,
    delivered: AtomicU64,
    replayed: AtomicU64,
    lagged: AtomicU64,
    closed_for_lag: AtomicU64,
}

/// What a [`Hub`], its subscriptions and its backplane's [`Inbox`] share.
#[derive(Debug)]
pub(crate) struct Shared {
    config: Config,
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    /// The first half of in-process ids: when this hub was built.
    epoch: u64,
    sequence: AtomicU64,
    counters: Counters,
    backplane: Option<Arc<dyn Backplane>>,
}

impl Shared {
    fn topics(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn topics_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Arc<str>, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics().get(name).cloned()
    }

    fn topic_or_new(&self, name: &str) -> Arc<Topic> {
        if let Some(topic) = self.topic(name) {
            return topic;
        }
        let mut topics = self.topics_mut();
        if let Some(topic) = topics.get(name) {
            return Arc::clone(topic);
        }
        // One allocation of the name, shared by the map and every subscriber.
        let name: Arc<str> = Arc::from(name);
        let topic = Arc::new(Topic::new(Arc::clone(&name)));
        topics.insert(name, Arc::clone(&topic));
        topic
    }

    fn publish_here(&self, name: &str, event: Event) -> Result<EventId, PublishError> {
        let topic = self.topic_or_new(name);
        let _in_order = topic
            .publishing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = EventId::new(
            self.epoch,
            self.sequence.fetch_add(1, Ordering::Relaxed) + 1,
        );
        let bytes = event.hub_id(id).encode().into_bytes();
        let woken = topic.lock().push(id, bytes, self.config.capacity);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        wake(&topic, woken);
        Ok(id)
    }

    /// A backplane's delivery: the event gets its `id:` line here, once
    /// per instance, and is shared by every subscriber from then on.
    fn deliver(&self, name: &str, id: EventId, event: &[u8]) {
        let Some(topic) = self.topic(name) else {
            return;
        };
        let mut window = topic.lock();
        if !window.watched || window.newest.is_some_and(|newest| id <= newest) {
            return;
        }
        let woken = window.push(id, with_id(event, id), self.config.capacity);
        drop(window);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        wake(&topic, woken);
    }

    fn gap(&self, name: &str) {
        let Some(topic) = self.topic(name) else {
            return;
        };
        let mut window = topic.lock();
        if !window.watched {
            return;
        }
        // The notice sits in the window like an event, under the id of the
        // one before it, so whoever passes that point gets it.
        let id = window.newest.unwrap_or(EventId::new(0, 0));
        let woken = window.push(
            id,
            subscription::gap_notice("backplane", None, None),
            self.config.capacity,
        );
        drop(window);
        wake(&topic, woken);
    }

    /// Counts a new subscriber of `name` and returns its topic, with the
    /// window's head, and whether the backplane must be asked to watch it.
    fn join(&self, name: &str) -> (Arc<Topic>, u64, Option<Arming>) {
        loop {
            let topic = self.topic_or_new(name);
            // Under the read lock, a leaving subscriber cannot remove the
            // topic between the look-up and the count.
            let topics = self.topics();
            if !topics
                .get(name)
                .is_some_and(|current| Arc::ptr_eq(current, &topic))
            {
                continue;
            }
            let mut window = topic.lock();
            window.subscribers += 1;
            self.counters.subscribers.fetch_add(1, Ordering::Relaxed);
            let watch = match &self.backplane {
                Some(backplane) if !window.armed => {
                    window.watched = true;
                    Some(backplane.watch(name))
                }
                _ => None,
            };
            let head = window.head();
            drop(window);
            drop(topics);
            return (topic, head, watch);
        }
    }

    /// Counts a subscriber out. The last one out of a topic with nothing
    /// to replay removes it; with a backplane, it stops the delivery too,
    /// and the window, which nothing would keep current, is emptied.
    fn leave(&self, name: &str, topic: &Arc<Topic>, slot: &mut window::Slot) {
        // Declared before the locks, so it is dropped after them.
        let _gone;
        let mut topics = self.topics_mut();
        let mut window = topic.lock();
        _gone = window.deregister(slot);
        window.subscribers = window.subscribers.saturating_sub(1);
        self.counters.subscribers.fetch_sub(1, Ordering::Relaxed);
        if window.subscribers > 0 {
            return;
        }
        if let Some(backplane) = &self.backplane
            && window.watched
        {
            window.watched = false;
            window.armed = false;
            window.clear();
            backplane.unwatch(name);
        }
        // The map's reference and ours: nobody else is publishing to it.
        if window.entries.is_empty() && Arc::strong_count(topic) == 2 {
            topics.remove(name);
        }
    }
}

/// A backplane's event (whole, without an `id:` line) with `id` as its
/// last line: the one a browser keeps, whatever the event had.
fn with_id(event: &[u8], id: EventId) -> Bytes {
    let body = event.strip_suffix(b"\n").unwrap_or(event);
    let mut bytes = Vec::with_capacity(body.len() + 48);
    bytes.extend_from_slice(body);
    id.write_line(&mut bytes);
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn wake(topic: &Topic, woken: Vec<std::task::Waker>) {
    if woken.is_empty() {
        return;
    }
    let mut woken = woken;
    for waker in woken.drain(..) {
        waker.wake();
    }
    topic.lock().recycle(woken);
}
