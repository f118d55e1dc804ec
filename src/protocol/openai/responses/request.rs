//! OpenAI Responses request → OpenAI chat request.
//!
//! Mapping: `instructions` → a system message first; `input` as a string →
//! one user message; input items: messages (with or without `type:
//! "message"`; roles user, assistant, system, developer; content a string
//! or `input_text` / `input_image` (URL or `data:` URL) / `input_file`
//! (`file_data`) / `output_text` / `refusal` parts) → chat messages;
//! `function_call` → a tool call of the assistant turn it belongs to
//! (consecutive calls are one turn: parallel calls); `function_call_output`
//! → a `tool` message (text parts joined); `reasoning` items → the next
//! assistant turn's `reasoning_content` (summary texts) and, when their
//! `encrypted_content` is the gateway's own envelope, its Anthropic
//! `thinking_blocks` (E18). Function `tools` → function tools (`strict`
//! kept); `tool_choice` auto / none / required / `{type: function, name}`;
//! `parallel_tool_calls`; `max_output_tokens` → `max_completion_tokens`;
//! `temperature`; `top_p`; `text.format` json_object / json_schema →
//! `response_format` (text, the default, is not sent); `reasoning.effort` → `reasoning_effort`; `user`;
//! `prompt_cache_key`, `safety_identifier` and `service_tier` go on as chat
//! fields (OpenAI's chat API has them; other providers drop and name them).
//!
//! Kept by the gateway, not sent: `store`, `previous_response_id` (the
//! route has already put the stored conversation into `input`),
//! `metadata`, `include`, `truncation`, `reasoning.summary`, `stream`
//! (the gateway streams as the caller asked).
//!
//! Dropped and named (`x-gateway-dropped-params`): built-in tools (every
//! `tools[]` type but `function`) and the tool choices that name them,
//! items of built-in tools (`web_search_call`, …), a provider's own
//! encrypted reasoning (`reasoning.encrypted_content`), and unknown
//! top-level fields.
//!
//! Refused with a 400 naming the field: a missing or mistyped `model` or
//! `input`, mistyped known fields, unknown roles and part types, images
//! and files by `file_id`, `item_reference` items, and `background`,
//! `conversation` and `prompt`, which need server-side state the gateway
//! does not keep.

use super::{ResponsesContext, THINKING_PREFIX};
use crate::protocol::anthropic::caller::request::{is_null, optional, parse, required};
use crate::protocol::openai::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, FunctionCall, FunctionDef,
    ImageUrl, JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ResponseFormat,
    ThinkingBlock, Tool, ToolCall, ToolChoice,
};
use crate::protocol::raw::RawObject;
use crate::protocol::Error;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// Top-level fields read here; any other is dropped and named.
const KNOWN: &[&str] = &[
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "text",
    "reasoning",
    "stream",
    "stream_options",
    "store",
    "previous_response_id",
    "metadata",
    "include",
    "truncation",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "user",
];

/// Fields the gateway cannot serve: they need state it does not keep.
const REFUSED: &[&str] = &["background", "conversation", "prompt"];

/// Converts a `/v1/responses` body; `ctx` has the route's id and store.
pub fn to_openai(
    body: &[u8],
    mut ctx: ResponsesContext,
) -> Result<(ChatRequest, ResponsesContext), Error> {
    let obj = RawObject::parse(body)
        .map_err(|_| Error::invalid("the request body must be a JSON object"))?;
    let model: String = required(&obj, "model", "a string")?;
    if model.is_empty() {
        return Err(Error::invalid("`model` must not be empty").with_param("model"));
    }
    for key in REFUSED {
        if obj
            .get(key)
            .is_some_and(|v| !is_null(v) && v.get() != "false")
        {
            return Err(Error::invalid(format!(
                "`{key}` is not supported by this gateway (it keeps no server-side state for it)"
            ))
            .with_param(*key));
        }
    }
    let mut dropped = Vec::new();
    for (key, _) in &obj.0 {
        if !KNOWN.contains(&key.as_ref()) && !REFUSED.contains(&key.as_ref()) {
            dropped.push(key.to_string());
        }
    }

    let mut messages = Vec::new();
    let instructions: Option<String> = optional(&obj, "instructions", "a string")?;
    if let Some(text) = instructions.clone().filter(|t| !t.is_empty()) {
        messages.push(Message::System {
            content: Content::Text(text),
            name: None,
        });
    }
    match obj.get("input").filter(|v| !is_null(v)) {
        None => {}
        Some(raw) if raw.get().starts_with('"') => {
            let text: String = parse(raw, || "input".to_owned(), "a string or an array of items")?;
            messages.push(Message::User {
                content: Content::Text(text),
                name: None,
            });
        }
        Some(raw) => {
            let items: Vec<&RawValue> =
                parse(raw, || "input".to_owned(), "a string or an array of items")?;
            Items::convert(&items, &mut messages, &mut dropped)?;
        }
    }
    if !messages
        .iter()
        .any(|m| !matches!(m, Message::System { .. }))
    {
        return Err(Error::invalid("`input` is required and must not be empty").with_param("input"));
    }

    let tools = convert_tools(&obj, &mut dropped)?;
    let tool_choice = match &tools {
        Some(_) => convert_tool_choice(&obj, &mut dropped)?,
        None => None,
    };
    let parallel_tool_calls: Option<bool> =
        optional(&obj, "parallel_tool_calls", "a boolean")?.filter(|_| tools.is_some());
    let text: Option<TextIn> = optional(&obj, "text", "an object")?;
    let response_format = match text.as_ref().and_then(|t| t.format.as_ref()) {
        None => None,
        Some(f) => response_format(f)?,
    };
    if text.as_ref().is_some_and(|t| t.verbosity.is_some()) {
        dropped.push("text.verbosity".to_owned());
    }
    let reasoning: Option<ReasoningIn> = optional(&obj, "reasoning", "an object")?;
    let mut extra = Map::new();
    for key in ["prompt_cache_key", "safety_identifier", "service_tier"] {
        if let Some(v) = obj.get(key).filter(|v| !is_null(v)) {
            let value: Value = parse(v, || key.to_owned(), "a string")?;
            extra.insert(key.to_owned(), value);
        }
    }
    let mut request = ChatRequest {
        model: model.clone(),
        messages,
        max_completion_tokens: optional(&obj, "max_output_tokens", "a non-negative integer")?,
        temperature: optional(&obj, "temperature", "a number")?,
        top_p: optional(&obj, "top_p", "a number")?,
        stream: optional(&obj, "stream", "a boolean")?.unwrap_or(false),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        user: optional(&obj, "user", "a string")?,
        reasoning_effort: reasoning.as_ref().and_then(|r| r.effort.clone()),
        extra,
        ..Default::default()
    };
    dropped.sort();
    dropped.dedup();
    request.dropped = dropped;
    ctx.model = model;
    ctx.echo = echo(&obj, instructions, &request)?;
    Ok((request, ctx))
}

/// The request fields a `response` object repeats, with the API's
/// defaults.
fn echo(
    obj: &RawObject<'_>,
    instructions: Option<String>,
    req: &ChatRequest,
) -> Result<Map<String, Value>, Error> {
    let raw = |key: &'static str, default: Value| -> Result<Value, Error> {
        match obj.get(key).filter(|v| !is_null(v)) {
            Some(v) => parse(v, || key.to_owned(), "valid JSON"),
            None => Ok(default),
        }
    };
    let mut m = Map::new();
    m.insert(
        "instructions".into(),
        instructions.map_or(Value::Null, Value::String),
    );
    m.insert("max_output_tokens".into(), json!(req.max_completion_tokens));
    m.insert("metadata".into(), raw("metadata", json!({}))?);
    m.insert(
        "parallel_tool_calls".into(),
        json!(req.parallel_tool_calls.unwrap_or(true)),
    );
    m.insert(
        "previous_response_id".into(),
        raw("previous_response_id", Value::Null)?,
    );
    m.insert(
        "reasoning".into(),
        raw("reasoning", json!({"effort": null, "summary": null}))?,
    );
    m.insert("store".into(), raw("store", json!(true))?);
    m.insert("temperature".into(), json!(req.temperature.unwrap_or(1.0)));
    m.insert(
        "text".into(),
        raw("text", json!({"format": {"type": "text"}}))?,
    );
    m.insert("tool_choice".into(), raw("tool_choice", json!("auto"))?);
    m.insert("tools".into(), raw("tools", json!([]))?);
    m.insert("top_p".into(), json!(req.top_p.unwrap_or(1.0)));
    m.insert("truncation".into(), raw("truncation", json!("disabled"))?);
    m.insert("user".into(), json!(req.user));
    Ok(m)
}

/// `text`.
#[derive(Deserialize)]
struct TextIn {
    #[serde(default)]
    format: Option<FormatIn>,
    #[serde(default)]
    verbosity: Option<Value>,
}

/// `text.format`.
#[derive(Deserialize)]
struct FormatIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

/// `text.format` as a response format; plain text is the default and is
/// not sent.
fn response_format(f: &FormatIn) -> Result<Option<ResponseFormat>, Error> {
    match f.kind.as_str() {
        "text" => Ok(None),
        "json_object" => Ok(Some(ResponseFormat::JsonObject)),
        "json_schema" => Ok(Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: f.name.clone().unwrap_or_else(|| "response".to_owned()),
                description: f.description.clone(),
                schema: f.schema.clone(),
                strict: f.strict,
            },
        })),
        _ => Err(Error::invalid(
            "`text.format.type` must be one of text, json_object, json_schema",
        )
        .with_param("text.format.type")),
    }
}

/// `reasoning`.
#[derive(Deserialize)]
struct ReasoningIn {
    #[serde(default)]
    effort: Option<String>,
}

/// A `tools[]` entry.
#[derive(Deserialize)]
struct ToolIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
    #[serde(default)]
    strict: Option<bool>,
}

/// Function tools; built-in tools are dropped and named `tools[<type>]`.
fn convert_tools(
    obj: &RawObject<'_>,
    dropped: &mut Vec<String>,
) -> Result<Option<Vec<Tool>>, Error> {
    let Some(raw) = obj.get("tools").filter(|v| !is_null(v)) else {
        return Ok(None);
    };
    let list: Vec<&RawValue> = parse(raw, || "tools".to_owned(), "an array of tools")?;
    let mut tools = Vec::with_capacity(list.len());
    for (i, t) in list.into_iter().enumerate() {
        let t: ToolIn = parse(t, || format!("tools[{i}]"), "a tool object with a `type`")?;
        if t.kind != "function" {
            dropped.push(format!("tools[{}]", t.kind));
            continue;
        }
        let Some(name) = t.name.filter(|n| !n.is_empty()) else {
            return Err(Error::invalid(format!("`tools[{i}].name` is required"))
                .with_param(format!("tools[{i}].name")));
        };
        tools.push(Tool {
            kind: "function".to_owned(),
            function: FunctionDef {
                name,
                description: t.description,
                parameters: t.parameters,
                strict: t.strict,
            },
        });
    }
    Ok(Some(tools).filter(|t: &Vec<Tool>| !t.is_empty()))
}

/// `tool_choice`: the modes, or a named function; a choice of a built-in
/// tool is dropped with it.
fn convert_tool_choice(
    obj: &RawObject<'_>,
    dropped: &mut Vec<String>,
) -> Result<Option<ToolChoice>, Error> {
    let Some(raw) = obj.get("tool_choice").filter(|v| !is_null(v)) else {
        return Ok(None);
    };
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ChoiceIn {
        Mode(String),
        Named {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            name: Option<String>,
        },
    }
    let expected = "\"auto\", \"none\", \"required\" or {\"type\":\"function\",\"name\":…}";
    match parse(raw, || "tool_choice".to_owned(), expected)? {
        ChoiceIn::Mode(m) if matches!(m.as_str(), "auto" | "none" | "required") => {
            Ok(Some(ToolChoice::Mode(m)))
        }
        ChoiceIn::Mode(_) => {
            Err(Error::invalid(format!("`tool_choice` must be {expected}"))
                .with_param("tool_choice"))
        }
        ChoiceIn::Named { kind, name } if kind == "function" => match name {
            Some(name) => Ok(Some(ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction { name },
            }))),
            None => {
                Err(Error::invalid("`tool_choice.name` is required").with_param("tool_choice.name"))
            }
        },
        ChoiceIn::Named { .. } => {
            dropped.push("tool_choice".to_owned());
            Ok(None)
        }
    }
}

/// One input item, by its `type` (a message may have none).
#[derive(Deserialize)]
struct ItemIn<'a> {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
    #[serde(default, borrow)]
    output: Option<&'a RawValue>,
    #[serde(default)]
    summary: Option<Vec<SummaryIn>>,
    #[serde(default)]
    encrypted_content: Option<String>,
}

#[derive(Deserialize)]
struct SummaryIn {
    #[serde(default)]
    text: String,
}

/// A content part of a message or a tool output.
#[derive(Deserialize)]
struct PartIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    file_id: Option<String>,
    #[serde(default)]
    file_data: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

/// The conversation being built: the assistant turn still open (its
/// reasoning, text and tool calls arrive as separate items).
struct Items<'m> {
    messages: &'m mut Vec<Message>,
    turn: Option<AssistantMessage>,
}

impl Items<'_> {
    fn convert(
        items: &[&RawValue],
        messages: &mut Vec<Message>,
        dropped: &mut Vec<String>,
    ) -> Result<(), Error> {
        let mut this = Items {
            messages,
            turn: None,
        };
        for (i, raw) in items.iter().enumerate() {
            let item: ItemIn = parse(raw, || format!("input[{i}]"), "an input item object")?;
            this.item(item, i, dropped)?;
        }
        this.flush();
        Ok(())
    }

    /// Ends the open assistant turn.
    fn flush(&mut self) {
        if let Some(turn) = self.turn.take() {
            self.messages.push(Message::Assistant(turn));
        }
    }

    /// The open assistant turn; a turn that already called tools is
    /// over when more text or reasoning comes.
    fn turn(&mut self, continues_calls: bool) -> &mut AssistantMessage {
        if !continues_calls && self.turn.as_ref().is_some_and(|t| t.tool_calls.is_some()) {
            self.flush();
        }
        self.turn.get_or_insert_with(AssistantMessage::default)
    }

    fn item(&mut self, item: ItemIn<'_>, i: usize, dropped: &mut Vec<String>) -> Result<(), Error> {
        let missing = |field: &str| {
            Error::invalid(format!("`input[{i}].{field}` is required"))
                .with_param(format!("input[{i}].{field}"))
        };
        match item.kind.as_deref().unwrap_or("message") {
            "message" => {
                let role = item.role.as_deref().ok_or_else(|| missing("role"))?;
                let content = item.content.ok_or_else(|| missing("content"))?;
                if role == "assistant" {
                    let text = assistant_text(content, i)?;
                    let turn = self.turn(false);
                    if !text.is_empty() {
                        let mut joined = turn.content.take().map(|c| c.text()).unwrap_or_default();
                        joined.push_str(&text);
                        turn.content = Some(Content::Text(joined));
                    }
                    return Ok(());
                }
                let content = user_content(content, i)?;
                self.flush();
                self.messages.push(match role {
                    "user" => Message::User {
                        content,
                        name: None,
                    },
                    "system" => Message::System {
                        content,
                        name: None,
                    },
                    "developer" => Message::Developer {
                        content,
                        name: None,
                    },
                    _ => {
                        return Err(Error::invalid(format!(
                            "`input[{i}].role` must be one of user, assistant, system, developer"
                        ))
                        .with_param(format!("input[{i}].role")))
                    }
                });
            }
            "function_call" => {
                let call_id = item.call_id.ok_or_else(|| missing("call_id"))?;
                let name = item.name.ok_or_else(|| missing("name"))?;
                let turn = self.turn(true);
                turn.tool_calls.get_or_insert_with(Vec::new).push(ToolCall {
                    id: call_id,
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name,
                        arguments: item.arguments.unwrap_or_default(),
                    },
                });
            }
            "function_call_output" => {
                let call_id = item.call_id.ok_or_else(|| missing("call_id"))?;
                let output = item.output.ok_or_else(|| missing("output"))?;
                let content = tool_output(output, i)?;
                self.flush();
                self.messages.push(Message::Tool {
                    content,
                    tool_call_id: call_id,
                });
            }
            "reasoning" => {
                let summary: String = item
                    .summary
                    .iter()
                    .flatten()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let blocks = match item.encrypted_content.as_deref() {
                    Some(enc) => match enc
                        .strip_prefix(THINKING_PREFIX)
                        .and_then(|json| serde_json::from_str::<Vec<ThinkingBlock>>(json).ok())
                    {
                        Some(blocks) => blocks,
                        None => {
                            dropped.push("reasoning.encrypted_content".to_owned());
                            Vec::new()
                        }
                    },
                    None => Vec::new(),
                };
                let turn = self.turn(false);
                if !summary.is_empty() {
                    let mut r = turn.reasoning_content.take().unwrap_or_default();
                    r.push_str(&summary);
                    turn.reasoning_content = Some(r);
                }
                if !blocks.is_empty() {
                    turn.thinking_blocks
                        .get_or_insert_with(Vec::new)
                        .extend(blocks);
                }
            }
            "item_reference" => {
                return Err(Error::invalid(format!(
                    "`input[{i}]`: item references are not supported; send the items themselves"
                ))
                .with_param(format!("input[{i}]")))
            }
            other => dropped.push(format!("input[{}]", other)),
        }
        Ok(())
    }
}

/// An assistant message's text (`output_text`, `refusal` or a string).
fn assistant_text(content: &RawValue, i: usize) -> Result<String, Error> {
    if content.get().starts_with('"') {
        return parse(
            content,
            || format!("input[{i}].content"),
            "a string or parts",
        );
    }
    let parts: Vec<PartIn> = parse(
        content,
        || format!("input[{i}].content"),
        "a string or parts",
    )?;
    Ok(parts
        .into_iter()
        .filter_map(|p| p.text.or(p.refusal))
        .collect())
}

/// A user, system or developer message's content.
fn user_content(content: &RawValue, i: usize) -> Result<Content, Error> {
    let at = || format!("input[{i}].content");
    if content.get().starts_with('"') {
        return parse(content, at, "a string or parts").map(Content::Text);
    }
    let parts: Vec<PartIn> = parse(content, at, "a string or parts")?;
    parts
        .into_iter()
        .enumerate()
        .map(|(k, p)| part(p, &|| format!("input[{i}].content[{k}]")))
        .collect::<Result<Vec<_>, _>>()
        .map(Content::Parts)
}

/// One input part as a chat content part.
fn part(p: PartIn, at: &dyn Fn() -> String) -> Result<ContentPart, Error> {
    let unsupported = |what: &str| Error::invalid(format!("`{}`: {what}", at())).with_param(at());
    match p.kind.as_str() {
        "input_text" | "output_text" | "text" => Ok(ContentPart::Text {
            text: p.text.unwrap_or_default(),
        }),
        "input_image" => match (p.image_url, p.file_id) {
            (Some(url), _) => Ok(ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url,
                    detail: p.detail.filter(|d| d != "auto"),
                },
            }),
            (None, Some(_)) => Err(unsupported(
                "images by `file_id` are not supported; send an `image_url` (a URL or a data: URL)",
            )),
            (None, None) => Err(unsupported("`image_url` is required")),
        },
        "input_file" => match (p.file_data, p.file_id) {
            (Some(data), _) => Ok(ContentPart::File {
                file: FilePart {
                    file_data: Some(data),
                    file_id: None,
                    filename: p.filename,
                },
            }),
            _ => Err(unsupported(
                "files are supported as `file_data` (a data: URL) only",
            )),
        },
        _ => Err(unsupported(
            "the part type must be one of input_text, input_image, input_file, output_text",
        )),
    }
}

/// A `function_call_output`'s `output`: a string, or parts (text joined;
/// images kept as parts).
fn tool_output(output: &RawValue, i: usize) -> Result<Content, Error> {
    let at = || format!("input[{i}].output");
    if output.get().starts_with('"') {
        return parse(output, at, "a string or parts").map(Content::Text);
    }
    let parts: Vec<PartIn> = parse(output, at, "a string or parts")?;
    let parts = parts
        .into_iter()
        .enumerate()
        .map(|(k, p)| part(p, &|| format!("input[{i}].output[{k}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if parts.iter().all(|p| matches!(p, ContentPart::Text { .. })) {
        return Ok(Content::Text(Content::Parts(parts).text()));
    }
    Ok(Content::Parts(parts))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
