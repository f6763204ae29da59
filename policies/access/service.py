"""Access requests and grants: the decisions, each in one write transaction with its audit record.

Roles are enforced here as well as by the routes (defence in depth), so any caller of the service, not only the
HTTP API, gets the same rules. Approval, revocation and expiry queue their change for the grant mirror (Keycloak
group per dataset) in the decision's transaction and deliver it after the commit (`policies/access/mirror.py`);
enforcement needs both the mirrored claim and an active grant record here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from policies.access import store
from policies.access.errors import (
    Forbidden,
    GrantNotActive,
    IllegalTransition,
    InvalidAccessRequest,
    NotFound,
)
from policies.access.lifecycle import OPEN, TRANSITIONS, next_status
from policies.access.mirror import GRANT, REVOKE, Delivery, GrantMirroring
from policies.identity.grant_mirror import GrantMirror
from policies.access.model import AccessRequest, Columns, Grant, GrantStatus, HistoryEntry, Party, RequestStatus
from policies.audit.log import SYSTEM_ACTOR, AuditLog
from policies.audit.transaction import CursorFactory, WriteLock, read_cursor, write_transaction
from policies.principal import ADMIN, RESEARCHER, STEWARD, Principal

log = logging.getLogger(__name__)

MAX_DURATION_DAYS = 3650
MAX_TEXT = 4000


class AccessService:
    def __init__(
        self,
        cursor_factory: CursorFactory,
        write_lock: WriteLock,
        *,
        audit: AuditLog,
        mirror: GrantMirror,
        dataset_exists: Callable[[str], bool],
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._cursor_factory = cursor_factory
        self._write_lock = write_lock
        self._audit = audit
        self._dataset_exists = dataset_exists
        self._now = now or (lambda: datetime.now(UTC))
        self.mirroring = GrantMirroring(mirror, cursor_factory, write_lock, audit=audit, now=self.now)

    def ensure_schema(self) -> None:
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            store.ensure_schema(cur)

    def now(self) -> datetime:
        return self._now().astimezone(UTC)

    # -- requests -----------------------------------------------------------------------------------------------
    def submit(
        self,
        principal: Principal,
        *,
        datasets: Sequence[str],
        purpose: str,
        duration_days: int,
        columns: Mapping[str, Sequence[str]] | None = None,
        project: str | None = None,
        legal_basis: str | None = None,
    ) -> AccessRequest:
        _require(principal, RESEARCHER)
        ds = _dataset_list(datasets)
        unknown = [i for i, d in enumerate(ds) if not self._dataset_exists(d)]
        if unknown:
            raise InvalidAccessRequest(f"unknown dataset at datasets[{unknown[0]}]")
        cols = _column_map(columns, ds)
        _check_text("purpose", purpose, required=True)
        _check_text("project", project)
        _check_text("legal_basis", legal_basis)
        _check_duration(duration_days)
        now = self.now()
        request = AccessRequest(
            id=str(uuid.uuid4()), requester=Party.of(principal), datasets=ds, columns=cols, purpose=purpose.strip(),
            project=project, legal_basis=legal_basis, duration_days=duration_days, status=RequestStatus.SUBMITTED,
            created_at=now, updated_at=now,
            history=(HistoryEntry(now, "submit", principal.username, None, RequestStatus.SUBMITTED.value),),
        )
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            store.save_request(cur, request)
            self._audit.append_in(cur, "request.submitted", principal, _subjects(request), datasets=list(ds),
                                  columns=_public_columns(cols), purpose=request.purpose, project=project,
                                  legal_basis=legal_basis, duration_days=duration_days)
        return request

    def get_request(self, request_id: str, principal: Principal) -> AccessRequest:
        with read_cursor(self._cursor_factory) as cur:
            request = store.get_request(cur, request_id)
        if request is None or not _may_see_request(principal, request):
            raise NotFound("access request not found")
        return request

    def list_requests(self, principal: Principal, *, status: str | None = None) -> list[AccessRequest]:
        if status is not None and status not in {s.value for s in RequestStatus}:
            raise InvalidAccessRequest("unknown status filter")
        with read_cursor(self._cursor_factory) as cur:
            if principal.has_any(ADMIN, STEWARD):
                return store.list_requests(cur, status=status)
            if principal.has_any(RESEARCHER):
                return store.list_requests(cur, requester_subject=principal.subject, status=status)
        raise Forbidden("listing access requests needs a researcher, data-steward or authority-admin role")

    def review(self, request_id: str, principal: Principal, note: str | None = None) -> AccessRequest:
        _require(principal, STEWARD)
        _check_text("note", note)
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            request = self._load_for_transition(cur, request_id, principal)
            updated = self._transition(request, "review", principal, note)
            store.save_request(cur, updated)
            self._audit.append_in(cur, "request.under_review", principal, _subjects(updated), note=note)
        return updated

    def withdraw(self, request_id: str, principal: Principal) -> AccessRequest:
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            request = self._load_for_transition(cur, request_id, principal)
            if request.requester.subject != principal.subject:
                raise Forbidden("only the requester can withdraw an access request")
            updated = self._transition(request, "withdraw", principal, None)
            store.save_request(cur, updated)
            self._audit.append_in(cur, "request.withdrawn", principal, _subjects(updated))
        return updated

    def refuse(self, request_id: str, principal: Principal, reason: str) -> AccessRequest:
        _require(principal, ADMIN)
        _check_text("reason", reason, required=True)
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            request = self._load_for_transition(cur, request_id, principal)
            updated = replace(self._transition(request, "refuse", principal, reason), decision_reason=reason.strip())
            store.save_request(cur, updated)
            self._audit.append_in(cur, "request.refused", principal, _subjects(updated), reason=reason)
        return updated

    def approve(
        self,
        request_id: str,
        principal: Principal,
        *,
        columns: Mapping[str, Sequence[str]] | None = None,
        duration_days: int | None = None,
        note: str | None = None,
    ) -> Grant:
        """Approve, possibly narrowing columns (subset of what was asked) and/or duration (not longer)."""
        _require(principal, ADMIN)
        _check_text("note", note)
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            request = self._load_for_transition(cur, request_id, principal)
            if request.status not in OPEN:
                next_status("approve", request.status)  # raises IllegalTransition with the allowed states
            if request.requester.subject == principal.subject:
                raise Forbidden("an authority admin cannot approve their own access request")
            granted_columns = _narrow_columns(request, columns)
            days = request.duration_days if duration_days is None else duration_days
            _check_duration(days)
            if days > request.duration_days:
                raise InvalidAccessRequest("duration_days cannot exceed the requested duration")
            now = self.now()
            grant = Grant(
                id=str(uuid.uuid4()), request_id=request.id, grantee=request.requester, datasets=request.datasets,
                columns=granted_columns, purpose=request.purpose, created_at=now,
                expires_at=now + timedelta(days=days), status=GrantStatus.ACTIVE,
            )
            updated = replace(self._transition(request, "approve", principal, note), grant_id=grant.id)
            store.save_request(cur, updated)
            store.save_grant(cur, grant)
            self._audit.append_in(cur, "request.approved", principal, _subjects(updated) + [f"grant:{grant.id}"],
                                  note=note, narrowed_columns=granted_columns != request.columns,
                                  duration_days=days)
            self._audit.append_in(cur, "grant.created", principal, _grant_subjects(grant),
                                  datasets=list(grant.datasets), columns=_public_columns(grant.columns),
                                  purpose=grant.purpose, expires_at=grant.expires_at)
            self.mirroring.enqueue(cur, grant, GRANT)
        self.mirroring.deliver()  # after the commit; if the identity provider is down, the sweep retries
        return grant

    # -- grants -------------------------------------------------------------------------------------------------
    def list_grants(self, principal: Principal) -> list[Grant]:
        self.sweep_expired()
        with read_cursor(self._cursor_factory) as cur:
            if principal.has_any(ADMIN):
                return store.list_grants(cur)
            if principal.has_any(RESEARCHER, STEWARD):
                return store.list_grants(cur, grantee_subject=principal.subject)
        raise Forbidden("listing grants needs a researcher, data-steward or authority-admin role")

    def get_grant(self, grant_id: str, principal: Principal) -> Grant:
        with read_cursor(self._cursor_factory) as cur:
            grant = store.get_grant(cur, grant_id)
        if grant is None or not (principal.has_any(ADMIN) or grant.grantee.subject == principal.subject):
            raise NotFound("grant not found")
        return grant

    def active_grant(self, grant_id: str, principal: Principal) -> Grant:
        """The grant `principal` may query under right now; raises GrantNotActive otherwise.

        Called on every query, so a revocation or an expiry takes effect on the very next query."""
        with read_cursor(self._cursor_factory) as cur:
            grant = store.get_grant(cur, grant_id)
        if grant is None or grant.grantee.subject != principal.subject:
            raise GrantNotActive("missing")
        if grant.status is GrantStatus.REVOKED:
            raise GrantNotActive("revoked")
        if grant.status is GrantStatus.EXPIRED or grant.expired_at(self.now()):
            if grant.status is GrantStatus.ACTIVE:
                self.sweep_expired()
            raise GrantNotActive("expired")
        return grant

    def revoke(self, grant_id: str, principal: Principal, reason: str) -> Grant:
        """Revoke now: recorded first (takes effect even if the identity provider is down), then unmirrored."""
        _require(principal, ADMIN)
        _check_text("reason", reason, required=True)
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            grant = store.get_grant(cur, grant_id)
            if grant is None:
                raise NotFound("grant not found")
            if grant.status is not GrantStatus.ACTIVE:
                raise IllegalTransition("revoke", grant.status.value, (GrantStatus.ACTIVE.value,), kind="a grant")
            revoked = replace(grant, status=GrantStatus.REVOKED, revoked_at=self.now(), revoke_reason=reason.strip())
            store.save_grant(cur, revoked)
            self._audit.append_in(cur, "grant.revoked", principal, _grant_subjects(revoked), reason=reason)
            self.mirroring.enqueue(cur, revoked, REVOKE)
        self.mirroring.deliver()
        return revoked

    def sweep_expired(self) -> list[str]:
        """Mark active grants past expiry as expired and queue their removal from the identity provider (also for
        ended grants it may still hold with nothing queued), then deliver what is queued.

        Returns the ids of the grants marked expired. Safe to call often (the list route, `active_grant` and the
        catalog's periodic sweep call it)."""
        with read_cursor(self._cursor_factory) as cur:
            due = store.grants_to_sweep(cur, self.now())
        expired: list[str] = []
        for candidate in due:
            with write_transaction(self._cursor_factory, self._write_lock) as cur:
                grant = store.get_grant(cur, candidate.id)  # re-read under the lock
                if grant is None:
                    continue
                if grant.status is GrantStatus.ACTIVE and grant.expired_at(self.now()):
                    grant = replace(grant, status=GrantStatus.EXPIRED)
                    store.save_grant(cur, grant)
                    self._audit.append_in(cur, "grant.expired", SYSTEM_ACTOR, _grant_subjects(grant),
                                          expires_at=grant.expires_at)
                    self.mirroring.enqueue(cur, grant, REVOKE)
                    expired.append(grant.id)
                elif grant.status is not GrantStatus.ACTIVE and grant.mirrored \
                        and not store.has_pending_mirror(cur, grant.id, REVOKE):
                    self.mirroring.enqueue(cur, grant, REVOKE)
        if due:
            self.mirroring.deliver()
        return expired

    def deliver_mirror(self, *, reconcile: bool = False) -> Delivery:
        """Deliver the grant mirror's queued changes (see `GrantMirroring.deliver`)."""
        return self.mirroring.deliver(reconcile=reconcile)

    def token_allows(self, principal: Principal, dataset: str) -> bool:
        """The token half of enforcement: does `principal`'s token carry `dataset`'s group (always, without an
        identity provider)?"""
        return self.mirroring.mirror.token_allows(principal, dataset)

    # -- internals ----------------------------------------------------------------------------------------------
    def _load_for_transition(self, cur: store.Cursor, request_id: str, principal: Principal) -> AccessRequest:
        request = store.get_request(cur, request_id)
        if request is None or not _may_see_request(principal, request):
            raise NotFound("access request not found")
        return request

    def _transition(self, request: AccessRequest, action: str, principal: Principal, note: str | None) -> AccessRequest:
        to = next_status(action, request.status)
        now = self.now()
        entry = HistoryEntry(now, action, principal.username, request.status.value, to.value,
                             note.strip() if note else None)
        return replace(request, status=to, updated_at=now, history=request.history + (entry,))


def _require(principal: Principal, *roles: str) -> None:
    if not principal.has_any(*roles):
        raise Forbidden("this action needs one of the roles: " + ", ".join(roles))


def _may_see_request(principal: Principal, request: AccessRequest) -> bool:
    return principal.has_any(ADMIN, STEWARD) or request.requester.subject == principal.subject


def _subjects(request: AccessRequest) -> list[str]:
    return [f"request:{request.id}", *(f"dataset:{d}" for d in request.datasets)]


def _grant_subjects(grant: Grant) -> list[str]:
    return [f"grant:{grant.id}", f"request:{grant.request_id}", *(f"dataset:{d}" for d in grant.datasets)]


def _public_columns(columns: Columns | None) -> dict[str, list[str]] | None:
    return None if columns is None else {k: list(v) for k, v in columns.items()}


def _dataset_list(datasets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(datasets, str) or not datasets:
        raise InvalidAccessRequest("datasets must be a non-empty list of dataset ids")
    if any(not isinstance(d, str) or not d for d in datasets):
        raise InvalidAccessRequest("datasets must be a non-empty list of dataset ids")
    if len(set(datasets)) != len(datasets):
        raise InvalidAccessRequest("datasets must not repeat")
    return tuple(datasets)


def _column_map(columns: Mapping[str, Sequence[str]] | None, datasets: tuple[str, ...]) -> Columns | None:
    if columns is None:
        return None
    result: Columns = {}
    for dataset, cols in columns.items():
        if dataset not in datasets:
            raise InvalidAccessRequest("columns names a dataset that is not in datasets")
        if isinstance(cols, str) or not cols or any(not isinstance(c, str) or not c for c in cols):
            raise InvalidAccessRequest("columns must map each dataset id to a non-empty list of column names")
        result[dataset] = tuple(dict.fromkeys(cols))
    return result


def _narrow_columns(request: AccessRequest, narrowed: Mapping[str, Sequence[str]] | None) -> Columns | None:
    """The approved columns: what was requested, or a subset of it. Never wider."""
    if narrowed is None:
        return request.columns
    proposed = _column_map(narrowed, request.datasets) or {}
    result: Columns = dict(request.columns or {})
    for dataset, cols in proposed.items():
        requested = None if request.columns is None else request.columns.get(dataset)
        if requested is not None and not set(cols) <= set(requested):
            raise InvalidAccessRequest("approved columns must be a subset of the requested columns")
        result[dataset] = cols
    return result


def _check_duration(days: object) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DURATION_DAYS:
        raise InvalidAccessRequest(f"duration_days must be an integer from 1 to {MAX_DURATION_DAYS}")


def _check_text(field: str, value: str | None, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidAccessRequest(f"{field} is required")
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidAccessRequest(f"{field} must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise InvalidAccessRequest(f"{field} is longer than {MAX_TEXT} characters")


__all__ = ["AccessService", "TRANSITIONS"]
