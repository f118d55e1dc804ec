//! Anthropic stream events → OpenAI chunks (PROTOCOLS.md §4.3), one event at
//! a time, each chunk emitted as soon as its event arrives.
//!
//! Dispatches on the JSON `type` of each event (the SSE `event:` name only
//! when the data has none). Emits: a role chunk at `message_start` (with the
//! prefill text as its content, E19), text deltas, a tool-call start chunk
//! (`index` counting tool calls only, `arguments: ""`) and then the argument
//! fragments unchanged (E8), `"{}"` when a tool block closes without a
//! non-empty fragment (E9), `reasoning_content` deltas, one `thinking_blocks`
//! chunk with the signature when a thinking block closes (E18), and the finish
//! chunk at `message_stop`. In JSON mode the synthetic tool's fragments are
//! content deltas. Usage is recorded, never emitted (E11, E12). Drops: pings,
//! citations, server-tool blocks, unknown events. An `error` event is an
//! `Err` with the upstream status of its type (E26).

use super::response::upstream_error;
use super::{finish_reason, openai_usage, status_for_error_type, ResponseContext};
use crate::protocol::anthropic::types::{
    input_json, is_filled_object, AnthropicUsage, BlockDelta, ContentBlock, ContentBlockDelta,
    ContentBlockStart, ContentBlockStop, ErrorResponse, EventType, MessageDelta, MessageStart,
};
use crate::protocol::openai::{
    ChatChunk, Delta, FinishReason, FunctionDelta, ThinkingBlock, ToolCallDelta, Usage,
};
use crate::protocol::sse::SseEvent;
use crate::protocol::ChunkDecoder;
use crate::protocol::{Error, ErrorKind};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The stream state machine of §4.3.
#[derive(Debug)]
pub struct AnthropicToOpenAi {
    ctx: ResponseContext,
    created: u64,
    /// `chatcmpl-` + the message id, from `message_start`.
    id: Arc<str>,
    /// The upstream's model, from `message_start`.
    model: Arc<str>,
    /// Open content blocks by Anthropic block index.
    blocks: Vec<(u64, Block)>,
    /// Tool calls started so far (the next OpenAI tool index).
    tool_count: u32,
    /// Whether the synthetic JSON-mode tool produced the answer.
    json_answered: bool,
    usage: Option<AnthropicUsage>,
    stop_reason: Option<String>,
    /// `message_stop` seen.
    stopped: bool,
}

/// What an open content block is.
#[derive(Debug)]
enum Block {
    Text,
    Tool { index: u32, args_seen: bool },
    JsonTool { args_seen: bool },
    Thinking { thinking: String, signature: String },
    Redacted { data: String },
    Other,
}

impl AnthropicToOpenAi {
    /// A converter for one stream; `created` is stamped on every chunk.
    pub fn new(ctx: ResponseContext, created: u64) -> Self {
        Self {
            ctx,
            created,
            id: "".into(),
            model: "".into(),
            blocks: Vec::new(),
            tool_count: 0,
            json_answered: false,
            usage: None,
            stop_reason: None,
            stopped: false,
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk::single(&self.id, &self.model, self.created, delta, finish_reason)
    }

    fn content(&self, text: String) -> ChatChunk {
        self.chunk(
            Delta {
                content: Some(text),
                ..Delta::default()
            },
            None,
        )
    }

    fn tool_args(&self, index: u32, arguments: String) -> ChatChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index,
                    function: Some(FunctionDelta {
                        name: None,
                        arguments: Some(arguments),
                    }),
                    ..ToolCallDelta::default()
                }]),
                ..Delta::default()
            },
            None,
        )
    }

    fn message_start(&mut self, data: &str) -> Result<Vec<ChatChunk>, Error> {
        let start: MessageStart = parse(data, "message_start")?;
        self.id = format!("chatcmpl-{}", start.message.id).into();
        self.model = start.message.model.into();
        if let Some(u) = start.message.usage {
            self.usage.get_or_insert_with(Default::default).update(&u);
        }
        let delta = Delta {
            role: Some("assistant".to_owned()),
            content: Some(self.ctx.prefill.clone().unwrap_or_default()),
            ..Delta::default()
        };
        Ok(vec![self.chunk(delta, None)])
    }

    fn block_start(&mut self, data: &str) -> Result<Vec<ChatChunk>, Error> {
        let start: ContentBlockStart = parse(data, "content_block_start")?;
        let mut out = Vec::new();
        let block = match start.content_block {
            ContentBlock::Text { text } => {
                if !text.is_empty() {
                    out.push(self.content(text));
                }
                Block::Text
            }
            ContentBlock::ToolUse { name, input, .. } if self.ctx.is_json_tool(&name) => {
                let args_seen = is_filled_object(input.as_deref());
                if args_seen {
                    self.json_answered = true;
                    out.push(self.content(input_json(input.as_deref())));
                }
                Block::JsonTool { args_seen }
            }
            ContentBlock::ToolUse { id, name, input } => {
                let index = self.tool_count;
                self.tool_count = self.tool_count.saturating_add(1);
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index,
                        id: Some(id),
                        kind: Some("function".to_owned()),
                        function: Some(FunctionDelta {
                            name: Some(self.ctx.original_tool_name(name)),
                            arguments: Some(String::new()),
                        }),
                    }]),
                    ..Delta::default()
                };
                out.push(self.chunk(delta, None));
                // A filled start block (server tools, non-streamed input) is
                // the first fragment; the usual empty shell is not (E9).
                let args_seen = is_filled_object(input.as_deref());
                if args_seen {
                    out.push(self.tool_args(index, input_json(input.as_deref())));
                }
                Block::Tool { index, args_seen }
            }
            ContentBlock::Thinking {
                thinking,
                signature,
            } => {
                if !thinking.is_empty() {
                    out.push(self.chunk(
                        Delta {
                            reasoning_content: Some(thinking.clone()),
                            ..Delta::default()
                        },
                        None,
                    ));
                }
                Block::Thinking {
                    thinking,
                    signature,
                }
            }
            ContentBlock::RedactedThinking { data } => Block::Redacted { data },
            ContentBlock::Other { .. } => Block::Other,
        };
        match self.blocks.iter_mut().find(|(i, _)| *i == start.index) {
            Some(slot) => slot.1 = block,
            None => self.blocks.push((start.index, block)),
        }
        Ok(out)
    }

    fn block_delta(&mut self, data: &str) -> Result<Vec<ChatChunk>, Error> {
        let d: ContentBlockDelta = parse(data, "content_block_delta")?;
        let block = self
            .blocks
            .iter_mut()
            .find(|(i, _)| *i == d.index)
            .map(|(_, b)| b);
        let mut json_fragment = false;
        let chunk = match (block, d.delta) {
            (Some(Block::Text) | None, BlockDelta::TextDelta { text }) if !text.is_empty() => {
                Some(Delta {
                    content: Some(text),
                    ..Delta::default()
                })
            }
            (
                Some(Block::Tool { index, args_seen }),
                BlockDelta::InputJsonDelta { partial_json },
            ) if !partial_json.is_empty() => {
                *args_seen = true;
                Some(Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: *index,
                        function: Some(FunctionDelta {
                            name: None,
                            arguments: Some(partial_json),
                        }),
                        ..ToolCallDelta::default()
                    }]),
                    ..Delta::default()
                })
            }
            (Some(Block::JsonTool { args_seen }), BlockDelta::InputJsonDelta { partial_json })
                if !partial_json.is_empty() =>
            {
                *args_seen = true;
                json_fragment = true;
                Some(Delta {
                    content: Some(partial_json),
                    ..Delta::default()
                })
            }
            (Some(Block::Thinking { thinking, .. }), BlockDelta::ThinkingDelta { thinking: t })
                if !t.is_empty() =>
            {
                thinking.push_str(&t);
                Some(Delta {
                    reasoning_content: Some(t),
                    ..Delta::default()
                })
            }
            (
                Some(Block::Thinking { signature, .. }),
                BlockDelta::SignatureDelta { signature: s },
            ) => {
                signature.push_str(&s);
                None
            }
            _ => None,
        };
        if json_fragment {
            self.json_answered = true;
        }
        Ok(chunk.map(|d| self.chunk(d, None)).into_iter().collect())
    }

    fn block_stop(&mut self, data: &str) -> Result<Vec<ChatChunk>, Error> {
        let stop: ContentBlockStop = parse(data, "content_block_stop")?;
        let Some(pos) = self.blocks.iter().position(|(i, _)| *i == stop.index) else {
            return Ok(Vec::new());
        };
        let (_, block) = self.blocks.swap_remove(pos);
        Ok(match block {
            Block::Tool {
                index,
                args_seen: false,
            } => vec![self.tool_args(index, "{}".to_owned())],
            Block::JsonTool { args_seen: false } => {
                self.json_answered = true;
                vec![self.content("{}".to_owned())]
            }
            Block::Thinking {
                thinking,
                signature,
            } => vec![self.thinking_block(ThinkingBlock::Thinking {
                thinking,
                signature,
            })],
            Block::Redacted { data } => {
                vec![self.thinking_block(ThinkingBlock::RedactedThinking { data })]
            }
            Block::Text | Block::Tool { .. } | Block::JsonTool { .. } | Block::Other => Vec::new(),
        })
    }

    fn thinking_block(&self, block: ThinkingBlock) -> ChatChunk {
        self.chunk(
            Delta {
                thinking_blocks: Some(vec![block]),
                ..Delta::default()
            },
            None,
        )
    }

    fn message_delta(&mut self, data: &str) -> Result<Vec<ChatChunk>, Error> {
        let d: MessageDelta = parse(data, "message_delta")?;
        if let Some(reason) = d.delta.stop_reason {
            self.stop_reason = Some(reason);
        }
        if let Some(u) = d.usage {
            self.usage.get_or_insert_with(Default::default).update(&u);
        }
        Ok(Vec::new())
    }

    fn message_stop(&mut self) -> Vec<ChatChunk> {
        self.stopped = true;
        let mut finish = finish_reason(self.stop_reason.as_deref());
        if finish == FinishReason::ToolCalls && self.tool_count == 0 && self.json_answered {
            finish = FinishReason::Stop;
        }
        vec![self.chunk(Delta::default(), Some(finish))]
    }
}

/// An `error` event's payload as a gateway error, with the status its type
/// stands for (E26).
pub fn error_event(data: &str) -> Error {
    match serde_json::from_str::<ErrorResponse>(data) {
        Ok(e) => upstream_error(status_for_error_type(&e.error.kind), &e, None),
        Err(_) => Error::new(
            ErrorKind::Upstream(500),
            "anthropic: upstream reported an error mid-stream",
        ),
    }
}

impl ChunkDecoder for AnthropicToOpenAi {
    fn feed(&mut self, event: &SseEvent) -> Result<Vec<ChatChunk>, Error> {
        if self.stopped {
            return Ok(Vec::new());
        }
        let data = event.data.as_str();
        // The events parsed below are checked whole there: for them the
        // leading `type` is enough to dispatch, and the event is parsed once.
        let leading = EventType::leading(data).filter(|t| PARSED.contains(&t.kind.as_ref()));
        let typed: EventType<'_> = match leading.map_or_else(|| serde_json::from_str(data), Ok) {
            Ok(t) => t,
            Err(_) => match event.event.as_deref() {
                // Not JSON at all: the stream is broken.
                _ if serde_json::from_str::<serde::de::IgnoredAny>(data).is_err() => {
                    return Err(bad_event("stream event"))
                }
                Some(name) => EventType {
                    kind: name.to_owned().into(),
                },
                None => return Ok(Vec::new()),
            },
        };
        match typed.kind.as_ref() {
            "message_start" => self.message_start(data),
            "content_block_start" => self.block_start(data),
            "content_block_delta" => self.block_delta(data),
            "content_block_stop" => self.block_stop(data),
            "message_delta" => self.message_delta(data),
            "message_stop" => Ok(self.message_stop()),
            "error" => Err(error_event(data)),
            // `ping` and anything newer.
            _ => Ok(Vec::new()),
        }
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, Error> {
        if self.stopped {
            Ok(Vec::new())
        } else {
            Err(Error::new(
                ErrorKind::BadUpstreamResponse,
                "upstream stream ended before message_stop",
            ))
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage.as_ref().map(openai_usage)
    }
}

/// The event types whose whole event [`AnthropicToOpenAi`] parses.
const PARSED: [&str; 5] = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
];

fn parse<T: DeserializeOwned>(data: &str, what: &'static str) -> Result<T, Error> {
    serde_json::from_str(data).map_err(|_| bad_event(what))
}

fn bad_event(what: &'static str) -> Error {
    Error::new(
        ErrorKind::BadUpstreamResponse,
        format!("anthropic: unreadable {what}"),
    )
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
