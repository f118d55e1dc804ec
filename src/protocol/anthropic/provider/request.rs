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
    let body = if req.cache_breakpoints.is_empty() {
        serde_json::to_vec(&body)
    } else {
        super::cache::with_breakpoints(req, &body).and_then(|(v, names)| {
            for name in names {
                dropped.push(name);
            }
            serde_json::to_vec(&v)
        })
    };
    let body = body.map_err(|_| {
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
#[path = "request_tests.rs"]
mod tests;
