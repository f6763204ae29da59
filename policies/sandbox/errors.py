"""Refusals raised by the query sandbox: a public reason and a kind of refusal, never data or SQL literals.

Nothing here knows HTTP: the API's one error map (`catalog/errors.py`) turns each `Refusal` kind into a status.
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """What kind of refusal a query met (the HTTP layer maps each kind to one status)."""

    INVALID = "invalid"  # bad SQL or a bad parameter
    FORBIDDEN = "forbidden"  # a rule of the sandbox or of the tier
    NOT_FOUND = "not_found"  # a dataset that is not in the catalog
    TIMEOUT = "timeout"  # the time limit
    DISCLOSURE = "disclosure"  # disclosure control: one uniform answer for every data-dependent cause
    LIMIT = "limit"  # a resource limit of the sandbox (memory, result size)
    BUSY = "busy"  # too many queries running or waiting: retry later
    INTERNAL = "internal"  # the sandbox could not finish (a failure, never the researcher's fault)


# Every refusal whose cause depends on the data (too few patients, differencing, a cell count limit, a runtime
# error inside a disclosure-controlled query) reaches the researcher as this one answer: same kind, same
# detail. A different answer per cause would be an oracle (a binary search over refusals finds a value without
# any result being released). The precise cause is kept in ``audit_reason`` for the audit log only.
UNIFORM_REASON = "the query was refused by disclosure control"
UNIFORM_CODE = "disclosure"
UNIFORM_KIND = Refusal.DISCLOSURE


class QueryRefused(Exception):
    """A query the sandbox will not run, or could not finish.

    ``public_reason`` is safe to return to the caller and to write to logs: it names rules, datasets,
    columns and positions, never values from the data or literals from the SQL text.
    ``kind`` says what sort of refusal it is (``Refusal``); ``audit_reason`` is the precise cause for the
    audit log (the same as ``code`` except for uniform disclosure refusals).
    """

    def __init__(self, public_reason: str, *, code: str = "refused", kind: Refusal = Refusal.FORBIDDEN,
                 audit_reason: str | None = None) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason
        self.code = code
        self.kind = kind
        self.audit_reason = audit_reason or code

    def __str__(self) -> str:
        return f"{self.code}: {self.public_reason}"


def disclosure_refusal(cause: str) -> QueryRefused:
    """The one refusal for every data-dependent disclosure cause; ``cause`` goes to the audit log only."""
    return QueryRefused(UNIFORM_REASON, code=UNIFORM_CODE, kind=UNIFORM_KIND, audit_reason=cause)
