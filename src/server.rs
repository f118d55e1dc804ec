//! The HTTP server: middleware, routes, and the per-worker provider actors.

use crate::error::{ErrorKind, GatewayError};
use crate::governance::redis::WorkerStore;
use crate::logging::{access_log, GatewaySpan};
use crate::metrics::Event;
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

/// Seconds actix gives open connections to flush their last bytes when it
/// stops. It stops only after the gateway's own drain (calls in flight had
/// `shutdown_timeout` to finish), so this is short: a caller that stopped
/// reading cannot hold the process past it.
const FLUSH_SECONDS: u64 = 2;

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
    let data = web::Data::from(shared);
    let server = HttpServer::new(move || {
        let store = (data.store.clone()).map(|s| {
            let recorder = data.metrics.recorder();
            let on_error = move |operation| recorder.record(Event::StoreError(operation));
            WorkerStore::new(s, Box::new(on_error))
        });
        store.iter().for_each(WorkerStore::warm);
        App::new()
            .app_data(web::Data::new(store))
            .app_data(data.clone())
            .app_data(web::Data::new(ProviderPool::new(data.drain_signal())))
            .app_data(web::Data::new(data.metrics.recorder()))
            .wrap(from_fn(refuse_large_heads))
            .wrap(Condition::new(metrics_enabled, http_metrics.clone()))
            .wrap(from_fn(refuse_while_draining))
            .wrap(TracingLogger::<GatewaySpan>::new())
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
    .shutdown_timeout(FLUSH_SECONDS)
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
    let shared = req.app_data::<web::Data<Shared>>();
    let draining = shared.is_some_and(|s| s.is_draining());
    // Looked at only while draining: no snapshot load per request.
    let probe = || {
        matches!(req.path(), "/health" | "/ready")
            || shared.is_some_and(|s| s.config.load().metrics.endpoint == req.path())
    };
    if draining && !probe() {
        let e = GatewayError::new(
            ErrorKind::Unavailable,
            "The gateway is shutting down; retry the request.",
        )
        .with_code("gateway_shutdown");
        return Ok(refuse_and_close(req, e));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A request whose head (request line and header fields) is over `[server]
/// max_header_bytes` gets a 431 in the caller's format with `Connection:
/// close`. actix refuses heads over its own limits (128 KiB, 96 fields)
/// before routing, with a bare 431, so the setting stays below them.
async fn refuse_large_heads(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<Shared>>()
        .map_or(usize::MAX, |s| s.config.load().server.max_header_bytes);
    if head_bytes(&req) > limit {
        let e = GatewayError::new(
            ErrorKind::HeadersTooLarge,
            format!(
                "The request's header fields are larger than the gateway's limit of {limit} bytes."
            ),
        )
        .with_code("request_headers_too_large");
        return Ok(refuse_and_close(req, e));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The size of a request head as HTTP/1.1 sends it: `METHOD target
/// HTTP/1.1`, one `name: value` line per field, the blank line (a
/// non-standard method counts as [`OTHER_METHOD`]).
fn head_bytes(req: &ServiceRequest) -> usize {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    let fields: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + ": \r\n".len() + value.len())
        .sum();
    line + fields + "\r\n".len()
}

/// Answers `e` in the caller's format and closes the connection (the
/// request's body is left unread).
fn refuse_and_close<B>(req: ServiceRequest, e: GatewayError) -> ServiceResponse<EitherBody<B>> {
    let mut resp = routes::render(&e, routes::ApiError::api_of(req.request()));
    resp.head_mut().set_connection_type(ConnectionType::Close);
    req.into_response(resp).map_into_right_body()
}
