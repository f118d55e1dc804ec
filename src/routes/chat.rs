//! `POST /v1/chat/completions`: OpenAI format in and out, any provider.

use super::{label, read_body, reply_response, ApiError, CallLabels};
use crate::auth::Caller;
use crate::config::{ModelRoute, Snapshot};
use crate::error::{ErrorKind, GatewayError, InboundApi};
use crate::protocol::openai::StreamOptions;
use crate::upstream::{ProviderPool, UpstreamCall};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::IgnoredAny;
use serde::Deserialize;

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
        let head: ChatHead = serde_json::from_slice(body)
            .map_err(|e| GatewayError::invalid(format!("Invalid request body: {e}")))?;
        if head.messages.is_empty() {
            return Err(
                GatewayError::invalid("`messages` must not be empty").with_param("messages")
            );
        }
        Ok(head)
    }
}

/// The route of a model name, if it exists and its provider is enabled.
pub fn resolve<'a>(snapshot: &'a Snapshot, model: &str) -> Result<&'a ModelRoute, GatewayError> {
    match snapshot.model(model) {
        Some(route) if route.provider.enabled => Ok(route),
        Some(_) => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!("The model `{model}` is not available: its provider is disabled."),
        )
        .with_code("model_not_found")
        .with_param("model")),
        None => Err(GatewayError::new(
            ErrorKind::ModelNotFound,
            format!("The model `{model}` does not exist on this gateway."),
        )
        .with_code("model_not_found")
        .with_param("model")),
    }
}

/// Serves one chat completion, streamed or not.
pub async fn completions(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    pool: web::Data<ProviderPool>,
) -> Result<HttpResponse, ApiError> {
    let fail = |e| ApiError(e, InboundApi::OpenAi);
    let snapshot = &caller.snapshot;
    let body = read_body(&req, payload, snapshot.server.max_body_bytes)
        .await
        .map_err(fail)?;
    let head = ChatHead::parse(&body).map_err(fail)?;
    let route = resolve(snapshot, &head.model).map_err(fail)?;
    label(
        &req,
        CallLabels {
            api_key: caller.name.clone(),
            model: route.name.clone(),
            provider: route.provider.id.clone(),
            error: None,
        },
    );
    let stream = head.stream.unwrap_or(false);
    let call = UpstreamCall {
        inbound: InboundApi::OpenAi,
        body,
        route: route.clone(),
        stream,
        include_usage: stream
            && head
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        anthropic_beta: req
            .headers()
            .get("anthropic-beta")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let reply = pool.dispatch(call).await.map_err(fail)?;
    let (response, summary) = reply_response(reply);
    if let Some(summary) = summary {
        let labels = (
            caller.name.clone(),
            route.name.clone(),
            route.provider.id.clone(),
        );
        actix_web::rt::spawn(async move {
            if let Ok(s) = summary.await {
                if let Some(kind) = s.error {
                    tracing::warn!(
                        api_key = %labels.0, model = %labels.1, provider = %labels.2,
                        error = kind.metric_label(), "stream ended with an error"
                    );
                }
            }
        });
    }
    Ok(response)
}
