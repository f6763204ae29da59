"""What a grant lets a query touch: datasets and, per dataset, the granted columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DATASET_SCHEMA = "main"
# Columns no research query may touch: `payload` holds the whole de-identified record, including identifiers
# that are pseudonymised but linkable (the city-wide pseudonym, hospital-scoped record numbers); researchers
# work with the projected columns.
HIDDEN_COLUMNS = frozenset({"payload"})


@dataclass(frozen=True)
class GrantScope:
    """``columns``: dataset -> granted columns. ``table_columns``: dataset -> every real column, in table order.

    The real columns are needed so that ``*``, ``t.*`` and NATURAL joins can be expanded exactly as DuckDB
    would, and every expanded column checked against the grant.
    """

    columns: Mapping[str, frozenset[str]]
    table_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "columns",
            MappingProxyType({k.lower(): frozenset(c.lower() for c in v) for k, v in self.columns.items()}),
        )
        object.__setattr__(
            self,
            "table_columns",
            MappingProxyType({k.lower(): tuple(c.lower() for c in v) for k, v in self.table_columns.items()}),
        )

    @property
    def datasets(self) -> frozenset[str]:
        return frozenset(self.columns)

    def real_columns(self, dataset: str) -> tuple[str, ...]:
        return self.table_columns.get(dataset, ())

    def is_granted(self, dataset: str, column: str) -> bool:
        return column in self.columns.get(dataset, frozenset())


def table_columns_from_catalog(con: Any, datasets: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Read the real columns of dataset tables in schema ``main`` (trusted code, not a researcher query)."""
    wanted = sorted({d.lower() for d in datasets})
    if not wanted:
        return {}
    placeholders = ", ".join("?" for _ in wanted)
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = ? AND table_name IN ({placeholders}) ORDER BY table_name, ordinal_position",
        [DATASET_SCHEMA, *wanted],
    ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(str(table).lower(), []).append(str(column).lower())
    return {table: tuple(cols) for table, cols in found.items()}


def grant_scope_from_catalog(con: Any, granted: Mapping[str, Iterable[str] | None],
                             hidden: frozenset[str] = HIDDEN_COLUMNS) -> GrantScope:
    """Build a scope from granted columns (``None`` = every column of the dataset) and the catalog's tables.
    ``hidden`` columns are left out of both, so no query can name them and ``*`` never expands to them."""
    real = {t: tuple(c for c in cols if c not in hidden) for t, cols in table_columns_from_catalog(con, granted).items()}
    columns = {
        dataset.lower(): frozenset(real.get(dataset.lower(), ())) if cols is None
        else frozenset(c for c in cols if c.lower() not in hidden)
        for dataset, cols in granted.items()
    }
    return GrantScope(columns=columns, table_columns=real)
