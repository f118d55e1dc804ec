//! OpenAI chat request → Gemini `generateContent` body (PROTOCOLS.md §4.4).
//!
//! What it does beyond renaming:
//! * `system`/`developer` messages, wherever they are, become
//!   `systemInstruction` parts in order (E5).
//! * Empty and whitespace-only text is dropped, and so is a message left
//!   without parts (E2).
//! * Images and files must be `data:` URLs and become `inlineData`
//!   (`image/jpg` → `image/jpeg`, parameters other than `base64` removed,
//!   §4.11). http(s) URLs are refused with a 400: the gateway does not fetch
//!   arbitrary URLs.
//! * Consecutive `tool` messages become one `user` turn of
//!   `functionResponse` parts in the order of the calls they answer (E3); the
//!   function name comes from the assistant call with that id, else the next
//!   unanswered call (E22). The result is `{"output": <JSON object or text>}`.
//! * Thought signatures and Gemini's call ids are restored from the tool-call
//!   ids (module docs of [`super`], E18).
//! * Tool schemas are cleaned ([`schema`](crate::protocol::gemini::schema), E15).
//!
//! Dropped and listed in [`Converted::dropped`]: `user`,
//! `parallel_tool_calls: false` (no equivalent), every unknown top-level field
//! (`logit_bias`, `metadata`, `store`, `logprobs`, …), an unknown
//! `reasoning_effort`, and per-message `name`, `refusal`,
//! `reasoning_content`, `thinking_blocks`.
//!
//! `reasoning_effort` → `thinkingConfig` (2.5-style budgets, which Gemini 3
//! still accepts): `none` → budget 0; `minimal` 512; `low` 1024; `medium`
//! 8192; `high`, `xhigh`, `max` 24576 (the largest budget every 2.5 model
//! accepts); thoughts are requested (`includeThoughts`) except for `none`.

use super::{decode_tool_call_id, Converted, ResponseContext};
use crate::protocol::gemini::schema::{clean_parameters, clean_schema};
use crate::protocol::gemini::types::{
    Blob, Content as GContent, FunctionCallOut, FunctionCallingConfig, FunctionDeclaration,
    FunctionOutput, FunctionResponseOut, GenerateContentRequest, GenerationConfig, OutputValue,
    Part, PartData, ThinkingConfig, Tool as GTool, ToolConfig,
};
use crate::protocol::openai::{
    AssistantMessage, ChatRequest, Content, ContentPart, Message, ResponseFormat, Stop, ToolCall,
    ToolChoice,
};
use crate::protocol::{Error, ErrorKind};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// Converts an OpenAI chat request into a Gemini request body.
///
/// Errors are 400s naming the field at fault: an http(s) image URL, a
/// non-`data:` file, unparseable tool-call arguments, a tool message that
/// answers no call, an unsupported tool or `tool_choice`, or a conversation
/// with nothing left to send.
pub fn to_gemini(req: &ChatRequest) -> Result<Converted, Error> {
    let mut dropped = Vec::new();
    let (system_instruction, contents) = convert_messages(&req.messages, &mut dropped)?;
    let (tools, tool_config) = convert_tools(req)?;
    let generation_config = generation_config(req, &mut dropped);
    if req.user.is_some() {
        dropped.push("user".to_owned());
    }
    // Gemini may always call tools in parallel: only `false` is lost.
    if req.parallel_tool_calls == Some(false) {
        dropped.push("parallel_tool_calls".to_owned());
    }
    // `top_k` (an Anthropic or Gemini caller's, carried as an extra field)
    // is Gemini's `topK`; every other extra field is lost.
    dropped.extend(
        req.extra
            .keys()
            .filter(|k| !(*k == "top_k" && generation_config.top_k.is_some()))
            .cloned(),
    );

    let body = GenerateContentRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: (!generation_config.is_empty()).then_some(generation_config),
    };
    let body = serde_json::to_vec(&body).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "could not serialise the Gemini request",
        )
    })?;
    Ok(Converted {
        body,
        dropped,
        ctx: ResponseContext {
            model: req.model.clone(),
            created: 0,
        },
    })
}

fn note(dropped: &mut Vec<String>, field: &str) {
    if !dropped.iter().any(|d| d == field) {
        dropped.push(field.to_owned());
    }
}

type Contents<'a> = (Option<GContent<'a>>, Vec<GContent<'a>>);

fn convert_messages<'a>(
    messages: &'a [Message],
    dropped: &mut Vec<String>,
) -> Result<Contents<'a>, Error> {
    // Every call in the history, for tool messages that do not directly
    // follow their call (E22).
    let known: HashMap<&str, &ToolCall> = messages
        .iter()
        .filter_map(|m| match m {
            Message::Assistant(a) => a.tool_calls.as_deref(),
            _ => None,
        })
        .flatten()
        .map(|tc| (tc.id.as_str(), tc))
        .collect();

    let mut system = Vec::new();
    let mut contents = Vec::new();
    let mut last_calls: &[ToolCall] = &[];
    let mut i = 0;
    while let Some(message) = messages.get(i) {
        match message {
            Message::System { content, name } | Message::Developer { content, name } => {
                if name.is_some() {
                    note(dropped, "messages[].name");
                }
                system_parts(content, i, &mut system)?;
                i += 1;
            }
            Message::User { content, name } => {
                if name.is_some() {
                    note(dropped, "messages[].name");
                }
                let parts = user_parts(content, i)?;
                if !parts.is_empty() {
                    contents.push(GContent {
                        role: Some("user"),
                        parts,
                    });
                }
                i += 1;
            }
            Message::Assistant(a) => {
                let parts = assistant_parts(a, i, dropped)?;
                if let Some(calls) = a.tool_calls.as_deref().filter(|c| !c.is_empty()) {
                    last_calls = calls;
                }
                if !parts.is_empty() {
                    contents.push(GContent {
                        role: Some("model"),
                        parts,
                    });
                }
                i += 1;
            }
            Message::Tool { .. } | Message::Function { .. } => {
                let start = i;
                while matches!(
                    messages.get(i),
                    Some(Message::Tool { .. } | Message::Function { .. })
                ) {
                    i += 1;
                }
                let group = messages.get(start..i).unwrap_or_default();
                let parts = tool_results(group, start, last_calls, &known)?;
                contents.push(GContent {
                    role: Some("user"),
                    parts,
                });
            }
        }
    }
    if contents.is_empty() {
        return Err(Error::invalid(
            "messages must contain at least one non-empty user or assistant message",
        )
        .with_param("messages"));
    }
    let system = (!system.is_empty()).then_some(GContent {
        role: None,
        parts: system,
    });
    Ok((system, contents))
}

fn text_part(text: &str) -> Option<Part<'_>> {
    (!text.trim().is_empty()).then(|| Part::new(PartData::Text(Cow::Borrowed(text))))
}

fn system_parts<'a>(
    content: &'a Content,
    idx: usize,
    out: &mut Vec<Part<'a>>,
) -> Result<(), Error> {
    match content {
        Content::Text(s) => out.extend(text_part(s)),
        Content::Parts(parts) => {
            for (j, part) in parts.iter().enumerate() {
                match part {
                    ContentPart::Text { text } => out.extend(text_part(text)),
                    _ => {
                        return Err(Error::invalid(
                            "system and developer messages may only contain text parts",
                        )
                        .with_param(format!("messages[{idx}].content[{j}]")))
                    }
                }
            }
        }
    }
    Ok(())
}

fn user_parts(content: &Content, idx: usize) -> Result<Vec<Part<'_>>, Error> {
    let parts = match content {
        Content::Text(s) => return Ok(text_part(s).into_iter().collect()),
        Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        match part {
            ContentPart::Text { text } => out.extend(text_part(text)),
            ContentPart::ImageUrl { image_url } => {
                let param = || format!("messages[{idx}].content[{j}].image_url.url");
                let url = image_url.url.as_str();
                if is_http_url(url) {
                    return Err(Error::invalid(
                        "image URLs are not supported for Gemini models; send the image inline as a base64 data: URL",
                    )
                    .with_param(param()));
                }
                let blob = parse_data_url(url).ok_or_else(|| {
                    Error::invalid("expected a base64 data: URL (data:<mime>;base64,<data>)")
                        .with_param(param())
                })?;
                out.push(Part::new(PartData::InlineData(blob)));
            }
            ContentPart::File { file } => {
                let param = format!("messages[{idx}].content[{j}].file.file_data");
                let blob = file
                    .file_data
                    .as_deref()
                    .and_then(parse_data_url)
                    .ok_or_else(|| {
                        Error::invalid(
                            "files must be sent inline as a base64 data: URL in file_data; file ids are not supported for Gemini models",
                        )
                        .with_param(param)
                    })?;
                out.push(Part::new(PartData::InlineData(blob)));
            }
            ContentPart::InputAudio { input_audio } => {
                let data = input_audio.get("data").and_then(Value::as_str);
                let format = input_audio.get("format").and_then(Value::as_str);
                let (Some(data), Some(format)) = (data, format) else {
                    return Err(Error::invalid("input_audio needs data and format")
                        .with_param(format!("messages[{idx}].content[{j}].input_audio")));
                };
                out.push(Part::new(PartData::InlineData(Blob {
                    mime_type: Cow::Owned(format!("audio/{}", format.to_ascii_lowercase())),
                    data,
                })));
            }
            ContentPart::Other(_) => {
                return Err(Error::invalid(
                    "this content part type is not supported for Gemini models",
                )
                .with_param(format!("messages[{idx}].content[{j}].type")))
            }
        }
    }
    Ok(out)
}

fn is_http_url(url: &str) -> bool {
    let lower = |n: usize| url.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// `data:<mime>[;param…];base64,<data>` → `inlineData`. The MIME type is
/// lower-cased, `image/jpg` becomes `image/jpeg`, parameters are dropped
/// (§4.11). Non-base64 data URLs are refused.
fn parse_data_url(url: &str) -> Option<Blob<'_>> {
    if !url.get(..5)?.eq_ignore_ascii_case("data:") {
        return None;
    }
    let (meta, data) = url.get(5..)?.split_once(',')?;
    let mut params = meta.split(';');
    let mime = params.next()?.trim();
    let base64 = params.any(|p| p.trim().eq_ignore_ascii_case("base64"));
    if !base64 || mime.is_empty() || data.is_empty() {
        return None;
    }
    let mime_type = if mime.eq_ignore_ascii_case("image/jpg") {
        Cow::Borrowed("image/jpeg")
    } else if mime.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(mime.to_ascii_lowercase())
    } else {
        Cow::Borrowed(mime)
    };
    Some(Blob { mime_type, data })
}

fn assistant_parts<'a>(
    a: &'a AssistantMessage,
    idx: usize,
    dropped: &mut Vec<String>,
) -> Result<Vec<Part<'a>>, Error> {
    if a.name.is_some() {
        note(dropped, "messages[].name");
    }
    if a.refusal.is_some() {
        note(dropped, "messages[].refusal");
    }
    if a.reasoning_content.is_some() {
        note(dropped, "messages[].reasoning_content");
    }
    if a.thinking_blocks.is_some() {
        note(dropped, "messages[].thinking_blocks");
    }
    let mut parts = Vec::new();
    match &a.content {
        Some(Content::Text(s)) => parts.extend(text_part(s)),
        Some(Content::Parts(ps)) => {
            for p in ps {
                if let ContentPart::Text { text } = p {
                    parts.extend(text_part(text));
                }
            }
        }
        None => {}
    }
    for (k, tc) in a.tool_calls.iter().flatten().enumerate() {
        let param = |field: &str| format!("messages[{idx}].tool_calls[{k}].function.{field}");
        if tc.function.name.is_empty() {
            return Err(Error::invalid("tool call has no function name").with_param(param("name")));
        }
        let args = parse_args(&tc.function.arguments).ok_or_else(|| {
            Error::invalid("tool call arguments must be a JSON object")
                .with_param(param("arguments"))
        })?;
        let decoded = decode_tool_call_id(&tc.id);
        parts.push(Part {
            data: PartData::FunctionCall(FunctionCallOut {
                name: &tc.function.name,
                args,
                id: decoded.gemini_id,
            }),
            thought_signature: decoded.signature,
        });
    }
    Ok(parts)
}

/// The arguments string as a JSON object, unparsed; empty or `null` is `{}`.
fn parse_args(arguments: &str) -> Option<Cow<'_, RawValue>> {
    let trimmed = arguments.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return RawValue::from_string("{}".to_owned()).ok().map(Cow::Owned);
    }
    let raw: &RawValue = serde_json::from_str(arguments).ok()?;
    raw.get().starts_with('{').then_some(Cow::Borrowed(raw))
}

/// Consecutive tool (and legacy function) messages → `functionResponse`
/// parts in call order (E3, E22).
fn tool_results<'a>(
    group: &'a [Message],
    start: usize,
    last_calls: &'a [ToolCall],
    known: &HashMap<&str, &'a ToolCall>,
) -> Result<Vec<Part<'a>>, Error> {
    let mut answered = vec![false; last_calls.len()];
    let next_unanswered = |answered: &mut Vec<bool>, name: Option<&str>| {
        let found = last_calls
            .iter()
            .zip(answered.iter())
            .position(|(c, done)| !*done && name.is_none_or(|n| c.function.name == n));
        if let Some(slot) = found.and_then(|p| answered.get_mut(p)) {
            *slot = true;
        }
        found.and_then(|p| last_calls.get(p).map(|c| (p, c)))
    };

    let mut entries: Vec<(usize, Part<'a>)> = Vec::with_capacity(group.len());
    for (k, message) in group.iter().enumerate() {
        let idx = start + k;
        let (position, call, name, content): (Option<usize>, Option<&ToolCall>, &str, _) =
            match message {
                Message::Tool {
                    content,
                    tool_call_id,
                } => {
                    let direct = last_calls
                        .iter()
                        .position(|c| c.id == *tool_call_id)
                        .and_then(|p| last_calls.get(p).map(|c| (p, c)));
                    let (position, call) = match direct {
                        Some((p, c)) => {
                            if let Some(slot) = answered.get_mut(p) {
                                *slot = true;
                            }
                            (Some(p), Some(c))
                        }
                        None => match known.get(tool_call_id.as_str()) {
                            Some(c) => (None, Some(*c)),
                            None => match next_unanswered(&mut answered, None) {
                                Some((p, c)) => (Some(p), Some(c)),
                                None => {
                                    return Err(Error::invalid(
                                        "tool message does not answer any tool call of an earlier assistant message",
                                    )
                                    .with_param(format!("messages[{idx}].tool_call_id")))
                                }
                            },
                        },
                    };
                    let name = call.map(|c| c.function.name.as_str()).unwrap_or_default();
                    (position, call, name, Some(content))
                }
                Message::Function { content, name } => {
                    let (position, call) = match next_unanswered(&mut answered, Some(name)) {
                        Some((p, c)) => (Some(p), Some(c)),
                        None => (None, None),
                    };
                    (position, call, name.as_str(), content.as_ref())
                }
                _ => continue,
            };
        if name.is_empty() {
            return Err(Error::invalid("tool result has no function name")
                .with_param(format!("messages[{idx}]")));
        }
        let id = call.and_then(|c| decode_tool_call_id(&c.id).gemini_id);
        entries.push((
            position.unwrap_or(usize::MAX),
            Part::new(PartData::FunctionResponse(FunctionResponseOut {
                name,
                response: FunctionOutput {
                    output: output_value(content),
                },
                id,
            })),
        ));
    }
    entries.sort_by_key(|(position, _)| *position);
    Ok(entries.into_iter().map(|(_, part)| part).collect())
}

/// A tool result: a JSON object is passed as one, anything else as text.
fn output_value(content: Option<&Content>) -> OutputValue<'_> {
    let text: Cow<'_, str> = match content {
        Some(Content::Text(s)) => Cow::Borrowed(s),
        Some(c @ Content::Parts(_)) => Cow::Owned(c.text()),
        None => Cow::Borrowed(""),
    };
    if text.trim_start().starts_with('{') {
        let raw = match &text {
            Cow::Borrowed(s) => serde_json::from_str::<&RawValue>(s).ok().map(Cow::Borrowed),
            Cow::Owned(s) => RawValue::from_string(s.clone()).ok().map(Cow::Owned),
        };
        if let Some(raw) = raw {
            return OutputValue::Json(raw);
        }
    }
    OutputValue::Text(text)
}

type Tools<'a> = (Vec<GTool<'a>>, Option<ToolConfig<'a>>);

fn convert_tools(req: &ChatRequest) -> Result<Tools<'_>, Error> {
    let mut declarations = Vec::new();
    for (i, tool) in req.tools.iter().flatten().enumerate() {
        if tool.kind != "function" {
            return Err(
                Error::invalid("only function tools are supported for Gemini models")
                    .with_param(format!("tools[{i}].type")),
            );
        }
        if tool.function.name.is_empty() {
            return Err(Error::invalid("tool function has no name")
                .with_param(format!("tools[{i}].function.name")));
        }
        declarations.push(FunctionDeclaration {
            name: &tool.function.name,
            description: tool.function.description.as_deref(),
            parameters: tool.function.parameters.as_ref().and_then(clean_parameters),
        });
    }

    let invalid_choice =
        || Error::invalid("unsupported tool_choice for Gemini models").with_param("tool_choice");
    let mut names = None;
    let mode = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(m)) => Some(match m.as_str() {
            "auto" => "AUTO",
            "required" => "ANY",
            "none" => "NONE",
            _ => return Err(invalid_choice()),
        }),
        Some(ToolChoice::Named(named)) => {
            names = Some(vec![named.function.name.as_str()]);
            Some("ANY")
        }
        Some(ToolChoice::Other(v)) => {
            // {type: allowed_tools, allowed_tools: {mode, tools: [{type, function: {name}}]}}:
            // keep only the allowed declarations, so AUTO keeps its meaning.
            if v.get("type").and_then(Value::as_str) != Some("allowed_tools") {
                return Err(invalid_choice());
            }
            let mode = match v.pointer("/allowed_tools/mode").and_then(Value::as_str) {
                Some("auto") => "AUTO",
                Some("required") => "ANY",
                _ => return Err(invalid_choice()),
            };
            let allowed: Vec<&str> = v
                .pointer("/allowed_tools/tools")
                .and_then(Value::as_array)
                .ok_or_else(invalid_choice)?
                .iter()
                .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
                .collect();
            declarations.retain(|d| allowed.contains(&d.name));
            Some(mode)
        }
    };
    if declarations.is_empty() {
        return Ok((Vec::new(), None));
    }
    let tool_config = mode.map(|mode| ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: names,
        },
    });
    Ok((
        vec![GTool {
            function_declarations: declarations,
        }],
        tool_config,
    ))
}

fn generation_config<'a>(req: &'a ChatRequest, dropped: &mut Vec<String>) -> GenerationConfig<'a> {
    let stop_sequences = req.stop.as_ref().and_then(|stop| {
        let list: Vec<&str> = match stop {
            Stop::One(s) => vec![s.as_str()],
            Stop::Many(v) => v.iter().map(String::as_str).collect(),
        };
        let list: Vec<&str> = list.into_iter().filter(|s| !s.is_empty()).collect();
        (!list.is_empty()).then_some(list)
    });
    let (response_mime_type, response_schema) = match &req.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            Some("application/json"),
            json_schema.schema.as_ref().map(clean_schema),
        ),
    };
    let thinking_config = req.reasoning_effort.as_deref().and_then(|effort| {
        let budget = match effort.to_ascii_lowercase().as_str() {
            "none" => 0,
            "minimal" => 512,
            "low" => 1024,
            "medium" => 8192,
            "high" | "xhigh" | "max" => 24576,
            _ => {
                dropped.push("reasoning_effort".to_owned());
                return None;
            }
        };
        Some(ThinkingConfig {
            thinking_budget: budget,
            include_thoughts: budget > 0,
        })
    });
    GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.extra.get("top_k").and_then(Value::as_u64),
        max_output_tokens: req.max_output_tokens(),
        stop_sequences,
        candidate_count: req.n,
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type,
        response_schema,
        thinking_config,
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
