//! What carries a [`Hub`](super::Hub)'s events between server instances.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use bytes::Bytes;

use super::{EventId, Shared};

/// A boxed future that a [`Backplane`] returns: its calls cross a network.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The log that a [`Hub`](super::Hub) publishes into and reads from when
/// several server instances share topics. `ssekit-redis` implements it
/// with Redis Streams.
///
/// The hub does the rest: replay windows, subscribers, the lag policy and
/// the in-band notices. A backplane only has to append, deliver what was
/// appended in order, and read its history.
///
/// # The contract
///
/// - [`publish`](Self::publish) appends and gives the id. The event does
///   not reach this instance's subscribers from there: like everyone
///   else's, it comes back through the [`Inbox`], so every instance sees
///   one order.
/// - Every event appended to a watched topic is delivered through the
///   [`Inbox`] exactly once per watch, in id order, with ids that grow.
///   When the backplane cannot deliver some of them (say its log was
///   trimmed past what it had read while it was cut off), it calls
///   [`Inbox::gap`] so subscribers are told.
/// - [`watch`](Self::watch) and [`unwatch`](Self::unwatch) take effect in
///   the order they are called: a backplane registers a watch when it is
///   called, and its future only waits until delivery is armed. The hub
///   calls `watch` for every subscriber that joins before a watch of the
///   topic has resolved: a second call while one is arming waits for that
///   arming, and dropping a call's future must not abandon it.
///
/// ```
/// use bytes::Bytes;
/// use ssekit::hub::{Backplane, BackplaneError, BoxFuture, EventId, History, Inbox, Retention};
///
/// /// A backplane that is never reachable.
/// #[derive(Debug)]
/// struct Unreachable;
///
/// impl Backplane for Unreachable {
///     fn attach(&self, _inbox: Inbox) {}
///     fn publish(&self, _topic: &str, _event: Bytes) -> BoxFuture<Result<EventId, BackplaneError>> {
///         Box::pin(async { Err(BackplaneError::new("nobody is there")) })
///     }
///     fn watch(&self, _topic: &str) -> BoxFuture<Result<(), BackplaneError>> {
///         Box::pin(async { Err(BackplaneError::new("nobody is there")) })
///     }
///     fn unwatch(&self, _topic: &str) {}
///     fn history(&self, _topic: &str, _after: EventId, _limit: usize) -> BoxFuture<Result<History, BackplaneError>> {
///         Box::pin(async { Ok(History { events: Vec::new(), after: Retention::Unknown }) })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let hub = ssekit::hub::Hub::builder().backplane(Unreachable).build();
/// let refused = hub.publish("news", ssekit::Event::default().data("hi")).await;
/// assert!(refused.is_err());
/// # }
/// ```
pub trait Backplane: Send + Sync + fmt::Debug + 'static {
    /// Takes the handle through which it delivers events. The hub calls it
    /// once, when it is built; a backplane starts its reader here.
    fn attach(&self, inbox: Inbox);

    /// Appends `event` to `topic` and resolves to the id it was given.
    /// `event` is complete wire bytes without an `id:` line; the hub adds
    /// that line when the event comes back through the [`Inbox`].
    ///
    /// # Errors
    ///
    /// When the event was not appended, for the caller to handle: a
    /// backplane never drops an event silently.
    fn publish(&self, topic: &str, event: Bytes) -> BoxFuture<Result<EventId, BackplaneError>>;

    /// Starts delivering `topic`. Resolves once every event appended after
    /// that moment will be delivered.
    ///
    /// # Errors
    ///
    /// When delivery could not be armed.
    fn watch(&self, topic: &str) -> BoxFuture<Result<(), BackplaneError>>;

    /// Stops delivering `topic`: this instance has no subscriber left on it.
    fn unwatch(&self, topic: &str);

    /// The events of `topic` after `after`, oldest first, at most `limit`,
    /// and whether `after` itself is still in the log.
    ///
    /// # Errors
    ///
    /// When the log could not be read.
    fn history(
        &self,
        topic: &str,
        after: EventId,
        limit: usize,
    ) -> BoxFuture<Result<History, BackplaneError>>;
}

/// What [`Backplane::history`] found.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The events after the asked id, oldest first, as the backplane stored
    /// them (without an `id:` line).
    pub events: Vec<(EventId, Bytes)>,
    /// What became of the asked id.
    pub after: Retention,
}

/// Whether the id a client resumes after is still known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// It is still held: the events after it are complete.
    Retained,
    /// It is older than anything held: some events after it are gone.
    Expired,
    /// It was never seen here, so nothing can be said about what follows.
    #[default]
    Unknown,
}

/// A backplane's failure: unreachable, refused, or an answer it could not
/// read.
#[derive(Debug, Clone)]
pub struct BackplaneError(Arc<str>);

impl BackplaneError {
    /// An error saying `why`.
    #[must_use]
    pub fn new(why: impl fmt::Display) -> Self {
        Self(Arc::from(why.to_string()))
    }
}

impl fmt::Display for BackplaneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackplaneError {}

/// Where a [`Backplane`] delivers the events it reads. It holds the hub
/// weakly: once the hub is dropped, deliveries are ignored and
/// [`is_closed`](Self::is_closed) says so, for the reader to stop.
#[derive(Clone)]
pub struct Inbox(pub(super) Weak<Shared>);

impl Inbox {
    /// Delivers one event of `topic`: `event` as the backplane stored it,
    /// without an `id:` line. Events of a topic come in id order; one that
    /// is not newer than the last delivered is dropped as a duplicate.
    pub fn deliver(&self, topic: &str, id: EventId, event: &[u8]) {
        if let Some(shared) = self.0.upgrade() {
            shared.deliver(topic, id, event);
        }
    }

    /// Tells the subscribers of `topic` that events may be missing here:
    /// they get the in-band notice with reason `"backplane"`.
    pub fn gap(&self, topic: &str) {
        if let Some(shared) = self.0.upgrade() {
            shared.gap(topic);
        }
    }

    /// Whether the hub is gone.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.0.strong_count() == 0
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("closed", &self.is_closed())
            .finish()
    }
}
