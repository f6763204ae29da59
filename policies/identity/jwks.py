"""Where signing keys come from: the issuer's JWKS over HTTP (Keycloak layout) or a static set (the dev issuer)."""

from __future__ import annotations

import copy
from typing import Any, Protocol

import httpx

from policies.identity.errors import AuthError

JwksDocument = dict[str, Any]


class JwksSource(Protocol):
    """Returns the issuer's current JSON Web Key Set (`{"keys": [...]}`); raises AuthError when unreachable."""

    def fetch(self) -> JwksDocument: ...


def certs_url(issuer: str) -> str:
    """Keycloak publishes a realm's keys at `{issuer}/protocol/openid-connect/certs`."""
    return issuer.rstrip("/") + "/protocol/openid-connect/certs"


class HttpJwksSource:
    """Fetches the JWKS with httpx. A failure is an AuthError (fail closed); the URL is never logged with a token."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._client = client

    def fetch(self) -> JwksDocument:
        try:
            if self._client is not None:
                response = self._client.get(self.url, timeout=self._timeout_s)
            else:
                response = httpx.get(self.url, timeout=self._timeout_s)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError):
            raise AuthError("identity provider keys unavailable") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise AuthError("identity provider keys unavailable")
        return document


class StaticJwksSource:
    """A fixed key set held in memory (the embedded dev issuer, or tests)."""

    def __init__(self, jwks: JwksDocument) -> None:
        if not isinstance(jwks.get("keys"), list):
            raise ValueError("a JWKS document needs a 'keys' list")
        self._jwks = copy.deepcopy(jwks)

    def fetch(self) -> JwksDocument:
        return copy.deepcopy(self._jwks)
