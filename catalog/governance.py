"""Install access governance into the catalog app: schemas, services on app.state, routers.

Its domain errors answer through the HTTP layer's one error map (`catalog/errors.py`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI

from catalog.routes import access as access_routes
from catalog.routes import audit as audit_routes
from policies.access.mirror import GrantMirror
from policies.access.service import AccessService
from policies.audit.log import AuditLog
from policies.audit.transaction import CursorFactory, WriteLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Governance:
    access: AccessService
    audit: AuditLog


def install(
    app: FastAPI,
    *,
    cursor_factory: CursorFactory,
    write_lock: WriteLock,
    mirror: GrantMirror,
    dataset_exists: Callable[[str], bool],
    now: Callable[[], datetime] | None = None,
) -> Governance:
    """Create the `governance` tables if needed, set `app.state.access` / `app.state.audit`, include the
    access and audit routers. `catalog.deps.current_principal` audits each token session's first request."""
    audit = AuditLog(cursor_factory, write_lock, now=now)
    audit.ensure_schema()
    service = AccessService(cursor_factory, write_lock, audit=audit, mirror=mirror,
                            dataset_exists=dataset_exists, now=now)
    service.ensure_schema()
    app.state.access = service
    app.state.audit = audit
    app.include_router(access_routes.router)
    app.include_router(audit_routes.router)
    return Governance(service, audit)

