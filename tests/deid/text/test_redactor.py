from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from deid.text.redactor import TextRedactor, detect_language
from deid.text.rule import ENTITY_TYPES
from deid.text.types import Entity, KnownIdentifiers, PersonName


def _types_of(text: str, entities: list[Entity]) -> dict[str, str]:
    return {text[e.start : e.end]: e.type for e in entities}


def test_given_note_with_phi_then_entities_are_sorted_non_overlapping_with_original_offsets(redactor: TextRedactor) -> None:
    text = "Seen by Dr. Kowalski on 3/14/2025 at 10:30, call (410) 555-1234, MRN: 8812345."
    entities = redactor.analyze(text, lang="en")
    assert entities, "nothing found"
    for a, b in zip(entities, entities[1:]):
        assert a.end <= b.start
    assert all(e.type in ENTITY_TYPES for e in entities)
    found = _types_of(text, entities)
    assert found["Kowalski"] == "PERSON"
    assert found["3/14/2025 at 10:30"] == "DATE"
    assert found["(410) 555-1234"] == "PHONE"
    assert found["8812345"] == "ID"


@pytest.mark.parametrize(
    "date",
    ["3/14", "3/14/2025", "03-14-25", "March 3rd", "March 3, 2025", "3 March 2025", "may 16, 2015", "2025-03-14",
     "2025-03-14 08:30", "'92", "march of 2022", "6/30-7/2"],
)
def test_given_common_date_format_then_it_is_found(redactor: TextRedactor, date: str) -> None:
    text = f"Event noted on {date} per family."
    redacted, _ = redactor.redact(text, lang="en")
    assert not re.search(r"\d", redacted), redacted.replace(date, "<date>")
    assert "[DATE]" in redacted


@pytest.mark.parametrize(
    "value,etype",
    [
        ("(410) 555-1234", "PHONE"), ("410-555-1234", "PHONE"), ("410.555.1234", "PHONE"), ("555-1234", "PHONE"),
        ("+1 410 555 1234", "PHONE"), ("jane.doe@example.org", "EMAIL"), ("https://portal.example.org/p/1", "URL"),
        ("192.168.10.24", "IP"), ("123-45-6789", "ID"), ("1200 North Charles Street", "ADDRESS"),
    ],
)
def test_given_contact_or_number_then_it_is_redacted_with_its_type(redactor: TextRedactor, value: str, etype: str) -> None:
    redacted, entities = redactor.redact(f"Contact: {value} today.", lang="en")
    assert value not in redacted
    assert etype in {e.type for e in entities}


def test_given_pager_and_record_numbers_then_they_are_found(redactor: TextRedactor) -> None:
    text = "Pager: #54321. MRN 00123456, acct no: A-99812, accession #S25-1234."
    redacted, _ = redactor.redact(text, lang="en")
    for value in ("54321", "00123456", "A-99812", "S25-1234"):
        assert value not in redacted


def test_given_profile_id_pattern_then_custom_record_numbers_are_found() -> None:
    r = TextRedactor(id_patterns=[r"\bHX-\d{3}-[A-Z]{2}\b"])
    redacted, _ = r.redact("Transferred with chart HX-123-AB attached.", lang="en")
    assert "HX-123-AB" not in redacted


def test_given_age_of_ninety_or_more_then_only_that_age_is_redacted(redactor: TextRedactor) -> None:
    redacted, _ = redactor.redact("A 93 yo woman and her 67 year old husband; age 101.", lang="en")
    assert "93" not in redacted and "101" not in redacted
    assert "67 year old" in redacted


@pytest.mark.parametrize(
    "phrase",
    ["Parkinson disease", "Foley catheter", "Cushing syndrome", "Gram stain", "Apgar score", "Bell palsy",
     "metformin", "heparin", "mg/dL", "Swan-Ganz catheter", "Babinski sign", "Doppler"],
)
def test_given_clinical_eponym_drug_or_unit_then_it_survives(redactor: TextRedactor, phrase: str) -> None:
    for text in (f"History of {phrase} noted, glucose 110 mg/dL.", f"HISTORY OF {phrase.upper()} NOTED."):
        redacted, _ = redactor.redact(text, lang="en")
        assert phrase.lower() in redacted.lower(), redacted


def test_given_upper_case_nursing_note_then_clinical_words_survive_and_names_go(redactor: TextRedactor) -> None:
    text = (
        "PT ALERT AND ORIENTED, FOLEY PATENT, HEPARIN GTT AT 900 U/HR. BP STABLE ON LEVOPHED. "
        "DR. MAROTTA AWARE. SON BILL CALLED, WILL UPDATE.\n"
        "ANTHONY C. KOZICKI, RRT\n"
    )
    redacted, entities = redactor.redact(text, lang="en")
    for kept in ("PT ALERT AND ORIENTED", "FOLEY PATENT", "HEPARIN GTT", "BP STABLE ON LEVOPHED", "WILL UPDATE"):
        assert kept in redacted
    for gone in ("MAROTTA", "BILL", "KOZICKI", "ANTHONY"):
        assert gone not in redacted
    # most of the note survives: redaction is targeted
    assert sum(e.end - e.start for e in entities) < len(text) * 0.2


def test_given_known_identifiers_then_every_written_variant_is_found(redactor: TextRedactor) -> None:
    known = KnownIdentifiers(
        names=[PersonName("Smith", ("John", "Quincy"))],
        identifiers=["MRN-00123"],
        phones=["+1 (410) 555-0101"],
        addresses=["12 Elm Road", "Towson", "21204"],
        emails=["jqs@example.org"],
        dates=["1950-02-03"],
    )
    text = (
        "SMITH, JOHN QUINCY seen. John Smith and J. Smith and j.q.s. and JQS; smith reports pain. "
        "MRN 00123. Call 410 555 0101 or 555-0101. Lives 12 elm road, towson 21204. jqs@example.org. "
        "Born 2/3/1950 (Feb 3, 1950). Foley catheter in place."
    )
    redacted, entities = redactor.redact(text, known=known)
    lowered = redacted.lower()
    for gone in ("smith", "john", "quincy", "j.q.s.", "jqs", "00123", "0101", "elm road", "towson", "21204", "1950"):
        assert gone not in lowered, gone
    assert "Foley catheter" in redacted
    assert any(e.source == "known-identifiers" for e in entities)


def test_given_known_chinese_name_then_it_is_found_without_context(redactor: TextRedactor) -> None:
    known = KnownIdentifiers(names=[PersonName("欧阳", ("明华",))], identifiers=["ZY20250314"])
    redacted, _ = redactor.redact("今日欧阳明华复查，明华情况稳定，住院记录ZY20250314。", known=known)
    assert "明华" not in redacted and "ZY20250314" not in redacted


def test_given_text_then_redact_replaces_each_span_with_its_type(redactor: TextRedactor) -> None:
    text = "Call 410-555-1234 on 3/14."
    redacted, entities = redactor.redact(text, lang="en")
    assert redacted == "Call [PHONE] on [DATE]."
    assert [(text[e.start : e.end], e.type) for e in entities] == [("410-555-1234", "PHONE"), ("3/14", "DATE")]


def test_given_script_then_auto_picks_language() -> None:
    assert detect_language("患者张伟于2025年3月14日入院") == "zh"
    assert detect_language("Patient admitted on 3/14.") == "en"
    assert detect_language("12345") == "en"


def test_given_unsupported_language_then_it_fails_closed(redactor: TextRedactor) -> None:
    with pytest.raises(ValueError) as info:
        redactor.analyze("Bonjour Jean", lang="fr")
    assert "Jean" not in str(info.value)


def test_given_empty_text_then_nothing_is_found(redactor: TextRedactor) -> None:
    assert redactor.analyze("") == []
    assert redactor.redact("   ") == ("   ", [])


def test_given_many_threads_then_results_match_serial_results(redactor: TextRedactor) -> None:
    texts = [f"Dr. Kowalski saw pt on {m}/1{m} and called 410-555-12{m}{m}." for m in range(1, 10)]
    serial = [redactor.analyze(t, lang="en") for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda t: redactor.analyze(t, lang="en"), texts))
    assert parallel == serial


def test_given_batch_then_it_equals_one_by_one(redactor: TextRedactor) -> None:
    texts = ["Call 410-555-1234.", "患者王芳，手机13812345678。"]
    assert redactor.analyze_batch(texts) == [redactor.analyze(t) for t in texts]


def test_given_phi_in_text_then_nothing_is_logged_with_it(redactor: TextRedactor, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    redactor.redact("Mr. Zbigniew Oyelaran-Castellano called from 410-555-9876 on 3/14.", lang="en")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in ("Zbigniew", "Oyelaran", "555-9876", "3/14"):
        assert value not in logged


def test_given_known_given_name_that_is_an_everyday_word_then_only_the_name_goes(redactor: TextRedactor) -> None:
    known = KnownIdentifiers(names=[PersonName("Kowalski", ("Will",))], addresses=["12 Elm Road"])
    redacted, _ = redactor.redact("Will Kowalski will be seen; WILL called. Lives on 12 Elm Road; road trip planned.", known=known)
    assert "Kowalski" not in redacted and "Will " not in redacted and "WILL" not in redacted
    assert "will be seen" in redacted and "road trip" in redacted
