"""The catalog's liveness and readiness probes over HTTP: ready only once its loader has partitions and polled."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from pipeline_kit import wait_for

from catalog.api import create_app
from catalog.container import build_services
from catalog.loader import Loader
from catalog.server import start_catalog
from catalog.store import CatalogStore
from gateway.broker import EmbeddedBroker, free_port
from policies.feeds import FeedRegistry
from policies.identity.factory import verifier_from_settings
from policies.sandbox.tiers import load_dataset_policies
from policies.settings import Settings

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, bootstrap: str | None) -> Settings:
    env = {"HDS_ENV": "test", "HDS_DATA_DIR": str(tmp_path / "data"), "HDS_API_PORT": str(free_port()),
           "HDS_DEID_KEY": "test-key-0123456789-0123456789-abcdef", "HDS_LOADER_GROUP": f"ld-{tmp_path.name}"}
    if bootstrap:
        env["HDS_KAFKA_BOOTSTRAP"] = bootstrap
    return Settings.from_env(env)


def test_given_a_loader_that_has_polled_then_the_catalog_is_live_and_ready(broker: str, tmp_path: Path) -> None:
    rt = start_catalog(_settings(tmp_path, broker))
    try:
        assert wait_for(lambda: httpx.get(rt.url + "/health/ready", timeout=5).status_code == 200, timeout=60)
        ready = httpx.get(rt.url + "/health/ready", timeout=5).json()
        assert ready["status"] == "ready" and ready["loader"]["ready"] is True
        live = httpx.get(rt.url + "/health/live", timeout=5)
        assert live.status_code == 200 and live.json()["status"] == "ok"
        assert httpx.get(rt.url + "/health", timeout=5).json()["loader"]["ready"] is True
    finally:
        rt.stop()


def test_given_a_paused_broker_then_the_catalog_is_not_ready_until_its_loader_polls(tmp_path: Path) -> None:
    with EmbeddedBroker() as b:
        os.kill(b._proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]  # accepts connections, answers nothing
        settings = _settings(tmp_path, b.bootstrap)
        store = CatalogStore(tmp_path / "c.duckdb")
        loader = Loader(store, bootstrap=b.bootstrap, group_id="ld-paused", topics=["hds.deid.lab_results"])
        stop = threading.Event()
        threads = [threading.Thread(target=loader.run, args=(stop,), daemon=True)]
        app = create_app(build_services(settings, store=store, registry=FeedRegistry.load(settings.feeds_file),
                                        verifier=verifier_from_settings(settings), loader_stats=loader.stats,
                                        dataset_policies=load_dataset_policies(settings.datasets_file)))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.api_port, log_level="warning",
                                               access_log=False, lifespan="off"))
        threads.append(threading.Thread(target=server.run, daemon=True))
        for t in threads:
            t.start()
        url = f"http://127.0.0.1:{settings.api_port}"
        try:
            assert wait_for(lambda: server.started, timeout=20)
            for _ in range(3):  # not ready now, and still not ready a moment later
                r = httpx.get(url + "/health/ready", timeout=5)
                assert r.status_code == 503
                assert r.json()["status"] == "not_ready" and r.json()["loader"]["ready"] is False
                time.sleep(0.5)
            health = httpx.get(url + "/health", timeout=5)  # the counts endpoint still answers
            assert health.status_code == 200 and health.json()["loader"]["loaded"] == 0
        finally:
            os.kill(b._proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        assert wait_for(lambda: httpx.get(url + "/health/ready", timeout=5).status_code == 200, timeout=90)
        assert httpx.get(url + "/health/ready", timeout=5).json()["loader"]["ready"] is True
        stop.set()
        server.should_exit = True
        for t in threads:
            t.join(30)
        store.close()


def test_given_no_kafka_configured_then_the_api_alone_is_live_and_ready(tmp_path: Path) -> None:
    rt = start_catalog(_settings(tmp_path, None))
    try:
        for path in ("/health/live", "/health/ready"):
            r = httpx.get(rt.url + path, timeout=5)
            assert r.status_code == 200 and r.json()["loader"] is None
    finally:
        rt.stop()
