"""The official `anthropic` Python SDK against the gateway's Anthropic Messages
API (`/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`), backed by
each provider type: the mock provider, and mock Anthropic (native
pass-through), OpenAI and Gemini upstreams (converted) serving the recorded
fixtures in tests/fixtures."""

import json
import urllib.request

import anthropic
import pytest

from harness import MockUpstream, config, fixture, running_gateway, sse_events_with_blank

JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CODE_TOOLS = [
    {"name": "Read", "description": "Reads a file.", "input_schema": {
        "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}},
    {"name": "Grep", "description": "Searches files.", "input_schema": {
        "type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}}}},
    {"name": "Bash", "description": "Runs a command.", "input_schema": {
        "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
]


def _has_tool_result(req):
    last = req["messages"][-1]["content"]
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def anthropic_responder(path, headers, body):
    """A mock Anthropic API: the model `upstream-busy` is overloaded (529),
    `upstream-bad` answers a 400, `upstream-cut` fails mid-stream."""
    req = json.loads(body)
    if path.endswith("/messages/count_tokens"):
        return 200, JSON, fixture("messages/count_tokens_response.json").encode()
    if req["model"] == "upstream-busy":
        return 529, JSON, fixture("anthropic/error_529.json").encode()
    if req["model"] == "upstream-bad":
        return 400, JSON, fixture("anthropic/error_400.json").encode()
    if req.get("stream"):
        if req["model"] == "upstream-cut":
            name = "anthropic/stream_error_overloaded.sse"
        elif req.get("tools"):
            name = "anthropic/stream_text_then_tool.sse"
        else:
            name = "anthropic/stream_thinking.sse"
        return 200, SSE, sse_events_with_blank(fixture(name))
    if req.get("tools") and not _has_tool_result(req):
        return 200, JSON, fixture("anthropic/response_tool_use.json").encode()
    return 200, JSON, fixture("anthropic/response_text.json").encode()


def openai_responder(path, headers, body):
    """A mock OpenAI API: streams with tools get three parallel tool calls
    whose argument fragments are interleaved."""
    req = json.loads(body)
    if req.get("stream"):
        name = "messages/stream_parallel_tools.openai.sse" if req.get("tools") else "openai/chat_stream.sse"
        return 200, SSE, sse_events_with_blank(fixture(name))
    return 200, JSON, fixture("openai/chat_completion.json").encode()


def gemini_responder(path, headers, body):
    req = json.loads(body)
    if ":streamGenerateContent" in path:
        name = "gemini/stream_protocols_4_6.sse" if req.get("tools") else "gemini/stream_text.sse"
        return 200, SSE, sse_events_with_blank(fixture(name))
    answered = any("functionResponse" in p for p in req["contents"][-1]["parts"])
    if req.get("tools") and not answered:
        return 200, JSON, fixture("gemini/response_parallel_tools.json").encode()
    return 200, JSON, fixture("gemini/response_protocols_3_7.json").encode()


EXTRA_MODELS = """
[models."ant-busy"]
provider = "ant"
api_model = "upstream-busy"

[models."ant-bad"]
provider = "ant"
api_model = "upstream-bad"

[models."ant-cut"]
provider = "ant"
api_model = "upstream-cut"
"""

CONFIGURED_MODELS = {"demo", "ant-model", "oai-model", "gem-model", "ant-busy", "ant-bad", "ant-cut"}


@pytest.fixture(scope="module")
def upstreams():
    ups = {
        "ant": MockUpstream(anthropic_responder),
        "oai": MockUpstream(openai_responder),
        "gem": MockUpstream(gemini_responder),
    }
    yield ups
    for up in ups.values():
        up.close()


@pytest.fixture(scope="module")
def gateway(upstreams):
    text = config(
        [
            ("anthropic", "ant", upstreams["ant"].url + "/v1"),
            ("openai", "oai", upstreams["oai"].url + "/v1"),
            ("gemini", "gem", upstreams["gem"].url + "/v1beta"),
        ],
        EXTRA_MODELS,
    )
    with running_gateway(text) as base:
        yield base


@pytest.fixture(autouse=True)
def clean(upstreams, monkeypatch):
    for up in upstreams.values():
        up.requests.clear()
    # The SDK reads these when a client gets no explicit value.
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)


def client(base, **kw):
    kw.setdefault("api_key", "sk-e2e")
    return anthropic.Anthropic(base_url=base, max_retries=0, **kw)


def headers_of(request):
    return {k.lower(): v for k, v in request["headers"].items()}


def sent(up, index=-1):
    return json.loads(up.requests[index]["body"])


# --- mock provider -----------------------------------------------------------


def test_mock_provider_create_and_stream(gateway):
    c = client(gateway)
    r = c.messages.create(
        model="demo", max_tokens=64, messages=[{"role": "user", "content": "hello from the zebra sdk"}]
    )
    assert r.type == "message" and r.role == "assistant" and r.model == "demo"
    assert [b.type for b in r.content] == ["text"]
    assert r.content[0].text == "hello from the zebra sdk"
    assert r.stop_reason == "end_turn"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (5, 5)

    pieces = []
    with c.messages.stream(
        model="demo", max_tokens=64, messages=[{"role": "user", "content": "stream these zebra words"}]
    ) as s:
        pieces.extend(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) == 4, pieces  # the mock streams word by word
    assert "".join(pieces) == "stream these zebra words"
    assert [b.type for b in final.content] == ["text"]
    assert final.content[0].text == "stream these zebra words"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens == 4


def test_bearer_auth_and_beta_query(gateway, upstreams):
    # Authorization: Bearer instead of x-api-key; `?beta=true` as the beta
    # namespace (and Claude Code) sends it.
    c = client(gateway, api_key=None, auth_token="sk-e2e")
    r = c.beta.messages.create(
        model="demo",
        max_tokens=16,
        messages=[{"role": "user", "content": "bearer works"}],
        betas=["interleaved-thinking-2025-05-14"],
    )
    assert r.content[0].text == "bearer works"

    r = c.beta.messages.create(
        model="ant-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}], betas=["oauth-2025-04-20"]
    )
    assert r.content[0].text == "Hello! How can I help"
    (req,) = upstreams["ant"].requests
    assert req["path"] == "/v1/messages"
    h = headers_of(req)
    assert h["x-api-key"] == "sk-upstream-ant" and "authorization" not in h
    assert "sk-e2e" not in json.dumps(h), "the gateway key must not reach the upstream"


def test_mock_provider_count_tokens_is_an_estimate(gateway):
    body = json.loads(fixture("messages/count_tokens_request.json"))
    body["model"] = "demo"
    n = client(gateway).messages.count_tokens(**body).input_tokens
    assert n > 0
    short = client(gateway).messages.count_tokens(
        model="demo", messages=[{"role": "user", "content": "hi"}]
    ).input_tokens
    assert 0 < short < n


def test_models_list_in_anthropic_shape(gateway):
    page = client(gateway).models.list()
    models = list(page)
    assert {m.id for m in models} == CONFIGURED_MODELS
    assert len(models) == len(CONFIGURED_MODELS)
    assert all(m.type == "model" and m.display_name == m.id for m in models)
    assert page.has_more is False


# --- Anthropic upstream: native pass-through ---------------------------------


def test_anthropic_upstream_create_passes_through(gateway, upstreams):
    up = upstreams["ant"]
    r = client(gateway).beta.messages.create(
        model="ant-model",
        max_tokens=128,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello"}],
        metadata={"user_id": "u-1"},
        betas=["context-management-2025-06-27"],
        extra_body={"x_future_field": {"kept": [1, 2]}},
    )
    assert r.id == "msg_01HCDu5LRGeP2o7s2xGmxyx8"
    assert [b.text for b in r.content] == ["Hello! How can I help", " you today?"]
    assert (r.usage.input_tokens, r.usage.output_tokens) == (12, 10)

    (req,) = up.requests
    assert req["path"] == "/v1/messages"
    assert sent(up) == {
        "model": "upstream-ant",
        "max_tokens": 128,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}],
        "metadata": {"user_id": "u-1"},
        "x_future_field": {"kept": [1, 2]},
    }
    h = headers_of(req)
    assert h["x-api-key"] == "sk-upstream-ant"
    assert h["anthropic-version"] == "2023-06-01"
    assert h["anthropic-beta"] == "context-management-2025-06-27"
    assert "sk-e2e" not in json.dumps(h), "the gateway key must not reach the upstream"


def test_anthropic_upstream_stream_keeps_every_block(gateway, upstreams):
    with client(gateway).messages.stream(
        model="ant-model",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "27 * 453?"}],
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "27 × 453 = 12,231."
    assert [b.type for b in final.content] == ["thinking", "redacted_thinking", "text"]
    assert final.content[0].thinking == "27 * 453 = 27 * 400 + 27 * 53 = 10800 + 1431 = 12231."
    assert final.content[0].signature.startswith("EqQBCkgIARABGAIiQL2y7d8")
    assert final.id == "msg_01ThinKStr3amQx8Vn2Lb7Wd"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (48, 212)
    body = sent(upstreams["ant"])
    assert body["model"] == "upstream-ant" and body["stream"] is True
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_anthropic_upstream_count_tokens_is_exact(gateway, upstreams):
    up = upstreams["ant"]
    body = json.loads(fixture("messages/count_tokens_request.json"))
    body["model"] = "ant-model"
    r = client(gateway).beta.messages.count_tokens(**body, betas=["context-1m-2025-08-07"])
    assert r.input_tokens == json.loads(fixture("messages/count_tokens_response.json"))["input_tokens"]
    (req,) = up.requests
    assert req["path"] == "/v1/messages/count_tokens"
    assert sent(up) == {**body, "model": "upstream-ant"}
    h = headers_of(req)
    assert h["x-api-key"] == "sk-upstream-ant"
    # The SDK adds its own token-counting beta to the ones asked for.
    assert "context-1m-2025-08-07" in h["anthropic-beta"].split(",")


# --- OpenAI upstream: converted ----------------------------------------------


def test_openai_upstream_create(gateway, upstreams):
    up = upstreams["oai"]
    r = client(gateway).messages.create(
        model="oai-model",
        max_tokens=100,
        system="Be brief.",
        stop_sequences=["\n\nHuman:"],
        messages=[{"role": "user", "content": "hi"}],
    )
    assert r.type == "message" and r.model == "oai-model"
    assert [(b.type, b.text) for b in r.content] == [("text", "Hello! How can I assist you today?")]
    assert r.stop_reason == "end_turn"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (19, 10)

    (req,) = up.requests
    assert req["path"] == "/v1/chat/completions"
    body = sent(up)
    assert body["model"] == "upstream-oai"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert body.get("max_tokens", body.get("max_completion_tokens")) == 100
    assert body["stop"] == ["\n\nHuman:"]
    assert headers_of(req)["authorization"] == "Bearer sk-upstream-oai"


def test_openai_upstream_stream_text(gateway, upstreams):
    with client(gateway).messages.stream(
        model="oai-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello!"
    assert [(b.type, b.text) for b in final.content] == [("text", "Hello!")]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (19, 2)
    body = sent(upstreams["oai"])
    assert body["stream"] is True and body["stream_options"]["include_usage"] is True


# --- Gemini upstream: converted ----------------------------------------------


def test_gemini_upstream_create(gateway, upstreams):
    up = upstreams["gem"]
    r = client(gateway).messages.create(
        model="gem-model",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    assert [(b.type, b.text) for b in r.content] == [("text", "It is 18C and sunny.")]
    assert r.stop_reason == "end_turn"
    assert r.usage.input_tokens == 40
    (req,) = up.requests
    assert req["path"] == "/v1beta/models/upstream-gem:generateContent"
    assert headers_of(req)["x-goog-api-key"] == "sk-upstream-gem"
    body = sent(up)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["generationConfig"]["maxOutputTokens"] == 100


def test_gemini_upstream_stream_text(gateway, upstreams):
    with client(gateway).messages.stream(
        model="gem-model", max_tokens=100, messages=[{"role": "user", "content": "Capital of France?"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "The capital of France is Paris."
    assert [(b.type, b.text) for b in final.content] == [("text", "The capital of France is Paris.")]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (8, 8)
    (req,) = upstreams["gem"].requests
    assert req["path"] == "/v1beta/models/upstream-gem:streamGenerateContent?alt=sse"


# --- tools, every upstream type ----------------------------------------------


@pytest.mark.parametrize(
    "model,tools,expected_text,expected_calls",
    [
        ("ant-model", [WEATHER_TOOL], "Let me check.", [("get_weather", {"city": "Paris"})]),
        (
            "oai-model",
            CODE_TOOLS,
            "",
            [
                ("Read", {"file_path": "/repo/src/main.rs"}),
                ("Grep", {"pattern": "TODO\\(", "path": "src"}),
                ("Bash", {"command": "cargo check"}),
            ],
        ),
        ("gem-model", [WEATHER_TOOL], "Checking", [("get_weather", {"city": "Paris"})]),
    ],
)
def test_streamed_tool_use_assembles_into_dict_input(gateway, model, tools, expected_text, expected_calls):
    with client(gateway).messages.stream(
        model=model, max_tokens=1024, tools=tools, messages=[{"role": "user", "content": "Go"}]
    ) as s:
        final = s.get_final_message()
    texts = [b.text for b in final.content if b.type == "text"]
    assert "".join(texts) == expected_text
    calls = [b for b in final.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in calls] == expected_calls
    assert all(isinstance(b.input, dict) for b in calls)
    assert len({b.id for b in calls}) == len(calls) and all(b.id for b in calls)
    assert final.stop_reason == "tool_use"


def test_tool_round_trip_through_openai(gateway, upstreams):
    up = upstreams["oai"]
    c = client(gateway)
    question = {"role": "user", "content": "Check the TODOs and build."}
    with c.messages.stream(model="oai-model", max_tokens=1024, tools=CODE_TOOLS, messages=[question]) as s:
        first = s.get_final_message()
    read, grep, bash = [b for b in first.content if b.type == "tool_use"]
    results = [
        {"type": "tool_result", "tool_use_id": read.id, "content": "fn main() {}"},
        {"type": "tool_result", "tool_use_id": grep.id, "content": [{"type": "text", "text": "src/lib.rs:3: TODO(x)"}]},
        {"type": "tool_result", "tool_use_id": bash.id, "is_error": True, "content": "error[E0425]: cannot find value"},
    ]
    up.requests.clear()
    r = c.messages.create(
        model="oai-model",
        max_tokens=1024,
        tools=CODE_TOOLS,
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": results}],
    )
    assert r.content[0].text == "Hello! How can I assist you today?"

    msgs = sent(up)["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool", "tool"]
    calls = msgs[1]["tool_calls"]
    assert [(t["id"], t["function"]["name"], json.loads(t["function"]["arguments"])) for t in calls] == [
        (read.id, "Read", read.input),
        (grep.id, "Grep", grep.input),
        (bash.id, "Bash", bash.input),
    ]
    tool_msgs = {m["tool_call_id"]: m["content"] for m in msgs[2:]}
    flat = {k: v if isinstance(v, str) else "".join(p["text"] for p in v) for k, v in tool_msgs.items()}
    assert flat[read.id] == "fn main() {}"
    assert flat[grep.id] == "src/lib.rs:3: TODO(x)"
    # is_error survives the conversion (documented as an "Error: " prefix).
    assert flat[bash.id] == "Error: error[E0425]: cannot find value"
    assert "Error" not in flat[read.id]


def test_tool_round_trip_through_gemini(gateway, upstreams):
    up = upstreams["gem"]
    c = client(gateway)
    question = {"role": "user", "content": "Weather in Paris and Rome?"}
    first = c.messages.create(model="gem-model", max_tokens=1024, tools=[WEATHER_TOOL], messages=[question])
    assert first.stop_reason == "tool_use"
    paris, rome = [b for b in first.content if b.type == "tool_use"]
    assert (paris.name, paris.input) == ("get_weather", {"city": "Paris", "unit": "celsius"})
    assert (rome.name, rome.input) == ("get_weather", {"city": "Rome", "unit": "celsius"})
    up.requests.clear()
    r = c.messages.create(
        model="gem-model",
        max_tokens=1024,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": paris.id, "content": "18C, sunny"},
                {"type": "tool_result", "tool_use_id": rome.id, "is_error": True, "content": "weather service down"},
            ]},
        ],
    )
    assert r.content[0].text == "It is 18C and sunny."

    contents = sent(up)["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    calls = contents[1]["parts"]
    assert [p["functionCall"]["args"] for p in calls] == [
        {"city": "Paris", "unit": "celsius"},
        {"city": "Rome", "unit": "celsius"},
    ]
    # Gemini's thought signature survives the round trip through the tool_use id.
    expected_signature = json.loads(fixture("gemini/response_parallel_tools.json"))[
        "candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    assert calls[0]["thoughtSignature"] == expected_signature
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [f["name"] for f in responses] == ["get_weather", "get_weather"]
    assert "18C, sunny" in json.dumps(responses[0]["response"])
    assert "Error" not in json.dumps(responses[0]["response"])
    assert "Error: weather service down" in json.dumps(responses[1]["response"])


def test_tool_round_trip_through_anthropic_is_untouched(gateway, upstreams):
    up = upstreams["ant"]
    c = client(gateway)
    question = {"role": "user", "content": "Weather in Paris?"}
    first = c.messages.create(model="ant-model", max_tokens=1024, tools=[WEATHER_TOOL], messages=[question])
    (call,) = [b for b in first.content if b.type == "tool_use"]
    assert (call.id, call.input) == ("toolu_01A09q90qw90lq917835lq9", {"city": "Paris"})
    up.requests.clear()
    result = {"type": "tool_result", "tool_use_id": call.id, "is_error": True, "content": "no such city"}
    r = c.messages.create(
        model="ant-model",
        max_tokens=1024,
        tools=[WEATHER_TOOL],
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}],
    )
    assert r.stop_reason == "end_turn"
    body = sent(up)
    assert body["model"] == "upstream-ant"
    assert body["messages"][2]["content"] == [result]
    assert [b["type"] for b in body["messages"][1]["content"]] == ["text", "tool_use"]


def test_openai_and_gemini_count_tokens_are_local_estimates(gateway, upstreams):
    body = json.loads(fixture("messages/count_tokens_request.json"))
    for model in ("oai-model", "gem-model"):
        body["model"] = model
        assert client(gateway).messages.count_tokens(**body).input_tokens > 0
    assert upstreams["oai"].requests == [] and upstreams["gem"].requests == []


# --- errors ------------------------------------------------------------------


def test_unknown_model_is_not_found(gateway):
    with pytest.raises(anthropic.NotFoundError) as e:
        client(gateway).messages.create(model="nope", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 404
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.NotFoundError):
        client(gateway).messages.count_tokens(model="nope", messages=[{"role": "user", "content": "x"}])


def test_bad_key_is_an_authentication_error(gateway, upstreams):
    for kw in ({"api_key": "sk-wrong"}, {"api_key": None, "auth_token": "sk-wrong"}):
        c = client(gateway, **kw)
        with pytest.raises(anthropic.AuthenticationError) as e:
            c.messages.create(model="ant-model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
        assert e.value.body["type"] == "error"
        assert e.value.body["error"]["type"] == "authentication_error"
        with pytest.raises(anthropic.AuthenticationError):
            c.models.list()
    assert upstreams["ant"].requests == []


def test_upstream_overloaded_is_529(gateway, upstreams):
    c = client(gateway)
    with pytest.raises(anthropic.APIStatusError) as e:
        c.messages.create(model="ant-busy", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    # anthropic 0.75 raises its OverloadedError for 529 (not exported at the top level).
    overloaded = getattr(anthropic, "OverloadedError", anthropic._exceptions.OverloadedError)
    assert isinstance(e.value, (anthropic.InternalServerError, overloaded))
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"
    # The gateway retried the overloaded upstream (README: 529 is retryable)
    # and says how many attempts it made.
    assert len(upstreams["ant"].requests) >= 1
    assert e.value.response.headers["x-gateway-attempts"] == str(len(upstreams["ant"].requests))

    # The same before a stream's first event: the SDK raises on opening it.
    with pytest.raises(anthropic.APIStatusError) as e:
        with c.messages.stream(model="ant-busy", max_tokens=8, messages=[{"role": "user", "content": "x"}]):
            pass
    assert e.value.status_code == 529
    assert e.value.body["error"]["type"] == "overloaded_error"


def test_upstream_4xx_keeps_status_and_message(gateway):
    with pytest.raises(anthropic.BadRequestError) as e:
        client(gateway).messages.create(model="ant-bad", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    expected = json.loads(fixture("anthropic/error_400.json"))["error"]
    assert e.value.body["error"]["type"] == "invalid_request_error"
    # The gateway names the provider in front of the upstream's own words.
    assert e.value.body["error"]["message"].endswith(expected["message"])


def test_error_event_mid_stream_raises(gateway):
    seen = []
    with pytest.raises(anthropic.APIStatusError) as e:
        with client(gateway).messages.stream(
            model="ant-cut", max_tokens=64, messages=[{"role": "user", "content": "x"}]
        ) as s:
            for t in s.text_stream:
                seen.append(t)
    assert "".join(seen) == "Sure, here"
    assert e.value.body["error"]["type"] == "overloaded_error"


def test_messages_calls_are_counted_in_metrics(gateway):
    c = client(gateway)
    c.messages.create(model="demo", max_tokens=8, messages=[{"role": "user", "content": "count me"}])
    c.messages.count_tokens(model="demo", messages=[{"role": "user", "content": "count me"}])
    with urllib.request.urlopen(gateway + "/metrics", timeout=5) as r:
        text = r.read().decode()
    lines = [line for line in text.splitlines() if line.startswith("llm_requests_total{")]
    assert any('endpoint="/v1/messages"' in line and 'model="demo"' in line and 'status="200"' in line for line in lines), lines
    assert any('endpoint="/v1/messages/count_tokens"' in line and 'model="demo"' in line for line in lines), lines


# --- model patterns, model echo and cache usage --------------------------------


def test_a_dated_id_routes_by_pattern_and_cache_usage_comes_back_in_anthropic_terms():
    def ant(path, headers, body):
        return 200, JSON, fixture("anthropic/response_cache_usage.json").encode()

    def oai(path, headers, body):
        text = fixture("openai/chat_completion.json").replace('"cached_tokens": 0', '"cached_tokens": 16')
        return 200, JSON, text.encode()

    ups = {"ant": MockUpstream(ant), "oai": MockUpstream(oai)}
    extra = """
[models."claude-sonnet-4-5*"]
provider = "ant"

[models."claude-haiku-4-5*"]
provider = "oai"
api_model = "gpt-4o-mini"
"""
    try:
        text = config([("anthropic", "ant", ups["ant"].url + "/v1"), ("openai", "oai", ups["oai"].url + "/v1")], extra)
        with running_gateway(text) as base:
            c = client(base)
            r = c.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=64,
                                  messages=[{"role": "user", "content": "Where is the clause?"}])
            assert r.model == "claude-sonnet-4-5-20250929"
            assert sent(ups["ant"])["model"] == "claude-sonnet-4-5-20250929"
            u = r.usage
            assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens) == (21, 9000, 1200)

            r = c.messages.create(model="claude-haiku-4-5-20251001", max_tokens=64,
                                  messages=[{"role": "user", "content": "hi"}])
            assert r.model == "claude-haiku-4-5-20251001"
            assert sent(ups["oai"])["model"] == "gpt-4o-mini"
            # OpenAI's cached_tokens are reads, taken out of input_tokens.
            assert (r.usage.input_tokens, r.usage.cache_read_input_tokens) == (19 - 16, 16)

            # Patterns route; they are not models: the list pages through exact names.
            page = c.models.list(limit=2)
            assert [m.id for m in page.data] == ["ant-model", "demo"] and page.has_more is True
            assert [m.id for m in c.models.list(limit=2)] == ["ant-model", "demo", "oai-model"]
    finally:
        for up in ups.values():
            up.close()
