//! The HTTP server: middleware, routes, and the per-worker provider actors.

use crate::logging::{access_log, GatewaySpan};
use crate::routes;
use crate::state::Shared;
use crate::upstream::ProviderPool;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};
use actix_web_prom::PrometheusMetrics;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;

/// Builds the server on an already bound listener. Each worker gets its own
/// [`ProviderPool`], so provider actors live next to the handlers that use
/// them.
pub fn build(
    shared: Arc<Shared>,
    listener: TcpListener,
    http_metrics: PrometheusMetrics,
    metrics_enabled: bool,
) -> std::io::Result<Server> {
    let snapshot = shared.snapshot();
    let workers = snapshot
        .server
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::Data::new(ProviderPool::default()))
            .wrap(Condition::new(metrics_enabled, http_metrics.clone()))
            .wrap(TracingLogger::<GatewaySpan>::new())
            .wrap(from_fn(access_log))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(workers)
    .tcp_nodelay(true)
    // A caller that closes its side is gone (LLM clients never half-close):
    // dropping the connection drops a stream's receiver, which stops the
    // upstream read at once instead of at the next write.
    .h1_allow_half_closed(false)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
