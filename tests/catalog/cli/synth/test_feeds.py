"""Synthetic hospital feeds: determinism, shapes, shared patients, identifiers in notes."""

from __future__ import annotations

import base64
import csv
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from catalog.cli.synth.feeds import FEEDS, LAB_HEADER, SynthManifest, generate
from catalog.cli.synth.notes import CLINICAL, LAB_COMMENTS_CLEAN, PLANS
from catalog.cli.synth.people import REFERENCE_DATE
from catalog.cli.synth.visits import DIAGNOSES, DOCTORS, HOSPITALS, LAB_TESTS, VITALS

SPARSE_PREFIXES = {"036", "059", "102", "203", "556", "692", "790", "821", "823", "830", "831",
                   "878", "879", "884", "890", "893"}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=7, patients=60)
    return out


@pytest.fixture(scope="module")
def manifest(synth_dir: Path) -> SynthManifest:
    return SynthManifest.load(synth_dir)


def _hl7_messages(path: Path) -> list[list[str]]:
    messages: list[list[str]] = []
    for line in re.split(r"\r\n|\r|\n", path.read_text(encoding="utf-8")):
        if not line:
            continue
        if line.startswith("MSH|"):
            messages.append([])
        messages[-1].append(line)
    return messages


def _field(segment: str, index: int) -> str:
    fields = segment.split("|")
    return fields[index] if index < len(fields) else ""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_given_same_seed_then_files_are_byte_identical(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=11, patients=20)
    generate(tmp_path / "b", seed=11, patients=20)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) == 13  # 3 hospitals x 4 feeds + manifest.json
    assert first == second


def test_given_different_seed_then_feeds_differ(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=1, patients=20)
    generate(tmp_path / "b", seed=2, patients=20)
    assert (tmp_path / "a/st-luke/adt.hl7").read_bytes() != (tmp_path / "b/st-luke/adt.hl7").read_bytes()


def test_manifest_lists_every_feed_with_format_and_true_message_count(
    synth_dir: Path, manifest: SynthManifest
) -> None:
    raw = json.loads((synth_dir / "manifest.json").read_text(encoding="utf-8"))
    assert set(raw) == {"seed", "hospitals", "patients", "shared_patients", "identifiers"}
    assert raw["seed"] == 7 and raw["patients"] == 60
    assert set(raw["hospitals"]) == {"st-luke", "riverside", "north-general"}
    for hospital, feed, info, path in manifest.feeds():
        assert info.file == f"{hospital}/{FEEDS[feed][0]}"
        assert info.format == {"adt": "hl7v2", "oru": "hl7v2", "fhir": "fhir", "lab": "csv"}[feed]
        if info.format == "hl7v2":
            count = len(_hl7_messages(path))
        elif info.format == "fhir":
            count = len(path.read_text(encoding="utf-8").splitlines())
        else:
            count = len(path.read_text(encoding="utf-8").splitlines()) - 1
        assert count == info.messages > 0, (hospital, feed)
    assert SynthManifest.from_json(raw, synth_dir) == manifest
    assert dict(manifest.identifiers.items()) == raw["identifiers"]


def test_adt_messages_have_the_segments_of_a_real_admission(manifest: SynthManifest) -> None:
    events: set[str] = set()
    saw_z = saw_ssn = False
    for hospital in manifest.hospitals:
        path = manifest.feed_path(hospital, "adt")
        assert b"\r" in path.read_bytes()
        for message in _hl7_messages(path):
            names = [s[:3] for s in message]
            assert names[:9] == ["MSH", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "GT1", "IN1"]
            assert "DG1" in names
            msh = message[0]
            assert _field(msh, 11) == "2.5"
            events.add(_field(msh, 8).split("^")[1])
            pid = message[2]
            assert _field(pid, 3).split("^")[3] == next(
                h.authority for h in HOSPITALS if h.code == hospital
            )
            assert re.fullmatch(r"\d{8}", _field(pid, 7))
            assert _field(pid, 8) in {"M", "F"}
            assert _field(pid, 18)
            saw_ssn = saw_ssn or bool(_field(pid, 19))
            saw_z = saw_z or any(n.startswith("Z") for n in names)
            pv1 = message[5]
            assert _field(pv1, 2) in {"I", "O", "E"} and _field(pv1, 19) and _field(pv1, 44)
    assert events == {"A01", "A04", "A08"}
    assert saw_ssn and saw_z


def test_oru_messages_carry_numeric_results_and_free_text_notes(manifest: SynthManifest) -> None:
    kinds: set[str] = set()
    for hospital in manifest.hospitals:
        for message in _hl7_messages(manifest.feed_path(hospital, "oru")):
            names = [s[:3] for s in message]
            assert names[:6] == ["MSH", "PID", "NK1", "PV1", "ORC", "OBR"]
            assert "NTE" in names
            obx = [s for s in message if s.startswith("OBX|")]
            numeric = [s for s in obx if _field(s, 2) == "NM"]
            assert len(numeric) >= 3
            for s in numeric:
                assert _field(s, 3).endswith("^LN") and float(_field(s, 5)) >= 0
                assert _field(s, 6) and re.fullmatch(r"[\d.]+-[\d.]+", _field(s, 7))
            kinds.update(_field(s, 2) for s in obx if _field(s, 2) in {"TX", "FT"})
    assert kinds == {"TX", "FT"}


def _oru_note(message: list[str]) -> str:
    parts = [_field(s, 5) for s in message if s.startswith("OBX|") and _field(s, 2) in {"TX", "FT"}]
    return " ".join(parts).replace("\\.br\\", " ")


def test_notes_carry_identifiers_of_the_patient_like_real_notes(manifest: SynthManifest) -> None:
    notes = 0
    with_phone = with_relative = with_street = 0
    variants = {"title": 0, "upper": 0, "initial": 0}
    for hospital in manifest.hospitals:
        for message in _hl7_messages(manifest.feed_path(hospital, "oru")):
            pid, nk1 = message[1], message[2]
            mrn = _field(pid, 3).split("^")[0]
            family = _field(pid, 5).split("^")[0]
            note = _oru_note(message)
            notes += 1
            assert f"MRN {mrn}" in note
            assert family.lower() in note.lower()
            digits = re.sub(r"\D", "", _field(pid, 13))
            with_phone += digits in re.sub(r"\D", "", note)
            relative_given = _field(nk1, 2).split("^")[1]
            with_relative += relative_given.lower() in note.lower()
            with_street += _field(pid, 11).split("^")[0] in note
            variants["title"] += bool(re.search(r"\b(Mr|Ms)\. ", note))
            variants["upper"] += bool(re.search(r"[A-Z'-]{3,}, [A-Z]{3,}", note))
            variants["initial"] += bool(re.search(r"\b[A-Z]\. [A-Z][a-z]", note))
            assert re.search(r"\d{1,2}/\d{1,2}|[A-Z][a-z]+ \d{1,2}(st|nd|rd|th)|\d{4}-\d\d-\d\d", note)
    assert notes > 50
    assert with_phone == notes
    assert with_relative > notes / 2 and with_street > notes / 5
    assert all(count > 0 for count in variants.values()), variants


def test_notes_keep_clinical_eponyms_drugs_and_units(manifest: SynthManifest) -> None:
    text = " ".join(
        _oru_note(m) for h in manifest.hospitals for m in _hl7_messages(manifest.feed_path(h, "oru"))
    )
    for term in ("Parkinson disease", "Foley catheter", "Cushing syndrome", "metformin", "heparin",
                 "mg/dL"):
        assert term in text, term


def test_fhir_lines_are_bundles_with_resolvable_urn_uuid_references(manifest: SynthManifest) -> None:
    types: set[str] = set()
    for hospital in manifest.hospitals:
        for line in manifest.feed_path(hospital, "fhir").read_text(encoding="utf-8").splitlines():
            bundle = json.loads(line)
            assert bundle["resourceType"] == "Bundle" and bundle["type"] in {"collection", "transaction"}
            types.add(bundle["type"])
            urls = {e["fullUrl"] for e in bundle["entry"]}
            assert all(u.startswith("urn:uuid:") for u in urls)
            kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
            assert {"Patient", "Encounter", "Observation", "Condition", "DocumentReference"} <= set(kinds)
            refs = re.findall(r'"reference":"([^"]+)"', line)
            assert refs and all(r in urls for r in refs)
            patient = bundle["entry"][0]["resource"]
            mrn = patient["identifier"][0]["value"]
            assert patient["name"][0]["family"] and patient["birthDate"] and patient["telecom"]
            assert patient["address"][0]["line"] and patient["gender"] in {"male", "female"}
            observations = [e["resource"] for e in bundle["entry"]
                            if e["resource"]["resourceType"] == "Observation"]
            assert all("value" in o["valueQuantity"] and o["valueQuantity"]["unit"] for o in observations)
            document = next(e["resource"] for e in bundle["entry"]
                            if e["resource"]["resourceType"] == "DocumentReference")
            note = base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")
            assert f"MRN {mrn}" in note
    assert types == {"collection", "transaction"}


def test_lab_csv_has_exact_header_and_typed_columns(manifest: SynthManifest) -> None:
    comments_with_ids = 0
    for hospital in manifest.hospitals:
        with manifest.feed_path(hospital, "lab").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == LAB_HEADER
        assert ",".join(rows[0]) == ("mrn,patient_name,birth_date,sex,phone,address,zip,specimen_id,"
                                     "collected_at,test_code,test_name,value,unit,reference_range,flag,"
                                     "comment")
        for row in rows[1:]:
            record = dict(zip(LAB_HEADER, row, strict=True))
            date.fromisoformat(record["birth_date"])
            assert record["sex"] in {"M", "F"}
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["collected_at"])
            assert re.fullmatch(r"\d{5}", record["zip"])
            float(record["value"])
            comments_with_ids += record["mrn"] in record["comment"] or any(
                d and d in re.sub(r"\D", "", record["comment"]) for d in [re.sub(r"\D", "", record["phone"])]
            ) or record["patient_name"].split(",")[0].split(" ")[-1].lower() in record["comment"].lower()
    assert comments_with_ids > 0


def _pid_people(manifest: SynthManifest) -> dict[tuple[str, str, str, str], dict[str, set[str]]]:
    """(family, given, birth date, sex) normalised -> hospital -> MRNs, from the ADT feeds."""
    people: dict[tuple[str, str, str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for hospital in manifest.hospitals:
        for message in _hl7_messages(manifest.feed_path(hospital, "adt")):
            pid = message[2]
            family, given = _field(pid, 5).split("^")[:2]
            key = (family.casefold(), given.casefold(), _field(pid, 7), _field(pid, 8))
            people[key][hospital].add(_field(pid, 3).split("^")[0])
    return people


def test_given_shared_patients_then_same_person_has_a_different_mrn_per_hospital(
    manifest: SynthManifest,
) -> None:
    people = _pid_people(manifest)
    assert len(people) == manifest.patients
    shared = {k: v for k, v in people.items() if len(v) > 1}
    assert len(shared) == manifest.shared_patients
    assert manifest.patients * 0.2 <= manifest.shared_patients <= manifest.patients * 0.4
    assert any(len(v) == 3 for v in shared.values())
    for hospitals in shared.values():
        mrns = [next(iter(m)) for m in hospitals.values()]
        assert all(len(m) == 1 for m in hospitals.values())
        assert len(set(mrns)) == len(mrns)


def test_given_shared_patient_then_the_name_is_written_differently_between_hospitals(
    manifest: SynthManifest,
) -> None:
    raw_names: dict[str, set[str]] = defaultdict(set)
    for hospital in manifest.hospitals:
        for message in _hl7_messages(manifest.feed_path(hospital, "adt")):
            pid = message[2]
            raw_names[_field(pid, 7) + _field(pid, 5).split("^")[0].casefold()].add(_field(pid, 5))
    assert any(len(names) > 1 for names in raw_names.values())
    writings = {n for names in raw_names.values() for n in names}
    assert any(n.isupper() for n in writings) and any(not n.isupper() for n in writings)


def test_population_includes_people_aged_90_or_more_and_sparse_zip_prefixes(
    manifest: SynthManifest,
) -> None:
    ages: list[int] = []
    prefixes: set[str] = set()
    for hospital in manifest.hospitals:
        for message in _hl7_messages(manifest.feed_path(hospital, "adt")):
            born = _field(message[2], 7)
            birth = date(int(born[:4]), int(born[4:6]), int(born[6:]))
            ages.append(REFERENCE_DATE.year - birth.year - ((REFERENCE_DATE.month, REFERENCE_DATE.day)
                                                            < (birth.month, birth.day)))
            prefixes.add(_field(message[2], 11).split("^")[4][:3])
    assert sum(1 for a in ages if a >= 90) >= 2
    assert len(prefixes & SPARSE_PREFIXES) >= 2


def test_manifest_identifiers_all_occur_in_the_feeds(synth_dir: Path, manifest: SynthManifest) -> None:
    corpus = "\n".join(
        path.read_text(encoding="utf-8") for *_, path in manifest.feeds()
    )
    notes = "\n".join(
        base64.b64decode(m).decode("utf-8") for m in re.findall(r'"data":"([^"]+)"', corpus)
    )
    text = corpus + notes
    ids = manifest.identifiers
    assert ids.names and ids.mrns and ids.phones and ids.streets and ids.ssns
    for value in ids.mrns + ids.streets + ids.ssns:
        assert value in text
    missing_phones = [p for p in ids.phones if p not in text]
    assert len(missing_phones) < len(ids.phones) / 3  # each phone is written three ways, most occur
    lowered = text.casefold()
    for name in ids.names:
        parts = name.split(" ")
        assert all(part.casefold() in lowered for part in parts)
    assert all(len(n) >= 5 for n in ids.names if " " not in n)  # >= 4 asked; 5 avoids chance byte hits
    assert any(" " in n for n in ids.names) and any(" " not in n for n in ids.names)


def test_family_names_never_occur_in_clinical_vocabulary(manifest: SynthManifest) -> None:
    clinical = " ".join(
        [*CLINICAL, *PLANS, *LAB_COMMENTS_CLEAN, *(t.name for t in LAB_TESTS + VITALS),
         *(d[1] + " " + d[3] for d in DIAGNOSES), *(d[1] + " " + d[2] for d in DOCTORS),
         "Progress note Comprehensive metabolic panel Blue Cross PPO BLUE CROSS BLUE SHIELD"]
    ).casefold()
    families = [n for n in manifest.identifiers.names if " " not in n]
    assert families
    assert [f for f in families if f.casefold() in clinical] == []
