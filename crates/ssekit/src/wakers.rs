//! Wakers of many streams in one table, each in a slot of its own that is
//! reused once its stream has gone: what the shutdown handle and the
//! heartbeat clocks wake, without a heap block (or a timer) per stream.
//!
//! A waker that leaves the table is handed back rather than dropped: the
//! caller drops it after the table's lock, since dropping the last waker of
//! a task may drop the task's future, which may hold a stream that takes
//! the same lock on its way out.

use std::task::Waker;

/// A stream with no slot.
pub(crate) const NO_SLOT: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct WakerSlots {
    wakers: Vec<Option<Waker>>,
    free: Vec<u32>,
}

impl WakerSlots {
    /// A slot for a new stream, holding `waker`; `None` only once `u32`
    /// slots run out.
    pub(crate) fn insert(&mut self, waker: &Waker) -> Option<u32> {
        if let Some(slot) = self.free.pop()
            && let Some(place) = self.wakers.get_mut(slot as usize)
        {
            *place = Some(waker.clone());
            return Some(slot);
        }
        let slot = u32::try_from(self.wakers.len())
            .ok()
            .filter(|&slot| slot != NO_SLOT)?;
        self.wakers.push(Some(waker.clone()));
        Some(slot)
    }

    /// Puts `waker` in `slot`, unless the one there wakes the same task;
    /// returns the one it replaced.
    #[must_use = "drop the waker it replaced after the lock"]
    pub(crate) fn set(&mut self, slot: u32, waker: &Waker) -> Option<Waker> {
        let place = self.wakers.get_mut(slot as usize)?;
        match place {
            Some(old) if old.will_wake(waker) => None,
            _ => place.replace(waker.clone()),
        }
    }

    /// The waker in `slot`, left in place.
    #[cfg_attr(
        not(feature = "tokio"),
        allow(dead_code, reason = "the heartbeat clocks' alone")
    )]
    pub(crate) fn get(&self, slot: u32) -> Option<Waker> {
        self.wakers.get(slot as usize)?.clone()
    }

    /// Gives `slot` back, and returns its waker. Once every slot is free,
    /// so is the memory: the table grows to the most streams open at once,
    /// and would keep that.
    #[must_use = "drop the waker after the lock"]
    pub(crate) fn free(&mut self, slot: u32) -> Option<Waker> {
        // Only a slot in use goes on the free list: freed twice, it would
        // be handed to two streams.
        let waker = self
            .wakers
            .get_mut(slot as usize)
            .and_then(Option::take)
            .inspect(|_| self.free.push(slot));
        if self.free.len() == self.wakers.len() {
            *self = Self::default();
        }
        waker
    }

    /// Every waker in the table.
    pub(crate) fn into_wakers(self) -> impl Iterator<Item = Waker> {
        self.wakers.into_iter().flatten()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.wakers.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_the_memory_goes_back_when_all_are_free() {
        struct Task;
        impl std::task::Wake for Task {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let task = Waker::from(std::sync::Arc::new(Task));
        let other = Waker::from(std::sync::Arc::new(Task));
        let mut slots = WakerSlots::default();
        let taken: Vec<u32> = (0..4).filter_map(|_| slots.insert(&task)).collect();
        assert_eq!(taken, [0, 1, 2, 3]);
        assert!(slots.set(2, &task.clone()).is_none(), "the same task's");
        assert!(slots.set(2, &other).is_some_and(|old| old.will_wake(&task)));
        assert!(slots.get(2).is_some_and(|now| now.will_wake(&other)));
        assert!(slots.free(2).is_some());
        assert!(slots.get(2).is_none());
        assert!(slots.free(2).is_none(), "freed once only");
        assert_eq!(slots.insert(&task), Some(2), "a freed slot is taken first");
        assert_eq!(slots.insert(&task), Some(4), "and only once");
        assert_eq!(slots.len(), 5);
        for slot in taken.into_iter().chain([4]) {
            assert!(slots.free(slot).is_some());
        }
        assert_eq!(slots.capacity(), 0);
        // A slot from before is ignored, not a panic.
        assert!(slots.free(7).is_none());
        assert!(slots.set(7, Waker::noop()).is_none());
        assert!(slots.get(7).is_none());
    }
}
