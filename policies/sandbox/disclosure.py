"""Disclosure control for the ``aggregate`` tier: which queries qualify, and how they are rewritten.

A query accepted by the guard is turned into an :class:`AggregatePlan`, one SQL statement that DuckDB runs once:

* ``r``: the researcher's ``FROM``/``WHERE`` (joins, derived tables, CTEs) as *rows*: the grouping keys, the
  patient lineage columns attached at the base-table scans (:mod:`policies.sandbox.lineage`) and, per
  aggregate, the value each row feeds into it;
* the *cells*: the researcher's aggregates computed from ``r`` per group;
* per lineage, per cell: distinct patients, a keyed digest of the patient set and, per aggregate, the
  per-patient contributions summarised for the contribution rules (:mod:`policies.sandbox.contribution`):
  non-zero contributors, total, the largest contributions;
* the *population*: the distinct patients behind the whole query (all lineages), rows, digest and sketch,
  for the ``min_patients`` check and the differencing rule.

The researcher never sees the hidden columns; suppression happens in :mod:`policies.sandbox.suppression`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import ScopeType, build_scope, traverse_scope

from policies.sandbox.contribution import CellSummary, RuleParameters
from policies.sandbox.errors import QueryRefused, Refusal
from policies.sandbox.lineage import MAX_LINEAGES, LineageThreader, Names
from policies.sandbox.functions import AGGREGATE_TIER_AGGREGATES, COUNTING_AGGREGATES, ROUNDED_AGGREGATES
from policies.sandbox.sql_guard import DIALECT, GuardedQuery, function_name
from policies.sandbox.tiers import DatasetPolicy

SKETCH_SIZE = 256  # bottom-k sketch of the population, see differencing.py
TOP_CONTRIBUTIONS = 2  # largest patient contributions kept per cell (dominance n and the p-ratio need two)


@dataclass(frozen=True)
class Measure:
    """One aggregate output column."""

    index: int
    function: str
    is_count: bool
    rounded: bool
    distinct: bool = False


@dataclass(frozen=True)
class EffectivePolicy:
    """The strictest combination of the policies of every dataset a query reads."""

    min_cell_count: int
    min_patients: int
    rounding: int | None
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_ratio: float = 0.10

    @staticmethod
    def combine(policies: list[DatasetPolicy]) -> EffectivePolicy:
        bases = [p.rounding for p in policies if p.rounding is not None]
        return EffectivePolicy(
            min_cell_count=max((p.min_cell_count for p in policies), default=10),
            min_patients=max((p.min_patients for p in policies), default=10),
            rounding=max(bases) if bases else None,
            dominance_n=max((p.dominance_n for p in policies), default=2),
            dominance_k=min((p.dominance_k for p in policies), default=0.9),
            p_ratio=max((p.p_ratio for p in policies), default=0.10),
        )

    @property
    def rules(self) -> RuleParameters:
        return RuleParameters(self.min_cell_count, self.dominance_n, self.dominance_k, self.p_ratio)


@dataclass(frozen=True)
class MeasureStats:
    """Positions, in a fetched row, of one measure's contribution summary for one lineage."""

    contributors: int
    total: int
    largest: int
    min_per_value: int | None = None  # COUNT(DISTINCT): fewest patients holding one counted value
    max_per_value: int | None = None


@dataclass(frozen=True)
class LineageStats:
    patients: int
    digest: int
    measures: Mapping[int, MeasureStats]  # measure output index -> positions


@dataclass(frozen=True)
class AggregatePlan:
    sql: str
    output_columns: tuple[str, ...]
    key_indices: tuple[int, ...]
    measures: tuple[Measure, ...]
    grouping_fingerprint: str
    rows_index: int
    lineages: tuple[LineageStats, ...]
    population_index: int  # patients, rows, digest, sketch, then distinct patients per lineage

    def cell_patients(self, row: Sequence[Any]) -> tuple[int, ...]:
        """Distinct patients of a fetched cell row, per lineage."""
        return tuple(int(row[lin.patients] or 0) for lin in self.lineages)

    def patients(self, row: Sequence[Any]) -> int:
        """The cell's patient count for the threshold: the smallest over its lineages."""
        return min(self.cell_patients(row), default=0)

    def digests(self, row: Sequence[Any]) -> tuple[int, ...]:
        return tuple(int(row[lin.digest] or 0) for lin in self.lineages)

    def summaries(self, row: Sequence[Any], measure: Measure) -> list[tuple[CellSummary, int | None, int | None]]:
        out = []
        for lin in self.lineages:
            st = lin.measures[measure.index]
            largest = row[st.largest] or []
            out.append((
                CellSummary(int(row[st.contributors] or 0), float(row[st.total] or 0), tuple(float(v) for v in largest)),
                None if st.min_per_value is None else int(row[st.min_per_value] or 0),
                None if st.max_per_value is None else int(row[st.max_per_value] or 0),
            ))
        return out

    def population(self, row: Sequence[Any]) -> tuple[int, int, int, list[int], tuple[int, ...]]:
        i = self.population_index
        per_lineage = tuple(int(row[i + 4 + j] or 0) for j in range(len(self.lineages)))
        return int(row[i] or 0), int(row[i + 1] or 0), int(row[i + 2] or 0), list(row[i + 3] or []), per_lineage


def _refuse(reason: str, code: str = "aggregate_only") -> QueryRefused:
    return QueryRefused(f"aggregate tier: {reason}", code=code, kind=Refusal.FORBIDDEN)


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
            distinct = _check_aggregate_argument(inner)
            measures.append(Measure(index, name, name in COUNTING_AGGREGATES, name in ROUNDED_AGGREGATES, distinct))
            continue
        if inner.find(exp.AggFunc) is not None:
            raise _refuse(f"output column {index + 1} must be a single aggregate or a grouping key", "output_shape")
        if inner.sql(dialect=DIALECT) not in keys:
            raise _refuse(f"output column {index + 1} is neither an aggregate nor a grouping key", "raw_output")
        key_indices.append(index)
    if not measures:
        raise _refuse("the query must compute at least one aggregate; raw rows are not released", "raw_output")
    return key_indices, measures


def _check_aggregate_argument(agg: exp.AggFunc) -> bool:
    """Aggregate arguments must be one plain column (or * for COUNT): no CASE, arithmetic or subqueries,
    which could single out one person inside an otherwise large cell."""
    extra = [k for k, v in agg.args.items() if k != "this" and (isinstance(v, exp.Expr) or (isinstance(v, list) and v))]
    if extra:
        raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")
    argument = agg.this
    distinct = isinstance(argument, exp.Distinct)
    if isinstance(argument, exp.Distinct):
        if len(argument.expressions) != 1:
            raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")
        if not isinstance(agg, exp.Count):
            raise _refuse("DISTINCT is only allowed inside COUNT", "aggregate_argument")
        argument = argument.expressions[0]
    if isinstance(argument, exp.Star) and isinstance(agg, exp.Count):
        return False
    if not isinstance(argument, exp.Column):
        raise _refuse("aggregates take exactly one plain column argument", "aggregate_argument")
    return distinct


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


def build_plan(guarded: GuardedQuery, policies: Mapping[str, DatasetPolicy], *, salt: str) -> AggregatePlan:
    """Check the aggregate-tier rules and build the cell and population queries, or raise QueryRefused."""
    try:
        return _build_plan(guarded, policies, salt=salt)
    except QueryRefused:
        raise
    except Exception:  # noqa: BLE001 - a query we cannot rewrite safely is not run
        raise _refuse("the query could not be prepared for disclosure control", "unanalysable") from None


_VALUE_PRESERVING = (exp.Cast, exp.TryCast, exp.Coalesce, exp.Paren)


def _stored_value(scope: Any, column: exp.Column, depth: int = 0) -> bool:
    """Whether ``column`` carries values stored in a dataset table, unchanged, through any derived tables and CTEs
    (a CAST or a COALESCE of such columns, as USING joins produce, counts as unchanged)."""
    if depth > 64:
        return False
    entry = scope.selected_sources.get(column.table)
    if entry is None:
        return False
    source = entry[1]
    if isinstance(source, exp.Table):
        return True
    select = source.expression
    if not isinstance(select, exp.Select):
        return False
    for projection in select.expressions:
        if projection.alias_or_name != column.name:
            continue
        return _stored_expression(source, projection.unalias(), depth + 1)
    return False


def _stored_expression(scope: Any, node: exp.Expr, depth: int) -> bool:
    if isinstance(node, exp.Column):
        return _stored_value(scope, node, depth)
    if isinstance(node, _VALUE_PRESERVING):
        parts = [c for c in node.iter_expressions() if not isinstance(c, exp.DataType)]
        return bool(parts) and all(_stored_expression(scope, c, depth) for c in parts)
    return False


def _check_measures_read_stored_values(root_scope: Any, select: exp.Select, measures: list[Measure]) -> None:
    """An aggregate's argument must be a value stored in a dataset, not one computed in a derived table: a computed
    value (``CASE WHEN <one person> THEN 1000 ELSE 1 END``) is an indicator the researcher designed, and no cell rule
    can tell it from data. Conditions belong in WHERE and in grouping keys, where the cell rules see their patients."""
    for m in measures:
        agg = select.expressions[m.index].unalias()
        argument = agg.this.expressions[0] if isinstance(agg.this, exp.Distinct) else agg.this
        if isinstance(argument, exp.Star):
            continue
        if not _stored_value(root_scope, argument):
            raise _refuse(
                "aggregates must read a stored dataset column (through derived tables unchanged); "
                "put conditions in WHERE or GROUP BY",
                "computed_measure",
            )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_value(agg: exp.AggFunc) -> exp.Expr:
    """What one row feeds into an aggregate: 1 for COUNT(*), otherwise the argument."""
    argument = agg.this.expressions[0] if isinstance(agg.this, exp.Distinct) else agg.this
    if isinstance(argument, exp.Star):
        return exp.Literal.number(1)
    return argument.copy()


_CELL_AGGREGATE = {"COUNT": "count({v})", "SUM": "sum({v})", "AVG": "avg({v})"}


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
    if root_scope is None or not root_scope.selected_sources:
        raise _refuse("the query must read a dataset", "no_dataset")
    for dataset in guarded.datasets:
        if dataset not in policies:
            raise _refuse("a dataset has no disclosure policy", "policy_missing")

    names = Names()
    threader = LineageThreader(policies, names)
    lineage_refs = [
        ref for alias, (_node, source) in root_scope.selected_sources.items() for ref in threader.for_source(alias, source)
    ]
    if not lineage_refs:
        raise _refuse("the query must read a dataset", "no_dataset")
    _check_measures_read_stored_values(root_scope, select, measures)
    if len(lineage_refs) > MAX_LINEAGES:
        raise _refuse(f"at most {MAX_LINEAGES} table instances may be joined", "too_many_tables")
    threader.attach_at_scans()

    # r: the rows behind the cells, with keys, lineages and the value each row feeds into each aggregate.
    group_keys = _group_keys(select)
    group_sql = [key.sql(dialect=DIALECT) for key in group_keys]
    g = [names(f"g{j}") for j in range(len(group_keys))]
    lin = [names(f"l{j}") for j in range(len(lineage_refs))]
    v = {m.index: names(f"v{m.index}") for m in measures}
    aggregates = {m.index: select.expressions[m.index].unalias() for m in measures}
    row_select: list[exp.Expr] = [exp.alias_(key.copy(), g[j], quoted=True) for j, key in enumerate(group_keys)]
    row_select += [exp.alias_(exp.cast(ref, "VARCHAR"), lin[j], quoted=True) for j, ref in enumerate(lineage_refs)]
    row_select += [exp.alias_(_row_value(aggregates[m.index]), v[m.index], quoted=True) for m in measures]
    order = select.args.get("order")
    select.set("expressions", row_select)
    select.set("group", None)
    select.set("order", None)
    r_sql = tree.sql(dialect=DIALECT)

    def key_of(projection_index: int) -> str:
        text = select_projection_sql[projection_index]
        return g[group_sql.index(text)]

    select_projection_sql = {
        i: guarded.expression.expressions[i].unalias().sql(dialect=DIALECT) for i in key_indices
    }
    g_cols = ", ".join(_q(x) for x in g)
    group_by = f" GROUP BY {g_cols}" if g else ""
    r = _q(names("r"))
    salt_sql = exp.Literal.string(salt).sql()

    cell_parts = [_q(x) for x in g]
    for m in measures:
        template = "count(DISTINCT {v})" if m.distinct else _CELL_AGGREGATE[m.function]
        cell_parts.append(template.format(v=_q(v[m.index])) + " AS " + _q(names(f"m{m.index}")))
    cell_parts.append("count(*) AS " + _q(names("rows")))
    ctes = [f"{r} AS MATERIALIZED ({r_sql})", f"{_q(names('cells'))} AS (SELECT {', '.join(cell_parts)} FROM {r}{group_by})"]

    final: list[str] = []
    for i in range(len(output_columns)):
        if i in select_projection_sql:
            final.append(f"c.{_q(key_of(i))}")
        else:
            final.append(f"c.{_q(names(f'm{i}'))}")
    final.append(f"c.{_q(names('rows'))}")
    rows_index = len(output_columns)
    joins: list[str] = []
    lineage_stats: list[LineageStats] = []
    position = rows_index + 1

    def on(alias: str) -> str:
        return " AND ".join(f"c.{_q(x)} IS NOT DISTINCT FROM {alias}.{_q(x)}" for x in g) or "TRUE"

    for j, lcol in enumerate(lin):
        pp, st = _q(names(f"pp{j}")), _q(names(f"st{j}"))
        pid = _q(names("pid"))
        contrib_parts = []
        for m in measures:
            value = _q(v[m.index])
            if m.function == "COUNT":
                contribution = f"count({value})"
            else:
                contribution = f"sum(CAST({value} AS DOUBLE))"
            contrib_parts.append(f"{contribution} AS {_q(names(f'c{m.index}'))}")
        keys_prefix = (g_cols + ", ") if g else ""
        ctes.append(
            f"{pp} AS (SELECT {keys_prefix}{_q(lcol)} AS {pid}, {', '.join(contrib_parts)} FROM {r} "
            f"WHERE {_q(lcol)} IS NOT NULL GROUP BY {keys_prefix}{_q(lcol)})"
        )
        stat_parts = [f"count(*) AS {_q(names('pat'))}",
                      f"bit_xor(hash({pid}, {salt_sql})) AS {_q(names('dig'))}"]
        measure_positions: dict[int, MeasureStats] = {}
        offset = 2
        for m in measures:
            c = _q(names(f"c{m.index}"))
            stat_parts += [
                f"count(*) FILTER (WHERE {c} <> 0) AS {_q(names(f'nz{m.index}'))}",
                f"coalesce(sum(abs({c})), 0) AS {_q(names(f'tot{m.index}'))}",
                f"max(abs({c}), {TOP_CONTRIBUTIONS}) AS {_q(names(f'top{m.index}'))}",
            ]
            measure_positions[m.index] = MeasureStats(offset, offset + 1, offset + 2)
            offset += 3
        ctes.append(f"{st} AS (SELECT {keys_prefix}{', '.join(stat_parts)} FROM {pp}{group_by})")
        final += [f"{st}.{_q(names('pat'))}", f"{st}.{_q(names('dig'))}"]
        for m in measures:
            final += [f"{st}.{_q(names(f'nz{m.index}'))}", f"{st}.{_q(names(f'tot{m.index}'))}",
                      f"{st}.{_q(names(f'top{m.index}'))}"]
        joins.append(f"LEFT JOIN {st} ON {on(st)}")
        stats = {k: MeasureStats(position + p.contributors, position + p.total, position + p.largest)
                 for k, p in measure_positions.items()}
        lineage_patients, lineage_digest = position, position + 1
        position += offset
        for m in measures:
            if not m.distinct:
                continue
            pv, dv = _q(names(f"pv{j}_{m.index}")), _q(names(f"dv{j}_{m.index}"))
            value, n = _q(v[m.index]), _q(names("n"))
            ctes.append(
                f"{pv} AS (SELECT {keys_prefix}{value}, count(DISTINCT {_q(lcol)}) AS {n} FROM {r} "
                f"WHERE {value} IS NOT NULL AND {_q(lcol)} IS NOT NULL GROUP BY {keys_prefix}{value})"
            )
            ctes.append(f"{dv} AS (SELECT {keys_prefix}min({n}) AS {_q(names('mn'))}, max({n}) AS {_q(names('mx'))} "
                        f"FROM {pv}{group_by})")
            final += [f"{dv}.{_q(names('mn'))}", f"{dv}.{_q(names('mx'))}"]
            joins.append(f"LEFT JOIN {dv} ON {on(dv)}")
            base = stats[m.index]
            stats[m.index] = MeasureStats(base.contributors, base.total, base.largest, position, position + 1)
            position += 2
        lineage_stats.append(LineageStats(lineage_patients, lineage_digest, stats))

    pop, popstats = _q(names("pop")), _q(names("popstats"))
    pid = _q(names("pid"))
    union = " UNION ".join(f"SELECT {_q(x)} AS {pid} FROM {r}" for x in lin)
    ctes.append(f"{pop} AS (SELECT {pid} FROM ({union}) WHERE {pid} IS NOT NULL)")
    per_lineage = ", ".join(f"(SELECT count(DISTINCT {_q(x)}) FROM {r}) AS {_q(names(f'lp{j}'))}"
                            for j, x in enumerate(lin))
    ctes.append(
        f"{popstats} AS (SELECT (SELECT count(*) FROM {pop}) AS {_q(names('pn'))}, "
        f"(SELECT count(*) FROM {r}) AS {_q(names('pr'))}, "
        f"(SELECT bit_xor(hash({pid}, {salt_sql})) FROM {pop}) AS {_q(names('pd'))}, "
        f"(SELECT min(hash({pid}, {salt_sql}), {SKETCH_SIZE}) FROM {pop}) AS {_q(names('ps'))}, {per_lineage})"
    )
    population_index = position
    final += [f"{popstats}.{_q(names(x))}" for x in ("pn", "pr", "pd", "ps")]
    final += [f"{popstats}.{_q(names(f'lp{j}'))}" for j in range(len(lin))]

    order_sql = ""
    if order is not None:
        names_out = list(output_columns)
        items = []
        for ordered in order.expressions:
            target = ordered.this
            if isinstance(target, exp.Column) and not target.table and target.name in names_out:
                column = key_of(names_out.index(target.name))
            else:
                column = g[group_sql.index(target.sql(dialect=DIALECT))]
            direction = " DESC" if ordered.args.get("desc") else " ASC"
            nulls = " NULLS FIRST" if ordered.args.get("nulls_first") else " NULLS LAST"
            items.append(f"c.{_q(column)}{direction}{nulls}")
        order_sql = " ORDER BY " + ", ".join(items)

    sql = (
        "WITH " + ", ".join(ctes) + " SELECT " + ", ".join(final) + f" FROM {_q(names('cells'))} AS c "
        + " ".join(joins) + f" CROSS JOIN {popstats}" + order_sql
    )
    fingerprint = hashlib.sha256(
        "\x1f".join([*sorted(guarded.datasets), "|", *sorted(group_sql)]).encode("utf-8")
    ).hexdigest()
    return AggregatePlan(
        sql=sql,
        output_columns=output_columns,
        key_indices=tuple(key_indices),
        measures=tuple(measures),
        grouping_fingerprint=fingerprint,
        rows_index=rows_index,
        lineages=tuple(lineage_stats),
        population_index=population_index,
    )
