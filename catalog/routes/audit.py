"""The audit log over HTTP (authority admins only): paged records and chain verification."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from catalog.container import Services
from catalog.deps import require_roles
from catalog.errors import SafeValidationRoute
from policies.audit.log import AuditLog
from policies.principal import ADMIN, Principal

router = APIRouter(prefix="/api/audit", tags=["audit"], route_class=SafeValidationRoute)

Admin = Annotated[Principal, Depends(require_roles(ADMIN))]


def _audit(services: Services) -> AuditLog:
    return services.audit


Audit = Annotated[AuditLog, Depends(_audit)]


@router.get("")
def list_audit_records(
    principal: Admin,
    audit: Audit,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=100)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> dict[str, Any]:
    """Records oldest first (`order=asc`, the default: pass `next_after_seq` back as `after_seq` to page on) or
    newest first (`order=desc`: pass `next_before_seq` back as `before_seq`); null at the end. `action`, `actor`
    and `subject` (e.g. `grant:<id>`) filter; `total` counts the records matching the filters, `total_all` all."""
    newest = order == "desc"
    records = audit.records(after_seq=after_seq, before_seq=before_seq, limit=limit, action=action,
                            subject=subject, actor=actor, newest_first=newest)
    full = len(records) == limit
    return {
        "records": [r.to_public() for r in records],
        "next_after_seq": records[-1].seq if full and not newest else None,
        "next_before_seq": records[-1].seq if full and newest else None,
        "total": audit.count(action=action, subject=subject, actor=actor),
        "total_all": audit.count(),
    }


@router.get("/verify")
def verify_audit_chain(principal: Admin, audit: Audit) -> dict[str, Any]:
    return audit.verify().to_public()
