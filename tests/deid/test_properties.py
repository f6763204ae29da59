"""Properties that must hold for any input: date shifts invert and keep format; HL7 output always parses and
never contains the patient's name; pseudonyms are stable and keyed."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deid import hl7
from deid.dates import shift_date_text
from deid.engine import Deidentifier
from deid.keys import Keyring

DATES = st.dates(min_value=date(1901, 1, 1), max_value=date(2098, 12, 31))
SHIFTS = st.integers(min_value=-365, max_value=-1)
NAMES = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=5, max_size=12)
FREE = st.text(alphabet=st.characters(blacklist_characters="|^~\\&\r\n", blacklist_categories=("Cs", "Cc")), max_size=40)


@given(DATES, SHIFTS, st.sampled_from(["%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%Y%m%d%H%M", "%Y-%m-%dT%H:%M:%SZ"]))
def test_shift_then_unshift_gives_back_the_value_in_the_same_format(day: date, shift: int, fmt: str) -> None:
    text = day.strftime(fmt)
    shifted = shift_date_text(text, shift)
    assert len(shifted) == len(text)
    assert shift_date_text(shifted, -shift) == text


@given(DATES, SHIFTS)
def test_shifted_interval_between_two_dates_is_preserved(day: date, shift: int) -> None:
    later = day + timedelta(days=17)
    a = date.fromisoformat(shift_date_text(day.isoformat(), shift))
    b = date.fromisoformat(shift_date_text(later.isoformat(), shift))
    assert (b - a).days == 17


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(family=NAMES, given_name=NAMES, junk=FREE, note=FREE)
def test_hl7_output_parses_and_drops_the_name(known_only_engine: Deidentifier, family: str, given_name: str, junk: str, note: str) -> None:
    msg = hl7.Message(
        [
            hl7.Segment(["MSH", "^~\\&", "APP", "FAC", "", "", "20240101", "", "ADT^A01", "1", "P", "2.5"]),
            hl7.Segment(["PID", "1", "", "M1^^^FAC^MR", "", f"{family}^{given_name}", "", "19700101", "F", junk]),
            hl7.Segment(["OBX", "1", "TX", "N", "", f"{note} {family} {note}"]),
        ]
    ).to_text()
    result = known_only_engine.deidentify(msg, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h")
    assert result.ok, result.reason
    out = hl7.parse(result.payload)  # type: ignore[arg-type]
    assert family not in result.payload and given_name not in result.payload  # type: ignore[operator]
    assert out.value("MSH-9.1") == "ADT"


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=10))
def test_pseudonyms_are_stable_keyed_and_never_contain_the_value(value: str, hospital: str) -> None:
    a = Keyring({"k1": "a" * 32})
    b = Keyring({"k1": "b" * 32})
    p = a.pseudonym("id", hospital, value)
    assert p == a.pseudonym("id", hospital, value)
    assert p != b.pseudonym("id", hospital, value)
    assert p.startswith("k1-") and len(p) == 29
