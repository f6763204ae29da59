"""Synthetic hospital feeds: ``generate(out_dir, seed=7, patients=60) -> SynthManifest``.

Writes, for each of three hospitals, an HL7 v2.5 ADT feed, an HL7 v2.5 ORU feed with free-text
notes, a FHIR R4 NDJSON feed of Bundles and a CSV lab extract, plus ``manifest.json`` listing the
feeds and the raw identifier values a leak check should search for downstream. Deterministic for a
seed: everything comes from one ``random.Random(seed)``, nothing from the wall clock.
See docs/feeds.md.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import ItemsView, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from catalog.cli.synth.fhir import bundle
from catalog.cli.synth.hl7 import adt_messages, oru_message
from catalog.cli.synth.people import Person, make_people, phone_variants
from catalog.cli.synth.population import draw_visit_day
from catalog.cli.synth.visits import HOSPITALS, Hospital, Visit, make_visit

FEEDS: dict[str, tuple[str, str]] = {
    # feed -> (file name, format)
    "adt": ("adt.hl7", "hl7v2"),
    "oru": ("oru.hl7", "hl7v2"),
    "fhir": ("fhir.ndjson", "fhir"),
    "lab": ("lab.csv", "csv"),
}
LAB_HEADER: tuple[str, ...] = (
    "mrn", "patient_name", "birth_date", "sex", "phone", "address", "zip", "specimen_id",
    "collected_at", "test_code", "test_name", "value", "unit", "reference_range", "flag", "comment",
)
SHARED_FRACTION = 0.3
FIRST_VISIT_DAY = date(2023, 7, 3)
VISIT_WINDOW_DAYS = 730  # two years of stays, more of them in winter (catalog.cli.synth.population)
# Stays per hospital that carry free text: an ORU lab report with notes, a FHIR Bundle with a clinical note and
# lab comments. Free-text de-identification (Presidio) is the pipeline's slow path, so a large demo documents a
# fixed number of stays, spread evenly over the two years, and scales the structured feeds (ADT, CSV labs) with
# --patients. Up to this many stays per hospital (about 70 patients) every stay is documented.
DOCUMENTED_STAYS = 40


@dataclass(frozen=True)
class FeedFile:
    file: str  # relative to the manifest's directory, e.g. "st-luke/adt.hl7"
    format: str  # "hl7v2" | "fhir" | "csv"
    messages: int


@dataclass(frozen=True)
class Identifiers:
    """Raw identifier values of the synthetic persons, as written in the feeds."""

    names: tuple[str, ...] = ()
    mrns: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    ssns: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.names, *self.mrns, *self.phones, *self.streets, *self.ssns)

    def as_dict(self) -> dict[str, list[str]]:
        """``{"names": [...], "mrns": [...], "phones": [...], "streets": [...], "ssns": [...]}``."""
        return {"names": list(self.names), "mrns": list(self.mrns), "phones": list(self.phones),
                "streets": list(self.streets), "ssns": list(self.ssns)}

    def items(self) -> ItemsView[str, list[str]]:
        """Kind -> values, so code written for the manifest's JSON mapping works on this too."""
        return self.as_dict().items()


@dataclass(frozen=True)
class SynthManifest:
    seed: int
    hospitals: dict[str, dict[str, FeedFile]]
    patients: int
    shared_patients: int
    identifiers: Identifiers
    root: Path = field(default=Path("."), compare=False)

    def feed_path(self, hospital: str, feed: str) -> Path:
        return self.root / self.hospitals[hospital][feed].file

    def feeds(self) -> Iterator[tuple[str, str, FeedFile, Path]]:
        """(hospital, feed, FeedFile, absolute path) for every feed, in manifest order."""
        for hospital, feeds in self.hospitals.items():
            for feed, info in feeds.items():
                yield hospital, feed, info, self.root / info.file

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "hospitals": {
                h: {"feeds": {f: {"file": i.file, "format": i.format, "messages": i.messages}
                              for f, i in feeds.items()}}
                for h, feeds in self.hospitals.items()
            },
            "patients": self.patients,
            "shared_patients": self.shared_patients,
            "identifiers": self.identifiers.as_dict(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], root: Path) -> SynthManifest:
        ids = data["identifiers"]
        return cls(
            seed=int(data["seed"]),
            hospitals={
                h: {f: FeedFile(str(i["file"]), str(i["format"]), int(i["messages"]))
                    for f, i in body["feeds"].items()}
                for h, body in data["hospitals"].items()
            },
            patients=int(data["patients"]),
            shared_patients=int(data["shared_patients"]),
            identifiers=Identifiers(
                names=tuple(ids["names"]), mrns=tuple(ids["mrns"]), phones=tuple(ids["phones"]),
                streets=tuple(ids["streets"]), ssns=tuple(ids["ssns"]),
            ),
            root=root,
        )

    @classmethod
    def load(cls, path: Path) -> SynthManifest:
        """Read ``manifest.json`` (or the directory holding it)."""
        file = path / "manifest.json" if path.is_dir() else path
        return cls.from_json(json.loads(file.read_text(encoding="utf-8")), file.parent)


def _assign_hospitals(rng: random.Random, people: list[Person]) -> dict[int, list[Hospital]]:
    shared = set(rng.sample(range(len(people)), k=round(len(people) * SHARED_FRACTION)))
    visits: dict[int, list[Hospital]] = {}
    for person in people:
        home = HOSPITALS[person.key % len(HOSPITALS)]
        chosen = [home]
        if person.key in shared:
            others = [h for h in HOSPITALS if h is not home]
            chosen += rng.sample(others, k=rng.choice((1, 1, 2)))
        visits[person.key] = chosen
    return visits


def _mrn(rng: random.Random, hospital: Hospital, used: set[str]) -> str:
    while True:
        # First digit 3-9: never looks like a 19xx/20xx date or timestamp fragment.
        mrn = str(rng.randint(3, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(hospital.mrn_digits - 1))
        if mrn not in used:
            used.add(mrn)
            return mrn


def _make_visits(rng: random.Random, people: list[Person], documented: int) -> dict[str, list[Visit]]:
    assignment = _assign_hospitals(rng, people)
    used_mrns: set[str] = set()
    planned: dict[str, list[tuple[Person, Hospital, str, date]]] = {h.code: [] for h in HOSPITALS}
    for person in people:
        for hospital in assignment[person.key]:
            mrn = _mrn(rng, hospital, used_mrns)
            count = 2 if rng.random() < 0.2 else 1
            for _ in range(count):
                start = max(draw_visit_day(rng, FIRST_VISIT_DAY, VISIT_WINDOW_DAYS),
                            person.birth_date + timedelta(days=1))
                planned[hospital.code].append((person, hospital, mrn, start))
    per_hospital: dict[str, list[Visit]] = {h.code: [] for h in HOSPITALS}
    serial = 0
    for code, stays in planned.items():
        stays.sort(key=lambda s: s[3])
        step = max(1, -(-len(stays) // documented)) if documented else 0
        for i, (person, hospital, mrn, start) in enumerate(stays):
            serial += 1
            per_hospital[code].append(make_visit(rng, hospital, person, mrn=mrn, serial=serial, start=start,
                                                 free_text=bool(step) and i % step == 0))
    for visits in per_hospital.values():
        visits.sort(key=lambda v: (v.admitted, v.visit_number))
    return per_hospital


def _lab_name(hospital: Hospital, person: Person) -> str:
    if hospital.code == "st-luke":
        return f"{person.family.upper()}, {person.given.upper()} {person.middle_initial}"
    if hospital.code == "riverside":
        return f"{person.given} {person.family}"
    return f"{person.family}, {person.given}"


def _lab_phone(hospital: Hospital, person: Person) -> str:
    return phone_variants(person.phone)[("st-luke", "riverside", "north-general").index(hospital.code)]


def _lab_csv(visits: list[Visit]) -> tuple[bytes, int]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LAB_HEADER)
    rows = 0
    for v in visits:
        p = v.person
        address = f"{p.street}, {p.city}, {p.state}"
        for r in v.results:
            writer.writerow(
                (
                    v.mrn, _lab_name(v.hospital, p), p.birth_date.isoformat(), p.sex,
                    _lab_phone(v.hospital, p), address, p.zip, v.specimen_id,
                    v.collected.isoformat(timespec="seconds"), r.test.loinc, r.test.name, r.value,
                    r.test.unit, r.reference_range, r.flag, r.comment,
                )
            )
            rows += 1
    return out.getvalue().encode("utf-8"), rows


def _hl7_file(messages: list[str]) -> bytes:
    return "".join(m + "\r\n" for m in messages).encode("utf-8")


def _render(visits: list[Visit], prefix: str) -> dict[str, tuple[bytes, int]]:
    adt: list[str] = []
    oru: list[str] = []
    bundles: list[str] = []
    control = 0
    for index, visit in enumerate(visits):
        ids = [f"{prefix}{control + 1:06d}", f"{prefix}{control + 2:06d}"]
        produced = adt_messages(visit, ids)
        control += len(produced)
        adt += produced
        control += 1
        if not visit.documented:
            continue
        oru.append(oru_message(visit, f"{prefix}{control:06d}", free_text="TX" if len(oru) % 2 else "FT"))
        bundles.append(
            json.dumps(bundle(visit, transaction=bool(len(bundles) % 3 == 0)), ensure_ascii=False,
                       separators=(",", ":"))
        )
    lab, lab_rows = _lab_csv(visits)
    return {
        "adt": (_hl7_file(adt), len(adt)),
        "oru": (_hl7_file(oru), len(oru)),
        "fhir": ("".join(b + "\n" for b in bundles).encode("utf-8"), len(bundles)),
        "lab": (lab, lab_rows),
    }


def _identifiers(people: list[Person], visits: dict[str, list[Visit]]) -> Identifiers:
    names: set[str] = set()
    phones: set[str] = set()
    for p in people:
        for given, family in ((p.given, p.family), (p.relative.given, p.relative.family)):
            names.add(f"{given} {family}")
            if len(family) >= 4:
                names.add(family)
        phones.update(phone_variants(p.phone))
        phones.update(phone_variants(p.relative.phone))
    mrns = {v.mrn for vs in visits.values() for v in vs}
    return Identifiers(
        names=tuple(sorted(names)),
        mrns=tuple(sorted(mrns)),
        phones=tuple(sorted(phones)),
        streets=tuple(sorted({p.street for p in people})),
        ssns=tuple(sorted({p.ssn for p in people if p.ssn})),
    )


def generate(out_dir: Path, *, seed: int = 7, patients: int = 60,
             documented_stays: int = DOCUMENTED_STAYS) -> SynthManifest:
    """Write the synthetic feeds and ``manifest.json`` under ``out_dir``; return the manifest.

    Every stay has ADT messages and CSV lab rows; at most ``documented_stays`` stays per hospital also have an
    ORU report with notes and a FHIR Bundle (see DOCUMENTED_STAYS)."""
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if documented_stays < 1:
        raise ValueError("documented_stays must be at least 1")
    rng = random.Random(seed)
    people = make_people(rng, patients)
    visits = _make_visits(rng, people, documented_stays)
    hospitals: dict[str, dict[str, FeedFile]] = {}
    for hospital in HOSPITALS:
        rendered = _render(visits[hospital.code], hospital.facility[:2])
        folder = out_dir / hospital.code
        folder.mkdir(parents=True, exist_ok=True)
        feeds: dict[str, FeedFile] = {}
        for feed, (name, fmt) in FEEDS.items():
            content, count = rendered[feed]
            (folder / name).write_bytes(content)
            feeds[feed] = FeedFile(f"{hospital.code}/{name}", fmt, count)
        hospitals[hospital.code] = feeds
    hospitals_of: dict[int, set[str]] = {}
    for code, vs in visits.items():
        for v in vs:
            hospitals_of.setdefault(v.person.key, set()).add(code)
    shared = sum(1 for p in people if len(hospitals_of.get(p.key, ())) > 1)
    manifest = SynthManifest(
        seed=seed,
        hospitals=hospitals,
        patients=len(people),
        shared_patients=shared,
        identifiers=_identifiers(people, visits),
        root=out_dir,
    )
    (out_dir / "manifest.json").write_bytes(
        (json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    )
    return manifest
