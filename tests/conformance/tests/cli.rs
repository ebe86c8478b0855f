//! The `ssekit` CLI's library against the conformance server of every
//! adapter: `check` finds nothing wrong with any of them, and `tail`
//! follows their streams, reconnecting with `Last-Event-ID` until the
//! server's 204.
//!
//! The `suite!` macro expands each case into one `#[tokio::test]` per
//! adapter, `<adapter>::<case>` (for example `warp::check_a_live_stream`).
//!
//! Run one adapter with `cargo test -p ssekit-conformance --test cli axum::`.

// The wire suite's server helper; its signal and exit helpers are unused
// here.
#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use server::{Adapter, Server};
use ssekit_cli::check::{self, CheckOptions, Report, Verdict};
use ssekit_cli::client::Target;
use ssekit_cli::style::Style;
use ssekit_cli::tail::{self, Format, Outcome, TailOptions};

/// Each case's overall limit, so a server that hangs fails the test.
const TEST_TIME_LIMIT: Duration = Duration::from_secs(30);

fn target(server: &Server, path: &str) -> Target {
    Target::parse(&format!("http://{}{path}", server.addr)).expect("a valid URL")
}

fn verdict(report: &Report, name: &str) -> Verdict {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in\n{}", report.render(Style::plain())))
        .verdict
}

/// Asserts that the named checks passed and every other one is `Info`
/// (never a failure, never skipped).
fn assert_passes(report: &Report, except_info: &[&str]) {
    let table = report.render(Style::plain());
    assert!(report.passed(), "{table}");
    for name in check::CHECKS {
        let expected = if except_info.contains(&name) {
            Verdict::Info
        } else {
            Verdict::Pass
        };
        assert_eq!(verdict(report, name), expected, "{name}:\n{table}");
    }
}

/// A live stream (events 50 ms apart, heartbeats set to 200 ms): every
/// check passes but `end`, which notes the stream is still open.
async fn check_a_live_stream(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut options = CheckOptions::new(target(
        &server,
        "/events?count=1000000&interval_ms=50&hb_ms=200",
    ));
    options.heartbeat_within = Duration::from_secs(1);
    let report = check::run(&options).await.expect("the server answers");
    assert_passes(&report, &["end"]);
}

/// An idle stream: heartbeats only, so the heartbeat check passes on them
/// alone, and resumption is not applicable (no ids).
async fn check_an_idle_stream(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut options = CheckOptions::new(target(&server, "/idle?hb_ms=200"));
    options.heartbeat_within = Duration::from_millis(600);
    let report = check::run(&options).await.expect("the server answers");
    assert_passes(&report, &["end", "resume"]);
    let reason = &report.get("heartbeat").expect("a heartbeat row").reason;
    assert!(reason.contains("0 event(s)"), "{reason}");
}

/// A finite stream: it ends cleanly (so `end` passes), too soon for a
/// heartbeat to be due, and resuming after its last id gets the 204.
async fn check_a_finite_stream(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut options = CheckOptions::new(target(&server, "/events?count=5"));
    options.heartbeat_within = Duration::from_secs(1);
    let report = check::run(&options).await.expect("the server answers");
    assert_passes(&report, &["heartbeat"]);
    let reason = &report.get("resume").expect("a resume row").reason;
    assert!(reason.contains("204"), "{reason}");
}

/// `tail` reads every event, reconnecting with `Last-Event-ID` after each
/// response ends early (`close_after`), honouring `retry:`, until the 204.
async fn tail_resumes_until_told_to_stop(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut options =
        TailOptions::new(target(&server, "/events?count=5&close_after=2&retry_ms=50"));
    options.format = Format::Json;
    options.max_reconnects = Some(10);
    let mut out = Vec::new();
    let outcome = tail::run(&options, &mut out).await;
    let out = String::from_utf8(out).expect("JSON is UTF-8");
    assert_eq!(
        outcome.expect("tail ends cleanly"),
        Outcome::Stopped,
        "{out}"
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let ids: Vec<&str> = lines
        .iter()
        .filter(|line| line["kind"] == "event")
        .map(|line| line["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"], "{out}");
    let reconnects: Vec<(u64, &str)> = lines
        .iter()
        .filter(|line| line["kind"] == "reconnect")
        .map(|line| {
            (
                line["after_ms"].as_u64().expect("after_ms"),
                line["last_event_id"].as_str().expect("last_event_id"),
            )
        })
        .collect();
    assert_eq!(reconnects, [(50, "2"), (50, "4"), (50, "5")], "{out}");
    assert_eq!(lines.last().expect("lines")["status"], 204, "{out}");
}

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
                    let case = crate::$case(crate::server::Adapter::$variant);
                    if tokio::time::timeout(crate::TEST_TIME_LIMIT, case).await.is_err() {
                        panic!("the case did not finish within {:?}", crate::TEST_TIME_LIMIT);
                    }
                }
            )*
        }
    };
}

suite![
    check_a_live_stream,
    check_an_idle_stream,
    check_a_finite_stream,
    tail_resumes_until_told_to_stop,
];
