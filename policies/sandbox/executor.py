"""Run a researcher's SQL under a grant: guard, tier, disclosure control, time limit, public errors.

``run_query`` is what ``POST /api/query`` calls with a cursor of the catalog's connection (which runs with
``enable_external_access=false`` and ``lock_configuration=true``). Nothing here writes to DuckDB.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from policies.sandbox.differencing import Population, QueryFingerprint, QueryHistory, cell_key_hash
from policies.sandbox.disclosure import SKETCH_SIZE, AggregatePlan, EffectivePolicy, build_plan
from policies.sandbox.errors import QueryRefused
from policies.sandbox.scope import GrantScope, table_columns_from_catalog
from policies.sandbox.sql_guard import GuardedQuery, check
from policies.sandbox.suppression import suppress
from policies.sandbox.tiers import DatasetPolicies, DatasetPolicy, Tier

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ROWS = 10_000


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


def sql_hash(sql: str) -> str:
    """SHA-256 of the submitted SQL text, for the audit log (the text itself is never logged)."""
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


# DuckDB exception class -> (public reason, code, HTTP status). Messages from DuckDB are never passed on:
# they quote the SQL and sometimes values from the data.
_DUCKDB_ERRORS: tuple[tuple[type[BaseException], str, str, int], ...] = (
    (duckdb.InterruptException, "the query exceeded its time limit", "timeout", 408),
    (duckdb.OutOfMemoryException, "the query exceeded the memory limit", "memory", 422),
    (duckdb.PermissionException, "the query needs an operation the sandbox does not permit", "permission", 403),
    (duckdb.CatalogException, "the query refers to a table or function that is not available", "catalog", 400),
    (duckdb.BinderException, "the query could not be bound (check columns, types and grouping)", "binder", 400),
    (duckdb.ConversionException, "a value could not be converted to the requested type", "conversion", 400),
    (duckdb.OutOfRangeException, "a value was out of range", "out_of_range", 400),
    (duckdb.InvalidInputException, "the query had invalid input", "invalid_input", 400),
    (duckdb.ParserException, "the database could not parse the checked query", "parser", 400),
)


def public_error(exc: duckdb.Error) -> QueryRefused:
    for exc_type, reason, code, status in _DUCKDB_ERRORS:
        if isinstance(exc, exc_type):
            return QueryRefused(reason, code=code, status_code=status)
    return QueryRefused("the query failed in the database", code="database_error", status_code=500)


@contextmanager
def _time_limit(con: Any, timeout_s: float) -> Iterator[None]:
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _fetch(con: Any, sql: str, *, timeout_s: float, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    try:
        with _time_limit(con, timeout_s):
            result = con.execute(sql)
            columns = [d[0] for d in (result.description or [])]
            rows = result.fetchmany(limit)
    except duckdb.Error as exc:
        raise public_error(exc) from None
    return columns, [tuple(r) for r in rows]


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
        raise QueryRefused("a CTE may not have the name of a dataset", code="cte_shadows_dataset", status_code=400)
    for table in list(tree.find_all(exp.Table)):
        dataset = table.name.lower()
        policy = per_dataset.get(dataset)
        if policy is None or (table.db or "main").lower() != "main":
            continue
        visible = set(scope.real_columns(dataset))
        rekeyed = [c for c in (policy.patient_column, "record_id") if c in visible]
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
) -> QueryOutcome:
    """Guard, plan and run ``sql`` on cursor ``con`` under one grant; raise QueryRefused with a public reason."""
    guarded = check(sql, scope)
    per_dataset = _policies_for(guarded, policies)
    tier = Tier.most_restrictive([p.tier for p in per_dataset.values()])
    digest = sql_hash(sql)
    if tier is Tier.AGGREGATE:
        for dataset, policy in per_dataset.items():
            if policy.patient_column not in scope.real_columns(dataset):
                raise QueryRefused(
                    f"dataset {dataset} has no column {policy.patient_column}; disclosure control cannot be applied",
                    code="policy_misconfigured",
                    status_code=500,
                )
        return _run_aggregate(con, guarded, per_dataset, history, grant_id, timeout_s, max_rows, digest)
    cap = min([max_rows, *(p.row_cap for p in per_dataset.values())])
    actual = table_columns_from_catalog(con, guarded.datasets)
    run_sql = project_pseudonyms(guarded, per_dataset, scope, grant_salt(history, grant_id), actual)
    columns, rows = _fetch(con, run_sql, timeout_s=timeout_s, limit=cap + 1)
    truncated = len(rows) > cap
    rows = rows[:cap]
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


def _population(con: Any, plan: AggregatePlan, timeout_s: float) -> Population:
    _, rows = _fetch(con, plan.population_sql, timeout_s=timeout_s, limit=1)
    patients, row_count, digest, sketch = rows[0]
    return Population(
        patients=int(patients or 0),
        rows=int(row_count or 0),
        digest=int(digest or 0),
        sketch=tuple(sorted(int(h) for h in (sketch or []))),
        sketch_size=SKETCH_SIZE,
    )


def _run_aggregate(
    con: Any,
    guarded: GuardedQuery,
    per_dataset: dict[str, DatasetPolicy],
    history: QueryHistory,
    grant_id: str,
    timeout_s: float,
    max_rows: int,
    digest: str,
) -> QueryOutcome:
    plan = build_plan(guarded, per_dataset, salt=history.salt)
    effective = EffectivePolicy.combine(list(per_dataset.values()))
    population = _population(con, plan, timeout_s)
    if population.patients < effective.min_patients:
        raise QueryRefused(
            f"aggregate tier: the query covers fewer than {effective.min_patients} distinct patients",
            code="too_few_patients",
            status_code=422,
        )
    _, rows = _fetch(con, plan.cell_sql, timeout_s=timeout_s, limit=max_rows + 1)
    if len(rows) > max_rows:
        raise QueryRefused(
            f"aggregate tier: the result has more than {max_rows} cells; group more coarsely",
            code="too_many_cells",
            status_code=422,
        )
    fingerprint = QueryFingerprint(
        datasets=guarded.datasets,
        grouping=plan.grouping_fingerprint,
        population=population,
        cells={
            cell_key_hash(row[i] for i in plan.key_indices): (
                int(row[plan.patients_index] or 0),
                int(row[plan.rows_index] or 0),
            )
            for row in rows
        },
    )
    with history.exclusive():
        history.check(grant_id, fingerprint, min_cell_count=effective.min_cell_count)
        result = suppress(rows, plan, effective, known_suppressed=history.suppressed_digests(grant_id))
        history.record(grant_id, fingerprint, result.suppressed_digests)
    return QueryOutcome(
        columns=list(plan.output_columns),
        rows=result.rows,
        suppressed=result.suppressed,
        suppressed_cells=result.cells,
        row_count=len(result.rows),
        tier=Tier.AGGREGATE,
        sql_hash=digest,
        datasets=tuple(per_dataset),
    )


def _csv_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return "" if value is None else value


def export_rows(outcome: QueryOutcome, *, format: str = "csv") -> bytes:
    """Serialise an extract-tier outcome for download (in Python: DuckDB has no file access here)."""
    if outcome.tier is not Tier.EXTRACT:
        raise QueryRefused("download is only available for extract-tier datasets", code="not_extract")
    writers: dict[str, Callable[[QueryOutcome], bytes]] = {"csv": _to_csv, "parquet": _to_parquet}
    writer = writers.get(format)
    if writer is None:
        raise QueryRefused("unsupported export format (available: csv, parquet)", code="export_format",
                           status_code=400)
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
