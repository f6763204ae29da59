"""`keep`: the value passes unchanged (for fields that carry no identifier)."""

from __future__ import annotations

from deid.operators.base import Operator, OperatorContext, register


@register
class Keep(Operator):
    name = "keep"

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        return value
