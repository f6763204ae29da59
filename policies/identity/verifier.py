"""Bearer token verification against an issuer's JWKS: RS256 only, issuer, audience, time claims with leeway.

Keys are cached; a token naming an unknown `kid` triggers one refetch (rate-limited), and the whole set is
refreshed after `cache_ttl_s` so a key the issuer retired stops verifying. Every refusal is an `AuthError` with a
public reason code; the token itself never appears in an exception or a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jwt
from jwt.exceptions import InvalidSignatureError, PyJWTError

from policies.identity.claims import principal_from_claims
from policies.identity.errors import AuthError
from policies.identity.jwks import JwksSource
from policies.principal import Principal

log = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACCEPTED_TOKEN_TYPES = frozenset({"Bearer"})


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_source: JwksSource,
        leeway_s: int = 30,
        *,
        role_clients: Iterable[str] | None = None,
        cache_ttl_s: float = 300.0,
        refetch_interval_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.role_clients = tuple(role_clients) if role_clients is not None else (audience,)
        self._source = jwks_source
        self._cache_ttl_s = cache_ttl_s
        self._refetch_interval_s = refetch_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None

    # -- keys -------------------------------------------------------------------------------------------------
    def _load(self) -> None:
        document = self._source.fetch()
        keys: dict[str, Any] = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, Mapping):
                continue
            if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
                continue  # Keycloak also publishes RSA-OAEP encryption keys: never verify with those
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = jwt.PyJWK(dict(entry), algorithm=ALGORITHM).key
            except PyJWTError:
                log.warning("ignoring an unusable key in the issuer's JWKS (kid position %d)", len(keys))
        self._keys = keys
        self._fetched_at = self._clock()

    def _key_for(self, kid: str) -> Any:
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._cache_ttl_s:
                self._load()
            elif kid not in self._keys and now - self._fetched_at >= self._refetch_interval_s:
                self._load()  # unknown kid: the issuer may have rotated; refetch at most once per interval
            key = self._keys.get(kid)
        if key is None:
            raise AuthError("token signed by an unknown key")
        return key

    # -- tokens -----------------------------------------------------------------------------------------------
    def verify(self, token: str) -> Principal:
        return principal_from_claims(self.verify_claims(token), self.role_clients)

    def verify_claims(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise AuthError("unsupported token algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id")
        key = self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,  # time, issuer and audience are checked below with our clock and rules
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except InvalidSignatureError:
            raise AuthError("invalid token signature") from None
        except PyJWTError:
            raise AuthError("malformed token") from None
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        if claims.get("iss") != self.issuer:
            raise AuthError("token from an untrusted issuer")
        if not self._audience_ok(claims):
            raise AuthError("token not intended for this service")
        typ = claims.get("typ")
        if typ is not None and typ not in ACCEPTED_TOKEN_TYPES:
            raise AuthError("not an access token")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthError("token has no subject")
        now = self._clock()
        exp = _number(claims, "exp", required=True)
        if now > exp + self.leeway_s:
            raise AuthError("token expired")
        nbf = _number(claims, "nbf", required=False)
        if nbf is not None and now + self.leeway_s < nbf:
            raise AuthError("token not yet valid")
        iat = _number(claims, "iat", required=False)
        if iat is not None and now + self.leeway_s < iat:
            raise AuthError("token issued in the future")

    def _audience_ok(self, claims: Mapping[str, Any]) -> bool:
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []
        # Keycloak puts the requesting client in `azp`; a token a client obtained for itself is meant for it.
        return self.audience in audiences or claims.get("azp") == self.audience


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise AuthError(f"token has no {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError(f"token has a malformed {name} claim")
    return float(value)
