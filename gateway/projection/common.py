"""What the projections share: column value types and date parsing."""

from __future__ import annotations

import re
from typing import Any

Columns = dict[str, Any]
Types = dict[str, str]

_DATE = re.compile(r"^(\d{4})(?:-?(\d{2}))?(?:-?(\d{2}))?")


def iso_date(value: str | None) -> str | None:
    """HL7 TS (YYYYMMDD[HHMM...]) or FHIR date/dateTime -> 'YYYY-MM-DD' when a full date is there."""
    if not value:
        return None
    m = _DATE.match(value.strip())
    if not m or not m.group(2) or not m.group(3):
        return None
    y, mo, d = m.group(1), m.group(2), m.group(3)
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31):
        return None
    return f"{y}-{mo}-{d}"


def year(value: str | None) -> int | None:
    if not value:
        return None
    m = re.match(r"^\s*(\d{4})", value)
    return int(m.group(1)) if m else None
