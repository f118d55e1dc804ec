use super::*;
use crate::protocol::openai::Stop;
use serde_json::json;

fn convert(body: Value) -> Result<(ChatRequest, ResponsesContext), Error> {
    to_openai(body.to_string().as_bytes(), ResponsesContext::default())
}

#[test]
fn a_string_input_with_instructions_is_a_system_and_a_user_message() {
    let (req, ctx) = convert(
        json!({"model": "m", "input": "Hi", "instructions": "Be brief",
        "max_output_tokens": 50, "temperature": 0.2, "top_p": 0.9, "user": "u1"}),
    )
    .unwrap();
    assert_eq!(
        req.messages,
        vec![
            Message::System {
                content: Content::Text("Be brief".into()),
                name: None
            },
            Message::User {
                content: Content::Text("Hi".into()),
                name: None
            },
        ]
    );
    assert_eq!(req.max_completion_tokens, Some(50));
    assert_eq!((req.temperature, req.top_p), (Some(0.2), Some(0.9)));
    assert_eq!(req.user.as_deref(), Some("u1"));
    assert_eq!(req.stop, None::<Stop>);
    assert_eq!(ctx.model, "m");
    assert_eq!(ctx.echo["instructions"], "Be brief");
    assert_eq!(ctx.echo["max_output_tokens"], 50);
}

#[test]
fn items_become_turns_with_parallel_tool_calls_and_their_outputs() {
    let (req, _) = convert(json!({"model": "m", "input": [
        {"role": "developer", "content": "dev"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "Look"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "high"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Calling"}]},
        {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{\"x\":1}"},
        {"type": "function_call", "call_id": "c2", "name": "b", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "t"}, {"type": "input_text", "text": "wo"}]}
    ]}))
    .unwrap();
    assert_eq!(req.messages.len(), 5);
    assert!(matches!(&req.messages[0], Message::Developer { .. }));
    let Message::User {
        content: Content::Parts(parts),
        ..
    } = &req.messages[1]
    else {
        panic!("user parts")
    };
    assert_eq!(
        parts[1],
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "data:image/png;base64,AAAA".into(),
                detail: Some("high".into())
            }
        }
    );
    let Message::Assistant(a) = &req.messages[2] else {
        panic!("assistant turn")
    };
    assert_eq!(a.content, Some(Content::Text("Calling".into())));
    assert_eq!(a.reasoning_content.as_deref(), Some("thinking"));
    let calls = a.tool_calls.as_ref().unwrap();
    assert_eq!(
        calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    assert_eq!(calls[0].function.arguments, "{\"x\":1}");
    assert_eq!(
        req.messages[4],
        Message::Tool {
            content: Content::Text("two".into()),
            tool_call_id: "c2".into()
        }
    );
}

#[test]
fn tools_choices_formats_and_effort_map_and_built_ins_are_dropped_and_named() {
    let (req, ctx) = convert(json!({"model": "m", "input": "x",
        "tools": [{"type": "function", "name": "get", "description": "d",
                   "parameters": {"type": "object"}, "strict": true},
                  {"type": "web_search"}],
        "tool_choice": {"type": "function", "name": "get"}, "parallel_tool_calls": false,
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
        "reasoning": {"effort": "high", "summary": "auto"}, "prompt_cache_key": "pk",
        "store": false, "include": ["reasoning.encrypted_content"], "metadata": {"a": "b"},
        "frobnicate": 1}))
    .unwrap();
    let tools = req.tools.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].function.strict, Some(true));
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Named(NamedToolChoice {
            kind: "function".into(),
            function: NamedFunction { name: "get".into() }
        }))
    );
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert!(matches!(
        req.response_format,
        Some(ResponseFormat::JsonSchema { ref json_schema }) if json_schema.name == "out" && json_schema.strict == Some(true)
    ));
    assert_eq!(req.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(req.extra.get("prompt_cache_key"), Some(&json!("pk")));
    for kept in ["store", "include", "metadata"] {
        assert!(!req.extra.contains_key(kept), "{kept} is the gateway's");
    }
    assert_eq!(req.dropped, ["frobnicate", "tools[web_search]"]);
    assert_eq!(ctx.echo["store"], false);
}

#[test]
fn thinking_blocks_come_back_from_the_envelope_and_foreign_encrypted_reasoning_is_dropped() {
    let blocks = vec![ThinkingBlock::Thinking {
        thinking: "t".into(),
        signature: "s".into(),
    }];
    let envelope = super::super::thinking_envelope(&blocks).unwrap();
    let (req, _) = convert(json!({"model": "m", "input": [
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [], "encrypted_content": envelope},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "r"},
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB-openai-secret"},
        {"role": "assistant", "content": "done"}
    ]}))
    .unwrap();
    let Message::Assistant(a) = &req.messages[1] else {
        panic!("assistant")
    };
    assert_eq!(a.thinking_blocks.as_ref(), Some(&blocks));
    assert_eq!(req.dropped, ["reasoning.encrypted_content"]);
}

#[test]
fn bad_requests_are_refused_naming_the_field() {
    let table = [
        (json!({"input": "x"}), "model"),
        (json!({"model": "m"}), "input"),
        (json!({"model": "m", "input": []}), "input"),
        (json!({"model": "m", "input": 3}), "input"),
        (
            json!({"model": "m", "input": [{"role": "wizard", "content": "x"}]}),
            "input[0].role",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
            "input[0].content[0]",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
            "input[0].call_id",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": "x", "background": true}),
            "background",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": "sometimes", "tools": [{"type": "function", "name": "f"}]}),
            "tool_choice",
        ),
        (
            json!({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}),
            "text.format.type",
        ),
        (
            json!({"model": "m", "input": "x", "temperature": "hot"}),
            "temperature",
        ),
    ];
    for (body, param) in table {
        let err = convert(body.clone()).unwrap_err();
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
    }
}
