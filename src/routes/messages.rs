//! `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic
//! Messages API, for Claude Code and the Anthropic SDKs, served by any
//! configured model (`?beta=true` and other query strings are ignored).

use super::call::serve;
use super::chat::resolve;
use super::ApiError;
use crate::auth::Caller;
use crate::error::{GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::upstream::{CallRequest, Operation};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

/// The fields the gateway routes on; the rest is the dialect's.
#[derive(Deserialize)]
struct MessagesHead {
    model: String,
    #[serde(default)]
    stream: Option<bool>,
}

fn head(body: &[u8]) -> Result<MessagesHead, GatewayError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde's message can quote the body; say only what is wrong.
        let what = if e.is_syntax() || e.is_eof() {
            format!(
                "The request body is not valid JSON (line {}, column {}).",
                e.line(),
                e.column()
            )
        } else if e.to_string().contains("missing field `model`") {
            "model: Field required".to_owned()
        } else {
            "model: a string is required".to_owned()
        };
        GatewayError::invalid(what).with_param("model")
    })
}

fn beta(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("anthropic-beta")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn call(
    req: &HttpRequest,
    caller: &Caller,
    body: web::Bytes,
    operation: Operation,
) -> Result<CallRequest, GatewayError> {
    let head = head(&body)?;
    let route = resolve(&caller.snapshot, &head.model)?;
    let stream = operation == Operation::Chat && head.stream.unwrap_or(false);
    Ok(CallRequest {
        operation,
        inbound: InboundApi::Anthropic,
        body,
        route: route.clone(),
        stream,
        include_usage: true,
        anthropic_beta: beta(req),
    })
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
