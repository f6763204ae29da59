"""CSV rows ({column: value}) de-identified by column rules; column roles tell who the patient is.

Columns the profile does not list reject the row (`unknown_columns: reject`, default) or are dropped.
Dropped columns disappear from the output row; `patient_pseudonym_column` is added with the linkage pseudonym.
"""

from __future__ import annotations

import re
from typing import Any

from deid.formats.context import Environment, add_identifier, add_unique
from deid.formats.registry import FormatAdapter, register
from deid.identity import PatientIdentity, split_written_name
from deid.operators import RecordRejected
from deid.operators.keep import Keep
from deid.profile import CsvRules, Profile
from deid.text.types import KnownIdentifiers, PersonName

_ADDRESS_PARTS = re.compile(r"\s*[,;，、]\s*")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _identity_and_known(row: dict[str, Any], rules: CsvRules) -> tuple[PatientIdentity, KnownIdentifiers, str]:
    roles: dict[str, str] = {}
    known = KnownIdentifiers()
    for column, spec in rules.columns.items():
        if column not in row:
            continue
        value = _text(row[column]).strip()
        if spec.operator.name == "pseudonymise":  # whatever is pseudonymised is an identifier: find it in notes too
            add_identifier(known.identifiers, value)
        if spec.role is None:
            continue
        roles.setdefault(spec.role, value)
        role = spec.role
        if role == "name":
            family, given = split_written_name(value)
            known.names.append(PersonName(family, (given,) if given else ()))
        elif role in {"mrn", "national_id", "identifier"}:
            add_identifier(known.identifiers, value)
        elif role == "phone":
            add_identifier(known.phones, value)
        elif role in {"address", "zip"}:
            add_unique(known.addresses, value, min_len=3)
            for part in _ADDRESS_PARTS.split(value):
                add_unique(known.addresses, part, min_len=3)
        elif role == "email":
            add_unique(known.emails, value, min_len=5)
        elif role == "birth_date":
            add_unique(known.dates, value, min_len=4)
    family, given = roles.get("family_name", ""), roles.get("given_name", "")
    if family or given:
        known.names.append(PersonName(family, (given,) if given else ()))
    elif roles.get("name"):
        family, given = split_written_name(roles["name"])
    identity = PatientIdentity(
        national_id=roles.get("national_id", ""),
        family=family,
        given=given,
        birth_date=roles.get("birth_date", ""),
        sex=roles.get("sex", ""),
    )
    return identity, known, roles.get("mrn", "")


def deidentify_csv_row(row: dict[str, Any], rules: CsvRules, env: Environment) -> tuple[dict[str, Any], str | None]:
    for position, column in enumerate(row, 1):
        if not isinstance(column, str):
            raise RecordRejected("csv_bad_column")
        if column not in rules.columns and rules.unknown_columns == "reject":
            # By position, not name: a file published without its header row makes patient data the "names".
            raise RecordRejected("csv_unknown_column", f"column {position}")
    identity, known, mrn = _identity_and_known(row, rules)
    ctx = env.patient_context(identity, known, local_patient_id=mrn)
    out: dict[str, Any] = {}
    for column, value in row.items():
        spec = rules.columns.get(column)
        if spec is None:
            continue
        ctx.position = f"column {column}"
        op = spec.operator
        if isinstance(op, Keep):  # numbers and booleans stay typed; strings must have the declared shape
            out[column] = op.operate(value, ctx) if isinstance(value, str) else value
            continue
        if value is None:
            if op.name != "drop":
                out[column] = None
            continue
        new = op.operate(_text(value), ctx)
        if new is not None:
            out[column] = new
    if rules.patient_pseudonym_column:
        out[rules.patient_pseudonym_column] = ctx.patient
    return out, ctx.patient


class CsvRowFormat(FormatAdapter):
    name = "csv"

    def compile(self, profile: Profile) -> CsvRules:
        assert profile.csv is not None
        return profile.csv

    def coerce(self, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise RecordRejected("csv_not_object")
        return payload

    def deidentify(self, payload: dict[str, Any], compiled: CsvRules, env: Environment) -> tuple[dict[str, Any], str | None]:
        return deidentify_csv_row(payload, compiled, env)


register(CsvRowFormat())
