//! The hub: fan-out, resume, gap notices, the lag policies and counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use ssekit::decode::{Item, MessageEvent, decode_all};
use ssekit::hub::{
    Backplane, BackplaneError, BoxFuture, EventId, GAP_EVENT, History, Hub, Inbox, LagPolicy,
    Retention, Subscription,
};
use ssekit::{Encoded, Event};

fn event(data: &str) -> Event {
    Event::default().data(data)
}

fn messages(frame: &[u8]) -> Vec<MessageEvent> {
    decode_all(frame)
        .expect("decodes")
        .into_iter()
        .filter_map(|item| match item {
            Item::Event(message) => Some(message),
            _ => None,
        })
        .collect()
}

fn data(frame: &[u8]) -> Vec<String> {
    messages(frame).into_iter().map(|m| m.data).collect()
}

/// Everything ready now, frame by frame, without waiting.
fn ready(subscription: &mut Subscription) -> Vec<Encoded> {
    let mut frames = Vec::new();
    while let Some(Some(frame)) = subscription.next().now_or_never() {
        frames.push(frame);
    }
    frames
}

fn ready_data(subscription: &mut Subscription) -> Vec<String> {
    ready(subscription)
        .iter()
        .flat_map(|frame| data(frame))
        .collect()
}

fn numbers(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn every_subscriber_of_a_topic_gets_each_event_once() {
    let hub = Hub::new();
    let mut news = [
        hub.subscribe("news", None).await.unwrap(),
        hub.subscribe("news", None).await.unwrap(),
    ];
    let mut sport = hub.subscribe("sport", None).await.unwrap();
    assert_eq!((hub.subscribers("news"), hub.subscribers("sport")), (2, 1));

    for n in 1..=3 {
        hub.publish("news", event(&n.to_string())).await.unwrap();
    }
    hub.publish("sport", event("goal")).await.unwrap();

    for subscriber in &mut news {
        assert_eq!(ready_data(subscriber), numbers(1..=3));
    }
    assert_eq!(ready_data(&mut sport), ["goal"]);
    assert!(ready(&mut sport).is_empty());
    let stats = hub.stats();
    assert_eq!(
        (stats.published, stats.delivered, stats.subscribers),
        (4, 7, 3)
    );
}

#[tokio::test]
async fn a_woken_subscriber_takes_everything_ready_as_one_frame() {
    let hub = Hub::new();
    let mut subscription = hub.subscribe("t", None).await.unwrap();
    for n in 1..=50 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let frames = ready(&mut subscription);
    assert_eq!(frames.len(), 1);
    assert_eq!(data(&frames[0]), numbers(1..=50));
}

#[tokio::test]
async fn a_lone_event_is_shared_not_copied() {
    let hub = Hub::new();
    let mut a = hub.subscribe("t", None).await.unwrap();
    let mut b = hub.subscribe("t", None).await.unwrap();
    hub.publish("t", event("shared")).await.unwrap();
    let (a, b) = (ready(&mut a), ready(&mut b));
    assert_eq!(a, b);
    assert_eq!(
        a[0].as_ptr(),
        b[0].as_ptr(),
        "both subscribers point at one buffer"
    );
}

#[tokio::test]
async fn events_carry_the_id_that_publish_returns() {
    let hub = Hub::new();
    let mut subscription = hub.subscribe("t", None).await.unwrap();
    let id = hub
        .publish("t", Event::default().id("mine").unwrap().data("x"))
        .await
        .unwrap();
    let got = messages(&ready(&mut subscription)[0]);
    assert_eq!(
        &*got[0].last_event_id,
        id.to_string(),
        "the hub's id is the one kept"
    );
}

#[tokio::test]
async fn in_process_both_subscribe_and_publish_take_effect_at_the_call() {
    let hub = Hub::new();
    let subscribing = hub.subscribe("t", None);
    assert_eq!(hub.subscribers("t"), 1, "counted from the call");
    let publishing = hub.publish("t", event("first"));
    let mut subscription = subscribing.await.unwrap();
    assert_eq!(
        ready_data(&mut subscription),
        ["first"],
        "published at the call"
    );
    let id = publishing.await.unwrap();
    assert_eq!(hub.stats().published, 1);
    let later = hub.publish("t", event("second")).await.unwrap();
    assert!(id < later);
    assert_eq!(ready_data(&mut subscription), ["second"]);
}

#[tokio::test]
async fn a_subscription_wakes_when_an_event_arrives() {
    let hub = Hub::new();
    let mut subscription = hub.subscribe("t", None).await.unwrap();
    let publisher = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        publisher.publish("t", event("late")).await.unwrap();
    });
    let frame = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("woken")
        .unwrap();
    assert_eq!(data(&frame), ["late"]);
}

#[tokio::test]
async fn resume_has_no_gap_and_no_duplicate_at_the_seam() {
    let hub = Hub::new();
    let mut ids = Vec::new();
    for n in 1..=10 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    let mut resumed = hub.subscribe("t", Some(&ids[4].to_string())).await.unwrap();
    for n in 11..=12 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    assert_eq!(ready_data(&mut resumed), numbers(6..=12));
    assert_eq!(hub.stats().replayed, 5);

    // Up to date: nothing to replay, nothing lost.
    let newest = hub.publish("t", event("13")).await.unwrap();
    let mut current = hub.subscribe("t", Some(&newest.to_string())).await.unwrap();
    assert!(ready(&mut current).is_empty());
    hub.publish("t", event("14")).await.unwrap();
    assert_eq!(ready_data(&mut current), ["14"]);
}

#[tokio::test]
async fn an_expired_id_gets_the_notice_then_what_is_retained() {
    let hub = Hub::builder().capacity(3).build();
    let mut ids = Vec::new();
    for n in 1..=6 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    let mut resumed = hub.subscribe("t", Some(&ids[0].to_string())).await.unwrap();
    let frames = ready(&mut resumed);
    let got: Vec<MessageEvent> = frames.iter().flat_map(|frame| messages(frame)).collect();
    assert_eq!(got[0].event_type, GAP_EVENT);
    let notice: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
    assert_eq!(notice["reason"], "expired");
    assert_eq!(notice["last_event_id"], ids[0].to_string());
    let rest: Vec<&str> = got[1..].iter().map(|m| m.data.as_str()).collect();
    assert_eq!(rest, ["4", "5", "6"]);
}

#[tokio::test]
async fn an_unknown_id_gets_the_notice_then_live_events() {
    let hub = Hub::new();
    hub.publish("t", event("before")).await.unwrap();
    // An id from before this hub was built would be "expired": these are not ids of its, or from its future.
    for unknown in ["not-an-id", "99999999999999-0", "a\"b\\c\u{0}"] {
        let mut resumed = hub.subscribe("t", Some(unknown)).await.unwrap();
        let got: Vec<MessageEvent> = ready(&mut resumed)
            .iter()
            .flat_map(|f| messages(f))
            .collect();
        assert_eq!(got.len(), 1, "{unknown}: only the notice");
        assert_eq!(got[0].event_type, GAP_EVENT);
        let notice: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
        assert_eq!(
            (notice["reason"].as_str(), notice["last_event_id"].as_str()),
            (Some("unknown"), Some(unknown))
        );
        hub.publish("t", event("after")).await.unwrap();
        assert_eq!(ready_data(&mut resumed), ["after"]);
    }
}

#[tokio::test]
async fn a_lagging_subscriber_is_closed_and_resumes_without_loss() {
    let hub = Hub::builder()
        .capacity(8)
        .lag_retry(Duration::from_millis(250))
        .build();
    let mut slow = hub.subscribe("t", None).await.unwrap();
    let mut last_seen = None;
    for n in 1..=2 {
        last_seen = Some(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    assert_eq!(ready_data(&mut slow), ["1", "2"]);
    // Five more while it does not read: past max_lag (4), within capacity.
    for n in 3..=7 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let frames = ready(&mut slow);
    assert_eq!(frames.len(), 1);
    assert!(messages(&frames[0]).is_empty());
    assert!(frames[0].ends_with(b"retry: 250\n\n"), "{frames:?}");
    assert!(slow.next().await.is_none(), "closed");
    let stats = hub.stats();
    assert_eq!((stats.lagged, stats.closed_for_lag), (1, 1));

    // Its browser comes back with the last id it got: nothing is lost.
    let mut back = hub
        .subscribe("t", Some(&last_seen.unwrap().to_string()))
        .await
        .unwrap();
    assert_eq!(ready_data(&mut back), numbers(3..=7));
}

#[tokio::test]
async fn the_skip_policy_jumps_ahead_and_says_how_far() {
    let hub = Hub::builder()
        .capacity(8)
        .lag_policy(LagPolicy::Skip)
        .build();
    let mut slow = hub.subscribe("t", None).await.unwrap();
    for n in 1..=6 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let got: Vec<MessageEvent> = ready(&mut slow).iter().flat_map(|f| messages(f)).collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type, GAP_EVENT);
    let notice: serde_json::Value = serde_json::from_str(&got[0].data).unwrap();
    assert_eq!(
        (notice["reason"].as_str(), notice["skipped"].as_u64()),
        (Some("lagged"), Some(6))
    );
    hub.publish("t", event("7")).await.unwrap();
    assert_eq!(ready_data(&mut slow), ["7"]);
    assert_eq!(hub.stats().closed_for_lag, 0);
}

#[tokio::test]
async fn a_subscriber_whose_next_event_left_the_window_is_told() {
    let hub = Hub::builder().capacity(4).max_lag(4).build();
    let mut resumed = {
        let first = hub.publish("t", event("1")).await.unwrap();
        for n in 2..=4 {
            hub.publish("t", event(&n.to_string())).await.unwrap();
        }
        hub.subscribe("t", Some(&first.to_string())).await.unwrap()
    };
    // Replaying, not live: the window moves past it before it reads.
    for n in 5..=9 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let frames = ready(&mut resumed);
    assert!(frames.last().unwrap().ends_with(b"retry: 500\n\n"));
    assert!(resumed.next().await.is_none());
}

#[tokio::test]
async fn old_events_leave_the_window_by_age() {
    let hub = Hub::builder().max_age(Duration::from_millis(50)).build();
    let old = hub.publish("t", event("old")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    hub.publish("t", event("new")).await.unwrap();
    let mut resumed = hub.subscribe("t", Some(&old.to_string())).await.unwrap();
    let got: Vec<MessageEvent> = ready(&mut resumed)
        .iter()
        .flat_map(|f| messages(f))
        .collect();
    assert_eq!(got[0].event_type, GAP_EVENT);
    assert_eq!(got[1].data, "new");
}

#[tokio::test]
async fn counts_return_to_zero_and_empty_topics_go() {
    let hub = Hub::new();
    let mut subscriptions = Vec::new();
    for n in 0..100 {
        subscriptions.push(
            hub.subscribe(&format!("topic-{}", n % 7), None)
                .await
                .unwrap(),
        );
    }
    assert_eq!((hub.stats().subscribers, hub.stats().topics), (100, 7));
    drop(subscriptions);
    assert_eq!((hub.stats().subscribers, hub.stats().topics), (0, 0));

    // A topic with retained events stays for replay.
    hub.publish("kept", event("x")).await.unwrap();
    drop(hub.subscribe("kept", None).await.unwrap());
    assert_eq!((hub.stats().subscribers, hub.stats().topics), (0, 1));
}

#[tokio::test]
async fn churn_on_a_quiet_topic_keeps_memory_flat() {
    let hub = Hub::new();
    let _steady = hub.subscribe("t", None).await.unwrap();
    for _ in 0..10_000 {
        let mut subscription = hub.subscribe("t", None).await.unwrap();
        assert!(ready(&mut subscription).is_empty());
    }
    hub.publish("t", event("x")).await.unwrap();
    assert_eq!(hub.stats().subscribers, 1);
}

#[tokio::test]
async fn many_publishers_keep_each_topic_in_id_order() {
    let hub = Hub::builder().max_lag(1024).build();
    let mut subscription = hub.subscribe("t", None).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..4 {
        let hub = hub.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..250 {
                hub.publish("t", event(&format!("{task}-{n}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let got: Vec<MessageEvent> = ready(&mut subscription)
        .iter()
        .flat_map(|f| messages(f))
        .collect();
    assert_eq!(got.len(), 1000);
    let ids: Vec<EventId> = got
        .iter()
        .map(|m| m.last_event_id.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
}

/// A backplane in memory: one shared log per topic, as Redis would keep,
/// delivering to every attached hub at once.
#[derive(Debug, Default, Clone)]
struct MemoryLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug, Default)]
struct LogInner {
    topics: BTreeMap<String, Vec<(EventId, Bytes)>>,
    inboxes: Vec<(Inbox, Vec<String>)>,
    next: u64,
    down: bool,
}

#[derive(Debug)]
struct Instance {
    log: MemoryLog,
    slot: Mutex<Option<usize>>,
}

impl MemoryLog {
    fn instance(&self) -> Instance {
        Instance {
            log: self.clone(),
            slot: Mutex::new(None),
        }
    }

    fn trim(&self, topic: &str, keep: usize) {
        let mut inner = self.inner.lock().unwrap();
        let log = inner.topics.entry(topic.to_owned()).or_default();
        let drop = log.len().saturating_sub(keep);
        log.drain(..drop);
    }
}

impl Instance {
    fn slot(&self) -> usize {
        self.slot.lock().unwrap().unwrap()
    }
}

impl Backplane for Instance {
    fn attach(&self, inbox: Inbox) {
        let mut inner = self.log.inner.lock().unwrap();
        inner.inboxes.push((inbox, Vec::new()));
        *self.slot.lock().unwrap() = Some(inner.inboxes.len() - 1);
    }

    fn publish(&self, topic: &str, event: Bytes) -> BoxFuture<Result<EventId, BackplaneError>> {
        let mut inner = self.log.inner.lock().unwrap();
        if inner.down {
            return Box::pin(async { Err(BackplaneError::new("down")) });
        }
        inner.next += 1;
        let id = EventId::new(7, inner.next);
        inner
            .topics
            .entry(topic.to_owned())
            .or_default()
            .push((id, event.clone()));
        for (inbox, watched) in &inner.inboxes {
            if watched.iter().any(|t| t == topic) {
                inbox.deliver(topic, id, &event);
            }
        }
        Box::pin(async move { Ok(id) })
    }

    fn watch(&self, topic: &str) -> BoxFuture<Result<(), BackplaneError>> {
        let slot = self.slot();
        self.log.inner.lock().unwrap().inboxes[slot]
            .1
            .push(topic.to_owned());
        Box::pin(async { Ok(()) })
    }

    fn unwatch(&self, topic: &str) {
        let slot = self.slot();
        self.log.inner.lock().unwrap().inboxes[slot]
            .1
            .retain(|t| t != topic);
    }

    fn history(
        &self,
        topic: &str,
        after: EventId,
        limit: usize,
    ) -> BoxFuture<Result<History, BackplaneError>> {
        let inner = self.log.inner.lock().unwrap();
        let log = inner.topics.get(topic).cloned().unwrap_or_default();
        let found = log.iter().position(|(id, _)| *id == after);
        let history = match found {
            Some(at) => History {
                events: log[at + 1..].iter().take(limit).cloned().collect(),
                after: Retention::Retained,
            },
            None if log.first().is_some_and(|(first, _)| after < *first) => History {
                events: log.iter().take(limit).cloned().collect(),
                after: Retention::Expired,
            },
            None => History::default(),
        };
        Box::pin(async move { Ok(history) })
    }
}

#[tokio::test]
async fn two_instances_share_topics_through_a_backplane() {
    let log = MemoryLog::default();
    let east = Hub::builder().backplane(log.instance()).build();
    let west = Hub::builder().backplane(log.instance()).build();
    let mut on_east = east.subscribe("t", None).await.unwrap();
    let mut on_west = west.subscribe("t", None).await.unwrap();

    let id = east.publish("t", event("hello")).await.unwrap();
    assert_eq!(id, EventId::new(7, 1));
    for subscription in [&mut on_east, &mut on_west] {
        let got = messages(&ready(subscription)[0]);
        assert_eq!(
            (got[0].data.as_str(), got[0].last_event_id.as_ref()),
            ("hello", "7-1")
        );
    }

    // A client of east resumes on west, after an id west never held.
    west.publish("t", event("two")).await.unwrap();
    let mut moved = west.subscribe("t", Some("7-1")).await.unwrap();
    assert_eq!(ready_data(&mut moved), ["two"]);
    drop((on_east, on_west, moved));
    assert_eq!(east.stats().subscribers + west.stats().subscribers, 0);
}

#[tokio::test]
async fn replay_from_the_backplane_meets_the_window_without_a_duplicate() {
    let log = MemoryLog::default();
    let hub = Hub::builder().backplane(log.instance()).build();
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    // Watched from here: 6 and 7 are both in the window and in the log.
    let mut live = hub.subscribe("t", None).await.unwrap();
    for n in 6..=7 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let mut resumed = hub.subscribe("t", Some(&ids[1].to_string())).await.unwrap();
    hub.publish("t", event("8")).await.unwrap();
    assert_eq!(ready_data(&mut resumed), numbers(3..=8));
    assert_eq!(ready_data(&mut live), numbers(6..=8));

    log.trim("t", 2);
    let mut expired = hub.subscribe("t", Some(&ids[0].to_string())).await.unwrap();
    let got: Vec<MessageEvent> = ready(&mut expired)
        .iter()
        .flat_map(|f| messages(f))
        .collect();
    assert_eq!(got[0].event_type, GAP_EVENT);
    let rest: Vec<&str> = got[1..].iter().map(|m| m.data.as_str()).collect();
    assert_eq!(rest, ["7", "8"]);
}

#[tokio::test]
async fn a_backplane_that_refuses_is_an_error_not_a_drop() {
    let log = MemoryLog::default();
    let hub = Hub::builder().backplane(log.instance()).build();
    let mut subscription = hub.subscribe("t", None).await.unwrap();
    log.inner.lock().unwrap().down = true;
    assert!(hub.publish("t", event("lost?")).await.is_err());
    assert_eq!(hub.stats().publish_errors, 1);
    log.inner.lock().unwrap().down = false;
    hub.publish("t", event("kept")).await.unwrap();
    assert_eq!(ready_data(&mut subscription), ["kept"]);
}

impl MemoryLog {
    /// Tells every hub watching `topic` that some of its events are lost.
    fn gap(&self, topic: &str) {
        let inner = self.inner.lock().unwrap();
        for (inbox, watched) in &inner.inboxes {
            if watched.iter().any(|t| t == topic) {
                inbox.gap(topic);
            }
        }
    }
}

#[tokio::test]
async fn a_backplane_gap_reaches_live_and_resuming_subscribers() {
    let log = MemoryLog::default();
    let hub = Hub::builder().backplane(log.instance()).build();
    let mut live = hub.subscribe("t", None).await.unwrap();
    let first = hub.publish("t", event("1")).await.unwrap();
    log.gap("t");
    hub.publish("t", event("2")).await.unwrap();
    let got: Vec<MessageEvent> = ready(&mut live).iter().flat_map(|f| messages(f)).collect();
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|m| (m.event_type.as_str(), m.data.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("message", "1"),
            (GAP_EVENT, "{\"reason\":\"backplane\"}"),
            ("message", "2")
        ]
    );

    // Resuming right after the event before the gap: the notice comes too.
    let mut resumed = hub.subscribe("t", Some(&first.to_string())).await.unwrap();
    let got: Vec<MessageEvent> = ready(&mut resumed)
        .iter()
        .flat_map(|f| messages(f))
        .collect();
    assert_eq!(got[0].event_type, GAP_EVENT);
    assert_eq!(got[1].data, "2");
}

#[tokio::test]
async fn a_long_history_is_replayed_a_window_at_a_time() {
    let log = MemoryLog::default();
    let hub = Hub::builder().capacity(2).backplane(log.instance()).build();
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    let mut resumed = hub.subscribe("t", Some(&ids[0].to_string())).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 6 {
        let frame = tokio::time::timeout(Duration::from_secs(5), resumed.next())
            .await
            .expect("the next page")
            .unwrap();
        assert!(messages(&frame).len() <= 2, "a page at a time");
        got.extend(data(&frame));
    }
    assert_eq!(got, numbers(2..=7));
    hub.publish("t", event("8")).await.unwrap();
    assert_eq!(ready_data(&mut resumed), ["8"]);
}

#[tokio::test]
async fn an_expired_resume_on_a_busy_topic_is_not_taken_for_lag() {
    let hub = Hub::builder().capacity(4).build();
    let mut ids = Vec::new();
    for n in 1..=8 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    let mut resumed = hub.subscribe("t", Some(&ids[0].to_string())).await.unwrap();
    // The window moves on before the first poll.
    hub.publish("t", event("9")).await.unwrap();
    let got: Vec<MessageEvent> = ready(&mut resumed)
        .iter()
        .flat_map(|f| messages(f))
        .collect();
    assert_eq!(got[0].event_type, GAP_EVENT);
    let rest: Vec<&str> = got[1..].iter().map(|m| m.data.as_str()).collect();
    assert_eq!(rest, ["6", "7", "8", "9"]);
    assert_eq!(hub.stats().lagged, 0);
}

#[tokio::test]
async fn a_replay_from_the_backplane_outlasting_the_window_is_not_taken_for_lag() {
    let log = MemoryLog::default();
    let hub = Hub::builder().capacity(2).backplane(log.instance()).build();
    let _watching = hub.subscribe("t", None).await.unwrap();
    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.push(hub.publish("t", event(&n.to_string())).await.unwrap());
    }
    let mut resumed = hub.subscribe("t", Some(&ids[0].to_string())).await.unwrap();
    // Two more: the window's oldest leaves while the replay is unsent.
    for n in 5..=6 {
        hub.publish("t", event(&n.to_string())).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 5 {
        let frame = tokio::time::timeout(Duration::from_secs(5), resumed.next())
            .await
            .expect("a frame")
            .expect("not closed for lag");
        got.extend(data(&frame));
    }
    assert_eq!(got, numbers(2..=6));
    assert_eq!(hub.stats().lagged, 0);
}

#[test]
fn subscribe_and_publish_futures_are_small() {
    // Servers may keep a request's future for the whole connection (hyper
    // sizes warp's per-connection future to the largest route's): what may
    // wait (a backplane, a resume) is boxed, and the rest is done at the
    // call, so neither future is much more than its outcome.
    let hub = Hub::new();
    let subscription = std::mem::size_of::<Subscription>();
    let subscribe = std::mem::size_of_val(&hub.subscribe("t", Some("1-0")));
    assert!(
        subscribe <= subscription + 16,
        "a subscribe future is {subscribe} bytes, a subscription {subscription} (360 and 96 once)"
    );
    let publish = std::mem::size_of_val(&hub.publish("t", Event::default().data("x")));
    assert!(
        publish <= 64,
        "a publish future is {publish} bytes (176 once)"
    );
}
