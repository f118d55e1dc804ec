//! Anthropic response and error bodies → OpenAI (PROTOCOLS.md §4.2, §4.14).
//!
//! What it invents: `id` = `chatcmpl-` + the message id, `created` = now,
//! `object`, `index: 0`, `refusal: null`. What it adds as gateway extensions:
//! `reasoning_content` (joined thinking text) and `thinking_blocks` (thinking
//! with signatures, and redacted thinking, E18). What it drops: server-tool
//! and unknown content blocks, `stop_sequence`, `service_tier`, the cache TTL
//! breakdown. JSON mode: the synthetic tool's `input` becomes the `content`.

use super::{finish_reason, openai_usage, status_for_error_type, ResponseContext};
use crate::protocol::anthropic::types::{input_json, ContentBlock, ErrorResponse, MessageResponse};
use crate::protocol::openai::{
    ChatResponse, Choice, FinishReason, FunctionCall, ResponseMessage, ThinkingBlock, ToolCall,
};
use crate::protocol::{Error, ErrorKind};
use std::time::Duration;

/// Converts a non-streaming Anthropic response body; an unreadable body is
/// [`ErrorKind::BadUpstreamResponse`], and an error body that came with a 200
/// is converted like [`error_from_anthropic`].
pub fn from_anthropic(body: &[u8], ctx: &ResponseContext) -> Result<ChatResponse, Error> {
    let unreadable = || {
        Error::new(
            ErrorKind::BadUpstreamResponse,
            "anthropic: unreadable response body",
        )
    };
    let msg: MessageResponse = serde_json::from_slice(body).map_err(|_| unreadable())?;
    if msg.kind == "error" {
        return Err(match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(e) => upstream_error(status_for_error_type(&e.error.kind), &e, None),
            Err(_) => unreadable(),
        });
    }
    let Some(content) = msg.content else {
        return Err(unreadable());
    };
    let mut text: Option<String> = ctx.prefill.clone();
    let mut reasoning: Option<String> = None;
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_answered = false;
    for block in content {
        match block {
            ContentBlock::Text { text: t } => text.get_or_insert_with(String::new).push_str(&t),
            ContentBlock::ToolUse { name, input, .. } if ctx.is_json_tool(&name) => {
                json_answered = true;
                text.get_or_insert_with(String::new)
                    .push_str(&input_json(input.as_deref()));
            }
            ContentBlock::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: ctx.original_tool_name(name),
                    arguments: input_json(input.as_deref()),
                },
            }),
            ContentBlock::Thinking {
                thinking,
                signature,
            } => {
                reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&thinking);
                thinking_blocks.push(ThinkingBlock::Thinking {
                    thinking,
                    signature,
                });
            }
            ContentBlock::RedactedThinking { data } => {
                thinking_blocks.push(ThinkingBlock::RedactedThinking { data })
            }
            ContentBlock::Other { .. } => {}
        }
    }
    if text.is_none() && tool_calls.is_empty() {
        text = Some(String::new());
    }
    let mut finish = finish_reason(msg.stop_reason.as_deref());
    if finish == FinishReason::ToolCalls && tool_calls.is_empty() && json_answered {
        finish = FinishReason::Stop;
    }
    Ok(ChatResponse {
        id: format!("chatcmpl-{}", msg.id),
        object: "chat.completion".to_owned(),
        created: ctx.created,
        model: msg.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_owned(),
                content: text,
                refusal: None,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                reasoning_content: reasoning,
                thinking_blocks: (!thinking_blocks.is_empty()).then_some(thinking_blocks),
            },
            finish_reason: Some(finish),
            logprobs: None,
        }],
        usage: Some(openai_usage(&msg.usage.unwrap_or_default())),
        system_fingerprint: None,
    })
}

/// Converts an Anthropic error response (§2.7) into a [`Error`] of
/// kind `Upstream(status)` with the upstream message (prefixed
/// `anthropic: `) and the OpenAI `code` of §4.14; an unreadable body gets a
/// generic message.
pub fn error_from_anthropic(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => upstream_error(status, &e, retry_after),
        Err(_) => Error::new(
            ErrorKind::Upstream(status),
            format!("anthropic: upstream returned HTTP {status}"),
        )
        .with_code_opt(error_code(status, None))
        .with_retry_after(retry_after),
    }
}

/// A parsed Anthropic error as a [`Error`].
pub(super) fn upstream_error(
    status: u16,
    e: &ErrorResponse,
    retry_after: Option<Duration>,
) -> Error {
    let message = if e.error.message.is_empty() {
        format!("anthropic: upstream returned HTTP {status}")
    } else {
        format!("anthropic: {}", e.error.message)
    };
    let kind = (!e.error.kind.is_empty()).then_some(e.error.kind.as_str());
    Error::new(ErrorKind::Upstream(status), message)
        .with_code_opt(error_code(status, kind))
        .with_retry_after(retry_after)
}

/// The OpenAI `error.code` for an Anthropic error (§4.14): by status where
/// the table names one, otherwise the Anthropic error type.
fn error_code(status: u16, kind: Option<&str>) -> Option<String> {
    let code = match status {
        400 => "invalid_request_error",
        401 => "invalid_api_key",
        402 => "billing_error",
        403 | 500 => return None,
        404 => "model_not_found",
        413 => "request_too_large",
        429 => "rate_limit_exceeded",
        504 => "timeout",
        529 => "overloaded",
        _ => return kind.map(str::to_owned),
    };
    Some(code.to_owned())
}

/// `with_code` for an optional code.
trait WithCodeOpt {
    fn with_code_opt(self, code: Option<String>) -> Self;
}

impl WithCodeOpt for Error {
    fn with_code_opt(self, code: Option<String>) -> Self {
        match code {
            Some(c) => self.with_code(c),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::damaged;
    use super::*;
    use crate::protocol::openai::{PromptTokensDetails, Usage};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/",
                $name
            ))
        };
    }

    const TEXT: &str = fixture!("response_text.json");
    const TOOL_USE: &str = fixture!("response_tool_use.json");
    const PARALLEL: &str = fixture!("response_parallel_tool_use.json");
    const THINKING: &str = fixture!("response_thinking.json");
    const MAX_TOKENS: &str = fixture!("response_max_tokens.json");
    const STOP_SEQUENCE: &str = fixture!("response_stop_sequence.json");
    const CACHE: &str = fixture!("response_cache_usage.json");
    const JSON_MODE: &str = fixture!("response_json_mode.json");

    const ERRORS: &[(u16, &str)] = &[
        (400, fixture!("error_400.json")),
        (401, fixture!("error_401.json")),
        (404, fixture!("error_404.json")),
        (429, fixture!("error_429.json")),
        (500, fixture!("error_500.json")),
        (529, fixture!("error_529.json")),
    ];

    /// `created` as the caller's side sets it.
    const CREATED: u64 = 1_750_000_000;

    fn convert(body: &str) -> ChatResponse {
        let ctx = ResponseContext {
            created: CREATED,
            ..Default::default()
        };
        from_anthropic(body.as_bytes(), &ctx).unwrap()
    }

    fn calls(r: &ChatResponse) -> Vec<(&str, &str, &str)> {
        r.choices[0]
            .message
            .tool_calls
            .iter()
            .flatten()
            .map(|c| {
                (
                    c.id.as_str(),
                    c.function.name.as_str(),
                    c.function.arguments.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn responses_convert() {
        struct Case {
            name: &'static str,
            body: &'static str,
            content: Option<&'static str>,
            tools: &'static [(&'static str, &'static str, &'static str)],
            finish: FinishReason,
            usage: (u64, u64, u64),
        }
        let table = [
            Case {
                name: "plain text, blocks joined",
                body: TEXT,
                content: Some("Hello! How can I help you today?"),
                tools: &[],
                finish: FinishReason::Stop,
                usage: (12, 10, 22),
            },
            Case {
                name: "tool use",
                body: TOOL_USE,
                content: Some("I'll check."),
                tools: &[(
                    "toolu_01A09q90qw90lq917835lq9",
                    "get_weather",
                    r#"{"city": "Paris"}"#,
                )],
                finish: FinishReason::ToolCalls,
                usage: (2272, 58, 2330),
            },
            Case {
                name: "parallel tool use, content null",
                body: PARALLEL,
                content: None,
                tools: &[
                    (
                        "toolu_01Paris4sVb9QnTzYk2Lh8Mw",
                        "get_weather",
                        r#"{"city": "Paris", "unit": "celsius"}"#,
                    ),
                    (
                        "toolu_01Tokyo7cXn3RpWqLm5Jd2Ks",
                        "get_weather",
                        r#"{"city": "Tokyo", "unit": "celsius"}"#,
                    ),
                    ("toolu_01Time2bHq8TzVnMx4Kp6Rw", "get_time", "{}"),
                ],
                finish: FinishReason::ToolCalls,
                usage: (631, 142, 773),
            },
            Case {
                name: "thinking",
                body: THINKING,
                content: Some("27 × 453 = 12,231."),
                tools: &[],
                finish: FinishReason::Stop,
                usage: (48, 212, 260),
            },
            Case {
                name: "max_tokens",
                body: MAX_TOKENS,
                content: Some("Once upon a time, in a village at the edge of"),
                tools: &[],
                finish: FinishReason::Length,
                usage: (20, 16, 36),
            },
            Case {
                name: "stop_sequence",
                body: STOP_SEQUENCE,
                content: Some("1. Apples\n2. Pears\n"),
                tools: &[],
                finish: FinishReason::Stop,
                usage: (31, 12, 43),
            },
        ];
        for c in table {
            let r = convert(c.body);
            let choice = &r.choices[0];
            assert_eq!(choice.message.content.as_deref(), c.content, "{}", c.name);
            assert_eq!(calls(&r), c.tools, "{}", c.name);
            assert_eq!(choice.finish_reason, Some(c.finish), "{}", c.name);
            let u = r.usage.unwrap();
            assert_eq!(
                (u.prompt_tokens, u.completion_tokens, u.total_tokens),
                c.usage,
                "{}",
                c.name
            );
            assert!(r.id.starts_with("chatcmpl-msg_01"), "{}", c.name);
            assert_eq!(r.object, "chat.completion");
            assert_eq!(choice.message.role, "assistant");
            assert_eq!(r.created, CREATED, "the context's, no clock read here");
        }
    }

    #[test]
    fn id_is_prefixed_and_model_is_the_upstreams() {
        let r = convert(TOOL_USE);
        assert_eq!(r.id, "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL");
        assert_eq!(r.model, "claude-sonnet-4-5-20250929");
    }

    #[test]
    fn thinking_becomes_reasoning_content_and_signed_blocks_e18() {
        let r = convert(THINKING);
        let m = &r.choices[0].message;
        assert_eq!(
            m.reasoning_content.as_deref(),
            Some(
                "The user asks for 27 * 453. 27 * 453 = 27 * 400 + 27 * 53 = 10800 + 1431 = 12231."
            )
        );
        let blocks = m.thinking_blocks.as_ref().unwrap();
        assert_eq!(blocks.len(), 2);
        assert!(
            matches!(&blocks[0], ThinkingBlock::Thinking { signature, .. }
            if signature.starts_with("EqQBCkgIARAB"))
        );
        assert!(
            matches!(&blocks[1], ThinkingBlock::RedactedThinking { data }
            if data.starts_with("EmwKAhgB"))
        );
    }

    #[test]
    fn cache_reads_and_writes_count_as_prompt_tokens_e30() {
        assert_eq!(
            convert(CACHE).usage,
            Some(Usage {
                prompt_tokens: 10_221,
                completion_tokens: 17,
                total_tokens: 10_238,
                prompt_tokens_details: Some(PromptTokensDetails {
                    cached_tokens: Some(9000),
                    cache_write_tokens: Some(1200),
                }),
                completion_tokens_details: None,
            })
        );
        let u = convert(TOOL_USE).usage.unwrap();
        assert_eq!((u.prompt_tokens, u.cached_tokens()), (2272, 1800));
    }

    #[test]
    fn json_mode_tool_input_becomes_the_content() {
        let ctx = ResponseContext {
            json_tool: Some("json_response".to_owned()),
            ..ResponseContext::default()
        };
        let r = from_anthropic(JSON_MODE.as_bytes(), &ctx).unwrap();
        let m = &r.choices[0].message;
        assert_eq!(
            m.content.as_deref(),
            Some(r#"{"name": "Ada Lovelace", "born": 1815}"#)
        );
        assert_eq!(m.tool_calls, None);
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    }

    #[test]
    fn prefill_is_put_back_in_front_of_the_content_e19() {
        let ctx = ResponseContext {
            prefill: Some("Once upon a time,".to_owned()),
            ..ResponseContext::default()
        };
        let body = MAX_TOKENS.replace("Once upon a time,", "");
        let r = from_anthropic(body.as_bytes(), &ctx).unwrap();
        assert_eq!(
            r.choices[0].message.content.as_deref(),
            Some("Once upon a time, in a village at the edge of")
        );
    }

    #[test]
    fn renamed_tools_get_their_names_back() {
        let ctx = ResponseContext {
            tool_names: vec![("get_time".to_owned(), "mcp.clock.now".to_owned())],
            ..ResponseContext::default()
        };
        let r = from_anthropic(PARALLEL.as_bytes(), &ctx).unwrap();
        let names: Vec<&str> = calls(&r).iter().map(|c| c.1).collect();
        assert_eq!(names, ["get_weather", "get_weather", "mcp.clock.now"]);
    }

    #[test]
    fn unreadable_bodies_are_bad_upstream_responses() {
        for body in [
            "",
            "not json",
            "{}",
            "[1,2]",
            r#"{"type":"message","content":7}"#,
        ] {
            let e = from_anthropic(body.as_bytes(), &ResponseContext::default()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadUpstreamResponse, "{body}");
        }
    }

    #[test]
    fn an_error_body_with_status_200_is_an_upstream_error() {
        let e = from_anthropic(ERRORS[5].1.as_bytes(), &ResponseContext::default()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Upstream(529));
        assert_eq!(e.message, "anthropic: Overloaded");
    }

    #[test]
    fn error_bodies_keep_status_and_message_and_get_codes() {
        let want = [
            (
                400,
                Some("invalid_request_error"),
                "messages.1: tool_use ids",
            ),
            (401, Some("invalid_api_key"), "invalid x-api-key"),
            (404, Some("model_not_found"), "model: claude-sonnet-9"),
            (
                429,
                Some("rate_limit_exceeded"),
                "This request would exceed",
            ),
            (500, None, "Internal server error"),
            (529, Some("overloaded"), "Overloaded"),
        ];
        for ((status, body), (s, code, msg)) in ERRORS.iter().zip(want) {
            assert_eq!(*status, s);
            let seven = Some(Duration::from_secs(7));
            let e = error_from_anthropic(*status, body.as_bytes(), seven);
            assert_eq!(e.kind, ErrorKind::Upstream(*status), "{status}");
            assert_eq!(e.code.as_deref(), code, "{status}");
            assert!(
                e.message.starts_with(&format!("anthropic: {msg}")),
                "{status}: {}",
                e.message
            );
            assert_eq!(e.retry_after, seven, "{status}");
        }
    }

    #[test]
    fn unparseable_error_bodies_keep_the_status() {
        for (status, body) in [
            (502, "<html>Bad Gateway</html>"),
            (429, ""),
            (413, "{\"x\":1}"),
        ] {
            let e = error_from_anthropic(status, body.as_bytes(), None);
            assert_eq!(e.kind, ErrorKind::Upstream(status));
            assert_eq!(
                e.message,
                format!("anthropic: upstream returned HTTP {status}")
            );
        }
        let e = error_from_anthropic(429, b"", None);
        assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn damaged_bodies_never_panic() {
        let ctx = ResponseContext {
            json_tool: Some("json_response".to_owned()),
            tool_names: vec![("get_time".to_owned(), "x.y".to_owned())],
            prefill: Some("{".to_owned()),
            created: 1,
        };
        let all = [
            TEXT,
            TOOL_USE,
            PARALLEL,
            THINKING,
            MAX_TOKENS,
            STOP_SEQUENCE,
            CACHE,
            JSON_MODE,
        ];
        for body in all.iter().chain(ERRORS.iter().map(|(_, b)| b)) {
            for bytes in damaged(body.as_bytes()) {
                let _ = from_anthropic(&bytes, &ctx);
                let _ = error_from_anthropic(500, &bytes, None);
            }
        }
    }
}
