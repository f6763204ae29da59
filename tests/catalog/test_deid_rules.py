"""The de-identification shown for each column is derived from the feed's profile, not written by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalog.column_docs import COMMON, CSV_LAB, FHIR, HL7_ADT, HL7_ORU
from catalog.deid_rules import treatment
from deid.profile import load_profile, load_profiles

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "deid"
TABLES = {"hl7v2-safe-harbor": {**HL7_ADT, **HL7_ORU}, "fhir-safe-harbor": FHIR, "csv-lab-safe-harbor": CSV_LAB}


@pytest.mark.parametrize("profile_name", sorted(TABLES))
def test_given_the_shipped_profiles_then_every_documented_column_has_a_known_treatment(profile_name: str) -> None:
    profile = load_profiles(POLICIES)[profile_name]
    unknown = [name for name, doc in {**COMMON, **TABLES[profile_name]}.items()
               if treatment(profile, doc.source, doc.derived).rule == "unknown"]
    assert unknown == []


def test_given_hl7_then_identifiers_are_generalised_or_shifted_as_the_profile_says() -> None:
    profile = load_profiles(POLICIES)["hl7v2-safe-harbor"]
    got = {n: treatment(profile, d.source, d.derived) for n, d in HL7_ADT.items()}
    assert (got["birth_year"].rule, got["birth_year"].detail) == ("generalised", "year")
    assert (got["zip3"].rule, got["zip3"].detail) == ("generalised", "digits3")
    assert got["admit_date"].rule == "shifted" and got["ward"].rule == "kept"
    oru = {n: treatment(profile, d.source, d.derived) for n, d in HL7_ORU.items()}
    assert oru["note"].rule == "redacted"


def test_given_a_profile_that_changes_a_rule_then_the_documentation_follows(tmp_path: Path) -> None:
    data = yaml.safe_load((POLICIES / "csv-lab-safe-harbor.yaml").read_text(encoding="utf-8"))
    data["csv"]["columns"]["collected_at"] = {"op": "generalise", "kind": "date", "to": "month"}
    data["csv"]["columns"]["test_name"] = "redact"
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    changed = load_profile(path)
    assert treatment(changed, CSV_LAB["collected_at"].source).to_public() == {"rule": "generalised", "detail": "month"}
    assert treatment(changed, CSV_LAB["test_name"].source).rule == "redacted"
    original = load_profiles(POLICIES)["csv-lab-safe-harbor"]
    assert treatment(original, CSV_LAB["collected_at"].source).rule == "shifted"
