"""Swagger UI at /docs from locally installed assets (the swagger-ui-py package's files), under a CSP.

FastAPI's default /docs page loads unpinned scripts from a CDN with an inline start-up script: blank without
internet, and impossible under ``script-src 'self'``. Here the page, its start-up script and Swagger UI's own files
are all served by the API itself.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
HEADERS = {
    # Swagger UI sets style attributes from script, hence 'unsafe-inline' for styles only; no inline script.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}} - Swagger UI</title>
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""

_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                               presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});
});
"""


def assets_dir() -> Path:
    """Swagger UI 5 (OpenAPI 3.1, which FastAPI emits) as shipped inside the swagger-ui-py wheel."""
    import swagger_ui

    return Path(swagger_ui.__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Serve /docs, its start-up script and Swagger UI's files (call on an app built with docs_url=None)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE.replace("{title}", app.title), headers=HEADERS)

    @router.get("/docs/init.js")
    def init() -> Response:
        return Response(_INIT, media_type="text/javascript", headers=HEADERS)

    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
