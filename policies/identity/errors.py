"""Identity errors. Messages are public reason codes: they never carry a token, a claim value or a secret."""

from __future__ import annotations


class AuthError(Exception):
    """A bearer token was missing or refused. `public_reason` is safe to return to the caller."""

    def __init__(self, public_reason: str) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason


class IdentityConfigError(RuntimeError):
    """Identity is configured unsafely or incompletely (names the setting, never its value)."""


class DevIssuerRefused(IdentityConfigError):
    """The embedded dev issuer was asked to run where it must not (HDS_ENV=production)."""


class GrantMirrorError(RuntimeError):
    """Mirroring a grant into Keycloak failed; the message is a reason code plus the grant id, never a user's data."""
