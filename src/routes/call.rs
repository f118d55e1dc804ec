//! The part every LLM endpoint shares: authenticate, read the body, build
//! the upstream call, dispatch it to the provider actor, answer (whole or
//! streamed), and report one [`Observation`] when the call is over.

use super::{label, read_body, ApiError, CallLabels};
use crate::auth::Caller;
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::governance::redis::WorkerStore;
use crate::governance::{Cost, CostNote, Denied, KeyState, Limit, Permit};
use crate::metrics::{CallDims, Endpoint, Event, InFlight, Observation, RateLimited, Recorder};
use crate::protocol::openai::Usage;
use crate::protocol::raw::RawBody;
use crate::state::Shared;
use crate::upstream::router::{route, Routing};
use crate::upstream::{Call, ExtraHeaders, ProviderPool, Reply};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use std::convert::Infallible;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The largest body read (and discarded) before refusing an unknown key,
/// and the longest spent reading it.
const REFUSED_BODY_LIMIT: usize = 64 * 1024;
const REFUSED_BODY_TIME: Duration = Duration::from_secs(1);

/// Serves one LLM call; `prepare` turns the caller and body into the
/// upstream call (routing, validation) and is the only endpoint-specific
/// part.
pub async fn serve(
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
    endpoint: Endpoint,
    api: InboundApi,
    prepare: impl FnOnce(&Caller, Bytes) -> Result<Call, GatewayError>,
) -> HttpResponse {
    serve_with(req, caller, payload, endpoint, api, async |c, b| {
        prepare(c, b)
    })
    .await
}

/// [`serve`] with a `prepare` that may wait (e.g. on a shared store).
pub async fn serve_with(
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
    endpoint: Endpoint,
    api: InboundApi,
    prepare: impl AsyncFnOnce(&Caller, Bytes) -> Result<Call, GatewayError>,
) -> HttpResponse {
    let started = Instant::now();
    let (Some(shared), Some(pool), Some(recorder)) = (
        req.app_data::<web::Data<Shared>>(),
        req.app_data::<web::Data<ProviderPool>>(),
        req.app_data::<web::Data<Recorder>>(),
    ) else {
        return super::render(
            &GatewayError::new(ErrorKind::Internal, "gateway state missing"),
            api,
        );
    };
    let recorder: Recorder = recorder.get_ref().clone();
    let counted = shared.call_started();
    let mut dims = CallDims::unknown(endpoint);
    let mut in_flight = None;
    let mut dispatched_at = Duration::ZERO;
    let mut attempts = 0;
    let mut limits = None;
    let mut permit = None;
    let mut pricing = None;
    // Only a gateway on a shared store looks for this worker's connection.
    let store = shared
        .store
        .as_ref()
        .and_then(|_| req.app_data::<web::Data<Option<WorkerStore>>>())
        .and_then(|s| s.get_ref().as_ref());
    let result = async {
        let caller = match caller {
            Ok(c) => c,
            Err(e) => {
                // Read a small body anyway: an unread body closes the
                // connection, which costs a refused caller a reconnect.
                let _ = read_body(req, payload, REFUSED_BODY_LIMIT, REFUSED_BODY_TIME).await;
                return Err(e.0);
            }
        };
        dims.api_key = caller.name.clone();
        limits = Some(caller.limits.clone());
        let server = &caller.snapshot.server;
        let body = read_body(
            req,
            payload,
            server.max_body_bytes,
            server.body_read_timeout,
        )
        .await?;
        let call = prepare(&caller, body).await?;
        dims.model = call.route.name.clone();
        dims.provider = call.route.owner().clone();
        // Shared with every attempt, which holds it until its upstream work
        // ends, even when the caller hangs up first.
        permit = Some(Rc::new(
            govern(&caller, &call.route.name, &recorder, store).await?,
        ));
        in_flight = Some(recorder.start(&dims.provider));
        dispatched_at = started.elapsed();
        let routing = Routing {
            pool,
            breakers: &shared.breakers,
            recorder: &recorder,
            snapshot: &caller.snapshot,
            slot: permit.clone(),
        };
        let asked = (call.route.name.clone(), call.route.pricing);
        let routed = route(routing, Arc::new(call)).await;
        dims.provider = routed.provider;
        attempts = routed.attempts;
        // Priced as the model that served (a fallback's pricing, if any).
        pricing = if Arc::ptr_eq(&routed.model, &asked.0) {
            asked.1
        } else {
            caller.snapshot.model(&routed.model).and_then(|m| m.pricing)
        };
        routed.result
    }
    .await;
    // Counting tokens is free.
    let pricing = pricing.filter(|_| endpoint != Endpoint::CountTokens);
    let price = move |usage: Option<&Usage>| match (pricing, usage) {
        (Some(p), Some(u)) => p.cost(u),
        _ => Cost::ZERO,
    };
    let cost = match &result {
        Ok(Reply::Complete { usage, .. }) => CostNote::Known(price(usage.as_ref())),
        Ok(Reply::Stream { .. }) if pricing.is_some() => CostNote::Later(Arc::new(OnceLock::new())),
        Ok(Reply::Stream { .. }) => CostNote::Known(Cost::ZERO),
        Err(_) => CostNote::None,
    };
    // Every authenticated call gets its labels on the access log line.
    if &*dims.api_key != crate::metrics::UNKNOWN {
        label(
            req,
            CallLabels {
                api_key: dims.api_key.clone(),
                model: dims.model.clone(),
                provider: dims.provider.clone(),
                attempts,
                cost: cost.clone(),
            },
        );
    }
    let observation = |status: u16| Observation {
        dims: dims.clone(),
        status,
        error: None,
        usage: None,
        duration: started.elapsed(),
        first_token: None,
        overhead: None,
        cost_usd: 0.0,
    };
    match result {
        Err(e) => {
            // No overhead sample: a failed call's time is mostly waiting.
            recorder.observe(Observation {
                error: Some(e.kind),
                ..observation(e.status_in(api).as_u16())
            });
            let mut resp = super::render(&e, api);
            if attempts > 0 {
                add_routing_headers(resp.headers_mut(), &dims.provider, attempts);
            }
            add_limit_headers(resp.headers_mut(), limits.as_deref());
            resp
        }
        Ok(Reply::Complete {
            body,
            usage,
            headers,
            upstream,
        }) => {
            let overhead = started.elapsed().saturating_sub(upstream);
            let cost = cost.get().unwrap_or_default();
            if let (Some(l), Some(p)) = (&limits, permit.take().and_then(sole)) {
                p.settle(l, usage.as_ref(), cost);
            }
            recorder.observe(Observation {
                usage,
                overhead: Some(overhead),
                cost_usd: cost.usd(),
                ..observation(200)
            });
            let mut b = response_head(headers, overhead);
            b.insert_header((COST_HEADER, usd_header(cost)));
            b.content_type("application/json");
            let mut resp = b.body(body);
            add_routing_headers(resp.headers_mut(), &dims.provider, attempts);
            add_limit_headers(resp.headers_mut(), limits.as_deref());
            resp
        }
        Ok(Reply::Stream {
            mut chunks,
            summary,
            headers,
            upstream,
        }) => {
            let preflight = started.elapsed().saturating_sub(upstream);
            let guard: Option<InFlight> = in_flight.take();
            let provider = dims.provider.clone();
            let key_limits = limits.clone();
            // A priced stream ends once its cost is known (the summary
            // comes before the last chunk), for the access log line.
            let (priced, mut priced_rx) = match &cost {
                CostNote::Later(_) => {
                    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                    (Some(tx), Some(rx))
                }
                _ => (None, None),
            };
            actix_web::rt::spawn(async move {
                let _guards = (guard, counted);
                let s = summary.await.unwrap_or_default();
                let spent = price(s.usage.as_ref());
                if let CostNote::Later(cell) = &cost {
                    let _ = cell.set(spent);
                }
                drop(priced);
                // The permit held the key's concurrency slot to the end.
                if let (Some(l), Some(p)) = (&key_limits, permit.and_then(sole)) {
                    p.settle(l, s.usage.as_ref(), spent);
                }
                recorder.observe(Observation {
                    dims,
                    status: 200,
                    error: s.error,
                    usage: s.usage,
                    duration: started.elapsed(),
                    first_token: s.first_byte.map(|t| dispatched_at + t),
                    overhead: Some(preflight + s.busy),
                    cost_usd: spent.usd(),
                });
            });
            let mut b = response_head(headers, preflight);
            b.content_type("text/event-stream")
                .insert_header(("cache-control", "no-cache"));
            let mut resp = b.streaming(futures_util::stream::poll_fn(move |cx| {
                match (chunks.poll_recv(cx), priced_rx.as_mut()) {
                    (Poll::Ready(None), Some(rx)) => {
                        let done = std::pin::Pin::new(rx).poll(cx).map(|_| None);
                        if done.is_ready() {
                            priced_rx = None;
                        }
                        done
                    }
                    (polled, _) => polled.map(|c| c.map(Ok::<_, Infallible>)),
                }
            }));
            add_routing_headers(resp.headers_mut(), &provider, attempts);
            add_limit_headers(resp.headers_mut(), limits.as_deref());
            resp
        }
    }
}

/// The key's allow-list and limits: a model outside the list is a 403; a
/// limit that refuses is a 429 with `Retry-After`; an unreachable shared
/// store is a 503 when `on_store_error = "deny"`.
async fn govern(
    caller: &Caller,
    model: &str,
    recorder: &Recorder,
    store: Option<&WorkerStore>,
) -> Result<Permit, GatewayError> {
    if !caller.limits.policy().allows(model) {
        return Err(GatewayError::new(
            ErrorKind::Permission,
            format!("This key may not use the model `{model}`."),
        )
        .with_param("model")
        .with_code("model_not_allowed"));
    }
    let admitted = match store {
        Some(s) if caller.limits.policy().limited() => {
            s.admit(&caller.snapshot.limits, &caller.name, &caller.limits)
                .await
        }
        _ => caller.limits.admit().map_err(Denied::Limit),
    };
    admitted.map_err(|denied| refusal(caller, recorder, denied))
}

/// The error for a call that was not admitted.
fn refusal(caller: &Caller, recorder: &Recorder, denied: Denied) -> GatewayError {
    let refused = match denied {
        Denied::StoreDown => {
            return GatewayError::new(
                ErrorKind::Unavailable,
                "This key's limits cannot be checked right now (the limits store is unreachable); retry shortly.",
            )
            .with_code("limits_store_unavailable")
            .with_retry_after(Some(Duration::from_secs(1)))
        }
        Denied::Limit(refused) => refused,
    };
    recorder.record(Event::RateLimited(RateLimited {
        api_key: caller.name.clone(),
        limit: refused.limit.as_str(),
    }));
    let seconds = refused.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let retry_after = Some(Duration::from_secs(seconds));
    match (refused.limit, caller.limits.policy().budget) {
        (Limit::Budget, Some(b)) => GatewayError::new(
            ErrorKind::RateLimited,
            format!(
                "This key's budget of {} USD per {} is spent; it renews in {seconds}s.",
                b.limit,
                b.period.as_str()
            ),
        )
        .with_code("budget_exceeded")
        .with_retry_after(retry_after),
        _ => GatewayError::new(
            ErrorKind::RateLimited,
            format!(
                "Rate limit reached for this key ({}); retry after {seconds}s.",
                refused.limit.as_str()
            ),
        )
        .with_code("rate_limit_exceeded")
        .with_retry_after(retry_after),
    }
}

/// The `x-ratelimit-*` headers of a limited key.
fn add_limit_headers(h: &mut actix_web::http::header::HeaderMap, limits: Option<&KeyState>) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    for (name, value) in limits.map(KeyState::headers).unwrap_or_default() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
}

/// What a whole answer cost.
const COST_HEADER: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-gateway-cost-usd");

/// A cost as a header value (no allocation for a call that cost nothing).
fn usd_header(cost: Cost) -> actix_web::http::header::HeaderValue {
    use actix_web::http::header::HeaderValue;
    if cost == Cost::ZERO {
        return HeaderValue::from_static("0.0");
    }
    HeaderValue::from_str(&cost.to_string()).unwrap_or(HeaderValue::from_static("0.0"))
}

/// Names the target that answered last and the attempts made.
fn add_routing_headers(h: &mut actix_web::http::header::HeaderMap, provider: &str, attempts: u32) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    if let Ok(v) = HeaderValue::from_str(provider) {
        h.insert(HeaderName::from_static("x-gateway-provider"), v);
    }
    h.insert(
        HeaderName::from_static("x-gateway-attempts"),
        HeaderValue::from(attempts),
    );
}

/// A 200 with the gateway's extra headers and its overhead so far.
fn response_head(headers: ExtraHeaders, overhead: Duration) -> HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    for (name, value) in headers {
        b.insert_header((name, value));
    }
    b.insert_header((OVERHEAD_HEADER, ms_header(overhead)));
    b
}

/// The gateway's own time on a call.
const OVERHEAD_HEADER: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-gateway-overhead-ms");

/// A duration as a header value in milliseconds with three decimals (no
/// float formatting per answer).
fn ms_header(d: Duration) -> actix_web::http::header::HeaderValue {
    use actix_web::http::header::HeaderValue;
    let us = d.as_micros();
    HeaderValue::from_str(&format!("{}.{:03}", us / 1000, us % 1000))
        .unwrap_or(HeaderValue::from_static("0.000"))
}

/// The body scanned once, for every attempt of the call; not a JSON object
/// is a 400.
pub fn scan(body: Bytes) -> Result<RawBody, GatewayError> {
    RawBody::parse(body).map_err(|e| GatewayError::bad_body(&e))
}

/// The permit once no attempt holds it any more (every exchange of the call
/// has ended by the time its answer is here).
fn sole(permit: Rc<Permit>) -> Option<Permit> {
    Rc::try_unwrap(permit).ok()
}
