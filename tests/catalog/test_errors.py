"""The one error map (catalog/errors.py): every domain error answers with the status it always had, and the
JSON detail is the public reason, never request data."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from catalog import errors
from catalog.errors import status_for
from policies.access.errors import (
    AccessError,
    Forbidden,
    GrantNotActive,
    IllegalTransition,
    InvalidAccessRequest,
    NotFound,
)
from policies.identity.errors import AuthError
from policies.sandbox.errors import QueryRefused, Refusal

# (error, status) as they answered before the map existed (status codes then sat on the error classes).
CASES = [
    (AccessError("bad"), 400),
    (InvalidAccessRequest("unknown dataset"), 422),
    (NotFound("no such request"), 404),
    (Forbidden("not yours"), 403),
    (IllegalTransition("approve", "refused", frozenset({"under_review"})), 409),
    (GrantNotActive("missing"), 404),
    (GrantNotActive("revoked"), 403),
    (GrantNotActive("expired"), 403),
    (AuthError("token expired"), 401),
    (QueryRefused("the query could not be parsed", code="syntax", kind=Refusal.INVALID), 400),
    (QueryRefused("aggregate tier: too few", code="small_cell", kind=Refusal.FORBIDDEN), 403),
    (QueryRefused("dataset x is not in the catalog", code="dataset_missing", kind=Refusal.NOT_FOUND), 404),
    (QueryRefused("the query exceeded its time limit", code="timeout", kind=Refusal.TIMEOUT), 408),
    (QueryRefused("the query was refused by disclosure control", code="disclosure", kind=Refusal.DISCLOSURE), 422),
    (QueryRefused("the query exceeded the memory limit", code="memory", kind=Refusal.LIMIT), 422),
    (QueryRefused("too many of your queries are running", code="busy", kind=Refusal.BUSY), 429),
    (QueryRefused("the query failed in the database", code="database_error", kind=Refusal.INTERNAL), 500),
    (ValueError("anything else"), 500),
]


@pytest.mark.parametrize(("error", "status"), CASES, ids=[f"{type(e).__name__}-{s}" for e, s in CASES])
def test_given_each_domain_error_then_it_maps_to_its_status(error: Exception, status: int) -> None:
    assert status_for(error) == status


def test_given_every_kind_of_query_refusal_then_the_map_gives_it_a_client_or_server_status() -> None:
    from catalog.errors import REFUSAL_STATUS

    assert set(REFUSAL_STATUS) == set(Refusal)  # a new kind without a status would answer 500 by KeyError
    assert all(400 <= s < 600 for s in REFUSAL_STATUS.values())
    assert not hasattr(QueryRefused("x"), "status_code")  # the domain error knows nothing of HTTP


def test_given_an_access_error_subclass_the_map_does_not_name_then_its_nearest_base_decides() -> None:
    class Stale(IllegalTransition):
        pass

    assert status_for(Stale("revoke", "expired")) == 409


class Body(BaseModel):
    n: int


def _client() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/raise/{index}")
    def raise_case(index: int) -> None:
        raise CASES[index][0]

    @app.post("/body")
    def body(b: Body) -> dict[str, int]:
        return {"n": b.n}

    return TestClient(app, raise_server_exceptions=False)


def test_given_the_app_then_each_error_answers_its_status_and_public_reason_over_http() -> None:
    client = _client()
    answers = [client.get(f"/raise/{i}") for i in range(len(CASES))]
    assert [r.status_code for r in answers] == [s for _, s in CASES]
    for (error, status), r in zip(CASES, answers, strict=True):
        # a domain error answers its public reason (a sandbox failure too); anything else a fixed message
        expected = getattr(error, "public_reason", "internal error")
        assert r.json() == {"detail": expected}
    auth = answers[[type(e) for e, _ in CASES].index(AuthError)]
    assert auth.headers["www-authenticate"] == "Bearer"


CLIENT = _client()


@settings(deadline=None, max_examples=60)  # an HTTP round trip per example: no per-example deadline on a loaded machine
@given(st.one_of(st.text(alphabet=st.characters(categories=["L", "P", "S"]), min_size=1, max_size=40),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=8), st.text(max_size=8))))
def test_given_any_invalid_body_value_then_the_422_names_the_field_and_never_echoes_it(value: object) -> None:
    r = CLIENT.post("/body", json={"n": value})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert re.fullmatch(r"invalid request: body field 'n' \([a-z_]+\)", detail), detail
