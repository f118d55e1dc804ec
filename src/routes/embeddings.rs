//! `POST /v1/embeddings`: OpenAI's embeddings API for every provider that
//! has embeddings (OpenAI-compatible pass-through, Gemini conversion, the
//! mock's deterministic vectors).

use super::call::{scan, serve};
use super::chat::resolve;
use super::ApiError;
use crate::auth::Caller;
use crate::error::{GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::upstream::{Call, Operation};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

#[derive(Deserialize)]
struct EmbeddingsHead {
    model: String,
}

/// `POST /v1/embeddings`.
pub async fn create(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    serve(
        &req,
        caller,
        payload,
        Endpoint::Embeddings,
        InboundApi::OpenAi,
        |c, body| {
            let head: EmbeddingsHead =
                serde_json::from_slice(&body).map_err(|e| GatewayError::bad_body(&e))?;
            let route = resolve(&c.snapshot, &head.model)?;
            Ok(Call::new(
                Operation::Embeddings,
                InboundApi::OpenAi,
                scan(body)?,
                route.clone(),
                head.model,
            ))
        },
    )
    .await
}
