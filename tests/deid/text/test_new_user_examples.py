"""Issue 8: what a new user tried, and families of the same shapes with names from Faker (not from the rules)."""

from __future__ import annotations

import re

import pytest
from faker import Faker

from deid.text.redactor import TextRedactor


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Seen by John Smith today.", "auto", "Seen by [PERSON] today."),
        ("JOHN SMITH ADMITTED VIA ER", "auto", "[PERSON] ADMITTED VIA ER"),
        ("Pt John Smith", "auto", "Pt [PERSON]"),
        ("Patient 陈小明 (Chen Xiaoming)", "auto", "Patient [PERSON] ([PERSON])"),
        ("Patient 陈小明 (Chen Xiaoming)", "en", "Patient [PERSON] ([PERSON])"),
        ("Patient 陈小明 (Chen Xiaoming)", "zh", "Patient [PERSON] ([PERSON])"),
        ("passport X1234567 on file", "en", "passport [ID] on file"),
        ("MRN: AB1234567, seen today", "en", "MRN: [ID], seen today"),
        ("Started levodopa and apixaban.", "en", "Started levodopa and apixaban."),
        ("2024年3月入住广州市第一人民医院", "zh", "[DATE]入住[LOCATION]"),
        ("王芳代诉腹痛三天", "zh", "[PERSON]代诉腹痛三天"),
    ],
)
def test_given_issue_example_then_redacted_as_expected(redactor: TextRedactor, text: str, lang: str, expected: str) -> None:
    assert redactor.redact(text, lang=lang)[0] == expected


_FAKE = Faker("en_US")
_FAKE.seed_instance(20261201)
PEOPLE = [(_FAKE.first_name(), _FAKE.last_name()) for _ in range(300)]
FORMS = ["Seen by {f} {l} today.", "{F} {L} ADMITTED VIA ER", "Pt {f} {l}", "discussed with {f} {l} from cardiology",
         "Daughter {f} called.", "Dr. {l} aware.", "{l}, {f}, RN"]


def test_given_faker_names_in_note_shapes_then_at_least_99_percent_of_identifying_words_are_redacted(
    redactor: TextRedactor,
) -> None:
    """Every one of 300 Faker people in every shape (2,100 notes). Measured 0.9957 (9 misses: surnames that are
    also words or months, two-letter surnames in capitals); the floor sits below it, the misses stay visible in the
    strict xfail below and in docs/deid-free-text.md."""
    missed = 0
    for first, last in PEOPLE:
        for form in FORMS:
            text = form.format(f=first, l=last, F=first.upper(), L=last.upper())
            out = redactor.redact(text, lang="en")[0]
            named = last if "{l}" in form or "{L}" in form else first  # the word that identifies in this shape
            missed += re.search(rf"\b{re.escape(named)}\b", out, re.IGNORECASE) is not None
    total = len(PEOPLE) * len(FORMS)
    assert total == 2100
    assert 1 - missed / total >= 0.99, missed


@pytest.mark.xfail(strict=True, reason="known miss: a surname that is also a month or common word after a cued "
                   "first name survives (found by the Faker draws above; see docs/deid-free-text.md)")
def test_given_a_surname_that_is_a_month_after_a_cued_first_name_then_it_is_redacted(redactor: TextRedactor) -> None:
    out = redactor.redact("Seen by Claudia May today.", lang="en")[0]
    assert "May" not in out, out
