from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from deid.text.resident_id import check_character, is_valid_resident_id

# GB 11643-1999's worked example (the standard's annex): 11010519491231002X
STANDARD_EXAMPLE = "11010519491231002X"


def test_given_standard_example_then_check_character_is_x() -> None:
    assert check_character(STANDARD_EXAMPLE[:17]) == "X"
    assert is_valid_resident_id(STANDARD_EXAMPLE)
    assert is_valid_resident_id(STANDARD_EXAMPLE.lower())


def test_given_wrong_check_character_then_invalid() -> None:
    assert not is_valid_resident_id(STANDARD_EXAMPLE[:17] + "1")


def test_given_impossible_birth_date_then_invalid() -> None:
    body = "110105" + "19491331" + "002"
    assert not is_valid_resident_id(body + check_character(body))


def test_given_legacy_fifteen_digit_number_then_birth_date_decides() -> None:
    assert is_valid_resident_id("110105491231002")
    assert not is_valid_resident_id("110105491331002")


@given(
    region=st.integers(110000, 659999),
    year=st.integers(1900, 2020),
    month=st.integers(1, 12),
    day=st.integers(1, 28),
    seq=st.integers(0, 999),
    wrong=st.sampled_from("0123456789X"),
)
def test_given_any_valid_body_then_only_its_own_check_character_validates(
    region: int, year: int, month: int, day: int, seq: int, wrong: str
) -> None:
    body = f"{region}{year}{month:02d}{day:02d}{seq:03d}"
    good = check_character(body)
    assert is_valid_resident_id(body + good)
    if wrong != good:
        assert not is_valid_resident_id(body + wrong)
