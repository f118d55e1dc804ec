//! Gemini streams to a Gemini caller: `streamGenerateContent?alt=sse` is
//! `data:` lines of `GenerateContentResponse`, no `[DONE]`; without
//! `alt=sse` the same objects form one JSON array ([`JsonArray`]).
//!
//! * [`GeminiEncoder`]: OpenAI chunks → events. Text and thought deltas go
//!   out as they come; tool calls, which OpenAI streams in fragments and
//!   Gemini sends whole, are collected and sent with the last event, which
//!   alone carries `finishReason` and `usageMetadata`.
//! * [`GeminiPassThrough`]: a Gemini upstream's events relayed as they are,
//!   read for usage, their end and errors.

use super::response::{function_call, text, thought};
use super::{finish_reason, response_id, usage_metadata};
use crate::protocol::error::cut_short;
use crate::protocol::gemini::provider::response::{error_from_value, usage_from};
use crate::protocol::gemini::types::{
    Candidate, ContentIn, GenerateContentResponse, PartIn, PromptFeedback, UsageMetadata,
};
use crate::protocol::openai::provider::unreadable;
use crate::protocol::openai::{ChatChunk, FinishReason, Usage};
use crate::protocol::raw::RawObject;
use crate::protocol::sse::{self, SseEvent, SseParser};
use crate::protocol::stream::{write_json_data, ClientEncoder};
use crate::protocol::{Error, Flow, Translator};
use bytes::{BufMut, BytesMut};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// OpenAI chunks → Gemini stream events (see the module docs).
#[derive(Debug)]
pub struct GeminiEncoder {
    model: String,
    id: String,
    candidates: Vec<CandidateState>,
}

#[derive(Debug, Default)]
struct CandidateState {
    index: u32,
    /// (id, name, arguments) by tool-call index.
    calls: Vec<(u32, String, String, String)>,
    finish: Option<FinishReason>,
}

impl GeminiEncoder {
    /// An encoder naming `model` (the caller's) in every event.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            id: String::new(),
            candidates: Vec::new(),
        }
    }

    fn state(&mut self, index: u32) -> &mut CandidateState {
        let at = match self.candidates.iter().position(|c| c.index == index) {
            Some(at) => at,
            None => {
                self.candidates.push(CandidateState {
                    index,
                    ..CandidateState::default()
                });
                self.candidates.len() - 1
            }
        };
        &mut self.candidates[at]
    }

    fn event(&self, candidates: Vec<Candidate>, usage: Option<UsageMetadata>, out: &mut BytesMut) {
        let ev = GenerateContentResponse {
            candidates: Some(candidates),
            usage_metadata: usage,
            model_version: Some(self.model.clone()),
            response_id: Some(response_id(&self.id)),
            ..GenerateContentResponse::default()
        };
        write_json_data(out, &ev);
    }
}

fn candidate(index: u32, parts: Vec<PartIn>, finish: Option<&'static str>) -> Candidate {
    Candidate {
        content: Some(ContentIn {
            role: Some("model".to_owned()),
            parts: Some(parts),
        }),
        finish_reason: finish.map(str::to_owned),
        index: Some(index),
    }
}

impl ClientEncoder for GeminiEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.id.is_empty() {
            self.id = chunk.id.to_string();
        }
        let mut candidates = Vec::new();
        for choice in &chunk.choices {
            let d = &choice.delta;
            let mut parts = Vec::new();
            if let Some(r) = d.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                parts.push(thought(r));
            }
            for t in [d.content.as_deref(), d.refusal.as_deref()]
                .into_iter()
                .flatten()
                .filter(|t| !t.is_empty())
            {
                parts.push(text(t));
            }
            let st = self.state(choice.index);
            for tc in d.tool_calls.iter().flatten() {
                let at = match st.calls.iter().position(|c| c.0 == tc.index) {
                    Some(at) => at,
                    None => {
                        st.calls
                            .push((tc.index, String::new(), String::new(), String::new()));
                        st.calls.len() - 1
                    }
                };
                let call = &mut st.calls[at];
                if let Some(id) = &tc.id {
                    call.1.clone_from(id);
                }
                if let Some(f) = &tc.function {
                    if let Some(name) = &f.name {
                        call.2.push_str(name);
                    }
                    if let Some(a) = &f.arguments {
                        call.3.push_str(a);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                st.finish = choice.finish_reason;
            }
            if !parts.is_empty() {
                candidates.push(candidate(choice.index, parts, None));
            }
        }
        if !candidates.is_empty() {
            self.event(candidates, None, out);
        }
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if self.candidates.is_empty() {
            self.candidates.push(CandidateState::default());
        }
        let candidates = self
            .candidates
            .iter()
            .map(|st| {
                let mut parts: Vec<PartIn> = st
                    .calls
                    .iter()
                    .map(|(_, id, name, arguments)| function_call(id, name, arguments))
                    .collect();
                if parts.is_empty() {
                    parts.push(text(""));
                }
                candidate(st.index, parts, Some(finish_reason(st.finish)))
            })
            .collect();
        self.event(candidates, usage.as_ref().map(usage_metadata), out);
    }
}

/// A Gemini upstream's stream relayed to a Gemini caller: each event is
/// checked to be JSON and passed on as it is but for `modelVersion`, which
/// names the caller's model; usage is the last `usageMetadata`; an `error`
/// event ends the stream with the gateway's error event; a stream that ends
/// before any `finishReason` (or a blocked prompt) is cut short.
#[derive(Debug, Default)]
pub struct GeminiPassThrough {
    model: String,
    usage: Option<UsageMetadata>,
    done: bool,
}

impl GeminiPassThrough {
    /// A relay naming `model` (the caller's) in every event.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            ..Self::default()
        }
    }
}

/// Whether a candidate finished, and nothing else of it.
#[derive(Deserialize)]
struct FinishProbe {
    #[serde(default, rename = "finishReason")]
    finish_reason: Option<IgnoredAny>,
}

/// A Gemini answer (or event) with `modelVersion` set to `model`, when it
/// has one (a `countTokens` answer has none); members otherwise unchanged.
pub fn with_model(json: &[u8], model: &str) -> Option<Vec<u8>> {
    let obj = RawObject::parse(json).ok()?;
    obj.get("modelVersion")?;
    let name = serde_json::to_vec(model).ok()?;
    Some(obj.write_with(&[("modelVersion", &name)]))
}

impl Translator for GeminiPassThrough {
    fn event(&mut self, ev: &SseEvent, out: &mut BytesMut) -> Result<Flow, Error> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(Flow::Continue);
        }
        // One scan of the event; only the members the relay reads are
        // parsed (the parts' text is not copied).
        let obj = RawObject::parse(data.as_bytes()).map_err(|_| unreadable())?;
        let member = |key| obj.get(key).filter(|v| v.get() != "null");
        if let Some(error) = member("error") {
            self.done = true;
            let error = serde_json::from_str(error.get()).unwrap_or_default();
            return Err(error_from_value(500, error, None));
        }
        if let Some(u) = member("usageMetadata") {
            self.usage = Some(serde_json::from_str(u.get()).map_err(|_| unreadable())?);
        }
        if let Some(c) = member("candidates") {
            let candidates: Vec<FinishProbe> =
                serde_json::from_str(c.get()).map_err(|_| unreadable())?;
            self.done |= candidates.iter().any(|c| c.finish_reason.is_some());
        }
        if let Some(f) = member("promptFeedback") {
            let feedback: PromptFeedback = serde_json::from_str(f.get()).unwrap_or_default();
            self.done |= feedback.block_reason.is_some();
        }
        if member("modelVersion").is_some() {
            let name = serde_json::to_vec(&self.model).unwrap_or_default();
            sse::write_data(out, &obj.write_with(&[("modelVersion", &name)]));
        } else {
            sse::write_data(out, data.as_bytes());
        }
        Ok(Flow::Continue)
    }

    fn end(&mut self, _out: &mut BytesMut) -> Result<(), Error> {
        if self.done {
            Ok(())
        } else {
            Err(cut_short("a finishReason"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(usage_from)
    }
}

/// `streamGenerateContent` without `alt=sse`: the gateway's own `data:`
/// events re-framed as the elements of one JSON array (`[{…}\r\n,{…}]`), as
/// the real API streams it; an error event is the array's last element.
#[derive(Debug, Default)]
pub struct JsonArray {
    parser: SseParser,
    started: bool,
}

impl JsonArray {
    /// Re-frames one piece of the SSE stream.
    pub fn frame(&mut self, sse_bytes: &[u8], out: &mut BytesMut) {
        let mut events = Vec::new();
        // The gateway's own events: far below any limit.
        let _ = self.parser.feed(sse_bytes, &mut events);
        for ev in events {
            out.put_slice(if self.started { b"\r\n," } else { b"[" });
            self.started = true;
            out.put_slice(ev.data.as_bytes());
        }
    }

    /// Closes the array (an empty stream is `[]`).
    pub fn finish(&mut self, out: &mut BytesMut) {
        if !self.started {
            out.put_slice(b"[");
            self.started = true;
        }
        out.put_slice(b"]");
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
