//! The stream machine on a paused tokio clock: heartbeat cadence, coalescing,
//! every disconnect reason, and shutdown.

use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt, stream};
use ssekit::shutdown::Farewell;
use ssekit::{Decoder, Event, Shutdown, SseStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn event(data: &str) -> Event {
    Event::default().data(data)
}

/// A source the test feeds by hand.
fn channel() -> (
    mpsc::UnboundedSender<Event>,
    impl Stream<Item = Event> + Unpin,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

async fn next_frame<S: Stream<Item = Bytes> + Unpin>(body: &mut S) -> String {
    String::from_utf8(body.next().await.expect("a frame").to_vec()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_beats_once_per_interval_counted_from_its_start() {
    let (_tx, events) = channel();
    let start = Instant::now();
    let mut body = SseStream::new(events).heartbeat(Duration::from_secs(1));
    for n in 1..=3 {
        assert_eq!(next_frame(&mut body).await, ":\n\n");
        assert_eq!(start.elapsed(), Duration::from_secs(n));
    }
}

#[tokio::test(start_paused = true)]
async fn an_event_pushes_the_next_heartbeat_back_without_resetting_the_timer() {
    let (tx, events) = channel();
    let start = Instant::now();
    let mut body = SseStream::new(events).heartbeat(Duration::from_secs(10));
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        tx.send(event("a")).unwrap();
        tokio::time::sleep(Duration::from_secs(100)).await;
        drop(tx);
    });
    assert_eq!(next_frame(&mut body).await, "data: a\n\n");
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    // Due 10 s after the event, not 10 s after the start: at the heartbeat
    // clock's next tick (an eighth of the interval apart), never before.
    assert_eq!(next_frame(&mut body).await, ":\n\n");
    let first = start.elapsed();
    assert!(
        first >= Duration::from_secs(14) && first <= Duration::from_millis(15_250),
        "{first:?}"
    );
    // Idle from then on: one interval apart.
    assert_eq!(next_frame(&mut body).await, ":\n\n");
    assert_eq!(start.elapsed(), first + Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_steady_stream_gets_no_heartbeats() {
    let ticks = stream::unfold(0u32, |n| async move {
        tokio::time::sleep(Duration::from_millis(900)).await;
        (n < 20).then(|| (event(&n.to_string()), n + 1))
    });
    let frames: Vec<Bytes> = SseStream::new(ticks)
        .heartbeat(Duration::from_secs(1))
        .collect()
        .await;
    assert_eq!(frames.len(), 20);
    assert!(frames.iter().all(|f| f.starts_with(b"data: ")));
}

#[tokio::test(start_paused = true)]
async fn heartbeats_fall_only_between_whole_events() {
    let slow = stream::unfold(0u32, |n| async move {
        tokio::time::sleep(Duration::from_millis(if n % 3 == 0 { 2500 } else { 10 })).await;
        (n < 12).then(|| (event(&format!("line one {n}\nline two {n}")), n + 1))
    });
    let frames: Vec<Bytes> = SseStream::new(slow)
        .heartbeat(Duration::from_secs(1))
        .collect()
        .await;
    let mut decoder = Decoder::new();
    let mut events = 0;
    for frame in &frames {
        assert!(
            frame.ends_with(b"\n\n"),
            "a frame ends mid-event: {frame:?}"
        );
        events += decoder
            .feed(frame)
            .into_iter()
            .filter(|item| matches!(item, Ok(ssekit::decode::Item::Event(_))))
            .count();
    }
    assert_eq!(events, 12);
    assert!(frames.iter().filter(|f| &f[..] == b":\n\n").count() >= 8);
}

#[tokio::test(start_paused = true)]
async fn heartbeats_can_be_turned_off() {
    let (_tx, events) = channel();
    let mut body = SseStream::new(events).heartbeat(None);
    let waited = tokio::time::timeout(Duration::from_secs(3600), body.next()).await;
    assert!(waited.is_err(), "a frame arrived: {waited:?}");
}

#[tokio::test]
async fn ready_events_leave_as_one_frame() {
    let (tx, events) = channel();
    for n in 0..5 {
        tx.send(event(&n.to_string())).unwrap();
    }
    let mut body = SseStream::new(events).retry(Duration::from_millis(50));
    assert_eq!(
        next_frame(&mut body).await,
        "retry: 50\n\ndata: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"
    );
    tx.send(event("5")).unwrap();
    assert_eq!(next_frame(&mut body).await, "data: 5\n\n");
}

#[tokio::test]
async fn coalescing_stops_at_the_frame_bound_and_loses_nothing() {
    let events = stream::iter((0..100).map(|n| event(&format!("{n:04}"))));
    // "data: 0000\n\n" is 12 bytes: four fit in 50.
    let frames: Vec<Bytes> = SseStream::new(events).max_frame(50).collect().await;
    assert!(frames.iter().all(|f| f.len() <= 50));
    assert_eq!(frames.len(), 25);
    let all: Vec<u8> = frames.concat();
    let expected: String = (0..100).map(|n| format!("data: {n:04}\n\n")).collect();
    assert_eq!(String::from_utf8(all).unwrap(), expected);
}

#[tokio::test]
async fn an_event_larger_than_the_bound_goes_alone() {
    let big = "x".repeat(100);
    let events = stream::iter([event("a"), event(&big), event("b")]);
    let frames: Vec<Bytes> = SseStream::new(events).max_frame(20).collect().await;
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].len(), 100 + "data: \n\n".len());
}

#[tokio::test]
async fn the_end_of_the_source_is_reported() {
    let mut body = SseStream::new(stream::iter([event("a")]));
    let disconnect = body.disconnect();
    assert!(disconnect.reason().is_none());
    assert_eq!(next_frame(&mut body).await, "data: a\n\n");
    assert_eq!(body.next().await, None);
    assert_eq!(disconnect.wait().await.as_str(), "stream_ended");
}

#[tokio::test]
async fn dropping_the_body_early_means_the_client_is_gone() {
    let (_tx, events) = channel();
    let mut body = SseStream::new(events);
    let disconnect = body.disconnect();
    let again = body.disconnect();
    drop(body);
    assert_eq!(disconnect.wait().await.as_str(), "client_gone");
    assert_eq!(again.reason().unwrap().as_str(), "client_gone");
}

#[tokio::test]
async fn an_error_ends_the_body_cleanly_and_is_reported() {
    let events = stream::iter([
        Ok(event("before")),
        Err(std::io::Error::other("database went away")),
        Ok(event("never")),
    ]);
    let mut body = SseStream::new(events);
    let disconnect = body.disconnect();
    let frames: Vec<Bytes> = body.collect().await;
    assert_eq!(frames, [Bytes::from("data: before\n\n")]);
    let reason = disconnect.reason().unwrap();
    assert_eq!(reason.as_str(), "error");
    assert_eq!(
        reason.to_string(),
        "the event stream failed: database went away"
    );
}

#[tokio::test]
async fn an_ended_source_is_never_polled_again() {
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&ended);
    let mut once = Some(event("only"));
    let source = stream::poll_fn(move |_| match once.take() {
        Some(event) => Poll::Ready(Some(event)),
        None => {
            assert_eq!(
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                0,
                "polled after its end"
            );
            Poll::Ready(None)
        }
    });
    let mut body = SseStream::new(source);
    assert_eq!(next_frame(&mut body).await, "data: only\n\n");
    for _ in 0..3 {
        assert_eq!(body.next().await, None);
    }
    assert_eq!(ended.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_sends_the_farewell_to_every_stream_and_ends_them() {
    let shutdown = Shutdown::new();
    let mut bodies: Vec<_> = (0..100)
        .map(|_| {
            let (tx, events) = channel();
            let mut body = SseStream::new(events).with_shutdown(&shutdown);
            let disconnect = body.disconnect();
            (tx, body, disconnect)
        })
        .collect();
    assert_eq!(shutdown.open_streams(), 100);
    // Poll each once so they are parked, as a server's would be.
    for (_, body, _) in &mut bodies {
        assert!(body.next().now_or_never().is_none());
    }
    shutdown.trigger_with(
        Farewell::new()
            .event(Event::default().event("bye").unwrap().data("restarting"))
            .retry(Duration::from_millis(1000))
            .jitter(Duration::from_millis(500)),
    );
    let mut retries = std::collections::BTreeSet::new();
    for (tx, body, disconnect) in &mut bodies {
        // Events sent after the trigger are not delivered.
        let _ = tx.send(event("late"));
        let frame = next_frame(body).await;
        let (farewell, retry) = frame.split_once("\n\n").unwrap();
        assert_eq!(farewell, "event: bye\ndata: restarting");
        let retry: u64 = retry
            .strip_prefix("retry: ")
            .and_then(|r| r.strip_suffix("\n\n"))
            .unwrap()
            .parse()
            .unwrap();
        assert!((1000..=1500).contains(&retry), "{retry}");
        retries.insert(retry);
        assert_eq!(body.next().await, None);
        assert_eq!(disconnect.reason().unwrap().as_str(), "shutdown");
    }
    assert!(
        retries.len() > 10,
        "jitter spreads the retries: {retries:?}"
    );
    drop(bodies);
    assert_eq!(shutdown.open_streams(), 0);
}

#[tokio::test]
async fn a_stream_made_after_the_trigger_ends_at_once() {
    let shutdown = Shutdown::new();
    shutdown.trigger();
    let (tx, events) = channel();
    tx.send(event("a")).unwrap();
    let mut body = SseStream::new(events).with_shutdown(&shutdown);
    let disconnect = body.disconnect();
    assert_eq!(body.next().await, None);
    assert_eq!(disconnect.reason().unwrap().as_str(), "shutdown");
}

#[tokio::test]
async fn shutdown_wakes_a_parked_stream() {
    let shutdown = Shutdown::new();
    let (_tx, events) = channel();
    let mut body = SseStream::new(events).with_shutdown(&shutdown);
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        trigger.trigger();
    });
    let ended = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
    assert_eq!(ended.unwrap(), None);
}

mod handoff_and_stats {
    const HEARTBEAT_LEN: usize = ssekit::heartbeat::HEARTBEAT.len();

    use std::sync::Arc;

    use super::*;
    use ssekit::disconnect;
    use ssekit::stats::Stats;
    use ssekit::{Duties, Shutdown};

    #[tokio::test(start_paused = true)]
    async fn a_layer_s_duties_apply_at_the_first_poll() {
        let (_tx, events) = channel();
        let stats = Arc::new(Stats::default());
        let shutdown = Shutdown::new();
        let (notifier, layer_disconnect) = disconnect::pair();
        let mut body = SseStream::new(events);
        let own_disconnect = body.disconnect();
        body.handoff().hand_over(
            Duties::new()
                .heartbeat(Some(Duration::from_secs(2)))
                .shutdown(shutdown.clone())
                .notifier(Some(notifier))
                .stats(Arc::clone(&stats)),
        );
        let start = Instant::now();
        assert_eq!(next_frame(&mut body).await, ":\n\n");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(stats.snapshot().active, 1);
        assert_eq!(stats.snapshot().heartbeats, 1);
        shutdown.trigger();
        assert_eq!(body.next().await, None);
        assert_eq!(own_disconnect.reason().unwrap().as_str(), "shutdown");
        assert_eq!(layer_disconnect.reason().unwrap().as_str(), "shutdown");
        let seen = stats.snapshot();
        assert_eq!((seen.active, seen.shutdown), (0, 1));
        // The farewell's bytes count too (an empty farewell here).
        assert_eq!(seen.bytes, u64::try_from(HEARTBEAT_LEN).unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_the_stream_chose_is_kept() {
        let (_tx, events) = channel();
        let mut body = SseStream::new(events).heartbeat(Duration::from_secs(5));
        body.handoff()
            .hand_over(Duties::new().heartbeat(Some(Duration::from_secs(1))));
        let start = Instant::now();
        assert_eq!(next_frame(&mut body).await, ":\n\n");
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_layer_may_turn_default_heartbeats_off() {
        let (_tx, events) = channel();
        let mut body = SseStream::new(events);
        body.handoff().hand_over(Duties::new().heartbeat(None));
        let waited = tokio::time::timeout(Duration::from_secs(60), body.next()).await;
        assert!(waited.is_err());
    }

    #[tokio::test]
    async fn a_farewell_is_counted_in_the_bytes_sent() {
        let stats = Arc::new(Stats::default());
        let shutdown = Shutdown::new();
        let (_tx, events) = channel();
        let mut body = SseStream::new(events)
            .with_stats(&stats)
            .with_shutdown(&shutdown);
        shutdown.trigger_with(Farewell::new().retry(Duration::from_millis(10)));
        let frame = body.next().await.unwrap();
        assert_eq!(stats.snapshot().bytes, frame.len() as u64);
    }

    #[tokio::test]
    async fn stats_count_events_bytes_and_how_streams_end() {
        let stats = Arc::new(Stats::default());
        let (tx, events) = channel();
        for n in 0..3 {
            tx.send(event(&n.to_string())).unwrap();
        }
        let mut body = SseStream::new(events).with_stats(&stats);
        let frame = body.next().await.unwrap();
        let seen = stats.snapshot();
        assert_eq!((seen.opened, seen.active, seen.events), (1, 1, 3));
        assert_eq!(seen.bytes, frame.len() as u64);
        drop(body);
        let seen = stats.snapshot();
        assert_eq!((seen.active, seen.client_gone), (0, 1));

        let failing = stream::iter([Err::<Event, _>(std::io::Error::other("x"))]);
        let _: Vec<Bytes> = SseStream::new(failing).with_stats(&stats).collect().await;
        let ended = stream::iter([event("a")]);
        let _: Vec<Bytes> = SseStream::new(ended).with_stats(&stats).collect().await;
        let seen = stats.snapshot();
        assert_eq!(
            (
                seen.opened,
                seen.active,
                seen.errors,
                seen.stream_ended,
                seen.events
            ),
            (3, 0, 1, 1, 4)
        );
    }
}

mod bounded_shutdown {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_server_that_finishes_in_time_gives_its_output() {
        let shutdown = Shutdown::new();
        let trigger = shutdown.clone();
        let server = async move {
            trigger.trigger();
            tokio::time::sleep(Duration::from_secs(1)).await;
            "done"
        };
        let served = shutdown.bounded(server, Duration::from_secs(5)).await;
        assert_eq!(served, Some("done"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_held_by_a_stuck_client_is_cut_after_the_grace() {
        let shutdown = Shutdown::new();
        let start = Instant::now();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            trigger.trigger();
        });
        let stuck = std::future::pending::<()>();
        assert_eq!(shutdown.bounded(stuck, Duration::from_secs(5)).await, None);
        // The grace counts from the trigger, not from the start.
        assert_eq!(start.elapsed(), Duration::from_secs(15));
    }
}
