"""Access requests and grants over HTTP. The access service from the app's container; roles via catalog.deps.

Domain errors (`policies.access.errors.AccessError`) map to `{"detail": reason}` in the one error map,
`catalog/errors.py`. Body validation errors answer 422 naming the field and error type only, never the
submitted value (`catalog.errors.SafeValidationRoute`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from catalog.container import Services
from catalog.deps import require_roles
from catalog.errors import SafeValidationRoute
from policies.access.service import AccessService
from policies.principal import ADMIN, RESEARCHER, STEWARD, Principal



router = APIRouter(prefix="/api", tags=["access"], route_class=SafeValidationRoute)

Researcher = Annotated[Principal, Depends(require_roles(RESEARCHER))]
Steward = Annotated[Principal, Depends(require_roles(STEWARD))]
Admin = Annotated[Principal, Depends(require_roles(ADMIN))]
Governed = Annotated[Principal, Depends(require_roles(RESEARCHER, STEWARD, ADMIN))]


def _service(services: Services) -> AccessService:
    return services.access


Service = Annotated[AccessService, Depends(_service)]


class AccessRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    datasets: list[str] = Field(min_length=1, max_length=100)
    columns: dict[str, list[str]] | None = None
    purpose: str = Field(min_length=1, max_length=4000)
    duration_days: int
    project: str | None = Field(default=None, max_length=4000)
    legal_basis: str | None = Field(default=None, max_length=4000)
    # Differential-privacy budget asked for the aggregate-dp tier (default: the dataset policy's dp_default_budget).
    epsilon: float | None = Field(default=None, gt=0, le=100)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=4000)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: dict[str, list[str]] | None = None
    duration_days: int | None = None
    note: str | None = Field(default=None, max_length=4000)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=4000)


@router.post("/access-requests", status_code=201)
def submit_access_request(body: AccessRequestBody, principal: Researcher, service: Service,
                          services: Services) -> dict[str, Any]:
    request = service.submit(principal, datasets=body.datasets, columns=body.columns, purpose=body.purpose,
                             duration_days=body.duration_days, project=body.project, legal_basis=body.legal_basis)
    if body.epsilon is not None:
        services.privacy_ledger.set_budget(request.id, body.epsilon)
    return {**request.to_public(), "epsilon": body.epsilon}


@router.get("/access-requests")
def list_access_requests(principal: Governed, service: Service, status: str | None = None) -> list[dict[str, Any]]:
    """Researchers see their own requests; data stewards and authority admins see all."""
    return [r.to_public() for r in service.list_requests(principal, status=status)]


@router.get("/access-requests/{request_id}")
def get_access_request(request_id: str, principal: Governed, service: Service) -> dict[str, Any]:
    return service.get_request(request_id, principal).to_public()


@router.post("/access-requests/{request_id}/review")
def review_access_request(request_id: str, principal: Steward, service: Service,
                          body: Annotated[ReviewBody | None, Body()] = None) -> dict[str, Any]:
    return service.review(request_id, principal, note=body.note if body else None).to_public()


@router.post("/access-requests/{request_id}/approve")
def approve_access_request(request_id: str, principal: Admin, service: Service,
                           body: Annotated[ApproveBody | None, Body()] = None) -> dict[str, Any]:
    body = body or ApproveBody()
    grant = service.approve(request_id, principal, columns=body.columns, duration_days=body.duration_days,
                            note=body.note)
    return {**grant.to_public(), "request_status": "approved"}


@router.post("/access-requests/{request_id}/refuse")
def refuse_access_request(request_id: str, body: ReasonBody, principal: Admin, service: Service) -> dict[str, Any]:
    return service.refuse(request_id, principal, body.reason).to_public()


@router.post("/access-requests/{request_id}/withdraw")
def withdraw_access_request(request_id: str, principal: Researcher, service: Service) -> dict[str, Any]:
    return service.withdraw(request_id, principal).to_public()


@router.get("/grants")
def list_grants(principal: Governed, service: Service) -> list[dict[str, Any]]:
    """Authority admins see every grant; others see the grants made to them."""
    return [g.to_public() for g in service.list_grants(principal)]


@router.get("/grants/{grant_id}")
def get_grant(grant_id: str, principal: Governed, service: Service) -> dict[str, Any]:
    return service.get_grant(grant_id, principal).to_public()


@router.post("/grants/{grant_id}/revoke")
def revoke_grant(grant_id: str, body: ReasonBody, principal: Admin, service: Service) -> dict[str, Any]:
    return service.revoke(grant_id, principal, body.reason).to_public()
