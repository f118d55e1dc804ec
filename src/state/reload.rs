//! Live reload: the [`ConfigActor`] (one per process) owns the config path,
//! notices changes, and publishes a new snapshot only after it validated
//! completely.
//!
//! It polls the file's content hash every second, which sees Kubernetes
//! ConfigMap updates too (the mounted file is a symlink swapped atomically:
//! the content changes, the path does not). [`Reload`] forces a reload
//! (SIGHUP and `POST /admin/reload`). An invalid file is refused: the old
//! snapshot keeps serving, the problem is logged (field names, no values of
//! secrets) and counted. So is a valid file that would remove every gateway
//! key or every model — an empty or truncated file is valid TOML, and
//! serving it refuses every request — unless the reload is forced
//! (`POST /admin/reload?force=true`) or the new file itself says
//! `[server] allow_empty_reload = true`: the watcher and SIGHUP carry no
//! intent, and a file emptied by accident cannot say so. Requests in
//! flight keep the snapshot they started with; provider actors notice
//! changed provider settings on their next call.

use super::Shared;
use crate::config::load::{load_file, LoadError};
use crate::config::Snapshot;
use crate::metrics::{key_info, Reloaded};
use crate::upstream::breaker::targets;
use actix::prelude::*;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the file's content is checked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Reload now, whether or not the file changed. Answers the new generation,
/// or why the file was refused.
#[derive(Debug, Default, Message)]
#[rtype(result = "Result<u64, Refused>")]
pub struct Reload {
    /// Publish a valid file even if it removes every gateway key or model.
    pub force: bool,
}

/// Why a reload was refused; the previous config keeps serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The file is invalid: every problem, one per line.
    Invalid(String),
    /// The file is valid but would remove what this names (e.g. `every
    /// gateway key`).
    Empty(&'static str),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Invalid(problem) => f.write_str(problem),
            Refused::Empty(dropped) => write!(
                f,
                "The new file would remove {dropped}, so every request would be refused (an empty or \
                 truncated file is valid TOML). If that is intended, reload with `?force=true` or set \
                 `[server] allow_empty_reload = true` in the file."
            ),
        }
    }
}

/// Owns the config path and publishes validated snapshots into [`Shared`].
pub struct ConfigActor {
    path: PathBuf,
    shared: Arc<Shared>,
    /// Hash of the content last loaded (valid or not), so a bad file is
    /// reported once, not every second.
    last_hash: Option<[u8; 32]>,
}

impl ConfigActor {
    /// An actor for `path`, whose current content is already published.
    pub fn new(path: PathBuf, shared: Arc<Shared>) -> Self {
        let last_hash = std::fs::read(&path).ok().map(|b| Sha256::digest(&b).into());
        Self {
            path,
            shared,
            last_hash,
        }
    }

    fn poll(&mut self) {
        // A missing or unreadable file (e.g. mid-swap) is retried on the
        // next tick; only a file that reads can be refused.
        let Ok(bytes) = std::fs::read(&self.path) else {
            return;
        };
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        if self.last_hash != Some(hash) {
            self.last_hash = Some(hash);
            let _ = self.reload(false);
        }
    }

    fn reload(&mut self, force: bool) -> Result<u64, Refused> {
        if let Ok(bytes) = std::fs::read(&self.path) {
            self.last_hash = Some(Sha256::digest(&bytes).into());
        }
        let next = load_file(&self.path).map_err(|e| self.refuse(e))?;
        if let Some(dropped) = removes_everything(&self.shared.snapshot(), &next) {
            if !force && !next.server.allow_empty_reload {
                return Err(self.refuse_empty(dropped));
            }
            tracing::warn!(
                removed = dropped,
                forced = force,
                "config reload removes {dropped}, as asked"
            );
        }
        Ok(self.publish(next))
    }

    fn publish(&self, mut next: Snapshot) -> u64 {
        let current = self.shared.snapshot();
        next.generation = current.generation + 1;
        next.adopt_counters(&current);
        super::log_unpriced(&next, Some(&current));
        for setting in restart_only_changes(&current, &next) {
            tracing::warn!(setting, "config setting changed, takes effect on restart");
        }
        let generation = next.generation;
        let recorder = &self.shared.metrics;
        recorder.send(key_info(&next));
        recorder.send(targets(&next, &self.shared.breakers));
        self.shared.config.store(Arc::new(next));
        recorder.send(Reloaded::Success);
        tracing::info!(
            path = %self.path.display(),
            generation,
            "config reloaded"
        );
        generation
    }

    fn refuse(&self, e: LoadError) -> Refused {
        let problem = e.to_string();
        tracing::error!(
            problem = %problem,
            "config reload refused; the previous config keeps serving"
        );
        self.shared.metrics.send(Reloaded::Failure);
        Refused::Invalid(problem)
    }

    fn refuse_empty(&self, dropped: &'static str) -> Refused {
        tracing::error!(
            path = %self.path.display(),
            removed = dropped,
            "config reload refused: the new file would remove {dropped}; the previous config \
             keeps serving (force with POST /admin/reload?force=true or [server] allow_empty_reload)"
        );
        self.shared.metrics.send(Reloaded::RefusedEmpty);
        Refused::Empty(dropped)
    }
}

/// What `next` would remove entirely that `current` has: every gateway key,
/// every model, or both; `None` when it keeps some of each.
fn removes_everything(current: &Snapshot, next: &Snapshot) -> Option<&'static str> {
    let keys = current.key_count() > 0 && next.key_count() == 0;
    let models = !current.models.is_empty() && next.models.is_empty();
    match (keys, models) {
        (true, true) => Some("every gateway key and every model"),
        (true, false) => Some("every gateway key"),
        (false, true) => Some("every model"),
        (false, false) => None,
    }
}

/// Settings that are read once at start: a change is reported, not applied.
fn restart_only_changes(old: &Snapshot, new: &Snapshot) -> Vec<&'static str> {
    let (a, b) = (&old.server, &new.server);
    let mut out = Vec::new();
    if a.host != b.host {
        out.push("server.host");
    }
    if a.port != b.port {
        out.push("server.port");
    }
    if a.workers != b.workers {
        out.push("server.workers");
    }
    if a.shutdown_timeout != b.shutdown_timeout {
        out.push("server.shutdown_timeout_seconds");
    }
    if a.log_level != b.log_level {
        out.push("server.log_level");
    }
    if a.log_format != b.log_format {
        out.push("server.log_format");
    }
    if old.metrics.enabled != new.metrics.enabled {
        out.push("metrics.enabled");
    }
    if old.metrics.endpoint != new.metrics.endpoint {
        out.push("metrics.endpoint");
    }
    if old.limits.store != new.limits.store {
        out.push("limits.store");
    }
    out
}

impl Actor for ConfigActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(POLL_INTERVAL, |actor, _| actor.poll());
    }
}

impl Handler<Reload> for ConfigActor {
    type Result = Result<u64, Refused>;

    fn handle(&mut self, r: Reload, _: &mut Self::Context) -> Self::Result {
        self.reload(r.force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::load_str;

    #[test]
    fn host_port_workers_and_metrics_changes_are_reported_as_restart_only() {
        let a = load_str("[server]\nport = 8080\n", "a").unwrap();
        let b = load_str(
            "[server]\nport = 9090\nhost = \"127.0.0.1\"\nworkers = 3\nmax_body_bytes = 5\n[metrics]\nendpoint = \"/m\"\n",
            "b",
        )
        .unwrap();
        assert_eq!(
            restart_only_changes(&a, &b),
            [
                "server.host",
                "server.port",
                "server.workers",
                "metrics.endpoint"
            ]
        );
        assert!(restart_only_changes(&a, &a).is_empty());
    }

    #[test]
    fn removing_every_key_or_every_model_is_named_and_nothing_else_is() {
        let full = load_str(crate::config::DEMO_CONFIG, "demo").unwrap();
        let empty = load_str("", "empty").unwrap();
        let keys_only = load_str("[[api_keys]]\nkey = \"k\"\nname = \"n\"\n", "keys only").unwrap();
        assert_eq!(
            removes_everything(&full, &empty),
            Some("every gateway key and every model")
        );
        assert_eq!(removes_everything(&full, &keys_only), Some("every model"));
        assert_eq!(
            removes_everything(&keys_only, &empty),
            Some("every gateway key")
        );
        assert_eq!(removes_everything(&full, &full), None);
        assert_eq!(removes_everything(&empty, &empty), None);
        assert_eq!(removes_everything(&empty, &full), None);
    }
}
