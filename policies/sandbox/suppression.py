"""Cell suppression and rounding of aggregate-tier results (pure: fetched cell rows in, released rows out).

Algorithm (documented in docs/query-sandbox.md, "Disclosure control"):

1. Primary suppression. A row is *small* when, for some patient lineage, its cell covers fewer than
   ``min_cell_count`` distinct patients, or when the keyed digest of one of its patient sets was suppressed
   earlier under the same history (consistent suppression: the same people are never released by a later,
   differently worded query). A measure cell is suppressed when its row is small, when it fails a
   contribution rule for some lineage (threshold on non-zero contributors, dominance, p-ratio; see
   :mod:`policies.sandbox.contribution`), when it is a COUNT whose value is below ``min_cell_count``, or when it
   is a COUNT(DISTINCT) whose counted values are neither each held by ``min_cell_count`` patients nor each
   held by exactly one.
2. Secondary suppression, per measure column. For every grouping key, the rows that agree on all the
   *other* keys form a line whose total can be asked for separately (fewer keys, or no key at all).
   Any line of two or more cells with exactly one suppressed cell gets its smallest released cell
   (fewest patients, then smallest value, then first in output order) suppressed too. Repeat until no
   line changes. With one key the whole result is one line; with no key there is one cell.
3. Key hiding. The key values of a *small* row are replaced by NULL as well, and small rows move to the end of
   the result (in their fetched order), so their sorted position does not reveal the range of a hidden key.
4. Rounding. Released COUNT and SUM values are rounded half-up to the policy's base; a rounded count
   never drops below ``min_cell_count`` (it is raised to the next multiple of the base instead).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from policies.sandbox.contribution import failed_rule
from policies.sandbox.disclosure import AggregatePlan, EffectivePolicy, Measure


@dataclass(frozen=True)
class SuppressionResult:
    rows: list[tuple[Any, ...]]
    suppressed: int  # suppressed measure cells, primary and secondary
    primary: int
    suppressed_digests: frozenset[int]  # patient-set digests of small and secondarily suppressed cells
    order: list[int] = field(default_factory=list)  # fetched row number of each released row
    reasons: dict[str, int] = field(default_factory=dict)  # primary-suppression causes, counted (audit only)
    cells: tuple[tuple[int, int], ...] = ()  # (released row, column) of every cell released as NULL by suppression


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


def _cell_failure(row: Sequence[Any], plan: AggregatePlan, measure: Measure, policy: EffectivePolicy) -> str | None:
    k = policy.min_cell_count
    if measure.is_count and _number(row[measure.index]) < k:
        return "count_below_threshold"
    for summary, fewest, most in plan.summaries(row, measure):
        failed = failed_rule(summary, policy.rules)
        if failed is not None:
            return failed
        if measure.distinct and not ((fewest or 0) >= k or most == 1):
            return "distinct_values"
    return None


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
    patients = [plan.patients(r) for r in rows]
    digests = [plan.digests(r) for r in rows]
    small = [patients[i] < k or any(d in known_suppressed for d in digests[i]) for i in range(len(rows))]
    reasons: Counter[str] = Counter()

    hidden: dict[int, set[int]] = {m: set() for m in measure_indices}  # measure -> suppressed row numbers
    for measure in plan.measures:
        for i, row in enumerate(rows):
            cause = "small_cell" if small[i] else _cell_failure(row, plan, measure, policy)
            if cause is not None:
                hidden[measure.index].add(i)
                reasons[cause] += 1
    primary = sum(len(s) for s in hidden.values())

    # Populations that must stay hidden under this history: small cells, and cells hidden only to protect them.
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
    order = [i for i in range(len(rows)) if not small[i]] + [i for i in range(len(rows)) if small[i]]
    return SuppressionResult(
        rows=[released[i] for i in order],
        suppressed=sum(len(s) for s in hidden.values()),
        primary=primary,
        suppressed_digests=frozenset(d for i in protected for d in digests[i]),
        order=order,
        reasons=dict(reasons),
        cells=masked_cells(len(rows), small, plan.key_indices, hidden, order),
    )


def masked_cells(n_rows: int, small: Sequence[bool], key_indices: Sequence[int],
                 hidden: dict[int, set[int]]) -> tuple[tuple[int, int], ...]:
    """Every (row, column) suppression set to NULL: measures hidden, and the keys of small rows. A NULL that is
    not listed is a real missing value, so a client can tell the two apart."""
    cells = {(i, key) for i in range(n_rows) if small[i] for key in key_indices}
    cells |= {(i, measure) for measure, rows_hidden in hidden.items() for i in rows_hidden}
    return tuple(sorted(cells))


def masked_cells(n_rows: int, small: Sequence[bool], key_indices: Sequence[int],
                 hidden: dict[int, set[int]], order: Sequence[int] | None = None) -> tuple[tuple[int, int], ...]:
    """Every (row, column) suppression set to NULL: measures hidden, and the keys of small rows. A NULL that is
    not listed is a real missing value, so a client can tell the two apart. Rows are numbered as fetched, or, with
    `order` (the fetched row number of each released row), as released."""
    cells = {(i, key) for i in range(n_rows) if small[i] for key in key_indices}
    cells |= {(i, measure) for measure, rows_hidden in hidden.items() for i in rows_hidden}
    if order is not None:
        position = {fetched: released for released, fetched in enumerate(order)}
        cells = {(position[i], column) for i, column in cells}
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
