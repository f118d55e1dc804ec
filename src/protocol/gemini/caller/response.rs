//! A lingua-franca answer → a Gemini `GenerateContentResponse`.

use super::{args, finish_reason, response_id, usage_metadata};
use crate::protocol::gemini::types::{
    Candidate, ContentIn, FunctionCallIn, GenerateContentResponse, PartIn,
};
use crate::protocol::openai::{ChatResponse, ResponseMessage};

/// The whole answer: one candidate per choice, `modelVersion` the model the
/// caller asked for.
pub fn from_openai(resp: &ChatResponse, model: &str) -> Vec<u8> {
    let candidates = resp
        .choices
        .iter()
        .map(|c| Candidate {
            content: Some(ContentIn {
                role: Some("model".to_owned()),
                parts: Some(message_parts(&c.message)),
            }),
            finish_reason: Some(finish_reason(c.finish_reason).to_owned()),
            index: Some(c.index),
        })
        .collect();
    let body = GenerateContentResponse {
        candidates: Some(candidates),
        usage_metadata: resp.usage.as_ref().map(usage_metadata),
        model_version: Some(model.to_owned()),
        response_id: Some(response_id(&resp.id)),
        ..GenerateContentResponse::default()
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Thought text first, then the text (a refusal is text too), then the
/// function calls; an empty message is one empty text part.
fn message_parts(m: &ResponseMessage) -> Vec<PartIn> {
    let mut parts = Vec::new();
    if let Some(r) = m.reasoning_content.as_deref().filter(|r| !r.is_empty()) {
        parts.push(thought(r));
    }
    for t in [m.content.as_deref(), m.refusal.as_deref()]
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty())
    {
        parts.push(text(t));
    }
    for call in m.tool_calls.iter().flatten() {
        parts.push(function_call(
            &call.id,
            &call.function.name,
            &call.function.arguments,
        ));
    }
    if parts.is_empty() {
        parts.push(text(""));
    }
    parts
}

/// A text part.
pub(super) fn text(t: &str) -> PartIn {
    PartIn {
        text: Some(t.to_owned()),
        ..PartIn::default()
    }
}

/// A thought part.
pub(super) fn thought(t: &str) -> PartIn {
    PartIn {
        text: Some(t.to_owned()),
        thought: Some(true),
        ..PartIn::default()
    }
}

/// A `functionCall` part; the provider's id is kept (empty: none).
pub(super) fn function_call(id: &str, name: &str, arguments: &str) -> PartIn {
    PartIn {
        function_call: Some(FunctionCallIn {
            id: (!id.is_empty()).then(|| id.to_owned()),
            name: name.to_owned(),
            args: Some(args(arguments)),
        }),
        ..PartIn::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn an_answer_becomes_a_candidate_with_usage_and_the_asked_model() {
        let resp: ChatResponse = serde_json::from_value(json!({
            "id": "chatcmpl-r1", "created": 1, "model": "upstream",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "hmm",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        }))
        .unwrap();
        let v: Value = serde_json::from_slice(&from_openai(&resp, "gem")).unwrap();
        assert_eq!(
            v,
            json!({"candidates": [{"content": {"role": "model", "parts": [
                    {"text": "hmm", "thought": true},
                    {"text": "Checking."},
                    {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}}]},
                  "finishReason": "STOP", "index": 0}],
              "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12},
              "modelVersion": "gem", "responseId": "r1"})
        );
    }

    #[test]
    fn an_empty_or_cut_answer_still_has_a_part() {
        let resp: ChatResponse = serde_json::from_value(json!({
            "id": "x", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": null}}]
        }))
        .unwrap();
        let v: Value = serde_json::from_slice(&from_openai(&resp, "gem")).unwrap();
        assert_eq!(
            v["candidates"][0]["content"]["parts"],
            json!([{"text": ""}])
        );
        assert_eq!(v["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert!(v.get("usageMetadata").is_none());
    }
}
