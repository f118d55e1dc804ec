//! The Anthropic Messages provider side of the seam.

use super::{error_from_anthropic, from_anthropic, to_anthropic, AnthropicToOpenAi};
use super::{RequestOptions, ResponseContext};
use crate::protocol::openai::provider::json_header;
use crate::protocol::openai::{ChatRequest, ChatResponse};
use crate::protocol::raw::RawBody;
use crate::protocol::seam::{
    Decode, Encoded, Headers, InboundApi, Operation, ProviderApi, RelayBody, Target,
};
use crate::protocol::{ChunkDecoder, Error};
use std::time::Duration;

/// Anthropic's Messages API.
#[derive(Debug, Clone, Copy)]
pub struct AnthropicProvider;

impl ProviderApi for AnthropicProvider {
    fn native(&self) -> Option<InboundApi> {
        Some(InboundApi::Anthropic)
    }

    fn url(&self, t: &Target<'_>, op: Operation) -> String {
        let path = match op {
            Operation::CountTokens => "/messages/count_tokens",
            Operation::Chat | Operation::Embeddings => "/messages",
        };
        format!("{}{path}", t.base_url)
    }

    /// The caller's `anthropic-beta` goes on unchanged.
    fn headers(&self, t: &Target<'_>) -> Headers {
        let mut headers = vec![
            json_header(),
            ("anthropic-version", t.api_version.to_owned()),
        ];
        if let Some(key) = t.api_key {
            headers.push(("x-api-key", key.to_owned()));
        }
        if let Some(beta) = t.anthropic_beta {
            headers.push(("anthropic-beta", beta.to_owned()));
        }
        headers
    }

    fn relay_body(&self, raw: &RawBody, t: &Target<'_>) -> Result<RelayBody, Error> {
        let model = serde_json::to_vec(t.api_model).unwrap_or_default();
        Ok(raw.write_with(&[("model", &model)]).into())
    }

    fn encode(&self, req: &ChatRequest, t: &Target<'_>) -> Result<Encoded, Error> {
        let mut c = to_anthropic(
            req,
            &RequestOptions {
                api_model: t.api_model,
                default_max_tokens: t.default_max_tokens,
            },
        )?;
        c.ctx.created = t.created;
        Ok(Encoded {
            body: c.body,
            dropped: c.dropped,
            decoder: Box::new(AnthropicDecode(c.ctx)),
        })
    }

    fn error(&self, status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
        error_from_anthropic(status, body, retry_after)
    }
}

/// Anthropic answers for one request (its context holds `created`).
struct AnthropicDecode(ResponseContext);

impl Decode for AnthropicDecode {
    fn whole(&self, body: &[u8]) -> Result<ChatResponse, Error> {
        from_anthropic(body, &self.0)
    }

    fn stream(self: Box<Self>) -> Box<dyn ChunkDecoder> {
        let created = self.0.created;
        Box::new(AnthropicToOpenAi::new(self.0, created))
    }
}
