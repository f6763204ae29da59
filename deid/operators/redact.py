"""`redact`: free text through the text redactor (Presidio + patient-aware recognizers), with the
identifiers the same record carries in its structured fields (`ctx.known`) searched in it.

Format escaping (HL7 `\\F\\`, `\\.br\\`...) is decoded before and re-encoded after, so replacements can
never break the message structure. `lang` overrides the profile's language (en, zh, auto).
"""

from __future__ import annotations

from typing import Any

from deid.operators.base import Operator, OperatorConfigError, OperatorContext, register


@register
class Redact(Operator):
    name = "redact"
    allowed_params = frozenset({"lang"})
    example_value = "Seen by Dr. Example on 3/14."

    def validate(self, params: dict[str, Any]) -> None:
        lang = params.get("lang")
        if lang is not None and lang not in {"en", "zh", "auto"}:
            raise OperatorConfigError("redact: lang must be en, zh or auto")
        self.lang = lang

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        if not value.strip():
            return value
        text = ctx.decode_text(value)
        redacted, entities = ctx.redactor().redact(text, lang=self.lang or ctx.lang, known=ctx.known)
        if ctx.findings is not None and ctx.patient:
            ctx.findings.remember(ctx.patient, text, entities)
        return ctx.encode_text(redacted)
