"""Patient lineage for disclosure control, attached at the base-table scans where the researcher cannot reach it.

Every scan of a dataset table on the path of the outer ``FROM`` is replaced by a subquery that adds one column:
the dataset's patient column under a name of the form ``__hds_<random per query>_s<n>``. Derived tables and CTEs
between the scan and the outer query pass it up under new names of the same form. The guard refuses every
identifier and string containing ``__hds`` (any case, quoted or not), and the random part changes per query, so
no column the researcher writes can produce, shadow or read a lineage column: the patients behind every output
row are the patients of the rows the base tables actually returned.

Each *instance* of a scan reached from the outer query (a table, or a CTE referred to twice, joined with itself)
is one lineage. Disclosure control treats every lineage separately and releases a cell only when it passes for
all of them (so a joined one-person derived table makes its cells count one person).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.tiers import DatasetPolicy

MAX_LINEAGES = 8  # lineages (table instances) at the outer level; more joins are refused


def _refuse(reason: str, code: str) -> QueryRefused:
    return QueryRefused(f"aggregate tier: {reason}", code=code, kind=Refusal.FORBIDDEN)


@dataclass
class Names:
    """Generated names for one query: reserved prefix, random part, a counter."""

    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    counter: int = 0

    def __call__(self, label: str) -> str:
        return f"__hds_{self.nonce}_{label}"

    def fresh(self, kind: str) -> str:
        self.counter += 1
        return self(f"{kind}{self.counter}")


class LineageThreader:
    """Finds, for every source of a scope, the lineage columns identifying the patient of each row."""

    def __init__(self, policies: Mapping[str, DatasetPolicy], names: Names) -> None:
        self._policies = policies
        self._names = names
        self._threaded: dict[int, list[str]] = {}
        self._scans: dict[int, tuple[exp.Table, str]] = {}

    def for_source(self, alias: str, source: exp.Table | Scope) -> list[exp.Column]:
        if isinstance(source, exp.Table):
            key = id(source)
            if key not in self._scans:
                self._scans[key] = (source, self._names.fresh("s"))
            return [exp.column(self._scans[key][1], table=alias, quoted=True)]
        return [exp.column(name, table=alias, quoted=True) for name in self._thread(source)]

    def _thread(self, scope: Scope) -> list[str]:
        select = scope.expression
        key = id(select)
        if key in self._threaded:
            return self._threaded[key]
        if not isinstance(select, exp.Select):
            raise _refuse("derived tables in FROM must be plain SELECTs", "derived_table")
        if select.args.get("group") is not None or select.args.get("distinct") or select.args.get("having"):
            raise _refuse("derived tables in FROM cannot group, aggregate or use DISTINCT", "derived_table")
        if any(p.find(exp.AggFunc) is not None for p in select.expressions):
            raise _refuse("derived tables in FROM cannot aggregate", "derived_table")
        if not scope.selected_sources:
            raise _refuse("derived tables in FROM must read a dataset", "derived_table")
        names: list[str] = []
        for alias, (_node, source) in scope.selected_sources.items():
            for lineage in self.for_source(alias, source):
                name = self._names.fresh("t")
                select.append("expressions", exp.alias_(lineage, name, quoted=True))
                names.append(name)
        self._threaded[key] = names
        return names

    def attach_at_scans(self) -> None:
        """Replace each threaded scan by a subquery adding its lineage column (call after all threading)."""
        for table, name in self._scans.values():
            dataset = table.name.lower()
            policy = self._policies.get(dataset)
            if policy is None:
                raise _refuse("a dataset has no disclosure policy", "policy_missing")
            inner = exp.select(
                exp.Star(), exp.alias_(exp.column(policy.patient_column, quoted=True), name, quoted=True)
            ).from_(exp.table_(dataset, db="main", quoted=True))
            alias = table.alias_or_name
            table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
