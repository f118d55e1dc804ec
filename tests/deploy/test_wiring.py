"""(3) Wiring: the pieces refer to each other correctly and match the
gateway's contract (port 8080, /health and /ready, the config file path, env
overrides LLM_GATEWAY__<SECTION>__<KEY>, graceful shutdown timing, /metrics).

Runs on the minimal offline render of k8s/ (deploy_support.render_minimal).
"""

import os
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest

import deploy_support as ds

SECRET_ENV = re.compile(r"^LLM_GATEWAY__PROVIDERS__[A-Z0-9_]+__API_KEY$")
CONFIG_KEY = "config.toml"

# Shapes of real credentials; placeholders must not look like these.
REAL_LOOKING_SECRETS = [
    re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}"),  # Anthropic
    re.compile(r"sk-(proj-)?[A-Za-z0-9]{20,}"),  # OpenAI
    re.compile(r"AIza[0-9A-Za-z_-]{35}"),  # Google API key
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\b[A-Fa-f0-9]{40,}\b"),  # long hex tokens
    re.compile(r"\b[A-Za-z0-9+/]{40,}={0,2}"),  # long base64 tokens
]
PLACEHOLDER = re.compile(r"REPLACE-ME|CHANGE-ME|PLACEHOLDER", re.IGNORECASE)


# --- container, ports, probes ------------------------------------------------


def test_container_port_is_8080_named_http(container):
    ports = container.get("ports", [])
    assert [(p.get("name"), p["containerPort"]) for p in ports] == [("http", 8080)]


def test_listen_port_matches_container_port(container, gateway_config):
    port = gateway_config.get("server", {}).get("port", 8080)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    port = int(env.get("LLM_GATEWAY__SERVER__PORT") or port)
    assert port == 8080 == ds.container_port(container, "http")


@pytest.mark.parametrize("probe,path", [("livenessProbe", "/health"), ("readinessProbe", "/ready")])
def test_probes_hit_health_endpoints_on_the_container_port(container, probe, path):
    assert probe in container, f"{probe} missing"
    get = container[probe].get("httpGet")
    assert get, f"{probe} must be an httpGet probe"
    assert get["path"] == path
    assert get.get("scheme", "HTTP") == "HTTP"
    assert ds.container_port(container, get["port"]) == 8080


def test_liveness_is_more_tolerant_than_readiness(container):
    """A slow /health must not kill a pod that readiness has merely taken out."""
    live, ready = container["livenessProbe"], container["readinessProbe"]
    budget = lambda p: p.get("periodSeconds", 10) * p.get("failureThreshold", 3)  # noqa: E731
    assert budget(live) >= budget(ready)


# --- config file: ConfigMap key, mount, env ------------------------------------


def _config_volume_and_mount(pod_spec, container, resources):
    cm = ds.gateway_config_map(resources)
    volume = next(v for v in pod_spec["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"])
    mounts = [m for m in container.get("volumeMounts", []) if m["name"] == volume["name"]]
    assert len(mounts) == 1, "the config volume must be mounted once in the gateway container"
    return cm, volume, mounts[0]


def test_configmap_holds_config_toml(resources):
    cm = ds.gateway_config_map(resources)
    assert CONFIG_KEY in cm.get("data", {})


def test_configmap_is_mounted_as_a_directory(pod_spec, container, resources):
    """subPath mounts never see ConfigMap updates, so live reload would not work."""
    _, volume, mount = _config_volume_and_mount(pod_spec, container, resources)
    assert "subPath" not in mount and "subPathExpr" not in mount
    assert mount.get("readOnly") is True


def test_config_env_points_at_the_mounted_file(pod_spec, container, resources):
    cm, volume, mount = _config_volume_and_mount(pod_spec, container, resources)
    # The file name inside the mount is the key, unless `items` remaps it.
    rel = CONFIG_KEY
    for item in volume["configMap"].get("items", []):
        if item["key"] == CONFIG_KEY:
            rel = item["path"]
    items = volume["configMap"].get("items")
    assert items is None or any(i["key"] == CONFIG_KEY for i in items), "items leaves config.toml out"
    env = {e["name"]: e for e in container.get("env", [])}
    assert "LLM_GATEWAY_CONFIG" in env, "LLM_GATEWAY_CONFIG must be set"
    assert env["LLM_GATEWAY_CONFIG"].get("value") == str(PurePosixPath(mount["mountPath"]) / rel)
    args = container.get("args", []) + container.get("command", [])
    assert "--config" not in args, "give the path once, through LLM_GATEWAY_CONFIG"


def test_config_toml_parses_and_routes_every_model(gateway_config):
    providers = gateway_config.get("providers", {})
    assert providers, "no [providers]"
    models = gateway_config.get("models", {})
    assert models, "no [models]"
    for name, model in models.items():
        assert model.get("provider") in providers, f"model {name} uses an unknown provider"
        assert model.get("api_model"), f"model {name} has no api_model"


def test_config_toml_contains_no_secrets(resources, gateway_config):
    for name, provider in gateway_config.get("providers", {}).items():
        assert "api_key" not in provider, f"[providers.{name}] api_key belongs in the Secret, not the ConfigMap"
    for entry in gateway_config.get("api_keys", []):
        assert PLACEHOLDER.search(entry["key"]), f"gateway key {entry.get('name')!r} is not an obvious placeholder"
    text = ds.gateway_config_map(resources)["data"][CONFIG_KEY]
    for pattern in REAL_LOOKING_SECRETS:
        hit = pattern.search(text)
        assert not hit, f"config.toml holds something that looks like a real secret: {hit.group(0)[:12]}..."


# --- provider keys from the Secret ------------------------------------------------


def _secret_env(container):
    return [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]


def test_secret_env_names_follow_the_override_convention(container):
    env = _secret_env(container)
    assert env, "provider keys must come from a Secret"
    for e in env:
        assert SECRET_ENV.match(e["name"]), f"{e['name']} is not LLM_GATEWAY__PROVIDERS__<NAME>__API_KEY"
    assert not container.get("envFrom"), "use explicit env entries so each name is checked"


def test_secret_env_refers_to_existing_secret_keys(container, resources):
    for e in _secret_env(container):
        ref = e["valueFrom"]["secretKeyRef"]
        secret = ds.one(resources, "Secret", ref["name"])
        keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
        assert ref["key"] in keys, f"{e['name']}: Secret {ref['name']} has no key {ref['key']!r}"


def test_every_enabled_provider_gets_its_key_from_the_secret(container, gateway_config):
    names = {e["name"] for e in _secret_env(container)}
    for name, provider in gateway_config["providers"].items():
        if provider.get("enabled", True):
            assert f"LLM_GATEWAY__PROVIDERS__{name.upper()}__API_KEY" in names, f"no API key env for {name}"


def test_secret_values_are_placeholders(resources):
    for secret in ds.by_kind(resources, "Secret"):
        assert "data" not in secret, "use stringData so placeholders stay readable"
        for key, value in secret.get("stringData", {}).items():
            assert PLACEHOLDER.search(value), f"Secret {secret['metadata']['name']}/{key} is not a placeholder"


def test_service_links_cannot_leak_into_the_gateway_env(pod_spec, resources):
    """A Service named llm-gateway makes the kubelet inject LLM_GATEWAY_PORT,
    LLM_GATEWAY_SERVICE_HOST, ... which share the gateway's env prefix."""
    clash = [
        s["metadata"]["name"] for s in ds.by_kind(resources, "Service")
        if s["metadata"]["name"].upper().replace("-", "_").startswith("LLM_GATEWAY")
    ]
    if clash:
        assert pod_spec.get("enableServiceLinks") is False, f"Services {clash} would inject LLM_GATEWAY_* env vars"


# --- shutdown -------------------------------------------------------------------


def test_grace_period_covers_prestop_and_drain(pod_spec, container, gateway_config):
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    assert "sleep" in pre_stop, "preStop must use the sleep handler (the image has no shell for exec: sleep)"
    sleep = pre_stop["sleep"]["seconds"]
    assert 5 <= sleep <= 15, "sleep long enough for endpoints to be removed, not much longer"
    drain = gateway_config.get("server", {}).get("shutdown_timeout_seconds", ds.DEFAULT_SHUTDOWN_TIMEOUT_SECONDS)
    grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    assert grace > sleep + drain, f"terminationGracePeriodSeconds {grace} <= preStop {sleep} + drain {drain}"


def test_rolling_update_never_drops_capacity(deployment):
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] in (0, "0%")
    assert strategy["rollingUpdate"]["maxSurge"] == 1


# --- security and resources ----------------------------------------------------


def test_security_context_is_locked_down(pod_spec, container):
    pod = pod_spec.get("securityContext", {})
    ctr = container.get("securityContext", {})
    merged = {**pod, **ctr}
    assert merged.get("runAsNonRoot") is True
    assert merged.get("runAsUser") == 65532
    assert merged.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert ctr.get("readOnlyRootFilesystem") is True
    assert ctr.get("allowPrivilegeEscalation") is False
    assert ctr.get("capabilities", {}).get("drop") == ["ALL"]
    assert not ctr.get("capabilities", {}).get("add")
    assert not ctr.get("privileged")


def _mib(q: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(q))
    assert m, f"unsupported quantity {q}"
    return float(m.group(1)) * units.get(m.group(2), 1 / 2**20)


def test_resources_fit_the_measured_footprint(container):
    res = container.get("resources", {})
    req, lim = res.get("requests", {}), res.get("limits", {})
    assert "cpu" in req, "the HPA's CPU utilisation is relative to requests.cpu"
    # idle < 15 MB; ~100 MB with 1,000 open streams: room for that and more.
    assert 32 <= _mib(req["memory"]) <= _mib(lim["memory"])
    assert _mib(lim["memory"]) >= 192


# --- Service, ServiceMonitor, HPA, PDB -----------------------------------------------


def test_service_selects_the_gateway_pods(deployment, resources, container):
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert ds.selector_matches(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    service = ds.one(resources, "Service")
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert ds.selector_matches(service["spec"]["selector"], pod_labels)
    [port] = service["spec"]["ports"]
    assert port["port"] == 80 and port["name"] == "http"
    assert ds.container_port(container, port["targetPort"]) == 8080


def test_servicemonitor_scrapes_metrics_on_the_named_port(resources, container, gateway_config):
    sm = ds.one(resources, "ServiceMonitor")
    service = ds.one(resources, "Service")
    assert ds.selector_matches(sm["spec"]["selector"]["matchLabels"], service["metadata"].get("labels", {}))
    [endpoint] = sm["spec"]["endpoints"]
    assert endpoint.get("path") == "/metrics" == gateway_config.get("metrics", {}).get("endpoint", "/metrics")
    port_names = {p.get("name"): p for p in service["spec"]["ports"]}
    assert endpoint.get("port") in port_names, "ServiceMonitor port must be a Service port NAME"
    assert ds.container_port(container, port_names[endpoint["port"]]["targetPort"]) == 8080


def test_hpa_targets_the_deployment(resources, deployment):
    hpa = ds.one(resources, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"


def test_replica_count_is_left_to_the_hpa(deployment):
    """With an HPA, spec.replicas would reset the pod count on every apply."""
    assert "replicas" not in deployment["spec"]


def test_pdb_covers_the_pods_and_allows_drains(resources, deployment):
    pdb = ds.one(resources, "PodDisruptionBudget")
    assert ds.selector_matches(pdb["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"])
    hpa = ds.one(resources, "HorizontalPodAutoscaler")
    if "maxUnavailable" in pdb["spec"]:
        assert pdb["spec"]["maxUnavailable"] >= 1
    else:
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "minAvailable >= replicas blocks every drain"


def test_dashboard_configmap_is_labelled_for_grafana(resources):
    dashboards = [c for c in ds.by_kind(resources, "ConfigMap") if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert len(dashboards) == 1
    [(key, _)] = dashboards[0]["data"].items()
    assert key.endswith(".json")


def test_image_is_pinned(container):
    name, tag, digest = ds._image_parts(container["image"])
    assert digest or (tag and tag != "latest"), f"image {container['image']} is not pinned to a tag or digest"


# --- the real binary, when one has been built ------------------------------------------------


def _built_binary():
    candidates = [os.environ.get("LLM_GATEWAY_BIN")]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ds.REPO / "target"))
    candidates += [target / "release" / "llm-gateway", target / "debug" / "llm-gateway"]
    return next((Path(c) for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def test_binary_accepts_the_configmap_config(resources, tmp_path, container):
    """`llm-gateway check` on the ConfigMap's config.toml, with the Secret's
    env vars set. Skipped unless a built binary is found (LLM_GATEWAY_BIN, or
    target/{release,debug}/llm-gateway): these checks never run cargo."""
    binary = _built_binary()
    if binary is None:
        pytest.skip("no built llm-gateway binary (set LLM_GATEWAY_BIN to check the config with it)")
    path = tmp_path / CONFIG_KEY
    path.write_text(ds.gateway_config_map(resources)["data"][CONFIG_KEY], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_GATEWAY")}
    env.update({e["name"]: "placeholder-for-check" for e in _secret_env(container)})
    proc = subprocess.run([str(binary), "check", "--config", str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"llm-gateway check rejected the ConfigMap config:\n{proc.stdout}\n{proc.stderr}"
