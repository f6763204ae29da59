"""The catalog's typed service container: every service the app and its routes use, built once per process.

`catalog.server.start_catalog` (the entry point of `hds catalog serve` and of the demo) reads the settings once and
calls `build_services`; `catalog.api.create_app` puts the container on the app as `app.state.services`, and routes
and dependencies take it typed, through `Services` (`Annotated[CatalogServices, Depends(services)]`). Nothing else
is kept on `app.state`, and nothing is created lazily on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request

from catalog.dataset_metadata import MetadataCache
from catalog.feed_health import DeadLetterSource, NoDeadLetters
from catalog.metrics import CatalogMetrics
from catalog.store import CatalogStore
from policies.identity.grant_mirror import GrantMirror, NoMirror
from policies.access.service import AccessService
from policies.audit.log import AuditLog
from policies.feeds import FeedRegistry
from policies.principal import Principal
from policies.sandbox.budget import PrivacyLedger
from policies.sandbox.differencing import QueryHistory
from policies.sandbox.fingerprint_store import FingerprintStore
from policies.sandbox.pool import QueryPool
from policies.sandbox.tiers import DatasetPolicies
from policies.settings import Settings

if TYPE_CHECKING:
    from catalog.loader import LoaderStats


class Verifier(Protocol):
    """Bearer-token verification (`policies.identity.verifier.TokenVerifier`, the dev issuer's, a test's)."""

    def verify(self, token: str) -> Principal: ...


@dataclass(frozen=True)
class CatalogServices:
    settings: Settings
    store: CatalogStore
    registry: FeedRegistry
    verifier: Verifier
    dataset_policies: DatasetPolicies
    metrics: CatalogMetrics
    access: AccessService
    audit: AuditLog
    query_history: QueryHistory
    query_pool: QueryPool
    privacy_ledger: PrivacyLedger
    metadata_cache: MetadataCache
    dead_letters: DeadLetterSource = field(default_factory=NoDeadLetters)
    producer: Any = None  # KafkaProducer for POST /api/ingest (None: ingest answers 503)
    producer_lock: threading.Lock = field(default_factory=threading.Lock)
    loader_stats: LoaderStats | None = None

    def tier_of(self, dataset: str) -> str:
        return str(self.dataset_policies.for_dataset(dataset).tier.value)


def build_services(
    settings: Settings,
    *,
    store: CatalogStore,
    registry: FeedRegistry,
    verifier: Verifier,
    dataset_policies: DatasetPolicies,
    mirror: GrantMirror | None = None,
    dead_letters: DeadLetterSource | None = None,
    producer: Any = None,
    loader_stats: LoaderStats | None = None,
    now: Callable[[], datetime] | None = None,
) -> CatalogServices:
    """Create the governance schemas if needed and every service over `store` (its cursors and write lock)."""
    audit = AuditLog(store.cursor, store.write_lock, now=now)
    audit.ensure_schema()
    access = AccessService(store.cursor, store.write_lock, audit=audit, mirror=mirror or NoMirror(),
                           dataset_exists=lambda ds: registry.dataset(ds) is not None or ds in store.dataset_ids(),
                           now=now)
    access.ensure_schema()
    fingerprints = FingerprintStore(store.cursor, store.write_lock)
    fingerprints.ensure_schema()
    return CatalogServices(
        settings=settings, store=store, registry=registry, verifier=verifier, dataset_policies=dataset_policies,
        metrics=CatalogMetrics(), access=access, audit=audit,
        # Differencing history survives restarts: stored fingerprints are keyed by a stable secret.
        query_history=QueryHistory(key=settings.sandbox_key(), store=fingerprints),
        query_pool=QueryPool(queue_timeout_s=settings.query_timeout_s),
        privacy_ledger=PrivacyLedger(store.cursor, store.write_lock),
        metadata_cache=MetadataCache(settings.profiles_dir),
        dead_letters=dead_letters or NoDeadLetters(), producer=producer, loader_stats=loader_stats,
    )


def services(request: Request) -> CatalogServices:
    """The app's container (a FastAPI dependency)."""
    container: CatalogServices = request.app.state.services
    return container


Services = Annotated[CatalogServices, Depends(services)]
