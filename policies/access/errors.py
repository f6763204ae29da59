"""Domain errors of access governance, each with a public message (no HTTP here).

The message is safe to return to any caller: it names states, fields and reason codes, never request content.
The HTTP layer's one error map (`catalog/errors.py`) decides the status each class answers with.
"""

from __future__ import annotations


class AccessError(Exception):
    """Any refusal of access governance; the base answers as a bad request."""

    def __init__(self, public_reason: str) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason


class InvalidAccessRequest(AccessError):
    """The request body is well-formed JSON but not acceptable (unknown dataset, widened columns...)."""


class NotFound(AccessError):
    """No such access request or grant (or not one the caller may see)."""


class Forbidden(AccessError):
    """The caller may not do this (role, ownership, or a token without the grant yet)."""


class IllegalTransition(AccessError):
    """The action is not allowed from the request's or grant's current status."""

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

    def __init__(self, reason: str) -> None:
        messages = {
            "missing": "grant not found",
            "revoked": "grant has been revoked",
            "expired": "grant has expired",
        }
        super().__init__(messages.get(reason, "grant not found"))
        self.reason = reason
