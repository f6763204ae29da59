"""`keep`: the value passes unchanged - but only when it has a value shape, and never the record's own identifiers.

A kept string must look like what the field declares (`shape`):

- `code` (default): no spaces, up to 64 characters of letters, digits and `. _ - : / + ^ & ~ # * < > = %`
  ("ORU^R01", "M", "LN", "2.5", "http://loinc.org", "R07.9"); a number with a unit also passes ("5.4 mg/dL");
- `number`: a number, optionally signed, with a comparator or a unit ("<0.5", "-1.2e3", "140 mmol/L");
- `date`: digits and date/time separators ("20240314", "2024-03-14T10:00:00Z", "03/14/2024");
- `enum`: one of `values` (case-insensitive);
- `identifier`: the whole value matches `pattern` (a regular expression).

Any other string - free text in a field that was expected to hold a code - goes through free-text redaction
with the record's known identifiers (fail closed: it is redacted, not passed). A shaped value that contains
one of the record's own names, ids, phones or address parts is redacted as well.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from deid.operators.base import Operator, OperatorConfigError, OperatorContext, register

SHAPES = ("code", "number", "date", "enum", "identifier")
_CODE = re.compile(r"[A-Za-z0-9._\-:/+^&~#*<>=%\\]{1,64}")
_NUMBER = re.compile(r"(?:[<>]=?|=|~)?\s*[-+]?(?:\d+(?:[.,]\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?:\s*[A-Za-z%/^0-9*.]{1,16})?")
_DATE = re.compile(r"[0-9][0-9\-/.:T+Z ]{3,34}")
_WORD = re.compile(r"[^\W_]+")
_NON_DIGIT = re.compile(r"\D")


def has_shape(value: str, shape: str = "code", values: frozenset[str] = frozenset(), pattern: re.Pattern[str] | None = None) -> bool:
    v = value.strip()
    if not v:
        return True
    if shape == "enum":
        return v.upper() in values
    if shape == "identifier":
        return pattern is not None and pattern.fullmatch(v) is not None
    if shape == "date":
        return _DATE.fullmatch(v) is not None
    if shape == "number":
        return _NUMBER.fullmatch(v) is not None
    return _CODE.fullmatch(v) is not None or _NUMBER.fullmatch(v) is not None


def mentions_known(value: str, ctx: OperatorContext) -> bool:
    """Does the value hold one of the record's own identifiers (names, ids, phones, e-mails, address parts)?"""
    if not ctx.sensitive and not ctx.known.addresses:
        return False
    upper = value.upper()
    if upper in ctx.sensitive:
        return True
    words = {w.upper() for w in _WORD.findall(value)}
    if not words.isdisjoint(ctx.sensitive):
        return True
    if len(value) >= 7:  # a shorter value cannot hold a run of 7 digits
        long_digits = _long_digit_runs(ctx.sensitive)
        if long_digits:
            digits = _NON_DIGIT.sub("", value)
            if len(digits) >= 7 and any(s_digits in digits for s_digits in long_digits):
                return True
    return bool(ctx.known.addresses) and not words.isdisjoint(_address_parts(tuple(ctx.known.addresses)))


# Derived once per record's identifiers (a record has many kept fields); bounded, never logged.
@lru_cache(maxsize=256)
def _long_digit_runs(sensitive: frozenset[str]) -> tuple[str, ...]:
    return tuple(d for d in (_NON_DIGIT.sub("", s) for s in sensitive) if len(d) >= 7)


@lru_cache(maxsize=256)
def _address_parts(addresses: tuple[str, ...]) -> frozenset[str]:
    return frozenset(p.upper() for a in addresses for p in _WORD.findall(a) if len(p) >= 4 and not p.isdigit())


def redact_kept(value: str, ctx: OperatorContext) -> str:
    """Free-text redaction of a string a keep rule could not pass (HL7 escapes decoded and re-encoded)."""
    text = ctx.decode_text(value)
    redacted, _ = ctx.redactor().redact(text, lang=ctx.lang, known=ctx.known)
    return ctx.encode_text(redacted)


def kept_string(value: str, ctx: OperatorContext, **shape: Any) -> str:
    if has_shape(value, **shape) and not mentions_known(value, ctx):
        return value
    return redact_kept(value, ctx)


@register
class Keep(Operator):
    name = "keep"
    allowed_params = frozenset({"shape", "values", "pattern"})
    example_value = "GLU"

    def validate(self, params: dict[str, Any]) -> None:
        shape = params.get("shape", "code")
        if shape not in SHAPES:
            raise OperatorConfigError(f"keep: shape must be one of {', '.join(SHAPES)}")
        values = params.get("values")
        if shape == "enum" and (not isinstance(values, list) or not values or not all(isinstance(v, (str, int)) for v in values)):
            raise OperatorConfigError("keep: shape enum needs values (a list of strings)")
        pattern = params.get("pattern")
        if shape == "identifier":
            if not isinstance(pattern, str):
                raise OperatorConfigError("keep: shape identifier needs pattern (a regular expression)")
            try:
                re.compile(pattern)
            except re.error:
                raise OperatorConfigError("keep: pattern is not a valid regular expression") from None
        self.shape = shape
        self.declared = "shape" in params
        self.values = frozenset(str(v).upper() for v in values) if isinstance(values, list) else frozenset()
        self.pattern = re.compile(pattern) if isinstance(pattern, str) else None

    def operate(self, value: str, ctx: OperatorContext) -> str | None:
        return kept_string(value, ctx, shape=self.shape, values=self.values, pattern=self.pattern)
