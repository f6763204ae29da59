"""Access requests and grants through the service, against a real DuckDB file."""

from __future__ import annotations

import pytest
from governance_kit import ADA, ALICE, BOB, HOSP, STEVE, Clock, RecordingMirror

from catalog.errors import status_for
from policies.access import (
    AccessService,
    Forbidden,
    GrantNotActive,
    GrantStatus,
    IllegalTransition,
    InvalidAccessRequest,
    NotFound,
    RequestStatus,
)
from policies.audit import AuditLog
from policies.principal import Principal


def _submit(service: AccessService, who: Principal = ALICE, **kw: object) -> str:
    body: dict[str, object] = {"datasets": ["admissions"], "purpose": "readmission study", "duration_days": 30}
    body.update(kw)
    return service.submit(who, **body).id  # type: ignore[arg-type]


def test_given_submission_then_request_is_stored_submitted_with_history(service: AccessService) -> None:
    rid = _submit(service, columns={"admissions": ["age_band", "ward"]}, project="P1", legal_basis="GDPR 9(2)(j)")
    request = service.get_request(rid, ALICE)
    assert request.status is RequestStatus.SUBMITTED
    assert request.columns == {"admissions": ("age_band", "ward")}
    assert request.requester.username == "alice" and request.requester.subject == "sub-alice"
    assert [h.action for h in request.history] == ["submit"]


def test_given_unknown_dataset_then_submission_is_invalid_without_echo(service: AccessService) -> None:
    with pytest.raises(InvalidAccessRequest) as err:
        _submit(service, datasets=["admissions", "secret_table_x"])
    assert status_for(err.value) == 422 and "secret_table_x" not in err.value.public_reason


@pytest.mark.parametrize("kw", [
    {"datasets": []}, {"purpose": "  "}, {"duration_days": 0}, {"duration_days": True},
    {"columns": {"lab_results": ["x"]}}, {"columns": {"admissions": []}}, {"datasets": ["admissions", "admissions"]},
])
def test_given_malformed_submission_then_refused(service: AccessService, kw: dict[str, object]) -> None:
    with pytest.raises(InvalidAccessRequest):
        _submit(service, **kw)


@pytest.mark.parametrize("who", [STEVE, ADA, HOSP])
def test_given_non_researcher_then_cannot_submit(service: AccessService, who: Principal) -> None:
    with pytest.raises(Forbidden):
        _submit(service, who)


def test_given_review_then_approve_then_grant_is_active_and_mirrored(
        service: AccessService, mirror: RecordingMirror, clock: Clock) -> None:
    rid = _submit(service, datasets=["admissions", "lab_results"])
    assert service.review(rid, STEVE, note="looks fine").status is RequestStatus.UNDER_REVIEW
    grant = service.approve(rid, ADA)
    assert grant.status is GrantStatus.ACTIVE and grant.grantee.username == "alice"
    assert grant.expires_at == clock.t + __import__("datetime").timedelta(days=30)
    assert mirror.held == {(grant.id, "admissions", "alice"), (grant.id, "lab_results", "alice")}
    request = service.get_request(rid, ALICE)
    assert request.status is RequestStatus.APPROVED and request.grant_id == grant.id
    assert [h.action for h in request.history] == ["submit", "review", "approve"]
    assert service.active_grant(grant.id, ALICE) == grant


def test_given_approval_from_submitted_then_allowed_without_review(service: AccessService) -> None:
    rid = _submit(service)
    assert service.approve(rid, ADA).request_id == rid


def test_given_narrowing_then_grant_has_fewer_columns_and_shorter_duration(service: AccessService, clock: Clock) -> None:
    from datetime import timedelta

    rid = _submit(service, datasets=["admissions", "lab_results"], columns={"admissions": ["ward", "age_band", "los"]})
    grant = service.approve(rid, ADA, columns={"admissions": ["ward"], "lab_results": ["loinc"]}, duration_days=7)
    assert grant.columns == {"admissions": ("ward",), "lab_results": ("loinc",)}
    assert grant.expires_at == clock.t + timedelta(days=7)
    assert grant.allowed_columns("admissions") == frozenset({"ward"})
    assert grant.allowed_columns("other") == frozenset()


@pytest.mark.parametrize("kw", [
    {"columns": {"admissions": ["ward", "diagnosis"]}},  # wider than requested
    {"columns": {"lab_results": ["x"]}},  # dataset never requested
    {"duration_days": 31},  # longer than requested
    {"duration_days": 0},
])
def test_given_widening_approval_then_refused_and_nothing_changes(
        service: AccessService, mirror: RecordingMirror, kw: dict[str, object]) -> None:
    rid = _submit(service, columns={"admissions": ["ward", "age_band"]})
    with pytest.raises(InvalidAccessRequest):
        service.approve(rid, ADA, **kw)  # type: ignore[arg-type]
    assert service.get_request(rid, ADA).status is RequestStatus.SUBMITTED
    assert mirror.held == set() and service.list_grants(ADA) == []


def test_given_refusal_then_reason_is_required_and_recorded(service: AccessService) -> None:
    rid = _submit(service)
    with pytest.raises(InvalidAccessRequest):
        service.refuse(rid, ADA, " ")
    refused = service.refuse(rid, ADA, "purpose too broad")
    assert refused.status is RequestStatus.REFUSED and refused.decision_reason == "purpose too broad"


def test_given_withdrawal_then_only_the_requester_may(service: AccessService) -> None:
    rid = _submit(service)
    with pytest.raises(NotFound):
        service.withdraw(rid, BOB)  # another researcher does not even see it
    with pytest.raises(Forbidden):
        service.withdraw(rid, ADA)
    assert service.withdraw(rid, ALICE).status is RequestStatus.WITHDRAWN


@pytest.mark.parametrize("final", ["approve", "refuse", "withdraw"])
@pytest.mark.parametrize("action", ["review", "approve", "refuse", "withdraw"])
def test_given_final_request_then_every_action_is_an_illegal_transition(
        service: AccessService, final: str, action: str) -> None:
    rid = _submit(service)
    {"approve": lambda: service.approve(rid, ADA), "refuse": lambda: service.refuse(rid, ADA, "no"),
     "withdraw": lambda: service.withdraw(rid, ALICE)}[final]()
    act = {"review": lambda: service.review(rid, STEVE), "approve": lambda: service.approve(rid, ADA),
           "refuse": lambda: service.refuse(rid, ADA, "no"), "withdraw": lambda: service.withdraw(rid, ALICE)}[action]
    with pytest.raises(IllegalTransition) as err:
        act()
    assert status_for(err.value) == 409 and "cannot " + action in err.value.public_reason


def test_given_under_review_then_second_review_is_illegal(service: AccessService) -> None:
    rid = _submit(service)
    service.review(rid, STEVE)
    with pytest.raises(IllegalTransition):
        service.review(rid, STEVE)


def test_given_wrong_role_then_decisions_are_forbidden(service: AccessService) -> None:
    rid = _submit(service)
    for act in (lambda: service.review(rid, ADA), lambda: service.approve(rid, STEVE),
                lambda: service.refuse(rid, STEVE, "x"), lambda: service.approve(rid, ALICE)):
        with pytest.raises(Forbidden):
            act()


def test_given_admin_who_requested_then_cannot_approve_own_request(service: AccessService) -> None:
    both = Principal("sub-eve", "eve", frozenset({"researcher", "authority-admin"}))
    rid = _submit(service, both)
    with pytest.raises(Forbidden):
        service.approve(rid, both)


def test_given_expiry_then_grant_stops_working_immediately_and_sweep_unmirrors(
        service: AccessService, mirror: RecordingMirror, clock: Clock) -> None:
    grant = service.approve(_submit(service, duration_days=2), ADA)
    clock.advance(days=2, seconds=-1)
    assert service.active_grant(grant.id, ALICE).id == grant.id
    clock.advance(seconds=1)
    with pytest.raises(GrantNotActive) as err:
        service.active_grant(grant.id, ALICE)
    assert err.value.reason == "expired" and status_for(err.value) == 403
    assert mirror.held == set()
    assert service.get_grant(grant.id, ADA).status is GrantStatus.EXPIRED
    assert service.sweep_expired() == []


def test_given_sweep_then_expired_grants_are_marked_and_audited(
        service: AccessService, audit: AuditLog, mirror: RecordingMirror, clock: Clock) -> None:
    short = service.approve(_submit(service, duration_days=1), ADA)
    long = service.approve(_submit(service, BOB, duration_days=10), ADA)
    clock.advance(days=3)
    assert service.sweep_expired() == [short.id]
    assert service.get_grant(short.id, ADA).status is GrantStatus.EXPIRED
    assert service.get_grant(long.id, ADA).status is GrantStatus.ACTIVE
    assert {g for g, _, _ in mirror.held} == {long.id}
    assert [r.subjects[0] for r in audit.records(action="grant.expired")] == [f"grant:{short.id}"]


def test_given_revocation_then_next_use_fails_and_mirror_is_removed(
        service: AccessService, mirror: RecordingMirror) -> None:
    grant = service.approve(_submit(service), ADA)
    service.active_grant(grant.id, ALICE)
    revoked = service.revoke(grant.id, ADA, "misuse reported")
    assert revoked.status is GrantStatus.REVOKED and mirror.held == set()
    with pytest.raises(GrantNotActive) as err:
        service.active_grant(grant.id, ALICE)
    assert err.value.reason == "revoked"
    with pytest.raises(IllegalTransition):
        service.revoke(grant.id, ADA, "again")


def test_given_other_user_then_active_grant_is_not_found(service: AccessService) -> None:
    grant = service.approve(_submit(service), ADA)
    with pytest.raises(GrantNotActive) as err:
        service.active_grant(grant.id, BOB)
    assert status_for(err.value) == 404
    with pytest.raises(GrantNotActive):
        service.active_grant("no-such-grant", ALICE)


def test_given_unreachable_identity_provider_then_approval_commits_and_reaches_it_once_it_answers(
        service: AccessService, mirror: RecordingMirror, audit: AuditLog) -> None:
    rid = _submit(service)
    mirror.failing = True
    grant = service.approve(rid, ADA)  # the decision does not wait for the identity provider
    assert service.get_request(rid, ADA).status is RequestStatus.APPROVED
    assert service.active_grant(grant.id, ALICE).id == grant.id
    assert mirror.held == set() and not service.token_allows(ALICE, "admissions")  # the token half still refuses
    assert [(c.grant_id, c.action, c.attempts) for c in service.mirroring.pending()] == [(grant.id, "grant", 1)]
    assert [r.action for r in audit.records(limit=100)][-1] == "grant.mirror_failed"  # audited once
    service.deliver_mirror()
    assert [c.attempts for c in service.mirroring.pending()] == [2]
    assert [r.action for r in audit.records(limit=100)].count("grant.mirror_failed") == 1
    mirror.failing = False
    assert service.deliver_mirror().delivered == 1
    assert mirror.held == {(grant.id, "admissions", "alice")} and service.mirroring.pending() == []
    assert service.get_grant(grant.id, ADA).mirrored


def test_given_unmirror_failure_on_revoke_then_revoked_anyway_and_sweep_retries(
        service: AccessService, mirror: RecordingMirror) -> None:
    grant = service.approve(_submit(service), ADA)
    mirror.failing = True
    service.revoke(grant.id, ADA, "ended")
    with pytest.raises(GrantNotActive):
        service.active_grant(grant.id, ALICE)
    assert mirror.held  # still in the identity provider...
    assert service.get_grant(grant.id, ADA).mirrored
    mirror.failing = False
    assert service.sweep_expired() == []  # nothing newly expired, but the sweep delivers the queued removal
    assert mirror.held == set() and not service.get_grant(grant.id, ADA).mirrored


def test_given_revocation_before_the_approval_reached_the_identity_provider_then_it_never_holds_the_grant(
        service: AccessService, mirror: RecordingMirror) -> None:
    mirror.failing = True
    grant = service.approve(_submit(service), ADA)
    service.revoke(grant.id, ADA, "changed our mind")
    assert [c.action for c in service.mirroring.pending()] == ["revoke"]  # the undelivered grant is cancelled
    mirror.failing = False
    service.deliver_mirror()
    assert mirror.held == set() and service.mirroring.pending() == []


def test_given_a_change_the_identity_provider_keeps_refusing_then_it_holds_back_no_other(
        service: AccessService, mirror: RecordingMirror) -> None:
    mirror.refusing = {"bob"}
    stuck = service.approve(_submit(service, BOB), ADA)
    for _ in range(4):
        service.deliver_mirror()  # bob's change fails again and again...
    later = service.approve(_submit(service), ADA)  # ...and alice's, queued after it, still goes through
    assert mirror.held == {(later.id, "admissions", "alice")}
    assert [(c.grant_id, c.attempts) for c in service.mirroring.pending()] == [(stuck.id, 6)]  # 1 + 4 + 1 tries


def test_given_an_unreachable_identity_provider_then_one_delivery_gives_up_after_three_failures(
        service: AccessService, mirror: RecordingMirror) -> None:
    mirror.failing = True
    for _ in range(5):
        service.approve(_submit(service), ADA)
    assert len(service.mirroring.pending()) == 5
    before = mirror.calls
    assert service.deliver_mirror().pending == 5
    assert mirror.calls - before == 3  # not one call per queued change
    mirror.failing = False
    assert service.deliver_mirror().delivered == 5 and len(mirror.held) == 5


def test_given_a_grant_held_outside_the_catalog_then_reconciling_removes_it_and_keeps_live_ones(
        service: AccessService, mirror: RecordingMirror, clock: Clock) -> None:
    live = service.approve(_submit(service), ADA)
    mirror.held.add(("stray-grant", "admissions", "bob"))
    assert service.deliver_mirror(reconcile=True).removed == ("stray-grant",)
    assert mirror.held == {(live.id, "admissions", "alice")}
    clock.advance(days=31)  # expired but not swept yet: reconciling already removes it
    assert service.deliver_mirror(reconcile=True).removed == (live.id,)
    assert mirror.held == set()


def test_given_roles_then_listing_is_scoped(service: AccessService) -> None:
    a = _submit(service)
    b = _submit(service, BOB)
    assert [r.id for r in service.list_requests(ALICE)] == [a]
    assert {r.id for r in service.list_requests(STEVE)} == {a, b}
    assert {r.id for r in service.list_requests(ADA)} == {a, b}
    with pytest.raises(Forbidden):
        service.list_requests(HOSP)
    ga = service.approve(a, ADA)
    service.approve(b, ADA)
    assert [g.id for g in service.list_grants(ALICE)] == [ga.id]
    assert len(service.list_grants(ADA)) == 2


def test_given_every_transition_then_audit_chain_records_it_and_verifies(
        service: AccessService, audit: AuditLog) -> None:
    a = _submit(service)
    service.review(a, STEVE)
    grant = service.approve(a, ADA, note="ok")
    service.revoke(grant.id, ADA, "done")
    b = _submit(service)
    service.refuse(b, ADA, "no")
    c = _submit(service)
    service.withdraw(c, ALICE)
    actions = [r.action for r in audit.records(limit=100)]
    assert actions == ["request.submitted", "request.under_review", "request.approved", "grant.created",
                       "grant.revoked", "request.submitted", "request.refused", "request.submitted",
                       "request.withdrawn"]
    assert audit.verify().ok


def test_given_mirror_failures_then_logs_name_grant_ids_never_people_or_purposes(
        service: AccessService, mirror: RecordingMirror, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    rid = _submit(service, purpose="study of Jane Roe's ward")
    grant = service.approve(rid, ADA)
    mirror.failing = True
    service.revoke(grant.id, ADA, "reported by Jane Roe")
    second = service.approve(_submit(service, purpose="Jane Roe again"), ADA)
    service.deliver_mirror(reconcile=True)
    assert second.id in text_of(caplog)
    text = text_of(caplog)
    assert grant.id in text
    assert "Jane" not in text and "alice" not in text


def text_of(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(r.getMessage() for r in caplog.records)
