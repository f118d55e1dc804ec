//! OpenAI chunks → Anthropic SSE events (PROTOCOLS.md §5.4), one chunk at a
//! time, every event named (`event:` lines: the Anthropic SDKs dispatch on
//! them, §2.6).
//!
//! The state machine: `message_start` (usage zeros) at the first chunk; then,
//! per chunk and in this order, `reasoning_content` → a thinking block,
//! `thinking_blocks` → the signature (`signature_delta`) of the open thinking
//! block before it closes, or a whole thinking / redacted-thinking block
//! (E18), `content` (or `refusal`) → a text block (never opened for an empty
//! string, E1), `tool_calls` → tool_use blocks (id sanitised or synthesised,
//! E7; the caller's tool name, E21) with the argument fragments forwarded
//! unchanged as `input_json_delta`s (E8). Block indices count 0, 1, 2, …, and
//! a block is always closed before the next one opens.
//!
//! Anthropic never interleaves blocks, but OpenAI backends may interleave the
//! fragments of parallel tool calls. The open tool block streams; a call
//! that appears while it is open is buffered until the open call's arguments
//! form a complete JSON value (then it closes and the next opens with its
//! buffer) or until something else closes it. For the usual sequential
//! calls, this streams everything live. A fragment that arrives for a call
//! whose block has already closed is dropped (after complete JSON only
//! whitespace can validly follow).
//!
//! `finish_reason` closes every block and is remembered; `message_delta` is
//! held back until [`ClientEncoder::end`], because OpenAI sends usage after
//! the finish chunk (E12). A chunk with both content and `finish_reason` is
//! handled content first (E24). `end` sends `message_delta` (stop reason,
//! `stop_sequence: null`, usage per §4.9) and `message_stop`; nothing is
//! written after that. An upstream failure before `end` leaves the stream
//! without `message_stop`, as §5.4 wants before an `event: error`.

use super::{message_id, stop_reason, tool_use_id, AnthropicUsageOut, EmptyObject, InboundContext};
use crate::protocol::openai::{ChatChunk, Delta, ThinkingBlock, ToolCallDelta, Usage};
use crate::protocol::sse;
use crate::protocol::ClientEncoder;
use bytes::BytesMut;
use serde::Serialize;

/// The §5.4 state machine for one stream.
#[derive(Debug)]
pub struct AnthropicEncoder {
    ctx: InboundContext,
    /// The Anthropic message id, from the first chunk's id.
    id: String,
    /// `message_start` sent.
    started: bool,
    /// `message_stop` sent: nothing more is written.
    ended: bool,
    next_index: u32,
    open: Open,
    /// Tool calls by OpenAI index, in order of first appearance.
    tools: Vec<ToolSlot>,
    /// From the last `finish_reason`.
    stop_reason: Option<&'static str>,
    /// Usage seen on a chunk, used when `end` gets none.
    usage: Option<Usage>,
    /// Reused serialisation buffer.
    scratch: Vec<u8>,
}

/// The block that is open, with its Anthropic index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text(u32),
    Thinking(u32),
    Tool { slot: usize, index: u32 },
}

#[derive(Debug)]
struct ToolSlot {
    openai_index: u32,
    id: Option<String>,
    name: Option<String>,
    state: SlotState,
    json: JsonProgress,
}

#[derive(Debug)]
enum SlotState {
    /// Not opened yet; the argument fragments so far.
    Waiting(String),
    /// Open at this Anthropic index.
    Open(u32),
    Closed,
}

impl AnthropicEncoder {
    /// An encoder for one stream to an Anthropic caller.
    pub fn new(ctx: InboundContext) -> Self {
        Self {
            ctx,
            id: String::new(),
            started: false,
            ended: false,
            next_index: 0,
            open: Open::None,
            tools: Vec::new(),
            stop_reason: None,
            usage: None,
            scratch: Vec::with_capacity(256),
        }
    }

    fn start(&mut self, chunk_id: &str, out: &mut BytesMut) {
        self.started = true;
        self.id = message_id(chunk_id);
        let ev = Event::MessageStart {
            message: MessageShell {
                id: &self.id,
                kind: "message",
                role: "assistant",
                model: &self.ctx.model,
                content: &[],
                stop_reason: None,
                stop_sequence: None,
                usage: AnthropicUsageOut::default(),
            },
        };
        emit(&mut self.scratch, out, &ev);
    }

    fn open_block(&mut self, block: BlockShell<'_>, out: &mut BytesMut) -> u32 {
        let index = self.next_index;
        self.next_index = self.next_index.saturating_add(1);
        let ev = Event::ContentBlockStart {
            index,
            content_block: block,
        };
        emit(&mut self.scratch, out, &ev);
        index
    }

    fn delta(&mut self, index: u32, delta: BlockDelta<'_>, out: &mut BytesMut) {
        emit(
            &mut self.scratch,
            out,
            &Event::ContentBlockDelta { index, delta },
        );
    }

    /// Closes the open block, if any.
    fn close_open(&mut self, out: &mut BytesMut) {
        let index = match self.open {
            Open::None => return,
            Open::Text(i) | Open::Thinking(i) => i,
            Open::Tool { slot, index } => {
                if let Some(t) = self.tools.get_mut(slot) {
                    t.state = SlotState::Closed;
                }
                index
            }
        };
        self.open = Open::None;
        emit(&mut self.scratch, out, &Event::ContentBlockStop { index });
    }

    /// Closes the open block and sends every waiting tool call whole, in
    /// order.
    fn close_all(&mut self, out: &mut BytesMut) {
        self.close_open(out);
        while let Some(slot) = self.first_waiting() {
            self.open_tool(slot, out);
            self.close_open(out);
        }
    }

    fn first_waiting(&self) -> Option<usize> {
        self.tools
            .iter()
            .position(|t| matches!(t.state, SlotState::Waiting(_)))
    }

    fn ensure_text(&mut self, out: &mut BytesMut) -> u32 {
        if let Open::Text(i) = self.open {
            return i;
        }
        self.close_all(out);
        let i = self.open_block(BlockShell::Text { text: "" }, out);
        self.open = Open::Text(i);
        i
    }

    fn ensure_thinking(&mut self, out: &mut BytesMut) -> u32 {
        if let Open::Thinking(i) = self.open {
            return i;
        }
        self.close_all(out);
        let i = self.open_block(
            BlockShell::Thinking {
                thinking: "",
                signature: "",
            },
            out,
        );
        self.open = Open::Thinking(i);
        i
    }

    /// Opens the tool_use block of a waiting call and sends its buffered
    /// arguments.
    fn open_tool(&mut self, slot: usize, out: &mut BytesMut) {
        let Some(t) = self.tools.get_mut(slot) else {
            return;
        };
        let buffered = match std::mem::replace(&mut t.state, SlotState::Closed) {
            SlotState::Waiting(buf) => buf,
            other => {
                t.state = other;
                return;
            }
        };
        let id = tool_use_id(t.id.as_deref().unwrap_or(""), &self.id, slot).into_owned();
        let name = self
            .ctx
            .original_tool_name(t.name.as_deref().unwrap_or(""))
            .to_owned();
        let index = self.open_block(
            BlockShell::ToolUse {
                id: &id,
                name: &name,
                input: EmptyObject {},
            },
            out,
        );
        if let Some(t) = self.tools.get_mut(slot) {
            t.state = SlotState::Open(index);
        }
        self.open = Open::Tool { slot, index };
        if !buffered.is_empty() {
            self.delta(
                index,
                BlockDelta::InputJson {
                    partial_json: &buffered,
                },
                out,
            );
        }
    }

    /// Opens waiting tool calls when nothing else holds the stream: when no
    /// tool block is open, or when the open one's arguments are complete.
    fn advance_tools(&mut self, out: &mut BytesMut) {
        loop {
            if let Open::Tool { slot, .. } = self.open {
                let complete = self.tools.get(slot).is_some_and(|t| t.json.complete());
                if !complete {
                    return;
                }
            }
            let Some(next) = self.first_waiting() else {
                return;
            };
            if self.tools.get(next).is_some_and(|t| t.name.is_none()) {
                return; // its name is still to come
            }
            self.close_open(out);
            self.open_tool(next, out);
        }
    }

    fn tool_fragment(&mut self, d: &ToolCallDelta, out: &mut BytesMut) {
        let slot = match self.tools.iter().position(|t| t.openai_index == d.index) {
            Some(s) => s,
            None => {
                self.tools.push(ToolSlot {
                    openai_index: d.index,
                    id: None,
                    name: None,
                    state: SlotState::Waiting(String::new()),
                    json: JsonProgress::default(),
                });
                self.tools.len() - 1
            }
        };
        let function = d.function.as_ref();
        let mut send = None;
        if let Some(t) = self.tools.get_mut(slot) {
            if t.id.is_none() {
                t.id = d.id.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
            }
            if t.name.is_none() {
                t.name = function
                    .and_then(|f| f.name.as_deref())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned);
            }
            if let Some(args) = function
                .and_then(|f| f.arguments.as_deref())
                .filter(|a| !a.is_empty())
            {
                match &mut t.state {
                    SlotState::Waiting(buf) => {
                        t.json.feed(args);
                        buf.push_str(args);
                    }
                    SlotState::Open(index) => {
                        t.json.feed(args);
                        send = Some((*index, args));
                    }
                    SlotState::Closed => {}
                }
            }
        }
        if let Some((index, args)) = send {
            self.delta(index, BlockDelta::InputJson { partial_json: args }, out);
        }
        self.advance_tools(out);
    }

    fn thinking_block(&mut self, block: &ThinkingBlock, out: &mut BytesMut) {
        match block {
            ThinkingBlock::Thinking {
                thinking,
                signature,
            } => {
                let index = match self.open {
                    // Its text was streamed as reasoning_content.
                    Open::Thinking(i) => i,
                    _ => {
                        let i = self.ensure_thinking(out);
                        if !thinking.is_empty() {
                            self.delta(i, BlockDelta::Thinking { thinking }, out);
                        }
                        i
                    }
                };
                if !signature.is_empty() {
                    self.delta(index, BlockDelta::Signature { signature }, out);
                }
                self.close_open(out);
            }
            ThinkingBlock::RedactedThinking { data } => {
                self.close_all(out);
                let index = self.open_block(BlockShell::RedactedThinking { data }, out);
                emit(&mut self.scratch, out, &Event::ContentBlockStop { index });
            }
        }
    }

    fn apply(&mut self, d: &Delta, out: &mut BytesMut) {
        if let Some(thinking) = d.reasoning_content.as_deref().filter(|t| !t.is_empty()) {
            let i = self.ensure_thinking(out);
            self.delta(i, BlockDelta::Thinking { thinking }, out);
        }
        for block in d.thinking_blocks.iter().flatten() {
            self.thinking_block(block, out);
        }
        for text in [d.content.as_deref(), d.refusal.as_deref()]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
        {
            let i = self.ensure_text(out);
            self.delta(i, BlockDelta::Text { text }, out);
        }
        for call in d.tool_calls.iter().flatten() {
            self.tool_fragment(call, out);
        }
    }
}

impl ClientEncoder for AnthropicEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        if !self.started {
            self.start(&chunk.id, out);
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            self.apply(&choice.delta, out);
            if let Some(finish) = choice.finish_reason {
                self.close_all(out);
                self.stop_reason = Some(stop_reason(Some(finish)));
            }
        }
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        if !self.started {
            self.start("", out);
        }
        self.close_all(out);
        let ev = Event::MessageDelta {
            delta: StopDelta {
                stop_reason: self.stop_reason.unwrap_or("end_turn"),
                stop_sequence: None,
            },
            usage: AnthropicUsageOut::from_openai(usage.as_ref().or(self.usage.as_ref())),
        };
        emit(&mut self.scratch, out, &ev);
        emit(&mut self.scratch, out, &Event::MessageStop);
        self.ended = true;
    }
}

/// Writes one named event; `scratch` is reused between events.
fn emit(scratch: &mut Vec<u8>, out: &mut BytesMut, ev: &Event<'_>) {
    scratch.clear();
    // Serialising our own borrowed types into memory cannot fail.
    let _ = serde_json::to_writer(&mut *scratch, ev);
    sse::write_event(out, ev.name(), scratch);
}

/// Tracks whether tool arguments seen so far form a complete JSON object or
/// array (brackets balanced outside strings), without parsing them (E8).
#[derive(Debug, Default, Clone, Copy)]
struct JsonProgress {
    depth: u32,
    opened: bool,
    in_string: bool,
    escaped: bool,
}

impl JsonProgress {
    fn feed(&mut self, fragment: &str) {
        for b in fragment.bytes() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.opened = true;
                    self.depth = self.depth.saturating_add(1);
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
    }

    fn complete(&self) -> bool {
        self.opened && self.depth == 0 && !self.in_string
    }
}

// ----------------------------------------------------------------- events

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: MessageShell<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: BlockShell<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: AnthropicUsageOut,
    },
    MessageStop,
}

impl Event<'_> {
    /// The SSE event name, equal to the JSON `type` (§2.6).
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }
}

#[derive(Serialize)]
struct MessageShell<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: &'static [EmptyObject],
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: AnthropicUsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockShell<'a> {
    Text {
        text: &'a str,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyObject,
    },
}

/// A `content_block_delta` payload; the `type` is the variant name +
/// `_delta`.
#[derive(Serialize)]
#[serde(tag = "type")]
enum BlockDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
