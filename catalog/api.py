"""The catalog API (FastAPI app factory). The typed service container comes in as its argument; no import-time work."""

from __future__ import annotations

import json
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

LOADER_STALL_S = 120.0  # the loader's consume loop has not come round for this long: not alive


def _json(status: int, doc: dict[str, Any]) -> Response:
    return Response(json.dumps(doc), status_code=status, media_type="application/json")


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
    def loader_doc(stats: Any) -> dict[str, Any] | None:
        if stats is None:
            return None
        return {"loaded": stats.loaded, "rejected": stats.rejected, "duplicates": stats.duplicates,
                "lag": stats.lag(), "lag_known": stats.loop.caught_up_known(), "ready": stats.ready(),
                "loop_age_s": round(stats.loop_age_s(), 1)}

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Counts for people and dashboards (always 200 while the API answers); probes use /health/live and
        /health/ready."""
        return {"status": "ok", "datasets": len(services.store.dataset_ids()),
                "loader": loader_doc(services.loader_stats)}

    @app.get("/health/live", tags=["operations"])
    def health_live() -> Response:
        """200 while the API answers and the loader (when Kafka is configured) runs and its consume loop came
        round within LOADER_STALL_S; 503 otherwise (liveness: restart the process)."""
        stats = services.loader_stats
        alive = stats is None or (stats.running and stats.loop_age_s() < LOADER_STALL_S)
        return _json(200 if alive else 503, {"status": "ok" if alive else "stalled", "loader": loader_doc(stats)})

    @app.get("/health/ready", tags=["operations"])
    def health_ready() -> Response:
        """200 once the catalog file is open and the loader (when Kafka is configured) has partitions and has
        polled; 503 before (readiness: no traffic until then)."""
        stats = services.loader_stats
        ready = stats is None or (stats.ready() and stats.loop_age_s() < LOADER_STALL_S)
        return _json(200 if ready else 503, {"status": "ready" if ready else "not_ready", "loader": loader_doc(stats)})

    @app.get("/metrics", tags=["operations"])
    def prometheus(principal: CurrentPrincipal) -> Response:
        stats = services.loader_stats
        if stats is not None:
            metrics.loader_rows.set(stats.loaded)
            metrics.loader_rejected.set(stats.rejected)
            metrics.loader_lag.set(stats.lag())
            metrics.loader_duplicates.set(stats.duplicates)
            metrics.loader_retries.set(stats.loop.retries)
            metrics.loader_ready.set(1.0 if stats.ready() else 0.0)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")
