//! The adapter's disconnect notification, observed through `/probe` and
//! `/probe/status`: it must fire once the client is gone, within one
//! heartbeat interval (plus slack) of the close.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::support::{
    Adapter, BodySource, Server, SseReader, assert_sse_head, get, h1, ms, open, open_h2,
    unique_token,
};

const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long the stream stays open before the client goes away: between two
/// heartbeats.
const KEEP_OPEN: Duration = Duration::from_millis(300);
/// Allowed on top of one heartbeat interval, for scheduling.
const SLACK: Duration = Duration::from_millis(150);
/// How long to wait for the notification at all.
const WAIT: Duration = Duration::from_secs(2);

async fn probe_status(server: &Server, token: &str) -> Value {
    let target = format!("/probe/status?token={token}");
    let fetched = get(server, &target).await;
    assert_eq!(
        (fetched.head.status, fetched.head.essence().as_deref()),
        (200, Some("application/json")),
        "{} GET {target}:\n{}body {:?}",
        server.adapter.name(),
        fetched.head.dump(),
        fetched.text()
    );
    serde_json::from_slice(&fetched.body).unwrap_or_else(|err| {
        panic!(
            "{} GET {target}: not JSON ({err}): {:?}",
            server.adapter.name(),
            fetched.text()
        )
    })
}

pub(crate) async fn unknown_token(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let status = probe_status(&server, &unique_token("never-opened")).await;
    assert_eq!(
        status,
        serde_json::json!({"state": "unknown"}),
        "{}",
        adapter.name()
    );
}

/// Keeps reading (so the client's receive buffer is empty and closing it
/// sends a FIN, as a browser does) until `until`.
async fn drain_until<B: BodySource>(reader: &mut SseReader<B>, until: Instant, context: &str) {
    loop {
        // `next` is cancel-safe: a piece is decoded as soon as it is read.
        match tokio::time::timeout_at(until, reader.next(WAIT)).await {
            Err(_) => return,
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => panic!("{context}: the probe stream ended by itself"),
            Ok(Err(err)) => panic!("{context}: {err}"),
        }
    }
}

/// Polls `/probe/status` until it says `closed`, then checks `after_ms`
/// against what the client saw: `sent_at` (request sent), `head_at` (head
/// received) and `closed_at` (client went away).
async fn expect_notified(
    server: &Server,
    token: &str,
    sent_at: Instant,
    head_at: Instant,
    closed_at: Instant,
    context: &str,
) {
    let mut last = Value::Null;
    while closed_at.elapsed() < WAIT {
        last = probe_status(server, token).await;
        if last["state"] == "closed" {
            break;
        }
        assert_eq!(
            last["state"], "open",
            "{context}: /probe/status said {last}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        last["state"], "closed",
        "{context}: no disconnect notification within {WAIT:?} of the close; last status {last}"
    );
    let after_ms = last["after_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("{context}: no numeric after_ms in {last}"));
    let after = Duration::from_millis(after_ms);
    // The stream started between `sent_at` and `head_at`; the notification
    // cannot come before the close.
    let kept_open = closed_at - head_at;
    assert!(
        after + Duration::from_millis(1) >= kept_open,
        "{context}: after_ms is {after_ms}, but the client kept the stream open {} ms after the head",
        ms(kept_open)
    );
    // Most favourable reading for the server: it started at `sent_at`.
    let latency = (sent_at + after).saturating_duration_since(closed_at);
    println!(
        "{context}: after_ms {after_ms}; closed {} ms after the head; notified at most {} ms after the close",
        ms(kept_open),
        ms((head_at + after).saturating_duration_since(closed_at))
    );
    assert!(
        latency <= HEARTBEAT + SLACK,
        "{context}: the notification came {} ms after the close (after_ms {after_ms}, closed {} ms after \
         the request); allowed: one heartbeat ({} ms) + {} ms",
        ms(latency),
        ms(closed_at - sent_at),
        ms(HEARTBEAT),
        ms(SLACK)
    );
}

pub(crate) async fn close_is_noticed_within_a_heartbeat(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let token = unique_token("h1");
    let target = format!("/probe?token={token}&hb_ms={}", HEARTBEAT.as_millis());
    let context = format!("{} GET {target}", adapter.name());
    let mut reader = open(&server, h1::Request::get(target.clone())).await;
    assert_sse_head(reader.head(), &context);
    let (sent_at, head_at) = (reader.body.sent_at, reader.body.head_at);
    let status = probe_status(&server, &token).await;
    assert_eq!(
        status,
        serde_json::json!({"state": "open"}),
        "{context}: while open"
    );
    drain_until(&mut reader, head_at + KEEP_OPEN, &context).await;
    let closed_at = Instant::now();
    drop(reader);
    expect_notified(&server, &token, sent_at, head_at, closed_at, &context).await;
}

pub(crate) async fn connection_close_is_noticed_h2(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let token = unique_token("h2conn");
    let target = format!("/probe?token={token}&hb_ms={}", HEARTBEAT.as_millis());
    let context = format!(
        "{} GET {target} over h2c, then the connection closes",
        adapter.name()
    );
    let (client, mut reader) = open_h2(&server, &target, &[]).await;
    assert_sse_head(reader.head(), &context);
    let (sent_at, head_at) = (reader.body.sent_at, reader.body.head_at);
    let status = probe_status(&server, &token).await;
    assert_eq!(
        status,
        serde_json::json!({"state": "open"}),
        "{context}: while open"
    );
    drain_until(&mut reader, head_at + KEEP_OPEN, &context).await;
    let closed_at = Instant::now();
    drop(reader);
    drop(client);
    expect_notified(&server, &token, sent_at, head_at, closed_at, &context).await;
}

/// The client cancels the one stream (`RST_STREAM`) and keeps the connection.
pub(crate) async fn stream_reset_is_noticed_h2(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let token = unique_token("h2rst");
    let target = format!("/probe?token={token}&hb_ms={}", HEARTBEAT.as_millis());
    let context = format!(
        "{} GET {target} over h2c, then the stream is reset",
        adapter.name()
    );
    let (client, mut reader) = open_h2(&server, &target, &[]).await;
    assert_sse_head(reader.head(), &context);
    let (sent_at, head_at) = (reader.body.sent_at, reader.body.head_at);
    drain_until(&mut reader, head_at + KEEP_OPEN, &context).await;
    let closed_at = Instant::now();
    drop(reader);
    expect_notified(&server, &token, sent_at, head_at, closed_at, &context).await;
    drop(client);
}
