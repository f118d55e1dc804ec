//! Gemini `streamGenerateContent?alt=sse` → OpenAI chunks (PROTOCOLS.md
//! §3.8, §4.6).
//!
//! Each event is a whole `GenerateContentResponse` fragment holding only new
//! parts; the stream has no `[DONE]` and simply ends. Chunks go out as each
//! event arrives:
//! * the first chunk of a candidate carries `role: "assistant"`;
//! * text → `content`, thought text → `reasoning_content`, in part order;
//! * a `functionCall` arrives whole and becomes one tool-call delta with its
//!   index (counted per candidate), id (signature embedded, E18), type, name
//!   and the full arguments;
//! * the finish chunk follows the content of the event carrying
//!   `finishReason` (E24): `tool_calls` if the candidate made any call
//!   (E17), else the mapped reason (§4.7);
//! * a blocked prompt (no candidates, `promptFeedback.blockReason`) is one
//!   `content_filter` finish with a `refusal` (E16);
//! * an event with an `error` member is an `Err`.
//!
//! Usage is the last `usageMetadata` seen (running totals, never summed; an
//! event without it keeps the previous value, E12); the pipeline emits the
//! usage chunk. A stream that ends before any finish reason is an error.

use super::response::{
    bad_response, candidate_index, classify, error_from_value, finish_reason,
    output_blocked_refusal, prompt_blocked_refusal, usage_from, Piece,
};
use super::{short_hash, ResponseContext};
use crate::protocol::gemini::types::{Candidate, GenerateContentResponse};
use crate::protocol::openai::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionDelta, ToolCallDelta, Usage, CHUNK_OBJECT,
};
use crate::protocol::sse::SseEvent;
use crate::protocol::ChunkDecoder;
use crate::protocol::Error;
use std::sync::Arc;

/// Stream state machine from Gemini SSE events to OpenAI chunks.
#[derive(Debug)]
pub struct GeminiToOpenAi {
    ctx: ResponseContext,
    header: Header,
    /// Seed for synthesized tool-call ids: the `responseId`, else the chat id.
    seed: String,
    candidates: Vec<CandidateState>,
    usage: Option<Usage>,
    any_finish: bool,
}

/// What every chunk repeats; fixed by the first event.
#[derive(Debug, Default)]
struct Header {
    id: Arc<str>,
    model: Arc<str>,
    created: u64,
}

#[derive(Debug, Default)]
struct CandidateState {
    index: u32,
    role_sent: bool,
    tool_calls: u32,
    finished: bool,
}

impl GeminiToOpenAi {
    /// A converter for one stream; `created` (unix seconds) is stamped on
    /// every chunk.
    pub fn new(ctx: ResponseContext, created: u64) -> Self {
        Self {
            ctx,
            header: Header {
                created,
                ..Header::default()
            },
            seed: String::new(),
            candidates: Vec::new(),
            usage: None,
            any_finish: false,
        }
    }

    fn init(&mut self, resp: &GenerateContentResponse, data: &str) {
        if !self.header.id.is_empty() {
            return;
        }
        match resp.response_id.as_deref().filter(|r| !r.is_empty()) {
            Some(r) => {
                self.header.id = format!("chatcmpl-{r}").into();
                self.seed = r.to_owned();
            }
            None => {
                let created = self.header.created.to_be_bytes();
                self.header.id =
                    format!("chatcmpl-{}", short_hash(&[&created, data.as_bytes()])).into();
                self.seed = self.header.id.to_string();
            }
        }
        let model = resp
            .model_version
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(&self.ctx.model);
        if *self.header.model != *model {
            self.header.model = model.into();
        }
    }

    fn state_position(&mut self, index: u32) -> usize {
        match self.candidates.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.candidates.push(CandidateState {
                    index,
                    ..CandidateState::default()
                });
                self.candidates.len() - 1
            }
        }
    }

    fn candidate(&mut self, position: usize, cand: Candidate, out: &mut Vec<ChatChunk>) {
        let index = candidate_index(&cand, position);
        let slot = self.state_position(index);
        let Some(st) = self.candidates.get_mut(slot) else {
            return;
        };
        if st.finished {
            return;
        }
        let header = &self.header;
        let mut delta = Delta::default();
        for part in cand.content.and_then(|c| c.parts).unwrap_or_default() {
            match classify(part) {
                Piece::Call(call) => {
                    if delta.content.is_some() || delta.reasoning_content.is_some() {
                        flush(header, st, &mut delta, out);
                    }
                    let ordinal = st.tool_calls;
                    st.tool_calls = st.tool_calls.saturating_add(1);
                    delta
                        .tool_calls
                        .get_or_insert_with(Vec::new)
                        .push(ToolCallDelta {
                            index: ordinal,
                            id: Some(call.id(&self.seed, index, ordinal)),
                            kind: Some("function".to_owned()),
                            function: Some(FunctionDelta {
                                name: Some(call.name),
                                arguments: Some(call.arguments),
                            }),
                        });
                }
                Piece::Thought(t) => {
                    if delta.content.is_some() || delta.tool_calls.is_some() {
                        flush(header, st, &mut delta, out);
                    }
                    delta
                        .reasoning_content
                        .get_or_insert_with(String::new)
                        .push_str(&t);
                }
                Piece::Text(t) => {
                    if delta.reasoning_content.is_some() || delta.tool_calls.is_some() {
                        flush(header, st, &mut delta, out);
                    }
                    delta.content.get_or_insert_with(String::new).push_str(&t);
                }
                Piece::Nothing => {}
            }
        }
        if delta != Delta::default() {
            flush(header, st, &mut delta, out);
        }
        if let Some(reason) = cand.finish_reason.as_deref() {
            let finish = finish_reason(Some(reason), st.tool_calls > 0);
            if finish == FinishReason::ContentFilter {
                delta.refusal = Some(output_blocked_refusal(Some(reason)));
            }
            close(header, st, delta, finish, out);
            self.any_finish = true;
        }
    }
}

/// Emits the pending delta as one chunk (with the role if it is the
/// candidate's first).
fn flush(header: &Header, st: &mut CandidateState, delta: &mut Delta, out: &mut Vec<ChatChunk>) {
    let mut d = std::mem::take(delta);
    if !st.role_sent {
        d.role = Some("assistant".to_owned());
        st.role_sent = true;
    }
    out.push(chunk(header, st.index, d, None));
}

/// Emits the candidate's finish chunk.
fn close(
    header: &Header,
    st: &mut CandidateState,
    mut delta: Delta,
    finish: FinishReason,
    out: &mut Vec<ChatChunk>,
) {
    if !st.role_sent {
        delta.role = Some("assistant".to_owned());
        st.role_sent = true;
    }
    st.finished = true;
    out.push(chunk(header, st.index, delta, Some(finish)));
}

fn chunk(header: &Header, index: u32, delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    ChatChunk {
        id: Arc::clone(&header.id),
        object: CHUNK_OBJECT.into(),
        created: header.created,
        model: Arc::clone(&header.model),
        choices: vec![ChunkChoice {
            index,
            delta,
            finish_reason: finish,
            logprobs: None,
        }],
        usage: None,
    }
}

impl ChunkDecoder for GeminiToOpenAi {
    fn feed(&mut self, event: &SseEvent) -> Result<Vec<ChatChunk>, Error> {
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(Vec::new());
        }
        let resp: GenerateContentResponse = serde_json::from_str(data)
            .map_err(|_| bad_response("Gemini sent a stream event that could not be read"))?;
        if let Some(error) = resp.error {
            return Err(error_from_value(500, error, None));
        }
        self.init(&resp, data);
        if let Some(u) = &resp.usage_metadata {
            self.usage = Some(usage_from(u));
        }
        let mut out = Vec::new();
        let candidates = resp.candidates.unwrap_or_default();
        if candidates.is_empty() {
            if let Some(reason) = resp.prompt_feedback.and_then(|f| f.block_reason) {
                let slot = self.state_position(0);
                if let Some(st) = self.candidates.get_mut(slot).filter(|st| !st.finished) {
                    let delta = Delta {
                        refusal: Some(prompt_blocked_refusal(&reason)),
                        ..Delta::default()
                    };
                    close(
                        &self.header,
                        st,
                        delta,
                        FinishReason::ContentFilter,
                        &mut out,
                    );
                    self.any_finish = true;
                }
            }
            return Ok(out);
        }
        for (position, cand) in candidates.into_iter().enumerate() {
            self.candidate(position, cand, &mut out);
        }
        Ok(out)
    }

    /// Closes candidates still open once some candidate has finished; with
    /// no finish reason at all the stream was cut: `BadUpstreamResponse`.
    fn finish(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if !self.any_finish {
            return Err(bad_response("Gemini stream ended before finishReason"));
        }
        let mut out = Vec::new();
        for st in self.candidates.iter_mut().filter(|st| !st.finished) {
            let finish = if st.tool_calls > 0 {
                FinishReason::ToolCalls
            } else {
                FinishReason::Stop
            };
            close(&self.header, st, Delta::default(), finish, &mut out);
        }
        Ok(out)
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
