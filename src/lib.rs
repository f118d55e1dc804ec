//! llm-gateway: one endpoint in front of OpenAI, Anthropic, Gemini and any
//! OpenAI-compatible server, speaking the four caller APIs clients use
//! (OpenAI Chat Completions and Responses, Anthropic Messages, Gemini
//! generateContent) over every provider type.
//!
//! The path of a request: [`server`] wires actix-web workers with the
//! [`logging`] middleware and the [`routes`]; a handler authenticates the
//! caller ([`auth`]) against the live [`config`] snapshot ([`state`]),
//! describes the call once ([`upstream::Call`]: the body scanned once),
//! applies the key's limits ([`governance`]), and [`upstream::router`] tries
//! the model's targets (weights, retries, circuit breakers, fallbacks,
//! deadlines), sending each [`upstream::Attempt`] to the provider's actor on
//! its worker ([`upstream::actor`]). The actor plans the attempt
//! ([`upstream::plan`]: a lookup of the provider's and the caller's sides of
//! the seam in [`protocol::seam`]: a relay, or a conversion through the
//! lingua franca), sends it, and returns the answer in the caller's format,
//! whole or as a stream. Every call ends in one observation for the
//! [`metrics`] actor. Errors are values ([`error`]; [`protocol::Error`] in
//! the pure layer) rendered once, at the edge ([`routes::render`]), in the
//! caller's API format. The config file is watched and reloaded live
//! ([`state::reload`]). Each module imports only the layers below it
//! (README, "Architecture"; `tests/architecture.rs` checks it).

pub mod auth;
pub mod config;
pub mod error;
pub mod governance;
pub mod logging;
pub mod metrics;
pub mod protocol;
pub mod routes;
pub mod secret;
pub mod server;
pub mod state;
pub mod upstream;

use std::net::TcpListener;
use std::sync::Arc;

/// A started gateway.
pub struct Gateway {
    /// The actix server future; await it to run until stopped.
    pub server: actix_web::dev::Server,
    /// Shared state (config, readiness).
    pub shared: Arc<state::Shared>,
    /// The bound address.
    pub addr: std::net::SocketAddr,
}

impl Gateway {
    /// Starts serving `snapshot` on `listener` (bound by the caller, so tests
    /// can use port 0), watching `config_file` for changes when given. Must
    /// be called inside an actix system.
    pub fn start(
        config_file: Option<std::path::PathBuf>,
        snapshot: config::Snapshot,
        listener: TcpListener,
    ) -> std::io::Result<Self> {
        // rustls 0.23 needs a process-wide crypto provider for https upstreams.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let addr = listener.local_addr()?;
        let registry = prometheus::Registry::new();
        let families = metrics::Families::register(&registry).map_err(std::io::Error::other)?;
        let http_metrics = actix_web_prom::PrometheusMetricsBuilder::new("llm_gateway")
            .registry(registry)
            .endpoint(&snapshot.metrics.endpoint)
            .mask_unmatched_patterns("UNKNOWN")
            .build()
            .map_err(std::io::Error::other)?;
        let enabled = snapshot.metrics.enabled;
        let recorder = if enabled {
            use actix::Actor;
            let addr = metrics::MetricsActor::new(families).start();
            addr.do_send(metrics::key_info(&snapshot));
            addr.do_send(metrics::Reloaded::Success);
            metrics::MetricsHandle::new(Some(addr))
        } else {
            metrics::MetricsHandle::default()
        };
        state::log_unpriced(&snapshot, None);
        let shared = Arc::new(state::Shared::new(snapshot, recorder));
        shared.metrics.send(upstream::breaker::targets(
            &shared.snapshot(),
            &shared.breakers,
        ));
        if let Some(path) = config_file {
            use actix::Actor;
            let actor = state::reload::ConfigActor::new(path, shared.clone()).start();
            let _ = shared.reloader.set(actor);
        }
        let server = server::build(shared.clone(), listener, http_metrics, enabled)?;
        shared.set_ready(true);
        Ok(Self {
            server,
            shared,
            addr,
        })
    }
}

impl Gateway {
    /// Serves until SIGINT or SIGTERM, then stops gracefully; SIGHUP
    /// reloads the config.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let shared = self.shared.clone();
        // A restart-only setting: the value the server was built with.
        let drain_timeout = shared.snapshot().server.shutdown_timeout;
        if let Some(reloader) = self.shared.reloader.get().cloned() {
            actix_web::rt::spawn(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    return;
                };
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the config");
                    let _ = reloader.send(state::reload::Reload::default()).await;
                }
            });
        }
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            drain(&shared, drain_timeout).await;
            handle.stop(true).await;
        });
        self.server.await
    }
}

/// The drain after SIGTERM: not ready at once, new requests refused with
/// 503, calls in flight get `timeout` to finish; streams still open then get
/// an error event. Returns when no call is in flight (or shortly after the
/// deadline).
async fn drain(shared: &state::Shared, timeout: std::time::Duration) {
    use std::time::{Duration, Instant};
    shared.start_draining();
    tracing::info!(
        drain_seconds = timeout.as_secs_f64(),
        in_flight = shared.calls_in_flight(),
        "shutting down: draining in-flight requests"
    );
    let deadline = Instant::now() + timeout;
    let tick = Duration::from_millis(20);
    while shared.calls_in_flight() > 0 && Instant::now() < deadline {
        actix_web::rt::time::sleep(tick).await;
    }
    if shared.calls_in_flight() > 0 {
        tracing::warn!(
            in_flight = shared.calls_in_flight(),
            "drain deadline reached: ending open streams with an error event"
        );
        shared.end_drain();
        let grace = Instant::now() + Duration::from_secs(2);
        while shared.calls_in_flight() > 0 && Instant::now() < grace {
            actix_web::rt::time::sleep(tick).await;
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
