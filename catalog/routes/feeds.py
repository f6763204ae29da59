"""Feed health over HTTP: authority admins and data stewards see every hospital, a hospital publisher its own.

`GET /api/feeds/health` -> per registered feed: records loaded, records per minute (last 10 minutes), last seen,
dead letters by reason; plus the loader's progress. `GET /api/feeds/dead-letters` -> the dead letters themselves
as codes and positions (never content), newest first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from catalog.container import Services
from catalog.deps import require_roles
from catalog.feed_health import health_report, loaded_per_feed
from catalog.routes.access import SafeValidationRoute
from policies.principal import Principal

router = APIRouter(prefix="/api/feeds", tags=["feeds"], route_class=SafeValidationRoute)

Operator = Annotated[Principal, Depends(require_roles("authority-admin", "data-steward", "hospital-publisher"))]


def _scope(principal: Principal, hospital: str | None) -> str | None:
    """The hospital a caller may look at: publishers only their own, whatever they ask for."""
    if principal.has_any("authority-admin", "data-steward"):
        return hospital
    if not principal.hospital:
        raise HTTPException(status_code=403, detail="this publisher token is bound to no hospital")
    if hospital is not None and hospital != principal.hospital:
        raise HTTPException(status_code=403, detail="a publisher sees only its own hospital's feeds")
    return principal.hospital


@router.get("/health")
async def feed_health(principal: Operator, state: Services,
                      hospital: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    scope = _scope(principal, hospital)
    source = state.dead_letters

    def work() -> dict[str, Any]:
        cur = state.store.cursor()
        try:
            loaded = loaded_per_feed(cur, state.store.dataset_ids())
        finally:
            cur.close()
        dead = source.listing()
        return {"feeds": health_report(state.registry, loaded, dead, hospital=scope)}

    body = await asyncio.to_thread(work)
    stats = state.loader_stats
    body["loader"] = None if stats is None else {"loaded": stats.loaded, "rejected": stats.rejected, "lag": stats.lag()}
    body["dead_letters_available"] = bool(getattr(source, "available", False))
    body["generated_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
    return body


@router.get("/dead-letters")
async def dead_letters(principal: Operator, services: Services,
                       hospital: Annotated[str | None, Query(max_length=100)] = None,
                       feed: Annotated[str | None, Query(max_length=100)] = None,
                       reason: Annotated[str | None, Query(max_length=100)] = None,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    scope = _scope(principal, hospital)
    source = services.dead_letters
    items = await asyncio.to_thread(source.listing)
    chosen = [d for d in items if (scope is None or d["hospital"] == scope) and (feed is None or d["feed"] == feed)
              and (reason is None or d["reason"] == reason)]
    chosen.sort(key=lambda d: str(d.get("failed_at") or ""), reverse=True)
    return {"dead_letters": chosen[:limit], "total": len(chosen),
            "available": bool(getattr(source, "available", False))}
