"""Refusals raised by the query sandbox: a public reason and an HTTP status, never data or SQL literals."""

from __future__ import annotations

# Every refusal whose cause depends on the data (too few patients, differencing, a cell count limit, a runtime
# error inside a disclosure-controlled query) reaches the researcher as this one answer: same status, same
# detail. A different answer per cause would be an oracle (a binary search over refusals finds a value without
# any result being released). The precise cause is kept in ``audit_reason`` for the audit log only.
UNIFORM_REASON = "the query was refused by disclosure control"
UNIFORM_CODE = "disclosure"
UNIFORM_STATUS = 422


class QueryRefused(Exception):
    """A query the sandbox will not run, or could not finish.

    ``public_reason`` is safe to return to the caller and to write to logs: it names rules, datasets,
    columns and positions, never values from the data or literals from the SQL text.
    ``status_code`` is the HTTP status the API maps it to (400 bad SQL, 403 forbidden, 408 time limit,
    422 disclosure control, 500 internal failure). ``audit_reason`` is the precise cause for the audit log
    (the same as ``code`` except for uniform disclosure refusals).
    """

    def __init__(self, public_reason: str, *, code: str = "refused", status_code: int = 403,
                 audit_reason: str | None = None) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason
        self.code = code
        self.status_code = status_code
        self.audit_reason = audit_reason or code

    def __str__(self) -> str:
        return f"{self.code}: {self.public_reason}"


def disclosure_refusal(cause: str) -> QueryRefused:
    """The one refusal for every data-dependent disclosure cause; ``cause`` goes to the audit log only."""
    return QueryRefused(UNIFORM_REASON, code=UNIFORM_CODE, status_code=UNIFORM_STATUS, audit_reason=cause)
