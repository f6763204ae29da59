"""`hds catalog serve`: the process that owns the DuckDB file — loader thread plus the API server."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from catalog.api import Services, create_app
from catalog.feed_health import KafkaDeadLetters
from catalog.loader import Loader
from catalog.store import CatalogStore
from gateway.dlq import list_dead_letters
from gateway.kafka_io import make_producer
from policies.feeds import FeedRegistry
from policies.identity.factory import verifier_from_settings
from policies.identity.keycloak_admin import mirror_from_settings
from policies.sandbox.tiers import load_dataset_policies
from policies.settings import Settings

log = logging.getLogger(__name__)


def dataset_policies(settings: Settings) -> Any:
    return load_dataset_policies(settings.datasets_file)


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


def _sweep_grants(app: Any, stop: threading.Event, every_s: float = 60.0) -> None:
    """Expired grants are refused at use anyway; the sweep also marks them expired, delivers the grant mirror's
    queued changes (retrying what an identity provider outage held back) and reconciles the identity provider
    with the live grants, so an expired grant leaves Keycloak within one period."""
    while not stop.wait(every_s):
        try:
            expired = app.state.access.sweep_expired()
            if expired:
                log.info("grant expiry sweep: %d grants expired", len(expired))
            delivery = app.state.access.deliver_mirror(reconcile=True)
            if delivery.pending:
                log.warning("grant mirror: %d changes still queued (identity provider unavailable?)", delivery.pending)
        except Exception as exc:  # the next sweep retries; enforcement does not depend on it
            log.warning("grant expiry sweep failed (%s)", type(exc).__name__)


def _dead_letter_source(settings: Settings) -> Any:
    """Dead letters for the feed-health views: headers only (codes and positions), see catalog.feed_health."""
    bootstrap, security = settings.kafka_bootstrap, settings.kafka_security()
    return KafkaDeadLetters(lambda: list_dead_letters(bootstrap, idle_s=0.5, security=security))


def start_catalog(settings: Settings, *, verifier: Any | None = None, mirror: Any | None = None) -> CatalogRuntime:
    registry = FeedRegistry.load(settings.feeds_file)
    policies = dataset_policies(settings)
    store = CatalogStore(settings.db_path, memory_limit=settings.query_memory_limit)
    if mirror is None:
        mirror = mirror_from_settings(settings)
    loader = producer = None
    extra_state: dict[str, Any] = {}
    if settings.kafka_bootstrap:
        loader = Loader(store, bootstrap=settings.kafka_bootstrap, group_id=settings.loader_group,
                        session_timeout_ms=settings.kafka_session_timeout_ms, topics=registry.deid_topics(),
                        security=settings.kafka_security())
        producer = make_producer(settings.kafka_bootstrap, client_id="hds-catalog-ingest",
                                 security=settings.kafka_security())
        extra_state["dead_letters"] = _dead_letter_source(settings)
    services = Services(
        settings=settings, store=store, registry=registry,
        verifier=verifier if verifier is not None else verifier_from_settings(settings),
        tier_of=lambda ds: str(policies.for_dataset(ds).tier.value),
        producer=producer, loader_stats=loader.stats if loader else None, dataset_policies=policies, mirror=mirror,
        extra_state=extra_state,
    )
    app = create_app(services)
    config = uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    rt = CatalogRuntime(settings, store, app, loader, server, producer=producer)
    if loader is not None:
        rt.threads.append(threading.Thread(target=loader.run, args=(rt.stop_event,), name="catalog-loader", daemon=True))
    rt.threads.append(threading.Thread(target=_sweep_grants, args=(app, rt.stop_event), name="grant-expiry",
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
