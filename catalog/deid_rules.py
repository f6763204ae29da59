"""The de-identification a column went through, read from the feed's profile (never written by hand).

`treatment(profile, "PID-7")` looks the source element up in the profile's rules exactly as the engine would
pick the operator (HL7 v2 segment/field/component, FHIR resource path with the longest listed prefix, CSV
column) and names what the operator does in words a researcher understands: kept, pseudonymised, generalised
to the year or to 3 digits, shifted per patient, redacted, removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from deid.operators import Operator
from deid.profile import Hl7FieldRule, Profile

_HL7_ADDRESS = re.compile(r"^([A-Z][A-Z0-9]{2})(?:-(\d+)(?:\.(\d+))?)?$")


@dataclass(frozen=True)
class Treatment:
    rule: str  # kept | pseudonymised | generalised | shifted | redacted | removed | computed | metadata
    detail: str | None = None  # a code: year | month | digits3 | year_90 | 90plus | per_patient | hospital | city ...

    def to_public(self) -> dict[str, Any]:
        return {"rule": self.rule, "detail": self.detail}


def describe_operator(op: Operator) -> Treatment:
    params = op.params
    if op.name == "keep":
        return Treatment("kept")
    if op.name == "drop":
        return Treatment("removed")
    if op.name == "pseudonymise":
        return Treatment("pseudonymised", "hospital" if params.get("scope", "hospital") == "hospital" else "city")
    if op.name == "shift_date":
        return Treatment("shifted", "per_patient")
    if op.name == "redact":
        return Treatment("redacted", "free_text")
    if op.name == "generalise":
        kind = params.get("kind", "date")
        if kind == "zip":
            return Treatment("generalised", f"digits{params.get('digits', 3)}")
        if kind == "birth_date":
            return Treatment("generalised", "year_90")
        if kind == "age":
            return Treatment("generalised", "age_90")
        return Treatment("generalised", str(params.get("to", "year")))
    return Treatment(op.name)


def _hl7_operator(profile: Profile, address: str) -> Operator | None:
    m = _HL7_ADDRESS.match(address)
    if m is None or profile.hl7v2 is None:
        return None
    seg_name, field_no, comp_no = m.group(1), m.group(2), m.group(3)
    segment = profile.hl7v2.segments.get(seg_name)
    if segment is None:
        return None
    if field_no is None:
        return None
    spec = segment.fields.get(int(field_no), segment.default)
    if isinstance(spec, Hl7FieldRule):
        if spec.by_value_type is not None:  # depends on the value type: text types decide for free text
            inner = spec.by_value_type.get("TX") or spec.by_value_type.get("*")
            return inner if isinstance(inner, Operator) else None
        return (spec.components or {}).get(int(comp_no or 1), spec.default)
    return spec


def _fhir_operator(profile: Profile, path: str) -> Operator | None:
    if profile.fhir is None or "." not in path:
        return None
    resource, _, element = path.partition(".")
    rule = profile.fhir.resources.get(resource)
    if rule is None:
        return None
    paths = {**profile.fhir.common, **rule.paths}
    parts = element.split(".")
    for n in range(len(parts), 0, -1):
        op = paths.get(".".join(parts[:n]))
        if op is not None:
            return op
    return rule.default


def treatment(profile: Profile | None, source: str | None, derived: str | None = None) -> Treatment:
    """What happened to the column whose value comes from `source` under `profile`."""
    if derived == "linkage":
        return Treatment("pseudonymised", "linkage")
    if derived == "record_id":
        return Treatment("pseudonymised", "record")
    if derived in ("metadata", "structure"):
        return Treatment("metadata")
    if profile is None or source is None:
        return Treatment("unknown")
    if source.startswith("csv:"):
        column = profile.csv.columns.get(source[4:]) if profile.csv else None
        op = column.operator if column else None
    elif _HL7_ADDRESS.match(source):
        op = _hl7_operator(profile, source)
    else:
        op = _fhir_operator(profile, source)
    if op is None:
        return Treatment("computed") if derived == "count" else Treatment("unknown")
    found = describe_operator(op)
    if derived == "count":
        return Treatment("computed")
    if derived == "prefix3" and found.rule in ("generalised", "kept"):
        return Treatment("generalised", "digits3")
    if derived == "year" and found.rule in ("generalised", "kept"):
        return Treatment("generalised", "year")
    if derived == "over90" and found.rule == "generalised":
        return Treatment("generalised", "90plus")
    return found
