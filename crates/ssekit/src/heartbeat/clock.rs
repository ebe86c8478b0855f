//! The shared clocks behind [`Heartbeat`]: per tokio runtime and interval,
//! one driver task, a table of the waiting streams' wakers, and a ring of
//! buckets that says which of them each tick wakes.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::{self, Handle};
use tokio::time::{Instant, Sleep};

use crate::wakers::{NO_SLOT, WakerSlots};

/// Ticks per interval: how late a heartbeat may be, in eighths of one.
const TICKS: u32 = 8;
/// Buckets in a clock's ring: a stream waits at most `TICKS + 1` ticks
/// ahead, so each bucket holds one tick's waiters.
const BUCKETS: usize = TICKS as usize + 2;
/// The same, for tick arithmetic.
const RING: u64 = BUCKETS as u64;
/// The shortest tick, and the shortest interval, so that a tiny one does
/// not spin its clock or its streams.
const MIN_TICK: Duration = Duration::from_millis(1);

/// Every live clock, by runtime and interval. Looked up when a stream first
/// waits, not on every poll. Streams with different intervals do not share
/// a clock: jittered intervals each get one.
static CLOCKS: LazyLock<Mutex<Clocks>> = LazyLock::new(Mutex::default);

type Clocks = HashMap<(runtime::Id, Duration), Weak<Clock>>;

/// One stream's heartbeat.
#[derive(Debug)]
pub struct Heartbeat {
    beat: Beat,
    last_sent: Instant,
    /// Its place in the clock's waker table, once it has waited.
    slot: u32,
    /// The tick it waits for; once the clock has passed it, it looks again.
    waiting_for: u64,
    /// The waker in its table place: the table's lock is only taken again
    /// when the task's waker changes.
    waker: Option<Waker>,
}

#[derive(Debug)]
enum Beat {
    Off,
    /// On, with no clock yet: one is found at the first wait, inside the
    /// runtime that polls the stream.
    Every(Duration),
    On(Arc<Clock>),
}

impl Heartbeat {
    /// A heartbeat every `interval` of silence (`None`: never), counted
    /// from now. An interval under a millisecond counts as one; one too
    /// long to reach (`Duration::MAX`) as never.
    #[must_use]
    pub fn new(interval: Option<Duration>) -> Self {
        let now = Instant::now();
        let beat = match interval {
            Some(interval) if now.checked_add(interval).is_some() => {
                Beat::Every(interval.max(MIN_TICK))
            }
            _ => Beat::Off,
        };
        Self {
            beat,
            last_sent: now,
            slot: NO_SLOT,
            waiting_for: 0,
            waker: None,
        }
    }

    /// The interval, if heartbeats are on.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        match &self.beat {
            Beat::Off => None,
            Beat::Every(interval) => Some(*interval),
            Beat::On(clock) => Some(clock.interval),
        }
    }

    /// The same heartbeat, counted from the same instant, at another
    /// interval. Meant for before the first poll.
    #[must_use]
    pub fn with_interval(&self, interval: Option<Duration>) -> Self {
        let mut heartbeat = Self::new(interval);
        heartbeat.last_sent = self.last_sent;
        heartbeat
    }

    /// Records that something was sent now, which puts the next heartbeat
    /// one interval away.
    pub fn sent(&mut self) {
        if !matches!(self.beat, Beat::Off) {
            self.last_sent = Instant::now();
        }
    }

    /// Ready when a heartbeat is due; the caller then sends [`HEARTBEAT`].
    /// Being ready counts as sending one.
    ///
    /// Until the tick it waits for has passed, a poll with the same waker
    /// reads one atomic and returns.
    ///
    /// [`HEARTBEAT`]: super::HEARTBEAT
    pub fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let clock = match &self.beat {
            Beat::Off => return Poll::Pending,
            Beat::On(clock) => {
                if self.waiting_for > clock.passed.load(Ordering::Acquire)
                    && self
                        .waker
                        .as_ref()
                        .is_some_and(|waker| waker.will_wake(cx.waker()))
                {
                    return Poll::Pending;
                }
                Arc::clone(clock)
            }
            Beat::Every(interval) => match Clock::of_this_runtime(*interval) {
                Some(clock) => {
                    self.beat = Beat::On(Arc::clone(&clock));
                    clock
                }
                None => {
                    // Polled outside a tokio runtime (an unusual
                    // executor), or in one built without its time driver:
                    // there is no clock to wake it.
                    tracing::warn!(
                        "no tokio runtime with timers: SSE heartbeats are off for this stream"
                    );
                    self.beat = Beat::Off;
                    return Poll::Pending;
                }
            },
        };
        let now = Instant::now();
        let Some(due) = self.last_sent.checked_add(clock.interval) else {
            return Poll::Pending;
        };
        if now >= due {
            // On the tick that woke it, so an idle stream's next heartbeat
            // falls on a tick too, one interval on, instead of up to a tick
            // later each time.
            self.last_sent = clock.tick_before(now).max(due);
            return Poll::Ready(());
        }
        self.wait(clock, due, cx.waker());
        Poll::Pending
    }

    /// Waits in `clock` for the tick at or after `due`.
    fn wait(&mut self, mut clock: Arc<Clock>, due: Instant, waker: &Waker) {
        // A stream moved to another runtime leaves its clock, whose driver
        // dies with the runtime it was spawned on.
        if let Ok(runtime) = Handle::try_current()
            && runtime.id() != clock.runtime
            && let Some(here) = Clock::of_this_runtime(clock.interval)
        {
            self.leave();
            self.beat = Beat::On(Arc::clone(&here));
            clock = here;
        }
        let mut table = clock.table();
        let passed = clock.passed.load(Ordering::Acquire);
        // Never a tick already passed, and never so far ahead that the
        // bucket is one a lagging driver has yet to empty: woken early, it
        // waits again.
        let tick = clock
            .tick_at_or_after(due)
            .clamp(passed.saturating_add(1), passed.saturating_add(RING - 1));
        let replaced = if self.slot == NO_SLOT {
            let Some(slot) = table.wakers.insert(waker) else {
                return;
            };
            self.slot = slot;
            None
        } else {
            table.wakers.set(self.slot, waker)
        };
        table.buckets[bucket(tick)].push(self.slot);
        drop(table);
        drop(replaced);
        self.waiting_for = tick;
        self.waker = Some(waker.clone());
    }

    /// Gives its place in the clock's table back.
    fn leave(&mut self) {
        if let Beat::On(clock) = &self.beat
            && self.slot != NO_SLOT
        {
            let waker = clock.table().wakers.free(self.slot);
            drop(waker);
        }
        self.slot = NO_SLOT;
        self.waiting_for = 0;
        self.waker = None;
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.leave();
    }
}

/// The clock of one runtime and interval.
#[derive(Debug)]
struct Clock {
    interval: Duration,
    tick: Duration,
    /// Tick `n` is at `origin + n * tick`.
    origin: Instant,
    runtime: tokio::runtime::Id,
    /// The last tick whose waiters were woken. Written under the table's
    /// lock.
    passed: AtomicU64,
    table: Mutex<Table>,
}

impl Clock {
    /// The clock for `interval` in the current runtime, started if there
    /// was none; `None` outside a runtime.
    fn of_this_runtime(interval: Duration) -> Option<Arc<Self>> {
        let handle = Handle::try_current().ok()?;
        let key = (handle.id(), interval);
        let mut clocks = CLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(clock) = clocks.get(&key).and_then(Weak::upgrade) {
            return Some(clock);
        }
        let clock = Self {
            interval,
            tick: (interval / TICKS).max(MIN_TICK),
            origin: Instant::now(),
            runtime: key.0,
            passed: AtomicU64::new(0),
            table: Mutex::new(Table::default()),
        };
        // The driver's first sleep, made here: on a runtime built without
        // its time driver, tokio panics, and the stream goes without
        // heartbeats (and says so) instead of waiting on a dead clock.
        let first = catch_unwind(AssertUnwindSafe(|| {
            Box::pin(tokio::time::sleep_until(clock.at(1)))
        }))
        .ok()?;
        let clock = Arc::new(clock);
        clocks.retain(|_, clock| clock.strong_count() > 0);
        clocks.insert(key, Arc::downgrade(&clock));
        handle.spawn(drive(Arc::downgrade(&clock), first));
        Some(clock)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The instant of tick `n`.
    fn at(&self, n: u64) -> Instant {
        let since = self.tick.as_nanos().saturating_mul(u128::from(n));
        let since = Duration::from_nanos(u64::try_from(since).unwrap_or(u64::MAX));
        self.origin
            .checked_add(since)
            // Hundreds of years on: never, for a heartbeat.
            .unwrap_or_else(|| self.origin + Duration::from_secs(1 << 32))
    }

    /// The number of the last tick at or before `instant`.
    fn tick_number(&self, instant: Instant) -> u64 {
        let since = instant.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since / self.tick.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The number of the first tick at or after `instant`.
    fn tick_at_or_after(&self, instant: Instant) -> u64 {
        let n = self.tick_number(instant);
        if self.at(n) < instant {
            n.saturating_add(1)
        } else {
            n
        }
    }

    /// The instant of the last tick at or before `instant`.
    fn tick_before(&self, instant: Instant) -> Instant {
        self.at(self.tick_number(instant))
    }

    /// Marks every tick up to `to` passed, and returns the wakers that were
    /// waiting for one of them.
    fn pass(&self, from: u64, to: u64) -> Vec<Waker> {
        let mut table = self.table();
        let mut woken = Vec::new();
        for tick in (from.saturating_add(1)..=to).take(BUCKETS) {
            let slots = std::mem::take(&mut table.buckets[bucket(tick)]);
            woken.extend(slots.iter().filter_map(|&slot| table.wakers.get(slot)));
        }
        self.passed.store(to, Ordering::Release);
        woken
    }
}

/// The wakers of a clock's streams, and which of them each tick wakes.
#[derive(Debug, Default)]
struct Table {
    /// A stream's waker is left in its slot when a tick wakes it, so a
    /// stale bucket entry (a slot's previous stream) wakes the slot's new
    /// stream early at worst, never takes its waker. Bucket entries left
    /// over once the table has shrunk point past its end and are skipped.
    wakers: WakerSlots,
    /// The slots waiting for tick `n`, in bucket `n % RING`.
    buckets: [Vec<u32>; BUCKETS],
}

/// The bucket of tick `n`.
fn bucket(n: u64) -> usize {
    // Below `BUCKETS`, so it fits.
    usize::try_from(n % RING).unwrap_or_default()
}

/// A clock's driver: wakes each tick's waiters, until the last stream that
/// uses the clock has gone. `sleep` is set for the first tick.
async fn drive(clock: Weak<Clock>, mut sleep: Pin<Box<Sleep>>) {
    let mut passed: u64 = 0;
    loop {
        sleep.as_mut().await;
        let Some(clock) = clock.upgrade() else {
            return;
        };
        // Behind (a busy runtime, or time advanced in a test), it catches
        // up in one step: every bucket at most once.
        let reached = clock
            .tick_number(Instant::now())
            .max(passed.saturating_add(1));
        let woken = clock.pass(passed, reached);
        let next = clock.at(reached.saturating_add(1));
        drop(clock);
        for waker in woken {
            waker.wake();
        }
        passed = reached;
        sleep.as_mut().reset(next);
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Context;

    use super::*;

    const INTERVAL: Duration = Duration::from_secs(8);

    fn paused() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    fn clocks_of_this_runtime() -> usize {
        let runtime = Handle::current().id();
        CLOCKS
            .lock()
            .unwrap()
            .values()
            .filter_map(Weak::upgrade)
            .filter(|clock| clock.runtime == runtime)
            .count()
    }

    /// Polls once with a no-op waker.
    fn poll_now(heartbeat: &mut Heartbeat) -> Poll<()> {
        heartbeat.poll_due(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_thousand_streams_share_one_clock_and_beat_on_time() {
        paused().block_on(async {
            let started = Instant::now();
            let beats = (0..1000).map(|i| async move {
                let mut heartbeat = Heartbeat::new(Some(INTERVAL));
                // Started a little apart: each is due one interval after
                // its own start, rounded up to a tick.
                tokio::time::sleep(Duration::from_millis(i)).await;
                let own_start = Instant::now();
                heartbeat.sent();
                poll_fn(|cx| heartbeat.poll_due(cx)).await;
                let first = own_start.elapsed();
                poll_fn(|cx| heartbeat.poll_due(cx)).await;
                (first, own_start.elapsed(), heartbeat)
            });
            let beats = futures_util::future::join_all(beats).await;
            assert_eq!(clocks_of_this_runtime(), 1, "one clock for one interval");
            for (first, second, _) in &beats {
                assert!(
                    *first >= INTERVAL && *first <= INTERVAL + INTERVAL / TICKS,
                    "first heartbeat after {first:?}"
                );
                assert_eq!(
                    *second - *first,
                    INTERVAL,
                    "an idle stream beats one interval apart"
                );
            }
            assert!(started.elapsed() < 3 * INTERVAL);
            drop(beats);
            // With every stream gone, the clock goes at its next tick.
            tokio::time::sleep(INTERVAL).await;
            assert_eq!(clocks_of_this_runtime(), 0);
        });
    }

    #[test]
    fn a_stream_that_sent_meanwhile_waits_a_whole_interval_more() {
        paused().block_on(async {
            let started = Instant::now();
            let mut heartbeat = Heartbeat::new(Some(INTERVAL));
            assert!(poll_now(&mut heartbeat).is_pending());
            tokio::time::sleep(INTERVAL / 2).await;
            heartbeat.sent();
            poll_fn(|cx| heartbeat.poll_due(cx)).await;
            assert_eq!(started.elapsed(), INTERVAL / 2 + INTERVAL);
        });
    }

    #[test]
    fn a_reused_slot_still_wakes_its_new_stream() {
        paused().block_on(async {
            let started = Instant::now();
            // The first stream waits for the first interval's end, then
            // goes; the second takes its slot, due later.
            let mut first = Heartbeat::new(Some(INTERVAL));
            assert!(poll_now(&mut first).is_pending());
            tokio::time::sleep(INTERVAL / 2).await;
            drop(first);
            let mut second = Heartbeat::new(Some(INTERVAL));
            poll_fn(|cx| second.poll_due(cx)).await;
            assert_eq!(started.elapsed(), INTERVAL / 2 + INTERVAL);
        });
    }

    #[test]
    fn a_stream_moved_to_another_runtime_keeps_beating() {
        let mut heartbeat = Heartbeat::new(Some(INTERVAL));
        paused().block_on(async {
            assert!(poll_now(&mut heartbeat).is_pending());
        });
        // That runtime, and its clock's driver, are gone.
        paused().block_on(async {
            let started = Instant::now();
            poll_fn(|cx| heartbeat.poll_due(cx)).await;
            assert!(started.elapsed() <= INTERVAL + INTERVAL / TICKS);
        });
    }

    #[test]
    fn a_runtime_without_timers_gets_no_heartbeats_and_no_hang() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut heartbeat = Heartbeat::new(Some(INTERVAL));
            assert!(poll_now(&mut heartbeat).is_pending());
            assert_eq!(heartbeat.interval(), None, "off, and said so");
            assert_eq!(clocks_of_this_runtime(), 0);
        });
    }

    #[test]
    fn intervals_out_of_reach_or_under_a_millisecond_are_tamed() {
        paused().block_on(async {
            let mut never = Heartbeat::new(Some(Duration::MAX));
            assert_eq!(never.interval(), None);
            assert!(poll_now(&mut never).is_pending());
            let mut zero = Heartbeat::new(Some(Duration::ZERO));
            assert_eq!(zero.interval(), Some(MIN_TICK));
            let started = Instant::now();
            poll_fn(|cx| zero.poll_due(cx)).await;
            poll_fn(|cx| zero.poll_due(cx)).await;
            assert_eq!(
                started.elapsed(),
                2 * MIN_TICK,
                "one a millisecond, not a spin"
            );
        });
    }

    #[test]
    fn tick_arithmetic_rounds_the_right_way() {
        paused().block_on(async {
            let clock = Clock::of_this_runtime(INTERVAL).unwrap();
            let tick = INTERVAL / TICKS;
            assert_eq!(clock.tick_at_or_after(clock.origin), 0);
            assert_eq!(clock.tick_at_or_after(clock.origin + tick), 1);
            assert_eq!(
                clock.tick_at_or_after(clock.origin + tick + Duration::from_nanos(1)),
                2
            );
            assert_eq!(
                clock.tick_before(clock.origin + 2 * tick - Duration::from_nanos(1)),
                clock.origin + tick
            );
            assert!(clock.at(u64::MAX) > clock.origin + INTERVAL);
        });
    }
}
