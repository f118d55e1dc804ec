//! OpenAI Chat Completions as the caller's API: how answers and chunks go
//! back to an OpenAI client, naming the model the caller asked for.

use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::relay::OpenAiPassThrough;
use crate::protocol::openai::{ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Usage};
use crate::protocol::raw::{json_string, put_spliced, RawObject};
use crate::protocol::seam::{Answer, CallerApi, Parsed};
use crate::protocol::sse;
use crate::protocol::stream::{write_json_data, ClientEncoder, Translator};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use std::sync::Arc;

/// OpenAI chunks to an OpenAI caller: `data:` lines, the usage chunk when
/// asked for (always with `"choices": []`, E11), then `[DONE]`; every
/// chunk names the model the caller asked for.
#[derive(Debug, Default)]
pub struct OpenAiEncoder {
    include_usage: bool,
    /// The caller's `model`.
    model: String,
    /// id and created of the stream, for the usage chunk.
    meta: Option<(String, u64)>,
}

impl OpenAiEncoder {
    /// `include_usage`: the caller asked for the usage chunk; `model`: the
    /// name the caller asked for.
    pub fn new(include_usage: bool, model: String) -> Self {
        Self {
            include_usage,
            model,
            meta: None,
        }
    }
}

impl ClientEncoder for OpenAiEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.meta.is_none() {
            self.meta = Some((chunk.id.clone(), chunk.created));
        }
        write_json_data(
            out,
            &ChunkAs {
                id: &chunk.id,
                object: &chunk.object,
                created: chunk.created,
                model: &self.model,
                choices: &chunk.choices,
                usage: chunk.usage.as_ref(),
            },
        );
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if let (true, Some(usage), Some((id, created))) =
            (self.include_usage, usage, self.meta.take())
        {
            let chunk = ChunkAs {
                id: &id,
                object: "chat.completion.chunk",
                created,
                model: &self.model,
                choices: &[],
                usage: Some(&usage),
            };
            write_json_data(out, &chunk);
        }
        out.put_slice(sse::DONE);
    }
}

/// A [`ChatChunk`] as written to the caller, naming the caller's model.
#[derive(Serialize)]
struct ChunkAs<'a> {
    id: &'a str,
    object: &'a str,
    created: u64,
    model: &'a str,
    choices: &'a [ChunkChoice],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

/// A [`ChatResponse`] as written to the caller, naming the caller's model.
#[derive(Serialize)]
struct ResponseAs<'a> {
    id: &'a str,
    object: &'a str,
    created: u64,
    model: &'a str,
    choices: &'a [Choice],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_fingerprint: Option<&'a str>,
}

/// The OpenAI Chat Completions caller side.
#[derive(Debug, Clone, Copy)]
pub struct OpenAiCaller;

impl CallerApi for OpenAiCaller {
    fn parse(&self, body: &[u8]) -> Result<Parsed, Error> {
        let mut request: ChatRequest =
            serde_json::from_slice(body).map_err(|e| Error::bad_body(&e))?;
        request.cache_breakpoints = super::cache::breakpoints(body);
        let include_usage = request.stream
            && request
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage)
                .unwrap_or(false);
        let model = request.model.clone();
        Ok(Parsed {
            request,
            answer: Arc::new(OpenAiAnswer {
                include_usage,
                model,
            }),
        })
    }

    fn relay(&self, include_usage: bool, model: &str) -> Box<dyn Translator> {
        Box::new(OpenAiPassThrough::new(
            include_usage,
            Some(&json_string(model)),
        ))
    }

    /// One scan of the top level finds the usage and the `model`, which is
    /// rewritten in place, the rest relayed byte for byte.
    fn relayed(&self, body: Bytes, model: &str) -> Result<(Bytes, Option<Usage>), Error> {
        let model = json_string(model);
        let obj = RawObject::parse(&body).map_err(|_| unreadable())?;
        let usage = match obj.get("usage").filter(|u| u.get() != "null") {
            Some(u) => Some(serde_json::from_str::<Usage>(u.get()).map_err(|_| unreadable())?),
            None => None,
        };
        let Some(span) = obj.span_of(&body, "model") else {
            return Ok((body, usage));
        };
        let mut out = Vec::with_capacity(body.len() + model.len());
        put_spliced(&mut out, &body, span, model.as_bytes());
        Ok((out.into(), usage))
    }

    fn relayed_usage(&self, body: &[u8]) -> Result<Option<Usage>, Error> {
        #[derive(serde::Deserialize)]
        struct Probe {
            usage: Option<Usage>,
        }
        let probe: Probe = serde_json::from_slice(body).map_err(|_| unreadable())?;
        Ok(probe.usage)
    }

    fn error_body(&self, e: &ErrorReply<'_>) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        let body = Body {
            error: Inner {
                message: e.message,
                kind: error_type(e.status),
                param: e.param,
                code: e.code,
            },
        };
        // Serialising plain strings cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn error_event(&self, e: &ErrorReply<'_>, out: &mut BytesMut) {
        // openai-python raises on a `data: {"error": …}` payload.
        sse::write_data(out, &self.error_body(e));
    }
}

/// The OpenAI `error.type` of a status (PROTOCOLS.md §1.6 recommendation).
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

/// How answers go back to one OpenAI caller.
struct OpenAiAnswer {
    include_usage: bool,
    /// The caller's `model`, echoed.
    model: String,
}

impl Answer for OpenAiAnswer {
    fn whole(&self, resp: &ChatResponse) -> Vec<u8> {
        let out = ResponseAs {
            id: &resp.id,
            object: &resp.object,
            created: resp.created,
            model: &self.model,
            choices: &resp.choices,
            usage: resp.usage.as_ref(),
            system_fingerprint: resp.system_fingerprint.as_deref(),
        };
        serde_json::to_vec(&out).unwrap_or_default()
    }

    fn stream(&self) -> Box<dyn ClientEncoder> {
        Box::new(OpenAiEncoder::new(self.include_usage, self.model.clone()))
    }
}
