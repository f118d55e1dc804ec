//! Errors are values: a [`GatewayError`] has a kind that decides its status,
//! its metric label and its error `type`, and it is rendered once, at the
//! edge, in the caller's API format ([`InboundApi`]).
//!
//! Messages are written for the caller and must never contain a key or a
//! prompt: upstream messages are passed on as the provider wrote them (they
//! describe the caller's own request) but with the provider key masked
//! ([`GatewayError::mask`]), gateway messages name fields, not values.

use crate::protocol::error::Fault;
use crate::protocol::error::{bounded_wait, MAX_RETRY_AFTER};
use crate::protocol::ErrorReply;
pub use crate::protocol::InboundApi;
use actix_web::http::StatusCode;
use bytes::BytesMut;
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// Longest upstream error message passed on, in characters.
pub const MAX_UPSTREAM_MESSAGE: usize = 2048;
/// Longest upstream `param` or `code` passed on, in characters.
pub const MAX_UPSTREAM_FIELD: usize = 128;

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
    /// The request's header fields are over the configured limit (431).
    HeadersTooLarge,
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
            ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
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
            | ErrorKind::HeadersTooLarge
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

impl From<crate::protocol::ErrorKind> for ErrorKind {
    fn from(kind: crate::protocol::ErrorKind) -> Self {
        use crate::protocol::ErrorKind as P;
        match kind {
            P::InvalidRequest => ErrorKind::InvalidRequest,
            P::Upstream(status) => ErrorKind::Upstream(status),
            P::BadUpstreamResponse => ErrorKind::BadUpstreamResponse,
            P::Internal => ErrorKind::Internal,
        }
    }
}

impl From<crate::protocol::Error> for GatewayError {
    fn from(e: crate::protocol::Error) -> Self {
        e.map_kind(ErrorKind::from)
    }
}

/// An error on its way to the caller (`retry_after` goes out as
/// `Retry-After` in whole seconds; an upstream's value is parsed and bounded
/// where it enters, [`parse_retry_after`]).
pub type GatewayError = Fault<ErrorKind>;

impl GatewayError {
    /// A 400 about the request.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// A 400 for a request body that did not parse (see
    /// [`protocol::Error::bad_body`](crate::protocol::Error::bad_body)).
    pub fn bad_body(e: &serde_json::Error) -> Self {
        crate::protocol::Error::bad_body(e).into()
    }

    /// Replaces `secret` with `***` in every string that may come from an
    /// upstream (message, param, code): an upstream can echo any of them.
    pub fn mask(mut self, secret: &str) -> Self {
        fn masked(s: &mut Cow<'static, str>, secret: &str) {
            if s.contains(secret) {
                *s = s.replace(secret, "***").into();
            }
        }
        if secret.is_empty() {
            return self;
        }
        masked(&mut self.message, secret);
        for s in [&mut self.param, &mut self.code].into_iter().flatten() {
            masked(s, secret);
        }
        self
    }

    /// Cuts what an upstream wrote to a size a caller's error body can
    /// carry: the message to [`MAX_UPSTREAM_MESSAGE`] characters, `param`
    /// and `code` to [`MAX_UPSTREAM_FIELD`] (then `…`).
    pub fn bounded(mut self) -> Self {
        fn cut(s: &mut Cow<'static, str>, max: usize) {
            if let Some((at, _)) = s.char_indices().nth(max) {
                *s = format!("{}…", &s[..at]).into();
            }
        }
        cut(&mut self.message, MAX_UPSTREAM_MESSAGE);
        for s in [&mut self.param, &mut self.code].into_iter().flatten() {
            cut(s, MAX_UPSTREAM_FIELD);
        }
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

    /// The error as the caller's format shows it.
    pub fn reply(&self, api: InboundApi) -> ErrorReply<'_> {
        ErrorReply {
            status: self.status_in(api).as_u16(),
            message: &self.message,
            param: self.param.as_deref(),
            code: self.code.as_deref(),
        }
    }

    /// The error body in the caller's format.
    pub fn body(&self, api: InboundApi) -> Vec<u8> {
        api.caller().error_body(&self.reply(api))
    }

    /// The error as a mid-stream event in the caller's stream format (an
    /// OpenAI `data: {"error":…}` payload, an Anthropic `event: error`).
    pub fn stream_event(&self, api: InboundApi) -> BytesMut {
        let mut out = BytesMut::new();
        api.caller().error_event(&self.reply(api), &mut out);
        out
    }
}

/// An upstream's `Retry-After` value as a bounded wait: delta-seconds
/// (fractions accepted) or an HTTP-date, counted from `now` (a past date is
/// no wait). Anything else is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return bounded_wait(seconds);
    }
    let date: SystemTime = value
        .parse::<actix_web::http::header::HttpDate>()
        .ok()?
        .into();
    let wait = date.duration_since(now).unwrap_or_default();
    (wait <= MAX_RETRY_AFTER).then_some(wait)
}

/// A wait in whole seconds, rounded up (`Retry-After` has no fractions).
pub fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
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

    #[test]
    fn retry_after_is_parsed_into_a_bounded_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |v: &str| parse_retry_after(v, now);
        assert_eq!(parse("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("86400"), Some(MAX_RETRY_AFTER));
        for junk in [
            "1e20",
            "86401",
            "-1",
            "NaN",
            "inf",
            "",
            "soon",
            "7 sk-live",
            "0x10",
        ] {
            assert_eq!(parse(junk), None, "{junk}");
        }
        let date = |s: u64| {
            actix_web::http::header::HttpDate::from(now + Duration::from_secs(s)).to_string()
        };
        assert_eq!(parse(&date(120)), Some(Duration::from_secs(120)));
        assert_eq!(parse(&date(200_000)), None, "too far ahead");
        let past = actix_web::http::header::HttpDate::from(now - Duration::from_secs(60));
        assert_eq!(parse(&past.to_string()), Some(Duration::ZERO));
    }
}
