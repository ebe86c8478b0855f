//! The response type that every adapter defines around the stream machine.

/// Defines a framework adapter's event-stream response type: a struct
/// around [`SseStream`](crate::SseStream) with `new` and the builder methods
/// that every adapter shares, so each adapter only adds its framework's
/// response trait (reading the machine with `into_stream`).
///
/// Each framework's trait is foreign to the core and the core's type is
/// foreign to each adapter, so each adapter needs a type of its own; this
/// keeps those types the same.
///
/// ```
/// ssekit::sse_response! {
///     /// A made-up framework's event-stream response.
///     pub struct Sse;
/// }
///
/// let response = Sse::new(futures_util::stream::iter([ssekit::Event::default().data("x")]))
///     .heartbeat(std::time::Duration::from_secs(30));
/// let machine: ssekit::SseStream<_> = response.into_stream();
/// # drop(machine);
/// ```
#[macro_export]
macro_rules! sse_response {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        $vis struct $name<S> {
            stream: $crate::SseStream<S>,
        }

        impl<S> $name<S>
        where
            S: $crate::__private::Stream,
            S::Item: $crate::IntoEvent,
        {
            /// An event stream of `events` (a `Stream` of [`Event`](ssekit::Event)s,
            /// or of `Result`s of them), with a heartbeat after 15 s of silence.
            pub fn new(events: S) -> Self {
                Self {
                    stream: $crate::SseStream::new(events),
                }
            }
        }

        impl<S> $name<S> {
            /// Takes an app's heartbeat interval, shutdown handle and stats
            /// (see [`SseConfig`](ssekit::SseConfig)).
            #[must_use]
            pub fn with_config(mut self, config: &$crate::SseConfig) -> Self {
                self.stream = self.stream.with_duties(config.duties());
                self
            }

            /// Sets this stream's heartbeat interval (`None`: off), over the
            /// app's.
            #[must_use]
            pub fn heartbeat(mut self, interval: impl Into<Option<::std::time::Duration>>) -> Self {
                self.stream = self.stream.heartbeat(interval);
                self
            }

            /// Starts the stream with a `retry:` hint: how long the browser
            /// waits before it reconnects.
            #[must_use]
            pub fn retry(mut self, retry: ::std::time::Duration) -> Self {
                self.stream = self.stream.retry(retry);
                self
            }

            /// Ends the stream when `shutdown` is triggered (an app-wide
            /// handle from a layer or config does this already).
            #[must_use]
            pub fn with_shutdown(mut self, shutdown: &$crate::Shutdown) -> Self {
                self.stream = self.stream.with_shutdown(shutdown);
                self
            }

            /// A handle that learns when this stream is over, and why.
            pub fn disconnect(&mut self) -> $crate::Disconnect {
                self.stream.disconnect()
            }

            /// The stream machine, for the framework's response body.
            pub fn into_stream(self) -> $crate::SseStream<S> {
                self.stream
            }
        }

        impl<S> ::std::fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.stream).finish()
            }
        }
    };
}
