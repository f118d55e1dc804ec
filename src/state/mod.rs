//! State shared by every worker: the live config snapshot, readiness, the
//! targets' breakers, and the [`reload`] actor that swaps the snapshot.

pub mod reload;
pub mod responses;

use crate::config::Snapshot;
use crate::metrics::MetricsHandle;
use arc_swap::ArcSwap;
use reload::ConfigActor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Process-wide state, shared by all workers.
pub struct Shared {
    /// The live configuration; handlers load it once per request and keep
    /// that snapshot to the end, so a reload never changes a request midway.
    pub config: ArcSwap<Snapshot>,
    /// The metrics actor (none when metrics are disabled).
    pub metrics: MetricsHandle,
    /// Every target's circuit breaker, shared by the workers.
    pub breakers: crate::upstream::breaker::Breakers,
    /// The config actor, when the config comes from a file.
    pub reloader: OnceLock<actix::Addr<ConfigActor>>,
    /// The shared limits store (`[limits] store = "redis"`; read at start).
    pub store: Option<Arc<crate::governance::redis::RedisStore>>,
    /// Responses kept for `previous_response_id` and `GET /v1/responses/{id}`.
    pub responses: Arc<responses::ResponseStore>,
    ready: AtomicBool,
    draining: AtomicBool,
    /// LLM calls in flight, streams included (for the drain).
    in_flight: Arc<AtomicUsize>,
    drain: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    /// State serving `snapshot`, not yet ready.
    pub fn new(snapshot: Snapshot, metrics: MetricsHandle) -> Self {
        Self {
            store: crate::governance::redis::RedisStore::from_settings(&snapshot.limits),
            config: ArcSwap::from_pointee(snapshot),
            metrics,
            breakers: Default::default(),
            reloader: OnceLock::new(),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            in_flight: Arc::default(),
            responses: Arc::default(),
            drain: tokio::sync::watch::Sender::new(false),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.config.load_full()
    }

    /// Whether `/ready` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The drain signal, for a worker's provider pool.
    pub fn drain_signal(&self) -> crate::upstream::Drain {
        self.drain.subscribe()
    }

    /// Ends the drain period: streams still open end with an error event.
    pub fn end_drain(&self) {
        self.drain.send_replace(true);
    }

    /// Starts draining: not ready, new requests refused.
    pub fn start_draining(&self) {
        self.set_ready(false);
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether a shutdown is draining the gateway.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Counts an LLM call as in flight until the guard drops.
    pub fn call_started(&self) -> CallGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        CallGuard(self.in_flight.clone())
    }

    /// LLM calls in flight.
    pub fn calls_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Sets readiness (false while starting and draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}

/// Names, in one log line, the models of `next` without pricing (those
/// that were priced or absent in `previous`): their calls cost nothing.
pub fn log_unpriced(next: &Snapshot, previous: Option<&Snapshot>) {
    let unpriced: Vec<&str> = next
        .models
        .iter()
        .filter(|(name, m)| {
            m.pricing.is_none()
                && previous.is_none_or(|p| p.model(name).is_none_or(|old| old.pricing.is_some()))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !unpriced.is_empty() {
        tracing::info!(
            models = %unpriced.join(", "),
            "models without pricing: their calls cost nothing"
        );
    }
}

/// Keeps an LLM call counted as in flight while alive.
pub struct CallGuard(Arc<AtomicUsize>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
