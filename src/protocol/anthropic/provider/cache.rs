//! An OpenAI-format caller's prompt-cache breakpoints
//! ([`crate::protocol::openai::cache`]) as Anthropic `cache_control`
//! (PROTOCOLS.md §2.3): on the tool, system block or message block the
//! marked tool, part or message became (a message's mark goes on its last
//! block). Anthropic allows at most 4 per request; with more, the last 4 in
//! prompt order (tools, system, messages) win, as each caches the whole
//! prefix before it, and the rest are named as dropped. A `ttl` of `5m` or
//! `1h` is kept; another is dropped and named.

use crate::protocol::anthropic::types::{
    BlockParam, MessagesRequest, SourceParam, ToolResultContent,
};
use crate::protocol::openai::cache::At;
use crate::protocol::openai::{ChatRequest, Content, ContentPart, Message};
use serde_json::{json, Value};
use std::ops::Range;

/// The most breakpoints Anthropic accepts in one request.
pub const MAX_BREAKPOINTS: usize = 4;

/// The most marks looked at (the caller's last ones): locating one costs a
/// pass over the request's blocks, and earlier marks would lose anyway.
const MAX_MARKS: usize = 16;

/// Where in the Anthropic request a breakpoint goes, in prompt order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Tool(usize),
    System(usize),
    Block(usize, usize),
}

/// `body` as JSON with the caller's breakpoints set, and the names of what
/// could not be kept.
pub fn with_breakpoints(
    req: &ChatRequest,
    body: &MessagesRequest<'_>,
) -> Result<(Value, Vec<&'static str>), serde_json::Error> {
    let mut dropped = Vec::new();
    let mut places: Vec<(Place, Value)> = Vec::new();
    let marks = &req.cache_breakpoints;
    if marks.len() > MAX_MARKS {
        dropped.push("cache_control");
    }
    for bp in &marks[marks.len().saturating_sub(MAX_MARKS)..] {
        let Some(place) = place(req, body, bp.at) else {
            continue;
        };
        let control = match bp.ttl.as_deref() {
            None => json!({"type": "ephemeral"}),
            Some(ttl @ ("5m" | "1h")) => json!({"type": "ephemeral", "ttl": ttl}),
            Some(_) => {
                dropped.push("cache_control.ttl");
                json!({"type": "ephemeral"})
            }
        };
        places.retain(|(p, _)| *p != place);
        places.push((place, control));
    }
    places.sort_by_key(|(p, _)| *p);
    if places.len() > MAX_BREAKPOINTS {
        places.drain(..places.len() - MAX_BREAKPOINTS);
        if !dropped.contains(&"cache_control") {
            dropped.push("cache_control");
        }
    }
    let mut v = serde_json::to_value(body)?;
    for (place, control) in places {
        let target = match place {
            Place::Tool(k) => &mut v["tools"][k],
            Place::System(b) => &mut v["system"][b],
            Place::Block(m, b) => &mut v["messages"][m]["content"][b],
        };
        if let Some(obj) = target.as_object_mut() {
            obj.insert("cache_control".to_owned(), control);
        }
    }
    Ok((v, dropped))
}

/// Where the tool, part or message at `at` ended up, if anywhere (blank
/// text is not sent).
fn place(req: &ChatRequest, body: &MessagesRequest<'_>, at: At) -> Option<Place> {
    if let At::Tool(k) = at {
        let name = &req.tools.as_ref()?.get(k)?.function.name;
        let sent = super::request::tool_name(name);
        return body
            .tools
            .iter()
            .position(|t| t.name == sent)
            .map(Place::Tool);
    }
    let sources = sources(req, at);
    let inside = |b: &BlockParam<'_>| {
        block_text(b).is_some_and(|t| {
            let r = span(t);
            sources.iter().any(|s| s.start <= r.start && r.end <= s.end)
        })
    };
    let in_messages = body.messages.iter().enumerate().flat_map(|(m, msg)| {
        msg.content
            .iter()
            .enumerate()
            .filter(|(_, b)| inside(b))
            .map(move |(b, _)| Place::Block(m, b))
    });
    let in_system = body
        .system
        .iter()
        .enumerate()
        .filter(|(_, b)| inside(b))
        .map(|(b, _)| Place::System(b));
    in_system.chain(in_messages).last()
}

/// The memory spans of the caller's text a part or message is made of.
fn sources(req: &ChatRequest, at: At) -> Vec<Range<usize>> {
    let (i, part) = match at {
        At::Tool(_) => return Vec::new(),
        At::Message(i) => (i, None),
        At::Part(i, j) => (i, Some(j)),
    };
    let Some(message) = req.messages.get(i) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let content = match message {
        Message::System { content, .. }
        | Message::Developer { content, .. }
        | Message::User { content, .. }
        | Message::Tool { content, .. } => Some(content),
        Message::Assistant(a) => {
            for call in a.tool_calls.iter().flatten().filter(|_| part.is_none()) {
                out.push(span(&call.function.arguments));
            }
            a.content.as_ref()
        }
        Message::Function { .. } => None,
    };
    match content {
        Some(Content::Text(s)) if part.is_none() => out.push(span(s)),
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                if part.is_none_or(|want| want == j) {
                    out.extend(part_text(p).map(span));
                }
            }
        }
        _ => {}
    }
    out
}

fn part_text(p: &ContentPart) -> Option<&str> {
    match p {
        ContentPart::Text { text } => Some(text),
        ContentPart::ImageUrl { image_url } => Some(&image_url.url),
        ContentPart::File { file } => file.file_data.as_deref(),
        ContentPart::InputAudio { .. } | ContentPart::Other(_) => None,
    }
}

/// The caller's text a block was made from (blocks borrow it).
fn block_text<'a>(b: &'a BlockParam<'_>) -> Option<&'a str> {
    match b {
        BlockParam::Text { text } => Some(text),
        BlockParam::Image { source } | BlockParam::Document { source } => match source {
            SourceParam::Base64 { data, .. } => Some(data),
            SourceParam::Url { url } => Some(url),
        },
        BlockParam::ToolUse { input, .. } => Some(input.get()),
        BlockParam::ToolResult { content, .. } => match content.as_ref()? {
            ToolResultContent::Text(s) => Some(s),
            ToolResultContent::Blocks(blocks) => blocks.last().and_then(block_text),
        },
        BlockParam::Thinking { .. } | BlockParam::RedactedThinking { .. } => None,
    }
}

fn span(s: &str) -> Range<usize> {
    let start = s.as_ptr() as usize;
    start..start + s.len()
}
