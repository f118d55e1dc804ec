//! HTTP routes: handlers do HTTP in and out and nothing else; upstream work
//! goes to the provider actors.

pub mod admin;
pub mod call;
pub mod chat;
pub mod embeddings;
pub mod gemini;
pub mod health;
pub mod messages;
pub mod models;
pub mod responses;

use crate::auth::{authenticate, Caller};
use crate::error::{whole_seconds, ErrorKind, GatewayError, InboundApi};
use crate::protocol::error::quoted;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Duration;

/// Registers every route; used by the server and by tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .route("/v1/models", web::get().to(models::list))
        .route("/v1/chat/completions", web::post().to(chat::completions))
        .route("/v1/messages", web::post().to(messages::create))
        .route(
            "/v1/messages/count_tokens",
            web::post().to(messages::count_tokens),
        )
        .route("/v1/embeddings", web::post().to(embeddings::create))
        .route("/v1/responses", web::post().to(responses::create))
        .route("/v1/responses", web::get().to(responses::websocket))
        .route("/v1/responses/{id}", web::get().to(responses::get))
        .route("/v1/models/{target}", web::post().to(gemini::post))
        .route("/v1/models/{owner}/{target}", web::post().to(gemini::post))
        .route("/v1/models/{target}", web::get().to(gemini::get))
        .route("/v1/models/{owner}/{target}", web::get().to(gemini::get))
        .route("/v1beta/models", web::get().to(gemini::list))
        .route("/v1beta/models/{target}", web::post().to(gemini::post))
        .route(
            "/v1beta/models/{owner}/{target}",
            web::post().to(gemini::post),
        )
        .route("/v1beta/models/{target}", web::get().to(gemini::get))
        .route(
            "/v1beta/models/{owner}/{target}",
            web::get().to(gemini::get),
        )
        .route("/admin/reload", web::post().to(admin::reload));
}

/// A [`GatewayError`] rendered in the caller's API format.
#[derive(Debug)]
pub struct ApiError(pub GatewayError, pub InboundApi);

impl ApiError {
    /// The inbound API a request speaks: Gemini's ([`crate::auth::is_gemini`]); Anthropic
    /// on `/v1/messages*` and for any request carrying `anthropic-version`
    /// (the Anthropic SDKs always send it), OpenAI otherwise.
    pub fn api_of(req: &HttpRequest) -> InboundApi {
        if crate::auth::is_gemini(req) {
            return InboundApi::Gemini;
        }
        if req.path().starts_with("/v1/messages") || req.headers().contains_key("anthropic-version")
        {
            InboundApi::Anthropic
        } else {
            InboundApi::OpenAi
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_in(self.1)
    }

    fn error_response(&self) -> HttpResponse {
        render(&self.0, self.1)
    }
}

/// An error as the full HTTP response, in the caller's format.
pub fn render(e: &GatewayError, api: InboundApi) -> HttpResponse {
    let mut builder = HttpResponse::build(e.status_in(api));
    builder.content_type("application/json");
    if let Some(wait) = e.retry_after {
        builder.insert_header(("retry-after", whole_seconds(wait).to_string()));
    }
    builder.body(e.body(api))
}

/// The [`Caller`] extractor: a refusal comes in the caller's API format.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map_err(|e| ApiError(e, ApiError::api_of(req))))
    }
}

/// Who called what, recorded on the request for the access log.
#[derive(Debug, Clone)]
pub struct CallLabels {
    pub api_key: Arc<str>,
    pub model: Arc<str>,
    pub provider: Arc<str>,
    /// Upstream attempts made (retries and fallbacks included).
    pub attempts: u32,
    /// What the call cost (for answered calls).
    pub cost: crate::governance::CostNote,
}

/// Records the call's labels on the request (for the access log).
pub fn label(req: &HttpRequest, labels: CallLabels) {
    req.extensions_mut().insert(labels);
}

/// Reads the request body, refusing more than `limit` bytes with a 413 and
/// a body not complete `within` with a 408: a slow upload holds its
/// connection and its call slot no longer than that.
pub async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    within: Duration,
) -> Result<Bytes, GatewayError> {
    tokio::time::timeout(within, read_limited(req, payload, limit))
        .await
        .map_err(|_| {
            GatewayError::new(
                ErrorKind::RequestTimeout,
                format!(
                    "The request body did not arrive within the gateway's limit of {} s.",
                    within.as_secs_f64()
                ),
            )
            .with_code("request_timeout")
        })?
}

async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let too_large = || {
        GatewayError::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body is larger than the gateway's limit of {limit} bytes."),
        )
        .with_code("request_too_large")
    };
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| GatewayError::invalid("The request body could not be read."))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The answer to a path no route serves.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let e = GatewayError::new(
        ErrorKind::NotFound,
        format!("Unknown endpoint: {} {}", req.method(), quoted(req.path())),
    )
    .with_code("unknown_url");
    render(&e, ApiError::api_of(&req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_after_is_rendered_in_whole_seconds_rounded_up() {
        let e = GatewayError::new(ErrorKind::Upstream(429), "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        let resp = render(&e, InboundApi::OpenAi);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "2");
        let none = GatewayError::new(ErrorKind::Upstream(429), "slow down");
        assert!(render(&none, InboundApi::OpenAi)
            .headers()
            .get("retry-after")
            .is_none());
    }
}
