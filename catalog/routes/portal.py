"""The web portal: static pages served by the API (the data comes from the API with the user's token)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, JSONResponse

from catalog.container import Services

PORTAL_DIR = Path(__file__).resolve().parent.parent / "portal"
_FILES = {"portal.js": "text/javascript", "i18n.js": "text/javascript", "portal.css": "text/css",
          "chart.js": "text/javascript", "views-research.js": "text/javascript", "views-authority.js": "text/javascript"}
_HEADERS = {
    # Only our own script and styles; connections to the API and, for sign-in, the identity provider.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(PORTAL_DIR / "index.html", media_type="text/html", headers=_HEADERS)


@router.get("/portal/config.json")
def config(services: Services) -> JSONResponse:
    settings = services.settings
    issuer = settings.oidc_issuer or (
        f"{settings.keycloak_url.rstrip('/')}/realms/{settings.keycloak_realm}" if settings.keycloak_url else None)
    body = {"mode": "oidc", "issuer": issuer, "client_id": "hds-portal"} if issuer else {"mode": "dev"}
    return JSONResponse(body, headers=_HEADERS)


@router.get("/portal/{name}")
def asset(name: str) -> FileResponse:
    if name not in _FILES:
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(PORTAL_DIR / name, media_type=_FILES[name], headers=_HEADERS)
