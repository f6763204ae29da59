"""Date and date-time values in the formats the feeds use, shifted or generalised while keeping their format.

Recognised (whole value): HL7 v2 DT/DTM (`YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`), ISO 8601 / FHIR
(`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, with `T` or a space and a time, `Z` or an offset), `YYYY/MM/DD`,
US `MM/DD/YYYY` (optionally with a time), and Chinese `YYYY年M月D日`.
Shifting moves whole days: times and time zones stay as written, and the precision of the value is kept
(a year-only value is shifted from its middle and written back as a year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_TIME_TAIL = r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("hl7", re.compile(r"(?P<y>\d{4})(?:(?P<m>\d{2})(?:(?P<d>\d{2})(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?(?:[+-]\d{4})?")),
    ("iso", re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2})" + _TIME_TAIL + ")?")),
    ("ymd", re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})" + _TIME_TAIL)),
    ("us", re.compile(r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})(?: \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?")),
    ("zh", re.compile(r"(?P<y>\d{4})年(?:(?P<m>\d{1,2})月(?:(?P<d>\d{1,2})[日号])?)?.*", re.S)),
)


class DateFormatError(ValueError):
    """A value that should be a date is not one in a recognised format (never carries the value)."""


@dataclass(frozen=True)
class ParsedDate:
    kind: str
    match: re.Match[str]
    day: date
    precision: str  # "year" | "month" | "day"


def parse_date(text: str) -> ParsedDate | None:
    value = text.strip()
    if not value:
        return None
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(value)
        if m is None:
            continue
        y = int(m.group("y"))
        mo = m.group("m")
        d = m.group("d")
        try:
            if mo is None:
                return ParsedDate(kind, m, date(y, 7, 1), "year")
            if d is None:
                return ParsedDate(kind, m, date(y, int(mo), 15), "month")
            return ParsedDate(kind, m, date(y, int(mo), int(d)), "day")
        except ValueError:
            return None
    return None


def parse_any_date(text: str) -> date | None:
    parsed = parse_date(text)
    return parsed.day if parsed is not None else None


def _replace_groups(parsed: ParsedDate, new: date) -> str:
    m = parsed.match
    text = m.string.strip()
    values = {"y": new.year, "m": new.month, "d": new.day}
    out: list[str] = []
    pos = 0
    parts = [m.group(g) for g in ("m", "d") if m.group(g) is not None]
    padded = bool(parts) and all(len(p) == 2 for p in parts) and any(p.startswith("0") for p in parts) or all(
        len(p) == 2 for p in parts
    ) and len(parts) == 2 and parsed.kind != "zh"
    spans = sorted((m.span(g), g) for g in ("y", "m", "d") if m.group(g) is not None)
    for (start, end), g in spans:
        out.append(text[pos:start])
        original = text[start:end]
        fixed = parsed.kind in {"hl7", "iso"} or g == "y" or padded
        out.append(str(values[g]).zfill(len(original)) if fixed else str(values[g]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def shift_date_text(text: str, days: int) -> str:
    """The same value moved by `days`, same format and precision. Raises DateFormatError when not a date."""
    parsed = parse_date(text)
    if parsed is None:
        raise DateFormatError("unrecognised date format")
    return _replace_groups(parsed, parsed.day + timedelta(days=days))


def generalise_date_text(text: str, to: str) -> str:
    """Year ("1962") or year and month ("1962-03"; HL7 "196203") of a date value."""
    parsed = parse_date(text)
    if parsed is None:
        raise DateFormatError("unrecognised date format")
    y = f"{parsed.day.year:04d}"
    if to == "year" or parsed.precision == "year":
        return y + ("年" if parsed.kind == "zh" else "")
    mm = f"{parsed.day.month:02d}"
    if parsed.kind == "hl7":
        return y + mm
    if parsed.kind == "zh":
        return f"{y}年{parsed.day.month}月"
    return f"{y}-{mm}"


def age_in_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
