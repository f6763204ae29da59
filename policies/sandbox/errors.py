"""Refusals raised by the query sandbox: a public reason and an HTTP status, never data or SQL literals."""

from __future__ import annotations


class QueryRefused(Exception):
    """A query the sandbox will not run, or could not finish.

    ``public_reason`` is safe to return to the caller and to write to logs: it names rules, datasets,
    columns and positions, never values from the data or literals from the SQL text.
    ``status_code`` is the HTTP status the API maps it to (400 bad SQL, 403 forbidden, 408 time limit,
    422 disclosure control, 500 internal failure).
    """

    def __init__(self, public_reason: str, *, code: str = "refused", status_code: int = 403) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason
        self.code = code
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.code}: {self.public_reason}"
