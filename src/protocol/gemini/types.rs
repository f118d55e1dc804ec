//! Gemini wire types (PROTOCOLS.md §3), lowerCamelCase on the wire.
//!
//! Request types borrow from the caller's [`ChatRequest`] and are only
//! serialised; response types are owned and tolerant: unknown fields are
//! ignored and every field may be missing or `null`.
//!
//! [`ChatRequest`]: crate::protocol::openai::ChatRequest

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

// ---------------------------------------------------------------- request

/// `generateContent` request body (§3.2).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest<'a> {
    pub contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig<'a>>,
}

/// One turn; `role` is `user` or `model` (absent for `systemInstruction`).
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub parts: Vec<Part<'a>>,
}

/// A part: exactly one data field plus an optional `thoughtSignature` (§3.3).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part<'a> {
    #[serde(flatten)]
    pub data: PartData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

impl<'a> Part<'a> {
    /// A part without signature.
    pub fn new(data: PartData<'a>) -> Self {
        Self {
            data,
            thought_signature: None,
        }
    }
}

/// The data field of a request [`Part`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PartData<'a> {
    Text(Cow<'a, str>),
    InlineData(Blob<'a>),
    FunctionCall(FunctionCallOut<'a>),
    FunctionResponse(FunctionResponseOut<'a>),
}

/// `inlineData`: base64 bytes with their MIME type.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    pub mime_type: Cow<'a, str>,
    pub data: &'a str,
}

/// A `functionCall` in history; `args` is the caller's JSON object, unparsed.
#[derive(Debug, Serialize)]
pub struct FunctionCallOut<'a> {
    pub name: &'a str,
    pub args: Cow<'a, RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
}

/// A `functionResponse`: `response` is `{"output": …}` (§3.3).
#[derive(Debug, Serialize)]
pub struct FunctionResponseOut<'a> {
    pub name: &'a str,
    pub response: FunctionOutput<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
}

/// `{"output": <JSON object or string>}`.
#[derive(Debug, Serialize)]
pub struct FunctionOutput<'a> {
    pub output: OutputValue<'a>,
}

/// A tool result: a JSON object passed through, or the text.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum OutputValue<'a> {
    Json(Cow<'a, RawValue>),
    Text(Cow<'a, str>),
}

/// `tools[]` entry holding every function (§3.4).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

/// One function declaration; `parameters` is the cleaned schema (§3.4).
#[derive(Debug, Serialize)]
pub struct FunctionDeclaration<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// `toolConfig` (§3.5).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub function_calling_config: FunctionCallingConfig<'a>,
}

/// `functionCallingConfig`: `mode` is `AUTO`, `ANY` or `NONE`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<&'a str>>,
}

/// `generationConfig` (§3.6).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig<'_> {
    /// Whether no field is set (the whole object is then left out).
    pub fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.max_output_tokens.is_none()
            && self.stop_sequences.is_none()
            && self.candidate_count.is_none()
            && self.seed.is_none()
            && self.presence_penalty.is_none()
            && self.frequency_penalty.is_none()
            && self.response_mime_type.is_none()
            && self.response_schema.is_none()
            && self.thinking_config.is_none()
    }
}

/// `thinkingConfig` (2.5-style budget).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    pub thinking_budget: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_thoughts: bool,
}

// ---------------------------------------------------------------- response

/// `GenerateContentResponse`: a whole response, or one stream event (§3.7,
/// §3.8).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GenerateContentResponse {
    pub candidates: Option<Vec<Candidate>>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// Present on an error event in a stream.
    pub error: Option<Value>,
}

/// One candidate.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Candidate {
    pub content: Option<ContentIn>,
    pub finish_reason: Option<String>,
    pub index: Option<u32>,
}

/// A response turn.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContentIn {
    pub parts: Option<Vec<PartIn>>,
}

/// A response part; only the fields the gateway reads. Other data fields
/// (`inlineData`, `executableCode`, …) leave every field here empty.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PartIn {
    pub text: Option<String>,
    pub thought: Option<bool>,
    pub thought_signature: Option<String>,
    pub function_call: Option<FunctionCallIn>,
}

/// A `functionCall` from the model; it always arrives whole (§3.5).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FunctionCallIn {
    pub name: String,
    pub args: Option<Value>,
    pub id: Option<String>,
}

/// `promptFeedback`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PromptFeedback {
    pub block_reason: Option<String>,
}

/// `usageMetadata`; counts are running totals in a stream (§3.8).
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsageMetadata {
    pub prompt_token_count: Option<u64>,
    pub candidates_token_count: Option<u64>,
    pub total_token_count: Option<u64>,
    pub thoughts_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
    pub tool_use_prompt_token_count: Option<u64>,
}

/// `{"error": {...}}` (§3.9).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorEnvelope {
    pub error: Option<ErrorBody>,
}

/// The Google RPC error object.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub details: Option<Vec<Value>>,
}
