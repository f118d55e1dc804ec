//! Anthropic Messages request → OpenAI chat request (PROTOCOLS.md §5.2).
//!
//! Mapping: `system` (string or text blocks) → one system message, texts
//! joined with `"\n\n"`; user `text` / `image` / `document` blocks → parts
//! (base64 → `data:` URL with `image/jpg` normalised, E28; PDF → a `file`
//! part named `document.pdf`; plain-text documents → text); each
//! `tool_result` → one `tool` message, emitted before the rest of the user
//! turn, texts joined with `"\n"`, `is_error` → `"Error: "` prefix, and its
//! images and documents in a user message right after the tool messages,
//! behind a `[from tool result <id>]` label (E20); assistant text → `content`,
//! `tool_use` → `tool_calls` with `arguments` = the `input` JSON as sent,
//! `thinking` / `redacted_thinking` → the `thinking_blocks` extension (E18);
//! client tools → function tools (`input_schema` as `parameters`, `$schema`
//! and `additionalProperties` kept, `strict` kept); `tool_choice`
//! auto/any/tool/none → auto/required/named/none and
//! `disable_parallel_tool_use` → `parallel_tool_calls: false`; `max_tokens`,
//! `temperature`, `top_p` as they are; `top_k` → the extra field `top_k`;
//! `stop_sequences` → `stop`; `metadata.user_id` → `user` (its SHA-256 in hex
//! when over OpenAI's 64 characters, as Claude Code's is); `thinking`
//! `enabled` → `reasoning_effort` (budget < 4096 low, < 16384 medium, else
//! high), else `output_config.effort` (`xhigh`/`max` → high);
//! `output_config.format` → a `json_schema` response format; `stream` →
//! `stream` with `include_usage` (§5.4 needs the usage); a `system`-role turn
//! (new, §2.3) → a system message in its place.
//!
//! What it invents: tool names rewritten to fit `^[a-zA-Z0-9_-]{1,64}$` with a
//! hash suffix, restored on the way back through [`InboundContext`] (E21);
//! `{"type":"object","properties":{}}` for a tool without `input_schema`;
//! `content: ""` for an assistant turn with only thinking blocks.
//!
//! What it drops: unknown top-level fields and unknown block types (Claude
//! Code sends new ones often, §5.1), `cache_control` everywhere, server tools
//! (a `type` other than `custom`), `tool_choice` / `parallel_tool_calls`
//! when no client tool is left, stop sequences after the fourth (OpenAI's
//! limit), empty text blocks (E1), thinking blocks without a signature (the
//! ones §5.3 makes up from `reasoning_content`: no provider accepts them back,
//! E18), `thinking` `adaptive` / `disabled`, tool-use and thinking blocks in
//! user turns, `search_result` blocks, and turns left empty.
//!
//! What it rejects with a 400 naming the field: a missing or mistyped
//! `model`, `messages` or `max_tokens` (the latter allowed to be missing for
//! `count_tokens`, [`to_openai_for_count`]), mistyped known fields and
//! malformed known blocks, roles other than user/assistant/system, image and
//! document sources it cannot express (Files API `file` ids, document URLs,
//! non-PDF base64 documents), and `thinking` `enabled` without a budget.

use super::InboundContext;
use crate::protocol::openai::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, FunctionCall, FunctionDef,
    ImageUrl, JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ResponseFormat, Stop,
    StreamOptions, ThinkingBlock, Tool, ToolCall, ToolChoice,
};
use crate::protocol::raw::RawObject;
use crate::protocol::Error;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Converts a `/v1/messages` body; `max_tokens` is required, as the
/// Anthropic API requires it.
pub fn to_openai(body: &[u8]) -> Result<(ChatRequest, InboundContext), Error> {
    convert(body, true)
}

/// Converts a `/v1/messages/count_tokens` body: like [`to_openai`], but
/// `max_tokens` may be missing (count bodies have none, §5.5).
pub fn to_openai_for_count(body: &[u8]) -> Result<(ChatRequest, InboundContext), Error> {
    convert(body, false)
}

/// OpenAI accepts at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 4;

fn convert(body: &[u8], require_max_tokens: bool) -> Result<(ChatRequest, InboundContext), Error> {
    let obj = RawObject::parse(body)
        .map_err(|_| Error::invalid("the request body must be a JSON object"))?;
    let model: String = required(&obj, "model", "a string")?;
    if model.is_empty() {
        return Err(Error::invalid("`model` must not be empty").with_param("model"));
    }
    let max_tokens: Option<u64> = optional(&obj, "max_tokens", "a non-negative integer")?;
    if require_max_tokens && max_tokens.is_none() {
        return Err(Error::invalid("`max_tokens` is required").with_param("max_tokens"));
    }
    let mut ctx = InboundContext::new(model.as_str());

    let mut messages = Vec::new();
    if let Some(system) = obj.get("system").filter(|v| !is_null(v)) {
        if let Some(text) = system_text(system)? {
            messages.push(Message::System {
                content: Content::Text(text),
                name: None,
            });
        }
    }
    let raw_messages: Vec<&RawValue> = required(&obj, "messages", "an array of messages")?;
    messages.reserve(raw_messages.len());
    for (i, m) in raw_messages.into_iter().enumerate() {
        convert_message(m, i, &mut ctx, &mut messages)?;
    }

    let tools = convert_tools(&obj, &mut ctx)?;
    let (tool_choice, parallel_tool_calls) = match &tools {
        Some(_) => convert_tool_choice(&obj, &mut ctx)?,
        None => (None, None),
    };

    let stream = optional::<bool>(&obj, "stream", "a boolean")?.unwrap_or(false);
    let stop = optional::<Vec<String>>(&obj, "stop_sequences", "an array of strings")?
        .filter(|s| !s.is_empty())
        .map(|mut s| {
            s.truncate(MAX_STOP_SEQUENCES);
            Stop::Many(s)
        });
    let user = optional::<Metadata>(&obj, "metadata", "an object")?
        .and_then(|m| m.user_id)
        .map(end_user_id);
    let output_config = optional::<OutputConfig>(&obj, "output_config", "an object")?;
    let thinking = optional::<ThinkingIn>(&obj, "thinking", "an object")?;
    let dropped = dropped_fields(body, &obj, thinking.as_ref())?;
    let reasoning_effort = match thinking {
        Some(t) if t.kind == "enabled" => {
            let Some(budget) = t.budget_tokens else {
                return Err(Error::invalid("`thinking.budget_tokens` is required")
                    .with_param("thinking.budget_tokens"));
            };
            Some(effort_for_budget(budget))
        }
        _ => None,
    }
    .or_else(|| {
        output_config
            .as_ref()
            .and_then(|o| o.effort.as_deref())
            .and_then(effort_for_level)
    })
    .map(str::to_owned);
    let response_format = output_config
        .and_then(|o| o.format)
        .filter(|f| f.kind == "json_schema")
        .map(|f| ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "output".to_owned(),
                description: None,
                schema: f.schema,
                strict: Some(true),
            },
        });
    let mut extra = Map::new();
    if let Some(top_k) = optional::<u64>(&obj, "top_k", "a non-negative integer")? {
        extra.insert("top_k".to_owned(), Value::from(top_k));
    }

    let req = ChatRequest {
        model,
        messages,
        max_tokens,
        temperature: optional(&obj, "temperature", "a number")?,
        top_p: optional(&obj, "top_p", "a number")?,
        stream,
        stream_options: stream.then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        stop,
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        user,
        reasoning_effort,
        extra,
        dropped,
        ..ChatRequest::default()
    };
    Ok((req, ctx))
}

/// The top-level members [`convert`] reads.
const CONVERTED: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "tools",
    "tool_choice",
    "stream",
    "stop_sequences",
    "metadata",
    "output_config",
    "thinking",
    "temperature",
    "top_p",
    "top_k",
];

/// What the lingua franca cannot carry, for `x-gateway-dropped-params`:
/// unknown top-level members (`context_management`, `container`,
/// `mcp_servers`, …), `cache_control` anywhere (with its `ttl`), `thinking`
/// other than `enabled`/`disabled` and its `display`, `output_config`
/// members other than `effort` and `format`, server tools and tool fields
/// other than `name`, `description`, `input_schema`, `strict`, `type` (e.g.
/// `defer_loading`).
fn dropped_fields(
    body: &[u8],
    obj: &RawObject<'_>,
    thinking: Option<&ThinkingIn>,
) -> Result<Vec<String>, Error> {
    let mut dropped: Vec<String> = obj
        .0
        .iter()
        .filter(|(k, _)| !CONVERTED.contains(&k.as_ref()))
        .map(|(k, _)| k.to_string())
        .collect();
    if crate::protocol::raw::has_key(body, "cache_control") {
        dropped.push("cache_control".to_owned());
    }
    if let Some(t) = thinking {
        if t.kind != "enabled" && t.kind != "disabled" {
            dropped.push("thinking".to_owned());
        } else if t.display.is_some() {
            dropped.push("thinking.display".to_owned());
        }
    }
    if let Some(raw) = obj.get("output_config").filter(|v| !is_null(v)) {
        let config: RawObject<'_> = parse(raw, || "output_config".to_owned(), "an object")?;
        for (k, _) in &config.0 {
            if k != "effort" && k != "format" {
                dropped.push(format!("output_config.{k}"));
            }
        }
    }
    if let Some(tools) = optional::<Vec<&RawValue>>(obj, "tools", "an array of tools")? {
        for (k, raw) in tools.into_iter().enumerate() {
            let tool: RawObject<'_> = parse(raw, || format!("tools[{k}]"), "a tool object")?;
            let server = tool
                .get("type")
                .is_some_and(|t| t.get() != r#""custom""# && !is_null(t));
            if server {
                dropped.push(format!("tools[{k}]"));
                continue;
            }
            for (f, _) in &tool.0 {
                if !matches!(
                    f.as_ref(),
                    "name" | "description" | "input_schema" | "strict" | "type" | "cache_control"
                ) {
                    dropped.push(format!("tools[{k}].{f}"));
                }
            }
        }
    }
    Ok(dropped)
}

// ---------------------------------------------------------------- helpers

pub(crate) fn is_null(v: &RawValue) -> bool {
    v.get() == "null"
}

/// Reads `raw` as `T`, or a 400 naming `param`. The parser's own message is
/// not passed on: it may quote the caller's text.
pub(crate) fn parse<'a, T: Deserialize<'a>>(
    raw: &'a RawValue,
    param: impl FnOnce() -> String,
    expected: &str,
) -> Result<T, Error> {
    serde_json::from_str(raw.get()).map_err(|_| {
        let param = param();
        Error::invalid(format!("`{param}` must be {expected}")).with_param(param)
    })
}

/// A top-level member; absent and `null` are `None`.
pub(crate) fn optional<'a, T: Deserialize<'a>>(
    obj: &RawObject<'a>,
    key: &'static str,
    expected: &str,
) -> Result<Option<T>, Error> {
    match obj.get(key).filter(|v| !is_null(v)) {
        None => Ok(None),
        Some(raw) => parse(raw, || key.to_owned(), expected).map(Some),
    }
}

/// A top-level member that must be there.
pub(crate) fn required<'a, T: Deserialize<'a>>(
    obj: &RawObject<'a>,
    key: &'static str,
    expected: &str,
) -> Result<T, Error> {
    optional(obj, key, expected)?
        .ok_or_else(|| Error::invalid(format!("`{key}` is required")).with_param(key))
}

/// OpenAI rejects a `user` longer than 64 characters (OpenRouter: 128);
/// Claude Code's `metadata.user_id` is about 150.
const MAX_USER_LEN: usize = 64;

/// `metadata.user_id` as an OpenAI `user`: as it is when short enough, else
/// its SHA-256 in hex (64 characters), still stable per end user.
fn end_user_id(id: String) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    if id.len() <= MAX_USER_LEN {
        return id;
    }
    let digest = Sha256::digest(id.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// `budget_tokens` → `reasoning_effort` (§5.2).
fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0..4096 => "low",
        4096..16384 => "medium",
        _ => "high",
    }
}

/// `output_config.effort` → `reasoning_effort`; unknown levels are dropped.
fn effort_for_level(level: &str) -> Option<&'static str> {
    match level {
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" | "xhigh" | "max" => Some("high"),
        _ => None,
    }
}

// ------------------------------------------------------------ wire shapes

/// Just the `type` of a block or tool, read first to dispatch, so that an
/// unknown type with unusual fields is skipped rather than refused.
#[derive(Deserialize)]
struct TypeProbe<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: &'a RawValue,
}

#[derive(Deserialize)]
struct TextBlock {
    text: String,
}

#[derive(Deserialize)]
struct SourceBlock<'a> {
    #[serde(borrow)]
    source: Source<'a>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    #[serde(default)]
    media_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolUseBlock<'a> {
    id: String,
    name: String,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ToolResultBlock<'a> {
    tool_use_id: String,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default)]
    is_error: Option<bool>,
}

#[derive(Deserialize)]
struct ThinkingBlockIn {
    thinking: String,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
struct RedactedThinkingBlock {
    data: String,
}

#[derive(Deserialize)]
struct ToolDef {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

#[derive(Deserialize)]
struct ToolChoiceIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct ThinkingIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    budget_tokens: Option<u64>,
    /// `summarized` / `omitted`: which thinking text comes back.
    #[serde(default)]
    display: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct OutputConfig {
    #[serde(default)]
    effort: Option<String>,
    #[serde(default)]
    format: Option<OutputFormat>,
}

#[derive(Deserialize)]
struct OutputFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    schema: Option<Value>,
}

/// A message's `content`: a string, or the raw blocks.
enum RawContent<'a> {
    Text(String),
    Blocks(Vec<&'a RawValue>),
}

fn raw_content<'a>(
    raw: &'a RawValue,
    param: impl FnOnce() -> String,
) -> Result<RawContent<'a>, Error> {
    if raw.get().starts_with('"') {
        parse(raw, param, "a string").map(RawContent::Text)
    } else {
        parse(raw, param, "a string or an array of content blocks").map(RawContent::Blocks)
    }
}

/// The `type` of a block; a block that is not an object with a string `type`
/// is malformed.
fn block_type<'a>(raw: &'a RawValue, param: &dyn Fn() -> String) -> Result<Cow<'a, str>, Error> {
    parse::<TypeProbe<'a>>(raw, param, "a content block object")?
        .kind
        .ok_or_else(|| {
            let param = param();
            Error::invalid(format!("`{param}` has no `type`")).with_param(param)
        })
}

// ----------------------------------------------------------------- system

/// `system`: a string, or text blocks joined with `"\n\n"`; `None` when
/// empty.
fn system_text(raw: &RawValue) -> Result<Option<String>, Error> {
    let text = match raw_content(raw, || "system".to_owned())? {
        RawContent::Text(s) => s,
        RawContent::Blocks(blocks) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (j, b) in blocks.into_iter().enumerate() {
                let param = || format!("system[{j}]");
                if block_type(b, &param)? == "text" {
                    let t: TextBlock = parse(b, param, "a text block")?;
                    if !t.text.is_empty() {
                        texts.push(t.text);
                    }
                }
            }
            texts.join("\n\n")
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

// --------------------------------------------------------------- messages

fn convert_message(
    raw: &RawValue,
    i: usize,
    ctx: &mut InboundContext,
    out: &mut Vec<Message>,
) -> Result<(), Error> {
    let m: RawMessage<'_> = parse(
        raw,
        || format!("messages[{i}]"),
        "an object with `role` and `content`",
    )?;
    let content = raw_content(m.content, || format!("messages[{i}].content"))?;
    match m.role.as_ref() {
        "user" => user_turn(content, i, out),
        "assistant" => {
            out.extend(assistant_turn(content, i, ctx)?);
            Ok(())
        }
        // The new mid-conversation system turn (§2.3): its text, in place.
        "system" => {
            let text = match content {
                RawContent::Text(s) => s,
                RawContent::Blocks(blocks) => {
                    let mut text = String::new();
                    for (j, b) in blocks.into_iter().enumerate() {
                        let param = || format!("messages[{i}].content[{j}]");
                        if block_type(b, &param)? == "text" {
                            let t: TextBlock = parse(b, param, "a text block")?;
                            if !text.is_empty() && !t.text.is_empty() {
                                text.push_str("\n\n");
                            }
                            text.push_str(&t.text);
                        }
                    }
                    text
                }
            };
            if !text.is_empty() {
                out.push(Message::System {
                    content: Content::Text(text),
                    name: None,
                });
            }
            Ok(())
        }
        _ => Err(Error::invalid("`role` must be `user` or `assistant`")
            .with_param(format!("messages[{i}].role"))),
    }
}

/// A user turn: its tool results as `tool` messages first, then one user
/// message with the tool results' images and documents and the turn's own
/// content (E20).
fn user_turn(content: RawContent<'_>, i: usize, out: &mut Vec<Message>) -> Result<(), Error> {
    let blocks = match content {
        RawContent::Text(s) => {
            if !s.is_empty() {
                out.push(user_message(vec![ContentPart::Text { text: s }]));
            }
            return Ok(());
        }
        RawContent::Blocks(blocks) => blocks,
    };
    let mut tool_parts = Vec::new();
    let mut parts = Vec::with_capacity(blocks.len());
    for (j, b) in blocks.into_iter().enumerate() {
        let param = || format!("messages[{i}].content[{j}]");
        match block_type(b, &param)?.as_ref() {
            "text" => {
                let t: TextBlock = parse(b, param, "a text block")?;
                if !t.text.is_empty() {
                    parts.push(ContentPart::Text { text: t.text });
                }
            }
            "image" => parts.push(image_part(b, &param)?),
            "document" => parts.extend(document_parts(b, &param)?),
            "tool_result" => {
                let r: ToolResultBlock<'_> = parse(b, param, "a tool_result block")?;
                let (text, media) = tool_result(&r, &param)?;
                if !media.is_empty() {
                    tool_parts.push(ContentPart::Text {
                        text: format!("[from tool result {}]", r.tool_use_id),
                    });
                    tool_parts.extend(media);
                }
                out.push(Message::Tool {
                    content: Content::Text(text),
                    tool_call_id: r.tool_use_id,
                });
            }
            // tool_use / thinking in a user turn, search_result, server-tool
            // results, and whatever is new.
            _ => {}
        }
    }
    tool_parts.append(&mut parts);
    if !tool_parts.is_empty() {
        out.push(user_message(tool_parts));
    }
    Ok(())
}

/// A user message; a lone text part is sent as a plain string.
fn user_message(mut parts: Vec<ContentPart>) -> Message {
    let content = match parts.as_mut_slice() {
        [ContentPart::Text { text }] => Content::Text(std::mem::take(text)),
        _ => Content::Parts(parts),
    };
    Message::User {
        content,
        name: None,
    }
}

/// A `tool_result` block → the tool message text (texts joined with `"\n"`,
/// `"Error: "` in front when `is_error`) and its images and documents.
fn tool_result(
    r: &ToolResultBlock<'_>,
    param: &dyn Fn() -> String,
) -> Result<(String, Vec<ContentPart>), Error> {
    let mut texts: Vec<String> = Vec::new();
    let mut media = Vec::new();
    if let Some(raw) = r.content.filter(|c| !is_null(c)) {
        let content_param = || format!("{}.content", param());
        match raw_content(raw, content_param)? {
            RawContent::Text(s) => texts.push(s),
            RawContent::Blocks(blocks) => {
                for (k, b) in blocks.into_iter().enumerate() {
                    let param = || format!("{}.content[{k}]", param());
                    match block_type(b, &param)?.as_ref() {
                        "text" => {
                            let t: TextBlock = parse(b, param, "a text block")?;
                            if !t.text.is_empty() {
                                texts.push(t.text);
                            }
                        }
                        "image" => media.push(image_part(b, &param)?),
                        "document" => media.extend(document_parts(b, &param)?),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut text = texts.join("\n");
    if r.is_error == Some(true) {
        text = if text.is_empty() {
            "Error".to_owned()
        } else {
            format!("Error: {text}")
        };
    }
    Ok((text, media))
}

/// An `image` block → an `image_url` part (§4.11, E28).
fn image_part(raw: &RawValue, param: &dyn Fn() -> String) -> Result<ContentPart, Error> {
    let b: SourceBlock<'_> = parse(raw, param, "an image block with a `source`")?;
    let source_param = || format!("{}.source", param());
    let url = match b.source.kind.as_ref() {
        "base64" => data_url(&b.source, &source_param)?,
        "url" => b.source.url.ok_or_else(|| missing(&source_param, "url"))?,
        _ => return Err(unsupported_source(&source_param)),
    };
    Ok(ContentPart::ImageUrl {
        image_url: ImageUrl { url, detail: None },
    })
}

/// A `document` block → a `file` part (PDF) or text parts (plain-text and
/// content documents).
fn document_parts(raw: &RawValue, param: &dyn Fn() -> String) -> Result<Vec<ContentPart>, Error> {
    let b: SourceBlock<'_> = parse(raw, param, "a document block with a `source`")?;
    let source_param = || format!("{}.source", param());
    match b.source.kind.as_ref() {
        "base64" => {
            let url = data_url(&b.source, &source_param)?;
            if !url.starts_with("data:application/pdf;") {
                return Err(Error::invalid("base64 documents must be `application/pdf`")
                    .with_param(format!("{}.media_type", source_param())));
            }
            Ok(vec![ContentPart::File {
                file: FilePart {
                    file_data: Some(url),
                    file_id: None,
                    filename: Some("document.pdf".to_owned()),
                },
            }])
        }
        "text" => {
            let text = b
                .source
                .data
                .ok_or_else(|| missing(&source_param, "data"))?;
            Ok(if text.is_empty() {
                Vec::new()
            } else {
                vec![ContentPart::Text {
                    text: text.into_owned(),
                }]
            })
        }
        "content" => {
            let mut parts = Vec::new();
            let Some(raw) = b.source.content.filter(|c| !is_null(c)) else {
                return Ok(parts);
            };
            let content_param = || format!("{}.content", source_param());
            match raw_content(raw, content_param)? {
                RawContent::Text(s) if !s.is_empty() => parts.push(ContentPart::Text { text: s }),
                RawContent::Text(_) => {}
                RawContent::Blocks(blocks) => {
                    for (k, b) in blocks.into_iter().enumerate() {
                        let param = || format!("{}.content[{k}]", source_param());
                        match block_type(b, &param)?.as_ref() {
                            "text" => {
                                let t: TextBlock = parse(b, param, "a text block")?;
                                if !t.text.is_empty() {
                                    parts.push(ContentPart::Text { text: t.text });
                                }
                            }
                            "image" => parts.push(image_part(b, &param)?),
                            _ => {}
                        }
                    }
                }
            }
            Ok(parts)
        }
        _ => Err(unsupported_source(&source_param)),
    }
}

/// `data:<media type>;base64,<data>`, the media type lower-cased, stripped
/// of parameters, `image/jpg` → `image/jpeg` (§4.11, E28).
fn data_url(source: &Source<'_>, param: &dyn Fn() -> String) -> Result<String, Error> {
    let media_type = source
        .media_type
        .as_deref()
        .ok_or_else(|| missing(param, "media_type"))?;
    let data = source
        .data
        .as_deref()
        .ok_or_else(|| missing(param, "data"))?;
    let mut mime = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "image/jpg" {
        mime = "image/jpeg".to_owned();
    }
    Ok(format!("data:{mime};base64,{data}"))
}

fn missing(param: &dyn Fn() -> String, field: &str) -> Error {
    let param = format!("{}.{field}", param());
    Error::invalid(format!("`{param}` is required")).with_param(param)
}

fn unsupported_source(param: &dyn Fn() -> String) -> Error {
    Error::invalid("this source type is not supported by this gateway").with_param(param())
}

/// An assistant turn → one assistant message, or nothing when it has no
/// content the upstream can use.
fn assistant_turn(
    content: RawContent<'_>,
    i: usize,
    ctx: &mut InboundContext,
) -> Result<Option<Message>, Error> {
    let blocks = match content {
        RawContent::Text(s) if s.is_empty() => return Ok(None),
        RawContent::Text(s) => {
            return Ok(Some(Message::Assistant(AssistantMessage {
                content: Some(Content::Text(s)),
                ..AssistantMessage::default()
            })))
        }
        RawContent::Blocks(blocks) => blocks,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut thinking = Vec::new();
    for (j, b) in blocks.into_iter().enumerate() {
        let param = || format!("messages[{i}].content[{j}]");
        match block_type(b, &param)?.as_ref() {
            "text" => text.push_str(&parse::<TextBlock>(b, param, "a text block")?.text),
            "tool_use" => {
                let t: ToolUseBlock<'_> = parse(b, param, "a tool_use block")?;
                let arguments = match t.input {
                    None => "{}".to_owned(),
                    Some(raw) if is_null(raw) => "{}".to_owned(),
                    Some(raw) => raw.get().to_owned(),
                };
                calls.push(ToolCall {
                    id: t.id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: ctx.upstream_tool_name(t.name),
                        arguments,
                    },
                });
            }
            "thinking" => {
                let t: ThinkingBlockIn = parse(b, param, "a thinking block")?;
                match t.signature {
                    Some(signature) if !signature.is_empty() => {
                        thinking.push(ThinkingBlock::Thinking {
                            thinking: t.thinking,
                            signature,
                        })
                    }
                    _ => {}
                }
            }
            "redacted_thinking" => {
                let t: RedactedThinkingBlock = parse(b, param, "a redacted_thinking block")?;
                thinking.push(ThinkingBlock::RedactedThinking { data: t.data });
            }
            // server_tool_use, web_search_tool_result and anything new.
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() && thinking.is_empty() {
        return Ok(None);
    }
    let content = match (text.is_empty(), calls.is_empty()) {
        (false, _) => Some(Content::Text(text)),
        (true, true) => Some(Content::Text(String::new())),
        (true, false) => None,
    };
    Ok(Some(Message::Assistant(AssistantMessage {
        content,
        tool_calls: (!calls.is_empty()).then_some(calls),
        thinking_blocks: (!thinking.is_empty()).then_some(thinking),
        ..AssistantMessage::default()
    })))
}

// ------------------------------------------------------------------ tools

/// Client tools → function tools; `None` when there are none left.
fn convert_tools(
    obj: &RawObject<'_>,
    ctx: &mut InboundContext,
) -> Result<Option<Vec<Tool>>, Error> {
    let Some(raw_tools) = optional::<Vec<&RawValue>>(obj, "tools", "an array of tools")? else {
        return Ok(None);
    };
    let mut tools = Vec::with_capacity(raw_tools.len());
    for (k, raw) in raw_tools.into_iter().enumerate() {
        let param = || format!("tools[{k}]");
        let probe: TypeProbe<'_> = parse(raw, param, "a tool object")?;
        if probe.kind.is_some_and(|t| t != "custom") {
            continue; // a server tool: no OpenAI equivalent (§5.2)
        }
        let t: ToolDef = parse(raw, param, "a tool with a `name` and an `input_schema`")?;
        tools.push(Tool {
            kind: "function".to_owned(),
            function: FunctionDef {
                name: ctx.upstream_tool_name(t.name),
                description: t.description,
                parameters: Some(
                    t.input_schema
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                ),
                strict: t.strict,
            },
        });
    }
    Ok((!tools.is_empty()).then_some(tools))
}

/// `tool_choice` → (`tool_choice`, `parallel_tool_calls`); an unknown type is
/// left out.
fn convert_tool_choice(
    obj: &RawObject<'_>,
    ctx: &mut InboundContext,
) -> Result<(Option<ToolChoice>, Option<bool>), Error> {
    let Some(tc) = optional::<ToolChoiceIn>(obj, "tool_choice", "an object with a `type`")? else {
        return Ok((None, None));
    };
    let choice = match tc.kind.as_str() {
        "auto" => Some(ToolChoice::Mode("auto".to_owned())),
        "any" => Some(ToolChoice::Mode("required".to_owned())),
        "none" => Some(ToolChoice::Mode("none".to_owned())),
        "tool" => {
            let Some(name) = tc.name else {
                return Err(
                    Error::invalid("`tool_choice.name` is required").with_param("tool_choice.name")
                );
            };
            Some(ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction {
                    name: ctx.upstream_tool_name(name),
                },
            }))
        }
        _ => None,
    };
    let parallel = (tc.disable_parallel_tool_use == Some(true)).then_some(false);
    Ok((choice, parallel))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
