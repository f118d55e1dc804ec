//! OpenAI chat response → the Responses `response` object.
//!
//! Reads the first choice. Output order: one `reasoning` item when the
//! provider gave thinking (its summary the `reasoning_content`; Anthropic
//! thinking blocks in `encrypted_content`), one `message` item with an
//! `output_text` part when there is text (or the refusal), then one
//! `function_call` item per tool call (`call_id` the provider's, or made up
//! when it gave none). `status` is `incomplete` (`max_output_tokens`,
//! `content_filter`) or `completed`; `usage` is the provider's; `model` is
//! the name the caller asked for.

use super::{thinking_envelope, Item, OutputText, ResponsesContext, Status, SummaryText};
use crate::protocol::openai::{ChatResponse, ResponseMessage};

/// Converts a whole chat answer into a `response` object body, and keeps
/// it when the caller asked to.
pub fn from_openai(resp: &ChatResponse, ctx: &ResponsesContext) -> Vec<u8> {
    let choice = resp.choices.first();
    let output = choice.map(|c| items(&c.message, ctx)).unwrap_or_default();
    let status = Status::of(choice.and_then(|c| c.finish_reason));
    let object = ctx.object(resp.created, status, &output, resp.usage.as_ref(), None);
    // Serialising our own types into memory cannot fail.
    let body = serde_json::to_vec(&object).unwrap_or_default();
    ctx.keep(&body);
    body
}

/// The output items of one assistant message.
fn items(m: &ResponseMessage, ctx: &ResponsesContext) -> Vec<Item> {
    let mut out = Vec::new();
    let summary = m.reasoning_content.clone().filter(|r| !r.is_empty());
    let blocks = m.thinking_blocks.as_deref().and_then(thinking_envelope);
    if summary.is_some() || blocks.is_some() {
        out.push(Item::Reasoning {
            id: ctx.reasoning_id(0),
            summary: summary.map(SummaryText::new).into_iter().collect(),
            encrypted_content: blocks,
        });
    }
    let text = m
        .content
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| m.refusal.clone().filter(|t| !t.is_empty()));
    if let Some(text) = text {
        out.push(Item::Message {
            id: ctx.message_id(0),
            status: "completed",
            role: "assistant",
            content: vec![OutputText::new(text)],
        });
    }
    for (k, call) in m.tool_calls.iter().flatten().enumerate() {
        out.push(Item::FunctionCall {
            id: ctx.call_id(k),
            call_id: if call.id.is_empty() {
                format!("call_{}_{k}", ctx.base())
            } else {
                call.id.clone()
            },
            name: call.function.name.clone(),
            arguments: call.function.arguments.clone(),
            status: "completed",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::openai::{
        Choice, FinishReason, FunctionCall, ThinkingBlock, ToolCall, Usage,
    };
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};

    fn ctx() -> ResponsesContext {
        ResponsesContext {
            id: "resp_abc".into(),
            model: "asked-model".into(),
            ..Default::default()
        }
    }

    fn answer(message: ResponseMessage, finish: FinishReason) -> ChatResponse {
        ChatResponse {
            id: "chatcmpl-1".into(),
            object: "chat.completion".into(),
            created: 1_700_000_000,
            model: "upstream-model".into(),
            choices: vec![Choice {
                index: 0,
                message,
                finish_reason: Some(finish),
                logprobs: None,
            }],
            usage: Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 5,
                total_tokens: 17,
                ..Default::default()
            }),
            system_fingerprint: None,
        }
    }

    fn convert(resp: &ChatResponse, ctx: &ResponsesContext) -> Value {
        serde_json::from_slice(&from_openai(resp, ctx)).unwrap()
    }

    #[test]
    fn text_becomes_a_message_item_with_the_asked_model_and_usage() {
        let resp = answer(
            ResponseMessage {
                content: Some("Hello!".into()),
                ..Default::default()
            },
            FinishReason::Stop,
        );
        let v = convert(&resp, &ctx());
        assert_eq!(v["id"], "resp_abc");
        assert_eq!(v["object"], "response");
        assert_eq!(v["created_at"], 1_700_000_000);
        assert_eq!(v["status"], "completed");
        assert_eq!(v["model"], "asked-model");
        assert_eq!(
            v["output"],
            json!([{"type": "message", "id": "msg_abc_0", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}])
        );
        assert_eq!(v["usage"]["input_tokens"], 12);
        assert_eq!(v["usage"]["output_tokens"], 5);
        assert_eq!(v["usage"]["total_tokens"], 17);
    }

    #[test]
    fn tool_calls_reasoning_and_length_map_to_items_and_incomplete() {
        let blocks = vec![ThinkingBlock::Thinking {
            thinking: "hmm".into(),
            signature: "sig".into(),
        }];
        let resp = answer(
            ResponseMessage {
                reasoning_content: Some("hmm".into()),
                thinking_blocks: Some(blocks.clone()),
                tool_calls: Some(vec![
                    ToolCall {
                        id: "call_1".into(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: "get_weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into(),
                        },
                    },
                    ToolCall {
                        id: String::new(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: "get_time".into(),
                            arguments: "{}".into(),
                        },
                    },
                ]),
                ..Default::default()
            },
            FinishReason::Length,
        );
        let v = convert(&resp, &ctx());
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
        let out = v["output"].as_array().unwrap();
        assert_eq!(out[0]["type"], "reasoning");
        assert_eq!(
            out[0]["summary"],
            json!([{"type": "summary_text", "text": "hmm"}])
        );
        assert_eq!(
            out[0]["encrypted_content"],
            thinking_envelope(&blocks).unwrap()
        );
        assert_eq!(
            out[1],
            json!({"type": "function_call", "id": "fc_abc_0", "call_id": "call_1", "name": "get_weather",
                   "arguments": "{\"city\":\"Paris\"}", "status": "completed"})
        );
        assert_eq!(out[2]["call_id"], "call_abc_1");
    }

    #[test]
    fn a_kept_answer_goes_to_the_store_whole() {
        struct Kept(Mutex<Vec<Vec<u8>>>);
        impl super::super::Keep for Kept {
            fn keep(&self, response: &[u8]) {
                self.0.lock().unwrap().push(response.to_vec());
            }
        }
        let kept = Arc::new(Kept(Mutex::new(Vec::new())));
        let mut c = ctx();
        c.keep = Some(kept.clone());
        let resp = answer(
            ResponseMessage {
                content: Some("x".into()),
                ..Default::default()
            },
            FinishReason::Stop,
        );
        let body = from_openai(&resp, &c);
        assert_eq!(*kept.0.lock().unwrap(), vec![body]);
    }
}
