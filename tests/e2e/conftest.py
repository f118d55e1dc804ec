"""Fixtures of the end-to-end tests (the harness is in harness.py)."""

import json

import pytest

from harness import MockUpstream, fixture, sse_events_with_blank


@pytest.fixture
def openai_upstream():
    """A mock OpenAI upstream serving the recorded fixtures."""

    def respond(path, headers, body):
        req = json.loads(body)
        if req.get("model") == "upstream-bad":
            return 400, {"content-type": "application/json"}, fixture("openai/error_400.json").encode()
        if req.get("stream"):
            return 200, {"content-type": "text/event-stream"}, sse_events_with_blank(
                fixture("openai/chat_stream.sse")
            )
        return 200, {"content-type": "application/json"}, fixture("openai/chat_completion.json").encode()

    up = MockUpstream(respond)
    yield up
    up.close()
