//! Per-key governance from the TOML: a model allow-list, request and token
//! rate limits, and a cap on calls in flight.
//!
//! Rate limits use GCRA (a token bucket kept as one "theoretical arrival
//! time" per limit): a key with `rpm = N` may send N requests at once, then
//! one every 60/N seconds — smooth, with no fixed-window burst at a boundary.
//! Token limits are admitted while the key has tokens left and charged with
//! what a call actually used once its usage is known (streams included), so
//! a bucket may go into debt and then refuses until it has refilled. State
//! lives in atomics (no lock on the request path) and survives reloads for
//! keys whose limits did not change. Limits are per process: with several
//! replicas, set each to its share (total ÷ replicas).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A key's limits, as configured (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Glob patterns (`*`, `?`) over configured model names; none: any.
    pub models: Option<Vec<String>>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub max_concurrent: Option<u32>,
}

impl KeyPolicy {
    /// Whether the key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| glob_match(g, model)))
    }

    /// Whether any rate or concurrency limit is set.
    pub fn limited(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.max_concurrent.is_some()
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The limit that refused a call (the `limit` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Rpm,
    Tpm,
    Concurrency,
}

impl Limit {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Rpm => "rpm",
            Limit::Tpm => "tpm",
            Limit::Concurrency => "concurrency",
        }
    }
}

/// Nanoseconds since the first use, the clock of the buckets.
fn now_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

const MINUTE: u64 = 60_000_000_000;

/// One GCRA bucket of `capacity` units per minute.
#[derive(Debug)]
struct Bucket {
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
    fn new(per_minute: u32) -> Self {
        Self {
            tat: AtomicU64::new(0),
            interval: MINUTE / u64::from(per_minute.max(1)),
        }
    }

    /// Takes `units` if they fit; otherwise the wait until they would.
    fn take(&self, units: u64, now: u64) -> Result<(), Duration> {
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
    fn has_some(&self, now: u64) -> Result<(), Duration> {
        let tat = self.tat.load(Ordering::Relaxed);
        let used = tat.saturating_sub(now);
        if used < MINUTE {
            Ok(())
        } else {
            Err(Duration::from_nanos(used - MINUTE + self.interval))
        }
    }

    /// Charges `units` unconditionally (may go into debt).
    fn charge(&self, units: u64, now: u64) {
        let cost = self.interval.saturating_mul(units);
        let _ = self
            .tat
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tat| {
                Some(tat.max(now).saturating_add(cost))
            });
    }

    fn view(&self, limit: u32, now: u64) -> BucketView {
        let used = self.tat.load(Ordering::Relaxed).saturating_sub(now);
        BucketView {
            limit,
            remaining: MINUTE.saturating_sub(used) / self.interval,
            reset: Duration::from_nanos(used),
        }
    }
}

/// A key's live counters. Shared by the snapshots that keep its limits.
#[derive(Debug)]
pub struct KeyState {
    policy: KeyPolicy,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    in_flight: Arc<AtomicU32>,
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: Duration,
}

impl KeyState {
    /// Fresh counters for `policy`.
    pub fn new(policy: KeyPolicy) -> Self {
        Self {
            requests: policy.rpm.map(Bucket::new),
            tokens: policy.tpm.map(Bucket::new),
            in_flight: Arc::default(),
            policy,
        }
    }

    /// The limits these counters enforce.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Admits one call or says which limit refused it; the permit keeps the
    /// call counted for `max_concurrent` until dropped.
    pub fn admit(&self) -> Result<Permit, Refused> {
        let now = now_nanos();
        if let Some(tokens) = &self.tokens {
            tokens.has_some(now).map_err(|retry_after| Refused {
                limit: Limit::Tpm,
                retry_after,
            })?;
        }
        let permit = match self.policy.max_concurrent {
            Some(max) => {
                if self.in_flight.fetch_add(1, Ordering::AcqRel) >= max {
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return Err(Refused {
                        limit: Limit::Concurrency,
                        retry_after: Duration::from_secs(1),
                    });
                }
                Permit(Some(self.in_flight.clone()))
            }
            None => Permit(None),
        };
        if let Some(requests) = &self.requests {
            requests.take(1, now).map_err(|retry_after| Refused {
                limit: Limit::Rpm,
                retry_after,
            })?;
        }
        Ok(permit)
    }

    /// Charges the tokens a call used.
    pub fn charge_tokens(&self, tokens: u64) {
        if let (Some(bucket), true) = (&self.tokens, tokens > 0) {
            bucket.charge(tokens, now_nanos());
        }
    }

    /// The `x-ratelimit-*` headers for this key's limits.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let now = now_nanos();
        let mut out = Vec::new();
        let mut add = |bucket: &Option<Bucket>, limit: Option<u32>, names: [&'static str; 3]| {
            if let (Some(b), Some(l)) = (bucket, limit) {
                let v = b.view(l, now);
                out.push((names[0], v.limit.to_string()));
                out.push((names[1], v.remaining.to_string()));
                out.push((names[2], format_reset(v.reset)));
            }
        };
        add(
            &self.requests,
            self.policy.rpm,
            [
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests",
            ],
        );
        add(
            &self.tokens,
            self.policy.tpm,
            [
                "x-ratelimit-limit-tokens",
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-reset-tokens",
            ],
        );
        out
    }
}

/// OpenAI's reset format: `1s`, `6m0s`, `120ms`.
fn format_reset(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", (ms as f64 / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Keeps a call counted against `max_concurrent` while alive.
#[derive(Debug)]
pub struct Permit(Option<Arc<AtomicU32>>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("claude-*", "claude-3-5-sonnet"));
        assert!(glob_match("gpt-4", "gpt-4"));
        assert!(!glob_match("gpt-4", "gpt-4o"));
        assert!(glob_match("gpt-4?", "gpt-4o"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*-mini", "gpt-4o-mini"));
        assert!(!glob_match("claude-*", "my-claude-3"));
    }

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
    fn concurrency_permits_are_released_on_drop() {
        let s = KeyState::new(KeyPolicy {
            max_concurrent: Some(1),
            ..Default::default()
        });
        let p = s.admit().unwrap();
        assert_eq!(s.admit().unwrap_err().limit, Limit::Concurrency);
        drop(p);
        assert!(s.admit().is_ok());
    }

    #[test]
    fn resets_use_openai_formats() {
        assert_eq!(format_reset(Duration::from_millis(120)), "120ms");
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_reset(Duration::from_secs(360)), "6m0s");
    }
}
