"""Every operator passes one contract; then each operator's own behaviour."""

from __future__ import annotations

from datetime import date

import pytest

from deid.keys import Keyring
from deid.operators import OPERATORS, OperatorConfigError, OperatorContext, RecordRejected, build_operator
from deid.text.types import KnownIdentifiers, PersonName

from deid_kit import KnownValuesRedactor

KEYS = Keyring({"k1": "operator-test-key-0123456789abcdef"}, current="k1")


def ctx(**kw: object) -> OperatorContext:
    base: dict[str, object] = {"keyring": KEYS, "hospital": "h1", "today": date(2025, 6, 1), "shift_days": -10}
    base["redactor_factory"] = KnownValuesRedactor
    base.update(kw)
    return OperatorContext(**base)  # type: ignore[arg-type]


def test_registry_holds_the_documented_operators() -> None:
    assert set(OPERATORS) == {"keep", "drop", "pseudonymise", "shift_date", "generalise", "redact"}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_contract_given_example_then_deterministic_string_or_none(name: str) -> None:
    cls = OPERATORS[name]
    op = build_operator(name, dict(cls.example_params))
    assert op.name == name
    first = op.operate(cls.example_value, ctx())
    assert first is None or isinstance(first, str)
    assert op.operate(cls.example_value, ctx()) == first


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_contract_given_unknown_parameter_then_config_error_naming_it(name: str) -> None:
    with pytest.raises(OperatorConfigError, match="no_such_param"):
        build_operator(name, {"no_such_param": 1})


@pytest.mark.parametrize("name", sorted(set(OPERATORS) - {"keep"}))
def test_contract_given_non_keep_operator_then_example_value_does_not_survive(name: str) -> None:
    cls = OPERATORS[name]
    op = build_operator(name, dict(cls.example_params))
    out = op.operate(cls.example_value, ctx(known=KnownIdentifiers(names=[PersonName("Example")])))
    assert out != cls.example_value


def test_given_unknown_operator_then_error_lists_known_ones() -> None:
    with pytest.raises(OperatorConfigError, match="keep"):
        build_operator("scramble")


def test_keep_and_drop() -> None:
    assert build_operator("keep").operate("x", ctx()) == "x"
    assert build_operator("drop").operate("x", ctx()) is None


def test_pseudonymise_given_hospital_scope_then_differs_between_hospitals_and_carries_key_id() -> None:
    op = build_operator("pseudonymise", {"kind": "mrn"})
    a, b = op.operate("12345", ctx()), op.operate("12345", ctx(hospital="h2"))
    assert a.startswith("k1-") and b.startswith("k1-") and a != b
    assert "12345" not in a
    assert op.operate(" 12345 ", ctx()) == a


def test_pseudonymise_given_city_scope_then_same_across_hospitals_and_kinds_separate() -> None:
    op = build_operator("pseudonymise", {"scope": "city", "kind": "insurance"})
    assert op.operate("X1", ctx()) == op.operate("X1", ctx(hospital="h2"))
    assert op.operate("X1", ctx()) != build_operator("pseudonymise", {"scope": "city"}).operate("X1", ctx())


def test_pseudonymise_given_bad_scope_then_config_error() -> None:
    with pytest.raises(OperatorConfigError, match="scope"):
        build_operator("pseudonymise", {"scope": "planet"})


@pytest.mark.parametrize(
    "value,shifted",
    [("20240314", "20240304"), ("2024-03-14T10:00:00Z", "2024-03-04T10:00:00Z"), ("03/14/2024", "03/04/2024"),
     ("202403141015+0100", "202403041015+0100"), ("2024年3月14日", "2024年3月4日")],
)  # fmt: skip
def test_shift_date_keeps_format_and_time(value: str, shifted: str) -> None:
    assert build_operator("shift_date").operate(value, ctx()) == shifted


def test_shift_date_given_no_patient_then_year_only() -> None:
    assert build_operator("shift_date").operate("2024-03-14", ctx(shift_days=None)) == "2024"


def test_shift_date_given_not_a_date_then_dropped_or_rejected() -> None:
    assert build_operator("shift_date").operate("next tuesday", ctx()) is None
    with pytest.raises(RecordRejected) as err:
        build_operator("shift_date", {"on_invalid": "reject"}).operate("next tuesday", ctx(position="PID-7"))
    assert err.value.reason == "bad_date" and "tuesday" not in str(err.value)


def test_generalise_birth_date_given_under_90_then_year_and_over_90_then_marker() -> None:
    assert build_operator("generalise", {"kind": "birth_date"}).operate("1970-05-06", ctx()) == "1970"
    assert build_operator("generalise", {"kind": "birth_date"}).operate("19300506", ctx()) is None
    assert build_operator("generalise", {"kind": "birth_date", "over_90": "90+"}).operate("1930-05-06", ctx()) == "90+"


def test_generalise_age_date_and_zip() -> None:
    assert build_operator("generalise", {"kind": "age"}).operate("89", ctx()) == "89"
    assert build_operator("generalise", {"kind": "age"}).operate("93", ctx()) == "90+"
    assert build_operator("generalise", {"kind": "date", "to": "month"}).operate("2024-03-14", ctx()) == "2024-03"
    assert build_operator("generalise", {"kind": "date", "to": "month"}).operate("20240314", ctx()) == "202403"
    assert build_operator("generalise", {"kind": "zip"}).operate("98101-1234", ctx()) == "981"
    assert build_operator("generalise", {"kind": "zip"}).operate("03601", ctx()) == "000"  # sparse prefix
    assert build_operator("generalise", {"kind": "zip", "sparse": "none"}).operate("03601", ctx()) == "036"


def test_generalise_given_bad_kind_then_config_error() -> None:
    with pytest.raises(OperatorConfigError, match="kind"):
        build_operator("generalise", {"kind": "colour"})


def test_redact_uses_known_identifiers_and_format_codec() -> None:
    known = KnownIdentifiers(names=[PersonName("Doe", ("Jane",))])
    c = ctx(known=known, decode_text=lambda s: s.replace("\\.br\\", "\n"), encode_text=lambda s: s.replace("\n", "\\.br\\"))
    out = build_operator("redact").operate("Jane Doe\\.br\\stable", c)
    assert out is not None and "Jane" not in out and "Doe" not in out and out.endswith("\\.br\\stable")


def test_redact_given_no_redactor_then_record_rejected() -> None:
    with pytest.raises(RecordRejected):
        build_operator("redact").operate("text", ctx(redactor_factory=None))
