"""The synthetic city answers questions: two winters of stays, an old-leaning population, wards by class and
diagnosis, lab values that move with the diagnosis, and free text kept to a fixed number of stays."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from catalog.cli.synth.feeds import DOCUMENTED_STAYS, _make_visits, generate
from catalog.cli.synth.people import make_people


@pytest.fixture(scope="module")
def stays() -> list:
    rng = random.Random(5)
    people = make_people(rng, 900)
    return [v for vs in _make_visits(rng, people, DOCUMENTED_STAYS).values() for v in vs]


def test_given_the_demo_city_then_stays_cover_two_years_with_more_in_winter(stays: list) -> None:
    days = [v.admitted.date() for v in stays]
    assert (max(days) - min(days)).days >= 700
    by_month = Counter(d.month for d in days)
    assert by_month[1] + by_month[2] + by_month[12] > 1.3 * (by_month[6] + by_month[7] + by_month[8])


def test_given_the_demo_city_then_ages_lean_old_but_span_children_to_the_very_old(stays: list) -> None:
    ages = [v.admitted.year - v.person.birth_date.year for v in stays]
    assert min(ages) <= 17 and max(ages) >= 90
    assert 50 <= statistics.median(ages) <= 75
    sexes = Counter(v.person.sex for v in stays)
    assert 0.4 < sexes["F"] / len(stays) < 0.6


def test_given_diagnoses_then_they_follow_age_and_sex(stays: list) -> None:
    deliveries = [v for v in stays if v.diagnosis[0] == "O80"]
    assert deliveries and all(v.person.sex == "F" for v in deliveries)
    old = Counter(v.diagnosis[0] for v in stays if v.admitted.year - v.person.birth_date.year >= 75)
    young = Counter(v.diagnosis[0] for v in stays if v.admitted.year - v.person.birth_date.year < 18)
    assert old["I50.9"] > young["I50.9"] and young["J06.9"] > 0
    assert len({v.diagnosis[0] for v in stays}) >= 12


def test_given_wards_then_each_hospital_uses_several_by_class(stays: list) -> None:
    wards = Counter((v.hospital.code, v.unit) for v in stays)
    assert len(wards) >= 12
    emergency = [v for v in stays if v.patient_class == "E"]
    assert sum(v.unit == v.hospital.units[3] for v in emergency) > 0.6 * len(emergency)


def test_given_lab_values_then_they_move_with_the_diagnosis(stays: list) -> None:
    def glucose(code_in: bool) -> list[float]:
        return [float(r.value) for v in stays for r in v.results
                if r.test.loinc == "2345-7" and (v.diagnosis[0] == "E11.9") == code_in]
    assert statistics.mean(glucose(True)) > 1.3 * statistics.mean(glucose(False))


def test_given_a_large_city_then_free_text_stays_are_capped_and_spread(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=2, patients=400, documented_stays=10)
    for feeds in manifest.hospitals.values():
        assert feeds["oru"].messages == feeds["fhir"].messages <= 10
        assert feeds["adt"].messages > 10 * feeds["oru"].messages
    with pytest.raises(ValueError):
        generate(tmp_path / "x", patients=10, documented_stays=0)
    assert date(2023, 7, 1) < date(2025, 7, 31)
