//! The HTTP server: middleware, routes, and the per-worker provider actors.

use crate::error::{ErrorKind, GatewayError};
use crate::governance::redis::WorkerStore;
use crate::logging::{access_log, GatewaySpan};
use crate::routes;
use crate::state::Shared;
use crate::upstream::ProviderPool;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::Server;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::{from_fn, Condition, Next};
use actix_web::{web, App, HttpServer};
use actix_web_prom::PrometheusMetrics;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;

/// Builds the server on an already bound listener. Each worker gets its own
/// [`ProviderPool`], so provider actors live next to the handlers that use
/// them, and its own connection to the shared limits store, if any.
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
    let drain_timeout = snapshot.server.shutdown_timeout;
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        let store = (data.store.clone()).map(|s| WorkerStore::new(s, data.metrics.recorder()));
        store.iter().for_each(WorkerStore::warm);
        App::new()
            .app_data(web::Data::new(store))
            .app_data(data.clone())
            .app_data(web::Data::new(ProviderPool::new(data.drain_signal())))
            .app_data(web::Data::new(data.metrics.recorder()))
            .wrap(Condition::new(metrics_enabled, http_metrics.clone()))
            .wrap(TracingLogger::<GatewaySpan>::new())
            .wrap(from_fn(refuse_while_draining))
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
    // The gateway ends its own drain (error events on open streams) at
    // `shutdown_timeout`; actix gets a little longer to flush them.
    .shutdown_timeout(drain_timeout.as_secs() + 2)
    .listen(listener)?
    .run();
    Ok(server)
}

/// While draining, requests other than the probes and metrics get a 503
/// with `Connection: close`: the caller retries elsewhere, the calls in
/// flight finish.
async fn refuse_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let draining = req
        .app_data::<web::Data<Shared>>()
        .is_some_and(|s| s.is_draining());
    let probe = matches!(req.path(), "/health" | "/ready")
        || req
            .app_data::<web::Data<Shared>>()
            .is_some_and(|s| s.snapshot().metrics.endpoint == req.path());
    if draining && !probe {
        let api = crate::routes::ApiError::api_of(req.request());
        let mut resp = GatewayError::new(
            ErrorKind::Unavailable,
            "The gateway is shutting down; retry the request.",
        )
        .with_code("gateway_shutdown")
        .response(api);
        resp.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(req.into_response(resp).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
