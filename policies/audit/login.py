"""Audit logins: the first request of each token session (Keycloak `sid`, else `jti`) is recorded once.

A plain ASGI middleware: `catalog.deps.current_principal` stores the verified principal in the request state
(`scope["state"]["principal"]`); after the request this middleware hands it to `AuditLog.record_login`, which
deduplicates per session. Requests without a verified token record nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread

from policies.audit.log import AuditLog
from policies.principal import Principal

log = logging.getLogger(__name__)

Scope = dict[str, Any]


class LoginAuditMiddleware:
    def __init__(self, app: Any, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send)
        finally:
            principal = state.get("principal") if isinstance(state, dict) else None
            if isinstance(principal, Principal):
                try:
                    await anyio.to_thread.run_sync(self.audit.record_login, principal)
                except Exception as exc:  # the response is already out; never echo token data
                    log.error("could not audit a login (%s)", type(exc).__name__)
