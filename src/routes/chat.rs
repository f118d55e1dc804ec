//! `POST /v1/chat/completions`: OpenAI format in and out, any provider.

use super::call::{scan, serve};
use super::ApiError;
use crate::auth::Caller;
use crate::config::{ModelRoute, Snapshot};
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::metrics::Endpoint;
use crate::protocol::error::quoted;
use crate::protocol::openai::StreamOptions;
use crate::upstream::{Call, Operation};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::sync::Arc;

/// The fields of a chat request the gateway routes on; the rest of the body
/// is left to the provider's dialect.
#[derive(Deserialize)]
struct ChatHead {
    model: String,
    messages: Vec<IgnoredAny>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

impl ChatHead {
    fn parse(body: &[u8]) -> Result<Self, GatewayError> {
        let head: ChatHead =
            serde_json::from_slice(body).map_err(|e| GatewayError::bad_body(&e))?;
        if head.messages.is_empty() {
            return Err(
                GatewayError::invalid("`messages` must not be empty").with_param("messages")
            );
        }
        Ok(head)
    }
}

/// The route of a model name (its exact entry, else the longest matching
/// pattern), if it exists and its provider is enabled; an error quotes the
/// name only shortened and sanitised.
pub fn resolve<'a>(
    snapshot: &'a Snapshot,
    model: &str,
) -> Result<&'a Arc<ModelRoute>, GatewayError> {
    match snapshot.route(model) {
        Some(route) if route.enabled() => Ok(route),
        Some(_) => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` is not available: its provider is disabled.",
                quoted(model)
            ),
        )
        .with_code("model_not_found")
        .with_param("model")),
        None => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!(
                "The model `{}` does not exist on this gateway.",
                quoted(model)
            ),
        )
        .with_code("model_not_found")
        .with_param("model")),
    }
}

/// Serves one chat completion, streamed or not.
pub async fn completions(
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
) -> HttpResponse {
    let anthropic_beta = header(&req, "anthropic-beta");
    let anthropic_version = header(&req, "anthropic-version");
    serve(
        &req,
        caller,
        payload,
        Endpoint::ChatCompletions,
        InboundApi::OpenAi,
        |caller, body| {
            let head = ChatHead::parse(&body)?;
            let route = resolve(&caller.snapshot, &head.model)?;
            let stream = head.stream.unwrap_or(false);
            let mut call = Call::new(
                Operation::Chat,
                InboundApi::OpenAi,
                scan(body)?,
                route.clone(),
            );
            call.stream = stream;
            call.include_usage = stream
                && head
                    .stream_options
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false);
            call.anthropic_beta = anthropic_beta;
            call.anthropic_version = anthropic_version;
            Ok(call)
        },
    )
    .await
}

/// A request header's value, when it is text.
pub fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
