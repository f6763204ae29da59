from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from deid.text.evaluation import evaluate, load_gold, run_cli, score_record, split_by_patient
from deid.text.redactor import TextRedactor
from deid.text.synthetic import chinese_notes, english_notes
from deid.text.types import Entity

PHYSIONET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "physionet-deid-dev" / "physionet_dev.jsonl"


class FixedRedactor:
    """A redactor whose answers are given: exercises the scoring alone."""

    def __init__(self, answers: dict[str, list[Entity]]) -> None:
        self.answers = answers

    def analyze(self, text: str, *, lang: str = "auto", known: Any = None) -> list[Entity]:
        return self.answers.get(text, [])

    def redact(self, text: str, *, lang: str = "auto", known: Any = None) -> tuple[str, list[Entity]]:
        raise NotImplementedError


def test_given_partial_cover_then_span_is_missed_and_punctuation_does_not_count() -> None:
    text = "Dr. John Smith, 3/14."
    gold = [{"start": 4, "end": 14, "type": "PERSON"}, {"start": 16, "end": 21, "type": "DATE"}]
    # the name is half covered; the date is covered except its trailing "." (not a letter/digit? it is inside gold
    # only as "3/14." -> the dot does not need covering)
    predicted = [Entity(4, 8, "PERSON"), Entity(16, 20, "DATE")]
    s = score_record(text, gold, predicted)
    assert s["found_by_type"] == {"DATE": 1}
    assert s["total_by_type"] == {"PERSON": 1, "DATE": 1}


def test_given_over_redaction_then_character_precision_drops() -> None:
    text = "Seen by Smith today"
    rec = {"id": "a", "text": text, "spans": [{"start": 8, "end": 13, "type": "PERSON"}]}
    exact = evaluate([rec], FixedRedactor({text: [Entity(8, 13, "PERSON")]}))
    wide = evaluate([rec], FixedRedactor({text: [Entity(0, len(text), "PERSON")]}))
    assert exact["span_recall"] == 1.0 and exact["char_precision"] == 1.0
    assert wide["span_recall"] == 1.0
    assert wide["char_precision"] == pytest.approx(5 / 16, abs=1e-3)
    assert exact["leaked_gold_strings"] == 0


def test_given_missed_span_then_it_counts_as_leaked_and_per_type_recall_shows_it() -> None:
    text = "Call Smith at 555-1234"
    rec = {"id": "b", "text": text, "spans": [{"start": 5, "end": 10, "type": "PERSON"}, {"start": 14, "end": 22, "type": "PHONE"}]}
    report = evaluate([rec], FixedRedactor({text: [Entity(14, 22, "PHONE")]}))
    assert report["span_recall"] == 0.5
    assert report["per_type_recall"] == {"PERSON": 0.0, "PHONE": 1.0}
    assert report["leaked_gold_strings"] == 1


def test_given_gold_file_then_run_cli_prints_json_report_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.jsonl"
    text = "Dr. Kowalski called 410-555-1234 on 3/14."
    spans = [{"start": 4, "end": 12, "type": "PERSON"}, {"start": 20, "end": 32, "type": "PHONE"}, {"start": 36, "end": 40, "type": "DATE"}]
    gold.write_text(json.dumps({"id": "1", "text": text, "spans": spans}) + "\n\n", encoding="utf-8")
    assert run_cli(str(gold), "en") == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["span_recall"] == 1.0 and report["notes"] == 1 and report["gold_spans"] == 3
    assert "Kowalski" not in json.dumps(report)


def test_given_broken_gold_file_then_run_cli_names_line_not_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "bad.jsonl"
    gold.write_text('{"id": "1", "text": "x", "spans": []}\n{"text": "Secret Name"\n', encoding="utf-8")
    assert run_cli(str(gold), "auto") == 2
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert "line 2" in out and "Secret" not in out
    assert run_cli(str(tmp_path / "missing.jsonl"), "auto") == 2


def _kept_share(redactor: TextRedactor, notes: list[dict[str, Any]]) -> float:
    kept = total = 0
    for note in notes:
        entities = redactor.analyze(note["text"], lang=note["lang"])
        for k in note["keep"]:
            total += 1
            kept += not any(e.start < k["end"] and k["start"] < e.end for e in entities)
    return kept / total


def test_given_generated_english_notes_then_recall_and_trap_survival_meet_targets(redactor: TextRedactor) -> None:
    notes = english_notes(200, seed=3)
    report = evaluate(notes, redactor)
    assert report["span_recall"] >= 0.99, report["per_type_recall"]
    assert report["char_precision"] >= 0.95
    assert _kept_share(redactor, notes) >= 0.98


def test_given_generated_chinese_notes_then_recall_and_trap_survival_meet_targets(redactor: TextRedactor) -> None:
    notes = chinese_notes(200, seed=5)
    report = evaluate(notes, redactor)
    assert report["span_recall"] >= 0.99, report["per_type_recall"]
    assert report["char_precision"] >= 0.95
    assert _kept_share(redactor, notes) >= 0.98


@pytest.mark.slow
@pytest.mark.skipif(not PHYSIONET.exists(), reason="shared PhysioNet deid dev split not present (../shared/data)")
def test_given_physionet_validation_patients_then_recall_and_precision_meet_floors(redactor: TextRedactor) -> None:
    """Floors below the measured VALIDATION figures (patients 61-80, never looked at while writing rules):
    recall 0.969, precision 0.796 (docs/deid-free-text.md); the issue's target is 0.97 / 0.80."""
    parts = split_by_patient(load_gold(PHYSIONET))
    assert len(parts["tune"]) > 1000 and len(parts["validation"]) > 200
    report = evaluate(parts["validation"], redactor, lang="en")
    assert report["span_recall"] >= 0.955, report
    assert report["char_precision"] >= 0.77, report
    assert report["per_type_recall"]["Date"] >= 0.95


def test_given_physionet_ids_then_split_is_by_patient() -> None:
    records = [{"id": f"physionet-{p}-{n}", "text": "", "spans": []} for p in (1, 60, 61, 80) for n in (1, 2)]
    parts = split_by_patient(records + [{"id": "other-1", "text": "", "spans": []}])
    assert {r["id"].split("-")[1] for r in parts["tune"]} == {"1", "60"}
    assert {r["id"].split("-")[1] for r in parts["validation"]} == {"61", "80"}


needs_faker = pytest.mark.skipif(importlib.util.find_spec("faker") is None, reason="Faker (dev extras) not installed")


@pytest.mark.slow
@needs_faker
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_given_independent_notes_on_held_out_seeds_then_recall_and_keeps_meet_floors(redactor: TextRedactor, lang: str) -> None:
    """The Faker generator shares nothing with the rules; held-out seeds were never looked at. Measured
    (docs/deid-free-text.md): EN recall 0.989, ZH 0.993, every clinical term kept; floors sit below."""
    from deid.text import faker_notes

    notes = faker_notes.corpus(lang, faker_notes.HELD_OUT_SEEDS[:2], 100)
    report = evaluate(notes, redactor, lang=lang)
    assert report["span_recall"] >= 0.98, report["per_type_recall"]
    assert report["char_precision"] >= 0.95
    assert report["keep_kept_share"] >= 0.98
    assert all(v >= 0.9 for v in report["per_type_recall"].values()), report["per_type_recall"]


@needs_faker
def test_given_generator_then_it_covers_every_usps_suffix_and_unit_and_both_cases() -> None:
    from faker.providers.address.en_US import Provider

    from deid.text import faker_notes

    notes = faker_notes.english_notes(len(Provider.street_suffixes), seed=faker_notes.TUNE_SEEDS[0])
    text = "\n".join(n["text"] for n in notes)
    lower = text.lower()
    assert all(s.lower() in lower for s in Provider.street_suffixes)
    assert sum(n["text"].isupper() for n in notes) >= 10 and sum(n["text"].islower() for n in notes) >= 10
    zh = faker_notes.chinese_notes(50, seed=faker_notes.TUNE_SEEDS[0])
    assert any("（" in n["text"] for n in zh) and any("邮编" in n["text"] for n in zh)
