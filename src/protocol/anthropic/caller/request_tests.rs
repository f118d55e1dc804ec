//! Tests of the module `request`.

use super::super::tests::damaged;
use super::*;
use crate::protocol::ErrorKind;

const CLAUDE_CODE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/claude_code_request.json"
));
const CLAUDE_CODE_OPENAI: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/claude_code_request.openai.json"
));
const WORKED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/anthropic/messages_request_worked_example.json"
));
const COUNT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/messages/count_tokens_request.json"
));

fn convert_json(v: Value) -> Result<(ChatRequest, InboundContext), Error> {
    to_openai(&serde_json::to_vec(&v).unwrap())
}

fn err_param(v: Value) -> String {
    convert_json(v).unwrap_err().param.unwrap().into_owned()
}

fn base() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024,
           "messages": [{"role": "user", "content": "hi"}]})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn messages(v: Value) -> Value {
    serde_json::to_value(convert_json(v).unwrap().0.messages).unwrap()
}

#[test]
fn claude_code_request_converts_to_the_recorded_openai_request() {
    let (req, ctx) = to_openai(CLAUDE_CODE.as_bytes()).unwrap();
    let got = serde_json::to_value(&req).unwrap();
    let want: Value = serde_json::from_str(CLAUDE_CODE_OPENAI).unwrap();
    assert_eq!(got, want, "{}", serde_json::to_string_pretty(&got).unwrap());
    assert_eq!(ctx.model, "claude-sonnet-4-5-20250929");
    let long = "mcp__github_enterprise_internal__search_pull_requests_by_author_and_label";
    let short = req.tools.as_ref().unwrap()[2].function.name.as_str();
    assert_eq!(short.len(), 64);
    assert_eq!(ctx.original_tool_name(short), long);
}

#[test]
fn section_5_2_worked_example_converts() {
    let (req, ctx) = to_openai(WORKED.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({
            "model": "claude-sonnet-4-5", "max_tokens": 512, "temperature": 1.0,
            "stop": ["END"],
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What's in this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ..."}}]},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "ocr", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a receipt"},
                {"role": "user", "content": "Total?"}],
            "tools": [{"type": "function", "function": {"name": "ocr", "description": "",
                "parameters": {"type": "object", "properties": {}}}}],
            "tool_choice": "auto",
            "parallel_tool_calls": false
        })
    );
    assert_eq!(ctx, InboundContext::new("claude-sonnet-4-5"));
}

#[test]
fn missing_required_fields_are_400s_naming_the_field() {
    let mut no_model = base();
    no_model.as_object_mut().unwrap().remove("model");
    let mut no_messages = base();
    no_messages.as_object_mut().unwrap().remove("messages");
    let mut no_max = base();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    for (v, param) in [
        (no_model, "model"),
        (no_messages, "messages"),
        (no_max, "max_tokens"),
    ] {
        let e = convert_json(v).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert_eq!(e.param.as_deref(), Some(param));
        assert_eq!(e.message, format!("`{param}` is required"));
    }
}

#[test]
fn count_bodies_need_no_max_tokens() {
    let (req, _) = to_openai_for_count(COUNT.as_bytes()).unwrap();
    assert_eq!(req.max_tokens, None);
    assert!(!req.stream);
    assert_eq!(
        to_openai(COUNT.as_bytes()).unwrap_err().param.as_deref(),
        Some("max_tokens")
    );
}

#[test]
fn malformed_known_fields_are_400s_naming_the_field() {
    let table = [
        (with(base(), "max_tokens", json!("lots")), "max_tokens"),
        (with(base(), "model", json!(5)), "model"),
        (with(base(), "model", json!("")), "model"),
        (with(base(), "messages", json!({})), "messages"),
        (with(base(), "temperature", json!("hot")), "temperature"),
        (
            with(base(), "stop_sequences", json!("END")),
            "stop_sequences",
        ),
        (
            with(base(), "system", json!([{"type": "text"}])),
            "system[0]",
        ),
        (with(base(), "system", json!([7])), "system[0]"),
        (
            with(base(), "tools", json!([{"description": "x"}])),
            "tools[0]",
        ),
        (
            with(base(), "thinking", json!({"type": "enabled"})),
            "thinking.budget_tokens",
        ),
        (
            with(base(), "tools", json!([{"name": "a", "input_schema": {}}]))
                .pipe(|v| with(v, "tool_choice", json!({"type": "tool"}))),
            "tool_choice.name",
        ),
        (
            with(base(), "messages", json!([{"role": "user"}])),
            "messages[0]",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "tool", "content": "x"}]),
            ),
            "messages[0].role",
        ),
        (
            with(base(), "messages", json!([{"role": "user", "content": 5}])),
            "messages[0].content",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": ["x"]}]),
            ),
            "messages[0].content[0]",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [{"text": "x"}]}]),
            ),
            "messages[0].content[0]",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [
                {"type": "text", "text": "ok"}, {"type": "text", "text": 5}]}]),
            ),
            "messages[0].content[1]",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "assistant", "content": [
                {"type": "tool_use", "name": "Read", "input": {}}]}]),
            ),
            "messages[0].content[0]",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [
                    {"type": "image", "source": {"type": "base64", "data": "xx"}}]}]}]),
            ),
            "messages[0].content[0].content[0].source.media_type",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [
                {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]),
            ),
            "messages[0].content[0].source",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [
                {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}]),
            ),
            "messages[0].content[0].source",
        ),
        (
            with(
                base(),
                "messages",
                json!([{"role": "user", "content": [
                {"type": "document", "source": {"type": "base64",
                 "media_type": "text/html", "data": "PGI+"}}]}]),
            ),
            "messages[0].content[0].source.media_type",
        ),
    ];
    for (v, param) in table {
        assert_eq!(err_param(v.clone()), param, "{v}");
    }
}

/// `value.pipe(f)` for building table rows in one expression.
trait Pipe: Sized {
    fn pipe(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }
}
impl Pipe for Value {}

#[test]
fn errors_never_quote_the_callers_text() {
    let secret = "my secret prompt text";
    for v in [
        with(
            base(),
            "messages",
            json!([{"role": "user", "content": [{"type": "text", "text": [secret]}]}]),
        ),
        with(base(), "max_tokens", json!(secret)),
        json!(secret),
    ] {
        let e = convert_json(v).unwrap_err();
        assert!(!e.message.contains(secret), "{}", e.message);
    }
    let e = to_openai(b"{\"model\": \"my secret prompt").unwrap_err();
    assert!(!e.message.contains("secret"));
}

#[test]
fn unknown_fields_and_block_types_are_ignored() {
    let v = json!({
        "model": "claude-opus-4-1", "max_tokens": 10,
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "container": "c_1", "cache_control": {"type": "ephemeral"},
        "service_tier": "auto", "mcp_servers": [{"url": 5}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "hi"},
                {"type": "container_upload", "file_id": 5},
                {"type": "search_result", "content": 3},
                {"type": "brand_new_block", "text": {"odd": true}, "id": 7}]},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
                {"type": "text", "text": "done"}]}],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "custom", "name": "Read", "input_schema": {"type": "object"}, "input_examples": [{}]}],
        "tool_choice": {"type": "brand_new_choice"}
    });
    let (req, _) = convert_json(v).unwrap();
    assert_eq!(
        serde_json::to_value(&req.messages).unwrap(),
        json!([{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "done"}])
    );
    let tools = req.tools.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].function.name, "Read");
    assert_eq!(req.tool_choice, None);
    assert!(req.extra.is_empty());
}

#[test]
fn system_string_and_blocks_become_one_system_message() {
    let blocks = with(
        base(),
        "system",
        json!([{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": ""},
               {"type": "text", "text": "B"}]),
    );
    assert_eq!(
        messages(blocks)[0],
        json!({"role": "system", "content": "A\n\nB"})
    );
    let string = with(base(), "system", json!("S"));
    assert_eq!(
        messages(string)[0],
        json!({"role": "system", "content": "S"})
    );
    let empty = with(base(), "system", json!([]));
    assert_eq!(messages(empty)[0]["role"], "user");
}

#[test]
fn tool_results_come_first_with_errors_marked_and_images_after_e20() {
    let v = with(
        base(),
        "messages",
        json!([
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_A", "name": "Screenshot", "input": {}},
                {"type": "tool_use", "id": "toolu_B", "name": "Bash", "input": {"command": "false"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Here you go."},
                {"type": "tool_result", "tool_use_id": "toolu_A", "content": [
                    {"type": "text", "text": "screenshot:"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpg", "data": "QUJD"}},
                    {"type": "text", "text": "taken"}]},
                {"type": "tool_result", "tool_use_id": "toolu_B", "is_error": true, "content": "exit 1"},
                {"type": "tool_result", "tool_use_id": "toolu_C", "is_error": true},
                {"type": "tool_result", "tool_use_id": "toolu_D", "content": null}]}
        ]),
    );
    assert_eq!(
        messages(v),
        json!([
            {"role": "assistant", "tool_calls": [
                {"id": "toolu_A", "type": "function", "function": {"name": "Screenshot", "arguments": "{}"}},
                {"id": "toolu_B", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"false\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_A", "content": "screenshot:\ntaken"},
            {"role": "tool", "tool_call_id": "toolu_B", "content": "Error: exit 1"},
            {"role": "tool", "tool_call_id": "toolu_C", "content": "Error"},
            {"role": "tool", "tool_call_id": "toolu_D", "content": ""},
            {"role": "user", "content": [
                {"type": "text", "text": "[from tool result toolu_A]"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                {"type": "text", "text": "Here you go."}]}
        ])
    );
}

#[test]
fn images_and_documents_become_parts_e28() {
    let v = with(
        base(),
        "messages",
        json!([{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "IMAGE/PNG; name=a.png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain doc"}},
            {"type": "document", "source": {"type": "content", "content": [
                {"type": "text", "text": "chunk"}, {"type": "image", "source": {"type": "url", "url": "https://e.com/b.png"}}]}},
            {"type": "text", "text": ""}]}]),
    );
    assert_eq!(
        messages(v)[0]["content"],
        json!([
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0", "filename": "document.pdf"}},
            {"type": "text", "text": "plain doc"},
            {"type": "text", "text": "chunk"},
            {"type": "image_url", "image_url": {"url": "https://e.com/b.png"}}
        ])
    );
}

#[test]
fn assistant_thinking_is_kept_with_signatures_and_unsigned_blocks_dropped_e18() {
    let v = with(
        base(),
        "messages",
        json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "EqQBsig"},
                {"type": "thinking", "thinking": "made up from reasoning_content", "signature": ""},
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "text", "text": "Answer "},
                {"type": "text", "text": ""},
                {"type": "text", "text": "here."}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "only thoughts", "signature": "Sig2"}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "unsigned only"}]},
            {"role": "assistant", "content": ""}
        ]),
    );
    assert_eq!(
        messages(v),
        json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "Answer here.", "thinking_blocks": [
                {"type": "thinking", "thinking": "hmm", "signature": "EqQBsig"},
                {"type": "redacted_thinking", "data": "EmwKAhgB"}]},
            {"role": "assistant", "content": "", "thinking_blocks": [
                {"type": "thinking", "thinking": "only thoughts", "signature": "Sig2"}]}
        ])
    );
}

#[test]
fn tool_choice_maps_and_needs_tools() {
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let table = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (
            json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            Some(false),
        ),
        (
            json!({"type": "any", "disable_parallel_tool_use": false}),
            json!("required"),
            None,
        ),
    ];
    for (tc, want, parallel) in table {
        let v = with(
            with(base(), "tools", tools.clone()),
            "tool_choice",
            tc.clone(),
        );
        let (req, _) = convert_json(v).unwrap();
        assert_eq!(
            serde_json::to_value(&req.tool_choice).unwrap(),
            want,
            "{tc}"
        );
        assert_eq!(req.parallel_tool_calls, parallel, "{tc}");
    }
    // Without client tools, neither is sent (OpenAI rejects them).
    let v = with(
        with(
            base(),
            "tools",
            json!([{"type": "web_search_20250305", "name": "web_search"}]),
        ),
        "tool_choice",
        json!({"type": "auto", "disable_parallel_tool_use": true}),
    );
    let (req, _) = convert_json(v).unwrap();
    assert_eq!(
        (req.tools, req.tool_choice, req.parallel_tool_calls),
        (None, None, None)
    );
}

#[test]
fn long_tool_names_are_shortened_everywhere_e21() {
    let long = "mcp__a_really_long_server_name_for_testing__and_an_even_longer_tool_name";
    let v = json!({
        "model": "m", "max_tokens": 5,
        "tools": [{"name": long, "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": long},
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": long, "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]
    });
    let (req, ctx) = convert_json(v).unwrap();
    let short = req.tools.as_ref().unwrap()[0].function.name.clone();
    assert_eq!(short.len(), 64);
    let Some(ToolChoice::Named(named)) = &req.tool_choice else {
        panic!("named tool choice expected")
    };
    assert_eq!(named.function.name, short);
    let Message::Assistant(a) = &req.messages[1] else {
        panic!("assistant expected")
    };
    assert_eq!(a.tool_calls.as_ref().unwrap()[0].function.name, short);
    assert_eq!(ctx.original_tool_name(&short), long);
}

#[test]
fn sampling_stop_user_thinking_and_stream_map() {
    let v = json!({
        "model": "m", "max_tokens": 32000, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
        "stop_sequences": ["a", "b", "c", "d", "e"], "stream": true,
        "metadata": {"user_id": "user_abc_account__session_1", "other": 1},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "messages": [{"role": "user", "content": "hi"}]
    });
    let (req, _) = convert_json(v).unwrap();
    let got = serde_json::to_value(&req).unwrap();
    assert_eq!(
        got,
        json!({"model": "m", "max_tokens": 32000, "temperature": 0.2, "top_p": 0.9,
               "top_k": 40, "stop": ["a", "b", "c", "d"], "stream": true,
               "stream_options": {"include_usage": true},
               "user": "user_abc_account__session_1", "reasoning_effort": "medium",
               "messages": [{"role": "user", "content": "hi"}]})
    );
}

#[test]
fn long_user_ids_are_hashed_to_fit_openai() {
    let long = "user_5b2c8e0f4a7d9e1b3c6f8a2d4e6b8c0a1f3e5d7b9c1a3e5f7b9d1c3e5a7b9d1f_account__session_0b6f4a2e";
    let v = with(base(), "metadata", json!({"user_id": long}));
    let user = convert_json(v.clone()).unwrap().0.user.unwrap();
    assert_eq!(user.len(), 64);
    assert!(user.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(convert_json(v).unwrap().0.user.unwrap(), user, "stable");
    let short = with(base(), "metadata", json!({"user_id": "u".repeat(64)}));
    assert_eq!(convert_json(short).unwrap().0.user.unwrap(), "u".repeat(64));
}

#[test]
fn thinking_budgets_map_to_efforts() {
    let table = [
        (1024, "low"),
        (4095, "low"),
        (4096, "medium"),
        (16383, "medium"),
        (16384, "high"),
        (64000, "high"),
    ];
    for (budget, want) in table {
        let v = with(
            base(),
            "thinking",
            json!({"type": "enabled", "budget_tokens": budget}),
        );
        assert_eq!(
            convert_json(v).unwrap().0.reasoning_effort.as_deref(),
            Some(want),
            "{budget}"
        );
    }
    for t in [json!({"type": "disabled"}), json!({"type": "adaptive"})] {
        let v = with(base(), "thinking", t);
        assert_eq!(convert_json(v).unwrap().0.reasoning_effort, None);
    }
}

#[test]
fn output_config_maps_to_effort_and_response_format() {
    let v = with(
        base(),
        "output_config",
        json!({"effort": "max", "format": {"type": "json_schema",
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
    );
    let (req, _) = convert_json(v).unwrap();
    assert_eq!(req.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(
        serde_json::to_value(&req.response_format).unwrap(),
        json!({"type": "json_schema", "json_schema": {"name": "output", "strict": true,
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}})
    );
    // `thinking` wins over `output_config.effort`.
    let v = with(
        with(base(), "output_config", json!({"effort": "high"})),
        "thinking",
        json!({"type": "enabled", "budget_tokens": 2048}),
    );
    assert_eq!(
        convert_json(v).unwrap().0.reasoning_effort.as_deref(),
        Some("low")
    );
}

#[test]
fn tool_schemas_pass_through_unchanged() {
    let schema = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"file_path": {"type": "string"}}, "required": ["file_path"],
        "additionalProperties": false});
    let v = with(
        base(),
        "tools",
        json!([{"name": "Read", "description": "Reads a file", "input_schema": schema,
                "cache_control": {"type": "ephemeral"}},
               {"name": "NoSchema"}]),
    );
    let (req, _) = convert_json(v).unwrap();
    let tools = req.tools.unwrap();
    assert_eq!(tools[0].function.parameters.as_ref(), Some(&schema));
    assert_eq!(
        tools[0].function.description.as_deref(),
        Some("Reads a file")
    );
    assert_eq!(
        tools[1].function.parameters,
        Some(json!({"type": "object", "properties": {}}))
    );
}

#[test]
fn damaged_bodies_never_panic() {
    for fixture in [CLAUDE_CODE, WORKED, COUNT] {
        for bytes in damaged(fixture.as_bytes()) {
            let _ = to_openai(&bytes);
            let _ = to_openai_for_count(&bytes);
        }
    }
}
