//! `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic
//! Messages API, for Claude Code and the Anthropic SDKs, served by any
//! configured model (`?beta=true` and other query strings are ignored).

use super::call::{scan, serve};
use super::chat::{header, resolve};
use super::ApiError;
use crate::auth::Caller;
use crate::error::{GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::protocol::raw::RawBody;
use crate::upstream::{Call, Operation};
use actix_web::{web, HttpRequest, HttpResponse};

/// The fields the gateway routes on; the rest is the dialect's.
struct MessagesHead {
    model: String,
    stream: Option<bool>,
}

/// Reads each routing field on its own, so that an error names the field
/// at fault (in Anthropic's words) and quotes nothing of the body.
fn head(obj: &RawBody) -> Result<MessagesHead, GatewayError> {
    let wrong = |field: &'static str, problem: &str| {
        GatewayError::invalid(format!("{field}: {problem}")).with_param(field)
    };
    let model = match obj.get("model") {
        None => return Err(wrong("model", "Field required")),
        Some(raw) => {
            serde_json::from_str(raw).map_err(|_| wrong("model", "a string is required"))?
        }
    };
    let stream = match obj.get("stream") {
        None => None,
        Some(raw) => {
            serde_json::from_str(raw).map_err(|_| wrong("stream", "a boolean is required"))?
        }
    };
    Ok(MessagesHead { model, stream })
}

fn call(
    req: &HttpRequest,
    caller: &Caller,
    body: web::Bytes,
    operation: Operation,
) -> Result<Call, GatewayError> {
    let body = scan(body)?;
    let head = head(&body)?;
    let route = resolve(&caller.snapshot, &head.model)?;
    let mut call = Call::new(
        operation,
        InboundApi::Anthropic,
        body,
        route.clone(),
        head.model,
    );
    call.stream = operation == Operation::Chat && head.stream.unwrap_or(false);
    call.include_usage = true;
    call.anthropic_beta = header(req, "anthropic-beta");
    call.anthropic_version = header(req, "anthropic-version");
    Ok(call)
}

async fn handle(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
    endpoint: Endpoint,
    operation: Operation,
) -> HttpResponse {
    serve(
        &req,
        caller,
        payload,
        endpoint,
        InboundApi::Anthropic,
        |c, body| call(&req, c, body, operation),
    )
    .await
}

/// `POST /v1/messages`.
pub async fn create(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    handle(req, caller, payload, Endpoint::Messages, Operation::Chat).await
}

/// `POST /v1/messages/count_tokens`: exact from Anthropic providers, a
/// documented estimate for the others.
pub async fn count_tokens(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    handle(
        req,
        caller,
        payload,
        Endpoint::CountTokens,
        Operation::CountTokens,
    )
    .await
}
