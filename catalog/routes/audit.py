"""The audit log over HTTP (authority admins only): paged records and chain verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from catalog.deps import require_roles
from catalog.errors import SafeValidationRoute
from policies.audit.log import AuditLog
from policies.principal import ADMIN, Principal

router = APIRouter(prefix="/api/audit", tags=["audit"], route_class=SafeValidationRoute)

Admin = Annotated[Principal, Depends(require_roles(ADMIN))]


def _audit(request: Request) -> AuditLog:
    return request.app.state.audit  # type: ignore[no-any-return]


Audit = Annotated[AuditLog, Depends(_audit)]


@router.get("")
def list_audit_records(
    principal: Admin,
    audit: Audit,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Records with seq > after_seq, oldest first; pass `next_after_seq` back to page on (null at the end).
    `action` and `subject` (e.g. `grant:<id>`) filter."""
    records = audit.records(after_seq=after_seq, limit=limit, action=action, subject=subject)
    return {
        "records": [r.to_public() for r in records],
        "next_after_seq": records[-1].seq if len(records) == limit else None,
        "total": audit.count(),
    }


@router.get("/verify")
def verify_audit_chain(principal: Admin, audit: Audit) -> dict[str, Any]:
    return audit.verify().to_public()
