//! Hostile and broken clients, over real sockets, against the conformance
//! server of every adapter: a client that never reads, one that
//! half-closes, one that vanishes without a FIN, Last-Event-IDs no browser
//! would send, and ten thousand connects and disconnects in a row.
//!
//! Each case checks that the server does not panic, that its memory stays
//! bounded, and that the hub's subscriber count returns to zero, and prints
//! its figures (docs/RELIABILITY.md quotes them). The `every_adapter!`
//! macro expands each case into `<adapter>::<case>`.
//!
//! `SSEKIT_CHURN=N` changes the number of connects and disconnects (default
//! 10,000). The vanishing client needs root, `ip`, `nft` and `curl`: it runs
//! the server and its client in a network namespace of its own.
//!
//! Run one adapter with `cargo test -p ssekit-conformance --test hostile axum::`.

// The wire suite's helpers; what this suite does not use is unused here.
#[allow(dead_code)]
mod support;
// The wire suite's hub helpers (publish, subscribe, the stats).
#[allow(dead_code)]
#[path = "cases/hub.rs"]
mod hub;
#[path = "support/netns.rs"]
mod netns;
#[macro_use]
#[path = "support/every_adapter.rs"]
mod every_adapter;
#[path = "support/spread.rs"]
mod spread;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::Instant;

use hub::{await_subscribers, publish, subscribe, subscribers};
use support::{Adapter, PATIENCE, Server, h1, ms, open, unique_token};

every_adapter! {
    every: [
        never_reading_clients_are_bounded: 90,
        half_closed_clients_are_let_go: 30,
        vanished_clients_are_noticed_when_the_kernel_gives_up: 100,
        hostile_last_event_ids_are_refused_or_ignored: 30,
        connects_and_disconnects_leave_nothing_behind: 120,
    ],
    h2c: [],
}

/// Fails when the server wrote a panic to its stderr.
fn assert_no_panic(server: &Server) {
    let stderr = server.stderr();
    assert!(
        !stderr.contains("panicked"),
        "{}: the server panicked:\n{stderr}",
        server.adapter.name()
    );
}

/// Waits until `/hub/stats` counts `count` subscribers, at most `within`;
/// returns how long that took.
async fn await_subscribers_within(server: &Server, count: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = subscribers(server).await;
        if now == count {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{}: /hub/stats still counts {now} subscribers after {within:?}, not {count}",
            server.adapter.name()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A MiB figure for messages.
fn mib(bytes: u64) -> f64 {
    // Figures for people: a float's precision is plenty.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / f64::from(1 << 20);
    mib
}

/// The 99th percentile of `samples` (sorted here).
fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples
        .get(samples.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default()
}

/// How long each of `count` events published to `topic` takes to reach
/// `reader`, from the publish's answer to the event's arrival.
async fn delivery_latencies(
    server: &Server,
    topic: &str,
    reader: &mut support::SseReader<h1::Response>,
    count: usize,
    size: usize,
) -> Vec<Duration> {
    let padding = "x".repeat(size);
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let id = publish(server, topic, &format!("{n} {padding}")).await;
        let acked = Instant::now();
        let (event, at) = reader
            .next_event(PATIENCE)
            .await
            .unwrap_or_else(|err| panic!("{}: event {n}: {err}", server.adapter.name()));
        assert_eq!(&*event.last_event_id, id, "{}", server.adapter.name());
        latencies.push(at.saturating_duration_since(acked));
    }
    latencies
}

/// Clients that connect and never read while events flow: fifty hub
/// subscribers and twenty `/events` streams that send as fast as they can,
/// while 12 MiB are published (three times what the kernel buffers of one
/// loopback connection hold, and far more than the hub's `max_lag`). The
/// server's memory stays bounded, a subscriber that reads is not slowed,
/// and the count returns to zero when they go. (`cases/hub.rs` has one such
/// consumer that later reads and catches up by the Close policy's retry
/// hint; here there are many, and they never read.)
///
/// The lag policy applies when a subscription is next polled, and the
/// server does not poll the body of a connection it cannot write to: so
/// while their clients hold them open without reading, the stalled
/// subscribers stay counted. The test reports how many.
pub(crate) async fn never_reading_clients_are_bounded(adapter: Adapter) {
    const STALLED_SUBSCRIBERS: usize = 50;
    const STALLED_STREAMS: usize = 20;
    const EVENTS: usize = 3000;
    const SIZE: usize = 4 * 1024;
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let mut fast = subscribe(&server, "t", None).await;
    await_subscribers(&server, 1).await;
    // Before: one reading subscriber alone.
    let mut alone = delivery_latencies(&server, "t", &mut fast, 200, SIZE).await;
    let before = server.resident_bytes();

    let mut stalled = Vec::new();
    for _ in 0..STALLED_SUBSCRIBERS {
        stalled.push(subscribe(&server, "t", None).await);
    }
    for _ in 0..STALLED_STREAMS {
        stalled.push(
            open(
                &server,
                h1::Request::get("/events?count=1000000000&size=1024"),
            )
            .await,
        );
    }
    await_subscribers(&server, 1 + STALLED_SUBSCRIBERS as u64).await;

    // Events flow: far more than max_lag (512) of them, far more bytes than
    // the loopback socket buffers of a stalled client hold.
    let mut crowded = delivery_latencies(&server, "t", &mut fast, EVENTS, SIZE).await;
    let peak = server.resident_bytes();
    let still_counted = subscribers(&server).await;
    let (alone, crowded) = (p99(&mut alone), p99(&mut crowded));
    let grown = peak.saturating_sub(before);
    println!(
        "{name}: {STALLED_SUBSCRIBERS} hub subscribers and {STALLED_STREAMS} /events streams never read \
         while {EVENTS} events of {SIZE} B flowed: RSS {:.1} -> {:.1} MiB (+{:.1}); hub \
         subscribers still counted: {still_counted}; reading subscriber's p99 delivery \
         {} ms alone, {} ms among them",
        mib(before),
        mib(peak),
        mib(grown),
        ms(alone),
        ms(crowded),
    );
    // A bound per stalled connection: the framework's write buffer and the
    // stream's pending frame (hyper stops polling a body at about 400 KB
    // buffered), plus the hub's window of EVENTS events.
    let per_connection = 512 * 1024;
    let bound = (STALLED_SUBSCRIBERS + STALLED_STREAMS) as u64 * per_connection
        + (1024 * (SIZE + 64)) as u64
        + (32 << 20);
    assert!(
        grown < bound,
        "{name}: the server grew by {:.1} MiB for {} clients that do not read (bound {:.1} MiB)",
        mib(grown),
        STALLED_SUBSCRIBERS + STALLED_STREAMS,
        mib(bound)
    );
    assert!(
        crowded < Duration::from_millis(250).max(alone * 10),
        "{name}: the reading subscriber's p99 delivery went from {} ms to {} ms",
        ms(alone),
        ms(crowded)
    );

    drop(stalled);
    drop(fast);
    await_subscribers_within(&server, 0, PATIENCE).await;
    let end = server.resident_bytes();
    println!("{name}: RSS {:.1} MiB once they all left", mib(end));
    assert_no_panic(&server);
}

/// A client that sends its request, then half-closes (shuts down its
/// sending side) and goes on reading. The adapters treat the end of the
/// request stream as the client leaving: the stream ends, the disconnect
/// is reported, and the hub forgets the subscriber.
pub(crate) async fn half_closed_clients_are_let_go(adapter: Adapter) {
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let token = unique_token("half");
    let mut probe = open(
        &server,
        h1::Request::get(format!("/probe?token={token}&hb_ms=200")),
    )
    .await;
    let mut subscriber = subscribe(&server, "half", None).await;
    await_subscribers(&server, 1).await;

    let closed_at = Instant::now();
    probe.body.shutdown_write().await.expect("shutdown(Write)");
    subscriber
        .body
        .shutdown_write()
        .await
        .expect("shutdown(Write)");

    let noticed = loop {
        let status = support::get(&server, &format!("/probe/status?token={token}")).await;
        let json: serde_json::Value = serde_json::from_slice(&status.body).expect("JSON");
        if json["state"] == "closed" {
            break closed_at.elapsed();
        }
        assert!(
            closed_at.elapsed() < PATIENCE,
            "{name}: a half-closed client is still {json} after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let forgotten = await_subscribers_within(&server, 0, PATIENCE).await;
    // What the half-closed client itself sees.
    let seen = match probe.read_to_end(PATIENCE).await {
        Ok(_) => "a clean end".to_owned(),
        Err(err) => format!("no clean end ({})", err.split(';').next().unwrap_or("")),
    };
    println!(
        "{name}: half-close noticed after {} ms, subscriber forgotten after {} ms; the client saw {seen}",
        ms(noticed),
        ms(forgotten)
    );
    assert_no_panic(&server);
}

/// A client that vanishes without a FIN: the server and two curl clients
/// (a `/probe` stream and a hub subscriber) run in a network namespace of
/// their own; the clients' packets are dropped, then they are killed. The
/// server has nothing to read, so only its writes (the heartbeats) can
/// tell: the kernel retransmits them unanswered until it gives up, the
/// write fails and the stream is dropped. Every adapter's connections carry
/// ssekit's `TCP_USER_TIMEOUT` of 60 s (`ssekit::tcp`), which decides when
/// the kernel gives up: a minute after the first unanswered heartbeat,
/// instead of Linux's default of about 15 minutes of retries. The
/// namespace's `tcp_retries2` of 3 no longer decides it; it stays as a
/// bound should the option ever be missing.
pub(crate) async fn vanished_clients_are_noticed_when_the_kernel_gives_up(adapter: Adapter) {
    const HEARTBEAT_MS: u64 = 500;
    const PROBE_PORT: u16 = 40_001;
    const SUBSCRIBER_PORT: u16 = 40_002;
    let name = adapter.name();
    let netns = netns::Netns::create(&format!("ssekit-vanish-{}-{name}", std::process::id()), 3);
    let server = Server::start_wrapped(adapter, &netns.wrapper(), &[]).await;
    let base = format!("http://{}", server.addr);
    let token = unique_token("vanish");
    let status = || {
        let out = netns.run(&["curl", "-sS", &format!("{base}/probe/status?token={token}")]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        json
    };
    let stats = || {
        let out = netns.run(&["curl", "-sS", &format!("{base}/hub/stats")]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        json["subscribers"].as_u64().expect("a count")
    };
    let client = |port: u16, target: String| {
        let mut command = tokio::process::Command::new("ip");
        command
            .args(netns.wrapper()[1..].iter())
            .args(["curl", "-sSN", "-o", "/dev/null", "--local-port"])
            .arg(port.to_string())
            .args(["-H", "Accept: text/event-stream"])
            .arg(format!("{base}{target}"))
            .kill_on_drop(true)
            .spawn()
            .expect("curl starts")
    };
    let mut probe = client(
        PROBE_PORT,
        format!("/probe?token={token}&hb_ms={HEARTBEAT_MS}"),
    );
    let mut subscriber = client(SUBSCRIBER_PORT, "/hub/subscribe?topic=vanish".to_owned());
    let deadline = Instant::now() + PATIENCE;
    while status()["state"] != "open" || stats() != 1 {
        assert!(
            Instant::now() < deadline,
            "{name}: the clients never connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    netns.drop_port(PROBE_PORT);
    netns.drop_port(SUBSCRIBER_PORT);
    // Killed, they would send a FIN: it is dropped like everything else.
    probe.start_kill().expect("kill curl");
    subscriber.start_kill().expect("kill curl");
    let vanished_at = Instant::now();
    // The user timeout, after the heartbeat the kernel first retransmits.
    let limit = Duration::from_secs(75);
    let noticed = loop {
        if status()["state"] == "closed" {
            break vanished_at.elapsed();
        }
        assert!(
            vanished_at.elapsed() < limit,
            "{name}: the server had not noticed the vanished client {limit:?} later"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let deadline = Instant::now() + limit;
    while stats() != 0 {
        assert!(
            Instant::now() < deadline,
            "{name}: the vanished hub subscriber is still counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let forgotten = vanished_at.elapsed();
    println!(
        "{name}: a client vanished without a FIN (heartbeat {HEARTBEAT_MS} ms, TCP_USER_TIMEOUT 60 s): \
         noticed after {} ms, hub subscriber forgotten after {} ms",
        ms(noticed),
        ms(forgotten)
    );
    // The hub's stream sends no heartbeat of its own here (the default
    // 15 s); the /hub/subscribe stream is noticed once its heartbeat too
    // goes unanswered, so that bound is the heartbeat plus the retries.
    assert_no_panic(&server);
}

/// Last-Event-IDs that no browser sends: 64 KiB long, not UTF-8, with CR,
/// LF or NUL, in the header and in the `lastEventId` query fallback. Each
/// is refused with a 4xx or treated as an unknown id (the hub's gap
/// notice, as one well-formed event); none is a 5xx, a panic or a hang,
/// and the server serves on.
pub(crate) async fn hostile_last_event_ids_are_refused_or_ignored(adapter: Adapter) {
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let long_ascii = "a".repeat(64 * 1024);
    let long_utf8 = "€".repeat(64 * 1024 / 3);
    let long_query = format!("lastEventId={}", "9".repeat(60 * 1024));
    let headers: [(&str, &[u8]); 7] = [
        ("64 KiB of ASCII", long_ascii.as_bytes()),
        ("64 KiB of UTF-8", long_utf8.as_bytes()),
        ("invalid UTF-8", b"\xff\xfe\xc3("),
        ("a CR inside", b"1\r2"),
        ("a LF inside", b"1\n2"),
        ("a NUL inside", b"1\x002"),
        ("CRLF and a header after it", b"1\r\nX-Injected: yes"),
    ];
    let queries = [
        (
            "CR, LF and NUL in the query",
            "lastEventId=1%0D2%0A3%004".to_owned(),
        ),
        (
            "invalid UTF-8 in the query",
            "lastEventId=%FF%FE".to_owned(),
        ),
        ("60 KiB in the query", long_query),
    ];
    let mut requests = Vec::new();
    for (what, value) in headers {
        let request = h1::Request::get("/hub/subscribe?topic=hostile")
            .header("Accept", "text/event-stream")
            .header("Last-Event-ID", value);
        requests.push((what.to_owned(), request));
    }
    for (what, query) in queries {
        let request = h1::Request::get(format!("/hub/subscribe?topic=hostile&{query}"))
            .header("Accept", "text/event-stream");
        requests.push((what.to_owned(), request));
    }
    let mut outcomes = Vec::new();
    for (what, request) in requests {
        let outcome = match tokio::time::timeout(PATIENCE, request.send(server.addr)).await {
            Err(_) => panic!("{name}: Last-Event-ID with {what}: no answer within {PATIENCE:?}"),
            // Some servers close the connection on a request they cannot
            // parse, without a word: that is a refusal too.
            Ok(Err(err)) => format!("closed without a response ({err})"),
            Ok(Ok(response)) => {
                let status = response.head.status;
                assert!(
                    matches!(status, 200 | 400 | 413 | 414 | 431),
                    "{name}: Last-Event-ID with {what}: status {status}\n{}",
                    response.head.dump()
                );
                if status == 200 {
                    let mut reader = support::SseReader::new(response);
                    await_subscribers_within(&server, 1, PATIENCE).await;
                    let live = publish(&server, "hostile", "live").await;
                    let (first, _) = reader
                        .next_event(PATIENCE)
                        .await
                        .unwrap_or_else(|err| panic!("{name}: Last-Event-ID with {what}: {err}"));
                    let outcome = if first.event_type == "ssekit-gap" {
                        let notice: serde_json::Value =
                            serde_json::from_str(&first.data).expect("a JSON notice");
                        assert_eq!(notice["reason"], "unknown", "{name}: {what}: {notice}");
                        format!(
                            "200, an `unknown` gap notice ({} B), then live events",
                            first.data.len()
                        )
                    } else {
                        "200, counted as absent: live events".to_owned()
                    };
                    let live_event = if first.event_type == "ssekit-gap" {
                        reader
                            .next_event(PATIENCE)
                            .await
                            .unwrap_or_else(|err| panic!("{name}: {what}: {err}"))
                            .0
                    } else {
                        first
                    };
                    assert_eq!(
                        (
                            live_event.event_type.as_str(),
                            live_event.data.as_str(),
                            live_event.last_event_id.as_ref()
                        ),
                        ("message", "live", live.as_str()),
                        "{name}: Last-Event-ID with {what}"
                    );
                    outcome
                } else {
                    status.to_string()
                }
            }
        };
        outcomes.push(format!("{what}: {outcome}"));
        // The server serves on.
        assert_eq!(
            support::get(&server, "/hub/stats").await.head.status,
            200,
            "{name}: after {what}"
        );
    }
    await_subscribers_within(&server, 0, PATIENCE).await;
    println!(
        "{name}: hostile Last-Event-IDs:\n  {}",
        outcomes.join("\n  ")
    );
    assert_no_panic(&server);
}

/// How a churning client leaves.
#[derive(Debug, Clone, Copy)]
enum Leave {
    /// Connects and closes without a request.
    Silent,
    /// Sends the request and closes before the answer.
    BeforeTheHead,
    /// Reads the response head, then closes (a FIN).
    AfterTheHead,
    /// Reads the response head, then resets the connection (an RST).
    Reset,
}

const LEAVES: [Leave; 4] = [
    Leave::Silent,
    Leave::BeforeTheHead,
    Leave::AfterTheHead,
    Leave::Reset,
];

async fn churn_once(addr: std::net::SocketAddr, n: usize) -> Result<(), String> {
    let leave = LEAVES[n % LEAVES.len()];
    let mut stream = spread::connect(addr, n)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    if matches!(leave, Leave::Silent) {
        return Ok(());
    }
    let request = format!(
        "GET /hub/subscribe?topic=churn HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("write: {err}"))?;
    if matches!(leave, Leave::BeforeTheHead) {
        return Ok(());
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .map_err(|_| "no response head".to_owned())?
            .map_err(|err| format!("read: {err}"))?;
        if n == 0 {
            return Err("closed before the head".to_owned());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if !head.starts_with(b"HTTP/1.1 200") {
        return Err(format!("answered {:?}", String::from_utf8_lossy(&head)));
    }
    if matches!(leave, Leave::Reset) {
        stream
            .set_zero_linger()
            .map_err(|err| format!("SO_LINGER: {err}"))?;
    }
    Ok(())
}

/// Ten thousand clients (or `SSEKIT_CHURN`) connect to `/hub/subscribe` and
/// leave, 32 at a time, in the four ways of [`Leave`]. Afterwards the hub
/// counts no subscriber, and the server's memory after the first thousand
/// (warm-up) has not grown.
pub(crate) async fn connects_and_disconnects_leave_nothing_behind(adapter: Adapter) {
    const WORKERS: usize = 32;
    let total: usize = std::env::var("SSEKIT_CHURN")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let addr = server.addr;
    let warm_up = total / 10;
    let started = Instant::now();
    let mut warm_rss = 0;
    let mut done = 0;
    for (phase, count) in [(0, warm_up), (1, total - warm_up)] {
        let mut workers = JoinSet::new();
        for worker in 0..WORKERS {
            let first = done + worker;
            workers.spawn(async move {
                let mut n = first;
                let mut failures = Vec::new();
                while n < done + count {
                    if let Err(err) = churn_once(addr, n).await {
                        failures.push(format!("client #{n} ({:?}): {err}", LEAVES[n % 4]));
                    }
                    n += WORKERS;
                }
                failures
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = workers.join_next().await {
            failures.extend(joined.expect("churn worker"));
        }
        assert!(
            failures.is_empty(),
            "{name}: {} of {count} churning clients failed, first: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        done += count;
        if phase == 0 {
            await_subscribers_within(&server, 0, PATIENCE).await;
            warm_rss = server.resident_bytes();
        }
    }
    let took = started.elapsed();
    let settled = await_subscribers_within(&server, 0, PATIENCE).await;
    let end_rss = server.resident_bytes();
    println!(
        "{name}: {total} connects and disconnects in {} ms ({:.0}/s); subscribers back to 0 {} ms \
         later; RSS after warm-up {:.1} MiB, at the end {:.1} MiB",
        ms(took),
        // A rate for people.
        {
            #[allow(clippy::cast_precision_loss)]
            let rate = total as f64 / took.as_secs_f64();
            rate
        },
        ms(settled),
        mib(warm_rss),
        mib(end_rss)
    );
    assert!(
        end_rss < warm_rss + (16 << 20),
        "{name}: RSS grew from {:.1} MiB after {warm_up} clients to {:.1} MiB after {total}",
        mib(warm_rss),
        mib(end_rss)
    );
    assert_no_panic(&server);
}
