//! Circuit breakers, one per target (provider and its model name), shared by
//! all workers.
//!
//! Closed: calls go through; `breaker_failures` consecutive retryable
//! failures open it. Open: the target is skipped for `breaker_cooldown`.
//! Then half-open: a single probe call goes through (others still skip the
//! target); its success closes the breaker, its failure opens it again. The
//! state survives reloads for targets that did not change.

use crate::config::{RoutingSettings, Target};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A target's identity: provider ID and the provider's model name.
pub type TargetKey = (Arc<str>, Arc<str>);

/// The key of `target`.
pub fn key(target: &Target) -> TargetKey {
    (target.provider.id.clone(), target.api_model.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Whether a call may use a target, and how.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Closed: go ahead.
    Go,
    /// Half-open: this call is the single probe.
    Probe,
    /// Open (or a probe is already out): skip the target.
    Skip,
}

/// A health change worth publishing (`llm_target_healthy`).
pub type Change = Option<(TargetKey, bool)>;

/// All targets' breakers.
#[derive(Debug, Default)]
pub struct Breakers {
    states: Mutex<HashMap<TargetKey, State>>,
}

impl Breakers {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<TargetKey, State>) -> R) -> R {
        // A panic elsewhere cannot leave the map inconsistent: every update
        // is a single insert.
        let mut map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }

    /// Whether `key` could take a call now, without claiming a probe.
    pub fn available(&self, key: &TargetKey, now: Instant) -> bool {
        self.with(|map| match map.get(key) {
            None | Some(State::Closed { .. }) => true,
            Some(State::Open { until }) => now >= *until,
            Some(State::HalfOpen { probing }) => !probing,
        })
    }

    /// Whether `key` is healthy: its breaker is closed (not open, not
    /// probing).
    pub fn healthy(&self, key: &TargetKey) -> bool {
        self.with(|map| matches!(map.get(key), None | Some(State::Closed { .. })))
    }

    /// Whether a call may go to `key` now; claims the probe when half-open.
    pub fn admit(&self, key: &TargetKey, now: Instant) -> Admission {
        self.with(|map| match map.get(key).copied() {
            None | Some(State::Closed { .. }) => Admission::Go,
            Some(State::Open { until }) if now < until => Admission::Skip,
            Some(State::Open { .. }) | Some(State::HalfOpen { probing: false }) => {
                map.insert(key.clone(), State::HalfOpen { probing: true });
                Admission::Probe
            }
            Some(State::HalfOpen { probing: true }) => Admission::Skip,
        })
    }

    /// Records the outcome of a call on `key` (`failed`: a retryable
    /// failure; other errors are the caller's and do not count).
    pub fn record(
        &self,
        key: &TargetKey,
        failed: bool,
        cfg: &RoutingSettings,
        now: Instant,
    ) -> Change {
        self.with(|map| {
            let before = map
                .get(key)
                .copied()
                .unwrap_or(State::Closed { failures: 0 });
            let after = match (before, failed) {
                (_, false) => State::Closed { failures: 0 },
                (State::Closed { failures }, true) if failures + 1 < cfg.breaker_failures => {
                    State::Closed {
                        failures: failures + 1,
                    }
                }
                (_, true) => State::Open {
                    until: now + cfg.breaker_cooldown,
                },
            };
            map.insert(key.clone(), after);
            let healthy = |s: State| matches!(s, State::Closed { .. });
            (healthy(before) != healthy(after)).then(|| (key.clone(), healthy(after)))
        })
    }

    /// A probe that ended without an outcome (the caller went away): let
    /// the next call probe instead.
    pub fn release_probe(&self, key: &TargetKey) {
        self.with(|map| {
            if map.get(key) == Some(&State::HalfOpen { probing: true }) {
                map.insert(key.clone(), State::HalfOpen { probing: false });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg() -> RoutingSettings {
        RoutingSettings {
            max_retries: 2,
            retry_backoff: Duration::ZERO,
            connect_timeout: Duration::from_secs(1),
            first_byte_timeout: Duration::from_secs(1),
            stream_idle_timeout: Duration::from_secs(1),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_secs(10),
            client_stall_timeout: Duration::from_secs(1),
            sse_limits: Default::default(),
        }
    }

    #[test]
    fn opens_after_consecutive_failures_probes_once_after_cooldown_and_closes_on_success() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        assert_eq!(b.record(&k, true, &cfg(), t0), None);
        assert_eq!(b.record(&k, true, &cfg(), t0), Some((k.clone(), false)));
        assert_eq!(b.admit(&k, t0 + Duration::from_secs(9)), Admission::Skip);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        assert_eq!(b.admit(&k, later), Admission::Skip, "one probe at a time");
        assert_eq!(b.record(&k, false, &cfg(), later), Some((k.clone(), true)));
        assert_eq!(b.admit(&k, later), Admission::Go);
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_success_resets_the_count() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, true, &cfg(), t0);
        b.record(&k, false, &cfg(), t0);
        assert_eq!(
            b.record(&k, true, &cfg(), t0),
            None,
            "the success reset the count"
        );
        b.record(&k, true, &cfg(), t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        b.record(&k, true, &cfg(), later);
        assert_eq!(b.admit(&k, later + Duration::from_secs(1)), Admission::Skip);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, true, &cfg(), t0);
        b.record(&k, true, &cfg(), t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        b.release_probe(&k);
        assert_eq!(b.admit(&k, later), Admission::Probe);
    }
}
