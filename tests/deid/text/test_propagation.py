"""Issue 8, item 3: what one text of a group (patient) revealed is looked for in the group's other texts."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from catalog.cli import deid as cli
from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.text.propagation import FindingsCache, phrases_found
from deid.text.redactor import TextRedactor
from deid.text.types import Entity

PROFILES = Path(__file__).resolve().parents[3] / "policies" / "deid"


def test_given_bounds_then_cache_forgets_oldest_groups_and_phrases() -> None:
    cache = FindingsCache(max_groups=2, max_phrases=2)
    cache.add("a", [("PERSON", "x1"), ("PERSON", "x2"), ("PERSON", "x3")])
    assert cache.get("a") == [("PERSON", "x2"), ("PERSON", "x3")]
    cache.add("b", [("ID", "123")])
    cache.get("a")  # a is now the most recent
    cache.add("c", [("ID", "456")])
    assert len(cache) == 2 and cache.get("b") == [] and cache.get("a")
    assert "x2" not in repr(cache)


def test_given_found_name_then_its_rare_words_are_propagated_not_dates() -> None:
    text = "Daughter Tinkerbell Quaxworth visited on 3/14"
    found = phrases_found(text, [Entity(9, 29, "PERSON"), Entity(41, 45, "DATE")])
    assert ("PERSON", "Tinkerbell Quaxworth") in found and ("PERSON", "Quaxworth") in found
    assert all(t != "DATE" for t, _ in found)


def run_text(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    out = io.StringIO()
    inp = io.StringIO("".join(json.dumps(x) + "\n" for x in lines))
    assert cli.cmd_text(SimpleNamespace(lang="en"), inp, out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_given_group_then_lines_share_findings_and_without_group_each_stands_alone() -> None:
    first = "Daughter Quaxworth visited today."
    second = "quaxworth brought flowers."
    alone = run_text([{"id": 1, "text": first}, {"id": 2, "text": second}])
    assert alone[1]["text"] == second  # nothing in the second line says it is a name
    grouped = run_text([{"id": 1, "text": second, "group": "p1"}, {"id": 2, "text": first, "group": "p1"},
                        {"id": 3, "text": second, "group": "p2"}, {"id": 4, "text": second}])
    assert [r["id"] for r in grouped] == [1, 2, 3, 4]  # input order kept
    assert grouped[0]["text"] == "[PERSON] brought flowers."  # found through the later line of its group
    assert grouped[0]["entities"] == [{"start": 0, "end": 9, "type": "PERSON"}]
    assert grouped[2]["text"] == second and grouped[3]["text"] == second  # other group, no group: alone


def test_given_findings_cache_then_engine_finds_earlier_record_of_same_patient_in_later_one() -> None:
    engine = Deidentifier(keyring=Keyring({"k1": "prop-key-0123456789abcdef0123456789"}, current="k1"),
                          profiles_dir=PROFILES, redactor=TextRedactor(), today=date(2025, 6, 1))
    row = {"mrn": "A-1", "patient_name": "DOE, JANE", "birth_date": "1950-02-03", "sex": "F", "test_code": "GLU",
           "comment": "Daughter Quaxworth called."}
    later = {**row, "comment": "results given to quaxworth by phone"}
    other_patient = {**later, "mrn": "B-2", "patient_name": "ROE, RITA"}
    cache = FindingsCache()
    without = engine.deidentify(later, format="csv", profile="csv-lab-safe-harbor", hospital="h1", findings=cache)
    assert without.ok and "quaxworth" in str(without.payload["comment"])  # type: ignore[index]
    engine.deidentify(row, format="csv", profile="csv-lab-safe-harbor", hospital="h1", findings=cache)
    with_cache = engine.deidentify(later, format="csv", profile="csv-lab-safe-harbor", hospital="h1", findings=cache)
    assert with_cache.ok and with_cache.payload["comment"] == "results given to [PERSON] by phone"  # type: ignore[index]
    other = engine.deidentify(other_patient, format="csv", profile="csv-lab-safe-harbor", hospital="h1", findings=cache)
    assert other.ok and "quaxworth" in str(other.payload["comment"])  # type: ignore[index]
