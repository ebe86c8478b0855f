//! One subscriber's view of a topic: a cursor into the shared window.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use super::window::{Slot, Topic};
use super::{
    BackplaneError, BoxFuture, EventId, GAP_EVENT, History, LagPolicy, Retention, Shared,
    SubscribeError, with_id,
};
use crate::Encoded;
use crate::stream::{Frame, concat};

/// A subscription to one topic of a [`Hub`](super::Hub), from
/// [`Hub::subscribe`](super::Hub::subscribe): a stream of frames, each one
/// or more encoded events, ready for an adapter's `Sse`.
///
/// It never ends by itself, except when its [`LagPolicy`] closes it.
/// Dropping it (the client went away) counts it out of its topic.
#[must_use = "a subscription does nothing unless polled"]
pub struct Subscription {
    shared: Arc<Shared>,
    topic: Arc<Topic>,
    /// The sequence number of the next window entry to send.
    cursor: u64,
    /// What a resume left to do and to remember: boxed, since most
    /// subscribers never resume, and an idle subscriber's size is memory
    /// per connection.
    resumed: Option<Box<Resumed>>,
    /// Whether it has caught up with the newest event once: only then is
    /// falling behind lagging rather than replaying.
    live: bool,
    slot: Slot,
    done: bool,
}

/// A subscription that resumed after a `Last-Event-ID`.
struct Resumed {
    /// What it sends before the window, while there is any.
    catch_up: Option<CatchUp>,
    /// Window entries up to this id were already sent from the backlog.
    sent_through: Option<EventId>,
    /// Resumed after an expired id: owed only what the window retains, so
    /// the window moving on before it took anything loses it nothing.
    from_oldest: bool,
    /// Window entries before this sequence number are replays.
    replay_until: u64,
}

impl Resumed {
    /// Resumed by a subscriber that joined when the window's head was
    /// `head`: whatever comes before it is a replay.
    fn at(head: u64) -> Box<Self> {
        Box::new(Self {
            catch_up: None,
            sent_through: None,
            from_oldest: false,
            replay_until: head,
        })
    }
}

/// [`Subscription::start`]'s future: ready at once when there is nothing
/// to wait for (no backplane to hear from, no resume to place), the usual
/// case, and boxed when there is.
pub(super) enum Starting<'a> {
    Ready(std::future::Ready<Result<Subscription, SubscribeError>>),
    Waiting(Pin<Box<dyn Future<Output = Result<Subscription, SubscribeError>> + Send + 'a>>),
}

impl Future for Starting<'_> {
    type Output = Result<Subscription, SubscribeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Ready(subscription) => Pin::new(subscription).poll(cx),
            Self::Waiting(starting) => starting.as_mut().poll(cx),
        }
    }
}

impl Subscription {
    /// Joins the topic now, and resolves once the backplane delivers it
    /// and a resume is placed. Only that waiting is async, and boxed: the
    /// future is little more than the subscription, since a server may keep
    /// it for the whole connection (hyper sizes warp's per-connection future
    /// to the largest route's).
    pub(super) fn start<'a>(
        shared: Arc<Shared>,
        name: &str,
        last_event_id: Option<&'a str>,
    ) -> Starting<'a> {
        let (topic, head, watch) = shared.join(name);
        // Built before anything is awaited, so that an error or a dropped
        // future counts the subscriber out again.
        let mut this = Self {
            shared,
            topic,
            cursor: head,
            resumed: last_event_id.map(|_| Resumed::at(head)),
            live: true,
            slot: None,
            done: false,
        };
        if watch.is_none() && last_event_id.is_none() {
            return Starting::Ready(std::future::ready(Ok(this)));
        }
        // Boxed: a resume may read the backplane's history, which would make
        // every subscribe future hundreds of bytes larger.
        Starting::Waiting(Box::pin(async move {
            if let Some(watch) = watch {
                watch.await?;
                // Counted in since the join, so nobody unwatched it
                // meanwhile.
                this.topic.lock().armed = true;
            }
            if let Some(text) = last_event_id {
                this.resume(text).await?;
            }
            Ok(this)
        }))
    }

    /// Places the cursor after `text`, the client's `Last-Event-ID`.
    async fn resume(&mut self, text: &str) -> Result<(), SubscribeError> {
        let Ok(id) = text.parse::<EventId>() else {
            self.catch_up()
                .backlog
                .push_back((gap_notice("unknown", Some(text), None), false));
            return Ok(());
        };
        let located = {
            let mut window = self.topic.lock();
            window.expire(self.shared.config.max_age);
            window
                .locate(id)
                .map_err(|retention| (retention, window.first))
        };
        let retention = match located {
            Ok(cursor) => {
                self.cursor = cursor;
                self.live = cursor == self.resumed().replay_until;
                return Ok(());
            }
            Err((retention, first)) => match &self.shared.backplane {
                None => {
                    if retention == Retention::Expired {
                        self.cursor = first;
                        self.live = false;
                        self.resumed().from_oldest = true;
                    }
                    retention
                }
                Some(backplane) => {
                    let page = self.shared.config.capacity;
                    let history = backplane.history(&self.topic.name, id, page).await?;
                    let after = history.after;
                    if !history.events.is_empty() {
                        // The window may hold the newest of these too.
                        self.cursor = self.topic.lock().first;
                        self.live = false;
                    }
                    self.take_page(history);
                    // Events up to the asked id may still reach this
                    // instance's window (its reader can be behind the
                    // other's): the client has them.
                    let resumed = self.resumed();
                    resumed.sent_through = resumed.sent_through.max(Some(id));
                    after
                }
            },
        };
        if retention != Retention::Retained {
            let reason = if retention == Retention::Expired {
                "expired"
            } else {
                "unknown"
            };
            self.catch_up()
                .backlog
                .push_front((gap_notice(reason, Some(text), None), false));
        }
        Ok(())
    }

    /// Queues a page of the backplane's history, and asks for the next one
    /// when the page came full: a long replay is read a window's worth at a
    /// time, so it never holds more than that in memory.
    fn take_page(&mut self, history: History) {
        let full = history.events.len() >= self.shared.config.capacity;
        for (event_id, event) in history.events {
            self.catch_up()
                .backlog
                .push_back((with_id(&event, event_id), true));
            self.resumed().sent_through = Some(event_id);
        }
        let last = self.resumed().sent_through;
        let next = match (&self.shared.backplane, last) {
            (Some(backplane), Some(last)) if full => {
                Some(backplane.history(&self.topic.name, last, self.shared.config.capacity))
            }
            _ => None,
        };
        let resumed = self.resumed();
        if let Some(catch_up) = resumed.catch_up.as_mut() {
            catch_up.paging = next;
        } else if next.is_some() {
            self.catch_up().paging = next;
        }
    }

    /// What the resume left: `start` makes it for every subscription that
    /// resumes, before anything here runs.
    fn resumed(&mut self) -> &mut Resumed {
        let cursor = self.cursor;
        self.resumed.get_or_insert_with(|| Resumed::at(cursor))
    }

    fn catch_up(&mut self) -> &mut CatchUp {
        self.resumed().catch_up.get_or_insert_with(CatchUp::default)
    }

    /// The topic it follows.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic.name
    }
}

/// A resume's catch-up: the gap notice and events replayed from the
/// backplane's history, and the next page of a long replay on its way.
#[derive(Default)]
struct CatchUp {
    backlog: VecDeque<(Bytes, bool)>,
    paging: Option<BoxFuture<Result<History, BackplaneError>>>,
}

impl Stream for Subscription {
    type Item = Encoded;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Encoded>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(catch_up) = this.resumed.as_mut().and_then(|r| r.catch_up.as_mut())
            && catch_up.backlog.is_empty()
            && let Some(paging) = catch_up.paging.as_mut()
        {
            match paging.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(history)) => {
                    if history.after != Retention::Retained {
                        // Trimmed while it was being read.
                        this.catch_up()
                            .backlog
                            .push_back((gap_notice("expired", None, None), false));
                    }
                    this.take_page(history);
                }
                Poll::Ready(Err(err)) => {
                    // It resumes from what it got when it comes back.
                    tracing::debug!(topic = %this.topic.name, %err, "replay from the backplane failed");
                    this.done = true;
                    let retry = lag_close(this.shared.config.lag_retry.as_millis());
                    return Poll::Ready(Some(Encoded::from_wire(Bytes::from(retry))));
                }
            }
        }
        let config = &this.shared.config;
        let counters = &this.shared.counters;
        let mut frame = Frame::new(None);
        let mut replayed = 0;
        if let Some(resumed) = this.resumed.as_mut()
            && let Some(catch_up) = resumed.catch_up.as_mut()
        {
            while let Some((bytes, is_event)) = catch_up.backlog.pop_front() {
                if let Some(overflow) = frame.push(bytes, config.max_frame) {
                    catch_up.backlog.push_front((overflow, is_event));
                    break;
                }
                replayed += u64::from(is_event);
            }
            if catch_up.backlog.is_empty() && catch_up.paging.is_none() {
                resumed.catch_up = None;
            }
        }
        // A subscriber that never resumed has sent nothing from a backlog
        // and replays nothing: it joined at the head.
        let (mut sent_through, from_oldest, replay_until, replaying) = this
            .resumed
            .as_deref()
            .map_or((None, false, 0, false), |r| {
                (
                    r.sent_through,
                    r.from_oldest,
                    r.replay_until,
                    r.catch_up.is_some(),
                )
            });
        let mut delivered = replayed;

        let mut window = this.topic.lock();
        window.expire(config.max_age);
        let head = window.head();
        let mut evicted = this.cursor < window.first;
        if evicted
            && (from_oldest
                || sent_through
                    .is_some_and(|sent| window.last_evicted.is_some_and(|gone| gone <= sent)))
        {
            // What left the window had been sent already (from the
            // backplane's history), or this subscriber was promised only
            // "what is retained": nothing it is owed is gone.
            this.cursor = window.first;
            evicted = false;
        }
        if !replaying && (evicted || (this.live && head - this.cursor > config.max_lag as u64)) {
            counters.lagged.fetch_add(1, Ordering::Relaxed);
            let behind = head - this.cursor;
            match config.lag_policy {
                LagPolicy::Close => {
                    let gone = window.deregister(&mut this.slot);
                    drop(window);
                    drop(gone);
                    counters.closed_for_lag.fetch_add(1, Ordering::Relaxed);
                    counters.delivered.fetch_add(delivered, Ordering::Relaxed);
                    counters.replayed.fetch_add(replayed, Ordering::Relaxed);
                    tracing::debug!(topic = %this.topic.name, behind, "closing a subscriber that lags");
                    this.done = true;
                    let retry = lag_close(config.lag_retry.as_millis());
                    let last = concat(&frame.finish().unwrap_or_default(), retry.as_bytes());
                    return Poll::Ready(Some(Encoded::from_wire(last)));
                }
                LagPolicy::Skip => {
                    tracing::debug!(topic = %this.topic.name, behind, "a subscriber lags; skipping ahead");
                    this.cursor = head;
                    sent_through = None;
                    if let Some(resumed) = this.resumed.as_mut() {
                        resumed.sent_through = None;
                    }
                    let _ = frame.push(gap_notice("lagged", None, Some(behind)), usize::MAX);
                }
            }
        }
        if !replaying {
            let start = usize::try_from(this.cursor - window.first).unwrap_or(usize::MAX);
            let ready = window.entries.range(start.min(window.entries.len())..);
            // Measured first, so the frame is one buffer of exactly its size.
            let (mut taken, mut total, mut sent) = (0, frame.len(), 0);
            for entry in ready.clone() {
                if total > 0 && total + entry.bytes.len() > config.max_frame {
                    break;
                }
                let cursor = this.cursor + taken;
                taken += 1;
                if sent_through.is_some_and(|sent| entry.id <= sent) {
                    continue;
                }
                replayed += u64::from(cursor < replay_until);
                total += entry.bytes.len();
                sent += 1;
            }
            let fresh = ready
                .take(usize::try_from(taken).unwrap_or(usize::MAX))
                .filter(|entry| sent_through.is_none_or(|sent| entry.id > sent));
            if sent == 1 && frame.len() == 0 {
                // A lone event is shared, not copied.
                if let Some(entry) = fresh.last() {
                    let _ = frame.push(entry.bytes.clone(), usize::MAX);
                }
            } else if sent > 0 {
                frame.extend_exact(total, fresh.map(|entry| &entry.bytes[..]));
            }
            delivered += sent;
            this.cursor += taken;
            if let Some(resumed) = this.resumed.as_mut() {
                resumed.from_oldest &= sent == 0;
                if sent > 0 {
                    // Ids never go down along the window: what follows is
                    // newer than anything the backlog sent.
                    resumed.sent_through = None;
                }
                if resumed.catch_up.is_none()
                    && !resumed.from_oldest
                    && resumed.sent_through.is_none()
                    && this.cursor >= resumed.replay_until
                {
                    // Caught up: a resumed subscriber is as small as any
                    // other from here on.
                    this.resumed = None;
                }
            }
            if this.cursor == head {
                this.live = true;
            }
        }
        if frame.len() == 0 {
            let replaced = window.register(&mut this.slot, cx.waker());
            drop(window);
            drop(replaced);
            return Poll::Pending;
        }
        drop(window);
        counters.delivered.fetch_add(delivered, Ordering::Relaxed);
        counters.replayed.fetch_add(replayed, Ordering::Relaxed);
        Poll::Ready(frame.finish().map(Encoded::from_wire))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared
            .leave(&self.topic.name, &self.topic, &mut self.slot);
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic.name)
            .field("cursor", &self.cursor)
            .field("live", &self.live)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The last frame of a subscriber closed for lagging.
fn lag_close(retry_ms: u128) -> String {
    format!(
        ": ssekit: closing a subscriber that fell behind; reconnect to resume\nretry: {retry_ms}\n\n"
    )
}

/// The in-band [gap notice](super#the-gap-notice).
pub(super) fn gap_notice(reason: &str, last_event_id: Option<&str>, skipped: Option<u64>) -> Bytes {
    let mut wire = format!("event: {GAP_EVENT}\ndata: {{\"reason\":\"{reason}\"");
    if let Some(id) = last_event_id {
        wire.push_str(",\"last_event_id\":");
        push_json_string(&mut wire, id);
    }
    if let Some(skipped) = skipped {
        wire.push_str(&format!(",\"skipped\":{skipped}"));
    }
    wire.push_str("}\n\n");
    Bytes::from(wire)
}

/// A JSON string whose every control character is escaped, so a hostile
/// `Last-Event-ID` cannot break the `data:` line it is written into.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::Event;
    use crate::hub::Hub;

    #[tokio::test]
    async fn a_resumed_subscriber_forgets_its_resume_once_caught_up() {
        let hub = Hub::new();
        let first = hub.publish("t", Event::default().data("1")).await.unwrap();
        hub.publish("t", Event::default().data("2")).await.unwrap();

        let mut replaying = hub.subscribe("t", Some(&first.to_string())).await.unwrap();
        assert!(replaying.resumed.is_some());
        let frame = replaying.next().await.unwrap().into_bytes();
        assert!(frame.ends_with(b"data: 2\n\n"), "{frame:?}");
        assert!(replaying.resumed.is_none());
        assert_eq!(hub.stats().replayed, 1);

        // An id it never gave: the gap notice, then nothing left to owe.
        let never = EventId::new(first.major(), first.minor() + 100).to_string();
        let mut unknown = hub.subscribe("t", Some(&never)).await.unwrap();
        let notice = unknown.next().await.unwrap().into_bytes();
        assert!(notice.starts_with(b"event: ssekit-gap\n"), "{notice:?}");
        assert!(unknown.resumed.is_none());
        hub.publish("t", Event::default().data("3")).await.unwrap();
        let live = unknown.next().await.unwrap().into_bytes();
        assert!(live.ends_with(b"data: 3\n\n"), "{live:?}");
        assert_eq!(hub.stats().replayed, 1);
    }

    #[test]
    fn a_hostile_id_stays_inside_the_notice() {
        let notice = gap_notice("unknown", Some("a\"\r\n\0\\b"), None);
        assert_eq!(
            &notice[..],
            b"event: ssekit-gap\ndata: {\"reason\":\"unknown\",\"last_event_id\":\"a\\\"\\u000d\\u000a\\u0000\\\\b\"}\n\n"
        );
    }
}
