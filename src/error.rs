//! Errors are values: a [`GatewayError`] has a kind that decides its status,
//! its metric label and its error `type`, and it is rendered once, at the
//! edge, in the caller's API format ([`InboundApi`]).
//!
//! Messages are written for the caller and must never contain a key or a
//! prompt: upstream messages are passed on as the provider wrote them (they
//! describe the caller's own request), gateway messages name fields, not
//! values.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::BytesMut;
use serde::Serialize;
use std::borrow::Cow;

/// What went wrong, in the gateway's closed set of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's request is malformed or cannot be converted (400).
    InvalidRequest,
    /// Missing, unknown or disabled gateway key (401).
    Authentication,
    /// The key may not use this model (403).
    Permission,
    /// The requested model is not configured (404).
    ModelNotFound,
    /// No such endpoint (404).
    NotFound,
    /// The request body is over the configured limit (413).
    PayloadTooLarge,
    /// The caller did not send its request body in time (408).
    RequestTimeout,
    /// The gateway's own limits refused the request (429).
    RateLimited,
    /// The upstream answered with this error status.
    Upstream(u16),
    /// The upstream's answer could not be read or understood (502).
    BadUpstreamResponse,
    /// The upstream could not be reached (502).
    Connection,
    /// The upstream did not answer in time (504).
    Timeout,
    /// The gateway cannot serve right now: draining, or no target available (503).
    Unavailable,
    /// The caller went away before the answer was complete (499, never sent).
    ClientClosed,
    /// A bug or an unexpected state inside the gateway (500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status the caller sees.
    ///
    /// Upstream 4xx keep their status so that SDKs classify them as the
    /// provider meant; upstream 5xx become 502 (the fault is beyond the
    /// gateway), except overload (503/529 → 503) and upstream timeouts (504).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::Permission => StatusCode::FORBIDDEN,
            ErrorKind::ModelNotFound | ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Upstream(s) => match s {
                400..=499 => StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST),
                503 | 529 => StatusCode::SERVICE_UNAVAILABLE,
                504 => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
            ErrorKind::BadUpstreamResponse | ErrorKind::Connection => StatusCode::BAD_GATEWAY,
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            // 499 is nginx's "client closed request"; nobody receives it.
            ErrorKind::ClientClosed => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error_type` label of `llm_errors_total`: a small closed set.
    pub fn metric_label(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::RequestTimeout
            | ErrorKind::NotFound => "invalid_request",
            ErrorKind::Authentication => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::RateLimited => "rate_limit",
            ErrorKind::Upstream(429) => "rate_limit",
            ErrorKind::Upstream(s) if s < 500 => "upstream_4xx",
            ErrorKind::Upstream(_) | ErrorKind::BadUpstreamResponse => "upstream_5xx",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "upstream_5xx",
            ErrorKind::ClientClosed => "client_closed",
            ErrorKind::Internal => "internal",
        }
    }

    /// The OpenAI `error.type` string (PROTOCOLS.md §1.6 recommendation).
    fn openai_type(self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The Anthropic `error.type` string (PROTOCOLS.md §2.7, §5.6).
    fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::Upstream(529) => "overloaded_error",
            _ => match self.status().as_u16() {
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                503 => "overloaded_error",
                504 => "timeout_error",
                s if s >= 500 => "api_error",
                _ => "invalid_request_error",
            },
        }
    }

    /// Whether another attempt (on the same or another target) may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection
                | ErrorKind::Timeout
                | ErrorKind::Upstream(429 | 500 | 502 | 503 | 504 | 529)
        )
    }
}

/// The inbound API whose error format the caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundApi {
    /// `{"error":{"message","type","param","code"}}`
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
}

/// An error on its way to the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    /// Human-readable; never holds a key or a prompt.
    pub message: Cow<'static, str>,
    /// The request field at fault, when there is one.
    pub param: Option<Cow<'static, str>>,
    /// A machine-readable code (OpenAI `error.code`), e.g. `model_not_found`.
    pub code: Option<Cow<'static, str>>,
    /// Seconds, passed on as `Retry-After`.
    pub retry_after: Option<String>,
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for GatewayError {}

impl GatewayError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// A 400 about the request.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets the machine-readable code.
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets `Retry-After` (seconds).
    pub fn with_retry_after(mut self, seconds: Option<String>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// The HTTP status an OpenAI caller sees.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The HTTP status in the caller's API: Anthropic callers get 529 for
    /// an overloaded upstream or an unavailable gateway, which Claude Code
    /// and the Anthropic SDKs treat as "overloaded, retrying" (PROTOCOLS.md
    /// §5.6).
    pub fn status_in(&self, api: InboundApi) -> StatusCode {
        match (api, self.kind) {
            (InboundApi::Anthropic, ErrorKind::Upstream(503 | 529) | ErrorKind::Unavailable) => {
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            _ => self.status(),
        }
    }

    /// The error body in the caller's format.
    pub fn body(&self, api: InboundApi) -> Vec<u8> {
        let result = match api {
            InboundApi::OpenAi => serde_json::to_vec(&OpenAiErrorBody {
                error: OpenAiErrorInner {
                    message: &self.message,
                    kind: self.kind.openai_type(),
                    param: self.param.as_deref(),
                    code: self.code.as_deref(),
                },
            }),
            InboundApi::Anthropic => serde_json::to_vec(&AnthropicErrorBody {
                kind: "error",
                error: AnthropicErrorInner {
                    kind: self.kind.anthropic_type(),
                    message: &self.message,
                },
            }),
        };
        // Serialising plain strings cannot fail.
        result.unwrap_or_default()
    }

    /// The error as a mid-stream event in the caller's stream format: an
    /// OpenAI `data: {"error":…}` payload (openai-python raises on it) or an
    /// Anthropic `event: error`.
    pub fn stream_event(&self, api: InboundApi) -> BytesMut {
        let body = self.body(api);
        let mut out = BytesMut::new();
        match api {
            InboundApi::OpenAi => crate::protocol::sse::write_data(&mut out, &body),
            InboundApi::Anthropic => crate::protocol::sse::write_event(&mut out, "error", &body),
        }
        out
    }

    /// The full HTTP response in the caller's format.
    pub fn response(&self, api: InboundApi) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_in(api));
        builder.content_type("application/json");
        if let Some(ra) = &self.retry_after {
            builder.insert_header(("retry-after", ra.as_str()));
        }
        builder.body(self.body(api))
    }
}

#[derive(Serialize)]
struct OpenAiErrorBody<'a> {
    error: OpenAiErrorInner<'a>,
}

#[derive(Serialize)]
struct OpenAiErrorInner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct AnthropicErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: AnthropicErrorInner<'a>,
}

#[derive(Serialize)]
struct AnthropicErrorInner<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn body(e: &GatewayError, api: InboundApi) -> Value {
        serde_json::from_slice(&e.body(api)).unwrap()
    }

    #[test]
    fn openai_body_has_all_four_keys() {
        let e = GatewayError::new(ErrorKind::ModelNotFound, "The model `x` does not exist")
            .with_code("model_not_found");
        assert_eq!(
            body(&e, InboundApi::OpenAi),
            json!({"error": {"message": "The model `x` does not exist", "type": "not_found_error",
                             "param": null, "code": "model_not_found"}})
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn anthropic_body_uses_anthropic_types() {
        let e = GatewayError::new(ErrorKind::Upstream(529), "Overloaded");
        assert_eq!(
            body(&e, InboundApi::Anthropic),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        );
    }

    #[test]
    fn anthropic_callers_get_529_for_an_overloaded_upstream() {
        let e = GatewayError::new(ErrorKind::Upstream(503), "busy");
        assert_eq!(e.status_in(InboundApi::Anthropic).as_u16(), 529);
        assert_eq!(e.status_in(InboundApi::OpenAi).as_u16(), 503);
    }

    #[test]
    fn upstream_statuses_map_as_documented() {
        assert_eq!(ErrorKind::Upstream(404).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            ErrorKind::Upstream(429).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(ErrorKind::Upstream(500).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            ErrorKind::Upstream(529).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ErrorKind::Upstream(504).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(ErrorKind::Upstream(429).metric_label(), "rate_limit");
        assert_eq!(ErrorKind::Upstream(400).metric_label(), "upstream_4xx");
    }
}
