"""Hospital publishing over HTTP: POST /api/ingest/{hospital}/{feed} (hospital-publisher bound to that hospital)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from catalog.container import Services
from catalog.deps import require_roles
from gateway.publish import PublishError, read_for_feed, send_messages
from gateway.readers import FeedReadError
from policies.principal import PUBLISHER, Principal

router = APIRouter(tags=["ingest"])

MAX_BODY = 50 * 1024 * 1024
_SUFFIX = {
    "application/hl7-v2": ".hl7", "x-application/hl7-v2+er7": ".hl7", "text/hl7v2": ".hl7",
    "application/fhir+json": ".json", "application/json": ".json",
    "application/x-ndjson": ".ndjson", "application/fhir+ndjson": ".ndjson", "application/ndjson": ".ndjson",
    "text/csv": ".csv",
}

Publisher = Annotated[Principal, Depends(require_roles(PUBLISHER))]


@router.post("/api/ingest/{hospital}/{feed}", status_code=202)
async def ingest(hospital: str, feed: str, request: Request, state: Services, principal: Publisher) -> dict:
    if principal.hospital != hospital:
        raise HTTPException(status_code=403, detail="this token may not publish for that hospital")
    cfg = state.registry.lookup(hospital, feed)
    if cfg is None:
        raise HTTPException(status_code=404, detail="unknown hospital or feed")
    if state.producer is None:
        raise HTTPException(status_code=503, detail="ingest is not connected to Kafka")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = _SUFFIX.get(ctype)
    if suffix is None:
        raise HTTPException(status_code=415, detail="content type must be one of: " + ", ".join(sorted(_SUFFIX)))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # the size is checked while the body streams in, never after
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(status_code=413, detail="body larger than 50 MB")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise HTTPException(status_code=400, detail="empty body")

    def work() -> int:
        try:  # the body as bytes; the suffix stands in for a file name's (format detection, NDJSON)
            messages = read_for_feed(f"upload{suffix}", body, cfg)
        except FeedReadError as exc:
            raise HTTPException(status_code=422, detail=f"{exc.position}: {exc.reason}") from None
        with state.producer_lock:
            return send_messages(state.producer, hospital, feed, messages)

    try:
        n = await asyncio.to_thread(work)
    except PublishError:
        raise HTTPException(status_code=503, detail="the broker did not acknowledge every message; nothing is lost, retry") from None
    state.metrics.ingested.labels(hospital, feed).inc(n)
    return {"hospital": hospital, "feed": feed, "accepted": n}
