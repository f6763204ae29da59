"""Run a researcher's SQL under a grant: guard, tier, disclosure control, time limit, public errors.

``run_query`` is what ``POST /api/query`` calls with a cursor of the catalog's connection (which runs with
``enable_external_access=false`` and ``lock_configuration=true``). The researcher's SQL only reads; what the
sandbox itself writes goes through its stores: the differencing history (``fingerprint_store.py``) and the
privacy ledger (``budget.py``), each in its own write transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from policies.sandbox.budget import PrivacyLedger
from policies.sandbox.differencing import Population, QueryFingerprint, QueryHistory, cell_key_hash
from policies.sandbox.disclosure import SKETCH_SIZE, EffectivePolicy, build_plan
from policies.sandbox.dp import MAX_DP_CELLS, build_dp_plan, run_dp
from policies.sandbox.errors import QueryRefused, Refusal, disclosure_refusal
from policies.sandbox.resources import check_resources, check_result_size
from policies.sandbox.scope import GrantScope, table_columns_from_catalog
from policies.sandbox.sql_guard import GuardedQuery, check
from policies.sandbox.suppression import suppress
from policies.sandbox.tiers import DatasetPolicies, DatasetPolicy, Tier

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024  # a released result larger than this is refused


@dataclass(frozen=True)
class QueryOutcome:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    suppressed: int
    row_count: int
    tier: Tier
    sql_hash: str
    datasets: tuple[str, ...] = ()
    truncated: bool = False  # record/extract tier: more rows existed than the cap allowed
    notes: list[str] = field(default_factory=list)
    suppressed_cells: tuple[tuple[int, int], ...] = ()  # (row, column) of cells NULLed by disclosure control
    # Aggregate tier, never sent to the researcher: distinct patients per lineage behind each released row
    # (what disclosure control used; the trusted-recomputation tests compare it) and primary-suppression causes.
    cell_patients: list[tuple[int, ...]] = field(default_factory=list, repr=False)
    suppression_reasons: dict[str, int] = field(default_factory=dict, repr=False)
    # aggregate-dp tier: epsilon spent by this query, spent in total, remaining, and the allowance
    privacy: dict[str, float] | None = None


@dataclass(frozen=True)
class PrivacyContext:
    """What the aggregate-dp tier needs from the caller: the ledger, whose budget, how much was granted."""

    ledger: PrivacyLedger
    subject: str  # the researcher (budgets are per researcher and dataset, across grants)
    granted: float  # epsilon the grant carries
    epsilon: float | None = None  # this query's epsilon; None: the dataset policy's dp_epsilon_per_query


def sql_hash(sql: str) -> str:
    """SHA-256 of the submitted SQL text, for the audit log (the text itself is never logged)."""
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


# DuckDB exception class -> (public reason, code, kind of refusal). Messages from DuckDB are never passed on:
# they quote the SQL and sometimes values from the data.
_DUCKDB_ERRORS: tuple[tuple[type[BaseException], str, str, Refusal], ...] = (
    (duckdb.InterruptException, "the query exceeded its time limit", "timeout", Refusal.TIMEOUT),
    (duckdb.OutOfMemoryException, "the query exceeded the memory limit", "memory", Refusal.LIMIT),
    (duckdb.PermissionException, "the query needs an operation the sandbox does not permit", "permission", Refusal.FORBIDDEN),
    (duckdb.CatalogException, "the query refers to a table or function that is not available", "catalog", Refusal.INVALID),
    (duckdb.BinderException, "the query could not be bound (check columns, types and grouping)", "binder", Refusal.INVALID),
    (duckdb.ConversionException, "a value could not be converted to the requested type", "conversion", Refusal.INVALID),
    (duckdb.OutOfRangeException, "a value was out of range", "out_of_range", Refusal.INVALID),
    (duckdb.InvalidInputException, "the query had invalid input", "invalid_input", Refusal.INVALID),
    (duckdb.ParserException, "the database could not parse the checked query", "parser", Refusal.INVALID),
)


def public_error(exc: duckdb.Error) -> QueryRefused:
    for exc_type, reason, code, kind in _DUCKDB_ERRORS:
        if isinstance(exc, exc_type):
            return QueryRefused(reason, code=code, kind=kind)
    return QueryRefused("the query failed in the database", code="database_error", kind=Refusal.INTERNAL)


@contextmanager
def _time_limit(con: Any, timeout_s: float) -> Iterator[None]:
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


class Deadline:
    """One time budget per query, shared by every statement it runs."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise QueryRefused("the query exceeded its time limit", code="timeout", kind=Refusal.TIMEOUT)
        return left


def _fetch(con: Any, sql: str, *, deadline: Deadline, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    try:
        with _time_limit(con, deadline.remaining()):
            result = con.execute(sql)
            columns = [d[0] for d in (result.description or [])]
            rows = result.fetchmany(limit)
    except duckdb.Error as exc:
        raise public_error(exc) from None
    return columns, [tuple(r) for r in rows]


# Runtime errors of a disclosure-controlled query depend on the data (a CAST that fails only for one person's
# value is a yes/no answer about them), so they become the uniform refusal; limits keep their own answer.
_RESOURCE_CODES = {"timeout", "memory"}


def grant_salt(history: QueryHistory, grant_id: str) -> str:
    """A secret per grant (from the sandbox key behind the history), never shown to the researcher."""
    return hashlib.sha256(f"hds-grant-pseudonym\x00{history.salt}\x00{grant_id}".encode()).hexdigest()


def project_pseudonyms(guarded: GuardedQuery, per_dataset: dict[str, DatasetPolicy], scope: GrantScope,
                       salt: str, actual_columns: dict[str, tuple[str, ...]]) -> str:
    """Rows leave the sandbox with project pseudonyms: every dataset table is read through a subquery that
    replaces its patient column and its record ids by sha256(grant salt || value) and leaves out the columns the
    scope hides. Consistent within a grant (joins across the grant's datasets still link), unlinkable between
    grants and projects."""
    tree = guarded.expression.copy()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    if ctes & set(per_dataset):
        raise QueryRefused("a CTE may not have the name of a dataset", code="cte_shadows_dataset", kind=Refusal.INVALID)
    for dataset, used in guarded.columns_used.items():
        policy = per_dataset.get(dataset)
        undeclared = sorted(set(used) - policy.declared_columns()) if policy is not None else sorted(used)
        if undeclared:
            raise QueryRefused(
                f"column {undeclared[0]} of dataset {dataset} is not declared safe or rekey in the dataset policy",
                code="undeclared_column", kind=Refusal.FORBIDDEN,
            )
    for table in list(tree.find_all(exp.Table)):
        dataset = table.name.lower()
        policy = per_dataset.get(dataset)
        if policy is None or (table.db or "main").lower() != "main":
            continue
        declared = policy.declared_columns()
        visible = {c for c in scope.real_columns(dataset) if c in declared}
        rekeyed = [c for c in scope.real_columns(dataset) if c in visible and c in policy.rekeyed_columns()]
        excluded = [c for c in actual_columns.get(dataset, ()) if c not in visible]
        select = "SELECT *"
        if excluded:
            select += " EXCLUDE (" + ", ".join(f'"{c}"' for c in excluded) + ")"
        if rekeyed:
            select += " REPLACE (" + ", ".join(f"sha256('{salt}' || \"{c}\") AS \"{c}\"" for c in rekeyed) + ")"
        inner = sqlglot.parse_one(f'{select} FROM "main"."{dataset}"', dialect="duckdb")
        alias = table.alias_or_name
        table.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))
    return tree.sql(dialect="duckdb")


def _policies_for(guarded: GuardedQuery, policies: DatasetPolicies) -> dict[str, DatasetPolicy]:
    return {dataset: policies.for_dataset(dataset) for dataset in sorted(guarded.datasets)}


def run_query(
    con: Any,
    sql: str,
    *,
    scope: GrantScope,
    policies: DatasetPolicies,
    history: QueryHistory,
    grant_id: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
    subjects: Sequence[str] | None = None,
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
    privacy: PrivacyContext | None = None,
) -> QueryOutcome:
    """Guard, plan and run ``sql`` on cursor ``con`` under one grant; raise QueryRefused with a public reason.

    ``subjects`` name the differencing histories the query belongs to (the researcher, the project team);
    default: the grant alone. ``timeout_s`` is the one time budget of the whole query."""
    deadline = Deadline(timeout_s)
    history_subjects = tuple(subjects) if subjects else (grant_id,)
    guarded = check(sql, scope)
    check_resources(guarded)
    per_dataset = _policies_for(guarded, policies)
    tier = Tier.most_restrictive([p.tier for p in per_dataset.values()])
    digest = sql_hash(sql)
    if tier is Tier.AGGREGATE_DP:
        return _run_dp(con, guarded, per_dataset, scope, history, grant_id, deadline, digest, privacy)
    if tier is Tier.AGGREGATE:
        for dataset, policy in per_dataset.items():
            if policy.patient_column not in scope.real_columns(dataset):
                raise QueryRefused(
                    f"dataset {dataset} has no column {policy.patient_column}; disclosure control cannot be applied",
                    code="policy_misconfigured",
                    kind=Refusal.INTERNAL,
                )
        return _run_aggregate(con, guarded, per_dataset, history, history_subjects, deadline, max_rows, digest)
    cap = min([max_rows, *(p.row_cap for p in per_dataset.values())])
    actual = table_columns_from_catalog(con, guarded.datasets)
    run_sql = project_pseudonyms(guarded, per_dataset, scope, grant_salt(history, grant_id), actual)
    columns, rows = _fetch(con, run_sql, deadline=deadline, limit=cap + 1)
    truncated = len(rows) > cap
    rows = rows[:cap]
    check_result_size(rows, max_result_bytes)
    return QueryOutcome(
        columns=columns,
        rows=rows,
        suppressed=0,
        row_count=len(rows),
        tier=tier,
        sql_hash=digest,
        datasets=tuple(per_dataset),
        truncated=truncated,
        notes=[f"row cap of {cap} reached; result truncated"] if truncated else [],
    )


def _run_dp(con: Any, guarded: GuardedQuery, per_dataset: dict[str, DatasetPolicy], scope: GrantScope,
            history: QueryHistory, grant_id: str, deadline: Deadline, digest: str,
            privacy: PrivacyContext | None) -> QueryOutcome:
    if len(per_dataset) != 1:
        raise QueryRefused("aggregate-dp tier: one dataset per query", code="dp_shape")
    dataset, policy = next(iter(per_dataset.items()))
    if policy.patient_column not in scope.real_columns(dataset):
        raise QueryRefused(f"dataset {dataset} has no column {policy.patient_column}; privacy cannot be bounded",
                           code="policy_misconfigured", kind=Refusal.INTERNAL)
    plan = build_dp_plan(guarded, dataset, policy, salt=history.salt)
    if privacy is None:
        raise QueryRefused("aggregate-dp tier: no privacy budget is attached to this grant", code="no_budget")
    epsilon = privacy.epsilon if privacy.epsilon is not None else policy.dp_epsilon_per_query
    if not 0 < epsilon <= 10:
        raise QueryRefused("aggregate-dp tier: epsilon per query must be in (0, 10]", code="dp_epsilon", kind=Refusal.INVALID)

    def fetch(sql: str) -> list[tuple[Any, ...]]:
        try:
            return _fetch(con, sql, deadline=deadline, limit=MAX_DP_CELLS + 1)[1]
        except QueryRefused as refused:
            if refused.code in _RESOURCE_CODES:
                raise
            raise disclosure_refusal(f"runtime_{refused.code}") from None

    rows, spend = run_dp(fetch, plan, policy, epsilon, lambda e: privacy.ledger.spend(
        privacy.subject, [dataset], granted=privacy.granted, epsilon=e, grant_id=grant_id))
    return QueryOutcome(
        columns=list(plan.output_columns), rows=rows, suppressed=0, row_count=len(rows), tier=Tier.AGGREGATE_DP,
        sql_hash=digest, datasets=(dataset,),
        privacy={"epsilon_spent": spend.epsilon, "epsilon_spent_total": round(spend.spent, 9),
                 "epsilon_remaining": round(spend.remaining, 9), "epsilon_budget": spend.allowance},
    )


def _run_aggregate(
    con: Any,
    guarded: GuardedQuery,
    per_dataset: dict[str, DatasetPolicy],
    history: QueryHistory,
    subjects: tuple[str, ...],
    deadline: Deadline,
    max_rows: int,
    digest: str,
) -> QueryOutcome:
    plan = build_plan(guarded, per_dataset, salt=history.salt)
    effective = EffectivePolicy.combine(list(per_dataset.values()))
    try:
        _, rows = _fetch(con, plan.sql, deadline=deadline, limit=max_rows + 1)
    except QueryRefused as refused:
        if refused.code in _RESOURCE_CODES:
            raise
        raise disclosure_refusal(f"runtime_{refused.code}") from None
    if rows:
        patients, row_count, population_digest, sketch, per_lineage = plan.population(rows[0])
    else:
        patients, row_count, population_digest, sketch, per_lineage = 0, 0, 0, [], (0,)
    population = Population(
        patients=patients, rows=row_count, digest=population_digest,
        sketch=tuple(sorted(int(h) for h in sketch)), sketch_size=SKETCH_SIZE,
    )
    fingerprint = QueryFingerprint(
        datasets=guarded.datasets,
        grouping=plan.grouping_fingerprint,
        population=population,
        cells={
            cell_key_hash(row[i] for i in plan.key_indices): (plan.patients(row), int(row[plan.rows_index] or 0))
            for row in rows[:max_rows]
        },
    )
    with history.exclusive():
        cause = None
        if min(per_lineage, default=0) < effective.min_patients:
            cause = "too_few_patients"
        elif len(rows) > max_rows:
            cause = "too_many_cells"
        else:
            cause = history.differencing_cause(subjects, fingerprint, min_cell_count=effective.min_cell_count)
        if cause is not None:
            history.record(subjects, replace(fingerprint, refused=True))
            raise disclosure_refusal(cause)
        result = suppress(rows, plan, effective, known_suppressed=history.suppressed_digests(subjects))
        history.record(subjects, fingerprint, result.suppressed_digests)
    return QueryOutcome(
        columns=list(plan.output_columns),
        rows=result.rows,
        suppressed=result.suppressed,
        suppressed_cells=result.cells,
        row_count=len(result.rows),
        tier=Tier.AGGREGATE,
        sql_hash=digest,
        datasets=tuple(per_dataset),
        cell_patients=[plan.cell_patients(rows[i]) for i in result.order],
        suppression_reasons=result.reasons,
    )


# OWASP CSV injection: a cell starting with one of these is a formula in spreadsheet software.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value  # shown as text, never evaluated
    return "" if value is None else value


def export_rows(outcome: QueryOutcome, *, format: str = "csv") -> bytes:
    """Serialise an extract-tier outcome for download (in Python: DuckDB has no file access here)."""
    if outcome.tier is not Tier.EXTRACT:
        raise QueryRefused("download is only available for extract-tier datasets", code="not_extract")
    writers: dict[str, Callable[[QueryOutcome], bytes]] = {"csv": _to_csv, "parquet": _to_parquet}
    writer = writers.get(format)
    if writer is None:
        raise QueryRefused("unsupported export format (available: csv, parquet)", code="export_format",
                           kind=Refusal.INVALID)
    return writer(outcome)


def _to_csv(outcome: QueryOutcome) -> bytes:
    buffer = io.StringIO(newline="")
    out = csv.writer(buffer)
    out.writerow(outcome.columns)
    for row in outcome.rows:
        out.writerow([_csv_value(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _to_parquet(outcome: QueryOutcome) -> bytes:
    """Parquet through a private in-memory DuckDB that holds only the released rows (the catalog's own
    connection has no file access; this one never sees anything but this outcome)."""
    import os
    import tempfile

    names = ", ".join('"' + c.replace('"', '""') + '"' for c in outcome.columns)
    con = duckdb.connect(":memory:")
    fd, path = tempfile.mkstemp(prefix="hds-extract-", suffix=".parquet")
    os.close(fd)
    try:
        if outcome.rows:
            one = "(" + ", ".join("?" for _ in outcome.columns) + ")"
            values = ", ".join(one for _ in outcome.rows)
            con.execute(f"CREATE TABLE extract AS SELECT * FROM (VALUES {values}) AS t({names})",
                        [v for row in outcome.rows for v in row])
        else:
            con.execute("CREATE TABLE extract (" + ", ".join(f"{n} VARCHAR" for n in names.split(", ")) + ")")
        con.execute("COPY extract TO '" + path.replace("'", "''") + "' (FORMAT parquet)")
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        con.close()
        os.unlink(path)
