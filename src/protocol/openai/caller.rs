//! OpenAI Chat Completions as the caller's API: how answers and chunks go
//! back to an OpenAI client, naming the model the caller asked for.

use crate::protocol::error::{Error, ErrorReply};
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::relay::OpenAiPassThrough;
use crate::protocol::openai::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Usage, CHUNK_OBJECT,
};
use crate::protocol::raw::{json_string, put_spliced, span_in};
use crate::protocol::seam::{Answer, CallerApi, Parsed};
use crate::protocol::sse;
use crate::protocol::stream::{ClientEncoder, Translator};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// OpenAI chunks to an OpenAI caller: `data:` lines, the usage chunk when
/// asked for (always with `"choices": []`, E11), then `[DONE]`; every
/// chunk names the model the caller asked for.
#[derive(Debug, Default)]
pub struct OpenAiEncoder {
    include_usage: bool,
    /// The caller's `model`.
    model: String,
    /// The stream's chunk head, written once (a stream's chunks share it).
    head: Option<ChunkHead>,
}

/// What every chunk of a stream begins with:
/// `{"id":…,"object":…,"created":…,"model":…,"choices":`, kept written
/// with the values it was written for.
#[derive(Debug)]
struct ChunkHead {
    id: String,
    object: String,
    created: u64,
    json: Vec<u8>,
}

impl ChunkHead {
    fn new(id: &str, object: &str, created: u64, model: &str) -> Self {
        let mut json = Vec::with_capacity(96 + id.len() + model.len());
        json.extend_from_slice(b"{\"id\":");
        // Serialising a string into memory cannot fail.
        let _ = serde_json::to_writer(&mut json, id);
        json.extend_from_slice(b",\"object\":");
        let _ = serde_json::to_writer(&mut json, object);
        json.extend_from_slice(b",\"created\":");
        json.extend_from_slice(created.to_string().as_bytes());
        json.extend_from_slice(b",\"model\":");
        let _ = serde_json::to_writer(&mut json, model);
        json.extend_from_slice(b",\"choices\":");
        Self {
            id: id.to_owned(),
            object: object.to_owned(),
            created,
            json,
        }
    }

    fn is_for(&self, chunk: &ChatChunk) -> bool {
        self.created == chunk.created && *self.id == *chunk.id && self.object == chunk.object
    }

    /// Appends `data: <chunk>\n\n` for a chunk of this head.
    fn write(&self, choices: &[ChunkChoice], usage: Option<&Usage>, out: &mut BytesMut) {
        out.put_slice(b"data: ");
        out.put_slice(&self.json);
        // Serialising our own types into memory cannot fail.
        let _ = serde_json::to_writer(out.writer(), choices);
        if let Some(usage) = usage {
            out.put_slice(b",\"usage\":");
            let _ = serde_json::to_writer(out.writer(), usage);
        }
        out.put_slice(b"}\n\n");
    }
}

impl OpenAiEncoder {
    /// `include_usage`: the caller asked for the usage chunk; `model`: the
    /// name the caller asked for.
    pub fn new(include_usage: bool, model: String) -> Self {
        Self {
            include_usage,
            model,
            head: None,
        }
    }
}

impl ClientEncoder for OpenAiEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        let head = match self.head.take() {
            Some(head) if head.is_for(chunk) => head,
            _ => ChunkHead::new(&chunk.id, &chunk.object, chunk.created, &self.model),
        };
        head.write(&chunk.choices, chunk.usage.as_ref(), out);
        self.head = Some(head);
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if let (true, Some(usage), Some(head)) = (self.include_usage, usage, self.head.take()) {
            let head = if head.object == CHUNK_OBJECT {
                head
            } else {
                ChunkHead::new(&head.id, CHUNK_OBJECT, head.created, &self.model)
            };
            head.write(&[], Some(&usage), out);
        }
        out.put_slice(sse::DONE);
    }
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
        /// What a relayed answer is read for.
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            model: Option<&'a RawValue>,
            usage: Option<Usage>,
        }
        let head: Head<'_> = serde_json::from_slice(&body).map_err(|_| unreadable())?;
        let (usage, span) = (
            head.usage,
            head.model.map(|m| span_in(&body, m.get().as_bytes())),
        );
        let Some(span) = span else {
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
