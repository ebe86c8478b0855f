//! Knowing when an event stream is over, and why.
//!
//! [`pair`] makes a [`Notifier`], which the stream machine (or a layer's body)
//! holds, and a [`Disconnect`] handle, which the application holds. The
//! notification fires exactly once, with a [`DisconnectReason`]:
//!
//! - the client went away (the body was dropped before its end: the
//!   connection closed or a write failed);
//! - the event stream ended;
//! - the server shut the stream down;
//! - the event stream failed.
//!
//! A dropped [`Notifier`] that never fired counts as the client going away,
//! so the handle always resolves.
//!
//! ```
//! use ssekit::disconnect::{self, DisconnectReason};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let (notifier, disconnect) = disconnect::pair();
//! disconnect.on_disconnect(|reason| println!("gone: {reason}"));
//! drop(notifier); // what happens when a server drops the response body
//! assert!(matches!(disconnect.wait().await, DisconnectReason::ClientGone));
//! # });
//! ```

use std::error::Error;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Notify;

type Callback = Box<dyn FnOnce(&DisconnectReason) + Send>;

/// Why an event stream is over.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client went away before the stream ended: the connection closed,
    /// or writing to it failed, and the server dropped the response body.
    ClientGone,
    /// The application's event stream ended, and so did the response.
    StreamEnded,
    /// The server's [`Shutdown`](crate::Shutdown) handle ended the stream.
    Shutdown,
    /// The application's event stream yielded an error. The response was
    /// ended cleanly; the error is kept here.
    Error(Arc<dyn Error + Send + Sync>),
}

impl DisconnectReason {
    /// A short, stable name for logs and metrics: `client_gone`,
    /// `stream_ended`, `shutdown` or `error`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ClientGone => "client_gone",
            Self::StreamEnded => "stream_ended",
            Self::Shutdown => "shutdown",
            Self::Error(_) => "error",
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientGone => f.write_str("the client went away"),
            Self::StreamEnded => f.write_str("the event stream ended"),
            Self::Shutdown => f.write_str("the server shut the stream down"),
            Self::Error(err) => write!(f, "the event stream failed: {err}"),
        }
    }
}

struct Shared {
    reason: OnceLock<DisconnectReason>,
    notify: Notify,
    callbacks: Mutex<Vec<Callback>>,
}

/// Makes a connected [`Notifier`] and [`Disconnect`] handle.
#[must_use]
pub fn pair() -> (Notifier, Disconnect) {
    let shared = Arc::new(Shared {
        reason: OnceLock::new(),
        notify: Notify::new(),
        callbacks: Mutex::new(Vec::new()),
    });
    (
        Notifier {
            shared: Arc::clone(&shared),
            fired: false,
        },
        Disconnect { shared },
    )
}

/// The firing side of a disconnect notification, held by whatever owns the
/// response body. Fires once; dropping it unfired fires
/// [`DisconnectReason::ClientGone`].
pub struct Notifier {
    shared: Arc<Shared>,
    fired: bool,
}

impl Notifier {
    /// Fires the notification with `reason`. Later calls, and the drop, do
    /// nothing.
    ///
    /// ```
    /// use ssekit::disconnect::{self, DisconnectReason};
    ///
    /// let (mut notifier, disconnect) = disconnect::pair();
    /// notifier.notify(DisconnectReason::Shutdown);
    /// notifier.notify(DisconnectReason::StreamEnded);
    /// assert_eq!(disconnect.reason().unwrap().as_str(), "shutdown");
    /// ```
    pub fn notify(&mut self, reason: DisconnectReason) {
        if std::mem::replace(&mut self.fired, true) {
            return;
        }
        let shared = &self.shared;
        if shared.reason.set(reason).is_err() {
            return;
        }
        shared.notify.notify_waiters();
        let callbacks = std::mem::take(
            &mut *shared
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if let Some(reason) = shared.reason.get() {
            for callback in callbacks {
                run(callback, reason);
            }
        }
    }

    /// Whether the notification has fired.
    #[must_use]
    pub fn has_fired(&self) -> bool {
        self.fired
    }

    /// Another handle to this notification.
    #[must_use]
    pub fn disconnect(&self) -> Disconnect {
        Disconnect {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.notify(DisconnectReason::ClientGone);
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("fired", &self.has_fired())
            .finish()
    }
}

/// A callback runs inside the server's drop of a response body; a panic
/// there would tear down the connection task (or abort, mid-unwind), so it
/// is caught and logged instead.
fn run(callback: Callback, reason: &DisconnectReason) {
    if catch_unwind(AssertUnwindSafe(|| callback(reason))).is_err() {
        tracing::error!(
            reason = reason.as_str(),
            "an on_disconnect callback panicked"
        );
    }
}

/// The application's side of a disconnect notification: await it, poll it,
/// or register callbacks. Cloning shares the same notification.
#[derive(Clone)]
pub struct Disconnect {
    shared: Arc<Shared>,
}

impl Disconnect {
    /// Waits until the stream is over, and says why.
    pub async fn wait(&self) -> DisconnectReason {
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a notification that fires in
            // between is not missed.
            notified.as_mut().enable();
            if let Some(reason) = self.shared.reason.get() {
                return reason.clone();
            }
            notified.await;
        }
    }

    /// The reason, if the stream is already over.
    #[must_use]
    pub fn reason(&self) -> Option<DisconnectReason> {
        self.shared.reason.get().cloned()
    }

    /// Whether the stream is over.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        self.shared.reason.get().is_some()
    }

    /// Runs `callback` once when the stream is over; at once if it already
    /// is. A panicking callback is caught and logged.
    pub fn on_disconnect(&self, callback: impl FnOnce(&DisconnectReason) + Send + 'static) {
        let callback: Callback = Box::new(callback);
        {
            let mut callbacks = self
                .shared
                .callbacks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if self.shared.reason.get().is_none() {
                callbacks.push(callback);
                return;
            }
        }
        if let Some(reason) = self.shared.reason.get() {
            run(callback, reason);
        }
    }
}

impl fmt::Debug for Disconnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disconnect")
            .field("reason", &self.shared.reason.get())
            .finish()
    }
}

/// The end of one stream's life: the notifiers to fire and the stats to
/// close, exactly once, whether the stream ends or is dropped. For layers
/// that drive a body of their own; [`SseStream`](crate::SseStream) keeps one.
///
/// ```
/// use std::sync::Arc;
/// use ssekit::disconnect::{self, DisconnectReason, Lifecycle};
/// use ssekit::stats::Stats;
///
/// let stats = Arc::new(Stats::default());
/// let (notifier, disconnect) = disconnect::pair();
/// let mut lifecycle = Lifecycle::default();
/// lifecycle.notify_to(notifier);
/// lifecycle.report_to(&stats);
/// assert_eq!(stats.snapshot().active, 1);
///
/// lifecycle.end(DisconnectReason::StreamEnded);
/// drop(lifecycle); // no second end: the first reason stands
/// assert_eq!(disconnect.reason().unwrap().as_str(), "stream_ended");
/// assert_eq!((stats.snapshot().active, stats.snapshot().stream_ended), (0, 1));
/// ```
#[derive(Debug, Default)]
pub struct Lifecycle {
    stats: Option<Arc<crate::stats::Stats>>,
    /// Boxed, and made only for a notifier or an enabled span: most
    /// streams have no notifier and are logged without a span (no
    /// subscriber wants it), and inline these would make every idle
    /// connection 32 bytes larger.
    watchers: Option<Box<Watchers>>,
    over: bool,
}

/// Whoever wants to hear of a stream's end.
#[derive(Debug, Default)]
struct Watchers {
    span: Option<tracing::Span>,
    /// Inline, since a stream that has a notifier nearly always has just
    /// the one: it then costs no list on the heap.
    first: Option<Notifier>,
    more: Vec<Notifier>,
}

impl Lifecycle {
    /// Adds a notifier to fire when the stream is over.
    pub fn notify_to(&mut self, notifier: Notifier) {
        let watchers = self.watchers();
        if watchers.first.is_none() {
            watchers.first = Some(notifier);
        } else {
            watchers.more.push(notifier);
        }
    }

    /// Logs the stream's end inside `span`: the layer's or adapter's span
    /// for this stream.
    pub fn in_span(&mut self, span: tracing::Span) {
        if !span.is_disabled() {
            self.watchers().span = Some(span);
        } else if let Some(watchers) = self.watchers.as_mut() {
            watchers.span = None;
        }
    }

    /// The first notifier's handle, if any.
    #[must_use]
    pub fn disconnect(&self) -> Option<Disconnect> {
        self.watchers
            .as_ref()
            .and_then(|watchers| watchers.first.as_ref())
            .map(Notifier::disconnect)
    }

    fn watchers(&mut self) -> &mut Watchers {
        self.watchers.get_or_insert_with(Box::default)
    }

    /// Reports the stream to `stats`: counted as open now, and closed with
    /// its reason when it is over. Only the first call counts.
    pub fn report_to(&mut self, stats: &Arc<crate::stats::Stats>) {
        if self.stats.is_none() && !self.over {
            stats.opened();
            self.stats = Some(Arc::clone(stats));
        }
    }

    /// The stats this stream reports to.
    #[must_use]
    pub fn stats(&self) -> Option<&crate::stats::Stats> {
        self.stats.as_deref()
    }

    /// Ends the stream's life with `reason`. Later calls do nothing.
    pub fn end(&mut self, reason: DisconnectReason) {
        if std::mem::replace(&mut self.over, true) {
            return;
        }
        if let Some(stats) = &self.stats {
            stats.closed(&reason);
        }
        let Some(Watchers { span, first, more }) = self.watchers.as_deref_mut() else {
            tracing::debug!(reason = reason.as_str(), "event stream over");
            return;
        };
        let _in_span = span.as_ref().map(tracing::Span::enter);
        tracing::debug!(reason = reason.as_str(), "event stream over");
        for notifier in more {
            notifier.notify(reason.clone());
        }
        if let Some(first) = first {
            first.notify(reason);
        }
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        self.end(DisconnectReason::ClientGone);
    }
}

#[cfg(feature = "tokio")]
tokio::task_local! {
    static REQUEST: std::cell::RefCell<Option<Notifier>>;
}

/// Runs `future` (a request handler) in a scope where [`current`] can hand
/// out the request's [`Disconnect`] handle; the layer or adapter that made
/// the scope then takes the notifier with [`Scoped::take_notifier`] and
/// ties it to the response body.
///
/// Nothing is allocated unless the handler asks for the handle, so a layer
/// can scope every request at no cost to those that don't.
#[cfg(feature = "tokio")]
pub fn scope<F: std::future::Future>(future: F) -> Scoped<F> {
    Scoped {
        inner: REQUEST.scope(std::cell::RefCell::new(None), future),
    }
}

/// The request's disconnect handle, inside a [`scope`]; `None` outside one.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use ssekit::disconnect;
///
/// assert!(disconnect::current().is_none());
/// let mut scoped = std::pin::pin!(disconnect::scope(async {
///     let first = disconnect::current().unwrap();
///     let again = disconnect::current().unwrap();
///     (first, again)
/// }));
/// let (first, _again) = scoped.as_mut().await;
/// let mut notifier = scoped.take_notifier().unwrap();
/// notifier.notify(disconnect::DisconnectReason::StreamEnded);
/// assert_eq!(first.reason().unwrap().as_str(), "stream_ended");
/// # });
/// ```
#[cfg(feature = "tokio")]
#[must_use]
pub fn current() -> Option<Disconnect> {
    REQUEST
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let notifier = slot.get_or_insert_with(|| pair().0);
            notifier.disconnect()
        })
        .ok()
}

#[cfg(feature = "tokio")]
pin_project_lite::pin_project! {
    /// A future run by [`scope`].
    pub struct Scoped<F: std::future::Future> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<std::cell::RefCell<Option<Notifier>>, F>,
    }
}

#[cfg(feature = "tokio")]
impl<F: std::future::Future> Scoped<F> {
    /// The notifier for the handle that [`current`] gave out, once the
    /// future is done; `None` if nobody asked for one.
    pub fn take_notifier(self: std::pin::Pin<&mut Self>) -> Option<Notifier> {
        self.project().inner.take_value()?.into_inner()
    }
}

#[cfg(feature = "tokio")]
impl<F: std::future::Future> std::future::Future for Scoped<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(feature = "tokio")]
impl<F: std::future::Future> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn fires_once_with_the_first_reason() {
        let (mut notifier, disconnect) = pair();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        disconnect.on_disconnect(move |reason| {
            assert_eq!(reason.as_str(), "stream_ended");
            counted.fetch_add(1, Ordering::SeqCst);
        });
        notifier.notify(DisconnectReason::StreamEnded);
        notifier.notify(DisconnectReason::Shutdown);
        drop(notifier);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(disconnect.reason().unwrap().as_str(), "stream_ended");
    }

    #[test]
    fn a_late_callback_runs_at_once() {
        let (notifier, disconnect) = pair();
        drop(notifier);
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        disconnect.on_disconnect(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_others() {
        let (notifier, disconnect) = pair();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        disconnect.on_disconnect(|_| panic!("user bug"));
        disconnect.on_disconnect(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        drop(notifier);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn wait_resolves_for_a_waiter_that_came_first() {
        let (mut notifier, disconnect) = pair();
        let waiter = tokio::spawn({
            let disconnect = disconnect.clone();
            async move { disconnect.wait().await }
        });
        tokio::task::yield_now().await;
        notifier.notify(DisconnectReason::Shutdown);
        assert_eq!(waiter.await.unwrap().as_str(), "shutdown");
    }
}
