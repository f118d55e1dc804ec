//! The in-memory counters: GCRA buckets in atomics, no lock on the request
//! path. With `store = "local"` they are the limits; with `store = "redis"`
//! they mirror the shared counters as this replica last saw them, and take
//! over while the store is unreachable (`on_store_error = "allow"`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Nanoseconds since the first use, the clock of the buckets.
pub fn now_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A minute in nanoseconds.
pub const MINUTE: u64 = 60_000_000_000;

/// One GCRA bucket of `capacity` units per minute.
#[derive(Debug)]
pub struct Bucket {
    /// Theoretical arrival time, in [`now_nanos`] units.
    tat: AtomicU64,
    /// Nanoseconds one unit takes to refill.
    interval: u64,
}

/// A bucket's state for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketView {
    pub limit: u32,
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset: Duration,
}

impl Bucket {
    /// A full bucket of `per_minute` units.
    pub fn new(per_minute: u32) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: MINUTE / u64::from(per_minute.max(1)),
        }
    }

    /// Takes `units` if they fit; otherwise the wait until they would.
    pub fn take(&self, units: u64, now: u64) -> Result<(), Duration> {
        let cost = self.interval.saturating_mul(units);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(cost);
            if next - now > MINUTE {
                return Err(Duration::from_nanos(next - now - MINUTE));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Whether anything is left; otherwise the wait until something is.
    pub fn has_some(&self, now: u64) -> Result<(), Duration> {
        let tat = self.tat.load(Ordering::Relaxed);
        let used = tat.saturating_sub(now);
        if used < MINUTE {
            Ok(())
        } else {
            Err(Duration::from_nanos(used - MINUTE + self.interval))
        }
    }

    /// Charges `units` unconditionally (may go into debt).
    pub fn charge(&self, units: u64, now: u64) {
        let cost = self.interval.saturating_mul(units);
        let _ = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.max(now).saturating_add(cost))
            });
    }

    /// Takes the state of the shared bucket: `used` of the minute is taken.
    pub fn mirror(&self, used: Duration, now: u64) {
        let used = u64::try_from(used.as_nanos()).unwrap_or(u64::MAX);
        self.tat.store(now.saturating_add(used), Ordering::Relaxed);
    }

    /// The state for the headers.
    pub fn view(&self, limit: u32, now: u64) -> BucketView {
        let used = self.tat.load(Ordering::Relaxed).saturating_sub(now);
        BucketView {
            limit,
            remaining: MINUTE.saturating_sub(used) / self.interval,
            reset: Duration::from_nanos(used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_capacity_then_one_per_interval() {
        let b = Bucket::new(60); // one per second
        let t0 = 10 * MINUTE;
        for _ in 0..60 {
            assert!(b.take(1, t0).is_ok());
        }
        let wait = b.take(1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(b.take(1, t0 + 999_000_000).is_err());
        assert!(b.take(1, t0 + 1_000_000_000).is_ok());
        assert_eq!(b.view(60, t0 + 1_000_000_000).remaining, 0);
    }

    #[test]
    fn tokens_are_admitted_while_some_are_left_and_charged_after() {
        let b = Bucket::new(600); // ten per second
        let t0 = 10 * MINUTE;
        assert!(b.has_some(t0).is_ok());
        b.charge(700, t0); // more than a minute's worth: in debt
        let wait = b.has_some(t0).unwrap_err();
        assert!(wait > Duration::from_secs(10), "{wait:?}");
        assert!(b.has_some(t0 + 11 * 1_000_000_000).is_ok());
    }

    #[test]
    fn a_mirrored_bucket_shows_the_shared_state() {
        let b = Bucket::new(60);
        let t0 = 10 * MINUTE;
        b.mirror(Duration::from_secs(60), t0);
        assert_eq!(b.view(60, t0).remaining, 0);
        assert!(b.take(1, t0).is_err());
        b.mirror(Duration::from_secs(1), t0);
        assert_eq!(b.view(60, t0).remaining, 59);
    }
}
