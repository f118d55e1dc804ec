"""(2) The kustomization renders.

Always: a minimal offline renderer in Python (deploy_support.render_minimal)
loads kustomization.yaml, refuses features it does not model, checks that
every listed resource and generator file exists and parses.
When a real kustomize is on PATH (`kustomize`, or the one built into
`kubectl kustomize`): it renders k8s/ offline and must agree with the minimal
renderer on the set of objects and on the images. Set
DEPLOY_TESTS_REQUIRE_KUSTOMIZE=1 to make a missing kustomize a failure.
"""

import deploy_support as ds


def _ids(resources):
    return sorted((r["kind"], r["metadata"]["name"], r["metadata"].get("namespace")) for r in resources)


def test_minimal_render_succeeds_and_covers_every_kind(resources):
    kinds = {r["kind"] for r in resources}
    expected = {
        "Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler",
        "PodDisruptionBudget", "ServiceMonitor",
    }
    assert expected <= kinds, f"missing from the kustomization: {sorted(expected - kinds)}"


def test_every_manifest_file_is_listed_in_the_kustomization():
    """A manifest left out of kustomization.yaml is silently never applied
    (optional components list their own files: test_redis_component.py)."""
    listed = {(ds.K8S / r).resolve() for r in ds.load_kustomization().get("resources", [])}
    on_disk = {
        p.resolve()
        for p in ds.K8S.rglob("*.y*ml")
        if p.name != "kustomization.yaml" and "components" not in p.relative_to(ds.K8S).parts
    }
    assert on_disk - listed == set(), f"not in kustomization.yaml: {sorted(map(str, on_disk - listed))}"


def test_real_kustomize_renders_the_same_objects(kustomize_tool, kustomize_rendered, resources):
    print(f"kustomize: {kustomize_tool.version}")
    assert _ids(kustomize_rendered) == _ids(resources)


def test_real_kustomize_agrees_with_the_minimal_render(kustomize_rendered, resources):
    """Object for object, so the wiring checks (run on the minimal render) see
    exactly what `kubectl apply -k` applies."""
    def key(r):
        return (r["kind"], r["metadata"]["name"])

    real = {key(r): r for r in kustomize_rendered}
    for mine in resources:
        assert real[key(mine)] == mine, f"{key(mine)} differs between kustomize and the minimal render"


def test_real_kustomize_sets_the_same_images(kustomize_rendered, resources):
    def images(rs):
        return sorted(
            c["image"]
            for r in rs
            for c in r.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        )

    assert images(kustomize_rendered) == images(resources)


def test_real_kustomize_generates_the_dashboard_configmap(kustomize_rendered, resources):
    generated = [
        r for r in kustomize_rendered
        if r["kind"] == "ConfigMap" and r["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(generated) == 1, "expected one ConfigMap labelled grafana_dashboard: \"1\""
    mine = ds.one(resources, "ConfigMap", generated[0]["metadata"]["name"])
    assert generated[0]["data"] == mine["data"]
