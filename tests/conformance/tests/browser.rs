//! The browser conformance suite: a real `EventSource`, in Debian's headless
//! Chromium driven over `WebDriver` (Debian's `chromium-driver`), against the
//! conformance server of every adapter.
//!
//! Each test starts its adapter's `conformance-server`, opens its page
//! `GET /browser` (so every stream is same-origin) and has the page's script
//! open `EventSource`s and report what the browser dispatched:
//!
//! - `echo_table`: `/echo` rows, each event's `type`, `data` and
//!   `lastEventId` (or that nothing is dispatched);
//! - `reconnect_resumes`: the browser's own reconnection and resumption by
//!   `Last-Event-ID`, until the server's 204 closes the source;
//! - `unicode_last_event_id`: a `Last-Event-ID` of `…` (U+2026) sent by the
//!   browser and decoded by the adapter;
//! - `ticks_are_prompt`: events 100 ms apart arrive 100 ms apart, through
//!   the compression middleware.
//!
//! The `suite!` macro expands each case into one `#[tokio::test]` per
//! adapter, `<adapter>::<case>` (for example `warp::reconnect_resumes`), so a
//! failure names both. One Chromium serves the whole binary, and the tests
//! take turns with it (see `browser/driver.rs`). Chromium and chromedriver
//! must be installed (`apt-get install chromium chromium-driver`; `.ci/run`
//! does it): without them every test here fails, saying so. Nothing is
//! skipped.
//!
//! Run one adapter with `cargo test -p ssekit-conformance --test browser axum::`.

#[path = "browser/cases.rs"]
mod cases;
#[path = "browser/driver.rs"]
mod driver;
// The echo table, shared with the wire suite; what only a decoder sees
// (comments, `retry`, the last event ID without an event) and the wire
// suite's 64 KB rows are unused here.
#[allow(dead_code)]
#[path = "support/echo_table.rs"]
mod echo_table;
// The wire suite's server helper; its signal and exit helpers are unused
// here.
#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

/// Expands each case into one test per adapter.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        suite!(@adapter axum, Axum; $($case),*);
        suite!(@adapter actix, Actix; $($case),*);
        suite!(@adapter warp, Warp; $($case),*);
    };
    (@adapter $adapter:ident, $variant:ident; $($case:ident),*) => {
        mod $adapter {
            $(
                #[tokio::test]
                async fn $case() {
                    let session = crate::cases::Session::start(
                        crate::server::Adapter::$variant,
                        stringify!($case),
                    )
                    .await;
                    let limit = crate::cases::CASE_TIME_LIMIT;
                    if tokio::time::timeout(limit, crate::cases::$case(&session))
                        .await
                        .is_err()
                    {
                        panic!("{}: did not finish within {limit:?}", session.context());
                    }
                }
            )*
        }
    };
}

suite! {
    echo_table,
    reconnect_resumes,
    unicode_last_event_id,
    ticks_are_prompt,
}
