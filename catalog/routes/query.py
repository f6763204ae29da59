"""The query sandbox over HTTP: SQL under an active grant, checked, disclosure-controlled, audited.

`POST /api/query` {"grant_id", "sql"} -> {"columns", "rows", "suppressed", ...}. Every query (released or
refused) is audited with the SQL's hash, never its text. The grant is re-read on every call, so revocation and
expiry take effect immediately; with Keycloak the token must also carry the dataset's group (both halves).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from catalog.container import CatalogServices, Services
from catalog.deps import CurrentPrincipal
from catalog.errors import SafeValidationRoute
from policies.access.errors import Forbidden
from policies.access.model import Grant
from policies.principal import Principal
from policies.sandbox.errors import QueryRefused
from policies.sandbox.executor import PrivacyContext, QueryOutcome, export_rows, run_query, sql_hash
from policies.sandbox.scope import grant_scope_from_catalog

router = APIRouter(tags=["query"], route_class=SafeValidationRoute)


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grant_id: str = Field(min_length=1, max_length=100)
    sql: str = Field(min_length=1, max_length=20_000)
    epsilon: float | None = Field(default=None, gt=0, le=10)  # aggregate-dp tier: this query's share of the budget


def _privacy(state: CatalogServices, grant: Grant, principal: Principal, body: QueryBody) -> PrivacyContext:
    ledger = state.privacy_ledger
    granted = ledger.budget(grant.request_id)
    if granted is None:  # not asked for: the smallest default of the grant's datasets
        granted = min(state.dataset_policies.for_dataset(d).dp_default_budget for d in grant.datasets)
    return PrivacyContext(ledger, f"researcher:{principal.subject}", granted, body.epsilon)


class ExportBody(QueryBody):
    format: Literal["csv", "parquet"] = "csv"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return None
    return value


def _history_subjects(state: CatalogServices, grant: Grant, principal: Principal) -> list[str]:
    """Whose differencing history a query belongs to: the researcher across all grants, and the project team."""
    subjects = [f"researcher:{principal.subject}"]
    try:
        project = state.access.get_request(grant.request_id, principal).project
    except Exception:  # noqa: BLE001 - no visible request: the researcher's own history still applies
        project = None
    if project and project.strip():
        subjects.append("project:" + " ".join(project.casefold().split()))
    return subjects


async def _run_pooled(state: CatalogServices, principal: Principal, body: QueryBody) -> QueryOutcome:
    return await state.query_pool.run(principal.subject, _run, state, principal, body)  # busy: QueryRefused


def _run(state: CatalogServices, principal: Principal, body: QueryBody) -> QueryOutcome:
    settings = state.settings
    grant = state.access.active_grant(body.grant_id, principal)  # AccessError -> 4xx via its handler
    subjects = [f"grant:{grant.id}", f"request:{grant.request_id}", *(f"dataset:{d}" for d in grant.datasets)]
    for ds in grant.datasets:  # the token half: the dataset's group (always true without an identity provider)
        if not state.access.token_allows(principal, ds):
            state.audit.append("query.refused", principal, subjects, grant_id=grant.id,
                               sql_sha256=sql_hash(body.sql), reason="token_lacks_dataset_group")
            raise Forbidden("your token does not carry this grant yet; sign in again")
    cur = state.store.cursor()
    try:
        scope = grant_scope_from_catalog(cur, grant.granted_columns())
        outcome = run_query(cur, body.sql, scope=scope, policies=state.dataset_policies, history=state.query_history,
                            grant_id=grant.id, timeout_s=settings.query_timeout_s, max_rows=settings.query_max_rows,
                            subjects=_history_subjects(state, grant, principal),
                            privacy=_privacy(state, grant, principal, body))
    except QueryRefused as exc:
        state.metrics.queries.labels("refused").inc()
        # The precise cause goes to the audit log (for the authority); the researcher gets the public reason,
        # which is one uniform answer for every data-dependent disclosure refusal.
        state.audit.append("query.refused", principal, subjects, grant_id=grant.id, purpose=grant.purpose,
                           sql_sha256=sql_hash(body.sql), reason=exc.audit_reason, refusal_code=exc.audit_reason)
        raise  # the HTTP layer's one error map answers it (catalog/errors.py)
    finally:
        cur.close()
    state.metrics.queries.labels("released").inc()
    state.audit.append("query", principal, subjects, grant_id=grant.id, request_id=grant.request_id,
                       purpose=grant.purpose, sql_sha256=outcome.sql_hash, datasets=list(outcome.datasets),
                       tier=str(outcome.tier.value), row_count=outcome.row_count, suppressed_cells=outcome.suppressed,
                       suppression_reasons=outcome.suppression_reasons)
    return outcome


@router.post("/api/query")
async def query(body: QueryBody, state: Services, principal: CurrentPrincipal) -> dict[str, Any]:
    outcome = await _run_pooled(state, principal, body)
    return {
        "columns": outcome.columns,
        "rows": [[_jsonable(v) for v in row] for row in outcome.rows],
        "suppressed": outcome.suppressed,
        # Where the suppressed values are: [row, column] pairs (a NULL not listed is a real missing value).
        "suppressed_cells": [list(cell) for cell in outcome.suppressed_cells],
        "row_count": outcome.row_count,
        "tier": outcome.tier.value,
        "truncated": outcome.truncated,
        "notes": outcome.notes,
        "grant_id": body.grant_id,
        "privacy": outcome.privacy,
    }


@router.post("/api/exports")
async def export(body: ExportBody, state: Services, principal: CurrentPrincipal) -> Response:
    """Extract tier only: the approved rows as a CSV or Parquet download."""
    outcome = await _run_pooled(state, principal, body)
    data = export_rows(outcome, format=body.format)  # QueryRefused: answered by catalog/errors.py
    state.audit.append("export", principal, [f"grant:{body.grant_id}"], grant_id=body.grant_id,
                                   sql_sha256=outcome.sql_hash, row_count=outcome.row_count, format=body.format)
    media = "text/csv" if body.format == "csv" else "application/vnd.apache.parquet"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="extract.{body.format}"'})
