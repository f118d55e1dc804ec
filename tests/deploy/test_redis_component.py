"""The optional Redis component (k8s/components/redis): its files are all
listed, its manifests validate strictly, and rendered on top of k8s/ (with a
real kustomize) it puts the gateway on the shared store, the password coming
from the component's Secret and the URL naming its Service."""

import os

import kubernetes_validate
import pytest

import deploy_support as ds

COMPONENT = ds.K8S / "components" / "redis"


def _kustomization():
    docs = ds.load_yaml_docs(COMPONENT / "kustomization.yaml")
    assert len(docs) == 1
    return docs[0]


def test_it_is_a_component_listing_every_file_it_has():
    k = _kustomization()
    assert k["kind"] == "Component" and k["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    listed = set(k.get("resources", [])) | {p["path"] for p in k.get("patches", [])}
    on_disk = {p.name for p in COMPONENT.glob("*.y*ml") if p.name != "kustomization.yaml"}
    assert on_disk == listed


@pytest.mark.parametrize("version", [ds.K8S_MIN_VERSION, kubernetes_validate.utils.latest_version()])
def test_its_manifests_validate_strictly(version):
    for res in ds.load_yaml_docs(COMPONENT / "redis.yaml"):
        kubernetes_validate.validate(res, version, strict=True)


def test_the_redis_password_is_required_and_comes_from_the_secret():
    docs = {d["kind"]: d for d in ds.load_yaml_docs(COMPONENT / "redis.yaml")}
    redis = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    args = redis["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    ref = next(e for e in redis["env"] if e["name"] == "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert ref["name"] == docs["Secret"]["metadata"]["name"]
    assert ref["key"] in docs["Secret"]["stringData"]


def test_rendered_on_k8s_the_gateway_uses_the_shared_store(kustomize_tool, tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {os.path.relpath(ds.K8S, overlay)}\n"
        f"components:\n  - {os.path.relpath(COMPONENT, overlay)}\n",
        encoding="utf-8",
    )
    rendered = ds.render_with_kustomize(kustomize_tool, overlay)
    gateway = ds.gateway_container(ds.one(rendered, "Deployment", "llm-gateway"))
    env = {e["name"]: e for e in gateway["env"]}
    assert env["LLM_GATEWAY__LIMITS__STORE"]["value"] == "redis"
    service = ds.one(rendered, "Service", "llm-gateway-redis")
    port = service["spec"]["ports"][0]["port"]
    assert env["LLM_GATEWAY__LIMITS__REDIS_URL"]["value"] == f"redis://llm-gateway-redis:{port}/0"
    secret = env["LLM_GATEWAY__LIMITS__REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert secret["name"] == ds.one(rendered, "Secret", "llm-gateway-redis")["metadata"]["name"]
    # The gateway's own variables are kept.
    assert "LLM_GATEWAY_CONFIG" in env
    ds.one(rendered, "Deployment", "llm-gateway-redis")
