use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::disconnect::{self, Disconnect, DisconnectReason, Notifier};
use crate::shutdown::{Listener, Shutdown};
use crate::{Encoded, Event};

/// How long a stream may stay silent before a heartbeat is sent: 15 s, well
/// inside the idle timeouts of common proxies and load balancers (nginx's
/// `proxy_read_timeout` and AWS ALB's idle timeout both default to 60 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The most bytes that coalescing puts in one frame.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// The heartbeat: a comment block, which every client ignores.
const HEARTBEAT: &[u8] = b":\n\n";

type BoxError = Box<dyn Error + Send + Sync>;

/// An item of an event stream: something that becomes one encoded event.
///
/// Implemented for [`Event`], for [`Encoded`] (events encoded once and shared
/// between streams), and for `Result`s of either, so that an application's
/// stream may fail. An error ends the response cleanly and is reported as
/// [`DisconnectReason::Error`].
pub trait IntoEvent {
    /// Encodes the item.
    ///
    /// # Errors
    ///
    /// The error the item carried.
    fn into_encoded(self) -> Result<Encoded, BoxError>;
}

impl IntoEvent for Event {
    fn into_encoded(self) -> Result<Encoded, BoxError> {
        Ok(self.encode())
    }
}

impl IntoEvent for Encoded {
    fn into_encoded(self) -> Result<Encoded, BoxError> {
        Ok(self)
    }
}

impl<T: IntoEvent, E: Into<BoxError>> IntoEvent for Result<T, E> {
    fn into_encoded(self) -> Result<Encoded, BoxError> {
        self.map_err(Into::into)?.into_encoded()
    }
}

pin_project! {
    /// The stream machine: turns an application's stream of events into the
    /// byte frames of a response body.
    ///
    /// It owns what every adapter must do the same way:
    ///
    /// - **Heartbeats**: after [`heartbeat`](Self::heartbeat) of silence
    ///   (counted from the stream's creation, then from the last frame), a
    ///   comment block `:\n\n` keeps proxies from timing the connection out.
    ///   One timer per stream, re-armed only when it fires, never per event.
    ///   A heartbeat always falls between events, since frames hold whole
    ///   events.
    /// - **Coalescing**: events that are ready together leave as one frame,
    ///   up to [`max_frame`](Self::max_frame) bytes, so the server makes
    ///   fewer, larger writes. Nothing ever waits for more events: a frame
    ///   goes out as soon as the source has nothing more ready.
    /// - **Disconnect**: [`disconnect`](Self::disconnect) returns a handle
    ///   that resolves once, with the reason the stream is over.
    /// - **Shutdown**: [`with_shutdown`](Self::with_shutdown) ties the stream
    ///   to a [`Shutdown`] handle that ends it cleanly.
    ///
    /// It yields `Bytes` and never fails: when the application's stream
    /// yields an error, the body ends cleanly and the error goes to the
    /// disconnect notification (and to `tracing`).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use futures_util::{stream, StreamExt};
    /// use ssekit::{Event, SseStream};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let events = stream::iter(["a", "b"]).map(|s| Ok::<_, Infallible>(Event::default().data(s)));
    /// let mut body = SseStream::new(events);
    /// let disconnect = body.disconnect();
    ///
    /// // Both events were ready, so they leave as one frame.
    /// assert_eq!(body.next().await.unwrap(), "data: a\n\ndata: b\n\n");
    /// assert_eq!(body.next().await, None);
    /// assert_eq!(disconnect.reason().unwrap().as_str(), "stream_ended");
    /// # });
    /// ```
    pub struct SseStream<S> {
        #[pin]
        events: S,
        // The source ended, failed or was shut down: it is never polled again.
        source_done: bool,
        // A frame ready to go out before anything else: the opening `retry:`
        // hint, or an event that did not fit in the previous frame.
        pending: Option<Bytes>,
        max_frame: usize,
        heartbeat: Heartbeat,
        shutdown: Option<Listener>,
        notifier: Option<Notifier>,
    }
}

impl<S> SseStream<S>
where
    S: Stream,
    S::Item: IntoEvent,
{
    /// Wraps a stream of events, with a heartbeat every
    /// [`DEFAULT_HEARTBEAT`] of silence and frames of at most
    /// [`DEFAULT_MAX_FRAME`] bytes.
    pub fn new(events: S) -> Self {
        Self {
            events,
            source_done: false,
            pending: None,
            max_frame: DEFAULT_MAX_FRAME,
            heartbeat: Heartbeat::new(Some(DEFAULT_HEARTBEAT)),
            shutdown: None,
            notifier: None,
        }
    }
}

impl<S> SseStream<S> {
    /// Sets the heartbeat interval; `None` turns heartbeats off.
    ///
    /// Heartbeats need the `tokio` feature (on by default) and a tokio
    /// runtime; without them the stream sends none.
    #[must_use]
    pub fn heartbeat(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.heartbeat = Heartbeat::new(interval.into());
        self
    }

    /// Sets the most bytes that coalescing puts in one frame. An event
    /// larger than this still goes out, alone, in one frame.
    #[must_use]
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Starts the stream with a `retry:` hint: how long the browser waits
    /// before it reconnects.
    #[must_use]
    pub fn retry(mut self, retry: Duration) -> Self {
        let hint = Event::default().retry(retry).encode().into_bytes();
        self.pending = Some(match self.pending.take() {
            Some(pending) => concat(&pending, &hint),
            None => hint,
        });
        self
    }

    /// Ends the stream cleanly when `shutdown` is triggered, after its
    /// farewell.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: &Shutdown) -> Self {
        self.shutdown = Some(shutdown.listen());
        self
    }

    /// A handle that learns when the stream is over, and why.
    ///
    /// Every call returns a handle to the same notification.
    pub fn disconnect(&mut self) -> Disconnect {
        match &self.notifier {
            Some(notifier) => notifier.disconnect(),
            None => {
                let (notifier, disconnect) = disconnect::pair();
                self.notifier = Some(notifier);
                disconnect
            }
        }
    }

    /// Reports to `notifier` (one that a layer or adapter made earlier,
    /// typically when it put the matching [`Disconnect`] in the request's
    /// extensions) instead of a notifier of the stream's own.
    ///
    /// Call it before [`disconnect`](Self::disconnect): a notifier it
    /// replaces is dropped, which tells its handles the client is gone.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }
}

impl<S> Stream for SseStream<S>
where
    S: Stream,
    S::Item: IntoEvent,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();

        if !*this.source_done
            && let Some(shutdown) = this.shutdown.as_mut()
            && let Poll::Ready(farewell) = shutdown.poll_triggered(cx)
        {
            *this.source_done = true;
            *this.pending = None;
            notify(this.notifier, DisconnectReason::Shutdown);
            return match farewell {
                Some(frame) => Poll::Ready(Some(frame)),
                None => Poll::Ready(None),
            };
        }

        let mut frame = Frame::new(this.pending.take());
        while !*this.source_done && frame.len() < *this.max_frame {
            match this.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match item.into_encoded() {
                    Ok(event) => {
                        if let Some(overflow) = frame.push(event.into_bytes(), *this.max_frame) {
                            *this.pending = Some(overflow);
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "the event stream failed; ending the response");
                        *this.source_done = true;
                        notify(this.notifier, DisconnectReason::Error(Arc::from(err)));
                    }
                },
                Poll::Ready(None) => {
                    *this.source_done = true;
                    notify(this.notifier, DisconnectReason::StreamEnded);
                }
                Poll::Pending => break,
            }
        }

        if let Some(frame) = frame.finish() {
            this.heartbeat.sent();
            return Poll::Ready(Some(frame));
        }
        if *this.source_done {
            return Poll::Ready(None);
        }
        if this.heartbeat.poll_due(cx).is_ready() {
            return Poll::Ready(Some(Bytes::from_static(HEARTBEAT)));
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.source_done && self.pending.is_none() {
            (0, Some(1))
        } else {
            (0, None)
        }
    }
}

impl<S> fmt::Debug for SseStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("source_done", &self.source_done)
            .field("max_frame", &self.max_frame)
            .field("heartbeat", &self.heartbeat.interval())
            .field("shutdown", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

fn notify(notifier: &mut Option<Notifier>, reason: DisconnectReason) {
    if let Some(mut notifier) = notifier.take() {
        notifier.notify(reason);
    }
}

fn concat(a: &[u8], b: &[u8]) -> Bytes {
    let mut joined = BytesMut::with_capacity(a.len() + b.len());
    joined.extend_from_slice(a);
    joined.extend_from_slice(b);
    joined.freeze()
}

/// The frame being gathered. A lone event is passed on as it is, sharing
/// its bytes; only a second event makes a buffer to copy them into.
enum Frame {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Frame {
    fn new(first: Option<Bytes>) -> Self {
        first.map_or(Self::Empty, Self::One)
    }

    fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(bytes) => bytes.len(),
            Self::Many(buf) => buf.len(),
        }
    }

    /// Adds `event`, or hands it back when it would take the frame past
    /// `max`.
    fn push(&mut self, event: Bytes, max: usize) -> Option<Bytes> {
        match self {
            Self::Empty => *self = Self::One(event),
            _ if self.len() + event.len() > max => return Some(event),
            Self::One(first) => {
                let mut buf = BytesMut::with_capacity(max.min(2 * (first.len() + event.len())));
                buf.extend_from_slice(first);
                buf.extend_from_slice(&event);
                *self = Self::Many(buf);
            }
            Self::Many(buf) => buf.extend_from_slice(&event),
        }
        None
    }

    fn finish(self) -> Option<Bytes> {
        match self {
            Self::Empty => None,
            Self::One(bytes) => Some(bytes),
            Self::Many(buf) => Some(buf.freeze()),
        }
    }
}

#[cfg(feature = "tokio")]
struct Heartbeat {
    interval: Option<Duration>,
    last_sent: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

#[cfg(feature = "tokio")]
impl Heartbeat {
    fn new(interval: Option<Duration>) -> Self {
        Self {
            interval,
            last_sent: tokio::time::Instant::now(),
            timer: None,
        }
    }

    fn interval(&self) -> Option<Duration> {
        self.interval
    }

    fn sent(&mut self) {
        if self.interval.is_some() {
            self.last_sent = tokio::time::Instant::now();
        }
    }

    /// Ready when a heartbeat is due, which also counts as sending one.
    ///
    /// The timer is re-armed only when it fires: if something was sent since
    /// it was armed, it is moved to one interval after that instead of being
    /// reset on every frame.
    fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        use std::future::Future as _;

        let Some(interval) = self.interval else {
            return Poll::Pending;
        };
        let timer = match &mut self.timer {
            Some(timer) => timer,
            None => {
                // Polled outside a tokio runtime (an unusual executor), a
                // timer would panic; such a stream goes without heartbeats.
                if tokio::runtime::Handle::try_current().is_err() {
                    tracing::warn!("no tokio runtime: SSE heartbeats are off for this stream");
                    self.interval = None;
                    return Poll::Pending;
                }
                self.timer.insert(Box::pin(tokio::time::sleep_until(
                    self.last_sent + interval,
                )))
            }
        };
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = self.last_sent + interval;
            if due <= timer.deadline() {
                let now = tokio::time::Instant::now();
                self.last_sent = now;
                timer.as_mut().reset(now + interval);
                return Poll::Ready(());
            }
            timer.as_mut().reset(due);
        }
    }
}

#[cfg(not(feature = "tokio"))]
struct Heartbeat;

#[cfg(not(feature = "tokio"))]
#[expect(
    clippy::unused_self,
    reason = "the same methods as the tokio heartbeat, so the machine reads the same either way"
)]
impl Heartbeat {
    fn new(interval: Option<Duration>) -> Self {
        if interval.is_some() {
            tracing::debug!("the `tokio` feature is off: SSE heartbeats are off");
        }
        Self
    }

    fn interval(&self) -> Option<Duration> {
        None
    }

    fn sent(&mut self) {}

    fn poll_due(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}
