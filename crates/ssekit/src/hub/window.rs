//! A topic's replay window and the wakers of its subscribers.

use std::collections::VecDeque;
use std::mem;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{EventId, Retention};

/// One topic: its window behind a lock that publishers and subscribers
/// hold only to push or to take references.
#[derive(Debug)]
pub(super) struct Topic {
    pub(super) name: Arc<str>,
    window: Mutex<Window>,
    /// Held by an in-process publisher from taking an id to pushing the
    /// event, so that the window stays in id order without encoding under
    /// the window's lock.
    pub(super) publishing: Mutex<()>,
}

impl Topic {
    pub(super) fn new(name: Arc<str>) -> Self {
        Self {
            name,
            window: Mutex::new(Window::default()),
            publishing: Mutex::new(()),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An event as every subscriber gets it: the bytes are shared, never
/// copied per subscriber.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) id: EventId,
    pub(super) bytes: Bytes,
    at: Instant,
}

/// Where a subscriber's waker sits: valid while the generation matches.
pub(super) type Slot = Option<(Generation, usize)>;

/// Which list of wakers a [`Slot`] points into: every push starts a new
/// one. It counts from one, so that a `Slot` is 16 bytes in every idle
/// subscriber, not 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Generation(NonZeroU64);

impl Default for Generation {
    fn default() -> Self {
        Self(NonZeroU64::MIN)
    }
}

#[derive(Debug, Default)]
pub(super) struct Window {
    pub(super) entries: VecDeque<Entry>,
    /// The sequence number of `entries[0]`; sequence numbers count every
    /// entry the window ever held, so a cursor survives evictions.
    pub(super) first: u64,
    /// The newest id ever pushed, evicted or not.
    pub(super) newest: Option<EventId>,
    /// The id of the entry evicted last: a subscriber whose cursor fell
    /// behind `first` lost nothing if it had sent everything up to it.
    pub(super) last_evicted: Option<EventId>,
    pub(super) subscribers: usize,
    /// With a backplane: whether it delivers this topic now.
    pub(super) watched: bool,
    /// With a backplane: whether a watch has resolved since, so that the
    /// backplane delivers everything appended from then on. Every joiner
    /// before that waits for the arming, not only the first.
    pub(super) armed: bool,
    wakers: Vec<Waker>,
    /// Slots of `wakers` that subscribers gave up, reused so that churn
    /// on a quiet topic cannot grow the list.
    free: Vec<usize>,
    generation: Generation,
}

impl Window {
    /// The sequence number the next entry gets.
    pub(super) fn head(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Appends an event, evicting the oldest past `capacity`, and returns
    /// the wakers to wake once the lock is released.
    pub(super) fn push(&mut self, id: EventId, bytes: Bytes, capacity: usize) -> Vec<Waker> {
        while self.entries.len() >= capacity.max(1) {
            self.last_evicted = self.entries.pop_front().map(|entry| entry.id);
            self.first += 1;
        }
        self.entries.push_back(Entry {
            id,
            bytes,
            at: Instant::now(),
        });
        self.newest = Some(self.newest.map_or(id, |newest| newest.max(id)));
        self.generation = Generation(self.generation.0.saturating_add(1));
        self.free.clear();
        mem::take(&mut self.wakers)
    }

    /// Hands back the list [`push`](Self::push) took once its wakers were
    /// woken, so the next registrations do not allocate.
    pub(super) fn recycle(&mut self, mut spent: Vec<Waker>) {
        if self.wakers.is_empty() && spent.capacity() > self.wakers.capacity() {
            spent.clear();
            self.wakers = spent;
        }
    }

    /// Drops what is older than `max_age`.
    pub(super) fn expire(&mut self, max_age: Option<Duration>) {
        let Some(max_age) = max_age else { return };
        let Some(oldest) = self.entries.front() else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(oldest.at) <= max_age {
            return;
        }
        while self
            .entries
            .front()
            .is_some_and(|entry| now.duration_since(entry.at) > max_age)
        {
            self.last_evicted = self.entries.pop_front().map(|entry| entry.id);
            self.first += 1;
        }
    }

    /// Where a client that last saw `id` resumes, as a sequence number,
    /// or what became of `id`.
    pub(super) fn locate(&self, id: EventId) -> Result<u64, Retention> {
        // The first entry with that id: a gap notice the backplane left
        // after it carries the same id, and a client resuming there must
        // get it.
        let at = self.entries.partition_point(|entry| entry.id < id);
        if self.entries.get(at).is_some_and(|entry| entry.id == id) {
            return Ok(self.first + at as u64 + 1);
        }
        if self.newest == Some(id) {
            // Up to date, even when the window has since emptied by age.
            return Ok(self.head());
        }
        let oldest = self.entries.front().map(|entry| entry.id).or(self.newest);
        match oldest {
            Some(oldest) if id < oldest => Err(Retention::Expired),
            _ => Err(Retention::Unknown),
        }
    }

    /// Empties the window; the sequence numbers go on from where they were.
    pub(super) fn clear(&mut self) {
        self.first = self.head();
        self.entries.clear();
        self.newest = None;
    }

    /// Asks to be woken by the next push. Returns the waker it replaced,
    /// for the caller to drop after the topic's lock: dropping a task's
    /// last waker may drop the task's future, and a subscription in it
    /// takes this lock on its way out.
    #[must_use = "drop the replaced waker after the lock"]
    pub(super) fn register(&mut self, slot: &mut Slot, waker: &Waker) -> Option<Waker> {
        if let Some((generation, at)) = *slot
            && generation == self.generation
            && let Some(registered) = self.wakers.get_mut(at)
        {
            return (!registered.will_wake(waker)).then(|| mem::replace(registered, waker.clone()));
        }
        let (at, replaced) = if let Some(at) = self.free.pop() {
            let replaced = self
                .wakers
                .get_mut(at)
                .map(|free| mem::replace(free, waker.clone()));
            (at, replaced)
        } else {
            self.wakers.push(waker.clone());
            (self.wakers.len() - 1, None)
        };
        *slot = Some((self.generation, at));
        replaced
    }

    /// Gives up a registration, for a subscriber that goes away; returns
    /// its waker, to drop after the lock (see [`register`](Self::register)).
    #[must_use = "drop the waker after the lock"]
    pub(super) fn deregister(&mut self, slot: &mut Slot) -> Option<Waker> {
        if let Some((generation, at)) = slot.take()
            && generation == self.generation
            && let Some(registered) = self.wakers.get_mut(at)
        {
            self.free.push(at);
            return Some(mem::replace(registered, Waker::noop().clone()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(minor: u64) -> EventId {
        EventId::new(1, minor)
    }

    #[test]
    fn keeps_capacity_and_locates_ids() {
        let mut window = Window::default();
        for minor in 1..=5 {
            window.push(id(minor * 10), Bytes::new(), 3);
        }
        assert_eq!((window.first, window.head()), (2, 5));
        assert_eq!(window.locate(id(30)), Ok(3));
        assert_eq!(window.locate(id(50)), Ok(5));
        assert_eq!(window.locate(id(20)), Err(Retention::Expired));
        assert_eq!(window.locate(id(35)), Err(Retention::Unknown));
        assert_eq!(window.locate(id(60)), Err(Retention::Unknown));
        window.clear();
        assert_eq!((window.first, window.head()), (5, 5));
        assert_eq!(window.locate(id(30)), Err(Retention::Unknown));
    }

    #[test]
    fn churn_reuses_waker_slots() {
        let mut window = Window::default();
        let waker = Waker::noop();
        for _ in 0..1000 {
            let mut slot = None;
            let _ = window.register(&mut slot, waker);
            let _ = window.register(&mut slot, waker);
            let _ = window.deregister(&mut slot);
        }
        assert_eq!(window.wakers.len(), 1);
        let woken = window.push(id(1), Bytes::new(), 8);
        assert_eq!(woken.len(), 1);
        window.recycle(woken);
        assert!(window.wakers.is_empty() && window.wakers.capacity() >= 1);
    }
}
