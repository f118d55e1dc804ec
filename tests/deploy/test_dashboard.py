"""The Grafana dashboard (k8s/dashboards/llm-gateway.json): valid JSON of the
expected shape, every metric family of the gateway shown with the required
breakdowns, queries that only use labels the metrics have, and template
variables that are defined wherever they are used."""

import json
import re

import pytest

import deploy_support as ds

DASHBOARD = ds.K8S / "dashboards" / "llm-gateway.json"

BASE = {"api_key", "model", "provider", "endpoint"}
# The gateway's metric families and their labels (the contract).
LABELS = {
    "llm_requests_total": BASE | {"status"},
    "llm_tokens_total": BASE | {"type"},
    "llm_errors_total": BASE | {"error_type"},
    "llm_request_duration_seconds_bucket": BASE | {"le"},
    "llm_time_to_first_token_seconds_bucket": BASE | {"le"},
    "llm_gateway_overhead_seconds_bucket": {"provider", "endpoint", "le"},
    "llm_in_flight_requests": {"provider"},
    "llm_cost_usd_total": {"api_key", "model", "provider"},
    "llm_limits_store_errors_total": {"operation"},
}
VARIABLES = {"api_key", "model", "provider"}
BUILTIN_VARS = {"__rate_interval", "__interval", "__range", "datasource"}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels(dashboard):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])


def _exprs(dashboard):
    return [(p, t["expr"]) for p in _panels(dashboard) for t in p.get("targets", [])]


def _metrics(expr):
    return set(re.findall(r"\b(llm_[a-z_]+)\b", expr))


def _selector_labels(expr):
    return {lbl for sel in re.findall(r"\{([^}]*)\}", expr) for lbl in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", sel)}


def _grouping_labels(expr):
    return {lbl.strip() for grp in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr) for lbl in grp.split(",") if lbl.strip()}


def test_dashboard_shape(dashboard):
    assert dashboard["uid"] and dashboard["title"]
    panels = list(_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        if p["type"] != "row":
            assert p.get("targets"), f"panel {p['title']!r} has no query"
            assert p["datasource"]["uid"] == "${datasource}"


def test_dashboard_fits_in_a_configmap():
    # kubectl's client-side apply stores the object in an annotation (256 KiB).
    assert DASHBOARD.stat().st_size < 200 * 1024


def test_every_metric_family_is_shown(dashboard):
    shown = set().union(*(_metrics(e) for _, e in _exprs(dashboard)))
    assert set(LABELS) <= shown, f"not on the dashboard: {sorted(set(LABELS) - shown)}"


@pytest.mark.parametrize(
    "metric,group",
    [
        ("llm_requests_total", "api_key"),
        ("llm_requests_total", "model"),
        ("llm_requests_total", "provider"),
        ("llm_tokens_total", "type"),
        ("llm_errors_total", "error_type"),
        ("llm_in_flight_requests", "provider"),
        ("llm_gateway_overhead_seconds_bucket", "provider"),
        ("llm_cost_usd_total", "api_key"),
        ("llm_limits_store_errors_total", "operation"),
    ],
)
def test_required_breakdowns(dashboard, metric, group):
    def shows(expr):
        if metric not in _metrics(expr) or group not in _grouping_labels(expr):
            return False
        # Counters and histograms are shown as rates; the in-flight gauge as is.
        return metric == "llm_in_flight_requests" or "rate(" in expr

    assert any(shows(e) for _, e in _exprs(dashboard)), f"no panel shows {metric} by {group}"


@pytest.mark.parametrize(
    "metric", ["llm_request_duration_seconds_bucket", "llm_time_to_first_token_seconds_bucket", "llm_gateway_overhead_seconds_bucket"]
)
def test_latency_quantiles(dashboard, metric):
    quantiles = {
        q for _, e in _exprs(dashboard) if metric in _metrics(e)
        for q in re.findall(r"histogram_quantile\(\s*([0-9.]+)\s*,", e)
    }
    assert {"0.5", "0.95", "0.99"} <= quantiles, f"{metric}: p50/p95/p99 missing (found {sorted(quantiles)})"
    for _, e in _exprs(dashboard):
        if metric in _metrics(e) and "histogram_quantile" in e:
            assert "le" in _grouping_labels(e), f"histogram_quantile needs `by (le, ...)`: {e}"


def test_queries_only_use_labels_their_metrics_have(dashboard):
    for panel, expr in _exprs(dashboard):
        metrics = _metrics(expr)
        assert metrics <= set(LABELS), f"{panel['title']}: unknown metric in {expr}"
        allowed = set.intersection(*(LABELS[m] for m in metrics))
        used = _selector_labels(expr) | _grouping_labels(expr)
        assert used <= allowed, f"{panel['title']}: labels {sorted(used - allowed)} not on {sorted(metrics)}"


def test_template_variables_are_defined_and_used(dashboard):
    defined = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert VARIABLES <= set(defined)
    assert defined["datasource"]["type"] == "datasource" and defined["datasource"]["query"] == "prometheus"
    for name in VARIABLES:
        var = defined[name]
        assert var["multi"] and var["includeAll"] and var["allValue"] == ".*"
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", var["query"]["query"])
        assert m and m.group(2) == name and name in LABELS[m.group(1)]
    for panel, expr in _exprs(dashboard):
        for ref in re.findall(r"\$\{?(\w+)", expr):
            assert ref in defined or ref in BUILTIN_VARS, f"{panel['title']}: undefined variable ${ref}"


def test_every_query_honours_the_variables_its_metric_supports(dashboard):
    for panel, expr in _exprs(dashboard):
        supported = set.intersection(*(LABELS[m] for m in _metrics(expr))) & VARIABLES
        for name in supported:
            # Multi-value variables need a regex match.
            assert re.search(rf'{name}=~"\${name}"', expr), f"{panel['title']}: not filtered by ${name}: {expr}"
