"""Hospitals, visits and lab results of the synthetic city: what each feed writer renders."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from catalog.cli.synth.notes import NoteContext, lab_comment, note_sentences
from catalog.cli.synth.people import Person
from catalog.cli.synth.population import draw_diagnosis, draw_patient_class, draw_unit, lab_value


@dataclass(frozen=True)
class Hospital:
    code: str  # "st-luke"
    facility: str  # MSH-4 / assigning facility
    application: str  # MSH-3 sending application
    authority: str  # PID-3.4 assigning authority of the MRN
    mrn_digits: int
    upper_names: bool  # HL7 names written "SMITH^JOHN" rather than "Smith^John"
    middle_initial: bool  # HL7/FHIR carry the middle initial
    fhir_system: str  # Patient.identifier.system
    units: tuple[str, ...]  # nursing units for PV1-3: medical, surgical, intensive, emergency, elderly care


HOSPITALS: tuple[Hospital, ...] = (
    Hospital("st-luke", "STLUKE", "EPIC", "STLUKE", 7, True, True,
             "urn:oid:2.16.840.1.113883.3.9001.1", ("4W", "5E", "ICU", "ED", "6N")),
    Hospital("riverside", "RIVERSIDE", "CERNER", "RVH", 8, False, False,
             "https://riverside.example.org/fhir/mrn", ("MED2", "SURG3", "CCU", "ER", "GERI1")),
    Hospital("north-general", "NORTHGEN", "MEDITECH", "NGH", 7, True, False,
             "urn:oid:2.16.840.1.113883.3.9002.7", ("N3", "N4", "ICU-N", "EMER", "N5")),
)

DOCTORS: tuple[tuple[str, str, str], ...] = (
    # (id, family, given) -- clinicians; not patient identifiers
    ("4521", "Okoye", "Adaeze"), ("3307", "Brandt", "Matthias"), ("6120", "Varga", "Eszter"),
    ("2298", "Lindgren", "Sofia"), ("7734", "Mahmoud", "Karim"), ("5016", "Tanaka", "Yuki"),
    ("8841", "Feldman", "Ruth"), ("1953", "Osei", "Kofi"), ("6672", "Duarte", "Camila"),
)

DIAGNOSES: tuple[tuple[str, str, str, str], ...] = (
    # (ICD-10-CM, text, SNOMED CT, admit reason)
    ("G20", "Parkinson disease", "49049000", "Falls at home"),
    ("E11.9", "Type 2 diabetes mellitus without complications", "44054006", "Hyperglycemia"),
    ("I10", "Essential (primary) hypertension", "59621000", "Elevated blood pressure"),
    ("E24.9", "Cushing syndrome, unspecified", "47270006", "Weight gain and weakness"),
    ("N39.0", "Urinary tract infection, site not specified", "68566005", "Dysuria and fever"),
    ("J18.9", "Pneumonia, unspecified organism", "233604007", "Cough and fever"),
    ("I48.91", "Unspecified atrial fibrillation", "49436004", "Palpitations"),
    ("J44.1", "Chronic obstructive pulmonary disease with exacerbation", "195951007", "Shortness of breath"),
    ("I50.9", "Heart failure, unspecified", "84114007", "Leg swelling"),
    ("N17.9", "Acute kidney failure, unspecified", "14669001", "Decreased urine output"),
    ("J06.9", "Acute upper respiratory infection, unspecified", "54150009", "Sore throat and fever"),
    ("O80", "Encounter for full-term uncomplicated delivery", "48782003", "Onset of labor"),
    ("S72.009A", "Fracture of neck of femur, initial encounter", "5913000", "Hip pain after a fall"),
    ("K35.80", "Unspecified acute appendicitis", "85189001", "Abdominal pain"),
)


@dataclass(frozen=True)
class LabTest:
    loinc: str
    name: str
    unit: str  # UCUM
    low: float
    high: float
    decimals: int


LAB_TESTS: tuple[LabTest, ...] = (
    LabTest("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99, 0),
    LabTest("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, 2),
    LabTest("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 136, 145, 0),
    LabTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, 1),
    LabTest("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, 1),
    LabTest("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0, 1),
    LabTest("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400, 0),
    LabTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, 1),
    LabTest("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7, 20, 0),
    LabTest("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L", 7, 56, 0),
    LabTest("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 100, 199, 0),
    LabTest("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 0, 10, 1),
    LabTest("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 0.8, 1.2, 1),
)

VITALS: tuple[LabTest, ...] = (
    LabTest("8480-6", "Systolic blood pressure", "mm[Hg]", 90, 140, 0),
    LabTest("8462-4", "Diastolic blood pressure", "mm[Hg]", 60, 90, 0),
    LabTest("8867-4", "Heart rate", "/min", 60, 100, 0),
    LabTest("29463-7", "Body weight", "kg", 50, 110, 1),
    LabTest("8310-5", "Body temperature", "Cel", 36.1, 37.8, 1),
)


@dataclass(frozen=True)
class Result:
    test: LabTest
    value: str
    flag: str  # "H" | "L" | "N"
    comment: str

    @property
    def reference_range(self) -> str:
        return f"{_fmt(self.test.low, self.test.decimals)}-{_fmt(self.test.high, self.test.decimals)}"


@dataclass(frozen=True)
class Visit:
    hospital: Hospital
    person: Person
    mrn: str
    account: str
    visit_number: str
    specimen_id: str
    patient_class: str  # I | O | E
    unit: str
    room: str
    doctor: tuple[str, str, str]
    diagnosis: tuple[str, str, str, str]
    admitted: datetime
    collected: datetime
    results: tuple[Result, ...]
    vitals: tuple[Result, ...]
    note: tuple[str, ...]
    updated: bool  # an ADT^A08 update follows the admission/registration
    uuid_seed: int  # seeds the urn:uuid identifiers of this visit's FHIR bundle
    documented: bool = True  # has a lab report with notes (ORU) and a FHIR bundle; see synth.feeds


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _result(rng: random.Random, test: LabTest, comment: str, *, code: str = "", age: int = 50) -> Result:
    value = lab_value(rng, loinc=test.loinc, low=test.low, high=test.high, code=code, age=age)
    text = _fmt(value, test.decimals)
    number = float(text)
    flag = "H" if number > test.high else "L" if number < test.low else "N"
    return Result(test, text, flag, comment)


def make_visit(
    rng: random.Random,
    hospital: Hospital,
    person: Person,
    *,
    mrn: str,
    serial: int,
    start: date,
    free_text: bool = True,
) -> Visit:
    """One stay; `free_text=False` leaves the note and lab comments empty (most stays of a large demo)."""
    admitted = datetime(start.year, start.month, start.day, rng.randint(0, 23), rng.randint(0, 59))
    collected = admitted + timedelta(minutes=rng.randint(20, 600))
    ctx = NoteContext(
        person=person,
        mrn=mrn,
        visit_date=admitted.date(),
        next_date=admitted.date() + timedelta(days=rng.choice((7, 14, 21, 30, 90))),
    )
    age = _age(person.birth_date, admitted.date())
    code = draw_diagnosis(rng, [d[0] for d in DIAGNOSES], age=age, sex=person.sex, day=admitted.date())
    diagnosis = next(d for d in DIAGNOSES if d[0] == code)
    patient_class = draw_patient_class(rng, code)
    tests = rng.sample(LAB_TESTS, k=rng.randint(2, 4))
    results = tuple(_result(rng, t, lab_comment(rng, ctx) if free_text else "", code=code, age=age) for t in tests)
    vitals = tuple(_result(rng, t, "", code=code, age=age) for t in rng.sample(VITALS, k=rng.randint(2, 4)))
    unit = draw_unit(rng, hospital.units, patient_class=patient_class, code=code, age=age)
    return Visit(
        hospital=hospital,
        person=person,
        mrn=mrn,
        account=f"A{rng.randint(10**8, 10**9 - 1)}",
        visit_number=f"V{hospital.facility[:2]}{serial:06d}",
        specimen_id=f"SP{rng.randint(10**7, 10**8 - 1)}",
        patient_class=patient_class,
        unit=unit,
        room=f"{rng.randint(100, 499)}",
        doctor=rng.choice(DOCTORS),
        diagnosis=diagnosis,
        admitted=admitted,
        collected=collected,
        results=results,
        vitals=vitals,
        note=tuple(note_sentences(rng, ctx)) if free_text else (),
        updated=rng.random() < 0.5,
        uuid_seed=rng.getrandbits(64),
        documented=free_text,
    )
