//! The OpenAI Responses caller side of the seam.

use super::relay::ResponsesPassThrough;
use super::{from_openai, to_openai, ResponsesContext, ResponsesEncoder};
use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::openai::caller::OpenAiCaller;
use crate::protocol::openai::{ChatResponse, Usage};
use crate::protocol::seam::{Answer, CallerApi, Parsed, Relayed};
use crate::protocol::sse;
use crate::protocol::stream::{ClientEncoder, Translator};
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use std::sync::Arc;

/// The OpenAI Responses caller side (Codex CLI, the Agents SDK, the Vercel
/// AI SDK).
#[derive(Debug, Clone, Copy)]
pub struct ResponsesCaller;

impl ResponsesCaller {
    /// Parses a request body for a call with its own id and store (the
    /// route's); [`CallerApi::parse`] is this with an id of `resp_gateway`
    /// and no store.
    pub fn parse_with(&self, body: &[u8], ctx: ResponsesContext) -> Result<Parsed, Error> {
        let (request, ctx) = to_openai(body, ctx)?;
        Ok(Parsed {
            request,
            answer: Arc::new(ResponsesAnswer(ctx)),
        })
    }

    /// The context of a relay outside a call's own answer: the caller's
    /// model name, the gateway's placeholder id, no store.
    fn relayed_context(model: &str) -> ResponsesContext {
        ResponsesContext {
            id: "resp_gateway".to_owned(),
            model: model.to_owned(),
            ..Default::default()
        }
    }
}

impl CallerApi for ResponsesCaller {
    fn parse(&self, body: &[u8]) -> Result<Parsed, Error> {
        let ctx = ResponsesContext {
            id: "resp_gateway".to_owned(),
            ..Default::default()
        };
        self.parse_with(body, ctx)
    }

    fn relay(&self, _include_usage: bool, model: &str) -> Box<dyn Translator> {
        Box::new(ResponsesPassThrough::new(Self::relayed_context(model)))
    }

    fn relayed(&self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), Error> {
        let (body, usage) = super::relay::relay_whole(&body, &Self::relayed_context(model))?;
        Ok((body.into(), usage))
    }

    fn relayed_usage(&self, body: &[u8]) -> Result<Option<Usage>, Error> {
        super::relay::usage_of(body)
    }

    /// OpenAI's error shape, as for chat completions.
    fn error_body(&self, e: &ErrorReply<'_>) -> Vec<u8> {
        OpenAiCaller.error_body(e)
    }

    /// A stream's `error` event; converted streams end with
    /// `response.failed` instead ([`ClientEncoder::fail`]).
    fn error_event(&self, e: &ErrorReply<'_>, out: &mut BytesMut) {
        #[derive(Serialize)]
        struct ErrorEvent<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            code: Option<&'a str>,
            message: &'a str,
            param: Option<&'a str>,
            sequence_number: u64,
        }
        let ev = ErrorEvent {
            kind: "error",
            code: e.code,
            message: e.message,
            param: e.param,
            sequence_number: 0,
        };
        // Serialising plain strings cannot fail.
        sse::write_event(out, "error", &serde_json::to_vec(&ev).unwrap_or_default());
    }
}

/// How answers go back to one Responses caller.
struct ResponsesAnswer(ResponsesContext);

impl Answer for ResponsesAnswer {
    fn whole(&self, resp: &ChatResponse) -> Vec<u8> {
        from_openai(resp, &self.0)
    }

    fn stream(&self) -> Box<dyn ClientEncoder> {
        Box::new(ResponsesEncoder::new(self.0.clone()))
    }

    fn relay_stream(&self) -> Option<Box<dyn Translator>> {
        Some(Box::new(ResponsesPassThrough::new(self.0.clone())))
    }

    fn relay_whole(&self, body: &[u8]) -> Option<Result<Relayed, Error>> {
        Some(super::relay::relay_whole(body, &self.0))
    }
}
