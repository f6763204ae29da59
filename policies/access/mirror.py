"""Grant mirroring: the access service's decisions reach the identity provider after they commit, never lost.

The grant record in DuckDB decides first; the identity provider (Keycloak: group `/datasets/<dataset>` per
dataset) is told afterwards, so no network call happens while the catalog's write lock is held and a Keycloak
outage never blocks a decision. Each decision writes its changes for the identity provider into an outbox
(`governance.grant_mirror_outbox`) in the same transaction; `GrantMirroring.deliver` sends them after the commit
and deletes each one once the identity provider acknowledged it. A change that fails stays queued and is retried
by the next delivery (every decision and the catalog's periodic sweep deliver); fresh changes go first, and one
delivery stops after `MAX_FAILURES_PER_DELIVERY` failures.
`reconcile` then compares the identity provider with the live grants and removes anything else (a grant that
expired, a change made outside the catalog).

There is one mirror protocol, `GrantMirror` (`policies/identity/grant_mirror.py`), and one mirror of a
deployment without an identity provider to mirror into (the embedded dev issuer), `NoMirror`: every change is
acknowledged at once and a token needs no group, so the grant record alone decides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from policies.access import store
from policies.access.model import Grant, MirrorChange
from policies.audit.log import SYSTEM_ACTOR, AuditLog
from policies.audit.transaction import CursorFactory, WriteLock, read_cursor, write_transaction
from policies.identity.grant_mirror import GrantMirror

log = logging.getLogger(__name__)

GRANT, REVOKE = "grant", "revoke"
# Failures after which one delivery gives up (the next one retries): a Keycloak that does not answer costs a
# decision at most this many client timeouts, never one per queued change.
MAX_FAILURES_PER_DELIVERY = 3


@dataclass(frozen=True)
class Delivery:
    """What one `deliver` did: changes acknowledged, changes still queued, grants removed by reconciling."""

    delivered: int = 0
    pending: int = 0
    removed: tuple[str, ...] = ()
    ran: bool = True  # False: another thread was delivering (it picks up what this call queued)


class GrantMirroring:
    """The outbox of one catalog: `enqueue` inside a decision's transaction, `deliver` after its commit."""

    def __init__(self, mirror: GrantMirror, cursor_factory: CursorFactory, write_lock: WriteLock, *,
                 audit: AuditLog, now: Callable[[], datetime]) -> None:
        self.mirror = mirror
        self._cursor_factory = cursor_factory
        self._write_lock = write_lock
        self._audit = audit
        self._now = now
        self._delivering = threading.Lock()  # one delivery at a time; never held with the write lock by a caller
        self._wanted = threading.Event()

    def enqueue(self, cur: store.Cursor, grant: Grant, action: str) -> None:
        store.enqueue_mirror(cur, grant, action, self._now())

    def pending(self) -> list[MirrorChange]:
        with read_cursor(self._cursor_factory) as cur:
            return store.pending_mirror(cur)

    def deliver(self, *, reconcile: bool = False) -> Delivery:
        """Send every queued change to the identity provider, oldest first; with `reconcile`, also remove from it
        every grant that is not live. Call it with no lock held: it makes network calls."""
        self._wanted.set()
        total = Delivery(ran=False)
        while self._wanted.is_set():
            if not self._delivering.acquire(blocking=False):
                return total  # the thread delivering now sees `_wanted` and goes round again
            try:
                self._wanted.clear()
                delivered, pending = self._drain()
                removed = self._reconcile() if reconcile and not pending else ()
                total = Delivery(total.delivered + delivered, pending, total.removed + removed)
            finally:
                self._delivering.release()
            if pending:
                break  # the identity provider refuses or is down: the next delivery retries
        return total

    def _drain(self) -> tuple[int, int]:
        delivered = failures = 0
        changes = self.pending()
        for change in changes:
            if self._send(change):
                delivered += 1
            else:
                failures += 1
                if failures >= MAX_FAILURES_PER_DELIVERY:
                    break
        return delivered, len(changes) - delivered

    def _send(self, change: MirrorChange) -> bool:
        try:
            if change.action == GRANT:
                self.mirror.grant(change.grant_id, change.dataset, change.username)
            else:
                self.mirror.revoke(change.grant_id, change.dataset, change.username)
        except Exception as exc:  # noqa: BLE001 - any failure of the identity provider: keep the change queued
            log.warning("grant mirror could not %s grant %s (%s); it stays queued", change.action, change.grant_id,
                        type(exc).__name__)
            with write_transaction(self._cursor_factory, self._write_lock) as cur:
                store.mirror_failed(cur, change)
                if change.attempts == 0:  # audit the first failure of a change, not every retry
                    self._audit.append_in(cur, f"grant.{'mirror' if change.action == GRANT else 'unmirror'}_failed",
                                          SYSTEM_ACTOR, [f"grant:{change.grant_id}", f"dataset:{change.dataset}"])
            return False
        with write_transaction(self._cursor_factory, self._write_lock) as cur:
            store.mirror_delivered(cur, change)
            if change.action == GRANT:
                store.set_mirrored(cur, change.grant_id, True)
            elif not store.has_pending_mirror(cur, change.grant_id, REVOKE):
                store.set_mirrored(cur, change.grant_id, False)
        return True

    def _reconcile(self) -> tuple[str, ...]:
        with read_cursor(self._cursor_factory) as cur:
            live = [(g.id, d, g.grantee.username) for g in store.live_grants(cur, self._now()) for d in g.datasets]
        try:
            removed = tuple(self.mirror.sync(live))
        except Exception as exc:  # noqa: BLE001 - the next sweep reconciles again
            log.warning("grant mirror could not reconcile (%s)", type(exc).__name__)
            return ()
        if removed:
            log.info("grant mirror reconciled: removed %d grants that are not live", len(removed))
        return removed
