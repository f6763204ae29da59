"""The embedded dev identity: Keycloak-shaped RS256 tokens for `hds demo` and `hds token`, never in production.

The RSA key is generated once and kept at `<data_dir>/dev-issuer/key.pem` (0600), so the demo's API and a separate
`hds token` process agree on it. Tokens look like a Keycloak access token for the `hds-api` client (iss, aud, azp,
sub, typ, preferred_username, realm_access, resource_access, hospital, groups) so the same verifier and the same
role logic serve both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from policies.identity.errors import DevIssuerRefused, IdentityConfigError
from policies.identity.jwks import JwksDocument, StaticJwksSource
from policies.identity.verifier import ALGORITHM, TokenVerifier
from policies.principal import PUBLISHER, ROLES

if TYPE_CHECKING:
    from policies.settings import Settings

DEV_ISSUER = "http://hds-dev-issuer/realms/hds"
DEV_AUDIENCE = "hds-api"
KEY_DIR = "dev-issuer"
KEY_FILE = "key.pem"
# Stable subjects per username without Python's hash(): a UUIDv5 in a project namespace.
_SUBJECT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, DEV_ISSUER)


class DevIssuer:
    def __init__(
        self,
        data_dir: Path,
        *,
        env: str = "development",
        issuer: str = DEV_ISSUER,
        audience: str = DEV_AUDIENCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if env == "production":
            raise DevIssuerRefused(
                "the embedded dev issuer is refused when HDS_ENV=production; "
                "configure HDS_OIDC_ISSUER or HDS_KEYCLOAK_URL (Keycloak) instead"
            )
        self.issuer = issuer
        self.audience = audience
        self.key_path = Path(data_dir) / KEY_DIR / KEY_FILE
        self._clock = clock
        self._private_key = _load_or_create_key(self.key_path)
        public_jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._private_key.public_key()))
        self.kid = _thumbprint(public_jwk)
        self._public_jwk = {**public_jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    @classmethod
    def from_settings(cls, settings: "Settings") -> "DevIssuer":
        return cls(settings.data_dir, env=settings.env, audience=settings.oidc_audience)

    def jwks(self) -> JwksDocument:
        return {"keys": [dict(self._public_jwk)]}

    def verifier(self, leeway_s: int = 30) -> TokenVerifier:
        return TokenVerifier(self.issuer, self.audience, StaticJwksSource(self.jwks()), leeway_s=leeway_s, clock=self._clock)

    def subject_for(self, user: str) -> str:
        return str(uuid.uuid5(_SUBJECT_NAMESPACE, user))

    def issue(
        self,
        user: str,
        roles: Iterable[str],
        hospital: str | None = None,
        ttl_s: int = 3600,
        *,
        groups: Iterable[str] = (),
    ) -> str:
        role_list = sorted(set(roles))
        unknown = [r for r in role_list if r not in ROLES]
        if unknown:
            raise ValueError("unknown role; expected one of: " + ", ".join(ROLES))
        if not user or not user.strip():
            raise ValueError("a user name is required")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        if PUBLISHER in role_list and not hospital:
            raise ValueError("a hospital-publisher token must name its hospital")
        now = int(self._clock())
        claims: dict[str, Any] = {
            "exp": now + int(ttl_s),
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": [self.audience],
            "sub": self.subject_for(user),
            "typ": "Bearer",
            "azp": self.audience,
            "scope": "openid profile",
            "preferred_username": user,
            "realm_access": {"roles": role_list},
            "resource_access": {self.audience: {"roles": role_list}},
            "groups": sorted(set(groups)),
        }
        if hospital:
            claims["hospital"] = hospital
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"})


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256 over the canonical required members), used as the key id."""
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IdentityConfigError(f"dev issuer key {path} is readable by others (mode {mode:o}); expected 0600")
    for _ in range(50):  # another process may be writing it right now (created with O_EXCL, filled just after)
        data = path.read_bytes()
        if data.strip():
            break
        time.sleep(0.02)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise IdentityConfigError(f"dev issuer key {path} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IdentityConfigError(f"dev issuer key {path} is not an RSA key")
    return key
