"""Fixtures for the deployment checks (see deploy_support.py)."""

import os

import pytest

import deploy_support as ds


@pytest.fixture(scope="session")
def resources():
    """The kustomization rendered by the minimal offline renderer: what the
    wiring checks run on, with or without a kustomize binary."""
    return ds.render_minimal()


@pytest.fixture(scope="session")
def kustomize_tool():
    tool = ds.find_kustomize()
    if tool is None:
        msg = "no kustomize or kubectl on PATH: the real render is not checked"
        if os.environ.get("DEPLOY_TESTS_REQUIRE_KUSTOMIZE") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return tool


@pytest.fixture(scope="session")
def kustomize_rendered(kustomize_tool):
    return ds.render_with_kustomize(kustomize_tool)


@pytest.fixture(scope="session")
def deployment(resources):
    return ds.gateway_deployment(resources)


@pytest.fixture(scope="session")
def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


@pytest.fixture(scope="session")
def container(deployment):
    return ds.gateway_container(deployment)


@pytest.fixture(scope="session")
def gateway_config(resources):
    return ds.gateway_config(resources)


@pytest.fixture(scope="session")
def dockerfile():
    return ds.parse_dockerfile(ds.DOCKERFILE.read_text(encoding="utf-8"))
