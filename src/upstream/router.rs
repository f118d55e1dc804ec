//! Routing one call over a model's targets: weighted choice among healthy
//! targets, retries with exponential backoff and jitter for retryable
//! failures only (never after a byte reached the caller: a stream counts as
//! answered once its first event is translated), then the model's
//! fallbacks in order, all within the call's overall deadline
//! (`[routing] request_timeout_seconds`; each attempt has its own limit
//! inside it, see [`super::exchange`]).
//!
//! Breakers steer calls away from failing or rate-limited targets but never
//! refuse one: when they leave nothing to try in the model and all its
//! fallbacks, the chain is tried once more with them ignored, each model's
//! targets in the order their cooldowns end (Envoy's panic mode).

use super::breaker::{self, Admission, Breakers, Verdict};
use super::{Attempt, Call, ProviderPool, Reply};
use crate::config::{ModelRoute, RoutingSettings, Snapshot};
use crate::error::{ErrorKind, GatewayError};
use crate::governance::Permit;
use crate::metrics::{Event, FellBack, Recorder, Retried, TargetHealth};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a routed call ended.
pub struct Routed {
    pub result: Result<Reply, GatewayError>,
    /// The provider of the last attempt (the one that served, on success).
    pub provider: Arc<str>,
    /// The model of the last attempt (a fallback's name when falling back).
    pub model: Arc<str>,
    /// Attempts made, over all targets and fallbacks.
    pub attempts: u32,
}

/// What routing needs from the process and the caller.
pub struct Routing<'a> {
    pub pool: &'a ProviderPool,
    pub breakers: &'a Breakers,
    pub recorder: &'a Recorder,
    pub snapshot: &'a Snapshot,
    /// The caller's concurrency slot, lent to every attempt.
    pub slot: Option<Rc<Permit>>,
}

/// One model's turn in the chain.
struct Turn<'a> {
    route: &'a ModelRoute,
    /// A fallback: counted in `llm_fallbacks_total` when first tried.
    fallback: bool,
    /// Breakers are ignored: they left nothing else to try.
    panic: bool,
    deadline: Instant,
}

/// Runs `req` over its model's targets, retries and fallbacks.
pub async fn route(r: Routing<'_>, req: Arc<Call>) -> Routed {
    let cfg = &r.snapshot.routing;
    let deadline = Instant::now() + cfg.request_timeout;
    let chain = chain(r.snapshot, &req.route);
    let mut routed = Routed {
        result: Err(GatewayError::new(
            ErrorKind::Unavailable,
            format!("No target of the model `{}` is enabled.", req.route.name),
        )
        .with_code("no_healthy_target")),
        provider: req.route.owner().clone(),
        model: req.route.name.clone(),
        attempts: 0,
    };
    for panic in [false, true] {
        for (i, route) in chain.iter().enumerate() {
            let turn = Turn {
                route,
                fallback: i > 0,
                panic,
                deadline,
            };
            if try_model(&r, cfg, turn, &req, &mut routed).await {
                return routed;
            }
        }
        if routed.attempts > 0 {
            break;
        }
    }
    routed
}

/// The model, then its enabled fallbacks in order, each once.
fn chain<'a>(snapshot: &'a Snapshot, model: &'a ModelRoute) -> Vec<&'a ModelRoute> {
    let mut chain = vec![model];
    for name in &model.fallbacks {
        if let Some(m) = snapshot.model(name) {
            if m.enabled() && chain.iter().all(|c| c.name != m.name) {
                chain.push(m);
            }
        }
    }
    chain
}

/// Tries one model's targets; true when done (success, an error that must
/// not be retried or fall back, or the deadline passed).
async fn try_model(
    r: &Routing<'_>,
    cfg: &RoutingSettings,
    turn: Turn<'_>,
    req: &Arc<Call>,
    routed: &mut Routed,
) -> bool {
    let route = turn.route;
    let mut tried: Vec<usize> = Vec::new();
    for retry in 0..=route.max_retries {
        if Instant::now() >= turn.deadline {
            return true;
        }
        let Some((idx, admission)) = pick(route, &tried, r.breakers, turn.panic) else {
            return false;
        };
        if turn.fallback && tried.is_empty() {
            tracing::warn!(model = %req.route.name, fallback = %route.name, "falling back");
            r.recorder.record(Event::FellBack(FellBack {
                model: req.route.name.clone(),
                fallback: route.name.clone(),
            }));
        }
        tried.push(idx);
        let target = &route.targets[idx];
        let key = breaker::key(target);
        routed.attempts += 1;
        routed.provider = target.provider.id.clone();
        routed.model = route.name.clone();
        let probe = ProbeGuard {
            breakers: r.breakers,
            key: (admission == Admission::Probe).then(|| key.clone()),
        };
        let result = r
            .pool
            .dispatch(
                Attempt {
                    call: req.clone(),
                    model: route.name.clone(),
                    target: target.clone(),
                    default_max_tokens: route.default_max_tokens,
                    first_byte_timeout: cfg.first_byte_timeout,
                    stream_idle_timeout: cfg.stream_idle_timeout,
                    deadline: turn.deadline,
                    client_stall_timeout: cfg.client_stall_timeout,
                    sse_limits: cfg.sse_limits,
                },
                r.slot.clone(),
            )
            .await;
        if let Some(verdict) = verdict(&result) {
            probe.settled();
            if let Some(((provider, model), healthy)) =
                r.breakers.record(&key, verdict, cfg, Instant::now())
            {
                r.recorder.record(Event::TargetHealth(TargetHealth {
                    provider,
                    model,
                    healthy,
                }));
            }
        }
        let err = match result {
            Ok(reply) => {
                routed.result = Ok(reply);
                return true;
            }
            Err(e) => e,
        };
        tracing::warn!(
            model = %route.name,
            provider = %target.provider.id,
            api_model = %target.api_model,
            attempt = routed.attempts,
            error_type = err.kind.metric_label(),
            status = err.status().as_u16(),
            "upstream attempt failed"
        );
        let retry_after = err.retry_after;
        let retryable = err.kind.is_retryable();
        let kind = err.kind;
        routed.result = Err(err);
        if !retryable {
            return true;
        }
        if retry == route.max_retries {
            return false;
        }
        // Honour Retry-After when the next attempt may hit the same target;
        // a long one is the caller's to wait out (or a fallback serves).
        let now = Instant::now();
        let mut wait = backoff(cfg.retry_backoff, retry, route.next_pick());
        if !others_available(route, idx, r.breakers, now) {
            let asked = retry_after.unwrap_or_default();
            if asked > cfg.max_retry_wait {
                return false;
            }
            wait = wait.max(asked);
        }
        if now + wait >= turn.deadline {
            return false;
        }
        r.recorder.record(Event::Retried(Retried {
            model: route.name.clone(),
            provider: target.provider.id.clone(),
            error_type: kind.metric_label(),
        }));
        actix_web::rt::time::sleep(wait).await;
    }
    false
}

/// What an attempt's outcome says about its target (see [`breaker`]);
/// `None` when it says nothing: the call never reached the target, the
/// caller left, or the answer could not be read.
fn verdict(result: &Result<Reply, GatewayError>) -> Option<Verdict> {
    let Err(e) = result else {
        return Some(Verdict::Answered);
    };
    match e.kind {
        ErrorKind::Upstream(429) => Some(Verdict::Throttled(e.retry_after)),
        ErrorKind::Upstream(500..) | ErrorKind::Connection | ErrorKind::Timeout => {
            Some(Verdict::Failed)
        }
        ErrorKind::Upstream(_) => Some(Verdict::Answered),
        ErrorKind::InvalidRequest
        | ErrorKind::Authentication
        | ErrorKind::Permission
        | ErrorKind::ModelNotFound
        | ErrorKind::NotFound
        | ErrorKind::PayloadTooLarge
        | ErrorKind::HeadersTooLarge
        | ErrorKind::RequestTimeout
        | ErrorKind::RateLimited
        | ErrorKind::BadUpstreamResponse
        | ErrorKind::Unavailable
        | ErrorKind::ClientClosed
        | ErrorKind::Internal => None,
    }
}

/// Whether a target of `route` other than `idx` could take a call now.
fn others_available(route: &ModelRoute, idx: usize, breakers: &Breakers, now: Instant) -> bool {
    route
        .targets
        .iter()
        .enumerate()
        .any(|(i, t)| i != idx && t.provider.enabled && breakers.available(&breaker::key(t), now))
}

/// Picks a target by weight among the enabled ones whose breaker admits a
/// call, preferring targets not tried yet. In panic mode every enabled
/// target is a candidate, untried first, the one skipped for the shortest
/// time first.
fn pick(
    route: &ModelRoute,
    tried: &[usize],
    breakers: &Breakers,
    panic: bool,
) -> Option<(usize, Admission)> {
    let now = Instant::now();
    let enabled = (0..route.targets.len()).filter(|&i| route.targets[i].provider.enabled);
    if panic {
        return enabled
            .min_by_key(|&i| {
                let until = breakers.skipped_until(&breaker::key(&route.targets[i]), now);
                (tried.contains(&i), until)
            })
            .map(|i| (i, Admission::Go));
    }
    let usable: Vec<usize> = enabled
        .filter(|&i| breakers.available(&breaker::key(&route.targets[i]), now))
        .collect();
    let fresh: Vec<usize> = usable
        .iter()
        .copied()
        .filter(|i| !tried.contains(i))
        .collect();
    let mut candidates = if fresh.is_empty() { usable } else { fresh };
    while !candidates.is_empty() {
        let total: u64 = candidates
            .iter()
            .map(|&i| u64::from(route.targets[i].weight))
            .sum();
        let mut ticket = route.next_pick() % total.max(1);
        let mut chosen = candidates[0];
        for &i in &candidates {
            let w = u64::from(route.targets[i].weight);
            if ticket < w {
                chosen = i;
                break;
            }
            ticket -= w;
        }
        match breakers.admit(&breaker::key(&route.targets[chosen]), now) {
            Admission::Skip => candidates.retain(|&i| i != chosen),
            admission => return Some((chosen, admission)),
        }
    }
    None
}

/// Exponential backoff with jitter: between half and all of
/// `base · 2^retry`.
fn backoff(base: Duration, retry: u32, seed: u64) -> Duration {
    let full = base.saturating_mul(1u32 << retry.min(16));
    let nanos = Instant::now().elapsed().subsec_nanos() as u64;
    let mix = (seed ^ nanos ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let fraction = (mix >> 11) as f64 / (1u64 << 53) as f64;
    full.mul_f64(0.5 + fraction / 2.0)
}

/// Releases a half-open probe that ended without an outcome (the caller
/// went away mid-attempt).
struct ProbeGuard<'a> {
    breakers: &'a Breakers,
    key: Option<breaker::TargetKey>,
}

impl ProbeGuard<'_> {
    fn settled(mut self) {
        self.key = None;
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.breakers.release_probe(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds() {
        let base = Duration::from_millis(100);
        for retry in 0..4 {
            let full = base * (1 << retry);
            for seed in 0..50 {
                let b = backoff(base, retry, seed);
                assert!(b >= full / 2 && b <= full, "{b:?} for retry {retry}");
            }
        }
    }
}
