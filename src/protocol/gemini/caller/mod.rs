//! Gemini `generateContent` as the caller's API (the google-genai SDKs,
//! Gemini CLI), served by any provider:
//!
//! * [`request`]: a Gemini body → the lingua franca (OpenAI chat), for
//!   providers that do not speak Gemini (Gemini providers get the body
//!   relayed, the model rewritten in the URL).
//! * [`response`]: a `ChatResponse` → a `GenerateContentResponse`.
//! * [`stream`]: OpenAI chunks → Gemini stream events ([`GeminiEncoder`]),
//!   the relay of a Gemini stream ([`GeminiPassThrough`]), and the JSON-array
//!   form of `streamGenerateContent` without `alt=sse` ([`JsonArray`]).
//! * [`embed`]: `embedContent` and `batchEmbedContents` through the
//!   lingua franca of embeddings.
//! * [`models`]: `GET /v1beta/models` entries.
//!
//! Answers name the model the caller asked for (`modelVersion`); tool calls
//! keep the provider's ids as `functionCall.id`, so the caller's
//! `functionResponse.id` pairs them back exactly.

mod api;
pub mod embed;
pub mod models;
pub mod request;
pub mod response;
pub mod stream;

pub use api::GeminiCaller;
pub use stream::{GeminiEncoder, GeminiPassThrough, JsonArray};

use crate::protocol::gemini::types::UsageMetadata;
use crate::protocol::openai::{FinishReason, Usage};
use serde_json::{Map, Value};

/// OpenAI `finish_reason` → Gemini `finishReason`: a tool call is `STOP`
/// (as Gemini says it), a filtered answer `SAFETY`.
fn finish_reason(finish: Option<FinishReason>) -> &'static str {
    match finish {
        None | Some(FinishReason::Stop | FinishReason::ToolCalls | FinishReason::FunctionCall) => {
            "STOP"
        }
        Some(FinishReason::Length) => "MAX_TOKENS",
        Some(FinishReason::ContentFilter) => "SAFETY",
    }
}

/// OpenAI usage → `usageMetadata` (E30 reversed): `candidatesTokenCount`
/// leaves out the thoughts, which Gemini counts apart; prompt tokens
/// include the cached ones, as in Gemini.
fn usage_metadata(u: &Usage) -> UsageMetadata {
    let thoughts = u
        .completion_tokens_details
        .and_then(|d| d.reasoning_tokens)
        .unwrap_or(0)
        .min(u.completion_tokens);
    let cached = u.cached_tokens();
    UsageMetadata {
        prompt_token_count: Some(u.prompt_tokens),
        candidates_token_count: Some(u.completion_tokens - thoughts),
        total_token_count: Some(u.total_tokens.max(u.prompt_tokens + u.completion_tokens)),
        thoughts_token_count: (thoughts > 0).then_some(thoughts),
        cached_content_token_count: (cached > 0).then_some(cached),
        tool_use_prompt_token_count: None,
    }
}

/// A tool call's JSON `arguments` as Gemini's `args` object; anything that
/// is not an object (a model's broken JSON) becomes `{}`.
fn args(arguments: &str) -> Value {
    match serde_json::from_str(arguments) {
        Ok(Value::Object(m)) => Value::Object(m),
        _ => Value::Object(Map::new()),
    }
}

/// The `responseId` for an OpenAI id: without the `chatcmpl-` prefix the
/// gateway's own decoders add.
fn response_id(openai_id: &str) -> String {
    openai_id
        .strip_prefix("chatcmpl-")
        .unwrap_or(openai_id)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::{CompletionTokensDetails, PromptTokensDetails};

    #[test]
    fn finish_reasons_map_to_gemini() {
        for (finish, want) in [
            (None, "STOP"),
            (Some(FinishReason::Stop), "STOP"),
            (Some(FinishReason::ToolCalls), "STOP"),
            (Some(FinishReason::Length), "MAX_TOKENS"),
            (Some(FinishReason::ContentFilter), "SAFETY"),
        ] {
            assert_eq!(finish_reason(finish), want, "{finish:?}");
        }
    }

    #[test]
    fn usage_counts_thoughts_and_cache_apart() {
        let u = Usage {
            prompt_tokens: 100,
            completion_tokens: 30,
            total_tokens: 130,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(60),
                cache_write_tokens: None,
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(12),
            }),
        };
        let m = usage_metadata(&u);
        assert_eq!(m.prompt_token_count, Some(100));
        assert_eq!(m.candidates_token_count, Some(18));
        assert_eq!(m.thoughts_token_count, Some(12));
        assert_eq!(m.cached_content_token_count, Some(60));
        assert_eq!(m.total_token_count, Some(130));
    }

    #[test]
    fn arguments_become_an_object() {
        assert_eq!(args(r#"{"a":1}"#), serde_json::json!({"a": 1}));
        assert_eq!(args("[1]"), serde_json::json!({}));
        assert_eq!(args("{broken"), serde_json::json!({}));
        assert_eq!(response_id("chatcmpl-abc"), "abc");
    }
}
