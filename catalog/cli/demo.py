"""`hds demo`: the whole data space on one machine, and `hds demo --smoke`, which checks it end to end.

Broker (embedded tansu unless HDS_KAFKA_BOOTSTRAP is set), gateway (a separate process, so de-identification
has its own core), catalog loader + API (this process), synthetic feeds for three hospitals published through
Kafka. The smoke run verifies every feed reached the catalog and that no raw identifier of the synthetic
patients is anywhere in the DuckDB file, then prints a JSON summary as its last line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.cli.data_dir_lock import DataDirInUse, DataDirLock, check_port_free
from catalog.cli.synth.feeds import generate
from catalog.server import CatalogRuntime, start_catalog
from gateway.broker import EmbeddedBroker, free_port
from gateway.dlq import DeadLetterCounter
from gateway.kafka_io import make_producer
from gateway.publish import publish_files
from policies.identity.dev_issuer import DevIssuer
from policies.principal import RESEARCHER
from policies.settings import Settings


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _start_gateway(settings: Settings, bootstrap: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update({
        "HDS_KAFKA_BOOTSTRAP": bootstrap,
        "HDS_DATA_DIR": str(settings.data_dir),
        "HDS_POLICIES_DIR": str(settings.policies_dir),
        "HDS_GATEWAY_GROUP": settings.gateway_group,
        "HDS_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
    })
    log = open(log_path, "ab")  # noqa: SIM115
    try:
        return subprocess.Popen([sys.executable, "-m", "catalog.cli.main", "gateway"], env=env, stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
    finally:
        log.close()


def _identifier_leaks(store: Any, identifiers: dict[str, list[str]]) -> dict[str, int]:
    """Count raw identifiers found in any column of any table, and in the bytes of the DuckDB file."""
    needles = {kind: sorted({v.strip().lower() for v in values if v and len(v.strip()) >= 4})
               for kind, values in identifiers.items()}
    cur = store.cursor()
    chunks: list[str] = []
    tables = cur.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    for schema, table in tables:
        cols = [r[0] for r in cur.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name=? AND table_name=?", [schema, table]).fetchall()]
        if not cols:
            continue
        select = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in cols)
        for row in cur.execute(f'SELECT {select} FROM "{schema}"."{table}"').fetchall():
            chunks.append("\x1f".join(v for v in row if v))
    text = "\n".join(chunks).lower()
    with store.write_lock:
        store.cursor().execute("CHECKPOINT")
    raw = b""
    for p in (store.path, Path(str(store.path) + ".wal")):
        if p.exists():
            raw += p.read_bytes().lower()
    leaks: dict[str, int] = {}
    for kind, values in needles.items():
        # Every value is searched in the decoded table contents; the raw file bytes (compressed pages, WAL) are
        # searched for values of 6+ characters only, where a chance match in binary data is negligible. A value
        # counts only as a whole token (not inside a longer run of letters and digits): a 7-digit MRN turns up by
        # chance inside the hex of record ids once the city has a few hundred patients, and a real leak in text
        # or in a column is delimited.
        n = sum(1 for v in values if _as_token(v, text) or (len(v) >= 6 and _as_token(v.encode("utf-8"), raw)))
        leaks[kind] = n
    return leaks


def _as_token(needle: Any, haystack: Any) -> bool:
    if needle not in haystack:  # the fast test first; the boundary check only for candidates
        return False
    if isinstance(needle, bytes):
        pattern: Any = re.compile(rb"(?<![0-9a-z])" + re.escape(needle) + rb"(?![0-9a-z])")
    else:
        pattern = re.compile(r"(?<![0-9a-z])" + re.escape(needle) + r"(?![0-9a-z])")
    return pattern.search(haystack) is not None


def _api_check(settings: Settings, url: str, rows: dict[str, int]) -> str:
    """Over HTTP with a dev-issuer token, as a researcher would: the API lists every dataset with its rows."""
    import httpx

    token = DevIssuer.from_settings(settings).issue("smoke-check", [RESEARCHER], ttl_s=300)
    try:
        r = httpx.get(f"{url}/api/datasets", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if httpx.get(f"{url}/api/datasets", timeout=30).status_code != 401:
            return "the API answered without a token"
    except httpx.HTTPError as exc:
        return f"API unreachable ({type(exc).__name__})"
    if r.status_code != 200:
        return f"GET /api/datasets answered {r.status_code}"
    listed = {d["id"]: d["rows"] for d in r.json()}
    if any(listed.get(ds) != n for ds, n in rows.items()):
        return "GET /api/datasets does not match the catalog"
    return "ok"


def run_demo(settings: Settings, *, smoke: bool, seed: int, patients: int, stop: threading.Event,
             timeout_s: float = 240.0, port_given: bool = False) -> int:
    started = time.monotonic()
    temp_dir: Path | None = None
    if smoke and "HDS_DATA_DIR" not in os.environ and settings.data_dir == Path(".hds"):
        temp_dir = Path(tempfile.mkdtemp(prefix="hds-smoke-"))
        settings = settings.with_(data_dir=temp_dir)
    if smoke and not port_given:
        settings = settings.with_(api_port=free_port())
    if settings.production:
        _say("hds demo: refusing to run with HDS_ENV=production (synthetic data, dev identity)")
        return 2
    # Each demo owns its data directory: the lock and the port check come before anything in it is touched.
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
        check_port_free(settings.api_host, settings.api_port)
    except DataDirInUse as exc:
        lock.release()
        _say(f"hds demo: {exc}; nothing was changed")
        return 2
    try:
        return _run_demo(settings, smoke=smoke, seed=seed, patients=patients, stop=stop, timeout_s=timeout_s,
                         started=started, temp_dir=temp_dir)
    finally:
        lock.release()


@dataclass
class _Parts:
    """What one demo run started, stopped in reverse order whatever happens."""

    broker: EmbeddedBroker | None = None
    gateway: subprocess.Popen[bytes] | None = None
    catalog: CatalogRuntime | None = None
    dlq: DeadLetterCounter | None = None

    def stop(self) -> None:
        if self.dlq is not None:
            self.dlq.close()
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.terminate()
            try:
                self.gateway.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
        if self.catalog is not None:
            self.catalog.stop()
        if self.broker is not None:
            self.broker.stop()


@dataclass(frozen=True)
class _Published:
    manifest: Any
    identifiers: Any  # the synthetic patients' raw identifiers by kind
    messages: int
    feeds: frozenset[tuple[str, str]]


def _run_demo(settings: Settings, *, smoke: bool, seed: int, patients: int, stop: threading.Event,
              timeout_s: float, started: float, temp_dir: Path | None) -> int:
    settings, base = _fresh_workdir(settings)
    parts = _Parts()
    summary: dict[str, Any] = {"ok": False}
    try:
        bootstrap = _start_broker(settings, base, parts)
        settings = settings.with_(kafka_bootstrap=bootstrap)
        parts.gateway = gateway = _start_gateway(settings, bootstrap, base / "gateway.log")
        _say(f"[2/5] gateway started (pid {gateway.pid}; log {base / 'gateway.log'})")
        parts.catalog = catalog = start_catalog(settings)
        _say(f"[3/5] catalog API on {catalog.url} (DuckDB file {settings.db_path})")
        _say(f"      the portal is up already: {catalog.url}/ (datasets fill in as the records arrive)")
        published = _publish_synthetic(bootstrap, base / "feeds", seed=seed, patients=patients)
        parts.dlq = DeadLetterCounter(bootstrap, security=settings.kafka_security())
        _wait_until_processed(parts, published.messages, base, timeout_s=timeout_s, stop=stop)
        summary, rows, reached = _summarise(catalog, parts.dlq, published)
        if smoke:
            summary = _smoke_verdict(summary, settings, catalog, parts.dlq, published, rows, reached, started)
            print(json.dumps(summary), flush=True)
            return 0 if summary["ok"] else 1
        summary["ok"] = True
        return _serve_until_stopped(settings, catalog.url, gateway, stop)
    finally:
        parts.stop()
        if temp_dir is not None and summary.get("ok"):
            shutil.rmtree(temp_dir, ignore_errors=True)


def _fresh_workdir(settings: Settings) -> tuple[Settings, Path]:
    """The demo's working files live under <data dir>/demo and start fresh: the embedded broker is memory-only,
    so a catalog (and its stored offsets) from an earlier run would not match it. The dev issuer's key stays in
    the data dir itself, so `hds token` in another terminal signs tokens this demo accepts."""
    base = settings.data_dir / "demo"
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    return settings.with_(catalog_db=base / "catalog.duckdb"), base


def _start_broker(settings: Settings, base: Path, parts: _Parts) -> str:
    """The configured Kafka, or else an embedded broker; its bootstrap address."""
    if settings.kafka_bootstrap:
        _say(f"[1/5] using Kafka at {settings.kafka_bootstrap}")
        return settings.kafka_bootstrap
    parts.broker = EmbeddedBroker(log_file=base / "broker.log").start()
    _say(f"[1/5] embedded Kafka-protocol broker on {parts.broker.bootstrap}")
    return parts.broker.bootstrap


def _publish_synthetic(bootstrap: str, feeds_dir: Path, *, seed: int, patients: int) -> _Published:
    """Generate the synthetic city's feeds and publish every hospital's feed files."""
    manifest = generate(feeds_dir, seed=seed, patients=patients)
    m = json.loads((feeds_dir / "manifest.json").read_text(encoding="utf-8"))
    producer = make_producer(bootstrap, client_id="hds-demo-publisher")
    published = 0
    feeds: set[tuple[str, str]] = set()
    try:
        for hospital, h in sorted(m["hospitals"].items()):
            for feed, f in sorted(h["feeds"].items()):
                path = Path(f["file"])
                path = path if path.is_absolute() else feeds_dir / path
                report = publish_files(producer, [path], hospital=hospital, feed=feed)
                published += report.messages
                feeds.add((hospital, feed))
    finally:
        producer.close(timeout=5)
    _say(f"[4/5] published {published} synthetic messages from {len(m['hospitals'])} hospitals "
         f"({m.get('shared_patients', '?')} patients visit more than one)")
    identifiers = manifest.identifiers if hasattr(manifest, "identifiers") else m["identifiers"]
    return _Published(manifest, identifiers, published, frozenset(feeds))


def _wait_until_processed(parts: _Parts, published: int, base: Path, *, timeout_s: float,
                          stop: threading.Event) -> None:
    """Until every published message is loaded or dead-lettered, the time is up, or the gateway exited."""
    assert parts.catalog is not None and parts.dlq is not None and parts.gateway is not None
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline and not stop.is_set():
        dead = parts.dlq.poll()
        loaded = parts.catalog.loader.stats.loaded if parts.catalog.loader else 0
        if loaded + dead != last:
            _say(f"      progress: {loaded + dead}/{published} processed ({loaded} loaded, {dead} dead-lettered)")
            last = loaded + dead
        if loaded + dead >= published:
            break
        if parts.gateway.poll() is not None:
            _say(f"hds demo: the gateway exited (code {parts.gateway.returncode}); see {base / 'gateway.log'}")
            break
        time.sleep(0.5)


def _summarise(catalog: CatalogRuntime, dlq: DeadLetterCounter, published: _Published
               ) -> tuple[dict[str, Any], dict[str, int], set[tuple[str, str]]]:
    """The JSON summary (not judged yet), the rows per dataset and the (hospital, feed) pairs that reached it."""
    store = catalog.store
    rows = {ds: (store.dataset_summary(ds) or {}).get("rows", 0) for ds in store.dataset_ids()}
    reached = {(src["hospital"], src["feed"]) for ds in store.dataset_ids()
               for src in (store.dataset_summary(ds) or {}).get("sources", [])}
    hospitals = sorted({h for h, _ in reached})
    summary = {
        "ok": False,
        "datasets": sorted(rows),
        "rows": rows,
        "hospitals": hospitals,
        "feeds_expected": len(published.feeds),
        "feeds_reached": len(published.feeds & reached),
        "messages_published": published.messages,
        "rows_loaded": sum(rows.values()),
        "dead_lettered": dlq.count,
        "dead_letter_reasons": dlq.reasons,
        "api": catalog.url,
    }
    _say(f"[5/5] catalog holds {sum(rows.values())} rows in {len(rows)} datasets from {len(hospitals)} hospitals")
    return summary, rows, reached


def _smoke_verdict(summary: dict[str, Any], settings: Settings, catalog: CatalogRuntime, dlq: DeadLetterCounter,
                   published: _Published, rows: dict[str, int], reached: set[tuple[str, str]],
                   started: float) -> dict[str, Any]:
    """`--smoke`: no raw identifier anywhere in the catalog, the API agrees, every feed arrived, nothing lost."""
    leaks = _identifier_leaks(catalog.store, published.identifiers)
    missing = sorted(f"{h}/{f}" for h, f in published.feeds - reached)
    judged = {**summary, "identifier_leaks": leaks, "api_check": _api_check(settings, catalog.url, rows),
              "feeds_missing": missing}
    judged["ok"] = (not missing and sum(leaks.values()) == 0 and judged["rows_loaded"] > 0
                    and judged["rows_loaded"] + dlq.count >= published.messages and judged["api_check"] == "ok")
    judged["seconds"] = round(time.monotonic() - started, 1)
    return judged


def _serve_until_stopped(settings: Settings, url: str, gateway: subprocess.Popen[bytes], stop: threading.Event) -> int:
    _say("")
    _say(f"The data space is running. Portal: {url}/   API: {url}/api  (OpenAPI {url}/docs)")
    _say("Get a token:   TOKEN=$(.venv/bin/hds token --user alice --role researcher)"
         + ("" if settings.data_dir == Path(".hds") else f"   (with HDS_DATA_DIR={settings.data_dir})"))
    _say(f"List datasets: curl -H \"Authorization: Bearer $TOKEN\" {url}/api/datasets")
    _say("Ctrl-C stops everything.")
    while not stop.wait(0.5):
        if gateway.poll() is not None:
            _say("hds demo: the gateway exited; see its log")
            return 1
    return 0
