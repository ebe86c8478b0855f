//! Hubs as server instances on one real Redis: what one publishes, every
//! one delivers; a client resumes on any; Redis going away loses nothing it
//! still holds and drops nothing silently.

mod support;

use std::time::{Duration, Instant};

use ssekit::Event;
use ssekit::hub::{EventId, Hub};
use ssekit_redis::{RedisBackplane, RedisStats};
use support::{Connect, Listener, Proxy, RedisServer, is_gap};

/// An instance: a hub on the Redis at `url`, quick to notice and to retry.
fn instance(
    url: &str,
    setup: impl FnOnce(ssekit_redis::Builder) -> ssekit_redis::Builder,
) -> (Hub, RedisStats) {
    instance_with(url, 1024, setup)
}

fn instance_with(
    url: &str,
    capacity: usize,
    setup: impl FnOnce(ssekit_redis::Builder) -> ssekit_redis::Builder,
) -> (Hub, RedisStats) {
    let builder = RedisBackplane::builder(url)
        .timeout(Duration::from_secs(1))
        .backoff(Duration::from_millis(20), Duration::from_millis(200));
    let backplane = setup(builder).build().unwrap();
    let stats = backplane.stats();
    (
        Hub::builder()
            .capacity(capacity)
            .backplane(backplane)
            .build(),
        stats,
    )
}

fn same(builder: ssekit_redis::Builder) -> ssekit_redis::Builder {
    builder
}

async fn publish_all(
    hub: &Hub,
    topic: &str,
    data: impl IntoIterator<Item = String>,
) -> Vec<EventId> {
    let mut ids = Vec::new();
    for data in data {
        ids.push(
            hub.publish(topic, Event::default().data(data))
                .await
                .unwrap(),
        );
    }
    ids
}

/// The stream's first entry id, as Redis has it.
async fn first_in_stream(redis: &RedisServer, key: &str) -> EventId {
    let mut connection = redis.connection().await;
    let first: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut connection)
        .await
        .unwrap();
    first[0].0.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_instance_publishes_reaches_both() {
    let redis = RedisServer::start().await;
    let (one, one_stats) = instance(&redis.url(), same);
    let (two, two_stats) = instance(&redis.url(), same);
    let mut here = Listener::new(one.subscribe("news", None).await.unwrap());
    let mut there = Listener::new(two.subscribe("news", None).await.unwrap());
    assert_eq!(two_stats.snapshot().watched, 1);

    let id = one
        .publish(
            "news",
            Event::default()
                .event("greeting")
                .unwrap()
                .data("hello\nworld"),
        )
        .await
        .unwrap();
    for listener in [&mut here, &mut there] {
        let event = listener.next().await;
        assert_eq!(event.event_type, "greeting");
        assert_eq!(event.data, "hello\nworld");
        assert_eq!(&*event.last_event_id, id.to_string());
    }
    let back = two
        .publish("news", Event::default().data("back"))
        .await
        .unwrap();
    assert!(back > id);
    for listener in [&mut here, &mut there] {
        let event = listener.next().await;
        assert_eq!(
            (event.data.as_str(), event.last_event_id.to_string()),
            ("back", back.to_string())
        );
    }

    // The event ids are the stream's entry ids.
    let mut connection = redis.connection().await;
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg("ssekit:news")
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap();
    let stored: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(stored, [id.to_string(), back.to_string()]);

    let (one_seen, two_seen) = (one_stats.snapshot(), two_stats.snapshot());
    assert_eq!((one_seen.published, one_seen.delivered), (1, 2));
    assert_eq!((two_seen.published, two_seen.delivered), (1, 2));
    assert_eq!(
        two_seen.publish_errors + two_seen.gaps + two_seen.reconnects,
        0
    );

    // The last subscriber gone, the instance stops reading the topic.
    drop(there);
    assert_eq!(two_stats.snapshot().watched, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_instance() {
    let redis = RedisServer::start().await;
    let (one, _) = instance(&redis.url(), same);
    let (two, _) = instance(&redis.url(), same);
    let ids = publish_all(&one, "feed", (0..5).map(|n| format!("e{n}"))).await;

    // Instance two never had the topic: what followed comes from the stream.
    let mut resumed = Listener::new(
        two.subscribe("feed", Some(&ids[1].to_string()))
            .await
            .unwrap(),
    );
    for (n, id) in ids.iter().enumerate().skip(2) {
        let event = resumed.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{n}"), id.to_string())
        );
    }
    // Then live, with no duplicate at the seam.
    let live = one
        .publish("feed", Event::default().data("e5"))
        .await
        .unwrap();
    let event = resumed.next().await;
    assert_eq!(
        (event.data.as_str(), event.last_event_id.to_string()),
        ("e5", live.to_string())
    );
    assert!(resumed.quiet_for(Duration::from_millis(200)).await);

    // An id the stream never had is unknown: the notice, then live events.
    let mut forged = Listener::new(two.subscribe("feed", Some("1-0")).await.unwrap());
    let mut stranger = Listener::new(
        two.subscribe("feed", Some(&format!("{}-99", live.major())))
            .await
            .unwrap(),
    );
    assert!(is_gap(&stranger.next().await, "unknown"));
    // "1-0" is older than the stream's first entry: expired, so everything
    // the stream holds follows.
    assert!(is_gap(&forged.next().await, "expired"));
    assert_eq!(forged.next().await.data, "e0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_left_the_window_is_replayed_from_the_stream() {
    let redis = RedisServer::start().await;
    let (one, _) = instance(&redis.url(), same);
    let (two, _) = instance_with(&redis.url(), 2, same);
    let mut watcher = Listener::new(two.subscribe("log", None).await.unwrap());
    let mut ids = Vec::new();
    for n in 0..6 {
        // One at a time: a watcher more than one event behind would be
        // closed for lagging with so small a window.
        let id = one
            .publish("log", Event::default().data(format!("e{n}")))
            .await
            .unwrap();
        assert_eq!(&*watcher.next().await.last_event_id, id.to_string());
        ids.push(id);
    }
    // Two's window holds only e4 and e5 now; e2 and e3 come from XRANGE.
    let mut resumed = Listener::new(
        two.subscribe("log", Some(&ids[1].to_string()))
            .await
            .unwrap(),
    );
    for (n, id) in ids.iter().enumerate().skip(2) {
        let event = resumed.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{n}"), id.to_string())
        );
    }
    assert!(resumed.quiet_for(Duration::from_millis(200)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_trimmed_from_the_stream_gets_the_expired_notice() {
    let redis = RedisServer::start().await;
    let (one, _) = instance(&redis.url(), |b| b.maxlen(10));
    let (two, _) = instance(&redis.url(), same);
    let ids = publish_all(&one, "busy", (0..300).map(|n| format!("e{n}"))).await;
    let first = first_in_stream(&redis, "ssekit:busy").await;
    assert!(first > ids[0], "MAXLEN ~ 10 trimmed nothing");

    let mut resumed = Listener::new(
        two.subscribe("busy", Some(&ids[0].to_string()))
            .await
            .unwrap(),
    );
    assert!(is_gap(&resumed.next().await, "expired"));
    let at = ids.iter().position(|id| *id == first).unwrap();
    for (n, id) in ids.iter().enumerate().skip(at) {
        let event = resumed.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{n}"), id.to_string())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_instance_catches_up_on_everything_redis_holds() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let (one, _) = instance(&redis.url(), same);
    let (two, two_stats) = instance(&proxy.url(), same);
    let mut there = Listener::new(two.subscribe("t", None).await.unwrap());
    let first = one.publish("t", Event::default().data("e0")).await.unwrap();
    assert_eq!(&*there.next().await.last_event_id, first.to_string());

    proxy.cut().await;
    let ids = publish_all(&one, "t", (1..=20).map(|n| format!("e{n}"))).await;
    // Two cannot publish meanwhile, and says so promptly.
    let asked = Instant::now();
    let refused = two.publish("t", Event::default().data("lost?")).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "took {:?}",
        asked.elapsed()
    );
    proxy.restore();

    for (n, id) in ids.iter().enumerate() {
        let event = there.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{}", n + 1), id.to_string())
        );
    }
    let seen = two_stats.snapshot();
    assert!(seen.reconnects >= 1, "{seen:?}");
    assert_eq!((seen.gaps, seen.publish_errors, seen.delivered), (0, 1, 21));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimmed_while_cut_off_gives_the_backplane_notice() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let (one, _) = instance(&redis.url(), |b| b.maxlen(10));
    let (two, two_stats) = instance(&proxy.url(), same);
    let mut there = Listener::new(two.subscribe("t", None).await.unwrap());
    let first = one.publish("t", Event::default().data("e0")).await.unwrap();
    assert_eq!(&*there.next().await.last_event_id, first.to_string());

    proxy.cut().await;
    let ids = publish_all(&one, "t", (1..=300).map(|n| format!("e{n}"))).await;
    let kept = first_in_stream(&redis, "ssekit:t").await;
    proxy.restore();

    let notice = there.next().await;
    assert!(
        is_gap(&notice, "backplane"),
        "{notice:?} {:?} kept {kept} first {first}",
        two_stats.snapshot()
    );
    // Then what the stream still holds, to the end.
    let at = ids.iter().position(|id| *id == kept).unwrap();
    for (n, id) in ids.iter().enumerate().skip(at) {
        let event = there.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{}", n + 1), id.to_string())
        );
    }
    assert_eq!(two_stats.snapshot().gaps, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_stay_connected_through_a_redis_restart() {
    let mut redis = RedisServer::start().await;
    let (one, one_stats) = instance(&redis.url(), same);
    let (two, two_stats) = instance(&redis.url(), same);
    let mut here = Listener::new(one.subscribe("news", None).await.unwrap());
    let mut there = Listener::new(two.subscribe("news", None).await.unwrap());
    let before = one
        .publish("news", Event::default().data("before"))
        .await
        .unwrap();
    for listener in [&mut here, &mut there] {
        assert_eq!(&*listener.next().await.last_event_id, before.to_string());
    }

    redis.kill();
    for hub in [&one, &two] {
        let asked = Instant::now();
        let refused = hub.publish("news", Event::default().data("nobody")).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "took {:?}",
            asked.elapsed()
        );
    }

    // A new topic cannot be armed either, and the subscriber is told.
    let asked = Instant::now();
    assert!(two.subscribe("elsewhere", None).await.is_err());
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "took {:?}",
        asked.elapsed()
    );

    redis.restart().await;
    let mut after = None;
    for _ in 0..50 {
        if let Ok(id) = one.publish("news", Event::default().data("after")).await {
            after = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = after.expect("publishing works again once Redis is back");
    for listener in [&mut here, &mut there] {
        // Redis came back empty: the entry read last is gone, so events
        // may be missing, and the subscribers are told so.
        assert!(is_gap(&listener.next().await, "backplane"));
        let event = listener.next().await;
        assert_eq!(
            (event.data.as_str(), event.last_event_id.to_string()),
            ("after", after.to_string())
        );
    }
    for stats in [&one_stats, &two_stats] {
        let seen = stats.snapshot();
        assert!(seen.reconnects >= 1 && seen.publish_errors >= 1, "{seen:?}");
        assert_eq!(seen.watched, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_topic_does_not_wait_for_the_blocking_read() {
    let redis = RedisServer::start().await;
    let (one, _) = instance(&redis.url(), same);
    let (two, _) = instance(&redis.url(), |b| b.block(Duration::from_secs(60)));
    let _busy = two.subscribe("a", None).await.unwrap();
    // Give the reader time to block on "a" alone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut late = Listener::new(two.subscribe("b", None).await.unwrap());
    let id = one
        .publish("b", Event::default().data("now"))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), late.next())
        .await
        .expect("the reader was woken for the new topic");
    assert_eq!(&*event.last_event_id, id.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_hub_stops_its_reader() {
    let redis = RedisServer::start().await;
    let mut look = redis.connection().await;
    // Waits (boundedly) until Redis has `want` clients; gives how many.
    let mut settle = async |want: usize| -> usize {
        let mut count = 0;
        for _ in 0..200 {
            let list: String = redis::cmd("CLIENT")
                .arg("LIST")
                .query_async(&mut look)
                .await
                .unwrap();
            count = list.lines().count();
            if count == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        count
    };
    let alone = settle(1).await;
    assert_eq!(alone, 1);
    let (hub, _) = instance(&redis.url(), |b| b.block(Duration::from_secs(60)));
    let subscription = hub.subscribe("news", None).await.unwrap();
    // The reader's connection and the command connection.
    assert_eq!(settle(3).await, 3);
    drop(subscription);
    drop(hub);
    assert_eq!(
        settle(1).await,
        1,
        "the backplane's connections outlived the hub"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_falls_behind_the_trimming_gives_the_notice() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let (one, _) = instance(&redis.url(), |b| b.maxlen(10));
    let (two, two_stats) = instance(&proxy.url(), |b| b.maxlen(10));
    let mut there = Listener::new(two.subscribe("t", None).await.unwrap());
    let mut ids = publish_all(&one, "t", ["e0".to_owned()]).await;
    assert_eq!(&*there.next().await.last_event_id, ids[0].to_string());

    // The reader stays connected, but what Redis answers it is held up
    // while the stream is trimmed past it.
    proxy.pause();
    ids.extend(publish_all(&one, "t", (1..300).map(|n| format!("e{n}"))).await);
    let kept = first_in_stream(&redis, "ssekit:t").await;
    proxy.resume();

    // Whatever its held-up read had, then the notice, then what the
    // stream still holds, to the end.
    let mut event = there.next().await;
    let mut read = 1;
    while !is_gap(&event, "backplane") {
        assert_eq!(&*event.last_event_id, ids[read].to_string());
        read += 1;
        assert!(read < 100, "no notice: {event:?}");
        event = there.next().await;
    }
    let at = ids.iter().position(|id| *id == kept).unwrap();
    assert!(at > read, "nothing was lost");
    for (n, id) in ids.iter().enumerate().skip(at) {
        let event = there.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{n}"), id.to_string())
        );
    }
    let seen = two_stats.snapshot();
    assert_eq!((seen.gaps, seen.reconnects), (1, 0), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_trimmed_before_its_first_read_gives_the_notice() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let (one, _) = instance(&redis.url(), |b| b.maxlen(10));
    let (two, two_stats) = instance(&proxy.url(), |b| b.maxlen(10));
    // Armed on an empty stream: no entry of it read yet.
    let mut there = Listener::new(two.subscribe("fresh", None).await.unwrap());

    proxy.cut().await;
    let ids = publish_all(&one, "fresh", (0..300).map(|n| format!("e{n}"))).await;
    let kept = first_in_stream(&redis, "ssekit:fresh").await;
    proxy.restore();

    assert!(is_gap(&there.next().await, "backplane"));
    let at = ids.iter().position(|id| *id == kept).unwrap();
    for (n, id) in ids.iter().enumerate().skip(at) {
        let event = there.next().await;
        assert_eq!(
            (event.data, event.last_event_id.to_string()),
            (format!("e{n}"), id.to_string())
        );
    }
    assert_eq!(two_stats.snapshot().gaps, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_waits_for_the_arming_and_none_can_abandon_it() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let (one, _) = instance(&redis.url(), same);
    let (two, _) = instance(&proxy.url(), same);
    // Instance two's answers are held up: its arming cannot finish yet.
    proxy.pause();
    let first = tokio::spawn({
        let two = two.clone();
        async move { two.subscribe("t", None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn({
        let two = two.clone();
        async move { two.subscribe("t", None).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The subscriber that started the arming goes away mid-way.
    first.abort();
    assert!(
        !second.is_finished(),
        "the second subscriber waits for the arming too"
    );
    proxy.resume();
    let mut second = Listener::new(
        tokio::time::timeout(support::PATIENCE, second)
            .await
            .expect("armed")
            .unwrap()
            .unwrap(),
    );
    let id = one
        .publish("t", Event::default().data("after"))
        .await
        .unwrap();
    let event = second.next().await;
    assert_eq!(
        (event.data.as_str(), &*event.last_event_id),
        ("after", id.to_string().as_str())
    );
}
