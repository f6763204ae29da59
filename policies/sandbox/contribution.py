"""Contribution-aware cell rules of statistical disclosure control (pure: per-cell summaries in, verdicts out).

The rules and their defaults are ACRO's (the SACRO project's output checker, ``acro`` on PyPI):

* **threshold** (``min_cell_count``, 10): at least this many distinct patients contribute a *non-zero* value to
  the cell. Zeros are non-contributors (stricter than ACRO, which counts records): an indicator that is 1 for one
  person and 0 for everyone else has one contributor, not everyone;
* **dominance** (``dominance_n`` = 2, ``dominance_k`` = 0.9): the largest ``n`` patient contributions are less
  than ``k`` of the cell total (ACRO's NK rule: disclosive when ``top_n / total >= k``);
* **p-ratio** (``p_ratio``, 0.10): the contributions other than the two largest add up to at least ``p`` of the
  largest (ACRO: disclosive when ``(total - top1 - top2) / top1 < p``), so the second-largest contributor cannot
  estimate the largest to within ``p``.

Contributions are per *patient* (all of one patient's rows in a cell summed), not per record as in ACRO, so one
person with many records cannot pass as many contributors; magnitudes are absolute values (ACRO sends cells with
negative values to manual review; an automated sandbox needs a verdict, and the magnitude is what an intruder
learns). Why hand-written instead of calling acro: ACRO's checks run in pandas over every record in memory with
process-global parameters; here DuckDB computes each cell's summary (non-zero contributors, total, largest
contributions) inside the query, in bounded memory, with per-dataset parameters. The verdicts are tested against
the ``acro`` package itself on generated cells (tests/policies/sandbox/test_sandbox_contribution.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleParameters:
    threshold: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.9
    p_ratio: float = 0.10


@dataclass(frozen=True)
class CellSummary:
    """One cell of one measure, seen from one patient lineage: what the rules need."""

    contributors: int  # distinct patients with a non-zero contribution
    total: float  # sum of the absolute patient contributions
    largest: Sequence[float]  # the largest absolute patient contributions, descending (at least dominance_n)


def failed_rule(cell: CellSummary, rules: RuleParameters) -> str | None:
    """The first rule the cell fails (``threshold``, ``dominance``, ``p_ratio``), or None when it may be released."""
    if cell.contributors < rules.threshold:
        return "threshold"
    largest = sorted((abs(float(v)) for v in cell.largest), reverse=True)
    total = float(cell.total)
    if total <= 0:
        return "threshold"
    if sum(largest[: rules.dominance_n]) / total >= rules.dominance_k:
        return "dominance"
    top1 = largest[0] if largest else 0.0
    top2 = largest[1] if len(largest) > 1 else 0.0
    if top1 > 0 and (total - top1 - top2) / top1 < rules.p_ratio:
        return "p_ratio"
    return None


def summarise(contributions: Sequence[float], *, keep: int = 2) -> CellSummary:
    """The summary of a cell from its per-patient contributions (what the SQL computes; used by tests)."""
    magnitudes = sorted((abs(float(c)) for c in contributions), reverse=True)
    return CellSummary(
        contributors=sum(1 for m in magnitudes if m != 0),
        total=sum(magnitudes),
        largest=tuple(magnitudes[:keep]),
    )
