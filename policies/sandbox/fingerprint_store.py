"""Persistence of the differencing history in ``governance.query_history`` (catalog DuckDB file).

One row per aggregate query and subject (``researcher:<sub>``, ``project:<name>``; released and refused
queries alike): subject, sequence, time, and a JSON payload holding the refused flag, the datasets,
grouping hash, population (counts, keyed digest, sketch), per-cell (key hash -> patients, rows) and the
patient-set digests suppressed by that query. No SQL text, no key values, no pseudonyms are stored:
digests and sketches are keyed hashes, cell keys are SHA-256 hashes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from policies.sandbox.differencing import Population, QueryFingerprint

TABLE = "governance.query_history"


class FingerprintStore:
    def __init__(self, cursor_factory: Callable[[], Any], lock: threading.Lock | None = None) -> None:
        self._cursor_factory = cursor_factory
        self._lock = lock or threading.Lock()

    def ensure_schema(self) -> None:
        with self._lock:
            cur = self._cursor_factory()
            cur.execute("CREATE SCHEMA IF NOT EXISTS governance")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (subject VARCHAR NOT NULL, seq BIGINT NOT NULL, "
                "recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp, payload VARCHAR NOT NULL, "
                "PRIMARY KEY (subject, seq))"
            )

    def append(self, subject: str, fingerprint: QueryFingerprint, suppressed_digests: Iterable[int]) -> None:
        payload = json.dumps(
            {
                "datasets": sorted(fingerprint.datasets),
                "grouping": fingerprint.grouping,
                "population": {
                    "patients": fingerprint.population.patients,
                    "rows": fingerprint.population.rows,
                    "digest": str(fingerprint.population.digest),
                    "sketch": [str(h) for h in fingerprint.population.sketch],
                    "sketch_size": fingerprint.population.sketch_size,
                },
                "cells": {k: list(v) for k, v in fingerprint.cells.items()},
                "refused": fingerprint.refused,
                "suppressed": sorted(str(d) for d in suppressed_digests),
            },
            sort_keys=True,
        )
        with self._lock:
            cur = self._cursor_factory()
            cur.execute(
                f"INSERT INTO {TABLE} (subject, seq, payload) "
                f"SELECT ?, coalesce(max(seq), 0) + 1, ? FROM {TABLE} WHERE subject = ?",
                [subject, payload, subject],
            )

    def entries(self) -> Iterator[tuple[str, QueryFingerprint, frozenset[int]]]:
        with self._lock:
            rows = (
                self._cursor_factory()
                .execute(f"SELECT subject, payload FROM {TABLE} ORDER BY subject, seq")
                .fetchall()
            )
        for subject, payload in rows:
            data = json.loads(payload)
            population = data["population"]
            fingerprint = QueryFingerprint(
                datasets=frozenset(data["datasets"]),
                grouping=data["grouping"],
                population=Population(
                    patients=int(population["patients"]),
                    rows=int(population["rows"]),
                    digest=int(population["digest"]),
                    sketch=tuple(int(h) for h in population["sketch"]),
                    sketch_size=int(population["sketch_size"]),
                ),
                cells={k: (int(v[0]), int(v[1])) for k, v in data["cells"].items()},
                refused=bool(data.get("refused", False)),
            )
            yield str(subject), fingerprint, frozenset(int(d) for d in data["suppressed"])
