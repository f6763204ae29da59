"""`make kube-smoke`: play the chart's development deployment (helm/hds/values-dev.yaml) as pods with podman.

Renders the chart with helm-python-sdk, translates the manifests into what `podman kube play` (4.3) runs, plays
them in three steps (broker; gateway and catalog; the synthetic-feeds Job), waits for readiness, and checks
through the catalog API, as a researcher would, that every dataset filled from every synthetic feed and that no
raw identifier of the synthetic patients reached the catalog; then it repeats the leak check on the DuckDB file
itself (the same check as `hds demo --smoke`) and tears everything down: pods, volumes, secrets.
Prints a JSON summary as its last line; exit 0 (passed), 1 (failed) or 77 (cannot run here, reason printed).

How the manifests are translated for podman 4.3 (no cluster behind it): tests/helm/podman_kube.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helm_kit import CHART_DIR, REPO_ROOT, dev_values, merged  # noqa: E402
from podman_kube import CannotRun, Podman, container_of, played, pod_of, translate, why_podman_cannot_run  # noqa: E402

Manifest = dict[str, Any]
RELEASE = "smoke"
NAMESPACE = "hds"
SECRET_NAME = "hds-dev-keys"
SMOKE_KEY_ID = "smoke1"
CANNOT_RUN = 77
BUILD_SCRIPT = REPO_ROOT / "helm" / "image" / "build.sh"


def _say(msg: str) -> None:
    print(f"kube-smoke: {msg}", file=sys.stderr, flush=True)


# --- translation of rendered manifests into what podman kube play runs (pure, unit-tested) ---------------------

def as_text(obj: Any) -> str:
    """API answers as the text the leak check searches: JSON with every character as itself (no \\u escapes)."""
    return json.dumps(obj, ensure_ascii=False)


def leaked_identifiers(text: str, identifiers: dict[str, list[str]]) -> dict[str, int]:
    """Per kind, how many raw identifiers (4+ characters, case-insensitive) occur in `text`."""
    haystack = text.lower()
    return {kind: sum(1 for v in {x.strip().lower() for x in values if x and len(x.strip()) >= 4} if v in haystack)
            for kind, values in identifiers.items()}


# --- podman ----------------------------------------------------------------------------------------------------

def image_ref() -> str:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"localhost/hds:{version.replace('+', '_')}"


SOURCE_DIGEST_SCRIPT = REPO_ROOT / "helm" / "image" / "source-digest.sh"
SOURCE_DIGEST_LABEL = "org.hds.source-digest"


def source_digest() -> str:
    """The digest build.sh writes into the image's label: pyproject.toml and the four packages of this checkout."""
    return subprocess.run(["bash", str(SOURCE_DIGEST_SCRIPT)], check=True, capture_output=True, text=True,
                          timeout=120).stdout.strip()


def image_is_current(podman: Podman, image: str) -> bool:
    """True when the image exists and was built from exactly this checkout's code (its source-digest label)."""
    if not podman.ok("image", "exists", image):
        return False
    label = podman.run("image", "inspect", "--format", "{{index .Labels \"" + SOURCE_DIGEST_LABEL + "\"}}",
                       image, check=False).strip()
    return label == source_digest()


def ensure_image(podman: Podman, image: str, *, build: bool) -> float | None:
    """Build the image with helm/image/build.sh unless one built from this very checkout exists (or `build`);
    return the build seconds. An image of the same version built from other code is stale and rebuilt."""
    if not build and image_is_current(podman, image):
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


PLANT_DATASET = "lab_results"


def repository_policies() -> dict[str, str]:
    """The repository's policy files by relative path, as `policies.files` takes them."""
    root = REPO_ROOT / "policies"
    return {p.relative_to(root).as_posix(): p.read_text() for p in [root / "feeds.yaml", root / "datasets.yaml",
                                                                   *sorted((root / "deid").glob("*.yaml"))]}


def plant_leak_record(bootstrap: str, name: str) -> str:
    """Check the checker: copy one de-identified record of hds.deid.<PLANT_DATASET> under a new record id with a
    raw synthetic name in one of its text columns, as a faulty gateway would, and publish it. Returns the id."""
    import uuid

    from kafka import KafkaConsumer, KafkaProducer

    topic = f"hds.deid.{PLANT_DATASET}"
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=20000)
    try:
        record = next(iter(consumer))
    finally:
        consumer.close()
    env = json.loads(record.value)
    # a column the dataset policy releases as it is (`safe`): a `rekey` column (mrn, ids) is pseudonymised again
    # per grant by the sandbox, so a name planted there would never reach an API answer
    rekeyed = {"record_id", "patient_pseudonym", "mrn", "specimen_id"}
    text_columns = [c for c, v in env["columns"].items() if isinstance(v, str) and c not in rekeyed]
    text_columns.sort(key=lambda c: c not in ("comment", "test_name", "value"))
    if not text_columns:
        raise RuntimeError(f"cannot plant a leak: no text column in a {PLANT_DATASET} record")
    env["columns"][text_columns[0]] = name
    env["record_id"] = f"planted-{uuid.uuid4().hex}"
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        producer.send(topic, key=env["record_id"].encode(), value=json.dumps(env).encode()).get(timeout=30)
    finally:
        producer.close()
    return str(env["record_id"])


def render_dev(image: str, ports: dict[str, int], *, policy_files: dict[str, str] | None = None) -> list[Manifest]:
    import yaml
    from helm_python import Chart

    repo, tag = image.rsplit(":", 1)
    values = merged(dev_values(), {"policies": {"files": policy_files}} if policy_files else {})
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


FILE_LEAK_CHECK = """
import json, sys
from catalog.store import CatalogStore
from catalog.cli.demo import _identifier_leaks
identifiers = json.load(open("/ids/identifiers.json"))
store = CatalogStore(sys.argv[1])
try:
    print(json.dumps(_identifier_leaks(store, identifiers)))
finally:
    store.close()
"""


def run_smoke(*, work: Path, build: bool, timeout_s: float, plant_leak: bool = False, image: str | None = None) -> dict[str, Any]:
    """`plant_leak`: publish one de-identified record carrying a raw synthetic name, to show the leak checks catch it."""
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
    from catalog.cli.synth.feeds import generate

    if not podman.ok("info"):
        raise CannotRun("`podman info` fails here: " + podman.run("info", check=False).strip()[-300:])
    summary: dict[str, Any] = {"ok": False, "image": image or image_ref()}
    if image is None:
        image = image_ref()
        summary["build_seconds"] = ensure_image(podman, image, build=build)
    elif not podman.ok("image", "exists", image):
        raise RuntimeError(f"no image {image} in the podman store under {podman.work}")
    summary["image_mb"] = round(int(podman.run("image", "inspect", "--format", "{{.Size}}", image).strip()) / 1e6)
    # Can this machine run a container at all (namespaces, cgroups, runc)? If not, that is the machine, not the chart.
    probe = subprocess.run([*podman.base, "run", "--rm", "--network", "host", "--read-only", image, "--help"],
                           capture_output=True, env=podman.env, timeout=120)
    if probe.returncode != 0:
        lines = probe.stderr.decode(errors="replace").strip().splitlines() or [f"exit {probe.returncode}"]
        raise CannotRun(f"podman cannot run a container here: {lines[-1][-300:]}")
    ports = {"broker": free_port(), "api": free_port(), "metrics": free_port()}
    values = dev_values()["syntheticFeeds"]
    api = f"http://127.0.0.1:{ports['api']}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hds-kube-smoke-") as tmp:
        workdir = Path(tmp)
        plan = translate(render_dev(image, ports), host_dir=workdir / "configmaps")
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
        with played(podman, plan, workdir, instance=RELEASE) as session:
            session.play("broker", plan.broker)
            _wait("the broker", lambda: _tcp_open(ports["broker"]), 120)
            session.play("services", plan.services)
            _wait("the catalog's /health", lambda: _http(f"{api}/health")[0] == 200, 300)
            _wait("the gateway's /health",
                  lambda: _http(f"http://127.0.0.1:{ports['metrics']}/health")[0] == 200, 300)
            summary["ready_seconds"] = round(time.monotonic() - started, 1)
            summary["containers"] = {}
            for deployment in ("broker", "gateway", "catalog"):
                name = container_of(podman, pod_of(podman, f"{RELEASE}-hds-{deployment}"))
                ro, user = podman.run("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}", name).split()
                summary["containers"][deployment] = {"read_only_root": ro == "true", "user": user}
            _say(f"broker, gateway and catalog ready after {summary['ready_seconds']} s")

            session.play("jobs", plan.jobs)
            [job_pod] = [p["metadata"]["name"] for p in plan.jobs if p["kind"] == "Pod"]
            job = container_of(podman, job_pod)
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

            catalog_container = container_of(podman, pod_of(podman, f"{RELEASE}-hds-catalog"))

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
            if plant_leak:
                name = next(n for n in identifiers["names"] if len(n.strip()) >= 6)
                plant_leak_record(f"127.0.0.1:{ports['broker']}", name)
                deidentified += 1  # the planted record is loaded like any other
                datasets = _wait("the catalog to load the planted record", listed, timeout_s)
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

            # What a researcher can see of records: the record- and extract-tier datasets, through a granted query,
            # and the extract tier's CSV download too.
            api_text: list[str] = [as_text(datasets)]
            downloads: list[str] = []
            record_tier = [d["id"] for d in datasets if d["tier"] in ("record", "extract")]
            for ds in record_tier:
                status, req = _http(f"{api}/api/access-requests", token=researcher,
                                    body={"datasets": [ds], "purpose": "kube smoke leak check", "duration_days": 1})
                status, grant = _http(f"{api}/api/access-requests/{req['id']}/approve", token=admin, body={})
                status, result = _http(f"{api}/api/query", token=researcher,
                                       body={"grant_id": grant["grant_id"], "sql": f'SELECT * FROM "{ds}"'})
                if status != 200 or not result.get("rows"):
                    raise RuntimeError(f"the granted query on {ds} answered {status}")
                api_text.append(as_text(result["rows"]))
                if next(d["tier"] for d in datasets if d["id"] == ds) == "extract":
                    status, csv_text = _http(f"{api}/api/exports", token=researcher,
                                             body={"grant_id": grant["grant_id"], "sql": f'SELECT * FROM "{ds}"',
                                                   "format": "csv"})
                    if status != 200 or not isinstance(csv_text, str):
                        raise RuntimeError(f"the granted CSV export of {ds} answered {status}")
                    downloads.append(csv_text)
            summary["api_rows_checked"] = sum(len(json.loads(t)) for t in api_text[1:])
            summary["downloads_checked"] = len(downloads)
            api_text.extend(downloads)
            summary["api_identifier_leaks"] = leaked_identifiers("\n".join(api_text), identifiers)

            # The DuckDB file itself, once its one owner (the catalog pod) has stopped.
            podman.run("pod", "stop", "-t", "30", pod_of(podman, f"{RELEASE}-hds-catalog"))
            ids_dir = workdir / "ids"
            ids_dir.mkdir()
            (ids_dir / "identifiers.json").write_text(json.dumps(identifiers))
            [volume] = [v for v in plan.volumes if v.startswith("catalog-")]
            out = podman.run("run", "--rm", "--network", "none", "--read-only", "--user", "10001:10001",
                             "-v", f"{volume}:/var/lib/hds", "-v", f"{ids_dir}:/ids:ro",
                             "--entrypoint", "/opt/hds/venv/bin/python", image, "-c", FILE_LEAK_CHECK,
                             "/var/lib/hds/catalog.duckdb")
            summary["file_identifier_leaks"] = json.loads(out.strip().splitlines()[-1])
        summary["teardown_left"] = session.left
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
        "every extract-tier dataset was downloaded as CSV": summary["downloads_checked"] == sum(
            1 for d in datasets if d["tier"] == "extract"),
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
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each stage (upper bound)")
    p.add_argument("--plant-leak", action="store_true",
                   help="check the checker: one loaded record carries a raw synthetic name; passes only if both leak "
                        "checks catch it")
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
