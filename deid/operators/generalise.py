"""`generalise`: a coarser value.

- `kind: date` (`to: year` default, or `month`): "1962-03-20" -> "1962" / "1962-03".
- `kind: birth_date`: the birth year, or `over_90` (default: dropped) when the patient is 90 or older
  (HIPAA: ages over 89 and the dates that reveal them are aggregated to "90 or older").
- `kind: age`: a number of years, "90+" from 90 on.
- `kind: zip`: the first `digits` (default 3) digits; HIPAA's sparsely populated prefixes -> "000"
  (`sparse: hipaa`, default) or none (`sparse: none`, e.g. Chinese postcodes).
A date or age that cannot be read is dropped (`on_invalid: drop`, default) or rejects the record
(`on_invalid: reject`).
"""

from __future__ import annotations

import re
from typing import Any

from deid.dates import DateFormatError, age_in_years, generalise_date_text, parse_date
from deid.operators.base import Operator, OperatorConfigError, OperatorContext, RecordRejected, register
from deid.zipcodes import HIPAA_SPARSE_ZIP3, generalise_zip

_KINDS = {"date", "birth_date", "age", "zip"}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z岁]*)\s*")


@register
class Generalise(Operator):
    name = "generalise"
    allowed_params = frozenset({"kind", "to", "over_90", "digits", "sparse", "on_invalid"})
    example_params = {"kind": "date", "to": "year"}
    example_value = "2024-03-14"

    def validate(self, params: dict[str, Any]) -> None:
        kind = params.get("kind", "date")
        if kind not in _KINDS:
            raise OperatorConfigError(f"generalise: kind must be one of {sorted(_KINDS)}")
        to = params.get("to", "year")
        if to not in {"year", "month"}:
            raise OperatorConfigError("generalise: to must be 'year' or 'month'")
        digits = params.get("digits", 3)
        if not isinstance(digits, int) or not 1 <= digits <= 5:
            raise OperatorConfigError("generalise: digits must be an integer from 1 to 5")
        sparse = params.get("sparse", "hipaa")
        if sparse not in {"hipaa", "none"}:
            raise OperatorConfigError("generalise: sparse must be 'hipaa' or 'none'")
        over_90 = params.get("over_90", "drop")
        if not isinstance(over_90, str):
            raise OperatorConfigError("generalise: over_90 must be a string ('drop' or a replacement)")
        self.on_invalid = params.get("on_invalid", "drop")
        if self.on_invalid not in {"drop", "reject"}:
            raise OperatorConfigError("generalise: on_invalid must be 'drop' or 'reject'")
        self.kind, self.to, self.digits, self.over_90 = kind, to, digits, over_90
        self.sparse = HIPAA_SPARSE_ZIP3 if sparse == "hipaa" else frozenset()

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        if not value.strip():
            return value
        if self.kind == "zip":
            return generalise_zip(value, digits=self.digits, sparse=self.sparse)
        if self.kind == "age":
            m = _NUMBER.fullmatch(value)
            if m is None:
                return self._invalid("bad_age", ctx)
            return "90+" if float(m.group(1)) >= 90 else value
        parsed = parse_date(value)
        if parsed is None:
            return self._invalid("bad_date", ctx)
        if self.kind == "birth_date" and age_in_years(parsed.day, ctx.today) >= 90:
            return None if self.over_90 == "drop" else self.over_90
        try:
            return generalise_date_text(value, "year" if self.kind == "birth_date" else self.to)
        except DateFormatError:
            return self._invalid("bad_date", ctx)

    def _invalid(self, reason: str, ctx: OperatorContext) -> str | None:
        if self.on_invalid == "reject":
            raise RecordRejected(reason, ctx.position)
        return None
