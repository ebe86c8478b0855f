//! Ending every open event stream cleanly, so a graceful shutdown finishes.
//!
//! A server's graceful shutdown waits for open responses to end, and an event
//! stream never ends by itself: without help the server waits forever (axum
//! #2673, hyper #2787). A [`Shutdown`] handle, shared by every stream it is
//! given to, ends them all at once. Each stream first sends the optional
//! [`Farewell`] (a last event and a `retry:` hint, with jitter so that
//! clients do not all come back at the same instant), then ends its body
//! cleanly, and its disconnect notification says
//! [`Shutdown`](crate::DisconnectReason::Shutdown).
//!
//! ```
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use ssekit::shutdown::{Farewell, Shutdown};
//! use ssekit::{Event, SseStream};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let shutdown = Shutdown::new();
//! let mut stream = SseStream::new(futures_util::stream::pending::<Event>())
//!     .with_shutdown(&shutdown);
//! assert_eq!(shutdown.open_streams(), 1);
//!
//! shutdown.trigger_with(Farewell::new().retry(Duration::from_secs(5)));
//! assert_eq!(stream.next().await.unwrap(), "retry: 5000\n\n");
//! assert_eq!(stream.next().await, None);
//! drop(stream);
//! assert_eq!(shutdown.open_streams(), 0);
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::wakers::{NO_SLOT, WakerSlots};
use crate::{Encoded, Event};

/// What each stream sends before it ends on shutdown.
///
/// ```
/// use std::time::Duration;
/// use ssekit::{Event, shutdown::Farewell};
///
/// let farewell = Farewell::new()
///     .event(Event::default().event("bye")?.data("restarting"))
///     .retry(Duration::from_secs(2))
///     .jitter(Duration::from_secs(3)); // each client: 2 to 5 s
/// # Ok::<(), ssekit::EventError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Farewell {
    event: Option<Encoded>,
    retry: Option<Duration>,
    jitter: Duration,
}

impl Farewell {
    /// Nothing: the streams just end.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A last event, sent to every stream.
    #[must_use]
    pub fn event(mut self, event: impl Into<Encoded>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// A `retry:` hint: how long browsers wait before they reconnect.
    #[must_use]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Spreads the reconnections: each stream adds its own random share of
    /// `jitter` to the `retry:` hint.
    #[must_use]
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// The bytes for one stream, with its own draw of the jitter.
    fn frame(&self, draw: u64) -> Option<Bytes> {
        let retry = self.retry.map(|retry| {
            let jitter_ms = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
            let extra = draw.checked_rem(jitter_ms.saturating_add(1)).unwrap_or(0);
            Event::default()
                .retry(retry.saturating_add(Duration::from_millis(extra)))
                .encode()
        });
        match (&self.event, retry) {
            (None, None) => None,
            (Some(event), None) => Some(event.as_bytes().clone()),
            (None, Some(retry)) => Some(retry.into_bytes()),
            (Some(event), Some(retry)) => {
                let mut frame = BytesMut::with_capacity(event.len() + retry.len());
                frame.extend_from_slice(event);
                frame.extend_from_slice(&retry);
                Some(frame.freeze())
            }
        }
    }
}

struct Inner {
    farewell: OnceLock<Farewell>,
    /// Wakes [`Shutdown::triggered`]: a few futures per server.
    notify: Notify,
    /// Wakes the listeners: one per stream, so a slot each in a shared
    /// list rather than a `Notify` future (and an allocation) of their own.
    listeners: Mutex<WakerSlots>,
    open: AtomicUsize,
    draws: AtomicU64,
    seed: RandomState,
}

/// A cloneable handle that ends every stream it was given to.
///
/// Give it to each stream with [`SseStream::with_shutdown`](crate::SseStream::with_shutdown)
/// (the framework adapters do this for you), and trigger it when the
/// server's graceful shutdown starts. Streams created after the trigger end
/// at once.
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A new, untriggered handle.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                farewell: OnceLock::new(),
                notify: Notify::new(),
                listeners: Mutex::new(WakerSlots::default()),
                open: AtomicUsize::new(0),
                draws: AtomicU64::new(0),
                seed: RandomState::new(),
            }),
        }
    }

    /// Waits for `signal` (a ctrl-c, a SIGTERM), then ends every stream
    /// with `farewell`: made to be a server's graceful-shutdown signal.
    ///
    /// ```no_run
    /// # async fn example(shutdown: ssekit::Shutdown) {
    /// use ssekit::shutdown::Farewell;
    /// let signal = shutdown.trigger_after(tokio::signal::ctrl_c(), Farewell::new());
    /// // axum::serve(listener, app.into_make_service()).with_graceful_shutdown(signal).await
    /// # signal.await;
    /// # }
    /// ```
    pub async fn trigger_after<F: Future>(self, signal: F, farewell: Farewell) {
        signal.await;
        self.trigger_with(farewell);
    }

    /// Waits until the handle is triggered.
    pub async fn triggered(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a trigger in between is seen.
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `server` (a server's graceful-shutdown future) to its end, but
    /// for no longer than `grace` after this handle is triggered; `None`
    /// when the grace ran out first.
    ///
    /// A client that has stopped reading holds its connection: with the
    /// socket's send buffer full, the server does not poll the body, so the
    /// stream never sees the trigger, and a graceful shutdown would wait for
    /// that connection forever. This bounds the wait.
    ///
    /// ```no_run
    /// # async fn run(app: axum::Router, listener: tokio::net::TcpListener, shutdown: ssekit::Shutdown) -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use ssekit::shutdown::Farewell;
    ///
    /// let signal = shutdown.clone().trigger_after(tokio::signal::ctrl_c(), Farewell::new());
    /// let server = axum::serve(listener, app.into_make_service()).with_graceful_shutdown(signal);
    /// match shutdown.bounded(server.into_future(), Duration::from_secs(5)).await {
    ///     Some(served) => served,
    ///     None => Ok(()), // connections were still open 5 s on: exit anyway
    /// }
    /// # }
    /// ```
    #[cfg(feature = "tokio")]
    pub async fn bounded<F: Future>(&self, server: F, grace: Duration) -> Option<F::Output> {
        let deadline = async {
            self.triggered().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = server => Some(served),
            () = deadline => None,
        }
    }

    /// Ends every stream, with no farewell.
    pub fn trigger(&self) {
        self.trigger_with(Farewell::new());
    }

    /// Ends every stream, each after sending `farewell`. Only the first
    /// trigger counts.
    pub fn trigger_with(&self, farewell: Farewell) {
        if self.inner.farewell.set(farewell).is_ok() {
            tracing::debug!(
                open_streams = self.open_streams(),
                "shutting event streams down"
            );
        }
        self.inner.notify.notify_waiters();
        // Taken after the farewell is set: a listener registers only after
        // checking for it under this lock, so none is missed.
        let wakers = std::mem::take(&mut *self.inner.wakers());
        for waker in wakers.into_wakers() {
            waker.wake();
        }
    }

    /// Whether the handle has been triggered.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.inner.farewell.get().is_some()
    }

    /// How many streams hold this handle and have not been dropped yet.
    #[must_use]
    pub fn open_streams(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// Registers one stream: counted in [`open_streams`](Self::open_streams)
    /// until the listener is dropped. Layers that drive bodies of their own
    /// use it; [`SseStream`](crate::SseStream) does this for you.
    #[must_use]
    pub fn listen(&self) -> Listener {
        self.inner.open.fetch_add(1, Ordering::Relaxed);
        Listener {
            inner: Arc::clone(&self.inner),
            slot: NO_SLOT,
            waker: None,
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .field("open_streams", &self.open_streams())
            .finish()
    }
}

impl Inner {
    fn wakers(&self) -> std::sync::MutexGuard<'_, WakerSlots> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One stream's registration with a [`Shutdown`].
pub struct Listener {
    inner: Arc<Inner>,
    /// Its place in the shared list, once it has been polled.
    slot: u32,
    /// The waker last registered: the list's lock is only taken again when
    /// the task's waker changes.
    waker: Option<Waker>,
}

impl Listener {
    /// Ready once triggered, with this stream's farewell frame (if the
    /// farewell has anything to send).
    pub fn poll_triggered(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(farewell) = self.inner.farewell.get() {
            return Poll::Ready(self.farewell_frame(farewell));
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut wakers = self.inner.wakers();
        // Checked again under the lock that `trigger_with` takes after
        // setting the farewell.
        if let Some(farewell) = self.inner.farewell.get() {
            drop(wakers);
            return Poll::Ready(self.farewell_frame(farewell));
        }
        let replaced = if self.slot == NO_SLOT {
            let Some(slot) = wakers.insert(cx.waker()) else {
                return Poll::Pending;
            };
            self.slot = slot;
            None
        } else {
            wakers.set(self.slot, cx.waker())
        };
        drop(wakers);
        drop(replaced);
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn farewell_frame(&self, farewell: &Farewell) -> Option<Bytes> {
        let n = self.inner.draws.fetch_add(1, Ordering::Relaxed);
        farewell.frame(self.inner.seed.hash_one(n))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.inner.open.fetch_sub(1, Ordering::Relaxed);
        if self.slot != NO_SLOT {
            let mut wakers = self.inner.wakers();
            // After a trigger the list was emptied, and the slot is gone.
            if self.inner.farewell.get().is_none() {
                let waker = wakers.free(self.slot);
                drop(wakers);
                drop(waker);
            }
        }
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_bounds() {
        let farewell = Farewell::new()
            .retry(Duration::from_millis(100))
            .jitter(Duration::from_millis(10));
        for draw in [0, 1, 10, 11, u64::MAX] {
            let frame = farewell.frame(draw).unwrap();
            let ms: u64 = std::str::from_utf8(&frame[7..frame.len() - 2])
                .unwrap()
                .parse()
                .unwrap();
            assert!((100..=110).contains(&ms), "{ms}");
        }
    }

    struct Counter(AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_trigger_wakes_every_listener_and_slots_are_reused() {
        let shutdown = Shutdown::new();
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        // Once every stream has gone, the list gives its memory back.
        let mut passing: Vec<Listener> = (0..10).map(|_| shutdown.listen()).collect();
        for listener in &mut passing {
            assert!(listener.poll_triggered(&mut cx).is_pending());
        }
        assert_eq!(shutdown.inner.wakers().len(), 10);
        drop(passing);
        assert_eq!(shutdown.inner.wakers().capacity(), 0);

        let mut listeners: Vec<Listener> = (0..100).map(|_| shutdown.listen()).collect();
        for listener in &mut listeners {
            assert!(listener.poll_triggered(&mut cx).is_pending());
        }
        // Churn: half go, as many come; the list does not grow.
        listeners.truncate(50);
        for _ in 0..50 {
            let mut listener = shutdown.listen();
            assert!(listener.poll_triggered(&mut cx).is_pending());
            listeners.push(listener);
        }
        assert_eq!(shutdown.inner.wakers().len(), 100);
        assert_eq!(shutdown.open_streams(), 100);

        shutdown.trigger();
        assert_eq!(counter.0.load(Ordering::Relaxed), 100);
        for listener in &mut listeners {
            assert_eq!(listener.poll_triggered(&mut cx), Poll::Ready(None));
        }
        drop(listeners);
        assert_eq!(shutdown.open_streams(), 0);
        // A listener that comes after the trigger is ended at once.
        assert!(shutdown.listen().poll_triggered(&mut cx).is_ready());
    }

    #[test]
    fn a_farewell_event_comes_before_the_retry_hint() {
        let farewell = Farewell::new()
            .event(Event::default().data("bye"))
            .retry(Duration::from_millis(5));
        assert_eq!(farewell.frame(0).unwrap(), "data: bye\n\nretry: 5\n\n");
    }
}
