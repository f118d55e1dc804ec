//! The Gemini provider side of the seam.

use super::ResponseContext;
use super::{error_from_gemini, from_gemini, model_path, to_gemini, GeminiToOpenAi};
use crate::protocol::openai::provider::json_header;
use crate::protocol::openai::{ChatRequest, ChatResponse};
use crate::protocol::raw::RawBody;
use crate::protocol::seam::{
    Decode, Encoded, Headers, InboundApi, Operation, ProviderApi, RelayBody, Target,
};
use crate::protocol::{ChunkDecoder, Error};
use std::time::Duration;

/// Gemini's `generateContent` API.
#[derive(Debug, Clone, Copy)]
pub struct GeminiProvider;

impl ProviderApi for GeminiProvider {
    fn native(&self) -> Option<InboundApi> {
        Some(InboundApi::Gemini)
    }

    fn url(&self, t: &Target<'_>, op: Operation) -> String {
        let method = match op {
            Operation::Embeddings => ":batchEmbedContents",
            Operation::CountTokens => ":countTokens",
            Operation::Chat if t.stream => ":streamGenerateContent?alt=sse",
            Operation::Chat => ":generateContent",
        };
        format!("{}/{}{method}", t.base_url, model_path(t.api_model))
    }

    /// The key goes in a header, never in the URL: URLs end up in logs.
    fn headers(&self, t: &Target<'_>) -> Headers {
        let mut headers = vec![json_header()];
        if let Some(key) = t.api_key {
            headers.push(("x-goog-api-key", key.to_owned()));
        }
        headers
    }

    /// Gemini names the model in the URL: the body goes on as it came.
    fn relay_body(&self, raw: &RawBody, _t: &Target<'_>) -> Result<RelayBody, Error> {
        Ok(raw.write_with(&[]).into())
    }

    fn encode(&self, req: &ChatRequest, t: &Target<'_>) -> Result<Encoded, Error> {
        let mut c = to_gemini(req)?;
        c.ctx.created = t.created;
        Ok(Encoded {
            body: c.body,
            dropped: c.dropped,
            decoder: Box::new(GeminiDecode(c.ctx)),
        })
    }

    fn error(&self, status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
        error_from_gemini(status, body, retry_after)
    }
}

/// Gemini answers for one request (its context holds `created`).
struct GeminiDecode(ResponseContext);

impl Decode for GeminiDecode {
    fn whole(&self, body: &[u8]) -> Result<ChatResponse, Error> {
        from_gemini(body, &self.0)
    }

    fn stream(self: Box<Self>) -> Box<dyn ChunkDecoder> {
        let created = self.0.created;
        Box::new(GeminiToOpenAi::new(self.0, created))
    }
}
