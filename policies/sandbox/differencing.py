"""Differencing detection: refuse queries that isolate individuals by comparison with earlier ones.

The rule (docs/query-sandbox.md, "Differencing"), applied to every aggregate-tier query before its result is
released, against one history per *subject*: the researcher (across all of their grants) and each project team
they query for. A query is checked against the union of its subjects' histories and recorded in each. Each released query leaves a :class:`QueryFingerprint`: the datasets it read,
its grouping (a hash of the GROUP BY keys), its population (distinct patients behind the whole query,
rows, a keyed XOR digest and a bottom-k sketch of keyed patient hashes) and per output cell (keyed by a
hash of the key values) its patients and rows.

A new query Q is compared with every earlier query E of its subjects (released or refused, any datasets):

* *Near-identical populations*: when both populations fit in the sketch, the exact symmetric
  difference of the two patient sets is known; otherwise it is estimated as ``|N_Q - N_E|`` and the
  populations count as near-identical only if the sketches' Jaccard estimate is at least 0.9.
* Refuse if the populations are near-identical and differ by 1..k-1 patients (k = min_cell_count):
  "all" versus "all but one condition".
* Refuse if the patient sets are identical (equal digests) but the row counts differ by 1..k-1.
* Refuse if Q and E have the same grouping, near-identical populations, and some cell present in both
  differs by 1..k-1 patients or rows.

Refused queries are remembered too: a query refused for differencing still counts as asked, so the next
query is compared with it as well (a binary search through refused queries gains nothing). Every refusal is the
same uniform answer (:func:`policies.sandbox.errors.disclosure_refusal`). History lives in memory per subject
and, given a :class:`~policies.sandbox.fingerprint_store.FingerprintStore`, is also appended to the DuckDB table
``governance.query_history`` and reloaded from it at start-up.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policies.sandbox.errors import disclosure_refusal

if TYPE_CHECKING:
    from policies.sandbox.fingerprint_store import FingerprintStore

NEAR_IDENTICAL_JACCARD = 0.9


@dataclass(frozen=True)
class Population:
    patients: int
    rows: int
    digest: int
    sketch: tuple[int, ...]  # the smallest keyed patient hashes, ascending, at most SKETCH_SIZE
    sketch_size: int = 256

    @property
    def complete(self) -> bool:
        """The sketch holds every patient of the population."""
        return self.patients <= self.sketch_size and len(self.sketch) == self.patients


@dataclass(frozen=True)
class QueryFingerprint:
    datasets: frozenset[str]
    grouping: str
    population: Population
    cells: dict[str, tuple[int, int]] = field(default_factory=dict)  # key hash -> (patients, rows)
    refused: bool = False  # the query was refused (it is remembered all the same)


def cell_key_hash(key_values: Iterable[Any]) -> str:
    """A stable, non-reversible-at-a-glance handle for a cell's key values (no values are stored)."""
    text = json.dumps([repr(v) for v in key_values], ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _jaccard(a: Population, b: Population) -> float:
    k = min(a.sketch_size, b.sketch_size)
    union_bottom = sorted(set(a.sketch) | set(b.sketch))[:k]
    if not union_bottom:
        return 1.0
    sa, sb = set(a.sketch), set(b.sketch)
    both = sum(1 for h in union_bottom if h in sa and h in sb)
    return both / len(union_bottom)


def population_difference(a: Population, b: Population) -> int | None:
    """Patients by which two populations differ, or None when they are not near-identical."""
    if a.digest == b.digest and a.patients == b.patients:
        return 0
    if a.complete and b.complete:
        return len(set(a.sketch) ^ set(b.sketch))
    if _jaccard(a, b) >= NEAR_IDENTICAL_JACCARD:
        return max(abs(a.patients - b.patients), 1)
    return None


def _small(difference: int, k: int) -> bool:
    return 0 < difference < k


Subjects = str | Sequence[str]


def _subjects(subjects: Subjects) -> tuple[str, ...]:
    return (subjects,) if isinstance(subjects, str) else tuple(dict.fromkeys(subjects))


class QueryHistory:
    """Aggregate queries (released and refused) per subject, and the patient-set digests suppressed for each.

    A *subject* is a string naming whose history a query belongs to: ``researcher:<sub>`` for the person across
    all of their grants, ``project:<name>`` for a project team. Callers pass every subject of a query; a plain
    grant id works too (one history per grant, as in tests)."""

    def __init__(self, key: bytes | None = None, store: FingerprintStore | None = None) -> None:
        """``key`` keys the patient hashes behind digests and sketches; pass a stable secret (e.g. from
        settings) when a ``store`` persists the history across restarts, otherwise a random per-process
        key is used. With a ``store``, earlier entries are loaded now and every query is appended."""
        self._key = key if key is not None else secrets.token_bytes(32)
        self._store = store
        self._lock = threading.RLock()
        self._entries: dict[str, list[QueryFingerprint]] = {}
        self._suppressed: dict[str, set[int]] = {}
        if store is not None:
            store.ensure_schema()
            for subject, fingerprint, suppressed in store.entries():
                self._entries.setdefault(subject, []).append(fingerprint)
                self._suppressed.setdefault(subject, set()).update(suppressed)

    def exclusive(self) -> threading.RLock:
        """Hold while checking, suppressing and recording one query, so two concurrent queries of a subject
        cannot both pass the check against a history that lacks the other."""
        return self._lock

    @property
    def salt(self) -> str:
        """Salt mixed into DuckDB's hash of each patient pseudonym (never logged, never returned)."""
        return hashlib.sha256(b"hds-sandbox-digest\x00" + self._key).hexdigest()

    def _earlier(self, subjects: Subjects) -> list[QueryFingerprint]:
        seen: dict[int, QueryFingerprint] = {}
        with self._lock:
            for subject in _subjects(subjects):
                for entry in self._entries.get(subject, ()):
                    seen.setdefault(id(entry), entry)
        return list(seen.values())

    def check(self, subjects: Subjects, candidate: QueryFingerprint, *, min_cell_count: int) -> None:
        """Raise the uniform refusal if ``candidate`` differs from an earlier query of its subjects by a few people."""
        cause = self.differencing_cause(subjects, candidate, min_cell_count=min_cell_count)
        if cause is not None:
            raise disclosure_refusal(cause)

    def differencing_cause(self, subjects: Subjects, candidate: QueryFingerprint, *, min_cell_count: int) -> str | None:
        k = min_cell_count
        for previous in self._earlier(subjects):
            difference = population_difference(previous.population, candidate.population)
            if difference is None:
                continue
            if _small(difference, k):
                return "differencing_population"
            if difference == 0 and _small(abs(previous.population.rows - candidate.population.rows), k):
                return "differencing_records"
            if previous.grouping != candidate.grouping:
                continue
            for key, (patients, rows) in candidate.cells.items():
                if key not in previous.cells:
                    continue
                old_patients, old_rows = previous.cells[key]
                if _small(abs(patients - old_patients), k) or _small(abs(rows - old_rows), k):
                    return "differencing_cell"
        return None

    def record(self, subjects: Subjects, fingerprint: QueryFingerprint, suppressed_digests: Iterable[int] = ()) -> None:
        suppressed_digests = frozenset(suppressed_digests)
        for subject in _subjects(subjects):
            if self._store is not None:
                self._store.append(subject, fingerprint, suppressed_digests)
            with self._lock:
                self._entries.setdefault(subject, []).append(fingerprint)
                self._suppressed.setdefault(subject, set()).update(suppressed_digests)

    def suppressed_digests(self, subjects: Subjects) -> frozenset[int]:
        with self._lock:
            return frozenset(d for s in _subjects(subjects) for d in self._suppressed.get(s, ()))

    def released(self, subjects: Subjects) -> list[QueryFingerprint]:
        return [e for e in self._earlier(subjects) if not e.refused]

    def refusals(self, subjects: Subjects) -> int:
        """Disclosure refusals remembered for these subjects (the largest over them)."""
        with self._lock:
            return max((sum(1 for e in self._entries.get(s, ()) if e.refused) for s in _subjects(subjects)), default=0)
