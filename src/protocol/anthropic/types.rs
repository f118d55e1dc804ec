//! Anthropic Messages wire types (PROTOCOLS.md §2).
//!
//! Request types borrow from the [`ChatRequest`](crate::protocol::openai::ChatRequest)
//! they are built from and are only serialised. Response and stream-event
//! types are owned and only deserialised; they are tolerant: unknown content
//! block types are kept as raw JSON in an `Other` variant, missing counters
//! default to zero.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

// ---------------------------------------------------------------- request

/// `POST /v1/messages` body (§2.2), borrowed from the OpenAI request.
#[derive(Debug, Serialize)]
pub struct MessagesRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<BlockParam<'a>>,
    pub messages: Vec<MessageParam<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolParam<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoiceParam<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingParam>,
}

/// `metadata` (§2.2): an opaque end-user id only.
#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    pub user_id: &'a str,
}

/// Who speaks a turn; Anthropic has no system or tool role (§4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of `messages`, always in the array-of-blocks form.
#[derive(Debug, Serialize)]
pub struct MessageParam<'a> {
    pub role: Role,
    pub content: Vec<BlockParam<'a>>,
}

/// An input content block (§2.3).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockParam<'a> {
    Text {
        text: &'a str,
    },
    Image {
        source: SourceParam<'a>,
    },
    Document {
        source: SourceParam<'a>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        /// The caller's `arguments` string, validated as a JSON object and
        /// sent as written.
        input: &'a RawValue,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent<'a>>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

impl BlockParam<'_> {
    /// Whether this is a `tool_result` block.
    pub fn is_tool_result(&self) -> bool {
        matches!(self, BlockParam::ToolResult { .. })
    }

    /// Whether this is a `thinking` or `redacted_thinking` block.
    pub fn is_thinking(&self) -> bool {
        matches!(
            self,
            BlockParam::Thinking { .. } | BlockParam::RedactedThinking { .. }
        )
    }
}

/// `tool_result.content`: a string or a list of blocks.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ToolResultContent<'a> {
    Text(&'a str),
    Blocks(Vec<BlockParam<'a>>),
}

/// The `source` of an image or document block (§2.3, §4.11).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceParam<'a> {
    Base64 {
        media_type: &'static str,
        data: &'a str,
    },
    Url {
        url: &'a str,
    },
}

/// A client tool (§2.2).
#[derive(Debug, Serialize)]
pub struct ToolParam<'a> {
    pub name: Cow<'a, str>,
    /// Always present (empty when the caller gave none), as in §4.1's example.
    pub description: &'a str,
    pub input_schema: Cow<'a, Value>,
}

/// `tool_choice` (§2.2).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoiceParam<'a> {
    Auto {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

/// `thinking` (§2.2); only the `enabled` form is produced.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingParam {
    Enabled { budget_tokens: u64 },
}

// --------------------------------------------------------------- response

/// A non-streaming response (§2.5); also the `message` of `message_start`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageResponse {
    /// `message`, or `error` for an error body.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    /// Absent only in a body that is not a message.
    #[serde(default)]
    pub content: Option<Vec<ContentBlock>>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

/// An output content block.
///
/// Read through a flat struct rather than a tagged enum so that a tool
/// `input` stays raw JSON, passed on byte for byte (key order kept), and so
/// that an unknown block type with unusual fields never fails the response.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawBlock")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        /// `None` when missing; `{}` in a stream's `content_block_start`.
        input: Option<Box<RawValue>>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    /// Server-tool blocks and anything newer (then dropped by the
    /// converters: they have no OpenAI equivalent, §4.2).
    Other {
        kind: String,
    },
}

/// Every field any output block type has that the converters read.
#[derive(Deserialize)]
struct RawBlock {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    kind: String,
    #[serde(default, deserialize_with = "lenient_string")]
    text: String,
    #[serde(default, deserialize_with = "lenient_string")]
    id: String,
    #[serde(default, deserialize_with = "lenient_string")]
    name: String,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "lenient_string")]
    thinking: String,
    #[serde(default, deserialize_with = "lenient_string")]
    signature: String,
    #[serde(default, deserialize_with = "lenient_string")]
    data: String,
}

impl From<RawBlock> for ContentBlock {
    fn from(b: RawBlock) -> Self {
        match b.kind.as_str() {
            "text" => ContentBlock::Text { text: b.text },
            "tool_use" => ContentBlock::ToolUse {
                id: b.id,
                name: b.name,
                input: b.input,
            },
            "thinking" => ContentBlock::Thinking {
                thinking: b.thinking,
                signature: b.signature,
            },
            "redacted_thinking" => ContentBlock::RedactedThinking { data: b.data },
            _ => ContentBlock::Other { kind: b.kind },
        }
    }
}

/// A string field; any other JSON value reads as empty (read in place: an
/// untagged enum would buffer the value first).
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct Lenient;
    impl<'de> Visitor<'de> for Lenient {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_bool<E>(self, _: bool) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_unit<E>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(String::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(String::new())
        }
    }
    d.deserialize_any(Lenient)
}

/// A tool `input` as an OpenAI `arguments` string: the raw JSON as sent, and
/// `{}` when it is missing or `null`.
pub fn input_json(input: Option<&RawValue>) -> String {
    match input.map(RawValue::get) {
        None | Some("null") => "{}".to_owned(),
        Some(raw) => raw.to_owned(),
    }
}

/// Whether a tool `input` is an object with at least one member (the
/// streaming start shell is `{}`, E9).
pub fn is_filled_object(input: Option<&RawValue>) -> bool {
    input
        .map(|raw| raw.get().trim())
        .and_then(|s| s.strip_prefix('{'))
        .and_then(|s| s.strip_suffix('}'))
        .is_some_and(|inner| !inner.trim().is_empty())
}

/// `usage` (§2.5, §4.9). Every field is optional so that a later
/// `message_delta` that leaves one out does not reset it (E12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens_details: Option<OutputTokensDetails>,
}

/// `usage.output_tokens_details` (new; §4.9 optional mapping).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default)]
    pub thinking_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Overwrites the fields `later` carries and keeps the others (usage
    /// counts are cumulative, E12).
    pub fn update(&mut self, later: &AnthropicUsage) {
        fn keep(a: &mut Option<u64>, b: Option<u64>) {
            if b.is_some() {
                *a = b;
            }
        }
        keep(&mut self.input_tokens, later.input_tokens);
        keep(&mut self.output_tokens, later.output_tokens);
        keep(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        keep(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        if let Some(d) = later.output_tokens_details {
            let mine = self
                .output_tokens_details
                .get_or_insert_with(Default::default);
            keep(&mut mine.thinking_tokens, d.thinking_tokens);
        }
    }
}

/// The error body `{"type":"error","error":{"type","message"}}` (§2.7); also
/// the `error` stream event.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

/// The `error` member of an [`ErrorResponse`].
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

// ----------------------------------------------------------------- stream

/// Just the `type` of a stream event, read first to dispatch (§2.6).
#[derive(Debug, Deserialize)]
pub struct EventType<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
}

impl<'a> EventType<'a> {
    /// The `type` of an event that names it first, as Anthropic writes its
    /// events (`{"type":"content_block_delta",…`): read without a parse of
    /// the event. `None` for any other shape.
    pub fn leading(data: &'a str) -> Option<Self> {
        let rest = data.strip_prefix("{\"type\":\"")?;
        let kind = &rest[..rest.find('"')?];
        (!kind.contains('\\')).then_some(Self { kind: kind.into() })
    }
}

/// `message_start`.
#[derive(Debug, Deserialize)]
pub struct MessageStart {
    pub message: MessageResponse,
}

/// `content_block_start`.
#[derive(Debug, Deserialize)]
pub struct ContentBlockStart {
    pub index: u64,
    pub content_block: ContentBlock,
}

/// `content_block_delta`.
#[derive(Debug, Deserialize)]
pub struct ContentBlockDelta {
    pub index: u64,
    pub delta: BlockDelta,
}

/// The `delta` of a `content_block_delta`.
#[derive(Debug, Deserialize)]
#[serde(from = "DeltaWire")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    /// `citations_delta` and anything newer: ignored.
    Other,
}

/// A `delta` as it comes: read flat in one pass (a tagged enum would buffer
/// every event's delta first); a field of the wrong type reads as empty.
#[derive(Deserialize)]
struct DeltaWire {
    #[serde(rename = "type", default, deserialize_with = "lenient_string")]
    kind: String,
    #[serde(default, deserialize_with = "lenient_string")]
    text: String,
    #[serde(default, deserialize_with = "lenient_string")]
    partial_json: String,
    #[serde(default, deserialize_with = "lenient_string")]
    thinking: String,
    #[serde(default, deserialize_with = "lenient_string")]
    signature: String,
}

impl From<DeltaWire> for BlockDelta {
    fn from(w: DeltaWire) -> Self {
        match w.kind.as_str() {
            "text_delta" => Self::TextDelta { text: w.text },
            "input_json_delta" => Self::InputJsonDelta {
                partial_json: w.partial_json,
            },
            "thinking_delta" => Self::ThinkingDelta {
                thinking: w.thinking,
            },
            "signature_delta" => Self::SignatureDelta {
                signature: w.signature,
            },
            _ => Self::Other,
        }
    }
}

/// `content_block_stop`.
#[derive(Debug, Deserialize)]
pub struct ContentBlockStop {
    pub index: u64,
}

/// `message_delta`.
#[derive(Debug, Deserialize)]
pub struct MessageDelta {
    #[serde(default)]
    pub delta: MessageDeltaBody,
    #[serde(default)]
    pub usage: Option<AnthropicUsage>,
}

/// The `delta` of a `message_delta`.
#[derive(Debug, Default, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(json: &str) -> BlockDelta {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_delta_reads_its_own_field_and_anything_else_leniently() {
        assert!(matches!(
            delta(r#"{"type":"text_delta","text":"hi \"you\"","extra":[1,{"a":2}]}"#),
            BlockDelta::TextDelta { text } if text == "hi \"you\""
        ));
        assert!(matches!(
            delta(r#"{"type":"input_json_delta","partial_json":"{\"a\""}"#),
            BlockDelta::InputJsonDelta { partial_json } if partial_json == "{\"a\""
        ));
        // A field of the wrong type reads as empty, not as a broken stream.
        assert!(matches!(
            delta(r#"{"type":"text_delta","text":{"not":"text"}}"#),
            BlockDelta::TextDelta { text } if text.is_empty()
        ));
        assert!(matches!(
            delta(r#"{"type":"citations_delta","citation":{"cited_text":"x"}}"#),
            BlockDelta::Other
        ));
        assert!(matches!(delta(r#"{"text":"no type"}"#), BlockDelta::Other));
        assert!(matches!(delta(r#"{"type":7}"#), BlockDelta::Other));
    }
}
