//! OpenAI chat response → Anthropic message (PROTOCOLS.md §5.3).
//!
//! Reads the first choice. Content order: thinking blocks first (the
//! `thinking_blocks` extension with their signatures, E18; otherwise
//! `reasoning_content` as one thinking block with an empty signature, which
//! [`super::request`] drops again when it comes back), then the text (or the
//! `refusal` when there is no text) only when non-empty (E1), then one
//! `tool_use` per tool call with a valid id (E7; synthesised when missing),
//! the caller's tool name (E21) and `input` parsed from `arguments`: an
//! object, or `{}` when the arguments are empty, unparseable or not an object
//! (never a string).
//!
//! What it invents: `id` (`msg_` + the OpenAI id without `chatcmpl-`; an id
//! already `msg_…` is kept), `model` (the name the caller asked for),
//! `stop_reason` (§4.7), `stop_sequence: null`, zero usage when the upstream
//! sent none. What it
//! drops: other choices, `logprobs`, `system_fingerprint`, reasoning token
//! details.

use super::{message_id, stop_reason, tool_use_id, AnthropicUsageOut, EmptyObject, InboundContext};
use crate::protocol::openai::{ChatResponse, ThinkingBlock};
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Converts a non-streaming OpenAI response into an Anthropic message body.
pub fn from_openai(resp: &ChatResponse, ctx: &InboundContext) -> Vec<u8> {
    let id = message_id(&resp.id);
    let choice = resp.choices.first();
    let message = choice.map(|c| &c.message);
    let mut content = Vec::new();
    if let Some(m) = message {
        match m.thinking_blocks.as_deref() {
            Some(blocks) if !blocks.is_empty() => content.extend(blocks.iter().map(|b| match b {
                ThinkingBlock::Thinking {
                    thinking,
                    signature,
                } => BlockOut::Thinking {
                    thinking,
                    signature,
                },
                ThinkingBlock::RedactedThinking { data } => BlockOut::RedactedThinking { data },
            })),
            _ => {
                if let Some(reasoning) = m.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
                    content.push(BlockOut::Thinking {
                        thinking: reasoning,
                        signature: "",
                    });
                }
            }
        }
        let text = m
            .content
            .as_deref()
            .filter(|t| !t.is_empty())
            .or_else(|| m.refusal.as_deref().filter(|t| !t.is_empty()));
        if let Some(text) = text {
            content.push(BlockOut::Text { text });
        }
        for (k, call) in m.tool_calls.iter().flatten().enumerate() {
            content.push(BlockOut::ToolUse {
                id: tool_use_id(&call.id, &id, k),
                name: ctx.original_tool_name(&call.function.name),
                input: tool_input(&call.function.arguments),
            });
        }
    }
    let out = MessageOut {
        id: &id,
        kind: "message",
        role: "assistant",
        model: &ctx.model,
        content,
        stop_reason: stop_reason(choice.and_then(|c| c.finish_reason)),
        stop_sequence: None,
        usage: AnthropicUsageOut::from_openai(resp.usage.as_ref()),
    };
    // Serialising borrowed strings and raw JSON into memory cannot fail.
    serde_json::to_vec(&out).unwrap_or_default()
}

/// `arguments` as a tool `input`: the raw object as sent (key order kept),
/// or `{}` when it is not a JSON object.
fn tool_input(arguments: &str) -> Input<'_> {
    match serde_json::from_str::<&RawValue>(arguments) {
        Ok(raw) if raw.get().starts_with('{') => Input::Raw(raw),
        _ => Input::Empty(EmptyObject {}),
    }
}

#[derive(Serialize)]
struct MessageOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<BlockOut<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
    usage: AnthropicUsageOut,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockOut<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: &'a str,
        input: Input<'a>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum Input<'a> {
    Raw(&'a RawValue),
    Empty(EmptyObject),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::{
        Choice, FinishReason, FunctionCall, PromptTokensDetails, ResponseMessage, ToolCall, Usage,
    };
    use serde_json::{json, Value};

    const TOOL_CALLS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/response_tool_calls.openai.json"
    ));
    const TOOL_CALLS_ANTHROPIC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/response_tool_calls.json"
    ));
    const REASONING: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/response_reasoning.openai.json"
    ));
    const REASONING_ANTHROPIC: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/messages/response_reasoning.json"
    ));
    const PLAIN: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openai/chat_completion.json"
    ));

    fn convert(resp: &ChatResponse, ctx: &InboundContext) -> Value {
        serde_json::from_slice(&from_openai(resp, ctx)).unwrap()
    }

    fn response(message: ResponseMessage, finish: Option<FinishReason>) -> ChatResponse {
        ChatResponse {
            id: "chatcmpl-1".to_owned(),
            object: "chat.completion".to_owned(),
            created: 1,
            model: "gpt-4.1".to_owned(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: finish,
                logprobs: None,
            }],
            usage: None,
            system_fingerprint: None,
        }
    }

    fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: id.to_owned(),
            kind: "function".to_owned(),
            function: FunctionCall {
                name: name.to_owned(),
                arguments: arguments.to_owned(),
            },
        }
    }

    #[test]
    fn recorded_responses_convert_to_the_recorded_messages() {
        let long = "mcp__github_enterprise_internal__search_pull_requests_by_author_and_label";
        let mut ctx = InboundContext::new("claude-sonnet-4-5");
        let short = ctx.upstream_tool_name(long.to_owned());
        for (openai, anthropic) in [
            (TOOL_CALLS, TOOL_CALLS_ANTHROPIC),
            (REASONING, REASONING_ANTHROPIC),
        ] {
            assert!(openai.contains(&short) || openai == REASONING);
            let resp: ChatResponse = serde_json::from_str(openai).unwrap();
            let want: Value = serde_json::from_str(anthropic).unwrap();
            let got = convert(&resp, &ctx);
            assert_eq!(got, want, "{}", serde_json::to_string_pretty(&got).unwrap());
        }
    }

    #[test]
    fn plain_text_response_converts() {
        let resp: ChatResponse = serde_json::from_str(PLAIN).unwrap();
        assert_eq!(
            convert(&resp, &InboundContext::new("claude-haiku-4-5")),
            json!({"id": "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT", "type": "message",
                   "role": "assistant", "model": "claude-haiku-4-5",
                   "content": [{"type": "text", "text": "Hello! How can I assist you today?"}],
                   "stop_reason": "end_turn", "stop_sequence": null,
                   "usage": {"input_tokens": 19, "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0, "output_tokens": 10}})
        );
    }

    #[test]
    fn empty_text_next_to_tool_calls_is_dropped_e1() {
        for content in [Some(""), None] {
            let resp = response(
                ResponseMessage {
                    content: content.map(str::to_owned),
                    tool_calls: Some(vec![call("call_1", "Read", r#"{"file_path":"/a"}"#)]),
                    ..ResponseMessage::default()
                },
                Some(FinishReason::ToolCalls),
            );
            let got = convert(&resp, &InboundContext::default());
            assert_eq!(
                got["content"],
                json!([{"type": "tool_use", "id": "call_1", "name": "Read",
                        "input": {"file_path": "/a"}}])
            );
            assert_eq!(got["stop_reason"], "tool_use");
        }
    }

    #[test]
    fn tool_input_is_always_an_object() {
        let table = [
            ("", json!({})),
            ("   ", json!({})),
            ("{\"a\": 1", json!({})),
            ("\"a string\"", json!({})),
            ("[1,2]", json!({})),
            ("null", json!({})),
            (" {\"b\": [true]} ", json!({"b": [true]})),
        ];
        for (args, want) in table {
            let resp = response(
                ResponseMessage {
                    tool_calls: Some(vec![call("c", "f", args)]),
                    ..ResponseMessage::default()
                },
                Some(FinishReason::ToolCalls),
            );
            assert_eq!(
                convert(&resp, &InboundContext::default())["content"][0]["input"],
                want,
                "{args:?}"
            );
        }
    }

    #[test]
    fn tool_ids_are_sanitised_or_synthesised_e7() {
        let resp = response(
            ResponseMessage {
                tool_calls: Some(vec![
                    call("functions.Bash:0", "Bash", "{}"),
                    call("", "Read", "{}"),
                    call("call_ok-1", "Read", "{}"),
                ]),
                ..ResponseMessage::default()
            },
            Some(FinishReason::ToolCalls),
        );
        let got = convert(&resp, &InboundContext::default());
        let ids: Vec<&str> = got["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap())
            .collect();
        assert!(ids[0].starts_with("functions_Bash_0_"), "{}", ids[0]);
        assert_eq!(ids[1], "toolu_1_1");
        assert_eq!(ids[2], "call_ok-1");
        for id in ids {
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
    }

    #[test]
    fn stop_reasons_and_cached_usage_map() {
        let mut resp = response(
            ResponseMessage {
                content: Some("partial".to_owned()),
                ..ResponseMessage::default()
            },
            Some(FinishReason::Length),
        );
        resp.usage = Some(Usage {
            prompt_tokens: 15_000,
            completion_tokens: 41,
            total_tokens: 15_041,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(12_000),
                cache_write_tokens: None,
            }),
            completion_tokens_details: None,
        });
        let got = convert(&resp, &InboundContext::default());
        assert_eq!(got["stop_reason"], "max_tokens");
        assert_eq!(
            got["usage"],
            json!({"input_tokens": 3000, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 12000, "output_tokens": 41})
        );
    }

    #[test]
    fn a_refusal_is_the_text_and_content_filter_is_refusal() {
        let resp = response(
            ResponseMessage {
                content: None,
                refusal: Some("I can't help with that.".to_owned()),
                ..ResponseMessage::default()
            },
            Some(FinishReason::ContentFilter),
        );
        let got = convert(&resp, &InboundContext::default());
        assert_eq!(
            got["content"],
            json!([{"type": "text", "text": "I can't help with that."}])
        );
        assert_eq!(got["stop_reason"], "refusal");
    }

    #[test]
    fn anthropic_responses_survive_the_round_trip_through_openai_e18() {
        use crate::protocol::anthropic::provider::{from_anthropic, ResponseContext};
        let fixtures = [
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/response_thinking.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/response_tool_use.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/response_cache_usage.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/response_parallel_tool_use.json"
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/anthropic/response_max_tokens.json"
            )),
        ];
        for fixture in fixtures {
            let original: Value = serde_json::from_str(fixture).unwrap();
            let openai = from_anthropic(fixture.as_bytes(), &ResponseContext::default()).unwrap();
            let ctx = InboundContext::new(original["model"].as_str().unwrap());
            let got = convert(&openai, &ctx);
            let mut want = original.clone();
            // The cache TTL breakdown and service tier have no OpenAI field.
            want["usage"]
                .as_object_mut()
                .unwrap()
                .remove("cache_creation");
            want["usage"]
                .as_object_mut()
                .unwrap()
                .remove("service_tier");
            assert_eq!(got, want, "{}", original["id"]);
        }
    }

    #[test]
    fn thinking_blocks_win_over_reasoning_content_e18() {
        let resp = response(
            ResponseMessage {
                content: Some("4".to_owned()),
                reasoning_content: Some("joined text".to_owned()),
                thinking_blocks: Some(vec![ThinkingBlock::Thinking {
                    thinking: "2+2".to_owned(),
                    signature: "Sig".to_owned(),
                }]),
                ..ResponseMessage::default()
            },
            Some(FinishReason::Stop),
        );
        assert_eq!(
            convert(&resp, &InboundContext::default())["content"],
            json!([{"type": "thinking", "thinking": "2+2", "signature": "Sig"},
                   {"type": "text", "text": "4"}])
        );
    }

    #[test]
    fn the_response_is_valid_input_for_the_next_request() {
        let long = "mcp__github_enterprise_internal__search_pull_requests_by_author_and_label";
        let mut ctx = InboundContext::new("claude-sonnet-4-5");
        let short = ctx.upstream_tool_name(long.to_owned());
        let resp: ChatResponse = serde_json::from_str(TOOL_CALLS).unwrap();
        let message = convert(&resp, &ctx);
        let ids: Vec<&str> = message["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["id"].as_str())
            .collect();
        let results: Vec<Value> = ids
            .iter()
            .map(|id| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"}))
            .collect();
        let next = json!({
            "model": "claude-sonnet-4-5", "max_tokens": 100,
            "tools": [{"name": long, "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": message["content"]},
                {"role": "user", "content": results}]
        });
        let (req, _) =
            crate::protocol::anthropic::caller::to_openai(&serde_json::to_vec(&next).unwrap())
                .unwrap();
        let crate::protocol::openai::Message::Assistant(a) = &req.messages[1] else {
            panic!("assistant expected")
        };
        let calls = a.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 3);
        // The upstream gets its own (short) tool name back, and valid JSON.
        assert_eq!(calls[1].function.name, short);
        for c in calls {
            let v: Value = serde_json::from_str(&c.function.arguments).unwrap();
            assert!(v.is_object());
        }
        assert_eq!(req.messages.len(), 5, "user, assistant, 3 tool messages");
    }

    #[test]
    fn a_response_without_choices_is_an_empty_end_turn_message() {
        let mut resp = response(ResponseMessage::default(), None);
        resp.choices.clear();
        let got = convert(&resp, &InboundContext::new("m"));
        assert_eq!(got["content"], json!([]));
        assert_eq!(got["stop_reason"], "end_turn");
        assert_eq!(got["model"], "m");
    }
}
