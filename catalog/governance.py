"""Install access governance into the catalog app: the access and audit routers.

The services (`AccessService`, `AuditLog`) are built with the rest of the container
(`catalog.container.build_services`); their domain errors answer through the HTTP layer's one error map
(`catalog/errors.py`)."""

from __future__ import annotations

from fastapi import FastAPI

from catalog.routes import access as access_routes
from catalog.routes import audit as audit_routes


def install(app: FastAPI) -> None:
    """Include the access and audit routers. `catalog.deps.current_principal` audits each token session's first
    request."""
    app.include_router(access_routes.router)
    app.include_router(audit_routes.router)
