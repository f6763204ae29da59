"""Catalog browsing: which datasets exist, their schema, size, sources and de-identification."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from catalog.container import CatalogServices, Services
from catalog.deps import CurrentPrincipal

router = APIRouter(tags=["datasets"])

# The topic a dataset is filed under in the portal's catalog, from the feeds that fill it.
FEED_TOPICS = {"adt": "admissions", "oru": "laboratory", "lab": "laboratory", "fhir": "clinical"}


def _describe(state: CatalogServices, dataset: str) -> dict | None:
    summary = state.store.dataset_summary(dataset)
    info = state.registry.dataset(dataset)
    if summary is None and info is None:
        return None
    out = summary or {"id": dataset, "rows": 0, "patients": 0, "hospitals": [], "feeds": [], "sources": [],
                      "deid_profiles": [], "key_ids": [], "created_at": None, "last_update": None, "schema": [],
                      "format": None}
    out["title"] = info.title if info else dataset
    out["description"] = info.description if info else ""
    out["tier"] = state.tier_of(dataset)
    feeds = out.get("feeds") or state.registry.feeds_of_dataset(dataset)
    out["topics"] = sorted({FEED_TOPICS.get(f, "other") for f in feeds})
    out["hospital_names"] = {h: state.registry.hospital_name(h) or h for h in out.get("hospitals") or []}
    if not out.get("format"):
        cfg = next((c for h in state.registry.hospitals for f in feeds if (c := state.registry.lookup(h, f))), None)
        out["format"] = cfg.format if cfg else None
    return out


@router.get("/api/datasets")
def list_datasets(state: Services, principal: CurrentPrincipal) -> list[dict]:
    ids = list(dict.fromkeys(state.registry.dataset_ids() + state.store.dataset_ids()))
    out = []
    for dataset in ids:
        d = _describe(state, dataset)
        if d is not None:
            out.append({k: d[k] for k in ("id", "title", "description", "rows", "tier", "hospitals", "feeds",
                                          "deid_profiles", "last_update", "format", "topics", "patients",
                                          "hospital_names")})
    return out


@router.get("/api/datasets/{dataset_id}")
def get_dataset(dataset_id: str, state: Services, principal: CurrentPrincipal) -> dict:
    d = _describe(state, dataset_id)
    if d is None:
        raise HTTPException(status_code=404, detail="no such dataset")
    return d
