"""The official `openai` Python SDK's Responses API (`responses.create`,
`responses.stream()`, `responses.retrieve`) against the gateway's
`/v1/responses`, through every provider type: the mock provider, and
scripted OpenAI, Anthropic and Gemini upstreams (tests/e2e/wire.py), checking
what the client gets and what reached the upstream."""

import json

import openai
import pytest

from harness import MockUpstream, config, running_gateway
from wire import ANSWER, BASE_PATH, USAGE, Calls, Text, scripted, sent, tool_results

KINDS = ["openai", "anthropic", "gemini"]
WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
         "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def cut_upstream(kind):
    """An upstream whose stream ends after its first text, before its end."""
    def respond(path, headers, body):
        status, headers, events = ANSWER[kind](Text("Hello from the upstream!"), True)
        # Gemini's stream has no terminator: cut, it lacks the chunk with
        # its finishReason, which the gateway reports as a cut.
        return status, headers, events[:-1] if kind == "gemini" else events[:-3]

    return MockUpstream(respond)


def client(base, key="sk-e2e"):
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)


def answered(kind, req):
    """Whether the request already carries a tool result."""
    return bool(tool_results(kind, req))


def weather_script(kind):
    def script(req):
        if answered(kind, req):
            return Text("It is 18 degrees in Paris.")
        if req.get("tools"):
            return Calls([("call_w1", "get_weather", '{"city": "Paris"}'),
                          ("call_w2", "get_weather", '{"city": "Lyon"}')])
        return Text("Hello from the upstream!")
    return script


@pytest.fixture(params=KINDS)
def provider(request):
    """(kind, upstream, base URL of a gateway serving model `<kind>-model`)."""
    kind = request.param
    up = scripted(kind, weather_script(kind))
    with running_gateway(config([(kind, kind, up.url + BASE_PATH[kind])])) as base:
        yield kind, up, base
    up.close()


def test_mock_provider_create_stream_and_retrieve():
    with running_gateway(config()) as base:
        c = client(base)
        r = c.responses.create(model="demo", input="hello from responses")
        assert r.output_text == "hello from responses"
        assert r.model == "demo" and r.status == "completed"
        assert r.usage.output_tokens == 3
        assert c.responses.retrieve(r.id).output_text == "hello from responses"
        with c.responses.stream(model="demo", input="stream these words") as s:
            types = [e.type for e in s]
            final = s.get_final_response()
        assert final.output_text == "stream these words"
        assert types[0] == "response.created" and types[-1] == "response.completed"
        assert types.count("response.output_text.delta") == 3


def test_create_returns_a_response_with_the_asked_model_and_real_usage(provider):
    kind, up, base = provider
    r = client(base).responses.create(model=f"{kind}-model", input="Hi", instructions="Be brief.",
                                      max_output_tokens=200, temperature=0.3)
    assert r.output_text == "Hello from the upstream!"
    assert r.id.startswith("resp_") and r.object == "response" and r.status == "completed"
    assert r.model == f"{kind}-model"
    assert (r.usage.input_tokens, r.usage.output_tokens) == USAGE
    assert r.usage.total_tokens == sum(USAGE)
    req = sent(up)
    assert "Be brief." in json.dumps(req)
    assert "upstream-" + kind in json.dumps(req) or kind == "gemini"


def test_stream_helper_and_final_response(provider):
    kind, up, base = provider
    with client(base).responses.stream(model=f"{kind}-model", input="Hi") as s:
        events = list(s)
        final = s.get_final_response()
    assert final.output_text == "Hello from the upstream!"
    assert final.model == f"{kind}-model"
    assert final.usage.output_tokens == USAGE[1]
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == final.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_parallel_tool_calls_round_trip_with_function_call_output(provider):
    kind, up, base = provider
    c = client(base)
    r = c.responses.create(model=f"{kind}-model", input="Weather in Paris and Lyon?",
                           tools=[WEATHER], tool_choice="auto", parallel_tool_calls=True)
    calls = [o for o in r.output if o.type == "function_call"]
    assert [json.loads(o.arguments) for o in calls] == [{"city": "Paris"}, {"city": "Lyon"}]
    assert all(o.name == "get_weather" and o.call_id for o in calls)
    follow = [{"role": "user", "content": "Weather in Paris and Lyon?"}] + [o.model_dump() for o in calls] + [
        {"type": "function_call_output", "call_id": o.call_id, "output": f"18C in {json.loads(o.arguments)['city']}"}
        for o in calls]
    r2 = c.responses.create(model=f"{kind}-model", input=follow, tools=[WEATHER])
    assert r2.output_text == "It is 18 degrees in Paris."
    results = tool_results(kind, sent(up))
    assert [text for _, text in results] == ["18C in Paris", "18C in Lyon"] or kind == "gemini"
    if kind == "gemini":
        assert len(results) == 2 and "18C in Paris" in results[0][1]
    else:
        assert [i for i, _ in results] == [o.call_id for o in calls]


def test_streamed_parallel_tool_calls_stay_apart(provider):
    kind, up, base = provider
    with client(base).responses.stream(model=f"{kind}-model", input="Weather?", tools=[WEATHER]) as s:
        events = list(s)
        final = s.get_final_response()
    calls = [o for o in final.output if o.type == "function_call"]
    assert [json.loads(o.arguments) for o in calls] == [{"city": "Paris"}, {"city": "Lyon"}]
    by_item = {}
    for e in events:
        if e.type == "response.function_call_arguments.delta":
            by_item.setdefault(e.output_index, "")
            by_item[e.output_index] += e.delta
    assert sorted(json.loads(v)["city"] for v in by_item.values()) == ["Lyon", "Paris"]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 2


def test_json_schema_and_images_reach_the_upstream(provider):
    kind, up, base = provider
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
              "additionalProperties": False}
    client(base).responses.create(
        model=f"{kind}-model",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                            {"type": "input_image", "image_url": PIXEL}]}],
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True}})
    req = sent(up)
    if kind == "openai":
        assert req["response_format"]["json_schema"]["schema"] == schema
        assert req["messages"][0]["content"][1]["image_url"]["url"] == PIXEL
    elif kind == "anthropic":
        assert any(t.get("input_schema", {}).get("properties") == schema["properties"] for t in req["tools"])
        image = req["messages"][0]["content"][1]
        assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    else:
        assert req["generationConfig"]["responseMimeType"] == "application/json"
        assert req["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "image/png"


def test_previous_response_id_continues_and_store_false_is_not_kept(provider):
    kind, up, base = provider
    c = client(base)
    first = c.responses.create(model=f"{kind}-model", input="My name is Ada.")
    second = c.responses.create(model=f"{kind}-model", input="Who am I?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    history = json.dumps(sent(up))
    assert "My name is Ada." in history and "Hello from the upstream!" in history and "Who am I?" in history
    assert c.responses.retrieve(second.id).output_text == second.output_text
    unkept = c.responses.create(model=f"{kind}-model", input="x", store=False)
    before = len(up.requests)
    with pytest.raises(openai.NotFoundError) as e:
        c.responses.create(model=f"{kind}-model", input="y", previous_response_id=unkept.id)
    assert e.value.body["param"] == "previous_response_id" and unkept.id in e.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        c.responses.retrieve(unkept.id)
    assert len(up.requests) == before, "nothing went upstream"


def test_codex_style_requests_are_served_without_an_upstream_error(provider):
    """What Codex CLI sends: developer messages, `store: false`, encrypted
    reasoning asked for, a prompt cache key, built-in and namespace tools."""
    kind, up, base = provider
    raw = client(base).responses.with_raw_response.create(
        model=f"{kind}-model", stream=False, store=False, include=["reasoning.encrypted_content"],
        prompt_cache_key="session-1", reasoning={"summary": "auto"}, parallel_tool_calls=True,
        input=[{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]},
               {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
        tools=[WEATHER, {"type": "web_search"}],
        extra_body={"client_metadata": {"turn_id": "t1"}})
    assert [o.type for o in raw.parse().output] == ["function_call", "function_call"]
    dropped = raw.headers["x-gateway-dropped-params"]
    assert "tools[web_search]" in dropped and "client_metadata" in dropped
    req = sent(up)
    assert "web_search" not in json.dumps(req)
    assert ("prompt_cache_key" in req) == (kind == "openai")


def test_errors_raise_the_sdk_exceptions():
    with running_gateway(config()) as base:
        with pytest.raises(openai.NotFoundError) as e:
            client(base).responses.create(model="nope", input="x")
        assert e.value.body["code"] == "model_not_found"
        with pytest.raises(openai.AuthenticationError):
            client(base, key="sk-wrong").responses.create(model="demo", input="x")
        with pytest.raises(openai.BadRequestError) as e:
            client(base).responses.create(model="demo", input=[{"type": "item_reference", "id": "x"}])
        assert e.value.body["param"] == "input[0]"


@pytest.mark.parametrize("kind", KINDS)
def test_an_upstream_cut_mid_stream_ends_in_response_failed(kind):
    up = cut_upstream(kind)
    with running_gateway(config([(kind, kind, up.url + BASE_PATH[kind])])) as base:
        with client(base).responses.stream(model=f"{kind}-model", input="Hi") as s:
            events = list(s)
    up.close()
    types = [e.type for e in events]
    assert "response.output_text.delta" in types and "response.completed" not in types
    assert types[-1] == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message
