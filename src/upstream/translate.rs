//! Stream translators: upstream SSE events in, the caller's SSE bytes out,
//! one event at a time (never buffered to the end).
//!
//! Two shapes: [`OpenAiPassThrough`] relays an OpenAI-compatible stream to an
//! OpenAI caller without parsing more than it must (usage); [`Decoded`]
//! chains a dialect's [`ChunkDecoder`] (upstream → OpenAI chunks) with a
//! [`ClientEncoder`] (OpenAI chunks → the caller's format).

use crate::error::{ErrorKind, GatewayError};
use crate::protocol::anthropic::{
    self,
    types::{AnthropicUsage, EventType},
};
use crate::protocol::openai::{ChatChunk, Usage};
use crate::protocol::sse::{self, SseEvent};
use crate::protocol::ChunkDecoder;
use bytes::{BufMut, BytesMut};
use serde::Deserialize;

/// Whether the upstream stream is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// The upstream sent its terminator; stop reading.
    Done,
}

/// Turns upstream events into the caller's bytes.
pub trait Translator: 'static {
    /// One upstream event; appends what the caller should get to `out`.
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, GatewayError>;
    /// The upstream closed its stream; appends the caller's ending.
    fn end(&mut self, out: &mut BytesMut) -> Result<(), GatewayError>;
    /// Usage seen so far.
    fn usage(&self) -> Option<Usage>;
}

/// Reads `usage` (and whether `choices` is empty) out of an OpenAI chunk or
/// response without building the rest.
#[derive(Deserialize)]
struct UsageProbe {
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    choices: Option<Vec<serde::de::IgnoredAny>>,
}

/// Usage of an OpenAI-shaped response body, if it has one.
pub fn probe_usage(body: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<UsageProbe>(body).ok()?.usage
}

/// OpenAI upstream, OpenAI caller: events are relayed as they are, once
/// checked to be JSON (a caller's SDK would fail on anything else before it
/// saw the gateway's error event); empty ones are dropped. The gateway
/// always asks the upstream for usage; the usage-only chunk is passed on
/// only if the caller asked for it too.
#[derive(Debug)]
pub struct OpenAiPassThrough {
    forward_usage_chunk: bool,
    usage: Option<Usage>,
    done: bool,
}

impl OpenAiPassThrough {
    /// `forward_usage_chunk`: the caller asked for `include_usage`.
    pub fn new(forward_usage_chunk: bool) -> Self {
        Self {
            forward_usage_chunk,
            usage: None,
            done: false,
        }
    }
}

impl Translator for OpenAiPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, GatewayError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            out.put_slice(sse::DONE);
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        // Only chunks that carry a usage object are parsed into it; content
        // chunks (`"usage": null` when usage was asked for) are only
        // validated.
        let probe = has_usage_object(data)
            .then(|| serde_json::from_str::<UsageProbe>(data).ok())
            .flatten();
        if let Some(probe) = probe {
            if let Some(u) = probe.usage {
                self.usage = Some(u);
                let usage_only = probe.choices.is_none_or(|c| c.is_empty());
                if usage_only && !self.forward_usage_chunk {
                    return Ok(Flow::Continue);
                }
            }
        } else if data.starts_with("{\"error\"") || data.starts_with("{ \"error\"") {
            // An upstream error payload mid-stream ends the stream; the
            // pump sends it on in the gateway's error shape.
            self.done = true;
            return Err(upstream_stream_error(data));
        } else if serde_json::from_str::<serde::de::IgnoredAny>(data).is_err() {
            self.done = true;
            return Err(super::plan::unreadable());
        }
        sse::write_data(out, data.as_bytes());
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), GatewayError> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("[DONE]"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// Whether a chunk has `"usage": {…}` (not `null`), without parsing it.
fn has_usage_object(data: &str) -> bool {
    data.match_indices("\"usage\"").any(|(i, m)| {
        data[i + m.len()..]
            .trim_start()
            .strip_prefix(':')
            .is_some_and(|rest| rest.trim_start().starts_with('{'))
    })
}

/// The error an upstream sent inside its stream (status unknown: counted as
/// an upstream 5xx), with the upstream's message.
fn upstream_stream_error(data: &str) -> GatewayError {
    let message = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned());
    GatewayError::new(ErrorKind::Upstream(500), message)
}

/// A stream that closed before its terminator.
pub fn cut_short(terminator: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::BadUpstreamResponse,
        format!("the upstream stream ended before {terminator}"),
    )
    .with_code("upstream_stream_incomplete")
}

/// Anthropic upstream, Anthropic caller: events are relayed as they are
/// (with their `event:` names); usage is read from `message_start` and
/// `message_delta` (cumulative, E12).
#[derive(Debug, Default)]
pub struct AnthropicPassThrough {
    usage: Option<AnthropicUsage>,
    done: bool,
}

impl Translator for AnthropicPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, GatewayError> {
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
                return Err(anthropic::error_event(&ev.data));
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
        sse::write_event(out, kind, ev.data.as_bytes());
        if kind == "message_stop" {
            self.done = true;
            return Ok(Flow::Done);
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), GatewayError> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("message_stop"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(anthropic::openai_usage)
    }
}

/// Writes OpenAI chunks in the caller's format.
pub trait ClientEncoder: 'static {
    /// One chunk.
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut);
    /// The end of a complete stream, with the final usage.
    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut);
}

/// OpenAI chunks to an OpenAI caller: `data:` lines, the usage chunk when
/// asked for (always with `"choices": []`, E11), then `[DONE]`.
#[derive(Debug, Default)]
pub struct OpenAiEncoder {
    include_usage: bool,
    /// id, model and created of the stream, for the usage chunk.
    meta: Option<(String, String, u64)>,
}

impl OpenAiEncoder {
    /// `include_usage`: the caller asked for the usage chunk.
    pub fn new(include_usage: bool) -> Self {
        Self {
            include_usage,
            meta: None,
        }
    }
}

impl ClientEncoder for OpenAiEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.meta.is_none() {
            self.meta = Some((chunk.id.clone(), chunk.model.clone(), chunk.created));
        }
        write_json_data(out, chunk);
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if let (true, Some(usage), Some((id, model, created))) =
            (self.include_usage, usage, self.meta.take())
        {
            let chunk = ChatChunk {
                id,
                object: "chat.completion.chunk".to_owned(),
                created,
                model,
                choices: Vec::new(),
                usage: Some(usage),
            };
            write_json_data(out, &chunk);
        }
        out.put_slice(sse::DONE);
    }
}

/// Appends `data: <json>\n\n`.
pub fn write_json_data<T: serde::Serialize>(out: &mut BytesMut, value: &T) {
    out.put_slice(b"data: ");
    // Serialising our own types into memory cannot fail.
    let _ = serde_json::to_writer(out.writer(), value);
    out.put_slice(b"\n\n");
}

/// A dialect decoder chained with a caller encoder.
pub struct Decoded {
    decoder: Box<dyn ChunkDecoder>,
    encoder: Box<dyn ClientEncoder>,
}

impl Decoded {
    /// Chains `decoder` into `encoder`.
    pub fn new(decoder: Box<dyn ChunkDecoder>, encoder: Box<dyn ClientEncoder>) -> Self {
        Self { decoder, encoder }
    }
}

impl Translator for Decoded {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, GatewayError> {
        for chunk in self.decoder.feed(ev)? {
            self.encoder.chunk(&chunk, out);
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, out: &mut BytesMut) -> Result<(), GatewayError> {
        for chunk in self.decoder.finish()? {
            self.encoder.chunk(&chunk, out);
        }
        self.encoder.end(self.decoder.usage(), out);
        Ok(())
    }

    fn usage(&self) -> Option<Usage> {
        self.decoder.usage()
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

    const USAGE_CHUNK: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;

    #[test]
    fn pass_through_strips_the_usage_chunk_the_caller_did_not_ask_for() {
        let mut t = OpenAiPassThrough::new(false);
        let mut out = BytesMut::new();
        t.event(
            &data(r#"{"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}"#),
            &mut out,
        )
        .unwrap();
        t.event(&data(USAGE_CHUNK), &mut out).unwrap();
        assert_eq!(t.event(&data("[DONE]"), &mut out).unwrap(), Flow::Done);
        t.end(&mut out).unwrap();
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains("prompt_tokens"), "{text}");
        assert!(text.contains("\"content\":\"hi\""));
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert_eq!(t.usage().unwrap().total_tokens, 5);
    }

    #[test]
    fn pass_through_forwards_the_usage_chunk_when_asked() {
        let mut t = OpenAiPassThrough::new(true);
        let mut out = BytesMut::new();
        t.event(&data(USAGE_CHUNK), &mut out).unwrap();
        assert!(String::from_utf8(out.to_vec())
            .unwrap()
            .contains("prompt_tokens"));
    }

    #[test]
    fn anthropic_pass_through_relays_events_and_reads_usage_even_without_names() {
        let mut t = AnthropicPassThrough::default();
        let mut out = BytesMut::new();
        let start =
            r#"{"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}"#;
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
        assert!(text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
        let u = t.usage().unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (5, 7));
    }

    #[test]
    fn only_usage_objects_are_probed() {
        assert!(has_usage_object(
            r#"{"choices":[],"usage": {"total_tokens":1}}"#
        ));
        assert!(!has_usage_object(
            r#"{"choices":[{"delta":{}}],"usage":null}"#
        ));
        assert!(!has_usage_object(
            r#"{"choices":[{"delta":{"content":"\"usage\""}}]}"#
        ));
    }

    #[test]
    fn pass_through_refuses_an_event_that_is_not_json_instead_of_relaying_it() {
        let mut t = OpenAiPassThrough::new(false);
        let mut out = BytesMut::new();
        t.event(&data(r#"{"choices":[]}"#), &mut out).unwrap();
        t.event(&data(""), &mut out).unwrap();
        for bad in ["<html>502 Bad Gateway</html>", r#"{"choices":[],"usage":{"#] {
            let mut t = OpenAiPassThrough::new(false);
            let err = t.event(&data(bad), &mut BytesMut::new()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::BadUpstreamResponse, "{bad}");
        }
        assert_eq!(
            &out[..],
            b"data: {\"choices\":[]}\n\n",
            "empty events are dropped"
        );
    }

    #[test]
    fn pass_through_reports_a_stream_cut_before_done() {
        let mut t = OpenAiPassThrough::new(false);
        let mut out = BytesMut::new();
        t.event(&data(r#"{"choices":[]}"#), &mut out).unwrap();
        let err = t.end(&mut out).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadUpstreamResponse);
    }
}
