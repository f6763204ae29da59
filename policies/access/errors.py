"""Domain errors of access governance, each with the HTTP status it maps to and a public message.

The message is safe to return to any caller: it names states, fields and reason codes, never request content.
`catalog.governance.install` maps every `AccessError` to `{"detail": public_reason}` once for the whole app.
"""

from __future__ import annotations


class AccessError(Exception):
    status_code = 400

    def __init__(self, public_reason: str) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason


class InvalidAccessRequest(AccessError):
    """The request body is well-formed JSON but not acceptable (unknown dataset, widened columns...)."""

    status_code = 422


class NotFound(AccessError):
    status_code = 404


class Forbidden(AccessError):
    status_code = 403


class IllegalTransition(AccessError):
    """The action is not allowed from the request's or grant's current status."""

    status_code = 409

    def __init__(self, action: str, current: str, allowed_from: frozenset[str] | tuple[str, ...] = (),
                 kind: str = "an access request") -> None:
        allowed = ", ".join(sorted(allowed_from))
        reason = f"cannot {action} {kind} that is {current}"
        if allowed:
            reason += f" (allowed only when {allowed})"
        super().__init__(reason)
        self.action = action
        self.current = current


class GrantNotActive(AccessError):
    """`active_grant` refused: the grant is missing, not the caller's, revoked or expired (reason code)."""

    status_code = 403

    def __init__(self, reason: str) -> None:
        messages = {
            "missing": "grant not found",
            "revoked": "grant has been revoked",
            "expired": "grant has expired",
        }
        super().__init__(messages.get(reason, "grant not found"))
        self.reason = reason
        if reason == "missing":
            self.status_code = 404


class MirrorUnavailable(AccessError):
    """The identity provider could not record the grant; nothing was approved (fail closed)."""

    status_code = 503
