"""Dataset tiers: the shipped policy file, defaults, and validation that names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.sandbox.tiers import DEFAULT_POLICY_FILE, PolicyFileError, Tier, load_dataset_policies


def test_given_shipped_policy_file_then_the_four_datasets_have_their_tiers() -> None:
    policies = load_dataset_policies(DEFAULT_POLICY_FILE)
    assert policies.for_dataset("admissions").tier is Tier.AGGREGATE
    assert policies.for_dataset("lab_reports").tier is Tier.AGGREGATE_DP
    assert policies.for_dataset("clinical_records").tier is Tier.RECORD
    assert policies.for_dataset("lab_results").tier is Tier.EXTRACT  # the demo has one dataset in each tier
    assert policies.for_dataset("lab_results").rounding is None
    assert policies.for_dataset("admissions").rounding == 5


def test_given_unlisted_dataset_then_default_aggregate_tier_applies() -> None:
    policy = load_dataset_policies().for_dataset("not_listed_anywhere")
    assert policy.tier is Tier.AGGREGATE
    assert policy.min_cell_count == 10 and policy.min_patients == 10


def test_given_minimal_file_then_field_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text("datasets:\n  x:\n    tier: record\n    columns: {record_id: rekey, v: safe}\n", encoding="utf-8")
    policy = load_dataset_policies(path).for_dataset("x")
    assert (policy.tier, policy.min_cell_count, policy.min_patients, policy.row_cap, policy.patient_column) == (
        Tier.RECORD,
        10,
        10,
        1000,
        "patient_pseudonym",
    )
    assert policy.rounding is None
    assert load_dataset_policies(path).for_dataset("y").tier is Tier.AGGREGATE


@pytest.mark.parametrize(
    "text,field",
    [
        ("datasets:\n  admissions:\n    tier: public\n", "datasets.admissions.tier"),
        ("datasets:\n  admissions:\n    min_cell_count: 0\n", "datasets.admissions.min_cell_count"),
        ("datasets:\n  admissions:\n    rounding: five\n", "datasets.admissions.rounding"),
        ("datasets:\n  admissions:\n    row_cap: -1\n", "datasets.admissions.row_cap"),
        ("datasets:\n  admissions:\n    patient_column: 'x; DROP'\n", "datasets.admissions.patient_column"),
        ("datasets:\n  admissions:\n    tier: record\n    colour: red\n", "datasets.admissions.colour"),
        ("default:\n  tier: everything\n", "default.tier"),
        ("datasets:\n  'bad name':\n    tier: record\n", "datasets.bad name"),
    ],
    ids=[
        "tier",
        "min-cell-count",
        "rounding",
        "row-cap",
        "patient-column",
        "unknown-field",
        "default-tier",
        "dataset-id",
    ],
)
def test_given_invalid_policy_then_error_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyFileError) as error:
        load_dataset_policies(path)
    assert str(path) in str(error.value)
    assert field in str(error.value)
    assert "red" not in str(error.value) and "everything" not in str(error.value)


def test_given_broken_yaml_then_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("datasets:\n  admissions: [\n", encoding="utf-8")
    with pytest.raises(PolicyFileError, match="line"):
        load_dataset_policies(path)


def test_given_missing_file_then_error_names_it(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="absent.yaml"):
        load_dataset_policies(tmp_path / "absent.yaml")


def test_given_tiers_then_most_restrictive_is_aggregate_first() -> None:
    assert Tier.most_restrictive([Tier.EXTRACT, Tier.RECORD]) is Tier.RECORD
    assert Tier.most_restrictive([Tier.EXTRACT, Tier.AGGREGATE]) is Tier.AGGREGATE
    assert Tier.most_restrictive([]) is Tier.AGGREGATE
