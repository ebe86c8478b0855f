use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use http::{Response, Version};
use pin_project_lite::pin_project;
use ssekit::disconnect::{Notifier, Scoped};
use ssekit::{Handoff, head};

use crate::ResponseBody;
use crate::layer::Config;

pin_project! {
    /// The response future of [`SseService`](crate::SseService).
    pub struct ResponseFuture<F: Future> {
        #[pin]
        inner: Scoped<F>,
        version: Version,
        config: Arc<Config>,
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(crate) fn new(inner: Scoped<F>, version: Version, config: Arc<Config>) -> Self {
        Self {
            inner,
            version,
            config,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = ready!(this.inner.as_mut().poll(cx));
        let notifier = this.inner.take_notifier();
        Poll::Ready(result.map(|response| wrap(response, notifier, *this.version, this.config)))
    }
}

impl<F: Future> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A compression layer inside ours is a setup mistake worth one warning,
/// not one per request.
static WARNED_ENCODED: AtomicBool = AtomicBool::new(false);

fn wrap<B: http_body::Body>(
    mut response: Response<B>,
    notifier: Option<Notifier>,
    version: Version,
    config: &Config,
) -> Response<ResponseBody<B>> {
    if !head::is_event_stream_response(response.headers()) {
        return response.map(|body| ResponseBody::plain(body, notifier));
    }
    if head::is_encoded(response.headers()) {
        if !WARNED_ENCODED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "an event stream reached SseLayer already compressed, so it is passed on as it is, \
                 without heartbeats or shutdown; put SseLayer inside the compression layer \
                 (add it to the router first)"
            );
        }
        return response.map(|body| ResponseBody::plain(body, notifier));
    }
    head::apply(response.headers_mut(), version);
    let handoff = response.extensions_mut().remove::<Handoff>();
    let span = tracing::debug_span!("event_stream", ?version, made_by_ssekit = handoff.is_some());
    span.in_scope(|| tracing::debug!("event stream opened"));
    if let Some(handoff) = handoff {
        handoff.hand_over(config.streams.duties().notifier(notifier).span(span));
        return response.map(|body| ResponseBody::plain(body, None));
    }
    response.map(|body| ResponseBody::foreign(body, notifier, span, config))
}
