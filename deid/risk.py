"""Re-identification risk of a de-identified table: k-anonymity, records in small classes, l-diversity.

Pure functions over rows ({column: value}); an equivalence class is the set of rows sharing all
quasi-identifier values (missing values count as their own value).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class RiskInputError(ValueError):
    """The table lacks a declared column (names the column, never a value)."""


def _key(row: Mapping[str, Any], quasi: Sequence[str]) -> tuple[str, ...]:
    return tuple("" if row.get(q) is None else str(row.get(q)) for q in quasi)


def equivalence_classes(rows: Iterable[Mapping[str, Any]], quasi: Sequence[str]) -> Counter[tuple[str, ...]]:
    return Counter(_key(row, quasi) for row in rows)


def risk_report(
    rows: Iterable[Mapping[str, Any]], quasi: Sequence[str], *, sensitive: str | None = None, k: int = 5
) -> dict[str, Any]:
    """{"records", "classes", "k_anonymity", "k", "records_below_k", "share_below_k", "classes_below_k",
    "l_diversity" (smallest number of distinct sensitive values in a class; None without a sensitive column)}."""
    if not quasi:
        raise RiskInputError("at least one quasi-identifier column is required")
    if k < 1:
        raise RiskInputError("k must be at least 1")
    sizes: Counter[tuple[str, ...]] = Counter()
    diversity: dict[tuple[str, ...], set[str]] = defaultdict(set)
    checked = False
    for row in rows:
        if not checked:
            for column in [*quasi, *([sensitive] if sensitive else [])]:
                if column not in row:
                    raise RiskInputError(f"column {column!r} is not in the table")
            checked = True
        key = _key(row, quasi)
        sizes[key] += 1
        if sensitive:
            value = row.get(sensitive)
            diversity[key].add("" if value is None else str(value))
    records = sum(sizes.values())
    below = {key: n for key, n in sizes.items() if n < k}
    below_records = sum(below.values())
    return {
        "records": records,
        "quasi_identifiers": list(quasi),
        "classes": len(sizes),
        "k": k,
        "k_anonymity": min(sizes.values()) if sizes else 0,
        "records_below_k": below_records,
        "share_below_k": round(below_records / records, 6) if records else 0.0,
        "classes_below_k": len(below),
        "sensitive": sensitive,
        "l_diversity": (min(len(v) for v in diversity.values()) if diversity else 0) if sensitive else None,
    }
