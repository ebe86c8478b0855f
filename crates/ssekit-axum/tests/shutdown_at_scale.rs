//! Graceful shutdown with a thousand open streams: `axum::serve` with
//! `Shutdown::trigger_after` as its signal ends every stream cleanly, with
//! the farewell, and finishes.

use ssekit_test_support as common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::sse as axum_sse;
use axum::routing::get;
use futures_util::{StreamExt, stream};
use ssekit_axum::{Event, Farewell, Sse, SseLayer};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use common::{Client, Reader, TestServer};

const STREAMS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_1000_open_streams_cleanly_within_a_second() {
    let layer = SseLayer::new();
    let shutdown = layer.shutdown_handle();
    let stats = layer.stats();
    let app = Router::new()
        .route(
            "/ssekit",
            get(|| async {
                Sse::new(stream::iter([Event::default().data("first")]).chain(stream::pending()))
            }),
        )
        .route(
            "/axum",
            get(|| async {
                let first = Ok::<_, Infallible>(axum_sse::Event::default().data("first"));
                axum_sse::Sse::new(stream::iter([first]).chain(stream::pending()))
            }),
        )
        .layer(layer);
    let signal_shutdown = shutdown.clone();
    let mut server = TestServer::start_with(app, move |signal| {
        signal_shutdown.trigger_after(signal, Farewell::new().retry(Duration::from_millis(500)))
    })
    .await;

    // Half the streams are ssekit's own, half axum's behind the layer. At
    // most 50 connect at a time: a burst of hundreds overflows the listen
    // queue (here, opening them all took about 1 s instead of 0.3 s, the
    // time of a SYN retransmission).
    let connecting = Arc::new(Semaphore::new(50));
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(STREAMS);
    let mut clients = JoinSet::new();
    let started = Instant::now();
    for n in 0..STREAMS {
        let path = if n % 2 == 0 { "/ssekit" } else { "/axum" };
        let (addr, connecting, ready_tx) = (server.addr, Arc::clone(&connecting), ready_tx.clone());
        clients.spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let mut client = Client::h1(addr).await;
            let mut reader = Reader::new(client.get(path).await);
            let (first, _) = reader.next_event(Duration::from_secs(3)).await;
            assert_eq!(first.data, "first");
            drop(permit);
            ready_tx.send(()).await.unwrap();
            let seen = reader.raw.len();
            let end = reader.read_to_end(Duration::from_secs(3)).await;
            let ended_at = Instant::now();
            let last_frame = reader.frames.last().map(|(frame, _)| frame.clone());
            (
                path,
                end,
                ended_at,
                reader.raw.split_off(seen),
                last_frame,
                client,
            )
        });
    }
    drop(ready_tx);
    for _ in 0..STREAMS {
        tokio::time::timeout(Duration::from_secs(4), ready_rx.recv())
            .await
            .expect("the streams took too long to open")
            .expect("a client failed before its first event");
    }
    let opened_in = started.elapsed();
    assert_eq!(shutdown.open_streams(), STREAMS);

    let triggered_at = Instant::now();
    server.trigger();
    assert!(
        server.finished_within(Duration::from_secs(1)).await,
        "axum::serve did not finish within 1 s of the trigger"
    );
    let served_for = triggered_at.elapsed();

    let mut ended = 0;
    while let Some(joined) = clients.join_next().await {
        let (path, end, ended_at, tail, last_frame, _client) = joined.unwrap();
        assert_eq!(end, Ok(()), "{path}: the body did not end cleanly");
        let after = ended_at - triggered_at;
        assert!(
            after < Duration::from_secs(1),
            "{path}: ended {after:?} after the trigger"
        );
        // The farewell is all that came after the first event, in the last
        // frame, for ssekit's streams and axum's alike.
        assert_eq!(tail, b"retry: 500\n\n", "{path}");
        assert_eq!(
            last_frame.as_deref(),
            Some(&b"retry: 500\n\n"[..]),
            "{path}"
        );
        ended += 1;
    }
    assert_eq!(ended, STREAMS);
    assert_eq!(shutdown.open_streams(), 0);
    let seen = stats.snapshot();
    assert_eq!(
        (seen.opened, seen.active, seen.shutdown),
        (1000, 0, 1000),
        "{seen:?}"
    );
    assert_eq!(
        (seen.client_gone, seen.stream_ended, seen.errors),
        (0, 0, 0),
        "{seen:?}"
    );
    eprintln!(
        "opened {STREAMS} streams in {opened_in:?}; the server finished {served_for:?} after the trigger"
    );
}
