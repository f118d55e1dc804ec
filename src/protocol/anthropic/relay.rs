//! Anthropic upstream, Anthropic caller: the stream relayed event by event
//! (with its `event:` names), parsing only the events that carry usage;
//! `message_start` names the model the caller asked for.

use crate::protocol::anthropic::provider::{error_event, openai_usage};
use crate::protocol::anthropic::types::{AnthropicUsage, EventType};
use crate::protocol::error::cut_short;
use crate::protocol::openai::Usage;
use crate::protocol::raw::put_with;
use crate::protocol::sse::{self, SseEvent};
use crate::protocol::{Error, Flow, Translator};
use bytes::{BufMut, BytesMut};
use serde::Deserialize;

/// Anthropic upstream, Anthropic caller: events are relayed as they are
/// (with their `event:` names); usage is read from `message_start` and
/// `message_delta` (cumulative, E12); `message_start` gets the caller's
/// model name.
#[derive(Debug, Default)]
pub struct AnthropicPassThrough {
    /// The caller's `model`, raw JSON; none: the upstream's is kept.
    model: Option<Box<str>>,
    usage: Option<AnthropicUsage>,
    done: bool,
}

impl AnthropicPassThrough {
    /// A relay whose `message_start` names `model` (raw JSON).
    pub fn echoing(model: &str) -> Self {
        Self {
            model: Some(model.into()),
            ..Self::default()
        }
    }
}

impl Translator for AnthropicPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        /// Where usage sits in `message_start` and `message_delta`.
        #[derive(Deserialize)]
        struct UsageAt {
            #[serde(default)]
            usage: Option<AnthropicUsage>,
            #[serde(default)]
            message: Option<Start>,
        }
        #[derive(Deserialize)]
        struct Start {
            #[serde(default)]
            usage: Option<AnthropicUsage>,
        }
        // Anthropic names every event; the JSON `type` is the fallback.
        let typed;
        let kind = match ev.event.as_deref() {
            Some(name) => name,
            None => {
                typed = serde_json::from_str::<EventType>(&ev.data).ok();
                typed.as_ref().map_or("", |t| &t.kind)
            }
        };
        match kind {
            "error" => {
                self.done = true;
                return Err(error_event(&ev.data));
            }
            // Only these carry usage; content deltas pass unparsed.
            "message_start" | "message_delta" => {
                if let Ok(at) = serde_json::from_str::<UsageAt>(&ev.data) {
                    if let Some(u) = at.usage.or(at.message.and_then(|m| m.usage)) {
                        self.usage
                            .get_or_insert_with(AnthropicUsage::default)
                            .update(&u);
                    }
                }
            }
            _ => {}
        }
        match &self.model {
            Some(model) if kind == "message_start" => {
                let start = out.len();
                out.put_slice(b"event: message_start\ndata: ");
                if put_with(
                    out,
                    ev.data.as_bytes(),
                    &["message", "model"],
                    model.as_bytes(),
                )
                .is_err()
                {
                    out.truncate(start);
                    sse::write_event(out, kind, ev.data.as_bytes());
                } else {
                    out.put_slice(b"\n\n");
                }
            }
            _ => sse::write_event(out, kind, ev.data.as_bytes()),
        }
        if kind == "message_stop" {
            self.done = true;
            return Ok(Flow::Done);
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("message_stop"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(openai_usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: s.to_owned(),
        }
    }

    #[test]
    fn anthropic_pass_through_relays_events_and_reads_usage_even_without_names() {
        let mut t = AnthropicPassThrough::echoing(r#""claude-x-20250101""#);
        let mut out = BytesMut::new();
        let start = r#"{"type":"message_start","message":{"model":"up","usage":{"input_tokens":5,"output_tokens":1}}}"#;
        t.event(&data(start), &mut out).unwrap();
        let delta = SseEvent {
            event: Some("message_delta".to_owned()),
            data: r#"{"type":"message_delta","usage":{"output_tokens":7}}"#.to_owned(),
        };
        t.event(&delta, &mut out).unwrap();
        assert_eq!(
            t.event(&data(r#"{"type":"message_stop"}"#), &mut out)
                .unwrap(),
            Flow::Done
        );
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("event: message_start\ndata: "), "{text}");
        assert!(
            text.contains(r#""message":{"model":"claude-x-20250101","usage""#),
            "{text}"
        );
        assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
        let u = t.usage().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 7));
    }
}
