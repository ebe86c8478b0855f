use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use ssekit::disconnect::{DisconnectReason, Lifecycle, Notifier};
use ssekit::framing::Boundaries;
use ssekit::heartbeat::{HEARTBEAT, Heartbeat};
use ssekit::shutdown::Listener;
use tokio::time::Sleep;

use crate::layer::Config;

pin_project! {
    /// The response body of [`SseService`](crate::SseService).
    ///
    /// Every other response's body, and an event stream that an ssekit
    /// adapter made, pass through as they are. An event stream that
    /// something else made gets heartbeats, shutdown and disconnect
    /// detection, placed only between its events.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Plain {
            #[pin]
            inner: B,
            ended: bool,
            notifier: Option<Notifier>,
        },
        Foreign {
            #[pin]
            inner: B,
            // Boxed: it is large, and only event streams pay for it.
            duties: Box<ForeignDuties>,
        },
    }
}

/// What the layer does for an event stream it did not make.
struct ForeignDuties {
    ended: bool,
    boundaries: Boundaries,
    heartbeat: Heartbeat,
    shutdown: Listener,
    shutdown_grace: std::time::Duration,
    /// Shutdown came while the body was inside an event: the farewell to
    /// send at the next boundary, and the end of the grace to wait for it.
    closing: Option<(Option<Bytes>, Pin<Box<Sleep>>)>,
    lifecycle: Lifecycle,
}

impl<B> ResponseBody<B> {
    pub(crate) fn plain(inner: B, mut notifier: Option<Notifier>) -> Self
    where
        B: Body,
    {
        // A server does not poll a body that says it is complete, so its
        // end must be reported before the server drops it.
        if inner.is_end_stream() {
            ended(&mut notifier);
        }
        Self {
            kind: Kind::Plain {
                inner,
                ended: false,
                notifier,
            },
        }
    }

    pub(crate) fn foreign(
        inner: B,
        notifier: Option<Notifier>,
        span: tracing::Span,
        config: &Config,
    ) -> Self {
        let mut lifecycle = Lifecycle::default();
        lifecycle.in_span(span);
        lifecycle.report_to(&config.streams.stats());
        if let Some(notifier) = notifier {
            lifecycle.notify_to(notifier);
        }
        Self {
            kind: Kind::Foreign {
                inner,
                duties: Box::new(ForeignDuties {
                    ended: false,
                    boundaries: Boundaries::new(),
                    heartbeat: Heartbeat::new(config.streams.heartbeat_interval()),
                    shutdown: config.streams.shutdown_handle().listen(),
                    shutdown_grace: config.shutdown_grace,
                    closing: None,
                    lifecycle,
                }),
            },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Plain {
                mut inner,
                ended,
                notifier,
            } => {
                if *ended {
                    return Poll::Ready(None);
                }
                let polled = inner.as_mut().poll_frame(cx);
                match &polled {
                    Poll::Ready(None | Some(Err(_))) => {
                        *ended = true;
                        self::ended(notifier);
                    }
                    Poll::Ready(Some(Ok(_))) if inner.is_end_stream() => self::ended(notifier),
                    _ => {}
                }
                polled.map(|frame| frame.map(|frame| frame.map(|frame| frame.map_data(to_bytes))))
            }
            KindProj::Foreign { inner, duties } => duties.poll_frame(inner, cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Plain { inner, ended, .. } => *ended || inner.is_end_stream(),
            // Never ends early: a heartbeat or farewell may still be due,
            // and the end must be seen to be reported.
            Kind::Foreign { duties, .. } => duties.ended,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Plain { inner, ended, .. } if !*ended => inner.size_hint(),
            Kind::Plain { .. } => SizeHint::with_exact(0),
            Kind::Foreign { .. } => SizeHint::default(),
        }
    }
}

impl ForeignDuties {
    fn poll_frame<B>(
        &mut self,
        mut inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>>
    where
        B: Body,
        B::Error: fmt::Display,
    {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.closing.is_none()
            && let Poll::Ready(farewell) = self.shutdown.poll_triggered(cx)
        {
            let grace = Box::pin(tokio::time::sleep(self.shutdown_grace));
            self.closing = Some((farewell, grace));
        }
        if self.closing.is_some() && self.boundaries.at_boundary() {
            return self.close();
        }

        match inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let frame = frame.map_data(to_bytes);
                if let Some(data) = frame.data_ref() {
                    let events = self.boundaries.scan(data);
                    self.heartbeat.sent();
                    if let Some(stats) = self.lifecycle.stats() {
                        stats.sent(events, data.len());
                    }
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(err))) => {
                self.ended = true;
                let reason = DisconnectReason::Error(Arc::new(BodyError(err.to_string())));
                self.lifecycle.end(reason);
                return Poll::Ready(Some(Err(err)));
            }
            Poll::Ready(None) => {
                self.ended = true;
                self.lifecycle.end(DisconnectReason::StreamEnded);
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }

        if let Some((_, grace)) = &mut self.closing {
            if grace.as_mut().poll(cx).is_ready() {
                // Still inside an event: end here. The browser drops the
                // unfinished event and asks for it again when it resumes.
                if let Some((farewell, _)) = &mut self.closing {
                    *farewell = None;
                }
                return self.close();
            }
            return Poll::Pending;
        }
        if self.boundaries.at_boundary() && self.heartbeat.poll_due(cx).is_ready() {
            if let Some(stats) = self.lifecycle.stats() {
                stats.heartbeat(HEARTBEAT.len());
            }
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(HEARTBEAT)))));
        }
        Poll::Pending
    }

    fn close<E>(&mut self) -> Poll<Option<Result<Frame<Bytes>, E>>> {
        self.ended = true;
        self.lifecycle.end(DisconnectReason::Shutdown);
        let farewell = self.closing.take().and_then(|(farewell, _)| farewell);
        Poll::Ready(farewell.map(|bytes| Ok(Frame::data(bytes))))
    }
}

use std::future::Future as _;

/// Reports the end of a body that is not an event stream.
fn ended(notifier: &mut Option<Notifier>) {
    if let Some(mut notifier) = notifier.take() {
        notifier.notify(DisconnectReason::StreamEnded);
    }
}

fn to_bytes<D: Buf>(mut data: D) -> Bytes {
    // Free for `Bytes`, which is what axum and hyper bodies carry.
    data.copy_to_bytes(data.remaining())
}

/// A body's error, kept as text for the disconnect reason, since the body's
/// own error goes on to the server.
#[derive(Debug)]
struct BodyError(String);

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for BodyError {}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Plain { .. } => "plain",
            Kind::Foreign { .. } => "event stream",
        };
        f.debug_struct("ResponseBody").field("kind", &kind).finish()
    }
}
