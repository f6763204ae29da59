"""`hds catalog serve`: the process that owns the DuckDB file — loader thread plus the API server."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from catalog.api import create_app
from catalog.container import CatalogServices, Verifier, build_services
from catalog.feed_health import DeadLetterSource, KafkaDeadLetters
from catalog.loader import Loader
from catalog.store import CatalogStore
from gateway.dlq import list_dead_letters
from gateway.kafka_io import make_producer
from policies.identity.grant_mirror import GrantMirror
from policies.feeds import FeedRegistry
from policies.identity.factory import verifier_from_settings
from policies.identity.keycloak_admin import mirror_from_settings
from policies.sandbox.tiers import load_dataset_policies
from policies.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class CatalogRuntime:
    settings: Settings
    store: CatalogStore
    app: Any
    loader: Loader | None
    server: uvicorn.Server
    threads: list[threading.Thread] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    producer: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def stop(self) -> None:
        self.stop_event.set()
        self.server.should_exit = True
        for t in self.threads:
            t.join(timeout=15)
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception:
                pass
        self.store.close()


def _sweep_grants(services: CatalogServices, stop: threading.Event, every_s: float = 60.0) -> None:
    """Expired grants are refused at use anyway; the sweep also marks them expired, delivers the grant mirror's
    queued changes (retrying what an identity provider outage held back) and reconciles the identity provider
    with the live grants, so an expired grant leaves Keycloak within one period."""
    while not stop.wait(every_s):
        try:
            expired = services.access.sweep_expired()
            if expired:
                log.info("grant expiry sweep: %d grants expired", len(expired))
            delivery = services.access.deliver_mirror(reconcile=True)
            if delivery.pending:
                log.warning("grant mirror: %d changes still queued (identity provider unavailable?)", delivery.pending)
        except Exception as exc:  # the next sweep retries; enforcement does not depend on it
            log.warning("grant expiry sweep failed (%s)", type(exc).__name__)


def _dead_letter_source(settings: Settings) -> DeadLetterSource:
    """Dead letters for the feed-health views: headers only (codes and positions), see catalog.feed_health."""
    bootstrap, security = settings.kafka_bootstrap, settings.kafka_security()
    return KafkaDeadLetters(lambda: list_dead_letters(bootstrap, idle_s=0.5, security=security))


def start_catalog(settings: Settings, *, verifier: Verifier | None = None,
                  mirror: GrantMirror | None = None) -> CatalogRuntime:
    """Start the catalog process's parts from `settings` (read once by the caller): the typed service container,
    the loader, the API server and the grant sweep."""
    registry = FeedRegistry.load(settings.feeds_file)
    store = CatalogStore(settings.db_path, memory_limit=settings.query_memory_limit)
    loader = producer = dead_letters = None
    if settings.kafka_bootstrap:
        loader = Loader(store, bootstrap=settings.kafka_bootstrap, group_id=settings.loader_group,
                        session_timeout_ms=settings.kafka_session_timeout_ms, topics=registry.deid_topics(),
                        security=settings.kafka_security())
        producer = make_producer(settings.kafka_bootstrap, client_id="hds-catalog-ingest",
                                 security=settings.kafka_security())
        dead_letters = _dead_letter_source(settings)
    services = build_services(
        settings, store=store, registry=registry,
        verifier=verifier if verifier is not None else verifier_from_settings(settings),
        dataset_policies=load_dataset_policies(settings.datasets_file),
        mirror=mirror if mirror is not None else mirror_from_settings(settings),
        dead_letters=dead_letters, producer=producer, loader_stats=loader.stats if loader else None,
    )
    app = create_app(services)
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    rt = CatalogRuntime(settings, store, app, loader, server, producer=producer)
    if loader is not None:
        rt.threads.append(threading.Thread(target=loader.run, args=(rt.stop_event,), name="catalog-loader", daemon=True))
    rt.threads.append(threading.Thread(target=_sweep_grants, args=(services, rt.stop_event), name="grant-expiry",
                                       daemon=True))
    rt.threads.append(threading.Thread(target=server.run, name="catalog-api", daemon=True))
    for t in rt.threads:
        t.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        if not rt.threads[-1].is_alive():
            rt.stop()
            raise RuntimeError(f"the API server could not start on {settings.api_host}:{settings.api_port} (port in use?)")
        time.sleep(0.05)
    return rt


def serve(settings: Settings, stop: threading.Event) -> int:
    rt = start_catalog(settings)
    print(f"catalog API on {rt.url} (OpenAPI: {rt.url}/openapi.json); DuckDB file {settings.db_path}"
          + ("" if settings.kafka_bootstrap else "; no Kafka configured: API only, nothing is loaded"),
          file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            if not all(t.is_alive() for t in rt.threads):
                print("hds catalog: a component stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        rt.stop()
    return 0
