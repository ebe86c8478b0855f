//! The hub endpoints: `/hub/subscribe`, `/hub/publish` and `/hub/stats`,
//! on the in-process hub (the two-instance Redis cases are in `redis.rs`).

use std::time::{Duration, Instant};

use ssekit::decode::MessageEvent;

use crate::support::{Adapter, PATIENCE, Server, SseReader, assert_sse_head, fetch, get, h1, open};

/// The type of the hub's in-band gap notice (ssekit's documented
/// `ssekit::hub::GAP_EVENT`).
const GAP: &str = "ssekit-gap";

/// Publishes `data` to `topic` and returns the id the server answered.
pub(crate) async fn publish(server: &Server, topic: &str, data: &str) -> String {
    let target = format!("/hub/publish?topic={topic}");
    let reply = fetch(
        server,
        &h1::Request::post(&target, data.as_bytes().to_vec()),
    )
    .await
    .unwrap_or_else(|err| panic!("{}: POST {target}: {err}", server.adapter.name()));
    assert_eq!(
        reply.head.status,
        200,
        "{}: POST {target}:\n{}{}",
        server.adapter.name(),
        reply.head.dump(),
        reply.text()
    );
    assert_eq!(reply.head.essence().as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
    json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: publish answered {json}", server.adapter.name()))
        .to_owned()
}

/// `GET /hub/stats`'s subscriber count.
pub(crate) async fn subscribers(server: &Server) -> u64 {
    let stats = get(server, "/hub/stats").await;
    assert_eq!(stats.head.status, 200, "{}", stats.head.dump());
    assert_eq!(stats.head.essence().as_deref(), Some("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&stats.body).expect("JSON");
    json["subscribers"]
        .as_u64()
        .unwrap_or_else(|| panic!("/hub/stats said {json}"))
}

/// Waits until `/hub/stats` counts `count` subscribers.
pub(crate) async fn await_subscribers(server: &Server, count: u64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = subscribers(server).await;
        if now == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: /hub/stats still counts {now} subscribers after {PATIENCE:?}, not {count}",
            server.adapter.name()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `/hub/subscribe?topic=T`, with a Last-Event-ID when given, and
/// checks the head.
pub(crate) async fn subscribe(
    server: &Server,
    topic: &str,
    last_event_id: Option<&str>,
) -> SseReader<h1::Response> {
    let mut request = h1::Request::get(format!("/hub/subscribe?topic={topic}"));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let reader = open(server, request).await;
    assert_sse_head(
        reader.head(),
        &format!("{}: /hub/subscribe", server.adapter.name()),
    );
    reader
}

/// The next `n` events.
pub(crate) async fn events(reader: &mut SseReader<h1::Response>, n: usize) -> Vec<MessageEvent> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let (event, _) = reader
            .next_event(PATIENCE)
            .await
            .unwrap_or_else(|err| panic!("event {} of {n}: {err}", got.len() + 1));
        got.push(event);
    }
    got
}

fn data_and_ids(events: &[MessageEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|event| (event.data.as_str(), event.last_event_id.as_ref()))
        .collect()
}

pub(crate) async fn delivers_to_every_subscriber_of_each_topic(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut news = [
        subscribe(&server, "news", None).await,
        subscribe(&server, "news", None).await,
    ];
    let mut sport = subscribe(&server, "sport", None).await;
    await_subscribers(&server, 3).await;

    let first = publish(&server, "news", "one").await;
    let goal = publish(&server, "sport", "goal").await;
    let second = publish(&server, "news", "two\nlines").await;
    for reader in &mut news {
        let got = events(reader, 2).await;
        assert_eq!(
            data_and_ids(&got),
            [("one", first.as_str()), ("two\nlines", second.as_str())],
            "{}",
            adapter.name()
        );
    }
    let got = events(&mut sport, 1).await;
    assert_eq!(
        data_and_ids(&got),
        [("goal", goal.as_str())],
        "{}",
        adapter.name()
    );
}

pub(crate) async fn resumes_after_the_last_event_id(adapter: Adapter) {
    let server = Server::start(adapter).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(publish(&server, "t", &n.to_string()).await);
    }
    let mut resumed = subscribe(&server, "t", Some(&ids[1])).await;
    await_subscribers(&server, 1).await;
    let live = publish(&server, "t", "6").await;
    let got = events(&mut resumed, 4).await;
    assert_eq!(
        data_and_ids(&got),
        [
            ("3", ids[2].as_str()),
            ("4", ids[3].as_str()),
            ("5", ids[4].as_str()),
            ("6", live.as_str())
        ],
        "{}: replay then live, no gap and no duplicate",
        adapter.name()
    );
    // Nothing more: the seam sent nothing twice.
    let more = resumed.next(Duration::from_millis(300)).await;
    assert!(more.is_err(), "{}: unexpected {more:?}", adapter.name());
}

pub(crate) async fn tells_of_a_gap_in_band(adapter: Adapter) {
    let server = Server::start_with(adapter, &["--hub-capacity", "3"]).await;
    let mut ids = Vec::new();
    for n in 1..=6 {
        ids.push(publish(&server, "t", &n.to_string()).await);
    }
    // The id left the window: the notice, then what is retained.
    let mut expired = subscribe(&server, "t", Some(&ids[0])).await;
    let got = events(&mut expired, 4).await;
    assert_eq!(got[0].event_type, GAP, "{}: {got:?}", adapter.name());
    let notice: serde_json::Value = serde_json::from_str(&got[0].data).expect("JSON notice");
    assert_eq!(notice["reason"], "expired", "{}", adapter.name());
    assert_eq!(notice["last_event_id"], ids[0].as_str());
    assert_eq!(
        data_and_ids(&got[1..]),
        [
            ("4", ids[3].as_str()),
            ("5", ids[4].as_str()),
            ("6", ids[5].as_str())
        ],
        "{}",
        adapter.name()
    );

    // An id the hub never gave: the notice, then live events.
    let mut unknown = subscribe(&server, "t", Some("not-a-hub-id")).await;
    let got = events(&mut unknown, 1).await;
    assert_eq!(got[0].event_type, GAP, "{}", adapter.name());
    let notice: serde_json::Value = serde_json::from_str(&got[0].data).expect("JSON notice");
    assert_eq!(notice["reason"], "unknown", "{}", adapter.name());
    await_subscribers(&server, 2).await;
    let live = publish(&server, "t", "7").await;
    let got = events(&mut unknown, 1).await;
    assert_eq!(
        data_and_ids(&got),
        [("7", live.as_str())],
        "{}",
        adapter.name()
    );
}

pub(crate) async fn subscriber_counts_return_to_zero(adapter: Adapter) {
    let server = Server::start(adapter).await;
    assert_eq!(subscribers(&server).await, 0);
    let mut readers = Vec::new();
    for n in 0..50 {
        readers.push(subscribe(&server, &format!("topic-{}", n % 5), None).await);
    }
    await_subscribers(&server, 50).await;
    // Half go away at once, half after reading an event.
    let rest = readers.split_off(25);
    drop(readers);
    publish(&server, "topic-0", "x").await;
    publish(&server, "topic-1", "x").await;
    for (n, mut reader) in rest.into_iter().enumerate() {
        if (25 + n) % 5 < 2 {
            events(&mut reader, 1).await;
        }
    }
    await_subscribers(&server, 0).await;
}

pub(crate) async fn a_slow_consumer_is_bounded_and_loses_nothing(adapter: Adapter) {
    // Room for everything published, so that nothing may be missing.
    const EVENTS: usize = 3000;
    const SIZE: usize = 16 * 1024;
    let server = Server::start_with(adapter, &["--hub-capacity", "4096"]).await;
    let mut fast = subscribe(&server, "t", None).await;
    // Opened, then not read while everything is published.
    let mut slow = subscribe(&server, "t", None).await;
    await_subscribers(&server, 2).await;
    let before = server.resident_bytes();

    let padding = "x".repeat(SIZE);
    let reader = tokio::spawn(async move {
        let got = events(&mut fast, EVENTS).await;
        (fast, got)
    });
    let mut published = Vec::with_capacity(EVENTS);
    for n in 0..EVENTS {
        published.push(publish(&server, "t", &format!("{n} {padding}")).await);
    }
    let (_fast, got) = tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the fast subscriber keeps up while the slow one does not read")
        .expect("reader task");
    let fast_ids: Vec<&str> = got.iter().map(|e| e.last_event_id.as_ref()).collect();
    assert_eq!(
        fast_ids,
        published,
        "{}: the fast subscriber",
        adapter.name()
    );

    let grown = server.resident_bytes().saturating_sub(before);
    let retained = (EVENTS * (SIZE + 64)) as u64;
    assert!(
        grown < retained + (64 << 20),
        "{}: the server grew by {} MiB holding a {} MiB window for a consumer that does not read",
        adapter.name(),
        grown >> 20,
        retained >> 20
    );

    // Now it reads: whatever the policy did, following its retry hints
    // with the Last-Event-ID it got yields every event, once, in order.
    let mut received: Vec<String> = Vec::with_capacity(EVENTS);
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < EVENTS {
        assert!(
            Instant::now() < deadline,
            "{}: slow consumer stalled at {}",
            adapter.name(),
            received.len()
        );
        match slow.next_event(PATIENCE).await {
            Ok((event, _)) => {
                assert_ne!(event.event_type, GAP, "{}: {}", adapter.name(), event.data);
                received.push(event.last_event_id.to_string());
            }
            Err(_) if reconnects < 5 => {
                reconnects += 1;
                let last = received.last().map(String::as_str);
                slow = subscribe(&server, "t", last).await;
            }
            Err(err) => panic!("{}: {err}", adapter.name()),
        }
    }
    // 48 MiB is far more than loopback's socket buffers hold, so it fell
    // more than max_lag behind: the default policy closed it.
    assert!(
        reconnects >= 1,
        "{}: the lagging consumer was never closed",
        adapter.name()
    );
    assert_eq!(
        received,
        published,
        "{}: after {reconnects} reconnects",
        adapter.name()
    );
}
