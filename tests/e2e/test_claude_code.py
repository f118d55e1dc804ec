"""Claude Code (`@anthropic-ai/claude-code` from npm) completes a prompt
through the gateway's `/v1/messages`, against the mock provider, in
non-interactive `-p` mode with non-essential traffic disabled.

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

from harness import ROOT, config, running_gateway

# Pinned like the Python packages; CLAUDE_CODE_VERSION=latest (or another
# version) to try a different one. 2.1.197 is the newest release whose
# package accepts Node 20 (later ones require Node >= 22).
VERSION = os.environ.get("CLAUDE_CODE_VERSION", "2.1.197")
PACKAGE = "@anthropic-ai/claude-code"
INSTALL_DIR = ROOT / ".venv" / "claude-code"

# A word Claude Code would not make up: the mock echoes the prompt back.
WORD = "quokkamarmalade"


def installed_version():
    try:
        manifest = INSTALL_DIR / "node_modules" / PACKAGE / "package.json"
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def runs(cmd):
    """(ok, output) of `cmd --version`."""
    try:
        with tempfile.TemporaryDirectory() as home:
            r = subprocess.run(
                cmd + ["--version"], capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL, env={"PATH": os.environ.get("PATH", ""), "HOME": home},
            )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return r.returncode == 0 and "Claude Code" in r.stdout, (r.stdout + r.stderr).strip()


@pytest.fixture(scope="session")
def claude():
    """The command that runs Claude Code, installed on first use."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("npm/node not installed: Claude Code (@anthropic-ai/claude-code) is installed with npm")
    current = installed_version()
    if current is None or (VERSION != "latest" and current != VERSION):
        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        cmd = [npm, "install", "--prefix", str(INSTALL_DIR), "--no-audit", "--no-fund",
               "--loglevel", "error", f"{PACKAGE}@{VERSION}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            pytest.fail(f"`{' '.join(cmd)}` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    package = INSTALL_DIR / "node_modules" / PACKAGE
    candidates = [
        [str(INSTALL_DIR / "node_modules" / ".bin" / "claude")],
        # The package's own fallback when npm did not run its postinstall
        # (which puts the native binary in place of bin/claude.exe).
        [shutil.which("node"), str(package / "cli-wrapper.cjs")],
    ]
    outputs = []
    for cmd in candidates:
        ok, out = runs(cmd)
        if ok:
            return cmd
        outputs.append(f"$ {' '.join(cmd)} --version\n{out}")
    pytest.skip("Claude Code is installed but does not run here:\n" + "\n".join(outputs))


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
        # A clean environment: nothing from the developer's own Claude Code
        # setup (ANTHROPIC_AUTH_TOKEN, settings in the real HOME) leaks in.
        env = {
            "PATH": os.environ.get("PATH", ""),
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
            "ANTHROPIC_MODEL": "demo",
            "ANTHROPIC_SMALL_FAST_MODEL": "demo-fast",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "demo-fast",
        }
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
