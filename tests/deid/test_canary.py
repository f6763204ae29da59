"""Canaries through structured feeds (issue 8): a unique name, phone and street address typed into every field
of the HL7 v2 segments the profiles cover, every string element of the supported FHIR resources and every CSV
column must appear nowhere in the output of `hds deid message`. A planted leak shows the check can fail."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from deid.engine import Deidentifier
from deid.keys import Keyring
from deid.profile import load_profiles

PROFILES = Path(__file__).resolve().parents[2] / "policies" / "deid"
CANARY_NAME = ("Dolores", "Haverkamp")
CANARY = "Dolores Haverkamp, 410-555-0199, 4410 Wobblecreek Lane"
# what must never come out: the surname, the street name, the phone digits (any separators)
NEEDLES = ("haverkamp", "wobblecreek", "5550199")


def leaks(output: Any) -> list[str]:
    text = json.dumps(output, ensure_ascii=False).lower()
    digits = re.sub(r"\D", "", text)
    return [n for n in NEEDLES if (n in digits if n.isdigit() else n in text)]


# --- HL7 v2 -----------------------------------------------------------------------------------------------
def hl7_canary_message(profile: str) -> str:
    """One message with every segment the profile lists; every field of each filled with the canary."""
    rules = load_profiles(PROFILES)[profile].hl7v2
    assert rules is not None
    canary = CANARY.replace(",", "")
    segments = []
    for seg, rule in rules.segments.items():
        if seg in ("FHS", "BHS", "BTS", "FTS", "MSA"):
            continue
        count = max([*rule.fields, 8]) + 2
        fields = [canary] * count
        if seg == "MSH":
            fields[6] = "ORU^R01"  # MSH-9 (index 6: the list starts at MSH-3): the message must still parse as one type
            fields[9] = "2.5"
            segments.append("MSH|^~\\&|" + "|".join(fields))
            continue
        if seg == "PID":
            fields[4] = "DOE^JANE"  # PID-5: the patient (known identifiers) is someone else
        if seg == "OBX":
            fields[1] = "TX"
        segments.append(seg + "|" + "|".join(fields))
    return "\r".join(segments)


@pytest.fixture(scope="module")
def engine(text_redactor: Any) -> Deidentifier:
    keyring = Keyring({"k1": "canary-key-0123456789abcdef0123456"}, current="k1")
    return Deidentifier(keyring=keyring, profiles_dir=PROFILES, redactor=text_redactor, today=date(2025, 6, 1))


def run_message(engine: Deidentifier, fmt: str, profile: str, payloads: list[Any]) -> list[dict[str, Any]]:
    """`hds deid message` in process: the same handler, the engine given."""
    from catalog.cli import deid as cli

    lines = "".join(json.dumps({"id": str(i), "payload": p}) + "\n" for i, p in enumerate(payloads))
    out = io.StringIO()
    args = SimpleNamespace(format=fmt, profile=profile, hospital="h1")
    status = cli.cmd_message(args, io.StringIO(lines), out, engine=engine)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0, [r.get("error") for r in results]
    return results


@pytest.mark.parametrize("profile", ["hl7v2-safe-harbor", "gbt-39725-zh"])
def test_given_canary_in_every_hl7_field_then_none_reaches_the_output(engine: Deidentifier, profile: str) -> None:
    message = hl7_canary_message(profile)
    assert message.count("Haverkamp") >= 200  # the canary really is everywhere
    [result] = run_message(engine, "hl7v2", profile, [message])
    assert "payload" in result and result["payload"].startswith("MSH|")
    assert leaks(result["payload"]) == []


# --- FHIR ---------------------------------------------------------------------------------------------------
def _set(node: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            return
    node.setdefault(parts[-1], value)


TEXT_ELEMENTS = {
    "text": {"status": "generated", "div": f"<div>{CANARY}</div>"},
    "code": {"text": CANARY, "coding": [{"system": "http://loinc.org", "code": "1-8", "display": CANARY}]},
    "reasonCode": [{"text": CANARY, "coding": [{"code": "R07.9", "display": CANARY}]}],
    "note": [{"text": CANARY}],
    "valueString": CANARY,
    "category": [{"text": CANARY}],
    "status": CANARY,
    "comment": CANARY,
    "description": CANARY,
    "conclusion": CANARY,
    "location": [{"location": {"display": CANARY, "reference": "Location/1"}}],
    "name": [{"family": CANARY_NAME[1], "given": [CANARY_NAME[0]], "text": CANARY}],
    "telecom": [{"system": "phone", "value": "410-555-0199"}],
    "address": [{"line": ["4410 Wobblecreek Lane"], "city": CANARY, "text": CANARY}],
    "identifier": [{"system": "urn:x", "value": CANARY}],
}


def fhir_canaries(profile: str) -> list[dict[str, Any]]:
    rules = load_profiles(PROFILES)[profile].fhir
    assert rules is not None
    out = []
    for rtype, rule in rules.resources.items():
        if rtype == "Bundle":
            continue
        res: dict[str, Any] = {"resourceType": rtype, "id": "c1"}
        for path in [*rule.paths, *rules.common]:
            _set(res, path, CANARY)
        for key, value in TEXT_ELEMENTS.items():
            res.setdefault(key, json.loads(json.dumps(value)))
        out.append(res)
    return out


@pytest.mark.parametrize("profile", ["fhir-safe-harbor", "gbt-39725-zh"])
def test_given_canary_in_every_fhir_text_element_then_none_reaches_the_output(engine: Deidentifier, profile: str) -> None:
    resources = fhir_canaries(profile)
    assert len(resources) >= 10
    results = run_message(engine, "fhir", profile, resources)
    assert len(results) == len(resources)
    assert [leaks(r["payload"]) for r in results if leaks(r["payload"])] == []


# --- CSV ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["csv-lab-safe-harbor", "gbt-39725-zh"])
def test_given_canary_in_every_csv_column_then_none_reaches_the_output(engine: Deidentifier, profile: str) -> None:
    rules = load_profiles(PROFILES)[profile].csv
    assert rules is not None
    row = {column: CANARY for column in rules.columns}
    [result] = run_message(engine, "csv", profile, [row])
    assert "payload" in result
    assert leaks(result["payload"]) == []


def test_given_a_planted_leak_then_the_canary_check_finds_it(tmp_path: Path, text_redactor: Any) -> None:
    """A profile that keeps a text column under a shape matching anything passes validation; the canary check
    must report the leak (the check can fail)."""
    (tmp_path / "leaky.yaml").write_text(
        "name: leaky\nformats: [csv]\ncsv:\n  patient_pseudonym_column: null\n  columns:\n"
        "    code: {op: keep, shape: code}\n    note: {op: keep, shape: identifier, pattern: '.*'}\n",
        encoding="utf-8",
    )
    leaky = Deidentifier(keyring=Keyring({"k1": "canary-key-0123456789abcdef0123456"}, current="k1"),
                         profiles_dir=tmp_path, redactor=text_redactor)
    [result] = run_message(leaky, "csv", "leaky", [{"code": "GLU", "note": CANARY}])
    assert set(leaks(result["payload"])) == set(NEEDLES)
