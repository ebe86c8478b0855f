use std::error::Error;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::disconnect::{self, Disconnect, DisconnectReason, Lifecycle, Notifier};
use crate::heartbeat::{HEARTBEAT, Heartbeat};
use crate::shutdown::{Listener, Shutdown};
use crate::stats::Stats;
use crate::{Encoded, Event};

/// How long a stream may stay silent before a heartbeat is sent: 15 s, well
/// inside the idle timeouts of common proxies and load balancers (nginx's
/// `proxy_read_timeout` and AWS ALB's idle timeout both default to 60 s).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// The most bytes that coalescing puts in one frame.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

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

    /// Appends the encoded item to `frame`, a buffer that already holds
    /// other events, unless that would take it past `limit` bytes: then the
    /// item is handed back, encoded, to start the next frame.
    ///
    /// The stream machine gathers events that are ready together this way.
    /// The default copies the bytes of [`into_encoded`](Self::into_encoded);
    /// an [`Event`] writes its fields and data straight into the frame, so a
    /// run of events costs no buffer of its own per event.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use ssekit::{Event, IntoEvent};
    ///
    /// let mut frame = BytesMut::from(&b"data: a\n\n"[..]);
    /// assert!(Event::default().data("b").append_to(&mut frame, 64)?.is_none());
    /// assert_eq!(&frame[..], b"data: a\n\ndata: b\n\n");
    ///
    /// // Too big for what is left: handed back for the next frame.
    /// let next = Event::default().data("c").append_to(&mut frame, 20)?.unwrap();
    /// assert_eq!(&next[..], b"data: c\n\n");
    /// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The error the item carried; `frame` is left as it was.
    ///
    /// The stream machine holds an implementation to this: what it leaves
    /// in `frame` on an error, a hand-back or a panic is cut off again, and
    /// an item that takes the frame past `limit` is moved to the next frame.
    fn append_to(self, frame: &mut BytesMut, limit: usize) -> Result<Option<Encoded>, BoxError>
    where
        Self: Sized,
    {
        let encoded = self.into_encoded()?;
        if frame.len() + encoded.len() > limit {
            return Ok(Some(encoded));
        }
        frame.extend_from_slice(&encoded);
        Ok(None)
    }
}

impl IntoEvent for Event {
    fn into_encoded(self) -> Result<Encoded, BoxError> {
        Ok(self.encode())
    }

    #[inline]
    fn append_to(self, frame: &mut BytesMut, limit: usize) -> Result<Option<Encoded>, BoxError> {
        if frame.len() + self.encoded_len() > limit {
            return Ok(Some(self.encode()));
        }
        self.encode_into(frame);
        Ok(None)
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

    #[inline]
    fn append_to(self, frame: &mut BytesMut, limit: usize) -> Result<Option<Encoded>, BoxError> {
        self.map_err(Into::into)?.append_to(frame, limit)
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
    ///   No timer per stream: the streams of a runtime share one clock per
    ///   interval, and a heartbeat is at most an eighth of it late.
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
    /// yields an error, or panics (in the stream or in an item's
    /// [`IntoEvent`]), the body ends cleanly after the whole events before
    /// it, and the error (or the panic's message) goes to the disconnect
    /// notification (and to `tracing`). Once it has ended it
    /// never polls the application's stream again.
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
        machine: Machine,
    }
}

/// Everything but the source: none of it is pinned.
struct Machine {
    // The source ended, failed or was shut down: it is never polled again.
    source_done: bool,
    // A frame ready to go out before anything else (the opening `retry:`
    // hint, or an event that did not fit in the previous frame), and how
    // many events it holds. Boxed: it is rare (once per full frame), and
    // inline it would be 32 bytes more in every idle connection.
    pending: Option<Box<(Bytes, u64)>>,
    // 32 bits, beside the flags: a frame is never near 4 GiB, and every
    // idle connection holds this.
    max_frame: u32,
    heartbeat: Heartbeat,
    // Set by `heartbeat()`: a layer's interval does not override it.
    heartbeat_chosen: bool,
    shutdown: Option<Listener>,
    lifecycle: Lifecycle,
    handoff: Option<Handoff>,
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
            machine: Machine {
                source_done: false,
                pending: None,
                max_frame: u32::try_from(DEFAULT_MAX_FRAME).unwrap_or(u32::MAX),
                heartbeat: Heartbeat::new(Some(DEFAULT_HEARTBEAT)),
                heartbeat_chosen: false,
                shutdown: None,
                lifecycle: Lifecycle::default(),
                handoff: None,
            },
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
        self.machine.heartbeat = Heartbeat::new(interval.into());
        self.machine.heartbeat_chosen = true;
        self
    }

    /// Sets the most bytes that coalescing puts in one frame (up to 4 GiB).
    /// An event larger than this still goes out, alone, in one frame.
    #[must_use]
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.machine.max_frame = u32::try_from(bytes).unwrap_or(u32::MAX);
        self
    }

    /// Starts the stream with a `retry:` hint: how long the browser waits
    /// before it reconnects.
    #[must_use]
    pub fn retry(mut self, retry: Duration) -> Self {
        let hint = Event::default().retry(retry).encode().into_bytes();
        self.machine.pending = Some(Box::new(match self.machine.pending.take() {
            Some(pending) => (concat(&pending.0, &hint), pending.1),
            None => (hint, 0),
        }));
        self
    }

    /// Ends the stream cleanly when `shutdown` is triggered, after its
    /// farewell.
    #[must_use]
    pub fn with_shutdown(mut self, shutdown: &Shutdown) -> Self {
        self.machine.shutdown = Some(shutdown.listen());
        self
    }

    /// Reports the stream's events, bytes, heartbeats and end to `stats`.
    #[must_use]
    pub fn with_stats(mut self, stats: &Arc<Stats>) -> Self {
        self.machine.lifecycle.report_to(stats);
        self
    }

    /// A handle that learns when the stream is over, and why.
    ///
    /// Every call returns a handle to the same notification.
    pub fn disconnect(&mut self) -> Disconnect {
        if let Some(disconnect) = self.machine.lifecycle.disconnect() {
            return disconnect;
        }
        let (notifier, disconnect) = disconnect::pair();
        self.machine.lifecycle.notify_to(notifier);
        disconnect
    }

    /// Also reports the end of the stream to `notifier`: one that a layer or
    /// adapter made earlier, when it gave the matching [`Disconnect`] to the
    /// request's handler.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.machine.lifecycle.notify_to(notifier);
        self
    }

    /// Takes on `duties` now: typically an [`SseConfig`](crate::SseConfig)'s,
    /// from an adapter that holds the stream. A heartbeat chosen with
    /// [`heartbeat`](Self::heartbeat) and a shutdown handle already given
    /// are kept.
    #[must_use]
    pub fn with_duties(mut self, duties: Duties) -> Self {
        self.machine.apply(duties);
        self
    }

    /// A slot through which a layer that sees the response, but cannot
    /// reach this stream inside its body, hands over its [`Duties`] before
    /// the first poll. Adapters put it in the response's extensions; the
    /// tower layer takes it from there, so a stream is never wrapped twice.
    pub fn handoff(&mut self) -> Handoff {
        self.machine
            .handoff
            .get_or_insert_with(|| Handoff(Arc::new(Mutex::new(None))))
            .clone()
    }
}

impl Machine {
    fn max_frame(&self) -> usize {
        usize::try_from(self.max_frame).unwrap_or(usize::MAX)
    }

    /// Takes on what a layer handed over, once, before the first frame.
    fn take_duties(&mut self) {
        if let Some(duties) = self.handoff.take().and_then(|handoff| handoff.take()) {
            self.apply(duties);
        }
    }

    fn apply(&mut self, duties: Duties) {
        if let Some(interval) = duties.heartbeat
            && !self.heartbeat_chosen
        {
            self.heartbeat = self.heartbeat.with_interval(interval);
        }
        if let Some(shutdown) = duties.shutdown
            && self.shutdown.is_none()
        {
            self.shutdown = Some(shutdown.listen());
        }
        if let Some(notifier) = duties.notifier {
            self.lifecycle.notify_to(notifier);
        }
        if let Some(stats) = duties.stats {
            self.lifecycle.report_to(&stats);
        }
        if let Some(span) = duties.span {
            self.lifecycle.in_span(span);
        }
    }
}

/// What a layer hands to a stream that an adapter made: see
/// [`SseStream::handoff`].
///
/// ```
/// use std::time::Duration;
/// use futures_util::{StreamExt, stream};
/// use ssekit::{Duties, Event, SseStream};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// // The adapter builds the body and keeps a handoff in the response.
/// let mut body = SseStream::new(stream::iter([Event::default().data("x")]));
/// let handoff = body.handoff();
///
/// // The layer, seeing the response, hands its duties over.
/// let (notifier, disconnect) = ssekit::disconnect::pair();
/// handoff.hand_over(Duties::new().heartbeat(Some(Duration::from_secs(30))).notifier(Some(notifier)));
///
/// // The stream takes them at its first poll.
/// let _: Vec<_> = body.collect().await;
/// assert_eq!(disconnect.reason().unwrap().as_str(), "stream_ended");
/// # });
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Duties {
    /// The layer's heartbeat interval (`Some(None)`: off). It applies unless
    /// the stream chose its own with [`SseStream::heartbeat`].
    pub heartbeat: Option<Option<Duration>>,
    /// The layer's shutdown handle, unless the stream has one already.
    pub shutdown: Option<Shutdown>,
    /// A notifier to fire, besides the stream's own, when it is over.
    pub notifier: Option<Notifier>,
    /// The stats to report to.
    pub stats: Option<Arc<Stats>>,
    /// The span to log the stream's end in.
    pub span: Option<tracing::Span>,
}

impl Duties {
    /// No duties yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the heartbeat interval (`None`: off).
    #[must_use]
    pub fn heartbeat(mut self, interval: Option<Duration>) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// Sets the shutdown handle.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Sets the notifier.
    #[must_use]
    pub fn notifier(mut self, notifier: Option<Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Sets the stats.
    #[must_use]
    pub fn stats(mut self, stats: Arc<Stats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Sets the span.
    #[must_use]
    pub fn span(mut self, span: tracing::Span) -> Self {
        self.span = Some(span);
        self
    }
}

/// The slot between a layer and an [`SseStream`] it cannot reach: see
/// [`SseStream::handoff`] and the example on [`Duties`]. Cloning shares the
/// slot.
#[derive(Debug, Clone)]
pub struct Handoff(Arc<Mutex<Option<Duties>>>);

impl Handoff {
    /// Hands `duties` to the stream, which takes them at its first poll.
    /// A second hand-over replaces the first if the stream has not started.
    pub fn hand_over(&self, duties: Duties) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(duties);
    }

    fn take(&self) -> Option<Duties> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<S> Stream for SseStream<S>
where
    S: Stream,
    S::Item: IntoEvent,
{
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.project();
        let mut events = this.events;
        let machine = this.machine;
        if machine.handoff.is_some() {
            machine.take_duties();
        }

        if !machine.source_done
            && let Some(shutdown) = machine.shutdown.as_mut()
            && let Poll::Ready(farewell) = shutdown.poll_triggered(cx)
        {
            machine.source_done = true;
            machine.pending = None;
            if let (Some(stats), Some(frame)) = (machine.lifecycle.stats(), &farewell) {
                stats.sent(0, frame.len());
            }
            machine.lifecycle.end(DisconnectReason::Shutdown);
            return Poll::Ready(farewell);
        }

        let mut frame = Frame::new(machine.pending.take().map(|pending| *pending));
        let max_frame = machine.max_frame();
        while !machine.source_done && frame.len() < max_frame {
            // A panic in the application's stream, or in its item's encoding,
            // would unwind through the server's connection task: the response
            // would be cut off with no proper end, every other stream
            // multiplexed on that connection (HTTP/2) would go with it, and the
            // disconnect would be reported as the client's doing. Caught here,
            // it ends this response cleanly and is reported as the error it
            // is; what the item wrote of itself is cut off, and the source,
            // whose state the panic may have broken, is never polled again.
            //
            // The item is appended inside the same closure, where the source's
            // `poll_next` returns it: carried out of `catch_unwind` first, an
            // event (128 bytes) is copied twice more whenever the compiler
            // leaves that `poll_next` out of line (docs/BENCHMARKS.md, item 18).
            let before = frame.len();
            let step = catch_unwind(AssertUnwindSafe(|| match events.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match frame.append(item, max_frame) {
                    Ok(None) => Step::Appended,
                    Ok(Some(overflow)) => Step::Overflow(overflow),
                    Err(err) => Step::Failed(err),
                },
                Poll::Ready(None) => Step::Ended,
                Poll::Pending => Step::Pending,
            }));
            match step {
                Ok(Step::Appended) => {}
                Ok(Step::Overflow(overflow)) => {
                    machine.pending = Some(Box::new((overflow, 1)));
                    break;
                }
                Ok(Step::Failed(err)) => {
                    tracing::warn!(error = %err, "the event stream failed; ending the response");
                    machine.source_done = true;
                    machine
                        .lifecycle
                        .end(DisconnectReason::Error(Arc::from(err)));
                }
                Ok(Step::Ended) => {
                    machine.source_done = true;
                    machine.lifecycle.end(DisconnectReason::StreamEnded);
                }
                Ok(Step::Pending) => break,
                Err(payload) => {
                    frame.truncate(before);
                    let err = Panicked::from_payload(payload.as_ref());
                    tracing::error!(error = %err, "the event stream panicked; ending the response");
                    machine.source_done = true;
                    machine
                        .lifecycle
                        .end(DisconnectReason::Error(Arc::new(err)));
                    break;
                }
            }
        }

        let events = frame.events;
        if let Some(frame) = frame.finish() {
            machine.heartbeat.sent();
            if let Some(stats) = machine.lifecycle.stats() {
                stats.sent(events, frame.len());
            }
            return Poll::Ready(Some(frame));
        }
        if machine.source_done {
            return Poll::Ready(None);
        }
        if machine.heartbeat.poll_due(cx).is_ready() {
            if let Some(stats) = machine.lifecycle.stats() {
                stats.heartbeat(HEARTBEAT.len());
            }
            return Poll::Ready(Some(Bytes::from_static(HEARTBEAT)));
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.machine.source_done && self.machine.pending.is_none() {
            (0, Some(1))
        } else {
            (0, None)
        }
    }
}

impl<S> fmt::Debug for SseStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("source_done", &self.machine.source_done)
            .field("max_frame", &self.machine.max_frame)
            .field("heartbeat", &self.machine.heartbeat.interval())
            .field("shutdown", &self.machine.shutdown.is_some())
            .finish_non_exhaustive()
    }
}

/// The error a stream's end is reported with when the application's
/// stream panicked: [`DisconnectReason::Error`] holds it, with the panic's
/// message.
#[derive(Debug)]
struct Panicked(String);

impl Panicked {
    fn from_payload(payload: &(dyn std::any::Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_owned());
        Self(message)
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the event stream panicked: {}", self.0)
    }
}

impl Error for Panicked {}

pub(crate) fn concat(a: &[u8], b: &[u8]) -> Bytes {
    let mut joined = BytesMut::with_capacity(a.len() + b.len());
    joined.extend_from_slice(a);
    joined.extend_from_slice(b);
    joined.freeze()
}

/// What one poll of the application's stream came to, once its item (if
/// any) was appended.
enum Step {
    Appended,
    Overflow(Bytes),
    Failed(BoxError),
    Ended,
    Pending,
}

/// What a frame's buffer starts at once it holds two events.
const FIRST_GROWTH: usize = 16 * 1024;

/// The frame being gathered. A lone event is passed on as it is, sharing
/// its bytes; only a second event makes a buffer to copy them into.
pub(crate) struct Frame {
    bytes: FrameBytes,
    pub(crate) events: u64,
}

enum FrameBytes {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Frame {
    pub(crate) fn new(first: Option<(Bytes, u64)>) -> Self {
        match first {
            Some((bytes, events)) => Self {
                bytes: FrameBytes::One(bytes),
                events,
            },
            None => Self {
                bytes: FrameBytes::Empty,
                events: 0,
            },
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.bytes {
            FrameBytes::Empty => 0,
            FrameBytes::One(bytes) => bytes.len(),
            FrameBytes::Many(buf) => buf.len(),
        }
    }

    /// Adds `event`, or hands it back when it would take the frame past
    /// `max`.
    pub(crate) fn push(&mut self, event: Bytes, max: usize) -> Option<Bytes> {
        let len = self.len();
        match &mut self.bytes {
            FrameBytes::Empty => self.bytes = FrameBytes::One(event),
            _ if len + event.len() > max => return Some(event),
            FrameBytes::One(first) => {
                // Room for a run of small events before the buffer regrows:
                // doubling from two events' size regrew a 64 KiB frame six
                // or seven times (22% of the server's time on `/stream`).
                let room = (first.len() + event.len()).max(FIRST_GROWTH);
                let mut buf = BytesMut::with_capacity(max.min(room));
                buf.extend_from_slice(first);
                buf.extend_from_slice(&event);
                self.bytes = FrameBytes::Many(buf);
            }
            FrameBytes::Many(buf) => buf.extend_from_slice(&event),
        }
        self.events += 1;
        None
    }

    /// Adds an application's `item`, or hands it back, encoded, when it
    /// would take the frame past `max`. Once the frame has a buffer, the
    /// item writes itself into it ([`IntoEvent::append_to`]).
    #[inline]
    fn append<E: IntoEvent>(&mut self, item: E, max: usize) -> Result<Option<Bytes>, BoxError> {
        let FrameBytes::Many(buf) = &mut self.bytes else {
            return Ok(self.push(item.into_encoded()?.into_bytes(), max));
        };
        // `append_to` may be the application's own: the frame's limit and
        // whole events are kept here, whatever it does.
        let before = buf.len();
        match item.append_to(buf, max) {
            Ok(None) if buf.len() > max => Ok(Some(buf.split_off(before).freeze())),
            Ok(None) => {
                self.events += 1;
                Ok(None)
            }
            Ok(Some(overflow)) => {
                buf.truncate(before);
                Ok(Some(overflow.into_bytes()))
            }
            Err(err) => {
                buf.truncate(before);
                Err(err)
            }
        }
    }

    /// Appends events already known to fit, copied into a buffer sized
    /// once for `total`, the frame's length after them.
    pub(crate) fn extend_exact<'a>(
        &mut self,
        total: usize,
        events: impl Iterator<Item = &'a [u8]>,
    ) {
        let mut buf = match std::mem::replace(&mut self.bytes, FrameBytes::Empty) {
            FrameBytes::Empty => BytesMut::with_capacity(total),
            FrameBytes::One(first) => {
                let mut buf = BytesMut::with_capacity(total.max(first.len()));
                buf.extend_from_slice(&first);
                buf
            }
            FrameBytes::Many(mut buf) => {
                buf.reserve(total.saturating_sub(buf.len()));
                buf
            }
        };
        for event in events {
            buf.extend_from_slice(event);
            self.events += 1;
        }
        self.bytes = FrameBytes::Many(buf);
    }

    /// Cuts the frame back to `len` bytes, dropping what a panicking
    /// item left of itself.
    fn truncate(&mut self, len: usize) {
        if let FrameBytes::Many(buf) = &mut self.bytes {
            buf.truncate(len);
        }
    }

    pub(crate) fn finish(self) -> Option<Bytes> {
        match self.bytes {
            FrameBytes::Empty => None,
            FrameBytes::One(bytes) => Some(bytes),
            FrameBytes::Many(buf) => Some(buf.freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, stream};

    use super::*;

    /// Every idle connection holds one of these, so its size is memory per
    /// connection (docs/BENCHMARKS.md, item 11): what only some streams
    /// need is boxed, and this keeps it that way.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_idle_hub_subscriber_stays_small() {
        assert!(size_of::<Machine>() <= 144);
        assert!(size_of::<crate::hub::Subscription>() <= 56);
        assert!(size_of::<SseStream<crate::hub::Subscription>>() <= 200);
    }

    #[tokio::test]
    async fn a_panicking_source_ends_the_stream_cleanly_as_an_error() {
        let events = stream::iter(0..3).map(|n| {
            assert!(n < 2, "source broke at {n}");
            Event::default().data(n.to_string())
        });
        let mut body = SseStream::new(events).heartbeat(None);
        let disconnect = body.disconnect();

        // What was ready before the panic still goes out, then the end.
        assert_eq!(body.next().await.unwrap(), "data: 0\n\ndata: 1\n\n");
        assert_eq!(body.next().await, None);
        assert_eq!(body.next().await, None);
        let reason = disconnect.reason().unwrap();
        assert_eq!(reason.as_str(), "error");
        assert_eq!(
            reason.to_string(),
            "the event stream failed: the event stream panicked: source broke at 2"
        );
    }

    /// An item whose `append_to` ignores the limit, or fails halfway.
    struct Careless(&'static str, bool);

    impl IntoEvent for Careless {
        fn into_encoded(self) -> Result<Encoded, BoxError> {
            Ok(Event::default().data(self.0).encode())
        }

        fn append_to(self, frame: &mut BytesMut, _: usize) -> Result<Option<Encoded>, BoxError> {
            frame.extend_from_slice(&Event::default().data(self.0).encode());
            if self.1 {
                return Err("failed after writing".into());
            }
            Ok(None)
        }
    }

    #[tokio::test]
    async fn the_machine_keeps_the_frame_limit_and_whole_events_whatever_append_to_does() {
        let sixty = "x".repeat(52).leak();
        let items = [
            Careless(sixty, false),
            Careless(sixty, false),
            Careless(sixty, false),
        ];
        let mut body = SseStream::new(stream::iter(items))
            .heartbeat(None)
            .max_frame(130);
        let frames: Vec<Bytes> = body.by_ref().collect().await;
        // 60 bytes each: two fit in 130, the third goes to the next frame.
        assert_eq!(frames.iter().map(Bytes::len).collect::<Vec<_>>(), [120, 60]);

        let items = [
            Careless("a", false),
            Careless("b", false),
            Careless("c", true),
        ];
        let mut body = SseStream::new(stream::iter(items)).heartbeat(None);
        let disconnect = body.disconnect();
        let frames: Vec<Bytes> = body.collect().await;
        assert_eq!(frames, ["data: a\n\ndata: b\n\n"]);
        assert_eq!(disconnect.reason().unwrap().as_str(), "error");
    }

    /// An item whose encoding panics: in `append_to` after writing part of
    /// itself, or in `into_encoded`, which a frame's first event takes.
    enum Panicky {
        Fine(&'static str),
        MidAppend,
        InEncoding,
    }

    impl IntoEvent for Panicky {
        fn into_encoded(self) -> Result<Encoded, BoxError> {
            match self {
                Self::Fine(data) => Ok(Event::default().data(data).encode()),
                Self::MidAppend | Self::InEncoding => panic!("encoding broke"),
            }
        }

        fn append_to(
            self,
            frame: &mut BytesMut,
            limit: usize,
        ) -> Result<Option<Encoded>, BoxError> {
            if let Self::MidAppend = self {
                frame.extend_from_slice(b"data: half");
                panic!("encoding broke halfway");
            }
            let encoded = self.into_encoded()?;
            if frame.len() + encoded.len() > limit {
                return Ok(Some(encoded));
            }
            frame.extend_from_slice(&encoded);
            Ok(None)
        }
    }

    #[tokio::test]
    async fn a_panicking_item_ends_the_stream_cleanly_after_the_whole_events() {
        let items = [Panicky::Fine("a"), Panicky::Fine("b"), Panicky::MidAppend];
        let mut body = SseStream::new(stream::iter(items)).heartbeat(None);
        let disconnect = body.disconnect();
        let frames: Vec<Bytes> = body.by_ref().collect().await;
        assert_eq!(
            frames,
            ["data: a\n\ndata: b\n\n"],
            "nothing of the half event"
        );
        let reason = disconnect.reason().unwrap();
        assert_eq!(reason.as_str(), "error");
        assert!(
            reason
                .to_string()
                .ends_with("panicked: encoding broke halfway")
        );

        // The first event of a frame is encoded on its own.
        let items = [Panicky::InEncoding, Panicky::Fine("never")];
        ends_at_once_with_a_panic(stream::iter(items), "encoding broke").await;
    }

    #[tokio::test]
    async fn a_panic_with_a_non_string_payload_is_reported_too() {
        let events = stream::poll_fn(|_| -> Poll<Option<Event>> { std::panic::panic_any(7_u8) });
        ends_at_once_with_a_panic(events, "a non-string payload").await;
    }

    /// Polls a stream whose first item panics: it ends with no frame, and
    /// its disconnect says why.
    async fn ends_at_once_with_a_panic<S>(events: S, message: &str)
    where
        S: Stream + Unpin,
        S::Item: IntoEvent,
    {
        let mut body = SseStream::new(events).heartbeat(None);
        let disconnect = body.disconnect();
        assert_eq!(body.next().await, None);
        let reason = disconnect.reason().unwrap().to_string();
        assert!(
            reason.ends_with(&format!("panicked: {message}")),
            "{reason}"
        );
    }
}
