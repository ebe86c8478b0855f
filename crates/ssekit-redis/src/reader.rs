//! The reader: one task per backplane, on a connection of its own, that
//! reads every watched stream with one blocking `XREAD` and hands the
//! entries to the hub.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use redis::Value;
use redis::aio::MultiplexedConnection;
use ssekit::hub::{BackplaneError, EventId, Inbox};

use crate::backplane::Shared;
use crate::reply::{self, Entry};
use crate::stats::Counters;

/// The most entries one `XREAD` takes from a stream (and never more than
/// the stream keeps; see [`read`]).
const BATCH: usize = 512;

/// What the reader read the topics as, for one `XREAD`.
struct Reading {
    topic: String,
    key: String,
    generation: u64,
    last: EventId,
}

/// Runs until the hub is gone (or the backplane is dropped, which aborts
/// it). Each round of the outer loop is one connection; a lost connection
/// is made again after a pause that grows, and reading goes on from the
/// last id seen of each topic, so nothing Redis still holds is lost.
pub(crate) async fn run(shared: Arc<Shared>, inbox: Inbox) {
    let mut backoff = Backoff::new(shared.config.backoff_min, shared.config.backoff_max);
    let mut lost = false;
    while !inbox.is_closed() {
        let result = match connect(&shared).await {
            Ok(mut connection) => {
                if lost {
                    Counters::add(&shared.counters.reconnects, 1);
                    tracing::info!("Redis backplane: the reader is connected again");
                    lost = false;
                }
                let result = read(&shared, &inbox, &mut connection, &mut backoff).await;
                shared.reader_id.store(0, Ordering::Release);
                result
            }
            Err(err) => Err(err),
        };
        let Err(err) = result else {
            break;
        };
        Counters::add(&shared.counters.connection_errors, 1);
        if lost {
            tracing::debug!(error = %err, "Redis backplane: still cannot reach Redis");
        } else {
            tracing::warn!(error = %err, "Redis backplane: the reader lost Redis; reconnecting");
            lost = true;
        }
        tokio::time::sleep(backoff.next()).await;
    }
    tracing::debug!("Redis backplane: the hub is gone, the reader stops");
}

async fn connect(shared: &Shared) -> Result<MultiplexedConnection, BackplaneError> {
    let failed = |err: redis::RedisError| BackplaneError::new(format!("Redis: {err}"));
    // Answers to a blocking `XREAD` take the block time, then the usual.
    let config = shared.connection_config(shared.config.block + shared.config.timeout);
    let mut connection = tokio::time::timeout(
        shared.config.timeout,
        shared
            .client
            .get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .map_err(|_| BackplaneError::new("Redis did not accept a connection in time"))?
    .map_err(failed)?;
    let id: u64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut connection)
        .await
        .map_err(failed)?;
    shared.reader_id.store(id, Ordering::Release);
    Ok(connection)
}

/// Reads on one connection until it fails (an error) or the hub is gone.
async fn read(
    shared: &Shared,
    inbox: &Inbox,
    connection: &mut MultiplexedConnection,
    backoff: &mut Backoff,
) -> Result<(), BackplaneError> {
    let batch = BATCH.min(shared.config.maxlen);
    let block = u64::try_from(shared.config.block.as_millis()).unwrap_or(u64::MAX);
    check_continuity(shared, inbox, connection).await?;
    while !inbox.is_closed() {
        let readings = readings(shared);
        if readings.is_empty() {
            // Nothing to read: wait for a watch, and look at the hub now
            // and then.
            let _ = tokio::time::timeout(shared.config.block, shared.wake.notified()).await;
            continue;
        }
        let mut xread = redis::cmd("XREAD");
        xread
            .arg("COUNT")
            .arg(batch)
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS");
        for reading in &readings {
            xread.arg(&reading.key);
        }
        for reading in &readings {
            xread.arg(reading.last.to_string());
        }
        let answer: Value = xread
            .query_async(connection)
            .await
            .map_err(|err| BackplaneError::new(format!("Redis: {err}")))?;
        backoff.reset();
        for (key, entries) in reply::streams(answer)? {
            let Some(reading) = readings.iter().find(|reading| reading.key == key) else {
                continue;
            };
            // A stream keeps at least `maxlen` entries and `batch` is no
            // more, so entries were trimmed before they were read only if
            // the batch is full. Then the entry read last before it tells:
            // trimming goes oldest first, so if it is still there, nothing
            // after it went.
            if entries.len() == batch && !holds(connection, &key, reading.last).await? {
                tell_gap(shared, inbox, reading);
            }
            deliver(shared, inbox, reading, entries);
        }
    }
    Ok(())
}

/// The armed topics and where each goes on from. Notes the epoch, so a new
/// watch knows whether the reader has it.
fn readings(shared: &Shared) -> Vec<Reading> {
    let topics = shared.topics();
    shared.reader_epoch.store(topics.epoch, Ordering::Release);
    topics
        .map
        .iter()
        .filter_map(|(topic, watch)| {
            Some(Reading {
                topic: topic.clone(),
                key: shared.stream_key(topic),
                generation: watch.generation,
                last: watch.last?,
            })
        })
        .collect()
}

/// Hands the hub the entries still wanted: the topic may have been
/// unwatched (or watched anew) while they were read.
fn deliver(shared: &Shared, inbox: &Inbox, reading: &Reading, entries: Vec<Entry>) {
    let wanted: Vec<(EventId, Option<Bytes>)> = {
        let mut topics = shared.topics();
        let Some(watch) = topics
            .map
            .get_mut(&reading.topic)
            .filter(|watch| watch.generation == reading.generation)
        else {
            return;
        };
        let Some(last) = watch.last else { return };
        let wanted: Vec<_> = entries
            .into_iter()
            .filter(|entry| entry.id > last)
            .map(|entry| (entry.id, entry.event))
            .collect();
        if let Some((newest, _)) = wanted.last() {
            watch.last = Some(*newest);
        }
        wanted
    };
    // Outside the lock: the hub may call `unwatch` from inside `deliver`.
    for (id, event) in wanted {
        if let Some(event) = event {
            Counters::add(&shared.counters.delivered, 1);
            inbox.deliver(&reading.topic, id, &event);
        } else {
            Counters::add(&shared.counters.malformed, 1);
            tracing::warn!(topic = %reading.topic, %id, "Redis backplane: skipped an entry with no `event` field");
        }
    }
}

/// On a new connection: for every topic, whether the stream still holds
/// the entry read last. If it does not, Redis trimmed (or lost, restarting
/// without persistence) what came after it too, maybe before it was read.
async fn check_continuity(
    shared: &Shared,
    inbox: &Inbox,
    connection: &mut MultiplexedConnection,
) -> Result<(), BackplaneError> {
    // 0-0 is a watch armed on an empty stream that has read nothing since:
    // there is no entry to look for, so ask Redis whether it deleted any.
    let (readings, empty): (Vec<Reading>, Vec<Reading>) = readings(shared)
        .into_iter()
        .partition(|reading| reading.last > EventId::new(0, 0));
    for reading in &empty {
        if !never_trimmed(connection, &reading.key).await? {
            tell_gap(shared, inbox, reading);
        }
    }
    if readings.is_empty() {
        return Ok(());
    }
    let mut pipeline = redis::pipe();
    for reading in &readings {
        let id = reading.last.to_string();
        pipeline.cmd("XRANGE").arg(&reading.key).arg(&id).arg(&id);
    }
    let answers: Vec<Value> = pipeline
        .query_async(connection)
        .await
        .map_err(|err| BackplaneError::new(format!("Redis: {err}")))?;
    for (reading, answer) in readings.iter().zip(answers) {
        if reply::entries(answer)?.is_empty() {
            tell_gap(shared, inbox, reading);
        }
    }
    Ok(())
}

/// Whether the stream `key` still holds the entry `id`.
async fn holds(
    connection: &mut MultiplexedConnection,
    key: &str,
    id: EventId,
) -> Result<bool, BackplaneError> {
    if id == EventId::new(0, 0) {
        return never_trimmed(connection, key).await;
    }
    let id = id.to_string();
    let answer: Value = redis::cmd("XRANGE")
        .arg(key)
        .arg(&id)
        .arg(&id)
        .query_async(connection)
        .await
        .map_err(|err| BackplaneError::new(format!("Redis: {err}")))?;
    Ok(!reply::entries(answer)?.is_empty())
}

/// For a watch armed on an empty stream, which has read nothing yet:
/// whether the stream never lost an entry, from `XINFO STREAM`: it holds
/// every entry ever added to it (`entries-added`, Redis 7 and later; older
/// ones do not say, and are taken at their word).
async fn never_trimmed(
    connection: &mut MultiplexedConnection,
    key: &str,
) -> Result<bool, BackplaneError> {
    let answer = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query_async::<Value>(connection)
        .await;
    let fields = match answer {
        Ok(Value::Array(flat)) => {
            let mut flat = flat.into_iter();
            std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect()
        }
        Ok(Value::Map(pairs)) => pairs,
        Ok(_) => Vec::new(),
        // No such key: nothing was ever there to lose, or it went with a
        // restart, which the entries read since cannot tell either.
        Err(err) if matches!(err.kind(), redis::ErrorKind::Server(_)) => {
            return Ok(true);
        }
        Err(err) => return Err(BackplaneError::new(format!("Redis: {err}"))),
    };
    let (mut length, mut added) = (None, None);
    for (name, value) in fields {
        match (name, value) {
            (Value::BulkString(name), Value::Int(n)) if name == b"length" => length = Some(n),
            (Value::BulkString(name), Value::Int(n)) if name == b"entries-added" => added = Some(n),
            _ => {}
        }
    }
    Ok(match (length, added) {
        (Some(length), Some(added)) => added <= length,
        _ => true,
    })
}

/// Tells the subscribers of the topic that events after the id it read
/// last may be missing: once per id, and only while the same watch is
/// still there at that id.
fn tell_gap(shared: &Shared, inbox: &Inbox, reading: &Reading) {
    {
        let mut topics = shared.topics();
        let Some(watch) = topics.map.get_mut(&reading.topic).filter(|watch| {
            watch.generation == reading.generation
                && watch.last == Some(reading.last)
                && watch.told != Some(reading.last)
        }) else {
            return;
        };
        watch.told = Some(reading.last);
    }
    Counters::add(&shared.counters.gaps, 1);
    tracing::warn!(
        topic = %reading.topic,
        after = %reading.last,
        "Redis backplane: the stream no longer holds events this instance had not read; \
         subscribers get a gap notice"
    );
    inbox.gap(&reading.topic);
}

/// Pauses between reconnection attempts: doubling from `min` up to `max`,
/// each drawn between half and all of it, so instances that lost Redis
/// together do not all come back at once.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            next: min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    pub(crate) fn next(&mut self) -> Duration {
        let full = self.next;
        self.next = full.saturating_mul(2).min(self.max);
        let half = full / 2;
        // A fresh `RandomState` is seeded anew each time: enough randomness
        // for jitter, without a dependency.
        let draw = RandomState::new().hash_one(0_u8);
        let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(draw % span.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_max() {
        let (min, max) = (Duration::from_millis(50), Duration::from_secs(2));
        let mut backoff = Backoff::new(min, max);
        let mut full = min;
        for _ in 0..10 {
            let pause = backoff.next();
            assert!(pause >= full / 2 && pause <= full, "{pause:?} for {full:?}");
            full = (full * 2).min(max);
        }
        assert_eq!(full, max);
        backoff.reset();
        assert!(backoff.next() <= min);
    }
}
