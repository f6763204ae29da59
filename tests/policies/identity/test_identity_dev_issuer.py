"""The embedded dev issuer: persisted key, Keycloak-shaped tokens, refused in production."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest

from policies.settings import Settings
from policies.identity.dev_issuer import DEV_ISSUER, DevIssuer
from policies.identity.errors import DevIssuerRefused, IdentityConfigError
from policies.identity.factory import verifier_from_settings


def test_given_fresh_data_dir_then_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = DevIssuer(tmp_path)
    key_path = tmp_path / "dev-issuer" / "key.pem"
    assert key_path.exists()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    second = DevIssuer(tmp_path)
    assert second.kid == first.kid
    # a token from one instance verifies with the other: the demo API and `hds token` share the key
    assert second.verifier().verify(first.issue("alice", ["researcher"])).username == "alice"


def test_given_production_env_then_dev_issuer_refuses_to_construct(tmp_path: Path) -> None:
    with pytest.raises(DevIssuerRefused, match="HDS_ENV=production"):
        DevIssuer(tmp_path, env="production")
    assert not (tmp_path / "dev-issuer").exists()


def test_given_production_settings_without_oidc_then_factory_refuses(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path)
    with pytest.raises(DevIssuerRefused):
        verifier_from_settings(settings)


def test_given_development_settings_then_factory_returns_dev_issuer_verifier(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path)
    verifier = verifier_from_settings(settings)
    token = DevIssuer.from_settings(settings).issue("steward1", ["data-steward"])
    assert verifier.issuer == DEV_ISSUER
    assert verifier.verify(token).roles == frozenset({"data-steward"})


def test_given_token_then_claims_are_keycloak_shaped(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path)
    token = issuer.issue("pub1", ["hospital-publisher"], hospital="st-mary", ttl_s=600)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "RS256" and header["kid"] == issuer.kid
    assert claims["iss"] == "http://hds-dev-issuer/realms/hds"
    assert claims["aud"] == ["hds-api"] and claims["azp"] == "hds-api"
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "pub1"
    assert claims["realm_access"] == {"roles": ["hospital-publisher"]}
    assert claims["resource_access"] == {"hds-api": {"roles": ["hospital-publisher"]}}
    assert claims["hospital"] == "st-mary"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["sub"] == issuer.subject_for("pub1") != "pub1"
    principal = issuer.verifier().verify(token)
    assert principal.hospital == "st-mary" and principal.has_any("hospital-publisher")


def test_given_jwks_then_it_lists_only_the_public_key(tmp_path: Path) -> None:
    jwks = DevIssuer(tmp_path).jwks()
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig" and key["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


@pytest.mark.parametrize(
    ("roles", "hospital"),
    [(["superuser"], None), (["hospital-publisher"], None), ([], None)],
    ids=["unknown-role", "publisher-without-hospital", "no-role-is-fine"],
)
def test_given_invalid_role_request_then_issue_refuses(tmp_path: Path, roles: list[str], hospital: str | None) -> None:
    issuer = DevIssuer(tmp_path)
    if roles:
        with pytest.raises(ValueError):
            issuer.issue("someone", roles, hospital=hospital)
    else:
        assert issuer.verifier().verify(issuer.issue("someone", roles)).roles == frozenset()


def test_given_world_readable_key_then_dev_issuer_refuses(tmp_path: Path) -> None:
    DevIssuer(tmp_path)
    key_path = tmp_path / "dev-issuer" / "key.pem"
    key_path.chmod(0o644)
    with pytest.raises(IdentityConfigError, match="0600"):
        DevIssuer(tmp_path)
