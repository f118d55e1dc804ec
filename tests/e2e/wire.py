"""Scripted mock providers for the Responses tests: answers in each
provider's real wire format (OpenAI chat completions, Anthropic Messages,
Gemini generateContent), whole or streamed, made from a script that sees the
request: `script(kind, req) -> Text(...) | Calls(...)`. What reached the
upstream is read back in that provider's terms (`tool_results`)."""

import json
from dataclasses import dataclass, field

from harness import MockUpstream

JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}
USAGE = (21, 4)  # input, output tokens every scripted answer reports


@dataclass
class Text:
    text: str


@dataclass
class Calls:
    # (call id, name, arguments JSON string); streamed interleaved when several.
    calls: list = field(default_factory=list)


def _sse(events):
    return ["".join(f"{line}\n" for line in e) + "\n" for e in events]


def _pieces(s, n=3):
    size = max(1, len(s) // n)
    return [s[i:i + size] for i in range(0, len(s), size)] or [""]


# --------------------------------------------------------------- OpenAI

def _openai_chunk(delta=None, finish=None, usage=None):
    c = {"id": "chatcmpl-wire", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "upstream", "choices": [] if usage else [
             {"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    if usage:
        c["usage"] = {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1],
                      "total_tokens": sum(USAGE)}
    return [f"data: {json.dumps(c)}"]


def openai_answer(answer, stream):
    if not stream:
        msg = {"role": "assistant", "content": None}
        if isinstance(answer, Text):
            msg["content"] = answer.text
            finish = "stop"
        else:
            msg["tool_calls"] = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                                 for i, n, a in answer.calls]
            finish = "tool_calls"
        body = {"id": "chatcmpl-wire", "object": "chat.completion", "created": 1700000000,
                "model": "upstream", "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": {"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1],
                          "total_tokens": sum(USAGE)}}
        return 200, JSON, json.dumps(body).encode()
    events = [_openai_chunk({"role": "assistant", "content": ""})]
    if isinstance(answer, Text):
        events += [_openai_chunk({"content": p}) for p in _pieces(answer.text)]
        finish = "stop"
    else:
        for k, (i, n, _) in enumerate(answer.calls):
            events.append(_openai_chunk({"tool_calls": [
                {"index": k, "id": i, "type": "function", "function": {"name": n, "arguments": ""}}]}))
        pieces = [_pieces(a) for _, _, a in answer.calls]
        for step in range(max(len(p) for p in pieces)):
            for k, p in enumerate(pieces):
                if step < len(p):
                    events.append(_openai_chunk({"tool_calls": [
                        {"index": k, "function": {"arguments": p[step]}}]}))
        finish = "tool_calls"
    events += [_openai_chunk(finish=finish), _openai_chunk(usage=True), ["data: [DONE]"]]
    return 200, SSE, _sse(events)


# ------------------------------------------------------------ Anthropic

def anthropic_answer(answer, stream):
    if isinstance(answer, Text):
        blocks, stop = [{"type": "text", "text": answer.text}], "end_turn"
    else:
        blocks = [{"type": "tool_use", "id": i, "name": n, "input": json.loads(a)}
                  for i, n, a in answer.calls]
        stop = "tool_use"
    usage = {"input_tokens": USAGE[0], "output_tokens": USAGE[1]}
    if not stream:
        body = {"id": "msg_wire", "type": "message", "role": "assistant", "model": "upstream",
                "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
        return 200, JSON, json.dumps(body).encode()

    def ev(name, data):
        return [f"event: {name}", f"data: {json.dumps(dict(type=name, **data))}"]

    events = [ev("message_start", {"message": {
        "id": "msg_wire", "type": "message", "role": "assistant", "model": "upstream", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": USAGE[0], "output_tokens": 1}}})]
    for k, b in enumerate(blocks):
        if b["type"] == "text":
            events.append(ev("content_block_start", {"index": k, "content_block": {"type": "text", "text": ""}}))
            events += [ev("content_block_delta", {"index": k, "delta": {"type": "text_delta", "text": p}})
                       for p in _pieces(b["text"])]
        else:
            shell = dict(b, input={})
            events.append(ev("content_block_start", {"index": k, "content_block": shell}))
            events += [ev("content_block_delta", {"index": k, "delta": {
                "type": "input_json_delta", "partial_json": p}}) for p in _pieces(json.dumps(b["input"]))]
        events.append(ev("content_block_stop", {"index": k}))
    events += [ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"output_tokens": USAGE[1]}}),
               ev("message_stop", {})]
    return 200, SSE, _sse(events)


# --------------------------------------------------------------- Gemini

def gemini_answer(answer, stream):
    if isinstance(answer, Text):
        parts = [{"text": p} for p in (_pieces(answer.text) if stream else [answer.text])]
    else:
        parts = [{"functionCall": {"name": n, "args": json.loads(a)}} for _, n, a in answer.calls]
    usage = {"promptTokenCount": USAGE[0], "candidatesTokenCount": USAGE[1],
             "totalTokenCount": sum(USAGE)}

    def candidate(ps, finish=None):
        c = {"content": {"parts": ps, "role": "model"}, "index": 0}
        if finish:
            c["finishReason"] = finish
        return {"candidates": [c], "usageMetadata": usage, "modelVersion": "upstream"}

    if not stream:
        return 200, JSON, json.dumps(candidate(parts, "STOP")).encode()
    events = [[f"data: {json.dumps(candidate([p]))}"] for p in parts[:-1]]
    events.append([f"data: {json.dumps(candidate(parts[-1:], 'STOP'))}"])
    return 200, SSE, _sse(events)


ANSWER = {"openai": openai_answer, "anthropic": anthropic_answer, "gemini": gemini_answer}
BASE_PATH = {"openai": "/v1", "anthropic": "/v1", "gemini": "/v1beta"}


def tool_results(kind, req):
    """The tool results in an upstream request, as (call id or name, text)."""
    out = []
    if kind == "openai":
        for m in req["messages"]:
            if m["role"] == "tool":
                c = m["content"]
                out.append((m["tool_call_id"], c if isinstance(c, str) else "".join(p.get("text", "") for p in c)))
    elif kind == "anthropic":
        for m in req["messages"]:
            for b in m["content"] if isinstance(m["content"], list) else []:
                if b.get("type") == "tool_result":
                    c = b.get("content")
                    text = c if isinstance(c, str) else "".join(p.get("text", "") for p in c or [])
                    out.append((b["tool_use_id"], text))
    else:
        for c in req["contents"]:
            for p in c["parts"]:
                if "functionResponse" in p:
                    out.append((p["functionResponse"]["name"], json.dumps(p["functionResponse"]["response"])))
    return out


def scripted(kind, script):
    """A mock upstream of provider type `kind` answering by `script(req)`."""

    def respond(path, headers, body):
        req = json.loads(body)
        stream = req.get("stream", False) or ":streamGenerateContent" in path
        return ANSWER[kind](script(req), stream)

    return MockUpstream(respond)


def sent(up, index=-1):
    return json.loads(up.requests[index]["body"])
