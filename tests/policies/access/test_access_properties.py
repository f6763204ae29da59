"""Random sequences of actions by random people keep the access invariants (hypothesis)."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import duckdb
from governance_kit import ADA, ALICE, BOB, DATASETS, HOSP, STEVE, Clock, RecordingMirror
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import status_for
from policies.access import AccessError, AccessService, GrantNotActive, GrantStatus, RequestStatus
from policies.access.lifecycle import TRANSITIONS
from policies.audit import AuditLog

PEOPLE = [ALICE, BOB, STEVE, ADA, HOSP]
LEGAL_EDGES = {(frm, t.to) for t in TRANSITIONS.values() for frm in t.allowed_from}

def _by(likely: list, action: str, n: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[str, object, int]]:
    """Mostly the person entitled to act, sometimes anyone (so refusals are exercised too)."""
    who = st.sampled_from(likely * 4 + PEOPLE)
    return st.tuples(st.just(action), who, n)


op = st.one_of(
    _by([ALICE, BOB], "submit", st.integers(1, 5)),
    _by([STEVE], "review", st.integers(0, 7)),
    _by([ADA], "approve", st.integers(0, 7)),
    _by([ADA], "refuse", st.integers(0, 7)),
    _by([ALICE, BOB], "withdraw", st.integers(0, 7)),
    _by([ADA], "revoke", st.integers(0, 7)),
    _by([ALICE, BOB], "use", st.integers(0, 7)),
    st.tuples(st.just("advance"), st.just(ADA), st.integers(0, 3)),
    st.tuples(st.just("sweep"), st.just(ADA), st.just(0)),
)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=3, max_size=40))
def test_given_random_action_sequences_then_invariants_hold(ops: list[tuple[str, object, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "catalog.duckdb"))
        try:
            _run(con, ops)
        finally:
            con.close()


def _run(con: duckdb.DuckDBPyConnection, ops: list[tuple[str, object, int]]) -> None:
    clock, mirror, lock = Clock(), RecordingMirror(), threading.Lock()
    audit = AuditLog(con.cursor, lock, now=clock)
    audit.ensure_schema()
    service = AccessService(con.cursor, lock, audit=audit, mirror=mirror, dataset_exists=DATASETS.__contains__,
                            now=clock)
    service.ensure_schema()
    requests: list[str] = [service.submit(who, datasets=["admissions"], purpose="p", duration_days=d).id
                           for who, d in ((ALICE, 1), (BOB, 3), (ALICE, 5), (BOB, 2))]
    grants: list[str] = []
    for name, who, n in ops:
        before = {r.id: r.status for r in service.list_requests(ADA)}
        try:
            if name == "submit":
                requests.append(service.submit(who, datasets=["admissions"], purpose="p", duration_days=n).id)  # type: ignore[arg-type]
            elif name in ("review", "approve", "refuse", "withdraw") and requests:
                rid = requests[n % len(requests)]
                result = {"review": lambda: service.review(rid, who),  # type: ignore[arg-type]
                          "approve": lambda: service.approve(rid, who),  # type: ignore[arg-type]
                          "refuse": lambda: service.refuse(rid, who, "reason"),  # type: ignore[arg-type]
                          "withdraw": lambda: service.withdraw(rid, who)}[name]()  # type: ignore[arg-type]
                if name == "approve":
                    grants.append(result.id)  # type: ignore[union-attr]
            elif name == "revoke" and grants:
                service.revoke(grants[n % len(grants)], who, "reason")  # type: ignore[arg-type]
            elif name == "use" and grants:
                _check_use(service, grants[n % len(grants)], who, clock)  # type: ignore[arg-type]
            elif name == "advance":
                clock.advance(days=n)
            elif name == "sweep":
                service.sweep_expired()
        except AccessError as exc:
            assert 400 <= status_for(exc) < 600 and exc.public_reason
        after = {r.id: r.status for r in service.list_requests(ADA)}
        for rid, status in before.items():  # only legal edges, and at most one per step
            assert after[rid] == status or (status, after[rid]) in LEGAL_EDGES
        assert sum(after.get(r) != s for r, s in before.items()) <= 1
    _check_invariants(service, audit, mirror, clock)


def _check_use(service: AccessService, grant_id: str, who: object, clock: Clock) -> None:
    grant = service.get_grant(grant_id, ADA)
    usable = (grant.status is GrantStatus.ACTIVE and clock() < grant.expires_at
              and grant.grantee.subject == who.subject)  # type: ignore[attr-defined]
    try:
        service.active_grant(grant_id, who)  # type: ignore[arg-type]
        assert usable
    except GrantNotActive:
        assert not usable


def _check_invariants(service: AccessService, audit: AuditLog, mirror: RecordingMirror, clock: Clock) -> None:
    all_requests = service.list_requests(ADA)
    all_grants = {g.id: g for g in service.list_grants(ADA)}  # also sweeps
    approved = {r.id for r in all_requests if r.status is RequestStatus.APPROVED}
    assert {g.request_id for g in all_grants.values()} == approved
    assert len(all_grants) == len(approved)  # one grant per approved request
    for r in all_requests:
        assert (r.grant_id is not None) == (r.status is RequestStatus.APPROVED)
        assert r.requester.subject not in {ADA.subject, STEVE.subject, "sub-hosp"}  # only researchers request
        assert r.history[0].action == "submit"
    for g in all_grants.values():
        assert g.status is not GrantStatus.ACTIVE or clock() < g.expires_at  # the sweep ran in list_grants
    live = {(g.id, d, g.grantee.username) for g in all_grants.values() if g.status is GrantStatus.ACTIVE
            for d in g.datasets}
    assert mirror.held == live  # Keycloak mirrors exactly the live grants
    assert audit.verify().ok
