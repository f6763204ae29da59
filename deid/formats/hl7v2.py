"""HL7 v2 de-identification: per segment and field (and component) rules from the profile.

Segments without a rule are dropped (or rejected / kept, as the profile says); Z-segments likewise by
`z_segments`. Fields without a rule take the segment's `default` (drop unless the profile says otherwise).
Repetitions are handled one by one; `redact` works per component so replacements never break structure.
The output is re-serialised with CR separators and the original encoding characters, and still parses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deid import hl7
from deid.formats.context import Environment, add_identifier, add_unique
from deid.formats.registry import FormatAdapter, register
from deid.identity import PatientIdentity
from deid.operators import Operator, OperatorContext, RecordRejected, build_operator
from deid.profile import Hl7FieldRule, Hl7Rules, Hl7SegmentRule, Profile
from deid.text.types import KnownIdentifiers, PersonName

# Where the structured part of a message names people (XPN: family in comp 1, given in comp 2) ...
_XPN_FIELDS = {"PID": (5, 6, 9), "NK1": (2,), "GT1": (3, 4), "IN1": (16,), "IN2": (7,), "PD1": (), "MRG": (7,)}
# ... and providers (XCN: id in comp 1, family in comp 2, given in comp 3).
_XCN_FIELDS = {
    "PV1": (7, 8, 9, 17, 52), "PD1": (4,), "ORC": (10, 11, 12, 19), "OBR": (10, 16, 28), "OBX": (16,),
    "TXA": (5, 9, 10, 22), "EVN": (5,), "NTE": (5,), "PV2": (13,), "ROL": (4,), "PRT": (5,),
}  # fmt: skip
_ID_FIELDS = {
    "PID": (2, 3, 4, 18, 19, 20), "PV1": (19, 50), "GT1": (2, 12), "IN1": (2, 36, 49), "IN2": (2, 8),
    "ORC": (2, 3, 4), "OBR": (2, 3, 18, 19, 20, 21), "TXA": (12, 13, 14, 15, 16), "NK1": (33, 37), "MRG": (1, 2, 3, 5, 6),
    "SPM": (2, 3), "PV2": (), "MSH": (10,),
}  # fmt: skip
_PHONE_FIELDS = {"PID": (13, 14), "NK1": (5, 6, 31), "GT1": (6, 7), "IN1": (7,), "IN2": (63, 64)}
_ADDRESS_FIELDS = {"PID": (11,), "NK1": (4, 32), "GT1": (5,), "IN1": (19,), "IN2": ()}
_DATE_FIELDS = {"PID": (7, 29), "NK1": (16,), "GT1": (8,)}


@dataclass(frozen=True)
class CompiledHl7:
    rules: Hl7Rules
    drop: Operator

    def rule_for(self, name: str) -> Hl7SegmentRule | None:
        rule = self.rules.segments.get(name)
        if rule is not None:
            return rule
        policy = self.rules.z_segments if name.startswith("Z") else self.rules.unknown_segments
        if policy == "reject":
            raise RecordRejected("hl7_unknown_segment", f"segment {name}")
        return None if policy == "drop" else _KEEP_ALL


_KEEP_ALL = Hl7SegmentRule.model_validate({"default": "keep"})


def _components(msg: hl7.Message, value: str) -> list[str]:
    return value.split(msg.separators.component)


def collect_known(msg: hl7.Message, segments: list[hl7.Segment]) -> KnownIdentifiers:
    """Every identifier the message's structured fields carry, decoded, for the free-text layer."""
    s = msg.separators
    known = KnownIdentifiers()
    u = msg.unescape
    for seg in segments:
        name = seg.name
        for num in _XPN_FIELDS.get(name, ()):
            for rep in seg.field(num).split(s.repetition):
                c = _components(msg, rep) + ["", "", ""]
                family = u(c[0].split(s.subcomponent)[0])
                given = tuple(g for g in (u(c[1]), u(c[2])) if g)
                if len(family) >= 2 or given:
                    known.names.append(PersonName(family, given))
        for num in _XCN_FIELDS.get(name, ()):
            for rep in seg.field(num).split(s.repetition):
                c = _components(msg, rep) + ["", "", "", ""]
                family = u(c[1].split(s.subcomponent)[0])
                given = tuple(g for g in (u(c[2]), u(c[3])) if g)
                if len(family) >= 2:
                    known.names.append(PersonName(family, given))
        for num in _ID_FIELDS.get(name, ()):
            for rep in seg.field(num).split(s.repetition):
                add_identifier(known.identifiers, u(_components(msg, rep)[0]))
        for num in _PHONE_FIELDS.get(name, ()):
            for rep in seg.field(num).split(s.repetition):
                c = _components(msg, rep) + [""] * 7
                add_identifier(known.phones, u(c[0]))
                if c[5] or c[6]:
                    add_identifier(known.phones, u(c[5] + c[6]))
                add_unique(known.emails, u(c[3]), min_len=5)
        for num in _ADDRESS_FIELDS.get(name, ()):
            for rep in seg.field(num).split(s.repetition):
                c = _components(msg, rep) + [""] * 5
                for part in (*c[0].split(s.subcomponent), *c[1].split(s.subcomponent), c[2], c[4]):
                    add_unique(known.addresses, u(part), min_len=3)
        for num in _DATE_FIELDS.get(name, ()):
            add_unique(known.dates, u(_components(msg, seg.field(num))[0]), min_len=4)
    return known


def patient_identity(msg: hl7.Message, segments: list[hl7.Segment], rules: Hl7Rules) -> tuple[PatientIdentity | None, str]:
    """(linkage identity, hospital-local patient id) from the first PID of the message."""
    pid = next((seg for seg in segments if seg.name == "PID"), None)
    if pid is None:
        return None, ""
    s = msg.separators
    u = msg.unescape
    national = ""
    local = ""
    types = set(rules.identity.national_id_types)
    for rep in pid.field(3).split(s.repetition):
        c = _components(msg, rep) + [""] * 5
        if c[4] in types and not national:
            national = u(c[0])
        elif c[0] and not local:
            local = u(c[0])
    if not national and rules.identity.national_id_field:
        national = u(_components(msg, pid.field(rules.identity.national_id_field))[0])
    name = _components(msg, pid.field(5).split(s.repetition)[0]) + ["", ""]
    identity = PatientIdentity(
        national_id=national,
        family=u(name[0].split(s.subcomponent)[0]),
        given=u(name[1]),
        birth_date=u(_components(msg, pid.field(7))[0])[:8],
        sex=u(_components(msg, pid.field(8))[0]),
    )
    return identity, local or u(_components(msg, pid.field(2))[0])


_PER_COMPONENT = frozenset({"redact", "shift_date", "generalise"})


def _apply(op: Operator, value: str, ctx: OperatorContext, seps: hl7.Separators) -> str:
    if value == '""':  # the HL7 explicit null carries nothing
        return value
    if op.name == "keep":
        value = _without_sensitive(value, ctx.sensitive, seps) if ctx.sensitive else value
        # each (sub)component must have a value shape; free text in it is redacted (deid.operators.keep)
        return seps.component.join(
            seps.subcomponent.join(op.operate(sub, ctx) or "" for sub in comp.split(seps.subcomponent))
            for comp in value.split(seps.component)
        )
    if op.name in _PER_COMPONENT and seps.component in value:
        return seps.component.join((op.operate(c, ctx) or "") for c in value.split(seps.component))
    out = op.operate(value, ctx)
    return "" if out is None else out


def _without_sensitive(value: str, sensitive: frozenset[str], seps: hl7.Separators) -> str:
    """A kept value with any (sub)component equal to a known identifier of the record blanked out."""
    if value.upper() in sensitive:
        return ""
    if seps.component not in value and seps.subcomponent not in value:
        return value
    return seps.component.join(
        seps.subcomponent.join("" if sub.upper() in sensitive else sub for sub in comp.split(seps.subcomponent))
        for comp in value.split(seps.component)
    )


def _trim(parts: list[str]) -> list[str]:
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _field(
    seg: hl7.Segment, number: int, raw: str, spec: Operator | Hl7FieldRule, rule: Hl7SegmentRule, ctx: OperatorContext, seps: hl7.Separators
) -> str:
    reps = raw.split(seps.repetition) if seps.repetition in raw else [raw]
    out: list[str] = []
    if isinstance(spec, Operator):
        out = [_apply(spec, r, ctx, seps) if r else "" for r in reps]
    elif spec.components is not None:
        comps_rules = spec.components
        default = spec.default
        for r in reps:
            comps = r.split(seps.component)
            new = []
            for i, c in enumerate(comps, start=1):
                op = comps_rules.get(i, default)
                new.append("" if not c or op.name == "drop" else _apply(op, c, ctx, seps))
            out.append(seps.component.join(_trim(new)))
    else:
        assert spec.by_value_type is not None
        vt = seg.field(rule.value_type_field or 2).split(seps.component)[0].strip().upper()
        chosen = spec.by_value_type.get(vt) or spec.by_value_type.get("*") or spec.default
        if not isinstance(chosen, Operator):  # a per-component rule for this value type (e.g. CWE text parts)
            return _field(seg, number, raw, chosen, rule, ctx, seps)
        out = [_apply(chosen, r, ctx, seps) if r else "" for r in reps]
    return seps.repetition.join(_trim(out))


def _segment(seg: hl7.Segment, rule: Hl7SegmentRule, ctx: OperatorContext, seps: hl7.Separators) -> hl7.Segment:
    name = seg.name
    header = seg.is_header
    fields = [name, seg.fields[1]] if header else [name]
    first = 2 if header else 1  # list index of the first rewritable field (MSH-3 / SEG-1)
    offset = 1 if header else 0  # field number = list index + offset
    specs = rule.fields
    default = rule.default
    default_drops = default.name == "drop"
    for index in range(first, len(seg.fields)):
        raw = seg.fields[index]
        number = index + offset
        spec = specs.get(number)
        if raw == "" or (spec is None and default_drops):
            fields.append("")
            continue
        if spec is None:
            spec = default
        elif isinstance(spec, Operator) and spec.name == "drop":
            fields.append("")
            continue
        ctx.position = f"{name}-{number}"
        fields.append(_field(seg, number, raw, spec, rule, ctx, seps))
    if header:
        return hl7.Segment(fields[:2] + _trim(fields[2:]) if len(fields) > 2 else fields)
    return hl7.Segment([name, *_trim(fields[1:])])


def deidentify_hl7(text: str, compiled: CompiledHl7, env: Environment) -> tuple[str, str | None]:
    """(de-identified message text, linkage pseudonym of the (first) patient)."""
    msg = hl7.parse(text)
    seps = msg.separators
    out: list[hl7.Segment] = []
    first_patient: str | None = None
    ranges = hl7.split_messages(msg)
    envelope_ctx = env.patient_context(None, KnownIdentifiers(), decode_text=msg.unescape, encode_text=msg.escape)
    covered = {i for start, end in ranges for i in range(start, end)}
    contexts: dict[int, OperatorContext] = {}
    for start, end in ranges:
        segments = msg.segments[start:end]
        identity, local_id = patient_identity(msg, segments, compiled.rules)
        ctx = env.patient_context(
            identity, collect_known(msg, segments), local_patient_id=local_id, decode_text=msg.unescape, encode_text=msg.escape
        )
        if first_patient is None:
            first_patient = ctx.patient
        for i in range(start, end):
            contexts[i] = ctx
    for i, seg in enumerate(msg.segments):
        ctx = contexts[i] if i in covered else envelope_ctx
        rule = compiled.rule_for(seg.name)
        if rule is None:
            continue
        out.append(_segment(seg, rule, ctx, seps))
    result = hl7.Message(out, seps).to_text()
    hl7.parse(result, complete=False)  # the output must still be a valid message (fail closed otherwise)
    return result, first_patient


class Hl7v2Format(FormatAdapter):
    name = "hl7v2"

    def __init__(self) -> None:
        self._drop = build_operator("drop")

    def compile(self, profile: Profile) -> CompiledHl7:
        assert profile.hl7v2 is not None
        return CompiledHl7(profile.hl7v2, self._drop)

    def coerce(self, payload: Any) -> str:
        if isinstance(payload, bytes):
            try:
                payload = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordRejected("hl7_not_utf8") from None
        if not isinstance(payload, str):
            raise RecordRejected("hl7_not_text")
        return payload

    def deidentify(self, payload: str, compiled: CompiledHl7, env: Environment) -> tuple[str, str | None]:
        return deidentify_hl7(payload, compiled, env)


register(Hl7v2Format())
