"""The loader parts of `hds bench pipeline` run end to end on a small load (figures are not asserted: ratios only
mean something on a quiet machine, see docs/performance.md)."""

from __future__ import annotations

import json

import pytest

from catalog.cli.bench_pipeline import loader_freshness, loader_rows_per_s

pytestmark = pytest.mark.integration


def _envelopes(n: int) -> list[tuple[str, bytes]]:
    return [("hds.deid.lab_results", json.dumps({
        "record_id": f"bench-{i:06d}", "dataset": "lab_results", "hospital": "riverside", "feed": "lab",
        "format": "csv", "profile": "csv-lab-safe-harbor", "key_id": "k1", "patient_pseudonym": f"k1-{i % 7}",
        "columns": {"test_code": "2345-7", "value_num": i / 10}, "column_types": {"value_num": "DOUBLE"},
        "payload": {"test_code": "2345-7"}}).encode()) for i in range(n)]


def test_given_envelopes_on_kafka_then_the_loader_bench_loads_each_once_and_reports_its_parts() -> None:
    envelopes = _envelopes(300)
    r = loader_rows_per_s(None, envelopes + envelopes[:20])  # type: ignore[arg-type]  # 20 redelivered
    assert r["rows"] == 300 and r["slices"] >= 1
    assert r["consume_only_rows_per_s"] > 0 and r["apply_only_rows_per_s"] > 0 and r["ratio_to_consume_only"] > 0


def test_given_a_steady_rate_then_loader_freshness_sees_every_record_queryable() -> None:
    r = loader_freshness(_envelopes(150), rate=300.0)
    assert r["messages"] == 150 and r["queryable"] == 150
    assert 0 < r["p50_s"] <= r["p99_s"]
