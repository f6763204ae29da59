"""Access governance: requests, their review and decision, grants with expiry and revocation."""

from policies.access.errors import (
    AccessError,
    Forbidden,
    GrantNotActive,
    IllegalTransition,
    InvalidAccessRequest,
    NotFound,
)
from policies.access.model import AccessRequest, Grant, GrantStatus, Party, RequestStatus
from policies.identity.grant_mirror import GrantMirror, NoMirror
from policies.access.service import AccessService

__all__ = [
    "AccessError", "AccessRequest", "AccessService", "Forbidden", "Grant", "GrantMirror", "GrantNotActive",
    "GrantStatus", "IllegalTransition", "InvalidAccessRequest", "NoMirror", "NotFound", "Party",
    "RequestStatus",
]
