"""Harness of the end-to-end tests with the official SDKs: the real gateway binary, started
as a user would, against the mock provider and mock upstreams that serve the
recorded fixtures in tests/fixtures."""

import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def fixture(path):
    return (FIXTURES / path).read_text()


def gateway_bin():
    path = os.environ.get("LLM_GATEWAY_BIN") or str(ROOT / "target" / "debug" / "llm-gateway")
    if not os.path.exists(path):
        pytest.fail(f"gateway binary not found at {path}: run `cargo build` first")
    return path


def npm_package(prefix, package, version, path=None):
    """Installs npm `package@version` into `prefix` unless it is there
    already (`latest`: whatever is installed; `22`: any 22.x), with the node and npm on
    `path` (default: PATH); skips the test when there is no npm."""
    path = os.environ.get("PATH", "") if path is None else path
    npm = shutil.which("npm", path=path)
    if npm is None or shutil.which("node", path=path) is None:
        pytest.skip(f"npm/node not installed: {package} is installed with npm")
    try:
        manifest = prefix / "node_modules" / package / "package.json"
        current = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        current = None
    if current is not None and (version == "latest" or current == version
                                or current.startswith(version + ".")):
        return
    prefix.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
           "--loglevel", "error", f"{package}@{version}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                       env={**os.environ, "PATH": path})
    if r.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockUpstream:
    """An HTTP server answering with `responder(method, path, headers, body)`
    -> (status, headers, body_bytes_or_list_of_chunks); records requests."""

    def __init__(self, responder):
        self.requests = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                mock.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, headers, payload = responder(self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(payload, list):
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for piece in payload:
                        data = piece.encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def sse_events(text):
    return [e for e in text.split("\n\n") if e.strip()]


@contextlib.contextmanager
def running_gateway(config_text):
    """Starts the binary on a free port with `config_text`; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = pathlib.Path(tmp) / "config.toml"
        cfg.write_text(config_text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_GATEWAY")}
        env["LLM_GATEWAY__SERVER__PORT"] = str(port)
        env["LLM_GATEWAY__SERVER__HOST"] = "127.0.0.1"
        log = open(pathlib.Path(tmp) / "gateway.log", "w")
        proc = subprocess.Popen(
            [gateway_bin(), "--config", str(cfg)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, "gateway exited early"
                try:
                    with urllib.request.urlopen(base + "/ready", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "gateway did not become ready"
                time.sleep(0.02)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()


def config(upstreams=None, extra=""):
    """Keys sk-e2e (name e2e); model `demo` on the mock provider; for each
    (type, id, url) upstream, a provider and a model named after its id."""
    text = """
[server]
log_level = "warn"

[[api_keys]]
key = "sk-e2e"
name = "e2e"

[models.demo]
provider = "mock"

[providers.mock]
type = "mock"
"""
    for kind, pid, url in upstreams or []:
        text += f"""
[models."{pid}-model"]
provider = "{pid}"
api_model = "upstream-{pid}"

[providers.{pid}]
type = "{kind}"
api_key = "sk-upstream-{pid}"
base_url = "{url}"
timeout_seconds = 10
"""
    return text + extra


def sse_events_with_blank(text):
    return [e + "\n\n" for e in sse_events(text)]
