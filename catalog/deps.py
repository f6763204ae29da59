"""FastAPI dependencies shared by every route: who is calling, and which roles a route needs.

Authorisation is one dependency, not repeated per route. The verifier lives on `app.state.verifier` (built in the
app factory from settings: Keycloak JWKS or the embedded dev issuer); it exposes `verify(token) -> Principal` and
raises `policies.identity.errors.AuthError` carrying an HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from policies.principal import Principal


def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(status_code=401, detail="missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    verifier = request.app.state.verifier
    try:
        principal = verifier.verify(token.strip())
    except Exception as exc:  # any verification failure is a 401; the reason never echoes the token
        status = getattr(exc, "status_code", 401)
        raise HTTPException(
            status_code=status if status in (401, 403) else 401,
            detail=getattr(exc, "public_reason", "invalid token"),
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
    request.state.principal = principal
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:  # the first sight of a token session is audited before anything it does
        audit.record_login(principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """Dependency factory: 403 unless the caller holds one of `roles`."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise HTTPException(status_code=403, detail="this action needs one of the roles: " + ", ".join(roles))
        return principal

    return dependency
