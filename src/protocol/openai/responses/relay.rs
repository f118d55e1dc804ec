//! A provider that serves the Responses API itself (`responses = true`), a
//! Responses caller: the body relayed with the model rewritten, the answer
//! relayed event by event (each checked to be JSON), its `response`
//! objects given the gateway's id and the caller's model name; usage is
//! read from the terminal event.

use super::ResponsesContext;
use crate::protocol::error::cut_short;
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::Usage;
use crate::protocol::raw::RawBody;
use crate::protocol::seam::Relayed;
use crate::protocol::sse::{self, SseEvent};
use crate::protocol::{Error, Flow, Translator};
use bytes::BytesMut;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Responses `usage`.
#[derive(Deserialize)]
struct UsageIn {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<Details>,
    #[serde(default)]
    output_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl UsageIn {
    fn to_openai(&self) -> Usage {
        use crate::protocol::openai::{CompletionTokensDetails, PromptTokensDetails};
        Usage {
            prompt_tokens: self.input_tokens,
            completion_tokens: self.output_tokens,
            total_tokens: self.input_tokens.saturating_add(self.output_tokens),
            prompt_tokens_details: self.input_tokens_details.as_ref().map(|d| {
                PromptTokensDetails {
                    cached_tokens: d.cached_tokens,
                    cache_write_tokens: None,
                }
            }),
            completion_tokens_details: self.output_tokens_details.as_ref().map(|d| {
                CompletionTokensDetails {
                    reasoning_tokens: d.reasoning_tokens,
                }
            }),
        }
    }
}

/// The usage of a whole Responses answer.
pub fn usage_of(body: &[u8]) -> Result<Option<Usage>, Error> {
    #[derive(Deserialize)]
    struct Whole {
        #[serde(default)]
        usage: Option<UsageIn>,
    }
    let whole: Whole = serde_json::from_slice(body).map_err(|_| unreadable())?;
    Ok(whole.usage.map(|u| u.to_openai()))
}

/// A relayed `response` object made this call's: the gateway's id and the
/// model the caller asked for; its usage.
fn adapt(response: &mut Map<String, Value>, ctx: &ResponsesContext) -> Option<Usage> {
    response.insert("id".to_owned(), Value::String(ctx.id.clone()));
    response.insert("model".to_owned(), Value::String(ctx.model.clone()));
    if let Some(previous) = ctx.echo.get("previous_response_id") {
        response.insert("previous_response_id".to_owned(), previous.clone());
    }
    let usage = response.get("usage").cloned()?;
    serde_json::from_value::<UsageIn>(usage)
        .ok()
        .map(|u| u.to_openai())
}

/// A whole answer of a provider that serves the Responses API, made this
/// call's ([`adapt`]) and kept when asked to; with its usage.
pub fn relay_whole(body: &[u8], ctx: &ResponsesContext) -> Result<Relayed, Error> {
    let mut response: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| unreadable())?;
    let usage = adapt(&mut response, ctx);
    let body = serde_json::to_vec(&response).map_err(|_| unreadable())?;
    ctx.keep(&body);
    Ok((body, usage))
}

/// The body relayed to a provider that serves the Responses API: the
/// caller's, its model the provider's, and `previous_response_id` (the
/// gateway's, already expanded into `input`) cleared.
pub fn relay_body(raw: &RawBody, api_model: &str) -> Vec<u8> {
    let model = serde_json::to_vec(api_model).unwrap_or_default();
    if raw.get("previous_response_id").is_some() {
        raw.write_with(&[("model", &model), ("previous_response_id", b"null")])
    } else {
        raw.write_with(&[("model", &model)])
    }
}

/// Responses upstream, Responses caller: events go on one by one until a
/// terminal one (`response.completed`, `.incomplete`, `.failed`); a stream
/// that ends before it is an error. With a call's context, every `response`
/// object is made the call's ([`adapt`]) and the final one kept when asked
/// to.
#[derive(Debug, Default)]
pub struct ResponsesPassThrough {
    ctx: Option<ResponsesContext>,
    usage: Option<Usage>,
    done: bool,
}

impl ResponsesPassThrough {
    /// A relay for the call of `ctx`.
    pub fn new(ctx: ResponsesContext) -> Self {
        Self {
            ctx: Some(ctx),
            ..Self::default()
        }
    }
}

impl Translator for ResponsesPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        let mut v: Map<String, Value> = serde_json::from_str(data).map_err(|_| unreadable())?;
        let kind = match v.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => return Err(unreadable()),
        };
        let terminal = matches!(
            kind.as_str(),
            "response.completed" | "response.incomplete" | "response.failed"
        );
        let name = ev.event.as_deref().unwrap_or(&kind);
        match (&self.ctx, v.get_mut("response")) {
            (Some(ctx), Some(Value::Object(response))) => {
                if let Some(u) = adapt(response, ctx) {
                    self.usage = Some(u);
                }
                if terminal && kind != "response.failed" {
                    ctx.keep(&serde_json::to_vec(response).unwrap_or_default());
                }
                let adapted = serde_json::to_vec(&v).map_err(|_| unreadable())?;
                sse::write_event(out, name, &adapted);
            }
            _ => sse::write_event(out, name, data.as_bytes()),
        }
        if terminal {
            self.done = true;
            return Ok(Flow::Done);
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("response.completed"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}
