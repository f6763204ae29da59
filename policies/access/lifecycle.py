"""The access-request state machine as data (pure).

    submitted --review--> under_review
    submitted | under_review --approve--> approved   (creates a grant)
    submitted | under_review --refuse---> refused    (reason required)
    submitted | under_review --withdraw-> withdrawn  (only the requester)

approved, refused and withdrawn are final.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.access.errors import IllegalTransition
from policies.access.model import RequestStatus
from policies.principal import ADMIN, STEWARD

S = RequestStatus
OPEN = frozenset({S.SUBMITTED, S.UNDER_REVIEW})


@dataclass(frozen=True)
class Transition:
    action: str
    allowed_from: frozenset[RequestStatus]
    to: RequestStatus
    roles: frozenset[str]  # empty: decided by ownership (the requester), not by role


TRANSITIONS: dict[str, Transition] = {
    "review": Transition("review", frozenset({S.SUBMITTED}), S.UNDER_REVIEW, frozenset({STEWARD})),
    "approve": Transition("approve", OPEN, S.APPROVED, frozenset({ADMIN})),
    "refuse": Transition("refuse", OPEN, S.REFUSED, frozenset({ADMIN})),
    "withdraw": Transition("withdraw", OPEN, S.WITHDRAWN, frozenset()),
}


def next_status(action: str, current: RequestStatus) -> RequestStatus:
    transition = TRANSITIONS[action]
    if current not in transition.allowed_from:
        raise IllegalTransition(action, current.value, tuple(s.value for s in transition.allowed_from))
    return transition.to
