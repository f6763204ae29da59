"""The one error map of the HTTP layer: domain errors in, status codes and JSON `{"detail": ...}` out.

Domain errors (`policies.access.errors`, `policies.identity.errors`, `policies.sandbox.errors`) know nothing of
HTTP: they carry a public reason (names states, fields and reason codes, never request content). This module
alone decides the status each one answers with; `install` registers the handlers on the app once. Anything
else is a 500 whose detail is a fixed message (the class name is logged, never the message or the data).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from policies.access.errors import (
    AccessError,
    Forbidden,
    GrantNotActive,
    IllegalTransition,
    InvalidAccessRequest,
    NotFound,
)
from policies.identity.errors import AuthError
from policies.sandbox.errors import QueryRefused, Refusal

log = logging.getLogger(__name__)

# The most specific class in an error's MRO decides.
ACCESS_STATUS: dict[type[AccessError], int] = {
    AccessError: 400,
    InvalidAccessRequest: 422,
    NotFound: 404,
    Forbidden: 403,
    IllegalTransition: 409,
    GrantNotActive: 403,
}

REFUSAL_STATUS: dict[Refusal, int] = {
    Refusal.INVALID: 400,
    Refusal.FORBIDDEN: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.TIMEOUT: 408,
    Refusal.DISCLOSURE: 422,
    Refusal.LIMIT: 422,
    Refusal.BUSY: 429,
    Refusal.INTERNAL: 500,
}


def status_for(exc: Exception) -> int:
    """The HTTP status a domain error answers with (500 for anything this map does not know)."""
    if isinstance(exc, GrantNotActive) and exc.reason == "missing":
        return 404  # no such grant (or not the caller's: the same answer, so ids cannot be probed)
    if isinstance(exc, AccessError):
        return next(ACCESS_STATUS[c] for c in type(exc).__mro__ if c in ACCESS_STATUS)
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, QueryRefused):
        return REFUSAL_STATUS[exc.kind]
    return 500


def describe_validation_error(exc: RequestValidationError) -> str:
    """A 422 detail naming the fields and error types; FastAPI's default echoes the submitted values."""
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        where = loc[0] if loc else "request"
        if len(loc) > 1 and isinstance(error.get("loc", ())[1], str):
            where += f" field '{loc[1]}'"  # schema field names only; deeper keys may be caller data
        problems.append(f"{where} ({error.get('type', 'invalid')})")
    return "invalid request: " + "; ".join(sorted(set(problems)))


def validation_response(exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": describe_validation_error(exc)})


class SafeValidationRoute(APIRoute):
    """A route class answering malformed bodies/parameters with `validation_response` (never the input)."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except RequestValidationError as exc:
                return validation_response(exc)

        return handler


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) else None
    return JSONResponse(status_code=status_for(exc), content={"detail": exc.public_reason},  # type: ignore[attr-defined]
                        headers=headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_response(exc)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
    return JSONResponse(status_code=500, content={"detail": "internal error"})


def install(app: FastAPI) -> None:
    """Register the map on the app: every domain error, request validation, and the catch-all 500."""
    for error in (AccessError, AuthError, QueryRefused):
        app.add_exception_handler(error, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
