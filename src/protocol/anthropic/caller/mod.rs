//! The inbound Anthropic Messages API (PROTOCOLS.md §5): a caller speaking
//! Anthropic (Claude Code, the Anthropic SDKs) served by the OpenAI-shaped
//! pipeline, whatever the provider behind the model.
//!
//! * [`request::to_openai`] (and [`request::to_openai_for_count`]): a
//!   `/v1/messages` body → [`ChatRequest`](crate::protocol::openai::ChatRequest)
//!   plus an [`InboundContext`] for the way back (§5.2).
//! * [`response::from_openai`]: `ChatResponse` → Anthropic message JSON (§5.3).
//! * [`stream::AnthropicEncoder`]: OpenAI chunks → Anthropic SSE events, a
//!   [`ClientEncoder`](crate::protocol::ClientEncoder) (§5.4).
//! * [`count::estimate_input_tokens`]: `count_tokens` for providers without a
//!   count endpoint (§5.5).
//!
//! Everything emitted here must be valid Anthropic input later, because Claude
//! Code sends its history back verbatim (§5.1): no empty text blocks (E1), tool
//! ids matching `^[a-zA-Z0-9_-]+$` (E7), tool `input` always an object, the
//! caller's own tool names (E21).

mod api;
pub mod count;
pub mod request;
pub mod response;
pub mod stream;

pub use api::AnthropicCaller;
pub use count::estimate_input_tokens;
pub use request::{to_openai, to_openai_for_count};
pub use response::from_openai;
pub use stream::AnthropicEncoder;

use crate::protocol::openai::{FinishReason, Usage};
use serde::Serialize;

/// What the way back needs: the model name the caller asked for (echoed in
/// responses and streams), and the tool names that were shortened or
/// rewritten for the upstream (E21), to be restored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboundContext {
    /// The `model` of the caller's request, before any alias mapping.
    pub model: String,
    /// `(name sent upstream, caller's name)` for every tool name that was not
    /// a valid OpenAI function name (`^[a-zA-Z0-9_-]{1,64}$`).
    tool_names: Vec<(String, String)>,
}

impl InboundContext {
    /// A context with no renamed tools.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            tool_names: Vec::new(),
        }
    }

    /// The caller's name for a tool name the upstream returned.
    pub fn original_tool_name<'a>(&'a self, sent: &'a str) -> &'a str {
        self.tool_names
            .iter()
            .find(|(s, _)| s == sent)
            .map_or(sent, |(_, original)| original.as_str())
    }

    /// The name to send upstream for the caller's tool `name`, remembered
    /// for [`Self::original_tool_name`] when it differs (E21).
    fn upstream_tool_name(&mut self, name: String) -> String {
        match crate::protocol::anthropic::provider::request::tool_name(&name) {
            std::borrow::Cow::Borrowed(_) => name,
            std::borrow::Cow::Owned(short) => {
                if !self.tool_names.iter().any(|(s, _)| *s == short) {
                    self.tool_names.push((short.clone(), name));
                }
                short
            }
        }
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason` (§4.7); `null` is
/// `end_turn`. OpenAI never says which stop sequence matched (it strips it
/// from the text), so `stop_sequence` is never produced.
fn stop_reason(finish: Option<FinishReason>) -> &'static str {
    match finish {
        None | Some(FinishReason::Stop) => "end_turn",
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls | FinishReason::FunctionCall) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
    }
}

/// Anthropic `usage` (§4.9, E30): `input_tokens` counts only uncached input,
/// so cache reads and cache writes are taken out of `prompt_tokens` (which
/// includes both, as the gateway's own Anthropic conversion builds it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct AnthropicUsageOut {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

impl AnthropicUsageOut {
    fn from_openai(usage: Option<&Usage>) -> Self {
        let Some(u) = usage else {
            return Self::default();
        };
        let read = u.cached_tokens();
        let write = u.cache_write_tokens();
        Self {
            input_tokens: u.prompt_tokens.saturating_sub(read).saturating_sub(write),
            cache_creation_input_tokens: write,
            cache_read_input_tokens: read,
            output_tokens: u.completion_tokens,
        }
    }
}

/// The Anthropic message id for an OpenAI response id: an id that is already
/// `msg_…` (after the `chatcmpl-` prefix the gateway's own decoders add) is
/// kept, so a real Anthropic id survives the round trip; others become
/// `msg_` + the id with characters outside `[a-zA-Z0-9_-]` replaced.
fn message_id(openai_id: &str) -> String {
    let rest = openai_id.strip_prefix("chatcmpl-").unwrap_or(openai_id);
    if rest.is_empty() {
        return "msg_gateway".to_owned();
    }
    let clean: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.starts_with("msg_") {
        clean
    } else {
        format!("msg_{clean}")
    }
}

/// A tool-use id for a call the upstream gave none: unique within the
/// message, as the message id is unique.
fn synthetic_tool_id(message_id: &str, index: usize) -> String {
    let base = message_id.strip_prefix("msg_").unwrap_or(message_id);
    format!("toolu_{base}_{index}")
}

/// A tool-use id valid for Anthropic (E7), shared with the outbound
/// Anthropic dialect so that both directions sanitise the same way.
fn tool_use_id<'a>(id: &'a str, message_id: &str, index: usize) -> std::borrow::Cow<'a, str> {
    if id.is_empty() {
        std::borrow::Cow::Owned(synthetic_tool_id(message_id, index))
    } else {
        crate::protocol::anthropic::provider::request::tool_id(id)
    }
}

/// A braced struct with no fields: serialises as `{}` (the empty tool
/// `input`).
#[derive(Debug, Clone, Copy, Serialize)]
struct EmptyObject {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::PromptTokensDetails;

    pub(super) use crate::protocol::testing::damaged;

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        let table = [
            (None, "end_turn"),
            (Some(FinishReason::Stop), "end_turn"),
            (Some(FinishReason::Length), "max_tokens"),
            (Some(FinishReason::ToolCalls), "tool_use"),
            (Some(FinishReason::FunctionCall), "tool_use"),
            (Some(FinishReason::ContentFilter), "refusal"),
        ];
        for (finish, want) in table {
            assert_eq!(stop_reason(finish), want, "{finish:?}");
        }
    }

    #[test]
    fn usage_takes_cache_reads_and_writes_out_of_input_e30() {
        let u = Usage {
            prompt_tokens: 10_221,
            completion_tokens: 17,
            total_tokens: 10_238,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(9000),
                cache_write_tokens: Some(1200),
            }),
            completion_tokens_details: None,
        };
        assert_eq!(
            AnthropicUsageOut::from_openai(Some(&u)),
            AnthropicUsageOut {
                input_tokens: 21,
                cache_creation_input_tokens: 1200,
                cache_read_input_tokens: 9000,
                output_tokens: 17,
            }
        );
        assert_eq!(
            AnthropicUsageOut::from_openai(None),
            AnthropicUsageOut::default()
        );
        // Inconsistent upstream numbers never underflow.
        let odd = Usage {
            prompt_tokens: 5,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(9),
                cache_write_tokens: None,
            }),
            ..Usage::default()
        };
        assert_eq!(AnthropicUsageOut::from_openai(Some(&odd)).input_tokens, 0);
    }

    #[test]
    fn message_ids_are_derived_from_openai_ids() {
        let table = [
            (
                "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
                "msg_B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
            ),
            (
                "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL",
                "msg_01XFDUDYJgAACzvnptvVoYEL",
            ),
            ("gen-1741.abc/x", "msg_gen-1741_abc_x"),
            ("", "msg_gateway"),
            ("chatcmpl-", "msg_gateway"),
        ];
        for (id, want) in table {
            assert_eq!(message_id(id), want, "{id}");
        }
    }

    #[test]
    fn long_and_invalid_tool_names_are_renamed_reversibly_e21() {
        let mut ctx = InboundContext::new("claude-sonnet-4-5");
        let long = format!("mcp__{}__search", "very_long_server_name_".repeat(4));
        assert!(long.len() > 64);
        let short = ctx.upstream_tool_name(long.clone());
        assert_eq!(short.len(), 64);
        assert!(short
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        // Deterministic: the same name maps to the same short name, once.
        assert_eq!(ctx.upstream_tool_name(long.clone()), short);
        assert_eq!(ctx.tool_names.len(), 1);
        assert_eq!(ctx.original_tool_name(&short), long);
        // Valid names pass and are not recorded.
        assert_eq!(ctx.upstream_tool_name("Read".to_owned()), "Read");
        assert_eq!(ctx.original_tool_name("Read"), "Read");
        assert_eq!(ctx.tool_names.len(), 1);
        // Two long names with the same prefix stay distinct.
        let other = format!("{long}_v2");
        assert_ne!(ctx.upstream_tool_name(other), short);
    }
}
