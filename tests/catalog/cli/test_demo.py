"""The demo's leak check: a planted identifier is found; the same digits inside a hex record id are not a leak."""

from __future__ import annotations

from pathlib import Path

from catalog.cli.demo import _identifier_leaks
from catalog.store import CatalogStore, LoadedRecord


def _record(rid: str, note: str) -> LoadedRecord:
    envelope = {"record_id": rid, "dataset": "lab_reports", "hospital": "st-luke", "feed": "oru", "format": "hl7v2",
                "profile": "hl7v2-safe-harbor", "key_id": "k1", "patient_pseudonym": "k1-P" + rid[:6],
                "columns": {"note": note}, "column_types": {"note": "VARCHAR"}, "payload": "MSH|^~\\&|X"}
    return LoadedRecord(envelope, "hds.deid.lab_reports", 0, int(rid[-1], 16))


def test_given_an_mrn_only_inside_hex_record_ids_then_it_is_not_counted(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([_record("27d353d568b9fb2202daa6591888b965", "redraw requested"),
                       _record("0123456789abcdef0123456789abcde1", "[REDACTED] called")])
    assert _identifier_leaks(store, {"mrns": ["6591888"], "names": ["Anna Berg"]}) == {"mrns": 0, "names": 0}
    store.close()


def test_given_a_planted_mrn_and_name_then_the_check_finds_both(tmp_path: Path) -> None:
    store = CatalogStore(tmp_path / "c.duckdb")
    store.apply_batch([_record("27d353d568b9fb2202daa6591888b965", "Recollect, MRN 6591888 label mismatch"),
                       _record("0123456789abcdef0123456789abcde1", "called anna berg at home")])
    assert _identifier_leaks(store, {"mrns": ["6591888"], "names": ["Anna Berg"]}) == {"mrns": 1, "names": 1}
    store.close()
