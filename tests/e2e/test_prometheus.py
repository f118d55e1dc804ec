"""/metrics as users consume it: promtool accepts the text, and a real
Prometheus server scrapes the gateway and answers a PromQL query."""

import json
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import openai
import pytest

from harness import config, free_port, running_gateway


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (Debian package `prometheus`; tests/run installs it)")
    return path


def traffic(base):
    c = openai.OpenAI(base_url=base + "/v1", api_key="sk-e2e", max_retries=0)
    for _ in range(2):
        c.chat.completions.create(model="demo", messages=[{"role": "user", "content": "one two"}])
    list(c.chat.completions.create(model="demo", messages=[{"role": "user", "content": "x"}], stream=True))
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def scrape(base):
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        return r.read().decode()


def test_promtool_accepts_the_metrics_text():
    promtool = need("promtool")
    with running_gateway(config(extra="[metrics]\ninclude_api_key_hash = true\nkey_hash_salt = \"e2e-salt-0123456789\"\n")) as base:
        traffic(base)
        deadline = time.monotonic() + 10
        text = scrape(base)
        while 'status="404"' not in text and time.monotonic() < deadline:
            time.sleep(0.02)
            text = scrape(base)
        assert "llm_requests_total{" in text
        result = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_real_prometheus_scrapes_the_gateway_and_answers_promql():
    prometheus = need("prometheus")
    with running_gateway(config()) as base, tempfile.TemporaryDirectory() as tmp:
        traffic(base)
        target = base.removeprefix("http://")
        cfg = pathlib.Path(tmp) / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n"
            f"  - job_name: llm-gateway\n    static_configs:\n      - targets: ['{target}']\n"
        )
        port = free_port()
        log = open(pathlib.Path(tmp) / "prometheus.log", "w")
        proc = subprocess.Popen(
            [prometheus, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            query = 'sum by (status) (llm_requests_total{api_key="e2e",model="demo",provider="mock",endpoint="/v1/chat/completions"})'
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
            deadline = time.monotonic() + 60
            result = None
            while time.monotonic() < deadline:
                assert proc.poll() is None, (pathlib.Path(tmp) / "prometheus.log").read_text()
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        result = json.load(r)["data"]["result"]
                    if result:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            assert result == [{"metric": {"status": "200"}, "value": result[0]["value"]}], result
            assert result[0]["value"][1] == "3"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
