//! OpenAI-compatible servers as providers: requests relayed or encoded,
//! answers and error bodies decoded.

use crate::protocol::openai::stream::OpenAiChunkDecoder;
use crate::protocol::openai::{ChatRequest, ChatResponse, Message};
use crate::protocol::raw::{keys_in, RawBody};
use crate::protocol::seam::{
    Decode, Encoded, Headers, InboundApi, Operation, ProviderApi, RelayBody, Target,
};
use crate::protocol::{ChunkDecoder, Error, ErrorKind};
use serde_json::{Map, Value};
use std::time::Duration;

/// An answer the gateway could not read.
pub fn unreadable() -> Error {
    Error::new(
        ErrorKind::BadUpstreamResponse,
        "the upstream returned a response the gateway could not read",
    )
}

/// An OpenAI-shaped error answer: the upstream's message and code kept.
pub fn openai_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: Option<String>,
        code: Option<serde_json::Value>,
        param: Option<String>,
    }
    let parsed = serde_json::from_slice::<Body>(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|b| b.error.message.clone())
        .unwrap_or_else(|| format!("the upstream returned HTTP {status}"));
    let mut err = Error::new(ErrorKind::Upstream(status), message).with_retry_after(retry_after);
    if let Some(inner) = parsed.map(|b| b.error) {
        err.code = match inner.code {
            Some(serde_json::Value::String(s)) => Some(s.into()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string().into()),
            _ => None,
        };
        err.param = inner.param.map(Into::into);
    }
    err
}

/// OpenAI-compatible servers (OpenAI, vLLM, Groq, Azure, …).
#[derive(Debug, Clone, Copy)]
pub struct OpenAiProvider;

impl ProviderApi for OpenAiProvider {
    fn native(&self) -> Option<InboundApi> {
        Some(InboundApi::OpenAi)
    }

    fn url(&self, t: &Target<'_>, op: Operation) -> String {
        let path = match op {
            Operation::Embeddings => "/embeddings",
            Operation::Chat | Operation::CountTokens => "/chat/completions",
        };
        format!("{}{path}", t.base_url)
    }

    fn headers(&self, t: &Target<'_>) -> Headers {
        let mut headers = vec![json_header()];
        if let Some(key) = t.api_key {
            headers.push(("authorization", format!("Bearer {key}")));
        }
        headers
    }

    /// Streams always ask for usage (the gateway counts tokens); the usage
    /// chunk is stripped again when the caller did not ask for it.
    /// The gateway's own extensions OpenAI refuses are taken off
    /// ([`EXTENSIONS`]).
    fn relay_body(&self, raw: &RawBody, t: &Target<'_>) -> Result<RelayBody, Error> {
        let model = serde_json::to_vec(t.api_model).unwrap_or_default();
        let dropped = extensions_in(raw);
        let unmarked = if dropped.is_empty() {
            Vec::new()
        } else {
            unmarked(raw)?
        };
        let mut members: Vec<(&str, &[u8])> = vec![("model", &model)];
        members.extend(unmarked.iter().map(|(k, v)| (*k, v.as_slice())));
        let opts = if t.stream {
            let mut opts = match raw.get("stream_options") {
                Some(v) => serde_json::from_str::<Map<String, Value>>(v).map_err(|_| {
                    Error::invalid("`stream_options` must be an object")
                        .with_param("stream_options")
                })?,
                None => Map::new(),
            };
            opts.insert("include_usage".to_owned(), true.into());
            serde_json::to_vec(&opts).unwrap_or_default()
        } else {
            Vec::new()
        };
        if t.stream {
            members.push(("stream_options", &opts));
        }
        Ok(RelayBody {
            body: raw.write_with(&members),
            dropped,
        })
    }

    /// Gateway extensions only Anthropic understands are removed and named.
    fn encode(&self, req: &ChatRequest, t: &Target<'_>) -> Result<Encoded, Error> {
        let mut req = req.clone();
        let mut dropped = Vec::new();
        for m in &mut req.messages {
            if let Message::Assistant(a) = m {
                if a.thinking_blocks.take().is_some() || a.reasoning_content.take().is_some() {
                    dropped.push("thinking".to_owned());
                }
            }
        }
        if req.extra.remove("top_k").is_some() {
            dropped.push("top_k".to_owned());
        }
        dropped.dedup();
        req.model = t.api_model.to_owned();
        if t.stream {
            req.stream = true;
            req.stream_options
                .get_or_insert_with(Default::default)
                .include_usage = Some(true);
        }
        let body = serde_json::to_vec(&req)
            .map_err(|_| Error::invalid("the request could not be encoded"))?;
        Ok(Encoded {
            body,
            dropped,
            decoder: Box::new(OpenAiDecode),
        })
    }

    fn error(&self, status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
        openai_error(status, body, retry_after)
    }
}

/// Gateway extensions in OpenAI-shaped bodies that OpenAI (and DeepSeek,
/// for `reasoning_content`) refuse, with the name they are dropped as:
/// LiteLLM's `cache_control` marks (on a message, a content part, a tool)
/// and the assistant turns' reasoning (E18).
const EXTENSIONS: [(&str, &str); 3] = [
    ("cache_control", "cache_control"),
    ("thinking_blocks", "thinking"),
    ("reasoning_content", "thinking"),
];

/// The names the [`EXTENSIONS`] in a caller's body are dropped as, once each.
fn extensions_in(raw: &RawBody) -> Vec<String> {
    let found = keys_in(raw.bytes(), &EXTENSIONS.map(|(key, _)| key));
    let mut names: Vec<String> = Vec::new();
    for (i, (_, name)) in EXTENSIONS.iter().enumerate() {
        if found & (1 << i) != 0 && !names.iter().any(|n| n == name) {
            names.push((*name).to_owned());
        }
    }
    names
}

/// `messages` and `tools` without the [`EXTENSIONS`] (on a message, a
/// content part, a tool), to write in place of the caller's.
fn unmarked(raw: &RawBody) -> Result<Vec<(&'static str, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for key in ["messages", "tools"] {
        let Some(text) = raw.get(key) else { continue };
        let mut items: Vec<Value> = serde_json::from_str(text)
            .map_err(|_| Error::invalid(format!("`{key}` must be an array")).with_param(key))?;
        for item in &mut items {
            let Some(obj) = item.as_object_mut() else {
                continue;
            };
            for (key, _) in EXTENSIONS {
                obj.remove(key);
            }
            if let Some(Value::Array(parts)) = obj.get_mut("content") {
                for part in parts.iter_mut().filter_map(Value::as_object_mut) {
                    part.remove("cache_control");
                }
            }
        }
        out.push((key, serde_json::to_vec(&items).unwrap_or_default()));
    }
    Ok(out)
}

/// `content-type: application/json`.
pub fn json_header() -> (&'static str, String) {
    ("content-type", "application/json".to_owned())
}

/// OpenAI-shaped answers.
struct OpenAiDecode;

impl Decode for OpenAiDecode {
    fn whole(&self, body: &[u8]) -> Result<ChatResponse, Error> {
        serde_json::from_slice(body).map_err(|_| unreadable())
    }

    fn stream(self: Box<Self>) -> Box<dyn ChunkDecoder> {
        Box::new(OpenAiChunkDecoder::new())
    }
}
