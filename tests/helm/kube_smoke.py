"""`make kube-smoke`: play the chart's development deployment (helm/hds/values-dev.yaml) as pods with podman.

Renders the chart with helm-python-sdk, translates the manifests into what `podman kube play` (4.3) runs, plays
them in three steps (broker; gateway and catalog; the synthetic-feeds Job), waits for readiness, and checks
through the catalog API, as a researcher would, that every dataset filled from every synthetic feed and that no
raw identifier of the synthetic patients reached the catalog; then it repeats the leak check on the DuckDB file
itself (the same check as `hds demo --smoke`) and tears everything down: pods, volumes, secrets.
Prints a JSON summary as its last line; exit 0 (passed), 1 (failed) or 77 (cannot run here, reason printed).

What podman 4.3 lacks, and what the translation does about it (the pod specs are otherwise played as rendered):
- no Services or cluster DNS: every pod joins the host network and the broker advertises 127.0.0.1, on free
  ports chosen for the run (values, not patches);
- no StatefulSet or Job kinds: the catalog StatefulSet becomes a Deployment with its volumeClaimTemplate as a
  PersistentVolumeClaim (a podman volume), a Job becomes a Pod with the same spec;
- `kind: Secret` documents fail to parse: they are created with `podman secret create` instead (the dev keys,
  random per run, are created that way);
- ConfigMap items in subdirectories (policies.files' "deid/<profile>.yaml") fail to mount: such a ConfigMap is
  laid out on the host as its items say and mounted from there (hostPath, read-only);
- probes: podman runs httpGet/tcpSocket probes with curl inside the container, which the image does not carry;
  they are removed and the harness polls the same endpoints from the host instead;
- NetworkPolicies, PodDisruptionBudgets, ServiceAccounts, Services, HPAs have no podman equivalent: not played
  (tests/helm asserts on them).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helm_release import CHART_DIR, REPO_ROOT, dev_values, merged  # noqa: E402

Manifest = dict[str, Any]
RELEASE = "smoke"
NAMESPACE = "hds"
SECRET_NAME = "hds-dev-keys"
SMOKE_KEY_ID = "smoke1"
PLAYED_KINDS = {"ConfigMap", "Deployment", "PersistentVolumeClaim", "Pod"}
NOT_PLAYED = {"Service", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "HorizontalPodAutoscaler", "Ingress"}
CANNOT_RUN = 77
BUILD_SCRIPT = REPO_ROOT / "helm" / "image" / "build.sh"


def _say(msg: str) -> None:
    print(f"kube-smoke: {msg}", file=sys.stderr, flush=True)


# --- translation of rendered manifests into what podman kube play runs (pure, unit-tested) ---------------------

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


def as_text(obj: Any) -> str:
    """API answers as the text the leak check searches: JSON with every character as itself (no \\u escapes)."""
    return json.dumps(obj, ensure_ascii=False)


def leaked_identifiers(text: str, identifiers: dict[str, list[str]]) -> dict[str, int]:
    """Per kind, how many raw identifiers (4+ characters, case-insensitive) occur in `text`."""
    haystack = text.lower()
    return {kind: sum(1 for v in {x.strip().lower() for x in values if x and len(x.strip()) >= 4} if v in haystack)
            for kind, values in identifiers.items()}


# --- podman ----------------------------------------------------------------------------------------------------

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


def image_ref() -> str:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"localhost/hds:{version.replace('+', '_')}"


def ensure_image(podman: Podman, image: str, *, build: bool) -> float | None:
    """Build the image with helm/image/build.sh unless it exists (or `build`); return the build seconds."""
    if podman.ok("image", "exists", image) and not build:
        return None
    if shutil.which("debootstrap") is None:
        raise CannotRun("the image is not built and debootstrap is not installed")
    _say(f"building {image} with helm/image/build.sh")
    started = time.monotonic()
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=REPO_ROOT, env={**os.environ, "HDS_IMAGE_WORK": str(podman.work)},
                          stdout=subprocess.PIPE, stderr=None, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"helm/image/build.sh failed (exit {proc.returncode})")
    return round(time.monotonic() - started, 1)


# --- the smoke -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PLANTED_PROFILE = "deid/csv-lab-safe-harbor.yaml"
PLANTED_RULE = ("patient_name: {op: drop, role: name}", "patient_name: keep")


def planted_leak_policies() -> dict[str, str]:
    """The repository's policy files with one planted leak: the CSV lab profile keeps the patient's name."""
    root = REPO_ROOT / "policies"
    files = {p.relative_to(root).as_posix(): p.read_text() for p in [root / "feeds.yaml", root / "datasets.yaml",
                                                                    *sorted((root / "deid").glob("*.yaml"))]}
    drop, keep = PLANTED_RULE
    if drop not in files.get(PLANTED_PROFILE, ""):
        raise RuntimeError(f"cannot plant the leak: {PLANTED_PROFILE} has no line {drop!r}")
    files[PLANTED_PROFILE] = files[PLANTED_PROFILE].replace(drop, keep)
    return files


def render_dev(image: str, ports: dict[str, int], *, plant_leak: bool = False) -> list[Manifest]:
    import yaml
    from helm_python import Chart

    repo, tag = image.rsplit(":", 1)
    values = merged(dev_values(), {"policies": {"files": planted_leak_policies()}} if plant_leak else {})
    values = merged(values, {
        "image": {"repository": repo, "tag": tag},
        "broker": {"port": ports["broker"], "advertisedHost": "127.0.0.1"},
        "catalog": {"port": ports["api"], "service": {"port": ports["api"]}},
        "gateway": {"metricsPort": ports["metrics"]},
        "networkPolicy": {"kafka": {"ports": [ports["broker"]]}},
    })
    with Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return [doc for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]


def _http(url: str, *, token: str | None = None, body: Any = None, timeout: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 (http://127.0.0.1 only)
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _wait(what: str, check: Any, timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (OSError, urllib.error.URLError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _tcp_open(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _container(podman: Podman, pod: str) -> str:
    names = podman.run("ps", "-a", "--filter", f"pod={pod}", "--format", "{{.Names}}").split()
    workers = [n for n in names if not n.endswith("-infra")]
    if len(workers) != 1:
        raise RuntimeError(f"pod {pod}: expected one container, found {workers}")
    return workers[0]


def _pod_of(podman: Podman, deployment: str) -> str:
    """podman kube play names a Deployment's pod <name>-pod-<n> (4.3) or <name>-pod (later versions)."""
    names = podman.run("pod", "ps", "--format", "{{.Name}}").split()
    [pod] = [n for n in names if re.fullmatch(re.escape(deployment) + r"-pod(-\d+)?", n)]
    return pod


@contextlib.contextmanager
def played(podman: Podman, plan: PodmanPlan, workdir: Path) -> Iterator[dict[str, Path]]:
    """Create the secrets, yield a player; on exit tear down pods, volumes and secrets, whatever happened."""
    files: dict[str, Path] = {}
    volumes_before = set(podman.run("volume", "ls", "-q").split())
    try:
        for name, data in plan.secrets.items():
            podman.run("secret", "rm", name, check=False)
            podman.run("secret", "create", name, "-", input=secret_payload(data))
        yield files
    finally:
        for step in reversed(list(files)):
            podman.run("kube", "down", str(files[step]), check=False, timeout=120)
        for pod in podman.run("pod", "ps", "-q", "--filter", f"label=app.kubernetes.io/instance={RELEASE}",
                              check=False).split():
            podman.run("pod", "rm", "-f", pod, check=False)
        new_volumes = set(podman.run("volume", "ls", "-q", check=False).split()) - volumes_before
        for volume in sorted(new_volumes | set(plan.volumes)):
            podman.run("volume", "rm", "-f", volume, check=False)
        for name in plan.secrets:
            podman.run("secret", "rm", name, check=False)
        left = {
            "pods": podman.run("pod", "ps", "-q", "--filter", f"label=app.kubernetes.io/instance={RELEASE}", check=False).split(),
            "volumes": sorted(set(podman.run("volume", "ls", "-q", check=False).split()) - volumes_before),
            "secrets": [s for s in podman.run("secret", "ls", "--format", "{{.Name}}", check=False).split() if s in plan.secrets],
        }
        if any(left.values()):
            _say(f"teardown left {left}")
        files["__left__"] = Path(json.dumps(left))


def play(podman: Podman, files: dict[str, Path], workdir: Path, step: str, docs: list[Manifest]) -> None:
    import yaml

    path = workdir / f"{step}.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    files[step] = path
    podman.run("kube", "play", "--replace", str(path), timeout=300)


FILE_LEAK_CHECK = """
import json, sys
from catalog.store import CatalogStore
from gateway.demo import _identifier_leaks
identifiers = json.load(open("/ids/identifiers.json"))
store = CatalogStore(sys.argv[1])
try:
    print(json.dumps(_identifier_leaks(store, identifiers)))
finally:
    store.close()
"""


def run_smoke(*, work: Path, build: bool, timeout_s: float, plant_leak: bool = False, image: str | None = None) -> dict[str, Any]:
    """`plant_leak`: play the chart with a policy that keeps patients' names, to show the leak checks catch it."""
    reason = why_podman_cannot_run()
    if reason:
        raise CannotRun(reason)
    podman = Podman(work)
    with _exclusive(work / "kube-smoke.lock"):
        return _run_smoke(podman, build=build, timeout_s=timeout_s, plant_leak=plant_leak, image=image)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One smoke at a time per podman store (a second one waits): they would share pod and secret names."""
    import fcntl

    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_smoke(podman: Podman, *, build: bool, timeout_s: float, plant_leak: bool, image: str | None) -> dict[str, Any]:
    from gateway.synth import generate

    if not podman.ok("info"):
        raise CannotRun("`podman info` fails here: " + podman.run("info", check=False).strip()[-300:])
    summary: dict[str, Any] = {"ok": False, "image": image or image_ref()}
    if image is None:
        image = image_ref()
        summary["build_seconds"] = ensure_image(podman, image, build=build)
    elif not podman.ok("image", "exists", image):
        raise RuntimeError(f"no image {image} in the podman store under {podman.work}")
    summary["image_mb"] = round(int(podman.run("image", "inspect", "--format", "{{.Size}}", image).strip()) / 1e6)
    ports = {"broker": free_port(), "api": free_port(), "metrics": free_port()}
    values = dev_values()["syntheticFeeds"]
    api = f"http://127.0.0.1:{ports['api']}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hds-kube-smoke-") as tmp:
        workdir = Path(tmp)
        plan = translate(render_dev(image, ports, plant_leak=plant_leak), host_dir=workdir / "configmaps")
        summary["planted_leak"] = plant_leak
        summary["not_played"] = sorted(plan.not_played)
        if SECRET_NAME in plan.secrets:
            raise RuntimeError(f"the chart rendered the Secret {SECRET_NAME}: keys must never come from values")
        plan.secrets[SECRET_NAME] = {
            "HDS_DEID_KEYS": base64.b64encode(f"{SMOKE_KEY_ID}:{secrets.token_hex(32)}".encode()).decode(),
            "HDS_DEID_KEY_ID": base64.b64encode(SMOKE_KEY_ID.encode()).decode(),
            "HDS_SANDBOX_KEY": base64.b64encode(secrets.token_hex(32).encode()).decode(),
        }
        # The Job generates the feeds inside its pod; the same generator and seed here give the identifiers to
        # look for (checked below against the Job's own per-feed message counts).
        manifest = generate(workdir / "feeds", seed=int(values["seed"]), patients=int(values["patients"]))
        identifiers = manifest.identifiers.as_dict()
        with played(podman, plan, workdir) as files:
            play(podman, files, workdir, "broker", plan.broker)
            _wait("the broker", lambda: _tcp_open(ports["broker"]), 60)
            play(podman, files, workdir, "services", plan.services)
            _wait("the catalog's /health", lambda: _http(f"{api}/health")[0] == 200, 120)
            _wait("the gateway's /health",
                  lambda: _http(f"http://127.0.0.1:{ports['metrics']}/health")[0] == 200, 180)
            summary["ready_seconds"] = round(time.monotonic() - started, 1)
            summary["containers"] = {}
            for deployment in ("broker", "gateway", "catalog"):
                name = _container(podman, _pod_of(podman, f"{RELEASE}-hds-{deployment}"))
                ro, user = podman.run("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}", name).split()
                summary["containers"][deployment] = {"read_only_root": ro == "true", "user": user}
            _say(f"broker, gateway and catalog ready after {summary['ready_seconds']} s")

            play(podman, files, workdir, "jobs", plan.jobs)
            [job_pod] = [p["metadata"]["name"] for p in plan.jobs if p["kind"] == "Pod"]
            job = _container(podman, job_pod)
            exit_code = int(podman.run("wait", job, timeout=timeout_s).strip() or 1)
            reports = [json.loads(line) for line in podman.run("logs", job).splitlines()
                       if line.startswith("{") and '"topic"' in line]
            published = {r["topic"]: int(r["messages"]) for r in reports}
            expected = {f"hds.raw.{h}.{f}": info.messages for h, f, info, _path in manifest.feeds()}
            summary.update(job_exit=exit_code, messages_published=sum(published.values()),
                           feeds_published=len(published))
            if exit_code != 0 or published != expected:
                raise RuntimeError(f"the synthetic-feeds Job exited {exit_code} and published {published}, "
                                   f"expected {expected}")
            _say(f"the Job published {sum(published.values())} messages on {len(published)} feeds")

            metrics_url = f"http://127.0.0.1:{ports['metrics']}/metrics"
            total = sum(published.values())

            def processed() -> tuple[float, float] | None:
                text = str(_http(metrics_url)[1])
                consumed = _metric(text, "hds_gateway_messages_consumed")
                return (consumed, _metric(text, "hds_gateway_messages_deidentified")) if consumed >= total else None

            catalog_container = _container(podman, _pod_of(podman, f"{RELEASE}-hds-catalog"))

            def token(user: str, role: str) -> str:
                return podman.run("exec", catalog_container, "hds", "token", "--user", user, "--role", role).strip()

            researcher, admin = token("kube-smoke-researcher", "researcher"), token("kube-smoke-admin", "authority-admin")
            consumed, deidentified = _wait("the gateway to consume every message", processed, timeout_s)
            dead = _metric(str(_http(metrics_url)[1]), "hds_gateway_dead_letters")
            summary.update(consumed=int(consumed), deidentified=int(deidentified), dead_lettered=int(dead))

            def listed() -> list[dict[str, Any]] | None:
                status, body = _http(f"{api}/api/datasets", token=researcher)
                if status != 200:
                    return None
                return body if sum(d["rows"] for d in body) >= deidentified else None

            datasets = _wait("the catalog to load every de-identified record", listed, timeout_s)
            summary["rows"] = {d["id"]: d["rows"] for d in datasets}
            summary["unauthenticated_status"] = _http(f"{api}/api/datasets")[0]
            reached: set[tuple[str, str]] = set()
            key_ids: set[str] = set()
            for d in datasets:
                status, detail = _http(f"{api}/api/datasets/{d['id']}", token=researcher)
                if status == 200:
                    reached |= {(s["hospital"], s["feed"]) for s in detail.get("sources", [])}
                    key_ids |= set(detail.get("key_ids", []))
            summary["key_ids"] = sorted(key_ids)  # the pseudonymisation key came from the podman secret
            summary["feeds_missing"] = sorted(f"{h}/{f}" for h, f, _i, _p in manifest.feeds() if (h, f) not in reached)
            summary["datasets_empty"] = sorted(d["id"] for d in datasets if d["rows"] <= 0)

            # What a researcher can see of records: the record-tier datasets, through a granted query.
            api_text: list[str] = [as_text(datasets)]
            record_tier = [d["id"] for d in datasets if d["tier"] == "record"]
            for ds in record_tier:
                status, req = _http(f"{api}/api/access-requests", token=researcher,
                                    body={"datasets": [ds], "purpose": "kube smoke leak check", "duration_days": 1})
                status, grant = _http(f"{api}/api/access-requests/{req['id']}/approve", token=admin, body={})
                status, result = _http(f"{api}/api/query", token=researcher,
                                       body={"grant_id": grant["grant_id"], "sql": f'SELECT * FROM "{ds}"'})
                if status != 200 or not result.get("rows"):
                    raise RuntimeError(f"the granted query on {ds} answered {status}")
                api_text.append(as_text(result["rows"]))
            summary["api_rows_checked"] = sum(len(json.loads(t)) for t in api_text[1:])
            summary["api_identifier_leaks"] = leaked_identifiers("\n".join(api_text), identifiers)

            # The DuckDB file itself, once its one owner (the catalog pod) has stopped.
            podman.run("pod", "stop", "-t", "30", _pod_of(podman, f"{RELEASE}-hds-catalog"))
            ids_dir = workdir / "ids"
            ids_dir.mkdir()
            (ids_dir / "identifiers.json").write_text(json.dumps(identifiers))
            [volume] = [v for v in plan.volumes if v.startswith("catalog-")]
            out = podman.run("run", "--rm", "--network", "none", "--read-only", "--user", "10001:10001",
                             "-v", f"{volume}:/var/lib/hds", "-v", f"{ids_dir}:/ids:ro",
                             "--entrypoint", "/opt/hds/venv/bin/python", image, "-c", FILE_LEAK_CHECK,
                             "/var/lib/hds/catalog.duckdb")
            summary["file_identifier_leaks"] = json.loads(out.strip().splitlines()[-1])
        summary["teardown_left"] = json.loads(str(files["__left__"]))
    summary["seconds"] = round(time.monotonic() - started, 1)
    checks = {
        "the API refuses a request without a token": summary["unauthenticated_status"] == 401,
        "records were pseudonymised with the key from the podman secret": summary["key_ids"] == [SMOKE_KEY_ID],
        "every container runs as uid 10001 on a read-only root": all(
            c["read_only_root"] and c["user"].split(":")[0] == "10001" for c in summary["containers"].values()),
        "every published message was de-identified or dead-lettered":
            summary["deidentified"] + summary["dead_lettered"] >= summary["messages_published"],
        "the catalog holds every de-identified record": sum(summary["rows"].values()) >= summary["deidentified"],
        "every synthetic feed reached the catalog": not summary["feeds_missing"],
        "every dataset filled": not summary["datasets_empty"] and len(summary["rows"]) >= 4,
        "record-tier rows were read through a granted query": len(record_tier) >= 1 and summary["api_rows_checked"] > 0,
        "no synthetic identifier in what the API returns": sum(summary["api_identifier_leaks"].values()) == 0,
        "no synthetic identifier in the DuckDB file": sum(summary["file_identifier_leaks"].values()) == 0,
        "nothing left behind (pods, volumes, secrets)": not any(summary["teardown_left"].values()),
    }
    summary["failed_checks"] = [name for name, passed in checks.items() if not passed]
    summary["ok"] = not summary["failed_checks"]
    if plant_leak:  # passes when exactly the two leak checks fail, and both find names
        leak_checks = ["no synthetic identifier in what the API returns", "no synthetic identifier in the DuckDB file"]
        summary["planted_leak_caught"] = (
            summary["failed_checks"] == leak_checks
            and summary["api_identifier_leaks"]["names"] > 0 and summary["file_identifier_leaks"]["names"] > 0)
        summary["ok"] = summary["planted_leak_caught"]
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=os.environ.get("HDS_IMAGE_WORK", str(Path(tempfile.gettempdir()) / "hds-image")),
                   help="scratch directory holding podman's store (default $HDS_IMAGE_WORK or $TMPDIR/hds-image)")
    p.add_argument("--build", action="store_true", help="rebuild the image even if it exists")
    p.add_argument("--image", default=None,
                   help="play this image from the store instead (e.g. one built from the Containerfile); never built")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the pipeline")
    p.add_argument("--plant-leak", action="store_true",
                   help="check the checker: a policy keeps patients' names; passes only if both leak checks catch it")
    args = p.parse_args(argv)
    try:
        summary = run_smoke(work=Path(args.work), build=args.build, timeout_s=args.timeout, plant_leak=args.plant_leak,
                            image=args.image)
    except CannotRun as exc:
        _say(f"cannot run here: {exc}")
        print(json.dumps({"ok": None, "skipped": str(exc)}))
        return CANNOT_RUN
    except Exception as exc:  # noqa: BLE001 (reported, teardown already ran)
        _say(f"FAILED: {exc}")
        print(json.dumps({"ok": False, "error": re.sub(r"\s+", " ", str(exc))[:800]}))
        return 1
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
