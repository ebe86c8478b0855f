//! The backplane: its shared state, the command connection, and the
//! [`Backplane`] methods. The reader lives in [`crate::reader`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, ErrorKind, Pipeline, RedisError, Value};
use ssekit::hub::{Backplane, BackplaneError, BoxFuture, EventId, History, Inbox, Retention};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::config::{Builder, Config};
use crate::reply::{self, FIELD};
use crate::stats::{Counters, RedisStats};

/// The [`Backplane`] on Redis Streams. See [the crate docs](crate).
pub struct RedisBackplane {
    shared: Arc<Shared>,
    reader: Mutex<Option<AbortHandle>>,
}

/// What the backplane's methods and its reader share.
pub(crate) struct Shared {
    pub(crate) client: redis::Client,
    pub(crate) config: Config,
    pub(crate) topics: Mutex<Topics>,
    command: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// The reader's `CLIENT ID` while it is connected, 0 when it is not.
    pub(crate) reader_id: AtomicU64,
    /// The [`Topics::epoch`] the reader last read its topics at.
    pub(crate) reader_epoch: AtomicU64,
    /// Wakes a reader that has no topic to read.
    pub(crate) wake: Notify,
    pub(crate) counters: Arc<Counters>,
    reading: AtomicBool,
}

/// The watched topics, by name.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    pub(crate) map: HashMap<String, Watch>,
    /// Tells one watch of a topic from the next, so an arming that finishes
    /// after its topic was unwatched (and maybe watched again) changes
    /// nothing.
    next_generation: u64,
    /// Goes up whenever a topic is armed: a reader that read the topics at
    /// an older epoch must read them again.
    pub(crate) epoch: u64,
}

/// One watched topic.
#[derive(Debug)]
pub(crate) struct Watch {
    pub(crate) generation: u64,
    /// The id the reader continues after; `None` until the watch is armed.
    pub(crate) last: Option<EventId>,
    /// The `last` a gap notice was sent after: one is enough.
    pub(crate) told: Option<EventId>,
    /// How the arming ended, for every caller of `watch` waiting on it.
    pub(crate) arming: tokio::sync::watch::Sender<Option<Result<(), BackplaneError>>>,
}

impl Shared {
    pub(crate) fn topics(&self) -> MutexGuard<'_, Topics> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stream_key(&self, topic: &str) -> String {
        let mut key = String::with_capacity(self.config.prefix.len() + topic.len());
        key.push_str(&self.config.prefix);
        key.push_str(topic);
        key
    }

    pub(crate) fn connection_config(&self, response: Duration) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(response))
    }

    /// The command connection, made when there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.command.lock().await;
        if let Some(connection) = &*slot {
            return Ok(connection.clone());
        }
        let config = self.connection_config(self.config.timeout);
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets the command connection, for the next command to make a new
    /// one: the last one failed in a way that is not Redis answering "no".
    async fn forget_connection(&self) {
        *self.command.lock().await = None;
    }

    /// Runs one command on the command connection, all of it (waiting for
    /// the connection, connecting, the answer) within the timeout.
    pub(crate) async fn query(&self, command: &Cmd) -> Result<Value, BackplaneError> {
        self.bounded(async {
            let mut connection = self.connection().await?;
            command.query_async(&mut connection).await
        })
        .await
    }

    /// [`query`](Self::query) for a pipeline: one round trip.
    async fn query_pipeline(&self, pipeline: &Pipeline) -> Result<Vec<Value>, BackplaneError> {
        self.bounded(async {
            let mut connection = self.connection().await?;
            pipeline.query_async(&mut connection).await
        })
        .await
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, BackplaneError> {
        match tokio::time::timeout(self.config.timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                if !is_answer(&err) {
                    self.forget_connection().await;
                }
                Err(BackplaneError::new(format!("Redis: {err}")))
            }
            Err(_) => {
                // A connection that does not answer in time is no use to
                // the next command either.
                self.forget_connection().await;
                Err(BackplaneError::new(format!(
                    "Redis did not answer within {:?}",
                    self.config.timeout
                )))
            }
        }
    }

    /// Arms a watch: reads where the stream ends now, for the reader to
    /// continue after it, then wakes the reader.
    async fn arm(&self, topic: String, generation: u64) -> Result<(), BackplaneError> {
        let key = self.stream_key(&topic);
        let newest = self
            .query(
                redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await
            .and_then(reply::entries);
        if let Some(epoch) = self.settle(&topic, generation, newest)? {
            self.wake.notify_one();
            self.interrupt_reader(epoch).await;
        }
        Ok(())
    }

    /// Records where an armed watch goes on from, if it is still the same
    /// watch, and gives the epoch the reader must reach to read it.
    fn settle(
        &self,
        topic: &str,
        generation: u64,
        newest: Result<Vec<reply::Entry>, BackplaneError>,
    ) -> Result<Option<u64>, BackplaneError> {
        let mut topics = self.topics();
        let Some(watch) = topics
            .map
            .get_mut(topic)
            .filter(|watch| watch.generation == generation)
        else {
            // Unwatched meanwhile: nothing left to arm.
            return Ok(None);
        };
        match newest {
            Ok(newest) => {
                watch.last = Some(newest.first().map_or(EventId::new(0, 0), |entry| entry.id));
                watch.arming.send_replace(Some(Ok(())));
                topics.epoch += 1;
                Ok(Some(topics.epoch))
            }
            Err(err) => {
                if let Some(watch) = topics.map.remove(topic) {
                    watch.arming.send_replace(Some(Err(err.clone())));
                }
                self.counters
                    .watched
                    .store(topics.map.len(), Ordering::Relaxed);
                Err(err)
            }
        }
    }

    /// Gets the reader to read the topics again now rather than when its
    /// `XREAD` times out: `CLIENT UNBLOCK` ends a blocked `XREAD` as if it
    /// had timed out. Only a matter of latency: the watch is armed already.
    async fn interrupt_reader(&self, epoch: u64) {
        // The reader may be between reading the topics and blocking, when
        // there is nothing to unblock yet: try again shortly, a few times.
        for _ in 0..20 {
            if self.reader_epoch.load(Ordering::Acquire) >= epoch {
                return;
            }
            let reader = self.reader_id.load(Ordering::Acquire);
            if reader == 0 {
                // Not connected: it reads the topics when it connects.
                return;
            }
            let unblock = redis::cmd("CLIENT").arg("UNBLOCK").arg(reader).to_owned();
            match self.query(&unblock).await {
                Ok(Value::Int(1)) => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(err) => {
                    tracing::debug!(error = %err, "could not interrupt the Redis backplane reader");
                    return;
                }
            }
        }
    }
}

/// Whether `err` is Redis answering (a refusal such as `WRONGTYPE`), after
/// which the connection is still good.
fn is_answer(err: &RedisError) -> bool {
    matches!(err.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
}

impl RedisBackplane {
    /// A backplane on the Redis at `url` (`redis://host:port/db`), with the
    /// defaults. It connects when first used.
    ///
    /// # Errors
    ///
    /// [`ConfigError`](crate::ConfigError) when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, crate::ConfigError> {
        Self::builder(url).build()
    }

    /// A backplane set up by hand.
    pub fn builder(url: &str) -> Builder {
        Builder::new(url)
    }

    pub(crate) fn from_parts(client: redis::Client, config: Config) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                config,
                topics: Mutex::new(Topics::default()),
                command: tokio::sync::Mutex::new(None),
                reader_id: AtomicU64::new(0),
                reader_epoch: AtomicU64::new(0),
                wake: Notify::new(),
                counters: Arc::default(),
                reading: AtomicBool::new(false),
            }),
            reader: Mutex::new(None),
        }
    }

    /// The counters, as a handle that stays valid after the backplane is
    /// given to the hub.
    #[must_use]
    pub fn stats(&self) -> RedisStats {
        RedisStats(Arc::clone(&self.shared.counters))
    }

    /// The stream key of `topic`: the prefix, then the topic.
    #[must_use]
    pub fn stream_key(&self, topic: &str) -> String {
        self.shared.stream_key(topic)
    }

    fn reader(&self) -> MutexGuard<'_, Option<AbortHandle>> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RedisBackplane {
    fn drop(&mut self) {
        // The hub is gone: its reader would otherwise notice only when its
        // `XREAD` returns.
        if let Some(reader) = self.reader().take() {
            reader.abort();
        }
    }
}

impl fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("RedisBackplane")
            .field("redis", &shared.client.get_connection_info().addr())
            .field("prefix", &shared.config.prefix)
            .field("maxlen", &shared.config.maxlen)
            .field("reading", &shared.reading.load(Ordering::Relaxed))
            .field("stats", &self.stats().snapshot())
            .finish_non_exhaustive()
    }
}

/// Waits for the arming `waiting` follows to end, and says how.
async fn armed(
    mut waiting: tokio::sync::watch::Receiver<Option<Result<(), BackplaneError>>>,
) -> Result<(), BackplaneError> {
    match waiting.wait_for(Option::is_some).await {
        Ok(ended) => ended.clone().unwrap_or(Ok(())),
        // The watch was dropped before it was armed: unwatched.
        Err(_) => Err(BackplaneError::new(
            "the topic was unwatched before it was armed",
        )),
    }
}

impl Backplane for RedisBackplane {
    fn attach(&self, inbox: Inbox) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "the Redis backplane was attached outside a tokio runtime: build the hub inside one; \
                 it cannot deliver events"
            );
            return;
        };
        let task = runtime.spawn(crate::reader::run(Arc::clone(&self.shared), inbox));
        if let Some(old) = self.reader().replace(task.abort_handle()) {
            old.abort();
        }
        self.shared.reading.store(true, Ordering::Release);
    }

    fn publish(&self, topic: &str, event: Bytes) -> BoxFuture<Result<EventId, BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        let key = shared.stream_key(topic);
        Box::pin(async move {
            let append = redis::cmd("XADD")
                .arg(&key)
                .arg("MAXLEN")
                .arg("~")
                .arg(shared.config.maxlen)
                .arg("*")
                .arg(FIELD)
                .arg(&event[..])
                .to_owned();
            let appended = shared.query(&append).await.and_then(reply::id);
            match &appended {
                Ok(_) => Counters::add(&shared.counters.published, 1),
                Err(err) => {
                    Counters::add(&shared.counters.publish_errors, 1);
                    tracing::warn!(stream = %key, error = %err, "Redis backplane: publish failed");
                }
            }
            appended
        })
    }

    fn watch(&self, topic: &str) -> BoxFuture<Result<(), BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        if !shared.reading.load(Ordering::Acquire) {
            return Box::pin(async {
                Err(BackplaneError::new(
                    "the Redis backplane has no reader: the hub was built outside a tokio runtime",
                ))
            });
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Box::pin(async {
                Err(BackplaneError::new(
                    "watch was called outside a tokio runtime",
                ))
            });
        };
        let mut topics = shared.topics();
        if let Some(watch) = topics.map.get(topic) {
            if watch.last.is_some() {
                // Already armed: it goes on from where it is.
                return Box::pin(async { Ok(()) });
            }
            // Being armed for another subscriber: wait for the same arming.
            return Box::pin(armed(watch.arming.subscribe()));
        }
        topics.next_generation += 1;
        let generation = topics.next_generation;
        let (arming, waiting) = tokio::sync::watch::channel(None);
        topics.map.insert(
            topic.to_owned(),
            Watch {
                generation,
                last: None,
                told: None,
                arming,
            },
        );
        shared
            .counters
            .watched
            .store(topics.map.len(), Ordering::Relaxed);
        drop(topics);
        // Armed by a task of its own: a subscriber that goes away while it
        // waits does not leave the topic half armed for the others.
        let topic = topic.to_owned();
        runtime.spawn(async move { shared.arm(topic, generation).await });
        Box::pin(armed(waiting))
    }

    fn unwatch(&self, topic: &str) {
        let mut topics = self.shared.topics();
        topics.map.remove(topic);
        self.shared
            .counters
            .watched
            .store(topics.map.len(), Ordering::Relaxed);
        // The reader drops it at its next round; what it reads of it until
        // then is not delivered.
    }

    fn history(
        &self,
        topic: &str,
        after: EventId,
        limit: usize,
    ) -> BoxFuture<Result<History, BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        let key = shared.stream_key(topic);
        Box::pin(async move {
            // From `after` itself, to learn whether it is still there, and
            // the stream's first entry, to tell expired from unknown: one
            // round trip.
            let mut pipeline = redis::pipe();
            pipeline
                .cmd("XRANGE")
                .arg(&key)
                .arg(after.to_string())
                .arg("+")
                .arg("COUNT")
                .arg(limit.saturating_add(1))
                .cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1);
            let mut answers = shared.query_pipeline(&pipeline).await?.into_iter();
            let (Some(range), Some(first), None) = (answers.next(), answers.next(), answers.next())
            else {
                return Err(BackplaneError::new(
                    "Redis gave the wrong number of answers to XRANGE",
                ));
            };
            let mut range = reply::entries(range)?;
            let first = reply::entries(first)?.first().map(|entry| entry.id);
            let retention = if range.first().is_some_and(|entry| entry.id == after) {
                range.remove(0);
                Retention::Retained
            } else if first.is_some_and(|first| after < first) {
                Retention::Expired
            } else {
                return Ok(History {
                    events: Vec::new(),
                    after: Retention::Unknown,
                });
            };
            range.truncate(limit);
            let events = range
                .into_iter()
                .filter_map(|entry| {
                    let event = entry.event;
                    if event.is_none() {
                        Counters::add(&shared.counters.malformed, 1);
                    }
                    Some((entry.id, event?))
                })
                .collect();
            Ok(History {
                events,
                after: retention,
            })
        })
    }
}
