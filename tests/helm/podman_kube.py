"""Rendered Kubernetes manifests played with `podman kube play` (podman 4.3), which has no cluster behind it.

What podman 4.3 lacks, and what `translate` does about it (the pod specs are otherwise played as rendered,
security contexts included):
- no Services or cluster DNS: every pod joins the host network (the caller chooses free ports and a broker that
  advertises 127.0.0.1, through values);
- no StatefulSet or Job kinds: a StatefulSet becomes a Deployment with its volumeClaimTemplates as
  PersistentVolumeClaims (podman volumes, named as Kubernetes names them), a Job becomes a Pod with the same spec;
- `kind: Secret` documents fail to parse ("not valid JSON"): they are created with `podman secret create`;
- ConfigMap items in subdirectories ("deid/<profile>.yaml") fail to mount: such a ConfigMap is laid out on the
  host as its items say and mounted from there (hostPath, read-only as before);
- probes would run curl inside the container, which the image does not carry: they are removed (callers poll
  the same endpoints from the host), and so are container ports (in the host network podman refuses mappings);
- NetworkPolicies, PodDisruptionBudgets, ServiceAccounts, Services, HPAs, Ingresses: no podman equivalent, listed
  as not played (tests/helm asserts on them).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Manifest = dict[str, Any]
PLAYED_KINDS = {"ConfigMap", "Deployment", "PersistentVolumeClaim", "Pod"}
NOT_PLAYED = {"Service", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "HorizontalPodAutoscaler", "Ingress"}


def _say(msg: str) -> None:
    print(f"kube-smoke: {msg}", file=sys.stderr, flush=True)


class CannotRun(RuntimeError):
    """The smoke cannot run on this machine (the message says why); not a failure of the deployment."""


@dataclass
class Podman:
    work: Path

    def __post_init__(self) -> None:
        (self.work / "store").mkdir(parents=True, exist_ok=True)
        (self.work / "run").mkdir(parents=True, exist_ok=True)
        conf = self.work / "containers.conf"
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                        '[engine]\nruntime = "runc"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    @property
    def base(self) -> list[str]:
        return ["podman", "--root", str(self.work / "store"), "--runroot", str(self.work / "run")]

    def run(self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 300) -> str:
        proc = subprocess.run([*self.base, *args], input=input, capture_output=True, env=self.env, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"podman {args[0]} {args[1] if len(args) > 1 else ''} failed: "
                               f"{proc.stderr.decode(errors='replace').strip()[-600:]}")
        return proc.stdout.decode(errors="replace")

    def ok(self, *args: str) -> bool:
        return subprocess.run([*self.base, *args], capture_output=True, env=self.env).returncode == 0


def why_podman_cannot_run() -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install podman buildah runc debootstrap)"
    if shutil.which("runc") is None:
        return "runc is not installed (podman 4.3 needs it here: crun fails on RLIMIT_NOFILE)"
    if os.geteuid() != 0:
        return "needs root (the image build uses debootstrap and chroot; the smoke runs rootful podman)"
    return None


@dataclass
class PodmanPlan:
    """Manifests grouped into the steps they are played in, plus the Secrets to create with `podman secret`."""

    broker: list[Manifest] = field(default_factory=list)
    services: list[Manifest] = field(default_factory=list)
    jobs: list[Manifest] = field(default_factory=list)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> key -> base64 value
    volumes: list[str] = field(default_factory=list)  # PersistentVolumeClaims played as podman volumes
    not_played: list[str] = field(default_factory=list)  # "Kind/name"

    def steps(self) -> list[tuple[str, list[Manifest]]]:
        return [("broker", self.broker), ("services", self.services), ("jobs", self.jobs)]


def _nested_configmaps_as_host_dirs(spec: Manifest, configmaps: dict[str, Manifest], host_dir: Path | None) -> None:
    """podman 4.3 cannot write a ConfigMap item into a subdirectory ("deid/x.yaml"): such a ConfigMap volume is
    laid out on the host exactly as its items say and mounted from there (hostPath), read-only like the original."""
    for volume in spec.get("volumes", []):
        source = volume.get("configMap")
        if not source or not any("/" in item["path"] for item in source.get("items", [])):
            continue
        if host_dir is None:
            raise ValueError(f"volume {volume['name']}: ConfigMap items in subdirectories need a host directory")
        data = configmaps[source["name"]].get("data", {})
        root = host_dir / source["name"]
        for item in source["items"]:
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
        name = volume["name"]
        volume.clear()
        volume.update({"name": name, "hostPath": {"path": str(root), "type": "Directory"}})


def _pod_spec_for_podman(spec: Manifest, configmaps: dict[str, Manifest], host_dir: Path | None) -> Manifest:
    spec = copy.deepcopy(spec)
    _nested_configmaps_as_host_dirs(spec, configmaps, host_dir)
    spec["hostNetwork"] = True
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            c.pop(probe, None)
        c.pop("ports", None)  # in the host network a container's ports are the host's; podman refuses mappings
    return spec


def _component(m: Manifest) -> str:
    labels = m.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    return str(labels.get("app.kubernetes.io/component", ""))


def translate(manifests: list[Manifest], host_dir: Path | None = None) -> PodmanPlan:
    """`host_dir`: where ConfigMaps that podman cannot mount (items in subdirectories) are laid out."""
    plan = PodmanPlan()
    configmaps = [m for m in manifests if m.get("kind") == "ConfigMap"]
    by_name = {m["metadata"]["name"]: m for m in configmaps}
    for m in manifests:
        kind, name = m.get("kind"), m["metadata"]["name"]
        if kind == "Secret":
            data = dict(m.get("data") or {})
            data.update({k: base64.b64encode(v.encode()).decode() for k, v in (m.get("stringData") or {}).items()})
            plan.secrets[name] = data
        elif kind == "Deployment":
            d = copy.deepcopy(m)
            d["spec"]["template"]["spec"] = _pod_spec_for_podman(d["spec"]["template"]["spec"], by_name, host_dir)
            (plan.broker if _component(m) == "broker" else plan.services).append(d)
        elif kind == "StatefulSet":
            d: Manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": copy.deepcopy(m["metadata"]),
                           "spec": {"replicas": 1, "selector": copy.deepcopy(m["spec"]["selector"]),
                                    "template": copy.deepcopy(m["spec"]["template"])}}
            spec = _pod_spec_for_podman(d["spec"]["template"]["spec"], by_name, host_dir)
            for claim in m["spec"].get("volumeClaimTemplates", []):
                claim_name = f"{claim['metadata']['name']}-{name}-0"  # the PVC name Kubernetes gives it
                plan.services.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "metadata": {"name": claim_name}, "spec": copy.deepcopy(claim["spec"])})
                plan.volumes.append(claim_name)
                spec.setdefault("volumes", []).append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}})
            d["spec"]["template"]["spec"] = spec
            plan.services.append(d)
        elif kind == "Job":
            spec = _pod_spec_for_podman(m["spec"]["template"]["spec"], by_name, host_dir)
            spec["restartPolicy"] = "Never"
            plan.jobs.append({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": name, "labels": dict(m["spec"]["template"]["metadata"].get("labels", {}))},
                              "spec": spec})
        elif kind in PLAYED_KINDS - {"ConfigMap"}:
            plan.services.append(copy.deepcopy(m))
        elif kind != "ConfigMap":
            plan.not_played.append(f"{kind}/{name}")
    # ConfigMaps are read at play time from the same file: each step carries them.
    for step in (plan.broker, plan.services, plan.jobs):
        if step:
            step[:0] = copy.deepcopy(configmaps)
    return plan


def secret_payload(data: dict[str, str]) -> bytes:
    """What `podman secret create NAME -` takes for a kube play secretKeyRef (podman 4.3): key -> base64 value."""
    return json.dumps(data, sort_keys=True).encode()


def container_of(podman: Podman, pod: str) -> str:
    names = podman.run("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}}").split()
    workers = [n for n in names if not n.endswith("-infra")]
    if len(workers) != 1:
        raise RuntimeError(f"pod {pod}: expected one container, found {workers}")
    return workers[0]


def pod_of(podman: Podman, deployment: str) -> str:
    """podman kube play names a Deployment's pod <name>-pod-<n> (4.3) or <name>-pod (later versions)."""
    names = podman.run("pod", "ps", "--format", "{{.Name}}").split()
    [pod] = [n for n in names if re.fullmatch(re.escape(deployment) + r"-pod(-\d+)?", n)]
    return pod


@dataclass
class Session:
    """The files played so far (by step) and, after teardown, what was left behind."""

    podman: Podman
    workdir: Path
    files: dict[str, Path] = field(default_factory=dict)
    left: dict[str, list[str]] = field(default_factory=dict)

    def play(self, step: str, docs: list[Manifest]) -> None:
        import yaml

        path = self.workdir / f"{step}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        self.files[step] = path
        self.podman.run("kube", "play", "--replace", str(path), timeout=300)


@contextlib.contextmanager
def played(podman: Podman, plan: PodmanPlan, workdir: Path, *, instance: str) -> Iterator[Session]:
    """Create the plan's secrets and yield a Session to play steps in; on exit tear down, whatever happened:
    `kube down` of every step, then the pods of release `instance`, the volumes created meanwhile, the secrets."""
    session = Session(podman, workdir)
    volumes_before = set(podman.run("volume", "ls", "-q").split())
    try:
        for name, data in plan.secrets.items():
            podman.run("secret", "rm", name, check=False)
            podman.run("secret", "create", name, "-", input=secret_payload(data))
        yield session
    finally:
        for step in reversed(list(session.files)):
            podman.run("kube", "down", str(session.files[step]), check=False, timeout=120)
        for pod in podman.run("pod", "ps", "-q", "--filter", f"label=app.kubernetes.io/instance={instance}",
                              check=False).split():
            podman.run("pod", "rm", "-f", pod, check=False)
        new_volumes = set(podman.run("volume", "ls", "-q", check=False).split()) - volumes_before
        for volume in sorted(new_volumes | set(plan.volumes)):
            podman.run("volume", "rm", "-f", volume, check=False)
        for name in plan.secrets:
            podman.run("secret", "rm", name, check=False)
        session.left = {
            "pods": podman.run("pod", "ps", "-q", "--filter", f"label=app.kubernetes.io/instance={instance}",
                               check=False).split(),
            "volumes": sorted(set(podman.run("volume", "ls", "-q", check=False).split()) - volumes_before),
            "secrets": [s for s in podman.run("secret", "ls", "--format", "{{.Name}}", check=False).split() if s in plan.secrets],
        }
        if any(session.left.values()):
            _say(f"teardown left {session.left}")
