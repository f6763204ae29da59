"""Re-identification risk: k-anonymity, share below k, l-diversity."""

from __future__ import annotations

import pytest

from deid.risk import RiskInputError, equivalence_classes, risk_report

ROWS = [
    {"zip": "981", "birth_year": "1970", "sex": "F", "dx": "E11"},
    {"zip": "981", "birth_year": "1970", "sex": "F", "dx": "I10"},
    {"zip": "981", "birth_year": "1970", "sex": "F", "dx": "E11"},
    {"zip": "982", "birth_year": "1955", "sex": "M", "dx": "J45"},
    {"zip": "982", "birth_year": "1955", "sex": "M", "dx": "J45"},
    {"zip": "983", "birth_year": "1990", "sex": "F", "dx": "C50"},
]


def test_given_table_then_smallest_class_share_below_k_and_l_diversity() -> None:
    report = risk_report(ROWS, ["zip", "birth_year", "sex"], sensitive="dx", k=3)
    assert report["records"] == 6 and report["classes"] == 3
    assert report["k_anonymity"] == 1
    assert report["records_below_k"] == 3 and report["share_below_k"] == 0.5 and report["classes_below_k"] == 2
    assert report["l_diversity"] == 1


def test_given_coarser_quasi_identifiers_then_k_grows() -> None:
    assert risk_report(ROWS, ["sex"], k=2)["k_anonymity"] == 2
    assert risk_report(ROWS, ["sex"], sensitive="dx", k=2)["l_diversity"] == 1
    assert risk_report(ROWS, ["sex"], k=2)["l_diversity"] is None


def test_equivalence_classes_count_rows_and_treat_missing_as_value() -> None:
    classes = equivalence_classes([{"a": None}, {"a": ""}, {"a": "x"}], ["a"])
    assert classes[("",)] == 2 and classes[("x",)] == 1


def test_given_missing_column_then_error_names_column() -> None:
    with pytest.raises(RiskInputError, match="'age'"):
        risk_report(ROWS, ["age"])


def test_given_empty_table_then_zero_records() -> None:
    assert risk_report([], ["zip"])["records"] == 0
