//! A Responses upstream, a Responses caller: the stream relayed event by
//! event, each checked to be JSON; usage is read from the terminal event.

use crate::protocol::error::cut_short;
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::Usage;
use crate::protocol::sse::{self, SseEvent};
use crate::protocol::{Error, Flow, Translator};
use bytes::BytesMut;
use serde::Deserialize;

/// What the relay reads of an event: its type and a terminal event's usage.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    response: Option<ResponseProbe>,
}

#[derive(Deserialize)]
struct ResponseProbe {
    #[serde(default)]
    usage: Option<UsageIn>,
}

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

/// Responses upstream, Responses caller: events go on unchanged until a
/// terminal one (`response.completed`, `.incomplete`, `.failed`); a stream
/// that ends before it is an error.
#[derive(Debug, Default)]
pub struct ResponsesPassThrough {
    usage: Option<Usage>,
    done: bool,
}

impl Translator for ResponsesPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        let probe: Probe = serde_json::from_str(data).map_err(|_| unreadable())?;
        let name = ev.event.as_deref().unwrap_or(&probe.kind);
        sse::write_event(out, name, data.as_bytes());
        if let Some(u) = probe.response.and_then(|r| r.usage) {
            self.usage = Some(u.to_openai());
        }
        match probe.kind.as_str() {
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.done = true;
                Ok(Flow::Done)
            }
            _ => Ok(Flow::Continue),
        }
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
