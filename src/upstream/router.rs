//! Routing one call over a model's targets: weighted choice among healthy
//! targets, retries with exponential backoff and jitter for retryable
//! failures only (never after a byte reached the caller: a stream counts as
//! answered once its first event is translated), then the model's
//! fallbacks in order.

use super::breaker::{self, Admission, Breakers};
use super::{CallRequest, ProviderPool, Reply, UpstreamCall};
use crate::config::{ModelRoute, RoutingSettings, Snapshot};
use crate::error::{ErrorKind, GatewayError};
use crate::metrics::{Event, FellBack, Recorder, Retried, TargetHealth};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a routed call ended.
pub struct Routed {
    pub result: Result<Reply, GatewayError>,
    /// The provider of the last attempt (the one that served, on success).
    pub provider: Arc<str>,
    /// The model that served (a fallback's name when falling back).
    pub model: Arc<str>,
    /// Attempts made, over all targets and fallbacks.
    pub attempts: u32,
}

/// What routing needs from the process.
pub struct Routing<'a> {
    pub pool: &'a ProviderPool,
    pub breakers: &'a Breakers,
    pub recorder: &'a Recorder,
    pub snapshot: &'a Snapshot,
}

/// Runs `req` over its model's targets, retries and fallbacks.
pub async fn route(r: Routing<'_>, req: CallRequest) -> Routed {
    let started = Instant::now();
    let cfg = &r.snapshot.routing;
    // The overall budget: the first target's provider timeout.
    let deadline = started + req.route.targets[0].provider.timeout;
    let fallbacks = req
        .route
        .fallbacks
        .iter()
        .filter_map(|name| r.snapshot.model(name))
        .filter(|m| m.enabled());
    let mut routed = Routed {
        result: Err(GatewayError::new(
            ErrorKind::Unavailable,
            format!(
                "No healthy target for the model `{}`: every target is cooling down after failures.",
                req.route.name
            ),
        )
        .with_code("no_healthy_target")),
        provider: req.route.owner().clone(),
        model: req.route.name.clone(),
        attempts: 0,
    };
    for (i, route) in std::iter::once(&req.route).chain(fallbacks).enumerate() {
        if i > 0 {
            tracing::warn!(model = %req.route.name, fallback = %route.name, "falling back");
            r.recorder.record(Event::FellBack(FellBack {
                model: req.route.name.clone(),
                fallback: route.name.clone(),
            }));
        }
        routed.model = route.name.clone();
        if try_model(&r, cfg, route, &req, deadline, &mut routed).await {
            break;
        }
    }
    routed
}

/// Tries one model's targets; true when done (success, or an error that
/// must not be retried or fall back).
async fn try_model(
    r: &Routing<'_>,
    cfg: &RoutingSettings,
    route: &ModelRoute,
    req: &CallRequest,
    deadline: Instant,
    routed: &mut Routed,
) -> bool {
    let mut tried: Vec<usize> = Vec::new();
    for retry in 0..=route.max_retries {
        let Some((idx, admission)) = pick(route, &tried, r.breakers) else {
            return false;
        };
        tried.push(idx);
        let target = &route.targets[idx];
        let key = breaker::key(target);
        routed.attempts += 1;
        routed.provider = target.provider.id.clone();
        let probe = ProbeGuard {
            breakers: r.breakers,
            key: (admission == Admission::Probe).then(|| key.clone()),
        };
        let result = r
            .pool
            .dispatch(UpstreamCall {
                operation: req.operation,
                inbound: req.inbound,
                body: req.body.clone(),
                model: route.name.clone(),
                target: target.clone(),
                default_max_tokens: route.default_max_tokens,
                stream: req.stream,
                include_usage: req.include_usage,
                anthropic_beta: req.anthropic_beta.clone(),
                first_byte_timeout: cfg.first_byte_timeout,
                stream_idle_timeout: cfg.stream_idle_timeout,
                client_stall_timeout: cfg.client_stall_timeout,
                sse_limits: cfg.sse_limits,
            })
            .await;
        let failed = result.as_ref().is_err_and(|e| e.kind.is_retryable());
        let change = r.breakers.record(&key, failed, cfg, Instant::now());
        probe.settled();
        if let Some(((provider, model), healthy)) = change {
            r.recorder.record(Event::TargetHealth(TargetHealth {
                provider,
                model,
                healthy,
            }));
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
        let retry_after = err
            .retry_after
            .as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let retryable = err.kind.is_retryable();
        let kind = err.kind;
        routed.result = Err(err);
        if !retryable {
            return true;
        }
        if retry == route.max_retries {
            return false;
        }
        // Honour Retry-After when the next attempt may hit the same target.
        let same_target_next = route.targets.len() == 1;
        let mut wait = backoff(cfg.retry_backoff, retry, route.next_pick());
        if same_target_next {
            wait = wait.max(retry_after.unwrap_or_default());
        }
        if Instant::now() + wait >= deadline {
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

/// Picks a target by weight among the enabled ones whose breaker admits a
/// call, preferring targets not tried yet.
fn pick(route: &ModelRoute, tried: &[usize], breakers: &Breakers) -> Option<(usize, Admission)> {
    let now = Instant::now();
    let usable: Vec<usize> = (0..route.targets.len())
        .filter(|&i| {
            let t = &route.targets[i];
            t.provider.enabled && breakers.available(&breaker::key(t), now)
        })
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
