"""The ``aggregate-dp`` tier: counts, sums and means with differential privacy (OpenDP's Laplace mechanism).

What qualifies: one dataset table (no joins, derived tables, CTEs or subqueries), any ``WHERE``, ``GROUP BY``
over columns whose public values the dataset policy lists (``dp_domains``), and outputs that are grouping keys
or ``COUNT(*)``, ``COUNT(col)``, ``SUM(col)``, ``AVG(col)`` with ``col`` in ``dp_bounds``.

How it answers (sandbox SQL, then OpenDP):

1. **Contribution bounding.** Each patient's rows that pass the ``WHERE`` are ranked by a keyed hash of their
   record id; only the first ``dp_max_contributions`` (m) are used. Values are clamped to ``dp_bounds``.
2. **Public cells.** The cells are every combination of the declared key values (absent ones count 0), so which
   cells appear never depends on the data. Rows with other key values are left out.
3. **Noise.** Every measure is one release: a vector over all cells with L1 sensitivity ``m`` (counts),
   ``m * max(|low|, |high|)`` (sums) or ``m * (high - low) / 2`` (the centred sum behind a mean), through ``make_laplace`` on ``vector_domain(atom_domain(float))`` with the
   L1 distance; OpenDP's privacy map certifies that each release costs at most its share of the query's
   epsilon (a mean is a noisy sum over a noisy count: two releases). The query's epsilon is split evenly.
4. **Budget.** The epsilon is spent (:mod:`policies.sandbox.budget`) before the query runs; the response
   shows what was spent and what remains.

Post-processing (rounding counts, clamping means) costs no privacy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from policies.sandbox.budget import Spend
from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.sql_guard import DIALECT, GuardedQuery, function_name
from policies.sandbox.tiers import DatasetPolicy

MAX_DP_CELLS = 10_000


def _refuse(reason: str, code: str) -> QueryRefused:
    return QueryRefused(f"aggregate-dp tier: {reason}", code=code, kind=Refusal.FORBIDDEN)


@dataclass(frozen=True)
class DPMeasure:
    index: int
    function: str  # COUNT, SUM, AVG
    column: str | None  # None for COUNT(*)


@dataclass(frozen=True)
class DPPlan:
    dataset: str
    sql: str
    output_columns: tuple[str, ...]
    key_indices: tuple[int, ...]  # outputs that are keys
    key_positions: tuple[int, ...]  # for each of them, its position among the GROUP BY keys
    key_columns: tuple[str, ...]
    measures: tuple[DPMeasure, ...]
    cells: tuple[tuple[Any, ...], ...]
    releases: int  # noisy vectors released (a mean is two)
    order: tuple[tuple[int, bool], ...]  # (key position, descending)


def build_dp_plan(guarded: GuardedQuery, dataset: str, policy: DatasetPolicy, *, salt: str) -> DPPlan:
    tree = guarded.expression.copy()
    source, alias = _single_table(tree)
    keys, key_columns = _group_keys(tree, policy)
    key_sql = [k.sql(dialect=DIALECT) for k in keys]
    key_indices, key_of_output, measures = _outputs(tree, policy, key_sql)
    order = _order(tree, key_sql, key_of_output)

    cells = tuple(itertools.product(*[policy.dp_domains[c] for c in key_columns])) if keys else ((),)
    if len(cells) > MAX_DP_CELLS:
        raise _refuse(f"more than {MAX_DP_CELLS} cells; group more coarsely", "dp_shape")

    inner = _bounded_sql(tree, source, alias, key_sql, measures, policy, salt)
    sql = _cells_sql(inner, key_columns, measures, policy)
    releases = sum(2 if x.function == "AVG" else 1 for x in measures)
    return DPPlan(dataset, sql, tuple(tree.named_selects), tuple(key_indices),
                  tuple(key_of_output[i] for i in key_indices), tuple(key_columns), tuple(measures),
                  cells, releases, tuple(order))


def _single_table(tree: exp.Expr) -> tuple[exp.From, str]:
    """The query's ``FROM`` and the table's alias, refusing every shape but one SELECT over one table."""
    if not isinstance(tree, exp.Select) or tree.find(exp.SetOperation) is not None:
        raise _refuse("the query must be a single SELECT", "dp_shape")
    if len(list(traverse_scope(tree))) != 1 or tree.args.get("with") or tree.args.get("joins"):
        raise _refuse("one dataset table only: no joins, derived tables, CTEs or subqueries", "dp_shape")
    if tree.find(exp.Window, exp.Filter) is not None:
        raise _refuse("window functions and FILTER are not allowed", "dp_shape")
    for arg in ("having", "limit", "offset", "qualify", "distinct"):
        if tree.args.get(arg):
            raise _refuse(f"{arg.upper()} is not allowed", "dp_shape")
    source = tree.args.get("from_") or tree.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table):
        raise _refuse("the query must read one dataset table", "dp_shape")
    return source, table.alias_or_name


def _group_keys(tree: exp.Select, policy: DatasetPolicy) -> tuple[list[exp.Expr], list[str]]:
    """The ``GROUP BY`` expressions and their column names; each must have declared public values."""
    group = tree.args.get("group")
    keys = list(group.expressions) if group is not None else []
    key_columns: list[str] = []
    for key in keys:
        if not isinstance(key, exp.Column) or key.name not in policy.dp_domains:
            raise _refuse("grouping keys must be columns with declared public values (dp_domains)", "dp_key_domain")
        key_columns.append(key.name)
    return keys, key_columns


def _outputs(tree: exp.Select, policy: DatasetPolicy,
             key_sql: list[str]) -> tuple[list[int], dict[int, int], list[DPMeasure]]:
    """Which outputs are grouping keys (and which key each is), and the measures the other outputs compute."""
    key_indices: list[int] = []
    key_of_output: dict[int, int] = {}
    measures: list[DPMeasure] = []
    for i, projection in enumerate(tree.expressions):
        inner = projection.unalias()
        if isinstance(inner, exp.AggFunc):
            measures.append(_measure(i, inner, policy))
            continue
        if inner.sql(dialect=DIALECT) not in key_sql:
            raise _refuse(f"output column {i + 1} is neither an aggregate nor a grouping key", "dp_shape")
        key_indices.append(i)
        key_of_output[i] = key_sql.index(inner.sql(dialect=DIALECT))
    if not measures:
        raise _refuse("the query must compute at least one aggregate", "dp_shape")
    return key_indices, key_of_output, measures


def _measure(i: int, aggregate: exp.AggFunc, policy: DatasetPolicy) -> DPMeasure:
    """Output ``i``'s aggregate as a measure: ``COUNT(*)``, ``COUNT(col)``, or ``SUM``/``AVG`` of a bounded column."""
    name = function_name(aggregate)
    argument = aggregate.this
    if name not in {"COUNT", "SUM", "AVG"} or isinstance(argument, exp.Distinct):
        raise _refuse("only COUNT(*), COUNT(col), SUM(col) and AVG(col) are answered", "dp_aggregate")
    if isinstance(argument, exp.Star) and name == "COUNT":
        return DPMeasure(i, name, None)
    # Only expression arguments count: sqlglot marks COUNT with a boolean flag (`big_int`) that is no argument.
    operands = [a for a in aggregate.args.values() if isinstance(a, exp.Expression) or (isinstance(a, list) and a)]
    if not isinstance(argument, exp.Column) or len(operands) != 1:
        raise _refuse("aggregates take one plain column", "dp_aggregate")
    if name != "COUNT" and argument.name not in policy.dp_bounds:
        raise _refuse(f"column {argument.name} has no dp_bounds; it cannot be summed or averaged", "dp_bounds")
    return DPMeasure(i, name, argument.name)


def _order(tree: exp.Select, key_sql: list[str], key_of_output: dict[int, int]) -> list[tuple[int, bool]]:
    """``ORDER BY`` as (key position, descending) pairs; only grouping keys (by output name or expression)."""
    order: list[tuple[int, bool]] = []
    if tree.args.get("order") is not None:
        names = tree.named_selects
        for ordered in tree.args["order"].expressions:
            target = ordered.this
            if isinstance(target, exp.Column) and not target.table and target.name in names \
                    and names.index(target.name) in key_of_output:
                order.append((key_of_output[names.index(target.name)], bool(ordered.args.get("desc"))))
            elif target.sql(dialect=DIALECT) in key_sql:
                order.append((key_sql.index(target.sql(dialect=DIALECT)), bool(ordered.args.get("desc"))))
            else:
                raise _refuse("ORDER BY may only use grouping keys", "dp_shape")
    return order


def _bounded_sql(tree: exp.Select, source: exp.From, alias: str, key_sql: list[str], measures: list[DPMeasure],
                 policy: DatasetPolicy, salt: str) -> str:
    """The inner query: the rows that pass the ``WHERE`` and have a patient, with keys ``g<j>``, clamped values
    ``v<i>`` and each row's rank ``rn`` among its patient's rows (by a keyed hash of the record id)."""
    patient = exp.column(policy.patient_column, table=alias, quoted=True).sql(dialect=DIALECT)
    record = exp.column("record_id", table=alias, quoted=True).sql(dialect=DIALECT)
    salt_sql = exp.Literal.string(salt).sql(dialect=DIALECT)
    inner_parts = [f"{k} AS g{j}" for j, k in enumerate(key_sql)]
    for measure in measures:
        if measure.column is not None:
            column = exp.column(measure.column, table=alias, quoted=True).sql(dialect=DIALECT)
            if measure.function == "COUNT":
                inner_parts.append(f"{column} AS v{measure.index}")
            else:
                low, high = policy.dp_bounds[measure.column]
                clamped = f"greatest({float(low)!r}, least({float(high)!r}, CAST({column} AS DOUBLE)))"
                if measure.function == "AVG":  # centred: the sum's sensitivity is m * (high - low) / 2
                    clamped = f"({clamped} - {float((low + high) / 2)!r})"
                inner_parts.append(f"{clamped} AS v{measure.index}")
    inner_parts.append(f"row_number() OVER (PARTITION BY {patient} ORDER BY hash(CAST({record} AS VARCHAR), "
                       f"{salt_sql})) AS rn")
    where = tree.args.get("where")
    condition = f"({where.this.sql(dialect=DIALECT)}) AND " if where is not None else ""
    return (f"SELECT {', '.join(inner_parts)} FROM {source.this.sql(dialect=DIALECT)} "
            f"WHERE {condition}{patient} IS NOT NULL")


def _cells_sql(inner: str, key_columns: list[str], measures: list[DPMeasure], policy: DatasetPolicy) -> str:
    """The outer query: true counts ``c<i>`` and sums ``s<i>`` over each patient's first m rows, grouped by the
    keys and limited to their declared values (cells with no rows are absent; :func:`answer` fills them)."""
    m = policy.dp_max_contributions
    outer_parts = [f"g{j}" for j in range(len(key_columns))]
    for measure in measures:
        if measure.column is None:
            outer_parts.append(f"count(*) AS c{measure.index}")
        elif measure.function == "COUNT":
            outer_parts.append(f"count(v{measure.index}) AS c{measure.index}")
        else:
            outer_parts += [f"coalesce(sum(v{measure.index}), 0) AS s{measure.index}",
                            f"count(v{measure.index}) AS c{measure.index}"]
    filters = [f"rn <= {m}"]
    for j, column in enumerate(key_columns):
        values = ", ".join(exp.Literal.string(str(v)).sql(dialect=DIALECT) for v in policy.dp_domains[column])
        filters.append(f"CAST(g{j} AS VARCHAR) IN ({values})" if values else "FALSE")
    group_by = f" GROUP BY {', '.join(f'g{j}' for j in range(len(key_columns)))}" if key_columns else ""
    return f"SELECT {', '.join(outer_parts)} FROM ({inner}) AS bounded WHERE {' AND '.join(filters)}{group_by}"


def _laplace(values: list[float], sensitivity: float, epsilon: float) -> list[float]:
    """Laplace noise on a vector with L1 sensitivity ``sensitivity``, certified by OpenDP to cost ``epsilon``."""
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
    measurement = space >> dp.m.then_laplace(scale=sensitivity / epsilon)
    if measurement.map(d_in=float(sensitivity)) > epsilon * (1 + 1e-9):
        raise QueryRefused("aggregate-dp tier: the noise could not be calibrated", code="dp_internal", kind=Refusal.INTERNAL)
    return [float(v) for v in measurement([float(v) for v in values])]


def answer(plan: DPPlan, policy: DatasetPolicy, fetched: list[tuple[Any, ...]], epsilon: float) -> list[tuple[Any, ...]]:
    """Noisy released rows, one per public cell, from the bounded true aggregates."""
    width = len(plan.key_columns)
    by_cell: dict[tuple[str, ...], tuple[Any, ...]] = {tuple(str(v) for v in row[:width]): row for row in fetched}
    positions: dict[str, int] = {}
    position = width
    for measure in plan.measures:
        if measure.function in {"SUM", "AVG"}:
            positions[f"s{measure.index}"] = position
            position += 1
        positions[f"c{measure.index}"] = position
        position += 1
    share = epsilon / plan.releases
    m = policy.dp_max_contributions
    noisy: dict[str, list[float]] = {}
    for name, at in positions.items():
        true = []
        for cell in plan.cells:
            row = by_cell.get(tuple(str(v) for v in cell))
            true.append(float(row[at] or 0) if row is not None else 0.0)
        index = int(name[1:])
        measure = next(x for x in plan.measures if x.index == index)
        if name.startswith("s"):
            low, high = policy.dp_bounds[measure.column]  # type: ignore[index]
            sensitivity = m * ((high - low) / 2 if measure.function == "AVG" else max(abs(low), abs(high)))
        else:
            sensitivity = float(m)
        noisy[name] = _laplace(true, sensitivity, share)
    rows: list[tuple[Any, ...]] = []
    for n, cell in enumerate(plan.cells):
        out: list[Any] = [None] * len(plan.output_columns)
        for i, key_position in zip(plan.key_indices, plan.key_positions, strict=True):
            out[i] = cell[key_position]
        for measure in plan.measures:
            count = max(0.0, noisy[f"c{measure.index}"][n])
            if measure.function == "COUNT":
                out[measure.index] = int(round(count))
            elif measure.function == "SUM":
                out[measure.index] = round(noisy[f"s{measure.index}"][n], 2)
            else:
                low, high = policy.dp_bounds[measure.column]  # type: ignore[index]
                mean = (low + high) / 2 + noisy[f"s{measure.index}"][n] / max(count, 1.0)
                out[measure.index] = round(min(high, max(low, mean)), 2)
        rows.append(tuple(out))
    ordered = list(zip(plan.cells, rows, strict=True))
    for key_position, descending in reversed(plan.order):  # stable sorts, last key first
        ordered.sort(key=lambda pair, p=key_position: str(pair[0][p]), reverse=descending)
    return [row for _, row in ordered]


def run_dp(fetch: Callable[[str], list[tuple[Any, ...]]], plan: DPPlan, policy: DatasetPolicy, epsilon: float,
           spend: Callable[[float], Spend]) -> tuple[list[tuple[Any, ...]], Spend]:
    spent = spend(epsilon)  # before anything is computed: a failing query has used its budget too
    return answer(plan, policy, fetch(plan.sql), epsilon), spent
