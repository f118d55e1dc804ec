//! The Anthropic Messages dialect (PROTOCOLS.md §2, §4.1–4.3): OpenAI chat
//! requests to `/v1/messages` bodies, and Anthropic responses, streams and
//! error bodies back to OpenAI shapes.
//!
//! * [`request::to_anthropic`]: `ChatRequest` → Messages body, plus the list of
//!   parameters it dropped and a [`ResponseContext`] for the way back.
//! * [`response::from_anthropic`], [`response::error_from_anthropic`]:
//!   non-streaming bodies and error bodies.
//! * [`stream::AnthropicToOpenAi`]: the stream state machine (§4.3).
//!
//! JSON mode (`response_format` `json_object` / `json_schema`) uses the
//! forced-tool trick (§4.1): a synthetic tool whose `input_schema` is the
//! requested schema is forced with `tool_choice`, and its `input` comes back as
//! the message `content`, in streams too. It works on every current Claude
//! model, unlike `output_config.format`, which is new and model-dependent.

mod api;
pub mod cache;
pub mod request;
pub mod response;
pub mod stream;
use super::types;

pub use api::AnthropicProvider;
pub use request::to_anthropic;
pub use response::{error_from_anthropic, from_anthropic};
pub use stream::{error_event, AnthropicToOpenAi};

/// Settings of one request conversion that come from the route, not the
/// caller.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions<'a> {
    /// The upstream model name (after alias mapping).
    pub api_model: &'a str,
    /// `max_tokens` to send when the caller gave none (Anthropic requires
    /// it, §4.13).
    pub default_max_tokens: u64,
}

/// What the request conversion produced.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The JSON body for `POST /v1/messages`.
    pub body: Vec<u8>,
    /// Names of caller parameters that were not sent (for the
    /// `x-gateway-dropped-params` header), in a stable order, no duplicates.
    pub dropped: Vec<String>,
    /// What the response converters need to know about the request.
    pub ctx: ResponseContext,
}

/// What the response and stream converters need to know about the request:
/// the synthetic JSON-mode tool, the tool names that had to be renamed, and
/// the prefill text to put back in front of the answer (E19).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseContext {
    /// Name of the synthetic tool whose `input` is the JSON-mode answer.
    json_tool: Option<String>,
    /// `(name sent to Anthropic, caller's name)` for tool names that were not
    /// valid Anthropic tool names.
    tool_names: Vec<(String, String)>,
    /// The trailing assistant message sent as a prefill (E19).
    prefill: Option<String>,
    /// Unix seconds for `created` of a non-streaming response (the caller's
    /// side sets it: this layer reads no clock).
    pub created: u64,
}

impl ResponseContext {
    /// The caller's name for a tool name Anthropic returned.
    fn original_tool_name(&self, sent: String) -> String {
        match self.tool_names.iter().find(|(s, _)| *s == sent) {
            Some((_, original)) => original.clone(),
            None => sent,
        }
    }

    /// Whether `name` is the synthetic JSON-mode tool.
    fn is_json_tool(&self, name: &str) -> bool {
        self.json_tool.as_deref() == Some(name)
    }
}

/// The mapping of Anthropic `stop_reason` to OpenAI `finish_reason` (§4.7);
/// `null` and unknown values become `stop`.
fn finish_reason(stop_reason: Option<&str>) -> crate::protocol::openai::FinishReason {
    use crate::protocol::openai::FinishReason;
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// The usage of an Anthropic message body, in OpenAI's meaning (for
/// metrics on native pass-through).
pub fn usage_of(body: &[u8]) -> Result<Option<crate::protocol::openai::Usage>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Probe {
        usage: Option<types::AnthropicUsage>,
    }
    let probe: Probe = serde_json::from_slice(body)?;
    Ok(probe.usage.as_ref().map(openai_usage))
}

/// Anthropic usage in OpenAI's meaning (§4.9, E30): `prompt_tokens` includes
/// cache reads and cache writes.
pub fn openai_usage(u: &types::AnthropicUsage) -> crate::protocol::openai::Usage {
    use crate::protocol::openai::{CompletionTokensDetails, PromptTokensDetails, Usage};
    let input = u.input_tokens.unwrap_or(0);
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = input.saturating_add(read).saturating_add(write);
    let completion = u.output_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt.saturating_add(completion),
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(read),
            cache_write_tokens: (write > 0).then_some(write),
        }),
        completion_tokens_details: u.output_tokens_details.and_then(|d| d.thinking_tokens).map(
            |t| CompletionTokensDetails {
                reasoning_tokens: Some(t),
            },
        ),
    }
}

/// The upstream status an Anthropic error type stands for (§2.7); used for
/// mid-stream `error` events, which arrive after a 200 (E26).
fn status_for_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::{FinishReason, PromptTokensDetails, Usage};

    pub(super) use crate::protocol::testing::{damaged, StreamRun};

    /// Feeds `sse` to a fresh converter through the SSE parser in reads of
    /// `piece` bytes.
    pub(super) fn run_stream(ctx: &ResponseContext, sse: &[u8], piece: usize) -> StreamRun {
        let conv = AnthropicToOpenAi::new(ctx.clone(), 1_730_000_000);
        crate::protocol::testing::run_decoder(conv, sse, piece)
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        let table = [
            (Some("end_turn"), FinishReason::Stop),
            (Some("stop_sequence"), FinishReason::Stop),
            (Some("pause_turn"), FinishReason::Stop),
            (Some("max_tokens"), FinishReason::Length),
            (Some("model_context_window_exceeded"), FinishReason::Length),
            (Some("tool_use"), FinishReason::ToolCalls),
            (Some("refusal"), FinishReason::ContentFilter),
            (Some("something_new"), FinishReason::Stop),
            (None, FinishReason::Stop),
        ];
        for (stop, want) in table {
            assert_eq!(finish_reason(stop), want, "{stop:?}");
        }
    }

    #[test]
    fn prompt_tokens_include_cache_reads_and_writes_e30() {
        let u = types::AnthropicUsage {
            input_tokens: Some(21),
            output_tokens: Some(17),
            cache_creation_input_tokens: Some(1200),
            cache_read_input_tokens: Some(9000),
            output_tokens_details: None,
        };
        assert_eq!(
            openai_usage(&u),
            Usage {
                prompt_tokens: 10_221,
                completion_tokens: 17,
                total_tokens: 10_238,
                prompt_tokens_details: Some(PromptTokensDetails {
                    cached_tokens: Some(9000),
                    cache_write_tokens: Some(1200),
                }),
                completion_tokens_details: None,
            }
        );
    }

    #[test]
    fn error_types_map_to_upstream_statuses() {
        let table = [
            ("invalid_request_error", 400),
            ("authentication_error", 401),
            ("billing_error", 402),
            ("permission_error", 403),
            ("not_found_error", 404),
            ("request_too_large", 413),
            ("rate_limit_error", 429),
            ("api_error", 500),
            ("timeout_error", 504),
            ("overloaded_error", 529),
            ("brand_new_error", 500),
        ];
        for (kind, status) in table {
            assert_eq!(status_for_error_type(kind), status, "{kind}");
        }
    }
}
