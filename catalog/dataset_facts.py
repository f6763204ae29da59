"""Facts about a dataset for its documentation page and its DCAT record, computed from the catalog's tables.

Everything here is an aggregate over the whole dataset and is shown to any signed-in user, so it follows the
same disclosure rules as the sandbox's aggregate tier: monthly record counts below `min_count` are withheld
and the others are rounded to `rounding`. The k-anonymity figures come from `deid.risk.risk_report`, the same
function `hds deid risk` runs, over the quasi-identifier columns the table has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from catalog.column_docs import ColumnDoc, docs_for
from catalog.deid_rules import treatment
from catalog.store import q
from deid.profile import Profile
from deid.risk import risk_report

# The column that dates an event in each kind of dataset (the first one present wins).
EVENT_DATE_COLUMNS = ("admit_date", "observed_date", "encounter_start", "collected_at")
QUASI_IDENTIFIERS = ("sex", "birth_year", "birth_date", "age_group", "zip3", "zip")
RISK_K = 5  # the `hds deid risk` default

# Coding systems as HealthDCAT-AP wants them: Wikidata entities for the identifier properties.
CODING_SYSTEMS = {
    "ICD-10-CM": "http://www.wikidata.org/entity/P4229",
    "ICD-10": "http://www.wikidata.org/entity/P494",
    "SNOMED CT": "http://www.wikidata.org/entity/P5806",
    "LOINC": "http://www.wikidata.org/entity/P4338",
    "UCUM": "http://www.wikidata.org/entity/Q3541960",
}


@dataclass(frozen=True)
class Disclosure:
    min_count: int = 10
    rounding: int = 5


def _round(n: int, base: int) -> int:
    return int(base * round(n / base)) if base > 1 else n


def event_column(columns: list[str]) -> str | None:
    return next((c for c in EVENT_DATE_COLUMNS if c in columns), None)


def coverage_and_timeline(cur: duckdb.DuckDBPyConnection, dataset: str, columns: list[str],
                          disclosure: Disclosure) -> dict[str, Any]:
    """Earliest and latest event date and records per month (small months withheld, others rounded)."""
    column = event_column(columns)
    if column is None:
        return {"date_column": None, "start": None, "end": None, "months": []}
    expr = f"TRY_CAST({q(column)} AS DATE)"
    start, end = cur.execute(f"SELECT min({expr}), max({expr}) FROM {q(dataset)}").fetchone() or (None, None)
    rows = cur.execute(
        f"SELECT strftime(date_trunc('month', {expr}), '%Y-%m') AS m, count(*) FROM {q(dataset)} "
        f"WHERE {expr} IS NOT NULL GROUP BY m ORDER BY m").fetchall()
    months = [{"month": m, "records": None if n < disclosure.min_count else _round(int(n), disclosure.rounding)}
              for m, n in rows]
    return {"date_column": column, "start": _iso(start), "end": _iso(end), "months": months,
            "withheld_below": disclosure.min_count, "rounded_to": disclosure.rounding}


def k_anonymity(cur: duckdb.DuckDBPyConnection, dataset: str, columns: list[str]) -> dict[str, Any] | None:
    quasi = [c for c in QUASI_IDENTIFIERS if c in columns]
    if not quasi:
        return None
    result = cur.execute(f"SELECT {', '.join(q(c) for c in quasi)} FROM {q(dataset)}")
    names = [d[0] for d in result.description]

    def rows() -> Any:
        while batch := result.fetchmany(5000):
            for row in batch:
                yield dict(zip(names, row))

    report = risk_report(rows(), quasi, k=RISK_K)
    return {key: report[key] for key in ("quasi_identifiers", "records", "classes", "k", "k_anonymity",
                                         "records_below_k", "share_below_k", "classes_below_k")}


def column_entries(format: str | None, columns: list[tuple[str, str]], profile: Profile | None) -> list[dict[str, Any]]:
    """One entry per documented column: meaning (en, zh), source element, coding system, de-identification."""
    docs = docs_for(format, [name for name, _ in columns])
    types = dict(columns)
    out = []
    for name, doc in docs.items():
        out.append(_entry(name, types[name], doc, profile))
    return out


def _entry(name: str, type_: str, doc: ColumnDoc, profile: Profile | None) -> dict[str, Any]:
    return {
        "name": name, "type": type_, "meaning": {"en": doc.en, "zh": doc.zh},
        "source": doc.source.removeprefix("csv:") if doc.source else None,
        "coding": doc.coding, "deid": treatment(profile, doc.source, doc.derived).to_public(),
    }


def coding_systems(entries: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    names: list[str] = []
    for e in entries:
        for part in (e.get("coding") or "").split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    return [{"name": n, "uri": CODING_SYSTEMS.get(n)} for n in names]


def freshness(last_update: str | None, now: dt.datetime | None = None) -> dict[str, Any]:
    if not last_update:
        return {"last_update": None, "age_seconds": None}
    when = dt.datetime.fromisoformat(last_update)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return {"last_update": when.isoformat(), "age_seconds": max(0, int((now - when).total_seconds()))}


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else None
