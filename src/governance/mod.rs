//! Per-key governance from the TOML: a model allow-list, request and token
//! rate limits, a cap on calls in flight, and a spend budget.
//!
//! Rate limits use GCRA (a token bucket kept as one "theoretical arrival
//! time" per limit): a key with `rpm = N` may send N requests at once, then
//! one every 60/N seconds — smooth, with no fixed-window burst at a boundary.
//! Token limits are admitted while the key has tokens left and charged with
//! what a call actually used once its usage is known (streams included), so
//! a bucket may go into debt and then refuses until it has refilled; budgets
//! work the same way in USD over calendar periods ([`budget`]), from each
//! call's [`cost`].
//!
//! Where the counters live is `[limits] store`: in this process ([`local`],
//! lock-free atomics; per replica), or in Redis ([`redis`], shared exactly
//! by every replica, one round trip per admission). Local counters survive
//! reloads for keys whose limits did not change; shared ones survive
//! restarts too.

pub mod budget;
pub mod cost;
pub mod local;
pub mod redis;
pub mod settings;

pub use budget::{Budget, Period};
pub use cost::{Cost, CostNote, Pricing};
pub use settings::{LimitsSettings, OnStoreError, RedisSettings, Store};

use crate::protocol::openai::Usage;
use budget::{unix_now, Spend};
use local::{now_nanos, Bucket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A key's limits, as configured (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Glob patterns (`*`, `?`) over configured model names; none: any.
    pub models: Option<Vec<String>>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub budget: Option<Budget>,
}

impl KeyPolicy {
    /// Whether the key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| glob_match(g, model)))
    }

    /// Whether any rate, concurrency or budget limit is set.
    pub fn limited(&self) -> bool {
        self.rpm.is_some()
            || self.tpm.is_some()
            || self.max_concurrent.is_some()
            || self.budget.is_some()
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
    Budget,
}

impl Limit {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Rpm => "rpm",
            Limit::Tpm => "tpm",
            Limit::Concurrency => "concurrency",
            Limit::Budget => "budget",
        }
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: Duration,
}

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// A limit refused it.
    Limit(Refused),
    /// The shared store could not answer and `on_store_error = "deny"`.
    StoreDown,
}

/// The shared counters of a key as the store answered an admission, for the
/// local mirror.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedView {
    /// How much of the minute the request bucket has taken.
    pub requests_used: Duration,
    /// How much of the minute the token bucket has taken.
    pub tokens_used: Duration,
    /// Spend in the current budget period.
    pub spent: Cost,
}

/// A key's live counters. Shared by the snapshots that keep its limits.
#[derive(Debug)]
pub struct KeyState {
    policy: KeyPolicy,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    in_flight: Arc<AtomicU32>,
    spend: Option<Spend>,
}

impl KeyState {
    /// Fresh counters for `policy`.
    pub fn new(policy: KeyPolicy) -> Self {
        Self {
            requests: policy.rpm.map(Bucket::new),
            tokens: policy.tpm.map(Bucket::new),
            in_flight: Arc::default(),
            spend: policy.budget.map(|_| Spend::default()),
            policy,
        }
    }

    /// The limits these counters enforce.
    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Admits one call on the local counters or says which limit refused
    /// it; the permit keeps the call counted for `max_concurrent` until
    /// dropped.
    pub fn admit(&self) -> Result<Permit, Refused> {
        self.check_budget()?;
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
                Permit::counted(Some(self.in_flight.clone()))
            }
            None => Permit::counted(None),
        };
        if let Some(requests) = &self.requests {
            requests.take(1, now).map_err(|retry_after| Refused {
                limit: Limit::Rpm,
                retry_after,
            })?;
        }
        Ok(permit)
    }

    /// Refuses a key whose spend reached its budget in this period.
    fn check_budget(&self) -> Result<(), Refused> {
        if let (Some(b), Some(spend)) = (&self.policy.budget, &self.spend) {
            let unix = unix_now();
            let window = b.period.bounds(unix);
            if spend.get(window) >= b.limit {
                return Err(Refused {
                    limit: Limit::Budget,
                    retry_after: window.left(unix),
                });
            }
        }
        Ok(())
    }

    /// Takes the shared counters' state, as the store answered.
    fn mirror(&self, view: &SharedView) {
        let now = now_nanos();
        if let Some(b) = &self.requests {
            b.mirror(view.requests_used, now);
        }
        if let Some(b) = &self.tokens {
            b.mirror(view.tokens_used, now);
        }
        if let (Some(b), Some(spend)) = (&self.policy.budget, &self.spend) {
            spend.set(b.period.bounds(unix_now()), view.spent);
        }
    }

    /// Counts a call the shared store admitted in the local slot count too
    /// (which takes over during an outage).
    fn admitted_shared(&self) -> Permit {
        let slot = self.policy.max_concurrent.map(|_| {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            self.in_flight.clone()
        });
        Permit::counted(slot)
    }

    /// Charges what a call used to the local counters.
    fn charge(&self, tokens: u64, cost: Cost) {
        if let (Some(bucket), true) = (&self.tokens, tokens > 0) {
            bucket.charge(tokens, now_nanos());
        }
        if let (Some(b), Some(spend), true) = (&self.policy.budget, &self.spend, cost > Cost::ZERO)
        {
            spend.add(b.period.bounds(unix_now()), cost);
        }
    }

    /// Keeps the spend of `old` when a reload changed this key's limits but
    /// not its budget period (raising a budget must not forget the spend).
    pub fn adopt_spend(&self, old: &KeyState) {
        if let (Some(b), Some(ob), Some(spend), Some(old_spend)) = (
            &self.policy.budget,
            &old.policy.budget,
            &self.spend,
            &old.spend,
        ) {
            if b.period == ob.period {
                let window = b.period.bounds(unix_now());
                spend.set(window, old_spend.get(window));
            }
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
        if let (Some(b), Some(spend)) = (&self.policy.budget, &self.spend) {
            let left = b
                .limit
                .saturating_sub(spend.get(b.period.bounds(unix_now())));
            out.push(("x-ratelimit-remaining-budget-usd", left.to_string()));
        }
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

/// An admitted call: keeps it counted against `max_concurrent` while alive
/// (locally, and in the shared store when it holds a lease there), and
/// charges what it used when settled.
#[derive(Debug)]
pub struct Permit {
    slot: Option<Arc<AtomicU32>>,
    shared: Option<redis::Hold>,
}

impl Permit {
    fn counted(slot: Option<Arc<AtomicU32>>) -> Self {
        Self { slot, shared: None }
    }

    /// Charges what the call used (tokens from `usage`, and its `cost`) to
    /// `state` and to the shared store, and frees its concurrency slot.
    pub fn settle(mut self, state: &KeyState, usage: Option<&Usage>, cost: Cost) {
        let tokens = usage.map_or(0, |u| u.total_tokens);
        state.charge(tokens, cost);
        if let Some(hold) = self.shared.take() {
            hold.settle(tokens, cost);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(c) = self.slot.take() {
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
    fn a_key_is_admitted_below_its_budget_and_refused_at_it() {
        let s = KeyState::new(KeyPolicy {
            budget: Some(Budget {
                limit: Cost::from_nanos(1000),
                period: Period::Day,
            }),
            ..Default::default()
        });
        s.admit().unwrap().settle(&s, None, Cost::from_nanos(999));
        let last = s.admit().unwrap();
        let headers = s.headers();
        assert!(headers.contains(&("x-ratelimit-remaining-budget-usd", "0.000000001".into())));
        last.settle(&s, None, Cost::from_nanos(5));
        let refused = s.admit().unwrap_err();
        assert_eq!(refused.limit, Limit::Budget);
        assert!(refused.retry_after <= Duration::from_secs(86_400));
        assert!(s
            .headers()
            .contains(&("x-ratelimit-remaining-budget-usd", "0.0".into())));
    }

    #[test]
    fn resets_use_openai_formats() {
        assert_eq!(format_reset(Duration::from_millis(120)), "120ms");
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_reset(Duration::from_secs(360)), "6m0s");
    }
}
