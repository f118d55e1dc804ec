//! A Gemini `generateContent` body → an OpenAI chat request (the lingua
//! franca), for providers that do not speak Gemini.
//!
//! * `systemInstruction` → one `system` message (its text parts joined).
//! * `contents[]`: `user` turns → `user` messages (text; `inlineData` as a
//!   `data:` URL: `image/*` as an image, anything else as a file);
//!   `functionResponse` parts → `tool` messages placed before the turn's other
//!   parts, paired with their call by `id`, else by name with the earliest
//!   unanswered call; `model` turns → `assistant` messages (text; thought
//!   text → `reasoning_content`; `functionCall` → `tool_calls`, with the
//!   caller's `id` or `call_<turn>_<part>`). `fileData` is a 400: only
//!   Gemini can read its URIs (send the bytes as `inlineData`).
//! * `tools[].functionDeclarations` → function tools; `parametersJsonSchema`
//!   goes as it is, `parameters` (Gemini's Schema) through
//!   [`to_json_schema`]. Built-in tools (`googleSearch`, …) are dropped.
//! * `toolConfig.functionCallingConfig`: `AUTO` → `auto`, `NONE` → `none`,
//!   `ANY` → `required`, or the named function when `allowedFunctionNames`
//!   names one; with several, only those tools are sent.
//! * `generationConfig`: sampling fields by name (`topK` as the `top_k`
//!   extension), `maxOutputTokens` → `max_tokens`, `candidateCount` → `n`,
//!   `responseMimeType: application/json` → `json_object`, or `json_schema`
//!   with `responseJsonSchema` / `responseSchema`; `thinkingConfig` → a
//!   `reasoning_effort` (budget 0 → `none`; < 4096 `low`; < 16384 `medium`;
//!   more `high`; -1, dynamic, → the provider's default; a level by name).
//!
//! Dropped and named (`x-gateway-dropped-params`): `safetySettings`,
//! `cachedContent` and every other top-level member, built-in tools,
//! unknown `generationConfig` fields, thought signatures.

use crate::protocol::gemini::schema::to_json_schema;
use crate::protocol::gemini::types::{
    CallerGenerationConfig, CallerRequest, CallerTool, CallerToolConfig, ContentIn, PartIn,
};
use crate::protocol::openai::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, FunctionCall, FunctionDef,
    ImageUrl, JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, ResponseFormat, Stop,
    Tool, ToolCall, ToolChoice,
};
use crate::protocol::Error;
use serde_json::Value;

/// A converted request and the caller fields it could not carry.
#[derive(Debug)]
pub struct Converted {
    pub request: ChatRequest,
    pub dropped: Vec<String>,
}

/// Parses a caller's body (`countTokens` may wrap it in
/// `generateContentRequest`).
pub fn parse(body: &[u8]) -> Result<CallerRequest, Error> {
    let mut req: CallerRequest = serde_json::from_slice(body).map_err(|e| Error::bad_body(&e))?;
    if let Some(inner) = req.generate_content_request.take() {
        req = *inner;
    }
    Ok(req)
}

/// Converts a Gemini request for the gateway model `model`.
pub fn to_openai(req: CallerRequest, model: &str) -> Result<Converted, Error> {
    let mut dropped: Vec<String> = req
        .other
        .keys()
        .filter(|k| k.as_str() != "model")
        .cloned()
        .collect();
    let mut messages = Vec::new();
    if let Some(system) = &req.system_instruction {
        let text = joined_text(system);
        if !text.is_empty() {
            messages.push(Message::System {
                content: Content::Text(text),
                name: None,
            });
        }
    }
    let mut calls = Calls::default();
    for (i, turn) in req.contents.iter().enumerate() {
        match turn.role.as_deref() {
            Some("model") => messages.extend(model_turn(turn, i, &mut calls, &mut dropped)),
            None | Some("user") => user_turn(turn, i, model, &mut calls, &mut messages)?,
            Some(_) => {
                let param = format!("contents[{i}].role");
                return Err(
                    Error::invalid(format!("`{param}` must be `user` or `model`"))
                        .with_param(param),
                );
            }
        }
    }
    if !messages
        .iter()
        .any(|m| !matches!(m, Message::System { .. }))
    {
        return Err(
            Error::invalid("`contents` must hold at least one non-empty turn")
                .with_param("contents"),
        );
    }
    let (tools, tool_choice) = tools(&req.tools, req.tool_config.as_ref(), &mut dropped);
    let mut request = ChatRequest {
        model: model.to_owned(),
        messages,
        tools,
        tool_choice,
        ..ChatRequest::default()
    };
    if let Some(g) = req.generation_config {
        generation(g, &mut request, &mut dropped);
    }
    Ok(Converted { request, dropped })
}

/// The text parts of a turn, joined with newlines (thoughts left out).
fn joined_text(turn: &ContentIn) -> String {
    let texts: Vec<&str> = parts(turn)
        .iter()
        .filter(|p| p.thought != Some(true))
        .filter_map(|p| p.text.as_deref())
        .filter(|t| !t.is_empty())
        .collect();
    texts.join("\n")
}

fn parts(turn: &ContentIn) -> &[PartIn] {
    turn.parts.as_deref().unwrap_or_default()
}

/// The calls of the conversation so far, for pairing tool results.
#[derive(Default)]
struct Calls {
    /// (id, name, answered)
    open: Vec<(String, String, bool)>,
}

impl Calls {
    /// The id of the call a `functionResponse` answers: its own id when it
    /// names an open call, else the earliest unanswered call of that name.
    fn answer(&mut self, id: Option<&str>, name: &str) -> Option<String> {
        let slot = id
            .filter(|id| !id.is_empty())
            .and_then(|id| self.open.iter().position(|(i, _, _)| i == id))
            .or_else(|| {
                self.open
                    .iter()
                    .position(|(_, n, answered)| n == name && !answered)
            })?;
        let call = self.open.get_mut(slot)?;
        call.2 = true;
        Some(call.0.clone())
    }
}

fn model_turn(
    turn: &ContentIn,
    i: usize,
    calls: &mut Calls,
    dropped: &mut Vec<String>,
) -> Option<Message> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for (j, part) in parts(turn).iter().enumerate() {
        if part.thought_signature.is_some() && !dropped.iter().any(|d| d == "thoughtSignature") {
            dropped.push("thoughtSignature".to_owned());
        }
        if let Some(call) = &part.function_call {
            let id = call
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{i}_{j}"));
            let arguments = match &call.args {
                None | Some(Value::Null) => "{}".to_owned(),
                Some(args) => args.to_string(),
            };
            calls.open.push((id.clone(), call.name.clone(), false));
            tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: call.name.clone(),
                    arguments,
                },
            });
        } else if let Some(t) = part.text.as_deref().filter(|t| !t.is_empty()) {
            let into = if part.thought == Some(true) {
                &mut reasoning
            } else {
                &mut text
            };
            into.push_str(t);
        }
    }
    if text.is_empty() && reasoning.is_empty() && tool_calls.is_empty() {
        return None;
    }
    Some(Message::Assistant(AssistantMessage {
        content: (!text.is_empty()).then_some(Content::Text(text)),
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        ..AssistantMessage::default()
    }))
}

fn user_turn(
    turn: &ContentIn,
    i: usize,
    model: &str,
    calls: &mut Calls,
    out: &mut Vec<Message>,
) -> Result<(), Error> {
    let mut content = Vec::new();
    for (j, part) in parts(turn).iter().enumerate() {
        let param = || format!("contents[{i}].parts[{j}]");
        if let Some(result) = &part.function_response {
            let Some(tool_call_id) = calls.answer(result.id.as_deref(), &result.name) else {
                let param = format!("{}.functionResponse", param());
                return Err(Error::invalid(format!(
                    "`{param}` answers no earlier `functionCall` (by `id` or `name`)"
                ))
                .with_param(param));
            };
            out.push(Message::Tool {
                content: Content::Text(tool_output(result.response.as_ref())),
                tool_call_id,
            });
        } else if let Some(blob) = &part.inline_data {
            let url = format!("data:{};base64,{}", blob.mime_type, blob.data);
            content.push(if blob.mime_type.starts_with("image/") {
                ContentPart::ImageUrl {
                    image_url: ImageUrl { url, detail: None },
                }
            } else {
                ContentPart::File {
                    file: FilePart {
                        file_data: Some(url),
                        ..FilePart::default()
                    },
                }
            });
        } else if part.file_data.is_some() {
            let param = format!("{}.fileData", param());
            return Err(Error::invalid(format!(
                "`{param}`: the model `{}` is not served by a Gemini provider, which alone can read file URIs; send the file as `inlineData`",
                crate::protocol::error::quoted(model)
            ))
            .with_param(param)
            .with_code("file_data_not_supported"));
        } else if let Some(t) = part.text.as_deref().filter(|t| !t.is_empty()) {
            content.push(ContentPart::Text { text: t.to_owned() });
        }
    }
    if content.is_empty() {
        return Ok(());
    }
    let content = match content.as_slice() {
        [ContentPart::Text { text }] => Content::Text(text.clone()),
        _ => Content::Parts(content),
    };
    out.push(Message::User {
        content,
        name: None,
    });
    Ok(())
}

/// A `functionResponse.response` as a tool result's text: a lone string
/// `output` (or `content`) as it is, anything else as its JSON.
fn tool_output(response: Option<&Value>) -> String {
    match response {
        None | Some(Value::Null) => String::new(),
        Some(Value::Object(m)) if m.len() == 1 => match m.get("output").or(m.get("content")) {
            Some(Value::String(s)) => s.clone(),
            _ => Value::Object(m.clone()).to_string(),
        },
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

type Tools = (Option<Vec<Tool>>, Option<ToolChoice>);

fn tools(
    declared: &[CallerTool],
    config: Option<&CallerToolConfig>,
    dropped: &mut Vec<String>,
) -> Tools {
    let calling = config.and_then(|c| c.function_calling_config.as_ref());
    let mode = calling
        .and_then(|c| c.mode.as_deref())
        .map(str::to_ascii_uppercase);
    let allowed = calling
        .and_then(|c| c.allowed_function_names.as_deref())
        .filter(|names| !names.is_empty());
    let forced = mode.as_deref() == Some("ANY");
    let mut tools = Vec::new();
    for tool in declared {
        dropped.extend(tool.other.keys().map(|k| format!("tools[].{k}")));
        for f in &tool.function_declarations {
            if forced && allowed.is_some_and(|names| !names.contains(&f.name)) {
                continue;
            }
            let parameters = f
                .parameters_json_schema
                .clone()
                .or_else(|| f.parameters.as_ref().map(to_json_schema));
            tools.push(Tool {
                kind: "function".to_owned(),
                function: FunctionDef {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    parameters,
                    strict: None,
                },
            });
        }
    }
    if tools.is_empty() {
        return (None, None);
    }
    let choice = match mode.as_deref() {
        Some("NONE") => Some(ToolChoice::Mode("none".to_owned())),
        Some("ANY") => Some(match allowed {
            Some([one]) => ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction { name: one.clone() },
            }),
            _ => ToolChoice::Mode("required".to_owned()),
        }),
        Some("AUTO") => Some(ToolChoice::Mode("auto".to_owned())),
        _ => None,
    };
    (Some(tools), choice)
}

fn generation(g: CallerGenerationConfig, req: &mut ChatRequest, dropped: &mut Vec<String>) {
    req.temperature = g.temperature;
    req.top_p = g.top_p;
    req.max_tokens = g.max_output_tokens;
    req.n = g.candidate_count;
    req.seed = g.seed;
    req.presence_penalty = g.presence_penalty;
    req.frequency_penalty = g.frequency_penalty;
    req.stop = g.stop_sequences.map(Stop::Many);
    // An integer in Gemini's proto (JSON may write `64.0`), the `top_k`
    // extension as one.
    match g.top_k {
        Some(k) if k.is_finite() && (0.0..=1e9).contains(&k) => {
            req.extra
                .insert("top_k".to_owned(), Value::from(k.round() as u64));
        }
        Some(_) => dropped.push("generationConfig.topK".to_owned()),
        None => {}
    }
    let json = g
        .response_mime_type
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    if json {
        let schema = g
            .response_json_schema
            .or_else(|| g.response_schema.as_ref().map(to_json_schema));
        req.response_format = Some(match schema {
            Some(schema) => ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: "response".to_owned(),
                    description: None,
                    schema: Some(schema),
                    strict: None,
                },
            },
            None => ResponseFormat::JsonObject,
        });
    } else if g
        .response_mime_type
        .as_deref()
        .is_some_and(|m| !m.eq_ignore_ascii_case("text/plain"))
    {
        dropped.push("generationConfig.responseMimeType".to_owned());
    }
    if let Some(t) = g.thinking_config {
        req.reasoning_effort = match (t.thinking_budget, t.thinking_level.as_deref()) {
            (Some(0), _) => Some("none"),
            (Some(b), _) if b < 0 => None,
            (Some(b), _) if b < 4096 => Some("low"),
            (Some(b), _) if b < 16384 => Some("medium"),
            (Some(_), _) => Some("high"),
            (None, Some(level)) => effort_for_level(level),
            (None, None) => None,
        }
        .map(str::to_owned);
    }
    dropped.extend(g.other.keys().map(|k| format!("generationConfig.{k}")));
}

/// A `thinkingLevel` → `reasoning_effort`; unknown levels leave the
/// provider's default.
fn effort_for_level(level: &str) -> Option<&'static str> {
    match level.to_ascii_uppercase().as_str() {
        "MINIMAL" => Some("minimal"),
        "LOW" => Some("low"),
        "MEDIUM" => Some("medium"),
        "HIGH" => Some("high"),
        _ => None,
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
