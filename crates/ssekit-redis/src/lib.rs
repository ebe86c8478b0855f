//! A Redis Streams [`Backplane`](ssekit::hub::Backplane) for the ssekit
//! [`Hub`](ssekit::hub::Hub): every server instance publishes into the same
//! streams and reads them back, so a subscriber on any instance gets every
//! event, and a browser can resume on any instance with the
//! `Last-Event-ID` another one gave it.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use ssekit::Event;
//! use ssekit::hub::Hub;
//! use ssekit_redis::RedisBackplane;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Two instances (two processes in real life) on one Redis.
//! let one = Hub::builder().backplane(RedisBackplane::new("redis://127.0.0.1:6379")?).build();
//! let two = Hub::builder().backplane(RedisBackplane::new("redis://127.0.0.1:6379")?).build();
//!
//! let mut there = two.subscribe("news", None).await?;
//! let id = one.publish("news", Event::default().data("hello")).await?;
//!
//! // It reaches instance two with the id instance one was given.
//! let frame = there.next().await.unwrap();
//! assert!(std::str::from_utf8(&frame)?.contains(&format!("id: {id}\n")));
//!
//! // A client resuming on either instance with that id gets what followed.
//! let _resumed = two.subscribe("news", Some(&id.to_string())).await?;
//! # Ok(()) }
//! ```
//!
//! Setting it up (this runs without Redis: nothing connects until the hub
//! uses the backplane):
//!
//! ```
//! use ssekit_redis::RedisBackplane;
//!
//! let backplane = RedisBackplane::builder("redis://127.0.0.1:6379")
//!     .prefix("myapp:sse:")
//!     .maxlen(20_000)
//!     .build()?;
//! let stats = backplane.stats();
//! assert_eq!(backplane.stream_key("news"), "myapp:sse:news");
//! assert_eq!(stats.snapshot().watched, 0);
//! # Ok::<(), ssekit_redis::ConfigError>(())
//! ```
//!
//! # How it uses Redis
//!
//! - **A stream per topic**, keyed by a prefix (default `ssekit:`) and the
//!   topic's name. An entry has one field, `event`, holding the event's wire
//!   bytes; its entry id *is* the event's [`EventId`](ssekit::hub::EventId),
//!   which is why an id from one instance means the same on another.
//! - **Publishing** is `XADD key MAXLEN ~ n * event <bytes>`. It answers
//!   once Redis has the event; the event then reaches every instance's
//!   subscribers, this one's included, through their readers, so all see one
//!   order. When Redis is unreachable, or does not answer within the
//!   [timeout](Builder::timeout), the caller gets the error: an event is
//!   never dropped silently.
//! - **One reader per instance**, on a connection of its own: a single
//!   `XREAD BLOCK` over every topic this instance has subscribers for,
//!   each from the last id it delivered. A new topic does not wait for the
//!   block to time out: its watch reads where the stream ends now and wakes
//!   the reader with `CLIENT UNBLOCK`.
//! - **Resuming** after a `Last-Event-ID` the hub's window no longer has
//!   reads the stream (`XRANGE`). An id older than the stream's first entry
//!   is *expired*: the client gets a gap notice, then what the stream
//!   holds. An id the stream never had is *unknown*.
//!
//! # When Redis goes away
//!
//! The reader reconnects with a pause that doubles from 50 ms to 2 s, with
//! jitter (see [`Builder::backoff`]), and goes on from the last id it saw
//! of each topic, so every event Redis still holds is delivered,
//! subscribers stay connected throughout. If a stream no longer holds the
//! entry the reader saw last (trimmed meanwhile, or Redis restarted without
//! persistence), events may be missing, and subscribers of that topic get
//! the hub's in-band [gap notice](ssekit::hub#the-gap-notice) with reason
//! `"backplane"`. Without persistence that includes acknowledged events:
//! one Redis took just before it died, and that an instance had not read
//! yet, is gone for that instance (run Redis with `appendonly yes` and
//! `appendfsync always` where that matters). Connection loss is logged at
//! `warn`, the reconnection at `info`, through `tracing`;
//! [`RedisBackplane::stats`] counts both.
//!
//! # Sizing
//!
//! `maxlen` (default 10 000) bounds each stream, approximately: Redis keeps
//! at least that many entries. Keep it at least the hub's
//! [`capacity`](ssekit::hub::HubBuilder::capacity) (default 1024): the
//! hub's window serves recent resumes from memory, the stream the older
//! ones, and how far back a client may resume on any instance is what the
//! stream holds.
//!
//! # Limits
//!
//! - A watch armed while its stream was empty, and that has read nothing
//!   since, has no entry to look for; it asks `XINFO STREAM` whether the
//!   stream ever lost an entry instead. Redis before 7.0 does not say, and
//!   such a loss goes untold there.
//! - Losses are spotted by the entry read last: give every instance the
//!   same [`maxlen`](Builder::maxlen).
//! - Ids come from the Redis server's clock. A Redis restarted empty on a
//!   clock that went back gives ids below those already delivered, which
//!   the reader does not see until its clock passes them.
//!
//! # Feature flags
//!
//! None: the crate has no optional features. It uses redis-rs with only
//! its `tokio-comp` feature (no TLS, no cluster client), and runs its
//! reader on the tokio runtime the hub is built in.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod backplane;
mod config;
mod reader;
mod reply;
mod stats;

pub use backplane::RedisBackplane;
pub use config::{
    Builder, ConfigError, DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_BLOCK, DEFAULT_MAXLEN,
    DEFAULT_PREFIX, DEFAULT_TIMEOUT,
};
pub use stats::{RedisStats, Snapshot};
