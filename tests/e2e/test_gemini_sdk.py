"""The official `google-genai` Python SDK against the gateway's Gemini API
(`/v1beta/models/{model}:generateContent`, `:streamGenerateContent`,
`:countTokens`, `GET /v1beta/models`), backed by every provider type: the
mock provider, and mock OpenAI and Anthropic upstreams (converted) and a
mock Gemini upstream (relayed), which answer in their real wire formats
(gemini_upstreams.py)."""

import base64
import json
import urllib.request

import pytest
from google import genai
from google.genai import errors, types

from gemini_upstreams import start_upstreams, upstream_config
from harness import config, running_gateway

MODELS = ["demo", "openai-model", "anthropic-model", "gemini-model"]
UPSTREAM = ["openai-model", "anthropic-model", "gemini-model"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather in a city.",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
)
TIME = types.FunctionDeclaration(
    name="get_time", description="The time in a city.",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)
NO_AUTO = types.AutomaticFunctionCallingConfig(disable=True)


@pytest.fixture(scope="module")
def gateway():
    ups = start_upstreams()
    try:
        with running_gateway(config(upstream_config(ups))) as base:
            yield base, ups
    finally:
        for up in ups.values():
            up.close()


CLIENTS = []


def client(base, key="sk-e2e"):
    """A client on the gateway (kept alive: a collected client closes its
    connection pool under the calls it made)."""
    c = genai.Client(api_key=key, http_options=types.HttpOptions(
        base_url=base, retry_options=types.HttpRetryOptions(attempts=1)))
    CLIENTS.append(c)
    return c


def last_request(ups, model):
    kind = model.split("-")[0]
    return ups[kind].requests[-1]


@pytest.mark.parametrize("model", MODELS)
def test_generate_content_maps_roles_config_and_system_instruction(gateway, model):
    base, ups = gateway
    r = client(base).models.generate_content(
        model=model,
        contents=[
            types.Content(role="user", parts=[types.Part(text="Hi")]),
            types.Content(role="model", parts=[types.Part(text="Hello.")]),
            types.Content(role="user", parts=[types.Part(text="Say wombat")]),
        ],
        config=types.GenerateContentConfig(
            system_instruction="You are terse.", temperature=0.25, max_output_tokens=99,
            stop_sequences=["STOP"], safety_settings=[types.SafetySetting(
                category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_NONE")]),
    )
    assert "Say wombat" in r.text
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata.total_token_count > 0
    if model == "demo":
        return
    sent = json.loads(last_request(ups, model)["body"])
    if model == "openai-model":
        assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
        assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
        assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.25, 99, ["STOP"])
        assert r.model_version == model
    elif model == "anthropic-model":
        assert sent["system"][0]["text"] == "You are terse."
        assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
        assert (sent["temperature"], sent["max_tokens"], sent["stop_sequences"]) == (0.25, 99, ["STOP"])
    else:
        assert last_request(ups, model)["path"].startswith("/v1beta/models/upstream-gemini:generateContent")
        assert sent["systemInstruction"]["parts"][0]["text"] == "You are terse."
        assert sent["generationConfig"]["temperature"] == 0.25
        assert sent["safetySettings"][0]["threshold"] == "BLOCK_NONE"


@pytest.mark.parametrize("model", MODELS)
def test_generate_content_stream_joins_to_the_answer_with_one_finish_and_usage_last(gateway, model):
    base, _ = gateway
    chunks = list(client(base).models.generate_content_stream(model=model, contents="Say the word numbat please"))
    assert len(chunks) > 1
    text = "".join(c.text or "" for c in chunks)
    assert "numbat please" in text, text
    finishes = [c for c in chunks if c.candidates and c.candidates[0].finish_reason]
    assert finishes == [chunks[-1]]
    assert chunks[-1].usage_metadata.total_token_count > 0


@pytest.mark.parametrize("model", UPSTREAM)
def test_function_calling_round_trip_pairs_the_result_with_its_call(gateway, model):
    base, ups = gateway
    c = client(base)
    cfg = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                      automatic_function_calling=NO_AUTO)
    question = types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])
    r = c.models.generate_content(model=model, contents=[question], config=cfg)
    call = r.function_calls[0]
    assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
    answer = types.Content(role="user", parts=[
        types.Part.from_function_response(name="get_weather", response={"output": "18C and sunny"})])
    r2 = c.models.generate_content(model=model, contents=[question, r.candidates[0].content, answer], config=cfg)
    assert r2.text == "RESULT: 18C and sunny"
    sent = json.loads(last_request(ups, model)["body"])
    if model == "openai-model":
        assert sent["messages"][2]["tool_call_id"] == sent["messages"][1]["tool_calls"][0]["id"] == call.id
        assert sent["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
    elif model == "anthropic-model":
        use, result = sent["messages"][1]["content"][0], sent["messages"][2]["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"] == call.id
    else:
        # Relayed: the model turn comes back with Gemini's thought signature.
        assert sent["contents"][1]["parts"][0]["thoughtSignature"] == "c2lnbmF0dXJl"
        assert sent["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"


@pytest.mark.parametrize("model", UPSTREAM)
def test_mode_any_with_allowed_names_forces_that_tool(gateway, model):
    base, _ = gateway
    r = client(base).models.generate_content(
        model=model, contents="What time is it in Paris?",
        config=types.GenerateContentConfig(
            tools=[types.Tool(function_declarations=[WEATHER, TIME])], automatic_function_calling=NO_AUTO,
            tool_config=types.ToolConfig(function_calling_config=types.FunctionCallingConfig(
                mode="ANY", allowed_function_names=["get_time"]))))
    assert r.function_calls[0].name == "get_time"


@pytest.mark.parametrize("model", UPSTREAM)
def test_json_with_a_response_schema_reaches_the_provider(gateway, model):
    base, ups = gateway
    client(base).models.generate_content(
        model=model, contents="A city, as JSON",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=types.Schema(type="OBJECT", properties={"name": types.Schema(type="STRING")})))
    sent = json.loads(last_request(ups, model)["body"])
    if model == "openai-model":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"]["properties"]["name"]["type"] == "string"
    elif model == "anthropic-model":
        assert "name" in json.dumps(sent), sent
    else:
        assert sent["generationConfig"]["responseMimeType"] == "application/json"


@pytest.mark.parametrize("model", UPSTREAM)
def test_an_inline_image_reaches_the_provider(gateway, model):
    base, ups = gateway
    client(base).models.generate_content(
        model=model, contents=["What is this?", types.Part.from_bytes(data=PNG, mime_type="image/png")])
    sent = json.loads(last_request(ups, model)["body"])
    b64 = base64.b64encode(PNG).decode()
    if model == "openai-model":
        assert sent["messages"][0]["content"][1]["image_url"]["url"] == f"data:image/png;base64,{b64}"
    elif model == "anthropic-model":
        image = sent["messages"][0]["content"][1]
        assert image["type"] == "image" and image["source"]["data"] == b64
    else:
        assert sent["contents"][0]["parts"][1]["inlineData"]["data"] == b64


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(gateway, model):
    base, _ = gateway
    r = client(base).models.count_tokens(model=model, contents="Hello there, how are you today?")
    if model == "gemini-model":
        assert r.total_tokens == 42  # the upstream's own count, relayed
    else:
        assert r.total_tokens == 12  # the documented estimate


def test_models_list_and_get(gateway):
    base, _ = gateway
    c = client(base)
    names = sorted(m.name for m in c.models.list())
    assert names == sorted(f"models/{m}" for m in MODELS)
    m = c.models.get(model="gemini-model")
    assert m.name == "models/gemini-model"
    assert "generateContent" in m.supported_actions
    assert m.input_token_limit > 0 and m.output_token_limit > 0


def test_errors_have_geminis_shape(gateway):
    base, _ = gateway
    with pytest.raises(errors.ClientError) as e:
        client(base).models.generate_content(model="no-such-model", contents="hi")
    assert (e.value.code, e.value.status) == (404, "NOT_FOUND")
    with pytest.raises(errors.ClientError) as e:
        client(base, key="sk-wrong").models.generate_content(model="demo", contents="hi")
    assert (e.value.code, e.value.status) == (401, "UNAUTHENTICATED")
    with pytest.raises(errors.ClientError) as e:
        client(base).models.generate_content(model="openai-model", contents=[types.Part.from_uri(
            file_uri="https://generativelanguage.googleapis.com/v1beta/files/x", mime_type="application/pdf")])
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
    assert "inlineData" in e.value.message


def raw_stream(base, model, query):
    req = urllib.request.Request(
        f"{base}/v1beta/models/{model}:streamGenerateContent{query}",
        data=json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say the word quoll"}]}]}).encode(),
        headers={"x-goog-api-key": "sk-e2e", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["content-type"], r.read().decode()


@pytest.mark.parametrize("model", MODELS)
def test_raw_sse_and_json_array_streams(gateway, model):
    base, _ = gateway
    kind, text = raw_stream(base, model, "?alt=sse")
    assert kind == "text/event-stream"
    events = [json.loads(e[len("data: "):]) for e in text.split("\n\n") if e.strip()]
    assert "[DONE]" not in text
    kind, text = raw_stream(base, model, "")
    assert kind == "application/json"
    array = json.loads(text)
    for evs in (events, array):
        joined = "".join(p.get("text", "") for e in evs for p in e["candidates"][0]["content"]["parts"])
        assert "Say the word quoll" in joined
        assert evs[-1]["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("model", ["demo", "openai-model", "gemini-model"])
def test_embed_content(gateway, model):
    base, ups = gateway
    r = client(base).models.embed_content(
        model=model, contents=["Hello world", "Goodbye"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=2))
    assert [len(e.values) for e in r.embeddings] == [2, 2]
    if model == "demo":
        return
    assert [e.values for e in r.embeddings] == [[0.5, 0.0], [0.5, 1.0]]
    sent = json.loads(last_request(ups, model)["body"])
    if model == "openai-model":
        assert sent["input"] == ["Hello world", "Goodbye"] and sent["dimensions"] == 2
    else:
        assert last_request(ups, model)["path"] == "/v1beta/models/upstream-gemini:batchEmbedContents"
        assert sent["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"
        assert sent["requests"][1]["content"]["parts"][0]["text"] == "Goodbye"


def test_embed_content_on_a_provider_without_embeddings_is_a_400(gateway):
    base, _ = gateway
    with pytest.raises(errors.ClientError) as e:
        client(base).models.embed_content(model="anthropic-model", contents="Hello")
    assert (e.value.code, e.value.status) == (400, "INVALID_ARGUMENT")
