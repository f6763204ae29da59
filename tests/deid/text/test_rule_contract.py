"""Every rule of the package honours the same contract: hits inside the text, known types, no crash on odd input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deid.text.chinese_rules import chinese_rules
from deid.text.english_patterns import english_pattern_rule
from deid.text.known_rule import KnownRule
from deid.text.name_rule import NameRule
from deid.text.place_rule import PlaceRule
from deid.text.redactor import TextRedactor
from deid.text.rule import ENTITY_TYPES, Rule
from deid.text.types import KnownIdentifiers, PersonName

RULES: list[Rule] = [
    english_pattern_rule(),
    NameRule(),
    PlaceRule(),
    *chinese_rules(),
    KnownRule(KnownIdentifiers(names=[PersonName("Smith", ("John",))], phones=["4105550101"], dates=["1950-02-03"])),
]
ODD_TEXTS = ["", " ", "\n\n", "a", "Dr.", "Dr", "3/", "/3", "'", "患者", "\x00\ufeff", "x" * 5000, "Smith, " * 50]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
def test_given_odd_text_then_rule_returns_valid_hits(rule: Rule, text: str) -> None:
    for hit in rule.find(text):
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.type in ENTITY_TYPES
        assert 0 < hit.score <= 1


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_given_rule_then_it_has_a_name(rule: Rule) -> None:
    assert rule.name and " " not in rule.name


_redactor = TextRedactor()


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Dr. Smith 3/14 410-555-1234 张伟 患者 MRN 99 yo, St Mary\n")), max_size=120))
def test_given_any_text_then_entities_are_sorted_disjoint_and_redaction_keeps_the_rest(text: str) -> None:
    entities = _redactor.analyze(text)
    for e in entities:
        assert 0 <= e.start < e.end <= len(text)
    for a, b in zip(entities, entities[1:]):
        assert a.end <= b.start
    redacted, again = _redactor.redact(text)
    assert again == entities
    # the text between entities is untouched, each entity became its [TYPE]
    expected, pos = [], 0
    for e in entities:
        expected += [text[pos : e.start], f"[{e.type}]"]
        pos = e.end
    assert redacted == "".join(expected) + text[pos:]
