"""The real Gemini CLI (`@google/gemini-cli` from npm) in headless `-p` mode
through the gateway's Gemini API, for every provider type: a text answer,
and a turn where the model asks the CLI to read a file and the file's
content reaches the upstream.

The CLI is installed with npm into `.venv/gemini-cli` (reused when the
pinned version is already there); the test is skipped when npm is not
installed. It runs with API-key auth (`GEMINI_API_KEY` = a gateway key),
`GOOGLE_GEMINI_BASE_URL` at the gateway, a temporary HOME whose settings
turn off folder trust prompts, telemetry, usage statistics and updates. The
upstream mocks (gemini_upstreams.py) answer `READ <path>` with a
`read_file` call and a tool result with `RESULT: <result>`."""

import json
import os
import pathlib
import subprocess
import tempfile

import pytest

from gemini_upstreams import start_upstreams, upstream_config
from harness import ROOT, config, npm_package, running_gateway

# Pinned like the Python packages; GEMINI_CLI_VERSION=latest to try another.
# 0.61.0 runs on Node 20 (its engines field asks for >= 20).
VERSION = os.environ.get("GEMINI_CLI_VERSION", "0.61.0")
PACKAGE = "@google/gemini-cli"
INSTALL_DIR = ROOT / ".venv" / "gemini-cli"

SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
}
PROVIDERS = ["demo", "openai-model", "anthropic-model", "gemini-model"]


@pytest.fixture(scope="session")
def gemini():
    """The command that runs Gemini CLI, installed on first use."""
    npm_package(INSTALL_DIR, PACKAGE, VERSION)
    return [str(INSTALL_DIR / "node_modules" / ".bin" / "gemini")]


@pytest.fixture(scope="module")
def gateway():
    ups = start_upstreams()
    try:
        with running_gateway(config(upstream_config(ups))) as base:
            yield base, ups
    finally:
        for up in ups.values():
            up.close()


def run_cli(gemini, base, model, prompt, work):
    """Runs `gemini -p prompt` in `work`; returns its JSON result."""
    home = work.parent / "home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "TMPDIR": str(work.parent),
        "LANG": "C.UTF-8",
        "GEMINI_API_KEY": "sk-e2e",
        "GOOGLE_GEMINI_BASE_URL": base,
        "GEMINI_CLI_NO_RELAUNCH": "1",
    }
    cmd = gemini + ["-p", prompt, "-m", model, "--output-format", "json", "--approval-mode", "yolo"]
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"gemini exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(r.stdout)


def gemini_requests(up):
    return [r for r in up.requests if r["path"].startswith("/v1")]


@pytest.mark.parametrize("model", PROVIDERS)
def test_gemini_cli_answers_a_prompt(gemini, gateway, model):
    base, ups = gateway
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp) / "work"
        work.mkdir()
        result = run_cli(gemini, base, model, "Please say the word quokkamarmalade.", work)
    assert "quokkamarmalade" in result["response"], result
    assert model in result["stats"]["models"], result["stats"]
    if model != "demo":
        kind = model.split("-")[0]
        sent = json.loads(ups[kind].requests[-1]["body"])
        # Gemini CLI's tools are declared with parametersJsonSchema; they
        # reached the upstream as its own tools.
        if kind == "openai":
            assert any(t["function"]["name"] == "read_file" for t in sent["tools"])
        elif kind == "anthropic":
            assert any(t["name"] == "read_file" for t in sent["tools"])
        else:
            names = [f["name"] for t in sent["tools"] for f in t["functionDeclarations"]]
            assert "read_file" in names


@pytest.mark.parametrize("model", PROVIDERS[1:])
def test_gemini_cli_reads_a_file_the_model_asks_for(gemini, gateway, model):
    base, ups = gateway
    kind = model.split("-")[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp) / "work"
        work.mkdir()
        notes = work / "notes.txt"
        notes.write_text("The secret is wallaby-42.\n")
        result = run_cli(gemini, base, model, f"READ {notes}", work)
    assert "wallaby-42" in result["response"], result
    assert result["stats"]["tools"]["byName"]["read_file"]["success"] >= 1, result["stats"]["tools"]
    # The file's content reached the upstream as a tool result.
    last = ups[kind].requests[-1]["body"].decode()
    assert "wallaby-42" in last
    sent = json.loads(last)
    if kind == "openai":
        assert sent["messages"][-1]["role"] == "tool"
    elif kind == "anthropic":
        assert sent["messages"][-1]["content"][0]["type"] == "tool_result"
    else:
        assert "functionResponse" in sent["contents"][-1]["parts"][0]
