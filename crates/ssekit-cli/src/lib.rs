//! `ssekit`, the command line, and the library behind it.
//!
//! - `ssekit tail URL` follows an event stream the way a browser's
//!   `EventSource` does (`Accept: text/event-stream`, reconnection with
//!   `Last-Event-ID`, `retry:` honoured, a 204 stops it) and prints each
//!   event as it arrives: readable and coloured on a terminal, one JSON
//!   object per line with `--json`, or the raw bytes with `--raw`.
//! - `ssekit check URL` runs the conformance suite's wire-level checks that
//!   apply to any endpoint and prints a pass/fail table with the reason for
//!   each, exiting 1 when one fails, so it can run in CI against your own
//!   server. See [`check`] for the list.
//!
//! Both speak HTTP/1.1, over TLS (rustls, Mozilla's roots) for `https://`.
//! Parsing is `ssekit`'s own spec-exact [`Decoder`](ssekit::Decoder), and
//! memory stays bounded whatever a server sends: response heads are capped
//! at 64 KiB, events at `--max-event-size` (16 MiB by default).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: every check holds; `tail` reached `--count`, got 204, or ended cleanly with no reconnection left |
//! | 1 | `check`: at least one check failed |
//! | 2 | usage: a bad argument, URL or header |
//! | 3 | no HTTP response: unreachable, connection refused, or no response head within `--timeout` |
//! | 4 | the TLS handshake failed |
//! | 5 | `tail`: not an event stream (a status other than 200 and 204, or another content type) |
//! | 6 | `tail`: the stream broke (cut mid-event, or the connection lost) with no reconnection left |
//! | 7 | the output could not be written |
//!
//! They are the constants of [`exit`], and [`Error::exit_code`] maps each
//! failure to one.
//!
//! # Example
//!
//! Check a stream served by `ssekit-axum`:
//!
//! ```
//! # use std::time::Duration;
//! # use axum::{Router, routing::get};
//! # use futures_util::stream::{self, Stream, StreamExt};
//! # use ssekit_axum::{Event, LastEventId, Sse, SseLayer};
//! # async fn ticks(last: Option<LastEventId>) -> Sse<impl Stream<Item = Event>> {
//! #     let from = last.and_then(|id| id.parse::<u64>().ok()).map_or(1, |n| n + 1);
//! #     Sse::new(stream::iter(from..).then(|n| async move {
//! #         tokio::time::sleep(Duration::from_millis(50)).await;
//! #         Event::default().id_u64(n).data(format!("tick {n}"))
//! #     }))
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ssekit_cli::Error> {
//! # let app = Router::new().route("/ticks", get(ticks)).layer(SseLayer::new());
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! # let addr = listener.local_addr().unwrap();
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! use ssekit_cli::check::{self, CheckOptions, Verdict};
//! use ssekit_cli::client::Target;
//! use ssekit_cli::style::Style;
//!
//! let mut options = CheckOptions::new(Target::parse(&format!("http://{addr}/ticks"))?);
//! options.heartbeat_within = Duration::from_millis(500);
//! let report = check::run(&options).await?;
//! print!("{}", report.render(Style::plain()));
//! assert!(report.passed(), "{:?}", report.failed());
//! assert_eq!(report.get("resume").unwrap().verdict, Verdict::Pass);
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! None: the crate has no optional features. TLS is always built in
//! (rustls on ring, with Mozilla's roots from `webpki-roots`), so the
//! binary needs no system certificate store and no OpenSSL.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod check;
pub mod cli;
pub mod client;
mod coding;
pub mod duration;
mod error;
mod lint;
mod progress;
pub mod style;
pub mod tail;

pub use error::{Error, exit};
