"""`drop`: the value is removed (an HL7 field left empty, a FHIR element or CSV column removed)."""

from __future__ import annotations

from deid.operators.base import Operator, OperatorContext, register


@register
class Drop(Operator):
    name = "drop"

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        return None
