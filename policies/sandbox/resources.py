"""Static resource limits of a researcher's query: bounded string growth, bounded expression size, bounded results.

DuckDB's ``memory_limit`` governs its buffer manager (hash tables, sorts, materialised results), but a string a
scalar function builds lives outside it: nested ``lpad``/``replace``/concatenation, or a CTE chain that doubles a
value at every level, builds strings of gigabytes from a few hundred characters of SQL. So before a query runs,
every string-valued expression gets an upper bound on its length in units of *stored values* (a column read
from a dataset table is one unit; a string literal is one unit): concatenation adds its arguments, ``lpad``/
``rpad`` add their literal length in units of 1024 characters, ``replace`` multiplies by the length of its
(literal) replacement; every other function is bounded by its largest argument. Bounds flow through CTEs and
derived tables column by column. A query whose bound exceeds :data:`MAX_STRING_UNITS` is refused, as are
``lpad``/``rpad`` with a computed or huge length and ``replace`` with a computed replacement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.sql_guard import GuardedQuery, function_name

MAX_STRING_UNITS = 16  # the longest string a query may build: 16 stored values' worth
MAX_PAD = 10_000  # largest literal length lpad/rpad may pad to
MAX_REPLACEMENT = 64  # longest literal replacement string of replace()
MAX_EXPRESSION_NODES = 5_000  # syntax-tree nodes of one query

_SUMMING = (exp.DPipe, exp.Concat, exp.ConcatWs)


def _refuse(reason: str, code: str = "resource_limit") -> QueryRefused:
    return QueryRefused(reason, code=code, kind=Refusal.LIMIT)


def _literal_int(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(str(node.this))
        except ValueError:
            return None
    return None


class _Bounds:
    def __init__(self) -> None:
        self.by_scope: dict[int, dict[str, int]] = {}

    def column(self, scope: Scope, column: exp.Column) -> int:
        current: Scope | None = scope
        while current is not None:
            source = current.sources.get(column.table)
            if source is not None:
                if isinstance(source, Scope):
                    return self.by_scope.get(id(source.expression), {}).get(column.name, MAX_STRING_UNITS + 1)
                return 1
            current = current.parent
        return 1

    def of(self, scope: Scope, node: exp.Expr) -> int:
        if isinstance(node, exp.Column):
            return self.column(scope, node)
        if isinstance(node, exp.Literal):
            return 1
        if isinstance(node, (exp.Subquery, exp.Select)):
            return 1  # scalar subqueries are bounded in their own scope
        children = [c for c in node.iter_expressions() if not isinstance(c, (exp.Subquery, exp.Select))]
        parts = [self.of(scope, c) for c in children]
        if isinstance(node, _SUMMING):
            return sum(parts) if parts else 1
        if isinstance(node, exp.Func) and not isinstance(node, exp.Connector):
            name = function_name(node)
            if name in {"LPAD", "RPAD", "PAD"}:
                length = _literal_int(node.args.get("expression"))
                if length is None or not 0 <= length <= MAX_PAD:
                    raise _refuse(f"lpad/rpad need a literal length of at most {MAX_PAD}")
                return self.of(scope, node.this) + max(1, -(-length // 1024))
            if name == "REPLACE":
                replacement = node.args.get("replacement")
                if replacement is None:
                    return self.of(scope, node.this)
                if not (isinstance(replacement, exp.Literal) and replacement.is_string
                        and len(str(replacement.this)) <= MAX_REPLACEMENT):
                    raise _refuse(f"replace() needs a literal replacement of at most {MAX_REPLACEMENT} characters")
                return self.of(scope, node.this) * max(1, len(str(replacement.this)))
        return max(parts, default=1)


def check_resources(guarded: GuardedQuery) -> None:
    """Refuse a query whose strings could grow past the bound, or whose syntax tree is too large."""
    tree = guarded.expression
    nodes = sum(1 for _ in tree.walk())
    if nodes > MAX_EXPRESSION_NODES:
        raise _refuse(f"the query has more than {MAX_EXPRESSION_NODES} syntax nodes")
    bounds = _Bounds()
    for scope in traverse_scope(tree):
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        projections: dict[str, int] = {}
        for projection in select.expressions:
            units = bounds.of(scope, projection.unalias() if isinstance(projection, exp.Alias) else projection)
            if units > MAX_STRING_UNITS:
                raise _refuse(f"an expression could build a string longer than {MAX_STRING_UNITS} stored values")
            projections[projection.alias_or_name] = units
        for clause in ("where", "group", "order", "having", "qualify", "joins"):
            value = select.args.get(clause)
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, exp.Expr) and bounds.of(scope, part) > MAX_STRING_UNITS:
                    raise _refuse(f"an expression could build a string longer than {MAX_STRING_UNITS} stored values")
        bounds.by_scope[id(select)] = projections


def check_result_size(rows: Sequence[Sequence[Any]], limit: int) -> None:
    """Refuse a result whose values add up to more than ``limit`` bytes (as text)."""
    total = 0
    for row in rows:
        for value in row:
            total += len(value) if isinstance(value, (str, bytes)) else 16
        if total > limit:
            raise _refuse(f"the result is larger than {limit // (1024 * 1024)} MB; select fewer rows or columns",
                          code="result_too_large")
