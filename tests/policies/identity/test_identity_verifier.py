"""TokenVerifier: algorithm, signature, issuer, audience/azp, time claims with leeway, key cache and refetch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from catalog.errors import status_for
from policies.identity.dev_issuer import DEV_ISSUER, DevIssuer
from policies.identity.errors import AuthError
from policies.identity.jwks import StaticJwksSource
from policies.identity.verifier import TokenVerifier

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingSource:
    """A JWKS source whose key set a test changes, counting fetches (a real in-memory source, not a mock)."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0

    def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [dict(k) for k in self.keys]}


def _key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, jwk


@pytest.fixture(scope="module")
def signing_key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    private, jwk = _key()
    return private, {**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}


def _claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": "hds-api",
        "azp": "hds-api",
        "sub": "7d1c6a9e-0000-4000-8000-000000000001",
        "typ": "Bearer",
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "preferred_username": "res1",
        "realm_access": {"roles": ["researcher", "offline_access"]},
        "resource_access": {"hds-api": {"roles": ["data-steward"]}, "account": {"roles": ["manage-account"]}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(private: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "k1") -> str:
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def _verifier(jwk: dict[str, Any], clock: Clock | None = None, **kw: Any) -> TokenVerifier:
    return TokenVerifier(DEV_ISSUER, "hds-api", StaticJwksSource({"keys": [jwk]}), clock=clock or Clock(), **kw)


def test_given_valid_token_then_principal_has_realm_and_api_client_roles_only(signing_key) -> None:
    private, jwk = signing_key
    token = _sign(private, _claims(groups=["/datasets/admissions"], hospital=["st-mary"]))
    principal = _verifier(jwk).verify(token)
    assert principal.username == "res1"
    assert principal.roles == frozenset({"researcher", "offline_access", "data-steward"})
    assert "manage-account" not in principal.roles  # other clients' roles never leak in
    assert principal.groups == frozenset({"/datasets/admissions"})
    assert principal.hospital == "st-mary"


@pytest.mark.parametrize(
    ("aud", "azp", "accepted"),
    [
        ("hds-api", "hds-portal", True),
        (["account", "hds-api"], "hds-portal", True),
        ("account", "hds-api", True),  # Keycloak: a client's own token names it in azp
        ("account", "hds-portal", False),
        (None, "other", False),
    ],
)
def test_given_audience_variants_then_only_tokens_for_the_api_are_accepted(signing_key, aud, azp, accepted) -> None:
    private, jwk = signing_key
    token = _sign(private, _claims(aud=aud, azp=azp))
    if accepted:
        assert _verifier(jwk).verify(token).subject
    else:
        with pytest.raises(AuthError, match="not intended for this service") as info:
            _verifier(jwk).verify(token)
        assert status_for(info.value) == 401


def test_given_other_issuer_then_refused(signing_key) -> None:
    private, jwk = signing_key
    with pytest.raises(AuthError, match="untrusted issuer"):
        _verifier(jwk).verify(_sign(private, _claims(iss="http://evil.example/realms/hds")))


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-10, True), (25, True), (31, False), (3600, False)],
    ids=["valid", "expired-within-leeway", "expired-beyond-leeway", "long-expired"],
)
def test_given_expiry_relative_to_leeway_then_accepted_or_refused(signing_key, offset, accepted) -> None:
    private, jwk = signing_key
    token = _sign(private, _claims(exp=int(NOW) + 300))
    clock = Clock(NOW + 300 + offset)
    if accepted:
        assert _verifier(jwk, clock).verify(token).username == "res1"
    else:
        with pytest.raises(AuthError, match="token expired"):
            _verifier(jwk, clock).verify(token)


def test_given_nbf_or_iat_in_future_beyond_leeway_then_refused(signing_key) -> None:
    private, jwk = signing_key
    verifier = _verifier(jwk)
    assert verifier.verify(_sign(private, _claims(nbf=int(NOW) + 20, iat=int(NOW) + 20))).subject
    with pytest.raises(AuthError, match="not yet valid"):
        verifier.verify(_sign(private, _claims(nbf=int(NOW) + 120)))
    with pytest.raises(AuthError, match="issued in the future"):
        verifier.verify(_sign(private, _claims(iat=int(NOW) + 120)))


def test_given_missing_exp_or_sub_then_refused(signing_key) -> None:
    private, jwk = signing_key
    claims = _claims()
    del claims["exp"]
    with pytest.raises(AuthError, match="no exp"):
        _verifier(jwk).verify(_sign(private, claims))
    with pytest.raises(AuthError, match="no subject"):
        _verifier(jwk).verify(_sign(private, _claims(sub="")))


def test_given_refresh_or_id_token_type_then_refused(signing_key) -> None:
    private, jwk = signing_key
    for typ in ("Refresh", "ID"):
        with pytest.raises(AuthError, match="not an access token"):
            _verifier(jwk).verify(_sign(private, _claims(typ=typ)))


def test_given_alg_none_then_refused(signing_key) -> None:
    _, jwk = signing_key
    token = jwt.encode(_claims(), None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(AuthError, match="unsupported token algorithm"):
        _verifier(jwk).verify(token)


def test_given_hs256_signed_with_public_key_material_then_refused(signing_key) -> None:
    """The classic key-confusion attack: HMAC keyed with the public modulus must never verify."""
    _, jwk = signing_key
    token = jwt.encode(_claims(), jwk["n"].encode(), algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(AuthError, match="unsupported token algorithm"):
        _verifier(jwk).verify(token)


def test_given_signature_from_another_key_with_same_kid_then_refused(signing_key) -> None:
    _, jwk = signing_key
    other, _ = _key()
    with pytest.raises(AuthError, match="invalid token signature"):
        _verifier(jwk).verify(_sign(other, _claims()))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "Bearer x.y.z"])
def test_given_garbage_then_refused_without_echoing_it(signing_key, token) -> None:
    _, jwk = signing_key
    with pytest.raises(AuthError) as info:
        _verifier(jwk).verify(token)
    assert info.value.public_reason == "malformed token"


def test_given_refusal_then_reason_never_contains_the_token(signing_key) -> None:
    private, jwk = signing_key
    token = _sign(private, _claims(exp=int(NOW) - 1000))
    with pytest.raises(AuthError) as info:
        _verifier(jwk).verify(token)
    for part in token.split("."):
        assert part not in str(info.value) and part not in info.value.public_reason


def test_given_encryption_key_in_jwks_then_it_is_never_used_to_verify(signing_key) -> None:
    private, jwk = signing_key
    enc = {**jwk, "kid": "enc1", "use": "enc", "alg": "RSA-OAEP"}
    verifier = TokenVerifier(DEV_ISSUER, "hds-api", StaticJwksSource({"keys": [enc]}), clock=Clock())
    with pytest.raises(AuthError, match="unknown key"):
        verifier.verify(_sign(private, _claims(), kid="enc1"))


def test_given_unknown_kid_then_keys_are_refetched_at_most_once_per_interval() -> None:
    old_private, old_jwk = _key()
    new_private, new_jwk = _key()
    source = CountingSource([{**old_jwk, "kid": "old"}])
    clock = Clock()
    verifier = TokenVerifier(DEV_ISSUER, "hds-api", source, clock=clock, refetch_interval_s=10, cache_ttl_s=300)
    assert verifier.verify(_sign(old_private, _claims(), kid="old")).subject
    assert source.fetches == 1
    # the issuer rotates: a token with a new kid arrives
    source.keys.append({**new_jwk, "kid": "new"})
    clock.now += 1
    with pytest.raises(AuthError, match="unknown key"):  # within the rate limit: no refetch storm
        verifier.verify(_sign(new_private, _claims(), kid="new"))
    assert source.fetches == 1
    clock.now += 10
    assert verifier.verify(_sign(new_private, _claims(exp=int(clock.now) + 60), kid="new")).subject
    assert source.fetches == 2
    # garbage kids are rate-limited too
    for _ in range(5):
        with pytest.raises(AuthError):
            verifier.verify(_sign(new_private, _claims(exp=int(clock.now) + 60), kid="bogus"))
    assert source.fetches == 2


def test_given_retired_key_then_tokens_fail_after_cache_ttl() -> None:
    old_private, old_jwk = _key()
    source = CountingSource([{**old_jwk, "kid": "old"}])
    clock = Clock()
    verifier = TokenVerifier(DEV_ISSUER, "hds-api", source, clock=clock, cache_ttl_s=300)
    token = _sign(old_private, _claims(exp=int(NOW) + 3600), kid="old")
    assert verifier.verify(token).subject
    source.keys.clear()  # retired by the issuer
    clock.now += 301
    with pytest.raises(AuthError, match="unknown key"):
        verifier.verify(token)


def test_given_dev_issuer_token_with_wrong_audience_verifier_then_refused(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path)
    verifier = TokenVerifier(DEV_ISSUER, "another-api", StaticJwksSource(issuer.jwks()))
    with pytest.raises(AuthError, match="not intended"):
        verifier.verify(issuer.issue("res1", ["researcher"]))
