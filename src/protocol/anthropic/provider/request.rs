//! OpenAI chat request → Anthropic Messages request (PROTOCOLS.md §4.1).
//!
//! What it invents: a placeholder user turn (`"."`) when the conversation would
//! not start with a user turn (E6); an empty `description` for tools without
//! one; a synthetic `json_response` tool for JSON mode (see the module docs of
//! [`super`]); `{"type":"object","properties":{}}` for tools without
//! `parameters`; sanitised tool-call ids (E7) and tool names.
//!
//! What it drops, listing the parameter names in [`Converted::dropped`]:
//! `seed`, `presence_penalty`, `frequency_penalty`, every unknown top-level
//! field except `top_k`, `top_p` when `temperature` is set (E13),
//! `temperature`/`top_p`/`top_k` when thinking is on, `reasoning_effort` when
//! tool use is forced (Anthropic rejects thinking with a forced tool, §2.4),
//! and `tools[].function.strict` / `response_format.json_schema.strict`
//! (the schema guides the model but is not enforced). Silently dropped: blank text (E1), empty
//! and whitespace-only stop sequences (E14), `image_url.detail`, message
//! `name`s, assistant `reasoning_content` without `thinking_blocks` (it has no
//! signature, E18), and a trailing assistant message when thinking or JSON
//! mode is on (E19).
//!
//! What it rejects with a 400 naming the field: `n` other than 1,
//! unparseable or non-object tool arguments, unknown `reasoning_effort` and
//! `tool_choice` values, audio and unknown content parts, unsupported image
//! media types, `file_id` references and legacy `function` messages.

use super::{Converted, RequestOptions, ResponseContext};
use crate::protocol::anthropic::types::{
    BlockParam, MessageParam, MessagesRequest, Metadata, Role, SourceParam, ThinkingParam,
    ToolChoiceParam, ToolParam, ToolResultContent,
};
use crate::protocol::openai::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, Message, ResponseFormat, Stop,
    ThinkingBlock, Tool, ToolChoice,
};
use crate::protocol::{Error, ErrorKind};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

/// The text of the user turn put in front of a conversation that does not
/// start with one (E6).
pub const PLACEHOLDER_USER_TEXT: &str = ".";

/// Base name of the synthetic JSON-mode tool.
const JSON_TOOL_NAME: &str = "json_response";

/// What the synthetic JSON-mode tool tells the model.
const JSON_TOOL_DESCRIPTION: &str =
    "Respond with the final answer as this tool's input: a JSON object matching the schema.";

/// Converts an OpenAI chat request into an Anthropic Messages body.
pub fn to_anthropic(req: &ChatRequest, opts: &RequestOptions) -> Result<Converted, Error> {
    if let Some(n) = req.n {
        if n != 1 {
            return Err(
                Error::invalid("`n` other than 1 is not supported by this model").with_param("n"),
            );
        }
    }
    let mut dropped = Dropped::default();
    let mut ctx = ResponseContext::default();
    if req.seed.is_some() {
        dropped.push("seed");
    }
    if req.presence_penalty.is_some() {
        dropped.push("presence_penalty");
    }
    if req.frequency_penalty.is_some() {
        dropped.push("frequency_penalty");
    }

    let json_schema = json_mode_schema(req)?;
    let json_mode = json_schema.is_some();
    if let Some(ResponseFormat::JsonSchema { json_schema }) = &req.response_format {
        if json_schema.strict == Some(true) {
            dropped.push("response_format.json_schema.strict");
        }
    }
    let (tools, tool_choice) = convert_tools(req, json_schema, &mut ctx, &mut dropped)?;
    let forced = matches!(
        tool_choice,
        Some(ToolChoiceParam::Any { .. } | ToolChoiceParam::Tool { .. })
    );

    let budget = thinking_budget(req.reasoning_effort.as_deref())?;
    let budget = match budget {
        Some(_) if forced => {
            dropped.push("reasoning_effort");
            None
        }
        b => b,
    };

    let mut max_tokens = req.max_output_tokens().unwrap_or(opts.default_max_tokens);
    let mut temperature = req.temperature.map(|t| t.clamp(0.0, 1.0));
    let mut top_p = req.top_p;
    let mut top_k = match req.extra.get("top_k") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            Error::invalid("`top_k` must be a non-negative integer").with_param("top_k")
        })?),
    };
    if temperature.is_some() && top_p.take().is_some() {
        dropped.push("top_p");
    }
    let thinking = budget.map(|budget_tokens| {
        if max_tokens <= budget_tokens {
            max_tokens = budget_tokens.saturating_add(max_tokens.max(1));
        }
        if temperature.take().is_some() {
            dropped.push("temperature");
        }
        if top_p.take().is_some() {
            dropped.push("top_p");
        }
        if top_k.take().is_some() {
            dropped.push("top_k");
        }
        ThinkingParam::Enabled { budget_tokens }
    });

    for key in req.extra.keys() {
        if key != "top_k" {
            dropped.push(key);
        }
    }

    let (system, turns) = convert_messages(&req.messages)?;
    let messages = finish_turns(turns, thinking.is_some() || json_mode, &mut ctx);

    let body = MessagesRequest {
        model: opts.api_model,
        max_tokens,
        system,
        messages,
        temperature,
        top_p,
        top_k,
        stop_sequences: stop_sequences(req.stop.as_ref()),
        stream: req.stream,
        metadata: req
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|user_id| Metadata { user_id }),
        tools,
        tool_choice,
        thinking,
    };
    let body = serde_json::to_vec(&body).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "could not serialise the Anthropic request",
        )
    })?;
    Ok(Converted {
        body,
        dropped: dropped.0,
        ctx,
    })
}

/// Parameter names that were not sent, without duplicates.
#[derive(Default)]
struct Dropped(Vec<String>);

impl Dropped {
    fn push(&mut self, name: &str) {
        if !self.0.iter().any(|d| d == name) {
            self.0.push(name.to_owned());
        }
    }
}

/// `reasoning_effort` → thinking budget (§4.1, LiteLLM's defaults).
fn thinking_budget(effort: Option<&str>) -> Result<Option<u64>, Error> {
    Ok(match effort {
        None | Some("none") => None,
        Some("minimal" | "low") => Some(1024),
        Some("medium") => Some(2048),
        Some("high" | "xhigh") => Some(4096),
        Some(_) => {
            return Err(Error::invalid(
                "`reasoning_effort` must be one of none, minimal, low, medium, high, xhigh",
            )
            .with_param("reasoning_effort"))
        }
    })
}

/// `stop` → `stop_sequences` without empty or whitespace-only entries (E14).
fn stop_sequences(stop: Option<&Stop>) -> Vec<&str> {
    let all: &[String] = match stop {
        None => &[],
        Some(Stop::One(s)) => std::slice::from_ref(s),
        Some(Stop::Many(v)) => v,
    };
    all.iter()
        .map(String::as_str)
        .filter(|s| !is_blank(s))
        .collect()
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

// ------------------------------------------------------------------ tools

/// The input schema of the JSON-mode tool, if JSON mode is on.
fn json_mode_schema(req: &ChatRequest) -> Result<Option<Cow<'_, Value>>, Error> {
    match &req.response_format {
        None | Some(ResponseFormat::Text) => Ok(None),
        Some(ResponseFormat::JsonObject) => Ok(Some(Cow::Owned(json!({"type": "object"})))),
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            None => Ok(Some(Cow::Owned(json!({"type": "object"})))),
            Some(schema) => object_schema(schema).map(Some).ok_or_else(|| {
                Error::invalid("the JSON schema's root must be an object schema")
                    .with_param("response_format.json_schema.schema")
            }),
        },
    }
}

/// `schema` as an object schema: as is when `type` is `object`, with
/// `"type":"object"` added when it has no `type`, `None` otherwise.
fn object_schema(schema: &Value) -> Option<Cow<'_, Value>> {
    let map = schema.as_object()?;
    match map.get("type") {
        Some(Value::String(t)) if t == "object" => Some(Cow::Borrowed(schema)),
        None => {
            let mut map = map.clone();
            map.insert("type".to_owned(), Value::String("object".to_owned()));
            Some(Cow::Owned(Value::Object(map)))
        }
        Some(_) => None,
    }
}

/// The caller's `tool_choice`, before JSON mode is taken into account.
enum Choice<'a> {
    /// No `tool_choice` given.
    Default,
    Auto,
    Any,
    None,
    Tool(&'a str),
}

/// Reads `tool_choice`; `allowed_tools` also returns the allowed names.
fn read_tool_choice(req: &ChatRequest) -> Result<(Choice<'_>, Option<Vec<&str>>), Error> {
    let bad = || Error::invalid("unsupported `tool_choice` value").with_param("tool_choice");
    Ok(match &req.tool_choice {
        None => (Choice::Default, None),
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => (Choice::Auto, None),
            "required" => (Choice::Any, None),
            "none" => (Choice::None, None),
            _ => return Err(bad()),
        },
        Some(ToolChoice::Named(n)) => (Choice::Tool(&n.function.name), None),
        Some(ToolChoice::Other(v)) => {
            if v.get("type").and_then(Value::as_str) != Some("allowed_tools") {
                return Err(bad());
            }
            let allowed = v.get("allowed_tools").ok_or_else(bad)?;
            let choice = match allowed.get("mode").and_then(Value::as_str) {
                None | Some("auto") => Choice::Auto,
                Some("required") => Choice::Any,
                Some(_) => return Err(bad()),
            };
            let names = allowed
                .get("tools")
                .and_then(Value::as_array)
                .ok_or_else(bad)?
                .iter()
                .filter_map(|t| {
                    t.get("function")
                        .and_then(|f| f.get("name"))
                        .or_else(|| t.get("name"))
                        .and_then(Value::as_str)
                })
                .collect();
            (choice, Some(names))
        }
    })
}

/// `tools` and `tool_choice`, including the synthetic JSON-mode tool.
fn convert_tools<'a>(
    req: &'a ChatRequest,
    json_schema: Option<Cow<'a, Value>>,
    ctx: &mut ResponseContext,
    dropped: &mut Dropped,
) -> Result<(Vec<ToolParam<'a>>, Option<ToolChoiceParam<'a>>), Error> {
    let (choice, allowed) = read_tool_choice(req)?;
    let mut tools = Vec::new();
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        if let Some(allowed) = &allowed {
            if !allowed.contains(&tool.function.name.as_str()) {
                continue;
            }
        }
        tools.push(convert_tool(tool, i, ctx, dropped)?);
    }
    let has_user_tools = !tools.is_empty();
    let mut tool_choice = match json_schema {
        Some(input_schema) => {
            let mut name = JSON_TOOL_NAME.to_owned();
            while tools.iter().any(|t| t.name == name) {
                name.push('_');
            }
            tools.push(ToolParam {
                name: Cow::Owned(name.clone()),
                description: JSON_TOOL_DESCRIPTION,
                input_schema,
            });
            ctx.json_tool = Some(name.clone());
            Some(match choice {
                Choice::Tool(n) if has_user_tools => ToolChoiceParam::Tool {
                    name: tool_name(n),
                    disable_parallel_tool_use: None,
                },
                Choice::Default | Choice::Auto | Choice::Any if has_user_tools => {
                    ToolChoiceParam::Any {
                        disable_parallel_tool_use: None,
                    }
                }
                _ => ToolChoiceParam::Tool {
                    name: Cow::Owned(name),
                    disable_parallel_tool_use: None,
                },
            })
        }
        None if !has_user_tools => None,
        None => match choice {
            Choice::Default => None,
            Choice::Auto => Some(ToolChoiceParam::Auto {
                disable_parallel_tool_use: None,
            }),
            Choice::Any => Some(ToolChoiceParam::Any {
                disable_parallel_tool_use: None,
            }),
            Choice::None => Some(ToolChoiceParam::None),
            Choice::Tool(n) => Some(ToolChoiceParam::Tool {
                name: tool_name(n),
                disable_parallel_tool_use: None,
            }),
        },
    };
    if req.parallel_tool_calls == Some(false) && !tools.is_empty() {
        match &mut tool_choice {
            None => {
                tool_choice = Some(ToolChoiceParam::Auto {
                    disable_parallel_tool_use: Some(true),
                })
            }
            Some(
                ToolChoiceParam::Auto {
                    disable_parallel_tool_use: d,
                }
                | ToolChoiceParam::Any {
                    disable_parallel_tool_use: d,
                }
                | ToolChoiceParam::Tool {
                    disable_parallel_tool_use: d,
                    ..
                },
            ) => *d = Some(true),
            Some(ToolChoiceParam::None) => {}
        }
    }
    Ok((tools, tool_choice))
}

/// One OpenAI function tool → Anthropic tool.
fn convert_tool<'a>(
    tool: &'a Tool,
    i: usize,
    ctx: &mut ResponseContext,
    dropped: &mut Dropped,
) -> Result<ToolParam<'a>, Error> {
    if tool.kind != "function" {
        return Err(
            Error::invalid("only `function` tools are supported by this model")
                .with_param(format!("tools[{i}].type")),
        );
    }
    let f = &tool.function;
    let name = tool_name(&f.name);
    if let Cow::Owned(sent) = &name {
        if !ctx.tool_names.iter().any(|(s, _)| s == sent) {
            ctx.tool_names.push((sent.clone(), f.name.clone()));
        }
    }
    if f.strict == Some(true) {
        dropped.push("tools[].function.strict");
    }
    let input_schema = f
        .parameters
        .as_ref()
        .and_then(object_schema)
        .unwrap_or_else(|| Cow::Owned(json!({"type": "object", "properties": {}})));
    Ok(ToolParam {
        name,
        description: f.description.as_deref().unwrap_or(""),
        input_schema,
    })
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// FNV-1a, folded to 32 bits: a short, stable collision guard.
fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", (h ^ (h >> 32)) as u32)
}

/// Replaces characters outside `[a-zA-Z0-9_-]` with `_`, keeps at most `keep`
/// of them, and appends `_` and a hash of the original.
fn sanitized(s: &str, keep: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && is_id_char(c as u8) {
                c
            } else {
                '_'
            }
        })
        .take(keep)
        .collect();
    out.push('_');
    out.push_str(&short_hash(s));
    out
}

/// A tool-call id valid for Anthropic (`^[a-zA-Z0-9_-]+$`, E7). Valid ids
/// pass unchanged; others become `<id with bad characters as _>_<hash>`, the
/// same for a `tool_use.id` and the `tool_result.tool_use_id` answering it.
pub fn tool_id(id: &str) -> Cow<'_, str> {
    if !id.is_empty() && id.bytes().all(is_id_char) {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(sanitized(id, 48))
    }
}

/// A tool name valid for Anthropic (`^[a-zA-Z0-9_-]{1,64}$`, §2.2). Valid
/// names pass unchanged; others are rewritten like ids and cut to fit 64
/// characters (E21); responses map them back via [`ResponseContext`].
pub fn tool_name(name: &str) -> Cow<'_, str> {
    if !name.is_empty() && name.len() <= 64 && name.bytes().all(is_id_char) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(sanitized(name, 55))
    }
}

// --------------------------------------------------------------- messages

/// A turn before merging.
struct Turn<'a> {
    role: Role,
    blocks: Vec<BlockParam<'a>>,
}

/// All messages → `system` blocks and unmerged turns.
fn convert_messages(messages: &[Message]) -> Result<(Vec<BlockParam<'_>>, Vec<Turn<'_>>), Error> {
    let mut system = Vec::new();
    let mut turns = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        match m {
            Message::System { content, .. } | Message::Developer { content, .. } => {
                push_texts(content, &mut system)
            }
            Message::User { content, .. } => turns.push(Turn {
                role: Role::User,
                blocks: user_blocks(content, i)?,
            }),
            Message::Assistant(a) => turns.push(Turn {
                role: Role::Assistant,
                blocks: assistant_blocks(a, i)?,
            }),
            Message::Tool {
                content,
                tool_call_id,
            } => turns.push(Turn {
                role: Role::User,
                blocks: vec![BlockParam::ToolResult {
                    tool_use_id: tool_id(tool_call_id),
                    content: tool_result_content(content, i)?,
                }],
            }),
            Message::Function { .. } => return Err(Error::invalid(
                "legacy `function` messages are not supported by this model; use `tool` messages",
            )
            .with_param(format!("messages[{i}].role"))),
        }
    }
    Ok((system, turns))
}

/// The non-blank text of `content` as text blocks (E1); other parts are
/// ignored.
fn push_texts<'a>(content: &'a Content, out: &mut Vec<BlockParam<'a>>) {
    match content {
        Content::Text(s) => {
            if !is_blank(s) {
                out.push(BlockParam::Text { text: s });
            }
        }
        Content::Parts(parts) => {
            for p in parts {
                if let ContentPart::Text { text } = p {
                    if !is_blank(text) {
                        out.push(BlockParam::Text { text });
                    }
                }
            }
        }
    }
}

/// User content → blocks: text, images and documents (§4.11).
fn user_blocks(content: &Content, i: usize) -> Result<Vec<BlockParam<'_>>, Error> {
    let parts = match content {
        Content::Text(s) => {
            return Ok(if is_blank(s) {
                Vec::new()
            } else {
                vec![BlockParam::Text { text: s }]
            })
        }
        Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        match p {
            ContentPart::Text { text } => {
                if !is_blank(text) {
                    out.push(BlockParam::Text { text });
                }
            }
            ContentPart::ImageUrl { image_url } => out.push(media_block(&image_url.url, || {
                format!("messages[{i}].content[{j}].image_url.url")
            })?),
            ContentPart::File { file } => out.push(file_block(file, i, j)?),
            ContentPart::InputAudio { .. } | ContentPart::Other(_) => {
                return Err(
                    Error::invalid("this content part type is not supported by this model")
                        .with_param(format!("messages[{i}].content[{j}]")),
                )
            }
        }
    }
    Ok(out)
}

/// `tool` message content → `tool_result.content`; blank content is left out.
fn tool_result_content(
    content: &Content,
    i: usize,
) -> Result<Option<ToolResultContent<'_>>, Error> {
    Ok(match content {
        Content::Text(s) if is_blank(s) => None,
        Content::Text(s) => Some(ToolResultContent::Text(s)),
        Content::Parts(_) => {
            let blocks = user_blocks(content, i)?;
            (!blocks.is_empty()).then_some(ToolResultContent::Blocks(blocks))
        }
    })
}

/// The media types Anthropic accepts in base64 sources, and whether each is
/// a document.
const MEDIA_TYPES: &[(&str, &str, bool)] = &[
    ("image/jpeg", "image/jpeg", false),
    ("image/jpg", "image/jpeg", false),
    ("image/png", "image/png", false),
    ("image/gif", "image/gif", false),
    ("image/webp", "image/webp", false),
    ("application/pdf", "application/pdf", true),
];

/// A `data:` URL or an http(s) URL → an image or document block (§4.11).
fn media_block<'a>(url: &'a str, param: impl Fn() -> String) -> Result<BlockParam<'a>, Error> {
    if let Some(rest) = strip_prefix_ci(url, "data:") {
        let Some((meta, data)) = rest.split_once(',') else {
            return Err(Error::invalid("malformed data URL").with_param(param()));
        };
        let mut meta = meta.split(';');
        let mime = meta.next().unwrap_or("").trim();
        if !meta.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
            return Err(Error::invalid("data URLs must be base64-encoded").with_param(param()));
        }
        let Some(&(_, media_type, document)) = MEDIA_TYPES
            .iter()
            .find(|(m, _, _)| m.eq_ignore_ascii_case(mime))
        else {
            return Err(Error::invalid(
                "unsupported media type (supported: image/jpeg, image/png, image/gif, image/webp, application/pdf)",
            )
            .with_param(param()));
        };
        let source = SourceParam::Base64 { media_type, data };
        return Ok(if document {
            BlockParam::Document { source }
        } else {
            BlockParam::Image { source }
        });
    }
    if strip_prefix_ci(url, "https://").is_some() || strip_prefix_ci(url, "http://").is_some() {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let source = SourceParam::Url { url };
        return Ok(if ends_with_ci(path, ".pdf") {
            BlockParam::Document { source }
        } else {
            BlockParam::Image { source }
        });
    }
    Err(Error::invalid("only data: and http(s) URLs are supported").with_param(param()))
}

/// A `file` part: base64 file data as a document or image.
fn file_block(file: &FilePart, i: usize, j: usize) -> Result<BlockParam<'_>, Error> {
    let param = |field: &str| format!("messages[{i}].content[{j}].file.{field}");
    match &file.file_data {
        Some(data) if strip_prefix_ci(data, "data:").is_some() => {
            media_block(data, || param("file_data"))
        }
        Some(data)
            if file
                .filename
                .as_deref()
                .is_some_and(|f| ends_with_ci(f, ".pdf")) =>
        {
            Ok(BlockParam::Document {
                source: SourceParam::Base64 {
                    media_type: "application/pdf",
                    data,
                },
            })
        }
        Some(_) => Err(Error::invalid(
            "`file_data` must be a data URL (or base64 with a .pdf filename)",
        )
        .with_param(param("file_data"))),
        None => Err(
            Error::invalid("`file_id` references are not supported by this model")
                .with_param(param("file_id")),
        ),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

/// An assistant message → thinking blocks (E18), text (E1), tool_use.
fn assistant_blocks(a: &AssistantMessage, i: usize) -> Result<Vec<BlockParam<'_>>, Error> {
    let mut out = Vec::new();
    for tb in a.thinking_blocks.iter().flatten() {
        out.push(match tb {
            ThinkingBlock::Thinking {
                thinking,
                signature,
            } => BlockParam::Thinking {
                thinking,
                signature,
            },
            ThinkingBlock::RedactedThinking { data } => BlockParam::RedactedThinking { data },
        });
    }
    if let Some(content) = &a.content {
        push_texts(content, &mut out);
    }
    for (k, call) in a.tool_calls.iter().flatten().enumerate() {
        out.push(BlockParam::ToolUse {
            id: tool_id(&call.id),
            name: tool_name(&call.function.name),
            input: tool_input(&call.function.arguments, i, k)?,
        });
    }
    Ok(out)
}

/// Tool-call `arguments` → `tool_use.input`: empty (or `null`) becomes `{}`;
/// anything but a JSON object is a 400 naming the message.
fn tool_input(args: &str, i: usize, k: usize) -> Result<&RawValue, Error> {
    let err = |msg: &'static str| {
        Error::invalid(msg).with_param(format!("messages[{i}].tool_calls[{k}].function.arguments"))
    };
    let args = args.trim();
    if args.is_empty() || args == "null" {
        return serde_json::from_str(EMPTY_OBJECT)
            .map_err(|_| err("tool call arguments are not valid JSON"));
    }
    let raw: &RawValue =
        serde_json::from_str(args).map_err(|_| err("tool call arguments are not valid JSON"))?;
    if raw.get().starts_with('{') {
        Ok(raw)
    } else {
        Err(err("tool call arguments must be a JSON object"))
    }
}

const EMPTY_OBJECT: &str = "{}";

/// Drops empty turns, merges same-role runs (E6), puts `tool_result`s first
/// in user turns (E3, E4) and thinking first in assistant turns (E18),
/// handles a trailing assistant prefill (E19) and makes the first turn a
/// user turn (E6).
fn finish_turns<'a>(
    turns: Vec<Turn<'a>>,
    drop_prefill: bool,
    ctx: &mut ResponseContext,
) -> Vec<MessageParam<'a>> {
    let mut merged: Vec<Turn<'a>> = Vec::with_capacity(turns.len() + 1);
    for t in turns {
        if t.blocks.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some(last) if last.role == t.role => last.blocks.extend(t.blocks),
            _ => merged.push(t),
        }
    }
    for t in &mut merged {
        match t.role {
            Role::User => t.blocks.sort_by_key(|b| !b.is_tool_result()),
            Role::Assistant => t.blocks.sort_by_key(|b| !b.is_thinking()),
        }
    }
    if merged.last().is_some_and(|t| t.role == Role::Assistant) {
        if drop_prefill {
            merged.pop();
        } else if let Some(last) = merged.last_mut() {
            if !last
                .blocks
                .iter()
                .any(|b| matches!(b, BlockParam::ToolUse { .. }))
            {
                ctx.prefill = prefill(&mut last.blocks);
                if last.blocks.is_empty() {
                    merged.pop();
                }
            }
        }
    }
    if merged.first().is_none_or(|t| t.role != Role::User) {
        merged.insert(
            0,
            Turn {
                role: Role::User,
                blocks: vec![BlockParam::Text {
                    text: PLACEHOLDER_USER_TEXT,
                }],
            },
        );
    }
    merged
        .into_iter()
        .map(|t| MessageParam {
            role: t.role,
            content: t.blocks,
        })
        .collect()
}

/// Trims the trailing whitespace Anthropic rejects at the end of a final
/// assistant turn and returns the prefill text, as sent.
fn prefill(blocks: &mut Vec<BlockParam<'_>>) -> Option<String> {
    while let Some(BlockParam::Text { text }) = blocks.last_mut() {
        let trimmed = text.trim_end();
        if trimmed.is_empty() {
            blocks.pop();
        } else {
            *text = trimmed;
            break;
        }
    }
    let text: String = blocks
        .iter()
        .filter_map(|b| match b {
            BlockParam::Text { text } => Some(*text),
            _ => None,
        })
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::super::tests::damaged;
    use super::*;
    use serde_json::json;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/",
                $name
            ))
        };
    }

    const WORKED_IN: &str = fixture!("chat_request_worked_example.json");
    const WORKED_OUT: &str = fixture!("messages_request_worked_example.json");
    const AGENT_LOOP: &str = fixture!("chat_request_agent_loop.json");
    const JSON_SCHEMA: &str = fixture!("chat_request_json_schema.json");
    const REQUESTS: &[&str] = &[WORKED_IN, AGENT_LOOP, JSON_SCHEMA];

    const OPTS: RequestOptions<'static> = RequestOptions {
        api_model: "claude-sonnet-4-5",
        default_max_tokens: 4096,
    };

    struct Out {
        body: Value,
        dropped: Vec<String>,
        ctx: ResponseContext,
    }

    fn try_convert(req: Value) -> Result<Out, Error> {
        let req: ChatRequest = serde_json::from_value(req).unwrap();
        to_anthropic(&req, &OPTS).map(|c| Out {
            body: serde_json::from_slice(&c.body).unwrap(),
            dropped: c.dropped,
            ctx: c.ctx,
        })
    }

    fn convert(req: Value) -> Out {
        let out = try_convert(req).unwrap();
        check_invariants(&out.body);
        out
    }

    /// A request with these messages and extra top-level fields.
    fn request(messages: Value, extra: Value) -> Value {
        let mut req = json!({"model": "claude-sonnet-4-5", "messages": messages});
        if let (Some(r), Some(e)) = (req.as_object_mut(), extra.as_object()) {
            r.extend(e.clone());
        }
        req
    }

    fn hi() -> Value {
        json!([{"role": "user", "content": "hi"}])
    }

    fn valid_id(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(is_id_char)
    }

    /// What Anthropic requires of every request (§2.3, §2.4, E1, E3, E4, E6,
    /// E7, E13, E14, E25).
    fn check_invariants(body: &Value) {
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs[0]["role"], "user", "{body}");
        for pair in msgs.windows(2) {
            assert_ne!(pair[0]["role"], pair[1]["role"], "{body}");
        }
        let blank =
            |b: &Value| b["type"] == "text" && b["text"].as_str().unwrap().trim().is_empty();
        for b in body["system"].as_array().into_iter().flatten() {
            assert!(!blank(b), "{body}");
        }
        for m in msgs {
            let blocks = m["content"].as_array().unwrap();
            assert!(!blocks.is_empty(), "{body}");
            let mut seen_other = false;
            for b in blocks {
                assert!(!blank(b), "{body}");
                match b["type"].as_str().unwrap() {
                    "tool_use" => {
                        assert!(valid_id(b["id"].as_str().unwrap()), "{body}");
                        assert!(b["input"].is_object(), "{body}");
                    }
                    "tool_result" => {
                        assert!(valid_id(b["tool_use_id"].as_str().unwrap()), "{body}");
                        assert!(!seen_other, "tool_result after other blocks: {body}");
                    }
                    _ => seen_other = true,
                }
            }
        }
        assert!(
            body.get("temperature").is_none() || body.get("top_p").is_none(),
            "{body}"
        );
        for s in body["stop_sequences"].as_array().into_iter().flatten() {
            assert!(!s.as_str().unwrap().trim().is_empty(), "{body}");
        }
        if let Some(stop) = body.get("stop_sequences") {
            assert!(!stop.as_array().unwrap().is_empty(), "{body}");
        }
        for t in body["tools"].as_array().into_iter().flatten() {
            let name = t["name"].as_str().unwrap();
            assert!(valid_id(name) && name.len() <= 64, "{body}");
            assert_eq!(t["input_schema"]["type"], "object", "{body}");
        }
        if let Some(thinking) = body.get("thinking") {
            let budget = thinking["budget_tokens"].as_u64().unwrap();
            assert!(budget >= 1024, "{body}");
            assert!(body["max_tokens"].as_u64().unwrap() > budget, "{body}");
            for k in ["temperature", "top_p", "top_k"] {
                assert!(body.get(k).is_none(), "{body}");
            }
            let choice = body["tool_choice"]["type"].as_str().unwrap_or("auto");
            assert!(choice == "auto" || choice == "none", "{body}");
        }
    }

    #[test]
    fn worked_example_4_1_converts_verbatim() {
        let out = convert(serde_json::from_str(WORKED_IN).unwrap());
        let want: Value = serde_json::from_str(WORKED_OUT).unwrap();
        assert_eq!(out.body, want);
        assert!(out.dropped.is_empty());
        assert_eq!(out.ctx, ResponseContext::default());
    }

    #[test]
    fn agent_loop_fixture_converts() {
        let out = convert(serde_json::from_str(AGENT_LOOP).unwrap());
        let b = &out.body;
        assert_eq!(
            b["system"],
            json!([{"type": "text", "text": "You are a travel assistant."},
                   {"type": "text", "text": "Prefer metric units."}])
        );
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 2048})
        );
        assert_eq!(b["max_tokens"], 2048 + 1024);
        assert_eq!(b["stream"], true);
        assert_eq!(b["metadata"], json!({"user_id": "user-7f3a"}));
        assert!(b.get("stop_sequences").is_none());
        assert_eq!(b["tool_choice"], json!({"type": "auto"}));
        let clock = tool_name("mcp.clock.now").into_owned();
        assert_eq!(
            out.ctx.tool_names,
            [(clock.clone(), "mcp.clock.now".to_owned())]
        );
        assert_eq!(b["tools"][1]["name"], clock);
        assert_eq!(
            b["tools"][1]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
        let weather_id = tool_id("functions.get_weather:0").into_owned();
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": [
                    {"type": "text", "text": "What's the weather where this photo was taken, and what time is it there?"},
                    {"type": "image", "source": {"type": "url", "url": "https://upload.example.com/photos/eiffel.jpg"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQKJcfsj6IK"}}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "The photo shows the Eiffel Tower, so Paris.", "signature": "EqQBCkgIARABGAIiQGm7Vx2kLq9"},
                    {"type": "tool_use", "id": weather_id, "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_Zq8Xn3Lp2Vb", "name": clock, "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": weather_id, "content": "{\"temp_c\": 18, \"sky\": \"overcast\"}"},
                    {"type": "tool_result", "tool_use_id": "call_Zq8Xn3Lp2Vb", "content": [{"type": "text", "text": "14:05 CEST"}]},
                    {"type": "text", "text": "Thanks! Keep it short."}]}
            ])
        );
        let mut dropped = out.dropped.clone();
        dropped.sort();
        assert_eq!(
            dropped,
            [
                "logprobs",
                "seed",
                "temperature",
                "tools[].function.strict",
                "top_p"
            ]
        );
    }

    #[test]
    fn json_schema_fixture_uses_a_forced_tool_and_drops_the_prefill() {
        let out = convert(serde_json::from_str(JSON_SCHEMA).unwrap());
        let b = &out.body;
        assert_eq!(b["tools"][0]["name"], "json_response");
        assert_eq!(
            b["tools"][0]["input_schema"]["required"],
            json!(["name", "born"])
        );
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": "json_response"})
        );
        assert_eq!(
            b["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "Ada Lovelace was born in 1815 in London."}]}])
        );
        assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response"));
        assert_eq!(out.ctx.prefill, None);
        assert_eq!(
            out.dropped,
            [
                "presence_penalty",
                "frequency_penalty",
                "response_format.json_schema.strict"
            ]
        );
    }

    #[test]
    fn empty_text_blocks_are_dropped_e1() {
        let out = convert(request(
            json!([
                {"role": "system", "content": "   "},
                {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "assistant", "content": [{"type": "text", "text": " \n"}], "tool_calls": [
                    {"id": "call_2", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_2", "content": ""},
                {"role": "user", "content": "\t"}
            ]),
            json!({}),
        ));
        assert!(out.body.get("system").is_none());
        assert_eq!(
            out.body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "w", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_2", "name": "w", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_2"}]}
            ])
        );
    }

    #[test]
    fn consecutive_tool_messages_merge_into_one_user_turn_e3() {
        let out = convert(request(
            json!([
                {"role": "user", "content": "Paris and Tokyo?"},
                {"role": "assistant", "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Tokyo\"}"}}]},
                {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_b", "content": "25C"}
            ]),
            json!({}),
        ));
        let msgs = out.body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(
            msgs[2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": "25C"}]})
        );
    }

    #[test]
    fn tool_results_come_before_user_text_e4() {
        let call = json!({"role": "assistant", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{}"}}]});
        let result = json!({"role": "tool", "tool_call_id": "call_a", "content": "18C"});
        let text = json!({"role": "user", "content": "And now?"});
        let want = json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "18C"},
            {"type": "text", "text": "And now?"}]});
        // Tool result then text, and text sent before the tool result.
        for tail in [json!([result, text]), json!([text, result])] {
            let mut msgs = vec![json!({"role": "user", "content": "Weather?"}), call.clone()];
            msgs.extend(tail.as_array().unwrap().iter().cloned());
            let out = convert(request(Value::Array(msgs), json!({})));
            assert_eq!(out.body["messages"][2], want);
        }
    }

    #[test]
    fn conversation_is_made_to_start_with_a_user_turn_e6() {
        let table = [
            (
                "assistant first",
                json!([{"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Hi"}]),
                json!([
                    {"role": "user", "content": [{"type": "text", "text": "."}]},
                    {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
                    {"role": "user", "content": [{"type": "text", "text": "Hi"}]}]),
            ),
            (
                "system only",
                json!([{"role": "system", "content": "Say hi."}]),
                json!([{"role": "user", "content": [{"type": "text", "text": "."}]}]),
            ),
            (
                "only blank user text",
                json!([{"role": "user", "content": " "}]),
                json!([{"role": "user", "content": [{"type": "text", "text": "."}]}]),
            ),
        ];
        for (name, msgs, want) in table {
            let out = convert(request(msgs, json!({})));
            assert_eq!(out.body["messages"], want, "{name}");
        }
    }

    #[test]
    fn same_role_runs_are_merged_e6() {
        let out = convert(request(
            json!([
                {"role": "user", "content": "a"},
                {"role": "system", "content": "s"},
                {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"},
                {"role": "assistant", "content": "d"},
                {"role": "user", "content": "e"}
            ]),
            json!({}),
        ));
        assert_eq!(
            out.body["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
                {"role": "user", "content": [{"type": "text", "text": "e"}]}
            ])
        );
        assert_eq!(out.body["system"], json!([{"type": "text", "text": "s"}]));
    }

    #[test]
    fn tool_call_ids_are_sanitised_the_same_way_on_both_sides_e7() {
        let table = [
            ("call_abc-123", true),
            ("toolu_01A09q90qw90lq917835lq9", true),
            ("functions.Bash:0", false),
            ("call|1", false),
            ("c2lnbmF0dXJl+/==", false),
            ("", false),
            ("émoji🙂", false),
        ];
        let mut seen = Vec::new();
        for (id, valid) in table {
            let out = convert(request(
                json!([
                    {"role": "user", "content": "go"},
                    {"role": "assistant", "tool_calls": [
                        {"id": id, "type": "function", "function": {"name": "t", "arguments": ""}}]},
                    {"role": "tool", "tool_call_id": id, "content": "ok"}
                ]),
                json!({}),
            ));
            let used = out.body["messages"][1]["content"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                out.body["messages"][2]["content"][0]["tool_use_id"], used,
                "{id}"
            );
            assert!(valid_id(&used), "{id} -> {used}");
            assert_eq!(used == id, valid, "{id} -> {used}");
            assert_eq!(tool_id(id), used, "deterministic: {id}");
            assert!(!seen.contains(&used), "collision: {id}");
            seen.push(used);
        }
        // Ids that differ only in the replaced characters stay distinct.
        assert_ne!(tool_id("a.b"), tool_id("a:b"));
    }

    #[test]
    fn invalid_tool_names_are_renamed_consistently() {
        let long = "x".repeat(80);
        for name in ["mcp.clock.now", long.as_str(), "a b"] {
            let out = convert(request(
                json!([
                    {"role": "user", "content": "go"},
                    {"role": "assistant", "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "ok"}
                ]),
                json!({
                    "tools": [{"type": "function", "function": {"name": name}}],
                    "tool_choice": {"type": "function", "function": {"name": name}}
                }),
            ));
            let sent = out.body["tools"][0]["name"].as_str().unwrap();
            assert_eq!(
                out.body["messages"][1]["content"][0]["name"], sent,
                "{name}"
            );
            assert_eq!(out.body["tool_choice"]["name"], sent, "{name}");
            assert_eq!(out.ctx.tool_names, [(sent.to_owned(), name.to_owned())]);
        }
    }

    #[test]
    fn tool_arguments_become_input_objects() {
        let table = [
            ("", json!({})),
            ("  ", json!({})),
            ("null", json!({})),
            (
                "{\"a\": [1, {\"b\": null}]}",
                json!({"a": [1, {"b": null}]}),
            ),
        ];
        for (args, want) in table {
            let out = convert(request(
                json!([{"role": "user", "content": "go"},
                       {"role": "assistant", "tool_calls": [
                           {"id": "c", "type": "function", "function": {"name": "t", "arguments": args}}]},
                       {"role": "tool", "tool_call_id": "c", "content": "ok"}]),
                json!({}),
            ));
            assert_eq!(
                out.body["messages"][1]["content"][0]["input"], want,
                "{args:?}"
            );
        }
    }

    #[test]
    fn unparseable_tool_arguments_are_rejected_naming_the_message() {
        for args in ["{\"city\": \"Par", "[1]", "\"x\"", "{} {}"] {
            let e = try_convert(request(
                json!([
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": "go"},
                    {"role": "user", "content": "now"},
                    {"role": "assistant", "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "t", "arguments": args}}]}
                ]),
                json!({}),
            ))
            .err()
            .unwrap();
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{args}");
            assert_eq!(
                e.param.as_deref(),
                Some("messages[3].tool_calls[0].function.arguments"),
                "{args}"
            );
            assert!(
                !e.message.contains(args),
                "the message names fields, not values"
            );
        }
    }

    #[test]
    fn max_tokens_comes_from_either_field_or_the_default() {
        let table = [
            (json!({}), 4096),
            (json!({"max_tokens": 100}), 100),
            (json!({"max_completion_tokens": 200}), 200),
            (
                json!({"max_tokens": 100, "max_completion_tokens": 200}),
                200,
            ),
        ];
        for (extra, want) in table {
            let out = convert(request(hi(), extra.clone()));
            assert_eq!(out.body["max_tokens"], want, "{extra}");
        }
    }

    #[test]
    fn only_temperature_is_sent_when_both_are_given_e13() {
        let table = [
            (
                json!({"temperature": 0.2, "top_p": 1}),
                Some(0.2),
                None,
                vec!["top_p"],
            ),
            (
                json!({"temperature": 1.7, "top_p": 0.9}),
                Some(1.0),
                None,
                vec!["top_p"],
            ),
            (json!({"temperature": -1}), Some(0.0), None, vec![]),
            (json!({"top_p": 0.9}), None, Some(0.9), vec![]),
            (json!({}), None, None, vec![]),
        ];
        for (extra, temperature, top_p, dropped) in table {
            let out = convert(request(hi(), extra.clone()));
            assert_eq!(out.body["temperature"].as_f64(), temperature, "{extra}");
            assert_eq!(out.body["top_p"].as_f64(), top_p, "{extra}");
            assert_eq!(out.dropped, dropped, "{extra}");
        }
    }

    #[test]
    fn blank_stop_sequences_are_dropped_e14() {
        let table = [
            (json!("\n"), None),
            (json!(""), None),
            (json!(["\n", " ", ""]), None),
            (json!(["\n", "END"]), Some(json!(["END"]))),
            (json!("STOP"), Some(json!(["STOP"]))),
            (json!(["a\n", "b"]), Some(json!(["a\n", "b"]))),
        ];
        for (stop, want) in table {
            let out = convert(request(hi(), json!({"stop": stop})));
            assert_eq!(out.body.get("stop_sequences").cloned(), want, "{stop}");
        }
    }

    #[test]
    fn tools_and_tool_choice_convert() {
        let tools = json!([
            {"type": "function", "function": {"name": "a", "description": "A", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "b"}},
            {"type": "function", "function": {"name": "c", "parameters": {"properties": {}}}}
        ]);
        let table = [
            (json!(null), json!(null), vec!["a", "b", "c"]),
            (json!("auto"), json!({"type": "auto"}), vec!["a", "b", "c"]),
            (
                json!("required"),
                json!({"type": "any"}),
                vec!["a", "b", "c"],
            ),
            (json!("none"), json!({"type": "none"}), vec!["a", "b", "c"]),
            (
                json!({"type": "function", "function": {"name": "b"}}),
                json!({"type": "tool", "name": "b"}),
                vec!["a", "b", "c"],
            ),
            (
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "required",
                    "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "c"}}]}}),
                json!({"type": "any"}),
                vec!["a", "c"],
            ),
            (
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto",
                    "tools": [{"type": "function", "function": {"name": "b"}}]}}),
                json!({"type": "auto"}),
                vec!["b"],
            ),
        ];
        for (choice, want, names) in table {
            let mut extra = json!({"tools": tools});
            if !choice.is_null() {
                extra["tool_choice"] = choice.clone();
            }
            let out = convert(request(hi(), extra));
            assert_eq!(
                out.body.get("tool_choice").cloned().unwrap_or(Value::Null),
                want,
                "{choice}"
            );
            let sent: Vec<&str> = out.body["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            assert_eq!(sent, names, "{choice}");
        }
        let out = convert(request(hi(), json!({"tools": tools})));
        assert_eq!(
            out.body["tools"],
            json!([
                {"name": "a", "description": "A", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
                {"name": "b", "description": "", "input_schema": {"type": "object", "properties": {}}},
                {"name": "c", "description": "", "input_schema": {"type": "object", "properties": {}}}
            ])
        );
    }

    #[test]
    fn parallel_tool_calls_false_disables_parallel_tool_use() {
        let tools = json!([{"type": "function", "function": {"name": "a"}}]);
        let table = [
            (
                json!(null),
                json!({"type": "auto", "disable_parallel_tool_use": true}),
            ),
            (
                json!("required"),
                json!({"type": "any", "disable_parallel_tool_use": true}),
            ),
            (
                json!({"type": "function", "function": {"name": "a"}}),
                json!({"type": "tool", "name": "a", "disable_parallel_tool_use": true}),
            ),
            (json!("none"), json!({"type": "none"})),
        ];
        for (choice, want) in table {
            let mut extra = json!({"tools": tools, "parallel_tool_calls": false});
            if !choice.is_null() {
                extra["tool_choice"] = choice.clone();
            }
            assert_eq!(
                convert(request(hi(), extra)).body["tool_choice"],
                want,
                "{choice}"
            );
        }
        // Without tools there is nothing to disable.
        let out = convert(request(hi(), json!({"parallel_tool_calls": false})));
        assert!(out.body.get("tool_choice").is_none());
    }

    #[test]
    fn bad_tool_choice_and_tools_are_rejected() {
        let table = [
            (json!({"tool_choice": "sometimes"}), "tool_choice"),
            (
                json!({"tool_choice": {"type": "custom", "name": "x"}}),
                "tool_choice",
            ),
            (
                json!({"tools": [{"type": "custom", "function": {"name": "x"}}]}),
                "tools[0].type",
            ),
            (json!({"n": 2}), "n"),
            (json!({"n": 0}), "n"),
            (json!({"reasoning_effort": "extreme"}), "reasoning_effort"),
            (json!({"top_k": "many"}), "top_k"),
        ];
        for (extra, param) in table {
            let e = try_convert(request(hi(), extra.clone())).err().unwrap();
            assert_eq!(e.kind, ErrorKind::InvalidRequest, "{extra}");
            assert_eq!(e.param.as_deref(), Some(param), "{extra}");
        }
    }

    #[test]
    fn images_and_documents_convert() {
        let table = [
            (
                "data:image/png;base64,iVBORw0",
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}}),
            ),
            (
                "data:image/jpg;base64,/9j/4",
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4"}}),
            ),
            (
                "data:image/PNG;name=x.png;base64,iVBO",
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}),
            ),
            (
                "data:application/pdf;base64,JVBERi0",
                json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"}}),
            ),
            (
                "https://example.com/a.jpg",
                json!({"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}}),
            ),
            (
                "https://example.com/a.PDF?x=1",
                json!({"type": "document", "source": {"type": "url", "url": "https://example.com/a.PDF?x=1"}}),
            ),
        ];
        for (url, want) in table {
            let out = convert(request(
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}]}]),
                json!({}),
            ));
            assert_eq!(out.body["messages"][0]["content"][0], want, "{url}");
        }
        for url in [
            "data:image/bmp;base64,Qk0",
            "data:image/png,rawbytes",
            "data:image/png;base64",
            "ftp://x/a.png",
            "file:///etc/passwd",
        ] {
            let e = try_convert(request(
                json!([{"role": "user", "content": [{"type": "text", "text": "see"},
                    {"type": "image_url", "image_url": {"url": url}}]}]),
                json!({}),
            ))
            .err()
            .unwrap();
            assert_eq!(
                e.param.as_deref(),
                Some("messages[0].content[1].image_url.url"),
                "{url}"
            );
        }
    }

    #[test]
    fn file_parts_and_unsupported_parts() {
        let out = convert(request(
            json!([{"role": "user", "content": [
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "JVBERi0"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi1"}}]}]),
            json!({}),
        ));
        let blocks = &out.body["messages"][0]["content"];
        assert_eq!(blocks[0]["source"]["data"], "JVBERi0");
        assert_eq!(blocks[1]["source"]["data"], "JVBERi1");
        let table = [
            (
                json!({"type": "file", "file": {"file_id": "file-abc"}}),
                "messages[0].content[0].file.file_id",
            ),
            (
                json!({"type": "file", "file": {"file_data": "JVBERi0"}}),
                "messages[0].content[0].file.file_data",
            ),
            (
                json!({"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}),
                "messages[0].content[0]",
            ),
            (
                json!({"type": "video_url", "video_url": {"url": "x"}}),
                "messages[0].content[0]",
            ),
        ];
        for (part, param) in table {
            let e = try_convert(request(
                json!([{"role": "user", "content": [part]}]),
                json!({}),
            ))
            .err()
            .unwrap();
            assert_eq!(e.param.as_deref(), Some(param), "{part}");
        }
        let e = try_convert(request(
            json!([{"role": "user", "content": "x"}, {"role": "function", "name": "f", "content": "r"}]),
            json!({}),
        ))
        .err()
        .unwrap();
        assert_eq!(e.param.as_deref(), Some("messages[1].role"));
    }

    #[test]
    fn json_object_uses_a_forced_synthetic_tool() {
        let out = convert(request(
            hi(),
            json!({"response_format": {"type": "json_object"}}),
        ));
        assert_eq!(
            out.body["tools"],
            json!([{"name": "json_response", "description": JSON_TOOL_DESCRIPTION, "input_schema": {"type": "object"}}])
        );
        assert_eq!(
            out.body["tool_choice"],
            json!({"type": "tool", "name": "json_response"})
        );
        assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response"));
        let out = convert(request(hi(), json!({"response_format": {"type": "text"}})));
        assert!(out.body.get("tools").is_none());
        assert_eq!(out.ctx.json_tool, None);
    }

    #[test]
    fn json_mode_with_caller_tools_requires_some_tool() {
        let tools = json!([{"type": "function", "function": {"name": "json_response"}}]);
        let rf = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"properties": {"a": {"type": "string"}}}}});
        let out = convert(request(
            hi(),
            json!({"tools": tools, "response_format": rf}),
        ));
        // The synthetic tool's name does not clash with the caller's.
        assert_eq!(out.ctx.json_tool.as_deref(), Some("json_response_"));
        assert_eq!(out.body["tools"][1]["name"], "json_response_");
        assert_eq!(out.body["tools"][1]["input_schema"]["type"], "object");
        assert_eq!(out.body["tool_choice"], json!({"type": "any"}));
        let out = convert(request(
            hi(),
            json!({"tools": tools, "response_format": rf, "tool_choice": "none"}),
        ));
        assert_eq!(
            out.body["tool_choice"],
            json!({"type": "tool", "name": "json_response_"})
        );
        let e = try_convert(request(
            hi(),
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}}),
        ))
        .err()
        .unwrap();
        assert_eq!(
            e.param.as_deref(),
            Some("response_format.json_schema.schema")
        );
    }

    #[test]
    fn reasoning_effort_enables_thinking() {
        let table = [
            (json!({"reasoning_effort": "low"}), Some(1024), 4096, vec![]),
            (
                json!({"reasoning_effort": "medium", "max_tokens": 8000}),
                Some(2048),
                8000,
                vec![],
            ),
            (
                json!({"reasoning_effort": "high", "max_tokens": 1000}),
                Some(4096),
                5096,
                vec![],
            ),
            (
                json!({"reasoning_effort": "low", "temperature": 0.5, "top_p": 0.9, "top_k": 5}),
                Some(1024),
                4096,
                vec!["top_p", "temperature", "top_k"],
            ),
            (
                json!({"reasoning_effort": "none", "top_k": 5}),
                None,
                4096,
                vec![],
            ),
            (
                json!({"reasoning_effort": "high", "tool_choice": "required",
                       "tools": [{"type": "function", "function": {"name": "a"}}]}),
                None,
                4096,
                vec!["reasoning_effort"],
            ),
            (
                json!({"reasoning_effort": "high", "response_format": {"type": "json_object"}}),
                None,
                4096,
                vec!["reasoning_effort"],
            ),
        ];
        for (extra, budget, max_tokens, dropped) in table {
            let out = convert(request(hi(), extra.clone()));
            assert_eq!(
                out.body["thinking"]["budget_tokens"].as_u64(),
                budget,
                "{extra}"
            );
            assert_eq!(out.body["max_tokens"], max_tokens, "{extra}");
            assert_eq!(out.dropped, dropped, "{extra}");
        }
        let out = convert(request(
            hi(),
            json!({"reasoning_effort": "none", "top_k": 5}),
        ));
        assert_eq!(out.body["top_k"], 5);
    }

    #[test]
    fn thinking_blocks_are_restored_before_text_and_tool_use_e18() {
        let out = convert(request(
            json!([
                {"role": "user", "content": "27 * 453?"},
                {"role": "assistant", "content": "Let me compute.",
                 "reasoning_content": "ignored without blocks",
                 "thinking_blocks": [
                    {"type": "thinking", "thinking": "27*453 = 12231", "signature": "EqQBCkgIARAB"},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"}],
                 "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "calc", "arguments": "{\"e\":\"27*453\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "12231"}
            ]),
            json!({"reasoning_effort": "low"}),
        ));
        assert_eq!(
            out.body["messages"][1]["content"],
            json!([
                {"type": "thinking", "thinking": "27*453 = 12231", "signature": "EqQBCkgIARAB"},
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "text", "text": "Let me compute."},
                {"type": "tool_use", "id": "call_1", "name": "calc", "input": {"e": "27*453"}}
            ])
        );
    }

    #[test]
    fn trailing_assistant_message_is_a_prefill_e19() {
        let msgs = json!([
            {"role": "user", "content": "Write a story."},
            {"role": "assistant", "content": "Once upon a time, "}
        ]);
        let out = convert(request(msgs.clone(), json!({})));
        assert_eq!(
            out.body["messages"][1],
            json!({"role": "assistant", "content": [{"type": "text", "text": "Once upon a time,"}]})
        );
        assert_eq!(out.ctx.prefill.as_deref(), Some("Once upon a time,"));
        // With thinking on, the prefill is dropped.
        let out = convert(request(msgs, json!({"reasoning_effort": "low"})));
        assert_eq!(out.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(out.ctx.prefill, None);
        // A trailing assistant tool call is not a prefill.
        let out = convert(request(
            json!([{"role": "user", "content": "go"},
                   {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "t", "arguments": "{}"}}]}]),
            json!({}),
        ));
        assert_eq!(out.ctx.prefill, None);
        assert_eq!(out.body["messages"][1]["content"][0]["type"], "tool_use");
    }

    #[test]
    fn user_becomes_metadata_user_id() {
        let out = convert(request(hi(), json!({"user": "u-123"})));
        assert_eq!(out.body["metadata"], json!({"user_id": "u-123"}));
        assert!(out.dropped.is_empty());
    }

    #[test]
    fn unsupported_parameters_are_dropped_and_listed() {
        let out = convert(request(
            hi(),
            json!({"seed": 1, "presence_penalty": 0.1, "frequency_penalty": 0.1, "logprobs": true,
                   "top_logprobs": 2, "logit_bias": {"1": 1}, "store": true, "metadata": {"a": "b"},
                   "service_tier": "flex", "top_k": 40, "stream_options": {"include_usage": true}, "n": 1}),
        ));
        assert_eq!(
            out.dropped,
            [
                "seed",
                "presence_penalty",
                "frequency_penalty",
                "logit_bias",
                "logprobs",
                "metadata",
                "service_tier",
                "store",
                "top_logprobs"
            ]
        );
        assert_eq!(out.body["top_k"], 40);
        for k in [
            "seed",
            "logprobs",
            "store",
            "service_tier",
            "n",
            "stream_options",
        ] {
            assert!(out.body.get(k).is_none(), "{k}");
        }
        assert!(out.body.get("metadata").is_none());
    }

    /// Structural variations of a request: each message removed, moved to the
    /// end or emptied, crossed with top-level overrides.
    fn variants(base: &Value) -> Vec<Value> {
        let msgs = base["messages"].as_array().unwrap().clone();
        let mut message_sets = vec![msgs.clone()];
        for i in 0..msgs.len() {
            let mut removed = msgs.clone();
            let m = removed.remove(i);
            message_sets.push(removed.clone());
            removed.push(m.clone());
            message_sets.push(removed);
            let mut emptied = msgs.clone();
            if emptied[i].get("content").is_some() {
                emptied[i]["content"] = json!(" ");
            }
            message_sets.push(emptied);
        }
        let overrides = [
            json!({}),
            json!({"reasoning_effort": "high", "max_tokens": 1}),
            json!({"reasoning_effort": "low", "tool_choice": "required"}),
            json!({"response_format": {"type": "json_object"}}),
            json!({"response_format": {"type": "json_object"}, "reasoning_effort": "low"}),
            json!({"tool_choice": "none", "parallel_tool_calls": false}),
            json!({"tool_choice": {"type": "function", "function": {"name": "ocr"}}}),
            json!({"temperature": 2, "top_p": 0.1, "top_k": 3, "stop": [" ", "x"]}),
            json!({"tools": null, "tool_choice": null, "max_completion_tokens": 0}),
        ];
        let mut out = Vec::new();
        for set in &message_sets {
            for o in &overrides {
                let mut v = base.clone();
                v["messages"] = Value::Array(set.clone());
                if let (Some(r), Some(e)) = (v.as_object_mut(), o.as_object()) {
                    r.extend(e.clone());
                }
                out.push(v);
            }
        }
        out
    }

    #[test]
    fn varied_requests_always_meet_anthropics_rules() {
        for fixture in REQUESTS {
            let base: Value = serde_json::from_str(fixture).unwrap();
            for v in variants(&base) {
                let Ok(req) = serde_json::from_value::<ChatRequest>(v.clone()) else {
                    continue;
                };
                if let Ok(c) = to_anthropic(&req, &OPTS) {
                    check_invariants(&serde_json::from_slice(&c.body).unwrap());
                }
            }
        }
    }

    #[test]
    fn damaged_requests_never_panic() {
        for fixture in REQUESTS {
            for bytes in damaged(fixture.as_bytes()) {
                let Ok(req) = serde_json::from_slice::<ChatRequest>(&bytes) else {
                    continue;
                };
                if let Ok(c) = to_anthropic(&req, &OPTS) {
                    check_invariants(&serde_json::from_slice(&c.body).unwrap());
                }
            }
        }
    }
}
