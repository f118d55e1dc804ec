//! OpenAI Chat Completions wire types: the lingua franca inside the gateway.
//!
//! Every dialect converts to and from these types (PROTOCOLS.md §1). They are
//! tolerant at the edges: requests keep unknown top-level fields in `extra`,
//! content enums end in an `Other(Value)` variant that keeps the payload, so a
//! conversion can decide what to do with what it does not know.
//!
//! Two gateway extensions ride on assistant messages, for reasoning models:
//! `reasoning_content` (DeepSeek/LiteLLM style) carries the reasoning text, and
//! `thinking_blocks` carries Anthropic thinking blocks with their signatures so
//! a client can send them back on the next turn unchanged (E18).

pub mod cache;
pub mod caller;
pub mod embeddings;
pub mod provider;
pub mod relay;
pub mod responses;
pub mod stream;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Every field this type does not name, kept for pass-through and for
    /// listing what a conversion dropped.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Gateway-internal: what the caller's side could not carry into the
    /// lingua franca (e.g. Anthropic beta fields), named in
    /// `x-gateway-dropped-params` by every conversion.
    #[serde(skip)]
    pub dropped: Vec<String>,
    /// Gateway-internal: the prompt-cache breakpoints the caller marked
    /// (`cache_control` on a tool, a message or a content part, LiteLLM's
    /// convention), in prompt order ([`cache`]).
    #[serde(skip)]
    pub cache_breakpoints: Vec<cache::Breakpoint>,
}

impl ChatRequest {
    /// The output token limit the caller asked for: `max_completion_tokens`
    /// wins over the deprecated `max_tokens` (PROTOCOLS.md §1.2).
    pub fn max_output_tokens(&self) -> Option<u64> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Whether the caller asked for the final usage chunk of a stream.
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stop`: one string or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    /// The stop sequences as a slice-like list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

/// One chat message, discriminated by `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    System {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Developer {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    User {
        content: Content,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Assistant(AssistantMessage),
    Tool {
        content: Content,
        tool_call_id: String,
    },
    /// The deprecated predecessor of `tool` messages.
    Function {
        #[serde(default)]
        content: Option<Content>,
        name: String,
    },
}

/// An assistant turn in the conversation history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Gateway extension: reasoning text of an earlier turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Gateway extension: Anthropic thinking blocks (with signatures) of an
    /// earlier turn, sent back unchanged (E18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
}

/// A message's content: a plain string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    /// All text of the content joined without separator; non-text parts are
    /// skipped.
    pub fn text(&self) -> String {
        match self {
            Content::Text(s) => s.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// One part of a multi-part message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ContentPart {
    #[serde(rename = "text")]
    Text { text: String },
    #[serde(rename = "image_url")]
    ImageUrl { image_url: ImageUrl },
    #[serde(rename = "input_audio")]
    InputAudio { input_audio: Value },
    #[serde(rename = "file")]
    File { file: FilePart },
    /// A part type this gateway does not know, kept whole.
    #[serde(untagged)]
    Other(Value),
}

/// `image_url` part payload: an http(s) URL or a `data:` URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `file` part payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilePart {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A complete tool call, in a response message or in history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

/// The function half of a tool call; `arguments` is a JSON **string**.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: String,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionDef,
}

/// A function declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode string or a named function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `"none"`, `"auto"` or `"required"`.
    Mode(String),
    /// `{"type":"function","function":{"name":...}}`.
    Named(NamedToolChoice),
    /// Any other shape (`allowed_tools`, custom tools), kept whole.
    Other(Value),
}

/// `{"type":"function","function":{"name":...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

/// The name inside a [`NamedToolChoice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

/// The `json_schema` member of a `json_schema` response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// An Anthropic thinking block carried through OpenAI-shaped messages (E18).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingBlock {
    Thinking { thinking: String, signature: String },
    RedactedThinking { data: String },
}

/// Why a choice stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    FunctionCall,
}

/// Non-streaming `chat.completion` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub id: String,
    #[serde(default = "completion_object")]
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

fn completion_object() -> String {
    "chat.completion".to_owned()
}

/// One choice of a non-streaming response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    pub message: ResponseMessage,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// The assistant message of a non-streaming response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    #[serde(default = "assistant_role")]
    pub role: String,
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Gateway extension: the reasoning text (thinking / thought summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Gateway extension: Anthropic thinking blocks with signatures (E18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
}

fn assistant_role() -> String {
    "assistant".to_owned()
}

/// Token usage, with OpenAI's meaning: `prompt_tokens` includes cached
/// tokens and `completion_tokens` includes reasoning tokens (E30).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

/// The most tokens one call can read and write: the largest context window
/// offered today (10 million). An upstream that reports more is wrong.
pub const PLAUSIBLE_TOKENS: u64 = 10_000_000;

impl Usage {
    /// Cached prompt tokens (a subset of `prompt_tokens`).
    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    /// Prompt tokens written to a prompt cache (a subset of
    /// `prompt_tokens`; Anthropic's `cache_creation_input_tokens`).
    pub fn cache_write_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .and_then(|d| d.cache_write_tokens)
            .unwrap_or(0)
    }

    /// Every count at most [`PLAUSIBLE_TOKENS`], the details at most their
    /// totals: what the gateway charges and counts of what an upstream
    /// reports (a request's size cannot bound it: cached contents, media by
    /// URL and server-side tools all cost more than their bytes).
    pub fn plausible(self) -> Self {
        let cap = |n: u64| n.min(PLAUSIBLE_TOKENS);
        let (prompt, completion) = (cap(self.prompt_tokens), cap(self.completion_tokens));
        let within = |n: Option<u64>, total: u64| n.map(|n| n.min(total));
        Self {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: cap(self.total_tokens),
            prompt_tokens_details: self.prompt_tokens_details.map(|d| PromptTokensDetails {
                cached_tokens: within(d.cached_tokens, prompt),
                cache_write_tokens: within(d.cache_write_tokens, prompt),
            }),
            completion_tokens_details: self.completion_tokens_details.map(|d| {
                CompletionTokensDetails {
                    reasoning_tokens: within(d.reasoning_tokens, completion),
                }
            }),
        }
    }
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// One `chat.completion.chunk` of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// Shared by every chunk of a stream (a count, not a copy, per chunk).
    pub id: Arc<str>,
    #[serde(default = "chunk_object")]
    pub object: Cow<'static, str>,
    pub created: u64,
    /// Shared like `id`.
    pub model: Arc<str>,
    pub choices: Vec<ChunkChoice>,
    /// Only the final usage chunk (with `choices: []`) carries usage (E11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// The `object` of a stream chunk.
pub const CHUNK_OBJECT: &str = "chat.completion.chunk";

fn chunk_object() -> Cow<'static, str> {
    Cow::Borrowed(CHUNK_OBJECT)
}

impl ChatChunk {
    /// A chunk of one choice (index 0) carrying `delta`.
    pub fn single(
        id: &Arc<str>,
        model: &Arc<str>,
        created: u64,
        delta: Delta,
        finish_reason: Option<FinishReason>,
    ) -> Self {
        Self {
            id: Arc::clone(id),
            object: chunk_object(),
            created,
            model: Arc::clone(model),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: None,
            }],
            usage: None,
        }
    }
}

/// One choice of a stream chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// The incremental message of a chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Gateway extension: reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Gateway extension: a completed Anthropic thinking block with its
    /// signature, sent when the block closes (E18).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<ThinkingBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A tool-call fragment: the first carries `id`, `type` and the name, later
/// ones only argument pieces, joined by the client (E8).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

/// The function half of a [`ToolCallDelta`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_usage_is_clamped_and_plausible_usage_kept() {
        let huge: Usage = serde_json::from_str(
            r#"{"prompt_tokens":18446744073709551615,"completion_tokens":18446744073709551615,
                "total_tokens":18446744073709551615,
                "prompt_tokens_details":{"cached_tokens":18446744073709551615},
                "completion_tokens_details":{"reasoning_tokens":18446744073709551615}}"#,
        )
        .unwrap();
        let u = huge.plausible();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (PLAUSIBLE_TOKENS, PLAUSIBLE_TOKENS, PLAUSIBLE_TOKENS)
        );
        assert_eq!(u.cached_tokens(), PLAUSIBLE_TOKENS);
        let small = Usage {
            prompt_tokens: 19,
            completion_tokens: 10,
            total_tokens: 29,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(40),
                cache_write_tokens: None,
            }),
            completion_tokens_details: None,
        };
        let kept = small.plausible();
        assert_eq!(
            kept.cached_tokens(),
            19,
            "cached tokens are part of the prompt"
        );
        assert_eq!((kept.prompt_tokens, kept.total_tokens), (19, 29));
    }

    #[test]
    fn unknown_request_fields_are_kept_in_extra() {
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"1":2}}"#,
        )
        .unwrap();
        assert_eq!(req.extra["logit_bias"], serde_json::json!({"1": 2}));
        let back = serde_json::to_value(&req).unwrap();
        assert_eq!(back["logit_bias"], serde_json::json!({"1": 2}));
    }

    #[test]
    fn unknown_content_part_is_kept_whole() {
        let c: Content =
            serde_json::from_str(r#"[{"type":"text","text":"a"},{"type":"x-new","v":1}]"#).unwrap();
        let Content::Parts(parts) = c else {
            panic!("parts expected")
        };
        assert_eq!(
            parts[1],
            ContentPart::Other(serde_json::json!({"type":"x-new","v":1}))
        );
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let req = ChatRequest {
            max_tokens: Some(10),
            max_completion_tokens: Some(20),
            ..Default::default()
        };
        assert_eq!(req.max_output_tokens(), Some(20));
    }
}
