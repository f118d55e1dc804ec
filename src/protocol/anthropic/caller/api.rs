//! The Anthropic Messages caller side of the seam.

use super::{from_openai, to_openai, AnthropicEncoder, InboundContext};
use crate::protocol::anthropic::provider::usage_of;
use crate::protocol::anthropic::relay::AnthropicPassThrough;
use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::{ChatResponse, Usage};
use crate::protocol::raw::{json_string, rewritten};
use crate::protocol::seam::{Answer, CallerApi, Parsed};
use crate::protocol::sse;
use crate::protocol::stream::{ClientEncoder, Translator};
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use std::sync::Arc;

/// The Anthropic Messages caller side (Claude Code, the Anthropic SDKs).
#[derive(Debug, Clone, Copy)]
pub struct AnthropicCaller;

impl CallerApi for AnthropicCaller {
    fn parse(&self, body: &[u8]) -> Result<Parsed, Error> {
        let (request, ctx) = to_openai(body)?;
        Ok(Parsed {
            request,
            answer: Arc::new(AnthropicAnswer(ctx)),
        })
    }

    fn relay(&self, _include_usage: bool, model: &str) -> Box<dyn Translator> {
        Box::new(AnthropicPassThrough::echoing(&json_string(model)))
    }

    fn relayed_usage(&self, body: &[u8]) -> Result<Option<Usage>, Error> {
        usage_of(body).map_err(|_| unreadable())
    }

    /// `model` is rewritten in place (one scan of the top level; count
    /// answers have none), the rest relayed byte for byte.
    fn relayed(&self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), Error> {
        let usage = self.relayed_usage(&body)?;
        let model = json_string(model);
        let out = rewritten(&body, &["model"], model.as_bytes()).ok_or_else(unreadable)?;
        Ok((out.into(), usage))
    }

    fn error_body(&self, e: &ErrorReply<'_>) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            message: &'a str,
        }
        let body = Body {
            kind: "error",
            error: Inner {
                kind: error_type(e.status),
                message: e.message,
            },
        };
        // Serialising plain strings cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn error_event(&self, e: &ErrorReply<'_>, out: &mut BytesMut) {
        sse::write_event(out, "error", &self.error_body(e));
    }

    fn count_estimate(&self, body: &[u8]) -> Result<Vec<u8>, Error> {
        let n = super::estimate_input_tokens(body)?;
        Ok(serde_json::json!({ "input_tokens": n })
            .to_string()
            .into_bytes())
    }

    /// `event: ping` (§5.4 step 4): Claude Code expects pings on quiet
    /// streams, e.g. while a model thinks.
    fn keep_alive(&self) -> Option<&'static [u8]> {
        Some(b"event: ping\ndata: {\"type\":\"ping\"}\n\n")
    }
}

/// The Anthropic `error.type` of a status (PROTOCOLS.md §2.7, §5.6): 529
/// (and 503) are `overloaded_error`, which the SDKs retry.
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 | 431 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// How answers go back to one Anthropic caller.
struct AnthropicAnswer(InboundContext);

impl Answer for AnthropicAnswer {
    fn whole(&self, resp: &ChatResponse) -> Vec<u8> {
        from_openai(resp, &self.0)
    }

    fn stream(&self) -> Box<dyn ClientEncoder> {
        Box::new(AnthropicEncoder::new(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sse::{SseEvent, SseParser};

    #[test]
    fn the_keep_alive_is_a_named_ping_event() {
        let mut events: Vec<SseEvent> = Vec::new();
        SseParser::new()
            .feed(AnthropicCaller.keep_alive().unwrap(), &mut events)
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        assert_eq!(events[0].data, r#"{"type":"ping"}"#);
    }
}
