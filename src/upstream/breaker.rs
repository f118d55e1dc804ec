//! Circuit breakers, one per target (provider and its model name), shared by
//! all workers.
//!
//! Closed: calls go through; `breaker_failures` consecutive failures
//! ([`Verdict::Failed`]: connection errors, timeouts, 5xx) open it. Open:
//! the target is skipped for `breaker_cooldown`. Then half-open: a single
//! probe call goes through (others still skip the target); its success
//! closes the breaker, its failure opens it again. A 429 moves no breaker:
//! the target is only skipped while its `Retry-After` runs. Skipping is a
//! preference, never a refusal: the router still uses a skipped target when
//! nothing else could serve. The state survives reloads for targets that
//! did not change.

use crate::config::{RoutingSettings, Snapshot, Target};
use crate::metrics::{TargetHealth, Targets};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// A target's breaker and its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    state: State,
    /// An upstream 429's `Retry-After` runs until then.
    throttled_until: Option<Instant>,
}

impl Default for Entry {
    fn default() -> Self {
        Self {
            state: State::Closed { failures: 0 },
            throttled_until: None,
        }
    }
}

impl Entry {
    fn throttled(&self, now: Instant) -> bool {
        self.throttled_until.is_some_and(|t| now < t)
    }
}

/// What an attempt's outcome says about its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It answered (a success, or a 4xx, which is the caller's fault):
    /// closes the breaker.
    Answered,
    /// A connection error, a timeout or a 5xx: counts towards opening it.
    Failed,
    /// A 429: up but rate-limited. The breaker does not move; the target
    /// is skipped for the `Retry-After` (if any) while another can serve.
    Throttled(Option<Duration>),
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
    states: Mutex<HashMap<TargetKey, Entry>>,
}

impl Breakers {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<TargetKey, Entry>) -> R) -> R {
        // A panic elsewhere cannot leave the map inconsistent: every update
        // is a single insert.
        let mut map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut map)
    }

    /// Whether `key` could take a call now, without claiming a probe: its
    /// breaker admits calls and no `Retry-After` runs.
    pub fn available(&self, key: &TargetKey, now: Instant) -> bool {
        self.with(|map| {
            let e = map.get(key).copied().unwrap_or_default();
            !e.throttled(now)
                && match e.state {
                    State::Closed { .. } => true,
                    State::Open { until } => now >= until,
                    State::HalfOpen { probing } => !probing,
                }
        })
    }

    /// When `key` stops being skipped: the end of its cooldown or of its
    /// `Retry-After`, whichever is later (`now` when neither runs).
    pub fn skipped_until(&self, key: &TargetKey, now: Instant) -> Instant {
        self.with(|map| {
            let e = map.get(key).copied().unwrap_or_default();
            let open = match e.state {
                State::Open { until } => until,
                _ => now,
            };
            open.max(e.throttled_until.unwrap_or(now))
        })
    }

    /// Whether `key` is healthy: its breaker is closed (not open, not
    /// probing).
    pub fn healthy(&self, key: &TargetKey) -> bool {
        self.with(|map| {
            matches!(
                map.get(key).map(|e| e.state),
                None | Some(State::Closed { .. })
            )
        })
    }

    /// Whether a call may go to `key` now; claims the probe when half-open.
    pub fn admit(&self, key: &TargetKey, now: Instant) -> Admission {
        self.with(|map| {
            let e = map.get(key).copied().unwrap_or_default();
            if e.throttled(now) {
                return Admission::Skip;
            }
            match e.state {
                State::Closed { .. } => Admission::Go,
                State::Open { until } if now < until => Admission::Skip,
                State::Open { .. } | State::HalfOpen { probing: false } => {
                    let state = State::HalfOpen { probing: true };
                    map.insert(key.clone(), Entry { state, ..e });
                    Admission::Probe
                }
                State::HalfOpen { probing: true } => Admission::Skip,
            }
        })
    }

    /// Records what a call on `key` said about it.
    pub fn record(
        &self,
        key: &TargetKey,
        verdict: Verdict,
        cfg: &RoutingSettings,
        now: Instant,
    ) -> Change {
        self.with(|map| {
            let before = map.get(key).copied().unwrap_or_default();
            let after = match (before.state, verdict) {
                (_, Verdict::Answered) => Entry::default(),
                (State::Closed { failures }, Verdict::Failed)
                    if failures + 1 < cfg.breaker_failures =>
                {
                    Entry {
                        state: State::Closed {
                            failures: failures + 1,
                        },
                        ..before
                    }
                }
                (_, Verdict::Failed) => Entry {
                    state: State::Open {
                        until: now + cfg.breaker_cooldown,
                    },
                    ..before
                },
                (state, Verdict::Throttled(wait)) => Entry {
                    state: released(state),
                    throttled_until: wait.and_then(|w| now.checked_add(w)),
                },
            };
            map.insert(key.clone(), after);
            let healthy = |s: State| matches!(s, State::Closed { .. });
            (healthy(before.state) != healthy(after.state))
                .then(|| (key.clone(), healthy(after.state)))
        })
    }

    /// A probe that ended without a verdict (the caller went away, or the
    /// call failed before reaching the target): let the next call probe.
    pub fn release_probe(&self, key: &TargetKey) {
        self.with(|map| {
            if let Some(e) = map.get_mut(key) {
                e.state = released(e.state);
            }
        })
    }
}

/// Every configured target of a snapshot with its breaker's health.
pub fn targets(snapshot: &Snapshot, breakers: &Breakers) -> Targets {
    let mut seen = std::collections::BTreeSet::new();
    let mut all = Vec::new();
    for route in snapshot.models.values() {
        for t in &route.targets {
            let key = key(t);
            if seen.insert(key.clone()) {
                all.push(TargetHealth {
                    healthy: breakers.healthy(&key),
                    provider: key.0,
                    model: key.1,
                });
            }
        }
    }
    Targets(all)
}

/// `state` with its probe, if one is out, given back.
fn released(state: State) -> State {
    match state {
        State::HalfOpen { probing: true } => State::HalfOpen { probing: false },
        other => other,
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
            request_timeout: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(10),
            client_stall_timeout: Duration::from_secs(1),
            sse_limits: Default::default(),
        }
    }

    #[test]
    fn opens_after_consecutive_failures_probes_once_after_cooldown_and_closes_on_success() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        assert_eq!(b.record(&k, Verdict::Failed, &cfg(), t0), None);
        assert_eq!(
            b.record(&k, Verdict::Failed, &cfg(), t0),
            Some((k.clone(), false))
        );
        assert_eq!(b.admit(&k, t0 + Duration::from_secs(9)), Admission::Skip);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        assert_eq!(b.admit(&k, later), Admission::Skip, "one probe at a time");
        assert_eq!(
            b.record(&k, Verdict::Answered, &cfg(), later),
            Some((k.clone(), true))
        );
        assert_eq!(b.admit(&k, later), Admission::Go);
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_success_resets_the_count() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, Verdict::Failed, &cfg(), t0);
        b.record(&k, Verdict::Answered, &cfg(), t0);
        assert_eq!(
            b.record(&k, Verdict::Failed, &cfg(), t0),
            None,
            "the success reset the count"
        );
        b.record(&k, Verdict::Failed, &cfg(), t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        b.record(&k, Verdict::Failed, &cfg(), later);
        assert_eq!(b.admit(&k, later + Duration::from_secs(1)), Admission::Skip);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, Verdict::Failed, &cfg(), t0);
        b.record(&k, Verdict::Failed, &cfg(), t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        b.release_probe(&k);
        assert_eq!(b.admit(&k, later), Admission::Probe);
    }

    #[test]
    fn a_429_skips_the_target_while_retry_after_runs_and_moves_no_breaker() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, Verdict::Failed, &cfg(), t0);
        let wait = Some(Duration::from_secs(3));
        for _ in 0..5 {
            assert_eq!(b.record(&k, Verdict::Throttled(wait), &cfg(), t0), None);
        }
        assert!(b.healthy(&k), "429s never open the breaker");
        assert!(!b.available(&k, t0 + Duration::from_secs(2)));
        assert_eq!(b.admit(&k, t0 + Duration::from_secs(2)), Admission::Skip);
        assert_eq!(b.skipped_until(&k, t0), t0 + Duration::from_secs(3));
        assert_eq!(b.admit(&k, t0 + Duration::from_secs(3)), Admission::Go);
        assert_eq!(
            b.record(&k, Verdict::Failed, &cfg(), t0),
            Some((k.clone(), false)),
            "the 429s neither reset nor counted the earlier failure"
        );
        assert_eq!(
            b.skipped_until(&k, t0),
            t0 + Duration::from_secs(10),
            "the cooldown ends after the Retry-After"
        );
    }

    #[test]
    fn a_429_on_the_probe_gives_the_probe_back() {
        let b = Breakers::default();
        let k: TargetKey = ("p".into(), "m".into());
        let t0 = Instant::now();
        b.record(&k, Verdict::Failed, &cfg(), t0);
        b.record(&k, Verdict::Failed, &cfg(), t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(&k, later), Admission::Probe);
        b.record(&k, Verdict::Throttled(None), &cfg(), later);
        assert_eq!(b.admit(&k, later), Admission::Probe);
    }
}
