"""Cell suppression and rounding of aggregate-tier results (pure: rows in, released rows out).

Algorithm (documented in docs/query-sandbox.md, "Disclosure control"):

1. Primary suppression. A row is *small* when its cell covers fewer than ``min_cell_count`` distinct
   patients, or when the keyed digest of its patient set was suppressed earlier under the same grant
   (consistent suppression: the same people are never released by a later, differently worded query).
   A measure cell is suppressed when its row is small, when fewer than ``min_cell_count`` distinct patients
   contributed a non-NULL value to it, or when it is a COUNT whose value is below ``min_cell_count``.
2. Secondary suppression, per measure column. For every grouping key, the rows that agree on all the
   *other* keys form a line whose total can be asked for separately (fewer keys, or no key at all).
   Any line of two or more cells with exactly one suppressed cell gets its smallest released cell
   (fewest patients, then smallest value, then first in output order) suppressed too. Repeat until no
   line changes. With one key the whole result is one line; with no key there is one cell.
3. Key hiding. The key values of a *small* row are replaced by NULL as well: that a group with these
   attributes exists at all is itself disclosive when it holds fewer than ``min_cell_count`` patients.
4. Rounding. Released COUNT and SUM values are rounded half-up to the policy's base; a rounded count
   never drops below ``min_cell_count`` (it is raised to the next multiple of the base instead).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from policies.sandbox.disclosure import AggregatePlan, EffectivePolicy


@dataclass(frozen=True)
class SuppressionResult:
    rows: list[tuple[Any, ...]]
    suppressed: int  # suppressed measure cells, primary and secondary
    primary: int
    suppressed_digests: frozenset[int]  # patient-set digests of small and secondarily suppressed cells
    cells: tuple[tuple[int, int], ...] = ()  # (row, column) of every cell released as NULL by suppression


def _number(value: Any) -> float:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    return 0.0


def round_to_base(value: Any, base: int, *, floor: int | None = None) -> Any:
    """Round half-up to a multiple of ``base``; with ``floor``, never below the first multiple >= floor."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return value
    rounded = math.floor(float(value) / base + 0.5) * base
    if floor is not None and rounded < floor:
        rounded = math.ceil(floor / base) * base
    return int(rounded) if isinstance(value, (int, Decimal)) or float(rounded).is_integer() else rounded


def suppress(
    rows: Sequence[Sequence[Any]],
    plan: AggregatePlan,
    policy: EffectivePolicy,
    *,
    known_suppressed: frozenset[int] = frozenset(),
) -> SuppressionResult:
    k = policy.min_cell_count
    width = len(plan.output_columns)
    measure_indices = [m.index for m in plan.measures]
    patients = [int(r[plan.patients_index] or 0) for r in rows]
    digests = [int(r[plan.digest_index] or 0) for r in rows]
    small = [patients[i] < k or digests[i] in known_suppressed for i in range(len(rows))]

    hidden: dict[int, set[int]] = {m: set() for m in measure_indices}  # measure -> suppressed row numbers
    for measure in plan.measures:
        contributor_at = plan.contributor_indices.get(measure.index)
        for i, row in enumerate(rows):
            value = row[measure.index]
            contributors = patients[i] if contributor_at is None else int(row[contributor_at] or 0)
            if small[i] or contributors < k or (measure.is_count and _number(value) < k):
                hidden[measure.index].add(i)
    primary = sum(len(s) for s in hidden.values())

    # Populations that must stay hidden under this grant: small cells, and cells hidden only to protect them.
    protected = {i for i in range(len(rows)) if small[i]}
    for measure in plan.measures:
        before = set(hidden[measure.index])
        _secondary(rows, plan.key_indices, patients, measure.index, hidden[measure.index])
        protected |= hidden[measure.index] - before

    released: list[tuple[Any, ...]] = []
    for i, row in enumerate(rows):
        out = list(row[:width])
        if small[i]:
            for key_index in plan.key_indices:
                out[key_index] = None
        for measure in plan.measures:
            if i in hidden[measure.index]:
                out[measure.index] = None
            elif measure.rounded and policy.rounding is not None:
                out[measure.index] = round_to_base(
                    out[measure.index], policy.rounding, floor=k if measure.is_count else None
                )
        released.append(tuple(out))
    return SuppressionResult(
        rows=released,
        suppressed=sum(len(s) for s in hidden.values()),
        primary=primary,
        suppressed_digests=frozenset(digests[i] for i in protected),
        cells=masked_cells(len(rows), small, plan.key_indices, hidden),
    )


def masked_cells(n_rows: int, small: Sequence[bool], key_indices: Sequence[int],
                 hidden: dict[int, set[int]]) -> tuple[tuple[int, int], ...]:
    """Every (row, column) suppression set to NULL: measures hidden, and the keys of small rows. A NULL that is
    not listed is a real missing value, so a client can tell the two apart."""
    cells = {(i, key) for i in range(n_rows) if small[i] for key in key_indices}
    cells |= {(i, measure) for measure, rows_hidden in hidden.items() for i in rows_hidden}
    return tuple(sorted(cells))


def _secondary(
    rows: Sequence[Sequence[Any]],
    key_indices: Sequence[int],
    patients: Sequence[int],
    measure_index: int,
    hidden: set[int],
) -> None:
    if len(rows) < 2:
        return
    dimensions: list[int | None] = [*key_indices] or [None]
    changed = True
    while changed:
        changed = False
        for dimension in dimensions:
            lines: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for i, row in enumerate(rows):
                lines[tuple(repr(row[k]) for k in key_indices if k != dimension)].append(i)
            for members in lines.values():
                if len(members) < 2:
                    continue
                if sum(1 for i in members if i in hidden) != 1:
                    continue
                candidates = [i for i in members if i not in hidden]
                victim = min(candidates, key=lambda i: (patients[i], _number(rows[i][measure_index]), i))
                hidden.add(victim)
                changed = True
