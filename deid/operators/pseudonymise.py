"""`pseudonymise`: a keyed HMAC-SHA256 pseudonym `<key id>-<base32>` of the value.

Parameters:
- `scope`: `hospital` (default; hospital-local ids such as MRN, visit, specimen, order numbers: the same value
  at two hospitals gives two pseudonyms) or `city` (ids valid city-wide, e.g. insurance numbers).
- `kind`: a namespace (default `id`) so that e.g. specimen and order numbers never share pseudonyms.
Whitespace around the value is ignored; an empty value stays empty.
"""

from __future__ import annotations

from typing import Any

from deid.operators.base import Operator, OperatorConfigError, OperatorContext, register


@register
class Pseudonymise(Operator):
    name = "pseudonymise"
    allowed_params = frozenset({"scope", "kind"})
    example_params = {"scope": "hospital", "kind": "mrn"}
    example_value = "MRN-000123"

    def validate(self, params: dict[str, Any]) -> None:
        if params.get("scope", "hospital") not in {"hospital", "city"}:
            raise OperatorConfigError("pseudonymise: scope must be 'hospital' or 'city'")
        kind = params.get("kind", "id")
        if not isinstance(kind, str) or not kind:
            raise OperatorConfigError("pseudonymise: kind must be a non-empty string")
        self.scope = params.get("scope", "hospital")
        self.kind = kind

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        v = value.strip()
        if not v:
            return value
        scope = ctx.hospital if self.scope == "hospital" else "*"
        return ctx.keyring.pseudonym("id", self.kind, scope, v)
