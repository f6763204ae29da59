"""Claims -> Principal mapping, and verifier robustness against arbitrary input (property-based)."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.identity.claims import hospital_from_claims, principal_from_claims
from policies.identity.dev_issuer import DevIssuer
from policies.identity.errors import AuthError


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"hospital": "st-mary"}, "st-mary"),
        ({"hospital": ["st-mary"]}, "st-mary"),
        ({"hospital": ["st-mary", "city-general"]}, None),
        ({"groups": ["/hospitals/st-mary", "/researchers"]}, "st-mary"),
        ({"groups": ["/hospitals/st-mary", "/hospitals/city-general"]}, None),
        ({"hospital": "st-mary", "groups": ["/hospitals/st-mary"]}, "st-mary"),
        ({"hospital": "st-mary", "groups": ["/hospitals/city-general"]}, None),
        ({"hospital": "  "}, None),
        ({"hospital": 42}, None),
        ({"groups": ["/hospitals/a/b"]}, None),
        ({}, None),
    ],
)
def test_given_hospital_sources_then_only_unambiguous_ones_count(claims, expected) -> None:
    assert hospital_from_claims(claims) == expected


def test_given_non_list_roles_or_groups_then_they_grant_nothing() -> None:
    principal = principal_from_claims(
        {"sub": "s", "realm_access": "researcher", "resource_access": {"hds-api": {"roles": "authority-admin"}},
         "groups": "/datasets/x"},
        role_clients=("hds-api",),
    )
    assert principal.roles == frozenset()
    assert principal.groups == frozenset()


@pytest.fixture(scope="module")
def dev_issuer(tmp_path_factory: pytest.TempPathFactory) -> DevIssuer:
    return DevIssuer(Path(tmp_path_factory.mktemp("dev")))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_given_arbitrary_text_then_only_auth_errors_are_raised(dev_issuer: DevIssuer, text: str) -> None:
    with pytest.raises(AuthError):
        dev_issuer.verifier().verify(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jku", "x5u"]),
                           st.one_of(st.text(max_size=20), st.integers(), st.none(), st.lists(st.integers(), max_size=2))),
    payload=st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=10), st.integers()), max_size=5),
    signature=st.binary(max_size=64),
)
def test_given_forged_tokens_then_never_accepted(dev_issuer: DevIssuer, header, payload, signature) -> None:
    token = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature)])
    with pytest.raises(AuthError):
        dev_issuer.verifier().verify(token)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_given_one_character_changed_in_signature_or_payload_then_refused(dev_issuer: DevIssuer, position, replacement) -> None:
    token = dev_issuer.issue("res1", ["researcher"])
    head, body, sig = token.split(".")
    target = body + "." + sig
    i = position % len(target)
    if target[i] in (".", replacement) or (i == len(target) - 1):
        return  # no change, or the last base64 char whose low bits may be padding
    tampered = head + "." + target[:i] + replacement + target[i + 1:]
    with pytest.raises(AuthError):
        dev_issuer.verifier().verify(tampered)


def test_given_refused_tokens_then_nothing_token_like_is_logged(dev_issuer: DevIssuer, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token = dev_issuer.issue("res1", ["researcher"], ttl_s=1)
    for bad in (token[:-4] + "AAAA", token.replace(".", "", 1), "x." + token):
        with pytest.raises(AuthError):
            dev_issuer.verifier().verify(bad)
    for part in token.split("."):
        assert part not in caplog.text
