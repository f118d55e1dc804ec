//! State shared by every worker: the live config snapshot and readiness.

use crate::config::reload::ConfigActor;
use crate::config::Snapshot;
use crate::metrics::Recorder;
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Process-wide state, shared by all workers.
pub struct Shared {
    /// The live configuration; handlers load it once per request and keep
    /// that snapshot to the end, so a reload never changes a request midway.
    pub config: ArcSwap<Snapshot>,
    /// Where LLM calls are reported (nowhere when metrics are disabled).
    pub recorder: Recorder,
    /// The config actor, when the config comes from a file.
    pub reloader: OnceLock<actix::Addr<ConfigActor>>,
    ready: AtomicBool,
}

impl Shared {
    /// State serving `snapshot`, not yet ready.
    pub fn new(snapshot: Snapshot, recorder: Recorder) -> Self {
        Self {
            config: ArcSwap::from_pointee(snapshot),
            recorder,
            reloader: OnceLock::new(),
            ready: AtomicBool::new(false),
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

    /// Sets readiness (false while starting and draining).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}
