//! An OpenAI-compatible upstream's stream decoded into typed chunks
//! (PROTOCOLS.md §1.5), for callers that do not speak OpenAI: the Anthropic
//! inbound API (§5.4) needs every chunk as a value.
//!
//! Tolerant of what OpenAI-compatible servers do differently: missing `id`,
//! `created` or `model` (the last seen is reused), `choices: null`, an
//! unknown `finish_reason` (→ `stop`; an empty one is none), `reasoning`
//! (OpenRouter) as `reasoning_content`, tool-call `arguments` sent as a JSON
//! object instead of a string (sent on as its JSON text), usage with `null`
//! counters (then ignored). Tool-call indices are normalised (E10): a
//! fragment belongs to the call with its `id`, else to the latest call with
//! its `index`, else (neither given) to the current call; each call gets
//! the next index in order of appearance, its `id` and `type` only on its
//! first fragment, its name only once. A choice that made tool calls but
//! finishes with `stop` finishes with `tool_calls` (some local servers do
//! this, compare E17).
//!
//! Emits no usage chunk: usage is recorded ([`ChunkDecoder::usage`]) and
//! the pipeline appends it (E11). `[DONE]` ends the stream; what follows is
//! ignored. An `{"error": …}` payload (or an `event: error`) is an `Err`
//! with the upstream's message and, when the payload has a numeric `code`
//! in 400–599, that status (else 500). The end of input without `[DONE]` is
//! an `Err` (`upstream_stream_incomplete`).

use crate::protocol::error::cut_short;
use crate::protocol::openai::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionDelta, ThinkingBlock, ToolCallDelta,
    Usage, CHUNK_OBJECT,
};
use crate::protocol::sse::SseEvent;
use crate::protocol::ChunkDecoder;
use crate::protocol::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// Decodes one OpenAI-compatible stream.
#[derive(Debug, Default)]
pub struct OpenAiChunkDecoder {
    done: bool,
    usage: Option<Usage>,
    id: Arc<str>,
    model: Arc<str>,
    created: u64,
    /// Tool calls seen per choice index.
    calls: Vec<(u32, Vec<CallSlot>)>,
}

#[derive(Debug)]
struct CallSlot {
    id: Option<String>,
    /// The upstream index of its latest fragment.
    upstream_index: Option<u32>,
    name_sent: bool,
}

impl OpenAiChunkDecoder {
    /// A decoder for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn calls_of(&mut self, choice: u32) -> &mut Vec<CallSlot> {
        let pos = match self.calls.iter().position(|(c, _)| *c == choice) {
            Some(p) => p,
            None => {
                self.calls.push((choice, Vec::new()));
                self.calls.len() - 1
            }
        };
        &mut self.calls[pos].1
    }

    /// One upstream tool-call fragment with its normalised index (E10).
    fn tool_call(&mut self, choice: u32, tc: WireToolCall<'_>) -> Option<ToolCallDelta> {
        let calls = self.calls_of(choice);
        let id = tc.id.filter(|s| !s.is_empty());
        let found = match (&id, tc.index) {
            (Some(id), index) => calls
                .iter()
                .position(|c| c.id.as_deref() == Some(id.as_str()))
                .or_else(|| {
                    // A call first seen without its id.
                    index.and_then(|ix| {
                        calls
                            .iter()
                            .rposition(|c| c.upstream_index == Some(ix) && c.id.is_none())
                    })
                }),
            (None, Some(ix)) => calls.iter().rposition(|c| c.upstream_index == Some(ix)),
            (None, None) => calls.len().checked_sub(1),
        };
        let (pos, first) = match found {
            Some(p) => (p, false),
            None => {
                calls.push(CallSlot {
                    id: None,
                    upstream_index: tc.index,
                    name_sent: false,
                });
                (calls.len() - 1, true)
            }
        };
        let slot = calls.get_mut(pos)?;
        if tc.index.is_some() {
            slot.upstream_index = tc.index;
        }
        let new_id = match id {
            Some(id) if slot.id.is_none() => {
                slot.id = Some(id.clone());
                Some(id)
            }
            _ => None,
        };
        let function = tc.function.unwrap_or_default();
        let name = function.name.filter(|n| !n.is_empty() && !slot.name_sent);
        if name.is_some() {
            slot.name_sent = true;
        }
        let arguments = function.arguments.and_then(|raw| {
            if raw.get().starts_with('"') {
                serde_json::from_str::<String>(raw.get()).ok()
            } else if raw.get() == "null" {
                None
            } else {
                Some(raw.get().to_owned())
            }
        });
        if !first && new_id.is_none() && name.is_none() && arguments.is_none() {
            return None;
        }
        Some(ToolCallDelta {
            index: u32::try_from(pos).unwrap_or(u32::MAX),
            kind: (first || new_id.is_some()).then(|| "function".to_owned()),
            id: new_id,
            function: Some(FunctionDelta { name, arguments }),
        })
    }

    fn has_calls(&self, choice: u32) -> bool {
        self.calls
            .iter()
            .any(|(c, calls)| *c == choice && !calls.is_empty())
    }
}

impl ChunkDecoder for OpenAiChunkDecoder {
    fn feed(&mut self, event: &SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            return Ok(Vec::new());
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(Vec::new());
        }
        if event.event.as_deref() == Some("error") {
            // A named error event: its data is the error body, or wraps it.
            let inner = serde_json::from_str::<WireChunk<'_>>(data)
                .ok()
                .and_then(|w| w.error)
                .map_or(data, |e| e.get());
            return Err(stream_error(inner));
        }
        let wire: WireChunk<'_> = serde_json::from_str(data).map_err(|_| {
            Error::new(
                ErrorKind::BadUpstreamResponse,
                "openai: unreadable stream chunk",
            )
        })?;
        if let Some(err) = wire.error.filter(|e| e.get() != "null") {
            return Err(stream_error(err.get()));
        }
        if let Some(u) = wire
            .usage
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
        {
            self.usage = Some(u);
        }
        if let Some(id) = wire.id.filter(|s| !s.is_empty()) {
            if *self.id != *id {
                self.id = id.into();
            }
        }
        if let Some(model) = wire.model.filter(|s| !s.is_empty()) {
            if *self.model != *model {
                self.model = model.into();
            }
        }
        if let Some(created) = wire.created {
            self.created = created;
        }
        let wire_choices = wire.choices.unwrap_or_default();
        if wire_choices.is_empty() {
            return Ok(Vec::new());
        }
        let mut choices = Vec::with_capacity(wire_choices.len());
        for wc in wire_choices {
            let index = wc.index.unwrap_or(0);
            let d = wc.delta.unwrap_or_default();
            let mut tool_calls = Vec::new();
            for tc in d.tool_calls.unwrap_or_default() {
                tool_calls.extend(self.tool_call(index, tc));
            }
            let mut finish_reason = wc.finish_reason.as_deref().and_then(finish_reason);
            if finish_reason == Some(FinishReason::Stop) && self.has_calls(index) {
                finish_reason = Some(FinishReason::ToolCalls);
            }
            let thinking_blocks = d
                .thinking_blocks
                .and_then(|raw| serde_json::from_str::<Vec<ThinkingBlock>>(raw.get()).ok())
                .filter(|b| !b.is_empty());
            choices.push(ChunkChoice {
                index,
                delta: Delta {
                    role: d.role,
                    content: d.content,
                    refusal: d.refusal,
                    reasoning_content: d.reasoning_content.or(d.reasoning),
                    thinking_blocks,
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                },
                finish_reason,
                logprobs: None,
            });
        }
        Ok(vec![ChatChunk {
            id: Arc::clone(&self.id),
            object: CHUNK_OBJECT.into(),
            created: self.created,
            model: Arc::clone(&self.model),
            choices,
            usage: None,
        }])
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(cut_short("[DONE]"))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

/// A `finish_reason` string, read leniently; empty is none.
fn finish_reason(s: &str) -> Option<FinishReason> {
    Some(match s {
        "" => return None,
        "length" | "max_tokens" => FinishReason::Length,
        "tool_calls" | "tool_use" => FinishReason::ToolCalls,
        "function_call" => FinishReason::FunctionCall,
        "content_filter" | "refusal" | "safety" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    })
}

/// The error of an `{"error": …}` payload: the upstream's message as
/// written, and its numeric `code` as the status when it is one.
fn stream_error(raw: &str) -> Error {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        code: Option<serde_json::Value>,
    }
    let (message, code) = match serde_json::from_str::<ErrorBody>(raw) {
        Ok(b) => (b.message, b.code),
        Err(_) => (serde_json::from_str::<String>(raw).ok(), None),
    };
    let status = code
        .and_then(|c| c.as_u64())
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(500);
    Error::new(
        ErrorKind::Upstream(status),
        message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "the upstream reported an error mid-stream".to_owned()),
    )
}

#[derive(Deserialize)]
struct WireChunk<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    choices: Option<Vec<WireChoice<'a>>>,
    #[serde(default, borrow)]
    usage: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireChoice<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default, borrow)]
    delta: Option<WireDelta<'a>>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Default, Deserialize)]
struct WireDelta<'a> {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default, borrow)]
    thinking_blocks: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<WireToolCall<'a>>>,
}

#[derive(Deserialize)]
struct WireToolCall<'a> {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, borrow)]
    function: Option<WireFunction<'a>>,
}

#[derive(Default, Deserialize)]
struct WireFunction<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::ToolCall;

    const PLAIN: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openai/chat_stream.sse"
    ));
    const WORKED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_text_then_tool.openai.sse"
    ));
    const PARALLEL: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_parallel_tools.openai.sse"
    ));
    const REASONING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_reasoning_then_text.openai.sse"
    ));
    const ONE_CHUNK: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_single_chunk.openai.sse"
    ));
    const NO_INDEX: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_tool_index_missing.openai.sse"
    ));
    const ERROR: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_error.openai.sse"
    ));
    const ERROR_OPENROUTER: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_error_openrouter.openai.sse"
    ));
    const CUT: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/stream_cut.openai.sse"
    ));

    const ALL: &[(&str, &str)] = &[
        ("chat_stream", PLAIN),
        ("text_then_tool", WORKED),
        ("parallel_tools", PARALLEL),
        ("reasoning_then_text", REASONING),
        ("single_chunk", ONE_CHUNK),
        ("tool_index_missing", NO_INDEX),
        ("error", ERROR),
        ("error_openrouter", ERROR_OPENROUTER),
        ("cut", CUT),
    ];

    use crate::protocol::testing::{run_decoder, StreamRun as Run};

    /// Feeds `sse` through the SSE parser in reads of `piece` bytes.
    fn run_in(sse: &[u8], piece: usize) -> Run {
        run_decoder(OpenAiChunkDecoder::new(), sse, piece)
    }

    fn run(sse: &str) -> Run {
        run_in(sse.as_bytes(), usize::MAX)
    }

    fn content(r: &Run) -> String {
        r.chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.content.as_deref())
            .collect()
    }

    /// Joins tool-call deltas per index as an OpenAI client does, checking
    /// that indices are dense, ids come once and first, names once.
    fn tool_calls(r: &Run) -> Vec<ToolCall> {
        let mut calls: Vec<ToolCall> = Vec::new();
        for d in r
            .chunks
            .iter()
            .flat_map(|c| &c.choices)
            .flat_map(|c| c.delta.tool_calls.iter().flatten())
        {
            let i = d.index as usize;
            assert!(i <= calls.len(), "index {i} skips ahead");
            if i == calls.len() {
                calls.push(ToolCall {
                    id: d.id.clone().expect("id on the first fragment"),
                    kind: d.kind.clone().expect("type on the first fragment"),
                    function: crate::protocol::openai::FunctionCall {
                        name: String::new(),
                        arguments: String::new(),
                    },
                });
            } else {
                assert_eq!(d.id, None, "id repeated");
            }
            let f = d.function.as_ref().unwrap();
            if let Some(n) = &f.name {
                assert!(calls[i].function.name.is_empty(), "name repeated");
                calls[i].function.name.push_str(n);
            }
            if let Some(a) = &f.arguments {
                calls[i].function.arguments.push_str(a);
            }
        }
        calls
    }

    fn finish_reasons(r: &Run) -> Vec<FinishReason> {
        r.chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.finish_reason)
            .collect()
    }

    fn calls_summary(r: &Run) -> Vec<(String, String, String)> {
        tool_calls(r)
            .into_iter()
            .map(|c| (c.id, c.function.name, c.function.arguments))
            .collect()
    }

    fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn reads_split_at_every_size_give_the_same_chunks() {
        for (name, sse) in ALL {
            let reference = run(sse);
            for piece in 1..=sse.len() {
                assert_eq!(
                    run_in(sse.as_bytes(), piece),
                    reference,
                    "{name}, piece {piece}"
                );
            }
        }
    }

    #[test]
    fn recorded_openai_stream_decodes_with_usage_recorded_not_emitted() {
        let r = run(PLAIN);
        r.end.as_ref().unwrap();
        assert_eq!(content(&r), "Hello!");
        assert_eq!(finish_reasons(&r), [FinishReason::Stop]);
        assert!(r
            .chunks
            .iter()
            .all(|c| c.usage.is_none() && !c.choices.is_empty()));
        let u = r.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (19, 2, 21)
        );
        assert_eq!(&*r.chunks[0].id, "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");
        assert_eq!(&*r.chunks[0].model, "gpt-4o-2024-08-06");
        assert_eq!(r.chunks[0].created, 1_741_570_283);
        assert_eq!(
            r.chunks[0].choices[0].delta.role.as_deref(),
            Some("assistant")
        );
    }

    #[test]
    fn usage_on_the_finish_chunk_is_recorded() {
        for sse in [REASONING, ONE_CHUNK] {
            let r = run(sse);
            r.end.as_ref().unwrap();
            assert!(r.usage.is_some());
            assert!(r.chunks.iter().all(|c| c.usage.is_none()));
        }
        let r = run(ONE_CHUNK);
        assert_eq!(content(&r), "Paris is the capital of France.");
        assert_eq!(finish_reasons(&r), [FinishReason::Stop]);
    }

    #[test]
    fn consistent_indices_pass_through() {
        let r = run(PARALLEL);
        r.end.as_ref().unwrap();
        assert_eq!(
            calls_summary(&r),
            owned(&[
                (
                    "chatcmpl-tool-5c1a8e",
                    "Read",
                    r#"{"file_path": "/repo/src/main.rs"}"#
                ),
                (
                    "chatcmpl-tool-9b2d4f",
                    "Grep",
                    r#"{"pattern": "TODO\\(", "path": "src"}"#
                ),
                (
                    "chatcmpl-tool-e07c13",
                    "Bash",
                    r#"{"command": "cargo check"}"#
                ),
            ])
        );
        assert_eq!(finish_reasons(&r), [FinishReason::ToolCalls]);
        assert_eq!(r.usage.unwrap().completion_tokens, 78);
    }

    #[test]
    fn missing_indices_are_matched_by_id_and_position_e10() {
        let r = run(NO_INDEX);
        r.end.as_ref().unwrap();
        assert_eq!(
            calls_summary(&r),
            owned(&[
                (
                    "function-call-1571224407384851",
                    "get_weather",
                    r#"{"city":"Paris"}"#
                ),
                (
                    "function-call-9273310578262262",
                    "get_weather",
                    r#"{"city":"Tokyo"}"#
                ),
            ])
        );
        // `stop` after tool calls means tool calls.
        assert_eq!(finish_reasons(&r), [FinishReason::ToolCalls]);
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: s.to_owned(),
        }
    }

    fn feed_all(lines: &[&str]) -> Run {
        let text: String = lines.iter().map(|l| format!("data: {l}\n\n")).collect();
        run(&text)
    }

    #[test]
    fn reused_and_repeated_indices_are_normalised_e10() {
        // Two calls both under index 0 (each with its id), then one call sent
        // under two indices (matched by id); names repeated on every fragment.
        let r = feed_all(&[
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{\"y\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"2}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":5,"id":"c","function":{"name":"h","arguments":"{\"z\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":6,"id":"c","function":{"arguments":"3}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":6,"function":{"arguments":" "}}]}}],"finish_reason":null}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        r.end.as_ref().unwrap();
        assert_eq!(
            calls_summary(&r),
            owned(&[
                ("a", "f", r#"{"x":1}"#),
                ("b", "g", r#"{"y":2}"#),
                ("c", "h", r#"{"z":3} "#)
            ])
        );
    }

    #[test]
    fn lenient_shapes_are_accepted() {
        let r = feed_all(&[
            // No id/model/created, `choices: null`, usage with a null counter.
            r#"{"choices":null,"usage":{"prompt_tokens":null}}"#,
            // OpenRouter's `reasoning`; choice without index; arguments as an object.
            r#"{"id":"x","choices":[{"delta":{"reasoning":"think"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"id":"t","function":{"name":"f","arguments":{"a":1}}}]},"finish_reason":""}]}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"eos"}]}"#,
            "[DONE]",
        ]);
        r.end.as_ref().unwrap();
        assert_eq!(r.usage, None);
        assert_eq!(&*r.chunks[0].id, "x");
        assert_eq!(
            r.chunks[0].choices[0].delta.reasoning_content.as_deref(),
            Some("think")
        );
        assert_eq!(calls_summary(&r), owned(&[("t", "f", r#"{"a":1}"#)]));
        assert_eq!(finish_reasons(&r), [FinishReason::ToolCalls]);
    }

    #[test]
    fn finish_reasons_are_read_leniently() {
        let table = [
            ("stop", Some(FinishReason::Stop)),
            ("length", Some(FinishReason::Length)),
            ("max_tokens", Some(FinishReason::Length)),
            ("tool_calls", Some(FinishReason::ToolCalls)),
            ("function_call", Some(FinishReason::FunctionCall)),
            ("content_filter", Some(FinishReason::ContentFilter)),
            ("eos", Some(FinishReason::Stop)),
            ("", None),
        ];
        for (s, want) in table {
            assert_eq!(finish_reason(s), want, "{s}");
        }
    }

    #[test]
    fn thinking_blocks_extension_is_decoded() {
        let r = feed_all(&[
            r#"{"choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"thinking","thinking":"t","signature":"S"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"odd"}]}}]}"#,
            "[DONE]",
        ]);
        r.end.as_ref().unwrap();
        assert_eq!(
            r.chunks[0].choices[0].delta.thinking_blocks,
            Some(vec![ThinkingBlock::Thinking {
                thinking: "t".to_owned(),
                signature: "S".to_owned()
            }])
        );
        assert_eq!(r.chunks[1].choices[0].delta.thinking_blocks, None);
    }

    #[test]
    fn an_error_payload_is_an_upstream_error() {
        let r = run(ERROR);
        assert_eq!(content(&r), "Sure, here");
        let e = r.end.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream(500));
        assert_eq!(
            e.message,
            "The server had an error while processing your request. Sorry about that!"
        );
        let r = run(ERROR_OPENROUTER);
        assert_eq!(content(&r), "The");
        let e = r.end.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream(502));
        assert_eq!(e.message, "Provider returned error");
        // A named error event, and an error that is a plain string.
        let mut dec = OpenAiChunkDecoder::new();
        let e = dec
            .feed(&SseEvent {
                event: Some("error".to_owned()),
                data: r#"{"message":"rate limited","code":429}"#.to_owned(),
            })
            .unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_ref()),
            (ErrorKind::Upstream(429), "rate limited")
        );
        let e = dec.feed(&data(r#"{"error":"boom"}"#)).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_ref()),
            (ErrorKind::Upstream(500), "boom")
        );
        // `"error": null` is no error.
        assert!(dec.feed(&data(r#"{"error":null,"choices":[]}"#)).is_ok());
    }

    #[test]
    fn a_stream_cut_before_done_is_incomplete() {
        let r = run(CUT);
        assert_eq!(content(&r), "The answer is");
        let e = r.end.unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadUpstreamResponse);
        assert_eq!(e.code.as_deref(), Some("upstream_stream_incomplete"));
    }

    #[test]
    fn nothing_after_done_and_garbage_before_is_bad() {
        let mut dec = OpenAiChunkDecoder::new();
        assert_eq!(
            dec.feed(&data("not json")).unwrap_err().kind,
            ErrorKind::BadUpstreamResponse
        );
        assert!(dec.feed(&data("")).unwrap().is_empty());
        assert!(dec.feed(&data("[DONE]")).unwrap().is_empty());
        assert!(dec.feed(&data("garbage after done")).unwrap().is_empty());
        assert!(dec.finish().unwrap().is_empty());
    }

    #[test]
    fn damaged_streams_never_panic() {
        for (_, sse) in ALL {
            let bytes = sse.as_bytes();
            let truncated = (0..bytes.len()).map(|n| bytes[..n].to_vec());
            let flipped = (0..bytes.len()).map(|i| {
                let mut v = bytes.to_vec();
                v[i] ^= [0x01, 0x20, 0x80, 0xff][i % 4];
                v
            });
            for damaged in truncated.chain(flipped) {
                run_in(&damaged, usize::MAX);
                run_in(&damaged, 7);
            }
        }
    }
}
