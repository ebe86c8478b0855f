//! "On SIGTERM or SIGINT every open SSE stream ends cleanly (the HTTP/1.1
//! chunked body is terminated, not reset) within 1 s; the process exits
//! with status 0 within 5 s, whatever number of streams were open."

use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::support::{
    Adapter, Failures, PATIENCE, Server, assert_sse_head, h1, h2, ms, read_body,
    sse_head_violations,
};

const STREAMS_END_WITHIN: Duration = Duration::from_secs(1);
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// Checks how each HTTP/1.1 stream ended after the signal.
fn check_h1_ends(
    ends: &[(String, Option<h1::End>)],
    signalled_at: Instant,
    context: &str,
) -> Vec<String> {
    let mut failures = Vec::new();
    let slowest = ends
        .iter()
        .filter_map(|(_, end)| end.as_ref())
        .map(|end| ms(end.at().saturating_duration_since(signalled_at)))
        .max();
    println!(
        "{context}: the last of {} streams ended {slowest:?} ms after the signal",
        ends.len()
    );
    for (name, end) in ends {
        match end {
            Some(end) if end.is_clean_chunked() => {
                let took = end.at().saturating_duration_since(signalled_at);
                if took > STREAMS_END_WITHIN {
                    failures.push(format!(
                        "{name}: ended cleanly but {} ms after the signal",
                        ms(took)
                    ));
                }
            }
            other => failures.push(format!(
                "{name}: did not end with a clean `0\\r\\n\\r\\n`: {other:?}"
            )),
        }
    }
    if failures.len() > 10 {
        let total = failures.len();
        failures.truncate(10);
        failures.push(format!("… {total} streams in all failed"));
    }
    failures
        .into_iter()
        .map(|failure| format!("{context}: {failure}"))
        .collect()
}

async fn check_exit(
    server: &mut Server,
    signalled_at: Instant,
    failures: &mut Failures,
    context: &str,
) {
    let left = EXIT_WITHIN.saturating_sub(signalled_at.elapsed());
    let exit = server.wait_exit(left).await;
    println!(
        "{context}: exit {exit:?} {} ms after the signal",
        ms(signalled_at.elapsed())
    );
    match exit {
        Some(status) if status.success() => {}
        Some(status) => failures.push(format!("{context}: the server exited with {status}, not 0")),
        None => failures.push(format!(
            "{context}: the server had not exited {} ms after the signal",
            ms(EXIT_WITHIN)
        )),
    }
}

pub(crate) async fn five_hundred_streams_end_cleanly(adapter: Adapter) {
    const STREAMS: usize = 500;
    let context = format!(
        "{} SIGTERM with {STREAMS} open /idle streams",
        adapter.name()
    );
    let mut server = Server::start(adapter).await;
    let addr = server.addr;

    let mut opening = JoinSet::new();
    for index in 0..STREAMS {
        opening.spawn(async move {
            let request =
                h1::Request::get("/idle?hb_ms=60000").header("Accept", "text/event-stream");
            (
                index,
                tokio::time::timeout(PATIENCE * 2, request.send(addr)).await,
            )
        });
    }
    let mut responses = Vec::with_capacity(STREAMS);
    while let Some(joined) = opening.join_next().await {
        let (index, result) = joined.expect("opening task");
        let response = result
            .unwrap_or_else(|_| {
                panic!(
                    "{context}: stream #{index}: no head within {:?}",
                    PATIENCE * 2
                )
            })
            .unwrap_or_else(|err| panic!("{context}: stream #{index}: {err}"));
        let violations = sse_head_violations(&response.head);
        assert!(
            violations.is_empty(),
            "{context}: stream #{index}: {violations:?}"
        );
        responses.push((index, response));
    }

    let signalled_at = Instant::now();
    server.signal("TERM").await;
    let mut reading = JoinSet::new();
    for (index, mut response) in responses {
        reading.spawn(async move {
            let _ = read_body(&mut response, STREAMS_END_WITHIN * 3).await;
            (format!("stream #{index}"), response.end)
        });
    }
    let mut ends = Vec::with_capacity(STREAMS);
    while let Some(joined) = reading.join_next().await {
        ends.push(joined.expect("reading task"));
    }

    let mut failures = Failures::default();
    for failure in check_h1_ends(&ends, signalled_at, &context) {
        failures.push(failure);
    }
    check_exit(&mut server, signalled_at, &mut failures, &context).await;
    failures.assert_none(&format!("{context}; server stderr:\n{}", server.stderr()));
}

/// SIGINT does the same, for streams in every state: idle, ticking, and
/// in the middle of a finite sequence.
pub(crate) async fn sigint_ends_streams_cleanly(adapter: Adapter) {
    let context = format!("{} SIGINT with streams in every state", adapter.name());
    let mut server = Server::start(adapter).await;
    let mut readers = Vec::new();
    for target in [
        "/idle?hb_ms=60000",
        "/ticks?interval_ms=50",
        "/events?count=1000000&interval_ms=20",
        "/probe?token=sigint&hb_ms=100",
    ] {
        let mut reader = crate::support::open(&server, h1::Request::get(target)).await;
        assert_sse_head(reader.head(), &format!("{context}: GET {target}"));
        if !target.starts_with("/idle") {
            reader
                .next(Duration::from_secs(2))
                .await
                .unwrap_or_else(|err| panic!("{context}: GET {target}: {err}"));
        }
        readers.push((target, reader));
    }
    let signalled_at = Instant::now();
    server.signal("INT").await;
    let mut ends = Vec::new();
    for (target, mut reader) in readers {
        let _ = reader.read_to_end(STREAMS_END_WITHIN * 3).await;
        ends.push((format!("GET {target}"), reader.body.end.clone()));
    }
    let mut failures = Failures::default();
    for failure in check_h1_ends(&ends, signalled_at, &context) {
        failures.push(failure);
    }
    check_exit(&mut server, signalled_at, &mut failures, &context).await;
    failures.assert_none(&format!("{context}; server stderr:\n{}", server.stderr()));
}

/// Over HTTP/2 a clean end is `END_STREAM`, not a reset.
pub(crate) async fn streams_end_cleanly_h2(adapter: Adapter) {
    let context = format!("{} SIGTERM with h2c streams open", adapter.name());
    let mut server = Server::start(adapter).await;
    // Two connections, three streams on each.
    let mut connections = Vec::new();
    for _ in 0..2 {
        let mut client = h2::Client::connect(server.addr)
            .await
            .unwrap_or_else(|err| panic!("{context}: {err}"));
        let mut responses = Vec::new();
        for target in [
            "/idle?hb_ms=60000",
            "/ticks?interval_ms=50",
            "/idle?hb_ms=100",
        ] {
            let response = tokio::time::timeout(PATIENCE, client.get(target, &[]))
                .await
                .unwrap_or_else(|_| panic!("{context}: GET {target}: no head within {PATIENCE:?}"))
                .unwrap_or_else(|err| panic!("{context}: GET {target}: {err}"));
            assert_sse_head(&response.head, &format!("{context}: GET {target}"));
            responses.push((target, response));
        }
        connections.push((client, responses));
    }
    let signalled_at = Instant::now();
    server.signal("TERM").await;
    let mut failures = Failures::default();
    for (_client, responses) in &mut connections {
        for (target, response) in responses {
            let result = read_body(response, STREAMS_END_WITHIN * 3).await;
            let took = signalled_at.elapsed();
            match result {
                Ok(_) if took <= STREAMS_END_WITHIN => {}
                Ok(_) => failures.push(format!(
                    "{context}: GET {target} ended cleanly, but {} ms after the signal",
                    ms(took)
                )),
                Err(err) => failures.push(format!(
                    "{context}: GET {target} did not end cleanly: {err}"
                )),
            }
        }
    }
    check_exit(&mut server, signalled_at, &mut failures, &context).await;
    failures.assert_none(&format!("{context}; server stderr:\n{}", server.stderr()));
}
