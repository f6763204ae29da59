"""FHIR R4 de-identification: resources and Bundles, by element path rules from the profile.

Rules are keyed by element path without indices ("name", "address.postalCode", "content.attachment").
For each element: an explicit rule applies; `keep` keeps the subtree (overridable by deeper rules); an
element that is a prefix of deeper rules is descended into (its unlisted children are dropped); anything
else takes the resource's `default`. Whatever the rules, everywhere:
- resource ids and references (`Type/id`, absolute URLs, `urn:uuid:`) become keyed pseudonymous ids,
  consistently inside a Bundle and across one hospital's feeds; `Reference.display` is dropped;
- `identifier` / `*Identifier` values are pseudonymised (hospital scope);
- extensions are kept only when the profile lists their URL;
- date/dateTime/instant strings in kept subtrees are shifted with the patient's shift;
- free-text elements (narratives, `valueString`, `note`, `comment`, `description`, `conclusion`,
  `patientInstruction`, text attachments) are redacted; binary attachments are dropped.
Unknown resource types reject the record (or are dropped when `unknown_resources: drop`).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from deid.formats.fhir_types import R4_RESOURCE_TYPES
from deid.formats.context import Environment, add_identifier, add_unique
from deid.formats.registry import FormatAdapter, register
from deid.identity import PatientIdentity
from deid.operators import Operator, OperatorContext, RecordRejected, build_operator
from deid.operators.keep import Keep, kept_string, redact_kept
from deid.profile import FhirRules, Profile
from deid.text.types import KnownIdentifiers, PersonName

_DATE_LIKE = re.compile(r"\d{4}-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?")
_REF = re.compile(r"(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?P<hist>/_history/[A-Za-z0-9\-.]{1,64})?")
_TAGS = re.compile(r"<[^>]*>")
_FREE_TEXT_KEYS = frozenset({"valueString", "comment", "description", "conclusion", "patientInstruction", "note"})
_ANNOTATION_KEYS = frozenset({"text", "time", "authorString", "authorReference", "id", "extension"})
_CODE_KEYS = frozenset({"system", "code", "version", "url", "contentType", "language", "unit", "use", "status", "type"})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/fhir+json", "application/fhir+xml")
_PERSON_TYPES = frozenset({"Patient", "RelatedPerson", "Practitioner", "Person"})
_SHIFT = build_operator("shift_date")
_REDACT = build_operator("redact")
_ID_OP = build_operator("pseudonymise", {"kind": "identifier"})


@dataclass
class _CompiledRule:
    default: Operator
    paths: dict[str, Operator]
    prefixes: frozenset[str]


_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


def public_type(value: object, known: frozenset[str] = frozenset()) -> str:
    """A resourceType for a rejection detail: echoed only when it is a FHIR R4 type name (or one the profile
    lists), since the field comes from the sender and a name-shaped value ("JohnSmith") could be anything."""
    if isinstance(value, str) and (value in known or value in R4_RESOURCE_TYPES) and _RESOURCE_TYPE.fullmatch(value):
        return value
    return "(not an R4 resource type)"


_CONTACT_ELEMENTS = frozenset({"telecom", "address", "contact", "photo"})
# elements whose strings are free text even inside a kept subtree ("code.text", "coding.display")
TEXT_KEYS = frozenset({"text", "display", "div", "note", "comment", "description", "conclusion", "valueString",
                       "patientInstruction", "title", "summary", "reason", "alias", "name"})


def compile_fhir(rules: FhirRules) -> dict[str, _CompiledRule]:
    """Per resource type: merged common + resource paths and the set of path prefixes (built once per profile)."""
    compiled: dict[str, _CompiledRule] = {}
    for rtype, spec in rules.resources.items():
        paths = {**rules.common, **spec.paths}
        prefixes = frozenset(p.rsplit(".", n)[0] for p in paths for n in range(1, p.count(".") + 1))
        compiled[rtype] = _CompiledRule(spec.default, paths, prefixes)
    return compiled


@dataclass
class _Run:
    """State of one record: rules, environment, compiled rules."""

    rules: FhirRules
    env: Environment
    compiled: dict[str, _CompiledRule] = field(default_factory=dict)

    def rule(self, rtype: str) -> _CompiledRule | None:
        return self.compiled.get(rtype)

    # --- ids -----------------------------------------------------------------------------------------
    def pseudo_id(self, rtype: str, rid: str) -> str:
        # FHIR ids allow only letters, digits, '-' and '.'
        return self.env.keyring.pseudonym("fhir-id", self.env.hospital, rtype, rid).replace("_", "-")

    def pseudo_uuid(self, value: str) -> str:
        digest = self.env.keyring.digest("fhir-uuid", self.env.hospital, value)
        return str(uuid.UUID(bytes=digest[:16]))

    def reference(self, ref: str) -> str | None:
        if ref.startswith("#"):
            return "#" + self.pseudo_id("#", ref[1:]) if len(ref) > 1 else ref
        if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
            return "urn:uuid:" + self.pseudo_uuid(ref[9:] if ref.startswith("urn:uuid:") else ref)
        m = _REF.fullmatch(ref)
        if m is None:
            return None  # not a reference we can rewrite: drop it (fail closed)
        return f"{m.group('base') or ''}{m.group('type')}/{self.pseudo_id(m.group('type'), m.group('id'))}"


# --- per-element operations ----------------------------------------------------------------------------


def _narrative(value: dict[str, Any], ctx: OperatorContext) -> dict[str, Any]:
    div = value.get("div", "")
    text = html.unescape(_TAGS.sub(" ", div if isinstance(div, str) else ""))
    text = re.sub(r"[ \t]+", " ", text).strip()
    redacted = _REDACT.operate(text, ctx) or ""
    out = {"status": value.get("status", "generated") if value.get("status") in {"generated", "extensions", "additional", "empty"} else "generated"}
    out["div"] = f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(redacted, quote=False)}</div>'
    return out


def _attachment(value: dict[str, Any], run: _Run, ctx: OperatorContext) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    ctype = value.get("contentType", "")
    for key in ("contentType", "language"):
        if isinstance(value.get(key), str):
            out[key] = value[key]
    if isinstance(value.get("creation"), str):
        out["creation"] = _shift(value["creation"], ctx)
    if isinstance(value.get("title"), str):
        out["title"] = _REDACT.operate(value["title"], ctx)
    data = value.get("data")
    if isinstance(data, str) and (not ctype or ctype.startswith(_TEXT_TYPES)):
        try:
            raw = base64.b64decode(data, validate=True)
            text = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            raise RecordRejected("fhir_bad_attachment", ctx.position) from None
        new = (_REDACT.operate(text, ctx) or "").encode("utf-8")
        out["data"] = base64.b64encode(new).decode("ascii")
        out["size"] = len(new)
    return out if ("data" in out or "title" in out) else (out or None)


def _annotation(value: Any, ctx: OperatorContext) -> Any:
    if isinstance(value, str):
        return _REDACT.operate(value, ctx)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        if isinstance(value.get("text"), str):
            out["text"] = _REDACT.operate(value["text"], ctx)
        if isinstance(value.get("time"), str):
            out["time"] = _shift(value["time"], ctx)
        return out or None
    return None


def _age(value: dict[str, Any]) -> dict[str, Any]:
    """An Age (onsetAge, ageAge...) of 90 years or more becomes ">= 90 a" (HIPAA: ages over 89 aggregated)."""
    out = {k: v for k, v in value.items() if k in {"value", "comparator", "unit", "system", "code"}}
    number = out.get("value")
    unit = str(out.get("code") or out.get("unit") or "a").lower()
    years = number if unit in {"a", "yr", "year", "years", "岁"} else (number / 12 if unit in {"mo", "month", "months"} else 0)
    if isinstance(number, (int, float)) and years >= 90:
        return {"comparator": ">=", "value": 90, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    return out


def _shift(value: str, ctx: OperatorContext) -> str | None:
    return _SHIFT.operate(value, ctx)


def _identifier(value: Any, run: _Run, ctx: OperatorContext, op: Operator = _ID_OP) -> Any:
    if isinstance(value, list):
        return [x for x in (_identifier(v, run, ctx, op) for v in value) if x is not None] or None
    if isinstance(value, str):
        return op.operate(value, ctx)
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("use", "system", "type"):
        if key in value:
            out[key] = _walk(f"identifier.{key}", value[key], run, None, ctx, keep=True)
    if isinstance(value.get("value"), str):
        out["value"] = op.operate(value["value"], ctx)
    if isinstance(value.get("period"), dict):
        out["period"] = _walk("identifier.period", value["period"], run, None, ctx, keep=True)
    return out or None


def _apply(op: Operator, path: str, value: Any, run: _Run, rule: _CompiledRule | None, ctx: OperatorContext) -> Any:
    if op.name == "drop":
        return None
    if isinstance(value, list):
        out = [x for x in (_apply(op, path, v, run, rule, ctx) for v in value) if x is not None]
        return out or None
    if isinstance(value, dict):
        if op.name == "redact":
            if "div" in value:
                return _narrative(value, ctx)
            if "contentType" in value or "data" in value or "url" in value:
                return _attachment(value, run, ctx)
            if "text" in value and set(value) <= _ANNOTATION_KEYS:
                return _annotation(value, ctx)
            out_r: dict[str, Any] = {}
            for k, v in value.items():
                if k == "reference" and isinstance(v, str):
                    new_v: Any = run.reference(v)
                elif k == "display" and "reference" in value:
                    new_v = None
                elif isinstance(v, str) and k in _CODE_KEYS:
                    new_v = v
                else:
                    new_v = _apply(op, f"{path}.{k}", v, run, rule, ctx)
                if new_v is not None:
                    out_r[k] = new_v
            return out_r or None
        if op.name == "pseudonymise":
            return _identifier(value, run, ctx, op)
        if op.name in {"shift_date", "generalise"}:
            out_d = {k: _apply(op, f"{path}.{k}", v, run, rule, ctx) for k, v in value.items() if k in {"start", "end"}}
            return {k: v for k, v in out_d.items() if v is not None} or None
        return _walk(path, value, run, rule, ctx, keep=True)
    if isinstance(value, str):
        ctx.position = path
        return op.operate(value, ctx)
    if isinstance(value, (bool, int, float)) and op.name in {"keep"}:
        return value
    return None


def _node(path: str, key: str, value: Any, run: _Run, rule: _CompiledRule | None, ctx: OperatorContext, keep: bool) -> Any:
    op = rule.paths.get(path) if rule is not None else None
    if op is not None and not isinstance(op, Keep):
        return _apply(op, path, value, run, rule, ctx)
    if key == "reference" and isinstance(value, str):
        return run.reference(value)
    if key in {"extension", "modifierExtension"}:
        kept = [e for e in value if isinstance(e, dict) and e.get("url") in run.rules.keep_extensions] if isinstance(value, list) else []
        return [x for x in (_walk(path, e, run, rule, ctx, keep=True) for e in kept) if x] or None
    if op is None and (key == "identifier" or key.endswith("Identifier")):
        return _identifier(value, run, ctx)
    if op is None and key == "text" and isinstance(value, dict) and "div" in value:
        return _narrative(value, ctx)
    if isinstance(op, Keep):
        keep = True
    elif not keep and rule is not None and path not in rule.prefixes:
        if "." in path:  # an unlisted child of an element that is only descended into: dropped
            return None
        if not isinstance(rule.default, Keep):
            return _apply(rule.default, path, value, run, rule, ctx)
        keep = True
    if keep and op is None and key in _FREE_TEXT_KEYS:
        return _apply(_REDACT, path, value, run, rule, ctx)
    if keep and op is None and key == "authorString":
        return None
    if keep and op is None and key.endswith("Age") and isinstance(value, dict):
        return _age(value)
    return _walk(path, value, run, rule, ctx, keep=keep)


def _walk(path: str, value: Any, run: _Run, rule: _CompiledRule | None, ctx: OperatorContext, *, keep: bool) -> Any:
    if isinstance(value, list):
        out = [x for x in (_walk(path, v, run, rule, ctx, keep=keep) for v in value) if x is not None]
        return out or None
    if isinstance(value, dict):
        if "resourceType" in value and path:
            return _resource(value, run, ctx)
        if keep and ("data" in value and "contentType" in value):
            return _attachment(value, run, ctx)
        is_reference = "reference" in value or ("display" in value and "code" not in value and "system" not in value)
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "display" and is_reference:
                continue
            new = _node(f"{path}.{k}" if path else k, k, v, run, rule, ctx, keep)
            if new is not None and new != {} and new != []:
                out[k] = new
        return out or None
    if not keep:
        return None
    if isinstance(value, str) and _DATE_LIKE.fullmatch(value):
        ctx.position = path
        return _shift(value, ctx)
    if isinstance(value, str) and value.upper() in ctx.sensitive:
        return None
    if isinstance(value, str):
        ctx.position = path
        segments = path.split(".")
        listed = rule is not None and path in rule.paths  # a path the profile names keeps its own rule
        if not listed and _CONTACT_ELEMENTS.intersection(segments):
            return None  # telecom, address, contact, photo inside a kept subtree: never kept
        if segments[-1] in TEXT_KEYS or (not listed and "name" in segments):
            return redact_kept(value, ctx)
        return kept_string(value, ctx)
    return value


def _resource(res: dict[str, Any], run: _Run, ctx: OperatorContext, *, contained: bool = False) -> dict[str, Any] | None:
    rtype = res.get("resourceType")
    if not isinstance(rtype, str):
        raise RecordRejected("fhir_no_resource_type")
    rule = run.rule(rtype)
    if rule is None:
        if run.rules.unknown_resources == "drop":
            return None
        raise RecordRejected("fhir_unknown_resource", public_type(rtype, frozenset(run.rules.resources)))
    out: dict[str, Any] = {"resourceType": rtype}
    for key, value in res.items():
        if key == "resourceType":
            continue
        if key == "id":
            if isinstance(value, str):
                out["id"] = run.pseudo_id("#", value) if contained else run.pseudo_id(rtype, value)
            continue
        if key == "contained":
            contained = [x for x in (_resource(r, run, ctx, contained=True) for r in value if isinstance(r, dict)) if x] if isinstance(value, list) else []
            if contained:
                out["contained"] = contained
            continue
        ctx.position = f"{rtype}.{key}"
        new = _node(key, key, value, run, rule, ctx, False)
        if new is not None:
            out[key] = new
    return out


# --- identity and known identifiers --------------------------------------------------------------------


def _resources(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("resourceType"), str):
            found.append(node)
        for v in node.values():
            if isinstance(v, (dict, list)):
                found.extend(_resources(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_resources(v))
    return found


def _strs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _collect_known(resources: list[dict[str, Any]]) -> KnownIdentifiers:
    known = KnownIdentifiers()
    for res in resources:
        if res.get("resourceType") not in _PERSON_TYPES:
            continue
        for name in res.get("name", []) if isinstance(res.get("name"), list) else []:
            if not isinstance(name, dict):
                continue
            family = name.get("family") if isinstance(name.get("family"), str) else ""
            given = tuple(_strs(name.get("given")))
            if family or given:
                known.names.append(PersonName(family, given))
            elif isinstance(name.get("text"), str):
                parts = name["text"].split()
                known.names.append(PersonName(parts[-1], tuple(parts[:-1])))
        for ident in res.get("identifier", []) if isinstance(res.get("identifier"), list) else []:
            if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                add_identifier(known.identifiers, ident["value"])
        for tel in res.get("telecom", []) if isinstance(res.get("telecom"), list) else []:
            if isinstance(tel, dict) and isinstance(tel.get("value"), str):
                (add_unique(known.emails, tel["value"], min_len=5) if tel.get("system") == "email" else add_identifier(known.phones, tel["value"]))
        for addr in res.get("address", []) if isinstance(res.get("address"), list) else []:
            if isinstance(addr, dict):
                for part in _strs(addr.get("line")) + _strs(addr.get("city")) + _strs(addr.get("district")) + _strs(addr.get("postalCode")):
                    add_unique(known.addresses, part, min_len=3)
        if isinstance(res.get("birthDate"), str):
            add_unique(known.dates, res["birthDate"], min_len=4)
    return known


def _patient_identity(res: dict[str, Any], rules: FhirRules) -> PatientIdentity:
    national = ""
    systems = set(rules.identity.national_id_systems)
    types = set(rules.identity.national_id_types)
    for ident in res.get("identifier", []) if isinstance(res.get("identifier"), list) else []:
        if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
            continue
        codes = {c.get("code") for c in (ident.get("type") or {}).get("coding", []) if isinstance(c, dict)} if isinstance(ident.get("type"), dict) else set()
        if ident.get("system") in systems or codes & types:
            national = ident["value"]
            break
    names = [n for n in res.get("name", []) if isinstance(n, dict)] if isinstance(res.get("name"), list) else []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    family = name.get("family", "") if isinstance(name.get("family"), str) else ""
    given = _strs(name.get("given"))
    return PatientIdentity(
        national_id=national,
        family=family,
        given=given[0] if given else "",
        birth_date=res.get("birthDate", "") if isinstance(res.get("birthDate"), str) else "",
        sex=res.get("gender", "") if isinstance(res.get("gender"), str) else "",
    )


def _subject_ref(res: dict[str, Any]) -> str:
    for key in ("subject", "patient", "beneficiary"):
        ref = res.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return ref["reference"]
    return ""


@dataclass
class _Patients:
    """One context per patient; other resources use their subject's context (or the only patient's)."""

    env: Environment
    known: KnownIdentifiers
    by_ref: dict[str, OperatorContext] = field(default_factory=dict)
    patients: list[OperatorContext] = field(default_factory=list)

    def context_for(self, res: dict[str, Any]) -> OperatorContext:
        ref = _subject_ref(res)
        if ref:
            for key, ctx in self.by_ref.items():
                if ref == key or ref.endswith("/" + key) or key.endswith("/" + ref):
                    return ctx
        if res.get("resourceType") == "Patient" and isinstance(res.get("id"), str) and f"Patient/{res['id']}" in self.by_ref:
            return self.by_ref[f"Patient/{res['id']}"]
        if len(self.patients) == 1:
            return self.patients[0]
        return self.env.patient_context(None, self.known, local_patient_id=ref)


def _patient_contexts(top: list[dict[str, Any]], entries: list[dict[str, Any]], rules: FhirRules, env: Environment,
                      known: KnownIdentifiers) -> _Patients:
    found = _Patients(env, known)
    full_urls = {id(e["resource"]): e.get("fullUrl", "") for e in entries if isinstance(e.get("resource"), dict)}
    for res in top:
        if res.get("resourceType") != "Patient":
            continue
        ctx = env.patient_context(_patient_identity(res, rules), known, local_patient_id=f"Patient/{res.get('id', '')}")
        found.patients.append(ctx)
        if isinstance(res.get("id"), str):
            found.by_ref[f"Patient/{res['id']}"] = ctx
        if full_urls.get(id(res)):
            found.by_ref[full_urls[id(res)]] = ctx
    return found


def deidentify_fhir(
    resource: dict[str, Any], rules: FhirRules, env: Environment, compiled: dict[str, _CompiledRule] | None = None
) -> tuple[dict[str, Any], str | None]:
    run = _Run(rules, env, compiled if compiled is not None else compile_fhir(rules))
    all_resources = _resources(resource)
    known = _collect_known(all_resources)
    is_bundle = resource.get("resourceType") == "Bundle"
    entries = [e for e in resource.get("entry", []) if isinstance(e, dict)] if is_bundle and isinstance(resource.get("entry"), list) else []
    top = [e["resource"] for e in entries if isinstance(e.get("resource"), dict)] if is_bundle else [resource]
    found = _patient_contexts(top, entries, rules, env, known)
    patients = found.patients
    first_patient = patients[0].patient if patients else None
    if not is_bundle:
        out = _resource(resource, run, found.context_for(resource))
        if out is None:
            raise RecordRejected("fhir_unknown_resource", public_type(resource.get("resourceType"), frozenset(rules.resources)))
        return out, first_patient
    bundle_ctx = patients[0] if len(patients) == 1 else env.patient_context(None, known)
    out_bundle = _bundle_header(resource, run, bundle_ctx)
    out_entries: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        new = _entry(i, entry, run, found)
        if new:
            out_entries.append(new)
    if out_entries:
        out_bundle["entry"] = out_entries
    return out_bundle, first_patient


def _bundle_header(resource: dict[str, Any], run: _Run, bundle_ctx: OperatorContext) -> dict[str, Any]:
    """The Bundle's own fields: a pseudonymous id, ``type`` and ``total`` kept, the timestamp shifted."""
    out_bundle: dict[str, Any] = {"resourceType": "Bundle"}
    if isinstance(resource.get("id"), str):
        out_bundle["id"] = run.pseudo_id("Bundle", resource["id"])
    for key in ("type", "total"):
        if key in resource:
            out_bundle[key] = resource[key]
    if isinstance(resource.get("timestamp"), str):
        out_bundle["timestamp"] = _shift(resource["timestamp"], bundle_ctx)
    return out_bundle


def _entry(i: int, entry: dict[str, Any], run: _Run, found: _Patients) -> dict[str, Any]:
    """One Bundle entry de-identified; empty when nothing of it is kept (e.g. a resource type not in the rules)."""
    new: dict[str, Any] = {}
    if isinstance(entry.get("fullUrl"), str):
        ref = run.reference(entry["fullUrl"])
        if ref is not None:
            new["fullUrl"] = ref
    res = entry.get("resource")
    if isinstance(res, dict):
        if res.get("resourceType") == "Bundle":
            raise RecordRejected("fhir_nested_bundle", f"entry {i}")
        out_res = _resource(res, run, found.context_for(res))
        if out_res is None:
            return {}
        new["resource"] = out_res
    request = entry.get("request")
    if isinstance(request, dict) and isinstance(request.get("method"), str):
        url = request.get("url", "")
        new_url = run.reference(url) if isinstance(url, str) and "/" in url and "?" not in url else (url.split("?")[0] if isinstance(url, str) else "")
        new["request"] = {"method": request["method"], "url": new_url or ""}
    if isinstance(entry.get("search"), dict):
        new["search"] = {k: v for k, v in entry["search"].items() if k in {"mode", "score"}}
    return new


class FhirFormat(FormatAdapter):
    name = "fhir"

    def compile(self, profile: Profile) -> tuple[FhirRules, dict[str, _CompiledRule]]:
        assert profile.fhir is not None
        return profile.fhir, compile_fhir(profile.fhir)

    def coerce(self, payload: Any) -> dict[str, Any]:
        if isinstance(payload, (str, bytes)):
            try:
                payload = json.loads(payload)
            except ValueError:
                raise RecordRejected("fhir_parse_error") from None
        if not isinstance(payload, dict):
            raise RecordRejected("fhir_not_object")
        return payload

    def deidentify(self, payload: dict[str, Any], compiled: tuple[FhirRules, dict[str, _CompiledRule]],
                   env: Environment) -> tuple[dict[str, Any], str | None]:
        rules, rules_by_path = compiled
        return deidentify_fhir(payload, rules, env, rules_by_path)


register(FhirFormat())
