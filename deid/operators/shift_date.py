"""`shift_date`: moves a date/date-time by the patient's shift (one per patient, the same in every feed).

Format and precision are kept (HL7 `20240314`, FHIR `2024-03-14T10:00:00Z`, `03/14/2024`, `2024年3月14日`).
When the record has no known patient (no linkage pseudonym and no patient reference), the date is
generalised to its year instead. A value that is not a date rejects the record (fail closed).
"""

from __future__ import annotations

from deid.dates import DateFormatError, generalise_date_text, shift_date_text
from deid.operators.base import Operator, OperatorContext, RecordRejected, register


@register
class ShiftDate(Operator):
    name = "shift_date"
    example_value = "20240314"

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        if not value.strip():
            return value
        try:
            if ctx.shift_days is None:
                return generalise_date_text(value, "year")
            return shift_date_text(value, ctx.shift_days)
        except DateFormatError:
            raise RecordRejected("bad_date", ctx.position) from None
