"""Dataset documentation: `GET /api/datasets/{id}/metadata` (for the portal) and `/dcat` (HealthDCAT-AP)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from catalog.dcat import dataset_graph, serialise
from catalog.container import CatalogServices, Services
from catalog.dataset_metadata import LEGAL_BASES, PURPOSES, describe
from catalog.deps import CurrentPrincipal

router = APIRouter(tags=["datasets"])


def _metadata(state: CatalogServices, dataset_id: str) -> dict[str, Any]:
    meta = describe(state, dataset_id)
    if meta is None:
        raise HTTPException(status_code=404, detail="no such dataset")
    return meta


@router.get("/api/datasets/{dataset_id}/metadata")
async def dataset_metadata(dataset_id: str, state: Services, principal: CurrentPrincipal) -> dict[str, Any]:
    """Description, columns with meaning and de-identification, coverage, timeline, k-anonymity, access."""
    return await asyncio.to_thread(_metadata, state, dataset_id)


@router.get("/api/datasets/{dataset_id}/dcat", responses={200: {"content": {
    "application/ld+json": {}, "text/turtle": {}}}})
async def dataset_dcat(dataset_id: str, request: Request, state: Services, principal: CurrentPrincipal) -> Response:
    """The dataset in HealthDCAT-AP: JSON-LD, or Turtle with `Accept: text/turtle`."""
    meta = await asyncio.to_thread(_metadata, state, dataset_id)
    turtle = "text/turtle" in request.headers.get("accept", "")
    body = serialise(dataset_graph(meta, str(request.base_url)), turtle=turtle)
    return Response(body, media_type="text/turtle; charset=utf-8" if turtle else "application/ld+json")


@router.get("/api/vocabularies")
def vocabularies(principal: CurrentPrincipal) -> dict[str, Any]:
    """Legal bases and purposes a request may state (English and Chinese labels)."""
    return {"legal_bases": LEGAL_BASES, "purposes": PURPOSES}
