"""`shift_date`: moves a date/date-time by the patient's shift (one per patient, the same in every feed).

Format and precision are kept (HL7 `20240314`, FHIR `2024-03-14T10:00:00Z`, `03/14/2024`, `2024年3月14日`).
When the record has no known patient (no linkage pseudonym and no patient reference), the date is
generalised to its year instead. A value that is not a date in a recognised format is dropped
(`on_invalid: drop`, default) or rejects the record (`on_invalid: reject`); it never passes through.
"""

from __future__ import annotations

from typing import Any

from deid.dates import DateFormatError, generalise_date_text, shift_date_text
from deid.operators.base import Operator, OperatorConfigError, OperatorContext, RecordRejected, register


@register
class ShiftDate(Operator):
    name = "shift_date"
    allowed_params = frozenset({"on_invalid"})
    example_value = "20240314"

    def validate(self, params: dict[str, Any]) -> None:
        self.on_invalid = params.get("on_invalid", "drop")
        if self.on_invalid not in {"drop", "reject"}:
            raise OperatorConfigError("shift_date: on_invalid must be 'drop' or 'reject'")

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        if not value.strip():
            return value
        try:
            if ctx.shift_days is None:
                return generalise_date_text(value, "year")
            return shift_date_text(value, ctx.shift_days)
        except DateFormatError:
            if self.on_invalid == "reject":
                raise RecordRejected("bad_date", ctx.position) from None
            return None
