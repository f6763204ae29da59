"""FastAPI dependencies shared by every route: who is calling, and which roles a route needs.

Authorisation is one dependency, not repeated per route. The verifier is the container's
(`catalog.container.CatalogServices.verifier`, built from settings: Keycloak JWKS or the embedded dev issuer); it
exposes `verify(token) -> Principal` and raises `policies.identity.errors.AuthError`. Refusals are domain errors;
`catalog/errors.py` maps them to HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from catalog.container import Services
from policies.access.errors import Forbidden
from policies.identity.errors import AuthError
from policies.principal import Principal


def current_principal(request: Request, services: Services) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token")
    try:
        principal = services.verifier.verify(token.strip())
    except AuthError:
        raise
    except Exception:  # any other verification failure is a refused token too; nothing of it is echoed
        raise AuthError("invalid token") from None
    services.audit.record_login(principal)  # the first sight of a token session, before anything it does
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """Dependency factory: 403 unless the caller holds one of `roles`."""

    def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_any(*roles):
            raise Forbidden("this action needs one of the roles: " + ", ".join(roles))
        return principal

    return dependency
