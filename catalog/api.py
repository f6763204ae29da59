"""The catalog API (FastAPI app factory). The typed service container comes in as its argument; no import-time work."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from catalog import errors
from catalog.body_limit import BodyLimit
from catalog.container import CatalogServices
from catalog.deps import CurrentPrincipal
from catalog.governance import install
from catalog.metrics import CatalogMetrics
from catalog.routes import datasets, docs, feeds, ingest, metadata, portal, query


def create_app(services: CatalogServices) -> FastAPI:
    """The app over `services` (built once by the process's entry point: `catalog.container.build_services`)."""
    app = FastAPI(
        title="City health data space — catalog API",
        version="0.1.0",
        description="De-identified hospital datasets, access governance and a disclosure-controlled query sandbox. "
        "Every endpoint except /health needs a bearer token (Keycloak or the embedded dev issuer).",
        docs_url=None,  # served from local assets under a CSP (catalog/routes/docs.py)
        redoc_url=None,
    )
    app.state.services = services  # the only thing on app.state; routes take it typed (catalog.container.Services)
    metrics = services.metrics
    metrics.add_dataset_rows(services.store.row_counts)
    _measure_requests(app, metrics)
    errors.install(app)  # the one map from domain errors to status codes and JSON details
    _add_operations_routes(app, services, metrics)
    app.include_router(metadata.router)
    app.include_router(datasets.router)
    app.include_router(feeds.router)
    app.include_router(query.router)
    app.include_router(ingest.router)
    app.include_router(portal.router)
    docs.install(app)
    install(app)  # access requests, grants and audit (policies/access, policies/audit)
    # Outermost: body limits hold before any parsing or token verification.
    app.add_middleware(BodyLimit, prefixes={"/api/ingest/": ingest.MAX_BODY})
    return app


def _measure_requests(app: FastAPI, metrics: CatalogMetrics) -> None:
    @app.middleware("http")
    async def _measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.http_requests.labels(path, request.method, str(response.status_code)).inc()
        metrics.http_seconds.labels(path).observe(time.perf_counter() - started)
        return response


def _add_operations_routes(app: FastAPI, services: CatalogServices, metrics: CatalogMetrics) -> None:
    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        stats = services.loader_stats
        return {
            "status": "ok",
            "datasets": len(services.store.dataset_ids()),
            "loader": None if stats is None else {"loaded": stats.loaded, "rejected": stats.rejected,
                                                  "duplicates": stats.duplicates, "lag": stats.lag(),
                                                  "lag_known": stats.loop.caught_up_known()},
        }

    @app.get("/metrics", tags=["operations"])
    def prometheus(principal: CurrentPrincipal) -> Response:
        stats = services.loader_stats
        if stats is not None:
            metrics.loader_rows.set(stats.loaded)
            metrics.loader_rejected.set(stats.rejected)
            metrics.loader_lag.set(stats.lag())
            metrics.loader_duplicates.set(stats.duplicates)
            metrics.loader_retries.set(stats.loop.retries)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")
