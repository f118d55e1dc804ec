"""Codex CLI (`@openai/codex` from npm) through the gateway's `/v1/responses`
(`wire_api = "responses"`), in headless `codex exec` mode, for every
provider type: a text answer, and a turn where the model asks for Codex's
shell tool (`exec_command`), Codex runs it, and its output reaches the
upstream as that provider's tool result.

Codex is installed with npm into `.venv/codex` (reused when the pinned
version is already there); the test is skipped when npm is not installed.
It runs with a fresh CODEX_HOME whose only model provider is the gateway,
with approvals off and no sandbox, so it runs the shell tool without
asking."""

import json
import os
import pathlib
import subprocess
import tempfile

import pytest

from harness import ROOT, config, npm_package, running_gateway
from wire import BASE_PATH, Calls, Text, scripted, sent, tool_results

# Pinned like the Python packages; CODEX_VERSION=latest (or another) to try
# a different one. 0.171.0 is the release that refuses `wire_api = "chat"`.
VERSION = os.environ.get("CODEX_VERSION", "0.171.0")
PACKAGE = "@openai/codex"
INSTALL_DIR = ROOT / ".venv" / "codex"

WORD = "quokkamarmalade"
# The shell computes the marker, so it is in the tool result only if Codex
# really ran the command.
COMMAND = "echo shell-$((6*7))-ran"
MARKER = "shell-42-ran"


@pytest.fixture(scope="session")
def codex():
    """The command that runs Codex, installed on first use."""
    npm_package(INSTALL_DIR, PACKAGE, VERSION)
    cmd = [str(INSTALL_DIR / "node_modules" / ".bin" / "codex")]
    r = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0 or "codex" not in r.stdout:
        pytest.skip(f"Codex is installed but does not run here:\n{r.stdout}{r.stderr}")
    return cmd


def run_codex(codex, base, model, prompt):
    """Runs `codex exec` against the gateway; returns (process, last message)."""
    with tempfile.TemporaryDirectory() as tmp:
        home = pathlib.Path(tmp) / "codex-home"
        work = pathlib.Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        (home / "config.toml").write_text(f"""
model = "{model}"
model_provider = "gateway"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.gateway]
name = "llm-gateway"
base_url = "{base}/v1"
wire_api = "responses"
env_key = "GATEWAY_KEY"
""")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(home),
               "TMPDIR": tmp, "LANG": "C.UTF-8", "GATEWAY_KEY": "sk-e2e"}
        last = pathlib.Path(tmp) / "last.txt"
        cmd = codex + ["exec", "--skip-git-repo-check", "--ephemeral", "-o", str(last), prompt]
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"codex exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        return r, last.read_text()


def test_codex_answers_through_the_mock_provider(codex):
    with running_gateway(config()) as base:
        _, answer = run_codex(codex, base, "demo", f"Please say {WORD}")
    assert WORD in answer


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_codex_text_and_shell_tool_turns_through_each_provider_type(codex, kind):
    def script(req):
        results = tool_results(kind, req)
        if results:
            return Text(f"The command printed {WORD}.")
        if "run the command" in json.dumps(req):
            return Calls([("call_sh_1", "exec_command", json.dumps({"cmd": COMMAND}))])
        return Text(f"Hello, {WORD}!")

    up = scripted(kind, script)
    try:
        with running_gateway(config([(kind, kind, up.url + BASE_PATH[kind])])) as base:
            _, answer = run_codex(codex, base, f"{kind}-model", "Say hello.")
            assert f"Hello, {WORD}!" in answer
            first = sent(up)
            # Codex's own request arrived converted: its function tools kept,
            # its built-in tools and the gateway's own fields not sent.
            assert "exec_command" in json.dumps(first) and "web_search" not in json.dumps(first)
            gateway_only = {"input", "instructions", "include", "store", "client_metadata", "reasoning"}
            assert not gateway_only & set(first), set(first)
            assert ("prompt_cache_key" in first) == (kind == "openai")

            asked = len(up.requests)
            _, answer = run_codex(codex, base, f"{kind}-model", "Please run the command now.")
            assert f"The command printed {WORD}." in answer
    finally:
        up.close()
    turn = up.requests[asked:]
    assert len(turn) == 2, [r["path"] for r in turn]
    results = tool_results(kind, json.loads(turn[1]["body"]))
    assert len(results) == 1 and MARKER in results[0][1], results
    if kind != "gemini":
        assert results[0][0] == "call_sh_1"
