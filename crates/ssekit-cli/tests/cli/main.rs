//! The `ssekit` binary, run for real against servers these tests start on
//! 127.0.0.1: a good one built with ssekit-axum and `SseLayer`, a
//! deliberately broken one built on plain axum with no ssekit, and raw TCP
//! listeners for the error paths.

mod broken;
mod check;
mod errors;
mod good;
mod support;
mod tail;
