"""Choose the token verifier from settings: Keycloak/OIDC when configured, else the embedded dev issuer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from policies.identity.dev_issuer import DevIssuer
from policies.identity.jwks import HttpJwksSource, certs_url
from policies.identity.verifier import TokenVerifier

if TYPE_CHECKING:
    from policies.settings import Settings


def issuer_from_settings(settings: "Settings") -> str | None:
    """HDS_OIDC_ISSUER wins; otherwise Keycloak's realm URL `{HDS_KEYCLOAK_URL}/realms/{HDS_KEYCLOAK_REALM}`."""
    if settings.oidc_issuer:
        return settings.oidc_issuer.rstrip("/")
    if settings.keycloak_url:
        return f"{settings.keycloak_url.rstrip('/')}/realms/{settings.keycloak_realm}"
    return None


def verifier_from_settings(settings: "Settings", *, http_client: httpx.Client | None = None) -> TokenVerifier:
    issuer = issuer_from_settings(settings)
    if issuer is not None:
        return TokenVerifier(issuer, settings.oidc_audience, HttpJwksSource(certs_url(issuer), client=http_client))
    return DevIssuer.from_settings(settings).verifier()  # raises DevIssuerRefused in production
