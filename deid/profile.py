"""De-identification profiles: YAML files in `policies/deid/`, validated into models when loaded.

A bad profile raises `ProfileError` naming the file, the field (dotted path) and, when known, the line:
the service refuses to start rather than failing records one at a time. Operators are built (and their
parameters validated) here, once per rule; no YAML work happens per record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from deid.operators import Operator, OperatorConfigError, build_operator

FORMATS = ("hl7v2", "fhir", "csv")
CSV_ROLES = (
    "national_id", "mrn", "name", "family_name", "given_name", "birth_date", "sex",
    "phone", "address", "zip", "email", "identifier",
)  # fmt: skip


class ProfileError(ValueError):
    """A profile file is invalid: names the file, field and line (never a secret or record value)."""

    def __init__(self, file: str, field: str, message: str, line: int | None = None) -> None:
        self.file, self.field, self.line = file, field, line
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {field or '<profile>'}: {message}")


def _to_operator(value: Any) -> Operator:
    if isinstance(value, Operator):
        return value
    try:
        if isinstance(value, str):
            return build_operator(value)
        if isinstance(value, dict):
            params = dict(value)
            name = params.pop("op", None)
            if not isinstance(name, str):
                raise ValueError("an operator mapping needs 'op: <name>'")
            return build_operator(name, params)
    except OperatorConfigError as exc:
        raise ValueError(str(exc)) from None
    raise ValueError("expected an operator name or a mapping with 'op'")


Op = Annotated[Operator, BeforeValidator(_to_operator)]
_STRICT = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)


class Hl7FieldRule(BaseModel):
    """A field handled per component, or by the segment's value type (OBX-2 for OBX-5)."""

    model_config = _STRICT
    components: dict[int, Op] | None = None
    default: Op = Field(default_factory=lambda: build_operator("drop"))
    by_value_type: "dict[str, Hl7FieldSpec] | None" = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Hl7FieldRule":
        if (self.components is None) == (self.by_value_type is None):
            raise ValueError("a field rule needs exactly one of 'components' or 'by_value_type' (or is an operator)")
        if self.components and any(k < 1 for k in self.components):
            raise ValueError("component numbers start at 1")
        return self


def _field_spec(value: Any) -> Any:
    if isinstance(value, dict) and "op" not in value:
        return Hl7FieldRule.model_validate(value)
    return _to_operator(value)


Hl7FieldSpec = Annotated[Operator | Hl7FieldRule, BeforeValidator(_field_spec)]
Hl7FieldRule.model_rebuild()


class Hl7SegmentRule(BaseModel):
    model_config = _STRICT
    default: Op = Field(default_factory=lambda: build_operator("drop"))
    fields: dict[int, Hl7FieldSpec] = Field(default_factory=dict)
    value_type_field: int | None = None  # the field whose value selects `by_value_type` rules (OBX: 2)

    @field_validator("fields")
    @classmethod
    def _positive(cls, v: dict[int, Any]) -> dict[int, Any]:
        if any(k < 1 for k in v):
            raise ValueError("field numbers start at 1")
        return v


class Hl7Identity(BaseModel):
    """Where the patient's linkage identifiers are: identifier types (CX-5) that are national/resident ids."""

    model_config = _STRICT
    national_id_types: list[str] = Field(default_factory=lambda: ["SS", "NI", "NNCHN", "PT"])
    national_id_field: int | None = 19  # PID-19 (SSN) in v2.x


# HL7 v2 fields that carry free text (names, addresses, coded elements with their text, locations, notes):
# a whole-field `keep` on them stops start-up. For coded fields (CWE/CE) the text components are listed too.
HL7_TEXT_FIELDS: dict[str, dict[int, frozenset[int]]] = {
    "PID": {5: frozenset(), 6: frozenset(), 9: frozenset(), 11: frozenset(), 13: frozenset(), 14: frozenset()},
    "NK1": {2: frozenset(), 3: frozenset({2, 5, 9}), 4: frozenset(), 5: frozenset(), 7: frozenset({2, 5, 9})},
    "PV1": {3: frozenset({9}), 6: frozenset({9}), 7: frozenset(), 8: frozenset(), 9: frozenset(), 17: frozenset()},
    "PV2": {3: frozenset({2, 5, 9}), 12: frozenset()},
    "OBR": {4: frozenset({2, 5, 9}), 13: frozenset(), 31: frozenset({2, 5, 9})},
    "OBX": {3: frozenset({2, 5, 9})},
    "NTE": {3: frozenset()},
    "DG1": {3: frozenset({2, 5, 9}), 4: frozenset()},
    "AL1": {3: frozenset({2, 5, 9}), 5: frozenset()},
    "PR1": {3: frozenset({2, 5, 9}), 4: frozenset()},
    "GT1": {3: frozenset(), 5: frozenset()},
    "IN1": {4: frozenset(), 5: frozenset(), 16: frozenset(), 19: frozenset()},
}
# FHIR elements that hold free text: a `keep` on such a path stops start-up (inside kept subtrees they are
# redacted at run time: deid.formats.fhir)
FHIR_TEXT_KEYS = frozenset({"text", "display", "div", "note", "comment", "description", "conclusion", "valueString",
                            "patientInstruction", "title", "summary", "reason", "alias", "name"})


def _hl7_text_keeps(segments: dict[str, Any]) -> list[str]:
    bad: list[str] = []
    for seg, rule in segments.items():
        for num, spec in rule.fields.items():
            text_parts = HL7_TEXT_FIELDS.get(seg, {}).get(num)
            if text_parts is None:
                continue
            if isinstance(spec, Operator) and spec.name == "keep":
                bad.append(f"{seg}-{num}")
            elif isinstance(spec, Hl7FieldRule) and spec.components:
                bad += [f"{seg}-{num}.{c}" for c, op in spec.components.items() if op.name == "keep" and c in text_parts]
    return bad


class Hl7Rules(BaseModel):
    model_config = _STRICT
    unknown_segments: Literal["drop", "reject", "keep"] = "drop"
    z_segments: Literal["drop", "reject", "keep"] = "drop"
    identity: Hl7Identity = Field(default_factory=Hl7Identity)
    segments: dict[str, Hl7SegmentRule]

    @field_validator("segments")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if len(name) != 3 or not name.isalnum() or not name.isupper() and not name[1:].isdigit():
                raise ValueError("segment names are three upper-case letters/digits")
        return v

    @model_validator(mode="after")
    def _no_text_keeps(self) -> "Hl7Rules":
        bad = _hl7_text_keeps(self.segments)
        if bad:
            raise ValueError(f"keep on text-bearing field(s) {', '.join(bad)}: use redact (or keep only the code components)")
        return self


class FhirResourceRule(BaseModel):
    model_config = _STRICT
    default: Op = Field(default_factory=lambda: build_operator("drop"))
    paths: dict[str, Op] = Field(default_factory=dict)

    @field_validator("paths")
    @classmethod
    def _no_shadowed_paths(cls, v: dict[str, Operator]) -> dict[str, Operator]:
        for path, op in v.items():
            if op.name != "keep" and any(other.startswith(path + ".") for other in v):
                raise ValueError(f"rules under {path!r} never apply: {path!r} is {op.name!r} (use keep or list children only)")
        _no_fhir_text_keeps(v)
        return v


def _no_fhir_text_keeps(paths: dict[str, Operator]) -> None:
    bad = [p for p, op in paths.items() if op.name == "keep" and p.rsplit(".", 1)[-1] in FHIR_TEXT_KEYS]
    if bad:
        raise ValueError(f"keep on free-text element(s) {', '.join(sorted(bad))}: use redact")


class FhirIdentity(BaseModel):
    model_config = _STRICT
    national_id_systems: list[str] = Field(default_factory=list)
    national_id_types: list[str] = Field(default_factory=lambda: ["SS", "NI", "NNCHN", "PT"])


class FhirRules(BaseModel):
    model_config = _STRICT
    unknown_resources: Literal["reject", "drop"] = "reject"
    keep_extensions: list[str] = Field(default_factory=list)  # extension URLs kept (their values still walked)
    identity: FhirIdentity = Field(default_factory=FhirIdentity)
    common: dict[str, Op] = Field(default_factory=dict)  # element rules applied to every resource type
    resources: dict[str, FhirResourceRule]

    @field_validator("common")
    @classmethod
    def _common_text(cls, v: dict[str, Operator]) -> dict[str, Operator]:
        _no_fhir_text_keeps(v)
        return v


class CsvColumn(BaseModel):
    model_config = _STRICT
    operator: Operator
    role: str | None = None


def _csv_column(value: Any) -> Any:
    role = None
    if isinstance(value, dict):
        value = dict(value)
        role = value.pop("role", None)
        if role is not None and role not in CSV_ROLES:
            raise ValueError(f"role must be one of {list(CSV_ROLES)}")
    return CsvColumn(operator=_to_operator(value), role=role)


class CsvRules(BaseModel):
    model_config = _STRICT
    unknown_columns: Literal["reject", "drop"] = "reject"
    patient_pseudonym_column: str | None = "patient_pseudonym"
    columns: dict[str, Annotated[CsvColumn, BeforeValidator(_csv_column)]]

    @field_validator("columns")
    @classmethod
    def _shaped_keeps(cls, v: dict[str, CsvColumn]) -> dict[str, CsvColumn]:
        bad = [c for c, col in v.items() if col.operator.name == "keep" and not getattr(col.operator, "declared", False)]
        if bad:
            raise ValueError(
                f"keep without a declared shape on column(s) {', '.join(bad)}: give shape (code, number, date, enum, "
                "identifier) or use redact for text"
            )
        return v


class DateShift(BaseModel):
    model_config = _STRICT
    min_days: int = -365
    max_days: int = -1

    @model_validator(mode="after")
    def _range(self) -> "DateShift":
        if self.min_days > self.max_days or self.min_days == 0 == self.max_days:
            raise ValueError("min_days must be <= max_days and the range must not be only 0")
        return self


class Profile(BaseModel):
    model_config = _STRICT
    name: str
    description: str = ""
    standard: str = ""  # e.g. "HIPAA Safe Harbor", "GB/T 39725-2020"
    lang: Literal["en", "zh", "auto"] = "auto"
    formats: list[Literal["hl7v2", "fhir", "csv"]]
    date_shift: DateShift = Field(default_factory=DateShift)
    hl7v2: Hl7Rules | None = None
    fhir: FhirRules | None = None
    csv: CsvRules | None = None
    inherit: dict[Literal["hl7v2", "fhir", "csv", "date_shift"], str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sections(self) -> "Profile":
        if not self.formats:
            raise ValueError("formats must list at least one of hl7v2, fhir, csv")
        for fmt in self.formats:
            if getattr(self, fmt) is None:
                raise ValueError(f"format {fmt!r} is listed but section {fmt!r} is missing")
        return self


# --- loading -----------------------------------------------------------------------------------------


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if str(k.value) == str(part):
                    nxt = v
                    line = k.start_mark.line + 1
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _read(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except OSError as exc:
        raise ProfileError(name, "", f"cannot read ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ProfileError(name, "", "invalid YAML", mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ProfileError(name, "", "a profile is a mapping", 1)
    return data, root


def load_profile(path: Path, sections: dict[str, dict[str, Any]] | None = None) -> Profile:
    """Validate one profile file; `sections` maps other profiles' names to their raw data (for `inherit`)."""
    name = path.name
    data, root = _read(path)
    inherit = data.get("inherit") or {}
    if inherit:
        if not isinstance(inherit, dict):
            raise ProfileError(name, "inherit", "a mapping of section -> profile name", _line_of(root, ("inherit",)))
        data = dict(data)
        for section, source in inherit.items():
            base = (sections or {}).get(source) if isinstance(source, str) else None
            if base is None or section not in base or "inherit" in base and section in base["inherit"]:
                raise ProfileError(name, f"inherit.{section}", "names no profile defining that section", _line_of(root, ("inherit", section)))
            if section in data:
                raise ProfileError(name, section, "defined here and inherited", _line_of(root, (section,)))
            data[section] = base[section]
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # a typo explains the rest
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        field = ".".join(str(p) for p in loc)
        raise ProfileError(name, field, err["msg"], _line_of(root, loc)) from None


def load_profiles(directory: Path) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        raise ProfileError(str(directory), "", "no *.yaml profiles found")
    raw = {}
    for path in files:
        data, _ = _read(path)
        if isinstance(data.get("name"), str):
            raw[data["name"]] = data
    for path in files:
        profile = load_profile(path, raw)
        if profile.name in profiles:
            raise ProfileError(path.name, "name", "duplicate profile name", _line_of(yaml.compose(path.read_text()), ("name",)))
        profiles[profile.name] = profile
    return profiles
