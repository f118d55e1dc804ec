"""Helpers shared by the deployment checks: locate files, load manifests,
render the kustomization (a minimal offline renderer, and the real kustomize
when one is installed), parse the Dockerfile.

Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

# The first Kubernetes version whose API has lifecycle.preStop.sleep enabled by
# default (beta in 1.30, GA in 1.34); manifests must also pass the newest
# schema kubernetes-validate bundles.
K8S_MIN_VERSION = "1.30.0"
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 30

# Keys a kustomization.yaml may use here; anything else would be silently
# ignored by the minimal renderer, so it is refused instead.
SUPPORTED_KUSTOMIZATION_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "configMapGenerator",
    "images",
}


def load_yaml_docs(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_kustomization(kdir: Path = K8S) -> dict:
    docs = load_yaml_docs(kdir / "kustomization.yaml")
    assert len(docs) == 1, "kustomization.yaml must hold exactly one document"
    return docs[0]


def _split_key_path(spec: str) -> tuple[str, str]:
    """configMapGenerator `files` entries are `path` or `key=path`."""
    if "=" in spec:
        key, path = spec.split("=", 1)
        return key, path
    return Path(spec).name, spec


def _image_parts(image: str) -> tuple[str, str | None, str | None]:
    """Split `name[:tag][@digest]` (a registry port is not a tag)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


def _apply_images(resources: list[dict], images: list[dict]) -> None:
    """kustomize's `images` transformer, for Deployment-like pod templates."""
    for res in resources:
        spec = res.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            name, tag, digest = _image_parts(c["image"])
            for img in images:
                if img["name"] != name:
                    continue
                new_name = img.get("newName", name)
                if "digest" in img:
                    c["image"] = f"{new_name}@{img['digest']}"
                elif "newTag" in img:
                    c["image"] = f"{new_name}:{img['newTag']}"
                else:
                    c["image"] = new_name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def kustomize_configmap_hash(name: str, data: dict[str, str]) -> str:
    """kustomize's name suffix for a generated ConfigMap (api/hasher): sha256
    of Go's JSON encoding of {data, kind, name}, first 10 hex digits with
    0,1,3,a,e replaced so the suffix never looks like a number or word.
    kustomize looks the name up as a single field called "metadata/name", so
    the name it hashes is always empty (checked against kustomize v5.5.0)."""
    del name
    encoded = json.dumps({"data": data, "kind": "ConfigMap", "name": ""}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        encoded = encoded.replace(ch, esc)
    digest = hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _rename_configmap_refs(resources: list[dict], renamed: dict[str, str]) -> None:
    """kustomize rewrites references to generated (hash-suffixed) ConfigMaps."""
    if not renamed:
        return
    for res in resources:
        spec = res.get("spec", {}).get("template", {}).get("spec", {})
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                vol["configMap"]["name"] = renamed.get(vol["configMap"]["name"], vol["configMap"]["name"])
            for src in vol.get("projected", {}).get("sources", []):
                if "configMap" in src:
                    src["configMap"]["name"] = renamed.get(src["configMap"]["name"], src["configMap"]["name"])
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    ref["name"] = renamed.get(ref["name"], ref["name"])
            for e in c.get("envFrom", []):
                ref = e.get("configMapRef")
                if ref:
                    ref["name"] = renamed.get(ref["name"], ref["name"])


def render_minimal(kdir: Path = K8S) -> list[dict]:
    """A small, offline stand-in for `kustomize build` covering the features
    this kustomization uses: local resource files, configMapGenerator (files,
    literals, labels, disableNameSuffixHash), namespace and images. Fails on
    anything else so it cannot silently diverge from real kustomize."""
    kust = load_kustomization(kdir)
    unknown = set(kust) - SUPPORTED_KUSTOMIZATION_KEYS
    assert not unknown, f"kustomization.yaml uses keys this check does not model: {sorted(unknown)}"
    assert kust.get("apiVersion") == "kustomize.config.k8s.io/v1beta1"
    assert kust.get("kind") == "Kustomization"

    out: list[dict] = []
    renamed: dict[str, str] = {}
    for entry in kust.get("resources", []):
        assert "://" not in entry and not entry.startswith("github.com/"), (
            f"remote resource {entry!r}: the deployment must render offline"
        )
        path = kdir / entry
        assert path.is_file(), f"resource {entry!r} listed in kustomization.yaml does not exist"
        docs = load_yaml_docs(path)
        assert docs, f"resource {entry!r} holds no document"
        for d in docs:
            assert isinstance(d, dict) and {"apiVersion", "kind", "metadata"} <= set(d), (
                f"{entry}: not a Kubernetes object"
            )
            out.append(d)

    for gen in kust.get("configMapGenerator", []):
        data: dict[str, str] = {}
        for spec in gen.get("files", []):
            key, rel = _split_key_path(spec)
            path = kdir / rel
            assert path.is_file(), f"configMapGenerator {gen['name']}: file {rel!r} does not exist"
            assert key not in data, f"configMapGenerator {gen['name']}: duplicate key {key!r}"
            data[key] = path.read_text(encoding="utf-8")
        for lit in gen.get("literals", []):
            key, value = lit.split("=", 1)
            data[key] = value
        options = gen.get("options", {})
        name = gen["name"]
        if not options.get("disableNameSuffixHash", False):
            renamed[name] = name = f"{name}-{kustomize_configmap_hash(name, data)}"
        meta: dict[str, Any] = {"name": name}
        if options.get("labels"):
            meta["labels"] = dict(options["labels"])
        if options.get("annotations"):
            meta["annotations"] = dict(options["annotations"])
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})

    _rename_configmap_refs(out, renamed)
    if "namespace" in kust:
        for res in out:
            res["metadata"]["namespace"] = kust["namespace"]
    _apply_images(out, kust.get("images", []))

    seen = set()
    for res in out:
        ident = (res["apiVersion"].split("/")[0] if "/" in res["apiVersion"] else "", res["kind"], res["metadata"]["name"])
        assert ident not in seen, f"duplicate resource {ident}"
        seen.add(ident)
    return out


@dataclass
class Kustomize:
    argv: list[str]
    version: str


def find_kustomize() -> Kustomize | None:
    """A real kustomize: a standalone `kustomize`, or the one built into
    kubectl (`kubectl kustomize`). Both render offline for local files."""
    exe = shutil.which("kustomize")
    if exe:
        v = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=60)
        return Kustomize([exe, "build"], (v.stdout or v.stderr).strip())
    exe = shutil.which("kubectl")
    if exe:
        v = subprocess.run([exe, "version", "--client"], capture_output=True, text=True, timeout=60)
        if v.returncode == 0 and "Kustomize" in v.stdout:
            return Kustomize([exe, "kustomize"], " ".join(v.stdout.split()))
    return None


def render_with_kustomize(tool: Kustomize, kdir: Path = K8S) -> list[dict]:
    proc = subprocess.run(
        tool.argv + [str(kdir)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert proc.returncode == 0, f"{' '.join(tool.argv)} failed:\n{proc.stderr}"
    return [d for d in yaml.safe_load_all(proc.stdout) if d is not None]


# --- lookups over a rendered set -------------------------------------------------


def by_kind(resources: Iterable[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def one(resources: Iterable[dict], kind: str, name: str | None = None) -> dict:
    found = [r for r in by_kind(resources, kind) if name is None or r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}{' ' + name if name else ''}, found {len(found)}"
    return found[0]


def gateway_deployment(resources: list[dict]) -> dict:
    return one(resources, "Deployment")


def gateway_container(deploy: dict) -> dict:
    containers = deploy["spec"]["template"]["spec"]["containers"]
    matches = [c for c in containers if c["name"] == "llm-gateway"]
    assert len(matches) == 1, "the Deployment needs exactly one container named llm-gateway"
    return matches[0]


def container_port(container: dict, port: int | str) -> int:
    """Resolve a probe/targetPort (number or name) to a container port number."""
    if isinstance(port, int):
        assert any(p["containerPort"] == port for p in container.get("ports", [])), (
            f"port {port} is not declared by the container"
        )
        return port
    named = [p for p in container.get("ports", []) if p.get("name") == port]
    assert named, f"no container port named {port!r}"
    return named[0]["containerPort"]


def gateway_config_map(resources: list[dict]) -> dict:
    """The ConfigMap mounted into the gateway container's config volume."""
    deploy = gateway_deployment(resources)
    volumes = deploy["spec"]["template"]["spec"].get("volumes", [])
    cm_names = [v["configMap"]["name"] for v in volumes if "configMap" in v]
    assert len(cm_names) == 1, f"expected one ConfigMap volume, found {cm_names}"
    return one(resources, "ConfigMap", cm_names[0])


def gateway_config(resources: list[dict]) -> dict:
    cm = gateway_config_map(resources)
    assert "config.toml" in cm.get("data", {}), "the gateway ConfigMap must hold the key config.toml"
    return tomllib.loads(cm["data"]["config.toml"])


def selector_matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- Dockerfile ------------------------------------------------------------------


@dataclass
class Instruction:
    cmd: str  # upper-case instruction
    args: str  # the rest, continuation lines joined
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Returns the global ARG defaults and the build stages. Handles comments,
    `\\` continuations and JSON (exec) forms well enough for these checks."""
    instructions: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        cmd, _, args = buf.strip().partition(" ")
        instructions.append(Instruction(cmd.upper(), " ".join(args.split()), start))
        buf = ""
    assert not buf, "Dockerfile ends inside a line continuation"

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            parts = [p for p in ins.args.split() if not p.startswith("--")]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        elif not stages:
            assert ins.cmd == "ARG", f"line {ins.line}: only ARG may precede the first FROM"
            key, _, default = ins.args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def expand_args(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def exec_form(args: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for shell form."""
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(x, str) for x in value) else None


def dockerignore_patterns() -> list[tuple[bool, str]]:
    pats = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = line[1:].strip() if neg else line
        pats.append((neg, pat.strip("/")))
    return pats


def _pattern_regex(pat: str) -> re.Pattern:
    """Docker's .dockerignore semantics (Go filepath.Match plus `**`), anchored
    at the context root; a pattern matching a directory excludes its contents."""
    out = ""
    i = 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pat.startswith("**", i):
            out += ".*"
            i += 2
        elif pat[i] == "*":
            out += "[^/]*"
            i += 1
        elif pat[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pat[i])
            i += 1
    return re.compile(out + "(?:/.*)?")


def dockerignored(path: str) -> bool:
    """Whether a context-relative path is excluded (last matching rule wins)."""
    excluded = False
    for neg, pat in dockerignore_patterns():
        if _pattern_regex(pat).fullmatch(path):
            excluded = not neg
    return excluded


def python_bin_dir() -> Path:
    return Path(sys.executable).parent
