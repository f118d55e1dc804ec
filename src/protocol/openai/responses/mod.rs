//! The inbound OpenAI Responses API (`POST /v1/responses`): Codex CLI, the
//! OpenAI Agents SDK and the Vercel AI SDK served by the OpenAI-shaped
//! pipeline, whatever the provider behind the model.
//!
//! * [`request::to_openai`]: a Responses body → a chat request plus a
//!   [`ResponsesContext`] for the way back.
//! * [`response::from_openai`]: `ChatResponse` → the `response` object.
//! * [`stream::ResponsesEncoder`]: OpenAI chunks → Responses SSE events
//!   (`event:` = `type`, a rising `sequence_number`), a
//!   [`ClientEncoder`](crate::protocol::ClientEncoder).
//!
//! Both directions build the same output items ([`Item`]) and the same
//! `response` object ([`ResponseObject`]), so a streamed answer ends with
//! exactly the object a whole one is. Anthropic thinking blocks (with their
//! signatures) ride in a reasoning item's `encrypted_content`, so a client
//! that sends its items back (Codex does) gets them to Anthropic unchanged
//! (E18).

mod api;
pub mod relay;
pub mod request;
pub mod response;
pub mod stream;

pub use api::ResponsesCaller;
pub use request::to_openai;
pub use response::from_openai;
pub use stream::ResponsesEncoder;

use crate::protocol::error::ErrorReply;
use crate::protocol::openai::{FinishReason, ThinkingBlock, Usage};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where a finished answer goes when the caller asked to keep it (`store`):
/// given the whole `response` object, as `GET /v1/responses/{id}` returns
/// it. Called once per answered call, for completed and incomplete answers.
pub trait Keep: Send + Sync {
    /// Keeps `response` (a JSON object).
    fn keep(&self, response: &[u8]);
}

/// What the way back needs: the response id, the model name the caller
/// asked for, the request fields a `response` object repeats, and where a
/// stored answer goes.
#[derive(Clone, Default)]
pub struct ResponsesContext {
    /// `resp_…`, chosen by the route (unique per call).
    pub id: String,
    /// The `model` of the caller's request.
    pub model: String,
    /// Request fields repeated in the `response` object (`instructions`,
    /// `tools`, `temperature`, …), with the API's defaults for absent ones.
    pub echo: Map<String, Value>,
    /// The store for `store: true` answers.
    pub keep: Option<Arc<dyn Keep>>,
}

impl std::fmt::Debug for ResponsesContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsesContext")
            .field("id", &self.id)
            .field("model", &self.model)
            .field("keep", &self.keep.is_some())
            .finish_non_exhaustive()
    }
}

impl ResponsesContext {
    /// The id without its `resp_` prefix, for item ids.
    fn base(&self) -> &str {
        self.id.strip_prefix("resp_").unwrap_or(&self.id)
    }

    fn message_id(&self, n: usize) -> String {
        format!("msg_{}_{n}", self.base())
    }

    fn reasoning_id(&self, n: usize) -> String {
        format!("rs_{}_{n}", self.base())
    }

    fn call_id(&self, n: usize) -> String {
        format!("fc_{}_{n}", self.base())
    }

    /// The `response` object of an answer with these items.
    fn object<'a>(
        &'a self,
        created_at: u64,
        status: Status,
        output: &'a [Item],
        usage: Option<&Usage>,
        error: Option<&ErrorReply<'_>>,
    ) -> ResponseObject<'a> {
        ResponseObject {
            id: &self.id,
            object: "response",
            created_at,
            status: status.as_str(),
            error: error.map(|e| ErrorOut {
                code: e
                    .code
                    .map_or_else(|| error_code(e.status).to_owned(), str::to_owned),
                message: e.message.to_owned(),
            }),
            incomplete_details: status.reason().map(|reason| Incomplete { reason }),
            model: &self.model,
            output,
            usage: usage.map(UsageOut::from_openai),
            echo: &self.echo,
        }
    }

    /// Writes `response` to the store when the caller asked to keep it.
    fn keep(&self, response: &[u8]) {
        if let Some(keep) = &self.keep {
            keep.keep(response);
        }
    }
}

/// A response's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    InProgress,
    Completed,
    /// Stopped early, with the `incomplete_details.reason`.
    Incomplete(&'static str),
    Failed,
}

impl Status {
    /// The status of an answer that ended with `finish`.
    fn of(finish: Option<FinishReason>) -> Self {
        match finish {
            Some(FinishReason::Length) => Status::Incomplete("max_output_tokens"),
            Some(FinishReason::ContentFilter) => Status::Incomplete("content_filter"),
            _ => Status::Completed,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete(_) => "incomplete",
            Status::Failed => "failed",
        }
    }

    fn reason(self) -> Option<&'static str> {
        match self {
            Status::Incomplete(reason) => Some(reason),
            _ => None,
        }
    }
}

/// The `error.code` of a failed response without an upstream code.
fn error_code(status: u16) -> &'static str {
    match status {
        429 => "rate_limit_exceeded",
        400..=499 => "invalid_request",
        _ => "server_error",
    }
}

/// The `response` object (whole answers, `response.*` stream events, the
/// store).
#[derive(Serialize)]
struct ResponseObject<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    error: Option<ErrorOut>,
    incomplete_details: Option<Incomplete>,
    model: &'a str,
    output: &'a [Item],
    usage: Option<UsageOut>,
    #[serde(flatten)]
    echo: &'a Map<String, Value>,
}

#[derive(Serialize)]
struct ErrorOut {
    code: String,
    message: String,
}

#[derive(Serialize)]
struct Incomplete {
    reason: &'static str,
}

/// One output item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Item {
    Reasoning {
        id: String,
        summary: Vec<SummaryText>,
        /// Anthropic thinking blocks, as JSON (see [`thinking_envelope`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    Message {
        id: String,
        status: &'static str,
        role: &'static str,
        content: Vec<OutputText>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: &'static str,
    },
}

/// A reasoning summary part.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct SummaryText {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

impl SummaryText {
    fn new(text: String) -> Self {
        Self {
            kind: "summary_text",
            text,
        }
    }
}

/// An `output_text` content part.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct OutputText {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
    annotations: [(); 0],
}

impl OutputText {
    fn new(text: String) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: [],
        }
    }
}

/// The prefix of an `encrypted_content` that carries Anthropic thinking
/// blocks: anything else is a provider's own encrypted reasoning.
const THINKING_PREFIX: &str = "gateway.thinking:";

/// Anthropic thinking blocks as a reasoning item's `encrypted_content`
/// (opaque to clients, read back by [`request`]).
fn thinking_envelope(blocks: &[ThinkingBlock]) -> Option<String> {
    if blocks.is_empty() {
        return None;
    }
    serde_json::to_string(blocks)
        .ok()
        .map(|json| format!("{THINKING_PREFIX}{json}"))
}

/// Responses `usage`: OpenAI's counts under the Responses names.
#[derive(Debug, Clone, Copy, Serialize)]
struct UsageOut {
    input_tokens: u64,
    input_tokens_details: CachedTokens,
    output_tokens: u64,
    output_tokens_details: ReasoningTokens,
    total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct CachedTokens {
    cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct ReasoningTokens {
    reasoning_tokens: u64,
}

impl UsageOut {
    fn from_openai(u: &Usage) -> Self {
        Self {
            input_tokens: u.prompt_tokens,
            input_tokens_details: CachedTokens {
                cached_tokens: u.cached_tokens(),
            },
            output_tokens: u.completion_tokens,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: u
                    .completion_tokens_details
                    .and_then(|d| d.reasoning_tokens)
                    .unwrap_or(0),
            },
            total_tokens: u.prompt_tokens.saturating_add(u.completion_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::{CompletionTokensDetails, PromptTokensDetails};

    #[test]
    fn usage_keeps_cached_and_reasoning_tokens() {
        let u = Usage {
            prompt_tokens: 100,
            completion_tokens: 30,
            total_tokens: 130,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(80),
                cache_write_tokens: None,
            }),
            completion_tokens_details: Some(CompletionTokensDetails {
                reasoning_tokens: Some(12),
            }),
        };
        assert_eq!(
            serde_json::to_value(UsageOut::from_openai(&u)).unwrap(),
            serde_json::json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 80},
                "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12},
                "total_tokens": 130})
        );
    }

    #[test]
    fn finish_reasons_map_to_statuses() {
        assert_eq!(Status::of(None), Status::Completed);
        assert_eq!(Status::of(Some(FinishReason::ToolCalls)), Status::Completed);
        assert_eq!(
            Status::of(Some(FinishReason::Length)).reason(),
            Some("max_output_tokens")
        );
        assert_eq!(
            Status::of(Some(FinishReason::ContentFilter)).reason(),
            Some("content_filter")
        );
    }
}
