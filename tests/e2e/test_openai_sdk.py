"""The official `openai` Python SDK against the gateway."""

import json

import openai
import pytest

from harness import MockUpstream, config, fixture, running_gateway, sse_events_with_blank


def client(base):
    return openai.OpenAI(base_url=base + "/v1", api_key="sk-e2e", max_retries=0)


def test_create_and_stream_against_the_mock_provider():
    with running_gateway(config()) as base:
        c = client(base)
        r = c.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "hello from the sdk"}]
        )
        assert r.choices[0].message.content == "hello from the sdk"
        assert r.usage.completion_tokens == 4

        stream = c.chat.completions.create(
            model="demo",
            messages=[{"role": "user", "content": "stream these words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == "stream these words"
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 6

        models = [m.id for m in c.models.list()]
        assert models == ["demo"]


def test_create_and_stream_through_a_mock_openai_upstream(openai_upstream):
    with running_gateway(config([("openai", "oai", openai_upstream.url + "/v1")])) as base:
        c = client(base)
        r = c.chat.completions.create(
            model="oai-model",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"x_vendor": 1},
        )
        assert r.choices[0].message.content == "Hello! How can I assist you today?"
        assert r.usage.total_tokens == 29
        sent = json.loads(openai_upstream.requests[-1]["body"])
        assert sent["model"] == "upstream-oai" and sent["x_vendor"] == 1
        assert {k.lower(): v for k, v in openai_upstream.requests[-1]["headers"].items()}["authorization"] == "Bearer sk-upstream-oai"

        with c.chat.completions.stream(
            model="oai-model", messages=[{"role": "user", "content": "hi"}]
        ) as s:
            final = s.get_final_completion()
        assert final.choices[0].message.content == "Hello!"


def test_errors_raise_the_right_sdk_exceptions(openai_upstream):
    with running_gateway(config([("openai", "bad", openai_upstream.url + "/v1")])) as base:
        c = client(base)
        with pytest.raises(openai.NotFoundError) as e:
            c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        assert e.value.body["code"] == "model_not_found"
        with pytest.raises(openai.BadRequestError) as e:
            c.chat.completions.create(model="bad-model", messages=[{"role": "user", "content": "x"}])
        assert e.value.body["param"] == "temperature"
        bad_key = openai.OpenAI(base_url=base + "/v1", api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad_key.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    "kind,fixture_file",
    [("anthropic", "anthropic/stream_text_then_tool.sse"), ("gemini", "gemini/stream_protocols_4_6.sse")],
)
def test_streamed_tool_calls_reassemble_into_valid_json(kind, fixture_file):
    def respond(path, headers, body):
        return 200, {"content-type": "text/event-stream"}, sse_events_with_blank(fixture(fixture_file))

    up = MockUpstream(respond)
    try:
        with running_gateway(config([(kind, "up", up.url + "/v1")])) as base:
            c = client(base)
            tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
                "type": "object", "properties": {"city": {"type": "string"}}}}}]
            with c.chat.completions.stream(
                model="up-model", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools
            ) as s:
                final = s.get_final_completion()
            call = final.choices[0].message.tool_calls[0]
            assert call.function.name == "get_weather"
            assert json.loads(call.function.arguments) == {"city": "Paris"}
            assert final.choices[0].finish_reason == "tool_calls"
    finally:
        up.close()


def test_embeddings_create_through_the_mock_provider_and_an_openai_upstream():
    def respond(path, headers, body):
        assert path == "/v1/embeddings"
        return 200, {"content-type": "application/json"}, fixture("embeddings/openai_response.json").encode()

    up = MockUpstream(respond)
    try:
        with running_gateway(config([("openai", "emb", up.url + "/v1")])) as base:
            c = client(base)
            r = c.embeddings.create(model="demo", input=["alpha", "beta", "alpha"])
            vectors = [d.embedding for d in r.data]
            assert len(vectors) == 3 and vectors[0] == vectors[2] and vectors[0] != vectors[1]
            assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-4
            assert r.usage.prompt_tokens > 0

            # The SDK asks for base64 by default and decodes it itself.
            r = c.embeddings.create(model="emb-model", input="hello")
            expected = json.loads(fixture("embeddings/openai_response.json"))
            assert len(r.data) == len(expected["data"])
            sent = json.loads(up.requests[-1]["body"])
            assert sent["model"] == "upstream-emb" and sent["input"] == "hello"
    finally:
        up.close()


def test_cache_marks_reach_anthropic_as_breakpoints_and_cache_usage_comes_back():
    """LiteLLM's convention: `cache_control` on a content part or a message;
    the answer names the model asked for and reports cache reads and writes."""

    def respond(path, headers, body):
        if json.loads(body).get("stream"):
            return 200, {"content-type": "text/event-stream"}, sse_events_with_blank(
                fixture("anthropic/stream_usage_deltas.sse"))
        return 200, {"content-type": "application/json"}, fixture("anthropic/response_cache_usage.json").encode()

    up = MockUpstream(respond)
    try:
        with running_gateway(config([("anthropic", "ant", up.url + "/v1")])) as base:
            c = client(base)
            messages = [
                {"role": "system", "content": [
                    {"type": "text", "text": "A long contract.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
                {"role": "user", "content": "Where is the termination clause?", "cache_control": {"type": "ephemeral"}},
            ]
            r = c.chat.completions.create(model="ant-model", messages=messages, max_tokens=100)
            assert r.model == "ant-model"
            sent = json.loads(up.requests[-1]["body"])
            assert sent["system"] == [{"type": "text", "text": "A long contract.",
                                       "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
            assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
            # OpenAI's meaning: prompt_tokens includes cache reads and writes.
            assert r.usage.prompt_tokens == 21 + 9000 + 1200
            assert r.usage.prompt_tokens_details.cached_tokens == 9000
            assert r.usage.prompt_tokens_details.model_extra["cache_write_tokens"] == 1200

            stream = c.chat.completions.create(model="ant-model", messages=messages, max_tokens=100,
                                               stream=True, stream_options={"include_usage": True})
            chunks = list(stream)
            assert {ch.model for ch in chunks} == {"ant-model"}
            assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 9000
    finally:
        up.close()
