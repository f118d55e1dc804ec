//! Gemini response and error bodies → OpenAI (PROTOCOLS.md §4.5, §4.7, §4.9,
//! §4.14).
//!
//! * Text parts are joined; thought parts (`thought: true`) go to the
//!   `reasoning_content` extension; `functionCall` parts become `tool_calls`
//!   with ids made as described in [`super`] (signatures embedded, E18).
//!   Other parts (`inlineData` output, `executableCode`, …) and text-part
//!   signatures are dropped.
//! * `finish_reason` is `tool_calls` whenever a call is present, even when
//!   Gemini says `STOP` (E17). The safety family, `RECITATION` and `LANGUAGE`
//!   map to `content_filter` with no content and a short gateway-written
//!   `refusal` naming the reason (§4.7).
//! * A blocked prompt (HTTP 200, `promptFeedback.blockReason`, no
//!   candidates) is one `content_filter` choice with null content, never an
//!   error (E16).
//! * `id` is `chatcmpl-<responseId>` (or a hash of the body), `model` is
//!   `modelVersion` (or the requested model).

use super::{short_hash, tool_call_id, ResponseContext};
use crate::protocol::error::bounded_wait;
use crate::protocol::gemini::types::{
    Candidate, ErrorBody, ErrorEnvelope, GenerateContentResponse, PartIn, UsageMetadata,
};
use crate::protocol::openai::{
    ChatResponse, Choice, CompletionTokensDetails, FinishReason, FunctionCall, PromptTokensDetails,
    ResponseMessage, ToolCall, Usage,
};
use crate::protocol::{Error, ErrorKind};
use serde_json::Value;
use std::time::Duration;

/// Converts a `generateContent` body into an OpenAI chat completion.
///
/// An unreadable body, or one with neither candidates nor a block reason, is
/// `BadUpstreamResponse`; a body holding an `error` object is that error.
pub fn from_gemini(body: &[u8], ctx: &ResponseContext) -> Result<ChatResponse, Error> {
    let resp: GenerateContentResponse = serde_json::from_slice(body)
        .map_err(|_| bad_response("Gemini returned a response body that could not be read"))?;
    if let Some(error) = &resp.error {
        return Err(error_from_value(502, error.clone(), None));
    }
    let id = match resp.response_id.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-{}", short_hash(&[body])),
    };
    let seed = resp.response_id.clone().unwrap_or_else(|| id.clone());
    let candidates = resp.candidates.unwrap_or_default();
    let choices = if candidates.is_empty() {
        let reason = resp
            .prompt_feedback
            .and_then(|f| f.block_reason)
            .ok_or_else(|| bad_response("Gemini returned a response without candidates"))?;
        vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: None,
                refusal: Some(prompt_blocked_refusal(&reason)),
                ..Default::default()
            },
            finish_reason: Some(FinishReason::ContentFilter),
            logprobs: None,
        }]
    } else {
        candidates
            .into_iter()
            .enumerate()
            .map(|(position, c)| convert_candidate(c, position, &seed))
            .collect()
    };
    Ok(ChatResponse {
        id,
        object: "chat.completion".to_owned(),
        created: ctx.created,
        model: resp
            .model_version
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| ctx.model.clone()),
        choices,
        usage: resp.usage_metadata.as_ref().map(usage_from),
        system_fingerprint: None,
    })
}

pub(crate) fn bad_response(message: &'static str) -> Error {
    Error::new(ErrorKind::BadUpstreamResponse, message)
}

/// The candidate's position as its index, unless it names one.
pub(crate) fn candidate_index(c: &Candidate, position: usize) -> u32 {
    c.index
        .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX))
}

fn convert_candidate(c: Candidate, position: usize, seed: &str) -> Choice {
    let index = candidate_index(&c, position);
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    for part in c.content.and_then(|c| c.parts).unwrap_or_default() {
        match classify(part) {
            Piece::Call(call) => {
                let ordinal = u32::try_from(calls.len()).unwrap_or(u32::MAX);
                calls.push(ToolCall {
                    id: call.id(seed, index, ordinal),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: call.name,
                        arguments: call.arguments,
                    },
                });
            }
            Piece::Thought(t) => reasoning.push_str(&t),
            Piece::Text(t) => text.push_str(&t),
            Piece::Nothing => {}
        }
    }
    let finish = finish_reason(c.finish_reason.as_deref(), !calls.is_empty());
    let filtered = finish == FinishReason::ContentFilter;
    let content = if filtered || (text.is_empty() && !calls.is_empty()) {
        None
    } else {
        Some(text)
    };
    Choice {
        index,
        message: ResponseMessage {
            role: "assistant".to_owned(),
            content,
            refusal: filtered.then(|| output_blocked_refusal(c.finish_reason.as_deref())),
            tool_calls: (!calls.is_empty()).then_some(calls),
            reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
            thinking_blocks: None,
        },
        finish_reason: Some(finish),
        logprobs: None,
    }
}

/// What one response part contributes.
pub(crate) enum Piece {
    Call(Call),
    Thought(String),
    Text(String),
    Nothing,
}

/// A function call part.
pub(crate) struct Call {
    pub name: String,
    /// The arguments as a JSON string (`{}` for none).
    pub arguments: String,
    gemini_id: Option<String>,
    signature: Option<String>,
}

impl Call {
    /// The OpenAI tool-call id of call `ordinal` of `candidate` in the
    /// response `seed` names ([`tool_call_id`]).
    pub fn id(&self, seed: &str, candidate: u32, ordinal: u32) -> String {
        tool_call_id(
            seed,
            candidate,
            ordinal,
            self.gemini_id.as_deref(),
            self.signature.as_deref(),
        )
    }
}

/// Sorts a part into call, thought text, text or nothing (empty text and
/// unsupported data fields).
pub(crate) fn classify(part: PartIn) -> Piece {
    if let Some(call) = part.function_call {
        let arguments = match call.args {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(args) => args.to_string(),
        };
        return Piece::Call(Call {
            name: call.name,
            arguments,
            gemini_id: call.id,
            signature: part.thought_signature,
        });
    }
    match part.text {
        Some(t) if t.is_empty() => Piece::Nothing,
        Some(t) if part.thought == Some(true) => Piece::Thought(t),
        Some(t) => Piece::Text(t),
        None => Piece::Nothing,
    }
}

/// Gemini `finishReason` → OpenAI (§4.7); any function call wins (E17).
pub(crate) fn finish_reason(reason: Option<&str>, saw_call: bool) -> FinishReason {
    if saw_call {
        return FinishReason::ToolCalls;
    }
    match reason {
        Some("MAX_TOKENS") => FinishReason::Length,
        Some(
            "SAFETY"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "LANGUAGE"
            | "RECITATION"
            | "IMAGE_RECITATION",
        ) => FinishReason::ContentFilter,
        // STOP, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, …
        _ => FinishReason::Stop,
    }
}

/// The `refusal` text of a blocked prompt (E16).
pub(crate) fn prompt_blocked_refusal(reason: &str) -> String {
    format!("The prompt was blocked by the provider's content filter ({reason}).")
}

/// The `refusal` text of a filtered output.
pub(crate) fn output_blocked_refusal(reason: Option<&str>) -> String {
    format!(
        "The response was blocked by the provider's content filter ({}).",
        reason.unwrap_or("unspecified")
    )
}

/// `usageMetadata` → OpenAI usage (§4.9, E30): prompt tokens include cached
/// ones, completion tokens include thoughts.
pub(crate) fn usage_from(u: &UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count.unwrap_or(0);
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let completion = u
        .candidates_token_count
        .unwrap_or(0)
        .saturating_add(thoughts);
    let total = u.total_token_count.unwrap_or_else(|| {
        prompt
            .saturating_add(completion)
            .saturating_add(u.tool_use_prompt_token_count.unwrap_or(0))
    });
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(u.cached_content_token_count.unwrap_or(0)),
            cache_write_tokens: None,
        }),
        completion_tokens_details: Some(CompletionTokensDetails {
            reasoning_tokens: Some(thoughts),
        }),
    }
}

/// Converts a Gemini error body (`{"error":{…}}`, or that object wrapped in
/// an array) into a gateway error of kind `Upstream(status)` carrying the
/// upstream message (§3.9, §4.14).
///
/// * `details[].reason == "API_KEY_INVALID"` → `Upstream(401)`, code
///   `invalid_api_key` (E29).
/// * Codes: 404 `model_not_found`, 429 `rate_limit_exceeded`, otherwise the
///   RPC status (`INVALID_ARGUMENT`, `FAILED_PRECONDITION`, …).
/// * `retry_after` is the header's value, else the `google.rpc.RetryInfo`
///   detail's `retryDelay` (`"17s"`), bounded like the header.
pub fn error_from_gemini(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(error_object)
        .unwrap_or_default();
    build_error(status, error, retry_after)
}

/// Converts an `error` member (of a stream event or a body) into an error;
/// `default_status` is used when it carries no code.
pub(crate) fn error_from_value(
    default_status: u16,
    error: Value,
    retry_after: Option<Duration>,
) -> Error {
    let body: ErrorBody = serde_json::from_value(error).unwrap_or_default();
    let status = body
        .code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(default_status);
    build_error(status, body, retry_after)
}

fn error_object(v: Value) -> Option<ErrorBody> {
    let v = match v {
        Value::Array(items) => items.into_iter().next()?,
        other => other,
    };
    serde_json::from_value::<ErrorEnvelope>(v).ok()?.error
}

fn build_error(status: u16, body: ErrorBody, retry_after: Option<Duration>) -> Error {
    let details = body.details.unwrap_or_default();
    let key_invalid = details
        .iter()
        .any(|d| d.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"));
    let message = body
        .message
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| format!("Gemini returned HTTP {status}"));
    let (kind, code) = if key_invalid || status == 401 {
        (ErrorKind::Upstream(401), Some("invalid_api_key".to_owned()))
    } else {
        let code = match status {
            404 => Some("model_not_found".to_owned()),
            429 => Some("rate_limit_exceeded".to_owned()),
            _ => body.status.filter(|s| !s.is_empty()),
        };
        (ErrorKind::Upstream(status), code)
    };
    let retry_after = retry_after.or_else(|| retry_delay(&details));
    let error = Error::new(kind, message).with_retry_after(retry_after);
    match code {
        Some(code) => error.with_code(code),
        None => error,
    }
}

/// `google.rpc.RetryInfo.retryDelay` (`"17s"`, `"0.5s"`), bounded.
fn retry_delay(details: &[Value]) -> Option<Duration> {
    let info = details.iter().find(|d| {
        d.get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
    })?;
    let delay = info.get("retryDelay")?;
    let seconds = match delay {
        Value::String(s) => s.trim().strip_suffix('s')?.trim().parse::<f64>().ok()?,
        Value::Object(o) => o.get("seconds").and_then(|s| match s {
            Value::String(s) => s.parse::<f64>().ok(),
            other => other.as_f64(),
        })?,
        _ => return None,
    };
    bounded_wait(seconds)
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
