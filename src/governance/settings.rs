//! Where per-key counters live and what happens when that store is down,
//! as the config's `[limits]` says.

use crate::secret::Secret;
use std::time::Duration;

/// `[limits]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsSettings {
    pub store: Store,
    /// What a limited call gets while the shared store cannot answer.
    pub on_store_error: OnStoreError,
    /// The longest a call waits on the shared store.
    pub store_timeout: Duration,
}

/// Where per-key counters live.
#[derive(Debug, Clone, PartialEq)]
pub enum Store {
    /// In this process: limits are per replica.
    Local,
    /// In Redis (or Valkey): shared by every replica on the same server.
    Redis(RedisSettings),
}

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS); the password is never printed.
    pub url: String,
    /// Overrides a password in the URL (from the environment:
    /// `LLM_GATEWAY__LIMITS__REDIS_PASSWORD`).
    pub password: Option<Secret>,
    /// How long a replica's concurrency slot outlives the replica.
    pub lease: Duration,
}

/// The Redis-down mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStoreError {
    /// Serve with this replica's local counters.
    Allow,
    /// Refuse limited calls with 503.
    Deny,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            store: Store::Local,
            on_store_error: OnStoreError::Allow,
            store_timeout: Duration::from_millis(50),
        }
    }
}
