"""Test helpers for access governance: principals, an injectable clock, a grant mirror over a set."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from policies.principal import Principal
DATASETS = {"admissions", "lab_results"}

ALICE = Principal("sub-alice", "alice", frozenset({"researcher"}))
BOB = Principal("sub-bob", "bob", frozenset({"researcher"}))
STEVE = Principal("sub-steve", "steve", frozenset({"data-steward"}))
ADA = Principal("sub-ada", "ada", frozenset({"authority-admin"}))
HOSP = Principal("sub-hosp", "hosp", frozenset({"hospital-publisher"}), hospital="h1")


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@dataclass
class RecordingMirror:
    """The grant-mirror protocol over a set: what Keycloak would hold. `failing` simulates an unreachable IdP."""

    held: set[tuple[str, str, str]] = field(default_factory=set)
    failing: bool = False
    refusing: set[str] = field(default_factory=set)  # usernames the identity provider refuses (no account)
    calls: int = 0

    def grant(self, grant_id: str, dataset: str, username: str) -> None:
        self.calls += 1
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        if username in self.refusing:
            raise LookupError("no such account")
        self.held.add((grant_id, dataset, username))

    def revoke(self, grant_id: str, dataset: str, username: str) -> None:
        self.calls += 1
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        self.held.discard((grant_id, dataset, username))

    def sync(self, active: Iterable[tuple[str, str, str]]) -> list[str]:
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        stale = self.held - set(active)
        self.held -= stale
        return sorted({g for g, _, _ in stale})

    def token_allows(self, principal: Principal, dataset: str) -> bool:
        return any(d == dataset and u == principal.username for _, d, u in self.held)


class TokenKit:
    """Keycloak-shaped RS256 access tokens from a fresh RSA key, and the verifier that checks them (real crypto)."""

    ISSUER = "http://keycloak.test/realms/hds"
    AUDIENCE = "hds-api"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._n = 0

    def token(self, username: str, *roles: str, sid: str | None = None) -> str:
        import time

        import jwt

        self._n += 1
        now = int(time.time())
        claims = {"iss": self.ISSUER, "aud": self.AUDIENCE, "sub": f"sub-{username}", "typ": "Bearer",
                  "preferred_username": username, "iat": now, "exp": now + 300, "jti": f"jti-{self._n}",
                  "sid": sid or f"sid-{username}", "realm_access": {"roles": list(roles)}}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "k1"})

    def verifier(self) -> "JwtVerifier":
        return JwtVerifier(self._key.public_key(), self.ISSUER, self.AUDIENCE)


class JwtVerifier:
    def __init__(self, public_key: object, issuer: str, audience: str) -> None:
        self._public_key, self._issuer, self._audience = public_key, issuer, audience

    def verify(self, token: str) -> Principal:
        import jwt

        claims = jwt.decode(token, self._public_key, algorithms=["RS256"], audience=self._audience,  # type: ignore[arg-type]
                            issuer=self._issuer)
        return Principal(claims["sub"], claims["preferred_username"],
                         frozenset(claims.get("realm_access", {}).get("roles", [])), claims=claims)
