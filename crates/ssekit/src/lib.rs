//! Server-Sent Events done right, for any Rust web framework.
//!
//! `ssekit` is the framework-agnostic core of the ssekit workspace. It owns
//! everything that must behave the same whichever framework serves the stream:
//!
//! - [`Event`]: a builder that refuses fields which would inject other fields,
//!   keeps every character of the data (CR, CRLF, a leading space, empty
//!   data), and encodes once into [`bytes::Bytes`] that fan-out only clones.
//! - [`Decoder`]: the WHATWG event-stream interpretation algorithm, incremental
//!   over chunks split anywhere, for clients and tests.
//! - [`LastEventId`]: the reconnecting browser's `Last-Event-ID`, read from the
//!   header's raw bytes as UTF-8, with a `lastEventId` query fallback.
//! - [`SseStream`]: the stream machine. It turns a user's stream of events into
//!   byte frames with heartbeats, coalescing, a disconnect notification and a
//!   shutdown handle, so no adapter implements them twice.
//! - [`hub::Hub`]: topics that fan one encoded event out to every
//!   subscriber, replay after a `Last-Event-ID` with no gap and no duplicate,
//!   bound memory whatever a slow client does, and span instances through a
//!   [`hub::Backplane`].
//! - [`head`]: the response-head rules (status, headers, what to remove) as
//!   data that every adapter applies.
//!
//! # Example
//!
//! ```
//! use ssekit::Event;
//!
//! let event = Event::default()
//!     .event("greeting")?
//!     .id("42")?
//!     .data("hello\n world");
//! assert_eq!(
//!     &event.encode()[..],
//!     b"event: greeting\nid: 42\ndata: hello\ndata:  world\n\n"
//! );
//!
//! // A field that would inject another field is refused, not rewritten.
//! assert!(Event::default().id("1\ndata: forged").is_err());
//! # Ok::<(), ssekit::EventError>(())
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tokio` | yes | heartbeats and the shutdown handle's timers, on tokio's clock |
//! | `serde` | no | `Event::json_data`, serialising with `serde_json` |
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod config;
mod error;
mod event;

pub mod decode;
pub mod disconnect;
pub mod framing;
pub mod head;
pub mod heartbeat;
pub mod hub;
mod last_event_id;
pub mod query;
mod response;
pub mod shutdown;
pub mod stats;
mod stream;
#[cfg(any(unix, windows))]
pub mod tcp;
mod wakers;

pub use config::SseConfig;
pub use decode::Decoder;
pub use disconnect::{Disconnect, DisconnectReason};
pub use error::EventError;
pub use event::{Encoded, Event};
pub use last_event_id::LastEventId;
pub use shutdown::Shutdown;
pub use stream::{DEFAULT_HEARTBEAT, DEFAULT_MAX_FRAME, Duties, Handoff, IntoEvent, SseStream};

#[doc(hidden)]
pub mod __private {
    //! What `sse_response!` needs in the adapters' crates.
    pub use futures_core::Stream;
}
