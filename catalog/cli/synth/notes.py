"""Free-text clinical notes for the synthetic feeds.

Notes carry identifiers the way real ones do (name variants, MRN, phone, street address, dates,
a relative's name) mixed with clinical content that de-identification must leave alone: eponyms,
drug names, doses and units. The text never contains HL7 delimiter characters (| ^ ~ \\ &), so it
can be placed in an OBX/NTE field without escaping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from catalog.cli.synth.people import Person, phone_variants

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)

# Clinical sentences: no identifiers, no HL7 delimiters. Eponyms and drugs must survive de-id.
CLINICAL: tuple[str, ...] = (
    "Known Parkinson disease, tremor stable on carbidopa-levodopa 25/100 mg three times daily.",
    "Urinary retention overnight; Foley catheter placed with 650 mL clear output.",
    "Started heparin 5000 units subcutaneously every 8 hours for DVT prophylaxis.",
    "Type 2 diabetes, HbA1c 8.4 %; continue metformin 1000 mg twice daily with meals.",
    "Screening for Cushing syndrome: late-night salivary cortisol within normal limits.",
    "Blood pressure 148/92 mmHg, heart rate 88 bpm, SpO2 96 % on room air.",
    "Chest X-ray shows right lower lobe consolidation; started ceftriaxone 1 g IV daily.",
    "Atrial fibrillation with controlled rate; apixaban 5 mg twice daily continued.",
    "Creatinine 1.4 mg/dL, up from 1.1 mg/dL; holding lisinopril and encouraging oral fluids.",
    "Hashimoto thyroiditis on levothyroxine 75 mcg daily, TSH 2.1 mIU/L.",
    "COPD exacerbation improving, albuterol nebulizer every 4 hours as needed.",
    "Heart failure with reduced ejection fraction, furosemide 40 mg IV given, weight down 1.2 kg.",
    "Glasgow Coma Scale 15, no focal deficits; Babinski sign absent bilaterally.",
    "Wound on left heel, 2 cm by 3 cm, dressing changed, no signs of infection.",
    "Potassium 3.2 mmol/L, replaced with potassium chloride 40 mEq orally.",
    "Pain controlled with acetaminophen 1 g every 6 hours; no opioids required.",
    "Alzheimer disease, moderate; oriented to person only, sitter at night.",
    "Crohn disease in remission on infliximab every 8 weeks.",
    "Hodgkin lymphoma in remission since chemotherapy, follow-up with oncology.",
    "Insulin glargine 18 units at bedtime, fingerstick glucose 142 mg/dL this morning.",
)
PLANS: tuple[str, ...] = (
    "Plan: repeat basic metabolic panel in the morning.",
    "Plan: physical therapy evaluation and fall precautions.",
    "Plan: discharge home when tolerating oral diet.",
    "Plan: follow up in clinic in 2 weeks.",
    "Plan: continue current medications, recheck labs in 3 months.",
    "Plan: cardiology consult requested.",
)
LAB_COMMENTS_CLEAN: tuple[str, ...] = (
    "Specimen slightly hemolyzed.",
    "Result verified by repeat analysis.",
    "Fasting sample.",
    "Non-fasting sample.",
)


def ordinal(day: int) -> str:
    if 10 <= day % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def date_variants(when: date) -> tuple[str, str, str]:
    """``3/14``, ``March 14th``, ``2025-03-14``: the ways notes write a date."""
    return (
        f"{when.month}/{when.day}",
        f"{MONTHS[when.month - 1]} {ordinal(when.day)}",
        when.isoformat(),
    )


@dataclass(frozen=True)
class NoteContext:
    person: Person
    mrn: str
    visit_date: date
    next_date: date


def _name_variant(rng: random.Random, person: Person) -> str:
    title = "Mr." if person.sex == "M" else "Ms."
    return rng.choice(
        (
            f"{title} {person.given} {person.family}",
            f"{person.family.upper()}, {person.given.upper()}",
            f"{person.given[0]}. {person.family}",
            f"{person.given} {person.middle_initial}. {person.family}",
            f"{title} {person.family}",
        )
    )


def note_sentences(rng: random.Random, ctx: NoteContext) -> list[str]:
    """A progress note as a list of sentences (HL7 writers put one per OBX or per FT line)."""
    person = ctx.person
    rel = person.relative
    slash, long_, iso = date_variants(ctx.visit_date)
    phone = rng.choice(phone_variants(person.phone))
    seen_on = rng.choice((slash, long_, iso))
    opening = rng.choice(
        (
            f"{_name_variant(rng, person)} (MRN {ctx.mrn}) seen on {seen_on} for follow-up.",
            f"Patient {_name_variant(rng, person)}, MRN {ctx.mrn}, admitted {seen_on}.",
            f"{_name_variant(rng, person)} is a {person.age} year old "
            f"{'man' if person.sex == 'M' else 'woman'} seen {seen_on}, MRN {ctx.mrn}.",
        )
    )
    social = rng.choice(
        (
            f"Lives at {person.street}, {person.city} with {rel.note_word} {rel.full_name}.",
            f"{rel.note_word.capitalize()} {rel.full_name} at bedside, reachable at "
            f"{rng.choice(phone_variants(rel.phone))}.",
            f"Lives alone at {person.street}; {rel.note_word} {rel.given} visits daily.",
        )
    )
    contact = rng.choice(
        (
            f"Patient can be reached at {phone}.",
            f"Call {person.given[0]}. {person.family} at {phone} with results.",
            f"Discussed with patient by phone ({phone}).",
        )
    )
    clinical = rng.sample(CLINICAL, k=rng.randint(2, 3))
    follow = rng.choice(
        (
            f"Return visit {rng.choice(date_variants(ctx.next_date))}.",
            f"Next appointment on {date_variants(ctx.next_date)[1]}.",
            f"Recheck on {date_variants(ctx.next_date)[0]}.",
        )
    )
    sentences = [opening, clinical[0], social, *clinical[1:], contact, rng.choice(PLANS), follow]
    return sentences


def lab_comment(rng: random.Random, ctx: NoteContext) -> str:
    """A short lab comment: mostly empty, sometimes clean, occasionally carrying an identifier."""
    roll = rng.random()
    if roll < 0.6:
        return ""
    if roll < 0.8:
        return rng.choice(LAB_COMMENTS_CLEAN)
    person = ctx.person
    return rng.choice(
        (
            f"Critical value called to {person.given} {person.family} at "
            f"{rng.choice(phone_variants(person.phone))}.",
            f"Recollect requested, MRN {ctx.mrn} label mismatch.",
            f"{person.family.upper()}, {person.given.upper()} hemolyzed sample, redraw "
            f"{date_variants(ctx.next_date)[0]}.",
        )
    )
