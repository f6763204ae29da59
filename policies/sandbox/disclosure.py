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
    """The rewritten query, in named steps: check the query, thread a patient lineage through every table
    instance, then build the rows behind the cells (``r``), the cells, each lineage's per-patient contributions
    and statistics, the population statistics, and the final SELECT joining them per cell."""
    tree = guarded.expression.copy()
    select = _check_shape(tree)
    key_indices, measures = _classify_outputs(select)
    _check_order(select, key_indices)
    output_columns = tuple(select.named_selects)
    root_scope = _check_sources(tree, guarded, policies)
    names = Names()
    lineage_refs = _thread_lineages(root_scope, policies, names)
    _check_measures_read_stored_values(root_scope, select, measures)
    if len(lineage_refs) > MAX_LINEAGES:
        raise _refuse(f"at most {MAX_LINEAGES} table instances may be joined", "too_many_tables")
    group_keys = _group_keys(select)
    order = select.args.get("order")
    sql = _PlanSql(names, measures, salt, group_keys, len(lineage_refs))
    sql.add_rows(tree, select, group_keys, lineage_refs)
    sql.add_cells()
    select_projection_sql = {
        i: guarded.expression.expressions[i].unalias().sql(dialect=DIALECT) for i in key_indices
    }
    sql.select_outputs(len(output_columns), select_projection_sql)
    rows_index = len(output_columns)
    lineage_stats = [sql.add_lineage(j, lcol) for j, lcol in enumerate(sql.lin)]
    population_index = sql.add_population()
    order_sql = sql.order_by(order, output_columns, select_projection_sql)
    fingerprint = hashlib.sha256(
        "\x1f".join([*sorted(guarded.datasets), "|", *sorted(sql.group_sql)]).encode("utf-8")
    ).hexdigest()
    return AggregatePlan(
        sql=sql.assemble(order_sql),
        output_columns=output_columns,
        key_indices=tuple(key_indices),
        measures=tuple(measures),
        grouping_fingerprint=fingerprint,
        rows_index=rows_index,
        lineages=tuple(lineage_stats),
        population_index=population_index,
    )


def _check_sources(tree: exp.Expr, guarded: GuardedQuery, policies: Mapping[str, DatasetPolicy]) -> Any:
    """No subquery outside FROM, at least one dataset read, a disclosure policy for each; the root scope."""
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
    return root_scope


def _thread_lineages(root_scope: Any, policies: Mapping[str, DatasetPolicy], names: Names) -> list[exp.Expr]:
    """One patient-lineage reference per table instance the query reads, threaded up to the root scope."""
    threader = LineageThreader(policies, names)
    lineage_refs = [
        ref for alias, (_node, source) in root_scope.selected_sources.items() for ref in threader.for_source(alias, source)
    ]
    if not lineage_refs:
        raise _refuse("the query must read a dataset", "no_dataset")
    threader.attach_at_scans()
    return lineage_refs


class _PlanSql:
    """The CTEs, final columns and joins of one plan as they are built; ``position`` is the next final column."""

    def __init__(self, names: Names, measures: list[Measure], salt: str, group_keys: list[exp.Expr],
                 lineages: int) -> None:
        self.names, self.measures = names, measures
        self.group_sql = [key.sql(dialect=DIALECT) for key in group_keys]
        self.g = [names(f"g{j}") for j in range(len(group_keys))]
        self.lin = [names(f"l{j}") for j in range(lineages)]
        self.v = {m.index: names(f"v{m.index}") for m in measures}
        self.g_cols = ", ".join(_q(x) for x in self.g)
        self.group_by = f" GROUP BY {self.g_cols}" if self.g else ""
        self.keys_prefix = (self.g_cols + ", ") if self.g else ""
        self.salt_sql = exp.Literal.string(salt).sql()
        self.ctes: list[str] = []
        self.final: list[str] = []
        self.joins: list[str] = []
        self.position = 0
        self.r = ""

    def n(self, name: str) -> str:
        return _q(self.names(name))

    def on(self, alias: str) -> str:
        return " AND ".join(f"c.{_q(x)} IS NOT DISTINCT FROM {alias}.{_q(x)}" for x in self.g) or "TRUE"

    def key_of(self, text: str) -> str:
        return self.g[self.group_sql.index(text)]

    def add_rows(self, tree: exp.Expr, select: exp.Select, group_keys: list[exp.Expr],
                 lineage_refs: list[exp.Expr]) -> None:
        """r: the rows behind the cells, with keys, lineages and the value each row feeds into each aggregate."""
        aggregates = {m.index: select.expressions[m.index].unalias() for m in self.measures}
        row_select: list[exp.Expr] = [exp.alias_(key.copy(), self.g[j], quoted=True)
                                      for j, key in enumerate(group_keys)]
        row_select += [exp.alias_(exp.cast(ref, "VARCHAR"), self.lin[j], quoted=True)
                       for j, ref in enumerate(lineage_refs)]
        row_select += [exp.alias_(_row_value(aggregates[m.index]), self.v[m.index], quoted=True) for m in self.measures]
        select.set("expressions", row_select)
        select.set("group", None)
        select.set("order", None)
        self.r = self.n("r")
        self.ctes.append(f"{self.r} AS MATERIALIZED ({tree.sql(dialect=DIALECT)})")

    def add_cells(self) -> None:
        cell_parts = [_q(x) for x in self.g]
        for m in self.measures:
            template = "count(DISTINCT {v})" if m.distinct else _CELL_AGGREGATE[m.function]
            cell_parts.append(template.format(v=_q(self.v[m.index])) + " AS " + self.n(f"m{m.index}"))
        cell_parts.append("count(*) AS " + self.n("rows"))
        self.ctes.append(f"{self.n('cells')} AS (SELECT {', '.join(cell_parts)} FROM {self.r}{self.group_by})")

    def select_outputs(self, outputs: int, select_projection_sql: dict[int, str]) -> None:
        """The query's own output columns (keys and measures, in order), then the cell's row count."""
        for i in range(outputs):
            if i in select_projection_sql:
                self.final.append(f"c.{_q(self.key_of(select_projection_sql[i]))}")
            else:
                self.final.append(f"c.{self.n(f'm{i}')}")
        self.final.append(f"c.{self.n('rows')}")
        self.position = outputs + 1

    def add_lineage(self, j: int, lcol: str) -> LineageStats:
        """Per patient of lineage ``j``: their contribution to each measure (pp), then per cell the patient count,
        digest, and each measure's contributors, total and largest contributions (st)."""
        pp, st, pid = self.n(f"pp{j}"), self.n(f"st{j}"), self.n("pid")
        contrib_parts = []
        for m in self.measures:
            value = _q(self.v[m.index])
            contribution = f"count({value})" if m.function == "COUNT" else f"sum(CAST({value} AS DOUBLE))"
            contrib_parts.append(f"{contribution} AS {self.n(f'c{m.index}')}")
        self.ctes.append(
            f"{pp} AS (SELECT {self.keys_prefix}{_q(lcol)} AS {pid}, {', '.join(contrib_parts)} FROM {self.r} "
            f"WHERE {_q(lcol)} IS NOT NULL GROUP BY {self.keys_prefix}{_q(lcol)})"
        )
        stat_parts = [f"count(*) AS {self.n('pat')}", f"bit_xor(hash({pid}, {self.salt_sql})) AS {self.n('dig')}"]
        measure_positions: dict[int, MeasureStats] = {}
        offset = 2
        for m in self.measures:
            c = self.n(f"c{m.index}")
            stat_parts += [
                f"count(*) FILTER (WHERE {c} <> 0) AS {self.n(f'nz{m.index}')}",
                f"coalesce(sum(abs({c})), 0) AS {self.n(f'tot{m.index}')}",
                f"max(abs({c}), {TOP_CONTRIBUTIONS}) AS {self.n(f'top{m.index}')}",
            ]
            measure_positions[m.index] = MeasureStats(offset, offset + 1, offset + 2)
            offset += 3
        self.ctes.append(f"{st} AS (SELECT {self.keys_prefix}{', '.join(stat_parts)} FROM {pp}{self.group_by})")
        self.final += [f"{st}.{self.n('pat')}", f"{st}.{self.n('dig')}"]
        for m in self.measures:
            self.final += [f"{st}.{self.n(f'nz{m.index}')}", f"{st}.{self.n(f'tot{m.index}')}",
                           f"{st}.{self.n(f'top{m.index}')}"]
        self.joins.append(f"LEFT JOIN {st} ON {self.on(st)}")
        position = self.position
        stats = {k: MeasureStats(position + p.contributors, position + p.total, position + p.largest)
                 for k, p in measure_positions.items()}
        self.position += offset
        for m in self.measures:
            if m.distinct:
                stats[m.index] = self._add_distinct_spread(j, lcol, m, stats[m.index])
        return LineageStats(position, position + 1, stats)

    def _add_distinct_spread(self, j: int, lcol: str, m: Measure, base: MeasureStats) -> MeasureStats:
        """COUNT(DISTINCT v): per cell, the fewest and most patients behind one distinct value."""
        pv, dv = self.n(f"pv{j}_{m.index}"), self.n(f"dv{j}_{m.index}")
        value, n = _q(self.v[m.index]), self.n("n")
        self.ctes.append(
            f"{pv} AS (SELECT {self.keys_prefix}{value}, count(DISTINCT {_q(lcol)}) AS {n} FROM {self.r} "
            f"WHERE {value} IS NOT NULL AND {_q(lcol)} IS NOT NULL GROUP BY {self.keys_prefix}{value})"
        )
        self.ctes.append(f"{dv} AS (SELECT {self.keys_prefix}min({n}) AS {self.n('mn')}, max({n}) AS {self.n('mx')} "
                         f"FROM {pv}{self.group_by})")
        self.final += [f"{dv}.{self.n('mn')}", f"{dv}.{self.n('mx')}"]
        self.joins.append(f"LEFT JOIN {dv} ON {self.on(dv)}")
        stats = MeasureStats(base.contributors, base.total, base.largest, self.position, self.position + 1)
        self.position += 2
        return stats

    def add_population(self) -> int:
        """The patients behind the whole result (count, rows, digest, sketch, per lineage); their first column."""
        pop, popstats, pid = self.n("pop"), self.n("popstats"), self.n("pid")
        union = " UNION ".join(f"SELECT {_q(x)} AS {pid} FROM {self.r}" for x in self.lin)
        self.ctes.append(f"{pop} AS (SELECT {pid} FROM ({union}) WHERE {pid} IS NOT NULL)")
        per_lineage = ", ".join(f"(SELECT count(DISTINCT {_q(x)}) FROM {self.r}) AS {self.n(f'lp{j}')}"
                                for j, x in enumerate(self.lin))
        salt = self.salt_sql
        self.ctes.append(
            f"{popstats} AS (SELECT (SELECT count(*) FROM {pop}) AS {self.n('pn')}, "
            f"(SELECT count(*) FROM {self.r}) AS {self.n('pr')}, "
            f"(SELECT bit_xor(hash({pid}, {salt})) FROM {pop}) AS {self.n('pd')}, "
            f"(SELECT min(hash({pid}, {salt}), {SKETCH_SIZE}) FROM {pop}) AS {self.n('ps')}, {per_lineage})"
        )
        self.final += [f"{popstats}.{self.n(x)}" for x in ("pn", "pr", "pd", "ps")]
        self.final += [f"{popstats}.{self.n(f'lp{j}')}" for j in range(len(self.lin))]
        return self.position

    def order_by(self, order: Any, output_columns: tuple[str, ...], select_projection_sql: dict[int, str]) -> str:
        if order is None:
            return ""
        names_out = list(output_columns)
        items = []
        for ordered in order.expressions:
            target = ordered.this
            if isinstance(target, exp.Column) and not target.table and target.name in names_out:
                column = self.key_of(select_projection_sql[names_out.index(target.name)])
            else:
                column = self.key_of(target.sql(dialect=DIALECT))
            direction = " DESC" if ordered.args.get("desc") else " ASC"
            nulls = " NULLS FIRST" if ordered.args.get("nulls_first") else " NULLS LAST"
            items.append(f"c.{_q(column)}{direction}{nulls}")
        return " ORDER BY " + ", ".join(items)

    def assemble(self, order_sql: str) -> str:
        return ("WITH " + ", ".join(self.ctes) + " SELECT " + ", ".join(self.final) + f" FROM {self.n('cells')} AS c "
                + " ".join(self.joins) + f" CROSS JOIN {self.n('popstats')}" + order_sql)
