//! The HTTP server: middleware, routes, and the per-worker provider actors.

use crate::error::{ErrorKind, GatewayError};
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
    let drain_timeout = snapshot.server.shutdown_timeout;
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::Data::new(ProviderPool::new(data.drain_signal())))
            .app_data(web::Data::new(data.metrics.recorder()))
            .wrap(Condition::new(metrics_enabled, http_metrics.clone()))
            .wrap(TracingLogger::<GatewaySpan>::new())
            .wrap(from_fn(refuse_while_draining))
            .wrap(from_fn(access_log))
            // Outermost: it rewrites the request head, which needs the only
            // reference to the request.
            .wrap(from_fn(bound_method))
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

/// The method a request with a non-standard method token is handled and
/// counted as: every token would otherwise become a `method` label value
/// of the HTTP metrics, without limit. No route serves such a method.
const OTHER_METHOD: &[u8] = b"OTHER";

/// Replaces a method outside RFC 9110's nine with [`OTHER_METHOD`], before
/// the metrics, the access log and the routes see it.
async fn bound_method(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::Method;
    let standard = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::PATCH,
        Method::TRACE,
    ];
    if !standard.contains(req.method()) {
        if let Ok(other) = Method::from_bytes(OTHER_METHOD) {
            req.head_mut().method = other;
        }
    }
    next.call(req).await
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
