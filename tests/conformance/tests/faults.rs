//! Faults, over real sockets, against the conformance server of every
//! adapter: a handler's event stream that fails or panics, a shutdown
//! with ten thousand streams open, and Redis killed and restarted under a
//! two-instance hub.
//!
//! The failing streams are the server's test endpoints `/fault/error` and
//! `/fault/panic` (beyond the contract): N events, then an error or a
//! panic; the server writes the reason its adapter reported to stderr.
//! `SSEKIT_SHUTDOWN_STREAMS=N` changes the number of streams open at the
//! shutdown (default 10,000). Each case prints its figures
//! (docs/RELIABILITY.md quotes them).
//!
//! Run one adapter with `cargo test -p ssekit-conformance --test faults axum::`.

// The wire suite's helpers; what this suite does not use is unused here.
#[macro_use]
#[path = "support/every_adapter.rs"]
mod every_adapter;
#[path = "support/spread.rs"]
mod spread;
#[allow(dead_code)]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use support::{Adapter, PATIENCE, Server, assert_sse_head, h1, h2, ms, open, unique_token};

every_adapter! {
    every: [
        a_failing_stream_ends_cleanly_and_says_why: 30,
        a_panicking_stream_ends_cleanly_and_says_why: 30,
        ten_thousand_streams_end_within_the_grace_period: 120,
        redis_killed_and_restarted_under_load_loses_nothing_silently: 60,
    ],
    h2c: [a_panic_spares_the_other_streams_of_its_h2_connection: 30],
}

/// How long the server may take, after the signal, to end its streams and
/// exit: the conformance server's graceful shutdown bound (`DRAIN_LIMIT`,
/// 4 s) within the contract's 5 s.
const GRACE: Duration = Duration::from_secs(4);
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// Waits for a whole line with `needle` in the server's stderr, at most
/// [`PATIENCE`]; returns it without its newline.
async fn await_stderr(server: &Server, needle: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let stderr = server.stderr();
        // The server's stderr is unbuffered, so one `eprintln!` can reach
        // the pipe in several writes: only a line with its newline is whole.
        if let Some(line) = stderr
            .split_inclusive('\n')
            .filter_map(|line| line.strip_suffix('\n'))
            .find(|line| line.contains(needle))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{}: no {needle:?} in the server's stderr:\n{stderr}",
            server.adapter.name()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a `/ticks` stream that must go on ticking whatever happens to
/// its neighbours, and reads its first tick.
async fn bystander(server: &Server) -> support::SseReader<h1::Response> {
    let mut ticks = open(server, h1::Request::get("/ticks?interval_ms=20")).await;
    ticks
        .next_event(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{}: bystander: {err}", server.adapter.name()));
    ticks
}

/// Reads `n` more events from a bystander; their ids must follow on.
async fn still_ticking<B: support::BodySource>(
    name: &str,
    ticks: &mut support::SseReader<B>,
    n: usize,
) {
    let mut last: Option<u64> = None;
    for _ in 0..n {
        let (event, _) = ticks
            .next_event(PATIENCE)
            .await
            .unwrap_or_else(|err| panic!("{name}: the bystander stopped: {err}"));
        let id: u64 = event.last_event_id.parse().expect("a numeric tick id");
        if let Some(last) = last {
            assert_eq!(id, last + 1, "{name}: the bystander skipped a tick");
        }
        last = Some(id);
    }
}

/// Opens `/fault/<kind>?after=3` and checks its three events, its clean
/// end, and the reason on the server's stderr; returns that line.
async fn fault_case(server: &Server, kind: &str) -> String {
    let name = server.adapter.name();
    let token = unique_token(kind);
    let (items, reader) = support::finite(
        server,
        h1::Request::get(format!("/fault/{kind}?token={token}&after=3")),
        &format!("{name}: /fault/{kind}"),
    )
    .await;
    let events = support::events_of(&items);
    let ids: Vec<&str> = events.iter().map(|e| e.last_event_id.as_ref()).collect();
    assert_eq!(
        ids,
        ["1", "2", "3"],
        "{name}: /fault/{kind}: {}",
        reader.raw_text()
    );
    await_stderr(server, &format!("fault stream {token}: error: ")).await
}

/// A stream that yields an error after three events: the client gets the
/// three and a clean end (an `EventSource` reconnects), the adapter reports
/// the error, and the other streams and the server go on.
pub(crate) async fn a_failing_stream_ends_cleanly_and_says_why(adapter: Adapter) {
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let mut ticks = bystander(&server).await;
    let reason = fault_case(&server, "error").await;
    assert!(
        reason.ends_with("the /fault/error stream failed after 3 events, as asked"),
        "{name}: {reason}"
    );
    still_ticking(name, &mut ticks, 5).await;
    println!("{name}: /fault/error: three events, a clean end; reported: {reason}");
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

/// A stream that panics after three events: the same clean end, the panic
/// reported as the stream's error (not as a client that went away), and
/// nothing else disturbed.
pub(crate) async fn a_panicking_stream_ends_cleanly_and_says_why(adapter: Adapter) {
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let mut ticks = bystander(&server).await;
    let reason = fault_case(&server, "panic").await;
    assert!(
        reason.ends_with(
            "the event stream panicked: the /fault/panic stream panics after 3 events, as asked"
        ),
        "{name}: {reason}"
    );
    still_ticking(name, &mut ticks, 5).await;
    // And again: one panic leaves nothing broken for the next.
    let again = fault_case(&server, "panic").await;
    assert!(again.contains("panicked"), "{name}: {again}");
    still_ticking(name, &mut ticks, 5).await;
    println!("{name}: /fault/panic: three events, a clean end; reported: {reason}");
}

/// Over HTTP/2 every stream of a connection shares one connection task: a
/// panic that escaped the body would take its neighbours with it. It ends
/// only its own stream.
pub(crate) async fn a_panic_spares_the_other_streams_of_its_h2_connection(adapter: Adapter) {
    let name = adapter.name();
    let server = Server::start(adapter).await;
    let mut client = h2::Client::connect(server.addr)
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    let ticks = client
        .get("/ticks?interval_ms=20", &[])
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_sse_head(&ticks.head, &format!("{name}: h2 /ticks"));
    let mut ticks = support::SseReader::new(ticks);
    still_ticking(name, &mut ticks, 2).await;

    let token = unique_token("h2panic");
    let fault = client
        .get(&format!("/fault/panic?token={token}&after=3"), &[])
        .await
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    let mut fault = support::SseReader::new(fault);
    let items = fault
        .read_to_end(PATIENCE)
        .await
        .unwrap_or_else(|err| panic!("{name}: h2 /fault/panic did not end cleanly: {err}"));
    assert_eq!(support::events_of(&items).len(), 3, "{name}");
    await_stderr(&server, &format!("fault stream {token}: error: ")).await;
    still_ticking(name, &mut ticks, 5).await;
    println!("{name}: h2: a panicking stream ended cleanly (END_STREAM); its neighbour ticked on");
}

/// The number of streams for the shutdown case.
fn shutdown_streams() -> usize {
    std::env::var("SSEKIT_SHUTDOWN_STREAMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

/// One of the ten thousand: a socket, its response head read. Kept small
/// (no 64 KiB read buffer per stream), so ten thousand fit in a test.
async fn open_idle(addr: SocketAddr, n: usize, target: &str) -> Result<TcpStream, String> {
    let mut stream = spread::connect(addr, n)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|err| format!("write: {err}"))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing of the body is read with the head.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return Err("closed before the head ended".to_owned()),
            Err(err) => return Err(format!("read: {err}")),
        }
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") || !head.contains("transfer-encoding: chunked") {
        return Err(format!("not a chunked 200: {head}"));
    }
    Ok(stream)
}

/// Reads a chunked body to its end; returns when it ended cleanly (the
/// terminator `0\r\n\r\n` at a chunk boundary: the body's first bytes,
/// or after a chunk's CRLF), or how it did not.
async fn read_to_terminator(mut stream: TcpStream) -> Result<Instant, String> {
    const END: &[u8] = b"0\r\n\r\n";
    let clean = |tail: &[u8], total: usize| {
        tail.ends_with(END) && (total == END.len() || tail.ends_with(b"\r\n0\r\n\r\n"))
    };
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    let mut total = 0;
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => {
                return Err(format!(
                    "closed without the terminator; last bytes {:?}",
                    String::from_utf8_lossy(&tail)
                ));
            }
            Ok(n) => {
                total += n;
                tail.extend_from_slice(&buf[..n]);
                let keep = tail.len().saturating_sub(16);
                tail.drain(..keep);
                // A keep-alive connection stays open after a clean end.
                if clean(&tail, total) {
                    return Ok(Instant::now());
                }
            }
            Err(err) => return Err(format!("read failed: {err}")),
        }
    }
}

/// Only one ten-thousand-stream case at a time: each holds ten thousand
/// sockets in this process, and a process may open 20,000 files.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Ten thousand streams open (idle, hub subscribers and ticking ones),
/// events being published, then SIGTERM: every stream ends with a clean
/// chunked end and the process exits 0 within the grace period.
pub(crate) async fn ten_thousand_streams_end_within_the_grace_period(adapter: Adapter) {
    let _heavy = HEAVY.lock().await;
    let total = shutdown_streams();
    let name = adapter.name();
    let mut server = Server::start(adapter).await;
    let addr = server.addr;
    let targets = [
        "/idle?hb_ms=60000",
        "/hub/subscribe?topic=load",
        "/ticks?interval_ms=1000",
    ];
    let opened_at = Instant::now();
    let permits = std::sync::Arc::new(Semaphore::new(256));
    let mut opening = JoinSet::new();
    for index in 0..total {
        let permits = std::sync::Arc::clone(&permits);
        let target = targets[index % targets.len()];
        opening.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let opened = tokio::time::timeout(PATIENCE * 2, open_idle(addr, index, target)).await;
            (index, opened)
        });
    }
    let mut streams = Vec::with_capacity(total);
    while let Some(joined) = opening.join_next().await {
        let (index, opened) = joined.expect("opening task");
        let stream = opened
            .unwrap_or_else(|_| {
                panic!("{name}: stream #{index}: no head within {:?}", PATIENCE * 2)
            })
            .unwrap_or_else(|err| panic!("{name}: stream #{index}: {err}"));
        streams.push(stream);
    }
    let opened_in = opened_at.elapsed();
    let rss = server.resident_bytes();

    // Under load: events are being published when the signal comes.
    let publisher = tokio::spawn(async move {
        for n in 0.. {
            let request = h1::Request::post("/hub/publish?topic=load", format!("event {n}"));
            if request.send(addr).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled_at = Instant::now();
    server.signal("TERM").await;
    let mut reading = JoinSet::new();
    for stream in streams {
        reading.spawn(tokio::time::timeout(
            EXIT_WITHIN * 2,
            read_to_terminator(stream),
        ));
    }
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut within_one_second = 0;
    while let Some(joined) = reading.join_next().await {
        match joined.expect("reading task") {
            Ok(Ok(at)) => {
                let took = at.saturating_duration_since(signalled_at);
                slowest = slowest.max(took);
                if took <= Duration::from_secs(1) {
                    within_one_second += 1;
                }
                if took > GRACE {
                    failures.push(format!(
                        "ended cleanly, but {} ms after the signal",
                        ms(took)
                    ));
                }
            }
            Ok(Err(err)) => failures.push(err),
            Err(_) => failures.push(format!("not ended {:?} after the signal", EXIT_WITHIN * 2)),
        }
    }
    let exit = server
        .wait_exit(EXIT_WITHIN.saturating_sub(signalled_at.elapsed()))
        .await;
    let exited_in = signalled_at.elapsed();
    publisher.abort();
    println!(
        "{name}: {total} streams opened in {} ms (server RSS {:.1} MiB); SIGTERM under load: \
         {within_one_second} ended cleanly within 1 s, the last {} ms after the signal; \
         exit {exit:?} after {} ms",
        ms(opened_in),
        // A figure for people.
        {
            #[allow(clippy::cast_precision_loss)]
            let mib = rss as f64 / f64::from(1 << 20);
            mib
        },
        ms(slowest),
        ms(exited_in)
    );
    assert!(
        failures.is_empty(),
        "{name}: {} of {total} streams did not end cleanly within the grace period {GRACE:?}; \
         first: {:?}\nserver stderr:\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        server.stderr()
    );
    match exit {
        Some(status) => assert!(status.success(), "{name}: exit status {status}"),
        None => panic!("{name}: the server had not exited {EXIT_WITHIN:?} after SIGTERM"),
    }
}

/// Publishes `data` on `topic`: the id when the server acknowledged it,
/// `None` when it refused (503: the backplane is unreachable).
async fn try_publish(server: &Server, topic: &str, data: &str) -> Option<String> {
    let target = format!("/hub/publish?topic={topic}");
    let reply = support::fetch(
        server,
        &h1::Request::post(&target, data.as_bytes().to_vec()),
    )
    .await
    .unwrap_or_else(|err| panic!("{}: POST {target}: {err}", server.adapter.name()));
    match reply.head.status {
        200 => {
            let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
            Some(json["id"].as_str().expect("an id").to_owned())
        }
        503 => None,
        other => panic!(
            "{}: POST {target}: {other}: {}",
            server.adapter.name(),
            reply.text()
        ),
    }
}

/// Publishes to the two servers in turn until `until`: the acknowledged
/// ids, and how many were refused.
async fn publish_for(servers: &[Server; 2], n: &mut usize, until: Instant) -> (Vec<String>, usize) {
    let mut acked = Vec::new();
    let mut refused = 0;
    while Instant::now() < until {
        *n += 1;
        match try_publish(&servers[*n % 2], "load", &format!("event {n}")).await {
            Some(id) => acked.push(id),
            None => refused += 1,
        }
    }
    (acked, refused)
}

/// Redis (without persistence) killed and restarted while two instances
/// publish and four subscribers listen: the subscribers keep their
/// connections, publishes during the outage are refused (never dropped
/// silently), and every acknowledged event reaches every subscriber, in
/// order, but for what Redis lost with its restart, which is announced
/// in-band (see [`check_arrivals`]).
pub(crate) async fn redis_killed_and_restarted_under_load_loses_nothing_silently(adapter: Adapter) {
    let name = adapter.name();
    let mut redis = ssekit_test_support::redis::RedisServer::start().await;
    let url = redis.url();
    let servers = [
        Server::start_with(adapter, &["--redis", &url]).await,
        Server::start_with(adapter, &["--redis", &url]).await,
    ];
    let mut readers = Vec::new();
    for server in servers.iter().chain(servers.iter()) {
        let reader = open(server, h1::Request::get("/hub/subscribe?topic=load")).await;
        assert_sse_head(reader.head(), name);
        readers.push(reader);
    }
    for server in &servers {
        let deadline = Instant::now() + PATIENCE;
        while support::get(server, "/hub/stats").await.text() != r#"{"subscribers":2}"# {
            assert!(Instant::now() < deadline, "{name}: subscribers not counted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let mut acknowledged = Vec::new();
    let (mut refused, mut n) = (0, 0);
    let (acked, _) = publish_for(
        &servers,
        &mut n,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    acknowledged.extend(acked);
    redis.kill();
    let (acked, during) = publish_for(
        &servers,
        &mut n,
        Instant::now() + Duration::from_millis(500),
    )
    .await;
    acknowledged.extend(acked);
    refused += during;
    let before_restart = acknowledged.len();
    redis.restart().await;
    // Give each instance's reader time to come back (its backoff is at
    // most 2 s), then go on publishing until events flow again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after_restart = 0;
    while after_restart < 50 {
        assert!(
            Instant::now() < deadline,
            "{name}: publishing never recovered"
        );
        let (acked, failed) = publish_for(
            &servers,
            &mut n,
            Instant::now() + Duration::from_millis(200),
        )
        .await;
        after_restart += acked.len();
        acknowledged.extend(acked);
        refused += failed;
    }
    assert!(
        refused > 0,
        "{name}: no publish was refused while Redis was down"
    );
    println!(
        "{name}: {} events acknowledged, {refused} refused while Redis was down",
        acknowledged.len()
    );

    let last = acknowledged
        .last()
        .expect("events acknowledged after the restart");
    for (i, reader) in readers.iter_mut().enumerate() {
        let mut arrived = Vec::new();
        while arrived.last().and_then(Option::as_ref) != Some(last) {
            let (event, _) = reader.next_event(PATIENCE).await.unwrap_or_else(|err| {
                panic!(
                    "{name}: subscriber {i} lost its stream, or the last acknowledged event, \
                     after {} arrivals: {err}",
                    arrived.len()
                )
            });
            arrived
                .push((event.event_type != "ssekit-gap").then(|| event.last_event_id.to_string()));
        }
        match check_arrivals(&acknowledged, before_restart, &arrived) {
            Ok(0) => {}
            Ok(lost) => println!(
                "{name}: subscriber {i}: {lost} acknowledged event(s) went with Redis \
                 before its instance read them; a gap notice said so"
            ),
            Err(err) => panic!("{name}: subscriber {i}: {err}"),
        }
    }
}

/// What one subscriber got (`Some(id)` for an event, `None` for a gap
/// notice) against what was acknowledged, in order, of which the first
/// `before_restart` before Redis restarted.
///
/// Redis without persistence acknowledges an event, then dies before an
/// instance's reader has read it: that event is gone for that instance's
/// subscribers, and the reader tells them with a gap notice when it finds,
/// on reconnecting, that Redis no longer holds what it read last. So what
/// a subscriber may miss is the tail of what was acknowledged before the
/// restart, each missing run followed by a gap notice before the next
/// event. Everything else arrives, once and in order, and there are at
/// most two notices. Returns how many were missed.
fn check_arrivals(
    acknowledged: &[String],
    before_restart: usize,
    arrived: &[Option<String>],
) -> Result<usize, String> {
    let notices = arrived.iter().filter(|item| item.is_none()).count();
    if notices > 2 {
        return Err(format!("{notices} gap notices"));
    }
    let (mut next, mut missed_in_all) = (0, 0);
    let mut noticed = false;
    for item in arrived {
        let Some(id) = item else {
            noticed = true;
            continue;
        };
        let Some(at) = acknowledged[next..].iter().position(|acked| acked == id) else {
            return Err(format!(
                "event {id} arrived out of order, twice, or was never acknowledged"
            ));
        };
        let missed = &acknowledged[next..next + at];
        if !missed.is_empty() {
            if next + at != before_restart {
                return Err(format!(
                    "missed {missed:?}, which are not the last acknowledged before the restart"
                ));
            }
            if !noticed {
                return Err(format!("missed {missed:?} with no gap notice before {id}"));
            }
        }
        missed_in_all += missed.len();
        next += at + 1;
        noticed = false;
    }
    match &acknowledged[next..] {
        [] => Ok(missed_in_all),
        rest => Err(format!("never got {rest:?}")),
    }
}

#[test]
fn check_arrivals_excuses_only_a_noticed_loss_at_the_restart() {
    let acked: Vec<String> = ["1", "2", "3", "4", "5"].map(String::from).to_vec();
    let got = |items: &[&str]| -> Vec<Option<String>> {
        items
            .iter()
            .map(|item| (*item != "gap").then(|| (*item).to_owned()))
            .collect()
    };
    // Redis restarted after 1, 2 and 3 were acknowledged.
    let check = |items: &[&str]| check_arrivals(&acked, 3, &got(items));
    assert_eq!(check(&["1", "2", "3", "4", "5"]), Ok(0));
    assert_eq!(check(&["1", "2", "3", "gap", "4", "5"]), Ok(0));
    assert_eq!(
        check(&["1", "2", "gap", "4", "5"]),
        Ok(1),
        "3 went with Redis"
    );
    assert_eq!(check(&["1", "gap", "4", "5"]), Ok(2), "2 and 3 too");
    assert_eq!(check(&["gap", "4", "5"]), Ok(3), "all three");
    assert!(check(&["4", "5"]).is_err(), "all three, and not told");
    assert!(check(&["1", "2", "4", "5"]).is_err(), "lost, and not told");
    assert!(
        check(&["1", "gap", "3", "4", "5"]).is_err(),
        "2 was still held"
    );
    assert!(check(&["1", "2", "3", "gap", "5"]).is_err(), "4 came after");
    assert!(check(&["1", "2", "3", "4"]).is_err(), "5 never came");
    assert!(check(&["1", "3", "2", "4", "5"]).is_err(), "out of order");
    assert!(check(&["1", "1", "2", "3", "4", "5"]).is_err(), "twice");
    assert!(check(&["1", "gap", "gap", "gap", "2", "3", "4", "5"]).is_err());
}
