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
    pub top_k: Option<u64>,
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
            && self.top_k.is_none()
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
/// §3.8). The caller side writes it too (absent fields left out).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GenerateContentResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Present on an error event in a stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// One candidate.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Candidate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// A turn as Gemini writes it: a response's content, or (caller side) a
/// request's `contents[]` entry and `systemInstruction`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ContentIn {
    /// `user` or `model` (absent on `systemInstruction`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartIn>>,
}

/// A part as Gemini writes it; only the fields the gateway reads. Other
/// data fields (`executableCode`, …) leave every field here empty.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PartIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "thought_signature")]
    pub thought_signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "function_call")]
    pub function_call: Option<FunctionCallIn>,
    /// Caller side: a tool result.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "function_response")]
    pub function_response: Option<FunctionResponseIn>,
    /// Caller side: bytes with their MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "inline_data")]
    pub inline_data: Option<BlobIn>,
    /// Caller side: a file by URI (Gemini's Files API, Cloud Storage).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "file_data")]
    pub file_data: Option<FileDataIn>,
}

/// A `functionCall` from the model; it always arrives whole (§3.5).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FunctionCallIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// A `functionResponse` part of a caller's request.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct FunctionResponseIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// `inlineData` of a caller's request: base64 bytes.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BlobIn {
    #[serde(alias = "mime_type")]
    pub mime_type: String,
    pub data: String,
}

/// `fileData` of a caller's request.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileDataIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(alias = "mime_type")]
    pub mime_type: Option<String>,
    #[serde(alias = "file_uri")]
    pub file_uri: String,
}

/// `promptFeedback`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PromptFeedback {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
}

/// `usageMetadata`; counts are running totals in a stream (§3.8).
#[derive(Debug, Default, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UsageMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

// ------------------------------------------------------ caller's request

/// A caller's `generateContent` (and `countTokens`) body; unknown members
/// are ignored, those the conversion cannot carry are listed in `other`.
/// Field names are read in both proto-JSON spellings (`inlineData` and
/// `inline_data`): the google-genai SDKs send some in snake case.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerRequest {
    pub contents: Vec<ContentIn>,
    #[serde(alias = "system_instruction")]
    pub system_instruction: Option<ContentIn>,
    pub tools: Vec<CallerTool>,
    #[serde(alias = "tool_config")]
    pub tool_config: Option<CallerToolConfig>,
    #[serde(alias = "generation_config")]
    pub generation_config: Option<CallerGenerationConfig>,
    /// `countTokens` may wrap the whole request.
    #[serde(alias = "generate_content_request")]
    pub generate_content_request: Option<Box<CallerRequest>>,
    /// `safetySettings`, `cachedContent`, `labels`, …
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A caller's `tools[]` entry: function declarations, or a built-in tool
/// (`googleSearch`, `codeExecution`, …) kept in `other`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerTool {
    #[serde(alias = "function_declarations")]
    pub function_declarations: Vec<CallerFunction>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// One function declaration: `parameters` in Gemini's Schema, or
/// `parametersJsonSchema` in JSON Schema.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerFunction {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
    #[serde(alias = "parameters_json_schema")]
    pub parameters_json_schema: Option<Value>,
}

/// `toolConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerToolConfig {
    #[serde(alias = "function_calling_config")]
    pub function_calling_config: Option<CallerCallingConfig>,
}

/// `functionCallingConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerCallingConfig {
    pub mode: Option<String>,
    #[serde(alias = "allowed_function_names")]
    pub allowed_function_names: Option<Vec<String>>,
}

/// A caller's `generationConfig`; fields with no lingua-franca equivalent
/// stay in `other`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerGenerationConfig {
    pub temperature: Option<f64>,
    #[serde(alias = "top_p")]
    pub top_p: Option<f64>,
    #[serde(alias = "top_k")]
    pub top_k: Option<f64>,
    #[serde(alias = "max_output_tokens")]
    pub max_output_tokens: Option<u64>,
    #[serde(alias = "stop_sequences")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(alias = "candidate_count")]
    pub candidate_count: Option<u32>,
    pub seed: Option<i64>,
    #[serde(alias = "presence_penalty")]
    pub presence_penalty: Option<f64>,
    #[serde(alias = "frequency_penalty")]
    pub frequency_penalty: Option<f64>,
    #[serde(alias = "response_mime_type")]
    pub response_mime_type: Option<String>,
    #[serde(alias = "response_schema")]
    pub response_schema: Option<Value>,
    #[serde(alias = "response_json_schema")]
    pub response_json_schema: Option<Value>,
    #[serde(alias = "thinking_config")]
    pub thinking_config: Option<CallerThinkingConfig>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A caller's `thinkingConfig`: a 2.5-style budget or a 3-style level.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallerThinkingConfig {
    #[serde(alias = "thinking_budget")]
    pub thinking_budget: Option<i64>,
    #[serde(alias = "thinking_level")]
    pub thinking_level: Option<String>,
    #[serde(alias = "include_thoughts")]
    pub include_thoughts: Option<bool>,
}
