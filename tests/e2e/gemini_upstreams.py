"""Mock OpenAI, Anthropic and Gemini upstreams for the Gemini-caller tests
(google-genai, Gemini CLI): each answers in its provider's real wire format,
whole or streamed, and plays a small model:

* when the caller's tools include `read_file` and the prompt asks for a
  file (`READ <path>`), it calls `read_file` with that path;
* when the last turn carries a tool result, it answers `RESULT: <result>`;
* when tools are offered and the prompt is a question (or a tool is
  forced), it calls the first one with `{"city": "Paris"}`;
* else it answers `ECHO: <last user text>`.
"""

import json
import re

from harness import MockUpstream

JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}
USAGE = {"input": 11, "output": 7}


def _decide(last_text, tool_names, tool_result, forced=False):
    """('text', str) or ('call', name, args)."""
    if tool_result is not None:
        return ("text", f"RESULT: {tool_result}")
    m = re.search(r"READ (\S+)", last_text or "")
    if m and "read_file" in tool_names:
        return ("call", "read_file", {"file_path": m.group(1)})
    if tool_names and (forced or (last_text or "").rstrip().endswith("?")):
        return ("call", tool_names[0], {"city": "Paris"})
    return ("text", f"ECHO: {last_text}")


def _text_of(content):
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


def _sse(events):
    return [f"data: {json.dumps(e)}\n\n" for e in events]


# ------------------------------------------------------------------ OpenAI

def openai_decide(req):
    msgs = req["messages"]
    last = msgs[-1]
    result = _text_of(last.get("content")) if last["role"] == "tool" else None
    user = next((m for m in reversed(msgs) if m["role"] == "user"), {})
    names = [t["function"]["name"] for t in req.get("tools") or []]
    forced = req.get("tool_choice")
    if isinstance(forced, dict):
        names = [forced["function"]["name"]]
    return _decide(_text_of(user.get("content")), names, result, forced in ("required",) or isinstance(forced, dict))


def openai_responder(path, headers, body):
    req = json.loads(body)
    if path.endswith("/embeddings"):
        inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.5, float(i)]} for i in range(len(inputs))]
        return 200, JSON, json.dumps({"object": "list", "data": data, "model": req["model"],
                                      "usage": {"prompt_tokens": 2, "total_tokens": 2}}).encode()
    d = openai_decide(req)
    usage = {"prompt_tokens": USAGE["input"], "completion_tokens": USAGE["output"],
             "total_tokens": USAGE["input"] + USAGE["output"]}
    base = {"id": "chatcmpl-e2e", "object": "chat.completion.chunk", "created": 1, "model": req["model"]}
    if d[0] == "text":
        message = {"role": "assistant", "content": d[1]}
        finish = "stop"
    else:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_e2e_1", "type": "function",
             "function": {"name": d[1], "arguments": json.dumps(d[2])}}]}
        finish = "tool_calls"
    if not req.get("stream"):
        return 200, JSON, json.dumps({
            "id": "chatcmpl-e2e", "object": "chat.completion", "created": 1, "model": req["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage,
        }).encode()
    events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    if d[0] == "text":
        words = d[1].split(" ")
        for i, w in enumerate(words):
            piece = w if i == 0 else " " + w
            events.append(dict(base, choices=[{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
    else:
        args = json.dumps(d[2])
        events.append(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_e2e_1", "type": "function", "function": {"name": d[1], "arguments": ""}}]},
            "finish_reason": None}]))
        for piece in (args[: len(args) // 2], args[len(args) // 2:]):
            events.append(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": piece}}]}, "finish_reason": None}]))
    events.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
    events.append(dict(base, choices=[], usage=usage))
    return 200, SSE, _sse(events) + ["data: [DONE]\n\n"]


# --------------------------------------------------------------- Anthropic

def anthropic_decide(req):
    msgs = req["messages"]
    last = msgs[-1]
    result = None
    if isinstance(last["content"], list):
        for block in last["content"]:
            if block.get("type") == "tool_result":
                c = block.get("content")
                result = _text_of(c) if not isinstance(c, str) else c
    user_texts = [m for m in msgs if m["role"] == "user"]
    text = ""
    for m in reversed(user_texts):
        text = _text_of(m["content"]) if not isinstance(m["content"], str) else m["content"]
        if text:
            break
    names = [t["name"] for t in req.get("tools") or []]
    choice = req.get("tool_choice") or {}
    if choice.get("type") == "tool":
        names = [choice["name"]]
    return _decide(text, names, result, choice.get("type") in ("tool", "any"))


def anthropic_responder(path, headers, body):
    req = json.loads(body)
    if path.endswith("/count_tokens"):
        return 200, JSON, b'{"input_tokens": 42}'
    d = anthropic_decide(req)
    usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"]}
    if d[0] == "text":
        block = {"type": "text", "text": d[1]}
        stop = "end_turn"
    else:
        block = {"type": "tool_use", "id": "toolu_e2e_1", "name": d[1], "input": d[2]}
        stop = "tool_use"
    if not req.get("stream"):
        return 200, JSON, json.dumps({
            "id": "msg_e2e", "type": "message", "role": "assistant", "model": req["model"],
            "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage,
        }).encode()
    events = [("message_start", {"type": "message_start", "message": {
        "id": "msg_e2e", "type": "message", "role": "assistant", "model": req["model"], "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": USAGE["input"], "output_tokens": 1}}})]
    if d[0] == "text":
        events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}}))
        for i, w in enumerate(d[1].split(" ")):
            piece = w if i == 0 else " " + w
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": piece}}))
    else:
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_e2e_1", "name": d[1], "input": {}}}))
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "input_json_delta", "partial_json": json.dumps(d[2])}}))
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": USAGE["output"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return 200, SSE, [f"event: {n}\ndata: {json.dumps(e)}\n\n" for n, e in events]


# ------------------------------------------------------------------ Gemini

def gemini_decide(req):
    contents = req["contents"]
    result = None
    for p in contents[-1].get("parts", []):
        if "functionResponse" in p:
            r = p["functionResponse"].get("response") or {}
            result = r.get("output") if isinstance(r.get("output"), str) else json.dumps(r)
    text = ""
    for c in reversed(contents):
        if c.get("role", "user") == "user":
            t = "".join(p.get("text", "") for p in c.get("parts", []))
            if t:
                text = t
                break
    names = [f["name"] for t in req.get("tools") or [] for f in t.get("functionDeclarations", [])]
    allowed = ((req.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("allowedFunctionNames")
    if allowed:
        names = [n for n in names if n in allowed]
    return _decide(text, names, result, bool(allowed))


def gemini_responder(path, headers, body):
    req = json.loads(body)
    if ":countTokens" in path:
        return 200, JSON, b'{"totalTokens": 42}'
    if ":batchEmbedContents" in path:
        embeddings = [{"values": [0.5, float(i)]} for i in range(len(req["requests"]))]
        return 200, JSON, json.dumps({"embeddings": embeddings}).encode()
    d = gemini_decide(req)
    usage = {"promptTokenCount": USAGE["input"], "candidatesTokenCount": USAGE["output"],
             "totalTokenCount": USAGE["input"] + USAGE["output"]}
    if d[0] == "text":
        parts = [{"text": d[1]}]
    else:
        parts = [{"functionCall": {"name": d[1], "args": d[2]}, "thoughtSignature": "c2lnbmF0dXJl"}]
    whole = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
             "usageMetadata": usage, "modelVersion": "gemini-upstream-001", "responseId": "resp-e2e"}
    if ":streamGenerateContent" not in path:
        return 200, JSON, json.dumps(whole).encode()
    events = []
    if d[0] == "text":
        words = d[1].split(" ")
        for i, w in enumerate(words[:-1]):
            piece = w if i == 0 else " " + w
            events.append({"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}],
                           "modelVersion": "gemini-upstream-001", "responseId": "resp-e2e"})
        last = (" " if len(words) > 1 else "") + words[-1]
        whole["candidates"][0]["content"]["parts"] = [{"text": last}]
    events.append(whole)
    return 200, SSE, _sse(events)


RESPONDERS = {"openai": openai_responder, "anthropic": anthropic_responder, "gemini": gemini_responder}
BASE_PATHS = {"openai": "/v1", "anthropic": "/v1", "gemini": "/v1beta"}


def start_upstreams():
    """{kind: MockUpstream} for the three provider types."""
    return {kind: MockUpstream(r) for kind, r in RESPONDERS.items()}


def upstream_config(ups):
    """(type, id, url) triples for `harness.config`: models `<kind>-model`."""
    return [(kind, kind, up.url + BASE_PATHS[kind]) for kind, up in ups.items()]
