"""How the synthetic city's patients and stays are distributed, so that demo queries answer real questions.

Plausible shapes, not statistics of any real place (and no real data): a hospital population that skews old,
with births and children too; diagnoses whose likelihood depends on age and season (respiratory infections in
winter, diabetes and heart failure with age); wards chosen by patient class and diagnosis; laboratory values
that move with the diagnosis (glucose and HbA1c in diabetes, creatinine in kidney failure, CRP and leukocytes in
infections). Everything is drawn from the caller's `random.Random`, so a seed gives the same city every time.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

# (lowest age, highest age, weight): a hospital's patients, not the city's residents.
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (1, 17, 6.0), (18, 39, 14.0), (40, 59, 20.0), (60, 74, 27.0), (75, 89, 24.0), (90, 97, 3.0),
)


def draw_age(rng: random.Random) -> int:
    low, high, _ = rng.choices(AGE_BANDS, weights=[w for *_, w in AGE_BANDS])[0]
    return rng.randint(low, high)


# ICD-10-CM code (of catalog.cli.synth.visits.DIAGNOSES) -> (relative weight by age band, winter factor).
# Bands: child (<18), adult (18-59), older (60+).
DIAGNOSIS_PROFILE: dict[str, tuple[tuple[float, float, float], float]] = {
    "G20": ((0.0, 0.2, 1.5), 1.0),      # Parkinson disease
    "E11.9": ((0.1, 2.0, 3.0), 1.0),    # type 2 diabetes
    "I10": ((0.0, 2.5, 3.0), 1.0),      # hypertension
    "E24.9": ((0.1, 0.3, 0.2), 1.0),    # Cushing syndrome (rare)
    "N39.0": ((1.0, 1.5, 2.0), 1.0),    # urinary tract infection
    "J18.9": ((2.0, 1.0, 2.5), 2.2),    # pneumonia: winter
    "I48.91": ((0.0, 0.5, 2.5), 1.0),   # atrial fibrillation
    "J44.1": ((0.0, 0.6, 2.0), 1.8),    # COPD exacerbation: winter
    "I50.9": ((0.0, 0.4, 2.5), 1.3),    # heart failure
    "N17.9": ((0.1, 0.5, 1.5), 1.0),    # acute kidney failure
    "J06.9": ((4.0, 1.5, 0.6), 2.5),    # upper respiratory infection: winter, children
    "O80": ((0.0, 2.0, 0.0), 1.0),      # delivery (only women of child-bearing age, see below)
    "S72.009A": ((0.1, 0.3, 1.8), 1.2),  # hip fracture: older, icy months
    "K35.80": ((1.5, 1.2, 0.3), 1.0),   # appendicitis
}


def winter_factor(day: date) -> float:
    """1 in midsummer, up to 2 in midwinter (northern hemisphere), smooth over the year."""
    return 1.5 + 0.5 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365.25)


def draw_diagnosis(rng: random.Random, codes: list[str], *, age: int, sex: str, day: date) -> str:
    band = 0 if age < 18 else 1 if age < 60 else 2
    season = winter_factor(day) - 1.0  # 0.0 (summer) .. 1.0 (winter)
    weights = []
    for code in codes:
        by_age, winter = DIAGNOSIS_PROFILE.get(code, ((1.0, 1.0, 1.0), 1.0))
        w = by_age[band] * (1 + (winter - 1) * season)
        if code == "O80" and not (sex == "F" and 16 <= age <= 45):
            w = 0.0
        weights.append(w)
    if not any(weights):
        return rng.choice(codes)
    return rng.choices(codes, weights=weights)[0]


def draw_visit_day(rng: random.Random, first: date, days: int) -> date:
    """A day in [first, first + days), more likely in winter (admissions rise in the cold months)."""
    while True:
        day = first + timedelta(days=rng.randrange(days))
        if rng.random() * 2.0 <= winter_factor(day):
            return day


def draw_patient_class(rng: random.Random, code: str) -> str:
    """I inpatient, O outpatient, E emergency, by diagnosis."""
    if code in ("O80", "S72.009A", "K35.80"):
        return "I"
    if code in ("I10", "E11.9", "E24.9", "G20"):
        return rng.choices("IOE", weights=(3, 6, 1))[0]
    return rng.choices("IOE", weights=(5, 1, 4))[0]


def draw_unit(rng: random.Random, units: tuple[str, ...], *, patient_class: str, code: str, age: int) -> str:
    """Units are (medical, surgical, intensive, emergency, ...more medical wards); by class, diagnosis and age."""
    medical, surgical, intensive, emergency = units[:4]
    if len(units) > 4 and age >= 65 and rng.random() < 0.5:
        medical = units[4]  # the care-of-the-elderly ward, where the hospital has one
    if patient_class == "E":
        return emergency if rng.random() < 0.8 else medical
    if code in ("S72.009A", "K35.80", "O80"):
        return surgical
    if code in ("I50.9", "I48.91", "N17.9", "J18.9") and rng.random() < 0.18:
        return intensive
    return medical if rng.random() < 0.85 else surgical


# LOINC code -> diagnosis -> multiplier applied to the value drawn around the reference range.
LAB_EFFECTS: dict[str, dict[str, float]] = {
    "2345-7": {"E11.9": 1.9, "E24.9": 1.4},             # glucose
    "4548-4": {"E11.9": 1.5},                           # HbA1c
    "2160-0": {"N17.9": 3.0, "I50.9": 1.4},             # creatinine
    "3094-0": {"N17.9": 2.4, "I50.9": 1.5},             # urea nitrogen
    "1988-5": {"J18.9": 6.0, "N39.0": 4.0, "J44.1": 3.0, "K35.80": 5.0, "J06.9": 2.0},  # CRP
    "6690-2": {"J18.9": 1.5, "N39.0": 1.3, "K35.80": 1.6},  # leukocytes
    "6301-6": {"I48.91": 2.2},                          # INR (anticoagulated)
    "2823-3": {"N17.9": 1.2},                           # potassium
}


def lab_value(rng: random.Random, *, loinc: str, low: float, high: float, code: str, age: int) -> float:
    """A value around the reference range, shifted by the diagnosis and a little by age."""
    span = high - low
    centre = low + span * rng.gauss(0.5, 0.22)
    factor = LAB_EFFECTS.get(loinc, {}).get(code, 1.0)
    if factor != 1.0:
        centre *= factor * rng.uniform(0.8, 1.2)
    if loinc == "2160-0" and age >= 75:
        centre *= 1.15
    return max(centre, 0.1 if span < 10 else 1.0)
