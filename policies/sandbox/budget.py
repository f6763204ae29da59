"""The privacy budget of the ``aggregate-dp`` tier: epsilon granted with an access request, spent per researcher.

A request carries the epsilon the researcher asks for (``POST /api/access-requests`` field ``epsilon``; the
dataset policy's ``dp_default_budget`` otherwise). Spending is kept per *researcher and dataset*, across all
of their grants: the allowance for a dataset is the largest epsilon any of their grants on it carried, so a
second grant does not reset the budget (only an authority granting a larger epsilon raises it). Every DP query
spends before its answer is computed; a query that would overspend is refused. Persisted in the catalog file
(``governance.dp_budgets``, ``governance.dp_allowances``, ``governance.dp_spending``) when a cursor factory is given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from policies.sandbox.errors import QueryRefused, Refusal

_EPS = 1e-9


@dataclass(frozen=True)
class Spend:
    epsilon: float  # spent by this query
    spent: float  # spent so far on the dataset(s), this query included (the largest over the datasets)
    allowance: float  # the researcher's allowance (the smallest over the datasets)

    @property
    def remaining(self) -> float:
        return max(0.0, self.allowance - self.spent)


class PrivacyLedger:
    def __init__(self, cursor_factory: Callable[[], Any] | None = None, lock: Any = None) -> None:
        self._cursor_factory = cursor_factory
        self._write_lock = lock or threading.Lock()
        self._lock = threading.RLock()
        self._budgets: dict[str, float] = {}
        self._allowances: dict[tuple[str, str], float] = {}
        self._spent: dict[tuple[str, str], float] = {}
        if cursor_factory is not None:
            self._load()

    def _load(self) -> None:
        with self._write_lock:
            cur = self._cursor_factory()  # type: ignore[misc]
            cur.execute("CREATE SCHEMA IF NOT EXISTS governance")
            cur.execute("CREATE TABLE IF NOT EXISTS governance.dp_budgets (request_id VARCHAR PRIMARY KEY, "
                        "epsilon DOUBLE NOT NULL)")
            cur.execute("CREATE TABLE IF NOT EXISTS governance.dp_allowances (subject VARCHAR, dataset VARCHAR, "
                        "epsilon DOUBLE NOT NULL, PRIMARY KEY (subject, dataset))")
            cur.execute("CREATE TABLE IF NOT EXISTS governance.dp_spending (subject VARCHAR NOT NULL, "
                        "dataset VARCHAR NOT NULL, grant_id VARCHAR NOT NULL, epsilon DOUBLE NOT NULL, "
                        "spent_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
            self._budgets = dict(cur.execute("SELECT request_id, epsilon FROM governance.dp_budgets").fetchall())
            self._allowances = {(s, d): e for s, d, e in
                                cur.execute("SELECT subject, dataset, epsilon FROM governance.dp_allowances").fetchall()}
            self._spent = {(s, d): e for s, d, e in cur.execute(
                "SELECT subject, dataset, sum(epsilon) FROM governance.dp_spending GROUP BY ALL").fetchall()}

    def _write(self, sql: str, params: list[Any]) -> None:
        if self._cursor_factory is None:
            return
        with self._write_lock:
            self._cursor_factory().execute(sql, params)

    def set_budget(self, request_id: str, epsilon: float) -> None:
        if not 0 < epsilon <= 100:
            raise ValueError("epsilon must be in (0, 100]")
        with self._lock:
            self._budgets[request_id] = float(epsilon)
            self._write("INSERT OR REPLACE INTO governance.dp_budgets VALUES (?, ?)", [request_id, float(epsilon)])

    def budget(self, request_id: str) -> float | None:
        with self._lock:
            return self._budgets.get(request_id)

    def status(self, subject: str, datasets: Iterable[str], granted: float) -> Spend:
        with self._lock:
            keys = [(subject, d) for d in datasets]
            allowance = min(max(granted, self._allowances.get(k, 0.0)) for k in keys)
            spent = max(self._spent.get(k, 0.0) for k in keys)
        return Spend(0.0, spent, allowance)

    def spend(self, subject: str, datasets: Iterable[str], *, granted: float, epsilon: float, grant_id: str) -> Spend:
        """Record ``epsilon`` against every dataset, or refuse if any allowance would be exceeded."""
        datasets = sorted(set(datasets))
        with self._lock:
            for dataset in datasets:
                key = (subject, dataset)
                allowance = max(granted, self._allowances.get(key, 0.0))
                if self._spent.get(key, 0.0) + epsilon > allowance + _EPS:
                    raise QueryRefused(
                        "the privacy budget of this dataset is spent (ask the authority for more epsilon)",
                        code="budget_exhausted", kind=Refusal.FORBIDDEN,
                    )
            for dataset in datasets:
                key = (subject, dataset)
                if granted > self._allowances.get(key, 0.0):
                    self._allowances[key] = granted
                    self._write("INSERT OR REPLACE INTO governance.dp_allowances VALUES (?, ?, ?)",
                                [subject, dataset, granted])
                self._spent[key] = self._spent.get(key, 0.0) + epsilon
                self._write("INSERT INTO governance.dp_spending (subject, dataset, grant_id, epsilon) "
                            "VALUES (?, ?, ?, ?)", [subject, dataset, grant_id, epsilon])
            return Spend(epsilon, max(self._spent[(subject, d)] for d in datasets),
                         min(self._allowances[(subject, d)] for d in datasets))
