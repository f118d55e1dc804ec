//! OpenAI chunks → Responses SSE events, one chunk at a time. Every event
//! is named (`event:` = its `type`) and numbered (`sequence_number` rises
//! from 0).
//!
//! The state machine: `response.created` and `response.in_progress` at the
//! first chunk; then `reasoning_content` → a `reasoning` item with one
//! summary part (`response.reasoning_summary_text.delta`), Anthropic
//! `thinking_blocks` → that item's `encrypted_content`; `content` (or
//! `refusal`) → a `message` item with one `output_text` part
//! (`response.output_text.delta`); each tool call (by its OpenAI index) →
//! its own `function_call` item (`response.function_call_arguments.delta`),
//! added once its name is known. Items are numbered by `output_index` in
//! the order they open; a reasoning or message item closes when another
//! kind opens; function calls stay open side by side, so the argument
//! fragments of parallel calls stay apart. `finish_reason` closes every
//! item (`….done` events with the full text, then
//! `response.output_item.done`).
//!
//! [`ClientEncoder::end`] sends `response.completed` (or
//! `response.incomplete` after `length` / `content_filter`) with the whole
//! response and the provider's usage — the object a whole answer is — and
//! keeps it when asked to; [`ClientEncoder::fail`] sends `response.failed`
//! with the error instead. Nothing is written after either.

use super::{
    thinking_envelope, Item, OutputText, ResponseObject, ResponsesContext, Status, SummaryText,
};
use crate::protocol::error::ErrorReply;
use crate::protocol::openai::{
    ChatChunk, Delta, FinishReason, ThinkingBlock, ToolCallDelta, Usage,
};
use crate::protocol::sse;
use crate::protocol::ClientEncoder;
use bytes::BytesMut;
use serde::Serialize;

/// The event state machine for one stream.
#[derive(Debug)]
pub struct ResponsesEncoder {
    ctx: ResponsesContext,
    seq: u64,
    created_at: u64,
    started: bool,
    /// A terminal event was sent: nothing more is written.
    ended: bool,
    /// Output items in `output_index` order, as far as they have arrived.
    items: Vec<Item>,
    /// The open reasoning item: its index, whether its summary part is
    /// open, its thinking blocks.
    reasoning: Option<(usize, bool, Vec<ThinkingBlock>)>,
    /// The open message item.
    text: Option<usize>,
    /// Tool calls by OpenAI index.
    tools: Vec<ToolSlot>,
    /// Items made so far per kind, for their ids.
    made: [usize; 3],
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    scratch: Vec<u8>,
}

#[derive(Debug)]
struct ToolSlot {
    openai_index: u32,
    call_id: Option<String>,
    name: Option<String>,
    /// Its output index, once added.
    item: Option<usize>,
    /// Argument fragments that came before the name.
    pending: String,
    done: bool,
}

impl ResponsesEncoder {
    /// An encoder for one stream to a Responses caller.
    pub fn new(ctx: ResponsesContext) -> Self {
        Self {
            ctx,
            seq: 0,
            created_at: 0,
            started: false,
            ended: false,
            items: Vec::new(),
            reasoning: None,
            text: None,
            tools: Vec::new(),
            made: [0; 3],
            finish: None,
            usage: None,
            scratch: Vec::with_capacity(256),
        }
    }

    fn start(&mut self, created_at: u64, out: &mut BytesMut) {
        self.started = true;
        self.created_at = created_at;
        let response = self
            .ctx
            .object(created_at, Status::InProgress, &[], None, None);
        write(
            &mut self.scratch,
            &mut self.seq,
            out,
            &Event::Created { response },
        );
        let response = self
            .ctx
            .object(created_at, Status::InProgress, &[], None, None);
        write(
            &mut self.scratch,
            &mut self.seq,
            out,
            &Event::InProgress { response },
        );
    }

    /// Adds an item and announces it; returns its output index.
    fn add(&mut self, item: Item, out: &mut BytesMut) -> usize {
        let index = self.items.len();
        self.items.push(item);
        let ev = Event::ItemAdded {
            output_index: index,
            item: &self.items[index],
        };
        write(&mut self.scratch, &mut self.seq, out, &ev);
        index
    }

    fn item_done(&mut self, index: usize, out: &mut BytesMut) {
        let ev = Event::ItemDone {
            output_index: index,
            item: &self.items[index],
        };
        write(&mut self.scratch, &mut self.seq, out, &ev);
    }

    fn next_id(&mut self, kind: usize) -> usize {
        let n = self.made[kind];
        self.made[kind] += 1;
        n
    }

    fn ensure_reasoning(&mut self, out: &mut BytesMut) -> usize {
        if let Some((i, ..)) = self.reasoning {
            return i;
        }
        self.close_text(out);
        let n = self.next_id(0);
        let item = Item::Reasoning {
            id: self.ctx.reasoning_id(n),
            summary: Vec::new(),
            encrypted_content: None,
        };
        let i = self.add(item, out);
        self.reasoning = Some((i, false, Vec::new()));
        i
    }

    fn reasoning_delta(&mut self, delta: &str, out: &mut BytesMut) {
        let i = self.ensure_reasoning(out);
        let Some(Item::Reasoning { id, summary, .. }) = self.items.get_mut(i) else {
            return;
        };
        let opened = self.reasoning.as_ref().is_some_and(|r| r.1);
        if !opened {
            summary.push(SummaryText::new(String::new()));
            if let Some(r) = self.reasoning.as_mut() {
                r.1 = true;
            }
            let part = SummaryText::new(String::new());
            let ev = Event::SummaryPartAdded {
                item_id: id,
                output_index: i,
                summary_index: 0,
                part: &part,
            };
            write(&mut self.scratch, &mut self.seq, out, &ev);
        }
        if let Some(s) = summary.first_mut() {
            s.text.push_str(delta);
        }
        let ev = Event::SummaryDelta {
            item_id: id,
            output_index: i,
            summary_index: 0,
            delta,
        };
        write(&mut self.scratch, &mut self.seq, out, &ev);
    }

    fn close_reasoning(&mut self, out: &mut BytesMut) {
        let Some((i, opened, blocks)) = self.reasoning.take() else {
            return;
        };
        let Some(Item::Reasoning {
            id,
            summary,
            encrypted_content,
        }) = self.items.get_mut(i)
        else {
            return;
        };
        *encrypted_content = thinking_envelope(&blocks);
        if let (true, Some(part)) = (opened, summary.first()) {
            let ev = Event::SummaryDone {
                item_id: id,
                output_index: i,
                summary_index: 0,
                text: &part.text,
            };
            write(&mut self.scratch, &mut self.seq, out, &ev);
            let ev = Event::SummaryPartDone {
                item_id: id,
                output_index: i,
                summary_index: 0,
                part,
            };
            write(&mut self.scratch, &mut self.seq, out, &ev);
        }
        self.item_done(i, out);
    }

    fn text_delta(&mut self, delta: &str, out: &mut BytesMut) {
        let i = match self.text {
            Some(i) => i,
            None => {
                self.close_reasoning(out);
                let n = self.next_id(1);
                let item = Item::Message {
                    id: self.ctx.message_id(n),
                    status: "in_progress",
                    role: "assistant",
                    content: Vec::new(),
                };
                let i = self.add(item, out);
                self.text = Some(i);
                if let Some(Item::Message { id, content, .. }) = self.items.get_mut(i) {
                    content.push(OutputText::new(String::new()));
                    let ev = Event::PartAdded {
                        item_id: id,
                        output_index: i,
                        content_index: 0,
                        part: &content[0],
                    };
                    write(&mut self.scratch, &mut self.seq, out, &ev);
                }
                i
            }
        };
        if let Some(Item::Message { id, content, .. }) = self.items.get_mut(i) {
            if let Some(part) = content.first_mut() {
                part.text.push_str(delta);
            }
            let ev = Event::TextDelta {
                item_id: id,
                output_index: i,
                content_index: 0,
                delta,
                logprobs: [],
            };
            write(&mut self.scratch, &mut self.seq, out, &ev);
        }
    }

    fn close_text(&mut self, out: &mut BytesMut) {
        let Some(i) = self.text.take() else {
            return;
        };
        if let Some(Item::Message {
            id,
            status,
            content,
            ..
        }) = self.items.get_mut(i)
        {
            *status = "completed";
            if let Some(part) = content.first() {
                let ev = Event::TextDone {
                    item_id: id,
                    output_index: i,
                    content_index: 0,
                    text: &part.text,
                    logprobs: [],
                };
                write(&mut self.scratch, &mut self.seq, out, &ev);
                let ev = Event::PartDone {
                    item_id: id,
                    output_index: i,
                    content_index: 0,
                    part,
                };
                write(&mut self.scratch, &mut self.seq, out, &ev);
            }
        }
        self.item_done(i, out);
    }

    /// Adds the function_call item of a slot whose name is known (or that
    /// must be closed now), with the fragments that came before.
    fn add_call(&mut self, slot: usize, out: &mut BytesMut) {
        self.close_reasoning(out);
        self.close_text(out);
        let n = self.next_id(2);
        let Some(s) = self.tools.get_mut(slot) else {
            return;
        };
        let pending = std::mem::take(&mut s.pending);
        let item = Item::FunctionCall {
            id: self.ctx.call_id(n),
            call_id: s
                .call_id
                .clone()
                .unwrap_or_else(|| format!("call_{}_{n}", self.ctx.base())),
            name: s.name.clone().unwrap_or_default(),
            arguments: String::new(),
            status: "in_progress",
        };
        let i = self.add(item, out);
        if let Some(s) = self.tools.get_mut(slot) {
            s.item = Some(i);
        }
        if !pending.is_empty() {
            self.args_delta(i, &pending, out);
        }
    }

    fn args_delta(&mut self, i: usize, delta: &str, out: &mut BytesMut) {
        if let Some(Item::FunctionCall { id, arguments, .. }) = self.items.get_mut(i) {
            arguments.push_str(delta);
            let ev = Event::ArgsDelta {
                item_id: id,
                output_index: i,
                delta,
            };
            write(&mut self.scratch, &mut self.seq, out, &ev);
        }
    }

    fn tool_fragment(&mut self, d: &ToolCallDelta, out: &mut BytesMut) {
        let slot = match self.tools.iter().position(|t| t.openai_index == d.index) {
            Some(s) => s,
            None => {
                self.tools.push(ToolSlot {
                    openai_index: d.index,
                    call_id: None,
                    name: None,
                    item: None,
                    pending: String::new(),
                    done: false,
                });
                self.tools.len() - 1
            }
        };
        let function = d.function.as_ref();
        let args = function
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty());
        let Some(s) = self.tools.get_mut(slot) else {
            return;
        };
        if s.done {
            return;
        }
        if s.call_id.is_none() {
            s.call_id = d.id.clone().filter(|id| !id.is_empty());
        }
        if s.name.is_none() {
            s.name = function
                .and_then(|f| f.name.clone())
                .filter(|n| !n.is_empty());
        }
        match (s.item, args) {
            (Some(i), Some(args)) => self.args_delta(i, args, out),
            (Some(_), None) => {}
            (None, args) => {
                s.pending.push_str(args.unwrap_or_default());
                if s.name.is_some() {
                    self.add_call(slot, out);
                }
            }
        }
    }

    fn close_tools(&mut self, out: &mut BytesMut) {
        for slot in 0..self.tools.len() {
            if self.tools[slot].done {
                continue;
            }
            if self.tools[slot].item.is_none() {
                self.add_call(slot, out);
            }
            self.tools[slot].done = true;
            let Some(i) = self.tools[slot].item else {
                continue;
            };
            if let Some(Item::FunctionCall {
                id,
                name,
                arguments,
                status,
                ..
            }) = self.items.get_mut(i)
            {
                *status = "completed";
                let ev = Event::ArgsDone {
                    item_id: id,
                    output_index: i,
                    name,
                    arguments,
                };
                write(&mut self.scratch, &mut self.seq, out, &ev);
            }
            self.item_done(i, out);
        }
    }

    fn close_all(&mut self, out: &mut BytesMut) {
        self.close_reasoning(out);
        self.close_text(out);
        self.close_tools(out);
    }

    fn apply(&mut self, d: &Delta, out: &mut BytesMut) {
        if let Some(thinking) = d.reasoning_content.as_deref().filter(|t| !t.is_empty()) {
            self.reasoning_delta(thinking, out);
        }
        if let Some(blocks) = d.thinking_blocks.as_ref().filter(|b| !b.is_empty()) {
            self.ensure_reasoning(out);
            if let Some(r) = self.reasoning.as_mut() {
                r.2.extend(blocks.iter().cloned());
            }
        }
        for text in [d.content.as_deref(), d.refusal.as_deref()]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
        {
            self.text_delta(text, out);
        }
        for call in d.tool_calls.iter().flatten() {
            self.tool_fragment(call, out);
        }
    }

    /// The final object, and its bytes for the store.
    fn finish_with(
        &mut self,
        status: Status,
        usage: Option<Usage>,
        error: Option<&ErrorReply<'_>>,
        out: &mut BytesMut,
    ) {
        if !self.started {
            self.start(0, out);
        }
        let response = self
            .ctx
            .object(self.created_at, status, &self.items, usage.as_ref(), error);
        let kept = (error.is_none() && self.ctx.keep.is_some())
            .then(|| serde_json::to_vec(&response).unwrap_or_default());
        let ev = match status {
            Status::Failed => Event::Failed { response },
            Status::Incomplete(_) => Event::Incomplete { response },
            _ => Event::Completed { response },
        };
        write(&mut self.scratch, &mut self.seq, out, &ev);
        if let Some(body) = kept {
            self.ctx.keep(&body);
        }
        self.ended = true;
    }
}

impl ClientEncoder for ResponsesEncoder {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        if !self.started {
            self.start(chunk.created, out);
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            self.apply(&choice.delta, out);
            if let Some(finish) = choice.finish_reason {
                self.close_all(out);
                self.finish = Some(finish);
            }
        }
    }

    fn end(&mut self, usage: Option<Usage>, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.close_all(out);
        let usage = usage.or(self.usage);
        self.finish_with(Status::of(self.finish), usage, None, out);
    }

    fn fail(&mut self, e: &ErrorReply<'_>, out: &mut BytesMut) -> bool {
        if !self.ended {
            let usage = self.usage;
            self.finish_with(Status::Failed, usage, Some(e), out);
        }
        true
    }
}

/// Writes one named, numbered event; `scratch` is reused between events.
fn write(scratch: &mut Vec<u8>, seq: &mut u64, out: &mut BytesMut, ev: &Event<'_>) {
    #[derive(Serialize)]
    struct Numbered<'a, 'b> {
        #[serde(flatten)]
        event: &'a Event<'b>,
        sequence_number: u64,
    }
    scratch.clear();
    // Serialising our own borrowed types into memory cannot fail.
    let _ = serde_json::to_writer(
        &mut *scratch,
        &Numbered {
            event: ev,
            sequence_number: *seq,
        },
    );
    *seq += 1;
    sse::write_event(out, ev.name(), scratch);
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Event<'a> {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject<'a> },
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject<'a> },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject<'a> },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: ResponseObject<'a> },
    #[serde(rename = "response.failed")]
    Failed { response: ResponseObject<'a> },
    #[serde(rename = "response.output_item.added")]
    ItemAdded { output_index: usize, item: &'a Item },
    #[serde(rename = "response.output_item.done")]
    ItemDone { output_index: usize, item: &'a Item },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: &'a str,
        output_index: usize,
        content_index: u32,
        part: &'a OutputText,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: &'a str,
        output_index: usize,
        content_index: u32,
        part: &'a OutputText,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: &'a str,
        output_index: usize,
        content_index: u32,
        delta: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: &'a str,
        output_index: usize,
        content_index: u32,
        text: &'a str,
        logprobs: [(); 0],
    },
    #[serde(rename = "response.reasoning_summary_part.added")]
    SummaryPartAdded {
        item_id: &'a str,
        output_index: usize,
        summary_index: u32,
        part: &'a SummaryText,
    },
    #[serde(rename = "response.reasoning_summary_part.done")]
    SummaryPartDone {
        item_id: &'a str,
        output_index: usize,
        summary_index: u32,
        part: &'a SummaryText,
    },
    #[serde(rename = "response.reasoning_summary_text.delta")]
    SummaryDelta {
        item_id: &'a str,
        output_index: usize,
        summary_index: u32,
        delta: &'a str,
    },
    #[serde(rename = "response.reasoning_summary_text.done")]
    SummaryDone {
        item_id: &'a str,
        output_index: usize,
        summary_index: u32,
        text: &'a str,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgsDelta {
        item_id: &'a str,
        output_index: usize,
        delta: &'a str,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgsDone {
        item_id: &'a str,
        output_index: usize,
        name: &'a str,
        arguments: &'a str,
    },
}

impl Event<'_> {
    /// The SSE event name, equal to the JSON `type`.
    fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "response.created",
            Event::InProgress { .. } => "response.in_progress",
            Event::Completed { .. } => "response.completed",
            Event::Incomplete { .. } => "response.incomplete",
            Event::Failed { .. } => "response.failed",
            Event::ItemAdded { .. } => "response.output_item.added",
            Event::ItemDone { .. } => "response.output_item.done",
            Event::PartAdded { .. } => "response.content_part.added",
            Event::PartDone { .. } => "response.content_part.done",
            Event::TextDelta { .. } => "response.output_text.delta",
            Event::TextDone { .. } => "response.output_text.done",
            Event::SummaryPartAdded { .. } => "response.reasoning_summary_part.added",
            Event::SummaryPartDone { .. } => "response.reasoning_summary_part.done",
            Event::SummaryDelta { .. } => "response.reasoning_summary_text.delta",
            Event::SummaryDone { .. } => "response.reasoning_summary_text.done",
            Event::ArgsDelta { .. } => "response.function_call_arguments.delta",
            Event::ArgsDone { .. } => "response.function_call_arguments.done",
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
