"""(1) Every manifest validates against the Kubernetes OpenAPI schemas, offline.

Tool: kubernetes-validate (PyPI, pinned in requirements.txt), which bundles the
JSON schemas of Kubernetes 1.25 onwards inside its wheel. Strict mode rejects
unknown fields, so a misspelt key fails instead of being dropped by the API
server. Checked against the oldest supported version (1.30, the first with the
preStop `sleep` handler on by default) and the newest one bundled.

Custom resources (the Prometheus Operator's ServiceMonitor) have no schema
there; their required structure is checked by hand below.
"""

import re

import kubernetes_validate
import pytest
from kubernetes_validate.utils import SchemaNotFoundError

import deploy_support as ds

VERSIONS = [ds.K8S_MIN_VERSION, kubernetes_validate.utils.latest_version()]
CRD_GROUPS = {"monitoring.coreos.com"}


def _rendered_or_empty():
    try:
        return ds.render_minimal()
    except AssertionError:
        return []  # test_kustomize.py reports why


def _builtin(res):
    return res["apiVersion"].split("/")[0] not in CRD_GROUPS


CASES = [
    pytest.param(res, version, id=f"{res['kind']}/{res['metadata']['name']}@{version}")
    for res in _rendered_or_empty()
    if _builtin(res)
    for version in VERSIONS
]


def test_there_are_builtin_resources_to_validate():
    kinds = {res["kind"] for res in _rendered_or_empty() if _builtin(res)}
    expected = {"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert expected <= kinds, f"missing kinds: {sorted(expected - kinds)}"


@pytest.mark.parametrize("res,version", CASES)
def test_manifest_validates_strictly(res, version):
    try:
        kubernetes_validate.validate(res, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        pytest.fail(f"{res['kind']}/{res['metadata']['name']} invalid for Kubernetes {version} at {path}: {e.message}")
    except SchemaNotFoundError as e:
        pytest.fail(e.message)


def test_kustomize_output_validates_strictly(kustomize_rendered):
    """What `kubectl apply -k` would send, generated objects included."""
    for res in kustomize_rendered:
        if not _builtin(res):
            continue
        for version in VERSIONS:
            kubernetes_validate.validate(res, version, strict=True)


# --- ServiceMonitor (monitoring.coreos.com/v1), checked by hand ------------------

DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
ENDPOINT_KEYS = {
    "port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
    "honorTimestamps", "relabelings", "metricRelabelings", "params", "tlsConfig",
    "authorization", "basicAuth", "bearerTokenSecret", "followRedirects", "enableHttp2",
    "filterRunning", "proxyUrl", "oauth2", "trackTimestampsStaleness",
}
SPEC_KEYS = {
    "selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels",
    "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit",
    "keepDroppedTargets", "attachMetadata", "scrapeProtocols", "scrapeClass", "fallbackScrapeProtocol",
    "bodySizeLimit", "selectorMechanism", "convertClassicHistogramsToNHCB",
    "scrapeClassicHistograms", "nativeHistogramBucketLimit", "nativeHistogramMinBucketFactor",
}


def _seconds(d: str) -> float:
    units = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|y|w|d|h|m|s)", d))


def test_servicemonitor_has_the_required_structure(resources):
    monitors = ds.by_kind(resources, "ServiceMonitor")
    assert len(monitors) == 1, "expected one ServiceMonitor"
    sm = monitors[0]
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    name = sm["metadata"].get("name", "")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) and len(name) <= 63
    spec = sm.get("spec")
    assert isinstance(spec, dict), "spec is required"
    assert not set(spec) - SPEC_KEYS, f"unknown ServiceMonitor spec fields: {sorted(set(spec) - SPEC_KEYS)}"
    selector = spec.get("selector")
    assert isinstance(selector, dict) and (selector.get("matchLabels") or selector.get("matchExpressions")), (
        "spec.selector must select the Service (an empty selector matches every Service)"
    )
    assert set(selector) <= {"matchLabels", "matchExpressions"}
    for k, v in selector.get("matchLabels", {}).items():
        assert isinstance(k, str) and isinstance(v, str), "matchLabels values must be strings"
    endpoints = spec.get("endpoints")
    assert isinstance(endpoints, list) and endpoints, "spec.endpoints must be a non-empty list"
    for ep in endpoints:
        assert isinstance(ep, dict)
        assert not set(ep) - ENDPOINT_KEYS, f"unknown endpoint fields: {sorted(set(ep) - ENDPOINT_KEYS)}"
        assert ("port" in ep) != ("targetPort" in ep), "an endpoint names exactly one of port / targetPort"
        if "port" in ep:
            assert isinstance(ep["port"], str), "endpoint.port is the Service port NAME (a string)"
        assert ep.get("path", "/metrics").startswith("/")
        assert ep.get("scheme", "http") in {"http", "https", "HTTP", "HTTPS"}
        for key in ("interval", "scrapeTimeout"):
            if key in ep:
                assert isinstance(ep[key], str) and DURATION.match(ep[key]), f"{key} {ep[key]!r} is not a duration"
        if "interval" in ep and "scrapeTimeout" in ep:
            assert _seconds(ep["scrapeTimeout"]) <= _seconds(ep["interval"]), "scrapeTimeout must not exceed interval"
