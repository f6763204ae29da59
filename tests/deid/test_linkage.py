"""City-wide linkage: the same person in HL7, FHIR and CSV at different hospitals gets one pseudonym
and one date shift; different people do not."""

from __future__ import annotations

from datetime import date

from deid import hl7
from deid.engine import Deidentifier
from deid.identity import PatientIdentity, split_written_name
from deid.keys import Keyring

HL7 = "MSH|^~\\&|A|H1|B|C|20240314||ADT^A04|1|P|2.5\rPID|1||M1^^^H1^MR||SMITH^JOHN^Q||19800101|M\rPV1|1|O|||||||||||||||||V1|||||||||||||||||||||||||20240314"
FHIR = {"resourceType": "Patient", "id": "p9", "name": [{"family": "Smith", "given": ["John"]}], "gender": "male",
        "birthDate": "1980-01-01"}  # fmt: skip
CSV = {"mrn": "X-7", "patient_name": "John Smith", "birth_date": "01/01/1980", "sex": "male", "phone": "", "address": "",
       "zip": "", "specimen_id": "S1", "collected_at": "2024-03-14", "test_code": "t", "test_name": "t", "value": "1",
       "unit": "u", "reference_range": "", "flag": "", "comment": ""}  # fmt: skip


def test_given_same_person_in_three_formats_at_three_hospitals_then_one_pseudonym(engine: Deidentifier) -> None:
    a = engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")
    b = engine.deidentify(FHIR, format="fhir", profile="fhir-safe-harbor", hospital="h2")
    c = engine.deidentify(CSV, format="csv", profile="csv-lab-safe-harbor", hospital="h3")
    assert a.ok and b.ok and c.ok
    assert a.patient is not None and a.patient == b.patient == c.patient
    assert c.payload["patient_pseudonym"] == a.patient  # type: ignore[index]


def test_given_same_person_then_same_date_shift_in_every_format(engine: Deidentifier) -> None:
    a = engine.deidentify(HL7, format="hl7v2", profile="hl7v2-safe-harbor", hospital="h1")
    c = engine.deidentify(CSV, format="csv", profile="csv-lab-safe-harbor", hospital="h3")
    shifted_hl7 = hl7.parse(a.payload).value("PV1-44")  # type: ignore[arg-type]
    assert c.payload["collected_at"] == f"{shifted_hl7[:4]}-{shifted_hl7[4:6]}-{shifted_hl7[6:8]}"  # type: ignore[index]


def test_given_written_name_variants_then_same_linkage_key() -> None:
    variants = ["SMITH, JOHN", "John Smith", "smith^john", "Smith,  John Q.", "Mr John Smith"]
    keys = {PatientIdentity(family=f, given=g, birth_date="1980-01-01", sex="M").linkage_key() for f, g in map(split_written_name, variants)}
    assert len(keys) == 1
    accented = PatientIdentity(family="Müller-Lüdenscheidt", given="José", birth_date="19800101", sex="M")
    plain = PatientIdentity(family="MULLER LUDENSCHEIDT", given="jose", birth_date="1980-01-01", sex="male")
    assert accented.linkage_key() == plain.linkage_key()


def test_given_national_id_then_it_wins_over_demographics() -> None:
    a = PatientIdentity(national_id="123-45-6789", family="Smith", given="John", birth_date="1980-01-01", sex="M")
    b = PatientIdentity(national_id="123456789", family="Smyth", given="Jon", birth_date="1980-01-02", sex="M")
    assert a.linkage_key() == b.linkage_key()


def test_given_different_people_then_different_pseudonyms(keyring: Keyring) -> None:
    a = PatientIdentity(family="Smith", given="John", birth_date="1980-01-01", sex="M").pseudonym(keyring)
    b = PatientIdentity(family="Smith", given="John", birth_date="1980-01-02", sex="M").pseudonym(keyring)
    assert a and b and a != b


def test_given_too_little_identity_then_no_linkage_pseudonym() -> None:
    assert PatientIdentity(family="Smith", birth_date="1980-01-01").linkage_key() is None


def test_given_key_rotation_then_pseudonym_carries_new_key_id_and_changes() -> None:
    old = Keyring({"k0": "a" * 32, "k1": "b" * 32}, current="k0")
    new = Keyring({"k0": "a" * 32, "k1": "b" * 32}, current="k1")
    ident = PatientIdentity(family="Smith", given="John", birth_date="1980-01-01", sex="M")
    p_old, p_new = ident.pseudonym(old), ident.pseudonym(new)
    assert p_old and p_new and p_old.startswith("k0-") and p_new.startswith("k1-") and p_old[3:] != p_new[3:]


def test_date_shift_is_in_range_and_depends_on_patient(keyring: Keyring) -> None:
    shifts = {keyring.date_shift_days(f"k1-P{i}") for i in range(200)}
    assert all(-365 <= s <= -1 for s in shifts) and len(shifts) > 100
    assert keyring.date_shift_days("k1-P1") == keyring.date_shift_days("k1-P1")
    assert date(2024, 1, 1)  # shifts are whole days; see test_hl7_rules for interval preservation
