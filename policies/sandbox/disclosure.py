"""Disclosure control for the ``aggregate`` tier: which queries qualify, and how they are rewritten.

A query accepted by the guard is turned into an :class:`AggregatePlan`:

* the *cell query*: the researcher's query with extra, hidden columns per output row: distinct patients
  in the cell, rows in the cell, a keyed digest of the cell's patient set, and per aggregate the number of
  distinct patients that actually contributed a non-NULL value;
* the *population query*: the distinct patients (and rows) behind the whole query, after its filters,
  used for the ``min_patients`` check and the differencing rule.

Patient identity comes from each dataset's ``patient_column`` (policy), threaded through derived tables
and CTEs as hidden ``__hds_pid_N`` columns. The researcher never sees those columns; the suppression
itself happens in :mod:`policies.sandbox.suppression`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, ScopeType, build_scope, traverse_scope

from policies.sandbox.errors import QueryRefused
from policies.sandbox.functions import AGGREGATE_TIER_AGGREGATES, COUNTING_AGGREGATES, ROUNDED_AGGREGATES
from policies.sandbox.sql_guard import DIALECT, GuardedQuery, function_name
from policies.sandbox.tiers import DatasetPolicy

SKETCH_SIZE = 256  # bottom-k sketch of the population, see differencing.py
HIDDEN_PREFIX = "__hds_"


@dataclass(frozen=True)
class Measure:
    """One aggregate output column."""

    index: int
    function: str
    is_count: bool
    rounded: bool


@dataclass(frozen=True)
class EffectivePolicy:
    """The strictest combination of the policies of every dataset a query reads."""

    min_cell_count: int
    min_patients: int
    rounding: int | None

    @staticmethod
    def combine(policies: list[DatasetPolicy]) -> EffectivePolicy:
        bases = [p.rounding for p in policies if p.rounding is not None]
        return EffectivePolicy(
            min_cell_count=max((p.min_cell_count for p in policies), default=10),
            min_patients=max((p.min_patients for p in policies), default=10),
            rounding=max(bases) if bases else None,
        )


@dataclass(frozen=True)
class AggregatePlan:
    cell_sql: str
    population_sql: str
    output_columns: tuple[str, ...]
    key_indices: tuple[int, ...]
    measures: tuple[Measure, ...]
    grouping_fingerprint: str
    # Positions of the hidden columns in each cell-query row.
    patients_index: int
    rows_index: int
    digest_index: int
    contributor_indices: Mapping[int, int]  # measure index -> hidden contributor column


def _refuse(reason: str, code: str = "aggregate_only") -> QueryRefused:
    return QueryRefused(f"aggregate tier: {reason}", code=code, status_code=403)


def _check_shape(root: exp.Expr) -> exp.Select:
    if isinstance(root, exp.SetOperation) or root.find(exp.SetOperation) is not None:
        raise _refuse("UNION, INTERSECT and EXCEPT are not allowed", "set_operation")
    if not isinstance(root, exp.Select):
        raise _refuse("the query must be a single SELECT")
    if root.find(exp.Window) is not None:
        raise _refuse("window functions are not allowed", "window")
    if root.find(exp.Filter) is not None:
        raise _refuse("FILTER clauses on aggregates are not allowed", "filter")
    for arg, label in (("having", "HAVING"), ("limit", "LIMIT"), ("offset", "OFFSET"), ("qualify", "QUALIFY")):
        if root.args.get(arg):
            raise _refuse(f"{label} is not allowed on the aggregate result", arg)
    if root.args.get("distinct"):
        raise _refuse("SELECT DISTINCT is not allowed on the aggregate result", "distinct")
    group = root.args.get("group")
    if group is not None:
        if (
            group.args.get("all")
            or any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "totals"))
            or group.find(exp.Rollup, exp.Cube, exp.GroupingSets) is not None
        ):
            raise _refuse("GROUP BY ALL, ROLLUP, CUBE and GROUPING SETS are not allowed; list the keys", "group_by")
        for key in group.expressions:
            if key.find(exp.AggFunc, exp.Subquery, exp.Select) is not None:
                raise _refuse("grouping keys cannot contain aggregates or subqueries", "group_by")
    return root


def _group_keys(select: exp.Select) -> list[exp.Expr]:
    group = select.args.get("group")
    return list(group.expressions) if group is not None else []


def _classify_outputs(select: exp.Select) -> tuple[list[int], list[Measure]]:
    keys = {key.sql(dialect=DIALECT) for key in _group_keys(select)}
    key_indices: list[int] = []
    measures: list[Measure] = []
    for index, projection in enumerate(select.expressions):
        inner = projection.unalias()
        if isinstance(inner, exp.AggFunc):
            name = function_name(inner)
            if name not in AGGREGATE_TIER_AGGREGATES:
                raise _refuse(
                    f"aggregate {name} is not allowed (allowed: {', '.join(sorted(AGGREGATE_TIER_AGGREGATES))})",
                    "aggregate_function",
                )
            _check_aggregate_argument(inner)
            measures.append(Measure(index, name, name in COUNTING_AGGREGATES, name in ROUNDED_AGGREGATES))
            continue
        if inner.find(exp.AggFunc) is not None:
            raise _refuse(f"output column {index + 1} must be a single aggregate or a grouping key", "output_shape")
        if inner.sql(dialect=DIALECT) not in keys:
            raise _refuse(f"output column {index + 1} is neither an aggregate nor a grouping key", "raw_output")
        key_indices.append(index)
    if not measures:
        raise _refuse("the query must compute at least one aggregate; raw rows are not released", "raw_output")
    return key_indices, measures


def _check_aggregate_argument(agg: exp.AggFunc) -> None:
    """Aggregate arguments must be one plain column (or * for COUNT): no CASE, arithmetic or subqueries,
    which could single out one person inside an otherwise large cell."""
    extra = [k for k, v in agg.args.items() if k != "this" and (isinstance(v, exp.Expr) or (isinstance(v, list) and v))]
    if extra:
        raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")
    argument = agg.this
    if isinstance(argument, exp.Distinct):
        if len(argument.expressions) != 1:
            raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")
        argument = argument.expressions[0]
    if isinstance(argument, exp.Star) and isinstance(agg, exp.Count):
        return
    if not isinstance(argument, exp.Column):
        raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")


def _check_order(select: exp.Select, key_indices: list[int]) -> None:
    order = select.args.get("order")
    if order is None:
        return
    names = select.named_selects
    key_aliases = {names[i] for i in key_indices}
    keys = {key.sql(dialect=DIALECT) for key in _group_keys(select)}
    for ordered in order.expressions:
        target = ordered.this
        if isinstance(target, exp.Column) and not target.table and target.name in key_aliases:
            continue
        if target.find(exp.AggFunc) is None and target.sql(dialect=DIALECT) in keys:
            continue
        raise _refuse(
            "ORDER BY may only use grouping keys (ordering by an aggregate reveals suppressed cells)", "order_by"
        )


class _PatientThreader:
    """Finds, for every source of a scope, expressions identifying the patient of each row."""

    def __init__(self, policies: Mapping[str, DatasetPolicy]) -> None:
        self._policies = policies
        self._threaded: dict[int, list[str]] = {}
        self._counter = 0

    def for_source(self, alias: str, source: exp.Table | Scope) -> list[exp.Column]:
        if isinstance(source, exp.Table):
            dataset = source.name.lower()
            column = self._policies[dataset].patient_column
            return [exp.column(column, table=alias, quoted=True)]
        names = self._thread(source)
        return [exp.column(name, table=alias, quoted=True) for name in names]

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
        if not scope.sources:
            raise _refuse("derived tables in FROM must read a dataset", "derived_table")
        names: list[str] = []
        for alias, source in scope.sources.items():
            for pid in self.for_source(alias, source):
                name = f"{HIDDEN_PREFIX}pid_{self._counter}"
                self._counter += 1
                select.append("expressions", exp.alias_(pid, name, quoted=True))
                names.append(name)
        self._threaded[key] = names
        return names


def _count_distinct(value: exp.Expr) -> exp.Expr:
    return exp.Count(this=exp.Distinct(expressions=[value]))


def _least(values: list[exp.Expr]) -> exp.Expr:
    if len(values) == 1:
        return values[0]
    return exp.Least(this=values[0], expressions=values[1:])


def _keyed_hash(value: exp.Expr, salt: str) -> exp.Expr:
    return exp.Anonymous(this="hash", expressions=[exp.cast(value, "VARCHAR"), exp.Literal.string(salt)])


def build_plan(guarded: GuardedQuery, policies: Mapping[str, DatasetPolicy], *, salt: str) -> AggregatePlan:
    """Check the aggregate-tier rules and build the cell and population queries, or raise QueryRefused."""
    try:
        return _build_plan(guarded, policies, salt=salt)
    except QueryRefused:
        raise
    except Exception:  # noqa: BLE001 - a query we cannot rewrite safely is not run
        raise _refuse("the query could not be prepared for disclosure control", "unanalysable") from None


def _build_plan(guarded: GuardedQuery, policies: Mapping[str, DatasetPolicy], *, salt: str) -> AggregatePlan:
    tree = guarded.expression.copy()
    select = _check_shape(tree)
    key_indices, measures = _classify_outputs(select)
    _check_order(select, key_indices)
    output_columns = tuple(select.named_selects)

    for scope in traverse_scope(tree):
        if scope.scope_type == ScopeType.SUBQUERY:
            # A subquery in WHERE/SELECT can single out a person and then select large cells by their
            # attributes without contributing to any cell's patient count; a derived table joined in
            # FROM is threaded and counted instead.
            raise _refuse("subqueries outside FROM are not allowed; join a derived table instead", "subquery")
    root_scope = build_scope(tree)
    if root_scope is None or not root_scope.sources:
        raise _refuse("the query must read a dataset", "no_dataset")
    for dataset in guarded.datasets:
        if dataset not in policies:
            raise _refuse("a dataset has no disclosure policy", "policy_missing")
    threader = _PatientThreader(policies)
    pids_by_alias = {alias: threader.for_source(alias, source) for alias, source in root_scope.sources.items()}
    all_pids = [pid for pids in pids_by_alias.values() for pid in pids]
    first_pid = next(iter(pids_by_alias.values()))[0]

    population = select.copy()  # taken before the hidden columns are added; shares the threaded derived tables

    width = len(select.expressions)
    select.append(
        "expressions",
        exp.alias_(_least([_count_distinct(p.copy()) for p in all_pids]), f"{HIDDEN_PREFIX}patients", quoted=True),
    )
    select.append("expressions", exp.alias_(exp.Count(this=exp.Star()), f"{HIDDEN_PREFIX}rows", quoted=True))
    digest = exp.Anonymous(
        this="bit_xor", expressions=[exp.Distinct(expressions=[_keyed_hash(first_pid.copy(), salt)])]
    )
    select.append("expressions", exp.alias_(digest, f"{HIDDEN_PREFIX}digest", quoted=True))
    contributor_indices: dict[int, int] = {}
    next_index = width + 3
    for measure in measures:
        agg = select.expressions[measure.index].unalias()
        argument = agg.this.expressions[0] if isinstance(agg.this, exp.Distinct) else agg.this
        if isinstance(argument, exp.Star):
            continue  # contributors of COUNT(*) are the cell's patients
        pids = pids_by_alias.get(argument.table, all_pids)
        counts = [
            _count_distinct(
                exp.Case(
                    ifs=[
                        exp.If(this=exp.Not(this=exp.Is(this=argument.copy(), expression=exp.Null())), true=pid.copy())
                    ]
                )
            )
            for pid in pids
        ]
        select.append("expressions", exp.alias_(_least(counts), f"{HIDDEN_PREFIX}contrib_{measure.index}", quoted=True))
        contributor_indices[measure.index] = next_index
        next_index += 1

    population.set("expressions", [exp.alias_(first_pid.copy(), "p", quoted=True)])
    population.append("expressions", exp.alias_(exp.Count(this=exp.Star()), "r", quoted=True))
    population.set("group", exp.Group(expressions=[first_pid.copy()]))
    population.set("order", None)
    population_sql = (
        "SELECT count(*) AS patients, coalesce(sum(r), 0) AS row_count, "
        f"bit_xor(hash(CAST(p AS VARCHAR), {exp.Literal.string(salt).sql()})) AS digest, "
        f"min(hash(CAST(p AS VARCHAR), {exp.Literal.string(salt).sql()}), {SKETCH_SIZE}) AS sketch "
        f"FROM ({population.sql(dialect=DIALECT)}) AS population WHERE p IS NOT NULL"
    )
    group_sql = sorted(key.sql(dialect=DIALECT) for key in _group_keys(select))
    fingerprint = hashlib.sha256("\x1f".join([*sorted(guarded.datasets), "|", *group_sql]).encode("utf-8")).hexdigest()
    return AggregatePlan(
        cell_sql=tree.sql(dialect=DIALECT),
        population_sql=population_sql,
        output_columns=output_columns,
        key_indices=tuple(key_indices),
        measures=tuple(measures),
        grouping_fingerprint=fingerprint,
        patients_index=width,
        rows_index=width + 1,
        digest_index=width + 2,
        contributor_indices=contributor_indices,
    )
